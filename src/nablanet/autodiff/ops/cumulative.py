"""Products and running totals: prod, cumsum, cumprod (primitives); cumulative_sum, cumulative_prod,
nanprod, nancumsum, nancumprod, diff, ediff1d, gradient, trapezoid (composites).

Products are the delicate part. The derivative of prod(x) with respect to x_i is the product of the
other entries, which the usual shortcut prod(x) / x_i (HIPS autograd's) gets wrong as soon as an
entry is 0: one zero makes its own derivative 0/0 instead of the product of the others, two zeros
make every derivative 0/0 instead of 0. Here the product of the others is built without any
division, as (product of the entries before i) * (product of the entries after i): exclusive
cumulative products from the left and from the right. Those are cumprods, whose own rules use no
division either, so every order of derivative is right with zeros present.

The rules of cumprod are linear recurrences (h_k = a_k h_{k-1} + b_k), evaluated as a parallel
prefix scan (Hillis & Steele 1986; Blelloch 1990, "Prefix sums and their applications", section
1.4): log2(n) rounds of elementwise products of shifted copies. It uses only multiply, add and
shifts, so it is differentiable again and never divides.
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.op import Op, register
from nablanet.autodiff.ops.elementwise import astype, multiply
from nablanet.autodiff.ops.elementwise import where as _select
from nablanet.autodiff.ops.reduce import (
    _NoValue, _as_array, _kept_shape, _one_axis, _raw, _reduction_flops, _reduction_with_identity, _refuse_out,
    _with_dtype, sum,
)
from nablanet.autodiff.ops.shape import broadcast_to, concatenate, getitem, pad, ravel, reshape, transpose

__all__ = [
    "prod", "cumsum", "cumprod", "cumulative_sum", "cumulative_prod", "nanprod", "nancumsum", "nancumprod",
    "diff", "ediff1d", "gradient", "trapezoid",
]


def _along(axis: int, part) -> tuple:
    """An index that applies ``part`` (a slice) to ``axis`` and keeps every axis before it whole."""
    return (slice(None),) * axis + (part,)


def _flip(x, axis: int):
    return getitem(x, _along(axis, slice(None, None, -1)))


def _shift(x, axis: int, by: int, fill):
    """x moved ``by`` places along axis (towards higher indices when by > 0), ``fill`` coming in.

    Only for |by| < length; the ends are a slice and a constant pad, so it is differentiable.
    """
    ndim = np.ndim(_raw(x))
    n = np.shape(_raw(x))[axis]
    if n == 0 or by == 0:
        return x
    widths = [(0, 0)] * ndim
    if by > 0:
        widths[axis] = (by, 0)
        kept = getitem(x, _along(axis, slice(0, n - by)))
    else:
        widths[axis] = (0, -by)
        kept = getitem(x, _along(axis, slice(-by, n)))
    return pad(kept, widths, constant_values=fill)


def _linear_scan(a, b, axis: int):
    """h along axis with h_k = a_k h_{k-1} + b_k and h_{-1} = 0, by a parallel prefix scan.

    Element k holds the affine map h_{k-w} -> A_k h_{k-w} + B_k over the last w steps; each round
    composes it with the map ending w places before, doubling w (the identity, A = 1 and B = 0,
    comes in at the start). After ceil(log2 n) rounds B_k = h_k. Multiplications and additions
    only: no division, so zeros in a are exact, and the scan is differentiable again.
    """
    n = np.shape(_raw(b))[axis]
    step = 1
    while step < n:
        b = a * _shift(b, axis, step, 0) + b
        if 2 * step < n:
            a = a * _shift(a, axis, step, 1)
        step *= 2
    return b


def _exclusive_cumprod(out, axis: int):
    """prod_{j < i} x_j along axis (1 at i = 0), from cumprod(x) = out."""
    return _shift(out, axis, 1, 1)


@register
class Cumsum(Op):
    """y_k = sum_{i <= k} x_i along axis.   Linear: its VJP is the reversed cumulative sum of the
    cotangent, sum_{k >= i} g_k, and its JVP the cumulative sum of the tangent.

    A primitive for speed: as a composite it would be a triangular matrix product, quadratic in n.
    """

    flops = _reduction_flops

    def forward(x, *, axis):
        return np.cumsum(x, axis=axis)

    def vjp(grad_out, out, x, *, axis, needs):
        return (_flip(Cumsum.apply(_flip(grad_out, axis), axis=axis), axis),)

    def jvp(x_dot, out, x, *, axis, needs):
        return Cumsum.apply(x_dot, axis=axis)


@register
class Cumprod(Op):
    """y_k = prod_{i <= k} x_i along axis, without division in any derivative.

    JVP: y_dot_k = x_k y_dot_{k-1} + x_dot_k y_{k-1}, a linear recurrence in y_dot.
    VJP: grad_x_i = sum_{k >= i} g_k prod_{j <= k, j != i} x_j = E_i S_i with E_i = y_{i-1} (the
    exclusive product, 1 at i = 0) and S_i = g_i + x_{i+1} S_{i+1}, a reversed linear recurrence.
    Both are evaluated by ``_linear_scan``; the division-based out/x of HIPS autograd's rule is 0/0
    where x_i = 0. A primitive because the composite (the scan itself) would give NumPy's values only
    up to rounding and cost log2(n) passes where NumPy's forward takes one.
    """

    flops = _reduction_flops

    def forward(x, *, axis):
        return np.cumprod(x, axis=axis)

    def vjp(grad_out, out, x, *, axis, needs):
        following = _shift(x, axis, -1, 1)
        after = _flip(_linear_scan(_flip(following, axis), _flip(grad_out, axis), axis), axis)
        return (_exclusive_cumprod(out, axis) * after,)

    def jvp(x_dot, out, x, *, axis, needs):
        return _linear_scan(x, x_dot * _exclusive_cumprod(out, axis), axis)


def _products_of_others(x, axes):
    """prod_{j != i} x_j over the reduced axes, for every i: exclusive cumprods from both ends.

    The reduced axes are moved last and flattened into one, the products taken along it, and the
    result put back in x's layout.
    """
    raw = _raw(x)
    shape, ndim = raw.shape, raw.ndim
    axes = tuple(range(ndim)) if axes is None else axes
    if not axes:
        return np.ones(shape, dtype=raw.dtype)
    rest = [i for i in range(ndim) if i not in axes]
    order = rest + list(axes)
    moved_shape = tuple(shape[i] for i in order)
    n = int(np.prod([shape[i] for i in axes]))
    flat = reshape(transpose(x, order), tuple(shape[i] for i in rest) + (n,))
    last = len(rest)
    before = _exclusive_cumprod(Cumprod.apply(flat, axis=last), last)
    reversed_flat = _flip(flat, last)
    after = _flip(_exclusive_cumprod(Cumprod.apply(reversed_flat, axis=last), last), last)
    others = reshape(before * after, moved_shape)
    return transpose(others, tuple(np.argsort(order)))


@register
class Prod(Op):
    """z = prod_i x_i over axes.   dz/dx_i = prod_{j != i} x_j, computed without division.

    With one zero entry its own derivative is the product of the others and the rest are 0; with
    two or more every derivative is 0 (see the module docstring). The second derivative,
    prod_{j != i, k} x_j, comes out of the same construction, as cumprod's rules are exact.
    """

    flops = _reduction_flops

    def forward(x, *, axis, keepdims):
        return np.prod(x, axis=axis, keepdims=keepdims)

    def vjp(grad_out, out, x, *, axis, keepdims, needs):
        shape = np.shape(_raw(x))
        return (reshape(grad_out, _kept_shape(shape, axis)) * _products_of_others(x, axis),)

    def jvp(x_dot, out, x, *, axis, keepdims, needs):
        return sum(x_dot * _products_of_others(x, axis), axis=axis, keepdims=keepdims)


# --- public functions: products and running totals -----------------------------------------------

def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=_NoValue, where=True):
    """Product of array elements over the given axes, as numpy.prod.

    dz/dx_i = initial * prod_{j != i} x_j over the selected elements; exact with zeros (see Prod).

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import grad
        >>> grad(lambda x: np.prod(x))(np.array([2.0, 0.0, 3.0]))   # one zero: the others' product
        array([0., 6., 0.])
    """
    return _reduction_with_identity(Prod, 1, multiply, "prod", a, axis, dtype, out, keepdims, initial, where)


def _cumulative(op, a, axis, dtype, out, name):
    _refuse_out(out, name)
    x = _with_dtype(_as_array(a), dtype)
    if axis is None or np.ndim(_raw(x)) == 0:
        if axis is not None:
            _one_axis(int(axis), 1)
        x = ravel(x)
        axis = 0
    return op.apply(x, axis=_one_axis(int(axis), np.ndim(_raw(x))))


def cumsum(a, axis=None, dtype=None, out=None):
    """Cumulative sum along axis (of the flattened array when axis is None), as numpy.cumsum.

    Example:
        >>> import nablanet.numpy as np
        >>> np.cumsum(np.array([[1.0, 2.0], [3.0, 4.0]]), axis=0)
        array([[1., 2.],
               [4., 6.]])
    """
    return _cumulative(Cumsum, a, axis, dtype, out, "cumsum")


def cumprod(a, axis=None, dtype=None, out=None):
    """Cumulative product along axis (of the flattened array when axis is None), as numpy.cumprod.

    Derivatives are exact where entries are 0 (see Cumprod).

    Example:
        >>> import nablanet.numpy as np
        >>> np.cumprod(np.array([1.0, 2.0, 0.0, 4.0]))
        array([1., 2., 0., 0.])
    """
    return _cumulative(Cumprod, a, axis, dtype, out, "cumprod")


def _cumulative_with_initial(op, identity, x, axis, dtype, out, include_initial, name):
    x = _as_array(x)
    ndim = np.ndim(_raw(x))
    if ndim == 0:
        raise ValueError(f"{name}: the input must be at least 1-D (the Array API's cumulative functions refuse 0-d arrays)")
    if axis is None:
        if ndim > 1:
            raise ValueError("axis must be specified for multi-dimensional arrays.")
        axis = 0
    axis = _one_axis(int(axis), ndim)
    result = _cumulative(op, x, axis, dtype, out, name)
    if not include_initial:
        return result
    widths = [(0, 0)] * ndim
    widths[axis] = (1, 0)
    return pad(result, widths, constant_values=identity)


def cumulative_sum(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
    """Cumulative sum, as numpy.cumulative_sum (the Array API's cumsum: 1-D or with an axis, and a
    leading 0 when ``include_initial``).

    Example:
        >>> import nablanet.numpy as np
        >>> np.cumulative_sum(np.array([1.0, 2.0, 3.0]), include_initial=True)
        array([0., 1., 3., 6.])
    """
    return _cumulative_with_initial(Cumsum, 0, x, axis, dtype, out, include_initial, "cumulative_sum")


def cumulative_prod(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
    """Cumulative product, as numpy.cumulative_prod (a leading 1 when ``include_initial``).

    Example:
        >>> import nablanet.numpy as np
        >>> np.cumulative_prod(np.array([1.0, 2.0, 3.0]), include_initial=True)
        array([1., 1., 2., 6.])
    """
    return _cumulative_with_initial(Cumprod, 1, x, axis, dtype, out, include_initial, "cumulative_prod")


def _nan_replaced(a, fill):
    """a with NaNs replaced by ``fill``; the NaN entries get a zero gradient."""
    x = _as_array(a)
    return _select(np.isnan(_raw(x)), fill, x)


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=_NoValue, where=True):
    """Product treating NaNs as 1, as numpy.nanprod.

    Example:
        >>> import nablanet.numpy as np
        >>> float(np.nanprod(np.array([2.0, np.nan, 3.0])))
        6.0
    """
    return prod(_nan_replaced(a, 1), axis=axis, dtype=dtype, out=out, keepdims=keepdims, initial=initial, where=where)


def nancumsum(a, axis=None, dtype=None, out=None):
    """Cumulative sum treating NaNs as 0, as numpy.nancumsum.

    Example:
        >>> import nablanet.numpy as np
        >>> np.nancumsum(np.array([1.0, np.nan, 2.0]))
        array([1., 1., 3.])
    """
    return cumsum(_nan_replaced(a, 0), axis=axis, dtype=dtype, out=out)


def nancumprod(a, axis=None, dtype=None, out=None):
    """Cumulative product treating NaNs as 1, as numpy.nancumprod.

    Example:
        >>> import nablanet.numpy as np
        >>> np.nancumprod(np.array([2.0, np.nan, 3.0]))
        array([2., 2., 6.])
    """
    return cumprod(_nan_replaced(a, 1), axis=axis, dtype=dtype, out=out)


# --- public functions: differences, derivatives and integrals of samples -------------------------

def diff(a, n=1, axis=-1, prepend=_NoValue, append=_NoValue):
    """n-th discrete difference along axis, as numpy.diff: out_i = x_{i+1} - x_i, applied n times.

    ``prepend``/``append`` (scalars broadcast to one slice) are joined to x first and are
    differentiable too. Boolean arrays give x_{i+1} != x_i, as in NumPy.

    Example:
        >>> import nablanet.numpy as np
        >>> np.diff(np.array([1.0, 4.0, 9.0, 16.0]), n=2)
        array([2., 2.])
    """
    if n == 0:
        return a
    if n < 0:
        raise ValueError("order must be non-negative but got " + repr(n))
    x = _as_array(a)
    ndim = np.ndim(_raw(x))
    if ndim == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = _one_axis(int(axis), ndim)
    combined = []
    for extra, first in ((prepend, True), (append, False)):
        if extra is _NoValue:
            continue
        extra = _as_array(extra)
        if np.ndim(_raw(extra)) == 0:
            shape = list(np.shape(_raw(x)))
            shape[axis] = 1
            extra = broadcast_to(extra, tuple(shape))
        combined.append((first, extra))
    if combined:
        parts = [e for first, e in combined if first] + [x] + [e for first, e in combined if not first]
        x = concatenate(parts, axis=axis)
    later, earlier = _along(axis, slice(1, None)), _along(axis, slice(None, -1))
    for _ in range(n):
        if _raw(x).dtype == np.bool_:
            x = np.not_equal(_raw(x)[later], _raw(x)[earlier])
        else:
            x = getitem(x, later) - getitem(x, earlier)
    return x


def ediff1d(ary, to_end=None, to_begin=None):
    """Differences between consecutive elements of the flattened array, as numpy.ediff1d, with
    ``to_begin``/``to_end`` (converted to ary's dtype) put before and after.

    Example:
        >>> import nablanet.numpy as np
        >>> np.ediff1d(np.array([1.0, 2.0, 4.0]), to_begin=0.0)
        array([0., 1., 2.])
    """
    x = ravel(_as_array(ary))
    dtype = _raw(x).dtype
    differences = getitem(x, slice(1, None)) - getitem(x, slice(None, -1))
    if to_begin is None and to_end is None:
        return differences
    parts = []
    for extra, name in ((to_begin, "to_begin"), (to_end, "to_end")):
        if extra is None:
            parts.append(None)
            continue
        extra = _as_array(extra)
        if not np.can_cast(_raw(extra), dtype, casting="same_kind"):
            raise TypeError(f"dtype of `{name}` must be compatible with input `ary` under the `same_kind` rule.")
        extra = ravel(extra)
        parts.append(extra if _raw(extra).dtype == dtype else astype(extra, dtype))
    pieces = [p for p in (parts[0], differences, parts[1]) if p is not None]
    return concatenate(pieces, axis=0)


def _spacings(varargs, f_shape, axes):
    """numpy.gradient's spacing arguments: per axis a scalar step or the 1-D differences of coordinates
    (a single step when they are all equal, as NumPy reduces them)."""
    if not varargs:
        return [1.0] * len(axes)
    if len(varargs) == 1 and np.ndim(_raw(varargs[0])) == 0:
        return [varargs[0]] * len(axes)
    if len(varargs) != len(axes):
        raise TypeError("invalid number of arguments")
    spacings = []
    for axis, distances in zip(axes, varargs):
        distances = _as_array(distances)
        raw = _raw(distances)
        if raw.ndim == 0:
            spacings.append(distances)
            continue
        if raw.ndim != 1:
            raise ValueError("distances must be either scalars or 1d")
        if len(raw) != f_shape[axis]:
            raise ValueError("when 1d, distances must match the length of the corresponding dimension")
        if np.issubdtype(raw.dtype, np.integer):
            distances = raw.astype(np.float64)
        steps = diff(distances)
        raw_steps = _raw(steps)
        # Equal steps are one step only for constant coordinates: moving one coordinate of an even
        # grid changes two steps, which the non-uniform formula follows and the uniform one cannot.
        traced = hasattr(distances, "_data") and (distances._requires_grad or bool(distances._tangents))
        uniform = not traced and np.all(raw_steps == raw_steps[0])
        spacings.append(getitem(steps, 0) if uniform else steps)
    return spacings


def _along_axis(coefficients, axis: int, ndim: int):
    """1-D coefficients shaped to broadcast along ``axis`` of an ndim-dimensional array."""
    shape = [1] * ndim
    shape[axis] = -1
    return reshape(coefficients, tuple(shape))


def _gradient_along(f, axis: int, step, edge_order: int, otype):
    """numpy.gradient along one axis: second-order central differences inside, one-sided (first or
    second order) at the ends, with NumPy's formulas for uniform and non-uniform steps."""
    ndim = np.ndim(_raw(f))

    def part(start, stop=None):
        return getitem(f, _along(axis, slice(start, stop)))

    def at(i):
        return getitem(f, _along(axis, slice(i, i + 1 if i != -1 else None)))

    uniform = np.ndim(_raw(step)) == 0
    if uniform:
        interior = (part(2) - part(None, -2)) / (2.0 * step)
    else:
        dx1, dx2 = getitem(step, slice(0, -1)), getitem(step, slice(1, None))
        a = _along_axis(-dx2 / (dx1 * (dx1 + dx2)), axis, ndim)
        b = _along_axis((dx2 - dx1) / (dx1 * dx2), axis, ndim)
        c = _along_axis(dx1 / (dx2 * (dx1 + dx2)), axis, ndim)
        interior = a * part(None, -2) + b * part(1, -1) + c * part(2)
    if edge_order == 1:
        first = (at(1) - at(0)) / (step if uniform else getitem(step, 0))
        last = (at(-1) - at(-2)) / (step if uniform else getitem(step, -1))
    else:
        if uniform:
            a, b, c = -1.5 / step, 2.0 / step, -0.5 / step
        else:
            dx1, dx2 = getitem(step, 0), getitem(step, 1)
            a = -(2.0 * dx1 + dx2) / (dx1 * (dx1 + dx2))
            b = (dx1 + dx2) / (dx1 * dx2)
            c = -dx1 / (dx2 * (dx1 + dx2))
        first = a * at(0) + b * at(1) + c * at(2)
        if uniform:
            a, b, c = 0.5 / step, -2.0 / step, 1.5 / step
        else:
            dx1, dx2 = getitem(step, -2), getitem(step, -1)
            a = dx2 / (dx1 * (dx1 + dx2))
            b = -(dx2 + dx1) / (dx1 * dx2)
            c = (2.0 * dx2 + dx1) / (dx2 * (dx1 + dx2))
        last = a * at(-3) + b * at(-2) + c * at(-1)
    # NumPy writes every piece into an array of f's (floating) dtype.
    pieces = [p if _raw(p).dtype == otype else astype(p, otype) for p in (first, interior, last)]
    return concatenate(pieces, axis=axis)


def gradient(f, *varargs, axis=None, edge_order=1):
    """The gradient of sampled values, as numpy.gradient: second-order central differences inside and
    first- or second-order (``edge_order``) one-sided differences at the ends, along each axis.

    Spacings: none (1), one scalar for all axes, or per axis a scalar or the sample coordinates.
    Coordinates may be differentiated as well as f. One axis gives an array, several a tuple.

    Example:
        >>> import nablanet.numpy as np
        >>> np.gradient(np.array([1.0, 4.0, 9.0, 16.0]), 2.0)
        array([1.5, 2. , 3. , 3.5])
    """
    f = _as_array(f)
    raw = _raw(f)
    ndim = raw.ndim
    axes = tuple(range(ndim)) if axis is None else tuple(
        _one_axis(int(a), ndim) for a in ((axis,) if np.ndim(axis) == 0 else axis))
    if len(set(axes)) != len(axes):
        raise ValueError("repeated axis")
    spacings = _spacings(varargs, raw.shape, axes)
    if edge_order > 2:
        raise ValueError("'edge_order' greater than 2 not supported")
    otype = raw.dtype
    if not np.issubdtype(otype, np.inexact):
        otype = np.dtype(np.float64)
        f = raw.astype(np.float64) if np.issubdtype(raw.dtype, np.integer) else f
    results = []
    for a, step in zip(axes, spacings):
        if raw.shape[a] < edge_order + 1:
            raise ValueError("Shape of array too small to calculate a numerical gradient, "
                             "at least (edge_order + 1) elements are required.")
        results.append(_gradient_along(f, a, step, edge_order, otype))
    return results[0] if len(axes) == 1 else tuple(results)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """Integral of y along axis by the trapezoidal rule, as numpy.trapezoid: sum of (x_{i+1} - x_i)
    (y_i + y_{i+1}) / 2, with sample coordinates x (1-D along axis, or y's shape) or a step dx.

    Example:
        >>> import nablanet.numpy as np
        >>> float(np.trapezoid(np.array([1.0, 2.0, 3.0]), x=np.array([0.0, 1.0, 3.0])))
        6.5
    """
    y = _as_array(y)
    ndim = np.ndim(_raw(y))
    axis_index = _one_axis(int(axis), ndim)
    if x is None:
        d = dx
    else:
        x = _as_array(x)
        if np.ndim(_raw(x)) == 1:
            d = _along_axis(diff(x), axis_index, ndim)
        else:
            d = diff(x, axis=axis)
    later, earlier = _along(axis_index, slice(1, None)), _along(axis_index, slice(None, -1))
    return sum(d * (getitem(y, later) + getitem(y, earlier)) / 2.0, axis=axis_index)
