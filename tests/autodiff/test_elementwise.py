"""Elementwise functions: NumPy's semantics on odd inputs, conventions at kinks (as PyTorch), stability,
and the derivatives that were once wrong (each test here failed on the code before its fix).

The smooth-region derivatives of every function are checked by the tables (op_cases/elementwise.py
against finite differences, torch_cases/elementwise.py against PyTorch); this file is for the
points the tables never draw: 0, ties, NaN, infinities, huge and tiny arguments.
"""

import math
import re
import warnings

import numpy
import pytest
import torch

import nablanet
import nablanet.numpy as np
import nablanet.nn.functional as F
from nablanet import Tensor, grad, hessian, jvp
from nablanet.testing import check_grads


def nested_grads(f, x, order):
    """[f'(x), f''(x), ...] by nesting nablanet's grad."""
    results = []
    g = f
    for _ in range(order):
        g = grad(g)
        results.append(float(g(x)))
    return results


def torch_nested_grads(f, x, order):
    """[f'(x), f''(x), ...] by torch (a derivative that no longer depends on x gives zeros after it)."""
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = f(t)
    results = []
    for _ in range(order):
        if not out.requires_grad:
            results.append(0.0)
            continue
        (out,) = torch.autograd.grad(out, t, create_graph=True)
        results.append(out.item())
    return results


# --- logaddexp: a primitive whose rules are smooth at x = y (was 0 curvature there) ------------------

def test_logaddexp_second_derivative_at_a_tie_is_a_quarter():
    # d/dx = s = sigmoid(x - y), d2/dx2 = s (1 - s) = 1/4 at x = y; the composite gave 0.
    assert nested_grads(lambda x: np.logaddexp(x, 0.0), 0.0, 3) == pytest.approx([0.5, 0.25, 0.0], abs=1e-15)
    assert nested_grads(lambda x: np.logaddexp(x, 0.0), 1.5, 2) == pytest.approx(
        torch_nested_grads(lambda x: torch.logaddexp(x, torch.tensor(0.0, dtype=torch.float64)), 1.5, 2), rel=1e-12)
    # logaddexp2: d2/dx2 = ln 2 s (1 - s) with s = sigmoid((x - y) ln 2).
    assert nested_grads(lambda x: np.logaddexp2(x, 0.0), 0.0, 2) == pytest.approx([0.5, math.log(2) / 4], rel=1e-12)


def test_logaddexp_hessian_at_ties_matches_torch():
    point = numpy.array([0.3, 0.3])
    ours = hessian(lambda v: np.logaddexp(v[0], v[1]))(point)
    theirs = torch.autograd.functional.hessian(lambda v: torch.logaddexp(v[0], v[1]), torch.tensor(point))
    numpy.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12)
    numpy.testing.assert_allclose(ours, [[0.25, -0.25], [-0.25, 0.25]], rtol=1e-12)
    check_grads(np.logaddexp, [numpy.array([0.3, -1.0]), numpy.array([0.3, -1.0])], order=2)
    check_grads(np.logaddexp2, [numpy.array([0.3, -1.0]), numpy.array([0.3, -1.0])], order=2)


@pytest.mark.parametrize("name", ["logaddexp", "logaddexp2"])
def test_logaddexp_at_infinities_and_far_apart(name):
    ours, theirs = getattr(np, name), getattr(torch, name)
    inf = numpy.inf
    x = numpy.array([inf, 1.0, -inf, 1000.0, -1000.0, -inf, inf])
    y = numpy.array([1.0, -inf, 1.0, -1000.0, 1000.0, -inf, inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values, f_vjp = nablanet.vjp(ours, x, y)
        grad_x, grad_y = f_vjp(numpy.ones(7))
    numpy.testing.assert_array_equal(values, getattr(numpy, name)(x, y))
    tx, ty = (torch.tensor(v, requires_grad=True) for v in (x, y))
    torch_x, torch_y = torch.autograd.grad(theirs(tx, ty), (tx, ty), torch.ones(7, dtype=torch.float64))
    # Where torch's gradient is finite, ours is the same; at equal infinities (torch: NaN) each input
    # gets half, the limit along x = y.
    finite = numpy.isfinite(torch_x.numpy())
    assert finite.tolist() == [True] * 5 + [False] * 2
    numpy.testing.assert_array_equal(grad_x[finite], torch_x.numpy()[finite])
    numpy.testing.assert_array_equal(grad_y[finite], torch_y.numpy()[finite])
    assert grad_x[~finite].tolist() == [0.5, 0.5] and grad_y[~finite].tolist() == [0.5, 0.5]
    with numpy.errstate(invalid="ignore"):
        assert numpy.isnan(grad(lambda a: ours(a, 1.0))(numpy.nan))


# --- softplus and BCE with logits go through logaddexp (were 0 curvature at z = 0) --------------------

def test_softplus_second_derivative_at_zero_is_a_quarter():
    assert nested_grads(F.softplus, 0.0, 2) == pytest.approx([0.5, 0.25], abs=1e-15)
    z = numpy.array([-1000.0, -2.0, 0.0, 3.0, 1000.0])
    numpy.testing.assert_allclose(F.softplus(z), torch.nn.functional.softplus(torch.tensor(z)).numpy(), rtol=1e-15)
    with numpy.errstate(over="ignore"):
        s = 1.0 / (1.0 + numpy.exp(-z))
    numpy.testing.assert_allclose(grad(lambda v: np.sum(F.softplus(v)))(z), s, rtol=1e-15)
    _, curvature = jvp(grad(lambda v: np.sum(F.softplus(v))), (z,), (numpy.ones(5),))
    numpy.testing.assert_allclose(curvature, s * (1.0 - s), rtol=1e-12, atol=1e-300)


def test_bce_with_logits_hessian_matches_torch_at_zero():
    z = numpy.array([0.0, 0.0, 1.5, -1000.0])
    t = numpy.array([1.0, 0.0, 1.0, 0.0])
    ours = hessian(lambda v: F.binary_cross_entropy_with_logits(v, t))(z)
    theirs = torch.autograd.functional.hessian(
        lambda v: torch.nn.functional.binary_cross_entropy_with_logits(v, torch.tensor(t)), torch.tensor(z))
    numpy.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12, atol=1e-300)
    assert ours[0, 0] == pytest.approx(0.25 / 4)
    # Still stable at |z| = 1000, with the first derivative (sigmoid(z) - t)/n.
    big = numpy.array([1000.0, -1000.0])
    assert float(F.binary_cross_entropy_with_logits(big, numpy.array([0.0, 1.0]))) == pytest.approx(1000.0)
    numpy.testing.assert_allclose(grad(lambda v: F.binary_cross_entropy_with_logits(v, numpy.array([0.0, 1.0])))(big),
                                  [0.5, -0.5])


# --- power at x = 0 (x^0 and x^1 had NaN derivatives) -------------------------------------------------

@pytest.mark.parametrize("exponent", [0.0, 1.0, 2.0, 3.0, 0.5, 2.5, -1.0, 4])
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_power_at_zero_matches_torch_to_third_order(exponent):
    ours = nested_grads(lambda x: x ** exponent, 0.0, 3)
    theirs = torch_nested_grads(lambda x: x ** exponent, 0.0, 3)
    assert ours == theirs
    assert nested_grads(lambda x: np.power(x, exponent), 0.0, 3) == theirs


@pytest.mark.parametrize("exponent", [2.0, 3.0, -1.0, -2.0, 0.0, 1.0, 3])
def test_power_of_negative_bases_with_integer_exponents_matches_torch(exponent):
    assert nested_grads(lambda x: x ** exponent, -2.0, 3) == pytest.approx(
        torch_nested_grads(lambda x: x ** exponent, -2.0, 3), rel=1e-14)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_power_with_a_traced_exponent_at_zero_base():
    x = numpy.array([0.0, 0.0, 0.0, 0.0, 2.0])
    y = numpy.array([0.0, 1.0, 2.0, 0.5, 0.0])
    grad_x, grad_y = grad(lambda a, b: np.sum(a ** b), argnums=(0, 1))(x, y)
    tx, ty = (torch.tensor(v, requires_grad=True) for v in (x, y))
    torch_x, torch_y = torch.autograd.grad((tx ** ty).sum(), (tx, ty))
    numpy.testing.assert_array_equal(grad_x, torch_x.numpy())
    # d(x^y)/dy = x^y log x is taken as 0 at x = 0, as before (and as torch for y >= 0).
    numpy.testing.assert_array_equal(grad_y, torch_y.numpy())
    # With the exponent traced, d2(x^y)/dx dy = x^(y-1) (1 + y log x) keeps its value at y = 0, x != 0.
    mixed = grad(lambda b: grad(lambda a: a ** b)(2.0))(0.0)
    assert float(mixed) == pytest.approx(0.5)


# --- maximum, minimum, fmax, fmin: NaN as NumPy, ties as torch --------------------------------------

def test_maximum_and_minimum_propagate_nan_and_give_it_the_gradient():
    nan = numpy.nan
    x = numpy.array([nan, 1.0, nan, 2.0, 1.0])
    y = numpy.array([1.0, nan, nan, 1.0, 1.0])
    for ours, theirs in ((np.maximum, numpy.maximum), (np.minimum, numpy.minimum)):
        numpy.testing.assert_array_equal(ours(x, y), theirs(x, y))
        grad_x, grad_y = grad(lambda a, b: np.sum(ours(a, b)), argnums=(0, 1))(x, y)
        expected_x = [1.0, 0.0, 0.5, 1.0 if ours is np.maximum else 0.0, 0.5]
        assert grad_x.tolist() == expected_x
        assert (grad_x + grad_y).tolist() == [1.0] * 5


@pytest.mark.parametrize("name", ["fmax", "fmin"])
def test_fmax_fmin_ignore_nan_and_match_torch_at_ties(name):
    nan = numpy.nan
    x = numpy.array([nan, 1.0, nan, 2.0, 1.0, -3.0])
    y = numpy.array([1.0, nan, nan, 1.0, 1.0, 0.5])
    numpy.testing.assert_array_equal(getattr(np, name)(x, y), getattr(numpy, name)(x, y))
    grads = grad(lambda a, b: np.sum(getattr(np, name)(a, b)), argnums=(0, 1))(x, y)
    tx, ty = (torch.tensor(v, requires_grad=True) for v in (x, y))
    torch_grads = torch.autograd.grad(getattr(torch, name)(tx, ty).sum(), (tx, ty))
    for ours, theirs in zip(grads, torch_grads):
        numpy.testing.assert_array_equal(ours, theirs.numpy())


# --- clip: NumPy 2's signature, swapped bounds, bounds with gradients --------------------------------

def test_clip_follows_numpy_signature_and_values():
    x = numpy.array([-2.0, 0.5, 3.0])
    for args, kwargs in [((0.0, 1.0), {}), ((None, 1.0), {}), ((0.0, None), {}), ((None, None), {}), ((), {"min": 0.0}),
                         ((), {"max": 1.0}), ((), {"min": 0.0, "max": 1.0}), ((2.0, 1.0), {}), ((), {})]:
        numpy.testing.assert_array_equal(np.clip(x, *args, **kwargs), numpy.clip(x, *args, **kwargs))
        numpy.testing.assert_array_equal(numpy.clip(Tensor(x), *args, **kwargs), numpy.clip(x, *args, **kwargs))
    for args, kwargs in [((0.0,), {}), ((0.0, 1.0), {"min": 0.0})]:
        with pytest.raises((TypeError, ValueError)) as theirs:
            numpy.clip(x, *args, **kwargs)
        with pytest.raises(type(theirs.value), match=re.escape(str(theirs.value))):
            np.clip(x, *args, **kwargs)
    assert np.clip(numpy.float32([2.0]), 0.0, 1.0).dtype == numpy.float32
    assert Tensor(x).clip(max=1.0).numpy().tolist() == [-2.0, 0.5, 1.0]
    with pytest.raises(TypeError, match="out="):
        np.clip(x, 0.0, 1.0, out=numpy.empty(3))


def test_clip_bounds_get_gradients_as_torch_clamp():
    # x below, inside, at and above the bounds, and bounds swapped (a_min > a_max: the result is a_max).
    x = numpy.array([-1.0, 0.5, 0.0, 1.0, 3.0, 0.5, -1.0, 3.0])
    lo = numpy.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    hi = numpy.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    grads = grad(lambda *v: np.sum(np.clip(*v)), argnums=(0, 1, 2))(x, lo, hi)
    leaves = [torch.tensor(v, requires_grad=True) for v in (x, lo, hi)]
    torch_grads = torch.autograd.grad(torch.clamp(*leaves).sum(), leaves)
    for ours, theirs in zip(grads, torch_grads):
        numpy.testing.assert_array_equal(ours, theirs.numpy())
    numpy.testing.assert_array_equal(np.clip(x, lo, hi), numpy.clip(x, lo, hi))
    # a_min = a_max above x: the output is that bound; the gradient goes to a_min (torch: to neither).
    assert [float(g) for g in grad(lambda *v: np.clip(*v), argnums=(0, 1, 2))(-1.0, 0.0, 0.0)] == [0.0, 1.0, 0.0]
    assert grad(lambda v: np.sum(np.clip(v, 0.0, 1.0)))(numpy.array([numpy.nan])).tolist() == [0.0]


def test_clip_with_swapped_scalar_bounds_has_no_gradient_in_x():
    assert grad(lambda v: np.sum(np.clip(v, 1.0, 0.0)))(numpy.array([0.5, 2.0, -1.0])).tolist() == [0.0, 0.0, 0.0]


# --- where, sigmoid, heaviside --------------------------------------------------------------------

def test_where_with_condition_only_is_nonzero():
    condition = numpy.array([[0, 2], [3, 0]])
    result = np.where(condition)
    expected = numpy.where(condition)
    assert len(result) == 2 and all((r == e).all() for r, e in zip(result, expected))
    assert numpy.where(Tensor(condition * 1.0, requires_grad=True))[0].tolist() == [0, 1]
    with pytest.raises(ValueError, match="both or neither"):
        np.where(condition, 1.0)


def test_sigmoid_of_complex_numbers():
    z = numpy.array([0.5 + 0.3j, -2.0 - 1.0j])
    numpy.testing.assert_allclose(np.sigmoid(z), 1.0 / (1.0 + numpy.exp(-z)), rtol=1e-15)
    numpy.testing.assert_allclose(np.sigmoid(z), torch.sigmoid(torch.tensor(z)).numpy(), rtol=1e-15)
    assert np.sigmoid(z.astype(numpy.complex64)).dtype == numpy.complex64
    check_grads(np.sigmoid, [z], order=2)


def test_heaviside_has_numpys_signature():
    from nablanet.autodiff.ops.nn import HeavisideDerivativeError

    x = numpy.array([-1.0, 0.0, 2.0, numpy.nan])
    for x2 in (0.5, numpy.array([0.0, 0.25, 1.0, 2.0])):
        numpy.testing.assert_array_equal(np.heaviside(x, x2), numpy.heaviside(x, x2))
    assert np.heaviside(numpy.array([-1, 0, 1]), 1).dtype == numpy.heaviside(numpy.array([-1, 0, 1]), 1).dtype
    # The value at 0 has a derivative: 1 where x1 = 0. The step itself refuses one.
    assert grad(lambda h: np.sum(np.heaviside(x[:3], h)))(0.5) == 1.0
    with pytest.raises(HeavisideDerivativeError):
        grad(lambda v: np.sum(np.heaviside(v, 0.5)))(x)
    # The activation keeps its one-argument form 1{z >= 0}.
    assert F.heaviside(x[:3]).tolist() == [0.0, 1.0, 1.0]


# --- sinc's removable singularity ------------------------------------------------------------------

def test_sinc_derivatives_at_zero_to_fourth_order():
    # sinc(x) = 1 - (pi x)^2/6 + (pi x)^4/120 - ...: derivatives 0, -pi^2/3, 0, pi^4/5 at 0.
    expected = [0.0, -math.pi ** 2 / 3, 0.0, math.pi ** 4 / 5]
    assert nested_grads(np.sinc, 0.0, 4) == pytest.approx(expected, abs=1e-12)
    assert torch_nested_grads(torch.sinc, 0.0, 1) == [0.0]
    # Continuous across the switch from the series to the formula at |x| = 1/4.
    for x in (0.25 - 1e-12, 0.25):
        assert nested_grads(np.sinc, x, 2) == pytest.approx(torch_nested_grads(torch.sinc, x, 2), rel=1e-9)
    # Near 0, where torch's formula cancels to 0, the series keeps sinc'(x) = -pi^2 x / 3 (1 - pi^2 x^2 / 10).
    for x in (1e-9, -3e-5):
        assert nested_grads(np.sinc, x, 1)[0] == pytest.approx(-math.pi ** 2 * x / 3 * (1 - math.pi ** 2 * x * x / 10),
                                                               rel=1e-14)
    z = numpy.array([0.0 + 0.0j, 0.1 + 0.05j])
    check_grads(np.sinc, [z], order=2)


# --- remainder, fmod, copysign ---------------------------------------------------------------------

def test_remainder_and_fmod_quotients_are_the_ones_their_values_use():
    # 0.1 is slightly above 1/10, so 1 = 9 * 0.1 + 0.0999...: the quotient is 9, not round(1 / 0.1) = 10.
    assert float(np.remainder(1.0, 0.1)) == numpy.remainder(1.0, 0.1)
    assert float(grad(lambda y: np.remainder(1.0, y))(0.1)) == -9.0
    assert float(grad(lambda y: np.fmod(1.0, y))(0.1)) == -9.0
    x = numpy.array([5.5, -5.5, 5.5, -5.5])
    y = numpy.array([2.0, 2.0, -2.0, -2.0])
    numpy.testing.assert_array_equal(np.mod(x, y), x % y)
    numpy.testing.assert_array_equal((Tensor(x) % y).numpy(), x % y)
    numpy.testing.assert_array_equal((x % Tensor(y)).numpy(), x % y)
    numpy.testing.assert_array_equal((7.0 % Tensor(y)).numpy(), 7.0 % y)
    grads = grad(lambda a, b: np.sum(a % b), argnums=(0, 1))(x, y)
    assert grads[0].tolist() == [1.0] * 4 and grads[1].tolist() == (-numpy.floor_divide(x, y)).tolist()
    grads = grad(lambda a, b: np.sum(np.fmod(a, b)), argnums=(0, 1))(x, y)
    assert grads[1].tolist() == (-numpy.trunc(x / y)).tolist()
    numpy.testing.assert_array_equal(np.fmod(x, y), numpy.fmod(x, y))
    assert np.remainder(numpy.float32([5.5]), 2.0).dtype == numpy.float32
    assert np.remainder(numpy.array([7]), 3).tolist() == [1]


def test_floor_division_is_a_constant():
    x = Tensor(numpy.array([5.5, -5.5]), requires_grad=True)
    assert isinstance(x // 2.0, numpy.ndarray) and (x // 2.0).tolist() == [2.0, -3.0]
    assert (11.0 // x).tolist() == [2.0, -2.0]
    assert numpy.floor_divide(x, 2.0).tolist() == [2.0, -3.0]
    assert np.floor_divide(x, 2.0).tolist() == [2.0, -3.0]


def test_copysign_matches_numpy_and_torch_at_zeros():
    x = numpy.array([0.0, -0.0, 2.0, -2.0, -2.0, 3.0])
    y = numpy.array([-1.0, 1.0, -1.0, -1.0, 1.0, -0.0])
    values = np.copysign(x, y)
    numpy.testing.assert_array_equal(values, numpy.copysign(x, y))
    assert numpy.signbit(values).tolist() == numpy.signbit(numpy.copysign(x, y)).tolist()
    grads = grad(lambda a, b: np.sum(np.copysign(a, b)), argnums=(0, 1))(x, y)
    tx, ty = (torch.tensor(v, requires_grad=True) for v in (x, y))
    torch_grads = torch.autograd.grad(torch.copysign(tx, ty).sum(), (tx, ty))
    for ours, theirs in zip(grads, torch_grads):
        numpy.testing.assert_array_equal(ours, theirs.numpy())


# --- hypot, arctan2 at the origin and at extreme scales ------------------------------------------------

def test_hypot_and_arctan2_at_the_origin_and_extreme_scales():
    assert [float(g) for g in grad(np.hypot, argnums=(0, 1))(0.0, 0.0)] == [0.0, 0.0]
    assert [float(g) for g in grad(np.arctan2, argnums=(0, 1))(0.0, 0.0)] == [0.0, 0.0]
    for scale in (1e-200, 1e200):
        x, y = 3.0 * scale, 4.0 * scale
        assert float(np.hypot(x, y)) == numpy.hypot(x, y)
        grads = [float(g) for g in grad(np.hypot, argnums=(0, 1))(x, y)]
        assert grads == pytest.approx([0.6, 0.8], rel=1e-15)
        grads = [float(g) for g in grad(np.arctan2, argnums=(0, 1))(x, y)]
        assert grads == pytest.approx([4.0 / 25.0 / scale, -3.0 / 25.0 / scale], rel=1e-14)
    # The quadrants are NumPy's (arctan2(x1, x2) is the angle of (x2, x1)).
    x1 = numpy.array([1.0, 1.0, -1.0, -1.0, 0.0, -0.0])
    x2 = numpy.array([1.0, -1.0, 1.0, -1.0, -1.0, -1.0])
    numpy.testing.assert_array_equal(np.arctan2(x1, x2), numpy.arctan2(x1, x2))


# --- stability: NumPy's values, finite gradients where the derivative is finite ------------------------

def test_inverse_hyperbolic_and_logarithms_at_extreme_arguments():
    cases = [
        (np.arcsinh, numpy.arcsinh, numpy.array([1e-300, 1e200, -1e300]), lambda x: 1.0 / numpy.hypot(x, 1.0)),
        (np.arccosh, numpy.arccosh, numpy.array([1.0 + 1e-12, 1e200]), lambda x: 1.0 / (numpy.sqrt(x - 1) * numpy.sqrt(x + 1))),
        (np.arctanh, numpy.arctanh, numpy.array([1.0 - 1e-12, -1e-300]), lambda x: 1.0 / ((1 - x) * (1 + x))),
        (np.arcsin, numpy.arcsin, numpy.array([1.0 - 1e-12, 1e-300]), lambda x: 1.0 / numpy.sqrt((1 - x) * (1 + x))),
        (np.arctan, numpy.arctan, numpy.array([1e200, -1e-300, 3.0]), lambda x: numpy.hypot(x, 1.0) ** -2.0),
        (np.log2, numpy.log2, numpy.array([1e-300, 2.0 ** 29]), lambda x: 1.0 / (x * math.log(2))),
        (np.log10, numpy.log10, numpy.array([1e-300, 1e300]), lambda x: 1.0 / (x * math.log(10))),
    ]
    for ours, theirs, x, derivative in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            numpy.testing.assert_array_equal(ours(x), theirs(x))
            g = grad(lambda v: np.sum(ours(v)))(x)
        with numpy.errstate(all="ignore"):
            expected = derivative(x)
        finite = numpy.isfinite(expected)
        numpy.testing.assert_allclose(g[finite], expected[finite], rtol=1e-10)
        assert numpy.all(numpy.isfinite(g[finite])), (ours.__name__, g)
    # Beyond 1e154 x^2 overflows; the derivative of arcsinh, about 1/|x|, does not.
    assert grad(np.arcsinh)(1e200) == pytest.approx(1e-200, rel=1e-15)


def test_exp2_overflows_as_numpy():
    with numpy.errstate(over="ignore"):
        assert float(np.exp2(2000.0)) == numpy.inf
        assert float(grad(np.exp2)(2000.0)) == numpy.inf
    assert float(np.exp2(-2000.0)) == 0.0 and float(grad(np.exp2)(-2000.0)) == 0.0
    assert float(np.exp2(10.0)) == 1024.0


def test_cbrt_of_negative_numbers_and_zero():
    x = numpy.array([-8.0, 27.0, 0.0])
    numpy.testing.assert_array_equal(np.cbrt(x), numpy.cbrt(x))
    with numpy.errstate(divide="ignore"):
        assert grad(lambda v: np.sum(np.cbrt(v)))(x).tolist() == pytest.approx([1.0 / 12.0, 1.0 / 27.0, numpy.inf], rel=1e-15)


# --- nan_to_num, real_if_close, positive, reciprocal, fabs, float_power ------------------------------

def test_nan_to_num_keywords_and_gradient():
    x = numpy.array([numpy.nan, numpy.inf, -numpy.inf, 2.0])
    for kwargs in ({}, {"nan": 1.5}, {"posinf": 7.0, "neginf": -7.0}):
        numpy.testing.assert_array_equal(np.nan_to_num(Tensor(x), **kwargs).numpy(), numpy.nan_to_num(x, **kwargs))
    assert grad(lambda v: np.sum(np.nan_to_num(v, nan=1.0, posinf=1.0, neginf=1.0) * 2.0))(x).tolist() == [0.0, 0.0, 0.0, 2.0]
    assert np.nan_to_num(Tensor(x.astype(numpy.float32))).dtype == numpy.float32
    # A plain array with copy=False is changed in place, as NumPy does.
    y = x.copy()
    assert np.nan_to_num(y, copy=False) is y and y[0] == 0.0
    # Complex numbers part by part; a finite part keeps its derivative.
    z = numpy.array([complex(numpy.nan, 2.0), complex(1.0, numpy.inf), 3.0 + 4.0j])
    numpy.testing.assert_array_equal(np.nan_to_num(Tensor(z)).numpy(), numpy.nan_to_num(z))
    g = grad(lambda v: np.real(np.sum(np.nan_to_num(v) * (1.0 + 1.0j))))(z)
    # d Re((a + ib)(1 + i)) = da - db: the real part's gradient is 1, the imaginary part's -1 -> 1 + i (JAX).
    assert g.tolist() == [1j, 1.0, 1.0 + 1.0j]


def test_real_if_close_decides_the_dtype_from_the_values():
    for z in (numpy.array([1.0 + 1e-15j, 2.0]), numpy.array([1.0 + 1e-10j]), numpy.array([1.0 + 1e-10j]),
              numpy.array([1.0 + 1e-15j], dtype=numpy.complex64), numpy.array([], dtype=complex), numpy.array([1.0, 2.0])):
        for tol in (100, 1e-9):
            expected = numpy.real_if_close(z, tol=tol)
            result = np.real_if_close(Tensor(z), tol=tol)
            assert result.dtype == expected.dtype
            numpy.testing.assert_array_equal(result.numpy(), expected)
            assert numpy.real_if_close(Tensor(z), tol=tol).dtype == expected.dtype
    g = grad(lambda v: np.sum(np.real_if_close(v + 0j) * v))(numpy.array([1.0, 3.0]))
    assert g.tolist() == [2.0, 6.0]


def test_positive_reciprocal_fabs_square_keep_numpys_results():
    ints = numpy.array([2, -1, 1])
    for name in ("positive", "reciprocal", "fabs", "square", "abs"):
        ours, theirs = getattr(np, name)(ints), getattr(numpy, name)(ints)
        assert ours.dtype == theirs.dtype and (ours == theirs).all(), name
    assert np.square(numpy.array([True, False])).dtype == numpy.square(numpy.array([True, False])).dtype
    x = Tensor(numpy.array([1.0, -2.0]), requires_grad=True)
    assert np.positive(x) is x
    with pytest.raises(TypeError, match="fabs"):
        np.fabs(Tensor(numpy.array([1j])))


def test_float_power_computes_in_double():
    x = numpy.float32([2.0, 3.0])
    assert np.float_power(x, 2).dtype == numpy.float64
    g = grad(lambda v: np.sum(np.float_power(v, 2)))(x)
    assert g.dtype == numpy.float32 and g.tolist() == [4.0, 6.0]
    assert np.float_power(numpy.complex64([2.0]), 2.0).dtype == numpy.complex128
    numpy.testing.assert_array_equal(np.float_power(Tensor(x), 0.5).numpy(), numpy.float_power(x, 0.5))


# --- NumPy's semantics across the family: values, shapes, dtypes, keywords, complex refusals ---------------

UNARY = ["tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "arcsinh", "arccosh", "arctanh", "sinc", "deg2rad",
         "rad2deg", "degrees", "radians", "exp2", "log2", "log10", "cbrt", "fabs", "square", "reciprocal", "positive",
         "nan_to_num", "exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "expm1", "log1p", "negative",
         "asin", "acos", "atan", "asinh", "acosh", "atanh"]
BINARY = ["arctan2", "atan2", "hypot", "logaddexp", "logaddexp2", "fmax", "fmin", "maximum", "minimum", "remainder",
          "mod", "fmod", "copysign", "heaviside", "power", "pow", "float_power", "add", "subtract", "multiply", "divide"]
# Arguments where each function is defined, of several shapes: 0-d, empty, broadcast pairs.
UNARY_ARGUMENTS = [numpy.float64(0.3), numpy.array(0.6), numpy.array([]), numpy.linspace(-0.9, 0.9, 7).reshape(7, 1)]


def _domain(name, x):
    """x moved into the function's domain (above 1 for arccosh, positive for the logarithms)."""
    if name in ("arccosh", "acosh"):
        return 1.0 + numpy.abs(x)
    if name in ("log", "log2", "log10", "sqrt"):
        return numpy.abs(x) + 0.1
    return x


@pytest.mark.parametrize("name", UNARY)
def test_unary_functions_match_numpy_on_odd_shapes_and_dtypes(name):
    ours, theirs = getattr(np, name), getattr(numpy, name)
    for x in UNARY_ARGUMENTS:
        for dtype in (numpy.float64, numpy.float32):
            v = _domain(name, numpy.asarray(x, dtype=dtype))
            expected = theirs(v)
            result = ours(v)
            assert numpy.shape(result) == numpy.shape(expected) and result.dtype == expected.dtype, (name, x, dtype)
            numpy.testing.assert_array_equal(result, expected)
            traced = theirs(Tensor(v, requires_grad=True))
            assert isinstance(traced, Tensor) and traced.dtype == expected.dtype
            numpy.testing.assert_array_equal(traced.numpy(), expected)
    numpy.testing.assert_array_equal(ours(_domain(name, 0.5)), theirs(_domain(name, 0.5)))


PAIRS = [(numpy.float64(0.3), numpy.float64(-0.7)), (numpy.array([[0.2], [0.9]]), numpy.array([0.5, -0.4, 1.5])),
         (numpy.array([]), numpy.array(0.5)), (numpy.array([1.0, 2.0]), 0.5)]


@pytest.mark.parametrize("name", BINARY)
def test_binary_functions_match_numpy_with_broadcasting(name):
    ours, theirs = getattr(np, name), getattr(numpy, name)
    for x, y in PAIRS:
        for dtype in (numpy.float64, numpy.float32):
            # Positive bases (power), and a Python float kept as such (it must not upcast float32).
            x_ = numpy.abs(numpy.asarray(x, dtype=dtype)) + 0.1
            y_ = y if isinstance(y, float) and not isinstance(y, numpy.floating) else numpy.asarray(y, dtype=dtype)
            expected = theirs(x_, y_)
            result = ours(x_, y_)
            assert result.dtype == expected.dtype and numpy.shape(result) == numpy.shape(expected), (name, x, dtype)
            numpy.testing.assert_array_equal(result, expected)
            traced = theirs(Tensor(x_, requires_grad=True), y_)
            numpy.testing.assert_array_equal(traced.numpy(), expected)


# numpy.nan_to_num is a function, not a ufunc: it has no out= or where=.
@pytest.mark.parametrize("name", [n for n in UNARY + BINARY if n != "nan_to_num"])
def test_ufunc_keywords_are_refused_by_name_unless_at_their_defaults(name):
    ours = getattr(np, name)
    args = (numpy.array([1.5 if name in ("arccosh", "acosh") else 0.5]),) * (2 if name in BINARY else 1)
    if name != "sinc":
        numpy.testing.assert_array_equal(ours(*args, dtype=None, casting="same_kind", out=None), ours(*args))
    for keyword, value in (("out", numpy.empty(1)), ("where", numpy.array([False])), ("dtype", numpy.float32)):
        with pytest.raises(TypeError, match=f"{keyword}"):
            ours(*args, **{keyword: value})


@pytest.mark.parametrize("name", ["arctan2", "hypot", "fmax", "fmin", "maximum", "minimum", "remainder", "fmod",
                                  "copysign", "heaviside", "cbrt", "deg2rad", "rad2deg", "logaddexp", "logaddexp2",
                                  "fabs", "clip"])
def test_complex_inputs_are_refused_where_numpy_or_differentiation_refuses_them(name):
    z = Tensor(numpy.array([1.0 + 1.0j]), requires_grad=True)
    args = {"clip": (z, 0.0, 1.0), "cbrt": (z,), "deg2rad": (z,), "rad2deg": (z,), "fabs": (z,)}.get(name, (z, z))
    with pytest.raises(TypeError):
        getattr(np, name)(*args)


def test_degrees_and_radians_equal_rad2deg_and_deg2rad_in_every_precision():
    x = numpy.random.default_rng(0).standard_normal(1000) * 100
    for dtype in (numpy.float16, numpy.float32, numpy.float64, numpy.longdouble):
        v = x.astype(dtype)
        numpy.testing.assert_array_equal(numpy.degrees(v), np.rad2deg(v))
        numpy.testing.assert_array_equal(numpy.radians(v), np.deg2rad(v))


def test_family_is_exported_and_numpy_dispatches_to_it():
    from nablanet.autodiff.ops import elementwise, trig

    names = set(elementwise.__all__) | set(trig.__all__) | {"heaviside", "floor_divide", "trunc", "rint"}
    assert names <= set(np.__all__)
    # numpy.<ufunc>(Tensor) reaches ours: a derivative comes back.
    x = numpy.array([0.3, 0.6])
    for name in ("tan", "arctanh", "exp2", "log10", "cbrt", "fabs", "square", "reciprocal", "positive", "deg2rad"):
        g = grad(lambda v: np.sum(getattr(numpy, name)(v)))(x)
        expected = grad(lambda v: np.sum(getattr(np, name)(v)))(x)
        numpy.testing.assert_array_equal(g, expected)
    assert grad(lambda v: numpy.sinc(v))(0.0) == 0.0
    assert float(grad(lambda v: numpy.nan_to_num(v) * 2.0)(1.0)) == 2.0
    assert float(grad(lambda v: numpy.logaddexp(v, 0.0))(0.0)) == 0.5
    assert float(grad(lambda v: numpy.arctan2(v, 1.0))(0.0)) == 1.0
    assert float(nablanet.grad(lambda v: numpy.hypot(v, 4.0))(3.0)) == pytest.approx(0.6)
