"""
fastbp against scikit-learn: training time
==========================================

The same network, data, solver and ``random_state`` trained by
``sklearn.neural_network.MLPClassifier`` and ``fastbp.MLPClassifier``:
fastbp runs a whole epoch in one compiled call. (The benchmark in ``bench/``
measures this properly, alternating systems over several rounds; this is one
run on whatever machine builds these pages.)
"""

import warnings

from sklearn.exceptions import ConvergenceWarning

# short trainings for a quick build: not converging is expected
warnings.filterwarnings("ignore", category=ConvergenceWarning)

import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn import neural_network

import fastbp

rng = np.random.default_rng(0)
X = rng.standard_normal((20_000, 64), dtype=np.float32)
y = (X[:, :8].sum(axis=1) > 0).astype(int) + 2 * (X[:, 8:16].sum(axis=1) > 0)
params = dict(hidden_layer_sizes=(100,), max_iter=3, random_state=0)
fastbp.MLPClassifier(**params).fit(X[:500], y[:500])  # load the compiled kernels once

seconds = {}
for name, Estimator in (("scikit-learn", neural_network.MLPClassifier),
                        ("fastbp", fastbp.MLPClassifier)):
    start = time.perf_counter()
    Estimator(**params).fit(X, y)
    seconds[name] = time.perf_counter() - start
    print(f"{name}: {seconds[name]:.2f} s for 3 epochs of 20,000 samples")

fig, ax = plt.subplots(figsize=(6, 2.5))
ax.barh(list(seconds), [3 * len(X) / s for s in seconds.values()], color=["#999", "#1f77b4"])
ax.set(xlabel="training samples per second (float32, (100,), adam)")
ax.set_title(f"fastbp {seconds['scikit-learn'] / seconds['fastbp']:.1f}× faster here")
fig.tight_layout()
