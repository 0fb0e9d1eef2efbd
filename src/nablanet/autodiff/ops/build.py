"""Building arrays: array and asarray of Tensors (nested lists included), r_ and c_, block, append,
insert, delete, meshgrid, linspace, full and full_like.

All are composites of the shape primitives. numpy.array cannot take a Tensor that carries a
derivative (it would drop it); ``nablanet.numpy.array`` stacks the Tensors instead, with NumPy's dtype
and shape. Given nothing that carries a derivative, each function is NumPy's own.
"""

from __future__ import annotations

import operator
import sys

import numpy as np

from nablanet.autodiff.ops.elementwise import astype, multiply, power
from nablanet.autodiff.ops.shape import (
    _as_shape, _converted, _from_nested, _has_tensor, _numpy_without_tensors, _operand, _positions, _raw, _values,
    broadcast_arrays, broadcast_to, concatenate, expand_dims, flip, getitem, moveaxis, ravel, reshape, stack,
    transpose,
)
from nablanet.autodiff.op import traced
from nablanet.autodiff.tensor import Tensor

__all__ = ["array", "asarray", "asanyarray", "ascontiguousarray", "copy", "r_", "c_", "block", "append", "insert",
           "delete", "meshgrid", "linspace", "logspace", "vander", "full", "full_like"]


def _carries_derivative(obj) -> bool:
    """Whether obj is, or (in lists and tuples) holds, a Tensor that a derivative is being taken through
    (or a vmap batch, which is followed like one)."""
    if isinstance(obj, Tensor):
        return obj._requires_grad or bool(obj._tangents)
    if traced(obj):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_carries_derivative(item) for item in obj)
    return False


def _with_ndmin(x, ndmin: int):
    shape = np.shape(_raw(x))
    return reshape(x, (1,) * (ndmin - len(shape)) + shape) if ndmin > len(shape) else x


def array(object, dtype=None, *, copy=True, order="K", subok=False, ndmin=0, ndmax=None, like=None):
    """numpy.array that keeps derivatives: Tensors, and (nested) lists and tuples holding them, become one
    Tensor, stacked differentiably with NumPy's dtype promotion and shape rules (ndmin= prepends axes).

    Given nothing that carries a derivative it is numpy.array itself. Tensors are immutable, so a
    Tensor of the requested dtype is returned as it is; copy=False refuses, as NumPy does, what needs a
    new array (a list, or another dtype). ``order`` concerns memory layout only. ``ndmax`` (NumPy 2.4)
    is passed on only when given: NumPy reads an explicit 0 as "no dimensions".

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import grad
        >>> grad(lambda x: np.sum(np.array([[x, 2.0 * x], [1.0, x ** 2]]) ** 2))(1.5)  # 10 x + 4 x^3
        28.5
    """
    if not _carries_derivative(object):
        limit = {} if ndmax is None else {"ndmax": ndmax}
        return np.array(object, dtype=dtype, copy=copy, order=order, subok=subok, ndmin=ndmin, like=like, **limit)
    if like is not None:
        raise TypeError("array: like= is not supported for values that carry a derivative")
    if traced(object):
        needs_copy = dtype is not None and np.dtype(dtype) != object.dtype
        result = astype(object, dtype) if needs_copy else object
    else:
        needs_copy = True
        result = _from_nested(object, dtype)
    if copy is False and needs_copy:
        raise ValueError("Unable to avoid copy while creating an array as requested.")
    if ndmax is not None and np.ndim(_raw(result)) > ndmax:
        raise ValueError(f"array: ndmax={ndmax} would make an object array of a value that carries a derivative")
    return _with_ndmin(result, ndmin)


def asarray(a, dtype=None, order=None, *, device=None, copy=None, like=None):
    """numpy.asarray that keeps derivatives (see ``array``): a Tensor is returned as it is.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.asarray((Tensor(1.0, requires_grad=True), 2.0)).shape
        (2,)
    """
    if not _carries_derivative(a):
        return np.asarray(a, dtype=dtype, order=order, device=device, copy=copy, like=like)
    return array(a, dtype=dtype, copy=copy, like=like)


def asanyarray(a, dtype=None, order=None, *, device=None, copy=None, like=None):
    """numpy.asanyarray that keeps derivatives, as ``asarray`` (Tensors are the only array subclass here).

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.asanyarray([Tensor(1.0, requires_grad=True)]).shape
        (1,)
    """
    if not _carries_derivative(a):
        return np.asanyarray(a, dtype=dtype, order=order, device=device, copy=copy, like=like)
    return asarray(a, dtype=dtype, copy=copy, like=like)


def ascontiguousarray(a, dtype=None, *, like=None):
    """numpy.ascontiguousarray that keeps derivatives: as ``asarray``, with at least one dimension.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.ascontiguousarray(Tensor(1.0, requires_grad=True)).shape
        (1,)
    """
    if not _carries_derivative(a):
        return np.ascontiguousarray(a, dtype=dtype, like=like)
    return array(a, dtype=dtype, copy=None, ndmin=1, like=like)


def copy(a, order="K", subok=False):
    """numpy.copy: a new array of a's values (for a Tensor, a new node of the graph with the same values).

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.copy(Tensor([1.0, 2.0]))
        Tensor([1., 2.])
    """
    if not _has_tensor(a):
        return np.copy(a, order=order, subok=subok)
    a = _operand(a)
    return astype(a, _raw(a).dtype)


class AxisConcatenator:
    """numpy.r_ and numpy.c_: concatenation written as indexing, keeping derivatives.

    Arrays, Tensors and scalars are joined along ``axis`` after being given ``ndmin`` dimensions
    (1-D ones placed by ``trans1d``). Slices are NumPy's arange (or linspace for a complex step, ``5j``
    points), constants. A first string sets these: "0", "1,2" (axis, ndmin) or "0,2,0" (with trans1d);
    "r" and "c" ask for a row or column matrix, which for a result with a derivative is the 2-D array of
    that shape (a Tensor is never a numpy.matrix). A whole string is NumPy's matrix builder
    (``np.r_["a, b; c, d"]``, numpy.bmat of the caller's names), which has no derivative.
    """

    def __init__(self, axis=0, matrix=False, ndmin=1, trans1d=-1, numpy_version=None):
        self.axis = axis
        self.matrix = matrix
        self.ndmin = ndmin
        self.trans1d = trans1d
        self.numpy_version = numpy_version

    def __len__(self):
        return 0

    def __getitem__(self, key):
        if isinstance(key, str):
            # NumPy's matrix builder reads the names in the string from the caller's frame.
            caller = sys._getframe(1)
            return np.bmat(key, caller.f_globals, caller.f_locals)
        key = key if isinstance(key, tuple) else (key,)
        if not _carries_derivative(key):
            return self.numpy_version[key]
        axis, matrix, ndmin, trans1d, column = self.axis, self.matrix, self.ndmin, self.trans1d, False
        pieces, kinds = [], []
        for k, item in enumerate(key):
            if isinstance(item, str):
                if k != 0:
                    raise ValueError("special directives must be the first entry.")
                if item in ("r", "c"):
                    matrix, column = True, item == "c"
                    continue
                axis, ndmin, trans1d = _directive(item, axis, ndmin, trans1d)
                continue
            if isinstance(item, slice):
                piece = self._range(item)
                if ndmin > 1:
                    piece = np.array(piece, copy=None, ndmin=ndmin)
                    if trans1d != -1:
                        piece = piece.swapaxes(-1, trans1d)
                pieces.append(piece)
                kinds.append(piece.dtype)
            elif type(item) in np.ScalarType:
                pieces.append(item)
                kinds.append(item)
            else:
                piece = self._promoted(_operand(item), ndmin, trans1d)
                pieces.append(piece)
                kinds.append(_raw(piece).dtype)
        dtype = np.result_type(*kinds)
        pieces = [_with_ndmin(_converted(_operand(p), dtype), ndmin) for p in pieces]
        result = concatenate(pieces, axis=axis)
        if matrix:
            result = _as_matrix_shape(result, column)
        return result

    @staticmethod
    def _range(item: slice) -> np.ndarray:
        start = 0 if item.start is None else item.start
        step = 1 if item.step is None else item.step
        if isinstance(step, (complex, np.complexfloating)):
            return np.linspace(start, item.stop, num=int(abs(step)))
        return np.arange(start, item.stop, step)

    @staticmethod
    def _promoted(piece, ndmin: int, trans1d: int):
        """piece given ndmin dimensions, its own axes placed at trans1d as numpy.r_ places them."""
        ndim = np.ndim(_raw(piece))
        piece = _with_ndmin(piece, ndmin)
        if trans1d != -1 and ndim < ndmin:
            k2 = ndmin - ndim
            k1 = trans1d + k2 + 1 if trans1d < 0 else trans1d
            axes = list(range(ndmin))
            piece = transpose(piece, axes[:k1] + axes[k2:] + axes[k1:k2])
        return piece


def _directive(item: str, axis: int, ndmin: int, trans1d: int) -> tuple:
    """(axis, ndmin, trans1d) set by an r_ string such as "0", "1,2" or "0,2,0"."""
    if "," in item:
        parts = item.split(",")
        try:
            axis, ndmin = (int(p) for p in parts[:2])
            if len(parts) == 3:
                trans1d = int(parts[2])
        except ValueError as err:
            raise ValueError(f"unknown special directive {item!r}") from err
        return axis, ndmin, trans1d
    try:
        return int(item), ndmin, trans1d
    except ValueError as err:
        raise ValueError("unknown special directive") from err


def _as_matrix_shape(result, column: bool):
    """The shape numpy.matrix would give the result: a row (or, for "c", a column) from 1-D; 2-D as is."""
    ndim = np.ndim(_raw(result))
    if ndim > 2:
        raise ValueError("shape too large to be a matrix.")
    if ndim < 2:
        result = reshape(result, (1, -1))
        if column:
            result = transpose(result)
    return result


r_ = AxisConcatenator(0, numpy_version=np.r_)
c_ = AxisConcatenator(-1, ndmin=2, trans1d=0, numpy_version=np.c_)


def _block_labels(arrays, offset: list):
    """arrays with each leaf replaced by the positions of its elements in the concatenation of all leaves."""
    if isinstance(arrays, list):
        return [_block_labels(item, offset) for item in arrays]
    shape = np.shape(_raw(arrays))
    labels = offset[0] + _positions(np.empty(shape, dtype=bool))
    offset[0] += labels.size
    return labels


def _block_leaves(arrays) -> list:
    if isinstance(arrays, list):
        return [leaf for item in arrays for leaf in _block_leaves(item)]
    return [arrays]


@_numpy_without_tensors(np.block)
def block(arrays):
    """An array assembled from nested lists of blocks, as numpy.block (the depth of nesting says the axis).

    NumPy's block applied to the positions of the blocks' elements says where each lands, so the
    result is a gather from the blocks, exactly NumPy's layout, dtype and errors.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.block([[Tensor(np.eye(2)), np.zeros((2, 1))], [np.ones((1, 2)), Tensor(5.0)]])
        Tensor([[1., 0., 0.],
                [0., 1., 0.],
                [1., 1., 5.]])
    """
    dtype = np.block(_values(arrays)).dtype
    positions = np.block(_block_labels(arrays, [0]))
    leaves = [ravel(_converted(_operand(leaf), dtype)) for leaf in _block_leaves(arrays)]
    return getitem(concatenate(leaves), positions)


@_numpy_without_tensors(np.append)
def append(arr, values, axis=None):
    """values appended to arr along axis (None: both flattened), as numpy.append.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.append(Tensor([[1.0, 2.0]]), [3.0])
        Tensor([1., 2., 3.])
    """
    arr = _operand(arr)
    values = _operand(values)
    if axis is None:
        arr = ravel(arr)
        values = ravel(values)
        axis = 0
    return concatenate((arr, values), axis=axis)


def _gather_with_values(arr, values, positions):
    """The result of numpy.insert computed on positions, where -1 - j stands for values' element j."""
    dtype = _raw(arr).dtype
    size = _raw(arr).size
    source = concatenate([ravel(arr), ravel(_converted(values, dtype))])
    return getitem(source, np.where(positions >= 0, positions, size - 1 - positions))


@_numpy_without_tensors(np.insert)
def insert(arr, obj, values, axis=None):
    """values inserted into arr before the index or indices obj along axis (None: the flattened arr), as
    numpy.insert. Differentiable in arr and values (converted to arr's dtype, as NumPy does).

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.insert(Tensor([1.0, 2.0, 3.0]), [1, 3], Tensor([10.0, 20.0]))
        Tensor([ 1., 10.,  2.,  3., 20.])
    """
    arr = _operand(arr)
    values = _operand(values)
    if axis is None:
        arr = ravel(arr)
        axis = 0
    shape = np.shape(_raw(values))
    labels = -1 - _positions(np.empty(shape, dtype=bool))
    positions = np.insert(_positions(arr), _raw(obj) if isinstance(obj, Tensor) else obj, labels, axis=axis)
    return _gather_with_values(arr, values, positions)


@_numpy_without_tensors(np.delete)
def delete(arr, obj, axis=None):
    """arr without the sub-arrays at the index or indices obj along axis (None: of the flattened arr), as
    numpy.delete.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.delete(Tensor([[1.0, 2.0, 3.0]]), [0, 2], axis=1)
        Tensor([[2.]])
    """
    arr = _operand(arr)
    if axis is None:
        arr = ravel(arr)
        axis = 0
    positions = np.delete(_positions(arr), _raw(obj) if isinstance(obj, Tensor) else obj, axis=axis)
    return getitem(ravel(arr), positions)


@_numpy_without_tensors(np.meshgrid)
def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """Coordinate arrays from coordinate vectors, as numpy.meshgrid ("xy": Cartesian, the first two axes
    swapped; "ij": matrix indexing; sparse=True keeps the broadcastable shapes).

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> [g.shape for g in np.meshgrid(Tensor([1.0, 2.0, 3.0]), np.array([4.0, 5.0]))]
        [(2, 3), (2, 3)]
    """
    if indexing not in ("xy", "ij"):
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'.")
    ndim = len(xi)
    ones = (1,) * ndim
    output = [reshape(_operand(x), ones[:k] + (-1,) + ones[k + 1:]) for k, x in enumerate(xi)]
    if indexing == "xy" and ndim > 1:
        output[0] = reshape(output[0], (1, -1) + ones[2:])
        output[1] = reshape(output[1], (-1, 1) + ones[2:])
    if not sparse:
        output = broadcast_arrays(*output)
    # NumPy returns a tuple when it copies and the list it built when it does not.
    return tuple(output) if copy or not sparse else output


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *, device=None):
    """num evenly spaced samples from start to stop (stop included if endpoint), as numpy.linspace.

    Differentiable in start and stop (arrays broadcast, the samples along a new axis at ``axis``):
    sample k is start + k step with step = (stop - start) / (num - 1 if endpoint else num), and the
    last sample is stop itself, as NumPy sets it. num is a constant. retstep=True also returns the step
    (NaN when it is undefined, as in NumPy). An integer dtype (NumPy floors the samples) is refused for
    values that carry a derivative.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import jvp
        >>> np.linspace(0.0, 1.0, 5)
        array([0.  , 0.25, 0.5 , 0.75, 1.  ])
        >>> jvp(lambda b: np.linspace(0.0, b, 5), (1.0,), (1.0,))[1]
        array([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    # NumPy's own samples give the dtype, the shape and every error (num < 0, unbroadcastable bounds).
    reference = np.linspace(_values(start), _values(stop), num, endpoint=endpoint, dtype=dtype, axis=axis,
                            device=device)
    if not _carries_derivative([start, stop]):
        if not retstep:
            return reference
        return np.linspace(_values(start), _values(stop), num, endpoint=endpoint, retstep=True, dtype=dtype,
                           axis=axis, device=device)
    if np.issubdtype(reference.dtype, np.integer):
        raise TypeError("linspace: an integer dtype floors the samples, which has no derivative")
    num = operator.index(num)
    divisions = num - 1 if endpoint else num
    # NumPy computes in the inexact type of the bounds (Python numbers weak) and converts at the end.
    computing = np.linspace(_values(start), _values(stop), 0).dtype
    start = _converted(_operand(start) if isinstance(start, (list, tuple)) else start, computing)
    stop = _converted(_operand(stop) if isinstance(stop, (list, tuple)) else stop, computing)
    delta = stop - start
    bounds_shape = np.shape(_raw(delta))
    counts = np.arange(num, dtype=computing).reshape((-1,) + (1,) * len(bounds_shape))
    if divisions > 0:
        step = delta / divisions
        if np.any(_raw(step) == 0):
            # NumPy's order for steps that underflow to 0 (denormal bounds): k / divisions first.
            samples = (counts / divisions) * delta + start
        else:
            samples = counts * step + start
    else:
        step = np.nan
        samples = counts * delta + start
    if endpoint and num > 1:
        last = reshape(broadcast_to(stop, bounds_shape), (1,) + bounds_shape)
        samples = concatenate([getitem(samples, slice(None, -1)), last])
    if axis != 0:
        samples = moveaxis(samples, 0, axis)
    samples = _converted(samples, reference.dtype)
    return (samples, step) if retstep else samples


@_numpy_without_tensors(np.logspace)
def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """base ** linspace(start, stop, num): samples evenly spaced on a log scale, as numpy.logspace.

    Differentiable in start, stop and base (an array base broadcasts with the bounds, as in NumPy).

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import jvp
        >>> np.logspace(0.0, 2.0, 3)
        array([  1.,  10., 100.])
        >>> jvp(lambda a: np.logspace(a, 2.0, 3), (0.0,), (1.0,))[1]  # ln(10) 10^(a + k (2 - a)/2) (1 - k/2)
        array([ 2.30258509, 11.51292546,  0.        ])
    """
    if not isinstance(base, (float, int)) and np.ndim(_values(base)):
        ndim = np.broadcast(*(np.empty(np.shape(_values(a))) for a in (start, stop, base))).ndim
        start, stop, base = (array(a, copy=None, ndmin=ndim) for a in (start, stop, base))
        base = expand_dims(base, axis)
    exponents = linspace(start, stop, num=num, endpoint=endpoint, axis=axis)
    if isinstance(base, (float, int)):
        # As a Python number base is weak in NumPy's power: it takes the exponents' dtype.
        base = np.asarray(base, dtype=_raw(exponents).dtype)
    out = power(base, exponents)
    return out if dtype is None else astype(out, dtype)


@_numpy_without_tensors(np.vander)
def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of the 1-D x: columns x^(N-1), ..., x, 1 (increasing: 1, x, ...), as numpy.vander.

    The powers are successive products, as NumPy computes them, so the derivative at x = 0 is finite.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.vander(Tensor([2.0, 3.0]), 3)
        Tensor([[4., 2., 1.],
                [9., 3., 1.]])
    """
    x = _operand(x)
    if np.ndim(_raw(x)) != 1:
        raise ValueError("x must be a one-dimensional array or sequence.")
    count = len(_raw(x)) if N is None else operator.index(N)
    dtype = np.promote_types(_raw(x).dtype, int)
    x = _converted(x, dtype)
    columns = [np.ones(np.shape(_raw(x)), dtype=dtype)][:count]
    for _ in range(1, count):
        columns.append(x if len(columns) == 1 else multiply(columns[-1], x))
    if not columns:
        return np.empty((len(_raw(x)), 0), dtype=dtype)
    out = stack(columns, axis=1)
    return out if increasing else flip(out, 1)


@_numpy_without_tensors(np.full)
def full(shape, fill_value, dtype=None, order="C", *, device=None, like=None):
    """An array of shape filled with fill_value (broadcast), as numpy.full; differentiable in fill_value.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import grad
        >>> grad(lambda v: np.sum(np.full((2, 3), v)))(1.0)
        6.0
    """
    if like is not None:
        raise TypeError("full: like= is not supported for a fill value that is a Tensor")
    fill = _operand(fill_value)
    dtype = _raw(fill).dtype if dtype is None else np.dtype(dtype)
    return broadcast_to(_converted(fill, dtype), _as_shape(shape))


def full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, *, device=None):
    """An array like a (its shape and dtype, unless given) filled with fill_value, as numpy.full_like.

    a only lends its shape and dtype (a constant); the result is differentiable in fill_value.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor, grad
        >>> grad(lambda v: np.sum(np.full_like(np.ones(4), v)))(2.0)
        4.0
    """
    if not _has_tensor(fill_value):
        return np.full_like(_values(a), fill_value, dtype=dtype, order=order, subok=subok, shape=shape,
                            device=device)
    values = _raw(_operand(a)) if not isinstance(a, Tensor) else a._data
    dtype = values.dtype if dtype is None else np.dtype(dtype)
    shape = values.shape if shape is None else _as_shape(shape)
    return broadcast_to(_converted(_operand(fill_value), dtype), shape)
