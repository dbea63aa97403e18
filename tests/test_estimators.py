"""Behaviour of MLPClassifier / MLPRegressor as a scikit-learn user relies on it."""

import _thread
import io
import pickle
import threading
import warnings
from contextlib import redirect_stdout

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from fastbp import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def small_digits(digits):
    X, y = digits
    return X[:600], y[:600]


# --------------------------------------------------------------------------
# partial_fit
# --------------------------------------------------------------------------
def test_partial_fit_requires_classes_on_first_call(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        MLPClassifier().partial_fit(X, y)


def test_partial_fit_unseen_classes(small_digits):
    X, y = small_digits
    clf = MLPClassifier(random_state=0).partial_fit(X, y, classes=np.arange(10))
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        clf.partial_fit(X[:5], np.array([0, 1, 2, 3, 11]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predictions_do_not_depend_on_where_the_input_lives(digits, dtype):
    """Prediction reads X's rows in place (no copy into a workspace), so BLAS
    sees them at whatever address they have. The same values at four element
    offsets in a buffer, over the serial (< 2,048 rows) and the threaded path,
    give identical bits."""
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(32, 16), max_iter=3, random_state=0).fit(
        X.astype(dtype), y)
    X_test = np.vstack([X, X])[:2100].astype(dtype)
    results = {}
    for offset in range(4):
        buffer = np.zeros(X_test.size + 4, dtype=dtype)
        moved = buffer[offset : offset + X_test.size].reshape(X_test.shape)
        moved[...] = X_test
        for rows in (slice(0, 2100), slice(5, 500), slice(7, 8)):
            results.setdefault((rows.start, rows.stop), []).append(clf.predict_proba(moved[rows]))
    for probas in results.values():
        for proba in probas[1:]:
            np.testing.assert_array_equal(proba, probas[0])


def test_partial_fit_accepts_batches_missing_some_classes(small_digits):
    X, y = small_digits
    clf = MLPClassifier(random_state=0).partial_fit(X[y < 5], y[y < 5], classes=np.arange(10))
    clf.partial_fit(X[y >= 5], y[y >= 5])
    assert list(clf.classes_) == list(range(10))
    assert clf.n_iter_ == 1
    assert clf.t_ == X.shape[0]


def test_partial_fit_repeated_equals_fit_epochs_without_shuffle(small_digits):
    """k partial_fit calls = k epochs of fit (same optimizer state carried over)."""
    X, y = small_digits
    params = dict(hidden_layer_sizes=(20,), shuffle=False, random_state=0, tol=0,
                  n_iter_no_change=100)
    fitted = MLPClassifier(max_iter=3, **params).fit(X, y)
    incremental = MLPClassifier(**params)
    for _ in range(3):
        incremental.partial_fit(X, y, classes=np.unique(y))
    for a, b in zip(fitted.coefs_ + fitted.intercepts_, incremental.coefs_ + incremental.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert incremental.t_ == fitted.t_ == 3 * X.shape[0]
    np.testing.assert_allclose(incremental.loss_curve_, fitted.loss_curve_, rtol=1e-12)


def test_partial_fit_not_available_for_lbfgs():
    clf = MLPClassifier(solver="lbfgs")
    assert not hasattr(clf, "partial_fit")
    with pytest.raises(AttributeError):
        clf.partial_fit


def test_partial_fit_rejects_early_stopping(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=np.arange(10))


def test_partial_fit_regressor_improves(rng):
    X = rng.normal(size=(300, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 3.0])
    reg = MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    losses = [reg.partial_fit(X, y).loss_ for _ in range(30)]
    assert losses[-1] < 0.2 * losses[0]


# --------------------------------------------------------------------------
# warm_start
# --------------------------------------------------------------------------
def test_warm_start_continues_from_previous_weights(small_digits):
    X, y = small_digits
    clf = MLPClassifier(hidden_layer_sizes=(20,), max_iter=5, warm_start=True, random_state=0)
    clf.fit(X, y)
    first = clf.loss_curve_[-1]
    clf.fit(X, y)
    assert len(clf.loss_curve_) == 10  # the curve continues
    assert clf.loss_curve_[5] < first  # from where it stopped, not from scratch
    cold = MLPClassifier(hidden_layer_sizes=(20,), max_iter=5, random_state=0).fit(X, y)
    cold.fit(X, y)
    assert len(cold.loss_curve_) == 5


def test_warm_start_with_different_classes_raises(small_digits):
    X, y = small_digits
    clf = MLPClassifier(max_iter=2, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same"):
        clf.fit(X[y < 5], y[y < 5])


def test_warm_start_with_changed_architecture_raises(small_digits):
    X, y = small_digits
    clf = MLPClassifier(hidden_layer_sizes=(10,), max_iter=2, warm_start=True).fit(X, y)
    clf.set_params(hidden_layer_sizes=(12,))
    with pytest.raises(ValueError, match="layer sizes"):
        clf.fit(X, y)


# --------------------------------------------------------------------------
# early stopping
# --------------------------------------------------------------------------
def test_early_stopping_restores_best_weights(small_digits):
    X, y = small_digits
    seen = []

    class Spy(MLPClassifier):
        def _score(self, X_val, y_val, sample_weight=None):
            score = super()._score(X_val, y_val, sample_weight)
            seen.append((score, [c.copy() for c in self.coefs_], X_val, y_val))
            return score

    clf = Spy(hidden_layer_sizes=(30,), early_stopping=True, validation_fraction=0.2,
              n_iter_no_change=3, max_iter=200, learning_rate_init=0.01, random_state=1)
    clf.fit(X, y)
    assert 3 < clf.n_iter_ < 200
    assert len(clf.validation_scores_) == clf.n_iter_ == len(seen)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    assert clf.validation_scores_[-1] < clf.best_validation_score_  # the last epoch was worse
    best = int(np.argmax(clf.validation_scores_))  # first epoch reaching the best score
    for a, b in zip(clf.coefs_, seen[best][1]):
        np.testing.assert_array_equal(a, b)
    _, _, X_val, y_val = seen[-1]
    assert X_val.shape[0] == 120  # 20% of 600 held out
    assert clf.score(X_val, y_val) == clf.best_validation_score_


def test_early_stopping_split_is_stratified(rng):
    """A rare class always lands in the validation set in proportion."""
    X = rng.normal(size=(200, 3))
    y = np.array([0] * 180 + [1] * 20)
    scores = []
    for seed in range(5):
        clf = MLPClassifier(hidden_layer_sizes=(5,), early_stopping=True, validation_fraction=0.1,
                            max_iter=3, random_state=seed).fit(X, y)
        scores.append(clf.validation_scores_[0])
    # stratified: 18 + 2 validation samples, so the accuracy of any model is a multiple of 1/20
    assert all(abs(s * 20 - round(s * 20)) < 1e-9 for s in scores)


def test_early_stopping_too_small_validation_set():
    X = np.arange(10, dtype=float).reshape(-1, 1)
    with pytest.raises(ValueError, match="The validation set is too small"):
        MLPRegressor(early_stopping=True, validation_fraction=0.1).fit(X, X.ravel())


# --------------------------------------------------------------------------
# sample_weight and class_weight
# --------------------------------------------------------------------------
def test_integer_sample_weight_equals_repeated_rows_lbfgs(rng):
    X = rng.normal(size=(40, 3))
    y = rng.integers(0, 3, 40)
    w = rng.integers(0, 4, 40)
    params = dict(solver="lbfgs", hidden_layer_sizes=(5,), random_state=0, max_iter=50)
    weighted = MLPClassifier(**params).fit(X, y, sample_weight=w)
    repeated = MLPClassifier(**params).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    assert np.isclose(weighted.loss_, repeated.loss_, rtol=1e-8)
    for a, b in zip(weighted.coefs_, repeated.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_sample_weight_scale_invariance(rng):
    """Multiplying every weight by a constant changes nothing when alpha=0 (Σsᵢ
    normalises; with alpha > 0 the penalty ½α‖W‖²/Σsᵢ shrinks instead, as in
    scikit-learn). Plain SGD, whose steps (unlike Adam's) would scale with an
    unnormalised gradient."""
    X = rng.normal(size=(50, 3))
    y = rng.normal(size=50)
    w = rng.uniform(0.1, 2, 50)
    params = dict(hidden_layer_sizes=(5,), solver="sgd", alpha=0.0, random_state=0, max_iter=10)
    a = MLPRegressor(**params).fit(X, y, sample_weight=w)
    b = MLPRegressor(**params).fit(X, y, sample_weight=7 * w)
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-9)


def test_negative_sample_weight_rejected(rng):
    X = rng.normal(size=(10, 2))
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        MLPRegressor().fit(X, rng.normal(size=10), sample_weight=-np.ones(10))


def test_class_weight_balanced_equals_sample_weight(rng):
    X = rng.normal(size=(120, 4))
    y = rng.choice(["a", "b", "c"], 120, p=[0.7, 0.2, 0.1])
    params = dict(hidden_layer_sizes=(6,), random_state=0, max_iter=20)
    balanced = MLPClassifier(class_weight="balanced", **params).fit(X, y)
    manual = MLPClassifier(**params).fit(X, y, sample_weight=compute_sample_weight("balanced", y))
    for a, b in zip(balanced.coefs_, manual.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_class_weight_dict_multiplies_sample_weight(rng):
    X = rng.normal(size=(60, 2))
    y = rng.integers(0, 2, 60)
    sw = rng.uniform(0.5, 1.5, 60)
    params = dict(hidden_layer_sizes=(4,), random_state=0, max_iter=10)
    with_dict = MLPClassifier(class_weight={0: 1.0, 1: 5.0}, **params).fit(X, y, sample_weight=sw)
    manual = MLPClassifier(**params).fit(X, y, sample_weight=sw * np.where(y == 1, 5.0, 1.0))
    np.testing.assert_allclose(with_dict.coefs_[0], manual.coefs_[0], rtol=1e-12)


def test_class_weight_improves_minority_recall(rng):
    from sklearn.metrics import recall_score

    X = rng.normal(size=(600, 2))
    y = (X[:, 0] + 0.8 * rng.normal(size=600) > 1.6).astype(int)  # ~7% positives
    params = dict(hidden_layer_sizes=(8,), random_state=0, max_iter=100, learning_rate_init=0.01)
    plain = recall_score(y, MLPClassifier(**params).fit(X, y).predict(X))
    balanced = recall_score(y, MLPClassifier(class_weight="balanced", **params).fit(X, y).predict(X))
    assert balanced > plain + 0.2


def test_class_weight_balanced_rejected_in_partial_fit(rng):
    X = rng.normal(size=(20, 2))
    with pytest.raises(ValueError, match="class_weight 'balanced' is not supported for partial_fit"):
        MLPClassifier(class_weight="balanced").partial_fit(X, rng.integers(0, 2, 20), classes=[0, 1])


def test_class_weight_dict_works_in_partial_fit(rng):
    X = rng.normal(size=(20, 2))
    y = rng.integers(0, 2, 20)
    a = MLPClassifier(class_weight={1: 3.0}, random_state=0).partial_fit(X, y, classes=[0, 1])
    b = MLPClassifier(random_state=0).partial_fit(X, y, classes=[0, 1],
                                                  sample_weight=np.where(y == 1, 3.0, 1.0))
    np.testing.assert_allclose(a.coefs_[0], b.coefs_[0], rtol=1e-12)


# --------------------------------------------------------------------------
# coefs_ / intercepts_ are the source of truth
# --------------------------------------------------------------------------
def test_assigned_coefs_are_used_by_predict(small_digits):
    X, y = small_digits
    clf = MLPClassifier(hidden_layer_sizes=(10,), max_iter=5, random_state=0).fit(X, y)
    clf.coefs_ = [np.zeros_like(c) for c in clf.coefs_]
    clf.intercepts_ = [np.zeros_like(b) for b in clf.intercepts_]
    clf.intercepts_[-1][3] = 5.0
    assert (clf.predict(X) == 3).all()


def test_in_place_edit_of_coefs_is_used(small_digits):
    X, y = small_digits
    clf = MLPClassifier(hidden_layer_sizes=(10,), max_iter=5, random_state=0).fit(X, y)
    clf.coefs_[-1][...] = 0
    clf.intercepts_[-1][...] = np.arange(10)
    np.testing.assert_allclose(clf.predict_proba(X[:3]), np.tile(np.exp(np.arange(10)) /
                                                                 np.exp(np.arange(10)).sum(), (3, 1)))


def test_assigned_coefs_start_warm_start_and_partial_fit(rng):
    X = rng.normal(size=(30, 3))
    y = rng.normal(size=30)
    # momentum=0: a step depends on the gradient only, not on optimizer state
    params = dict(hidden_layer_sizes=(4,), solver="sgd", momentum=0.0, max_iter=1, shuffle=False,
                  random_state=0)
    reg = MLPRegressor(warm_start=True, **params).fit(X, y)
    W0 = [rng.normal(size=c.shape) for c in reg.coefs_]
    b0 = [rng.normal(size=b.shape) for b in reg.intercepts_]
    reg.coefs_, reg.intercepts_ = [w.copy() for w in W0], [b.copy() for b in b0]
    loss_at_W0 = reg.loss_gradient(X, y)[0]
    reg.fit(X, y)
    other = MLPRegressor(**params).partial_fit(X, y)
    other.coefs_, other.intercepts_ = [w.copy() for w in W0], [b.copy() for b in b0]
    other.partial_fit(X, y)
    assert reg.loss_ == pytest.approx(loss_at_W0, rel=0.5)  # first batch starts at W0
    for a, b in zip(reg.coefs_, other.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_assigning_wrong_shape_coefs_raises(small_digits):
    X, y = small_digits
    clf = MLPClassifier(hidden_layer_sizes=(10,), max_iter=2).fit(X, y)
    clf.coefs_ = [clf.coefs_[0][:, :5], clf.coefs_[1]]
    with pytest.raises(ValueError, match=r"coefs_\[0\] has shape \(64, 5\); expected \(64, 10\)"):
        clf.predict(X)


# --------------------------------------------------------------------------
# Data types and shapes
# --------------------------------------------------------------------------
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_float32_is_preserved(solver, small_digits):
    X, y = small_digits
    X32 = X.astype(np.float32)
    clf = MLPClassifier(hidden_layer_sizes=(10,), solver=solver, max_iter=5, random_state=0)
    clf.fit(X32, y)
    assert all(c.dtype == np.float32 for c in clf.coefs_ + clf.intercepts_)
    assert clf.predict_proba(X32).dtype == np.float32
    assert clf.predict_proba(X).dtype == np.float64
    clf64 = clone(clf).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X32), clf64.predict_proba(X), atol=1e-4)


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_matrix, sp.csr_array])
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_sparse_input_gives_the_dense_model(container, solver, rng):
    X = rng.normal(size=(80, 12)) * (rng.random((80, 12)) < 0.3)
    y = rng.integers(0, 3, 80)
    params = dict(hidden_layer_sizes=(6,), solver=solver, max_iter=10, random_state=0)
    dense = MLPClassifier(**params).fit(X, y)
    sparse = MLPClassifier(**params).fit(container(X), y)
    for a, b in zip(dense.coefs_, sparse.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(dense.predict_proba(X), sparse.predict_proba(container(X)),
                               rtol=1e-8)


def test_multilabel_classification(rng):
    X = rng.normal(size=(300, 5))
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0, X[:, 3] < -0.5]).astype(int)
    clf = MLPClassifier(hidden_layer_sizes=(20,), max_iter=300, learning_rate_init=0.01,
                        random_state=0).fit(X, Y)
    assert clf.out_activation_ == "logistic"
    assert clf.n_outputs_ == 3
    assert clf.predict(X).shape == (300, 3)
    assert clf.predict_proba(X).shape == (300, 3)
    assert clf.score(X, Y) > 0.85  # subset accuracy


def test_binary_classification_outputs(rng):
    X = rng.normal(size=(100, 3))
    y = np.where(X[:, 0] > 0, "pos", "neg")
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=200, learning_rate_init=0.01,
                        random_state=0).fit(X, y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 1
    proba = clf.predict_proba(X)
    assert proba.shape == (100, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))
    assert set(clf.predict(X)) <= {"neg", "pos"}
    assert clf.score(X, y) > 0.95


def test_multi_output_regression(rng):
    X = rng.normal(size=(200, 4))
    Y = np.column_stack([X[:, 0] - X[:, 1], X[:, 2] * 2])
    reg = MLPRegressor(hidden_layer_sizes=(20,), max_iter=400, learning_rate_init=0.01,
                       random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (200, 2)
    assert reg.score(X, Y) > 0.95


def test_poisson_regression(rng):
    X = rng.normal(size=(500, 2))
    mu = np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1])
    y = rng.poisson(mu)
    reg = MLPRegressor(loss="poisson", hidden_layer_sizes=(), solver="lbfgs").fit(X, y)
    assert reg.out_activation_ == "exp"
    assert (reg.predict(X) > 0).all()
    # With no hidden layer this is a Poisson GLM: the coefficients are recovered.
    np.testing.assert_allclose(reg.coefs_[0].ravel(), [0.5, -0.3], atol=0.12)


def test_poisson_rejects_negative_targets(rng):
    with pytest.raises(ValueError, match="Some value\\(s\\) of y are negative"):
        MLPRegressor(loss="poisson").fit(rng.normal(size=(10, 2)), -np.ones(10))


def test_no_hidden_layers_is_logistic_regression(rng):
    from sklearn.linear_model import LogisticRegression

    X = rng.normal(size=(200, 3))
    y = (X @ [1.0, -1.0, 0.5] + 0.5 * rng.normal(size=200) > 0).astype(int)
    clf = MLPClassifier(hidden_layer_sizes=(), solver="lbfgs", alpha=0.0, tol=1e-10,
                        max_iter=1000).fit(X, y)
    assert clf.n_layers_ == 2 and len(clf.coefs_) == 1
    lr = LogisticRegression(C=np.inf, tol=1e-10, max_iter=1000).fit(X, y)
    # both solvers stop within their tolerance of the same optimum
    np.testing.assert_allclose(clf.coefs_[0].ravel(), lr.coef_.ravel(), rtol=1e-3)
    np.testing.assert_allclose(clf.intercepts_[0], lr.intercept_, rtol=1e-3, atol=1e-5)


# --------------------------------------------------------------------------
# Prediction paths
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parallel_prediction_equals_row_by_row(dtype, rng):
    """Many rows go through the parallel kernel, few through the serial one."""
    X = rng.normal(size=(5000, 6)).astype(dtype)
    y = rng.integers(0, 4, 5000)
    clf = MLPClassifier(hidden_layer_sizes=(12, 7), max_iter=2, random_state=0).fit(X, y)
    rtol = 1e-12 if dtype == np.float64 else 1e-5  # BLAS rounds per block size
    many = clf.predict_proba(X)
    few = np.vstack([clf.predict_proba(X[i : i + 100]) for i in range(0, 5000, 100)])
    np.testing.assert_allclose(many, few, rtol=rtol)
    np.testing.assert_allclose(clf.predict_proba(sp.csr_matrix(X)), many, rtol=rtol)


def test_every_input_form_gives_the_same_prediction(rng):
    """The fast check for float ndarrays and scikit-learn's validate_data agree."""
    X = rng.normal(size=(50, 4))
    y = rng.normal(size=50)
    reg = MLPRegressor(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X, y)
    expected = reg.predict(X)
    for form in (X.tolist(), np.asfortranarray(X), X[:, ::1].copy(), np.repeat(X, 2, axis=1)[:, ::2],
                 X.astype(">f8")):
        np.testing.assert_allclose(reg.predict(form), expected, rtol=1e-12)


# --------------------------------------------------------------------------
# The scikit-learn ecosystem
# --------------------------------------------------------------------------
def test_pickle_round_trip_and_continue(small_digits):
    X, y = small_digits
    clf = MLPClassifier(hidden_layer_sizes=(10,), max_iter=5, random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    clf.partial_fit(X, y)
    restored.partial_fit(X, y)
    for a, b in zip(clf.coefs_, restored.coefs_):
        np.testing.assert_array_equal(a, b)


def test_pipeline_grid_search_and_cross_validation(small_digits):
    X, y = small_digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=30, learning_rate_init=0.01,
                                                         random_state=0))
    search = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(8,), (32,)],
                                 "mlpclassifier__alpha": [1e-4, 1e-1]}, cv=3)
    search.fit(X, y)
    assert search.best_score_ > 0.85
    assert len(search.cv_results_["params"]) == 4
    target = X[:, :5].sum(axis=1)
    scores = cross_val_score(MLPRegressor(max_iter=100, learning_rate_init=0.01, random_state=0),
                             X, target, cv=3)
    assert np.all(scores > 0.8)


def test_same_random_state_same_model(small_digits):
    X, y = small_digits
    a = MLPClassifier(hidden_layer_sizes=(10,), max_iter=5, random_state=3).fit(X, y)
    b = MLPClassifier(hidden_layer_sizes=(10,), max_iter=5, random_state=3).fit(X, y)
    c = MLPClassifier(hidden_layer_sizes=(10,), max_iter=5, random_state=4).fit(X, y)
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])
    assert not np.allclose(a.coefs_[0], c.coefs_[0])


def test_verbose_prints_sklearn_lines(small_digits):
    X, y = small_digits
    out = io.StringIO()
    with redirect_stdout(out):
        MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, verbose=True, random_state=0).fit(X, y)
    lines = out.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == [f"Iteration {i}" for i in (1, 2, 3)]
    assert all(line.split(", loss = ")[1].replace(".", "").isdigit() for line in lines)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_n_jobs_sets_training_threads_and_restores_them(n_jobs, small_digits):
    """During fit: n_jobs Numba threads and single-threaded BLAS (one pool of
    threads, never two on the same cores); afterwards: everything as before."""
    from threadpoolctl import threadpool_info

    X, y = small_digits
    before_numba = numba.get_num_threads()
    before_blas = [p["num_threads"] for p in threadpool_info()]
    seen = {}

    def spy(est, info):  # called after each epoch, inside fit
        seen["numba"] = numba.get_num_threads()
        seen["blas"] = {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}

    MLPClassifier(hidden_layer_sizes=(5,), max_iter=2, n_jobs=n_jobs, callbacks=[spy]).fit(X, y)
    assert seen == {"numba": min(n_jobs, numba.config.NUMBA_NUM_THREADS), "blas": {1}}
    assert numba.get_num_threads() == before_numba
    assert [p["num_threads"] for p in threadpool_info()] == before_blas


def test_n_jobs_does_not_change_the_model(small_digits):
    X, y = small_digits
    a = MLPClassifier(hidden_layer_sizes=(10,), max_iter=3, random_state=0, n_jobs=1).fit(X, y)
    b = MLPClassifier(hidden_layer_sizes=(10,), max_iter=3, random_state=0, n_jobs=-1).fit(X, y)
    np.testing.assert_allclose(a.coefs_[0], b.coefs_[0], rtol=1e-10)


def _fit_in_threads(X, y, seeds):
    models = [None] * len(seeds)

    def work(i):
        models[i] = MLPClassifier(hidden_layer_sizes=(16,), max_iter=3, random_state=seeds[i]).fit(X, y)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(seeds))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return models


def test_concurrent_fits_from_python_threads_equal_sequential_fits(small_digits):
    import scipy.linalg.cython_blas  # noqa: F401  (the BLAS the kernels call, loaded now)
    from threadpoolctl import threadpool_info

    def blas_threads():
        return {p["filepath"]: p["num_threads"] for p in threadpool_info()
                if p["user_api"] == "blas"}

    X, y = small_digits
    blas_before = blas_threads()
    concurrent = _fit_in_threads(X, y, [0, 1, 2, 3])
    assert blas_threads() == blas_before  # process-wide BLAS settings untouched
    for seed, model in zip([0, 1, 2, 3], concurrent):
        alone = MLPClassifier(hidden_layer_sizes=(16,), max_iter=3, random_state=seed).fit(X, y)
        # off the main thread the serial twins run the same slices: the same model
        np.testing.assert_array_equal(model.coefs_[0], alone.coefs_[0])


def test_fit_in_a_background_thread_leaves_blas_threads_alone(small_digits):
    """OpenBLAS cannot raise its thread count from a non-main thread, so a fit
    there must not lower it in the first place."""
    import scipy.linalg.cython_blas  # noqa: F401
    from threadpoolctl import threadpool_info

    X, y = small_digits
    before = {p["filepath"]: p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}
    [model] = _fit_in_threads(X, y, [0])
    after = {p["filepath"]: p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}
    assert after == before
    alone = MLPClassifier(hidden_layer_sizes=(16,), max_iter=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(model.coefs_[0], alone.coefs_[0])


# --------------------------------------------------------------------------
# Failure: divergence, interruption
# --------------------------------------------------------------------------
def test_divergence_raises_and_keeps_finite_weights(rng):
    X = rng.normal(size=(200, 5))
    y = 1000 * (X @ rng.normal(size=5))
    reg = MLPRegressor(solver="sgd", learning_rate_init=10, max_iter=30, random_state=0)
    with pytest.raises(ValueError, match="^Solver produced non-finite parameter weights.*"
                                         "training diverged in iteration"):
        reg.fit(X, y)
    assert all(np.isfinite(c).all() for c in reg.coefs_ + reg.intercepts_)


def test_failed_training_warns(small_digits):
    """sgd with learning_rate_init=10 leaves finite but useless weights (7.5% training
    accuracy): a clear warning says so. (adam with the same rate keeps 98.7%
    training accuracy under a huge L2 term: that model is not failed, and the
    warning, which compares the data loss alone, stays quiet.)"""
    X, y = small_digits
    with pytest.warns(ConvergenceWarning, match="Training failed: the network's training loss"):
        model = MLPClassifier(solver="sgd", learning_rate_init=10, max_iter=20,
                              random_state=0).fit(X, y)
    assert model.score(X, y) < 0.2


def test_healthy_training_does_not_warn_of_failure(small_digits):

    X, y = small_digits
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MLPClassifier(max_iter=300, random_state=0).fit(X, y)


def test_keyboard_interrupt_keeps_last_finished_epoch(rng):
    X = rng.normal(size=(3000, 20))
    y = rng.integers(0, 5, 3000)
    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=100000, tol=0, n_iter_no_change=10**9,
                        random_state=0)
    timer = threading.Timer(1.5, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.warns(UserWarning, match="Training interrupted by user"):
            clf.fit(X, y)
    finally:
        timer.cancel()
    assert 0 < clf.n_iter_ < 100000
    assert len(clf.loss_curve_) == clf.n_iter_
    assert all(np.isfinite(c).all() for c in clf.coefs_)
    # The weights are those of the last recorded epoch: its loss is finite and the model works.
    assert clf.predict(X).shape == (3000,)


# --------------------------------------------------------------------------
# callbacks
# --------------------------------------------------------------------------
@pytest.mark.parametrize("early_stopping", [False, True])
def test_callbacks_receive_each_epoch(early_stopping, small_digits):
    X, y = small_digits
    seen = []
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=4, early_stopping=early_stopping,
                        random_state=0, callbacks=[lambda est, info: seen.append(dict(info))])
    clf.fit(X, y)
    assert [info["epoch"] for info in seen] == [1, 2, 3, 4]
    assert [info["loss"] for info in seen] == clf.loss_curve_
    assert all(info["max_epochs"] == 4 and info["seconds"] > 0 for info in seen)
    expected_n = 540 if early_stopping else 600  # 10% held out
    assert all(info["n_samples"] == expected_n for info in seen)
    if early_stopping:
        assert [info["validation_score"] for info in seen] == clf.validation_scores_
    else:
        assert all(info["validation_score"] is None for info in seen)


def test_callback_returning_true_stops_training(small_digits):
    X, y = small_digits
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0,
                        callbacks=[lambda est, info: info["epoch"] == 3])
    clf.fit(X, y)
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3


def test_callbacks_with_lbfgs(small_digits):
    X, y = small_digits
    losses = []
    clf = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=30, random_state=0,
                        callbacks=[lambda est, info: losses.append(info["loss"]) or len(losses) == 5])
    clf.fit(X, y)
    assert len(losses) == 5 and clf.n_iter_ == 5
    assert losses == sorted(losses, reverse=True)  # L-BFGS-B never increases the loss
    assert np.isclose(clf.loss_, losses[-1])


def _count_epochs(estimator, info):
    estimator.epochs_seen_ = getattr(estimator, "epochs_seen_", 0) + 1


def test_estimator_with_callbacks_clones_and_pickles(small_digits):
    X, y = small_digits
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, callbacks=[_count_epochs])
    assert clone(clf).callbacks == [_count_epochs]
    restored = pickle.loads(pickle.dumps(clf.fit(X, y)))
    assert restored.callbacks == [_count_epochs] and restored.epochs_seen_ == 2


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_results_are_identical_run_to_run(solver, n_jobs):
    """Same random_state and thread count: bit-for-bit the same model, although with
    two threads each batch's rows are split between threads (rows × parameters here
    is above the one-thread threshold) and the partial sums meet in a fixed order."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 40)).astype(np.float32)
    y = rng.integers(0, 5, 1500)
    fits = [MLPClassifier(hidden_layer_sizes=(64, 32), solver=solver, max_iter=8, n_jobs=n_jobs,
                          random_state=3).fit(X, y) for _ in range(2)]
    for a, b in zip(fits[0].coefs_ + fits[0].intercepts_, fits[1].coefs_ + fits[1].intercepts_):
        np.testing.assert_array_equal(a, b)
    assert fits[0].loss_ == fits[1].loss_
    if solver != "lbfgs":
        assert fits[0].loss_curve_ == fits[1].loss_curve_


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_stochastic_training_continues_a_network_lbfgs_fitted(rng):
    """scikit-learn raises AttributeError (no loss_curve_) for partial_fit after lbfgs and
    TypeError when early_stopping is switched on or off for a warm start; fastbp starts
    the missing bookkeeping and keeps the weights."""
    X = rng.normal(size=(60, 3))
    y = np.arange(60) % 2
    model = MLPClassifier((4,), solver="lbfgs", max_iter=3, random_state=0).fit(X, y)
    assert not hasattr(model, "loss_curve_")
    weights = [c.copy() for c in model.coefs_]
    model.set_params(solver="adam", learning_rate_init=1e-12).partial_fit(X, y)
    assert len(model.loss_curve_) == 1 and model._no_improvement_count == 0
    np.testing.assert_allclose(model.coefs_[0], weights[0], atol=1e-9)
    model.set_params(early_stopping=True, warm_start=True, max_iter=2).fit(X, y)
    assert len(model.validation_scores_) == 2 and len(model.loss_curve_) == 3
    model.set_params(early_stopping=False).fit(X, y)
    assert np.isfinite(model.best_loss_)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("activation", ["leaky_relu", "elu", "softplus"])
def test_the_new_activations_learn_digits(activation, digits):
    """Beyond scikit-learn's four: each trains digits to relu's accuracy class."""
    from sklearn.model_selection import train_test_split

    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    model = MLPClassifier((64,), activation=activation, max_iter=60, random_state=0)
    assert model.fit(X_train, y_train).score(X_test, y_test) > 0.95
    assert MLPClassifier().get_params()["activation"] == "relu"  # the default is scikit-learn's


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("activation", ["relu", "tanh", "elu", "softplus"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_transform_is_the_last_hidden_layer(activation, dtype, rng):
    from tests import reference

    X = rng.normal(size=(50, 6)).astype(dtype)
    model = MLPRegressor(hidden_layer_sizes=(5, 4), activation=activation, max_iter=3, random_state=0).fit(
        X, rng.normal(size=50))
    Z = model.transform(X)
    h = reference.HIDDEN[activation][0]
    expected = X.astype(float)
    for W, b in zip(model.coefs_[:-1], model.intercepts_[:-1]):
        expected = h(expected @ W.astype(float) + b)
    assert Z.shape == (50, 4) and Z.dtype == dtype
    np.testing.assert_allclose(Z, expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-6 if dtype == np.float32 else 1e-13)
    np.testing.assert_allclose(model.transform(sp.csr_matrix(X)), Z,  # another product order
                               rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-6 if dtype == np.float32 else 1e-13)
    assert list(model.get_feature_names_out()) == [f"mlpregressor{i}" for i in range(4)]
    with pytest.raises(ValueError, match="no hidden layer"):
        MLPRegressor(hidden_layer_sizes=()).fit(X, rng.normal(size=50)).transform(X)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_transform_feeds_a_scikit_learn_model(digits):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    net = MLPClassifier((32,), max_iter=50, random_state=0).fit(X_train, y_train)
    head = LogisticRegression(max_iter=2000).fit(net.transform(X_train), y_train)
    assert head.score(net.transform(X_test), y_test) > 0.93
