"""Bad input gets scikit-learn's exception, before any compiled code runs.

Each case is run on scikit-learn's estimator and on fastbp's: the exception
type must be the same and fastbp's message must say what scikit-learn's says.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import neural_network as sk
from sklearn.exceptions import NotFittedError

import fastbp

rng = np.random.default_rng(0)
X = rng.normal(size=(20, 4))
y_class = np.arange(20) % 3
y_reg = rng.normal(size=20)


def _with(array, index, value):
    out = np.array(array, dtype=float)
    out[index] = value
    return out


FIT_CASES = {
    "nan in X": lambda: (_with(X, (3, 1), np.nan), y_class),
    "inf in X": lambda: (_with(X, (0, 0), np.inf), y_class),
    "nan in sparse X": lambda: (sp.csr_matrix(_with(X, (2, 2), np.nan)), y_class),
    "empty X": lambda: (np.empty((0, 4)), np.empty(0)),
    "no features": lambda: (np.empty((20, 0)), y_class),
    "1-D X": lambda: (X[:, 0], y_class),
    "3-D X": lambda: (X.reshape(20, 2, 2), y_class),
    "object X of strings": lambda: (np.array([["a", "b"]] * 20, dtype=object), y_class),
    "complex X": lambda: (X + 1j, y_class),
    "X and y lengths differ": lambda: (X, y_class[:-1]),
    "nan in y": lambda: (X, _with(y_reg, 4, np.nan)),
    "y missing": lambda: (X, None),
}


def _first_error(call):
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the point is to catch whatever is raised
        return error
    return None


@pytest.mark.parametrize("name", ["MLPClassifier", "MLPRegressor"])
@pytest.mark.parametrize("case", FIT_CASES)
def test_fit_rejects_bad_input_like_sklearn(case, name):
    X_bad, y_bad = FIT_CASES[case]()
    if name == "MLPRegressor" and y_bad is y_class:
        y_bad = y_reg
    theirs = _first_error(lambda: getattr(sk, name)(max_iter=2).fit(X_bad, y_bad))
    ours = _first_error(lambda: getattr(fastbp, name)(max_iter=2).fit(X_bad, y_bad))
    assert theirs is not None, "scikit-learn accepts this input; the case is wrong"
    assert type(ours) is type(theirs)
    assert str(ours) == str(theirs)


PREDICT_CASES = {
    "wrong number of features": lambda: X[:, :3],
    "nan in X": lambda: _with(X, (1, 1), np.nan),
    "1-D X": lambda: X[0],
    "empty X": lambda: np.empty((0, 4)),
    "strings": lambda: np.array([["x"] * 4] * 3),
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("method", ["predict", "predict_proba", "score"])
@pytest.mark.parametrize("case", PREDICT_CASES)
def test_predict_rejects_bad_input_like_sklearn(case, method):
    theirs_model = sk.MLPClassifier(max_iter=2).fit(X, y_class)
    ours_model = fastbp.MLPClassifier(max_iter=2).fit(X, y_class)
    X_bad = PREDICT_CASES[case]()

    def call(model):
        if method == "score":
            return model.score(X_bad, np.zeros(len(X_bad)))
        return getattr(model, method)(X_bad)

    theirs = _first_error(lambda: call(theirs_model))
    ours = _first_error(lambda: call(ours_model))
    assert theirs is not None
    assert type(ours) is type(theirs)
    assert str(ours) == str(theirs)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "loss_gradient"])
def test_unfitted_model_raises_not_fitted(method):
    with pytest.raises(NotFittedError):
        if method == "loss_gradient":
            fastbp.MLPClassifier().loss_gradient(X, y_class)
        else:
            getattr(fastbp.MLPClassifier(), method)(X)


@pytest.mark.parametrize("params, message", [
    (dict(hidden_layer_sizes=(10, 0)), "hidden_layer_sizes must be positive integers"),
    (dict(hidden_layer_sizes=(10, -3)), "hidden_layer_sizes must be positive integers"),
    (dict(hidden_layer_sizes=0), "The 'hidden_layer_sizes' parameter"),
    (dict(solver="newton"), "The 'solver' parameter"),
    (dict(activation="softmax"), "The 'activation' parameter"),
    (dict(learning_rate_init=0.0), "The 'learning_rate_init' parameter"),
    (dict(batch_size=0), "The 'batch_size' parameter"),
    (dict(validation_fraction=1.0), "The 'validation_fraction' parameter"),
    (dict(n_jobs="all"), "The 'n_jobs' parameter"),
    (dict(class_weight="uniform"), "The 'class_weight' parameter"),
])
def test_invalid_parameters_raise_before_training(params, message):
    with pytest.raises(ValueError, match=message):
        fastbp.MLPClassifier(**params).fit(X, y_class)


@pytest.mark.parametrize("sample_weight, message", [
    (np.ones(19), r"sample_weight.shape == \(19,\), expected \(20,\)"),
    (np.ones((20, 2)), "Sample weights must be 1D array or scalar"),
    (_with(np.ones(20), 3, np.nan), "Input sample_weight contains NaN"),
    (-np.ones(20), "Negative values in data passed to `sample_weight`"),
])
def test_bad_sample_weight(sample_weight, message):
    with pytest.raises(ValueError, match=message):
        fastbp.MLPClassifier(max_iter=2).fit(X, y_class, sample_weight=sample_weight)


def test_multilabel_class_weight_is_refused():
    Y = (rng.random((20, 3)) < 0.5).astype(int)
    with pytest.raises(ValueError, match="class_weight is not supported for multilabel"):
        fastbp.MLPClassifier(class_weight="balanced").fit(X, Y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_loss_gradient_checks_its_input():
    model = fastbp.MLPClassifier(max_iter=2).fit(X, y_class)
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 4"):
        model.loss_gradient(X[:, :3], y_class)
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        model.loss_gradient(X, y_class + 1)
    with pytest.raises(ValueError, match=r"y has shape \(19, 3\); expected \(20, 3\)"):
        model.loss_gradient(X, y_class[:-1])
    reg = fastbp.MLPRegressor(max_iter=2).fit(X, rng.normal(size=(20, 2)))
    with pytest.raises(ValueError, match=r"y has shape \(20, 1\); expected \(20, 2\)"):
        reg.loss_gradient(X, y_reg)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_wrong_number_of_coef_arrays_is_refused():
    model = fastbp.MLPClassifier(max_iter=2).fit(X, y_class)
    model.coefs_ = model.coefs_[:1]
    with pytest.raises(ValueError, match="coefs_ and intercepts_ must each hold 2 arrays"):
        model.predict(X)
