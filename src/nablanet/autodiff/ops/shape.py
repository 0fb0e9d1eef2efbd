"""Shape primitives: reshape, transpose, broadcast_to, concatenate, pad, indexing and its transpose."""

from __future__ import annotations

import numpy as np

from nablanet.autodiff import batching
from nablanet.autodiff.op import Op, register

__all__ = [
    "reshape", "transpose", "swapaxes", "moveaxis", "broadcast_to", "expand_dims", "squeeze", "ravel",
    "concatenate", "stack", "hstack", "vstack", "split", "pad", "getitem", "take", "scatter_add",
]


def _raw(x):
    return x._data if hasattr(x, "_data") else np.asarray(x)


class _ShapeOp(Op):
    """Shape ops move or copy numbers but do no arithmetic."""

    def flops(out, *inputs, **settings):
        return 0


@register
class Reshape(_ShapeOp):
    """z = x with a new shape (same elements in C order)."""

    def batch(cls, values, batched, *, shape):
        return batching.call_op(cls, values, {"shape": (np.shape(values[0])[0], *shape)})

    def forward(x, *, shape):
        return np.reshape(x, shape)

    def vjp(grad_out, out, x, *, shape):
        return (reshape(grad_out, np.shape(_raw(x))),)

    def jvp(x_dot, out, x, *, shape):
        return reshape(x_dot, shape)


@register
class Transpose(_ShapeOp):
    """z = x with its axes permuted; the gradient is permuted back."""

    def batch(cls, values, batched, *, axes):
        return batching.call_op(cls, values, {"axes": (0, *(a + 1 for a in axes))})

    def forward(x, *, axes):
        return np.transpose(x, axes)

    def vjp(grad_out, out, x, *, axes):
        return (transpose(grad_out, tuple(np.argsort(axes))),)

    def jvp(x_dot, out, x, *, axes):
        return transpose(x_dot, axes)


@register
class BroadcastTo(_ShapeOp):
    """z = x repeated to a larger shape; the engine sums the gradient back to x's shape."""

    def batch(cls, values, batched, *, shape):
        x = batching.align(values[0], True, len(shape))
        return batching.call_op(cls, [x], {"shape": (np.shape(x)[0], *shape)})

    name = "broadcast_to"

    def forward(x, *, shape):
        return np.broadcast_to(x, shape)

    def vjp(grad_out, out, x, *, shape):
        return (grad_out,)

    def jvp(x_dot, out, x, *, shape):
        return broadcast_to(x_dot, shape)


@register
class Concatenate(_ShapeOp):
    """z = [x_1, x_2, ...] joined along axis; each gets its own slice of the gradient."""

    def batch(cls, values, batched, *, axis):
        length = next(np.shape(v)[0] for v, b in zip(values, batched) if b)
        values = [v if b else broadcast_to(v, (length, *np.shape(_raw(v)))) for v, b in zip(values, batched)]
        return batching.call_op(cls, values, {"axis": axis + 1})

    def forward(*xs, axis):
        return np.concatenate(xs, axis=axis)

    def vjp(grad_out, out, *xs, axis):
        bounds = np.cumsum([0] + [np.shape(_raw(x))[axis] for x in xs])
        lead = (slice(None),) * axis
        return tuple(getitem(grad_out, lead + (slice(lo, hi),)) for lo, hi in zip(bounds[:-1], bounds[1:]))

    def jvp(*dots_out_inputs, axis):
        # Arguments are the n input tangents, the output, then the n inputs.
        n = len(dots_out_inputs) // 2
        return concatenate(dots_out_inputs[:n], axis=axis)


@register
class Pad(_ShapeOp):
    """z = x surrounded by a constant; the gradient is the inner slice."""

    def batch(cls, values, batched, *, pad_width, constant_values):
        return batching.call_op(cls, values, {"pad_width": ((0, 0), *pad_width), "constant_values": constant_values})

    def forward(x, *, pad_width, constant_values):
        # In x's own memory order (np.pad always returns C order): a channels-last activation stays so.
        x = np.asarray(x)
        shape = tuple(n + before + after for n, (before, after) in zip(x.shape, pad_width))
        out = np.full_like(x, constant_values, shape=shape)
        out[tuple(slice(before, before + n) for n, (before, _) in zip(x.shape, pad_width))] = x
        return out

    def vjp(grad_out, out, x, *, pad_width, constant_values):
        inner = tuple(slice(before, before + n) for (before, _), n in zip(pad_width, np.shape(_raw(x))))
        return (getitem(grad_out, inner),)

    def jvp(x_dot, out, x, *, pad_width, constant_values):
        return pad(x_dot, pad_width)


@register
class GetItem(_ShapeOp):
    """z = x[index], basic or integer-array indexing. Its VJP scatters (adds) the gradient back."""

    def batch(cls, values, batched, *, index):
        batched_index = _index_past_batch(index)
        if batched_index is None:
            return None
        return batching.call_op(cls, values, {"index": batched_index})

    def forward(x, *, index):
        return x[index]

    def vjp(grad_out, out, x, *, index):
        return (scatter_add(grad_out, index, np.shape(_raw(x))),)

    def jvp(x_dot, out, x, *, index):
        return getitem(x_dot, index)


@register
class ScatterAdd(_ShapeOp):
    """z = zeros(shape) with x added at index (repeated indices accumulate): the transpose of x[index]."""

    def batch(cls, values, batched, *, index, shape):
        batched_index = _index_past_batch(index)
        if batched_index is None:
            return None
        return batching.call_op(cls, values, {"index": batched_index, "shape": (np.shape(values[0])[0], *shape)})

    name = "scatter_add"

    def forward(x, *, index, shape):
        dtype = np.result_type(x)
        out = np.zeros(shape, dtype=dtype)
        if _is_basic(index):
            out[index] = x
        else:
            np.add.at(out, index, x)
        return out

    def vjp(grad_out, out, x, *, index, shape):
        return (getitem(grad_out, index),)

    def jvp(x_dot, out, x, *, index, shape):
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


# --- public functions ---------------------------------------------------------------------------

def reshape(x, shape):
    """x with a new shape; one dimension may be -1."""
    shape = (shape,) if np.ndim(shape) == 0 else tuple(int(n) for n in shape)
    if shape == np.shape(_raw(x)):
        return x
    return Reshape.apply(x, shape=shape)


def ravel(x):
    """x flattened to one dimension."""
    return reshape(x, (-1,))


def transpose(x, axes=None):
    """x with axes permuted (default: reversed)."""
    ndim = np.ndim(_raw(x))
    axes = tuple(range(ndim))[::-1] if axes is None else tuple(int(a) % (ndim or 1) for a in axes)
    if axes == tuple(range(ndim)):
        return x
    return Transpose.apply(x, axes=axes)


def swapaxes(x, axis1, axis2):
    """x with two axes exchanged."""
    axes = list(range(np.ndim(_raw(x))))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(x, axes)


def moveaxis(x, source, destination):
    """x with one axis moved to a new position."""
    ndim = np.ndim(_raw(x))
    order = [a for a in range(ndim) if a != source % ndim]
    order.insert(destination % ndim, source % ndim)
    return transpose(x, order)


def broadcast_to(x, shape):
    """x repeated to shape by NumPy's broadcasting rules."""
    shape = tuple(shape)
    if shape == np.shape(_raw(x)):
        return x
    return BroadcastTo.apply(x, shape=shape)


def expand_dims(x, axis):
    """x with a new axis of length 1 at position axis."""
    shape = list(np.shape(_raw(x)))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    ndim = len(shape) + len(axes)
    for a in sorted(a % ndim for a in axes):
        shape.insert(a, 1)
    return reshape(x, tuple(shape))


def squeeze(x, axis=None):
    """x without axes of length 1 (all of them, or those named)."""
    shape = np.shape(_raw(x))
    if axis is None:
        axes = {i for i, n in enumerate(shape) if n == 1}
    else:
        axes = {a % len(shape) for a in ((axis,) if np.ndim(axis) == 0 else axis)}
        for a in axes:
            if shape[a] != 1:
                raise ValueError(f"squeeze: axis {a} has length {shape[a]}, not 1")
    return reshape(x, tuple(n for i, n in enumerate(shape) if i not in axes))


def concatenate(arrays, axis=0):
    """Join arrays along an existing axis."""
    arrays = tuple(arrays)
    if not arrays:
        raise ValueError("concatenate: need at least one array")
    ndim = np.ndim(_raw(arrays[0]))
    return Concatenate.apply(*arrays, axis=int(axis) % (ndim or 1))


def stack(arrays, axis=0):
    """Join arrays along a new axis."""
    return concatenate([expand_dims(a, axis) for a in arrays], axis=axis)


def hstack(arrays):
    """Join arrays column-wise (along axis 1, or 0 for 1-D arrays)."""
    arrays = tuple(arrays)
    return concatenate(arrays, axis=0 if np.ndim(_raw(arrays[0])) == 1 else 1)


def vstack(arrays):
    """Join arrays row-wise, 1-D arrays becoming rows."""
    return concatenate([reshape(a, (1, -1)) if np.ndim(_raw(a)) == 1 else a for a in arrays], axis=0)


def split(x, indices_or_sections, axis=0):
    """Split x into pieces along axis, as numpy.split."""
    length = np.shape(_raw(x))[axis]
    if np.ndim(indices_or_sections) == 0:
        sections = int(indices_or_sections)
        if length % sections:
            raise ValueError(f"split: an axis of length {length} does not divide into {sections} equal parts")
        bounds = list(range(0, length + 1, length // sections))
    else:
        bounds = [0, *indices_or_sections, length]
    lead = (slice(None),) * (axis % np.ndim(_raw(x)))
    return [getitem(x, lead + (slice(lo, hi),)) for lo, hi in zip(bounds[:-1], bounds[1:])]


def pad(x, pad_width, mode="constant", constant_values=0):
    """x padded with a constant (numpy.pad's pad_width forms are accepted)."""
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is differentiable in nablanet, got mode={mode!r}")
    ndim = np.ndim(_raw(x))
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (ndim, 2))
    widths = tuple((int(before), int(after)) for before, after in widths)
    return Pad.apply(x, pad_width=widths, constant_values=constant_values)


def getitem(x, index):
    """x[index]: basic slicing or integer/boolean array indexing."""
    return GetItem.apply(x, index=_normalize_index(index))


def take(x, indices, axis=None):
    """Elements of x at indices along axis (flattened x when axis is None), as numpy.take."""
    indices = np.asarray(_raw(indices))
    if axis is None:
        return getitem(ravel(x), indices)
    axis = axis % np.ndim(_raw(x))
    return getitem(x, (slice(None),) * axis + (indices,))


def scatter_add(x, index, shape):
    """zeros(shape) with x added at index; repeated indices accumulate (numpy.add.at)."""
    return ScatterAdd.apply(x, index=_normalize_index(index), shape=tuple(shape))
