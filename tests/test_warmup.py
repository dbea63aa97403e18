"""fastbp.warm_up / `fastbp compile`: after it, no process compiles a kernel."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from fastbp import cli, warm_up
from fastbp._warmup import _ENTRY_POINTS

N_ENTRY_POINTS = len(_ENTRY_POINTS)

# Uses every entry point the way the estimators do, float32 throughout, then
# reports how many kernel versions any dispatcher had to compile meanwhile, and
# a digest of every fitted parameter and prediction.
_USE_EVERY_KERNEL = """
import hashlib, json, warnings
import numpy as np, scipy.sparse as sp
import numba
import fastbp
from fastbp import _kernels
def compiled_so_far():
    return sum(sum(obj.stats.cache_misses.values()) for obj in vars(_kernels).values()
               if isinstance(obj, numba.core.registry.CPUDispatcher))
report = fastbp.warm_up(["float32"])
after_warm_up = compiled_so_far()
rng = np.random.default_rng(1)
X = rng.normal(size=(3000, 5)).astype(np.float32)
y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
digest = hashlib.sha256()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    for solver, n_jobs in (("adam", 1), ("adam", 2), ("sgd", 2), ("lbfgs", 1)):
        clf = fastbp.MLPClassifier(hidden_layer_sizes=(70, 30), solver=solver, max_iter=3,
                                   random_state=0, n_jobs=n_jobs).fit(X, y)
        if solver != "lbfgs":
            clf.partial_fit(X[:50], y[:50])
        outputs = [clf.predict_proba(X[:1]), clf.predict(X),
                   clf.predict_proba(sp.csr_matrix(X[:20]))]
        for array in clf.coefs_ + clf.intercepts_ + outputs:
            digest.update(np.ascontiguousarray(array).tobytes())
    reg = fastbp.MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    digest.update(reg.fit(X, X[:, 2]).predict(X[:3]).tobytes())
    sparse_fit = fastbp.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    digest.update(sparse_fit.fit(sp.csr_matrix(X), y).coefs_[0].tobytes())
print(json.dumps(dict(report, compiled_later=compiled_so_far() - after_warm_up,
                      digest=digest.hexdigest())))
"""


def _in_fresh_process(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    result = subprocess.run([sys.executable, "-c", _USE_EVERY_KERNEL], env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_warm_up_fills_the_cache_so_no_later_process_compiles(tmp_path):
    """An empty cache: warm_up compiles every entry point (parallel kernels and
    their serial twins), and everything the estimators then do in that process
    compiles nothing more. A second process loads them all from the cache and compiles nothing at all, and computes
    bit for bit what the first one did (freshly compiled code and code loaded
    from the cache once differed in where LLVM fused multiply-adds)."""
    first = _in_fresh_process(tmp_path)
    assert (first["cache_hits"], first["cache_misses"]) == (0, N_ENTRY_POINTS)
    assert first["compiled_later"] == 0
    assert first["cache_dir"].startswith(str(tmp_path))
    second = _in_fresh_process(tmp_path)
    assert (second["cache_hits"], second["cache_misses"]) == (N_ENTRY_POINTS, 0)
    assert second["compiled_later"] == 0
    assert second["digest"] == first["digest"]


def test_warm_up_rejects_unknown_dtypes():
    for dtypes in (["float16"], "float16", ["float64", "int64"]):
        with pytest.raises(ValueError, match="dtypes must be among"):
            warm_up(dtypes)


def test_warm_up_takes_one_dtype_or_several():
    """A single dtype is one precision, not a sequence of characters."""
    for dtypes in ("float64", np.float64, np.dtype("float64"), ["float64"]):
        report = warm_up(dtypes)
        assert set(report) == {"seconds", "cache_dir", "cache_hits", "cache_misses"}


def test_compile_command_reports_what_it_did(capsys):
    status = cli.main(["compile", "--dtype", "float64"])
    out = capsys.readouterr().out
    assert status == 0
    counts = re.search(r"kernels \(float64\): (\d+) compiled, (\d+) loaded from the cache", out)
    assert counts is not None, out
    # this process may have run some kernels already; the rest are loaded or compiled
    assert int(counts.group(1)) + int(counts.group(2)) <= N_ENTRY_POINTS
    assert "compile cache: " in out
