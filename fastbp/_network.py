"""The network: the one owner of a model's parameters.

All parameters live in one contiguous vector ``theta`` ordered
``[W⁰.ravel(), W¹.ravel(), …, b⁰, b¹, …]`` (scikit-learn's ``_pack`` order), so
that an optimizer step is one pass and L-BFGS sees the vector directly.
A ``Network`` holds that buffer with its ``Layout`` and activations; the
estimators' public ``coefs_`` / ``intercepts_`` are the lists of its views.
"""

import operator
from dataclasses import dataclass
from numbers import Integral

import numpy as np

from ._kernels import ACTIVATION_CODES, HIDDEN_ACTIVATIONS, KernelNetwork

# Rows per chunk for prediction and full-batch gradients: memory stays
# O(chunk × width) whatever the number of samples.
CHUNK_ROWS = 1024


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


def hidden_activations(activation, n_hidden):
    """The activation of each hidden layer: a tuple of ``n_hidden`` names.

    ``activation`` is one name for every hidden layer, or a tuple / list of
    one name per hidden layer.

    Raises
    ------
    ValueError
        For an unknown name or a sequence of the wrong length.
    """
    if isinstance(activation, str):
        names = (activation,) * n_hidden
        given = [activation]
    else:
        names = given = tuple(activation)
        if len(names) != n_hidden:
            raise ValueError(f"activation has {len(names)} names for {n_hidden} hidden layers "
                             f"(hidden_layer_sizes); give one name per hidden layer, or one "
                             f"name for all.")
    for name in given:
        if not isinstance(name, str) or name not in HIDDEN_ACTIVATIONS:
            raise ValueError(f"The activation {name!r} is not one of "
                             f"{', '.join(map(repr, HIDDEN_ACTIVATIONS))}.")
    return names


def glorot_uniform(layout, activation, random_state, dtype):
    """Glorot-uniform initial parameters, drawn exactly as scikit-learn draws them.

    For each layer in turn, W ~ U(−r, r) of shape (fan_in, fan_out) then
    b ~ U(−r, r), with r = √(6 / (fan_in + fan_out)), or √(2 / …) for the
    logistic activation. The same ``random_state`` therefore gives the same
    initial weights as ``sklearn.neural_network.MLPClassifier``. With one
    activation per hidden layer, a layer's r follows the activation of the
    layer its weights feed (the output layer: the last hidden layer's).

    Returns
    -------
    theta : ndarray of shape (layout.n_params,)
    """
    theta = np.empty(layout.n_params, dtype=dtype)
    coefs, intercepts = layout.views(theta)
    if isinstance(activation, str):
        fed = [activation] * len(coefs)
    else:
        fed = list(activation) + list(activation[-1:] or ["relu"])
    for l in range(len(coefs)):
        fan_in, fan_out = layout.coef_shape(l)
        factor = 2.0 if fed[l] == "logistic" else 6.0
        bound = np.sqrt(factor / (fan_in + fan_out))
        coefs[l][...] = random_state.uniform(-bound, bound, (fan_in, fan_out))
        intercepts[l][...] = random_state.uniform(-bound, bound, fan_out)
    return theta


def hidden_units(hidden_layer_sizes):
    """``hidden_layer_sizes`` (an int or a sequence) as a list of positive ints."""
    sizes = hidden_layer_sizes
    if not hasattr(sizes, "__iter__"):
        sizes = [sizes]
    sizes = list(sizes)
    if any(not isinstance(s, Integral | np.integer) or s <= 0 for s in sizes):
        raise ValueError(f"hidden_layer_sizes must be positive integers, got {sizes}.")
    return [int(s) for s in sizes]


def output_activation(classifier, loss, target_type):
    """The output activation a fit uses, which fixes the loss (scikit-learn's choice).

    Classifiers: softmax for multiclass targets, else logistic (binary,
    multilabel). Regressors: exp for the Poisson loss, else identity.
    """
    if not classifier:
        return "exp" if loss == "poisson" else "identity"
    return "softmax" if target_type == "multiclass" else "logistic"


class Network:
    """Parameters (one flat buffer), their layout and the activations.

    Parameters
    ----------
    layout : Layout
    theta : ndarray of shape (layout.n_params,), float32 or float64
        Adopted, not copied.
    activation : str or tuple of str
        Hidden activation (one of ``HIDDEN_ACTIVATIONS``), or one per hidden layer.
    out_activation : str
        Output activation (any of ``ACTIVATION_CODES``: 'identity', 'logistic',
        'softmax', 'exp' for the estimators' networks).

    Attributes
    ----------
    coefs, intercepts : list of ndarray
        Views of ``theta`` shaped as scikit-learn's ``coefs_`` / ``intercepts_``.
    activations : tuple of str
        The activation of each hidden layer.
    """

    def __init__(self, layout, theta, activation, out_activation):
        activations = hidden_activations(activation, len(layout.units) - 2)
        if not isinstance(activation, str):
            activation = activations  # a list is kept as a tuple: hashable, compared by value
        if out_activation not in ACTIVATION_CODES:
            raise ValueError(f"out_activation {out_activation!r} is not one of "
                             f"{sorted(ACTIVATION_CODES)}.")
        if theta.shape != (layout.n_params,) or theta.dtype not in (np.float32, np.float64):
            raise ValueError(f"theta must be a float32/float64 vector of {layout.n_params} "
                             f"parameters; got {theta.dtype} of shape {theta.shape}")
        self.layout = layout
        self.theta = theta
        self.activation = activation
        self.activations = activations
        self.out_activation = out_activation
        self.coefs, self.intercepts = layout.views(theta)
        codes = np.array([ACTIVATION_CODES[name] for name in (*activations, out_activation)],
                         dtype=np.int64)
        # built once: prediction of one row pays for every Python step
        self._kernel_args = KernelNetwork(theta, layout.units, layout.coef_off,
                                          layout.int_off, codes)

    def __reduce__(self):
        # the buffer once; the views are made anew from it
        return Network, (self.layout, self.theta, self.activation, self.out_activation)

    @classmethod
    def initial(cls, units, activation, out_activation, random_state, dtype):
        """A network of Glorot-uniform weights drawn from ``random_state`` (see glorot_uniform)."""
        layout = Layout.from_units(units)
        return cls(layout, glorot_uniform(layout, activation, random_state, dtype), activation,
                   out_activation)

    @classmethod
    def from_arrays(cls, units, coefs, intercepts, activation, out_activation, dtype=None):
        """A network holding copies of ``coefs`` / ``intercepts``, their shapes checked.

        ``dtype`` None takes the arrays' common float dtype (float64 for others).
        """
        if dtype is None:
            dtype = np.result_type(*coefs, *intercepts)
            if dtype not in (np.float32, np.float64):
                dtype = np.float64
        layout = Layout.from_units(units)
        return cls(layout, layout.pack(coefs, intercepts, dtype), activation, out_activation)

    @property
    def units(self):
        """Layer widths as a list of ints, input layer first."""
        return self.layout.units.tolist()

    @property
    def dtype(self):
        return self.theta.dtype

    def is_viewed_by(self, coefs, intercepts):
        """Whether these lists hold exactly this network's views (no array replaced)."""
        return (len(coefs) == len(self.coefs) and len(intercepts) == len(self.intercepts)
                and all(map(operator.is_, coefs, self.coefs))
                and all(map(operator.is_, intercepts, self.intercepts)))

    def with_arrays(self, coefs, intercepts):
        """This network's layout and activations, holding the given arrays instead."""
        return Network.from_arrays(self.units, coefs, intercepts, self.activation,
                                   self.out_activation)

    def astype(self, dtype):
        """This network in ``dtype`` (itself if it already is)."""
        if self.theta.dtype == dtype:
            return self
        return Network(self.layout, self.theta.astype(dtype), self.activation,
                       self.out_activation)

    def kernel_args(self, theta=None):
        """The kernels' ``KernelNetwork`` for this network (or for ``theta`` in its layout)."""
        if theta is None:
            return self._kernel_args
        return self._kernel_args._replace(theta=theta)
