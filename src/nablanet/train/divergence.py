"""fit's divergence guard: a NaN or infinite loss ends training, with the step that led to it undone."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from nablanet.train.loop import History

__all__ = ["TrainingDivergedError"]


class TrainingDivergedError(RuntimeError):
    """The training loss became NaN or infinite; the model holds the parameters from before the bad step.

    Attributes:
        epoch: the epoch (from 0) in which the loss was not finite.
        batch: the batch (from 0) within that epoch.
        loss: the offending value (nan, inf or -inf).
        history: the History of the epochs completed before it.
    """

    def __init__(self, message: str, *, epoch: int, batch: int, loss: float, history: History):
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.loss = loss
        self.history = history


class NonFinite(Exception):
    """Raised inside an epoch; fit turns it into a TrainingDivergedError naming the epoch and batch."""

    def __init__(self, what: str, value: float, restored: bool):
        super().__init__(what)
        self.what, self.value, self.restored = what, value, restored


class StateSnapshot:
    """Copies of the model's parameters and buffers in preallocated arrays, to undo a divergent step.

    ``save`` copies into the same buffers every time (no allocation); ``restore`` copies back and
    reports whether there was anything saved (nothing before the first step).
    """

    def __init__(self, parameters: list, buffer_owners: list):
        # The model's structure is fixed during fit, so the walk over its modules is done once here.
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


def divergence_message(error: NonFinite, epoch, batch, steps_per_epoch, learning_rate) -> str:
    if error.restored:
        kept = "the model's parameters were restored to their values before the optimizer step that led to it"
    else:
        kept = "no optimizer step had been taken yet, so the model keeps its initial parameters"
    lr_text = f" (now {learning_rate:g})" if learning_rate is not None else ""
    return (
        f"training diverged: {error.what} at epoch {epoch}, batch {batch} (counting from 0; "
        f"{steps_per_epoch} batches per epoch); {kept}. Remedies: a smaller learning rate{lr_text}; gradient "
        "clipping (the optimizer's clip_norm= or clip_value=); scaling the inputs (standardize X to mean 0, "
        "variance 1); for cross-entropy, a loss computed from logits (cross_entropy, "
        "binary_cross_entropy_with_logits) rather than from probabilities."
    )
