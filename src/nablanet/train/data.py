"""Batching and splitting: minibatch indices drawn from an explicit rng, a train/validation split, the rows
of a model's several inputs or outputs (a tuple or dict of arrays) taken together, and the rows of a sparse X
densified one batch at a time.

Randomness is always passed in as a ``numpy.random.Generator``; nothing here touches NumPy's global
random state, so a training run is reproducible from the generator it is given. Stratified splits and
k-fold cross-validation are left to scikit-learn (``train_test_split(stratify=...)``, ``KFold``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse

from nablanet.autodiff.tree import tree_leaves, tree_map

__all__ = ["minibatch_indices", "iterate_minibatches", "train_validation_split", "validation_rows", "num_rows",
           "take_rows", "batch_rows", "dense_batch_size", "concatenate_rows"]

#: Entries of a sparse X densified at a time by a pass without a batch size of its own (predicting
#: all rows, L-BFGS's full batch): 2^20, 8 MiB of float64.
_DENSE_ENTRIES = 2 ** 20


def minibatch_indices(n_samples: int, batch_size: int | None, *, rng: np.random.Generator | None = None) -> list:
    """Indexers that cut ``n_samples`` rows into consecutive minibatches, shuffled when ``rng`` is given.

    With an ``rng``, one permutation of ``0 .. n_samples-1`` is drawn and cut into pieces: every
    sample appears in exactly one batch per call (sampling without replacement, one epoch). The
    pieces are views of that single permutation, so the per-batch cost does not grow with
    ``n_samples``. Without an ``rng`` the batches are ``slice`` objects in the original order, so
    ``X[indexer]`` is a view and copies nothing. A single batch (full-batch training) is always
    the slice of all rows, shuffled or not.

    Args:
        n_samples: number of rows to cut.
        batch_size: rows per batch; the last batch holds the remainder. ``None`` means one batch
            of all rows (full-batch gradient descent).
        rng: the generator to shuffle with; ``None`` keeps the order.

    Returns:
        A list of ``ceil(n_samples / batch_size)`` indexers (integer arrays or slices); use each as
        ``X[indexer]``.

    Example:
        >>> minibatch_indices(5, 2)
        [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
        >>> batches = minibatch_indices(5, 2, rng=np.random.default_rng(0))
        >>> sorted(np.concatenate(batches).tolist())
        [0, 1, 2, 3, 4]
    """
    if n_samples < 1:
        raise ValueError(f"need at least one sample to make batches, got n_samples={n_samples}")
    batch_size = _checked_batch_size(batch_size, n_samples)
    starts = range(0, n_samples, batch_size)
    if rng is None or batch_size == n_samples:
        # A single batch is not permuted: the order of rows within a batch does not change its
        # gradient, and a slice spares a copy of the whole data set every epoch.
        return [slice(start, min(start + batch_size, n_samples)) for start in starts]
    order = rng.permutation(n_samples)
    return [order[start:start + batch_size] for start in starts]


def iterate_minibatches(X, y=None, batch_size: int | None = 32, *, rng: np.random.Generator | None = None):
    """Yield ``(X_batch, y_batch)`` (or ``X_batch`` when ``y`` is None) for one pass over the data.

    Args:
        X: inputs, samples along axis 0 (or a tuple or dict of such arrays, cut alike).
        y: targets with as many rows as ``X`` (or a tuple or dict of them), or None.
        batch_size: rows per batch (``None``: one batch of everything).
        rng: generator to shuffle with; ``None`` keeps the order and yields views.

    Shape:
        X (N, ...), y (N, ...) -> batches (B, ...) with B = batch_size except possibly the last.

    Example:
        >>> X, y = np.arange(10).reshape(5, 2), np.arange(5)
        >>> [yb.tolist() for _, yb in iterate_minibatches(X, y, batch_size=2)]
        [[0, 1], [2, 3], [4]]
    """
    n_samples = num_rows(X, "X")
    if y is not None and num_rows(y, "y") != n_samples:
        raise ValueError(f"X has {n_samples} rows but y has {num_rows(y, 'y')}; they must match")
    for indexer in minibatch_indices(n_samples, batch_size, rng=rng):
        if y is None:
            yield take_rows(X, indexer)
        else:
            yield take_rows(X, indexer), take_rows(y, indexer)


def train_validation_split(X, y, validation_fraction: float, *, rng: np.random.Generator | None = None):
    """Hold out a fraction of the rows for validation.

    Without an ``rng`` the last ``ceil(validation_fraction * N)`` rows are held out, in order (as
    Keras' ``validation_split``); with an ``rng`` the held-out rows are a uniformly random subset.
    Prefer the random split unless the data are already shuffled: sorted data (e.g. by class) would
    otherwise give a validation set unlike the training set.

    Args:
        X: inputs, samples along axis 0.
        y: targets with as many rows as ``X`` (or None).
        validation_fraction: in (0, 1); the number held out is rounded up, and both parts must be
            non-empty.
        rng: generator for the random split, or None for the last rows.

    Returns:
        ``(X_train, X_val, y_train, y_val)``, in the order of scikit-learn's ``train_test_split``.

    Example:
        >>> X, y = np.arange(10).reshape(5, 2), np.arange(5)
        >>> X_train, X_val, y_train, y_val = train_validation_split(X, y, 0.4)
        >>> y_train.tolist(), y_val.tolist()
        ([0, 1, 2], [3, 4])
    """
    n_samples = _num_rows(X)
    if y is not None and _num_rows(y) != n_samples:
        raise ValueError(f"X has {n_samples} rows but y has {_num_rows(y)}; they must match")
    train_rows, held_out = validation_rows(n_samples, validation_fraction, rng=rng)
    y_train = None if y is None else y[train_rows]
    y_validation = None if y is None else y[held_out]
    return X[train_rows], X[held_out], y_train, y_validation


def validation_rows(n_samples: int, validation_fraction: float, *, rng: np.random.Generator | None = None):
    """The indexers ``(train_rows, validation_rows)`` of train_validation_split, to cut data that are not
    arrays (a Dataset) and sample weights the same way: slices without an ``rng``, sorted index arrays with one.

    Example:
        >>> validation_rows(5, 0.4)
        (slice(0, 3, None), slice(3, 5, None))
    """
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    n_validation = math.ceil(validation_fraction * n_samples)
    n_train = n_samples - n_validation
    if n_train < 1:
        raise ValueError(
            f"validation_fraction={validation_fraction} of {n_samples} samples leaves no training samples"
        )
    if rng is None:
        return slice(0, n_train), slice(n_train, n_samples)
    order = rng.permutation(n_samples)
    # Sorting each part keeps the rows in their original relative order, which makes the split
    # easy to inspect and does not matter for training (batches are shuffled anyway).
    return np.sort(order[:n_train]), np.sort(order[n_train:])


# --- the rows of several arrays at once (a model's inputs or outputs as a tuple or dict) ---------------

def num_rows(data, what: str = "X") -> int:
    """The number of samples (rows along axis 0) of an array, or of every array of a tuple or dict of them.

    Example:
        >>> num_rows((np.zeros((4, 2)), {"a": np.zeros(4)}))
        4
    """
    counts = [_num_rows(leaf) for leaf in tree_leaves(data)]
    if not counts:
        raise ValueError(f"{what} holds no arrays")
    if len(set(counts)) > 1:
        raise ValueError(f"the arrays of {what} have different numbers of rows, {counts}; every input (or target) "
                         "needs one row per sample")
    return counts[0]


def take_rows(data, rows):
    """``data[rows]`` for an array, or for every array of a tuple or dict of them (the same rows of each)."""
    if isinstance(data, np.ndarray):
        return data[rows]  # one array, the common case: taken once per training step, so without the walk
    return tree_map(lambda array: array[rows], data)


def batch_rows(X, rows):
    """``take_rows(X, rows)`` as dense arrays: a scipy.sparse X (or a sparse one of several inputs) is
    densified one batch at a time, never whole.

    Example:
        >>> batch_rows(sparse.csr_array(np.eye(3)), slice(1, 3))
        array([[0., 1., 0.],
               [0., 0., 1.]])
    """
    batch = take_rows(X, rows)
    if isinstance(batch, np.ndarray):
        return batch
    return tree_map(lambda part: part.toarray() if sparse.issparse(part) else part, batch)


def dense_batch_size(X) -> int:
    """Rows of X per densified batch for a pass over all of a sparse X (or of several inputs, the widest sparse
    one): about 2^20 entries at a time."""
    columns = [int(np.prod(part.shape[1:], dtype=np.int64)) for part in tree_leaves(X) if sparse.issparse(part)]
    return max(1, _DENSE_ENTRIES // max(columns + [1]))


def concatenate_rows(batches: list):
    """The batches (arrays, or tuples or dicts of arrays of one structure) joined along axis 0; one batch as it is."""
    if len(batches) == 1:
        return batches[0]
    return tree_map(lambda *arrays: np.concatenate(arrays), *batches)


def _num_rows(array) -> int:
    shape = np.shape(array)
    if len(shape) == 0:
        raise ValueError("expected an array with samples along axis 0, got a scalar")
    return shape[0]


def _checked_batch_size(batch_size, n_samples: int) -> int:
    if batch_size is None:
        return n_samples
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer or None (full batch), got {batch_size!r}")
    return min(int(batch_size), n_samples)
