"""Normalization layers: batch normalization, and layer, group and instance normalization (one primitive,
``nablanet.autodiff.ops.norm.normalize``, with the scales and shifts as elementwise ops after it)."""

from __future__ import annotations

import math

import numpy as np

from nablanet.autodiff import ops
from nablanet.autodiff.jit import tracing
from nablanet.autodiff.ops.norm import normalize
from nablanet.checks import check_bool, check_float_dtype, check_int, check_ints, check_real
from nablanet.nn.layers.registry import register_layer
from nablanet.nn.module import ArraySpec, Module, Parameter

__all__ = ["BatchNorm", "LayerNorm", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d"]


def _batchnorm_arguments(num_features, momentum, eps, affine, track_running_stats, dtype) -> tuple:
    """BatchNorm's arguments, checked: by its constructor, and first by its state_spec, so that a wrong one is
    named before the memory of its arrays is counted."""
    # Outside these ranges the running estimates diverge (momentum) or the evaluation-mode scale
    # 1 / sqrt(running_var + eps) is infinite or zero (eps). momentum=None is PyTorch's cumulative average.
    if momentum is not None:
        momentum = check_real("BatchNorm", "momentum", momentum, low=0.0, high=1.0)
    return (check_int("BatchNorm", "num_features", num_features), momentum,
            check_real("BatchNorm", "eps", eps, low=0.0, low_open=True), check_bool("BatchNorm", "affine", affine),
            check_bool("BatchNorm", "track_running_stats", track_running_stats), check_float_dtype("BatchNorm", dtype))


@register_layer("batchnorm", size_argument="num_features", size_axis=1)
class BatchNorm(Module):
    """Batch normalization (Ioffe & Szegedy, 2015) over the feature axis 1, as PyTorch's BatchNorm1d/2d.

        x_hat = (x - mu_B) / sqrt(sigma_B^2 + eps),   y = gamma x_hat + beta

    In training mode mu_B and sigma_B^2 are the mean and (biased) variance of the batch over every
    axis but axis 1, and running estimates are updated: running = (1 - momentum) running +
    momentum * batch (the variance with Bessel's correction, as PyTorch); with ``momentum=None`` the
    weight of the t-th training batch is 1 / t, so the running estimates are the plain (cumulative)
    averages of the batches' statistics, as PyTorch's. The normalization and its
    gradient are one primitive (``batch_norm``, see ``nablanet.autodiff.ops.nn.BatchNorm``), which
    works in x's memory layout and keeps it (a convolution's channels-last output stays so). In
    evaluation mode the running estimates are used instead: y = x * scale + shift with
    scale = gamma / sqrt(running_var + eps), shift = beta - running_mean * scale. Without
    ``track_running_stats`` there are no running estimates, and both modes normalize with the batch's
    own statistics (PyTorch's behaviour).

    Synchronized across processes (PyTorch's SyncBatchNorm): with ``process_group`` set, by
    ``nablanet.distributed.convert_sync_batchnorm(model)`` or ``fit(..., distributed="mpi",
    sync_batchnorm=True)``, mu_B and sigma_B^2 in training mode are those of the global batch (the
    union of every rank's shard), the gradient gets the matching totals over the ranks, and the
    running estimates are updated from the global batch's statistics on every rank, as one process
    training on the whole batch would. Every rank must then run the layer's training forward together.

    Args:
        num_features: the size of axis 1 (features, or channels for (N, C, L) / (N, C, H, W)).
        momentum: weight of the current batch in the running estimates, in [0, 1], or None for the
            cumulative average (weight 1 / t at the t-th training batch).
        eps: added to the variance for stability; positive and finite.
        affine: learn gamma and beta; without, y = x_hat.
        track_running_stats: keep running estimates for evaluation mode; without, evaluation mode
            normalizes with the batch's statistics too.
        dtype: parameter dtype.

    Attributes:
        gamma: scale, initially ones.  beta: shift, initially zeros (both None without affine).
        running_mean, running_var: buffers (saved in state_dict, not trained; None without
            track_running_stats).
        num_batches_tracked: with momentum=None and track_running_stats, the training batches seen so
            far, a buffer (an int64 scalar array), as PyTorch's; None otherwise.
        process_group: None (statistics of this process's batch), or the ranks whose shards make the
            batch (set by nablanet.distributed.convert_sync_batchnorm; not saved with the model).

    Example:
        >>> bn = BatchNorm(3)
        >>> y = bn(np.random.default_rng(0).normal(5.0, 2.0, (64, 3)).astype(np.float32))
        >>> bool(abs(float(y.mean())) < 1e-5)
        True
        >>> BatchNorm(3, affine=False, momentum=None).state_dict().keys()
        odict_keys(['running_mean', 'running_var', 'num_batches_tracked'])
    """

    repr_always = ("momentum", "eps")

    def __init__(self, num_features: int, *, momentum: float | None = 0.1, eps: float = 1e-5, affine: bool = True,
                 track_running_stats: bool = True, dtype=np.float32):
        num_features, momentum, eps, affine, track, dtype = _batchnorm_arguments(num_features, momentum, eps, affine,
                                                                                 track_running_stats, dtype)
        self.num_features = num_features
        self.momentum = momentum
        self.eps = eps
        self.affine, self.track_running_stats = affine, track
        self.gamma = Parameter(np.ones(num_features, dtype=dtype), regularize=False) if affine else None
        self.beta = Parameter(np.zeros(num_features, dtype=dtype), regularize=False) if affine else None
        self.running_mean = np.zeros(num_features, dtype=dtype) if track else None
        self.running_var = np.ones(num_features, dtype=dtype) if track else None
        counting = track and momentum is None
        self.num_batches_tracked = np.zeros((), dtype=np.int64) if counting else None
        self._buffers = (("running_mean", "running_var") if track else ()) + (("num_batches_tracked",) if counting
                                                                            else ())
        self._dtype = dtype
        self.process_group = None

    @classmethod
    def state_spec(cls, num_features, *, momentum=0.1, eps=1e-5, affine=True, track_running_stats=True,
                   dtype=np.float32, **options):
        num_features, momentum, eps, affine, track, dtype = _batchnorm_arguments(num_features, momentum, eps, affine,
                                                                                 track_running_stats, dtype)
        yield from _affine_and_running_spec(num_features, dtype, affine, track)
        if track and momentum is None:
            yield "num_batches_tracked", ArraySpec((), np.dtype(np.int64), nonnegative=True)

    def _update_running(self, batch_mean, batch_var, count) -> None:
        """running = (1 - momentum) running + momentum batch statistic (the variance unbiased); with
        momentum None, momentum = 1/t for the t-th batch (the cumulative average)."""
        if self.momentum is None:
            self.num_batches_tracked += 1
            momentum = 1.0 / float(self.num_batches_tracked)
        else:
            momentum = self.momentum
        self.running_mean *= 1.0 - momentum
        self.running_mean += momentum * batch_mean
        self.running_var *= 1.0 - momentum
        self.running_var += momentum * (batch_var * (count / (count - 1)))

    def forward(self, x):
        shape = np.shape(x.data if hasattr(x, "_data") else x)
        if len(shape) < 2 or shape[1] != self.num_features:
            raise ValueError(f"BatchNorm({self.num_features}): expected input of shape (N, {self.num_features}, ...), got {shape}")
        broadcast = (1, self.num_features) + (1,) * (len(shape) - 2)
        if self.training or not self.track_running_stats:
            return self._normalize_with_batch_statistics(x, shape)
        # Fixed statistics make the layer a per-feature affine map, gamma x_hat + beta = scale x + shift:
        # two passes over x instead of four. The gradient still reaches gamma and beta through scale and shift.
        running_mean, inv_std = tracing.call(_running_statistics, self)
        if not self.affine:
            return x * np.reshape(inv_std, broadcast) - np.reshape(running_mean * inv_std, broadcast)
        scale = self.gamma * inv_std
        shift = self.beta - running_mean * scale
        return x * ops.reshape(scale, broadcast) + ops.reshape(shift, broadcast)

    def _normalize_with_batch_statistics(self, x, shape):
        # Synchronized, one rank's shard may hold a single row: the global batch is what counts, and
        # batch_norm checks it on every rank alike (one rank raising alone would leave the others waiting).
        if self.process_group is None and math.prod(shape) // self.num_features < 2:
            mode = "training mode" if self.training else "evaluation mode without track_running_stats"
            raise ValueError(f"BatchNorm in {mode} needs more than one value per feature in a batch")
        # Without affine, the primitive's gamma and beta are constants (no Parameter, so no gradient reaches them).
        gamma = self.gamma if self.affine else np.ones(self.num_features, dtype=self._dtype)
        beta = self.beta if self.affine else np.zeros(self.num_features, dtype=self._dtype)
        # One primitive (ops.batch_norm) normalizes and differentiates; it also returns the batch
        # statistics it computed (the global batch's when synchronized), so the running estimates
        # cost no second pass over x.
        out, batch_mean, batch_var, count = ops.batch_norm(x, gamma, beta, self.eps, return_statistics=True,
                                                           group=self.process_group)
        if self.training and self.track_running_stats:
            # In place on the module's buffers: a compiled step repeats it through the hook.
            tracing.call(self._update_running, batch_mean, batch_var, count)
        return out


def _running_statistics(layer) -> tuple:
    """(running_mean, 1 / sqrt(running_var + eps)) of a layer's buffers as they are now. Through tracing.call
    in evaluation mode: a compiled function reads them at each replay, so statistics that training (or
    load_state_dict) changed since the trace are the ones used."""
    return layer.running_mean, 1.0 / np.sqrt(layer.running_var + layer.eps)


def _affine_and_running_spec(features, dtype, affine, track):
    """The arrays of a normalization over ``features`` channels: gamma and beta with ``affine``, the running
    mean and variance with ``track`` (running statistics)."""
    vector = ((features,), np.dtype(dtype))
    if affine:
        yield "gamma", ArraySpec(*vector)
        yield "beta", ArraySpec(*vector)
    if track:
        yield "running_mean", ArraySpec(*vector)
        yield "running_var", ArraySpec(*vector, nonnegative=True)


def _shape_of(x) -> tuple:
    return np.shape(x.data if hasattr(x, "_data") else x)


def _affine(x_hat, gamma, beta, broadcast):
    """gamma x_hat + beta with gamma and beta (either may be None) reshaped to ``broadcast``."""
    if gamma is not None:
        x_hat = x_hat * (gamma if broadcast is None else ops.reshape(gamma, broadcast))
    if beta is not None:
        x_hat = x_hat + (beta if broadcast is None else ops.reshape(beta, broadcast))
    return x_hat


def layer_norm(x, normalized_shape, gamma=None, beta=None, eps: float = 1e-5):
    """y = gamma x_hat + beta, x_hat = (x - mu) / sqrt(sigma^2 + eps) over the last len(normalized_shape) axes
    (PyTorch's functional layer_norm; gamma and beta of shape normalized_shape, or None).

    Example:
        >>> layer_norm(np.array([[1.0, 3.0]]), (2,), eps=0.0).tolist()
        [[-1.0, 1.0]]
    """
    shape = _shape_of(x)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if len(shape) < k or shape[len(shape) - k:] != normalized_shape:
        raise ValueError(f"layer_norm: an input of shape {shape} does not end with normalized_shape {normalized_shape}")
    fused = gamma is not None and beta is not None  # the scale and shift inside the primitive
    rows = x if k == 1 else ops.reshape(x, shape[:len(shape) - k] + (-1,))
    if fused:
        y = normalize(rows, _flat(gamma, k), _flat(beta, k), eps=eps)
    else:
        y = normalize(rows, eps=eps)
    y = y if k == 1 else ops.reshape(y, shape)
    return y if fused else _affine(y, gamma, beta, None)


def _flat(v, k):
    return v if k == 1 else ops.reshape(v, (-1,))


def _check_channels(owner, x, channels) -> tuple:
    shape = _shape_of(x)
    if len(shape) < 2 or shape[1] != channels:
        raise ValueError(f"{owner}: expected input of shape (N, {channels}, ...), got {shape}")
    return shape


@register_layer("layernorm", size_argument="normalized_shape", size_axis=-1)
class LayerNorm(Module):
    """Layer normalization (Ba, Kiros & Hinton, 2016) over the last axes of each sample, as PyTorch's LayerNorm.

        x_hat = (x - mu) / sqrt(sigma^2 + eps),   y = gamma x_hat + beta

    with mu and sigma^2 (biased) the mean and variance over the last len(normalized_shape) axes of x,
    for every leading index: each sample (and each step of a sequence) is normalized by its own
    statistics, the same in training and evaluation. The normalization and its gradient are one
    primitive (``normalize``); the scale and shift are elementwise products and sums after it.

    Args:
        normalized_shape: the trailing shape normalized over, an int (the last axis) or a tuple.
        eps: added to the variance; positive and finite.
        elementwise_affine: learn gamma (and beta) of shape normalized_shape.
        bias: learn beta too (with elementwise_affine).
        dtype: parameter dtype.

    Shape:
        (..., *normalized_shape) -> the same.

    Attributes:
        gamma: ones, normalized_shape (None without elementwise_affine).  beta: zeros (None without bias).

    Example:
        >>> y = LayerNorm(4)(np.arange(8.0, dtype=np.float32).reshape(2, 4))
        >>> [round(v, 4) for v in y.data[0].tolist()]
        [-1.3416, -0.4472, 0.4472, 1.3416]
    """

    repr_always = ("eps",)

    def __init__(self, normalized_shape, *, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 dtype=np.float32):
        shape, self.eps, affine, bias, dtype = _layer_norm_arguments(normalized_shape, eps, elementwise_affine, bias,
                                                                     dtype)
        self.normalized_shape = shape
        self.gamma = Parameter(np.ones(shape, dtype=dtype), regularize=False) if affine else None
        self.beta = Parameter(np.zeros(shape, dtype=dtype), regularize=False) if affine and bias else None

    @classmethod
    def state_spec(cls, normalized_shape, *, eps=1e-5, elementwise_affine=True, bias=True, dtype=np.float32):
        shape, _, affine, bias, dtype = _layer_norm_arguments(normalized_shape, eps, elementwise_affine, bias, dtype)
        if affine:
            yield "gamma", ArraySpec(shape, dtype)
            if bias:
                yield "beta", ArraySpec(shape, dtype)

    def forward(self, x):
        return layer_norm(x, self.normalized_shape, self.gamma, self.beta, self.eps)


def _layer_norm_arguments(normalized_shape, eps, elementwise_affine, bias, dtype) -> tuple:
    owner = "LayerNorm"
    if isinstance(normalized_shape, (tuple, list)):
        shape = check_ints(owner, "normalized_shape", normalized_shape, len(normalized_shape)) if normalized_shape \
            else check_ints(owner, "normalized_shape", normalized_shape, 1)
    else:
        shape = (check_int(owner, "normalized_shape", normalized_shape),)
    return (shape, check_real(owner, "eps", eps, low=0.0, low_open=True),
            check_bool(owner, "elementwise_affine", elementwise_affine), check_bool(owner, "bias", bias),
            check_float_dtype(owner, dtype))


@register_layer("groupnorm", size_argument="num_channels", size_axis=1)
class GroupNorm(Module):
    """Group normalization (Wu & He, 2018): the channels of each sample in num_groups groups, each normalized
    by its own statistics, then a scale and shift per channel, as PyTorch's GroupNorm.

        x_hat[n, c, ...] = (x - mu[n, g]) / sqrt(sigma^2[n, g] + eps),   y = gamma[c] x_hat + beta[c]

    mu[n, g] and sigma^2[n, g] (biased) are over the C / G channels of group g = c // (C / G) and every
    spatial position. One group is layer normalization over (C, ...); C groups is instance normalization.

    Args:
        num_groups: G, dividing num_channels.
        num_channels: C, axis 1 of the input.
        eps: added to the variance; positive and finite.
        affine: learn gamma and beta, (C,) each.
        dtype: parameter dtype.

    Shape:
        (N, C, ...) -> the same.

    Example:
        >>> GroupNorm(2, 4)(np.ones((3, 4, 5), dtype=np.float32)).shape
        (3, 4, 5)
    """

    repr_always = ("eps",)

    def __init__(self, num_groups: int, num_channels: int, *, eps: float = 1e-5, affine: bool = True,
                 dtype=np.float32):
        groups, channels, self.eps, affine, dtype = _group_norm_arguments(num_groups, num_channels, eps, affine, dtype)
        self.num_groups, self.num_channels = groups, channels
        self.gamma = Parameter(np.ones(channels, dtype=dtype), regularize=False) if affine else None
        self.beta = Parameter(np.zeros(channels, dtype=dtype), regularize=False) if affine else None

    @classmethod
    def state_spec(cls, num_groups, num_channels, *, eps=1e-5, affine=True, dtype=np.float32):
        _, channels, _, affine, dtype = _group_norm_arguments(num_groups, num_channels, eps, affine, dtype)
        if affine:
            yield "gamma", ArraySpec((channels,), dtype)
            yield "beta", ArraySpec((channels,), dtype)

    def forward(self, x):
        shape = _check_channels(f"GroupNorm({self.num_groups}, {self.num_channels})", x, self.num_channels)
        if self.num_channels // self.num_groups * math.prod(shape[2:]) < 2:
            raise ValueError(f"GroupNorm({self.num_groups}, {self.num_channels}): an input of shape {shape} has one "
                             "value per group, which normalizes to 0; give groups of more channels or positions")
        grouped = ops.reshape(x, (shape[0], self.num_groups, -1))
        x_hat = ops.reshape(normalize(grouped, eps=self.eps), shape)
        return _affine(x_hat, self.gamma, self.beta, (1, -1) + (1,) * (len(shape) - 2))


def _group_norm_arguments(num_groups, num_channels, eps, affine, dtype) -> tuple:
    owner = "GroupNorm"
    groups = check_int(owner, "num_groups", num_groups)
    channels = check_int(owner, "num_channels", num_channels)
    if channels % groups:
        raise ValueError(f"{owner}: num_channels ({channels}) must be divisible by num_groups ({groups})")
    return (groups, channels, check_real(owner, "eps", eps, low=0.0, low_open=True),
            check_bool(owner, "affine", affine), check_float_dtype(owner, dtype))


class _InstanceNorm(Module):
    """Instance normalization (Ulyanov et al., 2016): each channel of each sample normalized over its own
    spatial positions, as PyTorch's InstanceNorm1d/2d.

        x_hat[n, c, ...] = (x - mu[n, c]) / sqrt(sigma^2[n, c] + eps),   y = gamma[c] x_hat + beta[c]

    With track_running_stats, training mode also updates running estimates, running = (1 - momentum)
    running + momentum * (the mean over the batch of the per-instance statistics, the variance with
    Bessel's correction), and evaluation mode normalizes with them instead, as PyTorch's; without, both
    modes use each instance's own statistics.

    Args:
        num_features: C, axis 1 of (N, C, ...) (axis 0 of an unbatched (C, ...)).
        eps: added to the variance; positive and finite.
        momentum: weight of the current batch in the running estimates, in [0, 1].
        affine: learn gamma and beta, (C,) each (PyTorch's default: False).
        track_running_stats: keep running_mean and running_var (PyTorch's default: False).
        dtype: parameter dtype.

    Attributes:
        gamma, beta: ones and zeros (C,), or None.  running_mean, running_var: zeros and ones (C,), buffers,
        or None.
    """

    _spatial = 1
    repr_always = ("eps",)

    def __init__(self, num_features: int, *, eps: float = 1e-5, momentum: float = 0.1, affine: bool = False,
                 track_running_stats: bool = False, dtype=np.float32):
        features, self.eps, self.momentum, affine, track, dtype = _instance_norm_arguments(
            type(self).__name__, num_features, eps, momentum, affine, track_running_stats, dtype)
        self.num_features, self.track_running_stats = features, track
        self.gamma = Parameter(np.ones(features, dtype=dtype), regularize=False) if affine else None
        self.beta = Parameter(np.zeros(features, dtype=dtype), regularize=False) if affine else None
        self._buffers = ("running_mean", "running_var") if track else ()
        self.running_mean = np.zeros(features, dtype=dtype) if track else None
        self.running_var = np.ones(features, dtype=dtype) if track else None

    @classmethod
    def state_spec(cls, num_features, *, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False,
                   dtype=np.float32):
        features, _, _, affine, track, dtype = _instance_norm_arguments(cls.__name__, num_features, eps, momentum,
                                                                        affine, track_running_stats, dtype)
        return _affine_and_running_spec(features, dtype, affine, track)

    def forward(self, x):
        shape = _shape_of(x)
        batched = len(shape) == self._spatial + 2
        if len(shape) not in (self._spatial + 1, self._spatial + 2) or shape[int(batched)] != self.num_features:
            axes = "L" if self._spatial == 1 else "H, W"
            raise ValueError(f"{type(self).__name__}({self.num_features}): expected input of shape "
                             f"(N, {self.num_features}, {axes}) or ({self.num_features}, {axes}), got {shape}")
        if not batched:
            return ops.reshape(self.forward(ops.reshape(x, (1,) + shape)), shape)
        broadcast = (1, -1) + (1,) * self._spatial
        if self.track_running_stats and not self.training:
            running_mean, inv_std = tracing.call(_running_statistics, self)
            x_hat = (x - np.reshape(running_mean, broadcast)) * np.reshape(inv_std, broadcast)
            return _affine(x_hat, self.gamma, self.beta, broadcast)
        rows = ops.reshape(x, shape[:2] + (-1,))
        if self.track_running_stats:
            tracing.call(self._update_running_statistics, np.asarray(rows.data if hasattr(rows, "_data") else rows))
        return _affine(ops.reshape(normalize(rows, eps=self.eps), shape), self.gamma, self.beta, broadcast)

    def _update_running_statistics(self, rows):
        count = rows.shape[-1]
        if count < 2:
            raise ValueError(f"{type(self).__name__} with track_running_stats in training mode needs more than one "
                             f"spatial position per channel, got {count}")
        self.running_mean *= 1.0 - self.momentum
        self.running_mean += self.momentum * rows.mean(axis=(0, 2)).astype(self.running_mean.dtype)
        self.running_var *= 1.0 - self.momentum
        self.running_var += self.momentum * rows.var(axis=2, ddof=1).mean(axis=0).astype(self.running_var.dtype)


def _instance_norm_arguments(owner, num_features, eps, momentum, affine, track_running_stats, dtype) -> tuple:
    return (check_int(owner, "num_features", num_features), check_real(owner, "eps", eps, low=0.0, low_open=True),
            check_real(owner, "momentum", momentum, low=0.0, high=1.0), check_bool(owner, "affine", affine),
            check_bool(owner, "track_running_stats", track_running_stats), check_float_dtype(owner, dtype))


@register_layer("instancenorm1d", size_argument="num_features", size_axis=1)
class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of signals (N, C, L) or (C, L); see _InstanceNorm for the formula and arguments.

    Example:
        >>> InstanceNorm1d(3)(np.ones((2, 3, 5), dtype=np.float32)).shape
        (2, 3, 5)
    """

    _spatial = 1


@register_layer("instancenorm2d", size_argument="num_features", size_axis=1)
class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of images (N, C, H, W) or (C, H, W); see _InstanceNorm for the formula and arguments.

    Example:
        >>> InstanceNorm2d(3, affine=True)(np.ones((2, 3, 4, 4), dtype=np.float32)).shape
        (2, 3, 4, 4)
    """

    _spatial = 2
