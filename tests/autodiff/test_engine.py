"""The reverse-mode engine: graph walking, accumulation, no_grad, the Tensor interface, and its error messages."""

import numpy
import pytest

import nablanet
import nablanet.numpy as np
from nablanet import Tensor, no_grad


def test_backward_fills_grad_of_leaves():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = Tensor(2.0, requires_grad=True)
    loss = (w * x * x).sum()
    loss.backward()
    numpy.testing.assert_allclose(x.grad, [4.0, 8.0, 12.0])
    assert float(w.grad) == pytest.approx(14.0)


def test_reused_value_accumulates_along_every_path():
    # Diamond: a feeds both b and c, so dd/da = dd/db db/da + dd/dc dc/da (the notes' c = a + b case).
    x = Tensor(0.5, requires_grad=True)
    a = x * x
    b = np.exp(a)
    d = np.sqrt(a + b)
    d.backward()
    expected = 0.5 * (1 + numpy.exp(0.25)) / numpy.sqrt(0.25 + numpy.exp(0.25))
    assert float(x.grad) == pytest.approx(expected, rel=1e-14)


def test_grad_accumulates_across_backward_calls_until_zeroed():
    x = Tensor([1.0, -1.0], requires_grad=True)
    (x * 3.0).sum().backward()
    (x * 3.0).sum().backward()
    numpy.testing.assert_allclose(x.grad, [6.0, 6.0])
    x.zero_grad_()
    assert x.grad is None


def test_no_grad_records_nothing():
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        y = x * 2.0
    assert not y.requires_grad and y.is_leaf


def test_deep_chain_does_not_hit_recursion_limit():
    x = Tensor(numpy.full(3, 0.1), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.sum().backward()
    numpy.testing.assert_allclose(x.grad, numpy.full(3, 1.0001 ** 5000))


def test_ndarray_on_the_left_dispatches_to_tensor():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = numpy.array([3.0, 4.0]) * x + numpy.exp(x)
    assert isinstance(y, Tensor)
    y.sum().backward()
    numpy.testing.assert_allclose(x.grad, [3.0 + numpy.e, 4.0 + numpy.e ** 2])


def test_numpy_functions_on_tensors_use_nablanet_rules():
    x = Tensor(numpy.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    numpy.sum(numpy.tanh(x) @ x.T).backward()
    expected = nablanet.grad(lambda v: np.sum(np.tanh(v) @ v.T))(x.data)
    numpy.testing.assert_allclose(x.grad, expected)


def test_tensor_interface():
    x = Tensor(numpy.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and x.dtype == numpy.float64
    assert x.T.shape == (3, 2) and x.reshape(3, 2).shape == (3, 2) and x.transpose().shape == (3, 2)
    assert float(x.sum()) == 15.0 and float(x.mean()) == 2.5 and float(x.max()) == 5.0
    assert x.max(axis=1, keepdims=True).shape == (2, 1)
    assert (x > 2).dtype == bool and (x > 2).sum() == 3
    assert len(x) == 2 and [row.shape for row in x] == [(3,), (3,)]


def test_indexing_forms_and_scatter_add():
    x = Tensor(numpy.arange(12.0).reshape(3, 4), requires_grad=True)
    (x[0, 1:3].sum() + x[[2, 2, 0]].sum() + x[x > 9].sum() * 10.0).backward()
    expected = numpy.zeros((3, 4))
    expected[0, 1:3] += 1
    expected[2] += 2
    expected[0] += 1
    expected[2, 2:] += 10
    numpy.testing.assert_allclose(x.grad, expected)


def test_max_ties_share_the_gradient_evenly():
    g = nablanet.grad(lambda v: np.max(v))(numpy.array([1.0, 3.0, 3.0, 2.0]))
    numpy.testing.assert_allclose(g, [0.0, 0.5, 0.5, 0.0])
    _, forward = nablanet.jvp(lambda v: np.max(v), (numpy.array([1.0, 3.0, 3.0]),), (numpy.array([0.0, 1.0, 3.0]),))
    assert forward == pytest.approx(2.0)
    g = nablanet.grad(lambda v: np.sum(np.maximum(v, 1.0)))(numpy.array([1.0, 2.0]))
    numpy.testing.assert_allclose(g, [0.5, 1.0])


def test_float32_training_step_stays_float32():
    w = Tensor(numpy.ones((4, 3), dtype=numpy.float32), requires_grad=True)
    x = numpy.ones((5, 4), dtype=numpy.float32)
    loss = np.mean(np.log_softmax(np.tanh(x @ w) * 2.0, axis=1) ** 2) + 0.5 * np.sum(w * w)
    assert loss.dtype == numpy.float32
    loss.backward()
    assert w.grad.dtype == numpy.float32


# --- errors name the problem ---------------------------------------------------------------------

def test_shape_mismatch_names_op_and_both_shapes():
    with pytest.raises(ValueError, match=r"add: .*\(2, 3\) and \(4,\)"):
        Tensor(numpy.ones((2, 3)), requires_grad=True) + numpy.ones(4)
    with pytest.raises(ValueError, match=r"matmul: .*\(2, 3\) and \(2, 3\)"):
        Tensor(numpy.ones((2, 3))) @ numpy.ones((2, 3))


def test_backward_on_non_scalar_needs_upstream_gradient():
    y = Tensor(numpy.ones(3), requires_grad=True) * 2.0
    with pytest.raises(RuntimeError, match=r"non-scalar tensor of shape \(3,\) needs an upstream gradient"):
        y.backward()
    y.backward(numpy.array([1.0, 2.0, 3.0]))


def test_differentiating_integers_is_an_error():
    with pytest.raises(TypeError, match="dtype int64"):
        nablanet.grad(lambda x: np.sum(x * x))(numpy.array([1, 2]))
    with pytest.raises(TypeError, match="integer|dtype int"):
        Tensor([1, 2], requires_grad=True)


def test_unsupported_numpy_function_is_named():
    x = Tensor(numpy.ones(3), requires_grad=True)
    with pytest.raises(TypeError, match="numpy.modf is not supported"):
        numpy.modf(x)
    with pytest.raises(TypeError, match="numpy.histogram is not supported"):
        numpy.histogram(x)
    with pytest.raises(TypeError, match="numpy.polyfit is not supported"):
        numpy.polyfit(x, numpy.ones(3), 1)
    with pytest.raises(TypeError, match="would drop the derivative"):
        numpy.asarray(x)


def test_grad_of_non_scalar_function_says_what_to_use():
    with pytest.raises(TypeError, match="must return a scalar, got shape \\(2,\\).*jacobian"):
        nablanet.grad(lambda x: x * 2.0)(numpy.ones(2))


def test_item_assignment_is_refused():
    x = Tensor(numpy.ones(3), requires_grad=True)
    with pytest.raises(TypeError, match="immutable"):
        x[0] = 2.0


def test_untraced_tensor_converts_to_array():
    numpy.testing.assert_array_equal(numpy.asarray(Tensor([1.0, 2.0])), [1.0, 2.0])


def test_a_rule_returning_a_wrong_shaped_gradient_is_refused_by_name():
    from nablanet import OPS
    from nablanet.autodiff.op import Op, register

    @register
    class WrongShapeForTest(Op):
        name = "wrong_shape_for_test"

        def forward(x):
            return x * 2.0

        def vjp(grad_out, out, x):
            return (np.reshape(grad_out, (-1,)),)  # (6,) for an input of shape (2, 3): a wrong rule

        def jvp(x_dot, out, x):
            return x_dot * 2.0

    try:
        x = Tensor(numpy.ones((2, 3)), requires_grad=True)
        with pytest.raises(ValueError, match=r"wrong_shape_for_test: its reverse rule returned a gradient of shape \(6,\) "
                                             r"for an input of shape \(2, 3\)"):
            WrongShapeForTest.apply(x).sum().backward()
    finally:
        del OPS["wrong_shape_for_test"]


def test_an_op_without_a_rule_says_which_op_and_mode():
    from nablanet import OPS
    from nablanet.autodiff.op import Op, register

    @register
    class ForwardOnlyForTest(Op):
        name = "forward_only_for_test"

        def forward(x):
            return x + 1.0

    try:
        x = Tensor(numpy.ones(2), requires_grad=True)
        with pytest.raises(NotImplementedError, match="forward_only_for_test has no reverse-mode"):
            ForwardOnlyForTest.apply(x).sum().backward()
        with pytest.raises(NotImplementedError, match="forward_only_for_test has no forward-mode"):
            nablanet.jvp(ForwardOnlyForTest.apply, (numpy.ones(2),), (numpy.ones(2),))
    finally:
        del OPS["forward_only_for_test"]


def test_an_op_without_a_forward_is_refused_at_registration():
    from nablanet import OPS
    from nablanet.autodiff.op import Op, register

    with pytest.raises(TypeError, match="op 'no_forward_for_test' defines no forward computation"):
        @register
        class NoForwardForTest(Op):
            name = "no_forward_for_test"

    assert "no_forward_for_test" not in OPS


def test_an_op_keeping_a_residual_must_take_it_in_both_rules():
    from nablanet import OPS
    from nablanet.autodiff.op import Op, register

    with pytest.raises(TypeError, match="op 'residual_for_test' keeps a residual, but its jvp rule takes no 'residual'"):
        @register
        class ResidualForTest(Op):
            name = "residual_for_test"
            keeps_residual = True

            def forward(x):
                return x * 2.0, x

            def vjp(grad_out, out, x, residual):
                return (grad_out * 2.0,)

            def jvp(x_dot, out, x):
                return x_dot * 2.0

    assert "residual_for_test" not in OPS


def test_a_kept_residual_reaches_both_rules_and_stays_out_of_results():
    from nablanet import OPS
    from nablanet.autodiff.op import Op, register

    seen = []

    @register
    class SquareKeepingTwiceXForTest(Op):
        """y = x^2, keeping 2x for both rules."""

        name = "square_keeping_twice_x_for_test"
        keeps_residual = True

        def forward(x):
            return x * x, 2.0 * x

        def vjp(grad_out, out, x, residual):
            seen.append(("vjp", residual))
            return (grad_out * residual,)

        def jvp(x_dot, out, x, residual):
            seen.append(("jvp", residual))
            return x_dot * residual

    try:
        x = numpy.array([1.0, -3.0])
        assert numpy.array_equal(SquareKeepingTwiceXForTest.apply(x), x * x)  # plain arrays: out only
        t = Tensor(x, requires_grad=True)
        y = SquareKeepingTwiceXForTest.apply(t)
        assert numpy.array_equal(y.data, x * x)
        y.sum().backward()
        assert numpy.array_equal(t.grad, 2.0 * x)
        _, tangent = nablanet.jvp(SquareKeepingTwiceXForTest.apply, (x,), (numpy.ones(2),))
        assert numpy.array_equal(tangent, 2.0 * x)
        assert [mode for mode, _ in seen] == ["vjp", "jvp"]
        assert all(numpy.array_equal(residual, 2.0 * x) for _, residual in seen)
    finally:
        del OPS["square_keeping_twice_x_for_test"]
