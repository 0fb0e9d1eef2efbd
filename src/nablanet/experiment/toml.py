"""TOML in and out: reading config files and ``--set`` values with tomllib, writing configs back, ConfigError."""

from __future__ import annotations

import json
import math
import re
import tomllib
from pathlib import Path

import numpy as np
import tomli_w

from nablanet.datasets.common import require_file

__all__ = ["ConfigError", "parse_override", "read_toml", "to_toml", "toml_value"]


class ConfigError(ValueError):
    """A config file or ``--set`` override that is not TOML or does not fit the schema; the message names the key."""


def parse_override(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` of ``--set`` as (dotted key, value), the value read as a TOML value.

    A value that is not valid TOML is taken as a string, so ``data.source=iris`` needs no quotes.

    Example:
        >>> parse_override("optimizer.lr=1e-2"), parse_override("data.source=iris")
        (('optimizer.lr', 0.01), ('data.source', 'iris'))
        >>> parse_override("model.hidden=[64, 32]")
        ('model.hidden', [64, 32])
    """
    key, separator, raw = text.partition("=")
    key = key.strip()
    if not separator or not key:
        raise ConfigError(f"--set expects KEY=VALUE (e.g. optimizer.lr=0.01), got {text!r}")
    if not re.fullmatch(r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*", key):
        raise ConfigError(f"--set: {key!r} is not a dotted key such as optimizer.lr")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def read_toml(path: Path) -> dict:
    """The tables of a TOML file, read with the standard library's ``tomllib``.

    Raises:
        FileNotFoundError: no such file (IsADirectoryError: a directory).
        ConfigError: the file is not valid TOML or not UTF-8 text.
    """
    path = require_file(path, "config file")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a UTF-8 text file") from None


def to_toml(values: dict) -> str:
    """A config's values as TOML text (written by tomli-w) that ``tomllib`` reads back to the same dict.

    NumPy scalars and tuples are written as the numbers and arrays they hold; a None value, which TOML
    cannot hold, is refused with its key.

    Example:
        >>> text = to_toml({"seed": 1, "data": {"source": "iris"}, "sweep": {"optimizer.lr": [0.1, 0.01]}})
        >>> print(text)
        seed = 1
        <BLANKLINE>
        [data]
        source = "iris"
        <BLANKLINE>
        [sweep]
        "optimizer.lr" = [
            0.1,
            0.01,
        ]
        <BLANKLINE>
        >>> tomllib.loads(text)["sweep"]
        {'optimizer.lr': [0.1, 0.01]}
    """
    return tomli_w.dumps(_plain(values, ""))


def _plain(value, path: str):
    """``value`` with NumPy scalars as Python numbers and tuples as lists, as tomli-w takes them."""
    if isinstance(value, dict):
        return {key: _plain(item, f"{path}.{key}" if path else str(key)) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, np.generic):
        return value.item()
    if value is None:
        raise ValueError(f"to_toml: {path} is None, which TOML cannot write")
    return value


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_\-]+", key) else json.dumps(key)


def toml_value(value) -> str:
    """``value`` written as TOML writes it, for to_toml and for messages (None, which TOML has not, as "(nothing)")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    if value is None:
        return "(nothing)"
    return repr(value)
