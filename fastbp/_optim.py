"""Optimizer hyper-parameters and state, and the L-BFGS driver.

The per-step update rules are compiled (``_kernels/optimizer.py``); what lives
here is what changes once per epoch: the learning-rate schedule (scikit-learn's
'constant', 'invscaling' and 'adaptive') and the stopping decision. The state
is plain arrays, so estimators holding it pickle and clone cleanly.
"""

import numpy as np
import scipy.optimize
from sklearn.utils.optimize import _check_optimize_result

from . import _kernels


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
        """The changing part, as plain values: ``{"state", "step_count", "learning_rate"}``."""
        return {"state": self.state, "step_count": self.step_count,
                "learning_rate": self.learning_rate}

    def restore(self, snapshot):
        """Continue from a ``snapshot``; False (nothing changed) if its shapes do not fit."""
        state = np.asarray(snapshot["state"])
        step_count = np.asarray(snapshot["step_count"])
        if state.shape != self.state.shape or step_count.shape != (1,):
            return False
        self.state = state.astype(self.state.dtype)
        self.step_count = step_count.astype(np.int64)
        self.learning_rate = float(snapshot["learning_rate"])
        return True

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
