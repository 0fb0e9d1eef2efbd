"""What the data set loaders share: the dtype and count checks, and importing the ``data`` extra."""

from __future__ import annotations

import importlib

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
