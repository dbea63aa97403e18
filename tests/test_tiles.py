"""The register-tiled products of small float32 layers (fastbp/_kernels/tiles.py).

``tile_product`` against NumPy in float64, at every edge of its tiles; then
networks whose hidden layers multiply by tiles (fan_out 32 and 16, float32)
through the forward pass, the δ-recursion, whole epochs with dropout,
finite differences and ``fastbp.graph``, as tests/test_kernels.py checks the
networks whose products go to BLAS.
"""

import itertools

import numpy as np
import pytest

from fastbp import MLPClassifier, MLPRegressor, _kernels
from fastbp._kernels import KernelTargets
from fastbp._kernels.tiles import TILE_ROWS, TILES_IN_USE, VECTOR_BYTES, tile_product, \
    use_tiles
from fastbp.graph import from_estimator

from . import reference
from .test_kernels import (HIDDEN, TOL, _reference_epoch, _run_epoch, as64, kernel_input,
                           make_problem, model_args, no_keep, objective_args)

LANES = VECTOR_BYTES // 4  # float32 lanes of one vector
# rows: one, a tile's, a tile's + 1, several tiles and a ragged one;
# columns: below one vector, one, one + 1, two (a whole tile), more than a tile
ROWS = [1, TILE_ROWS - 1, TILE_ROWS, TILE_ROWS + 1, 3 * TILE_ROWS + 5]
COLUMNS = [3, LANES, LANES + 1, 2 * LANES, 2 * LANES + 3, 5 * LANES - 1]
DEPTHS = [0, 1, 7, 64]
# hidden layers that tile (fan_out a multiple of the lanes of AVX-512 and AVX2)
TILED = dict(n_features=12, hidden=(32, 16), n_samples=45)


def tiled_problem(out):
    """make_problem's network with tiled layers, its weights scaled down so
    that no output saturates (a float32 log-loss clipped at its eps would
    then be compared with the float64 reference's unclipped one)."""
    layout, theta, X, T, sw = make_problem(out, np.float32, **TILED)
    theta *= np.float32(0.25)
    return layout, theta, X, T, sw


def _operands(rng, dtype, m, k, n, transpose_a):
    A = rng.standard_normal((k, m) if transpose_a else (m, k)).astype(dtype)
    B = rng.standard_normal((k, n)).astype(dtype)
    return A, B


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transpose_a", [False, True], ids=["A", "A.T"])
def test_tile_product_equals_numpy(dtype, transpose_a):
    """C = op(A) B (+ bias) for every edge of the tiles; C is a view inside a
    larger array whose rows around it must stay as they were."""
    rng = np.random.default_rng(0)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-13)
    for m, k, n in itertools.product(ROWS, DEPTHS, COLUMNS):
        A, B = _operands(rng, dtype, m, k, n, transpose_a)
        for bias in (np.zeros(0, dtype), rng.standard_normal(n).astype(dtype)):
            around = np.full((m + 2, n), 7.0, dtype=dtype)
            C = around[1 : m + 1]
            tile_product(A, transpose_a, B, C, bias)
            want = (A.T if transpose_a else A).astype(float) @ B.astype(float)
            if bias.size:
                want += bias
            np.testing.assert_allclose(C, want, **tol, err_msg=f"m={m} k={k} n={n}")
            assert (around[0] == 7).all() and (around[-1] == 7).all()


def test_tile_product_is_the_same_bits_every_time():
    rng = np.random.default_rng(1)
    A, B = _operands(rng, np.float32, 37, 50, 48, False)
    results = []
    for _ in range(3):
        C = np.empty((37, 48), np.float32)
        tile_product(A, False, B, C, B[0])
        results.append(C.tobytes())
    assert results[0] == results[1] == results[2]


def test_tile_product_refuses_wrong_shapes_and_strided_views():
    A = np.ones((4, 3), np.float32)
    B = np.ones((3, 5), np.float32)
    with pytest.raises(ValueError, match="shapes do not match"):
        tile_product(A, False, B, np.empty((4, 6), np.float32), np.zeros(0, np.float32))
    with pytest.raises(ValueError, match="shapes do not match"):
        tile_product(A, True, B, np.empty((3, 5), np.float32), np.zeros(0, np.float32))
    with pytest.raises(ValueError, match="shapes do not match"):
        tile_product(A, False, B, np.empty((4, 5), np.float32), np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        tile_product(A, False, np.ones((3, 10), np.float32)[:, ::2], np.empty((4, 5), np.float32),
                     np.zeros(0, np.float32))


def test_these_networks_multiply_by_tiles_and_float64_by_blas():
    """The tests below are about tiles: on a CPU with AVX-512 their hidden
    layers take the tiles (elsewhere BLAS, and they check that path)."""
    units = [TILED["n_features"], *TILED["hidden"]]
    assert all(use_tiles(a, b, 4) == TILES_IN_USE for a, b in zip(units, units[1:]))
    assert TILES_IN_USE == (VECTOR_BYTES == 64)
    assert not any(use_tiles(a, b, 8) for a, b in zip(units, units[1:]))
    assert not use_tiles(64, 100, 4)  # a partial last vector: BLAS


CASES = [(h, o) for h in HIDDEN for o in ("softmax", "identity")] + [(("relu", "gelu"), "logistic")]
IDS = [f"{h if isinstance(h, str) else '+'.join(h)}-{o}" for h, o in CASES]


@pytest.mark.parametrize("in_place", [False, True], ids=["gathered", "in-place"])
@pytest.mark.parametrize("hidden, out", CASES, ids=IDS)
def test_tiled_forward_pass_equals_reference(hidden, out, in_place):
    layout, theta, X, T, sw = tiled_problem(out)
    rows = np.arange(3, 43)  # 40 rows: more than one block of rows per layer
    coefs, intercepts = layout.views(theta)
    _, z_ref = reference.forward(as64(coefs), as64(intercepts), X[rows].astype(float), hidden,
                                 out)
    row_off = _kernels.workspace_offsets(layout.units, len(rows))
    acts = np.empty(row_off[-1], np.float32)
    keep = no_keep(np.float32) if in_place else np.empty(row_off[-1], np.float32)
    _kernels.forward_pass(kernel_input(X, False), rows, model_args(layout, theta, hidden, out),
                          acts, row_off, in_place, keep, np.zeros(0), np.uint64(0))
    for l in range(1, len(layout.units)):
        block = acts[row_off[l] : row_off[l] + len(rows) * layout.units[l]].reshape(len(rows), -1)
        np.testing.assert_allclose(block, z_ref[l].T, **TOL[np.float32])


@pytest.mark.parametrize("hidden, out", CASES, ids=IDS)
def test_tiled_gradient_equals_reference(hidden, out):
    layout, theta, X, T, sw = tiled_problem(out)
    coefs, intercepts = layout.views(theta)
    loss_ref, gW_ref, gb_ref, _ = reference.loss_and_gradient(
        as64(coefs), as64(intercepts), X.astype(float), T.astype(float), sw.astype(float), 0.3,
        hidden, out)
    grad = np.empty(layout.n_params, np.float32)
    eps = float(np.finfo(np.float32).eps)
    loss = _kernels.full_loss_gradient(kernel_input(X, False), KernelTargets(T, sw),
                                       model_args(layout, theta, hidden, out),
                                       objective_args(0.3, eps, out), 16, 2, grad)
    np.testing.assert_allclose(loss, loss_ref, **TOL[np.float32])
    for got, want in zip(layout.views(grad)[0] + layout.views(grad)[1], gW_ref + gb_ref):
        np.testing.assert_allclose(got, want, **TOL[np.float32])


@pytest.mark.parametrize("n_threads", [1, 3])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("dropout", [None, (987654321, [0.3, 0.5])], ids=["", "dropout"])
@pytest.mark.parametrize("hidden", ["relu", "tanh", ("relu", "gelu")],
                         ids=["relu", "tanh", "relu+gelu"])
def test_tiled_epoch_equals_reference(hidden, dropout, solver, n_threads):
    """Whole epochs in batches of 20 rows (over 3 slices too), with and
    without dropout: the masks are applied block of rows by block."""
    layout, theta, X, T, sw = tiled_problem("softmax")
    order = np.random.default_rng(4).permutation(X.shape[0])
    hyper = dict(alpha=0.05, lr=0.02, momentum=0.9, nesterov=True)
    loss_ref, want = _reference_epoch(solver, layout, theta, X, T, sw, order, 20, hidden,
                                      "softmax", hyper, dropout=dropout)
    loss, _ = _run_epoch(solver, layout, theta, X, T, sw, order, 20, hidden, "softmax", False,
                         hyper, n_threads, dropout=dropout)
    np.testing.assert_allclose(loss, loss_ref, **TOL[np.float32])
    coefs, intercepts = layout.views(theta)
    for got, ref in zip(coefs + intercepts, want):
        np.testing.assert_allclose(got, ref, **TOL[np.float32])


def _tiled_model(Estimator, y, X, **params):
    return Estimator(hidden_layer_sizes=TILED["hidden"], alpha=0.3, max_iter=2, random_state=0,
                     **params).fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("activation", ["tanh", "gelu"])
def test_tiled_gradient_matches_finite_differences(activation, rng):
    """float32 kernels, so central differences of a float32 objective with a
    wide step: a wrong product would be off by far more than 1%."""
    X = rng.normal(size=(40, TILED["n_features"])).astype(np.float32)
    y = rng.integers(0, 3, 40)
    model = _tiled_model(MLPClassifier, y, X, activation=activation)
    assert model.coefs_[0].dtype == np.float32
    loss, coef_grads, _ = model.loss_gradient(X, y)
    h = 1e-2
    for layer in range(2):  # the tiled layers
        W = model.coefs_[layer]
        for idx in [(0, 0), (3, 5), (W.shape[0] - 1, W.shape[1] - 1)]:
            saved = W[idx]
            W[idx] = saved + h
            plus = model.loss_gradient(X, y)[0]
            W[idx] = saved - h
            minus = model.loss_gradient(X, y)[0]
            W[idx] = saved
            numeric = (plus - minus) / (2 * h)
            assert abs(numeric - coef_grads[layer][idx]) <= 1e-2 * max(abs(numeric), 1e-2)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_graph_agrees_with_tiled_kernels(Estimator, rng):
    X = rng.normal(size=(40, TILED["n_features"])).astype(np.float32)
    y = rng.integers(0, 3, 40) if Estimator is MLPClassifier else rng.normal(size=(40, 2))
    model = _tiled_model(Estimator, y, X, activation="silu")
    loss, coef_grads, intercept_grads = from_estimator(model, X, y).loss_gradient()
    k_loss, k_coef, k_intercept = model.loss_gradient(X, y)
    assert np.isclose(loss, k_loss, rtol=1e-5)
    for a, b in zip(coef_grads + intercept_grads, k_coef + k_intercept):
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=1e-5)
