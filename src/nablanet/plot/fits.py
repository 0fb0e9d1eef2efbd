"""What a trained network computes: a 2-D classifier's decision regions, a 1-D function fitted by growing widths."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from nablanet.plot._figures import as_array, class_colors, depth_colors, figure_and_axes, load_matplotlib, new_figure


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
    X = np.asarray(as_array(X), dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2 or X.shape[0] == 0:
        raise ValueError(f"decision_boundary: X must have shape (n, 2) with n >= 1, got {X.shape}")
    if resolution < 2:
        raise ValueError(f"decision_boundary: resolution must be at least 2, got {resolution}")
    labels = None if y is None else _label_vector(y, X.shape[0])

    xx, yy = _grid_around(X, resolution)
    grid_points = np.column_stack([xx.ravel(), yy.ravel()])
    outputs = as_array(_predictor(predict)(grid_points))
    if outputs.shape[0] != grid_points.shape[0] or outputs.ndim > 2:
        raise ValueError(f"decision_boundary: predict returned shape {outputs.shape} for {grid_points.shape[0]} "
                         f"points; expected one label, probability or score per point, or one row per point")

    figure, ax = figure_and_axes(ax, 6.0, 4.8)
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
    colors = class_colors(len(classes))
    if probabilities is not None:
        _shade_probability(figure, ax, xx, yy, probabilities.reshape(xx.shape), cut, colors, classes)
    else:
        index = np.searchsorted(classes, grid_labels).reshape(xx.shape)
        listed = load_matplotlib().colors.ListedColormap(colors)
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
    labels = as_array(y)
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
    mcolors = load_matplotlib().colors
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

    figure = new_figure(10.5 if errors else 6.0, 4.2)
    axes = figure.subplots(1, 2 if errors else 1, squeeze=False).ravel()
    order = np.argsort(x, kind="stable")
    fit_ax = axes[0]
    # The target is dashed and on top: the widest fits lie on it and would otherwise hide it.
    fit_ax.plot(x[order], target_values[order], color="black", linewidth=1.6, linestyle="--", zorder=3,
                label="target")
    for width, color in zip(widths, depth_colors(len(widths))):
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
    array = np.asarray(as_array(values), dtype=np.float64)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{what} must have shape (n,) or (n, 1), got {array.shape}")
    if array.size == 0:
        raise ValueError(f"{what} is empty")
    return array


def _set_log_width_axis(ax, widths) -> None:
    """A log x axis labelled with the widths themselves (1, 2, 4, ...) instead of powers of ten."""
    ax.set_xscale("log")
    ax.set_xticks(list(widths))
    ax.set_xticklabels([f"{w:g}" for w in widths])
    ax.minorticks_off()
