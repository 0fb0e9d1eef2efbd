"""Matplotlib figures of training: learning curves, sweeps, activations, decision boundaries, gradients.

Every function takes plain data (lists, arrays, dicts), returns a ``matplotlib.figure.Figure`` and
never calls ``plt.show()``: save it with :func:`save`, or let a notebook display it. Figures are
made with ``matplotlib.figure.Figure`` directly rather than ``pyplot``, so no global figure registry
grows and no display or backend is needed. Matplotlib is imported only when a figure is drawn, so
the rest of nablanet works without it (``pip install nablanet[plot]`` installs it).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = [
    "learning_curves", "hyperparameter_heatmap", "activation_functions", "decision_boundary",
    "universal_approximation", "gradient_norms", "confusion_matrix", "save",
]

_MISSING_MATPLOTLIB = "nablanet.plot needs matplotlib, which is not installed: pip install nablanet[plot]"

# History keys drawn in the loss panel; everything else except the learning rate is a metric.
_LOSS_KEYS = ("loss", "data_loss", "penalty")
_LEARNING_RATE_KEY = "lr"

# Heatmap axes whose positive values cover at least this ratio get 10^k tick labels.
_DECADES_RATIO = 100.0


# --- shared helpers --------------------------------------------------------------------------------

def _matplotlib():
    """The matplotlib package, imported on first use, or an ImportError naming the extra to install."""
    try:
        import matplotlib
        import matplotlib.figure  # noqa: F401  (the submodule is used as matplotlib.figure)
    except ImportError as error:
        raise ImportError(_MISSING_MATPLOTLIB) from error
    return matplotlib


def _new_figure(width: float, height: float):
    # Constrained layout keeps titles, tick labels, legends and colorbars from overlapping.
    return _matplotlib().figure.Figure(figsize=(width, height), layout="constrained")


def _figure_and_axes(ax, width: float, height: float):
    """Draw into the caller's axes when given one, else into a new one-panel figure."""
    if ax is not None:
        _matplotlib()
        return ax.figure, ax
    figure = _new_figure(width, height)
    return figure, figure.add_subplot()


def _array(values) -> np.ndarray:
    """An ndarray from plain data or a nablanet Tensor (whose values live in ``_data``)."""
    from nablanet.autodiff.tensor import Tensor

    return values._data if isinstance(values, Tensor) else np.asarray(values)


def _float_sequence(values, what: str) -> np.ndarray:
    try:
        array = np.asarray(_array(values), dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} must be a sequence of numbers, got {values!r:.80}") from error
    if array.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional (one value per step), got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{what} is empty")
    return array


def _depth_colors(count: int) -> list:
    """``count`` colors along viridis (dark to light), to show an order such as depth or width."""
    colormap = _matplotlib().colormaps["viridis"]
    return [colormap(0.85 * i / max(count - 1, 1)) for i in range(count)]


def _class_colors(count: int) -> list:
    colormaps = _matplotlib().colormaps
    if count <= 10:
        return [colormaps["tab10"](i) for i in range(count)]
    if count <= 20:
        return [colormaps["tab20"](i) for i in range(count)]
    return [colormaps["turbo"](i / (count - 1)) for i in range(count)]


def _set_log_width_axis(ax, widths) -> None:
    """A log x axis labelled with the widths themselves (1, 2, 4, ...) instead of powers of ten."""
    ax.set_xscale("log")
    ax.set_xticks(list(widths))
    ax.set_xticklabels([f"{w:g}" for w in widths])
    ax.minorticks_off()


def _annotate_cells(ax, image, values: np.ndarray, labels) -> None:
    """Write ``labels[i][j]`` in each cell, white on dark colors and black on light ones."""
    for (i, j), label in np.ndenumerate(np.asarray(labels, dtype=object)):
        value = values[i, j]
        if math.isfinite(value):
            red, green, blue, _ = image.cmap(image.norm(value))
            # Relative luminance (ITU-R BT.709) decides which text color stays readable.
            dark = 0.2126 * red + 0.7152 * green + 0.0722 * blue < 0.5
        else:
            dark = False
        ax.text(j, i, label, ha="center", va="center", fontsize="small", color="white" if dark else "black")


def _bad_as_gray(name: str):
    """The named colormap with NaN cells drawn light gray instead of transparent."""
    return _matplotlib().colormaps[name].with_extremes(bad="lightgray")


# --- learning curves -----------------------------------------------------------------------------

def learning_curves(history, *, title: str | None = None, log_loss: bool | None = None):
    """Training and validation loss and metrics against the epoch: one panel for the losses, one per metric.

    In the loss panel, ``loss`` (training) and ``val_loss`` (validation) are solid lines; when a
    regularization penalty was recorded and is not zero, ``data_loss`` (dashed) and ``penalty``
    (dotted) show what the total is made of. Every other key is a metric with its own panel,
    training solid and ``val_<metric>`` in the validation color. A learning rate ``lr`` that changes
    gets a last panel on a log axis (a constant one is left out).

    Args:
        history: a dict name -> list of per-epoch values (``loss``, ``val_loss``, ``accuracy``, ...),
            or an object with such a dict as its ``history`` attribute (nablanet's and Keras'
            ``History``); its ``epoch`` list, if any, numbers the x axis (plus one, so the first
            epoch is 1).
        title: a title over the whole figure.
        log_loss: draw the loss panel on a log axis; ``None`` (default) does so when the positive
            losses span more than two decades.

    Returns:
        The Figure.

    Raises:
        ValueError: the history is empty, a key has no values, or the keys have different lengths.

    Example:
        >>> fig = learning_curves({"loss": [0.9, 0.5, 0.4], "val_loss": [1.0, 0.7, 0.6],
        ...                        "accuracy": [0.6, 0.8, 0.85], "val_accuracy": [0.55, 0.7, 0.75]})
        >>> [ax.get_title() for ax in fig.axes]
        ['loss', 'accuracy']
    """
    records, epochs = _history_records(history)
    loss_keys = [key for key in records if _base_name(key) in _LOSS_KEYS]
    metric_names = list(dict.fromkeys(
        _base_name(key) for key in records if _base_name(key) not in _LOSS_KEYS + (_LEARNING_RATE_KEY,)))
    learning_rate = records.get(_LEARNING_RATE_KEY)
    finite_rates = learning_rate[np.isfinite(learning_rate)] if learning_rate is not None else np.array([])
    show_learning_rate = finite_rates.size > 0 and np.ptp(finite_rates) > 0

    panels = (["loss"] if loss_keys else []) + metric_names + (["learning rate"] if show_learning_rate else [])
    columns = min(len(panels), 3)
    rows = math.ceil(len(panels) / columns)
    figure = _new_figure(4.2 * columns, 3.3 * rows)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for unused in axes[len(panels):]:
        unused.remove()

    panel_axes = iter(axes)
    if loss_keys:
        _draw_losses(next(panel_axes), records, epochs, log_loss)
    for name in metric_names:
        ax = next(panel_axes)
        for key, label, color in ((name, "training", "C0"), ("val_" + name, "validation", "C1")):
            if key in records:
                ax.plot(epochs, records[key], color=color, label=label, marker=_marker(epochs))
        ax.set_title(name)
        ax.set_ylabel(name)
    if show_learning_rate:
        ax = next(panel_axes)
        ax.plot(epochs, learning_rate, color="C2", label="learning rate", marker=_marker(epochs))
        ax.set_yscale("log")
        ax.set_title("learning rate")
        ax.set_ylabel("lr")
    for ax in axes[:len(panels)]:
        ax.set_xlabel("epoch")
        # Epochs are whole numbers: no tick at epoch 2.5.
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        if len(ax.lines) > 1:
            ax.legend(fontsize="small")
    if title:
        figure.suptitle(title)
    return figure


def _history_records(history) -> tuple[dict, np.ndarray]:
    """The history's lists as float arrays of one common length, and the epoch numbers (from 1)."""
    source = getattr(history, "history", history)
    if not isinstance(source, Mapping):
        raise TypeError(
            f"learning_curves: expected a dict of per-epoch lists or an object with a .history dict, "
            f"got {type(history).__name__}")
    if not source:
        raise ValueError("learning_curves: the history is empty (no keys); was the model trained for any epochs?")
    records = {str(key): _float_sequence(values, f"learning_curves: history[{key!r}]")
               for key, values in source.items()}
    lengths = {key: values.size for key, values in records.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"learning_curves: every key needs one value per epoch, but the lengths differ: {lengths}")
    count = next(iter(lengths.values()))
    epoch_attribute = getattr(history, "epoch", None)
    if epoch_attribute is not None and len(epoch_attribute) == count:
        epochs = np.asarray(epoch_attribute) + 1
    else:
        epochs = np.arange(1, count + 1)
    return records, epochs


def _base_name(key: str) -> str:
    return key[len("val_"):] if key.startswith("val_") else key


def _marker(epochs) -> str | None:
    # With a handful of epochs the points themselves matter; with many, markers only clutter.
    return "o" if len(epochs) <= 20 else None


def _draw_losses(ax, records: dict, epochs, log_loss) -> None:
    penalty = records.get("penalty")
    has_penalty = penalty is not None and np.any(np.nan_to_num(penalty) != 0)
    curves = [("loss", "training", "C0", "-"), ("val_loss", "validation", "C1", "-")]
    if has_penalty:
        curves += [("data_loss", "training data loss", "C0", "--"), ("penalty", "penalty", "C2", ":"),
                   ("val_data_loss", "validation data loss", "C1", "--")]
    elif "loss" not in records and "data_loss" in records:
        curves.append(("data_loss", "training", "C0", "-"))
    for key, label, color, style in curves:
        if key in records:
            ax.plot(epochs, records[key], color=color, linestyle=style, label=label, marker=_marker(epochs))
    if log_loss is None:
        drawn = np.concatenate([line.get_ydata() for line in ax.lines])
        positive = drawn[np.isfinite(drawn) & (drawn > 0)]
        log_loss = positive.size > 0 and positive.max() > 100 * positive.min()
    if log_loss:
        ax.set_yscale("log")
    ax.set_title("loss")
    ax.set_ylabel("loss")


# --- hyperparameter sweep ------------------------------------------------------------------------

def hyperparameter_heatmap(results, x: str, y: str, value: str, *, aggregate: str | None = None,
                           fmt: str = ".3g", cmap: str = "viridis", ax=None, title: str | None = None):
    """A grid of ``value`` over two hyperparameters, one annotated cell per combination, with a colorbar.

    Each distinct value of ``x`` is a column and each value of ``y`` a row, in increasing order and
    equally spaced whatever the numbers: a sweep over 1e-4, 1e-3, 1e-2 gives three equal cells, and
    an axis of fractional values whose positive ones span two decades or more is labelled as powers
    of ten (a 0, as for "no regularization", keeps its own cell). A combination that was not run is a gray
    cell marked ``n/a``; a run whose value is NaN (a diverged one) is a gray cell marked ``nan``.

    Args:
        results: the sweep's rows as a list of dicts, or its columns as a dict of lists
            (a pandas DataFrame works too), e.g. ``[{"lr": 0.01, "lambda": 1e-4, "test_accuracy": 0.93}, ...]``.
        x: the key whose values are the columns.
        y: the key whose values are the rows.
        value: the key shown by color and number.
        aggregate: how to combine several rows with the same (x, y), e.g. repeated seeds:
            ``"mean"``, ``"median"``, ``"min"`` or ``"max"``. ``None`` (default) makes a repeat an
            error, since it usually means a third hyperparameter varied.
        fmt: format of the numbers written in the cells.
        cmap: name of a matplotlib colormap.
        ax: axes to draw into; default: a new figure.
        title: the axes title; default ``"<value>"``.

    Returns:
        The Figure.

    Raises:
        ValueError: no rows, a missing key, columns of different lengths, or an unexpected repeat.

    Example:
        >>> rows = [{"lr": lr, "lambda": lam, "test_accuracy": 0.9 - lam - 0.1 * lr}
        ...         for lr in (1e-3, 1e-2, 1e-1) for lam in (0.0, 1e-4, 1e-2)]
        >>> fig = hyperparameter_heatmap(rows, "lr", "lambda", "test_accuracy")
        >>> [label.get_text() for label in fig.axes[0].get_xticklabels()]
        ['$10^{-3}$', '$10^{-2}$', '$10^{-1}$']
    """
    columns = _sweep_columns(results, (x, y, value))
    x_levels, x_index = _levels(columns[x])
    y_levels, y_index = _levels(columns[y])
    cell_values = _float_sequence(columns[value], f"hyperparameter_heatmap: column {value!r}")
    grid = _pivot(cell_values, y_index, x_index, (len(y_levels), len(x_levels)), aggregate, (x, y))
    ran = np.zeros(grid.shape, dtype=bool)
    ran[y_index, x_index] = True

    figure, ax = _figure_and_axes(ax, 1.1 * len(x_levels) + 2.6, 0.55 * len(y_levels) + 2.2)
    finite = grid[np.isfinite(grid)]
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    # np.ma marks NaN (not run, or diverged) as bad, which the colormap draws gray.
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=_bad_as_gray(cmap), vmin=low, vmax=high,
                      origin="lower", aspect="auto", interpolation="nearest")
    labels = [[format(v, fmt) if was_run and math.isfinite(v) else ("nan" if was_run else "n/a")
               for v, was_run in zip(row_values, row_ran)] for row_values, row_ran in zip(grid, ran)]
    _annotate_cells(ax, image, grid, labels)
    ax.set_xticks(range(len(x_levels)), _tick_labels(x_levels))
    ax.set_yticks(range(len(y_levels)), _tick_labels(y_levels))
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title if title is not None else value)
    figure.colorbar(image, ax=ax, label=value)
    return figure


# Plain (not nan-) reductions: a repeat that diverged makes its cell NaN rather than vanish into the mean.
_AGGREGATES = {"mean": np.mean, "median": np.median, "min": np.min, "max": np.max}


def _sweep_columns(results, keys) -> dict:
    """The needed columns of a sweep given as rows (list of dicts) or columns (dict of lists)."""
    if hasattr(results, "keys") and not isinstance(results, (list, tuple)):
        missing = [key for key in keys if key not in results.keys()]
        if missing:
            raise ValueError(
                f"hyperparameter_heatmap: no column {missing[0]!r}; the columns are {list(results.keys())}")
        columns = {key: list(results[key]) for key in keys}
        lengths = {key: len(column) for key, column in columns.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"hyperparameter_heatmap: the columns have different lengths: {lengths}")
    else:
        rows = list(results)
        for number, row in enumerate(rows):
            missing = [key for key in keys if key not in row]
            if missing:
                raise ValueError(
                    f"hyperparameter_heatmap: row {number} has no key {missing[0]!r}; its keys are {list(row)}")
        columns = {key: [row[key] for row in rows] for key in keys}
    if not columns[keys[0]]:
        raise ValueError("hyperparameter_heatmap: the results have no rows")
    return columns


def _levels(column) -> tuple[list, np.ndarray]:
    """The sorted distinct values of a column and each row's index among them."""
    # Lists (layer sizes such as [64, 32]) become tuples so they can be told apart and counted.
    column = [tuple(v) if isinstance(v, list) else v for v in column]
    # Numbers first in increasing order, then anything else (names, sizes, None) by its text.
    levels = sorted(set(column), key=lambda v: (0, v, "") if _is_number(v) else (1, 0, str(v)))
    position = {level: i for i, level in enumerate(levels)}
    return levels, np.array([position[v] for v in column], dtype=np.intp)


def _pivot(values, row_index, column_index, shape, aggregate, names) -> np.ndarray:
    cells = {}
    for value, i, j in zip(values, row_index, column_index):
        cells.setdefault((i, j), []).append(value)
    repeated = [cell for cell, found in cells.items() if len(found) > 1]
    if repeated and aggregate is None:
        i, j = repeated[0]
        raise ValueError(
            f"hyperparameter_heatmap: {len(cells[repeated[0]])} rows share one cell ({names[1]} index {i}, "
            f"{names[0]} index {j}); pass aggregate='mean' (or 'median', 'min', 'max') to combine repeats")
    if aggregate is not None and aggregate not in _AGGREGATES:
        raise ValueError(f"hyperparameter_heatmap: aggregate must be one of {sorted(_AGGREGATES)}, got {aggregate!r}")
    grid = np.full(shape, np.nan)
    for (i, j), found in cells.items():
        grid[i, j] = found[0] if len(found) == 1 else _AGGREGATES[aggregate](found)
    return grid


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))


def _tick_labels(levels: list) -> list[str]:
    """Numbers as %g, or as powers of ten when the positive ones span decades; anything else as str.

    Whole numbers (widths, batch sizes) keep %g even across decades: 256 reads better than 2.56 x 10^2.
    """
    positive = [float(v) for v in levels if _is_number(v) and v > 0]
    decades = (len(positive) >= 2 and max(positive) >= _DECADES_RATIO * min(positive)
               and not all(v.is_integer() for v in positive))
    labels = []
    for level in levels:
        if isinstance(level, tuple):
            labels.append(str(list(level)))  # a list in the results (see _levels), shown as one
        elif not _is_number(level):
            labels.append(str(level))
        elif decades and level > 0:
            labels.append(_power_of_ten_label(float(level)))
        else:
            labels.append(f"{level:g}")
    return labels


def _power_of_ten_label(v: float) -> str:
    exponent = math.floor(math.log10(v))
    mantissa = v / 10.0 ** exponent
    if math.isclose(mantissa, 10.0):  # rounding in the division, e.g. 1e-3 / 1e-4
        mantissa, exponent = 1.0, exponent + 1
    if math.isclose(mantissa, 1.0):
        return f"$10^{{{exponent}}}$"
    return f"${mantissa:.3g}\\times10^{{{exponent}}}$"


# --- activation functions ------------------------------------------------------------------------

def activation_functions(names=("sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu"),
                         x_range=(-5.0, 5.0), *, num: int = 401, title: str | None = None):
    """Each activation and its derivative, the derivative computed by nablanet's forward mode.

    The derivative is ``jvp(f, (z,), (ones,))``: for an elementwise f the Jacobian is diagonal, so
    one forward-mode pass with a tangent of ones gives f'(z) at every grid point. Nothing here is a
    hand-written derivative, so the plot shows what training differentiates (relu' is 0 at 0, as
    in nablanet and PyTorch).

    Args:
        names: activations by name (from ``nablanet.nn.functional.ACTIVATIONS``) or elementwise
            callables of a Tensor.
        x_range: the interval of z drawn.
        num: grid points in the interval.
        title: a title over the whole figure.

    Returns:
        The Figure: one panel per activation, with lines labelled ``f(z)`` and ``f'(z)``.

    Raises:
        ValueError: an unknown or non-elementwise (softmax) activation, or an empty interval.

    Example:
        >>> fig = activation_functions(["sigmoid"], (-1.0, 1.0), num=3)
        >>> derivative = fig.axes[0].get_lines()[1]
        >>> [round(float(d), 4) for d in derivative.get_ydata()]   # sigma (1 - sigma)
        [0.1966, 0.25, 0.1966]
    """
    from nablanet.autodiff.transforms import jvp
    from nablanet.nn.functional import get_activation, softmax

    names = [names] if isinstance(names, str) or callable(names) else list(names)
    if not names:
        raise ValueError("activation_functions: no activations named")
    low, high = (float(v) for v in x_range)
    if not low < high:
        raise ValueError(f"activation_functions: x_range must be (low, high) with low < high, got {x_range}")
    z = np.linspace(low, high, num)

    columns = min(len(names), 4)
    rows = math.ceil(len(names) / columns)
    figure = _new_figure(3.2 * columns, 2.9 * rows)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for unused in axes[len(names):]:
        unused.remove()
    for ax, name in zip(axes, names):
        function = get_activation(name)
        if function is softmax:
            raise ValueError("activation_functions: softmax is not elementwise (it couples a row's entries); "
                             "its derivative is a Jacobian, not a curve")
        values, derivative = jvp(function, (z,), (np.ones_like(z),))
        label = name if isinstance(name, str) else getattr(name, "__name__", type(name).__name__)
        ax.plot(z, np.broadcast_to(values, z.shape), color="C0", label="f(z)")
        ax.plot(z, np.broadcast_to(derivative, z.shape), color="C1", linestyle="--", label="f'(z)")
        # The axes through the origin, behind the curves (added last so the curves are lines 0 and 1).
        ax.axhline(0.0, color="0.8", linewidth=0.8, zorder=0)
        ax.axvline(0.0, color="0.8", linewidth=0.8, zorder=0)
        ax.set_title(label)
        ax.set_xlabel("z")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small", loc="upper left")
    if title:
        figure.suptitle(title)
    return figure


# --- decision boundary ---------------------------------------------------------------------------

def decision_boundary(predict, X, y=None, resolution: int = 200, ax=None, *, threshold: float | None = None,
                      class_names=None, title: str | None = None):
    """The regions a 2-D classifier assigns to each class, with the data scattered on top.

    The classifier is evaluated on a ``resolution x resolution`` grid covering the data plus a
    margin. Its output decides the shading:

    - one number per point with values in [0, 1]: the probability of class 1, shaded continuously
      (colorbar) with the ``threshold`` (default 0.5) contour drawn as the boundary;
    - one non-integer number outside [0, 1]: a score (logit, margin), class 1 where it exceeds the
      threshold (default 0);
    - one column per class (probabilities or logits): the class with the largest entry;
    - anything else: the labels themselves.

    Args:
        predict: a function from an ``(n, 2)`` array to labels, probabilities or scores; an object
            with a ``predict`` method (a scikit-learn estimator); or a nablanet ``Module`` (run by
            ``nablanet.train.predict``: evaluation mode, no graph).
        X: the data, shape ``(n, 2)``.
        y: the data's labels ``(n,)`` (or one-hot ``(n, K)``); ``None`` scatters the points in gray.
        resolution: grid points along each axis.
        ax: axes to draw into; default: a new figure.
        threshold: the boundary for a single-output classifier (see above).
        class_names: names for the legend, one per class in sorted label order.
        title: the axes title.

    Returns:
        The Figure.

    Raises:
        ValueError: X is not ``(n, 2)``, y has another length, or the predictions' count is not
            one per grid point.

    Example:
        >>> X = np.array([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])
        >>> fig = decision_boundary(lambda P: (P[:, 0] > 0).astype(int), X, np.array([0, 1, 0, 1]))
        >>> fig.axes[0].get_legend_handles_labels()[1]
        ['0', '1']
    """
    X = np.asarray(_array(X), dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2 or X.shape[0] == 0:
        raise ValueError(f"decision_boundary: X must have shape (n, 2) with n >= 1, got {X.shape}")
    if resolution < 2:
        raise ValueError(f"decision_boundary: resolution must be at least 2, got {resolution}")
    labels = None if y is None else _label_vector(y, X.shape[0])

    xx, yy = _grid_around(X, resolution)
    grid_points = np.column_stack([xx.ravel(), yy.ravel()])
    outputs = _array(_predictor(predict)(grid_points))
    if outputs.shape[0] != grid_points.shape[0] or outputs.ndim > 2:
        raise ValueError(f"decision_boundary: predict returned shape {outputs.shape} for {grid_points.shape[0]} "
                         f"points; expected one label, probability or score per point, or one row per point")

    figure, ax = _figure_and_axes(ax, 6.0, 4.8)
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        outputs = outputs[:, 0]
    probabilities = None
    if outputs.ndim == 2:
        grid_labels = np.argmax(outputs, axis=1)
    elif np.issubdtype(outputs.dtype, np.number) and not np.all(np.equal(np.mod(outputs, 1), 0)):
        scores = outputs.astype(np.float64)
        is_probability = scores.min() >= 0.0 and scores.max() <= 1.0
        cut = threshold if threshold is not None else (0.5 if is_probability else 0.0)
        grid_labels = (scores > cut).astype(int)
        if is_probability:
            probabilities = scores
    else:
        grid_labels = outputs

    classes = np.unique(np.concatenate([np.asarray(grid_labels).ravel()] + ([labels] if labels is not None else [])))
    colors = _class_colors(len(classes))
    if probabilities is not None:
        _shade_probability(figure, ax, xx, yy, probabilities.reshape(xx.shape), cut, colors, classes)
    else:
        index = np.searchsorted(classes, grid_labels).reshape(xx.shape)
        listed = _matplotlib().colors.ListedColormap(colors)
        ax.contourf(xx, yy, index, levels=np.arange(len(classes) + 1) - 0.5, cmap=listed, alpha=0.3)
        if len(classes) > 1:
            ax.contour(xx, yy, index, levels=np.arange(len(classes) - 1) + 0.5, colors="0.25", linewidths=1.0)
    _scatter_classes(ax, X, labels, classes, colors, class_names)
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return figure


def _predictor(predict):
    """A function from an (n, 2) array to outputs, whatever kind of model was passed."""
    from nablanet.nn.module import Module

    if isinstance(predict, Module):
        from nablanet.train import predict as predict_module

        return lambda points: predict_module(predict, points)
    if hasattr(predict, "predict"):
        return predict.predict
    if callable(predict):
        return predict
    raise TypeError(f"decision_boundary: predict must be a function, a model with .predict, or a nablanet Module, "
                    f"got {type(predict).__name__}")


def _label_vector(y, count: int) -> np.ndarray:
    labels = _array(y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    elif labels.ndim == 2:
        labels = np.argmax(labels, axis=1)  # one-hot rows
    if labels.ndim != 1 or labels.shape[0] != count:
        raise ValueError(f"decision_boundary: y must hold one label per row of X ({count}), got shape {np.shape(y)}")
    return labels


def _grid_around(X: np.ndarray, resolution: int):
    low, high = X.min(axis=0), X.max(axis=0)
    # A 10% margin so points on the edge are not cut; a constant coordinate gets a unit-wide window.
    margin = np.where(high > low, 0.1 * (high - low), 0.5)
    axes = [np.linspace(low[k] - margin[k], high[k] + margin[k], resolution) for k in range(2)]
    return np.meshgrid(*axes)


def _shade_probability(figure, ax, xx, yy, probability, cut, colors, classes) -> None:
    mcolors = _matplotlib().colors
    # From class 0's color through white (undecided) to class 1's, so confidence reads as saturation.
    two_classes = mcolors.LinearSegmentedColormap.from_list("p1", [colors[0], "white", colors[-1]])
    filled = ax.contourf(xx, yy, probability, levels=np.linspace(0.0, 1.0, 11), cmap=two_classes, alpha=0.5)
    ax.contour(xx, yy, probability, levels=[cut], colors="0.25", linewidths=1.2)
    positive = classes[-1] if len(classes) > 1 else 1
    figure.colorbar(filled, ax=ax, label=f"P(class {positive})")


def _scatter_classes(ax, X, labels, classes, colors, class_names) -> None:
    size = 24 if X.shape[0] <= 500 else 8
    if labels is None:
        ax.scatter(X[:, 0], X[:, 1], s=size, color="0.3", edgecolors="white", linewidths=0.4)
        return
    present = np.unique(labels)
    if class_names is not None and len(class_names) != len(present):
        raise ValueError(f"decision_boundary: {len(class_names)} class names for {len(present)} classes in y")
    names = [str(label) for label in present] if class_names is None else [str(name) for name in class_names]
    for label, name in zip(present, names):
        chosen = labels == label
        color = colors[int(np.searchsorted(classes, label))]
        ax.scatter(X[chosen, 0], X[chosen, 1], s=size, color=color, edgecolors="black", linewidths=0.4, label=name)
    ax.legend(title="class", fontsize="small", loc="best")


# --- universal approximation ---------------------------------------------------------------------

def universal_approximation(x, target, fits: Mapping, errors=None, *, title: str | None = None):
    """A function and its approximations by networks of growing hidden width; optionally the error per width.

    The illustration of the universal approximation theorem (Cybenko, 1989; Hornik, 1991): as the
    hidden layer widens, the fits close in on the target. With ``errors``, a second panel shows the
    sup-norm error max |f - F| against the width on log axes, where a steady improvement is a line.

    Args:
        x: the inputs, shape ``(n,)`` or ``(n, 1)`` (drawn in increasing order).
        target: the target F at ``x`` (an array like ``x``), or a function computing it from ``x``.
        fits: hidden width -> the network's predictions at ``x``.
        errors: ``None`` for no error panel; ``True`` to compute max |fit - target| over ``x``
            from ``fits``; or a dict width -> error measured elsewhere (e.g. on a finer grid).
        title: a title over the whole figure.

    Returns:
        The Figure: the fits panel, then the error panel if asked for.

    Raises:
        ValueError: no fits, or a fit or the target with a different length than ``x``.

    Example:
        >>> x = np.linspace(0.0, 1.0, 50)
        >>> fits = {2: x, 8: np.sin(3 * x) + 0.01}
        >>> fig = universal_approximation(x, lambda t: np.sin(3 * t), fits, errors=True)
        >>> [line.get_label() for line in fig.axes[0].get_lines()]
        ['target', 'width 2', 'width 8']
    """
    x = _as_column_free(x, "universal_approximation: x")
    target_values = target(x) if callable(target) else target
    target_values = _as_column_free(target_values, "universal_approximation: target")
    if target_values.shape != x.shape:
        raise ValueError(f"universal_approximation: target has {target_values.size} values but x has {x.size}")
    if not fits:
        raise ValueError("universal_approximation: fits is empty; give hidden width -> predictions")
    widths = sorted(fits)
    predictions = {}
    for width in widths:
        predictions[width] = _as_column_free(fits[width], f"universal_approximation: fits[{width!r}]")
        if predictions[width].shape != x.shape:
            raise ValueError(f"universal_approximation: fits[{width!r}] has {predictions[width].size} values "
                             f"but x has {x.size}")
    if errors is True:
        errors = {width: float(np.max(np.abs(predictions[width] - target_values))) for width in widths}

    figure = _new_figure(10.5 if errors else 6.0, 4.2)
    axes = figure.subplots(1, 2 if errors else 1, squeeze=False).ravel()
    order = np.argsort(x, kind="stable")
    fit_ax = axes[0]
    # The target is dashed and on top: the widest fits lie on it and would otherwise hide it.
    fit_ax.plot(x[order], target_values[order], color="black", linewidth=1.6, linestyle="--", zorder=3,
                label="target")
    for width, color in zip(widths, _depth_colors(len(widths))):
        fit_ax.plot(x[order], predictions[width][order], color=color, linewidth=1.4, label=f"width {width}")
    fit_ax.set_xlabel("x")
    fit_ax.set_ylabel("F(x)")
    fit_ax.set_title("fits with growing hidden width")
    fit_ax.grid(alpha=0.3)
    fit_ax.legend(fontsize="small")

    if errors:
        error_widths = sorted(errors)
        error_values = [float(errors[width]) for width in error_widths]
        error_ax = axes[1]
        error_ax.plot(error_widths, error_values, color="C3", marker="o")
        error_ax.set_yscale("log")
        if min(error_widths) > 0:
            _set_log_width_axis(error_ax, error_widths)
        error_ax.set_xlabel("hidden width")
        error_ax.set_ylabel(r"$\max_x |f(x) - F(x)|$")
        error_ax.set_title("sup-norm error")
        error_ax.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    return figure


def _as_column_free(values, what: str) -> np.ndarray:
    array = np.asarray(_array(values), dtype=np.float64)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{what} must have shape (n,) or (n, 1), got {array.shape}")
    if array.size == 0:
        raise ValueError(f"{what} is empty")
    return array


# --- gradient norms ------------------------------------------------------------------------------

def gradient_norms(norms, *, x_label: str = "epoch", ax=None, title: str | None = None):
    """The gradient norm of each layer over training, one line per layer, on a log axis.

    Vanishing gradients show as early layers lying orders of magnitude below the last ones;
    exploding gradients as lines climbing by decades. Lines are colored from dark (first layer) to
    light (last), in the order given. A zero norm has no place on a log axis and leaves a gap.

    Args:
        norms: a dict layer name -> sequence of norms (one per epoch or step), all of one length;
            or a list of dicts layer name -> norm, one dict per epoch or step.
        x_label: what one step of the sequences is (``"epoch"``, ``"step"``); steps are numbered from 1.
        ax: axes to draw into; default: a new figure.
        title: the axes title; default ``"gradient norm per layer"``.

    Returns:
        The Figure.

    Raises:
        ValueError: no layers, sequences of different lengths, or a negative norm.

    Example:
        >>> fig = gradient_norms({"hidden.W": [1e-4, 1e-5], "output.W": [0.1, 0.05]})
        >>> fig.axes[0].get_yscale(), len(fig.axes[0].get_lines())
        ('log', 2)
    """
    if isinstance(norms, (list, tuple)):
        norms = _transpose_records(norms)
    if not isinstance(norms, Mapping) or not norms:
        raise ValueError("gradient_norms: expected a non-empty dict layer name -> sequence of norms")
    series = {str(name): _float_sequence(values, f"gradient_norms: norms[{name!r}]") for name, values in norms.items()}
    lengths = {name: values.size for name, values in series.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"gradient_norms: every layer needs one norm per {x_label}, but the lengths differ: {lengths}")
    for name, values in series.items():
        if np.any(values < 0):
            raise ValueError(f"gradient_norms: norms[{name!r}] has a negative value {values[values < 0][0]}; "
                             f"a norm is never negative")

    figure, ax = _figure_and_axes(ax, 6.4, 4.2)
    steps = np.arange(1, next(iter(lengths.values())) + 1)
    for (name, values), color in zip(series.items(), _depth_colors(len(series))):
        ax.plot(steps, np.where(values > 0, values, np.nan), color=color, label=name,
                marker="o" if steps.size <= 20 else None, markersize=3)
    ax.set_yscale("log")
    ax.set_xlabel(x_label)
    ax.set_ylabel("gradient norm")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title(title if title is not None else "gradient norm per layer")
    ax.grid(alpha=0.3)
    # Many layers: the legend goes beside the plot instead of over the lines.
    if len(series) > 6:
        ax.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    else:
        ax.legend(fontsize="small")
    return figure


def _transpose_records(records) -> dict:
    """[{layer: norm}, ...] (one dict per step) -> {layer: [norm, ...]}; every step must name the same layers."""
    if not records:
        raise ValueError("gradient_norms: the list of per-step norms is empty")
    names = list(records[0])
    for step, record in enumerate(records):
        if list(record) != names:
            raise ValueError(f"gradient_norms: step {step} has layers {list(record)}, step 0 has {names}")
    return {name: [record[name] for record in records] for name in names}


# --- confusion matrix ----------------------------------------------------------------------------

def confusion_matrix(matrix, class_names=None, normalize: bool | str = False, *, cmap: str = "Blues",
                     annotate: bool | None = None, ax=None, title: str | None = None):
    """A confusion matrix as an annotated heatmap: rows are true classes, columns predicted ones.

    The convention of ``nablanet.train.metrics.confusion_matrix`` and scikit-learn: ``matrix[i, j]``
    counts samples of class i predicted as class j, so the diagonal holds the correct ones.

    Args:
        matrix: the ``(K, K)`` counts.
        class_names: K names for the ticks; default ``0 .. K-1``.
        normalize: ``False`` shows counts; ``True`` or ``"true"`` divides each row by its sum (the
            recall of each class on the diagonal); ``"pred"`` divides each column (precision on the
            diagonal); ``"all"`` divides by the total. A row or column with no samples shows ``n/a``.
        cmap: name of a matplotlib colormap.
        annotate: write the number in each cell; default: when K <= 20.
        ax: axes to draw into; default: a new figure.
        title: the axes title; default ``"confusion matrix"`` (plus the normalization).

    Returns:
        The Figure.

    Raises:
        ValueError: the matrix is not square, has negative entries, or the names do not number K.

    Example:
        >>> fig = confusion_matrix([[5, 1], [2, 7]], class_names=["cat", "dog"])
        >>> [text.get_text() for text in fig.axes[0].texts]
        ['5', '1', '2', '7']
    """
    counts = np.asarray(_array(matrix))
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise ValueError(f"confusion_matrix: expected a square (K, K) matrix, got shape {counts.shape}")
    if np.any(counts < 0):
        raise ValueError("confusion_matrix: the matrix has negative entries; it should hold counts")
    size = counts.shape[0]
    names = [str(i) for i in range(size)] if class_names is None else [str(name) for name in class_names]
    if len(names) != size:
        raise ValueError(f"confusion_matrix: {len(names)} class names for a {size} x {size} matrix")

    shown, how = _normalized(counts.astype(np.float64), normalize)
    integer_counts = how is None and np.all(np.mod(counts, 1) == 0)
    figure, ax = _figure_and_axes(ax, 0.45 * size + 3.4, 0.45 * size + 2.6)
    image = ax.imshow(np.ma.masked_invalid(shown), cmap=_bad_as_gray(cmap), interpolation="nearest",
                      vmin=0.0, vmax=1.0 if how is not None else max(float(shown.max()), 1.0))
    if annotate if annotate is not None else size <= 20:
        labels = [[("n/a" if not math.isfinite(v) else f"{v:.0f}" if integer_counts else f"{v:.2f}") for v in row]
                  for row in shown]
        _annotate_cells(ax, image, shown, labels)
    ax.set_xticks(range(size), names, rotation=45 if max(map(len, names)) > 3 else 0,
                  ha="right" if max(map(len, names)) > 3 else "center")
    ax.set_yticks(range(size), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    default_title = "confusion matrix" + ({"true": " (rows sum to 1)", "pred": " (columns sum to 1)",
                                          "all": " (fractions of all)"}.get(how, ""))
    ax.set_title(title if title is not None else default_title)
    figure.colorbar(image, ax=ax, label="count" if how is None else "fraction")
    return figure


def _normalized(counts: np.ndarray, normalize) -> tuple[np.ndarray, str | None]:
    """The matrix to show and the normalization applied (None, "true", "pred" or "all")."""
    if normalize is False or normalize is None:
        return counts, None
    how = "true" if normalize is True else normalize
    axes = {"true": 1, "pred": 0, "all": None}
    if how not in axes:
        raise ValueError(f"confusion_matrix: normalize must be False, True, 'true', 'pred' or 'all', got {normalize!r}")
    totals = counts.sum(axis=axes[how], keepdims=axes[how] is not None)
    # An empty row (a class absent from the targets) has no fractions: NaN, drawn as n/a.
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, counts / totals, np.nan), how


# --- saving --------------------------------------------------------------------------------------

def save(figure, path, *, dpi: int = 150) -> Path:
    """Write the figure to ``path`` atomically: a reader never sees a half-written file.

    The image goes to a temporary file in the same directory, then ``os.replace`` puts it in
    place (atomic within one file system). The format follows the suffix (``.png``, ``.pdf``,
    ``.svg``, ...); a path without one gets PNG.

    Args:
        figure: a matplotlib Figure (as returned by this module's functions).
        path: where to write; the directory must exist.
        dpi: resolution of raster formats.

    Returns:
        The path written, as a ``pathlib.Path``.

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as directory:
        ...     written = save(gradient_norms({"W": [1.0, 0.5]}), pathlib.Path(directory) / "norms.png", dpi=40)
        ...     written.read_bytes()[:8]
        b'\\x89PNG\\r\\n\\x1a\\n'
    """
    path = Path(path)
    image_format = path.suffix[1:].lower() or "png"
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as stream:
            figure.savefig(stream, format=image_format, dpi=dpi)
        # mkstemp creates the file readable by its owner only; an image is ordinarily readable by all.
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return path
