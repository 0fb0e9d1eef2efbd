"""numpy.linalg's composites: norms, cond, matrix_power, multi_dot, lstsq, tensorsolve, tensorinv,
and NumPy 2's array-API functions (matrix_transpose, trace, diagonal, outer, cross, vecdot, tensordot).

None of these is a primitive: each is written with the ops of ``solve.py``, ``factor.py`` and the
elementwise, reduction and shape families, so it has no rules of its own to get wrong and every
derivative order comes from theirs. Norms take the subgradient 0 at 0 where they have a kink
there (as PyTorch and JAX's ``jnp.linalg.norm`` since 0.4): the 2-norm of a zero vector has
gradient 0, not NaN.
"""

from __future__ import annotations

import math
import operator

import numpy as np

from nablanet.autodiff.ops.elementwise import abs, astype, conj, multiply, power, real, sqrt, where
from nablanet.autodiff.ops.spectral import svdvals
from nablanet.autodiff.ops.linalg import dot, matmul
from nablanet.autodiff.ops.linalg import outer as _outer
from nablanet.autodiff.ops.reduce import amax, amin, sum
from nablanet.autodiff.ops.shape import getitem, moveaxis, reshape, stack, swapaxes, transpose
from nablanet.autodiff.ops.solve import LinAlgError, _carries_derivative, _check_square, _raw, inv, pinv, solve
from nablanet.autodiff.tensor import Tensor

__all__ = [
    "norm", "matrix_norm", "vector_norm", "cond", "matrix_power", "multi_dot", "lstsq", "tensorsolve",
    "tensorinv", "matrix_transpose", "trace", "diagonal", "outer", "cross", "vecdot", "tensordot", "matmul",
]


def _as_inexact(x):
    """x itself if it is floating or complex; integer (boolean) input as float64, as numpy.linalg does."""
    if isinstance(x, Tensor):
        return x
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.inexact) else x.astype(float)


def _normalize(axis: int, ndim: int) -> int:
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(axis, ndim)
    return axis % ndim


# --- norms --------------------------------------------------------------------------------------

def _two_norm(x, axis, keepdims=False):
    """sqrt(sum |x|^2) along axis, with the subgradient 0 at x = 0 (where sqrt' is infinite)."""
    total = sum(real(conj(x) * x), axis=axis, keepdims=keepdims)
    zero = np.equal(_raw(total), 0)
    return where(zero, 0.0, sqrt(where(zero, 1.0, total)))


def _p_norm(x, p, axis, keepdims):
    """(sum |x|^p)^(1/p) along axis; for p > 0, 0 with gradient 0 where the sum is 0."""
    total = sum(power(abs(x), float(p)), axis=axis, keepdims=keepdims)
    if p < 0:
        return power(total, 1.0 / float(p))
    zero = np.equal(_raw(total), 0)
    return where(zero, 0.0, power(where(zero, 1.0, total), 1.0 / float(p)))


def _extreme_or_zero(reduce, x, axis: int, keepdims=False):
    """max or min along axis; the max over an empty axis is 0 (NumPy's ``initial=0``)."""
    shape = np.shape(_raw(x))
    axis = axis % len(shape)
    if shape[axis] == 0 and reduce is amax:
        kept = tuple(1 if i == axis else n for i, n in enumerate(shape))
        return np.zeros(kept if keepdims else kept[:axis] + kept[axis + 1:], dtype=_raw(x).dtype)
    return reduce(x, axis=axis, keepdims=keepdims)


def _vector_norm_along(x, ord, axis: int, keepdims: bool):
    if ord is None or ord == 2:
        return _two_norm(x, axis, keepdims)
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order '{ord}' for vectors")
    if ord == np.inf:
        return _extreme_or_zero(amax, abs(x), axis, keepdims)
    if ord == -np.inf:
        return _extreme_or_zero(amin, abs(x), axis, keepdims)
    if ord == 0:
        # The number of non-zero entries: piecewise constant, no derivative.
        raw = _raw(x)
        return np.sum(raw != 0, axis=axis, keepdims=keepdims).astype(raw.real.dtype)
    if ord == 1:
        return sum(abs(x), axis=axis, keepdims=keepdims)
    return _p_norm(x, ord, axis, keepdims)


def _matrix_norm_along(x, ord, row_axis: int, col_axis: int):
    """The matrix norm over (row_axis, col_axis), without keepdims (those two axes removed)."""
    if row_axis == col_axis:
        raise ValueError("Duplicate axes given.")
    if ord in (2, -2, "nuc"):
        s = svdvals(_matrix_axes_last(x, row_axis, col_axis))
        if ord == "nuc":
            return sum(s, axis=-1)
        return _extreme_or_zero(amax if ord == 2 else amin, s, -1)
    if ord in (1, -1):
        reduce = amax if ord == 1 else amin
        column_sums = sum(abs(x), axis=row_axis)
        return _extreme_or_zero(reduce, column_sums, col_axis - 1 if col_axis > row_axis else col_axis)
    if ord in (np.inf, -np.inf):
        reduce = amax if ord == np.inf else amin
        row_sums = sum(abs(x), axis=col_axis)
        return _extreme_or_zero(reduce, row_sums, row_axis - 1 if row_axis > col_axis else row_axis)
    if ord in (None, "fro", "f"):
        return _two_norm(x, (row_axis, col_axis))
    raise ValueError("Invalid norm order for matrices.")


def _matrix_axes_last(x, row_axis: int, col_axis: int):
    """x with (row_axis, col_axis) moved to the end, in that order."""
    ndim = np.ndim(_raw(x))
    order = [a for a in range(ndim) if a not in (row_axis, col_axis)] + [row_axis, col_axis]
    return transpose(x, order)


def norm(x, ord=None, axis=None, keepdims=False):
    """Matrix or vector norm (numpy.linalg.norm), every order NumPy accepts.

    Vector orders (1-D x, or an int axis): None or 2 (Euclidean), inf (max |x|), -inf (min |x|),
    0 (number of non-zeros: no derivative), 1 (sum |x|), any other p: (sum |x|^p)^(1/p).
    Matrix orders (2-D x, or an axis pair): None or 'fro' (Frobenius), 'nuc' (sum of singular values),
    inf / -inf (max / min row sum of |x|), 1 / -1 (max / min column sum), 2 / -2 (largest / smallest
    singular value). With axis=None and ord=None any x gives the 2-norm of its entries.

    Derivatives: the subgradient 0 at x = 0 (2-norm, p-norms), the gradient split evenly between
    ties of max and min (inf-norms; the 2-norm of a matrix with a repeated top singular value), as
    PyTorch does. Spectral and nuclear norms go through svdvals, finite for repeated singular values.

    Args:
        x: array.
        ord: the order.
        axis: None, an int (vector norms) or a pair (matrix norms).
        keepdims: keep the reduced axes with length 1.

    Returns:
        The norms, real (float32 for float32 or complex64 x).

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import grad
        >>> print(np.linalg.norm(np.array([3.0, -4.0])))
        5.0
        >>> grad(np.linalg.norm)(np.zeros(2))    # the subgradient at 0
        array([0., 0.])
        >>> print(np.linalg.norm(np.array([[1.0, 2.0], [3.0, 4.0]]), ord=1))    # largest column sum
        6.0
    """
    x = _as_inexact(x)
    shape = np.shape(_raw(x))
    ndim = len(shape)
    if axis is None:
        if ord is None or (ord in ("f", "fro") and ndim == 2) or (ord == 2 and ndim == 1):
            out = _two_norm(reshape(x, (math.prod(shape),)), 0)
            return reshape(out, (1,) * ndim) if keepdims else out
        axis = tuple(range(ndim))
    elif not isinstance(axis, tuple):
        try:
            axis = (int(axis),)
        except Exception as err:
            raise TypeError("'axis' must be None, an integer or a tuple of integers") from err
    if len(axis) == 1:
        return _vector_norm_along(x, ord, _normalize(axis[0], ndim), bool(keepdims))
    if len(axis) == 2:
        row_axis, col_axis = _normalize(axis[0], ndim), _normalize(axis[1], ndim)
        out = _matrix_norm_along(x, ord, row_axis, col_axis)
        if keepdims:
            kept = list(shape)
            kept[row_axis] = kept[col_axis] = 1
            out = reshape(out, tuple(kept))
        return out
    raise ValueError("Improper number of dimensions to norm.")


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    """The norm of each matrix over the last two axes (numpy.linalg.matrix_norm, array API).

    Example:
        >>> import nablanet.numpy as np
        >>> print(np.linalg.matrix_norm(np.array([[3.0, 0.0], [0.0, 4.0]]), ord="nuc"))
        7.0
    """
    return norm(x, axis=(-2, -1), keepdims=keepdims, ord=ord)


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    """The vector norm over axis (numpy.linalg.vector_norm, array API): None flattens x, a tuple of
    axes takes the norm of the entries over all of them.

    Example:
        >>> import nablanet.numpy as np
        >>> print(np.linalg.vector_norm(np.array([[1.0, -2.0], [2.0, 0.0]]), ord=1))
        5.0
    """
    x = _as_inexact(x)
    shape = list(np.shape(_raw(x)))
    if axis is None:
        flat = reshape(x, (math.prod(shape),))
        out = norm(flat, axis=0, ord=ord)
        reduced = range(len(shape))
    elif isinstance(axis, tuple):
        reduced = tuple(_normalize(a, len(shape)) for a in axis)
        rest = [i for i in range(len(shape)) if i not in reduced]
        moved = transpose(x, list(reduced) + rest)
        flat = reshape(moved, (math.prod(shape[i] for i in reduced), *[shape[i] for i in rest]))
        out = norm(flat, axis=0, ord=ord)
    else:
        out = norm(x, axis=axis, ord=ord)
        reduced = (_normalize(axis, len(shape)),)
    if keepdims:
        for i in reduced:
            shape[i] = 1
        out = reshape(out, tuple(shape))
    return out


def cond(x, p=None):
    """The condition number of each matrix of a stack (numpy.linalg.cond).

    p None, 2 or -2: the ratio of the largest to the smallest singular value (or its inverse), for
    any (..., M, N); other p (1, -1, inf, -inf, 'fro', 'nuc'): norm(x, p) * norm(inv(x), p) of
    square matrices. A singular matrix gives inf, as NumPy; that value has no derivative.

    Example:
        >>> import nablanet.numpy as np
        >>> print(np.linalg.cond(np.array([[4.0, 0.0], [0.0, 0.5]])))
        8.0
    """
    x = _as_inexact(x)
    shape = np.shape(_raw(x))
    if len(shape) >= 2 and shape[-1] * shape[-2] == 0:
        raise LinAlgError("cond is not defined on empty arrays")
    if p is None or p in (2, -2):
        s = svdvals(x)
        largest, smallest = getitem(s, (Ellipsis, 0)), getitem(s, (Ellipsis, -1))
        with np.errstate(divide="ignore", invalid="ignore"):
            return smallest / largest if p == -2 else largest / smallest
    _check_square(x, "cond")
    try:
        inverse = inv(x)
    except LinAlgError:
        if _carries_derivative(x):
            raise LinAlgError("cond: a matrix is singular, so its condition number (inf) has no derivative") from None
        return np.linalg.cond(_raw(x), p)
    return norm(x, p, axis=(-2, -1)) * norm(inverse, p, axis=(-2, -1))


# --- products and powers ------------------------------------------------------------------------

def matrix_power(a, n):
    """a raised to the integer power n, for each square matrix of a stack (numpy.linalg.matrix_power).

    n = 0 gives the identity (no derivative), n < 0 the power of inv(a); by repeated squaring.

    Example:
        >>> import nablanet.numpy as np
        >>> np.linalg.matrix_power(np.array([[1.0, 1.0], [0.0, 1.0]]), 3)
        array([[1., 3.],
               [0., 1.]])
    """
    _check_square(a, "matrix_power")
    try:
        n = operator.index(n)
    except TypeError as err:
        raise TypeError("exponent must be an integer") from err
    if n == 0:
        raw = _raw(a)
        return np.broadcast_to(np.eye(raw.shape[-1], dtype=raw.dtype), raw.shape).copy()
    if n < 0:
        a = inv(a)
        n = -n
    square = result = None
    while n > 0:
        square = a if square is None else matmul(square, square)
        n, bit = divmod(n, 2)
        if bit:
            result = square if result is None else matmul(result, square)
    return result


def _chain_order(shapes):
    """The split points of the cheapest parenthesisation of a matrix chain (Cormen et al., 15.2),
    as NumPy's multi_dot computes them."""
    n = len(shapes)
    p = [s[0] for s in shapes] + [shapes[-1][1]]
    cost = [[0.0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                q = cost[i][k] + cost[k + 1][j] + p[i] * p[k + 1] * p[j + 1]
                if q < cost[i][j]:
                    cost[i][j] = q
                    split[i][j] = k
    return split


def _chain_product(arrays, split, i, j):
    if i == j:
        return arrays[i]
    k = split[i][j]
    return matmul(_chain_product(arrays, split, i, k), _chain_product(arrays, split, k + 1, j))


def multi_dot(arrays, *, out=None):
    """The product of two or more matrices in the cheapest order (numpy.linalg.multi_dot).

    The first array may be 1-D (a row vector), the last 1-D (a column vector); the others 2-D.

    Example:
        >>> import nablanet.numpy as np
        >>> np.linalg.multi_dot([np.ones(2), np.eye(2), np.array([[1.0], [2.0]])])
        array([3.])
    """
    if out is not None:
        raise TypeError("multi_dot: out= is not supported by nablanet (results are new arrays)")
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError("Expecting at least two arrays.")
    if len(arrays) == 2:
        return dot(arrays[0], arrays[1])
    first_ndim, last_ndim = np.ndim(_raw(arrays[0])), np.ndim(_raw(arrays[-1]))
    if first_ndim == 1:
        arrays[0] = reshape(arrays[0], (1, -1))
    if last_ndim == 1:
        arrays[-1] = reshape(arrays[-1], (-1, 1))
    for a in arrays:
        if np.ndim(_raw(a)) != 2:
            raise LinAlgError(f"{np.ndim(_raw(a))}-dimensional array given. Array must be two-dimensional")
    shapes = [np.shape(_raw(a)) for a in arrays]
    result = _chain_product(arrays, _chain_order(shapes), 0, len(arrays) - 1)
    if first_ndim == 1 and last_ndim == 1:
        return getitem(result, (0, 0))
    if first_ndim == 1 or last_ndim == 1:
        return reshape(result, (-1,))
    return result


# --- least squares and tensor equations ---------------------------------------------------------

def _computation_dtype(*arrays):
    """numpy.linalg's _commonType: double precision for the computation, the inputs' for the result."""
    result = np.result_type(*[_raw(a) for a in arrays])
    if not np.issubdtype(result, np.inexact):
        result = np.dtype(np.float64)
    compute = np.complex128 if np.issubdtype(result, np.complexfloating) else np.float64
    return np.dtype(compute), result


def lstsq(a, b, rcond=None):
    """The least-squares solution of a @ x = b (numpy.linalg.lstsq): (x, residuals, rank, s).

    x = pinv(a) @ b, the minimum-norm solution, differentiable where the rank is constant (full
    rank in particular) by the pseudo-inverse's rule; residuals (the squared norms of the columns of
    b - a @ x, when a is tall and of full rank, else empty) and s (a's singular values) are
    differentiable too; rank is an int. As NumPy, the computation runs in double precision and the
    results are cast to the inputs' precision.

    Args:
        a: (M, N).
        b: (M,) or (M, K).
        rcond: singular values below rcond times the largest count as zero (default eps * max(M, N)).

    Example:
        >>> import nablanet.numpy as np
        >>> x, residuals, rank, s = np.linalg.lstsq(np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]]),
        ...                                         np.array([1.0, 2.0, 2.0]))
        >>> print(x, rank)
        [1.16666667 0.5       ] 2
    """
    raw_a, raw_b = np.asarray(_raw(a)), np.asarray(_raw(b))
    compute, result = _computation_dtype(a, b)
    m, n = np.shape(raw_a)[-2:] if raw_a.ndim >= 2 else (0, 0)
    if rcond is None:
        rcond = np.finfo(compute).eps * max(m, n)
    # NumPy's own call checks the shapes and gives the rank it would report.
    _, _, rank, _ = np.linalg.lstsq(raw_a, raw_b, rcond=rcond)
    one_column = raw_b.ndim == 1
    a_c = astype(a, compute) if raw_a.dtype != compute else a
    b_c = astype(b, compute) if raw_b.dtype != compute else b
    if one_column:
        b_c = reshape(b_c, (m, 1))
    x = matmul(pinv(a_c, rcond=rcond), b_c)
    if rank == n and m > n:
        residual = b_c - matmul(a_c, x)
        residuals = astype(sum(real(conj(residual) * residual), axis=0), np.finfo(result).dtype)
    else:
        residuals = np.array([], dtype=np.finfo(result).dtype)
    s = astype(svdvals(a_c), np.finfo(result).dtype)
    if one_column:
        x = reshape(x, (n,))
    return astype(x, result), residuals, rank, s


def tensorsolve(a, b, axes=None):
    """The solution x of tensordot(a, x, axes=x.ndim) = b (numpy.linalg.tensorsolve), by one solve.

    Example:
        >>> import nablanet.numpy as np
        >>> a = np.eye(6).reshape(6, 2, 3)
        >>> np.linalg.tensorsolve(a, np.arange(6.0)).shape
        (2, 3)
    """
    ndim = np.ndim(_raw(a))
    b_ndim = np.ndim(_raw(b))
    if axes is not None:
        order = list(range(ndim))
        for k in axes:
            order.remove(k)
            order.insert(ndim, k)
        a = transpose(a, order)
    old_shape = np.shape(_raw(a))[-(ndim - b_ndim):]
    size = math.prod(old_shape)
    if np.size(_raw(a)) != size ** 2:
        raise LinAlgError("Input arrays must satisfy the requirement "
                          "prod(a.shape[b.ndim:]) == prod(a.shape[:b.ndim])")
    x = solve(reshape(a, (size, size)), reshape(b, (-1,)))
    return reshape(x, old_shape)


def tensorinv(a, ind=2):
    """The inverse of a with respect to tensordot(., ., ind) (numpy.linalg.tensorinv), by one inv.

    Example:
        >>> import nablanet.numpy as np
        >>> np.linalg.tensorinv(np.eye(6).reshape(2, 3, 6), ind=2).shape
        (6, 2, 3)
    """
    shape = np.shape(_raw(a))
    if ind <= 0:
        raise ValueError("Invalid ind argument.")
    inverse_shape = shape[ind:] + shape[:ind]
    size = math.prod(shape[ind:])
    flat = reshape(a, (size, np.size(_raw(a)) // size if size else 0))
    return reshape(inv(flat), inverse_shape)


# --- NumPy 2's array-API functions in numpy.linalg ----------------------------------------------

def matrix_transpose(x, /):
    """Each matrix of a stack transposed (numpy.linalg.matrix_transpose)."""
    ndim = np.ndim(_raw(x))
    if ndim < 2:
        raise ValueError(f"Input array must be at least 2-dimensional, but it is {ndim}")
    return swapaxes(x, -1, -2)


def _diagonal_index(shape, offset: int):
    m, n = shape[-2:]
    if offset >= 0:
        length = max(0, min(m, n - offset))
        rows = np.arange(length)
        return rows, rows + offset
    length = max(0, min(m + offset, n))
    cols = np.arange(length)
    return cols - offset, cols


def diagonal(x, /, *, offset=0):
    """The diagonal (offset above, below the main one) of each matrix of a stack (numpy.linalg.diagonal).

    Example:
        >>> import nablanet.numpy as np
        >>> np.linalg.diagonal(np.arange(9.0).reshape(3, 3), offset=1)
        array([1., 5.])
    """
    shape = np.shape(_raw(x))
    if len(shape) < 2:
        raise ValueError("diag requires an array of at least two dimensions")
    rows, cols = _diagonal_index(shape, operator.index(offset))
    return getitem(x, (Ellipsis, rows, cols))


def trace(x, /, *, offset=0, dtype=None):
    """The sum of the diagonal of each matrix of a stack (numpy.linalg.trace: the last two axes).

    Example:
        >>> import nablanet.numpy as np
        >>> np.linalg.trace(np.arange(8.0).reshape(2, 2, 2))
        array([ 3., 11.])
    """
    if dtype is not None:
        x = astype(x, dtype)
    return sum(diagonal(x, offset=offset), axis=-1)


def outer(x1, x2, /):
    """The outer product of two vectors (numpy.linalg.outer: 1-D inputs only)."""
    n1, n2 = np.ndim(_raw(x1)), np.ndim(_raw(x2))
    if n1 != 1 or n2 != 1:
        raise ValueError(f"Input arrays must be one-dimensional, but they are x1.ndim={n1} and x2.ndim={n2}.")
    return _outer(x1, x2)


def cross(x1, x2, /, *, axis=-1):
    """The cross product of 3-vectors along axis, broadcast over the others (numpy.linalg.cross).

    Example:
        >>> import nablanet.numpy as np
        >>> np.linalg.cross(np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
        array([0., 0., 1.])
    """
    shape1, shape2 = np.shape(_raw(x1)), np.shape(_raw(x2))
    size1 = shape1[axis] if shape1 else None
    size2 = shape2[axis] if shape2 else None
    if size1 != 3 or size2 != 3:
        raise ValueError("Both input arrays must be (arrays of) 3-dimensional vectors, "
                         f"but they are {size1} and {size2} dimensional instead.")
    a = moveaxis(x1, _normalize(axis, len(shape1)), -1)
    b = moveaxis(x2, _normalize(axis, len(shape2)), -1)
    a0, a1, a2 = (getitem(a, (Ellipsis, i)) for i in range(3))
    b0, b1, b2 = (getitem(b, (Ellipsis, i)) for i in range(3))
    out = stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)
    return moveaxis(out, -1, _normalize(axis, np.ndim(_raw(out))))


def vecdot(x1, x2, /, *, axis=-1):
    """sum(conj(x1) * x2) along axis, broadcast over the others (numpy.linalg.vecdot).

    Example:
        >>> import nablanet.numpy as np
        >>> print(np.linalg.vecdot(np.array([1j, 2.0]), np.array([1j, 1.0])))
        (3+0j)
    """
    shape1, shape2 = np.shape(_raw(x1)), np.shape(_raw(x2))
    a = moveaxis(x1, _normalize(axis, len(shape1)), -1)
    b = moveaxis(x2, _normalize(axis, len(shape2)), -1)
    n1, n2 = np.shape(_raw(a))[-1], np.shape(_raw(b))[-1]
    if n1 != n2:
        raise ValueError(f"vecdot: the vectors along axis {axis} have lengths {n1} and {n2}")
    return sum(multiply(conj(a), b), axis=-1)


def tensordot(x1, x2, /, *, axes=2):
    """Sum of products over the given axes (numpy.linalg.tensordot = numpy.tensordot), by one matmul.

    Example:
        >>> import nablanet.numpy as np
        >>> np.linalg.tensordot(np.ones((2, 3)), np.ones((3, 4)), axes=1).shape
        (2, 4)
    """
    shape1, shape2 = np.shape(_raw(x1)), np.shape(_raw(x2))
    if np.ndim(axes) == 0:
        count = operator.index(axes)
        axes1 = list(range(len(shape1) - count, len(shape1)))
        axes2 = list(range(count))
    else:
        axes1, axes2 = ([a] if np.ndim(a) == 0 else list(a) for a in axes)
    if len(axes1) != len(axes2):
        raise ValueError("shape-mismatch for sum")
    axes1 = [_normalize(a, len(shape1)) for a in axes1]
    axes2 = [_normalize(a, len(shape2)) for a in axes2]
    for a1, a2 in zip(axes1, axes2):
        if shape1[a1] != shape2[a2]:
            raise ValueError("shape-mismatch for sum")
    free1 = [i for i in range(len(shape1)) if i not in axes1]
    free2 = [i for i in range(len(shape2)) if i not in axes2]
    summed = math.prod(shape1[i] for i in axes1)
    left = reshape(transpose(x1, free1 + axes1), (math.prod(shape1[i] for i in free1), summed))
    right = reshape(transpose(x2, axes2 + free2), (summed, math.prod(shape2[i] for i in free2)))
    return reshape(matmul(left, right), tuple(shape1[i] for i in free1) + tuple(shape2[i] for i in free2))
