"""The callbacks Keras users reach for: ModelCheckpoint (best and last, files that load), CSVLogger (a row per
epoch, appended, on disk as each epoch ends), TerminateOnNaN (a stop without an error), and History.to_csv /
to_frame."""

import csv
import json
import math
import sys

import numpy as np
import pytest

import nablanet.nn as nn
from nablanet.io import load, load_checkpoint
from nablanet.nn.functional import mse
from nablanet.optim import SGD, Adam
from nablanet.train import (
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    ModelCheckpoint,
    TerminateOnNaN,
    TrainingDivergedError,
    fit,
)

EPOCHS = 8


def _regression_data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 0.5], dtype=np.float32))[:, None]
    return X, y


def _model():
    return nn.Sequential(nn.Dense(3, 1, rng=0))


def _weights_after_each_epoch(states):
    """A callback that keeps a copy of the model's state after every epoch."""
    return LambdaCallback(on_epoch_end=lambda run, epoch, logs: states.append(run.model.state_dict()))


def _fit_with_a_best_epoch_in_the_middle(callbacks):
    """A run whose val_loss falls, then rises: validated on half the targets, which training overshoots."""
    X, y = _regression_data()
    model = _model()
    states = []
    history = fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.05), epochs=EPOCHS, batch_size=8,
                  validation_data=(X, 0.5 * y), callbacks=[_weights_after_each_epoch(states), *callbacks], seed=0,
                  progress=False)
    best = int(np.argmin(history["val_loss"]))
    assert 0 < best < EPOCHS - 1, history["val_loss"]  # the run this test needs
    return model, history, states, best


def _assert_same_state(model, state):
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, state[name], err_msg=name)


# --- ModelCheckpoint ----------------------------------------------------------------------------------------

def test_checkpoints_of_the_best_and_the_last_epoch_load_back(tmp_path):
    best = ModelCheckpoint(tmp_path / "best.npz", monitor="val_loss", save_best_only=True)
    last = ModelCheckpoint(tmp_path / "last.npz")
    model, history, states, best_epoch = _fit_with_a_best_epoch_in_the_middle([best, last])
    assert best.best_epoch == best_epoch and best.best == min(history["val_loss"])
    _assert_same_state(load(tmp_path / "best.npz"), states[best_epoch])
    _assert_same_state(load(tmp_path / "last.npz"), states[-1])
    _assert_same_state(load(tmp_path / "last.npz"), model.state_dict())
    # With the optimizer: a checkpoint to resume from, whose metadata names the epoch (from 0) and its logs.
    checkpoint = load_checkpoint(tmp_path / "best.npz")
    assert checkpoint.optimizer is not None and checkpoint.optimizer.lr == 0.05
    assert checkpoint.metadata["epoch"] == best_epoch
    assert checkpoint.metadata["logs"]["val_loss"] == history["val_loss"][best_epoch]
    # Written atomically by nablanet.io.save: nothing else (no temporary file) is left in the folder.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["best.npz", "last.npz"]


def test_checkpoint_file_names_from_the_epoch_and_the_logs(tmp_path):
    every = ModelCheckpoint(tmp_path / "every" / "model-{epoch:02d}.npz", include_optimizer=False)
    improving = ModelCheckpoint(str(tmp_path / "improving" / "{epoch}-{val_loss:.6f}.npz"), save_best_only=True)
    _, history, states, _ = _fit_with_a_best_epoch_in_the_middle([every, improving])
    # {epoch} counts from 1, as Keras': the first epoch's file is model-01.npz. The folders are created.
    assert sorted(path.name for path in (tmp_path / "every").iterdir()) == [f"model-{e:02d}.npz" for e in
                                                                           range(1, EPOCHS + 1)]
    _assert_same_state(load(tmp_path / "every" / "model-03.npz"), states[2])
    assert load_checkpoint(tmp_path / "every" / "model-03.npz").optimizer is None
    # save_best_only writes after each epoch that beats all before it, and only then.
    val_loss = history["val_loss"]
    new_bests = [e for e in range(EPOCHS) if val_loss[e] < min(val_loss[:e], default=math.inf)]
    assert sorted(path.name for path in (tmp_path / "improving").iterdir()) == sorted(
        f"{e + 1}-{val_loss[e]:.6f}.npz" for e in new_bests)
    assert improving.path == tmp_path / "improving" / f"{new_bests[-1] + 1}-{val_loss[new_bests[-1]]:.6f}.npz"


def test_checkpoint_in_max_mode_keeps_the_highest(tmp_path):
    checkpoint = ModelCheckpoint(tmp_path / "best.npz", monitor=lambda logs: -logs["val_loss"], mode="max",
                                 save_best_only=True)
    _, history, states, best_epoch = _fit_with_a_best_epoch_in_the_middle([checkpoint])
    assert checkpoint.best == -min(history["val_loss"]) and checkpoint.best_epoch == best_epoch
    _assert_same_state(load(tmp_path / "best.npz"), states[best_epoch])
    assert ModelCheckpoint(tmp_path / "x.npz", monitor="val_accuracy").mode == "max"


def test_checkpoint_errors_name_what_is_missing(tmp_path):
    X, y = _regression_data()
    model = _model()
    with pytest.raises(KeyError, match="ModelCheckpoint monitors 'val_loss', which this run does not record"):
        fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.01), epochs=1, progress=False,
            callbacks=[ModelCheckpoint(tmp_path / "best.npz", save_best_only=True)])
    with pytest.raises(KeyError, match="names the field 'val_accuracy', which this run does not log; the fields "
                                       "are epoch and loss, data_loss, penalty, lr"):
        fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.01), epochs=1, progress=False,
            callbacks=[ModelCheckpoint(tmp_path / "m-{val_accuracy}.npz")])
    with pytest.raises(TypeError, match="filepath must be a path"):
        ModelCheckpoint(None)
    assert list(tmp_path.iterdir()) == []


# --- CSVLogger and History.to_csv ------------------------------------------------------------------------------

def _read_csv(path, separator=","):
    with open(path, newline="") as file:
        return list(csv.reader(file, delimiter=separator))


def _expected_rows(history: History, epochs=None):
    """The History as the CSV's rows should read: epoch from 0, then each key, numbers exactly."""
    epochs = history.epoch if epochs is None else epochs
    return [[str(epoch), *(repr(float(history[key][row])) for key in history.keys())]
            for row, epoch in enumerate(epochs)]


def test_csv_logger_writes_each_epoch_as_it_ends(tmp_path):
    path = tmp_path / "logs" / "training.csv"
    rows_on_disk = []
    spy = LambdaCallback(on_epoch_end=lambda run, epoch, logs: rows_on_disk.append(len(_read_csv(path))))
    X, y = _regression_data()
    model = _model()
    history = fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.05), epochs=3, batch_size=8,
                  validation_split=0.25, callbacks=[CSVLogger(path), spy], seed=0, progress=False)
    rows = _read_csv(path)
    assert rows[0] == ["epoch", "loss", "data_loss", "penalty", "val_loss", "lr"]
    assert rows[1:] == _expected_rows(history)
    assert [float(row[4]) for row in rows[1:]] == history["val_loss"]  # read back exactly
    # The header and each epoch's row were on disk when that epoch ended (the spy runs after the logger).
    assert rows_on_disk == [2, 3, 4]


def test_csv_logger_appends_or_replaces(tmp_path):
    path = tmp_path / "training.csv"
    X, y = _regression_data()
    model = _model()

    def run(**settings):
        return fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.05), epochs=2, batch_size=8,
                   callbacks=[CSVLogger(path, **settings)], seed=0, progress=False)

    first = run()
    second = run(append=True)
    rows = _read_csv(path)
    assert rows[0] == ["epoch", "loss", "data_loss", "penalty", "lr"]
    assert rows[1:] == _expected_rows(first) + _expected_rows(second)  # one header; epochs from 0 in each run
    third = run(separator=";")  # append=False (the default) replaces the file
    assert _read_csv(path, ";")[1:] == _expected_rows(third)
    with pytest.raises(ValueError, match=r"has the columns \['epoch', 'loss', 'data_loss', 'penalty', 'lr'\], "
                                         r"this run logs \['epoch', 'loss', 'data_loss', 'penalty', 'val_loss', 'lr'\]"):
        fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.05), epochs=1, validation_split=0.25,
            callbacks=[CSVLogger(path, separator=";", append=True)], seed=0, progress=False)


def test_history_to_csv_writes_the_rows_csv_logger_writes(tmp_path):
    X, y = _regression_data()
    model = _model()
    history = fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.05), epochs=3, batch_size=8,
                  l2=0.01, callbacks=[CSVLogger(tmp_path / "logger.csv")], seed=0, progress=False)
    history.to_csv(tmp_path / "history.csv")
    assert (tmp_path / "history.csv").read_text() == (tmp_path / "logger.csv").read_text()
    rows = _read_csv(tmp_path / "history.csv")
    assert rows[0] == ["epoch", *history.keys()] and rows[1:] == _expected_rows(history)
    assert [float(row[3]) for row in rows[1:]] == history["penalty"] and history["penalty"][0] > 0


def test_history_to_csv_writes_arrays_as_json_lists(tmp_path):
    history = History()
    history.append(0, {"loss": 0.5, "confusion_matrix": np.array([[2, 0], [1, 3]])})
    history.append(1, {"loss": 0.25, "confusion_matrix": np.array([[2, 0], [0, 4]])})
    history.to_csv(tmp_path / "history.csv", separator="\t")
    rows = _read_csv(tmp_path / "history.csv", "\t")
    assert rows == [["epoch", "loss", "confusion_matrix"], ["0", "0.5", "[[2, 0], [1, 3]]"],
                    ["1", "0.25", "[[2, 0], [0, 4]]"]]
    assert json.loads(rows[2][2]) == [[2, 0], [0, 4]]


def test_history_to_frame_without_pandas_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if pandas were not installed
    history = History()
    history.append(0, {"loss": 0.5})
    with pytest.raises(ImportError, match="History.to_frame needs pandas, which is not installed"):
        history.to_frame()


def test_history_to_frame_with_pandas():
    pandas = pytest.importorskip("pandas")
    history = History()
    history.append(0, {"loss": 0.5, "val_loss": 0.75})
    history.append(1, {"loss": 0.25, "val_loss": 0.5})
    frame = history.to_frame()
    expected = pandas.DataFrame({"loss": [0.5, 0.25], "val_loss": [0.75, 0.5]}, index=pandas.Index([0, 1], name="epoch"))
    pandas.testing.assert_frame_equal(frame, expected)


# --- TerminateOnNaN ----------------------------------------------------------------------------------------------

def _loss_that_becomes_nan_at_call(n):
    """mse, but NaN at its n-th call (from 1): with 3 batches an epoch, call 5 is epoch 1, batch 1."""
    calls = []

    def loss(predictions, targets):
        calls.append(None)
        value = mse(predictions, targets)
        return value * math.nan if len(calls) == n else value

    return loss


def _diverging_fit(callbacks):
    X, y = _regression_data()
    model = _model()
    optimizer = Adam(model.parameters(), lr=0.01)
    ended = []
    callbacks = [*callbacks, LambdaCallback(on_train_end=lambda run: ended.append(True))]
    try:
        history = fit(model, X, y, loss=_loss_that_becomes_nan_at_call(5), optimizer=optimizer, epochs=4, batch_size=8,
                      callbacks=callbacks, seed=0, progress=False)
    except TrainingDivergedError as error:
        return model, error, ended
    return model, history, ended


def test_fit_alone_raises_at_a_nan_loss():
    _, error, ended = _diverging_fit([])
    assert isinstance(error, TrainingDivergedError) and (error.epoch, error.batch) == (1, 1)
    assert ended == []


def test_terminate_on_nan_ends_training_there_without_an_error():
    raised_model, error, _ = _diverging_fit([])
    terminate = TerminateOnNaN()
    with pytest.warns(RuntimeWarning, match="TerminateOnNaN ended training: training diverged: the loss became nan "
                                            "at epoch 1, batch 1"):
        model, history, ended = _diverging_fit([terminate])
    # The History of the epochs before; the parameters fit restores when it raises; on_train_end has run.
    assert isinstance(history, History) and history.epoch == [0] == error.history.epoch
    assert history.history == error.history.history
    _assert_same_state(model, raised_model.state_dict())
    assert all(np.isfinite(value).all() for value in model.state_dict().values())
    assert ended == [True]
    assert (terminate.stopped_epoch, terminate.stopped_batch) == (1, 1)
    assert isinstance(terminate.error, TrainingDivergedError) and math.isnan(terminate.error.loss)


def test_terminate_on_nan_lets_early_stopping_restore_its_best_weights():
    stopper = EarlyStopping("loss", patience=10, restore_best_weights=True)
    states = []
    with pytest.warns(RuntimeWarning, match="TerminateOnNaN"):
        model, history, _ = _diverging_fit([_weights_after_each_epoch(states), stopper, TerminateOnNaN()])
    assert stopper.best_epoch == 0
    _assert_same_state(model, states[0])
