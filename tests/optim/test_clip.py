"""Gradient clipping vs torch.nn.utils.clip_grad_value_ / clip_grad_norm_ (float64, 1e-12), purity,
in-place variants, dtype, and the overflow fallback of the global norm."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nablanet.optim import (  # noqa: E402
    clip_by_global_norm,
    clip_by_global_norm_,
    clip_by_value,
    clip_by_value_,
    global_norm,
)

SHAPES = [(), (3,), (2, 3), (4, 1, 2)]


def _grads(scale=1.0, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [np.asarray(rng.standard_normal(shape) * scale, dtype=dtype) for shape in SHAPES]


def _torch_clipped(grads, clip):
    params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g)
    result = clip(params)
    return [p.grad.numpy() for p in params], result


@pytest.mark.parametrize("clip_value", [0.1, 0.5, 10.0])
def test_clip_by_value_matches_torch(clip_value):
    grads = _grads()
    expected, _ = _torch_clipped(grads, lambda ps: torch.nn.utils.clip_grad_value_(ps, clip_value))
    originals = [g.copy() for g in grads]
    clipped = clip_by_value(grads, clip_value)
    for ours, reference, g, original in zip(clipped, expected, grads, originals):
        np.testing.assert_array_equal(ours, reference)
        np.testing.assert_array_equal(g, original)  # the pure version leaves its input alone
    clip_by_value_(grads, clip_value)
    for g, reference in zip(grads, expected):
        np.testing.assert_array_equal(g, reference)


@pytest.mark.parametrize("max_norm", [0.5, 2.0, 100.0])  # clipping, clipping, not clipping (norm ~ 4)
def test_clip_by_global_norm_matches_torch(max_norm):
    grads = _grads()
    expected, torch_norm = _torch_clipped(grads, lambda ps: torch.nn.utils.clip_grad_norm_(ps, max_norm))
    originals = [g.copy() for g in grads]
    clipped, norm = clip_by_global_norm(grads, max_norm)
    np.testing.assert_allclose(norm, torch_norm.item(), rtol=1e-12)
    for ours, reference, g, original in zip(clipped, expected, grads, originals):
        np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(g, original)
    assert global_norm(clipped) <= max_norm
    in_place_norm = clip_by_global_norm_(grads, max_norm)
    assert in_place_norm == norm
    for g, ours in zip(grads, clipped):
        np.testing.assert_array_equal(g, ours)


def test_dtype_is_kept():
    grads = _grads(dtype=np.float32)
    assert all(g.dtype == np.float32 for g in clip_by_value(grads, 0.1))
    assert all(g.dtype == np.float32 for g in clip_by_global_norm(grads, 0.1)[0])
    clip_by_global_norm_(grads, 0.1)
    assert all(g.dtype == np.float32 for g in grads)


def test_global_norm_survives_float32_overflow_of_the_squares():
    grads = [np.full(4, 1e20, dtype=np.float32), np.full(2, 1e20, dtype=np.float32)]  # (1e20)^2 overflows float32
    assert global_norm(grads) == pytest.approx(1e20 * np.sqrt(6), rel=1e-6)
    clipped, _ = clip_by_global_norm(grads, 1.0)
    assert global_norm(clipped) == pytest.approx(1.0, rel=1e-5)


def test_validation():
    with pytest.raises(ValueError, match="clip_value must be positive, got -1.0"):
        clip_by_value([np.ones(2)], -1.0)
    with pytest.raises(ValueError, match="max_norm must be positive, got 0.0"):
        clip_by_global_norm([np.ones(2)], 0)
