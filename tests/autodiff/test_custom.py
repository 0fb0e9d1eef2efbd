"""custom_vjp, custom_jvp, checkpoint, stop_gradient, hvp and elementwise_grad on JAX's documented examples.

JAX is not a dependency: the examples of "Custom derivative rules for JAX-transformable Python
functions", "Control autodiff's saved values with jax.checkpoint" and "The autodiff cookbook" are
written out with their documented results.
"""

import functools
import math

import numpy
import pytest

import nablanet
import nablanet.numpy as np
from nablanet import (Op, OPS, Tensor, checkpoint, custom_jvp, custom_vjp, elementwise_grad, grad, hessian,
                      hessian_vector_product, hvp, jvp, register, stop_gradient, value_and_grad, vjp)
from nablanet.autodiff.graph import collect
from nablanet.testing import check_grads


# --- custom_jvp -------------------------------------------------------------------------------------

def naive_log1pexp(x):
    return np.log(1.0 + np.exp(x))


@custom_jvp
def log1pexp(x):
    return np.log(1.0 + np.exp(x))


@log1pexp.defjvp
def log1pexp_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    return log1pexp(x), (1 - 1 / (1 + np.exp(x))) * x_dot


def test_custom_jvp_log1pexp_as_documented():
    # Naively the gradient is nan once exp overflows (inf / inf: at 100 in JAX's float32, at 1000 in
    # float64); the rule gives 1.0, in both modes and for arrays.
    with numpy.errstate(over="ignore", invalid="ignore"):
        assert math.isnan(grad(naive_log1pexp)(1000.0))
        assert grad(log1pexp)(1000.0) == 1.0
        assert jvp(log1pexp, (1000.0,), (1.0,))[1] == 1.0
    numpy.testing.assert_allclose(elementwise_grad(log1pexp)(numpy.array([0.0, 1.0, 2.0])),
                                  [0.5, 0.7310586, 0.8807971], rtol=1e-6)


def test_custom_jvp_nests_and_is_checked_by_finite_differences():
    @custom_jvp
    def f(x, y):
        return np.sin(x) * y

    @f.defjvp
    def f_jvp(primals, tangents):
        x, y = primals
        x_dot, y_dot = tangents
        return f(x, y), np.cos(x) * x_dot * y + np.sin(x) * y_dot

    assert grad(f)(2.0, 3.0) == pytest.approx(math.cos(2.0) * 3.0, rel=1e-15)
    assert grad(f, argnums=1)(2.0, 3.0) == pytest.approx(math.sin(2.0), rel=1e-15)
    # Second order through the rule: d2/dx2 sin(x) y = -sin(x) y.
    assert grad(grad(f))(2.0, 3.0) == pytest.approx(-math.sin(2.0) * 3.0, rel=1e-14)
    check_grads(f, [numpy.array([0.3, -1.2]), numpy.array([2.0, 0.5])], order=2)


def test_custom_jvp_with_a_pytree_output_and_nondiff_argument():
    @functools.partial(custom_jvp, nondiff_argnums=(0,))
    def scaled_pair(scale, x):
        return {"double": scale * x, "square": x * x}

    @scaled_pair.defjvp
    def scaled_pair_jvp(scale, primals, tangents):
        (x,), (x_dot,) = primals, tangents
        return scaled_pair(scale, x), {"double": scale * x_dot, "square": 2 * x * x_dot}

    g = grad(lambda x: np.sum(scaled_pair(3.0, x)["double"] + scaled_pair(3.0, x)["square"]))(numpy.array([1.0, 2.0]))
    assert g.tolist() == [5.0, 7.0]


# --- custom_vjp -------------------------------------------------------------------------------------

@custom_vjp
def sin_times(x, y):
    return np.sin(x) * y


def sin_times_fwd(x, y):
    return sin_times(x, y), (np.cos(x), np.sin(x), y)


def sin_times_bwd(residuals, g):
    cos_x, sin_x, y = residuals
    return (cos_x * g * y, sin_x * g)


sin_times.defvjp(sin_times_fwd, sin_times_bwd)


def test_custom_vjp_as_documented():
    assert sin_times(2.0, 3.0) == pytest.approx(math.sin(2.0) * 3.0)
    assert grad(sin_times)(2.0, 3.0) == pytest.approx(-1.2484405, rel=1e-7)
    # JAX: "can't apply forward-mode autodiff (jvp) to a custom_vjp function."
    with pytest.raises(TypeError, match="can't apply forward-mode autodiff"):
        jvp(sin_times, (2.0, 3.0), (1.0, 0.0))


def test_custom_vjp_second_order_sees_the_residuals_dependence():
    # d/dx of the custom gradient cos(x) y: the residual cos(x) depends on x, so it must be recomputed.
    assert grad(grad(sin_times))(2.0, 3.0) == pytest.approx(-math.sin(2.0) * 3.0, rel=1e-14)
    check_grads(sin_times, [numpy.array([0.3, 1.1]), numpy.array([2.0, -0.5])], modes=("rev",), order=2)


def test_custom_vjp_clip_gradient_with_nondiff_argnums():
    # The documentation's gradient clipping: identity forward, clipped cotangent backward.
    @functools.partial(custom_vjp, nondiff_argnums=(0, 1))
    def clip_gradient(lo, hi, x):
        return x

    def clip_gradient_fwd(lo, hi, x):
        return x, None

    def clip_gradient_bwd(lo, hi, _, g):
        return (np.clip(g, lo, hi),)

    clip_gradient.defvjp(clip_gradient_fwd, clip_gradient_bwd)
    xs = numpy.linspace(0.0, 10.0, 7)
    g = elementwise_grad(lambda x: np.sin(clip_gradient(-0.75, 0.75, x)))(xs)
    numpy.testing.assert_allclose(g, numpy.clip(numpy.cos(xs), -0.75, 0.75), rtol=1e-15)


def test_custom_vjp_with_tensor_backward_and_a_bad_rule():
    x = Tensor(2.0, requires_grad=True)
    y = Tensor(3.0, requires_grad=True)
    sin_times(x, y).backward()
    assert float(x.grad) == pytest.approx(math.cos(2.0) * 3.0) and float(y.grad) == pytest.approx(math.sin(2.0))

    @custom_vjp
    def f(x, y):
        return x * y

    f.defvjp(lambda x, y: (f(x, y), None), lambda res, g: (g,))
    with pytest.raises(TypeError, match="one cotangent per differentiable argument"):
        grad(f)(1.0, 2.0)


# --- checkpoint -------------------------------------------------------------------------------------

def _layer(W, x):
    return np.sin(W @ x)


def _network(W1, W2, W3, x, layer):
    return np.sum(layer(W3, layer(W2, layer(W1, x))))


def test_checkpoint_gives_the_same_gradient_and_keeps_fewer_values():
    rng = numpy.random.default_rng(0)
    Ws = [rng.standard_normal((4, 4)) for _ in range(3)]
    x = rng.standard_normal(4)
    plain = grad(_network, argnums=(0, 1, 2))(*Ws, x, _layer)
    calls = []

    def counted_layer(W, x):
        calls.append(1)
        return _layer(W, x)

    remat = grad(_network, argnums=(0, 1, 2))(*Ws, x, checkpoint(counted_layer))
    for a, b in zip(plain, remat):
        numpy.testing.assert_allclose(a, b, rtol=1e-14)
    # Three forward evaluations, three more in the reverse pass (as jax.checkpoint's documented trace).
    assert len(calls) == 6
    # The recorded graph holds one node per checkpointed layer, not its matmul and sine.
    leaves = [Tensor(W, requires_grad=True) for W in Ws]
    out_plain = _network(*leaves, x, _layer)
    out_remat = _network(*leaves, x, checkpoint(_layer))
    assert len(collect(out_remat)[0]) < len(collect(out_plain)[0])
    # Forward mode and second order are unchanged.
    check_grads(lambda W: _network(W, Ws[1], Ws[2], x, checkpoint(_layer)), [Ws[0]], order=2)


# --- stop_gradient, hvp, elementwise_grad ---------------------------------------------------------------

def test_stop_gradient_td_zero_update_as_documented():
    def value_fn(theta, state):
        return np.dot(theta, state)

    def td_loss(theta, s_tm1, r_t, s_t):
        v_tm1 = value_fn(theta, s_tm1)
        target = r_t + value_fn(theta, s_t)
        return -0.5 * ((stop_gradient(target) - v_tm1) ** 2)

    theta = numpy.array([0.1, -0.1, 0.0])
    update = grad(td_loss)(theta, numpy.array([1.0, 2.0, -1.0]), 1.0, numpy.array([2.0, 1.0, 0.0]))
    numpy.testing.assert_allclose(update, [1.2, 2.4, -1.2], rtol=1e-14)
    assert jvp(lambda x: stop_gradient(x) * x, (3.0,), (1.0,)) == (9.0, 3.0)


def test_hvp_equals_hessian_times_vector():
    rng = numpy.random.default_rng(1)
    x, v = rng.standard_normal(4), rng.standard_normal(4)

    def f(x):
        return np.sum(np.tanh(x) ** 2) * np.sum(x ** 3)

    expected = hessian(f)(x) @ v
    numpy.testing.assert_allclose(hvp(f, (x,), (v,)), expected, rtol=1e-13)
    numpy.testing.assert_allclose(hessian_vector_product(f)(x, v), expected, rtol=1e-13)
    # The cookbook's reverse-over-reverse definition gives the same.
    numpy.testing.assert_allclose(grad(lambda x: np.vdot(grad(f)(x), v))(x), expected, rtol=1e-13)


# --- the Op class as the extension API ------------------------------------------------------------

def test_redefining_an_op_replaces_it_and_a_clash_is_refused():
    namespace = {}
    source = '''
from nablanet import Op, register
import numpy

@register
class Cube(Op):
    """z = x^3."""
    name = "user_cube_for_test"
    def forward(x):
        return x ** 3
    def vjp(grad_out, out, x):
        return (grad_out * VERSION * x * x,)
    def jvp(x_dot, out, x):
        return x_dot * 3.0 * x * x
'''
    try:
        for version in (2.0, 3.0):  # a notebook cell run twice, fixed the second time
            exec(compile(source.replace("VERSION", str(version)), "<cell>", "exec"), namespace)
        assert grad(lambda x: OPS["user_cube_for_test"].apply(x))(2.0) == 12.0

        class Impostor(Op):
            name = "user_cube_for_test"

            def forward(x):
                return x

        with pytest.raises(ValueError, match="already registered"):
            register(Impostor)
    finally:
        OPS.pop("user_cube_for_test", None)
