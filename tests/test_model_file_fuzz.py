"""Fuzzing model files: every mutation of a valid file is refused cleanly or loads faithfully.

Hypothesis draws batches of mutations of valid files: metadata values
replaced by hostile ones (wrong types, out of range, huge, unknown names,
tags), keys removed and added, arrays of other shapes and dtypes (with the
array table kept in step or not), truncation, flipped bytes, extra,
duplicate and compressed members. A fresh Python process loads each batch's
files one by one, announcing each before it starts, so a crash (a segfault
in a kernel, an abort) fails the test and names the file. For each file:

- a ``ModelFileError`` is the clean refusal; any other exception fails;
- a file whose structure was mutated (arrays, members, bytes) that loads
  must predict exactly as the original;
- a file whose metadata values were mutated that loads must be a working
  model (predict and partial_fit run, or raise the errors scikit-learn's
  estimators raise for such parameters) that saves and loads again to the
  same predictions: it describes another model, faithfully.
"""

import copy
from collections import Counter
import io
import json
import os
import subprocess
import sys
import textwrap
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastbp

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# 8 × 40 = 320 mutated files in CI; FASTBP_FUZZ_BATCHES=100 for a deeper run
BATCHES = int(os.environ.get("FASTBP_FUZZ_BATCHES", "8"))
BATCH_SIZE = 40


def _base_models():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    classifier = fastbp.MLPClassifier((5,), max_iter=3, random_state=0, class_weight={
        "a": 2.0, "b": 1.0, "c": 1.0}).fit(X, rng.choice(["a", "b", "c"], 60))
    regressor = fastbp.MLPRegressor(hidden_layer_sizes=(3, 2), solver="sgd", max_iter=3,
                                    early_stopping=True, random_state=0).fit(
        X.astype(np.float32), rng.normal(size=(60, 2)).astype(np.float32))
    return X, {"classifier": classifier, "regressor": regressor}


def _file_bytes(model, folder):
    fastbp.save(model, folder / "model")
    return (folder / "model").read_bytes()


def _signature(model, X):
    """What a model predicts on X, as comparable JSON (labels and probabilities)."""
    X = X.astype(model.coefs_[0].dtype)
    outputs = [np.asarray(model.predict(X)).tolist()]
    if hasattr(model, "predict_proba"):
        outputs.append(model.predict_proba(X).tolist())
    return json.dumps(outputs)


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    X, models = _base_models()
    folder = tmp_path_factory.mktemp("bases")
    return X, {name: _file_bytes(model, folder) for name, model in models.items()}, {
        name: _signature(model, X) for name, model in models.items()}


def _members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def _zip(members, compression=zipfile.ZIP_STORED):
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        warnings.simplefilter("ignore")  # a duplicate member is the point
        for name, payload in members:
            archive.writestr(name, payload)
    return buffer.getvalue()


def _npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _paths(node, prefix=()):
    """Every path to a value in a JSON tree (containers and leaves)."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


HOSTILE = st.one_of(
    st.none(), st.booleans(),
    st.integers(-3, 3), st.sampled_from([-1, 0, 2**31, 2**63, 10**30, -(10**20)]),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.sampled_from(["", "softmax", "relu", "exp", "float16", "int64", "<f8", "sgd", "binary",
                     "multilabel-indicator", "fitted/coefs/0", "__array__", "\x00", "é" * 50]),
    st.lists(st.integers(-2, 5), max_size=4),
    st.sampled_from([{"__array__": "fitted/coefs/0"}, {"__array__": "fitted/classes_",
                                                       "object": True},
                     {"__tuple__": [1, 2]}, {"__float__": "nan"}, {"__float__": "1e999"},
                     {"__dict__": [[1, 2], [1, 3]]}, {"__evil__": 0}, {"__array__": "absent"},
                     {}, [], [[]], {"a": {"b": {"c": None}}}]),
)

DTYPES = ["<f4", "<f8", ">f8", "<i8", "|u1", "|b1", "<U3", "<c16", "|O"]


@st.composite
def mutation(draw, names):
    """One mutation: (base file, kind, (seed, hostile value, shape, dtype)) for _apply."""
    base = draw(st.sampled_from(names))
    kind = draw(st.sampled_from(["value", "value", "value", "delete", "add", "array",
                                 "array-untabled", "truncate", "flip", "extra", "duplicate",
                                 "compress"]))
    seed = draw(st.integers(0, 2**32 - 1))
    value = draw(HOSTILE)
    shape = tuple(draw(st.lists(st.integers(0, 6), min_size=0, max_size=3)))
    dtype = draw(st.sampled_from(DTYPES))
    return base, kind, (seed, value, shape, dtype)


def _apply(data, kind, seed, value, shape, dtype):
    """The mutated file, and whether the mutation is structural (see the module docstring)."""
    rng = np.random.default_rng(seed)
    members = _members(data)
    names = [name for name, _ in members]
    metadata = json.loads(dict(members)["metadata.json"])
    if kind in ("value", "delete", "add"):
        paths = [p for p in _paths(metadata) if p and p[0] != "versions"]
        path = paths[rng.integers(len(paths))]
        parent = metadata
        for key in path[:-1]:
            parent = parent[key]
        if kind == "value":
            parent[path[-1]] = copy.deepcopy(value)
        elif kind == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[f"surprise{seed % 7}"] = copy.deepcopy(value)
        else:
            parent.append(copy.deepcopy(value))
        members = [(n, json.dumps(metadata).encode() if n == "metadata.json" else p)
                   for n, p in members]
        return _zip(members), False
    if kind in ("array", "array-untabled"):
        arrays = [n for n in names if n.endswith(".npy")]
        target = arrays[rng.integers(len(arrays))]
        size = int(np.prod(shape))
        if dtype == "|O":
            array = np.array([object()] * size, dtype=object).reshape(shape)
        else:
            array = rng.normal(size=size).astype(dtype).reshape(shape)
        before = metadata["arrays"][target[:-4]]
        # same dtype and shape: other weights, a valid file of another model
        structural = (before["dtype"], before["shape"]) != (array.dtype.str, list(shape))
        if kind == "array":
            metadata["arrays"][target[:-4]] = {"dtype": array.dtype.str, "shape": list(shape)}
        members = [(n, _npy(array) if n == target else
                    json.dumps(metadata).encode() if n == "metadata.json" else p)
                   for n, p in members]
        return _zip(members), structural
    if kind == "truncate":
        return data[:rng.integers(len(data))], True
    if kind == "flip":
        flipped = bytearray(data)
        flipped[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
        return bytes(flipped), True
    if kind == "extra":
        return _zip([*members, (f"x{seed % 5}.npy", _npy(np.zeros(shape)))]), True
    if kind == "duplicate":
        return _zip([*members, members[int(rng.integers(len(members)))]]), True
    return _zip(members, compression=zipfile.ZIP_DEFLATED), True


_WORKER = textwrap.dedent("""
    import json, sys, warnings
    import numpy as np
    warnings.simplefilter("ignore")
    import fastbp
    X = np.load(sys.argv[1])
    originals = json.loads(open(sys.argv[2]).read())

    def signature(model):
        Xb = X.astype(model.coefs_[0].dtype)
        outputs = [np.asarray(model.predict(Xb)).tolist()]
        if hasattr(model, "predict_proba"):
            outputs.append(model.predict_proba(Xb).tolist())
        return json.dumps(outputs)

    for line in sys.stdin:
        case = json.loads(line)
        print("start", case["file"], flush=True)
        try:
            model = fastbp.load(case["file"])
        except fastbp.ModelFileError:
            print("refused", flush=True)
            continue
        if case["structural"]:
            same = signature(model) == originals[case["base"]]
            print("loaded-same" if same else "loaded-different", flush=True)
            continue
        fastbp.save(model, case["file"] + ".again")
        assert signature(fastbp.load(case["file"] + ".again")) == signature(model), "unfaithful"
        Xb = X.astype(model.coefs_[0].dtype)
        try:
            model.partial_fit(Xb, model.predict(Xb))
        except (ValueError, ArithmeticError):
            pass  # scikit-learn's own errors for such parameters
        except AttributeError as error:
            assert "only available for stochastic" in str(error), repr(error)
        print("loaded-working", flush=True)
""")


@settings(max_examples=BATCHES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batch=st.lists(mutation(["classifier", "regressor"]), min_size=BATCH_SIZE,
                      max_size=BATCH_SIZE))
def test_mutated_model_files_are_refused_or_load_faithfully(batch, bases, tmp_path_factory):
    X, files, signatures = bases
    folder = tmp_path_factory.mktemp("fuzz")
    np.save(folder / "X.npy", X)
    (folder / "originals.json").write_text(json.dumps(signatures))
    cases = []
    for i, (base, kind, args) in enumerate(batch):
        path = folder / f"case{i}"
        data, structural = _apply(files[base], kind, *args)
        path.write_bytes(data)
        cases.append({"file": str(path), "base": base, "kind": kind, "structural": structural})
    result = subprocess.run([sys.executable, "-c", _WORKER, str(folder / "X.npy"),
                             str(folder / "originals.json")],
                            input="".join(json.dumps(c) + "\n" for c in cases),
                            capture_output=True, text=True, timeout=600, check=False)
    lines = result.stdout.split()
    started = [lines[i + 1] for i, word in enumerate(lines) if word == "start"]
    assert result.returncode == 0, (
        f"exit {result.returncode} while loading {started[-1] if started else None} "
        f"({cases[len(started) - 1]['kind'] if started else ''}): {result.stderr[-3000:]}")
    outcomes = [word for word in lines if word.startswith(("refused", "loaded"))]
    assert len(outcomes) == len(cases)
    # seen with pytest -s: how far the mutations got
    print(sorted(Counter((c["kind"], o) for c, o in zip(cases, outcomes)).items()))
    assert "loaded-different" not in outcomes, [
        c for c, o in zip(cases, outcomes) if o == "loaded-different"]
