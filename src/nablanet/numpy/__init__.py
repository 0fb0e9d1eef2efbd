"""NumPy's names with derivatives: ``import nablanet.numpy as np`` makes ordinary NumPy code differentiable.

Every differentiable function here is a nablanet op (or built from them); everything else (array
creation, constants, dtypes, ``random``, ``linalg``) is NumPy's own. A NumPy function that nablanet
cannot differentiate raises a TypeError naming it when it meets a Tensor that carries a derivative,
never a silently wrong gradient.

Example:
    >>> import nablanet.numpy as np
    >>> from nablanet import grad
    >>> def f(x):
    ...     return np.sqrt(x ** 2 + np.exp(x ** 2))
    >>> print(f"{grad(f)(0.5):.6f}")   # x (1 + e^{x^2}) / sqrt(x^2 + e^{x^2})
    0.922050
"""

import numpy as _numpy

from nablanet.autodiff.ops import *  # noqa: F401,F403
from nablanet.autodiff.ops import __all__ as _ops_all
from nablanet.autodiff.tensor import Tensor
from nablanet.numpy import fft  # noqa: F401  (numpy.fft with derivatives, not NumPy's module)


def _constant(func):
    """A NumPy function whose result has no derivative, applied to the values of any Tensors."""

    def wrapped(*args, **kwargs):
        args = [a.data if isinstance(a, Tensor) else a for a in args]
        return func(*args, **kwargs)

    wrapped.__name__ = func.__name__
    wrapped.__doc__ = f"numpy.{func.__name__} on the values (no derivative)."
    wrapped.__nablanet_constant__ = True
    return wrapped


argmax = _constant(_numpy.argmax)
argmin = _constant(_numpy.argmin)
argsort = _constant(_numpy.argsort)
shape = _constant(_numpy.shape)
ndim = _constant(_numpy.ndim)
size = _constant(_numpy.size)
floor = _constant(_numpy.floor)
ceil = _constant(_numpy.ceil)
round = _constant(_numpy.round)
isfinite = _constant(_numpy.isfinite)
isnan = _constant(_numpy.isnan)
allclose = _constant(_numpy.allclose)
zeros_like = _constant(_numpy.zeros_like)
ones_like = _constant(_numpy.ones_like)

__all__ = [*_ops_all, "argmax", "argmin", "argsort", "shape", "ndim", "size", "floor", "ceil", "round",
           "isfinite", "isnan", "allclose", "zeros_like", "ones_like"]


def __getattr__(name):
    # Creation functions, constants, dtypes and submodules come from NumPy itself. Applied to a
    # Tensor, a NumPy function nablanet does not differentiate reaches Tensor.__array_function__ or
    # __array_ufunc__, which raise an error naming it.
    try:
        return getattr(_numpy, name)
    except AttributeError:
        raise AttributeError(f"module 'nablanet.numpy' has no attribute {name!r} (nor has numpy)") from None
