"""Which BLAS the compiled kernels call for their matrix products.

The kernels call ``fastbp_sgemm`` / ``fastbp_dgemm`` (Fortran ``?gemm``
calling convention) by name; this module binds those names, once per process
and before any kernel is loaded (``bind``, called by ``batch.py``), to one of:

- ``openblas``: SciPy's BLAS (OpenBLAS in SciPy's wheels), the same library
  ``numba``'s own ``np.dot`` uses. Always available.
- ``mkl``: Intel oneMKL's ``libmkl_rt`` from the optional ``mkl`` package
  (``pip install "fastbp[mkl]"``, Linux), set to its sequential layer: one
  thread per call, since fastbp's own threads already split the work.
  Measured on an Intel Xeon (AVX-512) at the batch shapes of training
  (64-128 rows × 256-784): 115-136 GFLOP/s per core against OpenBLAS's
  80-110.

Because the kernels bind the name rather than an address, the on-disk
compile cache serves either backend. ``FASTBP_BLAS`` chooses: ``auto`` (the
default: mkl when installed, else openblas), ``openblas`` or ``mkl`` (an
error if it cannot be loaded).
"""

import ctypes
import glob
import os
import sys

import llvmlite.binding as llvm
from numba.extending import get_cython_function_address

_MKL_THREADING_SEQUENTIAL = 1
_MKL_INTERFACE_LP64 = 0
_CHOICES = ("auto", "openblas", "mkl")

_backend = {}


def _find_mkl():
    """Path of libmkl_rt in this environment (where the ``mkl`` wheel puts it), or None."""
    if not sys.platform.startswith("linux"):
        return None
    for prefix in dict.fromkeys([sys.prefix, sys.base_prefix]):
        found = sorted(glob.glob(os.path.join(prefix, "lib", "libmkl_rt.so*")))
        if found:
            return found[0]
    return None


def _mkl_already_loaded():
    """True if another library (say a NumPy built on MKL) has loaded libmkl_rt."""
    try:
        with open("/proc/self/maps") as maps:
            return "libmkl_rt" in maps.read()
    except OSError:
        return False


def _load_mkl(path):
    """(sgemm, dgemm) addresses of a sequential MKL, or an error message."""
    if _mkl_already_loaded():
        # Setting its threading layer would change it for its owner too.
        return None, "MKL is already loaded by another library in this process"
    try:
        lib = ctypes.CDLL(path)
        for setter in (lib.MKL_Set_Threading_Layer, lib.MKL_Set_Interface_Layer):
            setter.argtypes = [ctypes.c_int]
            setter.restype = ctypes.c_int
        layer = lib.MKL_Set_Threading_Layer(_MKL_THREADING_SEQUENTIAL)
        interface = lib.MKL_Set_Interface_Layer(_MKL_INTERFACE_LP64)
    except (OSError, AttributeError) as error:
        return None, f"could not load {path}: {error}"
    if interface != _MKL_INTERFACE_LP64:  # pragma: no cover (needs a foreign MKL user)
        # the kernels pass 32-bit integers, as SciPy's BLAS takes them
        return None, "MKL is already set to 64-bit integers (ILP64) in this process"
    if layer != _MKL_THREADING_SEQUENTIAL:  # pragma: no cover (needs a foreign MKL user)
        # MKL was already in use (threaded) in this process: its threads would
        # fight fastbp's, so it is not used.
        return None, "MKL is already loaded with a threaded layer in this process"
    return (ctypes.cast(lib.sgemm_, ctypes.c_void_p).value,
            ctypes.cast(lib.dgemm_, ctypes.c_void_p).value), None


def bind():
    """Bind fastbp_sgemm / fastbp_dgemm for the kernels, once per process."""
    if _backend:
        return
    choice = os.environ.get("FASTBP_BLAS", "auto").strip().lower() or "auto"
    if choice not in _CHOICES:
        raise ImportError(f"FASTBP_BLAS={choice!r} is not one of {', '.join(_CHOICES)}")
    addresses, library, note = None, None, None
    if choice in ("auto", "mkl"):
        library = _find_mkl()
        if library is None:
            note = "MKL not installed (pip install \"fastbp[mkl]\")"
        else:
            addresses, note = _load_mkl(library)
        if addresses is None and choice == "mkl":
            raise ImportError(f"FASTBP_BLAS=mkl, but {note}")
    if addresses is None:
        addresses = (get_cython_function_address("scipy.linalg.cython_blas", "sgemm"),
                     get_cython_function_address("scipy.linalg.cython_blas", "dgemm"))
        name, library = "openblas", "scipy.linalg.cython_blas"
    else:
        name, note = "mkl", None
    llvm.add_symbol("fastbp_sgemm", addresses[0])
    llvm.add_symbol("fastbp_dgemm", addresses[1])
    _backend.update(backend=name, library=library, requested=choice, note=note)


def blas_info():
    """The BLAS behind fastbp's kernels in this process.

    Returns
    -------
    info : dict
        ``backend`` ("openblas" or "mkl"), ``library`` (where it came from),
        ``requested`` (the ``FASTBP_BLAS`` setting) and ``note`` (why MKL is
        not in use, when it is not; else None).
    """
    bind()
    return dict(_backend)
