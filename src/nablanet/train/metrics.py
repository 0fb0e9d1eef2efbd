"""Metrics on plain arrays: accuracy, confusion matrix, mean squared error, R^2 (NumPy only), and ``METRICS``,
the names ``fit(metrics=...)``, ``evaluate`` and a config's metrics take (with precision, recall, F1, ROC
AUC and top-k accuracy of ``train.classification``).

Every metric takes ``(predictions, targets)``, the argument order of nablanet's losses (scikit-learn's
metrics take ``(y_true, y_pred)``: mind the order when comparing). Predictions and targets may be
ndarrays or Tensors; the result is a Python float (an int array for the confusion matrix).

How class labels are read from predictions (accuracy, confusion matrix, and the classification scores):

- **several columns** ``(N, K)``, ``K >= 2``, logits or probabilities alike: the predicted class is
  the argmax of each row (softmax does not change the argmax, so logits need no conversion);
- **one column** ``(N,)`` or ``(N, 1)`` of floats: a binary decision, class 1 where the prediction
  is ``> threshold``. Use ``threshold=0.5`` for probabilities (the output of a sigmoid; the
  default) and ``threshold=0.0`` for logits or margin scores (``binary_cross_entropy_with_logits``,
  ``hinge``). ``fit`` and ``evaluate`` pick it from the loss; called directly, say which you have.
- **integer or boolean** predictions: already class labels, compared as they are.

Targets are class labels ``(N,)`` (or ``(N, 1)``), or one-hot rows ``(N, K)`` read with argmax. Against
one-column float predictions the targets are binary and class 1 is ``target > 0.5``, which reads
labels 0/1, labels -1/+1 (hinge) and probabilistic targets alike.

Every metric takes per-sample weights w as ``sample_weight=`` and is then the weighted mean over the
samples, sum_i w_i m_i / sum_i w_i (the confusion matrix sums the weights instead of counting), as
``sklearn.metrics`` weighs them.

The implementations are NumPy only, so nablanet does not depend on scikit-learn; the tests check them
against ``sklearn.metrics``.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np

from nablanet.train.classification import f1, fbeta, precision, recall, roc_auc, top_k_accuracy
from nablanet.train.metric_inputs import array_of, checked_weights, class_labels, regression_pair, weighted_mean

__all__ = ["accuracy", "confusion_matrix", "mse", "mae", "r2", "precision", "recall", "f1", "fbeta", "roc_auc",
           "top_k_accuracy", "get_metric", "METRICS", "HIGHER_IS_BETTER", "higher_is_better", "takes_keyword"]


def accuracy(predictions, targets, *, threshold: float = 0.5, sample_weight=None) -> float:
    """Fraction of samples whose predicted class equals the target class.

    accuracy = (1/N) sum_i [predicted_i == target_i], or with weights sum_i w_i [...] / sum_i w_i

    Args:
        predictions: ``(N, K)`` logits or probabilities, ``(N,)`` / ``(N, 1)`` binary probabilities or
            logits, or integer labels. See the module docstring for how classes are read.
        targets: integer labels ``(N,)``, one-hot ``(N, K)``, or binary targets.
        threshold: decision threshold for one-column float predictions: 0.5 for probabilities, 0.0
            for logits and margin scores.
        sample_weight: per-sample weights ``(N,)``, or None.

    Returns:
        A float in [0, 1].

    Example:
        >>> accuracy(np.array([[2.0, -1.0], [0.1, 0.3], [5.0, 4.0]]), np.array([0, 1, 1]))
        0.6666666666666666
        >>> accuracy(np.array([0.9, 0.2, 0.6]), np.array([1, 0, 0]))          # probabilities
        0.6666666666666666
        >>> accuracy(np.array([1.3, -0.2, 0.4]), np.array([1, 0, 0]), threshold=0.0)  # logits
        0.6666666666666666
    """
    predicted, true = class_labels(predictions, targets, threshold)
    return weighted_mean(predicted == true, sample_weight, "accuracy")


def confusion_matrix(predictions, targets, *, num_classes: int | None = None, threshold: float = 0.5,
                     sample_weight=None) -> np.ndarray:
    """Counts C[i, j] of samples of true class i predicted as class j (scikit-learn's convention).

    Classes are read as in ``accuracy``; they must be the integers ``0 .. num_classes-1`` (binary
    classes are 0 and 1).

    Args:
        predictions: as for ``accuracy``.
        targets: as for ``accuracy``.
        num_classes: K; default: the number of prediction columns (2 for one column), or more if a
            larger label occurs.
        threshold: as for ``accuracy``.
        sample_weight: per-sample weights ``(N,)``: C[i, j] sums their weights instead of counting them.

    Returns:
        An int64 array of shape ``(K, K)`` (float64 with sample_weight); rows are true classes, columns
        predicted classes.

    Example:
        >>> confusion_matrix(np.array([0.9, 0.2, 0.6, 0.1]), np.array([1, 0, 0, 0]))
        array([[2, 1],
               [0, 1]])
    """
    predicted, true = class_labels(predictions, targets, threshold)
    prediction_values = array_of(predictions)
    columns = prediction_values.shape[1] if prediction_values.ndim == 2 else 1
    smallest = min(predicted.min(initial=0), true.min(initial=0))
    if smallest < 0:
        raise ValueError(f"confusion_matrix: class labels must be 0 .. K-1, got label {smallest}")
    needed = max(columns, 2, int(predicted.max(initial=0)) + 1, int(true.max(initial=0)) + 1)
    if num_classes is None:
        num_classes = needed
    elif num_classes < needed:
        raise ValueError(f"confusion_matrix: num_classes={num_classes} but labels up to {needed - 1} occur")
    # Each (true, predicted) pair becomes one index of a K*K histogram: one bincount, no Python loop.
    weights = None if sample_weight is None else checked_weights(sample_weight, true.shape[0], "confusion_matrix")
    counts = np.bincount(true * num_classes + predicted, weights, minlength=num_classes * num_classes)
    counts = counts.reshape(num_classes, num_classes)
    return counts if weights is not None else counts.astype(np.int64, copy=False)


def mse(predictions, targets, *, sample_weight=None) -> float:
    """Mean squared error (1/n) sum (y - t)^2 over all elements, as a Python float.

    With sample_weight, the weighted mean over the samples of each sample's mean (as the losses).

    Example:
        >>> mse(np.array([1.0, 2.0, 4.0]), np.array([1.0, 2.0, 3.0]))
        0.3333333333333333
    """
    predicted, true = regression_pair(predictions, targets)
    return weighted_mean(np.square(predicted - true), sample_weight, "mse")


def mae(predictions, targets, *, sample_weight=None) -> float:
    """Mean absolute error (1/n) sum |y - t| over all elements, as a Python float.

    Example:
        >>> mae(np.array([1.0, 2.0, 4.0]), np.array([1.0, 2.0, 2.0]))
        0.6666666666666666
    """
    predicted, true = regression_pair(predictions, targets)
    return weighted_mean(np.abs(predicted - true), sample_weight, "mae")


def r2(predictions, targets, *, sample_weight=None) -> float:
    """Coefficient of determination R^2 = 1 - sum (t - y)^2 / sum (t - mean t)^2, per output, averaged.

    With sample_weight w: R^2 = 1 - sum w (t - y)^2 / sum w (t - tbar)^2, tbar the weighted mean of t.

    As ``sklearn.metrics.r2_score`` with its defaults (``multioutput="uniform_average"``,
    ``force_finite=True``): an output whose targets are constant scores 1.0 if predicted exactly,
    else 0.0, instead of dividing by zero. Note the argument order, predictions first.

    Shape:
        predictions and targets (N,) or (N, K) (an (N,) against an (N, 1) is one output).

    Example:
        >>> r2(np.array([2.5, 0.0, 2.0, 8.0]), np.array([3.0, -0.5, 2.0, 7.0]))
        0.9486081370449679
    """
    predicted, true = regression_pair(predictions, targets)
    if predicted.shape[0] < 2:
        raise ValueError(f"r2 needs at least two samples, got {predicted.shape[0]}")
    predicted = predicted.reshape(predicted.shape[0], -1)
    true = true.reshape(true.shape[0], -1)
    n = true.shape[0]
    w = np.ones((n, 1)) if sample_weight is None else checked_weights(sample_weight, n, "r2")[:, None]
    residual = np.sum(w * np.square(true - predicted), axis=0)
    total = np.sum(w * np.square(true - np.sum(w * true, axis=0) / np.sum(w)), axis=0)
    constant = total == 0
    # Outputs with constant targets follow scikit-learn's force_finite rule instead of 0/0 or x/0.
    scores = np.where(constant, np.where(residual == 0, 1.0, 0.0), 1.0 - residual / np.where(constant, 1.0, total))
    return float(np.mean(scores))


def _variant(metric, name: str, **fixed):
    """``metric`` with some keywords fixed, known by ``name`` (the History's key for it)."""
    variant = functools.partial(metric, **fixed)
    variant.__name__ = name
    variant.__doc__ = f"``{metric.__name__}`` with " + ", ".join(f"{key}={value!r}" for key, value in fixed.items())
    return variant


METRICS = {
    "accuracy": accuracy, "acc": accuracy,
    "confusion_matrix": confusion_matrix,
    "mse": mse, "mean_squared_error": mse,
    "mae": mae, "mean_absolute_error": mae,
    "r2": r2, "r2_score": r2,
    "precision": precision, "recall": recall, "f1": f1, "f1_score": f1,
    # scikit-learn's scorer names: f1_macro, precision_micro, recall_weighted, ...
    **{f"{metric.__name__}_{average}": _variant(metric, f"{metric.__name__}_{average}", average=average)
       for metric in (precision, recall, f1) for average in ("macro", "micro", "weighted")},
    "roc_auc": roc_auc, "roc_auc_ovr": _variant(roc_auc, "roc_auc_ovr"),
    "roc_auc_ovr_weighted": _variant(roc_auc, "roc_auc_ovr_weighted", average="weighted"),
    "top_k_accuracy": top_k_accuracy,
    "top_3_accuracy": _variant(top_k_accuracy, "top_3_accuracy", k=3),
    "top_5_accuracy": _variant(top_k_accuracy, "top_5_accuracy", k=5),
}

_SCORES = (accuracy, r2, precision, recall, f1, roc_auc, top_k_accuracy)

#: The metric names that are scores (higher is better); every other metric is an error (lower is better).
HIGHER_IS_BETTER = tuple(name for name, metric in METRICS.items() if getattr(metric, "func", metric) in _SCORES)


def higher_is_better(name: str) -> bool:
    """Whether the History key ``name`` is a score: a name of HIGHER_IS_BETTER, also as ``val_<name>``
    and as one output's ``<output>_<name>`` (EarlyStopping's mode "auto", a sweep's ranking).

    Example:
        >>> higher_is_better("val_accuracy"), higher_is_better("head_f1_macro"), higher_is_better("val_loss")
        (True, True, False)
    """
    name = name[len("val_"):] if name.startswith("val_") else name
    return name in HIGHER_IS_BETTER or name.endswith(tuple(f"_{score}" for score in HIGHER_IS_BETTER))


def takes_keyword(metric, keyword: str) -> bool:
    """Whether ``metric`` (a function or a partial of one) takes the keyword argument ``keyword``.

    Example:
        >>> takes_keyword(accuracy, "threshold"), takes_keyword(METRICS["f1_macro"], "threshold"), takes_keyword(r2, "k")
        (True, True, False)
    """
    try:
        parameters = inspect.signature(metric).parameters
    except (TypeError, ValueError):
        return False
    return keyword in parameters and parameters[keyword].kind is inspect.Parameter.KEYWORD_ONLY


def get_metric(spec, *, from_logits: bool = False):
    """A metric function from its name (see ``METRICS``) or a callable (returned as is).

    Args:
        spec: a name such as ``"accuracy"``, ``"r2"``, or a function ``(predictions, targets) -> value``.
        from_logits: the outputs are logits or margin scores: the class threshold of one-column outputs
            (accuracy, confusion_matrix, precision, recall, f1, top_k_accuracy) is 0.0 instead of 0.5, and
            roc_auc takes the softmax of several columns. Ignored by the other metrics.

    Returns:
        A function ``(predictions, targets) -> value`` with a ``__name__``.

    Example:
        >>> get_metric("acc").__name__
        'accuracy'
        >>> get_metric("accuracy", from_logits=True)(np.array([0.3, -0.2]), np.array([1, 0]))
        1.0
    """
    if callable(spec):
        return spec
    if spec not in METRICS:
        raise ValueError(f"unknown metric {spec!r}; choose one of {sorted(METRICS)} or pass a function")
    metric = METRICS[spec]
    # Metrics that cut one output column into classes need the threshold of logits; roc_auc, the softmax.
    bound = {key: value for key, value in (("threshold", 0.0), ("from_logits", True)) if takes_keyword(metric, key)}
    if from_logits and bound:
        for_logits = functools.partial(metric, **bound)
        functools.update_wrapper(for_logits, metric)
        return for_logits
    return metric
