"""Reductions along an axis: sum, max, min, logsumexp, softmax, log_softmax; mean, var, std as composites."""

from __future__ import annotations

import numpy as np

from nablanet.autodiff import batching
from nablanet.autodiff.op import Op, register
from nablanet.autodiff.ops.elementwise import _as_mask, exp, sqrt
from nablanet.autodiff.ops.shape import broadcast_to, reshape

__all__ = ["sum", "mean", "max", "min", "amax", "amin", "logsumexp", "softmax", "log_softmax", "var", "std"]


def _normalize_axis(axis, ndim: int) -> tuple | None:
    if axis is None:
        return None
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    normalized = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < (ndim or 1):
            raise ValueError(f"axis {a} is out of bounds for an array of dimension {ndim}")
        normalized.append(a % (ndim or 1))
    return tuple(sorted(set(normalized)))


def _kept_shape(shape: tuple, axis: tuple | None) -> tuple:
    """The shape of a reduction's result with keepdims=True."""
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else n for i, n in enumerate(shape))


def _raw(x):
    return x._data if hasattr(x, "_data") else np.asarray(x)


def _reduction_flops(out, x, **settings):
    return int(np.size(x))


@register
class Sum(Op):
    """z = sum_i x_i along axis.   dz/dx_i = 1: the gradient is broadcast back over the summed axes."""

    batch = batching.along_axis("axis")

    flops = _reduction_flops

    def forward(x, *, axis, keepdims):
        return np.sum(x, axis=axis, keepdims=keepdims)

    def vjp(grad_out, out, x, *, axis, keepdims):
        shape = np.shape(_raw(x))
        return (broadcast_to(reshape(grad_out, _kept_shape(shape, axis)), shape),)

    def jvp(x_dot, out, x, *, axis, keepdims):
        return sum(x_dot, axis=axis, keepdims=keepdims)


def _argmax_share(x, out, axis):
    """Where x attains its max (or min) along axis, 1/(number of ties); 0 elsewhere.

    Splitting the gradient evenly over ties keeps reverse and forward mode consistent with each other
    and with max(x) = max over any permutation of x.
    """
    xr = _raw(x)
    hit = xr == np.reshape(_raw(out), _kept_shape(xr.shape, axis))
    return _as_mask(hit / np.sum(hit, axis=axis, keepdims=True), xr)


@register
class Max(Op):
    """z = max_i x_i along axis. The gradient goes to the maximum; ties share it evenly."""

    batch = batching.along_axis("axis")

    flops = _reduction_flops

    def forward(x, *, axis, keepdims):
        return np.max(x, axis=axis, keepdims=keepdims)

    def vjp(grad_out, out, x, *, axis, keepdims):
        shape = np.shape(_raw(x))
        return (reshape(grad_out, _kept_shape(shape, axis)) * _argmax_share(x, out, axis),)

    def jvp(x_dot, out, x, *, axis, keepdims):
        return sum(x_dot * _argmax_share(x, out, axis), axis=axis, keepdims=keepdims)


@register
class Min(Op):
    """z = min_i x_i along axis. The gradient goes to the minimum; ties share it evenly."""

    batch = batching.along_axis("axis")

    flops = _reduction_flops

    def forward(x, *, axis, keepdims):
        return np.min(x, axis=axis, keepdims=keepdims)

    vjp = Max.vjp
    jvp = Max.jvp


def _stable_shift(x, axis):
    """max of x along axis (keepdims), with infinite maxima replaced by 0 so that x - shift stays finite."""
    shift = np.max(x, axis=axis, keepdims=True)
    return np.where(np.isfinite(shift), shift, 0).astype(shift.dtype, copy=False)


@register
class LogSumExp(Op):
    """z = log sum_i e^{x_i} along axis.   dz/dx_i = e^{x_i - z} = softmax(x)_i.

    A primitive for stability: evaluated as m + log sum e^{x_i - m} with m = max x_i, so logits of
    magnitude 1e4 neither overflow nor underflow to log(0).
    """

    batch = batching.along_axis("axis")

    flops = _reduction_flops

    def forward(x, *, axis, keepdims):
        shift = _stable_shift(x, axis)
        out = np.log(np.sum(np.exp(x - shift), axis=axis, keepdims=True)) + shift
        if keepdims:
            return out
        return np.squeeze(out, axis=axis) if axis is not None else np.reshape(out, ())

    def vjp(grad_out, out, x, *, axis, keepdims):
        kept = _kept_shape(np.shape(_raw(x)), axis)
        return (reshape(grad_out, kept) * exp(x - reshape(out, kept)),)

    def jvp(x_dot, out, x, *, axis, keepdims):
        kept = _kept_shape(np.shape(_raw(x)), axis)
        return sum(x_dot * exp(x - reshape(out, kept)), axis=axis, keepdims=keepdims)


@register
class Softmax(Op):
    """a_i = e^{z_i} / sum_j e^{z_j} along axis.   da/dz = diag(a) - a a^T.

    A primitive for stability and speed: the maximum is subtracted before exponentiating, and the
    VJP a * (g - <g, a>) never forms the Jacobian.
    """

    batch = batching.along_axis("axis")

    flops = _reduction_flops

    def forward(x, *, axis):
        e = np.exp(x - _stable_shift(x, axis))
        return e / np.sum(e, axis=axis, keepdims=True)

    def vjp(grad_out, out, x, *, axis):
        return (out * (grad_out - sum(grad_out * out, axis=axis, keepdims=True)),)

    def jvp(x_dot, out, x, *, axis):
        return out * (x_dot - sum(x_dot * out, axis=axis, keepdims=True))


@register
class LogSoftmax(Op):
    """z_i - log sum_j e^{z_j} along axis.   Its VJP is g - softmax(z) sum(g).

    A primitive for stability: computed as (z - m) - log sum e^{z - m}, so it stays finite for
    logits of magnitude 1e4 where log(softmax(z)) would give log(0).
    """

    batch = batching.along_axis("axis")

    name = "log_softmax"
    flops = _reduction_flops

    def forward(x, *, axis):
        shifted = x - _stable_shift(x, axis)
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

    def vjp(grad_out, out, x, *, axis):
        return (grad_out - exp(out) * sum(grad_out, axis=axis, keepdims=True),)

    def jvp(x_dot, out, x, *, axis):
        return x_dot - sum(exp(out) * x_dot, axis=axis, keepdims=True)


# --- public functions ---------------------------------------------------------------------------

def sum(x, axis=None, keepdims=False):
    """Sum along axis (None = all axes)."""
    return Sum.apply(x, axis=_normalize_axis(axis, np.ndim(_raw(x))), keepdims=bool(keepdims))


def max(x, axis=None, keepdims=False):
    """Maximum along axis; ties share the gradient evenly."""
    return Max.apply(x, axis=_normalize_axis(axis, np.ndim(_raw(x))), keepdims=bool(keepdims))


def min(x, axis=None, keepdims=False):
    """Minimum along axis; ties share the gradient evenly."""
    return Min.apply(x, axis=_normalize_axis(axis, np.ndim(_raw(x))), keepdims=bool(keepdims))


amax = max
amin = min


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) along axis, without overflow."""
    return LogSumExp.apply(x, axis=_normalize_axis(axis, np.ndim(_raw(x))), keepdims=bool(keepdims))


def softmax(x, axis=-1):
    """e^x / sum(e^x) along axis (default: the last)."""
    return Softmax.apply(x, axis=_normalize_axis(axis, np.ndim(_raw(x))))


def log_softmax(x, axis=-1):
    """log(softmax(x)) along axis, computed stably."""
    return LogSoftmax.apply(x, axis=_normalize_axis(axis, np.ndim(_raw(x))))


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean along axis."""
    shape = np.shape(_raw(x))
    axes = _normalize_axis(axis, len(shape))
    count = int(np.prod([shape[i] for i in (axes if axes is not None else range(len(shape)))]))
    return sum(x, axis=axes, keepdims=keepdims) / count


def var(x, axis=None, keepdims=False, ddof=0):
    """Variance along axis: mean((x - mean(x))^2), scaled by n/(n - ddof)."""
    shape = np.shape(_raw(x))
    axes = _normalize_axis(axis, len(shape))
    count = int(np.prod([shape[i] for i in (axes if axes is not None else range(len(shape)))]))
    centred = x - mean(x, axis=axes, keepdims=True)
    return sum(centred * centred, axis=axes, keepdims=keepdims) / (count - ddof)


def std(x, axis=None, keepdims=False, ddof=0):
    """Standard deviation along axis."""
    return sqrt(var(x, axis=axis, keepdims=keepdims, ddof=ddof))
