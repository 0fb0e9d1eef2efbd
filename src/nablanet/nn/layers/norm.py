"""Batch normalization."""

from __future__ import annotations

import math

import numpy as np

from nablanet.autodiff import ops
from nablanet.checks import check_float_dtype, check_int, check_real
from nablanet.nn.layers.registry import register_layer
from nablanet.nn.module import ArraySpec, Module, Parameter

__all__ = ["BatchNorm"]


def _batchnorm_arguments(num_features, momentum, eps, dtype) -> tuple:
    """BatchNorm's arguments, checked: by its constructor, and first by its state_spec, so that a wrong one is
    named before the memory of its arrays is counted."""
    # Outside these ranges the running estimates diverge (momentum) or the evaluation-mode scale
    # 1 / sqrt(running_var + eps) is infinite or zero (eps).
    return (check_int("BatchNorm", "num_features", num_features),
            check_real("BatchNorm", "momentum", momentum, low=0.0, high=1.0),
            check_real("BatchNorm", "eps", eps, low=0.0, low_open=True), check_float_dtype("BatchNorm", dtype))


@register_layer("batchnorm", size_argument="num_features", size_axis=1)
class BatchNorm(Module):
    """Batch normalization (Ioffe & Szegedy, 2015) over the feature axis 1.

        x_hat = (x - mu_B) / sqrt(sigma_B^2 + eps),   y = gamma x_hat + beta

    In training mode mu_B and sigma_B^2 are the mean and (biased) variance of the batch over every
    axis but axis 1, and running estimates are updated: running = (1 - momentum) running +
    momentum * batch (the variance with Bessel's correction, as PyTorch). The normalization and its
    gradient are one primitive (``batch_norm``, see ``nablanet.autodiff.ops.nn.BatchNorm``), which
    works in x's memory layout and keeps it (a convolution's channels-last output stays so). In
    evaluation mode the running estimates are used instead: y = x * scale + shift with
    scale = gamma / sqrt(running_var + eps), shift = beta - running_mean * scale.

    Synchronized across processes (PyTorch's SyncBatchNorm): with ``process_group`` set, by
    ``nablanet.distributed.convert_sync_batchnorm(model)`` or ``fit(..., distributed="mpi",
    sync_batchnorm=True)``, mu_B and sigma_B^2 in training mode are those of the global batch (the
    union of every rank's shard), the gradient gets the matching totals over the ranks, and the
    running estimates are updated from the global batch's statistics on every rank, as one process
    training on the whole batch would. Every rank must then run the layer's training forward together.

    Args:
        num_features: the size of axis 1 (features, or channels for (N, C, L) / (N, C, H, W)).
        momentum: weight of the current batch in the running estimates, in [0, 1].
        eps: added to the variance for stability; positive and finite.
        dtype: parameter dtype.

    Attributes:
        gamma: scale, initially ones.  beta: shift, initially zeros.
        running_mean, running_var: buffers (saved in state_dict, not trained).
        process_group: None (statistics of this process's batch), or the ranks whose shards make the
            batch (set by nablanet.distributed.convert_sync_batchnorm; not saved with the model).

    Example:
        >>> bn = BatchNorm(3)
        >>> y = bn(np.random.default_rng(0).normal(5.0, 2.0, (64, 3)).astype(np.float32))
        >>> bool(abs(float(y.mean())) < 1e-5)
        True
    """

    _buffers = ("running_mean", "running_var")

    repr_always = ("momentum", "eps")

    def __init__(self, num_features: int, *, momentum: float = 0.1, eps: float = 1e-5, dtype=np.float32):
        num_features, momentum, eps, dtype = _batchnorm_arguments(num_features, momentum, eps, dtype)
        self.num_features = num_features
        self.momentum = momentum
        self.eps = eps
        self.gamma = Parameter(np.ones(num_features, dtype=dtype), regularize=False)
        self.beta = Parameter(np.zeros(num_features, dtype=dtype), regularize=False)
        self.running_mean = np.zeros(num_features, dtype=dtype)
        self.running_var = np.ones(num_features, dtype=dtype)
        self.process_group = None

    @classmethod
    def state_spec(cls, num_features, *, momentum=0.1, eps=1e-5, dtype=np.float32, **options):
        num_features, momentum, eps, dtype = _batchnorm_arguments(num_features, momentum, eps, dtype)
        vector = ((num_features,), np.dtype(dtype))
        return [("gamma", ArraySpec(*vector)), ("beta", ArraySpec(*vector)), ("running_mean", ArraySpec(*vector)),
                ("running_var", ArraySpec(*vector, nonnegative=True))]

    def forward(self, x):
        shape = np.shape(x.data if hasattr(x, "_data") else x)
        if len(shape) < 2 or shape[1] != self.num_features:
            raise ValueError(f"BatchNorm({self.num_features}): expected input of shape (N, {self.num_features}, ...), got {shape}")
        broadcast = (1, self.num_features) + (1,) * (len(shape) - 2)
        if self.training:
            # Synchronized, one rank's shard may hold a single row: the global batch is what counts, and
            # batch_norm checks it on every rank alike (one rank raising alone would leave the others waiting).
            if self.process_group is None and math.prod(shape) // self.num_features < 2:
                raise ValueError("BatchNorm in training mode needs more than one value per feature in a batch")
            # One primitive (ops.batch_norm) normalizes and differentiates; it also returns the batch
            # statistics it computed (the global batch's when synchronized), so the running estimates
            # cost no second pass over x.
            out, batch_mean, batch_var, count = ops.batch_norm(x, self.gamma, self.beta, self.eps,
                                                               return_statistics=True, group=self.process_group)
            self.running_mean *= 1.0 - self.momentum
            self.running_mean += self.momentum * batch_mean
            self.running_var *= 1.0 - self.momentum
            unbiased_var = batch_var * (count / (count - 1))
            self.running_var += self.momentum * unbiased_var
            return out
        # Fixed statistics make the layer a per-feature affine map, gamma x_hat + beta = scale x + shift:
        # two passes over x instead of four. The gradient still reaches gamma and beta through scale and shift.
        inv_std = 1.0 / np.sqrt(self.running_var + self.eps)
        scale = self.gamma * inv_std
        shift = self.beta - self.running_mean * scale
        return x * ops.reshape(scale, broadcast) + ops.reshape(shift, broadcast)
