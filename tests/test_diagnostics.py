"""nablanet.diagnostics: training monitor and its warnings, gradcheck, chain-rule trace, forward vs reverse, LR finder."""

import io
import math
import types
import warnings

import numpy as np
import pytest

import nablanet
import nablanet.nn as nn
from nablanet.autodiff import OPS, Op, register
from nablanet.diagnostics import (
    GradcheckWarning,
    TrainingMonitor,
    TrainingWarning,
    chain_rule_trace,
    compare_modes,
    flat_loss,
    gradcheck,
    lr_find,
)
from nablanet.nn.functional import mse
from nablanet.optim import SGD, Adam, StepDecay
from nablanet.train import TrainingDivergedError, fit


def _data(n=12, features=3, outputs=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features)).astype(np.float32)
    y = rng.normal(size=(n, outputs)).astype(np.float32)
    return X, y


def _fit(model, X, y, monitor, *, lr=0.05, epochs=2, batch_size=None, **options):
    return fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=lr), epochs=epochs,
               batch_size=batch_size, callbacks=[monitor], seed=0, progress=False, **options)


def _causes(monitor):
    return [(w.cause, w.layer) for w in monitor.warnings]


# --- the monitor's record --------------------------------------------------------------------------

def test_monitor_records_every_layer_and_quantity_once_per_epoch():
    X, y = _data(n=10)
    model = nn.Sequential(nn.Dense(3, 5, activation="relu", rng=0), nn.Dense(5, 4, activation="sigmoid", rng=1),
                          nn.Dense(4, 1, rng=2))
    monitor = TrainingMonitor(warn=False)
    _fit(model, X, y, monitor, epochs=3, batch_size=4)  # 10 rows in batches of 4: 3 steps per epoch

    assert [(layer.index, layer.name, layer.activation) for layer in monitor.layers] == [
        (1, "layers.0", "relu"), (2, "layers.1", "sigmoid"), (3, "layers.2", "identity")]
    common = {"grad_norm.W", "grad_norm.b", "update_ratio.W", "update_ratio.b", "activation_mean", "activation_std"}
    assert set(monitor.history["layers.0"]) == common | {"dead"}
    assert set(monitor.history["layers.1"]) == common | {"saturated"}
    assert set(monitor.history["layers.2"]) == common
    assert all(len(values) == 3 for record in monitor.history.values() for values in record.values())
    assert monitor.epochs == [0, 1, 2]
    assert monitor.steps["step"] == list(range(9))
    assert monitor.steps["epoch"] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    # The forward hooks are removed when training ends.
    assert all(not module.__dict__.get("_forward_hooks") for module in model.modules())


def test_gradient_norms_update_ratio_and_activations_match_a_manual_computation():
    X, y = _data(n=8)
    lr = 0.1

    def build():
        return nn.Sequential(nn.Dense(3, 4, activation="tanh", rng=0), nn.Dense(4, 1, rng=1))

    model, reference = build(), build()
    monitor = TrainingMonitor(warn=False)
    _fit(model, X, y, monitor, lr=lr, epochs=2, batch_size=None)  # one full-batch step per epoch

    hidden, output = reference.layers
    for epoch in range(2):
        hidden_out = hidden(X)
        cost = mse(output(hidden_out), y)
        cost.backward()
        expected = {("layers.0", "W"): hidden.W, ("layers.0", "b"): hidden.b,
                    ("layers.1", "W"): output.W, ("layers.1", "b"): output.b}
        for (layer, name), p in expected.items():
            grad_norm = np.linalg.norm(p.grad)
            ratio = np.linalg.norm(lr * p.grad) / np.linalg.norm(p.data) if np.linalg.norm(p.data) > 0 else math.nan
            assert monitor.history[layer][f"grad_norm.{name}"][epoch] == pytest.approx(grad_norm, rel=1e-5)
            if math.isnan(ratio):
                assert math.isnan(monitor.history[layer][f"update_ratio.{name}"][epoch])
            else:
                assert monitor.history[layer][f"update_ratio.{name}"][epoch] == pytest.approx(ratio, rel=1e-4)
        activations = hidden_out.data.astype(np.float64)
        assert monitor.history["layers.0"]["activation_mean"][epoch] == pytest.approx(activations.mean(), rel=1e-5)
        assert monitor.history["layers.0"]["activation_std"][epoch] == pytest.approx(activations.std(), rel=1e-5)
        total = math.sqrt(sum(np.linalg.norm(p.grad) ** 2 for p in expected.values()))
        assert monitor.steps["grad_norm"][epoch] == pytest.approx(total, rel=1e-5)
        for p in expected.values():
            p.data = p.data - lr * p.grad
            p.grad = None


def test_every_kth_step_is_sampled_over_the_whole_run():
    X, y = _data(n=12)
    model = nn.Sequential(nn.Dense(3, 4, activation="tanh", rng=0), nn.Dense(4, 1, rng=1))
    monitor = TrainingMonitor(every=2, warn=False)
    _fit(model, X, y, monitor, epochs=2, batch_size=4)  # 3 steps per epoch: steps 0..5
    assert monitor.steps["step"] == [0, 2, 4]
    assert monitor.steps["epoch"] == [0, 0, 1]
    assert all(math.isfinite(v) for v in monitor.history["layers.0"]["update_ratio.W"])


def test_validation_passes_are_not_counted():
    X, y = _data(n=12)
    means = []
    for validation in (None, (1e3 * X, y)):
        model = nn.Sequential(nn.Dense(3, 4, activation="tanh", rng=0), nn.Dense(4, 1, rng=1))
        monitor = TrainingMonitor(warn=False)
        _fit(model, X, y, monitor, epochs=2, batch_size=4, validation_data=validation)
        means.append((monitor.history["layers.0"]["activation_mean"], monitor.history["layers.0"]["saturated"]))
    assert means[0] == means[1]


# --- warnings --------------------------------------------------------------------------------------

def test_relus_with_large_negative_biases_are_all_dead_and_warned_about():
    X, y = _data(n=16, features=4)
    model = nn.Sequential(nn.Dense(4, 6, activation="relu", bias_init=-100.0, rng=0), nn.Dense(6, 1, rng=1))
    monitor = TrainingMonitor()
    with pytest.warns(TrainingWarning, match=r"layer 1 \(layers.0\): 100% of ReLUs are dead"):
        _fit(model, X, y, monitor, epochs=2, batch_size=4)
    assert monitor.history["layers.0"]["dead"] == [1.0, 1.0]
    assert ("dead", "layers.0") in _causes(monitor)


def test_a_unit_that_fires_for_one_sample_of_one_batch_is_alive():
    # Units 0 and 1 never fire; unit 2 fires for sample 5 only (x0 = 3 > 2); unit 3 fires for every sample.
    X = np.zeros((8, 2), dtype=np.float32)
    X[:, 0] = [0.1, 0.2, 0.3, 0.4, 0.5, 3.0, 0.6, 0.7]
    y = np.zeros((8, 1), dtype=np.float32)
    layer = nn.Dense(2, 4, activation="relu", rng=0)
    layer.W.data[...] = [[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    layer.b.data[...] = [-1.0, -1.0, -2.0, 1.0]
    model = nn.Sequential(layer, nn.Dense(4, 1, rng=1))
    monitor = TrainingMonitor(warn=False)
    fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=1e-9), epochs=1, batch_size=2,
        shuffle=False, callbacks=[monitor], progress=False)
    assert monitor.history["layers.0"]["dead"] == [0.5]
    assert ("dead", "layers.0") in _causes(monitor)  # 50% reaches the default dead_fraction


@pytest.mark.parametrize("activation, bounds", [("sigmoid", (0.0, 1.0)), ("tanh", (-1.0, 1.0))])
def test_huge_weights_saturate_sigmoid_and_tanh_units(activation, bounds):
    X, y = _data(n=16, features=4)
    hidden = nn.Dense(4, 16, activation=activation, init="normal", rng=0)
    hidden.W.data *= 100
    model = nn.Sequential(hidden, nn.Dense(16, 1, rng=1))
    monitor = TrainingMonitor()
    with pytest.warns(TrainingWarning, match=rf"layer 1 \(layers.0\): \d+% of {activation} outputs are saturated"):
        _fit(model, X, y, monitor, lr=1e-3, epochs=1)
    assert monitor.history["layers.0"]["saturated"][0] > 0.9
    output = hidden(X).data
    tol = monitor.saturation_tol
    expected = np.mean((output <= bounds[0] + tol) | (output >= bounds[1] - tol))
    assert monitor.history["layers.0"]["saturated"][0] == pytest.approx(expected)


def test_deep_sigmoid_network_with_normal_init_warns_of_vanishing_gradients():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 4)).astype(np.float32)
    y = rng.normal(size=(32, 1)).astype(np.float32)
    layers = [nn.Dense(4, 4, activation="sigmoid", init="normal", rng=i) for i in range(20)]
    model = nn.Sequential(*layers, nn.Dense(4, 1, init="normal", rng=99))
    monitor = TrainingMonitor()
    with pytest.warns(TrainingWarning) as caught:
        _fit(model, X, y, monitor, lr=0.1, epochs=2)
    vanishing = [str(w.message) for w in caught if "vanishing" in str(w.message)]
    assert len(vanishing) == 1  # once per cause, although it holds in both epochs
    norms = [monitor.history[layer.name]["grad_norm.W"][0] for layer in monitor.layers]
    assert monitor.rho[0] == pytest.approx(norms[0] / norms[-1])
    below = [layer.index for layer, norm in zip(monitor.layers[:-1], norms) if norm < norms[-1] / 64]
    assert below[0] == 1 and len(below) > 1
    assert vanishing[0].startswith(f"layer 1 (layers.0): rho = ||dC/dW^1|| / ||dC/dW^21|| = {norms[0]:.3g} / "
                                   f"{norms[-1]:.3g} = {monitor.rho[0]:.3g} in epoch 0, below vanishing_ratio = 0.0156; "
                                   f"{len(below)} of the 21 layers with weights get less than that share of layer 21's")
    assert vanishing[0].endswith("vanishing gradients (sigmoid's sigma' <= 1/4, and saturated units pass back almost "
                                 "nothing; try ReLU/ELU with He init, tanh with Glorot init, or batch normalization)")
    assert "rho = |dC/dW^first| / |dC/dW^last| = " in monitor.report()


def _digits(n=256):
    from nablanet.datasets import load_digits

    X, y = load_digits(dtype="float32")
    return X[:n] / 16.0, y[:n]


def _deep(activation, init, *, batch_norm=False, depth=20, width=32, seed=0):
    """``64 -> depth x Dense(width) -> Dense(10)``, optionally with a BatchNorm on each hidden z."""
    rng = np.random.default_rng(seed)
    layers, fan_in = [], 64
    for _ in range(depth):
        if batch_norm:
            layers += [nn.Dense(fan_in, width, init=init, rng=rng), nn.BatchNorm(width),
                       nn.Activation(activation)]
        else:
            layers.append(nn.Dense(fan_in, width, activation=activation, init=init, rng=rng))
        fan_in = width
    return nn.Sequential(*layers, nn.Dense(fan_in, 10, init=init, rng=rng))


def _vanishing_on_digits(model):
    X, y = _digits()
    monitor = TrainingMonitor(warn=False)
    fit(model, X, y, loss="cross_entropy", optimizer=SGD(model.parameters(), lr=0.1), epochs=1, batch_size=64,
        seed=0, progress=False, callbacks=[monitor], flush_subnormals=True)
    return monitor.rho[0], ("vanishing", "layers.0") in _causes(monitor)


# Measured in this configuration (256 digits, one epoch of SGD, eta = 0.1, batches of 64), seeds 0-7:
# classic rho 2.5e-4 to 2.4e-3; with BatchNorm 0.23 to 0.37; ReLU + He 1.3 to 5.2; tanh + Glorot 1.3 to
# 3.7; 64-64-10 ReLU + He 0.92 to 1.3; 64-16-10 sigmoid + Glorot 0.52 to 0.62.
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name, make, warns", [
    ("20 x sigmoid, N(0,1): the classic case", lambda seed: _deep("sigmoid", "normal", seed=seed), True),
    ("the same with BatchNorm before each sigmoid",
     lambda seed: _deep("sigmoid", "normal", batch_norm=True, seed=seed), False),
    ("20 x ReLU, He", lambda seed: _deep("relu", "he_normal", seed=seed), False),
    ("20 x tanh, Glorot", lambda seed: _deep("tanh", "glorot_uniform", seed=seed), False),
    ("64-64-10 ReLU", lambda seed: _deep("relu", "he_normal", depth=1, width=64, seed=seed), False),
    ("64-16-10 sigmoid, Glorot", lambda seed: _deep("sigmoid", "glorot_uniform", depth=1, width=16, seed=seed), False),
], ids=lambda value: value if isinstance(value, str) else "")
def test_the_vanishing_warning_fires_on_the_classic_case_only(name, make, warns, seed):
    rho, warned = _vanishing_on_digits(make(seed))
    assert warned == warns, f"{name}: rho = {rho:.3g}"
    assert (rho < 1 / 64) == warns


def test_rho_compares_the_first_and_last_layers_with_a_finite_gradient_norm():
    X, y = _data(n=16, features=4)
    model = nn.Sequential(nn.Dense(4, 6, activation="tanh", rng=0), nn.Dense(6, 5, activation="tanh", rng=1),
                          nn.Dense(5, 1, rng=2))
    monitor = TrainingMonitor(warn=False)
    _fit(model, X, y, monitor, epochs=1)
    norms = [monitor.history[f"layers.{k}"]["grad_norm.W"][-1] for k in range(3)]
    assert monitor.rho == [pytest.approx(norms[0] / norms[2])]
    # A layer that got no gradient (NaN) or whose norm overflowed is left out of the comparison.
    monitor.history["layers.0"]["grad_norm.W"][-1] = math.nan
    monitor._check_vanishing(0)
    assert monitor.rho[-1] == pytest.approx(norms[1] / norms[2])
    monitor.history["layers.2"]["grad_norm.W"][-1] = math.inf
    monitor._check_vanishing(0)
    assert math.isnan(monitor.rho[-1])  # one layer left: nothing to compare


def test_vanishing_ratio_is_the_threshold_on_rho_and_is_checked():
    model = _deep("sigmoid", "normal")
    X, y = _digits()
    monitor = TrainingMonitor(warn=False, vanishing_ratio=1e-6)  # the old default: stricter now, and silent here
    fit(model, X, y, loss="cross_entropy", optimizer=SGD(model.parameters(), lr=0.1), epochs=1, batch_size=64,
        seed=0, progress=False, callbacks=[monitor], flush_subnormals=True)
    assert 1e-6 < monitor.rho[0] < 1 / 64 and "vanishing" not in [cause for cause, _ in _causes(monitor)]
    assert TrainingMonitor().vanishing_ratio == 1 / 64
    for bad in (0, 1, -0.1, 2.0):
        with pytest.raises(ValueError, match=r"vanishing_ratio must be in \(0, 1\)"):
            TrainingMonitor(vanishing_ratio=bad)


def test_a_healthy_network_raises_no_warning():
    X, y = _data(n=32, features=4)
    model = nn.Sequential(nn.Dense(4, 16, activation="relu", rng=0), nn.Dense(16, 1, rng=1))
    monitor = TrainingMonitor()
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingWarning)
        _fit(model, X, y, monitor, lr=0.01, epochs=5, batch_size=8)
    assert monitor.warnings == []


def test_exploding_gradients_of_a_linear_model_with_too_large_a_step():
    # For mse on standardized inputs the curvature is about 2, so lr = 2 multiplies the error by ~3 per step.
    X, y = _data(n=32)
    model = nn.Dense(3, 1, rng=0)
    monitor = TrainingMonitor()
    # fit's own divergence guard would stop this run at its fifth epoch: it is off, to watch the gradients grow.
    with pytest.warns(TrainingWarning, match=r"gradient norm grew .*x in \d+ steps .*: exploding gradients \(try clipping"):
        _fit(model, X, y, monitor, lr=2.0, epochs=10, divergence_factor=None)
    assert [cause for cause, _ in _causes(monitor)].count("exploding") == 1
    norms = monitor.steps["grad_norm"]
    assert norms[-1] > 1e3 * norms[0]


def test_exploding_gradients_of_an_rnn_with_a_large_learning_rate():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 20, 1)).astype(np.float32)
    y = X.sum(axis=1)
    model = nn.Sequential(nn.RNN(1, 8, return_sequences=False, rng=0), nn.Dense(8, 1, rng=1))
    monitor = TrainingMonitor(warn=False)
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(TrainingDivergedError):
        _fit(model, X, y, monitor, lr=1.0, epochs=30)
    monitor.remove_hooks()  # fit raised, so on_train_end did not run
    assert "exploding" in [cause for cause, _ in _causes(monitor)]
    assert [layer.name for layer in monitor.layers] == ["layers.0", "layers.1"]
    assert monitor.layers[0].activation == "tanh"


@pytest.mark.parametrize("window, warned_at", [(10, [10]), (9, [])])
def test_exploding_means_growth_by_the_factor_within_the_window(window, warned_at):
    # Gradient norms 1, 2, 4, ...: 2^10 = 1024 >= 1e3 takes exactly 10 steps; 9 steps only reach 512.
    model = nn.Dense(1, 1, rng=0)
    run = types.SimpleNamespace(model=model)
    monitor = TrainingMonitor(exploding_window=window, warn=False)
    monitor.on_train_begin(run)
    monitor.on_epoch_begin(run, 0)
    for step in range(16):
        model.W.grad = np.array([[2.0 ** step]], dtype=np.float32)
        model.b.grad = np.zeros(1, dtype=np.float32)
        monitor.on_batch_end(run, step, {})
    assert monitor.steps["grad_norm"] == [2.0 ** step for step in range(16)]
    assert [w.step for w in monitor.warnings] == warned_at
    if warned_at:
        assert monitor.warnings[0].message.startswith("gradient norm grew 1.02e+03x in 10 steps (from 1 at step 0 to 1.02e+03")


def test_warnings_are_given_once_per_cause_and_can_be_silenced():
    X, y = _data(n=16, features=4)

    def saturated_model():
        hidden = nn.Dense(4, 8, activation="sigmoid", init="normal", rng=0)
        hidden.W.data *= 100
        return nn.Sequential(hidden, nn.Dense(8, 1, rng=1))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loud = TrainingMonitor()
        _fit(saturated_model(), X, y, loud, lr=1e-3, epochs=3)
        quiet = TrainingMonitor(warn=False)
        _fit(saturated_model(), X, y, quiet, lr=1e-3, epochs=3)
        filtered = TrainingMonitor()
        warnings.simplefilter("ignore", TrainingWarning)
        _fit(saturated_model(), X, y, filtered, lr=1e-3, epochs=3)
    training_warnings = [w for w in caught if issubclass(w.category, TrainingWarning)]
    assert [str(w.message) for w in training_warnings] == [w.message for w in loud.warnings]
    # Saturated units pass back almost nothing, so the first layer's gradient vanishes too (rho ~ 1e-2).
    assert _causes(loud) == [("vanishing", "layers.0"), ("saturated", "layers.0")]
    assert _causes(quiet) == _causes(filtered) == _causes(loud)


def test_report_summarizes_the_last_epoch_and_lists_warnings():
    X, y = _data(n=16, features=4)
    model = nn.Sequential(nn.Dense(4, 6, activation="relu", bias_init=-100.0, rng=0), nn.Dense(6, 1, rng=1))
    monitor = TrainingMonitor(warn=False)
    _fit(model, X, y, monitor, epochs=2)
    text = str(monitor)
    assert "epoch 1 (last): parameters" in text and "epoch 1 (last): outputs" in text
    assert "|dC/dp|" in text and "|dp|/|p|" in text
    dead_row = next(line for line in text.splitlines() if line.lstrip().startswith("1  layers.0  Dense relu"))
    assert dead_row.endswith("100.0%")
    assert "warnings:" in text and "100% of ReLUs are dead" in text
    blocks = monitor.report(per_epoch=True).split("\n\n")
    first_layer = next(block.splitlines() for block in blocks if block.startswith("layer 1 (layers.0): Dense relu"))
    assert len(first_layer) == 1 + 2 + 2  # title, header and rule, one row per epoch
    assert first_layer[-1].split()[0] == "1" and first_layer[-1].endswith("100.0%")


def test_monitor_plots_render_to_png(tmp_path):
    from nablanet.plot import save

    X, y = _data(n=16, features=4)
    model = nn.Sequential(nn.Dense(4, 6, activation="relu", rng=0), nn.Dense(6, 1, activation="tanh", rng=1))
    monitor = TrainingMonitor(warn=False)
    _fit(model, X, y, monitor, epochs=3, batch_size=8)
    figure = monitor.plot()
    assert len(figure.axes) == 4 * 2  # rows: gradient norm, update ratio, activation, saturated/dead; a column per layer
    assert [ax.get_yscale() for ax in figure.axes[:4]] == ["log", "log", "log", "log"]
    assert save(figure, tmp_path / "monitor.png", dpi=50).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    buffer = io.BytesIO()
    monitor.plot_gradient_norms().savefig(buffer, format="png", dpi=50)
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


# --- gradcheck -------------------------------------------------------------------------------------

def test_gradcheck_passes_on_a_correct_float32_model_and_leaves_it_untouched():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 3)).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 1, 2])
    model = nn.Sequential(nn.Dense(3, 5, activation="tanh", rng=0), nn.Dropout(0.5, rng=0),
                          nn.Dense(5, 4, activation="sigmoid", rng=1), nn.Dense(4, 3, rng=2))
    before = model.state_dict()
    result = gradcheck(model, X, labels, "cross_entropy")
    assert result.passed
    assert [(row.layer, row.parameter, row.checked) for row in result.table] == [
        ("layers.0", "W", 15), ("layers.0", "b", 5), ("layers.2", "W", 20), ("layers.2", "b", 4),
        ("layers.3", "W", 12), ("layers.3", "b", 3)]
    assert all(row.max_relative_error < 1e-6 for row in result.table)
    assert "result: passed" in str(result) and "FAIL" not in str(result)
    after = model.state_dict()
    assert all(after[k].dtype == np.float32 and np.array_equal(after[k], before[k]) for k in before)
    assert all(module.training for module in model.modules())


def test_gradcheck_checks_a_random_subset_of_large_parameters():
    X, y = _data(n=4, features=30)
    model = nn.Sequential(nn.Dense(30, 10, activation="tanh", rng=0), nn.Dense(10, 1, rng=1))
    result = gradcheck(model, X, y, "mse", max_entries=25)
    assert [row.checked for row in result.table] == [25, 10, 10, 1]
    assert result.passed


@pytest.fixture(scope="module")
def wrong_square():
    """An op x^2 whose VJP forgets the factor 2, registered for this module only (OPS is global)."""
    name = "diagnostics_test_wrong_square"

    class WrongSquare(Op):
        """y = x^2 with the deliberately wrong VJP grad_out * x (the right one is 2 x grad_out)."""

        def forward(x):
            return x * x

        def vjp(grad_out, out, x):
            return (grad_out * x,)

        def jvp(x_dot, out, x):
            return 2.0 * x * x_dot

    WrongSquare.name = name
    registered = name not in OPS
    op = register(WrongSquare) if registered else OPS[name]
    yield op
    if registered:
        OPS.pop(name)


def test_gradcheck_fails_upstream_of_an_op_with_a_wrong_vjp(wrong_square):
    class Square(nn.Module):
        def forward(self, x):
            return wrong_square.apply(x)

    X, y = _data(n=5)
    model = nn.Sequential(nn.Dense(3, 4, activation="tanh", rng=0), Square(), nn.Dense(4, 1, rng=1))
    result = gradcheck(model, X, y, "mse")
    assert not result.passed
    # Parameters before the wrong op get half their gradient; those after it are unaffected.
    assert [(row.layer, row.passed) for row in result.table] == [
        ("layers.0", False), ("layers.0", False), ("layers.2", True), ("layers.2", True)]
    assert result.failed[0].max_relative_error > 0.3
    assert "FAILED (2 of 4 parameters)" in str(result)


def test_gradcheck_warns_when_a_relu_sits_on_its_kink():
    # A zero input row with zero biases puts every pre-activation of that sample exactly at 0.
    X = np.array([[0.0, 0.0, 0.0], [1.0, -0.5, 0.3], [0.2, 0.1, -1.0]], dtype=np.float32)
    y = np.array([[1.0], [0.0], [0.5]], dtype=np.float32)
    model = nn.Sequential(nn.Dense(3, 4, activation="relu", rng=0), nn.Dense(4, 1, rng=1))
    with pytest.warns(GradcheckWarning, match=r"layers.0: 4 of 12 pre-activations z \(relu\) of dense within 1e-05"):
        result = gradcheck(model, X, y, "mse")
    assert len(result.kinks) == 1
    # The central difference straddles the kink in b (dz/db = 1) but not in W (the row is zero).
    assert [(row.parameter, row.passed) for row in result.table[:2]] == [("W", True), ("b", False)]
    assert "may be the finite difference crossing it" in str(result)


def test_gradcheck_warns_about_ties_in_a_max():
    X = np.ones((2, 1, 4), dtype=np.float32)  # every pooling window holds two equal values
    model = nn.Sequential(nn.MaxPool1d(2), nn.Flatten(), nn.Dense(2, 1, rng=0))
    with pytest.warns(GradcheckWarning, match=r"layers.0: 4 of 4 windows \(ties\) of max_pool"):
        result = gradcheck(model, X, np.zeros((2, 1), dtype=np.float32), "mse")
    assert result.passed


# --- the chain rule by hand ------------------------------------------------------------------------

@pytest.mark.parametrize("activations, loss, target", [
    (("sigmoid", "sigmoid"), "mse", np.array([1.0])),
    (("tanh", "relu", "identity"), "mse", np.array([0.3, -0.2])),
    (("leaky_relu", "elu", "identity"), "cross_entropy", np.array(1)),
    (("relu", "identity"), "binary_cross_entropy_with_logits", np.array([1.0])),
])
def test_chain_rule_trace_matches_the_engine_in_float64(activations, loss, target):
    outputs = target.size if target.dtype.kind == "f" else 3  # a class label: 3 classes
    sizes = [3] + [4] * (len(activations) - 1) + [outputs]
    x = np.array([0.7, -1.3, 0.4])

    def build(dtype):
        return nn.Sequential(*[nn.Dense(sizes[i], sizes[i + 1], activation=activations[i], bias_init=0.1,
                                        rng=i, dtype=dtype) for i in range(len(activations))])

    trace = chain_rule_trace(build(np.float32), x, target, loss)
    assert trace.max_difference < 1e-10
    # An independent reference: the same network built in float64, differentiated by Tensor.backward.
    reference = build(np.float64)
    for layer in reference.layers:
        layer.W.data = layer.W.data.astype(np.float32).astype(np.float64)
        layer.b.data = layer.b.data.astype(np.float32).astype(np.float64)
    labels = target[None] if target.dtype.kind != "f" else target.reshape(1, -1)
    nablanet.nn.functional.get_loss(loss)(reference(x[None]), labels).backward()
    for l, layer in enumerate(reference.layers, start=1):
        np.testing.assert_allclose(trace.grad_W[l], layer.W.grad, rtol=0, atol=1e-10)
        np.testing.assert_allclose(trace.grad_b[l], layer.b.grad, rtol=0, atol=1e-10)
        np.testing.assert_allclose(trace.grad_b[l], trace.delta[l], rtol=0, atol=0)
    text = str(trace)
    assert "transpose of the notes' W^l" in text
    assert f"delta^{len(activations)} = sigma'(z^{len(activations)}) * dC/da^{len(activations)}" in text
    assert "max |hand - engine|" in text


def test_chain_rule_trace_refuses_layers_it_cannot_trace():
    with pytest.raises(TypeError, match="only Dense layers"):
        chain_rule_trace(nn.Sequential(nn.Dense(2, 2, rng=0), nn.ReLU()), np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="one sample of shape"):
        chain_rule_trace(nn.Sequential(nn.Dense(2, 2, rng=0)), np.ones(3), np.ones(2))


# --- forward vs reverse mode -----------------------------------------------------------------------

def test_reverse_mode_is_cheaper_for_a_scalar_loss_of_many_parameters():
    rng = np.random.default_rng(0)
    X, labels = rng.normal(size=(6, 3)), rng.integers(0, 3, size=6)
    model = nn.Sequential(nn.Dense(3, 5, activation="relu", rng=0), nn.Dense(5, 3, rng=1))
    f, theta = flat_loss(model, X, labels, "cross_entropy")
    comparison = compare_modes(f, theta)
    assert (comparison.n_inputs, comparison.n_outputs) == (38, 1)
    assert comparison.forward_flops > comparison.n_inputs * comparison.function_flops
    assert comparison.reverse_flops < 5 * comparison.function_flops
    assert comparison.ratio < 0.1
    assert comparison.max_difference < 1e-12
    expected = nablanet.grad(f)(theta)
    np.testing.assert_allclose(comparison.jacobian[0], expected, atol=1e-12)
    assert "reverse mode is cheaper" in str(comparison)


def test_forward_mode_is_cheaper_for_one_input_and_many_outputs():
    import nablanet.numpy as nnp

    comparison = compare_modes(lambda t: nnp.sin(t * np.arange(1.0, 41.0)) * t, np.array([0.3]))
    assert (comparison.n_inputs, comparison.n_outputs) == (1, 40)
    assert comparison.forward_flops < comparison.reverse_flops
    k = np.arange(1.0, 41.0)
    np.testing.assert_allclose(comparison.jacobian[:, 0], np.sin(0.3 * k) + 0.3 * k * np.cos(0.3 * k), atol=1e-12)


# --- the learning-rate finder ----------------------------------------------------------------------

def _regression(n=256, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    y = X @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32) + 0.1 * rng.normal(size=(n, 1)).astype(np.float32)
    return X, y


@pytest.mark.parametrize("suggest", ["steepest", "minimum"])
def test_lr_finder_suggests_a_rate_below_the_stability_limit(suggest):
    X, y = _regression()
    # Gradient descent on mse is stable for lr < 2 / lambda_max of the Hessian 2 X^T X / N.
    limit = 2 / np.linalg.eigvalsh(2 * X.T.astype(np.float64) @ X / len(X)).max()
    model = nn.Dense(3, 1, rng=0)
    result = lr_find(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.01), suggest=suggest)
    assert result.diverged
    assert limit / 100 < result.suggestion < limit
    assert result.lrs[0] == pytest.approx(1e-7) and np.all(np.diff(result.lrs) > 0)
    assert str(result).startswith("learning-rate range test")


def test_lr_finder_restores_weights_optimizer_state_and_schedule_exactly():
    X, y = _regression(n=64)
    model = nn.Sequential(nn.Dense(3, 8, activation="relu", rng=0), nn.Dense(8, 1, rng=1))
    schedule = StepDecay(0.01, step_size=10, gamma=0.5)
    optimizer = Adam(model.parameters(), lr=schedule)
    fit(model, X, y, loss="mse", optimizer=optimizer, epochs=1, batch_size=16, seed=0, progress=False)
    model.eval()
    weights, state = model.state_dict(), optimizer.state_dict()
    grads = [p.grad for p in model.parameters()]

    result = lr_find(model, X, y, loss="mse", optimizer=optimizer, steps=40, batch_size=16)

    assert result.lrs.size >= 10
    after_weights, after_state = model.state_dict(), optimizer.state_dict()
    assert all(np.array_equal(after_weights[k], weights[k]) for k in weights)
    assert sorted(after_state) == sorted(state)
    assert all(np.array_equal(after_state[k], state[k]) for k in state)
    assert optimizer.lr is schedule
    assert all(p.grad is g for p, g in zip(model.parameters(), grads))
    assert not any(module.training for module in model.modules())


def test_lr_finder_plot_marks_the_suggestion():
    X, y = _regression(n=128)
    model = nn.Dense(3, 1, rng=0)
    result = lr_find(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.01))
    figure = result.plot()
    ax = figure.axes[0]
    assert ax.get_xscale() == "log"
    assert any(line.get_label().startswith("suggested lr") for line in ax.get_lines())
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=50)
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
