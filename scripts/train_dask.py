"""Train on a Dask cluster: a LocalCluster by default, or --scheduler tcp://HOST:PORT.

    python scripts/train_dask.py [--scheduler tcp://HOST:PORT] [--solver adam|sgd|lbfgs]
                                 [--rounds 30] [--samples 20000] [--chunks 4]

The data is generated as a dask array on the workers and stays there; each
round prints the loss, and the end compares held-out accuracy with a local fit.
"""

import argparse
import time
import warnings

import dask.array as da
import numpy as np
from distributed import Client, LocalCluster
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

import fastbp
from fastbp.dask import DaskMLPClassifier


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", help="address of a running scheduler (default: a LocalCluster)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster workers")
    parser.add_argument("--solver", choices=["adam", "sgd", "lbfgs"], default="adam")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--chunks", type=int, default=4, help="row blocks (shards)")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)

    X, y = make_classification(args.samples + 2000, 20, n_informative=10, n_classes=3,
                               random_state=0)
    X_test, y_test, X, y = X[-2000:], y[-2000:], X[:-2000], y[:-2000]
    rows = -(-args.samples // args.chunks)
    cluster = None if args.scheduler else LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                                       dashboard_address=None)
    with Client(args.scheduler or cluster) as client:
        print(f"cluster: {len(client.scheduler_info()['workers'])} workers")
        Xd, yd = da.from_array(X, chunks=(rows, -1)), da.from_array(y, chunks=rows)

        def report(estimator, info):
            print(f"round {info['epoch']:3d}  loss {info['loss']:.5f}")

        model = DaskMLPClassifier(client=client, solver=args.solver, hidden_layer_sizes=(64,),
                                  learning_rate_init=3e-3, max_iter=args.rounds, random_state=0,
                                  callbacks=[report])
        start = time.perf_counter()
        model.fit(Xd, yd)
        elapsed = time.perf_counter() - start
        print(f"Dask fit: {elapsed:.2f} s, held-out accuracy "
              f"{model.to_local().score(X_test, y_test):.4f}")
        local = fastbp.MLPClassifier(solver=args.solver, hidden_layer_sizes=(64,),
                                     learning_rate_init=3e-3, max_iter=args.rounds, random_state=0)
        local.fit(X, y)
        print(f"local fit: held-out accuracy {local.score(X_test, y_test):.4f}")
        lazy = model.predict(Xd)
        print(f"lazy predict: {type(lazy).__name__} of {lazy.numblocks[0]} blocks, agreement "
              f"with the local copy {np.mean(lazy.compute() == model.to_local().predict(X)):.3f}")
    if cluster is not None:
        cluster.close()


if __name__ == "__main__":
    main()
