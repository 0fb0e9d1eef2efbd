"""Products (matmul, einsum, dot, inner, outer, vdot, tensordot, kron, cross, vecdot, matvec, vecmat) and the
array-building functions against torch, complex inputs included.

numpy.dot of N-D arrays has no torch function of its own: its twin is torch.tensordot over a's last
axis and b's second-to-last, which is its definition. NumPy's vdot, vecdot and vecmat conjugate their
first argument, as torch.vdot and torch.linalg.vecdot do.
"""

import numpy
import torch

import nablanet.numpy as np
from torch_cases import TorchCase


def _matmul_shapes(rng):
    """Shapes NumPy's matmul accepts: 1-D promotion on either side, broadcast batch axes."""
    n, k, m = (int(v) for v in rng.integers(1, 4, size=3))
    left = [(k,), (n, k), (2, n, k), (2, 1, n, k)][int(rng.integers(0, 4))]
    right = [(k,), (k, m), (2, k, m), (1, k, m)][int(rng.integers(0, 4))]
    return left, right


TORCH_CASES = [
    TorchCase(("matmul",), np.matmul, torch.matmul, _matmul_shapes, id="matmul"),
    TorchCase(("matmul",), np.matmul, torch.matmul, _matmul_shapes, dtype="complex", id="matmul-complex"),
    TorchCase(("einsum",), lambda x, y: np.einsum("bij,bjk->bik", x, y), lambda x, y: torch.einsum("bij,bjk->bik", x, y),
              ((2, 3, 4), (2, 4, 2)), id="einsum-batched-matmul"),
    TorchCase(("einsum",), lambda x, y: np.einsum("...ij,...jk", x, y), lambda x, y: torch.einsum("...ij,...jk", x, y),
              ((2, 1, 3, 4), (5, 4, 2)), dtype="complex", id="einsum-ellipsis-complex"),
    TorchCase(("einsum",), lambda x: np.einsum("ii->i", x), lambda x: torch.einsum("ii->i", x), ((3, 3),),
              id="einsum-diagonal"),
    TorchCase(("einsum",), lambda x, y: np.einsum("iij,k->jk", x, y), lambda x, y: torch.einsum("iij,k->jk", x, y),
              ((3, 3, 2), (4,)), id="einsum-diagonal-outer"),
    TorchCase(("einsum",), lambda x, y, z: np.einsum("ij,jk,kl", x, y, z, optimize="greedy"),
              lambda x, y, z: torch.einsum("ij,jk,kl->il", x, y, z), ((2, 3), (3, 4), (4, 2)), id="einsum-three"),
    TorchCase(("dot",), np.dot, lambda x, y: torch.tensordot(x, y, dims=([x.ndim - 1], [y.ndim - 2])),
              ((2, 3, 4), (5, 4, 2)), id="dot-nd"),
    TorchCase(("dot",), np.dot, torch.matmul, ((3, 4), (4,)), dtype="complex", id="dot-2d-1d"),
    TorchCase(("inner",), np.inner, torch.inner, ((2, 3), (4, 3)), id="inner"),
    TorchCase(("inner",), np.inner, torch.inner, ((2, 5, 3), (3,)), dtype="complex", id="inner-complex"),
    TorchCase(("outer",), np.outer, lambda x, y: torch.outer(x.ravel(), y.ravel()), ((2, 2), (3,)), id="outer"),
    TorchCase(("vdot",), np.vdot, torch.vdot, ((5,), (5,)), dtype="complex", id="vdot-complex"),
    TorchCase(("vdot",), np.vdot, lambda x, y: torch.vdot(x.ravel(), y.ravel()), ((2, 3), (6,)), id="vdot-flattened"),
    TorchCase(("tensordot",), lambda x, y: np.tensordot(x, y, axes=([1, 0], [0, 1])),
              lambda x, y: torch.tensordot(x, y, dims=([1, 0], [0, 1])), ((3, 4, 5), (4, 3, 2)), id="tensordot"),
    TorchCase(("tensordot",), np.tensordot, torch.tensordot, ((2, 3, 4), (3, 4, 2)), dtype="complex",
              id="tensordot-default"),
    TorchCase(("kron",), np.kron, torch.kron, ((2, 3), (4, 1, 2)), id="kron"),
    TorchCase(("cross",), np.cross, lambda x, y: torch.linalg.cross(x, y), ((4, 3), (4, 3)), id="cross"),
    TorchCase(("cross",), lambda x, y: np.cross(x, y, axis=0), lambda x, y: torch.linalg.cross(x, y, dim=0), ((3, 2), (3, 2)),
              dtype="complex", id="cross-axis-complex"),
    TorchCase(("vecdot",), np.vecdot, lambda x, y: torch.sum(torch.conj_physical(x) * y, -1), ((2, 3), (3,)), dtype="complex",
              id="vecdot-complex"),
    TorchCase(("matvec",), np.matvec, lambda x, y: torch.matmul(x, y.unsqueeze(-1)).squeeze(-1), ((2, 3, 4), (4,)),
              id="matvec"),
    TorchCase(("vecmat",), np.vecmat, lambda x, y: torch.matmul(torch.conj_physical(x).unsqueeze(-2), y).squeeze(-2),
              ((4,), (2, 4, 3)), dtype="complex", id="vecmat-complex"),
    # Building arrays: numpy.array of Tensors is a stack, full a broadcast.
    TorchCase(("array", "asarray", "asanyarray"), lambda x, y: np.array([[x, y], [y, np.asanyarray(x)]]),
              lambda x, y: torch.stack([torch.stack([x, y]), torch.stack([y, x])]), ((3,), (3,)), id="array-nested"),
    TorchCase(("copy",), np.copy, torch.clone, ((3,),), id="copy"),
    TorchCase(("block",), lambda x, y, z: np.block([[x, y], [z]]), lambda x, y, z: torch.cat([torch.cat([x, y], 1), z]),
              ((2, 2), (2, 1), (1, 3)), id="block"),
    TorchCase(("append",), np.append, lambda x, y: torch.cat([x.ravel(), y.ravel()]), ((2, 2), (3,)), id="append"),
    TorchCase(("meshgrid",), lambda x, y: np.meshgrid(x, y), lambda x, y: tuple(torch.meshgrid(x, y, indexing="xy")),
              ((3,), (4,)), id="meshgrid-xy"),
    TorchCase(("meshgrid",), lambda x, y, z: np.meshgrid(x, y, z, indexing="ij"),
              lambda x, y, z: tuple(torch.meshgrid(x, y, z, indexing="ij")), ((3,), (4,), (2,)), id="meshgrid-ij"),
    # torch.vander's own backward fails (an in-place write in torch 2.13): its twin is the stack of powers.
    TorchCase(("vander",), lambda x: np.vander(x, 4), lambda x: torch.stack([x ** 3, x ** 2, x, torch.ones_like(x)], 1),
              ((3,),), id="vander"),
    TorchCase(("full",), lambda v: np.full((2, 3), v), lambda v: v.expand(2, 3), ((3,),), id="full"),
    TorchCase(("full_like",), lambda v: np.full_like(numpy.zeros(4), v), lambda v: v.expand(4), ((),),
              id="full_like"),
]

NO_TORCH = {
    "linspace": "torch.linspace takes Python numbers and is not differentiable in start and stop; checked against "
                "NumPy and finite differences",
    "logspace": "torch.logspace takes Python numbers and is not differentiable in start and stop; checked against "
                "NumPy and finite differences",
    "insert": "torch has no insert; it is a gather from the array and the values, checked against NumPy's own insert",
    "delete": "torch has no delete; it is a gather, checked against NumPy's own delete",
    "ascontiguousarray": "torch has no twin beyond identity; it is array(a, ndmin=1), compared through array",
}
