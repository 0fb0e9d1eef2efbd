"""Dense-layer kernels: a batch as one matrix, the bias added in long rows, column sums as one product."""

from __future__ import annotations

import numpy as np

__all__ = ["as_rows", "add_row_vector_", "column_sums", "TILED_ADD_MIN_SIZE"]


def as_rows(x):
    """x (..., n) as one matrix of rows (a view when x is contiguous), else x itself.

    One BLAS call for a product x W over every leading dimension, instead of np.matmul's loop of
    one call per leading index.
    """
    return x.reshape(-1, x.shape[-1]) if x.ndim != 2 and x.flags.c_contiguous else x


# Below this many values the tiled add costs more than it saves (np.tile's own call and copy).
TILED_ADD_MIN_SIZE = 1 << 15


def add_row_vector_(z, b):
    """z += b in place for every row of z (..., n); b (n,).

    Broadcasting b over rows of a few dozen values makes NumPy's inner loop that short. With z
    contiguous and large, rows are grouped into rows of about 512 values and b tiled to match, so
    the same add runs in long inner loops.
    """
    n = b.shape[0]
    if n and z.size >= TILED_ADD_MIN_SIZE and z.flags.c_contiguous:
        group = 512 // n
        if group > 1 and (z.size // n) % group == 0:
            z = z.reshape(-1, group * n)
            b = np.tile(b, group)
    np.add(z, b, out=z)


def column_sums(rows):
    """The sum over rows of rows (m, n), shape (n,), as the product ones(m) @ rows.

    NumPy sums over axis 0 of a narrow matrix one short row at a time; the product with a vector of
    ones is one BLAS call and several times faster.
    """
    return np.ones(rows.shape[0], dtype=rows.dtype) @ rows
