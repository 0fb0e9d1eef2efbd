"""numpy.linalg with derivatives: ``nablanet.numpy.linalg.inv``, ``solve``, ``cholesky``, ``eigh``, ``svd``, ...

Every function of NumPy 2's numpy.linalg that has a derivative is nablanet's here, with NumPy's
signature and results (namedtuples included), batched over leading axes and for complex input; so
``numpy.linalg.inv(tensor)`` reaches ``inv`` below. The primitives (inv, solve, slogdet, det,
cholesky, eigh, eig, svd, qr, pinv and the values-only eigvalsh, eigvals, svdvals) live in
``autodiff/ops/solve.py``, ``factor.py`` and ``spectral.py``, the composites in ``linalg_composites.py``. What has no
derivative (``matrix_rank``, ``LinAlgError``) is NumPy's own, applied to the values.

Example:
    >>> import nablanet.numpy as np
    >>> from nablanet import grad
    >>> def log_likelihood(log_noise, k, y):        # a Gaussian process's, up to a constant
    ...     cov = k + np.exp(log_noise) * np.eye(2)
    ...     return -0.5 * y @ np.linalg.solve(cov, y) - 0.5 * np.linalg.slogdet(cov).logabsdet
    >>> k, y = np.array([[1.0, 0.5], [0.5, 1.0]]), np.array([1.0, -1.0])
    >>> print(f"{grad(log_likelihood)(0.0, k, y):.6f}")
    -0.088889
"""

import numpy as _numpy

from nablanet.autodiff.ops import factor as _factor
from nablanet.autodiff.ops import linalg_composites as _composites
from nablanet.autodiff.ops import solve as _solve
from nablanet.autodiff.ops import spectral as _spectral
from nablanet.autodiff.ops.factor import *  # noqa: F401,F403
from nablanet.autodiff.ops.factor import QRResult  # noqa: F401
from nablanet.autodiff.ops.linalg_composites import *  # noqa: F401,F403
from nablanet.autodiff.ops.solve import *  # noqa: F401,F403
from nablanet.autodiff.ops.solve import SlogdetResult  # noqa: F401
from nablanet.autodiff.ops.spectral import *  # noqa: F401,F403
from nablanet.autodiff.ops.spectral import EighResult, EigResult, SVDResult  # noqa: F401
from nablanet.autodiff.tensor import Tensor as _Tensor

LinAlgError = _numpy.linalg.LinAlgError


def matrix_rank(A, tol=None, hermitian=False, *, rtol=None):
    """numpy.linalg.matrix_rank on the values (an integer: no derivative)."""
    A = A.data if isinstance(A, _Tensor) else A
    return _numpy.linalg.matrix_rank(A, tol=tol, hermitian=hermitian, rtol=rtol)


matrix_rank.__nablanet_constant__ = True

__all__ = [*_solve.__all__, *_factor.__all__, *_spectral.__all__, *_composites.__all__, "matrix_rank", "LinAlgError"]


def __getattr__(name):
    try:
        return getattr(_numpy.linalg, name)
    except AttributeError:
        raise AttributeError(f"module 'nablanet.numpy.linalg' has no attribute {name!r} "
                             "(nor has numpy.linalg)") from None
