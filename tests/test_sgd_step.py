"""One SGD step worked by hand, number by number.

Network 2 → 2 (relu) → 1 (identity), squared error, one sample, lr = 0.1,
no momentum, no penalty.

    x = (1, 2),  t = 1
    W¹ = [[0.1, -0.2],      b¹ = (0.0, -0.1)
          [0.3,  0.4]]
    W² = [[ 0.5],           b² = (0.2,)
          [-1.0]]

Forward:
    a¹ = x W¹ + b¹ = (1·0.1 + 2·0.3 + 0.0, 1·(−0.2) + 2·0.4 − 0.1) = (0.7, 0.5)
    z¹ = relu(a¹) = (0.7, 0.5)
    ŷ  = z¹ W² + b² = 0.7·0.5 + 0.5·(−1.0) + 0.2 = 0.05
    J  = ½ (ŷ − t)² = ½ · 0.95² = 0.45125
Backward:
    δ² = ŷ − t = −0.95
    ∇W² = (z¹)ᵀ δ² = (0.7·−0.95, 0.5·−0.95) = (−0.665, −0.475),   ∇b² = −0.95
    δ¹ = relu′(a¹) ⊙ δ² (W²)ᵀ = (1, 1) ⊙ (−0.95·0.5, −0.95·−1.0) = (−0.475, 0.95)
    ∇W¹ = xᵀ δ¹ = [[1·−0.475, 1·0.95], [2·−0.475, 2·0.95]] = [[−0.475, 0.95], [−0.95, 1.9]]
    ∇b¹ = (−0.475, 0.95)
Step θ ← θ − 0.1 ∇θ:
    W¹ = [[0.1475, −0.295], [0.395, 0.21]],  b¹ = (0.0475, −0.195)
    W² = [[0.5665], [−0.9525]],              b² = (0.295,)
"""

import numpy as np

from fastbp import MLPRegressor


def test_one_sgd_step_by_hand():
    X = np.array([[1.0, 2.0]])
    y = np.array([1.0])
    est = MLPRegressor(hidden_layer_sizes=(2,), activation="relu", solver="sgd",
                       learning_rate_init=0.1, momentum=0.0, alpha=0.0, batch_size=1,
                       shuffle=False, max_iter=1, warm_start=True)
    est.fit(X, y)  # builds the network; the weights are then set by hand
    est.coefs_ = [np.array([[0.1, -0.2], [0.3, 0.4]]), np.array([[0.5], [-1.0]])]
    est.intercepts_ = [np.array([0.0, -0.1]), np.array([0.2])]

    loss, coef_grads, intercept_grads = est.loss_gradient(X, y)
    assert np.isclose(loss, 0.45125, rtol=1e-14)
    np.testing.assert_allclose(coef_grads[1], [[-0.665], [-0.475]], rtol=1e-14)
    np.testing.assert_allclose(intercept_grads[1], [-0.95], rtol=1e-14)
    np.testing.assert_allclose(coef_grads[0], [[-0.475, 0.95], [-0.95, 1.9]], rtol=1e-14)
    np.testing.assert_allclose(intercept_grads[0], [-0.475, 0.95], rtol=1e-14)

    est.fit(X, y)  # warm start: one epoch = one step on the single sample
    assert np.isclose(est.loss_, 0.45125, rtol=1e-14)  # loss before the step
    np.testing.assert_allclose(est.coefs_[0], [[0.1475, -0.295], [0.395, 0.21]], rtol=1e-14)
    np.testing.assert_allclose(est.intercepts_[0], [0.0475, -0.195], rtol=1e-14)
    np.testing.assert_allclose(est.coefs_[1], [[0.5665], [-0.9525]], rtol=1e-14)
    np.testing.assert_allclose(est.intercepts_[1], [0.295], rtol=1e-14)
    # ŷ after the step: relu((1,2)W¹ + b¹) W² + b²
    #   a¹ = (0.1475 + 0.79 + 0.0475, −0.295 + 0.42 − 0.195) = (0.985, −0.07) → z¹ = (0.985, 0)
    #   ŷ = 0.985 · 0.5665 + 0.295 = 0.8530025
    assert np.isclose(est.predict(X)[0], 0.8530025, rtol=1e-14)
