"""fit's divergence guard: a loss that is not finite, or far above its best, ends training on the best weights.

Two rules, both judged on numbers that fit computes anyway:

* a NaN or infinite cost (checked on every batch, before ``backward()``) or parameter (checked after
  the last step of each epoch) ends training at once;
* an epoch whose monitored loss is more than ``divergence_factor`` times the lowest before it, and
  above the first one, is diverging: the first such epoch gets a DivergenceWarning; if the next epoch
  is diverging too, or training ends on the diverging one, training ends.

The monitored loss is ``val_loss`` when fit has validation data, else the training ``loss`` (the cost
the optimizer sees). With validation data fit also measures the initial weights' validation loss,
before the first epoch: the first to beat, so that a run diverging within its first epoch is seen.
A loss far above its best but below the first is a spike of a model that had already learned
(Adam's late spikes when the gradients vanish, a cross-entropy of 1e-4 that jumps to 0.1), not
divergence, so it is let through; the lowest loss, not the last, is the reference, so a noisy loss
going up a little never comes near the factor.

Either way the model is left with the best weights known, and a TrainingDivergedError names them and
their loss: those of the epoch with the lowest monitored loss (or the initial ones). For the
training loss these are the weights the epoch started from: an epoch's training loss is averaged over
its batches as the weights change from them (exactly their loss in full-batch training), while the
weights it ended with may be the first of the divergence. For ``val_loss`` they are the weights the
epoch ended with, where it is measured. Before any epoch has ended and without validation data there
is no best: a non-finite loss then undoes the optimizer step that led to it, or, if the loss before
that step was already more than ``divergence_factor`` times the first batch's, goes back to the
initial weights. The optimizer's own state (momenta, step count) is never restored.

Not seen: a run without validation data that diverges within its first epoch and then settles at a
high but finite loss, since its first epoch's loss, the reference, is high already (pass validation
data, or use full batches, whose first epoch's loss is the initial weights').
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from nablanet.train.history import History

__all__ = ["TrainingDivergedError", "DivergenceWarning", "DEFAULT_DIVERGENCE_FACTOR"]

#: fit's default ``divergence_factor``: divergence multiplies a loss by orders of magnitude within a
#: few epochs, while an epoch loss of normal training stays within a small factor of its lowest.
DEFAULT_DIVERGENCE_FACTOR = 100.0


class TrainingDivergedError(RuntimeError):
    """Training diverged; the model holds the best weights known (see nablanet.train.divergence).

    Attributes:
        epoch: the epoch (from 0) in which training was stopped.
        batch: the batch (from 0) within that epoch whose loss was not finite (or after whose step
            a parameter was), or None when the epoch's loss was judged far above the best.
        loss: the offending value: nan, inf or -inf, or the epoch's monitored loss.
        history: the History of the epochs completed (for a stop on a loss far above the best,
            including the diverging ones).
        best_epoch: the epoch whose weights the model holds; -1 for the initial weights when their
            validation loss, measured before the first epoch, is the lowest; None when there was no
            best yet (the first epoch without validation data: the message says which weights were kept).
        best_loss: its monitored loss (``val_loss`` with validation data, else ``loss``), or None.
    """

    def __init__(self, message: str, *, epoch: int, batch: int | None, loss: float, history: History,
                 best_epoch: int | None = None, best_loss: float | None = None):
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.loss = loss
        self.history = history
        self.best_epoch = best_epoch
        self.best_loss = best_loss


class DivergenceWarning(RuntimeWarning):
    """An epoch's loss is more than ``divergence_factor`` times its best: fit stops if the next one's is too.

    Attributes:
        epoch: the diverging epoch (from 0).
        loss: its monitored loss.
        best_epoch, best_loss: the epoch with the lowest monitored loss so far (-1: the initial
            weights, by their validation loss measured before the first epoch), and that loss.
    """

    def __init__(self, message: str, *, epoch: int, loss: float, best_epoch: int, best_loss: float):
        super().__init__(message)
        self.epoch, self.loss, self.best_epoch, self.best_loss = epoch, loss, best_epoch, best_loss


def check_divergence_factor(factor) -> float | None:
    """``divergence_factor`` as a float greater than 1, or None (no judgement of epoch losses)."""
    if factor is None:
        return None
    if isinstance(factor, (bool, np.bool_)) or not isinstance(factor, (int, float, np.integer, np.floating)):
        raise TypeError(f"divergence_factor must be a number greater than 1 or None (no check), "
                        f"got {type(factor).__name__}")
    if not 1.0 < factor < math.inf:
        raise ValueError(f"divergence_factor must be a number greater than 1 or None (no check), got {factor}: "
                         "a loss is diverging when it exceeds divergence_factor times its lowest")
    return float(factor)


class NonFinite(Exception):
    """Raised inside an epoch by fit's step; fit turns it into a TrainingDivergedError naming the epoch and batch."""

    def __init__(self, what: str, value: float):
        super().__init__(what)
        self.what, self.value = what, value


def check_finite(cost_value: float) -> None:
    """Raise NonFinite if a step's cost is NaN or infinite (eager and compiled steps alike)."""
    if not math.isfinite(cost_value):
        raise NonFinite(f"the loss became {cost_value}", cost_value)


class StateSnapshot:
    """Copies of the model's parameters and buffers in preallocated arrays, to undo a divergent step.

    ``save`` copies into the same buffers every time (no allocation); ``restore`` copies back and
    reports whether there was anything saved (nothing before the first ``save``).
    """

    def __init__(self, parameters: list, buffer_owners: list):
        # The model's structure is fixed during fit, so the walk over its modules is done once, by the caller.
        self._parameters = parameters
        self._buffer_owners = buffer_owners
        self._saved = None

    def _arrays(self) -> list:
        # The arrays themselves are looked up on every call: an optimizer or a layer may assign new
        # arrays rather than update in place.
        arrays = [p.data for p in self._parameters]
        arrays.extend(getattr(module, name) for module, name in self._buffer_owners)
        return arrays

    def save(self) -> None:
        arrays = self._arrays()
        if self._saved is None:
            self._saved = [np.empty_like(array) for array in arrays]
        for saved, array in zip(self._saved, arrays):
            np.copyto(saved, array)

    def restore(self) -> bool:
        if self._saved is None:
            return False
        for saved, array in zip(self._saved, self._arrays()):
            np.copyto(array, saved)
        return True

    def empty_copy(self) -> StateSnapshot:
        """A snapshot of the same arrays with nothing saved yet."""
        return StateSnapshot(self._parameters, self._buffer_owners)


class DivergenceGuard:
    """The two rules of the module's docstring, over one fit: the best weights and each epoch's verdict.

    fit calls ``begin_validation(val_loss)`` before the first epoch when it has validation data (the
    initial weights' validation loss, the first to beat), then per epoch ``begin_epoch()`` before its
    first step, ``end_batch(cost)`` after each step and ``end_epoch(...)`` after the callbacks; on a
    non-finite loss or parameter it calls ``fall_back()``.

    Args:
        step_snapshot: the step's StateSnapshot (the weights before the last optimizer step).
        factor: ``divergence_factor``, or None to keep the best weights without judging the epochs.
        monitor: ``"val_loss"`` or ``"loss"``: the History key judged and minimized.

    Attributes:
        best_epoch: the epoch of the lowest monitored loss so far; -1 for the initial weights (their
            validation loss, measured before the first epoch); None before any.
        best_loss: that loss (inf before any).
        diverging_since: the first of the diverging epochs up to the last one judged, or None.
    """

    def __init__(self, step_snapshot: StateSnapshot, factor: float | None, monitor: str):
        self.factor, self.monitor = factor, monitor
        self._step_snapshot = step_snapshot
        self._best = step_snapshot.empty_copy()
        self._candidate = step_snapshot.empty_copy()
        self.best_epoch: int | None = None
        self.best_loss = math.inf
        self._first_loss = math.inf
        self.diverging_since: int | None = None
        # Until the first epoch ends there may be no best; a non-finite loss then falls back on the
        # initial weights if those before the last step were already far worse (see fall_back).
        self._initial = step_snapshot.empty_copy()
        self._initial_loss = self._last_batch_loss = None

    def begin_validation(self, val_loss: float) -> None:
        """The initial weights and their validation loss: the best so far, and the first epoch's reference."""
        self._candidate.save()
        self._judge(-1, float(val_loss))
        self._initial = None  # the initial weights are the best already, if their loss is finite

    def begin_epoch(self) -> None:
        if self._initial is not None and self._initial_loss is None:
            self._initial.save()
        if self.monitor == "loss":
            # The weights the epoch's training loss is measured from (see the module's docstring).
            self._candidate.save()

    def end_batch(self, cost: float) -> None:
        """Record a step's cost: that of the weights its step snapshot holds (the first, the initial weights')."""
        if self._initial is not None:
            if self._initial_loss is None:
                self._initial_loss = cost
            self._last_batch_loss = cost

    def end_epoch(self, epoch: int, logs: dict, *, last: bool, run, learning_rate) -> None:
        """Keep the epoch's weights if it is the best; warn at its first diverging epoch; raise if it persists.

        ``last``: training ends after this epoch (its last one, or a callback stopped it), so a
        diverging epoch cannot be followed by a recovery.
        """
        self._initial = None  # from now on the best epoch is what to fall back on
        value = float(logs[self.monitor])
        if self.monitor != "loss":
            self._candidate.save()  # the validation loss is measured at the weights the epoch ended with
        if not self._judge(epoch, value):
            return
        if self.diverging_since == epoch and not last:
            warnings.warn(DivergenceWarning(
                f"{self._comparison(epoch, value)}: training is diverging; fit stops after the next epoch if "
                f"its loss is too, and restores the best weights",
                epoch=epoch, loss=value, best_epoch=self.best_epoch, best_loss=self.best_loss), stacklevel=3)
            return
        since = "" if self.diverging_since == epoch else f", as it has been since epoch {self.diverging_since}"
        raise TrainingDivergedError(
            f"training diverged: {self._comparison(epoch, value)}{since}; {self.fall_back()}. "
            f"{remedies(learning_rate)} (fit's divergence_factor=None turns this check off.)",
            epoch=epoch, batch=None, loss=value, history=run.history, **self.best_fields())

    def _judge(self, epoch: int, value: float) -> bool:
        """Take the candidate weights as the best if ``value`` is the lowest; return whether it is diverging."""
        if math.isfinite(value) and value < self.best_loss:
            self._best, self._candidate = self._candidate, self._best
            if self.best_epoch is None:
                self._first_loss = value
            self.best_epoch, self.best_loss = epoch, value
            self.diverging_since = None
            return False
        # Written as "not (value <= ...)", so that a NaN validation loss counts as diverging.
        diverging = (self.factor is not None and self.best_epoch is not None
                     and not value <= self.factor * self.best_loss and not value <= self._first_loss)
        if not diverging:
            self.diverging_since = None
        elif self.diverging_since is None:
            self.diverging_since = epoch
        return diverging

    def _comparison(self, epoch: int, value: float) -> str:
        name = "validation loss" if self.monitor == "val_loss" else "training loss"
        return (f"the {name} {value:.4g} at epoch {epoch} is more than {self.factor:g} times the lowest, "
                f"{self.best_loss:.4g} {_when(self.best_epoch)} (divergence_factor={self.factor:g})")

    def fall_back(self) -> str:
        """Put the best weights known back; say which.

        Those of the best epoch (or the initial ones, when their validation loss is the lowest);
        before there is a best, those before the optimizer step that led to the non-finite loss, unless their batch's loss was more than ``factor`` times the first
        batch's (training was diverging already, as SGD at a far too large learning rate, whose last
        finite loss may be 1e19): then the initial weights.
        """
        if self._best.restore():
            if self.best_epoch == -1:
                return (f"the model's parameters were restored to their initial values, the best "
                        f"({self.monitor} {self.best_loss:.4g}, measured before the first epoch)")
            which = "ended with" if self.monitor == "val_loss" else "started from"
            return (f"the model's parameters were restored to those of its best epoch, {self.best_epoch} "
                    f"({self.monitor} {self.best_loss:.4g}; the weights that epoch {which})")
        if (self.factor is not None and self._initial is not None and self._last_batch_loss is not None
                and self._last_batch_loss > self.factor * self._initial_loss and self._initial.restore()):
            return (f"the model's parameters were restored to their initial values: the loss "
                    f"{self._last_batch_loss:.4g} before the optimizer step that led to it was more than "
                    f"{self.factor:g} times the first batch's, {self._initial_loss:.4g}")
        if self._step_snapshot.restore():
            return "the model's parameters were restored to their values before the optimizer step that led to it"
        return "no optimizer step had been taken yet, so the model keeps its initial parameters"

    def best_fields(self) -> dict:
        """TrainingDivergedError's best_epoch and best_loss."""
        return {"best_epoch": self.best_epoch, "best_loss": None if self.best_epoch is None else self.best_loss}


def _when(epoch: int) -> str:
    return "before the first epoch" if epoch == -1 else f"at epoch {epoch}"


def non_finite_error(error: NonFinite, guard: DivergenceGuard, *, epoch: int, batch: int, steps_per_epoch: int | None,
                     learning_rate, history: History) -> TrainingDivergedError:
    """The TrainingDivergedError of a NaN or infinite loss or parameter, after the guard's fall-back."""
    kept = guard.fall_back()
    per_epoch = "an unknown number of" if steps_per_epoch is None else steps_per_epoch  # an iterable without len()
    return TrainingDivergedError(
        f"training diverged: {error.what} at epoch {epoch}, batch {batch} (counting from 0; {per_epoch} "
        f"batches per epoch); {kept}. {remedies(learning_rate)}",
        epoch=epoch, batch=batch, loss=error.value, history=history, **guard.best_fields())


def remedies(learning_rate) -> str:
    lr_text = f" (now {learning_rate:g})" if learning_rate is not None else ""
    return (
        f"Remedies: a smaller learning rate{lr_text}; gradient clipping (the optimizer's clip_norm= or "
        "clip_value=); scaling the inputs (standardize X to mean 0, variance 1); for cross-entropy, a loss "
        "computed from logits (cross_entropy, binary_cross_entropy_with_logits) rather than from probabilities."
    )
