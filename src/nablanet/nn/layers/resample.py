"""Upsampling: Upsample (nearest, linear, bilinear), as PyTorch's, from the engine's indexing and matmul ops."""

from __future__ import annotations

import math

import numpy as np

from nablanet.autodiff import ops
from nablanet.checks import check_bool, check_choice, check_int, check_real
from nablanet.nn.layers.registry import register_layer
from nablanet.nn.module import Module

__all__ = ["Upsample"]

#: Upsample's modes and the number of spatial axes each applies to (None: any).
MODES = {"nearest": None, "linear": 1, "bilinear": 2}


def _nearest_sources(size: int, out: int, scale: float | None) -> np.ndarray:
    """PyTorch's 'nearest': output j reads input floor(j * s), s = 1 / scale_factor if given, else L / O."""
    step = size / out if scale is None else 1.0 / scale
    return np.minimum(np.floor(np.arange(out) * step).astype(np.intp), size - 1)


def _linear_weights(size: int, out: int, scale: float | None, align_corners: bool, dtype) -> np.ndarray:
    """The (O, L) matrix of linear interpolation along one axis, PyTorch's source positions:

        align_corners:      u_j = j (L - 1) / (O - 1)              (0 for O = 1)
        otherwise:          u_j = max((j + 1/2) s - 1/2, 0),  s = 1 / scale_factor if given, else L / O

    and row j weights inputs floor(u_j) and floor(u_j) + 1 (clamped to L - 1) by 1 - t and t, t = u_j - floor(u_j).
    """
    j = np.arange(out, dtype=np.float64)
    if align_corners:
        source = j * ((size - 1) / (out - 1)) if out > 1 else np.zeros(out)
    else:
        step = size / out if scale is None else 1.0 / scale
        source = np.maximum((j + 0.5) * step - 0.5, 0.0)
    left = np.minimum(np.floor(source).astype(np.intp), size - 1)
    right = np.minimum(left + 1, size - 1)
    t = source - left
    weights = np.zeros((out, size))
    np.add.at(weights, (np.arange(out), left), 1.0 - t)
    np.add.at(weights, (np.arange(out), right), t)
    return weights.astype(dtype)


def interpolate(x, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None):
    """x (N, C, *spatial) resized to ``size`` or by ``scale_factor`` (PyTorch's functional interpolate for
    these modes): 'nearest' gathers, 'linear' and 'bilinear' multiply each spatial axis by its interpolation
    matrix (one matmul per axis), so the gradient is the matrices' transposes applied back."""
    values = x.data if hasattr(x, "_data") else np.asarray(x)
    n_spatial = values.ndim - 2
    sizes, scales = _output_sizes(values.shape, size, scale_factor, "interpolate")
    for k in range(n_spatial):
        axis = 2 + k
        length, out = values.shape[axis], sizes[k]
        if mode == "nearest":
            x = ops.take(x, _nearest_sources(length, out, scales[k]), axis=axis)
            continue
        weights = _linear_weights(length, out, scales[k], bool(align_corners), values.dtype)
        # (..., L) @ (L, O) along the last axis, the axis moved there and back.
        x = ops.moveaxis(ops.matmul(ops.moveaxis(x, axis, -1), weights.T), -1, axis)
    return x


def _output_sizes(shape, size, scale_factor, owner) -> tuple:
    n_spatial = len(shape) - 2
    if scale_factor is None:
        return tuple(size), (None,) * n_spatial
    return tuple(int(math.floor(m * s)) for m, s in zip(shape[2:], scale_factor)), tuple(scale_factor)


@register_layer("upsample")
class Upsample(Module):
    """Upsampling of (N, C, L) or (N, C, H, W), as PyTorch's Upsample: to ``size``, or by ``scale_factor``
    (output size floor(L * scale_factor)).

    Modes (PyTorch's index rules, see ``_nearest_sources`` and ``_linear_weights``):

    - ``nearest``: output j copies input floor(j / scale_factor) (floor(j L / O) with a size); any number
      of axes.
    - ``linear`` (1-D), ``bilinear`` (2-D): linear interpolation along each axis between neighbouring
      inputs; with align_corners the first and last outputs sit on the first and last inputs, otherwise
      the outputs' pixel centres are spread over the inputs' (PyTorch's default, align_corners=False).

    Args:
        size: the output's spatial size, an int or one per axis.
        scale_factor: or the factor, a positive number or one per axis.
        mode: "nearest", "linear" or "bilinear".
        align_corners: for linear and bilinear only (None: False).

    Example:
        >>> Upsample(scale_factor=2)(np.array([[[1.0, 2.0]]])).tolist()
        [[[1.0, 1.0, 2.0, 2.0]]]
    """

    repr_always = ("mode",)

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None):
        self.mode = check_choice("Upsample", "mode", mode, tuple(MODES))
        if align_corners is not None:
            check_bool("Upsample", "align_corners", align_corners)
            if mode == "nearest":
                raise ValueError("Upsample: align_corners applies to the linear and bilinear modes only, not 'nearest'")
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor")
        self.size, self.scale_factor, self.align_corners = size, scale_factor, align_corners
        for value in (size, scale_factor):
            for item in value if isinstance(value, (tuple, list)) else (value,):
                if value is size and item is not None:
                    check_int("Upsample", "size", item)
                elif item is not None:
                    check_real("Upsample", "scale_factor", item, low=0.0, low_open=True)

    def forward(self, x):
        shape = np.shape(x.data if hasattr(x, "_data") else x)
        n_spatial = len(shape) - 2
        axes = MODES[self.mode]
        if n_spatial < 1 or (axes is not None and n_spatial != axes):
            expected = {1: "(N, C, L)", 2: "(N, C, H, W)", None: "(N, C, *spatial)"}[axes]
            raise ValueError(f"Upsample(mode={self.mode!r}): expected input of shape {expected}, got {shape}")
        size, scale = self.size, self.scale_factor
        size = None if size is None else _per_axis("size", size, n_spatial)
        scale = None if scale is None else _per_axis("scale_factor", scale, n_spatial)
        return interpolate(x, size, scale, self.mode, self.align_corners)


def _per_axis(name, value, n_spatial) -> tuple:
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n_spatial
    if len(values) != n_spatial:
        raise ValueError(f"Upsample: {name} must be one value or {n_spatial} of them for this input, got {value!r}")
    return values
