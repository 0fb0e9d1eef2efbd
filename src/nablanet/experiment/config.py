"""Config, a checked experiment configuration, and load_config, which makes one from TOML and ``--set`` overrides."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path

from nablanet.datasets.registry import DATASETS
from nablanet.experiment.data import check_source, unread_keys
from nablanet.experiment.schema import check_values, set_path, with_defaults
from nablanet.experiment.sweep import check_sweep, flatten_sweep
from nablanet.experiment.toml import ConfigError, parse_override, read_toml

__all__ = ["Config", "load_config"]


@dataclass
class Config:
    """A checked config: every key of the schema with its value, and where the values came from.

    Attributes:
        values: nested dict table -> key -> value, complete (defaults filled in).
        source: the config file's path, or None for the defaults.
        given: the dotted keys set explicitly (by the file or ``--set``), so that settings that do not
            apply can be refused rather than ignored, and defaults that depend on the data can apply.
        overridden: the dotted keys set by ``--set`` (for error messages).
    """

    values: dict
    source: Path | None = None
    given: frozenset = frozenset()
    overridden: frozenset = frozenset()

    def get(self, path: str):
        """The value at a dotted path, e.g. ``config.get("optimizer.lr")``."""
        node = self.values
        for part in path.split("."):
            node = node[part]
        return node

    def with_values(self, settings: dict) -> Config:
        """A copy with some dotted keys set (a sweep's setting), checked as ``--set`` overrides are."""
        values = copy.deepcopy(self.values)
        for path, value in settings.items():
            set_path(values, path, value)
        checked = _checked(values, self.source, frozenset(settings) | self.overridden)
        config = Config(checked, self.source, self.given | frozenset(settings), self.overridden | frozenset(settings))
        _finish(config)
        return config

    def unused_keys(self) -> dict:
        """The keys that the other settings leave unread, as ``{dotted key: why}``: the [data] keys the source
        does not read (see :func:`~nablanet.experiment.data.unread_keys`), and beside model.layers the keys of
        [model] that otherwise stand for the hidden layers. load_config refuses them when given, so here
        they hold their defaults."""
        unread = unread_keys(self.values)
        if self.get("model.layers"):
            for key in _HIDDEN_LAYER_KEYS:
                unread[f"model.{key}"] = (f"model.{key} and model.layers both describe the hidden layers; give one "
                                          f"of them (in model.layers, each layer takes its own settings)")
        return unread

    def used_values(self) -> dict:
        """A copy of ``values`` without the :meth:`unused_keys`: what a run saves as its config, which
        load_config reads back to ``values`` (the keys left out take their defaults again) where the whole
        of ``values`` would be refused."""
        values = copy.deepcopy(self.values)
        for path in self.unused_keys():
            table, key = path.split(".")
            del values[table][key]
        return values

    @property
    def run_name(self) -> str:
        """The run's name: the config's ``name``, else the config file's stem, else the data source's stem, else ``"run"``."""
        if self.values["name"]:
            return self.values["name"]
        if self.source is not None:
            return self.source.stem
        return Path(self.values["data"]["source"]).stem or "run"


# The keys of [model] that stand for the hidden layers when model.layers does not list them.
_HIDDEN_LAYER_KEYS = ("hidden", "activation", "initializer", "dropout", "batchnorm")


def load_config(path=None, overrides=()) -> Config:
    """Read a TOML config (or none: the defaults), apply ``--set`` overrides, check every key.

    Args:
        path: the config file, or None for the defaults (the README's main job).
        overrides: ``"KEY=VALUE"`` strings (see parse_override) or ``(key, value)`` pairs, applied in
            order after the file.

    Returns:
        A Config with every key of the schema.

    Raises:
        FileNotFoundError: no such file.
        ConfigError: the file is not valid TOML, or a key is unknown, of the wrong type, or out of range
            (the message names the key and lists the valid ones).
    """
    raw = {}
    source = None
    if path is not None:
        source = Path(path)
        raw = flatten_sweep(read_toml(source))
        data_source = raw.get("data", {}).get("source") if isinstance(raw.get("data"), dict) else None
        if isinstance(data_source, str) and data_source not in DATASETS:
            # A relative data path in a file means relative to the file, so a config works from any folder.
            raw["data"]["source"] = str(_relative_to(source.parent, data_source))
    given = set(_dotted_keys(raw))
    overridden = set()
    values = copy.deepcopy(raw)
    for item in overrides:
        key, value = parse_override(item) if isinstance(item, str) else item
        set_path(values, key, value)
        given.add(key)
        overridden.add(key)
    checked = _checked(with_defaults(values), source, frozenset(overridden))
    config = Config(checked, source, frozenset(given), frozenset(overridden))
    _finish(config)
    return config


def _relative_to(folder: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(os.path.normpath(folder / path))


def _dotted_keys(table: dict, prefix: str = ""):
    """Every key of a (raw) config as a dotted path, tables included; [sweep]'s keys are one level."""
    for key, value in table.items():
        path = f"{prefix}{key}"
        yield path
        if isinstance(value, dict):
            if path == "sweep":
                yield from (f"sweep.{sweep_key}" for sweep_key in value)
            else:
                yield from _dotted_keys(value, f"{path}.")


def _checked(values: dict, source: Path | None, overridden: frozenset) -> dict:
    """Check every key of a complete config, [sweep] included; return it with tables in schema order."""
    values = check_values(values, source, overridden)
    check_sweep(values, source, overridden)
    return values


def _finish(config: Config) -> None:
    """The checks that need the whole config: the source's own (and its defaults), and no key given that
    the other settings leave unread (a data key of another source, hidden layers described twice)."""

    def where(key: str) -> str:
        if key in config.overridden or config.source is None:
            return "--set"
        return str(config.source)

    check_source(config)
    for key, why in config.unused_keys().items():
        if key in config.given:
            raise ConfigError(f"{where(key)}: {why}")
