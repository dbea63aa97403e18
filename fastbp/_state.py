"""An estimator's state as plain values, and its checked reconstruction.

``plain_state(est)`` is what pickle, skops and fastbp's model files store:
the constructor parameters and, once fitted, what the fit decided, as NumPy
arrays and Python builtins only. No helper object is in it, so a skops file
of a pipeline names no fastbp type but the estimator classes themselves.

``restore(est, state)`` is the only way back. It checks every value against
every other (types, ranges, names, shapes, dtypes) before it builds
anything, so a crafted state gives one ``ModelFileError`` saying what is
wrong, never a crash, an out-of-bounds access, or a model that predicts
differently from the one saved.

The fitted part, ``state["fitted"]``::

    layer_units          list of int, input width first
    dtype                'float32' or 'float64'
    coefs, intercepts    lists of arrays of that dtype, shapes from layer_units
    n_features_in_       int (= layer_units[0])
    feature_names_in_    array of str of shape (n_features_in_,), or None
    classes_, target_type    (classifiers) as LabelBinarizer fitted them
    out_activation_      the output activation the estimator needs
    history              the set attributes among n_iter_, t_, loss_, best_loss_,
                         best_validation_score_, loss_curve_ (list of float),
                         validation_scores_, and no_improvement_count
    optimizer            sgd / adam settings and state (see _optim), or None
"""

from numbers import Integral, Real

import numpy as np

STATE_VERSION = 1

_FLOAT_DTYPES = ("float32", "float64")
_TARGET_TYPES = ("binary", "multiclass", "multilabel-indicator")
_COUNTERS = ("n_iter_", "t_", "no_improvement_count")
_SCALARS = ("loss_", "best_loss_", "best_validation_score_")
_CURVES = ("loss_curve_", "validation_scores_")
_FITTED_KEYS = {"layer_units", "dtype", "coefs", "intercepts", "n_features_in_",
                "feature_names_in_", "out_activation_", "history", "optimizer"}
_CLASSIFIER_KEYS = {"classes_", "target_type"}
# The attributes a fitted state owns; others set on an estimator travel as they are.
OWNED_ATTRIBUTES = frozenset({
    "_network", "coefs_", "intercepts_", "_label_binarizer", "_optimizer", "_random_state",
    "n_features_in_", "feature_names_in_", "classes_", "n_outputs_", "n_layers_",
    "out_activation_", "_no_improvement_count", *_COUNTERS[:2], *_SCALARS, *_CURVES})
# Never taken from a state: they hold helper objects the code trusts.
_INTERNAL_ATTRIBUTES = frozenset({"_network", "_optimizer", "_label_binarizer"})
# Layer widths and depths beyond these are no network anyone trains.
MAX_UNITS = 1 << 31
MAX_LAYERS = 1 << 12


class ModelFileError(ValueError):
    """A model file or state that fastbp cannot read (missing, truncated,
    corrupted, crafted, foreign, or written by a newer fastbp)."""


def _fail(message):
    raise ModelFileError(message)


def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value):
    return isinstance(value, Real) and not isinstance(value, (bool, np.bool_))


def _count(value, name, low=0, high=1 << 62):
    if not _is_int(value) or not low <= int(value) <= high:
        _fail(f"{name} must be an integer in [{low}, {high}]; got {value!r}")
    return int(value)


def _real_or_none(value, name):
    if value is None:
        return None
    if not _is_real(value):
        _fail(f"{name} must be a number or None; got {type(value).__name__}")
    return float(value)


def _array(value, name, shape, dtype):
    """``value`` if it is an ndarray of exactly ``shape`` and ``dtype``."""
    if not isinstance(value, np.ndarray):
        _fail(f"{name} must be an array; got {type(value).__name__}")
    value = np.asarray(value)  # a memmap (joblib) or other subclass: its plain view
    if value.dtype != np.dtype(dtype) or value.shape != tuple(shape):
        _fail(f"{name} must be {np.dtype(dtype)} of shape {tuple(shape)}; got "
              f"{value.dtype} of shape {value.shape}")
    return value


def _strings(value, name, length):
    """A 1-D object array of ``length`` str (as scikit-learn's feature_names_in_)."""
    if isinstance(value, np.ndarray):
        if value.ndim != 1 or value.dtype.kind not in "UO":
            _fail(f"{name} must be a 1-D array of str; got {value.dtype} of shape {value.shape}")
        value = value.tolist()
    if not isinstance(value, list) or len(value) != length or not all(
            isinstance(v, str) for v in value):
        _fail(f"{name} must be {length} strings")
    return np.asarray(value, dtype=object)


def _curve(value, name):
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        if value.ndim != 1 or value.dtype.kind != "f":
            _fail(f"{name} must be a 1-D float array; got {value.dtype} of shape {value.shape}")
        value = value.tolist()
    if not isinstance(value, list) or not all(_is_real(v) for v in value):
        _fail(f"{name} must be a list of numbers or None")
    return [float(v) for v in value]


def _keys(mapping, name, required, optional=()):
    if not isinstance(mapping, dict) or not all(isinstance(k, str) for k in mapping):
        _fail(f"{name} must be a mapping of names")
    missing = set(required) - set(mapping)
    unknown = set(mapping) - set(required) - set(optional)
    if missing or unknown:
        _fail(f"{name}: " + "; ".join(
            part for part in (missing and f"missing {sorted(missing)}",
                              unknown and f"unknown {sorted(unknown)}") if part))


# --------------------------------------------------------------------------
# estimator -> plain values
# --------------------------------------------------------------------------
def plain_state(est):
    """The state of ``est`` as plain values (see the module docstring).

    ``state["params"]`` is ``get_params(deep=False)`` as it is (a random_state
    instance or callbacks included: pickle keeps them; fastbp's model files
    store what is data and say what they leave out).
    """
    from ._estimators import is_fitted_network  # noqa: PLC0415 - circular

    params = est.get_params(deep=False)
    fitted = is_fitted_network(est)
    state = {"fastbp_state": STATE_VERSION, "params": params}
    attributes = {name: value for name, value in vars(est).items()
                  if name not in params and not (fitted and name in OWNED_ATTRIBUTES)}
    if attributes:
        state["attributes"] = attributes
    if fitted:
        state["fitted"] = _plain_fitted(est._fitted_state())
    return state


def _plain_fitted(fitted):
    network = fitted["network"]
    history = dict(fitted["history"])
    for name in _CURVES:
        if history.get(name) is not None:
            history[name] = [float(v) for v in history[name]]
    plain = {
        "layer_units": network.units, "dtype": str(network.dtype),
        "coefs": list(network.coefs), "intercepts": list(network.intercepts),
        "n_features_in_": int(fitted["n_features_in_"]),
        "feature_names_in_": fitted["feature_names_in_"],
        "out_activation_": network.out_activation, "history": history,
        "optimizer": fitted["optimizer"],
    }
    if "classes_" in fitted:
        plain.update(classes_=fitted["classes_"], target_type=fitted["target_type"])
    return plain


# --------------------------------------------------------------------------
# plain values -> estimator, every value checked first
# --------------------------------------------------------------------------
def restore(est, state):
    """Make ``est`` (possibly a bare ``cls.__new__(cls)``) the estimator ``state`` describes.

    Raises
    ------
    ModelFileError
        If anything in ``state`` is of the wrong type, out of range, or
        inconsistent with anything else; ``est`` is then left untouched.
    """
    try:
        rebuilt = _rebuilt(type(est), state)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, OverflowError) as error:
        # scikit-learn's parameter checks and the network's own checks
        raise ModelFileError(f"{type(error).__name__}: {error}") from None
    est.__dict__.clear()
    est.__dict__.update(rebuilt.__dict__)
    return est


def _rebuilt(cls, state):
    _keys(state, "state", {"fastbp_state", "params"}, {"fitted", "attributes"})
    version = state["fastbp_state"]
    if not _is_int(version) or not 1 <= version <= STATE_VERSION:
        _fail(f"state version {version!r}; this fastbp reads versions 1 to {STATE_VERSION}"
              " (a newer fastbp wrote it?)")
    params = state["params"]
    names = cls._get_param_names()
    # a parameter that did not exist when the state was written takes its default
    _keys(params, "params", (), names)
    est = cls(**params)
    est._validate_params()  # scikit-learn's constraints: InvalidParameterError says what
    attributes = state.get("attributes") or {}
    _keys(attributes, "attributes", (), set(attributes) - _INTERNAL_ATTRIBUTES - set(names))
    fitted = state.get("fitted")
    if fitted is not None:
        clash = OWNED_ATTRIBUTES & set(attributes)
        if clash:
            _fail(f"attributes {sorted(clash)} belong to the fitted state")
        est = cls._from_fitted_state(params, _checked_fitted(est, fitted))
    for name, value in attributes.items():
        setattr(est, name, value)
    return est


def _checked_fitted(est, fitted):
    """The ``_from_fitted_state`` input of a plain fitted state, each value checked."""
    from sklearn.base import is_classifier

    from ._kernels import ACTIVATION_CODES
    from ._network import Layout, Network, hidden_units  # noqa: PLC0415 - circular
    from ._optim import StochasticOptimizer

    classifier = is_classifier(est)
    _keys(fitted, "fitted", _FITTED_KEYS | (_CLASSIFIER_KEYS if classifier else set()))
    units = fitted["layer_units"]
    if not isinstance(units, list) or not 2 <= len(units) <= MAX_LAYERS:
        _fail(f"layer_units must be a list of 2 to {MAX_LAYERS} widths")
    units = [_count(u, "a layer width", 1, MAX_UNITS) for u in units]
    n_features = _count(fitted["n_features_in_"], "n_features_in_", 1, MAX_UNITS)
    expected_hidden = hidden_units(est.hidden_layer_sizes)
    if units[0] != n_features or units[1:-1] != expected_hidden:
        _fail(f"layer_units {units} do not match n_features_in_={n_features} and "
              f"hidden_layer_sizes={est.hidden_layer_sizes!r}")
    dtype = fitted["dtype"]
    if dtype not in _FLOAT_DTYPES:
        _fail(f"dtype must be one of {_FLOAT_DTYPES}; got {dtype!r}")
    for name in ("coefs", "intercepts"):
        if not isinstance(fitted[name], list) or len(fitted[name]) != len(units) - 1:
            _fail(f"{name} must be a list of {len(units) - 1} arrays")
    coefs = [_array(c, f"coefs[{l}]", (units[l], units[l + 1]), dtype)
             for l, c in enumerate(fitted["coefs"])]  # noqa: E741
    intercepts = [_array(b, f"intercepts[{l}]", (units[l + 1],), dtype)
                  for l, b in enumerate(fitted["intercepts"])]  # noqa: E741
    if fitted["out_activation_"] not in ACTIVATION_CODES:
        _fail(f"out_activation_ {fitted['out_activation_']!r} is not one of "
              f"{sorted(ACTIVATION_CODES)}")
    network = Network.from_arrays(units, coefs, intercepts, est.activation,
                                  fitted["out_activation_"], np.dtype(dtype))
    names = fitted["feature_names_in_"]
    state = {"network": network, "n_features_in_": n_features,
             "feature_names_in_": None if names is None else _strings(
                 names, "feature_names_in_", n_features),
             "history": _checked_history(fitted["history"]), "optimizer": None}
    if classifier:
        state.update(_checked_classes(fitted["classes_"], fitted["target_type"]))
    optimizer = fitted["optimizer"]
    if optimizer is not None:
        state["optimizer"] = StochasticOptimizer.checked_snapshot(
            optimizer, Layout.from_units(units).n_params, np.dtype(dtype), _fail)
    return state


def _checked_history(history):
    _keys(history, "history", (), {*_COUNTERS, *_SCALARS, *_CURVES})
    checked = {}
    for name, value in history.items():
        if name in _COUNTERS:
            checked[name] = _count(value, name)
        elif name in _SCALARS:
            checked[name] = _real_or_none(value, name)
        elif name == "loss_curve_" and value is None:
            _fail("loss_curve_ must be a list of numbers")  # no fit leaves it None
        else:
            checked[name] = _curve(value, name)
    return checked


def _checked_classes(classes, target_type):
    """classes_ and target_type, as a LabelBinarizer fitted on such labels would hold them."""
    if target_type not in _TARGET_TYPES:
        _fail(f"target_type must be one of {_TARGET_TYPES}; got {target_type!r}")
    if isinstance(classes, np.ndarray):
        classes = np.asarray(classes)
    if type(classes) is not np.ndarray or classes.ndim != 1 or classes.dtype.kind not in "biufUO":
        _fail("classes_ must be a 1-D array of labels")
    if classes.dtype.kind == "O" and not all(isinstance(c, (str, int, float)) for c in classes):
        _fail("classes_ of dtype object must hold str or numbers")
    return {"classes_": classes, "target_type": target_type}
