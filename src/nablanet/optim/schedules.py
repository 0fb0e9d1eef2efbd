"""Learning-rate schedules: small frozen dataclasses, each a callable of the step count t = 0, 1, 2, ...

An optimizer's ``lr`` is a float or any callable ``t -> float``; at its update number ``t + 1`` (when
``t`` updates have already been made) it uses ``lr(t)``. The classes here can also be saved in an
optimizer's ``state_dict`` (their fields are plain numbers), which an arbitrary callable cannot.

With ``t`` counted in optimizer steps, these agree with PyTorch's ``torch.optim.lr_scheduler`` classes
when the scheduler's ``step()`` is called after every optimizer step:

==================  ========================================  ============================
schedule            eta(t)                                    PyTorch equivalent
==================  ========================================  ============================
Constant            eta_0                                     (no scheduler)
StepDecay           eta_0 * gamma^floor(t / step_size)        StepLR
ExponentialDecay    eta_0 * gamma^t                           ExponentialLR
InverseTimeDecay    t0 / (t + t1)                             (the course notes' schedule)
CosineDecay         see its docstring                         CosineAnnealingLR, t <= T_max
==================  ========================================  ============================

Each is registered by the name a config gives it ("constant", "step", "exponential", "inverse_time",
"cosine"): ``get_schedule(name, **arguments)`` builds one, ``register_schedule`` adds one.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, fields

from nablanet.registry import Registry, check_arguments, signature_defaults

__all__ = ["Constant", "StepDecay", "ExponentialDecay", "InverseTimeDecay", "CosineDecay", "SCHEDULES",
           "ScheduleRecord", "register_schedule", "schedule_record", "get_schedule"]


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


# --- the registry ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScheduleRecord:
    """A schedule's name (as a config's ``[optimizer.schedule] name``) and class.

    Attributes:
        name: "step", "cosine", ...; cls: the class; aliases: more names for it.

    Derived from the class: ``arguments``, name -> default of its fields (``inspect.Parameter.empty``
    where required); ``takes_lr``, whether eta_0 is its ``lr`` field (InverseTimeDecay has t0, t1).
    """

    name: str
    cls: type
    aliases: tuple = ()

    @property
    def arguments(self) -> dict:
        """The schedule's constructor arguments and their defaults (no default: inspect.Parameter.empty)."""
        return signature_defaults(self.cls)

    @property
    def takes_lr(self) -> bool:
        """Whether the schedule takes the base learning rate ``lr`` among its arguments."""
        return "lr" in self.arguments

    def build(self, **arguments):
        """``cls(**arguments)``, with a clear error for a missing or unknown argument."""
        check_arguments(f"schedule {self.name!r} ({self.cls.__name__})", arguments, self.arguments)
        return self.cls(**arguments)


_REGISTRY = Registry("learning-rate schedule")

#: name -> schedule class, in registration order; a class name works too (``SCHEDULES["StepDecay"]``),
#: as does ``"StepDecay" in SCHEDULES``. Iterating gives the names ("constant", "step", ...);
#: ``SCHEDULES.records`` is the registry of ScheduleRecords behind it.
SCHEDULES = _REGISTRY.classes()


def register_schedule(name: str, cls: type | None = None, *, aliases=()):
    """Make a schedule class known by ``name`` (as a decorator, or called with the class).

    The class is a callable ``t -> eta_t``; a frozen dataclass of plain numbers, like the ones here,
    can also be saved in an optimizer's ``state_dict``.

    Example:
        >>> @register_schedule("halving")
        ... @dataclass(frozen=True)
        ... class Halving:
        ...     lr: float
        ...     def __call__(self, t):
        ...         return self.lr / 2**t
        >>> get_schedule("halving", lr=1.0)(3)
        0.125
        >>> SCHEDULES.records.remove("halving")
    """
    def add(cls):
        if not isinstance(cls, type) or not any("__call__" in vars(base) for base in cls.__mro__):
            raise TypeError(f"register_schedule({name!r}): expected a class whose instances are called with t")
        _REGISTRY.add(ScheduleRecord(name, cls, tuple(aliases)))
        return cls

    return add if cls is None else add(cls)


def schedule_record(name) -> ScheduleRecord:
    """The record of a schedule name ("cosine"), alias, class name ("CosineDecay") or class."""
    return _REGISTRY.lookup(name)


def get_schedule(name, **arguments):
    """The schedule called ``name`` built from ``arguments``, e.g. ``get_schedule("step", lr=0.1, step_size=10)``."""
    return schedule_record(name).build(**arguments)


# --- the schedules ---------------------------------------------------------------------------------


@register_schedule("constant")
@dataclass(frozen=True)
class Constant:
    """eta(t) = eta_0.

    Example:
        >>> Constant(0.1)(7)
        0.1
    """

    lr: float

    def __post_init__(self):
        _require(self.lr > 0, f"learning rate must be positive, got {self.lr}")

    def __call__(self, t: int) -> float:
        return float(self.lr)


@register_schedule("step")
@dataclass(frozen=True)
class StepDecay:
    """eta(t) = eta_0 * gamma^floor(t / step_size): multiply by ``gamma`` every ``step_size`` steps.

    Defaults: ``gamma=0.1`` as ``torch.optim.lr_scheduler.StepLR``.

    Example:
        >>> [StepDecay(1.0, step_size=2, gamma=0.5)(t) for t in range(5)]
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    lr: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self):
        _require(self.lr > 0, f"learning rate must be positive, got {self.lr}")
        _require(int(self.step_size) == self.step_size and self.step_size >= 1,
                 f"step_size must be a positive integer, got {self.step_size}")
        _require(self.gamma > 0, f"gamma must be positive, got {self.gamma}")

    def __call__(self, t: int) -> float:
        return float(self.lr) * float(self.gamma) ** (int(t) // int(self.step_size))


@register_schedule("exponential")
@dataclass(frozen=True)
class ExponentialDecay:
    """eta(t) = eta_0 * gamma^t (``torch.optim.lr_scheduler.ExponentialLR``).

    Example:
        >>> ExponentialDecay(1.0, gamma=0.5)(3)
        0.125
    """

    lr: float
    gamma: float

    def __post_init__(self):
        _require(self.lr > 0, f"learning rate must be positive, got {self.lr}")
        _require(self.gamma > 0, f"gamma must be positive, got {self.gamma}")

    def __call__(self, t: int) -> float:
        return float(self.lr) * float(self.gamma) ** int(t)


@register_schedule("inverse_time")
@dataclass(frozen=True)
class InverseTimeDecay:
    """eta(t) = t0 / (t + t1), the course notes' ``learning_schedule`` for SGD.

    In the notes t = epoch * (number of mini-batches) + i counts mini-batch steps, as here. It starts at
    t0 / t1 and decays like 1/t, which satisfies the Robbins-Monro conditions (sum eta = infinity,
    sum eta^2 < infinity) under which SGD converges.

    Example:
        >>> InverseTimeDecay(t0=5.0, t1=50.0)(0), InverseTimeDecay(t0=5.0, t1=50.0)(50)
        (0.1, 0.05)
    """

    t0: float
    t1: float

    def __post_init__(self):
        _require(self.t0 > 0, f"t0 must be positive, got {self.t0}")
        _require(self.t1 > 0, f"t1 must be positive, got {self.t1}")

    def __call__(self, t: int) -> float:
        return float(self.t0) / (int(t) + float(self.t1))


@register_schedule("cosine")
@dataclass(frozen=True)
class CosineDecay:
    """Cosine annealing from eta_0 to eta_min over T_max steps, then constant.

    (1) eta(t) = eta_min + (eta_0 - eta_min) * (1 + cos(pi * t / T_max)) / 2     for t <= T_max
    (2) eta(t) = eta_min                                                          for t > T_max

    Reference: Loshchilov & Hutter, SGDR, 2017, eq. (5) without restarts.

    Notes:
        Equal to ``torch.optim.lr_scheduler.CosineAnnealingLR(T_max, eta_min)`` for t <= T_max.
        Deviation: after T_max PyTorch keeps following the cosine, so the rate climbs back up to
        eta_0 at 2 T_max; here it stays at eta_min (as optax ``cosine_decay_schedule``), which is what
        a finite training budget of T_max steps wants.

    Example:
        >>> s = CosineDecay(1.0, t_max=4)
        >>> [round(s(t), 4) for t in range(6)]
        [1.0, 0.8536, 0.5, 0.1464, 0.0, 0.0]
    """

    lr: float
    t_max: int
    eta_min: float = 0.0

    def __post_init__(self):
        _require(self.lr > 0, f"learning rate must be positive, got {self.lr}")
        _require(int(self.t_max) == self.t_max and self.t_max >= 1,
                 f"t_max must be a positive integer, got {self.t_max}")
        _require(0 <= self.eta_min <= self.lr, f"eta_min must be in [0, lr], got {self.eta_min}")

    def __call__(self, t: int) -> float:
        t = int(t)
        if t >= self.t_max:
            return float(self.eta_min)
        eta_min = float(self.eta_min)
        return eta_min + (float(self.lr) - eta_min) * (1.0 + math.cos(math.pi * t / self.t_max)) / 2.0


def schedule_to_arrays(schedule) -> dict:
    """The schedule's class name and fields as plain Python values, or {} for a callable that is not a
    registered dataclass schedule (the class name, not the registered name, so that files stay readable
    by versions that knew schedules by class name only).

    A field that is not a number, a string or a bool (Sequential's parts and milestones) is written as
    JSON text after the prefix ``json:``, each schedule in it as ``{"schedule": class name, **fields}``;
    {} again if any part is not a registered dataclass schedule.
    """
    try:
        return {"name": _registered_name(schedule),
                **{f.name: _plain(getattr(schedule, f.name)) for f in fields(schedule)}}
    except _NotSaved:
        return {}


def schedule_from_arrays(name: str, values: dict):
    """Rebuild a schedule recorded by ``schedule_to_arrays`` (``name``: its class or registered name)."""
    decoded = {key: _decoded(json.loads(value[len(_JSON):])) if isinstance(value, str) and value.startswith(_JSON)
               else value for key, value in values.items()}
    return schedule_record(name).cls(**decoded)


_JSON = "json:"


class _NotSaved(Exception):
    """A schedule (or a part of one) that is not a registered dataclass schedule."""


def _registered_name(schedule) -> str:
    if _REGISTRY.of_class(type(schedule)) is None or not dataclasses.is_dataclass(schedule):
        raise _NotSaved
    return type(schedule).__name__


def _plain(value):
    if isinstance(value, (bool, int, float, str)):
        return value
    return _JSON + json.dumps(_encoded(value))


def _encoded(value):
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return [_encoded(item) for item in value]
    return {"schedule": _registered_name(value), **{f.name: _encoded(getattr(value, f.name)) for f in fields(value)}}


def _decoded(value):
    if isinstance(value, list):
        return tuple(_decoded(item) for item in value)
    if isinstance(value, dict):
        arguments = {key: _decoded(item) for key, item in value.items() if key != "schedule"}
        return schedule_record(value["schedule"]).cls(**arguments)
    return value
