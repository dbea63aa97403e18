"""Data sets for the ``fastbp`` command: bundled, synthetic, tables (CSV, TSV, parquet), NPZ, svmlight.

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
    X: object  # ndarray, scipy.sparse CSR matrix or (tables) DataFrame, (n_samples, n_features)
    y: object  # ndarray (n_samples,) or (n_samples, n_outputs), or None
    name: str
    feature_names: list = None
    target: str = None  # tables: the target column's name
    first_line: int = 1  # tables: the file line of the first data row

    @property
    def is_table(self):
        return hasattr(self.X, "columns")


def load_data(spec, target=None, n_features=None, feature_names=None, header=None,
              allow_missing=False):
    """Read DATA as the command line names it.

    Parameters
    ----------
    spec : str
        A bundled scikit-learn data set (digits, iris, wine, breast_cancer,
        diabetes), ``synthetic:N,D,K`` (make_classification with N samples, D
        features, K classes), or a path to a table (.csv, .tsv, .txt, gzipped
        or not, .parquet), an .npz or an svmlight file.
    target : str, optional
        Tables: the name of the target column (default: the last column).
    n_features : int, optional
        Arrays: the number of features a model expects.
    feature_names : list of str, optional
        Tables: the columns a model expects; the target is the one other
        column, if there is exactly one.
    header : bool, optional
        Tables: whether the first row names the columns (default: the rule of
        ``first_row_is_header``).
    allow_missing : bool
        Whether missing feature values may stay (NaN), for a model that
        imputes them.
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
        suffix = _suffix(spec)
        if suffix == ".npz":
            dataset = _npz(spec)
        elif suffix in SVMLIGHT_SUFFIXES:
            dataset = _svmlight(spec, n_features)
        elif suffix in TABLE_SUFFIXES:
            frame, first_line = _table(spec, header)
            dataset = _frame_dataset(spec, frame, first_line, target, feature_names,
                                     n_features)
        else:
            raise DataError(f"{spec}: unknown file type {suffix!r} (use "
                            f"{', '.join(TABLE_SUFFIXES)}, .npz or {', '.join(SVMLIGHT_SUFFIXES)})")
    if dataset.is_table and feature_names is None and n_features is not None:
        # for a model fitted on an array: numbers only, by position
        _check_finite(dataset, allow_missing)
        dataset.X = dataset.X.to_numpy(dtype=float)
    if not dataset.is_table and n_features is not None and dataset.X.shape[1] != n_features:
        raise DataError(f"{spec} has {dataset.X.shape[1]} features; the model expects "
                        f"{n_features}")
    _check_finite(dataset, allow_missing)
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


def _svmlight(path, n_features=None):
    from sklearn.datasets import load_svmlight_file

    try:
        # a file that never uses the model's last features is still that many wide
        X, y = load_svmlight_file(path, n_features=n_features)
    except Exception as error:  # noqa: BLE001 - report the parser's own words
        raise DataError(f"{path}: not a readable svmlight/libsvm file: {error}") from None
    return Dataset(X.tocsr(), y, os.path.basename(path))


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".parquet")
# Cells read as missing, besides an empty one (pandas' defaults, which include these).
MISSING = ("NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?", "-")


def _suffix(path):
    name = os.path.basename(path).lower()
    for suffix in sorted(TABLE_SUFFIXES + (".npz",) + SVMLIGHT_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return os.path.splitext(name)[1]


def _sample(path, size=1 << 16):
    """The first ``size`` bytes of a text file (decompressed), as text without a BOM."""
    import gzip

    opener = gzip.open if path.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read(size)
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: cannot be read: {error}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        if error.start < len(raw) - 4:  # not just a character cut at the sample's end
            raise DataError(f"{path}: not UTF-8 text (byte {error.start + 1}); save it as "
                            "UTF-8") from None
        return raw[:error.start].decode("utf-8-sig")


def _delimiter(path, sample):
    if ".tsv" in os.path.basename(path).lower():
        return "\t"
    lines = [line for line in sample.splitlines() if line.strip()][:50]
    if not lines:
        raise DataError(f"{path}: the file is empty")
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        return ","  # one column, or nothing the sniffer can tell: commas


def first_row_is_header(cells):
    """The rule for files without --header / --no-header: the first row names the
    columns when every one of its cells is non-empty and not a number."""
    cells = [cell.strip() for cell in cells]
    return bool(cells) and all(cell and not _is_number(cell) and cell not in MISSING
                               for cell in cells)


def _table(path, header=None):
    """A CSV / TSV (optionally gzipped) or parquet file as a DataFrame with str column names.

    Missing cells (empty, NA, NaN, …) become NaN; numeric columns come out
    numeric, others as strings. ``header`` None applies ``first_row_is_header``.
    """
    import pandas as pd

    if path.lower().endswith(".parquet"):
        try:
            frame = pd.read_parquet(path)
        except ImportError:
            raise DataError(f"{path}: reading parquet needs pyarrow: pip install pyarrow") from None
        except Exception as error:  # noqa: BLE001 - the parser's own words
            raise DataError(f"{path}: not a readable parquet file: {error}") from None
        frame.columns = [str(c) for c in frame.columns]
        return frame, 1
    sample = _sample(path)
    sep = _delimiter(path, sample)
    if header is None:
        first = next(csv.reader([sample.splitlines()[0] if sample else ""], delimiter=sep), [])
        header = first_row_is_header(first)
    try:
        frame = pd.read_csv(path, sep=sep, header=0 if header else None, encoding="utf-8-sig",
                            na_values=list(MISSING), keep_default_na=True,
                            skipinitialspace=True, skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        message = str(error).strip().splitlines()[-1]
        raise DataError(f"{path}: not a readable table: {message}") from None
    if header:
        frame.columns = [str(c).strip() for c in frame.columns]
    else:
        frame.columns = [f"column {j + 1}" for j in range(frame.shape[1])]
    if frame.shape[0] == 0:
        raise DataError(f"{path}: no data rows")
    if frame.shape[1] < 2 and header is not None:
        hint = "; is it delimited by something other than , ; tab or |?" if sep == "," else ""
        raise DataError(f"{path}: found a single column {frame.columns[0]!r}{hint}")
    return frame, 2 if header else 1


def _frame_dataset(path, frame, first_line, target, feature_names, n_features=None):
    """Features (a DataFrame) and target of a table; ``feature_names`` those a model expects."""
    columns = list(frame.columns)
    if feature_names is not None and target not in columns:
        target = None  # features for a model: the target column may be absent
    if target is not None and target not in columns:
        raise DataError(f"{path}: no column named {target!r} (columns: {', '.join(columns)})")
    if feature_names is not None:
        missing = [name for name in feature_names if name not in columns]
        if missing:
            raise DataError(f"{path}: the model needs the columns {missing}, which are not "
                            f"in the file (columns: {', '.join(columns)})")
        features = list(feature_names)
        if target is None:
            extra = [c for c in columns if c not in features]
            target = extra[-1] if len(extra) == 1 else None
    elif n_features is not None:
        # a model fitted on unnamed features: the columns by position
        if target is None and len(columns) == n_features:
            target = None
        elif len(columns) - 1 == n_features:
            target = columns[-1] if target is None else target
        else:
            raise DataError(f"{path} has {len(columns)} columns; the model expects "
                            f"{n_features} features (plus an optional target column)")
        features = [c for c in columns if c != target]
    else:
        target = columns[-1] if target is None else target
        features = [c for c in columns if c != target]
    y = None
    if target is not None:
        y = frame[target]
        missing_rows = np.flatnonzero(y.isna().to_numpy())
        if missing_rows.size:
            lines = ", ".join(str(i + first_line) for i in missing_rows[:5])
            raise DataError(f"{path}: the target column {target!r} is missing in "
                            f"{missing_rows.size} rows (lines {lines}"
                            f"{', …' if missing_rows.size > 5 else ''}); fill or drop them")
        y = y.to_numpy()
        if y.dtype == object:
            y = y.astype(str)
    return Dataset(frame[features], y, os.path.basename(path), features, target=target,
                   first_line=first_line)


def _check_finite(dataset, allow_missing):
    X = dataset.X
    if dataset.is_table:
        numeric = X.select_dtypes("number")
        values = numeric.to_numpy(dtype=float)
        bad = np.isinf(values) if allow_missing else ~np.isfinite(values)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            what = "infinite" if allow_missing else "missing or infinite"
            raise DataError(f"{dataset.name}: column {numeric.columns[col]!r} has {what} "
                            f"values (first on line {row + dataset.first_line})"
                            + ("" if allow_missing else "; impute them, or train without "
                               "--no-preprocess"))
        if not allow_missing:
            text = [c for c in X.columns if c not in numeric.columns]
            if text:
                column = text[0]
                row = int(np.flatnonzero(~X[column].map(_looks_numeric).to_numpy())[0])
                raise DataError(
                    f"{dataset.name}: column {column!r} is not numeric (line "
                    f"{row + dataset.first_line}: {X[column].iloc[row]!r}); without "
                    "--no-preprocess it is one-hot encoded"
                    + (f", or is it the target? (--target {column})"
                       if dataset.target is not None else ""))
    else:
        values = X.data if hasattr(X, "data") and not isinstance(X, np.ndarray) else X
        values = np.asarray(values, dtype=float)
        bad = np.isinf(values) if allow_missing else ~np.isfinite(values)
        if values.size and bad.any():
            where = np.argwhere(bad)[0]
            at = f" (first at row {where[0] + 1}, column {where[1] + 1})" if values.ndim == 2 else ""
            raise DataError(f"{dataset.name}: the features contain "
                            f"{'infinite' if allow_missing else 'NaN or infinite'} values{at}"
                            + ("" if allow_missing else "; impute or drop them first"))
    y = dataset.y
    if y is not None and np.issubdtype(np.asarray(y).dtype, np.number) and not np.isfinite(y).all():
        raise DataError(f"{dataset.name}: the target contains NaN or infinite values")


def _looks_numeric(value):
    return isinstance(value, (int, float, np.number)) or (
        isinstance(value, str) and _is_number(value))
