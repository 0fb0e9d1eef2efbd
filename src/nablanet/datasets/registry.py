"""The registry of data sets and file formats that ``data.source`` can name, each record made where its data are.

A built-in data set registers itself, in the file that defines it, with :func:`register_dataset`:
its loader, the kind of its targets, its default number of samples, the ``[data]`` keys it reads and
whether it comes with its own test set. A way of reading files (CSV, NPZ, MNIST) registers with
:func:`register_file_format`. ``nablanet train`` configs (``nablanet.experiment``) read these two
tables and know nothing else about data sets, so a new data set is one call in the file that defines
it, and a user's own data set is one call in theirs:

    >>> import numpy as np
    >>> def load_parity(settings):
    ...     X = np.random.default_rng(settings["seed"]).integers(0, 2, (settings["n_samples"], 3))
    ...     return LoadedData(X.astype(float), X.sum(axis=1) % 2, f"parity ({len(X)} samples)")
    >>> record = register_dataset("parity", load_parity, kind="classification", n_samples=64,
    ...                           options=("n_samples",), description="the parity of three bits")
    >>> record.load({"seed": 0, "n_samples": 10}).description
    'parity (10 samples)'
    >>> del DATASETS["parity"]

after which a config's ``data.source = "parity"`` (and ``data.n_samples``) trains on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

__all__ = [
    "Dataset", "FileFormat", "LoadedData", "DATASETS", "FILE_FORMATS", "KINDS", "register_dataset",
    "register_file_format", "detect_file_format",
]

#: The kinds of targets a data set has.
KINDS = ("classification", "regression")


class LoadedData(NamedTuple):
    """A source's arrays before any split, with a description for messages ("digits (1797 samples)").

    ``X_test`` and ``y_test`` are None unless the source has its own test set; ``y`` is None for a
    file read without targets (data to predict on); ``feature_names`` are a CSV file's column names;
    ``label_names`` name the class labels 0, 1, ... when the source knows them (iris' species).
    """

    X: np.ndarray
    y: np.ndarray | None
    description: str
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    feature_names: list | None = None
    label_names: list | None = None


@dataclass(frozen=True)
class Dataset:
    """A built-in data set, as ``data.source = NAME`` names it.

    Attributes:
        name: its name in configs and on the command line.
        load: ``load(settings) -> LoadedData``; ``settings`` holds the run's ``seed`` and the ``[data]``
            keys named in ``options`` (``n_samples`` already replaced by the default when it is 0).
        kind: ``"classification"`` (integer class labels) or ``"regression"`` (real targets).
        description: one line for listings.
        n_samples: the number of samples when ``data.n_samples = 0`` (0: the data set has a fixed size).
        options: the ``[data]`` keys that only some sources read and this one does (``n_samples``,
            ``noise``); a config that sets one of them for a source that does not read it is refused.
        own_test_set: the data come with their own test part, so ``data.test_size`` does not apply.
        test_size: the held-out fraction when the config sets none, or None for ``data.test_size``'s
            default (the gates' four samples are training and test data at once: 0).
    """

    name: str
    load: Callable[[dict], LoadedData]
    kind: str
    description: str
    n_samples: int = 0
    options: tuple = ()
    own_test_set: bool = False
    test_size: float | None = None


@dataclass(frozen=True)
class FileFormat:
    """A way of reading a file (or a folder) that ``data.source`` names, and ``data.format`` too.

    Attributes:
        name: its name as ``data.format`` gives it.
        read: ``read(source, settings, require_targets) -> LoadedData``; ``settings`` holds the ``[data]``
            keys named in ``options``; with ``require_targets=False`` a file without targets gives ``y = None``.
        description: how ``data.source``'s help names such files (".npz (arrays X and y)").
        suffixes: the file endings it reads, lower case with the dot.
        reads_folders: it reads a folder (MNIST's IDX files).
        recognizes: for a format that shares a suffix with another, ``recognizes(path)`` says whether
            the file is of this format (Keras' ``mnist.npz`` is an .npz file of four named arrays).
        options: the ``[data]`` keys it reads that other sources do not (CSV: target, delimiter, header).
        own_test_set: the files hold their own test part.
    """

    name: str
    read: Callable[[str, dict, bool], LoadedData]
    description: str
    suffixes: tuple = ()
    reads_folders: bool = False
    recognizes: Callable[[Path], bool] | None = None
    options: tuple = ()
    own_test_set: bool = False


#: Built-in data sets by name, in the order listings show them.
DATASETS: dict[str, Dataset] = {}
#: File formats by name (data.format), in the order listings show them.
FILE_FORMATS: dict[str, FileFormat] = {}


def register_dataset(name: str, load: Callable[[dict], LoadedData], *, kind: str, description: str,
                     n_samples: int = 0, options=(), own_test_set: bool = False,
                     test_size: float | None = None) -> Dataset:
    """Make ``name`` a built-in data set that configs load with ``load`` (see :class:`Dataset`).

    Registering a name again from the same loader (a module or notebook cell run twice) replaces the
    record; another loader under a taken name is refused.

    Returns:
        The record, as stored in :data:`DATASETS`.

    Raises:
        ValueError: a name that is not a word, a taken name, an unknown kind, or settings that do not fit.
    """
    _check_name(name, "data set")
    if not callable(load):
        raise ValueError(f"data set {name!r}: load must be a function of the settings dict, got {load!r}")
    if kind not in KINDS:
        raise ValueError(f"data set {name!r}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 0:
        raise ValueError(f"data set {name!r}: n_samples must be an integer >= 0, got {n_samples!r}")
    options = _check_options(options, f"data set {name!r}")
    if test_size is not None:
        if own_test_set:
            raise ValueError(f"data set {name!r} has its own test set, so it takes no default test_size")
        if isinstance(test_size, bool) or not isinstance(test_size, (int, float)) or not 0 <= test_size < 1:
            raise ValueError(f"data set {name!r}: test_size must be a fraction in [0, 1), got {test_size!r}")
    _check_free(DATASETS, name, load, "data set")
    record = Dataset(name, load, kind, description, n_samples, options, bool(own_test_set), test_size)
    DATASETS[name] = record
    return record


def register_file_format(name: str, read: Callable[[str, dict, bool], LoadedData], *, description: str,
                         suffixes=(), reads_folders: bool = False, recognizes: Callable[[Path], bool] | None = None,
                         options=(), own_test_set: bool = False) -> FileFormat:
    """Make ``name`` a file format that configs read with ``read`` (see :class:`FileFormat`).

    Raises:
        ValueError: a name that is not a word or is taken by another reader, a suffix without its dot,
            or a format that reads neither a suffix nor folders.
    """
    _check_name(name, "file format")
    if name == "auto":
        raise ValueError("'auto' is data.format's name for finding the format from the path; name the format otherwise")
    if not callable(read):
        raise ValueError(f"file format {name!r}: read must be a function (source, settings, require_targets), "
                         f"got {read!r}")
    suffixes = tuple(suffixes)
    for suffix in suffixes:
        if not (isinstance(suffix, str) and re.fullmatch(r"\.[a-z0-9]+", suffix)):
            raise ValueError(f"file format {name!r}: suffixes are lower-case endings with their dot, such as "
                             f"'.csv', got {suffix!r}")
    if not suffixes and not reads_folders:
        raise ValueError(f"file format {name!r} reads no suffix and no folder, so no path could be read with it")
    options = _check_options(options, f"file format {name!r}")
    _check_free(FILE_FORMATS, name, read, "file format")
    record = FileFormat(name, read, description, suffixes, bool(reads_folders), recognizes, options,
                        bool(own_test_set))
    FILE_FORMATS[name] = record
    return record


def detect_file_format(path) -> str | None:
    """The name of the file format that reads ``path``, found from its suffix (or that it is a folder).

    Where formats share a suffix, one that recognizes the file wins over one that takes any file of
    that suffix; a path of no registered suffix that is a folder goes to the format that reads folders.

    Returns:
        The format's name, or None when no format reads the path (it may not exist).

    Example:
        >>> detect_file_format("measurements.CSV"), detect_file_format("notes.txt")
        ('csv', None)
    """
    path = Path(path)
    suffix = path.suffix.lower()
    candidates = [record for record in FILE_FORMATS.values() if suffix in record.suffixes]
    if candidates:
        recognized = [record for record in candidates if record.recognizes is not None and record.recognizes(path)]
        plain = [record for record in candidates if record.recognizes is None]
        chosen = recognized or plain
        return chosen[0].name if chosen else None
    if path.is_dir():
        folders = [record for record in FILE_FORMATS.values() if record.reads_folders]
        return folders[0].name if folders else None
    return None


def _check_name(name, what: str) -> None:
    if not (isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9_\-]+", name)):
        raise ValueError(f"a {what}'s name must be a word of letters, digits, _ and - (it is written in configs "
                         f"as data.source or data.format), got {name!r}")


def _check_options(options, owner: str) -> tuple:
    options = (options,) if isinstance(options, str) else tuple(options)
    if not all(isinstance(option, str) and option for option in options):
        raise ValueError(f"{owner}: options must be names of [data] keys, got {options!r}")
    return options


def _check_free(table: dict, name: str, function, what: str) -> None:
    """Refuse a taken name unless it is the same definition again (a re-run module or notebook cell)."""
    if name not in table:
        return
    old = table[name].load if what == "data set" else table[name].read
    if _definition(old) != _definition(function):
        raise ValueError(f"{what} {name!r} is already registered (by {_definition(old)}); choose another name")


def _definition(function) -> str:
    return f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', repr(function))}"
