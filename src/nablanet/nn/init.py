"""Weight initializers: every draw comes from an explicit numpy.random.Generator; the library's seed.

A layer, a data set or ``fit`` given no ``rng`` takes a generator of its own from the library's seed
(``make_rng(None)``), which ``nablanet.seed`` sets, as ``torch.manual_seed`` does PyTorch's. NumPy's
global random state (``np.random.seed``) is never read or changed.

Fan-in and fan-out are the numbers of inputs and outputs of a unit: for a dense weight matrix of
shape (n_in, n_out) they are n_in and n_out; for a convolution kernel (C_out, C_in, k...) they are
C_in * prod(k) and C_out * prod(k).
"""

from __future__ import annotations

import math
import numbers
import threading

import numpy as np

from nablanet.checks import check_real

__all__ = [
    "normal", "uniform", "glorot_normal", "glorot_uniform", "xavier_normal", "xavier_uniform", "he_normal",
    "he_uniform", "lecun_normal", "lecun_uniform", "zeros", "ones", "constant", "get_initializer", "make_rng",
    "fans", "seed",
]

# The library's seed: make_rng(None) spawns each new generator from it (SeedSequence.spawn gives
# independent streams, the k-th generator the same ones after the same seed). Fresh OS entropy at
# import, so that a program that never calls seed() draws different weights on every run.
_library_seed = np.random.SeedSequence()
_library_seed_lock = threading.Lock()


def seed(value: int | None) -> None:
    """Set the library's seed: what every draw without an explicit ``rng`` comes from afterwards.

    After ``nablanet.seed(s)`` a program that builds its layers and calls ``fit`` in the same order
    draws the same numbers on every run: the initial weights of layers built without ``rng=`` (Dense,
    RBF, Conv1d, Conv2d, RNN, GRU, LSTM), the masks of Dropout layers built without ``rng=`` (each
    keeps the generator it took when built), the shuffling and validation split of ``fit`` called
    without ``seed=``, and the data sets and splits of nablanet.datasets and nablanet.preprocessing
    called without ``rng=``. An explicit ``rng=`` or ``seed=`` is used instead and leaves the
    library's seed untouched. NumPy's global random state (``np.random.seed``) is neither read nor
    changed; the scikit-learn estimators follow ``random_state`` as scikit-learn's do.

    Args:
        value: a non-negative integer; None draws a fresh seed from the operating system.

    Example:
        >>> import nablanet.nn as nn
        >>> seed(0)
        >>> first = nn.Dense(3, 2).W.data.copy()
        >>> seed(0)
        >>> bool((nn.Dense(3, 2).W.data == first).all())
        True
    """
    global _library_seed
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0):
        raise ValueError(f"nablanet.seed: the seed must be a non-negative integer or None, got {value!r}")
    with _library_seed_lock:
        _library_seed = np.random.SeedSequence(None if value is None else int(value))


def make_rng(rng=None) -> np.random.Generator:
    """A Generator from a Generator (returned as is), an int seed, or None (a new one from the library's seed).

    With None each call returns a new generator, independent of the others, spawned from the seed
    that ``seed`` set (fresh OS entropy until it is called).
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        with _library_seed_lock:
            child = _library_seed.spawn(1)[0]
        return np.random.default_rng(child)
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
