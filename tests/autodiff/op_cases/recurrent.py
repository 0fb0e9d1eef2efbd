"""Recurrent cells (``autodiff/ops/recurrent.py``)."""

import nablanet.numpy as np
from op_cases import Case

CASES = {
    "gru_cell": [Case(np.gru_cell, ((4, 3), (4, 2), (3, 6), (2, 6), (6,), (6,)), id="in3-h2")],
}
