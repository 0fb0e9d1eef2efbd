"""step() on flat arrays (one per dtype) and the flush of subnormal state: against torch.optim in float32,
against the parameter-by-parameter rule bit for bit, and what stays as it was (p.data, normal state values)."""

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from optim.test_optimizers import CASES, STEPS, _problem, _run_step, _run_torch, _run_update  # noqa: E402

from nablanet import Tensor  # noqa: E402
from nablanet.kernels import optimizers as optimizer_kernels  # noqa: E402
from nablanet.optim import SGD, Adam, AdamW, RMSprop  # noqa: E402


def _run_torch_float32(case, thetas, grads):
    """test_optimizers._run_torch with float32 tensors: the same steps at the parameters' own precision."""
    return _run_torch(case, thetas, grads, dtype=torch.float32)[0]


@pytest.mark.parametrize("case", CASES)
def test_every_float32_step_matches_torch_in_float32(case):
    thetas, grads = _problem(dtype=np.float32)
    expected = _run_torch_float32(case, thetas, grads)
    stepped, optimizer, _ = _run_step(case, thetas, grads)
    assert optimizer._flat is not None or not optimizer._buffer_names()  # the flat path ran
    for t in range(STEPS):
        for ours, reference in zip(stepped[t], expected[t]):
            assert ours.dtype == np.float32
            # Float32 rounding in another order of operations (torch fuses some multiply-adds).
            np.testing.assert_allclose(ours, reference, rtol=2e-5, atol=2e-6, err_msg=f"{case}, step {t + 1}")


MIXED_SHAPES = [(3, 4), (5,), (), (2, 1, 3)]
MIXED_DTYPES = [np.float32, np.float64, np.float32, np.float64]


@pytest.mark.parametrize("case", CASES)
def test_parameters_of_two_dtypes_step_in_two_groups_as_each_alone(case):
    rng = np.random.default_rng(7)
    thetas = [rng.standard_normal(s).astype(d) for s, d in zip(MIXED_SHAPES, MIXED_DTYPES)]
    grads = [[rng.standard_normal(s).astype(d) for s, d in zip(MIXED_SHAPES, MIXED_DTYPES)] for _ in range(STEPS)]
    stepped, optimizer, params = _run_step(case, thetas, grads)
    updated, _ = _run_update(case, thetas, grads)
    for t in range(STEPS):
        for ours, reference in zip(stepped[t], updated[t]):
            assert ours.dtype == reference.dtype
            np.testing.assert_array_equal(ours, reference)  # one rule: flat or not, the same bits
    if optimizer._buffer_names():
        groups = list(optimizer._flat)
        assert [group.indices for group in groups] == [[0, 2], [1, 3]]
        for name, flat in zip(optimizer._buffer_names(), groups[0].buffers):
            assert all(getattr(optimizer.state, name)[i].base is flat for i in (0, 2))


def test_step_keeps_p_data_and_a_reference_to_it_sees_every_update():
    w = Tensor(np.ones((3, 2), dtype=np.float32), requires_grad=True)
    b = Tensor(np.zeros(2, dtype=np.float32), requires_grad=True)
    held = w.data
    optimizer = Adam([w, b], lr=0.1)
    for _ in range(3):
        w.grad, b.grad = np.ones((3, 2), np.float32), np.ones(2, np.float32)
        optimizer.step()
    assert w.data is held and not np.shares_memory(held, optimizer._flat.groups[0].grad)
    np.testing.assert_allclose(held, 1.0 - 0.3, rtol=1e-5)  # Adam's first steps are lr each
    # An array assigned to p.data is the one stepped from then on.
    w.data = np.full((3, 2), 5.0, dtype=np.float32)
    fresh = w.data
    w.grad, b.grad = np.ones((3, 2), np.float32), np.ones(2, np.float32)
    optimizer.step()
    assert w.data is fresh and np.all(fresh < 5.0)


def test_a_state_loaded_after_the_first_step_is_grouped_again_and_resumes_bit_for_bit():
    thetas, grads = _problem(steps=8)
    straight, _, _ = _run_step("adam-amsgrad-l2", thetas, grads)
    params = [Tensor(theta.copy(), requires_grad=True) for theta in thetas]
    optimizer = CASES["adam-amsgrad-l2"][0](params)
    for step_grads in grads[:4]:
        for p, g in zip(params, step_grads):
            p.grad = g.copy()
        optimizer.step()
    saved = optimizer.state_dict()
    optimizer.load_state_dict(saved)  # new arrays, no longer the flat ones
    assert not any(m.base is optimizer._flat.groups[0].buffers[0] for m in optimizer.state.m)
    for step_grads in grads[4:]:
        for p, g in zip(params, step_grads):
            p.grad = g.copy()
        optimizer.step()
    for ours, reference in zip(params, straight[-1]):
        np.testing.assert_array_equal(ours.data, reference)
    assert all(m.base is optimizer._flat.groups[0].buffers[0] for m in optimizer.state.m)


def test_a_parameter_whose_array_changed_shape_is_named_in_the_error():
    w = Tensor(np.ones(3), requires_grad=True)
    optimizer = Adam([w])
    w.grad = np.ones(3)
    optimizer.step()
    w.data, w.grad = np.ones(4), np.ones(4)
    with pytest.raises(ValueError, match=r"m\[0\] has shape \(3,\) but the parameter has shape \(4,\)"):
        optimizer.step()


# --- subnormal numbers --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flush_subnormals_zeroes_subnormals_and_leaves_every_other_value(dtype):
    info = np.finfo(dtype)
    x = np.array([info.tiny / 2, -info.tiny / 8, info.smallest_subnormal, info.tiny, -info.tiny, 1.5, -3e-20,
                  0.0, -0.0, np.inf, -np.inf, np.nan, info.max], dtype=dtype)
    before = x.copy()
    optimizer_kernels.flush_subnormals(x, np.empty_like(x), np.empty(x.shape, dtype=bool))
    np.testing.assert_array_equal(x[:3], 0.0)
    assert np.signbit(x[1])  # a negative subnormal becomes -0.0, as flushing hardware gives
    np.testing.assert_array_equal(x[3:], before[3:])  # NaN == NaN here: assert_array_equal matches NaNs


def _adam_with_a_dead_unit(dtype, *, flat: bool, steps: int):
    """``steps`` updates of Adam on w = (dead, alive): the dead entry's gradient is 0 and its m starts subnormal."""
    w = Tensor(np.array([0.5, 0.5], dtype=dtype), requires_grad=True)
    optimizer = Adam([w], lr=0.01)
    tiny = np.finfo(dtype).tiny
    state = dataclasses.replace(optimizer.state, m=(np.array([tiny * 0.75, 0.01], dtype=dtype),),
                                v=(np.array([tiny * 0.5, 1e-4], dtype=dtype),))
    history = []
    for t in range(steps):
        g = np.array([0.0, 0.1 * (t + 1)], dtype=dtype)
        if flat:
            optimizer.state = state
            w.grad = g
            optimizer.step()
            state = optimizer.state
        else:
            (theta,), state = optimizer.update([g], state, [w.data])
            w.data = theta
        history.append((state.m[0].copy(), state.v[0].copy(), w.data.copy()))
    return history


@pytest.mark.parametrize("flat", [True, False], ids=["step", "update"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_flushes_a_subnormal_state_entry_on_its_16th_update_and_nothing_else(dtype, flat, monkeypatch):
    steps = optimizer_kernels.FLUSH_EVERY
    history = _adam_with_a_dead_unit(dtype, flat=flat, steps=steps)
    (m_before, v_before, _), (m, v, w) = history[-2], history[-1]
    assert 0 < m_before[0] < np.finfo(dtype).tiny and 0 < v_before[0] < np.finfo(dtype).tiny
    assert m[0] == 0 and v[0] == 0
    monkeypatch.setattr(optimizer_kernels, "FLUSH_EVERY", 10**9)
    m_kept, v_kept, w_kept = _adam_with_a_dead_unit(dtype, flat=flat, steps=steps)[-1]
    assert m_kept[0] > 0 and v_kept[0] > 0
    # The normal entries, and the parameters, are the same bits with or without the flush.
    assert (m[1], v[1]) == (m_kept[1], v_kept[1])
    np.testing.assert_array_equal(w, w_kept)


@pytest.mark.parametrize("make", [lambda p: SGD(p, lr=0.1, momentum=0.9), lambda p: RMSprop(p, centered=True, momentum=0.5),
                                  lambda p: AdamW(p, amsgrad=True)], ids=["momentum", "rmsprop", "adamw-amsgrad"])
def test_every_state_buffer_is_flushed(make):
    w = Tensor(np.array([1.0, 1.0], dtype=np.float32), requires_grad=True)
    optimizer = make([w])
    names = optimizer._buffer_names()
    tiny = np.finfo(np.float32).tiny
    optimizer.state = dataclasses.replace(
        optimizer.state, **{name: (np.array([tiny / 4, 1.0], dtype=np.float32),) for name in names})
    for _ in range(optimizer_kernels.FLUSH_EVERY):
        w.grad = np.array([0.0, 1.0], dtype=np.float32)
        optimizer.step()
    for name in names:
        assert getattr(optimizer.state, name)[0][0] == 0, name
