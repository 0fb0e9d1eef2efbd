"""Networks: Module and Parameter, layers and their registry, activations and losses (functional), initializers, regularizers."""

from nablanet.nn import functional, init, regularizers
from nablanet.nn.layers import *  # noqa: F401,F403
from nablanet.nn.layers import __all__ as _layers_all
from nablanet.nn.module import Module, Parameter, functional_call, module_from_config

__all__ = ["Module", "Parameter", "functional_call", "module_from_config", "functional", "init", "regularizers", *_layers_all]
