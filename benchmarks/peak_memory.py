"""peak memory: a training step's peak of traced memory, eager against compiled (nablanet.jit), per standard workload.

Issue 15 asks that a compiled step use no more memory at its peak than eager mode. Each (workload,
mode) runs in its own process: the peer as the timing benchmarks build it (same model, data and
batches), a few warm-up steps (the compiled peer traces on its first), then ``tracemalloc`` (NumPy
reports its array memory to it, traced from before the peer is built) records the peak over the next
steps. Reported, in MB: what is held after the warm-up (data set, model, optimizer state, the
workspace pool's blocks, a compiled program's constants) and the peak of everything during the
measured steps; and the compiled/eager ratio of the peaks (at most 1 meets the target).

Usage:
    python benchmarks/peak_memory.py                       # mlp-small, mlp-784, cnn-28, gru
    python benchmarks/peak_memory.py --workloads cnn_28
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

WORKLOADS = ("mlp_small", "mlp_784", "cnn_28", "gru")
MODES = ("nablanet", "nablanet-jit")
WARMUP, MEASURED = 3, 10


def measure(workload: str, mode: str, threads: int) -> dict:
    """In this process: the memory held after the warm-up (data, model, optimizer state, the pool's blocks,
    a compiled program) and the peak of all traced memory during the MEASURED steps."""
    import importlib
    import tracemalloc

    import _harness
    import _training

    _harness.limit_threads(threads)
    module = importlib.import_module(workload)
    settings = _training.Settings(threads=threads, steps=WARMUP + MEASURED, check_steps=1)
    tracemalloc.start()
    peer = module.PEER_BUILDERS[mode](settings)
    for _ in range(WARMUP):
        peer.step()
    before, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    for _ in range(MEASURED):
        peer.step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"held_mb": before / 1e6, "peak_mb": peak / 1e6}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.worker:
        print(json.dumps(measure(*arguments.worker, arguments.threads)))
        return 0
    print(f"{'workload':<10} {'mode':<13} {'held MB':>9} {'peak MB':>9}  compiled / eager (peak)")
    for workload in arguments.workloads.split(","):
        results = {}
        for mode in MODES:
            output = subprocess.run([sys.executable, os.path.abspath(__file__), "--threads", str(arguments.threads),
                                     "--worker", workload, mode], capture_output=True, text=True, check=True).stdout
            results[mode] = json.loads(output.strip().splitlines()[-1])
        ratio = results["nablanet-jit"]["peak_mb"] / results["nablanet"]["peak_mb"]
        for mode in MODES:
            r = results[mode]
            tail = f"  {ratio:.2f}" if mode == "nablanet-jit" else ""
            print(f"{workload:<10} {mode:<13} {r['held_mb']:>9.1f} {r['peak_mb']:>9.1f}{tail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
