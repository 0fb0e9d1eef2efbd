"""Learning-rate schedules vs torch.optim.lr_scheduler (StepLR, ExponentialLR, CosineAnnealingLR) and,
for the course's inverse-time decay t0 / (t + t1), vs its formula; every registered schedule built by
name against rates worked by hand; then validation and the optimizer link."""

import inspect
import math
from dataclasses import dataclass

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
    get_schedule,
    register_schedule,
    schedule_record,
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


# name -> (its arguments, {t: eta(t)} worked by hand). Adding a schedule: its class in schedules.py + one line here.
RATES_BY_NAME = {
    "constant": (dict(lr=0.1), {0: 0.1, 7: 0.1}),
    "step": (dict(lr=1.0, step_size=2, gamma=0.5), {0: 1.0, 1: 1.0, 2: 0.5, 5: 0.25}),  # 0.5^floor(5/2)
    "exponential": (dict(lr=2.0, gamma=0.5), {0: 2.0, 3: 0.25}),  # 2 * 0.5^3
    "inverse_time": (dict(t0=5.0, t1=50.0), {0: 0.1, 50: 0.05, 150: 0.025}),  # 5 / (t + 50)
    # 0.2 + 0.8 (1 + cos(pi t / 4)) / 2: 1 at t = 0, 0.2 + 0.4 at t = 2, eta_min from t_max = 4 on
    "cosine": (dict(lr=1.0, t_max=4, eta_min=0.2), {0: 1.0, 2: 0.6, 4: 0.2, 9: 0.2}),
    # 1 (1/4 + 3/4 min(t, 3) / 3)
    "warmup": (dict(lr=1.0, start_factor=0.25, total_iters=3), {0: 0.25, 1: 0.5, 3: 1.0, 8: 1.0}),
    # 0.5 for t < 2, then 1.0 0.5^(t - 2)
    "sequential": (dict(schedules=[{"name": "constant", "lr": 0.5}, {"name": "exponential", "lr": 1.0, "gamma": 0.5}],
                        milestones=[2]), {0: 0.5, 1: 0.5, 2: 1.0, 4: 0.25}),
    # up from 1/5 to 1 over steps 0..4 (0.2 + 0.8 t / 4), down to 1/5/2 over 4..9 (1 - 0.9 (t - 4) / 5)
    "one_cycle": (dict(lr=1.0, total_steps=10, pct_start=0.5, anneal_strategy="linear", div_factor=5.0,
                       final_div_factor=2.0), {0: 0.2, 2: 0.6, 4: 1.0, 7: 0.46, 9: 0.1}),
    # cycles of 2, 4, 8 steps from t = 0, 2, 6: (1 + cos(pi T_cur / T_i)) / 2
    "cosine_restarts": (dict(lr=1.0, t_0=2, t_mult=2), {0: 1.0, 1: 0.5, 2: 1.0, 4: 0.5, 6: 1.0}),
}


def test_every_registered_schedule_has_a_case():
    shipped = {name for name, cls in SCHEDULES.items() if cls.__module__.startswith("nablanet.")}
    assert shipped == set(RATES_BY_NAME), "a registered schedule without a line in RATES_BY_NAME (or the reverse)"


@pytest.mark.parametrize("name", RATES_BY_NAME)
def test_schedule_built_by_name_gives_the_rates_worked_by_hand_and_saves(name):
    arguments, rates = RATES_BY_NAME[name]
    schedule = get_schedule(name, **arguments)
    record = schedule_record(name)
    assert type(schedule) is record.cls is SCHEDULES[name] is SCHEDULES[record.cls.__name__]
    assert record.takes_lr == ("lr" in arguments)
    for t, rate in rates.items():
        assert schedule(t) == pytest.approx(rate, rel=1e-12), f"{name} at t = {t}"
    # An optimizer's state_dict records the schedule by class name and rebuilds it.
    w = Tensor(np.zeros(1), requires_grad=True)
    fresh = SGD([w], lr=0.5)
    fresh.load_state_dict(SGD([w], lr=schedule).state_dict())
    assert fresh.lr == schedule


def test_schedules_are_keyed_by_config_name_and_found_by_class_name():
    assert list(SCHEDULES) == ["constant", "step", "exponential", "inverse_time", "cosine", "warmup", "sequential",
                               "one_cycle", "cosine_restarts"]
    assert "CosineDecay" in SCHEDULES and SCHEDULES["CosineDecay"] is CosineDecay is SCHEDULES["cosine"]
    assert schedule_record(StepDecay).name == "step"
    assert schedule_record("inverse_time").arguments == {"t0": inspect.Parameter.empty, "t1": inspect.Parameter.empty}
    assert "cosine_decay" not in SCHEDULES
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'cosine_decay'; known: constant, step"):
        get_schedule("cosine_decay", lr=0.1)
    with pytest.raises(ValueError, match=r"schedule 'step' \(StepDecay\) needs step_size"):
        get_schedule("step", lr=0.1)
    with pytest.raises(ValueError, match=r"schedule 'constant' \(Constant\) takes no argument 'gamma'"):
        get_schedule("constant", lr=0.1, gamma=0.5)


@dataclass(frozen=True)
class _Warmup:
    """eta(t) = lr * min(1, (t + 1) / steps): a schedule defined outside nablanet."""

    lr: float
    steps: int

    def __call__(self, t):
        return self.lr * min(1.0, (t + 1) / self.steps)


@pytest.fixture
def warmup_registered():
    register_schedule("ramp_up", _Warmup, aliases=("linear_ramp",))
    yield
    SCHEDULES.records.remove("ramp_up")


def test_a_registered_schedule_is_built_by_name_and_saved(warmup_registered):
    schedule = get_schedule("linear_ramp", lr=1.0, steps=4)
    assert [schedule(t) for t in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    assert list(SCHEDULES)[-1] == "ramp_up" and SCHEDULES["_Warmup"] is _Warmup
    w = Tensor(np.zeros(1), requires_grad=True)
    fresh = SGD([w], lr=0.5)
    fresh.load_state_dict(SGD([w], lr=schedule).state_dict())
    assert fresh.lr == schedule
    with pytest.raises(ValueError, match="the learning-rate schedule name 'step' is taken by nablanet.optim.schedules.StepDecay"):
        register_schedule("step", _Warmup)
    with pytest.raises(TypeError, match="expected a class whose instances are called with t"):
        register_schedule("integer", int)


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
