"""The methods of NumPy's ufuncs (``np.subtract.outer``, ``np.add.reduce``, ``np.multiply.accumulate``)
on nablanet's functions of the same names, so NumPy code that calls them is differentiable too."""

from __future__ import annotations

import numpy as _numpy

# ufunc.reduce and ufunc.accumulate are these functions along an axis (axis 0 by default, as NumPy).
REDUCTIONS = {"add": "sum", "multiply": "prod", "maximum": "max", "minimum": "min", "fmax": "nanmax",
              "fmin": "nanmin", "logaddexp": "logsumexp"}
ACCUMULATIONS = {"add": "cumsum", "multiply": "cumprod"}


def attach(namespace: dict) -> None:
    """Give every binary ufunc-named function of ``namespace`` NumPy's ``outer``, and the ones above
    their ``reduce`` and ``accumulate``."""
    for name, function in list(namespace.items()):
        theirs = getattr(_numpy, name, None)
        if not isinstance(theirs, _numpy.ufunc) or theirs.nin != 2 or not callable(function):
            continue
        function.outer = _outer(function, name)
        if name in REDUCTIONS:
            function.reduce = _reduce(namespace[REDUCTIONS[name]], name)
        if name in ACCUMULATIONS:
            function.accumulate = _accumulate(namespace[ACCUMULATIONS[name]], name)


def _shape(x):
    return _numpy.shape(x._data if hasattr(x, "_data") else x)


def _outer(function, name):
    def outer(a, b, **kwargs):
        from nablanet.autodiff.ops import reshape

        # a with b's dimensions appended as ones: every pair (a_i, b_j), as numpy.ufunc.outer.
        a_shape, b_shape = _shape(a), _shape(b)
        return function(reshape(a, tuple(a_shape) + (1,) * len(b_shape)), b, **kwargs)

    outer.__doc__ = f"numpy.{name}.outer: {name}(a_i, b_j) for every pair of elements."
    return outer


def _reduce(reduction, name):
    def reduce(array, axis=0, dtype=None, out=None, keepdims=False, **kwargs):
        if out is not None:
            raise TypeError(f"{name}.reduce: out= is not supported (Tensors are immutable)")
        if dtype is not None:
            kwargs["dtype"] = dtype
        return reduction(array, axis=axis, keepdims=keepdims, **kwargs)

    reduce.__doc__ = f"numpy.{name}.reduce: {reduction.__name__} along an axis (0 by default)."
    return reduce


def _accumulate(accumulation, name):
    def accumulate(array, axis=0, dtype=None, out=None):
        if out is not None:
            raise TypeError(f"{name}.accumulate: out= is not supported (Tensors are immutable)")
        return accumulation(array, axis=axis, dtype=dtype)

    accumulate.__doc__ = f"numpy.{name}.accumulate: {accumulation.__name__} along an axis (0 by default)."
    return accumulate
