"""Optimizers: every update rule step by step against torch.optim, both paths (pure update / in-place step),
float32, no allocation per step, resume bit for bit, convergence, validation, flush_denormals, L-BFGS.

Finite-difference gradient checks do not apply here (optimizers are not differentiated): the oracle is
PyTorch 2.13's torch.optim fed the same starting weights and the same gradients, in float64, compared
after every step at rtol = atol = 1e-10.
"""

import dataclasses
import sys
import tracemalloc

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import nablanet.numpy as nnp  # noqa: E402
from nablanet import Tensor  # noqa: E402
from nablanet.optim import (  # noqa: E402
    GD,
    LBFGS,
    SGD,
    Adagrad,
    Adam,
    AdamW,
    CosineDecay,
    ExponentialDecay,
    InverseTimeDecay,
    Momentum,
    Nesterov,
    RMSprop,
    StepDecay,
    flush_denormals,
    lbfgs_minimize,
)

TOL = dict(rtol=1e-10, atol=1e-10)
SHAPES = [(), (3,), (2, 3), (4, 1, 2)]
STEPS = 6

# Our state field -> torch's per-parameter state key.
TORCH_STATE_NAMES = {
    "velocity": "momentum_buffer", "G": "sum", "v": ("square_avg", "exp_avg_sq"), "m": ("grad_avg", "exp_avg"),
    "v_max": "max_exp_avg_sq",
}

T = torch.optim
SCHED = torch.optim.lr_scheduler

# id -> (our optimizer from params, torch (optimizer, scheduler or None) from params, torch-side clipping)
CASES = {
    "gd": (lambda p: GD(p, lr=0.1), lambda p: (T.SGD(p, lr=0.1), None), None),
    "sgd-weight-decay": (lambda p: SGD(p, lr=0.1, weight_decay=0.05),
                         lambda p: (T.SGD(p, lr=0.1, weight_decay=0.05), None), None),
    "momentum": (lambda p: Momentum(p, lr=0.1, momentum=0.9), lambda p: (T.SGD(p, lr=0.1, momentum=0.9), None), None),
    "momentum-dampening-wd": (lambda p: SGD(p, lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01),
                              lambda p: (T.SGD(p, lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01), None),
                              None),
    "nesterov": (lambda p: Nesterov(p, lr=0.1, momentum=0.9),
                 lambda p: (T.SGD(p, lr=0.1, momentum=0.9, nesterov=True), None), None),
    "nesterov-wd": (lambda p: SGD(p, lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.1),
                    lambda p: (T.SGD(p, lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.1), None), None),
    "adagrad": (lambda p: Adagrad(p, lr=0.1), lambda p: (T.Adagrad(p, lr=0.1), None), None),
    "adagrad-options": (
        lambda p: Adagrad(p, lr=0.1, lr_decay=0.05, initial_accumulator_value=0.3, weight_decay=0.02, eps=1e-3),
        lambda p: (T.Adagrad(p, lr=0.1, lr_decay=0.05, initial_accumulator_value=0.3, weight_decay=0.02, eps=1e-3),
                   None),
        None),
    "rmsprop": (lambda p: RMSprop(p, lr=0.01), lambda p: (T.RMSprop(p, lr=0.01), None), None),
    "rmsprop-alpha-eps": (lambda p: RMSprop(p, lr=0.01, alpha=0.9, eps=1e-3),
                          lambda p: (T.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-3), None), None),
    "rmsprop-centered": (lambda p: RMSprop(p, lr=0.01, centered=True),
                         lambda p: (T.RMSprop(p, lr=0.01, centered=True), None), None),
    "rmsprop-momentum": (lambda p: RMSprop(p, lr=0.01, momentum=0.9),
                         lambda p: (T.RMSprop(p, lr=0.01, momentum=0.9), None), None),
    "rmsprop-everything": (
        lambda p: RMSprop(p, lr=0.01, alpha=0.95, centered=True, momentum=0.5, weight_decay=0.1, eps=1e-4),
        lambda p: (T.RMSprop(p, lr=0.01, alpha=0.95, centered=True, momentum=0.5, weight_decay=0.1, eps=1e-4), None),
        None),
    "adam": (lambda p: Adam(p, lr=0.01), lambda p: (T.Adam(p, lr=0.01), None), None),
    "adam-betas-eps": (lambda p: Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-3),
                       lambda p: (T.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-3), None), None),
    "adam-beta1-beta2": (lambda p: Adam(p, lr=0.02, beta1=0.5, beta2=0.9),
                         lambda p: (T.Adam(p, lr=0.02, betas=(0.5, 0.9)), None), None),
    "adam-amsgrad-l2": (lambda p: Adam(p, lr=0.01, amsgrad=True, weight_decay=0.1),
                        lambda p: (T.Adam(p, lr=0.01, amsgrad=True, weight_decay=0.1), None), None),
    "adamw": (lambda p: AdamW(p, lr=0.01), lambda p: (T.AdamW(p, lr=0.01), None), None),
    "adamw-amsgrad": (lambda p: AdamW(p, lr=0.05, weight_decay=0.3, amsgrad=True, beta1=0.5, beta2=0.9),
                      lambda p: (T.AdamW(p, lr=0.05, weight_decay=0.3, amsgrad=True, betas=(0.5, 0.9)), None), None),
    # Gradient clipping inside step() vs torch.nn.utils.clip_grad_*_ before torch's step().
    "momentum-clip-norm": (lambda p: SGD(p, lr=0.1, momentum=0.9, clip_norm=0.5),
                           lambda p: (T.SGD(p, lr=0.1, momentum=0.9), None), ("norm", 0.5)),
    "adam-clip-value": (lambda p: Adam(p, lr=0.01, clip_value=0.3),
                        lambda p: (T.Adam(p, lr=0.01), None), ("value", 0.3)),
    "rmsprop-clip-both-wd": (lambda p: RMSprop(p, lr=0.01, weight_decay=0.1, clip_value=0.8, clip_norm=1.0),
                             lambda p: (T.RMSprop(p, lr=0.01, weight_decay=0.1), None), ("both", 0.8, 1.0)),
    # Schedules: torch's scheduler.step() after every optimizer step.
    "adam-step-decay": (lambda p: Adam(p, lr=StepDecay(0.01, step_size=2, gamma=0.5)),
                        lambda p: _with_scheduler(T.Adam(p, lr=0.01), SCHED.StepLR, step_size=2, gamma=0.5), None),
    "momentum-cosine": (lambda p: SGD(p, lr=CosineDecay(0.1, t_max=STEPS), momentum=0.9),
                        lambda p: _with_scheduler(T.SGD(p, lr=0.1, momentum=0.9), SCHED.CosineAnnealingLR,
                                                  T_max=STEPS),
                        None),
    "rmsprop-exponential": (lambda p: RMSprop(p, lr=ExponentialDecay(0.01, gamma=0.7)),
                            lambda p: _with_scheduler(T.RMSprop(p, lr=0.01), SCHED.ExponentialLR, gamma=0.7), None),
    "adamw-inverse-time": (lambda p: AdamW(p, lr=InverseTimeDecay(t0=1.0, t1=20.0), weight_decay=0.1),
                           lambda p: _with_scheduler(T.AdamW(p, lr=1.0 / 20.0, weight_decay=0.1), SCHED.LambdaLR,
                                                     lr_lambda=lambda t: 20.0 / (t + 20.0)), None),
}


def _with_scheduler(optimizer, scheduler_class, **kwargs):
    return optimizer, scheduler_class(optimizer, **kwargs)


def _problem(seed=0, dtype=np.float64, steps=STEPS, shapes=SHAPES):
    """Starting weights and a sequence of gradients (a different one per step, of varied magnitude)."""
    rng = np.random.default_rng(seed)
    thetas = [rng.standard_normal(shape).astype(dtype) for shape in shapes]
    grads = [[(rng.standard_normal(shape) * 10.0 ** rng.uniform(-1, 1)).astype(dtype) for shape in shapes]
             for _ in range(steps)]
    return thetas, grads


def _run_torch(case, thetas, grads, dtype=torch.float64):
    _, make_torch, clip = CASES[case]
    params = [torch.tensor(theta, dtype=dtype, requires_grad=True) for theta in thetas]
    optimizer, scheduler = make_torch(params)
    history = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = torch.tensor(g, dtype=dtype)
        if clip is not None and clip[0] in ("value", "both"):
            torch.nn.utils.clip_grad_value_(params, clip[1])
        if clip is not None and clip[0] in ("norm", "both"):
            torch.nn.utils.clip_grad_norm_(params, clip[-1])
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        history.append([p.detach().numpy().copy() for p in params])
    return history, optimizer, params


def _run_step(case, thetas, grads):
    params = [Tensor(theta.copy(), requires_grad=True) for theta in thetas]
    optimizer = CASES[case][0](params)
    history = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g.copy()
        optimizer.step()
        history.append([p.data.copy() for p in params])
    return history, optimizer, params


def _run_update(case, thetas, grads):
    optimizer = CASES[case][0](None)
    state = optimizer.init_state(thetas)
    history = []
    for step_grads in grads:
        thetas, state = optimizer.update(step_grads, state, thetas)
        history.append(thetas)
    return history, state


@pytest.mark.parametrize("case", CASES)
def test_every_step_matches_torch(case):
    thetas, grads = _problem()
    expected, torch_optimizer, torch_params = _run_torch(case, thetas, grads)
    stepped, optimizer, _ = _run_step(case, thetas, grads)
    updated, state = _run_update(case, thetas, grads)
    for t in range(STEPS):
        for ours_step, ours_update, reference in zip(stepped[t], updated[t], expected[t]):
            np.testing.assert_allclose(ours_step, reference, **TOL, err_msg=f"{case}, step {t + 1}")
            # One rule, two callers: the in-place and the pure path agree bit for bit.
            np.testing.assert_array_equal(ours_step, ours_update)
    # The optimizer states mean the same as torch's (same buffers, same values).
    for field in dataclasses.fields(state):
        buffers = getattr(state, field.name)
        if field.name == "t":
            assert buffers == optimizer.state.t == STEPS
            continue
        if buffers is None:
            continue
        names = TORCH_STATE_NAMES[field.name]
        for i, (buffer, p) in enumerate(zip(buffers, torch_params)):
            torch_state = torch_optimizer.state[p]
            key = next(name for name in np.atleast_1d(names) if name in torch_state)
            np.testing.assert_allclose(buffer, torch_state[key].numpy(), **TOL, err_msg=f"{case}: {field.name}[{i}]")
            np.testing.assert_array_equal(buffer, getattr(optimizer.state, field.name)[i])


@pytest.mark.parametrize("case", CASES)
def test_float32_stays_float32(case):
    thetas, grads = _problem(dtype=np.float32)
    stepped, optimizer, _ = _run_step(case, thetas, grads)
    updated, state = _run_update(case, thetas, grads)
    reference, _ = _run_update(case, [theta.astype(np.float64) for theta in thetas],
                               [[g.astype(np.float64) for g in gs] for gs in grads])
    for ours_step, ours_update, ref in zip(stepped[-1], updated[-1], reference[-1]):
        assert ours_step.dtype == ours_update.dtype == np.float32
        np.testing.assert_allclose(ours_step, ref, rtol=1e-4, atol=1e-5)
    for field in dataclasses.fields(state):
        for buffers in (getattr(state, field.name), getattr(optimizer.state, field.name)):
            if isinstance(buffers, tuple):
                assert all(buffer.dtype == np.float32 for buffer in buffers), field.name


@pytest.mark.parametrize("case", CASES)
def test_step_updates_in_place_without_allocating(case):
    rng = np.random.default_rng(1)
    params = [Tensor(rng.standard_normal(100_000), requires_grad=True),
              Tensor(rng.standard_normal((50, 20)), requires_grad=True)]
    optimizer = CASES[case][0](params)
    data_before = [p.data for p in params]
    for p in params:
        p.grad = rng.standard_normal(p.shape)
    optimizer.step()  # the first step creates the scratch arrays
    buffers_before = [getattr(optimizer.state, f.name) for f in dataclasses.fields(optimizer.state)]
    tracemalloc.start()
    optimizer.step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20_000, f"{case}: step() allocated {peak} bytes (one parameter is 800,000)"
    assert all(p.data is before for p, before in zip(params, data_before))
    buffers_after = [getattr(optimizer.state, f.name) for f in dataclasses.fields(optimizer.state)]
    for before, after in zip(buffers_before, buffers_after):
        if isinstance(before, tuple):
            assert all(a is b for a, b in zip(before, after))


@pytest.mark.parametrize("case", CASES)
def test_update_is_pure(case):
    thetas, grads = _problem(steps=2)
    optimizer = CASES[case][0](None)
    state = optimizer.init_state(thetas)
    _, state = optimizer.update(grads[0], state, thetas)
    copies = ([t.copy() for t in thetas], [g.copy() for g in grads[1]],
              {f.name: [b.copy() for b in getattr(state, f.name)] for f in dataclasses.fields(state)
               if isinstance(getattr(state, f.name), tuple)})
    new_thetas, new_state = optimizer.update(grads[1], state, thetas)
    for original, copy in zip(thetas + grads[1], copies[0] + copies[1]):
        np.testing.assert_array_equal(original, copy)
    for name, arrays in copies[2].items():
        for original, copy in zip(getattr(state, name), arrays):
            np.testing.assert_array_equal(original, copy)
    assert new_state.t == state.t + 1 == 2
    assert not any(np.shares_memory(a, b) for a in new_thetas for b in thetas)


@pytest.mark.parametrize("case", CASES)
def test_resume_from_state_dict_is_bit_for_bit(case, tmp_path):
    thetas, grads = _problem(steps=10)
    straight, optimizer, _ = _run_step(case, thetas, grads)

    params = [Tensor(theta.copy(), requires_grad=True) for theta in thetas]
    first = CASES[case][0](params)
    for step_grads in grads[:5]:
        for p, g in zip(params, step_grads):
            p.grad = g.copy()
        first.step()
    checkpoint = tmp_path / "checkpoint.npz"
    np.savez(checkpoint, **{f"param.{i}": p.data for i, p in enumerate(params)}, **first.state_dict())
    with np.load(checkpoint, allow_pickle=False) as saved:
        saved = dict(saved)
    resumed_params = [Tensor(saved.pop(f"param.{i}"), requires_grad=True) for i in range(len(thetas))]
    resumed = CASES[case][0](resumed_params)
    resumed.load_state_dict(saved)
    for step_grads in grads[5:]:
        for p, g in zip(resumed_params, step_grads):
            p.grad = g.copy()
        resumed.step()
    for ours, reference in zip(resumed_params, straight[-1]):
        np.testing.assert_array_equal(ours.data, reference)
    for field in dataclasses.fields(optimizer.state):
        a, b = getattr(optimizer.state, field.name), getattr(resumed.state, field.name)
        if isinstance(a, tuple):
            for x, y in zip(a, b):
                np.testing.assert_array_equal(x, y)
        else:
            assert a == b


def test_load_state_dict_restores_hyperparameters_and_schedule():
    w = Tensor(np.ones(3), requires_grad=True)
    saved = Adam([w], lr=StepDecay(0.1, step_size=3, gamma=0.5), beta1=0.8, amsgrad=True, clip_norm=2.0).state_dict()
    assert all(isinstance(value, np.ndarray) and value.dtype != object for value in saved.values())
    fresh = Adam([Tensor(np.ones(3), requires_grad=True)], lr=1.0, amsgrad=True)
    fresh.load_state_dict(saved)
    assert fresh.lr == StepDecay(0.1, step_size=3, gamma=0.5)
    assert (fresh.beta1, fresh.amsgrad, fresh.clip_norm, fresh.clip_value) == (0.8, True, 2.0, None)
    with pytest.raises(ValueError, match="saved by Adam, not SGD"):
        SGD([w], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match="shape"):
        Adam([Tensor(np.ones(4), requires_grad=True)], amsgrad=True).load_state_dict(saved)


def test_custom_schedule_and_lr_now():
    w = Tensor(np.zeros(2), requires_grad=True)
    optimizer = SGD([w], lr=lambda t: 1.0 / (t + 1))
    assert optimizer.lr_now == 1.0
    for _ in range(3):
        w.grad = np.ones(2)
        optimizer.step()
    assert optimizer.lr_now == 0.25
    np.testing.assert_allclose(w.data, -(1.0 + 1 / 2 + 1 / 3) * np.ones(2))


def test_step_skips_parameters_without_gradient_and_zero_grad():
    a, b = Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    optimizer = Momentum([a, b], lr=0.1)
    a.grad = np.ones(2)
    optimizer.step()
    np.testing.assert_array_equal(b.data, np.ones(3))
    np.testing.assert_allclose(a.data, 0.9 * np.ones(2))
    optimizer.zero_grad()
    assert a.grad is None and b.grad is None
    new, state = optimizer.update([None, np.ones(3)], optimizer.state, [a.data, b.data])
    assert new[0] is a.data and state.t == 2


def test_gd_on_a_quadratic_matches_the_closed_form():
    # C(theta) = 1/2 (theta - c)^T A (theta - c): GD gives theta_t - c = (I - eta A)^t (theta_0 - c).
    rng = np.random.default_rng(3)
    Q = np.linalg.qr(rng.standard_normal((4, 4)))[0]
    A, c, eta = Q @ np.diag([1.0, 2.0, 5.0, 9.0]) @ Q.T, rng.standard_normal(4), 0.1
    theta = Tensor(np.zeros(4), requires_grad=True)
    optimizer = GD([theta], lr=eta)
    for _ in range(25):
        optimizer.zero_grad()
        (0.5 * ((theta - c) @ (Tensor(A) @ (theta - c)))).backward()
        optimizer.step()
    expected = c + np.linalg.matrix_power(np.eye(4) - eta * A, 25) @ (np.zeros(4) - c)
    np.testing.assert_allclose(theta.data, expected, rtol=1e-12, atol=1e-12)


CONVERGENCE = {
    "gd": lambda p: GD(p, lr=0.1),
    "momentum": lambda p: Momentum(p, lr=0.05, momentum=0.8),
    "nesterov": lambda p: Nesterov(p, lr=0.05, momentum=0.8),
    "adagrad": lambda p: Adagrad(p, lr=0.5),
    "rmsprop": lambda p: RMSprop(p, lr=0.01, momentum=0.5),
    "adam": lambda p: Adam(p, lr=0.05),
    "adamw": lambda p: AdamW(p, lr=0.05, weight_decay=1e-3),
    "adam-inverse-time": lambda p: Adam(p, lr=InverseTimeDecay(t0=5.0, t1=50.0)),
    "sgd-clipped": lambda p: SGD(p, lr=0.1, clip_norm=1.0),
}


@pytest.mark.parametrize("name", CONVERGENCE)
def test_every_optimizer_reduces_a_convex_quadratic(name):
    rng = np.random.default_rng(4)
    Q = np.linalg.qr(rng.standard_normal((5, 5)))[0]
    A = Tensor(Q @ np.diag([0.5, 1.0, 2.0, 4.0, 8.0]) @ Q.T)
    c = rng.standard_normal(5)
    theta = Tensor(np.zeros(5), requires_grad=True)
    optimizer = CONVERGENCE[name]([theta])

    def cost():
        return 0.5 * ((theta - c) @ (A @ (theta - c)))

    initial = float(cost())
    for _ in range(300):
        optimizer.zero_grad()
        loss = cost()
        loss.backward()
        optimizer.step()
    assert float(cost()) < 1e-3 * initial, f"{name}: cost {float(cost())} from {initial}"


def test_validation_messages():
    with pytest.raises(ValueError, match=r"learning rate must be positive, got -0\.1"):
        SGD(lr=-0.1)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\), got 1\.5"):
        SGD(lr=0.1, momentum=1.5)
    with pytest.raises(ValueError, match="nesterov momentum needs momentum > 0 and dampening = 0"):
        SGD(lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"beta2 must be in \[0, 1\), got 1\.0"):
        Adam(betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="give either betas or beta1/beta2"):
        Adam(beta1=0.5, betas=(0.9, 0.99))
    with pytest.raises(ValueError, match="eps must be non-negative, got -1e-08"):
        RMSprop(eps=-1e-8)
    with pytest.raises(ValueError, match="clip_norm must be positive, got 0.0"):
        Adam(clip_norm=0)
    with pytest.raises(ValueError, match="empty parameter list"):
        Adam([])
    with pytest.raises(TypeError, match="lr must be a float or a schedule"):
        Adam(lr="0.1")
    with pytest.raises(RuntimeError, match="needs the parameters"):
        Adam().step()
    w = Tensor(np.ones(3), requires_grad=True)
    w.grad = np.ones(2)
    with pytest.raises(ValueError, match=r"gradient 0 has shape \(2,\) but its parameter has shape \(3,\)"):
        Adam([w]).step()
    assert Adam(betas=(0.8, 0.9)).beta1 == 0.8


@pytest.mark.skipif(sys.platform != "linux", reason="flush_denormals supports x86-64 Linux with glibc")
def test_flush_denormals_flushes_inside_and_restores_after():
    tiny = np.array([1e-30], dtype=np.float32)
    try:
        with flush_denormals():
            assert (tiny * np.float32(1e-10))[0] == 0.0  # 1e-40 would be subnormal
            assert (np.array([1e-40], dtype=np.float32) + np.float32(0.0))[0] == 0.0  # read as zero
    except NotImplementedError as error:
        pytest.skip(str(error))
    assert (tiny * np.float32(1e-10))[0] != 0.0


# --- L-BFGS -----------------------------------------------------------------------------------------
# Not compared step by step with torch.optim.LBFGS: torch's default takes fixed steps without a line
# search, and its optional strong-Wolfe search differs from ours (Nocedal & Wright's Algorithms 3.5-3.6,
# our own NumPy code, full quasi-Newton step tried first) in its interpolation and stopping details, so
# the iterates legitimately differ. What every correct L-BFGS must share is the answer: the minimum of
# Rosenbrock's function (known: all ones) and the least-squares solution (closed form, compared with
# numpy.linalg.lstsq).

def _rosenbrock(x):
    f = np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return f, g


@pytest.mark.parametrize("n", [2, 10])
def test_lbfgs_finds_the_minimum_of_rosenbrock(n):
    x0 = np.where(np.arange(n) % 2 == 0, -1.2, 1.0)
    x, f, state = lbfgs_minimize(_rosenbrock, x0, max_iter=500, tolerance_grad=1e-10, tolerance_change=0.0)
    np.testing.assert_allclose(x, np.ones(n), atol=1e-7)
    assert f < 1e-14 and state.t < 200


def test_lbfgs_on_parameters_solves_least_squares():
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((50, 4)), rng.standard_normal(50)
    w, b = Tensor(np.zeros(4), requires_grad=True), Tensor(np.zeros(()), requires_grad=True)
    optimizer = LBFGS([w, b], max_iter=100, tolerance_grad=1e-12, tolerance_change=0.0)

    def closure():
        residual = Tensor(X) @ w + b - y
        loss = (residual * residual).sum()
        loss.backward()
        return loss

    loss = optimizer.step(closure)
    solution, residuals, *_ = np.linalg.lstsq(np.column_stack([X, np.ones(50)]), y, rcond=None)
    np.testing.assert_allclose(np.append(w.data, b.data), solution, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(loss, residuals[0], rtol=1e-10)


def test_lbfgs_keeps_float32_and_resumes_bit_for_bit(tmp_path):
    def make():
        w = Tensor(np.array([-1.2, 1.0, -1.2, 1.0], dtype=np.float32), requires_grad=True)
        return w, LBFGS([w], max_iter=4)

    def closure_for(w):
        def closure():
            z = w * 1.0
            loss = (100.0 * (z[1:] - z[:-1] * z[:-1]) ** 2 + (1.0 - z[:-1]) ** 2).sum()
            loss.backward()
            return loss
        return closure

    w_straight, straight = make()
    for _ in range(3):
        straight.step(closure_for(w_straight))
    assert w_straight.data.dtype == np.float32

    w_first, first = make()
    first.step(closure_for(w_first))
    np.savez(tmp_path / "lbfgs.npz", w=w_first.data, **first.state_dict())
    with np.load(tmp_path / "lbfgs.npz", allow_pickle=False) as saved:
        saved = dict(saved)
    w_resumed, resumed = make()
    np.copyto(w_resumed.data, saved.pop("w"))
    resumed.load_state_dict(saved)
    for _ in range(2):
        resumed.step(closure_for(w_resumed))
    np.testing.assert_array_equal(w_resumed.data, w_straight.data)
    assert resumed.state.t == straight.state.t
    for a, b in zip(resumed.state.s + resumed.state.y, straight.state.s + straight.state.y):
        np.testing.assert_array_equal(a, b)


# Cases whose torch twin supports complex parameters the same way (torch.optim views them as pairs of
# reals); clipping by value has no meaning for complex numbers in torch.
COMPLEX_CASES = [case for case in CASES if CASES[case][2] is None]


@pytest.mark.parametrize("case", COMPLEX_CASES)
def test_complex_parameters_step_as_torch(case):
    # The engine's gradient of a real loss in a complex parameter is JAX's, dL/dx - i dL/dy; torch's
    # is its conjugate. Given the same loss, both optimizers take the same steps.
    rng = np.random.default_rng(1)
    thetas = [rng.standard_normal(s) + 1j * rng.standard_normal(s) for s in SHAPES]
    jax_grads = [[rng.standard_normal(s) + 1j * rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]
    params = [Tensor(theta.copy(), requires_grad=True) for theta in thetas]
    optimizer = CASES[case][0](params)
    torch_params = [torch.tensor(theta, dtype=torch.complex128, requires_grad=True) for theta in thetas]
    torch_optimizer, scheduler = CASES[case][1](torch_params)
    functional = CASES[case][0](None)
    state, functional_thetas = functional.init_state(thetas), thetas
    for t, step_grads in enumerate(jax_grads):
        for p, q, g in zip(params, torch_params, step_grads):
            p.grad = g.copy()
            q.grad = torch.tensor(np.conj(g))
        optimizer.step()
        torch_optimizer.step()
        if scheduler is not None:
            scheduler.step()
        functional_thetas, state = functional.update(step_grads, state, functional_thetas)
        for p, q, f in zip(params, torch_params, functional_thetas):
            np.testing.assert_allclose(p.data, q.detach().numpy(), **TOL, err_msg=f"{case}, step {t + 1}")
            np.testing.assert_array_equal(p.data, f)


def test_descent_on_a_complex_parameter_converges():
    # min |z - c|^2 over complex z: first-order optimizers and L-BFGS reach c (stepping along the
    # engine's gradient itself, without taking its conjugate, would diverge in the imaginary part).
    target = np.array([3.0 - 1.0j, -0.5 + 2.0j])
    for make in (lambda p: SGD(p, lr=0.2), lambda p: Adam(p, lr=0.1), lambda p: RMSprop(p, lr=0.05)):
        z = Tensor(np.zeros(2, complex), requires_grad=True)
        optimizer = make([z])
        for _ in range(300):
            z.grad = None
            nnp.sum(nnp.abs(z - target) ** 2).backward()
            optimizer.step()
        np.testing.assert_allclose(z.data, target, atol=1e-3)
    z = Tensor(np.zeros(2, complex), requires_grad=True)
    optimizer = LBFGS([z], max_iter=50)

    def closure():
        loss = nnp.sum(nnp.abs(z - target) ** 2)
        loss.backward()
        return loss

    optimizer.step(closure)
    np.testing.assert_allclose(z.data, target, atol=1e-8)
