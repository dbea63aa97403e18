"""Numba options shared by every kernel, and a compile-cache key that covers them all.

Numba's on-disk cache checks a compiled function against the source of the
one file that defines it. The kernels call across the files of this folder (a
kernel in ``calls.py`` inlines code from ``batch.py`` and ``vecmath.py``), so
an edit of one file must invalidate the cached kernels of all of them. The
locators installed here, one per file-backed locator of Numba, add a digest of
every ``.py`` file of this folder to the source stamp of each kernel defined
in it; functions of other packages keep Numba's own locators untouched.

Where this Numba has no such locator classes (its caching internals changed),
``CACHE`` is False and the kernels compile in every process: slower to start,
never stale.
"""

import glob
import hashlib
import os
from functools import lru_cache

from numba.core.cpu_options import ParallelOptions

FOLDER = os.path.dirname(os.path.abspath(__file__))


@lru_cache(maxsize=None)
def _digest(stamps):
    digest = hashlib.sha256()
    for path, _, _ in stamps:
        digest.update(os.path.basename(path).encode())
        with open(path, "rb") as handle:
            digest.update(handle.read())
    return digest.hexdigest()


def sources_digest():
    """SHA-256 of the kernel sources (every ``.py`` file of this folder)."""
    paths = sorted(glob.glob(os.path.join(FOLDER, "*.py")))
    return _digest(tuple((p, os.stat(p).st_mtime_ns, os.stat(p).st_size) for p in paths))


class _FolderStamp:
    """Locator mixin: a kernel of this folder is stamped with all of its sources."""

    def get_source_stamp(self):
        return super().get_source_stamp(), sources_digest()

    @classmethod
    def from_function(cls, py_func, py_file):
        if os.path.dirname(os.path.abspath(py_file)) != FOLDER:
            return None  # not a fastbp kernel: the next locator decides
        return super().from_function(py_func, py_file)


def _install_locators():
    """Put a folder-stamped twin of each file-backed Numba locator first; True if done."""
    try:
        from numba.core import caching

        impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl  # 0.68 / older
        mixin = (getattr(caching, "SourceFileBackedLocatorMixin", None)
                 or caching._SourceFileBackedLocatorMixin)
        classes = impl._locator_classes
        backed = [c for c in classes if issubclass(c, mixin)]
    except (ImportError, AttributeError):  # pragma: no cover - a Numba without them
        return False
    if any(issubclass(c, _FolderStamp) for c in classes):
        return True
    twins = [type(c.__name__ + "OfFastbpKernels", (_FolderStamp, c), {}) for c in backed]
    classes[:0] = twins
    return bool(twins)


CACHE = _install_locators()

# No fastmath: 'nnan'/'ninf' would let LLVM delete the finiteness checks the
# estimators rely on, and exact agreement with the NumPy reference matters.
JIT = dict(cache=CACHE, nogil=True, error_model="numpy")
# Small functions inlined into their callers' loops (vecmath, views).
INLINE = dict(JIT, inline="always")
# Elementwise loops that must vectorise: 'reassoc' lets LLVM vectorise the
# Σθ² reduction; no 'nnan' / 'ninf' / 'afn'. No 'contract' either: with it,
# freshly compiled code and the same code loaded from Numba's cache fused
# different multiply-adds, so a process that compiled trained a different
# model (by a few ulps per step) from every later one (test_warmup checks).
VECTOR = dict(JIT, fastmath={"reassoc"})
# Only the explicit prange loops run in parallel. Numba would otherwise also
# turn np.zeros, slice fills and array expressions into parallel loops: each
# one a separately compiled function (seconds of cold compile) and a parallel
# region per call, for work that takes nanoseconds. A ParallelOptions object,
# not a dict: Numba consumes a dict on the first compile, so a second dtype
# would silently get every option back.
PARALLEL = dict(JIT, parallel=ParallelOptions(dict(
    prange=True, comprehension=False, reduction=False, inplace_binop=False, setitem=False,
    numpy=False, stencil=False, fusion=False)))
