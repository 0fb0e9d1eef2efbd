"""fit's model and optimizer: what is refused (not a model, no optimizer, another model's parameters) and
L-BFGS, driven by one closure over the whole training set per epoch, as torch.optim.LBFGS is used."""

import warnings

import numpy as np
import pytest

import nablanet.nn as nn
from nablanet.nn.functional import mse
from nablanet.optim import LBFGS, SGD, Adam
from nablanet.train import EarlyStopping, LambdaCallback, evaluate, fit, predict

X_LINE = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5], [-2.0, 1.0]])
Y_LINE = np.array([1.0, 0.0, 2.0, -1.0])


def _line_model(rng=0):
    return nn.Sequential(nn.Dense(2, 1, rng=rng, dtype=np.float64))


# --- what fit refuses ----------------------------------------------------------------------------------

def test_an_optimizer_over_another_models_parameters_is_refused_and_a_subset_of_the_models_is_not():
    model, other = _line_model(0), _line_model(1)
    with pytest.raises(ValueError, match=r"2 of the 2 parameters the optimizer SGD updates are not the model's "
                                         r"\(params\[0\] of shape \(2, 1\), params\[1\] of shape \(1,\)\)"):
        fit(model, X_LINE, Y_LINE, loss="mse", optimizer=SGD(other.parameters(), lr=0.1), epochs=3, progress=False)
    mixed = SGD(model.parameters() + other.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"2 of the 4 parameters .* \(params\[2\] of shape \(2, 1\), params\[3\]"):
        fit(model, X_LINE, Y_LINE, loss="mse", optimizer=mixed, epochs=3, progress=False)
    # Part of the model's own parameters is fine: the others stay frozen.
    two_layers = nn.Sequential(nn.Dense(2, 3, rng=0, dtype=np.float64), nn.Dense(3, 1, rng=1, dtype=np.float64))
    frozen = {name: value for name, value in two_layers.state_dict().items() if name.startswith("layers.1")}
    fit(two_layers, X_LINE, Y_LINE, loss="mse", optimizer=SGD(two_layers[0].parameters(), lr=0.1), epochs=3,
        progress=False)
    for name, value in frozen.items():
        np.testing.assert_array_equal(two_layers.state_dict()[name], value)
    assert not np.array_equal(two_layers.state_dict()["layers.0.W"], _line_model().state_dict()["layers.0.W"])


@pytest.mark.parametrize("optimizer, message", [
    (None, "got None"),
    (3, "got an object of type int"),
])
def test_something_other_than_an_optimizer_is_a_type_error_naming_it(optimizer, message):
    model = _line_model()
    with pytest.raises(TypeError, match=rf"optimizer must be an optimizer over the model's parameters, e\.g\. "
                                        rf"optimizer=nablanet\.optim\.Adam\(model\.parameters\(\), lr=1e-3\); {message}"):
        fit(model, X_LINE, Y_LINE, loss="mse", optimizer=optimizer, epochs=1, progress=False)


def test_an_optimizer_built_without_parameters_is_refused():
    model = _line_model()
    with pytest.raises(ValueError, match=r"Adam was built without parameters .* Adam\(model\.parameters\(\), \.\.\.\)"):
        fit(model, X_LINE, Y_LINE, loss="mse", optimizer=Adam(lr=0.1), epochs=1, progress=False)


def test_a_plain_function_as_the_model_is_a_type_error_naming_it():
    model = _line_model()

    def linear(X):
        return X @ np.ones((2, 1))

    expected = r"model must be a nablanet\.nn\.Module .* got the function .*linear: a plain function has no parameters"
    with pytest.raises(TypeError, match=expected):
        fit(linear, X_LINE, Y_LINE, loss="mse", optimizer=SGD(model.parameters(), lr=0.1), epochs=1, progress=False)
    with pytest.raises(TypeError, match=expected):
        predict(linear, X_LINE)
    with pytest.raises(TypeError, match=expected):
        evaluate(linear, X_LINE, Y_LINE, "mse")
    with pytest.raises(TypeError, match="model must be a nablanet.nn.Module .* got an object of type int$"):
        fit(3, X_LINE, Y_LINE, loss="mse", optimizer=SGD(model.parameters(), lr=0.1), epochs=1, progress=False)


# --- L-BFGS -------------------------------------------------------------------------------------------

X_CURVE = np.linspace(-1.0, 1.0, 40)[:, None]
Y_CURVE = np.sin(2.0 * X_CURVE[:, 0])


def _curve_model():
    return nn.Sequential(nn.Dense(1, 8, activation="tanh", rng=0, dtype=np.float64),
                         nn.Dense(8, 1, rng=1, dtype=np.float64))


def test_lbfgs_in_fit_reaches_a_low_loss_and_matches_driving_it_by_hand():
    model = _curve_model()
    initial_loss = evaluate(model, X_CURVE, Y_CURVE, "mse")["loss"]
    history = fit(model, X_CURVE, Y_CURVE, loss="mse", optimizer=LBFGS(model.parameters()), epochs=5, progress=False)

    by_hand = _curve_model()
    optimizer = LBFGS(by_hand.parameters())
    targets = Y_CURVE[:, None]

    def closure():
        loss = mse(by_hand(X_CURVE), targets)
        loss.backward()
        return loss

    costs_after = [optimizer.step(closure) for _ in range(5)]
    for ours, theirs in zip(model.parameters(), by_hand.parameters()):
        np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-12, atol=1e-15)
    # An epoch's loss is the first evaluation of its step, at the weights it started from (torch's
    # LBFGS.step returns the same): the initial loss, then the cost each earlier step ended at.
    assert history["loss"][0] == pytest.approx(initial_loss, rel=1e-12)
    np.testing.assert_allclose(history["loss"][1:], costs_after[:-1], rtol=1e-12)
    final = evaluate(model, X_CURVE, Y_CURVE, "mse")["loss"]
    assert final == pytest.approx(costs_after[-1], rel=1e-12)
    assert final < 1e-4 < initial_loss / 1e3, (initial_loss, final)
    assert history.params["batch_size"] is None and history.params["steps_per_epoch"] == 1


def test_lbfgs_in_fit_has_validation_callbacks_and_penalties_as_other_optimizers():
    rng = np.random.default_rng(0)
    X_val = rng.uniform(-1.0, 1.0, (15, 1))
    y_val = np.sin(2.0 * X_val[:, 0])
    model = _curve_model()
    seen = {"batches": [], "epochs": []}
    recorder = LambdaCallback(on_batch_end=lambda run, batch, logs: seen["batches"].append((batch, logs["size"])),
                              on_epoch_end=lambda run, epoch, logs: seen["epochs"].append(epoch))
    stopper = EarlyStopping("val_loss", min_delta=1e-3, patience=1)
    history = fit(model, X_CURVE, Y_CURVE, loss="mse", optimizer=LBFGS(model.parameters()), epochs=50,
                  validation_data=(X_val, y_val), callbacks=[recorder, stopper], l2=1e-4, progress=False)
    epochs = len(history)
    assert 2 <= epochs < 50, "EarlyStopping ends an L-BFGS run as any other"
    assert seen["epochs"] == list(range(epochs))
    assert seen["batches"] == [(0, len(X_CURVE))] * epochs, "one batch of all rows per epoch"
    assert history["val_loss"][-1] == pytest.approx(evaluate(model, X_val, y_val, "mse")["loss"], rel=1e-12)
    assert all(penalty > 0 for penalty in history["penalty"])
    assert history["lr"] == [1.0] * epochs


def test_lbfgs_ignores_a_batch_size_it_was_given_with_a_warning_and_the_default_silently():
    def run(**batch):
        model = _curve_model()
        history = fit(model, X_CURVE, Y_CURVE, loss="mse", optimizer=LBFGS(model.parameters(), max_iter=5), epochs=2,
                      progress=False, **batch)
        return history["loss"], [p.data.copy() for p in model.parameters()]

    reference = run(batch_size=None)
    with pytest.warns(UserWarning, match=r"LBFGS steps on the whole training set \(a closure over all 40 rows per "
                                         r"epoch\); batch_size=8 is ignored: pass batch_size=None"):
        given = run(batch_size=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        default = run()
        at_least_all = run(batch_size=40)
    for losses, parameters in (given, default, at_least_all):
        assert losses == reference[0]
        for ours, theirs in zip(parameters, reference[1]):
            np.testing.assert_array_equal(ours, theirs)
