"""Containers: Sequential."""

from __future__ import annotations

from nablanet.nn.layers.registry import register_layer
from nablanet.nn.module import Module

__all__ = ["Sequential"]


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
