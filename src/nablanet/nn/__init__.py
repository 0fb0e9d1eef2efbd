"""Networks: Module and Parameter, layers and their registry, activations and losses (functional) and their registries, initializers, regularizers."""

from nablanet.nn import activations, functional, init, losses, regularizers
from nablanet.nn.activations import (
    ACTIVATIONS,
    ActivationRecord,
    activation_record,
    get_activation,
    register_activation,
)
from nablanet.nn.layers import *  # noqa: F401,F403
from nablanet.nn.layers import __all__ as _layers_all
from nablanet.nn.losses import LOSSES, LossRecord, get_loss, loss_record, register_loss
from nablanet.nn.module import ModelTooLargeError, Module, Parameter, functional_call, module_from_config

__all__ = ["Module", "Parameter", "ModelTooLargeError", "functional_call", "module_from_config", "functional", "init", "regularizers",
           "activations", "losses", "ACTIVATIONS", "ActivationRecord", "register_activation", "activation_record",
           "get_activation", "LOSSES", "LossRecord", "register_loss", "loss_record", "get_loss", *_layers_all]
