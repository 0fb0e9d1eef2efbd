"""Products of arrays (``autodiff/ops/linalg.py``): matmul and einsum, and the products built on them."""

import warnings

import numpy

import nablanet.numpy as np
from op_cases import Case


def cross_of_2_vectors(x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return np.cross(x, y)


CASES = {
    "matmul": [
        Case(np.matmul, ((3, 4), (4, 2)), id="2d"),
        Case(np.matmul, ((4,), (4, 2)), id="vec-mat"),
        Case(np.matmul, ((3, 4), (4,)), id="mat-vec"),
        Case(np.matmul, ((4,), (4,)), id="vec-vec"),
        Case(np.matmul, ((2, 3, 4), (4, 5)), id="batched-2d"),
        Case(np.matmul, ((2, 1, 3, 4), (5, 4, 2)), id="batched-broadcast"),
        Case(np.matmul, ((4,), (2, 4, 3)), id="vec-batched"),
        Case(np.matmul, ((2, 1, 3, 4), (4,)), id="batched-vec"),
        Case(lambda x, y: x @ y, ((2, 3), (3, 2)), dtype="complex", id="complex"),
    ],
    "einsum": [
        Case(lambda x, y: np.einsum("ij,jk->ik", x, y), ((2, 3), (3, 4)), id="matmul"),
        Case(lambda x, y: np.einsum("ba,Ab", x, y), ((2, 3), (3, 2)), id="implicit"),
        Case(lambda x, y: np.einsum("...ij,...jk", x, y), ((2, 1, 3, 4), (5, 4, 2)), id="ellipsis-broadcast"),
        Case(lambda x: np.einsum("ii->i", x), ((3, 3),), id="diagonal"),
        Case(lambda x: np.einsum("ii", x), ((3, 3),), id="trace"),
        Case(lambda x: np.einsum("iij->ji", x), ((3, 3, 2),), id="partial-diagonal"),
        Case(lambda x: np.einsum("ij->", x), ((3, 4),), id="sum"),
        Case(lambda x, y: np.einsum("ij,ij->ij", x, y), ((1, 3), (2, 3)), id="size-one-broadcast"),
        Case(lambda x, y, z: np.einsum("ij,jk,kl->il", x, y, z, optimize=True), ((2, 3), (3, 4), (4, 2)), id="three-optimized"),
        Case(lambda x, y: np.einsum(x, [0, 1], y, [1], [0]), ((3, 4), (4,)), id="interleaved"),
        Case(lambda x, y: np.einsum(",i,i->i", x, y, y), ((), (3,)), id="scalar-repeated-operand"),
        Case(lambda x, y: np.einsum("bij,bjk->bik", x, y), ((2, 2, 3), (2, 3, 2)), dtype="complex", id="complex"),
    ],
    "dot": [
        Case(np.dot, ((3, 4), (4, 2)), id="2d"),
        Case(np.dot, ((4,), (4,)), id="1d"),
        Case(np.dot, ((), (3, 2)), id="scalar"),
        Case(np.dot, ((2, 3, 4), (5, 4, 2)), id="nd-nd"),
        Case(np.dot, ((2, 3, 4), (4,)), id="nd-1d"),
        Case(np.dot, ((4,), (2, 4, 3)), id="1d-nd"),
        Case(np.dot, ((2, 3), (3,)), dtype="complex", id="complex"),
        Case(lambda x: x.dot(numpy.arange(3.0, dtype=x.dtype)), ((2, 3),), id="method"),
    ],
    "inner": [
        Case(np.inner, ((4,), (4,)), id="1d"),
        Case(np.inner, ((2, 3), (2, 3)), id="equal-2d"),
        Case(np.inner, ((2, 3), (4, 3)), id="2d"),
        Case(np.inner, ((2, 5, 3), (3,)), id="nd-1d"),
        Case(np.inner, ((), (2, 3)), id="scalar"),
        Case(np.inner, ((2, 3), (3,)), dtype="complex", id="complex"),
    ],
    "vdot": [
        Case(np.vdot, ((4,), (4,))),
        Case(np.vdot, ((2, 3), (6,)), id="flattened"),
        Case(np.vdot, ((2, 3), (3, 2)), dtype="complex", id="complex-conjugates-first"),
    ],
    "outer": [
        Case(np.outer, ((3,), (4,))),
        Case(np.outer, ((2, 2), ()), id="flattened"),
        Case(np.outer, ((3,), (2,)), dtype="complex", id="complex"),
    ],
    "tensordot": [
        Case(np.tensordot, ((2, 3, 4), (3, 4, 2)), id="default-2"),
        Case(lambda x, y: np.tensordot(x, y, axes=([1, 0], [0, 1])), ((3, 4, 5), (4, 3, 2)), id="pairs"),
        Case(lambda x, y: np.tensordot(x, y, axes=0), ((3,), (2, 2)), id="outer"),
        Case(lambda x, y: np.tensordot(x, y, axes=(-1, 0)), ((2, 3), (3, 2)), dtype="complex", id="complex"),
    ],
    "kron": [
        Case(np.kron, ((2, 3), (2, 2))),
        Case(np.kron, ((3,), (2, 1, 2)), id="ranks-differ"),
        Case(np.kron, ((), (3,)), id="scalar"),
        Case(np.kron, ((2,), (2,)), dtype="complex", id="complex"),
    ],
    "cross": [
        Case(np.cross, ((3,), (3,))),
        Case(np.cross, ((4, 3), (3,)), id="broadcast"),
        Case(lambda x, y: np.cross(x, y, axisa=0, axisb=1, axisc=0), ((3, 4), (4, 3)), id="axes"),
        Case(lambda x, y: np.cross(x, y, axis=0), ((3, 2), (3, 2)), dtype="complex", id="axis-complex"),
        Case(cross_of_2_vectors, ((4, 2), (3,)), id="2-and-3-vectors"),
        Case(cross_of_2_vectors, ((2,), (4, 2)), id="2-vectors"),
    ],
    "vecdot": [
        Case(np.vecdot, ((2, 3), (3,))),
        Case(lambda x, y: np.vecdot(x, y, axis=0), ((3, 2), (3, 1)), id="axis"),
        Case(np.vecdot, ((2, 3), (2, 3)), dtype="complex", id="complex-conjugates-first"),
    ],
    "matvec": [Case(np.matvec, ((2, 3, 4), (4,))), Case(np.matvec, ((3, 2), (2, 1, 2)), dtype="complex", id="complex")],
    "vecmat": [Case(np.vecmat, ((4,), (2, 4, 3))), Case(np.vecmat, ((2, 3), (3, 2)), dtype="complex", id="complex")],
}
