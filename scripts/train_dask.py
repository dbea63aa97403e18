"""Train on a Dask cluster: a LocalCluster by default, or --scheduler tcp://HOST:PORT.

    python scripts/train_dask.py [--scheduler tcp://HOST:PORT] [--workers 2]
                                 [--solver adam|sgd|lbfgs] [--rounds 30]
                                 [--samples 20000] [--features 20] [--chunks 4]

Each row block of the data is generated on a worker and stays there (a random
"teacher" network labels standard-normal inputs with 3 classes). Each round
prints the loss; the end reports held-out accuracy beside a local fit, the time
per round, and, on a LocalCluster, the bytes that crossed the loopback network
per round (the operating system's counter: every message between client,
scheduler and workers, headers included) next to the size of the data.
"""

import argparse
import time
import warnings

import dask.array as da
import numpy as np
import psutil
from dask import delayed
from distributed import Client, LocalCluster
from sklearn.exceptions import ConvergenceWarning

import fastbp
from fastbp.dask import DaskMLPClassifier, warm_up

N_CLASSES = 3


def make_block(seed, rows, features):
    """``rows`` samples: X standard normal, y from a fixed random teacher network plus noise."""
    teacher = np.random.default_rng(0)
    hidden = teacher.normal(size=(features, 16)) / np.sqrt(features)
    output = teacher.normal(size=(16, N_CLASSES)) * 2
    rng = np.random.default_rng(1000 + seed)
    X = rng.normal(size=(rows, features))
    scores = np.tanh(X @ hidden) @ output + rng.gumbel(size=(rows, N_CLASSES)) * 0.3
    return X, scores.argmax(axis=1)


def loopback_bytes():
    counters = psutil.net_io_counters(pernic=True).get("lo")
    return None if counters is None else counters.bytes_sent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", help="address of a running scheduler (default: a LocalCluster)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster workers")
    parser.add_argument("--solver", choices=["adam", "sgd", "lbfgs"], default="adam")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--chunks", type=int, default=4, help="row blocks")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)

    rows = -(-args.samples // args.chunks)
    cluster = None if args.scheduler else LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                                       dashboard_address=None)
    with Client(args.scheduler or cluster) as client:
        print(f"cluster: {len(client.scheduler_info()['workers'])} workers")
        blocks = [delayed(make_block, nout=2)(b, min(rows, args.samples - b * rows), args.features)
                  for b in range(args.chunks)]
        Xd = da.concatenate([da.from_delayed(X, (min(rows, args.samples - b * rows), args.features),
                                             dtype=float) for b, (X, _) in enumerate(blocks)])
        yd = da.concatenate([da.from_delayed(y, (min(rows, args.samples - b * rows),), dtype=int)
                             for b, (_, y) in enumerate(blocks)])
        X_test, y_test = make_block(-1, 5000, args.features)

        for address, info in warm_up(client).items():
            print(f"warm-up {address}: {info['seconds']:.2f} s, {info['cache_hits']} kernels "
                  f"from the compile cache, {info['cache_misses']} compiled")
        marks = {}

        def report(estimator, info):
            print(f"round {info['epoch']:3d}  loss {info['loss']:.5f}")
            if info["epoch"] == 1:  # rounds 2.. are measured; round 1 includes set-up
                marks["start"] = (time.perf_counter(), loopback_bytes())

        params = dict(solver=args.solver, hidden_layer_sizes=(64,), learning_rate_init=3e-3,
                      max_iter=args.rounds, random_state=0)
        model = DaskMLPClassifier(client=client, callbacks=[report], **params)
        start = time.perf_counter()
        model.fit(Xd, yd)
        end, sent = time.perf_counter(), loopback_bytes()
        print(f"Dask fit: {end - start:.2f} s, {model.n_iter_} rounds, held-out accuracy "
              f"{model.to_local().score(X_test, y_test):.4f}")
        rounds = model.n_iter_ - 1
        if "start" in marks and rounds > 0:
            began, sent_before = marks["start"]
            data_mb = args.samples * (args.features + 1) * 8 / 1e6
            traffic = ("n/a (not a LocalCluster)" if args.scheduler or sent is None else
                       f"{(sent - sent_before) / rounds / 1e6:.3f} MB over loopback")
            print(f"per round (rounds 2-{model.n_iter_}): {(end - began) / rounds * 1e3:.1f} ms, "
                  f"{traffic}; data {data_mb:.1f} MB in {args.chunks} blocks")
        X, y = Xd.compute(), yd.compute()
        local = fastbp.MLPClassifier(**params).fit(X, y)
        print(f"local fit: {local.n_iter_} epochs, held-out accuracy "
              f"{local.score(X_test, y_test):.4f}")
        lazy = model.predict(Xd)
        print(f"lazy predict: {type(lazy).__name__} of {lazy.numblocks[0]} blocks, agreement "
              f"with the local copy {np.mean(lazy.compute() == model.to_local().predict(X)):.3f}")
    if cluster is not None:
        cluster.close()


if __name__ == "__main__":
    main()
