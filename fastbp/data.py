"""Data sets for the ``fastbp`` command: bundled, synthetic, CSV, NPZ, svmlight.

``load_data(spec)`` returns a ``Dataset`` with validated, finite features; any
problem raises ``DataError`` with a message fit for one line on stderr.
"""

import csv
import math
import os
from dataclasses import dataclass

import numpy as np

BUNDLED = ("digits", "iris", "wine", "breast_cancer", "diabetes")
SVMLIGHT_SUFFIXES = (".svm", ".svmlight", ".libsvm")


class DataError(ValueError):
    """Data that cannot be used: missing, unknown, non-numeric, not finite."""


@dataclass
class Dataset:
    X: object  # ndarray or scipy.sparse CSR matrix, (n_samples, n_features)
    y: object  # ndarray (n_samples,) or (n_samples, n_outputs), or None
    name: str
    feature_names: list = None


def load_data(spec, target=None, n_features=None):
    """Read DATA as the command line names it.

    Parameters
    ----------
    spec : str
        A bundled scikit-learn data set (digits, iris, wine, breast_cancer,
        diabetes), ``synthetic:N,D,K`` (make_classification with N samples, D
        features, K classes), or a path to a .csv, .npz or svmlight file.
    target : str, optional
        CSV only: the name of the target column (default: the last column).
    n_features : int, optional
        The number of features a model expects. A CSV with exactly that many
        columns is read as features only (no target); with one more, the last
        (or ``target``) column is the target.
    """
    if spec in BUNDLED:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, f"load_{spec}")()
        dataset = Dataset(bunch.data, bunch.target, spec, list(bunch.feature_names))
    elif spec.startswith("synthetic:"):
        dataset = _synthetic(spec)
    elif not os.path.exists(spec):
        raise DataError(f"{spec}: no such file, and not a known data set (bundled: "
                        f"{', '.join(BUNDLED)}; or synthetic:N,D,K)")
    elif os.path.isdir(spec):
        raise DataError(f"{spec}: is a directory, not a data file")
    else:
        suffix = os.path.splitext(spec)[1].lower()
        if suffix == ".npz":
            dataset = _npz(spec)
        elif suffix in SVMLIGHT_SUFFIXES:
            dataset = _svmlight(spec)
        elif suffix in (".csv", ".txt"):
            dataset = _csv(spec, target, n_features)
        else:
            raise DataError(f"{spec}: unknown file type {suffix!r} (use .csv, .npz or "
                            f"{', '.join(SVMLIGHT_SUFFIXES)})")
    _check_finite(dataset)
    return dataset


def _synthetic(spec):
    from sklearn.datasets import make_classification

    try:
        n, d, k = (int(part) for part in spec.split(":", 1)[1].split(","))
        if n < 2 or d < 1 or k < 2:
            raise ValueError
    except ValueError:
        raise DataError(f"{spec}: expected synthetic:N,D,K with N ≥ 2 samples, D ≥ 1 "
                        "features and K ≥ 2 classes, e.g. synthetic:10000,20,3") from None
    informative = max(1, min(d, int(math.ceil(math.log2(2 * k))) + 1))
    try:
        X, y = make_classification(n_samples=n, n_features=d, n_informative=informative,
                                   n_redundant=0, n_repeated=0, n_classes=k,
                                   n_clusters_per_class=1, random_state=0)
    except ValueError as error:
        raise DataError(f"{spec}: {error}") from None
    return Dataset(X, y, spec)


def _npz(path):
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except Exception as error:  # noqa: BLE001 - a damaged archive can fail in any parser
        raise DataError(f"{path}: not a readable .npz file: {error}") from None
    if "X" not in arrays:
        raise DataError(f"{path}: an .npz data file needs an array named X (and y); "
                        f"found {sorted(arrays) or 'none'}")
    X = arrays["X"]
    if X.ndim != 2 or not np.issubdtype(X.dtype, np.number):
        raise DataError(f"{path}: X must be a 2-D numeric array; got shape {X.shape}, "
                        f"dtype {X.dtype}")
    return Dataset(X, arrays.get("y"), os.path.basename(path))


def _svmlight(path):
    from sklearn.datasets import load_svmlight_file

    try:
        X, y = load_svmlight_file(path)
    except Exception as error:  # noqa: BLE001 - report the parser's own words
        raise DataError(f"{path}: not a readable svmlight/libsvm file: {error}") from None
    return Dataset(X.tocsr(), y, os.path.basename(path))


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def _csv(path, target, n_features):
    with open(path, newline="") as handle:
        rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    if not rows:
        raise DataError(f"{path}: the file is empty")
    has_header = not all(_is_number(cell) for cell in rows[0])
    header = [cell.strip() for cell in rows[0]] if has_header else None
    body = rows[1:] if has_header else rows
    if not body:
        raise DataError(f"{path}: no data rows")
    n_columns = len(rows[0])
    for line, row in enumerate(body, start=2 if has_header else 1):
        if len(row) != n_columns:
            raise DataError(f"{path}: line {line} has {len(row)} fields; expected {n_columns}")
    names = header or [f"column {j + 1}" for j in range(n_columns)]

    if target is not None:
        if header is None:
            raise DataError(f"{path}: --target {target!r} needs a header row naming the columns")
        if target not in header:
            raise DataError(f"{path}: no column named {target!r} (columns: {', '.join(header)})")
        target_column = header.index(target)
    elif n_features is not None and n_columns == n_features:
        target_column = None
    else:
        target_column = n_columns - 1
    if n_features is not None and n_columns - (target_column is not None) != n_features:
        raise DataError(f"{path} has {n_columns} columns; the model expects {n_features} "
                        "features (plus an optional target column)")

    feature_columns = [j for j in range(n_columns) if j != target_column]
    X = np.empty((len(body), len(feature_columns)))
    for line, row in enumerate(body, start=2 if has_header else 1):
        for out_j, j in enumerate(feature_columns):
            cell = row[j].strip()
            try:
                X[line - (2 if has_header else 1), out_j] = float(cell) if cell else np.nan
            except ValueError:
                raise DataError(f"{path}: column {names[j]!r} is not numeric (line {line}: "
                                f"{cell!r})") from None
    y = None
    if target_column is not None:
        labels = [row[target_column].strip() for row in body]
        y = (np.array([float(v) for v in labels]) if all(_is_number(v) for v in labels)
             else np.array(labels))
    return Dataset(X, y, os.path.basename(path), [names[j] for j in feature_columns])


def _check_finite(dataset):
    X = dataset.X
    values = X.data if hasattr(X, "data") and not isinstance(X, np.ndarray) else X
    values = np.asarray(values, dtype=float)
    if values.size and not np.isfinite(values).all():
        bad = np.argwhere(~np.isfinite(values))[0]
        where = f" (first at row {bad[0] + 1}, column {bad[1] + 1})" if values.ndim == 2 else ""
        raise DataError(f"{dataset.name}: the features contain NaN or infinite values{where}; "
                        "impute or drop them first")
    y = dataset.y
    if y is not None and np.issubdtype(np.asarray(y).dtype, np.number) and not np.isfinite(y).all():
        raise DataError(f"{dataset.name}: the target contains NaN or infinite values")
