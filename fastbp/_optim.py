"""Optimizer hyper-parameters and state, and the L-BFGS driver.

The per-step update rules are compiled (``_kernels/optimizer.py``); what lives
here is what changes once per epoch: the learning-rate schedule (scikit-learn's
'constant', 'invscaling' and 'adaptive', for sgd only as in scikit-learn, and
fastbp's 'cosine', for sgd and adam) and the stopping decision. The state
is plain arrays, so estimators holding it pickle and clone cleanly.
"""

from numbers import Integral, Real

import numpy as np
import scipy.optimize
from sklearn.utils.optimize import _check_optimize_result

from . import _kernels


# The constructor's settings after n_params and dtype, in its order.
_SETTINGS = ("solver", "learning_rate_init", "lr_schedule", "momentum", "nesterov", "power_t",
             "beta_1", "beta_2", "epsilon")


class StochasticOptimizer:
    """State of 'sgd' (momentum / Nesterov) or 'adam' over a flat buffer.

    Parameters
    ----------
    solver : {'sgd', 'adam'}
    n_params : int
        Length of the flat parameter buffer.
    dtype : numpy dtype
        Dtype of the parameters (and so of the state).
    learning_rate_init, lr_schedule, momentum, nesterov, power_t,
    beta_1, beta_2, epsilon
        As in scikit-learn's estimators.

    Attributes
    ----------
    learning_rate : float
        Current base learning rate (changed by 'invscaling' / 'adaptive').
    state : ndarray
        sgd: the velocity, shape (n_params,); adam: m then v, shape (2 n_params,).
    step_count : ndarray of shape (1,)
        Adam's step counter t.
    """

    def __init__(self, solver, n_params, dtype, learning_rate_init, lr_schedule="constant",
                 momentum=0.9, nesterov=True, power_t=0.5, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8):
        self.solver = solver
        self.learning_rate_init = float(learning_rate_init)
        self.learning_rate = float(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.power_t = float(power_t)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        n_state = n_params if solver == "sgd" else 2 * n_params
        self.state = np.zeros(n_state, dtype=dtype)
        self.step_count = np.zeros(1, dtype=np.int64)

    @classmethod
    def for_estimator(cls, est, n_params, dtype):
        """The optimizer of an estimator's ``solver`` and hyper-parameters, from zero state."""
        return cls(est.solver, n_params, dtype, est.learning_rate_init, est.learning_rate,
                   est.momentum, est.nesterovs_momentum, est.power_t, est.beta_1, est.beta_2,
                   est.epsilon)

    def kernel_args(self):
        """The kernels' ``KernelOptimizer``: hyper-parameters and the state they update."""
        return _kernels.KernelOptimizer(
            _kernels.SOLVER_SGD if self.solver == "sgd" else _kernels.SOLVER_ADAM,
            self.learning_rate, self.momentum, self.nesterov, self.beta_1, self.beta_2,
            self.epsilon, self.state, self.step_count)

    def snapshot(self):
        """Settings and the changing part as plain values (what model files store).

        Keys: the constructor's settings (``_SETTINGS``), ``learning_rate``,
        ``state`` (the array itself, not a copy) and ``step_count`` (an int).
        """
        snapshot = {name: getattr(self, name) for name in _SETTINGS}
        snapshot.update(learning_rate=self.learning_rate, state=self.state,
                        step_count=int(self.step_count[0]))
        return snapshot

    @classmethod
    def from_snapshot(cls, snapshot, n_params, dtype):
        """The optimizer a ``snapshot`` describes (its settings, state and step count)."""
        optimizer = cls(snapshot["solver"], n_params, dtype,
                        *(snapshot[name] for name in _SETTINGS[1:]))
        if not optimizer.restore(snapshot):
            raise ValueError(f"the optimizer state has shape {np.shape(snapshot['state'])}; "
                             f"{snapshot['solver']} over {n_params} parameters needs "
                             f"{optimizer.state.shape}")
        return optimizer

    def restore(self, snapshot):
        """Continue from a ``snapshot``'s state; False (nothing changed) if its shape does not fit."""
        state = np.asarray(snapshot["state"])
        if state.shape != self.state.shape:
            return False
        self.state = state.astype(self.state.dtype)
        self.step_count = np.array([int(snapshot["step_count"])], dtype=np.int64)
        self.learning_rate = float(snapshot["learning_rate"])
        return True

    @staticmethod
    def checked_snapshot(snapshot, n_params, dtype, fail):
        """``snapshot`` if every value has the type and range a fit produces, else ``fail(msg)``.

        For snapshots read from files: the state must match the network
        (``n_params`` parameters of ``dtype``) exactly, as the compiled steps
        index it without bounds checks.
        """
        keys = {*_SETTINGS, "learning_rate", "state", "step_count"}
        if not isinstance(snapshot, dict) or set(snapshot) != keys:
            fail(f"the optimizer state must have exactly the keys {sorted(keys)}")
        solver = snapshot["solver"]
        if solver not in ("sgd", "adam"):
            fail(f"optimizer solver {solver!r} is not 'sgd' or 'adam'")
        if snapshot["lr_schedule"] not in ("constant", "invscaling", "adaptive", "cosine"):
            fail(f"optimizer lr_schedule {snapshot['lr_schedule']!r} is unknown")
        if not isinstance(snapshot["nesterov"], (bool, np.bool_)):
            fail("optimizer nesterov must be True or False")
        ranges = {"learning_rate_init": (0, np.inf, False), "learning_rate": (0, np.inf, True),
                  "momentum": (0, 1, True), "power_t": (0, np.inf, True),
                  "beta_1": (0, 1, True), "beta_2": (0, 1, True), "epsilon": (0, np.inf, False)}
        for name, (low, high, low_included) in ranges.items():
            value = snapshot[name]
            if (not isinstance(value, Real) or isinstance(value, (bool, np.bool_))
                    or not np.isfinite(value) or not low <= value <= high
                    or (value == low and not low_included)):
                fail(f"optimizer {name} must be a finite number in "
                     f"{'[' if low_included else '('}{low}, {high}]; got {value!r}")
        step_count = snapshot["step_count"]
        if (not isinstance(step_count, Integral) or isinstance(step_count, (bool, np.bool_))
                or not 0 <= step_count < 1 << 62):
            fail(f"optimizer step_count must be a non-negative integer; got {step_count!r}")
        state = snapshot["state"]
        if isinstance(state, np.ndarray):
            state = snapshot["state"] = np.asarray(state)  # a memmap's plain view
        shape = (n_params if solver == "sgd" else 2 * n_params,)
        if type(state) is not np.ndarray or state.dtype != dtype or state.shape != shape:
            fail(f"the {solver} state must be {dtype} of shape {shape}; got "
                 f"{getattr(state, 'dtype', type(state).__name__)} of shape "
                 f"{getattr(state, 'shape', None)}")
        return snapshot

    def epoch_begins(self, epoch, max_epochs):
        """Start-of-epoch schedule: 'cosine' sets η = η₀ · ½(1 + cos(π e / max_epochs)).

        ``epoch`` e counts from 0, so the first epoch trains at η₀ and the
        rate falls towards 0 over ``max_epochs`` epochs (0 after them). For
        both solvers: adam's steps are scaled by it too.
        """
        if self.lr_schedule == "cosine":
            progress = min(epoch, max_epochs) / max_epochs
            self.learning_rate = self.learning_rate_init * 0.5 * (1.0 + np.cos(np.pi * progress))

    def iteration_ends(self, time_step):
        """End-of-epoch schedule: 'invscaling' sets η = η₀ / (t + 1)^power_t."""
        if self.solver == "sgd" and self.lr_schedule == "invscaling":
            self.learning_rate = self.learning_rate_init / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg, verbose):
        """Whether to stop after no improvement; 'adaptive' sgd divides η by 5 instead."""
        if self.solver != "sgd" or self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % self.learning_rate)
        return False


def minimize_lbfgs(loss_and_gradient, theta, max_iter, max_fun, tol, verbose,
                   on_iteration=None):
    """Minimise with SciPy's L-BFGS-B, as scikit-learn's MLP does.

    Parameters
    ----------
    loss_and_gradient : callable
        ``f(theta) -> (loss, grad)`` with ``theta`` and ``grad`` flat arrays of
        the parameters' dtype.
    theta : ndarray of shape (n_params,)
        Start point; overwritten with the solution.
    max_iter, max_fun, tol : as in scikit-learn (``tol`` is L-BFGS-B's gtol).
    verbose : bool or int
    on_iteration : callable or None
        ``on_iteration(loss)`` after each iteration; True stops the solver.

    Returns
    -------
    loss : float
        Objective at the solution.
    n_iter : int
        Iterations run (ConvergenceWarning if the solver did not converge).
    """

    def fun(x):
        theta[...] = x
        loss, grad = loss_and_gradient(theta)
        return loss, grad.astype(np.float64)

    options = {"maxfun": max_fun, "maxiter": max_iter, "gtol": tol}

    stopped_by_caller = []

    def callback(intermediate_result):
        if verbose:
            print("L-BFGS iteration, loss = %.8f" % intermediate_result.fun)
        if on_iteration is not None and on_iteration(float(intermediate_result.fun)):
            stopped_by_caller.append(True)
            raise StopIteration  # SciPy ends the minimisation at this iterate

    result = scipy.optimize.minimize(
        fun, theta.astype(np.float64), method="L-BFGS-B", jac=True, options=options,
        callback=callback if verbose or on_iteration is not None else None)
    if stopped_by_caller:  # a requested stop is not a failure to converge
        n_iter = min(result.nit, max_iter)
    else:
        n_iter = _check_optimize_result("lbfgs", result, max_iter)
    theta[...] = result.x
    return float(result.fun), n_iter
