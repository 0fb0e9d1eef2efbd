"""MPI data parallelism (mpi4py): one gradient all-reduce per step over a flat bucket, shards, rank 0's weights.

Every rank holds the whole model and takes its shard of every global batch. With n_r rows on rank r
of a global batch of N = sum_r n_r rows and g_r the gradient of the mean loss over rank r's rows,

    g = sum_r (n_r / N) g_r

is the gradient of the mean loss over all N rows, whatever the shards' sizes; each rank scales its
gradient by n_r / N into one contiguous buffer and a single MPI Allreduce (sum) makes g on all ranks.
Every rank then applies the same update to the same weights, so the ranks stay equal.

mpi4py is imported only when it is asked for (``fit(..., distributed="mpi")``, ``DistributedOptimizer``)
or when the environment says the process was started by an MPI launcher (``under_mpi``).
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

__all__ = ["DistributedOptimizer", "MPITraining", "RankGroup", "SingleProcess", "broadcast_parameters",
           "convert_sync_batchnorm", "mpi_world", "parallel_training", "under_mpi"]

# Set by the launchers of MPICH (Hydra), Intel MPI, Open MPI and SLURM's PMI/PMIx for each process.
_LAUNCHER_VARIABLES = ("PMI_SIZE", "PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK")

_INSTALL_HINT = "pip install 'nablanet[mpi]'"


def mpi_world(comm=None):
    """``comm``, or mpi4py's COMM_WORLD; ImportError in one line when mpi4py is not installed."""
    if comm is not None:
        return comm
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError(f"distributed training with MPI needs mpi4py, which is not installed: {_INSTALL_HINT}") \
            from None
    return MPI.COMM_WORLD


def under_mpi() -> bool:
    """Whether this process is one of several started by an MPI launcher (``mpiexec -n N``, ``srun``).

    mpi4py is imported only when a launcher's environment variable is set, so a plain ``nablanet
    train`` never loads MPI; then the answer is whether COMM_WORLD has more than one rank.
    """
    if not any(name in os.environ for name in _LAUNCHER_VARIABLES):
        return False
    return mpi_world().Get_size() > 1


def _sum_op():
    from mpi4py import MPI

    return MPI.IN_PLACE, MPI.SUM


def broadcast_parameters(model, comm=None, root: int = 0) -> None:
    """Overwrite every rank's parameters and buffers (BatchNorm statistics) with those of rank ``root``, in place.

    Call once before training so that all ranks start from the same weights, whatever generator each
    built its model with. Collective: every rank of ``comm`` must call it.
    """
    comm = mpi_world(comm)
    for array in _state_arrays(model):
        comm.Bcast(array, root=root)


def _state_arrays(model) -> list:
    """The model's parameter and buffer arrays, in one fixed order (the same on every rank)."""
    return [parameter.data for parameter in model.parameters()] + _buffer_arrays(model)


def _buffer_arrays(model) -> list:
    """The model's buffers (BatchNorm's running statistics), in module order."""
    buffers = [getattr(module, name) for module in model.modules() for name in getattr(module, "_buffers", ())]
    return [array for array in buffers if isinstance(array, np.ndarray)]


class RankGroup:
    """The ranks of an MPI communicator, as synchronized BatchNorm totals its statistics over them.

    ``sum(v)`` is one MPI Allreduce (sum) of a small float64 vector, the same result on every rank;
    ``nablanet.autodiff.ops.batch_norm`` calls it (``group=``) for the batch's sums in the forward
    and the gradient's in the backward. Collective: every rank of ``comm`` must call it, in the same
    order. Built by convert_sync_batchnorm; not saved with a model.
    """

    def __init__(self, comm=None):
        self.comm = mpi_world(comm)

    def sum(self, vector: np.ndarray) -> np.ndarray:
        """The sum over the ranks of each rank's ``vector`` (float64, the same length on every rank)."""
        in_place, total = _sum_op()
        totals = np.array(vector, dtype=np.float64)
        self.comm.Allreduce(in_place, totals, op=total)
        return totals

    def __repr__(self):
        return f"RankGroup(ranks={self.comm.Get_size()})"


def convert_sync_batchnorm(model, comm=None):
    """Synchronize every BatchNorm of ``model`` over the ranks of ``comm`` (PyTorch's convert_sync_batchnorm).

    Each BatchNorm layer then normalizes, in training mode, with the mean and variance of the global
    batch (all ranks' shards together) and its gradient gets the matching totals, so that N ranks
    training on shards of a global batch compute what one process computes on the whole batch,
    running statistics included. Without it each rank normalizes with its own shard's statistics
    (PyTorch DDP's default). The layers are changed in place (their ``process_group``; PyTorch's
    returns new modules sharing the parameters); setting ``process_group = None`` undoes it. The
    layers' gradients assume that each rank's loss is the mean over its shard's rows and that the
    ranks' gradients are summed weighted by shard (DistributedOptimizer with ``set_shard``); with
    equal shards that is PyTorch's average of the ranks' gradients.

    Args:
        model: a nablanet.nn.Module.
        comm: an mpi4py communicator; default COMM_WORLD.

    Returns:
        ``model``.

    Raises:
        TypeError: ``model`` is not a Module.
        ImportError: mpi4py is not installed (one line naming the extra).

    Example (run under ``mpiexec -n 2``)::

        model = convert_sync_batchnorm(nn.Sequential(nn.Dense(784, 256), nn.BatchNorm(256), ...))
        optimizer = DistributedOptimizer(Adam(model.parameters(), lr=1e-3))
    """
    layers = _batchnorm_layers(model, "convert_sync_batchnorm")
    group = RankGroup(comm)
    for layer in layers:
        layer.process_group = group
    return model


def _batchnorm_layers(model, caller: str) -> list:
    from nablanet.nn.layers.norm import BatchNorm
    from nablanet.nn.module import Module

    if not isinstance(model, Module):
        raise TypeError(f"{caller} needs a nablanet.nn.Module, got {type(model).__name__}")
    return [module for module in model.modules() if isinstance(module, BatchNorm)]


class DistributedOptimizer:
    """An optimizer whose step first averages the gradients over the ranks of ``comm``, in one all-reduce.

    The gradients of all parameters are copied, each scaled by this rank's share n_r / N of the global
    batch (``set_shard``; 1 / ranks until it is called), into one preallocated contiguous buffer per
    dtype (one buffer for a float32 model); one ``Allreduce`` sums it over the ranks, and the wrapped
    optimizer steps from views of the buffer. Communication per step: about 2 x parameters x (R-1)/R
    values sent and received per rank (a ring all-reduce).

    Args:
        optimizer: a nablanet optimizer built on the model's parameters (the same on every rank).
        comm: an mpi4py communicator; default COMM_WORLD.

    Attributes:
        optimizer: the wrapped optimizer (save this one in checkpoints).
        comm: the communicator.

    Notes:
        A parameter whose grad is None on a rank contributes zeros, so after the step every parameter
        has a gradient (the average). The sum is the same on every rank for two ranks (a + b = b + a
        exactly); MPI does not promise bitwise equal sums on more ranks (MPICH's and Open MPI's
        reductions do give every rank the same result in practice).

    Example (run under ``mpiexec -n 2``)::

        optimizer = DistributedOptimizer(Adam(model.parameters(), lr=1e-3))
        broadcast_parameters(model)
        optimizer.set_shard(len(X_shard), len(X_batch))
        loss.backward()
        optimizer.step()
    """

    def __init__(self, optimizer, comm=None):
        if getattr(optimizer, "params", None) is None:
            raise TypeError(f"DistributedOptimizer needs an optimizer built on parameters (e.g. "
                            f"Adam(model.parameters())), got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.comm = mpi_world(comm)
        self.params = optimizer.params
        self._weight = 1.0 / self.comm.Get_size()
        self._reduced = False
        # One flat buffer per dtype, each parameter's gradient a view into it: the whole exchange is one
        # call per dtype, with no allocation per step. The slot after the gradients carries the loss.
        self._buckets = []
        self._views = [None] * len(self.params)
        for dtype in dict.fromkeys(np.dtype(p.data.dtype) for p in self.params):
            members = [i for i, p in enumerate(self.params) if np.dtype(p.data.dtype) == dtype]
            size = sum(self.params[i].data.size for i in members)
            buffer = np.zeros(size + 1, dtype=dtype)
            offset = 0
            for i in members:
                shape = self.params[i].data.shape
                count = int(np.prod(shape, dtype=np.int64))
                self._views[i] = buffer[offset:offset + count].reshape(shape)
                offset += count
            self._buckets.append(buffer)

    def set_shard(self, local_rows: int, global_rows: int) -> None:
        """This rank's rows ``local_rows`` of a global batch of ``global_rows``: its gradient's weight n_r / N."""
        if global_rows < 1 or not 0 <= local_rows <= global_rows:
            raise ValueError(f"a shard needs 0 <= local_rows <= global_rows and global_rows >= 1, got "
                             f"local_rows={local_rows}, global_rows={global_rows}")
        self._weight = local_rows / global_rows

    def allreduce_gradients(self, loss: float | None = None) -> float | None:
        """Replace every parameter's grad by the weighted sum over the ranks (one Allreduce per dtype).

        ``loss``, this rank's mean loss on its shard, travels in the same buffer: the return value is
        then the mean loss over the global batch (None without it). The next ``step`` does not reduce again.
        """
        in_place, total = _sum_op()
        weight = self._weight
        for parameter, view in zip(self.params, self._views):
            if parameter.grad is None:
                view.fill(0)
            else:
                np.multiply(parameter.grad, weight, out=view, casting="unsafe")
        for bucket in self._buckets:
            bucket[-1] = 0 if loss is None else loss * weight
            self.comm.Allreduce(in_place, bucket, op=total)
        for parameter, view in zip(self.params, self._views):
            parameter.grad = view
        self._reduced = True
        return None if loss is None else float(self._buckets[0][-1])

    def step(self) -> None:
        """All-reduce the gradients (unless ``allreduce_gradients`` just did), then the wrapped optimizer's step."""
        if not self._reduced:
            self.allreduce_gradients()
        self._reduced = False
        self.optimizer.step()

    def zero_grad(self) -> None:
        """The wrapped optimizer's zero_grad: every parameter's gradient to None."""
        self.optimizer.zero_grad()

    def state_dict(self) -> dict:
        """The wrapped optimizer's state (the same on every rank)."""
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict) -> None:
        """Load ``state`` into the wrapped optimizer."""
        self.optimizer.load_state_dict(state)

    def __getattr__(self, name):
        # lr_now, state, hyperparameters: read from the wrapped optimizer.
        if name == "optimizer":
            raise AttributeError(name)
        return getattr(self.optimizer, name)

    def __repr__(self):
        return f"DistributedOptimizer({self.optimizer!r}, ranks={self.comm.Get_size()})"


def parallel_training(distributed, model, optimizer, rng: np.random.Generator, sync_batchnorm: bool = False):
    """What fit's ``distributed`` asks for: SingleProcess for None, MPITraining (sharing ``rng``) for "mpi"."""
    if not isinstance(sync_batchnorm, (bool, np.bool_)):
        raise TypeError(f"sync_batchnorm must be True or False, got {sync_batchnorm!r}")
    if distributed is None:
        if sync_batchnorm:
            raise ValueError("sync_batchnorm=True synchronizes BatchNorm over MPI's ranks and needs distributed='mpi' "
                             "(under mpiexec); in one process the batch statistics are already the whole batch's")
        return SingleProcess(optimizer)
    if distributed != "mpi":
        raise ValueError(f"distributed must be None or 'mpi', got {distributed!r}")
    training = MPITraining(model, optimizer, sync_batchnorm=bool(sync_batchnorm))
    training.share_generator(rng)
    return training


class SingleProcess:
    """fit's training in this process alone: every hook of MPITraining, doing nothing."""

    collective = False
    is_root = True

    def __init__(self, optimizer):
        self.step_optimizer = optimizer

    def prepare(self, n_samples: int, batch_size, callbacks: list, progress: bool):
        """The callbacks and the progress setting, unchanged (MPITraining.prepare's hook)."""
        return callbacks, progress

    def shard(self, rows):
        """The whole batch's ``rows`` and None: one process computes on all of them."""
        return rows, None

    def gather(self, array: np.ndarray) -> np.ndarray:
        """``array`` itself: one process already holds every row."""
        return array

    def end_epoch(self) -> None:
        """Nothing to synchronize at the end of an epoch in one process."""
        pass

    def batch_statistics(self):
        """A block that changes nothing: BatchNorm's batch statistics are already the whole batch's."""
        return contextlib.nullcontext()


class MPITraining:
    """What ``fit(..., distributed="mpi")`` does on each rank: shards, the reduced step, rank 0's part.

    Every rank starts from rank 0's weights and generator (the same shuffles and splits), takes its
    shard of every global batch of ``batch_size`` rows and steps from the gradient of the whole
    batch's mean loss (one all-reduce per step, DistributedOptimizer); the global batch loss travels
    in the same all-reduce, and the epoch's metrics are computed on the predictions of all ranks, so
    the History holds the global figures on every rank. Only rank 0 shows the progress bar and runs
    the callbacks that write files (ModelCheckpoint, CSVLogger); the others (EarlyStopping, ...) run
    on every rank and, seeing the same figures, decide alike. BatchNorm normalizes with each rank's
    own batch statistics (PyTorch DDP's default); its running statistics are rank 0's after each epoch.
    With ``sync_batchnorm`` BatchNorm is synchronized while training (convert_sync_batchnorm, undone
    when fit ends): the global batch's statistics, and the running statistics of one process.

    Args:
        model: the Module (the same architecture on every rank).
        optimizer: its nablanet optimizer.
        comm: an mpi4py communicator; default COMM_WORLD.
        sync_batchnorm: synchronize the model's BatchNorm layers over the ranks during training.
    """

    collective = True

    def __init__(self, model, optimizer, comm=None, *, sync_batchnorm: bool = False):
        self.comm = mpi_world(comm)
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.model = model
        self.step_optimizer = DistributedOptimizer(optimizer, self.comm)
        self.sync_batchnorm = sync_batchnorm

    @property
    def is_root(self) -> bool:
        """Whether this process is rank 0 (it prints, shows progress and writes files)."""
        return self.rank == 0

    def share_generator(self, rng: np.random.Generator) -> None:
        """Give ``rng`` rank 0's state: the same shuffles and splits on every rank, even from fresh entropy."""
        rng.bit_generator.state = self.comm.bcast(rng.bit_generator.state, root=0)

    def prepare(self, n_samples: int, batch_size, callbacks: list, progress: bool):
        """Check the batches, start from rank 0's weights; the callbacks and progress setting of this rank."""
        self._check_batches(n_samples, batch_size)
        broadcast_parameters(self.model, self.comm)
        return [callback for callback in callbacks if self.runs_here(callback)], progress and self.is_root

    def _check_batches(self, n_samples: int, batch_size: int | None) -> None:
        """Every global batch must give each rank at least one row (an empty shard has no mean loss)."""
        smallest = n_samples if batch_size is None or batch_size >= n_samples else \
            (n_samples % batch_size or batch_size)
        if smallest < self.size:
            raise ValueError(f"distributed training on {self.size} ranks needs at least {self.size} rows in every "
                             f"batch, but with {n_samples} samples and batch_size={batch_size} a batch has "
                             f"{smallest}: choose a batch_size (and sample count) giving each rank a row")

    def shard(self, rows):
        """This rank's part of a global batch's indexer (an index array or a slice); and the global batch's rows."""
        if isinstance(rows, slice):
            start, stop, _ = rows.indices(rows.stop)
            n = stop - start
        else:
            start, n = 0, len(rows)
        base, extra = divmod(n, self.size)
        begin = self.rank * base + min(self.rank, extra)
        end = begin + base + (1 if self.rank < extra else 0)
        self.step_optimizer.set_shard(end - begin, n)
        local = slice(start + begin, start + end) if isinstance(rows, slice) else rows[begin:end]
        return local, n

    def gather(self, array: np.ndarray) -> np.ndarray:
        """The rows of ``array`` from all ranks, concatenated in rank order (for the epoch's metrics)."""
        return np.concatenate(self.comm.allgather(array))

    def end_epoch(self) -> None:
        """BatchNorm's running statistics are per rank during the epoch (as PyTorch's DDP); rank 0's are kept."""
        for array in _buffer_arrays(self.model):
            self.comm.Bcast(array, root=0)

    @contextlib.contextmanager
    def batch_statistics(self):
        """With sync_batchnorm, the model's BatchNorm layers synchronized inside the block and as they were after it."""
        if not self.sync_batchnorm:
            yield
            return
        layers = _batchnorm_layers(self.model, "sync_batchnorm=True")
        groups = [layer.process_group for layer in layers]
        convert_sync_batchnorm(self.model, self.comm)
        try:
            yield
        finally:
            for layer, group in zip(layers, groups):
                layer.process_group = group

    def runs_here(self, callback) -> bool:
        """Callbacks that write files (ModelCheckpoint, CSVLogger) run on rank 0 only; the others on every rank."""
        from nablanet.train.callbacks import CSVLogger, ModelCheckpoint

        return self.is_root or not isinstance(callback, (ModelCheckpoint, CSVLogger))
