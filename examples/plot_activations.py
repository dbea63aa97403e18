"""
Decision boundaries, one per activation
=======================================

scikit-learn's four hidden activations and the five fastbp adds, each training
the same (16, 16) network on the two moons; the last panel uses one activation
per hidden layer.
"""

import warnings

from sklearn.exceptions import ConvergenceWarning

# short trainings for a quick build: not converging is expected
warnings.filterwarnings("ignore", category=ConvergenceWarning)

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_moons

from fastbp import MLPClassifier

X, y = make_moons(400, noise=0.25, random_state=0)
grid = np.stack(np.meshgrid(np.linspace(-2, 3, 150), np.linspace(-1.5, 2, 120)), axis=-1)
activations = ["identity", "logistic", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu",
               "silu", ("gelu", "tanh")]

fig, axes = plt.subplots(2, 5, figsize=(13, 5.2), sharex=True, sharey=True)
for ax, activation in zip(axes.ravel(), activations):
    model = MLPClassifier((16, 16), activation=activation, max_iter=400, random_state=0)
    model.fit(X, y)
    p = model.predict_proba(grid.reshape(-1, 2))[:, 1].reshape(grid.shape[:2])
    ax.contourf(grid[..., 0], grid[..., 1], p, levels=20, cmap="RdBu_r", alpha=0.8)
    ax.scatter(X[:, 0], X[:, 1], c=y, s=6, cmap="RdBu_r", edgecolors="k", linewidths=0.2)
    name = activation if isinstance(activation, str) else " + ".join(activation)
    ax.set_title(f"{name}: {model.score(X, y):.2f}", fontsize=9)
fig.tight_layout()
