"""numpy.linalg against torch.linalg: values, VJPs and JVPs, real and complex.

Where the two libraries' results are fixed only up to a choice, an invariant is compared instead:
eigenvectors and singular vectors through phase-invariant functions (|V|^2, V f(w) V^H, U U^H;
torch refuses the gradient of anything else for complex input), eig's eigenvalues through functions
that pair each eigenvalue with its own eigenvector (the order is LAPACK's in both, but need not be),
and functions of a Hermitian matrix on its Hermitian part (both libraries differentiate that). NumPy
returns real eigenvalues for a real matrix with a real spectrum where torch returns complex ones:
the cases compare real and imaginary parts. torch's lstsq (driver gelsy) returns no residuals: they
are recomputed from its solution.
"""

import torch

import nablanet.numpy as np
from nablanet.autodiff.ops.solve import cofactor, solve_triangular
from torch_cases import TorchCase

L = np.linalg
SQ, BATCH, TALL, WIDE = ((3, 3),), ((2, 3, 3),), ((4, 3),), ((3, 4),)
WELL, GAPPED = ("well_conditioned",), ("gapped",)


def herm(a):
    return (a + np.conj(np.swapaxes(a, -1, -2))) * 0.5


def t_herm(a):
    return (a + a.mH) * 0.5


def modulus2(v):
    return np.real(v * np.conj(v))


def t_modulus2(v):
    return torch.real(v * torch.conj(v))


def real_and_imag(z):
    return np.real(z), np.imag(z)


def t_real_and_imag(z):
    return torch.real(z), torch.imag(z)


def eig_pairs(result):
    """sum_j |V_ij|^2 w_j and V diag(w^2) V^-1: each eigenvalue with its own eigenvector."""
    w, v = result
    weighted = np.sum(modulus2(v) * w[..., None, :], axis=-1)
    return (*real_and_imag(weighted), *real_and_imag(v @ (w[..., None] ** 2 * L.inv(v))))


def t_eig_pairs(result):
    w, v = result
    weighted = torch.sum(t_modulus2(v) * w[..., None, :], dim=-1)
    return (*t_real_and_imag(weighted), *t_real_and_imag(v @ (w[..., None] ** 2 * torch.linalg.inv(v))))


def svd_invariants(result):
    """|U|^2, s, |Vh|^2 and U diag(s^3) Vh."""
    u, s, vh = result
    return modulus2(u), s, modulus2(vh), u @ (s[..., None] ** 3 * vh)


def t_svd_invariants(result):
    u, s, vh = result
    return t_modulus2(u), s, t_modulus2(vh), u @ (s[..., None] ** 3 * vh)


def eigh_invariants(result):
    w, v = result
    return w, modulus2(v), v @ (np.sin(w)[..., None] * np.conj(np.swapaxes(v, -1, -2)))


def t_eigh_invariants(result):
    w, v = result
    return w, t_modulus2(v), v @ (torch.sin(w)[..., None] * v.mH)


def physical(t):
    """t itself, through ops whose gradients are materialised: the harness reads gradients with
    .numpy(), which refuses torch's lazily conjugated tensors (what cross and vecdot hand back)."""
    return t.conj_physical().conj_physical()


def lstsq_parts(a, b):
    x, residuals, _, s = L.lstsq(a, b)
    return x, residuals, s


def t_lstsq_parts(a, b):
    x = torch.linalg.lstsq(a, b).solution
    residuals = torch.sum(torch.abs(b - a @ x) ** 2, dim=0)
    return x, residuals, torch.linalg.svdvals(a)



TORCH_CASES = [
    # Inverses, systems and determinants.
    TorchCase(("inv", "linalg.inv"), L.inv, torch.linalg.inv, BATCH, WELL, id="inv"),
    TorchCase(("inv", "linalg.inv"), L.inv, torch.linalg.inv, SQ, WELL, dtype="complex", id="inv-complex"),
    TorchCase(("solve", "linalg.solve"), L.solve, torch.linalg.solve, ((3, 3), (3,)), ("well_conditioned", "real"),
              id="solve-vector"),
    TorchCase(("solve", "linalg.solve"), L.solve, torch.linalg.solve, ((2, 3, 3), (3, 2)),
              ("well_conditioned", "real"), dtype="complex", id="solve-batched-complex"),
    TorchCase(("solve_triangular",), lambda t, b: solve_triangular(t, b, lower=True),
              lambda t, b: torch.linalg.solve_triangular(torch.tril(t), b, upper=False), ((3, 3), (3, 2)),
              ("well_conditioned", "real"), id="solve-triangular-lower"),
    TorchCase(("solve_triangular",), lambda t, b: solve_triangular(t, b, lower=False),
              lambda t, b: torch.linalg.solve_triangular(torch.triu(t), b, upper=True), ((2, 3, 3), (3, 1)),
              ("well_conditioned", "real"), dtype="complex", id="solve-triangular-upper-complex"),
    TorchCase(("det", "linalg.det", "cofactor"), L.det, torch.linalg.det, BATCH, WELL, id="det"),
    TorchCase(("det", "linalg.det", "cofactor"), L.det, torch.linalg.det, SQ, WELL, dtype="complex", id="det-complex"),
    TorchCase(("cofactor",), cofactor, lambda a: torch.linalg.det(a)[..., None, None] * torch.linalg.inv(a).mT,
              BATCH, WELL, id="cofactor"),
    TorchCase(("slogdet", "linalg.slogdet"), lambda a: tuple(L.slogdet(a)), lambda a: tuple(torch.linalg.slogdet(a)),
              BATCH, WELL, id="slogdet"),
    TorchCase(("slogdet", "linalg.slogdet"), lambda a: tuple(L.slogdet(a)), lambda a: tuple(torch.linalg.slogdet(a)),
              SQ, WELL, dtype="complex", id="slogdet-complex"),
    TorchCase(("pinv", "linalg.pinv"), L.pinv, torch.linalg.pinv, TALL, GAPPED, id="pinv-tall"),
    TorchCase(("pinv", "linalg.pinv"), L.pinv, torch.linalg.pinv, ((2, 3, 4),), GAPPED, dtype="complex",
              id="pinv-wide-complex"),
    TorchCase(("pinv", "linalg.pinv"), lambda a: L.pinv(herm(a), hermitian=True),
              lambda a: torch.linalg.pinv(t_herm(a), hermitian=True), SQ, GAPPED, id="pinv-hermitian"),

    # Decompositions.
    TorchCase(("cholesky", "linalg.cholesky"), lambda a: L.cholesky(herm(a)),
              lambda a: torch.linalg.cholesky(t_herm(a)), BATCH, ("spd",), id="cholesky"),
    TorchCase(("cholesky", "linalg.cholesky"), lambda a: L.cholesky(herm(a), upper=True),
              lambda a: torch.linalg.cholesky(t_herm(a), upper=True), SQ, GAPPED, dtype="complex",
              id="cholesky-upper-complex"),
    TorchCase(("eigh", "linalg.eigh"), lambda a: eigh_invariants(L.eigh(herm(a))),
              lambda a: t_eigh_invariants(torch.linalg.eigh(t_herm(a))), BATCH, GAPPED, id="eigh"),
    TorchCase(("eigh", "linalg.eigh"), lambda a: eigh_invariants(L.eigh(herm(a), UPLO="U")),
              lambda a: t_eigh_invariants(torch.linalg.eigh(t_herm(a), UPLO="U")), SQ, GAPPED, dtype="complex",
              id="eigh-complex"),
    TorchCase(("eigvalsh", "linalg.eigvalsh"), lambda a: L.eigvalsh(herm(a)),
              lambda a: torch.linalg.eigvalsh(t_herm(a)), SQ, GAPPED, dtype="complex", id="eigvalsh-complex"),
    TorchCase(("eig", "linalg.eig"), lambda a: eig_pairs(L.eig(a)), lambda a: t_eig_pairs(torch.linalg.eig(a)),
              SQ, WELL, id="eig"),
    TorchCase(("eig", "linalg.eig"), lambda a: eig_pairs(L.eig(a)), lambda a: t_eig_pairs(torch.linalg.eig(a)),
              BATCH, GAPPED, dtype="complex", id="eig-complex"),
    TorchCase(("eigvals", "linalg.eigvals"), lambda a: real_and_imag(np.sum(L.eigvals(a) ** 3, axis=-1)),
              lambda a: t_real_and_imag(torch.sum(torch.linalg.eigvals(a) ** 3, dim=-1)), BATCH, WELL,
              id="eigvals-power-sums"),
    TorchCase(("svd", "linalg.svd"), lambda a: svd_invariants(L.svd(a, full_matrices=False)),
              lambda a: t_svd_invariants(torch.linalg.svd(a, full_matrices=False)), TALL, GAPPED, id="svd-tall"),
    TorchCase(("svd", "linalg.svd"), lambda a: svd_invariants(L.svd(a, full_matrices=False)),
              lambda a: t_svd_invariants(torch.linalg.svd(a, full_matrices=False)), ((2, 3, 4),), GAPPED,
              dtype="complex", id="svd-wide-complex"),
    TorchCase(("svd", "linalg.svd"), lambda a: svd_invariants(L.svd(a)),
              lambda a: t_svd_invariants(torch.linalg.svd(a)),
              SQ, GAPPED, dtype="complex", id="svd-square-full-matrices"),
    TorchCase(("svdvals", "linalg.svdvals"), L.svdvals, torch.linalg.svdvals, ((2, 4, 3),), GAPPED, dtype="complex",
              id="svdvals"),
    TorchCase(("qr", "linalg.qr"), lambda a: tuple(L.qr(a)), lambda a: tuple(torch.linalg.qr(a)), TALL, GAPPED,
              id="qr-tall"),
    TorchCase(("qr", "linalg.qr"), lambda a: tuple(L.qr(a)), lambda a: tuple(torch.linalg.qr(a)), ((2, 3, 5),), GAPPED,
              dtype="complex", id="qr-wide-complex"),
    TorchCase(("qr", "linalg.qr"), lambda a: L.qr(a, mode="r"), lambda a: torch.linalg.qr(a)[1], BATCH,
              GAPPED, dtype="complex", id="qr-r-complex"),

    # Norms and condition numbers.
    TorchCase(("linalg.norm",), L.norm, torch.linalg.norm, ((3, 4),), ("nonzero",), dtype="complex", id="norm-fro"),
    TorchCase(("linalg.norm",), lambda x: L.norm(x, 3, axis=1, keepdims=True),
              lambda x: torch.linalg.norm(x, 3, dim=1, keepdim=True), ((3, 4),), ("nonzero",), id="norm-vector-3"),
    TorchCase(("linalg.norm",), lambda x: L.norm(x, float("inf"), axis=0),
              lambda x: torch.linalg.norm(x, float("inf"), dim=0), ((3, 4),), ("distinct",), id="norm-vector-inf"),
    TorchCase(("linalg.norm",), lambda x: L.norm(x, "nuc"), lambda x: torch.linalg.norm(x, "nuc"), TALL, GAPPED,
              dtype="complex", id="norm-nuclear-complex"),
    TorchCase(("linalg.norm",), lambda x: L.norm(x, 2, axis=(0, 2)), lambda x: torch.linalg.norm(x, 2, dim=(0, 2)),
              ((4, 2, 3),), ("real",), id="norm-spectral-axes"),
    TorchCase(("linalg.norm",), lambda x: L.norm(x, -1), lambda x: torch.linalg.norm(x, -1), TALL, ("distinct",),
              id="norm-min-column-sum"),
    TorchCase(("linalg.norm",), lambda x: L.norm(x, float("-inf")), lambda x: torch.linalg.norm(x, float("-inf")),
              TALL, ("distinct",), id="norm-min-row-sum"),
    TorchCase(("linalg.matrix_norm",), lambda x: L.matrix_norm(x, ord=-2, keepdims=True),
              lambda x: torch.linalg.matrix_norm(x, ord=-2, keepdim=True), BATCH, GAPPED, id="matrix-norm-minus-2"),
    TorchCase(("linalg.vector_norm",), lambda x: L.vector_norm(x, ord=1.5, axis=(0, 2)),
              lambda x: torch.linalg.vector_norm(x, ord=1.5, dim=(0, 2)), ((2, 3, 4),), ("nonzero",), dtype="complex",
              id="vector-norm-axes"),
    TorchCase(("linalg.cond",), L.cond, torch.linalg.cond, TALL, GAPPED, id="cond"),
    # torch.linalg.cond(x, 1) modifies its inverse in place and cannot be differentiated: its definition is compared.
    TorchCase(("linalg.cond",), lambda x: L.cond(x, 1),
              lambda x: torch.linalg.matrix_norm(x, 1) * torch.linalg.matrix_norm(torch.linalg.inv(x), 1), BATCH, WELL,
              id="cond-1"),

    # Products, powers, least squares and tensor equations.
    TorchCase(("linalg.matrix_power",), lambda a: L.matrix_power(a, -3), lambda a: torch.linalg.matrix_power(a, -3),
              BATCH, WELL, id="matrix-power"),
    TorchCase(("linalg.multi_dot",), lambda *xs: L.multi_dot(xs), lambda *xs: torch.linalg.multi_dot(xs),
              ((3,), (3, 4), (4, 5), (5, 2)), id="multi-dot"),
    TorchCase(("linalg.lstsq",), lstsq_parts, t_lstsq_parts, ((5, 3), (5, 2)), ("gapped", "real"), id="lstsq"),
    TorchCase(("linalg.tensorsolve",), lambda a, b: L.tensorsolve(np.reshape(a, (2, 3, 6)), b),
              lambda a, b: torch.linalg.tensorsolve(a.reshape(2, 3, 6), b), ((6, 6), (2, 3)),
              ("well_conditioned", "real"), id="tensorsolve"),
    TorchCase(("linalg.tensorinv",), lambda a: L.tensorinv(np.reshape(a, (2, 3, 6))),
              lambda a: torch.linalg.tensorinv(a.reshape(2, 3, 6)), ((6, 6),), WELL, id="tensorinv"),
    TorchCase(("linalg.cross",), L.cross, lambda x, y: torch.linalg.cross(physical(x), physical(y)), ((2, 3), (1, 3)),
              dtype="complex", id="cross"),
    TorchCase(("linalg.vecdot",), L.vecdot, lambda x, y: torch.linalg.vecdot(physical(x), physical(y)), ((2, 4), (4,)),
              dtype="complex", id="vecdot"),
    TorchCase(("linalg.diagonal",), lambda x: L.diagonal(x, offset=1), lambda x: torch.linalg.diagonal(x, offset=1),
              ((2, 3, 4),), id="diagonal"),
    TorchCase(("linalg.trace",), lambda x: L.trace(x, offset=-1),
              lambda x: torch.diagonal(x, offset=-1, dim1=-2, dim2=-1).sum(-1), ((2, 4, 3),), id="trace"),
    TorchCase(("linalg.matrix_transpose",), L.matrix_transpose, lambda x: x.mT, ((2, 3, 4),), id="matrix-transpose"),
    TorchCase(("linalg.outer",), L.outer, torch.outer, ((3,), (4,)), id="outer"),
    TorchCase(("linalg.tensordot",), lambda x, y: L.tensordot(x, y, axes=([0, 2], [2, 0])),
              lambda x, y: torch.tensordot(x, y, dims=([0, 2], [2, 0])), ((2, 3, 4), (4, 5, 2)), id="tensordot"),
    TorchCase(("linalg.matmul",), L.matmul, torch.linalg.matmul, ((2, 3, 4), (4,)), id="matmul"),
]
