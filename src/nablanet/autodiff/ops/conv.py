"""im2col and col2im: the patch matrices that turn a convolution into one matrix product.

A convolution with kernel W is multiplication by a banded Toeplitz matrix (the notes' view). Rather
than forming that matrix, im2col copies every receptive field of x into one column; the convolution
is then W_2d @ columns. The transpose, col2im, adds columns back into an image (overlapping fields
accumulate): it is im2col's VJP, and im2col is col2im's. Both are linear, so each is its own JVP.
Works for any number of spatial dimensions (1-D signals, 2-D images).
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.lib.stride_tricks import as_strided

from nablanet.autodiff.op import Op, register

__all__ = ["im2col", "col2im", "conv_output_size"]


def conv_output_size(size: int, kernel: int, stride: int, dilation: int) -> int:
    """Number of positions of a dilated kernel sliding with a stride over ``size`` inputs (no padding)."""
    return (size - dilation * (kernel - 1) - 1) // stride + 1


def _patch_view(x, kernel, stride, dilation):
    """A strided view of x (N, C, *spatial) with shape (N, C, *kernel, *out_spatial): no copy."""
    spatial = x.shape[2:]
    out = tuple(conv_output_size(n, k, s, d) for n, k, s, d in zip(spatial, kernel, stride, dilation))
    strides = x.strides[2:]
    shape = x.shape[:2] + tuple(kernel) + out
    view_strides = x.strides[:2] + tuple(st * d for st, d in zip(strides, dilation)) + tuple(
        st * s for st, s in zip(strides, stride))
    return as_strided(x, shape=shape, strides=view_strides, writeable=False), out


def _raw(x):
    return x._data if hasattr(x, "_data") else np.asarray(x)


@register
class Im2Col(Op):
    """columns[n, (c, *k), p] = x[n, c, p * stride + k * dilation]: every receptive field as one column.

    Shape: x (N, C, *spatial) -> (N, C * prod(kernel), prod(out_spatial)).
    """

    def forward(x, *, kernel, stride, dilation):
        view, out = _patch_view(np.asarray(x), kernel, stride, dilation)
        n, c = view.shape[:2]
        # The one copy a convolution needs: the patches become contiguous columns for the GEMM.
        return view.reshape(n, c * int(np.prod(kernel)), int(np.prod(out)))

    def vjp(grad_out, out, x, *, kernel, stride, dilation):
        return (col2im(grad_out, np.shape(_raw(x)), kernel, stride, dilation),)

    def jvp(x_dot, out, x, *, kernel, stride, dilation):
        return im2col(x_dot, kernel, stride, dilation)

    def flops(out, x, **settings):
        return 0


@register
class Col2Im(Op):
    """The transpose of im2col: columns added back at their receptive fields (overlaps accumulate).

    Shape: columns (N, C * prod(kernel), prod(out_spatial)) -> (N, C, *spatial).
    """

    def forward(columns, *, shape, kernel, stride, dilation):
        image = np.zeros(shape, dtype=columns.dtype)
        spatial = shape[2:]
        out = tuple(conv_output_size(n, k, s, d) for n, k, s, d in zip(spatial, kernel, stride, dilation))
        blocks = columns.reshape(shape[:2] + tuple(kernel) + out)
        # One strided add per kernel offset (9 for a 3x3 kernel), each over the whole batch: no
        # Python loop over pixels, and overlapping fields accumulate as they must.
        for offset in itertools.product(*(range(k) for k in kernel)):
            target = (slice(None), slice(None)) + tuple(
                slice(o * d, o * d + s * (m - 1) + 1, s) for o, d, s, m in zip(offset, dilation, stride, out))
            image[target] += blocks[(slice(None), slice(None)) + offset]
        return image

    def vjp(grad_out, out, columns, *, shape, kernel, stride, dilation):
        return (im2col(grad_out, kernel, stride, dilation),)

    def jvp(columns_dot, out, columns, *, shape, kernel, stride, dilation):
        return col2im(columns_dot, shape, kernel, stride, dilation)

    def flops(out, columns, **settings):
        return int(np.size(columns))


def _tuple(value, n: int, name: str) -> tuple:
    values = (value,) * n if np.ndim(value) == 0 else tuple(value)
    if len(values) != n or any(int(v) < 1 for v in values):
        raise ValueError(f"{name} must be a positive integer or {n} of them, got {value!r}")
    return tuple(int(v) for v in values)


def im2col(x, kernel, stride=1, dilation=1):
    """The receptive fields of x (N, C, *spatial) as columns (N, C * prod(kernel), prod(out_spatial))."""
    shape = np.shape(_raw(x))
    n_spatial = len(shape) - 2
    if n_spatial < 1:
        raise ValueError(f"im2col: expected input of shape (N, C, *spatial), got {shape}")
    kernel = _tuple(kernel, n_spatial, "kernel_size")
    stride = _tuple(stride, n_spatial, "stride")
    dilation = _tuple(dilation, n_spatial, "dilation")
    for size, k, d in zip(shape[2:], kernel, dilation):
        if d * (k - 1) + 1 > size:
            raise ValueError(f"im2col: a kernel of size {k} with dilation {d} spans {d * (k - 1) + 1} positions, "
                             f"more than the input's {size} (shape {shape}); pad the input or use a smaller kernel")
    return Im2Col.apply(x, kernel=kernel, stride=stride, dilation=dilation)


def col2im(columns, shape, kernel, stride=1, dilation=1):
    """Add columns (N, C * prod(kernel), prod(out_spatial)) back into an array of ``shape`` (N, C, *spatial)."""
    shape = tuple(int(n) for n in shape)
    n_spatial = len(shape) - 2
    return Col2Im.apply(columns, shape=shape, kernel=_tuple(kernel, n_spatial, "kernel_size"),
                        stride=_tuple(stride, n_spatial, "stride"), dilation=_tuple(dilation, n_spatial, "dilation"))
