"""Slow, obvious NumPy references for what the kernels compute.

Written from the textbook δ-recursion, layer by layer, in its column form:
each weight matrix is used as Wˡ of shape (fan_out, fan_in), i.e. the
transpose of scikit-learn's ``coefs_[l]``, and each sample is a column. Nothing here is shared with ``fastbp``'s code.
"""

import numpy as np

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
}


def output_activation(name, a):
    """ŷ = g(aᴸ); a has one column per sample."""
    if name == "identity":
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
    raise ValueError(name)


def forward(coefs, intercepts, X, hidden, out):
    """Forward pass z⁰ = x, aˡ = Wˡzˡ⁻¹ + bˡ, zˡ = h(aˡ).

    Returns the lists a (pre-activations, a[0] unused) and z (z[0] = xᵀ),
    each entry of shape (units, n_samples).
    """
    h, _ = HIDDEN[hidden]
    z = [X.T]
    a = [None]
    n_weight_layers = len(coefs)
    for l in range(n_weight_layers):
        W = coefs[l].T  # (fan_out, fan_in)
        a.append(W @ z[-1] + intercepts[l][:, None])
        z.append(output_activation(out, a[-1]) if l == n_weight_layers - 1 else h(a[-1]))
    return a, z


def loss_and_gradient(coefs, intercepts, X, T, sample_weight, alpha, hidden, out):
    """J = Σ sᵢℓᵢ / Σsᵢ + ½α Σ‖Wˡ‖² / Σsᵢ and its gradient by the δ-recursion.

    δᴸ = ŷ − t (canonical link), δˡ = h′(aˡ) ⊙ (Wˡ⁺¹)ᵀ δˡ⁺¹, ∇Wˡ = δˡ (zˡ⁻¹)ᵀ.

    Returns
    -------
    loss, coef_grads (shaped like coefs), intercept_grads, deltas
    """
    _, h_prime = HIDDEN[hidden]
    a, z = forward(coefs, intercepts, X, hidden, out)
    s = sample_weight
    s_sum = s.sum()
    penalty = 0.5 * alpha * sum((W**2).sum() for W in coefs)
    loss = (s * per_sample_loss(out, z[-1], T.T)).sum() / s_sum + penalty / s_sum

    L = len(coefs)
    deltas = [None] * (L + 1)
    deltas[L] = (z[L] - T.T) * s  # weighted δᴸ, one column per sample
    for l in range(L - 1, 0, -1):
        deltas[l] = h_prime(a[l]) * (coefs[l] @ deltas[l + 1])  # (Wˡ⁺¹)ᵀ = coefs[l]
    coef_grads = [None] * L
    intercept_grads = [None] * L
    for l in range(1, L + 1):
        grad_W = deltas[l] @ z[l - 1].T  # (fan_out, fan_in)
        coef_grads[l - 1] = (grad_W.T + alpha * coefs[l - 1]) / s_sum
        intercept_grads[l - 1] = deltas[l].sum(axis=1) / s_sum
    return loss, coef_grads, intercept_grads, deltas


def sgd_epoch(coefs, intercepts, X, T, sample_weight, alpha, hidden, out, order, batch_size,
              lr, momentum, nesterov, velocities):
    """One epoch of minibatch SGD with scikit-learn's momentum rule; updates in place.

    Returns the epoch loss (mean of batch losses weighted by batch size).
    """
    params = coefs + intercepts
    total = 0.0
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        loss, gW, gb, _ = loss_and_gradient(coefs, intercepts, X[rows], T[rows],
                                            sample_weight[rows], alpha, hidden, out)
        total += loss * len(rows)
        for p, g, v in zip(params, gW + gb, velocities):
            v[...] = momentum * v - lr * g
            p += (momentum * v - lr * g) if nesterov else v
    return total / len(order)


def adam_epoch(coefs, intercepts, X, T, sample_weight, alpha, hidden, out, order, batch_size,
               lr, beta_1, beta_2, epsilon, ms, vs, t):
    """One epoch of minibatch Adam (Kingma & Ba); updates in place.

    Returns (epoch loss, new step count t).
    """
    params = coefs + intercepts
    total = 0.0
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        loss, gW, gb, _ = loss_and_gradient(coefs, intercepts, X[rows], T[rows],
                                            sample_weight[rows], alpha, hidden, out)
        total += loss * len(rows)
        t += 1
        step = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        for p, g, m, v in zip(params, gW + gb, ms, vs):
            m[...] = beta_1 * m + (1 - beta_1) * g
            v[...] = beta_2 * v + (1 - beta_2) * g**2
            p -= step * m / (np.sqrt(v) + epsilon)
    return total / len(order), t
