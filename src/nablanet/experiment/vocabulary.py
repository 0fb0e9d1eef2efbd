"""The library's names that configs use: optimizers, schedules, layer types, losses, activations.

Each table here copies a vocabulary the library does not publish yet; when the library's own
registries (nablanet.optim, nablanet.nn) name these, this module is the one place to read them from.
"""

from __future__ import annotations

__all__ = ["OPTIMIZERS", "SCHEDULES", "LAYERS"]


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
