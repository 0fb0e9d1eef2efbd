"""Activation functions as layers, for use in Sequential: each the layer of its activation's record."""

from __future__ import annotations

import inspect

from nablanet.checks import check_choice, check_int
from nablanet.nn import functional as F
from nablanet.nn.activations import ACTIVATIONS, activation_layer, activation_record, get_activation
from nablanet.nn.layers.registry import register_layer
from nablanet.nn.module import Module

__all__ = ["Activation", "Identity", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "Softplus", "GELU", "Softmax",
           "Heaviside"]


@register_layer("activation")
class Activation(Module):
    """Any activation by name or function: Activation("tanh"), Activation("leaky_relu", alpha=0.1).

    Example:
        >>> import numpy as np
        >>> Activation("relu")(np.array([-1.0, 2.0]))
        array([0., 2.])
    """

    def __init__(self, activation, **options):
        self.name = activation if isinstance(activation, str) else getattr(activation, "__name__", "custom")
        self.fn = get_activation(activation)
        try:
            inspect.signature(self.fn).bind(None, **options)
        except TypeError as error:
            raise TypeError(f"Activation({self.name!r}): {error} (the options are the activation's own)") from None
        except ValueError:
            pass  # a builtin without a signature: its first call will tell
        record = ACTIVATIONS.records.get(activation)
        if options and record is not None and record.layer is not None and _takes(record.layer, options):
            record.layer(**options)  # the activation's own layer checks the values (alpha, approximate, axis)
        self.options = options

    def forward(self, z):
        return self.fn(z, **self.options)


@register_layer("identity")
@activation_layer("identity")
class Identity(Module):
    """a = z."""

    def forward(self, z):
        return z


@register_layer("sigmoid")
@activation_layer("sigmoid")
class Sigmoid(Module):
    """a = 1 / (1 + e^-z)."""

    def forward(self, z):
        return F.sigmoid(z)


@register_layer("tanh")
@activation_layer("tanh")
class Tanh(Module):
    """a = tanh z."""

    def forward(self, z):
        return F.tanh(z)


@register_layer("relu")
@activation_layer("relu")
class ReLU(Module):
    """a = max(0, z)."""

    def forward(self, z):
        return F.relu(z)


@register_layer("leakyrelu")
@activation_layer("leaky_relu")
class LeakyReLU(Module):
    """a = z for z > 0, alpha z otherwise; alpha defaults to leaky_relu's (0.01)."""

    def __init__(self, alpha: float | None = None):
        self.alpha = activation_record("leaky_relu").resolve_alpha(alpha)

    def forward(self, z):
        return F.leaky_relu(z, self.alpha)


@register_layer("elu")
@activation_layer("elu")
class ELU(Module):
    """a = z for z > 0, alpha (e^z - 1) otherwise; alpha defaults to elu's (1.0)."""

    def __init__(self, alpha: float | None = None):
        self.alpha = activation_record("elu").resolve_alpha(alpha)

    def forward(self, z):
        return F.elu(z, self.alpha)


@register_layer("softplus")
@activation_layer("softplus")
class Softplus(Module):
    """a = log(1 + e^z)."""

    def forward(self, z):
        return F.softplus(z)


@register_layer("gelu")
@activation_layer("gelu")
class GELU(Module):
    """a = z Phi(z) (exact, or approximate="tanh")."""

    def __init__(self, approximate: str = "none"):
        self.approximate = check_choice("GELU", "approximate", approximate, F.GELU_APPROXIMATIONS)

    def forward(self, z):
        return F.gelu(z, self.approximate)


@register_layer("softmax")
@activation_layer("softmax")
class Softmax(Module):
    """a_k = e^{z_k} / sum_j e^{z_j} along axis."""

    def __init__(self, axis: int = -1):
        self.axis = check_int("Softmax", "axis", axis, minimum=None)

    def forward(self, z):
        return F.softmax(z, self.axis)


@register_layer("heaviside")
@activation_layer("heaviside")
class Heaviside(Module):
    """a = 1 if z >= 0 else 0: forward only (a gradient through it raises an error)."""

    def forward(self, z):
        return F.heaviside(z)


def _takes(cls, options: dict) -> bool:
    try:
        inspect.signature(cls).bind(**options)
    except (TypeError, ValueError):
        return False
    return True
