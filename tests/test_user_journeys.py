"""Four users' sessions end to end, each through a subprocess as the user runs it, asserting what they would read.

A scientist with a CSV of text columns written by pandas; a Keras user's script; a scikit-learn user's
pipeline; a notebook session. Each journey runs as one program, so that it uses the installed command
and the public API only, as the user does.
"""

import csv
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris

REPO = Path(__file__).resolve().parents[1]
ENVIRONMENT = dict(os.environ, PYTHONPATH=str(REPO / "src"))


def nablanet(*arguments, cwd) -> str:
    """`python -m nablanet ARGUMENTS` in ``cwd``; its stdout (a failure shows stderr)."""
    result = subprocess.run([sys.executable, "-m", "nablanet", *map(str, arguments)], cwd=cwd, env=ENVIRONMENT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def python(script: str, cwd) -> str:
    """A user's script run with ``python``; its stdout (a failure shows stderr)."""
    path = Path(cwd) / "script.py"
    path.write_text(textwrap.dedent(script))
    result = subprocess.run([sys.executable, path], cwd=cwd, env=ENVIRONMENT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_scientists_csv_with_text_columns_and_a_pandas_index(tmp_path):
    """Iris as pandas' to_csv writes it (an unnamed index column), a text target and a text feature."""
    iris = load_iris()
    rng = np.random.default_rng(0)
    names = list(iris.feature_names)
    with open(tmp_path / "flowers.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["", *names, "site", "species"])
        for i, (x, t) in enumerate(zip(iris.data, iris.target)):
            writer.writerow([i, *x, rng.choice(["north", "south", "east"]), iris.target_names[t]])
    with open(tmp_path / "new.csv", "w", newline="") as handle:  # the columns in another order
        writer = csv.writer(handle)
        writer.writerow(["site", *names[::-1]])
        for x in iris.data[::50]:
            writer.writerow(["north", *x[::-1]])

    out = nablanet("train", "flowers.csv", "--target", "species", "--no-progress", "--set", "train.epochs=60",
                   cwd=tmp_path)
    assert "its unnamed first column, an index as pandas writes, dropped" in out
    assert "target: 3 classes (setosa, versicolor, virginica); one-hot: site (3 categories)" in out
    assert "Dense(7 -> " in out  # 4 measurements + 3 sites, no index
    accuracy = float(out.split("accuracy ")[1].split()[0].rstrip(","))
    assert accuracy >= 0.9, out
    (model,) = (tmp_path / "nablanet-runs").glob("flowers-*/model.npz")

    nablanet("predict", model, "new.csv", "--out", "predictions.csv", cwd=tmp_path)
    with open(tmp_path / "predictions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["predicted_class"] for row in rows] == ["setosa", "versicolor", "virginica"]
    assert set(rows[0]) == {"predicted_class", "probability_setosa", "probability_versicolor",
                            "probability_virginica"}

    evaluated = nablanet("evaluate", model, "flowers.csv", cwd=tmp_path)
    (line,) = [line for line in evaluated.splitlines() if line.split()[:1] == ["accuracy"]]
    assert float(line.split()[1]) == pytest.approx(accuracy, abs=5e-5), evaluated  # the same test part
