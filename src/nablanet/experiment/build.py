"""Building what a config describes: the preprocessing, the network, the optimizer, and training them (fit_config)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from nablanet.experiment.schema import locator
from nablanet.experiment.toml import ConfigError
from nablanet.experiment.vocabulary import activation_record, layer_record, optimizer_record, schedule_record

if TYPE_CHECKING:
    from nablanet.experiment.config import Config
    from nablanet.experiment.task import Task

__all__ = ["build_model", "build_optimizer", "fit_config"]


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
    # Where a layer's arguments came from, for messages: model.layers[i], or the keys of [model] that
    # stand for the hidden layers.
    source = locator(config.source, config.overridden)("model.layers" if model_config["layers"] else "model")
    for number, table in enumerate(_layer_tables(model_config)):
        path = f"model.layers[{number}]" if model_config["layers"] else "model"
        layer = _make_layer(dict(table), shape, rng, dtype, f"{source}: {path}")
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
                dense["init"] = activation_record(model_config["activation"]).initializer
            tables += [dense, {"type": "batchnorm"}, {"type": "activation", "activation": model_config["activation"]}]
        else:
            tables.append({**dense, "activation": model_config["activation"]})
        if model_config["dropout"]:
            tables.append({"type": "dropout", "p": model_config["dropout"]})
    return tables


def _make_layer(table: dict, shape: tuple, rng, dtype, where: str):
    """The layer a table describes, for inputs of ``shape``; its constructor's refusal as a ConfigError
    naming ``where`` the table is and the layer class."""
    record = layer_record(table.pop("type"))
    cls = record.cls
    parameters = record.arguments
    arguments = {key: value for key, value in table.items() if value is not None}
    positional = []
    if record.size_argument:
        if len(shape) < 2:
            raise ValueError(f"{cls.__name__} needs inputs with a feature axis, got samples of shape {shape[1:]}")
        positional.append(shape[record.size_axis])
    if "rng" in parameters:
        arguments["rng"] = rng
    if "dtype" in parameters:
        arguments["dtype"] = dtype
    if record.name == "activation":
        activation = arguments.pop("activation", None)
        if activation is None:
            raise ConfigError(f"{where} ({cls.__name__}): an Activation layer needs activation = a name such as "
                              "\"relu\"")
        positional = [activation]
    try:
        return cls(*positional, **arguments)
    except (TypeError, ValueError) as error:
        # An argument the constructor refuses (eps = -1, out_features = 2.5), or a missing one (out_features).
        text = str(error)
        text = text[len(cls.__name__) + 2:] if text.startswith(f"{cls.__name__}: ") else text
        raise ConfigError(f"{where} ({cls.__name__}): {text}") from None


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
    optimizer = optimizer_record(optimizer_config.pop("name"))
    lr = optimizer_config.pop("lr")
    schedule = dict(optimizer_config.pop("schedule"))
    schedule_name = schedule.pop("name")
    learning_rate = lr if schedule_name == "constant" and not schedule else _schedule(schedule_name, schedule, lr, steps)
    return optimizer.build(parameters, lr=learning_rate, **optimizer_config)


def _schedule(name: str, arguments: dict, lr: float, steps: int):
    """The schedule ``name`` at the rate ``lr``, over ``steps`` updates: cosine's t_max and one_cycle's
    total_steps are the run's length where not given, and each part of a sequential schedule is built
    alike over its own span (from its milestone to the next, the last to the end of the run)."""
    arguments = dict(arguments)
    if name == "cosine":
        arguments.setdefault("t_max", max(steps, 1))
    if name == "one_cycle":
        arguments.setdefault("total_steps", max(steps, 2))
    if name == "sequential":
        milestones = list(arguments.get("milestones", ()))
        starts, ends = [0, *milestones], [*milestones, max(steps, milestones[-1] + 1 if milestones else 1)]
        arguments["schedules"] = [_schedule(part.get("name", "constant"), {k: v for k, v in part.items() if k != "name"},
                                            lr, end - start)
                                  for part, start, end in zip(arguments.get("schedules", ()), starts, ends)]
    record = schedule_record(name)
    # A schedule with no lr of its own (inverse_time's t0 / (t + t1), sequential's parts) sets the rate alone.
    return record.build(lr=lr, **arguments) if record.takes_lr else record.build(**arguments)


def _batch_size(config: Config):
    size = config.get("train.batch_size")
    return None if size == "all" else size


def fit_config(config: Config, X, y, task: Task, *, progress: bool | None = None, validation_data=None,
               callbacks=(), feature_names=None, classes=None, distributed: str | None = None):
    """Build and train ``config``'s model on raw ``(X, y)``: fit the preprocessing, the network, the optimizer.

    Args:
        config: a checked Config.
        X, y: the training part (before preprocessing; class names already encoded as 0 .. K-1).
        task: from make_task.
        progress: show tqdm's bar; None: train.progress.
        validation_data: raw ``(X_val, y_val)`` instead of train.validation_split.
        callbacks: more callbacks for fit (e.g. a TrainingMonitor), run before early stopping.
        feature_names: the columns' names (Data.feature_names), kept by the preprocessing so that new
            tables are read by name.
        classes: the class names of text targets (Data.classes), kept by the preprocessing.
        distributed: fit's ``distributed`` (``"mpi"``: data-parallel over MPI's ranks).

    Returns:
        ``(model, history, preprocessor)``: the preprocessor a nablanet.preprocessing.Preprocessor.
    """
    from nablanet.preprocessing import Preprocessor
    from nablanet.train import EarlyStopping, fit

    seed = config.get("seed")
    rng = np.random.default_rng(seed)
    preprocessor = Preprocessor(scaler="standard" if config.get("data.standardize") else None,
                                input_shape=config.get("data.input_shape"), dtype=config.get("model.dtype"),
                                classes=classes).fit(X, feature_names=feature_names)
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
                      l2=train["l2"], seed=rng, progress=train["progress"] if progress is None else progress,
                      distributed=distributed)
    return model, history, preprocessor
