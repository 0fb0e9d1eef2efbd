"""numpy.linalg: inverses, solves, determinants, decompositions, norms (``ops/solve.py``, ``factor.py``,
``linalg_composites.py``).

The op names ("inv", "eigh") carry a batched or complex case of the primitive; the public names
("linalg.inv") the variants of NumPy's signature. Inputs are well conditioned, with eigenvalue and
singular-value gaps of about 1 ("gapped"), as second derivatives divide by those gaps twice.
Functions of a Hermitian matrix get ``herm(a)``, so that the finite differences see the function
the rules differentiate. Eigenvectors and singular vectors enter through functions invariant under
their phase (|V|^2, V f(w) V^H, U U^H): only those have a derivative.
"""

import nablanet.numpy as np
from nablanet.autodiff.ops.solve import cofactor, solve_triangular
from op_cases import Case

L = np.linalg


def herm(a):
    return (a + np.conj(np.swapaxes(a, -1, -2))) * 0.5


def mH(a):
    return np.conj(np.swapaxes(a, -1, -2))


def modulus2(v):
    """|v|^2 elementwise: unchanged when a column of v is multiplied by a phase."""
    return np.real(v * np.conj(v))


def spectral(w, v):
    """V diag(sin w) V^H: a phase-invariant function of both results of eigh."""
    return v @ (np.sin(w)[..., None] * mH(v))


def eig_spectral(w, v):
    """V diag(w^2) V^-1 = A^2 through both results of eig."""
    return v @ (w[..., None] ** 2 * L.inv(v))


def svd_spectral(result):
    """U diag(s^3) V^H = A A^H A through the three results of svd."""
    return result.U @ (result.S[..., None] ** 3 * result.Vh)


def real_and_imag(z):
    return np.concatenate([np.ravel(np.real(z)), np.ravel(np.imag(z))])


def flat(*parts):
    return np.concatenate([np.ravel(p) for p in parts])


SQ, BATCH, TALL, WIDE = (3, 3), (2, 3, 3), (4, 3), (3, 4)
WELL, SPD, GAPPED = ("well_conditioned",), ("spd",), ("gapped",)

CASES = {
    # --- primitives ---------------------------------------------------------------------------
    "inv": [Case(L.inv, (BATCH,), WELL, id="batched-complex", dtype="complex")],
    "solve": [Case(L.solve, (BATCH, (3, 2)), ("well_conditioned", "real"), id="batched-broadcast")],
    "solve_triangular": [
        Case(lambda t, b: solve_triangular(t, b, lower=True), (SQ, (3, 2)), ("well_conditioned", "real"), id="lower"),
        Case(lambda t, b: solve_triangular(t, b, lower=False), (BATCH, (2, 3, 1)), ("well_conditioned", "real"),
             id="upper-batched-complex", dtype="complex"),
    ],
    "slogdet": [Case(lambda a: L.slogdet(a).logabsdet, (BATCH,), WELL, id="batched")],
    "cofactor": [Case(cofactor, (SQ,), WELL, id="square"),
                 Case(cofactor, (BATCH,), WELL, id="batched-complex", dtype="complex")],
    "det": [Case(L.det, (BATCH,), WELL, id="batched")],
    "pinv": [Case(L.pinv, (TALL,), GAPPED, id="tall")],
    "cholesky": [Case(lambda a: L.cholesky(herm(a)), (BATCH,), SPD, id="batched")],
    "eigh": [Case(lambda a: flat(*(lambda r: (r.eigenvalues, modulus2(r.eigenvectors)))(L.eigh(herm(a)))),
                  (BATCH,), GAPPED, id="batched")],
    "eigvalsh": [Case(lambda a: L.eigvalsh(herm(a)), (BATCH,), GAPPED, id="batched")],
    "eig": [Case(lambda a: real_and_imag(L.eig(a).eigenvalues), (SQ,), WELL, id="eigenvalues")],
    "eigvals": [Case(lambda a: real_and_imag(L.eigvals(a)), (BATCH,), WELL, id="batched")],
    "svd": [Case(lambda a: svd_spectral(L.svd(a, full_matrices=False)), (TALL,), GAPPED, id="tall")],
    "svdvals": [Case(L.svdvals, (TALL,), GAPPED, id="tall")],
    "qr": [Case(lambda a: flat(*L.qr(a)), (TALL,), GAPPED, id="tall")],

    # --- numpy.linalg's public functions ------------------------------------------------------
    "linalg.inv": [Case(L.inv, (SQ,), WELL, id="square"),
                   Case(L.inv, (SQ,), WELL, id="complex", dtype="complex")],
    "linalg.solve": [
        Case(L.solve, (SQ, (3,)), ("well_conditioned", "real"), id="vector"),
        Case(L.solve, (BATCH, (3,)), ("well_conditioned", "real"), id="batched-vector"),
        Case(L.solve, ((3, 3), (2, 3, 2)), ("well_conditioned", "real"), id="broadcast-a"),
        Case(L.solve, (SQ, (3, 2)), ("well_conditioned", "real"), id="complex", dtype="complex"),
    ],
    "linalg.det": [Case(L.det, (SQ,), WELL, id="square"),
                   Case(L.det, (SQ,), WELL, id="complex", dtype="complex")],
    "linalg.slogdet": [
        Case(lambda a: L.slogdet(a).logabsdet, (SQ,), WELL, id="logabsdet"),
        Case(lambda a: (lambda r: r.sign * np.exp(r.logabsdet))(L.slogdet(a)), (BATCH,), WELL,
             id="sign-complex", dtype="complex"),
        Case(lambda a: L.slogdet(a).logabsdet, (SQ,), WELL, id="logabsdet-complex", dtype="complex"),
    ],
    "linalg.pinv": [
        Case(L.pinv, (WIDE,), GAPPED, id="wide"),
        Case(L.pinv, ((2, 4, 3),), GAPPED, id="batched-complex", dtype="complex"),
        Case(lambda a: L.pinv(herm(a), hermitian=True), (SQ,), GAPPED, id="hermitian"),
        Case(lambda a: L.pinv(a, rtol=1e-10), (SQ,), GAPPED, id="rtol"),
    ],
    "linalg.cholesky": [
        Case(lambda a: L.cholesky(herm(a)), (SQ,), SPD, id="square"),
        Case(lambda a: L.cholesky(herm(a), upper=True), (SQ,), SPD, id="upper"),
        Case(lambda a: L.cholesky(herm(a)), (SQ,), GAPPED, id="complex", dtype="complex"),
    ],
    "linalg.eigh": [
        Case(lambda a: L.eigh(herm(a)).eigenvalues, (SQ,), GAPPED, id="eigenvalues"),
        Case(lambda a: modulus2(L.eigh(herm(a), UPLO="U").eigenvectors), (SQ,), GAPPED, id="eigenvectors-upper"),
        Case(lambda a: spectral(*L.eigh(herm(a))), (SQ,), GAPPED, id="spectral-complex", dtype="complex"),
        Case(lambda a: modulus2(L.eigh(herm(a)).eigenvectors), (SQ,), GAPPED, id="modulus-complex", dtype="complex"),
    ],
    "linalg.eigvalsh": [Case(lambda a: L.eigvalsh(herm(a)), (SQ,), GAPPED, id="complex", dtype="complex"),
                        Case(lambda a: L.eigvalsh(herm(a), UPLO="U"), (SQ,), GAPPED, id="upper")],
    "linalg.eig": [
        Case(lambda a: flat(*(lambda r: (r.eigenvalues, modulus2(r.eigenvectors)))(L.eig(a))), (SQ,), GAPPED,
             id="real-spectrum"),
        Case(lambda a: real_and_imag(eig_spectral(*L.eig(a))), (SQ,), WELL, id="spectral"),
        Case(lambda a: flat(*(lambda r: (r.eigenvalues, modulus2(r.eigenvectors)))(L.eig(a))), (BATCH,), GAPPED,
             id="batched-complex", dtype="complex"),
    ],
    "linalg.eigvals": [Case(L.eigvals, (SQ,), GAPPED, id="complex", dtype="complex")],
    "linalg.svd": [
        Case(lambda a: L.svd(a, full_matrices=False).S, (WIDE,), GAPPED, id="values-wide"),
        Case(lambda a: modulus2(L.svd(a, full_matrices=False).U), (TALL,), GAPPED, id="u-tall"),
        Case(lambda a: modulus2(L.svd(a, full_matrices=False).Vh), (WIDE,), GAPPED, id="vh-wide"),
        Case(lambda a: svd_spectral(L.svd(a)), (BATCH,), GAPPED, id="square-full-matrices"),
        Case(lambda a: (lambda r: r.U @ mH(r.U))(L.svd(a, full_matrices=False)), (TALL,), GAPPED,
             id="projector-complex", dtype="complex"),
        Case(lambda a: svd_spectral(L.svd(a, full_matrices=False)), (WIDE,), GAPPED, id="spectral-wide-complex",
             dtype="complex"),
        Case(lambda a: L.svd(a, compute_uv=False), (TALL,), GAPPED, id="compute-uv-false"),
        Case(lambda a: svd_spectral(L.svd(herm(a), hermitian=True)), (SQ,), GAPPED, id="hermitian"),
    ],
    "linalg.svdvals": [Case(L.svdvals, ((2, 3, 4),), GAPPED, id="batched-complex", dtype="complex")],
    "linalg.qr": [
        Case(lambda a: flat(*L.qr(a)), (BATCH,), GAPPED, id="square-batched"),
        Case(lambda a: flat(*L.qr(a)), ((3, 5),), GAPPED, id="wide"),
        Case(lambda a: flat(*L.qr(a)), (TALL,), GAPPED, id="tall-complex", dtype="complex"),
        Case(lambda a: flat(*L.qr(a)), (WIDE,), GAPPED, id="wide-complex", dtype="complex"),
        Case(lambda a: L.qr(a, mode="r"), (TALL,), GAPPED, id="r"),
        Case(lambda a: flat(*L.qr(a, mode="complete")), (WIDE,), GAPPED, id="complete-wide"),
    ],
    "linalg.norm": [
        Case(L.norm, ((5,),), ("nonzero",), id="vector-2"),
        Case(L.norm, ((3, 4),), ("nonzero",), id="frobenius-complex", dtype="complex"),
        Case(lambda x: L.norm(x, axis=0, keepdims=True), ((3, 4),), ("nonzero",), id="axis0-keepdims"),
        Case(lambda x: L.norm(x, 1, axis=-1), ((3, 4),), ("nonzero",), id="vector-1"),
        Case(lambda x: L.norm(x, np.inf, axis=1), ((3, 4),), ("distinct",), id="vector-inf"),
        Case(lambda x: L.norm(x, -np.inf), ((5,),), ("distinct",), id="vector-minus-inf"),
        Case(lambda x: L.norm(x, 3), ((5,),), ("nonzero",), id="vector-3-complex", dtype="complex"),
        Case(lambda x: L.norm(x, 0.5), ((5,),), ("nonzero",), id="vector-half"),
        Case(lambda x: L.norm(x, -2), ((5,),), ("nonzero",), id="vector-minus-2"),
        Case(lambda x: L.norm(x, "fro", axis=(0, 2)), ((3, 2, 4),), ("nonzero",), id="fro-axes"),
        Case(lambda x: L.norm(x, "nuc"), (TALL,), GAPPED, id="nuclear"),
        Case(lambda x: L.norm(x, 2, axis=(-1, -2), keepdims=True), (BATCH,), GAPPED, id="spectral-keepdims"),
        Case(lambda x: L.norm(x, -2), (SQ,), GAPPED, id="smallest-singular-value-complex", dtype="complex"),
        Case(lambda x: L.norm(x, 1), (TALL,), ("distinct",), id="max-column-sum"),
        Case(lambda x: L.norm(x, -1), (TALL,), ("distinct",), id="min-column-sum"),
        Case(lambda x: L.norm(x, np.inf, axis=(2, 0)), ((3, 2, 4),), ("distinct",), id="max-row-sum-axes"),
        Case(lambda x: L.norm(x, -np.inf), (TALL,), ("distinct",), id="min-row-sum"),
    ],
    "linalg.matrix_norm": [Case(L.matrix_norm, (BATCH,), ("nonzero",), id="fro"),
                           Case(lambda x: L.matrix_norm(x, ord="nuc", keepdims=True), (TALL,), GAPPED, id="nuc")],
    "linalg.vector_norm": [
        Case(L.vector_norm, ((3, 4),), ("nonzero",), id="all"),
        Case(lambda x: L.vector_norm(x, axis=(0, 2), ord=3, keepdims=True), ((2, 3, 4),), ("nonzero",), id="axes"),
    ],
    "linalg.cond": [Case(L.cond, (TALL,), GAPPED, id="2-norm"),
                    Case(lambda x: L.cond(x, -2), (SQ,), GAPPED, id="minus-2-complex", dtype="complex"),
                    Case(lambda x: L.cond(x, "fro"), (BATCH,), WELL, id="fro")],
    "linalg.matrix_power": [Case(lambda a: L.matrix_power(a, 5), (SQ,), WELL, id="5"),
                            Case(lambda a: L.matrix_power(a, -2), (BATCH,), WELL, id="minus-2")],
    "linalg.multi_dot": [
        Case(lambda a, b, c, d: L.multi_dot([a, b, c, d]), ((3,), (3, 4), (4, 2), (2,)), id="vector-ends"),
        Case(lambda a, b, c: L.multi_dot([a, b, c]), ((2, 3), (3, 4), (4, 2)), id="three"),
    ],
    "linalg.lstsq": [
        Case(lambda a, b: flat(*L.lstsq(a, b)[:2]), (TALL, (4,)), ("gapped", "real"), id="tall-residuals"),
        Case(lambda a, b: flat(L.lstsq(a, b)[0], L.lstsq(a, b)[3]), (WIDE, (3, 2)), ("gapped", "real"),
             id="wide-minimum-norm"),
        Case(lambda a, b: L.lstsq(a, b)[0], (TALL, (4, 2)), ("gapped", "real"), id="tall-complex", dtype="complex"),
    ],
    "linalg.tensorsolve": [Case(lambda a, b: L.tensorsolve(np.reshape(a, (2, 3, 6)), b), ((6, 6), (2, 3)),
                                ("well_conditioned", "real"), id="2x3")],
    "linalg.tensorinv": [Case(lambda a: L.tensorinv(np.reshape(a, (6, 2, 3)), ind=1), ((6, 6),), WELL, id="6x2x3")],
    "linalg.matrix_transpose": [Case(L.matrix_transpose, ((2, 3, 4),), id="batched")],
    "linalg.trace": [Case(lambda x: L.trace(x, offset=1), ((2, 3, 4),), id="offset")],
    "linalg.diagonal": [Case(lambda x: L.diagonal(x, offset=-1), ((2, 4, 3),), id="offset")],
    "linalg.outer": [Case(L.outer, ((3,), (4,)), id="vectors")],
    "linalg.cross": [Case(L.cross, ((2, 3), (3,)), id="broadcast"),
                     Case(lambda x, y: L.cross(x, y, axis=0), ((3, 2), (3, 2)), id="axis0-complex", dtype="complex")],
    "linalg.vecdot": [Case(L.vecdot, ((2, 3), (3,)), id="complex", dtype="complex")],
    "linalg.tensordot": [Case(lambda x, y: L.tensordot(x, y, axes=([0, 2], [2, 0])), ((2, 3, 4), (4, 5, 2)),
                              id="axes")],
    "linalg.matmul": [Case(L.matmul, ((2, 3, 4), (4,)), id="batched-vector")],
}
