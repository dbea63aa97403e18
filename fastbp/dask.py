"""Training on Dask: the data stays on the workers, only weights and gradients travel.

``DaskMLPClassifier`` / ``DaskMLPRegressor`` take the local estimators'
parameters plus ``client`` (the current dask.distributed client when None) and
``sync_period``. ``fit`` takes dask arrays (or dask dataframes) partitioned by
rows. The row blocks are computed on the workers, and each worker joins the
blocks it holds into one shard, which stays where it is: no rows move between
workers, and a worker's rounds run over all of its rows.

- ``solver='lbfgs'``: exact full-batch training. Each iteration, every shard
  computes its loss and gradient with the compiled kernels; the driver sums
  them, J = Σ_b Σᵢ sᵢℓᵢ / Σ sᵢ + ½α‖W‖² / Σ sᵢ, and drives SciPy's L-BFGS-B:
  the same objective, so the same solution, as the local estimator's.
- ``solver='sgd'`` / ``'adam'``: synchronous data-parallel training. Each
  round every shard runs ``sync_period`` epochs of local minibatch steps from
  the same weights and optimizer state (by default as many epochs as there
  are shards: each worker then takes a local epoch's number of steps); the
  driver averages both, weighted by shard size. ``max_iter`` counts rounds, and training stops early as the
  local estimator does: when the round's mean training loss has not improved
  by ``tol`` for ``n_iter_no_change`` consecutive rounds. The averaged model
  depends on how many workers hold the data (as in xgboost's and LightGBM's
  Dask training); the same placement gives the same model.

``predict`` / ``predict_proba`` on dask arrays are lazy, block by block;
``to_local()`` returns the equivalent local estimator for serving.
"""

import inspect
import warnings
from concurrent.futures import CancelledError

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import type_of_target

from . import MLPClassifier, MLPRegressor, _training
from ._network import Network, hidden_units, output_activation
from ._optim import StochasticOptimizer, minimize_lbfgs

__all__ = ["DaskMLPClassifier", "DaskMLPRegressor", "warm_up"]


def _local_copy(template, coefs, intercepts, optimizer=None, **changes):
    """A local estimator with the template's settings and state, and the given weights.

    ``changes`` replace parameters; ``optimizer`` (a snapshot) replaces the
    optimizer's state. Tasks run in worker threads, where fastbp's kernels
    use the calling thread only (their serial twins, see ``_threads``): one
    thread per task, so a worker's cores are shared out by Dask's own
    thread count.
    """
    state = template._fitted_state()
    state["network"] = state["network"].with_arrays(coefs, intercepts)
    if optimizer is not None:
        state["optimizer"] = optimizer
    return type(template)._from_fitted_state({**template.get_params(), **changes}, state)


def _warm_up_worker(dtype_name):
    """On each worker: load (or compile) the kernels once (``fastbp.warm_up``)."""
    from ._warmup import warm_up as warm_up_this_process

    return warm_up_this_process([dtype_name])


def warm_up(client=None, dtype="float64"):
    """Load or compile fastbp's kernels on every worker of the cluster, once.

    ``fit`` calls this when it starts, so that no round waits on a compile.
    Each worker uses Numba's on-disk cache on its own machine (beside the
    installed package, or ``NUMBA_CACHE_DIR`` where set): a worker process
    compiles only if that cache lacks the kernels, so restarted workers
    start in a fraction of a second.

    Parameters
    ----------
    client : distributed.Client or None
        None uses the current default client.
    dtype : {"float64", "float32"}
        Precision of the kernels to load.

    Returns
    -------
    report : dict
        Worker address → {"seconds", "cache_dir", "cache_hits", "cache_misses"},
        where hits and misses count the kernel versions this call loaded from
        the cache or compiled (see ``fastbp.warm_up``).
    """
    if client is None:
        from distributed import default_client

        client = default_client()
    return client.run(_warm_up_worker, str(np.dtype(dtype)))


def _join_blocks(*blocks):
    """On a worker: one shard (X, y) from the row blocks it holds, in their order."""
    import scipy.sparse as sp

    Xs, ys = [b[0] for b in blocks], [b[1] for b in blocks]
    X = sp.vstack(Xs, format="csr") if sp.issparse(Xs[0]) else np.concatenate(Xs)
    return X, np.concatenate(ys)


def _shard_weight_sum(est, y):
    """Σ sᵢ of a shard: its rows, or the sum of its class weights (a dict by now)."""
    class_weight = getattr(est, "class_weight", None)
    if not class_weight or y.ndim != 1:
        return float(y.shape[0])
    weights = np.array([class_weight[c] for c in est.classes_], dtype=float)
    return float(weights[np.searchsorted(est.classes_, y)].sum())


def _shard_loss_gradient(shard, template, coefs, intercepts):
    """On a worker: (Σᵢ sᵢℓᵢ, raw gradient sums, Σ sᵢ) of one shard, penalty excluded.

    loss_gradient gives the shard's J = Σ sᵢℓᵢ / Σ sᵢ (class weights included),
    so the sums are J·Σsᵢ; the driver divides by the total weight, as the
    local fit does.
    """
    X, y = shard
    est = _local_copy(template, coefs, intercepts, alpha=0.0)
    sw_sum = _shard_weight_sum(est, y)
    loss, coef_grads, intercept_grads = est.loss_gradient(X, y)
    return loss * sw_sum, [g * sw_sum for g in coef_grads], [g * sw_sum for g in intercept_grads], sw_sum


def _shard_epochs(shard, template, coefs, intercepts, optimizer, n_epochs, seed):
    """On a worker: ``n_epochs`` local epochs from the given weights and optimizer state.

    Returns the shard's (fitted state, mean epoch loss, number of rows).
    """
    X, y = shard
    est = _local_copy(template, coefs, intercepts, optimizer, random_state=seed,
                      early_stopping=False)
    losses = []
    for _ in range(n_epochs):
        est.partial_fit(X, y)
        losses.append(est.loss_)
    return est._fitted_state(), float(np.mean(losses)), X.shape[0]


def _submit_where_held(client, shards, function, *args):
    """``function(shard, *args)`` for each shard, on the worker that holds the shard.

    Pinning stops Dask's work stealing from moving a whole shard to an idle
    worker for a task that takes milliseconds; if the holder was lost, the
    task (and the shard's recomputation) may go anywhere.
    """
    held = client.who_has(shards)
    futures = []
    for shard in shards:
        holders = list(held.get(shard.key, ()))
        placement = dict(workers=holders, allow_other_workers=True) if holders else {}
        futures.append(client.submit(function, shard, *args, pure=False, **placement))
    return futures


class _SharedTemplate:
    """The template estimator (settings, labels, layout), scattered to the workers
    once per fit so that rounds send weights only."""

    def __init__(self, client, template):
        self.client, self.template = client, template
        self.scatter()

    def scatter(self):
        self.future = self.client.scatter(self.template, broadcast=True)


def _gather_on_shards(client, shards, function, shared, *args):
    """``function(shard, template, *args)`` on every shard (``_submit_where_held``), gathered.

    A worker's death can take the scattered template with it: the broadcast
    copies are not kept (Dask's active memory manager reduces them to one),
    and scattered data cannot be recomputed, so the round's tasks are
    cancelled. The template is then scattered again and the round, a pure
    function of its arguments, runs once more.
    """
    for attempt in range(2):
        futures = _submit_where_held(client, shards, function, shared.future, *args)
        try:
            return client.gather(futures)
        except CancelledError:
            if attempt == 1:
                raise
            shared.scatter()


class _DaskMLP(BaseEstimator):
    _local_class = None

    def _client(self):
        from distributed import default_client

        return self.client if self.client is not None else default_client()

    def _local_params(self):
        params = self.get_params()
        for driver_only in ("client", "sync_period", "callbacks"):
            params.pop(driver_only)  # callbacks run on the driver, once per round
        return params

    def _shards(self, X, y):
        """Persist the row blocks of (X, y) on the workers; futures of (X_b, y_b)."""
        import dask
        import dask.array as da
        import dask.dataframe as dd
        import distributed

        if isinstance(X, dd.DataFrame):
            X = X.to_dask_array(lengths=True)
        if isinstance(y, (dd.DataFrame, dd.Series)):
            y = y.to_dask_array(lengths=True)
        X, y = da.asarray(X), da.asarray(y)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D; got {X.ndim} dimensions")
        if len(X.chunks[1]) != 1:
            X = X.rechunk({1: -1})
        y = y.rechunk({0: X.chunks[0]} if y.ndim == 1 else {0: X.chunks[0], 1: -1})
        blocks = [dask.delayed(tuple)([xb, yb]) for xb, yb in
                  zip(X.to_delayed().ravel(), y.to_delayed().ravel())]
        client = self._client()
        futures = client.compute(blocks)
        distributed.wait(futures)
        # One shard per worker from the blocks already there. If a worker is
        # lost later, Dask recomputes its shard from the blocks' graph.
        held = client.who_has(futures)
        by_worker = {}
        for future in futures:
            by_worker.setdefault(held[future.key][0], []).append(future)
        shards = [client.submit(_join_blocks, *group, workers=[address],
                                allow_other_workers=True, pure=False)
                  for address, group in by_worker.items()]
        distributed.wait(shards)
        return client, X, y, shards

    def _template(self, X, y, client):
        """A local estimator initialised exactly as a local fit on all the data would be."""
        local = self._local_class
        params = self._local_params()
        state = {"n_features_in_": X.shape[1], "feature_names_in_": None, "optimizer": None,
                 "history": {"n_iter_": 0, "t_": 0}}
        target_type = None
        if issubclass(local, MLPClassifier):
            import dask.array as da

            if y.ndim == 2:  # multilabel indicator columns
                classes, target_type = np.arange(y.shape[1]), "multilabel-indicator"
            else:  # only the distinct labels travel, not y
                classes = np.sort(client.compute(da.unique(y)).result())
                target_type = type_of_target(classes)
            state.update(classes_=classes, target_type=target_type)
            n_outputs = 1 if target_type == "binary" else len(classes)
            if params["class_weight"] is not None and y.ndim == 1:
                params["class_weight"] = self._class_weight_dict(y, classes, client)
        else:
            n_outputs = 1 if y.ndim == 1 else y.shape[1]
        if params["solver"] != "lbfgs":
            state["history"].update(loss_curve_=[], best_loss_=np.inf, validation_scores_=None,
                                    best_validation_score_=None, no_improvement_count=0)
        units = [X.shape[1], *hidden_units(self.hidden_layer_sizes), n_outputs]
        dtype = np.dtype(self.compute_dtype or (np.float32 if X.dtype == np.float32
                                                else np.float64))
        state["network"] = Network.initial(
            units, self.activation,
            output_activation(issubclass(local, MLPClassifier), params.get("loss"), target_type),
            check_random_state(self.random_state), dtype)
        return local._from_fitted_state(params, state)

    def _class_weight_dict(self, y, classes, client):
        """Class weights from all the data, as a dict every shard applies alike.

        ('balanced' on one shard would see only its own classes.)
        """
        if self.class_weight == "balanced":
            import dask.array as da

            _, counts = client.gather(client.compute(list(da.unique(y, return_counts=True))))
            weights = y.shape[0] / (len(counts) * counts.astype(float))
        else:
            weights = compute_class_weight(self.class_weight, classes=classes, y=classes)
        return dict(zip(classes.tolist(), weights.tolist()))

    def fit(self, X, y):
        """Fit on dask arrays / dataframes partitioned by rows.

        Parameters
        ----------
        X : dask array or dataframe of shape (n_samples, n_features)
        y : dask array or series of shape (n_samples,) or (n_samples, n_outputs)
        """
        if self.early_stopping:
            raise ValueError(
                "early_stopping=True is not supported on Dask; training stops on the "
                "training loss (tol, n_iter_no_change), or score held-out data from a callback")
        client, X, y, shards = self._shards(X, y)
        template = self._template(X, y, client)
        state = template._fitted_state()
        warm_up(client, state["network"].dtype)
        shared = _SharedTemplate(client, template)
        if self.solver == "lbfgs":
            self._fit_lbfgs(client, template, shared, shards, state)
        else:
            self._fit_rounds(client, template, shared, shards, state)
        # the local estimator keeps the user's class_weight, not the dict
        self._local = self._local_class._from_fitted_state(self._local_params(), state)
        for name in _FITTED_ATTRIBUTES:
            if hasattr(self._local, name):
                setattr(self, name, getattr(self._local, name))
        return self

    def _fit_lbfgs(self, client, template, shared, shards, state):
        """Full-batch L-BFGS: the shards' sums, finished as the local objective is."""
        network = state["network"]
        theta = network.theta.copy()
        loss_scale = _training.reported_loss_scale(template)
        n_total = None

        def loss_and_gradient(theta_now):
            nonlocal n_total
            coefs, intercepts = network.layout.views(theta_now.copy())
            results = _gather_on_shards(client, shards, _shard_loss_gradient, shared, coefs,
                                        intercepts)
            n_total = sum(r[3] for r in results)
            raw = np.empty_like(theta_now)
            raw_coefs, raw_intercepts = network.layout.views(raw)
            for l in range(len(coefs)):
                raw_coefs[l][...] = sum(r[1][l] for r in results)
                raw_intercepts[l][...] = sum(r[2][l] for r in results)
            return _training.finish_objective(sum(r[0] for r in results), raw, theta_now,
                                              network.layout, self.alpha, n_total, loss_scale)

        iteration = [0]

        def on_iteration(loss):
            iteration[0] += 1
            return _training.call_back(self, epoch=iteration[0], max_epochs=self.max_iter,
                                       loss=loss, validation_score=None, n_samples=n_total,
                                       seconds=None)

        loss, n_iter = minimize_lbfgs(
            loss_and_gradient, theta, self.max_iter, self.max_fun, self.tol, self.verbose,
            on_iteration if self.callbacks else None)
        state["network"] = network.with_arrays(*network.layout.views(theta))
        state["history"].update(loss_=loss, n_iter_=n_iter)

    def _fit_rounds(self, client, template, shared, shards, state):
        """Synchronous rounds: local epochs on every shard, then weighted averages."""
        rng = check_random_state(self.random_state)
        if self.sync_period == "auto":
            epochs_per_round = len(shards)
        elif isinstance(self.sync_period, (int, np.integer)) and self.sync_period >= 1:
            epochs_per_round = int(self.sync_period)
        else:
            raise ValueError(f"sync_period must be 'auto' or a positive integer; got "
                             f"{self.sync_period!r}")
        network = state["network"]
        coefs, intercepts = network.coefs, network.intercepts
        # the driver's optimizer: the shards' averaged state, and the schedule
        optimizer = StochasticOptimizer.for_estimator(template, network.layout.n_params,
                                                      network.dtype)
        snapshot = None
        for round_ in range(self.max_iter):
            results = _gather_on_shards(client, shards, _shard_epochs, shared, coefs, intercepts,
                                        snapshot, epochs_per_round, int(rng.randint(2**31 - 1)))
            weights = np.array([r[2] for r in results], dtype=float)
            weights /= weights.sum()
            shard_networks = [r[0]["network"] for r in results]
            # in the network's dtype (float64 weights would promote float32 averages)
            coefs = [sum(w * n.coefs[l] for w, n in zip(weights, shard_networks))
                     .astype(network.dtype) for l in range(len(coefs))]
            intercepts = [sum(w * n.intercepts[l] for w, n in zip(weights, shard_networks))
                          .astype(network.dtype) for l in range(len(intercepts))]
            snapshot = dict(results[0][0]["optimizer"])
            snapshot["state"] = sum(w * r[0]["optimizer"]["state"]
                                    for w, r in zip(weights, results)).astype(network.dtype)
            optimizer.restore(snapshot)
            loss = float(sum(w * r[1] for w, r in zip(weights, results)))
            template.loss_curve_.append(loss)
            if self.verbose:
                print(f"Round {round_ + 1}, loss = {loss:.8f}")
            _training.update_no_improvement(template)
            if _training.call_back(self, epoch=round_ + 1, max_epochs=self.max_iter, loss=loss,
                                   validation_score=None,
                                   n_samples=int(sum(r[2] for r in results)), seconds=None):
                break
            # the local estimator's stopping rule, on the rounds' mean training loss
            if _training.stop_when_stalled(template, optimizer, "Training loss", "rounds"):
                break
            snapshot = optimizer.snapshot()  # an 'adaptive' learning rate may have changed
            if round_ + 1 == self.max_iter:
                warnings.warn(f"Stochastic Optimizer: Maximum rounds ({self.max_iter}) reached "
                              "and the optimization hasn't converged yet.", ConvergenceWarning)
        state["network"] = network.with_arrays(coefs, intercepts)
        state["history"] = template._fitted_state()["history"]
        state["history"].update(loss_=template.loss_curve_[-1],
                                n_iter_=len(template.loss_curve_))
        state["optimizer"] = optimizer.snapshot()

    def to_local(self):
        """The equivalent fitted local estimator (fastbp.MLPClassifier / MLPRegressor)."""
        return self._local

    def _predict_blocks(self, X, method):
        import dask.array as da

        X = da.asarray(X)
        apply = getattr(self._local, method)
        # the output's width and dtype, read off one row rather than guessed
        sample = apply(np.zeros((1, X.shape[1]), dtype=X.dtype))
        if sample.ndim == 1:
            return X.map_blocks(apply, drop_axis=1, dtype=sample.dtype)
        return X.map_blocks(apply, chunks=(X.chunks[0], (sample.shape[1],)), dtype=sample.dtype)

    def predict(self, X):
        """Lazy predictions for a dask array, computed block by block."""
        return self._predict_blocks(X, "predict")


# What a fit copies from the local estimator onto the Dask one.
_FITTED_ATTRIBUTES = ("coefs_", "intercepts_", "n_features_in_", "n_outputs_", "n_layers_",
                      "out_activation_", "classes_", "n_iter_", "t_", "loss_", "best_loss_",
                      "loss_curve_", "validation_scores_", "best_validation_score_")

_MLP_PARAM_DOC = """
    Parameters
    ----------
    client : distributed.Client or None, default=None
        The Dask client; None uses the current default client.
    sync_period : int or 'auto', default='auto'
        sgd / adam: local epochs each shard runs between two averagings of
        the weights and optimizer state. 'auto' is the number of shards, so
        that each worker makes as many minibatch steps per round as a local
        epoch makes (averaging k models that each took m steps moves about m
        steps, not k·m); a round then takes the wall time of one local epoch
        and the same traffic as any other. Ignored by lbfgs.
    **params
        The local estimator's parameters (hidden_layer_sizes, solver, …);
        ``max_iter`` counts averaging rounds for sgd / adam."""


def _dask_signature(local_class):
    """``local_class.__init__``'s signature with client and sync_period added.

    scikit-learn reads an estimator's parameters from its ``__init__``
    signature, so the Dask estimators present the local parameters and
    their own as one signature (callbacks last, as the local estimators).
    """
    local = inspect.signature(local_class.__init__)
    parameters = [p for p in local.parameters.values() if p.name != "callbacks"]
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters += [inspect.Parameter("client", keyword, default=None),
                   inspect.Parameter("sync_period", keyword, default="auto"),
                   local.parameters["callbacks"]]
    return local.replace(parameters=parameters)


class _DaskInit:
    """``__init__`` for the Dask estimators: their signature's parameters, stored as given."""

    def __init__(self, *args, **kwargs):
        bound = type(self).__init__.__signature__.bind(self, *args, **kwargs)
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)


class DaskMLPClassifier(ClassifierMixin, _DaskMLP):
    __doc__ = "MLPClassifier trained on a Dask cluster (see fastbp.dask).\n" + _MLP_PARAM_DOC
    _local_class = MLPClassifier

    def __init__(self, *args, **kwargs):
        _DaskInit.__init__(self, *args, **kwargs)

    __init__.__signature__ = _dask_signature(MLPClassifier)

    def predict_proba(self, X):
        """Lazy class probabilities for a dask array, computed block by block."""
        return self._predict_blocks(X, "predict_proba")

    def score(self, X, y):
        """Accuracy on dask inputs, computed block by block on the workers."""
        import dask.array as da

        hits = self.predict(X) == da.asarray(y)
        return float((hits.all(axis=1) if hits.ndim == 2 else hits).mean().compute())


class DaskMLPRegressor(RegressorMixin, _DaskMLP):
    __doc__ = "MLPRegressor trained on a Dask cluster (see fastbp.dask).\n" + _MLP_PARAM_DOC
    _local_class = MLPRegressor

    def __init__(self, *args, **kwargs):
        _DaskInit.__init__(self, *args, **kwargs)

    __init__.__signature__ = _dask_signature(MLPRegressor)

    def score(self, X, y):
        """R² (averaged over outputs) on dask inputs, computed on the workers."""
        import dask.array as da

        y = da.asarray(y).astype(float)
        residual = ((y - self.predict(X)) ** 2).sum(axis=0)
        total = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
        return float((1 - residual / total).mean().compute())
