"""`nablanet train`, `evaluate` and `predict` on a scientist's own CSV files: text classes and text features,
the index column pandas' to_csv writes, feature columns named in the config, a model saved from Python with
its preprocessing, and new files whose columns are reordered or renamed."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris

import nablanet
import nablanet.nn as nn
from nablanet import cli
from nablanet import io as model_io
from nablanet.optim import Adam
from nablanet.preprocessing import Preprocessor, StandardScaler

IRIS = load_iris()
FEATURES = list(IRIS.feature_names)
SITES = ["north", "south", "east"]


def write_csv(path, header, rows):
    """A CSV as the csv module writes it (pandas is not needed: its index is a first column with no name)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def iris_rows(index: bool = True, site: bool = True, names: bool = True):
    """Iris as a scientist's CSV holds it: measurements, a text column and the species by name."""
    rows = []
    for i, (x, label) in enumerate(zip(IRIS.data, IRIS.target)):
        rows.append(([i] if index else []) + [repr(float(v)) for v in x] + ([SITES[i % 3]] if site else [])
                    + [IRIS.target_names[label] if names else int(label)])
    return rows


def command(argv, capsys) -> tuple:
    """cli.main(argv): its exit status and what it printed on stdout and stderr."""
    status = cli.main([str(a) for a in argv])
    printed = capsys.readouterr()
    return status, printed.out, printed.err


def read_table(path) -> list:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    """`nablanet train iris.csv` in a subprocess, on iris written with pandas' index, a text column and text classes."""
    folder = tmp_path_factory.mktemp("iris")
    data = write_csv(folder / "iris.csv", ["", *FEATURES, "site", "species"], iris_rows())
    # The subprocess runs the nablanet this test imports, from any folder.
    env = dict(os.environ, PYTHONPATH=str(Path(nablanet.__file__).parents[1]))
    result = subprocess.run([sys.executable, "-m", "nablanet", "train", str(data), "--out", str(folder / "run"),
                             "--no-progress", "--set", "train.epochs=60", "--set", "model.hidden=[16]",
                             "--set", "optimizer.lr=0.01"],
                            capture_output=True, text=True, timeout=300, cwd=folder, env=env)
    return folder, result


def test_a_csv_with_text_classes_a_text_column_and_an_index_trains(iris_run):
    folder, result = iris_run
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # The index is dropped and said so; the species (the last column, as no --target names one) are classes.
    assert lines[0].startswith("data: ") and "its unnamed first column, an index as pandas writes, dropped" in lines[0]
    assert lines[1] == ("preprocessing: target: 3 classes (setosa, versicolor, virginica); one-hot: site "
                        "(3 categories); standardized: 4 columns")
    assert lines[2].startswith("model: Dense(7, 16,")  # 4 measurements and 3 sites, not the index
    checkpoint = model_io.load_checkpoint(folder / "run" / "model.npz")
    assert checkpoint.metadata["config"]["data"]["target"] == "species"
    assert checkpoint.metadata["scores"]["accuracy"] >= 0.9
    preprocessing = checkpoint.preprocessing
    assert preprocessing.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert preprocessing.feature_names_in_ == FEATURES + ["site"]


def test_predict_names_the_classes_and_reads_reordered_columns_by_name(iris_run, capsys):
    folder, _ = iris_run
    model = folder / "run" / "model.npz"
    header = FEATURES + ["site"]
    rows = [row[1:-1] for row in iris_rows()]
    order = [4, 2, 0, 3, 1]
    write_csv(folder / "new.csv", header, rows)
    write_csv(folder / "reordered.csv", [header[j] for j in order], [[row[j] for j in order] for row in rows])
    tables = {}
    for name in ("new", "reordered"):
        status, stdout, stderr = command(["predict", model, folder / f"{name}.csv", "--out", folder / f"{name}_p.csv"],
                                         capsys)
        assert status == 0, stderr
        tables[name] = read_table(folder / f"{name}_p.csv")
    assert tables["new"][0] == ["predicted_class", "probability_setosa", "probability_versicolor",
                                "probability_virginica"]
    assert tables["reordered"] == tables["new"]
    predicted = [row[0] for row in tables["new"][1:]]
    assert set(predicted) <= set(IRIS.target_names)
    assert np.mean(np.array(predicted) == IRIS.target_names[IRIS.target]) >= 0.9
    # With the species in the file, evaluate scores the reordered file as the original.
    write_csv(folder / "reordered_labelled.csv", [header[j] for j in order] + ["species"],
              [[row[1:-1][j] for j in order] + [row[-1]] for row in iris_rows()])
    scores = {}
    for data in (folder / "iris.csv", folder / "reordered_labelled.csv"):
        status, stdout, stderr = command(["evaluate", model, data, "--split", "all"], capsys)
        assert status == 0, stderr
        scores[data.name] = stdout.splitlines()[1:]
    assert scores["iris.csv"] == scores["reordered_labelled.csv"]
    status, _, stderr = command(["predict", model, folder / "reordered_labelled.csv", "--out", folder / "l.csv"], capsys)
    assert status == 0, stderr
    assert read_table(folder / "l.csv")[1][0] == "setosa"  # the target column, by its name


def test_renamed_or_missing_columns_are_refused_naming_them(iris_run, capsys):
    folder, _ = iris_run
    model = folder / "run" / "model.npz"
    renamed = ["petal_width" if name == "petal width (cm)" else name for name in FEATURES] + ["site"]
    write_csv(folder / "renamed.csv", renamed, [row[1:-1] for row in iris_rows()])
    write_csv(folder / "no_site.csv", FEATURES, [row[1:-2] for row in iris_rows()])
    for data, fragment in ((folder / "renamed.csv", "lack the column 'petal width (cm)' and have the unexpected "
                                                    "column 'petal_width'"),
                           (folder / "no_site.csv", "lack the column 'site';")):
        status, _, stderr = command(["predict", model, data, "--out", folder / "never.csv"], capsys)
        assert status == 1 and len(stderr.strip().splitlines()) == 1, stderr
        assert fragment in stderr and "the model's inputs are the columns 'sepal length (cm)'" in stderr
    write_csv(folder / "rose.csv", FEATURES + ["site", "species"], [row[1:-1] + ["rose"] for row in iris_rows()])
    status, _, stderr = command(["evaluate", model, folder / "rose.csv"], capsys)
    assert status == 1 and "found unknown classes ['rose']" in stderr and "'setosa', 'versicolor'" in stderr


def test_an_unnamed_index_column_is_dropped_from_numeric_data_too(tmp_path, capsys):
    data = write_csv(tmp_path / "iris.csv", ["", *FEATURES, "label"], iris_rows(site=False, names=False))
    status, stdout, stderr = command(["train", data, "--target", "label", "--out", tmp_path / "run", "--no-progress",
                                      "--set", "train.epochs=1", "--set", "model.hidden=[8]"], capsys)
    assert status == 0, stderr
    assert "(150 rows; its unnamed first column, an index as pandas writes, dropped)" in stdout
    assert "model: Dense(4, 8," in stdout and "preprocessing:" not in stdout
    assert model_io.load_checkpoint(tmp_path / "run" / "model.npz").preprocessing.feature_names_in_ == FEATURES


def test_the_config_names_the_feature_columns_and_the_categorical_ones(tmp_path, capsys):
    rows = [row[:-2] + [str(SITES.index(row[-2]) + 1), row[-1]] for row in iris_rows()]
    write_csv(tmp_path / "iris.csv", ["", *FEATURES, "site code", "species"], rows)
    config = tmp_path / "iris.toml"
    config.write_text('[data]\nsource = "iris.csv"\ntarget = "species"\n'
                      'features = ["petal width (cm)", "site code", "petal length (cm)"]\ncategorical = ["site code"]\n'
                      '[model]\nhidden = [8]\n[train]\nepochs = 1\n')
    status, stdout, stderr = command(["train", config, "--out", tmp_path / "run", "--no-progress"], capsys)
    assert status == 0, stderr
    assert "one-hot: site code (3 categories); standardized: 2 columns" in stdout
    assert "model: Dense(5, 8," in stdout
    prep = model_io.load_checkpoint(tmp_path / "run" / "model.npz").preprocessing
    assert prep.feature_names_in_ == ["petal width (cm)", "site code", "petal length (cm)"]
    assert prep.encoder_.categories_[0].tolist() == ["1", "2", "3"]  # read as text, as written
    for setting, fragment in (("data.features=['petal']", "data.features names 'petal', but "),
                              ("data.features=['species']", "data.features names the target column 'species'"),
                              ("data.categorical=['zone']", "data.categorical names 'zone', but ")):
        status, _, stderr = command(["train", config, "--set", setting, "--out", tmp_path / "never"], capsys)
        assert status == 1 and fragment in stderr, stderr


@pytest.mark.parametrize("cells, fragment", [
    (["5.1", "?", "4.7"], "line 3, column 'sepal' holds '?', which is not a number (most of the column's cells are)"),
    (["red", "7", "blue"], "line 3, column 'sepal' holds the number '7' among text; name the column in "
                           "data.categorical"),
    (["5.1", "", "4.7"], "line 3, column 'sepal' is empty"),
])
def test_a_column_mixing_numbers_and_text_is_refused_naming_the_cell(cells, fragment, tmp_path, capsys):
    data = write_csv(tmp_path / "mixed.csv", ["sepal", "species"], [[cell, "setosa"] for cell in cells])
    status, _, stderr = command(["train", data, "--out", tmp_path / "never"], capsys)
    assert status == 1 and len(stderr.strip().splitlines()) == 1 and fragment in stderr, stderr


def python_iris_model():
    """Iris trained from Python on standardized inputs, as the README's network is."""
    X, y = IRIS.data.astype(np.float32), IRIS.target
    scaler = StandardScaler().fit(X)
    model = nn.Sequential(nn.Dense(4, 16, activation="relu", rng=0), nn.Dense(16, 3, rng=1))
    nablanet.fit(model, scaler.transform(X), y, loss="cross_entropy", epochs=20, batch_size=16,
                 optimizer=Adam(model.parameters(), lr=1e-2), seed=0, progress=False)
    return model, scaler


def evaluated_loss(stdout: str) -> float:
    return float(next(line.split()[1] for line in stdout.splitlines() if line.split()[:1] == ["loss"]))


def test_a_model_saved_from_python_with_its_scaler_is_evaluated_on_prepared_inputs(tmp_path, capsys):
    model, scaler = python_iris_model()
    expected = nablanet.evaluate(model, scaler.transform(IRIS.data.astype(np.float32)), IRIS.target, "cross_entropy")
    raw = nablanet.evaluate(model, IRIS.data.astype(np.float32), IRIS.target, "cross_entropy")
    assert raw["loss"] > 2 * expected["loss"]  # what evaluate printed when the scaling was not saved
    nablanet.save(tmp_path / "model.npz", model, preprocessing=scaler)
    status, stdout, stderr = command(["evaluate", tmp_path / "model.npz", "iris"], capsys)
    assert status == 0, stderr
    assert evaluated_loss(stdout) == pytest.approx(expected["loss"], rel=1e-5)
    status, _, stderr = command(["predict", tmp_path / "model.npz", "iris", "--out", tmp_path / "p.csv"], capsys)
    assert status == 0, stderr
    table = np.array(read_table(tmp_path / "p.csv")[1:], dtype=float)
    logits = nablanet.predict(model, scaler.transform(IRIS.data.astype(np.float32)))
    np.testing.assert_array_equal(table[:, 1], logits.argmax(axis=1))


def test_a_python_model_saved_with_a_preprocessor_reads_a_csv_with_text_by_name(tmp_path, capsys):
    rows = iris_rows(index=False)
    table = np.array([[float(v) for v in row[:4]] + [row[4]] for row in rows], dtype=object)
    species = np.array([row[-1] for row in rows])
    prep = Preprocessor().fit(table, species, feature_names=FEATURES + ["site"])
    model = nn.Sequential(nn.Dense(prep.n_features_out_, 3, rng=0))
    X, y = prep.transform(table), prep.encode_targets(species)
    nablanet.fit(model, X, y, loss="cross_entropy", epochs=10, optimizer=Adam(model.parameters(), lr=1e-2), seed=0,
                 progress=False)
    nablanet.save(tmp_path / "model.npz", model, preprocessing=prep)
    expected = nablanet.evaluate(model, X, y, "cross_entropy")["loss"]
    order = [5, 4, 0, 3, 1, 2]
    header = FEATURES + ["site", "species"]
    data = write_csv(tmp_path / "reordered.csv", [header[j] for j in order], [[row[j] for j in order] for row in rows])
    status, stdout, stderr = command(["evaluate", tmp_path / "model.npz", data, "--set", "data.target=species"], capsys)
    assert status == 0, stderr
    assert evaluated_loss(stdout) == pytest.approx(expected, rel=1e-5)
    status, _, stderr = command(["predict", tmp_path / "model.npz", data, "--set", "data.target=species",
                                 "--out", tmp_path / "p.csv"], capsys)
    assert status == 0, stderr
    assert read_table(tmp_path / "p.csv")[0][:3] == ["target", "predicted_class", "probability_setosa"]


def test_a_python_model_saved_without_preprocessing_refuses_text(tmp_path, capsys):
    model, _ = python_iris_model()
    nablanet.save(tmp_path / "model.npz", model)
    data = write_csv(tmp_path / "iris.csv", FEATURES + ["species"], iris_rows(index=False, site=False))
    status, _, stderr = command(["evaluate", tmp_path / "model.npz", data, "--set", "data.target=species"], capsys)
    assert status == 1 and "the model records no class names" in stderr, stderr


def test_the_confusion_matrix_of_text_classes_names_them(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    from nablanet import plot

    drawn = []
    draw = plot.confusion_matrix
    monkeypatch.setattr(plot, "confusion_matrix", lambda matrix, **options: drawn.append(options) or draw(matrix, **options))
    data = write_csv(tmp_path / "iris.csv", FEATURES + ["species"], iris_rows(index=False, site=False))
    status, _, stderr = command(["train", data, "--out", tmp_path / "run", "--no-progress", "--set", "train.epochs=1",
                                 "--set", "model.hidden=[8]"], capsys)
    assert status == 0, stderr
    assert drawn == [{"class_names": ["setosa", "versicolor", "virginica"]}]
