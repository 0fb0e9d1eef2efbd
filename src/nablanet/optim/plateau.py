"""Plateaus of a monitored value, and the learning rate lowered at them: PyTorch's ReduceLROnPlateau.

One rule for every caller: ``Plateau`` decides, one observed value at a time, whether the value
improves (``mode``, ``threshold``, ``threshold_mode``), counts the observations without improvement,
and says when they pass ``patience`` (the count then pauses for ``cooldown`` observations once the
owner restarts it). ``ReduceLROnPlateau`` lowers an optimizer's learning rate at each plateau, as
``torch.optim.lr_scheduler.ReduceLROnPlateau``; the callbacks of ``nablanet.train.callbacks``
(``EarlyStopping``, ``ReduceLROnPlateau``, ``ModelCheckpoint``) judge their monitored values with
the same rule.

Example (the torch way: ``step(metric)`` once per epoch):
    >>> import numpy as np
    >>> from nablanet import Tensor
    >>> from nablanet.optim import SGD
    >>> optimizer = SGD([Tensor(np.zeros(1), requires_grad=True)], lr=1.0)
    >>> scheduler = ReduceLROnPlateau(optimizer, factor=0.5, patience=1)
    >>> for loss in [3.0, 2.0, 2.0, 2.0, 2.0, 2.0]:
    ...     _ = scheduler.step(loss)
    >>> optimizer.lr
    0.25
"""

from __future__ import annotations

import math
from typing import NamedTuple

from nablanet.autodiff.jit import tracing

__all__ = ["improves", "Plateau", "PlateauStep", "ReduceLROnPlateau"]


def improves(value: float, best: float, *, mode: str = "min", threshold: float = 0.0, threshold_mode: str = "abs",
             or_equal: bool = False) -> bool:
    r"""Whether ``value`` beats ``best`` by more than the threshold (by at least it, with ``or_equal``).

    ======  ===================================================  ===========================================
    mode    threshold_mode "rel"                                 threshold_mode "abs"
    ======  ===================================================  ===========================================
    min     value < best (1 - threshold)                          value < best - threshold
    max     value > best (1 + threshold)                          value > best + threshold
    ======  ===================================================  ===========================================

    PyTorch's ``ReduceLROnPlateau.is_better``, to the letter (so "rel" with a negative best is as odd as
    there). NaN never improves.

    Example:
        >>> improves(0.85, 1.0, threshold=0.1, threshold_mode="rel"), improves(0.9, 1.0, threshold=0.1)
        (True, False)
    """
    if mode == "min":
        bound = best * (1.0 - threshold) if threshold_mode == "rel" else best - threshold
        return value <= bound if or_equal else value < bound
    bound = best * (threshold + 1.0) if threshold_mode == "rel" else best + threshold
    return value >= bound if or_equal else value > bound


class PlateauStep(NamedTuple):
    """What one observation did: ``new_best`` (``best`` moved to it), ``plateau`` (patience ran out) and,
    for ReduceLROnPlateau, ``reduced`` (the learning rate was lowered)."""

    new_best: bool
    plateau: bool
    reduced: bool = False


class Plateau:
    """Counts the observations of a value that do not improve on the best one, and tells when they exceed ``patience``.

    Each ``step(value)``: the value improves if it beats ``best`` by the threshold (``improves``);
    ``best`` moves to it then (with ``reference="best"``: whenever it is better at all, while the
    count restarts only at an improvement by the threshold, scikit-learn's ``tol``). A value that
    does not improve adds one to ``num_bad_epochs``; within a cooldown the count stays 0. When it
    exceeds ``patience``, the step reports a plateau; the owner calls ``restart()`` to begin a new
    count and the ``cooldown`` (ReduceLROnPlateau does, EarlyStopping stops instead).

    Args:
        mode: "min" (lower is better) or "max".
        patience: observations without improvement that are tolerated; the next one is a plateau
            (PyTorch's meaning; Keras' patience p is this patience p - 1). ``math.inf``: never.
        threshold: how much better than ``best`` counts as an improvement (>= 0).
        threshold_mode: "rel" (a fraction of ``best``) or "abs".
        cooldown: observations after ``restart()`` that do not count.
        reference: "last_improvement" (PyTorch, Keras) or "best" (scikit-learn), see above.

    Attributes:
        best: the best value so far (inf for "min", -inf for "max", before the first).
        num_bad_epochs: observations without improvement since the last one that improved.
        cooldown_counter: cooldown observations still to come.

    Example:
        >>> rule = Plateau("min", patience=1, threshold=0.0)
        >>> [rule.step(v).plateau for v in [1.0, 1.0, 1.0, 0.5]]
        [False, False, True, False]
    """

    def __init__(self, mode: str = "min", *, patience=10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, reference: str = "last_improvement"):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        if reference not in ("last_improvement", "best"):
            raise ValueError(f"reference must be 'last_improvement' or 'best', got {reference!r}")
        if isinstance(patience, bool) or not (patience == math.inf or (patience >= 0 and int(patience) == patience)):
            raise ValueError(f"patience must be a whole number >= 0 (or math.inf), got {patience!r}")
        if not threshold >= 0:
            raise ValueError(f"threshold must be >= 0 (the direction comes from mode), got {threshold}")
        if isinstance(cooldown, bool) or not (cooldown >= 0 and int(cooldown) == cooldown):
            raise ValueError(f"cooldown must be a number of epochs >= 0, got {cooldown!r}")
        self.mode, self.threshold, self.threshold_mode, self.reference = mode, float(threshold), threshold_mode, reference
        self.patience = patience if patience == math.inf else int(patience)
        self.cooldown = int(cooldown)
        self.reset()

    def reset(self, best: float | None = None, num_bad_epochs: int = 0) -> None:
        """Start afresh: no best yet (or ``best``), ``num_bad_epochs`` observations without improvement, no cooldown."""
        self.best = (math.inf if self.mode == "min" else -math.inf) if best is None else best
        self.num_bad_epochs = num_bad_epochs
        self.cooldown_counter = 0

    def is_better(self, value: float, best: float | None = None, *, threshold: float | None = None,
                  or_equal: bool = False) -> bool:
        """``improves(value, best)`` with this rule's mode and threshold (or another ``threshold``)."""
        return improves(value, self.best if best is None else best, mode=self.mode,
                        threshold=self.threshold if threshold is None else threshold,
                        threshold_mode=self.threshold_mode, or_equal=or_equal)

    def step(self, value) -> PlateauStep:
        """Observe ``value``: move ``best``, count, and say whether the count now exceeds ``patience``."""
        value = float(value)
        if self.reference == "best":
            improved = self.is_better(value, or_equal=True)
            new_best = self.is_better(value, threshold=0.0)
        else:
            improved = new_best = self.is_better(value)
        if new_best:
            self.best = value
        self.num_bad_epochs = 0 if improved else self.num_bad_epochs + 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        return PlateauStep(new_best, self.num_bad_epochs > self.patience)

    def restart(self) -> None:
        """After a plateau has been acted on: count from 0 again, after ``cooldown`` observations."""
        self.cooldown_counter = self.cooldown
        self.num_bad_epochs = 0


class ReduceLROnPlateau:
    r"""Multiply an optimizer's learning rate by ``factor`` when a monitored value stops improving (PyTorch's).

    After each epoch, ``step(metric)``; at a plateau (more than ``patience`` epochs without an
    improvement, see ``Plateau``) the rate becomes

    .. math::

        \eta \leftarrow \max(\eta\, \gamma, \eta_{min}) \quad \text{if } \eta - \max(\eta\, \gamma, \eta_{min}) > \epsilon

    with :math:`\gamma` = ``factor``, then ``cooldown`` epochs pass before counting resumes.

    Args:
        optimizer: an optimizer whose ``lr`` is a float (a nablanet optimizer; None: attach one later
            as ``scheduler.optimizer``).
        mode: "min" or "max". factor: :math:`\gamma` in (0, 1), default 0.1. patience: default 10.
        threshold: default 1e-4; threshold_mode: "rel" (default) or "abs"; cooldown: default 0.
        min_lr: :math:`\eta_{min}` >= 0, default 0. eps: :math:`\epsilon`, the smallest change made, default 1e-8.
        clip_to_min_lr: the new rate is at least min_lr (default, as PyTorch and Keras); False: it is
            :math:`\eta\gamma` even below min_lr, while the old one is above it (scikit-learn's 'adaptive').
        reference: see ``Plateau`` ("last_improvement", PyTorch's).

    Attributes:
        rule: the ``Plateau`` (``best``, ``num_bad_epochs``, ``cooldown_counter``).
        last_epoch: epochs observed.

    Notes:
        The new rate is computed as :math:`\eta / (1/\gamma)`, which is exact for
        :math:`\gamma` = 1/2, 1/5, 1/10 (:math:`\eta / 5` is the correctly rounded fifth, which
        :math:`0.2\,\eta` is not always); PyTorch's :math:`\eta\gamma` differs from it by at most one
        rounding.
    """

    def __init__(self, optimizer=None, mode: str = "min", factor: float = 0.1, patience=10, threshold: float = 1e-4,
                 threshold_mode: str = "rel", cooldown: int = 0, min_lr: float = 0.0, eps: float = 1e-8, *,
                 clip_to_min_lr: bool = True, reference: str = "last_improvement"):
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be in (0, 1), got {factor}")
        if not min_lr >= 0:
            raise ValueError(f"min_lr must be >= 0, got {min_lr}")
        if not eps >= 0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        self.rule = Plateau(mode, patience=patience, threshold=threshold, threshold_mode=threshold_mode,
                            cooldown=cooldown, reference=reference)
        self.optimizer = optimizer
        self.factor, self.min_lr, self.eps = float(factor), float(min_lr), float(eps)
        self.clip_to_min_lr = bool(clip_to_min_lr)
        self.last_epoch = 0

    def step(self, metric) -> PlateauStep:
        """Observe this epoch's ``metric``; at a plateau lower the rate (if it can go lower) and restart the count."""
        if tracing.active():
            # Its count and the rate it sets are Python state a replay would not update: refused by name.
            raise tracing.TracingError("ReduceLROnPlateau.step(metric) cannot be compiled by nablanet.jit: it follows "
                                       "the metric's values in Python, which a compiled step's replays do not run; "
                                       "call it outside the compiled function, once per epoch")
        self.last_epoch += 1
        observed = self.rule.step(metric)
        if not observed.plateau:
            return observed
        reduced = self.reduce()
        self.rule.restart()
        return observed._replace(reduced=reduced)

    def reduced_lr(self, lr: float) -> float | None:
        """The rate a plateau turns ``lr`` into, or None when it stays (at or below min_lr, or a change <= eps)."""
        if not lr > self.min_lr:
            return None
        lowered = lr / (1.0 / self.factor)
        if self.clip_to_min_lr:
            lowered = max(lowered, self.min_lr)
        return lowered if lr - lowered > self.eps else None

    def reduce(self) -> bool:
        """Lower the optimizer's rate now, as at a plateau; whether it changed."""
        if self.optimizer is None:
            raise RuntimeError("ReduceLROnPlateau has no optimizer: give it one, ReduceLROnPlateau(optimizer, ...)")
        if callable(self.optimizer.lr):
            raise TypeError(f"ReduceLROnPlateau needs an optimizer with a float lr, got a schedule: {self.optimizer.lr!r}")
        lowered = self.reduced_lr(float(self.optimizer.lr))
        if lowered is None:
            return False
        self.optimizer.lr = lowered
        return True

    def get_last_lr(self) -> list:
        """[the optimizer's current rate], as PyTorch's schedulers give it (one per parameter group)."""
        return [self.optimizer.lr]
