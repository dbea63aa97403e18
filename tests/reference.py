"""Slow, obvious NumPy references for what the kernels compute.

Written from the textbook δ-recursion, layer by layer, in its column form:
each weight matrix is used as Wˡ of shape (fan_out, fan_in), i.e. the
transpose of scikit-learn's ``coefs_[l]``, and each sample is a column. Nothing here is shared with ``fastbp``'s code.
"""

import numpy as np
from scipy.special import erf

HIDDEN = {
    # name: (h(a), h'(a))
    "identity": (lambda a: a, lambda a: np.ones_like(a)),
    "logistic": (lambda a: 1 / (1 + np.exp(-a)), lambda a: np.exp(-a) / (1 + np.exp(-a)) ** 2),
    "tanh": (np.tanh, lambda a: 1 - np.tanh(a) ** 2),
    "relu": (lambda a: np.maximum(a, 0), lambda a: (a > 0).astype(a.dtype)),
    "leaky_relu": (lambda a: np.where(a > 0, a, 0.01 * a), lambda a: np.where(a > 0, 1.0, 0.01)),
    "elu": (lambda a: np.where(a > 0, a, np.exp(np.minimum(a, 0)) - 1),
            lambda a: np.where(a > 0, 1.0, np.exp(np.minimum(a, 0)))),
    "softplus": (lambda a: np.log(1 + np.exp(a)), lambda a: 1 / (1 + np.exp(-a))),
    # gelu: a Φ(a) with Φ(a) = ½(1 + erf(a/√2)); h′ = Φ(a) + a φ(a)
    "gelu": (lambda a: a * 0.5 * (1 + erf(a / np.sqrt(2))),
             lambda a: 0.5 * (1 + erf(a / np.sqrt(2))) + a * np.exp(-a * a / 2) / np.sqrt(2 * np.pi)),
    # silu: a σ(a); h′ = σ(a) + a σ(a)(1 − σ(a))
    "silu": (lambda a: a / (1 + np.exp(-a)),
             lambda a: 1 / (1 + np.exp(-a)) + a * np.exp(-a) / (1 + np.exp(-a)) ** 2),
}
# Regression losses with the identity output (MLPRegressor's loss parameter).
ROBUST = ("huber", "absolute_error")
HUBER_DELTA = 0.5  # the δ the tests use: residuals of both regions occur


def hidden_names(hidden, n_hidden):
    """One activation name per hidden layer, from a name or a sequence of names."""
    return [hidden] * n_hidden if isinstance(hidden, str) else list(hidden)


def output_activation(name, a):
    """ŷ = g(aᴸ); a has one column per sample."""
    if name == "identity" or name in ROBUST:
        return a
    if name == "logistic":
        return 1 / (1 + np.exp(-a))
    if name == "exp":
        return np.exp(a)
    if name == "softmax":
        e = np.exp(a - a.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)
    raise ValueError(name)


def per_sample_loss(name, y_hat, t):
    """ℓᵢ for each sample (column), from each loss's definition."""
    eps = np.finfo(y_hat.dtype).eps
    if name == "identity":  # half squared error, summed over outputs
        return 0.5 * ((y_hat - t) ** 2).sum(axis=0)
    if name == "logistic":  # binary log-loss, summed over outputs
        p = np.clip(y_hat, eps, 1 - eps)
        return -(t * np.log(p) + (1 - t) * np.log(1 - p)).sum(axis=0)
    if name == "softmax":  # cross-entropy
        p = np.clip(y_hat, eps, 1 - eps)
        return -(t * np.log(p)).sum(axis=0)
    if name == "exp":  # half Poisson deviance
        safe_t = np.where(t > 0, t, 1)
        return (np.where(t > 0, t * np.log(safe_t / y_hat), 0) - t + y_hat).sum(axis=0)
    if name == "huber":
        r = np.abs(y_hat - t)
        d = HUBER_DELTA
        return np.where(r <= d, r * r / 2, d * r - d * d / 2).sum(axis=0)
    if name == "absolute_error":
        return np.abs(y_hat - t).sum(axis=0)
    raise ValueError(name)


def output_delta(name, y_hat, t):
    """∂ℓ/∂aᴸ: ŷ − t for the canonical pairs, the robust losses' own."""
    if name == "huber":
        return np.clip(y_hat - t, -HUBER_DELTA, HUBER_DELTA)
    if name == "absolute_error":
        return np.sign(y_hat - t)
    return y_hat - t


def _splitmix(x):
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _lowbias32(x):
    x = x.astype(np.uint32)
    x = (x ^ (x >> np.uint32(16))) * np.uint32(0x7FEB352D)
    x = (x ^ (x >> np.uint32(15))) * np.uint32(0x846CA68B)
    return x ^ (x >> np.uint32(16))


def dropout_masks(seed, rows, units, rates):
    """The multipliers m / (1 − p) of each hidden layer, one column per sample.

    Written from fastbp's documented mask: with G = 0x9E3779B97F4A7C15,
    g = 0x9E3779B9, mix splitmix64's finaliser and mix32 the lowbias32 mixer,
    unit k of hidden layer l (from 0) of sample i (its row in X) is dropped
    when mix32(r + (k+1)·g mod 2³²) < ⌊p·2³²⌋, where r is the low 32 bits of
    mix(mix(seed + (l+1)·G) + (i+1)·G).
    """
    G = np.uint64(0x9E3779B97F4A7C15)
    masks = []
    with np.errstate(over="ignore"):
        for l, (width, p) in enumerate(zip(units, rates)):
            layer_key = _splitmix(np.uint64(seed) + np.uint64(l + 1) * G)
            rows64 = np.asarray(rows, dtype=np.uint64) + np.uint64(1)
            row_keys = (_splitmix(layer_key + rows64 * G) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
            units32 = (np.arange(width, dtype=np.uint32) + np.uint32(1)) * np.uint32(0x9E3779B9)
            numbers = _lowbias32(units32[:, None] + row_keys[None, :])
            threshold = np.uint32(int(p * 2**32))
            masks.append(np.where(numbers >= threshold, 1 / (1 - p), 0.0))
    return masks


def forward(coefs, intercepts, X, hidden, out, masks=None):
    """Forward pass z⁰ = x, aˡ = Wˡzˡ⁻¹ + bˡ, zˡ = h(aˡ) (⊙ mask, with dropout).

    ``hidden`` is one activation name or one per hidden layer; ``masks``
    (see ``dropout_masks``) multiplies each hidden layer's output.
    Returns the lists a (pre-activations, a[0] unused) and z (z[0] = xᵀ),
    each entry of shape (units, n_samples).
    """
    names = hidden_names(hidden, len(coefs) - 1)
    z = [X.T]
    a = [None]
    n_weight_layers = len(coefs)
    for l in range(n_weight_layers):
        W = coefs[l].T  # (fan_out, fan_in)
        a.append(W @ z[-1] + intercepts[l][:, None])
        if l == n_weight_layers - 1:
            z.append(output_activation(out, a[-1]))
        else:
            z.append(HIDDEN[names[l]][0](a[-1]) * (1 if masks is None else masks[l]))
    return a, z


def loss_and_gradient(coefs, intercepts, X, T, sample_weight, alpha, hidden, out, masks=None):
    """J = Σ sᵢℓᵢ / Σsᵢ + ½α Σ‖Wˡ‖² / Σsᵢ and its gradient by the δ-recursion.

    δᴸ = ŷ − t (canonical link; the robust losses' own ∂ℓ/∂ŷ), δˡ = h′(aˡ) ⊙
    mˡ ⊙ (Wˡ⁺¹)ᵀ δˡ⁺¹ (mˡ = 1 without dropout), ∇Wˡ = δˡ (zˡ⁻¹)ᵀ.

    Returns
    -------
    loss, coef_grads (shaped like coefs), intercept_grads, deltas
    """
    names = hidden_names(hidden, len(coefs) - 1)
    a, z = forward(coefs, intercepts, X, hidden, out, masks)
    s = sample_weight
    s_sum = s.sum()
    penalty = 0.5 * alpha * sum((W**2).sum() for W in coefs)
    loss = (s * per_sample_loss(out, z[-1], T.T)).sum() / s_sum + penalty / s_sum

    L = len(coefs)
    deltas = [None] * (L + 1)
    deltas[L] = output_delta(out, z[L], T.T) * s  # weighted δᴸ, one column per sample
    for l in range(L - 1, 0, -1):
        mask = 1 if masks is None else masks[l - 1]
        deltas[l] = HIDDEN[names[l - 1]][1](a[l]) * mask * (coefs[l] @ deltas[l + 1])
    coef_grads = [None] * L
    intercept_grads = [None] * L
    for l in range(1, L + 1):
        grad_W = deltas[l] @ z[l - 1].T  # (fan_out, fan_in)
        coef_grads[l - 1] = (grad_W.T + alpha * coefs[l - 1]) / s_sum
        intercept_grads[l - 1] = deltas[l].sum(axis=1) / s_sum
    return loss, coef_grads, intercept_grads, deltas


def batch_gradient(coefs, intercepts, X, T, sample_weight, alpha, hidden, out, rows, dropout,
                   max_grad_norm):
    """(loss, gradients) of one minibatch, with dropout masks and gradient clipping.

    ``dropout``: None, or (seed, rates per hidden layer); ``max_grad_norm``:
    None, or the bound on the global norm of the gradient g (g is scaled by
    max / ‖g‖ when ‖g‖ is above it).
    """
    masks = None
    if dropout is not None:
        seed, rates = dropout
        masks = dropout_masks(seed, rows, [c.shape[1] for c in coefs[:-1]], rates)
    loss, gW, gb, _ = loss_and_gradient(coefs, intercepts, X[rows], T[rows], sample_weight[rows],
                                        alpha, hidden, out, masks)
    grads = gW + gb
    if max_grad_norm is not None:
        norm = np.sqrt(sum((g**2).sum() for g in grads))
        if norm > max_grad_norm:
            grads = [g * (max_grad_norm / norm) for g in grads]
    return loss, grads


def sgd_epoch(coefs, intercepts, X, T, sample_weight, alpha, hidden, out, order, batch_size,
              lr, momentum, nesterov, velocities, dropout=None, max_grad_norm=None):
    """One epoch of minibatch SGD with scikit-learn's momentum rule; updates in place.

    Returns the epoch loss (mean of batch losses weighted by batch size).
    """
    params = coefs + intercepts
    total = 0.0
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        loss, grads = batch_gradient(coefs, intercepts, X, T, sample_weight, alpha, hidden, out,
                                     rows, dropout, max_grad_norm)
        total += loss * len(rows)
        for p, g, v in zip(params, grads, velocities):
            v[...] = momentum * v - lr * g
            p += (momentum * v - lr * g) if nesterov else v
    return total / len(order)


def adam_epoch(coefs, intercepts, X, T, sample_weight, alpha, hidden, out, order, batch_size,
               lr, beta_1, beta_2, epsilon, ms, vs, t, dropout=None, max_grad_norm=None):
    """One epoch of minibatch Adam (Kingma & Ba); updates in place.

    Returns (epoch loss, new step count t).
    """
    params = coefs + intercepts
    total = 0.0
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        loss, grads = batch_gradient(coefs, intercepts, X, T, sample_weight, alpha, hidden, out,
                                     rows, dropout, max_grad_norm)
        total += loss * len(rows)
        t += 1
        step = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        for p, g, m, v in zip(params, grads, ms, vs):
            m[...] = beta_1 * m + (1 - beta_1) * g
            v[...] = beta_2 * v + (1 - beta_2) * g**2
            p -= step * m / (np.sqrt(v) + epsilon)
    return total / len(order), t
