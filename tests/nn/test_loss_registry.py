"""The loss registry: every registered loss has a case (value and gradient against PyTorch or a formula,
a float64 gradient check), and what its record says it means is what fit and evaluate do with it."""

import numpy
import pytest
import torch

import nablanet.nn as nn
from nablanet import Tensor
from nablanet.experiment.vocabulary import LOSS_NAMES
from nablanet.nn import functional as F
from nablanet.optim import SGD
from nablanet.testing import check_grads
from nablanet.train import evaluate, fit

TF = torch.nn.functional
rng = numpy.random.default_rng(12)
PREDICTIONS = rng.standard_normal((6, 3))
REAL = rng.standard_normal((6, 3))
BINARY = rng.integers(0, 2, (6, 3)).astype(float)
PROBABILITIES = 1 / (1 + numpy.exp(-PREDICTIONS))
LABELS = numpy.array([0, 2, 1, 1, 0, 2])
LOG_PROBABILITIES = PREDICTIONS - numpy.log(numpy.exp(PREDICTIONS).sum(axis=1, keepdims=True))
SOFT = numpy.exp(REAL) / numpy.exp(REAL).sum(axis=1, keepdims=True)
COUNTS = rng.poisson(2.0, (6, 3)).astype(float)
VARIANCES = rng.uniform(0.5, 2.0, (6, 3))
SIGNS = numpy.array([1, -1, -1, 1, 1, -1])

# name -> (predictions, targets, the reference loss of torch tensors: torch's own or its formula, gradient-check order).
# Adding a loss: its function and register_loss call in nn/functional.py + one line here.
CASES = {
    "mse": (PREDICTIONS, REAL, TF.mse_loss, 2),
    "mae": (PREDICTIONS, REAL, TF.l1_loss, 2),
    "huber": (2 * PREDICTIONS, REAL, TF.huber_loss, 2),
    "smooth_l1_loss": (2 * PREDICTIONS, REAL, TF.smooth_l1_loss, 2),
    # Its floors of the logarithms at -100 make the second derivative a step function of p.
    "binary_cross_entropy": (PROBABILITIES, BINARY, TF.binary_cross_entropy, 1),
    "binary_cross_entropy_with_logits": (PREDICTIONS, BINARY, TF.binary_cross_entropy_with_logits, 2),
    "cross_entropy": (PREDICTIONS, LABELS, TF.cross_entropy, 2),
    "hinge": (PREDICTIONS, BINARY, lambda y, t: torch.clamp(1 - (2 * t - 1) * y, min=0).mean(), 2),
    "nll_loss": (LOG_PROBABILITIES, LABELS, TF.nll_loss, 2),
    # torch's kl_div with its default 'mean' warns that 'batchmean' is the KL divergence: its formula instead.
    "kl_div": (LOG_PROBABILITIES, SOFT, lambda y, t: (t * (t.log() - y)).mean(), 2),
    "poisson_nll_loss": (PREDICTIONS, COUNTS, TF.poisson_nll_loss, 2),
    "gaussian_nll_loss": (PREDICTIONS, REAL, lambda y, t: TF.gaussian_nll_loss(y, t, torch.tensor(VARIANCES)), 2),
    "cosine_embedding_loss": (PREDICTIONS, REAL, lambda y, t: TF.cosine_embedding_loss(y, t, torch.tensor(SIGNS)), 2),
}
# The data a loss takes after (predictions, targets) (its record's inputs), constants here.
INPUTS = {"gaussian_nll_loss": {"var": VARIANCES}, "cosine_embedding_loss": {"y": SIGNS}}
SHIPPED = [name for name, record in nn.LOSSES.records.items() if record.function.__module__.startswith("nablanet.")]


def test_every_registered_loss_has_a_case():
    assert set(SHIPPED) == set(CASES), "a registered loss without a line in CASES (or the reverse)"


@pytest.mark.parametrize("name", SHIPPED)
def test_value_and_gradient_equal_the_reference(name):
    predictions, targets, reference, _ = CASES[name]
    ours = Tensor(predictions, requires_grad=True)
    value = nn.loss_record(name).function(ours, targets, *INPUTS.get(name, {}).values())
    value.backward()
    theirs = torch.tensor(predictions, requires_grad=True)
    expected = reference(theirs, torch.tensor(targets))
    expected.backward()
    assert float(value) == pytest.approx(expected.item(), rel=1e-12)
    numpy.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("name", SHIPPED)
def test_gradients_match_finite_differences(name):
    predictions, targets, _, order = CASES[name]
    inputs = INPUTS.get(name, {}).values()
    check_grads(lambda y: nn.loss_record(name).function(y, targets, *inputs), [predictions], order=order, rtol=1e-6)


@pytest.mark.parametrize("name", SHIPPED)
def test_the_records_targets_are_the_ones_the_loss_and_fit_take(name):
    record = nn.loss_record(name)
    predictions, targets, _, _ = CASES[name]
    assert record.inputs == tuple(INPUTS.get(name, {}))
    inputs = INPUTS.get(name, {}).values()
    if record.targets == "labels":
        # Integer labels (N,) against one output column per class, and one-hot rows alike.
        assert float(record.function(predictions, numpy.eye(3)[LABELS])) == pytest.approx(
            float(record.function(predictions, LABELS)), rel=1e-14)
    else:
        assert numpy.shape(targets) == numpy.shape(predictions)
        with pytest.raises(ValueError, match=f"{name}: targets of shape \\(6,\\) do not match"):
            record.function(predictions, LABELS, *inputs)
        model = nn.Sequential(nn.Dense(2, 3, rng=0, dtype=numpy.float64))
        expected = (f"{name} takes {', '.join(record.inputs)} besides the predictions and targets" if record.inputs
                    else f"{name} needs targets of the predictions' shape")
        with pytest.raises(ValueError, match=expected):
            fit(model, numpy.zeros((6, 2)), LABELS, loss=name, optimizer=SGD(model.parameters(), lr=0.1), epochs=1,
                progress=False)
    for label in record.labels:
        # Each label it declares is a target the loss takes.
        record.function(numpy.full((2, 1), 0.3), numpy.full((2, 1), label))


@pytest.mark.parametrize("name", SHIPPED)
def test_fit_reports_accuracy_for_classification_losses_only(name):
    record = nn.loss_record(name)
    predictions, targets, _, _ = CASES[name]
    assert record.inputs == tuple(INPUTS.get(name, {}))
    inputs = INPUTS.get(name, {}).values()
    if record.targets == "labels":
        targets = LABELS
    if record.inputs:
        # fit gives a loss (predictions, targets) only: one that needs more is refused by name.
        model = nn.Sequential(nn.Dense(3, 3, rng=0, dtype=numpy.float64))
        with pytest.raises(ValueError, match=f"{name} takes {record.inputs[0]} besides the predictions and targets"):
            fit(model, PREDICTIONS, targets, loss=name, optimizer=SGD(model.parameters(), lr=0.01), epochs=1,
                progress=False)
        # Nor do configs offer it.
        assert name not in LOSS_NAMES and all(alias not in LOSS_NAMES for alias in record.aliases)
        return
    model = nn.Sequential(nn.Dense(3, 3, activation="sigmoid" if record.outputs == "probabilities" else None, rng=0,
                                   dtype=numpy.float64))
    history = fit(model, PREDICTIONS, targets, loss=name, optimizer=SGD(model.parameters(), lr=0.01), epochs=1,
                  batch_size=None, progress=False)
    assert ("accuracy" in history) == (record.task == "classification")
    # The registered function itself means the same as its name.
    assert list(fit(model, PREDICTIONS, targets, loss=record.function, optimizer=SGD(model.parameters(), lr=0.01),
                    epochs=1, batch_size=None, progress=False).keys()) == list(history.keys())


@pytest.mark.parametrize("name", [name for name in SHIPPED if nn.loss_record(name).threshold is not None
                                  and nn.loss_record(name).targets == "values"])
def test_one_output_column_is_cut_at_the_records_threshold(name):
    threshold = nn.loss_record(name).threshold
    assert threshold == {"logits": 0.0, "probabilities": 0.5}[nn.loss_record(name).outputs]
    # Predictions = the inputs, just either side of the record's threshold: all right at it, half at the other one.
    model = nn.Sequential(nn.Dense(1, 1, rng=0, dtype=numpy.float64))
    model[0].W.data[...] = 1.0
    model[0].b.data[...] = 0.0
    X = threshold + numpy.array([[-0.1], [0.1], [-0.05], [0.05]])
    y = numpy.array([0.0, 1.0, 0.0, 1.0])
    assert evaluate(model, X, y, name)["accuracy"] == 1.0


def test_lookups_aliases_and_the_old_mapping():
    assert list(F.LOSSES) == ["mse", "mean_squared_error", "mae", "mean_absolute_error", "huber", "smooth_l1_loss",
                              "smooth_l1", "binary_cross_entropy", "bce", "binary_crossentropy",
                              "binary_cross_entropy_with_logits", "cross_entropy", "categorical_cross_entropy",
                              "sparse_categorical_crossentropy", "categorical_crossentropy", "nll_loss", "nll",
                              "negative_log_likelihood", "hinge", "kl_div", "kl_divergence", "kullback_leibler",
                              "poisson_nll_loss", "poisson_nll", "gaussian_nll_loss", "gaussian_nll",
                              "cosine_embedding_loss", "cosine_embedding"]
    assert F.LOSSES is nn.LOSSES and F.get_loss("bce") is F.binary_cross_entropy is nn.get_loss("bce")
    assert nn.loss_record("categorical_cross_entropy") is nn.loss_record(F.cross_entropy)
    assert nn.loss_record("huber").options == {"delta": 1.0, "reduction": "mean"}
    # A loss's inputs are data, not settings.
    assert nn.loss_record("gaussian_nll_loss").options == {"full": False, "eps": 1e-6, "reduction": "mean"}
    with pytest.raises(ValueError, match="unknown loss 'msq'; choose one of"):
        F.get_loss("msq")
    with pytest.raises(ValueError, match="unknown loss 'msq'; known: mse, mae, huber"):
        nn.loss_record("msq")


def _squared(predictions, targets):
    return ((predictions - targets) ** 2).mean()


def test_register_loss_refuses_a_meaning_that_does_not_hold_together():
    with pytest.raises(ValueError, match="targets must be one of labels, values, got 'classes'"):
        nn.register_loss("squared", _squared, targets="classes", task="regression", outputs="values")
    with pytest.raises(ValueError, match="a regression loss takes outputs='values' and targets='values'"):
        nn.register_loss("squared", _squared, targets="values", task="regression", outputs="logits")
    with pytest.raises(ValueError, match="a classification loss takes outputs='logits', 'probabilities' or "
                                         "'log_probabilities'"):
        nn.register_loss("squared", _squared, targets="values", task="classification", outputs="values")
    with pytest.raises(ValueError, match="labels are the values of a classification loss's value targets"):
        nn.register_loss("squared", _squared, targets="values", task="regression", outputs="values", labels=(0, 1))
    with pytest.raises(ValueError, match="the loss name 'mse' is taken by nablanet.nn.functional_losses.mse"):
        nn.register_loss("mse", _squared, targets="values", task="regression", outputs="values")
    with pytest.raises(TypeError, match="targets"):
        nn.register_loss("squared", _squared, task="regression", outputs="values")
    with pytest.raises(ValueError, match=r"inputs \('var',\) must be the function's positional parameters after "
                                         r"\(predictions, targets\), which are \(\)"):
        nn.register_loss("squared", _squared, targets="values", task="regression", outputs="values", inputs=("var",))
    assert "squared" not in nn.LOSSES
