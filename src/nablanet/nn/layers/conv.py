"""Convolutional layers: Conv1d and Conv2d (grouped and depthwise too), ConvTranspose1d and ConvTranspose2d
(channels first, as PyTorch)."""

from __future__ import annotations

import numpy as np

from nablanet.autodiff import ops
from nablanet.autodiff.ops.conv import col2im, conv_output_size, im2col
from nablanet.checks import check_bool, check_choice, check_float_dtype, check_int, check_ints
from nablanet.nn import functional as F
from nablanet.nn.activations import activation_record, fusion
from nablanet.nn.init import get_initializer, make_rng
from nablanet.nn.layers.registry import register_layer
from nablanet.nn.module import ArraySpec, Module, Parameter

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]


def _kernel_arguments(owner, in_channels, out_channels, kernel, stride, padding, dilation, bias, dtype,
                      groups=1, padding_mode="zeros") -> tuple:
    """A convolution's channels, groups, bias and dtype, checked with its geometry (as F.conv will use it): by
    the constructor, and first by the state_spec, so that a wrong one is named before the memory of W is counted."""
    in_channels = check_int(owner, "in_channels", in_channels)
    out_channels = check_int(owner, "out_channels", out_channels)
    groups = check_int(owner, "groups", groups)
    for name, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
        if channels % groups:
            raise ValueError(f"{owner}: {name} ({channels}) must be divisible by groups ({groups})")
    check_choice(owner, "padding_mode", padding_mode, tuple(F.PADDING_MODES))
    if owner.startswith("ConvTranspose"):
        if padding_mode != "zeros":
            # PyTorch's refusal too: the transposed convolution's padding crops its output, it adds nothing.
            raise ValueError(f"{owner}: padding_mode must be 'zeros' for a transposed convolution, got "
                             f"{padding_mode!r}")
        _transposed_geometry(owner, kernel, stride, padding, dilation, 0)
    else:
        F.conv_geometry(kernel, stride, padding, dilation, owner)
    return in_channels, out_channels, groups, check_bool(owner, "bias", bias), check_float_dtype(owner, dtype)


def _kernel_shape(owner, in_channels, out_channels, groups, kernel) -> tuple:
    """W's shape: (C_out, C_in / groups, *kernel), or (C_in, C_out / groups, *kernel) transposed, as PyTorch."""
    if owner.startswith("ConvTranspose"):
        return (in_channels, out_channels // groups) + kernel
    return (out_channels, in_channels // groups) + kernel


def _make_kernels(module, in_channels, out_channels, kernel, stride, padding, dilation, bias, init, rng, dtype,
                  groups=1, padding_mode="zeros"):
    """W and b of a convolution, after checking every argument."""
    owner = type(module).__name__
    in_channels, out_channels, groups, bias, dtype = _kernel_arguments(owner, in_channels, out_channels, kernel,
                                                                       stride, padding, dilation, bias, dtype, groups,
                                                                       padding_mode)
    rng = make_rng(rng)
    module.W = Parameter(get_initializer(init)(_kernel_shape(owner, in_channels, out_channels, groups, kernel), rng,
                                               dtype))
    module.b = Parameter(np.zeros(out_channels, dtype=dtype), regularize=False) if bias else None
    module.stride, module.padding, module.dilation, module.groups = stride, padding, dilation, groups
    module.padding_mode = padding_mode


def _kernel_spec(owner, in_channels, out_channels, kernel, stride, padding, dilation, bias, dtype, groups=1,
                 padding_mode="zeros"):
    in_channels, out_channels, groups, bias, dtype = _kernel_arguments(owner, in_channels, out_channels, kernel,
                                                                       stride, padding, dilation, bias, dtype, groups,
                                                                       padding_mode)
    yield "W", ArraySpec(_kernel_shape(owner, in_channels, out_channels, groups, kernel), np.dtype(dtype))
    if bias:
        yield "b", ArraySpec((out_channels,), np.dtype(dtype))


def _kernel_pair(kernel_size, owner) -> tuple:
    return check_ints(owner, "kernel_size", kernel_size, 2)


def _kernel_single(kernel_size, owner) -> tuple:
    return (check_int(owner, "kernel_size", kernel_size),)


def _set_activation(module, activation, alpha):
    module.activation = activation if activation is not None else "identity"
    module._fused, module._kernel_alpha, module.alpha, module._after = fusion(module.activation, alpha)


def _convolve(module, x):
    if module.groups > 1:
        return _activated(module, grouped_conv(x, module.W, module.b, module.stride, module.padding, module.dilation,
                                               module.groups, type(module).__name__, module.padding_mode))
    a = F.conv(x, module.W, module.b, module.stride, module.padding, module.dilation, module._fused,
               module._kernel_alpha, module.padding_mode, owner=type(module).__name__)
    return a if module._after is None else module._after(a)


def _activated(module, z):
    """sigma(z) for a convolution computed outside the fused primitive (grouped, transposed)."""
    if module._after is not None:
        return module._after(z)
    if module._fused == "identity":
        return z
    record = activation_record(module.activation)
    return record.function(z) if record.alpha is None else record.function(z, alpha=module.alpha)


def _values(x):
    return x.data if hasattr(x, "_data") else np.asarray(x)


def _with_bias(z, b):
    return z if b is None else z + ops.reshape(b, (1, -1) + (1,) * (len(np.shape(_values(z))) - 2))


def grouped_conv(x, W, b=None, stride=1, padding=0, dilation=1, groups=1, owner="grouped_conv", padding_mode="zeros"):
    """Convolution with the channels in ``groups`` groups, each group's outputs reading only its own inputs
    (groups = C_in: depthwise), as PyTorch's ``groups=``:

        z[n, g C_out/G + o, p] = b + sum_{c < C_in/G, k} W[g C_out/G + o, c, k] x[n, g C_in/G + c, p s + k d]

    The receptive fields as rows (im2col), split by group, and one einsum contracts each group's rows with
    its kernels; the gradients are the einsum's and im2col's.

    The padding is F.conv's (ints, pairs, 'same', 'valid'), filled as ``padding_mode`` says (F.pad_spatial).

    Shape: x (N, C_in, *spatial), W (C_out, C_in / G, *kernel) -> (N, C_out, *out_spatial).
    """
    x_shape, W_shape = np.shape(_values(x)), np.shape(_values(W))
    kernel = tuple(W_shape[2:])
    if len(x_shape) != len(W_shape) or x_shape[1] != W_shape[1] * groups:
        raise ValueError(f"{owner}: input of shape {x_shape} does not fit kernels of shape {W_shape} in {groups} "
                         f"groups (expected (N, {W_shape[1] * groups}, {len(kernel)} spatial dimensions))")
    stride, dilation, widths = F.conv_geometry(kernel, stride, padding, dilation, owner)
    x = F.pad_spatial(x, widths, padding_mode, owner)
    rows = im2col(x, kernel, stride, dilation)  # (N, P, K C_in), the kernel offset slowest
    n, positions = np.shape(_values(rows))[:2]
    size = int(np.prod(kernel))
    rows = ops.reshape(rows, (n, positions, size, groups, W_shape[1]))
    kernels = ops.reshape(W, (groups, W_shape[0] // groups, W_shape[1], size))
    z = ops.einsum("npkgc,gock->npgo", rows, kernels, optimize=True)
    padded = np.shape(_values(x))[2:]
    out = tuple(conv_output_size(m, k, s, d) for m, k, s, d in zip(padded, kernel, stride, dilation))
    z = ops.moveaxis(ops.reshape(z, (n,) + out + (W_shape[0],)), -1, 1)
    return _with_bias(z, b)


def _transposed_geometry(owner, kernel, stride, padding, dilation, output_padding) -> tuple:
    n = len(kernel)
    stride = check_ints(owner, "stride", stride, n)
    padding = check_ints(owner, "padding", padding, n, minimum=0)
    dilation = check_ints(owner, "dilation", dilation, n)
    output_padding = check_ints(owner, "output_padding", output_padding, n, minimum=0)
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= max(s, d):
            raise ValueError(f"{owner}: output_padding must be smaller than the stride or the dilation, got "
                             f"output_padding {output_padding} with stride {stride} and dilation {dilation}")
    return stride, padding, dilation, output_padding


def conv_transpose(x, W, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1,
                   owner="conv_transpose"):
    """The transposed convolution (PyTorch's conv_transpose, the "deconvolution"): the map whose matrix is the
    transpose of the convolution's, so that every input value adds its kernel-weighted copy into the output
    at its strided position (overlaps accumulate):

        y[n, o, p s + k d - padding] += W[c, o, k] x[n, c, p]

    Computed as the convolution's input gradient is: each input position's row x[n, :, p] times W as a
    (C_in, K C_out) matrix (one einsum per group), and the rows added back into the image by col2im; the
    output is then cropped by ``padding`` on both sides and grown by ``output_padding`` at the end.

    Shape: x (N, C_in, *L), W (C_in, C_out / groups, *kernel) -> (N, C_out, *L_out),
        L_out = (L - 1) s - 2 padding + d (K - 1) + output_padding + 1.
    """
    x_shape, W_shape = np.shape(_values(x)), np.shape(_values(W))
    kernel = tuple(W_shape[2:])
    if len(x_shape) != len(W_shape) or x_shape[1] != W_shape[0]:
        raise ValueError(f"{owner}: input of shape {x_shape} does not fit kernels of shape {W_shape} (expected "
                         f"(N, {W_shape[0]}, {len(kernel)} spatial dimensions))")
    stride, padding, dilation, output_padding = _transposed_geometry(owner, kernel, stride, padding, dilation,
                                                                     output_padding)
    n, c_in, spatial = x_shape[0], x_shape[1], x_shape[2:]
    c_out, size = W_shape[1] * groups, int(np.prod(kernel))
    rows = ops.reshape(ops.moveaxis(x, 1, -1), (n, -1, groups, c_in // groups))
    # W (C_in, C_out/G, *kernel) as (G, C_in/G, K, C_out/G): each row's columns in im2col's order (kernel offset
    # slowest, output channel fastest).
    kernels = ops.swapaxes(ops.reshape(W, (groups, c_in // groups, W_shape[1], size)), -1, -2)
    columns = ops.reshape(ops.einsum("npgc,gcko->npkgo", rows, kernels, optimize=True), (n, -1, size * c_out))
    full = tuple((m - 1) * s + d * (k - 1) + 1 for m, k, s, d in zip(spatial, kernel, stride, dilation))
    y = col2im(columns, (n, c_out) + full, kernel, stride, dilation)
    if any(output_padding):
        y = ops.pad(y, ((0, 0), (0, 0)) + tuple((0, op) for op in output_padding))
    crop = tuple(slice(p, m + op - p) for p, m, op in zip(padding, full, output_padding))
    if any(padding):
        if any(c.stop <= c.start for c in crop):
            raise ValueError(f"{owner}: padding {padding} leaves no output for an input of shape {x_shape}")
        y = y[(slice(None), slice(None)) + crop]
    return _with_bias(y, b)


@register_layer("conv1d", size_argument="in_channels", size_axis=1)
class Conv1d(Module):
    """1-D convolution over signals (N, C_in, L): z[n, o, t] = b[o] + sum_{c,k} W[o, c, k] x[n, c, t s + k d].

    Args:
        in_channels, out_channels: C_in, C_out.
        kernel_size: K.
        stride, dilation: positive ints.
        padding: 'valid', 'same' (stride 1), an int (each side), or ((before, after),) for asymmetric padding.
        padding_mode: what the padding holds, as PyTorch's: 'zeros', 'reflect' (mirrored about the edge
            element), 'replicate' (the edge element repeated) or 'circular' (the other end's elements).
        groups: G, dividing C_in and C_out: each group of C_out / G outputs reads only its C_in / G inputs
            (G = C_in: depthwise); see grouped_conv. W is then (C_out, C_in / G, K).
        bias: add a bias per output channel.
        activation: applied to the output, a name or alias from nablanet.nn.ACTIVATIONS or a
            function; one with a fused kernel (relu, leaky_relu, elu, sigmoid, tanh) runs inside the
            convolution's matrix product (no extra pass), any other follows it.
        alpha: slope of leaky_relu or scale of elu; default: the activation's own (0.01, 1.0).
        init: kernel initializer (default "he_uniform": fan_in = C_in K).
        rng: numpy Generator or int seed.  dtype: parameter dtype.

    Shape:
        (N, C_in, L) -> (N, C_out, L_out), L_out = floor((L + before + after - d (K - 1) - 1) / s) + 1, where
        before = after = padding for an int.

    Attributes:
        W: (C_out, C_in, K).  b: (C_out,) zeros.

    Example:
        >>> Conv1d(1, 4, 3, padding="same", rng=0)(np.zeros((2, 1, 10), dtype=np.float32)).shape
        (2, 4, 10)
    """

    repr_always = ("kernel_size", "stride", "padding")  # as PyTorch prints a convolution

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1, padding=0,
                 dilation: int = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros", activation=None,
                 alpha: float | None = None, init="he_uniform", rng=None, dtype=np.float32):
        _make_kernels(self, in_channels, out_channels, _kernel_single(kernel_size, "Conv1d"), stride, padding,
                      dilation, bias, init, rng, dtype, groups, padding_mode)
        _set_activation(self, activation, alpha)

    @classmethod
    def state_spec(cls, in_channels, out_channels, kernel_size, *, stride=1, padding=0, dilation=1, groups=1,
                   bias=True, padding_mode="zeros", dtype=np.float32, **options):
        return _kernel_spec(cls.__name__, in_channels, out_channels, _kernel_single(kernel_size, cls.__name__),
                            stride, padding, dilation, bias, dtype, groups, padding_mode)

    def forward(self, x):
        return _convolve(self, x)


@register_layer("conv2d", size_argument="in_channels", size_axis=1)
class Conv2d(Module):
    """2-D convolution over images (N, C_in, H, W), computed as im2col + one matrix product.

        z[n, o, i, j] = b[o] + sum_{c, p, q} W[o, c, p, q] x[n, c, i s_h + p d_h, j s_w + q d_w]

    Args:
        in_channels, out_channels: C_in, C_out.
        kernel_size: an int or (K_h, K_w).
        stride, dilation: ints or pairs.
        padding: 'valid', 'same' (stride 1), an int or a pair (the same on both sides), or one (before, after)
            pair per axis, ((top, bottom), (left, right)), for asymmetric padding.
        padding_mode: 'zeros', 'reflect', 'replicate' or 'circular', as in Conv1d.
        groups: G, dividing C_in and C_out, as in Conv1d; W is then (C_out, C_in / G, K_h, K_w).
        bias: add a bias per output channel.
        activation: applied to the output, fused as in Conv1d.
        alpha: slope of leaky_relu or scale of elu; default: the activation's own (0.01, 1.0).
        init: kernel initializer (default "he_uniform": fan_in = C_in K_h K_w).
        rng: numpy Generator or int seed.  dtype: parameter dtype.

    Shape:
        (N, C_in, H, W) -> (N, C_out, H_out, W_out) with H_out = floor((H + top + bottom - d_h (K_h - 1) - 1) / s_h)
        + 1 (top = bottom = p_h for an int or a pair of ints), W_out likewise.

    Attributes:
        W: (C_out, C_in, K_h, K_w).  b: (C_out,) zeros.

    Example:
        >>> Conv2d(1, 16, 3, padding=1, rng=0)(np.zeros((2, 1, 28, 28), dtype=np.float32)).shape
        (2, 16, 28, 28)
    """

    repr_always = ("kernel_size", "stride", "padding")  # as PyTorch prints a convolution

    def __init__(self, in_channels: int, out_channels: int, kernel_size, *, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", activation=None,
                 alpha: float | None = None, init="he_uniform", rng=None, dtype=np.float32):
        _make_kernels(self, in_channels, out_channels, _kernel_pair(kernel_size, "Conv2d"), stride, padding,
                      dilation, bias, init, rng, dtype, groups, padding_mode)
        _set_activation(self, activation, alpha)

    @classmethod
    def state_spec(cls, in_channels, out_channels, kernel_size, *, stride=1, padding=0, dilation=1, groups=1,
                   bias=True, padding_mode="zeros", dtype=np.float32, **options):
        return _kernel_spec(cls.__name__, in_channels, out_channels, _kernel_pair(kernel_size, cls.__name__),
                            stride, padding, dilation, bias, dtype, groups, padding_mode)

    def forward(self, x):
        return _convolve(self, x)


class _ConvTranspose(Module):
    """Transposed convolution, as PyTorch's ConvTranspose1d/2d: the transpose of the convolution with the same
    arguments (its input gradient), which maps a convolution's output size back to its input size; the
    decoders of autoencoders and U-Nets upsample with it. See conv_transpose for the formula.

    Args:
        in_channels, out_channels: C_in, C_out.
        kernel_size: K (an int, or a pair for 2-D).
        stride, dilation: positive ints (or pairs).
        padding: removed from both ends of the output (ints or pairs), as PyTorch's.
        output_padding: added at the end of the output, less than the stride or the dilation, to choose
            among the input sizes a strided convolution maps to the same output size.
        groups: dividing C_in and C_out; W is (C_in, C_out / groups, *K) as PyTorch's.
        bias: add a bias per output channel.
        padding_mode: 'zeros' only, as PyTorch's (the padding crops the output rather than filling it).
        activation, alpha: applied to the output, a name or a function (not fused).
        init: kernel initializer (default "he_uniform", fan_in = C_out / groups * prod(K), as PyTorch's).
        rng: numpy Generator or int seed.  dtype: parameter dtype.

    Shape:
        (N, C_in, *L) -> (N, C_out, *L_out), L_out = (L - 1) stride - 2 padding + dilation (K - 1) + output_padding + 1.
    """

    _spatial = 1
    repr_always = ("kernel_size", "stride", "padding")

    def __init__(self, in_channels: int, out_channels: int, kernel_size, *, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", activation=None,
                 alpha: float | None = None, init="he_uniform", rng=None, dtype=np.float32):
        owner = type(self).__name__
        kernel = check_ints(owner, "kernel_size", kernel_size, self._spatial)
        _make_kernels(self, in_channels, out_channels, kernel, stride, padding, dilation, bias, init, rng, dtype,
                      groups, padding_mode)
        _transposed_geometry(owner, kernel, stride, padding, dilation, output_padding)
        self.output_padding = output_padding
        _set_activation(self, activation, alpha)

    @classmethod
    def state_spec(cls, in_channels, out_channels, kernel_size, *, stride=1, padding=0, output_padding=0, groups=1,
                   bias=True, dilation=1, padding_mode="zeros", dtype=np.float32, **options):
        kernel = check_ints(cls.__name__, "kernel_size", kernel_size, cls._spatial)
        _transposed_geometry(cls.__name__, kernel, stride, padding, dilation, output_padding)
        return _kernel_spec(cls.__name__, in_channels, out_channels, kernel, stride, padding, dilation, bias, dtype,
                            groups, padding_mode)

    def forward(self, x):
        shape = np.shape(_values(x))
        if len(shape) != self._spatial + 2:
            axes = "L" if self._spatial == 1 else "H, W"
            raise ValueError(f"{type(self).__name__}: expected input of shape (N, C_in, {axes}), got {shape}")
        return _activated(self, conv_transpose(x, self.W, self.b, self.stride, self.padding, self.output_padding,
                                               self.groups, self.dilation, type(self).__name__))


@register_layer("convtranspose1d", size_argument="in_channels", size_axis=1)
class ConvTranspose1d(_ConvTranspose):
    """Transposed 1-D convolution of (N, C_in, L); see _ConvTranspose.

    Example:
        >>> ConvTranspose1d(4, 2, 3, stride=2, rng=0)(np.zeros((1, 4, 5), dtype=np.float32)).shape
        (1, 2, 11)
    """

    _spatial = 1


@register_layer("convtranspose2d", size_argument="in_channels", size_axis=1)
class ConvTranspose2d(_ConvTranspose):
    """Transposed 2-D convolution of (N, C_in, H, W); see _ConvTranspose.

    Example:
        >>> ConvTranspose2d(8, 4, 2, stride=2, rng=0)(np.zeros((1, 8, 7, 7), dtype=np.float32)).shape
        (1, 4, 14, 14)
    """

    _spatial = 2
