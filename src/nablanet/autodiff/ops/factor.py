"""Triangular factorisations: cholesky and qr (numpy.linalg's), each one primitive on stacks (..., M, N).

QR's two results are packed into the one array an op returns and unpacked by the public function
with differentiable slices (``solve._pack``). Conventions, as JAX's (``jax/_src/lax/linalg.py``):
complex numbers pair by Re(sum(u * v)); cholesky, a function of a Hermitian matrix, is
differentiated as a function of the Hermitian part of its argument, (A + A^H)/2, though NumPy reads
only one triangle.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from nablanet.autodiff.op import Op, register
from nablanet.autodiff.ops.elementwise import conj, imag
from nablanet.autodiff.ops.shape import concatenate, getitem
from nablanet.autodiff.ops.solve import (
    LinAlgError, _carries_derivative, _cubic_flops, _diag_embed, _diagonal, _hermitian_part, _is_complex,
    _linalg_errors, _mH, _mT, _pack, _pack_tangents, _raw, _triangle_mask, _unpack, apply, solve_triangular,
)

__all__ = ["cholesky", "qr"]

QRResult = namedtuple("QRResult", ["Q", "R"])


def _n(x) -> int:
    return np.shape(_raw(x))[-1]


# --- Cholesky -----------------------------------------------------------------------------------

def _phi_mask(n: int, like):
    """Murray's Phi as a mask: the lower triangle, with the diagonal halved."""
    lower = _triangle_mask(n, True, like)
    return lower - 0.5 * np.eye(n, dtype=lower.dtype)


@register
class Cholesky(Op):
    """L with A = L L^H, L lower triangular (R = L^H with A = R^H R when ``upper``).

    Forward mode (Murray 2016, "Differentiation of the Cholesky decomposition"; JAX's rule):
        dL = L Phi(L^-1 S L^-H),  S = (dA + dA^H)/2,
    Phi taking the lower triangle with the diagonal halved. The reverse rule is its transpose:
        grad_A = herm(L^-T Phi(L^T grad_L) conj(L)^-1),  herm(X) = (X + X^H)/2,
    both with triangular solves, so each rule costs O(n^3) and is differentiable again.
    """

    flops = _cubic_flops(1 / 3)

    @_linalg_errors
    def forward(x, *, upper):
        return np.linalg.cholesky(x, upper=upper)

    def vjp(grad_out, out, x, *, upper, needs):
        lower = _mH(out) if upper else out
        grad_lower = _mH(grad_out) if upper else grad_out
        phi = (_mT(lower) @ grad_lower) * _phi_mask(_n(x), x)
        left = solve_triangular(_mT(lower), phi, lower=False)
        grad_x = _mT(solve_triangular(_mH(lower), _mT(left), lower=False))
        return (_hermitian_part(grad_x),)

    def jvp(x_dot, out, x, *, upper, needs):
        lower = _mH(out) if upper else out
        left = solve_triangular(lower, _hermitian_part(x_dot), lower=True)
        middle = _mH(solve_triangular(lower, _mH(left), lower=True))
        lower_dot = lower @ (middle * _phi_mask(_n(x), x))
        return _mH(lower_dot) if upper else lower_dot


def cholesky(a, /, *, upper=False):
    """The Cholesky factor of each Hermitian positive-definite matrix of a stack (numpy.linalg.cholesky).

    Args:
        a: (..., M, M); only its lower triangle is read (the upper one when ``upper``).
        upper: return R = L^H, with a = R^H R (NumPy 2).

    Returns:
        (..., M, M): L lower triangular with a = L L^H, or R upper triangular.

    Raises:
        numpy.linalg.LinAlgError: if a matrix is not positive definite.

    Notes:
        The derivative is that of the function of the Hermitian part (a + a^H)/2 (JAX's and PyTorch's
        convention): the gradient is Hermitian.

    Example:
        >>> import nablanet.numpy as np
        >>> np.linalg.cholesky(np.array([[4.0, 2.0], [2.0, 5.0]]))
        array([[2., 0.],
               [1., 2.]])
    """
    return apply(Cholesky, a, upper=bool(upper))


# --- QR -----------------------------------------------------------------------------------------

def _qr_cores(x):
    m, n = np.shape(_raw(x))[-2:]
    k = min(m, n)
    return [(m, k), (k, n)]


def _right_solve_upper(b, r):
    """B R^-1 for upper triangular R: (R^-T B^T)^T."""
    return _mT(solve_triangular(_mT(r), _mT(b), lower=True))


def _qr_tall_jvp(q, r, x_dot):
    """dQ, dR of A = QR, A (..., m, n) with m >= n (Walter & Lehmann 2018; JAX's qr_jvp_rule):
    C = Q^H dA R^-1, Omega = tril(C, -1) - tril(C, -1)^H + i Im diag(C),
    dQ = Q (Omega - C) + dA R^-1,  dR = (C - Omega) R."""
    n = _n(r)
    x_dot_r_inv = _right_solve_upper(x_dot, r)
    c = _mH(q) @ x_dot_r_inv
    strictly_lower = c * _triangle_mask(n, True, c, k=-1)
    omega = strictly_lower - _mH(strictly_lower)
    if _is_complex(c):
        omega = omega + _diag_embed(1j * imag(_diagonal(c)))
    return q @ (omega - c) + x_dot_r_inv, (c - omega) @ r


def _qr_tall_vjp(q, r, grad_q, grad_r):
    """The transpose of ``_qr_tall_jvp`` under JAX's pairing: with M = Q^T gQ - gR R^T,
    gC = -M + tril(M - M^H, -1) + i Im diag(M), and grad_A = (gQ + conj(Q) gC) R^-T."""
    n = _n(r)
    m_bar = _mT(q) @ grad_q - grad_r @ _mT(r)
    grad_c = -m_bar + (m_bar - _mH(m_bar)) * _triangle_mask(n, True, m_bar, k=-1)
    if _is_complex(m_bar):
        grad_c = grad_c + _diag_embed(1j * imag(_diagonal(m_bar)))
    return _mT(solve_triangular(r, _mT(grad_q + conj(q) @ grad_c), lower=False))


@register
class Qr(Op):
    """The reduced QR decomposition A = QR, packed (..., mk + kn), k = min(m, n) (numpy.linalg.qr).

    Tall or square A: the rule of Walter & Lehmann 2018 ("Algorithmic differentiation of linear
    algebra functions with application in optimum experimental design", JAX's qr_jvp_rule). A wide
    A = [X Y] (m < n) factors as X = Q R1, R2 = Q^H Y (PyTorch's linalg_qr_backward): dQ, dR1 follow
    from X's rule, dR2 = Q^H (dY - dQ R2), and the reverse rule feeds gQ - conj(Q) g_R2 R2^T to X's.
    Both need R (the leading square block) invertible, i.e. A of full rank.
    """

    flops = _cubic_flops(4 / 3)

    @_linalg_errors
    def forward(x):
        q, r = np.linalg.qr(x, mode="reduced")
        return _pack([q, r], _qr_cores(x))

    def vjp(grad_out, out, x, *, needs):
        m, n = np.shape(_raw(x))[-2:]
        q, r = _unpack(out, _qr_cores(x))
        grad_q, grad_r = _unpack(grad_out, _qr_cores(x))
        if m >= n:
            return (_qr_tall_vjp(q, r, grad_q, grad_r),)
        r1, r2 = getitem(r, (Ellipsis, slice(None, m))), getitem(r, (Ellipsis, slice(m, None)))
        grad_r1, grad_r2 = getitem(grad_r, (Ellipsis, slice(None, m))), getitem(grad_r, (Ellipsis, slice(m, None)))
        grad_x1 = _qr_tall_vjp(q, r1, grad_q - conj(q) @ grad_r2 @ _mT(r2), grad_r1)
        return (concatenate([grad_x1, conj(q) @ grad_r2], axis=-1),)

    def jvp(x_dot, out, x, *, needs):
        m, n = np.shape(_raw(x))[-2:]
        q, r = _unpack(out, _qr_cores(x))
        if m >= n:
            q_dot, r_dot = _qr_tall_jvp(q, r, x_dot)
            return _pack_tangents([q_dot, r_dot], _qr_cores(x))
        r1, r2 = getitem(r, (Ellipsis, slice(None, m))), getitem(r, (Ellipsis, slice(m, None)))
        q_dot, r1_dot = _qr_tall_jvp(q, r1, getitem(x_dot, (Ellipsis, slice(None, m))))
        r2_dot = _mH(q) @ (getitem(x_dot, (Ellipsis, slice(m, None))) - q_dot @ r2)
        return _pack_tangents([q_dot, concatenate([r1_dot, r2_dot], axis=-1)], _qr_cores(x))


def qr(a, mode="reduced"):
    """The QR decomposition of each matrix of a stack (numpy.linalg.qr).

    Args:
        a: (..., M, N), real or complex, of full rank where derivatives are taken.
        mode: "reduced" (Q (..., M, K), R (..., K, N), K = min(M, N)), "complete" (Q (..., M, M)),
            "r" (R alone) or "raw" (LAPACK's Householder form, no derivative). For a tall matrix the
            extra columns of "complete"'s Q are any orthonormal completion: differentiating them
            is refused, as JAX does.

    Returns:
        QRResult(Q, R) with a = Q R, R upper triangular; R alone for mode "r"; (h, tau) for "raw".

    Example:
        >>> import nablanet.numpy as np
        >>> q, r = np.linalg.qr(np.array([[3.0, 1.0], [4.0, 2.0]]))
        >>> r
        array([[-5. , -2.2],
               [ 0. ,  0.4]])
    """
    if mode not in ("reduced", "complete", "r", "raw"):
        raise ValueError(f"Unrecognized mode '{mode}'")
    shape = np.shape(_raw(a))
    if len(shape) < 2:
        raise LinAlgError(f"{len(shape)}-dimensional array given. Array must be at least two-dimensional")
    m, n = shape[-2:]
    if mode == "raw" or (mode == "complete" and m > n):
        if _carries_derivative(a):
            what = ("mode='raw' returns LAPACK's Householder reflectors, which have no derivative here"
                    if mode == "raw" else
                    "mode='complete' of a tall matrix gives columns of Q that are any orthonormal "
                    "completion, with no derivative; use mode='reduced'")
            raise NotImplementedError(f"qr: {what}")
        return np.linalg.qr(_raw(a), mode=mode) if mode == "raw" else QRResult(*np.linalg.qr(_raw(a), mode=mode))
    q, r = _unpack(apply(Qr, a), _qr_cores(a))
    return r if mode == "r" else QRResult(q, r)
