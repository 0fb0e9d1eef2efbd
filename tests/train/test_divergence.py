"""fit's divergence guard: losses far above their best warn, then stop on the best weights; NaN stops on them too.

The lr=1e3 runs are issue 12's: Adam, RMSprop and Adagrad used to finish "normally" with the loss grown by
eleven orders of magnitude, and SGD, when it stopped on an infinite loss, kept weights whose loss was 1e17.
"""

import warnings

import numpy as np
import pytest

import nablanet.nn as nn
from nablanet.nn.functional import mse
from nablanet.optim import SGD, Adagrad, Adam, RMSprop
from nablanet.train import DivergenceWarning, LambdaCallback, TrainingDivergedError, evaluate, fit


def _regression(n=100, seed=0):
    """Targets of scale 20 (initial mse about 680) for a small ReLU network."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = X @ rng.normal(scale=10.0, size=5) + rng.normal(size=n)
    model = nn.Sequential(nn.Dense(5, 16, activation="relu", rng=0), nn.Dense(16, 1, rng=1))
    return model, X, y


def _assert_weights(model, expected: dict):
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, expected[name], err_msg=name)


@pytest.fixture(autouse=True)
def _numpy_overflow_is_expected():
    # The runs below overflow on purpose; NumPy's notices of it would only repeat what fit says.
    with np.errstate(over="ignore", invalid="ignore"):
        yield


# --- the runs at lr=1e3 ----------------------------------------------------------------------

@pytest.mark.parametrize("optimizer", [Adam, RMSprop, Adagrad])
def test_adaptive_optimizers_at_lr_1e3_warn_then_stop_on_the_best_weights(optimizer):
    model, X, y = _regression()
    initial = model.state_dict()
    initial_loss = evaluate(model, X, y, "mse")["loss"]
    with pytest.warns(DivergenceWarning, match=r"training loss .* at epoch 1 is more than 100 times the lowest, "
                                               rf"{initial_loss:.4g} at epoch 0") as warned:
        with pytest.raises(TrainingDivergedError) as caught:
            fit(model, X, y, loss="mse", optimizer=optimizer(model.parameters(), lr=1e3), epochs=30, batch_size=None,
                progress=False)
    error = caught.value
    assert [w.message.epoch for w in warned if w.category is DivergenceWarning] == [1]
    assert (error.epoch, error.batch, error.best_epoch) == (2, None, 0)
    # Full batch: epoch 0's loss is that of the initial weights, which are the best and are restored.
    assert error.best_loss == pytest.approx(initial_loss, rel=1e-6)
    assert error.history["loss"][0] == error.best_loss and len(error.history) == 3
    assert error.loss > 1e9 * initial_loss, error.history["loss"]
    _assert_weights(model, initial)
    message = str(error)
    assert "since epoch 1" in message
    assert f"restored to those of its best epoch, 0 (loss {initial_loss:.4g}" in message
    assert "fit's divergence_factor=None turns this check off" in message and "smaller learning rate (now 1000)" in message


def test_sgd_at_lr_1e3_stops_on_the_best_weights_not_the_last_finite_ones():
    model, X, y = _regression()
    initial = model.state_dict()
    initial_loss = evaluate(model, X, y, "mse")["loss"]
    with pytest.warns(DivergenceWarning, match="at epoch 1 is more than 100 times"):
        with pytest.raises(TrainingDivergedError, match=r"the loss became inf at epoch 2, batch 0 .* restored to "
                                                         r"those of its best epoch, 0") as caught:
            fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=1e3), epochs=30, batch_size=None,
                progress=False)
    assert caught.value.best_epoch == 0 and caught.value.history["loss"][1] > 1e15
    # The last finite weights, those before the step that overflowed, had a loss above 1e15.
    assert evaluate(model, X, y, "mse")["loss"] == pytest.approx(initial_loss, rel=1e-6)
    _assert_weights(model, initial)


def test_sgd_at_lr_1e3_diverging_within_the_first_epoch_goes_back_to_the_initial_weights():
    model, X, y = _regression()
    initial = model.state_dict()
    with pytest.raises(TrainingDivergedError, match=r"loss became inf at epoch 0, batch 2 .* restored to their "
                                                     r"initial values: the loss .* before the optimizer step that led "
                                                     r"to it was more than 100 times the first batch's") as caught:
        fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=1e3), epochs=30, batch_size=20, seed=0,
            progress=False)
    assert caught.value.best_epoch is None and caught.value.best_loss is None
    _assert_weights(model, initial)


@pytest.mark.parametrize("optimizer", [Adam, RMSprop, Adagrad, SGD])
def test_with_validation_data_the_initial_weights_validation_loss_is_the_first_reference(optimizer):
    # Minibatches: these runs diverge within their first epoch, which validation before it shows.
    model, X, y = _regression()
    initial = model.state_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)
        with pytest.raises(TrainingDivergedError, match=r"restored to their initial values, the best \(val_loss "
                                                         r".*, measured before the first epoch\)") as caught:
            fit(model, X, y, loss="mse", optimizer=optimizer(model.parameters(), lr=1e3), epochs=30, batch_size=20,
                validation_split=0.2, seed=0, progress=False)
    assert caught.value.best_epoch == -1 and caught.value.epoch <= 1
    _assert_weights(model, initial)


def test_divergence_factor_none_turns_the_judgement_off():
    model, X, y = _regression()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        history = fit(model, X, y, loss="mse", optimizer=Adam(model.parameters(), lr=1e3), epochs=30, batch_size=None,
                      divergence_factor=None, progress=False)
    assert len(history) == 30 and history["loss"][-1] > 1e6 * history["loss"][0]


@pytest.mark.parametrize("factor, error", [(1, ValueError), (0.5, ValueError), (float("inf"), ValueError),
                                           (float("nan"), ValueError), ("10", TypeError), (True, TypeError)])
def test_a_bad_divergence_factor_is_refused(factor, error):
    model, X, y = _regression(n=10)
    with pytest.raises(error, match="divergence_factor must be a number greater than 1 or None"):
        fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.01), epochs=1, divergence_factor=factor,
            progress=False)


# --- the rule, on losses made to jump --------------------------------------------------------------------

def _spiking_fit(spikes: dict, *, epochs: int, states: list, model=None):
    """Full-batch SGD on a line, with ``spikes[epoch]`` added to that epoch's loss (a constant: no gradient).

    ``states[k]``: the weights epoch k started from. Returns the model and the History.
    """
    X = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5], [-2.0, 1.0]])
    y = X @ np.array([1.0, -1.0]) + 0.5
    model = model or _line_model()
    epoch = [0]

    def spiking_mse(predictions, targets):
        return mse(predictions, targets) + spikes.get(epoch[0], 0.0)

    def begin(run, k):
        epoch[0] = k
        states.append(run.model.state_dict())

    history = fit(model, X, y, loss=spiking_mse, optimizer=SGD(model.parameters(), lr=0.08), epochs=epochs,
                  batch_size=None, callbacks=[LambdaCallback(on_epoch_begin=begin)], progress=False)
    return model, history


def _line_model():
    return nn.Sequential(nn.Dense(2, 1, rng=0, dtype=np.float64))


def test_one_diverging_epoch_warns_and_training_goes_on():
    states = []
    with pytest.warns(DivergenceWarning, match=r"at epoch 5 is more than 100 times the lowest, .* at epoch 4 "
                                               r"\(divergence_factor=100\): training is diverging; fit stops after "
                                               r"the next epoch") as warned:
        _, history = _spiking_fit({5: 1e6}, epochs=10, states=states)
    assert len([w for w in warned if w.category is DivergenceWarning]) == 1
    assert len(history) == 10 and history["loss"][5] > 1e6 > history["loss"][6]


def test_two_diverging_epochs_stop_on_the_weights_the_best_epoch_started_from():
    states, model = [], _line_model()
    with pytest.warns(DivergenceWarning, match="at epoch 5"):
        with pytest.raises(TrainingDivergedError, match=r"at epoch 6 is more than 100 times the lowest, .* at epoch 4 "
                                                         r".*, as it has been since epoch 5; .* best epoch, 4 \(loss "
                                                         r".*; the weights that epoch started from\)") as caught:
            _spiking_fit({5: 1e6, 6: 1e6}, epochs=10, states=states, model=model)
    error = caught.value
    assert (error.epoch, error.batch, error.best_epoch, len(error.history)) == (6, None, 4, 7)
    assert error.best_loss == error.history["loss"][4] == min(error.history["loss"])
    # Full batch: epoch 4's loss is exactly that of the weights it started from.
    _assert_weights(model, states[4])


def test_a_diverging_last_epoch_stops_without_a_warning_first():
    states, model = [], _line_model()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        with pytest.raises(TrainingDivergedError, match="at epoch 5 is more than 100 times") as caught:
            _spiking_fit({5: 1e6}, epochs=6, states=states, model=model)
    assert caught.value.best_epoch == 4
    _assert_weights(model, states[4])


def test_a_loss_far_above_the_best_is_let_through_below_the_first_epochs_loss_and_stopped_above_it():
    first_loss = _spiking_fit({}, epochs=1, states=[])[1]["loss"][0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        _, history = _spiking_fit({30: first_loss / 2, 31: first_loss / 2}, epochs=35, states=[])
    best_before = min(history["loss"][:30])
    assert min(history["loss"][30:32]) > 100 * best_before and max(history["loss"][30:32]) < first_loss
    assert len(history) == 35
    with pytest.warns(DivergenceWarning, match="at epoch 30"):
        with pytest.raises(TrainingDivergedError, match="at epoch 31 is more than 100 times"):
            _spiking_fit({30: 2 * first_loss, 31: 2 * first_loss}, epochs=35, states=[])


def test_normal_training_never_triggers_it():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        # Noisy SGD on small batches: the loss goes up in about half the epochs.
        rng = np.random.default_rng(0)
        X = rng.normal(size=(200, 3))
        y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=200)
        model = nn.Sequential(nn.Dense(3, 1, rng=0))
        history = fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.1), epochs=30, batch_size=4,
                      seed=0, progress=False)
        assert len(history) == 30 and np.sum(np.diff(history["loss"]) > 0) >= 10
        # Adam at lr=1 on a separable problem: the cross-entropy jumps from 8e-4 to 0.13 (over 100 times its
        # best) and goes on to 1e-5. Below the first epoch's loss, that is a spike, not divergence.
        X = np.random.default_rng(0).normal(size=(64, 2))
        labels = (X[:, 0] + X[:, 1] > 0).astype(int)
        model = nn.Sequential(nn.Dense(2, 16, activation="relu", rng=0), nn.Dense(16, 2, rng=1))
        history = fit(model, X, labels, loss="cross_entropy", optimizer=Adam(model.parameters(), lr=1.0), epochs=40,
                      batch_size=16, seed=0, progress=False)
    losses = np.array(history["loss"])
    assert len(losses) == 40 and np.max(losses[1:] / np.minimum.accumulate(losses)[:-1]) > 100
    assert losses[-1] < 1e-4
