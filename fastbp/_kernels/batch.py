"""The maths of one batch: matrix products, the forward pass, the δ-recursion.

    forward     z⁰ = x,   aˡ = zˡ⁻¹ Wˡ + bˡ,   zˡ = h(aˡ)
    backward    δᴸ = ŷ − t                      (canonical output/loss pairs)
                δˡ = h′(aˡ) ⊙ δˡ⁺¹ (Wˡ⁺¹)ᵀ
    gradients   ∇Wˡ = (zˡ⁻¹)ᵀ δˡ,   ∇bˡ = Σ_rows δˡ

    dropout     zˡ ← zˡ ⊙ mˡ / (1 − pˡ),   δˡ = h′(aˡ) ⊙ mˡ / (1 − pˡ) ⊙ δˡ⁺¹ (Wˡ⁺¹)ᵀ

Rows are samples, so Wˡ has shape (fan_in, fan_out) as scikit-learn's
``coefs_``. Small float32 layers multiply by register tiles (``tiles.py``):
the forward pass then completes each block of EPILOGUE_ROWS rows (product
with the bias, activation, dropout) while it is in the core's cache, and
∇Wˡ comes from the same tiles; other layers call BLAS ?gemm.

A batch's activations and deltas live in workspaces: one flat
buffer per batch, layer l's (b, units[l]) block at ``row_off[l]``. A third
workspace, ``keep``, holds the factor gˡ = h′(aˡ) ⊙ mˡ / (1 − pˡ) that the
backward pass multiplies by, for the layers where it is not had from z:
gelu, silu and softplus layers, and every layer with dropout.

The dropout mask mˡᵢₖ is a hash of (the epoch's seed, the layer, the
sample's index i in X, the unit k): the masks depend on the random state
only, never on batch boundaries or threads.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from . import blas
from .activations import activate, activate_and_derivative, multiply_by_derivative, \
    output_delta_and_loss, stores_derivative
from .jit import INLINE, JIT
from .tiles import EPILOGUE_ROWS, is_c_contiguous, tiled_product, use_tiles

# The symbols fastbp_sgemm / fastbp_dgemm, which the products below call by
# name, must be bound before any kernel is compiled or loaded from the cache.
blas.bind()


# --------------------------------------------------------------------------
# Matrix products: BLAS ?gemm, called by name (see blas.py for the backend).
# --------------------------------------------------------------------------
@intrinsic
def _call_gemm(typingctx, trans_a, trans_b, m, n, k, A, lda, B, ldb, C, ldc):
    """Fortran ?gemm(transa, transb, m, n, k, 1, A, lda, B, ldb, 0, C, ldc).

    Fortran takes every argument by reference: each scalar goes into a stack
    slot of the calling function (no allocation per call), and the symbol
    ``fastbp_sgemm`` / ``fastbp_dgemm`` (bound in blas.py) is called by name.
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


@njit(**JIT)
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
    if not (is_c_contiguous(A) and is_c_contiguous(B) and is_c_contiguous(C)):
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


# Prediction of this many rows or fewer multiplies by plain loops: a BLAS
# ?gemm call of one row costs microseconds of set-up (and on some CPUs a copy
# of the whole weight matrix) for what is a matrix-vector product read once.
SMALL_PRODUCT_ROWS = 8


@njit(**INLINE)
def _small_product(Z, W, A):
    """A = Z W for few rows of Z: each row a sum of W's rows, over A's row in SIMD."""
    for i in range(Z.shape[0]):
        Ai = A[i]
        Ai[:] = 0
        for k in range(W.shape[0]):
            z = Z[i, k]
            Wk = W[k]
            for j in range(Ai.shape[0]):
                Ai[j] += z * Wk[j]


# --------------------------------------------------------------------------
# Views into the flat buffers.
# --------------------------------------------------------------------------
@njit(**INLINE)
def layer_weights(theta, net, l):
    """Wˡ as a (units[l], units[l+1]) view of ``theta`` (laid out as ``net.theta``)."""
    units = net.units
    start = net.coef_off[l]
    return theta[start : start + units[l] * units[l + 1]].reshape((units[l], units[l + 1]))


@njit(**INLINE)
def layer_bias(theta, net, l):
    """bˡ as a (units[l+1],) view of ``theta`` (laid out as ``net.theta``)."""
    start = net.int_off[l]
    return theta[start : start + net.units[l + 1]]


@njit(**INLINE)
def layer_rows(buf, units, row_off, l, b):
    """The first b rows of layer l's (batch, units[l]) block in a workspace."""
    start = row_off[l]
    return buf[start : start + b * units[l]].reshape((b, units[l]))


@njit(**JIT)
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
# Dropout masks: counter-based hashes, vectorisable (no random state to carry).
# --------------------------------------------------------------------------
# A row's key: splitmix64's finaliser over (seed, layer, sample); a unit's
# number: the 32-bit "lowbias32" mixer over (row key + unit · golden ratio),
# in 32-bit lanes (eight per AVX2 register), all in uint64 arithmetic.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_GOLDEN_32 = np.uint64(0x9E3779B9)
_LOW_1 = np.uint64(0x7FEB352D)
_LOW_2 = np.uint64(0x846CA68B)
_MASK_32 = np.uint64(0xFFFFFFFF)
_S15, _S16, _S27, _S30, _S31 = (np.uint64(n) for n in (15, 16, 27, 30, 31))


@njit(**INLINE)
def _mix(x):
    x = (x ^ (x >> _S30)) * _MIX_1
    x = (x ^ (x >> _S27)) * _MIX_2
    return x ^ (x >> _S31)


@njit(**INLINE)
def _mix_32(x):
    """lowbias32 of x < 2³² (products kept to 32 bits)."""
    x = ((x ^ (x >> _S16)) * _LOW_1) & _MASK_32
    x = ((x ^ (x >> _S15)) * _LOW_2) & _MASK_32
    return x ^ (x >> _S16)


@njit(**INLINE)
def dropout_row_key(seed, layer, sample):
    """The key of one sample's row of one layer's mask: a uint64 below 2³²."""
    return _mix(_mix(np.uint64(seed) + np.uint64(layer + 1) * _GOLDEN)
                + np.uint64(sample + 1) * _GOLDEN) & _MASK_32


@njit(**INLINE)
def dropout_number(row_key, unit):
    """A uniform integer in [0, 2³²) for (row key, unit): dropped if below p · 2³²."""
    return _mix_32((np.uint64(row_key) + np.uint64(unit + 1) * _GOLDEN_32) & _MASK_32)


@njit(**INLINE)
def dropout_threshold(rate):
    """p · 2³² rounded down: the numbers below it are dropped (p < 1)."""
    return np.uint64(rate * 4294967296.0)


@njit(**INLINE)
def _apply_dropout(Z, G, rows, layer, rate, seed):
    """Z and G ⊙= mask / (1 − p); row i is sample rows[i]."""
    scale = Z.dtype.type(1.0 / (1.0 - rate))
    zero = Z.dtype.type(0)
    threshold = dropout_threshold(rate)
    for i in range(Z.shape[0]):
        key = dropout_row_key(seed, layer, rows[i])
        for k in range(Z.shape[1]):
            factor = scale if dropout_number(key, k) >= threshold else zero
            Z[i, k] *= factor
            G[i, k] *= factor


# --------------------------------------------------------------------------
# Forward and backward pass over one batch.
# --------------------------------------------------------------------------
@njit(**JIT)
def gather_rows(X, rows, out):
    """out[i] = X[rows[i]]: copy a batch of dense samples into the workspace."""
    n_features = X.shape[1]
    for i in range(rows.shape[0]):
        r = rows[i]
        for j in range(n_features):
            out[i, j] = X[r, j]


@njit(**JIT)
def forward_pass(data, rows, net, acts, row_off, in_place, keep, dropout, seed):
    """Forward pass of a batch: z⁰ = x, aˡ = zˡ⁻¹Wˡ + bˡ, zˡ = h(aˡ).

    Parameters
    ----------
    data : KernelData
        The input (dense, or CSR); only the first layer reads it.
    rows : ndarray of shape (b,)
        Samples of the batch.
    net : KernelNetwork
        Parameters, layout and activations.
    acts : ndarray
        Workspace; on return layer l's block holds zˡ for the b rows (for
        l ≥ 1, and for l = 0 when dense and not ``in_place``).
    row_off : ndarray of shape (n_layers + 1,)
        Block starts in ``acts`` (see ``workspace_offsets``).
    in_place : bool
        True only when ``rows`` are consecutive (rows[0], rows[0] + 1, …), as in
        prediction: the first product then reads dense rows from X in place
        instead of copying them into the workspace, so z⁰ is not in ``acts``
        and the backward pass must not follow. Up to SMALL_PRODUCT_ROWS rows
        are then multiplied without BLAS.
    keep : ndarray
        Workspace laid out like ``acts`` for a backward pass to follow (it
        receives gˡ = h′(aˡ) ⊙ mask of the layers that need it, see the
        module docstring), or empty (prediction: nothing kept).
    dropout : ndarray of shape (n_layers - 1,), or empty
        Dropout rate of each layer's output (hidden layers only; empty or
        zeros: none).
    seed : int
        The masks' seed (see ``dropout_row_key``).
    """
    X = data.X
    units = net.units
    b = rows.shape[0]
    n_layers = units.shape[0]
    if not data.is_sparse and not in_place:
        gather_rows(X, rows, layer_rows(acts, units, row_off, 0, b))
    for l in range(n_layers - 1):
        W = layer_weights(net.theta, net, l)
        bias = layer_bias(net.theta, net, l)
        A = layer_rows(acts, units, row_off, l + 1, b)
        code = net.codes[l]
        rate = dropout[l] if dropout.shape[0] > 0 else 0.0
        # gˡ = h′(aˡ) (⊙ mask) kept for the backward pass, or nothing
        G = A[:0]
        if keep.shape[0] > 0 and l < n_layers - 2 and (rate > 0 or stores_derivative(code)):
            G = layer_rows(keep, units, row_off, l + 1, b)
        small = in_place and b <= SMALL_PRODUCT_ROWS
        dense_in_place = l == 0 and not data.is_sparse and in_place
        sparse_input = l == 0 and data.is_sparse
        tiled = not small and not sparse_input and use_tiles(units[l], units[l + 1], A.itemsize)
        if dense_in_place:
            Z = X[rows[0] : rows[0] + b]
        else:
            Z = layer_rows(acts, units, row_off, l, b)  # (unread when sparse_input)
        if tiled:
            pass  # product and bias block by block below
        elif sparse_input:
            A[:, :] = 0
            for i in range(b):
                r = rows[i]
                for p in range(data.X_indptr[r], data.X_indptr[r + 1]):
                    v = data.X_data[p]
                    Wj = W[data.X_indices[p]]
                    for k in range(A.shape[1]):
                        A[i, k] += v * Wj[k]
        elif small:
            _small_product(Z, W, A)
        else:
            gemm(Z, W, A, _NO, _NO)
        if not tiled:
            for i in range(b):
                for k in range(A.shape[1]):
                    A[i, k] += bias[k]
        # the activation: over all rows after BLAS; after tiles, block by
        # block of rows (product with the bias, then activation, while the
        # block is in the core's cache)
        step = EPILOGUE_ROWS if tiled else max(b, 1)
        for i0 in range(0, b, step):
            i1 = min(i0 + step, b)
            if tiled:
                tiled_product(Z[i0:i1], _NO, W, A[i0:i1], bias)
            _layer_epilogue(A[i0:i1], G[i0:i1] if G.shape[0] > 0 else G, code, rate,
                            rows[i0:i1], l, seed)


@njit(**INLINE)
def _layer_epilogue(A, G, code, rate, rows, layer, seed):
    """zˡ = h(aˡ) in place of A; with G not empty, also G = h′(aˡ) ⊙ mˡ / (1 − pˡ).

    Without G (prediction, the output layer, layers that need no stored
    derivative) dropout does not apply: the caller passes G exactly when
    the training forward pass has a rate or a stored derivative here.
    """
    if G.shape[0] == 0:
        activate(A, code)
        return
    activate_and_derivative(A, G, code)  # zˡ, and gˡ = h′(aˡ)
    if rate > 0:
        _apply_dropout(A, G, rows, layer, rate, seed)  # both ⊙ mˡ / (1 − pˡ)


@njit(**INLINE)
def _multiply(D, G):
    for i in range(D.shape[0]):
        for k in range(D.shape[1]):
            D[i, k] *= G[i, k]


@njit(**JIT)
def backward_pass(data, rows, net, acts, deltas, row_off, grad, keep, dropout, seed):
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
    keep, dropout, seed
        As given to the batch's ``forward_pass``.
    (others as in ``forward_pass``)
    """
    units = net.units
    b = rows.shape[0]
    n_layers = units.shape[0]
    for l in range(n_layers - 2, -1, -1):
        D = layer_rows(deltas, units, row_off, l + 1, b)
        GW = layer_weights(grad, net, l)
        gb = layer_bias(grad, net, l)
        # ∇Wˡ = (zˡ⁻¹)ᵀ δˡ
        if l == 0 and data.is_sparse:
            GW[:, :] = 0
            for i in range(b):
                r = rows[i]
                Di = D[i]
                for p in range(data.X_indptr[r], data.X_indptr[r + 1]):
                    v = data.X_data[p]
                    Gj = GW[data.X_indices[p]]
                    for k in range(Di.shape[0]):
                        Gj[k] += v * Di[k]
        elif use_tiles(units[l], units[l + 1], GW.itemsize):
            tiled_product(layer_rows(acts, units, row_off, l, b), _YES, D, GW, GW[0, :0])
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
            gemm(D, layer_weights(net.theta, net, l), D_prev, _NO, _YES)  # δˡ (Wˡ)ᵀ
            code = net.codes[l - 1]
            rate = dropout[l - 1] if dropout.shape[0] > 0 else 0.0
            if rate > 0 or stores_derivative(code):
                _multiply(D_prev, layer_rows(keep, units, row_off, l, b))  # ⊙ gˡ⁻¹
            else:
                multiply_by_derivative(layer_rows(acts, units, row_off, l, b), D_prev, code)


# Inlined by Numba into its two callers' parallel loops: compiled on its own,
# its code was optimised once more by LLVM than needed (cold first fit
# measured 0.5-0.6 s faster, of 9.5-10; bit-identical results, the same
# training speed). Inlining forward_pass and backward_pass too was no faster.
@njit(**INLINE)
def batch_loss_gradient(data, targets, rows, net, objective, acts, deltas, keep, row_off, grad,
                        dropout, seed):
    """Forward, output delta and backward pass for one batch.

    Returns Σᵢ sᵢ ℓᵢ over the batch; ``grad`` receives the raw gradient.
    ``objective`` (a KernelObjective) gives the loss and its settings;
    ``dropout`` (rates per layer, or empty) and ``seed`` the masks.
    """
    b = rows.shape[0]
    n_layers = net.units.shape[0]
    forward_pass(data, rows, net, acts, row_off, False, keep, dropout, seed)
    weighted_loss = output_delta_and_loss(
        layer_rows(acts, net.units, row_off, n_layers - 1, b), targets.Y, targets.sw, rows,
        objective.loss_code, objective.clip_eps, objective.huber_delta,
        layer_rows(deltas, net.units, row_off, n_layers - 1, b))
    backward_pass(data, rows, net, acts, deltas, row_off, grad, keep, dropout, seed)
    return weighted_loss


@njit(**JIT)
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
