"""exp, tanh, the logistic function, log(1 + u) and Φ in a form that LLVM vectorises.

Inside ``@njit`` code ``np.exp`` and ``np.tanh`` call the C library once per
element: 2-20 ns each, 20-200 times the cost of a ReLU. That made tanh and
logistic networks two to three times slower to train than ReLU ones. These functions are plain
arithmetic, integer shifts and selects, inlined into the calling loop, so the
loop becomes SIMD code (measured here: 2-3 ns per element for each of the
three, against 7-19 ns for libm's logistic and tanh). Branches are written as
selects between computed values: a branch around work keeps a loop scalar.

One core does the work: e^x = 2^k (1 + q) with Cody–Waite range reduction,

    k = round(x / ln 2),   r = x − k ln 2  (|r| ≤ ½ ln 2),   q = e^r − 1,

q from its Taylor series to degree 13 (truncation error below 10⁻¹⁷, under a
tenth of float64's rounding unit), and 2^k built directly from its bits. All
arithmetic is float64 whatever the array's dtype: float64 results stay within
a few units in the last place of the correctly rounded value, and float32
results, rounded once at the store, are correctly rounded almost always.

Overflow gives inf, underflow 0, and NaN stays NaN, as with NumPy. Callers
must compile with error_model="numpy" (Python's checks for division by zero
keep a loop scalar) and without fastmath 'reassoc' (the scaling by 2^k relies
on its order).
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from .jit import INLINE


LOG2_E = 1.4426950408889634
# ln 2 split so that k · LN2_HI is exact for |k| < 2¹¹ (fdlibm's constants)
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
# Below X_MIN, e^x rounds to 0 (the smallest subnormal is e^−744.4); above
# X_MAX it overflows (the largest double is e^709.78). Clamping there keeps k
# in [−1077, 1025] and the polynomial's argument small.
X_MIN = -746.0
X_MAX = 710.0


@intrinsic
def _float64_from_bits(typingctx, bits):
    """The float64 whose IEEE-754 bit pattern is the int64 ``bits``."""
    if bits != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@njit(**INLINE)
def _pow2(k):
    """2^k for an integer k in [−1022, 1023], from its exponent bits."""
    return _float64_from_bits((k + 1023) << 52)


@njit(**INLINE)
def _reduce(x):
    """(q, k) with e^x = 2^k (1 + q), for x a float64 (NaN gives q = NaN, k = 0)."""
    # Comparisons that are False for NaN, so NaN passes through the clamps.
    x = X_MIN if x < X_MIN else x
    x = X_MAX if x > X_MAX else x
    kf = np.floor(x * LOG2_E + 0.5)
    kf = 0.0 if kf != kf else kf  # NaN: any k will do, and int(NaN) is undefined
    r = (x - kf * LN2_HI) - kf * LN2_LO
    # q = e^r − 1 = r + r²/2! + … + r¹³/13!, by Horner's rule
    q = 1.0 / 6227020800.0
    q = q * r + 1.0 / 479001600.0
    q = q * r + 1.0 / 39916800.0
    q = q * r + 1.0 / 3628800.0
    q = q * r + 1.0 / 362880.0
    q = q * r + 1.0 / 40320.0
    q = q * r + 1.0 / 5040.0
    q = q * r + 1.0 / 720.0
    q = q * r + 1.0 / 120.0
    q = q * r + 1.0 / 24.0
    q = q * r + 1.0 / 6.0
    q = q * r + 0.5
    q = q * r + 1.0
    q = q * r
    return q, np.int64(kf)


@njit(**INLINE)
def exp(x):
    """e^x in float64."""
    q, k = _reduce(np.float64(x))
    # 2^k in two factors, each a normal double for every k that _reduce gives;
    # multiplied in this order, the only rounding is the final product's.
    k_half = k >> 1
    return (1.0 + q) * _pow2(k_half) * _pow2(k - k_half)


@njit(**INLINE)
def expm1_nonpositive(x):
    """e^x − 1 for x ≤ 0 (or NaN), accurate also near 0 where e^x − 1 ≈ x."""
    q, k = _reduce(np.float64(x))
    s = _pow2(k if k > -1022 else -1022)  # below 2^−1022, e^x − 1 is −1 to double precision
    scaled = s * q + (s - 1.0)  # 2^k(1 + q) − 1, with s − 1 exact
    return q if k == 0 else scaled


@njit(**INLINE)
def log1p_unit(u):
    """log(1 + u) for 0 ≤ u ≤ 1, as plain arithmetic (no libm call).

    log(1 + u) = 2 atanh(s) with s = u / (2 + u) ≤ ⅓, and atanh(s) =
    s Σₖ s²ᵏ / (2k + 1); 18 terms (k ≤ 17) leave a truncation error below
    10⁻¹⁹. The polynomial is written out so that the calling loop stays SIMD.
    """
    x = np.float64(u)
    s = x / (2.0 + x)
    t = s * s
    p = 1.0 / 35
    p = 1.0 / 33 + t * p
    p = 1.0 / 31 + t * p
    p = 1.0 / 29 + t * p
    p = 1.0 / 27 + t * p
    p = 1.0 / 25 + t * p
    p = 1.0 / 23 + t * p
    p = 1.0 / 21 + t * p
    p = 1.0 / 19 + t * p
    p = 1.0 / 17 + t * p
    p = 1.0 / 15 + t * p
    p = 1.0 / 13 + t * p
    p = 1.0 / 11 + t * p
    p = 1.0 / 9 + t * p
    p = 1.0 / 7 + t * p
    p = 1.0 / 5 + t * p
    p = 1.0 / 3 + t * p
    return 2.0 * s * (1.0 + t * p)


@njit(**INLINE)
def tanh(x):
    """tanh x = −t / (2 + t) with t = e^{−2|x|} − 1, and the sign of x."""
    a = np.float64(x)
    t = expm1_nonpositive(-2.0 * abs(a))
    y = -t / (2.0 + t)
    return np.copysign(y, a)  # odd, and tanh(−0) = −0


@njit(**INLINE)
def logistic(x):
    """σ(x) = 1 / (1 + e^{−x}), through e^{−|x|} ≤ 1 so nothing overflows."""
    a = np.float64(x)
    e = exp(-abs(a))
    numerator = 1.0 if a >= 0 else e  # σ(x) = 1/(1 + e^{−x}), σ(−x) = e^{−x}/(1 + e^{−x})
    return numerator / (1.0 + e)


@njit(**INLINE)
def normal_cdf(x):
    """Φ(x) = ½ erfc(−x/√2), relative error ≤ 1.2·10⁻⁷ in both tails (float32 use).

    erfc(z) for z ≥ 0 as t·e^{−z² + P(t)} with t = 1/(1 + z/2) and P a
    degree-9 polynomial (the Chebyshev fit of Numerical Recipes' erfcc);
    Φ(x) = ½ erfc(|x|/√2) for x < 0, 1 − that for x ≥ 0, as a select.
    """
    a = np.float64(x)
    z = abs(a) * 0.7071067811865476
    t = 1.0 / (1.0 + 0.5 * z)
    p = 0.17087277
    p = -0.82215223 + t * p
    p = 1.48851587 + t * p
    p = -1.13520398 + t * p
    p = 0.27886807 + t * p
    p = -0.18628806 + t * p
    p = 0.09678418 + t * p
    p = 0.37409196 + t * p
    p = 1.00002368 + t * p
    p = -1.26551223 + t * p
    half_erfc = 0.5 * t * exp(-z * z + p)
    return half_erfc if a < 0 else 1.0 - half_erfc


# ---------------------------------------------------------------------------
# float32 arithmetic for the activations fastbp adds to scikit-learn's
# (elu, softplus, gelu, silu) in float32 networks: eight lanes per AVX2
# register instead of float64's four. Each function is within a few float32
# units in the last place (test_vecmath); tanh and logistic keep their
# float64 forms above, so that models of scikit-learn's activations keep
# their bits.
# ---------------------------------------------------------------------------
@intrinsic
def _float32_from_bits(typingctx, bits):
    """The float32 whose IEEE-754 bit pattern is the low 32 bits of the integer ``bits``.

    (Numba computes integers at 64 bits; LLVM narrows the arithmetic
    feeding this truncation back to 32-bit lanes.)"""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        value = args[0]
        if value.type.width != 32:
            value = builder.trunc(value, ir.IntType(32))
        return builder.bitcast(value, ir.FloatType())

    return types.float32(bits), codegen


_F = np.float32
_LOG2_E_32 = _F(1.442695)
_LN2_HI_32 = _F(0.693145751953125)  # 11 significant bits: k · _LN2_HI_32 exact for |k| < 2¹²
_LN2_LO_32 = _F(1.4286068203094172e-06)
_X_MIN_32 = _F(-104.0)  # e^−104 is below float32's smallest subnormal
_X_MAX_32 = _F(89.0)  # e^89 overflows float32
_ONE_32, _HALF_32, _ZERO_32 = _F(1.0), _F(0.5), _F(0.0)
_C2, _C3, _C4, _C5, _C6, _C7 = (_F(1.0 / 2), _F(1.0 / 6), _F(1.0 / 24), _F(1.0 / 120),
                                _F(1.0 / 720), _F(1.0 / 5040))


@njit(**INLINE)
def _reduce_32(x):
    """(q, k) with e^x = 2^k (1 + q) in float32 (degree-7 Taylor q, error < 10⁻⁸)."""
    x = _X_MIN_32 if x < _X_MIN_32 else x
    x = _X_MAX_32 if x > _X_MAX_32 else x
    kf = np.floor(x * _LOG2_E_32 + _HALF_32)
    kf = _ZERO_32 if kf != kf else kf
    r = (x - kf * _LN2_HI_32) - kf * _LN2_LO_32
    q = _C7
    q = q * r + _C6
    q = q * r + _C5
    q = q * r + _C4
    q = q * r + _C3
    q = q * r + _C2
    q = q * r + _ONE_32
    q = q * r
    return q, np.int32(kf)


@njit(**INLINE)
def _pow2_32(k):
    """2^k for an integer k in [−126, 127]."""
    return _float32_from_bits((k + 127) << 23)


@njit(**INLINE)
def exp32(x):
    """e^x for a float32 x, in float32."""
    q, k = _reduce_32(x)
    k_half = k >> 1
    return (_ONE_32 + q) * _pow2_32(k_half) * _pow2_32(k - k_half)


@njit(**INLINE)
def expm1_nonpositive_32(x):
    """e^x − 1 for a float32 x ≤ 0, accurate near 0."""
    q, k = _reduce_32(x)
    s = _pow2_32(k if k > -126 else -126)
    scaled = s * q + (s - _ONE_32)
    return q if k == 0 else scaled


_L3, _L5, _L7, _L9, _L11, _L13, _L15 = (_F(1.0 / 3), _F(1.0 / 5), _F(1.0 / 7), _F(1.0 / 9),
                                        _F(1.0 / 11), _F(1.0 / 13), _F(1.0 / 15))
_TWO_32 = _F(2.0)


@njit(**INLINE)
def log1p_unit_32(u):
    """log(1 + u) for a float32 0 ≤ u ≤ 1: 2 atanh(u / (2 + u)), 8 terms (error < 10⁻⁸)."""
    s = u / (_TWO_32 + u)
    t = s * s
    p = _L15
    p = _L13 + t * p
    p = _L11 + t * p
    p = _L9 + t * p
    p = _L7 + t * p
    p = _L5 + t * p
    p = _L3 + t * p
    return _TWO_32 * s * (_ONE_32 + t * p)


_SQRT_HALF_32 = _F(0.70710678)
_ERFC = tuple(_F(c) for c in (0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807,
                              -0.18628806, 0.09678418, 0.37409196, 1.00002368, -1.26551223))


@njit(**INLINE)
def normal_cdf_32(x):
    """Φ(x) for a float32 x, in float32 (``normal_cdf``'s formula)."""
    z = abs(x) * _SQRT_HALF_32
    t = _ONE_32 / (_ONE_32 + _HALF_32 * z)
    p = _ERFC[0]
    p = _ERFC[1] + t * p
    p = _ERFC[2] + t * p
    p = _ERFC[3] + t * p
    p = _ERFC[4] + t * p
    p = _ERFC[5] + t * p
    p = _ERFC[6] + t * p
    p = _ERFC[7] + t * p
    p = _ERFC[8] + t * p
    p = _ERFC[9] + t * p
    half_erfc = _HALF_32 * t * exp32(-z * z + p)
    return half_erfc if x < _ZERO_32 else _ONE_32 - half_erfc


@njit(**INLINE)
def logistic_32(x):
    """σ(x) for a float32 x, in float32, through e^{−|x|} ≤ 1."""
    e = exp32(-abs(x))
    numerator = _ONE_32 if x >= _ZERO_32 else e
    return numerator / (_ONE_32 + e)
