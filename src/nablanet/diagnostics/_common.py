"""Shared by the diagnostics: which modules of a network count as layers, and plain-text tables."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nablanet.autodiff.tensor import Tensor
from nablanet.nn.activations import ACTIVATIONS
from nablanet.nn.functional import identity
from nablanet.nn.layers.activation import Activation
from nablanet.nn.layers.container import Sequential
from nablanet.nn.layers.dense import Dense
from nablanet.nn.layers.recurrent import GRU, LSTM, RNN
from nablanet.nn.module import Module


def _activation_of_layer_class(cls) -> str | None:
    """The activation whose record names ``cls`` as its layer (``ReLU`` -> ``"relu"``), or None.

    The identity's layer changes nothing, so it is no layer of the notes' count.
    """
    record = next((record for record in ACTIVATIONS.records.values() if record.layer is cls), None)
    return None if record is None or record.function is identity else record.name


def _is_activation_layer(module: Module) -> bool:
    return isinstance(module, Activation) or _activation_of_layer_class(type(module)) is not None


def _registered_name(activation) -> str | None:
    """The record name of an activation given by name, alias or registered function, or None."""
    record = ACTIVATIONS.records.get(activation)
    return None if record is None else record.name


@dataclass
class Layer:
    """One layer as the diagnostics see it.

    Attributes:
        index: l, counted from 1 in the order the layers are found (the notes' first hidden layer is l = 1).
        name: the dotted path of the module inside the model (as in named_parameters), or its class
            name when the model is itself a single layer.
        module: the Module.
        activation: the name of the activation it ends with (``"relu"``, ``"sigmoid"``, ...), or None
            when unknown (custom functions, GRU/LSTM, convolutions).
        parameters: (name relative to the layer, Parameter) pairs; empty for activation layers.
        unit_axis: the axis of the output that indexes units (neurons or channels).
    """

    index: int
    name: str
    module: Module
    activation: str | None
    parameters: list = field(default_factory=list)
    unit_axis: int = 1

    @property
    def label(self) -> str:
        """``layer 2 (layers.1)``: the number used in messages and the module's path."""
        return f"layer {self.index} ({self.name})"

    @property
    def kind(self) -> str:
        """The class name and activation, e.g. ``Dense sigmoid``."""
        kind = type(self.module).__name__
        if self.activation is not None and not _is_activation_layer(self.module):
            kind += f" {self.activation}"
        return kind


def find_layers(model: Module) -> list[Layer]:
    """The layers of a model: modules that own parameters, and activation layers, depth first.

    nablanet's own layers (Dense, Conv2d, RNN, BatchNorm, ...) are taken whole, with all their
    parameters; containers (Sequential, or a user's Module holding layers as attributes) are looked
    into. A user's module that holds Parameters directly is a layer for those parameters.
    """
    found: list[tuple[str, Module, list]] = []
    _collect(model, "", found)
    layers = []
    for index, (name, module, parameters) in enumerate(found, start=1):
        layers.append(Layer(index, name or type(module).__name__, module, activation_of(module), parameters,
                            _unit_axis(module)))
    return layers


def _collect(module: Module, prefix: str, found: list) -> None:
    if _is_library_layer(module):
        parameters = list(module.named_parameters())
        if parameters or _is_activation_layer(module):
            found.append((prefix, module, parameters))
        return
    children = list(module.named_children())
    in_children = {id(p) for _, child in children for p in child.parameters()}
    own = [(name, p) for name, p in module.named_parameters() if id(p) not in in_children]
    if own:
        found.append((prefix, module, own))
    for name, child in children:
        _collect(child, _join(prefix, name), found)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _is_library_layer(module: Module) -> bool:
    return type(module).__module__.startswith("nablanet.nn.layers") and not isinstance(module, Sequential)


def activation_of(module: Module) -> str | None:
    """The name of the activation a module's output has passed through, or None when unknown.

    A registered activation is named by its record (an alias or the function itself gives the
    record's name: ``Dense(..., activation="logistic")`` ends in ``"sigmoid"``).
    """
    if isinstance(module, Dense):
        return _registered_name(module.activation)
    if isinstance(module, Activation):
        return _registered_name(module.fn) or module.name
    if _activation_of_layer_class(type(module)) is not None:
        return _activation_of_layer_class(type(module))
    if isinstance(module, RNN):
        return "tanh"  # Elman: h' = tanh(x W_ih + b_ih + h W_hh + b_hh)
    return None


def activation_alpha(module: Module):
    """The alpha a module's activation runs with (Dense's, LeakyReLU's, ``Activation(..., alpha=)``), or None."""
    if isinstance(module, Activation):
        return module.options.get("alpha")
    return getattr(module, "alpha", None)


def _unit_axis(module: Module) -> int:
    # Dense and the recurrent layers put features last, (..., units); convolutions, BatchNorm and the
    # activation layers that follow them are channels-first, (N, C, ...), so a unit is axis 1.
    if isinstance(module, (Dense, RNN, GRU, LSTM)):
        return -1
    return 1


def output_array(output) -> np.ndarray | None:
    """The array of a module's output (the first element of a tuple such as an RNN's (outputs, states))."""
    if isinstance(output, (tuple, list)) and output:
        output = output[0]
    if isinstance(output, Tensor):
        return output._data
    if isinstance(output, np.ndarray):
        return output
    return None


def split_parameter_name(dotted: str) -> tuple[str, str]:
    """``"layers.0.W"`` -> ``("layers.0", "W")``; a top-level parameter belongs to ``"(model)"``."""
    if "." not in dotted:
        return "(model)", dotted
    layer, parameter = dotted.rsplit(".", 1)
    return layer, parameter


def format_table(headers: list[str], rows: list[list], *, align: str | None = None) -> str:
    """A plain-text table: a header, a rule, one line per row; columns as wide as their widest cell.

    Args:
        headers: column titles.
        rows: lists of cells (converted with str).
        align: one character per column, ``"l"`` or ``"r"``; default: the first column left, the rest right.
    """
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[k]) for row in cells) for k in range(len(headers))]
    align = align or "l" + "r" * (len(headers) - 1)
    lines = []
    for number, row in enumerate(cells):
        parts = [cell.ljust(width) if side == "l" else cell.rjust(width) for cell, width, side in zip(row, widths, align)]
        lines.append("  ".join(parts).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def format_number(value, spec: str = ".3g") -> str:
    """A float for a table: ``-`` for missing (None or NaN) values."""
    if value is None:
        return "-"
    value = float(value)
    if np.isnan(value):
        return "-"
    return format(value, spec)


def format_percent(value) -> str:
    if value is None or np.isnan(value):
        return "-"
    return f"{100 * float(value):.1f}%"
