"""Weight initializers: every draw comes from an explicit numpy.random.Generator.

Fan-in and fan-out are the numbers of inputs and outputs of a unit: for a dense weight matrix of
shape (n_in, n_out) they are n_in and n_out; for a convolution kernel (C_out, C_in, k...) they are
C_in * prod(k) and C_out * prod(k).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from nablanet.checks import check_real

__all__ = [
    "normal", "uniform", "glorot_normal", "glorot_uniform", "xavier_normal", "xavier_uniform", "he_normal",
    "he_uniform", "lecun_normal", "lecun_uniform", "zeros", "ones", "constant", "get_initializer", "make_rng",
    "fans",
]


def make_rng(rng=None) -> np.random.Generator:
    """A Generator from a Generator (returned as is), an int seed, or None (fresh OS entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if not isinstance(rng, (int, np.integer)) or isinstance(rng, bool):
        raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")
    if rng < 0:
        raise ValueError(f"rng, a seed, must be a non-negative integer, got {rng}")
    return np.random.default_rng(int(rng))


def fans(shape: tuple) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of this shape: (n_in, n_out) for dense, kernels (C_out, C_in, *k)."""
    if len(shape) < 2:
        raise ValueError(f"fan-in and fan-out need a weight of at least 2 dimensions, got shape {shape}")
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    receptive = int(np.prod(shape[2:]))
    return int(shape[1]) * receptive, int(shape[0]) * receptive


def normal(shape, rng, dtype=np.float32, std: float = 1.0):
    """N(0, std^2); with std = 1 the notes' "bad" default that Glorot and Bengio criticised."""
    return (std * rng.standard_normal(shape)).astype(dtype)


def uniform(shape, rng, dtype=np.float32, limit: float = 1.0):
    """U(-limit, limit)."""
    return rng.uniform(-limit, limit, shape).astype(dtype)


def glorot_normal(shape, rng, dtype=np.float32):
    """N(0, 2 / (fan_in + fan_out)) (Glorot & Bengio, 2010), as torch.nn.init.xavier_normal_."""
    fan_in, fan_out = fans(shape)
    return normal(shape, rng, dtype, std=math.sqrt(2.0 / (fan_in + fan_out)))


def glorot_uniform(shape, rng, dtype=np.float32):
    """U(-a, a) with a = sqrt(6 / (fan_in + fan_out)): variance 2 / (fan_in + fan_out)."""
    fan_in, fan_out = fans(shape)
    return uniform(shape, rng, dtype, limit=math.sqrt(6.0 / (fan_in + fan_out)))


def he_normal(shape, rng, dtype=np.float32):
    """N(0, 2 / fan_in) (He et al., 2015), for ReLU-family activations."""
    fan_in, _ = fans(shape)
    return normal(shape, rng, dtype, std=math.sqrt(2.0 / fan_in))


def he_uniform(shape, rng, dtype=np.float32):
    """U(-a, a) with a = sqrt(6 / fan_in): variance 2 / fan_in."""
    fan_in, _ = fans(shape)
    return uniform(shape, rng, dtype, limit=math.sqrt(6.0 / fan_in))


def lecun_normal(shape, rng, dtype=np.float32):
    """N(0, 1 / fan_in) (LeCun et al., 1998), for SELU and tanh."""
    fan_in, _ = fans(shape)
    return normal(shape, rng, dtype, std=math.sqrt(1.0 / fan_in))


def lecun_uniform(shape, rng, dtype=np.float32):
    """U(-a, a) with a = sqrt(3 / fan_in): variance 1 / fan_in."""
    fan_in, _ = fans(shape)
    return uniform(shape, rng, dtype, limit=math.sqrt(3.0 / fan_in))


def zeros(shape, rng=None, dtype=np.float32):
    """All zeros (the usual bias initializer)."""
    return np.zeros(shape, dtype=dtype)


def ones(shape, rng=None, dtype=np.float32):
    """All ones (BatchNorm's scale)."""
    return np.ones(shape, dtype=dtype)


def constant(value: float):
    """An initializer filling with value, e.g. constant(0.01) for biases of ReLU units."""

    def fill(shape, rng=None, dtype=np.float32):
        return np.full(shape, value, dtype=dtype)

    fill.__name__ = f"constant({value})"
    return fill


xavier_normal = glorot_normal
xavier_uniform = glorot_uniform

_BY_NAME = {
    "normal": normal, "uniform": uniform, "glorot_normal": glorot_normal, "glorot_uniform": glorot_uniform,
    "xavier_normal": glorot_normal, "xavier_uniform": glorot_uniform, "he_normal": he_normal,
    "he_uniform": he_uniform, "kaiming_normal": he_normal, "kaiming_uniform": he_uniform,
    "lecun_normal": lecun_normal, "lecun_uniform": lecun_uniform, "zeros": zeros, "ones": ones,
}


def get_initializer(spec):
    """An initializer from its name ("he_normal"), a number (constant), or a callable (returned as is)."""
    if callable(spec):
        return spec
    if isinstance(spec, numbers.Real) and not isinstance(spec, (bool, np.bool_)):
        return constant(check_real(None, "a constant initializer", spec))
    if not isinstance(spec, str):
        raise TypeError(f"an initializer must be a name, a number or a function, got {spec!r} of type "
                        f"{type(spec).__name__}")
    if spec in _BY_NAME:
        return _BY_NAME[spec]
    raise ValueError(f"unknown initializer {spec!r}; choose one of {sorted(_BY_NAME)} or pass a number or a function")
