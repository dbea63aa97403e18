"""Shortcuts for plain input: the general path's results, microseconds sooner.

The one rule every function here keeps: for the input it accepts, a fast path
returns exactly what the general path (scikit-learn's ``validate_data``,
``LabelBinarizer``, ``shuffle``) would return, to the bit; any other input it
declines (None or False), and the caller takes the general path, with its
conversions and its error messages. They exist because single-row predict
and small ``partial_fit`` calls are dominated by that generic handling.

``FASTBP_FASTPATH=0`` in the environment, or ``with disabled():``, turns
every one of them off; ``tests/test_fastpath.py`` runs each against the
general path.
"""

import os
import threading
from contextlib import contextmanager

import numpy as np
from sklearn.utils import shuffle as sklearn_shuffle

from . import _kernels

_NATIVE_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# Up to this many elements, all_finite tests each one (no error-state
# switch, which costs microseconds that single-row latency notices).
FINITE_ELEMENTWISE_MAX = 1 << 14

# How many ``disabled()`` blocks are open, plus one if the environment turns
# the fast paths off. A plain counter, not a thread-local: reading it costs
# tens of nanoseconds, and a fast path off in another thread meanwhile only
# costs that thread time (the results are the same to the bit).
_lock = threading.Lock()
_off = 0 if os.environ.get("FASTBP_FASTPATH", "1").strip() != "0" else 1


def enabled():
    """Whether the fast paths are on."""
    return _off == 0


@contextmanager
def disabled():
    """Turn every fast path off (in every thread) for the duration."""
    global _off
    with _lock:
        _off += 1
    try:
        yield
    finally:
        with _lock:
            _off -= 1


def all_finite(a):
    """Whether a float array holds no NaN or ±inf.

    Small arrays are tested element by element with NumPy; larger contiguous
    ones by a compiled, vectorised pass on the calling thread (no BLAS or
    NumPy threads woken, which on a busy machine cost milliseconds).
    """
    if a.size <= FINITE_ELEMENTWISE_MAX:
        return bool(np.isfinite(a).all())
    if a.flags.c_contiguous or a.flags.f_contiguous:
        return bool(_kernels.all_finite(a.ravel(order="K")))  # a view
    with np.errstate(over="ignore", invalid="ignore"):
        # a finite sum proves every element finite; an infinite one may come
        # from overflow, and callers then take the validating path
        return bool(np.isfinite(a.sum()))


def is_plain_input(est, X):
    """Whether X is a finite float ndarray of ``est``'s fitted width, without feature names.

    For it scikit-learn's ``validate_data(est, X, reset=False)`` would return
    X unchanged.
    """
    return (
        _off == 0
        and type(X) is np.ndarray
        and X.ndim == 2
        and X.dtype.char in "fd"  # float32, float64 (a dtype comparison costs more)
        and X.shape[0] > 0
        and X.shape[1] == est.n_features_in_
        and "feature_names_in_" not in est.__dict__
        and all_finite(X)
    )


def is_plain_regression_target(X, y):
    """Whether y is a finite float target for plain X that validate_data would keep as is."""
    return (
        type(y) is np.ndarray
        and y.dtype in _NATIVE_FLOATS
        and (y.ndim == 1 or (y.ndim == 2 and y.shape[1] > 1))
        and y.shape[0] == X.shape[0]
        and all_finite(y)
    )


def plain_class_indicator(est, X, y):
    """The target indicator of a classifier's ``partial_fit`` on plain input, else None.

    Plain: X as in ``is_plain_input`` and y a 1-d integer array of classes
    already known, for which validate_data and the class checks would change
    nothing.
    """
    classes = est.classes_
    binarizer = est._label_binarizer
    if not (
        type(y) is np.ndarray
        and y.ndim == 1
        and y.dtype.kind in "iu"
        and classes.dtype.kind in "iu"
        and len(classes) > 1
        and binarizer.y_type_ in ("binary", "multiclass")
        and is_plain_input(est, X)
        and y.shape[0] == X.shape[0]
    ):
        return None
    nearest = np.minimum(np.searchsorted(classes, y), len(classes) - 1)
    if (classes[nearest] != y).any():
        return None  # a class not seen before: the full path raises scikit-learn's error
    return class_indicator(binarizer, y)


def class_indicator(binarizer, y):
    """``binarizer.transform(y).astype(bool)``, without its int64 copy where it can.

    Binary targets give one column (True for ``classes_[1]``), multiclass
    targets one column per class; other targets go through the binarizer.
    """
    classes = binarizer.classes_
    if (enabled() and y.ndim == 1 and binarizer.y_type_ in ("binary", "multiclass")
            and len(classes) > 1):
        index = np.searchsorted(classes, y)
        if binarizer.y_type_ == "binary":
            return (index == 1)[:, None]
        indicator = np.zeros((y.shape[0], len(classes)), dtype=bool)
        indicator[np.arange(y.shape[0]), index] = True
        return indicator
    return binarizer.transform(y).astype(bool)


def decode_classes(binarizer, y_pred, softmax):
    """``binarizer.inverse_transform`` of network outputs (n_samples, n_outputs).

    Written out for softmax outputs (argmax) and one logistic output of two
    classes (threshold ½, as the binarizer's); others go through it.
    """
    classes = binarizer.classes_
    if enabled():
        if softmax:
            return classes.take(y_pred.argmax(axis=1))
        if y_pred.shape[1] == 1 and len(classes) == 2:
            return classes[(y_pred[:, 0] > 0.5).astype(np.intp)]
    if y_pred.shape[1] == 1:
        y_pred = y_pred.ravel()
    return binarizer.inverse_transform(y_pred)


def shuffled(sample_idx, random_state):
    """``sklearn.utils.shuffle(sample_idx, random_state=…)``: the same draws and order.

    scikit-learn permutes ``arange(n)`` with ``random_state.shuffle`` and
    indexes with it; so does this, without 0.1 ms of generic input handling
    per epoch.
    """
    if not enabled():
        return sklearn_shuffle(sample_idx, random_state=random_state)
    permutation = np.arange(sample_idx.shape[0], dtype=np.int64)
    random_state.shuffle(permutation)
    return sample_idx[permutation]
