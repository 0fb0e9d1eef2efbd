"""Sorting and order statistics: sort, partition, sort_complex, median, quantile, percentile and the
NaN-ignoring nanmedian, nanquantile, nanpercentile (composites).

Sorting permutes: sort(x) = x[p] for the permutation p that argsort finds, a gather (``getitem``)
whose VJP scatters the cotangent back to the positions the values came from. The permutation is a
constant of the derivative (it is piecewise constant in x), so no new primitive is needed and every
order of derivative is that of the gather. At ties the gradient goes where NumPy's stable argsort
sends it (the first of equal values in position order gets the first place), as
``torch.sort(stable=True)``. Complex values are ordered as NumPy orders them: by real part, then
imaginary part.

Order statistics interpolate between neighbours of the sorted values, so their gradient is the
interpolation weights: quantile q with "linear" interpolation at the virtual index h = (n - 1) q
gives weight 1 - g to the floor(h)-th smallest value and g = h - floor(h) to the next one (Hyndman &
Fan 1996, definition 7).
"""

from __future__ import annotations

import warnings

import numpy as np

from nablanet.autodiff.ops.elementwise import astype
from nablanet.autodiff.ops.elementwise import where as _select
from nablanet.autodiff.ops.reduce import _as_array, _kept_shape, _normalize_axis, _one_axis, _raw, _refuse_out, mean
from nablanet.autodiff.ops.shape import getitem, ravel, reshape, transpose

__all__ = ["sort", "partition", "sort_complex", "median", "quantile", "percentile", "nanmedian", "nanquantile",
           "nanpercentile"]


def _gather(x, indices: np.ndarray, axis: int):
    """x[..., indices, ...]: the entries of x at ``indices`` along axis (numpy.take_along_axis)."""
    ndim = indices.ndim
    index = []
    for d in range(ndim):
        if d == axis:
            index.append(indices)
        else:
            shape = [1] * ndim
            shape[d] = indices.shape[d]
            index.append(np.arange(indices.shape[d]).reshape(shape))
    return getitem(x, tuple(index))


def _flattened_if_none(x, axis):
    """NumPy's axis=None of sort and partition: the flattened array, sorted along its only axis."""
    if axis is None:
        return ravel(x), 0
    return x, _one_axis(int(axis), np.ndim(_raw(x)))


def sort(a, axis=-1, kind=None, order=None, *, stable=None):
    """A sorted copy, as numpy.sort; the gradient follows each value back to where it came from.

    ``kind`` and ``stable`` are accepted (checked as NumPy checks them) and change nothing: every
    kind gives the same values, and the gradient at ties always follows the stable order.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import grad
        >>> grad(lambda x: np.sort(x)[0] * 10.0 + np.sort(x)[2])(np.array([3.0, 1.0, 2.0]))
        array([ 1., 10.,  0.])
    """
    if order is not None:
        raise ValueError("sort: order= (fields of structured arrays) is not supported by nablanet")
    np.sort(np.zeros(1), kind=kind, stable=stable)  # NumPy's own check of kind and stable
    x, axis = _flattened_if_none(_as_array(a), axis)
    return _gather(x, np.argsort(_raw(x), axis=axis, kind="stable"), axis)


def _positions_of(values: np.ndarray, x: np.ndarray, axis: int) -> np.ndarray:
    """For ``values``, a permutation of x along axis, indices p with x[p] == values.

    Equal values are matched in order of position (the k-th of a value in ``values`` to its k-th
    in x), by lining up both arrays' stable sorting permutations.
    """
    sorted_x = np.argsort(x, axis=axis, kind="stable")
    sorted_values = np.argsort(values, axis=axis, kind="stable")
    positions = np.empty_like(sorted_x)
    np.put_along_axis(positions, sorted_values, sorted_x, axis=axis)
    return positions


def partition(a, kth, axis=-1, kind="introselect", order=None):
    """A partitioned copy, as numpy.partition: the kth entry is where sorting would put it, smaller
    ones before it and larger ones after, in NumPy's own arrangement.

    The gradient follows every value back to its position in a (ties in the order of position, so
    at the kth places it agrees with ``sort``).

    Example:
        >>> import nablanet.numpy as np
        >>> float(np.partition(np.array([3.0, 1.0, 4.0, 2.0]), 1)[1])
        2.0
    """
    if order is not None:
        raise ValueError("partition: order= (fields of structured arrays) is not supported by nablanet")
    x, axis = _flattened_if_none(_as_array(a), axis)
    raw = _raw(x)
    values = np.partition(raw, kth, axis=axis, kind=kind)
    return _gather(x, _positions_of(values, raw, axis), axis)


def sort_complex(a):
    """Sorted by real part, then imaginary part, as complex numbers: numpy.sort_complex.

    Example:
        >>> import nablanet.numpy as np
        >>> np.sort_complex(np.array([2.0, 1.0]))
        array([1.+0.j, 2.+0.j])
    """
    out = sort(a)
    dtype = _raw(out).dtype
    if np.issubdtype(dtype, np.complexfloating):
        return out
    return astype(out, np.complex64 if dtype.char in "bhBH" else np.clongdouble if dtype.char == "g" else np.complex128)


# --- order statistics ---------------------------------------------------------------------------------

def _reduced_last(x, axes):
    """x with the reduced axes moved last and flattened into one: shape (kept axes..., n)."""
    raw = _raw(x)
    shape, ndim = raw.shape, raw.ndim
    axes = tuple(range(ndim)) if axes is None else axes
    rest = [i for i in range(ndim) if i not in axes]
    n = int(np.prod([shape[i] for i in axes], dtype=np.int64))
    return reshape(transpose(x, rest + list(axes)), tuple(shape[i] for i in rest) + (n,))


def _take_last(sorted_x, indices: np.ndarray):
    """sorted_x[..., indices] for per-slice ``indices`` of shape Q + R (sorted_x has shape R + (n,)),
    the result of shape Q + R: one order statistic per quantile and slice."""
    slices = np.shape(_raw(sorted_x))[:-1]
    lead = indices.ndim - len(slices)
    index = []
    for k, length in enumerate(slices):
        shape = [1] * indices.ndim
        shape[lead + k] = length
        index.append(np.arange(length).reshape(shape))
    return getitem(sorted_x, (*index, indices))


def _median(a, axis, out, keepdims, name, nan):
    _refuse_out(out, name)
    x = _as_array(a)
    if not np.issubdtype(_raw(x).dtype, np.inexact):
        x = _raw(x).astype(np.float64)
    shape = np.shape(_raw(x))
    axes = _normalize_axis(axis, len(shape))
    flat = _reduced_last(x, axes)
    n = np.shape(_raw(flat))[-1]
    if n == 0:
        return mean(x, axis=axes, keepdims=keepdims)
    ordered = sort(flat, axis=-1)
    raw_sorted = _raw(ordered)
    if nan:
        count = np.sum(~np.isnan(raw_sorted), axis=-1)
        low = np.maximum((count - 1) // 2, 0)
        high = np.maximum(count // 2, 0)
        lower, upper = _take_last(ordered, low), _take_last(ordered, high)
        result = _select(count % 2 == 1, lower, (lower + upper) / 2)
        invalid = count == 0
    else:
        lower = getitem(ordered, (..., (n - 1) // 2))
        result = lower if n % 2 else (lower + getitem(ordered, (..., n // 2))) / 2
        invalid = np.isnan(raw_sorted[..., -1])
    result = _with_nan_slices(result, invalid, nan)
    if keepdims:
        result = reshape(result, _kept_shape(shape, axes))
    return result


def _with_nan_slices(result, invalid: np.ndarray, nan: bool):
    """NaN for the slices that hold a NaN (median, quantile) or nothing but NaNs (the nan- versions)."""
    if not np.any(invalid):
        return result
    if nan:
        warnings.warn("All-NaN slice encountered", RuntimeWarning, stacklevel=4)
    return _select(invalid, np.nan, result)


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """The median over the given axes, as numpy.median: the middle sorted value, or the mean of the
    two middle ones for an even count (each then gets half the gradient). NaN where a slice has NaN.

    ``overwrite_input`` is accepted and changes nothing (nablanet never overwrites its input).

    Example:
        >>> import nablanet.numpy as np
        >>> np.median(np.array([[3.0, 1.0, 2.0], [4.0, 8.0, 6.0]]), axis=1)
        array([2., 6.])
    """
    return _median(a, axis, out, keepdims, "median", nan=False)


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """The median of the non-NaN values, as numpy.nanmedian (NaN, with a RuntimeWarning, for all-NaN slices).

    Example:
        >>> import nablanet.numpy as np
        >>> float(np.nanmedian(np.array([3.0, np.nan, 1.0, 2.0])))
        2.0
    """
    return _median(a, axis, out, keepdims, "nanmedian", nan=True)


# Hyndman & Fan's continuous definitions 4 to 9: the virtual index n q + alpha + q (1 - alpha - beta) - 1.
_PLOTTING_POSITIONS = {
    "interpolated_inverted_cdf": (0.0, 1.0),
    "hazen": (0.5, 0.5),
    "weibull": (0.0, 0.0),
    "median_unbiased": (1 / 3.0, 1 / 3.0),
    "normal_unbiased": (3 / 8.0, 3 / 8.0),
}
_SELECTING = ("lower", "higher", "nearest")
_METHODS = ("linear", "midpoint", "averaged_inverted_cdf", *_PLOTTING_POSITIONS, *_SELECTING)
_REFUSED_METHODS = ("inverted_cdf", "closest_observation")


def _virtual_index(method: str, n, q):
    """NumPy's virtual index of quantile q in n sorted values (written with operators, so that q may
    be a Tensor: the continuous methods then carry q's derivative)."""
    if method == "linear":
        return (n - 1) * q
    if method == "averaged_inverted_cdf":
        return n * q - 1
    alpha, beta = _PLOTTING_POSITIONS[method]
    return n * q + (alpha + q * (1 - alpha - beta)) - 1


def _selected_index(method: str, n, q):
    if method == "lower":
        return np.floor((n - 1) * q).astype(np.intp)
    if method == "higher":
        return np.ceil((n - 1) * q).astype(np.intp)
    return np.around((n - 1) * q).astype(np.intp)


def _lerp(a, b, gamma, gamma_raw):
    """NumPy's _lerp: a + (b - a) g, or b - (b - a)(1 - g) for g >= 1/2 (exact at both ends)."""
    difference = b - a
    return _select(gamma_raw >= 0.5, b - difference * (1 - gamma), a + difference * gamma)


def _quantile(a, q, axis, out, method, keepdims, weights, interpolation, name, nan, scale=1):
    _refuse_out(out, name)
    if weights is not None:
        raise TypeError(f"{name}: weights= (NumPy's weighted inverted_cdf) is not supported by nablanet")
    if interpolation is not None:
        raise TypeError(f"{name}: interpolation= is NumPy's deprecated name of method=; pass method={interpolation!r}")
    if method in _REFUSED_METHODS:
        raise ValueError(f"{name}: method={method!r} is not supported by nablanet; the supported methods are {_METHODS}")
    if method not in _METHODS:
        raise ValueError(f"{method!r} is not a valid method. Use one of: {_METHODS + _REFUSED_METHODS}")
    x = _as_array(a)
    if np.iscomplexobj(_raw(x)):
        raise TypeError("a must be an array of real numbers")
    weak_q = isinstance(q, (int, float)) and not isinstance(q, bool)
    q = _as_array(q) / scale if scale != 1 else _as_array(q)
    q_raw = np.asarray(_raw(q))
    if q_raw.ndim > 2:
        raise ValueError("q must be a scalar or 1d")
    if not (np.all(q_raw >= 0) and np.all(q_raw <= 1)):
        raise ValueError("Percentiles must be in the range [0, 100]" if scale == 100 else
                         "Quantiles must be in the range [0, 1]")
    shape = np.shape(_raw(x))
    axes = _normalize_axis(axis, len(shape))
    flat = _reduced_last(x, axes)
    slices = np.shape(_raw(flat))[:-1]
    n = np.shape(_raw(flat))[-1]
    ordered = sort(flat, axis=-1)
    raw_sorted = _raw(ordered)
    if nan:
        count = np.sum(~np.isnan(raw_sorted), axis=-1)
        # NumPy computes each slice with its count as a Python int, so q's dtype decides the index's.
        count = count.astype(q_raw.dtype if np.issubdtype(q_raw.dtype, np.inexact) else np.intp)
        invalid = count == 0
    else:
        count = n
        invalid = np.isnan(raw_sorted[..., -1]) if np.issubdtype(raw_sorted.dtype, np.inexact) else np.zeros(slices, bool)
    q_slices = q_raw.reshape(q_raw.shape + (1,) * len(slices))
    last = np.maximum(np.asarray(count) - 1, 0).astype(np.intp)
    if method in _SELECTING:
        index = np.clip(_selected_index(method, count, q_slices), 0, last)
        result = _take_last(ordered, index)
    else:
        virtual = np.asarray(_virtual_index(method, count, q_slices) if method != "midpoint" else
                             0.5 * (np.floor((count - 1) * q_slices) + np.ceil((count - 1) * q_slices)))
        if method == "linear" and np.issubdtype(virtual.dtype, np.integer):
            result = _take_last(ordered, np.clip(virtual, 0, last))
        else:
            previous = np.floor(virtual)
            above = virtual >= count - 1
            below = virtual < 0
            previous = np.where(above, count - 1, np.where(below, 0, previous))
            following = np.where(above | below, previous, previous + 1)
            previous = np.clip(np.nan_to_num(previous), 0, last).astype(np.intp)
            following = np.clip(np.nan_to_num(following), 0, last).astype(np.intp)
            gamma_raw = np.asarray(virtual - previous, dtype=virtual.dtype)
            if method == "midpoint":
                gamma_raw = np.where(virtual % 1 == 0, 0.0, 0.5).astype(virtual.dtype)
            elif method == "averaged_inverted_cdf":
                gamma_raw = np.where(gamma_raw == 0, 0.5, 1.0).astype(virtual.dtype)
            if weak_q:
                real_dtype = raw_sorted.dtype if np.issubdtype(raw_sorted.dtype, np.inexact) else np.float64
                gamma_raw = gamma_raw.astype(real_dtype)
            gamma = gamma_raw
            if hasattr(q, "_data") and method not in ("midpoint", "averaged_inverted_cdf"):
                gamma = _virtual_index(method, count, reshape(q, q_slices.shape)) - previous.astype(virtual.dtype)
            result = _lerp(_take_last(ordered, previous), _take_last(ordered, following), gamma, gamma_raw)
    result = _with_nan_slices(result, np.broadcast_to(invalid, np.shape(_raw(result))), nan)
    if keepdims:
        result = reshape(result, q_raw.shape + _kept_shape(shape, axes))
    return result


def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *, weights=None,
             interpolation=None):
    """The q-th quantiles over the given axes, as numpy.quantile (q a scalar or 1-D, in [0, 1]).

    With method "linear" (the default, Hyndman & Fan's definition 7) the result is
    (1 - g) v_j + g v_{j+1} for the sorted values v, j = floor((n - 1) q) and g its fractional
    remainder; the gradient is those weights, and a Tensor q gets the derivative (n - 1)(v_{j+1} - v_j).
    Also "lower", "higher", "nearest", "midpoint", "averaged_inverted_cdf" and the continuous
    "interpolated_inverted_cdf", "hazen", "weibull", "median_unbiased", "normal_unbiased"; the
    discontinuous "inverted_cdf" and "closest_observation" (and weights=) are refused.

    Example:
        >>> import nablanet.numpy as np
        >>> float(np.quantile(np.array([1.0, 2.0, 4.0, 8.0]), 0.5))
        3.0
    """
    return _quantile(a, q, axis, out, method, keepdims, weights, interpolation, "quantile", nan=False)


def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *, weights=None,
               interpolation=None):
    """The q-th percentiles (q in [0, 100]), as numpy.percentile: quantile(a, q / 100).

    Example:
        >>> import nablanet.numpy as np
        >>> float(np.percentile(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), 25))
        2.0
    """
    return _quantile(a, q, axis, out, method, keepdims, weights, interpolation, "percentile", nan=False, scale=100)


def nanquantile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
                weights=None, interpolation=None):
    """Quantiles of the non-NaN values, as numpy.nanquantile (NaN, with a RuntimeWarning, for all-NaN slices).

    Example:
        >>> import nablanet.numpy as np
        >>> float(np.nanquantile(np.array([1.0, np.nan, 3.0]), 0.5))
        2.0
    """
    return _quantile(a, q, axis, out, method, keepdims, weights, interpolation, "nanquantile", nan=True)


def nanpercentile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
                  weights=None, interpolation=None):
    """Percentiles of the non-NaN values, as numpy.nanpercentile.

    Example:
        >>> import nablanet.numpy as np
        >>> float(np.nanpercentile(np.array([1.0, np.nan, 3.0]), 50))
        2.0
    """
    return _quantile(a, q, axis, out, method, keepdims, weights, interpolation, "nanpercentile", nan=True, scale=100)
