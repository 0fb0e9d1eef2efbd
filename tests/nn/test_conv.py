"""Convolution and pooling: finite-difference gradient checks and equality with PyTorch (float64, 1e-8)."""

import numpy
import pytest
import torch

import nablanet.nn as nn
from nablanet import Tensor, jvp
from nablanet.kernels import pool as pool_kernels
from nablanet.nn import functional as F
from nablanet.testing import check_grads

# (C_in, C_out, kernel, stride, padding, dilation, input spatial shape, bias)
CONV2D_CASES = [
    (1, 2, 3, 1, 0, 1, (5, 6), True),
    (2, 3, 3, 2, 1, 1, (7, 6), True),
    (3, 2, (2, 3), (2, 1), (1, 0), (1, 2), (6, 7), False),
    (2, 2, 3, 1, "same", 2, (5, 5), True),
    (2, 4, 1, 1, "valid", 1, (3, 4), True),
    (1, 1, 3, 3, 2, 1, (8, 7), True),
]
CONV1D_CASES = [
    (1, 3, 3, 1, 0, 1, (9,), True),
    (2, 2, 4, 2, 1, 1, (11,), False),
    (3, 2, 3, 1, "same", 3, (10,), True),
    (2, 5, 5, 3, 2, 2, (13,), True),
]


def make_conv(c_in, c_out, kernel, stride, padding, dilation, bias, dims):
    cls = nn.Conv2d if dims == 2 else nn.Conv1d
    return cls(c_in, c_out, kernel, stride=stride, padding=padding, dilation=dilation, bias=bias, rng=0,
               dtype=numpy.float64)


def torch_conv(layer, dims, padding, stride, dilation):
    weight = torch.tensor(layer.W.data, requires_grad=True)
    bias = torch.tensor(layer.b.data, requires_grad=True) if layer.b is not None else None
    fn = torch.nn.functional.conv2d if dims == 2 else torch.nn.functional.conv1d
    return weight, bias, lambda x: fn(x, weight, bias, stride=stride, padding=padding, dilation=dilation)


@pytest.mark.parametrize("case", CONV2D_CASES + CONV1D_CASES, ids=lambda c: "-".join(map(str, c)))
def test_conv_equals_torch_outputs_and_gradients(case):
    c_in, c_out, kernel, stride, padding, dilation, spatial, bias = case
    dims = len(spatial)
    layer = make_conv(c_in, c_out, kernel, stride, padding, dilation, bias, dims)
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((3, c_in) + spatial)
    ours_x = Tensor(x, requires_grad=True)
    out = layer(ours_x)
    weights = rng.standard_normal(out.shape)
    (out * weights).sum().backward()

    weight, torch_bias, fn = torch_conv(layer, dims, padding, stride, dilation)
    theirs_x = torch.tensor(x, requires_grad=True)
    reference = fn(theirs_x)
    (reference * torch.tensor(weights)).sum().backward()
    numpy.testing.assert_allclose(out.data, reference.detach().numpy(), rtol=1e-8, atol=1e-10)
    numpy.testing.assert_allclose(ours_x.grad, theirs_x.grad.numpy(), rtol=1e-8, atol=1e-10)
    numpy.testing.assert_allclose(layer.W.grad, weight.grad.numpy(), rtol=1e-8, atol=1e-10)
    if bias:
        numpy.testing.assert_allclose(layer.b.grad, torch_bias.grad.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("case", CONV2D_CASES[:3] + CONV1D_CASES[:3], ids=lambda c: "-".join(map(str, c)))
def test_conv_gradients_match_finite_differences(case):
    c_in, c_out, kernel, stride, padding, dilation, spatial, bias = case
    layer = make_conv(c_in, c_out, kernel, stride, padding, dilation, bias, len(spatial))
    x = numpy.random.default_rng(1).standard_normal((2, c_in) + spatial)
    names = [name for name, _ in layer.named_parameters()]
    check_grads(lambda x, *params: nn.functional_call(layer, dict(zip(names, params)), x),
                [x] + [p.data for p in layer.parameters()], order=2, rtol=1e-6)


# (pool, kernel, stride, padding, spatial)
POOL_CASES = [
    ("max", 2, None, 0, (6, 8)),
    ("max", 2, None, 0, (7, 5)),
    ("max", 3, 2, 1, (7, 6)),
    ("max", (2, 3), (1, 2), 0, (5, 7)),
    ("avg", 2, None, 0, (6, 6)),
    ("avg", 3, 2, 1, (7, 8)),
    ("avg", (3, 2), 1, (1, 0), (5, 5)),
    ("max", 2, None, 0, (9,)),
    ("max", 3, 2, 1, (10,)),
    ("avg", 3, 1, 1, (8,)),
    ("avg", 2, None, 0, (7,)),
]

TORCH_POOLS = {
    ("max", 1): torch.nn.functional.max_pool1d, ("max", 2): torch.nn.functional.max_pool2d,
    ("avg", 1): torch.nn.functional.avg_pool1d, ("avg", 2): torch.nn.functional.avg_pool2d,
}


def our_pool(kind, kernel, stride, padding, dims):
    layers = {("max", 1): nn.MaxPool1d, ("max", 2): nn.MaxPool2d, ("avg", 1): nn.AvgPool1d, ("avg", 2): nn.AvgPool2d}
    return layers[(kind, dims)](kernel, stride, padding)


@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: "-".join(map(str, c)))
def test_pooling_equals_torch_outputs_and_gradients(case):
    kind, kernel, stride, padding, spatial = case
    dims = len(spatial)
    # Distinct values, so each window has a unique maximum and the derivative is well defined.
    size = 2 * 3 * int(numpy.prod(spatial))
    x = numpy.random.default_rng(2).permutation(size).reshape((2, 3) + spatial) * 0.1
    ours_x = Tensor(x, requires_grad=True)
    out = our_pool(kind, kernel, stride, padding, dims)(ours_x)
    weights = numpy.random.default_rng(3).standard_normal(out.shape)
    (out * weights).sum().backward()
    theirs_x = torch.tensor(x, requires_grad=True)
    reference = TORCH_POOLS[(kind, dims)](theirs_x, kernel, stride, padding)
    (reference * torch.tensor(weights)).sum().backward()
    numpy.testing.assert_allclose(out.data, reference.detach().numpy(), rtol=1e-12)
    numpy.testing.assert_allclose(ours_x.grad, theirs_x.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("case", POOL_CASES[:4] + POOL_CASES[5:7], ids=lambda c: "-".join(map(str, c)))
def test_pooling_gradients_match_finite_differences(case):
    kind, kernel, stride, padding, spatial = case
    x = numpy.random.default_rng(4).permutation(2 * int(numpy.prod(spatial))).reshape((1, 2) + spatial) * 0.3
    check_grads(our_pool(kind, kernel, stride, padding, len(spatial)), [x], order=2, rtol=1e-6)


def in_layout(values, layout):
    """The same (N, C, *spatial) array stored in the named memory layout."""
    d = values.ndim - 2
    if layout == "C order":
        return numpy.ascontiguousarray(values)
    if layout == "channels-last":  # a convolution's output: (N, *spatial, C) in memory
        return numpy.moveaxis(numpy.ascontiguousarray(numpy.moveaxis(values, 1, -1)), -1, 1)
    if layout == "spatial-major":  # (*spatial, N, C) in memory: batch and channels innermost
        order = tuple(range(2, 2 + d)) + (0, 1)
        return numpy.ascontiguousarray(values.transpose(order)).transpose(numpy.argsort(order))
    if layout == "batch-last":  # (C, *spatial, N) in memory
        order = (1,) + tuple(range(2, 2 + d)) + (0,)
        return numpy.ascontiguousarray(values.transpose(order)).transpose(numpy.argsort(order))
    if layout == "cropped":  # the inside of a padded array: strided, contiguous in no axis order
        inside = (slice(None), slice(None)) + (slice(1, -1),) * d
        padded = numpy.zeros(values.shape[:2] + tuple(n + 2 for n in values.shape[2:]))
        padded[inside] = values
        return padded[inside]
    raise ValueError(f"unknown layout {layout!r}")


def memory_order(a):
    """Axes from the slowest- to the fastest-varying in memory."""
    return sorted(range(a.ndim), key=lambda axis: -a.strides[axis])


# (kernel, spatial): non-overlapping windows, the max pooling primitive's path.
TIE_CASES = [(2, (8, 6)), ((2, 3), (4, 9)), (3, (9,)), (2, (8,))]
# Layout -> the axis whose contiguous runs the pooling code moves whole (None: strided passes).
LAYOUTS = {"C order": None, "channels-last": 1, "spatial-major": 1, "batch-last": 0, "cropped": None}


@pytest.mark.parametrize("kernel, spatial", TIE_CASES, ids=lambda v: str(v))
@pytest.mark.parametrize("x_layout", LAYOUTS)
@pytest.mark.parametrize("g_layout", ["C order", "channels-last", "cropped"])
def test_max_pool_ties_go_to_the_first_maximum_like_torch_in_any_memory_layout(kernel, spatial, x_layout, g_layout):
    rng = numpy.random.default_rng(8)
    # The ReLU of small integers: most windows hold a tie, all-zero or at a repeated positive maximum.
    values = numpy.maximum(rng.integers(-2, 3, (2, 3) + spatial), 0).astype(numpy.float64)
    dims = len(spatial)
    ks = (kernel,) * dims if isinstance(kernel, int) else kernel
    split = values.reshape((2, 3) + tuple(v for n, k in zip(spatial, ks) for v in (n // k, k)))
    windows = numpy.moveaxis(split, tuple(3 + 2 * i for i in range(dims)), tuple(range(-dims, 0)))
    windows = windows.reshape(windows.shape[:-dims] + (-1,))
    tied = (windows == windows.max(axis=-1, keepdims=True)).sum(axis=-1) > 1
    assert tied.mean() > 0.3 and numpy.any(tied & (windows.max(axis=-1) > 0)), "the data must hold ties"
    x = in_layout(values, x_layout)
    ours_x = Tensor(x, requires_grad=True)
    out = F.max_pool(ours_x, kernel)
    weights = in_layout(rng.standard_normal(out.shape), g_layout)
    (out * weights).sum().backward()
    theirs_x = torch.tensor(values, requires_grad=True)
    pool = torch.nn.functional.max_pool2d if dims == 2 else torch.nn.functional.max_pool1d
    reference = pool(theirs_x, kernel)
    (reference * torch.tensor(weights)).sum().backward()
    numpy.testing.assert_array_equal(out.data, reference.detach().numpy())
    numpy.testing.assert_array_equal(ours_x.grad, theirs_x.grad.numpy())
    # Forward mode picks the same elements.
    tangent = rng.standard_normal(values.shape)
    _, out_dot = jvp(lambda v: F.max_pool(v, kernel), (x,), (tangent,))
    _, torch_out_dot = torch.func.jvp(lambda v: pool(v, kernel), (torch.tensor(values),), (torch.tensor(tangent),))
    numpy.testing.assert_array_equal(out_dot, torch_out_dot.numpy())
    # The pooled values and the gradient keep the input's memory order (a cropped input's is C order),
    # and both ways through the pooling code are taken.
    expected = memory_order(x) if x_layout != "cropped" else list(range(x.ndim))
    assert memory_order(out.data) == expected and memory_order(ours_x.grad) == expected
    assert pool_kernels.run_axis(x, out.data) == LAYOUTS[x_layout]


def test_max_pool_window_holding_nan_passes_no_gradient():
    # A NaN equals nothing, so no element is the first maximum of its window: the gradient stops
    # there (PyTorch sends it to the NaN instead). The other window is unaffected.
    x = numpy.array([[[[1.0, numpy.nan, 0.0, 2.0], [3.0, 2.0, 2.0, 1.0]]]])
    ours_x = Tensor(x, requires_grad=True)
    out = F.max_pool(ours_x, 2)
    (out * numpy.array([[[[3.0, 5.0]]]])).sum().backward()
    assert numpy.isnan(out.data[0, 0, 0, 0]) and out.data[0, 0, 0, 1] == 2.0
    numpy.testing.assert_array_equal(ours_x.grad, [[[[0.0, 0.0, 0.0, 5.0], [0.0, 0.0, 0.0, 0.0]]]])


def test_global_average_pooling_and_flatten():
    x = numpy.random.default_rng(5).standard_normal((2, 3, 4, 5))
    numpy.testing.assert_allclose(nn.GlobalAvgPool()(x), x.mean(axis=(2, 3)), rtol=1e-14)
    assert nn.Flatten()(x).shape == (2, 60)
    check_grads(nn.GlobalAvgPool(), [x], order=1)


def test_small_cnn_trains_float32_end_to_end():
    rng = numpy.random.default_rng(6)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, rng=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Dense(4 * 4 * 4, 3, rng=2))
    x = rng.standard_normal((8, 1, 8, 8)).astype(numpy.float32)
    loss = F.cross_entropy(model(x), rng.integers(0, 3, 8))
    loss.backward()
    assert loss.dtype == numpy.float32
    assert all(p.grad.dtype == numpy.float32 for p in model.parameters())


def test_conv_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"input of shape \(2, 3, 8, 8\) does not fit kernels of shape \(4, 1, 3, 3\)"):
        nn.Conv2d(1, 4, 3, rng=0)(numpy.zeros((2, 3, 8, 8), dtype=numpy.float32))
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same", rng=0)(numpy.zeros((1, 1, 8, 8), dtype=numpy.float32))
    with pytest.raises(ValueError, match="spans 5 positions, more than the input's 4"):
        nn.Conv1d(1, 1, 5, rng=0)(numpy.zeros((1, 1, 4), dtype=numpy.float32))


def test_pool_windows_refuse_sizes_that_are_not_multiples_of_the_window():
    import nablanet.numpy as nnp

    with pytest.raises(ValueError, match="multiples of the window"):
        nnp.max_pool_windows(numpy.zeros((1, 2, 5, 7)), (2, 3))
    with pytest.raises(ValueError, match="multiples of the window"):
        nnp.avg_pool_windows(numpy.zeros((2, 1, 7)), (3,))
