"""A sweep's fits: one setting trained on one fold and scored, in the main process, a spawned pool worker or a
Dask worker."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nablanet import runtime

if TYPE_CHECKING:
    from nablanet.experiment import Config, Data, Task


@dataclass(frozen=True)
class SweepFits:
    """What the fits of one sweep share: the config, the settings tried, the data, the task and the folds.

    Attributes:
        config: the sweep's config; each fit runs ``config.with_values(settings[i])``.
        settings: one dict of dotted keys -> values per setting.
        data: the loaded data (``nablanet.experiment.load_data``): folds are rows of its training part.
        task: the loss, outputs and metrics (``nablanet.experiment.make_task``).
        splits: ``(train_rows, score_rows)`` index arrays of the training part, one pair per fold.
    """

    config: Config
    settings: list
    data: Data
    task: Task
    splits: list

    def score(self, setting: int, fold: int | None) -> float:
        """Train ``settings[setting]`` on fold ``fold`` and return its score on the fold's held-out rows.

        With ``fold=None`` the fit uses the whole training part and is scored on the test part (NaN
        when there is none). A fit that diverges scores NaN.
        """
        return self.score_values(self.settings[setting], fold)

    def score_values(self, values: dict, fold: int | None, callbacks=()) -> float:
        """``score`` of the setting ``values`` (dotted keys -> values), its fit running ``callbacks`` too."""
        from nablanet import experiment as cfg
        from nablanet.train import TrainingDivergedError, evaluate

        data = self.data
        run_config = self.config.with_values(values)
        score, _ = cfg.score_names(run_config, self.task)
        if fold is None:
            X_train, y_train, X_score, y_score = data.X_train, data.y_train, data.X_test, data.y_test
        else:
            train_rows, score_rows = self.splits[fold]
            X_train, y_train = data.X_train[train_rows], data.y_train[train_rows]
            X_score, y_score = data.X_train[score_rows], data.y_train[score_rows]
        try:
            model, _, preprocessor = cfg.fit_config(run_config, X_train, y_train, self.task, progress=False,
                                                    callbacks=callbacks)
        except TrainingDivergedError:
            return math.nan
        if X_score is None:
            return math.nan
        metrics = [] if score == "loss" else [score]
        scores = evaluate(model, preprocessor.transform(X_score), y_score, self.task.loss, metrics)
        return float(scores["loss" if score == "loss" else next(iter(k for k in scores if k != "loss"))])


# The sweep of this process when it is a pool worker, set once by the pool's initializer (start_worker),
# so that the data travel to each worker once rather than with every fit. The main process never sets it.
_worker_fits: SweepFits | None = None
# The worker's BLAS-thread limit and fast math, held open for its life (see start_worker).
_worker_runtime: contextlib.ExitStack | None = None


def start_worker(fits: SweepFits, threads: int) -> None:
    """The pool's initializer: keep ``fits`` for this worker's fits, and set up the worker's process as
    the main one is (BLAS threads limited to ``threads``, runtime.fast_math), for the worker's life."""
    global _worker_fits, _worker_runtime
    _worker_fits = fits
    # A spawned worker starts with the defaults: neither the thread limit nor the floating-point
    # control bits (per process and thread) reach it from the main process.
    _worker_runtime = contextlib.ExitStack()
    _worker_runtime.enter_context(runtime.blas_threads(threads))
    _worker_runtime.enter_context(runtime.fast_math())


def score_in_worker(setting: int, fold: int | None) -> float:
    """``SweepFits.score`` in a pool worker, on the sweep its initializer received."""
    if _worker_fits is None:
        raise RuntimeError("score_in_worker runs in a sweep's pool worker started with "
                           "initializer=start_worker; this process has no sweep")
    return _worker_fits.score(setting, fold)


def score_on_dask(fits: SweepFits, setting: int, fold: int | None, threads: int) -> float:
    """``SweepFits.score`` as a task on a Dask worker, with this process's settings for the fit alone.

    A Dask worker is a process nablanet does not own and may run other tasks, so the BLAS-thread limit
    and fast math (per thread: the task's own thread) are set for this fit only and handed back after
    it; the scores are the local pool's, whose workers hold the same settings for their whole life.
    """
    with runtime.blas_threads(threads), runtime.fast_math():
        return fits.score(setting, fold)
