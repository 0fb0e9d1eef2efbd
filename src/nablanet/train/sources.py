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
  read through ``SampleDataset(dataset)`` (nablanet.train.datasets holds it, ArrayDataset and
  NpyShards), which stacks the samples into batches; a
  ``torch.utils.data.Dataset`` is read so without being asked. Each epoch fit draws one permutation
  of 0 .. N-1 from its ``seed`` (with ``shuffle``), cuts it into ceil(N / batch_size) batches and
  reads them in turn, so only one batch is in memory at a time. These are the batches fit cuts from
  arrays X, y with the same seed, so training on a Dataset is training on its arrays, bit for bit;
  ``validation_split`` holds out the same samples too. Per-sample weights come either from fit's
  ``sample_weight`` (one per sample of the Dataset, cut with the rows as for arrays), or from the
  Dataset itself, whose batches are then triples ``(X_batch, y_batch, w_batch)`` (a SampleDataset's
  samples ``(x, y, w)``, e.g. a ``torch.utils.data.TensorDataset(X, y, w)``).
- **Memory-mapped arrays** as X and y (``numpy.load(path, mmap_mode="r")``, ``numpy.memmap``, or a
  tuple or dict holding one): read as the Dataset ``ArrayDataset(X, y)``, a batch at a time. The cast
  to the model's dtype and the checks (real, numeric, finite values, the targets against the loss)
  are done on each batch as it is read, never on the whole array, so a bad value is reported when
  its batch is reached, naming the batch's samples.
- **.npy shards**: ``NpyShards(paths_X, paths_y)`` (lists of files or glob patterns), every file
  opened with ``mmap_mode="r"``, as one Dataset of all their rows in order.
- **A sparse X** (scipy.sparse, CSR or CSC) with y: kept sparse, as CSR; each batch's rows are densified
  as the batch is taken, never the whole matrix (predict and evaluate too: without a batch_size, in
  pieces of about 2^20 entries, nablanet.train.data.dense_batch_size).
- **An iterable of batches** ``(X_batch, y_batch)``, given as X with y left out: a list of pairs,
  an object whose ``__iter__`` starts a new pass each time (a ``torch.utils.data.DataLoader``
  is one), or a one-shot iterator such as a generator. Its batches are used as they come:
  ``batch_size`` and ``shuffle`` do not apply. An epoch is one whole pass over a re-iterable
  object, or, with ``steps_per_epoch=k`` (as Keras), k batches read in turn, the object started
  again when it runs out. A one-shot iterator can be read once: without ``steps_per_epoch`` it is
  one epoch (``epochs > 1`` is an error before training starts), and with it, running out before
  ``epochs * steps_per_epoch`` batches is an error naming the epoch. Each batch is cast and checked
  as it is read, as a Dataset's. Batches ``(X_batch, y_batch, w_batch)`` carry per-sample weights, as
  Keras takes them (fit's ``sample_weight`` has no samples to index here).

Weights w (any source's) make each batch's loss sum_i w_i l_i / sum_i w_i and the metrics weighted means
(nablanet.train.weights); ``class_weight`` multiplies them by the weight of each sample's class, from the
targets of all the samples for ``"balanced"`` (arrays only: a source read a batch at a time has not seen
them all) and batch by batch for a dict. Every batch of a source carries weights or none does.

``predict`` takes arrays (memory-mapped ones read a batch at a time), a Dataset or an iterator of
batches (the inputs of their pairs). When ``batch_size`` is None, predicting on or evaluating data
read lazily goes through them ``LAZY_BATCH_SIZE`` rows at a time, rather than reading them whole.
"""

from __future__ import annotations

import itertools
import mmap
import sys
from collections.abc import Iterator

import numpy as np
from scipy import sparse

from nablanet.autodiff.tensor import Tensor
from nablanet.autodiff.tree import tree_leaves
from nablanet.nn.losses import sample_weights
from nablanet.train.data import (
    batch_rows,
    concatenate_rows,
    dense_batch_size,
    minibatch_indices,
    num_rows,
    take_rows,
    validation_rows,
)
from nablanet.train.datasets import ArrayDataset, NpyShards, SampleDataset, batch_parts, sample_indices
from nablanet.train.inputs import as_arrays, as_model_inputs, described, unpack_validation
from nablanet.train.weights import checked_weights

# ArrayDataset, NpyShards and SampleDataset (nablanet.train.datasets) are listed here too: the forms of data
# this module reads.
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


# --- fit's view of its data ------------------------------------------------------------------------------

class _ArraySource:
    """Arrays in memory (a sparse X among them): cast and checked once, before training; a batch is rows gathered
    from them, a sparse X's densified."""

    uses_batch_size = True  # whether fit's batch_size cuts the batches

    def __init__(self, X, y, names: tuple, weights: np.ndarray | None = None):
        self.X, self.y = X, y
        self.names = names
        self.weights = weights  # checked (checked_weights), or None
        self.n_samples = num_rows(X, names[0])
        if num_rows(y, names[1]) != self.n_samples:
            raise ValueError(f"{names[1]} has {num_rows(y, names[1])} rows but the inputs have {self.n_samples}; "
                             "they must match")

    @property
    def weighted(self) -> bool:
        """Whether the batches carry per-sample weights."""
        return self.weights is not None

    def probe_inputs(self):
        return batch_rows(self.X, slice(0, 1))

    def check_targets(self, outputs, dtype, metric_fns: list, class_weight=None) -> None:
        """The targets checked against the model's outputs; the weights times the class weights (of the training
        data), and refused if the loss or ``metric_fns`` cannot take them."""
        self.y = outputs.targets(self.y, self.n_samples, dtype, self.names[1])
        if class_weight is not None:
            classes = outputs.class_weights(class_weight, self.y).astype(dtype, copy=False)
            self.weights = checked_weights(classes if self.weights is None else classes * self.weights,
                                           self.n_samples, dtype, "the training samples' weights")
        if self.weights is not None:
            outputs.check_takes_weights(metric_fns)

    def steps_per_epoch(self, batch_size) -> int:
        return len(minibatch_indices(self.n_samples, batch_size))

    def epoch(self, batch_size, rng, shard=None):
        """The epoch's batches ``(X_batch, y_batch, w_batch, global_rows)``, w_batch None without weights:
        ``shard`` (MPI's, rows -> (this process's rows, global_rows)) cuts each global batch; global_rows None:
        the batch is all this process's."""
        for rows in minibatch_indices(self.n_samples, batch_size, rng=rng):
            rows, global_rows = (rows, None) if shard is None else shard(rows)
            w_batch = None if self.weights is None else self.weights[rows]
            yield batch_rows(self.X, rows), take_rows(self.y, rows), w_batch, global_rows

    def split(self, fraction: float, rng):
        train_rows, held_out = validation_rows(self.n_samples, fraction, rng=rng)
        w_train, w_held_out = _split_weights(self.weights, train_rows, held_out)
        return (_ArraySource(take_rows(self.X, train_rows), take_rows(self.y, train_rows), self.names, w_train),
                _ArraySource(take_rows(self.X, held_out), take_rows(self.y, held_out), _VALIDATION_NAMES, w_held_out))

    def predict(self, predictions_of, batch_size):
        """(the predictions of ``predictions_of(batches of inputs)``, the targets, the weights or None), the whole
        data set's."""
        return predictions_of(_row_batches(self.X, self.n_samples, batch_size)), self.y, self.weights


class _LazySource:
    """What the sources read a batch at a time share: each batch's targets and weights checked as it is read."""

    def __init__(self, dtype, names: tuple, weighted: bool | None = None):
        self.dtype = dtype
        self.names = names
        self.outputs = None
        self.metric_fns = []
        self.class_weight = None
        self.weighted = weighted  # whether the batches carry weights; None until the first batch says

    def check_targets(self, outputs, dtype, metric_fns: list, class_weight=None) -> None:
        """Keep what checks the targets and weights of each batch, as it is read."""
        if isinstance(class_weight, str) and class_weight == "balanced":
            raise ValueError(f"class_weight='balanced' counts the samples of each class in all of y, but "
                             f"{self.names[0]} is read a batch at a time: give class_weight as a dict class -> weight "
                             "(sklearn.utils.class_weight.compute_class_weight computes the balanced ones from the "
                             "labels)")
        self.outputs, self.metric_fns, self.class_weight = outputs, metric_fns, class_weight
        if self.weighted or class_weight is not None:
            outputs.check_takes_weights(metric_fns)

    def _weights(self, w_batch, y_batch, n_rows: int, where: str):
        """The batch's weights (None for none), checked, times the class weights of its targets ``y_batch``."""
        given = w_batch is not None
        if self.weighted is None:
            self.weighted = given
            if given and self.outputs is not None:
                self.outputs.check_takes_weights(self.metric_fns)
        elif given != self.weighted:
            raise ValueError(f"{self.names[0]} gives weights with some batches and not with others ({where}: "
                             f"{'weights' if given else 'no weights'}): give (X_batch, y_batch, w_batch) every time or "
                             "never")
        if given:
            w_batch = sample_weights(w_batch, n_rows, self.dtype, f"{self.names[2]} {where}")
        if self.class_weight is not None:
            classes = self.outputs.class_weights(self.class_weight, y_batch).astype(self.dtype, copy=False)
            w_batch = classes if w_batch is None else classes * w_batch
        return w_batch


class _DatasetSource(_LazySource):
    """A Dataset, read a batch at a time; each batch cast and checked as it is read."""

    uses_batch_size = True  # whether fit's batch_size cuts the batches

    def __init__(self, dataset, dtype, names: tuple, indices: np.ndarray | None = None,
                 weights: np.ndarray | None = None):
        super().__init__(dtype, names, weighted=True if weights is not None else None)
        self.dataset = dataset
        self.indices = indices  # the samples of the dataset in use (after validation_split), or all
        self.weights = weights  # fit's sample_weight, one per sample in use (checked), or None
        self._length = _dataset_length(dataset, names[0])
        self.n_samples = self._length if indices is None else len(indices)
        self._checked_protocol = False

    def probe_inputs(self):
        # Two samples, not one: a Dataset that takes one index at a time may still cope with an array of one.
        return take_rows(self._read(slice(0, min(2, self.n_samples)), targets=False)[0], slice(0, 1))

    def steps_per_epoch(self, batch_size) -> int:
        return len(minibatch_indices(self.n_samples, batch_size))

    def epoch(self, batch_size, rng, shard=None):
        for rows in minibatch_indices(self.n_samples, batch_size, rng=rng):
            rows, global_rows = (rows, None) if shard is None else shard(rows)
            yield *self._read(rows), global_rows

    def split(self, fraction: float, rng):
        train_rows, held_out = validation_rows(self.n_samples, fraction, rng=rng)
        samples = np.arange(self.n_samples, dtype=np.int64) if self.indices is None else self.indices
        w_train, w_held_out = _split_weights(self.weights, train_rows, held_out)
        return (_DatasetSource(self.dataset, self.dtype, self.names, samples[train_rows], w_train),
                _DatasetSource(self.dataset, self.dtype, _VALIDATION_NAMES, samples[held_out], w_held_out))

    def predict(self, predictions_of, batch_size):
        return _predicted(self.epoch(LAZY_BATCH_SIZE if batch_size is None else batch_size, None), predictions_of)

    def _read(self, rows, targets: bool = True):
        """The batch ``(X_batch, y_batch, w_batch)`` of the samples ``rows`` (an index array or a slice), cast and
        checked."""
        samples = rows if self.indices is None else self.indices[rows]
        if not isinstance(self.dataset, _OWN_DATASETS):
            samples = sample_indices(samples, self._length)
        where = f"in the batch of samples {_samples_text(samples)}"
        X_batch, y_batch, w_batch = self._fetch(samples)
        if self.weights is not None:
            if w_batch is not None:
                raise ValueError(f"{self.names[0]}, a Dataset, gives weights with its batches (X_batch, y_batch, "
                                 f"w_batch), so {self.names[2]} must not be given as well")
            w_batch = self.weights[rows]
        X_batch = _dense(as_model_inputs(X_batch, self.dtype, f"{self.names[0]} {where}"))
        asked = _count(samples)
        if num_rows(X_batch, self.names[0]) != asked:
            raise ValueError(f"{self.names[0]}[indices], asked for {asked} samples, returned a batch of "
                             f"{num_rows(X_batch, self.names[0])} rows; {_PROTOCOL}")
        if targets and self.outputs is not None:
            y_batch = self.outputs.targets(as_arrays(y_batch), asked, self.dtype, f"{self.names[1]} {where}")
        return X_batch, y_batch, self._weights(w_batch, y_batch, asked, where)

    def _fetch(self, samples):
        what = f"{self.names[0]}[indices]"
        if self._checked_protocol:
            return batch_parts(self.dataset[samples], what, "a batch (X_batch, y_batch)", "(X_batch, y_batch, w_batch)")
        # The first read says whether the Dataset follows the protocol; a failure there is most likely
        # a Dataset that takes one index at a time, and the message says what to do about it.
        try:
            batch = self.dataset[samples]
        except (TypeError, IndexError) as error:
            raise TypeError(f"{what}, with indices a 1-D int64 array, failed: {error}; {_PROTOCOL}") from error
        batch = batch_parts(batch, what, "a batch (X_batch, y_batch)", "(X_batch, y_batch, w_batch)")
        self._checked_protocol = True
        return batch


class _IterableSource(_LazySource):
    """An iterable of batches (X_batch, y_batch) or (X_batch, y_batch, w_batch), each cast and checked as it is
    read."""

    uses_batch_size = False  # whether fit's batch_size cuts the batches

    def __init__(self, iterable, dtype, names: tuple, steps_per_epoch: int | None, epochs: int):
        super().__init__(dtype, names)
        self.iterable = iterable
        self.one_shot = isinstance(iterable, Iterator)
        self.steps = steps_per_epoch
        self.epochs = epochs
        self.n_samples = None  # not known without reading every batch
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
        X_batch, _, w_batch = batch_parts(first, f"each batch of {self.names[0]}", _BATCH, _WEIGHTED_BATCH)
        where = "in its first batch"
        X_batch = _dense(as_model_inputs(X_batch, self.dtype, f"{self.names[0]} {where}"))
        self._weights(w_batch, None, num_rows(X_batch, self.names[0]), where)  # says whether batches carry weights
        return take_rows(X_batch, slice(0, 1))

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
        X_batch, y_batch, w_batch = batch_parts(batch, f"each batch of {self.names[0]}", _BATCH, _WEIGHTED_BATCH)
        X_batch = _dense(as_model_inputs(X_batch, self.dtype, f"{self.names[0]} {where}"))
        n_rows = num_rows(X_batch, self.names[0])
        if self.outputs is not None:
            y_batch = self.outputs.targets(as_arrays(y_batch), n_rows, self.dtype, f"{self.names[1]} {where}")
        return X_batch, y_batch, self._weights(w_batch, y_batch, n_rows, where)


_TRAINING_NAMES = ("X", "y", "sample_weight")
_VALIDATION_NAMES = ("validation X", "validation y", "the validation samples' weights")
_OWN_DATASETS = (ArrayDataset, NpyShards, SampleDataset)  # they take slices too, which read runs of rows
_BATCH, _WEIGHTED_BATCH = "a pair (X_batch, y_batch)", "(X_batch, y_batch, w_batch)"
_PROTOCOL = ("a Dataset is asked for a batch at a time, dataset[indices] -> (X_batch, y_batch) (or (X_batch, "
             "y_batch, w_batch) with weights) with len(indices) rows each; one whose __getitem__ takes one index and "
             "returns one sample (PyTorch's convention) is read through nablanet.train.SampleDataset(dataset)")


def data_source(X, y, dtype: np.dtype, *, sample_weight=None, steps_per_epoch=None, epochs: int = 1,
                names: tuple = _TRAINING_NAMES):
    """fit's source of batches for X and y (and per-sample weights) in any of the forms the module docstring lists."""
    if steps_per_epoch is not None:
        if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, (int, np.integer)) \
                or steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be a positive integer or None, got {steps_per_epoch!r}")
        steps_per_epoch = int(steps_per_epoch)
    if y is not None:
        if _is_dataset(X) or (_is_iterable_of_batches(X) and not isinstance(X, (list, tuple))):
            raise ValueError(f"{names[0]} is {_kind(X)}, whose batches are pairs (X_batch, y_batch), so y must not be "
                             "given as well")
        source = _arrays_source(X, y, dtype, names, sample_weight)
    elif _is_dataset(X):
        dataset = _as_dataset(X)
        weights = checked_weights(sample_weight, _dataset_length(dataset, names[0]), dtype, names[2])
        source = _DatasetSource(dataset, dtype, names, weights=weights)
    elif _is_iterable_of_batches(X):
        if sample_weight is not None:
            raise ValueError(f"{names[2]} weighs the samples of arrays or of a Dataset, but {names[0]} is an iterable "
                             "of batches: let it give batches (X_batch, y_batch, w_batch), as Keras takes them")
        return _IterableSource(X, dtype, names, steps_per_epoch, epochs)
    else:
        raise ValueError(f"y is missing: pass the targets y with {names[0]} ({described(X)}), or {names[0]} as a "
                         "Dataset or an iterable of batches (X_batch, y_batch)")
    if steps_per_epoch is not None:
        raise ValueError(f"steps_per_epoch is for {names[0]} given as an iterable of batches; an epoch over arrays or "
                         "a Dataset is ceil(N / batch_size) batches: choose batch_size instead")
    return source


def validation_source(validation_data, dtype: np.dtype, *, epochs: int):
    """The source of fit's ``validation_data``: a pair ``(X_val, y_val)`` or a triple ``(X_val, y_val, w_val)``
    of arrays (a tuple; a list of two or three arrays is read as one too), or one Dataset or iterable of batches."""
    if isinstance(validation_data, tuple) or (isinstance(validation_data, list) and len(validation_data) in (2, 3)
                                              and not any(isinstance(item, (tuple, list)) for item in validation_data)):
        X_val, y_val, weights = unpack_validation(validation_data)
        return data_source(X_val, y_val, dtype, sample_weight=weights, names=_VALIDATION_NAMES)
    if _is_dataset(validation_data) or _is_iterable_of_batches(validation_data):
        return data_source(validation_data, None, dtype, epochs=epochs, names=_VALIDATION_NAMES)
    raise ValueError(f"validation_data must be a pair (X_val, y_val), a triple (X_val, y_val, sample_weight_val), a "
                     f"Dataset or an iterable of batches, got {described(validation_data)}")


def input_batches(X, batch_size, dtype: np.dtype, what: str = "X"):
    """Batches of the inputs X for predict: views of X cast once (a sparse X's rows densified batch by batch),
    or, for memory-mapped arrays, batches of ``batch_size`` (LAZY_BATCH_SIZE if None) rows, each cast and
    checked as it is read; for a Dataset or an iterator of batches, the X_batch of its batches, in order."""
    if _is_dataset(X) or (_is_iterable_of_batches(X) and not isinstance(X, (list, tuple))):
        batches = data_source(X, None, dtype, names=(what, "y", "sample_weight")).epoch(
            LAZY_BATCH_SIZE if batch_size is None else batch_size, None)
        return (X_batch for X_batch, _, _, _ in batches)
    if not any(is_memory_mapped(leaf) for leaf in tree_leaves(as_arrays(X, what))):
        X = as_model_inputs(X, dtype, what)
        return _row_batches(X, num_rows(X, what), batch_size)
    X = as_arrays(X, what)
    n_samples = num_rows(X, what)
    rows_per_batch = LAZY_BATCH_SIZE if batch_size is None else batch_size
    return (as_model_inputs(take_rows(X, rows), dtype, f"{what} in the batch of samples {_samples_text(rows)}")
            for rows in minibatch_indices(n_samples, rows_per_batch))


def _arrays_source(X, y, dtype, names: tuple, sample_weight):
    X, y = as_arrays(X, names[0]), as_arrays(y, names[1])
    if any(is_memory_mapped(leaf) for leaf in tree_leaves(X) + tree_leaves(y)):
        # Casting or checking the whole of a memory-mapped array would read it into memory: batch by batch.
        dataset = ArrayDataset(X, y)
        return _DatasetSource(dataset, dtype, names, weights=checked_weights(sample_weight, len(dataset), dtype,
                                                                             names[2]))
    X = as_model_inputs(X, dtype, names[0])
    return _ArraySource(X, y, names, checked_weights(sample_weight, num_rows(X, names[0]), dtype, names[2]))


def _split_weights(weights, train_rows, held_out) -> tuple:
    """The weights of the training rows and of the held-out ones (validation_split's), each refused if they sum
    to zero; (None, None) without weights."""
    if weights is None:
        return None, None
    parts = (weights[train_rows], weights[held_out])
    return tuple(checked_weights(part, len(part), part.dtype, what)
                 for part, what in zip(parts, ("the training samples' weights", _VALIDATION_NAMES[2])))


def _predicted(batches, predictions_of):
    """(predictions_of(the inputs of the batches), the batches' targets joined, their weights joined or None): one
    pass, a batch in memory at a time."""
    targets, weights = [], []

    def inputs():
        for X_batch, y_batch, w_batch, _ in batches:
            targets.append(y_batch)
            weights.append(w_batch)
            yield X_batch

    predictions = predictions_of(inputs())
    return predictions, concatenate_rows(targets), None if weights[0] is None else concatenate_rows(weights)


def _row_batches(X, n_samples: int, batch_size):
    if batch_size is None and any(sparse.issparse(leaf) for leaf in tree_leaves(X)):
        batch_size = dense_batch_size(X)  # all rows at once would densify all of a sparse X
    if batch_size is None or batch_size >= n_samples:
        return [_dense(X)]
    return (batch_rows(X, rows) for rows in minibatch_indices(n_samples, batch_size))


def _dense(X):
    """Inputs (an array, or a tuple or dict of them) with any sparse one densified, as the layers take them."""
    return batch_rows(X, slice(None))


def _is_dataset(data) -> bool:
    if isinstance(data, (np.ndarray, Tensor, list, tuple, dict, str, bytes)) or sparse.issparse(data):
        return False
    return hasattr(data, "__len__") and hasattr(data, "__getitem__")


def _is_iterable_of_batches(data) -> bool:
    if isinstance(data, (list, tuple)):
        return True  # a pair (X, y) given as X alone is refused by the first batch's check, with a hint
    if isinstance(data, (np.ndarray, Tensor, dict, str, bytes)) or sparse.issparse(data):
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


def _count(samples) -> int:
    return len(range(*samples.indices(sys.maxsize))) if isinstance(samples, slice) else len(samples)


def _samples_text(samples) -> str:
    if isinstance(samples, slice):
        return f"{samples.start or 0} .. {samples.stop - 1}"
    shown = ", ".join(str(i) for i in samples[:5].tolist())
    return f"{shown}{', ...' if len(samples) > 5 else ''} ({len(samples)} samples)"
