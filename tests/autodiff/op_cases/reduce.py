"""Reductions (``autodiff/ops/reduce.py``): sums, means, variances, extrema, logsumexp, nan-versions."""

from dataclasses import dataclass

import numpy

import nablanet.numpy as np
from op_cases import Case, reductions


@dataclass
class WithNaN(Case):
    """A case whose first input has NaNs at ``nans`` (flat indices), for the NaN-ignoring functions."""

    nans: tuple = (1, 6)

    def arrays(self, rng):
        arrays = super().arrays(rng)
        first = arrays[0].copy()
        first.flat[list(self.nans)] = numpy.nan
        return [first, *arrays[1:]]


def nan_reductions(fn, domain="real"):
    return [WithNaN(lambda x: fn(x), ((3, 4),), (domain,), id="all"),
            WithNaN(lambda x: fn(x, axis=1), ((3, 4),), (domain,), id="axis1"),
            WithNaN(lambda x: fn(x, axis=0, keepdims=True), ((3, 4),), (domain,), id="axis0-keep")]


def complex_reductions(fn, domain="real"):
    return [Case(lambda x: fn(x), ((3, 4),), (domain,), id="all-complex", dtype="complex"),
            Case(lambda x: fn(x, axis=1), ((3, 4),), (domain,), id="axis1-complex", dtype="complex")]


POSITIVE_MASK = numpy.array([[True, False, True, True], [False, True, True, False], [True, True, False, True]])

CASES = {
    "sum": reductions(np.sum) + complex_reductions(np.sum) + [
        Case(lambda x: np.sum(x, axis=1, initial=2.0, where=POSITIVE_MASK), ((3, 4),), id="initial-where"),
        Case(lambda x: np.sum(x, axis=()), ((3, 4),), id="no-axes"),
        Case(lambda x: np.sum(x, axis=0), ((),), id="scalar-axis0"),
    ],
    "mean": reductions(np.mean) + complex_reductions(np.mean) + [
        Case(lambda x: np.mean(x, axis=0, where=POSITIVE_MASK), ((3, 4),), id="where"),
        Case(lambda x: np.mean(x, axis=(0, 2)), ((2, 3, 4),), id="axes02"),
    ],
    "average": [
        Case(lambda x, w: np.average(x, weights=w), ((3, 4), (3, 4)), ("real", "positive"), id="full-weights"),
        Case(lambda x, w: np.average(x, axis=1, weights=w), ((3, 4), (4,)), ("real", "positive"), id="1d-weights"),
        Case(lambda x, w: np.average(x, axis=(2, 0), weights=w), ((2, 3, 4), (4, 2)), ("real", "positive"),
             id="axes-weights"),
        Case(lambda x, w: np.stack(np.average(x, axis=0, weights=w, returned=True)), ((3, 4), (3,)),
             ("real", "positive"), id="returned"),
        Case(lambda x: np.average(x, axis=1, keepdims=True), ((3, 4),), id="unweighted"),
        Case(lambda x, w: np.average(x, axis=1, weights=w), ((3, 4), (4,)), ("real", "positive"), id="complex",
             dtype="complex"),
    ],
    "var": reductions(np.var) + complex_reductions(np.var) + [
        Case(lambda x: np.var(x, axis=1, ddof=1), ((3, 4),), id="ddof1"),
        Case(lambda x: np.var(x, axis=0, correction=2, keepdims=True), ((5, 2),), id="correction2"),
        Case(lambda x: np.var(x, axis=1, where=POSITIVE_MASK), ((3, 4),), id="where"),
        Case(lambda x: np.var(x, axis=1, mean=np.mean(x, axis=1, keepdims=True) * 0.5), ((3, 4),), id="given-mean"),
        Case(lambda x: np.var(x, axis=1, ddof=1), ((3, 4),), id="ddof1-complex", dtype="complex"),
        Case(lambda x: np.var(x, axis=1), ((3, 1),), id="length-one-axis"),
    ],
    # A length-1 axis and a scalar: std is identically 0 there, so every derivative is 0 (the NaN fix).
    "std": reductions(np.std) + complex_reductions(np.std) + [
        Case(lambda x: np.std(x, axis=0, ddof=1), ((4, 3),), id="ddof1"),
        Case(lambda x: np.std(x, axis=1) + np.std(x * x, axis=1, keepdims=True), ((3, 1),), id="length-one-axis"),
        Case(lambda x: np.std(x) * x, ((),), id="scalar"),
        Case(lambda x: np.std(x, axis=(0, 2), ddof=1), ((2, 3, 2),), id="axes-complex", dtype="complex"),
    ],
    "max": reductions(np.max, "distinct") + [
        Case(lambda x: np.max(x, axis=1, initial=-10.0, where=POSITIVE_MASK), ((3, 4),), ("distinct",), id="where"),
        Case(lambda x: np.max(x, axis=0, initial=0.1), ((3, 4),), ("distinct",), id="initial"),
        Case(lambda x: np.max(x, axis=1), ((3, 4),), ("distinct",), id="complex", dtype="complex"),
    ],
    "min": reductions(np.min, "distinct") + [
        Case(lambda x: np.min(x, axis=0, initial=10.0, where=POSITIVE_MASK), ((3, 4),), ("distinct",), id="where"),
        Case(lambda x: np.min(x), ((3, 4),), ("distinct",), id="complex", dtype="complex"),
    ],
    "ptp": reductions(np.ptp, "distinct") + [Case(lambda x: np.ptp(x, axis=0), ((3, 4),), ("distinct",),
                                                  id="complex", dtype="complex")],
    "logsumexp": reductions(np.logsumexp) + complex_reductions(np.logsumexp),
    "softmax": [Case(lambda x, a=a: np.softmax(x, axis=a), ((3, 4),), id=f"axis{a}") for a in (0, 1)],
    "log_softmax": [Case(lambda x, a=a: np.log_softmax(x, axis=a), ((3, 4),), id=f"axis{a}") for a in (0, -1)],
    "nansum": nan_reductions(np.nansum) + [WithNaN(lambda x: np.nansum(x, axis=1), ((3, 4),), id="complex",
                                                   dtype="complex")],
    "nanmean": nan_reductions(np.nanmean),
    "nanvar": nan_reductions(np.nanvar) + [WithNaN(lambda x: np.nanvar(x, axis=1, ddof=1), ((3, 4),), id="ddof1")],
    "nanstd": nan_reductions(np.nanstd) + [WithNaN(lambda x: np.nanstd(x, axis=0), ((3, 4),), id="complex",
                                                   dtype="complex")],
    "nanmax": nan_reductions(np.nanmax, "distinct"),
    "nanmin": nan_reductions(np.nanmin, "distinct"),
}
