"""nablanet.plot: every figure renders to a valid PNG without a display, and draws what it was given.

Figures are matplotlib.figure.Figure objects made without pyplot, so no backend, display or global
figure registry is involved and nothing needs closing.
"""

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from nablanet import nn, plot
from nablanet.train import History

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_bytes(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=40)
    return buffer.getvalue()


def line(ax, label):
    """The one line of ``ax`` with this legend label."""
    found = [drawn for drawn in ax.get_lines() if drawn.get_label() == label]
    assert len(found) == 1, f"expected one line labelled {label!r}, found {[d.get_label() for d in ax.get_lines()]}"
    return found[0]


def texts(ax) -> list[str]:
    return [text.get_text() for text in ax.texts]


HISTORY = {
    "loss": [1.0, 0.6, 0.5], "data_loss": [0.9, 0.5, 0.4], "penalty": [0.1, 0.1, 0.1],
    "accuracy": [0.5, 0.7, 0.8], "val_loss": [1.1, 0.8, 0.7], "val_accuracy": [0.4, 0.6, 0.7],
}
SWEEP = [{"lr": lr, "lambda": lam, "test_accuracy": round(0.9 - lam - lr / 10, 6)}
         for lr in (1e-3, 1e-2, 1e-1) for lam in (0.0, 1e-4, 1e-2)]
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0])

# (name, function building the figure): each must render to a valid, non-blank PNG.
FIGURES = [
    ("learning_curves", lambda: plot.learning_curves(HISTORY)),
    ("hyperparameter_heatmap", lambda: plot.hyperparameter_heatmap(SWEEP, "lr", "lambda", "test_accuracy")),
    ("activation_functions", lambda: plot.activation_functions(num=41)),
    ("decision_boundary", lambda: plot.decision_boundary(
        lambda P: np.logical_xor(P[:, 0] > 0.5, P[:, 1] > 0.5).astype(int), XOR_X, XOR_Y, resolution=30)),
    ("universal_approximation", lambda: plot.universal_approximation(
        np.linspace(0, 1, 20), np.sin, {1: np.zeros(20), 4: np.sin(np.linspace(0, 1, 20)) + 0.1}, errors=True)),
    ("gradient_norms", lambda: plot.gradient_norms({"hidden.W": [1e-3, 1e-4, 1e-5], "output.W": [1.0, 0.5, 0.2]})),
    ("confusion_matrix", lambda: plot.confusion_matrix([[5, 1], [2, 7]], class_names=["cat", "dog"])),
    ("image_rows", lambda: plot.image_rows({"digits": np.random.default_rng(0).uniform(size=(4, 64)),
                                            "fields": np.random.default_rng(1).normal(size=(4, 8, 8))},
                                           colorbar=True)),
]


@pytest.mark.parametrize("build", [build for _, build in FIGURES], ids=[name for name, _ in FIGURES])
def test_every_figure_renders_to_a_nonblank_png(build):
    figure = build()
    assert isinstance(figure, Figure)
    data = png_bytes(figure)
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    pixels = imread(io.BytesIO(data))
    assert pixels.ndim == 3 and pixels.shape[0] > 50 and pixels.shape[1] > 50
    assert np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0).shape[0] > 10, "the image is nearly blank"


def test_all_names_are_figure_functions_or_save():
    assert sorted(plot.__all__) == sorted([name for name, _ in FIGURES] + ["save"])


# --- learning curves -----------------------------------------------------------------------------

def test_learning_curves_panels_lines_and_values():
    figure = plot.learning_curves(HISTORY)
    loss_ax, accuracy_ax = figure.axes
    assert (loss_ax.get_title(), accuracy_ax.get_title()) == ("loss", "accuracy")
    assert [d.get_label() for d in loss_ax.get_lines()] == ["training", "validation", "training data loss", "penalty"]
    np.testing.assert_array_equal(line(loss_ax, "validation").get_ydata(), HISTORY["val_loss"])
    np.testing.assert_array_equal(line(accuracy_ax, "training").get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(line(accuracy_ax, "validation").get_ydata(), HISTORY["val_accuracy"])
    assert accuracy_ax.get_xlabel() == "epoch" and accuracy_ax.get_legend() is not None


def test_learning_curves_leaves_out_a_zero_penalty_and_a_constant_learning_rate():
    history = {"loss": [1.0, 0.5], "data_loss": [1.0, 0.5], "penalty": [0.0, 0.0], "lr": [0.1, 0.1]}
    (loss_ax,) = plot.learning_curves(history).axes
    assert [d.get_label() for d in loss_ax.get_lines()] == ["training"]


def test_regression_learning_curves_do_not_draw_the_loss_panel_twice():
    # Trained with mse and reporting mse (examples/configs/franke.toml does): the mse panel was the loss panel again.
    from nablanet.optim import Adam
    from nablanet.train import fit

    X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    model = nn.Sequential(nn.Dense(3, 8, activation="tanh", rng=0), nn.Dense(8, 1, rng=1))
    history = fit(model, X, X.sum(axis=1), loss="mse", optimizer=Adam(model.parameters(), lr=0.01), epochs=4,
                  metrics=["r2", "mse"], validation_split=0.25, seed=0, progress=False)
    figure = plot.learning_curves(history)
    assert [ax.get_title() for ax in figure.axes] == ["loss (mse)", "r2"]
    assert [d.get_label() for d in figure.axes[0].get_lines()] == ["training", "validation"]
    # A metric that differs from the loss keeps its panel, even when it equals it on the training data only.
    differs = {"loss": [1.0, 0.5], "mae": [1.0, 0.5], "val_loss": [1.2, 0.7], "val_mae": [0.9, 0.6]}
    assert [ax.get_title() for ax in plot.learning_curves(differs).axes] == ["loss", "mae"]
    one_epoch = {"loss": [0.5], "accuracy": [0.5]}
    assert [ax.get_title() for ax in plot.learning_curves(one_epoch).axes] == ["loss", "accuracy"]


def test_learning_curves_draws_a_changing_learning_rate_on_a_log_axis():
    figure = plot.learning_curves({"loss": [1.0, 0.5, 0.4], "lr": [0.1, 0.01, 0.001]})
    assert [ax.get_title() for ax in figure.axes] == ["loss", "learning rate"]
    assert figure.axes[1].get_yscale() == "log"


def test_learning_curves_log_axis_when_losses_span_decades():
    assert plot.learning_curves({"loss": [10.0, 1.0, 0.01]}).axes[0].get_yscale() == "log"
    assert plot.learning_curves({"loss": [1.0, 0.5, 0.4]}).axes[0].get_yscale() == "linear"
    assert plot.learning_curves({"loss": [1.0, 0.5, 0.4]}, log_loss=True).axes[0].get_yscale() == "log"


def test_learning_curves_of_a_history_object_numbers_epochs_from_its_epoch_list():
    history = History()
    for epoch, (loss, mse) in enumerate([(0.4, 0.3), (0.2, 0.1)], start=5):
        history.append(epoch, {"loss": loss, "mse": mse})
    figure = plot.learning_curves(history, title="resumed run")
    np.testing.assert_array_equal(line(figure.axes[1], "training").get_xdata(), [6, 7])
    assert figure.get_suptitle() == "resumed run"


def test_learning_curves_draws_a_diverged_epoch_as_a_gap():
    figure = plot.learning_curves({"loss": [1.0, float("nan"), 0.5]})
    assert np.isnan(figure.axes[0].get_lines()[0].get_ydata()[1])
    assert png_bytes(figure).startswith(PNG_SIGNATURE)


def test_learning_curves_wraps_many_panels_into_rows():
    history = {name: [1.0 + k, 0.5] for k, name in enumerate(("loss", "m1", "m2", "m3", "m4"))}
    figure = plot.learning_curves(history)
    assert len(figure.axes) == 5
    assert len({round(ax.get_position().y0, 3) for ax in figure.axes}) == 2


@pytest.mark.parametrize("history, message", [
    ({}, "empty"),
    ({"loss": []}, "empty"),
    ({"loss": [1.0, 0.5], "val_loss": [1.0]}, "lengths differ"),
    ({"loss": [[1.0, 2.0]]}, "one-dimensional"),
    ({"loss": ["high", "low"]}, "sequence of numbers"),
])
def test_learning_curves_bad_histories_are_named(history, message):
    with pytest.raises(ValueError, match=message):
        plot.learning_curves(history)


def test_learning_curves_rejects_what_is_not_a_history():
    with pytest.raises(TypeError, match="history"):
        plot.learning_curves([1.0, 0.5])


# --- hyperparameter heatmap ----------------------------------------------------------------------

def test_heatmap_cells_equal_the_inputs():
    figure = plot.hyperparameter_heatmap(SWEEP, "lr", "lambda", "test_accuracy")
    ax, colorbar_ax = figure.axes
    grid = ax.images[0].get_array()
    lrs, lambdas = [1e-3, 1e-2, 1e-1], [0.0, 1e-4, 1e-2]
    for row in SWEEP:
        assert grid[lambdas.index(row["lambda"]), lrs.index(row["lr"])] == row["test_accuracy"]
    assert texts(ax)[:3] == [format(grid[0, j], ".3g") for j in range(3)]
    assert (ax.get_xlabel(), ax.get_ylabel(), colorbar_ax.get_ylabel()) == ("lr", "lambda", "test_accuracy")


def test_heatmap_labels_decades_as_powers_of_ten_and_keeps_zero():
    ax = plot.hyperparameter_heatmap(SWEEP, "lr", "lambda", "test_accuracy").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["$10^{-3}$", "$10^{-2}$", "$10^{-1}$"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "$10^{-4}$", "$10^{-2}$"]
    rows = [{"lr": lr, "width": w, "acc": 0.5} for lr in (3e-4, 1e-1) for w in (1, 16, 256)]
    ax = plot.hyperparameter_heatmap(rows, "lr", "width", "acc").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [r"$3\times10^{-4}$", "$10^{-1}$"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1", "16", "256"], "whole numbers stay plain"
    rows = [{"lr": lr, "width": 8, "acc": 0.5} for lr in (0.01, 0.03, 0.1)]
    ax = plot.hyperparameter_heatmap(rows, "lr", "width", "acc").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.01", "0.03", "0.1"], "one decade stays plain"


def test_heatmap_nan_and_missing_cells_render_gray_and_marked():
    rows = [dict(row) for row in SWEEP]
    rows[0]["test_accuracy"] = float("nan")   # lr 1e-3, lambda 0: diverged
    del rows[4]                               # lr 1e-2, lambda 1e-4: never run
    figure = plot.hyperparameter_heatmap(rows, "lr", "lambda", "test_accuracy")
    ax = figure.axes[0]
    grid = ax.images[0].get_array()
    assert grid.mask[0, 0] and grid.mask[1, 1] and grid.mask.sum() == 2
    cell_texts = np.array(texts(ax)).reshape(3, 3)
    assert (cell_texts[0, 0], cell_texts[1, 1]) == ("nan", "n/a")
    assert png_bytes(figure).startswith(PNG_SIGNATURE)


def test_heatmap_all_nan_still_renders():
    rows = [{"lr": lr, "lambda": 0.0, "loss": float("nan")} for lr in (0.1, 1.0)]
    figure = plot.hyperparameter_heatmap(rows, "lr", "lambda", "loss")
    assert texts(figure.axes[0]) == ["nan", "nan"]
    assert png_bytes(figure).startswith(PNG_SIGNATURE)


def test_heatmap_takes_columns_as_well_as_rows():
    columns = {key: [row[key] for row in SWEEP] for key in SWEEP[0]}
    from_rows = plot.hyperparameter_heatmap(SWEEP, "lr", "lambda", "test_accuracy").axes[0].images[0].get_array()
    from_columns = plot.hyperparameter_heatmap(columns, "lr", "lambda", "test_accuracy").axes[0].images[0].get_array()
    np.testing.assert_array_equal(from_rows, from_columns)


def test_heatmap_repeats_are_an_error_unless_aggregated():
    rows = SWEEP + [{"lr": 1e-3, "lambda": 0.0, "test_accuracy": 0.5}]
    with pytest.raises(ValueError, match="aggregate"):
        plot.hyperparameter_heatmap(rows, "lr", "lambda", "test_accuracy")
    figure = plot.hyperparameter_heatmap(rows, "lr", "lambda", "test_accuracy", aggregate="mean")
    grid = figure.axes[0].images[0].get_array()
    assert grid[0, 0] == pytest.approx((0.8999 + 0.5) / 2)
    with pytest.raises(ValueError, match="aggregate must be one of"):
        plot.hyperparameter_heatmap(rows, "lr", "lambda", "test_accuracy", aggregate="sum")


def test_heatmap_names_categorical_and_list_levels():
    rows = [{"optimizer": name, "lr": lr, "acc": 0.7} for name in ("sgd", "adam") for lr in (0.1, 0.01)]
    ax = plot.hyperparameter_heatmap(rows, "lr", "optimizer", "acc").axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["adam", "sgd"]
    rows = [{"hidden": hidden, "lr": 0.1, "acc": 0.5} for hidden in ([64, 32], [16], None)]
    ax = plot.hyperparameter_heatmap(rows, "lr", "hidden", "acc").axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["[16]", "[64, 32]", "None"]


@pytest.mark.parametrize("results, message", [
    ([], "no rows"),
    ([{"lr": 0.1, "lambda": 0.0}], "row 0 has no key 'test_accuracy'"),
    ({"lr": [0.1], "lambda": [0.0]}, "no column 'test_accuracy'"),
    ({"lr": [0.1, 0.2], "lambda": [0.0], "test_accuracy": [0.5]}, "different lengths"),
])
def test_heatmap_bad_results_are_named(results, message):
    with pytest.raises(ValueError, match=message):
        plot.hyperparameter_heatmap(results, "lr", "lambda", "test_accuracy")


# --- activation functions ------------------------------------------------------------------------

def test_activation_derivatives_come_from_autodiff_and_match_closed_forms():
    figure = plot.activation_functions(("sigmoid", "tanh", "relu", "softplus"), (-4.0, 4.0), num=81)
    curves = {ax.get_title(): (line(ax, "f(z)"), line(ax, "f'(z)")) for ax in figure.axes}
    z = curves["sigmoid"][0].get_xdata()
    sigmoid = 1.0 / (1.0 + np.exp(-z))
    np.testing.assert_allclose(curves["sigmoid"][0].get_ydata(), sigmoid, rtol=1e-12)
    np.testing.assert_allclose(curves["sigmoid"][1].get_ydata(), sigmoid * (1.0 - sigmoid), rtol=1e-12)
    np.testing.assert_allclose(curves["tanh"][1].get_ydata(), 1.0 - np.tanh(z) ** 2, atol=1e-12)
    np.testing.assert_array_equal(curves["relu"][1].get_ydata(), (z > 0).astype(float))
    np.testing.assert_allclose(curves["softplus"][1].get_ydata(), sigmoid, rtol=1e-12)


def test_activation_functions_default_panels_and_callables():
    assert [ax.get_title() for ax in plot.activation_functions(num=11).axes] == [
        "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu"]

    def cube(z):
        return z * z * z

    ax = plot.activation_functions([cube], (-1.0, 1.0), num=5).axes[0]
    assert ax.get_title() == "cube"
    np.testing.assert_allclose(line(ax, "f'(z)").get_ydata(), 3 * np.linspace(-1, 1, 5) ** 2)


@pytest.mark.parametrize("names, x_range, message", [
    (("softmax",), (-1, 1), "not elementwise"),
    (("swishy",), (-1, 1), "unknown activation"),
    ((), (-1, 1), "no activations"),
    (("relu",), (1, -1), "low < high"),
])
def test_activation_functions_bad_input_is_named(names, x_range, message):
    with pytest.raises(ValueError, match=message):
        plot.activation_functions(names, x_range, num=5)


# --- decision boundary ---------------------------------------------------------------------------

def boundary_x_coordinates(ax):
    """x coordinates of the vertices of the boundary lines (the unfilled contour) in ``ax``."""
    boundaries = [c for c in ax.collections if getattr(c, "filled", True) is False]
    assert len(boundaries) == 1
    return np.concatenate([path.vertices[:, 0] for path in boundaries[0].get_paths()])


def test_decision_boundary_of_labels_lies_where_the_label_changes():
    X = np.array([[-2.0, -1.0], [2.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])
    y = np.array([0, 1, 0, 1])
    figure = plot.decision_boundary(lambda P: (P[:, 0] > 0.5).astype(int), X, y, resolution=81)
    ax = figure.axes[0]
    # The grid spans -2.4 .. 2.4 in 81 steps of 0.06: the switch at x1 = 0.5 is drawn within one step.
    np.testing.assert_allclose(boundary_x_coordinates(ax), 0.5, atol=0.06)
    assert ax.get_legend_handles_labels()[1] == ["0", "1"]
    assert len(figure.axes) == 1, "labels need no colorbar"


def test_decision_boundary_of_probabilities_has_a_colorbar_and_the_half_contour():
    X = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    figure = plot.decision_boundary(lambda P: 1.0 / (1.0 + np.exp(-4.0 * (P[:, 0] - 0.2))), X, [0, 1, 1],
                                    resolution=61, class_names=["no", "yes"])
    ax, colorbar_ax = figure.axes
    np.testing.assert_allclose(boundary_x_coordinates(ax), 0.2, atol=0.05)
    assert colorbar_ax.get_ylabel() == "P(class 1)"
    assert ax.get_legend_handles_labels()[1] == ["no", "yes"]


def test_decision_boundary_scores_use_threshold_zero():
    X = np.array([[-1.0, 0.0], [1.0, 0.0]])
    ax = plot.decision_boundary(lambda P: 3.0 * (P[:, 0] + 0.3), X, [0, 1], resolution=81).axes[0]
    np.testing.assert_allclose(boundary_x_coordinates(ax), -0.3, atol=0.04)


def test_decision_boundary_of_a_nablanet_module_and_of_a_predict_method():
    model = nn.Sequential(nn.Dense(2, 3, rng=0))

    class LabelModel:
        def predict(self, points):
            return (points.sum(axis=1) > 1).astype(int)

    model_ax = plot.decision_boundary(model, XOR_X, XOR_Y, resolution=20).axes[0]
    assert model_ax.get_legend_handles_labels()[1] == ["0", "1"]
    # x1 + x2 > 1 splits the grid along the anti-diagonal: the boundary runs from (0, 1) to (1, 0) (within a step).
    ax = plot.decision_boundary(LabelModel(), XOR_X, XOR_Y, resolution=23).axes[0]
    boundary = [c for c in ax.collections if getattr(c, "filled", True) is False][0]
    vertices = np.concatenate([path.vertices for path in boundary.get_paths()])
    np.testing.assert_allclose(vertices.sum(axis=1), 1.0, atol=0.1)


def test_decision_boundary_multiclass_columns_and_one_hot_targets():
    X = np.array([[-1.0, -1.0], [1.0, -1.0], [0.0, 1.0]])
    one_hot = np.eye(3)
    ax = plot.decision_boundary(lambda P: np.column_stack([-P[:, 0], P[:, 0], P[:, 1]]), X, one_hot,
                                resolution=20).axes[0]
    assert ax.get_legend_handles_labels()[1] == ["0", "1", "2"]


def test_decision_boundary_draws_into_given_axes():
    figure = Figure()
    ax = figure.subplots(1, 2)[1]
    assert plot.decision_boundary(lambda P: P[:, 0] > 0, XOR_X - 0.5, None, resolution=10, ax=ax) is figure
    assert len(ax.collections) >= 2


@pytest.mark.parametrize("X, y, predict, message", [
    (np.zeros((4, 3)), XOR_Y, lambda P: P[:, 0], r"shape \(n, 2\)"),
    (XOR_X, np.array([0, 1]), lambda P: P[:, 0], "one label per row"),
    (XOR_X, XOR_Y, lambda P: P[:5, 0], "predict returned shape"),
    (XOR_X, XOR_Y, "not a model", "must be a function"),
])
def test_decision_boundary_bad_input_is_named(X, y, predict, message):
    with pytest.raises((ValueError, TypeError), match=message):
        plot.decision_boundary(predict, X, y, resolution=10)


# --- universal approximation ---------------------------------------------------------------------

def test_universal_approximation_lines_and_sup_norm_errors():
    x = np.linspace(-1.0, 1.0, 41)[::-1]   # unsorted on purpose: lines are drawn in increasing x
    target = x ** 2
    fits = {8: target + 0.01, 2: np.zeros_like(x), 32: target - 0.001 * x}
    figure = plot.universal_approximation(x, target, fits, errors=True, title="x^2")
    fit_ax, error_ax = figure.axes
    assert [d.get_label() for d in fit_ax.get_lines()] == ["target", "width 2", "width 8", "width 32"]
    np.testing.assert_array_equal(line(fit_ax, "target").get_xdata(), np.sort(x))
    error_line = error_ax.get_lines()[0]
    np.testing.assert_array_equal(error_line.get_xdata(), [2, 8, 32])
    np.testing.assert_allclose(error_line.get_ydata(), [1.0, 0.01, 0.001])
    assert (error_ax.get_xscale(), error_ax.get_yscale()) == ("log", "log")
    assert [t.get_text() for t in error_ax.get_xticklabels()] == ["2", "8", "32"]


def test_universal_approximation_callable_target_given_errors_and_no_error_panel():
    x = np.linspace(0.0, 1.0, 10)[:, None]
    fits = {4: np.cos(x)}
    assert len(plot.universal_approximation(x, np.cos, fits).axes) == 1
    error_ax = plot.universal_approximation(x, np.cos, fits, errors={1: 0.5, 4: 0.1, 16: 0.01}).axes[1]
    np.testing.assert_allclose(error_ax.get_lines()[0].get_ydata(), [0.5, 0.1, 0.01])


@pytest.mark.parametrize("target, fits, message", [
    (np.zeros(5), {}, "fits is empty"),
    (np.zeros(4), {2: np.zeros(5)}, "target has 4 values"),
    (np.zeros(5), {2: np.zeros(6)}, r"fits\[2\] has 6 values"),
])
def test_universal_approximation_bad_input_is_named(target, fits, message):
    with pytest.raises(ValueError, match=message):
        plot.universal_approximation(np.linspace(0, 1, 5), target, fits)


# --- gradient norms ------------------------------------------------------------------------------

def test_gradient_norms_one_log_line_per_layer_with_zeros_as_gaps():
    norms = {"dense0.W": [1e-6, 0.0, 1e-7], "dense1.W": [1e-2, 1e-2, 1e-3], "dense2.W": [1.0, 2.0, 4.0]}
    ax = plot.gradient_norms(norms, x_label="step").axes[0]
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "step"
    assert [d.get_label() for d in ax.get_lines()] == list(norms)
    np.testing.assert_array_equal(line(ax, "dense0.W").get_ydata(), [1e-6, np.nan, 1e-7])
    np.testing.assert_array_equal(line(ax, "dense2.W").get_xdata(), [1, 2, 3])


def test_gradient_norms_from_a_list_of_per_step_dicts():
    per_step = [{"a": 1.0, "b": 0.1}, {"a": 0.5, "b": 0.01}]
    ax = plot.gradient_norms(per_step).axes[0]
    np.testing.assert_array_equal(line(ax, "b").get_ydata(), [0.1, 0.01])


@pytest.mark.parametrize("norms, message", [
    ({}, "non-empty"),
    ({"a": [1.0, 2.0], "b": [1.0]}, "lengths differ"),
    ({"a": [1.0, -0.5]}, "negative"),
    ({"a": []}, "empty"),
    ([{"a": 1.0}, {"b": 1.0}], "step 1 has layers"),
])
def test_gradient_norms_bad_input_is_named(norms, message):
    with pytest.raises(ValueError, match=message):
        plot.gradient_norms(norms)


# --- confusion matrix ----------------------------------------------------------------------------

def test_confusion_matrix_counts_names_and_orientation():
    matrix = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 9]])
    ax, colorbar_ax = plot.confusion_matrix(matrix, class_names=["a", "b", "c"]).axes
    np.testing.assert_array_equal(ax.images[0].get_array(), matrix)
    assert texts(ax) == [str(v) for v in matrix.ravel()]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    assert (ax.get_ylabel(), ax.get_xlabel(), colorbar_ax.get_ylabel()) == ("true class", "predicted class", "count")


@pytest.mark.parametrize("normalize, axis", [(True, 1), ("true", 1), ("pred", 0), ("all", None)])
def test_confusion_matrix_normalization(normalize, axis):
    matrix = np.array([[6.0, 2.0], [1.0, 3.0]])
    ax = plot.confusion_matrix(matrix, normalize=normalize).axes[0]
    expected = matrix / matrix.sum(axis=axis, keepdims=axis is not None)
    np.testing.assert_allclose(ax.images[0].get_array(), expected)
    assert texts(ax) == [f"{v:.2f}" for v in expected.ravel()]


def test_confusion_matrix_empty_class_row_is_marked_and_renders():
    figure = plot.confusion_matrix([[3, 1, 0], [0, 0, 0], [1, 0, 4]], normalize=True)
    assert texts(figure.axes[0])[3:6] == ["n/a"] * 3
    assert png_bytes(figure).startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("matrix, kwargs, message", [
    ([[1, 2, 3], [4, 5, 6]], {}, "square"),
    ([[1, -2], [3, 4]], {}, "negative"),
    ([[1, 2], [3, 4]], {"class_names": ["x"]}, "1 class names"),
    ([[1, 2], [3, 4]], {"normalize": "rows"}, "normalize must be"),
])
def test_confusion_matrix_bad_input_is_named(matrix, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot.confusion_matrix(matrix, **kwargs)


# --- saving and the optional dependency ----------------------------------------------------------

def test_save_writes_a_png_atomically_and_returns_the_path(tmp_path):
    target = tmp_path / "norms.png"
    target.write_bytes(b"old")
    written = plot.save(plot.gradient_norms({"W": [1.0, 0.5]}), str(target), dpi=40)
    assert written == target
    assert target.read_bytes().startswith(PNG_SIGNATURE)
    assert os.listdir(tmp_path) == ["norms.png"], "no temporary file is left behind"
    assert target.stat().st_mode & 0o777 == 0o644


def test_save_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "figure.notaformat"
    target.write_bytes(b"old")
    with pytest.raises(ValueError, match="notaformat"):
        plot.save(plot.gradient_norms({"W": [1.0, 0.5]}), target)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["figure.notaformat"]


def test_missing_matplotlib_names_the_extra(monkeypatch):
    for name in [name for name in sys.modules if name == "matplotlib" or name.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # None in sys.modules makes the import fail
    with pytest.raises(ImportError, match=r"pip install 'nablanet\[plot\]'"):
        plot.gradient_norms({"W": [1.0]})


def test_nablanet_and_its_plot_module_import_without_loading_matplotlib():
    code = "import sys, nablanet, nablanet.plot; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# --- rows of images ------------------------------------------------------------------------------

def test_image_rows_draws_each_image_in_its_row_and_column_on_the_row_scale():
    rng = np.random.default_rng(0)
    originals, fields = rng.uniform(size=(3, 16)), rng.normal(size=(3, 5, 6))
    figure = plot.image_rows({"originals": originals, "fields": fields}, column_titles=[7, 8, 9])
    assert len(figure.axes) == 6
    assert [ax.get_title() for ax in figure.axes[:3]] == ["7", "8", "9"]
    assert [ax.get_ylabel() for ax in figure.axes[::3]] == ["originals", "fields"]
    for k, ax in enumerate(figure.axes):
        row = originals.reshape(3, 4, 4) if k < 3 else fields
        (image,) = ax.images
        np.testing.assert_array_equal(image.get_array(), row[k % 3])
        # One scale per row: the row's extremes, not the image's.
        assert image.get_clim() == (row.min(), row.max())
        assert not ax.get_xticks().size and not ax.get_yticks().size
    own = plot.image_rows({"fields": fields}, shared_scale=False)
    assert [ax.images[0].get_clim() for ax in own.axes] == [(f.min(), f.max()) for f in fields]


def test_image_rows_colorbar_per_row():
    figure = plot.image_rows({"a": np.zeros((2, 3, 3)), "b": np.ones((2, 3, 3))}, colorbar=True, title="t")
    assert len(figure.axes) == 4 + 2 and figure.get_suptitle() == "t"


@pytest.mark.parametrize("rows, options, message", [
    ({}, {}, "non-empty mapping"),
    ([np.zeros((2, 3, 3))], {}, "non-empty mapping"),
    ({"a": np.zeros((2, 3, 3)), "b": np.zeros((3, 3, 3))}, {}, "same number of images"),
    ({"a": np.zeros((0, 3, 3))}, {}, "at least one"),
    ({"a": np.zeros((2, 10))}, {}, "not a square number"),
    ({"a": np.zeros((2, 3, 3, 3))}, {}, "shape \\(K, H, W\\)"),
    ({"a": [["x"]]}, {}, "array of images"),
    ({"a": np.zeros((2, 3, 3))}, {"column_titles": ["one"]}, "1 column titles for 2 columns"),
])
def test_image_rows_bad_input_is_named(rows, options, message):
    with pytest.raises(ValueError, match=message):
        plot.image_rows(rows, **options)
