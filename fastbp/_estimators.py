"""MLPClassifier and MLPRegressor: drop-in replacements for scikit-learn's.

What is here: parameters, input validation, labels, the network's ownership
(``_network``, whose views are ``coefs_`` / ``intercepts_``), prediction, and
the ``_fitted_state()`` / ``_from_fitted_state()`` pair through which io,
dask and pickle read and rebuild a model. The training loops are in
``_training``, the shortcuts for plain input in ``_fastpath``, the thread
policy in ``_threads``, the maths in ``_kernels``.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context, is_classifier
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_array, check_random_state, column_or_1d
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _docs, _fastpath, _kernels, _state, _threads, _training
from ._sklearn_callbacks import CallbackSupportMixin, FitTasks
from ._kernels import KernelData, KernelTargets
from ._network import CHUNK_ROWS, Network, hidden_activations, hidden_units, output_activation
from ._optim import StochasticOptimizer

_STOCHASTIC_SOLVERS = ("sgd", "adam")
# Serial prediction of this many rows or more holds BLAS at one thread (its
# products could wake BLAS's pool); fewer rows never wake it.
_BLAS_HOLD_MIN_ROWS = 32
# (parallel kernel, serial twin) for ThreadGovernor
_PREDICT_KERNELS = (_kernels.predict_outputs_parallel, _kernels.predict_outputs)
# What a fit records besides the network (see _fitted_state).
_HISTORY = ("n_iter_", "t_", "loss_", "best_loss_", "best_validation_score_", "loss_curve_",
            "validation_scores_")


def is_fitted_network(est):
    """Whether ``est`` holds a network it fitted (or loaded): its ``_network``."""
    return "_network" in vars(est)


def _store_init_params(est, values):
    """``__init__``'s body: each parameter stored unchanged, as scikit-learn requires."""
    for name, value in values.items():
        if name not in ("self", "__class__"):
            setattr(est, name, value)


def _binarizer(classes, target_type):
    """The fitted LabelBinarizer of a classifier with these classes and target type."""
    classes = np.asarray(classes)
    binarizer = LabelBinarizer()
    if target_type.startswith("multilabel"):
        binarizer.fit(np.eye(len(classes), dtype=int))
    else:
        binarizer.fit(classes)
    if binarizer.y_type_ != target_type or not np.array_equal(binarizer.classes_, classes):
        raise ValueError(f"classes {classes.tolist()} do not make a {target_type!r} target")
    return binarizer


class BaseMultilayerPerceptron(CallbackSupportMixin, BaseEstimator):
    """Shared machinery of MLPClassifier and MLPRegressor (not for direct use)."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_kernels.HIDDEN_ACTIVATIONS)), list, tuple],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive", "cosine"})],
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
        "dropout": [Interval(Real, 0, 1, closed="left"), list, tuple],
        "max_grad_norm": [None, Interval(Real, 0, None, closed="neither")],
        "scoring": [None, StrOptions({"loss"}), str, callable],
        "compute_dtype": [None, StrOptions({"float32", "float64"})],
    }

    # ------------------------------------------------------------------
    # The network: one owner (_network); coefs_ / intercepts_ are its views
    # ------------------------------------------------------------------
    def _adopt_network(self, network):
        self._network = network
        self.coefs_, self.intercepts_ = network.coefs, network.intercepts

    def _current_network(self):
        """The network of the current ``coefs_`` / ``intercepts_``.

        They are the source of truth: if a user assigned new arrays, they are
        packed into a new network of the same layout, their shapes checked first.
        """
        network = self._network
        if not network.is_viewed_by(self.coefs_, self.intercepts_):
            network = network.with_arrays(self.coefs_, self.intercepts_)
            self._adopt_network(network)
        return network

    def __getstate__(self):
        # plain values only (see fastbp._state): pickle, copy and skops store these
        return _state.plain_state(self)

    def __setstate__(self, state):
        if isinstance(state, dict) and "fastbp_state" not in state:
            # a pickle written before fastbp 0.1's plain state: the old __dict__
            super().__setstate__(state)
            if "_network" in state:
                self._adopt_network(self._network)
            return
        _state.restore(self, state)

    # ------------------------------------------------------------------
    # The fitted state: what io, dask and graph read and rebuild
    # ------------------------------------------------------------------
    def _fitted_state(self):
        """Everything a fit decided, as plain values (the estimator keeps them).

        Returns
        -------
        state : dict
            ``network`` (Network), ``n_features_in_``, ``feature_names_in_``
            (or None), for a classifier ``classes_`` and ``target_type``,
            ``history`` (the attributes of ``_HISTORY`` that are set, with
            ``no_improvement_count``) and ``optimizer`` (the sgd / adam
            snapshot, or None).
        """
        check_is_fitted(self)
        history = {name: getattr(self, name) for name in _HISTORY if hasattr(self, name)}
        if hasattr(self, "_no_improvement_count"):
            history["no_improvement_count"] = self._no_improvement_count
        optimizer = getattr(self, "_optimizer", None)
        state = {"network": self._current_network(), "n_features_in_": self.n_features_in_,
                 "feature_names_in_": getattr(self, "feature_names_in_", None),
                 "history": history,
                 "optimizer": None if optimizer is None else optimizer.snapshot()}
        if is_classifier(self):
            state.update(classes_=self.classes_, target_type=self._label_binarizer.y_type_)
        return state

    @classmethod
    def _from_fitted_state(cls, params, state):
        """An estimator of ``params`` holding ``state`` (see ``_fitted_state``).

        The network's shapes and activations are checked against the
        parameters and classes; a ValueError says what does not fit.
        """
        est = cls(**params)
        network = state["network"]
        units = network.units
        if network.activations != hidden_activations(est.activation, len(units) - 2):
            raise ValueError(f"the network's hidden activation {network.activation!r} is not "
                             f"the parameters' {est.activation!r}")
        if units[0] != state["n_features_in_"] or units[1:-1] != hidden_units(est.hidden_layer_sizes):
            raise ValueError(f"layer sizes {units} do not match n_features_in_="
                             f"{state['n_features_in_']} and hidden_layer_sizes="
                             f"{est.hidden_layer_sizes}")
        est.n_features_in_ = state["n_features_in_"]
        if state.get("feature_names_in_") is not None:
            names = np.asarray(state["feature_names_in_"], dtype=object)
            if names.shape != (units[0],):
                raise ValueError(f"{names.shape[0]} feature names for {units[0]} features")
            est.feature_names_in_ = names
        target_type = None
        if is_classifier(est):
            est._label_binarizer = _binarizer(state["classes_"], state["target_type"])
            est.classes_ = est._label_binarizer.classes_
            target_type = state["target_type"]
            n_outputs = len(est.classes_) if target_type != "binary" else 1
            if units[-1] != n_outputs:
                raise ValueError(f"{units[-1]} outputs for the {len(est.classes_)} classes")
        expected = output_activation(is_classifier(est), getattr(est, "loss", None), target_type)
        if network.out_activation != expected:
            raise ValueError(f"output activation {network.out_activation!r}; this model "
                             f"needs {expected!r}")
        est.n_outputs_ = units[-1]
        est.n_layers_ = len(units)
        est.out_activation_ = network.out_activation
        est._adopt_network(network)
        history = dict(state.get("history") or {})
        if "no_improvement_count" in history:
            est._no_improvement_count = history.pop("no_improvement_count")
        for name, value in history.items():
            # lists are copied: the estimator's history is its own (a Dask
            # worker builds many estimators from one template's state)
            setattr(est, name, list(value) if isinstance(value, list) else value)
        est.n_iter_ = getattr(est, "n_iter_", 0)
        est.t_ = getattr(est, "t_", 0)
        if state.get("optimizer") is not None:
            est._optimizer = StochasticOptimizer.from_snapshot(
                state["optimizer"], network.layout.n_params, network.dtype)
        return est

    # ------------------------------------------------------------------
    # Forward pass for prediction
    # ------------------------------------------------------------------
    def _check_fitted(self):
        if not hasattr(self, "coefs_"):
            check_is_fitted(self)  # raises NotFittedError with scikit-learn's message

    def _validate_predict_input(self, X):
        # Plain input skips validate_data (single-row latency); anything else
        # goes through it with dtype="numeric", as scikit-learn's predict does.
        if _fastpath.is_plain_input(self, X):
            return X
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        return X

    def _in_compute_dtype(self, X):
        """X (validated: float32 or float64) in the dtype the kernels compute in:
        ``compute_dtype``, or X's own (scikit-learn's rule)."""
        if self.compute_dtype is None or X.dtype == self.compute_dtype:
            return X
        return X.astype(self.compute_dtype)

    def _forward_pass_fast(self, X, check_input=True, network=None):
        """Network outputs ŷ of shape (n_samples, n_outputs) (of ``network``, if given)."""
        if check_input:
            X = self._validate_predict_input(X)
        X = self._in_compute_dtype(X)
        network = self._current_network() if network is None else network
        dtype = network.theta.dtype
        if X.dtype != dtype:
            dtype = np.result_type(X.dtype, dtype)
            network = network.astype(dtype)
        data = KernelData.of(X, dtype)
        n_samples = X.shape[0]
        out = np.empty((n_samples, network.units[-1]), dtype=dtype)
        net = network.kernel_args()
        if n_samples < 2 * CHUNK_ROWS:
            # on the calling thread: no pool to wake for few rows
            if n_samples < _BLAS_HOLD_MIN_ROWS and self.n_jobs is None:
                _kernels.predict_outputs(*data, *net, CHUNK_ROWS, out)
            else:
                with _threads.blas_held_at_one():
                    _kernels.predict_outputs(*data, *net, CHUNK_ROWS, out)
            return out
        with _threads.kernel_threads(self.n_jobs) as max_slices:
            n_params = network.layout.n_params
            n_slices = _threads.slices_for(max_slices, CHUNK_ROWS, n_params)
            governor = _threads.ThreadGovernor(n_slices, ("predict", n_params))
            with governor.step(_PREDICT_KERNELS, n_samples) as kernel:
                if kernel is _kernels.predict_outputs:
                    kernel(*data, *net, CHUNK_ROWS, out)
                else:
                    kernel(data, net, CHUNK_ROWS, n_slices, out)
        return out

    def transform(self, X):
        """The last hidden layer's activations: the features the network learned.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray of shape (n_samples, hidden_layer_sizes[-1])
            z = h(a) of the last hidden layer, computed by the same compiled
            forward pass as ``predict`` (the output layer left out).
        """
        self._check_fitted()
        network = self._current_network()
        units = network.units
        if len(units) < 3:
            raise ValueError("transform returns the last hidden layer's activations; this "
                             "network has no hidden layer (hidden_layer_sizes=()).")
        # the network without its output layer, the last hidden activation as its output
        hidden = Network.from_arrays(units[:-1], network.coefs[:-1], network.intercepts[:-1],
                                     network.activations[:-1], network.activations[-1],
                                     network.dtype)
        return self._forward_pass_fast(X, network=hidden)

    def fit_transform(self, X, y, sample_weight=None):
        """``fit(X, y, sample_weight)``, then ``transform(X)`` (see ``transform``)."""
        return self.fit(X, y, sample_weight=sample_weight).transform(X)

    def get_feature_names_out(self, input_features=None):
        """Names of ``transform``'s columns: the class name in lower case and the unit index.

        Parameters
        ----------
        input_features : ignored
            Present for scikit-learn's API; the output names do not depend on it.

        Returns
        -------
        names : ndarray of str objects of shape (hidden_layer_sizes[-1],)
        """
        self._check_fitted()
        width = self._current_network().units[-2]
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(width)], dtype=object)

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
        self._adopt_network(Network.from_arrays(layer_units, coefs, intercepts, self.activation,
                                                self.out_activation_, dtype))

    def _initialize(self, y, layer_units, dtype, draw_weights=True):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        target_type = self._label_binarizer.y_type_ if is_classifier(self) else None
        self.out_activation_ = output_activation(is_classifier(self),
                                                 getattr(self, "loss", None), target_type)
        if draw_weights:
            self._adopt_network(Network.initial(layer_units, self.activation,
                                                self.out_activation_, self._random_state, dtype))
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

    def _prepare_sample_weight(self, sample_weight, X, y_labels, incremental):
        """Validated non-negative weights (ones if None), times any class weights."""
        sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype,
                                             ensure_non_negative=True)
        return np.ascontiguousarray(sample_weight)

    def _fit(self, X, y, sample_weight=None, incremental=False, validation=None):
        hidden_layer_sizes = hidden_units(self.hidden_layer_sizes)
        hidden_activations(self.activation, len(hidden_layer_sizes))  # checked before any change
        _training.dropout_rates(self, len(hidden_layer_sizes) + 2)
        if validation is not None and validation[0] is None:
            validation = None
        if validation is not None and not self.early_stopping:
            raise ValueError("X_val and y_val are passed to fit while early_stopping is False; "
                             "a validation set is used by early stopping only: set "
                             "early_stopping=True.")
        if validation is not None and self.solver not in _STOCHASTIC_SOLVERS:
            raise ValueError("X_val and y_val are used by early stopping, which only the "
                             "'sgd' and 'adam' solvers have.")
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)

        y_labels = y
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        X = self._in_compute_dtype(X)
        n_features = X.shape[1]
        given_weight = sample_weight
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
        elif "_network" not in self.__dict__:
            self._adopt_assigned_network(y, layer_units, X.dtype)
        elif layer_units != self._network.units:
            raise ValueError(
                f"The network's layer sizes {self._network.units} do not match this call's "
                f"{layer_units} (hidden_layer_sizes or the number of outputs changed); "
                "warm_start and partial_fit continue the same network.")
        self.n_outputs_ = y.shape[1]
        self._adopt_network(self._current_network().astype(X.dtype))

        if validation is not None:
            validation = self._validation_set(*validation, X.dtype)
        tasks = FitTasks(self, X, y_labels, given_weight, 1 if incremental else self.max_iter)
        try:
            with _threads.kernel_threads(self.n_jobs) as max_slices:
                if self.solver in _STOCHASTIC_SOLVERS:
                    _training.fit_stochastic(self, X, y, sample_weight, incremental, max_slices,
                                             validation, tasks)
                else:
                    _training.fit_lbfgs(self, X, y, sample_weight, max_slices, tasks)
        finally:
            tasks.fit_ends()

        if not np.isfinite(self._current_network().theta).all():
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may"
                " contain large values and need to be preprocessed.")
        return self

    def _score_with_function(self, X, y, sample_weight, score_function):
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)

    def _validation_set(self, X_val, y_val, sample_weight_val, dtype):
        """The given validation set, checked as ``fit`` checks X and y.

        Returns
        -------
        (X_val, y_val, encoded, sample_weight_val)
            ``y_val`` as given (labels, for ``score`` and scorers), ``encoded``
            as the network's outputs (for the validation loss).
        """
        if y_val is None:
            raise ValueError("X_val is given without y_val.")
        X_val = validate_data(self, X_val, accept_sparse=["csr", "csc"], reset=False,
                              dtype=dtype)
        y_val = np.asarray(y_val)
        if y_val.shape[0] != X_val.shape[0]:
            raise ValueError(f"X_val has {X_val.shape[0]} samples but y_val has "
                             f"{y_val.shape[0]}.")
        encoded = self._transform_targets(y_val)
        if encoded.ndim == 1:
            encoded = encoded.reshape((-1, 1))
        if encoded.shape[1] != self.n_outputs_:
            raise ValueError(f"y_val has {encoded.shape[1]} outputs; the network has "
                             f"{self.n_outputs_}.")
        sample_weight_val = self._prepare_sample_weight(sample_weight_val, X_val, y_val, False)
        if X_val.shape[0] < 1 or not sample_weight_val.sum() > 0:
            raise ValueError("The validation set (X_val, y_val) must have at least one sample "
                             "of positive weight.")
        return (X_val, y_val, np.ascontiguousarray(encoded, dtype=dtype),
                sample_weight_val.astype(dtype))

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None):
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
        X_val : {array-like, sparse matrix} of shape (n_val, n_features), default=None
            A validation set for early stopping (``early_stopping=True``,
            solvers 'sgd' and 'adam'): it replaces the ``validation_fraction``
            split, so that every row of X trains. fastbp only (as in
            scikit-learn's HistGradientBoosting).
        y_val : array-like of shape (n_val,) or (n_val, n_outputs), default=None
            Its targets; required with ``X_val``.
        sample_weight_val : array-like of shape (n_val,), default=None
            Its sample weights (class weights are applied as to ``sample_weight``).

        Returns
        -------
        self : object
            Returns a trained MLP model.
        """
        if X_val is None and (y_val is not None or sample_weight_val is not None):
            raise ValueError("y_val or sample_weight_val is given without X_val.")
        return self._fit(X, y, sample_weight=sample_weight, incremental=False,
                         validation=(X_val, y_val, sample_weight_val))

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
        X, y, sample_weight = objective_inputs(self, X, y, sample_weight)
        network = self._current_network()
        data = KernelData.of(X, network.dtype)
        with _threads.kernel_threads(self.n_jobs) as max_slices:
            loss, grad = _training.objective(self, data, KernelTargets(y, sample_weight),
                                             max_slices)(network.theta)
        coef_grads, intercept_grads = network.layout.views(grad.copy())
        return float(loss), coef_grads, intercept_grads

    def to_sklearn(self):
        """The equal fitted ``sklearn.neural_network`` estimator (same weights, same predictions).

        Raises
        ------
        ValueError
            For a setting scikit-learn's MLPs cannot hold (fastbp's
            activations, losses, dropout, …), named in the message.
        """
        from ._sklearn_models import to_sklearn

        return to_sklearn(self)

    @classmethod
    def from_sklearn(cls, sk_model):
        """This class's estimator holding a fitted scikit-learn MLP: its
        parameters, weights, classes and training history.

        Parameters
        ----------
        sk_model : fitted sklearn.neural_network.MLPClassifier (MLPRegressor)

        Returns
        -------
        estimator : fitted MLPClassifier (MLPRegressor)
            Predicts what ``sk_model`` predicts; ``partial_fit`` and
            ``warm_start`` continue from its weights (with a fresh optimizer
            state: scikit-learn's is not carried over).
        """
        from ._sklearn_models import from_sklearn

        return from_sklearn(cls, sk_model)

    def __sklearn_tags__(self):
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # transform() gives the last hidden layer (scikit-learn's transformer checks apply)
        tags.transformer_tags = TransformerTags(preserves_dtype=["float64", "float32"])
        return tags


def objective_inputs(est, X, y, sample_weight=None):
    """(X, 2-D targets, weights) of the objective J of a fitted ``est``, checked.

    The targets are encoded as the network's outputs (class indicators for a
    classifier) and the weights include class weights, so that J of
    ``est.loss_gradient`` and of ``fastbp.graph`` is the one ``fit`` minimises.
    """
    check_is_fitted(est)
    X = validate_data(est, X, accept_sparse=["csr", "csc"], reset=False,
                      dtype=(np.float64, np.float32))
    y_labels = y
    y = est._transform_targets(y)
    if y.ndim == 1:
        y = y.reshape((-1, 1))
    if y.shape != (X.shape[0], est.n_outputs_):
        raise ValueError(f"y has shape {y.shape}; expected ({X.shape[0]}, "
                         f"{est.n_outputs_}) for this model and X.")
    dtype = est._current_network().dtype
    sample_weight = est._prepare_sample_weight(sample_weight, X, y_labels, False)
    return X, np.ascontiguousarray(y, dtype=dtype), sample_weight.astype(dtype)


class MLPClassifier(ClassifierMixin, BaseMultilayerPerceptron):
    __doc__ = _docs.CLASSIFIER

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
                 n_jobs=None, class_weight=None, callbacks=None, dropout=0.0,
                 max_grad_norm=None, scoring=None, compute_dtype=None):
        _store_init_params(self, locals())

    loss = "log_loss"

    def _validate_input(self, X, y, incremental, reset):
        if incremental and not reset and not self.warm_start:
            indicator = _fastpath.plain_class_indicator(self, X, y)
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
        return X, _fastpath.class_indicator(self._label_binarizer, y)

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
        return _fastpath.decode_classes(self._label_binarizer, y_pred,
                                        self.out_activation_ == "softmax")

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
    __doc__ = _docs.REGRESSOR

    _parameter_constraints: dict = {
        **BaseMultilayerPerceptron._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson", "huber", "absolute_error"})],
        "huber_delta": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 n_jobs=None, callbacks=None, dropout=0.0, max_grad_norm=None, scoring=None,
                 huber_delta=1.0, compute_dtype=None):
        _store_init_params(self, locals())

    def _validate_input(self, X, y, incremental, reset):
        if (incremental and not reset and _fastpath.is_plain_input(self, X)
                and _fastpath.is_plain_regression_target(X, y)):
            return X, y  # plain partial_fit input: validate_data would change nothing
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _transform_targets(self, y):
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
