"""All standard workloads of PERFORMANCE.md in one run, and the table of ratios issue 15 must show.

Runs mlp_784.py, mlp_small.py, cnn_28.py, gru.py and op_overhead.py one after the other, each as
when run alone (every peer in its own process, the same thread limit, interleaved repeats, medians;
each prints its own full report), then one summary line per workload: nablanet eager and compiled
(``nablanet.jit`` / ``fit(compile=True)``, "-" while nablanet has none), PyTorch eager with the
default and the fused Adam, JAX jit ("-" when JAX is not installed), the best peer of all, nablanet's
best style against it, and issue 15's target for the workload.

"nablanet / best" is nablanet's best style against the best peer: above 1 nablanet is faster
(best peer's time / nablanet's, or nablanet's throughput / the best peer's). A workload whose peers
failed their checks is reported as FAILED and the others still run.

Usage:
    python benchmarks/standard.py                  # the full measurement, about 10-15 minutes on 2 cores
    python benchmarks/standard.py --quick          # a smoke run of every workload, about 2-3 minutes
    python benchmarks/standard.py --workloads gru,op-overhead --repeats 11
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402

# Workload name -> the script (module) that measures it.
SCRIPTS = {"mlp-784": "mlp_784", "mlp-small": "mlp_small", "cnn-28": "cnn_28", "gru": "gru",
           "op-overhead": "op_overhead"}
DISTRIBUTIONS = ("numpy", "torch", "jax", "scikit-learn", "autograd", "mnist1d", "nablanet")


@dataclass(frozen=True)
class Target:
    """Issue 15's bar: nablanet at least ``ratio`` times as fast as ``peer``, or at most ``at_most`` units."""

    text: str
    peer: str | None = None
    ratio: float | None = None
    at_most: float | None = None

    def verdict(self, nablanet: float, medians: dict, higher_is_better: bool) -> str:
        if self.at_most is not None:
            return f"{'met' if nablanet <= self.at_most else 'NOT met'} ({nablanet:.1f})"
        if self.peer not in medians:
            return f"{self.peer} not run"
        achieved = _harness.ratio_to(nablanet, medians[self.peer], higher_is_better)
        return f"{'met' if achieved >= self.ratio else 'NOT met'} ({achieved:.2f}x)"


@dataclass(frozen=True)
class Row:
    """One line of the summary: which measurement, which peers are nablanet's eager and compiled styles."""

    label: str
    measurement: str
    eager: tuple
    compiled: str
    target: Target | None


ROWS = (
    Row("mlp-784", "mlp-784", ("nablanet",), "nablanet-jit",
        Target(">= 1.0x torch fused Adam", peer="torch-fused", ratio=1.0)),
    Row("mlp-small", "mlp-small", ("nablanet",), "nablanet-jit", Target(">= 1.0x JAX jit", peer="jax-jit", ratio=1.0)),
    Row("cnn-28 (user's loop)", "cnn-28", ("nablanet",), "nablanet-jit",
        Target(">= 1.0x PyTorch eager", peer="torch", ratio=1.0)),
    Row("cnn-28 (in fit)", "cnn-28", ("nablanet-fit-eager",), "nablanet-fit",
        Target(">= 1.0x PyTorch eager", peer="torch", ratio=1.0)),
    Row("gru (paper's model)", "gru", ("nablanet",), "nablanet-jit",
        Target(">= 1.5x PyTorch eager", peer="torch", ratio=1.5)),
    Row("f'(x)", "op-overhead f'(x)", ("nablanet-grad", "nablanet-tensor"), "nablanet-jit",
        Target("<= 10 us/call", at_most=10.0)),
    Row("chain", "op-overhead chain", ("nablanet-grad", "nablanet-tensor"), "nablanet-jit", None),
)
PEER_COLUMNS = (("PyTorch eager", "torch"), ("torch fused Adam", "torch-fused"), ("JAX jit", "jax-jit"))


def _figure(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _best(medians: dict, peers, higher_is_better: bool):
    """(peer, median) of the fastest of ``peers`` that ran, or None."""
    present = [peer for peer in peers if peer in medians]
    if not present:
        return None
    pick = max if higher_is_better else min
    peer = pick(present, key=lambda name: medians[name])
    return peer, medians[peer]


def summary_rows(measurements: dict, failed=()) -> list:
    """The summary table's rows from the measurements by name; a FAILED line for a failed workload."""
    rows = []
    for row in ROWS:
        measurement = measurements.get(row.measurement)
        if measurement is None:
            if row.measurement.split(" ")[0] in failed:
                rows.append([row.label, "FAILED", *["-"] * 8])
            continue
        medians, better = measurement.medians(), measurement.higher_is_better
        eager = _best(medians, row.eager, better)
        eager_cell = "-" if eager is None else _figure(eager[1])
        if eager is not None and len(row.eager) > 1:
            eager_cell += f" ({eager[0].removeprefix('nablanet-')})"
        compiled_cell = _figure(medians[row.compiled]) if row.compiled in medians else "-"
        peers = [peer for peer in medians if not peer.startswith("nablanet")]
        best_peer = _best(medians, peers, better)
        best_nablanet = _best(medians, [*row.eager, row.compiled], better)
        cells = [row.label, measurement.unit, eager_cell, compiled_cell]
        cells += [_figure(medians[peer]) if peer in medians else "-" for _, peer in PEER_COLUMNS]
        cells.append("-" if best_peer is None else f"{best_peer[0]} {_figure(best_peer[1])}")
        if best_peer is None or best_nablanet is None:
            cells.append("-")
        else:
            cells.append(f"{_harness.ratio_to(best_nablanet[1], best_peer[1], better):.2f}")
        if row.target is None or best_nablanet is None:
            cells.append("-")
        else:
            cells.append(f"{row.target.text}: {row.target.verdict(best_nablanet[1], medians, better)}")
        rows.append(cells)
    return rows


SUMMARY_HEADERS = ["workload", "unit", "nablanet", "nablanet jit", *[name for name, _ in PEER_COLUMNS],
                   "best peer", "nablanet / best", "issue 15 target"]


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="thread limit for every peer (default 2)")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per peer (default 7; 3 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a smoke run of every workload")
    parser.add_argument("--workloads", default=",".join(SCRIPTS), help=f"comma-separated subset of {','.join(SCRIPTS)}")
    arguments = parser.parse_args(argv)
    arguments.workloads = [name.strip() for name in arguments.workloads.split(",") if name.strip()]
    unknown = [name for name in arguments.workloads if name not in SCRIPTS]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(SCRIPTS)}")
    return arguments


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    forwarded = ["--threads", str(arguments.threads)]
    if arguments.repeats is not None:
        forwarded += ["--repeats", str(arguments.repeats)]
    if arguments.quick:
        forwarded.append("--quick")
    start_load = _harness.load_line()
    measurements, failed = {}, []
    for name in arguments.workloads:
        print(f"\n===== {name} =====")
        sys.stdout.flush()
        script = importlib.import_module(SCRIPTS[name])
        try:
            result = script.measure(forwarded)
        except _harness.PeerFailed as failure:
            print(f"\nFAILED, nothing timed is reported for {name}: {failure}", file=sys.stderr)
            failed.append(name)
            continue
        for measurement in result if isinstance(result, list) else [result]:
            measurements[measurement.workload] = measurement

    print("\n===== standard workloads (PERFORMANCE.md), issue 15's ratios =====")
    print("env: " + _harness.environment_line(arguments.threads, list(DISTRIBUTIONS)))
    print(f"at the start: {start_load}")
    print(f"at the end:   {_harness.load_line()}")
    print(f"settings: {'--quick, ' if arguments.quick else ''}medians of "
          f"{arguments.repeats or (3 if arguments.quick else 7)} interleaved repeats, one process per peer")
    print(_harness.format_table(SUMMARY_HEADERS, summary_rows(measurements, failed)))
    skipped = sorted({f"{peer}: {reason}" for m in measurements.values() for peer, reason in m.skipped.items()})
    if skipped:
        print("not run:\n  " + "\n  ".join(skipped))
    print("nablanet / best = nablanet's best style against the best peer of any kind: above 1 nablanet is faster.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
