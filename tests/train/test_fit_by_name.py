"""fit with Keras' habits: an optimizer by name (any case) with lr= or a dict of settings, Keras' loss names as
aliases that compute exactly the registered losses, and the same names through the estimators and a config."""

import contextlib
import io

import numpy as np
import pytest

import nablanet.nn as nn
from nablanet import cli
from nablanet.nn import functional as F
from nablanet.optim import OPTIMIZERS, Adam, get_optimizer
from nablanet.train import evaluate, fit


def _data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    labels = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 0.5)
    return X, labels


def _model(outputs=3, activation="identity"):
    return nn.Sequential(nn.Dense(3, 5, activation="tanh", rng=0), nn.Dense(5, outputs, activation=activation, rng=1))


def _weights(model):
    return [parameter.data.copy() for parameter in model.parameters()]


def _fit(model, optimizer, loss="cross_entropy", X=None, y=None, **settings):
    if X is None:
        X, y = _data()
    return fit(model, X, y, loss=loss, optimizer=optimizer, epochs=3, batch_size=8, seed=0, progress=False,
               **settings)


# --- optimizers by name ----------------------------------------------------------------------------------------

# Every optimizer a minibatch fit can step (L-BFGS needs a closure over the whole data set).
MINIBATCH_OPTIMIZERS = [name for name, record in OPTIMIZERS.items() if not record.needs_closure]


@pytest.mark.parametrize("name", MINIBATCH_OPTIMIZERS)
def test_an_optimizer_name_in_any_case_trains_as_the_optimizer_built_by_hand(name):
    by_hand, by_name = _model(), _model()
    expected = _fit(by_hand, get_optimizer(name, by_hand.parameters(), lr=0.05))
    history = _fit(by_name, name.upper(), lr=0.05)
    assert history.history == expected.history
    for ours, theirs in zip(_weights(by_name), _weights(by_hand)):
        np.testing.assert_array_equal(ours, theirs)


def test_an_optimizer_name_without_lr_takes_the_classes_default():
    by_hand, by_name = _model(), _model()
    expected = _fit(by_hand, Adam(by_hand.parameters()))
    history = _fit(by_name, "adam")
    assert history["lr"] == expected["lr"] == [1e-3] * 3
    assert history.history == expected.history


def test_an_optimizer_as_a_dict_of_its_name_and_settings():
    by_hand, by_dict = _model(), _model()
    expected = _fit(by_hand, get_optimizer("sgd", by_hand.parameters(), lr=0.1, momentum=0.8, nesterov=True))
    history = _fit(by_dict, {"name": "SGD", "lr": 0.1, "momentum": 0.8, "nesterov": True})
    assert history.history == expected.history
    # lr= beside a dict without one sets it too.
    by_keyword = _model()
    assert _fit(by_keyword, {"name": "sgd", "momentum": 0.8, "nesterov": True}, lr=0.1).history == expected.history


def test_optimizer_names_and_settings_that_fit_refuses():
    model = _model()
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'; known: sgd, gd, momentum, nesterov, adagrad, "
                                         "rmsprop, adam, adamw"):
        _fit(model, "adamm")
    with pytest.raises(ValueError, match="takes no argument 'learning_rate'; it takes lr, beta1"):
        _fit(model, {"name": "adam", "learning_rate": 0.01})
    with pytest.raises(ValueError, match="needs its 'name'"):
        _fit(model, {"lr": 0.01})
    with pytest.raises(ValueError, match="lr given both in the dict and as a keyword"):
        _fit(model, {"name": "adam", "lr": 0.01}, lr=0.1)
    with pytest.raises(ValueError, match=r"lr=0.1 applies to an optimizer given by name .* this Adam is built "
                                         r"already: set it where it is built, Adam\(model.parameters\(\), lr=0.1\)"):
        _fit(model, Adam(model.parameters()), lr=0.1)


# --- Keras' loss names ---------------------------------------------------------------------------------------

# Keras' name -> the registered loss it is an alias of.
KERAS_LOSSES = {
    "mean_squared_error": "mse",
    "mean_absolute_error": "mae",
    "huber": "huber",
    "hinge": "hinge",
    "binary_crossentropy": "binary_cross_entropy",
    "sparse_categorical_crossentropy": "cross_entropy",
    "categorical_crossentropy": "cross_entropy",
}


@pytest.mark.parametrize("keras_name", KERAS_LOSSES)
def test_keras_loss_names_are_aliases_of_the_registered_losses(keras_name):
    canonical = KERAS_LOSSES[keras_name]
    assert nn.get_loss(keras_name) is nn.get_loss(canonical)
    assert nn.loss_record(keras_name) is nn.loss_record(canonical)


def test_sparse_categorical_crossentropy_is_cross_entropy_of_logits_and_integer_labels():
    X, labels = _data()
    by_alias, canonical = _model(), _model()
    history = _fit(by_alias, "adam", loss="sparse_categorical_crossentropy", lr=0.01)
    expected = _fit(canonical, Adam(canonical.parameters(), lr=0.01), loss="cross_entropy")
    assert history.history == expected.history
    assert "accuracy" in history  # the record's defaults follow the alias: a classification loss
    # The value is the mean of -log softmax(z)_label over the rows, z the logits.
    z = by_alias(X).data.astype(np.float64)
    log_softmax = z - z.max(axis=1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(axis=1, keepdims=True))
    by_hand = -log_softmax[np.arange(len(labels)), labels].mean()
    assert evaluate(by_alias, X, labels, "sparse_categorical_crossentropy")["loss"] == pytest.approx(by_hand, rel=1e-5)


def test_categorical_crossentropy_of_one_hot_rows_equals_that_of_the_labels():
    X, labels = _data()
    one_hot = np.eye(3, dtype=np.float32)[labels]
    model = _model()
    assert (evaluate(model, X, one_hot, "categorical_crossentropy")["loss"]
            == pytest.approx(evaluate(model, X, labels, "cross_entropy")["loss"], rel=1e-6))


def test_binary_crossentropy_is_on_probabilities_as_keras_default():
    X, labels = _data()
    y = (labels > 0).astype(np.float32)
    model = _model(outputs=1, activation="sigmoid")
    p = model(X).data[:, 0].astype(np.float64)
    by_hand = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert evaluate(model, X, y, "binary_crossentropy")["loss"] == pytest.approx(by_hand, rel=1e-5)
    assert evaluate(model, X, y, "binary_crossentropy") == evaluate(model, X, y, "binary_cross_entropy")


@pytest.mark.parametrize("keras_name", ["mean_squared_error", "mean_absolute_error", "huber"])
def test_keras_regression_names_give_the_registered_values(keras_name):
    X, _ = _data()
    y = X @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)
    model = _model(outputs=1)
    assert evaluate(model, X, y, keras_name) == evaluate(model, X, y, KERAS_LOSSES[keras_name])
    assert evaluate(model, X, y, keras_name)["loss"] == pytest.approx(
        float(F.get_loss(KERAS_LOSSES[keras_name])(model(X), y).item()))


def test_keras_loss_names_in_the_estimators():
    from nablanet import MLPClassifier

    X, labels = _data(n=60)
    settings = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0, solver="adam")
    with pytest.warns(Warning, match="Maximum iterations"):
        by_alias = MLPClassifier(loss="sparse_categorical_crossentropy", **settings).fit(X, labels)
    with pytest.warns(Warning, match="Maximum iterations"):
        canonical = MLPClassifier(loss="cross_entropy", **settings).fit(X, labels)
    assert by_alias.loss_curve_ == canonical.loss_curve_


def test_keras_loss_name_in_a_config(tmp_path):
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = cli.main(["train", "--set", "data.source=iris", "--set", "train.loss=sparse_categorical_crossentropy",
                           "--set", "train.epochs=2", "--no-progress", "--out", str(tmp_path / "run")])
    assert status == 0, stderr.getvalue()
    assert "accuracy" in stdout.getvalue()
