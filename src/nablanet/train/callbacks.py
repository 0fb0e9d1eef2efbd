"""Callbacks: code that fit() runs at fixed points of training (early stopping, learning rates, checkpoints,
logs, progress, yours).

A callback subclasses ``Callback`` and overrides any of six hooks, called in this order::

    on_train_begin(run)
        on_epoch_begin(run, epoch)
            on_batch_end(run, batch, logs)      once per minibatch, after the optimizer step
        on_epoch_end(run, epoch, logs)          after validation; logs = this epoch's History row
    on_train_end(run)                           only when training ends without an error

    on_divergence(run, error)                   instead of the rest of an epoch whose loss became NaN or
                                                infinite; error: the TrainingDivergedError fit raises
                                                unless a callback sets run.stop_training (TerminateOnNaN)

``run`` is the ``TrainingRun`` of nablanet.train.history: the model, optimizer, History so far, the
number of epochs and batches, and ``run.stop_training``. Setting ``run.stop_training = True`` in any
hook ends training after the current batch (its epoch is then finished with the batches seen: the
epoch's averages, validation and ``on_epoch_end`` still run), as Keras' ``model.stop_training``.
Epochs and batches are counted from 0, as in ``History.epoch`` (ModelCheckpoint's ``{epoch}`` in a file
name excepted: it counts from 1, as Keras' and the progress bar do). Callbacks run in the order given.

The callbacks Keras users reach for are here under Keras' names and with its meanings, each one's
docstring saying where it differs: EarlyStopping, ReduceLROnPlateau, LearningRateScheduler,
TerminateOnNaN, ModelCheckpoint, CSVLogger, LambdaCallback (and ProgressBar for Keras' verbose=1).
"""

from __future__ import annotations

import csv
import inspect
import json
import math
import os
import pathlib
import warnings

import numpy as np

from nablanet.optim import plateau as optim_plateau
from nablanet.optim.plateau import Plateau, PlateauStep, improves
from nablanet.train.metrics import higher_is_better

__all__ = ["Callback", "LambdaCallback", "EarlyStopping", "ReduceLROnPlateau", "LearningRateScheduler",
           "TerminateOnNaN", "ModelCheckpoint", "CSVLogger", "ProgressBar"]


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

    def on_divergence(self, run, error) -> None:
        """The training loss became NaN or infinite (or a parameter did) in batch ``error.batch`` of
        epoch ``error.epoch``; the model already holds the parameters from before the step that led to
        it. fit raises ``error`` (a TrainingDivergedError) after this hook, unless a callback sets
        ``run.stop_training = True`` in it: training then ends there without an error, the epoch cut
        short is not recorded in the History, and ``on_train_end`` runs."""


class LambdaCallback(Callback):
    """A callback from plain functions, one per hook, each optional.

    Args:
        on_train_begin, on_epoch_begin, on_batch_end, on_epoch_end, on_train_end, on_divergence: functions
            with the signatures of the Callback hooks (without ``self``).

    Example:
        >>> losses = []
        >>> record = LambdaCallback(on_epoch_end=lambda run, epoch, logs: losses.append(logs["loss"]))
    """

    def __init__(self, *, on_train_begin=None, on_epoch_begin=None, on_batch_end=None, on_epoch_end=None,
                 on_train_end=None, on_divergence=None):
        # Assigning the given functions over the inherited no-op methods keeps unused hooks free.
        for name, function in (("on_train_begin", on_train_begin), ("on_epoch_begin", on_epoch_begin),
                               ("on_batch_end", on_batch_end), ("on_epoch_end", on_epoch_end),
                               ("on_train_end", on_train_end), ("on_divergence", on_divergence)):
            if function is not None:
                setattr(self, name, function)


class _Monitoring(Callback):
    """What the callbacks that watch one quantity of the epoch's logs share (EarlyStopping,
    ReduceLROnPlateau, ModelCheckpoint): the monitor, whether lower or higher is better, the value read
    from the logs, and the comparison with ``best`` (``nablanet.optim.plateau.improves``, the rule of
    PyTorch's ReduceLROnPlateau)."""

    def __init__(self, monitor, mode: str):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            mode = "max" if isinstance(monitor, str) and higher_is_better(monitor) else "min"
        self.monitor = monitor
        self.mode = mode

    def _worst(self) -> float:
        """The best value before any epoch: every value but NaN beats it."""
        return math.inf if self.mode == "min" else -math.inf

    def _better(self, value: float, by: float, *, or_equal: bool = False) -> bool:
        """Whether value beats best by more than ``by`` (by at least ``by`` with or_equal)."""
        return improves(value, self.best, mode=self.mode, threshold=by, or_equal=or_equal)

    def _value(self, logs: dict) -> float:
        if callable(self.monitor):
            return float(self.monitor(logs))
        if self.monitor not in logs:
            raise KeyError(
                f"{type(self).__name__} monitors {self.monitor!r}, which this run does not record; the History has "
                f"{sorted(logs)}. Pass validation_data or validation_split for 'val_' keys, or monitor another key."
            )
        return float(logs[self.monitor])


class EarlyStopping(_Monitoring):
    """Stop training when a monitored quantity has stopped improving.

    After each epoch the monitored value is compared with ``best``. With ``reference="last_improvement"``
    (the default, as Keras and PyTorch) it improves if it is lower than ``best - min_delta`` (mode "min")
    or higher than ``best + min_delta`` (mode "max"), and only an improving epoch moves ``best``. With
    ``reference="best"`` (scikit-learn's MLP, its ``tol``) ``best`` is the best value of any epoch so far,
    and an epoch improves if it is at least ``min_delta`` better than that: a run that keeps getting
    better by less than min_delta an epoch never improves. Training stops once ``patience`` epochs in a
    row have not improved (``patience=0``: at the first epoch that does not improve). The counting is
    ``nablanet.optim.plateau.Plateau``'s, the one rule of PyTorch's ReduceLROnPlateau (whose patience
    p is Keras' and this one's p + 1).

    Args:
        monitor: a key of the History, e.g. ``"val_loss"`` (default), ``"loss"``, ``"val_accuracy"``; or a
            function ``logs -> float`` of the epoch's logs, for a quantity the History keeps in parts.
        patience: number of epochs without improvement to wait before stopping; ``math.inf`` never
            stops (to track ``best`` and restore the best weights only).
        min_delta: smallest change that counts as an improvement (>= 0).
        threshold_mode: ``"abs"`` (default, Keras'): min_delta is a difference; ``"rel"`` (PyTorch's
            default): a fraction of ``best``.
        mode: ``"min"``, ``"max"``, or ``"auto"``: "max" for accuracy and the other scores
            (``nablanet.train.metrics.HIGHER_IS_BETTER``, also one output's, ``<output>_accuracy``),
            "min" otherwise (and for a function).
        restore_best_weights: when training ends (stopped early or not), load the model's state
            (parameters and buffers) from the end of the epoch where ``best`` was last set, as Keras 3.
        reference: ``"last_improvement"`` or ``"best"``, see above.
        resume: an EarlyStopping (of the same mode) that watched an earlier run: its best value, best
            weights and epochs without improvement carry over, so that training in several fit calls
            (scikit-learn's warm_start and partial_fit) counts as one run.

    Attributes:
        best: the best value seen; ``best_epoch``: the epoch it was seen at.
        wait: epochs since the last improvement.
        stopped_epoch: the epoch after which training was stopped, or None.
        rule: the ``Plateau`` that counts.

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

    def __init__(self, monitor="val_loss", *, patience: int = 0, min_delta: float = 0.0, mode: str = "auto",
                 restore_best_weights: bool = False, reference: str = "last_improvement", resume=None,
                 threshold_mode: str = "abs"):
        if not patience >= 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        if min_delta < 0:
            raise ValueError(f"min_delta must be >= 0 (the direction comes from mode), got {min_delta}")
        super().__init__(monitor, mode)
        if resume is not None and resume.mode != self.mode:
            raise ValueError(f"resume watched a quantity to {resume.mode}imize, this one is to {self.mode}imize")
        self.patience = patience if math.isinf(patience) else int(patience)
        self.min_delta = float(min_delta)
        self.restore_best_weights = restore_best_weights
        self.reference = reference
        self.rule = self._make_rule(patience=max(self.patience - 1, 0), threshold=self.min_delta,
                                    threshold_mode=threshold_mode, reference=reference)
        # The resumed state is copied, not referenced, so that a chain of resumed runs keeps one best state.
        self._start = None if resume is None else (resume.best, resume.best_epoch, resume.wait, resume.best_state)
        self._reset()

    def _make_rule(self, **settings) -> Plateau:
        return Plateau(self.mode, **settings)

    @property
    def best(self) -> float:
        """The best value seen (the rule's)."""
        return self.rule.best

    @property
    def wait(self) -> int:
        """Epochs since the last improvement (the rule's count)."""
        return self.rule.num_bad_epochs

    def _reset(self) -> None:
        if self._start is None:
            self.rule.reset()
            self.best_epoch, self.best_state = None, None
        else:
            best, self.best_epoch, wait, self.best_state = self._start
            self.rule.reset(best, wait)
        self.stopped_epoch = None

    def on_train_begin(self, run) -> None:
        self._reset()

    def _observe(self, run, value: float) -> PlateauStep:
        return self.rule.step(value)

    def on_epoch_end(self, run, epoch: int, logs: dict) -> None:
        observed = self._observe(run, self._value(logs))
        if observed.new_best:
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_state = run.model.state_dict()
        if observed.plateau:
            self._on_plateau(run, epoch, observed)

    def _on_plateau(self, run, epoch: int, observed: PlateauStep) -> None:
        """``patience`` epochs without improvement: stop."""
        self.stopped_epoch = epoch
        run.stop_training = True

    def on_train_end(self, run) -> None:
        if self.restore_best_weights and self.best_state is not None:
            run.model.load_state_dict(self.best_state)


class ReduceLROnPlateau(EarlyStopping):
    """Lower the learning rate when a monitored quantity has stopped improving (and optionally stop then).

    Improvement, ``patience`` and ``reference`` are counted as in EarlyStopping. After ``patience``
    epochs without improvement the optimizer's rate eta, if it is above ``min_lr``, becomes
    max(factor eta, min_lr) (Keras and PyTorch), the count starts again, and the ``cooldown`` epochs that
    follow do not count; at a plateau that finds eta at or below ``min_lr`` training stops if
    ``stop_at_min_lr``, else nothing changes. With ``clip_to_min_lr=False`` the new rate is factor eta
    even below min_lr, so it ends between factor * min_lr and min_lr: scikit-learn's 'adaptive' rate
    (factor 1/5, min_lr 1e-6, stop). The rule and the reduction are those of
    ``nablanet.optim.ReduceLROnPlateau`` (PyTorch's scheduler), which this callback drives once per epoch.

    Args:
        monitor, patience, min_delta, threshold_mode, mode, reference, restore_best_weights, resume: as
            EarlyStopping's.
        factor: the multiplier of the rate, in (0, 1).
        min_lr: the lower bound of the rate (>= 0); the rate is lowered only while it is above it.
        cooldown: epochs after a reduction that do not count towards ``patience`` (a new best among
            them still counts), to let training settle at the new rate.
        stop_at_min_lr: stop training at a plateau that finds the rate at or below min_lr.
        clip_to_min_lr: the new rate is at least min_lr (default, as Keras and PyTorch); False: factor eta.

    Attributes:
        As EarlyStopping's, ``scheduler`` (the ``nablanet.optim.ReduceLROnPlateau``) and
        ``cooldown_counter``: the cooldown epochs still to pass.

    Example:
        >>> reduce = ReduceLROnPlateau("loss", factor=0.5, patience=2, cooldown=1)
        >>> (reduce.factor, reduce.patience, reduce.cooldown, reduce.mode)
        (0.5, 2, 1, 'min')

    Notes:
        The optimizer's ``lr`` must be a float; a schedule sets its own rates. The reduced rate is in
        the History's ``lr`` from the next epoch on. Keras 3's min_delta defaults to 1e-4 (0 here), and
        its code counts the last cooldown epoch towards patience (cooldown=2 rests one epoch there);
        here, as in PyTorch, cooldown=c rests c epochs. ``resume`` carries no cooldown over.
    """

    def __init__(self, monitor="val_loss", *, factor: float = 0.1, patience: int = 10, min_delta: float = 0.0,
                 mode: str = "auto", min_lr: float = 0.0, cooldown: int = 0, stop_at_min_lr: bool = False,
                 clip_to_min_lr: bool = True, reference: str = "last_improvement", restore_best_weights: bool = False,
                 resume=None, threshold_mode: str = "abs"):
        self.factor, self.min_lr, self.cooldown, self.clip_to_min_lr = factor, min_lr, cooldown, clip_to_min_lr
        self.stop_at_min_lr = stop_at_min_lr
        super().__init__(monitor, patience=patience, min_delta=min_delta, mode=mode, threshold_mode=threshold_mode,
                         restore_best_weights=restore_best_weights, reference=reference, resume=resume)
        self.factor, self.min_lr, self.cooldown = self.scheduler.factor, self.scheduler.min_lr, self.rule.cooldown

    def _make_rule(self, **settings) -> Plateau:
        # eps = 0: any lower rate is applied, as Keras does.
        self.scheduler = optim_plateau.ReduceLROnPlateau(
            None, self.mode, factor=self.factor, min_lr=self.min_lr, cooldown=self.cooldown, eps=0.0,
            clip_to_min_lr=self.clip_to_min_lr, **settings)
        return self.scheduler.rule

    @property
    def cooldown_counter(self) -> int:
        """Cooldown epochs still to pass."""
        return self.rule.cooldown_counter

    def on_train_begin(self, run) -> None:
        _check_float_lr(run, self)
        super().on_train_begin(run)
        self.scheduler.optimizer = run.optimizer

    def _observe(self, run, value: float) -> PlateauStep:
        return self.scheduler.step(value)

    def _on_plateau(self, run, epoch: int, observed: PlateauStep) -> None:
        if not observed.reduced and self.stop_at_min_lr:
            super()._on_plateau(run, epoch, observed)


class LearningRateScheduler(Callback):
    """Before each epoch, set the optimizer's learning rate from a function of the epoch (Keras' scheduler).

    Before epoch e (from 0) the rate becomes ``schedule(e)``, or ``schedule(e, lr)`` for a function of
    two arguments, lr being the optimizer's current rate (the rate of epoch e - 1, or the one it was
    built with before epoch 0). The History's ``lr`` then holds the rate each epoch ran at. For rates
    that change per epoch; the schedules of nablanet.optim.schedules change them per step.

    Args:
        schedule: a function ``epoch -> lr`` or ``(epoch, lr) -> lr`` returning a positive number.

    Example:
        >>> step_decay = LearningRateScheduler(lambda epoch: 0.1 * 0.5 ** (epoch // 10))
        >>> halving = LearningRateScheduler(lambda epoch, lr: lr if epoch == 0 else lr / 2)

    Notes:
        The optimizer's ``lr`` must be a float (a schedule object would be replaced). The rate set
        before the last epoch stays in the optimizer after fit, so a continued fit starts from it.
    """

    def __init__(self, schedule):
        if not callable(schedule):
            raise TypeError(f"schedule must be a function epoch -> lr or (epoch, lr) -> lr, "
                            f"got {type(schedule).__name__}")
        self.schedule = schedule
        self._takes_lr = _positional_arguments(schedule) != 1

    def on_train_begin(self, run) -> None:
        _check_float_lr(run, self)

    def on_epoch_begin(self, run, epoch: int) -> None:
        value = self.schedule(epoch, run.optimizer.lr) if self._takes_lr else self.schedule(epoch)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"LearningRateScheduler: the schedule returned {value!r} for epoch {epoch}; "
                            "it must return a learning rate, a positive number")
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"LearningRateScheduler: the schedule returned {value!r} for epoch {epoch}; "
                             "a learning rate must be positive and finite")
        run.optimizer.lr = float(value)


class TerminateOnNaN(Callback):
    """End training, without an error, at the first batch whose loss is NaN or infinite (as Keras').

    fit already stops there on its own: it puts back the parameters from before the optimizer step
    that led to the non-finite loss (or parameter) and raises TrainingDivergedError, whose message
    names the epoch and batch and suggests remedies. With this callback fit returns instead, as
    after early stopping: the model keeps those parameters, the History holds the epochs completed
    before (the one cut short is not recorded), ``on_train_end`` runs (so EarlyStopping's best weights
    are restored and the last checkpoints written), and a RuntimeWarning carries the error's message.
    For runs whose results up to a divergence are wanted, e.g. in a search over learning rates.

    Attributes:
        stopped_epoch, stopped_batch: where the loss became non-finite (from 0), or None.
        error: the TrainingDivergedError fit would have raised, or None.

    Example:
        >>> terminate = TerminateOnNaN()
        >>> terminate.stopped_epoch is None
        True
    """

    def __init__(self):
        self.stopped_epoch = self.stopped_batch = self.error = None

    def on_train_begin(self, run) -> None:
        self.stopped_epoch = self.stopped_batch = self.error = None

    def on_divergence(self, run, error) -> None:
        if math.isfinite(error.loss):
            return  # not a NaN or infinite loss: some other reason to stop, which is not this callback's
        self.stopped_epoch, self.stopped_batch, self.error = error.epoch, error.batch, error
        run.stop_training = True
        warnings.warn(f"TerminateOnNaN ended training: {error}", RuntimeWarning, stacklevel=2)


class ModelCheckpoint(_Monitoring):
    """Save the model after each epoch, or only when the monitored quantity is the best so far (as Keras').

    Each save writes one nablanet model file with nablanet.io.save, which replaces the file
    atomically (a crash while saving leaves the previous file whole); ``nablanet.load`` reads the
    model back, and ``nablanet.load_checkpoint`` its optimizer too. ``filepath`` is formatted with
    ``str.format`` from ``epoch`` (counted from 1, as Keras' and the progress bar, so
    ``"model-{epoch:02d}.npz"`` names the first epoch's file ``model-01.npz``) and the epoch's logs
    (``"{val_loss:.3f}"``); a path without fields is overwritten at every save. Its folder is created
    if it does not exist. The two files people keep::

        ModelCheckpoint("run/best.npz", monitor="val_loss", save_best_only=True)   # the best epoch's
        ModelCheckpoint("run/last.npz")                                            # the last epoch's

    Args:
        filepath: a path (str or os.PathLike), possibly with ``{epoch}`` and ``{<log key>}`` fields.
        monitor: with save_best_only, the History key (or function of the logs) whose best epoch is
            kept, as EarlyStopping's; default ``"val_loss"``.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max for accuracy and r2), as EarlyStopping's.
        save_best_only: save only after an epoch whose monitored value is strictly better than every
            earlier one (NaN never is); else after every epoch.
        include_optimizer: write the optimizer's state too (a checkpoint training can resume from,
            as Keras' model.save); False: architecture and weights only.

    Attributes:
        best, best_epoch: the best monitored value saved and its epoch (from 0), with save_best_only.
            They carry over to a later fit with the same callback, as Keras' do, so that the file
            keeps the best model of all the runs.
        path: the file written last (a pathlib.Path), or None.

    Example:
        >>> checkpoint = ModelCheckpoint("weights-{epoch:02d}-{val_loss:.2f}.npz", save_best_only=True)
        >>> checkpoint.mode
        'min'

    Notes:
        The file's metadata holds ``{"epoch": e, "logs": {...}}``: the epoch from 0, as in the History,
        and its finite scalar logs. The random generator fit shuffles with (its ``seed``) is not saved.
        Keras' save_freq (saving every n batches) and save_weights_only are not offered.
    """

    def __init__(self, filepath, monitor="val_loss", *, mode: str = "auto", save_best_only: bool = False,
                 include_optimizer: bool = True):
        if not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(f"filepath must be a path (str or os.PathLike), got {type(filepath).__name__}")
        super().__init__(monitor, mode)
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.include_optimizer = include_optimizer
        self.best, self.best_epoch = self._worst(), None
        self.path = None

    def on_epoch_end(self, run, epoch: int, logs: dict) -> None:
        if self.save_best_only:
            value = self._value(logs)
            if math.isnan(value) or not self._better(value, 0.0):
                return
            self.best, self.best_epoch = value, epoch
        # Imported here: nablanet.io builds on nablanet.nn and nablanet.optim, which training does not need.
        from nablanet.io import save

        path = pathlib.Path(_formatted(self.filepath, epoch, logs))
        path.parent.mkdir(parents=True, exist_ok=True)
        metadata = {"epoch": epoch, "logs": {key: float(value) for key, value in logs.items()
                                             if np.ndim(value) == 0 and math.isfinite(value)}}
        self.path = save(path, run.model, optimizer=run.optimizer if self.include_optimizer else None,
                         metadata=metadata)


class CSVLogger(Callback):
    """Write each epoch's History row to a CSV file as the epoch ends (as Keras').

    The first row names the columns: ``epoch`` (from 0, as ``History.epoch``), then the History's keys
    in its order (``loss``, ``data_loss``, ``penalty``, the metrics, ``val_...``, ``lr``). The file is
    opened, appended to and closed at each epoch's end, so every finished epoch is on disk even if
    training is then killed. The same rows as ``History.to_csv``; the folder is created if needed.

    Args:
        filename: the CSV file's path (str or os.PathLike).
        separator: the column separator.
        append: add to an existing file (without repeating its header, whose columns must be this
            run's) instead of replacing it when training begins.

    Example:
        >>> logger = CSVLogger("training.csv", append=True)

    Notes:
        Numbers are written in full (Python's shortest repr, which reads back exactly); an array entry
        such as a confusion matrix as a JSON list.
    """

    def __init__(self, filename, separator: str = ",", append: bool = False):
        if not isinstance(filename, (str, os.PathLike)):
            raise TypeError(f"filename must be a path (str or os.PathLike), got {type(filename).__name__}")
        self.filename = pathlib.Path(filename)
        self.separator = separator
        self.append = append
        self._columns = None
        self._header_written = False

    def on_train_begin(self, run) -> None:
        self.filename.parent.mkdir(parents=True, exist_ok=True)
        self._columns = None
        self._header_written = False
        if self.append and self.filename.exists() and self.filename.stat().st_size > 0:
            with open(self.filename, newline="") as file:
                self._columns = next(csv.reader(file, delimiter=self.separator), None)
            self._header_written = True
        else:
            # Replaced now, as Keras does: a run that stops before its first epoch leaves an empty log.
            self.filename.write_text("")

    def on_epoch_end(self, run, epoch: int, logs: dict) -> None:
        columns = ["epoch", *logs]
        if self._columns is None:
            self._columns = columns
        elif columns != self._columns:
            raise ValueError(f"CSVLogger: {self.filename} has the columns {self._columns}, this run logs {columns}; "
                             "log to another file, or append=False to replace it")
        with open(self.filename, "a", newline="") as file:
            writer = csv.writer(file, delimiter=self.separator)
            if not self._header_written:
                writer.writerow(columns)
                self._header_written = True
            writer.writerow(_csv_cells(epoch, logs, columns[1:]))


def write_history_csv(path, epochs, history: dict, separator: str = ",") -> None:
    """Write a History (its ``epoch`` list and ``history`` dict) as CSVLogger writes it, all epochs at once."""
    with open(path, "w", newline="") as file:
        writer = csv.writer(file, delimiter=separator)
        writer.writerow(["epoch", *history])
        for row, epoch in enumerate(epochs):
            writer.writerow(_csv_cells(epoch, {key: values[row] for key, values in history.items()}, list(history)))


def _csv_cells(epoch: int, logs: dict, keys: list) -> list:
    return [str(epoch), *(_csv_cell(logs[key]) for key in keys)]


def _csv_cell(value) -> str:
    if np.ndim(value) == 0:
        return repr(float(value))
    return json.dumps(np.asarray(value).tolist())


def _formatted(filepath: str, epoch: int, logs: dict) -> str:
    """ModelCheckpoint's file name for ``epoch`` (from 0): the fields filled from epoch + 1 and the logs."""
    try:
        return filepath.format(**logs, epoch=epoch + 1)
    except KeyError as error:
        raise KeyError(f"ModelCheckpoint: filepath {filepath!r} names the field {error.args[0]!r}, which this run "
                       f"does not log; the fields are epoch and {', '.join(logs)}") from None


def _check_float_lr(run, callback) -> None:
    if callable(run.optimizer.lr):
        raise TypeError(f"{type(callback).__name__} needs an optimizer with a float lr, got a schedule: "
                        f"{run.optimizer.lr!r}")


def _positional_arguments(function) -> int:
    """How many positional arguments ``function`` takes (2 for ``*args`` or an unreadable signature)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return 2
    if any(parameter.kind == parameter.VAR_POSITIONAL for parameter in parameters):
        return 2
    return sum(parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
               for parameter in parameters)


class ProgressBar(Callback):
    """A tqdm progress bar (``tqdm.auto``: a widget in Jupyter): one bar for the whole run (default) or one per epoch.

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

    def _open(self, total: int | None, description: str):
        # Imported here so that importing nablanet does not need tqdm unless a bar is shown; tqdm.auto
        # draws a widget in Jupyter (a text bar there is redrawn as a new line each update) and text elsewhere.
        from tqdm.auto import tqdm

        self.close()
        self.bar = tqdm(total=total, desc=description, unit="batch", file=self.file, dynamic_ncols=True,
                        leave=True)

    def on_train_begin(self, run) -> None:
        if self.per == "run":
            # An iterable of batches may not say how many it holds: then the bar counts without a total.
            total = None if run.steps_per_epoch is None else run.epochs * run.steps_per_epoch
            self._open(total, f"epoch 1/{run.epochs}")

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
