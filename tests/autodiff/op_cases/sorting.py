"""Sorting and order statistics (``autodiff/ops/sorting.py``), on inputs without ties ("distinct"):
there the permutation is locally constant and finite differences apply. Ties are tested in
``test_reduce.py`` against torch's conventions."""

import numpy

import nablanet.numpy as np
from op_cases import Case
from op_cases.reduce import WithNaN


def _quantile_q(q):
    # A q in (0.31, 0.39): (n - 1) q stays within (3.4, 4.3) for n = 12, away from the kinks at integers.
    return 0.35 + 0.04 * np.tanh(q)


def _q(values, x):
    # q in x's precision: a float64 q array would make NumPy's result float64 (a weak Python float would not).
    return numpy.asarray(values, dtype=x.dtype)


DISTINCT = ("distinct",)

CASES = {
    "sort": [
        Case(np.sort, ((3, 5),), DISTINCT, id="last-axis"),
        Case(lambda x: np.sort(x, axis=0), ((4, 3),), DISTINCT, id="axis0"),
        Case(lambda x: np.sort(x, axis=None), ((3, 4),), DISTINCT, id="flattened"),
        Case(lambda x: np.sort(x, axis=1, kind="heapsort"), ((2, 3, 4),), DISTINCT, id="3d"),
        Case(np.sort, ((6,),), DISTINCT, id="complex", dtype="complex"),
    ],
    "partition": [
        Case(lambda x: np.partition(x, 2), ((3, 6),), DISTINCT, id="kth2"),
        Case(lambda x: np.partition(x, [0, -1], axis=0), ((5, 3),), DISTINCT, id="kth-sequence"),
        Case(lambda x: np.partition(x, 3, axis=None), ((3, 4),), DISTINCT, id="flattened"),
        Case(lambda x: np.partition(x, 1), ((5,),), DISTINCT, id="complex", dtype="complex"),
    ],
    # NumPy returns complex128 for real input of any precision: taken back to x's precision, and to its
    # real part, for the dtype test (which differentiates real cases as real-valued functions).
    "sort_complex": [Case(lambda x: np.real(np.astype(np.sort_complex(x), numpy.result_type(x.dtype, numpy.complex64))),
                          ((5,),), DISTINCT, id="real-input"),
                     Case(np.sort_complex, ((2, 4),), DISTINCT, id="complex", dtype="complex")],
    "median": [
        Case(np.median, ((5,),), DISTINCT, id="odd"),
        Case(np.median, ((3, 4),), DISTINCT, id="even"),
        Case(lambda x: np.median(x, axis=1, keepdims=True), ((3, 4),), DISTINCT, id="axis1-keep"),
        Case(lambda x: np.median(x, axis=(0, 2)), ((3, 2, 3),), DISTINCT, id="axes02"),
        Case(lambda x: np.median(x, axis=0), ((3, 2),), DISTINCT, id="complex", dtype="complex"),
    ],
    "quantile": [
        Case(lambda x: np.quantile(x, 0.3), ((12,),), DISTINCT, id="scalar-q"),
        Case(lambda x: np.quantile(x, _q([0.1, 0.45, 1.0], x), axis=1), ((3, 7),), DISTINCT, id="q-vector"),
        Case(lambda x: np.quantile(x, _q([[0.2], [0.7]], x), axis=0, keepdims=True), ((5, 2),), DISTINCT, id="q-matrix-keep"),
        Case(lambda x, q: np.quantile(x, _quantile_q(q)), ((12,), ()), ("distinct", "real"), id="q-differentiated"),
        *[Case(lambda x, m=m: np.quantile(x, _q([0.15, 0.6], x), axis=-1, method=m), ((2, 9),), DISTINCT, id=m)
          for m in ("lower", "higher", "nearest", "midpoint", "hazen", "weibull", "median_unbiased",
                    "normal_unbiased", "interpolated_inverted_cdf", "averaged_inverted_cdf")],
    ],
    "percentile": [
        Case(lambda x: np.percentile(x, 30, axis=0), ((12, 2),), DISTINCT, id="axis0"),
        Case(lambda x, q: np.percentile(x, 100 * _quantile_q(q)), ((12,), ()), ("distinct", "real"), id="q-differentiated"),
    ],
    "nanmedian": [WithNaN(lambda x: np.nanmedian(x, axis=1), ((3, 5),), DISTINCT, id="axis1", nans=(1, 6, 8)),
                  WithNaN(np.nanmedian, ((3, 4),), DISTINCT, id="all")],
    "nanquantile": [WithNaN(lambda x: np.nanquantile(x, _q([0.25, 0.8], x), axis=1), ((3, 6),), DISTINCT, id="axis1",
                            nans=(1, 7, 8))],
    "nanpercentile": [WithNaN(lambda x: np.nanpercentile(x, 35.0, axis=0), ((5, 3),), DISTINCT, id="axis0")],
}
