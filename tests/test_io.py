"""Model files: exact round trips, atomic saves, pipelines, and one clear error for every bad file."""

import copy
import io
import json
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
from sklearn.compose import make_column_transformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import fastbp
from fastbp import MLPClassifier, MLPRegressor, ModelFileError

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _fitted(kind, rng, **params):
    X = rng.normal(size=(120, 5))
    params = {"max_iter": 5, "random_state": 0, **params}
    if kind == "multiclass":
        return MLPClassifier(**params).fit(X, rng.choice(["a", "b", "c"], 120)), X
    if kind == "binary":
        return MLPClassifier(**params).fit(X, rng.integers(0, 2, 120)), X
    if kind == "multilabel":
        return MLPClassifier(**params).fit(X, rng.integers(0, 2, (120, 3))), X
    if kind == "regression":
        return MLPRegressor(**params).fit(X, rng.normal(size=(120, 2))), X
    if kind == "poisson":
        return MLPRegressor(loss="poisson", **params).fit(X, rng.poisson(2, 120)), X
    raise ValueError(kind)


def _comparable(value):
    """A parameter value in a form == compares exactly (types included)."""
    if isinstance(value, np.random.RandomState):
        kind, keys, *rest = value.get_state()
        return ("RandomState", keys.tolist(), *rest)
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.tolist())
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_comparable(v) for v in value])
    if isinstance(value, dict):
        return ("dict", [(_comparable(k), _comparable(v)) for k, v in value.items()])
    return (type(value).__name__, value)


def _same_model(a, b, X):
    """Equal parameters, weights, predictions and fitted attributes, to the bit."""
    assert type(a) is type(b)
    assert {k: _comparable(v) for k, v in a.get_params().items()} == {
        k: _comparable(v) for k, v in b.get_params().items()}
    for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert u.dtype == v.dtype
        np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    if hasattr(a, "predict_proba"):
        np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
        np.testing.assert_array_equal(a.classes_, b.classes_)
        assert a.classes_.dtype == b.classes_.dtype
    for name in ("n_features_in_", "n_outputs_", "n_layers_", "out_activation_", "n_iter_", "t_",
                 "loss_", "loss_curve_", "best_loss_", "validation_scores_",
                 "best_validation_score_", "_no_improvement_count"):
        assert hasattr(a, name) == hasattr(b, name), name
        if hasattr(a, name):
            assert getattr(a, name) == getattr(b, name), name


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel", "regression", "poisson"])
def test_round_trip_is_exact(kind, solver, rng, tmp_path):
    model, X = _fitted(kind, rng, solver=solver, hidden_layer_sizes=(6, 4))
    fastbp.save(model, tmp_path / "model.fastbp")
    _same_model(fastbp.load(tmp_path / "model.fastbp"), model, X)


@pytest.mark.parametrize("params", [
    {"hidden_layer_sizes": 20},  # an int: saved, then refused on load before
    {"hidden_layer_sizes": [7, 3]},
    {"hidden_layer_sizes": np.array([5, 4])},
    {"class_weight": {"a": 3.0, "b": 1.0, "c": 0.5}},  # saved as None before
    {"class_weight": "balanced", "n_iter_no_change": np.inf},
    {"random_state": np.random.RandomState(7)},
    {"solver": "sgd", "learning_rate": "adaptive", "early_stopping": True,
     "n_iter_no_change": 2, "tol": 0.5},
], ids=["int-sizes", "list-sizes", "array-sizes", "dict-class-weight", "balanced-inf",
        "random-state-instance", "sgd-adaptive-early-stopping"])
def test_every_parameter_and_training_state_round_trips(params, rng, tmp_path):
    model, X = _fitted("multiclass", rng, **params)
    fastbp.save(model, tmp_path / "m.fastbp")
    loaded = fastbp.load(tmp_path / "m.fastbp")
    _same_model(loaded, model, X)
    for name, value in params.items():
        assert type(getattr(loaded, name)) is type(value), name
    # training continues exactly as it would have without the round trip
    y = rng.choice(["a", "b", "c"], X.shape[0])
    for est in (model, loaded):
        est.set_params(warm_start=True, max_iter=4)
        est.fit(X, y)
    _same_model(loaded, model, X)


def test_no_improvement_count_survives_so_adaptive_sgd_continues_exactly(rng, tmp_path):
    """sgd 'adaptive' divides the learning rate after n_iter_no_change stalled epochs:
    the count so far must survive a round trip (it was lost before)."""
    X = rng.normal(size=(100, 4))
    y = rng.integers(0, 2, 100)
    model = MLPClassifier((5,), solver="sgd", learning_rate="adaptive", tol=10.0,
                          n_iter_no_change=3, random_state=0, max_iter=2).fit(X, y)
    assert model._no_improvement_count > 0
    fastbp.save(model, tmp_path / "m.fastbp")
    loaded = fastbp.load(tmp_path / "m.fastbp")
    assert loaded._no_improvement_count == model._no_improvement_count
    for _ in range(3):
        model.partial_fit(X, y)
        loaded.partial_fit(X, y)
    assert loaded._optimizer.learning_rate == model._optimizer.learning_rate
    _same_model(loaded, model, X)


def test_round_trip_keeps_float32_feature_names_and_training_state(rng, tmp_path):
    import pandas as pd
    X = pd.DataFrame(rng.normal(size=(80, 3)).astype(np.float32), columns=["a", "b", "c"])
    y = rng.integers(0, 3, 80)
    model = MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X, y)
    fastbp.save(model, tmp_path / "m.fastbp")
    loaded = fastbp.load(tmp_path / "m.fastbp")
    assert loaded.coefs_[0].dtype == np.float32
    assert loaded.feature_names_in_.dtype == object
    assert list(loaded.feature_names_in_) == ["a", "b", "c"]
    model.partial_fit(X, y)
    loaded.partial_fit(X, y)
    _same_model(loaded, model, X)


def test_callbacks_are_left_out_and_said_so(rng, tmp_path):
    """Callables are code, not data: the loaded model has the default, and fits (it crashed)."""
    seen = []
    model, X = _fitted("binary", rng, callbacks=[lambda est, info: seen.append(info["epoch"])])
    assert seen
    fastbp.save(model, tmp_path / "m.fastbp")
    assert fastbp.io.read_metadata(tmp_path / "m.fastbp")["left_out"] == ["callbacks"]
    loaded = fastbp.load(tmp_path / "m.fastbp")
    assert loaded.callbacks is None
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    loaded.fit(X, rng.integers(0, 2, X.shape[0]))


def test_metrics_and_versions_are_stored(rng, tmp_path):
    model, _ = _fitted("multiclass", rng)
    fastbp.save(model, tmp_path / "m.fastbp", metrics={"test_accuracy": 0.5})
    metadata = fastbp.io.read_metadata(tmp_path / "m.fastbp")
    assert metadata["metrics"] == {"test_accuracy": 0.5}
    assert metadata["versions"]["fastbp"] == fastbp.__version__
    assert metadata["params"]["hidden_layer_sizes"] == {"__tuple__": [100]}
    assert metadata["fitted"]["layer_units"] == [5, 100, 3]


def test_pickle_and_deepcopy_hold_plain_state_only(rng):
    model, X = _fitted("binary", rng)
    state = model.__getstate__()
    assert set(state) == {"fastbp_state", "params", "fitted"}
    assert "_network" not in state["fitted"] and "_label_binarizer" not in state["fitted"]
    for copied in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        _same_model(copied, model, X)
        copied.partial_fit(X, model.predict(X))  # the copy owns its buffers
    _same_model(pickle.loads(pickle.dumps(model)), model, X)
    unfitted = pickle.loads(pickle.dumps(MLPRegressor(hidden_layer_sizes=3, alpha=0.5)))
    assert unfitted.get_params() == MLPRegressor(hidden_layer_sizes=3, alpha=0.5).get_params()


# --------------------------------------------------------------------------
# The path is the path; a failed save loses nothing
# --------------------------------------------------------------------------
def test_the_file_is_written_at_exactly_the_path_given(rng, tmp_path):
    model, X = _fitted("binary", rng)
    for name in ("model.fastbp", "mymodel", "weights.bin"):
        fastbp.save(model, tmp_path / name)
        _same_model(fastbp.load(tmp_path / name), model, X)
    fastbp.save(model, str(tmp_path / "as-str"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "as-str", "model.fastbp", "mymodel", "weights.bin"]  # no suffix, no temporary left


def test_a_directory_is_refused(rng, tmp_path):
    model, _ = _fitted("binary", rng)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        fastbp.save(model, str(tmp_path) + os.sep)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        fastbp.save(model, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_save_leaves_the_previous_file_intact(rng, tmp_path, monkeypatch):
    old, X = _fitted("binary", rng)
    new, _ = _fitted("binary", rng, hidden_layer_sizes=(3,))
    path = tmp_path / "m.fastbp"
    fastbp.save(old, path)
    before = path.read_bytes()

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        fastbp.save(new, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.fastbp"]  # the temporary is gone
    _same_model(fastbp.load(path), old, X)


def test_an_unstorable_value_fails_before_any_file_is_touched(rng, tmp_path):
    model, _ = _fitted("binary", rng)
    path = tmp_path / "m.fastbp"
    fastbp.save(model, path)
    before = path.read_bytes()
    model.classes_ = np.array([object(), object()], dtype=object)
    with pytest.raises(TypeError, match="cannot be stored"):
        fastbp.save(model, path)
    with pytest.raises(TypeError):
        fastbp.save(_fitted("binary", rng)[0], path, metrics={"f": len})
    assert path.read_bytes() == before


def test_save_refuses_unfitted_and_foreign_objects(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        fastbp.save(MLPClassifier(), tmp_path / "m.fastbp")
    with pytest.raises(NotFittedError):
        fastbp.save(make_pipeline(StandardScaler(), MLPClassifier()), tmp_path / "m.fastbp")
    with pytest.raises(TypeError, match="expects a fitted estimator"):
        fastbp.save(np.zeros(3), tmp_path / "m.fastbp")
    from fastbp.dask import DaskMLPClassifier
    with pytest.raises(TypeError, match=r"to_local\(\)"):
        fastbp.save(DaskMLPClassifier(client=None), tmp_path / "m.fastbp")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------
# Pipelines, through skops
# --------------------------------------------------------------------------
def test_a_pipeline_round_trips_exactly(rng, tmp_path):
    X = rng.normal(3, 5, size=(150, 4))
    y = rng.choice(["x", "y"], 150)
    pipe = make_pipeline(StandardScaler(), MLPClassifier((6,), max_iter=20, random_state=0))
    pipe.fit(X, y)
    fastbp.save(pipe, tmp_path / "pipe.fastbp", metrics={"accuracy": 0.75})
    loaded = fastbp.load(tmp_path / "pipe.fastbp")
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))
    _same_model(loaded[-1], pipe[-1], StandardScaler().fit(X).transform(X))
    metadata = fastbp.io.read_metadata(tmp_path / "pipe.fastbp")
    assert metadata["format"] == "fastbp-skops" and metadata["metrics"] == {"accuracy": 0.75}


def test_skops_sees_only_the_estimator_classes_as_fastbp_types(rng):
    """With skops itself: a column transformer, one-hot strings, a fastbp regressor."""
    import pandas as pd
    import skops.io as sio

    frame = pd.DataFrame({"colour": rng.choice(["red", "blue"], 100),
                          "size": rng.normal(size=100), "weight": rng.normal(size=100)})
    target = frame["size"] * 2 + (frame["colour"] == "red")
    pipe = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["colour"]), remainder=StandardScaler()),
        MLPRegressor(hidden_layer_sizes=(5,), max_iter=30, random_state=0)).fit(frame, target)
    data = sio.dumps(pipe)
    assert sio.get_untrusted_types(data=data) == ["fastbp._estimators.MLPRegressor"]
    loaded = sio.loads(data, trusted=["fastbp._estimators.MLPRegressor"])
    np.testing.assert_array_equal(loaded.predict(frame), pipe.predict(frame))


def _double(X):
    return 2 * X


def test_a_skops_file_naming_other_types_is_refused(rng, tmp_path):
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    X = rng.normal(size=(60, 3))
    pipe = make_pipeline(FunctionTransformer(_double), MLPClassifier((3,), max_iter=3))
    pipe.fit(X, rng.integers(0, 2, 60))
    (tmp_path / "p.skops").write_bytes(sio.dumps(pipe))
    with pytest.raises(ModelFileError, match=r"names types outside .*test_io._double"):
        fastbp.load(tmp_path / "p.skops")


# --------------------------------------------------------------------------
# Bad and crafted files
# --------------------------------------------------------------------------
@pytest.fixture
def saved(rng, tmp_path):
    model, _ = _fitted("multiclass", rng, hidden_layer_sizes=(4,))
    path = tmp_path / "model.fastbp"
    fastbp.save(model, path)
    return path


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write_members(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _craft(path, metadata_change=None, arrays=None):
    """Rewrite a model file: change its metadata, replace arrays (table kept in step)."""
    members = _members(path)
    metadata = json.loads(members["metadata.json"])
    if metadata_change:
        metadata_change(metadata)
    for name, array in (arrays or {}).items():
        members[f"{name}.npy"] = _npy(array)
        metadata["arrays"][name] = {"dtype": array.dtype.str, "shape": list(array.shape)}
    members["metadata.json"] = json.dumps(metadata).encode()
    _write_members(path, members)


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        fastbp.load(tmp_path / "absent.fastbp")


def test_truncated_file(saved):
    data = saved.read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 10):
        saved.write_bytes(data[:cut])
        with pytest.raises(ModelFileError, match="truncated or corrupted"):
            fastbp.load(saved)


def test_corrupted_bytes_fail_the_checksum(saved):
    data = bytearray(saved.read_bytes())
    start = data.index(b"\x93NUMPY") + 200  # inside the first weight array
    data[start:start + 8] = b"\xff" * 8
    saved.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="CRC"):
        fastbp.load(saved)


def test_not_a_zip_file(tmp_path):
    path = tmp_path / "text.fastbp"
    path.write_text("hello")
    with pytest.raises(ModelFileError, match=r"not a fastbp model file \(not a ZIP archive\)"):
        fastbp.load(path)


def test_foreign_archives(tmp_path):
    np.savez(tmp_path / "foreign.npz", X=np.zeros((3, 2)))
    with pytest.raises(ModelFileError, match="no fastbp metadata"):
        fastbp.load(tmp_path / "foreign.npz")
    np.savez(tmp_path / "v1.npz", metadata=np.zeros(3, np.uint8))
    with pytest.raises(ModelFileError, match="format version 1"):
        fastbp.load(tmp_path / "v1.npz")


def test_newer_format_version(saved):
    _craft(saved, lambda m: m.update(format_version=99))
    with pytest.raises(ModelFileError, match="version 99 by a newer fastbp"):
        fastbp.load(saved)


def test_foreign_format_name(saved):
    _craft(saved, lambda m: m.update(format="something-else"))
    with pytest.raises(ModelFileError, match="not a fastbp model file"):
        fastbp.load(saved)


def _set(path_in_metadata, value):
    def change(metadata):
        node = metadata
        for key in path_in_metadata[:-1]:
            node = node[key]
        node[path_in_metadata[-1]] = value
    return change


@pytest.mark.parametrize("change, message", [
    # the segfault: n_features_in_ not checked against the first layer
    (_set(("fitted", "n_features_in_"), 1000), "do not match n_features_in_"),
    (_set(("fitted", "layer_units"), [1000, 4, 3]), "do not match n_features_in_"),
    (_set(("fitted", "layer_units"), [5, 4, 2]), "must be float64 of shape"),
    (_set(("fitted", "dtype"), "int64"), "dtype must be one of"),
    (_set(("params", "activation"), "softmax"), "activation"),
    (_set(("fitted", "out_activation_"), "tanh2"), "out_activation_ 'tanh2'"),
    (_set(("fitted", "out_activation_"), "logistic"), "this model needs 'softmax'"),
    (_set(("fitted", "target_type"), "binary"), "outputs|binary"),
    (_set(("fitted", "target_type"), "continuous"), "target_type must be"),
    (_set(("params", "hidden_layer_sizes"), {"__tuple__": [5]}), "do not match"),
    (_set(("params", "alpha"), -1), "alpha"),
    (_set(("params", "no_such_parameter"), 1), "unknown"),
    (_set(("fitted", "optimizer", "step_count"), -1), "step_count"),
    (_set(("fitted", "optimizer", "step_count"), [0]), "step_count"),
    (_set(("fitted", "optimizer", "solver"), "sgd"), "sgd state must be"),
    (_set(("fitted", "optimizer", "beta_1"), "0.9"), "beta_1"),
    (_set(("fitted", "history", "n_iter_"), -3), "n_iter_"),
    (_set(("fitted", "history", "loss_curve_"), ["x"]), "loss_curve_"),
    (_set(("fitted", "history", "surprise"), 1), "unknown"),
    (_set(("fitted", "coefs"), []), "coefs must be a list of 2"),
    (_set(("fitted", "classes_"), ["a", "b", "c"]), "classes_ must be"),
    (_set(("fitted", "coefs", 0), {"__array__": "nowhere"}), "array reference"),
    (_set(("fitted", "n_features_in_"), True), "n_features_in_"),
    (_set(("fitted", "history", "t_"), {"__evil__": 1}), "unknown tag"),
    (_set(("estimator",), "Pipeline"), "is not MLPClassifier"),
    (_set(("left_out",), ["alpha"]), "left_out"),
    (_set(("fitted",), None), "a model file holds a fitted model"),  # found by the fuzz test
], ids=lambda v: v if isinstance(v, str) else None)
def test_crafted_metadata_is_refused(saved, change, message):
    _craft(saved, change)
    with pytest.raises(ModelFileError, match=message):
        fastbp.load(saved)


@pytest.mark.parametrize("array, message", [
    (np.zeros(2, dtype="<U1"), "too short|outputs|do not make"),
    (np.array(["c", "b", "a"]), "do not make"),  # not sorted: labels would be swapped
    (np.array(["a", "a", "b"]), "do not make"),
])
def test_crafted_classes_are_refused(saved, array, message):
    _craft(saved, arrays={"fitted/classes_": array})
    with pytest.raises(ModelFileError, match=message):
        fastbp.load(saved)


@pytest.mark.parametrize("name, array, message", [
    ("fitted/coefs/0", np.zeros((5, 3)), "coefs\\[0\\] must be float64 of shape \\(5, 4\\)"),
    ("fitted/coefs/0", np.zeros((5, 4), np.float32), "must be float64"),
    ("fitted/coefs/0", np.zeros((5, 4), np.int64), "must be float64"),
    ("fitted/optimizer/state", np.zeros(0), "adam state must be float64 of shape"),
    ("fitted/optimizer/state", np.zeros(7), "adam state must be"),
])
def test_crafted_arrays_are_refused(saved, name, array, message):
    _craft(saved, arrays={name: array})
    with pytest.raises(ModelFileError, match=message):
        fastbp.load(saved)


def test_pickled_object_arrays_are_never_loaded(saved):
    """A member smuggling a pickled object array is refused from its header, never unpickled."""
    _craft(saved, arrays={"fitted/classes_": np.array([object(), object()], dtype=object)})
    with pytest.raises(ModelFileError, match="holds object data"):
        fastbp.load(saved)


def test_a_member_whose_header_lies_about_its_size_is_refused(saved):
    """NumPy allocates what a header claims before reading a byte (10¹² doubles: 8 TB)."""
    members = _members(saved)
    fake = bytearray(_npy(np.zeros(3)))
    at = fake.index(b"(3,)")
    fake[at:at + 4] = b"(9,)"  # same header length, claims 9 doubles, holds 3
    members["fitted/coefs/0.npy"] = bytes(fake)
    _write_members(saved, members)
    with pytest.raises(ModelFileError, match="declares 72 bytes of data but holds 24"):
        fastbp.load(saved)


@pytest.mark.parametrize("extra", ["junk.npy", "metadata.json.bak", "fitted/coefs/9.npy"])
def test_unknown_members_are_refused(saved, extra):
    members = _members(saved)
    members[extra] = _npy(np.zeros(3))
    _write_members(saved, members)
    with pytest.raises(ModelFileError, match="unknown"):
        fastbp.load(saved)


def test_duplicate_members_are_refused(saved):
    members = _members(saved)
    with zipfile.ZipFile(saved, "a") as archive, pytest.warns(UserWarning, match="Duplicate"):
        archive.writestr("fitted/coefs/0.npy", members["fitted/coefs/0.npy"])
    with pytest.raises(ModelFileError, match="names a member twice"):
        fastbp.load(saved)


def test_a_zip_bomb_is_refused_before_anything_is_decompressed(saved, tmp_path):
    """A 1 GiB member deflated to about 1 MB: refused from the archive's directory,
    in a process whose peak memory stays far below the member's size."""
    members = _members(saved)
    bomb = tmp_path / "bomb.fastbp"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        with zf.open("junk.npy", "w", force_zip64=True) as member:
            chunk = bytes(1 << 24)
            for _ in range(64):
                member.write(chunk)
    assert bomb.stat().st_size < 8 << 20
    def peak_loading(path):
        code = textwrap.dedent(f"""
            import resource, fastbp
            try:
                fastbp.load({str(path)!r})
            except fastbp.ModelFileError as error:
                print("refused:", error)
            print("peak MiB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
        """)
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                timeout=300, check=False)
        assert result.returncode == 0, result.stderr
        return int(result.stdout.split("peak MiB")[1]), result.stdout

    baseline, _ = peak_loading(saved)  # the imports, and loading the valid model
    peak, output = peak_loading(bomb)
    assert "refused:" in output and "would expand" in output
    assert peak < baseline + 100, (peak, baseline)  # the member holds 1,024 MiB


def test_a_compressed_model_file_is_refused(saved):
    members = _members(saved)
    _write_members(saved, members, compression=zipfile.ZIP_DEFLATED)
    with pytest.raises(ModelFileError, match="is compressed"):
        fastbp.load(saved)


def test_a_crafted_model_never_reaches_the_kernels_through_the_command(saved, tmp_path):
    """The reported segfault: `fastbp predict crafted data.svm` with n_features_in_ = 1000."""
    from sklearn.datasets import dump_svmlight_file

    _craft(saved, _set(("fitted", "n_features_in_"), 1000))
    data = tmp_path / "data.svm"
    dump_svmlight_file(np.eye(5)[:, :5], np.arange(5) % 3, str(data))
    result = subprocess.run([sys.executable, "-m", "fastbp", "predict", str(saved), str(data)],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert result.stderr.startswith("fastbp: error: ") and "n_features_in_" in result.stderr


def test_a_crafted_state_is_refused_by_pickle_and_skops_too(rng):
    import skops.io as sio

    model, _ = _fitted("multiclass", rng, hidden_layer_sizes=(4,))
    state = model.__getstate__()
    state["fitted"]["n_features_in_"] = 1000
    blank = MLPClassifier.__new__(MLPClassifier)
    with pytest.raises(ModelFileError, match="n_features_in_"):
        blank.__setstate__(state)
    assert vars(blank) == {}  # nothing half-set
    data = sio.dumps(model)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["schema.json"] = members["schema.json"].replace(b'"layer_units"', b'"layer_unitz"')
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    with pytest.raises(ModelFileError, match="layer_unitz"):
        sio.loads(buffer.getvalue(), trusted=["fastbp._estimators.MLPClassifier"])
