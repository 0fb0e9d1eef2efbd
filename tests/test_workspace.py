"""The workspace pool: a block is handed out again only when nothing refers to it, and training on
pooled arrays gives bit for bit what it gives on fresh ones."""

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nablanet.nn as nn
from nablanet import Tensor
from nablanet.kernels import workspace
from nablanet.nn import functional as F

LARGE = (512, 256)  # 512 KiB of float32: above MIN_POOLED_BYTES


@pytest.fixture(autouse=True)
def empty_pool():
    workspace.release()
    yield
    workspace.release()


def test_pooling_is_on_and_its_reference_count_was_measured():
    assert workspace._POOLING
    assert workspace._FREE_REFCOUNT >= 1


def test_a_block_in_use_is_not_handed_out_again():
    a = workspace.empty(LARGE, numpy.float32)
    b = workspace.empty(LARGE, numpy.float32)
    assert not numpy.shares_memory(a, b)


def test_a_view_keeps_its_block_in_use():
    a = workspace.empty(LARGE, numpy.float32)
    view = a[::2].T
    del a
    b = workspace.empty(LARGE, numpy.float32)
    assert not numpy.shares_memory(b, view)
    held = workspace.pooled_bytes()
    del view, b
    workspace.empty(LARGE, numpy.float32)  # one of the two freed blocks: the pool does not grow
    assert workspace.pooled_bytes() == held


def test_a_freed_block_is_reused_for_any_shape_and_dtype_of_its_size():
    address = workspace.empty(LARGE, numpy.float32).ctypes.data
    again = workspace.empty((LARGE[0] // 2, LARGE[1]), numpy.float64)
    assert again.ctypes.data == address and again.dtype == numpy.float64
    assert workspace.pooled_bytes() == LARGE[0] * LARGE[1] * 4 + workspace.PAGE


def test_arrays_of_different_blocks_start_at_different_offsets_in_a_page():
    arrays = [workspace.empty(LARGE, numpy.float32) for _ in range(4)]
    offsets = [a.ctypes.data % workspace.PAGE for a in arrays]
    assert len(set(offsets)) == 4 and all(offset % 64 == 0 for offset in offsets)


def test_small_arrays_are_not_pooled():
    workspace.empty((10, 10), numpy.float32)
    assert workspace.pooled_bytes() == 0


@pytest.mark.parametrize("like", [
    numpy.zeros((64, 28, 28, 16), numpy.float32).transpose(0, 3, 1, 2),  # channels-last, viewed NCHW
    numpy.zeros((300, 400), numpy.float32, order="F"),
    numpy.zeros((300, 400), numpy.float64),
])
def test_empty_like_lays_out_memory_as_numpy_does(like):
    made = workspace.empty_like(like, dtype=numpy.float32)
    expected = numpy.empty_like(like, dtype=numpy.float32)
    assert made.shape == expected.shape and made.strides == expected.strides and made.dtype == numpy.float32
    shape = tuple(2 * n for n in like.shape)
    made = workspace.empty_like(like, shape=shape)
    assert made.strides == numpy.empty_like(like, shape=shape).strides


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(2, 9), min_size=1, max_size=5).flatmap(
    lambda sizes: st.tuples(st.just(tuple(sizes)), st.permutations(range(len(sizes))),
                            st.permutations(range(len(sizes))))))
def test_empty_like_follows_any_permuted_layout_as_numpy_does(case):
    # Every axis longer than 1, so no two strides tie and NumPy's order "K" is the one memory order.
    sizes, layout, view = case
    like = numpy.zeros(tuple(sizes[axis] for axis in layout), numpy.float32).transpose(view)
    made = workspace.empty_like(like, dtype=numpy.float64)
    assert made.shape == like.shape and made.strides == numpy.empty_like(like, dtype=numpy.float64).strides
    shape = tuple(n + 1 for n in like.shape)
    assert workspace.empty_like(like, shape=shape).strides == numpy.empty_like(like, shape=shape).strides


def test_zeros_are_zeros_in_a_reused_block():
    workspace.empty(LARGE, numpy.float32).fill(7.0)
    numpy.testing.assert_array_equal(workspace.zeros(LARGE, numpy.float32), numpy.zeros(LARGE, numpy.float32))


def test_free_blocks_beyond_the_bound_are_dropped(monkeypatch):
    monkeypatch.setattr(workspace, "MAX_POOLED_BYTES", 1 << 20)
    for size in range(1, 6):
        workspace.empty((size << 18,), numpy.uint8)  # 256 KiB, 512 KiB, ... each freed at once
    kept = workspace.empty((1 << 21,), numpy.uint8)  # 2 MiB
    assert workspace.pooled_bytes() <= (1 << 20) + kept.nbytes + 2 * workspace.PAGE


def _cnn(seed):
    rng = numpy.random.default_rng(seed)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, activation="relu", rng=rng), nn.MaxPool2d(2),
                          nn.Conv2d(8, 16, 3, padding=1, activation="relu", rng=rng), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Dense(16 * 7 * 7, 10, rng=rng))
    X = rng.standard_normal((64, 1, 28, 28)).astype(numpy.float32)
    y = rng.integers(0, 10, 64)
    return model, X, y


def _gradients(model, X, y):
    for p in model.parameters():
        p.grad = None
    F.cross_entropy(model(Tensor(X)), y).backward()
    return [p.grad.copy() for p in model.parameters()]


def test_a_kept_graph_is_not_overwritten_by_the_next_step():
    model, X, y = _cnn(0)
    expected = _gradients(model, X, y)
    kept = F.cross_entropy(model(Tensor(X)), y)  # its patch matrices and activations stay in the graph
    for _ in range(2):
        _gradients(model, X[::-1].copy(), y[::-1].copy())  # other steps reuse every free block
    for p in model.parameters():
        p.grad = None
    kept.backward()
    for p, g in zip(model.parameters(), expected):
        numpy.testing.assert_array_equal(p.grad, g)


def test_pooled_training_gives_the_gradients_of_fresh_arrays(monkeypatch):
    model, X, y = _cnn(1)
    pooled = [_gradients(model, X, y) for _ in range(3)][-1]
    monkeypatch.setattr(workspace, "_POOLING", False)
    fresh = _gradients(model, X, y)
    for a, b in zip(pooled, fresh):
        numpy.testing.assert_array_equal(a, b)


def test_pad_and_a_copying_reshape_give_numpys_arrays_from_pooled_blocks():
    import nablanet.numpy as nnp

    x = numpy.random.default_rng(2).standard_normal((64, 14, 14, 16)).astype(numpy.float32).transpose(0, 3, 1, 2)
    for _ in range(2):  # the second time from the blocks the first one freed
        flat = nnp.reshape(x, (64, -1))
        numpy.testing.assert_array_equal(flat, numpy.reshape(x, (64, -1)))
        padded = nnp.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=0.5)
        numpy.testing.assert_array_equal(padded, numpy.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=0.5))
        del flat, padded
    assert workspace.pooled_bytes() > 0
