"""Eigendecompositions and the SVD: eigh, eigvalsh, eig, eigvals, svd, svdvals (numpy.linalg's).

Each decomposition is one primitive on stacks of matrices (..., M, N). Its several results are
packed into the one array an op returns and unpacked by the public function with differentiable
slices (``solve._pack``), so the rules receive the cotangents of all results at once. Values-only
variants (eigvalsh, eigvals, svdvals) are primitives of their own: their rules never divide by the
gaps between eigenvalues, so they stay finite where eigenvalues repeat.

Conventions, as JAX's (``jax/_src/lax/linalg.py``): complex numbers pair by Re(sum(u * v)); eigh,
a function of a Hermitian matrix, is differentiated as a function of the Hermitian part of its
argument, (A + A^H)/2, though NumPy reads only one triangle; eigenvectors and singular vectors are
defined up to a phase (a sign for real matrices), so their derivatives are meaningful only for
functions invariant under that choice (V diag(f(w)) V^H, |V|^2, U U^H). Repeated eigenvalues
(singular values) make eigenvector (singular vector) derivatives infinite or NaN, as in JAX and
PyTorch.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from nablanet.autodiff.op import Op, register
from nablanet.autodiff.ops.elementwise import abs, conj, imag, real
from nablanet.autodiff.ops.reduce import sum
from nablanet.autodiff.ops.shape import getitem
from nablanet.autodiff.ops.solve import (
    LinAlgError, _carries_derivative, _check_square, _cubic_flops, _diag_embed, _diagonal, _hermitian_part,
    _is_complex, _linalg_errors, _mH, _mT, _pack, _pack_tangents, _raw, _recorded, _inverse_gaps,
    _solve_matrix, _unpack, apply,
)

__all__ = ["eigh", "eigvalsh", "eig", "eigvals", "svd", "svdvals"]

EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
EigResult = namedtuple("EigResult", ["eigenvalues", "eigenvectors"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])


def _n(x) -> int:
    return np.shape(_raw(x))[-1]


def _is_zero(cotangent) -> bool:
    """True for the all-zero cotangent of a result nobody used (and that no derivative will follow):
    the rules then skip its terms, which divide by eigenvalue or singular-value gaps (JAX skips them
    as symbolic zeros, PyTorch as undefined gradients), so that the gradient of the eigenvalues alone
    stays finite where they repeat."""
    return not _recorded(cotangent) and not np.any(_raw(cotangent))


# --- Hermitian eigendecomposition ---------------------------------------------------------------

def _eigh_parts(packed, n):
    w, v = _unpack(packed, [(n,), (n, n)])
    return real(w), v


@register
class Eigh(Op):
    """(w, V) with A = V diag(w) V^H, w ascending, packed (..., n + n^2) (numpy.linalg.eigh).

    With S = V^H dA V and F_ij = 1 / (w_j - w_i) for i != j, 0 on the diagonal (Magnus 1985, "On
    differentiating eigenvalues and eigenvectors"; JAX's eigh_jvp_rule):
        dw = Re diag(S),   dV = V (F o herm(S)),
    which keeps V^H dV skew-Hermitian with a zero diagonal (JAX's gauge for complex V). Reverse:
        grad_A = herm(conj(V) (diag(g_w) + F o (V^T g_V)) V^T),
    the F term left out when g_V is an unused zero (``_is_zero``).
    """

    flops = _cubic_flops(9)

    @_linalg_errors
    def forward(x, *, UPLO):
        w, v = np.linalg.eigh(x, UPLO=UPLO)
        n = np.shape(v)[-1]
        return _pack([w, v], [(n,), (n, n)])

    def vjp(grad_out, out, x, *, UPLO, needs):
        n = _n(x)
        w, v = _eigh_parts(out, n)
        grad_w, grad_v = _unpack(grad_out, [(n,), (n, n)])
        inner = _diag_embed(real(grad_w))
        if not _is_zero(grad_v):
            inner = inner + _inverse_gaps(w) * (_mT(v) @ grad_v)
        return (_hermitian_part(conj(v) @ inner @ _mT(v)),)

    def jvp(x_dot, out, x, *, UPLO, needs):
        n = _n(x)
        w, v = _eigh_parts(out, n)
        projected = _hermitian_part(_mH(v) @ x_dot @ v)
        w_dot = real(_diagonal(projected))
        v_dot = v @ (_inverse_gaps(w) * projected)
        return _pack_tangents([w_dot, v_dot], [(n,), (n, n)])


def eigh(a, UPLO="L"):
    """Eigenvalues (ascending) and eigenvectors of each Hermitian matrix of a stack (numpy.linalg.eigh).

    Args:
        a: (..., M, M); only the triangle ``UPLO`` names ("L" or "U") is read.
        UPLO: which triangle.

    Returns:
        EighResult(eigenvalues (..., M) real, eigenvectors (..., M, M) in columns).

    Notes:
        Derivatives are those of the function of the Hermitian part (a + a^H)/2. Eigenvectors are
        defined up to a phase (a sign for real a), so derivatives are meaningful for functions
        invariant under it, such as V diag(f(w)) V^H or |V|^2; repeated eigenvalues make
        eigenvector derivatives infinite or NaN (JAX's and PyTorch's behaviour), while the gradient
        of the eigenvalues alone stays finite.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import grad
        >>> w, v = np.linalg.eigh(np.array([[2.0, 1.0], [1.0, 2.0]]))
        >>> w
        array([1., 3.])
        >>> grad(lambda a: np.linalg.eigh(a).eigenvalues[0])(np.array([[2.0, 1.0], [1.0, 2.0]]))  # v0 v0^T
        array([[ 0.5, -0.5],
               [-0.5,  0.5]])
    """
    _check_uplo(UPLO)
    _check_square(a, "eigh")
    packed = apply(Eigh, a, UPLO=UPLO)
    return EighResult(*_eigh_parts(packed, np.shape(_raw(a))[-1]))


def _check_uplo(UPLO):
    if UPLO not in ("L", "U"):
        raise ValueError("UPLO argument must be 'L' or 'U'")


@register
class Eigvalsh(Op):
    """The eigenvalues w (ascending) of Hermitian A (numpy.linalg.eigvalsh).

    dw = Re diag(V^H dA V), grad_A = conj(V) diag(g) V^T: no division by eigenvalue gaps, so the
    gradient is finite for repeated eigenvalues too. The forward keeps V as a residual; on Tensors
    (a second derivative) the rules take V from ``eigh`` of x instead, so that its dependence on x
    is seen.
    """

    flops = _cubic_flops(9)
    keeps_residual = True

    @_linalg_errors
    def forward(x, *, UPLO):
        w, v = np.linalg.eigh(x, UPLO=UPLO)
        return w, v

    def vjp(grad_out, out, x, *, UPLO, residual, needs):
        v = eigh(x, UPLO).eigenvectors if _recorded(x) else residual
        return (conj(v) @ _diag_embed(grad_out) @ _mT(v),)

    def jvp(x_dot, out, x, *, UPLO, residual, needs):
        v = eigh(x, UPLO).eigenvectors if _recorded(x) else residual
        return real(sum(conj(v) * (x_dot @ v), axis=-2))


def eigvalsh(a, UPLO="L"):
    """The eigenvalues, ascending, of each Hermitian matrix of a stack (numpy.linalg.eigvalsh).

    Args:
        a: (..., M, M); only the triangle ``UPLO`` names is read.
        UPLO: "L" or "U".

    Returns:
        (..., M) real eigenvalues. Their gradient is finite for repeated eigenvalues too.

    Example:
        >>> import nablanet.numpy as np
        >>> np.linalg.eigvalsh(np.array([[2.0, 1.0], [1.0, 2.0]]))
        array([1., 3.])
    """
    _check_uplo(UPLO)
    _check_square(a, "eigvalsh")
    return apply(Eigvalsh, a, UPLO=UPLO)


# --- general eigendecomposition -----------------------------------------------------------------

@register
class Eig(Op):
    """(w, V) with A V = V diag(w), columns of unit norm, packed (..., n + n^2) (numpy.linalg.eig).

    Complex results, except real ones when every eigenvalue of a real matrix is real (as NumPy).
    With S = V^-1 dA V and F_ij = 1 / (w_j - w_i) (0 on the diagonal) (Magnus 1985; autograd's
    grad_eig):
        dw = diag(S),   dV = V (F o S) - V Re diag(V^H V (F o S)),
    the last term keeping each column at unit norm (the phase is left as Im(v^H dv) = 0: only
    phase-invariant functions of V have a meaningful derivative). Reverse, with
    g0 = g_V - conj(V) Re diag(V^T g_V):
        grad_A = V^-T (diag(g_w) + F o (V^T g0)) V^T,
    the g0 term left out when g_V is an unused zero (``_is_zero``).
    """

    flops = _cubic_flops(25)

    @_linalg_errors
    def forward(x):
        w, v = np.linalg.eig(x)
        n = np.shape(v)[-1]
        return _pack([w, v], [(n,), (n, n)])

    def vjp(grad_out, out, x, *, needs):
        n = _n(x)
        w, v = _unpack(out, [(n,), (n, n)])
        grad_w, grad_v = _unpack(grad_out, [(n,), (n, n)])
        inner = _diag_embed(grad_w)
        if not _is_zero(grad_v):
            grad_v = grad_v - conj(v) * real(sum(grad_v * v, axis=-2, keepdims=True))
            inner = inner + _inverse_gaps(w) * (_mT(v) @ grad_v)
        return (_solve_matrix(_mT(v), inner @ _mT(v)),)

    def jvp(x_dot, out, x, *, needs):
        n = _n(x)
        w, v = _unpack(out, [(n,), (n, n)])
        projected = _solve_matrix(v, x_dot @ v)
        w_dot = _diagonal(projected)
        v_dot = v @ (_inverse_gaps(w) * projected)
        v_dot = v_dot - v * real(sum(conj(v) * v_dot, axis=-2, keepdims=True))
        return _pack_tangents([w_dot, v_dot], [(n,), (n, n)])


def eig(a):
    """Eigenvalues and right eigenvectors of each square matrix of a stack (numpy.linalg.eig).

    Args:
        a: (..., M, M), real or complex.

    Returns:
        EigResult(eigenvalues (..., M), eigenvectors (..., M, M) in columns, each of unit norm):
        complex, or real when a is real and all its eigenvalues are (NumPy's rule). The order is
        LAPACK's (not sorted).

    Notes:
        Eigenvectors are defined up to a phase: derivatives are meaningful for phase-invariant
        functions of them (|V|^2, V diag(f(w)) V^-1). Repeated eigenvalues make them infinite or NaN.

    Example:
        >>> import nablanet.numpy as np
        >>> w, v = np.linalg.eig(np.array([[0.0, 1.0], [-1.0, 0.0]]))
        >>> w
        array([0.+1.j, 0.-1.j])
    """
    _check_square(a, "eig")
    n = np.shape(_raw(a))[-1]
    return EigResult(*_unpack(apply(Eig, a), [(n,), (n, n)]))


@register
class Eigvals(Op):
    """The eigenvalues w of a square matrix (numpy.linalg.eigvals).   dw = diag(V^-1 dA V).

    grad_A = V^-T diag(g) V^T: no division by eigenvalue gaps. The forward keeps V as a residual;
    on Tensors the rules take it from ``eig`` of x, so that a second derivative sees it move.
    """

    flops = _cubic_flops(25)
    keeps_residual = True

    @_linalg_errors
    def forward(x):
        w, v = np.linalg.eig(x)
        return w, v

    def vjp(grad_out, out, x, *, residual, needs):
        v = eig(x).eigenvectors if _recorded(x) else residual
        return (_solve_matrix(_mT(v), _diag_embed(grad_out) @ _mT(v)),)

    def jvp(x_dot, out, x, *, residual, needs):
        v = eig(x).eigenvectors if _recorded(x) else residual
        return _diagonal(_solve_matrix(v, x_dot @ v))


def eigvals(a):
    """The eigenvalues of each square matrix of a stack (numpy.linalg.eigvals), in LAPACK's order.

    Args:
        a: (..., M, M).

    Returns:
        (..., M): complex, or real when a is real and all its eigenvalues are.

    Example:
        >>> import nablanet.numpy as np
        >>> np.linalg.eigvals(np.array([[2.0, 0.0], [0.0, 3.0]]))
        array([2., 3.])
    """
    _check_square(a, "eigvals")
    return apply(Eigvals, a)


# --- singular value decomposition ---------------------------------------------------------------

def _svd_cores(x):
    m, n = np.shape(_raw(x))[-2:]
    k = min(m, n)
    return [(m, k), (k,), (k, n)]


def _svd_parts(packed, x):
    u, s, vh = _unpack(packed, _svd_cores(x))
    return u, real(s), vh


def _as_row(v):
    return getitem(v, (Ellipsis, None, slice(None)))


def _as_column(v):
    return getitem(v, (Ellipsis, slice(None), None))


@register
class Svd(Op):
    """The thin SVD A = U diag(s) V^H, s descending, packed (..., mk + k + kn), k = min(m, n).

    Forward mode (JAX's svd_jvp_rule; Townsend 2016, "Differentiating the singular value
    decomposition"), with dP = U^H dA V and F_ij = 1 / (s_j^2 - s_i^2) (0 on the diagonal):
        ds = Re diag(dP)
        dU = U (F o (dP S + S dP^H) + i Im diag(dP) / s) + (I - U U^H) dA V / s
        dV = V (F o (S dP + dP^H S)) + (I - V V^H) dA^H U / s
    (the projections only for a tall or a wide A). The reverse rule is the transpose of this map
    under JAX's pairing, written out term by term; the terms of U (of V^H) are left out when its
    cotangent is an unused zero (``_is_zero``), so the singular values alone keep a finite gradient.
    Singular vectors are defined up to a phase; repeated or zero singular values make their
    derivatives infinite or NaN (as in JAX and PyTorch).
    """

    flops = _cubic_flops(12)

    @_linalg_errors
    def forward(x):
        u, s, vh = np.linalg.svd(x, full_matrices=False)
        return _pack([u, s, vh], _svd_cores(x))

    def vjp(grad_out, out, x, *, needs):
        m, n = np.shape(_raw(x))[-2:]
        k = min(m, n)
        u, s, vh = _svd_parts(out, x)
        grad_u, grad_s, grad_vh = _unpack(grad_out, _svd_cores(x))
        v = _mH(vh)
        s_row, s_col = _as_row(s), _as_column(s)
        grad_x = conj(u) @ _diag_embed(real(grad_s)) @ _mT(v)
        # Singular vectors nobody used pass no gradient: F and 1/s (infinite for repeated or zero
        # singular values) are not multiplied into their zero cotangents, as JAX's symbolic zeros.
        if not _is_zero(grad_u):
            # dU = U (F o Y) with Y = dP S + (dP S)^H: the cotangent of Y is F o (U^T gU), that of dP
            # through Z -> Z + Z^H is Zbar + Zbar^H (JAX's pairing), its columns scaled by s.
            from_u = _inverse_gaps(s, squared=True) * (_mT(u) @ grad_u)
            grad_p = (from_u + _mH(from_u)) * s_row
            if _is_complex(x):
                grad_p = grad_p + _diag_embed(1j * imag(_diagonal(_mT(u) @ grad_u)) / s)
            grad_x = grad_x + conj(u) @ grad_p @ _mT(v)
            if m > k:
                scaled = grad_u / s_row
                grad_x = grad_x + (scaled - conj(u) @ (_mT(u) @ scaled)) @ _mT(v)
        if not _is_zero(grad_vh):
            # dV = V (F o (S dP + dP^H S)), and the cotangent of V is that of V^H transposed back.
            from_v = _inverse_gaps(s, squared=True) * (_mT(v) @ _mH(grad_vh))
            grad_x = grad_x + conj(u) @ (s_col * (from_v + _mH(from_v))) @ _mT(v)
            if n > k:
                projected = grad_vh - (grad_vh @ conj(v)) @ _mT(v)
                grad_x = grad_x + conj(u) @ (projected / s_col)
        return (grad_x,)

    def jvp(x_dot, out, x, *, needs):
        m, n = np.shape(_raw(x))[-2:]
        k = min(m, n)
        u, s, vh = _svd_parts(out, x)
        v = _mH(vh)
        s_row, s_col = _as_row(s), _as_column(s)
        dp = _mH(u) @ x_dot @ v
        s_dot = real(_diagonal(dp))
        gaps = _inverse_gaps(s, squared=True)
        dps = dp * s_row
        sdp = s_col * dp
        inner_u = gaps * (dps + _mH(dps))
        if _is_complex(x):
            inner_u = inner_u + _diag_embed(1j * imag(_diagonal(dp)) / s)
        u_dot = u @ inner_u
        v_dot = v @ (gaps * (sdp + _mH(sdp)))
        if m > k:
            x_dot_v = x_dot @ v
            u_dot = u_dot + (x_dot_v - u @ dp) / s_row
        if n > k:
            x_dot_h_u = _mH(x_dot) @ u
            v_dot = v_dot + (x_dot_h_u - v @ _mH(dp)) / s_row
        return _pack_tangents([u_dot, s_dot, _mH(v_dot)], _svd_cores(x))


@register
class Svdvals(Op):
    """The singular values s, descending (numpy.linalg.svdvals).   ds = Re diag(U^H dA V).

    grad_A = conj(U) diag(g) conj(V^H): no division by gaps between singular values, so the nuclear
    norm and the spectral norm have finite gradients where singular values repeat. The forward
    keeps (U, V^H) as a residual; on Tensors the rules take them from ``svd`` of x.
    """

    flops = _cubic_flops(12)
    keeps_residual = True

    @_linalg_errors
    def forward(x):
        u, s, vh = np.linalg.svd(x, full_matrices=False)
        return s, (u, vh)

    def vjp(grad_out, out, x, *, residual, needs):
        u, vh = _svd_vectors(x, residual)
        return (conj(u) @ _diag_embed(grad_out) @ conj(vh),)

    def jvp(x_dot, out, x, *, residual, needs):
        u, vh = _svd_vectors(x, residual)
        return real(sum(conj(u) * (x_dot @ _mH(vh)), axis=-2))


def _svd_vectors(x, residual):
    if not _recorded(x):
        return residual
    u, _, vh = _svd_parts(apply(Svd, x), x)
    return u, vh


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """Singular value decomposition of each matrix of a stack (numpy.linalg.svd).

    Args:
        a: (..., M, N), real or complex.
        full_matrices: U (..., M, M) and Vh (..., N, N) instead of the thin (..., M, K), (..., K, N),
            K = min(M, N). For non-square a the extra columns are any orthonormal completion, with no
            derivative: differentiating them is refused (use full_matrices=False, as JAX requires).
        compute_uv: return U and Vh too, else only the singular values.
        hermitian: a is Hermitian; computed from eigh as NumPy does (only the lower triangle is read).

    Returns:
        SVDResult(U, S, Vh) with a = U diag(S) Vh and S descending, or S alone.

    Notes:
        Singular vectors are defined up to a phase: derivatives are meaningful for phase-invariant
        functions (U diag(f(S)) Vh, U U^H). Repeated singular values make singular-vector
        derivatives infinite or NaN; the singular values alone (compute_uv=False, svdvals) stay finite.

    Example:
        >>> import nablanet.numpy as np
        >>> u, s, vh = np.linalg.svd(np.array([[3.0, 0.0], [0.0, -2.0], [0.0, 0.0]]), full_matrices=False)
        >>> s
        array([3., 2.])
        >>> u.shape, vh.shape
        ((3, 2), (2, 2))
    """
    if hermitian:
        return _svd_hermitian(a, compute_uv)
    if not compute_uv:
        return svdvals(a)
    shape = np.shape(_raw(a))
    if len(shape) < 2:
        raise LinAlgError(f"{len(shape)}-dimensional array given. Array must be at least two-dimensional")
    if full_matrices and shape[-1] != shape[-2]:
        if _carries_derivative(a):
            raise NotImplementedError(
                "svd: with full_matrices=True a non-square matrix has columns of U (or rows of Vh) that "
                "are any orthonormal completion, so they have no derivative; use full_matrices=False "
                "(or svdvals for the singular values)")
        return SVDResult(*np.linalg.svd(_raw(a), full_matrices=True))
    return SVDResult(*_svd_parts(apply(Svd, a), a))


def _svd_hermitian(a, compute_uv):
    """NumPy's SVD of a Hermitian matrix from its eigendecomposition: s = |w| descending, the signs
    of w moved into Vh."""
    if not compute_uv:
        s = abs(eigvalsh(a))
        order = np.flip(np.argsort(_raw(s), axis=-1), axis=-1)
        return _take_along_last(s, order)
    w, v = eigh(a)
    order = np.flip(np.argsort(np.abs(_raw(w)), axis=-1), axis=-1)
    signs = np.take_along_axis(np.sign(_raw(w)), order, axis=-1)
    s = _take_along_last(abs(w), order)
    u = _take_columns(v, order)
    vh = _mH(u * signs[..., None, :].astype(_raw(u).dtype))
    return SVDResult(u, s, vh)


def _take_along_last(x, order):
    """x[..., order] per stack element (numpy.take_along_axis on the last axis), differentiable."""
    batch = np.indices(order.shape[:-1], sparse=True)
    return getitem(x, tuple(b[..., None] for b in batch) + (order,))


def _take_columns(x, order):
    batch = np.indices(order.shape[:-1], sparse=True)
    rows = np.arange(np.shape(_raw(x))[-2])[:, None]
    return getitem(x, tuple(b[..., None, None] for b in batch) + (rows, order[..., None, :]))


def svdvals(x, /):
    """The singular values, descending, of each matrix of a stack (numpy.linalg.svdvals, NumPy 2).

    Args:
        x: (..., M, N).

    Returns:
        (..., min(M, N)) real. Their gradient, conj(U) diag(g) conj(Vh), is finite where values repeat.

    Example:
        >>> import nablanet.numpy as np
        >>> np.linalg.svdvals(np.array([[3.0, 0.0], [0.0, -4.0]]))
        array([4., 3.])
    """
    shape = np.shape(_raw(x))
    if len(shape) < 2:
        raise LinAlgError(f"{len(shape)}-dimensional array given. Array must be at least two-dimensional")
    return apply(Svdvals, x)
