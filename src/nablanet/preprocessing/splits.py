"""Splits built on scikit-learn: training, validation and test parts, and k-fold cross-validation indices."""

from __future__ import annotations

import math

import numpy as np

from nablanet.datasets.common import _import_extra


def _model_selection(caller: str):
    return _import_extra("sklearn.model_selection", "scikit-learn", caller)


def _random_state(rng):
    """scikit-learn's random_state from our rng: an int passes through; a Generator draws one seed."""
    if rng is None:
        return None
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return int(rng)
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**32))
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def _count(size, n_samples: int, name: str) -> int:
    """A size given as a fraction of the samples (rounded up, as scikit-learn) or as a count."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        if not 1 <= size < n_samples:
            raise ValueError(f"{name}={size} must be between 1 and {n_samples - 1} samples")
        return int(size)
    if isinstance(size, (float, np.floating)) and 0.0 < size < 1.0:
        return math.ceil(size * n_samples)
    raise ValueError(f"{name} must be a fraction in (0, 1) or a number of samples, got {size!r}")


def train_val_test_split(*arrays, val_size=0.2, test_size=0.2, stratify=None, shuffle: bool = True, rng=None):
    """Split arrays into training, validation and test parts, optionally stratified.

    The test part is split off first, then the validation part from the rest, each by
    ``sklearn.model_selection.train_test_split`` with ``random_state`` from ``rng``: the result equals
    those two calls. Sizes given as fractions are fractions of *all* samples, each rounded up; the
    training part gets the remainder. With ``stratify=y`` each part keeps the class proportions
    of ``y`` (to within one sample per class).

    Args:
        *arrays: arrays with the same number of rows (e.g. ``X, y``).
        val_size, test_size: fractions in (0, 1) of all samples, or numbers of samples.
        stratify: class labels ``(N,)`` to stratify on, usually ``y``; None for a plain split.
        shuffle: shuffle before splitting (needed for stratification).
        rng: int seed (passed to scikit-learn as ``random_state``), ``numpy.random.Generator`` (one
            seed is drawn from it) or None.

    Returns:
        For each array, its training, validation and test parts: ``X_train, X_val, X_test,
        y_train, y_val, y_test`` for ``(X, y)``, in scikit-learn's order.

    Example:
        >>> X, y = np.arange(20).reshape(10, 2), np.array([0] * 5 + [1] * 5)
        >>> X_train, X_val, X_test, y_train, y_val, y_test = train_val_test_split(
        ...     X, y, val_size=0.2, test_size=0.2, stratify=y, rng=0)
        >>> len(X_train), len(X_val), len(X_test), sorted(y_test.tolist())
        (6, 2, 2, [0, 1])
    """
    if not arrays:
        raise ValueError("train_val_test_split needs at least one array to split")
    n_samples = len(arrays[0])
    n_test = _count(test_size, n_samples, "test_size")
    n_val = _count(val_size, n_samples, "val_size")
    if n_samples - n_test - n_val < 1:
        raise ValueError(
            f"val_size={val_size} and test_size={test_size} take {n_val} + {n_test} of {n_samples} samples, "
            f"leaving none for training"
        )
    model_selection = _model_selection("train_val_test_split")
    random_state = _random_state(rng)
    extra = () if stratify is None else (np.asarray(stratify),)
    first = model_selection.train_test_split(
        *arrays, *extra, test_size=n_test, stratify=stratify, shuffle=shuffle, random_state=random_state
    )
    rest, test = first[0::2], first[1::2]
    rest_stratify = None if stratify is None else rest[-1]
    second = model_selection.train_test_split(
        *rest, test_size=n_val, stratify=rest_stratify, shuffle=shuffle, random_state=random_state
    )
    train, val = second[0::2], second[1::2]
    result = []
    for i in range(len(arrays)):
        result.extend((train[i], val[i], test[i]))
    return result


def k_fold(X, *, n_splits: int = 5, stratify=None, shuffle: bool = False, rng=None):
    """Indices of k-fold cross-validation: every sample is held out in exactly one fold.

    Built on scikit-learn's ``KFold`` or, with ``stratify``, ``StratifiedKFold`` (each fold keeps
    the class proportions); the folds equal theirs for the same ``shuffle`` and ``random_state``.

    Args:
        X: the data (only its number of rows is used), or the number of samples.
        n_splits: number of folds, at least 2.
        stratify: class labels ``(N,)`` for stratified folds, usually ``y``; None for plain folds.
        shuffle: shuffle the samples before cutting folds (otherwise folds are consecutive).
        rng: int seed, ``numpy.random.Generator`` or None; only with ``shuffle=True``.

    Returns:
        A list of ``n_splits`` pairs ``(train_index, val_index)`` of int arrays.

    Example:
        >>> [val.tolist() for _, val in k_fold(6, n_splits=3)]
        [[0, 1], [2, 3], [4, 5]]
        >>> y = np.array([0, 0, 0, 1, 1, 1])
        >>> [y[val].tolist() for _, val in k_fold(6, n_splits=3, stratify=y)]
        [[0, 1], [0, 1], [0, 1]]
    """
    if isinstance(X, (int, np.integer)) and not isinstance(X, bool):
        n_samples = int(X)
    else:
        n_samples = len(X)
    if isinstance(n_splits, bool) or not isinstance(n_splits, (int, np.integer)) or not 2 <= n_splits <= n_samples:
        raise ValueError(f"n_splits must be an integer between 2 and the number of samples {n_samples}, got {n_splits!r}")
    if rng is not None and not shuffle:
        raise ValueError("rng has no effect without shuffle=True: the folds are consecutive blocks")
    model_selection = _model_selection("k_fold")
    random_state = _random_state(rng) if shuffle else None
    placeholder = np.zeros((n_samples, 1))
    if stratify is None:
        splitter = model_selection.KFold(n_splits=n_splits, shuffle=shuffle, random_state=random_state)
        return list(splitter.split(placeholder))
    stratify = np.asarray(stratify)
    if stratify.shape != (n_samples,):
        raise ValueError(f"stratify must hold one label per sample, shape ({n_samples},), got shape {stratify.shape}")
    splitter = model_selection.StratifiedKFold(n_splits=n_splits, shuffle=shuffle, random_state=random_state)
    return list(splitter.split(placeholder, stratify))
