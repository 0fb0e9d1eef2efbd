"""Building arrays (``autodiff/ops/build.py``): array of Tensors, block, insert, linspace, full, ..."""

import numpy

import nablanet.numpy as np
from op_cases import Case

CASES = {
    "array": [
        Case(lambda x, y: np.array([[x, 2.0 * y], [y, x]]), ((), ()), id="nested-scalars"),
        Case(lambda x, y: np.array((x, y), ndmin=3), ((3,), (3,)), id="tuple-ndmin"),
        # Through complex and back to real: dtype= converts the Tensors (and the float32 test keeps float32).
        Case(lambda x: np.real(np.array([x, numpy.ones(3, x.dtype)], dtype=numpy.promote_types(x.dtype, numpy.complex64))
                               * (1 + 2j)), ((3,),), id="dtype"),
        Case(lambda x: np.array(x), ((2, 3),), dtype="complex", id="tensor-complex"),
    ],
    "asarray": [Case(lambda x, y: np.asarray([x, y, x]), ((2,), (2,)))],
    "asanyarray": [Case(lambda x: np.asanyarray([x, -x]), ((),))],
    "ascontiguousarray": [Case(np.ascontiguousarray, ((),))],
    "copy": [Case(np.copy, ((3,),))],
    "block": [
        Case(lambda x, y: np.block([[x, numpy.zeros((2, 1), x.dtype)], [y, y[:, :1]]]), ((2, 2), (1, 2))),
        Case(lambda x, y: np.block([x, y, y]), ((2,), ()), id="1d"),
    ],
    "append": [
        Case(np.append, ((2, 2), (3,))),
        Case(lambda x, y: np.append(x, y, axis=0), ((2, 2), (1, 2)), id="axis"),
    ],
    "insert": [
        Case(lambda x, y: np.insert(x, [1, 1, 3], y), ((4,), (3,))),
        Case(lambda x, y: np.insert(x, 1, y, axis=1), ((3, 4), (3,)), id="column"),
        Case(lambda x, y: np.insert(x, slice(0, 4, 2), y, axis=0), ((4, 2), (2,)), id="slice"),
        Case(lambda x, y: np.insert(x, 2, y), ((2, 3), ()), id="scalar-flattened"),
    ],
    "delete": [
        Case(lambda x: np.delete(x, [0, 2], axis=1), ((3, 4),)),
        Case(lambda x: np.delete(x, slice(1, None, 2)), ((3, 4),), id="slice-flattened"),
        Case(lambda x: np.delete(x, -1, axis=0), ((3, 4),), id="int"),
    ],
    "meshgrid": [
        Case(lambda x, y: np.stack(np.meshgrid(x, y)), ((3,), (4,))),
        Case(lambda x, y, z: np.meshgrid(x, y, z, indexing="ij", sparse=True)[2] * 1.0, ((3,), (4,), (2,)), id="ij-sparse"),
    ],
    "linspace": [
        Case(lambda a, b: np.linspace(a, b, 7), ((), ())),
        Case(lambda a, b: np.linspace(a, b, 4, endpoint=False, axis=-1), ((2, 1), (3,)), id="arrays-axis"),
        Case(lambda a, b: np.linspace(a, b, 4, retstep=True)[1], ((), (3,)), id="retstep"),
        Case(lambda a, b: np.linspace(a, b, 1), ((), ()), id="one-sample"),
        Case(lambda a, b: np.linspace(a, b, 3), ((), ()), dtype="complex", id="complex"),
    ],
    "logspace": [
        Case(lambda a, b: np.logspace(a, b, 4), ((), ())),
        Case(lambda a, b, base: np.logspace(a, b, 3, base=base, axis=-1), ((2,), (), (2,)), ("real", "real", "positive"),
             id="array-base-axis"),
    ],
    # NumPy's vander promotes float32 to float64 (promote_types with int): cast back for the float32 check.
    "vander": [Case(lambda x: np.vander(x).astype(x.dtype), ((3,),)),
               Case(lambda x: np.vander(x, 4, increasing=True).astype(x.dtype), ((2,),), id="increasing")],
    "full": [Case(lambda v: np.full((2, 3), v), ((3,),)), Case(lambda v: np.full(4, v), ((),), id="scalar")],
    "full_like": [Case(lambda v: np.full_like(numpy.ones((2, 3), v.dtype), v), ((),))],
}
