"""Pooling's PyTorch options: max pooling's dilation, ceil_mode and return_indices, average pooling's
count_include_pad=False and ceil_mode (1-D and 2-D). Equality with PyTorch to 1e-8 in float64 over drawn
configurations (values, indices, the input's gradient), finite-difference checks of both modes to second order,
and the errors."""

import numpy
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import nablanet.nn as nn
from layer_oracle import assert_matches_torch
from nablanet.testing import check_grads

DRAWN = settings(max_examples=25, deadline=None, derandomize=True, database=None)
MAX = {1: (nn.MaxPool1d, torch.nn.MaxPool1d), 2: (nn.MaxPool2d, torch.nn.MaxPool2d)}
AVG = {1: (nn.AvgPool1d, torch.nn.AvgPool1d), 2: (nn.AvgPool2d, torch.nn.AvgPool2d)}


def _input(rng, dims, kernel, dilation, padding, ties):
    # At least one window: L + 2 padding >= dilation (kernel - 1) + 1.
    shape = (2, 2) + tuple(int(rng.integers(max(dilation * (kernel - 1) + 1 - 2 * padding, 1), 8))
                           for _ in range(dims))
    # Ties (few distinct values) test which maximum the gradient goes to.
    return rng.integers(0, 3, shape).astype(float) if ties else rng.standard_normal(shape)


def _first(module, x):
    out = module(x)
    return out[0] if isinstance(out, tuple) else out


@DRAWN
@given(dims=st.sampled_from([1, 2]), kernel=st.integers(1, 3), stride=st.integers(1, 3), dilation=st.integers(1, 3),
       padding_share=st.integers(0, 1), ceil_mode=st.booleans(), return_indices=st.booleans(), ties=st.booleans(),
       seed=st.integers(0, 999))
def test_max_pool_options_equal_torch(dims, kernel, stride, dilation, padding_share, ceil_mode, return_indices, ties,
                                      seed):
    padding = padding_share * (kernel // 2)
    options = (kernel, stride, padding, dilation, return_indices, ceil_mode)
    # Without any option the overlapping windows share a tie's gradient (F.max_pool), where torch picks the first.
    ties = ties and (dilation > 1 or ceil_mode or return_indices)
    ours, theirs = MAX[dims][0](*options), MAX[dims][1](*options)
    x = _input(numpy.random.default_rng(seed), dims, kernel, dilation, padding, ties)
    assert_matches_torch(ours, theirs, [x], {}, seed=seed, call=_first)
    if return_indices:
        indices, expected = ours(x)[1], theirs(torch.tensor(x))[1].numpy()
        assert indices.dtype == numpy.int64
        numpy.testing.assert_array_equal(indices, expected)


@DRAWN
@given(dims=st.sampled_from([1, 2]), kernel=st.integers(1, 4), stride=st.integers(1, 3), padding_share=st.integers(0, 1),
       ceil_mode=st.booleans(), count_include_pad=st.booleans(), seed=st.integers(0, 999))
def test_avg_pool_options_equal_torch(dims, kernel, stride, padding_share, ceil_mode, count_include_pad, seed):
    padding = padding_share * (kernel // 2)
    options = (kernel, stride, padding, ceil_mode, count_include_pad)
    ours, theirs = AVG[dims][0](*options), AVG[dims][1](*options)
    x = _input(numpy.random.default_rng(seed), dims, kernel, 1, padding, False)
    assert_matches_torch(ours, theirs, [x], {}, seed=seed)


def test_ceil_mode_keeps_a_last_partial_window_and_count_include_pad_false_divides_by_what_it_covers():
    # 0..4 in windows of 2: floor mode [0, 1] [2, 3]; ceil mode adds [4]. Padding 1 and count_include_pad=False:
    # windows [pad, 0] [1, 2] [3, 4], means 0, 1.5, 3.5 (the padded zero not counted).
    # Plain arrays in, plain arrays out (no Tensor, nothing recorded).
    x = numpy.arange(5.0).reshape(1, 1, 5)
    assert nn.MaxPool1d(2, ceil_mode=True)(x).ravel().tolist() == [1.0, 3.0, 4.0]
    assert nn.AvgPool1d(2, ceil_mode=True)(x).ravel().tolist() == [0.5, 2.5, 4.0]
    assert nn.AvgPool1d(2, padding=1, count_include_pad=False)(x).ravel().tolist() == [0.0, 1.5, 3.5]
    assert nn.AvgPool1d(2, padding=1)(x).ravel().tolist() == [0.0, 1.5, 3.5]
    assert nn.AvgPool1d(2, padding=1)(x[..., :4]).ravel().tolist() == [0.0, 1.5, 1.5]
    assert nn.AvgPool1d(2, padding=1, count_include_pad=False)(x[..., :4]).ravel().tolist() == [0.0, 1.5, 3.0]
    # Dilation 2: windows {0, 2}, {1, 3}, {2, 4}; indices point at the maxima.
    out, indices = nn.MaxPool1d(2, 1, dilation=2, return_indices=True)(x)
    assert out.ravel().tolist() == [2.0, 3.0, 4.0] and indices.ravel().tolist() == [2, 3, 4]


@pytest.mark.parametrize("layer, shape", [
    (nn.MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True), (1, 2, 6, 5)),
    (nn.MaxPool1d(2, 3, ceil_mode=True, return_indices=True), (2, 1, 7)),
    (nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False), (1, 2, 6, 5)),
    (nn.AvgPool1d(2, 1, 1, count_include_pad=False), (2, 2, 4)),
], ids=["max2d-dilation-ceil", "max1d-indices", "avg2d-ceil-exclude-pad", "avg1d-exclude-pad"])
def test_pool_options_match_finite_differences_to_second_order(layer, shape):
    rng = numpy.random.default_rng(8)
    # Distinct values, spaced well beyond the finite-difference step: each window's maximum is unique.
    x = (rng.permutation(int(numpy.prod(shape))) * 0.1).reshape(shape)
    check_grads(lambda v: _first(layer, v), [x], modes=("fwd", "rev"), order=2, rtol=1e-6, rng=rng)


def test_pool_options_name_their_errors():
    with pytest.raises(TypeError, match="MaxPool2d: ceil_mode must be True or False, got 1"):
        nn.MaxPool2d(2, ceil_mode=1)
    with pytest.raises(TypeError, match="MaxPool1d: return_indices must be True or False, got 'yes'"):
        nn.MaxPool1d(2, return_indices="yes")
    with pytest.raises(ValueError, match="MaxPool1d: dilation must be a positive integer, got 0"):
        nn.MaxPool1d(2, dilation=0)
    with pytest.raises(TypeError, match="AvgPool2d: count_include_pad must be True or False, got None"):
        nn.AvgPool2d(2, count_include_pad=None)
    with pytest.raises(ValueError, match="AvgPool1d: padding must be at most half the kernel size, got 2 for kernel"):
        nn.AvgPool1d(3, padding=2, ceil_mode=True)
    with pytest.raises(ValueError, match=r"max_pool: an input of spatial shape \(4,\) is smaller than the window "
                                         r"\(kernel \(3,\), dilation \(2,\), padding 0\)"):
        nn.MaxPool1d(3, dilation=2)(numpy.ones((1, 1, 4)))
