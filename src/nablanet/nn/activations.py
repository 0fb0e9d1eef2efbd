"""The activation registry: each activation's function and what the library knows of it, declared beside the function.

``nablanet.nn.functional`` defines the activations and registers each one right after it, e.g.::

    register_activation("elu", elu, fused="elu", init="he", output_range=..., kinks=..., derivative=...)

and everything that takes an activation by name reads the record: the functional API
(``get_activation``, ``dense``, ``conv``), the layers (``Dense``, ``Conv1d``/``Conv2d``, ``Activation``
and the class of each activation), and the diagnostics (saturation bounds, kinks, the chain-rule
trace's sigma'). An activation registered once by a user is a name everywhere.

Example:
    >>> import numpy as np
    >>> from nablanet import nn
    >>> elu = nn.activation_record("elu")
    >>> elu.alpha, elu.init, elu.fused, elu.layer.__name__
    (1.0, 'he', 'elu', 'ELU')
    >>> elu.kinks_at(1.0), elu.kinks_at(0.5), elu.range_at(0.5)
    ((), (0.0,), (-0.5, inf))
    >>> nn.activation_record("logistic").name, nn.ACTIVATIONS["logistic"](np.array([0.0]))
    ('sigmoid', array([0.5]))
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass

from nablanet.autodiff.ops.nn import DENSE_ACTIVATIONS
from nablanet.checks import check_real
from nablanet.nn.module import Module
from nablanet.registry import Registry, signature_defaults

__all__ = ["ActivationRecord", "ACTIVATIONS", "register_activation", "activation_record", "get_activation",
           "activation_layer", "fusion"]

#: The initializer families: Dense draws its weights from ``<family>_uniform`` (nablanet.nn.init) by default.
INIT_FAMILIES = ("he", "glorot", "lecun")


@dataclass(frozen=True)
class ActivationRecord:
    """What the library knows of an activation a = sigma(z) besides its function.

    Attributes:
        name: the name layers, configs and estimators use ("leaky_relu").
        function: sigma, a function of a Tensor (or ndarray) z written with the engine's ops, so that
            every derivative of it comes from autodiff; it takes ``alpha`` as a keyword when it has one.
        aliases: more names for it ("logistic" for sigmoid).
        fused: the key of the fused kernel in ``nablanet.autodiff.ops.nn.DENSE_ACTIVATIONS`` that Dense
            and the convolutions run inside their matrix product, or None: applied after it.
        alpha: the default alpha (leaky_relu's slope, elu's scale), read from the function's signature;
            None for an activation without one.
        init: the initializer family for weights feeding it: "he" (Var W = 2/n_in, He et al., 2015),
            "glorot" (2/(n_in + n_out), Glorot & Bengio, 2010) or "lecun" (1/n_in, LeCun et al., 1998).
        output_range: (inf sigma, sup sigma) over the real line, or a function of alpha that gives them.
        kinks: the points z where sigma is not differentiable, or a function of alpha that gives them.
        derivative: sigma'(z) written out from its formula in NumPy, z a float64 ndarray (and alpha
            the second argument when the activation has one), apart from the engine's rules: the
            chain-rule trace's second derivation. None where there is no elementwise sigma' (softmax)
            or it is refused (heaviside).
        layer: the Module class that applies it as a layer (``ReLU`` for relu), or None;
            ``nn.Activation(name)`` applies any of them.
        elementwise: whether a_j depends on z_j alone (False for softmax, which couples a layer's units):
            the activations a hidden layer of the estimators may use.

    Derived: ``initializer`` (the default initializer's name), ``kernel`` (the fused kernel's pair
    (forward, slope)), ``options`` (the function's keyword options and their defaults).
    """

    name: str
    function: Callable
    aliases: tuple = ()
    fused: str | None = None
    alpha: float | None = None
    init: str = "glorot"
    output_range: tuple | Callable = (-math.inf, math.inf)
    kinks: tuple | Callable = ()
    derivative: Callable | None = None
    layer: type | None = None
    elementwise: bool = True

    @property
    def initializer(self) -> str:
        """The initializer Dense uses by default: ``"he_uniform"``, ``"glorot_uniform"`` or ``"lecun_uniform"``."""
        return f"{self.init}_uniform"

    @property
    def kernel(self):
        """(forward on z in place, sigma' from a) of the fused kernel, or None."""
        return None if self.fused is None else DENSE_ACTIVATIONS[self.fused]

    @property
    def options(self) -> dict:
        """name -> default of the function's arguments after z (``alpha``, ``approximate``, ``axis``)."""
        arguments = signature_defaults(self.function)
        return dict(list(arguments.items())[1:])

    def resolve_alpha(self, alpha=None):
        """``alpha`` as a float when given (a finite number), else the default (None for an activation without alpha)."""
        return self.alpha if alpha is None else check_real(self.name, "alpha", alpha)

    def apply(self, z, alpha=None, **options):
        """sigma(z), with ``alpha`` (default: the record's) when the activation has one."""
        if self.alpha is None:
            return self.function(z, **options)
        return self.function(z, alpha=self.resolve_alpha(alpha), **options)

    def range_at(self, alpha=None) -> tuple:
        """(inf sigma, sup sigma) at ``alpha`` (default: the record's)."""
        return self._at(self.output_range, alpha)

    def kinks_at(self, alpha=None) -> tuple:
        """The points where sigma is not differentiable at ``alpha`` (default: the record's)."""
        return self._at(self.kinks, alpha)

    def slope(self, z, alpha=None):
        """sigma'(z) from ``derivative`` (float64 NumPy), at ``alpha`` when the activation has one."""
        if self.derivative is None:
            raise ValueError(f"activation {self.name!r} has no elementwise derivative sigma' registered")
        if self.alpha is None:
            return self.derivative(z)
        return self.derivative(z, self.resolve_alpha(alpha))

    def _at(self, value, alpha):
        if callable(value):
            return tuple(value(self.resolve_alpha(alpha)))
        return tuple(value)


_REGISTRY = Registry("activation", defined_by="function")

#: name -> activation function, in registration order, with each record's aliases after its name (as the
#: dict it once was); a registered function itself is a key too. ``ACTIVATIONS.records`` is the registry
#: of ActivationRecords behind it (``ACTIVATIONS.records["relu"].init``).
ACTIVATIONS = _REGISTRY.view("function", with_aliases=True)


def register_activation(name: str, function: Callable | None = None, *, aliases=(), alpha=None, init: str = "glorot",
                        fused: str | None = None, output_range=(-math.inf, math.inf), kinks=(), derivative=None,
                        layer: type | None = None, elementwise: bool = True):
    """Make an activation known by ``name`` everywhere an activation is named: as a decorator, or called
    with the function. Returns the function. See ActivationRecord for the arguments.

    Registering the same function again (a module or notebook cell run twice) replaces its record;
    another function under a name or alias already taken is refused.

    Example:
        >>> import numpy as np
        >>> from nablanet import nn
        >>> @register_activation("swish", init="he", output_range=(-0.2784645427610738, float("inf")))
        ... def swish(z):
        ...     '''sigma(z) = z sigmoid(z) (Ramachandran et al., 2017).'''
        ...     return z * nn.functional.sigmoid(z)
        >>> layer = nn.Dense(3, 2, activation="swish", rng=0)
        >>> layer(np.ones((1, 3), dtype=np.float32)).shape, nn.activation_record("swish").initializer
        ((1, 2), 'he_uniform')
        >>> ACTIVATIONS.records.remove("swish")
    """
    def add(function):
        ACTIVATIONS.records.add(_make_record(name, function, tuple(aliases), alpha, init, fused, output_range,
                                             kinks, derivative, layer, elementwise))
        return function

    return add if function is None else add(function)


def _make_record(name, function, aliases, alpha, init, fused, output_range, kinks, derivative, layer, elementwise):
    where = f"register_activation({name!r})"
    if not callable(function):
        raise TypeError(f"{where}: expected a function of z, got {type(function).__name__}")
    try:
        arguments = signature_defaults(function)
    except (TypeError, ValueError):  # a callable without a signature (a NumPy ufunc)
        arguments = {}
    if "alpha" in arguments:
        declared = arguments["alpha"]
        if declared is inspect.Parameter.empty:
            if alpha is None:
                raise ValueError(f"{where}: the function takes alpha without a default; give alpha=")
        elif alpha is None:
            alpha = declared
        elif float(alpha) != float(declared):
            raise ValueError(f"{where}: alpha={alpha} disagrees with the function's default alpha={declared}")
    elif alpha is not None:
        raise ValueError(f"{where}: alpha={alpha} given, but {getattr(function, '__name__', function)} takes no alpha")
    if init not in INIT_FAMILIES:
        raise ValueError(f"{where}: init must be one of {', '.join(INIT_FAMILIES)}, got {init!r}")
    if fused is not None and fused not in DENSE_ACTIVATIONS:
        raise ValueError(f"{where}: fused must be a kernel of nablanet.autodiff.ops.nn.DENSE_ACTIVATIONS "
                         f"({', '.join(DENSE_ACTIVATIONS)}) or None, got {fused!r}")
    if not callable(output_range):
        output_range = tuple(float(bound) for bound in output_range)
        if len(output_range) != 2 or not output_range[0] <= output_range[1]:
            raise ValueError(f"{where}: output_range must be (low, high) with low <= high, got {output_range}")
    if not callable(kinks):
        kinks = tuple(float(point) for point in kinks)
    if derivative is not None and not callable(derivative):
        raise TypeError(f"{where}: derivative must be a function sigma'(z) or None, got {type(derivative).__name__}")
    if layer is not None and not (isinstance(layer, type) and issubclass(layer, Module)):
        raise TypeError(f"{where}: layer must be a subclass of nablanet.nn.Module or None, got {layer!r}")
    if not isinstance(elementwise, bool):
        raise TypeError(f"{where}: elementwise must be True or False, got {elementwise!r}")
    return ActivationRecord(name, function, aliases, fused, None if alpha is None else float(alpha), init,
                            output_range, kinks, derivative, layer, elementwise)


def activation_record(spec) -> ActivationRecord:
    """The record of an activation name, alias or registered function; ValueError naming the known ones."""
    return ACTIVATIONS.records.lookup(spec)


def get_activation(spec):
    """An activation function from its name or alias, a callable (returned as is), or None (identity)."""
    if callable(spec):
        return spec
    if spec is None:
        return activation_record("identity").function
    _check_spec(spec)
    if spec in ACTIVATIONS:
        return ACTIVATIONS[spec]
    raise ValueError(f"unknown activation {spec!r}; choose one of {sorted(ACTIVATIONS)}")


def _check_spec(spec) -> None:
    if not (spec is None or callable(spec) or isinstance(spec, str)):
        raise TypeError(f"activation must be a name, a function or None, got {spec!r} of type {type(spec).__name__}")


def activation_layer(name: str):
    """Class decorator: ``cls`` is the layer of the registered activation ``name`` (its record's ``layer``)."""
    def attach(cls):
        record = activation_record(name)
        ACTIVATIONS.records.add(dataclasses.replace(record, layer=cls))
        return cls

    return attach


def fusion(activation, alpha=None):
    """How a layer (or ``functional.dense``/``conv``) ending in ``activation`` computes it.

    Returns:
        (kernel, kernel_alpha, alpha, after): the fused kernel's name ("identity" when there is none or
        the activation is not registered), the float the kernel takes as alpha, the activation's alpha
        (None without one; ``alpha`` as given for an unregistered function), and the function applied
        to the kernel's output, or None when the kernel does it all.
    """
    activation = "identity" if activation is None else activation
    record = ACTIVATIONS.records.get(activation)
    if record is None:
        if not callable(activation):
            _check_spec(activation)
            activation_record(activation)  # the error naming the known activations
        return "identity", 0.0, None if alpha is None else float(alpha), activation
    alpha = record.resolve_alpha(alpha)
    kernel_alpha = 0.0 if alpha is None else alpha
    if record.fused is not None:
        return record.fused, kernel_alpha, alpha, None
    if record.alpha is None:
        return "identity", kernel_alpha, alpha, record.function
    return "identity", kernel_alpha, alpha, functools.partial(record.function, alpha=alpha)
