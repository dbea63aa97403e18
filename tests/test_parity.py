"""Parity with scikit-learn's MLPClassifier / MLPRegressor.

fastbp draws its initial weights, its early-stopping split and its shuffles
from the estimator's random state exactly as scikit-learn does, so the same
settings give the same model, not merely a similar one.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import datasets
from sklearn import neural_network as sk
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import fastbp

TOL = {np.float64: dict(rtol=1e-9, atol=1e-12), np.float32: dict(rtol=2e-4, atol=2e-5)}


def _problem(kind, rng):
    X = rng.normal(size=(90, 6))
    if kind == "multiclass":
        return "MLPClassifier", {}, X, rng.integers(0, 4, 90)
    if kind == "binary":
        return "MLPClassifier", {}, X, np.where(X[:, 0] + rng.normal(size=90) > 0, "yes", "no")
    if kind == "multilabel":
        return "MLPClassifier", {}, X, (X[:, :3] + rng.normal(size=(90, 3)) > 0).astype(int)
    if kind == "regression":
        return "MLPRegressor", {}, X, X @ rng.normal(size=6) + rng.normal(size=90)
    if kind == "poisson":
        return "MLPRegressor", {"loss": "poisson"}, X, rng.poisson(np.exp(0.3 * X[:, 0]))
    raise ValueError(kind)


def _one_epoch_from(W0, b0, Estimator, X, y, sample_weight, **params):
    est = Estimator(max_iter=1, shuffle=False, warm_start=True, random_state=0, **params)
    est.fit(X, y, sample_weight=sample_weight)  # builds the network
    est.coefs_ = [w.copy() for w in W0]
    est.intercepts_ = [b.copy() for b in b0]
    return est.fit(X, y, sample_weight=sample_weight)  # one epoch from (W0, b0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel", "regression", "poisson"])
def test_one_epoch_from_same_weights_equals_sklearn(kind, solver, weighted, dtype, rng):
    name, params, X, y = _problem(kind, rng)
    X = X.astype(dtype)
    sample_weight = rng.uniform(0.5, 2, X.shape[0]) if weighted else None
    params.update(solver=solver, hidden_layer_sizes=(7, 5), activation="tanh", alpha=0.01,
                  batch_size=16, learning_rate_init=0.01)
    init = getattr(sk, name)(max_iter=1, random_state=3, **params).fit(X, y)
    W0, b0 = init.coefs_, init.intercepts_

    ours = _one_epoch_from(W0, b0, getattr(fastbp, name), X, y, sample_weight, **params)
    theirs = _one_epoch_from(W0, b0, getattr(sk, name), X, y, sample_weight, **params)
    assert np.isclose(ours.loss_, theirs.loss_, rtol=TOL[dtype]["rtol"])
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, **TOL[dtype])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_one_epoch_on_sparse_input_equals_sklearn(solver, rng):
    X = sp.random(80, 30, density=0.1, format="csr", random_state=0)
    y = rng.integers(0, 3, 80)
    params = dict(solver=solver, hidden_layer_sizes=(6,), batch_size=10, learning_rate_init=0.05)
    init = sk.MLPClassifier(max_iter=1, random_state=3, **params).fit(X, y)
    ours = _one_epoch_from(init.coefs_, init.intercepts_, fastbp.MLPClassifier, X, y, None, **params)
    theirs = _one_epoch_from(init.coefs_, init.intercepts_, sk.MLPClassifier, X, y, None, **params)
    assert np.isclose(ours.loss_, theirs.loss_, rtol=1e-10)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_multi_output_squared_error_reports_scikit_learns_loss(rng):
    """Same weights as scikit-learn and the same loss_ (the squared error's mean over
    outputs); loss_gradient's objective is the sum over outputs, whose gradient
    both follow."""
    X = rng.normal(size=(50, 4))
    Y = rng.normal(size=(50, 3))
    params = dict(solver="sgd", hidden_layer_sizes=(5,), alpha=0.0, batch_size=50)
    init = sk.MLPRegressor(max_iter=1, random_state=0, **params).fit(X, Y)
    ours = _one_epoch_from(init.coefs_, init.intercepts_, fastbp.MLPRegressor, X, Y, None, **params)
    theirs = _one_epoch_from(init.coefs_, init.intercepts_, sk.MLPRegressor, X, Y, None, **params)
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    assert np.isclose(ours.loss_, theirs.loss_, rtol=1e-10)
    objective, _, _ = ours.loss_gradient(X, Y)
    assert np.isclose(objective, 0.5 * ((ours.predict(X) - Y) ** 2).sum(axis=1).mean())


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_multi_output_regression_stops_where_scikit_learn_stops(solver, rng):
    """The tol rule (adam) and L-BFGS's line search (which, as in scikit-learn,
    sees the reported loss) work on scikit-learn's scale: same n_iter_ and curve."""
    X = rng.normal(size=(120, 5))
    Y = np.column_stack([X[:, 0] - X[:, 1], X[:, 2] ** 2, np.sin(X[:, 3])])
    common = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=300, tol=1e-3,
                  random_state=0, alpha=1e-3)
    ours = fastbp.MLPRegressor(**common).fit(X, Y)
    theirs = sk.MLPRegressor(**common).fit(X, Y)
    assert ours.n_iter_ == theirs.n_iter_
    assert np.isclose(ours.loss_, theirs.loss_, rtol=1e-7)
    if solver == "adam":
        assert ours.n_iter_ < 300  # the tol rule stopped it
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-8)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("params", [
    dict(solver="adam"),
    dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.5, momentum=0.5),
    dict(solver="sgd", learning_rate="adaptive", nesterovs_momentum=False, tol=1e-2),
    dict(solver="adam", early_stopping=True, validation_fraction=0.2, n_iter_no_change=3),
], ids=["adam", "sgd-invscaling", "sgd-adaptive", "adam-early-stopping"])
def test_full_fit_with_shuffling_equals_sklearn(params, digits):
    X, y = digits
    X, y = X[:500], y[:500]
    common = dict(hidden_layer_sizes=(32,), max_iter=25, random_state=7, batch_size=64, **params)
    ours = fastbp.MLPClassifier(**common).fit(X, y)
    theirs = sk.MLPClassifier(**common).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-8)
    if params.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
        assert ours.best_validation_score_ == theirs.best_validation_score_
        assert ours.best_loss_ is None and theirs.best_loss_ is None
    else:
        assert np.isclose(ours.best_loss_, theirs.best_loss_, rtol=1e-8)
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("Estimator", ["MLPClassifier", "MLPRegressor"])
def test_lbfgs_follows_and_converges_like_sklearn(Estimator, digits):
    """Same L-BFGS path as scikit-learn (the iterates agree until rounding
    differences, amplified by the line searches, become visible), and the same
    converged loss on a well-posed (regularised) problem."""
    X, y = digits
    X, y = X[:400], y[:400]
    if Estimator == "MLPRegressor":
        y = (y - y.mean()) / y.std()
    common = dict(solver="lbfgs", hidden_layer_sizes=(20,), random_state=0)
    ours = getattr(fastbp, Estimator)(alpha=1e-3, max_iter=40, **common).fit(X, y)
    theirs = getattr(sk, Estimator)(alpha=1e-3, max_iter=40, **common).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    assert np.isclose(ours.loss_, theirs.loss_, rtol=1e-8)

    converged = dict(alpha=10.0, max_iter=2000, tol=1e-9, **common)
    ours = getattr(fastbp, Estimator)(**converged).fit(X, y)
    theirs = getattr(sk, Estimator)(**converged).fit(X, y)
    assert ours.n_iter_ < 2000 and theirs.n_iter_ < 2000
    assert np.isclose(ours.loss_, theirs.loss_, rtol=1e-4)


def _load(name):
    loader = getattr(datasets, f"load_{name}")
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0,
                                                        stratify=y)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("name", ["digits", "iris", "wine", "breast_cancer"])
def test_accuracy_within_one_point_of_sklearn(name, solver):
    X_train, X_test, y_train, y_test = _load(name)
    common = dict(solver=solver, max_iter=200, random_state=0)
    ours = fastbp.MLPClassifier(**common).fit(X_train, y_train).score(X_test, y_test)
    theirs = sk.MLPClassifier(**common).fit(X_train, y_train).score(X_test, y_test)
    assert abs(ours - theirs) <= 0.01
