"""
Backprop made visible: the computation graph of a fitted network
================================================================

``fastbp.graph`` rebuilds a fitted network as a graph of nodes that each
know only their own local derivative. ``trace`` lists every node for one
sample: its value, its local derivative and ∂loss/∂node, the gradient the
reverse sweep brought to it. Its gradients are an independent check of the
compiled kernels', and forward mode gives directional derivatives.
"""

import warnings

from sklearn.exceptions import ConvergenceWarning

# short trainings for a quick build: not converging is expected
warnings.filterwarnings("ignore", category=ConvergenceWarning)

import matplotlib.pyplot as plt
import numpy as np

from fastbp import MLPClassifier, graph

rng = np.random.default_rng(0)
X = rng.normal(size=(60, 2))
y = (X[:, 0] * X[:, 1] > 0).astype(int)
model = MLPClassifier((3,), activation="tanh", solver="lbfgs", random_state=0).fit(X, y)

print(graph.trace(model, X[0], y[0]))

# reverse mode (the graph) against the compiled kernels, and forward mode
loss, coef_grads, intercept_grads = graph.from_estimator(model, X, y).loss_gradient()
k_loss, k_coef, k_intercept = model.loss_gradient(X, y)
print("graph and kernels agree:", np.allclose(coef_grads[0], k_coef[0], rtol=1e-9))
direction = [rng.normal(size=c.shape) for c in model.coefs_]
zeros = [np.zeros_like(b) for b in model.intercepts_]
forward = graph.directional_derivative(model, X, y, direction, zeros)
reverse = sum((d * g).sum() for d, g in zip(direction, coef_grads))
print(f"forward mode {forward:.10f}, reverse mode {reverse:.10f}")

fig, axes = plt.subplots(1, 2, figsize=(8, 3))
for ax, grad, name in zip(axes, coef_grads, ("∂J/∂W¹ (2 × 3)", "∂J/∂W² (3 × 1)")):
    image = ax.imshow(grad, cmap="RdBu_r", vmin=-abs(grad).max(), vmax=abs(grad).max())
    ax.set_title(name)
    fig.colorbar(image, ax=ax)
fig.tight_layout()
