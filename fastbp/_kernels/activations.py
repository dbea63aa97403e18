"""Activations, each value beside its derivative, and the output layer's loss.

Derivatives are written through z = h(a), as scikit-learn does, so the
backward pass needs only the stored outputs of each layer:

    identity   h(a) = a                     h′ = 1
    relu       h(a) = max(0, a)             h′ = 1[z > 0]
    tanh       h(a) = tanh a                h′ = 1 − z²
    logistic   h(a) = 1 / (1 + e^{−a})      h′ = z (1 − z)
    leaky_relu h(a) = max(a, 0.01 a)        h′ = 1 if z > 0 else 0.01
    elu        h(a) = a if a > 0 else eᵃ − 1    h′ = 1 if z > 0 else z + 1
    softplus   h(a) = log(1 + eᵃ)           h′ = σ(a) = 1 − e^{−z}

softmax and exp are output activations only: paired with their canonical
losses, the output delta is ŷ − t and no derivative of theirs is needed.
"""

import numpy as np
from numba import njit

from . import vecmath
from .jit import INLINE, JIT

# Activation codes. The output activation fixes the loss: identity ↔ squared
# error, logistic ↔ binary log-loss, softmax ↔ cross-entropy, exp ↔ Poisson.
IDENTITY = 0
LOGISTIC = 1
TANH = 2
RELU = 3
SOFTMAX = 4
EXP = 5
LEAKY_RELU = 6
ELU = 7
SOFTPLUS = 8
# leaky_relu's slope for a < 0
LEAKY_SLOPE = 0.01

ACTIVATION_CODES = {
    "identity": IDENTITY,
    "logistic": LOGISTIC,
    "tanh": TANH,
    "relu": RELU,
    "softmax": SOFTMAX,
    "exp": EXP,
    "leaky_relu": LEAKY_RELU,
    "elu": ELU,
    "softplus": SOFTPLUS,
}
# The activations a hidden layer may have (softmax and exp are output activations).
HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu", "leaky_relu", "elu", "softplus")


# relu ----------------------------------------------------------------------
@njit(**INLINE)
def _relu(A):
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            if A[i, j] < 0:
                A[i, j] = 0


@njit(**INLINE)
def _relu_derivative(Z, D):
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            if Z[i, j] == 0:
                D[i, j] = 0


# tanh ----------------------------------------------------------------------
@njit(**INLINE)
def _tanh(A):
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            A[i, j] = vecmath.tanh(A[i, j])


@njit(**INLINE)
def _tanh_derivative(Z, D):
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            D[i, j] *= 1 - Z[i, j] * Z[i, j]


# logistic --------------------------------------------------------------------
@njit(**INLINE)
def _logistic(A):
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            A[i, j] = vecmath.logistic(A[i, j])


@njit(**INLINE)
def _logistic_derivative(Z, D):
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            D[i, j] *= Z[i, j] * (1 - Z[i, j])


# leaky relu ------------------------------------------------------------------
@njit(**INLINE)
def _leaky_relu(A):
    slope = A.dtype.type(LEAKY_SLOPE)
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            a = A[i, j]
            A[i, j] = a if a > 0 else slope * a


@njit(**INLINE)
def _leaky_relu_derivative(Z, D):
    slope = D.dtype.type(LEAKY_SLOPE)
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            if not Z[i, j] > 0:  # z > 0 exactly when a > 0
                D[i, j] *= slope


# elu (α = 1) -------------------------------------------------------------------
@njit(**INLINE)
def _elu(A):
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            a = A[i, j]
            # eᵃ − 1 without cancellation near 0, as a select (the loop stays SIMD)
            A[i, j] = a if a > 0 else vecmath.expm1_nonpositive(a)


@njit(**INLINE)
def _elu_derivative(Z, D):
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            z = Z[i, j]
            if not z > 0:
                D[i, j] *= z + 1  # eᵃ = z + 1 for a ≤ 0


# softplus ------------------------------------------------------------------
@njit(**INLINE)
def _softplus(A):
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            a = A[i, j]
            # log(1 + eᵃ) = max(a, 0) + log(1 + e^{−|a|}): no overflow for large a
            A[i, j] = (a if a > 0 else a - a) + vecmath.log1p_unit(vecmath.exp(-abs(a)))


@njit(**INLINE)
def _softplus_derivative(Z, D):
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            D[i, j] *= -vecmath.expm1_nonpositive(-Z[i, j])  # σ(a) = 1 − e^{−z}, z ≥ 0


# exp (the Poisson log-link inverse) and softmax: output layers only ----------
@njit(**INLINE)
def _exp(A):
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            A[i, j] = vecmath.exp(A[i, j])


@njit(**INLINE)
def _softmax(A):
    """softmax(a)_k = e^{a_k − max a} / Σ_j e^{a_j − max a}, row by row."""
    n, m = A.shape
    for i in range(n):
        top = A[i, 0]
        for j in range(1, m):
            if A[i, j] > top:
                top = A[i, j]
        for j in range(m):
            A[i, j] -= top
    # The exponentials in one loop over the whole block (rows of a few
    # classes would leave most of each row to a scalar remainder loop).
    flat = A.reshape(n * m)
    for k in range(n * m):
        flat[k] = vecmath.exp(flat[k])
    for i in range(n):
        total = 0.0
        for j in range(m):
            total += A[i, j]  # in order: no fastmath here
        for j in range(m):
            A[i, j] = A[i, j] / total


@njit(**JIT)
def activate(A, code):
    """Apply the activation ``code`` to A in place: z = h(a).

    Parameters
    ----------
    A : ndarray of shape (n_rows, n_units)
        Pre-activations aˡ; overwritten by zˡ.
    code : int
        One of IDENTITY, LOGISTIC, TANH, RELU, LEAKY_RELU, ELU, SOFTPLUS, SOFTMAX, EXP.
    """
    if code == RELU:
        _relu(A)
    elif code == TANH:
        _tanh(A)
    elif code == LOGISTIC:
        _logistic(A)
    elif code == LEAKY_RELU:
        _leaky_relu(A)
    elif code == ELU:
        _elu(A)
    elif code == SOFTPLUS:
        _softplus(A)
    elif code == EXP:
        _exp(A)
    elif code == SOFTMAX:
        _softmax(A)


@njit(**JIT)
def multiply_by_derivative(Z, D, code):
    """D ⊙= h′(a) of a hidden layer, with h′ written through z = h(a).

    Parameters
    ----------
    Z : ndarray of shape (n_rows, n_units)
        Stored activations zˡ of a hidden layer.
    D : ndarray of shape (n_rows, n_units)
        Back-propagated signal δˡ⁺¹(Wˡ⁺¹)ᵀ; modified in place into δˡ.
    code : int
        Hidden activation code (identity leaves D as it is).
    """
    if code == RELU:
        _relu_derivative(Z, D)
    elif code == TANH:
        _tanh_derivative(Z, D)
    elif code == LOGISTIC:
        _logistic_derivative(Z, D)
    elif code == LEAKY_RELU:
        _leaky_relu_derivative(Z, D)
    elif code == ELU:
        _elu_derivative(Z, D)
    elif code == SOFTPLUS:
        _softplus_derivative(Z, D)


@njit(**JIT)
def output_delta_and_loss(P, Y, sw, rows, out_code, clip_eps, D):
    """Weighted output delta δᴸ = sᵢ (ŷ − t) and the weighted loss sum.

    For the canonical pairs (identity + squared error, logistic + log-loss,
    softmax + cross-entropy, exp + Poisson deviance) the derivative of the
    loss with respect to the output pre-activation aᴸ is exactly ŷ − t, so no
    derivative of the output activation appears.

    Parameters
    ----------
    P : ndarray of shape (b, n_outputs)
        Network outputs ŷ for the batch.
    Y : ndarray of shape (n_samples, n_outputs)
        All targets; the batch uses rows ``rows``.
    sw : ndarray of shape (n_samples,)
        Sample weights sᵢ.
    rows : ndarray of shape (b,)
        Indices of the batch's samples in Y and sw.
    out_code : int
        Output activation code, which selects the loss.
    clip_eps : float
        Probabilities are clipped to [eps, 1 − eps] inside the log-losses.
    D : ndarray of shape (b, n_outputs)
        Output: δᴸ, written in place.

    Returns
    -------
    weighted_loss : float
        Σᵢ sᵢ ℓᵢ in float64, where ℓᵢ is the per-sample loss:
        ½ Σₖ (ŷ − t)²  |  −Σₖ t log ŷ + (1 − t) log(1 − ŷ)  |  −Σₖ t log ŷ  |
        Σₖ t log(t / ŷ) − t + ŷ.
    """
    b, k = P.shape
    total = 0.0
    for i in range(b):
        r = rows[i]
        s = sw[r]
        sample_loss = 0.0
        for j in range(k):
            p = P[i, j]
            t = Y[r, j]
            D[i, j] = s * (p - t)
            if out_code == IDENTITY:
                sample_loss += 0.5 * (p - t) * (p - t)
            elif out_code == LOGISTIC:
                q = min(max(p, clip_eps), 1 - clip_eps)
                if t != 0:
                    sample_loss -= t * np.log(q)
                if t != 1:
                    sample_loss -= (1 - t) * np.log(1 - q)
            elif out_code == SOFTMAX:
                if t != 0:
                    q = min(max(p, clip_eps), 1 - clip_eps)
                    sample_loss -= t * np.log(q)
            elif out_code == EXP:
                if t > 0:
                    sample_loss += t * np.log(t / p)
                sample_loss += p - t
        total += s * sample_loss
    return total
