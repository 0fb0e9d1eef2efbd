"""The two-input logic gates of the notes' first examples: AND, OR, XOR, XNOR as four samples each."""

from __future__ import annotations

import numpy as np

from nablanet.datasets.common import _float_dtype
from nablanet.datasets.registry import LoadedData, register_dataset

__all__ = ["GATES", "gate"]

# Truth tables over the inputs (0,0), (0,1), (1,0), (1,1), in the row order of the notes' design
# matrix X = [[1,0,0],[1,0,1],[1,1,0],[1,1,1]] (its first column is the intercept, left out here).
_GATE_TABLES = {
    "and": (0, 0, 0, 1),
    "or": (0, 1, 1, 1),
    "xor": (0, 1, 1, 0),
    "xnor": (1, 0, 0, 1),
}
GATES = tuple(_GATE_TABLES)


def gate(name: str, encoding: str = "01", *, dtype=np.float64):
    """The four input pairs of a two-input logic gate and its outputs.

    The rows are the inputs (0,0), (0,1), (1,0), (1,1), in the order of the notes' design matrix.
    With ``encoding="pm1"`` every 0 becomes -1 (inputs and target alike, ``v -> 2v - 1``): the
    encoding of the notes' argument that no single neuron separates XNOR, where ``g = +1`` iff
    both coordinates are equal.

    Args:
        name: ``"and"``, ``"or"``, ``"xor"`` or ``"xnor"`` (any case).
        encoding: ``"01"`` for 0/1 values, ``"pm1"`` for -1/+1 values.
        dtype: floating dtype of both arrays.

    Returns:
        ``(X, y)``.

    Shape:
        X (4, 2), y (4,).

    Example:
        >>> X, y = gate("xor")
        >>> X.tolist(), y.tolist()
        ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0.0, 1.0, 1.0, 0.0])
        >>> X, y = gate("XNOR", encoding="pm1")
        >>> X.tolist(), y.tolist()
        ([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]], [1.0, -1.0, -1.0, 1.0])
    """
    if not isinstance(name, str) or name.lower() not in _GATE_TABLES:
        raise ValueError(f"unknown gate {name!r}; the gates are {', '.join(GATES)}")
    key = name.lower()
    if encoding not in ("01", "pm1"):
        raise ValueError(f"encoding must be '01' (0/1 values) or 'pm1' (-1/+1 values), got {encoding!r}")
    dtype = _float_dtype(dtype)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=dtype)
    y = np.array(_GATE_TABLES[key], dtype=dtype)
    if encoding == "pm1":
        X, y = 2 * X - 1, 2 * y - 1
    return X, y


def _gate_loader(name: str):
    def load(settings: dict) -> LoadedData:
        X, y = gate(name)
        # The gates are classification problems: labels as integers, so that loss "auto" picks cross_entropy.
        return LoadedData(X, y.astype(np.int64), f"{name} (4 samples)")

    return load


for _name in GATES:
    # The four samples are the training and the test data at once: no test part by default.
    register_dataset(_name, _gate_loader(_name), kind="classification", test_size=0.0,
                     description=f"the {_name.upper()} gate's four input pairs"
                                 + (" (the notes' first network)" if _name == "xor" else ""))
del _name
