"""Matrix products and linear algebra (``autodiff/ops/linalg.py``)."""

import nablanet.numpy as np
from op_cases import Case

CASES = {
    "matmul": [
        Case(np.matmul, ((3, 4), (4, 2)), id="2d"),
        Case(np.matmul, ((4,), (4, 2)), id="vec-mat"),
        Case(np.matmul, ((3, 4), (4,)), id="mat-vec"),
        Case(np.matmul, ((4,), (4,)), id="vec-vec"),
        Case(np.matmul, ((2, 3, 4), (4, 5)), id="batched-2d"),
        Case(np.matmul, ((2, 1, 3, 4), (5, 4, 2)), id="batched-broadcast"),
    ],
}
