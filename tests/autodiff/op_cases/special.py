"""Special functions (``autodiff/ops/special.py``, the namespace ``nablanet.scipy.special``).

Inputs are drawn inside each function's smooth region (affine maps in the lambdas move a sampling
domain where needed: ndtri and logit on (0.1, 0.9), erfcinv on (0.2, 1.8), gamma left of 0 between
its poles). Arguments that are not differentiated (Bessel orders, gammainc's a, zeta's x) are
constants closed over, broadcast against the differentiated one. Op names and namespace names
have different cases: the op's basic shapes under its name, other regions, complex inputs and
broadcasting under "special.<name>".
"""

import numpy

import nablanet.numpy as np
from nablanet.scipy import special
from op_cases import Case, binary, unary

# Orders (3, 1) against points (4,): broadcasting of a constant first argument. In float32 (the
# values are exact in it), as SciPy computes in float64 when any argument is (and for a Python
# float beside float32 in the ufuncs whose first loop is float64: gammainc, xlogy, beta, ...).
ORDERS = numpy.array([[0.0], [0.5], [2.0]], dtype=numpy.float32)
SHAPES = numpy.array([[0.5], [1.0], [2.5]], dtype=numpy.float32)
EXPONENTS = numpy.array([[2.0], [3.5]], dtype=numpy.float32)
SIGNS = numpy.array([1.0, -0.3, 1.0], dtype=numpy.float32)
ONE = ((4,),)


def _left_of_zero(fn):
    """fn on (-1.74, -1.26), between the poles -2 and -1 of Gamma (x drawn from "unit")."""
    return lambda x: fn(x * 0.3 - 1.5)


CASES = {
    "erf": unary(np.erf),
    "special.erf": unary(special.erf, shapes=((4,),), dtype="complex"),
    "erfc": unary(special.erfc),
    "special.erfc": unary(special.erfc, shapes=((4,),), dtype="complex"),
    "erfcx": unary(special.erfcx),
    "special.erfcx": unary(special.erfcx, shapes=((4,),), dtype="complex"),
    "erfinv": unary(special.erfinv, "unit"),
    "special.erfinv": unary(special.erfinv, "unit", shapes=((2, 3),)),
    "erfcinv": unary(lambda x: special.erfcinv(1.0 + x), "unit"),
    "special.erfcinv": unary(lambda x: special.erfcinv(1.0 + x), "unit", shapes=((2, 3),)),
    "gammaln": unary(special.gammaln, "positive"),
    "special.gammaln": unary(_left_of_zero(special.gammaln), "unit", shapes=((4,),)),
    "polygamma": unary(lambda x: special.polygamma(2, x), "positive"),
    "special.polygamma": [Case(lambda x: special.polygamma(numpy.array([[0], [1], [3]]), x), ONE, ("positive",),
                               id="orders-broadcast")],
    "special.digamma": unary(special.digamma, "positive"),
    "special.psi": unary(_left_of_zero(special.psi), "unit", shapes=((4,),)),
    "gamma": unary(special.gamma, "positive"),
    "special.gamma": unary(_left_of_zero(special.gamma), "unit", shapes=((4,),)),
    "rgamma": unary(special.rgamma, "positive"),
    # Across the pole of Gamma at -1 and the reflected branch (x < 1/2), where 1/Gamma stays smooth.
    "special.rgamma": unary(lambda x: special.rgamma(x * 0.6 - 0.9), "unit", shapes=((5,),)),
    "beta": binary(special.beta, ("positive", "positive")),
    "special.beta": [Case(special.beta, ((3, 1), (4,)), ("positive",), id="broadcast")],
    "betaln": binary(special.betaln, ("positive", "positive")),
    "special.betaln": [Case(special.betaln, ((2, 3), (3,)), ("positive",), id="broadcast")],
    "special.multigammaln": [Case(lambda a: special.multigammaln(a + 2.0, 3), ((4,),), ("positive",), id="d3"),
                             Case(lambda a: special.multigammaln(a, 1), ((),), ("positive",), id="d1")],
    "ndtr": unary(special.ndtr),
    "special.ndtr": unary(special.ndtr, shapes=((4,),), dtype="complex"),
    "ndtri": unary(lambda p: special.ndtri(0.5 + 0.5 * p), "unit"),
    "special.ndtri": unary(lambda p: special.ndtri(0.5 + 0.5 * p), "unit", shapes=((2, 3),)),
    "log_ndtr": unary(special.log_ndtr),
    "special.log_ndtr": [Case(special.log_ndtr, ONE, id="complex", dtype="complex"),
                         Case(lambda x: special.log_ndtr(x - 12.0), ONE, id="lower-tail")],
    "expit": unary(special.expit),
    "special.expit": [Case(lambda x: special.expit(20.0 * x), ONE, id="saturating")],
    "logit": unary(lambda p: special.logit(0.5 + 0.5 * p), "unit"),
    "special.logit": unary(lambda p: special.logit(0.5 + 0.5 * p), "unit", shapes=((2, 3),)),
    "log_expit": unary(special.log_expit),
    "special.log_expit": [Case(lambda x: special.log_expit(20.0 * x), ONE, id="wide")],
    "special_expm1": unary(special.expm1),
    "special.expm1": unary(special.expm1, shapes=((4,),), dtype="complex"),
    "special_log1p": unary(special.log1p, "above_minus_one"),
    "special.log1p": unary(special.log1p, "positive", shapes=((4,),), dtype="complex"),
    "special_exp2": unary(special.exp2),
    "special.exp2": unary(special.exp2, shapes=((2, 3),)),
    "exp10": unary(special.exp10),
    "special.exp10": unary(special.exp10, shapes=((2, 3),)),
    "special_cbrt": unary(special.cbrt, "nonzero"),
    "special.cbrt": unary(special.cbrt, "nonzero", shapes=((2, 3),)),
    "xlogy": binary(special.xlogy, ("real", "positive")),
    "special.xlogy": binary(special.xlogy, ("positive", "positive"), dtype="complex")[:3],
    "xlog1py": binary(special.xlog1py, ("real", "above_minus_one")),
    "special.xlog1py": binary(special.xlog1py, ("positive", "positive"), dtype="complex")[:3],
    "entr": unary(special.entr, "positive"),
    "special.entr": unary(special.entr, "positive", shapes=((2, 3),)),
    "rel_entr": binary(special.rel_entr, ("positive", "positive")),
    "special.rel_entr": [Case(special.rel_entr, ((3, 1), (4,)), ("positive",), id="broadcast")],
    "special.kl_div": binary(special.kl_div, ("positive", "positive"))[:4],
    "i0": unary(special.i0),
    "special.i0": unary(lambda x: special.i0(5.0 * x), shapes=((4,),)),
    "i0e": unary(special.i0e, "nonzero"),
    "special.i0e": unary(lambda x: special.i0e(5.0 * x), "nonzero", shapes=((4,),)),
    "i1": unary(special.i1),
    "special.i1": unary(lambda x: special.i1(5.0 * x), shapes=((4,),)),
    "i1e": unary(special.i1e, "nonzero"),
    "special.i1e": unary(lambda x: special.i1e(5.0 * x), "nonzero", shapes=((4,),)),
    "iv": [Case(lambda z: special.iv(ORDERS, z), ONE, ("positive",), id="orders")],
    "special.iv": [Case(lambda z: special.iv(ORDERS, z), ONE, ("positive",), id="complex", dtype="complex"),
                   Case(lambda x: special.iv(3.0, x), ONE, id="integer-order-negative-x")],
    "ive": [Case(lambda z: special.ive(ORDERS, z), ONE, ("positive",), id="orders")],
    # Not holomorphic: the complex case checks the Re(z_dot) part of the rule.
    "special.ive": [Case(lambda z: special.ive(ORDERS, z), ONE, id="complex", dtype="complex"),
                    Case(lambda x: special.ive(2.0, x), ONE, ("nonzero",), id="integer-order-negative-x")],
    "kv": [Case(lambda z: special.kv(ORDERS, z), ONE, ("positive",), id="orders")],
    "special.kv": [Case(lambda z: special.kv(ORDERS, z), ONE, ("positive",), id="complex", dtype="complex")],
    "kve": [Case(lambda z: special.kve(ORDERS, z), ONE, ("positive",), id="orders")],
    "special.kve": [Case(lambda z: special.kve(ORDERS, z), ONE, ("positive",), id="complex", dtype="complex")],
    "j0": unary(special.j0),
    "special.j0": unary(lambda x: special.j0(5.0 * x), shapes=((4,),)),
    "j1": unary(special.j1),
    "special.j1": unary(lambda x: special.j1(5.0 * x), shapes=((4,),)),
    "jv": [Case(lambda z: special.jv(ORDERS, z), ONE, ("positive",), id="orders")],
    "special.jv": [Case(lambda z: special.jv(ORDERS, z), ONE, ("positive",), id="complex", dtype="complex")],
    "y0": unary(special.y0, "positive"),
    "special.y0": unary(lambda x: special.y0(3.0 * x), "positive", shapes=((4,),)),
    "y1": unary(special.y1, "positive"),
    "special.y1": unary(lambda x: special.y1(3.0 * x), "positive", shapes=((4,),)),
    "yv": [Case(lambda z: special.yv(ORDERS, z), ONE, ("positive",), id="orders")],
    "special.yv": [Case(lambda z: special.yv(ORDERS, z), ONE, ("positive",), id="complex", dtype="complex")],
    # A float order keeps float32 as SciPy's yn does (an int order makes SciPy return float64).
    "yn": [Case(lambda x: special.yn(2.0, x), ONE, ("positive",), id="order2")],
    "special.yn": [Case(lambda x: special.yn(-1.0, x), ONE, ("positive",), id="negative-order")],
    "gammainc": [Case(lambda x: special.gammainc(SHAPES, x), ONE, ("positive",), id="shapes")],
    "special.gammainc": [Case(lambda x: special.gammainc(numpy.float32(1.0), 3.0 * x), ((2, 3),), ("positive",),
                              id="exponential")],
    "gammaincc": [Case(lambda x: special.gammaincc(SHAPES, x), ONE, ("positive",), id="shapes")],
    # x in (0.1, 0.9), away from the ends where the density's powers are singular for shapes below 1.
    "betainc": [Case(lambda x: special.betainc(numpy.float32(2.5), numpy.float32(0.7), 0.1 + 0.8 * special.expit(x)), ((2, 3),), id="shapes")],
    "special.betainc": [Case(lambda x: special.betainc(numpy.array([1.5, 3.0, 0.8], dtype=numpy.float32), numpy.float32(2.0), 0.1 + 0.8 * special.expit(x)),
                             ((2, 3),), id="broadcast-shapes")],
    "special.gammaincc": [Case(lambda x: special.gammaincc(numpy.float32(4.0), 3.0 * x), ((2, 3),), ("positive",),
                               id="a4")],
    "zeta": [Case(lambda q: special.zeta(EXPONENTS, q), ONE, ("positive",), id="hurwitz")],
    "special.zeta": [Case(lambda q: special.zeta(3.0, q + 2.0), ((2, 3),), ("positive",), id="hurwitz-far")],
    "special_logsumexp": [
        Case(special.logsumexp, ((3, 4),), id="all"),
        Case(special.logsumexp, ((),), id="0d"),
        Case(lambda a: special.logsumexp(a, axis=1), ((3, 4),), id="axis1"),
        Case(lambda a: special.logsumexp(a, axis=(0, 2), keepdims=True), ((2, 3, 2),), id="axes-keepdims"),
        Case(lambda a, b: special.logsumexp(a, axis=0, b=b), ((3, 4), (4,)), ("real", "positive"), id="weights"),
    ],
    "special.logsumexp": [
        Case(lambda a, b: special.logsumexp(a, axis=-1, b=b * SIGNS, return_sign=True)[0],
             ((2, 3), (2, 3)), ("real", "positive"), id="signed-weights"),
        Case(lambda a: special.logsumexp(a, axis=1), ((2, 3),), id="complex", dtype="complex"),
        Case(lambda a: special.logsumexp(a, return_sign=True)[0], ((2, 3),), id="complex-modulus", dtype="complex"),
    ],
    "special.softmax": [Case(special.softmax, ((3, 4),), id="all"),
                        Case(lambda x: special.softmax(x, axis=1), ((3, 4),), id="axis1"),
                        Case(lambda x: special.softmax(x, axis=0), ((2, 3),), id="complex", dtype="complex")],
    "special.log_softmax": [Case(special.log_softmax, ((3, 4),), id="all"),
                            Case(lambda x: special.log_softmax(x, axis=(0, 1)), ((2, 2, 3),), id="axes"),
                            Case(lambda x: special.log_softmax(x, axis=1), ((2, 3),), id="complex", dtype="complex")],
}

# The Riemann zeta function's one argument has no derivative here: asking for it raises
# (test_special.py::test_refused_derivatives_name_their_argument).
FORWARD_ONLY_OPS = {"riemann_zeta"}
