"""Safe model files: plain arrays plus JSON metadata, loaded without pickle.

A fastbp model file is a NumPy ``.npz`` archive holding

- ``metadata``: UTF-8 JSON (format name and version, estimator class and
  parameters, fitted scalars, training metrics, library versions);
- ``coef_0`` … ``coef_{L-1}``, ``intercept_0`` …: the weights;
- ``classes`` (classifiers), ``feature_names`` (when fitted with them),
  ``loss_curve``, ``validation_scores`` and the optimizer's state arrays.

``load`` reads it with ``allow_pickle=False``, so no code from the file ever
runs, and checks every array's shape against the metadata before building the
estimator. Any problem gives one ``ModelFileError`` that says what is wrong.
"""

import json
import platform

import numpy as np

FORMAT_NAME = "fastbp-model"
FORMAT_VERSION = 1

# scalars of the fit's history (see MLPClassifier._fitted_state), stored in the metadata
_HISTORY_SCALARS = ("n_iter_", "t_", "loss_", "best_loss_", "best_validation_score_")


class ModelFileError(ValueError):
    """A file that is not a readable fastbp model (missing, truncated, corrupted,
    foreign, or written by a newer fastbp)."""


def _json_value(value):
    """A JSON-safe copy of a parameter or attribute value (None if it has none)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_value(v) for v in value]
    return None  # RandomState instances, callables: not stored


def _plain_array(values):
    """An array without Python objects (strings become fixed-width unicode)."""
    array = np.asarray(values)
    if array.dtype == object:
        array = array.astype(str)
    return array


def save(estimator, path, metrics=None):
    """Write a fitted fastbp estimator to ``path`` (an ``.npz`` file).

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        A fitted fastbp estimator.
    path : str or path-like
        Destination; NumPy appends ``.npz`` if the name has no such suffix.
    metrics : dict, optional
        JSON-serialisable extras stored in the metadata (e.g. test accuracy);
        ``fastbp info`` prints them.
    """
    from sklearn.utils.validation import check_is_fitted

    from . import MLPClassifier, MLPRegressor, __version__

    if not isinstance(estimator, (MLPClassifier, MLPRegressor)):
        raise TypeError(f"fastbp.save expects a fastbp MLPClassifier or MLPRegressor, "
                        f"got {type(estimator).__name__}.")
    check_is_fitted(estimator)
    import sklearn

    state = estimator._fitted_state()
    network = state["network"]
    units = network.units
    arrays = {}
    for l, (coef, intercept) in enumerate(zip(network.coefs, network.intercepts)):
        arrays[f"coef_{l}"] = np.ascontiguousarray(coef)
        arrays[f"intercept_{l}"] = np.ascontiguousarray(intercept)
    history = state["history"]
    attributes = {"n_features_in_": int(state["n_features_in_"]), "n_outputs_": units[-1],
                  "n_layers_": len(units), "out_activation_": network.out_activation,
                  "layer_units": units}
    attributes.update({name: _json_value(history[name]) for name in _HISTORY_SCALARS
                       if name in history})
    if "loss_curve_" in history:
        arrays["loss_curve"] = np.asarray(history["loss_curve_"], dtype=np.float64)
    if history.get("validation_scores_") is not None:
        arrays["validation_scores"] = np.asarray(history["validation_scores_"], dtype=np.float64)
    if state["feature_names_in_"] is not None:
        arrays["feature_names"] = _plain_array(state["feature_names_in_"])
    if "classes_" in state:
        arrays["classes"] = _plain_array(state["classes_"])
        attributes["target_type"] = state["target_type"]
    if state["optimizer"] is not None:
        arrays["optimizer_state"] = state["optimizer"]["state"]
        arrays["optimizer_step_count"] = state["optimizer"]["step_count"]
        attributes["optimizer_learning_rate"] = state["optimizer"]["learning_rate"]
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "estimator": type(estimator).__name__,
        "params": {k: _json_value(v) for k, v in estimator.get_params().items()},
        "attributes": attributes,
        "dtype": str(network.dtype),
        "metrics": metrics or {},
        "versions": {"fastbp": __version__, "numpy": np.__version__,
                     "scikit-learn": sklearn.__version__, "python": platform.python_version()},
    }
    arrays["metadata"] = np.frombuffer(json.dumps(metadata).encode("utf-8"), dtype=np.uint8)
    np.savez(path, **arrays)


def read_metadata(path):
    """The JSON metadata of a model file, checked (see ``load``)."""
    return _open(path)[0]


def _open(path):
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a directory, not a model file") from None
    except OSError as error:
        raise ModelFileError(f"{path}: cannot be read: {error}") from None
    if magic != b"PK\x03\x04":
        raise ModelFileError(f"{path}: not a fastbp model file (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except Exception as error:  # noqa: BLE001 - a damaged archive can fail in any parser
        raise ModelFileError(f"{path}: not a readable fastbp model file (truncated or "
                             f"corrupted?): {type(error).__name__}: {error}") from None
    if not isinstance(arrays, dict) or "metadata" not in arrays:
        raise ModelFileError(f"{path}: not a fastbp model file (no fastbp metadata in it)")
    try:
        metadata = json.loads(arrays.pop("metadata").tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError) as error:
        raise ModelFileError(f"{path}: the model's metadata is corrupted: {error}") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path}: not a fastbp model file (format "
                             f"{metadata.get('format') if isinstance(metadata, dict) else None!r})")
    version = metadata.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(f"{path}: written in model format version {version} by a newer "
                             f"fastbp; this fastbp reads up to version {FORMAT_VERSION}. "
                             "Upgrade fastbp to load it.")
    return metadata, arrays


def load(path):
    """Read a model written by ``save``; no pickle, so no code from the file runs.

    Returns
    -------
    estimator : MLPClassifier or MLPRegressor
        Fitted, predicting exactly as the saved one did; ``partial_fit`` and
        ``warm_start`` continue from the saved weights and optimizer state.

    Raises
    ------
    ModelFileError
        If the file is missing, truncated, corrupted, not a fastbp model, or
        written in a newer format.
    """
    from . import MLPClassifier, MLPRegressor
    from ._network import Network

    metadata, arrays = _open(path)
    try:
        Estimator = {"MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}[
            metadata["estimator"]]
        attributes = metadata["attributes"]
        units = [int(u) for u in attributes["layer_units"]]
        params = {k: (tuple(v) if k == "hidden_layer_sizes" else v)
                  for k, v in metadata["params"].items()}
        n_layers = len(units) - 1
        network = Network.from_arrays(
            units, [arrays[f"coef_{l}"] for l in range(n_layers)],
            [arrays[f"intercept_{l}"] for l in range(n_layers)], params["activation"],
            attributes["out_activation_"], np.dtype(metadata["dtype"]))
        history = {name: attributes[name] for name in _HISTORY_SCALARS if name in attributes}
        if "loss_curve" in arrays:
            history["loss_curve_"] = arrays["loss_curve"].tolist()
            history["validation_scores_"] = (arrays["validation_scores"].tolist()
                                             if "validation_scores" in arrays else None)
        state = {"network": network, "n_features_in_": attributes["n_features_in_"],
                 "feature_names_in_": arrays.get("feature_names"), "history": history,
                 "optimizer": None}
        if Estimator is MLPClassifier:
            state.update(classes_=arrays["classes"], target_type=attributes["target_type"])
        if "optimizer_state" in arrays:
            state["optimizer"] = {"state": arrays["optimizer_state"],
                                  "step_count": arrays["optimizer_step_count"],
                                  "learning_rate": attributes["optimizer_learning_rate"]}
        return Estimator._from_fitted_state(params, state)
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: the model file is inconsistent: {error}") from None
