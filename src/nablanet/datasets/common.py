"""What the data set loaders share: file, dtype and count checks, and importing the ``data`` extra."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np

DATA_EXTRA = "pip install 'nablanet[data]'"


def _import_extra(module: str, package: str, caller: str):
    """Import an optional dependency, or say which extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{caller} needs {package}, which is not installed; install nablanet's data extra with {DATA_EXTRA}"
        ) from error


def _check_count(n, where: str, name: str, minimum: int = 1) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"{where}: {name} must be an integer >= {minimum}, got {n!r}")


def _float_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating dtype such as float32 or float64, got {dtype}")
    return dtype


def require_file(path, what: str) -> Path:
    """``path`` as a Path, if it names a regular file; else the error that says what it is instead.

    ``what`` names the file for the message ("CSV file", "config file"). A FIFO or a device is refused
    too: reading one may block forever or never end.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{what} {str(path)!r} is a directory, not a file")
    if not path.exists():
        raise FileNotFoundError(f"{what} {str(path)!r} does not exist")
    if not path.is_file():
        raise ValueError(f"{what} {str(path)!r} is not a regular file (a pipe, socket or device)")
    return path


def not_utf8_error(path, error: UnicodeDecodeError) -> ValueError:
    """The error for a text file that is not UTF-8, naming the first bad byte and where it is."""
    byte = error.object[error.start:error.start + 1].hex()
    return ValueError(f"{path} is not UTF-8 text: byte 0x{byte} at offset {error.start} cannot be decoded; "
                      f"save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)")
