"""Fully connected layers: Dense (the notes' z = W a + b, a = sigma(z)) and the radial basis function layer."""

from __future__ import annotations

import numpy as np

from nablanet.autodiff import ops
from nablanet.autodiff.ops.nn import dense
from nablanet.checks import check_bool, check_float_dtype, check_int, check_real
from nablanet.nn.activations import ACTIVATIONS, fusion
from nablanet.nn.init import get_initializer, make_rng
from nablanet.nn.layers.registry import register_layer
from nablanet.nn.module import ArraySpec, Module, Parameter

__all__ = ["Dense", "RBF"]


def _dense_arguments(in_features, out_features, bias, dtype) -> tuple:
    """Dense's sizes, bias and dtype, checked: by its constructor, and first by its state_spec, so that a wrong
    one is named before the memory of the arrays it would size is counted."""
    return (check_int("Dense", "in_features", in_features), check_int("Dense", "out_features", out_features),
            check_bool("Dense", "bias", bias), check_float_dtype("Dense", dtype))


def _rbf_arguments(in_features, units, width, dtype) -> tuple:
    """RBF's sizes, width and dtype, checked (as _dense_arguments, by its constructor and its state_spec)."""
    # exp(-r^2 / (2 s^2)) is NaN for every input at s = 0, NaN or infinity.
    return (check_int("RBF", "in_features", in_features), check_int("RBF", "units", units),
            check_real("RBF", "width", width, low=0.0, low_open=True), check_float_dtype("RBF", dtype))


@register_layer("dense", size_argument="in_features", size_axis=-1)
class Dense(Module):
    """Fully connected layer: a = sigma(x W + b).

    With one sample per row this is the notes' z^l = (W^l)^T a^{l-1} + b^l, a^l = sigma(z^l). For an
    activation with a fused kernel (its record's ``fused``: relu, leaky_relu, elu, sigmoid, tanh,
    identity) the whole layer is one fused primitive whose VJP is the notes' back-propagation
    equations; any other activation (by name or a function of Tensors) is applied after it.

    Args:
        in_features: n_in, the size of each input row.
        out_features: n_out, the number of units.
        activation: a name or alias from nablanet.nn.ACTIVATIONS, a function, or None (identity).
        bias: whether to add b.
        init: weight initializer (name, number or function). Default: the activation record's family,
            ``"he_uniform"`` for the ReLU family (relu, leaky_relu, elu, softplus, gelu; He et al., 2015),
            ``"glorot_uniform"`` otherwise (Glorot & Bengio, 2010) and for unregistered functions.
        bias_init: bias initializer (default zeros).
        alpha: slope of leaky_relu or scale of elu; default: the activation's own (0.01, 1.0).
        rng: numpy Generator or int seed for the initial weights.
        dtype: parameter dtype (float32 by default).

    Shape:
        input (..., in_features) -> output (..., out_features).

    Attributes:
        W: (in_features, out_features) weights, drawn from ``init``.
        b: (out_features,) biases, from ``bias_init`` (None when bias=False).

    Example:
        >>> layer = Dense(3, 2, activation="relu", rng=0)
        >>> layer(np.ones((4, 3), dtype=np.float32)).shape
        (4, 2)
    """

    def __init__(self, in_features: int, out_features: int, activation=None, *, bias: bool = True, init=None,
                 bias_init="zeros", alpha: float | None = None, rng=None, dtype=np.float32):
        in_features, out_features, bias, dtype = _dense_arguments(in_features, out_features, bias, dtype)
        rng = make_rng(rng)
        self.activation = activation if activation is not None else "identity"
        self._fused, self._kernel_alpha, self.alpha, self._after = fusion(self.activation, alpha)
        if init is None:
            record = ACTIVATIONS.records.get(self.activation)
            init = "glorot_uniform" if record is None else record.initializer
        self.W = Parameter(get_initializer(init)((in_features, out_features), rng, dtype))
        self.b = Parameter(get_initializer(bias_init)((out_features,), rng, dtype), regularize=False) if bias else None

    @classmethod
    def state_spec(cls, in_features, out_features, *args, bias=True, dtype=np.float32, **options):
        in_features, out_features, bias, dtype = _dense_arguments(in_features, out_features, bias, dtype)
        yield "W", ArraySpec((in_features, out_features), np.dtype(dtype))
        if bias:
            yield "b", ArraySpec((out_features,), np.dtype(dtype))

    def forward(self, x):
        a = dense(x, self.W, self.b, activation=self._fused, alpha=self._kernel_alpha)
        return a if self._after is None else self._after(a)


@register_layer("rbf", size_argument="in_features", size_axis=-1)
class RBF(Module):
    """Radial basis function layer: Gaussian units with learnable centres c_j and widths s_j.

        phi_j(x) = exp(-||x - c_j||^2 / (2 s_j^2))

    A radial basis function network is RBF followed by a linear Dense layer.

    Args:
        in_features: size of each input row.
        units: number of Gaussian units.
        centers: initial centres (units, in_features); default N(0, 1) draws from rng.
        width: initial width s of every unit; positive and finite.
        rng: numpy Generator or int seed.
        dtype: parameter dtype.

    Shape:
        input (N, in_features) -> output (N, units).

    Example:
        >>> RBF(2, 5, rng=0)(np.zeros((3, 2), dtype=np.float32)).shape
        (3, 5)
    """

    def __init__(self, in_features: int, units: int, *, centers=None, width: float = 1.0, rng=None, dtype=np.float32):
        in_features, units, width, dtype = _rbf_arguments(in_features, units, width, dtype)
        rng = make_rng(rng)
        if centers is None:
            centers = rng.standard_normal((units, in_features))
        try:
            centers = np.asarray(centers, dtype=dtype)
        except (TypeError, ValueError):
            raise TypeError(f"RBF: centers must be an array of numbers of shape {(units, in_features)}, "
                            f"got a {type(centers).__name__}") from None
        if centers.shape != (units, in_features):
            raise ValueError(f"RBF: centers must have shape {(units, in_features)}, got {centers.shape}")
        if not np.isfinite(centers).all():
            raise ValueError("RBF: centers must be finite numbers, got NaN or infinity among them")
        self.centers = Parameter(centers, regularize=False)
        self.widths = Parameter(np.full(units, width, dtype=dtype), regularize=False)

    @classmethod
    def state_spec(cls, in_features, units, *, width=1.0, dtype=np.float32, **options):
        in_features, units, width, dtype = _rbf_arguments(in_features, units, width, dtype)
        return [("centers", ArraySpec((units, in_features), np.dtype(dtype))),
                ("widths", ArraySpec((units,), np.dtype(dtype)))]

    def forward(self, x):
        # ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2, one matrix product instead of an (N, units, in) array;
        # rounding can make it slightly negative, hence the floor at zero.
        squared = (ops.sum(x * x, axis=1, keepdims=True) - 2.0 * (x @ self.centers.T)
                   + ops.sum(self.centers * self.centers, axis=1))
        squared = ops.maximum(squared, 0.0)
        return ops.exp(-squared / (2.0 * self.widths * self.widths))
