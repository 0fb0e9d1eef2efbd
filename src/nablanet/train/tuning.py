"""Callbacks that connect fit to hyperparameter search: OptunaPruning reports each epoch to an Optuna trial."""

from __future__ import annotations

from nablanet.train.callbacks import Callback

__all__ = ["OptunaPruning"]


class OptunaPruning(Callback):
    """Report a monitored quantity to an Optuna trial after each epoch; end the trial when its pruner says so.

    After epoch ``epoch`` it calls ``trial.report(logs[monitor], step_offset + epoch)`` and then
    ``trial.should_prune()``; when the study's pruner (e.g. ``optuna.pruners.MedianPruner``) finds the
    value worse than the other trials' at that step, it raises ``optuna.TrialPruned``, which ends
    ``fit`` at once and tells whoever runs the trial to record it as pruned (as Optuna's own
    integrations do).

    Args:
        trial: an ``optuna.Trial`` (from ``study.ask()`` or the objective's argument).
        monitor: the History key to report, ``"val_loss"`` by default (pass validation data to fit).
        step_offset: added to the epoch: a trial that trains several times (one fit per fold of a
            cross-validation) reports fold ``k``'s epochs as steps ``k * epochs + epoch``, so that every
            trial is compared at the same fold and epoch.

    Example:
        >>> import optuna
        >>> import nablanet
        >>> import nablanet.nn as nn
        >>> from nablanet import optim
        >>> from nablanet.datasets import load_iris
        >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
        >>> X, y = load_iris()
        >>> study = optuna.create_study(pruner=optuna.pruners.MedianPruner())
        >>> trial = study.ask()
        >>> model = nn.Sequential(nn.Dense(4, 3, rng=0))
        >>> history = nablanet.fit(model, X, y, loss="cross_entropy", optimizer=optim.Adam(model.parameters()),
        ...                        epochs=2, validation_split=0.2, seed=0,
        ...                        callbacks=[nablanet.train.OptunaPruning(trial)], progress=False)
        >>> sorted(study.trials[0].intermediate_values)
        [0, 1]
    """

    def __init__(self, trial, monitor: str = "val_loss", *, step_offset: int = 0):
        self.trial = trial
        self.monitor = monitor
        self.step_offset = int(step_offset)

    def on_epoch_end(self, run, epoch: int, logs: dict) -> None:
        import optuna

        if self.monitor not in logs:
            raise KeyError(f"OptunaPruning reports {self.monitor!r}, which this run does not record; the History "
                           f"has {sorted(logs)}. Pass validation_data or validation_split for 'val_' keys.")
        step = self.step_offset + epoch
        self.trial.report(float(logs[self.monitor]), step)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"{self.monitor} = {float(logs[self.monitor]):.4g} at step {step}")
