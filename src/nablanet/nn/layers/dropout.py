"""Dropout: randomly silence units (Dropout) or whole channels (Dropout1d, Dropout2d) while training."""

from __future__ import annotations

import numpy as np

from nablanet.checks import check_real
from nablanet.nn import functional as F
from nablanet.nn.init import make_rng
from nablanet.nn.layers.registry import register_layer
from nablanet.nn.module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d"]


@register_layer("dropout")
class Dropout(Module):
    """Inverted dropout (Srivastava et al., 2014): in training, each input is zeroed with probability p
    and the survivors are scaled by 1/(1 - p), so evaluation needs no rescaling (nablanet.nn.functional.dropout).

    In evaluation mode (``model.eval()``) it is the identity. At p = 1 it outputs zeros, with a zero
    gradient, as PyTorch's.

    Args:
        p: the probability of dropping a unit, in [0, 1].
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
        self.p = check_real("Dropout", "p", p, low=0.0, high=1.0)
        self.rng = make_rng(rng)

    def forward(self, x):
        return F.dropout(x, self.p, self.training, rng=self.rng)


class _ChannelDropout(Module):
    """Dropout of whole channels (Tompson et al., 2015), as PyTorch's Dropout1d and Dropout2d: in training each
    channel of each sample is zeroed with probability p (all its positions together) and the others scaled
    by 1/(1 - p); the identity in evaluation; zeros (and a zero gradient) at p = 1. Neighbouring positions
    of a feature map are strongly correlated, so dropping single values regularizes little; dropping
    channels does.

    Args:
        p: the probability of dropping a channel, in [0, 1].
        rng: numpy Generator or int seed for the masks.
    """

    _spatial = 1
    repr_always = ("p",)

    def __init__(self, p: float = 0.5, *, rng=None):
        self.p = check_real(type(self).__name__, "p", p, low=0.0, high=1.0)
        self.rng = make_rng(rng)

    def forward(self, x):
        shape = np.shape(x.data if hasattr(x, "_data") else x)
        if len(shape) not in (self._spatial + 1, self._spatial + 2):
            axes = "L" if self._spatial == 1 else "H, W"
            raise ValueError(f"{type(self).__name__}: expected input of shape (N, C, {axes}) or (C, {axes}), "
                             f"got {shape}")
        # One draw per channel: the mask is broadcast along the spatial axes.
        return F.dropout(x, self.p, self.training, rng=self.rng, broadcast_axes=range(-self._spatial, 0))


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
