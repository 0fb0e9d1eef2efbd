"""The config.toml a run saves is a config: for every built-in data set and every kind of data file, trained
one epoch, it reads back with load_config to what was run and trains the same model again (the example
configs are checked so in test_cli.py)."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from nablanet import experiment as cfg
from nablanet.datasets.registry import DATASETS
from test_cli import REPO, assert_saved_config_reruns, run


def _dataset_overrides(name: str) -> list:
    # A generated data set at a few samples, so that one epoch is quick.
    return ["data.n_samples=200"] if "n_samples" in DATASETS[name].options else []


@pytest.mark.parametrize("name", list(DATASETS))
def test_the_saved_config_of_a_built_in_data_set_reruns_it(name, tmp_path):
    sets = [f"data.source={name}", "train.epochs=1"] + _dataset_overrides(name)
    argv = ["train", "--out", tmp_path / "run", "--no-progress"]
    for item in sets:
        argv += ["--set", item]
    status, _, stderr = run(argv)
    assert status == 0, stderr
    assert_saved_config_reruns(tmp_path / "run", cfg.load_config(None, sets), tmp_path)


def _mnist_npz(path: Path) -> Path:
    """A tiny mnist.npz in Keras' layout (the mnist format: its own test set, data.flatten)."""
    rng = np.random.default_rng(0)
    arrays = {}
    for part, n in (("train", 40), ("test", 10)):
        arrays[f"x_{part}"] = rng.integers(0, 255, (n, 28, 28)).astype(np.uint8)
        arrays[f"y_{part}"] = rng.integers(0, 10, n).astype(np.uint8)
    np.savez(path, **arrays)
    return path


def _arrays_npz(path: Path) -> Path:
    rng = np.random.default_rng(0)
    np.savez(path, X=rng.standard_normal((60, 3)), y=rng.integers(0, 2, 60))
    return path


@pytest.mark.parametrize("file, arguments, settings", [
    # `nablanet train data.csv --target COLUMN`, and without --target (the last column).
    ("moons.csv", ["--target", "label"], {"data.target": "label"}),
    ("moons.csv", [], {"data.target": "label"}),
    ("arrays.npz", [], {}),
    ("mnist.npz", [], {}),
])
def test_the_saved_config_of_a_data_file_run_reruns_it(file, arguments, settings, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    writers = {"moons.csv": lambda path: shutil.copy(REPO / "examples" / "data" / "moons.csv", path),
               "arrays.npz": _arrays_npz, "mnist.npz": _mnist_npz}
    writers[file](tmp_path / file)
    status, _, stderr = run(["train", file, *arguments, "--set", "train.epochs=1", "--out", "run", "--no-progress"])
    assert status == 0, stderr
    # The data file as the command names it: relative to the current folder.
    ran = cfg.load_config(None, [("data.source", file), *settings.items(), ("train.epochs", 1)])
    assert_saved_config_reruns(tmp_path / "run", ran, tmp_path)


def test_a_sweep_saved_with_the_keys_its_source_does_not_read_is_still_resumed(tmp_path):
    from nablanet.cli.sweep_record import TABLE
    from test_cli import SWEEP_CONFIG

    config = tmp_path / "sweep.toml"
    config.write_text(SWEEP_CONFIG)
    out = tmp_path / "swept"
    status, _, stderr = run(["sweep", config, "--jobs", 1, "--out", out, "--no-progress"])
    assert status == 0, stderr
    # Its config.toml as the sweeps saved it before they left those keys out: every key, data.n_samples too.
    values = cfg.load_config(config).values
    (out / "config.toml").write_text(cfg.to_toml(dict(values, name="sweep")), encoding="utf-8")
    status, stdout, stderr = run(["sweep", config, "--jobs", 1, "--resume", out, "--no-progress"])
    assert status == 0, stderr
    assert f"4 already scored in {out / TABLE}" in stdout
