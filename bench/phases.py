"""Where a training step's time goes: forward, backward and optimizer, per batch.

    python bench/run.py --worker phases WORKLOAD DTYPE     # one JSON line

For one workload and dtype this builds the network and the Adam optimizer a
``fit`` would, then times, on one thread and in compiled loops over every
batch of an epoch (best of 5 epochs each):

- ``forward``: the forward pass of one slice's rows (the batch split over the
  slices of ``n_jobs=None``, as training splits it);
- ``backward``: the output delta and the δ-recursion of that slice;
- ``optimizer``: the whole Adam step over every parameter;
- ``epoch``: fastbp's real epoch kernel over the same batches, with its threads
  (``n_slices`` slices in parallel) and with one thread (the serial twin).

On n threads a batch ideally costs forward + backward (the slices run side
by side) + optimizer / n (its ranges run side by side); what the threaded
epoch spends beyond that is the cost of the threads waiting for each other
at each phase of a batch (the weights and gradients crossing cores), plus
whatever the slices do not share evenly.
"""

import json
import os
import time

import numpy as np
from numba import njit

from fastbp import _kernels
from fastbp._kernels.batch import layer_rows
from fastbp._kernels.optimizer import optimizer_range_step, step_scalars


@njit(cache=False)
def _forward_epoch(data, order, batch_size, n_slices, net, acts, keep, row_off, rates):
    for start in range(0, order.shape[0], batch_size):
        stop = min(start + batch_size, order.shape[0])
        rows = order[start : start + (stop - start) // n_slices]
        _kernels.forward_pass(data, rows, net, acts, row_off, False, keep, rates, np.uint64(0))


@njit(cache=False)
def _backward_epoch(data, targets, order, batch_size, n_slices, net, acts, deltas, keep, row_off,
                    grad, rates, loss_code):
    last = net.units.shape[0] - 1
    for start in range(0, order.shape[0], batch_size):
        stop = min(start + batch_size, order.shape[0])
        rows = order[start : start + (stop - start) // n_slices]
        b = rows.shape[0]
        _kernels.output_delta_and_loss(
            layer_rows(acts, net.units, row_off, last, b), targets.Y, targets.sw, rows,
            loss_code, 1e-7, 1.0, layer_rows(deltas, net.units, row_off, last, b))
        _kernels.backward_pass(data, rows, net, acts, deltas, row_off, grad, keep, rates,
                               np.uint64(0))


@njit(cache=False)
def _optimizer_epoch(n_batches, raws, theta, n_coefs, opt, n_chunks):
    for b in range(n_batches):
        step = step_scalars(1e-4, 200.0, opt, theta, b + 1)
        for c in range(n_chunks):
            optimizer_range_step(c, n_chunks, raws, theta, n_coefs, opt, step)


def _best(fn, repeats=5):
    fn()  # compiles, warms the caches
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure(workload, dtype):
    """Seconds per batch of each phase (see the module docstring), as a dict."""
    import fastbp
    from fastbp import _threads
    from fastbp._kernels import KernelData, KernelDropout, KernelObjective, KernelTargets
    from fastbp._network import Network
    from fastbp._optim import StochasticOptimizer

    dtype = np.dtype(dtype)
    X, y = workload.data()
    X = X.astype(dtype)
    n_classes = workload.n_classes
    Y = np.zeros((len(y), n_classes), dtype=dtype)
    Y[np.arange(len(y)), y] = 1
    sw = np.ones(len(y), dtype=dtype)
    network = Network.initial(workload.units, "relu", "softmax", np.random.RandomState(0), dtype)
    net = network.kernel_args()
    data = KernelData.of(X, dtype)
    targets = KernelTargets(Y, sw)
    order = np.random.default_rng(0).permutation(len(y)).astype(np.int64)
    bs = workload.batch_size
    n_batches = (len(y) + bs - 1) // bs
    n_threads = int(os.environ.get("NUMBA_NUM_THREADS", "1"))
    n_slices = _threads.slices_for(n_threads, bs, network.theta.shape[0])
    rows_per_slice = (bs + n_slices - 1) // n_slices
    row_off = _kernels.workspace_offsets(network.layout.units, rows_per_slice)
    acts, deltas, keep = (np.zeros(row_off[-1], dtype=dtype) for _ in range(3))
    n_params = network.theta.shape[0]
    raws = np.random.default_rng(1).standard_normal((n_slices, n_params)).astype(dtype) * 1e-3
    no_dropout = np.zeros(len(workload.units) - 1)
    softmax = _kernels.SOFTMAX
    optimizer = StochasticOptimizer("adam", n_params, dtype, 1e-3)
    objective = KernelObjective(1e-4, 1e-7, 1.0, softmax, 1.0, 0.0)
    dropout = KernelDropout(no_dropout, np.uint64(0))
    theta0 = network.theta.copy()

    def reset():
        network.theta[:] = theta0
        optimizer.state[:] = 0
        optimizer.step_count[:] = 0

    # BLAS at one thread, as training holds it (else OpenBLAS may split one
    # slice's products over threads of its own)
    with _threads.blas_held_at_one():
        phases = {
            "forward": _best(lambda: _forward_epoch(data, order, bs, n_slices, net, acts, keep,
                                                    row_off, no_dropout)),
            "backward": _best(lambda: _backward_epoch(data, targets, order, bs, n_slices, net,
                                                      acts, deltas, keep, row_off, raws[0],
                                                      no_dropout, softmax)),
            "optimizer": _best(lambda: (reset(), _optimizer_epoch(
                n_batches, raws, network.theta, network.layout.n_coefs,
                optimizer.kernel_args(), n_slices))),
        }
    for name, kernel in (("epoch", _kernels.train_epoch),
                         ("epoch_serial", _kernels.train_epoch_serial)):
        def run(kernel=kernel):
            reset()
            with _threads.kernel_threads(None):
                kernel(data, targets, order, bs, net, objective, optimizer.kernel_args(),
                       dropout, n_slices, 0.0)
        phases[name] = _best(run)
    per_batch = {k: v / n_batches for k, v in phases.items()}
    ideal = per_batch["forward"] + per_batch["backward"] + per_batch["optimizer"] / n_slices
    flops = 6 * workload.n_params * bs
    return {"workload": workload.name, "dtype": dtype.name, "n_slices": n_slices,
            "threading_layer": fastbp.threading_info()["layer"],
            "us_per_batch": {k: v * 1e6 for k, v in per_batch.items()},
            "ideal_us": ideal * 1e6,
            "epoch_gflops": flops / per_batch["epoch"] / 1e9}


def format_table(results, peaks):
    """The phase table: µs per batch, and the threaded epoch's % of the peak of its dtype.

    ``peaks``: {dtype: GFLOP/s} at the thread count the phases ran with.
    """
    header = (f"{'workload':<12}{'dtype':<9}{'forward':>9}{'backward':>10}{'optimizer':>11}"
              f"{'ideal':>8}{'epoch':>8}{'serial':>8}{'overhead':>10}{'GFLOP/s':>9}{'% peak':>8}")
    lines = [header, "-" * len(header)]
    for r in results:
        if "error" in r:
            lines.append(f"error: {r['error']}")
            continue
        t = r["us_per_batch"]
        peak = peaks.get(r["dtype"])
        share = f"{100 * r['epoch_gflops'] / peak:>7.1f}%" if peak else ""
        lines.append(f"{r['workload']:<12}{r['dtype']:<9}{t['forward']:>9.1f}"
                     f"{t['backward']:>10.1f}{t['optimizer']:>11.1f}{r['ideal_us']:>8.1f}"
                     f"{t['epoch']:>8.1f}{t['epoch_serial']:>8.1f}"
                     f"{t['epoch'] - r['ideal_us']:>10.1f}"
                     f"{r['epoch_gflops']:>9.1f}{share}")
    return "\n".join(lines)


def worker(argv):
    from systems import WORKLOADS

    print(json.dumps(measure(WORKLOADS[argv[0]], argv[1])))
