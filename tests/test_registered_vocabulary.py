"""An activation and a loss defined outside nablanet, registered once by name, used everywhere a name is
taken: Dense, Conv2d, the Activation layer, fit's defaults, the diagnostics; and what fit does with a
loss function it does not know."""

import numpy as np
import pytest

import nablanet.numpy as nnp
from nablanet import nn
from nablanet.diagnostics import TrainingMonitor, chain_rule_trace
from nablanet.optim import SGD, Adam
from nablanet.testing import check_grads
from nablanet.train import evaluate, fit
from nablanet.train.metrics import accuracy


def soft_clip(z, alpha=2.0):
    """sigma(z) = alpha tanh(z / alpha): the identity near 0, bounded by -alpha and alpha."""
    return alpha * nnp.tanh(z / alpha)


def soft_clip_derivative(z, alpha):
    return 1.0 - np.tanh(z / alpha) ** 2


class SoftClip(nn.Module):
    """a = alpha tanh(z / alpha)."""

    def __init__(self, alpha=None):
        self.alpha = nn.activation_record("soft_clip").resolve_alpha(alpha)

    def forward(self, z):
        return soft_clip(z, self.alpha)


def squared_hinge(scores, targets):
    """C = (1/n) sum max(0, 1 - t y)^2 for labels 0/1 read as t = -1/+1 (scores are margins: class 1 above 0)."""
    t = 2.0 * np.asarray(targets, dtype=np.float64).reshape(np.shape(scores)) - 1.0
    margin = nnp.maximum(1.0 - t * scores, 0.0)
    return nnp.mean(margin * margin)


@pytest.fixture
def registered():
    nn.register_activation("soft_clip", soft_clip, init="glorot", output_range=lambda alpha: (-alpha, alpha),
                           derivative=soft_clip_derivative, layer=SoftClip)
    nn.register_loss("squared_hinge", squared_hinge, targets="values", task="classification", outputs="logits",
                     labels=(0.0, 1.0))
    yield
    nn.ACTIVATIONS.records.remove("soft_clip")
    nn.LOSSES.records.remove("squared_hinge")


def _blobs(n=40, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.normal(size=(n, 2)) + 2.5 * (2 * y[:, None] - 1)
    return X, y


def test_a_registered_activation_is_a_name_for_dense_conv_and_the_layers(registered):
    record = nn.activation_record("soft_clip")
    assert record.alpha == 2.0 and record.range_at(3.0) == (-3.0, 3.0) and record.layer is SoftClip
    assert "soft_clip" in nn.functional.ACTIVATIONS and nn.functional.get_activation("soft_clip") is soft_clip
    x = np.random.default_rng(1).normal(size=(5, 3)) * 3
    dense = nn.Dense(3, 4, activation="soft_clip", alpha=1.5, rng=0, dtype=np.float64)
    assert dense.alpha == 1.5
    np.testing.assert_allclose(dense(x).data, 1.5 * np.tanh((x @ dense.W.data + dense.b.data) / 1.5), rtol=1e-13)
    names = [name for name, _ in dense.named_parameters()]
    check_grads(lambda x, *values: nn.functional_call(dense, dict(zip(names, values)), x),
                [x] + [p.data for p in dense.parameters()], order=1)
    images = np.random.default_rng(2).normal(size=(2, 1, 5, 5))
    conv = nn.Conv2d(1, 2, 3, activation="soft_clip", rng=0, dtype=np.float64)
    plain = nn.Conv2d(1, 2, 3, rng=0, dtype=np.float64)
    np.testing.assert_allclose(conv(images).data, 2.0 * np.tanh(plain(images).data / 2.0), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(nn.Activation("soft_clip")(x)), np.asarray(SoftClip()(x)), rtol=0)
    np.testing.assert_allclose(nn.functional.dense(x, np.eye(3), activation="soft_clip"), soft_clip(x), rtol=1e-15)


def test_a_registered_loss_gives_fit_its_metric_and_threshold(registered):
    X, y = _blobs()
    model = nn.Sequential(nn.Dense(2, 4, activation="soft_clip", rng=0, dtype=np.float64),
                          nn.Dense(4, 1, rng=1, dtype=np.float64))
    history = fit(model, X, y, loss="squared_hinge", optimizer=Adam(model.parameters(), lr=0.05), epochs=30,
                  batch_size=None, seed=0, progress=False)
    assert history["accuracy"][-1] == 1.0
    # Margins: class 1 above 0 (the record's outputs="logits"); at 0.5, three of these four would be wrong.
    identity = nn.Sequential(nn.Dense(1, 1, rng=0, dtype=np.float64))
    identity[0].W.data[...], identity[0].b.data[...] = 1.0, 0.0
    margins, labels = np.array([[-0.1], [0.1], [0.2], [0.3]]), np.array([0, 1, 1, 1])
    assert evaluate(identity, margins, labels, squared_hinge)["accuracy"] == 1.0
    assert evaluate(identity, margins, labels, metrics=["accuracy"])["accuracy"] == 0.25
    # The function itself is found by identity.
    assert "accuracy" in fit(model, X, y, loss=squared_hinge, optimizer=SGD(model.parameters(), lr=1e-12), epochs=1,
                             progress=False)


def test_the_diagnostics_read_a_registered_activation(registered):
    X, y = _blobs(n=16)
    hidden = nn.Dense(2, 8, activation="soft_clip", alpha=0.5, rng=0, dtype=np.float64)
    model = nn.Sequential(hidden, nn.Dense(8, 1, activation="sigmoid", rng=1, dtype=np.float64))
    trace = chain_rule_trace(model, X[0], np.array([float(y[0])]), loss="binary_cross_entropy")
    assert trace.activations == ["soft_clip", "sigmoid"] and trace.max_difference < 1e-12
    np.testing.assert_allclose(trace.slope[1], 1.0 - np.tanh(trace.z[1] / 0.5) ** 2, rtol=1e-14)
    # Bounded with a registered sigma': watched for saturation, at the layer's own alpha (bounds +-0.5).
    hidden.W.data *= 50
    monitor = TrainingMonitor(warn=False)
    fit(model, X, y, loss="binary_cross_entropy", optimizer=SGD(model.parameters(), lr=1e-12), epochs=1,
        batch_size=None, callbacks=[monitor], progress=False)
    output = hidden(X).data
    tol = monitor.saturation_tol
    expected = np.mean((output <= -0.5 + tol) | (output >= 0.5 - tol))
    assert expected > 0.5 and monitor.history["layers.0"]["saturated"][0] == pytest.approx(expected)


def test_an_unregistered_loss_gets_no_default_accuracy_and_no_guessed_threshold():
    X, y = _blobs()
    model = nn.Sequential(nn.Dense(2, 1, rng=0, dtype=np.float64))

    def fresh():
        return SGD(model.parameters(), lr=1e-12)

    # Not registered: fit cannot tell classification from regression, so it reports no accuracy...
    assert "accuracy" not in fit(model, X, y, loss=squared_hinge, optimizer=fresh(), epochs=1, progress=False)
    # ...and refuses to guess where one output column is cut into classes (0.5 would be wrong for margins).
    with pytest.raises(ValueError, match="metric 'accuracy' decides classes of one-column outputs at a threshold, "
                                         "but the loss 'squared_hinge' is not registered"):
        fit(model, X, y, loss=squared_hinge, optimizer=fresh(), epochs=1, metrics=["accuracy"], progress=False)
    with pytest.raises(ValueError, match="register_loss"):
        evaluate(model, X, y, squared_hinge, metrics=["confusion_matrix"])
    # A metric function that sets its own threshold, or several output columns (argmax), need no guess.
    at_zero = fit(model, X, y, loss=squared_hinge, optimizer=fresh(), epochs=1, progress=False,
                  metrics=[lambda p, t: accuracy(p, t, threshold=0.0)])
    assert at_zero["<lambda>"] == [np.mean((model(X).data[:, 0] > 0) == y)]
    wide = nn.Sequential(nn.Dense(2, 2, rng=0, dtype=np.float64))
    assert "accuracy" in fit(wide, X, y, loss=nn.functional.cross_entropy, optimizer=SGD(wide.parameters(), lr=1e-12),
                             epochs=1, progress=False)


def test_a_function_is_known_by_identity_not_by_its_name():
    X, y = _blobs()
    model = nn.Sequential(nn.Dense(2, 1, rng=0, dtype=np.float64))

    def binary_cross_entropy_with_logits(logits, targets):
        return nn.functional.binary_cross_entropy_with_logits(logits, targets) * 2.0

    # A function named like a registered loss but not registered means nothing to fit.
    history = fit(model, X, y, loss=binary_cross_entropy_with_logits, optimizer=SGD(model.parameters(), lr=1e-12),
                  epochs=1, progress=False)
    assert "accuracy" not in history


def test_a_registered_activation_and_loss_are_names_in_a_toml_config_and_nablanet_train(registered, tmp_path):
    import contextlib
    import io

    from nablanet import cli
    from nablanet.experiment import build_model, load_config, load_data, make_task

    path = tmp_path / "custom.toml"
    path.write_text('[data]\nsource = "breast_cancer"\n\n[model]\nhidden = [8]\nactivation = "soft_clip"\n'
                    'dropout = 0.0\n\n[train]\nloss = "squared_hinge"\nepochs = 3\nprogress = false\n')
    config = load_config(path)
    data = load_data(config)
    task = make_task(config, data.y_all)
    # A classification loss on logits with 0/1 labels: one output, no sigmoid, accuracy by default.
    assert (task.kind, task.n_outputs, task.output_activation, task.metrics) == ("classification", 1, "identity",
                                                                               ["accuracy"])
    model = build_model(config, data.X_train.shape[1:], task, np.random.default_rng(0))
    assert model.layers[0].activation == "soft_clip"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = cli.main(["train", str(path), "--out", str(tmp_path / "run")])
    assert status == 0, stderr.getvalue()
    assert "accuracy" in stdout.getvalue() and (tmp_path / "run" / "model.npz").is_file()


@pytest.mark.parametrize("activation, initializer", [("gelu", "he_uniform"), ("relu", "he_uniform"),
                                                     ("tanh", "glorot_uniform"), ("elu", "he_uniform")])
def test_a_config_with_batchnorm_initializes_as_dense_does(activation, initializer):
    """The config's Dense-BatchNorm-activation blocks and a Dense with the activation pick one initializer."""
    from nablanet.experiment import build_model, load_config, make_task

    config = load_config(overrides=[f'model.activation="{activation}"', "model.batchnorm=true", "model.hidden=[4]"])
    task = make_task(config, np.array([0, 1, 1, 0]))
    model = build_model(config, (3,), task, np.random.default_rng(0))
    expected = initializer
    # The first layer takes the generator's first draws, so equal weights mean the same initializer.
    named = nn.Dense(3, 4, init=expected, rng=np.random.default_rng(0)).W.data
    by_activation = nn.Dense(3, 4, activation=activation, rng=np.random.default_rng(0)).W.data
    assert isinstance(model.layers[1], nn.BatchNorm)
    np.testing.assert_array_equal(model.layers[0].W.data, named)
    np.testing.assert_array_equal(by_activation, named)


def test_a_registered_activation_and_loss_are_names_of_mlp_classifier(registered):
    from nablanet.sklearn import MLPClassifier

    X, y = _blobs(60, seed=3)
    classifier = MLPClassifier((6,), activation="soft_clip", loss="squared_hinge", solver="adam",
                               learning_rate_init=0.05, max_iter=60, random_state=0).fit(X, y)
    assert classifier.model_[0].activation == "soft_clip"
    assert classifier.score(X, y) == 1.0
    # The loss it minimized is the registered function of the logits and the 0/1 labels.
    z = classifier.model_(X.astype(np.float32)).data
    data_loss = float(np.asarray(squared_hinge(z, y.reshape(-1, 1))))
    assert data_loss < 0.2 and classifier.loss_curve_[-1] < classifier.loss_curve_[0]
    assert abs(classifier.loss_curve_[-1] - data_loss) < 0.1
    with pytest.raises(ValueError, match="'loss' parameter of MLPClassifier"):
        MLPClassifier(loss="mse").fit(X, y)  # a regression loss is not a classifier's
