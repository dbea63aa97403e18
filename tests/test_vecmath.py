"""exp, tanh and the logistic function of fastbp._kernels.vecmath against NumPy.

They are checked where the kernels use them, through ``_kernels.activate``,
in units in the last place (ulp) of the reference value: over wide ranges,
near 0 (where tanh x ≈ x and cancellation would show), where exp overflows
and underflows, and at ±0, ±inf and NaN.
"""

import numpy as np
import pytest

from fastbp import _kernels

CODES = {"exp": _kernels.EXP, "tanh": _kernels.TANH, "logistic": _kernels.LOGISTIC}


def _arguments():
    rng = np.random.default_rng(0)
    tiny = np.logspace(-300, 0, 3000)
    return np.concatenate([
        rng.uniform(-800, 800, 20000),
        rng.uniform(-40, 40, 20000),
        rng.standard_normal(20000),
        rng.standard_normal(5000) * 1e-6,
        tiny, -tiny,
        # around exp's overflow (709.78) and underflow (−745.13) in float64,
        # and float32's (88.72, −103.97)
        np.linspace(709.7, 709.9, 201), np.linspace(-745.3, -744.9, 201),
        np.linspace(88.6, 88.8, 201), np.linspace(-104.1, -103.8, 201),
        [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf],
    ])


def _reference(name, x):
    """The function in float64 NumPy (at most ~1 ulp from the exact value)."""
    with np.errstate(over="ignore", under="ignore"):
        if name == "exp":
            return np.exp(x)
        if name == "tanh":
            return np.tanh(x)
        e = np.exp(-np.abs(x))  # σ(x) and σ(−x) = 1 − σ(x) through e^{−|x|}
        return np.where(x >= 0, 1.0, e) / (1.0 + e)


def _activate(name, x, dtype):
    Z = x.astype(dtype).reshape(-1, 1)
    with np.errstate(all="ignore"):
        _kernels.activate(Z, CODES[name])
    return Z.ravel()


def _ulps(got, want, dtype):
    """|got − want| in units of the spacing of ``dtype`` at ``want``."""
    floor = np.finfo(dtype).smallest_subnormal  # spacing of the subnormals
    spacing = np.maximum(np.spacing(np.abs(want).astype(dtype)), floor).astype(np.float64)
    return np.abs(got.astype(np.float64) - want.astype(np.float64)) / spacing


@pytest.mark.parametrize("name", list(CODES))
def test_float64_within_a_few_ulp(name):
    x = _arguments()
    got = _activate(name, x, np.float64)
    want = _reference(name, x)
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite], want[~finite])  # overflow gives inf
    assert _ulps(got[finite], want[finite], np.float64).max() <= 4


@pytest.mark.parametrize("name", list(CODES))
def test_float32_correctly_rounded(name):
    """float32 results are the float64 reference rounded once, to within 1 ulp."""
    x = _arguments().astype(np.float32)
    got = _activate(name, x, np.float32)
    with np.errstate(over="ignore"):
        want = _reference(name, x.astype(np.float64)).astype(np.float32)
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite], want[~finite])
    assert _ulps(got[finite], want[finite], np.float32).max() <= 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_special_values(dtype):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, 1e-30], dtype=dtype)
    exp = _activate("exp", x, dtype)
    tanh = _activate("tanh", x, dtype)
    logistic = _activate("logistic", x, dtype)
    np.testing.assert_array_equal(exp, [np.nan, np.inf, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(tanh, np.array([np.nan, 1.0, -1.0, 0.0, 1e-30], dtype=dtype))
    np.testing.assert_array_equal(logistic, [np.nan, 1.0, 0.0, 0.5, 0.5])
    # tanh is odd and keeps full relative precision near 0
    small = np.array([1e-8, 3e-5, 0.01], dtype=dtype)
    np.testing.assert_array_equal(_activate("tanh", -small, dtype), -_activate("tanh", small, dtype))
    # signed zeros pass through as numpy's tanh passes them
    negative_zero = _activate("tanh", np.array([-0.0], dtype=dtype), dtype)
    assert negative_zero[0] == 0.0 and np.signbit(negative_zero[0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_rows_match_numpy(dtype):
    rng = np.random.default_rng(1)
    A = (rng.standard_normal((37, 7)) * 30).astype(dtype)
    A[3] = [1e30, 0, 0, 0, 0, 0, -1e30]  # a saturated row
    Z = A.copy()
    _kernels.activate(Z, _kernels.SOFTMAX)
    # a − max(a) is rounded in the array's dtype, as in the kernel; the rest in float64
    e = np.exp((A - A.max(axis=1, keepdims=True)).astype(np.float64))
    want = e / e.sum(axis=1, keepdims=True)
    tol = dict(rtol=1e-14, atol=1e-300) if dtype == np.float64 else dict(rtol=3e-7, atol=1e-38)
    np.testing.assert_allclose(Z, want, **tol)
    np.testing.assert_allclose(Z.sum(axis=1), 1.0, rtol=4 * np.finfo(dtype).eps)


def test_log1p_unit_is_accurate_on_its_whole_range():
    from numba import njit

    from fastbp._kernels import vecmath

    @njit
    def apply(u):
        out = np.empty_like(u)
        for i in range(u.shape[0]):
            out[i] = vecmath.log1p_unit(u[i])
        return out

    u = np.concatenate([[0.0, 1e-300, 1e-17, 1e-8, 1.0], np.random.default_rng(0).random(100000)])
    np.testing.assert_allclose(apply(u), np.log1p(u), rtol=1e-15, atol=0)  # ≤ 4.5 ulp


def _float32_ulps(got, want):
    """|got − want| in float32 ulps of the (float64) reference value."""
    spacing = np.abs(np.spacing(np.asarray(want, dtype=np.float32))).astype(np.float64)
    return np.abs(np.asarray(got, dtype=np.float64) - want) / spacing


def _scalar_kernel(function):
    from numba import njit

    @njit
    def apply(x):
        out = np.empty_like(x)
        for i in range(x.shape[0]):
            out[i] = function(x[i])
        return out

    return apply


def test_float32_arithmetic_functions():
    """The float32 functions of the new activations (elu, softplus, gelu, silu):
    within 2-3 float32 ulps (Φ: a relative bound, its tail is ~e^{−x²/2})."""
    from scipy.special import expit, ndtr

    from fastbp._kernels import vecmath

    x = np.concatenate([np.linspace(-100, 88, 40001), np.random.default_rng(1).normal(size=20000),
                        np.logspace(-30, 0, 301) * -1]).astype(np.float32)
    wide = x.astype(np.float64)
    with np.errstate(over="ignore", under="ignore"):
        exp_ref = np.exp(wide)
    normal = np.abs(exp_ref) > np.finfo(np.float32).tiny  # normal float32 results
    assert _float32_ulps(_scalar_kernel(vecmath.exp32)(x), exp_ref)[normal].max() <= 2
    negative = x <= 0
    expm1 = _scalar_kernel(vecmath.expm1_nonpositive_32)(x[negative])
    assert _float32_ulps(expm1, np.expm1(wide[negative])).max() <= 2
    assert _float32_ulps(_scalar_kernel(vecmath.logistic_32)(x), expit(wide))[
        expit(wide) > np.finfo(np.float32).tiny].max() <= 3
    u = np.linspace(0, 1, 10001, dtype=np.float32)
    assert _float32_ulps(_scalar_kernel(vecmath.log1p_unit_32)(u), np.log1p(u.astype(float))).max() <= 3
    cdf = _scalar_kernel(vecmath.normal_cdf_32)(x).astype(np.float64)
    want = ndtr(wide)
    with np.errstate(divide="ignore", invalid="ignore"):  # Φ underflows to 0 far left
        relative = np.abs(cdf - want) / want
    assert relative[np.abs(wide) <= 5].max() < 2e-6
    assert relative[(np.abs(wide) <= 13) & (want > 1e-37)].max() < 3e-5
