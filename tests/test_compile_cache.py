"""Numba's on-disk cache never serves a kernel compiled from older sources.

Numba checks a cached function against the file that defines it, but the
kernels inline code from the other files of ``fastbp/_kernels``; fastbp's
locators (``_kernels/jit.py``) stamp every kernel with all of them. A copy of
the package is compiled, loaded from its cache, and compiled again after an
edit of ``vecmath.py``, which defines no kernel of its own.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import fastbp

PROBE = ("import numpy as np; from fastbp import _kernels; a = np.ones((2, 3)); "
         "_kernels.activate(a, _kernels.TANH); s = _kernels.activate.stats; "
         "print(sum(s.cache_hits.values()), sum(s.cache_misses.values()), a[0, 0])")


def _run(root, cache):
    env = {**os.environ, "PYTHONPATH": str(root), "NUMBA_CACHE_DIR": str(cache)}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=root, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    hits, misses, value = out.stdout.split()
    return int(hits), int(misses), float(value)


def test_an_edit_of_any_kernel_file_invalidates_the_cached_kernels(tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(Path(fastbp.__file__).parent, root / "fastbp",
                    ignore=shutil.ignore_patterns("__pycache__"))
    cache = tmp_path / "cache"
    assert _run(root, cache)[:2] == (0, 1)  # compiled
    assert _run(root, cache)[:2] == (1, 0)  # loaded
    vecmath = root / "fastbp" / "_kernels" / "vecmath.py"
    text = vecmath.read_text()
    # tanh now returns 2·tanh: a stale kernel would still print tanh(1)
    vecmath.write_text(text.replace("    return np.copysign(y, a)  # odd",
                                    "    return 2.0 * np.copysign(y, a)  # odd"))
    hits, misses, value = _run(root, cache)
    assert (hits, misses) == (0, 1)
    assert abs(value - 2 * 0.7615941559557649) < 1e-15
