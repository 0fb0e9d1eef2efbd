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

import itertools

import numpy as np

from nablanet.autodiff.op import Op, raw as _raw, register
from nablanet.autodiff.ops.nn import DENSE_ACTIVATIONS
from nablanet.autodiff.ops.shape import broadcast_to, expand_dims, moveaxis, reshape

__all__ = ["im2col", "col2im", "convolution", "max_pool_windows", "avg_pool_windows", "window_select", "window_spread"]


def conv_output_size(size: int, kernel: int, stride: int, dilation: int) -> int:
    """Number of positions of a dilated kernel sliding with a stride over ``size`` inputs (no padding)."""
    return (size - dilation * (kernel - 1) - 1) // stride + 1


def _offset_slices(offset, kernel, stride, dilation, out):
    """The strided slice of every spatial axis that kernel offset ``offset`` reads, for all output positions."""
    return tuple(slice(o * d, o * d + s * (m - 1) + 1, s) for o, d, s, m in zip(offset, dilation, stride, out))


def _channels_last(x):
    """x (N, C, *spatial) viewed as (N, *spatial, C): no copy; contiguous when x is channels-last in memory."""
    return np.moveaxis(x, 1, -1)



def _patch_rows(x, kernel, stride, dilation, ones_column=False):
    """im2col on an ndarray: rows (N, prod(out_spatial), prod(kernel) * C), kernel-major, channel-minor.

    With ``ones_column`` every row ends with an extra 1, so that a product with the kernels stacked
    on the biases adds the biases, and the product's gradient holds their gradient, for free.
    """
    n, c = x.shape[:2]
    out = tuple(conv_output_size(m, k, s, d) for m, k, s, d in zip(x.shape[2:], kernel, stride, dilation))
    d = len(kernel)
    width = int(np.prod(kernel)) * c
    extra = int(ones_column)
    itemsize = x.dtype.itemsize
    if c == 1 or x.strides[1] != itemsize:
        # Channels not innermost in memory (a network's input, channels-first; or one channel): a
        # row would be gathered a value at a time. Built column by column instead, one copy per
        # kernel offset moving whole image rows of every channel, and returned as the transposed
        # view: the same matrix, in column order, which BLAS multiplies as readily.
        columns = np.empty((width + extra, n) + out, dtype=x.dtype)
        by_offset = columns[:width].reshape((-1, c, n) + out)
        for index, offset in enumerate(itertools.product(*(range(k) for k in kernel))):
            np.copyto(by_offset[index], np.moveaxis(x[(slice(None), slice(None)) + _offset_slices(
                offset, kernel, stride, dilation, out)], 1, 0))
        if ones_column:
            columns[-1] = 1
        return columns.reshape(len(columns), n, -1).transpose(1, 2, 0)
    buffer = np.empty((n, int(np.prod(out)), width + extra), dtype=x.dtype)
    if ones_column:
        buffer[..., -1] = 1
    # A view of buffer (splitting axes never copies) with one axis per kernel offset and channel.
    rows = buffer[..., :width].reshape((n,) + out + tuple(kernel) + (c,))
    source = _channels_last(x)
    # One strided copy per kernel offset, each over the whole batch: the one copy a convolution
    # needs, making each receptive field a contiguous row for the product. NumPy's cost is per
    # contiguous run, and a run is only C values long; along the last kernel axis with no dilation,
    # neighbouring offsets read neighbouring channel runs of x (when x is channels-last in memory, as
    # a convolution's output is), so they are copied together as one run of k * C values.
    merge_last = dilation[-1] == 1 and source.strides[-2] == c * itemsize
    leading = kernel[:-1] if merge_last else kernel
    if merge_last:
        # A view of the same memory: the last kernel axis merged with the channels.
        merged_rows = buffer[..., :width].reshape((n,) + out + tuple(leading) + (kernel[-1] * c,))
        shape = (n,) + out + (kernel[-1] * c,)
        strides = ((source.strides[0],) + tuple(st * s for st, s in zip(source.strides[1:-1], stride))
                   + (itemsize,))
    for offset in itertools.product(*(range(k) for k in leading)):
        if merge_last:
            start = source[(slice(None),) + tuple(slice(o * dd, None) for o, dd in zip(offset, dilation))]
            merged_rows[(slice(None),) * (1 + d) + offset] = np.lib.stride_tricks.as_strided(
                start, shape, strides, writeable=False)
        else:
            rows[(slice(None),) * (1 + d) + offset] = source[(slice(None),) + _offset_slices(
                offset, kernel, stride, dilation, out)]
    return buffer


@register
class Im2Col(Op):
    """rows[n, p, (*k, c)] = x[n, c, p * stride + k * dilation]: every receptive field as one row.

    Within a row the kernel offset varies slowest and the channel fastest, so each kernel offset
    copies whole runs of channels (contiguous when x is channels-last in memory, as a convolution's
    output is); the kernels are arranged to match by the caller.

    Shape: x (N, C, *spatial) -> (N, prod(out_spatial), prod(kernel) * C).
    """

    def forward(x, *, kernel, stride, dilation):
        return _patch_rows(np.asarray(x), kernel, stride, dilation)

    def vjp(grad_out, out, x, *, kernel, stride, dilation):
        return (col2im(grad_out, np.shape(_raw(x)), kernel, stride, dilation),)

    def jvp(x_dot, out, x, *, kernel, stride, dilation):
        return im2col(x_dot, kernel, stride, dilation)

    def flops(out, x, **settings):
        return 0


@register
class Col2Im(Op):
    """The transpose of im2col: rows added back at their receptive fields (overlaps accumulate).

    The image is built channels-last in memory (each offset adds whole runs of channels) and
    returned as a channels-first view.

    Shape: rows (N, prod(out_spatial), prod(kernel) * C) -> (N, C, *spatial).
    """

    def forward(columns, *, shape, kernel, stride, dilation):
        n, c = shape[:2]
        spatial = shape[2:]
        d = len(kernel)
        out = tuple(conv_output_size(m, k, s, dd) for m, k, s, dd in zip(spatial, kernel, stride, dilation))
        image = np.zeros((n,) + tuple(spatial) + (c,), dtype=columns.dtype)
        blocks = columns.reshape((n,) + out + tuple(kernel) + (c,))
        # One strided add per kernel offset: no Python loop over pixels, and overlapping fields
        # accumulate as they must.
        for offset in itertools.product(*(range(k) for k in kernel)):
            image[(slice(None),) + _offset_slices(offset, kernel, stride, dilation, out)] += blocks[
                (slice(None),) * (1 + d) + offset]
        return np.moveaxis(image, -1, 1)

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
        dC/dx = col2im(delta W^T), computed one kernel offset k at a time: delta W_k^T is added
                into the positions that offset reads, so each add moves whole image rows of channels
                rather than the C_in values of one patch row.

    A primitive for speed: against im2col followed by the fused dense op, it keeps the patch matrix
    once, forms no (N P, prod(kernel) C_in) gradient of it, and needs no reshapes of W. On Tensors
    (derivatives of derivatives) both rules are written with im2col, col2im and matmul.
    """

    keeps_residual = True

    def forward(x, W, *bias, stride, dilation, activation, alpha):
        x = np.asarray(x)
        kernel = W.shape[2:]
        rows = _patch_rows(x, kernel, stride, dilation, ones_column=bool(bias))
        n, positions, width = rows.shape
        rows = rows.reshape(n * positions, width)  # a view: rows are contiguous, or columns are
        kernels = _kernel_matrix(W)
        if bias:
            # Rows end with a 1 and the kernels with the biases: the product adds them.
            kernels = np.concatenate([kernels, bias[0][None, :]])
        a = DENSE_ACTIVATIONS[activation][0](rows @ kernels, alpha)
        out = tuple(conv_output_size(m, k, s, d) for m, k, s, d in zip(x.shape[2:], kernel, stride, dilation))
        return np.moveaxis(a.reshape((n,) + out + (W.shape[0],)), -1, 1), rows

    def vjp(grad_out, out, x, W, *bias, stride, dilation, activation, alpha, needs, residual):
        slope = DENSE_ACTIVATIONS[activation][1]
        delta = grad_out if slope is None else grad_out * slope(out, alpha)
        c_out, kernel = W.shape[0], tuple(W.shape[2:])
        delta_rows = reshape(moveaxis(delta, 1, -1), (-1, c_out))
        if not all(isinstance(v, np.ndarray) for v in (delta, x, W)):
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
        grad_W = grad_b = None
        if needs[1] or (bias and needs[2]):
            # With a bias the rows end with a 1, and the product's last row is dC/db.
            grad_matrix = residual.T @ delta_rows
            if bias:
                grad_b = grad_matrix[-1]
                grad_matrix = grad_matrix[:-1]
            grad_W = np.moveaxis(grad_matrix.T.reshape((c_out,) + kernel + (x.shape[1],)), -1, 1)
        grad_x = _input_gradient(delta_rows, x.shape, W, stride, dilation) if needs[0] else None
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


def _input_gradient(delta_rows, shape, W, stride, dilation):
    """dC/dx (N, C_in, *spatial) = col2im(delta W^T), one GEMM and one strided add per kernel offset.

    Built channels-last: for stride 1 each add covers whole image rows of channels (runs of
    out_width * C_in values), where col2im on delta W^T would move runs of C_in.
    """
    n, c_in = shape[:2]
    kernel = tuple(W.shape[2:])
    out = tuple(conv_output_size(m, k, s, d) for m, k, s, d in zip(shape[2:], kernel, stride, dilation))
    image = np.zeros((n,) + tuple(shape[2:]) + (c_in,), dtype=delta_rows.dtype)
    # Per offset k, W_k^T as a (C_out, C_in) matrix: W (C_out, C_in, *kernel) with the offsets first.
    per_offset = np.moveaxis(W.reshape(W.shape[0], c_in, -1), -1, 0)
    product = np.empty((delta_rows.shape[0], c_in), dtype=delta_rows.dtype)
    for index, offset in enumerate(itertools.product(*(range(k) for k in kernel))):
        np.matmul(delta_rows, per_offset[index], out=product)
        image[(slice(None),) + _offset_slices(offset, kernel, stride, dilation, out)] += product.reshape(
            (n,) + out + (c_in,))
    return np.moveaxis(image, -1, 1)


def convolution(x, W, b=None, *, stride=1, dilation=1, activation: str = "identity", alpha: float = 0.01):
    """sigma(W * x + b): x (N, C_in, *spatial) convolved with W (C_out, C_in, *kernel), as one primitive.

    No padding is added (pad x first); see Convolution for the computation and its rules.

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
    return Convolution.apply(*inputs, stride=stride, dilation=dilation, activation=activation, alpha=float(alpha))


# --- pooling over non-overlapping windows (kernel == stride), the common case ------------------------

def _window_shape(shape, kernel):
    """(N, C, o1, k1, o2, k2, ...): x's shape with each spatial axis split into (windows, kernel)."""
    split = []
    for size, k in zip(shape[2:], kernel):
        split += [size // k, k]
    return tuple(shape[:2]) + tuple(split)


def _kernel_axes(n_spatial: int) -> tuple:
    return tuple(3 + 2 * i for i in range(n_spatial))


def _window_slices(kernel):
    """For every offset inside a window, the strided slice of x holding that offset of every window."""
    for offset in itertools.product(*(range(k) for k in kernel)):
        yield (slice(None), slice(None)) + tuple(slice(o, None, k) for o, k in zip(offset, kernel))


def _in_memory_order_of(a, like):
    """a, or a copy of it laid out in memory as ``like`` is (same shape, a's dtype).

    Gradients arrive in whatever layout the next op produced (C order from a flatten, a cropped
    view of a padded image); a ufunc whose operands disagree on the memory order walks one of them
    against its grain in short runs. One copy of the small pooled array costs much less.
    """
    arranged = np.empty_like(like, dtype=a.dtype)
    if a.strides == arranged.strides:
        return a
    np.copyto(arranged, a)
    return arranged


# Runs up to this many bytes are moved whole by the pooling VJP (see _runs). Measured inside the
# cnn-28 training step: runs of 16 float32 channels (64 bytes) make the first-maximum search 0.84 ->
# 0.73 ms and the spread 0.90 -> 0.76 ms; with runs of 32 channels the search slows (0.21 -> 0.25 ms,
# an extra pass for little saved loop overhead) and the spread does not change.
_SHORT_RUN_BYTES = 64


def _run_axis(*arrays):
    """The batch or channel axis if it is the innermost, contiguous axis of every array and short, else None.

    A convolution's output is channels-last in memory: each window offset's values then come in
    runs of C contiguous values, between the runs of the window's other offsets.
    """
    for axis in (1, 0):
        if all(1 < a.shape[axis] and a.strides[axis] == a.itemsize and a.shape[axis] * a.itemsize <= _SHORT_RUN_BYTES
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
    moved = np.moveaxis(a, axis, -1)
    return moved.view(np.dtype((np.void, moved.shape[-1] * a.itemsize)))[..., 0]


def _first_max_choice(x, out, kernel):
    """For every window, the offset (row-major index inside the window) of its first maximum.

    One element per window is chosen, so ties (all-zero windows after a ReLU) send the whole
    gradient to one input, as PyTorch and JAX do. A window without any element equal to its
    maximum (one holding a NaN) gets prod(kernel), an offset no element has, so it passes no gradient.

    The index is the number of leading offsets that are not a maximum, counted pass by pass (the
    last offset needs no pass): only the reads of x are strided, every other pass runs over
    contiguous arrays in the memory order of ``out``. When x is channels-last (or batch-last) in
    memory, each offset's values are first gathered in whole runs of channels (see _runs). One
    small integer array replaces a boolean mask per offset.

    Shape: x (N, C, *spatial), out (N, C, *windows) -> (N, C, *windows), an unsigned integer type.
    """
    xr, outr = _raw(x), _raw(out)
    n_offsets = int(np.prod(kernel))
    choice = np.zeros_like(outr, dtype=np.min_scalar_type(n_offsets))
    slices = list(_window_slices(kernel))
    missed = np.empty_like(outr, dtype=bool)
    still_missed = np.empty_like(missed)
    axis = _run_axis(xr, outr)
    if axis is not None:
        gathered = np.empty_like(outr)
        x_runs, gathered_runs = _runs(xr, axis), _runs(gathered, axis)
    for k, index in enumerate(slices[:-1]):
        if axis is None:
            values = xr[index]
        else:
            # The folded axis is one of the two leading full slices, so dropping one leaves the rest.
            np.copyto(gathered_runs, x_runs[index[1:]])
            values = gathered
        np.not_equal(values, outr, out=missed if k == 0 else still_missed)
        if k > 0:
            np.logical_and(missed, still_missed, out=missed)
        # Booleans are bytes 0 and 1: viewed as uint8 they add without a conversion pass.
        np.add(choice, missed.view(np.uint8), out=choice)
    if outr.dtype.kind in "fc":
        # All offsets missed means the last one is the maximum, unless none is (a NaN window).
        np.add(choice, np.isnan(outr).view(np.uint8), out=choice)
    return choice


def _spread(g, choice, kernel, shape):
    """An array of ``shape`` holding g at each window's chosen offset and zeros elsewhere.

    Everything in the memory order of ``choice`` (that of the pooled input; channels-last after a
    convolution): the gradient is rearranged once if it arrives in another layout, and the result
    is allocated in that order. The offsets partition the array, so every element is written
    exactly once (no zero fill): straight into its strided place by the multiply, or, when the
    channels (or the batch) are innermost in memory, multiplied contiguously and then moved into
    place in whole runs (see _runs).
    """
    g = _in_memory_order_of(g, choice)
    spread = np.empty_like(choice, dtype=g.dtype, shape=shape)
    chosen = np.empty_like(choice, dtype=bool)
    axis = _run_axis(g, spread)
    if axis is not None:
        part = np.empty_like(g)
        part_runs, spread_runs = _runs(part, axis), _runs(spread, axis)
    for k, index in enumerate(_window_slices(kernel)):
        np.equal(choice, k, out=chosen)
        # Booleans viewed as uint8: float * uint8 is converted faster than float * bool.
        if axis is None:
            np.multiply(g, chosen.view(np.uint8), out=spread[index])
        else:
            np.multiply(g, chosen.view(np.uint8), out=part)
            np.copyto(spread_runs[index[1:]], part_runs)
    return spread


@register
class WindowSelect(Op):
    """z = x at the chosen offset of each non-overlapping window: sum over offsets o of [choice == o] x[o].

    With the first-maximum choice this is max pooling as a linear map; its transpose is window_spread.
    """

    name = "window_select"

    def forward(x, *, kernel, choice):
        selected = np.zeros_like(choice, dtype=x.dtype)
        term = np.empty_like(selected)
        for k, index in enumerate(_window_slices(kernel)):
            np.multiply(x[index], np.equal(choice, k).view(np.uint8), out=term)
            selected += term
        return selected

    def vjp(grad_out, out, x, *, kernel, choice):
        return (window_spread(grad_out, kernel, choice, x.shape),)

    def jvp(x_dot, out, x, *, kernel, choice):
        return window_select(x_dot, kernel, choice)


@register
class WindowSpread(Op):
    """The transpose of window_select: each window's value goes to its chosen element, zeros elsewhere."""

    name = "window_spread"

    def forward(g, *, kernel, choice, shape):
        return _spread(np.asarray(g), choice, kernel, shape)

    def vjp(grad_out, out, g, *, kernel, choice, shape):
        return (window_select(grad_out, kernel, choice),)

    def jvp(g_dot, out, g, *, kernel, choice, shape):
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
    (window_spread at the offsets of _first_max_choice); ties go to the first maximum in row-major
    order, as PyTorch and JAX. A window holding a NaN passes no gradient (PyTorch sends it to the
    NaN). Spatial sizes must be multiples of the kernel (the caller crops the remainder, as
    PyTorch's floor mode). Works in any memory layout; every array it makes follows x's.
    """

    name = "max_pool"

    def forward(x, *, kernel):
        slices = _window_slices(kernel)
        # order="K": keep x's memory order (channels-last after a convolution) for fast strided passes.
        # One pass per offset reads x once, while a convolution has just left it in cache; reducing
        # one kernel axis at a time has longer contiguous runs but writes and rereads an
        # intermediate half the size of x: faster on a warm micro-benchmark, slower inside a
        # training step (cnn-28: 0.46 against 0.36 ms for the first pool).
        out = np.array(x[next(slices)], copy=True, order="K")
        for index in slices:
            np.maximum(out, x[index], out=out)
        return out

    def vjp(grad_out, out, x, *, kernel):
        return (window_spread(grad_out, kernel, _first_max_choice(x, out, kernel), x.shape),)

    def jvp(x_dot, out, x, *, kernel):
        return window_select(x_dot, kernel, _first_max_choice(x, out, kernel))

    def flops(out, x, *, kernel):
        return int(np.size(x))


@register
class AvgPool(Op):
    """z = the mean of each non-overlapping window (kernel == stride) of x (N, C, *spatial).

    A primitive for speed, as MaxPool: a sum of strided slices forward, a broadcast backward.
    """

    name = "avg_pool"

    def forward(x, *, kernel):
        slices = _window_slices(kernel)
        out = np.array(x[next(slices)], copy=True, order="K")
        for index in slices:
            out += x[index]
        out *= out.dtype.type(1.0 / np.prod(kernel))
        return out

    def vjp(grad_out, out, x, *, kernel):
        shape = x.shape
        spread = expand_dims(grad_out * (1.0 / float(np.prod(kernel))), _kernel_axes(len(kernel)))
        return (reshape(broadcast_to(spread, _window_shape(shape, kernel)), shape),)

    def jvp(x_dot, out, x, *, kernel):
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
