"""The regression and classification losses as functions of Tensors, each registered where it is defined
(nablanet.nn.losses); nablanet.nn.functional re-exports them.

Every loss takes ``(predictions, targets)`` (the targets are constants), a ``reduction`` of its terms
l (one per element, or per sample for the cross-entropies): ``"mean"`` (the default), ``"sum"`` or
``"none"`` (the terms themselves), as PyTorch's; and per-sample weights w as ``sample_weight=``, the
weighted mean over samples C = sum_i w_i l_i / sum_i w_i (see nablanet.nn.losses), with
``reduction="mean"``.
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff import batching, ops
from nablanet.autodiff.jit import tracing
from nablanet.autodiff.op import raw as _values
from nablanet.autodiff.ops.nn import softmax_cross_entropy, softmax_cross_entropy_rows
from nablanet.checks import check_choice, check_real
from nablanet.nn.losses import register_loss, sample_weights

__all__ = ["mse", "mae", "huber", "smooth_l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "cross_entropy", "nll_loss", "hinge", "weighted_mean", "reduce_terms", "REDUCTIONS"]

#: How a loss reduces its terms l: their (weighted) mean, their sum, or none (l itself), as PyTorch's ``reduction``.
REDUCTIONS = ("mean", "sum", "none")


def _matching_targets(predictions, targets, loss: str):
    """Targets as an array of the predictions' shape and dtype, or a clear error."""
    target_values = np.asanyarray(_values(targets))
    shape = np.shape(_values(predictions))
    if target_values.shape != shape:
        if target_values.ndim == 1 and shape == (target_values.shape[0], 1):
            target_values = target_values[:, None]
        else:
            raise ValueError(f"{loss}: targets of shape {target_values.shape} do not match predictions of shape {shape}")
    return target_values.astype(_values(predictions).dtype, copy=False)


def weighted_mean(terms, sample_weight=None, loss: str = "loss"):
    """The losses' mean of their terms (one per element of the predictions): the mean of all of them,
    or with per-sample weights w_i (one per row) C = sum_i w_i l_i / sum_i w_i, l_i the mean of row i's terms.

    With every w_i equal this is the mean; a batch whose weights are all zero has C = 0 (and no gradient)
    rather than 0/0: it holds no data. A loss of one's own reduces its terms with it to take sample_weight
    as the shipped losses do; ``loss`` names it in errors.

    Example:
        >>> float(weighted_mean(np.array([1.0, 3.0])))
        2.0
        >>> float(weighted_mean(np.array([[1.0, 1.0], [3.0, 5.0]]), sample_weight=np.array([3.0, 1.0])))
        1.75
    """
    if sample_weight is None:
        return ops.mean(terms)
    shape = np.shape(_values(terms))
    if len(shape) == 0:
        raise ValueError(f"{loss}: sample_weight needs predictions with samples along axis 0, got a scalar")
    w = sample_weights(sample_weight, shape[0], _values(terms).dtype, f"{loss}: sample_weight")
    per_sample = ops.mean(terms, axis=tuple(range(1, len(shape)))) if len(shape) > 1 else terms
    total = np.sum(w)
    # A where, not an if: compiled with the weights as an argument, each batch decides for itself.
    return ops.sum(per_sample * np.where(total > 0, w / np.where(total > 0, total, 1), w))


def reduce_terms(terms, reduction: str = "mean", sample_weight=None, loss: str = "loss"):
    """A loss's terms l reduced as ``reduction`` says: "mean" (weighted_mean: with per-sample weights w,
    sum_i w_i l_i / sum_i w_i), "sum" (sum l), or "none" (l itself, as PyTorch's ``reduction='none'``).

    Per-sample weights weigh a mean, so they need ``reduction="mean"``; ``loss`` names the loss in errors.

    Example:
        >>> terms = np.array([[1.0, 2.0], [3.0, 6.0]])
        >>> float(reduce_terms(terms)), float(reduce_terms(terms, "sum")), reduce_terms(terms, "none").shape
        (3.0, 12.0, (2, 2))
    """
    check_choice(loss, "reduction", reduction, REDUCTIONS)
    if reduction == "mean":
        return weighted_mean(terms, sample_weight, loss)
    _refuse_weights_unless_mean(sample_weight, reduction, loss)
    return ops.sum(terms) if reduction == "sum" else terms


def _refuse_weights_unless_mean(sample_weight, reduction, loss: str) -> None:
    if sample_weight is not None:
        raise ValueError(f"{loss}: sample_weight weighs the mean over samples, so it needs reduction='mean', got "
                         f"reduction={reduction!r}")


def _constant_weights(weight, shape, dtype, loss: str, name: str = "weight", fits: str = "the predictions' shape"):
    """``weight`` (None, or real finite numbers broadcastable to ``shape``) as an array of ``dtype`` of that
    shape; ``fits`` says what the shape is, in errors."""
    if weight is None:
        return None
    values = np.asanyarray(_values(weight))
    if not np.issubdtype(values.dtype, np.number) or np.iscomplexobj(values):
        raise ValueError(f"{loss}: {name} must be real numbers, got dtype {values.dtype}")
    try:
        values = np.broadcast_to(values, shape)
    except ValueError:
        raise ValueError(f"{loss}: {name} of shape {values.shape} does not broadcast to {fits} "
                         f"{tuple(shape)}") from None
    # A check that only raises on bad input: while tracing, on the traced call's weights.
    if not np.all(np.isfinite(tracing.peek(values))):
        raise ValueError(f"{loss}: {name} contains NaN or infinite values")
    return values.astype(dtype, copy=False)


def mse(predictions, targets, *, reduction: str = "mean", sample_weight=None):
    """Mean squared error C = (1/n) sum_i (y_i - t_i)^2 over all n elements.

    The 1/n convention (no factor 1/2), as the notes' "Regression MSE" and PyTorch's MSELoss; its
    gradient is therefore (2/n)(y - t). With ``sample_weight`` w (one per row), the weighted mean over
    the rows of each row's mean (see nablanet.nn.losses), here and in every loss below; ``reduction``
    "sum" gives sum_i (y_i - t_i)^2, "none" the terms (y_i - t_i)^2.
    """
    difference = predictions - _matching_targets(predictions, targets, "mse")
    return reduce_terms(difference * difference, reduction, sample_weight, "mse")


register_loss("mse", mse, aliases=("mean_squared_error",), targets="values", task="regression", outputs="values")


def mae(predictions, targets, *, reduction: str = "mean", sample_weight=None):
    """Mean absolute error C = (1/n) sum_i |y_i - t_i| (PyTorch's l1_loss)."""
    terms = ops.abs(predictions - _matching_targets(predictions, targets, "mae"))
    return reduce_terms(terms, reduction, sample_weight, "mae")


register_loss("mae", mae, aliases=("mean_absolute_error",), targets="values", task="regression", outputs="values")


def huber(predictions, targets, delta: float = 1.0, *, reduction: str = "mean", sample_weight=None):
    """Huber loss: mean of r^2/2 where |r| <= delta, delta (|r| - delta/2) beyond, r = y - t (as PyTorch's
    HuberLoss; its smooth_l1_loss with beta is this divided by beta)."""
    residual = ops.abs(predictions - _matching_targets(predictions, targets, "huber"))
    quadratic = ops.minimum(residual, delta)
    return reduce_terms(0.5 * quadratic * quadratic + delta * (residual - quadratic), reduction, sample_weight,
                        "huber")


register_loss("huber", huber, targets="values", task="regression", outputs="values")


def smooth_l1_loss(predictions, targets, beta: float = 1.0, *, reduction: str = "mean", sample_weight=None):
    """Smooth L1 loss, as PyTorch's: mean of r^2 / (2 beta) where |r| < beta, |r| - beta/2 beyond, r = y - t.

    It is huber with delta = beta, divided by beta (so its slope far out is 1, not delta); at beta = 0 it
    is the mean absolute error.
    """
    beta = check_real("smooth_l1_loss", "beta", beta, low=0.0)
    residual = ops.abs(predictions - _matching_targets(predictions, targets, "smooth_l1_loss"))
    if beta == 0.0:
        terms = residual
    else:
        quadratic = ops.minimum(residual, beta)
        terms = quadratic * quadratic * (0.5 / beta) + (residual - quadratic)
    return reduce_terms(terms, reduction, sample_weight, "smooth_l1_loss")


register_loss("smooth_l1_loss", smooth_l1_loss, aliases=("smooth_l1",), targets="values", task="regression",
              outputs="values")


def binary_cross_entropy(probabilities, targets, weight=None, *, reduction: str = "mean", sample_weight=None):
    """C = -(1/n) sum_i w_i [t_i log p_i + (1 - t_i) log(1 - p_i)] from probabilities p in [0, 1].

    Logarithms are floored at -100, as in PyTorch's BCELoss, so p = 0 or 1 gives a large finite
    loss rather than inf. Prefer binary_cross_entropy_with_logits when the logits are at hand.

    Args:
        probabilities: p, any shape.
        targets: t in [0, 1], of p's shape.
        weight: w, a rescaling of each term, broadcast to p's shape (PyTorch's ``weight``; the mean
            still divides by n); None: 1.
        reduction: "mean", "sum" or "none".
        sample_weight: per-sample weights (with reduction "mean").
    """
    t = _check_binary(_matching_targets(probabilities, targets, "binary_cross_entropy"), "binary_cross_entropy")
    p = _values(probabilities)
    _check_probabilities(p)
    # Logarithms only of positive numbers: at p = 0 or 1 the floored branch is taken, and the log's
    # argument there is a harmless 1, so no 0/0 reaches the gradient (the double-where pattern).
    log_p = ops.where(p > 0, ops.maximum(ops.log(ops.where(p > 0, probabilities, 1.0)), -100.0), -100.0)
    log_not_p = ops.where(p < 1, ops.maximum(ops.log1p(-ops.where(p < 1, probabilities, 0.0)), -100.0), -100.0)
    terms = -(t * log_p + (1.0 - t) * log_not_p)
    w = _constant_weights(weight, p.shape, p.dtype, "binary_cross_entropy")
    return reduce_terms(terms if w is None else terms * w, reduction, sample_weight, "binary_cross_entropy")


# "binary_crossentropy" is Keras' name for the same loss on probabilities (its default from_logits=False):
# a network ending in a sigmoid, as in Keras.
register_loss("binary_cross_entropy", binary_cross_entropy, aliases=("bce", "binary_crossentropy"), targets="values",
              task="classification", outputs="probabilities", labels=(0.0, 1.0))


def binary_cross_entropy_with_logits(logits, targets, weight=None, *, pos_weight=None, reduction: str = "mean",
                                     sample_weight=None):
    """Binary cross-entropy of sigmoid(z) against t, computed from the logits z without overflow.

    With s(z) = log(1 + e^z) = logaddexp(0, z), so that -log sigmoid(z) = s(-z) and
    -log(1 - sigmoid(z)) = s(z), and pos_weight p_c (the weight of the positive targets, PyTorch's):

    .. math::

        l_i = w_i [p_c t_i s(-z_i) + (1 - t_i) s(z_i)]

    and C = (1/n) sum_i l_i. Two terms that are never negative, so no cancellation: written as
    s(z) - t z, a confident right answer (z = 10, t = 1) loses 5 of its 16 digits. Through the
    logaddexp primitive, so its Hessian is diag(w (1 + (p_c - 1) t) sigmoid(z)(1 - sigmoid(z)))/n
    everywhere, z = 0 included.

    Args:
        logits: z, any shape (N, C, ...): pos_weight broadcasts against it from the right, so a vector
            (C,) weighs the classes of a last axis C, as in PyTorch.
        targets: t in [0, 1], of z's shape.
        weight: w, a rescaling of each term broadcast to z's shape; None: 1.
        pos_weight: p_c > 0 broadcast to z's shape (n_negative / n_positive balances a class); None: 1.
        reduction: "mean", "sum" or "none".
        sample_weight: per-sample weights (with reduction "mean").
    """
    loss = "binary_cross_entropy_with_logits"
    t = _check_binary(_matching_targets(logits, targets, loss), loss)
    shape, dtype = t.shape, t.dtype
    positive = _constant_weights(pos_weight, shape, dtype, loss, "pos_weight")
    positive_targets = t if positive is None else positive * t
    terms = positive_targets * ops.logaddexp(0.0, -logits) + (1.0 - t) * ops.logaddexp(0.0, logits)
    w = _constant_weights(weight, shape, dtype, loss)
    return reduce_terms(terms if w is None else terms * w, reduction, sample_weight, loss)


register_loss("binary_cross_entropy_with_logits", binary_cross_entropy_with_logits, targets="values",
              task="classification", outputs="logits", labels=(0.0, 1.0))


def cross_entropy(logits, targets, weight=None, *, ignore_index: int = -100, label_smoothing: float = 0.0,
                  reduction: str = "mean", sample_weight=None):
    """Categorical cross-entropy of softmax(z) over the classes, as PyTorch's ``cross_entropy``.

    With log p = log_softmax(z) over the class axis (axis 1 of (N, C, d1, ...), axis 0 of one sample
    (C,)), class weights w_c, smoothing epsilon and K = C classes, the term of each position n is,
    against a label y_n (ignored, with weight 0, where y_n = ignore_index):

    .. math::

        l_n = -(1 - \\epsilon) w_{y_n} \\log p_{n, y_n} - \\frac{\\epsilon}{K} \\sum_c w_c \\log p_{n, c},
        \\qquad C = \\frac{\\sum_n l_n}{\\sum_n w_{y_n} [y_n \\ne \\text{ignore}]}

    (the weighted mean, as PyTorch's; C = 0, not PyTorch's 0/0 = nan, when every label is ignored),
    and against class probabilities t_n (soft or one-hot, of z's shape), smoothed to
    t' = (1 - epsilon) t + epsilon/K: l_n = -sum_c w_c t'_{n,c} log p_{n,c}, C = (1/N') sum_n l_n over
    the N' positions (not divided by the weights, as PyTorch's).

    Without weights, smoothing or sample weights, and with reduction "mean", this runs the fused
    SoftmaxCrossEntropy primitive: gradient (softmax(z) - t)/N (N the counted labels: the primitive
    skips ignored ones itself, so one compiled program serves batches with and without them), stable
    for logits of magnitude 1e4.
    With ``sample_weight`` s (one per sample), the mean becomes sum_n s_n l_n / sum_n s_n w_{y_n} (for
    labels) or the weighted mean of the samples' mean terms (for probabilities).

    Args:
        logits: z, (N, C), (N, C, d1, ...) or (C,).
        targets: integer labels of z's shape without the class axis, or float probabilities of z's shape.
        weight: w, one weight per class (C,), or None.
        ignore_index: the label that contributes nothing (labels only).
        label_smoothing: epsilon in [0, 1].
        reduction: "mean", "sum" or "none" (the terms l_n, of shape (N, d1, ...)).
        sample_weight: per-sample weights (with reduction "mean").
    """
    shape, dtype = _class_shape(logits, "cross_entropy")
    class_axis = 1 if len(shape) > 1 else 0
    n_classes = shape[class_axis]
    label_smoothing = check_real("cross_entropy", "label_smoothing", label_smoothing, low=0.0, high=1.0)
    check_choice("cross_entropy", "reduction", reduction, REDUCTIONS)
    class_weight = _constant_weights(weight, (n_classes,), dtype, "cross_entropy", fits="one weight per class")
    plain = class_weight is None and not label_smoothing and reduction == "mean"
    if isinstance(targets, batching.BatchTracer) and not plain:
        raise batching.BatchingUnsupported("cross_entropy: targets batched by vmap with weights, smoothing or a "
                                           "reduction other than the mean")
    if plain and (sample_weight is None or isinstance(targets, batching.BatchTracer)):
        return _fused_cross_entropy(logits, targets, class_axis, sample_weight, ignore_index)
    log_p = ops.log_softmax(logits, axis=class_axis)
    if np.asanyarray(_values(targets)).dtype.kind == "f":
        terms = _soft_terms(log_p, targets, class_weight, label_smoothing, class_axis, "cross_entropy")
        return reduce_terms(terms, reduction, sample_weight, "cross_entropy")
    terms, counted, kept = _picked(log_p, targets, class_weight, ignore_index, class_axis, "cross_entropy")
    if label_smoothing:
        every_class = log_p if class_weight is None else log_p * _along(class_weight, class_axis, len(shape))
        smooth = -ops.sum(every_class, axis=class_axis) * kept
        terms = (1.0 - label_smoothing) * terms + (label_smoothing / n_classes) * smooth
    return _label_reduction(terms, counted, reduction, sample_weight, "cross_entropy")


# Keras' names: "sparse_categorical_crossentropy" (integer labels) and "categorical_crossentropy" (one-hot
# rows); cross_entropy takes either. Unlike Keras' default (from_logits=False, a network ending in a softmax)
# they mean the loss on logits, Keras' from_logits=True, the only one nablanet has: end the network
# without a softmax, which this loss applies itself.
register_loss("cross_entropy", cross_entropy, targets="labels", task="classification", outputs="logits",
              aliases=("categorical_cross_entropy", "sparse_categorical_crossentropy", "categorical_crossentropy"))


def nll_loss(log_probabilities, targets, weight=None, *, ignore_index: int = -100, reduction: str = "mean",
             sample_weight=None):
    """Negative log-likelihood of integer labels from log-probabilities, as PyTorch's ``nll_loss``.

    With log-probabilities x (a network ending in log_softmax), class weights w_c and labels y_n
    (ignored where y_n = ignore_index):

    .. math::

        l_n = -w_{y_n} x_{n, y_n}, \\qquad C = \\frac{\\sum_n l_n}{\\sum_n w_{y_n} [y_n \\ne \\text{ignore}]}

    so nll_loss(log_softmax(z, axis=1), y) is cross_entropy(z, y); C = 0 when every label is ignored.

    Args:
        log_probabilities: x, (N, C), (N, C, d1, ...) or (C,): classes on axis 1 (axis 0 of one sample).
        targets: integer labels of x's shape without the class axis, or float probabilities t of x's
            shape (one-hot rows, or soft): then l_n = -sum_c w_c t_{n,c} x_{n,c} and C is their mean
            (beyond PyTorch's nll_loss, as cross_entropy takes them).
        weight: w, one weight per class (C,), or None.
        ignore_index: the label that contributes nothing (labels only).
        reduction: "mean", "sum" or "none" (the terms l_n).
        sample_weight: per-sample weights s (with reduction "mean"): C = sum_n s_n l_n / sum_n s_n w_{y_n}.
    """
    shape, dtype = _class_shape(log_probabilities, "nll_loss")
    class_axis = 1 if len(shape) > 1 else 0
    check_choice("nll_loss", "reduction", reduction, REDUCTIONS)
    class_weight = _constant_weights(weight, (shape[class_axis],), dtype, "nll_loss", fits="one weight per class")
    if np.asanyarray(_values(targets)).dtype.kind == "f":
        terms = _soft_terms(log_probabilities, targets, class_weight, 0.0, class_axis, "nll_loss")
        return reduce_terms(terms, reduction, sample_weight, "nll_loss")
    terms, counted, _ = _picked(log_probabilities, targets, class_weight, ignore_index, class_axis, "nll_loss")
    return _label_reduction(terms, counted, reduction, sample_weight, "nll_loss")


# Its predictions are log-probabilities: the network ends in a log_softmax, which the loss does not apply.
register_loss("nll_loss", nll_loss, aliases=("nll", "negative_log_likelihood"), targets="labels",
              task="classification", outputs="log_probabilities")


def _class_shape(predictions, loss: str):
    values = _values(predictions)
    if np.ndim(values) == 0:
        raise ValueError(f"{loss}: expected predictions of shape (N, C, ...) or (C,), got a scalar")
    return np.shape(values), values.dtype


def _along(vector, axis: int, ndim: int):
    """A vector (C,) shaped to broadcast along ``axis`` of an ndim-dimensional array."""
    return vector.reshape([-1 if a == axis else 1 for a in range(ndim)])


def _soft_terms(log_p, targets, class_weight, label_smoothing: float, class_axis: int, loss: str):
    """-sum_c w_c t'_c log p_c per position, t' = (1 - epsilon) t + epsilon / K, for probability targets t."""
    shape = np.shape(_values(log_p))
    t = np.asanyarray(_values(targets))
    if t.shape != shape:
        raise ValueError(f"{loss}: probability targets of shape {t.shape} do not match predictions of shape {shape}; "
                         f"pass integer class labels (classes on axis {class_axis}) or probabilities of the "
                         "predictions' shape")
    t = t.astype(_values(log_p).dtype, copy=False)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / shape[class_axis]
    if class_weight is not None:
        t = t * _along(class_weight, class_axis, len(shape))
    return -ops.sum(log_p * t, axis=class_axis)


def _fused_cross_entropy(logits, targets, class_axis: int, sample_weight, ignore_index):
    last = len(np.shape(_values(logits))) - 1
    if class_axis != last:
        # The fused op takes the classes last: (N, C, d1, ...) is viewed as rows (N, d1, ..., C).
        logits = ops.moveaxis(logits, class_axis, -1)
        values = np.asanyarray(_values(targets))
        targets = np.moveaxis(values, class_axis, -1) if values.dtype.kind == "f" else values
    if sample_weight is None:
        # The fused op skips the ignored labels itself: one compiled program serves every batch, some
        # of whose labels may be ignored and others not.
        return softmax_cross_entropy(logits, targets, ignore_index)
    return weighted_mean(softmax_cross_entropy_rows(logits, targets), sample_weight, "cross_entropy")


def _picked(log_p, targets, class_weight, ignore_index, class_axis: int, loss: str):
    """(-w_y log p_y per position, its weight w_y, 1 where counted): zero where the label is ignore_index."""
    if isinstance(targets, batching.BatchTracer):
        raise batching.BatchingUnsupported(f"{loss}: targets batched by vmap")
    shape = np.shape(_values(log_p))
    n_classes, dtype = shape[class_axis], _values(log_p).dtype
    expected = shape[:class_axis] + shape[class_axis + 1:]
    labels = np.asanyarray(_values(targets))
    if labels.dtype.kind not in "iu":
        raise ValueError(f"{loss}: targets must be integer class labels or float probabilities, got dtype "
                         f"{labels.dtype}")
    if labels.shape != expected:
        raise ValueError(f"{loss}: integer labels of shape {labels.shape} do not match predictions of shape {shape} "
                         f"(expected labels of shape {expected}: the classes are on axis {class_axis})")
    kept = labels != ignore_index
    # The traced call's labels (nablanet.jit): a check that only raises on bad input.
    counted_labels = tracing.peek(labels)[tracing.peek(kept)]
    if counted_labels.size and (counted_labels.min() < 0 or counted_labels.max() >= n_classes):
        raise ValueError(f"{loss}: labels must be class indices in 0..{n_classes - 1}, got values from "
                         f"{counted_labels.min()} to {counted_labels.max()} (besides ignore_index={ignore_index})")
    safe = np.where(kept, labels, 0)
    one_hot = (np.expand_dims(safe, class_axis) == _along(np.arange(n_classes), class_axis, len(shape))).astype(dtype)
    if class_weight is None:
        counted = kept.astype(dtype)
    else:
        # w_y picked by the one-hot, not as class_weight[safe]: NumPy hands nablanet.jit a traced array used
        # as an index (or np.take's) as a plain one, which a compiled loss would keep as the first batch's.
        counted = np.sum(one_hot * _along(class_weight, class_axis, len(shape)), axis=class_axis) * kept
    return -ops.sum(log_p * one_hot, axis=class_axis) * counted, counted, kept.astype(dtype)


def _label_reduction(terms, counted, reduction: str, sample_weight, loss: str):
    """The terms of a labelled loss reduced: their sum over the counted weights for "mean" (times each
    sample's weight s_n, top and bottom, with sample_weight), else as reduce_terms."""
    if reduction != "mean":
        return reduce_terms(terms, reduction, sample_weight, loss)
    if sample_weight is not None:
        shape = np.shape(counted)
        if not shape:
            raise ValueError(f"{loss}: sample_weight needs predictions with samples along axis 0, got one sample")
        s = sample_weights(sample_weight, shape[0], counted.dtype, f"{loss}: sample_weight")
        s = s.reshape((-1,) + (1,) * (len(shape) - 1))
        terms, counted = terms * s, counted * s
    total = np.sum(counted)
    # Nothing counted (every label ignored, or every weight 0): C = 0 with a zero gradient, where PyTorch
    # gives 0/0: the batch holds no data, and one such batch must not turn the weights into NaN. Wheres,
    # not an if: a compiled loss decides per batch.
    nonzero = total != 0
    return ops.sum(terms) / np.where(nonzero, total, 1) * np.where(nonzero, total.dtype.type(1), total.dtype.type(0))


def hinge(scores, targets, *, reduction: str = "mean", sample_weight=None):
    """Hinge loss C = (1/n) sum max(0, 1 - t y) for labels t in {-1, +1} (labels 0/1 are mapped to -1/+1)."""
    t = _matching_targets(scores, targets, "hinge")
    values = tracing.peek(np.unique(t))
    zero_one = np.all(np.isin(t, (0.0, 1.0)))
    if not (np.all(np.isin(values, (0.0, 1.0))) or np.all(np.isin(values, (-1.0, 1.0)))):
        raise ValueError(f"hinge: labels must be -1/+1 (or 0/1), got values {values[:5].tolist()}")
    # A where, not an if: a compiled loss maps each batch's labels by that batch's convention.
    t = np.where(zero_one, 2.0 * t - 1.0, t)
    return reduce_terms(ops.maximum(1.0 - t * scores, 0.0), reduction, sample_weight, "hinge")


# Labels -1/+1, or 0/1 read as -1/+1.
register_loss("hinge", hinge, targets="values", task="classification", outputs="logits", labels=(-1.0, 0.0, 1.0))


def _check_probabilities(p):
    # Outside [0, 1] the floored logarithms give a loss that can go negative and a gradient that pushes
    # further out, with no error: the usual cause is logits (no sigmoid at the output) given to this loss.
    outside = tracing.peek((p < 0) | (p > 1))
    if np.any(outside):
        raise ValueError(f"binary_cross_entropy: the predictions must be probabilities in [0, 1], but they range from "
                         f"{np.nanmin(p):.4g} to {np.nanmax(p):.4g}; for logits (a network without a sigmoid at its "
                         "output) use binary_cross_entropy_with_logits")


def _check_binary(t, loss: str):
    values = tracing.peek(t)
    if values.size and (values.min() < 0 or values.max() > 1):
        raise ValueError(f"{loss}: targets must lie in [0, 1], got values from {values.min()} to {values.max()}")
    return t
