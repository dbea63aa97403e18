"""Safe model files: exact round trips, and one clear error for every bad file."""

import json
import pickle

import numpy as np
import pytest

import fastbp
from fastbp import MLPClassifier, MLPRegressor, ModelFileError

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _fitted(kind, rng, **params):
    X = rng.normal(size=(120, 5))
    if kind == "multiclass":
        return MLPClassifier(max_iter=5, random_state=0, **params).fit(X, rng.choice(["a", "b", "c"], 120)), X
    if kind == "binary":
        return MLPClassifier(max_iter=5, random_state=0, **params).fit(X, rng.integers(0, 2, 120)), X
    if kind == "multilabel":
        return MLPClassifier(max_iter=5, random_state=0, **params).fit(X, rng.integers(0, 2, (120, 3))), X
    if kind == "regression":
        return MLPRegressor(max_iter=5, random_state=0, **params).fit(X, rng.normal(size=(120, 2))), X
    if kind == "poisson":
        return MLPRegressor(loss="poisson", max_iter=5, random_state=0, **params).fit(X, rng.poisson(2, 120)), X
    raise ValueError(kind)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel", "regression", "poisson"])
def test_round_trip_is_exact(kind, solver, rng, tmp_path):
    model, X = _fitted(kind, rng, solver=solver, hidden_layer_sizes=(6, 4))
    fastbp.save(model, tmp_path / "model.npz")
    loaded = fastbp.load(tmp_path / "model.npz")
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    if hasattr(model, "predict_proba"):
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
        np.testing.assert_array_equal(loaded.classes_, model.classes_)
    for name in ("n_features_in_", "n_outputs_", "n_layers_", "out_activation_", "n_iter_", "t_",
                 "loss_", "loss_curve_", "best_loss_", "validation_scores_"):
        assert hasattr(loaded, name) == hasattr(model, name), name
        if hasattr(model, name):
            assert getattr(loaded, name) == getattr(model, name), name


def test_round_trip_keeps_float32_feature_names_and_training_state(rng, tmp_path):
    import pandas as pd
    X = pd.DataFrame(rng.normal(size=(80, 3)).astype(np.float32), columns=["a", "b", "c"])
    y = rng.integers(0, 3, 80)
    model = MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X, y)
    fastbp.save(model, tmp_path / "m.npz")
    loaded = fastbp.load(tmp_path / "m.npz")
    assert loaded.coefs_[0].dtype == np.float32
    assert list(loaded.feature_names_in_) == ["a", "b", "c"]
    # training continues exactly where it stopped: same weights and optimizer state
    model.partial_fit(X, y)
    loaded.partial_fit(X, y)
    for a, b in zip(model.coefs_, loaded.coefs_):
        np.testing.assert_array_equal(a, b)


def test_metrics_and_versions_are_stored(rng, tmp_path):
    model, _ = _fitted("multiclass", rng)
    fastbp.save(model, tmp_path / "m.npz", metrics={"test_accuracy": 0.5})
    metadata = fastbp.io.read_metadata(tmp_path / "m.npz")
    assert metadata["metrics"] == {"test_accuracy": 0.5}
    assert metadata["versions"]["fastbp"] == fastbp.__version__
    assert metadata["params"]["hidden_layer_sizes"] == [100]


def test_pickle_still_works(rng):
    model, X = _fitted("binary", rng)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict_proba(X),
                                  model.predict_proba(X))


# --------------------------------------------------------------------------
# Bad files
# --------------------------------------------------------------------------
@pytest.fixture
def saved(rng, tmp_path):
    model, _ = _fitted("multiclass", rng)
    path = tmp_path / "model.npz"
    fastbp.save(model, path)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        fastbp.load(tmp_path / "absent.npz")


def test_truncated_file(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated or corrupted"):
        fastbp.load(saved)


def test_corrupted_bytes(saved):
    data = bytearray(saved.read_bytes())
    data[100:400] = b"\x00" * 300
    saved.write_bytes(bytes(data))
    with pytest.raises(ModelFileError):
        fastbp.load(saved)


def test_not_a_zip_file(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("hello")
    with pytest.raises(ModelFileError, match=r"not a fastbp model file \(not an .npz archive\)"):
        fastbp.load(path)


def test_foreign_npz(tmp_path):
    path = tmp_path / "foreign.npz"
    np.savez(path, X=np.zeros((3, 2)))
    with pytest.raises(ModelFileError, match="no fastbp metadata"):
        fastbp.load(path)


def _rewrite_metadata(path, change):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    metadata = json.loads(arrays["metadata"].tobytes())
    change(metadata)
    arrays["metadata"] = np.frombuffer(json.dumps(metadata).encode(), dtype=np.uint8)
    np.savez(path, **arrays)


def test_newer_format_version(saved):
    _rewrite_metadata(saved, lambda m: m.update(format_version=99))
    with pytest.raises(ModelFileError, match="version 99 by a newer fastbp"):
        fastbp.load(saved)


def test_foreign_format_name(saved):
    _rewrite_metadata(saved, lambda m: m.update(format="something-else"))
    with pytest.raises(ModelFileError, match="not a fastbp model file"):
        fastbp.load(saved)


def test_inconsistent_shapes(saved):
    with np.load(saved, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["coef_0"] = arrays["coef_0"][:, :3]
    np.savez(saved, **arrays)
    with pytest.raises(ModelFileError, match="inconsistent"):
        fastbp.load(saved)


def test_pickled_object_arrays_are_never_loaded(saved):
    """A file smuggling a pickled object array is refused, not unpickled."""
    with np.load(saved, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["classes"] = np.array([object(), object()], dtype=object)
    np.savez(saved, **arrays)  # numpy pickles the object array into the file
    with pytest.raises(ModelFileError):
        fastbp.load(saved)


def test_save_refuses_unfitted_and_foreign_estimators(tmp_path):
    from sklearn.exceptions import NotFittedError
    from sklearn.neural_network import MLPClassifier as SkMLP

    with pytest.raises(NotFittedError):
        fastbp.save(MLPClassifier(), tmp_path / "m.npz")
    with pytest.raises(TypeError, match="expects a fastbp"):
        fastbp.save(SkMLP(), tmp_path / "m.npz")
