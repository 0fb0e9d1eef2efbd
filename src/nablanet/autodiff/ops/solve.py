"""Linear systems and determinants: inv, solve, triangular solves, slogdet, det, pinv (numpy.linalg's).

These are primitives of ``nablanet.numpy.linalg`` (not of the top-level namespace). Every array is
a stack of matrices (..., M, N) batched over its leading axes as NumPy does. The rules follow JAX's
complex convention (see ``elementwise.py``): a cotangent pairs with a tangent by Re(sum(u * v)), so a
holomorphic map such as A -> A^-1 transposes with plain transposes, ``grad_A = -out^T grad_out out^T``.

NumPy's LinAlgError (a singular matrix) reaches the caller as ``numpy.linalg.LinAlgError``: the
forward computations carry it past ``Op``'s own wrapping of ValueErrors (``_linalg_errors``), and
the public functions re-raise it (``apply``).

This module also holds the matrix helpers the decompositions (``factor.py``, ``spectral.py``) share:
transposes, diagonals, triangles and the packing of several results into the one array an op returns.

The rules of inv, solve and slogdet are those collected by Giles 2008, "An extended collection of
matrix derivative results for forward and reverse mode automatic differentiation".
"""

from __future__ import annotations

import functools
import math
from collections import namedtuple

import numpy as np

from nablanet.autodiff import state
from nablanet.autodiff.op import Op, raw as _raw, register
from nablanet.autodiff.ops.elementwise import conj, imag, real, where
from nablanet.autodiff.ops.reduce import sum
from nablanet.autodiff.ops.shape import concatenate, getitem, reshape, stack, swapaxes
from nablanet.autodiff.tensor import Tensor
from nablanet.kernels import linalg as linalg_kernels

__all__ = ["inv", "solve", "det", "slogdet", "pinv"]

LinAlgError = np.linalg.LinAlgError


# --- errors -------------------------------------------------------------------------------------

class _LinAlgFailure(Exception):
    """NumPy's LinAlgError raised in a forward computation, on its way past ``Op._forward`` (which
    reports ValueErrors, LinAlgError among them, as shape errors of its own)."""


def _linalg_errors(forward):
    """Decorate an op's forward so that a LinAlgError leaves it as ``_LinAlgFailure``."""

    @functools.wraps(forward)
    def wrapped(*arrays, **settings):
        try:
            return forward(*arrays, **settings)
        except LinAlgError as err:
            raise _LinAlgFailure(str(err)) from None

    return wrapped


def apply(op, *args, **settings):
    """``op.apply``, with a LinAlgError of its forward raised again as numpy.linalg.LinAlgError."""
    try:
        return op.apply(*args, **settings)
    except _LinAlgFailure as err:
        raise LinAlgError(f"{op.name}: {err}") from None


# --- matrix helpers shared with factor.py and spectral.py (written with ops: rules built on them nest)


def _recorded(x) -> bool:
    """True when operations on x would be recorded now: a rule must then recompute from x what its
    forward kept as a residual, so that a derivative of the rule sees the dependence on x."""
    if not isinstance(x, Tensor):
        return False
    if x._requires_grad and state.grad_enabled:
        return True
    return any(level in x._tangents for level in state.jvp_levels)


def _carries_derivative(x) -> bool:
    return isinstance(x, Tensor) and (x._requires_grad or bool(x._tangents))


def _real_dtype(x) -> np.dtype:
    dtype = _raw(x).dtype
    return np.finfo(dtype).dtype if np.issubdtype(dtype, np.inexact) else np.dtype(np.float64)


def _is_complex(x) -> bool:
    return np.iscomplexobj(_raw(x))


def _mT(x):
    """The transpose of each matrix of a stack."""
    return swapaxes(x, -1, -2)


def _mH(x):
    """The conjugate transpose of each matrix of a stack."""
    return conj(swapaxes(x, -1, -2))


def _eye(n: int, like):
    """The n x n identity in like's real dtype (so that masks never upcast float32)."""
    return np.eye(n, dtype=_real_dtype(like))


def _diagonal(x):
    """The main diagonals (..., n) of a stack of square matrices (..., n, n)."""
    index = np.arange(np.shape(_raw(x))[-1])
    return getitem(x, (Ellipsis, index, index))


def _diag_embed(v):
    """Diagonal matrices (..., n, n) with the vectors v (..., n) on their diagonals."""
    n = np.shape(_raw(v))[-1]
    return reshape(v, np.shape(_raw(v)) + (1,)) * _eye(n, v)


def _trace(x):
    return sum(_diagonal(x), axis=-1)


def _as_matrix_scalar(s):
    """A stack of numbers (...) as (..., 1, 1), to scale a stack of matrices."""
    return reshape(s, np.shape(_raw(s)) + (1, 1))


def _triangle_mask(n: int, lower: bool, like, k: int = 0):
    """0/1 mask of the lower (or upper) triangle, offset k, in like's real dtype."""
    mask = np.tril(np.ones((n, n)), k) if lower else np.triu(np.ones((n, n)), k)
    return mask.astype(_real_dtype(like))


def _hermitian_part(x):
    """(x + x^H) / 2: the part of a tangent a function of a Hermitian matrix sees (JAX's symmetrize)."""
    return (x + _mH(x)) * 0.5


def _pack(parts, cores) -> np.ndarray:
    """Several results of one decomposition, each (..., *core), as one array (..., total size).

    An op returns one array; a decomposition has two or three results (U, s, Vh), so its forward
    packs them (in their common dtype) and its public function unpacks them with differentiable
    slices (``_unpack``): the op's rules receive and return packed arrays.
    """
    dtype = np.result_type(*parts)
    flat = []
    for part, core in zip(parts, cores):
        batch = np.shape(part)[:np.ndim(part) - len(core)]
        flat.append(np.reshape(part, batch + (math.prod(core),)).astype(dtype, copy=False))
    return np.concatenate(flat, axis=-1)


def _pack_tangents(parts, cores):
    """The tangent of a packed result: each part (..., *core) flattened and joined (with ops)."""
    flat = []
    for part, core in zip(parts, cores):
        batch = np.shape(_raw(part))[:np.ndim(_raw(part)) - len(core)]
        flat.append(reshape(part, batch + (math.prod(core),)))
    return concatenate(flat, axis=-1)


def _unpack(packed, cores):
    """The parts of a packed result, shaped (..., *core), as differentiable slices of it."""
    batch = np.shape(_raw(packed))[:-1]
    parts = []
    start = 0
    for core in cores:
        size = math.prod(core)
        piece = getitem(packed, (Ellipsis, slice(start, start + size)))
        parts.append(reshape(piece, batch + tuple(core)))
        start += size
    return parts


def _inverse_gaps(values, squared: bool = False):
    """F_ij = 1 / (v_j - v_i) (or 1 / (v_j^2 - v_i^2)) off the diagonal, 0 on it: the eigenvector
    and singular-vector rules' F-matrix. A repeated value makes it infinite, as in JAX and PyTorch:
    eigenvectors of a degenerate eigenvalue are not differentiable."""
    n = np.shape(_raw(values))[-1]
    if squared:
        values = values * values
    row = reshape(values, np.shape(_raw(values))[:-1] + (1, n))
    col = reshape(values, np.shape(_raw(values))[:-1] + (n, 1))
    on_diagonal = np.eye(n, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        return where(on_diagonal, 0.0, 1.0 / where(on_diagonal, 1.0, row - col))


def _cubic_flops(coefficient):
    """flops(out, x, ...) = coefficient n^3 per matrix of a stack (LAPACK's leading term)."""

    def flops(out, x, *rest, **settings):
        shape = np.shape(x)
        n = shape[-1] if len(shape) >= 2 else 1
        return int(coefficient * math.prod(shape[:-2]) * n ** 3)

    return flops


# --- inverse and linear systems -----------------------------------------------------------------

@register
class Inv(Op):
    """out = A^-1, batched (numpy.linalg.inv).

    d out = -out dA out, so grad_A = -out^T grad_out out^T (Giles 2008). A primitive for stability
    and speed: one LU factorisation, and the rules reuse the inverse itself.
    """

    flops = _cubic_flops(2)

    @_linalg_errors
    def forward(x):
        return np.linalg.inv(x)

    def vjp(grad_out, out, x, *, needs):
        out_t = _mT(out)
        return (-(out_t @ grad_out @ out_t),)

    def jvp(x_dot, out, x, *, needs):
        return -(out @ x_dot @ out)


@register
class Solve(Op):
    """out = A^-1 B for stacks of matrices A (..., M, M) and B (..., M, K) (batches broadcast).

    d out = A^-1 (dB - dA out), so grad_B = A^-T grad_out and grad_A = -grad_B out^T (Giles 2008):
    the reverse rule solves the transposed system, the forward rule solves again. A
    primitive: LU with partial pivoting is stable where inv(A) @ B loses accuracy.
    """

    @_linalg_errors
    def forward(x, y):
        return np.linalg.solve(x, y)

    def flops(out, x, y):
        m = np.shape(x)[-1]
        return int(math.prod(np.shape(out)[:-2]) * (2 * m ** 3 / 3 + 2 * m * m * np.shape(out)[-1]))

    def vjp(grad_out, out, x, y, *, needs):
        grad_y = _solve_matrix(_mT(x), grad_out)
        grad_x = -(grad_y @ _mT(out)) if needs[0] else None
        return grad_x, (grad_y if needs[1] else None)

    def jvp(x_dot, y_dot, out, x, y, *, needs):
        rhs = y_dot if needs[1] else None
        if needs[0]:
            rhs = -(x_dot @ out) if rhs is None else rhs - x_dot @ out
        return _solve_matrix(x, rhs)


def _solve_matrix(a, b):
    """A^-1 B for B a stack of matrices (..., M, K)."""
    return apply(Solve, a, b)


@register
class SolveTriangular(Op):
    """out = T^-1 B for T lower (or upper) triangular; only that triangle of T is read.

    The rules are those of solve, with the tangent and gradient of T kept to its triangle:
    d out = T^-1 (dB - tri(dT) out), grad_B = T^-T grad_out, grad_T = -tri(grad_B out^T). A
    primitive for the Cholesky and QR rules: a triangular solve costs n^2 per column, not n^3.
    """

    name = "solve_triangular"

    @_linalg_errors
    def forward(x, y, *, lower):
        return linalg_kernels.solve_triangular(np.asarray(x), np.asarray(y), lower)

    def flops(out, x, y, *, lower):
        m = np.shape(x)[-1]
        return int(math.prod(np.shape(out)[:-2]) * m * m * np.shape(out)[-1])

    def vjp(grad_out, out, x, y, *, lower, needs):
        grad_y = solve_triangular(_mT(x), grad_out, lower=not lower)
        grad_x = None
        if needs[0]:
            grad_x = -(grad_y @ _mT(out)) * _triangle_mask(np.shape(_raw(x))[-1], lower, x)
        return grad_x, (grad_y if needs[1] else None)

    def jvp(x_dot, y_dot, out, x, y, *, lower, needs):
        rhs = y_dot if needs[1] else None
        if needs[0]:
            step = (x_dot * _triangle_mask(np.shape(_raw(x))[-1], lower, x)) @ out
            rhs = -step if rhs is None else rhs - step
        return solve_triangular(x, rhs, lower=lower)


def solve_triangular(a, b, lower: bool):
    """T^-1 B for a stack of triangular matrices T (..., M, M) and B (..., M, K) (scipy.linalg's)."""
    return apply(SolveTriangular, a, b, lower=bool(lower))


def inv(a):
    """The inverse of each square matrix of a stack (numpy.linalg.inv).

    Args:
        a: (..., M, M).

    Returns:
        (..., M, M), with ``a @ inv(a) = I``.

    Raises:
        numpy.linalg.LinAlgError: if a matrix is singular or not square.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import grad
        >>> np.linalg.inv(np.array([[2.0, 0.0], [0.0, 4.0]]))
        array([[0.5 , 0.  ],
               [0.  , 0.25]])
        >>> grad(lambda a: np.linalg.inv(a)[0, 0])(np.array([[2.0, 0.0], [0.0, 4.0]]))  # -(A^-T e e^T A^-T)
        array([[-0.25, -0.  ],
               [-0.  , -0.  ]])
    """
    return apply(Inv, a)


def solve(a, b):
    """The solution x of a @ x = b (numpy.linalg.solve, NumPy 2's rule for b's shape).

    ``b`` is one vector (M,) only when it is 1-D; otherwise it is a stack of (M, K) matrices, and the
    leading axes of ``a`` and ``b`` broadcast.

    Args:
        a: (..., M, M) coefficient matrices.
        b: (M,) or (..., M, K).

    Returns:
        x of shape (..., M) for a 1-D ``b``, else the broadcast (..., M, K).

    Raises:
        numpy.linalg.LinAlgError: if a matrix of ``a`` is singular or not square.

    Example:
        >>> import nablanet.numpy as np
        >>> np.linalg.solve(np.array([[3.0, 1.0], [1.0, 2.0]]), np.array([9.0, 8.0]))
        array([2., 3.])
    """
    if np.ndim(_raw(b)) == 1:
        column = reshape(b, (np.shape(_raw(b))[0], 1))
        x = _solve_matrix(a, column)
        return reshape(x, np.shape(_raw(x))[:-1])
    return _solve_matrix(a, b)


# --- determinants -------------------------------------------------------------------------------

@register
class Slogdet(Op):
    """(sign, log|det A|) of each matrix of a stack, packed as (..., 2) (numpy.linalg.slogdet).

    With t = tr(A^-1 dA) = d log det A (Giles 2008): d logabsdet = Re t, and d sign =
    sign * i Im t for complex A (the phase det/|det| moves), 0 for real A (sign is -1, 0 or 1), as in
    JAX. The reverse rule is then grad_A = (Re g_logabsdet + i Im(g_sign sign)) A^-T. A primitive
    for stability: one LU factorisation sums the logarithms of its pivots, where log(det(A)) over-
    or underflows for large matrices.
    """

    flops = _cubic_flops(2 / 3)

    @_linalg_errors
    def forward(x):
        sign, logabsdet = np.linalg.slogdet(x)
        return np.stack([sign, logabsdet.astype(sign.dtype, copy=False)], axis=-1)

    def vjp(grad_out, out, x, *, needs):
        grad_sign, grad_logabsdet = getitem(grad_out, (Ellipsis, 0)), getitem(grad_out, (Ellipsis, 1))
        coefficient = real(grad_logabsdet)
        if _is_complex(x):
            coefficient = coefficient + 1j * imag(grad_sign * getitem(out, (Ellipsis, 0)))
        return (_as_matrix_scalar(coefficient) * _mT(inv(x)),)

    def jvp(x_dot, out, x, *, needs):
        t = _trace(_solve_matrix(x, x_dot))
        if _is_complex(x):
            sign_dot = getitem(out, (Ellipsis, 0)) * (1j * imag(t))
            return stack([sign_dot, real(t)], axis=-1)
        return stack([t * 0.0, t], axis=-1)


@register
class Cofactor(Op):
    """The cofactor matrix cof(A) = det(A) A^-T, the gradient of det, stable for singular A too.

    Computed from the SVD A = U diag(s) V^H as
        det(U) det(V^H) conj(U) diag(prod_{j != i} s_j) conj(V^H),
    which stays exact where A is singular and det(A) A^-T is 0 * inf.
    Its own derivative, d cof = tr(A^-1 dA) cof - cof dA^T A^-T, needs A^-1: second derivatives of
    det exist only where A is invertible.
    """

    flops = _cubic_flops(12)

    def forward(x):
        u, s, vh = np.linalg.svd(x)
        n = np.shape(s)[-1]
        others = np.broadcast_to(s[..., None, :], np.shape(s) + (n,)).copy()
        others[..., np.arange(n), np.arange(n)] = 1
        adjugate_s = np.prod(others, axis=-1)
        phase = np.linalg.det(u) * np.linalg.det(vh)
        return phase[..., None, None] * (np.conj(u) * adjugate_s[..., None, :]) @ np.conj(vh)

    def vjp(grad_out, out, x, *, needs):
        inv_t = _mT(inv(x))
        total = _as_matrix_scalar(sum(grad_out * out, axis=(-2, -1)))
        return (total * inv_t - inv_t @ _mT(grad_out) @ out,)

    def jvp(x_dot, out, x, *, needs):
        inv_t = _mT(inv(x))
        return _as_matrix_scalar(sum(inv_t * x_dot, axis=(-2, -1))) * out - out @ _mT(x_dot) @ inv_t


@register
class Det(Op):
    """det A, batched (numpy.linalg.det).   d det A = tr(cof(A)^T dA), so grad_A = grad_out cof(A).

    The cofactor matrix is its own op (``Cofactor``), so the gradient is right at singular A, where
    det(A) A^-T is not defined (JAX's rule solves for it by a pivoted LU to the same end).
    """

    flops = _cubic_flops(2 / 3)

    def forward(x):
        return np.linalg.det(x)

    def vjp(grad_out, out, x, *, needs):
        return (_as_matrix_scalar(grad_out) * cofactor(x),)

    def jvp(x_dot, out, x, *, needs):
        return sum(cofactor(x) * x_dot, axis=(-2, -1))


def cofactor(a):
    """The cofactor matrices det(A) A^-T of a stack of square matrices, exact for singular A too."""
    _check_square(a, "cofactor")
    return apply(Cofactor, a)


def _check_square(a, name: str):
    shape = np.shape(_raw(a))
    if len(shape) < 2:
        raise LinAlgError(f"{len(shape)}-dimensional array given. Array must be at least two-dimensional")
    if shape[-1] != shape[-2]:
        raise LinAlgError("Last 2 dimensions of the array must be square")


def det(a):
    """The determinant of each square matrix of a stack (numpy.linalg.det).

    Args:
        a: (..., M, M).

    Returns:
        (...,) determinants. Their gradient is the cofactor matrix, exact for singular matrices too.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import grad
        >>> a = np.array([[1.0, 2.0], [3.0, 4.0]])
        >>> print(f"{np.linalg.det(a):.6f}")
        -2.000000
        >>> grad(np.linalg.det)(np.array([[1.0, 2.0], [2.0, 4.0]]))   # singular: the cofactors
        array([[ 4., -2.],
               [-2.,  1.]])
    """
    _check_square(a, "det")
    return apply(Det, a)


SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])


def slogdet(a):
    """The sign and the logarithm of |det| of each square matrix of a stack (numpy.linalg.slogdet).

    det(a) = sign * exp(logabsdet), without the overflow of det for large matrices (a Gaussian
    process's log marginal likelihood is -0.5 (y^T K^-1 y + logabsdet(K) + n log 2 pi)).

    Args:
        a: (..., M, M).

    Returns:
        SlogdetResult(sign, logabsdet), each (...,). For real ``a`` sign is -1, 0 or 1 (no derivative);
        for complex ``a`` it is the phase det / |det|, differentiable (JAX's rule). A singular matrix
        gives sign 0 and logabsdet -inf.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import grad
        >>> sign, logabsdet = np.linalg.slogdet(np.array([[2.0, 0.0], [0.0, -3.0]]))
        >>> print(sign, f"{logabsdet:.6f}")
        -1.0 1.791759
        >>> grad(lambda a: np.linalg.slogdet(a).logabsdet)(np.array([[2.0, 1.0], [1.0, 3.0]]))  # A^-T
        array([[ 0.6, -0.2],
               [-0.2,  0.4]])
    """
    _check_square(a, "slogdet")
    packed = apply(Slogdet, a)
    sign, logabsdet = getitem(packed, (Ellipsis, 0)), real(getitem(packed, (Ellipsis, 1)))
    if not _is_complex(packed):
        sign = _raw(sign)
    return SlogdetResult(sign, logabsdet)


# --- pseudo-inverse -----------------------------------------------------------------------------

@register
class Pinv(Op):
    """out = A^+, the Moore-Penrose pseudo-inverse (numpy.linalg.pinv), of (..., M, N) stacks.

    At constant rank (Golub & Pereyra 1973, "The differentiation of pseudo-inverses and nonlinear
    least squares problems whose variables separate"; JAX's pinv rule), with P = A^+:
        dP = -P dA P + P P^H dA^H (I - A P) + (I - P A) dA^H P^H P,
    and the reverse rule is its transpose under JAX's pairing. As JAX's, the rule is that of the
    exact pseudo-inverse of A: singular values the cut-off discards must be zero or negligible
    (rank-deficient matrices, the default rtol); the derivative of a truncation that discards
    sizeable singular values is not this. A primitive for robustness: a composite through the SVD
    would divide by the gaps between singular values, infinite for repeated (or several zero) ones,
    where the pseudo-inverse is smooth. With ``hermitian`` the tangent is that of the Hermitian
    part, as NumPy reads one triangle (as for eigh).
    """

    flops = _cubic_flops(12)

    @_linalg_errors
    def forward(x, *, rcond, rtol, hermitian):
        if rcond is None:
            return np.linalg.pinv(x, hermitian=hermitian, rtol=rtol)
        return np.linalg.pinv(x, rcond, hermitian=hermitian)

    def vjp(grad_out, out, x, *, rcond, rtol, hermitian, needs):
        p = out
        if hermitian:
            x = _hermitian_part(x)
        gh = _mH(grad_out)
        p_conj, x_conj = conj(p), conj(x)
        grad_x = -(_mT(p) @ grad_out @ _mT(p))
        grad_x = grad_x + (gh - x_conj @ (p_conj @ gh)) @ (p_conj @ _mT(p))
        grad_x = grad_x + (_mT(p) @ p_conj) @ (gh - (gh @ p_conj) @ x_conj)
        return (_hermitian_part(grad_x) if hermitian else grad_x,)

    def jvp(x_dot, out, x, *, rcond, rtol, hermitian, needs):
        p = out
        if hermitian:
            x, x_dot = _hermitian_part(x), _hermitian_part(x_dot)
        x_dot_h = _mH(x_dot)
        # Grouped as JAX's: products with the short side first.
        s = p @ (_mH(p) @ x_dot_h)
        t = x_dot_h @ (_mH(p) @ p)
        return -(p @ (x_dot @ p)) + s - s @ (x @ p) + t - p @ (x @ t)


_NO_VALUE = object()


def pinv(a, rcond=None, hermitian=False, *, rtol=_NO_VALUE):
    """The Moore-Penrose pseudo-inverse of each matrix of a stack (numpy.linalg.pinv, NumPy 2).

    Singular values at most ``rcond`` (or ``rtol``) times the largest are treated as zero; by default
    rtol = max(M, N) * eps. The derivative is Golub and Pereyra's, exact at constant rank.

    Args:
        a: (..., M, N).
        rcond: cut-off relative to the largest singular value (NumPy's older name of rtol).
        hermitian: a is Hermitian (only its lower triangle is read, by an eigendecomposition).
        rtol: the array-API name of the cut-off; give rcond or rtol, not both.

    Returns:
        (..., N, M).

    Example:
        >>> import nablanet.numpy as np
        >>> np.linalg.pinv(np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 2.0]]))
        array([[1. , 0. , 0. ],
               [0. , 0. , 0.5]])
    """
    if rtol is not _NO_VALUE and rcond is not None:
        raise ValueError("`rtol` and `rcond` can't be both set.")
    rtol = None if rtol is _NO_VALUE else rtol
    return apply(Pinv, a, rcond=_cutoff(rcond), rtol=_cutoff(rtol), hermitian=bool(hermitian))


def _cutoff(value):
    """A cut-off as a setting: None, a number, or one per matrix of the stack (the values of a Tensor)."""
    return None if value is None else _raw(value)
