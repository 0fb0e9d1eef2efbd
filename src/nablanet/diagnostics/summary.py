"""A model's layers with their output shapes, parameter counts and operations per sample, as a table.

``Module.summary()`` prints it (Keras' habit), ``summarize`` returns it as data, ``nablanet summary``
prints it for a model file, and a ModelSummary shows itself as an HTML table in Jupyter.

The layers are what ``Module._repr_html_`` lists: a container's children (a Sequential's layers, a
user's module's attributes), or the model itself when it is one layer. One sample of zeros goes
through the model in evaluation mode; each layer's output shape is read from its forward hook and its
operations counted by ``count_ops`` on the input it received there, so a layer's count is its own
forward pass, and the totals are those of the whole model (forward and backward).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nablanet.autodiff.introspect import count_ops
from nablanet.autodiff.state import no_grad
from nablanet.autodiff.tensor import Tensor
from nablanet.diagnostics._common import format_table, output_array
from nablanet.nn.layers.conv import Conv1d, Conv2d
from nablanet.nn.layers.dense import RBF, Dense
from nablanet.nn.layers.recurrent import GRU, LSTM, RNN
from nablanet.nn.module import Module
from nablanet.nn.printing import html_table, layer_rows, settings_line

__all__ = ["summarize", "ModelSummary", "LayerSummary", "input_shape_of"]

# Settings longer than this are cut in the text table (the HTML table and the data keep them whole).
_SETTINGS_WIDTH = 64


@dataclass(frozen=True)
class LayerSummary:
    """One row of a summary.

    Attributes:
        name: the layer's name in the model (``layers.0``), or its class name for a one-layer model.
        kind: its class name.  settings: its constructor arguments, as its repr writes them, on one line.
        output_shape: its output for one sample, the batch axis as None: ``(None, 512)``.
        parameters: the number of values in its Parameters.
        forward_ops: the floating-point operations of its forward pass on one sample.
    """

    name: str
    kind: str
    settings: str
    output_shape: tuple
    parameters: int
    forward_ops: int


@dataclass(frozen=True, repr=False)
class ModelSummary:
    """A model's summary: ``str()`` is the text table, ``_repr_html_`` the table for Jupyter.

    Attributes:
        name: the model's name in the title (its class name, or the file it was read from).
        input_shape: one sample's shape.  dtype: the input's dtype.
        layers: LayerSummary rows.
        parameters: the model's parameter count.
        forward_ops, backward_ops: the operations of one sample's forward pass and of the gradient
            (reverse) pass through it.
    """

    name: str
    input_shape: tuple
    dtype: np.dtype
    layers: tuple
    parameters: int
    forward_ops: int
    backward_ops: int

    @property
    def total_ops(self) -> int:
        """Operations per sample of the forward and the backward pass together."""
        return self.forward_ops + self.backward_ops

    def _header(self) -> str:
        return f'Model: "{self.name}"  (input: one sample of shape {self.input_shape}, {np.dtype(self.dtype).name})'

    def _footer(self) -> list[str]:
        return [f"Total params: {self.parameters:,}",
                f"Operations per sample: forward {self.forward_ops:,}, backward (gradient) {self.backward_ops:,}, "
                f"total {self.total_ops:,}"]

    def _cells(self, cut: bool) -> list[list[str]]:
        def settings(text):
            return text if not cut or len(text) <= _SETTINGS_WIDTH else text[:_SETTINGS_WIDTH - 3] + "..."

        return [[f"{row.name} ({row.kind})", settings(row.settings), str(row.output_shape), f"{row.parameters:,}",
                 f"{row.forward_ops:,}"] for row in self.layers]

    def __str__(self) -> str:
        table = format_table(_HEADERS, self._cells(cut=True), align="lllrr")
        return "\n".join([self._header(), table, *self._footer()])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return html_table(_HEADERS, self._cells(cut=False), caption=self._header(), right_columns=2,
                          notes=self._footer())


_HEADERS = ["Layer (type)", "Settings", "Output shape", "Params", "Forward ops"]


def summarize(model: Module, input_shape=None, *, dtype=None, name: str | None = None) -> ModelSummary:
    """The summary of ``model`` for one sample of ``input_shape`` (see ``Module.summary``).

    Args:
        model: a Module.
        input_shape: one sample's shape (an int or a tuple of positive ints); default: what the first
            Dense or RBF layer takes, ``(in_features,)``.
        dtype: the input's dtype; default: the parameters' (float32 for a model without any).
        name: the title's name; default: the model's class name.

    Raises:
        ValueError: the input shape is not given and the model does not fix it (its first layer is a
            convolution or a recurrent layer), the shape is not positive integers, or the model
            cannot take a sample of that shape.

    Example:
        >>> import nablanet.nn as nn
        >>> model = nn.Sequential(nn.Dense(4, 8, activation="relu", rng=0), nn.Dense(8, 3, rng=0))
        >>> table = summarize(model)
        >>> [(row.name, row.output_shape, row.parameters) for row in table.layers]
        [('layers.0', (None, 8), 40), ('layers.1', (None, 3), 27)]
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary: expected a nablanet.nn.Module, got {type(model).__name__}")
    shape = _checked_shape(input_shape) if input_shape is not None else input_shape_of(model)
    if shape is None:
        raise ValueError(_unknown_shape_message(model))
    if dtype is None:
        dtype = model.parameters()[0].data.dtype if model.parameters() else np.float32
    x = np.zeros((1,) + shape, dtype=np.dtype(dtype))
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        calls = _layer_calls(model, x, shape)
        rows = tuple(LayerSummary(row_name, type(layer).__name__, settings_line(layer),
                                  _batch_free(output), layer.num_parameters(), _forward_ops(layer, inputs))
                     for row_name, layer, inputs, output in calls)
        whole = count_ops(model, x)
    finally:
        for module, mode in modes:
            module.training = mode
    return ModelSummary(name or type(model).__name__, shape, np.dtype(dtype), rows, model.num_parameters(),
                        whole.forward_total, whole.reverse_total)


def _layer_calls(model: Module, x: np.ndarray, shape: tuple) -> list:
    """(name, layer, positional inputs, output) of each call of a row's layer, in the order they finish."""
    calls = []
    handles = []
    for row_name, layer in layer_rows(model):
        def record(module, inputs, output, row_name=row_name):
            calls.append((row_name, module, [_array(value) for value in inputs], output))

        handles.append(layer.register_forward_hook(record))
    try:
        with no_grad():
            output = model(x)
    except (ValueError, TypeError, IndexError) as error:
        raise ValueError(f"summary: the model cannot take one sample of shape {shape}: {error}") from None
    finally:
        for handle in handles:
            handle.remove()
    # A model whose listed children its forward never calls (they only hold weights) is one row.
    return calls or [("model", model, [x], output)]


def _array(value):
    return value._data if isinstance(value, Tensor) else value


def _forward_ops(layer: Module, inputs: list) -> int:
    arrays = [i for i, value in enumerate(inputs) if isinstance(value, np.ndarray)]
    return count_ops(layer, *inputs, argnums=arrays).forward_total


def _batch_free(output) -> tuple:
    array = output_array(output)
    return () if array is None else (None,) + array.shape[1:]


def _checked_shape(input_shape) -> tuple:
    shape = (input_shape,) if np.ndim(input_shape) == 0 else tuple(input_shape)
    if not shape or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1 for n in shape):
        raise ValueError(f"summary: input_shape must be one sample's shape as positive integers, e.g. (1, 28, 28); "
                         f"got {input_shape!r}")
    return tuple(int(n) for n in shape)


def _first_weighted_layer(model: Module):
    # The first layer whose weights take the input decides (activations, dropout and BatchNorm before it
    # keep the width).
    return next((module for module in model.modules()
                 if isinstance(module, (Dense, RBF, Conv1d, Conv2d, RNN, GRU, LSTM))), None)


def input_shape_of(model: Module) -> tuple | None:
    """One sample's shape as the model's first weighted layer fixes it: ``(in_features,)`` for Dense and
    RBF; None when it does not (a convolution or a recurrent layer takes samples of any length).
    """
    first = _first_weighted_layer(model)
    if isinstance(first, Dense) and first.W.data.ndim == 2:
        return (first.W.data.shape[0],)
    if isinstance(first, RBF):
        return (first.centers.data.shape[1],)
    return None


def _unknown_shape_message(model: Module) -> str:
    first = _first_weighted_layer(model)
    if isinstance(first, (Conv1d, Conv2d)):
        channels = first.W.data.shape[1]
        form, example = ((f"({channels}, L)", (channels, 100)) if isinstance(first, Conv1d)
                         else (f"({channels}, H, W)", (channels, 28, 28)))
    elif isinstance(first, (RNN, GRU, LSTM)):
        form, example = f"(T, {first.input_size})", (20, first.input_size)
    else:
        form, example = None, (1, 28, 28)
    described = (f"its first layer is {type(first).__name__}, which takes samples of shape {form} of any size"
                 if form else "it has no Dense or RBF layer to read an input size from")
    return (f"summary: cannot tell the shape of one input sample ({described}); give it, "
            f"e.g. summary(input_shape={example})")
