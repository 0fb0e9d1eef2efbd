"""grad, value_and_grad, vjp, jvp, jacobian, hessian: closed forms, nesting, the notes' examples, stability."""

import math

import numpy
import pytest

import nablanet
import nablanet.numpy as np
from nablanet import count_ops, grad, hessian, jacobian, jvp, to_dot, value_and_grad, vjp


def exp_of_square(x):
    return np.exp(x ** 2)


def sqrt_of_sum(x):
    a = x ** 2
    return np.sqrt(a + np.exp(a))


@pytest.mark.parametrize("x", [-1.5, -0.3, 0.0, 0.5, 2.0])
def test_notes_examples_have_their_analytic_derivatives_in_both_modes(x):
    d_exp = 2 * x * math.exp(x * x)
    d_sqrt = x * (1 + math.exp(x * x)) / math.sqrt(x * x + math.exp(x * x))
    assert grad(exp_of_square)(x) == pytest.approx(d_exp, rel=1e-14, abs=1e-15)
    assert jvp(exp_of_square, (x,), (1.0,))[1] == pytest.approx(d_exp, rel=1e-14, abs=1e-15)
    assert grad(sqrt_of_sum)(x) == pytest.approx(d_sqrt, rel=1e-14, abs=1e-15)
    assert jvp(sqrt_of_sum, (x,), (1.0,))[1] == pytest.approx(d_sqrt, rel=1e-14, abs=1e-15)


def test_returns_plain_python_and_numpy_values():
    assert type(grad(exp_of_square)(1.0)) is float
    g = grad(lambda x: np.sum(x ** 2))(numpy.array([1.0, 2.0]))
    assert type(g) is numpy.ndarray
    value, g = value_and_grad(lambda x: np.sum(x ** 2))(numpy.array([1.0, 2.0]))
    assert value == 5.0 and g.tolist() == [2.0, 4.0]


def test_higher_order_derivatives_by_nesting():
    assert grad(grad(grad(lambda x: x ** 4)))(2.0) == pytest.approx(48.0)
    assert grad(grad(np.sin))(0.7) == pytest.approx(-math.sin(0.7))
    # Fourth derivative of tanh: 16 t s^2 - 8 t^3 s; third: -2 s^2 + 4 t^2 s (t = tanh x, s = 1 - t^2).
    t = math.tanh(0.3)
    s = 1 - t * t
    assert grad(grad(grad(grad(np.tanh))))(0.3) == pytest.approx(16 * t * s * s - 8 * t ** 3 * s, rel=1e-12)
    third_by_forward_mode = jvp(lambda x: jvp(lambda y: jvp(np.tanh, (y,), (1.0,))[1], (x,), (1.0,))[1], (0.3,), (1.0,))[1]
    assert third_by_forward_mode == pytest.approx(-2 * s * s + 4 * t * t * s, rel=1e-12)


def test_perturbation_confusion():
    # d/dx [ x * (d/dy (x + y) at y = 1) ] = d/dx [x * 1] = 1 (Siskind & Pearlmutter).
    assert grad(lambda x: x * grad(lambda y: x + y)(1.0))(2.0) == 1.0
    # The same in forward mode, nested jvp.
    inner = lambda x: jvp(lambda y: x + y, (1.0,), (1.0,))[1]  # noqa: E731
    assert jvp(lambda x: x * inner(x), (2.0,), (1.0,))[1] == 1.0
    # And a case where the inner derivative does depend on x: d/dx [ d/dy (x y) ] = d/dx x = 1.
    assert grad(lambda x: grad(lambda y: x * y)(3.0))(2.0) == 1.0


def test_hessian_of_quadratic_form():
    rng = numpy.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    x = rng.standard_normal(4)
    numpy.testing.assert_allclose(hessian(lambda v: v @ A @ v)(x), A + A.T, rtol=1e-12)


def test_hessian_of_log_sum_exp_is_diag_p_minus_p_pt():
    x = numpy.array([0.1, -0.4, 2.0])
    p = numpy.exp(x) / numpy.exp(x).sum()
    numpy.testing.assert_allclose(hessian(np.logsumexp)(x), numpy.diag(p) - numpy.outer(p, p), rtol=1e-12, atol=1e-15)


def test_jacobian_forward_and_reverse_agree_and_have_the_right_shape():
    rng = numpy.random.default_rng(1)
    W = rng.standard_normal((3, 2, 4))

    def f(x):
        return np.tanh(W @ x) * np.sum(x)

    x = rng.standard_normal(4)
    reverse = jacobian(f, mode="reverse")(x)
    forward = jacobian(f, mode="forward")(x)
    assert reverse.shape == (3, 2, 4)
    numpy.testing.assert_allclose(reverse, forward, rtol=1e-12)
    eps = 1e-6
    numeric = numpy.stack([numpy.asarray(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in numpy.eye(4)], axis=-1)
    numpy.testing.assert_allclose(reverse, numeric, rtol=1e-6)


def test_argnums_and_has_aux():
    def f(x, y):
        return np.sum(x * y ** 2), "aux"

    (value, aux), (gx, gy) = value_and_grad(f, argnums=(0, 1), has_aux=True)(numpy.array([1.0]), numpy.array([3.0]))
    assert (value, aux) == (9.0, "aux") and gx.tolist() == [9.0] and gy.tolist() == [6.0]


def test_vjp_can_be_called_several_times():
    out, f_vjp = vjp(lambda x: x ** 2, numpy.array([1.0, 2.0]))
    assert f_vjp(numpy.array([1.0, 0.0]))[0].tolist() == [2.0, 0.0]
    assert f_vjp(numpy.array([0.0, 1.0]))[0].tolist() == [0.0, 4.0]


def test_forward_over_reverse_and_reverse_over_forward_give_hessian_vector_products():
    A = numpy.array([[2.0, 1.0], [1.0, 3.0]])
    x, v = numpy.array([0.5, -1.0]), numpy.array([1.0, 2.0])

    def f(w):
        return 0.5 * w @ A @ w + np.sum(np.sin(w))

    expected = A @ v - numpy.sin(x) * v
    numpy.testing.assert_allclose(jvp(grad(f), (x,), (v,))[1], expected, rtol=1e-12)
    numpy.testing.assert_allclose(grad(lambda w: jvp(f, (w,), (v,))[1])(x), expected, rtol=1e-12)


def test_function_that_ignores_its_input_has_zero_derivative():
    assert grad(lambda x: 3.0)(1.0) == 0.0
    assert jvp(lambda x: numpy.ones(2), (1.0,), (1.0,))[1].tolist() == [0.0, 0.0]


# --- numerical stability -----------------------------------------------------------------------

def test_stable_forms_for_extreme_inputs():
    logits = numpy.array([1e4, -1e4, 0.0, 1e4 - 1.0])
    # Overflow or NaN would raise; exp underflowing to 0 for the far logits is the correct result.
    with numpy.errstate(over="raise", invalid="raise", divide="raise"):
        lse = np.logsumexp(logits)
        assert float(lse) == pytest.approx(1e4 + math.log1p(math.exp(-1.0)))
        assert numpy.isfinite(np.log_softmax(logits)).all()
        numpy.testing.assert_allclose(np.softmax(logits).sum(), 1.0)
        numpy.testing.assert_allclose(grad(np.logsumexp)(logits), np.softmax(logits))
        numpy.testing.assert_allclose(np.sigmoid(numpy.array([1000.0, -1000.0])), [1.0, 0.0])
        assert grad(lambda x: np.sum(np.sigmoid(x)))(numpy.array([1000.0, -1000.0])).tolist() == [0.0, 0.0]
    assert float(np.sigmoid(-30.0)) == pytest.approx(math.exp(-30) / (1 + math.exp(-30)), rel=1e-14)
    assert float(np.log1p(1e-12)) == pytest.approx(1e-12, rel=1e-12)
    assert float(np.expm1(1e-12)) == pytest.approx(1e-12, rel=1e-12)
    assert grad(np.log1p)(1e-12) == pytest.approx(1 / (1 + 1e-12), rel=1e-15)


# --- looking inside: operation counts and the graph ---------------------------------------------

def test_count_ops_reports_the_notes_four_forward_operations():
    counts = count_ops(sqrt_of_sum, 0.5)
    assert counts.forward == {"power": 1, "exp": 1, "add": 1, "sqrt": 1}
    assert counts.forward_total == 4
    assert counts.reverse_total > 0 and "total" in str(counts)


def test_count_ops_counts_matmul_as_2mnk_and_elementwise_per_element():
    W, X = numpy.ones((3, 4)), numpy.ones((4, 5))
    counts = count_ops(lambda w, x: np.sum(np.tanh(w @ x)), W, X)
    assert counts.forward == {"matmul": 2 * 3 * 4 * 5, "tanh": 15, "sum": 15}
    # Reverse: tanh' costs 3 per element (1 - a*a, times g); two matmuls for dW and dX.
    assert counts.reverse["matmul"] == 2 * (2 * 3 * 4 * 5)


def test_to_dot_draws_the_notes_graph():
    dot = to_dot(sqrt_of_sum, 0.5, names=["x"])
    assert dot.startswith("digraph {") and dot.endswith("}")
    for op in ("power", "exp", "add", "sqrt"):
        assert f'label="{op}' in dot
    assert 'label="x' in dot
    # a = x^2 feeds both exp and add: two edges leave its node.
    a_node = next(line.split()[0] for line in dot.splitlines() if 'label="power' in line)
    assert sum(1 for line in dot.splitlines() if line.strip().startswith(f"{a_node} ->")) == 2


def test_public_api_is_importable():
    for name in nablanet.__all__:
        assert hasattr(nablanet, name)


# --- cotangents, output shapes and dtypes as JAX and PyTorch accept them ------------------------------

def test_python_number_and_list_cotangents_are_accepted():
    assert vjp(np.sin, 1.0)[1](1.0) == (pytest.approx(math.cos(1.0)),)
    assert vjp(lambda x: x * 2.0, numpy.ones(2))[1]([1.0, 2.0])[0].tolist() == [2.0, 4.0]
    x = nablanet.Tensor(2.0, requires_grad=True)
    (x * x).backward(1.0)
    assert float(x.grad) == 4.0
    y = nablanet.Tensor([2.0, 3.0], requires_grad=True)
    (y * y).backward([1.0, 1.0])
    assert y.grad.tolist() == [4.0, 6.0]
    with pytest.raises(ValueError, match="shape"):
        vjp(lambda x: x * 2.0, numpy.ones(2))[1]([1.0, 2.0, 3.0])


def test_grad_of_a_one_element_output():
    assert grad(lambda x: x * 3.0)(numpy.ones(1)).tolist() == [3.0]
    assert grad(lambda x: np.reshape(x * 3.0, (1, 1)))(2.0) == 3.0
    assert value_and_grad(lambda x: np.reshape(x ** 2, (1,)))(3.0) == (9.0, 6.0)


def test_grad_refuses_complex_and_boolean_outputs_with_jax_messages():
    with pytest.raises(TypeError, match="requires real-valued outputs.*holomorphic=True"):
        grad(lambda z: z ** 2)(1.0 + 1.0j)
    with pytest.raises(TypeError, match="requires real-valued outputs.*bool"):
        grad(lambda x: x > 0)(1.0)
    with pytest.raises(TypeError, match="holomorphic=True requires inputs with complex dtype"):
        grad(lambda z: z ** 2, holomorphic=True)(1.0)
    assert grad(lambda z: z ** 2, holomorphic=True)(1.0 + 1.0j) == 2.0 + 2.0j
    # A real-valued function of a complex input: JAX's gradient, df/dx - i df/dy (|z|^2 -> 2 conj z).
    assert grad(lambda z: np.abs(z) ** 2)(3.0 + 4.0j) == pytest.approx(6.0 - 8.0j)
    with pytest.raises(TypeError, match="integer|floating-point or complex"):
        grad(lambda n: n * 2.0)(3)


def test_derivative_inside_a_loss_stays_connected_to_the_weights_it_closes_over():
    # A physics-informed loss: the PDE residual is a derivative of the network with respect to its
    # input, and loss.backward() must see how that derivative depends on the weights.
    rng = numpy.random.default_rng(0)
    W = nablanet.Tensor(rng.standard_normal(3), requires_grad=True)
    X = rng.uniform(-1, 1, 3)

    def pde_loss(w_values):
        # d/dx sum(tanh(w x)) = w (1 - tanh^2(w x)); the loss is the squared derivative, summed.
        return numpy.sum((w_values * (1 - numpy.tanh(w_values * X) ** 2)) ** 2)

    du_dx = grad(lambda x: np.sum(np.tanh(x * W)))(X)
    assert isinstance(du_dx, nablanet.Tensor)
    loss = np.sum(du_dx ** 2)
    loss.backward()
    eps = 1e-6
    expected = [(pde_loss(W.data + eps * e) - pde_loss(W.data - eps * e)) / (2 * eps) for e in numpy.eye(3)]
    numpy.testing.assert_allclose(W.grad, expected, rtol=1e-7)
    # The same through forward mode, and the value of value_and_grad.
    W.grad = None
    _, du_dot = jvp(lambda x: np.sum(np.tanh(x * W)), (X,), (numpy.ones(3),))
    assert isinstance(du_dot, nablanet.Tensor)
    value, _ = value_and_grad(lambda x: np.sum(np.tanh(x * W)))(X)
    assert isinstance(value, nablanet.Tensor) and value.requires_grad
    # Inside no_grad nothing is recorded for the weights: plain arrays come back.
    with nablanet.no_grad():
        assert isinstance(grad(lambda x: np.sum(np.tanh(x * W)))(X), numpy.ndarray)
    # Without closed-over weights the results are plain, as before.
    assert isinstance(grad(lambda x: np.sum(np.tanh(x)))(X), numpy.ndarray)


def test_transforms_work_inside_no_grad():
    with nablanet.no_grad():
        assert grad(lambda x: x * x)(3.0) == 6.0
        assert jvp(lambda x: x * x, (3.0,), (1.0,)) == (9.0, 6.0)
