"""Schedules that warm up, chain and cycle: LinearWarmup, Sequential, OneCycle, CosineWarmRestarts.

Each is a frozen dataclass called with the optimizer's step count t = 0, 1, 2, ... (as the schedules
of ``optim.schedules``, whose registry they join), and equals a ``torch.optim.lr_scheduler`` class
whose ``step()`` is called after every optimizer step:

==================  ===============================  =====================================================
schedule            name                             PyTorch equivalent
==================  ===============================  =====================================================
LinearWarmup        "warmup" (alias "linear")        LinearLR
Sequential          "sequential"                     SequentialLR (each part restarts at its milestone)
OneCycle            "one_cycle"                      OneCycleLR (the learning rate; not its momentum)
CosineWarmRestarts  "cosine_restarts"                CosineAnnealingWarmRestarts
==================  ===============================  =====================================================

Warmup then cosine decay over 100 steps, the schedule transformers are trained with:

Example:
    >>> from nablanet.optim.schedules import CosineDecay
    >>> s = Sequential((LinearWarmup(0.1, start_factor=0.1, total_iters=10), CosineDecay(0.1, t_max=90)),
    ...                milestones=(10,))
    >>> [round(s(t), 4) for t in (0, 5, 10, 55, 100)]
    [0.01, 0.055, 0.1, 0.05, 0.0]

ReduceLROnPlateau, which follows a monitored value rather than t, is ``optim.plateau``'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nablanet.optim.schedules import get_schedule, register_schedule

__all__ = ["LinearWarmup", "Sequential", "OneCycle", "CosineWarmRestarts"]


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _whole(value, name: str, smallest: int = 1) -> None:
    _require(not isinstance(value, bool) and int(value) == value and value >= smallest,
             f"{name} must be a whole number >= {smallest}, got {value!r}")


@register_schedule("warmup", aliases=("linear",))
@dataclass(frozen=True)
class LinearWarmup:
    r"""A linear ramp of the rate from ``start_factor`` eta_0 to ``end_factor`` eta_0 over ``total_iters`` steps.

    .. math::

        \eta(t) = \eta_0 \left(s + (e - s) \frac{\min(t, T)}{T}\right)

    with s = ``start_factor``, e = ``end_factor``, T = ``total_iters``: a warmup for s < e (the
    defaults, PyTorch's, ramp up from eta_0 / 3 over 5 steps), a decay for s > e.

    Example:
        >>> [round(LinearWarmup(1.0, start_factor=0.25, total_iters=3)(t), 4) for t in range(5)]
        [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    lr: float
    start_factor: float = 1.0 / 3.0
    end_factor: float = 1.0
    total_iters: int = 5

    def __post_init__(self):
        _require(self.lr > 0, f"learning rate must be positive, got {self.lr}")
        _require(0 < self.start_factor <= 1, f"start_factor must be in (0, 1], got {self.start_factor}")
        _require(0 <= self.end_factor <= 1, f"end_factor must be in [0, 1], got {self.end_factor}")
        _whole(self.total_iters, "total_iters")

    def __call__(self, t: int) -> float:
        fraction = min(int(t), int(self.total_iters)) / int(self.total_iters)
        start, end = float(self.start_factor), float(self.end_factor)
        return float(self.lr) * (start + (end - start) * fraction)


@register_schedule("sequential")
@dataclass(frozen=True)
class Sequential:
    r"""Schedules one after another: the k-th runs from milestone k - 1 on, its own t counted from 0 there.

    .. math::

        \eta(t) = \eta^{(k)}(t - M_{k-1}) \quad \text{for } M_{k-1} \le t < M_k, \qquad M_0 = 0

    Args:
        schedules: the schedules (each a callable t -> eta, or a dict ``{"name": ..., **arguments}`` for
            ``get_schedule``), one more than the milestones.
        milestones: the increasing steps at which the next schedule takes over.

    Notes:
        As ``torch.optim.lr_scheduler.SequentialLR``, which restarts each scheduler at its milestone.
        PyTorch's parts share the optimizer's base rate; here each part names its own (give them the
        same eta_0 to reproduce it).

    Example:
        >>> from nablanet.optim.schedules import Constant
        >>> s = Sequential(({"name": "warmup", "lr": 1.0, "start_factor": 0.5, "total_iters": 2}, Constant(0.1)),
        ...                milestones=(2,))
        >>> [s(t) for t in range(4)]
        [0.5, 0.75, 0.1, 0.1]
    """

    schedules: tuple
    milestones: tuple

    def __post_init__(self):
        schedules = tuple(get_schedule(**part) if isinstance(part, dict) else part for part in self.schedules)
        milestones = tuple(int(m) if not isinstance(m, bool) and int(m) == m else m for m in self.milestones)
        _require(all(callable(part) for part in schedules), "every part of a Sequential schedule must be a schedule "
                 "(a callable t -> learning rate, or a dict {'name': ..., **arguments})")
        _require(len(schedules) == len(milestones) + 1,
                 f"Sequential takes one more schedule than milestones, got {len(schedules)} schedules and "
                 f"{len(milestones)} milestones")
        _require(all(isinstance(m, int) and m >= 1 for m in milestones)
                 and all(a < b for a, b in zip(milestones, milestones[1:])),
                 f"milestones must be increasing whole numbers >= 1, got {self.milestones!r}")
        # Frozen: the parts, once built from dicts, are set as the dataclass would have stored them.
        object.__setattr__(self, "schedules", schedules)
        object.__setattr__(self, "milestones", milestones)

    def __call__(self, t: int) -> float:
        t = int(t)
        start = 0
        for part, milestone in zip(self.schedules, self.milestones):
            if t < milestone:
                return float(part(t - start))
            start = milestone
        return float(self.schedules[-1](t - start))


@register_schedule("one_cycle")
@dataclass(frozen=True)
class OneCycle:
    r"""The 1cycle policy: up from eta_max / div_factor to eta_max, then down to far below the start.

    With :math:`\eta_{start} = \eta_{max} / d`, :math:`\eta_{end} = \eta_{start} / f` (d = ``div_factor``,
    f = ``final_div_factor``), N = ``total_steps`` and p = ``pct_start``, the phases end at the steps

    * two phases: :math:`pN - 1` (:math:`\eta_{start} \to \eta_{max}`), :math:`N - 1`
      (:math:`\eta_{max} \to \eta_{end}`);
    * ``three_phase``: :math:`pN - 1` (up), :math:`2pN - 2` (back to :math:`\eta_{start}`),
      :math:`N - 1` (:math:`\eta_{start} \to \eta_{end}`);

    and within a phase from step :math:`t_a` (the previous end, 0 for the first) to :math:`t_b`, with
    :math:`x = (t - t_a) / (t_b - t_a)`, the rate goes from :math:`\eta_a` to :math:`\eta_b` as

    .. math::

        \eta(t) = \eta_b + \frac{\eta_a - \eta_b}{2} (1 + \cos \pi x) \quad \text{("cos")}, \qquad
        \eta(t) = \eta_a + (\eta_b - \eta_a)\, x \quad \text{("linear")}

    Args:
        lr: :math:`\eta_{max}`, the peak (PyTorch's ``max_lr``; ``lr`` so that a config's
            ``[optimizer] lr`` sets it).
        total_steps: N, the optimizer steps of the whole run.
        pct_start: p in (0, 1), the fraction of the steps spent going up; default 0.3.
        anneal_strategy: "cos" (default) or "linear".
        div_factor: d, default 25. final_div_factor: f, default 1e4. three_phase: default False.

    References:
        Smith & Topin, "Super-Convergence", 2017; the phases are ``torch.optim.lr_scheduler.OneCycleLR``'s.

    Notes:
        PyTorch also cycles the momentum (``cycle_momentum``); this schedule sets only the rate. After
        step N - 1 PyTorch raises an error; here the rate stays :math:`\eta_{end}`.

    Example:
        >>> s = OneCycle(1.0, total_steps=10, pct_start=0.5, anneal_strategy="linear", div_factor=5.0,
        ...              final_div_factor=2.0)
        >>> [round(s(t), 4) for t in (0, 2, 4, 9, 20)]
        [0.2, 0.6, 1.0, 0.1, 0.1]
    """

    lr: float
    total_steps: int
    pct_start: float = 0.3
    anneal_strategy: str = "cos"
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False

    def __post_init__(self):
        _require(self.lr > 0, f"learning rate must be positive, got {self.lr}")
        _whole(self.total_steps, "total_steps", 2)
        _require(0 < self.pct_start < 1, f"pct_start must be in (0, 1), got {self.pct_start}")
        _require(self.anneal_strategy in ("cos", "linear"),
                 f"anneal_strategy must be 'cos' or 'linear', got {self.anneal_strategy!r}")
        _require(self.div_factor > 0, f"div_factor must be positive, got {self.div_factor}")
        _require(self.final_div_factor > 0, f"final_div_factor must be positive, got {self.final_div_factor}")
        ends = [end for end, _, _ in self._phases()]
        _require(all(a < b for a, b in zip([0.0] + ends, ends)),
                 f"pct_start={self.pct_start} leaves a phase without steps over total_steps={self.total_steps}")

    def _phases(self) -> list:
        """[(the phase's last step, its first rate, its last rate)], as PyTorch lays them out."""
        peak = float(self.lr)
        start = peak / float(self.div_factor)
        end = start / float(self.final_div_factor)
        n, p = int(self.total_steps), float(self.pct_start)
        if self.three_phase:
            return [(p * n - 1, start, peak), (2 * p * n - 2, peak, start), (n - 1.0, start, end)]
        return [(p * n - 1, start, peak), (n - 1.0, peak, end)]

    def __call__(self, t: int) -> float:
        t = min(int(t), int(self.total_steps) - 1)
        phase_start = 0.0
        phases = self._phases()
        for i, (phase_end, first, last) in enumerate(phases):
            if t <= phase_end or i == len(phases) - 1:
                x = (t - phase_start) / (phase_end - phase_start)
                if self.anneal_strategy == "cos":
                    return last + (first - last) / 2.0 * (math.cos(math.pi * x) + 1)
                return (last - first) * x + first
            phase_start = phase_end
        raise AssertionError("unreachable: the last phase takes every later step")


@register_schedule("cosine_restarts")
@dataclass(frozen=True)
class CosineWarmRestarts:
    r"""Cosine annealing that restarts: cycles of t_0, t_0 t_mult, t_0 t_mult^2, ... steps (SGDR).

    .. math::

        \eta(t) = \eta_{min} + (\eta_0 - \eta_{min}) \frac{1 + \cos(\pi T_{cur} / T_i)}{2}

    with :math:`T_i` the length of the cycle that t falls in and :math:`T_{cur}` the steps since it began.

    Args:
        lr: :math:`\eta_0`. t_0: the first cycle's length (PyTorch's ``T_0``). t_mult: each cycle is
            t_mult times the previous (a whole number >= 1, ``T_mult``). eta_min: the floor, default 0.

    References:
        Loshchilov & Hutter, "SGDR", 2017, eq. (5); ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts``.

    Example:
        >>> s = CosineWarmRestarts(1.0, t_0=2, t_mult=2)
        >>> [round(s(t), 4) for t in range(7)]
        [1.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 1.0]
    """

    lr: float
    t_0: int
    t_mult: int = 1
    eta_min: float = 0.0

    def __post_init__(self):
        _require(self.lr > 0, f"learning rate must be positive, got {self.lr}")
        _whole(self.t_0, "t_0")
        _whole(self.t_mult, "t_mult")
        _require(0 <= self.eta_min <= self.lr, f"eta_min must be in [0, lr], got {self.eta_min}")

    def cycle(self, t: int) -> tuple[int, int]:
        """(T_cur, T_i): the steps since the current cycle began and its length, in whole numbers."""
        t, length, t_mult = int(t), int(self.t_0), int(self.t_mult)
        if t_mult == 1:
            return t % length, length
        while t >= length:
            t -= length
            length *= t_mult
        return t, length

    def __call__(self, t: int) -> float:
        t_cur, t_i = self.cycle(t)
        eta_min = float(self.eta_min)
        return eta_min + (float(self.lr) - eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2
