"""Where swapping the import must not change what a user sees: fastbp behaves
as scikit-learn in failed training, warnings, messages, hand-set networks and
interrupted training (scikit-learn's own suite runs in test_sklearn_mlp_suite.py)."""

import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier

from fastbp import MLPClassifier, MLPRegressor

SKLEARN_NON_FINITE = ("Solver produced non-finite parameter weights. The input data may "
                      "contain large values and need to be preprocessed.")


def _diverging_regressor(**extra):
    # scikit-learn's non-regression case for its issue #29504
    return MLPRegressor(hidden_layer_sizes=100, activation="identity", solver="sgd",
                        alpha=0.0001, learning_rate="constant", learning_rate_init=1,
                        shuffle=True, max_iter=20, n_iter_no_change=10, random_state=0,
                        **extra)


def test_diverging_fit_with_early_stopping_returns_the_best_validation_model():
    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = _diverging_regressor(early_stopping=True).fit(X, y)
    assert str(model.validation_scores_[-1]) == "nan"
    assert isinstance(model.validation_scores_[-1], float)
    assert all(np.isfinite(c).all() for c in model.coefs_ + model.intercepts_)
    assert np.isfinite(model.predict(X)).all()
    assert len(model.loss_curve_) == model.n_iter_ == len(model.validation_scores_)


def test_diverging_fit_without_early_stopping_raises_scikit_learns_error():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="^" + re.escape(SKLEARN_NON_FINITE)):
        _diverging_regressor().fit(X, y)


@pytest.mark.parametrize("case", ["constant target", "one sample", "strong alpha",
                                  "one iteration"])
def test_failed_training_warning_stays_quiet_on_good_fits(case, digits):
    X, y = digits
    X, y = X[:300], y[:300]
    if case == "constant target":
        fits = [MLPRegressor(max_iter=30, random_state=0).fit(X, np.full(300, 3.0))]
    elif case == "one sample":
        fits = [MLPRegressor(solver="lbfgs", max_iter=30, random_state=0).fit(X[:1], [1.0]),
                MLPRegressor(max_iter=30, random_state=0).fit(X[:1], [1.0])]
    elif case == "strong alpha":
        # loss_ is mostly the L2 term here, which the constant's loss lacks
        fits = [MLPClassifier(alpha=30.0, max_iter=40, random_state=0).fit(X, y)]
    else:
        fits = [MLPClassifier(max_iter=1, random_state=0).fit(X, y)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for model in fits:  # refit with every warning an error, except max_iter's
            warnings.filterwarnings("ignore", message="Stochastic Optimizer: Maximum")
            warnings.filterwarnings("ignore", message="lbfgs failed to converge")
            model.fit(*(
                (X[:1], [1.0]) if case == "one sample" else
                (X, np.full(300, 3.0)) if case == "constant target" else (X, y)))


def test_failed_training_warning_fires_on_a_network_worse_than_a_constant(digits):
    """Every ReLU dead and a wildly wrong output bias, barely moving: the network
    predicts worse than the class frequencies, and says so."""
    X, y = digits
    model = MLPClassifier(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=1e-9,
                          momentum=0.0, max_iter=1, random_state=0).fit(X, y)
    model.intercepts_[0][:] = -1e3
    model.intercepts_[1][:] = np.where(np.arange(10) == 0, 50.0, -50.0)
    model.set_params(warm_start=True, max_iter=10)
    with pytest.warns(ConvergenceWarning, match="always predicting the class frequencies"):
        model.fit(X, y)


def test_stratified_early_stopping_error_names_the_classes_as_scikit_learn():
    X = [[1, 2], [2, 3], [3, 4], [4, 5]]
    y = [0, 0, 0, 1]
    messages = []
    for Estimator in (MLPClassifier, SkMLPClassifier):
        with pytest.raises(ValueError) as error:
            Estimator(early_stopping=True).fit(X, y)
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert "Classes with too few members are: ['True']" in messages[0]


def test_partial_fit_trains_a_network_assigned_by_hand():
    """scikit-learn's hand-worked example (its test_fit): weights assigned to an
    unfitted estimator, one sgd step on one sample, the arithmetic in its comments."""
    X = np.array([[0.6, 0.8, 0.7]])
    mlp = MLPClassifier(solver="sgd", learning_rate_init=0.1, alpha=0.1, activation="logistic",
                        random_state=1, max_iter=1, hidden_layer_sizes=2, momentum=0)
    mlp.coefs_ = [np.array([[0.1, 0.2], [0.3, 0.1], [0.5, 0]]), np.array([[0.1], [0.2]])]
    mlp.intercepts_ = [np.array([0.1, 0.1]), np.array([1.0])]
    mlp.n_outputs_, mlp.n_features_in_, mlp.n_layers_ = 1, 3, 3
    mlp.out_activation_ = "logistic"
    mlp.partial_fit(X, np.array([0]), classes=[0, 1])
    np.testing.assert_allclose(
        mlp.coefs_[0], [[0.098, 0.195756], [0.2956664, 0.096008], [0.4939998, -0.002244]],
        atol=1e-3)
    np.testing.assert_allclose(mlp.coefs_[1], [[0.04706], [0.154089]], atol=1e-3)
    np.testing.assert_allclose(mlp.intercepts_[0], [0.098333, 0.09626], atol=1e-3)
    np.testing.assert_allclose(mlp.intercepts_[1], [0.9235], atol=1e-3)
    assert abs(mlp.predict_proba(X)[0, 1] - 0.739) < 1e-3


def test_a_network_assigned_by_hand_with_wrong_shapes_is_refused():
    mlp = MLPClassifier(hidden_layer_sizes=2, solver="sgd")
    mlp.coefs_ = [np.zeros((4, 2)), np.zeros((2, 1))]  # 4 inputs; the data has 3
    mlp.intercepts_ = [np.zeros(2), np.zeros(1)]
    mlp.n_features_in_ = 3
    with pytest.raises(ValueError, match="do not form the network"):
        mlp.partial_fit(np.ones((2, 3)), [0, 1], classes=[0, 1])


class _InterruptAt:
    """A callback that presses Ctrl-C after the n-th epoch."""

    def __init__(self, n):
        self.n, self.seen = n, 0

    def __call__(self, estimator, info):
        self.seen += 1
        if self.seen == self.n:
            raise KeyboardInterrupt


def test_interrupting_the_eleventh_partial_fit_keeps_the_whole_history(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(10,), random_state=0, callbacks=[_InterruptAt(11)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(11):
            clf.partial_fit(X, y, classes=np.unique(y))
    assert len(clf.loss_curve_) == 11


def test_interrupting_a_warm_started_fit_keeps_the_earlier_history(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(10,), max_iter=5, random_state=0, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
        clf.set_params(callbacks=[_InterruptAt(3)])
        clf.fit(X, y)
    assert len(clf.loss_curve_) == 5 + 3
