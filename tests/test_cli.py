"""The `nablanet` command: the main job's accuracy, each subcommand on real files, config checking, and
user mistakes ending in one line on stderr (in-process through cli.main, and once in a subprocess)."""

import contextlib
import csv
import io
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from nablanet import cli, count_ops
from nablanet import experiment as cfg
from nablanet import io as model_io

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "examples" / "configs"


def run(argv) -> tuple[int, str, str]:
    """cli.main(argv) with its exit status, stdout and stderr."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = cli.main([str(a) for a in argv])
    return status, stdout.getvalue(), stderr.getvalue()


def assert_saved_config_reruns(folder, config, tmp_path):
    """The run in ``folder`` saved the config it ran (``config``, as load_config made it): its config.toml is
    a config load_config reads back to the same values (the name filled in, a data file's path absolute),
    and training from it again gives the same history and weights."""
    saved = cfg.load_config(folder / "config.toml")
    expected = dict(config.values, name=config.run_name)
    if expected["data"]["source"] not in cfg.DATASETS:
        expected["data"] = dict(expected["data"], source=str(Path(expected["data"]["source"]).expanduser().resolve()))
    assert saved.values == expected
    again = tmp_path / "again"
    status, _, stderr = run(["train", folder / "config.toml", "--out", again, "--no-progress"])
    assert status == 0, stderr
    assert (again / "history.csv").read_text() == (folder / "history.csv").read_text()
    weights, weights_again = (model_io.load(path / "model.npz").state_dict() for path in (folder, again))
    assert weights.keys() == weights_again.keys()
    for key, value in weights.items():
        np.testing.assert_array_equal(weights_again[key], value, err_msg=key)


def assert_one_line_error(status, stderr, *fragments):
    assert status == 1
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def main_job(tmp_path_factory):
    """`nablanet train` exactly as the README runs it (defaults, progress bar on), in a temporary folder."""
    out = tmp_path_factory.mktemp("main_job")
    previous = Path.cwd()
    os.chdir(out)
    try:
        status, stdout, stderr = run(["train"])
    finally:
        os.chdir(previous)
    runs = list((out / "nablanet-runs").iterdir())
    return status, stdout, stderr, runs


# ----------------------------------------------------------------------------------------------
# The main job, and the commands on the model it saves
# ----------------------------------------------------------------------------------------------

def test_main_job_trains_digits_to_97_percent_and_saves_model_and_plots(main_job):
    status, stdout, stderr, runs = main_job
    assert status == 0, stderr
    assert len(runs) == 1 and runs[0].name.startswith("digits-")
    folder = runs[0]
    for name in ("model.npz", "learning_curves.png", "confusion_matrix.png", "config.toml", "history.csv"):
        assert (folder / name).is_file(), name
    assert (folder / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "epoch 40/40" in stderr  # tqdm's bar
    assert f"saved in {Path('nablanet-runs') / folder.name}/" in stdout
    checkpoint = model_io.load_checkpoint(folder / "model.npz")
    scores = checkpoint.metadata["scores"]
    assert scores["part"] == "test"
    assert scores["accuracy"] >= 0.97
    assert f"accuracy {scores['accuracy']:.4g}" in stdout
    # The saved config rebuilds the same run: it reads back to the values it was written from.
    saved = tomllib.loads((folder / "config.toml").read_text())
    assert saved == checkpoint.metadata["config"]
    assert saved["name"] == "digits" and saved["model"]["hidden"] == [512]


def test_evaluate_reproduces_the_test_split_and_score(main_job):
    folder = main_job[3][0]
    expected = model_io.load_checkpoint(folder / "model.npz").metadata["scores"]
    status, stdout, stderr = run(["evaluate", folder / "model.npz", "digits"])
    assert status == 0, stderr
    assert "test part" in stdout and "360 samples" in stdout
    assert f"accuracy  {expected['accuracy']:.6g}" in stdout
    assert f"loss      {expected['loss']:.6g}" in stdout
    status, stdout, _ = run(["evaluate", folder / "model.npz", "digits", "--split", "all"])
    assert status == 0 and "1797 samples" in stdout


def test_predict_writes_classes_and_probabilities(main_job, tmp_path):
    folder = main_job[3][0]
    expected = model_io.load_checkpoint(folder / "model.npz").metadata["scores"]["accuracy"]
    out = tmp_path / "sub" / "predictions.csv"
    status, stdout, stderr = run(["predict", folder / "model.npz", "digits", "--out", out])
    assert status == 0, stderr
    with open(out, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["target", "predicted_class"] + [f"probability_{k}" for k in range(10)]
    table = np.array(rows[1:], dtype=float)
    assert table.shape == (360, 12)
    np.testing.assert_allclose(table[:, 2:].sum(axis=1), 1.0, atol=1e-5)
    assert np.array_equal(table[:, 1], table[:, 2:].argmax(axis=1))
    assert np.mean(table[:, 0] == table[:, 1]) == pytest.approx(expected)


def test_summary_counts_parameters_and_operations(main_job):
    path = main_job[3][0] / "model.npz"
    status, stdout, stderr = run(["summary", path])
    assert status == 0, stderr
    # 64 -> 512 -> 10: weights and biases of both Dense layers.
    assert f"Total params: {64 * 512 + 512 + 512 * 10 + 10:,}" in stdout
    assert "(None, 512)" in stdout and "(None, 10)" in stdout
    model = model_io.load(path)
    counts = count_ops(model, np.zeros((1, 64), dtype=np.float32))
    assert f"forward {counts.forward_total:,}, backward (gradient) {counts.reverse_total:,}" in stdout
    # The matrix products alone take 2 n_in n_out operations per sample and layer.
    assert counts.forward_total >= 2 * 64 * 512 + 2 * 512 * 10


# ----------------------------------------------------------------------------------------------
# Every example config trains (one epoch), and the small ones reach their documented scores
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fake_mnist(tmp_path_factory):
    """A tiny mnist.npz in Keras' layout: class k has a bright row 2k + 3."""
    rng = np.random.default_rng(0)
    arrays = {}
    for part, n in (("train", 60), ("test", 20)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        images[np.arange(n), 2 * labels + 3, :] = 250
        arrays[f"x_{part}"], arrays[f"y_{part}"] = images, labels
    path = tmp_path_factory.mktemp("mnist") / "mnist.npz"
    np.savez(path, **arrays)
    return path


EXAMPLES = [
    # config, extra overrides
    ("digits.toml", []),
    ("breast_cancer.toml", []),
    ("iris.toml", []),
    ("mnist1d.toml", ["data.n_samples=200"]),
    ("xor.toml", []),
    ("polynomial.toml", []),
    ("franke.toml", ["data.n_samples=100"]),
    ("moons_csv.toml", []),
    ("mnist.toml", ["data.source={mnist}"]),
    ("digits_sweep.toml", []),
]


def test_every_example_config_is_tested():
    assert sorted(path.name for path in CONFIGS.glob("*.toml")) == sorted(name for name, _ in EXAMPLES)


@pytest.mark.parametrize("name, overrides", EXAMPLES)
def test_example_config_trains_one_epoch_and_its_saved_config_reruns_it(name, overrides, tmp_path, fake_mnist):
    sets = [item.format(mnist=fake_mnist) for item in overrides + ["train.epochs=1"]]
    out = tmp_path / "run"
    argv = ["train", CONFIGS / name, "--out", out, "--no-progress"]
    for item in sets:
        argv += ["--set", item]
    status, stdout, stderr = run(argv)
    assert status == 0, stderr
    assert (out / "model.npz").is_file()
    assert "scores on" in stdout
    assert_saved_config_reruns(out, cfg.load_config(CONFIGS / name, sets), tmp_path)


def test_xor_example_solves_xor(tmp_path):
    status, stdout, stderr = run(["train", CONFIGS / "xor.toml", "--out", tmp_path, "--no-progress"])
    assert status == 0, stderr
    # No test part for the four points of a gate: the scores are on the training data, and say so.
    assert "training scores on 4 samples (there is no test part)" in stdout
    assert model_io.load_checkpoint(tmp_path / "model.npz").metadata["scores"]["accuracy"] == 1.0


def test_csv_model_predicts_on_a_csv_without_the_target_column(tmp_path):
    status, _, stderr = run(["train", CONFIGS / "moons_csv.toml", "--out", tmp_path / "run", "--no-progress",
                             "--set", "train.epochs=3"])
    assert status == 0, stderr
    features = tmp_path / "points.csv"
    features.write_text("x1,x2\n0.0,1.0\n1.0,-0.5\n2.0,0.2\n")
    out = tmp_path / "predictions.csv"
    status, stdout, stderr = run(["predict", tmp_path / "run" / "model.npz", features, "--out", out])
    assert status == 0, stderr
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["predicted_class", "probability_0", "probability_1"] and len(rows) == 4
    # The model's own CSV: the test part by default (75 of 300 rows), with the label as target.
    status, stdout, _ = run(["evaluate", tmp_path / "run" / "model.npz", REPO / "examples" / "data" / "moons.csv"])
    assert status == 0 and "75 samples" in stdout and "test part" in stdout


# ----------------------------------------------------------------------------------------------
# sweep
# ----------------------------------------------------------------------------------------------

SWEEP_CONFIG = """
seed = 3
[data]
source = "iris"
[model]
hidden = [8]
dropout = 0.0
[train]
epochs = 2
batch_size = 16
validation_split = 0.0
[sweep]
folds = 2
"optimizer.lr" = [1e-3, 1e-1]
"train.l2" = [0.0, 1e-2]
"""


def test_sweep_in_parallel_equals_serial_and_writes_csv_and_heatmaps(tmp_path):
    config = tmp_path / "sweep.toml"
    config.write_text(SWEEP_CONFIG)
    tables = {}
    for jobs in (2, 1):
        out = tmp_path / f"jobs{jobs}"
        status, stdout, stderr = run(["sweep", config, "--jobs", jobs, "--out", out, "--no-progress"])
        assert status == 0, stderr
        assert "best by cross-validation" in stdout
        with open(out / "sweep.csv", newline="") as handle:
            tables[jobs] = list(csv.DictReader(handle))
    rows = tables[2]
    assert list(rows[0]) == ["optimizer.lr", "train.l2", "cv_accuracy_mean", "cv_accuracy_std", "test_accuracy"]
    assert [(float(r["optimizer.lr"]), float(r["train.l2"])) for r in rows] == [
        (1e-3, 0.0), (1e-3, 1e-2), (1e-1, 0.0), (1e-1, 1e-2)]
    assert all(0.0 <= float(r["test_accuracy"]) <= 1.0 for r in rows)
    # Each fit is seeded by the config alone, so the process that ran it changes nothing.
    assert tables[1] == tables[2]
    for name in ("heatmap_cv_accuracy_mean.png", "heatmap_test_accuracy.png"):
        assert (tmp_path / "jobs2" / name).read_bytes()[:4] == b"\x89PNG"


def test_random_search_draws_from_distributions():
    config = cfg.load_config(overrides=["sweep.search=random", "sweep.n_iter=5",
                                        "sweep.optimizer.lr={loguniform = [1e-4, 1e-1]}",
                                        "sweep.model.activation=['relu', 'tanh']"])
    keys, settings = cfg.sweep_settings(config)
    assert keys == ["optimizer.lr", "model.activation"] and len(settings) == 5
    assert all(1e-4 <= s["optimizer.lr"] <= 1e-1 and s["model.activation"] in ("relu", "tanh") for s in settings)
    assert cfg.sweep_settings(config) == (keys, settings)  # drawn from the run's seed


# ----------------------------------------------------------------------------------------------
# Config files and overrides
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("optimizer.lr=1e-2", ("optimizer.lr", 0.01)),
    ("train.epochs=3", ("train.epochs", 3)),
    ("data.standardize=false", ("data.standardize", False)),
    ("data.source=iris", ("data.source", "iris")),          # not TOML: a bare string
    ('data.source="my file.csv"', ("data.source", "my file.csv")),
    ("model.hidden=[64, 32]", ("model.hidden", [64, 32])),
    ("sweep.optimizer.lr=[0.1, 0.2]", ("sweep.optimizer.lr", [0.1, 0.2])),
])
def test_set_values_are_read_as_toml(text, expected):
    assert cfg.parse_override(text) == expected


def test_defaults_round_trip_through_toml():
    values = cfg.load_config().values
    assert tomllib.loads(cfg.to_toml(values)) == values


def test_data_paths_in_a_config_are_relative_to_the_file(tmp_path):
    (tmp_path / "configs").mkdir()
    path = tmp_path / "configs" / "c.toml"
    path.write_text('[data]\nsource = "../data.csv"\n')
    assert Path(cfg.load_config(path).get("data.source")) == tmp_path / "data.csv"
    # ... and paths given with --set are relative to the working directory.
    assert cfg.load_config(path, ["data.source=other.csv"]).get("data.source") == "other.csv"


def test_later_overrides_win_and_layers_get_inferred_sizes():
    config = cfg.load_config(overrides=["optimizer.lr=0.5", "optimizer.lr=0.25", "data.input_shape=[1, 8, 8]",
                                        'model.layers=[{type = "Conv2d", out_channels = 4, kernel_size = 3}, '
                                        '{type = "batchnorm"}, {type = "Activation", activation = "relu"}]'])
    assert config.get("optimizer.lr") == 0.25
    task = cfg.make_task(config, np.arange(10))
    model = cfg.build_model(config, (1, 8, 8), task, np.random.default_rng(0))
    assert [type(layer).__name__ for layer in model.layers] == ["Conv2d", "BatchNorm", "Activation", "Flatten", "Dense"]
    assert model.layers[-1].W.shape == (4 * 6 * 6, 10)


# ----------------------------------------------------------------------------------------------
# User mistakes: one line on stderr, exit status 1, no traceback
# ----------------------------------------------------------------------------------------------

BAD_CONFIGS = [
    # file contents, fragments of the message
    ("[optimzer]\nlr = 0.1\n", ["unknown key 'optimzer'", "optimizer, train"]),
    ("[optimizer]\nlearning_rate = 0.1\n", ["unknown key 'optimizer.learning_rate'", "the keys of adam are", "lr"]),
    ("[optimizer]\nname = \"sgd\"\nbeta1 = 0.9\n", ["unknown key 'optimizer.beta1'", "the keys of sgd", "momentum"]),
    ("[train]\nepoch = 3\n", ["unknown key 'train.epoch'", "epochs"]),
    ("[train]\nepochs = \"ten\"\n", ["train.epochs must be an integer", '"ten"']),
    ("[train]\nearly_stopping = {patience = 2, monitr = \"loss\"}\n", ["train.early_stopping.monitr", "monitor"]),
    ("[model]\nlayers = [{type = \"Dense\", units = 8}]\n", ["unknown key 'units'", "out_features"]),
    ("[model]\nlayers = [{type = \"Denze\"}]\n", ["model.layers[0] needs type", "Dense"]),
    ("[model]\nhidden = [8]\nlayers = [{type = \"Dense\", out_features = 8}]\n", ["model.hidden and model.layers"]),
    ("[model]\nactivation = \"relux\"\n", ["'relux' is not one of", "relu"]),
    ("[data]\nnoise = 0.1\n", ["data.noise applies to polynomial"]),
    ("[optimizer]\nschedule = {name = \"step\"}\n", ["the step schedule needs step_size"]),
    ("[sweep]\n\"optimizer.lr\" = [0.1, -1.0]\n", ["the value -1.0 of sweep.optimizer.lr", "must be positive"]),
    ("[sweep]\n\"optimizer.lrr\" = [0.1]\n", ["sweep.optimizer.lrr", "unknown key 'optimizer.lrr'"]),
    ("[data\nsource = 1\n", ["is not valid TOML"]),
    ("seed = -1\n", ["seed must be between 0 and 4294967295, got -1"]),
    (f"seed = {2**40}\n", ["seed must be between 0 and 4294967295", str(2**40)]),
    ("seed = \"abc\"\n", ["seed must be an integer", '"abc"']),
]


@pytest.mark.parametrize("text, fragments", BAD_CONFIGS)
def test_config_mistakes_name_the_key(text, fragments, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    status, stdout, stderr = run(["train", path, "--out", tmp_path / "never"])
    assert_one_line_error(status, stderr, f"nablanet train: error: {path}", *fragments)
    assert not (tmp_path / "never").exists()


# A layer argument its constructor refuses: one line naming the layer table and the argument, before any
# training (not a model that trains to loss nan, nor a "diverged" run).
BAD_LAYER_CONFIGS = [
    # [model] lines (on iris, or on digits as 1x8x8 images with "images"), fragment of the message
    ('layers = [{type = "Dense", out_features = 8}, {type = "BatchNorm", eps = -1.0}]',
     "model.layers[1] (BatchNorm): eps must be a positive finite number, got -1.0"),
    ('layers = [{type = "Dense", out_features = 8}, {type = "BatchNorm", momentum = 2}]',
     "model.layers[1] (BatchNorm): momentum must be a number in [0, 1], got 2"),
    ('layers = [{type = "Dense", out_features = 8}, {type = "Dropout", p = 2}]',
     "model.layers[1] (Dropout): p must be a number in [0, 1], got 2"),
    ('layers = [{type = "Dense", out_features = 2.5}]',
     "model.layers[0] (Dense): out_features must be a positive integer, got 2.5 (a float)"),
    ('layers = [{type = "Dense", out_features = true}]',
     "model.layers[0] (Dense): out_features must be a positive integer, got True (a bool)"),
    ('layers = [{type = "Dense", out_features = 0}]', "model.layers[0] (Dense): out_features must be a positive integer"),
    ('layers = [{type = "Dense", out_features = 4, activation = "leaky_relu", alpha = nan}]',
     "model.layers[0] (Dense): leaky_relu: alpha must be a finite number, got nan"),
    ('layers = [{type = "Dense", out_features = 4, bias = 1}]', "model.layers[0] (Dense): bias must be True or False"),
    ('layers = [{type = "RBF", units = 4, width = nan}]', "model.layers[0] (RBF): width must be a positive finite number"),
    ('layers = [{type = "Dense", out_features = 4}, {type = "Activation"}]',
     "model.layers[1] (Activation): an Activation layer needs activation"),
    ('layers = [{type = "Dense"}]', "model.layers[0] (Dense): missing a required argument: 'out_features'"),
    ("images", 'layers = [{type = "Conv2d", out_channels = 2, kernel_size = 0}]',
     "model.layers[0] (Conv2d): kernel_size must be a positive integer or 2 of them, got 0"),
    ("images", 'layers = [{type = "MaxPool2d", kernel_size = 0}]',
     "model.layers[0] (MaxPool2d): kernel_size must be a positive integer or 2 of them, got 0"),
    ("images", 'layers = [{type = "Conv2d", out_channels = 2, kernel_size = 3, stride = 2, padding = "same"}]',
     "model.layers[0] (Conv2d): padding='same' needs stride 1"),
    ("hidden = [0]", "model.hidden must hold positive integers, got [0]"),
    ("hidden = [2.5]", "model.hidden must be a list of integers, got [2.5]"),
    ("dropout = 2", "model.dropout must be a fraction in [0, 1), got 2"),
]


@pytest.mark.parametrize("case", BAD_LAYER_CONFIGS, ids=[case[-2] for case in BAD_LAYER_CONFIGS])
def test_layer_arguments_a_layer_refuses_end_in_one_line(case, tmp_path):
    data = ('source = "digits"\ninput_shape = [1, 8, 8]' if case[0] == "images" else 'source = "iris"')
    path = tmp_path / "layers.toml"
    path.write_text(f"[data]\n{data}\n[model]\n{case[-2]}\n[train]\nepochs = 1\n")
    status, stdout, stderr = run(["train", path, "--no-progress", "--out", tmp_path / "never"])
    assert_one_line_error(status, stderr, f"nablanet train: error: {path}: {case[-1].split(':')[0]}", case[-1])
    assert "diverged" not in stderr and "trained" not in stdout
    assert not (tmp_path / "never").exists()


def test_a_refused_layer_argument_through_the_installed_command_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "nablanet", "train", "--no-progress", "--set", "data.source=iris",
                             "--set", 'model.layers=[{type="BatchNorm", eps=-1}]'], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(REPO / "src")))
    assert result.returncode == 1
    assert result.stderr.strip() == ("nablanet train: error: --set: model.layers[0] (BatchNorm): eps must be a "
                                     "positive finite number, got -1")
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []  # no run folder's files


BAD_COMMANDS = [
    # argv (MODEL stands for the main job's model), fragments of the message
    (["train", "no/such/config.toml"], ["config file 'no/such/config.toml' does not exist"]),
    (["train", "FOLDER"], ["config file", "is a directory, not a file"]),
    (["train", "--set", "data.source=FOLDER.csv"], ["CSV file", "folder.csv' is a directory, not a file"]),
    (["train", "--set", "optimizer.lr"], ["--set expects KEY=VALUE"]),
    (["train", "--set", "data.source=no_such.csv"], ["CSV file 'no_such.csv' does not exist"]),
    (["train", "--set", "data.source=nothing"], ["'nothing' is neither a built-in data set", "digits, breast_cancer"]),
    (["train", "--set", "train.loss=binary_cross_entropy"], ["needs binary labels 0/1", "use cross_entropy"]),
    (["train", "--set", "data.source=franke", "--set", "train.loss=cross_entropy"], ["needs integer class labels"]),
    (["evaluate", "MODEL", "iris"], ["expects 64 input values per sample", "have 4"]),
    (["evaluate", "no_such_model.npz", "digits"], ["No such file or directory", "no_such_model.npz"]),
    (["evaluate", "CONFIG", "digits"], ["not a zip archive"]),
    (["summary", "MODEL", "--input-shape", "a,b"], ["--input-shape must be integers"]),
    (["sweep", "CONFIG"], ["[sweep] names no key to vary"]),
    (["sweep", "CONFIG", "--jobs", "0"], ["--jobs must be at least 1"]),
    (["demo", "no_such_demo"], ["unknown demo 'no_such_demo'", "gates"]),
]


@pytest.mark.parametrize("argv, fragments", BAD_COMMANDS)
def test_command_mistakes_end_in_one_line(argv, fragments, main_job, tmp_path):
    config = tmp_path / "plain.toml"
    config.write_text("seed = 1\n")
    (tmp_path / "folder.csv").mkdir()
    replacements = {"MODEL": main_job[3][0] / "model.npz", "CONFIG": config, "FOLDER": tmp_path}
    argv = [str(replacements.get(a, a)).replace("FOLDER", str(tmp_path / "folder")) for a in argv]
    if argv[0] == "sweep":
        argv += ["--set", "sweep.optimizer.lr=[0.1]"] if "--jobs" in argv else []
    status, stdout, stderr = run(argv + (["--out", tmp_path / "out"] if argv[0] == "train" else []))
    assert_one_line_error(status, stderr, f"nablanet {argv[0]}: error:", *fragments)


# ----------------------------------------------------------------------------------------------
# Run folders: claimed atomically, inside the current directory unless allowed
# ----------------------------------------------------------------------------------------------

def test_concurrent_trains_into_one_folder_get_distinct_complete_run_folders(tmp_path):
    """8 runs started together, same name and second: each writes its own folder (its own seed inside)."""
    command = [sys.executable, "-m", "nablanet", "train", "--no-progress", "--set", "data.source=iris",
               "--set", "name=same", "--set", "out=runs", "--set", "train.epochs=1"]
    environment = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    processes = [subprocess.Popen(command + ["--set", f"seed={seed}"], cwd=tmp_path, env=environment,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in range(8)]
    results = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0] * 8, [err for _, err in results]
    folders = sorted((tmp_path / "runs").iterdir())
    assert len(folders) == 8
    seeds = set()
    for folder in folders:
        assert {"model.npz", "config.toml", "history.csv"} <= {path.name for path in folder.iterdir()}
        seed = tomllib.loads((folder / "config.toml").read_text())["seed"]
        assert model_io.load_checkpoint(folder / "model.npz").metadata["config"]["seed"] == seed
        seeds.add(seed)
    assert seeds == set(range(8))
    said = {line.split("saved in ")[1].split("/:")[0] for out, _ in results for line in out.splitlines()
            if line.startswith("saved in ")}
    assert said == {str(Path("runs") / folder.name) for folder in folders}


def test_a_new_run_folder_is_numbered_when_its_name_is_taken(tmp_path, monkeypatch):
    from nablanet.cli.runs import _claim_new

    (tmp_path / "run").mkdir()
    (tmp_path / "run-2").mkdir()
    assert _claim_new(tmp_path / "run") == tmp_path / "run-3"
    assert (tmp_path / "run-3").is_dir()


def test_out_folder_holding_a_run_is_refused_unless_overwrite(tmp_path):
    argv = ["train", "--no-progress", "--set", "data.source=iris", "--set", "train.epochs=1", "--out", tmp_path / "run"]
    assert run(argv)[0] == 0
    before = (tmp_path / "run" / "model.npz").read_bytes()
    status, _, stderr = run(argv + ["--set", "seed=3"])
    assert_one_line_error(status, stderr, "holds another run", "--overwrite")
    assert (tmp_path / "run" / "model.npz").read_bytes() == before
    assert run(argv + ["--set", "seed=3", "--overwrite"])[0] == 0
    assert tomllib.loads((tmp_path / "run" / "config.toml").read_text())["seed"] == 3


def test_out_folder_with_other_files_is_refused_and_left_as_it_was(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    status, _, stderr = run(["train", "--no-progress", "--set", "data.source=iris", "--out", tmp_path])
    assert_one_line_error(status, stderr, "already holds 1 file(s), e.g. notes.txt", "--overwrite")
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("setting, fragment", [
    ("name=../../x", "the run name '../../x' is not a plain folder name"),
    ("name=/abs", "the run name '/abs' is not a plain folder name"),
    ("out=../../etc", "the config's out = '../../etc' is outside the current directory"),
    ("out=/tmp", "the config's out = '/tmp' is outside the current directory"),
])
def test_config_paths_stay_in_the_current_directory(setting, fragment, tmp_path, monkeypatch):
    here = tmp_path / "a" / "b"
    here.mkdir(parents=True)
    monkeypatch.chdir(here)
    status, _, stderr = run(["train", "--no-progress", "--set", "data.source=iris", "--set", setting])
    assert_one_line_error(status, stderr, fragment, "--allow-outside")
    assert sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*")) == [Path("a"), Path("a/b")]


def test_allow_outside_lets_the_config_choose_the_folder(tmp_path, monkeypatch):
    here = tmp_path / "a" / "b"
    here.mkdir(parents=True)
    monkeypatch.chdir(here)
    status, _, stderr = run(["train", "--no-progress", "--set", "data.source=iris", "--set", "train.epochs=1",
                             "--set", "out=../../elsewhere", "--allow-outside"])
    assert status == 0, stderr
    (folder,) = (tmp_path / "elsewhere").iterdir()
    assert (folder / "model.npz").is_file()


def test_a_diverging_run_is_reported_in_one_line(tmp_path):
    status, _, stderr = run(["train", "--set", "optimizer.name=sgd", "--set", "optimizer.lr=1e6",
                             "--set", "train.epochs=1", "--no-progress", "--out", tmp_path])
    assert_one_line_error(status, stderr, "training diverged", "a smaller learning rate")


def test_a_model_too_large_for_the_memory_is_refused_in_one_line_before_allocating(tmp_path):
    status, _, stderr = run(["train", "--no-progress", "--set", f"model.hidden=[{10**12}]", "--out", tmp_path / "out"])
    assert_one_line_error(status, stderr, "nablanet train: error: Dense needs 236.5 TiB for its arrays",
                          "W of shape (64, 1000000000000)", "of memory is available; give it smaller sizes")


def test_running_out_of_memory_while_training_is_one_line(tmp_path, monkeypatch):
    import nablanet.train
    from nablanet.train import LambdaCallback

    real_fit = nablanet.train.fit

    def fit_that_runs_out_of_memory(*args, callbacks=(), **kwargs):
        # A real MemoryError from NumPy, after the first epoch: 2**60 bytes is more than any machine has.
        exhaust = LambdaCallback(on_epoch_end=lambda run, epoch, logs: np.empty(2**60, dtype=np.uint8))
        return real_fit(*args, callbacks=[*callbacks, exhaust], **kwargs)

    monkeypatch.setattr(nablanet.train, "fit", fit_that_runs_out_of_memory)
    status, _, stderr = run(["train", "--no-progress", "--set", "data.source=iris", "--out", tmp_path / "out"])
    assert_one_line_error(status, stderr, "nablanet train: error: out of memory (Unable to allocate 1.00 EiB",
                          "smaller layers, batches (train.batch_size) or data need less")


def _digits_rows(rows=5):
    X = np.random.default_rng(0).uniform(0, 16, size=(rows, 64))
    return X, np.arange(rows) % 10


def _complex_npz(path):
    X, y = _digits_rows()
    np.savez(path, X=X + 1j, y=y)


def _csv_with_nan(path):
    X, y = _digits_rows()
    lines = [",".join([f"x{i}" for i in range(64)] + ["label"])]
    lines += [",".join([str(v) for v in row] + [str(label)]) for row, label in zip(X, y)]
    lines[3] = "nan" + lines[3][lines[3].index(","):]
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("command", ["evaluate", "predict"])
@pytest.mark.parametrize("name, write, fragments", [
    ("complex.npz", _complex_npz, ["Complex data not supported: X is complex128"]),
    ("nan.csv", _csv_with_nan, ["nan.csv, line 4, column 'x0' holds 'nan'; the data must be finite numbers"]),
])
def test_data_a_model_cannot_take_ends_evaluate_and_predict_in_one_line(command, name, write, fragments, main_job,
                                                                         tmp_path):
    write(tmp_path / name)
    argv = [command, main_job[3][0] / "model.npz", tmp_path / name]
    status, _, stderr = run(argv + (["--out", tmp_path / "predictions.csv"] if command == "predict" else []))
    assert_one_line_error(status, stderr, f"nablanet {command}: error:", *fragments)
    assert not (tmp_path / "predictions.csv").exists()


def test_bugs_keep_their_traceback_and_debug_shows_user_errors(monkeypatch):
    def broken(config, task_hint=None):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cfg, "load_data", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["train"])
    with pytest.raises(FileNotFoundError):
        cli.main(["--debug", "train", "no_such.toml"])


def test_errors_through_the_installed_command_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nepoch = 3\n")
    result = subprocess.run([sys.executable, "-m", "nablanet.cli", "train", str(bad)], capture_output=True,
                            text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"nablanet train: error: {bad}: unknown key 'train.epoch'; the keys of [train] "
                                     "are: loss, epochs, batch_size, shuffle, validation_split, l1, l2, metrics, "
                                     "progress, monitor, early_stopping")
    assert result.stdout == ""


# ----------------------------------------------------------------------------------------------
# demo and help
# ----------------------------------------------------------------------------------------------

def test_demo_lists_the_demos_and_runs_autodiff(tmp_path):
    from nablanet.demos import DEMOS

    status, stdout, _ = run(["demo"])
    assert status == 0
    assert all(f"  {name} " in stdout for name in DEMOS)
    for argv in (["autodiff"], ["demo", "autodiff"]):
        out = tmp_path / argv[-1] / str(len(argv))
        status, stdout, stderr = run(argv + ["--out", out])  # options after NAME go to the demo
        assert status == 0, stderr
        assert "f(x) = exp(x^2)" in stdout and "reverse mode" in stdout
        assert any(out.iterdir())


@pytest.mark.parametrize("command", ["train", "evaluate", "predict", "summary", "sweep", "demo"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: nablanet {command}")
    if command == "train":
        assert "optimizer.lr = 0.001" in text and "data.source = \"digits\"" in text
    if command == "demo":
        assert "universal_approximation" in text


def test_train_with_the_monitor_writes_its_report_and_plot(tmp_path):
    from nablanet.cli import main

    out = tmp_path / "run"
    code = main(["train", "--no-progress", "--out", str(out), "--set", "train.epochs=2", "--set", "train.monitor=true",
                 "--set", "model.hidden=[16]"])
    assert code == 0
    report = (out / "monitor.txt").read_text()
    assert "layer" in report and "dead" in report
    assert (out / "monitor.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_monitor_warnings_print_as_one_readable_line_each(tmp_path, capsys):
    from nablanet.cli import main

    code = main(["train", "--no-progress", "--out", str(tmp_path / "run"), "--set", "train.epochs=1",
                 "--set", "train.monitor=true", "--set", "model.hidden=[16, 16, 16, 16, 16, 16]",
                 "--set", "model.activation=sigmoid", "--set", "optimizer.lr=0.5"])
    assert code == 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and all(line.startswith("nablanet train: warning: ") for line in lines), lines
    assert any("saturated" in line for line in lines)
    assert not any("warnings.warn" in line or "Warning:" in line for line in lines)
