"""The losses' PyTorch options over hypothesis-generated configurations: values and gradients equal to torch's
in float64, finite-difference checks in both modes to second order; reductions, class weights, ignored labels,
label smoothing, classes on axis 1, probability targets, pos_weight, and the new losses' own options."""

import numpy
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nablanet import Tensor, grad, hessian, value_and_grad
from nablanet.nn import functional as F
from nablanet.testing import check_grads

TF = torch.nn.functional
REDUCTIONS = st.sampled_from(["mean", "sum", "none"])
EXAMPLES = settings(max_examples=30, deadline=None)
# Measured over six runs of each test: values within 5e-13 of torch's, elementwise and relative (the smallest
# terms of binary_cross_entropy_with_logits, where torch's own rounding shows), gradients within 3e-14 of the
# largest entry.
RTOL, ATOL = 1e-10, 1e-12
# The finite-difference checks' tolerance: a loss's derivative along a random direction can cancel to a small
# part of the loss (1e-5 of it where a softmax or sigmoid saturates), and the central difference's rounding,
# about 1e-16 / 1e-6 of the loss, is then a larger part of the derivative than check_grads' default 1e-6.
GRAD_RTOL = 1e-5


def _equal_to_torch(ours, theirs, arrays, constants=(), seed=0):
    """ours(*Tensors) against theirs(*torch tensors): the values, and the VJPs of a random cotangent u
    (the gradients of sum(u * loss)) with respect to every one of ``arrays``."""
    mine = [Tensor(a, requires_grad=True) for a in arrays]
    value = ours(*mine)
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    expected = theirs(*tensors)
    numpy.testing.assert_allclose(numpy.asarray(value.data), expected.detach().numpy(), rtol=RTOL, atol=ATOL)
    u = numpy.random.default_rng(seed).standard_normal(numpy.shape(value.data))
    (value * u).sum().backward()
    (expected * torch.tensor(u)).sum().backward()
    for a, t in zip(mine, tensors):
        numpy.testing.assert_allclose(a.grad, t.grad.numpy(), rtol=RTOL, atol=ATOL)


# --- cross_entropy and nll_loss -----------------------------------------------------------------------

@st.composite
def class_problems(draw):
    """(logits, labels, soft targets, class weights or None, ignore_index, label_smoothing, reduction): classes
    on axis 1 of (N, C, d1, ...) or axis 0 of one sample (C,); some labels ignored, or none."""
    seed = draw(st.integers(0, 2 ** 20))
    rng = numpy.random.default_rng(seed)
    n_classes = draw(st.integers(2, 4))
    unbatched = draw(st.booleans()) and draw(st.booleans())
    extra = () if unbatched else tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    batch = () if unbatched else (draw(st.integers(1, 4)),)
    logits = 2 * rng.standard_normal(batch + (n_classes,) + extra)
    labels = rng.integers(0, n_classes, batch + extra)
    soft = rng.dirichlet(numpy.ones(n_classes), batch + extra)
    soft = numpy.moveaxis(soft, -1, 0 if unbatched else 1)
    ignore_index = draw(st.sampled_from([-100, 0, 1]))
    if draw(st.booleans()):
        labels = numpy.where(rng.random(labels.shape) < 0.3, ignore_index, labels)
    weight = rng.uniform(0.2, 3.0, n_classes) if draw(st.booleans()) else None
    smoothing = draw(st.sampled_from([0.0, 0.0, 0.1, 1.0]) | st.floats(0.0, 1.0))
    return logits, labels, soft, weight, ignore_index, smoothing, draw(REDUCTIONS)


def _torch_weight(weight):
    return None if weight is None else torch.tensor(weight)


def _all_ignored(labels, weight, ignore_index, reduction):
    # torch's mean is then 0/0 = nan; ours is 0 (tested below).
    kept = labels != ignore_index
    counted = kept.sum() if weight is None else (numpy.where(kept, weight[numpy.where(kept, labels, 0)], 0)).sum()
    return reduction == "mean" and counted == 0


@settings(max_examples=30, deadline=None)
@given(class_problems(), st.sampled_from(["labels", "probabilities", "nll"]))
def test_cross_entropy_and_nll_loss_equal_torch(problem, case):
    logits, labels, soft, weight, ignore_index, smoothing, reduction = problem
    if case != "probabilities" and _all_ignored(labels, weight, ignore_index, reduction):
        return
    w = _torch_weight(weight)
    if case == "nll":
        log_p = logits - numpy.log(numpy.exp(logits).sum(axis=0 if logits.ndim == 1 else 1, keepdims=True))
        _equal_to_torch(lambda x: F.nll_loss(x, labels, weight, ignore_index=ignore_index, reduction=reduction),
                        lambda x: TF.nll_loss(x, torch.tensor(labels), w, ignore_index=ignore_index,
                                              reduction=reduction), [log_p])
        return
    # ignore_index applies to labels only (PyTorch refuses it with probabilities): its default for those.
    targets, ignored = (labels, ignore_index) if case == "labels" else (soft, -100)
    _equal_to_torch(lambda z: F.cross_entropy(z, targets, weight, ignore_index=ignored, label_smoothing=smoothing,
                                              reduction=reduction),
                    lambda z: TF.cross_entropy(z, torch.tensor(targets), w, ignore_index=ignored,
                                               label_smoothing=smoothing, reduction=reduction), [logits])


@settings(max_examples=25, deadline=None)
@given(class_problems(), st.booleans())
def test_cross_entropy_and_nll_gradients_match_finite_differences(problem, soft_targets):
    logits, labels, soft, weight, ignore_index, smoothing, reduction = problem
    targets = soft if soft_targets else labels
    check_grads(lambda z: F.cross_entropy(z, targets, weight, ignore_index=ignore_index, label_smoothing=smoothing,
                                          reduction=reduction), [logits], order=2, rtol=GRAD_RTOL)
    check_grads(lambda x: F.nll_loss(x, targets, weight, ignore_index=ignore_index, reduction=reduction), [logits],
                order=2, rtol=GRAD_RTOL)


def test_nll_of_log_softmax_is_cross_entropy_and_soft_targets_are_the_one_hot_labels():
    rng = numpy.random.default_rng(3)
    logits, labels = rng.standard_normal((5, 3, 2)), rng.integers(0, 3, (5, 2))
    weight = numpy.array([0.5, 2.0, 1.0])
    log_p = F.log_softmax(logits, axis=1)
    assert float(F.nll_loss(log_p, labels, weight)) == pytest.approx(float(F.cross_entropy(logits, labels, weight)),
                                                                    rel=1e-14)
    one_hot = numpy.moveaxis(numpy.eye(3)[labels], -1, 1)
    assert float(F.nll_loss(log_p, one_hot)) == pytest.approx(float(F.nll_loss(log_p, labels)), rel=1e-14)


def test_the_composed_cross_entropy_equals_the_fused_primitive_to_second_order():
    # Unit class weights take the composition of log_softmax and the picked labels; without them the
    # fused SoftmaxCrossEntropy runs (classes moved last for (N, C, d1)): the two agree to rounding.
    rng = numpy.random.default_rng(6)
    logits = rng.standard_normal((3, 4, 2))
    for targets in (rng.integers(0, 4, (3, 2)), numpy.moveaxis(rng.dirichlet(numpy.ones(4), (3, 2)), -1, 1)):
        def fused(z):
            return F.cross_entropy(z, targets)

        def composed(z):
            return F.cross_entropy(z, targets, numpy.ones(4))

        assert float(fused(logits)) == pytest.approx(float(composed(logits)), rel=1e-14)
        numpy.testing.assert_allclose(grad(fused)(logits), grad(composed)(logits), rtol=1e-13, atol=1e-16)
        numpy.testing.assert_allclose(hessian(fused)(logits), hessian(composed)(logits), rtol=1e-12, atol=1e-15)


def test_every_label_ignored_gives_zero_and_no_gradient_where_torch_gives_nan():
    logits = numpy.random.default_rng(4).standard_normal((3, 4))
    labels = numpy.full(3, -100)
    for loss in (lambda z: F.cross_entropy(z, labels, label_smoothing=0.2), lambda z: F.nll_loss(z, labels)):
        value, gradient = value_and_grad(loss)(logits)
        assert float(value) == 0.0 and not gradient.any()
    assert numpy.isnan(TF.cross_entropy(torch.tensor(logits), torch.tensor(labels)).item())
    # A zero class weight counts for nothing, as an ignored label does.
    value = F.cross_entropy(logits, numpy.array([1, 1, 2]), numpy.array([1.0, 0.0, 1.0, 1.0]))
    assert float(value) == pytest.approx(float(F.cross_entropy(logits[2:], numpy.array([2]))), rel=1e-14)


def test_sample_weights_multiply_the_class_weights():
    # C = sum_n s_n w_{y_n} l_n / sum_n s_n w_{y_n}: a sample weight of 2 counts the sample twice.
    rng = numpy.random.default_rng(5)
    logits, labels = rng.standard_normal((4, 3)), numpy.array([0, 2, -100, 1])
    weight = numpy.array([0.5, 2.0, 1.5])
    repeated = [0, 0, 1, 2, 3]
    for loss in (F.cross_entropy, F.nll_loss):
        weighted = loss(logits, labels, weight, sample_weight=numpy.array([2.0, 1.0, 1.0, 1.0]))
        assert float(weighted) == pytest.approx(float(loss(logits[repeated], labels[repeated], weight)), rel=1e-14)
        check_grads(lambda z: loss(z, labels, weight, sample_weight=numpy.array([2.0, 1.0, 3.0, 0.5])), [logits])


def test_cross_entropy_options_are_checked():
    logits, labels = numpy.zeros((3, 4)), numpy.array([0, 1, 2])
    with pytest.raises(ValueError, match=r"class indices in 0..3, got values from 0 to 7 "
                                         r"\(besides ignore_index=-100\)"):
        F.cross_entropy(logits, numpy.array([0, 7, -100]))
    with pytest.raises(ValueError, match=r"cross_entropy: weight of shape \(3,\) does not broadcast to one weight "
                                         r"per class \(4,\)"):
        F.cross_entropy(logits, labels, numpy.ones(3))
    with pytest.raises(ValueError, match=r"label_smoothing must be a number in \[0, 1\], got 1.5"):
        F.cross_entropy(logits, labels, label_smoothing=1.5)
    with pytest.raises(ValueError, match="reduction must be one of 'mean', 'sum', 'none', got 'batchmean'"):
        F.cross_entropy(logits, labels, reduction="batchmean")
    with pytest.raises(ValueError, match="sample_weight weighs the mean over samples, so it needs reduction='mean'"):
        F.cross_entropy(logits, labels, reduction="sum", sample_weight=numpy.ones(3))
    with pytest.raises(ValueError, match=r"labels of shape \(3,\) do not match predictions of shape \(3, 4, 2\) "
                                         r"\(expected labels of shape \(3, 2\): the classes are on axis 1\)"):
        F.cross_entropy(numpy.zeros((3, 4, 2)), labels, label_smoothing=0.1)


# --- the binary and regression losses' options ----------------------------------------------------------

@st.composite
def value_problems(draw):
    seed = draw(st.integers(0, 2 ** 20))
    rng = numpy.random.default_rng(seed)
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    return rng, shape, draw(REDUCTIONS)


@EXAMPLES
@given(value_problems(), st.booleans(), st.booleans())
def test_binary_cross_entropies_with_weights_equal_torch(problem, weighted, pos_weighted):
    rng, shape, reduction = problem
    logits = 3 * rng.standard_normal(shape)
    targets = rng.uniform(0.0, 1.0, shape) if rng.random() < 0.5 else rng.integers(0, 2, shape).astype(float)
    weight = rng.uniform(0.2, 2.0, shape[-1:]) if weighted else None
    pos_weight = rng.uniform(0.2, 4.0, shape[-1:]) if pos_weighted else None
    torch_weight, torch_pos = _torch_weight(weight), _torch_weight(pos_weight)
    t = torch.tensor(targets)

    def with_logits(z):
        return F.binary_cross_entropy_with_logits(z, targets, weight, pos_weight=pos_weight, reduction=reduction)

    _equal_to_torch(with_logits, lambda z: TF.binary_cross_entropy_with_logits(
        z, t, torch_weight, pos_weight=torch_pos, reduction=reduction), [logits])
    # |z| <= 4: beyond, the derivatives shrink like e^-|z| below the finite difference's rounding.
    check_grads(with_logits, [numpy.clip(logits, -4.0, 4.0)], order=2, rtol=GRAD_RTOL)
    probabilities = 1 / (1 + numpy.exp(-logits))
    _equal_to_torch(lambda p: F.binary_cross_entropy(p, targets, weight, reduction=reduction),
                    lambda p: TF.binary_cross_entropy(p, t, torch_weight, reduction=reduction), [probabilities])
    # Away from p = 0 and 1, where the curvature 1/p^2 outgrows the finite difference's step; first order
    # only: the floor of the logarithms at -100 makes the second derivative a step function.
    check_grads(lambda p: F.binary_cross_entropy(p, targets, weight, reduction=reduction),
                [numpy.clip(probabilities, 0.05, 0.95)], order=1, rtol=GRAD_RTOL)


def test_bce_with_logits_keeps_the_digits_of_confident_right_answers():
    # -log sigmoid(z) = log1p(e^-z): written s(z) - t z, z = 10 and t = 1 had a relative error of 1.9e-11 (measured).
    z = numpy.array([10.0, 30.0, -20.0, 0.0])
    t = numpy.array([1.0, 1.0, 0.0, 1.0])
    exact = numpy.log1p(numpy.exp(-numpy.abs(z)))
    for pos_weight in (None, numpy.full(4, 3.0)):
        terms = F.binary_cross_entropy_with_logits(z, t, pos_weight=pos_weight, reduction="none")
        numpy.testing.assert_allclose(terms, exact * numpy.where((t == 1) & (pos_weight is not None), 3.0, 1.0),
                                      rtol=1e-15)


@EXAMPLES
@given(value_problems(), st.floats(0.1, 3.0))
def test_regression_losses_and_hinge_reduce_as_torch(problem, delta):
    rng, shape, reduction = problem
    y, t = 2 * rng.standard_normal(shape), rng.standard_normal(shape)
    signs = rng.integers(0, 2, shape).astype(float)
    cases = [
        (lambda a: F.mse(a, t, reduction=reduction), lambda a: TF.mse_loss(a, torch.tensor(t), reduction=reduction)),
        (lambda a: F.mae(a, t, reduction=reduction), lambda a: TF.l1_loss(a, torch.tensor(t), reduction=reduction)),
        (lambda a: F.huber(a, t, delta, reduction=reduction),
         lambda a: TF.huber_loss(a, torch.tensor(t), delta=delta, reduction=reduction)),
        (lambda a: F.smooth_l1_loss(a, t, delta, reduction=reduction),
         lambda a: TF.smooth_l1_loss(a, torch.tensor(t), beta=delta, reduction=reduction)),
        (lambda a: F.smooth_l1_loss(a, t, 0.0, reduction=reduction),
         lambda a: TF.smooth_l1_loss(a, torch.tensor(t), beta=0.0, reduction=reduction)),
        (lambda a: F.hinge(a, signs, reduction=reduction),
         lambda a: _reduced(torch.clamp(1 - (2 * torch.tensor(signs) - 1) * a, min=0), reduction)),
    ]
    for ours, theirs in cases:
        _equal_to_torch(ours, theirs, [y])
        check_grads(ours, [y], order=2, rtol=GRAD_RTOL)


def _reduced(terms, reduction):
    return {"mean": terms.mean, "sum": terms.sum, "none": lambda: terms}[reduction]()


# --- kl_div, poisson_nll_loss, gaussian_nll_loss, cosine_embedding_loss -------------------------------

@EXAMPLES
@given(value_problems(), st.booleans(), st.sampled_from(["mean", "batchmean", "sum", "none"]))
def test_kl_div_equals_torch(problem, log_target, reduction):
    rng, shape, _ = problem
    log_q = numpy.log(rng.dirichlet(numpy.ones(shape[-1]), shape[:-1]))
    p = rng.dirichlet(numpy.ones(shape[-1]), shape[:-1])
    if shape[-1] > 1:
        p[..., 0] = 0.0  # a zero probability: its term is 0, as the limit p log p -> 0
    target = numpy.log(p + 1e-3) if log_target else p

    def ours(x):
        return F.kl_div(x, target, reduction=reduction, log_target=log_target)

    if reduction == "mean":
        # torch warns that its 'mean' is not the KL divergence ('batchmean' is): its formula instead.
        pointwise = TF.kl_div(torch.tensor(log_q), torch.tensor(target), reduction="none", log_target=log_target)
        numpy.testing.assert_allclose(float(ours(log_q)), pointwise.mean().item(), rtol=RTOL, atol=ATOL)
    else:
        _equal_to_torch(ours, lambda x: TF.kl_div(x, torch.tensor(target), reduction=reduction, log_target=log_target),
                        [log_q])
    check_grads(ours, [log_q], order=2, rtol=GRAD_RTOL)


@EXAMPLES
@given(value_problems(), st.booleans(), st.booleans())
def test_poisson_nll_loss_equals_torch(problem, log_input, full):
    rng, shape, reduction = problem
    counts = rng.poisson(2.0, shape).astype(float)
    predictions = rng.standard_normal(shape) if log_input else rng.uniform(0.0, 3.0, shape)

    def ours(x):
        return F.poisson_nll_loss(x, counts, log_input=log_input, full=full, reduction=reduction)

    _equal_to_torch(ours, lambda x: TF.poisson_nll_loss(x, torch.tensor(counts), log_input=log_input, full=full,
                                                        reduction=reduction), [predictions])
    # Rates away from 0, where the curvature t / lambda^2 grows past the finite difference's reach.
    check_grads(ours, [predictions if log_input else predictions + 0.5], order=2, rtol=GRAD_RTOL)


@EXAMPLES
@given(value_problems(), st.booleans(), st.sampled_from(["same", "last axis dropped", "one axis of size 1"]))
def test_gaussian_nll_loss_equals_torch_in_the_mean_and_the_variance(problem, full, var_shape):
    rng, shape, reduction = problem
    mu, t = rng.standard_normal(shape), rng.standard_normal(shape)
    if var_shape == "same":
        shape_of_var = shape
    elif var_shape == "last axis dropped":
        shape_of_var = shape[:-1]
    else:
        shape_of_var = shape[:-1] + (1,)
    var = rng.uniform(0.1, 2.0, shape_of_var)

    def ours(m, v):
        return F.gaussian_nll_loss(m, t, v, full=full, reduction=reduction)

    _equal_to_torch(ours, lambda m, v: TF.gaussian_nll_loss(m, torch.tensor(t), v, full=full, reduction=reduction),
                    [mu, var])
    check_grads(ours, [mu, var], order=2, rtol=GRAD_RTOL)


def test_gaussian_nll_loss_clamps_the_variance_outside_its_derivative_as_torch():
    mu, t = numpy.array([0.3, -1.0, 2.0]), numpy.array([0.0, 0.5, 1.0])
    var = numpy.array([1e-9, 0.0, 0.5])
    _equal_to_torch(lambda m, v: F.gaussian_nll_loss(m, t, v, eps=1e-4),
                    lambda m, v: TF.gaussian_nll_loss(m, torch.tensor(t), v, eps=1e-4), [mu, var])
    homoscedastic = float(F.gaussian_nll_loss(mu, t, numpy.full(3, 0.5)))
    assert float(F.gaussian_nll_loss(mu, t, 0.5)) == pytest.approx(homoscedastic, rel=1e-15)
    with pytest.raises(ValueError, match="the variances must be non-negative, got a minimum of -1.0"):
        F.gaussian_nll_loss(mu, t, -var - 0.5)
    with pytest.raises(ValueError, match=r"var of shape \(2,\) does not fit predictions of shape \(3,\)"):
        F.gaussian_nll_loss(mu, t, numpy.ones(2))


@EXAMPLES
@given(st.integers(0, 2 ** 20), st.integers(1, 4), st.integers(2, 4), st.floats(-0.5, 0.9), REDUCTIONS,
       st.booleans())
def test_cosine_embedding_loss_equals_torch_for_both_embeddings(seed, n, dim, margin, reduction, one_pair):
    # One dimension would make every cosine +-1, a constant: D >= 2.
    rng = numpy.random.default_rng(seed)
    shape = (dim,) if one_pair else (n, dim)
    x1, x2 = rng.standard_normal(shape), rng.standard_normal(shape)
    y = numpy.array(rng.choice([-1, 1])) if one_pair else rng.choice([-1, 1], n)

    def ours(a, b):
        return F.cosine_embedding_loss(a, b, y, margin=margin, reduction=reduction)

    _equal_to_torch(ours, lambda a, b: TF.cosine_embedding_loss(a, b, torch.tensor(y), margin=margin,
                                                                reduction=reduction), [x1, x2])
    # Away from the hinge's kink at cos = margin, where the finite difference would straddle it.
    cos = (x1 * x2).sum(-1) / numpy.sqrt((x1 * x1).sum(-1) * (x2 * x2).sum(-1))
    if numpy.all(numpy.abs(cos - margin) > 1e-3):
        # Directions drawn apart from the data: along (x1, x2) themselves the cosine does not change.
        check_grads(ours, [x1, x2], order=2, rtol=GRAD_RTOL, rng=numpy.random.default_rng([seed, 1]))


def test_the_new_losses_refuse_bad_input_by_name():
    with pytest.raises(ValueError, match="kl_div: the targets must be probabilities"):
        F.kl_div(numpy.zeros(3), numpy.array([0.5, -0.1, 0.6]))
    with pytest.raises(ValueError, match="kl_div: reduction must be one of 'mean', 'batchmean', 'sum', 'none'"):
        F.kl_div(numpy.zeros(3), numpy.ones(3) / 3, reduction="max")
    with pytest.raises(ValueError, match="poisson_nll_loss: the targets must be counts"):
        F.poisson_nll_loss(numpy.zeros(2), numpy.array([1.0, -2.0]))
    with pytest.raises(ValueError, match="without log_input the predictions are rates"):
        F.poisson_nll_loss(numpy.array([-1.0, 2.0]), numpy.ones(2), log_input=False)
    with pytest.raises(ValueError, match=r"cosine_embedding_loss: y must be 1 \(similar\) or -1 \(dissimilar\)"):
        F.cosine_embedding_loss(numpy.ones((2, 3)), numpy.ones((2, 3)), numpy.array([1, 0]))
    with pytest.raises(ValueError, match=r"cosine_embedding_loss: y of shape \(3,\) does not fit embeddings of shape"):
        F.cosine_embedding_loss(numpy.ones((2, 3)), numpy.ones((2, 3)), numpy.ones(3))
