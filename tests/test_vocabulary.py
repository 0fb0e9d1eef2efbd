"""One vocabulary: a name registered once, where its thing is defined, is a name everywhere else.

Each test registers something defined here (outside nablanet) and uses it by name from every place
that takes that kind of name: Python, a TOML config and ``nablanet train``.
"""

import contextlib
import io
from dataclasses import dataclass

import numpy
import pytest

import nablanet.nn as nn
from nablanet import cli, optim
from nablanet.config import ConfigError, build_model, build_optimizer, load_config, load_data, make_task


@dataclass(frozen=True)
class _SignState:
    t: int = 0


class SignDescent(optim.Optimizer):
    """theta_t = theta_{t-1} - eta sign(g_t)."""

    State = _SignState

    def __init__(self, params=None, *, lr=0.01, scale=1.0):
        super().__init__(params, lr=lr)
        self.scale = scale

    def _scalars(self, t, lr):
        return {"lr": lr * self.scale}

    def _apply(self, g, theta, buffers, out_buffers, out_theta, scratch, scalars):
        numpy.sign(g, out=scratch)
        numpy.multiply(scratch, scalars["lr"], out=scratch)
        numpy.subtract(theta, scratch, out=out_theta)


@dataclass(frozen=True)
class Warmup:
    """eta(t) = lr min(1, (t + 1) / steps)."""

    lr: float
    steps: int

    def __call__(self, t):
        return self.lr * min(1.0, (t + 1) / self.steps)


class Scale(nn.Module):
    """a = s * x, one learnable scale per feature."""

    def __init__(self, num_features, *, init=1.0, dtype=numpy.float32):
        self.s = nn.Parameter(numpy.full(num_features, init, dtype=dtype))

    def forward(self, x):
        return x * self.s


@pytest.fixture
def registered():
    optim.register_optimizer("sign_descent", SignDescent)
    optim.register_schedule("ramp_up", Warmup)
    nn.register_layer("scale", size_argument="num_features", size_axis=-1)(Scale)
    yield
    optim.OPTIMIZERS.remove("sign_descent")
    optim.SCHEDULES.records.remove("ramp_up")
    nn.LAYERS.remove("scale")


CONFIG = """
[data]
source = "xor"

[model]
layers = [{type = "scale", init = 0.5}, {type = "dense", out_features = 4, activation = "tanh"}]

[optimizer]
name = "sign_descent"
lr = 0.05
scale = 2.0

[optimizer.schedule]
name = "ramp_up"
steps = 3

[train]
epochs = 3
progress = false
"""


def test_a_registered_optimizer_schedule_and_layer_are_config_names(registered, tmp_path):
    path = tmp_path / "custom.toml"
    path.write_text(CONFIG)
    config = load_config(path)
    data = load_data(config)
    task = make_task(config, data.y_all)
    model = build_model(config, data.X_train.shape[1:], task, numpy.random.default_rng(0))
    assert isinstance(model.layers[0], Scale) and model.layers[0].s.shape == (2,)  # num_features from the data
    optimizer = build_optimizer(config, model.parameters(), steps=10)
    assert isinstance(optimizer, SignDescent) and optimizer.scale == 2.0
    assert isinstance(optimizer.lr, Warmup) and optimizer.lr.steps == 3 and optimizer.lr.lr == 0.05
    with pytest.raises(ConfigError, match="the keys of sign_descent are: name, lr, schedule, scale"):
        load_config(path, ["optimizer.momentum=0.9"])
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = cli.main(["train", str(path), "--out", str(tmp_path / "run")])
    assert status == 0, stderr.getvalue()
    assert (tmp_path / "run" / "model.npz").is_file()


def test_unregistered_names_are_refused_with_the_registered_ones_listed(tmp_path):
    path = tmp_path / "custom.toml"
    path.write_text(CONFIG)
    with pytest.raises(ConfigError, match="optimizer.name = 'sign_descent' is not one of sgd, gd, momentum"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"model.layers\[0\] needs type = one of .*Dense, RBF.*got \"scale\""):
        load_config(overrides=['model.layers=[{type = "scale"}]'])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # 30 epochs are enough here
def test_a_registered_optimizer_is_a_solver_of_the_estimators(registered):
    from nablanet.sklearn import MLPClassifier

    rng = numpy.random.default_rng(0)
    y = numpy.arange(40) % 2
    X = rng.normal(size=(40, 2)) + 2.0 * (2 * y[:, None] - 1)
    classifier = MLPClassifier((4,), solver="sign_descent", learning_rate_init=0.01, max_iter=30,
                               random_state=0).fit(X, y)
    assert classifier.score(X, y) == 1.0 and classifier.loss_curve_[-1] < classifier.loss_curve_[0]
    with pytest.raises(ValueError, match="'solver' parameter of MLPClassifier"):
        MLPClassifier(solver="no_such_optimizer").fit(X, y)
