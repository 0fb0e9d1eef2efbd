"""mlp-784 data-parallel over MPI: samples/s on 1 and 2 ranks, in fit and in a user's loop; the all-reduce's share.

The workload of mlp_784.py, exactly as PERFORMANCE.md defines it: 784-256-128-10 ReLU, softmax
cross-entropy, Adam lr 1e-3, global batch 128, float32, X (60000, 784) standard normal, y uniform
0-9, and one timed repeat is ONE shuffled epoch: a permutation of the 60,000 rows cut into 469
global batches (468 of 128 rows, the last of 96), each cut into one shard per rank (64 rows of 128
on two ranks). Samples/s = 60,000 / the epoch's wall time.

Two ways of training, each in its own launch:

- ``fit``: ``nablanet.fit(model, X, y, loss="cross_entropy", optimizer=Adam, epochs=1, batch_size=128,
  distributed="mpi")``, the call timed whole (its checks, its shuffle, its divergence guard and the
  epoch's accuracy over all ranks' predictions included: what a user of fit waits for).
- ``loop``: a user's own loop with ``DistributedOptimizer`` (docs/cluster.md's): ``set_shard``,
  ``loss.backward()``, ``optimizer.step()``.

The all-reduce's share of a step is measured, not estimated: the time inside
``DistributedOptimizer.allreduce_gradients`` (scaling the gradients of all 235,146 parameters into
one float32 buffer, one MPI Allreduce of it, which includes waiting for the slower rank) over the
epoch's time. Under fit the method is wrapped in the worker with a timer (two clock reads per step).
A second figure, "all-reduce alone", is the transport without the waiting: the same buffer reduced
200 times in a row after a barrier. On one rank the "all-reduce" is the copy into the buffer (MPI
returns at once).

Configurations (the machine of PERFORMANCE.md has 2 cores): 1 rank with 1 BLAS thread, 1 rank with
2 threads (all the machine, in one process), 2 ranks with 1 thread each (all the machine, in two).
Every launch builds the same initial weights, trains 20 untimed warm-up steps, then times its
epochs. Launches are interleaved: each round runs every configuration and way once, so that the
machine's drift (other load) spreads over all of them; medians over the rounds, min-max beside them.
The load average is printed at the start and the end: on a shared machine quote it with the figures.

Usage:
    python benchmarks/mpi_allreduce.py                # 5 rounds of one epoch per configuration and way
    python benchmarks/mpi_allreduce.py --rounds 7
    python benchmarks/mpi_allreduce.py --quick        # smoke run (50 steps, 1 round)
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
import _mlp  # noqa: E402
import mlp_784  # noqa: E402  (the workload's data, weights and sizes, defined once there)

CONFIGURATIONS = ((1, 1), (1, 2), (2, 1))  # (ranks, threads per rank)
WAYS = ("fit", "loop")
WARMUP_STEPS = 20
ALLREDUCE_CALLS = 200


class _Timed:
    """Wraps DistributedOptimizer.allreduce_gradients (the class's, so fit's own instance is timed too)."""

    def __init__(self):
        from nablanet.distributed import DistributedOptimizer

        self.seconds = 0.0
        original = DistributedOptimizer.allreduce_gradients

        def timed(optimizer, loss=None):
            started = time.perf_counter()
            try:
                return original(optimizer, loss)
            finally:
                self.seconds += time.perf_counter() - started

        DistributedOptimizer.allreduce_gradients = timed


def _epoch_batches(rng, n_samples: int, batch_size: int) -> list:
    """One shuffled epoch: a permutation cut into batches of ``batch_size`` rows (the last one shorter)."""
    order = rng.permutation(n_samples)
    return [order[start:start + batch_size] for start in range(0, n_samples, batch_size)]


def worker(way: str, steps: int, repeats: int, threads: int) -> None:
    """One rank: warm up, then time ``repeats`` epochs (of ``steps`` global steps); rank 0 prints a JSON line each."""
    import numpy
    from mpi4py import MPI

    from nablanet import optim
    from nablanet.distributed import DistributedOptimizer, broadcast_parameters, mpi_world
    from nablanet.nn import functional as F
    from nablanet.train import fit

    comm = mpi_world()
    rank, size = comm.Get_rank(), comm.Get_size()
    X, y = mlp_784.make_data()
    n_rows = min(mlp_784.N_SAMPLES, steps * mlp_784.BATCH)
    model = _mlp.network(mlp_784.MLP)
    adam = optim.Adam(model.parameters(), lr=mlp_784.MLP.lr)
    timer = _Timed()
    rng = numpy.random.default_rng(2)  # the same seed on every rank: the same epochs
    distributed = DistributedOptimizer(adam, comm)
    if way == "loop":
        broadcast_parameters(model, comm)

    def loop_epoch(rows: int) -> float:
        losses = []
        for batch in _epoch_batches(rng, rows, mlp_784.BATCH):
            shard = numpy.array_split(batch, size)[rank]
            distributed.set_shard(len(shard), len(batch))
            distributed.zero_grad()
            loss = F.cross_entropy(model(X[shard]), y[shard])
            loss.backward()
            distributed.step()
            losses.append(float(loss))
        return float(numpy.mean(losses))  # this rank's shards' mean loss

    def fit_epoch(rows: int, seed: int) -> float:
        history = fit(model, X[:rows], y[:rows], loss="cross_entropy", optimizer=adam, epochs=1,
                      batch_size=mlp_784.BATCH, seed=seed, progress=False, distributed="mpi", threads=threads)
        return history["loss"][-1]  # the epoch's global loss

    def epoch(rows: int, seed: int) -> float:
        return loop_epoch(rows) if way == "loop" else fit_epoch(rows, seed)

    epoch(WARMUP_STEPS * mlp_784.BATCH, seed=0)  # caches, allocator, MPI's connections
    buffer = numpy.zeros(sum(p.data.size for p in model.parameters()) + 1, dtype=numpy.float32)
    for repeat in range(repeats):
        comm.Barrier()
        timer.seconds = 0.0
        started = time.perf_counter()
        loss = epoch(n_rows, seed=1 + repeat)
        elapsed = time.perf_counter() - started
        reduce_time = timer.seconds
        comm.Barrier()
        transport_started = time.perf_counter()
        for _ in range(ALLREDUCE_CALLS):
            comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
        transport = (time.perf_counter() - transport_started) / ALLREDUCE_CALLS
        if rank == 0:
            n_steps = -(-n_rows // mlp_784.BATCH)
            print(json.dumps({"samples_per_s": n_rows / elapsed, "step_ms": 1e3 * elapsed / n_steps,
                              "allreduce_share": reduce_time / elapsed, "allreduce_alone_ms": 1e3 * transport,
                              "loss": loss}), flush=True)


def run_launch(ranks: int, threads: int, way: str, steps: int, repeats: int) -> list:
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    command = [mpiexec, "-n", str(ranks), sys.executable, os.path.abspath(__file__), "--worker", way,
               "--steps", str(steps), "--repeats", str(repeats), "--threads", str(threads)]
    result = subprocess.run(command, env=_harness.thread_environment(threads), capture_output=True, text=True,
                            timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(f"{way}, {ranks} ranks x {threads} threads failed:\n{result.stdout}\n{result.stderr}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def _median(rows: list, key: str, scale: float = 1.0, digits: int = 2) -> str:
    values = [row[key] * scale for row in rows]
    return f"{statistics.median(values):,.{digits}f} ({min(values):,.{digits}f}-{max(values):,.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=WAYS, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=mlp_784.STEPS_PER_EPOCH, help="global steps per epoch (469)")
    parser.add_argument("--repeats", type=int, default=1, help="timed epochs per launch")
    parser.add_argument("--rounds", type=int, default=5, help="launches of every configuration and way")
    parser.add_argument("--quick", action="store_true", help="50 steps, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.rounds = 50, 1
    if args.worker:
        worker(args.worker, args.steps, args.repeats, args.threads)
        return
    parameters = mlp_784.MLP.parameters
    print(f"mlp-784, global batch {mlp_784.BATCH}, {parameters:,} float32 parameters "
          f"({4 * parameters / 2**20:.2f} MiB all-reduced per step), {args.steps} steps x {args.repeats} epochs "
          f"per launch x {args.rounds} rounds; load average {os.getloadavg()[0]:.2f} at the start", flush=True)
    rows = {(way, ranks, threads): [] for way in WAYS for ranks, threads in CONFIGURATIONS}
    for _ in range(args.rounds):
        for way, ranks, threads in rows:
            rows[way, ranks, threads] += run_launch(ranks, threads, way, args.steps, args.repeats)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    print(f"{'way':<5} {'ranks x threads':<16} {'samples/s':>26} {'ms/step':>22} {'all-reduce share':>24} "
          f"{'all-reduce alone ms':>24} {'vs 1 x 1':>9}")
    for (way, ranks, threads), found in rows.items():
        single = statistics.median(row["samples_per_s"] for row in rows[way, 1, 1])
        ratio = statistics.median(row["samples_per_s"] for row in found) / single
        print(f"{way:<5} {f'{ranks} x {threads}':<16} {_median(found, 'samples_per_s', digits=0):>26} "
              f"{_median(found, 'step_ms'):>22} {_median(found, 'allreduce_share', 100, digits=1):>23}% "
              f"{_median(found, 'allreduce_alone_ms', digits=3):>24} {ratio:>9.2f}")


if __name__ == "__main__":
    main()
