"""Classification scores on plain arrays: precision, recall, F1, ROC AUC and top-k accuracy (NumPy only).

As the metrics of ``train.metrics`` (whose ``METRICS`` names these too: ``"f1"``, ``"f1_macro"``,
``"roc_auc"``, ...), each takes ``(predictions, targets)``, predictions first, Tensors or arrays,
reads classes by the rules of that module's docstring (argmax of several columns; one column cut at
``threshold``: 0.5 for probabilities, 0 for logits), takes per-sample weights as ``sample_weight=`` and
returns a Python float. The tests compare each with ``sklearn.metrics`` (mind its order,
``(y_true, y_pred)``).

For class k, with TP_k, FP_k, FN_k the (weighted) counts of true positives, false positives and false
negatives:

.. math::

    P_k = \\frac{TP_k}{TP_k + FP_k}, \\qquad R_k = \\frac{TP_k}{TP_k + FN_k}, \\qquad
    F_{1,k} = \\frac{2\\, TP_k}{2\\, TP_k + FP_k + FN_k}

(0 where the denominator is 0, scikit-learn's ``zero_division=0`` without its warning), averaged as
``average`` says: "binary" (class ``pos_label`` only), "macro" (the mean over the classes that occur in
the targets or the predictions), "weighted" (that mean weighted by each class's support), "micro" (the
counts summed over the classes first: for one label per sample, the accuracy).
"""

from __future__ import annotations

import numpy as np

from nablanet.train.metric_inputs import array_of, checked_weights, class_labels, integer_labels, one_column

__all__ = ["precision", "recall", "f1", "fbeta", "roc_auc", "top_k_accuracy", "AVERAGES"]

#: The averages precision, recall and F1 take (None: "binary" for one column of predictions, else "macro").
AVERAGES = ("binary", "macro", "micro", "weighted")


def precision(predictions, targets, *, average: str | None = None, pos_label: int = 1, threshold: float = 0.5,
              sample_weight=None) -> float:
    """Precision TP / (TP + FP): of the samples predicted as a class, the fraction that are of it.

    Args:
        predictions: ``(N, K)`` scores (argmax), ``(N,)`` / ``(N, 1)`` binary scores cut at ``threshold``,
            or integer labels.
        targets: integer labels ``(N,)``, one-hot ``(N, K)``, or binary targets.
        average: one of ``AVERAGES`` (see the module docstring); None: "binary" for one column of
            predictions, "macro" for several.
        pos_label: the positive class of ``average="binary"``.
        threshold: the decision threshold of one-column float predictions (0.5 probabilities, 0 logits).
        sample_weight: per-sample weights ``(N,)``, or None.

    Example:
        >>> precision(np.array([0.9, 0.8, 0.3, 0.6]), np.array([1, 0, 0, 1]))   # 2 of 3 predicted 1 are 1
        0.6666666666666666
    """
    return _averaged("precision", predictions, targets, average, pos_label, threshold, sample_weight)


def recall(predictions, targets, *, average: str | None = None, pos_label: int = 1, threshold: float = 0.5,
           sample_weight=None) -> float:
    """Recall TP / (TP + FN): of the samples of a class, the fraction predicted as it (the sensitivity).

    Arguments as ``precision``'s.

    Example:
        >>> recall(np.array([0.9, 0.8, 0.3, 0.6, 0.1]), np.array([1, 0, 1, 1, 0]))   # 2 of the 3 ones found
        0.6666666666666666
    """
    return _averaged("recall", predictions, targets, average, pos_label, threshold, sample_weight)


def fbeta(predictions, targets, *, beta: float, average: str | None = None, pos_label: int = 1,
          threshold: float = 0.5, sample_weight=None) -> float:
    """F-beta = (1 + beta^2) TP / ((1 + beta^2) TP + beta^2 FN + FP): recall weighted beta times precision.

    Arguments as ``precision``'s, and ``beta`` > 0 (1: F1; 2 favours recall, 0.5 precision).

    Example:
        >>> fbeta(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 1]), beta=2.0)   # P = 1/2, R = 1/3
        0.35714285714285715
    """
    if not beta > 0:
        raise ValueError(f"fbeta: beta must be positive, got {beta!r}")
    return _averaged("fbeta", predictions, targets, average, pos_label, threshold, sample_weight, beta=float(beta))


def f1(predictions, targets, *, average: str | None = None, pos_label: int = 1, threshold: float = 0.5,
       sample_weight=None) -> float:
    """F1 = 2 TP / (2 TP + FP + FN), the harmonic mean of precision and recall: ``fbeta`` with beta = 1.

    Arguments as ``precision``'s.

    Example:
        >>> f1(np.array([[2.0, 0.1, 0.0], [0.0, 1.0, 3.0], [0.0, 2.0, 1.0]]), np.array([0, 2, 2]), average="macro")
        0.5555555555555555
    """
    return fbeta(predictions, targets, beta=1.0, average=average, pos_label=pos_label, threshold=threshold,
                 sample_weight=sample_weight)


def _averaged(score, predictions, targets, average, pos_label, threshold, sample_weight, beta=1.0) -> float:
    predicted, true = class_labels(predictions, targets, threshold)
    if average is None:
        average = "binary" if _columns(predictions) == 1 else "macro"
    if average not in AVERAGES:
        raise ValueError(f"{score}: average must be one of {', '.join(AVERAGES)} or None, got {average!r}")
    weights = np.ones(true.shape[0]) if sample_weight is None else checked_weights(sample_weight, true.shape[0], score)
    classes = np.union1d(predicted, true)
    if average == "binary":
        if classes.size > 2:
            raise ValueError(f"{score}: average='binary' needs two classes, got labels {classes.tolist()}; "
                             "choose average='macro', 'micro' or 'weighted'")
        classes = np.array([pos_label])
    # Weighted counts per class: true positives, predicted (TP + FP) and actual (TP + FN).
    tp = np.array([np.sum(weights[(predicted == k) & (true == k)]) for k in classes])
    predicted_count = np.array([np.sum(weights[predicted == k]) for k in classes])
    true_count = np.array([np.sum(weights[true == k]) for k in classes])
    if average == "micro":
        tp, predicted_count, true_count = tp.sum(keepdims=True), predicted_count.sum(keepdims=True), \
            true_count.sum(keepdims=True)
    numerator, denominator = {
        "precision": (tp, predicted_count),
        "recall": (tp, true_count),
        "fbeta": ((1 + beta**2) * tp, beta**2 * true_count + predicted_count),
    }[score]
    per_class = np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)
    if average == "weighted":
        return float(np.average(per_class, weights=true_count)) if true_count.sum() > 0 else 0.0
    return float(np.mean(per_class))


def roc_auc(predictions, targets, *, average: str = "macro", from_logits: bool = False, sample_weight=None) -> float:
    r"""Area under the ROC curve: the probability that a positive sample scores above a negative one.

    .. math::

        \mathrm{AUC} = \frac{\sum_{i \in +} \sum_{j \in -} w_i w_j \left([s_i > s_j] + \tfrac12 [s_i = s_j]\right)}
                            {\sum_{i \in +} w_i \sum_{j \in -} w_j}

    (ties count half, which is the trapezoid under the ROC curve, as scikit-learn computes it).

    Binary: one column of scores (probabilities, logits or margins alike: only their order counts),
    or two columns, whose second is the positive class's (``from_logits``: their softmax's). Several
    classes: one-vs-rest, the AUC of column k's probability against "class k or not", for every class
    k, averaged ("macro": the mean; "weighted": by each class's support). scikit-learn takes
    probabilities there; with ``from_logits`` the columns are logits and go through softmax first.

    Args:
        predictions: ``(N,)`` / ``(N, 1)`` scores, or ``(N, K)`` probabilities (logits with from_logits).
        targets: integer labels (N,), one-hot rows, or binary targets (class 1 where > 0.5).
        average: "macro" or "weighted" (several classes only).
        from_logits: several columns are logits (the softmax is applied); ``fit`` sets it from the loss.
        sample_weight: per-sample weights ``(N,)``, or None.

    Raises:
        ValueError: a class with no sample, or none outside it (the AUC is not defined then).

    Example:
        >>> roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
        0.75
    """
    scores = array_of(predictions).astype(np.float64, copy=False)
    target_values = array_of(targets)
    weights = None if sample_weight is None else checked_weights(sample_weight, scores.shape[0], "roc_auc")
    if average not in ("macro", "weighted"):
        raise ValueError(f"roc_auc: average must be 'macro' or 'weighted', got {average!r}")
    if _columns(scores) == 1:
        positive = one_column(np.asarray(target_values, dtype=np.float64), "binary targets") > 0.5
        return _binary_auc(one_column(scores, "predictions"), positive, weights)
    labels = integer_labels(target_values)
    if labels.shape[0] != scores.shape[0]:
        raise ValueError(f"roc_auc: {scores.shape[0]} rows of predictions but {labels.shape[0]} targets")
    if scores.shape[1] == 2:
        # softmax's second column is sigmoid(z_1 - z_0): z_1 - z_0 orders the rows alike, ties exactly kept.
        return _binary_auc(scores[:, 1] - scores[:, 0] if from_logits else scores[:, 1], labels == 1, weights)
    if from_logits:
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))  # max-subtracted, so exp cannot overflow
        scores = shifted / shifted.sum(axis=1, keepdims=True)
    classes = range(scores.shape[1])
    areas = [_binary_auc(scores[:, k], labels == k, weights, f" (class {k} against the rest)") for k in classes]
    if average == "macro":
        return float(np.mean(areas))
    support = [np.sum(labels == k) if weights is None else np.sum(weights[labels == k]) for k in classes]
    return float(np.average(areas, weights=support))


def _binary_auc(scores, positive, weights, which: str = "") -> float:
    """The AUC of ``scores`` for the boolean ``positive``: weighted Mann-Whitney U with ties counted half."""
    if positive.shape != scores.shape:
        raise ValueError(f"roc_auc: {scores.shape[0]} predictions but {positive.shape[0]} targets")
    weights = np.ones(scores.shape[0]) if weights is None else weights
    # Each distinct score once: the positive and negative weight at it, and the negative weight below it.
    distinct, index = np.unique(scores, return_inverse=True)
    positive_at = np.bincount(index, weights * positive, minlength=distinct.size)
    negative_at = np.bincount(index, weights * ~positive, minlength=distinct.size)
    negative_below = np.cumsum(negative_at) - negative_at
    total_positive, total_negative = positive_at.sum(), negative_at.sum()
    if not (total_positive > 0 and total_negative > 0):
        raise ValueError(f"roc_auc{which}: the targets hold only one class, so the ROC AUC is not defined")
    return float(np.sum(positive_at * (negative_below + 0.5 * negative_at)) / (total_positive * total_negative))


def top_k_accuracy(predictions, targets, *, k: int = 2, threshold: float = 0.5, sample_weight=None) -> float:
    """The fraction of samples whose true class is among the k highest-scoring columns.

    ``k=1`` is the accuracy. Ties are broken as scikit-learn's ``top_k_accuracy_score`` breaks them
    (of equal scores, the higher column ranks first). One column of predictions is a binary decision:
    ``k=1`` its accuracy at ``threshold``, a larger k 1.

    Args:
        predictions: ``(N, K)`` scores (logits or probabilities: only their order counts), or one column.
        targets: integer labels ``(N,)`` or one-hot rows.
        k: how many of the top columns count (default 2, scikit-learn's).
        threshold: for one column of predictions, as accuracy's.
        sample_weight: per-sample weights ``(N,)``, or None.

    Example:
        >>> top_k_accuracy(np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]]), np.array([1, 0, 2]))
        0.3333333333333333
    """
    if isinstance(k, bool) or not (int(k) == k and k >= 1):
        raise ValueError(f"top_k_accuracy: k must be a whole number >= 1, got {k!r}")
    scores = array_of(predictions)
    if _columns(scores) == 1:
        predicted, true = class_labels(scores, targets, threshold)
        hits = (predicted == true) if k == 1 else np.ones(true.shape[0], dtype=bool)
    else:
        true = integer_labels(array_of(targets))
        if true.shape[0] != scores.shape[0]:
            raise ValueError(f"top_k_accuracy: {scores.shape[0]} rows of predictions but {true.shape[0]} targets")
        # A stable ascending sort, reversed: equal scores rank the higher column first, as scikit-learn's.
        ranked = np.argsort(scores, axis=1, kind="mergesort")[:, ::-1][:, :int(k)]
        hits = np.any(ranked == true[:, None], axis=1)
    if sample_weight is None:
        return float(np.mean(hits))
    return float(np.average(hits, weights=checked_weights(sample_weight, hits.shape[0], "top_k_accuracy")))


def _columns(predictions) -> int:
    values = array_of(predictions)
    return values.shape[1] if values.ndim == 2 else 1
