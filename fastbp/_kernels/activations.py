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
    gelu       h(a) = a Φ(a)                h′ = Φ(a) + a φ(a)
    silu       h(a) = a σ(a)                h′ = σ(a) (1 + a (1 − σ(a)))

with Φ the standard normal distribution function, Φ(a) = ½(1 + erf(a/√2)),
φ its density and σ the logistic function. gelu's and silu's derivatives
cannot be written through z (h is not monotonic), so the forward pass keeps
their pre-activations a for the backward pass (``uses_preactivation``).

softmax and exp are output activations only: paired with their canonical
losses, the output delta is ŷ − t and no derivative of theirs is needed.
The regression losses huber and absolute_error have the identity output
and deltas of their own (``output_delta_and_loss``).
"""

import math

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
GELU = 9
SILU = 10
# Loss codes beyond the canonical pairs (whose loss code is the output
# activation's): both with the identity output.
HUBER = 11
ABSOLUTE_ERROR = 12
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
    "gelu": GELU,
    "silu": SILU,
}
# The activations a hidden layer may have (softmax and exp are output activations).
HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu", "leaky_relu", "elu", "softplus",
                      "gelu", "silu")
# The loss code of each regression loss with the identity output.
REGRESSION_LOSS_CODES = {"squared_error": IDENTITY, "huber": HUBER,
                         "absolute_error": ABSOLUTE_ERROR}


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


# gelu (exact, through the normal distribution function) ----------------------
_SQRT_HALF = 0.7071067811865476  # 1/√2
_INV_SQRT_2PI = 0.3989422804014327  # 1/√(2π)


@njit(**INLINE)
def _gelu(A):
    if A.itemsize == 4:  # float32
        # vectorised Φ, relative error ≤ 1.2·10⁻⁷ (about one float32 rounding)
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                a = np.float64(A[i, j])
                A[i, j] = a * vecmath.normal_cdf(a)
    else:
        # libm's erfc: correctly rounded to float64 within an ulp or two
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                a = A[i, j]
                A[i, j] = a * (0.5 * math.erfc(-a * _SQRT_HALF))


@njit(**INLINE)
def _gelu_derivative(P, D):
    """D ⊙= Φ(a) + a φ(a), with P holding the pre-activations a."""
    if P.itemsize == 4:  # float32
        for i in range(P.shape[0]):
            for j in range(P.shape[1]):
                a = np.float64(P[i, j])
                D[i, j] *= vecmath.normal_cdf(a) + a * _INV_SQRT_2PI * vecmath.exp(-0.5 * a * a)
    else:
        for i in range(P.shape[0]):
            for j in range(P.shape[1]):
                a = P[i, j]
                D[i, j] *= (0.5 * math.erfc(-a * _SQRT_HALF)
                            + a * _INV_SQRT_2PI * vecmath.exp(-0.5 * a * a))


# silu (a σ(a), also called swish) ----------------------------------------------
@njit(**INLINE)
def _silu(A):
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            a = A[i, j]
            A[i, j] = a * vecmath.logistic(a)


@njit(**INLINE)
def _silu_derivative(P, D):
    """D ⊙= σ(a) (1 + a (1 − σ(a))), with P holding the pre-activations a."""
    for i in range(P.shape[0]):
        for j in range(P.shape[1]):
            a = np.float64(P[i, j])
            s = vecmath.logistic(a)
            D[i, j] *= s * (1.0 + a * (1.0 - s))


@njit(**INLINE)
def uses_preactivation(code):
    """Whether h′ of this activation needs a (gelu, silu) rather than z."""
    return code == GELU or code == SILU


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
        One of ACTIVATION_CODES' values (any other code, such as a loss
        code, leaves A as it is: the identity).
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
    elif code == GELU:
        _gelu(A)
    elif code == SILU:
        _silu(A)
    elif code == EXP:
        _exp(A)
    elif code == SOFTMAX:
        _softmax(A)


@njit(**JIT)
def multiply_by_derivative(Z, D, code):
    """D ⊙= h′(a) of a hidden layer, with h′ written through z = h(a) or a.

    Parameters
    ----------
    Z : ndarray of shape (n_rows, n_units)
        The layer's activations zˡ, or its pre-activations aˡ for the codes
        of ``uses_preactivation`` (gelu, silu).
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
    elif code == GELU:
        _gelu_derivative(Z, D)
    elif code == SILU:
        _silu_derivative(Z, D)


@njit(**JIT)
def output_delta_and_loss(P, Y, sw, rows, loss_code, clip_eps, huber_delta, D):
    """Weighted output delta δᴸ = sᵢ ∂ℓᵢ/∂aᴸ and the weighted loss sum.

    For the canonical pairs (identity + squared error, logistic + log-loss,
    softmax + cross-entropy, exp + Poisson deviance) the derivative of the
    loss with respect to the output pre-activation aᴸ is exactly ŷ − t, so no
    derivative of the output activation appears. The identity output's
    robust losses have, with r = ŷ − t: huber, ∂ℓ/∂a = clip(r, −δ, δ);
    absolute error, ∂ℓ/∂a = sign(r) (0 at r = 0).

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
    loss_code : int
        The output activation code of a canonical pair, HUBER or ABSOLUTE_ERROR.
    clip_eps : float
        Probabilities are clipped to [eps, 1 − eps] inside the log-losses.
    huber_delta : float
        δ of the huber loss (read by it only).
    D : ndarray of shape (b, n_outputs)
        Output: δᴸ, written in place.

    Returns
    -------
    weighted_loss : float
        Σᵢ sᵢ ℓᵢ in float64, where ℓᵢ is the per-sample loss:
        ½ Σₖ r²  |  −Σₖ t log ŷ + (1 − t) log(1 − ŷ)  |  −Σₖ t log ŷ  |
        Σₖ t log(t / ŷ) − t + ŷ  |  Σₖ ½r² if |r| ≤ δ else δ(|r| − ½δ)  |  Σₖ |r|.
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
            if loss_code == HUBER:
                residual = p - t
                if abs(residual) <= huber_delta:
                    D[i, j] = s * residual
                    sample_loss += 0.5 * residual * residual
                else:
                    D[i, j] = s * (huber_delta if residual > 0 else -huber_delta)
                    sample_loss += huber_delta * (abs(residual) - 0.5 * huber_delta)
                continue
            if loss_code == ABSOLUTE_ERROR:
                residual = p - t
                D[i, j] = s * (1 if residual > 0 else (-1 if residual < 0 else 0))
                sample_loss += abs(residual)
                continue
            D[i, j] = s * (p - t)
            if loss_code == IDENTITY:
                sample_loss += 0.5 * (p - t) * (p - t)
            elif loss_code == LOGISTIC:
                q = min(max(p, clip_eps), 1 - clip_eps)
                if t != 0:
                    sample_loss -= t * np.log(q)
                if t != 1:
                    sample_loss -= (1 - t) * np.log(1 - q)
            elif loss_code == SOFTMAX:
                if t != 0:
                    q = min(max(p, clip_eps), 1 - clip_eps)
                    sample_loss -= t * np.log(q)
            elif loss_code == EXP:
                if t > 0:
                    sample_loss += t * np.log(t / p)
                sample_loss += p - t
        total += s * sample_loss
    return total
