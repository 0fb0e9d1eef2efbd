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
    nablanet.experiment.toml.ConfigError: --set: unknown key 'optimizer.learning_rate'; the keys of adam are: name, lr, ...

The modules, in the order a run uses them: ``toml.py`` (TOML in and out, ConfigError), ``vocabulary.py``
(the library's names configs use), ``schema.py`` (every key and its checks), ``sweep.py`` ([sweep]),
``data.py`` (data.source through the registry of :mod:`nablanet.datasets`), ``config.py`` (Config,
load_config), ``task.py`` (loss, outputs, metrics), ``build.py`` (network, optimizer, fit_config);
``Preprocessor`` is :class:`nablanet.preprocessing.Preprocessor`.
"""

from nablanet.experiment.toml import ConfigError, parse_override, to_toml
from nablanet.experiment.vocabulary import LAYERS, OPTIMIZERS, SCHEDULES
from nablanet.experiment.schema import SCHEMA, Option, reference
from nablanet.experiment.sweep import sweep_settings
from nablanet.experiment.data import DATASETS, Data, load_data, read_source
from nablanet.experiment.config import Config, load_config
from nablanet.experiment.task import Task, make_task, score_names
from nablanet.experiment.build import build_model, build_optimizer, fit_config
from nablanet.preprocessing import Preprocessor

__all__ = [
    "ConfigError", "Config", "Option", "SCHEMA", "DATASETS", "OPTIMIZERS", "SCHEDULES", "LAYERS", "load_config",
    "parse_override", "to_toml", "Data", "Task", "Preprocessor", "load_data", "read_source", "make_task",
    "build_model", "build_optimizer", "fit_config", "score_names", "sweep_settings", "reference",
]
