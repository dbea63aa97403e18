"""The fast paths of ``fastbp._fastpath`` give exactly what the general path gives.

Each shortcut (plain predict / partial_fit input, the class indicator, label
decoding, the epoch shuffle, the finiteness test) is checked against the
scikit-learn machinery it stands in for, and the switch that turns them all
off is checked to change no bit of any result and no error.
"""

import warnings

import numpy as np
import pytest
from sklearn.utils import shuffle

from fastbp import MLPClassifier, MLPRegressor, _fastpath

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def small_digits(digits):
    X, y = digits
    return X[:600], y[:600]


@pytest.mark.parametrize("n_classes", [2, 10])
def test_partial_fit_plain_input_trains_as_validated_input(small_digits, n_classes):
    """ndarray X and integer y skip validate_data in partial_fit; a list takes the
    full path. Both must train the very same model, and bad plain input must still
    get scikit-learn's errors."""
    X, y = small_digits
    keep = y < n_classes
    X, y = X[keep], y[keep]
    plain = MLPClassifier(hidden_layer_sizes=(16,), random_state=0)
    listed = MLPClassifier(hidden_layer_sizes=(16,), random_state=0)
    classes = np.arange(n_classes)
    for start in range(0, X.shape[0], 50):
        rows = slice(start, start + 50)
        plain.partial_fit(X[rows], y[rows], classes=classes)
        listed.partial_fit(X[rows].tolist(), y[rows].tolist(), classes=classes)
    for a, b in zip(plain.coefs_ + plain.intercepts_, listed.coefs_ + listed.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert plain.loss_curve_ == listed.loss_curve_
    bad = X[:5].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        plain.partial_fit(bad, y[:5])
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 64"):
        plain.partial_fit(X[:5, :3], y[:5])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        plain.partial_fit(X[:5], y[:4])


def test_partial_fit_plain_input_trains_as_validated_input_regressor(rng):
    X = rng.normal(size=(200, 6))
    Y = X[:, :2] @ rng.normal(size=(2, 2))
    plain = MLPRegressor(hidden_layer_sizes=(8,), random_state=0)
    listed = MLPRegressor(hidden_layer_sizes=(8,), random_state=0)
    for start in range(0, 200, 40):
        rows = slice(start, start + 40)
        plain.partial_fit(X[rows], Y[rows])
        listed.partial_fit(X[rows].tolist(), Y[rows].tolist())
    for a, b in zip(plain.coefs_ + plain.intercepts_, listed.coefs_ + listed.intercepts_):
        np.testing.assert_array_equal(a, b)
    bad = Y[:5].copy()
    bad[1, 1] = np.inf
    with pytest.raises(ValueError, match="Input y contains infinity"):
        plain.partial_fit(X[:5], bad)


def test_plain_input_finiteness_check_is_exact_and_quiet():
    """The fast paths' finiteness test. Small arrays are tested element by
    element and large contiguous ones by a compiled pass, so huge finite
    values pass; strided large ones by a sum, where a result that overflows
    sends the caller to full validation, without a RuntimeWarning. NaN and
    ±inf never pass, at either size or layout."""
    
    huge = np.finfo(np.float32).max
    small_shape = (3, 4)
    large_shape = (_fastpath.FINITE_ELEMENTWISE_MAX // 4 + 1, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _fastpath.all_finite(np.full(small_shape, huge, dtype=np.float32))
        assert _fastpath.all_finite(np.full(large_shape, huge, dtype=np.float32))
        assert _fastpath.all_finite(np.full(large_shape, -huge, dtype=np.float32).T)
        strided_huge = np.full((large_shape[0], 8), huge, dtype=np.float32)[:, ::2]
        assert not _fastpath.all_finite(strided_huge)
        for shape in (small_shape, large_shape):
            c_order, f_order = np.ones(shape), np.ones(shape, order="F")
            strided = np.ones((shape[0], 2 * shape[1]))[:, ::2]
            for x in (c_order, f_order, strided, -c_order):
                assert _fastpath.all_finite(x)
                for bad in (np.nan, np.inf, -np.inf):
                    x[1, 2] = bad
                    assert not _fastpath.all_finite(x)
                    x[1, 2] = 1.0


@pytest.mark.parametrize("n_jobs", [None, 1])
@pytest.mark.parametrize("fit_dtype", [np.float64, np.float32])
def test_predict_plain_input_matches_validated_input(small_digits, fit_dtype, n_jobs):
    """predict / predict_proba's plain-input path (no validate_data, shared
    CSR placeholders, no thread-limit context for n_jobs=None) gives exactly
    what the validated path gives for the same float64 values (lists, Fortran
    order, a float32 model given float64 X), and one row at a time what the
    batch gives to rounding."""
    X, y = small_digits
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0,
                        n_jobs=n_jobs).fit(X.astype(fit_dtype), y)
    X_test = X[:40].astype(np.float64)
    proba = clf.predict_proba(X_test.tolist())  # validated path
    assert proba.dtype == np.float64
    np.testing.assert_array_equal(clf.predict_proba(X_test), proba)
    np.testing.assert_array_equal(clf.predict_proba(np.asfortranarray(X_test)), proba)
    np.testing.assert_array_equal(clf.predict(X_test), clf.classes_[proba.argmax(axis=1)])
    for i in (0, 17, 39):  # one row: BLAS may round a 1-row product differently
        np.testing.assert_allclose(clf.predict_proba(X_test[i : i + 1]), proba[i : i + 1],
                                   rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_label_decoding_equals_label_binarizer(n_classes, rng):
    X = rng.normal(size=(200, 3))
    y = rng.choice(np.array(["x", "y", "z"])[:n_classes], 200)
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    outputs = clf._forward_pass_fast(X)
    if clf.n_outputs_ == 1:
        outputs = outputs.ravel()
    np.testing.assert_array_equal(clf.predict(X), clf._label_binarizer.inverse_transform(outputs))


@pytest.mark.parametrize("labels", [["a", "b"], ["a", "b", "c"], [3, 7, 11, 20]])
def test_target_indicator_equals_label_binarizer(labels, rng):
    y = rng.choice(np.array(labels), 100)
    clf = MLPClassifier(hidden_layer_sizes=(3,), max_iter=1).fit(rng.normal(size=(100, 2)), y)
    np.testing.assert_array_equal(_fastpath.class_indicator(clf._label_binarizer, y),
                                  clf._label_binarizer.transform(y).astype(bool))
    partial = MLPClassifier(hidden_layer_sizes=(3,)).partial_fit(
        rng.normal(size=(10, 2)), y[:10], classes=np.array(labels))
    np.testing.assert_array_equal(_fastpath.class_indicator(partial._label_binarizer, y[:10]),
                                  partial._label_binarizer.transform(y[:10]).astype(bool))


def test_shuffle_draws_as_scikit_learn(rng):
    idx = rng.permutation(500).astype(np.int64)
    for seed in range(3):
        ours = _fastpath.shuffled(idx, np.random.RandomState(seed))
        theirs = shuffle(idx, random_state=np.random.RandomState(seed))
        np.testing.assert_array_equal(ours, theirs)
        with _fastpath.disabled():
            np.testing.assert_array_equal(_fastpath.shuffled(idx, np.random.RandomState(seed)),
                                          theirs)


def _train_and_predict(X, y, X_test, classifier):
    """A fit, three partial_fit calls and predictions: every place a fast path serves."""
    if classifier:
        est = MLPClassifier(hidden_layer_sizes=(12,), max_iter=4, random_state=0)
        est.fit(X, y)
        inc = MLPClassifier(hidden_layer_sizes=(12,), random_state=1)
        for start in range(0, 150, 50):
            inc.partial_fit(X[start : start + 50], y[start : start + 50], classes=np.unique(y))
        outputs = [est.predict_proba(X_test), est.predict(X_test), inc.predict(X_test),
                   est.predict(X_test[:1]), est.score(X_test, y[: len(X_test)])]
    else:
        est = MLPRegressor(hidden_layer_sizes=(12,), max_iter=4, random_state=0).fit(X, y)
        inc = MLPRegressor(hidden_layer_sizes=(12,), random_state=1)
        for start in range(0, 150, 50):
            inc.partial_fit(X[start : start + 50], y[start : start + 50])
        outputs = [est.predict(X_test), inc.predict(X_test), est.predict(X_test[:1])]
    weights = [w for model in (est, inc) for w in model.coefs_ + model.intercepts_]
    return outputs, weights, est.loss_curve_ + inc.loss_curve_


@pytest.mark.parametrize("kind", ["multiclass", "binary", "regression", "multi-output"])
def test_switching_the_fast_paths_off_changes_no_bit(kind, rng):
    X = rng.normal(size=(300, 5))
    if kind == "multiclass":
        y = rng.integers(0, 4, 300)
    elif kind == "binary":
        y = np.where(X[:, 0] > 0, 7, 3)
    elif kind == "regression":
        y = X @ rng.normal(size=5)
    else:
        y = X[:, :2] @ rng.normal(size=(2, 3))
    classifier = kind in ("multiclass", "binary")
    fast = _train_and_predict(X, y, X[:60], classifier)
    with _fastpath.disabled():
        assert not _fastpath.enabled()
        general = _train_and_predict(X, y, X[:60], classifier)
    assert _fastpath.enabled()
    for a, b in zip(fast[0] + fast[1], general[0] + general[1]):
        np.testing.assert_array_equal(a, b)
    assert fast[2] == general[2]


def test_the_environment_switch_turns_them_off(tmp_path):
    import subprocess
    import sys

    code = ("import fastbp._fastpath as f, numpy as np, fastbp; "
            "m = fastbp.MLPRegressor(hidden_layer_sizes=(2,), max_iter=1); "
            "print(f.enabled(), f.is_plain_input(m.fit(np.ones((4, 2)), np.ones(4)), "
            "np.ones((1, 2))))")
    for value, expected in (("0", "False False"), ("1", "True True")):
        env = {**__import__("os").environ, "FASTBP_FASTPATH": value}
        out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], env=env,
                             capture_output=True, text=True, cwd=tmp_path, check=True)
        assert out.stdout.split() == expected.split()
