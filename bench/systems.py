"""The trainers compared by the benchmark: the same network, data and Adam settings.

Each ``train_<system>(X, y, workload, threads)`` returns a ``Trained`` record:
compile / warm-up time (reported separately), then the best-of-``repeats`` time
of ``workload.epochs`` epochs, so throughput never includes compilation.
"""

import time
from dataclasses import dataclass

import numpy as np


@dataclass
class Workload:
    name: str
    n_samples: int
    n_features: int
    hidden: tuple
    batch_size: int
    epochs: int
    n_classes: int = 10
    dtype: str = "float32"  # of X, and so of every system's arithmetic

    @property
    def units(self):
        return [self.n_features, *self.hidden, self.n_classes]

    @property
    def n_params(self):
        u = self.units
        return sum(u[i] * u[i + 1] + u[i + 1] for i in range(len(u) - 1))

    def data(self, seed=0):
        """Standard-normal X (of the workload's dtype) and uniform labels in 0..n_classes-1."""
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((self.n_samples, self.n_features), dtype=np.float32)
        X = X.astype(self.dtype)
        y = rng.integers(0, self.n_classes, self.n_samples)
        return X, y


WORKLOADS = {
    "small": Workload("small", 40_000, 64, (100,), 200, 4),
    "medium": Workload("medium", 50_000, 100, (256, 128), 256, 3),
    "wide": Workload("wide", 30_000, 784, (512, 256), 128, 2),
    "deep-narrow": Workload("deep-narrow", 40_000, 32, (64, 64, 64, 64), 32, 2),
    # medium in float64, what most scikit-learn users pass: fastbp and
    # scikit-learn only (the other peers' benchmarks are float32 code)
    "medium-f64": Workload("medium-f64", 50_000, 100, (256, 128), 256, 3, dtype="float64"),
}
# the systems that run a float64 workload
FLOAT64_SYSTEMS = ("fastbp", "fastbp-openblas", "fastbp-1", "fastbp-f32", "sklearn")


@dataclass
class Trained:
    system: str
    warmup_s: float  # first call: compilation / tracing / cache load
    epoch_times: list  # seconds for `epochs` epochs, one entry per repeat
    samples_per_epoch: int  # samples actually trained on per epoch
    final_loss: float

    @property
    def best_s(self):
        return min(self.epoch_times)


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


# ---------------------------------------------------------------------------
def _train_sklearn_api(Estimator, label, X, y, w, repeats, **extra):
    """fastbp or scikit-learn, called as users call them: ``fit``."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    warnings.simplefilter("ignore", ConvergenceWarning)

    def make(epochs):
        return Estimator(hidden_layer_sizes=w.hidden, solver="adam", learning_rate_init=1e-3,
                         batch_size=w.batch_size, max_iter=epochs, shuffle=True, tol=0.0,
                         n_iter_no_change=10**9, random_state=0, **extra)

    warmup, _ = _timed(lambda: make(1).fit(X[: 4 * w.batch_size], y[: 4 * w.batch_size]))
    times, model = [], None
    for _ in range(repeats):
        t, model = _timed(lambda: make(w.epochs).fit(X, y))
        times.append(t)
    return Trained(label, warmup, times, w.n_samples, model.loss_)


def train_fastbp(X, y, w, repeats):
    from fastbp import MLPClassifier

    return _train_sklearn_api(MLPClassifier, "fastbp", X, y, w, repeats)


def train_fastbp_one_thread(X, y, w, repeats):
    from fastbp import MLPClassifier

    return _train_sklearn_api(MLPClassifier, "fastbp n_jobs=1", X, y, w, repeats, n_jobs=1)


def train_fastbp_float32_compute(X, y, w, repeats):
    """fastbp on the workload's (float64) X, computing in float32 (opt-in)."""
    from fastbp import MLPClassifier

    return _train_sklearn_api(MLPClassifier, "fastbp compute_dtype='float32'", X, y, w, repeats,
                              compute_dtype="float32")


def train_sklearn(X, y, w, repeats):
    from sklearn.neural_network import MLPClassifier

    return _train_sklearn_api(MLPClassifier, "scikit-learn", X, y, w, repeats)


def train_torch(X, y, w, repeats):
    """PyTorch eager: the ordinary training loop, one Python step per minibatch."""
    import torch

    torch.manual_seed(0)
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(y.astype(np.int64))

    def run(epochs, n_samples):
        layers = []
        units = w.units
        for i in range(len(units) - 1):
            layers.append(torch.nn.Linear(units[i], units[i + 1]))
            if i < len(units) - 2:
                layers.append(torch.nn.ReLU())
        model = torch.nn.Sequential(*layers)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = torch.nn.CrossEntropyLoss()
        loss = None
        for _ in range(epochs):
            order = torch.randperm(n_samples)
            for start in range(0, n_samples, w.batch_size):
                idx = order[start : start + w.batch_size]
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model(Xt[idx]), yt[idx])
                loss.backward()
                optimizer.step()
        return float(loss)

    warmup, _ = _timed(lambda: run(1, 4 * w.batch_size))
    times, loss = [], None
    for _ in range(repeats):
        t, loss = _timed(lambda: run(w.epochs, w.n_samples))
        times.append(t)
    return Trained("PyTorch eager", warmup, times, w.n_samples, loss)


def train_jax(X, y, w, repeats):
    """JAX: a whole epoch jit-compiled as lax.scan over minibatches, optax Adam.

    lax.scan needs equal batches, so the ragged last batch of each epoch is
    dropped; throughput counts only the samples actually trained on.
    """
    import jax
    import jax.numpy as jnp
    import optax

    n_batches = w.n_samples // w.batch_size
    used = n_batches * w.batch_size
    Xj = jnp.asarray(X)
    yj = jnp.asarray(y.astype(np.int32))

    def init(key):
        params = []
        units = w.units
        for i in range(len(units) - 1):
            key, k1 = jax.random.split(key)
            bound = np.sqrt(6.0 / (units[i] + units[i + 1]))
            W = jax.random.uniform(k1, (units[i], units[i + 1]), jnp.float32, -bound, bound)
            params.append((W, jnp.zeros(units[i + 1], jnp.float32)))
        return params

    def loss_fn(params, xb, yb):
        h = xb
        for W, b in params[:-1]:
            h = jax.nn.relu(h @ W + b)
        W, b = params[-1]
        logits = h @ W + b
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    optimizer = optax.adam(1e-3)

    @jax.jit
    def epoch(params, opt_state, key):
        order = jax.random.permutation(key, w.n_samples)[:used].reshape(n_batches, w.batch_size)

        def step(carry, idx):
            params, opt_state = carry
            loss, grads = jax.value_and_grad(loss_fn)(params, Xj[idx], yj[idx])
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), order)
        return params, opt_state, losses[-1]

    def run(epochs):
        key = jax.random.PRNGKey(0)
        params = init(key)
        opt_state = optimizer.init(params)
        loss = None
        for _ in range(epochs):
            key, sub = jax.random.split(key)
            params, opt_state, loss = epoch(params, opt_state, sub)
        return float(jax.block_until_ready(loss))

    warmup, _ = _timed(lambda: run(1))
    times, loss = [], None
    for _ in range(repeats):
        t, loss = _timed(lambda: run(w.epochs))
        times.append(t)
    return Trained("JAX jit+scan", warmup, times, used, loss)


SYSTEMS = {
    "fastbp": train_fastbp,
    "fastbp-openblas": train_fastbp,  # run.py sets FASTBP_BLAS=openblas for it
    "fastbp-1": train_fastbp_one_thread,
    "fastbp-f32": train_fastbp_float32_compute,
    "sklearn": train_sklearn,
    "torch": train_torch,
    "jax": train_jax,
}
