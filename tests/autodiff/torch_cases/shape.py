"""Reshaping, joining, splitting, rearranging and indexing against their torch twins.

Where torch's function has another name or convention, the twin is written to compute NumPy's
result: numpy.repeat is torch.repeat_interleave, numpy.tile is Tensor.repeat, numpy's "edge" and
"wrap" pads are torch's "replicate" and "circular", numpy.take along an axis is index_select.
"""

import warnings

import numpy
import torch
import torch.nn.functional as torch_functional

import nablanet.numpy as np
from nablanet.autodiff.ops.shape import pad_transpose
from torch_cases import TorchCase

INDICES = numpy.array([3, 0, 3, 1])
MASK = numpy.array([[True, False, True, True], [False, False, True, False], [True, True, False, False]])
CHOICE = numpy.array([[0, 1, 2, 1], [2, 2, 0, 1], [1, 0, 0, 2]])
ORDER = numpy.array([[2, 0, 1, 1], [0, 2, 2, 0], [1, 1, 0, 2]])


def _quiet_row_stack(xs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return np.row_stack(xs)


def _batched_matrix(rng):
    return ((int(rng.integers(1, 3)), int(rng.integers(2, 5)), int(rng.integers(2, 5))),)


TORCH_CASES = [
    TorchCase(("reshape",), lambda x: np.reshape(x, (4, -1)), lambda x: torch.reshape(x, (4, -1)), ((2, 6),), id="reshape"),
    TorchCase(("reshape",), lambda x: np.reshape(x, (3, 4), order="F"),
              lambda x: torch.reshape(x.T, (4, 3)).T, ((2, 6),), id="reshape-fortran"),
    TorchCase(("ravel",), np.ravel, torch.ravel, ((2, 3, 2),), dtype="complex", id="ravel"),
    TorchCase(("transpose", "permute_dims"), lambda x: np.permute_dims(x, (2, 0, 1)),
              lambda x: torch.permute(x, (2, 0, 1)), ((2, 3, 4),), id="permute"),
    TorchCase(("transpose",), np.transpose, lambda x: torch.permute(x, (1, 0)), ((3, 4),), id="transpose"),
    TorchCase(("matrix_transpose",), np.matrix_transpose, lambda x: x.mT, _batched_matrix, id="matrix_transpose"),
    TorchCase(("swapaxes",), lambda x: np.swapaxes(x, 0, -1), lambda x: torch.swapaxes(x, 0, -1), ((2, 3, 4),),
              id="swapaxes"),
    TorchCase(("moveaxis",), lambda x: np.moveaxis(x, (0, 2), (-1, 0)), lambda x: torch.movedim(x, (0, 2), (-1, 0)),
              ((2, 3, 4),), id="moveaxis"),
    TorchCase(("rollaxis",), lambda x: np.rollaxis(x, 2, 1), lambda x: torch.movedim(x, 2, 1), ((2, 3, 4),), id="rollaxis"),
    TorchCase(("broadcast_to",), lambda x: np.broadcast_to(x, (2, 3, 4)), lambda x: torch.broadcast_to(x, (2, 3, 4)),
              ((3, 1),), id="broadcast_to"),
    TorchCase(("broadcast_arrays",), lambda x, y: np.broadcast_arrays(x, y), lambda x, y: tuple(torch.broadcast_tensors(x, y)),
              ((3, 1), (4,)), id="broadcast_arrays"),
    TorchCase(("expand_dims",), lambda x: np.expand_dims(x, (0, -1)), lambda x: x.unsqueeze(0).unsqueeze(-1), ((3,),),
              id="expand_dims"),
    TorchCase(("squeeze",), lambda x: np.squeeze(x, (0, 2)), lambda x: torch.squeeze(x, (0, 2)), ((1, 3, 1, 2),), id="squeeze"),
    TorchCase(("atleast_1d",), np.atleast_1d, torch.atleast_1d, ((),), id="atleast_1d"),
    TorchCase(("atleast_2d",), lambda x, y: np.atleast_2d(x, y), lambda x, y: tuple(torch.atleast_2d(x, y)),
              ((3,), ()), id="atleast_2d"),
    TorchCase(("atleast_3d",), np.atleast_3d, torch.atleast_3d, ((2, 3),), id="atleast_3d"),
    TorchCase(("concatenate", "concat"), lambda x, y: np.concat([x, y, x], axis=-1), lambda x, y: torch.cat([x, y, x], -1),
              ((2, 3), (2, 1)), dtype="complex", id="concatenate"),
    TorchCase(("concatenate",), lambda x, y: np.concatenate([x, y], axis=None),
              lambda x, y: torch.cat([x.ravel(), y.ravel()]), ((2, 3), (4,)), id="concatenate-axis-none"),
    TorchCase(("stack",), lambda x, y: np.stack([x, y], axis=-1), lambda x, y: torch.stack([x, y], -1), ((2, 3), (2, 3)),
              id="stack"),
    TorchCase(("hstack",), lambda x, y: np.hstack([x, y]), lambda x, y: torch.hstack([x, y]), ((3,), (2,)), id="hstack"),
    TorchCase(("vstack",), lambda x, y: np.vstack([x, y]), lambda x, y: torch.vstack([x, y]), ((2, 3), (3,)), id="vstack"),
    TorchCase(("row_stack",), lambda x, y: _quiet_row_stack([x, y]), lambda x, y: torch.vstack([x, y]), ((3,), (3,)),
              id="row_stack"),
    TorchCase(("dstack",), lambda x, y: np.dstack([x, y]), lambda x, y: torch.dstack([x, y]), ((2, 3), (2, 3)), id="dstack"),
    TorchCase(("column_stack",), lambda x, y: np.column_stack([x, y]), lambda x, y: torch.column_stack([x, y]),
              ((3,), (3, 2)), id="column_stack"),
    TorchCase(("split",), lambda x: tuple(np.split(x, [1, 3], axis=1)), lambda x: torch.tensor_split(x, [1, 3], dim=1),
              ((2, 5),), id="split"),
    TorchCase(("array_split",), lambda x: tuple(np.array_split(x, 3)), lambda x: torch.tensor_split(x, 3), ((7, 2),),
              id="array_split"),
    TorchCase(("hsplit",), lambda x: tuple(np.hsplit(x, 2)), lambda x: torch.hsplit(x, 2), ((3, 4),), id="hsplit"),
    TorchCase(("vsplit",), lambda x: tuple(np.vsplit(x, [1])), lambda x: torch.vsplit(x, [1]), ((3, 4),), id="vsplit"),
    TorchCase(("dsplit",), lambda x: tuple(np.dsplit(x, 2)), lambda x: torch.dsplit(x, 2), ((2, 3, 4),), id="dsplit"),
    TorchCase(("unstack",), lambda x: np.unstack(x, axis=1), lambda x: torch.unbind(x, 1), ((2, 3),), id="unstack"),
    TorchCase(("flip",), lambda x: np.flip(x, (0, 2)), lambda x: torch.flip(x, (0, 2)), ((2, 3, 4),), id="flip"),
    TorchCase(("fliplr",), np.fliplr, torch.fliplr, ((3, 4),), id="fliplr"),
    TorchCase(("flipud",), np.flipud, torch.flipud, ((3, 4),), dtype="complex", id="flipud"),
    TorchCase(("rot90",), lambda x: np.rot90(x, 3, (2, 0)), lambda x: torch.rot90(x, 3, (2, 0)), ((2, 3, 4),), id="rot90"),
    TorchCase(("roll",), lambda x: np.roll(x, (1, -2), (0, 2)), lambda x: torch.roll(x, (1, -2), (0, 2)), ((2, 3, 4),),
              id="roll"),
    TorchCase(("roll",), lambda x: np.roll(x, 5), lambda x: torch.roll(x, 5), ((3, 4),), id="roll-flattened"),
    TorchCase(("tile",), lambda x: np.tile(x, (2, 1, 3)), lambda x: torch.tile(x, (2, 1, 3)), ((3, 4),), id="tile"),
    TorchCase(("repeat",), lambda x: np.repeat(x, [1, 0, 3], axis=1),
              lambda x: torch.repeat_interleave(x, torch.tensor([1, 0, 3]), dim=1), ((2, 3),), id="repeat"),
    TorchCase(("repeat",), lambda x: np.repeat(x, 2), lambda x: torch.repeat_interleave(x, 2), ((2, 3),),
              id="repeat-flattened"),
    TorchCase(("diagonal",), lambda x: np.diagonal(x, 1, 2, 0), lambda x: torch.diagonal(x, 1, 2, 0), ((3, 2, 4),),
              id="diagonal"),
    TorchCase(("diag",), lambda x: np.diag(x, -1), lambda x: torch.diag(x, -1), ((3,),), id="diag-of-vector"),
    TorchCase(("diag",), lambda x: np.diag(x, 1), lambda x: torch.diag(x, 1), ((3, 4),), id="diag-of-matrix"),
    TorchCase(("diagflat",), lambda x: np.diagflat(x, 1), lambda x: torch.diagflat(x, 1), ((2, 2),), id="diagflat"),
    TorchCase(("trace",), np.trace, torch.trace, ((3, 4),), dtype="complex", id="trace"),
    TorchCase(("trace",), lambda x: np.trace(x, 1, 0, 2), lambda x: torch.diagonal(x, 1, 0, 2).sum(-1), ((3, 2, 4),),
              id="trace-batched"),
    TorchCase(("tril",), lambda x: np.tril(x, -1), lambda x: torch.tril(x, -1), ((2, 3, 4),), id="tril"),
    TorchCase(("triu",), lambda x: np.triu(x, 1), lambda x: torch.triu(x, 1), ((3, 4),), id="triu"),
    TorchCase(("pad",), lambda x: np.pad(x, ((0, 2), (1, 3))), lambda x: torch_functional.pad(x, (1, 3, 0, 2)),
              ((3, 4),), id="pad"),
    TorchCase(("pad",), lambda x: np.pad(x, ((0, 0), (2, 1)), mode="reflect"),
              lambda x: torch_functional.pad(x[None], (2, 1), mode="reflect")[0], ((3, 4),), id="pad-reflect"),
    TorchCase(("pad",), lambda x: np.pad(x, ((0, 0), (2, 1)), mode="edge"),
              lambda x: torch_functional.pad(x[None], (2, 1), mode="replicate")[0], ((3, 4),), id="pad-edge"),
    TorchCase(("pad",), lambda x: np.pad(x, ((0, 0), (2, 1)), mode="wrap"),
              lambda x: torch_functional.pad(x[None], (2, 1), mode="circular")[0], ((3, 4),), id="pad-wrap"),
    # pad_transpose is the VJP of a copying pad: torch's twin is the VJP of its pad, taken with torch.func.
    TorchCase(("pad_transpose",), lambda z: pad_transpose(z, ((0, 0), (2, 1), (1, 2)), "reflect"),
              lambda z: torch.func.vjp(lambda x: torch_functional.pad(x, (1, 2, 2, 1), mode="reflect"),
                                       torch.zeros(2, 3, 4, dtype=z.dtype))[1](z)[0], ((2, 6, 7),),
              id="pad-transpose-reflect"),
    TorchCase(("getitem",), lambda x: x[1:, ::2][:, INDICES[:2]], lambda x: x[1:, ::2][:, torch.as_tensor(INDICES[:2])],
              ((4, 7),), id="getitem"),
    TorchCase(("getitem",), lambda x: x[MASK], lambda x: x[torch.as_tensor(MASK)], ((3, 4),), dtype="complex",
              id="getitem-mask"),
    TorchCase(("take",), lambda x: np.take(x, INDICES, axis=1),
              lambda x: torch.index_select(x, 1, torch.as_tensor(INDICES)), ((2, 4),), id="take"),
    TorchCase(("take",), lambda x: np.take(x, INDICES), lambda x: torch.take(x, torch.as_tensor(INDICES)), ((2, 3),),
              id="take-flattened"),
    TorchCase(("take_along_axis",), lambda x: np.take_along_axis(x, ORDER, axis=0),
              lambda x: torch.take_along_dim(x, torch.as_tensor(ORDER), dim=0), ((3, 4),), id="take_along_axis"),
    TorchCase(("choose",), lambda x, y, z: np.choose(CHOICE, [x, y, z]),
              lambda x, y, z: torch.stack(torch.broadcast_tensors(x, y, z)).gather(0, torch.as_tensor(CHOICE)[None])[0],
              ((3, 4), (3, 4), (3, 4)), id="choose"),
    TorchCase(("select",), lambda x, y: np.select([MASK, CHOICE > 1], [x, y], default=-1.0),
              lambda x, y: torch.where(torch.as_tensor(MASK), x, torch.where(torch.as_tensor(CHOICE > 1), y, -1.0)),
              ((3, 4), (4,)), id="select"),
    TorchCase(("compress",), lambda x: np.compress([True, False, True], x, axis=-1),
              lambda x: torch.index_select(x, -1, torch.tensor([0, 2])), ((2, 3),), id="compress"),
    TorchCase(("extract",), lambda x: np.extract(MASK, x), lambda x: torch.masked_select(x, torch.as_tensor(MASK)),
              ((3, 4),), id="extract"),
    # scatter_add is getitem's transpose; torch's twin is index_put with accumulation (index_add for one axis).
    TorchCase(("scatter_add",), lambda x: np.scatter_add(x, INDICES, (5, 2)),
              lambda x: torch.zeros(5, 2, dtype=x.dtype).index_put((torch.as_tensor(INDICES),), x, accumulate=True),
              ((4, 2),), id="scatter_add"),
    TorchCase(("scatter_add",), lambda x: np.scatter_add(x, (slice(None), INDICES), (2, 5)),
              lambda x: torch.zeros(2, 5, dtype=x.dtype).index_add(1, torch.as_tensor(INDICES), x),
              ((2, 4),), id="scatter_add-axis1"),
]

NO_TORCH = {
    "resize": "torch's resize_ works in place and has no derivative; np.resize is checked against NumPy and finite "
              "differences (a cyclic gather)",
    "piecewise": "torch has no piecewise; it is where and scatter_add, compared with torch through select and "
                 "scatter_add, and checked against NumPy's own piecewise",
    "put_along_axis": "refused: it writes in place in NumPy (test_shape.py)",
}
