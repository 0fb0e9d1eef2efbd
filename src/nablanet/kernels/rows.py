"""Rows of a batch of logits: reductions along a short last axis (NumPy reduces such rows one short row at
a time; over the transposed copy, or as a product with ones, it runs the long way), and the cross-entropy
of integer labels with its gradient in the fewest passes over the rows."""

from __future__ import annotations

import numpy as np

from nablanet.kernels.optimizers import flush_subnormals

__all__ = ["last_axis_max", "last_axis_sum", "SHORT_ROW", "softmax_parts", "label_cross_entropy",
           "softmax_minus_labels"]

# Rows at most this long are reduced by the tricks below (measured: 10 float32 logits per row of a
# batch of 100, max 10 us -> 2.5 us, sum 5 us -> 2 us); longer rows NumPy reduces well itself.
SHORT_ROW = 32


def _short_rows(x) -> bool:
    return x.ndim >= 2 and 1 < x.shape[-1] <= SHORT_ROW and x.dtype.kind == "f" and x.size >= 4 * x.shape[-1]


def last_axis_max(x):
    """max over the last axis, keepdims: exactly np.max (the maximum does not depend on the order)."""
    if not _short_rows(x):
        return np.max(x, axis=-1, keepdims=True)
    columns = np.ascontiguousarray(x.reshape(-1, x.shape[-1]).T)
    return columns.max(axis=0).reshape(x.shape[:-1] + (1,))


def last_axis_sum(x):
    """sum over the last axis, keepdims, as the product with a vector of ones (one BLAS call; its
    order of additions, so it may differ from np.sum in the last bits)."""
    if not _short_rows(x) or not x.flags.c_contiguous:
        return np.sum(x, axis=-1, keepdims=True)
    return (x.reshape(-1, x.shape[-1]) @ np.ones(x.shape[-1], dtype=x.dtype)).reshape(x.shape[:-1] + (1,))


def softmax_parts(logits) -> tuple:
    """(z - max z, exp(z - max z), their sums over the last axis (keepdims)): what the cross-entropy and
    its gradient both compute first, so that a caller computing both (a compiled step) does it once."""
    shifted = logits - last_axis_max(logits)
    exponentials = np.exp(shifted)
    return shifted, exponentials, last_axis_sum(exponentials)


def label_cross_entropy(logits, labels, kept=None, parts=None):
    """-(1/n) sum_i log softmax(z_i)_{y_i} over the rows of logits (..., K) with labels (...,) integers in
    0..K-1; with ``kept`` (a boolean per label), the mean over the rows it keeps (0 when it keeps none).
    ``parts``: ``softmax_parts(logits)`` if already computed.

    The entries log softmax(z_i)_{y_i} = (z_i - max z_i)_{y_i} - log sum_k exp(z_ik - max z_i) are those
    of the whole log-softmax, bit for bit, but only the picked ones are subtracted: one pass over the
    rows fewer than forming log softmax(z) and picking from it.
    """
    shifted, _, sums = softmax_parts(logits) if parts is None else parts
    rows = shifted.size // shifted.shape[-1]
    dtype = shifted.dtype
    labels, log_sums = labels.reshape(rows), np.log(sums.reshape(rows))
    if kept is None:
        picked = shifted.reshape(rows, -1)[np.arange(rows), labels] - log_sums
        return -np.sum(picked, dtype=dtype) / dtype.type(rows)
    kept = kept.reshape(rows)
    picked = shifted.reshape(rows, -1)[np.arange(rows), np.where(kept, labels, 0)] - log_sums
    return -np.sum(np.where(kept, picked, 0), dtype=dtype) / np.maximum(np.sum(kept, dtype=dtype), 1)


def softmax_minus_labels(logits, labels, scale, parts=None):
    """(softmax(z) - t) * scale for logits (..., K), t the one-hot rows of integer labels (...,) in 0..K-1,
    with its subnormal entries set to 0. ``parts``: ``softmax_parts(logits)`` if already computed (its
    exponentials are then overwritten).
    The one-hot rows are the comparison of the labels with the class numbers, subtracted as booleans
    in place (no float one-hot array, no conversion pass): the result equals (softmax(z) - t) * scale
    bit for bit, but for the flush.

    Why the flush: a confident network's probabilities of the wrong classes fall below the smallest
    normal float (exp(z - max z) under 1.2e-38 in float32), and on x86 every product a matrix
    multiplication takes of such a number runs in microcode, 10-100x slower: at step 2,500 of
    mlp-small (benchmarks/mlp_small.py) the last layer's VJP, whose every product reads this gradient,
    took 68 us instead of 17 (one thread). Set to 0, an entry changes the gradient by less than the
    smallest normal number (1.2e-38 in float32, 2.2e-308 in float64).
    """
    shifted, exponentials, sums = softmax_parts(logits) if parts is None else parts
    probabilities = np.divide(exponentials, sums, out=exponentials)
    classes = np.arange(probabilities.shape[-1])
    np.subtract(probabilities, np.equal(labels[..., None], classes), out=probabilities)
    gradient = probabilities * scale
    # z - max z is no longer needed: the flush's scratch.
    flush_subnormals(gradient, shifted if shifted.dtype == gradient.dtype else np.empty_like(gradient),
                     np.empty(gradient.shape, dtype=bool))
    return gradient
