"""``loss_gradient`` against central finite differences (float64).

For every hidden activation and every loss, with an L2 penalty and sample
weights, each partial derivative of the objective J is compared with
(J(θ + h eₖ) − J(θ − h eₖ)) / 2h, relative error ≤ 1e-6.
"""

import numpy as np
import pytest

from fastbp import MLPClassifier, MLPRegressor

ACTIVATIONS = ["identity", "logistic", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu",
               "silu", ("tanh", "gelu"), ["silu", "relu"]]  # and one per hidden layer


def _problem(kind, rng):
    X = rng.normal(size=(30, 4))
    if kind == "binary":
        return MLPClassifier, {}, X, rng.integers(0, 2, 30)
    if kind == "multiclass":
        return MLPClassifier, {}, X, rng.integers(0, 3, 30)
    if kind == "multilabel":
        return MLPClassifier, {}, X, rng.integers(0, 2, (30, 3))
    if kind == "squared_error":
        return MLPRegressor, {}, X, rng.normal(size=(30, 2))
    if kind == "poisson":
        return MLPRegressor, {"loss": "poisson"}, X, rng.poisson(2.0, 30).astype(float)
    if kind == "huber":  # δ = 0.5: residuals of both regions
        return MLPRegressor, {"loss": "huber", "huber_delta": 0.5}, X, rng.normal(size=(30, 2))
    if kind == "absolute_error":
        return MLPRegressor, {"loss": "absolute_error"}, X, rng.normal(size=(30, 2))
    raise ValueError(kind)


def finite_difference_check(est, X, y, sample_weight, h=1e-6):
    loss, coef_grads, intercept_grads = est.loss_gradient(X, y, sample_weight)
    worst = 0.0
    for params, grads in ((est.coefs_, coef_grads), (est.intercepts_, intercept_grads)):
        for P, G in zip(params, grads):
            assert G.shape == P.shape
            for idx in np.ndindex(P.shape):
                saved = P[idx]
                P[idx] = saved + h
                loss_plus = est.loss_gradient(X, y, sample_weight)[0]
                P[idx] = saved - h
                loss_minus = est.loss_gradient(X, y, sample_weight)[0]
                P[idx] = saved
                numeric = (loss_plus - loss_minus) / (2 * h)
                error = abs(numeric - G[idx]) / max(abs(numeric), abs(G[idx]), 1e-3)
                worst = max(worst, error)
    return worst, loss


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel", "squared_error", "poisson",
                                  "huber", "absolute_error"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_loss_gradient_matches_finite_differences(kind, activation, rng):
    Estimator, params, X, y = _problem(kind, rng)
    est = Estimator(hidden_layer_sizes=(5, 3), activation=activation, alpha=0.7, max_iter=3,
                    random_state=0, **params)
    est.fit(X, y)
    sample_weight = rng.uniform(0.2, 3.0, X.shape[0])
    worst, loss = finite_difference_check(est, X, y, sample_weight)
    assert np.isfinite(loss)
    assert worst <= 1e-6


def test_loss_gradient_with_class_weight_matches_finite_differences(rng):
    X = rng.normal(size=(40, 3))
    y = rng.choice(["a", "b", "c"], 40, p=[0.6, 0.3, 0.1])
    est = MLPClassifier(hidden_layer_sizes=(4,), activation="tanh", class_weight="balanced",
                        max_iter=2, random_state=0).fit(X, y)
    worst, _ = finite_difference_check(est, X, y, None)
    assert worst <= 1e-6


def test_loss_gradient_on_sparse_input_equals_dense(rng):
    import scipy.sparse as sp

    X = rng.normal(size=(25, 6)) * (rng.random((25, 6)) < 0.4)
    y = rng.integers(0, 3, 25)
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, y)
    dense = est.loss_gradient(X, y)
    for container in (sp.csr_matrix, sp.csc_matrix, sp.csr_array):
        sparse = est.loss_gradient(container(X), y)
        assert np.isclose(sparse[0], dense[0], rtol=1e-12)
        for a, b in zip(sparse[1] + sparse[2], dense[1] + dense[2]):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_loss_gradient_does_not_change_the_model(rng):
    X = rng.normal(size=(20, 3))
    y = rng.integers(0, 2, 20)
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    before = [c.copy() for c in est.coefs_ + est.intercepts_]
    state = (est.n_iter_, est.t_, est.loss_, len(est.loss_curve_))
    _, coef_grads, _ = est.loss_gradient(X, y)
    coef_grads[0][...] = 123.0  # the returned arrays are the caller's, not views of the model
    assert all(np.array_equal(a, b) for a, b in zip(before, est.coefs_ + est.intercepts_))
    assert (est.n_iter_, est.t_, est.loss_, len(est.loss_curve_)) == state


def test_loss_gradient_at_lbfgs_solution_is_the_reported_loss(rng):
    """fit minimises exactly this objective: at L-BFGS's solution J equals loss_
    and the gradient is (nearly) zero. (alpha=0.1 keeps the problem well
    conditioned; at alpha=0.01 where L-BFGS stops on its relative-decrease test
    depends on rounding, with gradients from 6e-5 to 2e-4.)"""
    X = rng.normal(size=(60, 3))
    y = X[:, 0] - 2 * X[:, 1] ** 2 + 0.1 * rng.normal(size=60)
    est = MLPRegressor(hidden_layer_sizes=(6,), activation="tanh", solver="lbfgs", alpha=0.1,
                       max_iter=2000, tol=1e-10, random_state=0).fit(X, y)
    loss, coef_grads, intercept_grads = est.loss_gradient(X, y)
    assert np.isclose(loss, est.loss_, rtol=1e-10)
    assert max(np.abs(g).max() for g in coef_grads + intercept_grads) < 1e-4
