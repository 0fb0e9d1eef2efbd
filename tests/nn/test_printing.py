"""How models print: reprs that are constructor calls, the HTML table for notebooks, and model.summary()."""

import re

import numpy
import pytest

import nablanet.nn as nn
from nablanet import count_ops
from nablanet.diagnostics import summarize


@pytest.mark.parametrize("layer, text", [
    (nn.Conv2d(1, 8, 3, padding=1, activation="relu", rng=0),
     "Conv2d(1, 8, kernel_size=3, stride=1, padding=1, activation='relu')"),
    (nn.Conv1d(2, 4, 5, dilation=2, rng=0), "Conv1d(2, 4, kernel_size=5, stride=1, padding=0, dilation=2)"),
    (nn.MaxPool2d(2), "MaxPool2d(kernel_size=2, stride=None, padding=0)"),
    (nn.AvgPool1d(3, stride=1), "AvgPool1d(kernel_size=3, stride=1, padding=0)"),
    (nn.GRU(4, 3, num_layers=2, bidirectional=True, rng=0), "GRU(4, 3, num_layers=2, bidirectional=True)"),
    (nn.LSTM(2, 4, return_sequences=False, rng=0), "LSTM(2, 4, return_sequences=False)"),
    (nn.RNN(3, 5, rng=0), "RNN(3, 5)"),
    (nn.Dense(3, 4, "relu", bias=False, rng=0, dtype=numpy.float64),
     "Dense(3, 4, activation='relu', bias=False, dtype='float64')"),
    (nn.Dense(3, 1, rng=0), "Dense(3, 1)"),
    (nn.RBF(2, 5, width=0.5, rng=0), "RBF(2, 5, width=0.5)"),
    (nn.Activation("leaky_relu", alpha=0.2), "Activation('leaky_relu', alpha=0.2)"),
    (nn.LeakyReLU(0.1), "LeakyReLU(alpha=0.1)"),
    (nn.Softmax(axis=1), "Softmax(axis=1)"),
    (nn.ReLU(), "ReLU()"),
    (nn.BatchNorm(3), "BatchNorm(3, momentum=0.1, eps=1e-05)"),
    (nn.Dropout(0.1, rng=0), "Dropout(p=0.1)"),
])
def test_repr_shows_every_setting_of_the_constructor(layer, text):
    assert repr(layer) == text


def test_sequential_prints_its_layers_nested_and_indented_and_eval_rebuilds_it():
    model = nn.Sequential(nn.Dense(2, 3, activation="tanh", rng=0),
                          nn.Sequential(nn.ReLU(), nn.Dropout(0.2, rng=0)), nn.Dense(3, 1, rng=0))
    assert repr(model) == "\n".join([
        "Sequential(",
        "  Dense(2, 3, activation='tanh'),",
        "  Sequential(",
        "    ReLU(),",
        "    Dropout(p=0.2),",
        "  ),",
        "  Dense(3, 1),",
        ")",
    ])
    assert repr(eval(repr(model), vars(nn))) == repr(model)
    assert repr(nn.Sequential()) == "Sequential()"


def test_a_users_module_lists_the_layers_it_holds():
    class TwoLayer(nn.Module):
        def __init__(self, width=4, *, rng=None):
            self.hidden = nn.Dense(2, width, activation="tanh", rng=rng)
            self.output = nn.Dense(width, 1, rng=rng)

        def forward(self, x):
            return self.output(self.hidden(x))

    assert repr(TwoLayer(5, rng=0)) == "\n".join([
        "TwoLayer(",
        "  width=5",
        "  (hidden): Dense(2, 5, activation='tanh')",
        "  (output): Dense(5, 1)",
        ")",
    ])


def test_repr_html_is_a_table_of_the_layers():
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, activation="relu", rng=0), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Dense(8 * 4 * 4, 10, rng=0))
    page = model._repr_html_()
    assert page.startswith("<table>") and page.count("<tr>") == 1 + 4  # the header and one row per layer
    assert "<th" in page and "Params" in page and "1,370 parameters" in page
    for cells in (["layers.0", "Conv2d", "1, 8, kernel_size=3, stride=1, padding=1, activation=&#x27;relu&#x27;", "80"],
                  ["layers.3", "Dense", "128, 10", "1,290"]):
        assert "".join(f'<td style="text-align: {"right" if i == 3 else "left"}">{cell}</td>'
                       for i, cell in enumerate(cells)) in page
    one_layer = nn.GRU(3, 4, rng=0)._repr_html_()
    assert one_layer.count("<tr>") == 2 and "GRU" in one_layer and "_Weights" not in one_layer


# --- summary ------------------------------------------------------------------------------------

def test_summary_of_an_mlp_reads_the_input_size_from_its_first_layer(capsys):
    model = nn.Sequential(nn.Dense(64, 32, activation="relu", rng=0), nn.Dropout(0.2, rng=0), nn.Dense(32, 10, rng=0))
    assert model.summary() is None
    printed = capsys.readouterr().out
    assert printed.startswith('Model: "Sequential"  (input: one sample of shape (64,), float32)\n')
    rows = [(row.name, row.kind, row.settings, row.output_shape, row.parameters) for row in summarize(model).layers]
    assert rows == [("layers.0", "Dense", "64, 32, activation='relu'", (None, 32), 64 * 32 + 32),
                    ("layers.1", "Dropout", "p=0.2", (None, 32), 0),
                    ("layers.2", "Dense", "32, 10", (None, 10), 32 * 10 + 10)]
    lines = printed.splitlines()
    assert re.split(r"\s{2,}", lines[1]) == ["Layer (type)", "Settings", "Output shape", "Params", "Forward ops"]
    dense = count_ops(model.layers[0], numpy.zeros((1, 64), dtype=numpy.float32)).forward_total
    assert re.split(r"\s{2,}", lines[3]) == ["layers.0 (Dense)", "64, 32, activation='relu'", "(None, 32)", "2,080",
                                             f"{dense:,}"]
    assert dense >= 2 * 64 * 32  # the matrix product alone
    whole = count_ops(model.eval(), numpy.zeros((1, 64), dtype=numpy.float32))
    assert lines[-2] == f"Total params: {model.num_parameters():,}"
    assert lines[-1] == (f"Operations per sample: forward {whole.forward_total:,}, backward (gradient) "
                         f"{whole.reverse_total:,}, total {whole.total:,}")


def test_summary_of_a_cnn_needs_the_input_shape_and_restores_the_training_mode():
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, activation="relu", rng=0), nn.BatchNorm(8), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Dense(8 * 4 * 4, 10, rng=0))
    with pytest.raises(ValueError, match=r"cannot tell the shape of one input sample \(its first layer is Conv2d, "
                                         r"which takes samples of shape \(1, H, W\).*input_shape=\(1, 28, 28\)"):
        model.summary()
    table = summarize(model, input_shape=(1, 8, 8))
    assert [(row.kind, row.output_shape, row.parameters) for row in table.layers] == [
        ("Conv2d", (None, 8, 8, 8), 8 * 9 + 8), ("BatchNorm", (None, 8, 8, 8), 16), ("MaxPool2d", (None, 8, 4, 4), 0),
        ("Flatten", (None, 128), 0), ("Dense", (None, 10), 1290)]
    assert table.layers[0].settings == "1, 8, kernel_size=3, stride=1, padding=1, activation='relu'"
    # The convolution's matrix product alone takes 2 C_in K_h K_w operations per output value.
    assert table.layers[0].forward_ops >= 2 * 9 * 8 * 8 * 8
    assert table.input_shape == (1, 8, 8) and table.parameters == model.num_parameters()
    assert model.training and all(layer.training for layer in model.layers)  # BatchNorm ran in evaluation mode
    assert "<table>" in table._repr_html_() and "(None, 8, 4, 4)" in table._repr_html_()
    with pytest.raises(ValueError, match=r"cannot take one sample of shape \(3,\)"):
        summarize(model, input_shape=(3,))
    with pytest.raises(ValueError, match="input_shape must be one sample's shape as positive integers"):
        summarize(model, input_shape=(1, 0, 8))


def test_summary_of_one_recurrent_layer_is_one_row():
    table = summarize(nn.GRU(3, 4, rng=0), input_shape=(6, 3))
    assert [(row.name, row.kind, row.settings, row.output_shape) for row in table.layers] == [
        ("model", "GRU", "3, 4", (None, 6, 4))]
    with pytest.raises(ValueError, match=r"GRU, which takes samples of shape \(T, 3\)"):
        summarize(nn.GRU(3, 4, rng=0))
