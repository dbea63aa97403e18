"""The training loops: epochs and L-BFGS over the compiled kernels.

Used by the local estimators and by ``fastbp.dask``: scikit-learn's stopping
rule (``update_no_improvement``, ``stop_when_stalled``), the callbacks, the
epoch loop with its divergence and interrupt rollback, the full-batch
objective for L-BFGS, and the check that a finished fit beats a constant.
Each function works on an estimator whose network is already set up
(``est._network``), writing scikit-learn's fitted attributes on it.
"""

import inspect
import time
import warnings
from numbers import Real

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import train_test_split

from . import _fastpath, _kernels, _threads
from ._kernels import KernelData, KernelDropout, KernelObjective, KernelTargets
from ._network import CHUNK_ROWS
from ._optim import StochasticOptimizer, minimize_lbfgs

# (parallel kernel, serial twin) pairs for ThreadGovernor
TRAIN_KERNELS = (_kernels.train_epoch, _kernels.train_epoch_serial)
OBJECTIVE_KERNELS = (_kernels.full_loss_gradient, _kernels.full_loss_gradient_serial)


def call_back(est, **info):
    """Call each of ``est.callbacks`` with (est, info); True from any stops training."""
    stop = False
    for callback in est.callbacks or ():
        stop = bool(callback(est, info)) or stop
    return stop


def update_no_improvement(est, validation_score=None):
    """scikit-learn's stopping bookkeeping after an epoch; True when the score improved.

    With a ``validation_score`` (early stopping) it is recorded and compared
    with the best so far; else the last entry of ``loss_curve_`` is.
    """
    if validation_score is not None:
        est.validation_scores_.append(validation_score)
        if est.verbose:
            print("Validation score: %f" % est.validation_scores_[-1])
        if validation_score < est.best_validation_score_ + est.tol:
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
        if validation_score > est.best_validation_score_:
            est.best_validation_score_ = validation_score
            return True
        return False
    if est.loss_curve_[-1] > est.best_loss_ - est.tol:
        est._no_improvement_count += 1
    else:
        est._no_improvement_count = 0
    if est.loss_curve_[-1] < est.best_loss_:
        est.best_loss_ = est.loss_curve_[-1]
    return False


def stop_when_stalled(est, optimizer, what="Training loss", unit="epochs"):
    """After ``n_iter_no_change`` epochs without improvement: True to stop.

    'adaptive' sgd divides its learning rate by 5 instead, until it is tiny.
    """
    if est._no_improvement_count <= est.n_iter_no_change:
        return False
    msg = "%s did not improve more than tol=%f for %d consecutive %s." % (
        what, est.tol, est.n_iter_no_change, unit)
    if optimizer.trigger_stopping(msg, est.verbose):
        return True
    est._no_improvement_count = 0
    return False


def reported_loss_scale(est):
    """What the data part of ``loss_`` is multiplied by: scikit-learn reports
    squared error as the mean over outputs, while its gradient (and fastbp's,
    and ``loss_gradient``'s objective) is that of the sum."""
    if est.out_activation_ == "identity" and est.n_outputs_ > 1:
        return 1.0 / est.n_outputs_
    return 1.0


def loss_code(est):
    """The kernels' code of the loss ``est`` minimises (see ``output_delta_and_loss``)."""
    if est.out_activation_ == "identity" and not is_classifier(est):
        return _kernels.REGRESSION_LOSS_CODES[est.loss]
    return _kernels.ACTIVATION_CODES[est.out_activation_]


def kernel_objective(est, dtype, loss_scale=1.0):
    """The kernels' ``KernelObjective`` of ``est`` for a network of ``dtype``."""
    return KernelObjective(float(est.alpha), float(np.finfo(dtype).eps), float(loss_scale),
                           loss_code(est), float(getattr(est, "huber_delta", 1.0)),
                           float(est.max_grad_norm or 0.0))


def dropout_rates(est, n_layers):
    """``est.dropout`` as a rate per layer after the input (the output layer's 0).

    Returns
    -------
    rates : ndarray of shape (n_layers - 1,), float64

    Raises
    ------
    ValueError
        For a rate outside [0, 1) or a sequence of the wrong length.
    """
    n_hidden = n_layers - 2
    given = est.dropout
    if isinstance(given, Real) and not isinstance(given, bool):
        rates = [float(given)] * n_hidden
    else:
        rates = list(given)
        if len(rates) != n_hidden:
            raise ValueError(f"dropout has {len(rates)} rates for {n_hidden} hidden layers "
                             "(hidden_layer_sizes); give one rate per hidden layer, or one "
                             "for all.")
    for rate in rates:
        if (not isinstance(rate, Real) or isinstance(rate, bool) or not np.isfinite(rate)
                or not 0 <= rate < 1):
            raise ValueError(f"dropout rates must be numbers in [0, 1); got {rate!r}.")
    return np.array([*map(float, rates), 0.0], dtype=np.float64)


def objective(est, data, targets, max_slices, loss_scale=1.0):
    """``theta -> (J(θ), ∇J(θ))`` over the whole data set, via the kernels.

    With ``loss_scale`` ≠ 1 the returned value has its data part scaled
    (as scikit-learn's lbfgs sees it); the gradient is always ∇J.
    """
    network = est._network
    n_params = network.layout.n_params
    grad = np.empty(n_params, dtype=network.dtype)
    settings = kernel_objective(est, network.dtype, loss_scale)
    n_slices = _threads.slices_for(max_slices, min(CHUNK_ROWS, data.n_samples), n_params)
    governor = _threads.ThreadGovernor(n_slices, ("objective", n_params))

    def loss_and_gradient(theta):
        with governor.step(OBJECTIVE_KERNELS, data.n_samples) as kernel:
            loss = kernel(data, targets, network.kernel_args(theta), settings, CHUNK_ROWS,
                          n_slices, grad)
        return loss, grad

    return loss_and_gradient


def finish_objective(loss_sum, raw, theta, layout, alpha, sw_sum, loss_scale=1.0):
    """(J, ∇J) from sums over samples, finished as the full-batch kernel finishes them.

    ``loss_sum`` is Σᵢ sᵢℓᵢ and ``raw`` the raw gradient summed over samples
    (laid out like theta); the L2 term and the division by ``sw_sum`` = Σᵢ sᵢ
    are added here (``fastbp.dask`` sums shards this way).
    """
    grad = np.empty_like(theta)
    squared_norm = _kernels.finish_gradient(raw, theta, layout.n_coefs, float(alpha),
                                            float(sw_sum), grad)
    return (loss_sum * loss_scale + 0.5 * alpha * squared_norm) / sw_sum, grad


def fit_lbfgs(est, X, y, sample_weight, max_slices, tasks=None):
    """Full-batch training with SciPy's L-BFGS-B on J(θ); sets ``loss_`` and ``n_iter_``.

    ``tasks`` (``FitTasks``) reports each iteration to scikit-learn's callbacks.
    """
    data = KernelData.of(X, X.dtype)
    clock = [time.perf_counter(), 0]
    sklearn_callbacks = tasks is not None and tasks.active

    def on_iteration(loss):
        clock[1] += 1
        now = time.perf_counter()
        stop = call_back(est, epoch=clock[1], max_epochs=est.max_iter, loss=loss,
                         validation_score=None, n_samples=data.n_samples,
                         seconds=now - clock[0])
        if sklearn_callbacks:
            # SciPy reports an iteration once it is done: its task begins and ends here
            est.n_iter_, est.loss_ = clock[1], loss
            tasks.epoch_begins()
            stop = tasks.epoch_ends() or stop
        clock[0] = now
        return stop

    est.loss_, est.n_iter_ = minimize_lbfgs(
        objective(est, data, KernelTargets(y, sample_weight), max_slices,
                  reported_loss_scale(est)),
        est._network.theta, est.max_iter, est.max_fun, est.tol, est.verbose,
        on_iteration if est.callbacks or sklearn_callbacks else None)


def _batch_size(est, n_samples):
    if est.batch_size == "auto":
        return min(200, n_samples)
    if est.batch_size > n_samples:
        warnings.warn("Got `batch_size` less than 1 or larger than "
                      "sample size. It is going to be clipped")
    return int(np.clip(est.batch_size, 1, n_samples))


def _split_for_early_stopping(est, X, y, sample_weight):
    """(train, validation) parts, stratified except for multilabel targets (as scikit-learn).

    Stratified on the indicator as booleans, as scikit-learn: its error
    message names the classes 'True' / 'False'. The validation part is
    ``(X_val, y_val as labels, y_val as the network's outputs, weights)``.
    """
    stratify = y.astype(bool) if is_classifier(est) and est.n_outputs_ == 1 else None
    X_train, X_val, y_train, y_val, sw_train, sw_val = train_test_split(
        X, y, sample_weight, random_state=est._random_state,
        test_size=est.validation_fraction, stratify=stratify)
    if X_val.shape[0] < 2:
        raise ValueError("The validation set is too small. Increase "
                         "'validation_fraction' or the size of your dataset.")
    encoded = np.ascontiguousarray(y_val)
    if is_classifier(est):
        y_val = est._label_binarizer.inverse_transform(y_val)
    return (X_train, np.ascontiguousarray(y_train), np.ascontiguousarray(sw_train)), (
        X_val, y_val, encoded, sw_val)


def validation_loss(est, X_val, encoded, sample_weight):
    """The data loss on a validation set: Σᵢ sᵢℓᵢ / Σ sᵢ, scaled as ``loss_`` reports it.

    No L2 term: it measures the fit to unseen data, not the objective.
    """
    prediction = np.ascontiguousarray(est._forward_pass_fast(X_val, check_input=False),
                                      dtype=encoded.dtype)
    if not np.isfinite(prediction).all():
        return np.inf
    sample_weight = np.ascontiguousarray(sample_weight, dtype=encoded.dtype)
    delta = np.empty_like(prediction)
    total = _kernels.output_delta_and_loss(
        prediction, encoded, sample_weight, np.arange(encoded.shape[0]), loss_code(est),
        float(np.finfo(encoded.dtype).eps), float(getattr(est, "huber_delta", 1.0)), delta)
    return total * reported_loss_scale(est) / float(sample_weight.sum())


def validation_score(est, validation):
    """What early stopping monitors, higher is better (see the ``scoring`` parameter).

    None: ``score`` (accuracy or R², scikit-learn's choice); 'loss': the
    validation loss, negated; else the scikit-learn scorer of that name or
    the callable ``scoring(est, X_val, y_val)``.
    """
    X_val, y_val, encoded, sw_val = validation
    if est.scoring is None:
        return est._score(X_val, y_val, sw_val)
    if est.scoring == "loss":
        return -validation_loss(est, X_val, encoded, sw_val)
    scorer = check_scoring(est, scoring=est.scoring)
    if "sample_weight" in _parameters(scorer):
        return float(scorer(est, X_val, y_val, sample_weight=sw_val))
    return float(scorer(est, X_val, y_val))


def _parameters(function):
    try:
        return inspect.signature(function).parameters
    except (TypeError, ValueError):  # a callable without a signature
        return {}


def _divergence_error(n_iter, loss):
    return ValueError(
        "Solver produced non-finite parameter weights. The input data may "
        "contain large values and need to be preprocessed. (fastbp: training "
        f"diverged in iteration {n_iter}, the loss became {loss}; "
        "the weights of the last finite iteration were kept. Lower "
        "learning_rate_init or scale the input, e.g. with StandardScaler.)")


def _complete_stochastic_history(est, early_stopping):
    """The bookkeeping sgd / adam keep, where a network lacks it.

    A fresh fit starts it (``_initialize``); a network fitted by lbfgs, or
    one whose settings changed since (``early_stopping`` switched on, say),
    continues with what it has and starts the rest, where scikit-learn's
    estimators raise an AttributeError or TypeError.
    """
    if not hasattr(est, "loss_curve_"):
        est.loss_curve_ = []
    if not hasattr(est, "_no_improvement_count"):
        est._no_improvement_count = 0
    if early_stopping:
        if getattr(est, "validation_scores_", None) is None:
            est.validation_scores_ = []
        if getattr(est, "best_validation_score_", None) is None:
            est.best_validation_score_ = -np.inf
    elif getattr(est, "best_loss_", None) is None:
        est.best_loss_ = np.inf


def fit_stochastic(est, X, y, sample_weight, incremental, max_slices, validation=None,
                   tasks=None):
    """Minibatch epochs (sgd / adam) with scikit-learn's schedules and stopping rules.

    Each epoch runs as governed kernel calls of whole batches (threads or
    serial, whichever is faster now). Divergence and Ctrl-C restore the last
    finished epoch's weights and optimizer state. ``validation`` is a given
    validation set for early stopping (``_validation_set``'s tuple), else
    early stopping splits off ``validation_fraction`` of X. ``tasks``
    (``FitTasks``) reports each epoch to scikit-learn's callbacks.
    """
    theta = est._network.theta
    if not incremental or not hasattr(est, "_optimizer"):
        est._optimizer = StochasticOptimizer.for_estimator(est, theta.shape[0], theta.dtype)
    optimizer = est._optimizer
    if optimizer.state.dtype != theta.dtype:
        optimizer.state = optimizer.state.astype(theta.dtype)

    if est.early_stopping and incremental:
        raise ValueError("partial_fit does not support early_stopping=True")
    early_stopping = est.early_stopping
    if early_stopping and validation is not None:
        X_train, y_train, sw_train = X, y, sample_weight
    elif early_stopping:
        (X_train, y_train, sw_train), validation = _split_for_early_stopping(
            est, X, y, sample_weight)
    else:
        X_train, y_train, sw_train = X, y, sample_weight
        validation = None

    data = KernelData.of(X_train, X.dtype)
    targets = KernelTargets(y_train, sw_train)
    n_samples = data.n_samples
    sample_idx = np.arange(n_samples, dtype=np.int64)
    batch_size = _batch_size(est, n_samples)
    net = est._network.kernel_args()
    settings = kernel_objective(est, theta.dtype, reported_loss_scale(est))
    rates = dropout_rates(est, len(est._network.units))
    dropout = KernelDropout(rates, np.uint64(0))
    n_slices = _threads.slices_for(max_slices, batch_size, theta.shape[0])
    governor = _threads.ThreadGovernor(n_slices, ("train", batch_size, theta.shape[0]))
    n_batches = (n_samples + batch_size - 1) // batch_size
    # the last finished epoch's weights and optimizer state: an epoch runs
    # as several kernel calls, and Ctrl-C or divergence may stop it midway
    last_good = theta.copy()
    last_state = (optimizer.state.copy(), optimizer.step_count.copy())
    best = theta.copy() if early_stopping else None
    est.n_iter_ = 0
    _complete_stochastic_history(est, early_stopping)
    # earlier calls' history (warm start, partial_fit), kept on Ctrl-C
    curve_start = len(est.loss_curve_)
    scores_start = len(est.validation_scores_) if early_stopping else 0
    try:
        for _ in range(est.max_iter):
            epoch_start = time.perf_counter()
            if tasks is not None:
                tasks.epoch_begins()
            optimizer.epoch_begins(len(est.loss_curve_) if incremental else est.n_iter_,
                                   est.max_iter)
            if est.shuffle:
                sample_idx = _fastpath.shuffled(sample_idx, est._random_state)
            if rates.any():  # a new mask seed each epoch (no draw without dropout)
                dropout = KernelDropout(rates, np.uint64(
                    est._random_state.randint(0, np.iinfo(np.int64).max, dtype=np.int64)))
            # the epoch in runs of whole batches (one kernel call each),
            # which the governor runs on threads or serially, as is faster
            loss_sum, done = 0.0, 0
            while done < n_batches:
                step = governor.units_per_step(n_batches - done)
                with governor.step(TRAIN_KERNELS, step) as kernel:
                    loss_sum = kernel(data, targets,
                                      sample_idx[done * batch_size : (done + step) * batch_size],
                                      batch_size, net, settings, optimizer.kernel_args(),
                                      dropout, n_slices, loss_sum)
                done += step
            loss = loss_sum / n_samples
            if not np.isfinite(loss) or not np.isfinite(theta).all():
                if early_stopping:
                    # As scikit-learn: the diverged epoch is recorded (its
                    # validation score NaN) and the best validation weights
                    # are the model; fastbp stops here rather than train on NaN.
                    est.n_iter_ += 1
                    est.loss_ = float(loss)
                    est.loss_curve_.append(est.loss_)
                    est.validation_scores_.append(float("nan"))
                    warnings.warn(
                        f"Training diverged in iteration {est.n_iter_} (the loss became "
                        f"{loss}); stopped, keeping the weights of the best validation "
                        "score. Lower learning_rate_init or scale the input.",
                        ConvergenceWarning)
                    break
                theta[...] = last_good
                optimizer.state[...], optimizer.step_count[...] = last_state
                raise _divergence_error(est.n_iter_ + 1, loss)
            est.n_iter_ += 1
            est.loss_ = float(loss)
            est.t_ += n_samples
            est.loss_curve_.append(est.loss_)
            if est.verbose:
                print("Iteration %d, loss = %.8f" % (est.n_iter_, est.loss_))

            score = validation_score(est, validation) if early_stopping else None
            if update_no_improvement(est, score) and early_stopping:
                best[...] = theta
            optimizer.iteration_ends(est.t_)
            last_good[...] = theta
            last_state[0][...] = optimizer.state
            last_state[1][...] = optimizer.step_count
            stop = call_back(est, epoch=est.n_iter_, max_epochs=1 if incremental else est.max_iter,
                             loss=est.loss_,
                             validation_score=est.validation_scores_[-1] if early_stopping
                             else None,
                             n_samples=n_samples, seconds=time.perf_counter() - epoch_start)
            if tasks is not None and tasks.epoch_ends():
                stop = True
            if stop:
                break
            if stop_when_stalled(est, optimizer,
                                 "Validation score" if early_stopping else "Training loss"):
                break
            if incremental:
                break
            if est.n_iter_ == est.max_iter:
                warnings.warn(
                    "Stochastic Optimizer: Maximum iterations (%d) reached and the "
                    "optimization hasn't converged yet." % est.max_iter, ConvergenceWarning)
    except KeyboardInterrupt:
        # Back to the last epoch whose kernel calls and bookkeeping all finished.
        theta[...] = last_good
        optimizer.state[...], optimizer.step_count[...] = last_state
        del est.loss_curve_[curve_start + est.n_iter_:]
        if early_stopping:
            del est.validation_scores_[scores_start + est.n_iter_:]
        warnings.warn("Training interrupted by user.")

    if early_stopping:
        theta[...] = best
    if not incremental:
        warn_if_worse_than_constant(est, X_train, y_train, sw_train)


# The failed-training check compares like with like on at most this many
# rows, and only fits of at least FAILED_MIN_ITER epochs on FAILED_MIN_ROWS
# rows whose constant prediction leaves something to learn.
FAILED_CHECK_ROWS = 4096
FAILED_MIN_ITER = 10
FAILED_MIN_ROWS = 10
FAILED_MARGIN = 1.1


def warn_if_worse_than_constant(est, X, y, sample_weight):
    """Warn when the trained network fits the data worse than a constant does.

    Its data loss (no L2 term) on the training rows (a sample of them for
    large data) is compared with that of always predicting the (weighted)
    mean target — the class frequencies for a classifier. A network 10%
    worse than that after 10 or more epochs has failed: usually it
    diverged (learning_rate_init too high, weights blown up, every ReLU
    dead). Short fits, tiny data and constant targets are not judged.
    """
    n = y.shape[0]
    if (est.n_iter_ < FAILED_MIN_ITER or n < FAILED_MIN_ROWS
            or float(sample_weight.sum()) <= 0):
        return
    if n > FAILED_CHECK_ROWS:
        rows = np.random.default_rng(0).choice(n, FAILED_CHECK_ROWS, replace=False)
        rows.sort()
        X, y, sample_weight = X[rows], y[rows], sample_weight[rows]
    sample_weight = np.ascontiguousarray(sample_weight, dtype=y.dtype)
    sw_sum = float(sample_weight.sum())
    if sw_sum <= 0:
        return
    code = loss_code(est)
    eps = float(np.finfo(y.dtype).eps)
    huber_delta = float(getattr(est, "huber_delta", 1.0))
    every_row = np.arange(y.shape[0])

    def data_loss(prediction):
        prediction = np.ascontiguousarray(prediction, dtype=y.dtype)
        delta = np.empty_like(prediction)
        return _kernels.output_delta_and_loss(prediction, y, sample_weight, every_row,
                                              code, eps, huber_delta, delta) / sw_sum

    constant = (sample_weight @ y) / sw_sum
    if est.out_activation_ == "softmax":
        constant = constant / constant.sum()
    constant_loss = data_loss(np.broadcast_to(constant, y.shape))
    if not constant_loss > 1e-12:
        return  # a constant target: nothing to learn, nothing to judge
    network_loss = data_loss(est._forward_pass_fast(X, check_input=False))
    if not network_loss <= FAILED_MARGIN * constant_loss:
        what = "the class frequencies" if is_classifier(est) else "the mean target"
        warnings.warn(
            f"Training failed: the network's training loss {network_loss:.6g} (without "
            f"the L2 term) is higher than {constant_loss:.6g}, the loss of always "
            f"predicting {what}. The training has most likely diverged (lower "
            "learning_rate_init or scale the input).", ConvergenceWarning)
