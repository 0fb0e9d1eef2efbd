"""Callbacks: hook order, stopping from a callback, early stopping (patience, min_delta, restore, reference, resume),
the learning-rate callbacks, progress bar."""

import math

import numpy as np
import pytest

import nablanet.nn as nn
from nablanet.optim import SGD, Adam
from nablanet.train import (
    Callback,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ProgressBar,
    ReduceLROnPlateau,
    fit,
)


def _regression_data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 0.5], dtype=np.float32))[:, None]
    return X, y


def _linear_model(seed=0):
    return nn.Sequential(nn.Dense(3, 1, rng=seed))


class Recorder(Callback):
    """Writes every hook call into a shared list as (name, hook, arguments)."""

    def __init__(self, name, events):
        self.name, self.events = name, events

    def on_train_begin(self, run):
        self.events.append((self.name, "train_begin"))

    def on_epoch_begin(self, run, epoch):
        self.events.append((self.name, "epoch_begin", epoch))

    def on_batch_end(self, run, batch, logs):
        self.events.append((self.name, "batch_end", batch))

    def on_epoch_end(self, run, epoch, logs):
        self.events.append((self.name, "epoch_end", epoch))

    def on_train_end(self, run):
        self.events.append((self.name, "train_end"))


def test_hooks_run_in_order_and_callbacks_in_the_order_given():
    X, y = _regression_data(n=10)
    model = _linear_model()
    events = []
    fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.01), epochs=2, batch_size=4,
        callbacks=[Recorder("a", events), Recorder("b", events)], seed=0, progress=False)
    expected = [("train_begin",)]
    for epoch in range(2):
        expected.append(("epoch_begin", epoch))
        expected.extend(("batch_end", batch) for batch in range(3))  # 10 rows in batches of 4: 3 batches
        expected.append(("epoch_end", epoch))
    expected.append(("train_end",))
    expected_events = [(name, *hook) for hook in expected for name in ("a", "b")]
    assert events == expected_events


def test_logs_given_to_the_hooks():
    X, y = _regression_data(n=10)
    model = _linear_model()
    batch_logs, epoch_logs = [], []
    recorder = LambdaCallback(on_batch_end=lambda run, batch, logs: batch_logs.append(dict(logs)),
                              on_epoch_end=lambda run, epoch, logs: epoch_logs.append(dict(logs)))
    history = fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.01), epochs=1, batch_size=4,
                  l2=0.1, callbacks=[recorder], seed=0, progress=False)
    assert [logs["size"] for logs in batch_logs] == [4, 4, 2]
    for logs in batch_logs:
        assert logs["loss"] == pytest.approx(logs["data_loss"] + logs["penalty"])
    # The epoch's loss is the batch losses weighted by batch size.
    weighted = sum(logs["loss"] * logs["size"] for logs in batch_logs) / 10
    assert history["loss"][0] == pytest.approx(weighted)
    assert epoch_logs == [{key: values[0] for key, values in history.history.items()}]


def test_a_callback_can_stop_training_mid_epoch():
    X, y = _regression_data(n=10)
    model = _linear_model()
    events = []

    def stop_after_second_batch(run, batch, logs):
        if batch == 1:
            run.stop_training = True

    history = fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.01), epochs=5, batch_size=4,
                  callbacks=[LambdaCallback(on_batch_end=stop_after_second_batch), Recorder("r", events)],
                  seed=0, progress=False)
    assert history.epoch == [0]
    assert [e[1:] for e in events] == [("train_begin",), ("epoch_begin", 0), ("batch_end", 0), ("batch_end", 1),
                                       ("epoch_end", 0), ("train_end",)]


class _StubModel:
    """Just enough of a Module for EarlyStopping: a state that can be saved and loaded."""

    def __init__(self):
        self.value = 0

    def state_dict(self):
        return {"value": np.array(self.value)}

    def load_state_dict(self, state):
        self.value = int(state["value"])


class _StubOptimizer:
    def __init__(self, lr):
        self.lr = lr


class _StubRun:
    def __init__(self, lr=0.1):
        self.model = _StubModel()
        self.optimizer = _StubOptimizer(lr)
        self.stop_training = False


def _drive(stopper, values, key="val_loss", run=None, rates=None):
    """Feed EarlyStopping a sequence of monitored values; the stub model's state is the epoch number.

    ``rates``, if a list, receives the stub optimizer's learning rate after each epoch.
    """
    run = run or _StubRun()
    stopper.on_train_begin(run)
    for epoch, value in enumerate(values):
        run.model.value = epoch
        stopper.on_epoch_end(run, epoch, {key: value})
        if rates is not None:
            rates.append(run.optimizer.lr)
        if run.stop_training:
            break
    stopper.on_train_end(run)
    return run


def test_early_stopping_waits_patience_epochs_without_improvement():
    stopper = EarlyStopping("val_loss", patience=2)
    _drive(stopper, [5.0, 4.0, 4.5, 4.2, 3.0, 2.0])
    # best 4.0 at epoch 1; epochs 2 and 3 do not improve: stop after epoch 3.
    assert (stopper.best, stopper.best_epoch, stopper.stopped_epoch) == (4.0, 1, 3)


def test_early_stopping_patience_zero_stops_at_the_first_non_improvement():
    stopper = EarlyStopping("loss", patience=0)
    _drive(stopper, [3.0, 2.0, 2.0, 1.0], key="loss")
    assert stopper.stopped_epoch == 2


def test_early_stopping_min_delta_and_mode_max():
    stopper = EarlyStopping("val_accuracy", patience=1, min_delta=0.01)
    assert stopper.mode == "max"
    # 0.905 is not > 0.9 + 0.01: no improvement, and with patience 1 training stops there.
    _drive(stopper, [0.8, 0.9, 0.905, 0.99], key="val_accuracy")
    assert (stopper.best, stopper.best_epoch, stopper.stopped_epoch) == (0.9, 1, 2)


def test_early_stopping_nan_is_never_an_improvement():
    stopper = EarlyStopping("val_loss", patience=1)
    _drive(stopper, [1.0, float("nan"), 0.5])
    assert stopper.stopped_epoch == 1 and stopper.best == 1.0


def test_early_stopping_restore_best_weights_on_a_stub():
    stopper = EarlyStopping("val_loss", patience=3, restore_best_weights=True)
    run = _drive(stopper, [3.0, 1.0, 2.0, 2.5, 2.2, 0.1])
    assert stopper.stopped_epoch == 4
    assert run.model.value == 1  # the state saved at the best epoch


def test_early_stopping_restores_the_best_weights_in_fit():
    X, y = _regression_data(n=40)
    model = _linear_model()
    weights_after = []
    record = LambdaCallback(on_epoch_end=lambda run, epoch, logs: weights_after.append(run.model.state_dict()))
    stopper = EarlyStopping("val_loss", patience=2, restore_best_weights=True)
    # Validating against the negated targets: the better the fit to y, the worse val_loss, so the
    # best epoch is the first and training stops after epoch 0 + patience.
    history = fit(model, X, y, loss="mse", optimizer=Adam(model.parameters(), lr=0.05), epochs=50, batch_size=8,
                  validation_data=(X, -y), callbacks=[record, stopper], seed=0, progress=False)
    assert history.epoch == [0, 1, 2]
    assert (stopper.best_epoch, stopper.stopped_epoch) == (0, 2)
    assert history["val_loss"][1] > history["val_loss"][0]
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, weights_after[0][name])
        assert not np.array_equal(value, weights_after[-1][name])


def test_early_stopping_on_a_missing_key_says_what_is_there():
    X, y = _regression_data()
    model = _linear_model()
    with pytest.raises(KeyError, match="validation_data"):
        fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.01), epochs=2,
            callbacks=[EarlyStopping("val_loss")], progress=False)


def test_early_stopping_checks_its_settings():
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="min_delta"):
        EarlyStopping(min_delta=-0.1)
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")


def test_reference_best_compares_with_the_best_value_of_any_epoch():
    # Gains of 1.2, then 0.6 an epoch, with min_delta 1: compared with the last improvement (Keras), two
    # small gains add up to one (2.6 beats 3.8 by 1.2); compared with the best epoch so far they never do.
    values = [5.0, 3.8, 3.2, 2.6, 2.0, 1.4]
    keras = EarlyStopping("loss", patience=2, min_delta=1.0)
    _drive(keras, values, key="loss")
    assert keras.stopped_epoch is None and (keras.best, keras.best_epoch) == (1.4, 5)
    scikit_learn = EarlyStopping("loss", patience=2, min_delta=1.0, reference="best")
    _drive(scikit_learn, values, key="loss")
    assert (scikit_learn.stopped_epoch, scikit_learn.best, scikit_learn.best_epoch) == (3, 2.6, 3)


def test_reference_best_counts_a_gain_of_exactly_min_delta():
    # scikit-learn's rule: an epoch at least tol better improves, so with tol = 0 an equal value does.
    stopper = EarlyStopping("loss", patience=1, reference="best")
    _drive(stopper, [2.0, 2.0, 2.0], key="loss")
    assert stopper.stopped_epoch is None and stopper.best_epoch == 0
    keras = EarlyStopping("loss", patience=1)
    _drive(keras, [2.0, 2.0, 2.0], key="loss")
    assert keras.stopped_epoch == 1


def test_reference_best_restores_the_weights_of_the_best_epoch():
    stopper = EarlyStopping("val_accuracy", patience=2, min_delta=0.1, reference="best", restore_best_weights=True)
    run = _drive(stopper, [0.5, 0.55, 0.58, 0.3], key="val_accuracy")
    # 0.55 and 0.58 are new bests but not 0.1 better: stopped after epoch 2, the weights of epoch 2 back.
    assert (stopper.stopped_epoch, stopper.best) == (2, 0.58) and run.model.value == 2


def test_a_function_of_the_logs_as_monitor_and_patience_inf():
    stopper = EarlyStopping(lambda logs: logs["a"] + logs["b"], patience=math.inf)
    assert stopper.mode == "min"
    run = _StubRun()
    stopper.on_train_begin(run)
    for epoch, (a, b) in enumerate([(1.0, 1.0), (2.0, 2.0), (3.0, 3.0), (4.0, 4.0)]):
        stopper.on_epoch_end(run, epoch, {"a": a, "b": b})
    assert not run.stop_training and (stopper.best, stopper.wait) == (2.0, 3)


def test_resume_continues_an_earlier_runs_count_and_best_weights():
    first = EarlyStopping("loss", patience=3, restore_best_weights=True)
    _drive(first, [3.0, 1.0, 2.0, 2.0], key="loss")
    assert (first.best, first.wait, first.stopped_epoch) == (1.0, 2, None)
    second = EarlyStopping("loss", patience=3, restore_best_weights=True, resume=first)
    run = _drive(second, [0.5, 0.7], key="loss")
    assert (second.best, second.wait, second.stopped_epoch) == (0.5, 1, None) and run.model.value == 0
    # Two epochs without improvement carried over: the first of this run is the third, and it stops.
    third = EarlyStopping("loss", patience=3, restore_best_weights=True, resume=first)
    run = _drive(third, [4.0, 0.1], key="loss")
    assert (third.stopped_epoch, third.wait) == (0, 3)
    assert run.model.value == 1  # the best weights of the first run: its epoch 1
    with pytest.raises(ValueError, match="resume watched a quantity to minimize"):
        EarlyStopping("val_accuracy", resume=first)


def test_early_stopping_checks_reference():
    with pytest.raises(ValueError, match="reference"):
        EarlyStopping(reference="previous")


def test_reduce_lr_on_plateau_lowers_the_rate_then_stops_at_min_lr():
    # scikit-learn's 'adaptive' rate: not clipped at min_lr, and a stop at the plateau that finds it below.
    reduce = ReduceLROnPlateau("loss", factor=0.2, patience=2, min_lr=0.01, stop_at_min_lr=True,
                               clip_to_min_lr=False)
    rates = []
    _drive(reduce, [1.0] * 12, key="loss", run=_StubRun(lr=0.1), rates=rates)
    # Epoch 0 improves (on inf), then every second epoch is a plateau: 0.1 -> 0.02 -> 0.004 (below min_lr,
    # not clipped to it) -> stop.
    assert rates == pytest.approx([0.1, 0.1, 0.02, 0.02, 0.004, 0.004, 0.004])
    assert rates[4] == 0.1 / 5 / 5  # divided by 5, bit for bit, as scikit-learn's 'adaptive' rate
    assert reduce.stopped_epoch == 6


def test_reduce_lr_on_plateau_clips_the_rate_at_min_lr_as_keras():
    reduce = ReduceLROnPlateau("loss", factor=0.2, patience=2, min_lr=0.01)
    rates = []
    run = _drive(reduce, [1.0] * 8, key="loss", run=_StubRun(lr=0.1), rates=rates)
    # Keras and PyTorch: new lr = max(factor lr, min_lr), so 0.1 -> 0.02 -> 0.01 (not 0.004), then no change.
    assert rates == pytest.approx([0.1, 0.1, 0.02, 0.02, 0.01, 0.01, 0.01, 0.01])
    assert rates[-1] == 0.01 and not run.stop_training


def test_reduce_lr_on_plateau_cooldown_rests_that_many_epochs():
    reduce = ReduceLROnPlateau("loss", factor=0.5, patience=1, cooldown=2)
    rates = []
    _drive(reduce, [1.0] * 9, key="loss", run=_StubRun(lr=1.0), rates=rates)
    # Epoch 0 improves; epoch 1 is a plateau (patience 1): halved; epochs 2 and 3 cool down; epoch 4 is the
    # next plateau, then 5 and 6 cool down, and 7 halves again.
    assert rates == [1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125, 0.125]


def test_reduce_lr_on_plateau_a_best_in_the_cooldown_still_counts():
    reduce = ReduceLROnPlateau("loss", factor=0.5, patience=1, cooldown=1)
    rates = []
    _drive(reduce, [3.0, 3.0, 2.0, 2.5, 2.5], key="loss", run=_StubRun(lr=1.0), rates=rates)
    # Epoch 1 halves; epoch 2 (cooling down) sets the new best 2.0, so 2.5 at epoch 3 is a plateau.
    assert reduce.best == 2.0 and reduce.best_epoch == 2
    assert rates == [1.0, 0.5, 0.5, 0.25, 0.25]
    with pytest.raises(ValueError, match="cooldown"):
        ReduceLROnPlateau(cooldown=-1)


def test_reduce_lr_on_plateau_without_stopping_and_with_improvements():
    reduce = ReduceLROnPlateau("loss", factor=0.5, patience=1, min_lr=0.2)
    rates = []
    run = _drive(reduce, [3.0, 2.0, 2.5, 1.0, 1.5, 1.6, 1.7], key="loss", run=_StubRun(lr=1.0), rates=rates)
    # 0.25 is lowered to max(0.125, min_lr) = 0.2, which is not above min_lr: no further change, no stop.
    assert rates == [1.0, 1.0, 0.5, 0.5, 0.25, 0.2, 0.2]
    assert not run.stop_training and reduce.stopped_epoch is None


def test_reduce_lr_on_plateau_in_fit_and_its_checks():
    X, y = _regression_data(n=40)
    model = _linear_model()
    optimizer = SGD(model.parameters(), lr=0.05)
    # Validating against the negated targets: val_loss gets worse every epoch.
    fit(model, X, y, loss="mse", optimizer=optimizer, epochs=4, batch_size=8, validation_data=(X, -y),
        callbacks=[ReduceLROnPlateau(factor=0.5, patience=1)], seed=0, progress=False)
    assert optimizer.lr == pytest.approx(0.05 / 2 ** 3)
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.0)
    with pytest.raises(ValueError, match="min_lr"):
        ReduceLROnPlateau(min_lr=-1.0)
    with pytest.raises(TypeError, match="float lr"):
        from nablanet.optim import StepDecay

        fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=StepDecay(0.1, step_size=2)), epochs=1,
            callbacks=[ReduceLROnPlateau("loss")], progress=False)


def test_learning_rate_scheduler_sets_each_epochs_rate_before_it_as_keras():
    X, y = _regression_data()
    model = _linear_model()
    optimizer = SGD(model.parameters(), lr=0.1)
    seen = []
    spy = LambdaCallback(on_batch_end=lambda run, batch, logs: seen.append((run.epoch, run.optimizer.lr)))
    history = fit(model, X, y, loss="mse", optimizer=optimizer, epochs=3, batch_size=4,
                  callbacks=[LearningRateScheduler(lambda epoch: 0.1 / (epoch + 2)), spy], seed=0, progress=False)
    # Epoch e runs at schedule(e) = 0.1 / (e + 2), from its first batch (12 rows, batches of 4: 3 per epoch).
    assert seen == [(epoch, 0.1 / (epoch + 2)) for epoch in range(3) for _ in range(3)]
    assert history["lr"] == [0.1 / 2, 0.1 / 3, 0.1 / 4]
    assert optimizer.lr == 0.1 / 4  # the last epoch's rate stays


def test_learning_rate_scheduler_of_the_epoch_and_the_current_rate():
    X, y = _regression_data()
    model = _linear_model()
    optimizer = SGD(model.parameters(), lr=0.1)
    # Keras' documented example: keep the rate for the first epochs, then lower it each epoch.
    schedule = LearningRateScheduler(lambda epoch, lr: lr if epoch < 2 else lr / 2)
    history = fit(model, X, y, loss="mse", optimizer=optimizer, epochs=4, batch_size=4, callbacks=[schedule],
                  seed=0, progress=False)
    assert history["lr"] == [0.1, 0.1, 0.05, 0.025]


def test_learning_rate_scheduler_checks_its_function_and_its_rates():
    X, y = _regression_data()
    model = _linear_model()
    with pytest.raises(TypeError, match="schedule must be a function"):
        LearningRateScheduler(0.1)
    with pytest.raises(ValueError, match="returned -0.1 for epoch 0; a learning rate must be positive"):
        fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.1), epochs=1,
            callbacks=[LearningRateScheduler(lambda epoch: -0.1)], progress=False)
    with pytest.raises(TypeError, match="returned None for epoch 0"):
        fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.1), epochs=1,
            callbacks=[LearningRateScheduler(lambda epoch: None)], progress=False)
    from nablanet.optim import StepDecay

    with pytest.raises(TypeError, match="LearningRateScheduler needs an optimizer with a float lr"):
        fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=StepDecay(0.1, step_size=2)), epochs=1,
            callbacks=[LearningRateScheduler(lambda epoch: 0.1)], progress=False)


def test_progress_false_prints_nothing(capsys):
    X, y = _regression_data()
    model = _linear_model()
    fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.01), epochs=3, batch_size=4,
        validation_split=0.25, seed=0, progress=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_true_draws_one_tqdm_bar_on_stderr(capsys):
    X, y = _regression_data()
    model = _linear_model()
    fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.01), epochs=2, batch_size=4,
        seed=0, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "epoch 2/2" in captured.err and "6/6" in captured.err and "loss=" in captured.err


def test_the_progress_bar_comes_from_tqdm_auto_so_that_jupyter_draws_a_widget(monkeypatch):
    import tqdm.auto
    from tqdm import tqdm as text_bar

    made = []

    class NotebookBar(text_bar):  # what tqdm.auto gives inside Jupyter (tqdm.notebook.tqdm)
        def __init__(self, *args, **kwargs):
            made.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(tqdm.auto, "tqdm", NotebookBar)
    X, y = _regression_data()
    model = _linear_model()
    fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.01), epochs=2, batch_size=4, seed=0,
        progress=True)
    assert len(made) == 1 and made[0].n == 6


def test_progress_bar_per_epoch(capsys):
    X, y = _regression_data()
    model = _linear_model()
    fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.01), epochs=2, batch_size=4,
        callbacks=[ProgressBar(per="epoch")], seed=0, progress=False)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err and "3/3" in err
    with pytest.raises(ValueError, match="per"):
        ProgressBar(per="batch")


def test_callbacks_must_be_callback_instances():
    X, y = _regression_data()
    model = _linear_model()
    with pytest.raises(TypeError, match="Callback"):
        fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.01), epochs=1,
            callbacks=[lambda *args: None], progress=False)
