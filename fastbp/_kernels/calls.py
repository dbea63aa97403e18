"""The kernels Python calls: one epoch, the full-batch objective, prediction.

Training splits each batch's rows into ``n_slices`` fixed slices, each with
its own workspace and gradient buffer, and calls BLAS on its slice: the
estimators limit BLAS to one thread meanwhile, so exactly one pool of threads
runs (two spinning pools on the same cores starve each other). The result
depends on n_slices only: any number of threads may run the slices, and each
kernel's serial twin (below) computes the same numbers.

Every kernel here takes contiguous arrays, scalars and the argument groups of
``args.py``; the estimators validate every shape before calling.
"""

from types import FunctionType

import numpy as np
from numba import njit, prange

from .args import KernelData, KernelNetwork
from .batch import batch_loss_gradient, finish_gradient, forward_pass, layer_rows, \
    workspace_offsets
from .jit import INLINE, JIT, PARALLEL, VECTOR
from .optimizer import SOLVER_ADAM, gradient_range_norm, optimizer_range_step, step_scalars
from .sync import compare_exchange, fetch_add, load, pause, yield_thread


@njit(**JIT)
def _thread_rows(n_rows, n_slices, t):
    """[lo, hi): the t-th of n_slices near-equal slices of n_rows rows."""
    return t * n_rows // n_slices, (t + 1) * n_rows // n_slices


# The threads of one epoch share (``sync.py``) ``counters[_DONE]``, the tasks
# finished, and ``claims[8 i]``, the last phase whose task i a thread has
# claimed (one cache line each).
_DONE = 0
# A waiting thread spins this many times (the CPU's pause hint, some 10-150
# cycles each), then yields its core at every look: on a quiet machine the
# tasks it waits for end within microseconds; on a busy one the thread it
# waits for may need the core.
_SPINS = 256


@njit(**JIT)
def _wait_for_tasks(counters, n_done):
    """Wait until ``n_done`` tasks are finished."""
    spins = 0
    while load(counters, _DONE) < n_done:
        if spins < _SPINS:
            pause()
            spins += 1
        else:
            yield_thread()


@njit(**INLINE)
def _run_task(phase, i, j, batch_start, batch_stop, batch_sw, first_step, data, targets, order,
              net, objective, opt, dropout, n_slices, clip, acts, deltas, keep, row_off, raws,
              slice_loss, clip_norms, step_norms):
    """Task i of one phase of batch j (see ``train_epoch``)."""
    theta = net.theta
    alpha = objective.alpha
    n_coefs = net.int_off[0]
    if phase == 0:
        # slice i of the batch: forward pass and δ-recursion of its rows
        lo, hi = _thread_rows(batch_stop - batch_start, n_slices, i)
        if lo == hi:
            raws[i, :] = 0
            slice_loss[j, i] = 0.0
        else:
            rows = order[batch_start + lo : batch_start + hi]
            slice_loss[j, i] = batch_loss_gradient(data, targets, rows, net, objective, acts[i],
                                                   deltas[i], keep[i], row_off, raws[i],
                                                   dropout.rates, dropout.seed)
    elif phase == 1 and clip:
        # range i of ‖Σ raw + αW‖², for clipping
        clip_norms[i] = gradient_range_norm(i, n_slices, raws, theta, n_coefs, alpha)
    else:
        # range i of the optimizer step; every range computes the same scalars
        sw_sum = batch_sw[j]
        step_sw = sw_sum
        if clip:
            # ‖g‖ of g = (Σ raw + αW) / Σs; clipping scales the step's 1 / Σs
            squared = 0.0
            for c in range(n_slices):
                squared += clip_norms[c]
            norm = np.sqrt(squared) / sw_sum
            if norm > objective.max_grad_norm:
                step_sw = sw_sum * (norm / objective.max_grad_norm)
        step = step_scalars(alpha, step_sw, opt, theta, first_step + j)
        step_norms[j, i] = optimizer_range_step(i, n_slices, raws, theta, n_coefs, opt, step)


@njit(**JIT)
def _epoch_arguments_valid(data, targets, order, batch_size, net, opt, dropout, n_slices):
    """Whether every index and shape the epoch's tasks use is valid.

    The estimators pass valid arguments; ``train_epoch`` makes sure of it
    before any thread starts (see ``_run_tasks``), in O(layers + rows + their
    nonzeros). One answer, one error message: a ``raise`` per check would
    add compile time.
    """
    units = net.units
    n_layers = units.shape[0]
    if batch_size < 1 or n_slices < 1 or n_layers < 2:
        return False
    if (net.coef_off.shape[0] != n_layers - 1 or net.int_off.shape[0] != n_layers - 1
            or net.codes.shape[0] != n_layers - 1):
        return False
    coef_end = 0
    for l in range(n_layers - 1):
        if units[l] < 1 or units[l + 1] < 1 or net.coef_off[l] != coef_end:
            return False
        coef_end += units[l] * units[l + 1]
    int_end = coef_end
    for l in range(n_layers - 1):
        if net.int_off[l] != int_end:
            return False
        int_end += units[l + 1]
    n_params = net.theta.shape[0]
    if n_params != int_end or opt.step_count.shape[0] != 1 \
            or opt.state.shape[0] != (2 * n_params if opt.solver == SOLVER_ADAM else n_params):
        return False
    if dropout.rates.shape[0] != 0 and dropout.rates.shape[0] < n_layers - 1:
        return False
    n_samples = data.X_indptr.shape[0] - 1 if data.is_sparse else data.X.shape[0]
    if data.X.shape[1] != units[0] or targets.Y.shape[0] != n_samples \
            or targets.sw.shape[0] != n_samples or targets.Y.shape[1] != units[n_layers - 1]:
        return False
    nnz = data.X_data.shape[0]
    if data.is_sparse and data.X_indices.shape[0] != nnz:
        return False
    for i in range(order.shape[0]):
        r = order[i]
        if r < 0 or r >= n_samples:
            return False
        if data.is_sparse:
            lo = data.X_indptr[r]
            hi = data.X_indptr[r + 1]
            if lo < 0 or hi < lo or hi > nnz:
                return False
            for p in range(lo, hi):
                if data.X_indices[p] < 0 or data.X_indices[p] >= units[0]:
                    return False
    return True


# Inlined into train_epoch's parallel loop: a function of its own would be one
# more level of compiled code, which LLVM optimises again with everything it
# calls (4-5 s more cold compile, measured). For the same reason it has no
# try/except (with one, Numba runs the loop serially): no task can raise,
# since train_epoch checks beforehand every index and size a task uses (a
# task that raised would leave the other threads waiting).
@njit(**INLINE)
def _run_tasks(worker, counters, claims, n_phases, batch_starts, batch_size, batch_sw, first_step,
               data, targets, order, net, objective, opt, dropout, n_slices, clip, acts, deltas,
               keep, row_off, raws, slice_loss, clip_norms, step_norms):
    """One thread of ``train_epoch``: phase after phase, its own task first, then any left."""
    n = order.shape[0]
    per_batch = 3 if clip else 2
    g = 0
    while g < n_phases:
        # every task of the phase before must be finished; none is left
        # unclaimed, since this thread tried to claim each of them
        _wait_for_tasks(counters, g * n_slices)
        # a thread that starts late skips the phases others have finished
        g = max(g, load(counters, _DONE) // n_slices)
        if g < n_phases:
            j = g // per_batch
            phase = g - j * per_batch
            start = batch_starts[j]
            for offset in range(n_slices):
                i = (worker + offset) % n_slices
                # slot i holds the last phase whose task i was claimed: g - 1 until now
                if compare_exchange(claims, 8 * i, g - 1, g):
                    _run_task(phase, i, j, start, min(start + batch_size, n), batch_sw,
                              first_step, data, targets, order, net, objective, opt, dropout,
                              n_slices, clip, acts, deltas, keep, row_off, raws, slice_loss,
                              clip_norms, step_norms)
                    fetch_add(counters, _DONE, 1)
        g += 1


@njit(**PARALLEL)
def train_epoch(data, targets, order, batch_size, net, objective, opt, dropout, n_slices,
                loss_start):
    """Minibatch training over ``order``, entirely compiled.

    Batches are consecutive slices of ``order`` (the epoch's sample order,
    shuffled by the caller with the estimator's random state, or a run of
    whole batches of it: an epoch may be trained in several calls with the
    same result). Each batch: forward pass and δ-recursion over its rows
    split into ``n_slices`` slices, then one optimizer step. As in
    scikit-learn, the batch objective is Σ_b sᵢℓᵢ / Σ_b sᵢ + ½α‖W‖² / Σ_b sᵢ.

    The whole epoch is one parallel loop, not one per batch: starting and
    joining a loop cost 8-10 µs each on small batches (tbb, measured). Each
    batch runs in phases of ``n_slices`` tasks: its slices (forward pass and
    δ-recursion of their rows), then with clipping the ranges of the
    gradient's norm, then the ranges of the optimizer step. Thread w runs
    task w of each phase, so that its slice's workspace and its range of
    the weights and optimizer state stay in its core's cache, then claims
    any task of the phase no thread has claimed yet (a thread that has not
    started, or that the OS has preempted, leaves its task to the others);
    then it waits until every task of the phase is finished. A thread waits
    only for tasks already claimed, each run by a thread that does not wait
    meanwhile, so the threads never wait in a circle, and one thread alone
    (the serial twin) runs every task in order. Which thread runs a task
    never changes what it computes: the results depend on n_slices only.

    Parameters
    ----------
    data : KernelData
    targets : KernelTargets
    order : ndarray of shape (n_rows,)
        Sample indices, batch after batch.
    batch_size : int
    net : KernelNetwork
        ``net.theta`` is updated in place.
    objective : KernelObjective
        ``loss_scale`` multiplies the data part of the reported loss only (1 /
        n_outputs for multi-output squared error, scikit-learn's mean over
        outputs); the gradient is always that of the objective above. With
        ``max_grad_norm`` > 0, a step whose gradient g has ‖g‖ above it uses
        g · max_grad_norm / ‖g‖.
    opt : KernelOptimizer
        Its state and step count are updated in place.
    dropout : KernelDropout
        Rates per layer (zeros: none) and this epoch's mask seed.
    n_slices : int
    loss_start : float
        Added to the returned sum (an epoch run in several calls).

    Returns
    -------
    loss_sum : float
        ``loss_start`` plus, batch by batch, (batch loss × batch size); over
        a whole epoch, divide by n for loss_.
    """
    if not _epoch_arguments_valid(data, targets, order, batch_size, net, opt, dropout,
                                  n_slices):
        raise ValueError("train_epoch: the arguments do not match the network's layout "
                         "(sizes, offsets, row or column indices)")
    theta = net.theta
    sw = targets.sw
    n = order.shape[0]
    rows_per_slice = (batch_size + n_slices - 1) // n_slices
    row_off = workspace_offsets(net.units, rows_per_slice)
    acts = np.empty((n_slices, row_off[-1]), dtype=theta.dtype)
    deltas = np.empty((n_slices, row_off[-1]), dtype=theta.dtype)
    keep = np.empty((n_slices, row_off[-1]), dtype=theta.dtype)
    raws = np.empty((n_slices, theta.shape[0]), dtype=theta.dtype)
    # the batches that take a step: a batch of zero total weight carries no gradient
    n_batches = (n + batch_size - 1) // batch_size
    batch_starts = np.empty(n_batches, dtype=np.int64)
    batch_sw = np.empty(n_batches)
    n_steps = 0
    for start in range(0, n, batch_size):
        sw_sum = 0.0
        for i in range(start, min(start + batch_size, n)):
            sw_sum += sw[order[i]]
        if sw_sum <= 0:
            continue
        batch_starts[n_steps] = start
        batch_sw[n_steps] = sw_sum
        n_steps += 1
    slice_loss = np.zeros((n_steps, n_slices))
    step_norms = np.zeros((n_steps, n_slices))
    clip_norms = np.zeros(n_slices)
    clip = objective.max_grad_norm > 0
    per_batch = 3 if clip else 2
    n_phases = n_steps * per_batch
    first_step = opt.step_count[0] + 1  # adam's t of the first step
    counters = np.zeros(16, dtype=np.int64)
    claims = np.full(8 * n_slices, -1, dtype=np.int64)
    # The tasks wait for each other inside this loop, so none may enter the
    # threading layer again (a nested parallel call could be handed a sibling
    # iteration that then waits on its own thread): BLAS is held at one
    # thread while kernels run (see fastbp._threads).
    for worker in prange(n_slices):
        _run_tasks(worker, counters, claims, n_phases, batch_starts, batch_size, batch_sw,
                   first_step, data, targets, order, net, objective, opt, dropout, n_slices, clip,
                   acts, deltas, keep, row_off, raws, slice_loss, clip_norms, step_norms)
    if opt.solver == SOLVER_ADAM:
        opt.step_count[0] += n_steps
    # each batch's loss, in batch order, the slices' and ranges' parts in
    # their fixed order
    alpha = objective.alpha
    loss_sum = loss_start
    for j in range(n_steps):
        weighted_loss = 0.0
        for t in range(n_slices):
            weighted_loss += slice_loss[j, t]
        squared_norm = 0.0
        for c in range(n_slices):
            squared_norm += step_norms[j, c]  # weights only
        batch_loss = (weighted_loss * objective.loss_scale + 0.5 * alpha * squared_norm) \
            / batch_sw[j]
        loss_sum += batch_loss * (min(batch_starts[j] + batch_size, n) - batch_starts[j])
    return loss_sum


@njit(**PARALLEL)
def full_loss_gradient(data, targets, net, objective, chunk_size, n_slices, grad):
    """The full-batch objective and its gradient, in chunks of rows (no dropout).

    J(θ) = Σᵢ sᵢℓᵢ / Σsᵢ + ½α‖W‖² / Σsᵢ, summed chunk by chunk so memory stays
    O(n_slices × chunk_size × width) whatever n_samples is. Slice t takes
    chunks t, t + n_slices, …; the per-slice sums are added in slice order.

    Parameters
    ----------
    data : KernelData
    targets : KernelTargets
    net : KernelNetwork
    objective : KernelObjective
        ``loss_scale`` multiplies the data part of the returned loss only (see
        ``train_epoch``); 1 gives J(θ) itself.
    chunk_size, n_slices : int
    grad : ndarray of shape (n_params,)
        Output: ∇J(θ), laid out like theta.

    Returns
    -------
    loss : float
        J(θ) (with ``loss_scale`` 1).
    """
    theta = net.theta
    sw = targets.sw
    n = targets.Y.shape[0]
    n_params = theta.shape[0]
    chunk_size = max(1, min(chunk_size, (n + n_slices - 1) // n_slices))
    n_chunks = (n + chunk_size - 1) // chunk_size
    row_off = workspace_offsets(net.units, chunk_size)
    acts = np.empty((n_slices, row_off[-1]), dtype=theta.dtype)
    deltas = np.empty((n_slices, row_off[-1]), dtype=theta.dtype)
    keep = np.empty((n_slices, row_off[-1]), dtype=theta.dtype)
    raws = np.empty((n_slices, n_params), dtype=theta.dtype)
    totals = np.zeros((n_slices, n_params))
    no_dropout = np.zeros(0)
    slice_loss = np.zeros(n_slices)
    order = np.arange(n)
    for t in prange(n_slices):
        for c in range(t, n_chunks, n_slices):
            start = c * chunk_size
            stop = min(start + chunk_size, n)
            slice_loss[t] += batch_loss_gradient(data, targets, order[start:stop], net,
                                                 objective, acts[t], deltas[t], keep[t],
                                                 row_off, raws[t], no_dropout, np.uint64(0))
            total = totals[t]
            raw = raws[t]
            for k in range(n_params):
                total[k] += raw[k]
    weighted_loss = 0.0
    sw_sum = 0.0
    for i in range(n):
        sw_sum += sw[i]
    for t in range(1, n_slices):
        for k in range(n_params):
            totals[0, k] += totals[t, k]
    for t in range(n_slices):
        weighted_loss += slice_loss[t]
    alpha = objective.alpha
    squared_norm = finish_gradient(totals[0], theta, net.int_off[0], alpha, sw_sum, grad)
    return (weighted_loss * objective.loss_scale + 0.5 * alpha * squared_norm) / sw_sum


@njit(**JIT)
def _predict_chunk(data, start, stop, net, acts, row_off, out):
    """Forward pass of rows [start, stop) into out[start:stop]."""
    rows = np.arange(start, stop)
    forward_pass(data, rows, net, acts, row_off, True, acts[:0], np.zeros(0), np.uint64(0))
    out[start:stop] = layer_rows(acts, net.units, row_off, net.units.shape[0] - 1, stop - start)


@njit(**JIT)
def predict_outputs(X, X_data, X_indices, X_indptr, is_sparse, theta, units, coef_off, int_off,
                    codes, chunk_size, out):
    """Network outputs ŷ for every sample, chunk by chunk, on the calling thread.

    For few rows (latency), and safe to call from any number of Python
    threads at once. It takes the fields of a ``KernelData`` and of a
    ``KernelNetwork`` as its first arguments, in their order (call it as
    ``predict_outputs(*data, *net, chunk_size, out)``): Numba's dispatcher
    types ten plain arguments about 1 µs faster than two named tuples,
    a seventh of a one-row prediction.

    Parameters
    ----------
    X, X_data, X_indices, X_indptr, is_sparse
        The fields of a ``KernelData``.
    theta, units, coef_off, int_off, codes
        The fields of a ``KernelNetwork``.
    chunk_size : int
    out : ndarray of shape (n_samples, n_outputs)
        Output, overwritten.
    """
    data = KernelData(X, X_data, X_indices, X_indptr, is_sparse)
    net = KernelNetwork(theta, units, coef_off, int_off, codes)
    n = out.shape[0]
    chunk_size = max(1, min(chunk_size, n))
    row_off = workspace_offsets(net.units, chunk_size)
    acts = np.empty(row_off[-1], dtype=net.theta.dtype)
    for start in range(0, n, chunk_size):
        _predict_chunk(data, start, min(start + chunk_size, n), net, acts, row_off, out)


@njit(**PARALLEL)
def predict_outputs_parallel(data, net, chunk_size, n_slices, out):
    """``predict_outputs`` with chunks spread over ``n_slices`` parallel slices.

    Slice t takes chunks t, t + n_slices, …, each with its own workspace;
    the caller holds BLAS at one thread meanwhile (see ``train_epoch``).
    """
    n = out.shape[0]
    chunk_size = max(1, min(chunk_size, n))
    n_chunks = (n + chunk_size - 1) // chunk_size
    row_off = workspace_offsets(net.units, chunk_size)
    acts = np.empty((n_slices, row_off[-1]), dtype=net.theta.dtype)
    for t in prange(n_slices):
        for c in range(t, n_chunks, n_slices):
            _predict_chunk(data, c * chunk_size, min((c + 1) * chunk_size, n), net, acts[t],
                           row_off, out)


@njit(**VECTOR)
def all_finite(a):
    """Whether the 1-D array ``a`` holds no NaN or ±inf, on the calling thread.

    x − x is 0 for finite x and NaN otherwise; the sum over a block of 4,096
    is NaN exactly when the block has a non-finite element (x − x never
    overflows). Memory-bound and vectorised; stops at the first bad block.
    """
    n = a.shape[0]
    for start in range(0, n, 4096):
        stop = min(start + 4096, n)
        block = a[start] - a[start]
        for i in range(start, stop):
            block += a[i] - a[i]
        if block != 0:
            return False
    return True


# --------------------------------------------------------------------------
# Serial twins: the parallel kernels compiled without threads (prange runs
# as range), from the same source, so they compute the same numbers for the
# same n_slices. fastbp runs them where a thread pool must not or need not
# run: one thread, off the main thread, in a forked child of a process whose
# threading layer cannot fork (see _threads.py). Each has a name of its own,
# so Numba's cache keeps it apart from its parallel original.
# --------------------------------------------------------------------------
def _serial_twin(kernel):
    py_func = kernel.py_func
    twin = FunctionType(py_func.__code__, py_func.__globals__, py_func.__name__ + "_serial",
                        py_func.__defaults__, py_func.__closure__)
    twin.__qualname__ = py_func.__qualname__ + "_serial"
    twin.__module__ = py_func.__module__
    twin.__doc__ = f"``{py_func.__name__}`` on the calling thread only (same results)."
    return njit(**JIT)(twin)


train_epoch_serial = _serial_twin(train_epoch)
full_loss_gradient_serial = _serial_twin(full_loss_gradient)
