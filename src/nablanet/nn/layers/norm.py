"""Batch normalization."""

from __future__ import annotations

import numpy as np

from nablanet.autodiff import ops
from nablanet.autodiff.state import no_grad
from nablanet.nn.module import Module, Parameter

__all__ = ["BatchNorm"]


class BatchNorm(Module):
    """Batch normalization (Ioffe & Szegedy, 2015) over the feature axis 1.

        x_hat = (x - mu_B) / sqrt(sigma_B^2 + eps),   y = gamma x_hat + beta

    In training mode mu_B and sigma_B^2 are the mean and (biased) variance of the batch over every
    axis but axis 1, and running estimates are updated: running = (1 - momentum) running +
    momentum * batch (the variance with Bessel's correction, as PyTorch). In evaluation mode the
    running estimates are used instead.

    Args:
        num_features: the size of axis 1 (features, or channels for (N, C, L) / (N, C, H, W)).
        momentum: weight of the current batch in the running estimates.
        eps: added to the variance for stability.
        dtype: parameter dtype.

    Attributes:
        gamma: scale, initially ones.  beta: shift, initially zeros.
        running_mean, running_var: buffers (saved in state_dict, not trained).

    Example:
        >>> bn = BatchNorm(3)
        >>> y = bn(np.random.default_rng(0).normal(5.0, 2.0, (64, 3)).astype(np.float32))
        >>> bool(abs(float(y.mean())) < 1e-5)
        True
    """

    _buffers = ("running_mean", "running_var")

    def __init__(self, num_features: int, *, momentum: float = 0.1, eps: float = 1e-5, dtype=np.float32):
        self.num_features = num_features
        self.momentum = momentum
        self.eps = eps
        self.gamma = Parameter(np.ones(num_features, dtype=dtype), regularize=False)
        self.beta = Parameter(np.zeros(num_features, dtype=dtype), regularize=False)
        self.running_mean = np.zeros(num_features, dtype=dtype)
        self.running_var = np.ones(num_features, dtype=dtype)

    def forward(self, x):
        shape = np.shape(x.data if hasattr(x, "_data") else x)
        if len(shape) < 2 or shape[1] != self.num_features:
            raise ValueError(f"BatchNorm({self.num_features}): expected input of shape (N, {self.num_features}, ...), got {shape}")
        axes = (0,) + tuple(range(2, len(shape)))
        broadcast = (1, self.num_features) + (1,) * (len(shape) - 2)
        if self.training:
            mean = ops.mean(x, axis=axes, keepdims=True)
            centred = x - mean
            var = ops.mean(centred * centred, axis=axes, keepdims=True)
            count = int(np.prod([shape[a] for a in axes]))
            if count < 2:
                raise ValueError("BatchNorm in training mode needs more than one value per feature in a batch")
            with no_grad():
                batch_mean = np.reshape(mean.data if hasattr(mean, "_data") else mean, -1)
                batch_var = np.reshape(var.data if hasattr(var, "_data") else var, -1) * (count / (count - 1))
                self.running_mean *= 1.0 - self.momentum
                self.running_mean += self.momentum * batch_mean
                self.running_var *= 1.0 - self.momentum
                self.running_var += self.momentum * batch_var
            x_hat = centred / ops.sqrt(var + self.eps)
        else:
            x_hat = (x - self.running_mean.reshape(broadcast)) / np.sqrt(self.running_var.reshape(broadcast) + self.eps)
        return x_hat * ops.reshape(self.gamma, broadcast) + ops.reshape(self.beta, broadcast)

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}"
