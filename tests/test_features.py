"""What scikit-learn's MLPs do not have, at the estimators' level (issue 20).

Activations per layer, robust regression losses, dropout, gradient clipping,
the cosine schedule, a given validation set, ``scoring``, and scikit-learn's
callback API. The kernels' side of each (against tests/reference.py, finite
differences and fastbp.graph) is in test_kernels, test_gradients and
test_graph.
"""

import math

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import f1_score, log_loss, mean_absolute_error
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.utils._param_validation import InvalidParameterError

import fastbp
import fastbp.io
from fastbp import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _bits(model):
    return b"".join(a.tobytes() for a in model.coefs_ + model.intercepts_)


@pytest.fixture(scope="module")
def split_digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16, y, random_state=0, stratify=y)


# -- activations --------------------------------------------------------------
def test_one_name_per_layer_equals_the_shared_name(split_digits):
    X, _, y, _ = split_digits
    shared = MLPClassifier((16, 8), activation="tanh", max_iter=5, random_state=0).fit(X, y)
    for per_layer in (("tanh", "tanh"), ["tanh", "tanh"]):
        model = MLPClassifier((16, 8), activation=per_layer, max_iter=5, random_state=0).fit(X, y)
        assert _bits(model) == _bits(shared)


def test_mixed_activations_train_and_differ_from_uniform(split_digits):
    X, X_test, y, y_test = split_digits
    mixed = MLPClassifier((32, 16), activation=("gelu", "tanh"), max_iter=60,
                          random_state=0).fit(X, y)
    uniform = MLPClassifier((32, 16), activation="gelu", max_iter=60, random_state=0).fit(X, y)
    assert mixed.score(X_test, y_test) > 0.93
    assert _bits(mixed) != _bits(uniform)
    assert mixed.transform(X_test).min() >= -1  # the last hidden layer is tanh's


@pytest.mark.parametrize("activation", ["gelu", "silu"])
def test_gelu_and_silu_learn_digits(split_digits, activation):
    X, X_test, y, y_test = split_digits
    model = MLPClassifier((64,), activation=activation, max_iter=60, random_state=0).fit(X, y)
    assert model.score(X_test, y_test) > 0.95


def test_bad_activations_are_refused(split_digits):
    X, _, y, _ = split_digits
    with pytest.raises(ValueError, match="2 names for 1 hidden layers"):
        MLPClassifier((8,), activation=("relu", "tanh")).fit(X, y)
    with pytest.raises(ValueError, match="'swish' is not one of"):
        MLPClassifier((8, 4), activation=("relu", "swish")).fit(X, y)
    with pytest.raises(InvalidParameterError):
        MLPClassifier((8,), activation="swish").fit(X, y)


# -- robust losses ----------------------------------------------------------
def _line_with_outliers(rng, n=400):
    x = rng.uniform(-2, 2, (n, 1))
    y = 3 * x[:, 0] + 1 + rng.normal(0, 0.1, n)
    outliers = rng.choice(n, n // 10, replace=False)
    y[outliers] += rng.choice([-1, 1], outliers.size) * 40
    return x, y


@pytest.mark.parametrize("loss", ["huber", "absolute_error"])
def test_robust_losses_ignore_outliers(loss, rng):
    """A linear model (no hidden layer) on a line with 10% gross outliers:
    the robust losses recover the slope, squared error is pulled away."""
    X, y = _line_with_outliers(rng)
    params = dict(hidden_layer_sizes=(), solver="lbfgs", max_iter=500, random_state=0)
    robust = MLPRegressor(loss=loss, **params).fit(X, y)
    squared = MLPRegressor(**params).fit(X, y)
    assert abs(robust.coefs_[0][0, 0] - 3) < 0.1
    assert abs(robust.intercepts_[0][0] - 1) < 0.15
    clean = np.linspace(-2, 2, 50)[:, None]
    truth = 3 * clean[:, 0] + 1
    assert mean_absolute_error(truth, robust.predict(clean)) < 0.5 * mean_absolute_error(
        truth, squared.predict(clean))


def test_huber_loss_value_and_delta(rng):
    """loss_ of lbfgs is J: the mean huber loss (+ the L2 term, 0 here) at the solution."""
    X, y = _line_with_outliers(rng)
    model = MLPRegressor(loss="huber", huber_delta=0.7, hidden_layer_sizes=(), alpha=0.0,
                         solver="lbfgs", random_state=0).fit(X, y)
    r = np.abs(model.predict(X) - y)
    expected = np.where(r <= 0.7, 0.5 * r**2, 0.7 * (r - 0.35)).mean()
    assert np.isclose(model.loss_, expected, rtol=1e-10)
    with pytest.raises(InvalidParameterError):
        MLPRegressor(loss="huber", huber_delta=0).fit(X, y)


# -- dropout -----------------------------------------------------------------
def test_dropout_is_reproducible_and_changes_training(split_digits):
    X, X_test, y, y_test = split_digits
    params = dict(hidden_layer_sizes=(64,), max_iter=20, random_state=0)
    first = MLPClassifier(dropout=0.2, **params).fit(X, y)
    again = MLPClassifier(dropout=0.2, **params).fit(X, y)
    plain = MLPClassifier(**params).fit(X, y)
    assert _bits(first) == _bits(again)
    assert _bits(first) != _bits(plain)
    assert first.score(X_test, y_test) > 0.9  # 20 epochs: dropout learns a little slower
    # the default is no dropout at all: the same bits as a zero rate per layer
    assert _bits(MLPClassifier(dropout=[0.0], **params).fit(X, y)) == _bits(plain)


def test_dropout_is_off_at_prediction_and_for_lbfgs(split_digits):
    X, X_test, y, _ = split_digits
    model = MLPClassifier((32,), dropout=0.5, max_iter=5, random_state=0).fit(X, y)
    proba = model.predict_proba(X_test)
    np.testing.assert_array_equal(model.predict_proba(X_test), proba)  # no masks: deterministic
    model.set_params(dropout=0.0)
    np.testing.assert_array_equal(model.predict_proba(X_test), proba)
    lbfgs = dict(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=20, random_state=0)
    assert _bits(MLPClassifier(dropout=0.5, **lbfgs).fit(X, y)) == _bits(
        MLPClassifier(**lbfgs).fit(X, y))


def test_dropout_per_layer_and_bad_rates(split_digits):
    X, _, y, _ = split_digits
    both = MLPClassifier((16, 16), dropout=(0.3, 0.0), max_iter=3, random_state=0).fit(X, y)
    first_only = MLPClassifier((16, 16), dropout=[0.3, 0.0], max_iter=3, random_state=0).fit(X, y)
    assert _bits(both) == _bits(first_only)
    with pytest.raises(ValueError, match="2 rates for 1 hidden layers"):
        MLPClassifier((16,), dropout=[0.1, 0.2]).fit(X, y)
    with pytest.raises(ValueError, match=r"in \[0, 1\)"):
        MLPClassifier((16, 16), dropout=[0.1, 1.0]).fit(X, y)
    with pytest.raises(InvalidParameterError):
        MLPClassifier((16,), dropout=1.0).fit(X, y)


# -- gradient clipping -------------------------------------------------------
def test_gradient_clipping(split_digits):
    X, _, y, _ = split_digits
    params = dict(hidden_layer_sizes=(32,), solver="sgd", learning_rate_init=0.1, max_iter=5,
                  random_state=0)
    plain = MLPClassifier(**params).fit(X, y)
    # a bound no step reaches changes nothing, to the bit
    assert _bits(MLPClassifier(max_grad_norm=1e6, **params).fit(X, y)) == _bits(plain)
    clipped = MLPClassifier(max_grad_norm=0.01, **params).fit(X, y)
    # the initial weights (a step of 1e-300 changes no float64 weight)
    initial = MLPClassifier(**{**params, "learning_rate_init": 1e-300, "max_iter": 1}).fit(X, y)
    # steps of norm ≤ lr·0.01 (momentum adds up to 10 of them): the weights move far less
    assert np.linalg.norm(clipped.coefs_[0] - initial.coefs_[0]) < np.linalg.norm(
        plain.coefs_[0] - initial.coefs_[0]) / 10


# -- cosine schedule ---------------------------------------------------------
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_cosine_schedule(split_digits, solver):
    X, _, y, _ = split_digits
    params = dict(hidden_layer_sizes=(16,), solver=solver, learning_rate="cosine",
                  learning_rate_init=0.01, max_iter=8, shuffle=False, random_state=0,
                  n_iter_no_change=100)
    model = MLPClassifier(**params).fit(X, y)
    assert model.n_iter_ == 8
    # the last epoch (e = 7) trained at η₀ · ½(1 + cos(7π/8))
    assert math.isclose(model._optimizer.learning_rate,
                        0.01 * 0.5 * (1 + math.cos(math.pi * 7 / 8)), rel_tol=1e-12)
    # epoch by epoch with partial_fit: the same schedule, the same model
    stepwise = MLPClassifier(**params)
    for _ in range(8):
        stepwise.partial_fit(X, y, classes=np.unique(y))
    assert _bits(stepwise) == _bits(model)
    # and the schedule matters: 'constant' trains another model
    constant = MLPClassifier(**{**params, "learning_rate": "constant"}).fit(X, y)
    assert _bits(constant) != _bits(model)


def test_adam_still_ignores_scikit_learns_schedules(split_digits):
    X, _, y, _ = split_digits
    params = dict(hidden_layer_sizes=(16,), max_iter=4, random_state=0)
    assert _bits(MLPClassifier(learning_rate="invscaling", **params).fit(X, y)) == _bits(
        MLPClassifier(**params).fit(X, y))


# -- a given validation set and scoring ---------------------------------------
def test_given_validation_set_is_used_and_every_row_trains(split_digits):
    X, X_val, y, y_val = split_digits
    model = MLPClassifier((32,), early_stopping=True, max_iter=40, random_state=0,
                          n_iter_no_change=5).fit(X, y, X_val=X_val, y_val=y_val)
    assert model.t_ == model.n_iter_ * X.shape[0]  # no row held out
    # the best weights are restored: their validation accuracy is the best score
    assert model.score(X_val, y_val) == pytest.approx(max(model.validation_scores_))
    assert model.best_validation_score_ == max(model.validation_scores_)


def test_scoring_loss_is_the_negative_validation_log_loss(split_digits):
    X, X_val, y, y_val = split_digits
    weights = np.random.default_rng(0).uniform(0.5, 2, y_val.shape[0])
    model = MLPClassifier((32,), early_stopping=True, scoring="loss", max_iter=30,
                          random_state=0).fit(X, y, X_val=X_val, y_val=y_val,
                                              sample_weight_val=weights)
    expected = log_loss(y_val, model.predict_proba(X_val), sample_weight=weights)
    assert max(model.validation_scores_) == pytest.approx(-expected, rel=1e-6)


@pytest.mark.parametrize("scoring", ["f1_macro", "callable"])
def test_scoring_by_name_or_callable(split_digits, scoring):
    X, X_val, y, y_val = split_digits
    calls = []

    def macro_f1(est, X_, y_):
        calls.append(X_.shape)
        return f1_score(y_, est.predict(X_), average="macro")

    model = MLPClassifier((32,), early_stopping=True, max_iter=15, random_state=0,
                          scoring=macro_f1 if scoring == "callable" else scoring)
    model.fit(X, y, X_val=X_val, y_val=y_val)
    best = f1_score(y_val, model.predict(X_val), average="macro")
    assert max(model.validation_scores_) == pytest.approx(best)
    if scoring == "callable":
        assert calls == [X_val.shape] * model.n_iter_


def test_scoring_loss_for_a_regressor_with_its_own_split(rng):
    X = rng.normal(size=(300, 4))
    y = X @ [1.0, -2.0, 0.5, 0.0] + rng.normal(0, 0.1, 300)
    model = MLPRegressor(loss="huber", hidden_layer_sizes=(16,), early_stopping=True, scoring="loss", max_iter=30,
                         random_state=0).fit(X, y)
    assert all(score <= 0 for score in model.validation_scores_)
    assert model.t_ < model.n_iter_ * X.shape[0]  # validation_fraction held out


def test_validation_set_errors(split_digits):
    X, X_val, y, y_val = split_digits
    with pytest.raises(ValueError, match="early_stopping is False"):
        MLPClassifier((8,)).fit(X, y, X_val=X_val, y_val=y_val)
    with pytest.raises(ValueError, match="without y_val"):
        MLPClassifier((8,), early_stopping=True).fit(X, y, X_val=X_val)
    with pytest.raises(ValueError, match="without X_val"):
        MLPClassifier((8,), early_stopping=True).fit(X, y, y_val=y_val)
    with pytest.raises(ValueError, match="features"):
        MLPClassifier((8,), early_stopping=True).fit(X, y, X_val=X_val[:, :10], y_val=y_val)
    with pytest.raises(ValueError, match="classes not in"):
        MLPClassifier((8,), early_stopping=True).fit(X, y, X_val=X_val, y_val=y_val + 100)
    with pytest.raises(ValueError, match="only the 'sgd' and 'adam'"):
        MLPClassifier((8,), solver="lbfgs", early_stopping=True).fit(X, y, X_val=X_val,
                                                                     y_val=y_val)


# -- parameters in scikit-learn's machinery and in model files -----------------
def test_new_parameters_in_get_params_clone_and_grid_search(split_digits):
    X, _, y, _ = split_digits
    model = MLPClassifier(activation=("relu", "gelu"), hidden_layer_sizes=(8, 8), dropout=0.1,
                          max_grad_norm=5.0, scoring="loss", learning_rate="cosine")
    params = clone(model).get_params()
    assert params["activation"] == ("relu", "gelu") and params["dropout"] == 0.1
    assert params["max_grad_norm"] == 5.0 and params["scoring"] == "loss"
    assert MLPRegressor(loss="huber", huber_delta=2.0).get_params()["huber_delta"] == 2.0
    search = GridSearchCV(MLPClassifier((16,), max_iter=5, random_state=0),
                          {"activation": ["relu", "gelu"], "dropout": [0.0, 0.2]}, cv=2)
    search.fit(X[:400], y[:400])
    assert len(search.cv_results_["params"]) == 4


def test_model_files_keep_the_new_parameters(tmp_path, rng):
    X = rng.normal(size=(60, 3))
    model = MLPRegressor(hidden_layer_sizes=(6, 5), activation=["silu", "elu"], loss="huber", huber_delta=0.3,
                         dropout=[0.1, 0.2], max_grad_norm=1.0, learning_rate="cosine",
                         scoring=lambda est, X, y: 0.0, max_iter=3, random_state=0)
    model.fit(X, rng.normal(size=60))
    path = tmp_path / "model.fastbp"
    fastbp.save(model, path)
    loaded = fastbp.load(path)
    for name in ("activation", "loss", "huber_delta", "dropout", "max_grad_norm",
                 "learning_rate"):
        assert loaded.get_params()[name] == model.get_params()[name]  # lists stay lists
    assert loaded.scoring is None  # code is not stored
    assert "scoring" in fastbp.io.read_metadata(path)["left_out"]
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


# -- scikit-learn's callback API --------------------------------------------
sklearn_callback = pytest.importorskip("sklearn.callback", reason="scikit-learn < 1.9")


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_scoring_monitor_sees_each_epoch(split_digits, solver):
    X, _, y, _ = split_digits
    monitor = sklearn_callback.ScoringMonitor(scoring="accuracy")
    model = MLPClassifier((16,), solver=solver, max_iter=6, random_state=0)
    model.set_callbacks(monitor).fit(X, y)
    rows = monitor.get_logs().data
    epochs = [row for row in rows if row["task_name"] == "epoch"]
    assert len(epochs) == model.n_iter_ == 6
    assert [row["task_id"] for row in epochs] == list(range(6))
    # the last epoch's model is the fitted one, so is the root task's
    final = model.score(X, y)
    assert epochs[-1]["accuracy"] == pytest.approx(final)
    assert [row for row in rows if row["task_name"] == "fit"][0]["accuracy"] == pytest.approx(final)
    # the epochs' scores are of their own models, which improve
    assert epochs[0]["accuracy"] < epochs[-1]["accuracy"]


class _StopAfter:
    """A callback of scikit-learn's protocol that asks to stop after epoch ``n``."""

    def __init__(self, n):
        self.n = n

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        return context.task_name == "epoch" and context.task_id + 1 >= self.n


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_a_callback_can_stop_training(split_digits, solver):
    X, _, y, _ = split_digits
    model = MLPClassifier((16,), solver=solver, max_iter=50, random_state=0)
    model.set_callbacks(_StopAfter(3)).fit(X, y)
    assert model.n_iter_ == 3


def test_progress_bar_in_a_pipeline(split_digits, capsys):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, _, y, _ = split_digits
    pipeline = make_pipeline(StandardScaler(), MLPClassifier((16,), max_iter=4, random_state=0))
    pipeline.set_callbacks(sklearn_callback.ProgressBar())
    pipeline.fit(X, y)
    drawn = capsys.readouterr().out
    assert "MLPClassifier - fit" in drawn and "100%" in drawn  # its bar, finished
    # the plain fit without callbacks trains the same model
    plain = make_pipeline(StandardScaler(), MLPClassifier((16,), max_iter=4, random_state=0))
    assert _bits(plain.fit(X, y)[-1]) == _bits(pipeline[-1])


def test_fastbp_callbacks_keep_working_beside_scikit_learns(split_digits):
    X, _, y, _ = split_digits
    seen = []
    monitor = sklearn_callback.ScoringMonitor(scoring="accuracy")
    model = MLPClassifier((16,), max_iter=3, random_state=0,
                          callbacks=[lambda est, info: seen.append(info["epoch"])])
    model.set_callbacks(monitor).fit(X, y)
    assert seen == [1, 2, 3]
    assert len([r for r in monitor.get_logs().data if r["task_name"] == "epoch"]) == 3


def test_convergence_warning_still_raised_with_callbacks(split_digits):
    X, _, y, _ = split_digits
    with pytest.warns(ConvergenceWarning):
        MLPClassifier((8,), max_iter=2, random_state=0).set_callbacks(
            sklearn_callback.ScoringMonitor(scoring="accuracy")).fit(X, y)


# -- compute_dtype (issue 23) -------------------------------------------------
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_compute_dtype_float32_is_the_model_of_float32_input(split_digits, solver):
    """float64 X with compute_dtype='float32' trains, bit for bit, the model
    that float32 X trains by default, and predicts in float32."""
    X_train, X_test, y_train, _ = split_digits
    common = dict(hidden_layer_sizes=(32,), solver=solver, max_iter=8, random_state=0)
    ours = MLPClassifier(compute_dtype="float32", **common).fit(X_train, y_train)
    given = MLPClassifier(**common).fit(X_train.astype(np.float32), y_train)
    assert X_train.dtype == np.float64 and ours.coefs_[0].dtype == np.float32
    assert _bits(ours) == _bits(given)
    assert ours.loss_curve_ == given.loss_curve_ if solver == "adam" else ours.loss_ == given.loss_
    proba = ours.predict_proba(X_test)
    assert proba.dtype == np.float32
    np.testing.assert_array_equal(proba, given.predict_proba(X_test.astype(np.float32)))
    np.testing.assert_array_equal(ours.predict(X_test), given.predict(X_test))


def test_compute_dtype_float64_and_the_default(rng):
    """'float64' trains float32 input in float64; None keeps X's dtype."""
    X = rng.normal(size=(80, 5)).astype(np.float32)
    y = X[:, 0] - 2 * X[:, 1]
    common = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    wide = MLPRegressor(compute_dtype="float64", **common).fit(X, y)
    given = MLPRegressor(**common).fit(X.astype(np.float64), y)
    assert wide.coefs_[0].dtype == np.float64 and _bits(wide) == _bits(given)
    assert wide.predict(X).dtype == np.float64
    assert MLPRegressor(**common).fit(X, y).coefs_[0].dtype == np.float32


def test_compute_dtype_with_sparse_input_validation_set_and_partial_fit(split_digits):
    import scipy.sparse as sp

    X_train, X_test, y_train, y_test = split_digits
    common = dict(hidden_layer_sizes=(16,), max_iter=4, random_state=0, early_stopping=True)
    ours = MLPClassifier(compute_dtype="float32", **common).fit(
        sp.csr_matrix(X_train), y_train, X_val=X_test, y_val=y_test)
    given = MLPClassifier(**common).fit(sp.csr_matrix(X_train.astype(np.float32)), y_train,
                                        X_val=X_test.astype(np.float32), y_val=y_test)
    assert _bits(ours) == _bits(given)
    assert ours.validation_scores_ == given.validation_scores_
    stepped = MLPClassifier((16,), compute_dtype="float32", random_state=0)
    stepped.partial_fit(X_train, y_train, classes=np.arange(10)).partial_fit(X_train, y_train)
    assert stepped.coefs_[0].dtype == np.float32


def test_compute_dtype_is_a_checked_kept_parameter(split_digits, tmp_path):
    X_train, _, y_train, _ = split_digits
    with pytest.raises(InvalidParameterError, match="compute_dtype"):
        MLPClassifier(compute_dtype="float16").fit(X_train, y_train)
    model = MLPClassifier((8,), compute_dtype="float32", max_iter=2, random_state=0)
    assert clone(model).get_params()["compute_dtype"] == "float32"
    model.fit(X_train, y_train)
    path = tmp_path / "model.fastbp"
    fastbp.save(model, path)
    loaded = fastbp.load(path)
    assert loaded.compute_dtype == "float32" and _bits(loaded) == _bits(model)
    with pytest.raises(ValueError, match="compute_dtype='float32'"):
        model.to_sklearn()
