"""Shape and indexing primitives (``autodiff/ops/shape.py``)."""

import numpy

import nablanet.numpy as np
from op_cases import Case

CASES = {
    "reshape": [Case(lambda x: np.reshape(x, (4, 3)) * 1.0, ((3, 4),)), Case(lambda x: np.reshape(x, (2, -1)), ((3, 4),))],
    "transpose": [Case(np.transpose, ((3, 4),)), Case(lambda x: np.transpose(x, (1, 2, 0)), ((2, 3, 4),))],
    "broadcast_to": [Case(lambda x: np.broadcast_to(x, (2, 3, 4)), ((3, 1),)), Case(lambda x: np.broadcast_to(x, (3,)), ((),))],
    "concatenate": [
        Case(lambda x, y: np.concatenate([x, y], axis=0), ((2, 3), (4, 3))),
        Case(lambda x, y: np.concatenate([x, y, x], axis=1), ((2, 3), (2, 1))),
    ],
    "pad": [Case(lambda x: np.pad(x, 1), ((3, 4),)), Case(lambda x: np.pad(x, ((0, 2), (1, 0)), constant_values=3.0), ((3, 4),))],
    "getitem": [
        Case(lambda x: x[1:, ::2], ((4, 5),), id="slices"),
        Case(lambda x: x[numpy.array([0, 2, 2, 1])], ((4, 5),), id="int-array-repeats"),
        Case(lambda x: x[:, [4, 0, 4]], ((4, 5),), id="int-array-axis1"),
        Case(lambda x: x[x > 0], ((4, 5),), id="bool-mask"),
        Case(lambda x: x[1, None, ..., 2], ((3, 4, 5),), id="int-none-ellipsis"),
        Case(lambda x: np.take(x, [3, 0, 3], axis=1), ((2, 4),), id="take"),
    ],
    "scatter_add": [Case(lambda x: np.scatter_add(x, numpy.array([0, 2, 0]), (4, 2)), ((3, 2),), id="repeats")],
}
