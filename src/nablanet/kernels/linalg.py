"""Linear-algebra kernels: stacked outer products as a broadcast product, a triangular solve by LAPACK directly."""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.linalg.lapack

__all__ = ["matmul", "solve_triangular"]


def matmul(x, y):
    """numpy.matmul(x, y), with stacks of outer products computed as a broadcast product.

    x (..., M, 1) @ y (..., 1, N) is x * y. NumPy's stacked matmul makes one small BLAS call per
    stack element, several times slower than the broadcast multiply on the per-example weight
    gradients of vmap(grad(f)), which are such stacks.
    """
    if np.ndim(x) > 2 and np.ndim(y) >= 2 and np.shape(x)[-1] == 1 and np.shape(y)[-2] == 1:
        return np.multiply(x, y)
    return np.matmul(x, y)


def solve_triangular(t, b, lower: bool) -> np.ndarray:
    """T^-1 B for T (..., M, M) lower (or upper) triangular and B (..., M, K); only that triangle of T is read.

    One matrix goes to LAPACK's trtrs directly: scipy.linalg.solve_triangular's checks and batching
    cost far more than the solve of a small system. Stacks and empty arrays go through SciPy.

    Raises:
        numpy.linalg.LinAlgError: a zero on the diagonal of T.
    """
    if t.ndim == 2 and b.ndim == 2 and t.size and b.size:
        (trtrs,) = scipy.linalg.lapack.get_lapack_funcs(("trtrs",), (t, b))
        out, info = trtrs(t, b, lower=int(lower))
        if info > 0:
            raise np.linalg.LinAlgError(f"singular matrix: resolution failed at diagonal {info - 1}")
        return out
    return scipy.linalg.solve_triangular(t, b, lower=lower, check_finite=False)
