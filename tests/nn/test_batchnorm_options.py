"""BatchNorm's PyTorch options: affine=False, track_running_stats=False, momentum=None (the cumulative average).
Equality with torch.nn.BatchNorm1d/2d to 1e-8 in float64 over drawn configurations (outputs, gradients, the
running estimates after several steps, evaluation mode), finite-difference checks of both modes to second order,
and the state each option keeps."""

import numpy
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import nablanet.nn as nn
from layer_oracle import assert_matches_torch, layer_as_function, same
from nablanet.testing import check_grads

F64 = numpy.float64
DRAWN = settings(max_examples=25, deadline=None, derandomize=True, database=None)
TORCH_CLASSES = {2: torch.nn.BatchNorm1d, 3: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d}


def _pair(affine, track, momentum, features, ndim, rng):
    ours = nn.BatchNorm(features, momentum=momentum, affine=affine, track_running_stats=track, dtype=F64)
    theirs = TORCH_CLASSES[ndim](features, momentum=momentum, affine=affine, track_running_stats=track).double()
    if affine:
        ours.gamma.data[...] = rng.standard_normal(features)
        ours.beta.data[...] = rng.standard_normal(features)
    return ours, theirs


def _pairs(layer):
    return {"weight": (layer.gamma, same), "bias": (layer.beta, same)} if layer.affine else {}


@DRAWN
@given(affine=st.booleans(), track=st.booleans(), momentum=st.sampled_from([None, 0.0, 0.3, 1.0]),
       features=st.integers(1, 3), ndim=st.sampled_from([2, 3, 4]), steps=st.integers(1, 4), seed=st.integers(0, 999))
def test_batchnorm_options_equal_torch_over_training_steps_and_in_evaluation(affine, track, momentum, features, ndim,
                                                                           steps, seed):
    rng = numpy.random.default_rng(seed)
    ours, theirs = _pair(affine, track, momentum, features, ndim, rng)
    shape = (int(rng.integers(2, 5)), features) + tuple(rng.integers(1, 4, ndim - 2))
    for step in range(steps):
        # Batches of changing mean and spread: a cumulative average and an exponential one differ.
        x = rng.normal(step - 1.0, 1.0 + step, shape)
        assert_matches_torch(ours, theirs, [x], _pairs(ours), seed=seed + step)
        if track:
            numpy.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=1e-12, atol=1e-14)
            numpy.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-12, atol=1e-14)
    ours.eval()
    theirs.eval()
    assert_matches_torch(ours, theirs, [rng.normal(0.5, 2.0, shape)], _pairs(ours), seed=seed)


def test_momentum_none_is_the_plain_average_of_the_batches_statistics():
    # Three batches of 4 values each: the running mean is the mean of the three batch means, the running
    # variance the mean of the three unbiased variances (worked from the values, not from the layer).
    layer = nn.BatchNorm(1, momentum=None, dtype=F64)
    batches = [numpy.array([0.0, 1.0, 2.0, 3.0]), numpy.array([10.0, 10.0, 12.0, 12.0]), numpy.array([-4.0, 0.0, 0.0, 4.0])]
    for values in batches:
        layer(values.reshape(4, 1))
    assert int(layer.num_batches_tracked) == 3
    # means 1.5, 11, 0; unbiased variances 5/3, 4/3, 32/3
    numpy.testing.assert_allclose(layer.running_mean, [(1.5 + 11.0 + 0.0) / 3], rtol=1e-15)
    numpy.testing.assert_allclose(layer.running_var, [(5 / 3 + 4 / 3 + 32 / 3) / 3], rtol=1e-15)


@pytest.mark.parametrize("affine, track, training, shape", [
    (False, True, True, (4, 2, 3)), (False, False, False, (3, 2, 2, 2)), (True, False, False, (5, 3)),
    (False, True, False, (2, 2, 3))])
def test_batchnorm_options_match_finite_differences_to_second_order(affine, track, training, shape):
    rng = numpy.random.default_rng(5)
    layer = nn.BatchNorm(shape[1], affine=affine, track_running_stats=track, momentum=None, dtype=F64)
    if affine:
        layer.gamma.data[...] = rng.standard_normal(shape[1])
    if track:
        layer.running_mean[...] = rng.standard_normal(shape[1])
        layer.running_var[...] = rng.uniform(0.5, 2.0, shape[1])
    if not training:
        layer.eval()
    f, args = layer_as_function(layer, rng.standard_normal(shape))
    check_grads(f, args, modes=("fwd", "rev"), order=2, rtol=1e-6, rng=rng)


def test_each_option_keeps_the_state_torch_keeps():
    assert list(nn.BatchNorm(2).state_dict()) == ["gamma", "beta", "running_mean", "running_var"]
    assert list(nn.BatchNorm(2, affine=False, track_running_stats=False).state_dict()) == []
    layer = nn.BatchNorm(2, affine=False, momentum=None)
    assert list(layer.state_dict()) == ["running_mean", "running_var", "num_batches_tracked"]
    assert list(layer.parameters()) == []
    assert [name for name, _ in nn.BatchNorm.state_spec(2, affine=False, momentum=None)] == list(layer.state_dict())
    layer(numpy.ones((3, 2)) * numpy.arange(3.0)[:, None])
    other = nn.BatchNorm(2, affine=False, momentum=None)
    other.load_state_dict(layer.state_dict())
    assert int(other.num_batches_tracked) == 1
    numpy.testing.assert_array_equal(other.running_mean, layer.running_mean)


def test_batchnorm_options_name_their_errors():
    with pytest.raises(TypeError, match="BatchNorm: affine must be True or False, got 0"):
        nn.BatchNorm(3, affine=0)
    with pytest.raises(TypeError, match="BatchNorm: track_running_stats must be True or False, got 'no'"):
        nn.BatchNorm(3, track_running_stats="no")
    with pytest.raises(TypeError, match=r"BatchNorm: momentum must be a number in \[0, 1\], got 'none'"):
        nn.BatchNorm(3, momentum="none")
    layer = nn.BatchNorm(2, track_running_stats=False)
    layer.eval()
    with pytest.raises(ValueError, match="BatchNorm in evaluation mode without track_running_stats needs more "
                                         "than one value per feature"):
        layer(numpy.ones((1, 2)))
