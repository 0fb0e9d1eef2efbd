"""scipy.special with derivatives: gammaln, digamma, erf, Bessel functions, logsumexp, ... of Tensors.

The functions listed in ``__all__`` are nablanet's (``autodiff/ops/special.py``): SciPy's signatures
and values, with derivatives of every order. Any other name of scipy.special is SciPy's own (no
derivative: applied to a Tensor that carries one, it raises a TypeError naming the function). A
SciPy ufunc listed here, applied to a Tensor (``scipy.special.gammaln(t)``), reaches nablanet's.

Example:
    >>> import numpy
    >>> from nablanet import grad
    >>> from nablanet.scipy import special
    >>> def log_likelihood(k, x):   # a Gamma(k, 1) sample's log-density, as a function of the shape k
    ...     return special.xlogy(k - 1.0, x) - x - special.gammaln(k)
    >>> print(f"{grad(log_likelihood)(2.0, 3.0):.6f}")   # ln 3 - digamma(2)
    0.675828
"""

from scipy import special as _scipy_special

from nablanet.autodiff.ops.special import *  # noqa: F401,F403
from nablanet.autodiff.ops.special import __all__


def __getattr__(name):
    try:
        return getattr(_scipy_special, name)
    except AttributeError:
        raise AttributeError(f"module 'nablanet.scipy.special' has no attribute {name!r} "
                             "(nor has scipy.special)") from None
