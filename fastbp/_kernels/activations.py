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
cannot be written through z (h is not monotonic), and softplus's costs an
exponential more from z than from a: the training forward pass computes
h′(a) beside h(a) for these (``activate_and_derivative``, for every code
where a layer has dropout) and the backward pass multiplies by it
(``stores_derivative``).

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
    # eᵃ − 1 without cancellation near 0, as a select (the loop stays SIMD)
    if A.itemsize == 4:  # float32 arithmetic: twice the lanes
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                a = A[i, j]
                A[i, j] = a if a > 0 else vecmath.expm1_nonpositive_32(a)
    else:
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                a = A[i, j]
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
    # log(1 + eᵃ) = max(a, 0) + log(1 + e^{−|a|}): no overflow for large a
    if A.itemsize == 4:  # float32 arithmetic: twice the lanes
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                a = A[i, j]
                A[i, j] = (a if a > 0 else a - a) + vecmath.log1p_unit_32(vecmath.exp32(-abs(a)))
    else:
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                a = A[i, j]
                A[i, j] = (a if a > 0 else a - a) + vecmath.log1p_unit(vecmath.exp(-abs(a)))


@njit(**INLINE)
def _softplus_derivative(Z, D):
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            D[i, j] *= -vecmath.expm1_nonpositive(-Z[i, j])  # σ(a) = 1 − e^{−z}, z ≥ 0


@njit(**INLINE)
def _softplus_and_derivative(A, G):
    """A ← log(1 + eᵃ), G ← σ(a), from one e^{−|a|} (σ(−a) = e^{−a}/(1 + e^{−a}))."""
    if A.itemsize == 4:
        one = np.float32(1)
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                a = A[i, j]
                e = vecmath.exp32(-abs(a))
                A[i, j] = (a if a > 0 else a - a) + vecmath.log1p_unit_32(e)
                G[i, j] = (one if a >= 0 else e) / (one + e)
    else:
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                a = A[i, j]
                e = vecmath.exp(-abs(a))
                A[i, j] = (a if a > 0 else a - a) + vecmath.log1p_unit(e)
                G[i, j] = (1.0 if a >= 0 else e) / (1.0 + e)


# gelu (exact, through the normal distribution function) ----------------------
_SQRT_HALF = 0.7071067811865476  # 1/√2
_INV_SQRT_2PI = 0.3989422804014327  # 1/√(2π)


@njit(**INLINE)
def _gelu(A):
    if A.itemsize == 4:  # float32
        # vectorised Φ in float32 arithmetic (see vecmath.normal_cdf_32)
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                a = A[i, j]
                A[i, j] = a * vecmath.normal_cdf_32(a)
    else:
        # libm's erfc: correctly rounded to float64 within an ulp or two
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                a = A[i, j]
                A[i, j] = a * (0.5 * math.erfc(-a * _SQRT_HALF))


@njit(**INLINE)
def _gelu_and_derivative(A, G):
    """A ← a Φ(a), G ← Φ(a) + a φ(a)."""
    if A.itemsize == 4:  # float32
        density = np.float32(_INV_SQRT_2PI)
        half = np.float32(0.5)
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                a = A[i, j]
                cdf = vecmath.normal_cdf_32(a)
                A[i, j] = a * cdf
                G[i, j] = cdf + a * density * vecmath.exp32(-half * a * a)
    else:
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                a = A[i, j]
                cdf = 0.5 * math.erfc(-a * _SQRT_HALF)
                A[i, j] = a * cdf
                G[i, j] = cdf + a * _INV_SQRT_2PI * vecmath.exp(-0.5 * a * a)


# silu (a σ(a), also called swish) ----------------------------------------------
@njit(**INLINE)
def _silu(A):
    if A.itemsize == 4:  # float32 arithmetic: twice the lanes
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                a = A[i, j]
                A[i, j] = a * vecmath.logistic_32(a)
    else:
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                a = A[i, j]
                A[i, j] = a * vecmath.logistic(a)


@njit(**INLINE)
def _silu_and_derivative(A, G):
    """A ← a σ(a), G ← σ(a) (1 + a (1 − σ(a)))."""
    if A.itemsize == 4:
        one = np.float32(1)
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                a = A[i, j]
                s = vecmath.logistic_32(a)
                A[i, j] = a * s
                G[i, j] = s * (one + a * (one - s))
    else:
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                a = A[i, j]
                s = vecmath.logistic(a)
                A[i, j] = a * s
                G[i, j] = s * (1.0 + a * (1.0 - s))


@njit(**INLINE)
def stores_derivative(code):
    """Whether training computes h′(a) in the forward pass (gelu, silu, softplus).

    gelu's and silu's h′ cannot be had from z; softplus's comes cheaper from a.
    """
    return code == GELU or code == SILU or code == SOFTPLUS


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
def activate_and_derivative(A, G, code):
    """z = h(a) in place of A, and G = h′(a): the training forward pass's form.

    Parameters
    ----------
    A : ndarray of shape (n_rows, n_units)
        Pre-activations aˡ of a hidden layer; overwritten by zˡ.
    G : ndarray of shape (n_rows, n_units)
        Output: h′(aˡ), which the backward pass multiplies δ by.
    code : int
        A hidden activation code.
    """
    if code == SOFTPLUS:
        _softplus_and_derivative(A, G)
    elif code == GELU:
        _gelu_and_derivative(A, G)
    elif code == SILU:
        _silu_and_derivative(A, G)
    else:
        activate(A, code)
        G[:, :] = 1
        multiply_by_derivative(A, G, code)


@njit(**JIT)
def multiply_by_derivative(Z, D, code):
    """D ⊙= h′(a) of a hidden layer, with h′ written through z = h(a).

    For every hidden activation but gelu and silu (see ``activate_and_derivative``).

    Parameters
    ----------
    Z : ndarray of shape (n_rows, n_units)
        The layer's activations zˡ.
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
