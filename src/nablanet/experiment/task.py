"""The task the targets set: the loss, the output layer's size and activation, the metrics and the score."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from nablanet.experiment.vocabulary import loss_record
from nablanet.train.metrics import HIGHER_IS_BETTER

if TYPE_CHECKING:
    from nablanet.experiment.config import Config

__all__ = ["Task", "make_task", "score_names"]


@dataclass
class Task:
    """What the targets ask for: the loss, the number of outputs, the metrics and the score.

    Attributes:
        kind: "classification" or "regression".
        loss: the loss name.
        n_outputs: units of the output layer.
        n_classes: number of classes (0 for regression).
        output_activation: activation of the output layer ("identity" for logits).
        metrics: metric names reported by fit and evaluate.
    """

    kind: str
    loss: str
    n_outputs: int
    n_classes: int
    output_activation: str
    metrics: list = field(default_factory=list)

    def to_dict(self) -> dict:
        """The task's fields as a plain dict (JSON-ready), as ``from_dict`` reads them."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Task:
        """The Task whose fields are ``values`` (the dict ``to_dict`` wrote)."""
        return cls(**values)


def make_task(config: Config, y: np.ndarray, source: str = "") -> Task:
    """The loss, output size and metrics for targets ``y`` under ``config``'s train.loss.

    Raises:
        ValueError: the targets do not fit the loss (class labels for a binary loss, real values for
            cross_entropy); the message says which loss would.
    """
    y = np.asarray(y)
    loss = config.get("train.loss")
    integer = np.issubdtype(y.dtype, np.integer) or y.dtype == bool
    source = source or config.get("data.source")
    if loss == "auto":
        loss = "cross_entropy" if integer and y.ndim == 1 else "mse"
    record = loss_record(loss)
    if record.task == "classification" and record.targets == "labels":
        if y.ndim == 2 and y.shape[1] >= 2:
            n_classes = y.shape[1]
        elif y.ndim == 1 and (integer or np.all(y == np.round(y))):
            if y.min() < 0:
                raise ValueError(f"loss {loss} needs class labels 0 .. K-1, but the targets of {source} go down "
                                 f"to {y.min()}")
            n_classes = int(y.max()) + 1
            if n_classes < 2:
                raise ValueError(f"loss {loss} needs at least two classes, but the targets of {source} are "
                                 f"all {y.min()}")
        else:
            example = y.ravel()[~np.isclose(y.ravel(), np.round(y.ravel()))][:1]
            raise ValueError(f"loss {loss} needs integer class labels, but the targets of {source} are real "
                             f"numbers (e.g. {example[0] if example.size else y.ravel()[0]:g}); use a regression "
                             f"loss such as mse")
        kind, n_outputs = "classification", n_classes
    elif record.task == "classification":
        values = np.unique(y)
        allowed = record.labels or (0, 1)
        if y.ndim > 1 and y.shape[1] != 1 or not np.all(np.isin(values, allowed)):
            shown = ", ".join(f"{v:g}" for v in values[:6]) + (", ..." if len(values) > 6 else "")
            raise ValueError(f"loss {loss} needs binary labels {'/'.join(f'{v:g}' for v in allowed)}, but the targets of "
                             f"{source} take the values {shown}; use cross_entropy for several classes")
        kind, n_outputs, n_classes = "classification", 1, 2
    else:
        kind, n_classes = "regression", 0
        n_outputs = 1 if y.ndim == 1 else int(np.prod(y.shape[1:]))
    output_activation = config.get("model.output_activation")
    if output_activation == "auto":
        # A loss of probabilities is given them by a sigmoid; every other loss takes the network's z.
        output_activation = "sigmoid" if record.outputs == "probabilities" else "identity"
    elif output_activation == "none":
        output_activation = "identity"
    metrics = config.get("train.metrics")
    if metrics == "auto":
        metrics = ["accuracy"] if kind == "classification" else ["r2"]
    elif isinstance(metrics, str):
        metrics = [metrics]
    return Task(kind, loss, n_outputs, n_classes, output_activation, list(metrics))


def score_names(config: Config, task: Task) -> tuple[str, bool]:
    """The sweep's score name and whether higher is better."""
    score = config.get("sweep.score")
    if score == "auto":
        score = "accuracy" if task.kind == "classification" else "r2"
    return score, score in HIGHER_IS_BETTER
