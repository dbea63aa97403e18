"""Training throughput on a busy machine and on one core.

Each system trains in a fresh process (``run.py --worker``) with all cores'
thread environment, as a user who sets nothing would, under four conditions:

- quiet;
- K = 1 and K = 2 busy processes beside it (pure-Python spin loops started
  just before the worker and killed right after it, each bounded by a
  deadline so none can outlive the harness);
- one core: the worker's CPU affinity set to the first allowed CPU
  (``taskset -c 0`` in effect).

Reported: samples/s, the ratio to the same system's quiet figure, and
fastbp's default over fastbp ``n_jobs=1`` in the same condition.
"""

import json
import os
import subprocess
import sys
import time

SYSTEMS = ["fastbp", "fastbp-1", "sklearn", "jax"]
CONDITIONS = ["quiet", "busy 1", "busy 2", "one core"]
_SPIN = "import time\nend = time.time() + {seconds}\nwhile time.time() < end: pass\n"


def _one_core():
    first = sorted(os.sched_getaffinity(0))[0]
    os.sched_setaffinity(0, {first})


def run_condition(run_py, env, system, workload, repeats, condition, timeout=900):
    """One worker run of ``system`` on ``workload`` under ``condition``."""
    n_busy = int(condition.split()[1]) if condition.startswith("busy") else 0
    busy = [subprocess.Popen([sys.executable, "-c", _SPIN.format(seconds=timeout)])
            for _ in range(n_busy)]
    try:
        if busy:
            time.sleep(0.3)  # let the spinners reach the run queue
        out = subprocess.run(
            [sys.executable, run_py, "--worker", system, workload, str(repeats)],
            env=env, capture_output=True, text=True, timeout=timeout,
            preexec_fn=_one_core if condition == "one core" else None)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(run_py, env, workloads, repeats, rounds, log=print):
    """{(workload, condition): {system: result}}, best of ``rounds`` alternated rounds."""
    results = {}
    step = 0
    for round_ in range(rounds):
        for workload in workloads:
            for condition in CONDITIONS:
                step += 1
                order = SYSTEMS if (step + round_) % 2 else SYSTEMS[::-1]
                kept = results.setdefault((workload, condition), {})
                for system in order:
                    r = run_condition(run_py, env, system, workload, repeats, condition)
                    msg = r.get("error") or f"{r['samples_per_s']:,.0f} samples/s"
                    log(f"  busy round {round_ + 1}: {workload} / {condition} / {system}: {msg}")
                    old = kept.get(system)
                    if old is None or "error" in old or (
                            "error" not in r and r["samples_per_s"] > old["samples_per_s"]):
                        kept[system] = r
    return results


def format_table(results, labels):
    header = (f"{'workload':<10}{'condition':<10}{'system':<17}{'samples/s':>12}"
              f"{'÷ quiet':>9}{'default ÷ n_jobs=1':>20}  layer")
    lines = [header, "-" * len(header)]
    for (workload, condition), by_system in results.items():
        quiet = results.get((workload, "quiet"), {})
        default, one = by_system.get("fastbp", {}), by_system.get("fastbp-1", {})
        ratio = (default["samples_per_s"] / one["samples_per_s"]
                 if "samples_per_s" in default and "samples_per_s" in one else None)
        for system in SYSTEMS:
            r = by_system.get(system)
            if r is None:
                continue
            if "error" in r:
                lines.append(f"{workload:<10}{condition:<10}{labels[system]:<17}  error: "
                             f"{r['error']}")
                continue
            sps = r["samples_per_s"]
            q = quiet.get(system, {}).get("samples_per_s")
            lines.append(
                f"{workload:<10}{condition:<10}{labels[system]:<17}{sps:>12,.0f}"
                f"{(f'{sps / q:.2f}' if q else '—'):>9}"
                f"{(f'{ratio:.2f}' if system == 'fastbp' and ratio else ''):>20}"
                f"  {r.get('threading_layer') or ''}")
    return "\n".join(lines)
