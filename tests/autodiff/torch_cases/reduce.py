"""Reductions, cumulative functions and sorting against torch (values, VJPs and JVPs).

Where the conventions differ the comparison is of what both define alike: torch.median picks the
lower middle value for an even count, so medians are compared with torch.quantile(0.5); partition's
arrangement is NumPy's own, so its kth values are compared with torch.kthvalue and its top entries
with torch.topk. Sorting compares inputs without ties ("distinct"); ties are tested in test_reduce.py.
"""

import numpy
import torch

import nablanet.numpy as np
from torch_cases import TorchCase

M = ((3, 4),)
ODD = ((3, 5),)
DISTINCT = ("distinct",)
MASK = numpy.array([[True, False, True, True, True], [True, True, True, False, True], [False, True, True, True, True]])
COORDINATES = numpy.array([0.0, 0.4, 1.5, 1.9, 3.0])


def _with_nans(x):
    return np.where(MASK, x, numpy.nan)


def _torch_with_nans(x):
    return torch.where(torch.as_tensor(MASK), x, torch.nan)


def _q(values):
    return torch.tensor(values, dtype=torch.float64)


TORCH_CASES = [
    TorchCase(("sum",), lambda x: np.sum(x, axis=(0, 2), keepdims=True), lambda x: torch.sum(x, dim=(0, 2), keepdim=True),
              ((2, 3, 4),), id="sum-axes"),
    TorchCase(("sum", "mean"), lambda x: np.mean(x, axis=0) + np.sum(x, axis=0), lambda x: x.mean(0) + x.sum(0), M,
              dtype="complex", id="sum-mean-complex"),
    TorchCase(("mean",), lambda x: np.mean(x, axis=-1, keepdims=True), lambda x: torch.mean(x, dim=-1, keepdim=True), M,
              id="mean"),
    TorchCase(("average",), lambda x, w: np.average(x, axis=1, weights=w), lambda x, w: (x * w).sum(1) / w.sum(), ((3, 4), (4,)),
              ("real", "positive"), id="average-weights"),
    TorchCase(("var",), lambda x: np.var(x, axis=1, ddof=1), lambda x: torch.var(x, dim=1, correction=1), M, id="var-ddof1"),
    TorchCase(("var",), lambda x: np.var(x, axis=0), lambda x: torch.var(x, dim=0, correction=0), M, dtype="complex",
              id="var-complex"),
    TorchCase(("std",), lambda x: np.std(x, axis=(0, 1), ddof=2), lambda x: torch.std(x, dim=(0, 1), correction=2),
              ((3, 4, 2),), id="std-ddof2"),
    TorchCase(("std",), lambda x: np.std(x, axis=1), lambda x: torch.std(x, dim=1, correction=0), M, dtype="complex",
              id="std-complex"),
    TorchCase(("max", "amax"), lambda x: np.max(x, axis=1), lambda x: torch.amax(x, dim=1), M, DISTINCT, id="max"),
    TorchCase(("min", "amin"), lambda x: np.amin(x, axis=0, keepdims=True), lambda x: torch.amin(x, dim=0, keepdim=True),
              M, DISTINCT, id="min"),
    TorchCase(("ptp",), lambda x: np.ptp(x, axis=1), lambda x: torch.amax(x, dim=1) - torch.amin(x, dim=1), M, DISTINCT,
              id="ptp"),
    TorchCase(("logsumexp",), lambda x: np.logsumexp(x, axis=1), lambda x: torch.logsumexp(x, dim=1), M, dtype="complex",
              id="logsumexp-complex"),
    TorchCase(("prod",), lambda x: np.prod(x, axis=1), lambda x: torch.prod(x, dim=1), M, id="prod-axis"),
    TorchCase(("prod",), np.prod, torch.prod, ((2, 3),), dtype="complex", id="prod-complex"),
    TorchCase(("cumsum",), lambda x: np.cumsum(x, axis=1), lambda x: torch.cumsum(x, dim=1), M, id="cumsum"),
    TorchCase(("cumsum",), np.cumsum, lambda x: torch.cumsum(x.flatten(), 0), M, dtype="complex", id="cumsum-flat-complex"),
    TorchCase(("cumprod",), lambda x: np.cumprod(x, axis=0), lambda x: torch.cumprod(x, dim=0), ((5, 3),), id="cumprod"),
    TorchCase(("cumprod",), lambda x: np.cumprod(x, axis=1), lambda x: torch.cumprod(x, dim=1), M, dtype="complex",
              id="cumprod-complex"),
    TorchCase(("cumulative_sum", "cumulative_prod"),
              lambda x: (np.cumulative_sum(x, axis=1), np.cumulative_prod(x, axis=0)),
              lambda x: (torch.cumsum(x, dim=1), torch.cumprod(x, dim=0)), M, id="cumulative"),
    TorchCase(("diff",), lambda x: np.diff(x, n=2, axis=0), lambda x: torch.diff(x, n=2, dim=0), ((5, 3),), id="diff-n2"),
    TorchCase(("diff",), lambda x, p, a: np.diff(x, prepend=p, append=a),
              lambda x, p, a: torch.diff(x, prepend=p, append=a), ((3, 4), (3, 1), (3, 2)), id="diff-prepend-append"),
    TorchCase(("ediff1d",), np.ediff1d, lambda x: torch.diff(x.flatten()), M, id="ediff1d"),
    TorchCase(("gradient",), lambda f: np.gradient(f, 0.5, axis=1), lambda f: torch.gradient(f, spacing=0.5, dim=1)[0],
              M, id="gradient-step"),
    TorchCase(("gradient",), lambda f: np.gradient(f, COORDINATES, edge_order=2),
              lambda f: torch.gradient(f, spacing=(torch.as_tensor(COORDINATES),), edge_order=2)[0], ((5,),),
              id="gradient-coordinates"),
    TorchCase(("gradient",), lambda f: np.gradient(f), lambda f: torch.gradient(f), M, id="gradient-2d"),
    TorchCase(("trapezoid",), lambda y, x: np.trapezoid(y, x=x, axis=0), lambda y, x: torch.trapezoid(y, x=x, dim=0),
              ((4, 3), (4, 3)), id="trapezoid-x"),
    TorchCase(("trapezoid",), lambda y: np.trapezoid(y, dx=0.5), lambda y: torch.trapezoid(y, dx=0.5), M, id="trapezoid-dx"),
    TorchCase(("sort",), lambda x: np.sort(x, axis=0), lambda x: torch.sort(x, dim=0).values, M, DISTINCT, id="sort"),
    TorchCase(("sort",), lambda x: np.sort(x, axis=None), lambda x: torch.sort(x.flatten()).values, M, DISTINCT,
              id="sort-flat"),
    TorchCase(("partition",), lambda x: np.partition(x, 2, axis=1)[:, 2], lambda x: torch.kthvalue(x, 3, dim=1).values,
              ODD, DISTINCT, id="partition-kthvalue"),
    TorchCase(("partition",), lambda x: np.sort(np.partition(x, -2, axis=1)[:, -2:], axis=1),
              lambda x: torch.sort(torch.topk(x, 2, dim=1).values, dim=1).values, ODD, DISTINCT, id="partition-topk"),
    TorchCase(("median",), lambda x: np.median(x, axis=1), lambda x: torch.quantile(x, 0.5, dim=1), M, DISTINCT,
              id="median-even"),
    TorchCase(("median",), lambda x: np.median(x, axis=1), lambda x: torch.median(x, dim=1).values, ODD, DISTINCT,
              id="median-odd"),
    TorchCase(("quantile",), lambda x: np.quantile(x, [0.2, 0.9], axis=1), lambda x: torch.quantile(x, _q([0.2, 0.9]), dim=1),
              ODD, DISTINCT, id="quantile"),
    *[TorchCase(("quantile",), lambda x, m=m: np.quantile(x, 0.3, axis=0, method=m, keepdims=True),
                lambda x, m=m: torch.quantile(x, 0.3, dim=0, interpolation=m, keepdim=True), ((6, 2),), DISTINCT,
                id=f"quantile-{m}") for m in ("lower", "higher", "midpoint", "nearest")],
    TorchCase(("percentile",), lambda x: np.percentile(x, 30), lambda x: torch.quantile(x.flatten(), 0.3), M, DISTINCT,
              id="percentile"),
    TorchCase(("nansum", "nanmean"), lambda x: (np.nansum(_with_nans(x), axis=1), np.nanmean(_with_nans(x), axis=0)),
              lambda x: (torch.nansum(_torch_with_nans(x), dim=1), torch.nanmean(_torch_with_nans(x), dim=0)), ODD,
              id="nansum-nanmean"),
    TorchCase(("nanmedian", "nanquantile", "nanpercentile"),
              lambda x: (np.nanmedian(_with_nans(x), axis=1), np.nanquantile(_with_nans(x), 0.3, axis=1),
                         np.nanpercentile(_with_nans(x), 70.0, axis=1)),
              lambda x: (torch.nanquantile(_torch_with_nans(x), 0.5, dim=1), torch.nanquantile(_torch_with_nans(x), 0.3, dim=1),
                         torch.nanquantile(_torch_with_nans(x), 0.7, dim=1)), ODD, DISTINCT, id="nan-order-statistics"),
]

NO_TORCH = {
    "nanmax": "torch has no NaN-ignoring maximum",
    "nanmin": "torch has no NaN-ignoring minimum",
    "nanvar": "torch has no NaN-ignoring variance",
    "nanstd": "torch has no NaN-ignoring standard deviation",
    "nanprod": "torch has no NaN-ignoring product",
    "nancumsum": "torch has no NaN-ignoring cumulative sum",
    "nancumprod": "torch has no NaN-ignoring cumulative product",
    "sort_complex": "torch.sort refuses complex tensors (NumPy orders them by real, then imaginary part)",
}
