"""The optimizer registry: every registered optimizer built by name and stepped against an oracle
(torch.optim where torch has it, a hand-computed update otherwise), its record's fields, lookups and
errors, and an optimizer registered from outside the library, built and stepped by name."""

from dataclasses import dataclass

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nablanet import Tensor  # noqa: E402
from nablanet.optim import (  # noqa: E402
    OPTIMIZERS,
    SGD,
    Adam,
    Optimizer,
    get_optimizer,
    optimizer_record,
    register_optimizer,
)

T = torch.optim
# The cost C(theta) = 1/2 ||theta - CENTRE||^2 from THETA_0, whose gradient is theta - CENTRE.
CENTRE = np.array([0.5, -1.0, 2.0])
THETA_0 = CENTRE + np.array([1.0, -2.0, 1.0])
STEPS = 3


def _torch_steps(make):
    """The oracle: STEPS steps of a torch.optim optimizer on C, as the parameter after each step."""
    def run():
        # torch keeps scalar state (NAdam's mu_product) in the default dtype: float64, as the parameters.
        previous = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        try:
            theta = torch.tensor(THETA_0, requires_grad=True)
            optimizer = make([theta])
            history = []
            for _ in range(STEPS):
                theta.grad = theta.detach() - torch.tensor(CENTRE)
                optimizer.step()
                history.append(theta.detach().numpy().copy())
        finally:
            torch.set_default_dtype(previous)
        return history
    return run


def _lbfgs_first_step():
    # With no curvature pairs yet, the direction is steepest descent scaled by min(1, 1/||g||_1):
    # g = (1, -2, 1), ||g||_1 = 4, d = -g / 4. The full step (alpha = 1) meets the strong Wolfe
    # conditions: C drops from 3 to 3 (3/4)^2 = 1.6875 <= 3 - 1e-4 * 1.5, and |C'(1)| = 1.125 <= 0.9 * 1.5.
    return [THETA_0 - np.array([1.0, -2.0, 1.0]) / 4]


# name -> (hyperparameters given by name, the oracle's parameters after each step).
# Adding an optimizer: its class in optimizers.py (or its own file) + one line here.
CASES = {
    "sgd": (dict(lr=0.1, momentum=0.5), _torch_steps(lambda p: T.SGD(p, lr=0.1, momentum=0.5))),
    "gd": (dict(lr=0.1), _torch_steps(lambda p: T.SGD(p, lr=0.1))),
    "momentum": (dict(lr=0.1), _torch_steps(lambda p: T.SGD(p, lr=0.1, momentum=0.9))),  # its default momentum
    "nesterov": (dict(lr=0.1), _torch_steps(lambda p: T.SGD(p, lr=0.1, momentum=0.9, nesterov=True))),
    "adagrad": (dict(lr=0.1), _torch_steps(lambda p: T.Adagrad(p, lr=0.1))),
    "rmsprop": (dict(lr=0.01, centered=True), _torch_steps(lambda p: T.RMSprop(p, lr=0.01, centered=True))),
    "adam": (dict(lr=0.01, beta1=0.8), _torch_steps(lambda p: T.Adam(p, lr=0.01, betas=(0.8, 0.999)))),
    "adamw": (dict(lr=0.01), _torch_steps(lambda p: T.AdamW(p, lr=0.01))),  # weight_decay 1e-2, as torch's
    "nadam": (dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.1),
              _torch_steps(lambda p: T.NAdam(p, lr=0.01, decoupled_weight_decay=True, weight_decay=0.1))),
    "radam": (dict(lr=0.01, weight_decay=0.1), _torch_steps(lambda p: T.RAdam(p, lr=0.01, weight_decay=0.1))),
    "adamax": (dict(lr=0.01), _torch_steps(lambda p: T.Adamax(p, lr=0.01))),
    # Lion (not in torch.optim), worked by hand: g_t = theta_{t-1} - CENTRE starts at (1, -2, 1) and moves by
    # 0.01 a step, so g_t, m_t and c_t keep the signs (+, -, +) and each step is -0.01 (1, -1, 1) exactly.
    "lion": (dict(lr=0.01), lambda: [THETA_0 - 0.01 * k * np.array([1.0, -1.0, 1.0]) for k in (1, 2, 3)]),
    "lbfgs": (dict(max_iter=1), _lbfgs_first_step),
}


def _run(name, hyperparameters, steps):
    theta = Tensor(THETA_0.copy(), requires_grad=True)
    optimizer = get_optimizer(name, [theta], **hyperparameters)
    history = []
    for _ in range(steps):
        if optimizer_record(name).needs_closure:
            def closure():
                difference = theta - CENTRE
                cost = (difference * difference).sum() * 0.5
                cost.backward()
                return cost
            optimizer.step(closure)
        else:
            theta.grad = theta.data - CENTRE
            optimizer.step()
        history.append(theta.data.copy())
    return optimizer, history


def test_every_registered_optimizer_has_a_case():
    shipped = {name for name, record in OPTIMIZERS.items() if record.cls.__module__.startswith("nablanet.")}
    assert shipped == set(CASES), "a registered optimizer without a line in CASES (or the reverse)"


@pytest.mark.parametrize("name", CASES)
def test_optimizer_built_by_name_steps_as_its_oracle(name):
    hyperparameters, oracle = CASES[name]
    expected = oracle()
    optimizer, history = _run(name, hyperparameters, len(expected))
    assert type(optimizer) is optimizer_record(name).cls
    for t, (ours, reference) in enumerate(zip(history, expected)):
        np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-12, err_msg=f"{name}, step {t + 1}")


def test_records_read_the_constructor():
    adam = optimizer_record("adam")
    assert adam.cls is Adam and adam.lr == 1e-3 and adam.adaptive and not adam.full_batch
    assert adam.hyperparameters == {"beta1": 0.9, "beta2": 0.999, "betas": None, "eps": 1e-8, "weight_decay": 0.0,
                                    "amsgrad": False, "clip_value": None, "clip_norm": None}
    assert optimizer_record("adagrad").lr == optimizer_record("rmsprop").lr == 1e-2
    assert [name for name, record in OPTIMIZERS.items() if record.full_batch] == ["gd", "lbfgs"]
    assert [name for name, record in OPTIMIZERS.items() if record.needs_closure] == ["lbfgs"]
    assert optimizer_record("lbfgs").lr == 1.0 and "history_size" in optimizer_record("lbfgs").hyperparameters


def test_lookups_by_name_and_class_name_and_clear_errors():
    assert list(OPTIMIZERS)[:8] == ["sgd", "gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]
    # GD is SGD under a second name: its class name finds the first record of the class.
    assert OPTIMIZERS["Adam"] is OPTIMIZERS["adam"] and OPTIMIZERS["SGD"].name == "sgd"
    assert optimizer_record(SGD).name == "sgd" and "LBFGS" in OPTIMIZERS and "Adam " not in OPTIMIZERS
    with pytest.raises(ValueError, match="unknown optimizer 'adadelta'; known: sgd, gd, momentum"):
        get_optimizer("adadelta")
    with pytest.raises(ValueError, match=r"optimizer 'adam' \(Adam\) takes no argument 'momentum'; it takes lr, beta1"):
        get_optimizer("adam", momentum=0.9)
    with pytest.raises(ValueError, match="learning rate must be positive, got -1"):
        get_optimizer("sgd", lr=-1)


@dataclass(frozen=True)
class _SignState:
    t: int = 0


class _SignDescent(Optimizer):
    """theta_t = theta_{t-1} - eta sign(g_t): an optimizer defined outside nablanet."""

    State = _SignState

    def __init__(self, params=None, *, lr=0.5):
        super().__init__(params, lr=lr)

    def _scalars(self, t, lr):
        return {"lr": lr}

    def _apply(self, g, theta, buffers, out_buffers, out_theta, scratch, scalars):
        np.sign(g, out=scratch)
        np.multiply(scratch, scalars["lr"], out=scratch)
        np.subtract(theta, scratch, out=out_theta)


@pytest.fixture
def sign_descent_registered():
    register_optimizer("sign_descent", _SignDescent, aliases=("signsgd",), full_batch=True)
    yield
    OPTIMIZERS.remove("sign_descent")


def test_a_registered_optimizer_is_built_and_stepped_by_name(sign_descent_registered):
    assert list(OPTIMIZERS)[-1] == "sign_descent" and "signsgd" not in list(OPTIMIZERS)
    record = optimizer_record("signsgd")
    assert record.cls is _SignDescent and record.full_batch and record.lr == 0.5 and record.hyperparameters == {}
    optimizer, history = _run("sign_descent", dict(lr=0.25), 2)
    # g = theta - CENTRE = (1, -2, 1) and then (0.75, -1.75, 0.75): the same signs both times.
    np.testing.assert_array_equal(history[-1], THETA_0 - 2 * 0.25 * np.array([1.0, -1.0, 1.0]))
    assert optimizer.state_dict()["optimizer"] == "_SignDescent"
    # Registering it again (a notebook cell re-run) replaces it; another class under its name is refused.
    register_optimizer("sign_descent", _SignDescent)
    assert optimizer_record("sign_descent").aliases == () and "signsgd" not in OPTIMIZERS
    with pytest.raises(ValueError, match="the optimizer name 'adam' is taken by nablanet.optim.optimizers.Adam"):
        register_optimizer("adam", _SignDescent)
    with pytest.raises(TypeError, match="must take an lr keyword and have a step"):
        register_optimizer("not_an_optimizer", dict)


def test_register_optimizer_as_a_decorator():
    @register_optimizer("decorated_sign_descent")
    class Decorated(_SignDescent):
        pass

    try:
        assert get_optimizer("decorated_sign_descent").lr == 0.5
        assert optimizer_record("Decorated").name == "decorated_sign_descent"
    finally:
        OPTIMIZERS.remove("decorated_sign_descent")
    assert "decorated_sign_descent" not in OPTIMIZERS
