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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

__all__ = ["Constant", "StepDecay", "ExponentialDecay", "InverseTimeDecay", "CosineDecay", "SCHEDULES"]


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


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


#: name -> class, so an optimizer's state_dict can record a schedule as plain numbers and rebuild it.
SCHEDULES = {cls.__name__: cls for cls in (Constant, StepDecay, ExponentialDecay, InverseTimeDecay, CosineDecay)}


def schedule_to_arrays(schedule) -> dict:
    """The schedule's class name and fields as plain Python values, or {} for a callable not from here."""
    if type(schedule).__name__ not in SCHEDULES or type(schedule) is not SCHEDULES[type(schedule).__name__]:
        return {}
    return {"name": type(schedule).__name__, **{f.name: getattr(schedule, f.name) for f in fields(schedule)}}


def schedule_from_arrays(name: str, values: dict):
    """Rebuild a schedule recorded by ``schedule_to_arrays``."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {name!r}; known: {sorted(SCHEDULES)}")
    return SCHEDULES[name](**values)
