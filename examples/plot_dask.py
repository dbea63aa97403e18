"""
Training on a Dask cluster
==========================

``fastbp.dask.DaskMLPClassifier`` trains on data that stays on the workers:
each round, every worker runs minibatch epochs on its own rows from the same
weights and the driver averages them. Here a real ``LocalCluster`` of two
workers in this process.
"""

import warnings

from sklearn.exceptions import ConvergenceWarning

# short trainings for a quick build: not converging is expected
warnings.filterwarnings("ignore", category=ConvergenceWarning)

import dask.array as da
import matplotlib.pyplot as plt
from distributed import Client, LocalCluster
from sklearn.datasets import make_classification

from fastbp.dask import DaskMLPClassifier

X, y = make_classification(4000, 20, n_informative=10, random_state=0)
with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                  dashboard_address=None) as cluster, Client(cluster) as client:
    X_d = da.from_array(X, chunks=1000)
    y_d = da.from_array(y, chunks=1000)
    model = DaskMLPClassifier(hidden_layer_sizes=(32,), max_iter=15, random_state=0,
                              client=client).fit(X_d, y_d)
    accuracy = (model.predict(X_d).compute() == y).mean()
    print(f"{model.n_iter_} rounds, training accuracy {accuracy:.3f}")
    local = model.to_local()  # a plain fastbp.MLPClassifier for serving

fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(range(1, len(model.loss_curve_) + 1), model.loss_curve_, marker="o")
ax.set(xlabel="round", ylabel="mean training loss", title="DaskMLPClassifier, 2 workers")
fig.tight_layout()
