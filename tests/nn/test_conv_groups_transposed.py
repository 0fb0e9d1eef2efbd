"""Grouped and depthwise convolutions (groups=) and ConvTranspose1d/2d: equality with PyTorch's to 1e-8 in float64
(values and every gradient) over drawn configurations, finite-difference checks of both modes to second order,
and their errors."""

import numpy
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import nablanet.nn as nn
from layer_oracle import assert_matches_torch, layer_as_function, same
from nablanet.testing import check_grads

F64 = numpy.float64
DRAWN = settings(max_examples=50, deadline=None, derandomize=True, database=None)
GROUPED = {1: (nn.Conv1d, torch.nn.Conv1d), 2: (nn.Conv2d, torch.nn.Conv2d)}
TRANSPOSED = {1: (nn.ConvTranspose1d, torch.nn.ConvTranspose1d), 2: (nn.ConvTranspose2d, torch.nn.ConvTranspose2d)}


def _pairs(layer):
    pairs = {"weight": (layer.W, same)}
    if layer.b is not None:
        pairs["bias"] = (layer.b, same)
    return pairs


def _assert_layer_matches_torch(classes, c_in, c_out, kernel, options, spatial, seed):
    rng = numpy.random.default_rng(seed + 1)
    ours_cls, theirs_cls = classes
    ours = ours_cls(c_in, c_out, kernel, rng=seed, dtype=F64, **options)
    if ours.b is not None:
        ours.b.data[...] = rng.standard_normal(c_out)
    theirs = theirs_cls(c_in, c_out, kernel, **options).double()
    assert_matches_torch(ours, theirs, [rng.standard_normal((2, c_in) + spatial)], _pairs(ours), seed=seed)


@DRAWN
@given(dims=st.sampled_from([1, 2]), groups=st.sampled_from([1, 2, 3]), per_group=st.tuples(st.integers(1, 2),
       st.integers(1, 3)), kernel=st.integers(1, 3), stride=st.integers(1, 2), padding=st.integers(0, 1),
       dilation=st.integers(1, 2), bias=st.booleans(), depthwise=st.booleans(), seed=st.integers(0, 999))
def test_grouped_convolution_equals_torch(dims, groups, per_group, kernel, stride, padding, dilation, bias, depthwise,
                                          seed):
    c_in, c_out = per_group[0] * groups, per_group[1] * groups
    if depthwise:
        c_in = groups  # one input channel per group, a multiplier of outputs each
    rng = numpy.random.default_rng(seed)
    spatial = tuple(rng.integers(dilation * (kernel - 1) + 1, 7, dims))
    options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias)
    _assert_layer_matches_torch(GROUPED[dims], c_in, c_out, kernel, options, spatial, seed)


@DRAWN
@given(dims=st.sampled_from([1, 2]), groups=st.sampled_from([1, 2]), per_group=st.tuples(st.integers(1, 2),
       st.integers(1, 3)), kernel=st.integers(1, 4), stride=st.integers(1, 3), padding=st.integers(0, 2),
       output_padding=st.integers(0, 2), dilation=st.integers(1, 2), bias=st.booleans(), seed=st.integers(0, 999))
def test_transposed_convolution_equals_torch(dims, groups, per_group, kernel, stride, padding, output_padding,
                                             dilation, bias, seed):
    assume(output_padding < max(stride, dilation))
    c_in, c_out = per_group[0] * groups, per_group[1] * groups
    rng = numpy.random.default_rng(seed)
    spatial = tuple(rng.integers(1, 5, dims))
    assume(all((m - 1) * stride + dilation * (kernel - 1) + 1 + output_padding - 2 * padding >= 1 for m in spatial))
    options = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, bias=bias,
                   dilation=dilation)
    _assert_layer_matches_torch(TRANSPOSED[dims], c_in, c_out, kernel, options, spatial, seed)


GRADIENT_CASES = {
    "conv2d-groups-2": (lambda: nn.Conv2d(4, 2, 2, groups=2, padding=1, activation="tanh", rng=0, dtype=F64),
                        (2, 4, 3, 3)),
    "conv1d-depthwise": (lambda: nn.Conv1d(3, 6, 3, groups=3, stride=2, rng=1, dtype=F64), (2, 3, 7)),
    "convtranspose1d-output-padding": (lambda: nn.ConvTranspose1d(2, 3, 3, stride=2, padding=1, output_padding=1,
                                                                  activation="elu", rng=2, dtype=F64), (2, 2, 4)),
    "convtranspose2d-groups-dilation": (lambda: nn.ConvTranspose2d(4, 2, 2, groups=2, dilation=2, rng=3, dtype=F64),
                                        (1, 4, 3, 2)),
}


@pytest.mark.parametrize("name", sorted(GRADIENT_CASES))
def test_grouped_and_transposed_gradients_match_finite_differences_to_second_order(name):
    make, shape = GRADIENT_CASES[name]
    rng = numpy.random.default_rng(4)
    layer = make()
    for p in layer.parameters():
        p.data[...] = rng.standard_normal(p.shape)
    f, args = layer_as_function(layer, rng.standard_normal(shape))
    check_grads(f, args, modes=("fwd", "rev"), order=2, rtol=1e-6, rng=rng)


def test_a_transposed_convolution_inverts_the_shape_of_its_convolution():
    # The U-Net's decoder: a strided convolution's output mapped back to its input's size, output_padding
    # choosing between the sizes (7 and 8 both give 4 with stride 2) the convolution merges.
    down = nn.Conv2d(3, 5, 3, stride=2, padding=1, rng=0)
    for size, output_padding in ((8, 1), (7, 0)):
        x = numpy.ones((1, 3, size, size), dtype=numpy.float32)
        up = nn.ConvTranspose2d(5, 3, 3, stride=2, padding=1, output_padding=output_padding, rng=0)
        assert up(down(x)).shape == x.shape


def test_grouped_and_transposed_convolutions_name_their_errors():
    with pytest.raises(ValueError, match=r"Conv2d: in_channels \(3\) must be divisible by groups \(2\)"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"Conv1d: out_channels \(3\) must be divisible by groups \(2\)"):
        nn.Conv1d(2, 3, 3, groups=2)
    with pytest.raises(ValueError, match=r"ConvTranspose2d: output_padding must be smaller than the stride or the "
                                         r"dilation, got output_padding \(2, 2\) with stride \(2, 2\)"):
        nn.ConvTranspose2d(2, 2, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"ConvTranspose1d: expected input of shape \(N, C_in, L\), got \(2, 4\)"):
        nn.ConvTranspose1d(4, 2, 3)(numpy.ones((2, 4), dtype=numpy.float32))
    with pytest.raises(ValueError, match=r"input of shape \(1, 3, 4\) does not fit kernels of shape \(4, 1, 3\)"):
        nn.ConvTranspose1d(4, 2, 3, groups=2)(numpy.ones((1, 3, 4), dtype=numpy.float32))
    with pytest.raises(TypeError, match="ConvTranspose2d: padding must be a non-negative integer or 2 of them, got 'same'"):
        nn.ConvTranspose2d(2, 2, 3, padding="same")
