"""nablanet.jit against eager mode: every registered layer, loss and optimizer gives the same values
and, after training steps, the same parameters (1e-6 in float32, 1e-12 in float64).

Each compiled function is traced on the first batch and replayed on later, different batches, so a
value the trace wrongly froze (a mask, a one-hot, a random draw) shows up as a difference.
"""

import numpy
import pytest

import nablanet
import nablanet.nn as nn
from nablanet import optim
from nablanet.autodiff.jit import TracingError
from nablanet.optim import OPTIMIZERS, get_optimizer, optimizer_record

TOLERANCE = {numpy.float32: 1e-6, numpy.float64: 1e-12}
STEPS = 3


def _dense(rng, dtype):
    return nn.Dense(3, 3, activation="tanh", rng=rng, dtype=dtype)


# Layers whose defaults do not fit a batch of shape (4, 3): the input shape and the arguments.
# A new layer that builds from a (4, 3) batch with its defaults is covered with no line here.
SPECIAL = {
    "activation": ((3, 4), lambda rng, dtype: dict(activation="leaky_relu", alpha=0.2)),
    "sequential": ((4, 3), lambda rng, dtype: dict(args=(_dense(rng, dtype), nn.Dense(3, 2, rng=rng + 1, dtype=dtype)))),
    "graph": ((4, 3), lambda rng, dtype: dict(args=(["x"], {"h": (_dense(rng, dtype), "x"),
                                                            "g": (nn.Dense(3, 2, rng=rng + 1, dtype=dtype), "h"),
                                                            "y": (nn.Concatenate(), ["x", "h", "g"])}, "y"))),
    "residual": ((4, 3), lambda rng, dtype: dict(args=(_dense(rng, dtype),))),
    "concatenate": ((3, 4), lambda rng, dtype: dict(axis=0)),
    "dense": ((2, 4, 3), lambda rng, dtype: dict(out_features=2, activation="elu")),
    "rbf": ((5, 2), lambda rng, dtype: dict(units=3)),
    "conv1d": ((2, 3, 7), lambda rng, dtype: dict(out_channels=6, kernel_size=3, padding=1, groups=3)),
    "conv2d": ((2, 2, 5, 5), lambda rng, dtype: dict(out_channels=3, kernel_size=2, stride=2)),
    "convtranspose1d": ((2, 2, 4), lambda rng, dtype: dict(out_channels=4, kernel_size=3, stride=2, groups=2)),
    "convtranspose2d": ((2, 3, 3, 2), lambda rng, dtype: dict(out_channels=2, kernel_size=2, stride=2,
                                                              output_padding=1)),
    "dropout": ((4, 3), lambda rng, dtype: dict(p=0.3)),
    "dropout1d": ((2, 3, 4), lambda rng, dtype: dict(p=0.3)),
    "dropout2d": ((2, 3, 2, 2), lambda rng, dtype: dict(p=0.3)),
    "multiheadattention": ((2, 3, 4), lambda rng, dtype: dict(num_heads=2, batch_first=True)),
    "transformerencoderlayer": ((3, 2, 4), lambda rng, dtype: dict(nhead=2, dim_feedforward=5, activation="gelu")),
    "embedding": ((2, 5), lambda rng, dtype: dict(num_embeddings=7, embedding_dim=3)),
    "batchnorm": ((6, 3, 2), lambda rng, dtype: {}),
    "layernorm": ((2, 3, 4), lambda rng, dtype: {}),
    "groupnorm": ((2, 4, 3), lambda rng, dtype: dict(num_groups=2)),
    "instancenorm1d": ((2, 3, 5), lambda rng, dtype: dict(affine=True, track_running_stats=True)),
    "instancenorm2d": ((2, 2, 3, 3), lambda rng, dtype: dict(affine=True, track_running_stats=True)),
    "maxpool1d": ((2, 3, 6), lambda rng, dtype: dict(kernel_size=2)),
    "maxpool2d": ((2, 2, 4, 4), lambda rng, dtype: dict(kernel_size=2)),
    "avgpool1d": ((2, 3, 6), lambda rng, dtype: dict(kernel_size=3)),
    "avgpool2d": ((2, 2, 4, 4), lambda rng, dtype: dict(kernel_size=2, stride=1)),
    "globalavgpool": ((2, 3, 4, 4), lambda rng, dtype: {}),
    "adaptiveavgpool1d": ((2, 3, 7), lambda rng, dtype: dict(output_size=3)),
    "adaptiveavgpool2d": ((2, 2, 5, 4), lambda rng, dtype: dict(output_size=3)),
    "adaptivemaxpool1d": ((2, 3, 6), lambda rng, dtype: dict(output_size=4)),
    "adaptivemaxpool2d": ((2, 2, 5, 5), lambda rng, dtype: dict(output_size=2)),
    "upsample": ((2, 2, 3, 3), lambda rng, dtype: dict(scale_factor=1.5, mode="bilinear")),
    "flatten": ((2, 3, 4), lambda rng, dtype: {}),
    "rnn": ((2, 4, 3), lambda rng, dtype: dict(hidden_size=2)),
    "gru": ((2, 4, 3), lambda rng, dtype: dict(hidden_size=2, bidirectional=True)),
    "lstm": ((2, 4, 3), lambda rng, dtype: dict(hidden_size=2, return_sequences=False)),
}
# Layers of integer inputs: how many values they take (the gradient reaches the parameters only).
INTEGER_INPUTS = {"embedding": 7}
LAYER_NAMES = [name for name, record in nn.LAYERS.items() if record.cls.__module__.startswith("nablanet.")]


def _layer(name, dtype, seed=0):
    """The registered layer ``name`` (the same weights for the same seed) and its input shape."""
    record = nn.layer_record(name)
    shape, arguments = SPECIAL.get(name, ((4, 3), lambda rng, dtype: {}))
    arguments = dict(arguments(seed, dtype))
    args = arguments.pop("args", ())
    if "rng" in record.arguments:
        arguments["rng"] = seed
    if "dtype" in record.arguments:
        arguments["dtype"] = dtype
    return record.build(shape, *args, **arguments), shape


def _batches(name, shape, dtype):
    rng = numpy.random.default_rng(7)
    if name in INTEGER_INPUTS:
        return [rng.integers(0, INTEGER_INPUTS[name], shape) for _ in range(STEPS)]
    return [rng.standard_normal(shape).astype(dtype) for _ in range(STEPS)]


def _output(value):
    return value[0] if isinstance(value, tuple) else value


def _close(actual, expected, dtype, what):
    tolerance = TOLERANCE[dtype]
    numpy.testing.assert_allclose(numpy.asarray(actual), numpy.asarray(expected), rtol=tolerance, atol=tolerance,
                                  err_msg=what)


def _training_step(layer, optimizer):
    def step(x):
        optimizer.zero_grad()
        out = _output(layer(x))
        loss = (out * out).mean()
        loss.backward()
        optimizer.step()
        return loss, out

    return step


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
@pytest.mark.parametrize("name", LAYER_NAMES)
def test_every_layer_forward_and_training_step(name, dtype):
    eager_layer, shape = _layer(name, dtype)
    compiled_layer, _ = _layer(name, dtype)
    batches = _batches(name, shape, dtype)
    compiled_forward = nablanet.jit(lambda x: _output(compiled_layer(x)))
    for x in batches:
        _close(compiled_forward(x).data, _output(eager_layer(x)).data, dtype, f"{name} forward")
    assert compiled_forward.traces == 1
    if not list(eager_layer.parameters()):
        # No parameters: the compiled input gradient against the eager one (where there is one).
        loss = lambda x, layer: (_output(layer(x)) ** 2).sum()  # noqa: E731
        compiled_grad = nablanet.jit(nablanet.grad(lambda x: loss(x, compiled_layer)))
        for x in batches:
            try:
                expected = nablanet.grad(lambda x: loss(x, eager_layer))(x)
            except (TypeError, ValueError) as no_gradient:  # Heaviside's, an integer input's
                with pytest.raises(type(no_gradient)):
                    compiled_grad(x)
                return
            _close(compiled_grad(x), expected, dtype, f"{name} gradient")
        return
    eager_step = _training_step(eager_layer, optim.SGD(eager_layer.parameters(), lr=0.1, momentum=0.5))
    compiled_step = nablanet.jit(_training_step(compiled_layer, optim.SGD(compiled_layer.parameters(), lr=0.1,
                                                                          momentum=0.5)))
    for k, x in enumerate(batches):
        eager_loss, eager_out = eager_step(x)
        compiled_loss, compiled_out = compiled_step(x)
        _close(compiled_loss.data, eager_loss.data, dtype, f"{name} loss, step {k + 1}")
        _close(compiled_out.data, eager_out.data, dtype, f"{name} output, step {k + 1}")
        for (key, ours), theirs in zip(compiled_layer.state_dict().items(), eager_layer.state_dict().values()):
            _close(ours, theirs, dtype, f"{name} {key} after step {k + 1}")
    assert compiled_step.traces == 1


LOSS_NAMES = [name for name, record in nn.LOSSES.records.items() if record.function.__module__.startswith("nablanet.")]


def _loss_inputs(name, dtype, k):
    """The data a loss takes after its predictions and targets (its record's inputs), different for each k."""
    rng = numpy.random.default_rng(40 + k)
    data = {"var": lambda: rng.uniform(0.5, 2.0, (6, 3)).astype(dtype), "y": lambda: rng.choice([-1, 1], 6)}
    return tuple(data[name]() for name in nn.loss_record(name).inputs)


def _loss_data(name, dtype, k):
    """Predictions (6, 3) and targets of the kind the loss expects, different for each k."""
    rng = numpy.random.default_rng(20 + k)
    predictions = rng.standard_normal((6, 3)).astype(dtype)
    kind = nn.loss_record(name).targets
    if kind == "labels" or name == "cross_entropy":
        return predictions, rng.integers(0, 3, 6)
    if name == "binary_cross_entropy":
        return (1 / (1 + numpy.exp(-predictions))).astype(dtype), rng.integers(0, 2, (6, 3)).astype(dtype)
    if name in ("binary_cross_entropy_with_logits", "hinge"):
        return predictions, rng.integers(0, 2, (6, 3)).astype(dtype)
    if name == "kl_div":
        soft = numpy.exp(rng.standard_normal((6, 3)))
        return predictions, (soft / soft.sum(axis=1, keepdims=True)).astype(dtype)
    if name == "poisson_nll_loss":
        return predictions, rng.poisson(2.0, (6, 3)).astype(dtype)
    return predictions, rng.standard_normal((6, 3)).astype(dtype)


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
@pytest.mark.parametrize("name", LOSS_NAMES)
def test_every_loss_value_and_gradient(name, dtype):
    function = nn.loss_record(name).function
    value_and_grad = nablanet.value_and_grad(lambda p, t, *inputs: function(p, t, *inputs))
    compiled = nablanet.jit(value_and_grad)
    for k in range(STEPS):
        predictions, targets = _loss_data(name, dtype, k)
        inputs = _loss_inputs(name, dtype, k)
        value, gradient = compiled(predictions, targets, *inputs)
        expected_value, expected_gradient = value_and_grad(predictions, targets, *inputs)
        _close(value, expected_value, dtype, f"{name} value, call {k + 1}")
        _close(gradient, expected_gradient, dtype, f"{name} gradient, call {k + 1}")
    assert compiled.traces == 1


OPTIMIZER_NAMES = [name for name, record in OPTIMIZERS.items() if record.cls.__module__.startswith("nablanet.")]


def _model_and_optimizer(name, dtype):
    model = nn.Sequential(nn.Dense(3, 4, activation="tanh", rng=0, dtype=dtype), nn.Dense(4, 2, rng=1, dtype=dtype))
    record = optimizer_record(name)
    hyperparameters = {"max_iter": 2} if record.needs_closure else {}
    return model, get_optimizer(name, model.parameters(), lr=record.lr * 5, **hyperparameters)


def _optimizer_step(name, model, optimizer):
    def cost(x, y):
        difference = model(x) - y
        return (difference * difference).mean()

    if optimizer_record(name).needs_closure:
        def step(x, y):
            def closure():
                optimizer.zero_grad()
                loss = cost(x, y)
                loss.backward()
                return loss
            return optimizer.step(closure)
        return step

    def step(x, y):
        optimizer.zero_grad()
        loss = cost(x, y)
        loss.backward()
        optimizer.step()
        return loss

    return step


def _value(loss):
    return loss.data if isinstance(loss, nablanet.Tensor) else loss


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_every_optimizer_training_steps(name, dtype):
    eager_model, eager_optimizer = _model_and_optimizer(name, dtype)
    model, optimizer = _model_and_optimizer(name, dtype)
    if optimizer_record(name).needs_closure:
        # Its line search evaluates the closure (traced values) a data-dependent number of times.
        x = numpy.ones((5, 3), dtype)
        with pytest.raises(TypeError, match=f"{type(optimizer).__name__}.step.*cannot be compiled"):
            nablanet.jit(_optimizer_step(name, model, optimizer))(x, x[:, :2])
        return
    eager_step = _optimizer_step(name, eager_model, eager_optimizer)
    compiled_step = nablanet.jit(_optimizer_step(name, model, optimizer))
    rng = numpy.random.default_rng(3)
    # More steps than the state's subnormal flush period (16), so that pass is replayed too.
    for k in range(18):
        x, y = rng.standard_normal((5, 3)).astype(dtype), rng.standard_normal((5, 2)).astype(dtype)
        _close(_value(compiled_step(x, y)), _value(eager_step(x, y)), dtype, f"{name} loss, step {k + 1}")
        for p, q in zip(model.parameters(), eager_model.parameters()):
            _close(p.data, q.data, dtype, f"{name} parameters after step {k + 1}")
    assert compiled_step.traces == 1


def _cnn(seed):
    """Two convolutions (the second's input gradient is a kernel's col2im into its own buffers), pools
    that gather channel runs, a dense head: cnn-28 of PERFORMANCE.md, smaller."""
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, rng=seed), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 8, 3, padding=1, rng=seed + 1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Dense(72, 10, rng=seed + 2))


def test_a_small_cnn_trains_as_in_eager_mode():
    models = [_cnn(0), _cnn(0)]
    optimizers = [optim.Adam(model.parameters(), lr=1e-2) for model in models]
    eager = _optimizer_step("adam", models[0], optimizers[0])
    compiled = nablanet.jit(_optimizer_step("adam", models[1], optimizers[1]))
    rng = numpy.random.default_rng(4)
    for k in range(STEPS):
        X, y = rng.standard_normal((4, 1, 12, 12)).astype(numpy.float32), rng.standard_normal((4, 10)).astype(numpy.float32)
        _close(compiled(X, y).data, eager(X, y).data, numpy.float32, f"cnn loss, step {k + 1}")
        for p, q in zip(models[1].parameters(), models[0].parameters()):
            _close(p.data, q.data, numpy.float32, f"cnn parameters after step {k + 1}")


@pytest.mark.parametrize("clear", [False, True], ids=["accumulating", "cleared-by-assignment"])
def test_grads_kept_or_cleared_by_hand_step_as_in_eager_mode(clear):
    """Without zero_grad, .grad accumulates from call to call; cleared by a Python assignment
    (p.grad = None), the replays clear it too."""
    def setup():
        model = nn.Dense(3, 2, rng=0, dtype=numpy.float64)
        optimizer = optim.SGD(model.parameters(), lr=0.1)

        def step(x):
            for p in model.parameters():
                if clear:
                    p.grad = None
            (model(x) ** 2).sum().backward()
            optimizer.step()
            return model.W.grad

        return model, step

    (eager_model, eager), (model, compiled) = setup(), setup()
    compiled = nablanet.jit(compiled)
    for k, x in enumerate(numpy.random.default_rng(5).standard_normal((STEPS + 1, 4, 3))):
        _close(compiled(x), eager(x), numpy.float64, f"gradient, call {k + 1}")
        _close(model.W.data, eager_model.W.data, numpy.float64, f"weights after call {k + 1}")


LABEL_LOSS_OPTIONS = {"plain": {}, "weight": {"weight": numpy.array([0.5, 2.0, 1.5])}, "sum": {"reduction": "sum"},
                      "sample-weight": {"sample_weight": numpy.array([1.0, 2.0, 0.5, 1.0, 3.0, 1.0])},
                      "smoothing": {"label_smoothing": 0.2}}
# nll_loss has no label_smoothing (nor has PyTorch's).
LABEL_LOSS_CASES = [(name, options) for name in ("cross_entropy", "nll_loss") for options in LABEL_LOSS_OPTIONS
                    if (name, options) != ("nll_loss", "smoothing")]


@pytest.mark.parametrize("name, options", LABEL_LOSS_CASES)
def test_ignored_labels_are_decided_per_batch(name, options):
    """Traced on labels none of which is ignored, replayed on batches with some and with all of them
    ignored: each call counts its own labels (C = 0 when none counts), as eager mode does."""
    function, options = getattr(nn.functional, name), LABEL_LOSS_OPTIONS[options]
    value_and_grad = nablanet.value_and_grad(lambda z, y: function(z, y, ignore_index=1, **options))
    compiled = nablanet.jit(value_and_grad)
    rng = numpy.random.default_rng(8)
    for labels in ([0, 2, 0, 2, 2, 0], [0, 1, 2, 1, 1, 0], [1] * 6, [2, 0, 1, 2, 0, 1]):
        logits, labels = rng.standard_normal((6, 3)), numpy.array(labels)
        value, gradient = compiled(logits, labels)
        expected_value, expected_gradient = value_and_grad(logits, labels)
        _close(value, expected_value, numpy.float64, f"{name} value, labels {labels}")
        _close(gradient, expected_gradient, numpy.float64, f"{name} gradient, labels {labels}")
    assert compiled.traces == 1
    if options == {}:
        assert float(value) != 0.0 and float(compiled(logits, numpy.ones(6, int))[0]) == 0.0


def test_labels_out_of_range_are_refused_while_tracing():
    with pytest.raises(ValueError, match=r"class indices in 0..2, got values from 0 to 3 "
                                         r"\(besides ignore_index=-100\)"):
        nablanet.jit(nn.functional.cross_entropy)(numpy.zeros((3, 3)), numpy.array([0, 3, -100]))


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_every_loss_weighs_each_call_by_its_own_sample_weight(name):
    """sample_weight given to the compiled function: each call's weights, not the first call's, weigh its mean."""
    function = nn.loss_record(name).function
    value_and_grad = nablanet.value_and_grad(lambda p, t, w, *inputs: function(p, t, *inputs, sample_weight=w))
    compiled = nablanet.jit(value_and_grad)
    for k in range(STEPS):
        predictions, targets = _loss_data(name, numpy.float64, k)
        weights = numpy.random.default_rng(60 + k).uniform(0.0, 2.0, 6)
        inputs = _loss_inputs(name, numpy.float64, k)
        value, gradient = compiled(predictions, targets, weights, *inputs)
        expected_value, expected_gradient = value_and_grad(predictions, targets, weights, *inputs)
        _close(value, expected_value, numpy.float64, f"{name} value, call {k + 1}")
        _close(gradient, expected_gradient, numpy.float64, f"{name} gradient, call {k + 1}")
    assert compiled.traces == 1


# Layer options beyond the registry's defaults (the layer test above builds each layer with those).
LAYER_OPTIONS = {
    "conv1d-reflect": (lambda: nn.Conv1d(2, 3, 3, padding=1, padding_mode="reflect", rng=0, dtype=numpy.float64),
                       (2, 2, 6)),
    "conv2d-circular": (lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular", rng=0, dtype=numpy.float64),
                        (2, 2, 5, 5)),
    "conv2d-replicate": (lambda: nn.Conv2d(2, 3, 2, padding=1, padding_mode="replicate", rng=0,
                                           dtype=numpy.float64), (2, 2, 4, 4)),
    "maxpool2d-dilation-ceil": (lambda: nn.Sequential(nn.Conv2d(2, 2, 1, rng=0, dtype=numpy.float64),
                                                      nn.MaxPool2d(3, stride=2, padding=1, dilation=2, ceil_mode=True)),
                                (2, 2, 7, 7)),
    "maxpool1d-return-indices": (lambda: nn.Sequential(nn.Conv1d(2, 2, 1, rng=0, dtype=numpy.float64),
                                                       nn.MaxPool1d(2, return_indices=True)), (2, 2, 7)),
    "avgpool1d-ceil-no-pad-count": (lambda: nn.Sequential(nn.Conv1d(2, 2, 1, rng=0, dtype=numpy.float64),
                                                          nn.AvgPool1d(3, padding=1, ceil_mode=True,
                                                                       count_include_pad=False)), (2, 2, 6)),
    "batchnorm-momentum-none": (lambda: nn.BatchNorm(3, momentum=None, dtype=numpy.float64), (6, 3)),
    "batchnorm-no-affine": (lambda: nn.Sequential(nn.Dense(3, 3, rng=0, dtype=numpy.float64),
                                                  nn.BatchNorm(3, affine=False, dtype=numpy.float64)), (6, 3)),
    "batchnorm-no-running-stats": (lambda: nn.BatchNorm(3, track_running_stats=False, dtype=numpy.float64), (6, 3)),
    "rnn-no-bias-time-first": (lambda: nn.RNN(3, 2, bias=False, batch_first=False, rng=0, dtype=numpy.float64),
                               (4, 2, 3)),
    "gru-unbatched": (lambda: nn.GRU(3, 2, rng=0, dtype=numpy.float64), (4, 3)),
    "lstm-dropout-bidirectional": (lambda: nn.LSTM(3, 2, num_layers=2, dropout=0.5, bidirectional=True, rng=0,
                                                   dtype=numpy.float64), (2, 4, 3)),
}


@pytest.mark.parametrize("name", LAYER_OPTIONS)
def test_layer_options_train_as_in_eager_mode(name):
    """Padding modes, pool dilation/ceil_mode/return_indices, BatchNorm's options, recurrent options (a
    dropout mask drawn at each replay): outputs and state after each step as eager mode's."""
    build, shape = LAYER_OPTIONS[name]
    eager_layer, compiled_layer = build(), build()
    eager_step = _training_step(eager_layer, optim.SGD(eager_layer.parameters(), lr=0.1, momentum=0.5))
    compiled_step = nablanet.jit(_training_step(compiled_layer, optim.SGD(compiled_layer.parameters(), lr=0.1,
                                                                          momentum=0.5)))
    for k, x in enumerate(_batches(name, shape, numpy.float64)):
        eager_loss, eager_out = eager_step(x)
        compiled_loss, compiled_out = compiled_step(x)
        _close(compiled_out.data, eager_out.data, numpy.float64, f"{name} output, step {k + 1}")
        for (key, ours), theirs in zip(compiled_layer.state_dict().items(), eager_layer.state_dict().values()):
            _close(ours, theirs, numpy.float64, f"{name} {key} after step {k + 1}")
    assert compiled_step.traces == 1


@pytest.mark.parametrize("schedule", [optim.cycles.OneCycle(0.1, total_steps=10),
                                      optim.cycles.CosineWarmRestarts(0.1, t_0=3)], ids=["one_cycle", "restarts"])
def test_a_schedule_sets_each_replayed_steps_rate(schedule):
    models = [nn.Dense(3, 2, rng=0, dtype=numpy.float64) for _ in range(2)]
    steps = [_optimizer_step("nadam", model, optim.NAdam(model.parameters(), lr=schedule)) for model in models]
    compiled = nablanet.jit(steps[1])
    rng = numpy.random.default_rng(9)
    for k in range(8):
        x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
        _close(compiled(x, y).data, steps[0](x, y).data, numpy.float64, f"loss, step {k + 1}")
        _close(models[1].W.data, models[0].W.data, numpy.float64, f"weights after step {k + 1}")


def test_reduce_lr_on_plateau_inside_a_compiled_step_is_refused_by_name():
    model = nn.Dense(3, 2, rng=0, dtype=numpy.float64)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    scheduler = optim.plateau.ReduceLROnPlateau(optimizer)
    step = _optimizer_step("sgd", model, optimizer)
    with pytest.raises(TracingError, match=r"ReduceLROnPlateau\.step\(metric\) cannot be compiled.*outside the "
                                           r"compiled function"):
        nablanet.jit(lambda x, y: scheduler.step(step(x, y)))(numpy.ones((5, 3)), numpy.ones((5, 2)))


def test_batch_statistics_of_a_strided_input_are_each_batchs():
    """A strided slice is copied into memory order for BatchNorm's statistics: recorded, not kept as the first
    batch's statistics."""
    layers = [nn.BatchNorm(3, dtype=numpy.float64) for _ in range(2)]
    compiled = nablanet.jit(lambda x: layers[1](x))
    for k, x in enumerate(numpy.random.default_rng(10).standard_normal((STEPS, 6, 3, 2))):
        _close(compiled(x[:, :, 0]).data, layers[0](x[:, :, 0]).data, numpy.float64, f"output, call {k + 1}")
        _close(layers[1].running_mean, layers[0].running_mean, numpy.float64, f"running mean after call {k + 1}")


RUNNING_STATISTICS = {
    "batchnorm": (lambda: nn.BatchNorm(3, dtype=numpy.float64), (6, 3)),
    "batchnorm-no-affine": (lambda: nn.BatchNorm(3, affine=False, dtype=numpy.float64), (6, 3, 2)),
    "instancenorm1d": (lambda: nn.InstanceNorm1d(3, affine=True, track_running_stats=True, dtype=numpy.float64),
                       (2, 3, 5)),
    "instancenorm2d": (lambda: nn.InstanceNorm2d(3, track_running_stats=True, dtype=numpy.float64), (2, 3, 2, 3)),
}


@pytest.mark.parametrize("name", RUNNING_STATISTICS)
def test_evaluation_reads_the_running_statistics_of_each_call(name):
    """A compiled evaluation-mode forward, traced once, then replayed after eager training calls and a
    load_state_dict changed the running statistics: each replay normalizes with the statistics of its call."""
    build, shape = RUNNING_STATISTICS[name]
    layer, other = build(), build()
    rng = numpy.random.default_rng(11)

    def evaluate(x):
        layer.eval()
        out = layer(x)
        layer.train()
        return out

    compiled = nablanet.jit(evaluate)
    for k in range(STEPS + 1):
        x = rng.standard_normal(shape)
        _close(numpy.asarray(_value(compiled(x))), numpy.asarray(_value(evaluate(x))), numpy.float64,
               f"output, call {k + 1}")
        if k == STEPS - 1:
            other(3.0 * rng.standard_normal(shape) - 2.0)
            layer.load_state_dict(other.state_dict())
        else:
            layer(2.0 * rng.standard_normal(shape) + 1.0)
    assert compiled.traces == 1


def test_a_mode_switched_between_calls_traces_again():
    """Traced in training mode, then called after eval() (and train() again): each call runs the program of
    its modes (dropout and batch statistics, or neither), two traces in all; with the modes of the eager twin."""
    def build():
        return nn.Sequential(nn.Dense(3, 4, rng=0, dtype=numpy.float64), nn.Dropout(0.5, rng=1),
                             nn.BatchNorm(4, dtype=numpy.float64))

    eager, model = build(), build()
    compiled = nablanet.jit(lambda x: model(x))
    for k, x in enumerate(numpy.random.default_rng(12).standard_normal((6, 5, 3))):
        for m in (eager, model):
            m.train(k % 3 != 1)
        _close(compiled(x).data, eager(x).data, numpy.float64, f"output, call {k + 1} (training={model.training})")
        _close(model[2].running_mean, eager[2].running_mean, numpy.float64, f"running mean after call {k + 1}")
    assert compiled.traces == 2


@pytest.mark.parametrize("pool, shape", [(lambda: nn.MaxPool2d(2, return_indices=True), (2, 2, 4, 4)),
                                         (lambda: nn.MaxPool1d(3, stride=2, dilation=2, ceil_mode=True,
                                                               return_indices=True), (2, 2, 9))],
                         ids=["maxpool2d", "maxpool1d-dilation-ceil"])
def test_pool_indices_are_each_batchs(pool, shape):
    layer = pool()
    compiled = nablanet.jit(lambda x: layer(x))
    for k, x in enumerate(_batches("pool", shape, numpy.float64)):
        (values, indices), (expected_values, expected_indices) = compiled(x), layer(x)
        _close(values, expected_values, numpy.float64, f"pooled values, call {k + 1}")
        numpy.testing.assert_array_equal(indices, expected_indices, err_msg=f"indices, call {k + 1}")
    assert compiled.traces == 1
