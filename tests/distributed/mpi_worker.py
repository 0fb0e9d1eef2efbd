"""Run under ``mpiexec -n 2`` by test_mpi.py: train distributed and write each rank's weights to a folder.

python mpi_worker.py MODE OUT_DIR; MODE is "train" (3 epochs), "resume" (2 epochs, a checkpoint
saved on rank 0, loaded by every rank, 2 more epochs), "batchnorm" or "sync-batchnorm" (fit with
sync_batchnorm=True). Each rank writes rank<r>.npz: its parameters and buffers and its History's
losses and accuracies. MODE "batchnorm-loop" writes rank<r>-sync.npz and rank<r>-local.npz instead,
the records of loop_batchnorm with synchronized and with per-rank BatchNorm.
"""

import sys
from pathlib import Path

import numpy as np

from nablanet import Tensor, io, nn
from nablanet.distributed import DistributedOptimizer, broadcast_parameters, convert_sync_batchnorm, mpi_world
from nablanet.nn import functional as F
from nablanet.optim import Adam
from nablanet.train import ModelCheckpoint, fit


def problem():
    """50 rows in 15-row batches: shards of 8 and 7 rows, and a last batch of 5 (3 and 2)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4))
    y = rng.integers(0, 3, size=50)
    return X, y


def model(seed):
    return nn.Sequential(nn.Dense(4, 6, activation="tanh", rng=seed, dtype=np.float64),
                         nn.Dense(6, 3, rng=seed + 100, dtype=np.float64))


def train(distributed, seed_of_weights, out: Path | None = None):
    """The runs the test compares; ``seed_of_weights`` differs per rank to show rank 0's weights win."""
    X, y = problem()
    net = model(seed_of_weights)
    optimizer = Adam(net.parameters(), lr=0.05)
    history = fit(net, X, y, loss="cross_entropy", optimizer=optimizer, epochs=3, batch_size=15, seed=3,
                  progress=False, distributed=distributed)
    return net, [history]


def resume(distributed, seed_of_weights, out: Path):
    X, y = problem()
    net = model(seed_of_weights)
    checkpoint = out / "checkpoint.npz"
    first = fit(net, X, y, loss="cross_entropy", optimizer=Adam(net.parameters(), lr=0.05), epochs=2,
                batch_size=15, seed=3, progress=False, distributed=distributed,
                callbacks=[ModelCheckpoint(checkpoint, include_optimizer=True)])
    if distributed:
        mpi_world().Barrier()  # rank 0 has written the checkpoint
    restored = io.load_checkpoint(checkpoint)
    second = fit(restored.model, X, y, loss="cross_entropy", optimizer=restored.optimizer, epochs=2, batch_size=15,
                 seed=4, progress=False, distributed=distributed)
    return restored.model, [first, second]


def batchnorm_model(seed):
    return nn.Sequential(nn.Dense(4, 6, rng=seed, dtype=np.float64), nn.BatchNorm(6, dtype=np.float64),
                         nn.Dense(6, 3, rng=seed + 100, dtype=np.float64))


def batchnorm(distributed, seed_of_weights, out: Path | None = None, sync_batchnorm: bool = False):
    """A network with BatchNorm: each rank normalizes with its shard's statistics, and keeps rank 0's running ones.

    With ``sync_batchnorm`` every rank normalizes with the global batch's statistics instead.
    """
    X, y = problem()
    net = batchnorm_model(seed_of_weights)
    history = fit(net, X, y, loss="cross_entropy", optimizer=Adam(net.parameters(), lr=0.05), epochs=2, batch_size=15,
                  seed=3, progress=False, distributed=distributed, sync_batchnorm=sync_batchnorm)
    return net, [history]


def loop_batchnorm(distributed, seed_of_weights, sync: bool = True) -> dict:
    """One epoch of a user's loop (four global batches of 15, 15, 15 and 5 rows) on the BatchNorm network.

    Under MPI each rank takes its shard (8 and 7 rows, then 3 and 2: unequal shares) and the
    optimizer is a DistributedOptimizer; ``sync`` converts the BatchNorm layer. Recorded per step:
    the BatchNorm layer's output on this rank's rows, dC/dX of this rank's rows (its input gradient
    times its share of the batch: its part of the global batch's gradient), every parameter's
    gradient after the all-reduce; at the end the parameters and running statistics.
    """
    X, y = problem()
    net = batchnorm_model(seed_of_weights)
    optimizer = Adam(net.parameters(), lr=0.05)
    rank, size = 0, 1
    if distributed:
        comm = mpi_world()
        rank, size = comm.Get_rank(), comm.Get_size()
        optimizer = DistributedOptimizer(optimizer, comm)
        broadcast_parameters(net, comm)
        if sync:
            convert_sync_batchnorm(net, comm)
    dense, batch_norm, head = net.layers
    found = {}
    for step, rows in enumerate(np.split(np.random.default_rng(5).permutation(len(X)), [15, 30, 45])):
        shard = np.array_split(rows, size)[rank]
        inputs = Tensor(X[shard], requires_grad=True)
        normalized = batch_norm(dense(inputs))
        loss = F.cross_entropy(head(normalized), y[shard])
        optimizer.zero_grad()
        if distributed:
            optimizer.set_shard(len(shard), len(rows))
        loss.backward()
        optimizer.step()
        found[f"{step}/batchnorm"] = np.array(normalized.data)
        found[f"{step}/dC/dX"] = inputs.grad * (len(shard) / len(rows))
        for name, parameter in net.named_parameters():
            found[f"{step}/grad/{name}"] = np.array(parameter.grad)
    found.update(net.state_dict())
    return found


def arrays(net, histories) -> dict:
    found = {name: np.asarray(value) for name, value in net.state_dict().items()}
    found["loss"] = np.concatenate([h["loss"] for h in histories])
    found["accuracy"] = np.concatenate([h["accuracy"] for h in histories])
    # fit's sync_batchnorm lasts as long as the call.
    found["synchronized"] = np.array([getattr(m, "process_group", None) is not None for m in net.modules()])
    return found


if __name__ == "__main__":
    mode, out = sys.argv[1], Path(sys.argv[2])
    rank = mpi_world().Get_rank()
    if mode == "batchnorm-loop":
        for sync in (True, False):
            np.savez(out / f"rank{rank}-{'sync' if sync else 'local'}.npz", **loop_batchnorm("mpi", rank, sync))
    else:
        run = {"train": train, "resume": resume, "batchnorm": batchnorm,
               "sync-batchnorm": lambda *args: batchnorm(*args, sync_batchnorm=True)}[mode]
        net, histories = run("mpi", rank, out)
        np.savez(out / f"rank{rank}.npz", **arrays(net, histories))
