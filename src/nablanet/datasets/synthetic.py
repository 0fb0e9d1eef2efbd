"""The notes' functions as data: the polynomial, Franke's function and sine_quadratic, sampled with noise."""

from __future__ import annotations

import math

import numpy as np

from nablanet.datasets.common import _check_count, _float_dtype
from nablanet.datasets.registry import LoadedData, register_dataset
from nablanet.nn.init import make_rng

__all__ = ["polynomial", "make_polynomial", "franke", "make_franke", "sine_quadratic", "make_sine_quadratic"]


def polynomial(x0, x1):
    """The notes' second-order polynomial ``f(x0, x1) = x0^2 + 3 x0 x1 + x1^2 + 5``.

    Args:
        x0, x1: arrays (or scalars) of the same or broadcastable shapes.

    Returns:
        ``f(x0, x1)`` elementwise.

    Example:
        >>> float(polynomial(1.0, 2.0))   # 1 + 6 + 4 + 5
        16.0
    """
    x0, x1 = np.asarray(x0), np.asarray(x1)
    return x0**2 + 3 * x0 * x1 + x1**2 + 5


def make_polynomial(n: int = 100, *, grid: bool = False, noise: float = 0.0, rng=None, dtype=np.float64):
    """Samples of the notes' polynomial ``y = x0^2 + 3 x0 x1 + x1^2 + 5`` on the unit square.

    The notes feed a network ``n = 100`` points ``(x0, x1)``; they do not say where the points lie,
    so they are drawn uniformly from ``[0, 1]^2`` (the domain of the universal approximation
    theorem) or, with ``grid=True``, laid on an ``n x n`` grid of evenly spaced points.

    Args:
        n: number of random points, or points per axis with ``grid=True`` (``n * n`` in all).
        grid: lay the points on a regular grid (row-major, ``x1`` fastest) instead of drawing them.
        noise: standard deviation of Gaussian noise added to ``y`` (0: exact values).
        rng: ``numpy.random.Generator`` or int seed for the points and the noise; ``None``: a new
            generator from the library's seed (``nablanet.seed``).
        dtype: floating dtype of ``X`` and ``y``.

    Returns:
        ``(X, y)`` with ``X[:, 0] = x0`` and ``X[:, 1] = x1``.

    Shape:
        X (n, 2), y (n,); with ``grid=True`` X (n*n, 2), y (n*n,).

    Example:
        >>> X, y = make_polynomial(5, rng=0)
        >>> X.shape, y.shape
        ((5, 2), (5,))
        >>> bool(np.allclose(y, X[:, 0]**2 + 3*X[:, 0]*X[:, 1] + X[:, 1]**2 + 5))
        True
        >>> X, y = make_polynomial(2, grid=True)
        >>> X.tolist(), y.tolist()
        ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [5.0, 6.0, 6.0, 10.0])
    """
    generator = make_rng(rng)
    X = _unit_square_points(n, grid, generator, "make_polynomial")
    return _with_noise(X, polynomial(X[:, 0], X[:, 1]), noise, generator, dtype)


def franke(x, y):
    """Franke's function, the standard test surface on the unit square (Franke, 1979).

    Two Gaussian peaks, a broad ridge and a dip; values lie in about [0, 1.22] on ``[0, 1]^2``::

        f(x, y) = 3/4 exp(-(9x - 2)^2 / 4 - (9y - 2)^2 / 4)
                + 3/4 exp(-(9x + 1)^2 / 49 - (9y + 1) / 10)
                + 1/2 exp(-(9x - 7)^2 / 4 - (9y - 3)^2 / 4)
                - 1/5 exp(-(9x - 4)^2 - (9y - 7)^2)

    Args:
        x, y: arrays (or scalars) of the same or broadcastable shapes.

    Returns:
        ``f(x, y)`` elementwise.

    References:
        R. Franke, "A critical comparison of some methods for interpolation of scattered data",
        Naval Postgraduate School report NPS-53-79-003 (1979).

    Example:
        >>> round(float(franke(0.0, 0.0)), 10)
        0.7664205913
    """
    x, y = np.asarray(x), np.asarray(y)
    term1 = 0.75 * np.exp(-((9 * x - 2) ** 2) / 4 - ((9 * y - 2) ** 2) / 4)
    term2 = 0.75 * np.exp(-((9 * x + 1) ** 2) / 49 - (9 * y + 1) / 10)
    term3 = 0.5 * np.exp(-((9 * x - 7) ** 2) / 4 - ((9 * y - 3) ** 2) / 4)
    term4 = -0.2 * np.exp(-((9 * x - 4) ** 2) - (9 * y - 7) ** 2)
    return term1 + term2 + term3 + term4


def make_franke(n: int = 100, *, grid: bool = False, noise: float = 0.0, rng=None, dtype=np.float64):
    """Samples of Franke's function on the unit square, random or on a grid, optionally noisy.

    Args:
        n: number of random points, or points per axis with ``grid=True`` (``n * n`` in all).
        grid: lay the points on a regular grid (``np.linspace(0, 1, n)`` per axis, row-major,
            ``y`` fastest) instead of drawing them uniformly from ``[0, 1]^2``.
        noise: standard deviation of Gaussian noise added to the function values.
        rng: ``numpy.random.Generator`` or int seed for the points and the noise.
        dtype: floating dtype of ``X`` and ``z``.

    Returns:
        ``(X, z)`` with ``X[:, 0] = x``, ``X[:, 1] = y`` and ``z = franke(x, y) + noise``.

    Shape:
        X (n, 2), z (n,); with ``grid=True`` X (n*n, 2), z (n*n,). Reshape ``z`` to ``(n, n)`` for a
        surface plot: ``z.reshape(n, n)[i, j]`` is the value at ``(x_i, y_j)``.

    Example:
        >>> X, z = make_franke(3, grid=True)
        >>> X.shape, z.shape
        ((9, 2), (9,))
        >>> X[4].tolist(), round(float(z[4]), 6)
        ([0.5, 0.5], 0.325762)
    """
    generator = make_rng(rng)
    X = _unit_square_points(n, grid, generator, "make_franke")
    return _with_noise(X, franke(X[:, 0], X[:, 1]), noise, generator, dtype)


def sine_quadratic(x):
    """``f(x) = sin(2 pi x) + x^2 / 2``: the 1-D target of the universal approximation demo.

    The notes state the theorem for any continuous function on ``[0, 1]^d`` without fixing an
    example; this one is continuous and smooth, has a full period of oscillation (so a handful
    of sigmoids cannot fit it with one bump) and a trend that breaks its symmetry, so both the
    number of hidden units and their placement show in the fit.

    Example:
        >>> [round(float(v), 6) for v in sine_quadratic(np.array([0.0, 0.25, 1.0]))]
        [0.0, 1.03125, 0.5]
    """
    x = np.asarray(x)
    return np.sin(2 * np.pi * x) + 0.5 * x**2


def make_sine_quadratic(n: int = 100, *, grid: bool = False, noise: float = 0.0, rng=None, dtype=np.float64):
    """Samples of :func:`sine_quadratic` on ``[0, 1]``, random or evenly spaced, optionally noisy.

    Args:
        n: number of points.
        grid: ``np.linspace(0, 1, n)`` instead of ``n`` uniform draws (which come sorted, so a line
            plot of ``(x, y)`` needs no reordering).
        noise: standard deviation of Gaussian noise added to ``y``.
        rng: ``numpy.random.Generator`` or int seed for the points and the noise.
        dtype: floating dtype of ``x`` and ``y``.

    Returns:
        ``(x, y)``, ``x`` a column so that it is a design matrix with one feature.

    Shape:
        x (n, 1), y (n,).

    Example:
        >>> x, y = make_sine_quadratic(5, grid=True)
        >>> x.ravel().tolist()
        [0.0, 0.25, 0.5, 0.75, 1.0]
        >>> [round(float(v), 4) for v in y]
        [0.0, 1.0312, 0.125, -0.7188, 0.5]
    """
    _check_count(n, "make_sine_quadratic", "n")
    generator = make_rng(rng)
    if grid:
        x = np.linspace(0.0, 1.0, n)
    else:
        x = np.sort(generator.uniform(0.0, 1.0, n))
    return _with_noise(x[:, None], sine_quadratic(x), noise, generator, dtype)


def _unit_square_points(n, grid: bool, generator: np.random.Generator, where: str):
    _check_count(n, where, "n")
    if grid:
        axis = np.linspace(0.0, 1.0, n)
        first, second = np.meshgrid(axis, axis, indexing="ij")
        return np.column_stack([first.ravel(), second.ravel()])
    return generator.uniform(0.0, 1.0, (n, 2))


def _with_noise(X, y, noise, generator: np.random.Generator, dtype):
    # The noise is drawn after the points, from the same generator, so that a seed fixes both and
    # the noisy targets are exactly the clean ones plus the noise (the tests rely on it).
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.floating, np.integer)) or not (
        math.isfinite(noise) and noise >= 0
    ):
        raise ValueError(f"noise must be a finite standard deviation >= 0, got {noise!r}")
    dtype = _float_dtype(dtype)
    if noise > 0:
        y = y + noise * generator.standard_normal(y.shape)
    return X.astype(dtype, copy=False), y.astype(dtype, copy=False)


def _sampled(make, name: str):
    """The loader of a generated data set: ``make(n_samples, noise=, rng=seed)``."""

    def load(settings: dict) -> LoadedData:
        X, y = make(settings["n_samples"], noise=settings["noise"], rng=settings["seed"])
        return LoadedData(X, y, f"{name} ({len(X)} samples, noise {settings['noise']})")

    return load


_OPTIONS = ("n_samples", "noise")
register_dataset("polynomial", _sampled(make_polynomial, "polynomial"), kind="regression", n_samples=500,
                 options=_OPTIONS, description="the notes' y = x0^2 + 3 x0 x1 + x1^2 + 5 on the unit square")
register_dataset("franke", _sampled(make_franke, "franke"), kind="regression", n_samples=500, options=_OPTIONS,
                 description="Franke's function on the unit square")
register_dataset("sine_quadratic", _sampled(make_sine_quadratic, "sine_quadratic"), kind="regression",
                 n_samples=200, options=_OPTIONS,
                 description="sin(2 pi x) + x^2 / 2 on [0, 1], the universal approximation target")
