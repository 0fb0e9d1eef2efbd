"""Convolution kernels: the patch matrix (im2col) built by whole runs, its transpose, the input gradient by offsets.

Their large arrays come from ``workspace`` (memory freed by earlier steps, not fresh pages).
"""

from __future__ import annotations

import itertools

import numpy as np

from nablanet.kernels import workspace

__all__ = ["conv_output_size", "offset_slices", "channels_last", "channels_first", "kernel_matrix", "patch_rows",
           "image_from_rows", "input_gradient"]


def conv_output_size(size: int, kernel: int, stride: int, dilation: int) -> int:
    """Number of positions of a dilated kernel sliding with a stride over ``size`` inputs (no padding)."""
    return (size - dilation * (kernel - 1) - 1) // stride + 1


def offset_slices(offset, kernel, stride, dilation, out):
    """The strided slice of every spatial axis that kernel offset ``offset`` reads, for all output positions."""
    return tuple(slice(o * d, o * d + s * (m - 1) + 1, s) for o, d, s, m in zip(offset, dilation, stride, out))


def channels_last(a):
    """a (N, C, *spatial) viewed as (N, *spatial, C): np.moveaxis(a, 1, -1) as one transpose, without
    moveaxis's argument normalisation (a step makes some twenty of these views)."""
    return a.transpose((0,) + tuple(range(2, a.ndim)) + (1,))


def channels_first(a):
    """a (N, *spatial, C) viewed as (N, C, *spatial): the inverse of channels_last."""
    return a.transpose((0, a.ndim - 1) + tuple(range(1, a.ndim - 1)))


def kernel_matrix(W):
    """W (C_out, C_in, *kernel) as the matrix (prod(kernel) * C_in, C_out) that multiplies patch_rows's rows
    (the kernel offset slowest, the channel fastest, as in a row)."""
    return channels_last(W).reshape(W.shape[0], -1).T


def _output_shape(spatial, kernel, stride, dilation) -> tuple:
    return tuple(conv_output_size(m, k, s, d) for m, k, s, d in zip(spatial, kernel, stride, dilation))


def _offsets(kernel):
    return itertools.product(*(range(k) for k in kernel))


def patch_rows(x, kernel, stride, dilation, ones_column=False):
    """im2col: rows[n, p, (*k, c)] = x[n, c, p * stride + k * dilation], shape (N, prod(out), prod(kernel) * C).

    Within a row the kernel offset varies slowest and the channel fastest. With ``ones_column``
    every row ends with an extra 1, so that a product with the kernels stacked on the biases adds
    the biases, and the product's gradient holds their gradient, for free.

    Faster than a gather of every receptive field: one strided copy per kernel offset, each over the
    whole batch. NumPy's cost is per contiguous run, so the runs are made as long as the layout of x
    allows. When x is channels-last in memory (a convolution's output) a run is C values, and along
    the last kernel axis (no dilation) neighbouring offsets read neighbouring runs, so k * C values
    are copied as one run. When the channels are not innermost (a network's channels-first input,
    or one channel), the matrix is built column by column instead, one copy per kernel offset moving
    whole image rows of every channel, and returned as the transposed view: the same matrix, in
    column order, which BLAS multiplies as readily.

    Measured and not taken (cnn-28, 1 thread): copying each run of k * C values as one NumPy void
    element, or as bytes, moves the 7.3 MB patch matrix of the second layer no faster (0.93-0.99
    ms against 0.96-1.03); building it in batch chunks, each multiplied while still in cache, made
    the training step 1-8% slower. For one channel, nine shifted multiply-adds over the output
    would make nine passes over an array as large as the product's; a strided view of x cannot
    stand in for the matrix (its rows would overlap, which BLAS does not accept).
    """
    n, c = x.shape[:2]
    out = _output_shape(x.shape[2:], kernel, stride, dilation)
    d = len(kernel)
    width = int(np.prod(kernel)) * c
    extra = int(ones_column)
    itemsize = x.dtype.itemsize
    if c == 1 or x.strides[1] != itemsize:
        columns = workspace.empty((width + extra, n) + out, x.dtype)
        by_offset = columns[:width].reshape((-1, c, n) + out)
        batch_second = (1, 0) + tuple(range(2, 2 + d))
        for index, offset in enumerate(_offsets(kernel)):
            np.copyto(by_offset[index], x[(slice(None), slice(None)) + offset_slices(
                offset, kernel, stride, dilation, out)].transpose(batch_second))
        if ones_column:
            columns[-1] = 1
        return columns.reshape(len(columns), n, -1).transpose(1, 2, 0)
    buffer = workspace.empty((n, int(np.prod(out)), width + extra), x.dtype)
    if ones_column:
        buffer[..., -1] = 1
    # A view of buffer (splitting axes never copies) with one axis per kernel offset and channel.
    rows = buffer[..., :width].reshape((n,) + out + tuple(kernel) + (c,))
    # x (N, C, *spatial) viewed as (N, *spatial, C): no copy, contiguous runs of C here.
    source = channels_last(x)
    merge_last = dilation[-1] == 1 and source.strides[-2] == c * itemsize
    leading = kernel[:-1] if merge_last else kernel
    if merge_last:
        # A view of the same memory: the last kernel axis merged with the channels.
        merged_rows = buffer[..., :width].reshape((n,) + out + tuple(leading) + (kernel[-1] * c,))
        shape = (n,) + out + (kernel[-1] * c,)
        strides = ((source.strides[0],) + tuple(st * s for st, s in zip(source.strides[1:-1], stride))
                   + (itemsize,))
    for offset in _offsets(leading):
        if merge_last:
            start = source[(slice(None),) + tuple(slice(o * dd, None) for o, dd in zip(offset, dilation))]
            merged_rows[(slice(None),) * (1 + d) + offset] = np.lib.stride_tricks.as_strided(
                start, shape, strides, writeable=False)
        else:
            rows[(slice(None),) * (1 + d) + offset] = source[(slice(None),) + offset_slices(
                offset, kernel, stride, dilation, out)]
    return buffer


def image_from_rows(rows, shape, kernel, stride, dilation):
    """col2im, the transpose of patch_rows: rows (N, prod(out), prod(kernel) * C) added back at their
    receptive fields into an array of ``shape`` (N, C, *spatial); overlapping fields accumulate.

    One strided add per kernel offset, no loop over pixels. The image is built channels-last in
    memory, so each add moves whole runs of channels, and returned as a channels-first view.
    """
    n, c = shape[:2]
    spatial = shape[2:]
    d = len(kernel)
    out = _output_shape(spatial, kernel, stride, dilation)
    image = np.zeros((n,) + tuple(spatial) + (c,), dtype=rows.dtype)
    blocks = rows.reshape((n,) + out + tuple(kernel) + (c,))
    for offset in _offsets(kernel):
        image[(slice(None),) + offset_slices(offset, kernel, stride, dilation, out)] += blocks[
            (slice(None),) * (1 + d) + offset]
    return channels_first(image)


def input_gradient(delta_rows, shape, W, stride, dilation):
    """dC/dx (N, C_in, *spatial) = col2im(delta W^T) of a convolution, one GEMM and one strided add per kernel offset.

    delta_rows (N * prod(out), C_out) is dC/dz with the channels last; W (C_out, C_in, *kernel).
    Faster than image_from_rows(delta W^T): the (N P, prod(kernel) C_in) matrix delta W^T is never
    formed, and with the image built channels-last each add covers whole image rows of channels
    (runs of out_width * C_in values for stride 1) where col2im would move runs of C_in.

    Alternatives measured at cnn-28's second layer (delta (12544, 32), W (32, 16, 3, 3), 1 thread,
    loaded machine) and slower: one GEMM (12544, 32) @ (32, 144) runs at 1.26 ms against 1.65 ms for
    the nine narrow ones, but adding its strided column blocks back costs 2.75 ms against 0.8 ms
    for the nine contiguous products; three GEMMs of width 48 took 4.1 ms against 3.0 ms; nine
    products on shifted contiguous views of a zero-padded delta, accumulated contiguously, 3.7 ms.
    """
    n, c_in = shape[:2]
    kernel = tuple(W.shape[2:])
    out = _output_shape(shape[2:], kernel, stride, dilation)
    image = workspace.zeros((n,) + tuple(shape[2:]) + (c_in,), delta_rows.dtype)
    # Per offset k, W_k^T as a (C_out, C_in) matrix: W (C_out, C_in, *kernel) with the offsets first.
    per_offset = W.reshape(W.shape[0], c_in, -1).transpose(2, 0, 1)
    product = workspace.empty((delta_rows.shape[0], c_in), delta_rows.dtype)
    for index, offset in enumerate(_offsets(kernel)):
        np.matmul(delta_rows, per_offset[index], out=product)
        image[(slice(None),) + offset_slices(offset, kernel, stride, dilation, out)] += product.reshape(
            (n,) + out + (c_in,))
    return channels_first(image)
