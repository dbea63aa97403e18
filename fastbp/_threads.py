"""Threads for the kernels: which Numba threading layer, how many threads, and when none.

One policy, chosen here rather than by whatever happens to be installed:

- **Layer.** Before its first parallel kernel (on the main thread), fastbp
  asks Numba for ``tbb`` (fork- and thread-safe; a dependency where wheels
  exist, loaded from the environment's ``lib`` folder, which is not on the
  loader's path), else ``workqueue`` (fork-safe, always present). Never
  ``omp`` of its own accord: GNU OpenMP terminates a forked child at its
  first parallel region, and its threads busy-wait. A layer the user names
  (``NUMBA_THREADING_LAYER`` or ``numba.config.THREADING_LAYER``) or one
  another library already started is kept, and fastbp avoids its unsafe uses.
- **Serial twins.** Every parallel kernel has a serial twin (``_kernels``)
  computing the same numbers for the same number of slices. fastbp runs it
  for one slice, off the main thread (OpenBLAS cannot be limited and
  restored from there, and the workqueue layer aborts on concurrent
  launches; no layer is started there), in a process forked from one whose
  layer cannot fork, and where no layer loads.
- **Slices, not threads, decide the numbers.** Work is cut into ``n_slices``
  fixed slices: ``n_jobs`` of them when positive, else as many as the CPUs
  this process may use; one for small steps. Any number of threads may run
  them, so the same ``random_state`` and ``n_jobs`` give the same model on a
  quiet or busy machine, on the main thread or another, and
  ``ThreadGovernor`` is free to run training serially where that is faster.
- **CPUs really available**: the affinity mask and a cgroup CPU quota
  (``joblib.cpu_count``), ``NUMBA_NUM_THREADS`` (which joblib sets for its
  worker processes), and the user's BLAS thread limit (threadpoolctl's
  ``threadpool_limits``, ``OMP_NUM_THREADS``): the smallest wins.
- **One pool at a time.** While kernels run on the main thread, the BLAS
  libraries are held at one thread: fastbp's slices are the parallelism.
- **Waiting inside an epoch call.** A training call is one parallel loop
  whose threads wait for each other between the phases of every batch
  (``_kernels/calls.py``): a few microseconds of the CPU's pause hint, then
  ``sched_yield`` at every look, so a waiting thread gives its core to any
  thread that wants it and never sleeps through a wake-up. Between calls the
  layer's own idle policy applies, and on a busy machine ``ThreadGovernor``
  keeps calls short (about 25 ms) and runs the serial twin when it is faster.
"""

import ctypes
import os
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from importlib import metadata

import numba

# At most this many slices, whatever n_jobs asks: each holds a gradient buffer
# the size of the network (n_jobs=10**6 must not allocate a million of them).
MAX_SLICES = 64
# Below this much work per parallel step (rows × parameters), one slice is
# faster than waking a pool: a parallel region costs a few microseconds.
PARALLEL_MIN_WORK = 1 << 18

_layer = {}  # filled once by threading_layer_info(): the layer and why
_lock = threading.Lock()
_state = {"cpus": None, "warned_fork": False}


def _tbb_library():
    """Path of pip's libtbb (in ``<prefix>/lib``, off the loader's path), or None."""
    names = {"linux": "libtbb.so.12", "win32": "tbb12.dll", "darwin": "libtbb.12.dylib"}
    wanted = names.get("win32" if sys.platform == "win32" else
                       "darwin" if sys.platform == "darwin" else "linux")
    try:
        files = metadata.distribution("tbb").files or ()
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name == wanted:
            return str(file.locate())
    return None


def _preload_tbb():
    """Make Numba's tbb layer loadable; the reason it is not, or None."""
    path = _tbb_library()
    if path is None:
        return "the tbb package is not installed"
    try:
        ctypes.CDLL(path, mode=getattr(ctypes, "RTLD_GLOBAL", 0))
    except OSError as error:
        return f"could not load {path}: {error}"
    return None


def threading_layer_info():
    """The Numba threading layer fastbp's parallel kernels run on, chosen once.

    Returns
    -------
    info : dict
        ``layer`` ('tbb', 'workqueue', 'omp', or None when none could be
        loaded: then every kernel runs serially), ``reason`` (why this one),
        ``fork_safe`` and ``thread_safe`` (what the layer allows),
        ``pid`` (the process that started it).
    """
    if _layer:
        return dict(_layer)
    with _lock:
        if not _layer:
            _layer.update(_start_layer())
    return dict(_layer)


def _start_layer():
    try:
        layer = numba.threading_layer()
        reason = "already started in this process before fastbp's first parallel kernel"
    except ValueError:  # not started yet: fastbp chooses
        requested = str(numba.config.THREADING_LAYER).strip().lower()
        tbb_problem = _preload_tbb()
        if requested != "default":
            candidates = [(requested, f"requested (THREADING_LAYER={requested})")]
        elif tbb_problem is None:
            candidates = [("tbb", "fastbp's choice: fork- and thread-safe"),
                          ("workqueue", "fastbp's choice: fork-safe; tbb did not start")]
        else:
            candidates = [("workqueue", "fastbp's choice: fork-safe; tbb is not available "
                                        f"({tbb_problem})")]
        layer = None
        for name, reason in candidates:
            numba.config.THREADING_LAYER = name
            try:
                numba.get_num_threads()  # starts the layer now, as configured
                layer = numba.threading_layer()
                break
            except ValueError as error:
                reason = f"no threading layer could be loaded ({name}): {error}"
        if layer is None:
            # every kernel runs serially; numba.get/set_num_threads would raise
            return {"layer": None, "reason": reason, "fork_safe": True,
                    "thread_safe": True, "pid": os.getpid()}
    fork_safe = True
    if layer == "omp":
        from numba.np.ufunc import omppool

        fork_safe = omppool.openmp_vendor != "GNU"
    return {"layer": layer, "reason": reason, "fork_safe": fork_safe,
            "thread_safe": layer != "workqueue", "pid": os.getpid()}


def _layer_started():
    """Whether Numba's threading layer runs in this process (without starting it)."""
    try:
        numba.threading_layer()
        return True
    except ValueError:
        return False


def parallel_allowed():
    """Whether a parallel kernel may run on this thread now (else its serial twin)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    info = threading_layer_info()
    if info["layer"] is None:
        return False
    if not info["fork_safe"] and os.getpid() != info["pid"]:
        if not _state["warned_fork"]:
            _state["warned_fork"] = True
            warnings.warn(
                "fastbp runs on one thread in this process: it was forked from a process "
                "that used Numba's 'omp' threading layer (GNU OpenMP), which cannot run "
                "threads after fork(). Install tbb or set NUMBA_THREADING_LAYER=tbb or "
                "workqueue to keep threads in forked processes.", RuntimeWarning,
                stacklevel=4)
        return False
    return True


def _before_fork():
    # A layer another library started (GNU OpenMP, say) is recorded with this
    # process's pid, so that the child knows it is a child.
    if not _layer and _layer_started():
        threading_layer_info()


def _after_fork_in_child():
    global _lock, _hold_lock
    _lock, _hold_lock = threading.Lock(), threading.Lock()  # another thread may have held it at fork()
    _depth.__dict__.clear()
    _hold.update(active=False, user_limit=None)
    _state["cpus"] = None  # the child may have another affinity
    _state["warned_fork"] = False
    _VERDICTS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)


def available_cpus():
    """CPUs this process may use: affinity, cgroup quota, NUMBA_NUM_THREADS; at least 1."""
    if _state["cpus"] is None:
        from joblib import cpu_count

        _state["cpus"] = max(1, min(cpu_count(), numba.config.NUMBA_NUM_THREADS))
    return _state["cpus"]


# --------------------------------------------------------------------------
# BLAS: held at one thread while kernels run; its limits read as the user's.
# --------------------------------------------------------------------------
_blas = {}


def _blas_libraries():
    """threadpoolctl controllers of the loaded BLAS libraries that have threads."""
    if "libraries" not in _blas:
        import scipy.linalg.cython_blas  # noqa: F401  (loads the BLAS the kernels call)
        from threadpoolctl import ThreadpoolController

        from ._kernels.blas import blas_info

        sequential_mkl = blas_info()["backend"] == "mkl"
        _blas["libraries"] = [
            lib for lib in ThreadpoolController().lib_controllers
            if lib.user_api == "blas" and not (sequential_mkl and lib.internal_api == "mkl")]
    return _blas["libraries"]


# fastbp holds BLAS at one thread only on the main thread; while it does, the
# limit the user had set before is what other threads read as theirs.
_hold = {"active": False, "user_limit": None}
_hold_lock = threading.Lock()


def _read_blas_limit():
    counts = [lib.num_threads for lib in _blas_libraries()]
    return min(counts) if counts else sys.maxsize


def _user_blas_limit():
    """The smallest thread count the user set on a BLAS library (threadpoolctl's
    limits, OPENBLAS_NUM_THREADS / OMP_NUM_THREADS), fastbp's own holds aside."""
    with _hold_lock:
        return _hold["user_limit"] if _hold["active"] else _read_blas_limit()


def _hold_blas_at_one():
    """Hold every BLAS library at one thread (main thread only); returns the restore list."""
    with _hold_lock:
        if _hold["active"]:
            return []  # nested: the outer hold restores
        held = [(lib, lib.num_threads) for lib in _blas_libraries()]
        _hold.update(active=True,
                     user_limit=min((c for _, c in held), default=sys.maxsize))
        for lib, count in held:
            if count != 1:
                lib.set_num_threads(1)
        return held or [None]


def _release_blas(held):
    if not held:
        return
    with _hold_lock:
        for entry in held:
            if entry is not None and entry[1] != 1:
                entry[0].set_num_threads(entry[1])
        _hold.update(active=False, user_limit=None)


def resolve_n_jobs(n_jobs):
    """Slices meant by ``n_jobs``: n, or None = the CPUs available, -1 all, -2 all but one, …

    A positive ``n_jobs`` means exactly that many slices wherever the call
    runs (at most ``MAX_SLICES``); None and negative values follow the CPUs
    this process may use (``available_cpus``) and, for None, the user's BLAS
    limits too.
    """
    if n_jobs == 0:
        raise ValueError("n_jobs == 0 has no meaning: use None, a positive number, or -1 "
                         "for all CPUs")
    if n_jobs is not None and n_jobs > 0:
        return min(int(n_jobs), MAX_SLICES)
    cpus = available_cpus()
    if n_jobs is None:
        return max(1, min(cpus, _user_blas_limit(), MAX_SLICES))
    return max(1, min(cpus + 1 + n_jobs, MAX_SLICES))


def slices_for(max_slices, rows, n_params):
    """Slices of a parallel step over ``rows`` rows of a network of ``n_params``."""
    if getattr(_forced, "parallel", None) is not None:
        return max_slices
    return max_slices if rows * n_params >= PARALLEL_MIN_WORK else 1


_forced = threading.local()


@contextmanager
def forced_mode(parallel):
    """Every kernel call inside (on this thread) runs parallel (True) or serially
    (False), whatever its size: for ``warm_up``, which must compile both versions."""
    previous = getattr(_forced, "parallel", None)
    _forced.parallel = bool(parallel)
    try:
        yield
    finally:
        _forced.parallel = previous


_depth = threading.local()


@contextmanager
def kernel_threads(n_jobs):
    """Thread settings for one fastbp call; yields the slices meant by ``n_jobs``.

    On the main thread, Numba runs up to that many threads (no more than the
    CPUs available) and the BLAS libraries are held at one thread (one pool
    of threads, never two on the same cores); both are restored on exit.
    Off the main thread nothing is changed and no threading layer is
    started: the kernels' serial twins run there. A call nested inside
    another (prediction for early stopping inside ``fit``) inherits its
    settings.
    """
    outer = getattr(_depth, "slices", None)
    if outer is not None:
        yield outer
        return
    on_main = threading.current_thread() is threading.main_thread()
    layer = threading_layer_info()["layer"] if on_main else None
    n_slices = resolve_n_jobs(n_jobs)
    previous_numba = held = None
    _depth.slices = n_slices
    try:
        if layer is not None:
            previous_numba = numba.get_num_threads()
            numba.set_num_threads(max(1, min(n_slices, available_cpus())))
        if on_main:
            held = _hold_blas_at_one()
        yield n_slices
    finally:
        _depth.slices = None
        _release_blas(held)
        if previous_numba is not None:
            numba.set_num_threads(previous_numba)


# --------------------------------------------------------------------------
# Busy machines: parallel or serial, by measurement.
# --------------------------------------------------------------------------
# Process-wide memory of which mode was faster, per (slices, size class):
# lets the next call start from what the last one learnt.
_VERDICTS = {}
_VERDICT_TTL_S = 2.0


try:
    import resource
    _RUSAGE_THREAD = resource.RUSAGE_THREAD
except (ImportError, AttributeError):  # Windows, macOS: no per-thread counts
    resource = None


def _preemptions():
    """Involuntary context switches of the calling thread so far (-1 where unknown)."""
    if resource is None:
        return -1
    try:
        return resource.getrusage(_RUSAGE_THREAD).ru_nivcsw
    except OSError:
        return -1


class ThreadGovernor:
    """Chooses, step by step, between a parallel kernel and its serial twin.

    Both compute the same numbers, so only time decides. On a quiet machine
    the parallel kernel wins and is kept; when other processes compete for
    the cores, waiting for a preempted thread at every minibatch can make it
    slower than one thread. The governor times each step (seconds per unit
    of work: batches, or rows), runs the other mode now and then to keep both
    estimates current — soon after the calling thread is seen being preempted,
    rarely otherwise — and runs the faster. Steps last about 25 ms while the
    machine is busy and grow while it is quiet, so that a quiet epoch takes a
    few kernel calls. Compiling or loading a kernel is not timed. What it
    learnt is kept for the next call of the same kind in this process (for a
    few seconds), so that one-step calls (``predict``, ``partial_fit``) also
    look at both modes.

    Parameters
    ----------
    n_slices : int
        Slices of each step; with 1 (or where threads are not allowed here)
        every step runs serially and nothing is measured.
    key : hashable
        Steps of similar cost share what was learnt across calls.
    """

    _EXPLORE_QUIET = 64   # steps between looks at the slower mode, quiet
    _EXPLORE_BUSY = 6     # ... and while the calling thread is being preempted
    _TARGET_STEP_S = 0.025
    _BUSY_PREEMPTIONS = 0.25  # smoothed preemptions per step that mean "busy"

    def __init__(self, n_slices, key):
        force = getattr(_forced, "parallel", None)
        if force is not None:
            self.adaptive, self.parallel = False, force and parallel_allowed()
            return
        self.adaptive = n_slices > 1 and parallel_allowed()
        self.parallel = self.adaptive
        self._key = (n_slices, key)
        self._seconds = {True: None, False: None}   # per unit of work
        self._since = {True: 0, False: 0}           # steps since last measured
        self._busy = 0.0
        self._growth = 1.0
        verdict = _VERDICTS.get(self._key)
        if self.adaptive and verdict and time.monotonic() - verdict[0] < _VERDICT_TTL_S:
            self._seconds, self._since, self._busy = (dict(verdict[1]), dict(verdict[2]),
                                                      verdict[3])
            self._choose()

    def _faster(self):
        par, ser = self._seconds[True], self._seconds[False]
        if par is None or ser is None:
            return par is not None or ser is None
        return par <= ser

    def _is_busy(self):
        return self._busy > self._BUSY_PREEMPTIONS

    def units_per_step(self, remaining):
        """How much work (batches, rows) the next step should take."""
        if not self.adaptive:
            return remaining
        per_unit = self._seconds[self.parallel]
        if per_unit is None:
            return min(remaining, 4)
        target = self._TARGET_STEP_S * self._growth
        if self.parallel != self._faster():
            target = self._TARGET_STEP_S / 4  # a look at the slower mode: short
        return int(max(1, min(remaining, target / max(per_unit, 1e-9))))

    @contextmanager
    def step(self, kernels, units):
        """Time one step; yields the kernel to call (parallel or serial twin)."""
        parallel = self.parallel
        kernel = kernels[0] if parallel else kernels[1]
        if not self.adaptive:
            yield kernel
            return
        compiled_before = len(kernel.overloads)
        preempted_before = _preemptions()
        start = time.perf_counter()
        yield kernel
        seconds = time.perf_counter() - start
        if len(kernel.overloads) != compiled_before:
            return  # compiled or loaded from the cache: not a measurement
        self._record(parallel, seconds / max(units, 1), _preemptions() - preempted_before)

    def _record(self, parallel, per_unit, preemptions):
        old = self._seconds[parallel]
        self._seconds[parallel] = per_unit if old is None else 0.5 * old + 0.5 * per_unit
        self._since[parallel] = 0
        self._since[not parallel] += 1
        # preemptions of the calling thread per step, smoothed: a quiet machine
        # preempts it now and then, a busy one about once a time slice
        self._busy = 0.75 * self._busy + 0.25 * max(preemptions, 0)
        self._growth = 1.0 if self._is_busy() else min(self._growth * 2, 64.0)
        self._choose()
        _VERDICTS[self._key] = (time.monotonic(), dict(self._seconds), dict(self._since),
                                self._busy)

    def _choose(self):
        best = self._faster()
        other = not best
        every = self._EXPLORE_BUSY if self._is_busy() else self._EXPLORE_QUIET
        if self._seconds[other] is not None and self._seconds[other] > 1.25 * self._seconds[best]:
            every *= 3  # clearly slower: look again less often
        self.parallel = other if self._since[other] >= every else best


@contextmanager
def blas_held_at_one():
    """BLAS held at one thread for a serial kernel call on the main thread (cheap)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # off the main thread BLAS is left alone
        return
    held = _hold_blas_at_one()
    try:
        yield
    finally:
        _release_blas(held)


def threading_info():
    """Where fastbp's kernels run their threads, in this process.

    Starts Numba's threading layer if no parallel kernel has yet (choosing
    it as described in this module).

    Returns
    -------
    info : dict
        ``layer``: Numba's threading layer ('tbb', 'workqueue' or 'omp'; None
        if none could be loaded, and then every kernel runs serially);
        ``reason``: why that layer; ``fork_safe`` / ``thread_safe``: what the
        layer allows (fastbp runs serial kernels where it does not);
        ``cpus``: the CPUs this process may use (affinity, cgroup quota,
        ``NUMBA_NUM_THREADS``), which ``n_jobs=None`` uses.
    """
    info = threading_layer_info()
    info.pop("pid")
    info["cpus"] = available_cpus()
    return info
