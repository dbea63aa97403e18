"""The argument groups of the kernels: one Numba type each, fields read by name.

A kernel takes a few of these tuples instead of a long positional list; Numba
types each tuple once (one compiled version per dtype, as before), and the
kernels read ``net.theta``, ``data.is_sparse``, … . The Python side builds them
in one place each: ``KernelData.of`` here, ``Network.kernel_args`` in
``fastbp._network``, ``StochasticOptimizer.kernel_args`` in ``fastbp._optim``.
"""

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

_NATIVE_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# The CSR arguments of a dense input: read by no kernel, shared by all calls.
# (Left writeable: Numba would compile every kernel again for read-only arrays.)
_NO_SPARSE_PARTS = {
    dtype: (np.empty(0, dtype=dtype), np.empty(0, dtype=np.int64), np.zeros(1, dtype=np.int64))
    for dtype in _NATIVE_FLOATS
}


class KernelData(NamedTuple):
    """The input X: dense, or CSR with a ``(0, n_features)`` dense placeholder.

    One compiled signature serves both forms: a dense call carries empty CSR
    parts, a sparse call an empty dense block. Only the first layer reads X.
    """

    X: np.ndarray  # (n_samples, n_features), C order; (0, n_features) when sparse
    X_data: np.ndarray  # (nnz,) CSR values, theta's dtype
    X_indices: np.ndarray  # (nnz,) int64 column of each value
    X_indptr: np.ndarray  # (n_samples + 1,) int64 row starts
    is_sparse: bool

    @classmethod
    def of(cls, X, dtype):
        """X (a validated 2-D array or sparse matrix) in the kernels' form and ``dtype``."""
        if sp.issparse(X):
            X = sp.csr_matrix(X, dtype=dtype)
            return cls(np.empty((0, X.shape[1]), dtype=dtype),
                       np.ascontiguousarray(X.data, dtype=dtype),
                       np.ascontiguousarray(X.indices, dtype=np.int64),
                       np.ascontiguousarray(X.indptr, dtype=np.int64), True)
        if type(X) is not np.ndarray or X.dtype != dtype or not X.flags.c_contiguous:
            X = np.ascontiguousarray(X, dtype=dtype)
        return cls(X, *_NO_SPARSE_PARTS[X.dtype], False)

    @property
    def n_samples(self):
        return self.X_indptr.shape[0] - 1 if self.is_sparse else self.X.shape[0]


class KernelTargets(NamedTuple):
    """Targets and sample weights, indexed by sample (theta's dtype)."""

    Y: np.ndarray  # (n_samples, n_outputs)
    sw: np.ndarray  # (n_samples,) non-negative sample weights sᵢ


class KernelNetwork(NamedTuple):
    """The network: flat parameters, their layout, the activations.

    ``theta`` is ``[W⁰.ravel(), W¹.ravel(), …, b⁰, b¹, …]`` (scikit-learn's
    ``_pack`` order); Wˡ has shape (units[l], units[l + 1]).
    """

    theta: np.ndarray  # (n_params,)
    units: np.ndarray  # (n_layers,) int64 layer widths, input first
    coef_off: np.ndarray  # (n_layers - 1,) int64 start of Wˡ in theta
    int_off: np.ndarray  # (n_layers - 1,) int64 start of bˡ in theta
    codes: np.ndarray  # (n_layers - 1,) int64 activation code of each layer after the input


class KernelObjective(NamedTuple):
    """The training objective's settings."""

    alpha: float  # L2 strength α
    clip_eps: float  # probabilities are clipped to [eps, 1 − eps] in the log-losses
    loss_scale: float  # multiplies the data part of the reported loss only
    loss_code: int  # the loss: an output activation code (canonical pair), HUBER, ABSOLUTE_ERROR
    huber_delta: float  # δ of the huber loss
    max_grad_norm: float  # minibatch steps clip ‖g‖ to this (0: no clipping)


class KernelDropout(NamedTuple):
    """Dropout of stochastic training: a rate per layer and the epoch's mask seed."""

    rates: np.ndarray  # (n_layers - 1,) float64: pˡ of each layer's output (0 for the output layer)
    seed: np.uint64  # the masks' seed, drawn from the random state each epoch


class KernelOptimizer(NamedTuple):
    """sgd or adam: hyper-parameters and the state the steps update in place."""

    solver: int  # SOLVER_SGD or SOLVER_ADAM
    learning_rate: float
    momentum: float
    nesterov: bool
    beta_1: float
    beta_2: float
    epsilon: float
    state: np.ndarray  # sgd: velocity (n_params,); adam: m then v, (2 n_params,)
    step_count: np.ndarray  # (1,) int64, adam's t
