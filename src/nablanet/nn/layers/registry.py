"""The layer registry: each layer's name, class and which input size it reads, declared beside its class.

``@register_layer("dense", size_argument="in_features", size_axis=-1)`` over a class says that a
config names it "dense" and that its ``in_features`` is the last axis of its input, so a builder that
knows the shape of the previous layer's output fills it in (``build_layer``, the TOML config's
``[[model.layers]]``). ``module_from_config`` rebuilds saved architectures from the same registry,
by class name. Names, aliases and class names are compared without regard to case.

Example:
    >>> import numpy as np
    >>> layer = build_layer("conv2d", (8, 3, 28, 28), out_channels=4, kernel_size=3, rng=0)
    >>> layer.W.shape          # in_channels = 3, read from axis 1 of the input (N, C, H, W)
    (4, 3, 3, 3)
    >>> layer_record("Dense").size_argument, layer_record("Dense").size_axis
    ('in_features', -1)
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from nablanet.nn.module import Module
from nablanet.registry import Registry, check_arguments, signature_defaults

__all__ = ["LayerRecord", "LAYERS", "register_layer", "layer_record", "build_layer"]


@dataclass(frozen=True)
class LayerRecord:
    """What the library knows of a layer besides its class.

    Attributes:
        name: the name configs use ("conv2d"); by convention the class name in lower case.
        cls: the Module subclass.
        aliases: more names for it.
        size_argument: the constructor argument that is a size of the input ("in_features",
            "in_channels", "num_features", "input_size"), or None if the layer has none.
        size_axis: the axis of a batch of inputs, shape (N, ...), that this size is (-1: the
            features of (N, ..., features); 1: the channels of (N, C, ...)); None with no size_argument.

    Derived from the class: ``arguments``, name -> default of its named constructor arguments
    (``inspect.Parameter.empty`` where required); ``takes_options``, whether it also takes ``**options``.
    """

    name: str
    cls: type
    aliases: tuple = ()
    size_argument: str | None = None
    size_axis: int | None = None

    @property
    def arguments(self) -> dict:
        """The layer's constructor arguments and their defaults (no default: inspect.Parameter.empty)."""
        return signature_defaults(self.cls)

    @property
    def takes_options(self) -> bool:
        """Whether the constructor takes ``**options`` (any keyword, passed on)."""
        return any(p.kind is p.VAR_KEYWORD for p in inspect.signature(self.cls).parameters.values())

    def inferred_arguments(self, input_shape) -> dict:
        """``{size_argument: input_shape[size_axis]}`` for a batch of inputs of ``input_shape`` ({} if none)."""
        if self.size_argument is None:
            return {}
        shape = tuple(int(n) for n in input_shape)
        if not -len(shape) <= self.size_axis < len(shape) or len(shape) < 2:
            raise ValueError(f"{self.cls.__name__} reads {self.size_argument} from axis {self.size_axis} of a batch "
                             f"of inputs (N, ...), but got the shape {shape}")
        return {self.size_argument: shape[self.size_axis]}

    def build(self, input_shape=None, /, *args, **arguments):
        """The layer for a batch of inputs of ``input_shape``: its size argument read from that shape
        (when the record has one and the shape is given), the others from ``args`` (the constructor's
        positional arguments after the size, as ``build((N, 3), 2)`` for ``Dense(3, 2)``) and ``arguments``.
        """
        inferred = {} if input_shape is None else self.inferred_arguments(input_shape)
        clash = sorted(set(inferred) & set(arguments))
        if clash:
            raise ValueError(f"{self.cls.__name__}: {clash[0]} is read from the input shape; do not give it too")
        positional = [name for name, p in inspect.signature(self.cls).parameters.items()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        args = list(args)
        for name, size in inferred.items():
            if name in positional and positional.index(name) <= len(args):
                args.insert(positional.index(name), size)
            else:
                arguments[name] = size
        given = [*positional[:len(args)], *arguments]
        check_arguments(f"layer {self.name!r} ({self.cls.__name__})", given, self.arguments,
                        takes_any=self.takes_options)
        return self.cls(*args, **arguments)


#: name -> LayerRecord, in registration order; class names work too (``LAYERS["Conv2d"]``), in any case.
LAYERS = Registry("layer", fold_case=True)


def register_layer(name=None, *, aliases=(), size_argument: str | None = None, size_axis: int | None = None):
    """Class decorator: make a Module subclass known as a layer by ``name`` (default: its class name in
    lower case), with the input size it reads, if any (see ``LayerRecord``).

    Example:
        >>> import numpy as np
        >>> from nablanet.nn import Dense
        >>> @register_layer("scaled_dense", size_argument="in_features", size_axis=-1)
        ... class ScaledDense(Dense):
        ...     '''Dense whose output is multiplied by ``scale``.'''
        ...     def __init__(self, in_features, out_features, *, scale=2.0, rng=None, dtype=np.float32):
        ...         super().__init__(in_features, out_features, rng=rng, dtype=dtype)
        ...         self.scale = scale
        ...     def forward(self, x):
        ...         return super().forward(x) * self.scale
        >>> build_layer("scaled_dense", (5, 3), out_features=2, rng=0).W.shape
        (3, 2)
        >>> LAYERS.remove("scaled_dense")
    """
    if isinstance(name, type):
        return register_layer()(name)

    def add(cls):
        if not (isinstance(cls, type) and issubclass(cls, Module)):
            raise TypeError(f"register_layer: expected a subclass of nablanet.nn.Module, got {cls!r}")
        layer_name = cls.__name__.lower() if name is None else name
        if (size_argument is None) != (size_axis is None):
            raise ValueError(f"register_layer({layer_name!r}): give size_argument and size_axis together, got "
                             f"size_argument={size_argument!r}, size_axis={size_axis!r}")
        if size_argument is not None:
            if size_argument not in signature_defaults(cls):
                raise ValueError(f"register_layer({layer_name!r}): {cls.__name__} has no constructor argument "
                                 f"{size_argument!r}")
            if isinstance(size_axis, bool) or not isinstance(size_axis, int):
                raise TypeError(f"register_layer({layer_name!r}): size_axis must be an int, got {size_axis!r}")
        LAYERS.add(LayerRecord(layer_name, cls, tuple(aliases), size_argument, size_axis))
        return cls

    return add


def layer_record(name) -> LayerRecord:
    """The record of a layer name, alias, class name (any case) or class; ValueError naming the known ones."""
    return LAYERS.lookup(name)


def build_layer(name, input_shape=None, /, *args, **arguments) -> Module:
    """The layer called ``name`` for a batch of inputs of ``input_shape`` (see ``LayerRecord.build``)."""
    return layer_record(name).build(input_shape, *args, **arguments)
