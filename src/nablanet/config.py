"""Experiments as TOML files: the schema of `nablanet train` configs and building data, models and optimizers from them.

A config is a TOML file (read with the standard library's ``tomllib``) whose tables say what to train
on and how; every key has a default, so an empty file (or no file) is the README's main job, a
network on scikit-learn's digits. The reference of every key, with its default, is
:data:`SCHEMA` (``nablanet train --help`` prints it); in short::

    name = "digits"            # run name (default: the file's name): the output folder is <out>/<name>-<timestamp>/
    seed = 0                   # every random draw of the run: splits, initial weights, dropout, batches
    out = "nablanet-runs"      # folder for the run folders

    [data]
    source = "digits"          # a built-in data set (DATASETS) or a .csv / .npz file / MNIST folder or mnist.npz
    test_size = 0.2            # fraction held out for the test score (data sets with their own test set keep it)
    standardize = true         # scale each feature to mean 0, variance 1 (statistics of the training part)

    [model]
    hidden = [512]             # hidden Dense layers' widths (or `layers = [{type = "Dense", out_features = 64}, ...]`)
    activation = "relu"
    dropout = 0.3
    batchnorm = false

    [optimizer]
    name = "adam"              # any keyword of the optimizer class may follow: beta1, momentum, clip_norm, ...
    lr = 1e-3
    schedule = {name = "cosine"}

    [train]
    loss = "auto"              # cross_entropy for class labels, mse for real-valued targets
    epochs = 40
    batch_size = 32
    validation_split = 0.1
    l2 = 0.0
    early_stopping = {patience = 5}   # present = on

    [sweep]                    # `nablanet sweep`: any key above as a dotted path, each with a list of values
    "optimizer.lr" = [1e-3, 1e-2, 1e-1]
    "train.l2" = [0.0, 1e-4, 1e-2]

Keys are checked before anything runs: an unknown key (a typo), a value of the wrong type or out
of range raises :class:`ConfigError` naming the key and listing the valid ones, since a silently
ignored key would train something other than what was asked for.

Example:
    >>> config = load_config(overrides=["data.source=iris", "train.epochs=5"])
    >>> config.get("data.source"), config.get("train.epochs"), config.get("optimizer.name")
    ('iris', 5, 'adam')
    >>> load_config(overrides=["optimizer.learning_rate=0.1"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    nablanet.config.ConfigError: --set: unknown key 'optimizer.learning_rate'; the keys of adam are: name, lr, ...
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import itertools
import json
import math
import os
import re
import textwrap
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "ConfigError", "Config", "Option", "SCHEMA", "DATASETS", "OPTIMIZERS", "SCHEDULES", "LAYERS", "load_config",
    "parse_override", "to_toml", "Data", "Task", "Preprocessor", "load_data", "read_source", "make_task",
    "build_model", "build_optimizer", "fit_config", "score_names", "sweep_settings", "reference",
]


class ConfigError(ValueError):
    """A config file or ``--set`` override that does not fit the schema; the message names the key."""


# ----------------------------------------------------------------------------------------------
# The schema
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Option:
    """One key of the schema: its default, the TOML types it takes, a check of its value, and its help.

    ``kind`` is one of ``str, int, float, bool, int_or_str, str_list, int_list, str_or_str_list,
    table_list, table, any`` (``float`` accepts integers; no kind accepts a bool for a number).
    ``choices`` lists the allowed strings; ``check`` is ``(low, high)`` for numbers, inclusive, with
    None for no bound, ``"positive"``, or ``"fraction"`` for numbers in [0, 1).
    """

    default: object
    kind: str
    help: str
    choices: tuple | None = None
    check: object = None

    def validate(self, value, path: str, source: str):
        if self.kind == "any":
            return value
        kinds = {
            "str": lambda v: isinstance(v, str),
            "int": _is_int,
            "float": _is_number,
            "bool": lambda v: isinstance(v, bool),
            "int_or_str": lambda v: _is_int(v) or isinstance(v, str),
            "str_list": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
            "int_list": lambda v: isinstance(v, list) and all(_is_int(x) for x in v),
            "table_list": lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v),
            "table": lambda v: isinstance(v, dict),
            "str_or_str_list": lambda v: isinstance(v, str) or kinds["str_list"](v),
        }
        if not kinds[self.kind](value):
            raise ConfigError(f"{source}: {path} must be {_KIND_TEXT[self.kind]}, got {_toml_repr(value)}")
        if self.choices is not None and isinstance(value, str) and value not in self.choices:
            raise ConfigError(f"{source}: {path} = {value!r} is not one of {', '.join(self.choices)}")
        if self.check == "positive" and not value > 0:
            raise ConfigError(f"{source}: {path} must be positive, got {value}")
        if self.check == "fraction" and not 0.0 <= value < 1.0:
            raise ConfigError(f"{source}: {path} must be a fraction in [0, 1), got {value}")
        if isinstance(self.check, tuple) and _is_number(value):
            low, high = self.check
            if (low is not None and value < low) or (high is not None and value > high):
                bounds = f">= {low}" if high is None else f"between {low} and {high}"
                raise ConfigError(f"{source}: {path} must be {bounds}, got {value}")
        if self.kind == "int_list" and any(x < 1 for x in value):
            raise ConfigError(f"{source}: {path} must hold positive integers, got {value}")
        return value


_KIND_TEXT = {
    "str": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
    "int_or_str": "an integer or a string", "str_list": "a list of strings", "int_list": "a list of integers",
    "table_list": "a list of tables such as [{type = \"Dense\", out_features = 64}]", "table": "a table",
    "str_or_str_list": "a string or a list of strings",
}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: Built-in data sets: name -> (kind of targets, what it is). Generated ones need only NumPy; the others
#: the ``data`` extra (scikit-learn, mnist1d); nothing is downloaded.
DATASETS = {
    "digits": ("classification", "scikit-learn's 8x8 handwritten digits: 1797 images, 10 classes"),
    "breast_cancer": ("classification", "Wisconsin diagnostic breast cancer: 569 samples, 30 features, 2 classes"),
    "iris": ("classification", "Fisher's iris: 150 flowers, 4 measurements, 3 species"),
    "mnist1d": ("classification", "MNIST-1D generated locally: 40-point signals, 10 classes, own 80/20 test split"),
    "xor": ("classification", "the XOR gate's four input pairs (the notes' first network)"),
    "and": ("classification", "the AND gate's four input pairs"),
    "or": ("classification", "the OR gate's four input pairs"),
    "xnor": ("classification", "the XNOR gate's four input pairs"),
    "polynomial": ("regression", "the notes' y = x0^2 + 3 x0 x1 + x1^2 + 5 on the unit square"),
    "franke": ("regression", "Franke's function on the unit square"),
    "sine_quadratic": ("regression", "sin(2 pi x) + x^2 / 2 on [0, 1], the universal approximation target"),
}
_GATES = ("xor", "and", "or", "xnor")
# Number of samples of the generated data sets when data.n_samples = 0.
_DEFAULT_SAMPLES = {"polynomial": 500, "franke": 500, "sine_quadratic": 200, "mnist1d": 5000}
# Data keys that only some sources read, so that setting one for another source is an error rather than ignored.
_DATA_KEYS_FOR = {
    "n_samples": ("polynomial", "franke", "sine_quadratic", "mnist1d"),
    "noise": ("polynomial", "franke", "sine_quadratic"),
    "target": ("csv",), "delimiter": ("csv",), "header": ("csv",),
    "x_key": ("npz",), "y_key": ("npz",),
    "flatten": ("mnist",),
}
# Sources that come with their own test set, for which data.test_size means nothing.
_OWN_TEST_SET = ("mnist1d", "mnist")


def _optimizer_classes() -> dict:
    from nablanet import optim

    return {"sgd": optim.SGD, "gd": optim.GD, "momentum": optim.Momentum, "nesterov": optim.Nesterov,
            "adagrad": optim.Adagrad, "rmsprop": optim.RMSprop, "adam": optim.Adam, "adamw": optim.AdamW}


def _schedule_classes() -> dict:
    from nablanet.optim import schedules

    return {"constant": schedules.Constant, "step": schedules.StepDecay, "exponential": schedules.ExponentialDecay,
            "inverse_time": schedules.InverseTimeDecay, "cosine": schedules.CosineDecay}


def _layer_classes() -> dict:
    import nablanet.nn as nn

    return {cls.__name__.lower(): cls for cls in (
        nn.Dense, nn.RBF, nn.Dropout, nn.BatchNorm, nn.Activation, nn.Conv1d, nn.Conv2d, nn.MaxPool1d,
        nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d, nn.GlobalAvgPool, nn.Flatten, nn.RNN, nn.GRU, nn.LSTM,
    )}


#: Optimizer names of [optimizer] name (lower case) -> nablanet.optim class.
OPTIMIZERS = ("sgd", "gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
#: Schedule names of [optimizer.schedule] name -> nablanet.optim.schedules class.
SCHEDULES = ("constant", "step", "exponential", "inverse_time", "cosine")
#: Layer types of [[model.layers]] (class names of nablanet.nn, any case).
LAYERS = ("Dense", "RBF", "Dropout", "BatchNorm", "Activation", "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d",
          "AvgPool1d", "AvgPool2d", "GlobalAvgPool", "Flatten", "RNN", "GRU", "LSTM")
# The size a layer reads from its input, filled in from the shape of the previous layer's output.
_INFERRED_SIZE = {"dense": "in_features", "rbf": "in_features", "batchnorm": "num_features", "conv1d": "in_channels",
                  "conv2d": "in_channels", "rnn": "input_size", "gru": "input_size", "lstm": "input_size"}
# Whether the inferred size is the last axis (features) or axis 1 (channels) of the sample batch.
_SIZE_AXIS = {"in_features": -1, "input_size": -1, "num_features": 1, "in_channels": 1}
# Layer arguments a config cannot set: the inferred size, the seed (from the run's seed), the dtype
# (model.dtype) and the recurrent layers' return_state (the model must return one array).
_NOT_FROM_CONFIG = {"self", "rng", "dtype", "return_state"}
# Keyword options of Activation (its **options), by activation.
_ACTIVATION_OPTIONS = ("alpha", "approximate", "axis")

_LOSS_NAMES = ("auto", "cross_entropy", "categorical_cross_entropy", "binary_cross_entropy", "bce",
               "binary_cross_entropy_with_logits", "hinge", "mse", "mean_squared_error", "mae",
               "mean_absolute_error", "huber")
_CLASS_LABEL_LOSSES = ("cross_entropy", "categorical_cross_entropy")
_BINARY_LOSSES = ("binary_cross_entropy", "bce", "binary_cross_entropy_with_logits", "hinge")


def _activation_names() -> tuple:
    from nablanet.nn.functional import ACTIVATIONS

    return tuple(ACTIVATIONS)


#: The config schema: table -> key -> Option (nested dicts are TOML tables). ``optimizer`` also takes
#: the keyword arguments of the chosen optimizer class, ``optimizer.schedule`` the fields of the chosen
#: schedule, and ``sweep`` the dotted paths of the keys to vary (see sweep_settings).
SCHEMA = {
    "name": Option("", "str", "run name, for the output folder <out>/<name>-<timestamp>/ (default: the config "
                              "file's name, or the data source's)"),
    "seed": Option(0, "int", "seed of every random draw: splits, initial weights, dropout masks, batch order"),
    "out": Option("nablanet-runs", "str", "folder that holds the run folders (nablanet train --out DIR "
                                          "writes into DIR itself)"),
    "data": {
        "source": Option("digits", "str", "a built-in data set (" + ", ".join(DATASETS) + ") or a file: .csv, "
                         ".npz (arrays X and y), or MNIST (a folder of the IDX files, or mnist.npz); relative "
                         "paths in a config file are relative to the file"),
        "format": Option("auto", "str", "how to read a file source: auto (from its suffix), csv, npz, mnist",
                         choices=("auto", "csv", "npz", "mnist")),
        "target": Option("label", "int_or_str", "CSV: the target column's name (or 0-based position)"),
        "delimiter": Option(",", "str", "CSV: the character between cells"),
        "header": Option(True, "bool", "CSV: the first line names the columns"),
        "x_key": Option("X", "str", "NPZ: the name of the input array"),
        "y_key": Option("y", "str", "NPZ: the name of the target array"),
        "flatten": Option(True, "bool", "MNIST: images as rows of 784 pixels (false: 28x28 arrays)"),
        "n_samples": Option(0, "int", "generated data (polynomial, franke, sine_quadratic, mnist1d): number of "
                                      "samples; 0 = the data set's default", check=(0, None)),
        "noise": Option(0.0, "float", "generated regression data: standard deviation of Gaussian noise on y",
                        check=(0, None)),
        "input_shape": Option([], "int_list", "reshape each sample to this shape after scaling, e.g. [1, 28, 28] "
                                              "for Conv2d; [] keeps the data's shape"),
        "test_size": Option(0.2, "float", "fraction of the samples held out for the test score (0: none; the "
                                          "gates default to 0, mnist and mnist1d have their own test set)",
                            check="fraction"),
        "stratify": Option(True, "bool", "keep the class proportions in the test split (classification)"),
        "standardize": Option(True, "bool", "scale each feature to mean 0 and variance 1 with the training "
                                            "part's statistics (saved with the model and applied to new data)"),
    },
    "model": {
        "hidden": Option([512], "int_list", "widths of the hidden Dense layers; the output layer is added and "
                                            "sized from the data"),
        "activation": Option("relu", "str", "activation of the hidden layers", choices=None),
        "initializer": Option("auto", "str", "weight initializer of the Dense layers: auto (he_uniform for the "
                                             "ReLU family, glorot_uniform otherwise) or a name of nablanet.nn.init"),
        "dropout": Option(0.3, "float", "dropout probability after each hidden layer (0: none)", check="fraction"),
        "batchnorm": Option(False, "bool", "BatchNorm between each hidden layer's product and its activation"),
        "layers": Option([], "table_list", "instead of hidden/activation/initializer/dropout/batchnorm: the hidden "
                                           "layers as tables {type = \"Dense\", out_features = 64, activation = "
                                           "\"relu\"}, with the arguments of the nablanet.nn class (input sizes "
                                           "are inferred); types: " + ", ".join(LAYERS)),
        "output_activation": Option("auto", "str", "activation of the output layer: auto (sigmoid for "
                                                   "binary_cross_entropy, none otherwise: the losses take logits)"),
        "dtype": Option("float32", "str", "parameter dtype", choices=("float32", "float64")),
    },
    "optimizer": {
        "name": Option("adam", "str", "optimizer: " + ", ".join(OPTIMIZERS) + "; its keyword arguments (momentum, "
                                      "beta1, weight_decay, clip_norm, clip_value, ...) may be given here too",
                       choices=OPTIMIZERS),
        "lr": Option(1e-3, "float", "learning rate (the schedule's starting value)", check="positive"),
        "schedule": {
            "name": Option("cosine", "str", "learning-rate schedule over the optimizer steps: " + ", ".join(SCHEDULES)
                           + "; its fields (step_size, gamma, t_max, eta_min, t0, t1) may be given here too; cosine's "
                             "t_max defaults to all the steps of the run", choices=SCHEDULES),
        },
    },
    "train": {
        "loss": Option("auto", "str", "loss: auto (cross_entropy for integer class labels, mse otherwise) or "
                                      "a name of nablanet.nn.functional.LOSSES", choices=_LOSS_NAMES),
        "epochs": Option(40, "int", "passes over the training data", check=(1, None)),
        "batch_size": Option(32, "int_or_str", "samples per step, or \"all\" for full-batch gradient descent"),
        "shuffle": Option(True, "bool", "reshuffle the samples every epoch"),
        "validation_split": Option(0.1, "float", "fraction of the training part held out for validation "
                                                 "(val_loss, early stopping)", check="fraction"),
        "l1": Option(0.0, "float", "strength of the L1 penalty on the weights", check=(0, None)),
        "l2": Option(0.0, "float", "strength of the L2 penalty on the weights (lambda)", check=(0, None)),
        "metrics": Option("auto", "str_or_str_list", "metrics: auto (accuracy for classification, r2 for "
                                                     "regression) or a list of names (accuracy, mse, mae, r2)"),
        "progress": Option(True, "bool", "show a progress bar (tqdm) while training"),
        "monitor": Option(False, "bool", "watch every layer while training (nablanet.diagnostics.TrainingMonitor): "
                                         "warnings about vanishing or exploding gradients, saturated or dead units, "
                                         "and monitor.txt / monitor.png in the run folder"),
        "early_stopping": {
            "monitor": Option("val_loss", "str", "the History key to watch"),
            "patience": Option(5, "int", "epochs without improvement before stopping", check=(0, None)),
            "min_delta": Option(0.0, "float", "smallest change that counts as an improvement", check=(0, None)),
            "mode": Option("auto", "str", "min, max, or auto (max for accuracy and r2)",
                           choices=("auto", "min", "max")),
            "restore_best_weights": Option(True, "bool", "end with the weights of the best epoch"),
        },
    },
    "sweep": {
        "search": Option("grid", "str", "grid: every combination of the listed values; random: n_iter draws",
                         choices=("grid", "random")),
        "n_iter": Option(10, "int", "random search: number of settings drawn", check=(1, None)),
        "folds": Option(5, "int", "k of the k-fold cross-validation on the training part", check=(2, None)),
        "score": Option("auto", "str", "the score of each fold: auto (accuracy for classification, r2 for "
                                       "regression), or loss, accuracy, mse, mae, r2"),
    },
}
# Tables whose presence switches a feature on (their keys only refine it).
_OPTIONAL_TABLES = ("train.early_stopping",)
# Keys of [sweep] that are settings of the sweep itself; every other key is a config key to vary.
_SWEEP_SETTINGS = tuple(SCHEMA["sweep"])
# Random-search value specifications: {loguniform = [low, high]} and the like.
_DISTRIBUTIONS = ("uniform", "loguniform", "randint")


def reference() -> str:
    """The schema as text, one line per key: ``table.key = default  help`` (for ``--help``)."""
    lines = []

    def walk(table: dict, prefix: str):
        for key, spec in table.items():
            if isinstance(spec, dict):
                walk(spec, f"{prefix}{key}.")
            else:
                lines.append(f"  {prefix}{key} = {_toml_repr(spec.default)}")
                lines.append(textwrap.fill(spec.help, width=96, break_on_hyphens=False, initial_indent=" " * 6,
                                           subsequent_indent=" " * 6))

    walk(SCHEMA, "")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Reading, overriding, checking and writing configs
# ----------------------------------------------------------------------------------------------

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
            _set_path(values, path, value)
        checked = _checked(values, self.source, frozenset(settings) | self.overridden)
        config = Config(checked, self.source, self.given | frozenset(settings), self.overridden | frozenset(settings))
        _finish(config)
        return config

    @property
    def run_name(self) -> str:
        if self.values["name"]:
            return self.values["name"]
        if self.source is not None:
            return self.source.stem
        return Path(self.values["data"]["source"]).stem or "run"


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
        if not source.is_file():
            raise FileNotFoundError(f"config file {str(source)!r} does not exist")
        try:
            raw = tomllib.loads(source.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{source} is not valid TOML: {error}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{source} is not a UTF-8 text file") from None
        raw = _flatten_sweep(raw)
        data_source = raw.get("data", {}).get("source") if isinstance(raw.get("data"), dict) else None
        if isinstance(data_source, str) and data_source not in DATASETS:
            # A relative data path in a file means relative to the file, so a config works from any folder.
            raw["data"]["source"] = str(_relative_to(source.parent, data_source))
    given = set(_dotted_keys(raw))
    overridden = set()
    values = copy.deepcopy(raw)
    for item in overrides:
        key, value = parse_override(item) if isinstance(item, str) else item
        _set_path(values, key, value)
        given.add(key)
        overridden.add(key)
    checked = _checked(_with_defaults(values), source, frozenset(overridden))
    config = Config(checked, source, frozenset(given), frozenset(overridden))
    _finish(config)
    return config


def _relative_to(folder: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(os.path.normpath(folder / path))


def _flatten_sweep(raw: dict) -> dict:
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


def _set_path(values: dict, path: str, value) -> None:
    parts = path.split(".")
    if parts[0] == "sweep" and len(parts) > 1:
        # Inside [sweep] a dotted key names a config key to vary: it stays one key.
        values.setdefault("sweep", {})[".".join(parts[1:])] = value
        return
    node = values
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {path}: {'.'.join(parts[:i + 1])} is a value, not a table")
        node = child
    node[parts[-1]] = value


def _with_defaults(values: dict) -> dict:
    """The schema's defaults, updated by ``values`` (the file and overrides), table by table."""

    def merge(schema: dict, given: dict, path: str) -> dict:
        result = {}
        for key, spec in schema.items():
            full = f"{path}{key}"
            if isinstance(spec, dict):
                if full in _OPTIONAL_TABLES and key not in given:
                    continue
                result[key] = merge(spec, given.get(key, {}) if isinstance(given.get(key), dict) else {}, f"{full}.")
            else:
                result[key] = copy.deepcopy(spec.default)
        for key, value in given.items():
            spec = schema.get(key)
            if isinstance(spec, dict) and isinstance(value, dict):
                continue
            result[key] = value
        return result

    return merge(SCHEMA, values, "")


def _checked(values: dict, source: Path | None, overridden: frozenset) -> dict:
    """Check every key of a complete config against the schema; return it with tables in schema order."""

    def where(path: str) -> str:
        if path in overridden or any(path.startswith(key + ".") for key in overridden):
            return "--set"
        return str(source) if source is not None else "--set"

    def check_table(table: dict, schema: dict, prefix: str, extra: dict | None = None, what: str | None = None):
        allowed = dict(schema)
        allowed.update(extra or {})
        for key, value in table.items():
            path = f"{prefix}{key}"
            if key not in allowed:
                owner = what or (f"[{prefix[:-1]}]" if prefix else "the top level")
                raise ConfigError(f"{where(path)}: unknown key {path!r}; the keys of {owner} are: "
                                  f"{', '.join(allowed)}")
            spec = allowed[key]
            if isinstance(spec, dict):
                if not isinstance(value, dict):
                    raise ConfigError(f"{where(path)}: {path} must be a table, got {_toml_repr(value)}")
                if path == "optimizer.schedule":
                    check_schedule(value, path)
                else:
                    check_table(value, spec, f"{path}.")
            elif spec is not None:
                spec.validate(value, path, where(path))

    def check_schedule(table: dict, path: str):
        name = table.get("name", "constant")
        SCHEMA["optimizer"]["schedule"]["name"].validate(name, f"{path}.name", where(f"{path}.name"))
        cls = _schedule_classes()[name]
        names = [f.name for f in dataclasses.fields(cls) if f.name != "lr"]
        check_table(table, SCHEMA["optimizer"]["schedule"], f"{path}.",
                    extra={n: Option(None, "float", "") for n in names}, what=f"the {name} schedule")
        required = [f.name for f in dataclasses.fields(cls)
                    if f.name not in ("lr", "t_max") and f.default is dataclasses.MISSING and f.name not in table]
        if required:
            raise ConfigError(f"{where(path)}: the {name} schedule needs {', '.join(required)} in [{path}]")

    # The optimizer's own keywords depend on its name, so the name is checked first.
    optimizer = values.get("optimizer", {})
    name = optimizer.get("name", "adam") if isinstance(optimizer, dict) else "adam"
    SCHEMA["optimizer"]["name"].validate(name, "optimizer.name", where("optimizer.name"))
    signature = inspect.signature(_optimizer_classes()[name].__init__).parameters
    optimizer_extra = {key: Option(None, "any", "") for key in signature if key not in ("self", "params", "lr")}
    for key, value in values.items():
        if key not in SCHEMA:
            raise ConfigError(f"{where(key)}: unknown key {key!r}; the top-level keys and tables are: "
                              f"{', '.join(SCHEMA)}")
        if isinstance(SCHEMA[key], dict) and not isinstance(value, dict):
            raise ConfigError(f"{where(key)}: {key} must be a table ([{key}]), got {_toml_repr(value)}")
    for key in ("name", "seed", "out"):
        SCHEMA[key].validate(values[key], key, where(key))
    check_table(values["data"], SCHEMA["data"], "data.")
    check_table(values["model"], SCHEMA["model"], "model.")
    for key, value in values["optimizer"].items():
        if key in optimizer_extra:
            _check_optimizer_value(key, value, where(f"optimizer.{key}"))
    check_table(values["optimizer"], SCHEMA["optimizer"], "optimizer.", extra=optimizer_extra,
                what=name)
    check_table(values["train"], SCHEMA["train"], "train.")
    _check_choices(values, where)
    _check_layers(values["model"]["layers"], where("model.layers"))
    _check_sweep(values["sweep"], values, source, overridden, where)
    return values


def _check_optimizer_value(key: str, value, source: str) -> None:
    if key in ("nesterov", "amsgrad", "centered"):
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: optimizer.{key} must be true or false, got {_toml_repr(value)}")
    elif key == "betas":
        if not (isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)):
            raise ConfigError(f"{source}: optimizer.betas must be a pair of numbers, got {_toml_repr(value)}")
    elif not _is_number(value):
        raise ConfigError(f"{source}: optimizer.{key} must be a number, got {_toml_repr(value)}")


def _check_choices(values: dict, where) -> None:
    """Checks that need other modules' registries (activations, initializers, metrics)."""
    from nablanet.nn.init import get_initializer
    from nablanet.train.metrics import METRICS

    activations = _activation_names()
    model = values["model"]
    if model["activation"] not in activations:
        raise ConfigError(f"{where('model.activation')}: model.activation = {model['activation']!r} is not one of "
                          f"{', '.join(activations)}")
    if model["output_activation"] not in ("auto", "none") + activations:
        raise ConfigError(f"{where('model.output_activation')}: model.output_activation = "
                          f"{model['output_activation']!r} is not one of auto, none, {', '.join(activations)}")
    if model["initializer"] != "auto":
        try:
            get_initializer(model["initializer"])
        except ValueError:
            raise ConfigError(f"{where('model.initializer')}: unknown initializer {model['initializer']!r}; use auto "
                              f"or one of glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_uniform, "
                              f"lecun_normal, normal, uniform, zeros") from None
    train = values["train"]
    batch_size = train["batch_size"]
    if (isinstance(batch_size, str) and batch_size != "all") or (_is_int(batch_size) and batch_size < 1):
        raise ConfigError(f"{where('train.batch_size')}: train.batch_size must be a positive integer or \"all\", "
                          f"got {_toml_repr(batch_size)}")
    metrics = [train["metrics"]] if isinstance(train["metrics"], str) else train["metrics"]
    for metric in metrics:
        if metric != "auto" and metric not in METRICS:
            raise ConfigError(f"{where('train.metrics')}: unknown metric {metric!r}; use auto or some of "
                              f"{', '.join(sorted(METRICS))}")
    score = values["sweep"].get("score", "auto")
    if isinstance(score, str) and score not in ("auto", "loss") and score not in METRICS:
        raise ConfigError(f"{where('sweep.score')}: unknown score {score!r}; use auto, loss or one of "
                          f"{', '.join(sorted(METRICS))}")
    stopping = train.get("early_stopping")
    if stopping is not None and stopping["monitor"].startswith("val_") and train["validation_split"] == 0:
        raise ConfigError(f"{where('train.early_stopping')}: early stopping on {stopping['monitor']} needs "
                          "validation data; set train.validation_split (e.g. 0.1) or monitor = \"loss\"")


def _check_layers(layers: list, source: str) -> None:
    classes = _layer_classes()
    for number, table in enumerate(layers):
        path = f"model.layers[{number}]"
        kind = table.get("type")
        if not isinstance(kind, str) or kind.lower() not in classes:
            raise ConfigError(f"{source}: {path} needs type = one of {', '.join(LAYERS)}, got {_toml_repr(kind)}")
        allowed = _layer_arguments(kind.lower())
        for key in table:
            if key != "type" and key not in allowed:
                raise ConfigError(f"{source}: unknown key {key!r} in {path} ({kind}); its keys are: type, "
                                  f"{', '.join(allowed)}")


def _layer_arguments(kind: str) -> list:
    """The constructor arguments a config may give a layer type (not the inferred size, rng, dtype)."""
    cls = _layer_classes()[kind]
    parameters = inspect.signature(cls.__init__).parameters
    names = []
    for name, parameter in parameters.items():
        if name in _NOT_FROM_CONFIG or name == _INFERRED_SIZE.get(kind):
            continue
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            names.extend(_ACTIVATION_OPTIONS)
        elif parameter.kind is not inspect.Parameter.VAR_POSITIONAL:
            names.append(name)
    return names


def _check_sweep(sweep: dict, values: dict, source, overridden, where) -> None:
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
                raise ConfigError(f"{where(path)}: {path} must be a list of values or, for random search, one of "
                                  f"{{uniform = [low, high]}}, {{loguniform = [low, high]}}, {{randint = [low, high]}}")
            low_high = next(iter(value.values()))
            if not (isinstance(low_high, list) and len(low_high) == 2 and all(_is_number(v) for v in low_high)
                    and low_high[0] < low_high[1]):
                raise ConfigError(f"{where(path)}: {path} needs [low, high] with low < high, "
                                  f"got {_toml_repr(low_high)}")
            if next(iter(value)) == "loguniform" and low_high[0] <= 0:
                raise ConfigError(f"{where(path)}: {path}: loguniform needs low > 0, got {low_high[0]}")
            if sweep.get("search", "grid") == "grid":
                raise ConfigError(f"{where(path)}: {path} is a distribution, which only random search can draw "
                                  f"from; give a list of values or set sweep.search = \"random\"")
            continue
        if not isinstance(value, list) or not value:
            raise ConfigError(f"{where(path)}: {path} must be a non-empty list of values to try, "
                              f"got {_toml_repr(value)}")
        # Each value must make a valid config: check it now rather than after hours of other settings.
        for item in value:
            trial = copy.deepcopy(values)
            trial["sweep"] = {}
            _set_path(trial, key, item)
            try:
                _checked(trial, source, overridden | {key})
            except ConfigError as error:
                raise ConfigError(f"{where(path)}: the value {_toml_repr(item)} of {path} does not fit: "
                                  f"{error}") from None


def _finish(config: Config) -> None:
    """Refuse data keys that the chosen source does not read (they would be silently ignored), and set
    the defaults that depend on the source: the gates' four samples are training and test data at once.
    """

    def where(key: str) -> str:
        if key in config.overridden or config.source is None:
            return "--set"
        return str(config.source)

    source = config.get("data.source")
    kind = source if source in DATASETS else _file_format(config)
    for key, sources in _DATA_KEYS_FOR.items():
        if f"data.{key}" in config.given and kind not in sources:
            raise ConfigError(f"{where(f'data.{key}')}: data.{key} applies to {', '.join(sources)} data, not to "
                              f"{kind} (data.source = {source!r}); remove it")
    if "data.test_size" in config.given and kind in _OWN_TEST_SET:
        raise ConfigError(f"{where('data.test_size')}: data.test_size does not apply to {kind}, which has its own "
                          "test set; remove it")
    if "data.format" in config.given and source in DATASETS:
        raise ConfigError(f"{where('data.format')}: data.format applies to files, not to the built-in data set "
                          f"{source!r}; remove it")
    layered = "model.layers" in config.given and config.get("model.layers")
    for key in ("hidden", "activation", "initializer", "dropout", "batchnorm"):
        if layered and f"model.{key}" in config.given:
            raise ConfigError(f"{where(f'model.{key}')}: model.{key} and model.layers both describe the hidden "
                              "layers; give one of them (in model.layers, each layer takes its own settings)")
    if source in _GATES and "data.test_size" not in config.given:
        config.values["data"]["test_size"] = 0.0


def _file_format(config_or_format, source: str | None = None) -> str:
    """csv, npz or mnist for a file source, from data.format or the path."""
    if isinstance(config_or_format, Config):
        declared, source = config_or_format.get("data.format"), config_or_format.get("data.source")
    else:
        declared = config_or_format
    if declared != "auto":
        return declared
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".npz":
        # Keras' mnist.npz holds x_train/y_train/x_test/y_test; any other archive is read as X, y.
        if path.is_file():
            try:
                with np.load(path, allow_pickle=False) as archive:
                    if {"x_train", "y_train", "x_test", "y_test"} <= set(archive.files):
                        return "mnist"
            except (OSError, ValueError):
                pass
        return "npz"
    if path.is_dir():
        return "mnist"
    if not path.exists():
        raise FileNotFoundError(f"data source {source!r} is neither a built-in data set ({', '.join(DATASETS)}) "
                                f"nor an existing file")
    raise ConfigError(f"cannot tell how to read {source!r}: name a .csv or .npz file or an MNIST folder, or set "
                      f"data.format to csv, npz or mnist")


def to_toml(values: dict) -> str:
    """A config's values as TOML text that ``tomllib`` reads back to the same dict.

    Example:
        >>> text = to_toml({"seed": 1, "data": {"source": "iris"}, "sweep": {"optimizer.lr": [0.1, 0.01]}})
        >>> print(text)
        seed = 1
        <BLANKLINE>
        [data]
        source = "iris"
        <BLANKLINE>
        [sweep]
        "optimizer.lr" = [0.1, 0.01]
        <BLANKLINE>
        >>> tomllib.loads(text)["sweep"]
        {'optimizer.lr': [0.1, 0.01]}
    """
    lines = []

    def table(node: dict, header: str | None):
        scalars = [(k, v) for k, v in node.items() if not isinstance(v, dict)]
        tables = [(k, v) for k, v in node.items() if isinstance(v, dict)]
        if header is not None and (scalars or not tables):
            lines.append(f"[{header}]")
        for key, value in scalars:
            lines.append(f"{_toml_key(key)} = {_toml_repr(value)}")
        if scalars or header is None:
            lines.append("")
        for key, value in tables:
            table(value, _toml_key(key) if header is None else f"{header}.{_toml_key(key)}")

    table(values, None)
    if lines and lines[0] == "":
        lines.pop(0)
    return "\n".join(lines)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_\-]+", key) else json.dumps(key)


def _toml_repr(value) -> str:
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
        return "[" + ", ".join(_toml_repr(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_repr(v)}" for k, v in value.items()) + "}"
    if value is None:
        return "(nothing)"
    return repr(value)


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------

@dataclass
class Data:
    """A data set split for training: arrays with samples along axis 0.

    Attributes:
        X_train, y_train: the training part (cross-validation and validation splits are cut from it).
        X_test, y_test: the test part, or None when data.test_size = 0.
        description: what was loaded, for messages ("digits (1797 samples)").
        feature_names: CSV column names, or None.
        test_description: how the test part was made ("20% held out, stratified").
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    description: str
    feature_names: list | None = None
    test_description: str = ""

    @property
    def y_all(self) -> np.ndarray:
        return self.y_train if self.y_test is None else np.concatenate([self.y_train, self.y_test])


def read_source(data: dict, *, require_targets: bool = True):
    """The arrays of a data source before any split: ``(X, y, X_test, y_test, feature_names, description)``.

    ``X_test`` and ``y_test`` are None unless the source has its own test set (mnist, mnist1d). With
    ``require_targets=False`` a CSV without the target column or an NPZ without the target array
    gives ``y = None`` (data to predict on).
    """
    from nablanet import datasets

    source, seed = data["source"], data.get("seed", 0)
    n_samples = data["n_samples"] or _DEFAULT_SAMPLES.get(source, 0)
    if source in _GATES:
        X, y = datasets.gate(source)
        # The gates are classification problems: labels as integers, so that loss "auto" picks cross_entropy.
        return X, y.astype(np.int64), None, None, None, f"{source} (4 samples)"
    if source in ("digits", "breast_cancer", "iris"):
        X, y = getattr(datasets, f"load_{source}")()
        return X, y, None, None, None, f"{source} ({len(X)} samples)"
    if source in ("polynomial", "franke", "sine_quadratic"):
        X, y = getattr(datasets, f"make_{source}")(n_samples, noise=data["noise"], rng=seed)
        return X, y, None, None, None, f"{source} ({len(X)} samples, noise {data['noise']})"
    if source == "mnist1d":
        X, y, X_test, y_test = datasets.load_mnist1d(num_samples=n_samples)
        return X, y, X_test, y_test, None, f"mnist1d ({len(X)} training and {len(X_test)} test signals)"
    kind = _file_format(data["format"], source)
    if kind == "csv":
        X, y, names = _read_csv(Path(source), data, require_targets)
        return X, y, None, None, names, f"{source} ({len(X)} rows)"
    if kind == "npz":
        X, y = _read_npz(Path(source), data, require_targets)
        return X, y, None, None, None, f"{source} ({len(X)} samples)"
    X, y, X_test, y_test = datasets.load_mnist(source, dtype=np.float32, flatten=data["flatten"])
    return X, y, X_test, y_test, None, f"MNIST from {source} ({len(X)} training and {len(X_test)} test images)"


def _read_csv(path: Path, data: dict, require_targets: bool):
    import csv

    from nablanet.datasets import load_csv

    if not path.is_file():
        raise FileNotFoundError(f"CSV file {str(path)!r} does not exist")
    target = data["target"]
    if not require_targets and isinstance(target, str) and data["header"]:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle, delimiter=data["delimiter"]), [])
        if target not in [name.strip() for name in header]:
            # No target column: every column is a feature. load_csv needs a target, so the first
            # column is read as one and put back in front.
            X, first, names = load_csv(path, 0, delimiter=data["delimiter"], header=True)
            return np.column_stack([first.astype(X.dtype), X]), None, [header[0].strip()] + names
    return load_csv(path, target, delimiter=data["delimiter"], header=data["header"])


def _read_npz(path: Path, data: dict, require_targets: bool):
    from nablanet.datasets import load_npz

    if not path.is_file():
        raise FileNotFoundError(f"NPZ file {str(path)!r} does not exist")
    y_key = data["y_key"]
    if not require_targets:
        with np.load(path, allow_pickle=False) as archive:
            if y_key not in archive.files:
                y_key = None
    return load_npz(path, data["x_key"], y_key)


def load_data(config: Config) -> Data:
    """Load ``config``'s data source and split off the test part (stratified for integer class labels).

    The split depends only on the config (data.test_size, data.stratify, seed), so `nablanet evaluate`
    finds the same test part again from the config saved with the model.

    Args:
        config: a checked Config.

    Returns:
        Data with the training and test parts.
    """
    data = dict(config.get("data"), seed=config.get("seed"))
    X, y, X_test, y_test, names, description = read_source(data)
    if y is None:
        raise ValueError(f"{config.get('data.source')} holds no targets to train on")
    if X_test is not None:
        return Data(X, y, X_test, y_test, description, names, "the data set's own test set")
    test_size = config.get("data.test_size")
    if test_size == 0:
        return Data(X, y, None, None, description, names, "no test part (data.test_size = 0)")
    n_test = math.ceil(test_size * len(X))
    if not 1 <= n_test < len(X):
        raise ValueError(f"data.test_size = {test_size} of {len(X)} samples leaves no training or no test samples")
    class_labels = np.issubdtype(np.asarray(y).dtype, np.integer) and np.ndim(y) == 1
    # Stratifying needs every class at least twice (once on each side of the split).
    if config.get("data.stratify") and class_labels and np.min(np.unique(y, return_counts=True)[1]) >= 2:
        try:
            from sklearn.model_selection import train_test_split
        except ImportError:
            raise ImportError("a stratified test split needs scikit-learn: pip install 'nablanet[data]' "
                              "(or set data.stratify = false)") from None
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=n_test, stratify=y,
                                                            random_state=config.get("seed"))
        how = f"{test_size:.0%} held out, stratified"
    else:
        from nablanet.train.data import train_validation_split

        rng = np.random.default_rng(config.get("seed"))
        X_train, X_test, y_train, y_test = train_validation_split(X, y, test_size, rng=rng)
        how = f"{test_size:.0%} held out at random"
    return Data(X_train, y_train, X_test, y_test, description, names, how)


# ----------------------------------------------------------------------------------------------
# The task: loss, outputs, metrics
# ----------------------------------------------------------------------------------------------

@dataclass
class Task:
    """What the targets ask for: the loss, the number of outputs, the metrics and the score.

    Attributes:
        kind: "classification" or "regression".
        loss: the loss name.
        n_outputs: units of the output layer.
        n_classes: number of classes (0 for regression).
        output_activation: activation of the output layer ("identity" for logits).
        metrics: metric names reported by fit and evaluate.
    """

    kind: str
    loss: str
    n_outputs: int
    n_classes: int
    output_activation: str
    metrics: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Task:
        return cls(**values)


def make_task(config: Config, y: np.ndarray, source: str = "") -> Task:
    """The loss, output size and metrics for targets ``y`` under ``config``'s train.loss.

    Raises:
        ValueError: the targets do not fit the loss (class labels for a binary loss, real values for
            cross_entropy); the message says which loss would.
    """
    y = np.asarray(y)
    loss = config.get("train.loss")
    integer = np.issubdtype(y.dtype, np.integer) or y.dtype == bool
    source = source or config.get("data.source")
    if loss == "auto":
        loss = "cross_entropy" if integer and y.ndim == 1 else "mse"
    if loss in _CLASS_LABEL_LOSSES:
        if y.ndim == 2 and y.shape[1] >= 2:
            n_classes = y.shape[1]
        elif y.ndim == 1 and (integer or np.all(y == np.round(y))):
            if y.min() < 0:
                raise ValueError(f"loss {loss} needs class labels 0 .. K-1, but the targets of {source} go down "
                                 f"to {y.min()}")
            n_classes = int(y.max()) + 1
            if n_classes < 2:
                raise ValueError(f"loss {loss} needs at least two classes, but the targets of {source} are "
                                 f"all {y.min()}")
        else:
            example = y.ravel()[~np.isclose(y.ravel(), np.round(y.ravel()))][:1]
            raise ValueError(f"loss {loss} needs integer class labels, but the targets of {source} are real "
                             f"numbers (e.g. {example[0] if example.size else y.ravel()[0]:g}); use a regression "
                             f"loss such as mse")
        kind, n_outputs = "classification", n_classes
    elif loss in _BINARY_LOSSES:
        values = np.unique(y)
        allowed = (-1, 0, 1) if loss == "hinge" else (0, 1)
        if y.ndim > 1 and y.shape[1] != 1 or not np.all(np.isin(values, allowed)):
            shown = ", ".join(f"{v:g}" for v in values[:6]) + (", ..." if len(values) > 6 else "")
            raise ValueError(f"loss {loss} needs binary labels {'/'.join(map(str, allowed))}, but the targets of "
                             f"{source} take the values {shown}; use cross_entropy for several classes")
        kind, n_outputs, n_classes = "classification", 1, 2
    else:
        kind, n_classes = "regression", 0
        n_outputs = 1 if y.ndim == 1 else int(np.prod(y.shape[1:]))
    output_activation = config.get("model.output_activation")
    if output_activation == "auto":
        output_activation = "sigmoid" if loss in ("binary_cross_entropy", "bce") else "identity"
    elif output_activation == "none":
        output_activation = "identity"
    metrics = config.get("train.metrics")
    if metrics == "auto":
        metrics = ["accuracy"] if kind == "classification" else ["r2"]
    elif isinstance(metrics, str):
        metrics = [metrics]
    return Task(kind, loss, n_outputs, n_classes, output_activation, list(metrics))


def score_names(config: Config, task: Task) -> tuple[str, bool]:
    """The sweep's score name and whether higher is better."""
    score = config.get("sweep.score")
    if score == "auto":
        score = "accuracy" if task.kind == "classification" else "r2"
    return score, score in ("accuracy", "acc", "r2", "r2_score")


# ----------------------------------------------------------------------------------------------
# Preprocessing that travels with the model
# ----------------------------------------------------------------------------------------------

class Preprocessor:
    """What happens to inputs before the network: flatten, standardize, reshape to data.input_shape.

    Fitted on the training part only; saved in the model file's metadata (``to_dict``) so that
    ``nablanet evaluate`` and ``predict`` treat new data exactly as the training data.

    Example:
        >>> prep = Preprocessor(standardize=True).fit(np.array([[0.0, 10.0], [2.0, 30.0]]))
        >>> prep.transform(np.array([[1.0, 20.0]])).tolist()
        [[0.0, 0.0]]
        >>> Preprocessor.from_dict(prep.to_dict()).transform(np.array([[2.0, 30.0]])).tolist()
        [[1.0, 1.0]]
    """

    def __init__(self, *, standardize: bool = True, input_shape=(), dtype=np.float32):
        self.standardize = standardize
        self.input_shape = tuple(input_shape)
        self.dtype = np.dtype(dtype)
        self.n_features = None
        self.mean = None
        self.scale = None

    def fit(self, X) -> Preprocessor:
        from nablanet.preprocessing import StandardScaler

        flat = self._flat(X)
        self.n_features = flat.shape[1]
        if self.standardize:
            scaler = StandardScaler().fit(flat)
            self.mean, self.scale = scaler.mean_, scaler.scale_
        if self.input_shape and math.prod(self.input_shape) != self.n_features:
            raise ValueError(f"data.input_shape {list(self.input_shape)} holds {math.prod(self.input_shape)} values "
                             f"but each sample has {self.n_features}")
        return self

    def transform(self, X) -> np.ndarray:
        X = np.asarray(X)
        flat = self._flat(X)
        if flat.shape[1] != self.n_features:
            raise ValueError(f"the model expects {self.n_features} input values per sample, but the data have "
                             f"{flat.shape[1]}")
        if self.standardize:
            flat = (flat - self.mean) / self.scale
        shape = self.input_shape or X.shape[1:]
        return flat.reshape((len(X),) + tuple(shape)).astype(self.dtype, copy=False)

    @staticmethod
    def _flat(X) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim < 2:
            raise ValueError(f"inputs must have samples along axis 0 and features after it, got shape {X.shape}")
        if not np.issubdtype(X.dtype, np.number):
            raise ValueError(f"inputs must be numbers, got dtype {X.dtype}")
        return X.reshape(len(X), -1).astype(np.float64, copy=False)

    def to_dict(self) -> dict:
        return {"standardize": self.standardize, "input_shape": list(self.input_shape), "dtype": self.dtype.name,
                "n_features": self.n_features,
                "mean": None if self.mean is None else self.mean.tolist(),
                "scale": None if self.scale is None else self.scale.tolist()}

    @classmethod
    def from_dict(cls, values: dict) -> Preprocessor:
        prep = cls(standardize=values["standardize"], input_shape=values["input_shape"], dtype=values["dtype"])
        prep.n_features = values["n_features"]
        if values["mean"] is not None:
            prep.mean, prep.scale = np.asarray(values["mean"]), np.asarray(values["scale"])
        return prep


# ----------------------------------------------------------------------------------------------
# Models and optimizers
# ----------------------------------------------------------------------------------------------

def build_model(config: Config, input_shape: tuple, task: Task, rng: np.random.Generator):
    """The network of ``config``: its hidden layers, then a Dense output layer sized by ``task``.

    Input sizes (Dense.in_features, BatchNorm.num_features, Conv.in_channels, RNN.input_size) are read
    from the shape of the previous layer's output, found by passing a small batch of zeros; a
    Flatten is added before the output layer when the previous output is not flat.

    Args:
        config: a checked Config.
        input_shape: the shape of one (preprocessed) sample.
        task: from make_task.
        rng: the generator of every layer's initial weights and dropout masks.

    Returns:
        An nn.Sequential.
    """
    import nablanet.nn as nn

    model_config = config.get("model")
    dtype = np.dtype(model_config["dtype"])
    layers = []
    shape = (2,) + tuple(input_shape)
    for table in _layer_tables(model_config):
        layer = _make_layer(dict(table), shape, rng, dtype)
        layers.append(layer)
        shape = _output_shape(layer, shape, dtype)
    if len(shape) > 2:
        layers.append(nn.Flatten())
        shape = (shape[0], math.prod(shape[1:]))
    layers.append(nn.Dense(shape[-1], task.n_outputs, task.output_activation, rng=rng, dtype=dtype))
    return nn.Sequential(*layers)


def _layer_tables(model_config: dict) -> list:
    """model.layers as given, or the layer tables that hidden/activation/dropout/batchnorm stand for."""
    if model_config["layers"]:
        return model_config["layers"]
    init = None if model_config["initializer"] == "auto" else model_config["initializer"]
    tables = []
    for width in model_config["hidden"]:
        dense = {"type": "dense", "out_features": width, "init": init}
        if model_config["batchnorm"]:
            # The normalization goes between the product and the activation, as in Ioffe & Szegedy (2015).
            # He/Glorot initializers are chosen by the activation that follows, so it is named for init.
            if init is None:
                relu_family = model_config["activation"] in ("relu", "leaky_relu", "elu")
                dense["init"] = "he_uniform" if relu_family else "glorot_uniform"
            tables += [dense, {"type": "batchnorm"}, {"type": "activation", "activation": model_config["activation"]}]
        else:
            tables.append({**dense, "activation": model_config["activation"]})
        if model_config["dropout"]:
            tables.append({"type": "dropout", "p": model_config["dropout"]})
    return tables


def _make_layer(table: dict, shape: tuple, rng, dtype):
    kind = table.pop("type").lower()
    cls = _layer_classes()[kind]
    parameters = inspect.signature(cls.__init__).parameters
    arguments = {key: value for key, value in table.items() if value is not None}
    size_name = _INFERRED_SIZE.get(kind)
    positional = []
    if size_name:
        if len(shape) < 2:
            raise ValueError(f"{cls.__name__} needs inputs with a feature axis, got samples of shape {shape[1:]}")
        positional.append(shape[_SIZE_AXIS[size_name]])
    if "rng" in parameters:
        arguments["rng"] = rng
    if "dtype" in parameters:
        arguments["dtype"] = dtype
    if kind == "activation":
        activation = arguments.pop("activation", None)
        if activation is None:
            raise ValueError("an Activation layer needs activation = a name such as \"relu\"")
        return cls(activation, **arguments)
    try:
        return cls(*positional, **arguments)
    except TypeError as error:
        # A missing required argument, such as out_features of a Dense layer.
        raise ValueError(f"model.layers: {cls.__name__}: {error}") from None


def _output_shape(layer, shape: tuple, dtype) -> tuple:
    from nablanet.autodiff.state import no_grad

    layer.eval()
    try:
        with no_grad():
            out = layer(np.zeros(shape, dtype=dtype))
    except ValueError as error:
        raise ValueError(f"model.layers: {type(layer).__name__} does not fit inputs of shape {shape[1:]} per sample "
                         f"({error}); set data.input_shape, e.g. [1, 28, 28] for Conv2d") from None
    finally:
        layer.train()
    return tuple(np.shape(out.data if hasattr(out, "_data") else out))


def build_optimizer(config: Config, parameters, steps: int):
    """The optimizer of ``config`` for ``parameters``, its learning rate scheduled over ``steps`` updates."""
    optimizer_config = dict(config.get("optimizer"))
    cls = _optimizer_classes()[optimizer_config.pop("name")]
    lr = optimizer_config.pop("lr")
    schedule = dict(optimizer_config.pop("schedule"))
    schedule_name = schedule.pop("name")
    if schedule_name == "cosine":
        schedule.setdefault("t_max", max(steps, 1))
    if schedule_name == "inverse_time":
        learning_rate = _schedule_classes()[schedule_name](**schedule)
    elif schedule_name == "constant" and not schedule:
        learning_rate = lr
    else:
        learning_rate = _schedule_classes()[schedule_name](lr=lr, **schedule)
    return cls(parameters, lr=learning_rate, **optimizer_config)


def _batch_size(config: Config):
    size = config.get("train.batch_size")
    return None if size == "all" else size


def fit_config(config: Config, X, y, task: Task, *, progress: bool | None = None, validation_data=None,
               callbacks=()):
    """Build and train ``config``'s model on raw ``(X, y)``: fit the preprocessing, the network, the optimizer.

    Args:
        config: a checked Config.
        X, y: the training part (before preprocessing).
        task: from make_task.
        progress: show tqdm's bar; None: train.progress.
        validation_data: raw ``(X_val, y_val)`` instead of train.validation_split.
        callbacks: more callbacks for fit (e.g. a TrainingMonitor), run before early stopping.

    Returns:
        ``(model, history, preprocessor)``.
    """
    from nablanet.train import EarlyStopping, fit

    seed = config.get("seed")
    rng = np.random.default_rng(seed)
    preprocessor = Preprocessor(standardize=config.get("data.standardize"), input_shape=config.get("data.input_shape"),
                                dtype=config.get("model.dtype")).fit(X)
    X = preprocessor.transform(X)
    model = build_model(config, X.shape[1:], task, rng)
    train = config.get("train")
    n_fit = len(X)
    if validation_data is not None:
        validation_data = (preprocessor.transform(validation_data[0]), validation_data[1])
    elif train["validation_split"]:
        n_fit -= math.ceil(train["validation_split"] * len(X))
    batch_size = _batch_size(config)
    steps = train["epochs"] * (1 if batch_size is None else math.ceil(max(n_fit, 1) / batch_size))
    optimizer = build_optimizer(config, model.parameters(), steps)
    callbacks = list(callbacks)
    if "early_stopping" in train:
        callbacks.append(EarlyStopping(**train["early_stopping"]))
    # A diverging run overflows before fit notices the non-finite loss and stops with
    # TrainingDivergedError, which says what happened; NumPy's warnings would only repeat it.
    with np.errstate(over="ignore", invalid="ignore"):
        history = fit(model, X, y, loss=task.loss, optimizer=optimizer, epochs=train["epochs"], batch_size=batch_size,
                      shuffle=train["shuffle"],
                      validation_split=0.0 if validation_data is not None else train["validation_split"],
                      validation_data=validation_data, metrics=task.metrics, callbacks=callbacks, l1=train["l1"],
                      l2=train["l2"], seed=rng, progress=train["progress"] if progress is None else progress)
    return model, history, preprocessor


# ----------------------------------------------------------------------------------------------
# Sweeps
# ----------------------------------------------------------------------------------------------

def sweep_settings(config: Config) -> tuple[list, list]:
    """The keys a sweep varies and the settings to try: ``(keys, [ {key: value, ...}, ... ])``.

    Grid search tries every combination of the listed values (the first key varies slowest); random
    search draws ``sweep.n_iter`` settings with the run's seed: a list is sampled uniformly, and
    ``{uniform = [a, b]}``, ``{loguniform = [a, b]}``, ``{randint = [a, b]}`` (b included) draw numbers.

    Raises:
        ConfigError: [sweep] names no key to vary.

    Example:
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
