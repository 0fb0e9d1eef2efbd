"""Shape primitives and the functions built on them: reshaping, rearranging, joining, splitting, indexing.

The primitives (reshape, transpose, broadcast_to, concatenate, pad and the transpose of its copying
modes pad_transpose, getitem and its transpose scatter_add) move numbers without arithmetic; every
other function here is a composite of them, so its derivatives, to any order and in both modes, are
theirs. Each public function has NumPy's name
and signature and computes NumPy's result. Given no Tensor at all (plain arrays, as inside a
derivative rule's first-order pass) it is NumPy's own function, called directly.

Functions that move or repeat elements in ways NumPy defines by many cases (insert, delete,
per-element repeats) are computed as a gather: NumPy's own function applied to the
positions ``arange(x.size)`` says where each output element comes from, and ``x.ravel()[positions]``
is the result, exactly NumPy's by construction, with the gather's derivative (a scatter-add).
"""

from __future__ import annotations

import functools
import math
import operator
import warnings

import numpy as np
from numpy.exceptions import AxisError
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from nablanet.autodiff import batching
from nablanet.autodiff.op import Op, raw as _raw, register, traced
from nablanet.autodiff.ops.elementwise import astype, where
from nablanet.autodiff.tensor import Tensor
from nablanet.kernels import workspace

__all__ = [
    "reshape", "ravel", "transpose", "permute_dims", "matrix_transpose", "swapaxes", "moveaxis", "rollaxis",
    "broadcast_to", "broadcast_arrays", "expand_dims", "squeeze", "atleast_1d", "atleast_2d", "atleast_3d",
    "concatenate", "concat", "stack", "hstack", "vstack", "dstack", "column_stack", "row_stack",
    "split", "array_split", "hsplit", "vsplit", "dsplit", "unstack",
    "flip", "fliplr", "flipud", "rot90", "roll", "tile", "repeat", "resize",
    "diagonal", "diag", "diagflat", "trace", "tril", "triu",
    "pad", "getitem", "take", "take_along_axis", "put_along_axis", "choose", "select", "piecewise", "compress",
    "extract", "scatter_add",
]



def _ndim(x) -> int:
    return x._data.ndim if traced(x) else np.ndim(x)


def _shape(x) -> tuple:
    return x._data.shape if traced(x) else np.shape(x)


def _has_tensor(obj) -> bool:
    """Whether obj is a Tensor (or a vmap batch) or a (nested) list or tuple holding one."""
    if traced(obj):
        return True
    if isinstance(obj, (list, tuple)):
        for item in obj:
            if _has_tensor(item):
                return True
    return False


def _axes(axis, ndim: int, argname=None) -> tuple:
    """numpy.lib.array_utils.normalize_axis_tuple, with a quick path for one int."""
    if isinstance(axis, int):
        return (normalize_axis_index(axis, ndim, argname),)
    return normalize_axis_tuple(axis, ndim, argname)


def _numpy_without_tensors(numpy_function):
    """Decorator: with no Tensor among the arguments, the function is ``numpy_function`` itself.

    The composite below it is then only ever run with Tensors; on plain arrays (a derivative rule's
    first-order pass, a constant) the result is NumPy's own, at NumPy's speed.
    """

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if _has_tensor(args) or _has_tensor(tuple(kwargs.values())):
                return function(*args, **kwargs)
            return numpy_function(*args, **kwargs)

        return wrapper

    return decorate


def _values(obj):
    """obj with every Tensor replaced by its values (lists and tuples followed); a vmap batch by zeros
    of an example's shape and dtype, which is all NumPy's dtype and shape rules read of it."""
    if isinstance(obj, Tensor):
        return obj._data
    if traced(obj):
        return np.zeros(obj.shape, dtype=obj.dtype)
    if isinstance(obj, (list, tuple)):
        return [_values(item) for item in obj]
    return obj


def _from_nested(obj, dtype=None):
    """A (nested) list or tuple holding Tensors as one array, stacked differentiably.

    The dtype, the shape and the errors for ragged or mixed input are NumPy's: they come from
    numpy.array of the values. Each Tensor is converted to that dtype, as numpy.array does.
    """
    dtype = np.array(_values(obj), dtype=dtype).dtype
    return _assemble(obj, dtype)


def _assemble(obj, dtype):
    if traced(obj):
        return obj if obj.dtype == dtype else astype(obj, dtype)
    if isinstance(obj, (list, tuple)) and _has_tensor(obj):
        return stack([_assemble(item, dtype) for item in obj])
    return np.asarray(obj, dtype=dtype)


def _operand(x):
    """x as an array argument: Tensors and ndarrays as they are, sequences holding Tensors stacked, anything
    else through numpy.asarray (as NumPy converts its arguments)."""
    if isinstance(x, np.ndarray) or traced(x):
        return x
    if isinstance(x, (list, tuple)) and _has_tensor(x):
        return _from_nested(x)
    return np.asarray(x)


def _refuse_out(name: str, out) -> None:
    if out is not None:
        raise TypeError(f"{name}: out= is not supported (Tensors are immutable: the result is returned)")


def _gather_flat(x, positions):
    """x.ravel()[positions]: the elements of x at the C-order positions of an integer array."""
    return getitem(ravel(x), np.asarray(positions, dtype=np.intp))


def _positions(x) -> np.ndarray:
    """arange(x.size) in x's shape: what a rearranging NumPy function is applied to, to learn where
    each of its output elements comes from."""
    shape = _shape(x)
    return np.arange(math.prod(shape), dtype=np.intp).reshape(shape)


class _ShapeOp(Op):
    """Shape ops move or copy numbers but do no arithmetic."""

    def flops(out, *inputs, **settings):
        return 0


@register
class Reshape(_ShapeOp):
    """z = x with a new shape (same elements in C order)."""

    def batch(cls, x, *, batched, batched_settings, shape):
        return batching.call_op(cls, [x], {"shape": (np.shape(x)[0], *shape)})

    def forward(x, *, shape):
        x = np.asarray(x)
        if x.flags.c_contiguous or x.nbytes < workspace.MIN_POOLED_BYTES:
            return np.reshape(x, shape)
        try:
            return np.reshape(x, shape, copy=False)
        except TypeError:  # NumPy before 2.1 has no copy=: its own copy, as before the pool
            return np.reshape(x, shape)
        except ValueError:
            # A copy is needed (a channels-last activation flattened): into a pooled block, as np.reshape's.
            copied = workspace.empty(x.shape, x.dtype)
            np.copyto(copied, x)
            return copied.reshape(shape)

    def vjp(grad_out, out, x, *, shape, needs):
        return (reshape(grad_out, np.shape(_raw(x))),)

    def jvp(x_dot, out, x, *, shape, needs):
        return reshape(x_dot, shape)


@register
class Transpose(_ShapeOp):
    """z = x with its axes permuted; the gradient is permuted back."""

    def batch(cls, x, *, batched, batched_settings, axes):
        return batching.call_op(cls, [x], {"axes": (0, *(a + 1 for a in axes))})

    def forward(x, *, axes):
        return np.transpose(x, axes)

    def vjp(grad_out, out, x, *, axes, needs):
        return (transpose(grad_out, tuple(np.argsort(axes))),)

    def jvp(x_dot, out, x, *, axes, needs):
        return transpose(x_dot, axes)


@register
class BroadcastTo(_ShapeOp):
    """z = x repeated to a larger shape; the engine sums the gradient back to x's shape."""

    def batch(cls, x, *, batched, batched_settings, shape):
        x = batching.align(x, True, len(shape))
        return batching.call_op(cls, [x], {"shape": (np.shape(x)[0], *shape)})

    name = "broadcast_to"

    def forward(x, *, shape):
        return np.broadcast_to(x, shape)

    def vjp(grad_out, out, x, *, shape, needs):
        return (grad_out,)

    def jvp(x_dot, out, x, *, shape, needs):
        return broadcast_to(x_dot, shape)


@register
class Concatenate(_ShapeOp):
    """z = [x_1, x_2, ...] joined along axis; each gets its own slice of the gradient."""

    def batch(cls, *xs, batched, batched_settings, axis):
        length = next(np.shape(x)[0] for x, b in zip(xs, batched) if b)
        xs = [x if b else broadcast_to(x, (length, *np.shape(_raw(x)))) for x, b in zip(xs, batched)]
        return batching.call_op(cls, xs, {"axis": axis + 1})

    def forward(*xs, axis):
        return np.concatenate(xs, axis=axis)

    def vjp(grad_out, out, *xs, axis, needs):
        bounds = np.cumsum([0] + [np.shape(_raw(x))[axis] for x in xs])
        lead = (slice(None),) * axis
        return tuple(getitem(grad_out, lead + (slice(lo, hi),)) for lo, hi in zip(bounds[:-1], bounds[1:]))

    def jvp(*dots_out_inputs, axis, needs):
        # Arguments are the n input tangents, the output, then the n inputs.
        n = len(dots_out_inputs) // 2
        return concatenate(dots_out_inputs[:n], axis=axis)


def _pad_sources(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """Where along an axis of length n each padded element comes from: numpy.pad of arange(n) in ``mode``
    (so every width, even one wider than the axis, is NumPy's)."""
    return np.pad(np.arange(n, dtype=np.intp), (before, after), mode=mode)


def _padded_axes(pad_width):
    return [axis for axis, (before, after) in enumerate(pad_width) if before or after]


@register
class Pad(_ShapeOp):
    """z = x padded along each axis: with a constant, or (``mode`` 'reflect', 'symmetric', 'edge', 'wrap', NumPy's
    names; PyTorch's 'reflect', 'replicate', 'circular') with copies of x's own elements.

    Constant padding's VJP is the inner slice. A copying mode is a gather along each axis in turn,
    z = x[..., s_k, ...] with s_k = pad(arange(n_k)) (NumPy pads one axis after the other, so the
    corners are copies of copies, as here); its VJP is the transpose, ``pad_transpose``, which adds each
    copy's gradient back onto the element it copied. Both are linear, so each JVP is the op itself, and
    the two are each other's VJP: derivatives of any order.
    """

    def batch(cls, x, *, batched, batched_settings, pad_width, constant_values, mode):
        if batched_settings:
            return None
        return batching.call_op(cls, [x], {"pad_width": ((0, 0), *pad_width), "constant_values": constant_values,
                                           "mode": mode})

    def forward(x, *, pad_width, constant_values, mode):
        x = np.asarray(x)
        if mode != "constant":
            for axis in _padded_axes(pad_width):
                x = np.take(x, _pad_sources(x.shape[axis], *pad_width[axis], mode), axis=axis)
            return x
        # In x's own memory order (np.pad always returns C order): a channels-last activation stays so.
        shape = tuple(n + before + after for n, (before, after) in zip(x.shape, pad_width))
        out = workspace.empty_like(x, shape=shape)
        out.fill(constant_values)
        out[tuple(slice(before, before + n) for n, (before, _) in zip(x.shape, pad_width))] = x
        return out

    def vjp(grad_out, out, x, *, pad_width, constant_values, mode, needs):
        if mode != "constant":
            return (pad_transpose(grad_out, pad_width, mode),)
        inner = tuple(slice(before, before + n) for (before, _), n in zip(pad_width, np.shape(_raw(x))))
        return (getitem(grad_out, inner),)

    def jvp(x_dot, out, x, *, pad_width, constant_values, mode, needs):
        if mode != "constant":
            return Pad.apply(x_dot, pad_width=pad_width, constant_values=0, mode=mode)
        return pad(x_dot, pad_width)


@register
class PadTranspose(_ShapeOp):
    """The transpose of a copying ``pad``: each padded element's value added back onto the element of the
    unpadded array it was copied from (the gradient of reflect, replicate or circular padding).

    Axis by axis in reverse order: the inner slice, plus the border elements added at their sources.
    Its VJP is ``pad`` with the same widths and mode, its JVP itself.

    Shape: z padded by ``pad_width`` -> the unpadded shape.
    """

    name = "pad_transpose"

    def batch(cls, z, *, batched, batched_settings, pad_width, mode):
        if batched_settings:
            return None
        return batching.call_op(cls, [z], {"pad_width": ((0, 0), *pad_width), "mode": mode})

    def forward(z, *, pad_width, mode):
        z = np.asarray(z)
        for axis in reversed(_padded_axes(pad_width)):
            before, after = pad_width[axis]
            n = z.shape[axis] - before - after
            sources = _pad_sources(n, before, after, mode)
            moved = np.moveaxis(z, axis, 0)
            folded = moved[before:before + n].copy()
            border = np.r_[0:before, before + n:before + n + after]
            np.add.at(folded, sources[border], moved[border])
            z = np.moveaxis(folded, 0, axis)
        return z

    def vjp(grad_out, out, z, *, pad_width, mode, needs):
        return (Pad.apply(grad_out, pad_width=pad_width, constant_values=0, mode=mode),)

    def jvp(z_dot, out, z, *, pad_width, mode, needs):
        return pad_transpose(z_dot, pad_width, mode)

    def flops(out, z, **settings):
        return int(np.size(z)) - int(np.size(out))


def pad_transpose(z, pad_width, mode: str):
    """The transpose (the VJP) of ``pad(x, pad_width, mode)`` for a copying mode: z of the padded shape summed
    back onto x's shape (see PadTranspose). ``pad_width`` is one (before, after) pair of ints per axis."""
    return PadTranspose.apply(_operand(z), pad_width=tuple((int(b), int(a)) for b, a in pad_width), mode=mode)


@register
class GetItem(_ShapeOp):
    """z = x[index], basic or integer-array indexing. Its VJP scatters (adds) the gradient back."""

    def batch(cls, x, *, batched, batched_settings, index):
        batched_index = None if batched_settings else _index_past_batch(index)
        if batched_index is None:
            return None
        return batching.call_op(cls, [x], {"index": batched_index})

    def forward(x, *, index):
        return x[index]

    def vjp(grad_out, out, x, *, index, needs):
        return (scatter_add(grad_out, index, np.shape(_raw(x))),)

    def jvp(x_dot, out, x, *, index, needs):
        return getitem(x_dot, index)


@register
class ScatterAdd(_ShapeOp):
    """z = zeros(shape) with x added at index (repeated indices accumulate): the transpose of x[index]."""

    def batch(cls, x, *, batched, batched_settings, index, shape):
        batched_index = None if batched_settings else _index_past_batch(index)
        if batched_index is None:
            return None
        return batching.call_op(cls, [x], {"index": batched_index, "shape": (np.shape(x)[0], *shape)})

    name = "scatter_add"

    def forward(x, *, index, shape):
        dtype = np.result_type(x)
        out = np.zeros(shape, dtype=dtype)
        if _is_basic(index):
            out[index] = x
        else:
            np.add.at(out, index, x)
        return out

    def vjp(grad_out, out, x, *, index, shape, needs):
        return (getitem(grad_out, index),)

    def jvp(x_dot, out, x, *, index, shape, needs):
        return scatter_add(x_dot, index, shape)

    def flops(out, x, **settings):
        return int(np.size(x))


def _index_past_batch(index):
    """An example's index with the batch axis in front, or None where NumPy would move the batch.

    NumPy keeps the result's axes in order when the advanced indices (arrays, and integers next to
    them) stand together; separated by a slice, their axes go first, ahead of the batch's.
    """
    parts = index if isinstance(index, tuple) else (index,)
    has_array = any(isinstance(p, np.ndarray) for p in parts)
    if has_array:
        advanced = [i for i, p in enumerate(parts) if isinstance(p, (np.ndarray, int, np.integer))]
        if advanced[-1] - advanced[0] + 1 != len(advanced):
            return None
    return (slice(None), *parts)


def _is_basic(index) -> bool:
    """True for indices made only of ints, slices, None and Ellipsis (no element is hit twice)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis for p in parts)


def _normalize_index(index):
    """Tensors and lists in an index become ndarrays; boolean masks become integer arrays."""
    parts = index if isinstance(index, tuple) else (index,)
    normalized = []
    for p in parts:
        if hasattr(p, "_data"):
            p = p._data
        if isinstance(p, list):
            p = np.asarray(p)
        if isinstance(p, np.ndarray) and p.dtype == bool:
            normalized.extend(np.nonzero(p))
            continue
        if isinstance(p, np.ndarray) and not np.issubdtype(p.dtype, np.integer):
            raise IndexError(f"index arrays must be integer or boolean, got dtype {p.dtype}")
        normalized.append(p)
    return tuple(normalized) if isinstance(index, tuple) or len(normalized) != 1 else normalized[0]


# --- public functions: reshaping and permuting axes ---------------------------------------------

def _as_shape(shape) -> tuple:
    return (operator.index(shape),) if np.ndim(shape) == 0 else tuple(operator.index(n) for n in shape)


def _layout_order(a, order: str) -> str:
    """order="A" as NumPy reads it: Fortran order for data that is Fortran- but not C-contiguous."""
    if order != "A":
        return order
    flags = _raw(a).flags
    return "F" if flags.f_contiguous and not flags.c_contiguous else "C"


def reshape(a, /, shape, order="C", *, copy=None):
    """a with a new shape, as numpy.reshape; one dimension may be -1.

    order="F" reads and fills in Fortran order, which is reshape(a.T, reversed(shape)).T in C order;
    "A" is Fortran order for Fortran-contiguous values, else C. copy=False raises NumPy's error when the
    values cannot be viewed in the new shape. The derivative of a reshape is the reshape back.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.reshape(Tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), (2, -1), order="F")
        Tensor([[1., 3., 5.],
                [2., 4., 6.]])
    """
    shape = _as_shape(shape)
    if copy is False:
        np.reshape(_raw(a), shape, order=order, copy=False)
    order = _layout_order(a, order)
    if order == "F":
        return transpose(reshape(transpose(a), shape[::-1]))
    if order != "C":
        raise ValueError(f"reshape: order must be 'C', 'F' or 'A', got {order!r}")
    if shape == _shape(a):
        return a if isinstance(a, np.ndarray) or traced(a) else np.asarray(a)
    return Reshape.apply(a, shape=shape)


def _keep_order(a):
    """The axis order in which order="K" reads a's values: by decreasing stride, as NumPy."""
    data = _raw(a)
    if data.flags.c_contiguous:
        return "C"
    if data.flags.f_contiguous:
        return "F"
    if any(stride == 0 for stride, n in zip(data.strides, data.shape) if n > 1):
        raise ValueError("ravel: order='K' of a Tensor whose values are a broadcast view is not supported; "
                         "use order='C'")
    return sorted(range(data.ndim), key=lambda axis: -abs(data.strides[axis]))


@_numpy_without_tensors(np.ravel)
def ravel(a, order="C"):
    """a flattened to one dimension, as numpy.ravel (order "C", "F", "A" or "K").

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.ravel(Tensor([[1.0, 2.0], [3.0, 4.0]]), order="F")
        Tensor([1., 3., 2., 4.])
    """
    if order == "K":
        order = _keep_order(a)
        if not isinstance(order, str):
            return reshape(transpose(a, order), (-1,))
    return reshape(a, (-1,), order=order)


def _permutation(axes, ndim: int) -> tuple:
    axes = (axes,) if np.ndim(axes) == 0 else tuple(axes)
    if len(axes) != ndim:
        raise ValueError("axes don't match array")
    axes = tuple(normalize_axis_index(operator.index(axis), ndim) for axis in axes)
    if len(set(axes)) != ndim:
        raise ValueError("repeated axis in transpose")
    return axes


def transpose(a, axes=None):
    """a with its axes permuted (default: reversed), as numpy.transpose.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.transpose(Tensor(np.ones((2, 3, 4))), (1, 2, 0)).shape
        (3, 4, 2)
    """
    ndim = _ndim(a)
    axes = tuple(range(ndim))[::-1] if axes is None else _permutation(axes, ndim)
    if axes == tuple(range(ndim)):
        return a if isinstance(a, np.ndarray) or traced(a) else np.asarray(a)
    return Transpose.apply(a, axes=axes)


permute_dims = transpose


@_numpy_without_tensors(np.matrix_transpose)
def matrix_transpose(x, /):
    """x with its last two axes exchanged (a stack of transposed matrices), as numpy.matrix_transpose.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.matrix_transpose(Tensor(np.ones((5, 2, 3)))).shape
        (5, 3, 2)
    """
    if _ndim(x) < 2:
        raise ValueError(f"Input array must be at least 2-dimensional, but it is {_ndim(x)}")
    return swapaxes(x, -1, -2)


@_numpy_without_tensors(np.swapaxes)
def swapaxes(a, axis1, axis2):
    """a with two axes exchanged, as numpy.swapaxes.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.swapaxes(Tensor(np.ones((2, 3, 4))), 0, -1).shape
        (4, 3, 2)
    """
    ndim = _ndim(a)
    axis1 = normalize_axis_index(operator.index(axis1), ndim, "axis1")
    axis2 = normalize_axis_index(operator.index(axis2), ndim, "axis2")
    axes = list(range(ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(a, axes)


@_numpy_without_tensors(np.moveaxis)
def moveaxis(a, source, destination):
    """a with axes moved to new positions (ints or sequences), as numpy.moveaxis.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.moveaxis(Tensor(np.ones((2, 3, 4))), (0, 1), (-1, 0)).shape
        (3, 4, 2)
    """
    ndim = _ndim(a)
    source = _axes(source, ndim, "source")
    destination = _axes(destination, ndim, "destination")
    if len(source) != len(destination):
        raise ValueError("`source` and `destination` arguments must have the same number of elements")
    order = [axis for axis in range(ndim) if axis not in source]
    for dest, src in sorted(zip(destination, source)):
        order.insert(dest, src)
    return transpose(a, order)


@_numpy_without_tensors(np.rollaxis)
def rollaxis(a, axis, start=0):
    """a with one axis rolled back to position start, as numpy.rollaxis.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.rollaxis(Tensor(np.ones((2, 3, 4))), 2).shape
        (4, 2, 3)
    """
    ndim = _ndim(a)
    axis = normalize_axis_index(axis, ndim)
    if start < 0:
        start += ndim
    if not 0 <= start < ndim + 1:
        raise AxisError(f"'start' arg requires {-ndim} <= start < {ndim + 1}, but {start} was passed in")
    if axis < start:
        start -= 1
    axes = list(range(ndim))
    axes.remove(axis)
    axes.insert(start, axis)
    return transpose(a, axes)


def broadcast_to(array, shape, subok=False):
    """array repeated to shape by NumPy's broadcasting rules; its derivative sums the copies back.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.broadcast_to(Tensor([1.0, 2.0]), (2, 2))
        Tensor([[1., 2.],
                [1., 2.]])
    """
    shape = _as_shape(shape)
    array = _operand(array)
    if shape == _shape(array):
        return array
    return BroadcastTo.apply(array, shape=shape)


@_numpy_without_tensors(np.broadcast_arrays)
def broadcast_arrays(*args, subok=False):
    """The arguments broadcast to their common shape, as a tuple (numpy.broadcast_arrays).

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> [x.shape for x in np.broadcast_arrays(Tensor([1.0, 2.0]), np.ones((3, 1)))]
        [(3, 2), (3, 2)]
    """
    args = [_operand(a) for a in args]
    shape = np.broadcast_shapes(*(_shape(a) for a in args))
    return tuple(broadcast_to(a, shape) for a in args)


@_numpy_without_tensors(np.expand_dims)
def expand_dims(a, axis):
    """a with new axes of length 1 at the positions axis (an int or a tuple), as numpy.expand_dims.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.expand_dims(Tensor(np.ones((2, 3))), (0, -1)).shape
        (1, 2, 3, 1)
    """
    a = _operand(a)
    if type(axis) not in (tuple, list):
        axis = (axis,)
    ndim = len(axis) + _ndim(a)
    axis = _axes(axis, ndim)
    lengths = iter(_shape(a))
    return reshape(a, tuple(1 if k in axis else next(lengths) for k in range(ndim)))


@_numpy_without_tensors(np.squeeze)
def squeeze(a, axis=None):
    """a without its axes of length 1 (all of them, or those named), as numpy.squeeze.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.squeeze(Tensor(np.ones((1, 3, 1))), axis=0).shape
        (3, 1)
    """
    a = _operand(a)
    shape = _shape(a)
    if axis is None:
        axes = {k for k, n in enumerate(shape) if n == 1}
    else:
        axes = set(_axes(axis, len(shape)))
        if any(shape[k] != 1 for k in axes):
            raise ValueError("cannot select an axis to squeeze out which has size not equal to one")
    return reshape(a, tuple(n for k, n in enumerate(shape) if k not in axes))


def _one_or_tuple(results):
    return results[0] if len(results) == 1 else tuple(results)


@_numpy_without_tensors(np.atleast_1d)
def atleast_1d(*arys):
    """Each argument with at least one dimension; one argument gives one array, several a tuple.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.atleast_1d(Tensor(2.0))
        Tensor([2.])
    """
    arys = [_operand(a) for a in arys]
    return _one_or_tuple([reshape(a, (1,)) if _ndim(a) == 0 else a for a in arys])


@_numpy_without_tensors(np.atleast_2d)
def atleast_2d(*arys):
    """Each argument with at least two dimensions ((N,) becomes (1, N)), as numpy.atleast_2d.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.atleast_2d(Tensor([1.0, 2.0])).shape
        (1, 2)
    """
    arys = [_operand(a) for a in arys]
    return _one_or_tuple([reshape(a, (1,) * (2 - _ndim(a)) + _shape(a)) if _ndim(a) < 2 else a for a in arys])


@_numpy_without_tensors(np.atleast_3d)
def atleast_3d(*arys):
    """Each argument with at least three dimensions: (N,) becomes (1, N, 1) and (M, N) becomes (M, N, 1).

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.atleast_3d(Tensor([1.0, 2.0])).shape
        (1, 2, 1)
    """
    results = []
    for a in arys:
        a = _operand(a)
        shape = _shape(a)
        if len(shape) == 0:
            a = reshape(a, (1, 1, 1))
        elif len(shape) == 1:
            a = reshape(a, (1, shape[0], 1))
        elif len(shape) == 2:
            a = reshape(a, shape + (1,))
        results.append(a)
    return _one_or_tuple(results)


# --- public functions: joining and splitting ----------------------------------------------------

def _sequence(arrays) -> list:
    # NumPy 2 refuses generators here, so that a one-shot iterator is never consumed by a check.
    if not hasattr(arrays, "__getitem__"):
        raise TypeError('arrays to stack must be passed as a "sequence" type such as list or tuple.')
    return [_operand(a) for a in arrays]


def _cast_all(arrays: list, dtype, casting: str) -> list:
    """The arrays converted to dtype (default: their common type) where casting allows, as NumPy checks."""
    if dtype is None and casting == "same_kind":
        # NumPy's promotion never leaves the kind of its inputs.
        return arrays
    target = np.result_type(*(_raw(a).dtype for a in arrays)) if dtype is None else np.dtype(dtype)
    for a in arrays:
        if not np.can_cast(_raw(a).dtype, target, casting):
            raise TypeError(f"Cannot cast array data from {_raw(a).dtype!r} to {target!r} according to the rule {casting!r}")
    if dtype is None:
        return arrays
    return [a if _raw(a).dtype == target else astype(a, target) for a in arrays]


@_numpy_without_tensors(np.concatenate)
def concatenate(arrays, /, axis=0, out=None, *, dtype=None, casting="same_kind"):
    """Arrays joined along an existing axis (axis=None flattens them first), as numpy.concatenate.

    Each input's derivative is its own slice of the output's.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.concatenate([Tensor([[1.0, 2.0]]), np.array([[3.0]])], axis=1)
        Tensor([[1., 2., 3.]])
    """
    _refuse_out("concatenate", out)
    arrays = [_operand(a) for a in arrays]
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    if axis is None:
        arrays = [ravel(a) for a in arrays]
        axis = 0
    ndim = _ndim(arrays[0])
    if ndim == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    axis = normalize_axis_index(operator.index(axis), ndim)
    return Concatenate.apply(*_cast_all(arrays, dtype, casting), axis=axis)


concat = concatenate


@_numpy_without_tensors(np.stack)
def stack(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    """Arrays of one shape joined along a new axis (negative counts from the end), as numpy.stack.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.stack([Tensor([1.0, 2.0]), np.array([3.0, 4.0])], axis=-1)
        Tensor([[1., 3.],
                [2., 4.]])
    """
    _refuse_out("stack", out)
    arrays = _sequence(arrays)
    if not arrays:
        raise ValueError("need at least one array to stack")
    if len({_shape(a) for a in arrays}) != 1:
        raise ValueError("all input arrays must have the same shape")
    axis = normalize_axis_index(operator.index(axis), _ndim(arrays[0]) + 1)
    return concatenate([expand_dims(a, axis) for a in arrays], axis=axis, dtype=dtype, casting=casting)


def _as_tuple(arrays):
    return arrays if isinstance(arrays, tuple) else (arrays,)


@_numpy_without_tensors(np.hstack)
def hstack(tup, *, dtype=None, casting="same_kind"):
    """Arrays joined column-wise: along axis 1, or axis 0 when they are 1-D (0-d become 1-D), as numpy.hstack.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.hstack([Tensor(1.0), np.array([2.0, 3.0])])
        Tensor([1., 2., 3.])
    """
    arrays = _as_tuple(atleast_1d(*_sequence(tup)))
    axis = 0 if arrays and _ndim(arrays[0]) == 1 else 1
    return concatenate(arrays, axis=axis, dtype=dtype, casting=casting)


@_numpy_without_tensors(np.vstack)
def vstack(tup, *, dtype=None, casting="same_kind"):
    """Arrays joined row-wise, 0-d and 1-d arrays becoming rows, as numpy.vstack.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.vstack([Tensor([1.0, 2.0]), np.array([3.0, 4.0])]).shape
        (2, 2)
    """
    return concatenate(_as_tuple(atleast_2d(*_sequence(tup))), axis=0, dtype=dtype, casting=casting)


def row_stack(tup, *, dtype=None, casting="same_kind"):
    """numpy.row_stack, NumPy's deprecated alias of vstack: it warns as NumPy does.

    Example:
        >>> import warnings
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore", DeprecationWarning)
        ...     np.row_stack([Tensor([1.0, 2.0]), np.array([3.0, 4.0])]).shape
        (2, 2)
    """
    warnings.warn("`row_stack` alias is deprecated. Use `np.vstack` directly.", DeprecationWarning, stacklevel=2)
    return vstack(tup, dtype=dtype, casting=casting)


@_numpy_without_tensors(np.dstack)
def dstack(tup):
    """Arrays joined along the third axis, after atleast_3d, as numpy.dstack.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.dstack([Tensor([1.0, 2.0]), np.array([3.0, 4.0])]).shape
        (1, 2, 2)
    """
    return concatenate(_as_tuple(atleast_3d(*_sequence(tup))), axis=2)


@_numpy_without_tensors(np.column_stack)
def column_stack(tup):
    """1-D arrays as columns (and 2-D ones as they are) joined along axis 1, as numpy.column_stack.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.column_stack([Tensor([1.0, 2.0]), np.array([3.0, 4.0])])
        Tensor([[1., 3.],
                [2., 4.]])
    """
    arrays = []
    for a in _sequence(tup):
        if _ndim(a) < 2:
            a = transpose(reshape(a, (1,) * (2 - _ndim(a)) + _shape(a)))
        arrays.append(a)
    return concatenate(arrays, axis=1)


def _split_points(length: int, indices_or_sections) -> list:
    """The boundaries of numpy.array_split's pieces."""
    try:
        return [0, *indices_or_sections, length]
    except TypeError:
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError("number sections must be larger than 0.") from None
        each, extras = divmod(length, sections)
        sizes = [0] + extras * [each + 1] + (sections - extras) * [each]
        return np.cumsum(sizes).tolist()


@_numpy_without_tensors(np.array_split)
def array_split(ary, indices_or_sections, axis=0):
    """ary split into pieces along axis: at the given indices, or into N near-equal parts (the first
    ones one longer), as numpy.array_split. Returns a list.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> [p.shape for p in np.array_split(Tensor(np.ones(5)), 3)]
        [(2,), (2,), (1,)]
    """
    ary = _operand(ary)
    ndim = _ndim(ary)
    axis = normalize_axis_index(operator.index(axis), ndim)
    bounds = _split_points(_shape(ary)[axis], indices_or_sections)
    lead = (slice(None),) * axis
    return [getitem(ary, lead + (slice(lo, hi),)) for lo, hi in zip(bounds[:-1], bounds[1:])]


@_numpy_without_tensors(np.split)
def split(ary, indices_or_sections, axis=0):
    """ary split along axis at the given indices, or into N equal parts (an error if they are not),
    as numpy.split. Returns a list; each piece's derivative is its slice of ary's.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> [p.shape for p in np.split(Tensor(np.ones((4, 3))), [1, 3])]
        [(1, 3), (2, 3), (1, 3)]
    """
    ary = _operand(ary)
    if np.ndim(indices_or_sections) == 0:
        length = _shape(ary)[axis]
        if length % int(indices_or_sections):
            raise ValueError("array split does not result in an equal division")
    return array_split(ary, indices_or_sections, axis)


@_numpy_without_tensors(np.hsplit)
def hsplit(ary, indices_or_sections):
    """split along axis 1 (axis 0 for 1-D arrays), as numpy.hsplit.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> [p.shape for p in np.hsplit(Tensor(np.ones((2, 4))), 2)]
        [(2, 2), (2, 2)]
    """
    ary = _operand(ary)
    if _ndim(ary) == 0:
        raise ValueError("hsplit only works on arrays of 1 or more dimensions")
    return split(ary, indices_or_sections, 1 if _ndim(ary) > 1 else 0)


@_numpy_without_tensors(np.vsplit)
def vsplit(ary, indices_or_sections):
    """split along axis 0 of an array of at least two dimensions, as numpy.vsplit.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> [p.shape for p in np.vsplit(Tensor(np.ones((4, 2))), [3])]
        [(3, 2), (1, 2)]
    """
    ary = _operand(ary)
    if _ndim(ary) < 2:
        raise ValueError("vsplit only works on arrays of 2 or more dimensions")
    return split(ary, indices_or_sections, 0)


@_numpy_without_tensors(np.dsplit)
def dsplit(ary, indices_or_sections):
    """split along axis 2 of an array of at least three dimensions, as numpy.dsplit.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> [p.shape for p in np.dsplit(Tensor(np.ones((1, 2, 4))), 2)]
        [(1, 2, 2), (1, 2, 2)]
    """
    ary = _operand(ary)
    if _ndim(ary) < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return split(ary, indices_or_sections, 2)


@_numpy_without_tensors(np.unstack)
def unstack(x, /, *, axis=0):
    """The slices of x along axis, as a tuple (numpy.unstack, the inverse of stack).

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> [p.shape for p in np.unstack(Tensor(np.ones((2, 3))), axis=1)]
        [(2,), (2,), (2,)]
    """
    x = _operand(x)
    if _ndim(x) == 0:
        raise ValueError("Input array must be at least 1-d.")
    moved = moveaxis(x, axis, 0)
    return tuple(getitem(moved, k) for k in range(_shape(moved)[0]))


# --- public functions: rearranging and repeating elements ---------------------------------------

@_numpy_without_tensors(np.flip)
def flip(m, axis=None):
    """m with the order of its elements reversed along axis (None: all axes; an int or a tuple), as numpy.flip.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.flip(Tensor([[1.0, 2.0], [3.0, 4.0]]), axis=1)
        Tensor([[2., 1.],
                [4., 3.]])
    """
    m = _operand(m)
    ndim = _ndim(m)
    axes = range(ndim) if axis is None else _axes(axis, ndim)
    if ndim == 0:
        return m
    return getitem(m, tuple(slice(None, None, -1) if k in axes else slice(None) for k in range(ndim)))


@_numpy_without_tensors(np.fliplr)
def fliplr(m):
    """m with its columns (axis 1) in reverse order, as numpy.fliplr.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.fliplr(Tensor([[1.0, 2.0, 3.0]]))
        Tensor([[3., 2., 1.]])
    """
    m = _operand(m)
    if _ndim(m) < 2:
        raise ValueError("Input must be >= 2-d.")
    return flip(m, 1)


@_numpy_without_tensors(np.flipud)
def flipud(m):
    """m with its rows (axis 0) in reverse order, as numpy.flipud.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.flipud(Tensor([1.0, 2.0, 3.0]))
        Tensor([3., 2., 1.])
    """
    m = _operand(m)
    if _ndim(m) < 1:
        raise ValueError("Input must be >= 1-d.")
    return flip(m, 0)


@_numpy_without_tensors(np.rot90)
def rot90(m, k=1, axes=(0, 1)):
    """m rotated by 90 degrees k times in the plane of axes (from the first towards the second), as numpy.rot90.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.rot90(Tensor([[1.0, 2.0], [3.0, 4.0]]))
        Tensor([[2., 4.],
                [1., 3.]])
    """
    axes = tuple(axes)
    if len(axes) != 2:
        raise ValueError("len(axes) must be 2.")
    m = _operand(m)
    ndim = _ndim(m)
    if axes[0] == axes[1] or abs(axes[0] - axes[1]) == ndim:
        raise ValueError("Axes must be different.")
    if not (-ndim <= axes[0] < ndim and -ndim <= axes[1] < ndim):
        raise ValueError(f"Axes={axes} out of range for array of ndim={ndim}.")
    k %= 4
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, axes[0]), axes[1])
    order = list(range(ndim))
    order[axes[0]], order[axes[1]] = order[axes[1]], order[axes[0]]
    if k == 1:
        return transpose(flip(m, axes[1]), order)
    return flip(transpose(m, order), axes[1])


@_numpy_without_tensors(np.roll)
def roll(a, shift, axis=None):
    """a with its elements shifted cyclically along axis (None: the flattened array; shift and axis may be
    tuples), as numpy.roll.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.roll(Tensor([1.0, 2.0, 3.0, 4.0]), 1)
        Tensor([4., 1., 2., 3.])
    """
    a = _operand(a)
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), _shape(a))
    shape = _shape(a)
    axis = normalize_axis_tuple(axis, len(shape), allow_duplicate=True)
    pairs = np.broadcast(shift, axis)
    if pairs.ndim > 1:
        raise ValueError("'shift' and 'axis' should be scalars or 1D sequences")
    shifts = dict.fromkeys(range(len(shape)), 0)
    for step, ax in pairs:
        shifts[ax] += int(step)
    out = a
    for ax, offset in shifts.items():
        offset %= shape[ax] or 1
        if offset:
            lead = (slice(None),) * ax
            out = concatenate([getitem(out, lead + (slice(-offset, None),)),
                               getitem(out, lead + (slice(None, -offset),))], axis=ax)
    return out


@_numpy_without_tensors(np.tile)
def tile(A, reps):
    """A repeated reps times along each axis (A gains leading axes of length 1 if reps is longer), as numpy.tile.

    Computed as a broadcast of A between new axes, so the derivative is a sum over the copies.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.tile(Tensor([1.0, 2.0]), (2, 2))
        Tensor([[1., 2., 1., 2.],
                [1., 2., 1., 2.]])
    """
    try:
        reps = tuple(reps)
    except TypeError:
        reps = (reps,)
    reps = tuple(operator.index(r) for r in reps)
    if any(r < 0 for r in reps):
        raise ValueError("negative dimensions are not allowed")
    A = _operand(A)
    shape = _shape(A)
    shape = (1,) * (len(reps) - len(shape)) + shape
    reps = (1,) * (len(shape) - len(reps)) + reps
    between = tuple(n for length in shape for n in (1, length))
    copies = tuple(n for r, length in zip(reps, shape) for n in (r, length))
    tiled = broadcast_to(reshape(A, between), copies)
    return reshape(tiled, tuple(r * length for r, length in zip(reps, shape)))


@_numpy_without_tensors(np.repeat)
def repeat(a, repeats, axis=None):
    """Each element of a repeated (an int, or one count per element along axis), as numpy.repeat.

    axis=None repeats the elements of the flattened array. An int count is a broadcast (its derivative
    sums the copies); per-element counts gather the elements (the derivative scatter-adds them back).

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.repeat(Tensor([[1.0, 2.0]]), [1, 2], axis=1)
        Tensor([[1., 2., 2.]])
    """
    a = _operand(a)
    if axis is None:
        a = ravel(a)
        axis = 0
    else:
        axis = normalize_axis_index(operator.index(axis), _ndim(a))
    shape = _shape(a)
    repeats = _raw(repeats)
    if np.ndim(repeats) == 0:
        # NumPy's own conversion of the count (floats are truncated, negative counts refused).
        count = np.repeat(np.zeros(1), repeats).size
        copies = broadcast_to(reshape(a, shape[:axis + 1] + (1,) + shape[axis + 1:]),
                              shape[:axis + 1] + (count,) + shape[axis + 1:])
        return reshape(copies, shape[:axis] + (shape[axis] * count,) + shape[axis + 1:])
    positions = np.repeat(np.arange(shape[axis]), repeats)
    return getitem(a, (slice(None),) * axis + (positions,))


@_numpy_without_tensors(np.resize)
def resize(a, new_shape):
    """a's flattened elements repeated cyclically to fill new_shape, as numpy.resize.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.resize(Tensor([1.0, 2.0, 3.0]), (2, 2))
        Tensor([[1., 2.],
                [3., 1.]])
    """
    a = _operand(a)
    positions = np.resize(_positions(a), new_shape)
    if _raw(a).size == 0:
        # NumPy fills with zeros: nothing of a is in the result.
        return np.zeros(positions.shape, dtype=_raw(a).dtype)
    return _gather_flat(a, positions)


# --- public functions: diagonals and triangles ----------------------------------------------------

@_numpy_without_tensors(np.diagonal)
def diagonal(a, offset=0, axis1=0, axis2=1):
    """The diagonal at offset of the matrices in the plane (axis1, axis2), as the last axis (numpy.diagonal).

    Read as a strided slice of the flattened matrices, so the derivative writes into a zero array.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.diagonal(Tensor([[1.0, 2.0], [3.0, 4.0]]), offset=-1)
        Tensor([3.])
    """
    a = _operand(a)
    ndim = _ndim(a)
    if ndim < 2:
        raise ValueError("diag requires an array of at least two dimensions")
    axis1 = normalize_axis_index(axis1, ndim, "axis1")
    axis2 = normalize_axis_index(axis2, ndim, "axis2")
    if axis1 == axis2:
        raise ValueError("axis1 and axis2 cannot be the same")
    offset = operator.index(offset)
    moved = moveaxis(a, (axis1, axis2), (-2, -1))
    *lead, rows, cols = _shape(moved)
    if offset >= 0:
        length, start = max(0, min(rows, cols - offset)), offset
    else:
        length, start = max(0, min(rows + offset, cols)), -offset * cols
    flat = reshape(moved, (*lead, rows * cols))
    return getitem(flat, (Ellipsis, slice(start, start + length * (cols + 1), cols + 1)))


@_numpy_without_tensors(np.trace)
def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """The sum of the diagonal at offset (over the plane axis1, axis2), as numpy.trace.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.trace(Tensor([[1.0, 2.0], [3.0, 4.0]]))
        Tensor(5.)
    """
    _refuse_out("trace", out)
    values = diagonal(a, offset, axis1, axis2)
    if dtype is not None:
        values = astype(values, dtype)
    return _sum(values, axis=-1)


def _matrix_of_diagonal(v, k: int):
    """The (n + |k|) square matrix with the 1-D v on its k-th diagonal, zero elsewhere (numpy.diag)."""
    length = _shape(v)[0]
    n = length + abs(k)
    start = k if k >= 0 else -k * n
    return reshape(scatter_add(v, slice(start, start + length * (n + 1), n + 1), (n * n,)), (n, n))


@_numpy_without_tensors(np.diag)
def diag(v, k=0):
    """For 1-D v the square matrix with v on its k-th diagonal; for 2-D v its k-th diagonal (numpy.diag).

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.diag(Tensor([1.0, 2.0]), k=1)
        Tensor([[0., 1., 0.],
                [0., 0., 2.],
                [0., 0., 0.]])
    """
    v = _operand(v)
    if _ndim(v) == 1:
        return _matrix_of_diagonal(v, operator.index(k))
    if _ndim(v) == 2:
        return diagonal(v, k)
    raise ValueError("Input must be 1- or 2-d.")


@_numpy_without_tensors(np.diagflat)
def diagflat(v, k=0):
    """The square matrix with the flattened v on its k-th diagonal, as numpy.diagflat.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.diagflat(Tensor([[1.0, 2.0]]))
        Tensor([[1., 0.],
                [0., 2.]])
    """
    return _matrix_of_diagonal(ravel(_operand(v)), operator.index(k))


@_numpy_without_tensors(np.tril)
def tril(m, k=0):
    """m with the elements above its k-th diagonal set to zero (over the last two axes), as numpy.tril.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.tril(Tensor([[1.0, 2.0], [3.0, 4.0]]))
        Tensor([[1., 0.],
                [3., 4.]])
    """
    m = _operand(m)
    keep = np.tri(*_shape(m)[-2:], k=k, dtype=bool)
    return where(keep, m, np.zeros(1, _raw(m).dtype))


@_numpy_without_tensors(np.triu)
def triu(m, k=0):
    """m with the elements below its k-th diagonal set to zero (over the last two axes), as numpy.triu.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.triu(Tensor([[1.0, 2.0], [3.0, 4.0]]), k=1)
        Tensor([[0., 2.],
                [0., 0.]])
    """
    m = _operand(m)
    drop = np.tri(*_shape(m)[-2:], k=k - 1, dtype=bool)
    return where(drop, np.zeros(1, _raw(m).dtype), m)


# --- public functions: padding and indexing -----------------------------------------------------

# Modes of numpy.pad that only copy elements of the array: the Pad primitive's gathers along each axis
# (PyTorch's reflect, replicate and circular padding are reflect, edge and wrap).
_COPYING_PAD_MODES = ("edge", "wrap", "reflect", "symmetric")


def pad(array, pad_width, mode="constant", **kwargs):
    """array padded along each axis, as numpy.pad.

    mode="constant" (constant_values may be per axis and side, and may be Tensors: the result is
    differentiable in them too), "edge", "wrap", "reflect" and "symmetric" (reflect_type="even") are
    supported; "empty" pads with zeros, which is one of its undefined values. The statistical and ramp
    modes and reflect_type="odd" are refused by name.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.pad(Tensor([1.0, 2.0, 3.0]), (2, 1), mode="reflect")
        Tensor([3., 2., 1., 2., 3., 2.])
    """
    array = _operand(array)
    if mode == "empty" and not kwargs:
        mode = "constant"
    if mode == "constant":
        unknown = set(kwargs) - {"constant_values"}
        if unknown:
            raise ValueError(f"unsupported keyword arguments for mode 'constant': {sorted(unknown)}")
        constant_values = kwargs.get("constant_values", 0)
        if _has_tensor(constant_values) or np.size(constant_values) != 1:
            return _pad_with_values(array, pad_width, _operand(constant_values))
        return Pad.apply(array, pad_width=_pad_widths(array, pad_width), constant_values=np.ravel(constant_values)[0],
                         mode="constant")
    if mode not in _COPYING_PAD_MODES:
        raise ValueError(f"pad: mode={mode!r} is not supported by nablanet (supported: 'constant', 'empty', "
                         f"{', '.join(repr(m) for m in _COPYING_PAD_MODES)})")
    if kwargs.get("reflect_type", "even") != "even":
        raise ValueError("pad: reflect_type='odd' is not supported by nablanet; use the default 'even'")
    unknown = set(kwargs) - {"reflect_type"} if mode in ("reflect", "symmetric") else set(kwargs)
    if unknown:
        raise ValueError(f"unsupported keyword arguments for mode '{mode}': {sorted(unknown)}")
    widths = _pad_widths(array, pad_width)
    if any(n == 0 and (before or after) for n, (before, after) in zip(_shape(array), widths)):
        raise ValueError(f"can't extend empty axis using modes other than 'constant' or 'empty' (pad: mode={mode!r})")
    return Pad.apply(array, pad_width=widths, constant_values=0, mode=mode)


def _pad_widths(array, pad_width) -> tuple:
    """One (before, after) pair of non-negative ints per axis, read as numpy.pad reads pad_width (rounded)."""
    widths = np.broadcast_to(np.round(np.asarray(pad_width)).astype(np.intp), (_ndim(array), 2))
    if np.any(widths < 0):
        raise ValueError("index can't contain negative values")
    return tuple((int(before), int(after)) for before, after in widths)


def _as_pairs(values, ndim: int):
    """values as an (ndim, 2) array of (before, after) per axis, read as numpy.pad reads constant_values."""
    size = math.prod(_shape(values))
    if _ndim(values) < 3 and size == 1:
        values = reshape(values, ())
    elif _ndim(values) < 3 and size == 2 and _shape(values) != (2, 1):
        values = ravel(values)
    return broadcast_to(values, (ndim, 2))


def _pad_with_values(x, pad_width, values):
    """Constant padding with per-axis values: a gather from x's elements followed by the 2 ndim values.

    numpy.pad on the positions, with the labels -1, -2, ... as the constants, says which value lands
    where (later axes cover the corners, as in NumPy).
    """
    ndim = _ndim(x)
    labels = -1 - np.arange(2 * ndim).reshape(ndim, 2)
    positions = np.pad(_positions(x), pad_width, mode="constant", constant_values=labels)
    size = _raw(x).size
    positions = np.where(positions >= 0, positions, size - 1 - positions)
    dtype = _raw(x).dtype
    values = _as_pairs(values, ndim)
    values = values if _raw(values).dtype == dtype else astype(values, dtype)
    return getitem(concatenate([ravel(x), ravel(values)]), positions)


def getitem(x, index):
    """x[index]: basic slicing, integer-array and boolean-mask indexing (NumPy's rules).

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.getitem(Tensor([[1.0, 2.0], [3.0, 4.0]]), (slice(None), [1, 1]))
        Tensor([[2., 2.],
                [4., 4.]])
    """
    return GetItem.apply(x, index=_normalize_index(index))


def scatter_add(x, index, shape):
    """zeros(shape) with x added at index; repeated indices accumulate (numpy.add.at). The transpose of x[index].

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.scatter_add(Tensor([1.0, 2.0, 3.0]), np.array([0, 2, 0]), (3,))
        Tensor([4., 0., 2.])
    """
    return ScatterAdd.apply(x, index=_normalize_index(index), shape=tuple(shape))


def _along(axis: int, ndim: int, length: int) -> np.ndarray:
    """arange(length) laid along axis of an otherwise length-1 array: NumPy's indexing functions applied to it
    give the positions they pick, with their own errors (which name the axis and its length)."""
    return np.arange(length).reshape((1,) * axis + (length,) + (1,) * (ndim - axis - 1))


@_numpy_without_tensors(np.take)
def take(a, indices, axis=None, out=None, mode="raise"):
    """Elements of a at indices along axis (None: of the flattened a), as numpy.take.

    mode="raise" refuses indices out of range (negative ones count from the end), "wrap" wraps them
    around and "clip" clips them to the range.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.take(Tensor([1.0, 2.0, 3.0]), [[0, 5]], mode="wrap")
        Tensor([[1., 3.]])
    """
    _refuse_out("take", out)
    indices = _raw(indices)
    return _pick_along(a, axis, lambda along, k: np.take(along, indices, axis=k, mode=mode), np.shape(indices))


def _pick_along(a, axis, numpy_pick, index_shape):
    """a's slices along axis (None: the elements of the flattened a) at the positions that numpy_pick, NumPy's
    function applied to the positions laid along that axis, selects (with its own checks and errors)."""
    a = _operand(a)
    if axis is None:
        a = ravel(a)
        axis = 0
    ndim = _ndim(a)
    axis = normalize_axis_index(operator.index(axis), ndim)
    positions = numpy_pick(_along(axis, ndim, _shape(a)[axis]), axis)
    return getitem(a, (slice(None),) * axis + (positions.reshape(index_shape),))


def _along_axis_index(shape: tuple, indices: np.ndarray, axis: int) -> tuple:
    """The integer-array index that picks indices along axis and every position along the others (NumPy's)."""
    if not np.issubdtype(indices.dtype, np.integer):
        raise IndexError("`indices` must be an integer array")
    if len(shape) != indices.ndim:
        raise ValueError("`indices` and `arr` must have the same number of dimensions")
    length = shape[axis]
    if np.any((indices < -length) | (indices >= length)):
        bad = indices[(indices < -length) | (indices >= length)].flat[0]
        raise IndexError(f"index {bad} is out of bounds for axis {axis} with size {length}")
    index = []
    for k, n in enumerate(shape):
        if k == axis:
            index.append(indices)
        else:
            index.append(np.arange(n).reshape((1,) * k + (-1,) + (1,) * (indices.ndim - k - 1)))
    return tuple(index)


@_numpy_without_tensors(np.take_along_axis)
def take_along_axis(arr, indices, axis=-1):
    """Elements of arr picked by indices along axis, all others kept aligned, as numpy.take_along_axis.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.take_along_axis(Tensor([[1.0, 2.0], [3.0, 4.0]]), np.array([[1], [0]]), axis=1)
        Tensor([[2.],
                [3.]])
    """
    arr = _operand(arr)
    indices = np.asarray(_raw(indices))
    if axis is None:
        if indices.ndim != 1:
            raise ValueError("when axis=None, `indices` must have a single dimension.")
        arr = ravel(arr)
        axis = 0
    else:
        axis = normalize_axis_index(axis, _ndim(arr))
    return getitem(arr, _along_axis_index(_shape(arr), indices, axis))


@_numpy_without_tensors(np.put_along_axis)
def put_along_axis(arr, indices, values, axis):
    """numpy.put_along_axis writes into arr in place: refused for Tensors, which are immutable.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.put_along_axis(Tensor([1.0, 2.0]), np.array([0]), 5.0, axis=0)
        Traceback (most recent call last):
        ...
        TypeError: put_along_axis writes into its argument in place, ...
    """
    raise TypeError(
        "put_along_axis writes into its argument in place, which a Tensor does not allow (it would break "
        "recorded derivatives); build the result instead, e.g. where(mask, new_values, arr) with a boolean "
        "mask of the positions, or arr + scatter_add(values - take_along_axis(arr, indices, axis), index, arr.shape)"
    )


@_numpy_without_tensors(np.choose)
def choose(a, choices, out=None, mode="raise"):
    """choices[a[i]][i] elementwise, all broadcast together, as numpy.choose.

    The index array a is a constant; the result is differentiable in the choices.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.choose(np.array([0, 1, 0]), [Tensor([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0])])
        Tensor([ 1., 20.,  3.])
    """
    _refuse_out("choose", out)
    index = np.asarray(_raw(a)).astype(np.intp, casting="safe")
    choices = [_operand(c) for c in choices]
    count = len(choices)
    if mode == "raise":
        if np.any((index < 0) | (index >= count)):
            raise ValueError("invalid entry in choice array")
    elif mode == "wrap":
        index = index % count
    elif mode == "clip":
        index = np.clip(index, 0, count - 1)
    else:
        raise ValueError(f"clipmode must be one of 'clip', 'raise', or 'wrap' (got {mode!r})")
    dtype = np.result_type(*(_raw(c) for c in choices))
    shape = np.broadcast_shapes(index.shape, *(_shape(c) for c in choices))
    out = broadcast_to(_converted(choices[-1], dtype), shape)
    for k in range(count - 2, -1, -1):
        out = where(index == k, _converted(choices[k], dtype), out)
    return out


def _converted(x, dtype):
    """x in dtype: Python numbers and arrays converted, Tensors cast with astype (refusing what loses its
    derivative)."""
    if traced(x):
        return x if x.dtype == dtype else astype(x, dtype)
    return np.asarray(x, dtype=dtype)


@_numpy_without_tensors(np.select)
def select(condlist, choicelist, default=0):
    """At each position, the choice of the first true condition (default where none is), as numpy.select.

    The conditions are constants; the result is differentiable in the choices and the default.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> x = Tensor([-1.0, 0.5, 2.0])
        >>> np.select([x.numpy() < 0, x.numpy() > 1], [-x, x * 10.0], default=x)
        Tensor([ 1. ,  0.5, 20. ])
    """
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    if len(condlist) == 0:
        raise ValueError("select with an empty condition list is not possible")
    # Python numbers stay Python numbers for the promotion, as in NumPy (NEP 50: they do not upcast).
    choices = [c if type(c) in (int, float, complex) else _operand(c) for c in [*choicelist, default]]
    try:
        dtype = np.result_type(*(c if type(c) in (int, float, complex) else _raw(c) for c in choices))
    except TypeError as err:
        raise TypeError(f"Choicelist and default value do not have a common dtype: {err}") from None
    conditions = [np.asarray(_raw(c)) for c in condlist]
    for k, condition in enumerate(conditions):
        if condition.dtype.type is not np.bool_:
            raise TypeError(f"invalid entry {k} in condlist: should be boolean ndarray")
    shape = np.broadcast_shapes(*(c.shape for c in conditions), *(np.shape(_raw(c)) for c in choices))
    out = broadcast_to(_converted(choices[-1], dtype), shape)
    for condition, choice in zip(conditions[::-1], choices[-2::-1]):
        out = where(condition, _converted(choice, dtype), out)
    return out


@_numpy_without_tensors(np.piecewise)
def piecewise(x, condlist, funclist, *args, **kw):
    """funclist[k](x[condlist[k]]) (or the constant funclist[k]) where condlist[k] holds, 0 elsewhere; one
    function more than conditions is the "otherwise" case; later conditions win. As numpy.piecewise.

    The conditions are constants; the result is differentiable in x through the functions, and in
    constants given as Tensors. Each function's values are placed with a scatter, converted to x's dtype.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import grad
        >>> f = lambda x: np.sum(np.piecewise(x, [x.numpy() < 0], [lambda v: -v, lambda v: v ** 2]))
        >>> grad(f)(np.array([-1.0, 3.0]))
        array([-1.,  6.])
    """
    x = _operand(x)
    if _ndim(x) == 0:
        conditions = np.asarray(_values(condlist), dtype=bool).reshape(-1, 1)
        return reshape(piecewise(reshape(x, (1,)), list(conditions), funclist, *args, **kw), ())
    if np.isscalar(condlist) or not isinstance(condlist[0], (list, np.ndarray, Tensor)):
        condlist = [condlist]
    conditions = np.asarray(_values(condlist), dtype=bool)
    if len(conditions) == len(funclist) - 1:
        conditions = np.concatenate([conditions, ~np.any(conditions, axis=0, keepdims=True)], axis=0)
    elif len(conditions) != len(funclist):
        raise ValueError(f"with {len(conditions)} condition(s), either {len(conditions)} or {len(conditions) + 1} "
                         "functions are expected")
    shape, dtype = _shape(x), _raw(x).dtype
    out = np.zeros(shape, dtype=dtype)
    for condition, function in zip(conditions, funclist):
        if not callable(function):
            out = where(condition, _converted(function, dtype), out)
            continue
        picked = getitem(x, condition)
        if _shape(picked)[0] == 0:
            continue
        values = broadcast_to(_converted(_operand(function(picked, *args, **kw)), dtype), _shape(picked))
        out = where(condition, scatter_add(values, np.nonzero(np.broadcast_to(condition, shape)), shape), out)
    return out


@_numpy_without_tensors(np.compress)
def compress(condition, a, axis=None, out=None):
    """The slices of a along axis (None: elements of the flattened a) where condition is true, as numpy.compress.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.compress([False, True], Tensor([[1.0, 2.0], [3.0, 4.0]]), axis=0)
        Tensor([[3., 4.]])
    """
    _refuse_out("compress", out)
    condition = _raw(condition)
    return _pick_along(a, axis, lambda along, k: np.compress(condition, along, axis=k), (-1,))


@_numpy_without_tensors(np.extract)
def extract(condition, arr):
    """The elements of arr where condition is true, flattened, as numpy.extract.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> x = Tensor([[1.0, -2.0], [-3.0, 4.0]])
        >>> np.extract(x.numpy() > 0, x)
        Tensor([1., 4.])
    """
    return take(ravel(_operand(arr)), np.nonzero(np.ravel(_raw(condition)))[0])


# Imported last: reduce builds on this module's reshape and broadcast_to.
from nablanet.autodiff.ops.reduce import sum as _sum  # noqa: E402
