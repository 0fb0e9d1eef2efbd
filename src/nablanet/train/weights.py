"""Per-sample weights for fit and evaluate: sample_weight checked, class_weight turned into per-sample weights.

With weights w_i the loss of a batch is the weighted mean sum_i w_i l_i / sum_i w_i (nablanet.nn.losses
says why this and not Keras' default sum_i w_i l_i / n), and the metrics are weighted the same way
(accuracy = sum_i w_i [right_i] / sum_i w_i, as scikit-learn's ``accuracy_score(sample_weight=)``).

A class weight c_k multiplies the weight of every sample of class k, so ``class_weight`` and
``sample_weight`` together give w_i = sample_weight_i c_(class of i), as Keras and scikit-learn combine
them. ``class_weight="balanced"`` is scikit-learn's: c_k = n / (K n_k) for the n_k samples of each of
the K classes present, so that every class weighs the same in total. As in Keras, class_weight is for a
model with one output; a model with several weighs every output's loss by the same per-sample weights,
L_k = sum_i w_i l_ki / sum_i w_i for output k (nablanet.train.outputs).

The weights come with the data (nablanet.train.sources): ``sample_weight=`` beside arrays or a Dataset,
cut with the rows by validation_split; ``validation_data=(X_val, y_val, w_val)``; a Dataset's or an
iterable's batches ``(X_batch, y_batch, w_batch)``.
"""

from __future__ import annotations

from numbers import Real

import numpy as np

from nablanet.nn.losses import LOSSES, sample_weights, takes_sample_weight

__all__ = ["checked_weights", "class_sample_weights", "check_takes_weights", "weighting", "metric_scores"]


def checked_weights(sample_weight, n_samples: int, dtype, what: str = "sample_weight"):
    """The weights as a vector of ``dtype`` (None stays None), refused when they sum to zero (then no
    sample would count)."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, dict):
        raise ValueError(f"{what} must be one weight per sample, which weighs every output's loss alike; a dict of "
                         "weights per output is not supported")
    weights = sample_weights(sample_weight, n_samples, dtype, what)
    if not np.sum(weights, dtype=np.float64) > 0:
        raise ValueError(f"{what}: the weights sum to zero, so no sample would count; give some sample a positive "
                         "weight")
    return weights


def weighting(sample_weight) -> dict:
    """The keyword arguments that pass per-sample weights to a loss or a metric: none without weights, so
    that a function of one's own without a sample_weight parameter works unweighted."""
    return {} if sample_weight is None else {"sample_weight": sample_weight}


def metric_scores(metric_fns, predictions, targets, sample_weight, prefix: str = "") -> dict:
    """``{prefix + name: metric(predictions, targets)}`` of the named metrics, weighted when there are weights."""
    return {prefix + name: metric(predictions, targets, **weighting(sample_weight)) for name, metric in metric_fns}


def class_sample_weights(class_weight, targets: np.ndarray, output_shape: tuple, loss_fn=None) -> np.ndarray:
    """The weight c_k of each sample's class k, float64 ``(N,)``.

    Args:
        class_weight: ``"balanced"`` (c_k = n / (K n_k), scikit-learn's) or a dict class -> weight
            (classes it does not name weigh 1, as in Keras and scikit-learn).
        targets: as fit hands them to the loss: integer labels ``(N,)`` against K >= 2 outputs, one-hot
            (or probability) rows ``(N, K)`` (the class is the argmax, as Keras reads them), or one
            column of binary labels ``(N, 1)`` (0/1, or -1/+1 for hinge).
        output_shape: the model's output shape, ``(N, K)`` or ``(N, 1)``.
        loss_fn: the loss, whose record says which classes a one-column output has.

    Example:
        >>> class_sample_weights("balanced", np.array([0, 0, 0, 1]), (4, 2)).tolist()
        [0.6666666666666666, 0.6666666666666666, 0.6666666666666666, 2.0]
        >>> class_sample_weights({1: 3.0}, np.array([[0.0], [1.0]]), (2, 1)).tolist()
        [1.0, 3.0]
    """
    record = None if loss_fn is None else LOSSES.records.get(loss_fn)
    if record is not None and record.task != "classification":
        raise ValueError(f"class_weight needs a classification loss; {record.name} is a {record.task} loss")
    labels, possible = _classes(targets, tuple(output_shape[1:]), record)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be 'balanced' or a dict class -> weight, got {class_weight!r}")
        classes, index, counts = np.unique(labels, return_inverse=True, return_counts=True)
        return (labels.shape[0] / (classes.size * counts))[index]
    if not isinstance(class_weight, dict):
        raise ValueError(f"class_weight must be 'balanced' or a dict class -> weight, got "
                         f"{type(class_weight).__name__}")
    weights = np.ones(labels.shape[0])
    for key, value in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, Real) or key != int(key):
            raise ValueError(f"class_weight's keys are classes, whole numbers; got {key!r}")
        if possible is not None and int(key) not in possible:
            raise ValueError(f"class_weight names class {key!r}, but the model's classes are {sorted(possible)}")
        if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value) or value < 0:
            raise ValueError(f"class_weight[{key!r}] must be a non-negative number, got {value!r}")
        weights[labels == int(key)] = value
    return weights


def _classes(targets: np.ndarray, output_tail: tuple, record) -> tuple[np.ndarray, set | None]:
    """(each sample's class as int64 (N,), the classes the model can output or None if unknown)."""
    if len(output_tail) == 1 and output_tail[0] >= 2:
        if record is not None and record.targets == "values":
            raise ValueError(f"class_weight needs one class per sample, but {record.name} on {output_tail[0]} outputs "
                             "reads each column as a label of its own (multi-label): weigh the samples with "
                             "sample_weight instead")
        labels = targets if targets.ndim == 1 else np.argmax(targets.reshape(targets.shape[0], -1), axis=1)
        return labels.astype(np.int64, copy=False), set(range(output_tail[0]))
    if output_tail in ((), (1,)):
        values = targets.reshape(targets.shape[0])
        if not np.all(values == np.round(values)):
            raise ValueError("class_weight needs class labels as targets; these targets have fractional values")
        possible = {int(label) for label in record.labels} if record is not None and record.labels else None
        return values.astype(np.int64), possible
    raise ValueError(f"class_weight needs one class per sample (outputs (N, K) or (N, 1)); the model's outputs "
                     f"have shape (N, {', '.join(map(str, output_tail))})")


def check_takes_weights(loss_fn, metric_fns) -> None:
    """With sample weights, the loss and every metric must take ``sample_weight=``: refuse one that does not,
    rather than report an unweighted figure as if it were weighted."""
    if loss_fn is not None and not takes_sample_weight(loss_fn):
        name = getattr(loss_fn, "__name__", type(loss_fn).__name__)
        raise ValueError(f"the loss {name} takes no sample_weight, so it cannot be weighted: give it a keyword "
                         "argument sample_weight=None (the weighted mean sum_i w_i l_i / sum_i w_i, as "
                         "nablanet.nn.functional's losses), or train without sample_weight and class_weight")
    for name, metric in metric_fns:
        if not takes_sample_weight(metric):
            raise ValueError(f"the metric {name} takes no sample_weight, so it cannot be weighted: give it a keyword "
                             "argument sample_weight=None, or leave it out when training with weights")
