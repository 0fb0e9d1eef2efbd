"""nablanet predict's class probabilities: the library's softmax and sigmoid of the network's outputs."""

import contextlib
import csv
import io

import numpy as np

from nablanet import cli
from nablanet import io as model_io
from nablanet.cli.predict import class_probabilities
from nablanet.cli.runs import SavedRun
from nablanet.config import Task
from nablanet.nn import functional as F
from nablanet.train import predict


def task(n_outputs, output_activation="identity", loss="cross_entropy"):
    return Task("classification", loss, n_outputs, max(n_outputs, 2), output_activation, ["accuracy"])


def test_several_outputs_are_logits_whose_softmax_is_the_probability():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(50, 4)).astype(np.float32)
    logits[0] = [1000.0, 0.0, -1000.0, 3.0]   # would overflow exp without the max-subtraction
    probabilities, classes = class_probabilities(logits, task(4))
    np.testing.assert_array_equal(probabilities, F.softmax(logits.astype(np.float64), axis=1))
    assert probabilities.dtype == np.float64 and np.all(np.isfinite(probabilities))
    np.testing.assert_array_equal(probabilities[0], [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(classes, logits.argmax(axis=1))


def test_one_output_is_a_logit_or_a_margin_unless_the_network_ends_in_a_sigmoid():
    z = np.array([[-800.0], [-2.0], [0.0], [0.3], [5.0]], dtype=np.float32)
    for loss in ("binary_cross_entropy_with_logits", "hinge"):
        probabilities, classes = class_probabilities(z, task(1, "identity", loss))
        p = F.sigmoid(z[:, 0].astype(np.float64))
        np.testing.assert_array_equal(probabilities, np.column_stack([1.0 - p, p]))
        np.testing.assert_array_equal(classes, [0, 0, 0, 1, 1])
    a = np.array([[0.1], [0.5], [0.9]])
    probabilities, classes = class_probabilities(a, task(1, "sigmoid", "binary_cross_entropy"))
    np.testing.assert_array_equal(probabilities[:, 1], a[:, 0])
    np.testing.assert_array_equal(classes, [0, 0, 1])


def test_the_csv_holds_the_softmax_of_the_saved_models_outputs(tmp_path):
    run = tmp_path / "run"
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["train", "--out", str(run), "--no-progress", "--set", "data.source=iris",
                         "--set", "train.epochs=3", "--set", "model.hidden=[8]"]) == 0
        assert cli.main(["predict", str(run / "model.npz"), "iris", "--out", str(tmp_path / "p.csv")]) == 0
    with open(tmp_path / "p.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    table = np.array(rows[1:], dtype=float)
    checkpoint = model_io.load_checkpoint(run / "model.npz")
    saved = SavedRun(run / "model.npz")
    X, _, _ = saved.data("iris", None, [], require_targets=True)
    logits = predict(checkpoint.model, saved.prepared(X)).astype(np.float64)
    np.testing.assert_allclose(table[:, 2:], F.softmax(logits, axis=1), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(table[:, 1], logits.argmax(axis=1))


def test_a_network_ending_in_the_sigmoid_by_another_name_outputs_probabilities(tmp_path):
    # "logistic" is the sigmoid's other name in nn.functional: its outputs are probabilities already, and
    # taking the sigmoid again would put every probability in (1/2, 0.73) and every prediction in class 1.
    run = tmp_path / "run"
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["train", "--out", str(run), "--no-progress", "--set", "data.source=xor",
                         "--set", "train.loss=binary_cross_entropy", "--set", "model.output_activation=logistic",
                         "--set", "train.epochs=1"]) == 0
        assert cli.main(["predict", str(run / "model.npz"), "xor", "--split", "all", "--out", str(tmp_path / "p.csv")]) == 0
    with open(tmp_path / "p.csv", newline="") as handle:
        table = np.array(list(csv.reader(handle))[1:], dtype=float)
    saved = SavedRun(run / "model.npz")
    X, _, _ = saved.data("xor", "all", [], require_targets=True)
    a = predict(saved.model, saved.prepared(X))[:, 0].astype(np.float64)
    np.testing.assert_allclose(table[:, 3], a, rtol=1e-6)
    np.testing.assert_array_equal(table[:, 1], a > 0.5)
