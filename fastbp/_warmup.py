"""Loading every kernel ahead of use: ``fastbp.warm_up`` and ``fastbp compile``.

Numba compiles a kernel the first time it is called with new argument types
and keeps the machine code in its on-disk cache (beside the installed
package, or under ``NUMBA_CACHE_DIR``). In a fresh installation the first
``fit`` therefore waits for a compile (9-27 s measured on 2-core machines,
depending on the machine and its load) and the first ``predict`` and
``lbfgs`` fit for more. ``warm_up`` runs each
kernel, parallel and serial twin, once on a few rows, so that the cache holds them all: a step for a
container build or a deployment, after which no process compiles.
"""

import time
import warnings

import numpy as np

from . import _kernels, _threads
from ._estimators import MLPClassifier
from ._network import CHUNK_ROWS

# Every compiled entry point the estimators call: minibatch training (sgd,
# adam, partial_fit), the full-batch objective (lbfgs), prediction on few rows
# (calling thread) and on many (threads).
# Each parallel kernel has a serial twin (see _threads.py).
_ENTRY_POINTS = ("train_epoch", "train_epoch_serial", "full_loss_gradient",
                 "full_loss_gradient_serial", "predict_outputs", "predict_outputs_parallel",
                 "all_finite")
_DTYPES = ("float64", "float32")


def _cache_counts():
    """(cache hits, cache misses) of the entry points so far in this process."""
    hits = misses = 0
    for name in _ENTRY_POINTS:
        stats = getattr(_kernels, name).stats
        hits += sum(stats.cache_hits.values())
        misses += sum(stats.cache_misses.values())
    return hits, misses


def kernels_cached(solver="adam"):
    """Whether the compile cache holds the kernels a fit with ``solver`` runs (False on first use).

    Reads where Numba keeps a kernel's cache index; True if that cannot be
    told (a Numba without that layout), so that no one is told of a compile
    that will not happen.
    """
    import os

    try:
        def cached(name):
            return os.path.exists(getattr(_kernels, name)._cache._cache_file._index_path)

        # the parallel kernel or its serial twin, whichever the data size chose so far
        train = "full_loss_gradient" if solver == "lbfgs" else "train_epoch"
        return (cached(train) or cached(f"{train}_serial")) and cached("predict_outputs")
    except AttributeError:
        return True


def warm_up(dtypes=_DTYPES):
    """Load fastbp's kernels from the on-disk compile cache, compiling any it lacks.

    Parameters
    ----------
    dtypes : {"float64", "float32"} or an iterable of them, default=("float64", "float32")
        Precisions to load. A model fitted on float32 input runs float32
        kernels; any other input runs float64 ones.

    Returns
    -------
    report : dict
        ``seconds`` taken; ``cache_dir``, the compile cache in use; and, for
        this call, ``cache_hits`` (kernel versions loaded from that cache)
        and ``cache_misses`` (kernel versions compiled, and written there).
        Kernels this process had already loaded count as neither.
    """
    if isinstance(dtypes, (str, type, np.dtype)):
        dtypes = [dtypes]
    dtypes = [str(np.dtype(dtype)) for dtype in dtypes]
    unknown = sorted(set(dtypes) - set(_DTYPES))
    if unknown:
        raise ValueError(f"dtypes must be among {list(_DTYPES)}; got {unknown}")
    start = time.perf_counter()
    hits_before, misses_before = _cache_counts()
    rng = np.random.default_rng(0)
    n_rows = 2 * CHUNK_ROWS  # enough rows for the threaded prediction kernel
    y = np.arange(n_rows) % 2
    for dtype in dtypes:
        X = rng.normal(size=(n_rows, 2)).astype(dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # one iteration does not converge
            for parallel in (True, False):
                with _threads.forced_mode(parallel):
                    for solver in ("adam", "lbfgs"):
                        model = MLPClassifier(hidden_layer_sizes=(2,), solver=solver,
                                              max_iter=1, random_state=0).fit(X[:8], y[:8])
                    model.predict_proba(X)
            model.predict_proba(X[:8])
            _kernels.all_finite(X.ravel())
    hits_after, misses_after = _cache_counts()
    return {"seconds": time.perf_counter() - start,
            "cache_dir": _kernels.train_epoch.stats.cache_path,
            "cache_hits": hits_after - hits_before,
            "cache_misses": misses_after - misses_before}
