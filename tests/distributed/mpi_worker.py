"""Run under ``mpiexec -n 2`` by test_mpi.py: train distributed and write each rank's weights to a folder.

python mpi_worker.py MODE OUT_DIR; MODE is "train" (3 epochs), "resume" (2 epochs, a checkpoint
saved on rank 0, loaded by every rank, 2 more epochs) or "batchnorm". Each rank writes rank<r>.npz:
its parameters and buffers and its History's losses and accuracies.
"""

import sys
from pathlib import Path

import numpy as np

from nablanet import io, nn
from nablanet.distributed import mpi_world
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


def batchnorm(distributed, seed_of_weights, out: Path | None = None):
    """A network with BatchNorm: each rank normalizes with its shard's statistics, and keeps rank 0's running ones."""
    X, y = problem()
    net = nn.Sequential(nn.Dense(4, 6, rng=seed_of_weights, dtype=np.float64), nn.BatchNorm(6, dtype=np.float64),
                        nn.Dense(6, 3, rng=seed_of_weights + 100, dtype=np.float64))
    history = fit(net, X, y, loss="cross_entropy", optimizer=Adam(net.parameters(), lr=0.05), epochs=2, batch_size=15,
                  seed=3, progress=False, distributed=distributed)
    return net, [history]


def arrays(net, histories) -> dict:
    found = {name: np.asarray(value) for name, value in net.state_dict().items()}
    found["loss"] = np.concatenate([h["loss"] for h in histories])
    found["accuracy"] = np.concatenate([h["accuracy"] for h in histories])
    return found


if __name__ == "__main__":
    mode, out = sys.argv[1], Path(sys.argv[2])
    rank = mpi_world().Get_rank()
    net, histories = {"train": train, "resume": resume, "batchnorm": batchnorm}[mode]("mpi", rank, out)
    np.savez(out / f"rank{rank}.npz", **arrays(net, histories))
