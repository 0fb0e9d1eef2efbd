"""im2col and col2im: the patch matrices that turn a convolution into one matrix product.

A convolution with kernel W is multiplication by a banded Toeplitz matrix (the notes' view). Rather
than forming that matrix, im2col copies every receptive field of x into one row of a patch matrix;
the convolution is then that matrix times the kernels, W arranged as (prod(kernel) * C_in, C_out):
the same product as a dense layer, and it is computed by the fused dense primitive. The transpose,
col2im, adds rows back into an image (overlapping fields accumulate): it is im2col's VJP, and im2col
is col2im's. Both are linear, so each is its own JVP. Works for any number of spatial dimensions
(1-D signals, 2-D images).
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.op import Op, raw as _raw, register
from nablanet.autodiff.ops.nn import DENSE_ACTIVATIONS, kernel_alpha
from nablanet.autodiff.ops.shape import broadcast_to, expand_dims, moveaxis, reshape
from nablanet.kernels import conv as conv_kernels, pool as pool_kernels, workspace
# The output size of a sliding window, for the functions and layers that pad and crop around these ops.
from nablanet.kernels.conv import conv_output_size

__all__ = ["im2col", "col2im", "convolution", "max_pool_windows", "avg_pool_windows", "window_select", "window_spread"]


@register
class Im2Col(Op):
    """rows[n, p, (*k, c)] = x[n, c, p * stride + k * dilation]: every receptive field as one row.

    Within a row the kernel offset varies slowest and the channel fastest; the kernels are arranged
    to match by the caller. Built by ``nablanet.kernels.conv.patch_rows``, which copies whole runs.

    Shape: x (N, C, *spatial) -> (N, prod(out_spatial), prod(kernel) * C).
    """

    def forward(x, *, kernel, stride, dilation):
        return conv_kernels.patch_rows(np.asarray(x), kernel, stride, dilation)

    def vjp(grad_out, out, x, *, kernel, stride, dilation, needs):
        return (col2im(grad_out, np.shape(_raw(x)), kernel, stride, dilation),)

    def jvp(x_dot, out, x, *, kernel, stride, dilation, needs):
        return im2col(x_dot, kernel, stride, dilation)

    def flops(out, x, **settings):
        return 0


@register
class Col2Im(Op):
    """The transpose of im2col: rows added back at their receptive fields (overlaps accumulate).

    Built by ``nablanet.kernels.conv.image_from_rows``: channels-last in memory, viewed channels-first.

    Shape: rows (N, prod(out_spatial), prod(kernel) * C) -> (N, C, *spatial).
    """

    def forward(columns, *, shape, kernel, stride, dilation):
        return conv_kernels.image_from_rows(columns, shape, kernel, stride, dilation)

    def vjp(grad_out, out, columns, *, shape, kernel, stride, dilation, needs):
        return (im2col(grad_out, kernel, stride, dilation),)

    def jvp(columns_dot, out, columns, *, shape, kernel, stride, dilation, needs):
        return col2im(columns_dot, shape, kernel, stride, dilation)

    def flops(out, columns, **settings):
        return int(np.size(columns))


def _tuple(value, n: int, name: str) -> tuple:
    values = (value,) * n if np.ndim(value) == 0 else tuple(value)
    if len(values) != n or any(int(v) < 1 for v in values):
        raise ValueError(f"{name} must be a positive integer or {n} of them, got {value!r}")
    return tuple(int(v) for v in values)


def im2col(x, kernel, stride=1, dilation=1):
    """The receptive fields of x (N, C, *spatial) as rows (N, prod(out_spatial), prod(kernel) * C)."""
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
    """Add rows (N, prod(out_spatial), prod(kernel) * C) back into an array of ``shape`` (N, C, *spatial)."""
    shape = tuple(int(n) for n in shape)
    n_spatial = len(shape) - 2
    kernel = _tuple(kernel, n_spatial, "kernel_size")
    stride = _tuple(stride, n_spatial, "stride")
    dilation = _tuple(dilation, n_spatial, "dilation")
    out = tuple(conv_output_size(n, k, s, d) for n, k, s, d in zip(shape[2:], kernel, stride, dilation))
    expected = (shape[0], int(np.prod(out)), int(np.prod(kernel)) * shape[1])
    got = np.shape(_raw(columns))
    if got != expected:
        raise ValueError(f"col2im: rows of shape {got} do not fit an output of shape {shape} with kernel {kernel}, "
                         f"stride {stride}, dilation {dilation}: expected rows of shape {expected}")
    return Col2Im.apply(columns, shape=shape, kernel=kernel, stride=stride, dilation=dilation)


# --- the convolution as one primitive --------------------------------------------------------------

def _kernel_matrix(W):
    """W (C_out, C_in, *kernel) as the matrix (prod(kernel) * C_in, C_out) that multiplies im2col's rows."""
    c_out = W.shape[0]
    return reshape(moveaxis(W, 1, -1), (c_out, -1)).T


@register
class Convolution(Op):
    """a = sigma(z), z = W * x + b: a convolution layer's whole computation as one primitive.

        z[n, o, p] = b[o] + sum_{c, k} W[o, c, k] x[n, c, p * stride + k * dilation]

    with x (N, C_in, *spatial) (padding already applied), W (C_out, C_in, *kernel), b (C_out,), and
    sigma one of the fused dense activations. Computed in the notes' matrix form: the receptive fields
    of x as rows (im2col), times W as a (prod(kernel) * C_in, C_out) matrix, activation in place; the
    result is channels-last in memory, viewed channels-first. With a bias, each row ends with a 1 and
    b is stacked under the kernels, so the one product adds it. The rows are kept as the residual.
    With delta = dC/da * sigma'(z) (sigma' from a):

        dC/dW = rows^T delta,   dC/db = sum over samples and positions of delta (the last row of
                                        the same product, through the column of ones),
        dC/dx = col2im(delta W^T) = sum over kernel offsets k of delta W_k^T, added into the
                positions that offset reads.

    A primitive for speed: against im2col followed by the fused dense op, it keeps the patch matrix
    once, forms no (N P, prod(kernel) C_in) gradient of it, and needs no reshapes of W. The array
    work is in ``nablanet.kernels.conv`` (the patch rows, dC/dx offset by offset). On Tensors
    (derivatives of derivatives) both rules are written with im2col, col2im and matmul.
    """

    keeps_residual = True

    def forward(x, W, *bias, stride, dilation, activation, alpha):
        x = np.asarray(x)
        kernel = W.shape[2:]
        rows = conv_kernels.patch_rows(x, kernel, stride, dilation, ones_column=bool(bias))
        n, positions, width = rows.shape
        rows = rows.reshape(n * positions, width)  # a view: rows are contiguous, or columns are
        kernels = conv_kernels.kernel_matrix(W)
        if bias:
            # Rows end with a 1 and the kernels with the biases: the product adds them.
            kernels = np.concatenate([kernels, bias[0][None, :]])
        # The product into a pooled block: the largest array of the step after the rows themselves.
        z = workspace.empty((rows.shape[0], kernels.shape[1]), np.result_type(rows, kernels))
        a = DENSE_ACTIVATIONS[activation][0](np.matmul(rows, kernels, out=z), alpha)
        out = tuple(conv_output_size(m, k, s, d) for m, k, s, d in zip(x.shape[2:], kernel, stride, dilation))
        return conv_kernels.channels_first(a.reshape((n,) + out + (W.shape[0],))), rows

    def vjp(grad_out, out, x, W, *bias, stride, dilation, activation, alpha, needs, residual):
        slope = DENSE_ACTIVATIONS[activation][1]
        if slope is None:
            delta = grad_out
        elif isinstance(grad_out, np.ndarray) and isinstance(out, np.ndarray):
            slope_out = slope(out, alpha)
            delta = np.multiply(grad_out, slope_out, out=workspace.empty_like(
                out, dtype=np.result_type(grad_out, slope_out)))
        else:
            delta = grad_out * slope(out, alpha)
        c_out, kernel = W.shape[0], tuple(W.shape[2:])
        if not all(isinstance(v, np.ndarray) for v in (delta, x, W)):
            delta_rows = reshape(moveaxis(delta, 1, -1), (-1, c_out))
            # Recorded: rows and the input gradient as functions of x and W, so that a second
            # derivative sees how they depend on them.
            grad_b = delta_rows.sum(axis=0) if bias and needs[2] else None
            grad_x = grad_W = None
            if needs[0]:
                n = x.shape[0]
                grad_rows = reshape(delta_rows @ _kernel_matrix(W).T, (n, -1, int(np.prod(kernel)) * x.shape[1]))
                grad_x = col2im(grad_rows, x.shape, kernel, stride, dilation)
            if needs[1]:
                rows = im2col(x, kernel, stride, dilation)
                grad_matrix = reshape(rows, (-1, rows.shape[-1])).T @ delta_rows
                grad_W = moveaxis(reshape(grad_matrix.T, (c_out,) + kernel + (x.shape[1],)), -1, 1)
            return (grad_x, grad_W, grad_b)[: 2 + len(bias)]
        delta_rows = conv_kernels.channels_last(delta).reshape(-1, c_out)
        grad_W = grad_b = None
        if needs[1] or (bias and needs[2]):
            # With a bias the rows end with a 1, and the product's last row is dC/db.
            grad_matrix = residual.T @ delta_rows
            if bias:
                grad_b = grad_matrix[-1]
                grad_matrix = grad_matrix[:-1]
            grad_W = conv_kernels.channels_first(grad_matrix.T.reshape((c_out,) + kernel + (x.shape[1],)))
        grad_x = conv_kernels.input_gradient(delta_rows, x.shape, W, stride, dilation) if needs[0] else None
        return (grad_x, grad_W, grad_b)[: 2 + len(bias)]

    def jvp(x_dot, W_dot, *rest, stride, dilation, activation, alpha, needs, residual):
        # The convolution is bilinear in (x, W): z_dot = W * x_dot + W_dot * x + b_dot.
        has_bias = len(rest) == 5
        out, x, W = rest[1:4] if has_bias else rest[:3]
        settings = dict(stride=stride, dilation=dilation)
        z_dot = None
        if needs[0]:
            z_dot = convolution(x_dot, W, **settings)
        if needs[1]:
            term = convolution(x, W_dot, **settings)
            z_dot = term if z_dot is None else z_dot + term
        if has_bias and needs[2]:
            b_dot = reshape(rest[0], (-1,) + (1,) * (len(W.shape) - 2))
            z_dot = b_dot if z_dot is None else z_dot + b_dot
        slope = DENSE_ACTIVATIONS[activation][1]
        return z_dot if slope is None else z_dot * slope(out, alpha)

    def flops(out, x, W, *bias, stride, dilation, activation, alpha):
        size = int(np.size(out))
        per_output = int(np.prod(np.shape(W)[1:]))
        return 2 * size * per_output + size * (len(bias) + (activation != "identity"))


def convolution(x, W, b=None, *, stride=1, dilation=1, activation: str = "identity", alpha: float | None = None):
    """sigma(W * x + b): x (N, C_in, *spatial) convolved with W (C_out, C_in, *kernel), as one primitive.

    No padding is added (pad x first); see Convolution for the computation and its rules. ``alpha``
    (leaky_relu's slope, elu's scale) defaults to the kernel's, nablanet.autodiff.ops.nn.DEFAULT_ALPHAS.

    Returns:
        (N, C_out, *out_spatial), channels-last in memory.
    """
    x_shape, W_shape = np.shape(_raw(x)), np.shape(_raw(W))
    n_spatial = len(W_shape) - 2
    if n_spatial < 1 or len(x_shape) != n_spatial + 2 or x_shape[1] != W_shape[1]:
        raise ValueError(f"convolution: input of shape {x_shape} does not fit kernels of shape {W_shape} "
                         f"(expected input (N, {W_shape[1] if len(W_shape) > 1 else '?'}, "
                         f"{max(n_spatial, 1)} spatial dimensions))")
    if activation not in DENSE_ACTIVATIONS:
        raise ValueError(f"convolution: activation must be one of {sorted(DENSE_ACTIVATIONS)}, got {activation!r}")
    kernel = tuple(W_shape[2:])
    stride = _tuple(stride, n_spatial, "stride")
    dilation = _tuple(dilation, n_spatial, "dilation")
    for size, k, d in zip(x_shape[2:], kernel, dilation):
        if d * (k - 1) + 1 > size:
            raise ValueError(f"convolution: a kernel of size {k} with dilation {d} spans {d * (k - 1) + 1} "
                             f"positions, more than the input's {size} (shape {x_shape}); pad the input or "
                             "use a smaller kernel")
    if b is not None and np.shape(_raw(b)) != (W_shape[0],):
        raise ValueError(f"convolution: bias of shape {np.shape(_raw(b))} does not fit {W_shape[0]} output channels")
    inputs = (x, W) if b is None else (x, W, b)
    return Convolution.apply(*inputs, stride=stride, dilation=dilation, activation=activation,
                             alpha=kernel_alpha(activation, alpha))


# --- pooling over non-overlapping windows (kernel == stride), the common case ------------------------

def _window_shape(shape, kernel):
    """(N, C, o1, k1, o2, k2, ...): x's shape with each spatial axis split into (windows, kernel)."""
    split = []
    for size, k in zip(shape[2:], kernel):
        split += [size // k, k]
    return tuple(shape[:2]) + tuple(split)


def _kernel_axes(n_spatial: int) -> tuple:
    return tuple(3 + 2 * i for i in range(n_spatial))


@register
class WindowSelect(Op):
    """z = x at the chosen offset of each non-overlapping window: sum over offsets o of [choice == o] x[o].

    With the first-maximum choice this is max pooling as a linear map; its transpose is window_spread.
    """

    name = "window_select"

    def forward(x, *, kernel, choice):
        return pool_kernels.select(x, kernel, choice)

    def vjp(grad_out, out, x, *, kernel, choice, needs):
        return (window_spread(grad_out, kernel, choice, x.shape),)

    def jvp(x_dot, out, x, *, kernel, choice, needs):
        return window_select(x_dot, kernel, choice)


@register
class WindowSpread(Op):
    """The transpose of window_select: each window's value goes to its chosen element, zeros elsewhere."""

    name = "window_spread"

    def forward(g, *, kernel, choice, shape):
        return pool_kernels.spread(np.asarray(g), choice, kernel, shape)

    def vjp(grad_out, out, g, *, kernel, choice, shape, needs):
        return (window_select(grad_out, kernel, choice),)

    def jvp(g_dot, out, g, *, kernel, choice, shape, needs):
        return window_spread(g_dot, kernel, choice, shape)


def window_select(x, kernel, choice):
    """x at one offset of every non-overlapping window: ``choice`` (N, C, *windows) holds its row-major index."""
    return WindowSelect.apply(x, kernel=tuple(kernel), choice=np.asarray(choice))


def window_spread(g, kernel, choice, shape):
    """g (N, C, *windows) placed at the offsets ``choice`` picks in each window, zeros elsewhere, in an array of shape."""
    return WindowSpread.apply(g, kernel=tuple(kernel), choice=np.asarray(choice), shape=tuple(shape))


@register
class MaxPool(Op):
    """z = the maximum of each non-overlapping window (kernel == stride) of x (N, C, *spatial).

    A primitive for speed: the forward pass is a running maximum over the k^d strided slices (no
    patch matrix), and its VJP writes each window's gradient straight into its first maximum
    (window_spread at the offsets ``nablanet.kernels.pool.first_max_choice`` finds, a constant of
    the rules); ties go to the first maximum in row-major order, as PyTorch and JAX. A window
    holding a NaN passes no gradient (PyTorch sends it to the NaN). Spatial sizes must be multiples
    of the kernel (the caller crops the remainder, as PyTorch's floor mode). Works in any memory
    layout; every array it makes follows x's.
    """

    name = "max_pool"

    def forward(x, *, kernel):
        return pool_kernels.max_pool(x, kernel)

    def vjp(grad_out, out, x, *, kernel, needs):
        choice = pool_kernels.first_max_choice(_raw(x), _raw(out), kernel)
        return (window_spread(grad_out, kernel, choice, x.shape),)

    def jvp(x_dot, out, x, *, kernel, needs):
        return window_select(x_dot, kernel, pool_kernels.first_max_choice(_raw(x), _raw(out), kernel))

    def flops(out, x, *, kernel):
        return int(np.size(x))


@register
class AvgPool(Op):
    """z = the mean of each non-overlapping window (kernel == stride) of x (N, C, *spatial).

    A primitive for speed, as MaxPool: a sum of strided slices forward, a broadcast backward.
    """

    name = "avg_pool"

    def forward(x, *, kernel):
        return pool_kernels.avg_pool(x, kernel)

    def vjp(grad_out, out, x, *, kernel, needs):
        shape = x.shape
        spread = expand_dims(grad_out * (1.0 / float(np.prod(kernel))), _kernel_axes(len(kernel)))
        return (reshape(broadcast_to(spread, _window_shape(shape, kernel)), shape),)

    def jvp(x_dot, out, x, *, kernel, needs):
        return avg_pool_windows(x_dot, kernel)

    def flops(out, x, *, kernel):
        return int(np.size(x))


def _pool_kernel(x, kernel, name: str) -> tuple:
    kernel = tuple(int(k) for k in kernel)
    spatial = np.shape(_raw(x))[-len(kernel):]
    if len(np.shape(_raw(x))) < len(kernel) + 1 or any(k < 1 or n % k for n, k in zip(spatial, kernel)):
        raise ValueError(f"{name}: the spatial sizes {tuple(spatial)} must be positive multiples of the window "
                         f"{kernel} (the layers crop or pad before pooling)")
    return kernel


def max_pool_windows(x, kernel):
    """Maximum over non-overlapping windows of size ``kernel`` (spatial sizes must be multiples of it)."""
    return MaxPool.apply(x, kernel=_pool_kernel(x, kernel, "max_pool_windows"))


def avg_pool_windows(x, kernel):
    """Mean over non-overlapping windows of size ``kernel`` (spatial sizes must be multiples of it)."""
    return AvgPool.apply(x, kernel=_pool_kernel(x, kernel, "avg_pool_windows"))
