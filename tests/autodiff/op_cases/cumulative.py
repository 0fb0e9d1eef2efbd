"""Products, running totals, differences and integrals of samples (``autodiff/ops/cumulative.py``).

Products are also checked at exact zeros (one zero, two zeros), where the division-based rule fails:
a product is a polynomial, so finite differences hold there as anywhere. Where a derivative is
identically 0 (two or more zeros) a linear term is added, so that the relative error of the finite
difference is measured against a nonzero derivative rather than against its own truncation error.
"""

from dataclasses import dataclass

import numpy

import nablanet.numpy as np
from op_cases import Case, reductions
from op_cases.reduce import WithNaN


@dataclass
class WithZeros(Case):
    """A case whose first input is exactly 0 at ``zeros`` (flat indices)."""

    zeros: tuple = (1,)

    def arrays(self, rng):
        arrays = super().arrays(rng)
        first = arrays[0].copy()
        first.flat[list(self.zeros)] = 0.0
        return [first, *arrays[1:]]


def cumulative(fn):
    return [Case(lambda x: fn(x), ((3, 4),), id="flat"), Case(lambda x: fn(x, axis=0), ((3, 4),), id="axis0"),
            Case(lambda x: fn(x, axis=-1), ((2, 3, 4),), id="axis-1"), Case(lambda x: fn(x), ((),), id="scalar"),
            Case(lambda x: fn(x, axis=1), ((3, 5),), id="complex", dtype="complex")]


MASK = numpy.array([[True, False, True, True], [False, True, True, False], [True, True, False, True]])
STEPS = numpy.array([0.0, 0.5, 1.7, 2.0, 3.1])

CASES = {
    "prod": reductions(np.prod) + [
        WithZeros(np.prod, ((5,),), zeros=(2,), id="one-zero"),
        WithZeros(lambda x: np.prod(x) + np.sum(x), ((5,),), zeros=(0, 3), id="two-zeros"),
        WithZeros(lambda x: np.prod(x) + np.sum(x), ((5,),), zeros=(0, 2, 3), id="three-zeros"),
        WithZeros(lambda x: np.prod(x, axis=1), ((3, 4),), zeros=(1, 4, 5, 11), id="rows-with-zeros"),
        WithZeros(lambda x: np.prod(x, axis=(0, 2)), ((2, 3, 2),), zeros=(0, 5), id="axes02-zeros"),
        Case(lambda x: np.prod(x, axis=1, initial=2.0, where=MASK), ((3, 4),), id="initial-where"),
        Case(lambda x: np.prod(x, axis=0), ((3, 4),), id="complex", dtype="complex"),
        WithZeros(lambda x: np.prod(x, axis=1), ((2, 3),), zeros=(1,), id="zero-complex", dtype="complex"),
        Case(lambda x: np.prod(x), ((),), id="scalar"),
    ],
    "cumsum": cumulative(np.cumsum),
    "cumprod": cumulative(np.cumprod) + [
        WithZeros(np.cumprod, ((6,),), zeros=(2,), id="one-zero"),
        WithZeros(np.cumprod, ((6,),), zeros=(1, 4), id="two-zeros"),
        WithZeros(lambda x: np.cumprod(x, axis=1), ((2, 7),), zeros=(0, 3, 9), id="rows-with-zeros"),
        WithZeros(np.cumprod, ((5,),), zeros=(3,), id="zero-complex", dtype="complex"),
    ],
    "cumulative_sum": [Case(lambda x: np.cumulative_sum(x, axis=1, include_initial=True), ((3, 4),), id="initial"),
                       Case(np.cumulative_sum, ((5,),), id="1d")],
    "cumulative_prod": [WithZeros(lambda x: np.cumulative_prod(x, axis=0, include_initial=True), ((3, 2),),
                                  zeros=(2,), id="initial")],
    "nanprod": [WithNaN(lambda x: np.nanprod(x, axis=1), ((3, 4),), id="axis1"), WithNaN(np.nanprod, ((3, 4),), id="all")],
    "nancumsum": [WithNaN(np.nancumsum, ((3, 4),), id="flat"), WithNaN(lambda x: np.nancumsum(x, axis=0), ((3, 4),), id="axis0")],
    "nancumprod": [WithNaN(np.nancumprod, ((3, 4),), id="flat"), WithNaN(lambda x: np.nancumprod(x, axis=1), ((3, 4),), id="axis1")],
    "diff": [
        Case(np.diff, ((3, 4),), id="default"),
        Case(lambda x: np.diff(x, n=2, axis=0), ((4, 3),), id="n2-axis0"),
        Case(lambda x: np.diff(x, n=3), ((6,),), id="n3"),
        Case(lambda x, p, q: np.diff(x, prepend=p, append=q), ((3, 4), (3, 2), ()), id="prepend-append"),
        Case(lambda x, p: np.diff(x, axis=0, prepend=p), ((3, 4), ()), id="scalar-prepend"),
        Case(lambda x: np.diff(x, axis=1), ((2, 4),), id="complex", dtype="complex"),
    ],
    "ediff1d": [
        Case(np.ediff1d, ((3, 4),), id="default"),
        Case(lambda x, b: np.ediff1d(x, to_begin=b, to_end=[1.0, 2.0]), ((5,), (2,)), id="ends"),
    ],
    "gradient": [
        Case(np.gradient, ((6,),), id="default"),
        Case(lambda f: np.gradient(f, 0.3, edge_order=2), ((6,),), id="step-edge2"),
        Case(lambda f, x: np.gradient(f, np.cumsum(x)), ((5,), (5,)), ("real", "positive"), id="coordinates"),
        Case(lambda f, x: np.gradient(f, np.cumsum(x), edge_order=2), ((5,), (5,)), ("real", "positive"),
             id="coordinates-edge2"),
        Case(lambda f: np.stack(np.gradient(f, 2.0, STEPS[:4] ** 2)), ((5, 4),), id="2d"),
        Case(lambda f: np.gradient(f, axis=-1, edge_order=2), ((2, 3, 4),), id="axis"),
        Case(lambda f: np.gradient(f, 0.5), ((5,),), id="complex", dtype="complex"),
    ],
    "trapezoid": [
        Case(np.trapezoid, ((3, 4),), id="default"),
        Case(lambda y: np.trapezoid(y, dx=0.25, axis=0), ((3, 4),), id="dx-axis0"),
        Case(lambda y, x: np.trapezoid(y, x=np.cumsum(x)), ((3, 5), (5,)), ("real", "positive"), id="1d-x"),
        Case(lambda y, x: np.trapezoid(y, x=x, axis=0), ((4, 3), (4, 3)), id="full-x"),
        Case(lambda y: np.trapezoid(y, x=STEPS.astype(numpy.finfo(y.dtype).dtype)), ((5,),), id="complex", dtype="complex"),
    ],
}
