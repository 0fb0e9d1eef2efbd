"""Dropout: randomly silence units (Dropout) or whole channels (Dropout1d, Dropout2d) while training."""

from __future__ import annotations

import numpy as np

from nablanet.checks import check_real
from nablanet.autodiff.jit import tracing
from nablanet.nn.init import make_rng
from nablanet.nn.layers.registry import register_layer
from nablanet.nn.module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d"]


@register_layer("dropout")
class Dropout(Module):
    """Inverted dropout (Srivastava et al., 2014): in training, each input is zeroed with probability p
    and the survivors are scaled by 1/(1 - p), so evaluation needs no rescaling.

    In evaluation mode (``model.eval()``) it is the identity.

    Args:
        p: the probability of dropping a unit, in [0, 1).
        rng: numpy Generator or int seed for the masks (kept by the layer, so runs are reproducible).

    Shape:
        any -> the same.

    Example:
        >>> layer = Dropout(0.5, rng=0)
        >>> y = layer(np.ones((2, 4)))
        >>> sorted(set(np.asarray(y.data if hasattr(y, "data") else y).ravel().tolist()))
        [0.0, 2.0]
        >>> layer.eval()(np.ones(3)).tolist()
        [1.0, 1.0, 1.0]
    """

    repr_always = ("p",)

    def __init__(self, p: float = 0.5, *, rng=None):
        # p = 1 would scale the (no) survivors by 1 / 0.
        self.p = check_real("Dropout", "p", p, low=0.0, high=1.0, high_open=True)
        self.rng = make_rng(rng)

    def forward(self, x):
        return _dropped(self, x, lambda shape: shape)


def _dropped(module, x, mask_shape):
    """x times the inverted-dropout mask of ``mask_shape(x.shape)`` (broadcast over the rest) in training."""
    if not module.training or module.p == 0.0:
        return x
    values = x.data if hasattr(x, "_data") else np.asarray(x)
    dtype = values.dtype if values.dtype in (np.float32, np.float64) else np.float64
    # A random draw: through the hook, a compiled step draws a new mask at each replay.
    keep = tracing.call(_keep_mask, module, mask_shape(values.shape), dtype)
    return x * (keep * dtype.type(1.0 / (1.0 - module.p)))


def _keep_mask(module, shape, dtype):
    return module.rng.random(shape, dtype=dtype) >= module.p


class _ChannelDropout(Module):
    """Dropout of whole channels (Tompson et al., 2015), as PyTorch's Dropout1d and Dropout2d: in training each
    channel of each sample is zeroed with probability p (all its positions together) and the others scaled
    by 1/(1 - p); the identity in evaluation. Neighbouring positions of a feature map are strongly
    correlated, so dropping single values regularizes little; dropping channels does.

    Args:
        p: the probability of dropping a channel, in [0, 1).
        rng: numpy Generator or int seed for the masks.
    """

    _spatial = 1
    repr_always = ("p",)

    def __init__(self, p: float = 0.5, *, rng=None):
        self.p = check_real(type(self).__name__, "p", p, low=0.0, high=1.0, high_open=True)
        self.rng = make_rng(rng)

    def forward(self, x):
        shape = np.shape(x.data if hasattr(x, "_data") else x)
        if len(shape) not in (self._spatial + 1, self._spatial + 2):
            axes = "L" if self._spatial == 1 else "H, W"
            raise ValueError(f"{type(self).__name__}: expected input of shape (N, C, {axes}) or (C, {axes}), "
                             f"got {shape}")
        channels = len(shape) - self._spatial  # the axes (N, C) or (C,) that the mask varies along
        return _dropped(self, x, lambda shape: shape[:channels] + (1,) * self._spatial)


@register_layer("dropout1d")
class Dropout1d(_ChannelDropout):
    """Channel dropout of signals (N, C, L) or (C, L); see _ChannelDropout.

    Example:
        >>> y = Dropout1d(0.5, rng=0)(np.ones((2, 3, 4)))
        >>> sorted({tuple(row) for row in y.reshape(-1, 4).tolist()})
        [(0.0, 0.0, 0.0, 0.0), (2.0, 2.0, 2.0, 2.0)]
    """

    _spatial = 1


@register_layer("dropout2d")
class Dropout2d(_ChannelDropout):
    """Channel dropout of images (N, C, H, W) or (C, H, W); see _ChannelDropout."""

    _spatial = 2
