"""The kernels' BLAS products (``_kernels.gemm``) and the choice of backend."""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastbp
from fastbp import _kernels
from fastbp._kernels import blas as _blas


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("transpose_b", [False, True])
@pytest.mark.parametrize("m, k, n", [(7, 5, 3), (1, 4, 6), (6, 1, 2), (3, 4, 1), (1, 1, 1),
                                     (64, 33, 17)])
def test_gemm_equals_numpy(m, k, n, transpose_a, transpose_b, dtype):
    """op(A) op(B) for the four transpose pairs the kernels use (and the ones they do not)."""
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    A = rng.normal(size=(k, m) if transpose_a else (m, k)).astype(dtype)
    B = rng.normal(size=(n, k) if transpose_b else (k, n)).astype(dtype)
    C = np.full((m, n), np.nan, dtype=dtype)
    _kernels.gemm(A, B, C, transpose_a, transpose_b)
    want = ((A.T if transpose_a else A).astype(np.float64)
            @ (B.T if transpose_b else B).astype(np.float64))
    np.testing.assert_allclose(C, want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


def test_gemm_writes_a_contiguous_block_and_handles_empty_inner_dimension():
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(4, 3)), rng.normal(size=(3, 5))
    big = np.zeros((10, 5))
    _kernels.gemm(A, B, big[3:7], False, False)  # a block of rows, as the kernels' workspaces
    np.testing.assert_allclose(big[3:7], A @ B, rtol=1e-12)
    assert not big[:3].any() and not big[7:].any()
    C = np.full((4, 5), np.nan)
    _kernels.gemm(np.empty((4, 0)), np.empty((0, 5)), C, False, False)
    assert (C == 0).all()


def test_gemm_refuses_mismatched_shapes_and_strided_arrays():
    with pytest.raises(ValueError, match="shapes"):
        _kernels.gemm(np.ones((2, 3)), np.ones((4, 5)), np.empty((2, 5)), False, False)
    with pytest.raises(ValueError, match="shapes"):
        _kernels.gemm(np.ones((2, 3)), np.ones((3, 5)), np.empty((2, 5)), True, False)
    with pytest.raises(ValueError, match="C-contiguous"):
        _kernels.gemm(np.ones((2, 6))[:, ::2], np.ones((3, 5)), np.empty((2, 5)), False, False)


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


def test_mkl_loaded_by_another_library_is_left_to_it():
    """fastbp never changes the threading of an MKL that something else loaded first."""
    library = _blas._find_mkl()
    if library is None:
        pytest.skip("MKL is not installed (pip install 'fastbp[mkl]'); nothing to load first")
    code = (f"import ctypes; ctypes.CDLL({library!r}); import fastbp; "
            "info = fastbp.blas_info(); print(info['backend']); print(info['note'])")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, FASTBP_BLAS="auto"), check=True)
    backend, note = run.stdout.strip().splitlines()
    assert backend == "openblas" and "already loaded by another library" in note
