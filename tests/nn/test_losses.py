"""Losses and penalties: gradient checks in float64 and equality with PyTorch's losses."""

import numpy
import pytest
import torch

import nablanet.nn as nn
from nablanet import Tensor, grad
from nablanet.nn import functional as F
from nablanet.nn.regularizers import penalty
from nablanet.testing import check_grads

rng = numpy.random.default_rng(11)
PREDICTIONS = rng.standard_normal((6, 3))
REAL_TARGETS = rng.standard_normal((6, 3))
BINARY_TARGETS = rng.integers(0, 2, (6, 3)).astype(float)
PROBABILITIES = 1 / (1 + numpy.exp(-PREDICTIONS))

# name: (ours, torch's, predictions, targets)
LOSSES = {
    "mse": (F.mse, torch.nn.functional.mse_loss, PREDICTIONS, REAL_TARGETS),
    "mae": (F.mae, torch.nn.functional.l1_loss, PREDICTIONS, REAL_TARGETS),
    "huber": (F.huber, torch.nn.functional.huber_loss, PREDICTIONS * 2, REAL_TARGETS),
    "huber-delta": (lambda y, t: F.huber(y, t, delta=0.3), lambda y, t: torch.nn.functional.huber_loss(y, t, delta=0.3),
                    PREDICTIONS, REAL_TARGETS),
    "bce": (F.binary_cross_entropy, torch.nn.functional.binary_cross_entropy, PROBABILITIES, BINARY_TARGETS),
    "bce-logits": (F.binary_cross_entropy_with_logits, torch.nn.functional.binary_cross_entropy_with_logits,
                   PREDICTIONS, BINARY_TARGETS),
    "cross-entropy-labels": (F.cross_entropy, torch.nn.functional.cross_entropy, PREDICTIONS, numpy.array([0, 2, 1, 1, 0, 2])),
    "cross-entropy-one-hot": (F.cross_entropy, torch.nn.functional.cross_entropy, PREDICTIONS, numpy.eye(3)[[0, 2, 1, 1, 0, 2]]),
    "hinge": (F.hinge, lambda y, t: torch.clamp(1 - (2 * t - 1) * y, min=0).mean(), PREDICTIONS, BINARY_TARGETS),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_gradients_match_finite_differences(name):
    loss, _, predictions, targets = LOSSES[name]
    check_grads(lambda y: loss(y, targets), [predictions], order=2 if name != "bce" else 1, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_equals_torch_value_and_gradient(name):
    loss, torch_loss, predictions, targets = LOSSES[name]
    ours = Tensor(predictions, requires_grad=True)
    value = loss(ours, targets)
    value.backward()
    theirs = torch.tensor(predictions, requires_grad=True)
    torch_targets = torch.tensor(targets)
    reference = torch_loss(theirs, torch_targets)
    reference.backward()
    assert float(value) == pytest.approx(reference.item(), rel=1e-12)
    numpy.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-11, atol=1e-14)


def test_stable_binary_losses_at_extremes():
    z = numpy.array([1000.0, -1000.0])
    with numpy.errstate(over="raise", invalid="raise", divide="raise"):
        assert float(F.binary_cross_entropy_with_logits(z, numpy.array([1.0, 0.0]))) == 0.0
        assert float(F.binary_cross_entropy_with_logits(z, numpy.array([0.0, 1.0]))) == pytest.approx(1000.0)
    with numpy.errstate(divide="ignore"):
        assert float(F.binary_cross_entropy(numpy.array([0.0, 1.0]), numpy.array([1.0, 0.0]))) == pytest.approx(100.0)


def test_binary_cross_entropy_refuses_predictions_outside_zero_one_and_names_the_range():
    # Logits given where probabilities belong: the floored logarithms made the loss negative (-0.86 here).
    logits = numpy.array([2.5, -1.0, 0.3])
    with pytest.raises(ValueError, match=r"must be probabilities in \[0, 1\], but they range from -1 to 2\.5; .*"
                                         r"use binary_cross_entropy_with_logits"):
        F.binary_cross_entropy(logits, numpy.array([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="range from 0.2 to 1.01"):
        F.binary_cross_entropy(numpy.array([0.2, 1.01]), numpy.array([1.0, 0.0]))
    # The ends of [0, 1] themselves are probabilities.
    assert float(F.binary_cross_entropy(numpy.array([0.0, 1.0]), numpy.array([0.0, 1.0]))) == 0.0


def test_losses_name_shape_mismatches():
    with pytest.raises(ValueError, match=r"mse: targets of shape \(4,\) do not match predictions of shape \(6, 3\)"):
        F.mse(PREDICTIONS, numpy.zeros(4))
    with pytest.raises(ValueError, match="targets must lie in"):
        F.binary_cross_entropy_with_logits(PREDICTIONS, REAL_TARGETS)
    with pytest.raises(ValueError, match="hinge: labels must be -1/\\+1"):
        F.hinge(PREDICTIONS, REAL_TARGETS)
    with pytest.raises(ValueError, match="unknown loss 'msq'"):
        F.get_loss("msq")


def test_mse_uses_the_one_over_n_convention():
    assert float(F.mse(numpy.array([1.0, 3.0]), numpy.array([0.0, 0.0]))) == 5.0
    assert grad(lambda y: F.mse(y, numpy.zeros(2)))(numpy.array([1.0, 3.0])).tolist() == [1.0, 3.0]


def test_penalties_weigh_weights_not_biases():
    model = nn.Sequential(nn.Dense(2, 3, rng=0, dtype=numpy.float64), nn.Dense(3, 1, rng=1, dtype=numpy.float64))
    for layer in model:
        layer.b.data[:] = 5.0
    weights = [layer.W.data for layer in model]
    expected = 0.1 * sum(numpy.abs(W).sum() for W in weights) + 0.01 * sum((W ** 2).sum() for W in weights)
    total = penalty(model, l1=0.1, l2=0.01)
    assert float(total) == pytest.approx(expected, rel=1e-14)
    total.backward()
    numpy.testing.assert_allclose(model[0].W.grad, 0.1 * numpy.sign(weights[0]) + 0.02 * weights[0], rtol=1e-14)
    assert model[0].b.grad is None
    assert penalty(model) == 0.0


def test_weight_penalty_is_the_penalty_without_a_graph():
    from nablanet.nn.regularizers import WeightPenalty

    model = nn.Sequential(nn.Dense(2, 3, rng=0, dtype=numpy.float64), nn.Dense(3, 1, rng=1, dtype=numpy.float64))
    weights = WeightPenalty(model, l1=0.1, l2=0.01)
    assert weights.value() == pytest.approx(float(penalty(model, l1=0.1, l2=0.01)), rel=1e-14)
    penalty(model, l2=0.01).backward()
    by_graph = [layer.W.grad.copy() for layer in model]
    for layer in model:
        layer.W.grad = None
    WeightPenalty(model, l2=0.01).add_gradient()
    for layer, expected in zip(model, by_graph):
        numpy.testing.assert_array_equal(layer.W.grad, expected)  # 2 lambda W, as the graph's lambda W + lambda W
        assert layer.b.grad is None
    weights.add_gradient(scale=0.5)  # adds to the gradient already there: 0.5 (2 lambda W + lambda_1 sign W)
    W = model[0].W.data
    numpy.testing.assert_allclose(model[0].W.grad, 0.02 * W + 0.5 * (0.02 * W + 0.1 * numpy.sign(W)), rtol=1e-14)
    assert not WeightPenalty(model) and WeightPenalty(model).value() == 0.0
    with pytest.raises(ValueError, match="non-negative"):
        WeightPenalty(model, l2=-1.0)


def test_binary_cross_entropy_gradient_is_finite_at_saturated_probabilities():
    for p, t in ((1.0, 1.0), (0.0, 0.0), (1.0, 0.0), (0.0, 1.0)):
        g = grad(lambda q: F.binary_cross_entropy(q, numpy.array([t])))(numpy.array([p]))
        assert numpy.isfinite(g).all(), (p, t, g)
    g = grad(lambda z: F.binary_cross_entropy(F.sigmoid(z), numpy.array([1.0])))(numpy.array([40.0]))
    assert numpy.isfinite(g).all()
