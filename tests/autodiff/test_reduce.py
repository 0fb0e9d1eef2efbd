"""Reductions, cumulative functions and sorting: NumPy's semantics on odd shapes, conventions at ties
and zeros, refused inputs, and the std derivative over length-1 axes (NaN before it was fixed)."""

import warnings
from builtins import max as builtins_max

import numpy
import pytest
import torch

import nablanet
import nablanet.numpy as np
from nablanet import Tensor, grad, hessian, jvp
from nablanet.testing import check_grads

RNG = numpy.random.default_rng(0)
M = RNG.standard_normal((3, 4))
T3 = RNG.standard_normal((2, 3, 4))
V = RNG.standard_normal(5)
S = numpy.array(1.5)
E = numpy.zeros((0, 3))
Z = RNG.standard_normal((3, 4)) + 1j * RNG.standard_normal((3, 4))
TIES = numpy.array([[1.0, 2.0, 2.0, 0.5], [3.0, 3.0, 3.0, 1.0], [0.0, 1.0, 0.0, 1.0]])
WITH_NAN = numpy.array([[1.0, numpy.nan, 2.0, 5.0], [numpy.nan, numpy.nan, numpy.nan, numpy.nan], [3.0, 0.5, numpy.nan, 1.0]])
W = numpy.array([1.0, 2.0, 0.5, 3.0])
INTS = numpy.array([[3, 1, 2], [7, 5, 9]])

# (name, positional arguments, keyword arguments): nablanet.numpy.<name> must give numpy.<name>'s result.
SEMANTICS = [
    *[(name, (x,), kw) for name in ("sum", "prod", "max", "min", "amax", "amin", "mean", "var", "std", "ptp", "median")
      for x in (M, T3, S) for kw in ({}, {"keepdims": True})],
    *[(name, (T3,), {"axis": axis, "keepdims": keep}) for name in ("sum", "prod", "max", "mean", "var", "std", "median", "ptp")
      for axis in (0, -1, (0, 2), (-1, 0), ()) for keep in (False, True)],
    *[(name, (S,), {"axis": axis}) for name in ("sum", "prod", "max", "min") for axis in (0, -1, ())],
    *[(name, (E,), {"axis": 0}) for name in ("sum", "prod", "mean", "var", "median", "cumsum", "cumprod")],
    ("sum", (E,), {}), ("prod", (E,), {}), ("max", (E,), {"axis": 0, "initial": -1.0}),
    ("sum", (M,), {"dtype": numpy.float32}), ("sum", (M,), {"axis": 1, "initial": 2.0, "where": M > 0}),
    ("sum", (M.astype(numpy.float32),), {"initial": numpy.float64(1.0)}),
    ("prod", (M,), {"axis": 0, "initial": 2.0, "where": M > -0.5}),
    ("max", (M,), {"axis": 1, "initial": 0.0, "where": M < 1}),
    ("max", (M.astype(numpy.float32),), {"axis": 0, "initial": numpy.float64(0.5), "where": M < 1}), ("min", (M,), {"initial": -3.0}),
    ("mean", (M,), {"axis": 0, "where": M > 0}), ("mean", (INTS,), {}), ("mean", (INTS,), {"dtype": numpy.float32}),
    ("mean", (M.astype(numpy.float16),), {}), ("mean", (M.astype(numpy.float32),), {"axis": 1}),
    ("var", (M,), {"ddof": 1}), ("var", (M,), {"axis": 1, "correction": 2}), ("var", (V,), {"ddof": 7}),
    ("var", (M,), {"axis": 0, "where": M > -1}), ("std", (M,), {"axis": 1, "ddof": 1, "keepdims": True}),
    ("var", (M,), {"axis": 1, "mean": numpy.mean(M, axis=1, keepdims=True)}),
    ("var", (Z,), {}), ("var", (Z,), {"axis": 0, "ddof": 1}), ("std", (Z.astype(numpy.complex64),), {"axis": 1}),
    ("var", (INTS,), {"axis": 1}), ("mean", (Z,), {"axis": 1}), ("sum", (Z,), {}), ("prod", (Z,), {"axis": 0}),
    ("max", (Z,), {}), ("min", (Z,), {"axis": 1}), ("ptp", (Z,), {"axis": 0}), ("median", (Z,), {"axis": 1}),
    ("average", (M,), {}), ("average", (M,), {"axis": 1, "weights": W}), ("average", (M,), {"weights": M * M}),
    ("average", (M,), {"axis": 1, "weights": W, "returned": True}), ("average", (M,), {"axis": 0, "returned": True}),
    ("average", (T3,), {"axis": (2, 0), "weights": numpy.ones((4, 2))}), ("average", (INTS,), {"weights": INTS}),
    ("average", (M,), {"axis": 1, "keepdims": True, "weights": W}),
    *[(name, (WITH_NAN,), kw) for name in ("nansum", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin", "nanprod",
                                            "nanmedian") for kw in ({}, {"axis": 1}, {"axis": 0, "keepdims": True})],
    ("nanvar", (WITH_NAN,), {"axis": 1, "ddof": 1}), ("nanmax", (WITH_NAN,), {"axis": 1, "initial": 10.0}),
    ("nancumsum", (WITH_NAN,), {}), ("nancumsum", (WITH_NAN,), {"axis": 1}), ("nancumprod", (WITH_NAN,), {"axis": 0}),
    *[(name, (x,), kw) for name in ("cumsum", "cumprod") for x in (M, T3, S, Z)
      for kw in ({}, {"axis": 0}, {"axis": -1})],
    ("cumsum", (INTS,), {"axis": 1, "dtype": numpy.float32}), ("cumprod", (numpy.array([2.0, 0.0, 3.0]),), {}),
    ("cumulative_sum", (V,), {}), ("cumulative_sum", (M,), {"axis": 1, "include_initial": True}),
    ("cumulative_prod", (M,), {"axis": 0, "include_initial": True}),
    ("diff", (M,), {}), ("diff", (M,), {"n": 2, "axis": 0}), ("diff", (M,), {"n": 0}), ("diff", (V,), {"n": 4}),
    ("diff", (M,), {"prepend": 0.0, "append": M[:, :2]}), ("diff", (M,), {"axis": 0, "prepend": M[:1]}),
    ("diff", (M > 0,), {}), ("diff", (V,), {"n": 7}),
    ("ediff1d", (M,), {}), ("ediff1d", (V,), {"to_begin": [-1.0, -2.0], "to_end": 9.0}),
    ("gradient", (V,), {}), ("gradient", (V, 0.5), {}), ("gradient", (V, numpy.cumsum(RNG.uniform(0.5, 1, 5))), {}),
    ("gradient", (V, numpy.arange(5.0)), {}), ("gradient", (V,), {"edge_order": 2}),
    ("gradient", (V, numpy.cumsum(RNG.uniform(0.5, 1, 5))), {"edge_order": 2}), ("gradient", (M,), {}),
    ("gradient", (M, 2.0, numpy.arange(4.0) ** 2), {"edge_order": 2}), ("gradient", (T3,), {"axis": (0, -1)}),
    ("gradient", (M,), {"axis": 1}), ("gradient", (INTS,), {"axis": 1}), ("gradient", (M.astype(numpy.float32), numpy.float64(2.0)), {}),
    ("trapezoid", (M,), {}), ("trapezoid", (M,), {"dx": 0.5, "axis": 0}), ("trapezoid", (M,), {"x": numpy.arange(4.0) ** 2}),
    ("trapezoid", (M,), {"x": M ** 2, "axis": 0}), ("trapezoid", (V,), {"x": V[::-1]}),
    *[("sort", (x,), kw) for x in (M, T3, TIES, Z, WITH_NAN) for kw in ({}, {"axis": 0}, {"axis": None})],
    ("sort", (S,), {"axis": None}), ("sort", (M,), {"kind": "mergesort"}), ("sort", (M,), {"stable": True}),
    *[("partition", (x, kth), kw) for x in (M, TIES, WITH_NAN) for kth in (0, 2, -1, [0, 3])
      for kw in ({}, {"axis": None})],
    ("partition", (T3, 1), {"axis": 0}), ("partition", (Z, 1), {}),
    ("sort_complex", (V,), {}), ("sort_complex", (Z[0],), {}), ("sort_complex", (V.astype(numpy.float32),), {}),
    ("median", (V,), {}), ("median", (V[:4],), {}), ("median", (WITH_NAN,), {"axis": 1}), ("median", (INTS,), {}),
    ("median", (E,), {"axis": 1}), ("nanmedian", (WITH_NAN[:, :3],), {"axis": 1}),
    *[(name, (M, q), kw) for name, q in (("quantile", 0.3), ("quantile", [0.0, 0.25, 1.0]), ("percentile", 40),
                                          ("percentile", numpy.array([5.0, 95.0])))
      for kw in ({}, {"axis": 1}, {"axis": 0, "keepdims": True})],
    *[("quantile", (T3, [0.1, 0.5, 0.9]), {"method": method, "axis": (0, 2)})
      for method in ("linear", "lower", "higher", "nearest", "midpoint", "hazen", "weibull", "median_unbiased",
                     "normal_unbiased", "interpolated_inverted_cdf", "averaged_inverted_cdf")],
    ("quantile", (M, numpy.array([[0.2, 0.4], [0.6, 1.0]])), {"axis": 1}), ("quantile", (M, 1), {}),
    ("quantile", (INTS, 0.5), {}), ("quantile", (INTS, 1), {}), ("quantile", (INTS, 0.5), {"method": "lower"}),
    ("quantile", (M.astype(numpy.float32), 0.3), {}), ("quantile", (M.astype(numpy.float32), numpy.array([0.3])), {}),
    ("quantile", (WITH_NAN, 0.5), {"axis": 1}),
    *[(name, (WITH_NAN, q), kw) for name, q in (("nanquantile", 0.3), ("nanquantile", [0.2, 0.7]),
                                                 ("nanpercentile", 60.0))
      for kw in ({"axis": 1}, {"axis": 0, "keepdims": True}, {})],
    ("nanquantile", (WITH_NAN, 0.5), {"axis": 1, "method": "nearest"}),
    ("logsumexp", (M,), {"axis": 1}), ("count_nonzero", (M > 0,), {"axis": 0}), ("all", (M > -5,), {}),
    ("any", (M > 1,), {"axis": 1}), ("argpartition", (V, 2), {}), ("searchsorted", (numpy.sort(V), 0.1), {}),
    ("nanargmax", (WITH_NAN[0],), {}), ("nanargmin", (WITH_NAN[2],), {}),
]


def _numpy_result(name, args, kwargs):
    if name == "logsumexp":
        from scipy.special import logsumexp

        return logsumexp(*args, **kwargs)
    return getattr(numpy, name)(*args, **kwargs)


def _assert_same(ours, theirs, what):
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs), what
        for o, t in zip(ours, theirs):
            _assert_same(o, t, what)
        return
    ours = ours.data if isinstance(ours, Tensor) else numpy.asarray(ours)
    theirs = numpy.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape}, NumPy gives {theirs.shape}"
    assert ours.dtype == theirs.dtype, f"{what}: dtype {ours.dtype}, NumPy gives {theirs.dtype}"
    # Rounding may differ in the last places (a different order of summation): a few units of the dtype's.
    eps = numpy.finfo(theirs.dtype).eps if numpy.issubdtype(theirs.dtype, numpy.inexact) else 0.0
    numpy.testing.assert_allclose(ours, theirs, rtol=builtins_max(1e-12, 16 * eps), atol=1e-14, err_msg=what)


@pytest.mark.parametrize("name, args, kwargs", SEMANTICS, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(SEMANTICS)])
def test_matches_numpy_on_arrays_and_through_dispatch(name, args, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        theirs = _numpy_result(name, args, kwargs)
        _assert_same(getattr(np, name)(*args, **kwargs), theirs, f"nablanet.numpy.{name}")
        if name != "logsumexp" and isinstance(args[0], numpy.ndarray) and numpy.issubdtype(args[0].dtype, numpy.inexact):
            # NumPy's own function, called on a Tensor, reaches ours (numpy_protocol).
            _assert_same(getattr(numpy, name)(Tensor(args[0]), *args[1:], **kwargs), theirs, f"numpy.{name}(Tensor)")


@pytest.mark.parametrize("call, error, message", [
    (lambda: np.sum(M, out=numpy.empty(())), TypeError, "out= is not supported"),
    (lambda: np.cumsum(M, out=numpy.empty(12)), TypeError, "out= is not supported"),
    (lambda: np.mean(S, axis=0), numpy.exceptions.AxisError, "out of bounds"),
    (lambda: np.sum(M, axis=(0, 0)), ValueError, "duplicate value"),
    (lambda: np.sum(M, axis=2), numpy.exceptions.AxisError, "out of bounds"),
    (lambda: np.max(M, where=M > 0), ValueError, "specify 'initial'"),
    (lambda: np.max(E, axis=0), ValueError, "zero-size array"),
    (lambda: np.var(M, ddof=1, correction=1), ValueError, "simultaneously"),
    (lambda: np.sum(M, where=numpy.ones((2, 3, 4), bool)), ValueError, "does not broadcast"),
    (lambda: np.diff(S), ValueError, "at least one dimensional"),
    (lambda: np.diff(V, n=-1), ValueError, "non-negative"),
    (lambda: np.gradient(V, edge_order=3), ValueError, "greater than 2"),
    (lambda: np.gradient(V[:2], edge_order=2), ValueError, "too small"),
    (lambda: np.gradient(M, 1.0, 2.0, 3.0), TypeError, "invalid number of arguments"),
    (lambda: np.cumulative_sum(M), ValueError, "axis must be specified"),
    (lambda: np.ediff1d(V, to_begin=1j), TypeError, "same_kind"),
    (lambda: np.sort(M, kind="bogus"), ValueError, "sort kind"),
    (lambda: np.sort(M, order="f"), ValueError, "order="),
    (lambda: np.partition(V, 9), ValueError, "out of bounds"),
    (lambda: np.quantile(M, 1.5), ValueError, r"range \[0, 1\]"),
    (lambda: np.percentile(M, -5), ValueError, r"range \[0, 100\]"),
    (lambda: np.quantile(M, 0.5, method="inverted_cdf"), ValueError, "not supported by nablanet"),
    (lambda: np.quantile(M, 0.5, method="bogus"), ValueError, "not a valid method"),
    (lambda: np.quantile(M, 0.5, weights=M), TypeError, "weights="),
    (lambda: np.quantile(Z, 0.5), TypeError, "real numbers"),
    (lambda: np.average(M, weights=W), TypeError, "Axis must be specified"),
    (lambda: np.average(M, axis=0, weights=W), ValueError, "consistent with shape"),
    (lambda: np.average(M, axis=1, weights=numpy.zeros(4)), ZeroDivisionError, "sum to zero"),
])
def test_refusals_name_the_problem(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_tensor_methods_take_numpys_arguments():
    x = Tensor(M)
    assert numpy.allclose(x.sum(1, None, None, True).data, M.sum(1, None, None, True))
    assert numpy.allclose(x.var(0, None, None, 1).data, M.var(0, None, None, 1))
    assert numpy.allclose(x.std(axis=1, ddof=1).data, M.std(axis=1, ddof=1))
    assert numpy.allclose(x.prod(axis=0).data, M.prod(axis=0))
    assert numpy.allclose(x.cumsum(1).data, M.cumsum(1))
    assert numpy.allclose(x.cumprod().data, M.cumprod())
    assert numpy.allclose(x.max(1, keepdims=True).data, M.max(1, keepdims=True))
    assert numpy.array_equal(x.argsort(axis=0), M.argsort(axis=0))
    assert numpy.array_equal(x.argpartition(1), M.argpartition(1))
    assert x.all() == M.all() and x.any(axis=0).tolist() == M.any(axis=0).tolist()
    for method in (x.sort, x.partition):
        with pytest.raises(TypeError, match="immutable.*np"):
            method(1)


# --- the std fix: NaN derivatives over length-1 axes and of scalars ---------------------------------------

@pytest.mark.parametrize("x, axis", [(numpy.ones((3, 1)), 1), (numpy.array(2.5), None), (numpy.array([4.0]), 0),
                                     (numpy.ones((2, 1, 3)), (1,))])
def test_std_over_a_length_one_axis_has_zero_derivatives_of_every_order(x, axis):
    def f(v):
        return np.sum(np.std(v, axis=axis) * 3.0)

    assert numpy.all(grad(f)(x) == 0)
    tangent = numpy.ones_like(x)
    assert numpy.all(numpy.asarray(jvp(f, (x,), (tangent,))[1]) == 0)
    assert numpy.all(numpy.asarray(hessian(f)(x)) == 0)
    assert numpy.all(grad(lambda v: np.sum(np.nanstd(v, axis=axis)))(x) == 0)


def test_std_at_equal_values_takes_torchs_zero_derivative():
    x = numpy.full(4, 2.0)
    ours = grad(lambda v: np.std(v, ddof=1))(x)
    t = torch.tensor(x, requires_grad=True)
    (theirs,) = torch.autograd.grad(torch.std(t, correction=1), t)
    assert numpy.array_equal(ours, theirs.numpy())
    assert numpy.all(numpy.asarray(hessian(lambda v: np.std(v))(x)) == 0)
    # Elsewhere in the same array the derivative is the usual one.
    rows = numpy.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])
    t = torch.tensor(rows, requires_grad=True)
    (theirs,) = torch.autograd.grad(torch.std(t, dim=1).sum(), t)
    numpy.testing.assert_allclose(grad(lambda v: np.sum(np.std(v, axis=1, ddof=1)))(rows), theirs.numpy())


# --- products with zeros -----------------------------------------------------------------------------------

def test_prod_gradient_with_zeros_is_the_product_of_the_others():
    def f(v):
        return np.prod(v)

    assert grad(f)(numpy.array([2.0, 0.0, 3.0, 4.0])).tolist() == [0.0, 24.0, 0.0, 0.0]
    assert grad(f)(numpy.array([2.0, 0.0, 3.0, 0.0])).tolist() == [0.0, 0.0, 0.0, 0.0]
    # Second order: d^2/dx_i dx_j = prod of the entries other than i and j.
    h = numpy.asarray(hessian(f)(numpy.array([2.0, 0.0, 3.0, 0.0])))
    expected = numpy.zeros((4, 4))
    expected[1, 3] = expected[3, 1] = 6.0
    assert numpy.array_equal(h, expected)
    h = numpy.asarray(hessian(f)(numpy.array([2.0, 0.0, 3.0])))
    assert numpy.array_equal(h, [[0.0, 3.0, 0.0], [3.0, 0.0, 2.0], [0.0, 2.0, 0.0]])
    # Along an axis, rows with no, one and two zeros, as torch.prod's rule has them.
    x = numpy.array([[1.5, -2.0, 3.0], [0.0, 2.0, 4.0], [0.0, 5.0, 0.0]])
    t = torch.tensor(x, requires_grad=True)
    (theirs,) = torch.autograd.grad(torch.prod(t, dim=1).sum(), t)
    assert numpy.array_equal(grad(lambda v: np.sum(np.prod(v, axis=1)))(x), theirs.numpy())


def test_cumprod_gradient_with_zeros_matches_torch():
    x = numpy.array([[1.5, 0.0, 2.0, 0.0, 3.0], [0.0, 2.0, 1.0, -1.0, 0.5]])
    weight = RNG.standard_normal(x.shape)
    ours = grad(lambda v: np.sum(np.cumprod(v, axis=1) * weight))(x)
    t = torch.tensor(x, requires_grad=True)
    (theirs,) = torch.autograd.grad((torch.cumprod(t, dim=1) * torch.tensor(weight)).sum(), t)
    numpy.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12)
    h = numpy.asarray(hessian(lambda v: np.sum(np.cumprod(v) * weight[0]))(x[0]))
    (th,) = [torch.autograd.functional.hessian(lambda v: (torch.cumprod(v, 0) * torch.tensor(weight[0])).sum(),
                                               torch.tensor(x[0]))]
    numpy.testing.assert_allclose(h, th.numpy(), rtol=1e-12, atol=1e-12)


# --- conventions at ties ----------------------------------------------------------------------------------

def test_sort_at_ties_sends_the_gradient_where_the_stable_order_does():
    x = numpy.array([[2.0, 1.0, 2.0, 1.0, 2.0], [0.0, 0.0, 3.0, 0.0, -1.0]])
    weight = numpy.arange(10.0).reshape(2, 5)
    ours = grad(lambda v: np.sum(np.sort(v, axis=1) * weight))(x)
    t = torch.tensor(x, requires_grad=True)
    (theirs,) = torch.autograd.grad((torch.sort(t, dim=1, stable=True).values * torch.tensor(weight)).sum(), t)
    assert numpy.array_equal(ours, theirs.numpy())


def test_partition_at_ties_agrees_with_sort_at_the_kth_places():
    x = numpy.array([3.0, 1.0, 3.0, 2.0, 1.0, 3.0, 0.0])
    for kth in range(7):
        by_partition = grad(lambda v: np.partition(v, kth)[kth])(x)
        by_sort = grad(lambda v: np.sort(v)[kth])(x)
        assert numpy.array_equal(by_partition, by_sort), kth


def test_max_at_ties_shares_the_gradient_evenly_as_torch_amax():
    t = torch.tensor(TIES, requires_grad=True)
    (theirs,) = torch.autograd.grad(torch.amax(t, dim=1).sum(), t)
    assert numpy.array_equal(grad(lambda v: np.sum(np.max(v, axis=1)))(TIES), theirs.numpy())
    (theirs,) = torch.autograd.grad(torch.amin(t, dim=0).sum(), t)
    assert numpy.array_equal(grad(lambda v: np.sum(np.min(v, axis=0)))(TIES), theirs.numpy())


def test_median_of_an_even_count_splits_the_gradient_as_torch_quantile():
    x = numpy.array([[4.0, 1.0, 3.0, 2.0], [1.0, 1.0, 5.0, 0.0]])
    t = torch.tensor(x, requires_grad=True)
    (theirs,) = torch.autograd.grad(torch.quantile(t, 0.5, dim=1).sum(), t)
    assert numpy.array_equal(grad(lambda v: np.sum(np.median(v, axis=1)))(x), theirs.numpy())


# --- NaN handling ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["nansum", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin", "nanprod",
                                  "nanmedian", "nancumsum", "nancumprod"])
def test_nan_functions_give_nan_entries_a_zero_gradient(name):
    x = WITH_NAN[[0, 2]]
    g = grad(lambda v: np.sum(getattr(np, name)(v, axis=1)))(x)
    assert numpy.all(numpy.isfinite(g))
    assert numpy.all(g[numpy.isnan(x)] == 0)


def test_all_nan_slices_warn_and_give_nan():
    with pytest.warns(RuntimeWarning, match="All-NaN"):
        assert numpy.isnan(np.nanmax(Tensor(WITH_NAN[1]))).all()
    with pytest.warns(RuntimeWarning, match="All-NaN"):
        assert numpy.isnan(np.nanquantile(WITH_NAN, 0.5, axis=1)[1])


# --- quantiles -------------------------------------------------------------------------------------------

def test_quantile_gradient_is_the_interpolation_weights():
    x = numpy.array([4.0, 1.0, 3.0, 2.0, 6.0])
    # (n - 1) q = 4 * 0.3 = 1.2: weight 0.8 on the 2nd smallest (2.0 at index 3), 0.2 on the 3rd (3.0).
    numpy.testing.assert_allclose(grad(lambda v: np.quantile(v, 0.3))(x), [0.0, 0.0, 0.2, 0.8, 0.0])
    # ... and the derivative in q is (n - 1)(v_3rd - v_2nd) = 4.
    numpy.testing.assert_allclose(grad(lambda q: np.quantile(x, q))(0.3), 4.0)
    numpy.testing.assert_allclose(grad(lambda q: np.percentile(x, q))(30.0), 0.04)


def test_gradient_differentiated_at_evenly_spaced_coordinates():
    # NumPy reduces equal steps to one step; differentiated coordinates keep their own steps, since
    # moving one coordinate of an even grid changes two steps.
    values = numpy.array([1.0, 3.0, 2.0, 5.0, 4.0])
    for edge_order in (1, 2):
        check_grads(lambda x: np.gradient(values, x, edge_order=edge_order), [numpy.arange(5.0)], order=2)
    numpy.testing.assert_allclose(np.gradient(values, Tensor(numpy.arange(5.0), requires_grad=True)).data,
                                  numpy.gradient(values, numpy.arange(5.0)), rtol=1e-14)


def test_logsumexp_of_complex_is_the_principal_logarithm():
    z = numpy.array([1.0 + 3.0j, 0.5 - 2.5j, 2.0 + 3.1j])
    numpy.testing.assert_allclose(np.logsumexp(z), numpy.log(numpy.sum(numpy.exp(z))), rtol=1e-13)
    big = z + 800.0
    numpy.testing.assert_allclose(np.logsumexp(big), numpy.log(numpy.sum(numpy.exp(z))) + 800.0, rtol=1e-13)


def test_every_function_of_the_family_is_exported():
    import nablanet.autodiff.ops.cumulative as cumulative
    import nablanet.autodiff.ops.reduce as reduce
    import nablanet.autodiff.ops.sorting as sorting

    for module in (reduce, cumulative, sorting):
        missing = [name for name in module.__all__ if name not in np.__all__]
        assert not missing, f"{module.__name__}: not in nablanet.numpy.__all__: {missing}"
    assert {"prod", "cumsum", "cumprod"} <= set(nablanet.OPS)
