"""Pooling and reshaping layers: max and average pooling (1-D, 2-D), adaptive pooling to an output size, global
average pooling, Flatten."""

from __future__ import annotations

import numpy as np

from nablanet.autodiff import ops
from nablanet.checks import check_bool, check_int, check_ints
from nablanet.nn import functional as F
from nablanet.nn.layers.registry import register_layer
from nablanet.nn.module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
           "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "GlobalAvgPool", "Flatten"]


class _MaxPool(Module):
    """Maximum over windows of each channel, as PyTorch's MaxPool1d/2d; stride defaults to kernel_size.

    Args:
        kernel_size, stride: ints (or one per spatial axis).
        padding: -inf on both sides of each axis, at most half the kernel.
        dilation: the spacing of a window's elements.
        return_indices: return (output, indices) as PyTorch's: where each maximum is, as the flat index
            into its channel's spatial axes (int64); MaxUnpool's argument.
        ceil_mode: round the number of windows up (a last, partial window is kept), as PyTorch's.

    Shape:
        (N, C, *L) -> (N, C, *L_out), L_out = floor((L + 2 padding - dilation (kernel - 1) - 1) / stride) + 1
        (ceil with ceil_mode, less one if the last window would start in the right padding).

    Notes:
        With the defaults, a 2x2 pool with stride 2 is a reshape and a maximum (no patch matrix is built);
        see F.max_pool for how ties share the gradient.
    """

    _spatial = 1
    repr_always = ("kernel_size", "stride", "padding")

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        _set_windows(self, kernel_size, stride, padding, self._spatial)
        owner = type(self).__name__
        self.dilation = dilation
        self._dilation = check_ints(owner, "dilation", dilation, self._spatial)
        self.return_indices = check_bool(owner, "return_indices", return_indices)
        self.ceil_mode = check_bool(owner, "ceil_mode", ceil_mode)

    def forward(self, x):
        return F.max_pool(_checked_input(self, x), self._kernel, self._stride, self.padding, self._dilation,
                          self.ceil_mode, self.return_indices)


@register_layer("maxpool1d")
class MaxPool1d(_MaxPool):
    """Maximum over windows of length kernel_size of (N, C, L); see _MaxPool for the arguments.

    Example:
        >>> import numpy as np
        >>> MaxPool1d(2)(np.arange(6.0).reshape(1, 1, 6)).tolist()
        [[[1.0, 3.0, 5.0]]]
        >>> MaxPool1d(2, ceil_mode=True, return_indices=True)(np.arange(5.0).reshape(1, 1, 5))[1].tolist()
        [[[1, 3, 4]]]
    """

    _spatial = 1


@register_layer("maxpool2d")
class MaxPool2d(_MaxPool):
    """Maximum over kernel_size windows of (N, C, H, W); see _MaxPool for the arguments.

    A 2x2 pool with stride 2 is a reshape and a maximum (no patch matrix is built).
    """

    _spatial = 2


class _AvgPool(Module):
    """Mean over windows of each channel, as PyTorch's AvgPool1d/2d; stride defaults to kernel_size.

    Args:
        kernel_size, stride: ints (or one per spatial axis).
        padding: zeros on both sides of each axis, at most half the kernel.
        ceil_mode: round the number of windows up (a last, partial window is kept), as PyTorch's; a
            partial window's mean is over what it covers of the input and the padding.
        count_include_pad: whether the padded zeros count in the means (PyTorch's default True); with
            False each mean is over the window's input elements only.
    """

    _spatial = 1
    repr_always = ("kernel_size", "stride", "padding")

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True):
        _set_windows(self, kernel_size, stride, padding, self._spatial)
        owner = type(self).__name__
        self.ceil_mode = check_bool(owner, "ceil_mode", ceil_mode)
        self.count_include_pad = check_bool(owner, "count_include_pad", count_include_pad)

    def forward(self, x):
        return F.avg_pool(_checked_input(self, x), self._kernel, self._stride, self.padding, self.ceil_mode,
                          self.count_include_pad)


@register_layer("avgpool1d")
class AvgPool1d(_AvgPool):
    """Mean over windows of length kernel_size of (N, C, L); see _AvgPool for the arguments.

    Example:
        >>> AvgPool1d(2, padding=1, count_include_pad=False)(np.arange(4.0).reshape(1, 1, 4)).tolist()
        [[[0.0, 1.5, 3.0]]]
    """

    _spatial = 1


@register_layer("avgpool2d")
class AvgPool2d(_AvgPool):
    """Mean over kernel_size windows of (N, C, H, W) (padding zeros count, as PyTorch's default); see _AvgPool."""

    _spatial = 2


def adaptive_windows(size: int, output_size: int) -> list:
    """PyTorch's windows of adaptive pooling along one axis: output i pools [floor(i L / O), ceil((i + 1) L / O))."""
    return [(i * size // output_size, -(-(i + 1) * size // output_size)) for i in range(output_size)]


def adaptive_pool(x, output_size, reduce, owner: str = "adaptive_pool"):
    """Pool (N, C, *spatial) or (C, *spatial) to ``output_size`` (one per spatial axis, None: the input's size),
    each output over PyTorch's window (adaptive_windows), with ``reduce`` (ops.mean or ops.max).

    A rectangular window's mean (or maximum) is that over one axis of that over the other, so the axes
    are pooled one at a time: windows of equal size (L divisible by O) as one reshape and reduction, others
    one slice each, joined.
    """
    shape = np.shape(x.data if hasattr(x, "_data") else x)
    n_spatial = len(output_size)
    if len(shape) not in (n_spatial + 1, n_spatial + 2):
        axes = "L" if n_spatial == 1 else "H, W"
        raise ValueError(f"{owner}: expected input of shape (N, C, {axes}) or (C, {axes}), got {shape}")
    for k, out in enumerate(output_size):
        axis = len(shape) - n_spatial + k
        size = np.shape(x.data if hasattr(x, "_data") else x)[axis]
        out = size if out is None else out
        if out == size:
            continue
        if size % out == 0:
            current = np.shape(x.data if hasattr(x, "_data") else x)
            split = current[:axis] + (out, size // out) + current[axis + 1:]
            x = reduce(ops.reshape(x, split), axis=axis + 1)
            continue
        index = (slice(None),) * axis
        x = ops.concatenate([reduce(x[index + (slice(start, end),)], axis=axis, keepdims=True)
                             for start, end in adaptive_windows(size, out)], axis=axis)
    return x


def _adaptive_output_size(owner, output_size, n_spatial: int) -> tuple:
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * n_spatial
    if len(sizes) != n_spatial:
        raise ValueError(f"{owner}: output_size must be one size or {n_spatial} of them, got {output_size!r}")
    return tuple(None if size is None else check_int(owner, "output_size", size) for size in sizes)


class _AdaptivePool(Module):
    """Pooling to a given output size whatever the input's, as PyTorch's adaptive pools: output i along an axis
    of length L pools the window [floor(i L / O), ceil((i + 1) L / O)) (windows overlap when O does not divide L).

    Args:
        output_size: O, an int or one per spatial axis (None keeps that axis's size).
    """

    _spatial = 1
    _reduce = staticmethod(ops.mean)

    def __init__(self, output_size):
        self.output_size = output_size
        self._sizes = _adaptive_output_size(type(self).__name__, output_size, self._spatial)

    def forward(self, x):
        return adaptive_pool(x, self._sizes, self._reduce, type(self).__name__)


@register_layer("adaptiveavgpool1d")
class AdaptiveAvgPool1d(_AdaptivePool):
    """Mean over adaptive windows: (N, C, L) -> (N, C, O); see _AdaptivePool.

    Example:
        >>> AdaptiveAvgPool1d(2)(np.arange(5.0).reshape(1, 1, 5)).tolist()
        [[[1.0, 3.0]]]
    """

    _spatial = 1
    _reduce = staticmethod(ops.mean)


@register_layer("adaptiveavgpool2d")
class AdaptiveAvgPool2d(_AdaptivePool):
    """Mean over adaptive windows: (N, C, H, W) -> (N, C, O_h, O_w); AdaptiveAvgPool2d(1) is global average
    pooling keeping the spatial axes. See _AdaptivePool."""

    _spatial = 2
    _reduce = staticmethod(ops.mean)


@register_layer("adaptivemaxpool1d")
class AdaptiveMaxPool1d(_AdaptivePool):
    """Maximum over adaptive windows: (N, C, L) -> (N, C, O); see _AdaptivePool. Tied maxima share the gradient
    (the max reduction's rule), where PyTorch gives it to the first."""

    _spatial = 1
    _reduce = staticmethod(ops.max)


@register_layer("adaptivemaxpool2d")
class AdaptiveMaxPool2d(_AdaptivePool):
    """Maximum over adaptive windows: (N, C, H, W) -> (N, C, O_h, O_w); see AdaptiveMaxPool1d."""

    _spatial = 2
    _reduce = staticmethod(ops.max)


@register_layer("globalavgpool")
class GlobalAvgPool(Module):
    """Mean over every spatial position: (N, C, *spatial) -> (N, C)."""

    def forward(self, x):
        return F.global_avg_pool(x)


@register_layer("flatten")
class Flatten(Module):
    """(N, *rest) -> (N, prod(rest)), to go from convolutional to dense layers."""

    def forward(self, x):
        return ops.reshape(x, (x.shape[0], -1))


def _set_windows(module, kernel_size, stride, padding, n_spatial: int) -> None:
    """Keep the arguments as given, and the windows as one size per spatial axis, checked as the pooling
    function checks them (a 2-D pool then refuses a 1-D input instead of pooling it)."""
    module.kernel_size, module.stride, module.padding = kernel_size, stride, padding
    module._kernel, module._stride, _ = F.pool_geometry(kernel_size, stride, padding, n_spatial, type(module).__name__)


def _checked_input(module, x):
    shape = np.shape(x.data if hasattr(x, "_data") else x)
    if len(shape) != 2 + len(module._kernel):
        axes = "L" if len(module._kernel) == 1 else "H, W"
        raise ValueError(f"{type(module).__name__}: expected input of shape (N, C, {axes}), got {shape}")
    return x
