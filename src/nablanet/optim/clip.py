"""Gradient clipping on lists of gradient arrays: by value and by global norm (for RNN training).

Each clipping comes twice: a pure function returning new arrays, and an in-place one ending in ``_``
that overwrites the gradients (as PyTorch's ``clip_grad_value_`` / ``clip_grad_norm_``). Optimizers
also take ``clip_value=`` and ``clip_norm=``, which apply the same rules inside ``step()`` without
touching ``p.grad``. Dtypes are kept: float32 gradients stay float32.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["global_norm", "clip_by_value", "clip_by_value_", "clip_by_global_norm", "clip_by_global_norm_"]

#: Added to the norm before dividing, exactly as ``torch.nn.utils.clip_grad_norm_`` does.
NORM_EPS = 1e-6


def _check_positive(name: str, value) -> float:
    value = float(value)
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


def global_norm(grads) -> float:
    """||(g_1, ..., g_n)||_2 = sqrt(sum_i sum_j g_ij^2), the Euclidean norm of all gradients together.

    Example:
        >>> global_norm([np.array([3.0]), np.array([[4.0]])])
        5.0
    """
    total = 0.0
    with np.errstate(over="ignore"):  # an overflow is handled just below
        for g in grads:
            flat = np.ravel(g)
            total += float(np.dot(flat, flat))  # one BLAS pass, no temporary array
    if math.isinf(total) and all(np.all(np.isfinite(g)) for g in grads):
        # The squares overflowed (large float32 gradients): rescale by the largest entry first.
        scale = max(float(np.max(np.abs(g))) for g in grads if np.size(g))
        total = sum(float(np.sum(np.square(np.asarray(g, dtype=np.float64) / scale))) for g in grads) * scale**2
    return math.sqrt(total)


def norm_clip_coefficient(grads, max_norm: float) -> tuple[float, float]:
    """(c, norm): gradients are multiplied by c = min(1, max_norm / (norm + 1e-6)) (PyTorch's rule)."""
    norm = global_norm(grads)
    coefficient = max_norm / (norm + NORM_EPS)
    return (coefficient if coefficient < 1.0 else 1.0), norm


def clip_by_value(grads, clip_value: float) -> list[np.ndarray]:
    """New arrays with every entry clipped to [-clip_value, clip_value].

    Example:
        >>> clip_by_value([np.array([-3.0, 0.5, 2.0])], 1.0)
        [array([-1. ,  0.5,  1. ])]
    """
    clip_value = _check_positive("clip_value", clip_value)
    return [np.clip(g, -clip_value, clip_value) for g in grads]


def clip_by_value_(grads, clip_value: float) -> None:
    """Clip every entry of the gradient arrays to [-clip_value, clip_value] in place."""
    clip_value = _check_positive("clip_value", clip_value)
    for g in grads:
        np.clip(g, -clip_value, clip_value, out=g)


def clip_by_global_norm(grads, max_norm: float) -> tuple[list[np.ndarray], float]:
    """Rescale all gradients together so their global norm is at most ``max_norm``.

    g_i <- g_i * min(1, max_norm / (||g||_2 + 1e-6)), with ||g||_2 the global norm of all arrays.
    Rescaling jointly keeps the direction of the full gradient (Pascanu, Mikolov & Bengio, 2013).

    Returns:
        (the new gradient arrays, the global norm before clipping). A non-finite norm gives NaN or
        zero gradients, as PyTorch with ``error_if_nonfinite=False``.

    Example:
        >>> clipped, norm = clip_by_global_norm([np.array([3.0]), np.array([4.0])], 1.0)
        >>> norm, [np.round(g, 6) for g in clipped]
        (5.0, [array([0.6]), array([0.8])])
    """
    max_norm = _check_positive("max_norm", max_norm)
    coefficient, norm = norm_clip_coefficient(grads, max_norm)
    if coefficient == 1.0:
        return [np.array(g, copy=True) for g in grads], norm
    return [np.multiply(g, coefficient) for g in grads], norm


def clip_by_global_norm_(grads, max_norm: float) -> float:
    """In-place ``clip_by_global_norm``; returns the global norm before clipping."""
    max_norm = _check_positive("max_norm", max_norm)
    coefficient, norm = norm_clip_coefficient(grads, max_norm)
    if coefficient != 1.0:
        for g in grads:
            np.multiply(g, coefficient, out=g)
    return norm
