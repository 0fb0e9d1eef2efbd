"""LayerNorm, GroupNorm, InstanceNorm1d/2d: finite-difference checks in float64 (both modes, second order) and
equality with PyTorch's modules to 1e-8 over hypothesis-drawn configurations."""

import numpy
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import nablanet.nn as nn
from layer_oracle import assert_matches_torch, layer_as_function, same
from nablanet.testing import check_grads

F64 = numpy.float64
DRAWN = settings(max_examples=12, deadline=None, derandomize=True, database=None)


def _randomized(layer, rng):
    for p in layer.parameters():
        p.data[...] = rng.standard_normal(p.shape)
    return layer


def _affine_pairs(layer):
    pairs = {}
    if layer.gamma is not None:
        pairs["weight"] = (layer.gamma, same)
    if layer.beta is not None:
        pairs["bias"] = (layer.beta, same)
    return pairs


@DRAWN
@given(lead=st.lists(st.integers(1, 3), min_size=0, max_size=2), normalized=st.lists(st.integers(1, 5), min_size=1,
       max_size=2), eps=st.sampled_from([1e-5, 0.1]), affine=st.booleans(), bias=st.booleans(), seed=st.integers(0, 99))
def test_layer_norm_equals_torch(lead, normalized, eps, affine, bias, seed):
    rng = numpy.random.default_rng(seed)
    shape = tuple(normalized) if len(normalized) > 1 or seed % 2 else normalized[0]
    ours = _randomized(nn.LayerNorm(shape, eps=eps, elementwise_affine=affine, bias=bias, dtype=F64), rng)
    theirs = torch.nn.LayerNorm(shape, eps=eps, elementwise_affine=affine, bias=bias).double()
    x = rng.normal(1.0, 2.0, tuple(lead) + tuple(normalized))
    assert_matches_torch(ours, theirs, [x], _affine_pairs(ours))


@DRAWN
@given(groups_and_channels=st.sampled_from([(1, 3), (2, 4), (3, 6), (4, 4), (2, 2)]), spatial=st.lists(
       st.integers(1, 4), min_size=0, max_size=2), batch=st.integers(1, 3), affine=st.booleans(),
       eps=st.sampled_from([1e-5, 0.3]), seed=st.integers(0, 99))
def test_group_norm_equals_torch(groups_and_channels, spatial, batch, affine, eps, seed):
    groups, channels = groups_and_channels
    rng = numpy.random.default_rng(seed)
    ours = _randomized(nn.GroupNorm(groups, channels, eps=eps, affine=affine, dtype=F64), rng)
    theirs = torch.nn.GroupNorm(groups, channels, eps=eps, affine=affine).double()
    x = rng.normal(-1.0, 3.0, (batch, channels) + tuple(spatial))
    assume(channels // groups * int(numpy.prod(spatial)) > 1)  # one value per group is refused (see below)
    assert_matches_torch(ours, theirs, [x], _affine_pairs(ours))


@DRAWN
@given(dims=st.sampled_from([1, 2]), batched=st.booleans(), affine=st.booleans(), track=st.booleans(),
       momentum=st.sampled_from([0.1, 0.5]), seed=st.integers(0, 99))
def test_instance_norm_equals_torch_in_training_and_evaluation(dims, batched, affine, track, momentum, seed):
    rng = numpy.random.default_rng(seed)
    ours_cls, theirs_cls = {1: (nn.InstanceNorm1d, torch.nn.InstanceNorm1d), 2: (nn.InstanceNorm2d,
                                                                                torch.nn.InstanceNorm2d)}[dims]
    ours = _randomized(ours_cls(3, momentum=momentum, affine=affine, track_running_stats=track, dtype=F64), rng)
    theirs = theirs_cls(3, momentum=momentum, affine=affine, track_running_stats=track).double()
    shape = ((2,) if batched else ()) + (3,) + tuple(rng.integers(2, 5, dims))
    for step in range(3):
        assert_matches_torch(ours, theirs, [rng.normal(step, 1.0 + step, shape)], _affine_pairs(ours), seed=step)
    if track:
        numpy.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=1e-12, atol=1e-14)
        numpy.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-12)
    ours.eval()
    theirs.eval()
    assert_matches_torch(ours, theirs, [rng.normal(0.5, 2.0, shape)], _affine_pairs(ours), seed=5)


GRADIENT_CASES = {
    "layernorm": (lambda: nn.LayerNorm(4, dtype=F64), (3, 4)),
    "layernorm-2d-shape-no-bias": (lambda: nn.LayerNorm((2, 3), bias=False, eps=0.1, dtype=F64), (2, 2, 3)),
    "layernorm-no-affine": (lambda: nn.LayerNorm(5, elementwise_affine=False, dtype=F64), (2, 5)),
    "groupnorm": (lambda: nn.GroupNorm(2, 4, dtype=F64), (2, 4, 3)),
    "groupnorm-no-affine": (lambda: nn.GroupNorm(1, 3, affine=False, dtype=F64), (2, 3, 2, 2)),
    "instancenorm1d-affine": (lambda: nn.InstanceNorm1d(2, affine=True, dtype=F64), (2, 2, 5)),
    "instancenorm2d": (lambda: nn.InstanceNorm2d(2, dtype=F64), (1, 2, 3, 3)),
    "instancenorm2d-running-eval": (lambda: nn.InstanceNorm2d(2, affine=True, track_running_stats=True,
                                                              dtype=F64).eval(), (2, 2, 2, 3)),
}


@pytest.mark.parametrize("name", sorted(GRADIENT_CASES))
def test_normalization_gradients_match_finite_differences_to_second_order(name):
    make, shape = GRADIENT_CASES[name]
    rng = numpy.random.default_rng(1)
    layer = _randomized(make(), rng)
    f, args = layer_as_function(layer, rng.standard_normal(shape))
    check_grads(f, args, modes=("fwd", "rev"), order=2, rtol=1e-6, rng=rng)


def test_normalization_layers_name_their_wrong_arguments_and_inputs():
    with pytest.raises(ValueError, match=r"GroupNorm: num_channels \(6\) must be divisible by num_groups \(4\)"):
        nn.GroupNorm(4, 6)
    with pytest.raises(TypeError, match="LayerNorm: normalized_shape must be a positive integer, got 2.5"):
        nn.LayerNorm(2.5)
    with pytest.raises(ValueError, match="LayerNorm: eps must be a positive finite number, got 0"):
        nn.LayerNorm(3, eps=0)
    with pytest.raises(TypeError, match="InstanceNorm1d: affine must be True or False, got 1"):
        nn.InstanceNorm1d(3, affine=1)
    with pytest.raises(ValueError, match=r"layer_norm: an input of shape \(2, 3\) does not end with normalized_shape \(4,\)"):
        nn.LayerNorm(4)(numpy.ones((2, 3)))
    with pytest.raises(ValueError, match=r"GroupNorm\(2, 4\): expected input of shape \(N, 4, ...\), got \(2, 3\)"):
        nn.GroupNorm(2, 4)(numpy.ones((2, 3)))
    with pytest.raises(ValueError, match=r"InstanceNorm2d\(3\): expected input of shape \(N, 3, H, W\) or \(3, H, W\), "
                                         r"got \(2, 3, 4\)"):
        nn.InstanceNorm2d(3)(numpy.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"GroupNorm\(2, 2\): an input of shape \(3, 2\) has one value per group"):
        nn.GroupNorm(2, 2)(numpy.ones((3, 2)))
    with pytest.raises(ValueError, match="needs more than one spatial position per channel, got 1"):
        nn.InstanceNorm1d(3, track_running_stats=True)(numpy.ones((2, 3, 1)))


def test_layer_norm_float32_stays_float32_and_is_stable_for_a_large_mean():
    # The variance from x - mu (not E[x^2] - mu^2, which cancels to noise in float32 at a mean of 1e4).
    x = (10_000.0 + numpy.random.default_rng(2).standard_normal((4, 64))).astype(numpy.float32)
    y = nn.LayerNorm(64)(x).data
    assert y.dtype == numpy.float32
    expected = (x.astype(F64) - x.astype(F64).mean(-1, keepdims=True)) / x.astype(F64).std(-1, keepdims=True)
    numpy.testing.assert_allclose(y, expected, atol=2e-3)
