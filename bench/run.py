"""Training throughput of fastbp beside scikit-learn, PyTorch eager and JAX.

    python bench/run.py                          # all workloads, all systems, all cores
    python bench/run.py --workloads wide --threads 1,2 --repeats 5
    python bench/run.py --extras none            # training throughput only

Every (workload, system, thread count) runs in its own fresh process with the
thread count fixed through the environment (BLAS, OpenMP, Numba, PyTorch, XLA),
is warmed up first (compile / trace time reported apart), then timed best of
``--repeats``; the whole comparison runs ``--rounds`` times, alternating the
order of systems, and each system keeps its best round. The float32 and float64
matmul peaks are measured with numpy in the same way, so "% of peak" compares
like with like (each workload against the peak of its dtype; medium-f64 is medium
in float64, for fastbp, fastbp computing in float32 and scikit-learn only). Then
the other targets (``--extras``,
see phases.py, extras.py and busy.py): where a batch's time goes (forward, backward,
optimizer and the threads' overhead, float32 and float64), training beside busy
processes and on one core,
inference against scikit-learn (predict_proba rows/s and
single-row latency, with the rows/s of the bare matrix products as a ceiling;
``--rounds`` rounds too, best kept), serving against onnxruntime on the same
weights (fastbp.onnx), training per hidden activation (scikit-learn's relu, tanh, logistic
against it, fastbp's leaky_relu, elu, softplus, gelu, silu and relu with dropout
against its own relu),
start-up (a fresh process fitting digits, warm and cold
compile cache), peak memory of fit on 1,000,000 × 100 float32, and how epoch
time scales with samples and parameters. The command removes OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE from its own environment so every system runs the machine's
real BLAS kernels, and records which kernel ran (threadpoolctl).

Writes bench/results/results.json and bench/results/throughput.png.
"""

import argparse
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SYSTEM_ORDER = ["fastbp", "fastbp-openblas", "fastbp-f32", "jax", "torch", "sklearn"]
LABELS = {"fastbp": "fastbp", "fastbp-openblas": "fastbp/OpenBLAS", "fastbp-1": "fastbp n_jobs=1",
          "fastbp-f32": "fastbp f32 comp",
          "sklearn": "scikit-learn",
          "torch": "PyTorch eager", "jax": "JAX jit+scan"}
# fastbp as installed uses MKL when the mkl extra is there; this row shows it without
SYSTEM_ENV = {"fastbp-openblas": {"FASTBP_BLAS": "openblas"}}


def mkl_installed():
    import glob

    return bool(glob.glob(os.path.join(sys.prefix, "lib", "libmkl_rt.so*")))


def thread_env(threads):
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    n = str(threads)
    env.update(OMP_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n, MKL_NUM_THREADS=n,
               NUMBA_NUM_THREADS=n,
               XLA_FLAGS=f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
                         f"intra_op_parallelism_threads={n}")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), str(HERE.parent),
                                                      env.get("PYTHONPATH")]))
    return env


def serving_rounds(kind, systems, workload_names, thread_counts, rounds):
    """Inference measurements (``extra KIND SYSTEM WORKLOAD``) of two systems.

    ``rounds`` rounds in alternating order, each measurement keeping its
    best round, as for training: one burst of load must not decide a ratio.
    Returns {(workload, threads): {system: result}}.
    """
    import extras

    found = {}
    for round_ in range(rounds):
        for i, (wname, t) in enumerate(itertools.product(workload_names, thread_counts)):
            kept = found.setdefault((wname, t), {})
            for s in (systems if (i + round_) % 2 == 0 else systems[::-1]):
                kept[s] = extras.best_inference(kept.get(s),
                                                run_worker(["extra", kind, s, wname], t))
    return found


def run_worker(args, threads, timeout=3600, extra_env=None):
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", *args]
    out = subprocess.run(cmd, env={**thread_env(threads), **(extra_env or {})},
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------
# Worker side: one measurement in a fresh process.
# ---------------------------------------------------------------------------
def blas_info():
    from threadpoolctl import threadpool_info

    return [{k: p.get(k) for k in ("prefix", "version", "architecture", "num_threads")}
            for p in threadpool_info() if p["user_api"] == "blas"]


def worker(argv):
    kind = argv[0]
    if kind == "extra":
        import extras

        return extras.worker(argv[1:])
    if kind == "phases":
        import phases

        return phases.worker(argv[1:])
    if kind == "peak":
        import time

        import numpy as np

        n = 2048
        dtype = argv[1] if len(argv) > 1 else "float32"
        a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
        b = a.copy()
        c = np.empty_like(a)
        np.matmul(a, b, out=c)
        best = min(_time_once(lambda: np.matmul(a, b, out=c), time) for _ in range(10))
        print(json.dumps({"gflops": 2 * n**3 / best / 1e9, "blas": blas_info()}))
        return
    system, workload_name, repeats = argv[0], argv[1], int(argv[2])
    from systems import SYSTEMS, WORKLOADS

    import numba

    w = WORKLOADS[workload_name]
    X, y = w.data()
    if system == "torch":
        import torch

        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    trained = SYSTEMS[system](X, y, w, repeats)
    print(json.dumps({
        "system": trained.system, "warmup_s": trained.warmup_s,
        "epoch_times": trained.epoch_times, "best_s": trained.best_s,
        "samples_per_s": trained.samples_per_epoch * w.epochs / trained.best_s,
        "final_loss": trained.final_loss, "blas": blas_info(),
        "numba_threads": numba.get_num_threads(),
        "fastbp_blas": (__import__("fastbp").blas_info()["backend"]
                        if system.startswith("fastbp") else None),
        "threading_layer": (__import__("fastbp").threading_info()["layer"]
                            if system.startswith("fastbp") else None),
    }))


def _better(kept, new):
    """The faster of two measurements of one system; every round's samples/s is kept."""
    rounds = (kept or {}).get("rounds_samples_per_s", []) + [new.get("samples_per_s")]
    if kept is None or "error" in kept or (
            "error" not in new and new["samples_per_s"] > kept["samples_per_s"]):
        kept = new
    return dict(kept, rounds_samples_per_s=rounds)


def _time_once(fn, time):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# ---------------------------------------------------------------------------
# Driver side.
# ---------------------------------------------------------------------------
def _dtype(system, workload):
    """The dtype a system computes a workload in."""
    return "float32" if system == "fastbp-f32" else workload.dtype


def format_table(results, workloads, peaks):
    """The training table; ``peaks`` is {dtype: {threads: GFLOP/s}} (% of each row's dtype)."""
    lines = []
    header = (f"{'workload':<12}{'thr':>4} {'system':<15}{'samples/s':>12}{'fastbp ×':>10}"
              f"{'GFLOP/s':>9}{'% peak':>8}{'warm-up s':>10}")
    lines.append(header)
    lines.append("-" * len(header))
    for (wname, threads), by_system in results.items():
        w = workloads[wname]
        ours = by_system.get("fastbp", {}).get("samples_per_s")
        for system in SYSTEM_ORDER:
            r = by_system.get(system)
            if r is None:
                continue
            if "error" in r:
                lines.append(f"{wname:<12}{threads:>4} {LABELS[system]:<15}  error: {r['error']}")
                continue
            sps = r["samples_per_s"]
            gflops = 6 * w.n_params * sps / 1e9
            ratio = "" if system == "fastbp" or not ours else f"{ours / sps:.2f}×"
            lines.append(f"{wname:<12}{threads:>4} {LABELS[system]:<15}{sps:>12,.0f}{ratio:>10}"
                         f"{gflops:>9.1f}"
                         f"{100 * gflops / peaks[_dtype(system, w)][threads]:>7.1f}%"
                         f"{r['warmup_s']:>10.2f}")
    return "\n".join(lines)


def draw_chart(results, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no chart (pip install -e '.[bench]')")
        return None
    keys = list(results)
    systems = [s for s in SYSTEM_ORDER if any(s in results[k] for k in keys)]
    fig, ax = plt.subplots(figsize=(max(6, 2.2 * len(keys)), 4.5))
    width = 0.8 / len(systems)
    for i, system in enumerate(systems):
        values = [results[k].get(system, {}).get("samples_per_s", 0) or 0 for k in keys]
        bars = ax.bar([j + i * width for j in range(len(keys))], values, width,
                      label=LABELS[system])
        ax.bar_label(bars, labels=[f"{v / 1e3:.0f}k" if v else "" for v in values],
                     fontsize=7, rotation=90, padding=2)
    ax.set_xticks([j + width * (len(systems) - 1) / 2 for j in range(len(keys))])
    ax.set_xticklabels([f"{w}\n{t} thread{'s' if t > 1 else ''}" for w, t in keys])
    ax.set_ylabel("training samples / s (higher is better)")
    ax.set_yscale("log")
    ax.set_title("MLP training throughput, float32 Adam, softmax cross-entropy")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        return worker(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="small,medium,wide,deep-narrow,medium-f64")
    parser.add_argument("--systems", default=None,
                        help="comma-separated, of " + ", ".join(SYSTEM_ORDER) + " (default: all; "
                             "fastbp-openblas only where MKL is installed)")
    parser.add_argument("--threads", default=str(os.cpu_count() or 1),
                        help="comma-separated thread counts (default: all cores)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2,
                        help="measure every system this many times, alternating (best kept)")
    parser.add_argument("--extras",
                        default="phases,busy,inference,onnx,activations,startup,memory,scale",
                        help="other targets to measure (comma-separated), or 'none'")
    parser.add_argument("--memory-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.rounds < 1 or args.repeats < 1:
        parser.error("--rounds and --repeats must be at least 1")

    from systems import FLOAT64_SYSTEMS, WORKLOADS

    workload_names = args.workloads.split(",")
    systems = (args.systems.split(",") if args.systems else
               [s for s in SYSTEM_ORDER if s != "fastbp-openblas" or mkl_installed()])
    if "medium-f64" in workload_names and "fastbp" in systems and "fastbp-f32" not in systems:
        systems.append("fastbp-f32")  # float64 input computed in float32 (compute_dtype)
    thread_counts = [int(t) for t in args.threads.split(",")]
    RESULTS.mkdir(exist_ok=True)

    # Shared machines slow down in bursts of seconds to minutes. Each round
    # measures every system once more, in fresh processes and in the other
    # order; each system keeps its best round (the peak too), so one burst
    # cannot decide a ratio.
    peaks, blas, results = {"float32": {}, "float64": {}}, None, {}
    for round_ in range(args.rounds):
        for threads, dtype in itertools.product(thread_counts, peaks):
            r = run_worker(["peak", dtype], threads)
            peaks[dtype][threads] = max(peaks[dtype].get(threads, 0.0), r["gflops"])
            blas = r["blas"]
            print(f"round {round_ + 1}: {dtype} matmul peak, {threads} thread(s): "
                  f"{r['gflops']:.1f} GFLOP/s", flush=True)
        step = 0
        for wname in workload_names:
            for threads in thread_counts:
                by_system = results.setdefault((wname, threads), {})
                # alternate the order of systems between workloads and rounds
                step += 1
                order = systems if (step + round_) % 2 else systems[::-1]
                if WORKLOADS[wname].dtype == "float64":
                    order = [s for s in order if s in FLOAT64_SYSTEMS]
                else:
                    order = [s for s in order if s != "fastbp-f32"]
                for system in order:
                    r = run_worker([system, wname, str(args.repeats)], threads,
                                   extra_env=SYSTEM_ENV.get(system))
                    msg = r.get("error") or f"{r['samples_per_s']:,.0f} samples/s"
                    print(f"  round {round_ + 1}: {wname} / {threads} thr / {system}: {msg}",
                          flush=True)
                    by_system[system] = _better(by_system.get(system), r)
    print("BLAS:", "; ".join(f"{b['prefix']} {b['version']} ({b['architecture']})" for b in blas))

    kernels = {f"{b['prefix']} {b['version']} ({b['architecture']}, {b['num_threads']} thr)"
               for by_system in results.values() for r in by_system.values()
               for b in r.get("blas", [])}
    print("BLAS in the runs:", "; ".join(sorted(kernels)))
    backends = sorted({f"{LABELS[s]}: {r['fastbp_blas']}" for by_system in results.values()
                       for s, r in by_system.items() if r.get("fastbp_blas")})
    if backends:
        print("fastbp's kernels call:", "; ".join(backends))
    table = format_table(results, WORKLOADS, peaks)
    print()
    print(table)
    chart = draw_chart(results, RESULTS / "throughput.png")
    if chart:
        print(f"\nchart: {chart}")
    extra_results, extra_tables = run_extras(args, workload_names, thread_counts, peaks)
    (RESULTS / "results.json").write_text(json.dumps(
        {"peaks_gflops": peaks, "blas": blas,
         "results": {f"{w}/{t}": v for (w, t), v in results.items()}, **extra_results},
        indent=2))
    (RESULTS / "table.txt").write_text("\n\n".join([table, *extra_tables]) + "\n")


def run_extras(args, workload_names, thread_counts, peaks):
    """The targets besides training throughput; returns (results, printed tables)."""
    import extras
    from systems import WORKLOADS

    wanted = set() if args.extras == "none" else set(args.extras.split(","))
    threads = max(thread_counts)
    results, tables = {}, []

    def show(title, text):
        print(f"\n{title}\n{text}", flush=True)
        tables.append(f"{title}\n{text}")

    if "phases" in wanted:
        import phases

        found = []
        # each float32 workload's shape in float32 and float64
        for wname in [w for w in workload_names if WORKLOADS[w].dtype == "float32"]:
            for dtype in ("float32", "float64"):
                found.append(run_worker(["phases", wname, dtype], threads))
                print(f"  phases: {wname} / {dtype} done", flush=True)
        results["phases"] = found
        show(f"Where a batch's time goes (bench/phases.py), µs per batch, {threads} threads. "
             "forward, backward: one slice of the batch on one thread; optimizer: the whole "
             "step on one thread; ideal = forward + backward + optimizer / slices; epoch: the "
             "epoch kernel (serial: its one-thread twin); overhead = epoch − ideal; % peak: of "
             "the matmul peak of the row's dtype",
             phases.format_table(found, {d: peaks[d][threads] for d in peaks}))
    if "busy" in wanted:
        import busy

        names = [w for w in workload_names if w in ("small", "medium")] or workload_names[:1]
        found = busy.measure(str(Path(__file__).resolve()), thread_env(os.cpu_count() or 1),
                             names, args.repeats, args.rounds,
                             log=lambda m: print(m, flush=True))
        results["busy"] = {f"{w}/{c}": v for (w, c), v in found.items()}
        show(f"Busy machine: K busy processes beside each run, or one core (CPU affinity); "
             f"best of {args.rounds} rounds", busy.format_table(found, LABELS))
    if "inference" in wanted:
        inference = serving_rounds("inference", ("fastbp", "sklearn"), workload_names,
                                   thread_counts, args.rounds)
        results["inference"] = {f"{w}/{t}": v for (w, t), v in inference.items()}
        show(f"Inference: predict_proba on {extras.INFERENCE_ROWS:,} rows, and single-row "
             f"predict latency (fraction = fastbp / scikit-learn), best of {args.rounds} rounds",
             extras.format_inference(inference))
    if "onnx" in wanted:
        served = serving_rounds("onnx", ("fastbp", "onnxruntime"), workload_names,
                                thread_counts, args.rounds)
        results["onnx"] = {f"{w}/{t}": v for (w, t), v in served.items()}
        show(f"Serving: fastbp against onnxruntime on the same weights (fastbp.onnx export): "
             f"predict_proba on {extras.INFERENCE_ROWS:,} rows and single-row predict, "
             f"best of {args.rounds} rounds", extras.format_onnx(served))
    if "activations" in wanted:
        workload = "medium" if "medium" in workload_names else workload_names[0]
        by_activation = {}
        names = extras.ACTIVATIONS + extras.FASTBP_ONLY
        # --rounds rounds, the activations in the other order each round (best kept)
        for round_ in range(args.rounds):
            for activation in (names if round_ % 2 == 0 else names[::-1]):
                kept = by_activation.setdefault(activation, {})
                compared = ("fastbp", "sklearn") if activation in extras.ACTIVATIONS else ("fastbp",)
                for s in (compared if round_ % 2 == 0 else compared[::-1]):
                    kept[s] = extras.best_rate(kept.get(s), run_worker(
                        ["extra", "activation", s, activation, workload], threads))
        results["activations"] = {a: by_activation[a] for a in names}
        show(f"Training per hidden activation: {workload}, {threads} threads, one epoch "
             f"(best of 3 × {args.rounds} rounds); relu+dropout: dropout={extras.DROPOUT}",
             extras.format_activations(results["activations"]))
    if "startup" in wanted:
        r = extras.measure_startup(thread_env(threads))
        results["startup"] = r
        show("Start-up: fresh process, import + fit digits for 50 epochs (median of 3, alternated)",
             f"fastbp {r['fastbp_s']:.2f} s, scikit-learn {r['sklearn_s']:.2f} s: "
             f"{r['ratio']:.2f}× (warm compile cache). First-ever run, empty cache: "
             f"{r['fastbp_cold_s']:.1f} s in all, of which the first fit (compiling its "
             f"kernels) {r['fastbp_cold_fit_s']:.1f} s")
    if "memory" in wanted:
        memory = {s: run_worker(["extra", "memory", s, str(args.memory_rows), "100"], threads)
                  for s in ("fastbp", "sklearn")}
        results["memory"] = memory
        show(f"Memory: fit, one epoch, {args.memory_rows:,} × 100 float32, hidden (100,)",
             extras.format_memory(memory))
    if "scale" in wanted:
        r = run_worker(["extra", "scale"], threads)
        results["scale"] = r
        show("Scale: fastbp epoch time (hidden (100,) over samples; (w, w) over parameters)",
             extras.format_scale(r) if "error" not in r else f"error: {r['error']}")
    return results, tables


if __name__ == "__main__":
    main()
