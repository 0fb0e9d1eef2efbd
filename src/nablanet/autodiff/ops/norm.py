"""Normalization along the last axis, the primitive of layer, group and instance normalization.

    x_hat = (x - mu) / sqrt(sigma^2 + eps),   mu, sigma^2 the mean and (biased) variance of each row

LayerNorm normalizes the last axes of (..., *normalized_shape) viewed as rows; GroupNorm the rows of
(N, G, C/G * spatial); InstanceNorm those of (N, C, spatial). Their scales and shifts are elementwise
ops after it (nablanet.nn.layers.norm).
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.op import Op, raw as _raw, register
from nablanet.autodiff.ops.elementwise import sqrt
from nablanet.autodiff.ops.reduce import mean, sum
from nablanet.autodiff.ops.shape import broadcast_to
from nablanet.kernels import norm as norm_kernels

__all__ = ["normalize"]


def _normalized(x, eps):
    """x_hat and 1/sqrt(sigma^2 + eps) (kept dimension) of the rows of x, with nablanet's ops: recorded on Tensors."""
    centred = x - mean(x, axis=-1, keepdims=True)
    inv_std = 1.0 / sqrt(mean(centred * centred, axis=-1, keepdims=True) + eps)
    return centred * inv_std, inv_std


def _normalized_dot(x_dot, x_hat, inv_std):
    """The derivative of x_hat along x_dot (or the VJP of x_hat for a cotangent x_dot: the Jacobian is symmetric)."""
    return inv_std * (x_dot - mean(x_dot, axis=-1, keepdims=True) - x_hat * mean(x_dot * x_hat, axis=-1, keepdims=True))


def _plus(total, term):
    return term if total is None else total + term


@register
class Normalize(Op):
    """y = gamma x_hat + beta, x_hat = (x - mu) / sqrt(sigma^2 + eps) along the last axis, with its rules.

    gamma and beta (K,) are optional (y = x_hat without them). With g = dC/dy, h = gamma g, means along
    the row and sums over the rows (x_hat's own mean is 0 and its mean square sigma^2 / (sigma^2 + eps)):

        dC/dx     = inv_std (h - mean(h) - x_hat mean(h x_hat)),     inv_std = 1/sqrt(sigma^2 + eps)
        dC/dgamma = sum g x_hat,   dC/dbeta = sum g
        x_hat_dot = inv_std (x_dot - mean(x_dot) - x_hat mean(x_dot x_hat))   (the same symmetric map)

    A primitive for speed: written with elementary ops layer normalization takes some 10 passes over x
    forward and 25 backward; ``nablanet.kernels.norm`` takes 6 and 7, keeping inv_std (and x_hat, with
    gamma) as the residual. On Tensors (derivatives of derivatives) and in forward mode the rules
    recompute x_hat and inv_std from x with nablanet's ops, so that a higher derivative sees how they
    depend on x.
    """

    keeps_residual = True

    def forward(x, *affine, eps):
        return norm_kernels.normalize_rows(np.asarray(x), eps, *affine)

    def vjp(grad_out, out, x, *affine, eps, residual, needs):
        gamma = affine[0] if affine else None
        if all(isinstance(v, np.ndarray) for v in (grad_out, out, x, *affine)):
            return norm_kernels.normalize_rows_vjp(grad_out, out, residual, gamma, needs)[:1 + len(affine)]
        x_hat, inv_std = _normalized(x, eps)
        if not affine:
            return (_normalized_dot(grad_out, x_hat, inv_std),)
        rows = tuple(range(len(x.shape) - 1))
        return (_normalized_dot(grad_out * gamma, x_hat, inv_std) if needs[0] else None,
                sum(grad_out * x_hat, axis=rows) if needs[1] else None,
                sum(grad_out, axis=rows) if needs[2] else None)

    def jvp(x_dot, *rest, eps, residual, needs):
        # rest = (gamma_dot, beta_dot, out, x, gamma, beta) with a scale and shift, (out, x) without.
        affine = len(rest) == 6
        x = rest[3] if affine else rest[1]
        x_hat, inv_std = _normalized(x, eps)
        out_dot = _normalized_dot(x_dot, x_hat, inv_std) if needs[0] else None
        if not affine:
            return out_dot
        gamma_dot, beta_dot, gamma = rest[0], rest[1], rest[4]
        out_dot = None if out_dot is None else gamma * out_dot
        if needs[1]:
            out_dot = _plus(out_dot, gamma_dot * x_hat)
        if needs[2]:
            out_dot = _plus(out_dot, broadcast_to(beta_dot, x_hat.shape))
        return out_dot

    def flops(out, x, *affine, **settings):
        # Per value: the sums for mu and sigma^2, the subtraction, the square, the scaling; the scale and shift.
        return (5 + 2 * len(affine)) * int(np.size(out))


def normalize(x, gamma=None, beta=None, eps: float = 1e-5):
    """gamma (x - mu) / sqrt(sigma^2 + eps) + beta, mu and sigma^2 (biased) the mean and variance along the last axis.

    Args:
        x: a floating-point array (..., K), K >= 1.
        gamma, beta: the scale and shift (K,), both or neither (None: y = x_hat).
        eps: added to the variance, a non-negative number (with eps = 0 a constant row divides by 0).

    Example:
        >>> normalize(np.array([[1.0, 3.0], [2.0, 6.0]]), eps=0.0)
        array([[-1.,  1.],
               [-1.,  1.]])
    """
    x_raw = _raw(x)
    if x_raw.ndim < 1 or x_raw.shape[-1] < 1:
        raise ValueError(f"normalize: expected an input (..., K) with K >= 1 values along the last axis, "
                         f"got shape {x_raw.shape}")
    if x_raw.dtype.kind != "f":
        raise ValueError(f"normalize: expected a floating-point input, got dtype {x_raw.dtype}")
    if not np.isfinite(eps) or eps < 0:
        raise ValueError(f"normalize: eps must be a non-negative finite number, got {eps!r}")
    if (gamma is None) != (beta is None):
        raise ValueError("normalize: give gamma and beta together, or neither")
    if gamma is None:
        return Normalize.apply(x, eps=float(eps))
    for name, v in (("gamma", gamma), ("beta", beta)):
        if np.shape(_raw(v)) != x_raw.shape[-1:]:
            raise ValueError(f"normalize: {name} of shape {np.shape(_raw(v))} does not fit rows of {x_raw.shape[-1]} "
                             f"values (an input of shape {x_raw.shape})")
    return Normalize.apply(x, gamma, beta, eps=float(eps))
