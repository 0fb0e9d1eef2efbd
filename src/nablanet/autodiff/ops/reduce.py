"""Reductions along axes: sum, max, min, logsumexp, softmax, log_softmax (primitives); mean, average,
var, std, ptp and the NaN-ignoring nansum, nanmean, nanvar, nanstd, nanmax, nanmin (composites).

Every public function has NumPy's signature and result (values, shape, dtype). Keywords NumPy has and
nablanet does not support (``out=``) raise a TypeError naming them.
"""

from __future__ import annotations

import builtins
import warnings

import numpy as np

from nablanet.autodiff import batching
from nablanet.autodiff.op import Op, raw as _raw, register
from nablanet.autodiff.ops.elementwise import _as_mask, add, astype, conj, exp, maximum, minimum, multiply, real, sqrt
from nablanet.autodiff.ops.elementwise import where as _select
from nablanet.autodiff.ops.shape import broadcast_to, reshape, transpose
from nablanet.kernels.rows import last_axis_max, last_axis_sum

__all__ = [
    "sum", "mean", "max", "min", "amax", "amin", "logsumexp", "softmax", "log_softmax", "var", "std",
    "ptp", "average", "nansum", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin",
]

# NumPy's marker for "keyword not given" (initial=, mean=, correction=), so signatures read as NumPy's.
_NoValue = np._NoValue


def _normalize_axis(axis, ndim: int, scalar_ufunc: bool = False) -> tuple | None:
    """NumPy's axis argument (None, an int or a sequence of ints) as a sorted tuple of axes.

    Out-of-range and repeated axes raise NumPy's errors. ``scalar_ufunc``: the ufunc reductions
    (sum, prod, max, min) also accept a single integer axis 0 or -1 on a 0-d array, as NumPy does.
    """
    if axis is None:
        return None
    if np.ndim(axis) == 0:
        a = int(axis)
        if ndim == 0 and scalar_ufunc and a in (0, -1):
            return ()
        axes = (a,)
    else:
        axes = tuple(int(a) for a in axis)
    normalized = [_one_axis(a, ndim) for a in axes]
    if len(set(normalized)) != len(normalized):
        raise ValueError("duplicate value in 'axis'")
    return tuple(sorted(normalized))


def _one_axis(a: int, ndim: int) -> int:
    if not -ndim <= a < ndim:
        raise np.exceptions.AxisError(a, ndim)
    return a % ndim


def _kept_shape(shape: tuple, axis: tuple | None) -> tuple:
    """The shape of a reduction's result with keepdims=True."""
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else n for i, n in enumerate(shape))



def _reduction_flops(out, x, **settings):
    return int(np.size(x))


@register
class Sum(Op):
    """z = sum_i x_i along axis.   dz/dx_i = 1: the gradient is broadcast back over the summed axes."""

    batch = batching.along_axis("axis")

    flops = _reduction_flops

    def forward(x, *, axis, keepdims):
        return np.sum(x, axis=axis, keepdims=keepdims)

    def vjp(grad_out, out, x, *, axis, keepdims, needs):
        shape = np.shape(_raw(x))
        return (broadcast_to(reshape(grad_out, _kept_shape(shape, axis)), shape),)

    def jvp(x_dot, out, x, *, axis, keepdims, needs):
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

    def vjp(grad_out, out, x, *, axis, keepdims, needs):
        shape = np.shape(_raw(x))
        return (reshape(grad_out, _kept_shape(shape, axis)) * _argmax_share(x, out, axis),)

    def jvp(x_dot, out, x, *, axis, keepdims, needs):
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
    """max of x along axis (keepdims), with infinite maxima replaced by 0 so that x - shift stays finite.

    For complex x the largest real part: a real shift leaves the phase of sum e^{x - shift} alone, so
    log sum e^{x - shift} + shift is the principal logarithm of sum e^x.
    """
    shift = last_axis_max(x) if _is_last_axis(x, axis) else np.max(np.real(x), axis=axis, keepdims=True)
    return np.where(np.isfinite(shift), shift, 0).astype(shift.dtype, copy=False)


def _is_last_axis(x, axis) -> bool:
    """Whether ``axis`` names the last axis alone of a real x (the classes of a batch of logits)."""
    if isinstance(axis, tuple):
        if len(axis) != 1:
            return False
        axis = axis[0]
    ndim = np.ndim(x)
    return isinstance(axis, (int, np.integer)) and ndim >= 2 and axis in (-1, ndim - 1) and not np.iscomplexobj(x)


def _sum_exp(shifted, axis):
    """sum e^shifted along axis, keepdims (a short last axis as one product)."""
    e = np.exp(shifted)
    return last_axis_sum(e) if _is_last_axis(e, axis) else np.sum(e, axis=axis, keepdims=True)


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

    def vjp(grad_out, out, x, *, axis, keepdims, needs):
        kept = _kept_shape(np.shape(_raw(x)), axis)
        return (reshape(grad_out, kept) * exp(x - reshape(out, kept)),)

    def jvp(x_dot, out, x, *, axis, keepdims, needs):
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

    def vjp(grad_out, out, x, *, axis, needs):
        return (out * (grad_out - sum(grad_out * out, axis=axis, keepdims=True)),)

    def jvp(x_dot, out, x, *, axis, needs):
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
        return shifted - np.log(_sum_exp(shifted, axis))

    def vjp(grad_out, out, x, *, axis, needs):
        return (grad_out - exp(out) * sum(grad_out, axis=axis, keepdims=True),)

    def jvp(x_dot, out, x, *, axis, needs):
        return x_dot - sum(exp(out) * x_dot, axis=axis, keepdims=True)


# --- helpers of the public functions -------------------------------------------------------------

def _as_array(a):
    """A Tensor as it is; anything else (lists, scalars) as NumPy would see it."""
    return a if hasattr(a, "_data") else np.asarray(a)


def _refuse_out(out, name: str) -> None:
    if out is not None:
        raise TypeError(f"{name}: out= is not supported (Tensors are immutable); use the returned value")


def _with_dtype(x, dtype):
    """x converted to ``dtype`` (NumPy's dtype= of a reduction: the computation runs in that dtype)."""
    if dtype is None or np.dtype(dtype) == _raw(x).dtype:
        return x
    return astype(x, dtype)


def _count(shape: tuple, axes: tuple | None) -> int:
    """How many elements each reduction over ``axes`` combines."""
    return int(np.prod([shape[i] for i in (range(len(shape)) if axes is None else axes)], dtype=np.int64))


def _where_mask(where, shape: tuple, name: str) -> np.ndarray:
    """NumPy's where= of a reduction as a boolean array of the input's shape (it must broadcast to it)."""
    mask = np.asarray(_raw(where), dtype=bool)
    if np.broadcast_shapes(mask.shape, shape) != tuple(shape):
        raise ValueError(f"{name}: where= of shape {mask.shape} does not broadcast to the input's shape {tuple(shape)}")
    return np.broadcast_to(mask, shape)


def _counts_as(count, total):
    """Element counts in the real dtype of ``total`` (float64 for integer totals), so that dividing by
    them never promotes a float32 result."""
    dtype = _raw(total).dtype
    if not np.issubdtype(dtype, np.inexact):
        dtype = np.dtype(np.float64)
    return np.asarray(count, dtype=np.finfo(dtype).dtype)


def _float16_in_float32(x, dtype):
    """NumPy's mean and var of float16 accumulate in float32 and round the result back: (x, back)."""
    if dtype is None and _raw(x).dtype == np.float16:
        return astype(x, np.float32), np.float16
    return x, None


def _reduced_only(x, axes, keepdims, fill):
    """A constant ``fill`` in the shape of a reduction of x (for reductions over no elements)."""
    shape = np.shape(_raw(x))
    kept = _kept_shape(shape, axes)
    if not keepdims:
        kept = tuple(n for i, n in enumerate(shape) if axes is not None and i not in axes)
    return np.full(kept, fill, dtype=_raw(x).dtype)


# --- public functions: sums and means -----------------------------------------------------------

def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=_NoValue, where=True):
    """Sum of array elements over the given axes, as numpy.sum.

    z = initial + sum_i x_i over the selected elements;  dz/dx_i = 1 where ``where`` holds, else 0.

    Args:
        a: the array (or Tensor).
        axis: None (all axes), an int or a tuple of ints.
        dtype: the dtype the sum is computed in (and returned).
        out: not supported (Tensors are immutable).
        keepdims: keep the reduced axes with length 1.
        initial: a starting value added to each sum.
        where: which elements to include (broadcast to a's shape).

    Returns:
        The sums, in the shape NumPy gives.

    Example:
        >>> import nablanet.numpy as np
        >>> np.sum(np.array([[1.0, 2.0], [3.0, 4.0]]), axis=0, initial=10.0)
        array([14., 16.])
    """
    return _reduction_with_identity(Sum, 0, add, "sum", a, axis, dtype, out, keepdims, initial, where)


def _reduction_with_identity(op, identity, combine, name, a, axis, dtype, out, keepdims, initial, where):
    """A ufunc reduction with NumPy's keywords: excluded elements (``where``) become the identity, and
    ``initial`` is combined with each result (in the result's dtype, as NumPy casts it)."""
    _refuse_out(out, name)
    x = _with_dtype(_as_array(a), dtype)
    shape = np.shape(_raw(x))
    axes = _normalize_axis(axis, len(shape), scalar_ufunc=True)
    if where is not True:
        x = _select(_where_mask(where, shape, name), x, identity)
    total = op.apply(x, axis=axes, keepdims=bool(keepdims))
    if initial is not _NoValue:
        total = combine(total, np.asarray(initial, dtype=_raw(total).dtype))
    return total


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    """Arithmetic mean over the given axes, as numpy.mean: sum(x) / n.   dz/dx_i = 1/n.

    Integer inputs give float64; where= averages the selected elements only.

    Example:
        >>> import nablanet.numpy as np
        >>> np.mean(np.array([[1.0, 2.0], [3.0, 5.0]]), axis=1)
        array([1.5, 4. ])
    """
    _refuse_out(out, "mean")
    x, back = _float16_in_float32(_with_dtype(_as_array(a), dtype), dtype)
    shape = np.shape(_raw(x))
    axes = _normalize_axis(axis, len(shape))
    keepdims = bool(keepdims)
    if where is True:
        result = Sum.apply(x, axis=axes, keepdims=keepdims) / _count(shape, axes)
    else:
        mask = _where_mask(where, shape, "mean")
        total = Sum.apply(_select(mask, x, 0), axis=axes, keepdims=keepdims)
        result = total / _counts_as(np.sum(mask, axis=axes, keepdims=keepdims), total)
    return result if back is None else astype(result, back)


def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """Weighted average over the given axes, as numpy.average: sum(w x) / sum(w).

    dz/dx_i = w_i / sum(w);  dz/dw_i = (x_i - z) / sum(w): the weights may be differentiated too.
    1-D weights (or weights of the shape of the reduced axes) apply along ``axis``. With
    ``returned=True`` the pair (average, sum of weights) is returned, the sum broadcast to the
    average's shape.

    Example:
        >>> import nablanet.numpy as np
        >>> float(np.average(np.array([1.0, 2.0, 4.0]), weights=np.array([1.0, 1.0, 2.0])))
        2.75
    """
    x = _as_array(a)
    shape = np.shape(_raw(x))
    axes = _normalize_axis(axis, len(shape))
    keepdims = bool(keepdims)
    if weights is None:
        avg = mean(x, axis=axes, keepdims=keepdims)
        scale = np.asarray(_raw(x).size / builtins.max(np.size(_raw(avg)), 1), dtype=_raw(avg).dtype)
    else:
        w = _as_array(weights)
        w_shape = np.shape(_raw(w))
        if w_shape != shape:
            if axis is None:
                raise TypeError("Axis must be specified when shapes of a and weights differ.")
            along = tuple(int(i) for i in np.atleast_1d(axis))
            if w_shape != tuple(shape[i] for i in along):
                raise ValueError("Shape of weights must be consistent with shape of a along specified axis.")
            # Weights given in the order of ``axis``: put them in the order of a's axes, then broadcast.
            w = transpose(w, tuple(np.argsort([i % len(shape) for i in along])))
            w = reshape(w, tuple(n if i in axes else 1 for i, n in enumerate(shape)))
        dtype = np.result_type(_raw(x).dtype, _raw(w).dtype)
        if not np.issubdtype(_raw(x).dtype, np.inexact):
            dtype = np.result_type(dtype, np.float64)
        scale = sum(w, axis=axes, dtype=dtype, keepdims=keepdims)
        if np.any(_raw(scale) == 0.0):
            raise ZeroDivisionError("Weights sum to zero, can't be normalized")
        avg = sum(multiply(_with_dtype(x, dtype), _with_dtype(w, dtype)), axis=axes, keepdims=keepdims) / scale
    if not returned:
        return avg
    if np.shape(_raw(scale)) != np.shape(_raw(avg)):
        scale = broadcast_to(scale, np.shape(_raw(avg)))
    return avg, scale


def _variance(x, axes, keepdims, ddof, mask, centre):
    """NumPy's var: mean over the selected elements of |x - centre|^2, divided by max(n - ddof, 0).

    |x - m|^2 is written (x - m) conj(x - m) (its real part), so complex inputs give NumPy's real
    variance and derivatives with JAX's convention. Elements outside ``mask`` (NaNs for nanvar) are
    replaced before any arithmetic, so that they reach neither the value nor any derivative.
    """
    shape = np.shape(_raw(x))
    if mask is None:
        count = _count(shape, axes)
    else:
        x = _select(mask, x, 0)
        count = np.sum(mask, axis=axes, keepdims=True)
    if centre is _NoValue:
        total = Sum.apply(x, axis=axes, keepdims=True)
        centre = total / (count if mask is None else _counts_as(count, total))
    centred = x - centre
    if mask is not None:
        centred = _select(mask, centred, 0)
    squares = real(centred * conj(centred))
    total = Sum.apply(squares, axis=axes, keepdims=keepdims)
    if mask is None:
        return total / builtins.max(count - ddof, 0)
    if not keepdims:
        count = np.reshape(count, np.shape(_raw(total)))
    return total / _counts_as(np.maximum(count - ddof, 0), total)


def _ddof(ddof, correction):
    if correction is _NoValue:
        return ddof
    if ddof != 0:
        raise ValueError("ddof and correction can't be provided simultaneously.")
    return correction


def _var(a, axis, dtype, out, ddof, keepdims, where, mean, correction, name, nan):
    _refuse_out(out, name)
    x, back = _float16_in_float32(_with_dtype(_as_array(a), dtype), dtype)
    shape = np.shape(_raw(x))
    axes = _normalize_axis(axis, len(shape))
    mask = None if where is True else _where_mask(where, shape, name)
    if nan:
        valid = ~np.isnan(_raw(x))
        mask = valid if mask is None else mask & valid
    result = _variance(x, axes, bool(keepdims), _ddof(ddof, correction), mask, mean)
    return result if back is None else astype(result, back)


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True, mean=_NoValue,
        correction=_NoValue):
    """Variance over the given axes, as numpy.var: sum |x - mean(x)|^2 / (n - ddof).

    dz/dx_i = 2 conj(x_i - mean) / (n - ddof) (the mean's own dependence cancels, as its deviations
    sum to 0). Complex inputs give a real variance. ``correction`` is the Array API's name of ddof;
    ``mean`` a precomputed mean (keepdims shape).

    Example:
        >>> import nablanet.numpy as np
        >>> float(np.var(np.array([1.0, 2.0, 3.0, 4.0]), ddof=1))
        1.6666666666666667
    """
    return _var(a, axis, dtype, out, ddof, keepdims, where, mean, correction, "var", nan=False)


def _zero_safe_sqrt(v):
    """sqrt(v) whose derivatives are 0 where v = 0, the choice PyTorch makes for std (its derivative
    there, 1/(2 sqrt v), is infinite).

    Where the variance is exactly 0 the result is the constant 0: over a length-1 axis (or of a
    scalar) the standard deviation is identically 0, so all its derivatives are 0 exactly, and at
    equal values along a longer axis every derivative is taken as 0, as PyTorch's std_backward
    does. Both branches are selected with ``where`` and the unselected sqrt is evaluated at 1, so
    that no 0 * inf reaches a gradient.
    """
    zero = _raw(v) == 0
    if not np.any(zero):
        return sqrt(v)
    return _select(zero, 0.0, sqrt(_select(zero, 1.0, v)))


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True, mean=_NoValue,
        correction=_NoValue):
    """Standard deviation over the given axes, as numpy.std: sqrt(var).

    dz/dx = dvar/dx / (2 z), and 0 where z = 0 (a length-1 axis, a scalar, equal values): see
    ``_zero_safe_sqrt``; PyTorch's std_backward makes the same choice.

    Example:
        >>> import nablanet.numpy as np
        >>> float(np.std(np.array([1.0, 3.0])))
        1.0
    """
    return _zero_safe_sqrt(_var(a, axis, dtype, out, ddof, keepdims, where, mean, correction, "std", nan=False))


# --- public functions: extrema --------------------------------------------------------------------

def _extremum(op, pairwise, a, axis, out, keepdims, initial, where, name, ufunc_name):
    _refuse_out(out, name)
    x = _as_array(a)
    shape = np.shape(_raw(x))
    axes = _normalize_axis(axis, len(shape), scalar_ufunc=True)
    keepdims = bool(keepdims)
    if initial is not _NoValue:
        # NumPy casts initial to the array's dtype: a float64 initial leaves a float32 maximum float32.
        initial = np.asarray(initial, dtype=_raw(x).dtype)
    if where is not True:
        if initial is _NoValue:
            raise ValueError(f"reduction operation '{ufunc_name}' does not have an identity, so to use a where "
                             "mask one has to specify 'initial'")
        x = _select(_where_mask(where, shape, name), x, initial)
    if initial is _NoValue:
        return op.apply(x, axis=axes, keepdims=keepdims)
    if _count(shape, axes) == 0:
        return _reduced_only(x, axes, keepdims, initial)
    return pairwise(op.apply(x, axis=axes, keepdims=keepdims), initial)


def max(a, axis=None, out=None, keepdims=False, initial=_NoValue, where=True):
    """Maximum over the given axes, as numpy.max; the gradient goes to the maximum, ties share it evenly
    (as PyTorch's amax and JAX). Complex values are ordered as NumPy orders them (real part first).

    With ``initial``, the result is max(initial, max(x)); ``where`` needs ``initial``, as in NumPy.

    Example:
        >>> import nablanet.numpy as np
        >>> np.max(np.array([[1.0, 5.0], [3.0, 2.0]]), axis=0)
        array([3., 5.])
    """
    return _extremum(Max, maximum, a, axis, out, keepdims, initial, where, "max", "maximum")


def min(a, axis=None, out=None, keepdims=False, initial=_NoValue, where=True):
    """Minimum over the given axes, as numpy.min; ties share the gradient evenly.

    Example:
        >>> import nablanet.numpy as np
        >>> np.min(np.array([[1.0, 5.0], [3.0, 2.0]]), axis=1)
        array([1., 2.])
    """
    return _extremum(Min, minimum, a, axis, out, keepdims, initial, where, "min", "minimum")


amax = max
amin = min


def ptp(a, axis=None, out=None, keepdims=False):
    """Peak to peak, max - min over the given axes, as numpy.ptp.

    Example:
        >>> import nablanet.numpy as np
        >>> float(np.ptp(np.array([4.0, -1.0, 2.0])))
        5.0
    """
    _refuse_out(out, "ptp")
    return max(a, axis=axis, keepdims=keepdims) - min(a, axis=axis, keepdims=keepdims)


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over the given axes, without overflow (the principal logarithm for complex x).

    dz/dx_i = e^{x_i - z} = softmax(x)_i.

    Example:
        >>> import nablanet.numpy as np
        >>> float(np.logsumexp(np.array([1000.0, 1000.0])))  # 1000 + log 2
        1000.6931471805599
    """
    return LogSumExp.apply(x, axis=_normalize_axis(axis, np.ndim(_raw(x))), keepdims=bool(keepdims))


def softmax(x, axis=-1):
    """e^x / sum(e^x) along axis (default: the last)."""
    return Softmax.apply(x, axis=_normalize_axis(axis, np.ndim(_raw(x))))


def log_softmax(x, axis=-1):
    """log(softmax(x)) along axis, computed stably."""
    return LogSoftmax.apply(x, axis=_normalize_axis(axis, np.ndim(_raw(x))))


# --- public functions: ignoring NaNs --------------------------------------------------------------

def _nan_mask(x) -> np.ndarray:
    return np.isnan(_raw(x))


def nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=_NoValue, where=True):
    """Sum treating NaNs as 0, as numpy.nansum; NaN entries get a zero gradient.

    Example:
        >>> import nablanet.numpy as np
        >>> float(np.nansum(np.array([1.0, np.nan, 2.0])))
        3.0
    """
    x = _as_array(a)
    return sum(_select(_nan_mask(x), 0, x), axis=axis, dtype=dtype, out=out, keepdims=keepdims,
               initial=initial, where=where)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    """Mean of the non-NaN elements, as numpy.nanmean (NaN, with a RuntimeWarning, for all-NaN slices).

    Example:
        >>> import nablanet.numpy as np
        >>> float(np.nanmean(np.array([1.0, np.nan, 2.0])))
        1.5
    """
    x = _as_array(a)
    valid = ~_nan_mask(x)
    if where is not True:
        valid = valid & _where_mask(where, np.shape(valid), "nanmean")
    return mean(x, axis=axis, dtype=dtype, out=out, keepdims=keepdims, where=valid)


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True, mean=_NoValue,
           correction=_NoValue):
    """Variance of the non-NaN elements, as numpy.nanvar; NaN entries get a zero gradient.

    Example:
        >>> import nablanet.numpy as np
        >>> float(np.nanvar(np.array([1.0, np.nan, 3.0])))
        1.0
    """
    return _var(a, axis, dtype, out, ddof, keepdims, where, mean, correction, "nanvar", nan=True)


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True, mean=_NoValue,
           correction=_NoValue):
    """Standard deviation of the non-NaN elements, as numpy.nanstd (derivative 0 where it is 0, as std).

    Example:
        >>> import nablanet.numpy as np
        >>> float(np.nanstd(np.array([1.0, np.nan, 3.0])))
        1.0
    """
    return _zero_safe_sqrt(_var(a, axis, dtype, out, ddof, keepdims, where, mean, correction, "nanstd", nan=True))


def _nan_extremum(extremum, fill, a, axis, out, keepdims, initial, where, name):
    x = _as_array(a)
    missing = _nan_mask(x)
    result = extremum(_select(missing, fill, x), axis=axis, out=out, keepdims=keepdims, initial=initial, where=where)
    if initial is not _NoValue or not np.any(missing):
        return result
    excluded = missing if where is True else missing | ~_where_mask(where, missing.shape, name)
    axes = _normalize_axis(axis, missing.ndim, scalar_ufunc=True)
    all_nan = np.all(excluded, axis=axes, keepdims=bool(keepdims))
    if not np.any(all_nan):
        return result
    warnings.warn("All-NaN slice encountered", RuntimeWarning, stacklevel=3)
    return _select(all_nan, np.nan, result)


def nanmax(a, axis=None, out=None, keepdims=False, initial=_NoValue, where=True):
    """Maximum ignoring NaNs, as numpy.nanmax (NaN, with a RuntimeWarning, for all-NaN slices).

    Example:
        >>> import nablanet.numpy as np
        >>> float(np.nanmax(np.array([1.0, np.nan, 2.0])))
        2.0
    """
    return _nan_extremum(max, -np.inf, a, axis, out, keepdims, initial, where, "nanmax")


def nanmin(a, axis=None, out=None, keepdims=False, initial=_NoValue, where=True):
    """Minimum ignoring NaNs, as numpy.nanmin (NaN, with a RuntimeWarning, for all-NaN slices).

    Example:
        >>> import nablanet.numpy as np
        >>> float(np.nanmin(np.array([1.0, np.nan, 2.0])))
        1.0
    """
    return _nan_extremum(min, np.inf, a, axis, out, keepdims, initial, where, "nanmin")
