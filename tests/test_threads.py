"""Threads on every Numba threading layer this machine can load.

Each case runs in a fresh interpreter with a timeout, so that a crash (GNU
OpenMP terminating a forked child, workqueue aborting on concurrent
launches) fails the test instead of ending the run. The layer is chosen with
NUMBA_THREADING_LAYER, as a user would; "default" is fastbp's own choice.
"""

import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from fastbp import MLPClassifier, _threads

LAYERS = ["default", "tbb", "omp", "workqueue"]

# A problem big enough that training runs in parallel slices (batch rows ×
# parameters over _threads.PARALLEL_MIN_WORK), small enough to be quick.
PRELUDE = textwrap.dedent("""
    import hashlib, json, os, sys, threading, warnings
    import numpy as np
    warnings.simplefilter("ignore", category=UserWarning)
    from sklearn.exceptions import ConvergenceWarning
    warnings.simplefilter("ignore", category=ConvergenceWarning)
    from fastbp import MLPClassifier
    from fastbp._threads import threading_layer_info
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1200, 20)); y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)

    def model(seed=0, **kw):
        kw = dict(dict(n_jobs=2, max_iter=4), **kw)
        return MLPClassifier(hidden_layer_sizes=(128,), batch_size=256, random_state=seed, **kw)

    def digest(m):
        return hashlib.sha256(b"".join(c.tobytes() for c in m.coefs_ + m.intercepts_)
                              + repr(m.loss_curve_).encode()).hexdigest()

    def report(**kw):
        print("RESULT " + json.dumps(dict(kw, layer=threading_layer_info()["layer"])))
""")


def run_case(layer, body, timeout=300, env=None):
    """Run PRELUDE + body in a fresh interpreter; the RESULT line it printed, as a dict."""
    # two threads even on a one-CPU machine, so that parallel kernels really run
    environment = dict(os.environ, NUMBA_NUM_THREADS="2", **(env or {}))
    environment.pop("NUMBA_THREADING_LAYER", None)
    if layer != "default":
        environment["NUMBA_THREADING_LAYER"] = layer
    result = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(body)],
                            env=environment, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (result.returncode, result.stderr[-3000:])
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(lines[-1][len("RESULT "):]), result.stderr


_loadable = {}


def require_layer(layer):
    """Skip (saying why) when this machine cannot load the layer at all; else
    check that the layer asked for is the one that runs."""
    if layer not in _loadable:
        info, _ = run_case(layer, "model().fit(X[:300], y[:300]); report()")
        _loadable[layer] = info["layer"]
    if _loadable[layer] is None:
        pytest.skip(f"Numba's {layer} threading layer cannot be loaded on this machine")
    if layer != "default":
        assert _loadable[layer] == layer
    return _loadable[layer]


def test_fastbp_chooses_a_fork_and_thread_safe_layer():
    """Not GNU OpenMP, whatever is installed: tbb where the tbb package is
    installed (fork- and thread-safe), else workqueue (fork-safe)."""
    from importlib import metadata

    info, _ = run_case("default", """
        import fastbp
        model().fit(X, y)
        report(**{k: v for k, v in fastbp.threading_info().items() if k != "layer"})
    """)
    try:
        metadata.distribution("tbb")
        assert info["layer"] == "tbb" and info["thread_safe"]
    except metadata.PackageNotFoundError:
        assert info["layer"] == "workqueue"
    assert info["fork_safe"]
    assert "fastbp's choice" in info["reason"]


@pytest.mark.parametrize("layer", LAYERS)
def test_fork_after_fit_child_fits_and_predicts(layer):
    """multiprocessing's 'fork' after a parallel fit: the child trains the same
    model as the parent and predicts (GNU OpenMP would terminate it)."""
    require_layer(layer)
    info, stderr = run_case(layer, """
        import multiprocessing as mp
        parent = model().fit(X, y)
        big = np.repeat(X, 3, axis=0)  # over 2,048 rows: parallel prediction
        def child(queue):
            m = model().fit(X, y)
            queue.put((digest(m), m.predict(big).tolist()))
        ctx = mp.get_context("fork")
        queue = ctx.Queue()
        p = ctx.Process(target=child, args=(queue,))
        p.start()
        child_digest, child_pred = queue.get(timeout=240)
        p.join(timeout=60)
        report(exitcode=p.exitcode, same_model=child_digest == digest(parent),
               same_pred=child_pred == parent.predict(big).tolist())
    """)
    assert info == dict(info, exitcode=0, same_model=True, same_pred=True)
    if info["layer"] == "omp":  # serial in the child, and said so once
        assert stderr.count("fastbp runs on one thread in this process") == 1


@pytest.mark.parametrize("layer", LAYERS)
def test_eight_threads_predicting_at_once_give_identical_results(layer):
    require_layer(layer)
    info, _ = run_case(layer, """
        m = model().fit(X, y)
        big = np.repeat(X, 4, axis=0)        # parallel prediction on the main thread
        want = {"proba": m.predict_proba(big).tobytes(), "one": m.predict_proba(X[:1]).tobytes()}
        got, errors = [], []
        def work():
            try:
                for _ in range(5):
                    got.append((m.predict_proba(big).tobytes() == want["proba"],
                                m.predict_proba(X[:1]).tobytes() == want["one"]))
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
        threads = [threading.Thread(target=work) for _ in range(8)]
        [t.start() for t in threads]; [t.join() for t in threads]
        report(n=len(got), all_same=all(a and b for a, b in got), errors=errors)
    """)
    assert info == dict(info, n=40, all_same=True, errors=[])


@pytest.mark.parametrize("layer", LAYERS)
def test_fits_in_joblib_threads_and_loky_processes_equal_fits_on_the_main_thread(layer):
    """Threading backend: off the main thread the serial twins run the same
    slices, so each model is bit-identical to its main-thread fit. Loky: the
    workers are other processes where joblib limits Numba's threads: n_jobs=2
    still means two slices there, so the models are the same too."""
    require_layer(layer)
    info, _ = run_case(layer, """
        from joblib import Parallel, delayed
        def fit(seed, n_jobs):
            return digest(model(seed, n_jobs=n_jobs).fit(X, y))
        main = [fit(s, 2) for s in range(4)]
        threaded = Parallel(n_jobs=4, backend="threading")(delayed(fit)(s, 2) for s in range(4))
        # in loky's workers joblib limits Numba to one thread: still 2 slices
        loky = Parallel(n_jobs=2, backend="loky")(delayed(fit)(s, 2) for s in range(4))
        report(threads=threaded == main, loky=loky == main)
    """)
    assert info == dict(info, threads=True, loky=True)


@pytest.mark.parametrize("layer", LAYERS)
def test_same_seed_and_n_jobs_give_the_same_model_quiet_busy_or_serial(layer):
    """Slices, not running threads, decide the numbers: a fit with two busy
    processes beside it (the governor may then run serially), and fits forced
    to serial twins or to parallel kernels, all equal the quiet fit."""
    require_layer(layer)
    info, _ = run_case(layer, """
        import subprocess, time
        from fastbp import _threads
        quiet = [digest(model(s).fit(X, y)) for s in (0, 0)]
        long_quiet = digest(model(max_iter=30).fit(X, y))
        with _threads.forced_mode(False):
            serial = digest(model().fit(X, y))
        with _threads.forced_mode(True):
            parallel = digest(model().fit(X, y))
        spin = "import time\\nend = time.time() + 60\\nwhile time.time() < end: pass"
        busy = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(2)]
        try:
            time.sleep(0.2)
            loaded = [digest(model(max_iter=30).fit(X, y)) for _ in range(2)]
        finally:
            for b in busy:
                b.kill()
        report(repeat=quiet[0] == quiet[1], serial=serial == quiet[0],
               parallel=parallel == quiet[0], busy=loaded == [long_quiet] * 2)
    """)
    assert info == dict(info, repeat=True, serial=True, parallel=True, busy=True)


# One epoch of the kernel itself, on a one-hidden-layer network (kernel
# arguments built as the estimators build them).
EPOCH_PRELUDE = textwrap.dedent("""
    from fastbp import _kernels, _threads
    from fastbp._kernels import KernelData, KernelDropout, KernelObjective, KernelTargets
    from fastbp._network import Network
    from fastbp._optim import StochasticOptimizer

    def epoch(order, n_slices, kernel=_kernels.train_epoch, max_grad_norm=0.0):
        network = Network.initial([20, 32, 3], "relu", "softmax", np.random.RandomState(0),
                                  np.float64)
        optimizer = StochasticOptimizer("adam", network.theta.shape[0], np.float64, 1e-3)
        Y = np.eye(3)[y]
        loss = kernel(KernelData.of(X, np.float64), KernelTargets(Y, np.ones(len(y))), order,
                      16, network.kernel_args(),
                      KernelObjective(1e-4, 1e-7, 1.0, _kernels.SOFTMAX, 1.0, max_grad_norm),
                      optimizer.kernel_args(), KernelDropout(np.zeros(2), np.uint64(0)),
                      n_slices, 0.0)
        return hashlib.sha256(network.theta.tobytes() + optimizer.state.tobytes()
                              + repr((loss, int(optimizer.step_count[0]))).encode()).hexdigest()
""")


@pytest.mark.parametrize("layer", LAYERS)
def test_epoch_tasks_finish_on_one_busy_cpu_with_more_slices_than_threads(layer):
    """An epoch is one parallel loop whose threads take tasks and wait for each
    other between the phases of every batch. Two threads on one CPU that a
    spinning process also wants, and 5 slices for 2 threads: every epoch
    finishes (the test's timeout would catch threads waiting in a circle)
    with the serial twin's bits."""
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no CPU affinity on this platform")
    require_layer(layer)
    info, _ = run_case(layer, EPOCH_PRELUDE + textwrap.dedent("""
        import subprocess
        cpu = sorted(os.sched_getaffinity(0))[0]
        os.sched_setaffinity(0, {cpu})
        order = np.random.default_rng(1).permutation(len(y))
        want = {(s, c): epoch(order, s, _kernels.train_epoch_serial, c)
                for s in (2, 5) for c in (0.0, 0.5)}
        spin = (f"import os, time\\nos.sched_setaffinity(0, {{{cpu}}})\\n"
                "end = time.time() + 60\\nwhile time.time() < end: pass")
        busy = subprocess.Popen([sys.executable, "-c", spin])
        try:
            with _threads.kernel_threads(2):
                got = {(s, c): [epoch(order, s, max_grad_norm=c) for _ in range(3)]
                       for s in (2, 5) for c in (0.0, 0.5)}
        finally:
            busy.kill()
        report(same=all(runs == [want[key]] * 3 for key, runs in got.items()))
    """), timeout=240)
    assert info == dict(info, same=True)


def test_grid_search_with_all_cores_in_processes():
    """GridSearchCV(n_jobs=-1): loky workers, where joblib sets NUMBA_NUM_THREADS
    so each fit takes its share of the cores (one, with a worker per core): the same scores as a
    sequential search of one-thread fits."""
    info, _ = run_case("default", """
        from sklearn.model_selection import GridSearchCV
        grid = {"alpha": [1e-4, 1e-2]}
        parallel = GridSearchCV(model(n_jobs=None), grid, cv=2, n_jobs=-1).fit(X, y)
        sequential = GridSearchCV(model(n_jobs=1), grid, cv=2, n_jobs=1).fit(X, y)
        report(parallel=parallel.cv_results_["mean_test_score"].tolist(),
               sequential=sequential.cv_results_["mean_test_score"].tolist())
    """)
    assert info["parallel"] == info["sequential"]
    assert min(info["parallel"]) > 0.5  # better than chance (0.4 for the majority class)


def test_fastbp_threads_follow_threadpoolctl_limits():
    """Inside threadpool_limits(1), n_jobs=None means one thread: the same model
    as n_jobs=1 (and BLAS's settings are back afterwards)."""
    from threadpoolctl import threadpool_info, threadpool_limits

    rng = np.random.default_rng(0)
    X = rng.normal(size=(1200, 20))
    y = (X[:, 0] > 0).astype(int)

    def fit(**kw):
        return MLPClassifier(hidden_layer_sizes=(128,), batch_size=256, max_iter=2,
                             random_state=0, **kw).fit(X, y).coefs_[0]

    before = [p["num_threads"] for p in threadpool_info()]
    with threadpool_limits(limits=1):
        assert _threads.resolve_n_jobs(None) == 1
        limited = fit()
    assert [p["num_threads"] for p in threadpool_info()] == before
    np.testing.assert_array_equal(limited, fit(n_jobs=1))


def test_available_cpus_follow_the_affinity_mask():
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no CPU affinity on this platform")
    info, _ = run_case("default", """
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        from fastbp import _threads
        report(cpus=_threads.available_cpus(), resolved=_threads.resolve_n_jobs(None))
    """)
    assert info["cpus"] == 1 and info["resolved"] == 1


def test_switching_between_parallel_and_serial_mid_epoch_keeps_every_bit(monkeypatch):
    """The governor's freedom: a fit whose every step is one batch, alternating
    between the parallel kernel and its serial twin, equals one forced to
    whole parallel epochs, bit for bit."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1200, 20))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)

    def fit():
        return MLPClassifier(hidden_layer_sizes=(128,), batch_size=256, max_iter=3,
                             random_state=0, n_jobs=2).fit(X, y)

    with _threads.forced_mode(True):
        reference = fit()
    modes = []

    def alternate(self):
        modes.append(self.parallel)
        self.parallel = not self.parallel

    monkeypatch.setattr(_threads.ThreadGovernor, "units_per_step", lambda self, remaining: 1)
    monkeypatch.setattr(_threads.ThreadGovernor, "_choose", alternate)
    mixed = fit()
    assert _threads.parallel_allowed()  # the main thread of a process that did not fork
    assert True in modes and False in modes
    for a, b in zip(reference.coefs_ + reference.intercepts_, mixed.coefs_ + mixed.intercepts_):
        assert a.tobytes() == b.tobytes()
    assert reference.loss_curve_ == mixed.loss_curve_


class _Clock:
    """Fake step timings for ThreadGovernor: seconds per unit of each mode."""

    def __init__(self, governor):
        self.governor = governor

    def run(self, steps, parallel_s, serial_s, preemptions=0):
        chosen = []
        for _ in range(steps):
            chosen.append(self.governor.parallel)
            per_unit = parallel_s if self.governor.parallel else serial_s
            self.governor._record(self.governor.parallel, per_unit, preemptions)
        return chosen


def test_governor_runs_the_faster_mode_and_keeps_looking(monkeypatch):
    monkeypatch.setattr(_threads, "parallel_allowed", lambda: True)
    monkeypatch.setattr(_threads, "_VERDICTS", {})
    governor = _threads.ThreadGovernor(2, "test")
    clock = _Clock(governor)
    # quiet: parallel twice as fast; serial looked at once within 64 steps at most
    quiet = clock.run(130, parallel_s=1.0, serial_s=2.0)
    assert quiet[0] is True and 1 <= quiet.count(False) <= 3
    # busy (preempted every step) and serial now faster: serial runs most steps,
    # parallel is still looked at now and then
    busy = clock.run(60, parallel_s=3.0, serial_s=2.0, preemptions=2)
    assert busy[-40:].count(False) >= 30 and True in busy[-40:]
    # quiet again: back to parallel
    after = clock.run(60, parallel_s=1.0, serial_s=2.0)
    assert after[-20:].count(True) >= 19
    # a new governor of the same kind starts from what this one learnt
    assert _threads.ThreadGovernor(2, "test").parallel is True


def test_governor_is_off_for_one_slice_and_off_the_main_thread():
    assert _threads.ThreadGovernor(1, "one").parallel is False
    seen = []
    thread = threading.Thread(target=lambda: seen.append(_threads.ThreadGovernor(4, "x").parallel))
    thread.start()
    thread.join()
    assert seen == [False]


def test_n_jobs_is_bounded_and_zero_is_refused():
    """n_jobs=10**6 asks for a gradient buffer per slice: capped, not allocated;
    n_jobs=0 means nothing, as in joblib."""
    assert _threads.resolve_n_jobs(10**6) == _threads.MAX_SLICES
    assert _threads.resolve_n_jobs(3) == 3  # exactly n_jobs, whatever the machine
    assert _threads.resolve_n_jobs(-10**6) == 1
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 4)), np.arange(60) % 2
    MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, n_jobs=10**6).fit(X, y)
    with pytest.raises(ValueError, match="n_jobs == 0"):
        MLPClassifier(max_iter=2, n_jobs=0).fit(X, y)
