"""Training on a real Dask cluster: LocalCluster(n_workers=2, processes=True), started here."""

import os
import signal
import time
import warnings

import dask.array as da
import distributed
import numpy as np
import pytest
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

import fastbp
from fastbp.dask import DaskMLPClassifier, DaskMLPRegressor, warm_up

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
        client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def digits_data():
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return X, y, da.from_array(X, chunks=(450, -1)), da.from_array(y, chunks=450)


def test_lbfgs_objective_equals_the_local_one(client, digits_data):
    """Summed over shards, loss and gradient are the local estimator's, to rounding."""
    X, y, Xd, yd = digits_data
    params = dict(solver="lbfgs", hidden_layer_sizes=(12,), alpha=0.5, max_iter=1, random_state=0)
    one_step = DaskMLPClassifier(client=client, **params).fit(Xd, yd)
    local = fastbp.MLPClassifier(**params).fit(X, y)
    assert np.isclose(one_step.loss_, local.loss_, rtol=1e-10)
    for a, b in zip(one_step.coefs_, local.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_compute_dtype_float32_trains_float32_on_the_workers(solver, client, digits_data):
    """float64 dask input, compute_dtype='float32': the network and every
    shard's arithmetic are float32, as the local estimator's would be."""
    X, y, Xd, yd = digits_data
    params = dict(solver=solver, hidden_layer_sizes=(12,), max_iter=2, random_state=0)
    remote = DaskMLPClassifier(client=client, compute_dtype="float32", **params).fit(Xd, yd)
    assert Xd.dtype == np.float64
    assert all(p.dtype == np.float32 for p in remote.coefs_ + remote.intercepts_)
    local = fastbp.MLPClassifier(compute_dtype="float32", **params).fit(X, y)
    assert np.isclose(remote.loss_curve_[0] if solver == "adam" else remote.loss_,
                      local.loss_curve_[0] if solver == "adam" else local.loss_, rtol=0.05)


def test_lbfgs_matches_the_local_fit(client, digits_data):
    X, y, Xd, yd = digits_data
    params = dict(solver="lbfgs", hidden_layer_sizes=(20,), alpha=1.0, max_iter=300, random_state=0)
    remote = DaskMLPClassifier(client=client, **params).fit(Xd, yd)
    local = fastbp.MLPClassifier(**params).fit(X, y)
    assert np.isclose(remote.loss_, local.loss_, rtol=2e-3)
    assert (remote.to_local().predict(X) == local.predict(X)).mean() > 0.99


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_data_parallel_accuracy_within_one_point_of_local(solver, client, digits_data):
    """Held-out accuracy of the averaged model vs the local fit (80 rounds: with four
    shards averaged per step, 40 rounds leave Adam about a point behind)."""
    from sklearn.model_selection import train_test_split

    X, y, _, _ = digits_data
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                        stratify=y)
    Xd, yd = da.from_array(X_train, chunks=(337, -1)), da.from_array(y_train, chunks=337)
    params = dict(solver=solver, hidden_layer_sizes=(64,),
                  learning_rate_init=3e-3 if solver == "adam" else 0.05, max_iter=80,
                  random_state=0)
    remote = DaskMLPClassifier(client=client, **params).fit(Xd, yd)
    local = fastbp.MLPClassifier(**params).fit(X_train, y_train)
    assert abs(remote.to_local().score(X_test, y_test) - local.score(X_test, y_test)) <= 0.01


def test_synthetic_problem_trains_to_within_one_point_of_local(client):
    """Both trained until the same stopping rule fires (training loss not improving by
    tol for n_iter_no_change epochs / rounds): held-out accuracy within 1 point."""
    from sklearn.model_selection import train_test_split

    X, y = make_classification(20000, 20, n_informative=8, n_classes=3, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0,
                                                        stratify=y)
    Xd, yd = da.from_array(X_train, chunks=(4000, -1)), da.from_array(y_train, chunks=4000)
    params = dict(hidden_layer_sizes=(32,), learning_rate_init=3e-3, max_iter=300, random_state=0)
    remote = DaskMLPClassifier(client=client, **params).fit(Xd, yd)
    local = fastbp.MLPClassifier(**params).fit(X_train, y_train)
    assert remote.n_iter_ < 300 and local.n_iter_ < 300  # both stopped by the rule
    assert abs(remote.to_local().score(X_test, y_test) - local.score(X_test, y_test)) <= 0.01


def test_each_worker_joins_the_blocks_it_holds_into_one_shard(client):
    X = np.arange(8000.0).reshape(2000, 4)
    Xd, yd = da.from_array(X, chunks=(250, -1)), da.from_array(np.arange(2000) % 2, chunks=250)
    _, _, _, shards = DaskMLPClassifier(client=client)._shards(Xd, yd)
    holders = client.who_has(shards)
    assert len(shards) == 2 and len({holders[s.key][0] for s in shards}) == 2
    rows = np.concatenate([s.result()[0] for s in shards])
    np.testing.assert_array_equal(np.sort(rows[:, 0]), X[:, 0])  # every row once, none copied


def test_rounds_warn_when_max_iter_is_reached(client, digits_data):
    _, _, Xd, yd = digits_data
    with pytest.warns(ConvergenceWarning, match="Maximum rounds"):
        model = DaskMLPClassifier(client=client, hidden_layer_sizes=(8,), max_iter=2).fit(Xd, yd)
    assert model.n_iter_ == 2 and len(model.loss_curve_) == 2


def test_early_stopping_is_refused_before_any_work(client, digits_data):
    _, _, Xd, yd = digits_data
    with pytest.raises(ValueError, match="early_stopping"):
        DaskMLPClassifier(client=client, early_stopping=True).fit(Xd, yd)


def test_regressor_and_lazy_predict(client):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 5))
    y = X @ rng.normal(size=5) + 0.1 * rng.normal(size=2000)
    Xd, yd = da.from_array(X, chunks=(500, -1)), da.from_array(y, chunks=500)
    remote = DaskMLPRegressor(client=client, hidden_layer_sizes=(16,), solver="lbfgs",
                              max_iter=200, random_state=0).fit(Xd, yd)
    prediction = remote.predict(Xd)
    assert isinstance(prediction, da.Array)  # lazy
    assert prediction.chunks == ((500, 500, 500, 500),)
    np.testing.assert_allclose(prediction.compute(), remote.to_local().predict(X))
    assert np.isclose(remote.score(Xd, yd), remote.to_local().score(X, y))  # computed on workers
    assert remote.score(Xd, yd) > 0.95


def test_predict_proba_is_lazy_block_by_block(client, digits_data):
    X, y, Xd, yd = digits_data
    model = DaskMLPClassifier(client=client, hidden_layer_sizes=(16,), max_iter=5,
                              random_state=0).fit(Xd, yd)
    proba = model.predict_proba(Xd)
    assert isinstance(proba, da.Array) and proba.shape == (1797, 10)
    np.testing.assert_allclose(proba.compute(), model.to_local().predict_proba(X))
    assert model.score(Xd, yd) == model.to_local().score(X, y)


def test_multilabel_and_multi_output_predictions_keep_their_columns(client):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(800, 4))
    Y = (X[:, :3] > 0).astype(int)
    Xd = da.from_array(X, chunks=(200, -1))
    classifier = DaskMLPClassifier(client=client, hidden_layer_sizes=(8,), max_iter=5,
                                   random_state=0).fit(Xd, da.from_array(Y, chunks=(200, -1)))
    labels = classifier.predict(Xd)
    assert labels.shape == (800, 3)
    np.testing.assert_array_equal(labels.compute(), classifier.to_local().predict(X))
    regressor = DaskMLPRegressor(client=client, hidden_layer_sizes=(8,), max_iter=5,
                                 random_state=0).fit(Xd, da.from_array(X[:, :2], chunks=(200, -1)))
    np.testing.assert_allclose(regressor.predict(Xd).compute(), regressor.to_local().predict(X))


def test_dask_dataframe_input(client):
    import dask.dataframe as dd
    import pandas as pd
    X, y = make_classification(1000, 6, random_state=0)
    frame = dd.from_pandas(pd.DataFrame(X, columns=[f"f{i}" for i in range(6)]), npartitions=4)
    target = dd.from_pandas(pd.Series(y), npartitions=4)
    model = DaskMLPClassifier(client=client, hidden_layer_sizes=(8,), max_iter=20,
                              learning_rate_init=0.01, random_state=0).fit(frame, target)
    assert model.to_local().score(X, y) > 0.85


def test_killed_worker_recomputes_or_fails_clearly(client, digits_data):
    """Kill a worker process in the middle of fit, the one holding the scattered
    template (Dask keeps one copy of it): Dask recomputes the lost shard elsewhere
    (the nanny restarts the worker), fastbp scatters the template again, and the
    fit finishes with a model as good as an undisturbed one. (Shards follow where
    Dask placed the blocks, so the two fits may average different shard counts:
    compared once both have trained 40 rounds.)"""
    X, y, Xd, yd = digits_data
    pids = client.run(os.getpid)
    killed = []

    def template_holders():
        return sorted(address for key, addresses in client.who_has().items()
                      if str(key).startswith("MLPClassifier-") for address in addresses)

    def kill_once(estimator, info):
        if info["epoch"] == 3 and not killed:
            for _ in range(100):  # Dask drops the broadcast's extra copy within ~2 s
                if len(template_holders()) == 1:
                    break
                time.sleep(0.1)
            victim = template_holders()[0]
            os.kill(pids[victim], signal.SIGKILL)
            killed.append(victim)

    params = dict(hidden_layer_sizes=(32,), learning_rate_init=3e-3, max_iter=40, random_state=0)
    model = DaskMLPClassifier(client=client, callbacks=[kill_once], **params).fit(Xd, yd)
    assert killed and model.n_iter_ == 40
    assert all(np.isfinite(c).all() for c in model.coefs_)
    client.wait_for_workers(2, timeout=60)
    undisturbed = DaskMLPClassifier(client=client, **params).fit(Xd, yd)
    assert model.to_local().score(X, y) > 0.97
    assert abs(model.to_local().score(X, y) - undisturbed.to_local().score(X, y)) <= 0.02


def test_local_estimator_in_dask_ml_incremental(client, digits_data):
    import dask_ml.wrappers as dask_ml_wrappers
    X, y, Xd, yd = digits_data
    incremental = dask_ml_wrappers.Incremental(
        fastbp.MLPClassifier(hidden_layer_sizes=(32,), learning_rate_init=3e-3, random_state=0),
        scoring="accuracy")
    for _ in range(5):
        incremental.partial_fit(Xd, yd, classes=np.arange(10))
    assert incremental.estimator_.t_ == 5 * 1797
    assert incremental.score(Xd, yd) > 0.9


def test_grid_search_on_the_dask_joblib_backend(client, digits_data):
    """The same search on the cluster (joblib's dask backend) and in this process."""
    import joblib
    from sklearn.model_selection import GridSearchCV

    X, y, _, _ = digits_data

    def search():
        return GridSearchCV(
            fastbp.MLPClassifier(max_iter=30, learning_rate_init=3e-3, random_state=0),
            {"hidden_layer_sizes": [(16,), (64,)]}, cv=2, n_jobs=2)

    with joblib.parallel_backend("dask"):
        on_cluster = search().fit(X[:600], y[:600])
    here = search().fit(X[:600], y[:600])
    np.testing.assert_allclose(on_cluster.cv_results_["mean_test_score"],
                               here.cv_results_["mean_test_score"])
    assert on_cluster.best_params_ == here.best_params_


def test_restarted_workers_load_kernels_from_their_compile_cache(client, digits_data):
    """Fresh worker processes take every kernel from the on-disk cache: none compiled."""
    _, _, Xd, yd = digits_data
    DaskMLPClassifier(client=client, hidden_layer_sizes=(8,), max_iter=1).fit(Xd, yd)
    client.restart()
    report = warm_up(client)
    assert len(report) == 2
    for info in report.values():
        assert info["cache_misses"] == 0 and info["cache_hits"] >= 3
        assert os.path.isdir(info["cache_dir"])


@pytest.mark.parametrize("class_weight", [{0: 3.0, 1: 1.0, 2: 0.5}, "balanced"])
def test_lbfgs_with_class_weights_minimises_the_local_objective(class_weight, client):
    """Shard losses are weighted by total class weight, not rows, and 'balanced'
    is computed from all the data: on a convex model (no hidden layer) the
    remote and local L-BFGS fits reach the same coefficients. The data is
    imbalanced and ordered so that one shard holds no sample of class 2."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 5))
    y = np.concatenate([rng.integers(0, 2, 480), np.full(120, 2)])
    X[y == 2] += 1.5
    Xd, yd = da.from_array(X, chunks=(300, -1)), da.from_array(y, chunks=300)
    params = dict(solver="lbfgs", hidden_layer_sizes=(), alpha=1e-2, max_iter=500, tol=1e-10,
                  class_weight=class_weight, random_state=0)
    remote = DaskMLPClassifier(client=client, **params).fit(Xd, yd)
    local = fastbp.MLPClassifier(**params).fit(X, y)
    assert remote.class_weight == class_weight
    for a, b in zip(remote.coefs_ + remote.intercepts_, local.coefs_ + local.intercepts_):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_adam_rounds_train_as_far_as_local_epochs(client, digits_data):
    """Two workers, 60 rounds against 60 local epochs (digits, hidden (64,)):
    with sync_period='auto' each worker takes a local epoch's number of steps
    per round, and the training accuracy is within a point of the local fit's
    (with one epoch per round it trailed by 1.2 points)."""
    X, y, _, _ = digits_data
    Xd, yd = da.from_array(X, chunks=(900, -1)), da.from_array(y, chunks=900)
    params = dict(solver="adam", hidden_layer_sizes=(64,), max_iter=60, random_state=0)
    remote = DaskMLPClassifier(client=client, **params).fit(Xd, yd)
    local = fastbp.MLPClassifier(**params).fit(X, y)
    assert remote.n_iter_ == 60
    assert abs(remote.to_local().score(X, y) - local.score(X, y)) <= 0.01
