"""The user's own files: numeric CSV and NPZ tables, validated before their contents are trusted."""

from __future__ import annotations

import csv
import math
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from nablanet.datasets.common import _float_dtype, not_utf8_error, require_file
from nablanet.datasets.registry import LoadedData, register_file_format

__all__ = ["load_csv", "load_npz"]


def _load_npz_arrays(path, keys) -> dict:
    """The named arrays of an ``.npz`` file, opened with ``allow_pickle=False`` (no code runs)."""
    path = require_file(path, "NPZ file")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError, zipfile.BadZipFile) as error:
        # NumPy's own message for a file that is neither .npy nor zip suggests unpickling it: never relay that.
        raise ValueError(f"{path} is not an .npz archive (a zip of .npy arrays, as numpy.savez writes); it may be "
                         f"truncated, corrupted or another kind of file") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} holds a single .npy array, not an .npz archive of named arrays")
    with archive:
        missing = [key for key in keys if key not in archive.files]
        if missing:
            raise ValueError(
                f"{path} has no array named {missing[0]!r}; its arrays are {', '.join(archive.files) or 'none'}"
            )
        arrays = {}
        for key in keys:
            try:
                arrays[key] = archive[key]
            except ValueError as error:
                if "allow_pickle" not in str(error):
                    raise ValueError(f"{path}[{key}] could not be read ({error}); the file may be corrupted") from error
                raise ValueError(
                    f"{path}[{key}] holds Python objects, which need pickle to load; nablanet never unpickles "
                    f"data files, so save plain numeric arrays"
                ) from error
            except (EOFError, OSError, zipfile.BadZipFile, zlib.error) as error:
                raise ValueError(f"{path}[{key}] could not be read ({error}); the file may be truncated or corrupted") from error
    return arrays


def load_npz(path, x_key: str = "X", y_key: str | None = "y"):
    """Inputs and targets from an ``.npz`` file written by ``np.savez``, never unpickling anything.

    Args:
        path: the file.
        x_key: name of the input array (samples along axis 0).
        y_key: name of the target array, or ``None`` to read only the inputs.

    Returns:
        ``(X, y)`` (``y`` is None when ``y_key`` is None).

    Raises:
        FileNotFoundError: no such file.
        ValueError: a key is missing (the message lists the keys present), an array holds Python
            objects (which would need pickle), X and y have different numbers of rows, X is a
            scalar, or a float array holds NaN or infinity.

    Example:
        >>> import tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = folder.name + "/data.npz"
        >>> np.savez(path, features=np.arange(6.0).reshape(3, 2), labels=np.array([0, 1, 1]))
        >>> X, y = load_npz(path, "features", "labels")
        >>> X.shape, y.tolist()
        ((3, 2), [0, 1, 1])
        >>> folder.cleanup()
    """
    keys = (x_key,) if y_key is None else (x_key, y_key)
    arrays = _load_npz_arrays(path, keys)
    X = arrays[x_key]
    y = None if y_key is None else arrays[y_key]
    if X.ndim == 0:
        raise ValueError(f"{path}[{x_key}] is a scalar; expected an array with samples along axis 0")
    _check_finite(X, f"{path}[{x_key}]")
    if y is not None:
        if y.ndim == 0 or len(y) != len(X):
            raise ValueError(
                f"{path}[{x_key}] has {len(X)} rows but {path}[{y_key}] has "
                f"{'none (a scalar)' if y.ndim == 0 else len(y)}; they must match"
            )
        _check_finite(y, f"{path}[{y_key}]")
    return X, y


def _check_finite(array, source: str) -> None:
    if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
        position = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(f"{source} holds {array[position]} at index {position}; the data must be finite numbers")


def load_csv(path, target="label", *, delimiter: str = ",", header: bool = True, dtype=np.float64):
    """A numeric table from a CSV file: every column but ``target`` becomes a feature.

    Args:
        path: the file (UTF-8; a byte-order mark is ignored; cells may be quoted with ``"``).
        target: name of the target column (needs ``header=True``) or its 0-based position.
        delimiter: the character between cells.
        header: whether the first line names the columns.
        dtype: floating dtype of ``X``.

    Returns:
        ``(X, y, feature_names)``: ``X`` the feature columns in file order, ``y`` the target
        column as int64 when every value is a whole number (class labels) and float64 otherwise,
        ``feature_names`` a list of the feature columns' names (``"x0", "x1", ...`` by position in
        the file when there is no header).

    Shape:
        X (N, F), y (N,) for a file of N data rows and F + 1 columns.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the target column is not in the header (the message lists the columns), a
            row has a different number of cells than the first, or a cell is empty, not a number,
            NaN or infinite (the message gives its line and column).

    Example:
        >>> import tempfile, pathlib
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = pathlib.Path(folder.name) / "flowers.csv"
        >>> _ = path.write_text("length,width,label\\n5.1,3.5,0\\n6.2,2.9,1\\n")
        >>> X, y, names = load_csv(path, target="label")
        >>> X.tolist(), y.tolist(), names
        ([[5.1, 3.5], [6.2, 2.9]], [0, 1], ['length', 'width'])
        >>> folder.cleanup()
    """
    try:
        return _read_csv(Path(path), target, delimiter, header, dtype)
    except UnicodeDecodeError as error:
        raise not_utf8_error(path, error) from None


def _read_csv(path: Path, target, delimiter: str, header: bool, dtype):
    require_file(path, "CSV file")
    dtype = _float_dtype(dtype)
    with open(path, newline="", encoding="utf-8-sig") as handle:
        first_row = next(csv.reader(handle, delimiter=delimiter), None)
    if first_row is None:
        raise ValueError(f"{path} is empty")
    n_columns = len(first_row)
    names = [name.strip() for name in first_row] if header else [f"x{i}" for i in range(n_columns)]
    target_column = _target_column(target, names, header, path)
    if n_columns < 2:
        raise ValueError(f"{path} has a single column; it needs the target and at least one feature")
    table = _parse_numeric_csv(path, delimiter, header, names)
    y = table[:, target_column]
    X = np.delete(table, target_column, axis=1).astype(dtype, copy=False)
    if np.all(y == np.round(y)) and np.all(np.abs(y) < 2**53):
        y = y.astype(np.int64)
    feature_names = [name for i, name in enumerate(names) if i != target_column]
    return X, y, feature_names


def _target_column(target, names, header: bool, path: Path) -> int:
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        if not -len(names) <= target < len(names):
            raise ValueError(f"target column {target} is out of range: {path} has {len(names)} columns")
        return int(target) % len(names)
    if not isinstance(target, str):
        raise ValueError(f"target must be a column name or a 0-based column position, got {target!r}")
    if not header:
        raise ValueError(f"target {target!r} is a column name but header=False; give the column's position instead")
    matches = [i for i, name in enumerate(names) if name == target]
    if not matches:
        raise ValueError(f"{path} has no column named {target!r}; its columns are {', '.join(map(repr, names))}")
    if len(matches) > 1:
        raise ValueError(f"{path} has {len(matches)} columns named {target!r}; the target must be unambiguous")
    return matches[0]


def _parse_numeric_csv(path: Path, delimiter: str, header: bool, names) -> np.ndarray:
    # NumPy's C parser reads large files fast; when it refuses the file (or reads a NaN), a slower
    # pass with the csv module finds the first bad cell and names its line and column.
    try:
        with warnings.catch_warnings():
            # A header-only file: loadtxt warns and returns nothing; the error below says it better.
            warnings.simplefilter("ignore", UserWarning)
            table = np.loadtxt(
                path, delimiter=delimiter, skiprows=1 if header else 0, dtype=np.float64, ndmin=2,
                comments=None, quotechar='"', encoding="utf-8-sig",
            )
    except ValueError as error:
        _raise_first_bad_cell(path, delimiter, header, names)
        raise ValueError(f"{path} could not be read as numbers: {error}") from error
    if table.size == 0:
        raise ValueError(f"{path} has no data rows")
    if table.shape[1] != len(names):
        raise ValueError(f"{path} has {len(names)} cells in its first line but {table.shape[1]} in its data rows")
    if not np.all(np.isfinite(table)):
        _raise_first_bad_cell(path, delimiter, header, names)
        raise ValueError(f"{path} holds NaN or infinite values; the data must be finite numbers")
    return table


def _data_rows(path: Path, delimiter: str, header: bool, names):
    """``(line number, cells)`` of each data row; a row with another number of cells than ``names`` is refused."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        if header:
            next(reader, None)
        for row in reader:
            if not row:
                continue  # blank lines are skipped, as np.loadtxt skips them
            if len(row) != len(names):
                raise ValueError(f"{path}, line {reader.line_num} has {len(row)} cells but the file has "
                                 f"{len(names)} columns")
            yield reader.line_num, row


def _raise_first_bad_cell(path: Path, delimiter: str, header: bool, names) -> None:
    for line, row in _data_rows(path, delimiter, header, names):
        for name, cell in zip(names, row):
            if not cell.strip():
                raise ValueError(f"{path}, line {line}, column {name!r} is empty; every cell must hold a number")
            try:
                value = float(cell)
            except ValueError:
                raise ValueError(
                    f"{path}, line {line}, column {name!r} holds {cell!r}, which is not a number"
                ) from None
            if not math.isfinite(value):
                raise ValueError(
                    f"{path}, line {line}, column {name!r} holds {cell.strip()!r}; the data must be finite numbers"
                )


def _read_csv_source(source: str, settings: dict, require_targets: bool) -> LoadedData:
    """A CSV file as a config reads it: numbers and text (categories), an unnamed first column of distinct
    values (the index pandas' ``to_csv`` writes) dropped, the features ``settings["features"]`` or every other
    column. Without ``require_targets``, a file lacking the target column is data to predict on: ``y = None``."""
    path = require_file(source, "CSV file")
    header = settings["header"]
    try:
        names, columns = _read_table(path, settings["delimiter"], header, settings["categorical"])
    except UnicodeDecodeError as error:
        raise not_utf8_error(path, error) from None
    # pandas writes its index first, under an empty header cell; a feature without a name is never meant.
    index = 0 if header and names[0] == "" and len(np.unique(columns[0])) == len(columns[0]) else None
    target = settings["target"]
    lacks_target = not require_targets and isinstance(target, str) and header and target not in names
    target_column = None if lacks_target else _target_column(target, names, header, path)
    if settings["features"]:
        feature_columns = [_feature_column(name, names, target_column, path) for name in settings["features"]]
        if len(set(feature_columns)) < len(feature_columns):
            raise ValueError(f"data.features names a column twice: {settings['features']}")
    else:
        feature_columns = [j for j in range(len(names)) if j not in (index, target_column)]
    if not feature_columns:
        raise ValueError(f"{path} has no column besides the target; it needs at least one feature")
    features = [columns[j] for j in feature_columns]
    if all(column.dtype.kind == "f" for column in features):
        X = np.column_stack(features)
    else:
        # Numbers and text side by side: an object table, as a DataFrame's values, for the one-hot encoding.
        X = np.empty((len(features[0]), len(features)), dtype=object)
        for k, column in enumerate(features):
            X[:, k] = column
    y = None if target_column is None else _targets(columns[target_column])
    dropped = "; its unnamed first column, an index as pandas writes, dropped" if index is not None and \
        not settings["features"] else ""
    return LoadedData(X, y, f"{source} ({len(X)} rows{dropped})", feature_names=[names[j] for j in feature_columns])


def _feature_column(name: str, names: list, target_column, path: Path) -> int:
    """The position of the feature column ``name`` (data.features)."""
    if name not in names:
        raise ValueError(f"data.features names {name!r}, but {path} has no such column; its columns are "
                         f"{', '.join(map(repr, names))}")
    if names.index(name) == target_column:
        raise ValueError(f"data.features names the target column {name!r}; a target cannot be a feature")
    return names.index(name)


def _targets(column: np.ndarray) -> np.ndarray:
    """A target column: int64 class labels when every value is a whole number, float64 otherwise, text as it is."""
    if column.dtype.kind == "f" and np.all(column == np.round(column)) and np.all(np.abs(column) < 2**53):
        return column.astype(np.int64)
    return column


def csv_column_names(path, *, delimiter: str = ",", header: bool = True) -> list:
    """The column names of a CSV file: its first line, stripped, or ``x0, x1, ...`` without a header."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            first_row = next(csv.reader(handle, delimiter=delimiter), None)
    except UnicodeDecodeError as error:
        raise not_utf8_error(path, error) from None
    if first_row is None:
        raise ValueError(f"{path} is empty")
    return [name.strip() for name in first_row] if header else [f"x{i}" for i in range(len(first_row))]


def _read_table(path: Path, delimiter: str, header: bool, text_columns=()) -> tuple[list, list]:
    """``(names, columns)`` of a CSV file: a column of numbers as float64, a column of text (or one named in
    ``text_columns``) as its stripped cells (str); a column that mixes the two is refused, naming the cell that
    does not fit, since it is most likely a typo or a marker of a missing value."""
    names = csv_column_names(path, delimiter=delimiter, header=header)
    if len(names) < 2:
        raise ValueError(f"{path} has a single column; it needs the target and at least one feature")
    unknown = [name for name in text_columns if name not in names]
    if unknown:
        raise ValueError(f"data.categorical names {unknown[0]!r}, but {path} has no such column; its columns are "
                         f"{', '.join(map(repr, names))}")
    if not text_columns:
        try:
            # Numbers only: NumPy's fast parser (most files); text anywhere sends the file to the csv module.
            return names, list(_parse_numeric_csv(path, delimiter, header, names).T)
        except ValueError:
            pass
    rows, lines = [], []
    for line, row in _data_rows(path, delimiter, header, names):
        rows.append([cell.strip() for cell in row])
        lines.append(line)
    if not rows:
        raise ValueError(f"{path} has no data rows")
    columns = []
    for j, name in enumerate(names):
        cells = [row[j] for row in rows]
        if "" in cells:
            raise ValueError(f"{path}, line {lines[cells.index('')]}, column {name!r} is empty; every cell must "
                             "hold a value")
        columns.append(np.array(cells) if name in text_columns else _column_values(cells, lines, name, path))
    return names, columns


def _column_values(cells: list, lines: list, name: str, path: Path) -> np.ndarray:
    try:
        # A column of numbers is parsed at once; only a column with text is looked at cell by cell.
        numbers = np.array(cells, dtype=np.float64)
    except ValueError:
        numbers = None
    if numbers is not None:
        if not np.all(np.isfinite(numbers)):
            bad = int(np.argmin(np.isfinite(numbers)))
            raise ValueError(f"{path}, line {lines[bad]}, column {name!r} holds {cells[bad]!r}; the data must be "
                             "finite numbers")
        return numbers
    numbers = []
    for cell in cells:
        try:
            numbers.append(float(cell))
        except ValueError:
            numbers.append(None)
    text = [k for k, number in enumerate(numbers) if number is None]
    if not text:  # numbers that only Python reads, such as 1_000
        return _column_values([repr(number) for number in numbers], lines, name, path)
    if len(text) == len(cells):
        return np.array(cells)
    if len(text) <= len(cells) - len(text):
        raise ValueError(f"{path}, line {lines[text[0]]}, column {name!r} holds {cells[text[0]]!r}, which is not a "
                         f"number (most of the column's cells are); if the column holds categories, name it in "
                         f"data.categorical")
    number = next(k for k, value in enumerate(numbers) if value is not None)
    raise ValueError(f"{path}, line {lines[number]}, column {name!r} holds the number {cells[number]!r} among text; "
                     f"name the column in data.categorical to read all its cells as categories")


def _read_npz_source(source: str, settings: dict, require_targets: bool) -> LoadedData:
    """An NPZ file of inputs and targets as a config reads it; without ``require_targets``, a file
    lacking the target array gives ``y = None``."""
    path = require_file(source, "NPZ file")
    y_key = settings["y_key"]
    if not require_targets:
        with np.load(path, allow_pickle=False) as archive:
            if y_key not in archive.files:
                y_key = None
    X, y = load_npz(path, settings["x_key"], y_key)
    return LoadedData(X, y, f"{source} ({len(X)} samples)")


register_file_format("csv", _read_csv_source, description=".csv", suffixes=(".csv",),
                     options=("target", "features", "categorical", "delimiter", "header"))
register_file_format("npz", _read_npz_source, description=".npz (arrays X and y)", suffixes=(".npz",),
                     options=("x_key", "y_key"))
