"""Optimizer steps on the flat buffer: scikit-learn's sgd and adam update rules.

    sgd:   v ← μv − ηg;  θ ← θ + v, or with Nesterov θ ← θ + μv − ηg.
    adam:  m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;  θ ← θ − η_t m / (√v + ε).

with g = (Σₜ rawₜ + α·W) / Σs for the weights and Σₜ rawₜ / Σs for the biases.
A step runs as fixed ranges of the buffer (whole vectors each), which the
epoch kernel spreads over its threads.
"""

from typing import NamedTuple

import numpy as np
from numba import njit

from .jit import JIT, VECTOR

SOLVER_SGD = 0
SOLVER_ADAM = 1


class StepScalars(NamedTuple):
    """One step's hyper-parameters in theta's dtype (float32 loops for float32 models)."""

    alpha: float  # α, on the weights
    no_alpha: float  # 0, on the biases
    inv_sw: float  # 1 / Σs of the batch
    lr: float  # η, or adam's η_t with the bias correction folded in
    momentum: float
    beta_1: float
    beta_2: float
    epsilon: float
    one_minus_beta_1: float
    one_minus_beta_2: float


@njit(**JIT)
def step_scalars(alpha, sw_sum, opt, theta, t):
    """One step's hyper-parameters, cast to theta's dtype; nothing is written.

    Adam's bias correction for its t-th step (t counted from 1 over the
    model's life: ``opt.step_count[0]`` is the number of steps taken so far)
    is folded into the step size η_t = η √(1 − β₂ᵗ) / (1 − β₁ᵗ). Every thread
    that runs a range of the step computes the same scalars, so no thread
    waits for another to set them up.

    Returns
    -------
    StepScalars
    """
    if opt.solver == SOLVER_ADAM:
        lr = opt.learning_rate * np.sqrt(1 - opt.beta_2 ** t) / (1 - opt.beta_1 ** t)
    else:
        lr = opt.learning_rate
    cast = theta.dtype.type
    return StepScalars(cast(alpha), cast(0), cast(1.0 / sw_sum), cast(lr), cast(opt.momentum),
                       cast(opt.beta_1), cast(opt.beta_2), cast(opt.epsilon),
                       cast(1 - opt.beta_1), cast(1 - opt.beta_2))


# Each range function reads the gradient as raw[k] + last[k] when ``summed``
# (the threads' raw gradients, the last one added here instead of in a pass of
# its own: on the 2-thread wide workload that pass, which writes raws[0] back
# before the update reads it again, cost ~110 of the step's ~335 µs; the
# update is bound by cache bandwidth), else as raw[k] alone. The loop is
# written twice so that neither version reads an array it does not need.
@njit(**VECTOR, inline="always")
def _sgd_update(theta, velocity, k, w, g, step, nesterov):
    """v ← μv − ηg;  θ ← θ + v, or with Nesterov θ ← θ + μv − ηg."""
    v = step.momentum * velocity[k] - step.lr * g
    velocity[k] = v
    if nesterov:
        theta[k] = w + (step.momentum * v - step.lr * g)
    else:
        theta[k] = w + v


@njit(**VECTOR)
def _sgd_range(theta, raw, last, summed, velocity, alpha, step, nesterov):
    """sgd on one contiguous range; returns Σθ² of the range before the step.

    All scalars have theta's dtype and the loops have no branch that depends
    on k, so LLVM vectorises them.
    """
    inv_sw = step.inv_sw
    squared_norm = 0.0
    if summed:
        for k in range(theta.shape[0]):
            w = theta[k]
            squared_norm += w * w
            _sgd_update(theta, velocity, k, w, ((raw[k] + last[k]) + alpha * w) * inv_sw, step,
                        nesterov)
    else:
        for k in range(theta.shape[0]):
            w = theta[k]
            squared_norm += w * w
            _sgd_update(theta, velocity, k, w, (raw[k] + alpha * w) * inv_sw, step, nesterov)
    return squared_norm


@njit(**VECTOR, inline="always")
def _adam_update(theta, m, v, k, w, g, step):
    """m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;  θ ← θ − η_t m / (√v + ε)."""
    mk = step.beta_1 * m[k] + step.one_minus_beta_1 * g
    vk = step.beta_2 * v[k] + step.one_minus_beta_2 * (g * g)
    m[k] = mk
    v[k] = vk
    theta[k] = w - step.lr * mk / (np.sqrt(vk) + step.epsilon)


@njit(**VECTOR)
def _adam_range(theta, raw, last, summed, m, v, alpha, step):
    """adam on one contiguous range; returns Σθ² of the range before the step."""
    inv_sw = step.inv_sw
    squared_norm = 0.0
    if summed:
        for k in range(theta.shape[0]):
            w = theta[k]
            squared_norm += w * w
            _adam_update(theta, m, v, k, w, ((raw[k] + last[k]) + alpha * w) * inv_sw, step)
    else:
        for k in range(theta.shape[0]):
            w = theta[k]
            squared_norm += w * w
            _adam_update(theta, m, v, k, w, (raw[k] + alpha * w) * inv_sw, step)
    return squared_norm


@njit(**VECTOR)
def _sum_rows_into_first(raws):
    """raws[0] += raws[1] + … in a fixed order (the per-thread gradients)."""
    first = raws[0]
    for t in range(1, raws.shape[0]):
        other = raws[t]
        for k in range(first.shape[0]):
            first[k] += other[k]


@njit(**JIT)
def optimizer_range_step(c, n_chunks, raws, theta, n_coefs, opt, step):
    """Range ``c`` of ``n_chunks`` of one optimizer step (see the module docstring).

    The buffer is cut into ``n_chunks`` fixed ranges (whole vectors each); the
    caller runs them in parallel. Each range sums
    the slices' raw gradients in slice order (the last one inside the update
    loop) and updates, so results depend on the number of slices only
    through summation order, never on timing or on the threads that ran.

    Parameters
    ----------
    raws : ndarray of shape (n_slices, n_params)
        Raw batch gradients of each slice's rows (``backward_pass``); with 3
        or more slices ``raws[0]`` is overwritten with the sum of all but the last.
    theta : ndarray of shape (n_params,)
        Parameters, updated in place on this range.
    n_coefs : int
        Number of weights (the first ``n_coefs`` entries of theta).
    opt : KernelOptimizer
        Solver and state (velocity v, or moments m then v), updated in place.
    step : StepScalars
        From ``step_scalars``.

    Returns
    -------
    squared_norm : float
        Σ W² over the weights of this range before the step (for the penalty
        term of the batch loss).
    """
    n = theta.shape[0]
    n_slices = raws.shape[0]
    chunk = ((n + n_chunks - 1) // n_chunks + 15) // 16 * 16  # whole vectors per range
    start = min(c * chunk, n)
    stop = min(start + chunk, n)
    if start == stop:
        return 0.0
    # Σₜ rawₜ in slice order: all but the last into raws[0] here, the last
    # one inside the update
    if n_slices > 2:
        _sum_rows_into_first(raws[: n_slices - 1, start:stop])
    raw = raws[0]
    last = raws[n_slices - 1]
    summed = n_slices > 1
    state = opt.state
    # weights [start, mid) carry the L2 term; biases [mid, stop) do not
    mid = max(start, min(stop, n_coefs))
    squared_norm = 0.0
    for part in range(2):
        lo = start if part == 0 else mid
        hi = mid if part == 0 else stop
        if lo == hi:
            continue
        alpha_part = step.alpha if part == 0 else step.no_alpha
        if opt.solver == SOLVER_SGD:
            norm = _sgd_range(theta[lo:hi], raw[lo:hi], last[lo:hi], summed, state[lo:hi],
                              alpha_part, step, opt.nesterov)
        else:
            norm = _adam_range(theta[lo:hi], raw[lo:hi], last[lo:hi], summed, state[lo:hi],
                               state[n + lo : n + hi], alpha_part, step)
        if part == 0:
            squared_norm = norm
    return squared_norm


@njit(**VECTOR)
def _squared_gradient_range(raws, theta, alpha, lo, hi):
    """Σₖ (Σₜ rawsₜₖ + α θₖ)² over [lo, hi), slices summed in slice order."""
    total = 0.0
    n_slices = raws.shape[0]
    for k in range(lo, hi):
        g = raws[0, k]
        for t in range(1, n_slices):
            g += raws[t, k]
        g += alpha * theta[k]
        total += g * g
    return total


@njit(**JIT)
def gradient_range_norm(c, n_chunks, raws, theta, n_coefs, alpha):
    """Σ (Σₜ rawₜ + α·W)² over range ``c`` of ``n_chunks`` (the ranges of ``optimizer_range_step``).

    Times 1 / (Σs)², summed over the ranges, this is ‖g‖² of the step's
    gradient, for gradient clipping; ``raws`` is only read.
    """
    n = theta.shape[0]
    chunk = ((n + n_chunks - 1) // n_chunks + 15) // 16 * 16
    start = min(c * chunk, n)
    stop = min(start + chunk, n)
    mid = max(start, min(stop, n_coefs))
    cast = theta.dtype.type
    return (_squared_gradient_range(raws, theta, cast(alpha), start, mid)
            + _squared_gradient_range(raws, theta, cast(0), mid, stop))
