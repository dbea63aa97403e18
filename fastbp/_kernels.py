"""Compiled maths of fastbp: the layered δ-recursion as Numba kernels.

The layered δ-recursion of backpropagation, in its textbook notation: for layer l,

    forward     z⁰ = x,   aˡ = zˡ⁻¹ Wˡ + bˡ,   zˡ = h(aˡ)
    backward    δᴸ = ŷ − t                      (canonical output/loss pairs)
                δˡ = h′(aˡ) ⊙ δˡ⁺¹ (Wˡ⁺¹)ᵀ
    gradients   ∇Wˡ = (zˡ⁻¹)ᵀ δˡ,   ∇bˡ = Σ_rows δˡ

Rows are samples (batch-major), so Wˡ has shape (fan_in, fan_out) exactly as
scikit-learn's ``coefs_``; the notes' column form aˡ = Wˡzˡ⁻¹ is its transpose.

Every kernel takes only contiguous arrays and scalars; the estimators validate
all shapes before calling (see ``_estimators.py``). Parameters live in one flat
buffer ``theta`` laid out as ``[W⁰, W¹, …, b⁰, b¹, …]`` (scikit-learn's
``_pack`` order, see ``_params.py``); gradients use the same layout, and so do
the optimizer states, so an optimizer step is a single pass over the buffer.

Sparse input is CSR (``X_data``, ``X_indices``, ``X_indptr``); only the first
layer touches X, so only its product and its weight gradient have a sparse
variant. A dense call passes empty CSR arrays and a sparse call passes a
``(0, n_features)`` dense placeholder: one compiled signature serves both.
"""

from types import FunctionType

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.core.cpu_options import ParallelOptions
from numba.extending import intrinsic

from . import _vecmath

# Numba's cache keys each kernel on the text of this file alone, yet the
# _vecmath functions are compiled into the kernels. This digest of
# _vecmath.py turns every edit there into an edit here, so no stale cached
# kernel survives a change to it (tests/test_vecmath.py checks it is current).
_VECMATH_SHA256 = "6fc433c02182265fdc6ed58075327c9e6ac1d8bd0dd2365d623446f938ce4100"
from . import _blas  # binds fastbp_sgemm / fastbp_dgemm before any kernel loads  # noqa: F401

# Activation codes. The output activation fixes the loss: identity ↔ squared
# error, logistic ↔ binary log-loss, softmax ↔ cross-entropy, exp ↔ Poisson.
IDENTITY = 0
LOGISTIC = 1
TANH = 2
RELU = 3
SOFTMAX = 4
EXP = 5

ACTIVATION_CODES = {
    "identity": IDENTITY,
    "logistic": LOGISTIC,
    "tanh": TANH,
    "relu": RELU,
    "softmax": SOFTMAX,
    "exp": EXP,
}

SOLVER_SGD = 0
SOLVER_ADAM = 1

# No fastmath: 'nnan'/'ninf' would let LLVM delete the finiteness checks the
# estimators rely on, and exact agreement with the NumPy reference matters.
_JIT = dict(cache=True, nogil=True, error_model="numpy")
# Elementwise loops that must vectorise: 'reassoc' lets LLVM vectorise the
# Σθ² reduction; no 'nnan' / 'ninf' / 'afn'. No 'contract' either: with it,
# freshly compiled code and the same code loaded from Numba's cache fused
# different multiply-adds, so a process that compiled trained a different
# model (by a few ulps per step) from every later one (test_warmup checks).
_JIT_VECTOR = dict(_JIT, fastmath={"reassoc"})
# Only the explicit prange loops run in parallel. Numba would otherwise also
# turn np.zeros, slice fills and array expressions into parallel loops: each
# one a separately compiled function (seconds of cold compile) and a parallel
# region per call, for work that takes nanoseconds. A ParallelOptions object,
# not a dict: Numba consumes a dict on the first compile, so a second dtype
# would silently get every option back.
_JIT_PARALLEL = dict(_JIT, parallel=ParallelOptions(dict(
    prange=True, comprehension=False, reduction=False, inplace_binop=False, setitem=False,
    numpy=False, stencil=False, fusion=False)))


# --------------------------------------------------------------------------
# Matrix products: BLAS ?gemm, called by name (see _blas.py for the backend).
# --------------------------------------------------------------------------
@intrinsic
def _call_gemm(typingctx, trans_a, trans_b, m, n, k, A, lda, B, ldb, C, ldc):
    """Fortran ?gemm(transa, transb, m, n, k, 1, A, lda, B, ldb, 0, C, ldc).

    Fortran takes every argument by reference: each scalar goes into a stack
    slot of the calling function (no allocation per call), and the symbol
    ``fastbp_sgemm`` / ``fastbp_dgemm`` (bound in _blas.py) is called by name.
    trans_a, trans_b: ord('N') or ord('T'); the integers are passed as int32.
    """
    dtype = C.dtype
    name = "fastbp_sgemm" if dtype == types.float32 else "fastbp_dgemm"
    sig = types.void(trans_a, trans_b, m, n, k, A, lda, B, ldb, C, ldc)

    def codegen(context, builder, signature, args):
        i8p = ir.IntType(8).as_pointer()
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p] * 13), name)
        value_type = context.get_value_type(dtype)

        def by_reference(value, llvm_type):
            slot = cgutils.alloca_once(builder, llvm_type)
            builder.store(value, slot)
            return builder.bitcast(slot, i8p)

        def integer(i, bits):
            target = types.int8 if bits == 8 else types.int32
            value = context.cast(builder, args[i], signature.args[i], target)
            return by_reference(value, ir.IntType(bits))

        def data(i):
            array = context.make_array(signature.args[i])(context, builder, args[i])
            return builder.bitcast(array.data, i8p)

        one, zero = (by_reference(ir.Constant(value_type, v), value_type) for v in (1.0, 0.0))
        builder.call(function, [integer(0, 8), integer(1, 8), integer(2, 32), integer(3, 32),
                                integer(4, 32), one, data(5), integer(6, 32), data(7),
                                integer(8, 32), zero, data(9), integer(10, 32)])
        return context.get_dummy_value()

    return sig, codegen


# Transpose flags for gemm. NumPy booleans are typed as plain booleans, where
# True / False (literals or globals) are typed Literal[bool] and would compile
# one gemm per combination of flags.
_YES, _NO = np.True_, np.False_


@njit(**_JIT, inline="always")
def _is_c_contiguous(M):
    size = M.itemsize
    if M.shape[0] == 0 or M.shape[1] == 0:
        return True  # nothing is read
    return (M.shape[1] == 1 or M.strides[1] == size) and (
        M.shape[0] == 1 or M.strides[0] == M.shape[1] * size)


@njit(**_JIT)
def gemm(A, B, C, transpose_a, transpose_b):
    """C = op(A) op(B) with BLAS ?gemm, where op(M) is Mᵀ if transpose_M else M.

    All three arrays are C-contiguous (as every workspace block and weight
    matrix is); one compiled version per dtype serves every call.

    Parameters
    ----------
    A : ndarray of shape (m, k), or (k, m) when transpose_a
    B : ndarray of shape (k, n), or (n, k) when transpose_b
    C : ndarray of shape (m, n)
        Output, overwritten.
    transpose_a, transpose_b : bool
    """
    m = A.shape[1] if transpose_a else A.shape[0]
    k = A.shape[0] if transpose_a else A.shape[1]
    n = B.shape[0] if transpose_b else B.shape[1]
    if (B.shape[1] if transpose_b else B.shape[0]) != k or C.shape[0] != m or C.shape[1] != n:
        raise ValueError("gemm: shapes do not match")
    if not (_is_c_contiguous(A) and _is_c_contiguous(B) and _is_c_contiguous(C)):
        raise ValueError("gemm: arrays must be C-contiguous")
    if m == 0 or n == 0:
        return
    if k == 0:
        C[:, :] = 0
        return
    # BLAS is column-major: row-major C is Cᵀ = op(B)ᵀ op(A)ᵀ, and a row-major
    # M is, to BLAS, Mᵀ with leading dimension M.shape[1]. So B goes first, and
    # each operand is transposed for BLAS exactly when it is not for us.
    T, N = 84, 78  # 'T', 'N'
    _call_gemm(T if transpose_b else N, T if transpose_a else N, n, m, k, B, max(B.shape[1], 1),
               A, max(A.shape[1], 1), C, max(n, 1))


# --------------------------------------------------------------------------
# Activations: each value beside its derivative (expressed through z = h(a),
# as scikit-learn does, so the backward pass needs only the stored outputs).
# --------------------------------------------------------------------------
@njit(**_JIT)
def activate(A, code):
    """Apply the activation ``code`` to A in place: z = h(a).

    Parameters
    ----------
    A : ndarray of shape (n_rows, n_units)
        Pre-activations aˡ; overwritten by zˡ.
    code : int
        One of IDENTITY, LOGISTIC, TANH, RELU, SOFTMAX, EXP.
    """
    n, m = A.shape
    if code == IDENTITY:
        return
    elif code == RELU:  # h(a) = max(0, a)
        for i in range(n):
            for j in range(m):
                if A[i, j] < 0:
                    A[i, j] = 0
    elif code == TANH:  # h(a) = tanh(a)
        for i in range(n):
            for j in range(m):
                A[i, j] = _vecmath.tanh(A[i, j])
    elif code == LOGISTIC:  # h(a) = σ(a) = 1 / (1 + e^{−a})
        for i in range(n):
            for j in range(m):
                A[i, j] = _vecmath.logistic(A[i, j])
    elif code == EXP:  # μ = exp(a), the Poisson log-link inverse
        for i in range(n):
            for j in range(m):
                A[i, j] = _vecmath.exp(A[i, j])
    elif code == SOFTMAX:  # softmax(a)_k = e^{a_k − max a} / Σ_j e^{a_j − max a}
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
            flat[k] = _vecmath.exp(flat[k])
        for i in range(n):
            total = 0.0
            for j in range(m):
                total += A[i, j]  # in order: no fastmath here
            for j in range(m):
                A[i, j] = A[i, j] / total


@njit(**_JIT)
def multiply_by_derivative(Z, D, code):
    """D ⊙= h′(a), with h′ written through z = h(a).

    identity: 1;  logistic: z(1 − z);  tanh: 1 − z²;  relu: 1[z > 0].

    Parameters
    ----------
    Z : ndarray of shape (n_rows, n_units)
        Stored activations zˡ of a hidden layer.
    D : ndarray of shape (n_rows, n_units)
        Back-propagated signal δˡ⁺¹(Wˡ⁺¹)ᵀ; modified in place into δˡ.
    code : int
        Hidden activation code.
    """
    n, m = Z.shape
    if code == IDENTITY:
        return
    elif code == RELU:
        for i in range(n):
            for j in range(m):
                if Z[i, j] == 0:
                    D[i, j] = 0
    elif code == TANH:
        for i in range(n):
            for j in range(m):
                D[i, j] *= 1 - Z[i, j] * Z[i, j]
    elif code == LOGISTIC:
        for i in range(n):
            for j in range(m):
                D[i, j] *= Z[i, j] * (1 - Z[i, j])


# --------------------------------------------------------------------------
# Output layer: the canonical-link delta and the loss of each sample.
# --------------------------------------------------------------------------
@njit(**_JIT)
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


# --------------------------------------------------------------------------
# Views into the flat buffers.
# --------------------------------------------------------------------------
@njit(**_JIT, inline="always")
def layer_weights(theta, units, coef_off, l):
    """Wˡ as a (units[l], units[l+1]) view of the flat buffer."""
    start = coef_off[l]
    return theta[start : start + units[l] * units[l + 1]].reshape((units[l], units[l + 1]))


@njit(**_JIT, inline="always")
def layer_bias(theta, units, int_off, l):
    """bˡ as a (units[l+1],) view of the flat buffer."""
    start = int_off[l]
    return theta[start : start + units[l + 1]]


@njit(**_JIT, inline="always")
def layer_rows(buf, units, row_off, l, b):
    """The first b rows of layer l's (batch, units[l]) block in a workspace."""
    start = row_off[l]
    return buf[start : start + b * units[l]].reshape((b, units[l]))


@njit(**_JIT)
def workspace_offsets(units, batch_size):
    """Start of each layer's (batch_size, units[l]) block in a workspace buffer.

    Returns
    -------
    row_off : ndarray of shape (n_layers + 1,)
        ``row_off[l]`` is where layer l starts; ``row_off[-1]`` is the size.
    """
    row_off = np.zeros(units.shape[0] + 1, dtype=np.int64)
    for l in range(units.shape[0]):
        row_off[l + 1] = row_off[l] + units[l] * batch_size
    return row_off


# --------------------------------------------------------------------------
# Forward and backward pass over one batch.
# --------------------------------------------------------------------------
@njit(**_JIT)
def gather_rows(X, rows, out):
    """out[i] = X[rows[i]]: copy a batch of dense samples into the workspace."""
    n_features = X.shape[1]
    for i in range(rows.shape[0]):
        r = rows[i]
        for j in range(n_features):
            out[i, j] = X[r, j]


@njit(**_JIT)
def forward_pass(X, X_data, X_indices, X_indptr, is_sparse, rows, theta, units,
                 coef_off, int_off, hidden_code, out_code, acts, row_off, in_place):
    """Forward pass of a batch: z⁰ = x, aˡ = zˡ⁻¹Wˡ + bˡ, zˡ = h(aˡ).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Dense input (a (0, n_features) placeholder when ``is_sparse``).
    X_data, X_indices, X_indptr : ndarray
        CSR input when ``is_sparse`` (empty placeholders otherwise).
    is_sparse : bool
    rows : ndarray of shape (b,)
        Samples of the batch.
    theta : ndarray of shape (n_params,)
        Flat parameters.
    units : ndarray of shape (n_layers,)
        Layer widths, input first.
    coef_off, int_off : ndarray of shape (n_layers - 1,)
        Starts of Wˡ and bˡ in theta.
    hidden_code, out_code : int
        Activation codes.
    acts : ndarray
        Workspace; on return layer l's block holds zˡ for the b rows (for
        l ≥ 1, and for l = 0 when dense and not ``in_place``).
    row_off : ndarray of shape (n_layers + 1,)
        Block starts in ``acts`` (see ``workspace_offsets``).
    in_place : bool
        True only when ``rows`` are consecutive (rows[0], rows[0] + 1, …), as in
        prediction: the first product then reads dense rows from X in place
        instead of copying them into the workspace, so z⁰ is not in ``acts``
        and the backward pass must not follow.
    """
    b = rows.shape[0]
    n_layers = units.shape[0]
    if not is_sparse and not in_place:
        gather_rows(X, rows, layer_rows(acts, units, row_off, 0, b))
    for l in range(n_layers - 1):
        W = layer_weights(theta, units, coef_off, l)
        bias = layer_bias(theta, units, int_off, l)
        A = layer_rows(acts, units, row_off, l + 1, b)
        if l == 0 and not is_sparse and in_place:
            gemm(X[rows[0] : rows[0] + b], W, A, _NO, _NO)
        elif l == 0 and is_sparse:
            A[:, :] = 0
            for i in range(b):
                r = rows[i]
                for p in range(X_indptr[r], X_indptr[r + 1]):
                    v = X_data[p]
                    Wj = W[X_indices[p]]
                    for k in range(A.shape[1]):
                        A[i, k] += v * Wj[k]
        else:
            gemm(layer_rows(acts, units, row_off, l, b), W, A, _NO, _NO)
        for i in range(b):
            for k in range(A.shape[1]):
                A[i, k] += bias[k]
        activate(A, out_code if l == n_layers - 2 else hidden_code)


@njit(**_JIT)
def backward_pass(X_data, X_indices, X_indptr, is_sparse, rows, theta, units,
                  coef_off, int_off, hidden_code, acts, deltas, row_off, grad):
    """δ-recursion of a batch whose output delta δᴸ is already in ``deltas``.

    Writes the *raw* gradient: ∇Wˡ = (zˡ⁻¹)ᵀδˡ and ∇bˡ = Σ_rows δˡ, with the
    sample weights already inside δᴸ, and neither the L2 term nor the
    division by Σ sᵢ (see ``finish_gradient``).

    Parameters
    ----------
    deltas : ndarray
        Workspace laid out like ``acts``; layer l's block receives δˡ.
    grad : ndarray of shape (n_params,)
        Output, laid out like theta; overwritten.
    (others as in ``forward_pass``)
    """
    b = rows.shape[0]
    n_layers = units.shape[0]
    for l in range(n_layers - 2, -1, -1):
        D = layer_rows(deltas, units, row_off, l + 1, b)
        GW = layer_weights(grad, units, coef_off, l)
        gb = layer_bias(grad, units, int_off, l)
        # ∇Wˡ = (zˡ⁻¹)ᵀ δˡ
        if l == 0 and is_sparse:
            GW[:, :] = 0
            for i in range(b):
                r = rows[i]
                Di = D[i]
                for p in range(X_indptr[r], X_indptr[r + 1]):
                    v = X_data[p]
                    Gj = GW[X_indices[p]]
                    for k in range(Di.shape[0]):
                        Gj[k] += v * Di[k]
        else:
            gemm(layer_rows(acts, units, row_off, l, b), D, GW, _YES, _NO)  # (zˡ⁻¹)ᵀ δˡ
        # ∇bˡ = Σ_rows δˡ
        gb[:] = 0
        for i in range(b):
            for k in range(D.shape[1]):
                gb[k] += D[i, k]
        if l > 0:
            # δˡ⁻¹ = h′(aˡ⁻¹) ⊙ δˡ (Wˡ)ᵀ
            D_prev = layer_rows(deltas, units, row_off, l, b)
            gemm(D, layer_weights(theta, units, coef_off, l), D_prev, _NO, _YES)  # δˡ (Wˡ)ᵀ
            multiply_by_derivative(layer_rows(acts, units, row_off, l, b), D_prev, hidden_code)


# Inlined by Numba into its two callers' parallel loops: compiled on its own,
# its code was optimised once more by LLVM than needed (cold first fit
# measured 0.5-0.6 s faster, of 9.5-10; bit-identical results, the same
# training speed). Inlining forward_pass and backward_pass too was no faster.
@njit(**_JIT, inline="always")
def batch_loss_gradient(X, X_data, X_indices, X_indptr, is_sparse, Y, sw, rows, theta,
                        units, coef_off, int_off, hidden_code, out_code, clip_eps,
                        acts, deltas, row_off, grad):
    """Forward, output delta and backward pass for one batch.

    Returns Σᵢ sᵢ ℓᵢ over the batch; ``grad`` receives the raw gradient.
    """
    b = rows.shape[0]
    n_layers = units.shape[0]
    forward_pass(X, X_data, X_indices, X_indptr, is_sparse, rows, theta, units,
                 coef_off, int_off, hidden_code, out_code, acts, row_off, False)
    weighted_loss = output_delta_and_loss(
        layer_rows(acts, units, row_off, n_layers - 1, b), Y, sw, rows, out_code,
        clip_eps, layer_rows(deltas, units, row_off, n_layers - 1, b))
    backward_pass(X_data, X_indices, X_indptr, is_sparse, rows, theta, units, coef_off,
                  int_off, hidden_code, acts, deltas, row_off, grad)
    return weighted_loss


@njit(**_JIT)
def finish_gradient(raw, theta, n_coefs, alpha, sw_sum, grad):
    """grad = (raw + α·W) / Σsᵢ for weights, raw / Σsᵢ for biases.

    This is the gradient of  Σᵢ sᵢℓᵢ / Σsᵢ + ½α‖W‖² / Σsᵢ  (scikit-learn's
    objective: the L2 term is divided by the total sample weight).

    Returns
    -------
    squared_norm : float
        ‖W‖², for the penalty term of the loss.
    """
    squared_norm = 0.0
    for k in range(n_coefs):
        w = theta[k]
        squared_norm += w * w
        grad[k] = (raw[k] + alpha * w) / sw_sum
    for k in range(n_coefs, theta.shape[0]):
        grad[k] = raw[k] / sw_sum
    return squared_norm


# --------------------------------------------------------------------------
# Optimizer steps on the flat buffer (scikit-learn's update rules).
# --------------------------------------------------------------------------
# Each range function reads the gradient as raw[k] + last[k] when ``summed``
# (the threads' raw gradients, the last one added here instead of in a pass of
# its own: on the 2-thread wide workload that pass, which writes raws[0] back
# before the update reads it again, cost ~110 of the step's ~335 µs; the
# update is bound by cache bandwidth), else as raw[k] alone. The loop is
# written twice so that neither version reads an array it does not need.
@njit(**_JIT_VECTOR, inline="always")
def _sgd_update(theta, velocity, k, w, g, lr, momentum, nesterov):
    """v ← μv − ηg;  θ ← θ + v, or with Nesterov θ ← θ + μv − ηg."""
    v = momentum * velocity[k] - lr * g
    velocity[k] = v
    if nesterov:
        theta[k] = w + (momentum * v - lr * g)
    else:
        theta[k] = w + v


@njit(**_JIT_VECTOR)
def _sgd_range(theta, raw, last, summed, velocity, alpha, inv_sw, lr, momentum, nesterov):
    """sgd on one contiguous range; returns Σθ² of the range before the step.

    All scalars have theta's dtype and the loops have no branch that depends
    on k, so LLVM vectorises them.
    """
    squared_norm = 0.0
    if summed:
        for k in range(theta.shape[0]):
            w = theta[k]
            squared_norm += w * w
            _sgd_update(theta, velocity, k, w, ((raw[k] + last[k]) + alpha * w) * inv_sw, lr,
                        momentum, nesterov)
    else:
        for k in range(theta.shape[0]):
            w = theta[k]
            squared_norm += w * w
            _sgd_update(theta, velocity, k, w, (raw[k] + alpha * w) * inv_sw, lr, momentum,
                        nesterov)
    return squared_norm


@njit(**_JIT_VECTOR, inline="always")
def _adam_update(theta, m, v, k, w, g, lr_t, beta_1, beta_2, epsilon, one_minus_beta_1,
                 one_minus_beta_2):
    """m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;  θ ← θ − η_t m / (√v + ε)."""
    mk = beta_1 * m[k] + one_minus_beta_1 * g
    vk = beta_2 * v[k] + one_minus_beta_2 * (g * g)
    m[k] = mk
    v[k] = vk
    theta[k] = w - lr_t * mk / (np.sqrt(vk) + epsilon)


@njit(**_JIT_VECTOR)
def _adam_range(theta, raw, last, summed, m, v, alpha, inv_sw, lr_t, beta_1, beta_2, epsilon,
                one_minus_beta_1, one_minus_beta_2):
    """adam on one contiguous range; returns Σθ² of the range before the step."""
    squared_norm = 0.0
    if summed:
        for k in range(theta.shape[0]):
            w = theta[k]
            squared_norm += w * w
            _adam_update(theta, m, v, k, w, ((raw[k] + last[k]) + alpha * w) * inv_sw, lr_t,
                         beta_1, beta_2, epsilon, one_minus_beta_1, one_minus_beta_2)
    else:
        for k in range(theta.shape[0]):
            w = theta[k]
            squared_norm += w * w
            _adam_update(theta, m, v, k, w, (raw[k] + alpha * w) * inv_sw, lr_t, beta_1, beta_2,
                         epsilon, one_minus_beta_1, one_minus_beta_2)
    return squared_norm


@njit(**_JIT_VECTOR)
def _sum_rows_into_first(raws):
    """raws[0] += raws[1] + … in a fixed order (the per-thread gradients)."""
    first = raws[0]
    for t in range(1, raws.shape[0]):
        other = raws[t]
        for k in range(first.shape[0]):
            first[k] += other[k]


@njit(**_JIT)
def optimizer_prepare(alpha, sw_sum, solver, learning_rate, momentum, beta_1, beta_2, epsilon,
                      step_count, scalars):
    """Set up one optimizer step: count it (adam) and cast its hyper-parameters.

    ``scalars`` (theta's dtype, shape (10,)) receives α, 1/Σs, η_t, μ, β₁, β₂,
    ε, 0, 1 − β₁, 1 − β₂ in theta's dtype, so the update loops run in float32
    for float32 models. Adam's step count t
    (``step_count[0]``) is incremented and its bias correction folded into
    the step size η_t = η √(1 − β₂ᵗ) / (1 − β₁ᵗ).
    """
    if solver == SOLVER_ADAM:
        step_count[0] += 1
        t = step_count[0]
        scalars[2] = learning_rate * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
    else:
        scalars[2] = learning_rate
    scalars[0] = alpha
    scalars[1] = 1.0 / sw_sum
    scalars[3] = momentum
    scalars[4] = beta_1
    scalars[5] = beta_2
    scalars[6] = epsilon
    scalars[7] = 0
    scalars[8] = 1 - beta_1
    scalars[9] = 1 - beta_2


@njit(**_JIT)
def optimizer_range_step(c, n_chunks, raws, theta, n_coefs, solver, nesterov, state, scalars):
    """Range ``c`` of ``n_chunks`` of one optimizer step, g = (Σₜ rawₜ + α·W)/Σs.

    sgd:   v ← μv − ηg;  θ ← θ + v, or with Nesterov θ ← θ + μv − ηg.
    adam:  m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;  θ ← θ − η_t m / (√v + ε).

    The buffer is cut into ``n_chunks`` fixed ranges (whole vectors each); the
    caller runs them in parallel after ``optimizer_prepare``. Each range sums
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
    state : ndarray of shape (n_params,) for sgd, (2 * n_params,) for adam
        Velocity v, or first then second moments m, v; updated in place.

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
    # weights [start, mid) carry the L2 term; biases [mid, stop) do not
    mid = max(start, min(stop, n_coefs))
    squared_norm = 0.0
    for part in range(2):
        lo = start if part == 0 else mid
        hi = mid if part == 0 else stop
        if lo == hi:
            continue
        alpha_part = scalars[0] if part == 0 else scalars[7]
        if solver == SOLVER_SGD:
            norm = _sgd_range(theta[lo:hi], raw[lo:hi], last[lo:hi], summed, state[lo:hi],
                              alpha_part, scalars[1], scalars[2], scalars[3], nesterov)
        else:
            norm = _adam_range(theta[lo:hi], raw[lo:hi], last[lo:hi], summed, state[lo:hi],
                               state[n + lo : n + hi], alpha_part, scalars[1], scalars[2],
                               scalars[4], scalars[5], scalars[6], scalars[8], scalars[9])
        if part == 0:
            squared_norm = norm
    return squared_norm


# --------------------------------------------------------------------------
# Whole calls: one epoch, the full-batch objective, prediction.
# Training splits each batch's rows into ``n_slices`` fixed slices (prange),
# each with its own workspace and gradient buffer, and calls BLAS on its
# slice: the estimators limit BLAS to one thread meanwhile, so exactly one
# pool of threads runs (two spinning pools on the same cores starve each other).
# The result depends on n_slices only: any number of threads may run the
# slices, and each kernel's serial twin (below) computes the same numbers.
# --------------------------------------------------------------------------
@njit(**_JIT)
def _thread_rows(n_rows, n_slices, t):
    """[lo, hi): the t-th of n_slices near-equal slices of n_rows rows."""
    return t * n_rows // n_slices, (t + 1) * n_rows // n_slices


@njit(**_JIT_PARALLEL)
def train_epoch(X, X_data, X_indices, X_indptr, is_sparse, Y, sw, order, batch_size,
                theta, units, coef_off, int_off, hidden_code, out_code, alpha, clip_eps,
                solver, learning_rate, momentum, nesterov, beta_1, beta_2, epsilon,
                state, step_count, n_slices, loss_scale, loss_start):
    """Minibatch training over ``order``, entirely compiled.

    Batches are consecutive slices of ``order`` (the epoch's sample order,
    shuffled by the caller with the estimator's random state, or a run of
    whole batches of it: an epoch may be trained in several calls with the
    same result). Each batch: forward pass and δ-recursion over its rows
    split into ``n_slices`` slices, then one optimizer step. As in
    scikit-learn, the batch objective is Σ_b sᵢℓᵢ / Σ_b sᵢ + ½α‖W‖² / Σ_b sᵢ.

    ``loss_scale`` multiplies the data part of the reported loss only (1 /
    n_outputs for multi-output squared error, scikit-learn's mean over
    outputs); the gradient is always that of the objective above.

    Returns
    -------
    loss_sum : float
        ``loss_start`` plus, batch by batch, (batch loss × batch size); over
        a whole epoch, divide by n for loss_.
    """
    n = order.shape[0]
    n_params = theta.shape[0]
    n_coefs = int_off[0]
    rows_per_slice = (batch_size + n_slices - 1) // n_slices
    row_off = workspace_offsets(units, rows_per_slice)
    acts = np.empty((n_slices, row_off[-1]), dtype=theta.dtype)
    deltas = np.empty((n_slices, row_off[-1]), dtype=theta.dtype)
    raws = np.empty((n_slices, n_params), dtype=theta.dtype)
    slice_loss = np.zeros(n_slices)
    scalars = np.empty(10, dtype=theta.dtype)
    partial_norms = np.zeros(n_slices)
    loss_sum = loss_start
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        rows = order[start:stop]
        sw_sum = 0.0
        for i in range(rows.shape[0]):
            sw_sum += sw[rows[i]]
        if sw_sum <= 0:
            continue  # a batch of zero total weight carries no gradient
        for t in prange(n_slices):
            lo, hi = _thread_rows(stop - start, n_slices, t)
            if lo == hi:
                raws[t, :] = 0
                slice_loss[t] = 0.0
            else:
                slice_loss[t] = batch_loss_gradient(
                    X, X_data, X_indices, X_indptr, is_sparse, Y, sw, rows[lo:hi], theta,
                    units, coef_off, int_off, hidden_code, out_code, clip_eps, acts[t],
                    deltas[t], row_off, raws[t])
        weighted_loss = 0.0
        for t in range(n_slices):
            weighted_loss += slice_loss[t]
        optimizer_prepare(alpha, sw_sum, solver, learning_rate, momentum, beta_1, beta_2,
                          epsilon, step_count, scalars)
        for c in prange(n_slices):
            partial_norms[c] = optimizer_range_step(c, n_slices, raws, theta, n_coefs, solver,
                                                    nesterov, state, scalars)
        squared_norm = 0.0
        for c in range(n_slices):
            squared_norm += partial_norms[c]  # weights only, in a fixed order
        batch_loss = (weighted_loss * loss_scale + 0.5 * alpha * squared_norm) / sw_sum
        loss_sum += batch_loss * (stop - start)
    return loss_sum


@njit(**_JIT_PARALLEL)
def full_loss_gradient(X, X_data, X_indices, X_indptr, is_sparse, Y, sw, theta, units,
                       coef_off, int_off, hidden_code, out_code, alpha, clip_eps,
                       chunk_size, n_slices, loss_scale, grad):
    """The full-batch objective and its gradient, in chunks of rows.

    J(θ) = Σᵢ sᵢℓᵢ / Σsᵢ + ½α‖W‖² / Σsᵢ, summed chunk by chunk so memory stays
    O(n_slices × chunk_size × width) whatever n_samples is. Slice t takes
    chunks t, t + n_slices, …; the per-slice sums are added in slice order.

    Parameters
    ----------
    loss_scale : float
        Multiplies the data part of the returned loss only (see
        ``train_epoch``); 1 gives J(θ) itself.
    grad : ndarray of shape (n_params,)
        Output: ∇J(θ), laid out like theta.

    Returns
    -------
    loss : float
        J(θ) (with ``loss_scale`` 1).
    """
    n = Y.shape[0]
    n_params = theta.shape[0]
    chunk_size = max(1, min(chunk_size, (n + n_slices - 1) // n_slices))
    n_chunks = (n + chunk_size - 1) // chunk_size
    row_off = workspace_offsets(units, chunk_size)
    acts = np.empty((n_slices, row_off[-1]), dtype=theta.dtype)
    deltas = np.empty((n_slices, row_off[-1]), dtype=theta.dtype)
    raws = np.empty((n_slices, n_params), dtype=theta.dtype)
    totals = np.zeros((n_slices, n_params))
    slice_loss = np.zeros(n_slices)
    order = np.arange(n)
    for t in prange(n_slices):
        for c in range(t, n_chunks, n_slices):
            start = c * chunk_size
            stop = min(start + chunk_size, n)
            slice_loss[t] += batch_loss_gradient(
                X, X_data, X_indices, X_indptr, is_sparse, Y, sw, order[start:stop], theta,
                units, coef_off, int_off, hidden_code, out_code, clip_eps, acts[t], deltas[t],
                row_off, raws[t])
            total = totals[t]
            raw = raws[t]
            for k in range(n_params):
                total[k] += raw[k]
    weighted_loss = 0.0
    sw_sum = 0.0
    for i in range(n):
        sw_sum += sw[i]
    for t in range(1, n_slices):
        for k in range(n_params):
            totals[0, k] += totals[t, k]
    for t in range(n_slices):
        weighted_loss += slice_loss[t]
    squared_norm = finish_gradient(totals[0], theta, int_off[0], alpha, sw_sum, grad)
    return (weighted_loss * loss_scale + 0.5 * alpha * squared_norm) / sw_sum


@njit(**_JIT)
def _predict_chunk(X, X_data, X_indices, X_indptr, is_sparse, start, stop, theta, units,
                   coef_off, int_off, hidden_code, out_code, acts, row_off, out):
    """Forward pass of rows [start, stop) into out[start:stop]."""
    rows = np.arange(start, stop)
    forward_pass(X, X_data, X_indices, X_indptr, is_sparse, rows, theta, units, coef_off,
                 int_off, hidden_code, out_code, acts, row_off, True)
    out[start:stop] = layer_rows(acts, units, row_off, units.shape[0] - 1, stop - start)


@njit(**_JIT)
def predict_outputs(X, X_data, X_indices, X_indptr, is_sparse, theta, units, coef_off,
                    int_off, hidden_code, out_code, chunk_size, out):
    """Network outputs ŷ for every sample, chunk by chunk, on the calling thread.

    For few rows (latency), and safe to call from any number of Python
    threads at once.

    Parameters
    ----------
    out : ndarray of shape (n_samples, n_outputs)
        Output, overwritten.
    """
    n = out.shape[0]
    chunk_size = max(1, min(chunk_size, n))
    row_off = workspace_offsets(units, chunk_size)
    acts = np.empty(row_off[-1], dtype=theta.dtype)
    for start in range(0, n, chunk_size):
        _predict_chunk(X, X_data, X_indices, X_indptr, is_sparse, start,
                       min(start + chunk_size, n), theta, units, coef_off, int_off,
                       hidden_code, out_code, acts, row_off, out)


@njit(**_JIT_PARALLEL)
def predict_outputs_parallel(X, X_data, X_indices, X_indptr, is_sparse, theta, units, coef_off,
                             int_off, hidden_code, out_code, chunk_size, n_slices, out):
    """``predict_outputs`` with chunks spread over ``n_slices`` parallel slices.

    Slice t takes chunks t, t + n_slices, …, each with its own workspace;
    the caller holds BLAS at one thread meanwhile (see ``train_epoch``).
    """
    n = out.shape[0]
    chunk_size = max(1, min(chunk_size, n))
    n_chunks = (n + chunk_size - 1) // chunk_size
    row_off = workspace_offsets(units, chunk_size)
    acts = np.empty((n_slices, row_off[-1]), dtype=theta.dtype)
    for t in prange(n_slices):
        for c in range(t, n_chunks, n_slices):
            _predict_chunk(X, X_data, X_indices, X_indptr, is_sparse, c * chunk_size,
                           min((c + 1) * chunk_size, n), theta, units, coef_off, int_off,
                           hidden_code, out_code, acts[t], row_off, out)


@njit(**_JIT_VECTOR)
def all_finite(a):
    """Whether the 1-D array ``a`` holds no NaN or ±inf, on the calling thread.

    x − x is 0 for finite x and NaN otherwise; the sum over a block of 4,096
    is NaN exactly when the block has a non-finite element (x − x never
    overflows). Memory-bound and vectorised; stops at the first bad block.
    """
    n = a.shape[0]
    for start in range(0, n, 4096):
        stop = min(start + 4096, n)
        block = a[start] - a[start]
        for i in range(start, stop):
            block += a[i] - a[i]
        if block != 0:
            return False
    return True


# --------------------------------------------------------------------------
# Serial twins: the parallel kernels compiled without threads (prange runs
# as range), from the same source, so they compute the same numbers for the
# same n_slices. fastbp runs them where a thread pool must not or need not
# run: one thread, off the main thread, in a forked child of a process whose
# threading layer cannot fork (see _threads.py). Each has a name of its own,
# so Numba's cache keeps it apart from its parallel original.
# --------------------------------------------------------------------------
def _serial_twin(kernel):
    py_func = kernel.py_func
    twin = FunctionType(py_func.__code__, py_func.__globals__, py_func.__name__ + "_serial",
                        py_func.__defaults__, py_func.__closure__)
    twin.__qualname__ = py_func.__qualname__ + "_serial"
    twin.__module__ = py_func.__module__
    twin.__doc__ = f"``{py_func.__name__}`` on the calling thread only (same results)."
    return njit(**_JIT)(twin)


train_epoch_serial = _serial_twin(train_epoch)
full_loss_gradient_serial = _serial_twin(full_loss_gradient)
