"""What every figure shares: matplotlib imported when first drawn, new figures and axes, input checks, colors."""

from __future__ import annotations

import math

import numpy as np

# The one message for every figure nablanet draws (plots, demos, diagnostics) without matplotlib.
MISSING_MATPLOTLIB = "drawing figures needs matplotlib, which is not installed: pip install 'nablanet[plot]'"


def load_matplotlib():
    """The matplotlib package, imported on first use, or an ImportError naming the extra to install."""
    try:
        import matplotlib
        import matplotlib.figure  # noqa: F401  (the submodule is used as matplotlib.figure)
    except ImportError as error:
        raise ImportError(MISSING_MATPLOTLIB) from error
    return matplotlib


def new_figure(width: float, height: float):
    # Constrained layout keeps titles, tick labels, legends and colorbars from overlapping.
    return load_matplotlib().figure.Figure(figsize=(width, height), layout="constrained")


def figure_and_axes(ax, width: float, height: float):
    """Draw into the caller's axes when given one, else into a new one-panel figure."""
    if ax is not None:
        load_matplotlib()
        return ax.figure, ax
    figure = new_figure(width, height)
    return figure, figure.add_subplot()


def panel_grid(count: int, max_columns: int, panel_width: float, panel_height: float):
    """A new figure of ``count`` panels in rows of at most ``max_columns``, and their axes in reading order."""
    columns = min(count, max_columns)
    rows = math.ceil(count / columns)
    figure = new_figure(panel_width * columns, panel_height * rows)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for unused in axes[count:]:
        unused.remove()
    return figure, axes[:count]


def as_array(values) -> np.ndarray:
    """An ndarray from plain data or a nablanet Tensor (whose values live in ``_data``)."""
    from nablanet.autodiff.tensor import Tensor

    return values._data if isinstance(values, Tensor) else np.asarray(values)


def float_sequence(values, what: str) -> np.ndarray:
    try:
        array = np.asarray(as_array(values), dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} must be a sequence of numbers, got {values!r:.80}") from error
    if array.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional (one value per step), got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{what} is empty")
    return array


def depth_colors(count: int) -> list:
    """``count`` colors along viridis (dark to light), to show an order such as depth or width."""
    colormap = load_matplotlib().colormaps["viridis"]
    return [colormap(0.85 * i / max(count - 1, 1)) for i in range(count)]


def class_colors(count: int) -> list:
    """``count`` distinct colors for classes: tab10, tab20 beyond ten, turbo beyond twenty."""
    colormaps = load_matplotlib().colormaps
    if count <= 10:
        return [colormaps["tab10"](i) for i in range(count)]
    if count <= 20:
        return [colormaps["tab20"](i) for i in range(count)]
    return [colormaps["turbo"](i / (count - 1)) for i in range(count)]


def annotate_cells(ax, image, values: np.ndarray, labels) -> None:
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


def bad_as_gray(name: str):
    """The named colormap with NaN cells drawn light gray instead of transparent."""
    return load_matplotlib().colormaps[name].with_extremes(bad="lightgray")
