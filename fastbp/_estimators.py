"""MLPClassifier and MLPRegressor: drop-in replacements for scikit-learn's.

Everything user-facing happens here in Python: parameter and input
validation, label handling, the epoch loop (early stopping, schedules,
verbose output, convergence warnings), attributes. The maths runs in
``_kernels``: one compiled call per epoch, per L-BFGS evaluation, per predict.
"""

import operator
import time
import warnings
from contextlib import nullcontext
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _kernels, _threads
from ._optim import StochasticOptimizer, minimize_lbfgs
from ._params import Layout, glorot_uniform

_STOCHASTIC_SOLVERS = ("sgd", "adam")
_NATIVE_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


# Up to this many elements, _all_finite tests each one (no error-state
# switch, which costs microseconds that single-row latency notices).
_FINITE_ELEMENTWISE_MAX = 1 << 14


def _all_finite(a):
    """Whether a float array holds no NaN or ±inf.

    Small arrays are tested element by element with NumPy; larger contiguous
    ones by a compiled, vectorised pass on the calling thread (no BLAS or
    NumPy threads woken, which on a busy machine cost milliseconds).
    """
    if a.size <= _FINITE_ELEMENTWISE_MAX:
        return bool(np.isfinite(a).all())
    if a.flags.c_contiguous or a.flags.f_contiguous:
        return bool(_kernels.all_finite(a.ravel(order="K")))  # a view
    with np.errstate(over="ignore", invalid="ignore"):
        # a finite sum proves every element finite; an infinite one may come
        # from overflow, and callers then take the validating path
        return bool(np.isfinite(a.sum()))

# Rows per chunk for prediction and full-batch gradients: memory stays
# O(chunk × width) whatever the number of samples.
_CHUNK_ROWS = 1024
# Serial prediction of this many rows or more holds BLAS at one thread (its
# products could wake BLAS's pool); fewer rows never wake it.
_BLAS_HOLD_MIN_ROWS = 32


# (parallel kernel, serial twin) pairs for ThreadGovernor
_PREDICT_KERNELS = (_kernels.predict_outputs_parallel, _kernels.predict_outputs)
_TRAIN_KERNELS = (_kernels.train_epoch, _kernels.train_epoch_serial)
_OBJECTIVE_KERNELS = (_kernels.full_loss_gradient, _kernels.full_loss_gradient_serial)

# The CSR arguments of a dense input: read by no kernel, shared by all calls.
# (Left writeable: Numba would compile every kernel again for read-only arrays.)
_NO_SPARSE_PARTS = {
    dtype: (np.empty(0, dtype=dtype), np.empty(0, dtype=np.int64), np.zeros(1, dtype=np.int64))
    for dtype in _NATIVE_FLOATS
}


class _KernelInput:
    """A validated X in the form the kernels take (dense C array or CSR parts)."""

    def __init__(self, X, dtype):
        if sp.issparse(X):
            X = sp.csr_matrix(X, dtype=dtype)
            self.dense = np.empty((0, X.shape[1]), dtype=dtype)
            self.data = np.ascontiguousarray(X.data, dtype=dtype)
            self.indices = np.ascontiguousarray(X.indices, dtype=np.int64)
            self.indptr = np.ascontiguousarray(X.indptr, dtype=np.int64)
            self.is_sparse = True
        else:
            self.dense = np.ascontiguousarray(X, dtype=dtype)
            self.data, self.indices, self.indptr = _NO_SPARSE_PARTS[np.dtype(dtype)]
            self.is_sparse = False
        self.n_samples = X.shape[0]

    def arguments(self):
        return self.dense, self.data, self.indices, self.indptr, self.is_sparse


class BaseMultilayerPerceptron(BaseEstimator):
    """Shared machinery of MLPClassifier and MLPRegressor (not for direct use)."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [None, Integral],
        "callbacks": [None, list],
    }

    # ------------------------------------------------------------------
    # Parameters as flat buffer <-> public coefs_ / intercepts_
    # ------------------------------------------------------------------
    def _layout(self):
        return self._layout_cache

    def _set_params_buffer(self, theta):
        """Adopt ``theta`` as the parameters; coefs_ / intercepts_ become its views."""
        self._theta = theta
        self.coefs_, self.intercepts_ = self._layout().views(theta)
        self._views = (list(self.coefs_), list(self.intercepts_))

    def _params_buffer(self):
        """The flat buffer of the current ``coefs_`` / ``intercepts_``.

        ``coefs_`` and ``intercepts_`` are the source of truth: if a user
        assigned new arrays (or the model was unpickled), they are packed
        into a new buffer, with their shapes checked first.
        """
        theta = getattr(self, "_theta", None)
        views = getattr(self, "_views", None)
        if (
            theta is not None
            and views is not None
            and len(self.coefs_) == len(views[0])
            and len(self.intercepts_) == len(views[1])
            and all(map(operator.is_, self.coefs_, views[0]))
            and all(map(operator.is_, self.intercepts_, views[1]))
        ):
            return theta
        dtype = np.result_type(*self.coefs_, *self.intercepts_)
        if dtype not in (np.float32, np.float64):
            dtype = np.float64
        theta = self._layout().pack(self.coefs_, self.intercepts_, dtype)
        self._set_params_buffer(theta)
        return theta

    def __getstate__(self):
        state = super().__getstate__()
        # The buffer and its views are rebuilt from coefs_ / intercepts_.
        state.pop("_theta", None)
        state.pop("_views", None)
        return state

    def _kernel_model_arguments(self, theta):
        layout = self._layout()
        return (theta, layout.units, layout.coef_off, layout.int_off,
                _kernels.ACTIVATION_CODES[self.activation],
                _kernels.ACTIVATION_CODES[self.out_activation_])

    # ------------------------------------------------------------------
    # Forward pass for prediction
    # ------------------------------------------------------------------
    def _check_fitted(self):
        if not hasattr(self, "coefs_"):
            check_is_fitted(self)  # raises NotFittedError with scikit-learn's message

    def _is_plain_input(self, X):
        """Whether X is a finite float ndarray of the fitted width, without feature names.

        The common case, checked in a few microseconds; for it scikit-learn's
        validate_data would return X unchanged. Callers send anything else
        through validate_data, so errors and conversions stay scikit-learn's.
        """
        return (
            type(X) is np.ndarray
            and X.ndim == 2
            and X.dtype in _NATIVE_FLOATS
            and X.shape[0] > 0
            and X.shape[1] == self.n_features_in_
            and not hasattr(self, "feature_names_in_")
            and _all_finite(X)
        )

    def _validate_predict_input(self, X):
        # Plain input skips validate_data (single-row latency); anything else
        # goes through it with dtype="numeric", as scikit-learn's predict does.
        if self._is_plain_input(X):
            return X
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        return X

    def _forward_pass_fast(self, X, check_input=True):
        """Network outputs ŷ of shape (n_samples, n_outputs)."""
        if check_input:
            X = self._validate_predict_input(X)
        theta = self._params_buffer()
        if X.dtype != theta.dtype:
            theta = theta.astype(np.result_type(X.dtype, theta.dtype))
        dtype = theta.dtype
        data = _KernelInput(X, dtype)
        out = np.empty((data.n_samples, self.n_outputs_), dtype=dtype)
        model_args = self._kernel_model_arguments(theta)
        if data.n_samples < 2 * _CHUNK_ROWS:
            # on the calling thread: no pool to wake for few rows
            hold = (data.n_samples >= _BLAS_HOLD_MIN_ROWS or self.n_jobs is not None)
            with _threads.blas_held_at_one() if hold else nullcontext():
                _kernels.predict_outputs(*data.arguments(), *model_args, _CHUNK_ROWS, out)
            return out
        with _threads.kernel_threads(self.n_jobs) as max_slices:
            n_slices = _threads.slices_for(max_slices, _CHUNK_ROWS, theta.shape[0])
            governor = _threads.ThreadGovernor(n_slices, ("predict", theta.shape[0]))
            with governor.step(_PREDICT_KERNELS, data.n_samples) as kernel:
                if kernel is _kernels.predict_outputs:
                    kernel(*data.arguments(), *model_args, _CHUNK_ROWS, out)
                else:
                    kernel(*data.arguments(), *model_args, _CHUNK_ROWS, n_slices, out)
        return out

    # ------------------------------------------------------------------
    # Fitting
    # ------------------------------------------------------------------
    def _adopt_assigned_network(self, y, layer_units, dtype):
        """Train from weights a user assigned to an unfitted estimator.

        scikit-learn's hand-worked example sets ``coefs_``, ``intercepts_``,
        ``n_layers_``, ``n_outputs_``, ``out_activation_``, ``n_features_in_``
        (and its own private buffers) and calls ``partial_fit``: the network
        is then the one assigned. Its shapes are checked against the data;
        the bookkeeping the user did not set starts as a fresh fit's, without
        drawing initial weights (the random state is left as scikit-learn
        leaves it).
        """
        coefs = [np.asarray(c) for c in self.coefs_]
        intercepts = [np.asarray(b) for b in self.intercepts_]
        shapes = [c.shape for c in coefs]
        units = [shapes[0][0] if shapes and len(shapes[0]) == 2 else None]
        units += [shape[1] if len(shape) == 2 else None for shape in shapes]
        consistent = (
            len(coefs) == len(intercepts) == len(layer_units) - 1
            and all(len(shape) == 2 for shape in shapes)
            and all(shapes[i][1] == shapes[i + 1][0] for i in range(len(shapes) - 1))
            and all(b.shape == (shape[1],) for b, shape in zip(intercepts, shapes)))
        if not consistent or units != list(layer_units):
            raise ValueError(
                f"The assigned coefs_ / intercepts_ (shapes {shapes} and "
                f"{[b.shape for b in intercepts]}) do not form the network {list(layer_units)} "
                "that this data and hidden_layer_sizes need.")
        assigned = {name: getattr(self, name) for name in (
            "n_iter_", "t_", "out_activation_", "loss_curve_", "best_loss_",
            "_no_improvement_count", "validation_scores_", "best_validation_score_")
            if hasattr(self, name)}
        self._initialize(y, layer_units, dtype, draw_weights=False)
        for name, value in assigned.items():
            setattr(self, name, value)
        if self.out_activation_ not in _kernels.ACTIVATION_CODES:
            raise ValueError(f"out_activation_ {self.out_activation_!r} is not one of "
                             f"{sorted(_kernels.ACTIVATION_CODES)}.")
        self._set_params_buffer(self._layout().pack(coefs, intercepts, dtype))

    def _initialize(self, y, layer_units, dtype, draw_weights=True):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        if not is_classifier(self):
            self.out_activation_ = "exp" if self.loss == "poisson" else "identity"
        elif self._label_binarizer.y_type_ == "multiclass":
            self.out_activation_ = "softmax"
        else:
            self.out_activation_ = "logistic"
        self._layer_units = list(layer_units)
        self._layout_cache = Layout.from_units(self._layer_units)
        if draw_weights:
            self._set_params_buffer(
                glorot_uniform(self._layout(), self.activation, self._random_state, dtype))
        if self.solver in _STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _hidden_layer_sizes_list(self):
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = list(sizes)
        if any(not isinstance(s, Integral | np.integer) or s <= 0 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {sizes}.")
        return [int(s) for s in sizes]

    def _prepare_sample_weight(self, sample_weight, X, y_labels, incremental):
        """Validated non-negative weights (ones if None), times any class weights."""
        sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype,
                                             ensure_non_negative=True)
        return np.ascontiguousarray(sample_weight)

    def _fit(self, X, y, sample_weight=None, incremental=False):
        hidden_layer_sizes = self._hidden_layer_sizes_list()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)

        y_labels = y
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        n_samples, n_features = X.shape
        sample_weight = self._prepare_sample_weight(sample_weight, X, y_labels, incremental)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        if not is_classifier(self) and self.loss == "poisson" and np.any(y < 0):
            raise ValueError("Some value(s) of y are negative which is not allowed for "
                             "Poisson regression.")
        y = np.ascontiguousarray(y, dtype=X.dtype)
        layer_units = [n_features] + hidden_layer_sizes + [y.shape[1]]

        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, layer_units, X.dtype)
        elif not hasattr(self, "_layer_units"):
            self._adopt_assigned_network(y, layer_units, X.dtype)
        elif list(layer_units) != list(self._layer_units):
            raise ValueError(
                f"The network's layer sizes {self._layer_units} do not match this call's "
                f"{layer_units} (hidden_layer_sizes or the number of outputs changed); "
                "warm_start and partial_fit continue the same network.")
        self.n_outputs_ = y.shape[1]

        theta = self._params_buffer()
        if theta.dtype != X.dtype:
            theta = theta.astype(X.dtype)
            self._set_params_buffer(theta)

        with _threads.kernel_threads(self.n_jobs) as max_slices:
            if self.solver in _STOCHASTIC_SOLVERS:
                self._fit_stochastic(X, y, sample_weight, incremental, max_slices)
            else:
                self._fit_lbfgs(X, y, sample_weight, max_slices)

        if not np.isfinite(self._params_buffer()).all():
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may"
                " contain large values and need to be preprocessed.")
        return self

    def _reported_loss_scale(self):
        """What the data part of ``loss_`` is multiplied by: scikit-learn reports
        squared error as the mean over outputs, while its gradient (and fastbp's,
        and ``loss_gradient``'s objective) is that of the sum."""
        if self.out_activation_ == "identity" and self.n_outputs_ > 1:
            return 1.0 / self.n_outputs_
        return 1.0

    def _objective(self, data, y, sample_weight, max_slices, loss_scale=1.0):
        """``theta -> (J(θ), ∇J(θ))`` over the whole data set, via the kernels.

        With ``loss_scale`` ≠ 1 the returned value has its data part scaled
        (as scikit-learn's lbfgs sees it); the gradient is always ∇J.
        """
        layout = self._layout()
        grad = np.empty(layout.n_params, dtype=data.dense.dtype)
        clip_eps = float(np.finfo(data.dense.dtype).eps)
        n_slices = _threads.slices_for(max_slices, min(_CHUNK_ROWS, data.n_samples),
                                       layout.n_params)
        governor = _threads.ThreadGovernor(n_slices, ("objective", layout.n_params))

        def loss_and_gradient(theta):
            with governor.step(_OBJECTIVE_KERNELS, data.n_samples) as kernel:
                loss = kernel(*data.arguments(), y, sample_weight,
                              *self._kernel_model_arguments(theta), float(self.alpha),
                              clip_eps, _CHUNK_ROWS, n_slices, loss_scale, grad)
            return loss, grad

        return loss_and_gradient

    def _fit_lbfgs(self, X, y, sample_weight, max_slices):
        data = _KernelInput(X, X.dtype)
        theta = self._params_buffer()
        clock = [time.perf_counter(), 0]

        def on_iteration(loss):
            clock[1] += 1
            now = time.perf_counter()
            stop = self._call_back(epoch=clock[1], max_epochs=self.max_iter, loss=loss,
                                   validation_score=None, n_samples=data.n_samples,
                                   seconds=now - clock[0])
            clock[0] = now
            return stop

        self.loss_, self.n_iter_ = minimize_lbfgs(
            self._objective(data, y, sample_weight, max_slices, self._reported_loss_scale()),
            theta, self.max_iter, self.max_fun,
            self.tol, self.verbose, on_iteration if self.callbacks else None)

    def _fit_stochastic(self, X, y, sample_weight, incremental, max_slices):
        theta = self._params_buffer()
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = StochasticOptimizer(
                self.solver, theta.shape[0], theta.dtype, self.learning_rate_init,
                self.learning_rate, self.momentum, self.nesterovs_momentum, self.power_t,
                self.beta_1, self.beta_2, self.epsilon)
        optimizer = self._optimizer
        if optimizer.state.dtype != theta.dtype:
            optimizer.state = optimizer.state.astype(theta.dtype)

        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping:
            # Stratified split, except for multilabel targets (as scikit-learn).
            # (on the indicator as booleans, as scikit-learn: its error message
            # names the classes 'True' / 'False')
            stratify = y.astype(bool) if is_classifier(self) and self.n_outputs_ == 1 else None
            X_train, X_val, y_train, y_val, sw_train, sw_val = train_test_split(
                X, y, sample_weight, random_state=self._random_state,
                test_size=self.validation_fraction, stratify=stratify)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            if is_classifier(self):
                y_val = self._label_binarizer.inverse_transform(y_val)
            y_train = np.ascontiguousarray(y_train)
            sw_train = np.ascontiguousarray(sw_train)
        else:
            X_train, y_train, sw_train = X, y, sample_weight
            X_val = y_val = sw_val = None

        data = _KernelInput(X_train, X.dtype)
        n_samples = data.n_samples
        sample_idx = np.arange(n_samples, dtype=np.int64)
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than "
                              "sample size. It is going to be clipped")
            batch_size = int(np.clip(self.batch_size, 1, n_samples))

        clip_eps = float(np.finfo(theta.dtype).eps)
        model_args = self._kernel_model_arguments(theta)
        n_slices = _threads.slices_for(max_slices, batch_size, theta.shape[0])
        governor = _threads.ThreadGovernor(n_slices, ("train", batch_size, theta.shape[0]))
        n_batches = (n_samples + batch_size - 1) // batch_size
        loss_scale = self._reported_loss_scale()
        # the last finished epoch's weights and optimizer state: an epoch runs
        # as several kernel calls, and Ctrl-C or divergence may stop it midway
        last_good = theta.copy()
        last_state = (optimizer.state.copy(), optimizer.step_count.copy())
        best = theta.copy() if early_stopping else None
        self.n_iter_ = 0
        # earlier calls' history (warm start, partial_fit), kept on Ctrl-C
        curve_start = len(self.loss_curve_)
        scores_start = len(self.validation_scores_) if early_stopping else 0
        try:
            for _ in range(self.max_iter):
                epoch_start = time.perf_counter()
                if self.shuffle:
                    # The same draws as scikit-learn's shuffle(sample_idx, random_state=…),
                    # which permutes arange(n) with random_state.shuffle: same order,
                    # without its 0.1 ms of generic input handling per epoch.
                    permutation = np.arange(n_samples, dtype=np.int64)
                    self._random_state.shuffle(permutation)
                    sample_idx = sample_idx[permutation]
                # the epoch in runs of whole batches (one kernel call each),
                # which the governor runs on threads or serially, as is faster
                loss_sum, done = 0.0, 0
                while done < n_batches:
                    step = governor.units_per_step(n_batches - done)
                    with governor.step(_TRAIN_KERNELS, step) as kernel:
                        loss_sum = kernel(
                            *data.arguments(), y_train, sw_train,
                            sample_idx[done * batch_size : (done + step) * batch_size],
                            batch_size, *model_args, float(self.alpha), clip_eps,
                            *optimizer.kernel_arguments(), n_slices, loss_scale, loss_sum)
                    done += step
                loss = loss_sum / n_samples
                if not np.isfinite(loss) or not np.isfinite(theta).all():
                    if early_stopping:
                        # As scikit-learn: the diverged epoch is recorded (its
                        # validation score NaN) and the best validation weights
                        # are the model; fastbp stops here rather than train on NaN.
                        self.n_iter_ += 1
                        self.loss_ = float(loss)
                        self.loss_curve_.append(self.loss_)
                        self.validation_scores_.append(float("nan"))
                        warnings.warn(
                            f"Training diverged in iteration {self.n_iter_} (the loss became "
                            f"{loss}); stopped, keeping the weights of the best validation "
                            "score. Lower learning_rate_init or scale the input.",
                            ConvergenceWarning)
                        break
                    theta[...] = last_good
                    optimizer.state[...], optimizer.step_count[...] = last_state
                    raise ValueError(
                        "Solver produced non-finite parameter weights. The input data may "
                        "contain large values and need to be preprocessed. (fastbp: training "
                        f"diverged in iteration {self.n_iter_ + 1}, the loss became {loss}; "
                        "the weights of the last finite iteration were kept. Lower "
                        "learning_rate_init or scale the input, e.g. with StandardScaler.)")
                self.n_iter_ += 1
                self.loss_ = float(loss)
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))

                improved = self._update_no_improvement_count(early_stopping, X_val, y_val,
                                                             sw_val)
                if improved and early_stopping:
                    best[...] = theta
                optimizer.iteration_ends(self.t_)
                last_good[...] = theta
                last_state[0][...] = optimizer.state
                last_state[1][...] = optimizer.step_count
                if self._call_back(
                        epoch=self.n_iter_, max_epochs=1 if incremental else self.max_iter,
                        loss=self.loss_,
                        validation_score=self.validation_scores_[-1] if early_stopping else None,
                        n_samples=n_samples, seconds=time.perf_counter() - epoch_start):
                    break

                if self._no_improvement_count > self.n_iter_no_change:
                    if early_stopping:
                        msg = ("Validation score did not improve more than tol=%f for %d "
                               "consecutive epochs." % (self.tol, self.n_iter_no_change))
                    else:
                        msg = ("Training loss did not improve more than tol=%f for %d "
                               "consecutive epochs." % (self.tol, self.n_iter_no_change))
                    if optimizer.trigger_stopping(msg, self.verbose):
                        break
                    self._no_improvement_count = 0

                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        "Stochastic Optimizer: Maximum iterations (%d) reached and the "
                        "optimization hasn't converged yet." % self.max_iter,
                        ConvergenceWarning)
        except KeyboardInterrupt:
            # Back to the last epoch whose kernel calls and bookkeeping all finished.
            theta[...] = last_good
            optimizer.state[...], optimizer.step_count[...] = last_state
            del self.loss_curve_[curve_start + self.n_iter_:]
            if early_stopping:
                del self.validation_scores_[scores_start + self.n_iter_:]
            warnings.warn("Training interrupted by user.")

        if early_stopping:
            theta[...] = best
        if not incremental:
            self._warn_if_worse_than_constant(X_train, y_train, sw_train)

    # The failed-training check compares like with like on at most this many
    # rows, and only fits of at least _FAILED_MIN_ITER epochs on _FAILED_MIN_ROWS
    # rows whose constant prediction leaves something to learn.
    _FAILED_CHECK_ROWS = 4096
    _FAILED_MIN_ITER = 10
    _FAILED_MIN_ROWS = 10
    _FAILED_MARGIN = 1.1

    def _warn_if_worse_than_constant(self, X, y, sample_weight):
        """Warn when the trained network fits the data worse than a constant does.

        Its data loss (no L2 term) on the training rows (a sample of them for
        large data) is compared with that of always predicting the (weighted)
        mean target — the class frequencies for a classifier. A network 10%
        worse than that after 10 or more epochs has failed: usually it
        diverged (learning_rate_init too high, weights blown up, every ReLU
        dead). Short fits, tiny data and constant targets are not judged.
        """
        n = y.shape[0]
        if (self.n_iter_ < self._FAILED_MIN_ITER or n < self._FAILED_MIN_ROWS
                or float(sample_weight.sum()) <= 0):
            return
        if n > self._FAILED_CHECK_ROWS:
            rows = np.random.default_rng(0).choice(n, self._FAILED_CHECK_ROWS, replace=False)
            rows.sort()
            X, y, sample_weight = X[rows], y[rows], sample_weight[rows]
        sample_weight = np.ascontiguousarray(sample_weight, dtype=y.dtype)
        sw_sum = float(sample_weight.sum())
        if sw_sum <= 0:
            return
        code = _kernels.ACTIVATION_CODES[self.out_activation_]
        eps = float(np.finfo(y.dtype).eps)
        every_row = np.arange(y.shape[0])

        def data_loss(prediction):
            prediction = np.ascontiguousarray(prediction, dtype=y.dtype)
            delta = np.empty_like(prediction)
            return _kernels.output_delta_and_loss(prediction, y, sample_weight, every_row,
                                                  code, eps, delta) / sw_sum

        constant = (sample_weight @ y) / sw_sum
        if self.out_activation_ == "softmax":
            constant = constant / constant.sum()
        constant_loss = data_loss(np.broadcast_to(constant, y.shape))
        if not constant_loss > 1e-12:
            return  # a constant target: nothing to learn, nothing to judge
        network_loss = data_loss(self._forward_pass_fast(X, check_input=False))
        if not network_loss <= self._FAILED_MARGIN * constant_loss:
            what = "the class frequencies" if is_classifier(self) else "the mean target"
            warnings.warn(
                f"Training failed: the network's training loss {network_loss:.6g} (without "
                f"the L2 term) is higher than {constant_loss:.6g}, the loss of always "
                f"predicting {what}. The training has most likely diverged (lower "
                "learning_rate_init or scale the input).", ConvergenceWarning)

    def _call_back(self, **info):
        """Call each of ``callbacks`` with (self, info); True from any stops training."""
        stop = False
        for callback in self.callbacks or ():
            stop = bool(callback(self, info)) or stop
        return stop

    def _update_no_improvement_count(self, early_stopping, X_val, y_val, sw_val):
        """scikit-learn's stopping bookkeeping; True when the validation score improved."""
        if early_stopping:
            val_score = self._score(X_val, y_val, sample_weight=sw_val)
            self.validation_scores_.append(val_score)
            if self.verbose:
                print("Validation score: %f" % self.validation_scores_[-1])
            if val_score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if val_score > self.best_validation_score_:
                self.best_validation_score_ = val_score
                return True
            return False
        if self.loss_curve_[-1] > self.best_loss_ - self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if self.loss_curve_[-1] < self.best_loss_:
            self.best_loss_ = self.loss_curve_[-1]
        return False

    def _score_with_function(self, X, y, sample_weight, score_function):
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data. float32 input is trained in float32.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values (class labels in classification, real numbers in
            regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : object
            Returns a trained MLP model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError("partial_fit is only available for stochastic"
                                 " optimizers. %s is not stochastic." % self.solver)
        return True

    def loss_gradient(self, X, y, sample_weight=None):
        """The training objective and its gradient at the current weights.

        J = Σᵢ sᵢℓᵢ / Σsᵢ + ½·alpha·Σₗ‖Wˡ‖² / Σsᵢ, exactly what ``fit``
        minimises (class weights included for the classifier). The model is
        not changed.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        loss : float
            J at the current ``coefs_`` / ``intercepts_``.
        coef_grads : list of ndarray
            ∂J/∂Wˡ, shaped like ``coefs_``.
        intercept_grads : list of ndarray
            ∂J/∂bˡ, shaped like ``intercepts_``.
        """
        check_is_fitted(self)
        X, y, sample_weight = self._validate_objective_input(X, y, sample_weight)
        theta = self._params_buffer()
        data = _KernelInput(X, theta.dtype)
        with _threads.kernel_threads(self.n_jobs) as max_slices:
            loss, grad = self._objective(data, y, sample_weight, max_slices)(theta)
        coef_grads, intercept_grads = self._layout().views(grad.copy())
        return float(loss), coef_grads, intercept_grads

    def _validate_objective_input(self, X, y, sample_weight):
        """X, 2-D targets and weights for ``loss_gradient``, checked against the model."""
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                          dtype=(np.float64, np.float32))
        y_labels = y
        y = self._transform_targets(y)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        if y.shape != (X.shape[0], self.n_outputs_):
            raise ValueError(f"y has shape {y.shape}; expected ({X.shape[0]}, "
                             f"{self.n_outputs_}) for this model and X.")
        dtype = self._params_buffer().dtype
        sample_weight = self._prepare_sample_weight(sample_weight, X, y_labels, False)
        return X, np.ascontiguousarray(y, dtype=dtype), sample_weight.astype(dtype)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


_SHARED_PARAMETERS_DOC = """
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.
        ``()`` gives a network without hidden layers (a linear or logistic model).
    activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
        Activation function of the hidden layers.
    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        'lbfgs' is SciPy's L-BFGS-B on the full-batch objective; 'sgd' is
        minibatch SGD with (Nesterov) momentum; 'adam' is Adam.
    alpha : float, default=0.0001
        Strength of the L2 penalty; the penalty is divided by the total sample
        weight (the sample size when unweighted) when added to the loss.
    batch_size : int or 'auto', default='auto'
        Minibatch size for 'sgd' and 'adam'; 'auto' is min(200, n_samples).
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Learning-rate schedule for 'sgd', with scikit-learn's meaning.
    learning_rate_init : float, default=0.001
        Initial learning rate ('sgd' and 'adam').
    power_t : float, default=0.5
        Exponent of the 'invscaling' schedule.
    max_iter : int, default=200
        Maximum number of epochs ('sgd', 'adam') or iterations ('lbfgs').
    shuffle : bool, default=True
        Whether to shuffle samples in each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the early-stopping split and the shuffling,
        with the same draws as scikit-learn.
    tol : float, default=1e-4
        Tolerance for the optimisation (see ``n_iter_no_change``).
    verbose : bool, default=False
        Print progress ("Iteration N, loss = …") to stdout.
    warm_start : bool, default=False
        Reuse the previous solution as initialisation.
    momentum : float, default=0.9
        Momentum of 'sgd'.
    nesterovs_momentum : bool, default=True
        Whether 'sgd' uses Nesterov's momentum.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified for
        single-output classification) and stop when its score stops improving;
        the best weights are restored.
    validation_fraction : float, default=0.1
        Fraction held out for early stopping.
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's decay rates of the first and second moment estimates.
    epsilon : float, default=1e-8
        Adam's numerical-stability constant.
    n_iter_no_change : int, default=10
        Epochs without an improvement of ``tol`` before stopping.
    max_fun : int, default=15000
        Maximum number of loss evaluations for 'lbfgs'.
    n_jobs : int or None, default=None
        Threads for the compiled kernels during fit and predict. Each step's
        rows are cut into this many slices (one for small steps), which alone
        decide the numbers: the same ``random_state`` and a positive
        ``n_jobs`` give the same model on any machine, quiet or busy, and
        from any thread. None uses every CPU this process may use (its
        affinity mask, a container's CPU quota, ``NUMBA_NUM_THREADS``, the
        BLAS thread limit), -1 all, -2 all but one. On a busy machine training
        runs the slices on one thread when that is measured to be faster; off
        the main thread the kernels always run on the calling thread.
        Settings are restored after each call.
    callbacks : list of callables or None, default=None
        Each is called as ``callback(estimator, info)`` after every epoch (every
        L-BFGS iteration), with ``info`` a dict of ``epoch``, ``max_epochs``,
        ``loss``, ``validation_score`` (None without early stopping),
        ``n_samples`` and ``seconds`` (the epoch's time). A callback returning
        True stops training after that epoch. For progress bars and logging."""

_SHARED_ATTRIBUTES_DOC = """
    loss_ : float
        The current value of the training objective.
    best_loss_ : float or None
        Minimum loss reached ('sgd' / 'adam'); None with early stopping.
    loss_curve_ : list of shape (n_iter_,)
        Loss at the end of each epoch ('sgd' / 'adam').
    validation_scores_ : list of shape (n_iter_,) or None
        Score on the held-out set per epoch, with early stopping.
    best_validation_score_ : float or None
        Best validation score, with early stopping.
    t_ : int
        Number of training samples seen by the solver.
    coefs_ : list of shape (n_layers - 1,)
        ``coefs_[i]`` of shape (units[i], units[i + 1]) is the weight matrix of
        layer i. Assigning new arrays here changes the model.
    intercepts_ : list of shape (n_layers - 1,)
        ``intercepts_[i]`` of shape (units[i + 1],) is the bias of layer i + 1.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X had string column names.
    n_iter_ : int
        Number of iterations the solver ran.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of outputs.
    out_activation_ : str
        Name of the output activation."""


class MLPClassifier(ClassifierMixin, BaseMultilayerPerceptron):
    __doc__ = f"""Multi-layer perceptron classifier, trained by compiled backpropagation.

    A drop-in replacement for ``sklearn.neural_network.MLPClassifier``: same
    parameters, defaults, attributes and behaviour, with the forward pass,
    δ-recursion and optimizer steps of a whole epoch in one Numba call. It
    minimises the log-loss (softmax + cross-entropy for multiclass, logistic +
    binary log-loss for binary and multilabel targets).

    Parameters
    ----------{_SHARED_PARAMETERS_DOC}
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes, multiplied into the sample weights. 'balanced'
        uses n_samples / (n_classes * np.bincount(y)). Single-output targets only.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.{_SHARED_ATTRIBUTES_DOC}

    Examples
    --------
    >>> from fastbp import MLPClassifier
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier(random_state=0, max_iter=50).fit(X / 16, y)
    >>> clf.score(X / 16, y) > 0.95
    True
    """

    _parameter_constraints: dict = {
        **BaseMultilayerPerceptron._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 n_jobs=None, class_weight=None, callbacks=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.n_jobs = n_jobs
        self.callbacks = callbacks
        self.class_weight = class_weight

    loss = "log_loss"

    def _validate_input(self, X, y, incremental, reset):
        if incremental and not reset and not self.warm_start:
            indicator = self._plain_incremental_indicator(X, y)
            if indicator is not None:
                return X, indicator
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in "
                        f"the previous call to fit. Previously got {self.classes_}, `y` has "
                        f"{classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` "
                                 f"has {self.classes_}. 'y' has {classes}.")
        return X, self._indicator(y)

    def _plain_incremental_indicator(self, X, y):
        """The target indicator for a partial_fit call on plain input, else None.

        Plain input: X as in ``_is_plain_input`` and y a 1-d integer array of
        known classes, for which validate_data and the class checks below
        would change nothing. It saves a third of a small partial_fit call;
        anything else returns None and takes the full path (and its errors).
        """
        classes = self.classes_
        if not (
            type(y) is np.ndarray
            and y.ndim == 1
            and y.dtype.kind in "iu"
            and classes.dtype.kind in "iu"
            and len(classes) > 1
            and self._label_binarizer.y_type_ in ("binary", "multiclass")
            and self._is_plain_input(X)
            and y.shape[0] == X.shape[0]
        ):
            return None
        nearest = np.minimum(np.searchsorted(classes, y), len(classes) - 1)
        if (classes[nearest] != y).any():
            return None  # a class not seen before: the full path raises scikit-learn's error
        return self._indicator(y)

    def _indicator(self, y):
        """``LabelBinarizer.transform(y).astype(bool)`` without its int64 copy.

        Binary targets give one column (True for ``classes_[1]``), multiclass
        targets one column per class; other targets go through the binarizer.
        """
        binarizer = self._label_binarizer
        if y.ndim == 1 and binarizer.y_type_ in ("binary", "multiclass") and len(self.classes_) > 1:
            index = np.searchsorted(self.classes_, y)
            if binarizer.y_type_ == "binary":
                return (index == 1)[:, None]
            indicator = np.zeros((y.shape[0], len(self.classes_)), dtype=bool)
            indicator[np.arange(y.shape[0]), index] = True
            return indicator
        return binarizer.transform(y).astype(bool)

    def _transform_targets(self, y):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        classes = unique_labels(y)
        if self._label_binarizer.y_type_.startswith("multilabel"):
            return self._label_binarizer.transform(y)
        unseen = np.setdiff1d(classes, self.classes_)
        if len(unseen):
            raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                             f"{self.classes_}. 'y' has {classes}.")
        return self._label_binarizer.transform(y)

    def _prepare_sample_weight(self, sample_weight, X, y_labels, incremental):
        sample_weight = super()._prepare_sample_weight(sample_weight, X, y_labels, incremental)
        if self.class_weight is None:
            return sample_weight
        if self._label_binarizer.y_type_.startswith("multilabel"):
            raise ValueError("class_weight is not supported for multilabel targets; pass "
                             "sample_weight instead.")
        if incremental and self.class_weight == "balanced":
            raise ValueError(
                "class_weight 'balanced' is not supported for partial_fit. In order to use "
                "'balanced' weights, use compute_class_weight('balanced', classes=classes, "
                "y=y). In place of y you can use a large enough sample of the full training "
                "set target to properly estimate the class frequency distributions. Pass the "
                "resulting weights as the class_weight parameter.")
        y_labels = column_or_1d(np.asarray(y_labels))
        weights = compute_class_weight(self.class_weight, classes=self.classes_, y=y_labels)
        return sample_weight * weights[np.searchsorted(self.classes_, y_labels)].astype(
            sample_weight.dtype)

    def predict(self, X):
        """Predict using the multi-layer perceptron classifier.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The predicted classes.
        """
        self._check_fitted()
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        # LabelBinarizer.inverse_transform, written out for the two common cases
        if self.out_activation_ == "softmax":
            return self.classes_.take(np.argmax(y_pred, axis=1))
        if self.n_outputs_ == 1 and len(self.classes_) == 2:
            return self.classes_[(y_pred[:, 0] > 0.5).astype(np.intp)]
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, accuracy_score)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with a single epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array of shape (n_classes,), default=None
            All classes across calls; required on the first call.

        Returns
        -------
        self : object
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_log_proba(self, X):
        """Log of the probability estimates, shape (n_samples, n_classes)."""
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def predict_proba(self, X):
        """Probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            Probabilities of each class, in the order of ``classes_``.
        """
        self._check_fitted()
        y_pred = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, BaseMultilayerPerceptron):
    __doc__ = f"""Multi-layer perceptron regressor, trained by compiled backpropagation.

    A drop-in replacement for ``sklearn.neural_network.MLPRegressor``.

    Parameters
    ----------
    loss : {{'squared_error', 'poisson'}}, default='squared_error'
        'squared_error' (identity output) minimises ½·Σₖ mean((y − ŷ)²);
        'poisson' (exp output, y ≥ 0) minimises half the Poisson deviance.{_SHARED_PARAMETERS_DOC}

    Attributes
    ----------{_SHARED_ATTRIBUTES_DOC}

    Notes
    -----
    For several outputs, scikit-learn reports ``loss_`` as the squared error
    averaged over outputs while its gradient is that of the sum over outputs;
    fastbp reports the objective it actually minimises (the sum), so the
    fitted weights agree and ``loss_gradient`` is exact.
    """

    _parameter_constraints: dict = {
        **BaseMultilayerPerceptron._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 n_jobs=None, callbacks=None):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.n_jobs = n_jobs
        self.callbacks = callbacks

    def _validate_input(self, X, y, incremental, reset):
        if (
            incremental and not reset
            and type(y) is np.ndarray
            and y.dtype in _NATIVE_FLOATS
            and (y.ndim == 1 or (y.ndim == 2 and y.shape[1] > 1))
            and self._is_plain_input(X)
            and y.shape[0] == X.shape[0]
            and _all_finite(y)
        ):
            return X, y  # plain partial_fit input: validate_data would change nothing
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _transform_targets(self, y):
        from sklearn.utils import check_array

        y = check_array(y, ensure_2d=False, dtype=(np.float64, np.float32))
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError("Some value(s) of y are negative which is not allowed for "
                             "Poisson regression.")
        return y

    def predict(self, X):
        """Predict using the multi-layer perceptron model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted values.
        """
        self._check_fitted()
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, r2_score)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with a single epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)
