"""The two fused primitives equal the same computation written with elementary primitives.

The dense layer's VJP is the notes' back-propagation equations (delta^l = sigma'(z^l) * dC/da^l,
dC/dW^l = a^{l-1} delta^l, dC/db^l = delta^l, dC/da^{l-1} = W^l delta^l); softmax with cross-entropy
has the output error delta^L = (softmax(z) - t)/N.
"""

import numpy
import pytest

import nablanet.numpy as np
from nablanet import grad, hessian, jvp
from nablanet.nn import functional as F

ELEMENTARY = {
    "identity": lambda z: z,
    "relu": F.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "elu": lambda z: F.elu(z, 1.0),
    "sigmoid": np.sigmoid,
    "tanh": np.tanh,
}


def two_layer_cost(fused: bool, activation: str):
    """C = mean((a^2 - t)^2) of a two-layer network, written fused or with elementary ops."""

    def layer(x, W, b, act):
        if fused:
            return np.dense(x, W, b, activation=act, alpha=0.01 if act == "leaky_relu" else 1.0)
        return ELEMENTARY[act](x @ W + b)

    def cost(x, W1, b1, W2, b2, t):
        a1 = layer(x, W1, b1, activation)
        a2 = layer(a1, W2, b2, "identity")
        return np.mean((a2 - t) ** 2)

    return cost


@pytest.mark.parametrize("activation", sorted(ELEMENTARY))
def test_fused_dense_gradients_equal_elementary_ones(activation):
    rng = numpy.random.default_rng(0)
    args = [rng.standard_normal(s) for s in [(6, 3), (3, 5), (5,), (5, 2), (2,), (6, 2)]]
    for i in range(5):
        fused = grad(two_layer_cost(True, activation), argnums=i)(*args)
        elementary = grad(two_layer_cost(False, activation), argnums=i)(*args)
        numpy.testing.assert_allclose(fused, elementary, rtol=1e-12, atol=1e-14)
    tangent = rng.standard_normal((3, 5))
    _, fused_dot = jvp(lambda W: two_layer_cost(True, activation)(args[0], W, *args[2:]), (args[1],), (tangent,))
    _, plain_dot = jvp(lambda W: two_layer_cost(False, activation)(args[0], W, *args[2:]), (args[1],), (tangent,))
    assert fused_dot == pytest.approx(plain_dot, rel=1e-12)


def test_fused_relu_of_minus_infinity_is_zero_and_of_nan_is_nan():
    # A diverging run can produce -inf pre-activations: relu must give 0 there (a product with the
    # mask z > 0 would give -inf * 0 = NaN), and must not hide a NaN.
    x = numpy.array([[-numpy.inf], [numpy.nan], [2.0]])
    W, b = numpy.ones((1, 1)), numpy.zeros(1)
    assert np.dense(x, W, b, activation="relu").tolist()[0] == [0.0]
    assert numpy.isnan(np.dense(x, W, b, activation="relu")[1, 0])
    image = numpy.full((1, 1, 3, 3), -numpy.inf)
    conv = np.convolution(image, numpy.ones((1, 1, 1, 1)), numpy.zeros(1), activation="relu")
    assert numpy.array_equal(conv, numpy.zeros((1, 1, 3, 3)))


def test_fused_dense_backprop_is_the_notes_equations_written_out():
    # One sigmoid layer, one sample, C = (a - t)^2 / 2: delta = sigma'(z) (a - t), dC/dW = a_prev delta^T.
    rng = numpy.random.default_rng(1)
    x, W, b, t = rng.standard_normal((1, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal((1, 2))
    z = x @ W + b
    a = 1 / (1 + numpy.exp(-z))
    delta = a * (1 - a) * (a - t)
    grads = grad(lambda W, b: 0.5 * np.sum((np.dense(x, W, b, activation="sigmoid") - t) ** 2), argnums=(0, 1))(W, b)
    numpy.testing.assert_allclose(grads[0], x.T @ delta, rtol=1e-13)
    numpy.testing.assert_allclose(grads[1], delta[0], rtol=1e-13)


def test_fused_dense_skips_the_input_gradient_nobody_needs():
    from nablanet import count_ops

    x, W, b = numpy.ones((8, 4)), numpy.ones((4, 3)), numpy.ones(3)
    only_weights = count_ops(lambda W, b: np.sum(np.dense(x, W, b, activation="relu")), W, b)
    with_input = count_ops(lambda x, W, b: np.sum(np.dense(x, W, b, activation="relu")), x, W, b)
    assert with_input.reverse["matmul"] == 2 * only_weights.reverse["matmul"]


def test_fused_dense_second_derivatives_equal_elementary_ones():
    rng = numpy.random.default_rng(2)
    x, b = rng.standard_normal((4, 3)), rng.standard_normal(2)
    W = rng.standard_normal((3, 2))
    fused = hessian(lambda W: np.sum(np.dense(x, W, b, activation="tanh") ** 2))(W)
    plain = hessian(lambda W: np.sum(np.tanh(x @ W + b) ** 2))(W)
    numpy.testing.assert_allclose(fused, plain, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("targets", ["labels", "one_hot", "soft"])
def test_fused_cross_entropy_equals_log_softmax_composition(targets):
    rng = numpy.random.default_rng(3)
    logits = rng.standard_normal((5, 4))
    labels = numpy.array([0, 3, 1, 1, 2])
    t = {"labels": labels, "one_hot": numpy.eye(4)[labels], "soft": rng.dirichlet(numpy.ones(4), 5)}[targets]
    probabilities = numpy.eye(4)[labels] if targets == "labels" else t

    def composed(z):
        return -np.sum(probabilities * np.log_softmax(z, axis=-1)) / 5

    def fused(z):
        return F.cross_entropy(z, t)

    assert float(fused(logits)) == pytest.approx(float(composed(logits)), rel=1e-14)
    numpy.testing.assert_allclose(grad(fused)(logits), grad(composed)(logits), rtol=1e-13, atol=1e-15)
    numpy.testing.assert_allclose(hessian(fused)(logits), hessian(composed)(logits), rtol=1e-11, atol=1e-14)
    expected_delta = (numpy.exp(logits) / numpy.exp(logits).sum(1, keepdims=True) - probabilities) / 5
    numpy.testing.assert_allclose(grad(fused)(logits), expected_delta, rtol=1e-12)


def test_fused_cross_entropy_is_stable_for_huge_logits():
    logits = numpy.array([[1e4, -1e4, 0.0], [-1e4, 1e4 - 1.0, 1e4]])
    with numpy.errstate(over="raise", invalid="raise", divide="raise"):
        loss = float(F.cross_entropy(logits, numpy.array([0, 1])))
        g = grad(lambda z: F.cross_entropy(z, numpy.array([0, 1])))(logits)
    assert loss == pytest.approx(0.5 * (0.0 + (1.0 + numpy.log1p(numpy.exp(-1.0)))), rel=1e-12)
    assert numpy.isfinite(g).all()


def test_cross_entropy_rejects_labels_that_do_not_match():
    logits = numpy.zeros((3, 4))
    with pytest.raises(ValueError, match=r"class indices in 0..3, got values from 0 to 4"):
        F.cross_entropy(logits, numpy.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"labels of shape \(2,\) do not match logits of shape \(3, 4\)"):
        F.cross_entropy(logits, numpy.array([0, 1]))
    with pytest.raises(ValueError, match="probability targets of shape"):
        F.cross_entropy(logits, numpy.zeros((3, 5)))


def test_relu_primitive_equals_where_composition_to_second_order():
    x = numpy.array([[-1.5, 0.0, 0.3], [2.0, -0.2, 1.1]])
    numpy.testing.assert_array_equal(np.relu(x), np.where(x > 0, x, 0.0))
    weights = numpy.arange(6.0).reshape(2, 3)
    primitive = grad(lambda v: np.sum(np.relu(v) * weights))(x)
    composed = grad(lambda v: np.sum(np.where(v > 0, v, 0.0) * weights))(x)
    numpy.testing.assert_array_equal(primitive, composed)


@pytest.mark.parametrize("kernel", [(2, 2), (2, 3), (3,)])
def test_window_pooling_primitives_equal_reductions_over_windows(kernel):
    rng = numpy.random.default_rng(4)
    shape = (2, 3) + tuple(4 * k for k in kernel)
    x = rng.permutation(int(numpy.prod(shape))).reshape(shape) * 0.1
    split = (2, 3) + tuple(v for k in kernel for v in (4, k))
    axes = tuple(3 + 2 * i for i in range(len(kernel)))
    for primitive, reduction in ((np.max_pool_windows, np.max), (np.avg_pool_windows, np.mean)):
        numpy.testing.assert_allclose(primitive(x, kernel), reduction(np.reshape(x, split), axis=axes), rtol=1e-14)
        weights = rng.standard_normal(primitive(x, kernel).shape)
        # Distinct values: the first maximum is the only one, so both definitions agree.
        ours = grad(lambda v: np.sum(primitive(v, kernel) * weights))(x)
        composed = grad(lambda v: np.sum(reduction(np.reshape(v, split), axis=axes) * weights))(x)
        numpy.testing.assert_allclose(ours, composed, rtol=1e-14)


def test_max_pool_ties_send_the_gradient_to_the_first_maximum_like_torch():
    import torch

    x = numpy.array([[[[0.0, 0.0, 1.0, 2.0], [0.0, 0.0, 2.0, 2.0]]]])
    ours = grad(lambda v: np.sum(np.max_pool_windows(v, (2, 2)) * numpy.array([[[[3.0, 5.0]]]])))(x)
    theirs = torch.tensor(x, requires_grad=True)
    (torch.nn.functional.max_pool2d(theirs, 2) * torch.tensor([[[[3.0, 5.0]]]], dtype=torch.float64)).sum().backward()
    numpy.testing.assert_array_equal(ours, theirs.grad.numpy())
