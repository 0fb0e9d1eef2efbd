"""Sweeps: the [sweep] table's checks, and the settings that grid, random or TPE search tries."""

from __future__ import annotations

import copy
import itertools
import math
from typing import TYPE_CHECKING

import numpy as np

from nablanet.experiment.schema import SCHEMA, _is_number, check_values, locator, set_path
from nablanet.experiment.toml import ConfigError, toml_value

if TYPE_CHECKING:
    from nablanet.experiment.config import Config

__all__ = ["sweep_settings", "check_sweep", "flatten_sweep"]

# Keys of [sweep] that are settings of the sweep itself; every other key is a config key to vary.
_SWEEP_SETTINGS = tuple(SCHEMA["sweep"])
# Random-search value specifications: {loguniform = [low, high]} and the like.
_DISTRIBUTIONS = ("uniform", "loguniform", "randint")


def sweep_settings(config: Config) -> tuple[list, list]:
    """The keys a sweep varies and the settings to try: ``(keys, [ {key: value, ...}, ... ])``.

    Grid search tries every combination of the listed values (the first key varies slowest); random
    search draws ``sweep.n_iter`` settings with the run's seed: a list is sampled uniformly, and
    ``{uniform = [a, b]}``, ``{loguniform = [a, b]}``, ``{randint = [a, b]}`` (b included) draw numbers.
    TPE search has ``sweep.n_iter`` settings with nothing fixed in advance: Optuna's sampler fills each
    in, from the trials scored before it, when its trial starts (nablanet.cli.sweep_optuna).

    Raises:
        ConfigError: [sweep] names no key to vary.

    Example:
        >>> from nablanet.experiment import load_config
        >>> config = load_config(overrides=["sweep.optimizer.lr=[0.1, 0.01]", "sweep.train.l2=[0.0, 1e-4]"])
        >>> keys, settings = sweep_settings(config)
        >>> keys, settings[1]
        (['optimizer.lr', 'train.l2'], {'optimizer.lr': 0.1, 'train.l2': 0.0001})
    """
    sweep = config.get("sweep")
    keys = [key for key in sweep if key not in _SWEEP_SETTINGS]
    if not keys:
        raise ConfigError("[sweep] names no key to vary; add e.g. \"optimizer.lr\" = [1e-3, 1e-2, 1e-1] to the "
                          "config's [sweep] table, or --set 'sweep.optimizer.lr=[1e-3, 1e-2]'")
    if sweep["search"] == "grid":
        settings = [dict(zip(keys, values)) for values in itertools.product(*(sweep[key] for key in keys))]
        return keys, settings
    if sweep["search"] == "tpe":
        return keys, [{} for _ in range(sweep["n_iter"])]
    rng = np.random.default_rng(config.get("seed"))
    settings = []
    for _ in range(sweep["n_iter"]):
        setting = {}
        for key in keys:
            spec = sweep[key]
            if isinstance(spec, list):
                setting[key] = spec[int(rng.integers(len(spec)))]
            else:
                (distribution, (low, high)), = spec.items()
                if distribution == "uniform":
                    setting[key] = float(rng.uniform(low, high))
                elif distribution == "loguniform":
                    setting[key] = float(math.exp(rng.uniform(math.log(low), math.log(high))))
                else:
                    setting[key] = int(rng.integers(int(low), int(high) + 1))
        settings.append(setting)
    return keys, settings


def flatten_sweep(raw: dict) -> dict:
    """[sweep] tables written as nested tables become dotted keys: [sweep.optimizer] lr = [...] -> "optimizer.lr"."""
    sweep = raw.get("sweep")
    if not isinstance(sweep, dict):
        return raw
    flat = {}

    def walk(table: dict, prefix: str):
        for key, value in table.items():
            if isinstance(value, dict) and not (set(value) and set(value) <= set(_DISTRIBUTIONS)):
                walk(value, f"{prefix}{key}.")
            else:
                flat[f"{prefix}{key}"] = value

    walk(sweep, "")
    return {**raw, "sweep": flat}


def check_sweep(values: dict, source, overridden: frozenset) -> None:
    """Check [sweep]'s settings and each value of each key it varies (as a config with that value set)."""
    sweep = values["sweep"]
    where = locator(source, overridden)
    for key, value in sweep.items():
        if key in _SWEEP_SETTINGS:
            SCHEMA["sweep"][key].validate(value, f"sweep.{key}", where(f"sweep.{key}"))
            continue
        path = f"sweep.{key}"
        if key.split(".")[0] not in SCHEMA or key.split(".")[0] == "sweep":
            raise ConfigError(f"{where(path)}: unknown key {path!r}; [sweep] takes the settings "
                              f"{', '.join(_SWEEP_SETTINGS)} and config keys to vary as dotted paths such as "
                              f"\"optimizer.lr\" = [1e-3, 1e-2]")
        if isinstance(value, dict):
            if len(value) != 1 or next(iter(value)) not in _DISTRIBUTIONS:
                raise ConfigError(f"{where(path)}: {path} must be a list of values or, for random and tpe search, one of "
                                  f"{{uniform = [low, high]}}, {{loguniform = [low, high]}}, {{randint = [low, high]}}")
            low_high = next(iter(value.values()))
            if not (isinstance(low_high, list) and len(low_high) == 2 and all(_is_number(v) for v in low_high)
                    and low_high[0] < low_high[1]):
                raise ConfigError(f"{where(path)}: {path} needs [low, high] with low < high, "
                                  f"got {toml_value(low_high)}")
            if next(iter(value)) == "loguniform" and low_high[0] <= 0:
                raise ConfigError(f"{where(path)}: {path}: loguniform needs low > 0, got {low_high[0]}")
            if sweep.get("search", "grid") == "grid":
                raise ConfigError(f"{where(path)}: {path} is a distribution, which only random and tpe search "
                                  f"draw from; give a list of values or set sweep.search = \"random\"")
            continue
        if not isinstance(value, list) or not value:
            raise ConfigError(f"{where(path)}: {path} must be a non-empty list of values to try, "
                              f"got {toml_value(value)}")
        # Each value must make a valid config: check it now rather than after hours of other settings.
        for item in value:
            trial = copy.deepcopy(values)
            trial["sweep"] = {}
            set_path(trial, key, item)
            try:
                check_values(trial, source, overridden | {key})
            except ConfigError as error:
                raise ConfigError(f"{where(path)}: the value {toml_value(item)} of {path} does not fit: "
                                  f"{error}") from None
