"""Small real tables bundled with scikit-learn (the ``data`` extra): digits, breast cancer, iris."""

from __future__ import annotations

import numpy as np

from nablanet.datasets.common import _float_dtype, _import_extra
from nablanet.datasets.registry import LoadedData, register_dataset

__all__ = ["load_digits", "load_breast_cancer", "load_iris"]


def _sklearn_table(loader_name: str, dtype):
    dtype = _float_dtype(dtype)
    sklearn_datasets = _import_extra("sklearn.datasets", "scikit-learn", loader_name)
    X, y = getattr(sklearn_datasets, loader_name)(return_X_y=True)
    return X.astype(dtype, copy=False), y.astype(np.int64, copy=False)


def load_digits(*, dtype=np.float64):
    """The 8x8 handwritten digits bundled with scikit-learn: 1797 images, 10 classes.

    Pixels are the counts 0..16 of the original 32x32 bitmaps' 4x4 blocks, not scaled; divide by
    16 or use :class:`nablanet.preprocessing.MinMaxScaler` for inputs in [0, 1]. Reshape a row to
    ``(8, 8)`` to see the image. Needs scikit-learn (``pip install 'nablanet[data]'``).

    Args:
        dtype: floating dtype of ``X`` (``np.float32`` for training in single precision).

    Returns:
        ``(X, y)``: ``X`` pixel values, ``y`` int64 labels 0..9.

    Shape:
        X (1797, 64), y (1797,).

    Example:
        >>> X, y = load_digits(dtype=np.float32)
        >>> X.shape, X.dtype, y[:5].tolist(), float(X.max())
        ((1797, 64), dtype('float32'), [0, 1, 2, 3, 4], 16.0)
    """
    return _sklearn_table("load_digits", dtype)


def load_breast_cancer(*, dtype=np.float64):
    """The Wisconsin diagnostic breast cancer table bundled with scikit-learn: 569 samples, 30 features.

    Labels: 0 malignant (212 samples), 1 benign (357). The features have very different scales
    (areas in the hundreds, smoothness near 0.1): standardize them before training a network.
    Needs scikit-learn (``pip install 'nablanet[data]'``).

    Args:
        dtype: floating dtype of ``X``.

    Returns:
        ``(X, y)`` with ``y`` int64 labels in {0, 1}.

    Shape:
        X (569, 30), y (569,).

    Example:
        >>> X, y = load_breast_cancer()
        >>> X.shape, np.bincount(y).tolist()
        ((569, 30), [212, 357])
    """
    return _sklearn_table("load_breast_cancer", dtype)


def load_iris(*, dtype=np.float64):
    """Fisher's iris table bundled with scikit-learn: 150 flowers, 4 measurements in cm, 3 species.

    Labels 0 setosa, 1 versicolor, 2 virginica, 50 of each, sorted by class: shuffle or use a
    stratified split before holding data out. Needs scikit-learn (``pip install 'nablanet[data]'``).

    Args:
        dtype: floating dtype of ``X``.

    Returns:
        ``(X, y)`` with ``y`` int64 labels 0..2.

    Shape:
        X (150, 4), y (150,).

    Example:
        >>> X, y = load_iris()
        >>> X.shape, X[0].tolist(), np.bincount(y).tolist()
        ((150, 4), [5.1, 3.5, 1.4, 0.2], [50, 50, 50])
    """
    return _sklearn_table("load_iris", dtype)


def _table(load, name: str, label_names: list):
    """The loader of a bundled table for configs; ``label_names`` name the labels 0, 1, ..."""

    def load_table(settings: dict) -> LoadedData:
        X, y = load()
        return LoadedData(X, y, f"{name} ({len(X)} samples)", label_names=list(label_names))

    return load_table


register_dataset("digits", _table(load_digits, "digits", [str(digit) for digit in range(10)]), kind="classification",
                 description="scikit-learn's 8x8 handwritten digits: 1797 images, 10 classes")
register_dataset("breast_cancer", _table(load_breast_cancer, "breast_cancer", ["malignant", "benign"]),
                 kind="classification",
                 description="Wisconsin diagnostic breast cancer: 569 samples, 30 features, 2 classes")
register_dataset("iris", _table(load_iris, "iris", ["setosa", "versicolor", "virginica"]), kind="classification",
                 description="Fisher's iris: 150 flowers, 4 measurements, 3 species")
