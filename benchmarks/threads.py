"""threads: one epoch of nablanet.fit for a small CNN and an MLP with threads=1, threads=2 and the BLAS default.

The measurement behind ``nablanet.runtime.DEFAULT_THREADS``, the BLAS threads of ``fit``, ``predict``,
``evaluate`` and the estimators when not told otherwise. Each timed iteration is one call of
``nablanet.fit(..., epochs=1, threads=T)``, training on from the previous repeat:

- ``cnn``: cnn-28's network (conv 1->16 3x3 pad 1, ReLU, maxpool 2, conv 16->32 3x3 pad 1, ReLU,
  maxpool 2, dense 1568->10), softmax cross-entropy, Adam 1e-3, batch 64, float32, 1280 standard
  normal (1, 28, 28) inputs with labels uniform over 0-9: 20 steps;
- ``mlp``: mlp-784's network (784-256-128-10 ReLU), the same loss and Adam, batch 128, float32,
  12800 standard normal rows: 100 steps.

The settings: ``threads=1``, ``threads=2`` and ``BLAS default`` (``threads=0``: the pools as the BLAS
library sized them when it loaded, one thread per core for OpenBLAS; the script removes
OPENBLAS_NUM_THREADS and the like from its environment before NumPy loads, so that this is the
library's own default). Each runs under two conditions: ``idle`` (nothing started by the script; on
a shared machine other work may still run, so the load average is printed) and ``busy`` (all cores
but one kept busy by spinning processes the script starts and ends: the "other core busy" of a
2-core machine).

Before timing, every setting trains the same network from the same weights on the same batches for
a few steps, and their losses must agree (relative tolerance 1e-5): different thread counts may sum
in another order, nothing more. Then, per condition, one discarded warm-up round and ``--repeats``
rounds visit the settings in an order rotated each round; tables show medians, min and max of the
seconds per epoch, and ``vs threads=1`` = setting's median / threads=1's median (above 1: threads=1
is faster), as in the other benchmarks.

Usage:
    python benchmarks/threads.py              # 7 repeats per setting and condition: about 3 minutes
    python benchmarks/threads.py --quick      # 2 repeats of smaller epochs: about 30 s
    python benchmarks/threads.py --repeats 11 --conditions busy
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402

SETTINGS = {"threads=1": 1, "threads=2": 2, "BLAS default": 0}
WORKLOADS = ("cnn", "mlp")
LOSS_RTOL = 1e-5


def build(workload: str, quick: bool):
    """(model, optimizer, X, y, batch_size) of a workload, from fixed weights and data."""
    import numpy

    import nablanet.nn as nn
    from nablanet import optim

    rng = numpy.random.default_rng(0)
    if workload == "cnn":
        n = 320 if quick else 1280
        X = rng.standard_normal((n, 1, 28, 28), dtype=numpy.float32)
        model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, activation="relu", rng=1), nn.MaxPool2d(2),
                              nn.Conv2d(16, 32, 3, padding=1, activation="relu", rng=2), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Dense(1568, 10, rng=3))
        batch_size = 64
    else:
        n = 3200 if quick else 12800
        X = rng.standard_normal((n, 784), dtype=numpy.float32)
        model = nn.Sequential(nn.Dense(784, 256, activation="relu", rng=1), nn.Dense(256, 128, activation="relu", rng=2),
                              nn.Dense(128, 10, rng=3))
        batch_size = 128
    y = rng.integers(0, 10, n)
    return model, optim.Adam(model.parameters(), lr=1e-3), X, y, batch_size


def one_epoch(model, optimizer, X, y, batch_size, threads: int, seed: int) -> float:
    """Seconds for one epoch of nablanet.fit on ``threads``; the epoch's loss is checked to be finite."""
    import math

    import nablanet

    start = time.perf_counter()
    history = nablanet.fit(model, X, y, loss="cross_entropy", optimizer=optimizer, epochs=1, batch_size=batch_size,
                           seed=seed, progress=False, threads=threads)
    seconds = time.perf_counter() - start
    if not math.isfinite(history["loss"][-1]):
        raise _harness.PeerFailed(f"the loss became {history['loss'][-1]}")
    return seconds


def check_settings_agree(quick: bool) -> float:
    """Train every workload for a few steps under every setting; return the largest relative loss difference."""
    import numpy

    import nablanet

    worst = 0.0
    for workload in WORKLOADS:
        losses = {}
        for name, threads in SETTINGS.items():
            model, optimizer, X, y, batch_size = build(workload, quick=True)
            rows = 4 * batch_size
            history = nablanet.fit(model, X[:rows], y[:rows], loss="cross_entropy", optimizer=optimizer, epochs=2,
                                   batch_size=batch_size, seed=0, progress=False, threads=threads)
            losses[name] = numpy.array(history["loss"])
        reference = losses["threads=1"]
        for name, values in losses.items():
            difference = float(numpy.max(numpy.abs(values - reference) / numpy.abs(reference)))
            if difference > LOSS_RTOL:
                raise _harness.PeerFailed(f"{workload}: the losses of {name} ({values}) differ from threads=1's "
                                          f"({reference}) by {difference:.2e}, more than {LOSS_RTOL}")
            worst = max(worst, difference)
    return worst


class Spinners:
    """``count`` processes that each keep a core busy while the block is open (ended by their pid on exit)."""

    def __init__(self, count: int):
        self.count = count
        self.processes = []

    def __enter__(self):
        for _ in range(self.count):
            self.processes.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        time.sleep(1.0)  # let them reach the loop before anything is timed
        return self

    def __exit__(self, *exc):
        for process in self.processes:
            process.kill()
        for process in self.processes:
            process.wait()
        self.processes = []


def measure(condition: str, spinners: int, repeats: int, quick: bool) -> dict:
    """seconds[workload][setting] for one condition: a warm-up round, then ``repeats`` rotated rounds."""
    runs = {(workload, name): build(workload, quick) for workload in WORKLOADS for name in SETTINGS}
    seconds = {workload: {name: [] for name in SETTINGS} for workload in WORKLOADS}
    names = list(SETTINGS)
    with Spinners(spinners if condition == "busy" else 0):
        print(f"{condition}: load average {os.getloadavg()[0]:.2f} at the start "
              f"({spinners if condition == 'busy' else 0} spinning processes started by this script)", flush=True)
        for round_index in range(1 + repeats):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                for workload in WORKLOADS:
                    model, optimizer, X, y, batch_size = runs[(workload, name)]
                    value = one_epoch(model, optimizer, X, y, batch_size, SETTINGS[name], seed=round_index)
                    if round_index > 0:
                        seconds[workload][name].append(value)
        print(f"{condition}: load average {os.getloadavg()[0]:.2f} at the end", flush=True)
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds per condition (default 7, --quick 2)")
    parser.add_argument("--quick", action="store_true", help="smaller epochs and 2 repeats: a smoke run")
    parser.add_argument("--conditions", default="idle,busy", help="comma-separated subset of idle,busy")
    parser.add_argument("--busy-processes", type=int, default=None,
                        help="spinning processes for 'busy' (default: the usable CPUs minus one, at least 1)")
    arguments = parser.parse_args(argv)
    repeats = arguments.repeats or (2 if arguments.quick else 7)
    conditions = [c.strip() for c in arguments.conditions.split(",") if c.strip()]
    if repeats < 1 or not conditions or set(conditions) - {"idle", "busy"}:
        parser.error("--repeats must be at least 1 and --conditions a subset of idle,busy")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    spinners = arguments.busy_processes if arguments.busy_processes is not None else max(usable - 1, 1)

    removed = [variable for variable in _harness.THREAD_VARIABLES if os.environ.pop(variable, None) is not None]
    import threadpoolctl  # after the variables are gone, and before NumPy loads its BLAS

    import nablanet  # noqa: F401  (loads NumPy and SciPy, and with them their BLAS libraries)

    pools = [f"{pool['internal_api']} {pool.get('version')} ({pool.get('threading_layer')}): {pool['num_threads']} threads"
             for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]
    print("env: " + _harness.environment_line("1, 2 and the BLAS default", ["numpy", "scipy", "threadpoolctl", "nablanet"]))
    print("BLAS pools at start: " + ("; ".join(pools) or "none found by threadpoolctl")
          + (f" (removed from the environment: {', '.join(removed)})" if removed else ""))
    print(f"settings agree: largest relative difference of the losses {check_settings_agree(arguments.quick):.1e} "
          f"(tolerance {LOSS_RTOL})", flush=True)

    results = {condition: measure(condition, spinners, repeats, arguments.quick) for condition in conditions}
    for condition, seconds in results.items():
        for workload in WORKLOADS:
            print(f"\n{workload}, {condition} (s/epoch, {repeats} repeats):")
            print(_harness.ratio_table(seconds[workload], "s/epoch", ["threads=1"], digits=3))
    print("\nBLAS default / threads=1 (median seconds per epoch; above 1: threads=1 is faster):")
    for condition, seconds in results.items():
        ratios = ", ".join(
            f"{workload} {_harness.median(seconds[workload]['BLAS default']) / _harness.median(seconds[workload]['threads=1']):.2f}"
            for workload in WORKLOADS)
        print(f"  {condition}: {ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
