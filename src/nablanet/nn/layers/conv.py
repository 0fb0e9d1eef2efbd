"""Convolutional layers: Conv1d and Conv2d (channels first, as PyTorch)."""

from __future__ import annotations

import numpy as np

from nablanet.checks import check_bool, check_float_dtype, check_int, check_ints
from nablanet.nn import functional as F
from nablanet.nn.activations import fusion
from nablanet.nn.init import get_initializer, make_rng
from nablanet.nn.layers.registry import register_layer
from nablanet.nn.module import ArraySpec, Module, Parameter

__all__ = ["Conv1d", "Conv2d"]


def _kernel_arguments(owner, in_channels, out_channels, kernel, stride, padding, dilation, bias, dtype) -> tuple:
    """A convolution's channels, bias and dtype, checked with its geometry (as F.conv will use it): by the
    constructor, and first by the state_spec, so that a wrong one is named before the memory of W is counted."""
    in_channels = check_int(owner, "in_channels", in_channels)
    out_channels = check_int(owner, "out_channels", out_channels)
    F.conv_geometry(kernel, stride, padding, dilation, owner)
    return in_channels, out_channels, check_bool(owner, "bias", bias), check_float_dtype(owner, dtype)


def _make_kernels(module, in_channels, out_channels, kernel, stride, padding, dilation, bias, init, rng, dtype):
    """W and b of a convolution, after checking every argument."""
    in_channels, out_channels, bias, dtype = _kernel_arguments(type(module).__name__, in_channels, out_channels,
                                                               kernel, stride, padding, dilation, bias, dtype)
    rng = make_rng(rng)
    module.W = Parameter(get_initializer(init)((out_channels, in_channels) + kernel, rng, dtype))
    module.b = Parameter(np.zeros(out_channels, dtype=dtype), regularize=False) if bias else None
    module.stride, module.padding, module.dilation = stride, padding, dilation


def _kernel_spec(owner, in_channels, out_channels, kernel, stride, padding, dilation, bias, dtype):
    in_channels, out_channels, bias, dtype = _kernel_arguments(owner, in_channels, out_channels, kernel, stride,
                                                               padding, dilation, bias, dtype)
    yield "W", ArraySpec((out_channels, in_channels) + kernel, np.dtype(dtype))
    if bias:
        yield "b", ArraySpec((out_channels,), np.dtype(dtype))


def _kernel_pair(kernel_size) -> tuple:
    return check_ints("Conv2d", "kernel_size", kernel_size, 2)


def _kernel_single(kernel_size) -> tuple:
    return (check_int("Conv1d", "kernel_size", kernel_size),)


def _set_activation(module, activation, alpha):
    module.activation = activation if activation is not None else "identity"
    module._fused, module._kernel_alpha, module.alpha, module._after = fusion(module.activation, alpha)


def _convolve(module, x):
    a = F.conv(x, module.W, module.b, module.stride, module.padding, module.dilation, module._fused,
               module._kernel_alpha)
    return a if module._after is None else module._after(a)


@register_layer("conv1d", size_argument="in_channels", size_axis=1)
class Conv1d(Module):
    """1-D convolution over signals (N, C_in, L): z[n, o, t] = b[o] + sum_{c,k} W[o, c, k] x[n, c, t s + k d].

    Args:
        in_channels, out_channels: C_in, C_out.
        kernel_size: K.
        stride, dilation: positive ints.
        padding: 'valid', 'same' (stride 1) or an int of zeros on each side.
        bias: add a bias per output channel.
        activation: applied to the output, a name or alias from nablanet.nn.ACTIVATIONS or a
            function; one with a fused kernel (relu, leaky_relu, elu, sigmoid, tanh) runs inside the
            convolution's matrix product (no extra pass), any other follows it.
        alpha: slope of leaky_relu or scale of elu; default: the activation's own (0.01, 1.0).
        init: kernel initializer (default "he_uniform": fan_in = C_in K).
        rng: numpy Generator or int seed.  dtype: parameter dtype.

    Shape:
        (N, C_in, L) -> (N, C_out, L_out), L_out = floor((L + 2 padding - d (K - 1) - 1) / s) + 1.

    Attributes:
        W: (C_out, C_in, K).  b: (C_out,) zeros.

    Example:
        >>> Conv1d(1, 4, 3, padding="same", rng=0)(np.zeros((2, 1, 10), dtype=np.float32)).shape
        (2, 4, 10)
    """

    repr_always = ("kernel_size", "stride", "padding")  # as PyTorch prints a convolution

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1, padding=0,
                 dilation: int = 1, bias: bool = True, activation=None, alpha: float | None = None,
                 init="he_uniform", rng=None, dtype=np.float32):
        _make_kernels(self, in_channels, out_channels, _kernel_single(kernel_size), stride, padding, dilation, bias,
                      init, rng, dtype)
        _set_activation(self, activation, alpha)

    @classmethod
    def state_spec(cls, in_channels, out_channels, kernel_size, *, stride=1, padding=0, dilation=1, bias=True,
                   dtype=np.float32, **options):
        return _kernel_spec(cls.__name__, in_channels, out_channels, _kernel_single(kernel_size), stride, padding,
                            dilation, bias, dtype)

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
        padding: 'valid', 'same' (stride 1), an int or a pair (zeros on both sides).
        bias: add a bias per output channel.
        activation: applied to the output, fused as in Conv1d.
        alpha: slope of leaky_relu or scale of elu; default: the activation's own (0.01, 1.0).
        init: kernel initializer (default "he_uniform": fan_in = C_in K_h K_w).
        rng: numpy Generator or int seed.  dtype: parameter dtype.

    Shape:
        (N, C_in, H, W) -> (N, C_out, H_out, W_out) with H_out = floor((H + 2 p_h - d_h (K_h - 1) - 1) / s_h) + 1.

    Attributes:
        W: (C_out, C_in, K_h, K_w).  b: (C_out,) zeros.

    Example:
        >>> Conv2d(1, 16, 3, padding=1, rng=0)(np.zeros((2, 1, 28, 28), dtype=np.float32)).shape
        (2, 16, 28, 28)
    """

    repr_always = ("kernel_size", "stride", "padding")  # as PyTorch prints a convolution

    def __init__(self, in_channels: int, out_channels: int, kernel_size, *, stride=1, padding=0, dilation=1,
                 bias: bool = True, activation=None, alpha: float | None = None, init="he_uniform", rng=None,
                 dtype=np.float32):
        _make_kernels(self, in_channels, out_channels, _kernel_pair(kernel_size), stride, padding, dilation, bias,
                      init, rng, dtype)
        _set_activation(self, activation, alpha)

    @classmethod
    def state_spec(cls, in_channels, out_channels, kernel_size, *, stride=1, padding=0, dilation=1, bias=True,
                   dtype=np.float32, **options):
        return _kernel_spec(cls.__name__, in_channels, out_channels, _kernel_pair(kernel_size), stride, padding,
                            dilation, bias, dtype)

    def forward(self, x):
        return _convolve(self, x)
