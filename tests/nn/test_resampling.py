"""Adaptive pooling and Upsample: equality with PyTorch's (values and gradients) to 1e-8 in float64 over drawn
input and output sizes, finite-difference checks of both modes to second order, and their errors."""

import numpy
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import nablanet.nn as nn
from layer_oracle import assert_matches_torch
from nablanet.testing import check_grads

DRAWN = settings(max_examples=40, deadline=None, derandomize=True, database=None)
ADAPTIVE = {("avg", 1): (nn.AdaptiveAvgPool1d, torch.nn.AdaptiveAvgPool1d),
            ("avg", 2): (nn.AdaptiveAvgPool2d, torch.nn.AdaptiveAvgPool2d),
            ("max", 1): (nn.AdaptiveMaxPool1d, torch.nn.AdaptiveMaxPool1d),
            ("max", 2): (nn.AdaptiveMaxPool2d, torch.nn.AdaptiveMaxPool2d)}


def _distinct(rng, shape):
    """Values without ties, so that each window's maximum is unique and its derivative defined."""
    return rng.permutation(int(numpy.prod(shape))).reshape(shape) * 0.1 + rng.uniform(0, 0.05)


@DRAWN
@given(kind=st.sampled_from(["avg", "max"]), dims=st.sampled_from([1, 2]), batched=st.booleans(),
       sizes=st.lists(st.tuples(st.integers(1, 9), st.integers(1, 6)), min_size=2, max_size=2),
       keep=st.booleans(), seed=st.integers(0, 999))
def test_adaptive_pooling_equals_torch(kind, dims, batched, sizes, keep, seed):
    rng = numpy.random.default_rng(seed)
    sizes = sizes[:dims]
    output_size = tuple(out for _, out in sizes)
    if dims == 2 and keep:
        output_size = (output_size[0], None)  # None keeps that axis's size
    shape = ((2,) if batched else ()) + (3,) + tuple(size for size, _ in sizes)
    ours, theirs = (cls(output_size if dims == 2 else output_size[0]) for cls in ADAPTIVE[(kind, dims)])
    assert_matches_torch(ours, theirs, [_distinct(rng, shape)], {}, seed=seed)


@DRAWN
@given(mode=st.sampled_from(["nearest", "linear", "bilinear"]), by_size=st.booleans(),
       spatial=st.lists(st.integers(1, 6), min_size=2, max_size=2), factors=st.lists(
           st.sampled_from([0.5, 1.0, 1.5, 2.0, 2.7, 3.0]), min_size=2, max_size=2),
       out=st.lists(st.integers(1, 9), min_size=2, max_size=2), align_corners=st.sampled_from([None, True, False]),
       seed=st.integers(0, 999))
def test_upsample_equals_torch(mode, by_size, spatial, factors, out, align_corners, seed):
    dims = 1 if mode == "linear" else 2
    if mode == "nearest":
        align_corners = None
        dims = 1 + seed % 2
    options = dict(mode=mode, align_corners=align_corners)
    if by_size:
        options["size"] = tuple(out[:dims])
    else:
        options["scale_factor"] = tuple(factors[:dims])
        if any(int(s * f) < 1 for s, f in zip(spatial, factors[:dims])):
            return  # an empty output
    x = numpy.random.default_rng(seed).standard_normal((2, 3) + tuple(spatial[:dims]))
    assert_matches_torch(nn.Upsample(**options), torch.nn.Upsample(**options), [x], {}, seed=seed)


GRADIENT_CASES = {
    "adaptive-avg-2d-overlapping": (nn.AdaptiveAvgPool2d((3, 2)), (1, 2, 5, 5)),
    "adaptive-max-1d": (nn.AdaptiveMaxPool1d(3), (2, 2, 7)),
    "upsample-bilinear": (nn.Upsample(scale_factor=1.5, mode="bilinear"), (1, 2, 3, 4)),
    "upsample-bilinear-corners": (nn.Upsample(size=(5, 2), mode="bilinear", align_corners=True), (1, 1, 3, 3)),
    "upsample-nearest-1d": (nn.Upsample(size=5), (2, 1, 3)),
}


@pytest.mark.parametrize("name", sorted(GRADIENT_CASES))
def test_resampling_gradients_match_finite_differences_to_second_order(name):
    layer, shape = GRADIENT_CASES[name]
    rng = numpy.random.default_rng(2)
    check_grads(layer, [_distinct(rng, shape)], modes=("fwd", "rev"), order=2, rtol=1e-6, rng=rng)


def test_resampling_layers_name_their_errors():
    with pytest.raises(ValueError, match="Upsample: give exactly one of size and scale_factor"):
        nn.Upsample()
    with pytest.raises(ValueError, match="Upsample: mode must be one of 'nearest', 'linear', 'bilinear', got 'cubic'"):
        nn.Upsample(size=3, mode="cubic")
    with pytest.raises(ValueError, match="align_corners applies to the linear and bilinear modes only"):
        nn.Upsample(size=3, align_corners=True)
    with pytest.raises(ValueError, match=r"Upsample\(mode='bilinear'\): expected input of shape \(N, C, H, W\), got "
                                         r"\(2, 3, 4\)"):
        nn.Upsample(scale_factor=2, mode="bilinear")(numpy.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="Upsample: scale_factor must be a positive finite number, got -2"):
        nn.Upsample(scale_factor=-2)
    with pytest.raises(ValueError, match="AdaptiveAvgPool2d: output_size must be one size or 2 of them, got"):
        nn.AdaptiveAvgPool2d((1, 2, 3))
    with pytest.raises(ValueError, match="AdaptiveMaxPool1d: output_size must be a positive integer, got 0"):
        nn.AdaptiveMaxPool1d(0)
    with pytest.raises(ValueError, match=r"AdaptiveAvgPool1d: expected input of shape \(N, C, L\) or \(C, L\), got \(4,\)"):
        nn.AdaptiveAvgPool1d(2)(numpy.ones(4))
