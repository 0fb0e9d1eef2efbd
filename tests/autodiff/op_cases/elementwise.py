"""Elementwise primitives and functions (``autodiff/ops/elementwise.py`` and ``trig.py``).

Domains keep each function inside its smooth region: the inverse trigonometric functions inside
(-1, 1), tan away from its poles, complex arguments away from branch cuts (arcsin, arctanh: cuts on
the real axis beyond +-1; arctan, arcsinh: on the imaginary axis beyond +-i, so both parts in
(-0.8, 0.8)), remainder and fmod with divisors away from 0.
"""

import numpy

import nablanet.numpy as np
from nablanet.autodiff.ops import elementwise as ops
from op_cases import Case, binary, unary


def real_and_complex(fn, domain="real", complex_domain=None):
    """unary cases of fn in float and complex (the complex ones from ``complex_domain``, default ``domain``)."""
    return unary(fn, domain) + unary(fn, complex_domain or domain, dtype="complex")


CASES = {
    "add": binary(np.add) + binary(np.add, dtype="complex")[2:4],
    "subtract": binary(np.subtract) + binary(np.subtract, dtype="complex")[2:4],
    "multiply": binary(np.multiply) + binary(np.multiply, dtype="complex")[2:4],
    "divide": binary(np.divide, ("real", "nonzero")) + binary(np.divide, ("real", "nonzero"), dtype="complex")[2:4],
    "negative": unary(np.negative),
    "power": binary(np.power, ("positive", "real")) + unary(lambda x: x ** 3) + unary(lambda x: x ** 2)
    + [Case(lambda x: x ** 1.0, ((4,),), id="exponent-1"), Case(lambda x: np.power(x, 0.0) * x, ((4,),), id="exponent-0"),
       Case(lambda x: x ** 3, ((4,),), ("positive",), id="cube-complex", dtype="complex")],
    # float_power computes in float64: cast back so that the float32 check sees its own dtype.
    "float_power": [Case(lambda x, y: np.astype(np.float_power(x, y), x.dtype), pair, ("positive", "real"), id=f"{pair}")
                    for pair in (((3, 4), (3, 4)), ((3, 1), (4,)))],
    "exp": real_and_complex(np.exp),
    "exp2": real_and_complex(np.exp2),
    "log": real_and_complex(np.log, "positive"),
    "log2": real_and_complex(np.log2, "positive"),
    "log10": real_and_complex(np.log10, "positive"),
    "log1p": unary(np.log1p, "above_minus_one"),
    "expm1": unary(np.expm1),
    "sqrt": real_and_complex(np.sqrt, "positive"),
    "cbrt": unary(np.cbrt, "nonzero"),
    "abs": real_and_complex(np.abs, "nonzero"),
    "fabs": unary(np.fabs, "nonzero"),
    "positive": real_and_complex(np.positive),
    "square": real_and_complex(np.square),
    "reciprocal": real_and_complex(np.reciprocal, "nonzero"),
    "sin": real_and_complex(np.sin),
    "cos": real_and_complex(np.cos),
    "tanh": real_and_complex(np.tanh),
    "tan": real_and_complex(np.tan, "unit"),
    "arcsin": real_and_complex(np.arcsin, "unit"),
    "arccos": real_and_complex(np.arccos, "unit"),
    "arctan": real_and_complex(np.arctan, "real", "unit"),
    "arctan2": binary(np.arctan2, ("nonzero", "real")),
    "sinh": real_and_complex(np.sinh),
    "cosh": real_and_complex(np.cosh),
    "arcsinh": real_and_complex(np.arcsinh, "real", "unit"),
    "arccosh": real_and_complex(np.arccosh, "above_one"),
    "arctanh": real_and_complex(np.arctanh, "unit"),
    "hypot": binary(np.hypot, ("nonzero", "real")),
    # Near 0 the derivative is a Taylor series: arguments there check it and its own derivative.
    "sinc": real_and_complex(np.sinc) + [Case(lambda x: np.sinc(x * 0.1), ((5,),), id="near-zero"),
                                         Case(lambda x: np.sinc(x * 0.1), ((5,),), id="near-zero-complex", dtype="complex")],
    "deg2rad": unary(np.deg2rad),
    "rad2deg": unary(np.rad2deg),
    # The poles of the complex sigmoid are at i pi (2k + 1).
    "sigmoid": real_and_complex(np.sigmoid, "real", "unit"),
    "logaddexp": binary(np.logaddexp) + [Case(lambda x: np.logaddexp(x, 0.0), ((5,),), id="constant")],
    "logaddexp2": binary(np.logaddexp2),
    "maximum": binary(np.maximum),
    "minimum": binary(np.minimum),
    "fmax": binary(np.fmax),
    "fmin": binary(np.fmin),
    "remainder": binary(np.remainder, ("real", "positive")) + [Case(lambda x, y: x % y, ((3, 4), (4,)), ("real", "nonzero"),
                                                                     id="operator-negative-divisor")],
    "fmod": binary(np.fmod, ("real", "positive")) + [Case(np.fmod, ((3, 4), (4,)), ("real", "nonzero"), id="negative-divisor")],
    "copysign": binary(np.copysign, ("nonzero", "nonzero")),
    "nan_to_num": real_and_complex(np.nan_to_num),
    # Complex numbers with imaginary parts stay complex; real ones (imaginary part 0) become real.
    "real_if_close": unary(np.real_if_close, dtype="complex") + [
        Case(lambda x: np.real_if_close(x + 0j) * x, ((4,),), id="real-result")],
    "where": [
        Case(lambda x, y: np.where(x > 0, x, y), ((3, 4), (3, 4)), id="same"),
        Case(lambda x, y: np.where(x > 0, x * 2, y), ((3, 4), (4,)), id="broadcast"),
    ],
    "clip": [
        Case(lambda x: np.clip(x, -0.5, 0.7), ((4, 5),), id="both"),
        Case(lambda x: np.clip(x, None, 0.3), ((6,),), id="upper"),
        Case(lambda x: np.clip(x, min=-0.3), ((6,),), id="min-keyword"),
        # Array bounds with derivatives of their own, broadcasting; then a_min > a_max (the result is a_max).
        Case(lambda x, lo, hi: np.clip(x, lo, hi), ((3, 4), (4,), (3, 1)), ("real", "unit", "above_one"), id="tensor-bounds"),
        Case(lambda x, lo, hi: np.clip(x, lo, hi), ((3, 4), (4,), (3, 1)), ("real", "above_one", "unit"), id="swapped-bounds"),
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
