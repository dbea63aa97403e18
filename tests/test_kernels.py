"""The compiled kernels against the NumPy reference (tests/reference.py).

Every hidden activation × output/loss pair, float32 and float64, dense and
CSR input: activations, deltas, loss, gradients, and whole SGD / Adam epochs;
the robust regression losses and one activation per layer on two networks
each; dropout and gradient clipping in whole epochs.
"""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from fastbp import _kernels
from fastbp._kernels import KernelObjective, KernelOptimizer, KernelTargets
from fastbp._network import Layout

from . import reference

HIDDEN = ["identity", "logistic", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu",
          "silu"]
# name: n_outputs; huber and absolute_error are losses of the identity output
OUTPUTS = {"identity": 2, "logistic": 2, "softmax": 3, "exp": 2, "huber": 2,
           "absolute_error": 2}
CANONICAL = ["identity", "logistic", "softmax", "exp"]
PER_LAYER = ("relu", "gelu")  # one activation per hidden layer (the networks have two)
DTYPES = [np.float64, np.float32]
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-4, atol=2e-5)}


def make_problem(out, dtype, n_samples=23, n_features=5, hidden=(4, 3), seed=0):
    """Random network, inputs, targets of the right kind for ``out``, and weights."""
    rng = np.random.default_rng(seed)
    k = OUTPUTS[out]
    layout = Layout.from_units([n_features, *hidden, k])
    theta = rng.uniform(-0.8, 0.8, layout.n_params).astype(dtype)
    X = rng.normal(size=(n_samples, n_features)).astype(dtype)
    X[rng.random(X.shape) < 0.3] = 0  # some zeros, so CSR input is really sparse
    if out in ("identity", *reference.ROBUST):
        T = rng.normal(size=(n_samples, k))
    elif out == "logistic":
        T = (rng.random((n_samples, k)) < 0.5).astype(float)
    elif out == "softmax":
        T = np.eye(k)[rng.integers(0, k, n_samples)]
    else:
        T = rng.poisson(1.5, size=(n_samples, k)).astype(float)
    sw = rng.uniform(0.5, 2.0, n_samples)
    return layout, theta, X, T.astype(dtype), sw.astype(dtype)


def kernel_input(X, sparse):
    """KernelData (X, data, indices, indptr, is_sparse), built here independently."""
    if sparse:
        csr = sp.csr_matrix(X)
        return _kernels.KernelData(np.empty((0, X.shape[1]), X.dtype), csr.data,
                                   csr.indices.astype(np.int64), csr.indptr.astype(np.int64),
                                   True)
    return _kernels.KernelData(X, np.empty(0, X.dtype), np.empty(0, np.int64),
                               np.zeros(1, np.int64), False)


def model_args(layout, theta, hidden, out):
    names = reference.hidden_names(hidden, len(layout.units) - 2)
    output = "identity" if out in reference.ROBUST else out
    codes = np.array([_kernels.ACTIVATION_CODES[name] for name in (*names, output)])
    return _kernels.KernelNetwork(theta, layout.units, layout.coef_off, layout.int_off, codes)


LOSS_CODES = {"huber": _kernels.HUBER, "absolute_error": _kernels.ABSOLUTE_ERROR}


def objective_args(alpha, eps, out, max_grad_norm=0.0):
    """KernelObjective of the loss of ``out`` (reference.HUBER_DELTA for huber)."""
    code = LOSS_CODES.get(out, _kernels.ACTIVATION_CODES.get(out))
    return KernelObjective(alpha, eps, 1.0, code, reference.HUBER_DELTA, max_grad_norm)


def no_dropout(layout):
    return _kernels.KernelDropout(np.zeros(len(layout.units) - 1), np.uint64(0))


def no_keep(dtype):
    return np.empty(0, dtype=dtype)


def as64(arrays):
    return [a.astype(np.float64) for a in arrays]


CASES = (list(itertools.product(HIDDEN, CANONICAL, DTYPES))
         + list(itertools.product(["tanh", PER_LAYER], ["huber", "absolute_error"], DTYPES))
         + list(itertools.product([PER_LAYER], CANONICAL, DTYPES)))
CASE_IDS = [f"{h if isinstance(h, str) else '+'.join(h)}-{o}-{np.dtype(d).name}"
            for h, o, d in CASES]


@pytest.mark.parametrize("in_place", [False, True], ids=["gathered", "in-place"])
@pytest.mark.parametrize("hidden, out, dtype", CASES, ids=CASE_IDS)
def test_forward_activations_equal_reference(hidden, out, dtype, in_place):
    """forward_pass on rows 3, 4, …, 19 of X: copied into the workspace
    (training), or read from X in place (prediction)."""
    layout, theta, X, T, sw = make_problem(out, dtype)
    X_batch = X[3:20]
    coefs, intercepts = layout.views(theta)
    _, z_ref = reference.forward(as64(coefs), as64(intercepts), X_batch.astype(float), hidden,
                                 out)

    n = X_batch.shape[0]
    row_off = _kernels.workspace_offsets(layout.units, n)
    acts = np.empty(row_off[-1], dtype=dtype)
    keep = np.empty(row_off[-1], dtype=dtype) if not in_place else no_keep(dtype)
    _kernels.forward_pass(kernel_input(X, False), np.arange(3, 20),
                          model_args(layout, theta, hidden, out), acts, row_off, in_place, keep,
                          np.zeros(0), np.uint64(0))
    for l in range(1, len(layout.units)):
        block = acts[row_off[l] : row_off[l] + n * layout.units[l]].reshape(n, -1)
        np.testing.assert_allclose(block, z_ref[l].T, **TOL[dtype])


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("hidden, out, dtype", CASES, ids=CASE_IDS)
def test_predict_outputs_equal_reference(hidden, out, dtype, sparse):
    layout, theta, X, T, sw = make_problem(out, dtype)
    coefs, intercepts = layout.views(theta)
    _, z_ref = reference.forward(as64(coefs), as64(intercepts), X.astype(float), hidden, out)
    out_arr = np.empty((X.shape[0], layout.units[-1]), dtype=dtype)
    # chunk of 5 rows: several chunks and a ragged last one
    _kernels.predict_outputs(*kernel_input(X, sparse), *model_args(layout, theta, hidden, out),
                             5, out_arr)
    np.testing.assert_allclose(out_arr, z_ref[-1].T, **TOL[dtype])


@pytest.mark.parametrize("hidden, out, dtype", CASES, ids=CASE_IDS)
def test_deltas_equal_reference(hidden, out, dtype):
    layout, theta, X, T, sw = make_problem(out, dtype)
    coefs, intercepts = layout.views(theta)
    *_, deltas_ref = reference.loss_and_gradient(
        as64(coefs), as64(intercepts), X.astype(float), T.astype(float), sw.astype(float), 0.0,
        hidden, out)
    n = X.shape[0]
    row_off = _kernels.workspace_offsets(layout.units, n)
    acts = np.empty(row_off[-1], dtype=dtype)
    deltas = np.empty(row_off[-1], dtype=dtype)
    keep = np.empty(row_off[-1], dtype=dtype)
    grad = np.empty(layout.n_params, dtype=dtype)
    _kernels.batch_loss_gradient(kernel_input(X, False), KernelTargets(T, sw), np.arange(n),
                                 model_args(layout, theta, hidden, out),
                                 objective_args(0.0, 1e-16, out), acts, deltas, keep, row_off,
                                 grad, np.zeros(0), np.uint64(0))
    for l in range(1, len(layout.units)):
        block = deltas[row_off[l] : row_off[l] + n * layout.units[l]].reshape(n, -1)
        np.testing.assert_allclose(block, deltas_ref[l].T, **TOL[dtype])


# Each parallel kernel and its serial twin (compiled without threads).
OBJECTIVES = {"parallel": _kernels.full_loss_gradient,
              "serial": _kernels.full_loss_gradient_serial}
EPOCHS = {"parallel": _kernels.train_epoch, "serial": _kernels.train_epoch_serial}


@pytest.mark.parametrize("variant", ["parallel", "serial"])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("hidden, out, dtype", CASES, ids=CASE_IDS)
def test_full_loss_gradient_equals_reference(hidden, out, dtype, sparse, n_threads, variant):
    layout, theta, X, T, sw = make_problem(out, dtype)
    coefs, intercepts = layout.views(theta)
    alpha = 0.3
    loss_ref, gW_ref, gb_ref, _ = reference.loss_and_gradient(
        as64(coefs), as64(intercepts), X.astype(float), T.astype(float), sw.astype(float), alpha,
        hidden, out)
    grad = np.empty(layout.n_params, dtype=dtype)
    eps = float(np.finfo(dtype).eps)
    loss = OBJECTIVES[variant](kernel_input(X, sparse), KernelTargets(T, sw),
                               model_args(layout, theta, hidden, out),
                               objective_args(alpha, eps, out), 7, n_threads, grad)
    np.testing.assert_allclose(loss, loss_ref, **TOL[dtype])
    gW, gb = layout.views(grad)
    for got, want in zip(gW + gb, gW_ref + gb_ref):
        np.testing.assert_allclose(got, want, **TOL[dtype])


def _run_epoch(solver, layout, theta, X, T, sw, order, batch, hidden, out, sparse, hyper, n_threads,
               kernel=_kernels.train_epoch, runs=1, dropout=None, max_grad_norm=0.0):
    """One epoch; with ``runs`` > 1 in that many kernel calls of whole batches.

    ``dropout``: None or (seed, rates of the hidden layers)."""
    if dropout is None:
        dropout_args = no_dropout(layout)
    else:
        dropout_args = _kernels.KernelDropout(np.array([*dropout[1], 0.0]), np.uint64(dropout[0]))
    n_state = layout.n_params if solver == "sgd" else 2 * layout.n_params
    state = np.zeros(n_state, dtype=theta.dtype)
    steps = np.zeros(1, dtype=np.int64)
    code = _kernels.SOLVER_SGD if solver == "sgd" else _kernels.SOLVER_ADAM
    eps = float(np.finfo(theta.dtype).eps)
    n_batches = -(-len(order) // batch)
    bounds = np.linspace(0, n_batches, runs + 1).astype(int) * batch
    total = 0.0
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        optimizer = KernelOptimizer(code, hyper["lr"], hyper["momentum"], hyper["nesterov"], 0.9,
                                    0.999, 1e-8, state, steps)
        total = kernel(kernel_input(X, sparse), KernelTargets(T, sw), order[lo:hi], batch,
                       model_args(layout, theta, hidden, out),
                       objective_args(hyper["alpha"], eps, out, max_grad_norm), optimizer,
                       dropout_args, n_threads, total)
    return total / len(order), steps[0]


@pytest.mark.parametrize("variant", ["parallel", "serial"])
@pytest.mark.parametrize("n_threads", [1, 3])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("solver", ["sgd", "sgd-plain-momentum", "adam"])
@pytest.mark.parametrize("hidden, out, dtype", CASES, ids=CASE_IDS)
def test_train_epoch_equals_reference(hidden, out, dtype, solver, sparse, n_threads, variant):
    """Also with each batch's rows split into 3 slices (6 rows: 2 + 2 + 2, and the
    ragged last batch of 5: 1 + 2 + 2)."""
    layout, theta, X, T, sw = make_problem(out, dtype)
    ref_coefs, ref_intercepts = (as64(p) for p in layout.views(theta))
    order = np.random.default_rng(1).permutation(X.shape[0])
    batch = 6  # 23 samples: three full batches and a ragged one
    hyper = dict(alpha=0.05, lr=0.05, momentum=0.9, nesterov=solver == "sgd")
    args = (X.astype(float), T.astype(float), sw.astype(float), hyper["alpha"], hidden, out,
            order, batch)
    if solver == "adam":
        ms = [np.zeros_like(p) for p in ref_coefs + ref_intercepts]
        vs = [np.zeros_like(p) for p in ref_coefs + ref_intercepts]
        loss_ref, t_ref = reference.adam_epoch(ref_coefs, ref_intercepts, *args, hyper["lr"],
                                               0.9, 0.999, 1e-8, ms, vs, 0)
    else:
        velocities = [np.zeros_like(p) for p in ref_coefs + ref_intercepts]
        loss_ref = reference.sgd_epoch(ref_coefs, ref_intercepts, *args, hyper["lr"],
                                       hyper["momentum"], hyper["nesterov"], velocities)
        t_ref = None

    kernel_solver = "adam" if solver == "adam" else "sgd"
    loss, steps = _run_epoch(kernel_solver, layout, theta, X, T, sw, order, batch, hidden, out,
                             sparse, hyper, n_threads, EPOCHS[variant])
    np.testing.assert_allclose(loss, loss_ref, **TOL[dtype])
    if t_ref is not None:
        assert steps == t_ref == 4
    coefs, intercepts = layout.views(theta)
    for got, want in zip(coefs + intercepts, ref_coefs + ref_intercepts):
        np.testing.assert_allclose(got, want, **TOL[dtype])


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_train_epoch_with_more_threads_than_batch_rows(solver):
    """Batches of 2 rows over 3 threads: in every step one thread has no rows."""
    layout, theta, X, T, sw = make_problem("softmax", np.float64)
    ref_coefs, ref_intercepts = (as64(p) for p in layout.views(theta))
    order = np.random.default_rng(2).permutation(X.shape[0])
    hyper = dict(alpha=0.05, lr=0.05, momentum=0.9, nesterov=True)
    args = (X, T, sw, hyper["alpha"], "tanh", "softmax", order, 2)
    if solver == "adam":
        zeros = [[np.zeros_like(p) for p in ref_coefs + ref_intercepts] for _ in range(2)]
        loss_ref, _ = reference.adam_epoch(ref_coefs, ref_intercepts, *args, hyper["lr"], 0.9,
                                           0.999, 1e-8, *zeros, 0)
    else:
        velocities = [np.zeros_like(p) for p in ref_coefs + ref_intercepts]
        loss_ref = reference.sgd_epoch(ref_coefs, ref_intercepts, *args, hyper["lr"],
                                       hyper["momentum"], hyper["nesterov"], velocities)
    loss, _ = _run_epoch(solver, layout, theta, X, T, sw, order, 2, "tanh", "softmax", False,
                         hyper, 3)
    np.testing.assert_allclose(loss, loss_ref, **TOL[np.float64])
    coefs, intercepts = layout.views(theta)
    for got, want in zip(coefs + intercepts, ref_coefs + ref_intercepts):
        np.testing.assert_allclose(got, want, **TOL[np.float64])


def _bad_epoch_arguments():
    """(name, change) pairs: each change breaks one thing the epoch's tasks index by."""
    def order_past_x(a):
        a["order"][5] = a["n"]

    def negative_row(a):
        a["order"][0] = -1

    def theta_short(a):
        a["net"] = a["net"]._replace(theta=a["net"].theta[:-1])

    def offset_off(a):
        a["net"] = a["net"]._replace(int_off=a["net"].int_off + 1)

    def state_short(a):
        a["opt"] = a["opt"]._replace(state=a["opt"].state[:-1])

    def targets_short(a):
        a["targets"] = KernelTargets(a["targets"].Y[:-1], a["targets"].sw[:-1])

    def x_too_wide(a):
        X = np.zeros((a["n"], a["net"].units[0] + 1), a["net"].theta.dtype)
        a["data"] = kernel_input(X, False)

    def csr_column_past_x(a):
        data = a["data"]
        indices = data.X_indices.copy()
        indices[-1] = a["net"].units[0]
        a["data"] = data._replace(X_indices=indices)

    def csr_pointer_past_data(a):
        data = a["data"]
        indptr = data.X_indptr.copy()
        indptr[-1] += 3
        a["data"] = data._replace(X_indptr=indptr)

    return [(f.__name__, f) for f in (order_past_x, negative_row, theta_short, offset_off,
                                      state_short, targets_short, x_too_wide, csr_column_past_x,
                                      csr_pointer_past_data)]


@pytest.mark.parametrize("kernel", ["train_epoch", "train_epoch_serial"])
@pytest.mark.parametrize("name, change", _bad_epoch_arguments(),
                         ids=[n for n, _ in _bad_epoch_arguments()])
def test_train_epoch_refuses_bad_arguments_before_any_task_runs(name, change, kernel):
    """The epoch's tasks wait for each other and must not fail halfway: every
    index and shape they use is checked first, and nothing is modified."""
    layout, theta, X, T, sw = make_problem("softmax", np.float64)
    sparse = name.startswith("csr")
    args = dict(n=X.shape[0], data=kernel_input(X, sparse), targets=KernelTargets(T, sw),
                order=np.random.default_rng(0).permutation(X.shape[0]),
                net=model_args(layout, theta, "tanh", "softmax"),
                opt=KernelOptimizer(_kernels.SOLVER_ADAM, 0.01, 0.9, False, 0.9, 0.999, 1e-8,
                                    np.zeros(2 * layout.n_params), np.zeros(1, np.int64)))
    change(args)
    before = (args["net"].theta.copy(), args["opt"].state.copy(), args["opt"].step_count.copy())
    with pytest.raises(ValueError, match="train_epoch: "):
        getattr(_kernels, kernel)(args["data"], args["targets"], args["order"], 4, args["net"],
                                  objective_args(0.01, 1e-12, "softmax"), args["opt"],
                                  no_dropout(layout), 2, 0.0)
    after = (args["net"].theta, args["opt"].state, args["opt"].step_count)
    assert all(np.array_equal(a, b) for a, b in zip(before, after))


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_slices", [1, 2, 3])
def test_serial_twin_and_split_epochs_give_the_parallel_kernels_bits(n_slices, dtype, solver):
    """For a number of slices, the numbers do not depend on the threads that run
    them: the serial twin, and an epoch trained in several calls of whole
    batches, give bit-identical weights and loss to one parallel call."""
    hyper = dict(alpha=0.05, lr=0.05, momentum=0.9, nesterov=True)
    results = []
    for kernel, runs in [(_kernels.train_epoch, 1), (_kernels.train_epoch_serial, 1),
                         (_kernels.train_epoch, 3), (_kernels.train_epoch_serial, 4)]:
        layout, theta, X, T, sw = make_problem("softmax", dtype, n_samples=41)
        order = np.random.default_rng(3).permutation(X.shape[0])
        loss, steps = _run_epoch(solver, layout, theta, X, T, sw, order, 4, "tanh", "softmax",
                                 False, hyper, n_slices, kernel, runs)
        results.append((loss, steps, theta.tobytes()))
    assert all(r == results[0] for r in results[1:])
    # and the objective's twins agree to the bit as well
    layout, theta, X, T, sw = make_problem("softmax", dtype, n_samples=41)
    grads = [np.empty(layout.n_params, dtype=dtype) for _ in range(2)]
    losses = [kernel(kernel_input(X, False), KernelTargets(T, sw),
                     model_args(layout, theta, "tanh", "softmax"),
                     objective_args(0.1, 1e-7, "softmax"), 5, n_slices, grad)
              for kernel, grad in zip(OBJECTIVES.values(), grads)]
    assert losses[0] == losses[1]
    assert grads[0].tobytes() == grads[1].tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
def test_all_finite_finds_every_non_finite_value(dtype):
    a = np.random.default_rng(0).normal(size=10_000).astype(dtype) * 1e30
    assert _kernels.all_finite(a)
    assert _kernels.all_finite(a[:1])
    for position in (0, 4095, 4096, 9_999):
        for bad in (np.nan, np.inf, -np.inf):
            b = a.copy()
            b[position] = bad
            assert not _kernels.all_finite(b)
    big = np.full(5000, np.finfo(dtype).max, dtype=dtype)  # finite, sums overflow
    assert _kernels.all_finite(big)


def test_no_hidden_layer_network_equals_reference():
    """hidden_layer_sizes=() : a single affine layer straight into the output."""
    layout, theta, X, T, sw = make_problem("softmax", np.float64, hidden=())
    coefs, intercepts = layout.views(theta)
    loss_ref, gW_ref, gb_ref, _ = reference.loss_and_gradient(coefs, intercepts, X, T, sw, 0.1,
                                                              "relu", "softmax")
    grad = np.empty(layout.n_params)
    loss = _kernels.full_loss_gradient(kernel_input(X, False), KernelTargets(T, sw),
                                       model_args(layout, theta, "relu", "softmax"),
                                       objective_args(0.1, 1e-16, "softmax"), 64, 1, grad)
    assert np.isclose(loss, loss_ref, rtol=1e-12)
    gW, gb = layout.views(grad)
    np.testing.assert_allclose(gW[0], gW_ref[0], rtol=1e-10)
    np.testing.assert_allclose(gb[0], gb_ref[0], rtol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_activations_do_not_overflow(dtype):
    """logistic, softmax and the clipped log-losses stay finite at huge |a|."""
    big = 1e4 if dtype == np.float32 else 1e6
    A = np.array([[-big, big, 0.0]], dtype=dtype)
    for code in (_kernels.LOGISTIC, _kernels.SOFTMAX):
        Z = A.copy()
        with np.errstate(all="raise"):
            _kernels.activate(Z, code)
        assert np.isfinite(Z).all()
    Z = A.copy()
    _kernels.activate(Z, _kernels.LOGISTIC)
    np.testing.assert_array_equal(Z, np.array([[0.0, 1.0, 0.5]], dtype=dtype))
    Z = A.copy()
    _kernels.activate(Z, _kernels.SOFTMAX)
    np.testing.assert_allclose(Z, [[0.0, 1.0, 0.0]])
    # A saturated, wrong prediction costs -log(eps) per output, not inf.
    eps = float(np.finfo(dtype).eps)
    D = np.empty((1, 3), dtype=dtype)
    loss = _kernels.output_delta_and_loss(Z, np.array([[1.0, 0.0, 0.0]], dtype=dtype),
                                          np.ones(1, dtype=dtype), np.zeros(1, np.int64),
                                          _kernels.SOFTMAX, eps, 1.0, D)
    assert np.isclose(loss, -np.log(eps))


def _reference_epoch(solver, layout, theta, X, T, sw, order, batch, hidden, out, hyper, **extra):
    ref_coefs, ref_intercepts = (as64(p) for p in layout.views(theta))
    args = (X.astype(float), T.astype(float), sw.astype(float), hyper["alpha"], hidden, out,
            order, batch)
    if solver == "adam":
        zeros = [[np.zeros_like(p) for p in ref_coefs + ref_intercepts] for _ in range(2)]
        loss, _ = reference.adam_epoch(ref_coefs, ref_intercepts, *args, hyper["lr"], 0.9,
                                       0.999, 1e-8, *zeros, 0, **extra)
    else:
        velocities = [np.zeros_like(p) for p in ref_coefs + ref_intercepts]
        loss = reference.sgd_epoch(ref_coefs, ref_intercepts, *args, hyper["lr"],
                                   hyper["momentum"], hyper["nesterov"], velocities, **extra)
    return loss, ref_coefs + ref_intercepts


@pytest.mark.parametrize("n_threads", [1, 3])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("hidden", ["tanh", "relu", PER_LAYER], ids=["tanh", "relu", "relu+gelu"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_train_epoch_with_dropout_equals_reference(dtype, hidden, solver, sparse, n_threads):
    """Inverted dropout (rates 0.3 and 0.5 on the two hidden layers): the
    reference draws its masks from the documented hash, independently."""
    layout, theta, X, T, sw = make_problem("softmax", dtype, n_samples=29, hidden=(6, 5))
    order = np.random.default_rng(4).permutation(X.shape[0])
    hyper = dict(alpha=0.05, lr=0.05, momentum=0.9, nesterov=True)
    dropout = (123456789, [0.3, 0.5])
    loss_ref, want = _reference_epoch(solver, layout, theta, X, T, sw, order, 6, hidden,
                                      "softmax", hyper, dropout=dropout)
    loss, _ = _run_epoch(solver, layout, theta, X, T, sw, order, 6, hidden, "softmax", sparse,
                         hyper, n_threads, dropout=dropout)
    np.testing.assert_allclose(loss, loss_ref, **TOL[dtype])
    coefs, intercepts = layout.views(theta)
    for got, ref in zip(coefs + intercepts, want):
        np.testing.assert_allclose(got, ref, **TOL[dtype])


def test_dropout_masks_drop_the_rate_and_differ_by_seed():
    """The hash drops close to p of the units, and another seed other units."""
    masks = [reference.dropout_masks(seed, np.arange(2000), [50], [0.2])[0]
             for seed in (1, 2)]
    for mask in masks:
        assert abs((mask == 0).mean() - 0.2) < 0.01
        assert set(np.unique(mask)) == {0.0, 1.25}
    assert ((masks[0] == 0) != (masks[1] == 0)).mean() > 0.25
    # and the kernels' own functions give the reference's masks
    key = _kernels.dropout_row_key(np.uint64(1), 0, 7)
    threshold = _kernels.dropout_threshold(0.2)
    drops = [_kernels.dropout_number(key, k) < threshold for k in range(50)]
    assert drops == list(masks[0][:, 7] == 0)


@pytest.mark.parametrize("n_threads", [1, 3])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_train_epoch_with_gradient_clipping_equals_reference(dtype, solver, n_threads):
    """max_grad_norm 0.05 clips every step of this problem (its gradients are larger)."""
    layout, theta, X, T, sw = make_problem("identity", dtype, n_samples=29)
    order = np.random.default_rng(5).permutation(X.shape[0])
    hyper = dict(alpha=0.05, lr=0.05, momentum=0.9, nesterov=True)
    loss_ref, want = _reference_epoch(solver, layout, theta, X, T, sw, order, 6, "tanh",
                                      "identity", hyper, max_grad_norm=0.05)
    unclipped_ref, unclipped = _reference_epoch(solver, layout, theta, X, T, sw, order, 6,
                                                "tanh", "identity", hyper)
    loss, _ = _run_epoch(solver, layout, theta, X, T, sw, order, 6, "tanh", "identity", False,
                         hyper, n_threads, max_grad_norm=0.05)
    np.testing.assert_allclose(loss, loss_ref, **TOL[dtype])
    coefs, intercepts = layout.views(theta)
    for got, ref in zip(coefs + intercepts, want):
        np.testing.assert_allclose(got, ref, **TOL[dtype])
    assert not np.allclose(want[0], unclipped[0])  # clipping changed the result
