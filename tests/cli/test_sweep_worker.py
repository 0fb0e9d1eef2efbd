"""nablanet sweep's fits: the same scores in a spawned pool worker as in the main process, which holds no sweep."""

import concurrent.futures
import contextlib
import io
import multiprocessing
import pickle

import numpy as np
import pytest

from nablanet import cli
from nablanet import config as cfg
from nablanet.cli import sweep_worker
from nablanet.cli.sweep_worker import SweepFits, score_in_worker, start_worker
from nablanet.preprocessing import k_fold

OVERRIDES = ["data.source=iris", "model.hidden=[4]", "model.dropout=0.0", "train.epochs=2", "train.batch_size=16",
             "train.validation_split=0.0", "sweep.folds=2", "sweep.optimizer.lr=[0.001, 0.1]"]


def iris_fits() -> SweepFits:
    config = cfg.load_config(overrides=OVERRIDES)
    _, settings = cfg.sweep_settings(config)
    data = cfg.load_data(config)
    task = cfg.make_task(config, data.y_all)
    splits = k_fold(data.X_train, n_splits=2, shuffle=True, rng=config.get("seed"))
    return SweepFits(config, settings, data, task, list(splits))


def test_a_spawned_worker_scores_every_fit_as_the_main_process_does():
    fits = iris_fits()
    work = [(setting, fold) for setting in range(2) for fold in (0, 1, None)]
    here = {(setting, fold): fits.score(setting, fold) for setting, fold in work}
    assert all(0.0 <= score <= 1.0 for score in here.values())   # accuracies: iris has a test part
    assert len(set(here.values())) > 1, "the settings and folds should not all score alike"
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, initializer=start_worker, initargs=(fits, 1),
                                                mp_context=multiprocessing.get_context("spawn")) as pool:
        there = {(setting, fold): pool.submit(score_in_worker, setting, fold).result() for setting, fold in work}
    assert there == here


def test_the_fits_travel_whole_to_a_spawned_worker():
    fits = iris_fits()
    copy = pickle.loads(pickle.dumps(fits))
    np.testing.assert_array_equal(copy.data.X_train, fits.data.X_train)
    for copied, original in zip(copy.splits, fits.splits, strict=True):
        for copied_rows, rows in zip(copied, original, strict=True):
            np.testing.assert_array_equal(copied_rows, rows)
    assert copy.settings == fits.settings and copy.task == fits.task


def test_the_main_process_holds_no_sweep_before_or_after_one(tmp_path):
    config = tmp_path / "sweep.toml"
    config.write_text("[sweep]\n\"optimizer.lr\" = [0.001, 0.1]\n")
    with pytest.raises(RuntimeError, match="this process has no sweep"):
        score_in_worker(0, 0)
    for jobs in (1, 2):
        argv = ["sweep", config, "--jobs", jobs, "--out", tmp_path / f"jobs{jobs}", "--no-progress"]
        for item in OVERRIDES[:-1]:
            argv += ["--set", item]
        with contextlib.redirect_stdout(io.StringIO()):
            assert cli.main([str(a) for a in argv]) == 0
        assert sweep_worker._worker_fits is None
        with pytest.raises(RuntimeError, match="this process has no sweep"):
            score_in_worker(0, 0)
