"""Pooling and reshaping layers: max and average pooling (1-D, 2-D), global average pooling, Flatten."""

from __future__ import annotations

import numpy as np

from nablanet.autodiff import ops
from nablanet.nn import functional as F
from nablanet.nn.layers.registry import register_layer
from nablanet.nn.module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "GlobalAvgPool", "Flatten"]


@register_layer("maxpool1d")
class MaxPool1d(Module):
    """Maximum over windows of length kernel_size of (N, C, L); stride defaults to kernel_size.

    Example:
        >>> import numpy as np
        >>> MaxPool1d(2)(np.arange(6.0).reshape(1, 1, 6)).tolist()
        [[[1.0, 3.0, 5.0]]]
    """

    repr_always = ("kernel_size", "stride", "padding")

    def __init__(self, kernel_size: int, stride=None, padding=0):
        _set_windows(self, kernel_size, stride, padding, 1)

    def forward(self, x):
        return F.max_pool(_checked_input(self, x), self._kernel, self._stride, self.padding)


@register_layer("maxpool2d")
class MaxPool2d(Module):
    """Maximum over kernel_size windows of (N, C, H, W); stride defaults to kernel_size.

    A 2x2 pool with stride 2 is a reshape and a maximum (no patch matrix is built).
    """

    repr_always = ("kernel_size", "stride", "padding")

    def __init__(self, kernel_size, stride=None, padding=0):
        _set_windows(self, kernel_size, stride, padding, 2)

    def forward(self, x):
        return F.max_pool(_checked_input(self, x), self._kernel, self._stride, self.padding)


@register_layer("avgpool1d")
class AvgPool1d(Module):
    """Mean over windows of length kernel_size of (N, C, L)."""

    repr_always = ("kernel_size", "stride", "padding")

    def __init__(self, kernel_size: int, stride=None, padding=0):
        _set_windows(self, kernel_size, stride, padding, 1)

    def forward(self, x):
        return F.avg_pool(_checked_input(self, x), self._kernel, self._stride, self.padding)


@register_layer("avgpool2d")
class AvgPool2d(Module):
    """Mean over kernel_size windows of (N, C, H, W) (padding zeros count, as PyTorch's default)."""

    repr_always = ("kernel_size", "stride", "padding")

    def __init__(self, kernel_size, stride=None, padding=0):
        _set_windows(self, kernel_size, stride, padding, 2)

    def forward(self, x):
        return F.avg_pool(_checked_input(self, x), self._kernel, self._stride, self.padding)


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
