"""Four users' sessions end to end, each through a subprocess as the user runs it, asserting what they would read.

A scientist with a CSV of text columns written by pandas; a Keras user's scripts (callbacks, then a
functional model with two outputs); a scikit-learn user's pipeline in a grid search with sample weights; a
notebook session. Each journey runs as one program, so that it uses the installed command
and the public API only, as the user does.
"""

import ast
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
    assert "model: Dense(7, " in out  # 4 measurements + 3 sites, no index
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


def test_a_notebook_session_with_summary_reprs_and_seeds(tmp_path):
    """A student's notebook: build a CNN, look at it, train it twice from one seed, get the same numbers."""
    out = python("""
        import numpy as np
        import nablanet
        import nablanet.nn as nn
        from nablanet.train import fit, predict

        def run():
            nablanet.seed(0)
            model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, activation="relu"), nn.MaxPool2d(2),
                                  nn.Flatten(), nn.Dense(4 * 4 * 4, 3))
            X = np.random.default_rng(1).standard_normal((30, 1, 8, 8)).astype(np.float32)
            y = np.arange(30) % 3
            model.eval()
            history = fit(model, X, y, loss="cross_entropy", optimizer="adam", lr=1e-2, epochs=3, progress=False)
            return model, history, predict(model, X)

        model, history, first = run()
        print(repr(model))
        model.summary(input_shape=(1, 8, 8))
        print("html:", model._repr_html_().startswith("<table"))
        print("eval mode after fit:", not model.training)
        _, again, second = run()
        print("same predictions:", np.array_equal(first, second), "same losses:", history["loss"] == again["loss"])
        print(history)
    """, tmp_path)
    assert "Conv2d(1, 4, kernel_size=3, stride=1, padding=1, activation='relu')," in out
    assert "MaxPool2d(kernel_size=2, stride=None, padding=0)," in out
    assert "layers.0 (Conv2d)" in out and "(None, 4, 8, 8)" in out and "Total params: 235" in out
    assert "html: True" in out
    assert "eval mode after fit: True" in out
    assert "same predictions: True same losses: True" in out
    assert "History(3 epochs; last: loss=" in out


def test_a_keras_users_script_with_string_optimizer_and_callbacks(tmp_path):
    """Keras habits: optimizer by name, Keras' loss name, ModelCheckpoint, CSVLogger, ReduceLROnPlateau."""
    out = python("""
        import csv
        import numpy as np
        import nablanet
        import nablanet.nn as nn
        from nablanet import io
        from nablanet.train import CSVLogger, ModelCheckpoint, ReduceLROnPlateau, TerminateOnNaN, fit
        from sklearn.datasets import load_digits

        digits = load_digits()
        X, y = (digits.data / 16.0).astype(np.float32), digits.target
        nablanet.seed(0)
        model = nn.Sequential(nn.Dense(64, 32, activation="relu"), nn.Dense(32, 10))
        history = fit(model, X, y, loss="sparse_categorical_crossentropy", optimizer="Adam", lr=3e-3, epochs=6,
                      batch_size=64, validation_split=0.2, progress=False, seed=0,
                      callbacks=[ModelCheckpoint("checkpoints/best.npz", monitor="val_loss", save_best_only=True),
                                 CSVLogger("log.csv"), ReduceLROnPlateau(patience=1), TerminateOnNaN()])
        best = io.load("checkpoints/best.npz")
        rows = list(csv.DictReader(open("log.csv")))
        print("epochs logged:", len(rows), "columns:", sorted(rows[0]))
        print("val_accuracy:", round(history["val_accuracy"][-1], 3))
        print("best checkpoint val_loss:", min(history["val_loss"]) == min(float(r["val_loss"]) for r in rows))
        history.to_csv("history.csv")
        print("history.csv rows:", len(list(csv.DictReader(open("history.csv")))))
    """, tmp_path)
    assert "epochs logged: 6" in out
    assert "'val_accuracy'" in out and "'val_loss'" in out
    accuracy = float(out.split("val_accuracy: ")[1].split()[0])
    assert accuracy >= 0.85, out
    assert "best checkpoint val_loss: True" in out
    assert "history.csv rows: 6" in out
    assert (tmp_path / "checkpoints" / "best.npz").is_file()


def test_a_keras_users_functional_model_with_two_outputs(tmp_path):
    """A Module returning a dict of two outputs, a loss and a loss weight each, optimizer by name, callbacks."""
    out = python("""
        import csv
        import numpy as np
        import nablanet
        import nablanet.nn as nn
        from nablanet.train import CSVLogger, EarlyStopping, ReduceLROnPlateau, fit, predict
        from sklearn.datasets import load_digits

        class DigitAndParity(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Dense(64, 32, activation="relu")
                self.digit = nn.Dense(32, 10)
                self.odd = nn.Dense(32, 1, activation="sigmoid")

            def forward(self, x):
                hidden = self.body(x)
                return {"digit": self.digit(hidden), "odd": self.odd(hidden)}

        digits = load_digits()
        X, t = (digits.data / 16.0).astype(np.float32), digits.target
        nablanet.seed(0)
        model = DigitAndParity()
        history = fit(model, X, {"digit": t, "odd": t % 2},
                      loss={"digit": "sparse_categorical_crossentropy", "odd": "binary_crossentropy"},
                      loss_weights={"digit": 1.0, "odd": 0.5}, optimizer="adam", lr=3e-3, epochs=8, batch_size=64,
                      validation_split=0.2, seed=0, progress=False,
                      callbacks=[EarlyStopping("val_digit_accuracy", patience=3, restore_best_weights=True),
                                 ReduceLROnPlateau(patience=2), CSVLogger("log.csv")])
        print("keys:", list(history.keys()))
        for output in ("digit", "odd"):
            losses = history[f"{output}_loss"]
            print(f"{output}: loss {losses[0]:.3f} -> {losses[-1]:.3f}, "
                  f"val_accuracy {history[f'val_{output}_accuracy'][-1]:.3f}")
        outputs = predict(model, X[:5])
        print("predict:", {name: value.shape for name, value in sorted(outputs.items())})
        print("log columns:", sorted(next(csv.DictReader(open("log.csv")))))
    """, tmp_path)
    assert ("keys: ['loss', 'data_loss', 'penalty', 'digit_loss', 'odd_loss', 'digit_accuracy', 'odd_accuracy', "
            "'val_loss', 'val_digit_loss', 'val_odd_loss', 'val_digit_accuracy', 'val_odd_accuracy', 'lr']") in out
    for output, least in (("digit", 0.85), ("odd", 0.85)):
        line = out.split(f"{output}: loss ")[1].splitlines()[0]
        first, last = (float(value.rstrip(",")) for value in line.split()[:3:2])
        assert last < first / 2, out  # each output learns, not only the one the total favours
        assert float(line.split("val_accuracy ")[1]) >= least, out
    assert "predict: {'digit': (5, 10), 'odd': (5, 1)}" in out
    assert "'val_digit_accuracy'" in out.split("log columns:")[1]


def test_a_scikit_learn_pipeline_in_grid_search_with_sample_weights(tmp_path):
    """StandardScaler + nablanet's MLPClassifier in GridSearchCV, the weights routed to the network: as
    ``fit(X, y, mlpclassifier__sample_weight=w)``, and by scikit-learn 1.9's metadata routing (fit and score)."""
    out = python("""
        import warnings
        import numpy as np
        import sklearn
        from sklearn.datasets import load_breast_cancer
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.model_selection import GridSearchCV, train_test_split
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from nablanet.sklearn import MLPClassifier

        warnings.simplefilter("ignore", ConvergenceWarning)
        X, y = load_breast_cancer(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
        settings = dict(max_iter=100, learning_rate_init=1e-2, random_state=0)
        pipeline = make_pipeline(StandardScaler(), MLPClassifier(**settings))
        grid = {"mlpclassifier__hidden_layer_sizes": [(4,), (16,)], "mlpclassifier__alpha": [1e-4, 1.0]}

        malignant_twice = np.where(y_train == 0, 2.0, 1.0)  # class 0, malignant, counts twice
        search = GridSearchCV(pipeline, grid, cv=3)
        search.fit(X_train, y_train, mlpclassifier__sample_weight=malignant_twice)
        print("best params:", search.best_params_)
        refit = search.best_estimator_.get_params()
        print("refit with them:", {key: refit[key] for key in grid} == search.best_params_)
        print(f"cv accuracy {search.best_score_:.3f}, test accuracy {search.score(X_test, y_test):.3f}")

        unweighted = GridSearchCV(pipeline, grid, cv=3).fit(X_train, y_train)
        no_malignant = (y_train != 0).astype(float)  # class 0 weighs nothing
        ignoring = GridSearchCV(pipeline, grid, cv=3).fit(X_train, y_train, mlpclassifier__sample_weight=no_malignant)
        counts = [int(np.sum(fitted.predict(X_test) == 0)) for fitted in (search, unweighted, ignoring)]
        print(f"malignant predicted in the test set (of {np.sum(y_test == 0)}): {counts[0]} counting twice, "
              f"{counts[1]} unweighted, {counts[2]} counting nothing")

        with sklearn.config_context(enable_metadata_routing=True):
            network = MLPClassifier(**settings).set_fit_request(sample_weight=True)
            routed = make_pipeline(StandardScaler().set_fit_request(sample_weight=False),
                                   network.set_score_request(sample_weight=True))
            routed_search = GridSearchCV(routed, grid, cv=3).fit(X_train, y_train, sample_weight=malignant_twice)
        print(f"routed: weighted cv accuracy {routed_search.best_score_:.3f}")
        print("routed fits equal:", np.array_equal(routed_search.best_estimator_.predict_proba(X_test),
                                                   search.best_estimator_.predict_proba(X_test))
              if routed_search.best_params_ == search.best_params_ else "other best params")
    """, tmp_path)
    best = ast.literal_eval(out.split("best params: ")[1].splitlines()[0])
    assert sorted(best) == ["mlpclassifier__alpha", "mlpclassifier__hidden_layer_sizes"], out
    assert best["mlpclassifier__alpha"] in (1e-4, 1.0) and best["mlpclassifier__hidden_layer_sizes"] in ((4,), (16,))
    assert "refit with them: True" in out
    cv_accuracy, test_accuracy = (float(part.split()[-1]) for part in out.split("cv accuracy ")[1].splitlines()[0]
                                  .split(","))
    assert cv_accuracy >= 0.93 and test_accuracy >= 0.93, out
    line = out.split("malignant predicted in the test set (of ")[1].splitlines()[0]
    malignant, twice, unweighted, nothing = (int(word) for word in line.replace(")", "").replace(":", "").split()
                                            if word.isdigit())
    # The weights of class 0 move the networks' decisions towards it: more with weight 2, far fewer with 0.
    assert twice >= unweighted > nothing and malignant > 0, out
    assert float(out.split("weighted cv accuracy ")[1].split()[0]) >= 0.93, out
    assert "routed fits equal: True" in out or "routed fits equal: other best params" in out
