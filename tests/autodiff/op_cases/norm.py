"""Normalization along the last axis (``autodiff/ops/norm.py``)."""

import nablanet.numpy as np
from op_cases import Case

CASES = {
    "normalize": [
        Case(lambda x: np.normalize(x), ((6, 4),), id="rows"),
        Case(lambda x: np.normalize(x, eps=0.1), ((2, 3, 5),), id="3d-eps"),
        Case(lambda x: np.normalize(x), ((5,),), id="vector"),
        # Rows in strided memory (a transposed input), as attention's heads and InstanceNorm's channels-last inputs.
        Case(lambda x: np.normalize(np.swapaxes(x, 0, 1)), ((4, 3),), id="transposed"),
    ],
}
