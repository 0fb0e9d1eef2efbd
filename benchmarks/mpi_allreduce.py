"""mlp-784 data-parallel over MPI: samples/s with 1 and 2 ranks, and the gradient all-reduce's share of a step.

The workload of mlp_784.py (784-256-128-10 ReLU, softmax cross-entropy, Adam lr 1e-3, global batch
128, float32, X (60000, 784) standard normal, y uniform 0-9, one shuffled epoch of 469 steps per
repeat), trained as a user of nablanet.distributed writes it: each rank takes its shard of every
global batch (64 rows of 128 on two ranks), ``DistributedOptimizer.step`` sums the gradients of all
235,146 parameters in one MPI Allreduce of one float32 buffer, then Adam steps on every rank.

Per repeat, rank 0 reports the epoch's samples/s (global rows / wall time) and the time spent in the
all-reduce call (which includes waiting for the slower rank), as a share of the step; a second
figure, the all-reduce alone (the same buffer reduced 200 times in a row after a barrier), is the
transport cost without any waiting. On one rank the "all-reduce" is the copy of the scaled gradients
into the buffer (MPI returns at once). Medians over the repeats, min-max beside them.

Configurations (the machine of PERFORMANCE.md has 2 cores): 1 rank with 1 BLAS thread, 1 rank with
2 threads (all the machine, in one process), 2 ranks with 1 thread each (all the machine, in two).

Usage:
    python benchmarks/mpi_allreduce.py               # 5 repeats of one epoch per configuration
    python benchmarks/mpi_allreduce.py --quick       # smoke run (50 steps, 2 repeats)
Needs ``pip install 'nablanet[mpi]'`` (mpi4py and the mpich wheel, whose mpiexec is beside the Python).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402
import mlp_784  # noqa: E402  (the workload's data, weights and sizes, defined once there)
from _training import Batches  # noqa: E402

CONFIGURATIONS = ((1, 1), (1, 2), (2, 1))  # (ranks, threads per rank)
ALLREDUCE_CALLS = 200


def worker(steps: int, repeats: int) -> None:
    """One rank: time ``repeats`` epochs of ``steps`` global steps; rank 0 prints one JSON line per repeat."""
    import numpy

    import nablanet.nn as nn
    from nablanet import optim
    from nablanet.distributed import DistributedOptimizer, broadcast_parameters, mpi_world
    from nablanet.nn import functional as F

    comm = mpi_world()
    rank, size = comm.Get_rank(), comm.Get_size()
    X, y = mlp_784.make_data()
    sizes = (mlp_784.N_FEATURES, *mlp_784.HIDDEN, mlp_784.N_CLASSES)
    layers = []
    for i, (W, b) in enumerate(mlp_784.initial_weights()):
        layer = nn.Dense(sizes[i], sizes[i + 1], activation="relu" if i < len(mlp_784.HIDDEN) else None)
        layer.W.data[...], layer.b.data[...] = W, b
        layers.append(layer)
    model = nn.Sequential(*layers)
    optimizer = DistributedOptimizer(optim.Adam(model.parameters(), lr=mlp_784.LEARNING_RATE), comm)
    broadcast_parameters(model, comm)
    batches = Batches(mlp_784.N_SAMPLES, mlp_784.BATCH)  # the same seed on every rank: the same batches

    def step() -> float:
        rows = batches.next()
        shard = numpy.array_split(rows, size)[rank]
        optimizer.set_shard(len(shard), len(rows))
        optimizer.zero_grad()
        loss = F.cross_entropy(model(X[shard]), y[shard])
        loss.backward()
        started = time.perf_counter()
        optimizer.allreduce_gradients()
        reduce_time = time.perf_counter() - started
        optimizer.step()
        return reduce_time

    for _ in range(20):  # warm-up: caches, allocator, MPI's connections
        step()
    for _ in range(repeats):
        comm.Barrier()
        started = time.perf_counter()
        reduce_time = sum(step() for _ in range(steps))
        elapsed = time.perf_counter() - started
        comm.Barrier()
        bucket = optimizer._buckets[0]
        from mpi4py import MPI

        transport_started = time.perf_counter()
        for _ in range(ALLREDUCE_CALLS):
            comm.Allreduce(MPI.IN_PLACE, bucket, op=MPI.SUM)
        transport = (time.perf_counter() - transport_started) / ALLREDUCE_CALLS
        if rank == 0:
            print(json.dumps({"samples_per_s": steps * mlp_784.BATCH / elapsed, "step_ms": 1e3 * elapsed / steps,
                              "allreduce_share": reduce_time / elapsed, "allreduce_alone_ms": 1e3 * transport}),
                  flush=True)


def run_configuration(ranks: int, threads: int, steps: int, repeats: int) -> list:
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    command = [mpiexec, "-n", str(ranks), sys.executable, os.path.abspath(__file__), "--worker", "--steps", str(steps),
               "--repeats", str(repeats)]
    result = subprocess.run(command, env=_harness.thread_environment(threads), capture_output=True, text=True,
                            timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(f"{ranks} ranks x {threads} threads failed:\n{result.stdout}\n{result.stderr}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def _median(rows: list, key: str, scale: float = 1.0, digits: int = 2) -> str:
    values = [row[key] * scale for row in rows]
    return f"{statistics.median(values):,.{digits}f} ({min(values):,.{digits}f}-{max(values):,.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=mlp_784.STEPS_PER_EPOCH)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="50 steps, 2 repeats")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.repeats = 50, 2
    if args.worker:
        worker(args.steps, args.repeats)
        return
    parameters = sum(a.size + b.size for a, b in mlp_784.initial_weights())
    print(f"mlp-784, global batch {mlp_784.BATCH}, {parameters:,} float32 parameters "
          f"({4 * parameters / 2**20:.2f} MiB all-reduced per step), {args.steps} steps x {args.repeats} repeats")
    print(f"{'ranks x threads':<16} {'samples/s':>26} {'ms/step':>22} {'all-reduce share':>24} {'all-reduce alone ms':>24}")
    for ranks, threads in CONFIGURATIONS:
        rows = run_configuration(ranks, threads, args.steps, args.repeats)
        print(f"{f'{ranks} x {threads}':<16} {_median(rows, 'samples_per_s', digits=0):>26} {_median(rows, 'step_ms'):>22} "
              f"{_median(rows, 'allreduce_share', 100, digits=1):>23}% {_median(rows, 'allreduce_alone_ms', digits=3):>24}")


if __name__ == "__main__":
    main()
