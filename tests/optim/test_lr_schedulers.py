"""Warmup (LinearLR), chaining (SequentialLR), OneCycleLR, CosineAnnealingWarmRestarts and ReduceLROnPlateau:
each schedule's rates against torch.optim.lr_scheduler's to 1e-12 over hypothesis-drawn settings; the
plateau callback against torch's scheduler (one rule: optim.plateau); saving the new schedules."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from optim.test_schedules import _torch_rates  # noqa: E402
from train.test_callbacks import _drive, _StubRun  # noqa: E402

from nablanet import Tensor  # noqa: E402
from nablanet.optim import (  # noqa: E402
    SGD,
    CosineDecay,
    CosineWarmRestarts,
    ExponentialDecay,
    LinearWarmup,
    OneCycle,
    ReduceLROnPlateau,
    Sequential,
    StepDecay,
    get_schedule,
)
from nablanet.train.callbacks import ReduceLROnPlateau as ReduceLROnPlateauCallback  # noqa: E402

LR = torch.optim.lr_scheduler
TOL = dict(rtol=1e-12, atol=1e-12)
EXAMPLES = settings(max_examples=40, deadline=None)


def _close(ours, expected):
    np.testing.assert_allclose(ours, expected, **TOL)


@EXAMPLES
@given(lr=st.floats(1e-3, 1.0), start=st.floats(0.01, 1.0), end=st.floats(0.0, 1.0), total=st.integers(1, 20))
def test_linear_warmup_matches_linear_lr(lr, start, end, total):
    ours = LinearWarmup(lr, start_factor=start, end_factor=end, total_iters=total)
    expected = _torch_rates(LR.LinearLR, lr, steps=total + 10, start_factor=start, end_factor=end, total_iters=total)
    _close([ours(t) for t in range(total + 10)], expected)


def _torch_sequential(lr, parts, milestones, steps):
    """SequentialLR over torch schedulers built by ``parts`` (functions of the optimizer)."""
    def sequential(optimizer):
        return LR.SequentialLR(optimizer, [make(optimizer) for make in parts], milestones=list(milestones))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR's step(0) of each part at its milestone warns
        return _torch_rates(sequential, lr, steps=steps)


@EXAMPLES
@given(lr=st.floats(1e-3, 1.0), start=st.floats(0.01, 1.0), warm=st.integers(1, 10), extra=st.integers(0, 5),
       t_max=st.integers(1, 30), gamma=st.floats(0.5, 0.99), then=st.sampled_from(["cosine", "exponential", "step"]))
def test_warmup_then_another_schedule_matches_sequential_lr(lr, start, warm, extra, t_max, gamma, then):
    milestone = warm + extra  # the warmup may hold its end rate for a few steps before the next part
    second = {
        "cosine": (CosineDecay(lr, t_max=t_max), lambda o: LR.CosineAnnealingLR(o, T_max=t_max)),
        "exponential": (ExponentialDecay(lr, gamma=gamma), lambda o: LR.ExponentialLR(o, gamma=gamma)),
        "step": (StepDecay(lr, step_size=3, gamma=gamma), lambda o: LR.StepLR(o, step_size=3, gamma=gamma)),
    }[then]
    ours = Sequential((LinearWarmup(lr, start_factor=start, total_iters=warm), second[0]), milestones=(milestone,))
    # Our cosine stays at eta_min after t_max where torch's climbs back: compare up to there.
    steps = milestone + (t_max + 1 if then == "cosine" else 30)
    expected = _torch_sequential(lr, [lambda o: LR.LinearLR(o, start_factor=start, total_iters=warm), second[1]],
                                 [milestone], steps)
    _close([ours(t) for t in range(steps)], expected)


def test_three_parts_with_two_milestones_match_sequential_lr():
    ours = Sequential((LinearWarmup(0.1, start_factor=0.2, total_iters=4), ExponentialDecay(0.1, gamma=0.8),
                       StepDecay(0.1, step_size=2, gamma=0.5)), milestones=(4, 9))
    expected = _torch_sequential(0.1, [lambda o: LR.LinearLR(o, start_factor=0.2, total_iters=4),
                                       lambda o: LR.ExponentialLR(o, gamma=0.8),
                                       lambda o: LR.StepLR(o, step_size=2, gamma=0.5)], (4, 9), 20)
    _close([ours(t) for t in range(20)], expected)


@EXAMPLES
@given(lr=st.floats(1e-3, 1.0), total=st.integers(4, 120), pct=st.floats(0.05, 0.9),
       anneal=st.sampled_from(["cos", "linear"]), div=st.floats(2.0, 100.0), final=st.floats(1.0, 1e4),
       three_phase=st.booleans())
def test_one_cycle_matches_one_cycle_lr(lr, total, pct, anneal, div, final, three_phase):
    try:
        ours = OneCycle(lr, total_steps=total, pct_start=pct, anneal_strategy=anneal, div_factor=div,
                        final_div_factor=final, three_phase=three_phase)
    except ValueError:
        assume(False)  # a phase without steps, which torch divides by zero on
    expected = _torch_rates(LR.OneCycleLR, lr, steps=total, max_lr=lr, total_steps=total, pct_start=pct,
                            anneal_strategy=anneal, div_factor=div, final_div_factor=final, three_phase=three_phase,
                            cycle_momentum=False)
    _close([ours(t) for t in range(total)], expected)
    assert ours(total + 5) == ours(total - 1)  # after the run: the last rate (torch raises)


@EXAMPLES
@given(lr=st.floats(1e-3, 1.0), t_0=st.integers(1, 10), t_mult=st.integers(1, 3), eta_min=st.floats(0.0, 1e-3))
def test_cosine_warm_restarts_match_torch(lr, t_0, t_mult, eta_min):
    ours = CosineWarmRestarts(lr, t_0=t_0, t_mult=t_mult, eta_min=eta_min)
    expected = _torch_rates(LR.CosineAnnealingWarmRestarts, lr, steps=80, T_0=t_0, T_mult=t_mult, eta_min=eta_min)
    _close([ours(t) for t in range(80)], expected)


# Monitored values with ties and near-ties (1 and 1 - 5e-5 are within the default threshold 1e-4 of each other).
metrics = st.lists(st.sampled_from([2.0, 1.1, 1.0, 1.0 - 5e-5, 0.9, 0.5, -0.5, math.nan]), min_size=1, max_size=40)
plateau_settings = st.fixed_dictionaries({
    "mode": st.sampled_from(["min", "max"]), "factor": st.sampled_from([0.1, 0.5, 0.2, 0.7]),
    "patience": st.integers(0, 4), "threshold": st.sampled_from([0.0, 1e-4, 0.05]),
    "threshold_mode": st.sampled_from(["rel", "abs"]), "cooldown": st.integers(0, 3),
    "min_lr": st.sampled_from([0.0, 0.01]),
})


def _torch_plateau_rates(values, lr, **kwargs):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = LR.ReduceLROnPlateau(optimizer, **kwargs)
    rates = []
    for value in values:
        optimizer.step()
        scheduler.step(value)
        rates.append(optimizer.param_groups[0]["lr"])
    return rates


@EXAMPLES
@given(values=metrics, options=plateau_settings, eps=st.sampled_from([1e-8, 0.0]))
def test_reduce_lr_on_plateau_matches_torch(values, options, eps):
    expected = _torch_plateau_rates(values, 0.3, eps=eps, **options)
    optimizer = SGD([Tensor(np.zeros(1), requires_grad=True)], lr=0.3)
    scheduler = ReduceLROnPlateau(optimizer, eps=eps, **options)
    rates = []
    for value in values:
        scheduler.step(value)
        rates.append(optimizer.lr)
    _close(rates, expected)
    assert scheduler.get_last_lr() == [optimizer.lr] and scheduler.last_epoch == len(values)


@EXAMPLES
@given(values=metrics, options=plateau_settings)
def test_the_plateau_callback_is_torchs_scheduler_with_keras_patience(values, options):
    # The callback's patience p is Keras' (stop or reduce at the p-th epoch without improvement), torch's p - 1;
    # its min_delta is torch's threshold; it lowers the rate by any amount (torch's eps = 0).
    expected = _torch_plateau_rates(values, 0.3, eps=0.0, **options)
    callback = ReduceLROnPlateauCallback("loss", mode=options["mode"], factor=options["factor"],
                                         patience=options["patience"] + 1, min_delta=options["threshold"],
                                         threshold_mode=options["threshold_mode"], cooldown=options["cooldown"],
                                         min_lr=options["min_lr"])
    rates = []
    _drive(callback, values, key="loss", run=_StubRun(lr=0.3), rates=rates)
    _close(rates, expected)
    assert callback.rule is callback.scheduler.rule  # one rule, not a copy of it


def test_reduce_lr_on_plateau_checks_its_settings_and_its_optimizer():
    with pytest.raises(ValueError, match="threshold_mode must be 'rel' or 'abs', got 'relative'"):
        ReduceLROnPlateau(threshold_mode="relative")
    with pytest.raises(ValueError, match="mode must be 'min' or 'max', got 'auto'"):
        ReduceLROnPlateau(mode="auto")
    with pytest.raises(ValueError, match=r"factor must be in \(0, 1\), got 1.5"):
        ReduceLROnPlateau(factor=1.5)
    with pytest.raises(ValueError, match="patience must be a whole number >= 0"):
        ReduceLROnPlateau(patience=-1)
    scheduler = ReduceLROnPlateau(patience=0)
    scheduler.step(1.0)
    with pytest.raises(RuntimeError, match="has no optimizer"):
        scheduler.step(2.0)
    scheduled = SGD([Tensor(np.zeros(1), requires_grad=True)], lr=CosineDecay(0.1, t_max=5))
    with pytest.raises(TypeError, match="needs an optimizer with a float lr"):
        ReduceLROnPlateau(scheduled, patience=0).reduce()


@pytest.mark.parametrize("make, message", [
    (lambda: LinearWarmup(0.1, start_factor=0.0), r"start_factor must be in \(0, 1\]"),
    (lambda: LinearWarmup(0.1, total_iters=0), "total_iters must be a whole number >= 1"),
    (lambda: Sequential((CosineDecay(0.1, t_max=3),), milestones=(2,)), "one more schedule than milestones"),
    (lambda: Sequential((LinearWarmup(0.1), LinearWarmup(0.1), LinearWarmup(0.1)), milestones=(5, 3)),
     "milestones must be increasing"),
    (lambda: Sequential((0.1, LinearWarmup(0.1)), milestones=(5,)), "must be a schedule"),
    (lambda: OneCycle(0.1, total_steps=100, anneal_strategy="cosine"), "anneal_strategy must be 'cos' or 'linear'"),
    (lambda: OneCycle(0.1, total_steps=10, pct_start=0.05), "leaves a phase without steps"),
    (lambda: OneCycle(0.1, total_steps=100, pct_start=1.0), r"pct_start must be in \(0, 1\)"),
    (lambda: CosineWarmRestarts(0.1, t_0=5, t_mult=1.5), "t_mult must be a whole number >= 1"),
    (lambda: CosineWarmRestarts(0.1, t_0=5, eta_min=0.2), r"eta_min must be in \[0, lr\]"),
])
def test_validation(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("schedule", [
    LinearWarmup(0.1, start_factor=0.1, total_iters=7),
    OneCycle(0.1, total_steps=50, anneal_strategy="linear", three_phase=True),
    CosineWarmRestarts(0.1, t_0=3, t_mult=2, eta_min=1e-4),
    Sequential((LinearWarmup(0.1, total_iters=3), Sequential((CosineWarmRestarts(0.1, t_0=4), ExponentialDecay(
        0.1, gamma=0.9)), milestones=(8,))), milestones=(3,)),
], ids=["warmup", "one-cycle", "restarts", "nested-sequential"])
def test_an_optimizer_saves_and_rebuilds_the_schedule(schedule, tmp_path):
    w = Tensor(np.zeros(1), requires_grad=True)
    saved = SGD([w], lr=schedule).state_dict()
    np.savez(tmp_path / "state.npz", **saved, allow_pickle=False)
    with np.load(tmp_path / "state.npz") as loaded:
        fresh = SGD([w], lr=0.5)
        fresh.load_state_dict(dict(loaded))
    assert fresh.lr == schedule
    assert [fresh.lr(t) for t in range(30)] == [schedule(t) for t in range(30)]


def test_a_sequential_schedule_from_dicts_by_name():
    schedule = get_schedule("sequential", schedules=[{"name": "linear", "lr": 0.1, "total_iters": 2},
                                                     {"name": "cosine_restarts", "lr": 0.1, "t_0": 3}],
                            milestones=[2])
    assert schedule == Sequential((LinearWarmup(0.1, total_iters=2), CosineWarmRestarts(0.1, t_0=3)), milestones=(2,))
    # 0.1 / 3, then the ramp's half-way 0.1 (1/3 + 2/3 / 2), then the restarts from 0.1.
    _close([schedule(t) for t in range(4)], [0.1 / 3, 0.1 * (1 / 3 + (1 - 1 / 3) / 2), 0.1, 0.075])


def test_a_config_names_the_new_optimizers_and_schedules_and_one_cycle_spans_the_run():
    from nablanet.config import build_optimizer, load_config
    from nablanet.optim import NAdam

    config = load_config(overrides=['optimizer.name = "nadam"', "optimizer.lr = 0.01",
                                    'optimizer.schedule = {name = "one_cycle", anneal_strategy = "linear"}'])
    optimizer = build_optimizer(config, [Tensor(np.zeros(2), requires_grad=True)], steps=20)
    assert isinstance(optimizer, NAdam) and optimizer.lr == OneCycle(0.01, total_steps=20, anneal_strategy="linear")
    restarts = load_config(overrides=['optimizer.schedule = {name = "cosine_restarts", t_0 = 5, t_mult = 2}'])
    assert build_optimizer(restarts, [Tensor(np.zeros(2), requires_grad=True)], steps=20).lr == CosineWarmRestarts(
        1e-3, t_0=5, t_mult=2)


def test_a_model_file_keeps_a_sequential_schedule_and_refuses_a_broken_one(tmp_path):
    from nablanet import nn
    from nablanet.io import ModelFileError, load_checkpoint, save

    model = nn.Sequential(nn.Dense(3, 2, rng=np.random.default_rng(0)))
    schedule = Sequential((LinearWarmup(0.1, total_iters=3), CosineWarmRestarts(0.1, t_0=4)), milestones=(3,))
    save(tmp_path / "run.npz", model, optimizer=SGD(model.parameters(), lr=schedule))
    assert load_checkpoint(tmp_path / "run.npz").optimizer.lr == schedule
    with np.load(tmp_path / "run.npz") as saved:
        entries = dict(saved)
    for broken, message in [("json:{not json", "JSONDecodeError"),
                            ('json:[{"schedule": "LinearWarmup", "lr": -1}]', "learning rate must be positive"),
                            ('json:[{"schedule": "Nope"}]', "unknown learning-rate schedule 'Nope'")]:
        np.savez(tmp_path / "broken.npz", **{**entries, "optimizer/lr_schedule.schedules": np.array(broken)})
        with pytest.raises(ModelFileError, match=message):
            load_checkpoint(tmp_path / "broken.npz")


def test_a_config_chains_warmup_and_cosine_each_part_over_its_own_span():
    from nablanet.config import ConfigError, build_optimizer, load_config

    table = ('{name = "sequential", milestones = [5], schedules = [{name = "warmup", start_factor = 0.1, '
             'total_iters = 5}, {name = "cosine"}]}')
    config = load_config(overrides=["optimizer.lr = 0.1", f"optimizer.schedule = {table}"])
    optimizer = build_optimizer(config, [Tensor(np.zeros(2), requires_grad=True)], steps=100)
    # The cosine part spans the 95 steps after the milestone.
    assert optimizer.lr == Sequential((LinearWarmup(0.1, start_factor=0.1, total_iters=5), CosineDecay(0.1, t_max=95)),
                                      milestones=(5,))
    with pytest.raises(ConfigError, match=r"optimizer.schedule.schedules\[1\].name"):
        load_config(overrides=['optimizer.schedule = {name = "sequential", milestones = [5], '
                               'schedules = [{name = "warmup"}, {name = "warm_restarts"}]}'])
