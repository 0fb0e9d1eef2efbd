"""Containers: Sequential, Residual."""

from __future__ import annotations

from nablanet.nn.layers.registry import register_layer
from nablanet.nn.module import Module

__all__ = ["Sequential", "Residual"]


@register_layer("sequential")
class Sequential(Module):
    """Layers applied one after the other: Sequential(l1, l2, l3)(x) = l3(l2(l1(x))).

    Example:
        >>> import numpy as np
        >>> from nablanet.nn import Dense
        >>> model = Sequential(Dense(2, 8, activation="tanh", rng=0), Dense(8, 1, rng=0))
        >>> model(np.zeros((5, 2), dtype=np.float32)).shape
        (5, 1)
        >>> model.num_parameters()
        33
    """

    def __init__(self, *layers: Module):
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, not a Module")
        self.layers = list(layers)

    @classmethod
    def state_spec(cls, *layers):
        for i, layer in enumerate(layers):
            for name, spec in layer:
                yield f"layers.{i}.{name}", spec

    def add(self, layer: Module) -> Sequential:
        """Append ``layer`` after the last one and return this Sequential (so calls chain)."""
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential.add: {type(layer).__name__} is not a Module")
        self.layers.append(layer)
        # The recorded constructor arguments describe the architecture (config(), model files).
        self._arguments["layers"] = tuple(self.layers)
        return self

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, index):
        return self.layers[index]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)


@register_layer("residual")
class Residual(Module):
    """A residual (skip) connection (He et al., 2016): y = shortcut(x) + layer(x), the shortcut the identity by default.

    The gradient reaches x along both paths: dC/dx = dC/dy (shortcut'(x) + layer'(x)), the identity's
    term passing any depth unchanged.

    Args:
        layer: the branch f, a Module whose output has the shape of the shortcut's.
        shortcut: None (x itself) or a Module (a projection, e.g. a 1 x 1 convolution when f changes
            the number of channels).

    Example:
        >>> import numpy as np
        >>> from nablanet.nn import Dense
        >>> block = Residual(Dense(3, 3, activation="tanh", rng=0))
        >>> block(np.zeros((2, 3), dtype=np.float32)).shape
        (2, 3)
    """

    def __init__(self, layer, shortcut=None):
        for name, value in (("layer", layer), ("shortcut", shortcut)):
            if not isinstance(value, Module) and not (name == "shortcut" and value is None):
                raise TypeError(f"Residual: {name} must be a Module{' or None' if name == 'shortcut' else ''}, "
                                f"got a {type(value).__name__}")
        self.layer, self.shortcut = layer, shortcut

    @classmethod
    def state_spec(cls, layer, shortcut=None):
        for prefix, module in (("layer", layer), ("shortcut", shortcut)):
            for name, spec in module or ():
                yield f"{prefix}.{name}", spec

    def forward(self, x):
        branch = self.layer(x)
        skip = x if self.shortcut is None else self.shortcut(x)
        skip_shape, branch_shape = _shape(skip), _shape(branch)
        if skip_shape != branch_shape:
            raise ValueError(f"Residual: the layer's output of shape {branch_shape} does not match the shortcut's of "
                             f"shape {skip_shape}; give a shortcut that maps the input to the layer's output shape")
        return skip + branch


def _shape(x):
    return tuple(x.shape) if hasattr(x, "shape") else ()
