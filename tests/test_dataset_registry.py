"""The data set registry: every registered data set and file format loads through a config as its record
says, a new data set is one register_dataset call away from `nablanet train`, and the experiment package
names no data set of its own."""

import ast
import contextlib
import io
from pathlib import Path

import numpy as np
import pytest

from nablanet import cli
from nablanet.datasets import (
    DATASETS, FILE_FORMATS, LoadedData, detect_file_format, register_dataset, register_file_format,
)
from nablanet.experiment import SCHEMA, ConfigError, load_config, load_data, make_task
from nablanet.experiment.toml import toml_value

EXPERIMENT = Path(__file__).resolve().parents[1] / "src" / "nablanet" / "experiment"

# One line per registered data set: extra overrides, number of samples in all, shape of one sample.
DATASET_CASES = {
    "digits": ([], 1797, (64,)),
    "breast_cancer": ([], 569, (30,)),
    "iris": ([], 150, (4,)),
    "polynomial": (["data.n_samples=40", "data.noise=0.1"], 40, (2,)),
    "franke": (["data.n_samples=40"], 40, (2,)),
    "sine_quadratic": (["data.n_samples=40"], 40, (1,)),
    "and": ([], 4, (2,)),
    "or": ([], 4, (2,)),
    "xor": ([], 4, (2,)),
    "xnor": ([], 4, (2,)),
    "mnist1d": (["data.n_samples=100"], 100, (40,)),
}


def _write_csv(folder: Path):
    path = folder / "table.csv"
    path.write_text("a,b,label\n" + "".join(f"{i},{i * i},{i % 2}\n" for i in range(10)))
    return path, [], 10, (2,)


def _write_npz(folder: Path):
    path = folder / "arrays.npz"
    np.savez(path, X=np.arange(24.0).reshape(8, 3), y=np.arange(8) % 2)
    return path, [], 8, (3,)


def _write_mnist(folder: Path):
    rng = np.random.default_rng(0)
    path = folder / "mnist.npz"
    np.savez(path, x_train=rng.integers(0, 256, (6, 28, 28), dtype=np.uint8), y_train=np.arange(6) % 10,
             x_test=rng.integers(0, 256, (4, 28, 28), dtype=np.uint8), y_test=np.arange(4) % 10)
    return path, ["data.flatten=false"], 10, (28, 28)


# One line per registered file format: writes a small file, returning (path, overrides, samples, sample shape).
FORMAT_CASES = {"csv": _write_csv, "npz": _write_npz, "mnist": _write_mnist}


def test_every_registered_data_set_has_a_case():
    assert sorted(DATASETS) == sorted(DATASET_CASES), "add a line to DATASET_CASES for each new data set"


def test_every_registered_file_format_has_a_case():
    assert sorted(FILE_FORMATS) == sorted(FORMAT_CASES), "add a line to FORMAT_CASES for each new file format"


def _keys_it_does_not_read(record) -> list:
    every = {key for other in [*DATASETS.values(), *FILE_FORMATS.values()] for key in other.options}
    return sorted(every - set(record.options))


def _setting(key: str) -> str:
    """A --set override of data.key to its default, which counts as setting it."""
    return f"data.{key}={toml_value(SCHEMA['data'][key].default)}"


@pytest.mark.parametrize("name", sorted(DATASET_CASES))
def test_each_data_set_loads_through_a_config_as_its_record_says(name):
    record = DATASETS[name]
    overrides, n_samples, sample_shape = DATASET_CASES[name]
    config = load_config(overrides=[f"data.source={name}", *overrides])
    data = load_data(config)
    n_test = 0 if data.X_test is None else len(data.X_test)
    assert len(data.X_train) + n_test == n_samples and data.X_train.shape[1:] == sample_shape
    assert make_task(config, data.y_all).kind == record.kind
    if record.own_test_set:
        assert data.test_description == "the data set's own test set"
        with pytest.raises(ConfigError, match=f"data.test_size does not apply to {name}"):
            load_config(overrides=[f"data.source={name}", "data.test_size=0.1"])
    else:
        expected = SCHEMA["data"]["test_size"].default if record.test_size is None else record.test_size
        assert config.get("data.test_size") == expected
    for key in _keys_it_does_not_read(record):
        with pytest.raises(ConfigError, match=f"data.{key} applies to .* not to {name} "):
            load_config(overrides=[f"data.source={name}", _setting(key)])


def test_generated_data_sets_default_to_their_records_size():
    for name, record in DATASETS.items():
        # mnist1d's 5000 signals take seconds to generate; its size is the package's default (test_datasets).
        if "n_samples" in record.options and record.n_samples <= 500:
            data = load_data(load_config(overrides=[f"data.source={name}", "data.test_size=0"]))
            assert len(data.X_train) == record.n_samples, name


@pytest.mark.parametrize("name", sorted(FORMAT_CASES))
def test_each_file_format_is_found_from_its_path_and_read_through_a_config(name, tmp_path):
    record = FILE_FORMATS[name]
    path, overrides, n_samples, sample_shape = FORMAT_CASES[name](tmp_path)
    assert detect_file_format(path) == name
    config = load_config(overrides=[f"data.source={path}", f"data.format={name}", *overrides])
    data = load_data(config)
    n_test = 0 if data.X_test is None else len(data.X_test)
    assert len(data.X_train) + n_test == n_samples and data.X_train.shape[1:] == sample_shape
    assert (data.test_description == "the data set's own test set") == record.own_test_set
    for key in _keys_it_does_not_read(record):
        with pytest.raises(ConfigError, match=f"data.{key} applies to .* not to {name} "):
            load_config(overrides=[f"data.source={path}", _setting(key)])


def test_a_folder_goes_to_the_format_that_reads_folders_and_other_paths_to_none(tmp_path):
    assert detect_file_format(tmp_path) == "mnist"
    assert detect_file_format(tmp_path / "notes.txt") is None
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ConfigError, match=r"cannot tell how to read .*notes.txt.*\.csv or \.npz file"):
        load_config(overrides=[f"data.source={tmp_path / 'notes.txt'}"])


# ----------------------------------------------------------------------------------------------
# A data set of one's own
# ----------------------------------------------------------------------------------------------

def _load_toy(settings: dict) -> LoadedData:
    """Two Gaussian blobs in the plane, class k around (2k, 2k)."""
    rng = np.random.default_rng(settings["seed"])
    y = np.arange(settings["n_samples"]) % 2
    X = rng.normal(size=(settings["n_samples"], 2)) * 0.3 + 2.0 * y[:, None]
    return LoadedData(X, y, f"toy ({len(X)} samples)")


@pytest.fixture
def toy():
    record = register_dataset("toy", _load_toy, kind="classification", n_samples=60, options=("n_samples",),
                              test_size=0.25, description="two blobs")
    yield record
    del DATASETS["toy"]


def test_a_registered_data_set_trains_from_a_toml_config_and_the_command_line(toy, tmp_path):
    path = tmp_path / "toy.toml"
    path.write_text('[data]\nsource = "toy"\nn_samples = 40\n\n[model]\nhidden = [8]\n\n'
                    '[train]\nepochs = 2\nprogress = false\n')
    config = load_config(path)
    data = load_data(config)
    assert data.description == "toy (40 samples)" and len(data.X_train) == 30 and len(data.X_test) == 10
    X_all = np.concatenate([data.X_train, data.X_test])
    assert np.allclose(np.sort(X_all, axis=0), np.sort(_load_toy({"seed": 0, "n_samples": 40}).X, axis=0))
    assert make_task(config, data.y_all).n_outputs == 2
    with pytest.raises(ConfigError, match="data.noise applies to polynomial, franke, sine_quadratic data, not to toy"):
        load_config(path, ["data.noise=0.1"])
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = cli.main(["train", str(path), "--out", str(tmp_path / "run")])
    assert status == 0, stderr.getvalue()
    assert "data: toy (40 samples): 30 for training, 10 for testing" in stdout.getvalue()
    assert (tmp_path / "run" / "model.npz").is_file()


def test_a_registered_data_set_must_read_keys_of_the_data_table():
    register_dataset("misnamed", _load_toy, kind="classification", options=("n_sample",), description="")
    try:
        with pytest.raises(ConfigError, match=r"misnamed reads data.n_sample, which is not a key of \[data\]"):
            load_config(overrides=["data.source=misnamed"])
    finally:
        del DATASETS["misnamed"]


def test_registering_the_same_loader_again_replaces_it_and_another_is_refused(toy):
    assert register_dataset("toy", _load_toy, kind="classification", description="again").description == "again"
    with pytest.raises(ValueError, match="data set 'toy' is already registered"):
        register_dataset("toy", lambda settings: None, kind="classification", description="")


@pytest.mark.parametrize("arguments, message", [
    (dict(name="my data"), "a data set's name must be a word"),
    (dict(kind="clustering"), "kind must be one of classification, regression, got 'clustering'"),
    (dict(load="not a function"), "load must be a function"),
    (dict(n_samples=-1), "n_samples must be an integer >= 0"),
    (dict(test_size=1.0), r"test_size must be a fraction in \[0, 1\)"),
    (dict(own_test_set=True, test_size=0.1), "has its own test set, so it takes no default test_size"),
    (dict(options=("n_samples", 3)), "options must be names of"),
])
def test_register_dataset_mistakes_name_the_problem(arguments, message):
    call = dict(name="bad", load=_load_toy, kind="classification", description="")
    call.update(arguments)
    with pytest.raises(ValueError, match=message):
        register_dataset(call.pop("name"), call.pop("load"), **call)
    assert "bad" not in DATASETS


@pytest.mark.parametrize("arguments, message", [
    (dict(name="auto"), "'auto' is data.format's name"),
    (dict(suffixes=("csv",)), "suffixes are lower-case endings with their dot"),
    (dict(suffixes=()), "reads no suffix and no folder"),
    (dict(name="csv"), "file format 'csv' is already registered"),
])
def test_register_file_format_mistakes_name_the_problem(arguments, message):
    call = dict(name="bad", read=lambda source, settings, require_targets: None, description="",
                suffixes=(".bad",))
    call.update(arguments)
    with pytest.raises(ValueError, match=message):
        register_file_format(call.pop("name"), call.pop("read"), **call)
    assert "bad" not in FILE_FORMATS


def test_the_experiment_package_names_no_data_set():
    # The one exception is the schema's default source, the README's main job.
    names = (set(DATASETS) | set(FILE_FORMATS)) - {SCHEMA["data"]["source"].default}
    found = []
    for path in sorted(EXPERIMENT.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in names:
                found.append(f"{path.name}:{node.lineno}: {node.value!r}")
    assert found == [], "the experiment package should read data set names from nablanet.datasets.DATASETS"
