"""Callbacks: code that fit() runs at fixed points of training (early stopping, progress bar, your own).

A callback subclasses ``Callback`` and overrides any of five hooks, called in this order::

    on_train_begin(run)
        on_epoch_begin(run, epoch)
            on_batch_end(run, batch, logs)      once per minibatch, after the optimizer step
        on_epoch_end(run, epoch, logs)          after validation; logs = this epoch's History row
    on_train_end(run)                           only when training ends without an error

``run`` is the ``TrainingRun`` of nablanet.train.loop: the model, optimizer, History so far, the
number of epochs and batches, and ``run.stop_training``. Setting ``run.stop_training = True`` in any
hook ends training after the current batch (its epoch is then finished with the batches seen: the
epoch's averages, validation and ``on_epoch_end`` still run), as Keras' ``model.stop_training``.
Epochs and batches are counted from 0, as in ``History.epoch``. Callbacks run in the order given.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Callback", "LambdaCallback", "EarlyStopping", "ProgressBar"]


class Callback:
    """Base class: every hook does nothing, so a subclass overrides only the ones it needs.

    Example:
        >>> class PrintLoss(Callback):
        ...     def on_epoch_end(self, run, epoch, logs):
        ...         print(f"epoch {epoch}: loss {logs['loss']:.3f}")
    """

    def on_train_begin(self, run) -> None:
        """Before the first epoch."""

    def on_epoch_begin(self, run, epoch: int) -> None:
        """Before the first batch of ``epoch``."""

    def on_batch_end(self, run, batch: int, logs: dict) -> None:
        """After the optimizer step of ``batch``; logs has ``loss``, ``data_loss``, ``penalty``, ``size``."""

    def on_epoch_end(self, run, epoch: int, logs: dict) -> None:
        """After ``epoch`` and its validation; logs holds the values just appended to the History."""

    def on_train_end(self, run) -> None:
        """After the last epoch (not called when training fails with an error)."""


class LambdaCallback(Callback):
    """A callback from plain functions, one per hook, each optional.

    Args:
        on_train_begin, on_epoch_begin, on_batch_end, on_epoch_end, on_train_end: functions with the
            signatures of the Callback hooks (without ``self``).

    Example:
        >>> losses = []
        >>> record = LambdaCallback(on_epoch_end=lambda run, epoch, logs: losses.append(logs["loss"]))
    """

    def __init__(self, *, on_train_begin=None, on_epoch_begin=None, on_batch_end=None, on_epoch_end=None,
                 on_train_end=None):
        # Assigning the given functions over the inherited no-op methods keeps unused hooks free.
        for name, function in (("on_train_begin", on_train_begin), ("on_epoch_begin", on_epoch_begin),
                               ("on_batch_end", on_batch_end), ("on_epoch_end", on_epoch_end),
                               ("on_train_end", on_train_end)):
            if function is not None:
                setattr(self, name, function)


class EarlyStopping(Callback):
    """Stop training when a monitored quantity has stopped improving.

    After each epoch the monitored value is compared with the best so far; it improves if it is
    lower than ``best - min_delta`` (mode "min") or higher than ``best + min_delta`` (mode "max").
    Training stops once ``patience`` epochs in a row have not improved (``patience=0``: at the
    first epoch that does not improve).

    Args:
        monitor: a key of the History, e.g. ``"val_loss"`` (default), ``"loss"``, ``"val_accuracy"``.
        patience: number of epochs without improvement to wait before stopping.
        min_delta: smallest change that counts as an improvement (>= 0).
        mode: ``"min"``, ``"max"``, or ``"auto"``: "max" for accuracy and r2, "min" otherwise.
        restore_best_weights: when training ends (stopped early or not), load the model's state
            (parameters and buffers) from the end of the best epoch, as Keras 3.

    Attributes:
        best: the best value seen; ``best_epoch``: the epoch it was seen at.
        stopped_epoch: the epoch after which training was stopped, or None.

    Example:
        >>> stopper = EarlyStopping("val_loss", patience=5, restore_best_weights=True)
        >>> stopper.mode
        'min'
        >>> EarlyStopping("val_accuracy").mode
        'max'

    Notes:
        A NaN value never counts as an improvement. A monitor missing from the History is an
        error at the end of the first epoch (e.g. ``"val_loss"`` without validation data).
    """

    def __init__(self, monitor: str = "val_loss", *, patience: int = 0, min_delta: float = 0.0, mode: str = "auto",
                 restore_best_weights: bool = False):
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        if min_delta < 0:
            raise ValueError(f"min_delta must be >= 0 (the direction comes from mode), got {min_delta}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            mode = "max" if _higher_is_better(monitor) else "min"
        self.monitor = monitor
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.mode = mode
        self.restore_best_weights = restore_best_weights
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None
        self.stopped_epoch = None
        self.wait = 0
        self.best_state = None

    def _improves(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_train_begin(self, run) -> None:
        self._reset()

    def on_epoch_end(self, run, epoch: int, logs: dict) -> None:
        if self.monitor not in logs:
            raise KeyError(
                f"EarlyStopping monitors {self.monitor!r}, which this run does not record; the History has "
                f"{sorted(logs)}. Pass validation_data or validation_split for 'val_' keys, or monitor another key."
            )
        value = float(logs[self.monitor])
        if not math.isnan(value) and self._improves(value):
            self.best = value
            self.best_epoch = epoch
            self.wait = 0
            if self.restore_best_weights:
                self.best_state = run.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            run.stop_training = True

    def on_train_end(self, run) -> None:
        if self.restore_best_weights and self.best_state is not None:
            run.model.load_state_dict(self.best_state)


def _higher_is_better(monitor: str) -> bool:
    name = monitor[len("val_"):] if monitor.startswith("val_") else monitor
    return name in ("accuracy", "acc", "r2", "r2_score")


class ProgressBar(Callback):
    """A tqdm progress bar: one bar for the whole run (default) or one per epoch.

    ``fit(progress=True)`` adds ``ProgressBar()``. The bar counts minibatches; its label shows the
    epoch and its postfix the last epoch's loss, metrics and validation figures.

    Args:
        per: ``"run"``: a single bar over all batches of all epochs; ``"epoch"``: a new bar each
            epoch (as Keras' verbose=1).
        file: stream to write to (tqdm's default, stderr, when None).

    Notes:
        Only scalar entries of the History are shown (a confusion matrix is not). The bar is
        updated once per batch; tqdm redraws at most every 0.1 s, so the cost is well under a
        microsecond per batch.
    """

    def __init__(self, per: str = "run", *, file=None):
        if per not in ("run", "epoch"):
            raise ValueError(f"per must be 'run' or 'epoch', got {per!r}")
        self.per = per
        self.file = file
        self.bar = None

    def _open(self, total: int, description: str):
        # Imported here so that importing nablanet does not need tqdm unless a bar is shown.
        from tqdm import tqdm

        self.close()
        self.bar = tqdm(total=total, desc=description, unit="batch", file=self.file, dynamic_ncols=True,
                        leave=True)

    def on_train_begin(self, run) -> None:
        if self.per == "run":
            self._open(run.epochs * run.steps_per_epoch, f"epoch 1/{run.epochs}")

    def on_epoch_begin(self, run, epoch: int) -> None:
        description = f"epoch {epoch + 1}/{run.epochs}"
        if self.per == "epoch":
            self._open(run.steps_per_epoch, description)
        elif self.bar is not None:
            self.bar.set_description(description, refresh=False)

    def on_batch_end(self, run, batch: int, logs: dict) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def on_epoch_end(self, run, epoch: int, logs: dict) -> None:
        if self.bar is None:
            return
        # The loss, metrics and validation figures; data_loss, penalty and lr stay in the History.
        shown = {key: f"{value:.4g}" for key, value in logs.items()
                 if np.ndim(value) == 0 and key not in ("data_loss", "penalty", "lr")}
        self.bar.set_postfix(shown, refresh=True)
        if self.per == "epoch":
            self.close()

    def on_train_end(self, run) -> None:
        self.close()

    def close(self) -> None:
        """Close the bar now (fit calls this when training stops with an error)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
