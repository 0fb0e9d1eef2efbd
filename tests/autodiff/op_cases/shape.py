"""Shape and indexing primitives and the functions built on them (``autodiff/ops/shape.py``).

Most functions here are composites of the primitives; each public name still gets cases, so that
its composition (the axes it moves, the elements it picks) is checked against finite differences of
NumPy's own function (check_grads evaluates the function on plain arrays, where it is NumPy's).
"""

import warnings

import numpy

import nablanet.numpy as np
from nablanet.autodiff.ops.shape import pad_transpose
from op_cases import Case


def joined(parts):
    """Several outputs (split, broadcast_arrays, ...) as one flat array, for the gradient check."""
    return np.concatenate([np.ravel(p) for p in parts])


def row_stack_quietly(x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return np.row_stack([x, y])


MASK_34 = numpy.array([[True, False, True, True], [False, False, True, False], [True, True, False, False]])
CHOICE_34 = numpy.array([[0, 1, 2, 1], [2, 2, 0, 1], [1, 0, 0, 2]])

CASES = {
    "reshape": [
        Case(lambda x: np.reshape(x, (4, 3)) * 1.0, ((3, 4),)),
        Case(lambda x: np.reshape(x, (2, -1)), ((3, 4),), id="minus-one"),
        Case(lambda x: np.reshape(x, (2, 6), order="F"), ((3, 4),), id="fortran"),
        Case(lambda x: np.reshape(x, (1, 1)), ((),), id="0d"),
        Case(lambda x: x.reshape(3, 2, 2), ((3, 4),), dtype="complex", id="method-complex"),
    ],
    "ravel": [
        Case(np.ravel, ((2, 3, 4),)),
        Case(lambda x: np.ravel(x, order="F"), ((3, 4),), id="fortran"),
        Case(lambda x: np.ravel(x.T, order="K"), ((3, 4),), id="keep-transposed"),
        Case(lambda x: x.flatten(order="F"), ((3, 4),), id="flatten-method"),
        Case(np.ravel, ((),), id="0d"),
    ],
    "transpose": [
        Case(np.transpose, ((3, 4),)),
        Case(lambda x: np.transpose(x, (1, 2, 0)), ((2, 3, 4),)),
        Case(lambda x: np.transpose(x, (-1, 0, -2)), ((2, 3, 4),), id="negative-axes"),
    ],
    "permute_dims": [Case(lambda x: np.permute_dims(x, (2, 0, 1)), ((2, 3, 4),))],
    "matrix_transpose": [Case(np.matrix_transpose, ((2, 3, 4),)), Case(lambda x: x.mT, ((3, 2),), id="mT")],
    "swapaxes": [Case(lambda x: np.swapaxes(x, 0, -1), ((2, 3, 4),)), Case(lambda x: x.swapaxes(1, 0), ((3, 4),))],
    "moveaxis": [
        Case(lambda x: np.moveaxis(x, 0, -1), ((2, 3, 4),)),
        Case(lambda x: np.moveaxis(x, (0, 2), (-1, 0)), ((2, 3, 4),), id="sequences"),
    ],
    "rollaxis": [Case(lambda x: np.rollaxis(x, 2), ((2, 3, 4),)), Case(lambda x: np.rollaxis(x, 0, 3), ((2, 3, 4),))],
    "broadcast_to": [
        Case(lambda x: np.broadcast_to(x, (2, 3, 4)), ((3, 1),)),
        Case(lambda x: np.broadcast_to(x, (3,)), ((),)),
        Case(lambda x: np.broadcast_to(x, 3), ((1,),), id="int-shape"),
    ],
    "broadcast_arrays": [Case(lambda x, y: joined(np.broadcast_arrays(x, y)), ((3, 1), (4,)))],
    "expand_dims": [
        Case(lambda x: np.expand_dims(x, 1), ((3, 4),)),
        Case(lambda x: np.expand_dims(x, (0, -1)), ((3,),), id="tuple"),
        Case(lambda x: np.expand_dims(x, 0), ((),), id="0d"),
    ],
    "squeeze": [
        Case(np.squeeze, ((1, 3, 1),)),
        Case(lambda x: np.squeeze(x, (0, -1)), ((1, 3, 1, 1),), id="tuple"),
        Case(lambda x: x.squeeze(), ((1,),), id="method-to-0d"),
    ],
    "atleast_1d": [Case(np.atleast_1d, ((),)), Case(lambda x, y: joined(np.atleast_1d(x, y)), ((), (2, 3)), id="several")],
    "atleast_2d": [Case(np.atleast_2d, ((3,),)), Case(lambda x, y: joined(np.atleast_2d(x, y)), ((), (4,)), id="several")],
    "atleast_3d": [Case(np.atleast_3d, ((3,),)), Case(np.atleast_3d, ((2, 3),), id="2d"), Case(np.atleast_3d, ((),), id="0d")],
    "concatenate": [
        Case(lambda x, y: np.concatenate([x, y], axis=0), ((2, 3), (4, 3))),
        Case(lambda x, y: np.concatenate([x, y, x], axis=1), ((2, 3), (2, 1))),
        Case(lambda x, y: np.concatenate([x, y], axis=None), ((2, 3), (4,)), id="axis-none"),
        Case(lambda x, y: np.concatenate((x, y), axis=-1), ((2, 3), (2, 2)), dtype="complex", id="complex"),
    ],
    "concat": [Case(lambda x, y: np.concat([x, y]), ((2,), (3,)))],
    "stack": [
        Case(lambda x, y: np.stack([x, y]), ((3,), (3,))),
        Case(lambda x, y: np.stack([x, y, x], axis=-1), ((2, 3), (2, 3)), id="negative-axis"),
        Case(lambda x, y: np.stack([x, numpy.ones((), x.dtype), y]), ((), ()), id="0d-with-constant"),
    ],
    "hstack": [
        Case(lambda x, y: np.hstack([x, y]), ((3,), (2,))),
        Case(lambda x, y: np.hstack([x, y]), ((2, 3), (2, 1)), id="2d"),
        Case(lambda x, y: np.hstack([x, y]), ((), ()), id="0d"),
    ],
    "vstack": [
        Case(lambda x, y: np.vstack([x, y]), ((3,), (3,))),
        Case(lambda x, y: np.vstack([x, y]), ((2, 3), (3,)), id="2d-1d"),
        Case(lambda x, y: np.vstack([x, y]), ((), ()), id="0d"),
    ],
    "row_stack": [Case(row_stack_quietly, ((3,), (2, 3)))],
    "dstack": [Case(lambda x, y: np.dstack([x, y]), ((3,), (3,))), Case(lambda x, y: np.dstack([x, y]), ((2, 3), (2, 3, 2)), id="2d-3d")],
    "column_stack": [Case(lambda x, y: np.column_stack([x, y]), ((3,), (3, 2))), Case(lambda x, y: np.column_stack([x, y]), ((), ()), id="0d")],
    "split": [
        Case(lambda x: joined(np.split(x, 3) * 2), ((6,),)),
        Case(lambda x: joined(np.split(x, [1, 3], axis=-1)[::-1]), ((2, 4),), id="indices"),
    ],
    "array_split": [
        Case(lambda x: np.array_split(x, 3)[0] * np.array_split(x, 3)[2][:1], ((5,),)),
        Case(lambda x: joined(np.array_split(x, [2, 10], axis=1)), ((2, 4),), id="past-the-end"),
    ],
    "hsplit": [Case(lambda x: np.hsplit(x, 2)[1], ((3, 4),)), Case(lambda x: np.hsplit(x, [1])[0], ((3,),), id="1d")],
    "vsplit": [Case(lambda x: np.vsplit(x, [1])[1], ((3, 4),))],
    "dsplit": [Case(lambda x: np.dsplit(x, 2)[0], ((2, 3, 4),))],
    "unstack": [Case(lambda x: np.unstack(x, axis=1)[2] * np.unstack(x)[0][:1], ((2, 3),))],
    "flip": [
        Case(np.flip, ((3, 4),)),
        Case(lambda x: np.flip(x, -1), ((2, 3, 4),), id="axis"),
        Case(lambda x: np.flip(x, (0, 2)), ((2, 3, 4),), id="tuple"),
        Case(np.flip, ((),), id="0d"),
    ],
    "fliplr": [Case(np.fliplr, ((3, 4),))],
    "flipud": [Case(np.flipud, ((3,),)), Case(np.flipud, ((3, 4),), dtype="complex", id="complex")],
    "rot90": [
        Case(np.rot90, ((3, 4),)),
        Case(lambda x: np.rot90(x, 2), ((3, 4),), id="k2"),
        Case(lambda x: np.rot90(x, -1, axes=(2, 0)), ((2, 3, 4),), id="k-1-axes"),
    ],
    "roll": [
        Case(lambda x: np.roll(x, 2), ((3, 4),)),
        Case(lambda x: np.roll(x, -1, axis=1), ((3, 4),), id="axis"),
        Case(lambda x: np.roll(x, (1, 2), axis=(0, -1)), ((2, 3, 4),), id="tuples"),
    ],
    "tile": [
        Case(lambda x: np.tile(x, 2), ((3,),)),
        Case(lambda x: np.tile(x, (2, 1, 3)), ((3, 4),), id="longer-reps"),
        Case(lambda x: np.tile(x, 2), ((2, 3),), id="shorter-reps"),
        Case(lambda x: np.tile(x, (2, 2)), ((),), id="0d"),
    ],
    "repeat": [
        Case(lambda x: np.repeat(x, 2), ((2, 3),)),
        Case(lambda x: np.repeat(x, [1, 0, 3], axis=-1), ((2, 3),), id="per-element"),
        Case(lambda x: x.repeat(3, axis=0), ((2, 3),), id="method"),
    ],
    "resize": [Case(lambda x: np.resize(x, (3, 5)), ((2, 3),))],
    "diagonal": [
        Case(np.diagonal, ((3, 4),)),
        Case(lambda x: np.diagonal(x, offset=1, axis1=-1, axis2=0), ((3, 2, 4),), id="offset-axes"),
        Case(lambda x: x.diagonal(-2), ((4, 3),), id="method-negative-offset"),
    ],
    "diag": [
        Case(np.diag, ((3,),)),
        Case(lambda x: np.diag(x, -1), ((3,),), id="below"),
        Case(lambda x: np.diag(x, 1), ((3, 4),), id="of-matrix"),
    ],
    "diagflat": [Case(lambda x: np.diagflat(x, 1), ((2, 2),))],
    "trace": [
        Case(np.trace, ((3, 4),)),
        Case(lambda x: np.trace(x, 1, 0, 2), ((3, 2, 4),), id="batched"),
        Case(lambda x: x.trace(offset=-1), ((3, 3),), dtype="complex", id="method-complex"),
    ],
    "tril": [Case(np.tril, ((3, 4),)), Case(lambda x: np.tril(x, -1), ((2, 3, 3),), id="batched"), Case(np.tril, ((3,),), id="1d")],
    "triu": [Case(lambda x: np.triu(x, 1), ((3, 4),)), Case(np.triu, ((2, 3, 3),), id="batched")],
    "pad": [
        Case(lambda x: np.pad(x, 1), ((3, 4),)),
        Case(lambda x: np.pad(x, ((0, 2), (1, 0)), constant_values=3.0), ((3, 4),)),
        Case(lambda x, v: np.pad(x, 1, constant_values=v), ((3, 4), (2, 2)), id="per-axis-values"),
        Case(lambda x: np.pad(x, ((1, 2), (3, 0)), mode="reflect"), ((3, 4),), id="reflect"),
        Case(lambda x: np.pad(x, 2, mode="symmetric"), ((3,),), id="symmetric"),
        Case(lambda x: np.pad(x, (1, 3), mode="edge"), ((2, 3),), id="edge"),
        Case(lambda x: np.pad(x, 4, mode="wrap"), ((3,),), id="wrap"),
        Case(lambda x: np.pad(x, ((2, 0), (1, 3), (0, 0)), mode="reflect"), ((3, 2, 2),), id="reflect-wider-than-axis"),
    ],
    # The transpose of the copying pads (their VJP): the padded shape folded back, each copy onto its source.
    "pad_transpose": [
        Case(lambda z: pad_transpose(z, ((1, 2), (2, 1)), "reflect"), ((6, 6),), id="reflect"),
        Case(lambda z: pad_transpose(z, ((0, 0), (3, 1)), "edge"), ((2, 6),), id="edge"),
        Case(lambda z: pad_transpose(z, ((4, 2),), "wrap"), ((9,),), id="wrap"),
        Case(lambda z: pad_transpose(z, ((2, 1),), "symmetric"), ((5,),), id="symmetric"),
    ],
    "getitem": [
        Case(lambda x: x[1:, ::2], ((4, 5),), id="slices"),
        Case(lambda x: x[numpy.array([0, 2, 2, 1])], ((4, 5),), id="int-array-repeats"),
        Case(lambda x: x[:, [4, 0, 4]], ((4, 5),), id="int-array-axis1"),
        Case(lambda x: x[x > 0], ((4, 5),), id="bool-mask"),
        Case(lambda x: x[1, None, ..., 2], ((3, 4, 5),), id="int-none-ellipsis"),
        Case(lambda x: np.getitem(x, (slice(None), [1, 1])), ((3, 2),), id="function"),
    ],
    "take": [
        Case(lambda x: np.take(x, [3, 0, 3], axis=1), ((2, 4),)),
        Case(lambda x: np.take(x, [[5, -1], [0, 0]]), ((2, 3),), id="flat-2d-indices"),
        Case(lambda x: np.take(x, [7, -9], axis=-1, mode="wrap"), ((2, 3),), id="wrap"),
        Case(lambda x: np.take(x, [7, -9], mode="clip"), ((4,),), id="clip"),
        Case(lambda x: x.take(1, axis=0), ((2, 3),), id="method-scalar-index"),
    ],
    "take_along_axis": [
        Case(lambda x: np.take_along_axis(x, numpy.array([[2, 0], [1, 1], [0, 2]]), axis=1), ((3, 3),)),
        Case(lambda x: np.take_along_axis(x, numpy.array([[0, 2, 1, 1]]), axis=0), ((3, 4),), id="axis0-broadcast"),
        Case(lambda x: np.take_along_axis(x, numpy.array([5, 0]), axis=None), ((2, 3),), id="axis-none"),
    ],
    # put_along_axis writes in place in NumPy: nablanet refuses it (test_shape.py), so it has no derivative.
    "put_along_axis": [],
    "choose": [
        Case(lambda x, y, z: np.choose(CHOICE_34, [x, y, z]), ((3, 4), (4,), ())),
        Case(lambda x, y: np.choose(numpy.array([0, 5, 1]), (x, y), mode="wrap"), ((3,), (3,)), id="wrap"),
    ],
    "select": [
        Case(lambda x, y: np.select([MASK_34, ~MASK_34 & (CHOICE_34 > 0)], [x, y], default=-1.0), ((3, 4), (4,))),
        Case(lambda x, y, d: np.select([MASK_34], [x * y], default=d), ((3, 1), (4,), ()), id="traced-default"),
    ],
    "piecewise": [
        Case(lambda x: np.piecewise(x, [MASK_34, CHOICE_34 == 2], [lambda v: v ** 2, lambda v: -v, 0.5]), ((3, 4),)),
        Case(lambda x: np.piecewise(x, [True], [lambda v: v * 3.0]), ((),), id="0d"),
    ],
    "compress": [
        Case(lambda x: np.compress([True, False, True], x, axis=-1), ((2, 3),)),
        Case(lambda x: np.compress([False, True, True], x), ((2, 3),), id="flat"),
    ],
    "extract": [Case(lambda x: np.extract(MASK_34, x), ((3, 4),))],
    "scatter_add": [Case(lambda x: np.scatter_add(x, numpy.array([0, 2, 0]), (4, 2)), ((3, 2),), id="repeats")],
}
