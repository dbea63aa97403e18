"""The lecture notes' computation-graph engine: an independent oracle, and backprop made visible.

Plain NumPy, never on the hot path. A graph is made of ``Input`` and
``Parameter`` nodes and compute nodes that each know only their own local
derivative; the gradients arriving at a node from its several consumers are
summed (the chain rule over a graph).

Reverse mode: ``Graph.forward()`` evaluates every node in topological order;
``Graph.backward(loss)`` seeds ∂loss/∂loss = 1 and walks the order backwards,
each node adding its contribution to its inputs' ``grad``. Forward mode:
``Graph.forward_tangents()`` carries a tangent (a directional derivative)
along with each value, from tangents given to the parameters.

Everything works on whole minibatches: values are arrays with one row per
sample. ``from_estimator`` builds the graph of a fitted fastbp estimator;
``trace`` tabulates every node for one sample; ``directional_derivative``
differentiates the objective along a direction in parameter space in forward
mode.
"""

import numpy as np
from scipy.special import ndtr  # Φ, the standard normal distribution function


class Node:
    """A value in the graph; ``grad`` receives ∂(loss)/∂(value) in backward."""

    label = "node"

    def __init__(self, *inputs, name=None):
        self.inputs = inputs
        self.name = name or self.label
        self.value = None
        self.grad = None
        self.tangent = None

    def forward(self):  # pragma: no cover - leaves do nothing
        pass

    def backward(self):  # pragma: no cover - leaves do nothing
        pass

    def forward_tangent(self):  # pragma: no cover - leaves keep their tangent
        pass

    def local_derivative(self):
        """∂value/∂(first input), elementwise where the node is elementwise."""
        return None

    def _send(self, node, gradient):
        """Add a gradient contribution to an input: incoming gradients are summed."""
        node.grad = gradient if node.grad is None else node.grad + gradient


class Input(Node):
    """Data: a fixed array (one row per sample)."""

    label = "input"

    def __init__(self, value, name=None):
        super().__init__(name=name)
        self.value = np.asarray(value, dtype=float)


class Parameter(Node):
    """A trainable array; ``update`` moves it against its gradient."""

    label = "parameter"

    def __init__(self, value, name=None):
        super().__init__(name=name)
        self.value = np.array(value, dtype=float)


class Affine(Node):
    """a = z W + b (rows are samples; W of shape (fan_in, fan_out), as ``coefs_``)."""

    label = "affine"

    def __init__(self, z, W, b=None, name=None):
        super().__init__(*((z, W) if b is None else (z, W, b)), name=name)

    def forward(self):
        z, W, *b = self.inputs
        self.value = z.value @ W.value + (b[0].value if b else 0.0)

    def backward(self):
        z, W, *b = self.inputs
        self._send(z, self.grad @ W.value.T)       # ∂a/∂z = Wᵀ
        self._send(W, z.value.T @ self.grad)       # ∂a/∂W: zᵀ (summed over samples)
        if b:
            self._send(b[0], self.grad.sum(axis=0))  # ∂a/∂b = 1, summed over samples

    def forward_tangent(self):
        z, W, *b = self.inputs
        self.tangent = z.tangent @ W.value + z.value @ W.tangent + (b[0].tangent if b else 0.0)

    def local_derivative(self):
        return self.inputs[1].value.T


class Elementwise(Node):
    """y = f(x) elementwise; subclasses give f and f′ (beside each other)."""

    def forward(self):
        self.value = self.f(self.inputs[0].value)

    def backward(self):
        self._send(self.inputs[0], self.grad * self.local_derivative())

    def forward_tangent(self):
        self.tangent = self.local_derivative() * self.inputs[0].tangent

    def local_derivative(self):
        return self.f_prime(self.inputs[0].value, self.value)


class Identity(Elementwise):
    label = "identity"

    def f(self, x):
        return x

    def f_prime(self, x, y):
        return np.ones_like(x)


class Sigmoid(Elementwise):
    label = "sigmoid"

    def f(self, x):
        return 1.0 / (1.0 + np.exp(-x))

    def f_prime(self, x, y):
        return (1 - y) * y  # σ′(x) = σ(x)(1 − σ(x))


class Tanh(Elementwise):
    label = "tanh"

    def f(self, x):
        return np.tanh(x)

    def f_prime(self, x, y):
        return 1 - y * y


class ReLU(Elementwise):
    label = "relu"

    def f(self, x):
        return np.maximum(x, 0)

    def f_prime(self, x, y):
        return (x > 0).astype(float)  # u(x): the gradient is "killed" for x < 0


class LeakyReLU(Elementwise):
    label = "leaky_relu"

    def f(self, x):
        return np.where(x > 0, x, 0.01 * x)

    def f_prime(self, x, y):
        return np.where(x > 0, 1.0, 0.01)  # slope 0.01 where x ≤ 0


class ELU(Elementwise):
    label = "elu"

    def f(self, x):
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))

    def f_prime(self, x, y):
        return np.where(x > 0, 1.0, np.exp(np.minimum(x, 0)))  # eˣ for x ≤ 0


class Softplus(Elementwise):
    label = "softplus"

    def f(self, x):
        return np.logaddexp(0, x)  # log(1 + eˣ)

    def f_prime(self, x, y):
        return 1.0 / (1.0 + np.exp(-x))  # the logistic function σ(x)


class GELU(Elementwise):
    """x Φ(x), Φ the standard normal distribution function."""

    label = "gelu"

    def f(self, x):
        return x * ndtr(x)

    def f_prime(self, x, y):
        return ndtr(x) + x * np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)  # Φ + x φ


class SiLU(Elementwise):
    """x σ(x) (also called swish)."""

    label = "silu"

    def f(self, x):
        return x / (1.0 + np.exp(-x))

    def f_prime(self, x, y):
        s = 1.0 / (1.0 + np.exp(-x))
        return s + x * s * (1 - s)  # σ + x σ′


class Dropout(Elementwise):
    """y = x ⊙ m for a fixed mask m (0 for a dropped unit, 1/(1 − p) for a kept one).

    Training draws the masks; given one (say fastbp's, for a minibatch), the
    graph differentiates the network that minibatch trained.
    """

    label = "dropout"

    def __init__(self, x, mask, name=None):
        super().__init__(x, name=name)
        self.mask = np.asarray(mask, dtype=float)

    def f(self, x):
        return x * self.mask

    def f_prime(self, x, y):
        return np.broadcast_to(self.mask, np.shape(x))


class Exp(Elementwise):
    label = "exp"

    def f(self, x):
        return np.exp(x)

    def f_prime(self, x, y):
        return y


class Softmax(Node):
    """p = softmax(a) per row; its Jacobian is diag(p) − p pᵀ."""

    label = "softmax"

    def forward(self):
        a = self.inputs[0].value
        e = np.exp(a - a.max(axis=1, keepdims=True))
        self.value = e / e.sum(axis=1, keepdims=True)

    def _jacobian_product(self, v):
        p = self.value
        return p * (v - (v * p).sum(axis=1, keepdims=True))  # (diag(p) − p pᵀ) v, per row

    def backward(self):
        self._send(self.inputs[0], self._jacobian_product(self.grad))

    def forward_tangent(self):
        self.tangent = self._jacobian_product(self.inputs[0].tangent)

    def local_derivative(self):
        p = self.value[0]
        return np.diag(p) - np.outer(p, p)  # first sample's Jacobian


class Loss(Node):
    """Σᵢ sᵢ ℓ(ŷᵢ, tᵢ) / Σᵢ sᵢ for a per-element loss ℓ given with ∂ℓ/∂ŷ."""

    def __init__(self, prediction, target, sample_weight=None, name=None):
        super().__init__(prediction, name=name)
        self.target = np.asarray(target, dtype=float)
        n = self.target.shape[0]
        self.sample_weight = (np.ones(n) if sample_weight is None
                              else np.asarray(sample_weight, dtype=float))

    def _weights(self):
        return self.sample_weight[:, None] / self.sample_weight.sum()

    def forward(self):
        self.value = float((self._weights() * self.elementwise(self.inputs[0].value)).sum())

    def backward(self):
        self._send(self.inputs[0], self.grad * self.local_derivative())

    def forward_tangent(self):
        self.tangent = float((self.local_derivative() * self.inputs[0].tangent).sum())

    def local_derivative(self):
        return self._weights() * self.derivative(self.inputs[0].value)


class SquaredError(Loss):
    """ℓ = ½ (ŷ − t)², ∂ℓ/∂ŷ = ŷ − t."""

    label = "squared error"

    def elementwise(self, y):
        return 0.5 * (y - self.target) ** 2

    def derivative(self, y):
        return y - self.target


class Huber(Loss):
    """``ℓ = ½ r² if |r| ≤ δ else δ(|r| − ½δ)``, r = ŷ − t; ∂ℓ/∂ŷ = clip(r, −δ, δ)."""

    label = "huber"

    def __init__(self, prediction, target, sample_weight=None, delta=1.0, name=None):
        super().__init__(prediction, target, sample_weight, name=name)
        self.delta = float(delta)

    def elementwise(self, y):
        r = np.abs(y - self.target)
        return np.where(r <= self.delta, 0.5 * r * r, self.delta * (r - 0.5 * self.delta))

    def derivative(self, y):
        return np.clip(y - self.target, -self.delta, self.delta)


class AbsoluteError(Loss):
    """``ℓ = |ŷ − t|``, ∂ℓ/∂ŷ = sign(ŷ − t)."""

    label = "absolute error"

    def elementwise(self, y):
        return np.abs(y - self.target)

    def derivative(self, y):
        return np.sign(y - self.target)


def _clip(p):
    eps = np.finfo(float).eps
    return np.clip(p, eps, 1 - eps)


class BinaryCrossEntropy(Loss):
    """ℓ = −t log p − (1 − t) log(1 − p), ∂ℓ/∂p = −t/p + (1 − t)/(1 − p)."""

    label = "binary cross-entropy"

    def elementwise(self, p):
        t, p = self.target, _clip(p)
        return -(t * np.log(p) + (1 - t) * np.log(1 - p))

    def derivative(self, p):
        t, p = self.target, _clip(p)
        return -t / p + (1 - t) / (1 - p)


class CrossEntropy(Loss):
    """ℓ = −Σₖ tₖ log pₖ, ∂ℓ/∂pₖ = −tₖ/pₖ."""

    label = "cross-entropy"

    def elementwise(self, p):
        return -self.target * np.log(_clip(p))

    def derivative(self, p):
        return -self.target / _clip(p)


class PoissonDeviance(Loss):
    """ℓ = t log(t/μ) − t + μ (half the deviance), ∂ℓ/∂μ = 1 − t/μ."""

    label = "Poisson deviance"

    def elementwise(self, mu):
        t = self.target
        return np.where(t > 0, t * np.log(np.where(t > 0, t, 1) / mu), 0.0) - t + mu

    def derivative(self, mu):
        return 1 - self.target / mu


class L2Penalty(Node):
    """½ α Σₗ ‖Wˡ‖² / S (S: the total sample weight), ∂/∂Wˡ = α Wˡ / S."""

    label = "L2 penalty"

    def __init__(self, weights, alpha, weight_sum, name=None):
        super().__init__(*weights, name=name)
        self.alpha = float(alpha)
        self.weight_sum = float(weight_sum)

    def forward(self):
        self.value = 0.5 * self.alpha * sum((W.value ** 2).sum() for W in self.inputs) / self.weight_sum

    def backward(self):
        for W in self.inputs:
            self._send(W, self.grad * self.alpha * W.value / self.weight_sum)

    def forward_tangent(self):
        self.tangent = self.alpha * sum((W.value * W.tangent).sum()
                                        for W in self.inputs) / self.weight_sum


class Add(Node):
    """s = a + b (the data loss plus the penalty)."""

    label = "sum"

    def forward(self):
        self.value = sum(node.value for node in self.inputs)

    def backward(self):
        for node in self.inputs:
            self._send(node, self.grad)

    def forward_tangent(self):
        self.tangent = sum(node.tangent for node in self.inputs)


class Graph:
    """The nodes that ``output`` depends on, in topological order.

    Parameters
    ----------
    output : Node
        The node whose value the graph computes (usually the loss).
    """

    def __init__(self, output):
        self.output = output
        self.order = []
        seen = set()

        def visit(node):
            if id(node) in seen:
                return
            seen.add(id(node))
            for parent in node.inputs:
                visit(parent)
            self.order.append(node)

        visit(output)

    @property
    def parameters(self):
        return [node for node in self.order if isinstance(node, Parameter)]

    def forward(self):
        """Evaluate every node, inputs first; returns the output's value."""
        for node in self.order:
            node.forward()
        return self.output.value

    def backward(self, loss=None):
        """Reverse mode: every node's ``grad`` becomes ∂loss/∂node (loss: a scalar node)."""
        loss = loss or self.output
        for node in self.order:
            node.grad = None
        loss.grad = np.ones_like(loss.value, dtype=float)
        for node in reversed(self.order[: self.order.index(loss) + 1]):
            if node.grad is not None:
                node.backward()

    def update(self, learning_rate):
        """One gradient-descent step on every parameter: θ ← θ − η ∂loss/∂θ."""
        for node in self.parameters:
            if node.grad is not None:
                node.value = node.value - learning_rate * node.grad

    def forward_tangents(self, tangents):
        """Forward mode: carry ∂/∂ε of every value along θ + ε·direction.

        Parameters
        ----------
        tangents : dict of Parameter -> ndarray
            The direction, per parameter (missing parameters: zero).
        """
        self.forward()
        for node in self.order:
            if isinstance(node, Parameter):
                node.tangent = np.asarray(tangents.get(node, np.zeros_like(node.value)), dtype=float)
            elif isinstance(node, Input):
                node.tangent = np.zeros_like(node.value)
            else:
                node.forward_tangent()
        return self.output.tangent


# ---------------------------------------------------------------------------
# Bridges to fitted estimators
# ---------------------------------------------------------------------------
_ACTIVATIONS = {"identity": Identity, "logistic": Sigmoid, "tanh": Tanh, "relu": ReLU,
                "leaky_relu": LeakyReLU, "elu": ELU, "softplus": Softplus, "gelu": GELU,
                "silu": SiLU}
_OUTPUTS = {"identity": (Identity, SquaredError), "logistic": (Sigmoid, BinaryCrossEntropy),
            "softmax": (Softmax, CrossEntropy), "exp": (Exp, PoissonDeviance)}
# The identity output's other losses (MLPRegressor's loss parameter)
_REGRESSION_LOSSES = {"huber": Huber, "absolute_error": AbsoluteError}


class EstimatorGraph(Graph):
    """The graph of a fitted estimator's training objective on given data.

    Attributes
    ----------
    coefs, intercepts : lists of Parameter
        One per layer, holding copies of ``coefs_`` / ``intercepts_``.
    """

    def __init__(self, output, coefs, intercepts):
        super().__init__(output)
        self.coefs = coefs
        self.intercepts = intercepts

    def loss_gradient(self):
        """``(loss, coef_grads, intercept_grads)`` as ``est.loss_gradient`` lays them out."""
        loss = self.forward()
        self.backward()
        return (float(loss), [node.grad for node in self.coefs],
                [node.grad for node in self.intercepts])


def from_estimator(est, X, y, sample_weight=None, dropout_masks=None):
    """The graph of ``est``'s objective on (X, y): same weights, same loss, alpha and weights.

    J = Σᵢ sᵢℓᵢ / Σsᵢ + ½·alpha·Σₗ‖Wˡ‖² / Σsᵢ, with class weights folded into sᵢ
    for a classifier, exactly as ``est.loss_gradient`` defines it; only the
    input checks are the estimator's, every number is the graph's.
    ``dropout_masks``: one (n_samples, units) mask per hidden layer (see
    ``Dropout``), for the objective of a minibatch trained with dropout.

    Returns
    -------
    EstimatorGraph
    """
    from ._estimators import objective_inputs

    from ._network import hidden_activations

    X, T, s = objective_inputs(est, X, y, sample_weight)
    X = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
    z = Input(X, name="x")
    coefs, intercepts = [], []
    n_layers = len(est.coefs_)
    activations = hidden_activations(est.activation, n_layers - 1)
    loss_options = {}
    if getattr(est, "loss", None) in ("huber", "absolute_error"):
        loss_options = {"delta": est.huber_delta} if est.loss == "huber" else {}
    for l in range(n_layers):
        W = Parameter(est.coefs_[l], name=f"W{l + 1}")
        b = Parameter(est.intercepts_[l], name=f"b{l + 1}")
        coefs.append(W)
        intercepts.append(b)
        a = Affine(z, W, b, name=f"a{l + 1}")
        if l < n_layers - 1:
            z = _ACTIVATIONS[activations[l]](a, name=f"z{l + 1}")
            if dropout_masks is not None:
                z = Dropout(z, dropout_masks[l], name=f"dropout{l + 1}")
        else:
            out_node, loss_node = _OUTPUTS[est.out_activation_]
            if getattr(est, "loss", None) in _REGRESSION_LOSSES:
                loss_node = _REGRESSION_LOSSES[est.loss]
            z = out_node(a, name="y_hat")
    data_loss = loss_node(z, np.asarray(T, dtype=float), np.asarray(s, dtype=float),
                          name="data loss", **loss_options)
    penalty = L2Penalty(coefs, est.alpha, float(np.sum(s, dtype=float)), name="L2 penalty")
    return EstimatorGraph(Add(data_loss, penalty, name="objective"), coefs, intercepts)


def directional_derivative(est, X, y, coef_dirs, intercept_dirs, sample_weight=None):
    """d/dε J(θ + ε·d) at ε = 0, in forward mode (no reverse-mode gradient involved).

    Parameters
    ----------
    coef_dirs, intercept_dirs : lists of ndarray
        The direction d, shaped like ``coefs_`` / ``intercepts_``.
    """
    graph = from_estimator(est, X, y, sample_weight)
    tangents = {}
    for nodes, dirs in ((graph.coefs, coef_dirs), (graph.intercepts, intercept_dirs)):
        if len(dirs) != len(nodes):
            raise ValueError(f"expected {len(nodes)} direction arrays, got {len(dirs)}")
        for node, d in zip(nodes, dirs):
            d = np.asarray(d, dtype=float)
            if d.shape != node.value.shape:
                raise ValueError(f"direction for {node.name} has shape {d.shape}; "
                                 f"expected {node.value.shape}")
            tangents[node] = d
    return float(graph.forward_tangents(tangents))


class Trace:
    """Every node of a one-sample graph: value, local derivative, incoming gradient."""

    def __init__(self, rows):
        self.rows = rows  # list of (name, kind, value, local_derivative, gradient)

    def __iter__(self):
        return iter(self.rows)

    def __str__(self):
        def show(array):
            if array is None:
                return "—"
            array = np.atleast_1d(np.asarray(array, dtype=float)).ravel()
            text = ", ".join(f"{v:.6g}" for v in array[:6])
            return f"[{text}{', …' if array.size > 6 else ''}]" if array.size > 1 else text

        header = ("node", "kind", "value", "local derivative", "∂loss/∂node")
        cells = [header] + [(n, k, show(v), show(d), show(g)) for n, k, v, d, g in self.rows]
        widths = [max(len(row[j]) for row in cells) for j in range(5)]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def trace(est, x, y):
    """A table of every node for one sample (x, y) of a fitted estimator.

    Parameters
    ----------
    x : array-like of shape (n_features,) or (1, n_features)
    y : a label (classifier), a value or a row of values (regressor)

    Returns
    -------
    Trace
        ``str(trace)`` prints it; iterating gives (name, kind, value,
        local derivative, gradient) per node, inputs first.
    """
    x = np.asarray(x, dtype=float).reshape(1, -1)
    y = np.asarray(y).reshape(1, -1) if np.ndim(y) else np.asarray([y])
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    graph = from_estimator(est, x, y)
    graph.forward()
    graph.backward()
    rows = [(node.name, node.label, node.value, node.local_derivative(), node.grad)
            for node in graph.order]
    return Trace(rows)
