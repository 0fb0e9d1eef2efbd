"""Losses and penalties: gradient checks in float64 and equality with PyTorch's losses."""

import numpy
import pytest
import torch

import nablanet.nn as nn
from nablanet import Tensor, grad, value_and_grad
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


# --- per-sample weights: C = sum_i w_i l_i / sum_i w_i ---------------------------------------------------

WEIGHTS = rng.uniform(0.0, 3.0, 6)
TORCH_F = torch.nn.functional

LOG_PROBABILITIES = PREDICTIONS - numpy.log(numpy.exp(PREDICTIONS).sum(axis=1, keepdims=True))
SOFT = numpy.exp(REAL_TARGETS) / numpy.exp(REAL_TARGETS).sum(axis=1, keepdims=True)
VARIANCES = rng.uniform(0.5, 2.0, (6, 3))
SIGNS = numpy.array([1, -1, -1, 1, 1, -1])

# name: (ours, torch's per-element (or per-row) losses with reduction='none', predictions, targets[, the
# further inputs, one row per sample])
WEIGHTED_LOSSES = {
    "mse": (F.mse, lambda y, t: TORCH_F.mse_loss(y, t, reduction="none"), PREDICTIONS, REAL_TARGETS),
    "mae": (F.mae, lambda y, t: TORCH_F.l1_loss(y, t, reduction="none"), PREDICTIONS, REAL_TARGETS),
    "huber": (F.huber, lambda y, t: TORCH_F.huber_loss(y, t, reduction="none"), PREDICTIONS * 2, REAL_TARGETS),
    "smooth-l1": (F.smooth_l1_loss, lambda y, t: TORCH_F.smooth_l1_loss(y, t, reduction="none"), PREDICTIONS * 2,
                  REAL_TARGETS),
    "bce": (F.binary_cross_entropy, lambda y, t: TORCH_F.binary_cross_entropy(y, t, reduction="none"), PROBABILITIES,
            BINARY_TARGETS),
    "bce-logits": (F.binary_cross_entropy_with_logits,
                   lambda y, t: TORCH_F.binary_cross_entropy_with_logits(y, t, reduction="none"), PREDICTIONS,
                   BINARY_TARGETS),
    "cross-entropy-labels": (F.cross_entropy, lambda y, t: TORCH_F.cross_entropy(y, t, reduction="none"),
                             PREDICTIONS, numpy.array([0, 2, 1, 1, 0, 2])),
    "cross-entropy-one-hot": (F.cross_entropy, lambda y, t: TORCH_F.cross_entropy(y, t, reduction="none"),
                              PREDICTIONS, numpy.eye(3)[[0, 2, 1, 1, 0, 2]]),
    "hinge": (F.hinge, lambda y, t: torch.clamp(1 - (2 * t - 1) * y, min=0), PREDICTIONS, BINARY_TARGETS),
    "nll": (F.nll_loss, lambda y, t: TORCH_F.nll_loss(y, t, reduction="none"), LOG_PROBABILITIES,
            numpy.array([0, 2, 1, 1, 0, 2])),
    "kl-div": (F.kl_div, lambda y, t: TORCH_F.kl_div(y, t, reduction="none"), LOG_PROBABILITIES, SOFT),
    "poisson": (F.poisson_nll_loss, lambda y, t: TORCH_F.poisson_nll_loss(y, t, reduction="none"), PREDICTIONS,
                numpy.round(2 * PROBABILITIES * 3)),
    "gaussian": (F.gaussian_nll_loss, lambda y, t, v: TORCH_F.gaussian_nll_loss(y, t, v, reduction="none"), PREDICTIONS,
                 REAL_TARGETS, (VARIANCES,)),
    "cosine-embedding": (F.cosine_embedding_loss,
                         lambda y, t, s: TORCH_F.cosine_embedding_loss(y, t, s, reduction="none"), PREDICTIONS,
                         REAL_TARGETS, (SIGNS,)),
}


def _case(name):
    """(loss, torch's terms, predictions, targets, inputs) of WEIGHTED_LOSSES[name]."""
    loss, torch_terms, predictions, targets, *inputs = WEIGHTED_LOSSES[name]
    return loss, torch_terms, predictions, targets, inputs[0] if inputs else ()


def test_every_shipped_loss_takes_weights():
    shipped = {record.function for record in nn.LOSSES.records.values()
               if record.function.__module__.startswith("nablanet.")}
    assert shipped == {case[0] for case in WEIGHTED_LOSSES.values()}
    assert all(nn.loss_record(function).weighted for function in shipped)
    assert nn.loss_record("huber").options == {"delta": 1.0, "reduction": "mean"}  # a weight is data, not a setting


@pytest.mark.parametrize("name", sorted(WEIGHTED_LOSSES))
def test_weighted_loss_gradients_match_finite_differences(name):
    loss, _, predictions, targets, inputs = _case(name)
    check_grads(lambda y: loss(y, targets, *inputs, sample_weight=WEIGHTS), [predictions],
                order=2 if name != "bce" else 1, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(WEIGHTED_LOSSES))
def test_weighted_loss_equals_torchs_weighted_mean(name):
    # torch: (loss(reduction='none'), each row's mean, times w).sum() / w.sum(), as
    # (cross_entropy(reduction='none') * w).sum() / w.sum() for the cross-entropy.
    loss, torch_elements, predictions, targets, inputs = _case(name)
    ours = Tensor(predictions, requires_grad=True)
    value = loss(ours, targets, *inputs, sample_weight=WEIGHTS)
    value.backward()
    theirs = torch.tensor(predictions, requires_grad=True)
    elements = torch_elements(theirs, torch.tensor(targets), *map(torch.tensor, inputs))
    per_row = elements if elements.ndim == 1 else elements.mean(dim=1)
    w = torch.tensor(WEIGHTS)
    reference = (per_row * w).sum() / w.sum()
    reference.backward()
    assert float(value) == pytest.approx(reference.item(), rel=1e-12)
    numpy.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("name", sorted(WEIGHTED_LOSSES))
def test_equal_weights_are_the_mean_and_zero_weights_drop_a_row(name):
    loss, _, predictions, targets, inputs = _case(name)
    unweighted = float(loss(predictions, targets, *inputs))
    assert float(loss(predictions, targets, *inputs, sample_weight=numpy.full(6, 2.5))) == pytest.approx(unweighted,
                                                                                                         rel=1e-13)
    kept = numpy.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    rows = kept > 0
    assert float(loss(predictions, targets, *inputs, sample_weight=kept)) == pytest.approx(
        float(loss(predictions[rows], targets[rows], *(v[rows] for v in inputs))), rel=1e-13)
    # A weight of 2 counts a row twice.
    twice = numpy.array([2.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    repeated = [0, 0, 1, 2, 3, 4, 5]
    assert float(loss(predictions, targets, *inputs, sample_weight=twice)) == pytest.approx(
        float(loss(predictions[repeated], targets[repeated], *(v[repeated] for v in inputs))), rel=1e-13)


def test_all_zero_weights_give_zero_loss_and_no_gradient():
    value, gradient = value_and_grad(lambda y: F.cross_entropy(y, numpy.array([0, 2, 1, 1, 0, 2]),
                                                               sample_weight=numpy.zeros(6)))(PREDICTIONS)
    assert float(value) == 0.0 and not gradient.any()


@pytest.mark.parametrize("weights, message", [
    (numpy.ones(5), r"mse: sample_weight must be a vector of one weight per sample, shape \(6,\), got shape \(5,\)"),
    (numpy.ones((6, 1)), r"shape \(6,\), got shape \(6, 1\)"),
    (-WEIGHTS, "mse: sample_weight must be non-negative"),
    (numpy.full(6, numpy.nan), "mse: sample_weight contains NaN or infinite values"),
    (numpy.array(["a"] * 6), "mse: sample_weight must be real numbers"),
])
def test_bad_weights_are_a_clear_error(weights, message):
    with pytest.raises(ValueError, match=message):
        F.mse(PREDICTIONS, REAL_TARGETS, sample_weight=weights)


def test_weighted_mean_weighs_each_rows_mean():
    terms = numpy.array([[1.0, 1.0], [3.0, 5.0]])
    # Row means 1 and 4, weighted 3 : 1.
    assert float(F.weighted_mean(terms, numpy.array([3.0, 1.0]))) == pytest.approx((3 * 1 + 1 * 4) / 4)
    assert float(F.weighted_mean(terms)) == 2.5
