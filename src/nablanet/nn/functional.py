"""Activations and losses as plain functions of Tensors, composed from the engine's primitives.

Losses average over samples (reduction "mean"); every one takes ``(predictions, targets)``.
"""

from __future__ import annotations

import math

import numpy as np

from nablanet.autodiff import ops
from nablanet.autodiff.ops.nn import dense, erf, heaviside, softmax_cross_entropy

__all__ = [
    "identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu", "softmax", "log_softmax",
    "heaviside", "dense", "get_activation", "ACTIVATIONS",
    "mse", "mae", "huber", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "hinge",
    "get_loss", "LOSSES",
]


# --- activations ---------------------------------------------------------------------------------

def identity(z):
    """sigma(z) = z."""
    return z


def sigmoid(z):
    """sigma(z) = 1 / (1 + e^-z), stable for any z.   sigma' = sigma (1 - sigma)."""
    return ops.sigmoid(z)


def tanh(z):
    """sigma(z) = tanh z.   sigma' = 1 - sigma^2."""
    return ops.tanh(z)


def relu(z):
    """sigma(z) = max(0, z).   sigma' = 1 for z > 0, else 0 (0 at z = 0, as PyTorch)."""
    return ops.where(_values(z) > 0, z, 0.0)


def leaky_relu(z, alpha: float = 0.01):
    """sigma(z) = z for z > 0, alpha z otherwise."""
    return ops.where(_values(z) > 0, z, alpha * z)


def elu(z, alpha: float = 1.0):
    """sigma(z) = z for z > 0, alpha (e^z - 1) otherwise (Clevert et al., 2015)."""
    # expm1 of min(z, 0): the branch not taken must not overflow, or its zero gradient becomes 0 * inf.
    return ops.where(_values(z) > 0, z, alpha * ops.expm1(ops.minimum(z, 0.0)))


def softplus(z):
    """sigma(z) = log(1 + e^z), computed as max(z, 0) + log1p(e^-|z|) so it never overflows.   sigma' = sigmoid(z)."""
    return ops.logaddexp(z, 0.0)


def gelu(z, approximate: str = "none"):
    """sigma(z) = z Phi(z) = z (1 + erf(z / sqrt 2)) / 2 (Hendrycks & Gimpel, 2016).

    ``approximate="tanh"`` gives 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))), as PyTorch's option.
    """
    if approximate == "tanh":
        return 0.5 * z * (1.0 + ops.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z * z * z)))
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return 0.5 * z * (1.0 + erf(z * (1.0 / math.sqrt(2.0))))


def softmax(z, axis: int = -1):
    """a_k = e^{z_k} / sum_j e^{z_j} along axis."""
    return ops.softmax(z, axis=axis)


def log_softmax(z, axis: int = -1):
    """log softmax(z), computed stably."""
    return ops.log_softmax(z, axis=axis)


ACTIVATIONS = {
    "identity": identity, "linear": identity, "sigmoid": sigmoid, "logistic": sigmoid, "tanh": tanh,
    "relu": relu, "leaky_relu": leaky_relu, "elu": elu, "softplus": softplus, "gelu": gelu,
    "softmax": softmax, "heaviside": heaviside, "step": heaviside,
}


def get_activation(spec):
    """An activation function from its name or a callable."""
    if callable(spec):
        return spec
    if spec is None:
        return identity
    if spec in ACTIVATIONS:
        return ACTIVATIONS[spec]
    raise ValueError(f"unknown activation {spec!r}; choose one of {sorted(ACTIVATIONS)}")


# --- losses --------------------------------------------------------------------------------------

def _values(x):
    return x.data if hasattr(x, "_data") else np.asarray(x)


def _matching_targets(predictions, targets, loss: str):
    """Targets as an array of the predictions' shape and dtype, or a clear error."""
    target_values = np.asarray(_values(targets))
    shape = np.shape(_values(predictions))
    if target_values.shape != shape:
        if target_values.ndim == 1 and shape == (target_values.shape[0], 1):
            target_values = target_values[:, None]
        else:
            raise ValueError(f"{loss}: targets of shape {target_values.shape} do not match predictions of shape {shape}")
    return target_values.astype(_values(predictions).dtype, copy=False)


def mse(predictions, targets):
    """Mean squared error C = (1/n) sum_i (y_i - t_i)^2 over all n elements.

    The 1/n convention (no factor 1/2), as the notes' "Regression MSE" and PyTorch's MSELoss; its
    gradient is therefore (2/n)(y - t).
    """
    difference = predictions - _matching_targets(predictions, targets, "mse")
    return ops.mean(difference * difference)


def mae(predictions, targets):
    """Mean absolute error C = (1/n) sum_i |y_i - t_i|."""
    return ops.mean(ops.abs(predictions - _matching_targets(predictions, targets, "mae")))


def huber(predictions, targets, delta: float = 1.0):
    """Huber loss: mean of r^2/2 where |r| <= delta, delta (|r| - delta/2) beyond (as PyTorch's HuberLoss)."""
    residual = ops.abs(predictions - _matching_targets(predictions, targets, "huber"))
    quadratic = ops.minimum(residual, delta)
    return ops.mean(0.5 * quadratic * quadratic + delta * (residual - quadratic))


def binary_cross_entropy(probabilities, targets):
    """C = -(1/n) sum [t log p + (1 - t) log(1 - p)] from probabilities p in (0, 1).

    Logarithms are floored at -100, as in PyTorch's BCELoss, so p = 0 or 1 gives a large finite
    loss rather than inf. Prefer binary_cross_entropy_with_logits when the logits are at hand.
    """
    t = _check_binary(_matching_targets(probabilities, targets, "binary_cross_entropy"), "binary_cross_entropy")
    log_p = ops.maximum(ops.log(probabilities), -100.0)
    log_not_p = ops.maximum(ops.log1p(-probabilities), -100.0)
    return -ops.mean(t * log_p + (1.0 - t) * log_not_p)


def binary_cross_entropy_with_logits(logits, targets):
    """Binary cross-entropy of sigmoid(z) against t, computed from the logits z without overflow.

    C = (1/n) sum [max(z, 0) - z t + log(1 + e^-|z|)].
    """
    t = _check_binary(_matching_targets(logits, targets, "binary_cross_entropy_with_logits"),
                      "binary_cross_entropy_with_logits")
    return ops.mean(ops.maximum(logits, 0.0) - logits * t + ops.log1p(ops.exp(-ops.abs(logits))))


def cross_entropy(logits, targets):
    """Categorical cross-entropy of softmax(logits): targets are integer labels (N,) or one-hot rows (N, K).

    Fused with its gradient (softmax(z) - t)/N and stable for logits of magnitude 1e4; see
    nablanet.autodiff.ops.nn.SoftmaxCrossEntropy.
    """
    return softmax_cross_entropy(logits, targets)


def hinge(scores, targets):
    """Hinge loss C = (1/n) sum max(0, 1 - t y) for labels t in {-1, +1} (labels 0/1 are mapped to -1/+1)."""
    t = _matching_targets(scores, targets, "hinge")
    values = np.unique(t)
    if np.all(np.isin(values, (0.0, 1.0))):
        t = 2.0 * t - 1.0
    elif not np.all(np.isin(values, (-1.0, 1.0))):
        raise ValueError(f"hinge: labels must be -1/+1 (or 0/1), got values {values[:5].tolist()}")
    return ops.mean(ops.maximum(1.0 - t * scores, 0.0))


def _check_binary(t, loss: str):
    if t.size and (t.min() < 0 or t.max() > 1):
        raise ValueError(f"{loss}: targets must lie in [0, 1], got values from {t.min()} to {t.max()}")
    return t


LOSSES = {
    "mse": mse, "mean_squared_error": mse, "mae": mae, "mean_absolute_error": mae, "huber": huber,
    "binary_cross_entropy": binary_cross_entropy, "bce": binary_cross_entropy,
    "binary_cross_entropy_with_logits": binary_cross_entropy_with_logits,
    "cross_entropy": cross_entropy, "categorical_cross_entropy": cross_entropy, "hinge": hinge,
}


def get_loss(spec):
    """A loss function from its name or a callable (returned as is)."""
    if callable(spec):
        return spec
    if spec in LOSSES:
        return LOSSES[spec]
    raise ValueError(f"unknown loss {spec!r}; choose one of {sorted(LOSSES)}")
