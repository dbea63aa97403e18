"""Model files: a fitted estimator, or a whole pipeline, that loading cannot turn against you.

``save(obj, path)`` writes, atomically and at exactly ``path``:

- a **fastbp model file** for a bare ``MLPClassifier`` / ``MLPRegressor``: a
  ZIP archive of uncompressed members, ``metadata.json`` (UTF-8 JSON: format,
  estimator, parameters, the fitted scalars, a table of the arrays, what was
  left out, metrics, library versions) and one ``.npy`` member per array
  (weights, classes, feature names, curves, optimizer state). It needs
  nothing but NumPy to read, and ``fastbp info`` prints it;
- a **skops file** (``skops.io``, the scikit-learn ecosystem's secure format)
  for anything else: a ``Pipeline`` with a ``StandardScaler`` in front of the
  network, a ``ColumnTransformer``, … . fastbp's estimators store only arrays
  and builtins there (see ``fastbp._state``), so the only fastbp types such a
  file names are ``MLPClassifier`` and ``MLPRegressor``. A ``fastbp.json``
  member beside skops's own holds the metrics and versions.

``load(path)`` never unpickles, so no code from the file runs, and it checks
before it builds: the archive's directory first (no compressed or encrypted
member in a fastbp file, no duplicate or unknown member, every size known
before anything is read, every ``.npy`` header agreeing with its member's
size), then every value against every other (``fastbp._state.restore``).
Anything wrong gives one ``ModelFileError`` that says what.
"""

import io
import json
import os
import platform
import tempfile
import zipfile
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np

from ._state import ModelFileError, plain_state, restore

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "ModelFileError", "load", "read_metadata", "save"]

FORMAT_NAME = "fastbp-model"
FORMAT_VERSION = 2
PIPELINE_FORMAT_NAME = "fastbp-skops"
_METADATA = "metadata.json"
_SKOPS_SCHEMA = "schema.json"
_SKOPS_EXTRA = "fastbp.json"
# What the metadata member may weigh; a model's own is a few kB (its arrays
# are members of their own).
MAX_METADATA_BYTES = 16 << 20
# A compressed member may expand this much at most (float weights compress
# less than 2:1; a ZIP bomb, 1000:1) on top of a fixed allowance.
_MAX_EXPANSION = 50
_EXPANSION_ALLOWANCE = 64 << 20
# The types a skops file may name beyond skops's defaults: fastbp's estimators, whose
# state restore checks, and NumPy dtype objects (SimpleImputer keeps its input's dtype;
# skops rebuilds one from its name, which runs no code).
TRUSTED_TYPES = ("fastbp._estimators.MLPClassifier", "fastbp._estimators.MLPRegressor",
                 "numpy.dtype")
_LEFT_OUT = object()


# --------------------------------------------------------------------------
# saving
# --------------------------------------------------------------------------
def save(obj, path, metrics=None):
    """Write a fitted fastbp estimator, or a pipeline holding one, to exactly ``path``.

    The file is written to a temporary file beside ``path``, flushed to disk
    and then moved over ``path`` in one step: a save that fails (a full disk,
    an unsaveable object) leaves any previous file at ``path`` as it was.

    Parameters
    ----------
    obj : MLPClassifier, MLPRegressor, or any scikit-learn estimator
        A bare fastbp estimator is written as a fastbp model file; anything
        else (a ``Pipeline``, a ``ColumnTransformer`` …) as a skops file,
        which needs the ``skops`` package.
    path : str or path-like
        The file to write; no suffix is added. Conventionally ``.fastbp``.
    metrics : dict, optional
        JSON-serialisable extras stored with the model (e.g. the test
        accuracy); ``fastbp info`` prints them.

    Notes
    -----
    Everything a fit decided and every constructor parameter round-trips
    exactly (ints, tuples, dicts such as ``class_weight``, a ``RandomState``
    instance), so ``predict``, ``partial_fit`` and ``warm_start`` continue
    exactly after ``load``. Callables are code, not data: a fastbp model
    file does not store ``callbacks`` or a callable ``scoring`` (the loaded
    model has the default, None) and ``read_metadata(path)["left_out"]``
    names them.
    """
    from sklearn.utils.validation import check_is_fitted

    from ._estimators import BaseMultilayerPerceptron

    if not hasattr(obj, "get_params"):
        raise TypeError(f"fastbp.save expects a fitted estimator or pipeline, got "
                        f"{type(obj).__name__}.")
    if hasattr(obj, "to_local"):
        raise TypeError(f"{type(obj).__name__} trains on a cluster; save its local copy: "
                        "fastbp.save(model.to_local(), path).")
    check_is_fitted(obj)
    metrics = dict(metrics or {})
    json.dumps(metrics)  # a TypeError now, before any file is touched
    if isinstance(obj, BaseMultilayerPerceptron):
        payload = _model_file_bytes(obj, metrics)
    else:
        payload = _skops_file_bytes(obj, metrics)
    _write_atomically(os.fspath(path), payload)


def _versions():
    import sklearn

    from . import __version__

    return {"fastbp": __version__, "numpy": np.__version__, "scikit-learn": sklearn.__version__,
            "python": platform.python_version()}


def _write_atomically(path, payload):
    """``payload`` at ``path``, or an exception and ``path`` untouched."""
    if path.endswith(("/", os.sep)) or os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a directory; give the model file's name")
    directory = os.path.dirname(os.path.abspath(path))
    handle = tempfile.NamedTemporaryFile(dir=directory, prefix=f".{os.path.basename(path)}.",
                                         suffix=".tmp", delete=False)
    try:
        with handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if os.path.exists(path):
            os.chmod(handle.name, os.stat(path).st_mode & 0o777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(handle.name, 0o666 & ~umask)
        os.replace(handle.name, path)
    except BaseException:
        try:
            os.unlink(handle.name)
        except FileNotFoundError:
            pass
        raise
    try:  # the rename itself survives a power cut once the directory is synced
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _model_file_bytes(est, metrics):
    state = plain_state(est)
    state.pop("attributes", None)  # anything else set on the estimator: not model data
    arrays = {}
    left_out = []
    params = {}
    for name, value in state["params"].items():
        encoded = _encode(value, f"params/{name}", arrays)
        if encoded is _LEFT_OUT:
            left_out.append(name)  # the loaded model takes the default
        else:
            params[name] = encoded
    fitted = _encode(state["fitted"], "fitted", arrays)
    if fitted is _LEFT_OUT:
        raise TypeError("the fitted state holds a value fastbp cannot store")
    metadata = {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION,
        "estimator": type(est).__name__, "params": params, "fitted": fitted,
        "arrays": {name: {"dtype": a.dtype.str, "shape": list(a.shape)}
                   for name, a in arrays.items()},
        "left_out": left_out, "metrics": metrics, "versions": _versions(),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(_METADATA, json.dumps(metadata, allow_nan=False))
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, array, allow_pickle=False)
            archive.writestr(f"{name}.npy", member.getvalue())
    return buffer.getvalue()


def _encode(value, path, arrays):
    """A JSON value for ``value``; arrays go to ``arrays[path]``; _LEFT_OUT for code."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        value = float(value)
        return value if np.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.ndarray):
        return _encode_array(value, path, arrays)
    if isinstance(value, (list, tuple)):
        items = []
        for i, item in enumerate(value):
            encoded = _encode(item, f"{path}/{i}", arrays)
            if encoded is _LEFT_OUT:
                return _LEFT_OUT
            items.append(encoded)
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        pairs = [(_encode(k, f"{path}/key{i}", arrays),
                  _encode(v, f"{path}/{k if isinstance(k, str) and k.isidentifier() else i}",
                          arrays))
                 for i, (k, v) in enumerate(value.items())]
        if any(_LEFT_OUT in pair for pair in pairs):
            return _LEFT_OUT
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return dict(pairs)  # a plain JSON object, readable as it is
        return {"__dict__": [list(pair) for pair in pairs]}
    if isinstance(value, np.random.RandomState):
        kind, keys, pos, has_gauss, cached = value.get_state(legacy=True)
        return {"__random_state__": {"keys": _encode_array(keys, f"{path}/keys", arrays),
                                     "pos": int(pos), "has_gauss": int(has_gauss),
                                     "cached_gaussian": float(cached)}}
    return _LEFT_OUT  # callables and other code


def _encode_array(array, path, arrays):
    if array.dtype.kind in "biuf" or array.dtype.kind == "U":
        arrays[path] = np.ascontiguousarray(array)
        return {"__array__": path}
    if array.dtype.kind == "O" and all(isinstance(v, str) for v in array.flat):
        arrays[path] = np.ascontiguousarray(array.astype(str))
        return {"__array__": path, "object": True}
    raise TypeError(f"{path}: arrays of dtype {array.dtype} (holding "
                    f"{sorted({type(v).__name__ for v in array.flat})}) cannot be stored")


def _skops_file_bytes(obj, metrics):
    try:
        import skops.io as sio
    except ImportError:
        raise ImportError("Saving a pipeline needs skops: pip install skops "
                          "(a bare fastbp estimator needs nothing more).") from None
    buffer = io.BytesIO(sio.dumps(obj))
    with zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(_SKOPS_EXTRA, json.dumps({
            "format": PIPELINE_FORMAT_NAME, "format_version": 1,
            "estimator": type(obj).__name__, "metrics": metrics, "versions": _versions()}))
    return buffer.getvalue()


# --------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------
def read_metadata(path):
    """What a model file says about itself (checked as by ``load``, arrays not read).

    For a fastbp model file, its metadata (``format``, ``estimator``,
    ``params``, ``fitted``, ``arrays``, ``left_out``, ``metrics``,
    ``versions``); for a skops file, ``format`` ('fastbp-skops'),
    ``estimator`` (the outer type), ``metrics`` and ``versions``.
    """
    with _open_archive(path) as (archive, members, _):
        if _SKOPS_SCHEMA in members:
            return _skops_extra(path, archive, members)
        return _checked_metadata(path, archive, members)


@contextmanager
def _open_archive(path):
    """(archive, its members by name, the open file) of ``path``, checked as a directory.

    The file is opened once: every check and every read, skops's included,
    sees the same file even if the path is replaced meanwhile.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, after the caller's reads
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a directory, not a model file") from None
    except OSError as error:
        raise ModelFileError(f"{path}: cannot be read: {error}") from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if handle.read(4) != b"PK\x03\x04":
            raise ModelFileError(f"{path}: not a fastbp model file (not a ZIP archive)")
        try:
            archive = zipfile.ZipFile(handle)
            infos = archive.infolist()
        except Exception as error:  # noqa: BLE001 - a damaged archive can fail in any parser
            raise ModelFileError(f"{path}: not a readable fastbp model file (truncated or "
                                 f"corrupted?): {type(error).__name__}: {error}") from None
        with archive:
            names = [info.filename for info in infos]
            if len(set(names)) != len(names):
                raise ModelFileError(f"{path}: the archive names a member twice")
            declared = sum(info.file_size for info in infos)
            if declared > _EXPANSION_ALLOWANCE + _MAX_EXPANSION * size or any(
                    info.flag_bits & 0x1 for info in infos):
                raise ModelFileError(f"{path}: the archive's members would expand to "
                                     f"{declared:,} bytes from a {size:,}-byte file, or are "
                                     "encrypted; not a model file")
            yield archive, {info.filename: info for info in infos}, handle


def _read_member(path, archive, info, limit):
    if info.file_size > limit:
        raise ModelFileError(f"{path}: member {info.filename} holds {info.file_size:,} "
                             f"bytes; at most {limit:,} expected")
    try:
        data = archive.read(info)
    except Exception as error:  # noqa: BLE001 - bad CRC, truncation, bad compression
        raise ModelFileError(f"{path}: member {info.filename} cannot be read (truncated or "
                             f"corrupted?): {type(error).__name__}: {error}") from None
    if len(data) != info.file_size:
        raise ModelFileError(f"{path}: member {info.filename} is truncated")
    return data


def _npy_header(path, archive, info):
    """(shape, dtype, header length) of a ``.npy`` member, its size checked against them."""
    try:
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                raise ValueError(f"npy format version {version} (1.0 or 2.0 expected)")
            shape, fortran, dtype = read_header(member, max_header_size=10000)
            offset = member.tell()
    except Exception as error:  # noqa: BLE001
        raise ModelFileError(f"{path}: member {info.filename} is not a readable .npy "
                             f"array: {type(error).__name__}: {error}") from None
    if dtype.hasobject or fortran or dtype.kind not in "biufU":
        raise ModelFileError(f"{path}: member {info.filename} holds {dtype} "
                             f"{'(Fortran order) ' if fortran else ''}data; model files "
                             "hold plain C-ordered numbers and strings only")
    n_bytes = dtype.itemsize * int(np.prod(shape, dtype=object))
    if offset + n_bytes != info.file_size:
        raise ModelFileError(f"{path}: member {info.filename} declares {n_bytes:,} bytes "
                             f"of data but holds {info.file_size - offset:,}")
    return shape, dtype, offset


def _checked_metadata(path, archive, members):
    if _METADATA not in members:
        legacy = "metadata.npy" in members
        raise ModelFileError(
            f"{path}: " + ("written in model format version 1 by fastbp 0.1.0 before this "
                           "release; load it with that version and save it again"
                           if legacy else "not a fastbp model file (no fastbp metadata in it)"))
    for info in members.values():
        if info.compress_type != zipfile.ZIP_STORED:
            raise ModelFileError(f"{path}: member {info.filename} is compressed; fastbp "
                                 "model files store their members as they are")
    raw = _read_member(path, archive, members[_METADATA], MAX_METADATA_BYTES)
    try:
        metadata = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ModelFileError(f"{path}: the model's metadata is corrupted: {error}") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path}: not a fastbp model file (format "
                             f"{metadata.get('format') if isinstance(metadata, dict) else None!r})")
    version = metadata.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        raise ModelFileError(
            f"{path}: written in model format version {version!r}" + (
                f" by a newer fastbp; this fastbp reads version {FORMAT_VERSION}. Upgrade "
                "fastbp to load it." if newer else f"; this fastbp reads version "
                f"{FORMAT_VERSION}"))
    keys = {"format", "format_version", "estimator", "params", "fitted", "arrays", "left_out",
            "metrics", "versions"}
    if set(metadata) != keys:
        raise ModelFileError(f"{path}: the metadata must have exactly the keys {sorted(keys)}")
    table = metadata["arrays"]
    if not isinstance(table, dict):
        raise ModelFileError(f"{path}: the metadata's array table is not a mapping")
    expected = {_METADATA} | {f"{name}.npy" for name in table}
    if set(members) != expected:
        extra, missing = sorted(set(members) - expected), sorted(expected - set(members))
        raise ModelFileError(f"{path}: the archive's members do not match its metadata"
                             + (f"; unknown {extra}" if extra else "")
                             + (f"; missing {missing}" if missing else ""))
    return metadata


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON (fastbp writes non-finite numbers tagged)")


def _skops_extra(path, archive, members):
    if _SKOPS_EXTRA not in members:
        return {"format": "skops", "estimator": None, "metrics": {}, "versions": {}}
    raw = _read_member(path, archive, members[_SKOPS_EXTRA], MAX_METADATA_BYTES)
    try:
        extra = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ModelFileError(f"{path}: its fastbp.json is corrupted: {error}") from None
    if not isinstance(extra, dict) or extra.get("format") != PIPELINE_FORMAT_NAME or not (
            isinstance(extra.get("metrics"), dict)):
        raise ModelFileError(f"{path}: its fastbp.json is not fastbp's")
    return extra


def load(path):
    """Read what ``save`` wrote; no pickle, so no code from the file runs.

    Returns
    -------
    obj : MLPClassifier, MLPRegressor, or the saved pipeline
        Fitted, predicting exactly as the saved one did; ``partial_fit`` and
        ``warm_start`` continue from the saved weights and optimizer state.

    Raises
    ------
    ModelFileError
        If the file is missing, truncated, corrupted, crafted, not a model
        file, or written in another format version; for a skops file also if
        it names a type outside scikit-learn, NumPy, SciPy and fastbp's two
        estimators (load such a file with ``skops.io.load`` and the types you
        trust).
    """
    with _open_archive(path) as (archive, members, handle):
        if _SKOPS_SCHEMA in members:
            return _load_skops(path, archive, members, handle)
        metadata = _checked_metadata(path, archive, members)
        arrays = {}
        for name, spec in metadata["arrays"].items():
            arrays[name] = _read_array(path, archive, members[f"{name}.npy"], spec)
    from . import MLPClassifier, MLPRegressor

    try:
        cls = {"MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}[
            metadata["estimator"]]
    except (KeyError, TypeError):
        raise ModelFileError(f"{path}: estimator {metadata['estimator']!r} is not "
                             "MLPClassifier or MLPRegressor") from None
    try:
        params = _decode(metadata["params"], arrays)
        fitted = _decode(metadata["fitted"], arrays)
        if not isinstance(params, dict) or not isinstance(fitted, dict):
            raise ModelFileError("params or fitted is not a mapping (a model file holds a "
                                 "fitted model)")
        if not isinstance(metadata["left_out"], list) or not set(metadata["left_out"]) <= {
                "callbacks", "scoring"} or set(metadata["left_out"]) & set(params):
            raise ModelFileError(f"left_out {metadata['left_out']!r} names more than callbacks "
                                 "and scoring")
        est = cls.__new__(cls)
        restore(est, {"fastbp_state": 1, "params": params, "fitted": fitted})
    except ModelFileError as error:
        raise ModelFileError(f"{path}: {error}") from None
    except RecursionError:
        raise ModelFileError(f"{path}: the metadata nests too deeply") from None
    return est


def _read_array(path, archive, info, spec):
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape"}:
        raise ModelFileError(f"{path}: the array table's entry for {info.filename} is malformed")
    shape, dtype, offset = _npy_header(path, archive, info)
    try:
        if not isinstance(spec["dtype"], str) or not isinstance(spec["shape"], list):
            raise TypeError
        declared = (np.dtype(spec["dtype"]), tuple(spec["shape"]))
    except Exception:  # noqa: BLE001 - NumPy's dtype parser raises several types
        raise ModelFileError(f"{path}: the array table's entry for {info.filename} is "
                             "malformed") from None
    if declared != (dtype, shape):
        raise ModelFileError(f"{path}: member {info.filename} holds {dtype} of shape {shape}; "
                             f"the metadata says {declared[0]} of shape {declared[1]}")
    data = _read_member(path, archive, info, info.file_size)
    array = np.frombuffer(bytearray(data[offset:]), dtype=dtype).reshape(shape)
    if dtype.byteorder not in ("=", "|"):
        array = array.astype(dtype.newbyteorder("="))
    return array


_TAGS = {"__array__", "__tuple__", "__dict__", "__float__", "__random_state__"}


def _decode(value, arrays):
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if not isinstance(value, dict):
        raise ModelFileError(f"unexpected JSON value {type(value).__name__}")
    tags = [key for key in value if key.startswith("__")]
    if not tags:
        return {k: _decode(v, arrays) for k, v in value.items()}
    tag = tags[0]
    if tag not in _TAGS:
        raise ModelFileError(f"an unknown tag {tag!r}"[:100])
    if tag == "__array__":
        name = value["__array__"]
        if set(value) - {"__array__", "object"} or not isinstance(name, str) or (
                name not in arrays):
            raise ModelFileError(f"a malformed array reference {value!r}"[:200])
        array = arrays[name]
        if value.get("object", False) is True:
            if array.dtype.kind != "U":
                raise ModelFileError("an object array must be stored as strings")
            array = array.astype(object)
        return array
    if len(value) != 1:
        raise ModelFileError(f"a tagged value {tag} with other keys")
    content = value[tag]
    if tag == "__tuple__":
        if not isinstance(content, list):
            raise ModelFileError("a malformed tuple")
        return tuple(_decode(v, arrays) for v in content)
    if tag == "__float__":
        if content not in ("inf", "-inf", "nan"):
            raise ModelFileError(f"a malformed non-finite number {content!r}"[:100])
        return float(content)
    if tag == "__dict__":
        if not isinstance(content, list) or not all(
                isinstance(p, list) and len(p) == 2 for p in content):
            raise ModelFileError("a malformed mapping")
        decoded = {}
        for k, v in content:
            k = _decode(k, arrays)
            if not isinstance(k, (str, int, float, bool, tuple)) or k in decoded:
                raise ModelFileError(f"a mapping key {k!r} that is not a unique scalar"[:200])
            decoded[k] = _decode(v, arrays)
        return decoded
    # __random_state__: MT19937's state
    if not isinstance(content, dict) or set(content) != {"keys", "pos", "has_gauss",
                                                         "cached_gaussian"}:
        raise ModelFileError("a malformed random state")
    keys = _decode(content["keys"], arrays)
    if (type(keys) is not np.ndarray or keys.dtype != np.uint32 or keys.shape != (624,)
            or not isinstance(content["pos"], int) or not 0 <= content["pos"] <= 624
            or content["has_gauss"] not in (0, 1)
            or not isinstance(content["cached_gaussian"], (int, float))):
        raise ModelFileError("a malformed random state")
    random_state = np.random.RandomState()
    random_state.set_state(("MT19937", keys, content["pos"], content["has_gauss"],
                            float(content["cached_gaussian"])))
    return random_state


def _load_skops(path, archive, members, handle):
    try:
        import skops.io as sio
    except ImportError:
        raise ModelFileError(f"{path}: a pipeline saved with skops; loading it needs skops: "
                             "pip install skops") from None
    _skops_extra(path, archive, members)
    for info in members.values():
        if info.filename.endswith(".npy"):
            _npy_header(path, archive, info)
    # skops reads its schema whole: bounded (and its checksum checked) here first
    _read_member(path, archive, members[_SKOPS_SCHEMA], MAX_METADATA_BYTES)
    try:
        handle.seek(0)
        untrusted = sio.get_untrusted_types(file=handle)
        foreign = sorted(set(untrusted) - set(TRUSTED_TYPES))
        if foreign:
            raise ModelFileError(
                f"{path}: it names types outside scikit-learn, NumPy, SciPy and fastbp's "
                f"estimators: {foreign}. If you trust them, load it with "
                "skops.io.load(path, trusted=[...]).")
        handle.seek(0)
        return sio.load(handle, trusted=list(untrusted))
    except ModelFileError:
        raise
    except RecursionError:
        raise ModelFileError(f"{path}: the skops schema nests too deeply") from None
    except Exception as error:  # noqa: BLE001 - skops and the restored objects raise many types
        raise ModelFileError(f"{path}: not a loadable pipeline: {type(error).__name__}: "
                             f"{error}") from None
