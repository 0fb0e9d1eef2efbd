"""Images side by side: rows of pictures (originals, reconstructions, samples, fields), one row per kind."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from nablanet.plot._figures import as_array, new_figure


def image_rows(rows, *, column_titles=None, cmap: str = "gray_r", shared_scale: bool = True,
               colorbar: bool = False, panel_size: float = 1.2, title: str | None = None):
    """Rows of images, one row per kind (originals, reconstructions, samples), one column per example.

    Args:
        rows: a mapping from a row's label to its images, an array ``(K, H, W)`` (or ``(K, H * W)`` with
            square images, as scikit-learn's flattened digits); every row holds the same number K.
        column_titles: K titles, one above each column of the first row; default none.
        cmap: name of a matplotlib colormap (default ``"gray_r"``: ink dark on white paper).
        shared_scale: one color scale per row, from the row's smallest to its largest value, so the
            images of a row compare; otherwise each image is scaled to its own range.
        colorbar: a colorbar at the end of each row (with ``shared_scale``).
        panel_size: the width and height of each image in inches.
        title: the figure's title; default none.

    Returns:
        The Figure, with K axes per row in reading order and no ticks.

    Raises:
        ValueError: no rows, rows of different lengths, images that are not 2-D (or square when
            flattened), or as many column titles as there are not columns.

    Example:
        >>> images = np.arange(2 * 9.0).reshape(2, 3, 3)
        >>> figure = image_rows({"input": images, "output": 2 * images}, column_titles=["a", "b"])
        >>> len(figure.axes), figure.axes[0].get_title(), figure.axes[0].get_ylabel()
        (4, 'a', 'input')
    """
    if not isinstance(rows, Mapping) or not rows:
        raise ValueError(f"image_rows: expected a non-empty mapping from row labels to images, got {rows!r:.80}")
    images = {str(label): _images(label, values) for label, values in rows.items()}
    counts = {label: len(row) for label, row in images.items()}
    count = next(iter(counts.values()))
    if len(set(counts.values())) != 1 or count == 0:
        raise ValueError(f"image_rows: every row must hold the same number of images (at least one), got {counts}")
    if column_titles is not None and len(column_titles) != count:
        raise ValueError(f"image_rows: {len(column_titles)} column titles for {count} columns")
    figure = new_figure(panel_size * count + (0.6 if colorbar else 0.0), panel_size * len(images) + 0.3)
    axes = figure.subplots(len(images), count, squeeze=False)
    for row_axes, (label, row) in zip(axes, images.items()):
        scale = dict(vmin=np.min(row), vmax=np.max(row)) if shared_scale else {}
        for k, (ax, image) in enumerate(zip(row_axes, row)):
            drawn = ax.imshow(image, cmap=cmap, **scale)
            ax.set_xticks([])
            ax.set_yticks([])
            if k == 0:
                ax.set_ylabel(label)
        if colorbar:
            figure.colorbar(drawn, ax=list(row_axes), shrink=0.9)
    if column_titles is not None:
        for ax, column_title in zip(axes[0], column_titles):
            ax.set_title(str(column_title), fontsize="small")
    if title is not None:
        figure.suptitle(title)
    return figure


def _images(label, values) -> np.ndarray:
    """The row's images as a float array (K, H, W), unflattening square images."""
    try:
        array = np.asarray(as_array(values), dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"image_rows: row {label!r} must be an array of images, got {values!r:.80}") from error
    if array.ndim == 2:
        side = int(round(np.sqrt(array.shape[1])))
        if side * side != array.shape[1]:
            raise ValueError(f"image_rows: row {label!r} has flattened images of {array.shape[1]} pixels, "
                             f"not a square number; pass them as (K, H, W)")
        array = array.reshape(len(array), side, side)
    if array.ndim != 3:
        raise ValueError(f"image_rows: row {label!r} must have shape (K, H, W) or (K, H * W), got {array.shape}")
    return array
