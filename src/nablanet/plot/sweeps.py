"""A hyperparameter sweep as a heatmap: one annotated cell per combination of two hyperparameters."""

from __future__ import annotations

import math

import numpy as np

from nablanet.plot._figures import annotate_cells, bad_as_gray, figure_and_axes, float_sequence

# Heatmap axes whose positive values cover at least this ratio get 10^k tick labels.
_DECADES_RATIO = 100.0


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
    cell_values = float_sequence(columns[value], f"hyperparameter_heatmap: column {value!r}")
    grid = _pivot(cell_values, y_index, x_index, (len(y_levels), len(x_levels)), aggregate, (x, y))
    ran = np.zeros(grid.shape, dtype=bool)
    ran[y_index, x_index] = True

    figure, ax = figure_and_axes(ax, 1.1 * len(x_levels) + 2.6, 0.55 * len(y_levels) + 2.2)
    finite = grid[np.isfinite(grid)]
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    # np.ma marks NaN (not run, or diverged) as bad, which the colormap draws gray.
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=bad_as_gray(cmap), vmin=low, vmax=high,
                      origin="lower", aspect="auto", interpolation="nearest")
    labels = [[format(v, fmt) if was_run and math.isfinite(v) else ("nan" if was_run else "n/a")
               for v, was_run in zip(row_values, row_ran)] for row_values, row_ran in zip(grid, ran)]
    annotate_cells(ax, image, grid, labels)
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
