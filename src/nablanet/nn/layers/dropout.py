"""Dropout: randomly silence units while training."""

from __future__ import annotations

import numpy as np

from nablanet.checks import check_real
from nablanet.nn.init import make_rng
from nablanet.nn.layers.registry import register_layer
from nablanet.nn.module import Module

__all__ = ["Dropout"]


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
        if not self.training or self.p == 0.0:
            return x
        values = x.data if hasattr(x, "_data") else np.asarray(x)
        dtype = values.dtype if values.dtype in (np.float32, np.float64) else np.float64
        keep = self.rng.random(values.shape, dtype=dtype) >= self.p
        return x * (keep * dtype.type(1.0 / (1.0 - self.p)))
