"""The Datasets fit reads a batch at a time: arrays (memory-mapped ones among them), .npy shards, and PyTorch's
one-sample-per-index Datasets (not the named data sets of nablanet.datasets).

The protocol (nablanet.train.sources says how fit reads it): ``len(dataset)`` is the number of samples N and
``dataset[indices]``, with ``indices`` a 1-D int64 array of sample numbers in 0 .. N-1, returns the batch
``(X_batch, y_batch)`` of those samples, or ``(X_batch, y_batch, w_batch)`` with their weights.
"""

from __future__ import annotations

import glob
import os

import numpy as np

from nablanet.autodiff.tree import tree_map
from nablanet.train.data import num_rows, take_rows
from nablanet.train.inputs import as_arrays, described, has_several_arrays

__all__ = ["ArrayDataset", "NpyShards", "SampleDataset", "batch_parts", "sample_indices"]


class ArrayDataset:
    """Arrays X and y as a Dataset: ``dataset[indices]`` is ``(X[indices], y[indices])``.

    Of memory-mapped arrays only the rows asked for are read. fit makes one of memory-mapped X and y
    itself; build one to hand such arrays over as a single object (validation_data, evaluate).

    Args:
        X: inputs ``(N, ...)``, or a tuple or dict of them (a model with several inputs).
        y: targets with N rows, or a tuple or dict of them (a model with several outputs).

    Example:
        >>> dataset = ArrayDataset(np.arange(10.0).reshape(5, 2), np.arange(5))
        >>> len(dataset), dataset[np.array([4, 0])][1].tolist()
        (5, [4, 0])
    """

    def __init__(self, X, y):
        self.X = as_arrays(X, "X")
        self.y = as_arrays(y, "y")
        self._n = num_rows(self.X, "X")
        if num_rows(self.y, "y") != self._n:
            raise ValueError(f"y has {num_rows(self.y, 'y')} rows but the inputs have {self._n}; they must match")

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, indices):
        return take_rows(self.X, indices), take_rows(self.y, indices)

    def __repr__(self):
        return f"ArrayDataset({self._n} samples)"


class NpyShards:
    """.npy files, opened memory-mapped, as one Dataset of all their rows in order.

    Shard i of X and shard i of y hold the same samples (as many rows each); the shards of X share
    one dtype and the shape of a sample, as do those of y. Nothing is read until a batch is asked for,
    and then only its rows.

    Args:
        paths_X: the inputs' files, a list of paths or a glob pattern (whose matches are sorted).
        paths_y: the targets' files, likewise, one per file of X.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> for i in range(2):
        ...     np.save(folder / f"X{i}.npy", np.full((3, 2), float(i)))
        ...     np.save(folder / f"y{i}.npy", np.arange(3) + 3 * i)
        >>> shards = NpyShards(str(folder / "X*.npy"), str(folder / "y*.npy"))
        >>> len(shards), shards[np.array([5, 0])][1].tolist()
        (6, [5, 0])
    """

    def __init__(self, paths_X, paths_y):
        self.paths_X = _shard_paths(paths_X, "paths_X")
        self.paths_y = _shard_paths(paths_y, "paths_y")
        if len(self.paths_X) != len(self.paths_y):
            raise ValueError(f"paths_X has {len(self.paths_X)} files but paths_y has {len(self.paths_y)}; "
                             "give one file of targets per file of inputs")
        self._X = [_open_shard(path) for path in self.paths_X]
        self._y = [_open_shard(path) for path in self.paths_y]
        _check_alike(self._X, self.paths_X)
        _check_alike(self._y, self.paths_y)
        for shard_X, shard_y, path_X, path_y in zip(self._X, self._y, self.paths_X, self.paths_y):
            if len(shard_X) != len(shard_y):
                raise ValueError(f"{path_X} has {len(shard_X)} rows but {path_y} has {len(shard_y)}; each file of "
                                 "targets needs the rows of its file of inputs")
        self._starts = np.cumsum([0] + [len(shard) for shard in self._X])

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getitem__(self, indices):
        rows = sample_indices(indices, len(self))
        return self._gather(self._X, rows), self._gather(self._y, rows)

    def _gather(self, shards: list, rows: np.ndarray) -> np.ndarray:
        # One gather per shard the batch touches (not per row): the rows of shard s sit at the
        # batch positions where shard_of == s.
        shard_of = np.searchsorted(self._starts, rows, side="right") - 1
        batch = np.empty((rows.size,) + shards[0].shape[1:], dtype=shards[0].dtype)
        for shard in np.unique(shard_of).tolist():
            here = shard_of == shard
            batch[here] = shards[shard][rows[here] - self._starts[shard]]
        return batch

    def __repr__(self):
        return f"NpyShards({len(self._X)} files, {len(self)} samples)"


class SampleDataset:
    """A Dataset whose ``__getitem__`` takes one index and returns one sample ``(x, y)`` (or ``(x, y, w)``
    with its weight w), as PyTorch's map-style Datasets do, read a sample at a time and stacked into batches.

    The samples of a batch are read one by one in Python (as PyTorch's DataLoader does for such a
    Dataset); a Dataset that can return a whole batch for an array of indices is faster read directly.

    Args:
        dataset: an object with ``__len__`` and ``__getitem__(i) -> (x_i, y_i)``; x_i and y_i are
            arrays (NumPy arrays, torch tensors, numbers), or tuples or dicts of them.

    Example:
        >>> class Squares:
        ...     def __len__(self):
        ...         return 4
        ...     def __getitem__(self, i):
        ...         return np.array([float(i)]), i * i
        >>> SampleDataset(Squares())[np.array([3, 1])][1].tolist()
        [9, 1]
    """

    def __init__(self, dataset):
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"SampleDataset needs an object with __len__ and __getitem__, got {described(dataset)}")
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, indices):
        samples = [batch_parts(self.dataset[i], f"SampleDataset's dataset[{i}]", "a sample (x, y)", "(x, y, w)")
                   for i in sample_indices(indices, len(self)).tolist()]
        inputs = [_sample_part(x) for x, _, _ in samples]
        targets = [_sample_part(y) for _, y, _ in samples]
        weights = [w for _, _, w in samples]
        if all(w is None for w in weights):
            return _stacked(inputs), _stacked(targets)
        if any(w is None for w in weights):
            raise ValueError("SampleDataset's dataset gives a weight with some samples, (x, y, w), and not with "
                             "others, (x, y); give every sample a weight or none")
        return _stacked(inputs), _stacked(targets), np.stack([np.asarray(w) for w in weights])

    def __repr__(self):
        return f"SampleDataset({self.dataset!r})"


def _sample_part(value):
    return tree_map(np.asarray, value) if has_several_arrays(value) else np.asarray(value)


def _stacked(parts: list):
    return tree_map(lambda *leaves: np.stack(leaves), *parts)


def batch_parts(batch, what: str, expected: str, weighted: str) -> tuple:
    """(X, y, w) of a batch (or a sample): ``expected``, a pair (w None), or the triple ``weighted`` with weights w."""
    if isinstance(batch, (tuple, list)) and len(batch) in (2, 3):
        return batch[0], batch[1], (batch[2] if len(batch) == 3 else None)
    hint = " (for arrays X and y, call fit(model, X, y))" if isinstance(batch, np.ndarray) else ""
    raise ValueError(f"{what} must be {expected}, got {described(batch)}{hint}; a triple {weighted} carries "
                     "per-sample weights")


def sample_indices(indices, n_samples: int) -> np.ndarray:
    """Sample numbers as a 1-D int64 array (from a slice, a list or an array), each in 0 .. n_samples-1."""
    if isinstance(indices, slice):
        return np.arange(n_samples, dtype=np.int64)[indices]
    rows = np.asarray(indices)
    if rows.ndim != 1 or not (np.issubdtype(rows.dtype, np.integer) or rows.size == 0):
        raise IndexError(f"indices must be a 1-D array of sample numbers, got {described(indices)}")
    rows = rows.astype(np.int64, copy=False)
    if rows.size and (rows.min() < 0 or rows.max() >= n_samples):
        raise IndexError(f"sample numbers must be in 0 .. {n_samples - 1}, got {int(rows.min())} .. {int(rows.max())}")
    return rows


def _shard_paths(paths, what: str) -> list:
    if isinstance(paths, (str, os.PathLike)):
        pattern = os.fspath(paths)
        matches = sorted(glob.glob(pattern))
        if not matches:
            raise FileNotFoundError(f"{what}: no file matches {pattern!r}")
        return matches
    paths = [os.fspath(path) for path in paths]
    if not paths:
        raise ValueError(f"{what} is empty: give at least one .npy file")
    return paths


def _open_shard(path: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such .npy file: {path}")
    shard = np.load(path, mmap_mode="r", allow_pickle=False)
    if not isinstance(shard, np.ndarray):
        raise ValueError(f"{path} is an .npz archive; NpyShards reads .npy files (one array each)")
    if shard.ndim == 0:
        raise ValueError(f"{path} holds a scalar; a shard needs samples along axis 0")
    return shard


def _check_alike(shards: list, paths: list) -> None:
    first = shards[0]
    for shard, path in zip(shards[1:], paths[1:]):
        if shard.dtype != first.dtype or shard.shape[1:] != first.shape[1:]:
            raise ValueError(f"{path} holds {shard.dtype} samples of shape {shard.shape[1:]}, but {paths[0]} holds "
                             f"{first.dtype} samples of shape {first.shape[1:]}; the shards must be alike")
