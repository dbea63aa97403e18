"""The benchmark's other targets: inference, start-up, memory and scale, and
training throughput per hidden activation against scikit-learn.

Each measurement runs in its own fresh process (``run.py --worker extra NAME``)
with the thread environment of ``run.py``; the driver functions below start
them, alternate the systems where two are compared, and format the tables.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

ESTIMATORS = {"fastbp": "fastbp", "sklearn": "sklearn.neural_network"}
INFERENCE_ROWS = 20_000


def _estimator(system):
    import importlib

    return importlib.import_module(ESTIMATORS[system]).MLPClassifier


def _best_mean(fn, calls, repeats=5):
    """Best over ``repeats`` of the mean time of ``calls`` calls of fn, after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def _peak_rss_mib():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _current_rss_mib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# ---------------------------------------------------------------------------
# Worker side: one measurement, printed as one JSON line.
# ---------------------------------------------------------------------------
def worker_inference(system, workload_name):
    """predict_proba throughput on INFERENCE_ROWS rows and single-row predict latency."""
    import warnings

    from systems import WORKLOADS

    warnings.simplefilter("ignore")
    w = WORKLOADS[workload_name]
    X, y = w.data()
    model = _estimator(system)(hidden_layer_sizes=w.hidden, max_iter=1, random_state=0)
    model.fit(X[:2000], y[:2000])
    batch = X[:INFERENCE_ROWS]
    one = X[:1].copy()
    batch_s = _best_mean(lambda: model.predict_proba(batch), 3)
    row_s = _best_mean(lambda: model.predict(one), 300)
    result = {"rows_per_s": len(batch) / batch_s, "single_row_us": row_s * 1e6}
    if system == "sklearn":
        # The floor under any forward pass: its matrix products alone, with
        # NumPy's BLAS (scikit-learn's), no bias, activation or softmax.
        weights = model.coefs_

        def matmuls():
            z = batch
            for w in weights:
                z = z @ w

        result["matmul_rows_per_s"] = len(batch) / _best_mean(matmuls, 3)
    return result


def worker_onnx(system, workload_name):
    """fastbp against onnxruntime on the same weights: predict_proba rows/s and 1-row latency.

    The model is fastbp's (the workload's network, one epoch on 2,000 rows);
    'onnxruntime' runs its ONNX export (fastbp.onnx, no ZipMap) with as many
    intra-op threads as the run's thread count.
    """
    import warnings

    from systems import WORKLOADS

    import fastbp

    warnings.simplefilter("ignore")
    w = WORKLOADS[workload_name]
    X, y = w.data()
    model = fastbp.MLPClassifier(hidden_layer_sizes=w.hidden, max_iter=1, random_state=0)
    model.fit(X[:2000], y[:2000])
    batch = X[:INFERENCE_ROWS]
    one = X[:1].copy()
    if system == "fastbp":
        batch_s = _best_mean(lambda: model.predict_proba(batch), 3)
        row_s = _best_mean(lambda: model.predict(one), 300)
    else:
        import onnxruntime

        import fastbp.onnx

        onx = fastbp.onnx.to_onnx(model, X[:1], options={id(model): {"zipmap": False}})
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(os.environ.get("OMP_NUM_THREADS", "0"))
        session = onnxruntime.InferenceSession(onx.SerializeToString(), options,
                                               providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        batch_s = _best_mean(lambda: session.run(["probabilities"], {name: batch}), 3)
        row_s = _best_mean(lambda: session.run(["label"], {name: one}), 300)
    return {"rows_per_s": len(batch) / batch_s, "single_row_us": row_s * 1e6}


def format_onnx(results):
    header = (f"{'workload':<12}{'thr':>4}{'fastbp rows/s':>15}{'onnxruntime rows/s':>20}{'×':>7}"
              f"{'fastbp 1-row µs':>17}{'onnxruntime µs':>16}{'fraction':>10}")
    lines = [header, "-" * len(header)]
    for (wname, threads), r in results.items():
        f, o = r.get("fastbp", {}), r.get("onnxruntime", {})
        if "rows_per_s" not in f or "rows_per_s" not in o:
            lines.append(f"{wname:<12}{threads:>4}  error: {f.get('error') or o.get('error')}")
            continue
        lines.append(f"{wname:<12}{threads:>4}{f['rows_per_s']:>15,.0f}{o['rows_per_s']:>20,.0f}"
                     f"{f['rows_per_s'] / o['rows_per_s']:>6.2f}×{f['single_row_us']:>17.1f}"
                     f"{o['single_row_us']:>16.1f}{f['single_row_us'] / o['single_row_us']:>10.2f}")
    return "\n".join(lines)


def worker_memory(system, n_samples, n_features):
    """Peak RSS that one epoch of fit adds over the input arrays (float32 X)."""
    import warnings

    import numpy as np

    warnings.simplefilter("ignore")
    Estimator = _estimator(system)
    rng = np.random.default_rng(0)
    small = rng.standard_normal((64, n_features), dtype=np.float32)
    Estimator(hidden_layer_sizes=(100,), max_iter=1).fit(small, np.arange(64) % 10)  # load kernels
    X = rng.standard_normal((n_samples, n_features), dtype=np.float32)
    y = rng.integers(0, 10, n_samples)
    before = max(_current_rss_mib(), _peak_rss_mib())
    start = time.perf_counter()
    Estimator(hidden_layer_sizes=(100,), max_iter=1, random_state=0).fit(X, y)
    return {"input_mib": (X.nbytes + y.nbytes) / 2**20, "rss_before_fit_mib": before,
            "fit_added_mib": _peak_rss_mib() - before, "fit_s": time.perf_counter() - start}


def worker_scale():
    """fastbp epoch time per sample against n_samples, and against the parameter count."""
    import warnings

    import numpy as np

    from fastbp import MLPClassifier

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)

    def epoch_seconds(n, hidden, features=64):
        X = rng.standard_normal((n, features), dtype=np.float32)
        y = rng.integers(0, 10, n)
        model = MLPClassifier(hidden_layer_sizes=hidden, max_iter=1, random_state=0)
        model.fit(X[:1000], y[:1000])
        best = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            MLPClassifier(hidden_layer_sizes=hidden, max_iter=1, random_state=0).fit(X, y)
            best = min(best, time.perf_counter() - start)
        return best, sum(a * b + b for a, b in zip([features, *hidden], [*hidden, 10]))

    by_samples = []
    for n in (10_000, 100_000, 1_000_000):
        seconds, params = epoch_seconds(n, (100,))
        by_samples.append({"n_samples": n, "n_params": params, "epoch_s": seconds})
    by_params = []
    for width in (64, 256, 1024):
        seconds, params = epoch_seconds(100_000, (width, width))
        by_params.append({"n_samples": 100_000, "n_params": params, "epoch_s": seconds})
    return {"by_samples": by_samples, "by_params": by_params}


# The activations scikit-learn has (compared), then fastbp's own and dropout
# (fastbp only; each compared with fastbp's relu).
ACTIVATIONS = ("relu", "tanh", "logistic")
FASTBP_ONLY = ("leaky_relu", "elu", "softplus", "gelu", "silu", "relu+dropout")
DROPOUT = 0.2


def worker_activation(system, activation, workload_name):
    """Training samples/s of one epoch with the given hidden activation (best of 3).

    'relu+dropout' is relu with dropout=DROPOUT on every hidden layer.
    """
    import warnings

    from systems import WORKLOADS

    warnings.simplefilter("ignore")
    w = WORKLOADS[workload_name]
    X, y = w.data()
    Estimator = _estimator(system)
    extra = {}
    if activation.endswith("+dropout"):
        activation, extra = activation.split("+")[0], {"dropout": DROPOUT}
    params = dict(hidden_layer_sizes=w.hidden, batch_size=w.batch_size, activation=activation,
                  learning_rate_init=1e-3, max_iter=1, random_state=0, **extra)
    Estimator(**params).fit(X[:1000], y[:1000])  # compile / load kernels
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        Estimator(**params).fit(X, y)
        best = min(best, time.perf_counter() - start)
    return {"samples_per_s": len(X) / best}


def worker(argv):
    kind = argv[0]
    if kind == "inference":
        result = worker_inference(argv[1], argv[2])
    elif kind == "onnx":
        result = worker_onnx(argv[1], argv[2])
    elif kind == "activation":
        result = worker_activation(argv[1], argv[2], argv[3])
    elif kind == "memory":
        result = worker_memory(argv[1], int(argv[2]), int(argv[3]))
    elif kind == "scale":
        result = worker_scale()
    else:
        raise SystemExit(f"unknown extra measurement {kind!r}")
    print(json.dumps(result))


# ---------------------------------------------------------------------------
# Driver side.
# ---------------------------------------------------------------------------
STARTUP_SCRIPT = """
import time
from {module} import MLPClassifier
from sklearn.datasets import load_digits
import warnings
warnings.simplefilter("ignore")
X, y = load_digits(return_X_y=True)
start = time.perf_counter()
MLPClassifier(max_iter=50, tol=0.0, n_iter_no_change=10**9, random_state=0).fit(X, y)
print(time.perf_counter() - start)
"""


def _startup_seconds(system, env):
    """(seconds for the whole process, seconds of its fit call)."""
    code = STARTUP_SCRIPT.format(module=ESTIMATORS[system])
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True,
                         text=True)
    return time.perf_counter() - start, float(out.stdout.split()[-1])


def measure_startup(env, repeats=3):
    """Fresh process: import + fit digits for 50 epochs, fastbp vs scikit-learn (alternated).

    Warm: fastbp's compile cache as installed (filled by a first run). Cold: an
    empty NUMBA_CACHE_DIR, so every kernel the fit needs is compiled.
    """
    _startup_seconds("fastbp", env)  # make sure the installed cache is warm
    times = {"fastbp": [], "sklearn": []}
    for r in range(repeats):
        for system in (("fastbp", "sklearn") if r % 2 == 0 else ("sklearn", "fastbp")):
            times[system].append(_startup_seconds(system, env)[0])
    with tempfile.TemporaryDirectory() as cache:
        cold_total, cold_fit = _startup_seconds("fastbp", dict(env, NUMBA_CACHE_DIR=cache))
    median = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    return {"fastbp_s": median["fastbp"], "sklearn_s": median["sklearn"],
            "ratio": median["fastbp"] / median["sklearn"], "fastbp_cold_s": cold_total,
            "fastbp_cold_fit_s": cold_fit, "all": times}


def best_inference(kept, new):
    """Per measurement the best of two rounds: most rows/s, least single-row µs."""
    if kept is None or "error" in kept:
        return new
    if "error" in new:
        return kept
    return {key: (min if key.endswith("_us") else max)(kept[key], new[key]) for key in kept}


def format_inference(results):
    header = (f"{'workload':<12}{'thr':>4}{'fastbp rows/s':>15}{'sklearn rows/s':>16}{'×':>7}"
              f"{'matmuls rows/s':>16}{'ceiling':>9}"
              f"{'fastbp 1-row µs':>17}{'sklearn µs':>12}{'fraction':>10}")
    lines = [header, "-" * len(header)]
    for (wname, threads), r in results.items():
        f, s = r.get("fastbp", {}), r.get("sklearn", {})
        if "rows_per_s" not in f or "rows_per_s" not in s:
            lines.append(f"{wname:<12}{threads:>4}  error: {f.get('error') or s.get('error')}")
            continue
        lines.append(f"{wname:<12}{threads:>4}{f['rows_per_s']:>15,.0f}{s['rows_per_s']:>16,.0f}"
                     f"{f['rows_per_s'] / s['rows_per_s']:>6.2f}×"
                     f"{s['matmul_rows_per_s']:>16,.0f}{s['matmul_rows_per_s'] / s['rows_per_s']:>8.2f}×"
                     f"{f['single_row_us']:>17.1f}{s['single_row_us']:>12.1f}"
                     f"{f['single_row_us'] / s['single_row_us']:>10.2f}")
    return "\n".join(lines)


def best_rate(kept, new):
    """The better of two activation measurements (either may be None or an error)."""
    if kept is None or "samples_per_s" not in kept:
        return new
    if "samples_per_s" not in new or new["samples_per_s"] < kept["samples_per_s"]:
        return kept
    return new


def format_activations(results):
    """fastbp per activation, as a fraction of its relu rate, and scikit-learn's where it has it."""
    header = (f"{'activation':<14}{'fastbp samples/s':>18}{'vs relu':>9}"
              f"{'sklearn samples/s':>19}{'×':>8}")
    lines = [header, "-" * len(header)]
    relu = results.get("relu", {}).get("fastbp", {}).get("samples_per_s")
    for activation, r in results.items():
        f, s = r.get("fastbp", {}), r.get("sklearn")
        if "samples_per_s" not in f:
            lines.append(f"{activation:<14}  error: {f.get('error')}")
            continue
        rate = f["samples_per_s"]
        line = f"{activation:<14}{rate:>18,.0f}{(rate / relu if relu else float('nan')):>9.2f}"
        if s is None:
            line += f"{'—':>19}{'':>8}"
        elif "samples_per_s" not in s:
            line += f"  sklearn error: {s.get('error')}"
        else:
            line += f"{s['samples_per_s']:>19,.0f}{rate / s['samples_per_s']:>7.2f}×"
        lines.append(line)
    return "\n".join(lines)


def format_memory(results):
    lines = []
    for system, r in results.items():
        if "error" in r:
            lines.append(f"{system:<8} error: {r['error']}")
            continue
        lines.append(f"{system:<8} input {r['input_mib']:.0f} MiB; one epoch of fit adds "
                     f"{r['fit_added_mib']:.0f} MiB to the peak RSS ({r['fit_s']:.1f} s)")
    return "\n".join(lines)


def format_scale(r):
    lines = ["  samples     params   epoch s   µs/sample   µs/sample per 10k params"]
    for row in r["by_samples"] + r["by_params"]:
        per_sample = row["epoch_s"] / row["n_samples"] * 1e6
        lines.append(f"{row['n_samples']:>9,}{row['n_params']:>11,}{row['epoch_s']:>10.3f}"
                     f"{per_sample:>12.3f}{per_sample / row['n_params'] * 1e4:>14.3f}")
    return "\n".join(lines)
