"""Linear-algebra kernels: a triangular solve by LAPACK directly, without SciPy's per-call checks."""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.linalg.lapack

__all__ = ["solve_triangular"]


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
