"""nablanet train's figures: the confusion matrix names the classes when the data set knows them."""

import contextlib
import io
from pathlib import Path

import pytest

from nablanet import cli, plot
from nablanet.datasets import DATASETS

CONFIGS = Path(__file__).resolve().parents[2] / "examples" / "configs"


@pytest.mark.parametrize("name, classes", [
    ("iris", ["setosa", "versicolor", "virginica"]),
    ("digits", [str(digit) for digit in range(10)]),
    ("breast_cancer", ["malignant", "benign"]),
])
def test_the_bundled_tables_name_their_classes(name, classes):
    assert DATASETS[name].load({"seed": 0, "n_samples": 0}).label_names == classes


def test_the_confusion_matrix_of_iris_names_the_species(tmp_path, monkeypatch):
    drawn = []
    confusion_matrix = plot.confusion_matrix

    def recording(matrix, *args, **kwargs):
        drawn.append(confusion_matrix(matrix, *args, **kwargs))
        return drawn[-1]

    monkeypatch.setattr(plot, "confusion_matrix", recording)
    monkeypatch.chdir(tmp_path)
    stderr = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
        status = cli.main(["train", str(CONFIGS / "iris.toml"), "--out", "run", "--no-progress",
                           "--set", "train.epochs=2"])
    assert status == 0, stderr.getvalue()
    assert (tmp_path / "run" / "confusion_matrix.png").is_file()
    (figure,) = drawn
    ax = figure.axes[0]
    assert [label.get_text() for label in ax.get_xticklabels()] == ["setosa", "versicolor", "virginica"]
    assert [label.get_text() for label in ax.get_yticklabels()] == ["setosa", "versicolor", "virginica"]
