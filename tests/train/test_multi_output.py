"""Models with several inputs and several outputs in fit, predict and evaluate, as Keras' functional models train."""

import numpy as np
import pytest

import nablanet.nn as nn
import nablanet.numpy as nnp
from nablanet.nn.functional import cross_entropy, mse
from nablanet.optim import SGD, Adam
from nablanet.train import ArrayDataset, EarlyStopping, evaluate, fit, predict


class TwoHeads(nn.Module):
    """Two inputs (an image-like vector and metadata) and two heads: a value (regression) and 3 classes."""

    def __init__(self, dtype=np.float32):
        super().__init__()
        self.image = nn.Dense(4, 8, activation="tanh", rng=0, dtype=dtype)
        self.meta = nn.Dense(2, 8, activation="tanh", rng=1, dtype=dtype)
        self.value = nn.Dense(16, 1, rng=2, dtype=dtype)
        self.classes = nn.Dense(16, 3, rng=3, dtype=dtype)

    def forward(self, image, meta):
        hidden = nnp.concatenate([self.image(image), self.meta(meta)], axis=1)
        return {"value": self.value(hidden), "classes": self.classes(hidden)}


class Pair(nn.Module):
    """Two inputs in, a tuple of two outputs out."""

    def __init__(self):
        super().__init__()
        self.first = nn.Dense(4, 1, rng=0)
        self.second = nn.Dense(2, 3, rng=1)

    def forward(self, x1, x2):
        return self.first(x1), self.second(x2)


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    image, meta = rng.standard_normal((n, 4)), rng.standard_normal((n, 2))
    value = image[:, :1] - meta[:, :1]
    classes = (image[:, 1] > 0).astype(np.int64) + (meta[:, 1] > 0)
    return {"image": image, "meta": meta}, {"value": value, "classes": classes}


LOSSES = {"value": "mse", "classes": "cross_entropy"}


def test_a_two_input_two_output_model_trains():
    X, y = _data()
    model = TwoHeads()
    history = fit(model, X, y, loss=LOSSES, loss_weights={"value": 0.5}, optimizer=Adam(model.parameters(), lr=0.03),
                  epochs=40, batch_size=16, validation_split=0.25, seed=0, progress=False)
    assert list(history.keys()) == ["loss", "data_loss", "penalty", "classes_loss", "value_loss", "classes_accuracy",
                                    "val_loss", "val_classes_loss", "val_value_loss", "val_classes_accuracy", "lr"]
    assert history["value_loss"][-1] < history["value_loss"][0] / 10, history["value_loss"]
    assert history["val_classes_accuracy"][-1] >= 0.85, history["val_classes_accuracy"]
    outputs = predict(model, X)
    assert sorted(outputs) == ["classes", "value"]
    assert outputs["value"].shape == (96, 1) and outputs["classes"].shape == (96, 3)
    assert outputs["value"].dtype == np.float32
    scores = evaluate(model, X, y, loss=LOSSES, loss_weights={"value": 0.5})
    assert sorted(scores) == ["classes_accuracy", "classes_loss", "loss", "value_loss"]
    assert scores["loss"] == pytest.approx(0.5 * scores["value_loss"] + scores["classes_loss"], rel=1e-6)


def test_loss_weights_weigh_the_total_as_documented():
    """One full batch: the figures are those of the initial weights, C = sum_k w_k L_k with each L_k unweighted."""
    X, y = _data()
    runs = {}
    for weights in (None, {"value": 0.25, "classes": 3.0}, [0.25, 3.0]):
        model = TwoHeads(dtype=np.float64)
        # A list of weights follows the outputs' order, the sorted keys: classes, value.
        weights = [3.0, 0.25] if isinstance(weights, list) else weights
        history = fit(model, X, y, loss=LOSSES, loss_weights=weights, optimizer=SGD(model.parameters(), lr=0.1),
                      epochs=1, batch_size=None, progress=False)
        runs[str(weights)] = history
    unweighted, weighted, listed = runs.values()
    for history in (weighted, listed):
        assert history["value_loss"] == unweighted["value_loss"]
        assert history["classes_loss"] == unweighted["classes_loss"]
        assert history["loss"][0] == pytest.approx(0.25 * history["value_loss"][0] + 3.0 * history["classes_loss"][0],
                                                   rel=1e-14)
    assert unweighted["loss"][0] == pytest.approx(unweighted["value_loss"][0] + unweighted["classes_loss"][0],
                                                  rel=1e-14)


def test_one_step_equals_a_hand_written_loop():
    X, y = _data()
    model = TwoHeads(dtype=np.float64)
    history = fit(model, X, y, loss=LOSSES, loss_weights={"value": 0.25, "classes": 3.0},
                  optimizer=SGD(model.parameters(), lr=0.1), epochs=1, batch_size=None, progress=False)
    by_hand = TwoHeads(dtype=np.float64)
    optimizer = SGD(by_hand.parameters(), lr=0.1)
    optimizer.zero_grad()
    outputs = by_hand(X["image"], X["meta"])
    # The outputs in fit's order (the dict's sorted keys), each loss times its weight, summed.
    cost = 3.0 * cross_entropy(outputs["classes"], y["classes"]) + 0.25 * mse(outputs["value"], y["value"])
    cost.backward()
    optimizer.step()
    assert history["loss"] == [cost.item()]
    for ours, theirs in zip(model.parameters(), by_hand.parameters()):
        np.testing.assert_array_equal(ours.data, theirs.data)


def test_tuple_outputs_are_named_by_position_with_losses_and_metrics_per_output():
    X, y = _data()
    model = Pair()
    history = fit(model, (X["image"], X["meta"]), (y["value"], y["classes"]), loss=["mse", "cross_entropy"],
                  loss_weights=[1.0, 2.0], metrics=[["mae"], ["accuracy"]], optimizer=Adam(model.parameters(), lr=0.01),
                  epochs=2, validation_data=((X["image"], X["meta"]), (y["value"], y["classes"])), progress=False)
    assert list(history.keys()) == ["loss", "data_loss", "penalty", "output_0_loss", "output_1_loss", "output_0_mae",
                                    "output_1_accuracy", "val_loss", "val_output_0_loss", "val_output_1_loss",
                                    "val_output_0_mae", "val_output_1_accuracy", "lr"]
    outputs = predict(model, (X["image"], X["meta"]), batch_size=10)
    assert isinstance(outputs, tuple) and [o.shape for o in outputs] == [(96, 1), (96, 3)]


def test_several_inputs_and_outputs_from_a_dataset_train_as_the_arrays():
    X, y = _data()
    trained = []
    for data in ((X, y), (ArrayDataset(X, y), None)):
        model = TwoHeads()
        fit(model, *data, loss=LOSSES, optimizer=Adam(model.parameters(), lr=0.01), epochs=2, batch_size=16,
            validation_split=0.2, seed=4, progress=False)
        trained.append(model)
    for ours, theirs in zip(*(model.parameters() for model in trained)):
        np.testing.assert_array_equal(ours.data, theirs.data)


def test_early_stopping_maximizes_one_outputs_accuracy():
    X, y = _data()
    model = TwoHeads()
    stopping = EarlyStopping("val_classes_accuracy", patience=100)
    fit(model, X, y, loss=LOSSES, optimizer=Adam(model.parameters(), lr=0.01), epochs=1, validation_split=0.25,
        callbacks=[stopping], progress=False)
    assert stopping.mode == "max"


@pytest.mark.parametrize("settings, message", [
    ({"y": {"value": _data()[1]["value"]}}, r"y must have one entry per output of the model, \['classes', 'value'\]: "
                                            r"missing \['classes'\]"),
    ({"y": _data()[1]["value"]}, r"the model returns a dict of outputs \['classes', 'value'\], so y must be a dict "
                                 r"with the same keys, got an array of shape \(96, 1\)"),
    ({"loss": {"value": "mse", "label": "cross_entropy"}}, r"loss names \['label'\], which are not outputs of the "
                                                           r"model; its outputs are \['classes', 'value'\]"),
    ({"loss": {"value": "mse"}}, r"loss gives no loss for the outputs \['classes'\]"),
    ({"loss": ["mse"]}, r"loss is a list of 1 entries, but the model has 2 outputs"),
    ({"loss_weights": {"value": -1.0}}, r"loss_weights for the output 'value' must be a finite number >= 0, got -1.0"),
    ({"loss_weights": 2.0}, r"loss_weights must be a dict \{output name: weight\} or a list of one weight per output"),
    ({"metrics": {"score": "mae"}}, r"metrics names \['score'\], which are not outputs of the model"),
    ({"y": {"value": _data()[1]["value"], "classes": np.full(96, 3)}}, r"y\['classes'\] has class labels from 3 to 3, "
                                                                       r"but the model has 3 outputs"),
])
def test_outputs_and_their_settings_that_do_not_match_are_a_clear_error(settings, message):
    X, y = _data()
    model = TwoHeads()
    settings = {"y": y, "loss": LOSSES, **settings}
    with pytest.raises(ValueError, match=message):
        fit(model, X, settings.pop("y"), optimizer=SGD(model.parameters(), lr=0.1), epochs=1, progress=False,
            **settings)


def test_one_output_settings_refused_for_a_one_output_model():
    model = nn.Sequential(nn.Dense(4, 1, rng=0))
    X, y = _data()[0]["image"], _data()[1]["value"]
    with pytest.raises(ValueError, match="loss_weights weighs the losses of a model with several outputs"):
        fit(model, X, y, loss="mse", loss_weights=[1.0], optimizer=SGD(model.parameters(), lr=0.1), epochs=1,
            progress=False)
    with pytest.raises(ValueError, match="loss is a dict of losses per output, but the model returns one array"):
        fit(model, X, y, loss={"value": "mse"}, optimizer=SGD(model.parameters(), lr=0.1), epochs=1, progress=False)


def test_inputs_of_different_lengths_are_a_clear_error():
    X, y = _data()
    model = TwoHeads()
    with pytest.raises(ValueError, match=r"the inputs in X have different numbers of rows \(X\['image'\]: 96, "
                                         r"X\['meta'\]: 95\)"):
        fit(model, {"image": X["image"], "meta": X["meta"][:95]}, y, loss=LOSSES,
            optimizer=SGD(model.parameters(), lr=0.1), epochs=1, progress=False)


def test_the_softmax_before_cross_entropy_warning_sees_a_model_of_several_inputs():
    """fit's output check runs one forward pass of the model as fit calls it, model(*X) for a tuple."""

    class SoftmaxAtTheEnd(nn.Module):
        def __init__(self):
            super().__init__()
            self.first, self.second = nn.Dense(4, 3, rng=0), nn.Dense(2, 3, rng=1)
            self.softmax = nn.Softmax()

        def forward(self, x1, x2):
            return self.softmax(self.first(x1) + self.second(x2))

    X, y = _data()
    model = SoftmaxAtTheEnd()
    with pytest.warns(UserWarning, match="the loss cross_entropy applies softmax itself"):
        fit(model, (X["image"], X["meta"]), y["classes"], loss="cross_entropy",
            optimizer=SGD(model.parameters(), lr=0.1), epochs=1, progress=False)


# --- per-sample weights: every output's loss weighted by the same weights, as Keras does ------------------------

def _sample_weights(n=96, seed=5):
    return np.random.default_rng(seed).uniform(0.1, 3.0, n)


def test_one_weighted_step_equals_a_hand_written_loop():
    """C = sum_k w_k L_k with each L_k = sum_i s_i l_ki / sum_i s_i, the same sample weights s for every output."""
    X, y = _data()
    s = _sample_weights()
    model = TwoHeads(dtype=np.float64)
    history = fit(model, X, y, loss=LOSSES, loss_weights={"value": 0.25, "classes": 3.0}, sample_weight=s,
                  optimizer=SGD(model.parameters(), lr=0.1), epochs=1, batch_size=None, progress=False)
    by_hand = TwoHeads(dtype=np.float64)
    optimizer = SGD(by_hand.parameters(), lr=0.1)
    optimizer.zero_grad()
    outputs = by_hand(X["image"], X["meta"])
    classes = cross_entropy(outputs["classes"], y["classes"], sample_weight=s)
    value = mse(outputs["value"], y["value"], sample_weight=s)
    cost = 3.0 * classes + 0.25 * value
    cost.backward()
    optimizer.step()
    assert history["loss"] == [cost.item()]
    assert history["classes_loss"] == [classes.item()] and history["value_loss"] == [value.item()]
    for ours, theirs in zip(model.parameters(), by_hand.parameters()):
        np.testing.assert_array_equal(ours.data, theirs.data)


def test_zero_weights_leave_samples_out_of_every_output():
    """Training on all samples with the weights of half of them zero is training on the other half."""
    X, y = _data()
    kept = np.arange(96) % 2 == 0
    runs = []
    for data, settings in (((X, y), {"sample_weight": kept.astype(float)}),
                           (({k: v[kept] for k, v in X.items()}, {k: v[kept] for k, v in y.items()}), {})):
        model = TwoHeads(dtype=np.float64)
        history = fit(model, *data, loss=LOSSES, optimizer=SGD(model.parameters(), lr=0.1), epochs=3,
                      batch_size=None, progress=False, **settings)
        runs.append((model, history))
    (weighted, weighted_history), (halved, halved_history) = runs
    for ours, theirs in zip(weighted.parameters(), halved.parameters()):
        np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-12, atol=1e-14)
    for key in ("classes_loss", "value_loss", "classes_accuracy"):
        np.testing.assert_allclose(weighted_history[key], halved_history[key], rtol=1e-12)


def test_weighted_validation_and_evaluate_for_several_outputs():
    X, y = _data()
    s = _sample_weights()
    held_out = slice(72, 96)
    X_val, y_val = ({k: v[held_out] for k, v in X.items()}, {k: v[held_out] for k, v in y.items()})
    model = TwoHeads(dtype=np.float64)
    history = fit(model, X, y, loss=LOSSES, sample_weight=s, optimizer=Adam(model.parameters(), lr=0.01), epochs=2,
                  validation_split=0.25, shuffle=False, progress=False)
    scores = evaluate(model, X_val, y_val, loss=LOSSES, sample_weight=s[held_out])
    for key in ("loss", "classes_loss", "value_loss", "classes_accuracy"):
        assert history[f"val_{key}"][-1] == pytest.approx(scores[key], rel=1e-12)
    outputs = predict(model, X_val)
    assert scores["classes_accuracy"] == pytest.approx(
        np.average(outputs["classes"].argmax(axis=1) == y_val["classes"], weights=s[held_out]), rel=1e-12)
    on_dataset = evaluate(model, ArrayDataset(X_val, y_val), loss=LOSSES, sample_weight=s[held_out])
    assert on_dataset == pytest.approx(scores, rel=1e-12)


@pytest.mark.parametrize("settings, message", [
    ({"class_weight": "balanced"}, r"class_weight weighs the classes of a model with one output, but this model has "
                                   r"the outputs \['classes', 'value'\]: weigh the samples with sample_weight"),
    ({"sample_weight": {"value": np.ones(96), "classes": np.ones(96)}},
     "sample_weight must be one weight per sample, which weighs every output's loss alike; a dict of weights per "
     "output is not supported"),
    ({"sample_weight": np.ones(96), "loss": {"value": lambda p, t: mse(p, t), "classes": "cross_entropy"}},
     "the loss <lambda> takes no sample_weight"),
])
def test_weights_several_outputs_cannot_use_are_a_clear_error(settings, message):
    X, y = _data()
    model = TwoHeads()
    settings = {"loss": LOSSES, **settings}
    with pytest.raises(ValueError, match=message):
        fit(model, X, y, optimizer=SGD(model.parameters(), lr=0.1), epochs=1, progress=False, **settings)
