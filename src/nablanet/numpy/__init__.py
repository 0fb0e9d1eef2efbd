"""NumPy's names with derivatives: ``import nablanet.numpy as np`` makes ordinary NumPy code differentiable.

Every differentiable function here is a nablanet op (or built from them), and so are those of
``nablanet.numpy.linalg`` and ``nablanet.numpy.fft``; everything else (array creation, constants, dtypes, ``random``) is NumPy's own. A NumPy function that nablanet
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


def _constant(func):
    """A NumPy function whose result has no derivative, applied to the values of any Tensors."""

    def wrapped(*args, **kwargs):
        args = [a.data if isinstance(a, Tensor) else a for a in args]
        return func(*args, **kwargs)

    wrapped.__name__ = func.__name__
    wrapped.__doc__ = f"numpy.{func.__name__} on the values (no derivative)."
    wrapped.__nablanet_constant__ = True
    return wrapped


# NumPy functions whose results have no derivative (integers, booleans, piecewise constants), by family.
CONSTANT_NAMES = (
    # positions and shapes
    "argmax", "argmin", "argsort", "argpartition", "searchsorted", "nanargmax", "nanargmin",
    "shape", "ndim", "size",
    # rounding and tests of values
    "floor", "ceil", "round", "rint", "trunc", "floor_divide", "isfinite", "isnan", "isinf", "signbit",
    "allclose",
    # counts and truth values
    "count_nonzero", "all", "any",
    # arrays of the same shape, whatever the values
    "zeros_like", "ones_like",
)
for _name in CONSTANT_NAMES:
    globals()[_name] = _constant(getattr(_numpy, _name))
del _name

__all__ = [*_ops_all, *CONSTANT_NAMES]

from nablanet.numpy import _ufunc_methods  # noqa: E402

_ufunc_methods.attach(globals())

from nablanet.numpy import linalg  # noqa: E402  (numpy.linalg with derivatives)
from nablanet.numpy import fft  # noqa: E402  (numpy.fft with derivatives)


def __getattr__(name):
    # Creation functions, constants, dtypes and submodules come from NumPy itself. Applied to a
    # Tensor, a NumPy function nablanet does not differentiate reaches Tensor.__array_function__ or
    # __array_ufunc__, which raise an error naming it.
    try:
        return getattr(_numpy, name)
    except AttributeError:
        raise AttributeError(f"module 'nablanet.numpy' has no attribute {name!r} (nor has numpy)") from None
