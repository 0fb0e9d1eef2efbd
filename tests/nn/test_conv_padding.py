"""Convolutions' padding_mode ('zeros', 'reflect', 'replicate', 'circular') and asymmetric (per-side) padding:
equality with PyTorch to 1e-8 in float64 over drawn configurations (values, the input's and every parameter's
gradient), finite-difference checks of both modes to second order, and the widths PyTorch refuses."""

import numpy
import pytest
import torch
import torch.nn.functional as torch_functional
from hypothesis import given, settings
from hypothesis import strategies as st

import nablanet.nn as nn
from layer_oracle import assert_matches_torch, layer_as_function, same
from nablanet.testing import check_grads

F64 = numpy.float64
DRAWN = settings(max_examples=25, deadline=None, derandomize=True, database=None)
CLASSES = {1: (nn.Conv1d, torch.nn.Conv1d), 2: (nn.Conv2d, torch.nn.Conv2d)}
MODES = ["zeros", "reflect", "replicate", "circular"]


def _pairs(layer):
    pairs = {"weight": (layer.W, same)}
    if layer.b is not None:
        pairs["bias"] = (layer.b, same)
    return pairs


def _torch_widths(widths):
    """torch.nn.functional.pad's order: the last axis first, (before, after) each."""
    return tuple(w for pair in reversed(widths) for w in pair)


def _spatial(rng, widths, kernel, dilation):
    # Long enough for the kernel after padding and for the mode: reflect needs more elements than it pads.
    return tuple(int(rng.integers(max(max(pair) + 1, dilation * (kernel - 1) + 1 - sum(pair), 1), 7))
                 for pair in widths)


@DRAWN
@given(dims=st.sampled_from([1, 2]), mode=st.sampled_from(MODES), groups=st.sampled_from([1, 2]),
       kernel=st.integers(1, 3), stride=st.integers(1, 2), dilation=st.integers(1, 2),
       padding=st.one_of(st.integers(0, 2), st.just("same")), bias=st.booleans(), seed=st.integers(0, 999))
def test_padding_mode_equals_torch(dims, mode, groups, kernel, stride, dilation, padding, bias, seed):
    rng = numpy.random.default_rng(seed)
    if padding == "same":
        stride = 1  # as PyTorch, 'same' needs stride 1; an even total goes more to the right
        total = dilation * (kernel - 1)
        widths = ((total // 2, total - total // 2),) * dims
    else:
        widths = ((padding, padding),) * dims
    ours_cls, theirs_cls = CLASSES[dims]
    options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias, padding_mode=mode)
    ours = ours_cls(2, 2 * groups, kernel, rng=seed, dtype=F64, **options)
    if bias:
        ours.b.data[...] = rng.standard_normal(2 * groups)
    theirs = theirs_cls(2, 2 * groups, kernel, **options).double()
    x = rng.standard_normal((2, 2) + _spatial(rng, widths, kernel, dilation))
    assert_matches_torch(ours, theirs, [x], _pairs(ours), seed=seed)


@DRAWN
@given(dims=st.sampled_from([1, 2]), mode=st.sampled_from(MODES), groups=st.sampled_from([1, 2]),
       kernel=st.integers(1, 3), stride=st.integers(1, 2), dilation=st.integers(1, 2),
       widths=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=2, max_size=2),
       activation=st.sampled_from([None, "tanh"]), seed=st.integers(0, 999))
def test_asymmetric_padding_equals_torch_pad_then_convolution(dims, mode, groups, kernel, stride, dilation, widths,
                                                              activation, seed):
    # PyTorch's layers pad both sides alike; its twin of per-side widths is F.pad in the mode, then a convolution.
    rng = numpy.random.default_rng(seed)
    widths = tuple(widths[:dims])
    ours_cls, theirs_cls = CLASSES[dims]
    ours = ours_cls(2, 2 * groups, kernel, stride=stride, dilation=dilation, groups=groups, padding=widths,
                    padding_mode=mode, activation=activation, rng=seed, dtype=F64)
    ours.b.data[...] = rng.standard_normal(2 * groups)
    theirs = theirs_cls(2, 2 * groups, kernel, stride=stride, dilation=dilation, groups=groups).double()
    torch_mode = "constant" if mode == "zeros" else mode
    after = torch.tanh if activation else (lambda z: z)

    def call(module, x):
        if module is ours:
            return module(x)
        return after(module(torch_functional.pad(x, _torch_widths(widths), mode=torch_mode)))

    x = rng.standard_normal((2, 2) + _spatial(rng, widths, kernel, dilation))
    assert_matches_torch(ours, theirs, [x], _pairs(ours), seed=seed, call=call)


@pytest.mark.parametrize("mode", MODES)
def test_padding_modes_match_finite_differences_to_second_order(mode):
    rng = numpy.random.default_rng(6)
    for layer, shape in ((nn.Conv2d(2, 3, 2, padding=((1, 2), (0, 1)), padding_mode=mode, activation="tanh", rng=0,
                                    dtype=F64), (2, 2, 3, 3)),
                         (nn.Conv1d(2, 4, 3, padding="same", groups=2, padding_mode=mode, activation="elu", rng=1,
                                    dtype=F64), (1, 2, 4))):
        for p in layer.parameters():
            p.data[...] = rng.standard_normal(p.shape)
        f, args = layer_as_function(layer, rng.standard_normal(shape))
        check_grads(f, args, modes=("fwd", "rev"), order=2, rtol=1e-6, rng=rng)


def test_reflect_padding_copies_about_the_edge_and_circular_from_the_other_end():
    # One channel of 1, 2, 3 and a kernel that picks each position: the padded signal is the output.
    x = numpy.array([[[1.0, 2.0, 3.0]]])
    expected = {"zeros": [0, 0, 1, 2, 3, 0], "reflect": [3, 2, 1, 2, 3, 2], "replicate": [1, 1, 1, 2, 3, 3],
                "circular": [2, 3, 1, 2, 3, 1]}
    for mode, values in expected.items():
        layer = nn.Conv1d(1, 1, 1, padding=((2, 1),), padding_mode=mode, bias=False, rng=0, dtype=F64)
        layer.W.data[...] = 1.0
        assert layer(x).data.ravel().tolist() == values, mode


def test_padding_modes_refuse_what_torch_refuses():
    x = numpy.ones((1, 1, 3, 5))
    with pytest.raises(ValueError, match=r"Conv2d: padding_mode='reflect' pads spatial axis 0 of length 3 by "
                                         r"\(3, 3\); it allows at most 2 on each side \(as in PyTorch\)"):
        nn.Conv2d(1, 1, 3, padding=3, padding_mode="reflect", rng=0, dtype=F64)(x)
    with pytest.raises(ValueError, match=r"Conv2d: padding_mode='circular' pads spatial axis 1 of length 5 by "
                                         r"\(6, 0\); it allows at most 5"):
        nn.Conv2d(1, 1, 3, padding=((0, 0), (6, 0)), padding_mode="circular", rng=0, dtype=F64)(x)
    with pytest.raises(ValueError, match=r"Conv1d: padding_mode must be one of 'zeros', 'reflect', 'replicate', "
                                         r"'circular', got 'mirror'"):
        nn.Conv1d(1, 1, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="ConvTranspose2d: padding_mode must be 'zeros' for a transposed convolution, "
                                         "got 'reflect'"):
        nn.ConvTranspose2d(1, 1, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match=r"Conv2d: padding as \(before, after\) pairs needs one pair per spatial axis "
                                         r"\(2\), got \(\(1, 1\),\)"):
        nn.Conv2d(1, 1, 3, padding=((1, 1),))
    with pytest.raises(ValueError, match=r"Conv1d: padding must be a non-negative integer or 2 of them, got \(1, -1\)"):
        nn.Conv1d(1, 1, 3, padding=((1, -1),))
    # The same as torch for reflect at the limit (n - 1) and circular at the limit (n).
    for mode, width in (("reflect", 2), ("circular", 3)):
        ours = nn.Conv1d(1, 1, 2, padding=width, padding_mode=mode, rng=0, dtype=F64)
        theirs = torch.nn.Conv1d(1, 1, 2, padding=width, padding_mode=mode).double()
        assert_matches_torch(ours, theirs, [numpy.arange(3.0).reshape(1, 1, 3)], _pairs(ours))


def test_a_padded_layer_rebuilds_from_its_config():
    layer = nn.Conv2d(2, 3, 3, padding=((1, 0), (2, 1)), padding_mode="circular", rng=0)
    again = nn.module_from_config(layer.config())
    x = numpy.random.default_rng(0).standard_normal((1, 2, 4, 4)).astype(numpy.float32)
    again.load_state_dict(layer.state_dict())
    numpy.testing.assert_array_equal(again(x).data, layer(x).data)
