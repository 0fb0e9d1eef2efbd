"""The config schema: every key's Option (default, type, check, help), SCHEMA, reference(), and the checks."""

from __future__ import annotations

import copy
import inspect
import textwrap
from dataclasses import dataclass
from pathlib import Path

from nablanet.datasets.registry import DATASETS, FILE_FORMATS
from nablanet.experiment.toml import ConfigError, toml_value
from nablanet.experiment.vocabulary import (
    LAYERS, LOSS_NAMES, OPTIMIZERS, SCHEDULES, _NOT_FROM_CONFIG, _activation_names, activation_options,
    layer_record, optimizer_record, schedule_record,
)

__all__ = ["Option", "SCHEMA", "reference", "check_values"]


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
        """``value`` if it is of this option's kind and passes its choices and check; else a ConfigError naming ``source`` and the key ``path``."""
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
            raise ConfigError(f"{source}: {path} must be {_KIND_TEXT[self.kind]}, got {toml_value(value)}")
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


def or_list(names) -> str:
    """``a, b or c``, for messages and help."""
    names = list(names)
    return " or ".join(filter(None, [", ".join(names[:-1]), names[-1]])) if names else ""


def _readers_of(key: str) -> str:
    """The data sets and file formats that read data.``key``, for its help."""
    return ", ".join(name for name, record in (*DATASETS.items(), *FILE_FORMATS.items()) if key in record.options)


def _test_size_help() -> str:
    defaults = {}
    for name, record in DATASETS.items():
        if record.test_size is not None:
            defaults.setdefault(record.test_size, []).append(name)
    own = [name for name, record in (*DATASETS.items(), *FILE_FORMATS.items()) if record.own_test_set]
    notes = [f"{', '.join(names)} default to {fraction:g}" for fraction, names in defaults.items()]
    notes += [f"{', '.join(own)} have their own test set"] if own else []
    return "; ".join(["0: none"] + notes)


#: The config schema: table -> key -> Option (nested dicts are TOML tables). ``optimizer`` also takes
#: the keyword arguments of the chosen optimizer class, ``optimizer.schedule`` the fields of the chosen
#: schedule, and ``sweep`` the dotted paths of the keys to vary (see sweep_settings).
SCHEMA = {
    "name": Option("", "str", "run name, for the output folder <out>/<name>-<timestamp>/ (default: the config "
                              "file's name, or the data source's)"),
    "seed": Option(0, "int", "seed of every random draw: splits, initial weights, dropout masks, batch order",
                   check=(0, 2**32 - 1)),
    "out": Option("nablanet-runs", "str", "folder that holds the run folders (nablanet train --out DIR "
                                          "writes into DIR itself)"),
    "data": {
        "source": Option("digits", "str", "a built-in data set (" + ", ".join(DATASETS) + ") or a file: "
                         + or_list(record.description for record in FILE_FORMATS.values()) + "; relative "
                         "paths in a config file are relative to the file"),
        # Its choices are checked against the registry when a config is read (a format may be registered later).
        "format": Option("auto", "str", "how to read a file source: auto (from its suffix), "
                         + ", ".join(FILE_FORMATS)),
        "target": Option("label", "int_or_str", "CSV: the target column's name (or 0-based position); text "
                                                "targets are class names, encoded as classes 0 .. K-1 in sorted order"),
        "features": Option([], "str_list", "CSV: the feature columns' names, in the network's order; [] = every "
                                           "column but the target and an unnamed first column (the index pandas' "
                                           "to_csv writes, which is dropped)"),
        "categorical": Option([], "str_list", "CSV: columns of numbers to one-hot encode as categories (codes such "
                                              "as 1, 2, 3); columns of text are one-hot encoded without being named"),
        "delimiter": Option(",", "str", "CSV: the character between cells"),
        "header": Option(True, "bool", "CSV: the first line names the columns"),
        "x_key": Option("X", "str", "NPZ: the name of the input array"),
        "y_key": Option("y", "str", "NPZ: the name of the target array"),
        "flatten": Option(True, "bool", "MNIST: images as rows of 784 pixels (false: 28x28 arrays)"),
        "n_samples": Option(0, "int", f"generated data ({_readers_of('n_samples')}): number of samples; 0 = the "
                                      "data set's default", check=(0, None)),
        "noise": Option(0.0, "float", "generated regression data: standard deviation of Gaussian noise on y",
                        check=(0, None)),
        "input_shape": Option([], "int_list", "reshape each sample to this shape after scaling, e.g. [1, 28, 28] "
                                              "for Conv2d; [] keeps the data's shape"),
        "test_size": Option(0.2, "float", f"fraction of the samples held out for the test score ({_test_size_help()})",
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
                                      "a name of nablanet.nn.functional.LOSSES", choices=LOSS_NAMES),
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
        "search": Option("grid", "str", "grid: every combination of the listed values; random: n_iter draws; "
                                        "tpe: n_iter settings proposed by Optuna's TPE sampler from the trials "
                                        "already scored (the optuna executor)",
                         choices=("grid", "random", "tpe")),
        "n_iter": Option(10, "int", "random and tpe search: number of settings tried", check=(1, None)),
        "folds": Option(5, "int", "k of the k-fold cross-validation on the training part", check=(2, None)),
        "score": Option("auto", "str", "the score of each fold: auto (accuracy for classification, r2 for "
                                       "regression), or loss, accuracy, mse, mae, r2"),
        "scheduler": Option("", "str", "the address of a Dask scheduler, e.g. tcp://host:8786, to run the fits on "
                                       "its workers (nablanet sweep --scheduler; \"\": none)"),
        "storage": Option("", "str", "the Optuna storage that records the study, e.g. sqlite:///study.db or any "
                                     "database URL, shared by every `nablanet sweep --join` (\"\": study.db in the "
                                     "sweep's folder)"),
        "study": Option("", "str", "the Optuna study's name in the storage (\"\": the run name)"),
        "pruner": Option("median", "str", "optuna executor: stop a trial whose validation loss after an epoch is "
                                          "worse than the median of the trials before it at that epoch (median), "
                                          "or never (none)", choices=("median", "none")),
        "heartbeat": Option(60, "int", "optuna executor: seconds between a running trial's signs of life in the "
                                       "study; a trial silent for two of them (its process killed) runs again",
                            check=(1, None)),
    },
}
# Tables whose presence switches a feature on (their keys only refine it).
_OPTIONAL_TABLES = ("train.early_stopping",)
# Keys of [sweep] that are settings of the sweep itself; every other key is a config key to vary.

def reference() -> str:
    """The schema as text, one line per key: ``table.key = default  help`` (for ``--help``)."""
    lines = []

    def walk(table: dict, prefix: str):
        for key, spec in table.items():
            if isinstance(spec, dict):
                walk(spec, f"{prefix}{key}.")
            else:
                lines.append(f"  {prefix}{key} = {toml_value(spec.default)}")
                lines.append(textwrap.fill(spec.help, width=96, break_on_hyphens=False, initial_indent=" " * 6,
                                           subsequent_indent=" " * 6))

    walk(SCHEMA, "")
    return "\n".join(lines)


def locator(source: Path | None, overridden: frozenset):
    """``where(path)``: where the value at a dotted path came from, "--set" or the config file, for messages."""

    def where(path: str) -> str:
        if path in overridden or any(path.startswith(key + ".") for key in overridden):
            return "--set"
        return str(source) if source is not None else "--set"

    return where


def set_path(values: dict, path: str, value) -> None:
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


def with_defaults(values: dict) -> dict:
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


def check_values(values: dict, source: Path | None, overridden: frozenset) -> dict:
    """Check every key of a complete config but [sweep]'s keys to vary against the schema; return it with
    tables in schema order (the sweep's values are checked by sweep.check_sweep, each as one of these)."""
    where = locator(source, overridden)

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
                    raise ConfigError(f"{where(path)}: {path} must be a table, got {toml_value(value)}")
                if path == "optimizer.schedule":
                    check_schedule(value, path)
                else:
                    check_table(value, spec, f"{path}.")
            elif spec is not None:
                spec.validate(value, path, where(path))

    def check_schedule(table: dict, path: str):
        name = table.get("name", "constant")
        SCHEMA["optimizer"]["schedule"]["name"].validate(name, f"{path}.name", where(f"{path}.name"))
        arguments = schedule_record(name).arguments
        names = [n for n in arguments if n != "lr"]
        # A field's TOML kind is its default's (OneCycle's anneal_strategy, three_phase), a sequential
        # schedule's parts are tables (each checked as a schedule) and its milestones integers; numbers otherwise.
        kinds = {str: "str", bool: "bool"}
        fields = {"schedules": "table_list", "milestones": "int_list"}
        check_table(table, SCHEMA["optimizer"]["schedule"], f"{path}.",
                    extra={n: Option(None, fields.get(n, kinds.get(type(arguments[n]), "float")), "") for n in names},
                    what=f"the {name} schedule")
        if name == "sequential":
            for i, part in enumerate(table.get("schedules", ())):
                check_schedule(part, f"{path}.schedules[{i}]")
        # The run's length fills t_max (cosine) and total_steps (one_cycle) when they are not given.
        required = [n for n, default in arguments.items()
                    if n not in ("lr", "t_max", "total_steps") and default is inspect.Parameter.empty
                    and n not in table]
        if required:
            raise ConfigError(f"{where(path)}: the {name} schedule needs {', '.join(required)} in [{path}]")

    # The optimizer's own keywords depend on its name, so the name is checked first.
    optimizer = values.get("optimizer", {})
    name = optimizer.get("name", "adam") if isinstance(optimizer, dict) else "adam"
    SCHEMA["optimizer"]["name"].validate(name, "optimizer.name", where("optimizer.name"))
    optimizer_extra = {key: Option(None, "any", "") for key in optimizer_record(name).hyperparameters}
    for key, value in values.items():
        if key not in SCHEMA:
            raise ConfigError(f"{where(key)}: unknown key {key!r}; the top-level keys and tables are: "
                              f"{', '.join(SCHEMA)}")
        if isinstance(SCHEMA[key], dict) and not isinstance(value, dict):
            raise ConfigError(f"{where(key)}: {key} must be a table ([{key}]), got {toml_value(value)}")
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
    return values


def _check_optimizer_value(key: str, value, source: str) -> None:
    if key in ("nesterov", "amsgrad", "centered"):
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: optimizer.{key} must be true or false, got {toml_value(value)}")
    elif key == "betas":
        if not (isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)):
            raise ConfigError(f"{source}: optimizer.betas must be a pair of numbers, got {toml_value(value)}")
    elif not _is_number(value):
        raise ConfigError(f"{source}: optimizer.{key} must be a number, got {toml_value(value)}")


def _check_choices(values: dict, where) -> None:
    """Checks that need other modules' registries (file formats, activations, initializers, metrics)."""
    from nablanet.nn.init import get_initializer
    from nablanet.train.metrics import METRICS

    formats = ("auto",) + tuple(FILE_FORMATS)
    if values["data"]["format"] not in formats:
        raise ConfigError(f"{where('data.format')}: data.format = {values['data']['format']!r} is not one of "
                          f"{', '.join(formats)}")
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
                          f"got {toml_value(batch_size)}")
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
    for number, table in enumerate(layers):
        path = f"model.layers[{number}]"
        kind = table.get("type")
        if layer_record(kind) is None:
            raise ConfigError(f"{source}: {path} needs type = one of {', '.join(LAYERS)}, got {toml_value(kind)}")
        allowed = _layer_arguments(kind)
        for key in table:
            if key != "type" and key not in allowed:
                raise ConfigError(f"{source}: unknown key {key!r} in {path} ({kind}); its keys are: type, "
                                  f"{', '.join(allowed)}")


def _layer_arguments(kind: str) -> list:
    """The constructor arguments a config may give a layer type (not the inferred size, rng, dtype)."""
    record = layer_record(kind)
    names = [name for name in record.arguments if name not in _NOT_FROM_CONFIG and name != record.size_argument]
    if record.takes_options:
        names.extend(activation_options())
    return names
