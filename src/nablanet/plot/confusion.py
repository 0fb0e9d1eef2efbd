"""A classifier's confusion matrix as an annotated heatmap, counts or fractions."""

from __future__ import annotations

import math

import numpy as np

from nablanet.plot._figures import annotate_cells, as_array, bad_as_gray, figure_and_axes


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
    counts = np.asarray(as_array(matrix))
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
    figure, ax = figure_and_axes(ax, 0.45 * size + 3.4, 0.45 * size + 2.6)
    image = ax.imshow(np.ma.masked_invalid(shown), cmap=bad_as_gray(cmap), interpolation="nearest",
                      vmin=0.0, vmax=1.0 if how is not None else max(float(shown.max()), 1.0))
    if annotate if annotate is not None else size <= 20:
        labels = [[("n/a" if not math.isfinite(v) else f"{v:.0f}" if integer_counts else f"{v:.2f}") for v in row]
                  for row in shown]
        annotate_cells(ax, image, shown, labels)
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
