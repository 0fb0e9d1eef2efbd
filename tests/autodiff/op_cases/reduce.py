"""Reductions (``autodiff/ops/reduce.py``)."""

import nablanet.numpy as np
from op_cases import Case, reductions

CASES = {
    "sum": reductions(np.sum),
    "max": reductions(np.max, "distinct"),
    "min": reductions(np.min, "distinct"),
    "logsumexp": reductions(np.logsumexp),
    "softmax": [Case(lambda x, a=a: np.softmax(x, axis=a), ((3, 4),), id=f"axis{a}") for a in (0, 1)],
    "log_softmax": [Case(lambda x, a=a: np.log_softmax(x, axis=a), ((3, 4),), id=f"axis{a}") for a in (0, -1)],
}
