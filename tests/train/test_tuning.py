"""OptunaPruning: each epoch's value reported at its step, the fit ended when the study's pruner says so."""

import optuna
import pytest

import nablanet
import nablanet.nn as nn
from nablanet.datasets import load_iris
from nablanet.optim import Adam
from nablanet.train import OptunaPruning

optuna.logging.set_verbosity(optuna.logging.WARNING)


def fit_iris(callback, epochs=3):
    X, y = load_iris()
    model = nn.Sequential(nn.Dense(4, 3, rng=0))
    return nablanet.fit(model, X, y, loss="cross_entropy", optimizer=Adam(model.parameters(), lr=1e-3),
                        epochs=epochs, validation_split=0.2, seed=0, callbacks=[callback], progress=False)


def test_each_epoch_is_reported_at_its_step_after_the_offset():
    study = optuna.create_study()
    trial = study.ask()
    history = fit_iris(OptunaPruning(trial, step_offset=10))
    assert study.trials[0].intermediate_values == dict(zip([10, 11, 12], history.history["val_loss"]))


def test_a_trial_worse_than_the_median_at_its_first_epoch_is_pruned():
    study = optuna.create_study(pruner=optuna.pruners.MedianPruner(n_startup_trials=1))
    done = study.ask()
    for step in range(3):
        done.report(1e-3, step)   # a trial far better than an untrained network (val_loss about 1)
    study.tell(done, 1e-3)
    trial = study.ask()
    with pytest.raises(optuna.TrialPruned, match="val_loss = .* at step 0"):
        fit_iris(OptunaPruning(trial))
    assert list(study.trials[1].intermediate_values) == [0]


def test_a_monitor_the_run_does_not_record_is_named():
    study = optuna.create_study()
    with pytest.raises(KeyError, match="OptunaPruning reports 'val_r2', which this run does not record"):
        fit_iris(OptunaPruning(study.ask(), "val_r2"))
