"""The kernels' BLAS products (``_kernels.gemm``) and the choice of backend."""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastbp
from fastbp import _blas, _kernels


def _operand(rng, shape, dtype, kind):
    """A (rows, cols) array laid out as ``kind``: the layouts the kernels pass, and more."""
    rows, cols = shape
    if kind == "C":
        return rng.normal(size=shape).astype(dtype)
    if kind == "F":  # the transpose of a row-major array, as (zˡ⁻¹)ᵀ in ∇W
        return rng.normal(size=(cols, rows)).astype(dtype).T
    if kind == "row block":  # rows of a wider array (leading dimension > cols)
        return rng.normal(size=(rows + 3, cols + 5)).astype(dtype)[2 : 2 + rows, 1 : 1 + cols]
    if kind == "column block":  # columns of a transposed one
        return rng.normal(size=(cols + 4, rows + 2)).astype(dtype).T[1 : 1 + rows, 3 : 3 + cols]
    if kind == "strided":  # neither: gemm copies it
        return rng.normal(size=(rows, 2 * cols)).astype(dtype)[:, ::2]
    raise ValueError(kind)


KINDS = ["C", "F", "row block", "column block", "strided"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("b_kind", KINDS)
@pytest.mark.parametrize("a_kind", KINDS)
@pytest.mark.parametrize("m, k, n", [(7, 5, 3), (1, 4, 6), (6, 1, 2), (3, 4, 1), (1, 1, 1)])
def test_gemm_equals_numpy(m, k, n, a_kind, b_kind, dtype):
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    A = _operand(rng, (m, k), dtype, a_kind)
    B = _operand(rng, (k, n), dtype, b_kind)
    C = np.full((m, n), np.nan, dtype=dtype)
    _kernels.gemm(A, B, C)
    want = A.astype(np.float64) @ B.astype(np.float64)
    np.testing.assert_allclose(C, want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


def test_gemm_writes_into_a_row_block_and_handles_empty_inner_dimension():
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(4, 3)), rng.normal(size=(3, 5))
    big = np.zeros((10, 5))
    _kernels.gemm(A, B, big[3:7])  # a block of rows, as the kernels' workspaces
    np.testing.assert_allclose(big[3:7], A @ B, rtol=1e-12)
    assert not big[:3].any() and not big[7:].any()
    C = np.full((4, 5), np.nan)
    _kernels.gemm(np.empty((4, 0)), np.empty((0, 5)), C)
    assert (C == 0).all()


def test_gemm_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes"):
        _kernels.gemm(np.ones((2, 3)), np.ones((4, 5)), np.empty((2, 5)))


def _backend_in_subprocess(setting):
    code = "import fastbp; print(fastbp.blas_info()['backend'])"
    env = dict(os.environ, FASTBP_BLAS=setting)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


def test_backend_choice_follows_fastbp_blas():
    info = fastbp.blas_info()
    assert info["backend"] in ("openblas", "mkl")
    mkl_installed = _blas._find_mkl() is not None
    if os.environ.get("FASTBP_BLAS", "auto") == "auto":
        assert (info["backend"] == "mkl") == mkl_installed
    forced = _backend_in_subprocess("openblas")
    assert forced.returncode == 0 and forced.stdout.split() == ["openblas"]
    wrong = _backend_in_subprocess("atlas")
    assert wrong.returncode != 0 and "FASTBP_BLAS='atlas' is not one of" in wrong.stderr
    required = _backend_in_subprocess("mkl")
    if mkl_installed:
        assert required.returncode == 0 and required.stdout.split() == ["mkl"]
    else:  # asked for and missing: a clear error, never a silent fallback
        assert required.returncode != 0
        assert "FASTBP_BLAS=mkl, but MKL not installed" in required.stderr


def test_both_backends_train_the_same_model():
    """Only rounding differs between BLAS libraries (runs where MKL is installed)."""
    if _blas._find_mkl() is None:
        pytest.skip("MKL is not installed (pip install 'fastbp[mkl]'); nothing to compare")
    code = ("import numpy as np, fastbp, warnings; warnings.simplefilter('ignore');"
            "from sklearn.datasets import load_digits; X, y = load_digits(return_X_y=True);"
            "m = fastbp.MLPClassifier((32,), max_iter=5, random_state=0).fit(X / 16, y);"
            "print(m.loss_)")
    losses = []
    for setting in ("openblas", "mkl"):
        run = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, FASTBP_BLAS=setting),
                             capture_output=True, text=True, check=True)
        losses.append(float(run.stdout.split()[-1]))
    assert np.isclose(losses[0], losses[1], rtol=1e-9)
