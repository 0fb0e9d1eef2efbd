"""Pooling kernels over non-overlapping windows: strided passes in the input's memory order, whole runs moved at once.

Their large arrays come from ``workspace`` (memory freed by earlier steps, not fresh pages).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from nablanet.kernels import workspace

__all__ = ["window_slices", "max_pool", "avg_pool", "select", "first_max_choice", "spread", "run_axis",
           "SHORT_RUN_BYTES"]


@functools.lru_cache(maxsize=64)
def window_slices(kernel) -> tuple:
    """For every offset inside a window (row-major), the strided slice of x (N, C, *spatial) holding
    that offset of every window. Computed once per kernel: the pooling kernels ask for them a few
    times per step."""
    return tuple((slice(None), slice(None)) + tuple(slice(o, None, k) for o, k in zip(offset, kernel))
                 for offset in itertools.product(*(range(k) for k in tuple(kernel))))


def max_pool(x, kernel):
    """The maximum of each window of x (N, C, *spatial) -> (N, C, *windows), in x's memory order.

    A running maximum over the prod(kernel) strided slices: no patch matrix. order="K" keeps x's
    memory order (channels-last after a convolution) for fast strided passes. One pass per offset
    reads x once, while a convolution has just left it in cache; reducing one kernel axis at a time
    has longer contiguous runs but writes and rereads an intermediate half the size of x, which
    is faster on a warm micro-benchmark and slower inside a training step.
    """
    slices = iter(window_slices(tuple(kernel)))
    first = x[next(slices)]
    out = workspace.empty_like(first)
    np.copyto(out, first)
    for index in slices:
        np.maximum(out, x[index], out=out)
    return out


def avg_pool(x, kernel):
    """The mean of each window of x (N, C, *spatial): a sum of the strided slices, as max_pool."""
    slices = iter(window_slices(tuple(kernel)))
    out = np.array(x[next(slices)], copy=True, order="K")
    for index in slices:
        out += x[index]
    out *= out.dtype.type(1.0 / np.prod(kernel))
    return out


def select(x, kernel, choice):
    """x at the chosen offset of each window: sum over offsets o of [choice == o] x[o].

    One multiply by a mask per offset, the booleans viewed as uint8 (float * uint8 converts
    faster than float * bool).
    """
    selected = np.zeros_like(choice, dtype=x.dtype)
    term = np.empty_like(selected)
    for k, index in enumerate(window_slices(tuple(kernel))):
        np.multiply(x[index], np.equal(choice, k).view(np.uint8), out=term)
        selected += term
    return selected


def in_memory_order_of(a, like):
    """a, or a copy of it laid out in memory as ``like`` is (same shape, a's dtype).

    Gradients arrive in whatever layout the next op produced (C order from a flatten, a cropped
    view of a padded image); a ufunc whose operands disagree on the memory order walks one of them
    against its grain in short runs. One copy of the small pooled array costs much less.
    """
    arranged = workspace.empty_like(like, dtype=a.dtype)
    if a.strides == arranged.strides:
        return a
    np.copyto(arranged, a)
    return arranged


# Runs up to this many bytes (16 float32 channels) are moved whole by first_max_choice and spread;
# longer runs gain nothing from it (benchmarks/README.md, "Kernels").
SHORT_RUN_BYTES = 64


def run_axis(*arrays):
    """The batch or channel axis if it is the innermost, contiguous axis of every array and short, else None.

    A convolution's output is channels-last in memory: each window offset's values then come in
    runs of C contiguous values, between the runs of the window's other offsets.
    """
    for axis in (1, 0):
        if all(1 < a.shape[axis] and a.strides[axis] == a.itemsize and a.shape[axis] * a.itemsize <= SHORT_RUN_BYTES
               for a in arrays):
            return axis
    return None


def _runs(a, axis):
    """a with its innermost, contiguous ``axis`` folded away: each run of values along it is one element.

    The elements are opaque (NumPy void) blocks of a.shape[axis] * itemsize bytes, so a strided
    selection of whole runs is copied in one pass of block moves, where a ufunc would restart its
    inner loop for every run (most of the cost of a strided pass when C is 16).

    Shape: (N, C, *spatial) -> the other axes in order, (N, *spatial) for axis 1.
    """
    moved = a.transpose([other for other in range(a.ndim) if other != axis] + [axis])
    return moved.view(np.dtype((np.void, moved.shape[-1] * a.itemsize)))[..., 0]


def first_max_choice(x, out, kernel):
    """For every window, the offset (row-major index inside the window) of its first maximum.

    x (N, C, *spatial) and out = max_pool(x, kernel) (N, C, *windows) -> (N, C, *windows), an
    unsigned integer type. Ties (all-zero windows after a ReLU) choose the first maximum. A window
    without any element equal to its maximum (one holding a NaN) gets prod(kernel), an offset no
    element has.

    The index is the number of leading offsets that are not a maximum, counted pass by pass (the
    last offset needs no pass): only the reads of x are strided, every other pass runs over
    contiguous arrays in the memory order of ``out``. When x is channels-last (or batch-last) in
    memory, each offset's values are first gathered in whole runs of channels (see _runs). One
    small integer array replaces a boolean mask per offset.
    """
    n_offsets = int(np.prod(kernel))
    choice = workspace.empty_like(out, dtype=np.min_scalar_type(n_offsets))
    choice.fill(0)
    slices = window_slices(tuple(kernel))
    missed = workspace.empty_like(out, dtype=bool)
    still_missed = workspace.empty_like(missed)
    axis = run_axis(x, out)
    if axis is not None:
        gathered = workspace.empty_like(out)
        x_runs, gathered_runs = _runs(x, axis), _runs(gathered, axis)
    for k, index in enumerate(slices[:-1]):
        if axis is None:
            values = x[index]
        else:
            # The folded axis is one of the two leading full slices, so dropping one leaves the rest.
            np.copyto(gathered_runs, x_runs[index[1:]])
            values = gathered
        np.not_equal(values, out, out=missed if k == 0 else still_missed)
        if k > 0:
            np.logical_and(missed, still_missed, out=missed)
        # Booleans are bytes 0 and 1: viewed as uint8 they add without a conversion pass.
        np.add(choice, missed.view(np.uint8), out=choice)
    if out.dtype.kind in "fc":
        # All offsets missed means the last one is the maximum, unless none is (a NaN window).
        np.add(choice, np.isnan(out).view(np.uint8), out=choice)
    return choice


def spread(g, choice, kernel, shape):
    """An array of ``shape`` (N, C, *spatial) holding g (N, C, *windows) at each window's chosen
    offset and zeros elsewhere: the transpose of select.

    Everything in the memory order of ``choice`` (that of the pooled input; channels-last after a
    convolution): the gradient is rearranged once if it arrives in another layout, and the result
    is allocated in that order. The offsets partition the array, so every element is written
    exactly once (no zero fill): straight into its strided place by the multiply, or, when the
    channels (or the batch) are innermost in memory, multiplied contiguously and then moved into
    place in whole runs (see _runs).
    """
    g = in_memory_order_of(g, choice)
    result = workspace.empty_like(choice, dtype=g.dtype, shape=shape)
    chosen = workspace.empty_like(choice, dtype=bool)
    axis = run_axis(g, result)
    if axis is not None:
        part = workspace.empty_like(g)
        part_runs, result_runs = _runs(part, axis), _runs(result, axis)
    for k, index in enumerate(window_slices(tuple(kernel))):
        np.equal(choice, k, out=chosen)
        # Booleans viewed as uint8: float * uint8 is converted faster than float * bool.
        if axis is None:
            np.multiply(g, chosen.view(np.uint8), out=result[index])
        else:
            np.multiply(g, chosen.view(np.uint8), out=part)
            np.copyto(result_runs[index[1:]], part_runs)
    return result
