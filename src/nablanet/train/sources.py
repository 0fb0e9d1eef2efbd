"""Where fit's batches come from: arrays in memory, Datasets read a batch at a time (memory-mapped arrays, .npy
shards, the user's own classes), and iterables of batches.

``fit``, ``evaluate`` and fit's ``validation_data`` take, besides arrays X and y:

- **A Dataset**: any object with ``__len__`` (the number of samples N) and ``__getitem__``, given as X
  with y left out. It is PyTorch's map-style ``torch.utils.data.Dataset`` asked for a whole batch at
  once: ``dataset[indices]``, with ``indices`` a 1-D int64 array of sample numbers in 0 .. N-1 (in
  the batch's order), returns the pair ``(X_batch, y_batch)`` of those samples, ``len(indices)`` rows
  each (X_batch may be a tuple or dict of arrays for a model with several inputs, y_batch likewise for
  several outputs). A class over arrays gets this from NumPy's indexing::

      class Pairs:
          def __init__(self, X, y):
              self.X, self.y = X, y          # e.g. numpy.load(path, mmap_mode="r")
          def __len__(self):
              return len(self.X)
          def __getitem__(self, indices):
              return self.X[indices], self.y[indices]

  A Dataset whose ``__getitem__`` takes one index and returns one sample, PyTorch's convention, is
  read through ``SampleDataset(dataset)``, which stacks the samples into batches; a
  ``torch.utils.data.Dataset`` is read so without being asked. Each epoch fit draws one permutation
  of 0 .. N-1 from its ``seed`` (with ``shuffle``), cuts it into ceil(N / batch_size) batches and
  reads them in turn, so only one batch is in memory at a time. These are the batches fit cuts from
  arrays X, y with the same seed, so training on a Dataset is training on its arrays, bit for bit;
  ``validation_split`` holds out the same samples too.
- **Memory-mapped arrays** as X and y (``numpy.load(path, mmap_mode="r")``, ``numpy.memmap``, or a
  tuple or dict holding one): read as the Dataset ``ArrayDataset(X, y)``, a batch at a time. The cast
  to the model's dtype and the checks (real, numeric, finite values, the targets against the loss)
  are done on each batch as it is read, never on the whole array, so a bad value is reported when
  its batch is reached, naming the batch's samples.
- **.npy shards**: ``NpyShards(paths_X, paths_y)`` (lists of files or glob patterns), every file
  opened with ``mmap_mode="r"``, as one Dataset of all their rows in order.
- **An iterable of batches** ``(X_batch, y_batch)``, given as X with y left out: a list of pairs,
  an object whose ``__iter__`` starts a new pass each time (a ``torch.utils.data.DataLoader``
  is one), or a one-shot iterator such as a generator. Its batches are used as they come:
  ``batch_size`` and ``shuffle`` do not apply. An epoch is one whole pass over a re-iterable
  object, or, with ``steps_per_epoch=k`` (as Keras), k batches read in turn, the object started
  again when it runs out. A one-shot iterator can be read once: without ``steps_per_epoch`` it is
  one epoch (``epochs > 1`` is an error before training starts), and with it, running out before
  ``epochs * steps_per_epoch`` batches is an error naming the epoch. Each batch is cast and checked
  as it is read, as a Dataset's.

``predict`` takes arrays (memory-mapped ones read a batch at a time), a Dataset or an iterator of
batches (the inputs of their pairs). When ``batch_size`` is None, predicting on or evaluating data
read lazily goes through them ``LAZY_BATCH_SIZE`` rows at a time, rather than reading them whole.
"""

from __future__ import annotations

import glob
import itertools
import mmap
import os
import sys
from collections.abc import Iterator

import numpy as np

from nablanet.autodiff.tensor import Tensor
from nablanet.autodiff.tree import tree_leaves, tree_map
from nablanet.train.data import concatenate_rows, minibatch_indices, num_rows, take_rows, validation_rows
from nablanet.train.inputs import as_array, as_model_inputs, described, has_several_arrays, unpack_validation

__all__ = ["ArrayDataset", "NpyShards", "SampleDataset", "LAZY_BATCH_SIZE", "is_memory_mapped", "data_source",
           "validation_source", "input_batches"]

#: Rows per pass when predicting on or evaluating data read lazily with batch_size=None: a batch of
#: 1024 rows of 1000 float32 features is 4 MB, where reading a data set larger than memory whole fails.
LAZY_BATCH_SIZE = 1024


def is_memory_mapped(array) -> bool:
    """Whether ``array`` is (a view of) a memory-mapped file: numpy.memmap, numpy.load(..., mmap_mode=...)."""
    base = array
    while base is not None:
        if isinstance(base, mmap.mmap):
            return True
        base = getattr(base, "base", None)
    return False


# --- Datasets --------------------------------------------------------------------------------------------

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
        self.X = _as_arrays(X, "X")
        self.y = _as_arrays(y, "y")
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
        rows = _indices(indices, len(self))
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
    """A Dataset whose ``__getitem__`` takes one index and returns one sample ``(x, y)``, as PyTorch's
    map-style Datasets do, read a sample at a time and stacked into batches.

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
        samples = [_pair(self.dataset[i], f"SampleDataset's dataset[{i}]", "a sample (x, y)")
                   for i in _indices(indices, len(self)).tolist()]
        inputs = [_sample_part(x) for x, _ in samples]
        targets = [_sample_part(y) for _, y in samples]
        return _stacked(inputs), _stacked(targets)

    def __repr__(self):
        return f"SampleDataset({self.dataset!r})"


def _sample_part(value):
    return tree_map(np.asarray, value) if has_several_arrays(value) else np.asarray(value)


def _stacked(parts: list):
    return tree_map(lambda *leaves: np.stack(leaves), *parts)


# --- fit's view of its data ------------------------------------------------------------------------------

class _ArraySource:
    """Arrays in memory: cast and checked once, before training; a batch is rows gathered from them."""

    uses_batch_size = True  # whether fit's batch_size cuts the batches

    def __init__(self, X, y, names: tuple):
        self.X, self.y = X, y
        self.names = names
        self.n_samples = num_rows(X, names[0])
        if num_rows(y, names[1]) != self.n_samples:
            raise ValueError(f"{names[1]} has {num_rows(y, names[1])} rows but the inputs have {self.n_samples}; "
                             "they must match")

    def probe_inputs(self):
        return take_rows(self.X, slice(0, 1))

    def check_targets(self, outputs, dtype) -> None:
        self.y = outputs.targets(self.y, self.n_samples, dtype, self.names[1])

    def steps_per_epoch(self, batch_size) -> int:
        return len(minibatch_indices(self.n_samples, batch_size))

    def epoch(self, batch_size, rng, shard=None):
        """The epoch's batches ``(X_batch, y_batch, global_rows)``: ``shard`` (MPI's, rows -> (this process's
        rows, global_rows)) cuts each global batch; global_rows None: the batch is all this process's."""
        for rows in minibatch_indices(self.n_samples, batch_size, rng=rng):
            rows, global_rows = (rows, None) if shard is None else shard(rows)
            yield take_rows(self.X, rows), take_rows(self.y, rows), global_rows

    def split(self, fraction: float, rng):
        train_rows, held_out = validation_rows(self.n_samples, fraction, rng=rng)
        return (_ArraySource(take_rows(self.X, train_rows), take_rows(self.y, train_rows), self.names),
                _ArraySource(take_rows(self.X, held_out), take_rows(self.y, held_out), _VALIDATION_NAMES))

    def predict(self, predictions_of, batch_size):
        """(the predictions of ``predictions_of(batches of inputs)``, the targets), the whole data set's."""
        return predictions_of(_row_batches(self.X, self.n_samples, batch_size)), self.y


class _DatasetSource:
    """A Dataset, read a batch at a time; each batch cast and checked as it is read."""

    uses_batch_size = True  # whether fit's batch_size cuts the batches

    def __init__(self, dataset, dtype, names: tuple, indices: np.ndarray | None = None):
        self.dataset = dataset
        self.dtype = dtype
        self.names = names
        self.indices = indices  # the samples of the dataset in use (after validation_split), or all
        self._length = _dataset_length(dataset, names[0])
        self.n_samples = self._length if indices is None else len(indices)
        self.outputs = None
        self._checked_protocol = False

    def probe_inputs(self):
        # Two samples, not one: a Dataset that takes one index at a time may still cope with an array of one.
        return take_rows(self._read(slice(0, min(2, self.n_samples)), targets=False)[0], slice(0, 1))

    def check_targets(self, outputs, dtype) -> None:
        self.outputs = outputs  # the targets are checked batch by batch, as they are read

    def steps_per_epoch(self, batch_size) -> int:
        return len(minibatch_indices(self.n_samples, batch_size))

    def epoch(self, batch_size, rng, shard=None):
        for rows in minibatch_indices(self.n_samples, batch_size, rng=rng):
            rows, global_rows = (rows, None) if shard is None else shard(rows)
            yield *self._read(rows), global_rows

    def split(self, fraction: float, rng):
        train_rows, held_out = validation_rows(self.n_samples, fraction, rng=rng)
        samples = np.arange(self.n_samples, dtype=np.int64) if self.indices is None else self.indices
        return (_DatasetSource(self.dataset, self.dtype, self.names, samples[train_rows]),
                _DatasetSource(self.dataset, self.dtype, _VALIDATION_NAMES, samples[held_out]))

    def predict(self, predictions_of, batch_size):
        return _predicted(self.epoch(LAZY_BATCH_SIZE if batch_size is None else batch_size, None), predictions_of)

    def _read(self, rows, targets: bool = True):
        """The batch of the samples ``rows`` (an index array or a slice), cast and checked."""
        samples = rows if self.indices is None else self.indices[rows]
        if not isinstance(self.dataset, _OWN_DATASETS):
            samples = _indices(samples, self._length)
        where = f"in the batch of samples {_samples_text(samples)}"
        X_batch, y_batch = self._fetch(samples)
        X_batch = as_model_inputs(X_batch, self.dtype, f"{self.names[0]} {where}")
        asked = _count(samples)
        if num_rows(X_batch, self.names[0]) != asked:
            raise ValueError(f"{self.names[0]}[indices], asked for {asked} samples, returned a batch of "
                             f"{num_rows(X_batch, self.names[0])} rows; {_PROTOCOL}")
        if targets and self.outputs is not None:
            y_batch = self.outputs.targets(_as_arrays(y_batch), asked, self.dtype, f"{self.names[1]} {where}")
        return X_batch, y_batch

    def _fetch(self, samples):
        if self._checked_protocol:
            return _pair(self.dataset[samples], f"{self.names[0]}[indices]", "a batch (X_batch, y_batch)")
        # The first read says whether the Dataset follows the protocol; a failure there is most likely
        # a Dataset that takes one index at a time, and the message says what to do about it.
        try:
            batch = self.dataset[samples]
        except (TypeError, IndexError) as error:
            raise TypeError(f"{self.names[0]}[indices], with indices a 1-D int64 array, failed: {error}; "
                            f"{_PROTOCOL}") from error
        batch = _pair(batch, f"{self.names[0]}[indices]", "a batch (X_batch, y_batch)")
        self._checked_protocol = True
        return batch


class _IterableSource:
    """An iterable of batches (X_batch, y_batch), each cast and checked as it is read."""

    uses_batch_size = False  # whether fit's batch_size cuts the batches

    def __init__(self, iterable, dtype, names: tuple, steps_per_epoch: int | None, epochs: int):
        self.iterable = iterable
        self.dtype = dtype
        self.names = names
        self.one_shot = isinstance(iterable, Iterator)
        self.steps = steps_per_epoch
        self.epochs = epochs
        self.n_samples = None  # not known without reading every batch
        self.outputs = None
        self._epoch = -1
        self._batches_read = 0
        kind = f"a one-shot iterator ({type(iterable).__name__})"
        if self.one_shot and steps_per_epoch is None and epochs > 1:
            if names[0] == "X":
                raise ValueError(f"X is {kind}, which can be read once, but epochs={epochs}: pass steps_per_epoch= "
                                 "(the batches of an epoch, read from it in turn, as Keras does), a re-iterable "
                                 "object (a list of batches, a class whose __iter__ starts a new pass, a Dataset), "
                                 "or epochs=1")
            raise ValueError(f"validation_data is {kind}, which can be read once, but the validation data are "
                             f"evaluated after each of the epochs={epochs}: pass a re-iterable object (a list of "
                             "batches, a class whose __iter__ starts a new pass, a Dataset) or arrays")
        self._running = self._first = None
        if self.one_shot:
            # The first batch is read now, to see the model's outputs, and handed out again first.
            self._first = self._take_first(iterable)
            self._running = itertools.chain([self._first], iterable)

    def probe_inputs(self):
        first = self._first if self.one_shot else self._take_first(iter(self.iterable))
        X_batch, _ = _pair(first, f"each batch of {self.names[0]}", "a pair (X_batch, y_batch)")
        return take_rows(as_model_inputs(X_batch, self.dtype, f"{self.names[0]} in its first batch"), slice(0, 1))

    def check_targets(self, outputs, dtype) -> None:
        self.outputs = outputs

    def steps_per_epoch(self, batch_size) -> int | None:
        if self.steps is not None:
            return self.steps
        return len(self.iterable) if hasattr(self.iterable, "__len__") else None

    def epoch(self, batch_size, rng, shard=None):
        self._epoch += 1
        if self.steps is None:
            batches = self._running if self.one_shot else iter(self.iterable)
            read = 0
            for read, batch in enumerate(batches, start=1):
                yield *self._prepared(batch, read - 1), None
            if read == 0:
                raise ValueError(f"{self.names[0]}, an iterable of batches, gave no batches in epoch {self._epoch} "
                                 "(counting from 0): its __iter__ must start a new pass each time it is called")
            return
        if self._running is None:
            self._running = iter(self.iterable)
        for step in range(self.steps):
            yield *self._prepared(self._next(), step), None

    def split(self, fraction: float, rng):
        raise ValueError("validation_split holds out samples of arrays or of a Dataset, but X is an iterable of "
                         "batches: pass validation_data")

    def predict(self, predictions_of, batch_size):
        return _predicted(self.epoch(None, None), predictions_of)

    def _take_first(self, iterator):
        try:
            return next(iterator)
        except StopIteration:
            raise ValueError(f"{self.names[0]}, an iterable of batches, gave no batches") from None

    def _next(self):
        try:
            return next(self._running)
        except StopIteration:
            pass
        if self.one_shot:
            raise ValueError(
                f"{self.names[0]}, a one-shot iterator ({type(self.iterable).__name__}), ran out of batches in epoch "
                f"{self._epoch} (counting from 0), after {self._batches_read} batches in all: epochs={self.epochs} "
                f"with steps_per_epoch={self.steps} need {self.epochs * self.steps}. Pass a re-iterable object (a "
                "list of batches, a class whose __iter__ starts a new pass, a Dataset), a generator that does not end, "
                "or fewer epochs or steps_per_epoch")
        self._running = iter(self.iterable)  # a re-iterable object starts again, as Keras does
        return self._take_first(self._running)

    def _prepared(self, batch, number: int):
        self._batches_read += 1
        where = f"in batch {number} (counting from 0) of epoch {self._epoch}"
        X_batch, y_batch = _pair(batch, f"each batch of {self.names[0]}", "a pair (X_batch, y_batch)")
        X_batch = as_model_inputs(X_batch, self.dtype, f"{self.names[0]} {where}")
        if self.outputs is not None:
            y_batch = self.outputs.targets(_as_arrays(y_batch), num_rows(X_batch, self.names[0]), self.dtype,
                                           f"{self.names[1]} {where}")
        return X_batch, y_batch


_TRAINING_NAMES = ("X", "y")
_VALIDATION_NAMES = ("validation X", "validation y")
_OWN_DATASETS = (ArrayDataset, NpyShards, SampleDataset)  # they take slices too, which read runs of rows
_PROTOCOL = ("a Dataset is asked for a batch at a time, dataset[indices] -> (X_batch, y_batch) with len(indices) "
             "rows each; one whose __getitem__ takes one index and returns one sample (PyTorch's convention) is read "
             "through nablanet.train.SampleDataset(dataset)")


def data_source(X, y, dtype: np.dtype, *, steps_per_epoch=None, epochs: int = 1, names: tuple = _TRAINING_NAMES):
    """fit's source of batches for X and y in any of the forms the module docstring lists."""
    if steps_per_epoch is not None:
        if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, (int, np.integer)) \
                or steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be a positive integer or None, got {steps_per_epoch!r}")
        steps_per_epoch = int(steps_per_epoch)
    if y is not None:
        if _is_dataset(X) or (_is_iterable_of_batches(X) and not isinstance(X, (list, tuple))):
            raise ValueError(f"{names[0]} is {_kind(X)}, whose batches are pairs (X_batch, y_batch), so y must not be "
                             "given as well")
        source = _arrays_source(X, y, dtype, names)
    elif _is_dataset(X):
        source = _DatasetSource(_as_dataset(X), dtype, names)
    elif _is_iterable_of_batches(X):
        return _IterableSource(X, dtype, names, steps_per_epoch, epochs)
    else:
        raise ValueError(f"y is missing: pass the targets y with {names[0]} ({described(X)}), or {names[0]} as a "
                         "Dataset or an iterable of batches (X_batch, y_batch)")
    if steps_per_epoch is not None:
        raise ValueError(f"steps_per_epoch is for {names[0]} given as an iterable of batches; an epoch over arrays or "
                         "a Dataset is ceil(N / batch_size) batches: choose batch_size instead")
    return source


def validation_source(validation_data, dtype: np.dtype, *, epochs: int):
    """The source of fit's ``validation_data``: a pair ``(X_val, y_val)`` of arrays (a tuple; a list of two
    arrays is read as one too), or one Dataset or iterable of batches."""
    if isinstance(validation_data, tuple) or (isinstance(validation_data, list) and len(validation_data) == 2
                                              and not any(isinstance(item, (tuple, list)) for item in validation_data)):
        X_val, y_val = unpack_validation(validation_data)
        return data_source(X_val, y_val, dtype, names=_VALIDATION_NAMES)
    if _is_dataset(validation_data) or _is_iterable_of_batches(validation_data):
        return data_source(validation_data, None, dtype, epochs=epochs, names=_VALIDATION_NAMES)
    raise ValueError(f"validation_data must be a pair (X_val, y_val), a Dataset or an iterable of batches, "
                     f"got {described(validation_data)}")


def input_batches(X, batch_size, dtype: np.dtype, what: str = "X"):
    """Batches of the inputs X for predict: views of X cast once, or, for memory-mapped arrays, batches of
    ``batch_size`` (LAZY_BATCH_SIZE if None) rows, each cast and checked as it is read; for a Dataset or an
    iterator of batches, the X_batch of its pairs (X_batch, y_batch), in order."""
    if _is_dataset(X) or (_is_iterable_of_batches(X) and not isinstance(X, (list, tuple))):
        batches = data_source(X, None, dtype, names=(what, "y")).epoch(
            LAZY_BATCH_SIZE if batch_size is None else batch_size, None)
        return (X_batch for X_batch, _, _ in batches)
    if not any(is_memory_mapped(leaf) for leaf in tree_leaves(_as_arrays(X, what))):
        X = as_model_inputs(X, dtype, what)
        return _row_batches(X, num_rows(X, what), batch_size)
    X = _as_arrays(X, what)
    n_samples = num_rows(X, what)
    rows_per_batch = LAZY_BATCH_SIZE if batch_size is None else batch_size
    return (as_model_inputs(take_rows(X, rows), dtype, f"{what} in the batch of samples {_samples_text(rows)}")
            for rows in minibatch_indices(n_samples, rows_per_batch))


def _arrays_source(X, y, dtype, names: tuple):
    X, y = _as_arrays(X, names[0]), _as_arrays(y, names[1])
    if any(is_memory_mapped(leaf) for leaf in tree_leaves(X) + tree_leaves(y)):
        # Casting or checking the whole of a memory-mapped array would read it into memory: batch by batch.
        return _DatasetSource(ArrayDataset(X, y), dtype, names)
    return _ArraySource(as_model_inputs(X, dtype, names[0]), y, names)


def _predicted(batches, predictions_of):
    """(predictions_of(the inputs of the batches), the batches' targets joined): one pass, a batch in memory at a
    time."""
    targets = []

    def inputs():
        for X_batch, y_batch, _ in batches:
            targets.append(y_batch)
            yield X_batch

    predictions = predictions_of(inputs())
    return predictions, concatenate_rows(targets)


def _row_batches(X, n_samples: int, batch_size):
    if batch_size is None or batch_size >= n_samples:
        return [X]
    return (take_rows(X, rows) for rows in minibatch_indices(n_samples, batch_size))


def _as_arrays(data, what: str = "the data"):
    """Arrays, or a tuple or dict of them, as ndarrays without a copy (a memory-mapped one stays a view of its file)."""
    if isinstance(data, dict):
        return {key: as_array(value, f"{what}[{key!r}]") for key, value in data.items()}
    if has_several_arrays(data):
        return tuple(as_array(value, f"{what}[{i}]") for i, value in enumerate(data))
    return as_array(data, what)


def _is_dataset(data) -> bool:
    if isinstance(data, (np.ndarray, Tensor, list, tuple, dict, str, bytes)):
        return False
    return hasattr(data, "__len__") and hasattr(data, "__getitem__")


def _is_iterable_of_batches(data) -> bool:
    if isinstance(data, (list, tuple)):
        return True  # a pair (X, y) given as X alone is refused by the first batch's check, with a hint
    if isinstance(data, (np.ndarray, Tensor, dict, str, bytes)):
        return False
    return hasattr(data, "__iter__")


def _as_dataset(data):
    torch = sys.modules.get("torch")
    if torch is not None:
        if isinstance(data, torch.utils.data.IterableDataset):
            raise ValueError("a torch IterableDataset yields samples one at a time; fit reads batches: wrap it in "
                             "torch.utils.data.DataLoader(dataset, batch_size=...)")
        if isinstance(data, torch.utils.data.Dataset):
            return SampleDataset(data)  # PyTorch's map-style Datasets return one sample per index
    return data


def _dataset_length(dataset, what: str) -> int:
    length = len(dataset)
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"{what}, a Dataset, has len() = {length!r}; it needs at least one sample")
    return int(length)


def _kind(data) -> str:
    return "a Dataset" if _is_dataset(data) else "an iterable of batches"


def _pair(batch, what: str, expected: str) -> tuple:
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    hint = " (for arrays X and y, call fit(model, X, y))" if isinstance(batch, np.ndarray) else ""
    raise ValueError(f"{what} must be {expected}, got {described(batch)}{hint}")


def _indices(indices, n_samples: int) -> np.ndarray:
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


def _count(samples) -> int:
    return len(range(*samples.indices(sys.maxsize))) if isinstance(samples, slice) else len(samples)


def _samples_text(samples) -> str:
    if isinstance(samples, slice):
        return f"{samples.start or 0} .. {samples.stop - 1}"
    shown = ", ".join(str(i) for i in samples[:5].tolist())
    return f"{shown}{', ...' if len(samples) > 5 else ''} ({len(samples)} samples)"


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
