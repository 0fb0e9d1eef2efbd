"""save: a figure written to a file atomically, so that a reader never sees half an image."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def save(figure, path, *, dpi: int = 150) -> Path:
    """Write the figure to ``path`` atomically: a reader never sees a half-written file.

    The image goes to a temporary file in the same directory, then ``os.replace`` puts it in
    place (atomic within one file system). The format follows the suffix (``.png``, ``.pdf``,
    ``.svg``, ...); a path without one gets PNG.

    Args:
        figure: a matplotlib Figure (as returned by nablanet.plot's functions).
        path: where to write; the directory must exist.
        dpi: resolution of raster formats.

    Returns:
        The path written, as a ``pathlib.Path``.

    Example:
        >>> import tempfile, pathlib
        >>> from nablanet.plot import gradient_norms
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
