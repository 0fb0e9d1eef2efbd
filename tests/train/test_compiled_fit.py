"""fit's compile= (nablanet.train.compiled): by default ("auto") a step of nablanet's own layers and losses is
traced and replayed and trains exactly as eager fit does (losses and weights to 1e-6 in float32, 1e-12 in
float64); a step running code of the user's, or one whose trace fails, runs eagerly; compile=True compiles
the user's code too (its Python runs once, as under jax.jit) and raises when the trace fails."""

import re
import warnings

import numpy
import pytest

import nablanet
import nablanet.nn as nn
from nablanet import optim
from nablanet.autodiff.jit import TracingError
from nablanet.nn import functional as F
from nablanet.optim import OPTIMIZERS
from nablanet.train import LambdaCallback, loop
from nablanet.train.divergence import TrainingDivergedError

TOLERANCE = {numpy.float32: 1e-6, numpy.float64: 1e-12}
# The CompiledStep fit uses and its module's globals, patched through fit's own reference (pytest's doctest
# collection of src/ may import nablanet.train.compiled a second time).
STEP = loop.CompiledStep
COMPILED = STEP.__init__.__globals__


class _Clock:
    """A clock that advances one second per reading: every trace and eager step takes one second."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 1.0
        return self.now


@pytest.fixture
def steps(monkeypatch):
    """The CompiledStep of every fit in the test, in order; steps and traces timed by _Clock, so a batch of
    another shape than the first (the last, partial one) runs eagerly once, then is traced."""
    monkeypatch.setitem(COMPILED, "_clock", _Clock())
    made = []
    original = STEP.__init__

    def recording(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(STEP, "__init__", recording)
    return made


def _mlp(dtype, outputs=3, activation="identity"):
    return nn.Sequential(nn.Dense(5, 8, activation="relu", rng=0, dtype=dtype), nn.Dropout(0.2, rng=2),
                         nn.BatchNorm(8, dtype=dtype), nn.Dense(8, outputs, activation=activation, rng=1, dtype=dtype))


def _data(dtype, n=90, labels=3):
    rng = numpy.random.default_rng(0)
    return rng.standard_normal((n, 5)).astype(dtype), rng.integers(0, labels, n)


DEFAULT = object()


def _fit(build, X, y, compile=DEFAULT, **options):
    model = build()
    settings = dict(loss="cross_entropy", epochs=3, batch_size=32, seed=0, progress=False)
    settings.update(options)
    settings.setdefault("optimizer", optim.Adam(model.parameters(), lr=1e-2))
    if compile is not DEFAULT:
        settings["compile"] = compile
    return nablanet.fit(model, X, y, **settings), model


def _assert_same_training(build, X, y, dtype, steps, compile=DEFAULT, **options):
    """fit with ``compile`` (default: fit's default) against eager fit; returns the compiled fit's step."""
    eager_history, eager_model = _fit(build, X, y, compile=False, **options)
    history, model = _fit(build, X, y, compile=compile, **options)
    tolerance = TOLERANCE[dtype]
    assert len(history) == len(eager_history)
    for key in eager_history.keys():
        numpy.testing.assert_allclose(history[key], eager_history[key], rtol=tolerance, atol=tolerance, err_msg=key)
    for (name, ours), theirs in zip(model.state_dict().items(), eager_model.state_dict().values()):
        numpy.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance, err_msg=name)
    return steps[-1]


# --- the default compiles nablanet's layers and losses, and trains as eager fit ------------------------------

@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
@pytest.mark.parametrize("options", [{}, {"l2": 1e-3}, {"l1": 1e-3, "l2": 1e-2, "divide_penalty_by_batch_size": True},
                                     {"class_weight": "balanced"}, {"validation_split": 0.2}, {"batch_size": None}],
                         ids=["plain", "l2", "l1 l2 per row", "class weights", "validation", "full batch"])
def test_the_default_compiles_and_trains_as_eager_fit(dtype, options, steps):
    X, y = _data(dtype)
    step = _assert_same_training(lambda: _mlp(dtype), X, y, dtype, steps, **options)
    assert step.eager_reason is None
    # Batches of 32 rows and the last one of 26 (of 18 with validation), traced in its second epoch; one
    # batch of all rows: one trace.
    assert step.traces == (1 if "batch_size" in options else 2)


def test_sample_weights_are_arguments_of_the_compiled_step(steps):
    X, y = _data(numpy.float64)
    weights = numpy.random.default_rng(1).random(len(y))
    weights[:32] = 0.0  # the first batch weighs nothing: no step, as in eager fit
    step = _assert_same_training(lambda: _mlp(numpy.float64), X, y, numpy.float64, steps, sample_weight=weights,
                                 shuffle=False)
    assert step.eager_reason is None and step.traces == 2


def _label_targets(record, n, rng):
    if record.targets == "labels":
        return rng.integers(0, 3, n), 3
    if record.labels:
        return rng.choice(record.labels[-2:], n), 1  # hinge: 0/1 (or -1/+1), not the three mixed
    if record.outputs == "log_probabilities":  # kl_div: target probabilities
        p = rng.random((n, 3))
        return p / p.sum(axis=1, keepdims=True), 3
    return rng.random((n, 2)) * 3, 2


_OUTPUT_ACTIVATION = {"probabilities": "sigmoid", "log_probabilities": F.log_softmax}
LOSSES = [name for name, record in nn.LOSSES.records.items() if not record.inputs]


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
@pytest.mark.parametrize("name", LOSSES)
def test_every_registered_loss_compiles_and_trains_as_eager_fit(name, dtype, steps):
    record = nn.LOSSES.records[name]
    rng = numpy.random.default_rng(3)
    X = rng.standard_normal((40, 5)).astype(dtype)
    y, outputs = _label_targets(record, 40, rng)
    activation = _OUTPUT_ACTIVATION.get(record.outputs, "identity")
    step = _assert_same_training(lambda: _mlp(dtype, outputs, activation), X, y, dtype, steps, loss=name,
                                 batch_size=16)
    assert step.eager_reason is None and step.traces == 2


MINIBATCH_OPTIMIZERS = [name for name, record in OPTIMIZERS.items() if not record.needs_closure]


@pytest.mark.parametrize("name", MINIBATCH_OPTIMIZERS)
def test_every_minibatch_optimizer_trains_compiled_as_eager_fit(name, steps):
    X, y = _data(numpy.float64, n=40)
    step = _assert_same_training(lambda: _mlp(numpy.float64), X, y, numpy.float64, steps, optimizer=name, lr=1e-2,
                                 epochs=2)
    assert step.eager_reason is None and step.traces == 2


def _conv():
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1, rng=0, dtype=numpy.float64), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dense(12, 3, rng=1, dtype=numpy.float64))


def _recurrent():
    return nn.Sequential(nn.GRU(3, 4, bidirectional=True, rng=0, dtype=numpy.float64), nn.Flatten(),
                         nn.Dense(40, 3, rng=1, dtype=numpy.float64))


def _embedding():
    return nn.Sequential(nn.Embedding(7, 4, rng=0, dtype=numpy.float64), nn.LayerNorm(4, dtype=numpy.float64),
                         nn.Flatten(), nn.Dense(20, 3, rng=1, dtype=numpy.float64))


class _Stack(nn.Sequential):
    """A subclass of the user's that only builds layers: its __init__ runs before fit, not in the step."""

    def __init__(self):
        super().__init__(nn.Dense(5, 4, activation="tanh", rng=0, dtype=numpy.float64),
                         nn.Dense(4, 3, rng=1, dtype=numpy.float64))


_FAMILIES = {
    "conv": (_conv, lambda rng: rng.standard_normal((30, 1, 4, 4))),
    "recurrent": (_recurrent, lambda rng: rng.standard_normal((30, 5, 3))),
    "embedding": (_embedding, lambda rng: rng.integers(0, 7, (30, 5))),
    "subclass building layers": (_Stack, lambda rng: rng.standard_normal((30, 5))),
}


@pytest.mark.parametrize("family", list(_FAMILIES))
def test_layer_families_compile_and_train_as_eager_fit(family, steps):
    build, inputs = _FAMILIES[family]
    rng = numpy.random.default_rng(4)
    X, y = inputs(rng), rng.integers(0, 3, 30)
    step = _assert_same_training(build, X, y, numpy.float64, steps, batch_size=8, epochs=2)
    assert step.eager_reason is None and step.traces == 2


def test_a_nan_loss_from_the_data_stops_a_compiled_fit_where_eager_fit_stops():
    rng = numpy.random.default_rng(1)
    X, y = rng.standard_normal((64, 3)) * 10, rng.standard_normal(64) * 10
    outcomes = []
    for compile in (False, "auto"):
        model = nn.Sequential(nn.Dense(3, 8, activation="relu", rng=0, dtype=numpy.float64),
                              nn.Dense(8, 1, rng=1, dtype=numpy.float64))
        with pytest.raises(TrainingDivergedError) as caught, numpy.errstate(over="ignore", invalid="ignore"):
            nablanet.fit(model, X, y, loss="mse", optimizer=optim.SGD(model.parameters(), lr=0.5), epochs=20,
                         batch_size=16, shuffle=False, progress=False, compile=compile)
        outcomes.append(((caught.value.epoch, caught.value.batch), [p.data.copy() for p in model.parameters()]))
    assert outcomes[0][0] == outcomes[1][0]
    for ours, theirs in zip(outcomes[1][1], outcomes[0][1]):
        numpy.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("epochs, traces", [(1, 1), (2, 2), (3, 2)])
def test_the_last_partial_batch_runs_eagerly_until_it_has_cost_a_trace(epochs, traces, steps):
    X, y = _data(numpy.float64)
    step = _assert_same_training(lambda: _mlp(numpy.float64), X, y, numpy.float64, steps, epochs=epochs)
    # The partial batch's eager step costs a second, as the first trace did: traced at its second epoch.
    assert step.traces == traces and list(step._eager_seconds.values()) == [1.0]


# --- code of the user's in the step: eager under "auto", traced once under compile=True -----------------------

def _loss_turning_nan_at_call(n):
    """cross_entropy, made NaN at its n-th call: Python state that a trace runs once."""
    calls = []

    def loss(predictions, targets):
        calls.append(None)
        value = F.cross_entropy(predictions, targets)
        return value * float("nan") if len(calls) == n else value

    return loss


class _Doubling(nn.Module):
    def forward(self, x):
        return x * 2.0


_USER_CODE = {
    "a loss function": (lambda: _mlp(numpy.float64), {"loss": lambda p, t: F.cross_entropy(p, t)},
                        "the loss is a function of yours"),
    "an activation function": (lambda: nn.Sequential(nn.Dense(5, 3, activation=lambda z: z * 2, rng=0,
                                                              dtype=numpy.float64)), {},
                               "Dense.activation is a function of yours"),
    "a module's forward": (lambda: nn.Sequential(_Doubling(), nn.Dense(5, 3, rng=0, dtype=numpy.float64)), {},
                           r"_Doubling\.forward"),
}


@pytest.mark.parametrize("case", list(_USER_CODE))
def test_code_of_the_users_runs_eagerly_by_default_and_says_why(case, steps):
    build, options, reason = _USER_CODE[case]
    X, y = _data(numpy.float64, n=40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: eager is what "auto" is for here
        step = _assert_same_training(build, X, y, numpy.float64, steps, **options)
    assert step.traces == 0
    assert re.search(reason, step.eager_reason), step.eager_reason


def test_a_forward_hook_runs_eagerly_by_default(steps):
    X, y = _data(numpy.float64, n=40)
    seen = []

    def build():
        model = _mlp(numpy.float64)
        model[0].register_forward_hook(lambda module, inputs, output: seen.append(output.shape))
        return model

    _assert_same_training(build, X, y, numpy.float64, steps)
    assert steps[-1].traces == 0 and "forward hook" in steps[-1].eager_reason
    assert seen.count((32, 8)) == 2 * 3  # the first batch of each of the 3 epochs of both fits


def test_python_state_in_the_loss_is_seen_every_step_by_default_and_frozen_by_compile_true():
    X, y = _data(numpy.float64, n=40)
    with pytest.raises(TrainingDivergedError, match="loss became nan at epoch 1, batch 0"):
        _fit(lambda: _mlp(numpy.float64), X, y, loss=_loss_turning_nan_at_call(3), batch_size=20)
    # compile=True: the function ran once, when traced (as under jax.jit); replays never call it again.
    history, _ = _fit(lambda: _mlp(numpy.float64), X, y, compile=True, loss=_loss_turning_nan_at_call(3),
                      batch_size=20)
    assert numpy.isfinite(history["loss"]).all()


# --- a failed trace ------------------------------------------------------------------------------------------

def _loss_branching_on_its_value(predictions, targets):
    loss = F.cross_entropy(predictions, targets)
    if loss.item() > 1e6:  # data-dependent Python control flow: a trace cannot replay it
        return loss * 0.5
    return loss


def test_a_failed_trace_falls_back_to_eager_with_one_warning_naming_the_line(steps, monkeypatch):
    # As if the loss were nablanet's: the trace is attempted, fails after the forward pass (dropout drawn,
    # batch statistics updated) and is undone, so the eager steps that follow are eager fit's exactly.
    monkeypatch.setitem(COMPILED, "foreign_code", lambda model, loss: None)
    X, y = _data(numpy.float64)
    with pytest.warns(RuntimeWarning) as warned:
        step = _assert_same_training(lambda: _mlp(numpy.float64), X, y, numpy.float64, steps,
                                     loss=_loss_branching_on_its_value)
    messages = [str(w.message) for w in warned if "fit(compile='auto')" in str(w.message)]
    assert len(messages) == 1, messages
    assert "TracingError" in messages[0] and "test_compiled_fit.py" in messages[0] and "loss.item() > 1e6" in messages[0]
    assert step.traces == 0 and step.eager_reason.startswith("its trace failed")


def test_compile_true_raises_the_tracing_error():
    X, y = _data(numpy.float64)
    with pytest.raises(TracingError, match=r"test_compiled_fit\.py:\d+ \(if loss\.item\(\) > 1e6"):
        _fit(lambda: _mlp(numpy.float64), X, y, compile=True, loss=_loss_branching_on_its_value)


def test_an_error_eager_fit_raises_too_is_raised_without_a_warning(monkeypatch):
    monkeypatch.setitem(COMPILED, "foreign_code", lambda model, loss: None)
    X, y = _data(numpy.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="mse: targets of shape"):
            _fit(lambda: _mlp(numpy.float64), X, y, loss=lambda p, t: F.mse(p, t))


# --- callbacks that change the model between steps -----------------------------------------------------------

def _changing(change):
    return [LambdaCallback(on_epoch_begin=lambda run, epoch: change(run.model, epoch))]


def _freeze_first_layer(model, epoch):
    if epoch == 1:
        for parameter in model[0].parameters():
            parameter.requires_grad = False


def _raise_dropout(model, epoch):
    model[1].p = 0.2 + 0.2 * epoch


@pytest.mark.parametrize("change", [_freeze_first_layer, _raise_dropout])
def test_a_callback_changing_the_model_makes_the_step_trace_again(change, steps):
    X, y = _data(numpy.float64)
    step = _assert_same_training(lambda: _mlp(numpy.float64), X, y, numpy.float64, steps, callbacks=_changing(change))
    # Per version of the model a trace of the full batches, and of the partial one after its first epoch.
    assert step.eager_reason is None and step.traces == (5 if change is _raise_dropout else 3)


def test_a_model_changed_at_every_step_runs_eagerly_after_a_few_traces(steps):
    X, y = _data(numpy.float64)
    callbacks = [LambdaCallback(on_batch_end=lambda run, batch, logs: setattr(run.model[1], "p",
                                                                               0.05 + 0.02 * (3 * run.epoch + batch)))]
    with pytest.warns(RuntimeWarning, match="changed 8 times during fit"):
        step = _assert_same_training(lambda: _mlp(numpy.float64), X, y, numpy.float64, steps, callbacks=callbacks,
                                     epochs=6)
    assert len(step._programs) == 8 and step.eager_reason.startswith("the model's settings")


# --- the settings -------------------------------------------------------------------------------------------

def test_a_step_that_cannot_compile_warns_only_when_compile_true_asked_for_it(steps):
    X, y = _data(numpy.float64, n=20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _fit(lambda: _mlp(numpy.float64), X, y, optimizer="lbfgs", batch_size=None, epochs=1)
    with pytest.warns(RuntimeWarning, match=r"fit\(compile=True\): the training step runs eagerly, since LBFGS steps "
                                            r"with a closure"):
        _fit(lambda: _mlp(numpy.float64), X, y, optimizer="lbfgs", batch_size=None, epochs=1, compile=True)


@pytest.mark.parametrize("value", ["yes", 1, None, "AUTO"])
def test_compile_takes_true_false_or_auto(value):
    X, y = _data(numpy.float64, n=10)
    with pytest.raises(ValueError, match=r"compile must be True, False or 'auto', got"):
        _fit(lambda: _mlp(numpy.float64), X, y, compile=value)
