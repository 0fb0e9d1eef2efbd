"""Elementwise primitives (``autodiff/ops/elementwise.py``)."""

import numpy

import nablanet.numpy as np
from nablanet.autodiff.ops import elementwise as ops
from op_cases import Case, binary, unary

CASES = {
    "add": binary(np.add) + binary(np.add, dtype="complex")[2:4],
    "subtract": binary(np.subtract) + binary(np.subtract, dtype="complex")[2:4],
    "multiply": binary(np.multiply) + binary(np.multiply, dtype="complex")[2:4],
    "divide": binary(np.divide, ("real", "nonzero")) + binary(np.divide, ("real", "nonzero"), dtype="complex")[2:4],
    "negative": unary(np.negative),
    "power": binary(np.power, ("positive", "real")) + unary(lambda x: x ** 3) + unary(lambda x: x ** 2),
    "exp": unary(np.exp) + unary(np.exp, dtype="complex"),
    "log": unary(np.log, "positive") + unary(np.log, "positive", dtype="complex"),
    "log1p": unary(np.log1p, "above_minus_one"),
    "expm1": unary(np.expm1),
    "sqrt": unary(np.sqrt, "positive") + unary(np.sqrt, "positive", dtype="complex"),
    "abs": unary(np.abs, "nonzero") + unary(np.abs, "nonzero", dtype="complex"),
    "sin": unary(np.sin) + unary(np.sin, dtype="complex"),
    "cos": unary(np.cos) + unary(np.cos, dtype="complex"),
    "tanh": unary(np.tanh) + unary(np.tanh, dtype="complex"),
    "sigmoid": unary(np.sigmoid),
    "maximum": binary(np.maximum),
    "minimum": binary(np.minimum),
    "where": [
        Case(lambda x, y: np.where(x > 0, x, y), ((3, 4), (3, 4)), id="same"),
        Case(lambda x, y: np.where(x > 0, x * 2, y), ((3, 4), (4,)), id="broadcast"),
    ],
    "clip": [
        Case(lambda x: np.clip(x, -0.5, 0.7), ((4, 5),), id="both"),
        Case(lambda x: np.clip(x, None, 0.3), ((6,),), id="upper"),
    ],
    "identity": unary(ops.identity),
    # Through long double and back: exact, so finite differences still apply, and x's dtype is kept.
    "astype": [Case(lambda x: np.astype(np.astype(x, numpy.longdouble) * 2.0, x.dtype), ((4,),), id="roundtrip")],
    # Complex parts: inputs complex (real inputs do not reach these ops: real(x) is x itself).
    "real": unary(np.real, dtype="complex"),
    "imag": unary(np.imag, dtype="complex") + [Case(lambda x: np.imag(x * 1.0), ((4,),), id="real-input")],
    "conj": unary(np.conj, dtype="complex") + [Case(lambda z: np.conj(z) * z, ((3,),), id="times-z", dtype="complex")],
    "angle": unary(np.angle, "nonzero", dtype="complex") + [Case(lambda z: np.angle(z, deg=True), ((3,),), ("nonzero",), id="deg", dtype="complex")],
}

# Piecewise constant: its derivative is zero wherever it exists.
CONSTANT_OPS = {"sign"}
