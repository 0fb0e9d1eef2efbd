"""Learning-rate schedules vs torch.optim.lr_scheduler (StepLR, ExponentialLR, CosineAnnealingLR) and,
for the course's inverse-time decay t0 / (t + t1), vs its formula; then validation and the optimizer link."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nablanet import Tensor  # noqa: E402
from nablanet.optim import (  # noqa: E402
    SCHEDULES,
    SGD,
    Constant,
    CosineDecay,
    ExponentialDecay,
    InverseTimeDecay,
    StepDecay,
)

STEPS = 40


def _torch_rates(scheduler_class, lr, steps=STEPS, **kwargs):
    """torch's learning rate in use at optimizer steps t = 0 .. steps - 1 (scheduler.step() after each)."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = scheduler_class(optimizer, **kwargs)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


@pytest.mark.parametrize("ours, torch_class, kwargs", [
    (StepDecay(0.1, step_size=7), torch.optim.lr_scheduler.StepLR, dict(step_size=7)),
    (StepDecay(0.3, step_size=3, gamma=0.5), torch.optim.lr_scheduler.StepLR, dict(step_size=3, gamma=0.5)),
    (ExponentialDecay(0.1, gamma=0.9), torch.optim.lr_scheduler.ExponentialLR, dict(gamma=0.9)),
    (CosineDecay(0.1, t_max=STEPS), torch.optim.lr_scheduler.CosineAnnealingLR, dict(T_max=STEPS)),
    (CosineDecay(0.1, t_max=25, eta_min=0.01), torch.optim.lr_scheduler.CosineAnnealingLR,
     dict(T_max=25, eta_min=0.01)),
], ids=["step", "step-gamma", "exponential", "cosine", "cosine-eta-min"])
def test_schedule_matches_torch(ours, torch_class, kwargs):
    steps = min(STEPS, getattr(ours, "t_max", STEPS) + 1)  # torch's cosine climbs again after T_max
    expected = _torch_rates(torch_class, ours.lr, steps=steps, **kwargs)
    np.testing.assert_allclose([ours(t) for t in range(steps)], expected, rtol=1e-10, atol=1e-12)


def test_inverse_time_decay_is_the_course_formula():
    t0, t1 = 5.0, 50.0
    schedule = InverseTimeDecay(t0=t0, t1=t1)
    n_batches = 8
    for epoch in range(3):
        for i in range(n_batches):
            t = epoch * n_batches + i  # the notes' step count
            assert schedule(t) == t0 / (t + t1)
    assert schedule(0) == 0.1


def test_cosine_stays_at_eta_min_after_t_max():
    schedule = CosineDecay(1.0, t_max=10, eta_min=0.1)
    assert schedule(10) == schedule(11) == schedule(1000) == 0.1
    assert schedule(5) == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi / 2)) / 2)


def test_constant_and_rates_are_python_floats():
    for schedule in (Constant(0.1), StepDecay(0.1, 2), ExponentialDecay(0.1, 0.5), InverseTimeDecay(1.0, 2.0),
                     CosineDecay(0.1, 5)):
        assert type(schedule(3)) is float  # never a NumPy scalar, which could upcast float32 arrays


def test_optimizer_uses_schedule_of_its_step_count():
    w = Tensor(np.zeros(1), requires_grad=True)
    schedule = StepDecay(1.0, step_size=2, gamma=0.5)
    optimizer = SGD([w], lr=schedule)
    rates = []
    for _ in range(5):
        rates.append(optimizer.lr_now)
        w.grad = np.ones(1)
        optimizer.step()
    assert rates == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert w.data[0] == -sum(rates)


def test_every_schedule_is_registered_for_state_dict():
    assert set(SCHEDULES) == {"Constant", "StepDecay", "ExponentialDecay", "InverseTimeDecay", "CosineDecay"}
    w = Tensor(np.zeros(1), requires_grad=True)
    for schedule in (Constant(0.1), StepDecay(0.1, 2), ExponentialDecay(0.1, 0.5), InverseTimeDecay(1.0, 2.0),
                     CosineDecay(0.1, 5, 0.01)):
        fresh = SGD([w], lr=0.5)
        fresh.load_state_dict(SGD([w], lr=schedule).state_dict())
        assert fresh.lr == schedule


@pytest.mark.parametrize("make, message", [
    (lambda: StepDecay(-1.0, 2), "learning rate must be positive, got -1.0"),
    (lambda: StepDecay(0.1, 0), "step_size must be a positive integer, got 0"),
    (lambda: ExponentialDecay(0.1, gamma=0.0), "gamma must be positive, got 0.0"),
    (lambda: InverseTimeDecay(t0=1.0, t1=0.0), "t1 must be positive, got 0.0"),
    (lambda: CosineDecay(0.1, t_max=10, eta_min=0.2), r"eta_min must be in \[0, lr\], got 0.2"),
])
def test_validation(make, message):
    with pytest.raises(ValueError, match=message):
        make()
