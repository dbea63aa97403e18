"""The flat parameter buffer and its per-layer views.

All parameters live in one contiguous vector ``theta`` ordered
``[W⁰.ravel(), W¹.ravel(), …, b⁰, b¹, …]`` (scikit-learn's ``_pack`` order), so
that an optimizer step is one pass and L-BFGS sees the vector directly. The
estimators' public ``coefs_`` / ``intercepts_`` are views into it.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Layout:
    """Where each layer's weights and biases sit in the flat buffer.

    Attributes
    ----------
    units : ndarray of shape (n_layers,)
        Layer widths, input layer first, output layer last.
    coef_off : ndarray of shape (n_layers - 1,)
        Start of Wˡ (shape (units[l], units[l+1]), C order) in the buffer.
    int_off : ndarray of shape (n_layers - 1,)
        Start of bˡ (shape (units[l+1],)) in the buffer.
    n_params : int
        Total length of the buffer.
    """

    units: np.ndarray
    coef_off: np.ndarray
    int_off: np.ndarray
    n_params: int

    @classmethod
    def from_units(cls, layer_units):
        units = np.asarray(layer_units, dtype=np.int64)
        coef_sizes = units[:-1] * units[1:]
        coef_off = np.concatenate([[0], np.cumsum(coef_sizes)[:-1]]).astype(np.int64)
        n_coefs = int(coef_sizes.sum())
        int_off = (n_coefs + np.concatenate([[0], np.cumsum(units[1:])[:-1]])).astype(np.int64)
        return cls(units, coef_off, int_off, n_coefs + int(units[1:].sum()))

    @property
    def n_coefs(self):
        """Number of weights (the part of the buffer the L2 penalty covers)."""
        return int(self.int_off[0])

    def coef_shape(self, l):
        return (int(self.units[l]), int(self.units[l + 1]))

    def views(self, theta):
        """``(coefs, intercepts)``: lists of views of ``theta``, shaped as in scikit-learn."""
        coefs, intercepts = [], []
        for l in range(len(self.units) - 1):
            shape = self.coef_shape(l)
            start = int(self.coef_off[l])
            coefs.append(theta[start : start + shape[0] * shape[1]].reshape(shape))
            start = int(self.int_off[l])
            intercepts.append(theta[start : start + shape[1]])
        return coefs, intercepts

    def pack(self, coefs, intercepts, dtype):
        """A new flat buffer holding ``coefs`` and ``intercepts``.

        Raises
        ------
        ValueError
            If the lists do not match the layout (wrong number of layers or a
            wrong shape), so a kernel never sees a wrong shape.
        """
        n_weight_layers = len(self.units) - 1
        if len(coefs) != n_weight_layers or len(intercepts) != n_weight_layers:
            raise ValueError(
                f"coefs_ and intercepts_ must each hold {n_weight_layers} arrays for "
                f"layer sizes {self.units.tolist()}; got {len(coefs)} and {len(intercepts)}."
            )
        theta = np.empty(self.n_params, dtype=dtype)
        target_coefs, target_intercepts = self.views(theta)
        for l in range(n_weight_layers):
            for name, given, target in (
                ("coefs_", coefs[l], target_coefs[l]),
                ("intercepts_", intercepts[l], target_intercepts[l]),
            ):
                given = np.asarray(given)
                if given.shape != target.shape:
                    raise ValueError(
                        f"{name}[{l}] has shape {given.shape}; expected {target.shape} "
                        f"for layer sizes {self.units.tolist()}."
                    )
                target[...] = given
        return theta


def glorot_uniform(layout, activation, random_state, dtype):
    """Glorot-uniform initial parameters, drawn exactly as scikit-learn draws them.

    For each layer in turn, W ~ U(−r, r) of shape (fan_in, fan_out) then
    b ~ U(−r, r), with r = √(6 / (fan_in + fan_out)), or √(2 / …) for the
    logistic activation. The same ``random_state`` therefore gives the same
    initial weights as ``sklearn.neural_network.MLPClassifier``.

    Returns
    -------
    theta : ndarray of shape (layout.n_params,)
    """
    theta = np.empty(layout.n_params, dtype=dtype)
    coefs, intercepts = layout.views(theta)
    factor = 2.0 if activation == "logistic" else 6.0
    for l in range(len(coefs)):
        fan_in, fan_out = layout.coef_shape(l)
        bound = np.sqrt(factor / (fan_in + fan_out))
        coefs[l][...] = random_state.uniform(-bound, bound, (fan_in, fan_out))
        intercepts[l][...] = random_state.uniform(-bound, bound, fan_out)
    return theta
