"""Register-blocked matrix products for small layers: no BLAS call per product.

A layer of a small network is a product of a few hundred thousand
multiply-adds; a BLAS ``?gemm`` call spends a measurable part of that on
argument checks, dispatch and packing, and its result still needs a pass
for the bias. Here each product runs as tiles computed in registers:

    C[i0:i0+R, j0:j0+V·L] = init + Σₚ op(A)[i0:i0+R, p] · B[p, j0:j0+V·L]

R rows of op(A) times V vectors of L lanes of B, the R·V accumulators held
in vector registers across the whole sum over p (one load of B's V vectors
and R broadcasts of A per p, R·V fused multiply-adds). ``init`` is zero, or
the bias row bᵀ repeated (the forward pass's aˡ = zˡ⁻¹Wˡ + bˡ in one pass).
The last columns of a row use masked loads and stores, and the last rows
of a matrix read a valid row again and store nothing: no element outside
the arrays is read or written.

The tile is emitted as LLVM vector code (``_make_tile``), sized for the CPU
the kernels are compiled for: 64-byte vectors and R = 8 rows where the CPU
has AVX-512 (16 accumulators of its 32 registers), else 32-byte vectors and
R = 6 (12 of AVX2's 16); the forward and backward passes use them on
AVX-512 CPUs only (see TILES_IN_USE). LLVM's ``fmuladd`` lets each CPU fuse
the multiply-add or not, always the same way for the same compiled code, so
the result is the same run after run; it differs from BLAS's in the last
bits (another order of summation).
"""

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.core.registry import cpu_target
from numba.extending import intrinsic, overload

from .jit import INLINE, JIT


def _vector_bytes():
    """Bytes of the vector registers the kernels are compiled for (32 unless AVX-512)."""
    try:
        features = cpu_target.target_context.codegen()._tm_features
    except AttributeError:  # pragma: no cover - a Numba without it
        return 32
    return 64 if "+avx512f" in features.split(",") else 32


VECTOR_BYTES = _vector_bytes()
TILE_ROWS = 8 if VECTOR_BYTES == 64 else 6
# On CPUs with AVX-512, float32 layers with at most this many weights
# (fan_in × fan_out), and a fan_out that fills whole vectors, multiply by
# tiles; other layers by BLAS.
# float64 layers always by BLAS: there fastbp rounds as scikit-learn does
# (its products are NumPy's BLAS calls), and its parity tests hold to the
# iteration count of L-BFGS.
# Measured on a 2-core Sapphire Rapids (AVX-512) against OpenBLAS 0.3.31's
# SkylakeX kernels, training epochs of float32 and float64 (bench/phases.py):
# 256- and 128-unit layers (fan_in up to 256) trained 7-9% faster by tiles;
# a fan_out of 100 (a partial last vector in every row) was 5-12% slower,
# where OpenBLAS's own small-matrix kernels are at their best.
TILE_MAX_WEIGHTS = 40_000
# Elsewhere the tiles compute the same products correctly but are not used:
# AVX2 code (6 × 2 tiles of 32-byte vectors) on the same machine ran the
# medium layers at 64 GFLOP/s per core against OpenBLAS's Haswell kernels'
# 90, and no AVX2-only CPU was at hand to measure on.
TILES_IN_USE = VECTOR_BYTES == 64


@njit(**INLINE)
def is_c_contiguous(M):
    """Whether the 2-D array M is laid out in C order (rows contiguous, no gaps)."""
    size = M.itemsize
    if M.shape[0] == 0 or M.shape[1] == 0:
        return True  # nothing is read
    return (M.shape[1] == 1 or M.strides[1] == size) and (
        M.shape[0] == 1 or M.strides[0] == M.shape[1] * size)


def _make_tile(n_vectors):
    """The intrinsic computing one tile of TILE_ROWS rows × n_vectors vectors."""

    @intrinsic
    def tile(typingctx, A, a_off, row_step, col_step, B, b_off, ldb, C, c_off, ldc, depth,
             rows, cols, init):
        """C[c_off + r·ldc + j] = init[b_off + j] + Σₚ A[a_off + r·row_step + p·col_step]
        · B[b_off + p·ldb + j] for r < rows, j < cols, p < depth (init: an
        array of C's dtype to start from, or a size-0 one for zero)."""
        dtype = C.dtype
        sig = types.void(A, a_off, row_step, col_step, B, b_off, ldb, C, c_off, ldc, depth,
                         rows, cols, init)

        def codegen(context, builder, signature, args):
            i64 = ir.IntType(64)
            i32 = ir.IntType(32)
            lanes = VECTOR_BYTES // (4 if dtype == types.float32 else 8)
            scalar = context.get_value_type(dtype)
            vector = ir.VectorType(scalar, lanes)
            vector_ptr = vector.as_pointer()
            mask_type = ir.VectorType(ir.IntType(1), lanes)
            suffix = f"v{lanes}{'f32' if dtype == types.float32 else 'f64'}"
            masked_load = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vector, [vector_ptr, i32, mask_type, vector]),
                f"llvm.masked.load.{suffix}.p0")
            masked_store = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [vector, vector_ptr, i32,
                                                                mask_type]),
                f"llvm.masked.store.{suffix}.p0")
            fmuladd = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vector, [vector] * 3), f"llvm.fmuladd.{suffix}")
            align = ir.Constant(i32, 4 if dtype == types.float32 else 8)  # element alignment
            zero = ir.Constant(vector, [ir.Constant(scalar, 0.0)] * lanes)

            def integer(i):
                return context.cast(builder, args[i], signature.args[i], types.int64)

            def pointer(i, offset):
                array = context.make_array(signature.args[i])(context, builder, args[i])
                return builder.gep(array.data, [offset])

            def splat(value, element_type):
                vt = ir.VectorType(element_type, lanes)
                one = builder.insert_element(ir.Constant(vt, ir.Undefined), value,
                                             ir.Constant(i32, 0))
                return builder.shuffle_vector(one, ir.Constant(vt, ir.Undefined),
                                              ir.Constant(ir.VectorType(i32, lanes), [0] * lanes))

            def load(address, mask):
                return builder.call(masked_load, [builder.bitcast(address, vector_ptr), align,
                                                  mask, zero])

            a_off, row_step, col_step, b_off, ldb, c_off, ldc, depth, rows, cols = (
                integer(i) for i in (1, 2, 3, 5, 6, 8, 9, 10, 11, 12))
            a_base, b_base, c_base = pointer(0, a_off), pointer(4, b_off), pointer(7, c_off)
            # lane j of vector v is column v·lanes + j: in the tile when below cols
            lane_index = ir.Constant(ir.VectorType(i64, lanes), [ir.Constant(i64, j)
                                                                 for j in range(lanes)])
            masks = [builder.icmp_signed("<", builder.add(lane_index, splat(
                ir.Constant(i64, v * lanes), i64)), splat(cols, i64)) for v in range(n_vectors)]
            # the accumulators start from init's columns, or zero; LLVM keeps
            # these stack slots in registers
            init_array = context.make_array(signature.args[13])(context, builder, args[13])
            has_init = builder.icmp_signed(">", builder.extract_value(init_array.shape, 0),
                                           ir.Constant(i64, 0))
            start = []
            for v in range(n_vectors):
                with builder.if_else(has_init) as (then, otherwise):
                    with then:
                        from_init = load(builder.gep(init_array.data, [builder.add(
                            b_off, ir.Constant(i64, v * lanes))]), masks[v])
                        then_block = builder.block
                    with otherwise:
                        otherwise_block = builder.block
                phi = builder.phi(vector)
                phi.add_incoming(from_init, then_block)
                phi.add_incoming(zero, otherwise_block)
                start.append(phi)
            accumulators = [[cgutils.alloca_once(builder, vector) for _ in range(n_vectors)]
                            for _ in range(TILE_ROWS)]
            for row in accumulators:
                for v in range(n_vectors):
                    builder.store(start[v], row[v])
            # rows past the last are computed from the last row and not stored
            last = builder.sub(rows, ir.Constant(i64, 1))
            a_rows = []
            for r in range(TILE_ROWS):
                index = builder.select(builder.icmp_signed("<", ir.Constant(i64, r), rows),
                                       ir.Constant(i64, r), last)
                a_rows.append(builder.gep(a_base, [builder.mul(index, row_step)]))
            with cgutils.for_range(builder, depth) as loop:
                p = loop.index
                b_row = builder.gep(b_base, [builder.mul(p, ldb)])
                b_vectors = [load(builder.gep(b_row, [ir.Constant(i64, v * lanes)]), masks[v])
                             for v in range(n_vectors)]
                a_col = builder.mul(p, col_step)
                for r in range(TILE_ROWS):
                    a = splat(builder.load(builder.gep(a_rows[r], [a_col])), scalar)
                    for v in range(n_vectors):
                        slot = accumulators[r][v]
                        builder.store(builder.call(fmuladd, [a, b_vectors[v],
                                                             builder.load(slot)]), slot)
            for r in range(TILE_ROWS):
                with builder.if_then(builder.icmp_signed("<", ir.Constant(i64, r), rows)):
                    c_row = builder.gep(c_base, [builder.mul(ir.Constant(i64, r), ldc)])
                    for v in range(n_vectors):
                        address = builder.gep(c_row, [ir.Constant(i64, v * lanes)])
                        builder.call(masked_store, [builder.load(accumulators[r][v]),
                                                    builder.bitcast(address, vector_ptr), align,
                                                    masks[v]])
            return context.get_dummy_value()

        return sig, codegen

    return tile


_tile_1 = _make_tile(1)
_tile_2 = _make_tile(2)


@njit(**INLINE)
def use_tiles(fan_in, fan_out, itemsize):
    """Whether a layer of fan_in × fan_out weights of ``itemsize`` bytes each
    multiplies by tiles (else BLAS): see TILE_MAX_WEIGHTS."""
    return (TILES_IN_USE and itemsize == 4 and fan_in * fan_out <= TILE_MAX_WEIGHTS
            and fan_out % (VECTOR_BYTES // itemsize) == 0)


@njit(**JIT)
def tile_product(A, transpose_a, B, C, init):
    """C = init + op(A) B by register tiles, where op(A) is Aᵀ if transpose_a else A.

    Parameters
    ----------
    A : ndarray of shape (m, k), or (k, m) when transpose_a
    B : ndarray of shape (k, n)
    C : ndarray of shape (m, n)
        Output, overwritten.
    init : ndarray of shape (n,), or of shape (0,)
        Added to every row of C (a bias); size 0: nothing added.

    All three matrices are C-contiguous (views of whole rows are); the
    shapes are checked here, so the tiles never read outside them.
    """
    m = A.shape[1] if transpose_a else A.shape[0]
    k = A.shape[0] if transpose_a else A.shape[1]
    n = B.shape[1]
    if B.shape[0] != k or C.shape[0] != m or C.shape[1] != n or (
            init.shape[0] != 0 and init.shape[0] != n):
        raise ValueError("tile_product: shapes do not match")
    if not (is_c_contiguous(A) and is_c_contiguous(B) and is_c_contiguous(C)):
        raise ValueError("tile_product: arrays must be C-contiguous")
    row_step, col_step = (1, A.shape[1]) if transpose_a else (A.shape[1], 1)
    lanes = VECTOR_BYTES // C.itemsize
    width = 2 * lanes
    for i0 in range(0, m, TILE_ROWS):
        rows = min(TILE_ROWS, m - i0)
        for j0 in range(0, n, width):
            cols = min(width, n - j0)
            if cols > lanes:
                _tile_2(A, i0 * row_step, row_step, col_step, B, j0, n, C, i0 * n + j0, n, k,
                        rows, cols, init)
            else:
                _tile_1(A, i0 * row_step, row_step, col_step, B, j0, n, C, i0 * n + j0, n, k,
                        rows, cols, init)


def tiled_product(A, transpose_a, B, C, init):
    """``tile_product`` where tiles are in use for C's dtype (see ``use_tiles``).

    For other dtypes, and on CPUs without AVX-512, this compiles to nothing
    (never called there): float64 kernels do not pay tile_product's compile.
    """


@overload(tiled_product, jit_options=JIT)
def _tiled_product(A, transpose_a, B, C, init):
    if TILES_IN_USE and C.dtype == types.float32:
        def product(A, transpose_a, B, C, init):
            tile_product(A, transpose_a, B, C, init)
    else:
        def product(A, transpose_a, B, C, init):
            raise AssertionError("no tiles for this dtype on this CPU")
    return product


# Rows of a layer's block that the forward pass completes (product, bias,
# activation) before the next: a block that stays in the core's L1 cache
# between its product and its activation.
EPILOGUE_ROWS = 4 * TILE_ROWS
