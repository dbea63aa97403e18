"""The computation-graph engine: an independent check of the kernels, and the notes' examples."""

import numpy as np
import pytest

from fastbp import MLPClassifier, MLPRegressor, graph
from fastbp.graph import (Affine, BinaryCrossEntropy, Graph, Input, Parameter, ReLU, Sigmoid,
                          directional_derivative, from_estimator, trace)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ACTIVATIONS = ["identity", "logistic", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu",
               "silu", ("tanh", "gelu"), ["silu", "relu"]]  # and one per hidden layer
KINDS = ["binary", "multiclass", "multilabel", "squared_error", "poisson", "huber",
         "absolute_error"]


def _fitted(kind, activation, rng, **params):
    X = rng.normal(size=(40, 4))
    if kind == "binary":
        est, y = MLPClassifier, rng.integers(0, 2, 40)
    elif kind == "multiclass":
        est, y = MLPClassifier, rng.choice(["a", "b", "c"], 40)
    elif kind == "multilabel":
        est, y = MLPClassifier, rng.integers(0, 2, (40, 3))
    elif kind == "squared_error":
        est, y = MLPRegressor, rng.normal(size=(40, 2))
    elif kind in ("huber", "absolute_error"):
        est, y = MLPRegressor, rng.normal(size=(40, 2))
        params.update(loss=kind, **({"huber_delta": 0.5} if kind == "huber" else {}))
    else:
        est, y = MLPRegressor, rng.poisson(2.0, 40).astype(float)
        params["loss"] = "poisson"
    model = est(hidden_layer_sizes=(5, 3), activation=activation, alpha=0.3, max_iter=3,
                random_state=0, **params).fit(X, y)
    return model, X, y


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_graph_gradients_equal_kernel_gradients(kind, activation, rng):
    model, X, y = _fitted(kind, activation, rng)
    sample_weight = rng.uniform(0.2, 2.0, X.shape[0])
    loss, coef_grads, intercept_grads = from_estimator(model, X, y, sample_weight).loss_gradient()
    k_loss, k_coef, k_intercept = model.loss_gradient(X, y, sample_weight)
    assert np.isclose(loss, k_loss, rtol=1e-12)
    for a, b in zip(coef_grads + intercept_grads, k_coef + k_intercept):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-13)


def test_graph_includes_class_weights(rng):
    X = rng.normal(size=(30, 3))
    y = rng.choice([0, 1, 2], 30, p=[0.6, 0.3, 0.1])
    model = MLPClassifier(hidden_layer_sizes=(4,), class_weight="balanced", max_iter=2,
                          random_state=0).fit(X, y)
    loss, coef_grads, _ = from_estimator(model, X, y).loss_gradient()
    k_loss, k_coef, _ = model.loss_gradient(X, y)
    assert np.isclose(loss, k_loss, rtol=1e-12)
    np.testing.assert_allclose(coef_grads[0], k_coef[0], rtol=1e-9)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_forward_mode_equals_reverse_mode(kind, activation, rng):
    model, X, y = _fitted(kind, activation, rng)
    coef_dirs = [rng.normal(size=c.shape) for c in model.coefs_]
    intercept_dirs = [rng.normal(size=b.shape) for b in model.intercepts_]
    forward = directional_derivative(model, X, y, coef_dirs, intercept_dirs)
    _, coef_grads, intercept_grads = from_estimator(model, X, y).loss_gradient()
    reverse = sum((d * g).sum() for d, g in zip(coef_dirs + intercept_dirs,
                                                coef_grads + intercept_grads))
    assert np.isclose(forward, reverse, rtol=1e-10)


def test_forward_mode_matches_a_finite_difference(rng):
    """Forward mode checked against the objective itself, not against reverse mode."""
    model, X, y = _fitted("multiclass", "tanh", rng)
    dirs = [rng.normal(size=c.shape) for c in model.coefs_]
    zeros = [np.zeros_like(b) for b in model.intercepts_]
    h = 1e-6
    W0 = [c.copy() for c in model.coefs_]
    model.coefs_ = [w + h * d for w, d in zip(W0, dirs)]
    plus = model.loss_gradient(X, y)[0]
    model.coefs_ = [w - h * d for w, d in zip(W0, dirs)]
    minus = model.loss_gradient(X, y)[0]
    model.coefs_ = W0
    assert np.isclose(directional_derivative(model, X, y, dirs, zeros),
                      (plus - minus) / (2 * h), rtol=1e-6)


def test_update_is_a_gradient_descent_step(rng):
    model, X, y = _fitted("multiclass", "relu", rng)
    g = from_estimator(model, X, y)
    loss_before, coef_grads, _ = g.loss_gradient()
    W_before = g.coefs[0].value.copy()
    g.update(learning_rate=0.01)
    np.testing.assert_allclose(g.coefs[0].value, W_before - 0.01 * coef_grads[0])
    assert g.forward() < loss_before  # a small step downhill lowers the objective


def test_gradients_from_several_consumers_are_summed():
    """x feeds two branches; ∂(u + v)/∂x = ∂u/∂x + ∂v/∂x."""
    x = Parameter([[2.0]], name="x")
    u = Affine(x, Parameter([[3.0]]))          # u = 3x
    v = Affine(x, Parameter([[5.0]]))          # v = 5x
    total = graph.Add(u, v)
    g = Graph(total)
    g.forward()
    g.backward()
    assert x.grad[0, 0] == 8.0


# --------------------------------------------------------------------------
# Small worked examples, computed by hand
# --------------------------------------------------------------------------
def test_sigmoid_derivative_at_one():
    node = Sigmoid(Input([[1.0]]))
    Graph(node).forward()
    assert node.local_derivative()[0, 0] == 0.19661193324148185


def test_sigmoid_perceptron():
    """x = [-1, -2], w = [2, -3], b = -3: ŷ = σ(w·x + b) = σ(1)."""
    x = Input([[-1.0, -2.0]], name="x")
    w = Parameter([[2.0], [-3.0]], name="w")
    b = Parameter([-3.0], name="b")
    x_param = Parameter(x.value, name="x as parameter")  # to read ∂ŷ/∂x too
    y_hat = Sigmoid(Affine(x_param, w, b))
    g = Graph(y_hat)
    assert np.isclose(g.forward()[0, 0], 0.7310585786300049)
    g.backward()
    np.testing.assert_allclose(w.grad.ravel(), [-0.19661193324148185, -0.3932238664829637])
    np.testing.assert_allclose(b.grad, [0.19661193324148185])
    np.testing.assert_allclose(x_param.grad.ravel(), [0.3932238664829637, -0.5898357997244456])


def test_logistic_neuron_table():
    """W = 3, X = 3, y = 1, L = −y log σ(W X): |∂L/∂W| = 0.00037018372."""
    W = Parameter([[3.0]], name="W")
    loss = BinaryCrossEntropy(Sigmoid(Affine(Input([[3.0]]), W)), [[1.0]])
    g = Graph(loss)
    assert np.isclose(g.forward(), -np.log(1 / (1 + np.exp(-9))), rtol=1e-12)
    g.backward()
    # the notes print the value cut after 11 decimals: 0.00037018372(796…)
    assert 0 <= abs(W.grad[0, 0]) - 0.00037018372 < 1e-11
    assert W.grad[0, 0] < 0  # raising W lowers the loss


@pytest.mark.parametrize("init, expected", [(1.0, (2.0, 1.0)), (-1.0, (0.0, 0.0))])
def test_relu_perceptron_at_two(init, expected):
    """x = 2, all parameters 1: ∂y/∂w = x = 2, ∂y/∂b = 1; all −1: the ReLU "kills" both."""
    w = Parameter([[init]], name="w")
    b = Parameter([init], name="b")
    y = ReLU(Affine(Input([[2.0]]), w, b))
    g = Graph(y)
    g.forward()
    g.backward()
    assert (w.grad[0, 0], b.grad[0]) == expected


def test_trace_of_the_logistic_neuron_estimator(rng):
    """The notes' table, from a fitted estimator with its weights set to W = 3."""
    model = MLPClassifier(hidden_layer_sizes=(), alpha=0.0, max_iter=1).fit(
        rng.normal(size=(10, 1)), np.arange(10) % 2)
    model.coefs_ = [np.array([[3.0]])]
    model.intercepts_ = [np.array([0.0])]
    table = trace(model, [3.0], 1)
    rows = {name: (kind, value, derivative, grad) for name, kind, value, derivative, grad in table}
    assert rows["a1"][1][0, 0] == 9.0
    assert np.isclose(rows["y_hat"][1][0, 0], 1 / (1 + np.exp(-9)))
    assert 0 <= abs(rows["W1"][3][0, 0]) - 0.00037018372 < 1e-11
    text = str(table)
    assert text.splitlines()[0].split() == ["node", "kind", "value", "local", "derivative",
                                            "∂loss/∂node"]
    assert "W1" in text and "binary cross-entropy" in text and "-0.000370184" in text


def test_trace_lists_every_node_of_a_network(rng):
    model, X, y = _fitted("multiclass", "relu", rng)
    names = [row[0] for row in trace(model, X[0], y[0])]
    assert names == ["x", "W1", "b1", "a1", "z1", "W2", "b2", "a2", "z2", "W3", "b3", "a3",
                     "y_hat", "data loss", "L2 penalty", "objective"]


def test_directional_derivative_checks_shapes(rng):
    model, X, y = _fitted("binary", "relu", rng)
    with pytest.raises(ValueError, match="direction for W1 has shape"):
        directional_derivative(model, X, y, [np.zeros((2, 2))] * 3,
                               [np.zeros_like(b) for b in model.intercepts_])


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
def test_graph_with_dropout_masks_equals_a_kernel_step(activation, rng):
    """One full-batch SGD step (η = 1, no momentum) of the compiled epoch with
    dropout moves θ by −∇J of the masked network; the graph, given the masks
    of tests/reference.py (computed from the documented hash), has that ∇J."""
    from fastbp import _kernels
    from fastbp._kernels import KernelData, KernelOptimizer, KernelTargets

    from . import reference

    model, X, y = _fitted("multiclass", activation, rng)
    network = model._current_network()
    rates, seed = [0.3, 0.5], 987654321
    masks = reference.dropout_masks(seed, np.arange(X.shape[0]), network.units[1:-1], rates)
    graph_loss, graph_coef, graph_intercept = from_estimator(
        model, X, y, dropout_masks=[m.T for m in masks]).loss_gradient()

    theta = network.theta.copy()
    targets = np.ascontiguousarray(model._label_binarizer.transform(y), dtype=float)
    optimizer = KernelOptimizer(_kernels.SOLVER_SGD, 1.0, 0.0, False, 0.9, 0.999, 1e-8,
                                np.zeros_like(theta), np.zeros(1, np.int64))
    objective = _kernels.KernelObjective(model.alpha, float(np.finfo(float).eps), 1.0,
                                         _kernels.SOFTMAX, 1.0, 0.0)
    _kernels.train_epoch(KernelData.of(X, np.float64), KernelTargets(targets, np.ones(len(y))),
                         np.arange(len(y)), len(y), network.kernel_args(theta), objective,
                         optimizer, _kernels.KernelDropout(np.array([*rates, 0.0]),
                                                           np.uint64(seed)), 1, 0.0)
    coef_step, intercept_step = network.layout.views(network.theta - theta)
    for got, want in zip(coef_step + intercept_step, graph_coef + graph_intercept):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    # and without the masks the graph's gradient differs: dropout really acted
    assert not np.allclose(from_estimator(model, X, y).loss_gradient()[1][0], graph_coef[0])
