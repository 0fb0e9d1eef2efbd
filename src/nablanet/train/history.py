"""What fit records and what its callbacks see: History (per-epoch values, as Keras') and TrainingRun."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nablanet.train.callbacks import write_history_csv

__all__ = ["History", "TrainingRun"]


class History:
    """What fit() recorded: one list per quantity, one entry per epoch (as Keras' History).

    Keys, in this order: ``loss`` (the cost the optimizer saw: data loss plus penalty), ``data_loss``,
    ``penalty`` (the L1/L2 term, 0.0 without regularization), one key per metric, then with
    validation ``val_loss``, ``val_<metric>`` for the metrics and the validation_metrics, and ``lr``
    when the optimizer reports ``lr_now`` (the learning rate its next step will use, which differs
    from the last one under a schedule). Several outputs add, as Keras names them, ``<output>_loss``
    (unweighted) and ``<output>_<metric>`` (nablanet.train.outputs).

    Training figures are averages over the epoch's batches, weighted by batch size, measured
    while the weights change and in training mode (dropout on), as Keras reports them; validation
    figures are computed after the epoch in evaluation mode. ``val_loss`` is the data loss alone:
    the penalty does not depend on the data (add ``penalty`` for the total).

    Attributes:
        history: dict name -> list of per-epoch values.
        epoch: the epoch numbers recorded, from 0.
        params: the run's settings (epochs, batch_size, steps_per_epoch, samples, validation_samples;
            None where an iterable of batches does not say).

    Example:
        >>> history = History()
        >>> history.append(0, {"loss": 0.5, "accuracy": 0.75})
        >>> history["loss"], history.epoch
        ([0.5], [0])
    """

    def __init__(self):
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []
        self.params: dict = {}

    def append(self, epoch: int, logs: dict) -> None:
        """Record one epoch's values."""
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __getitem__(self, key: str) -> list:
        return self.history[key]

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def keys(self):
        """The names of the recorded figures (``loss``, ``val_loss``, metrics), as a dict's keys."""
        return self.history.keys()

    def __len__(self) -> int:
        return len(self.epoch)

    def __repr__(self):
        last = {k: v[-1] for k, v in self.history.items() if v and np.ndim(v[-1]) == 0}
        shown = ", ".join(f"{k}={v:.4g}" for k, v in last.items())
        return f"History({len(self.epoch)} epochs; last: {shown})"

    def to_csv(self, path, *, separator: str = ",") -> None:
        """Write the History to a CSV file, one row per epoch, as CSVLogger writes it during training:
        the columns ``epoch`` (from 0) and the keys in order; numbers in full, arrays as JSON lists."""
        write_history_csv(path, self.epoch, self.history, separator)

    def to_frame(self):
        """The History as a pandas DataFrame: one row per epoch (the index, named ``epoch``), one column
        per key. pandas is not a dependency of nablanet: ImportError naming it when it is not installed."""
        try:
            import pandas
        except ImportError:
            raise ImportError("History.to_frame needs pandas, which is not installed (nablanet does not depend "
                              "on it): pip install pandas, or use History.to_csv") from None
        return pandas.DataFrame(self.history, index=pandas.Index(self.epoch, name="epoch"))


@dataclass
class TrainingRun:
    """The state of a fit() call that callbacks may read, and ``stop_training``, which they may set.

    Attributes:
        model: the Module being trained.
        optimizer: its optimizer.
        history: the History so far (complete epochs only).
        epochs: the number of epochs asked for.
        steps_per_epoch: minibatches per epoch (None for an iterable of batches without a length).
        stop_training: set True to end training after the current batch.
        epoch: the current epoch, from 0.
        callbacks: all callbacks of the run, in the order they are called (including the progress bar).
    """

    model: object
    optimizer: object
    history: History
    epochs: int
    steps_per_epoch: int
    stop_training: bool = False
    epoch: int = 0
    callbacks: list = field(default_factory=list)
