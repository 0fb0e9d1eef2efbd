"""Shared machinery for nablanet's benchmarks: thread limits, one process per peer, interleaved repeats, ratio tables.

A benchmark script plays two roles. Run plainly, it is the *parent*: it starts one worker process per
peer (the same script with ``--peer NAME``), waits until every worker has imported its library and
checked its gradients, and then asks the workers in turn, round-robin, to time one repeat of each
case. Only one worker runs at a time, so peers never compete for the cores, and slow drift of the
machine (frequency scaling, other load) spreads over all peers instead of biasing whichever ran last.
Run with ``--peer NAME`` it is a *worker*: ``serve_peer`` answers the parent's requests on stdin.

Only the standard library is imported here, so that a worker can limit its threads before NumPy,
OpenBLAS or PyTorch are loaded: their thread pools are sized once, when the library is first loaded.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from importlib import metadata

# Each library reads its own variable; setting all of them limits every pool a peer might load.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)

# Workers may print (warnings, library banners); only lines with this prefix are protocol messages.
_MESSAGE_PREFIX = "@@bench "


class PeerUnavailable(Exception):
    """Raised by a worker's setup when its library is not installed: the peer is skipped with a note."""


# The note of nablanet's compiled peers until issue 15's nablanet.jit exists (another branch builds it).
NO_JIT = "this nablanet has no nablanet.jit yet (issue 15): eager styles only"


class PeerFailed(RuntimeError):
    """A worker crashed or its gradients were wrong: its timings would mean nothing."""


# --- threads -----------------------------------------------------------------------------------

def thread_environment(threads: int) -> dict:
    """A copy of this process's environment with every thread-pool variable set to ``threads``."""
    environment = dict(os.environ)
    for variable in THREAD_VARIABLES:
        environment[variable] = str(threads)
    return environment


def limit_threads(threads: int) -> None:
    """Limit this process to ``threads`` threads; call it first, and again after importing torch.

    The environment variables only take effect for libraries loaded afterwards. PyTorch sizes its
    intra-op pool from ``torch.set_num_threads``, so once torch is imported it is set directly.
    """
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:
            pass  # only allowed before torch's first parallel work; the intra-op limit is what matters


# --- timing ------------------------------------------------------------------------------------

def seconds_per_iteration(step, iterations: int, warmup_iterations: int) -> float:
    """Wall-clock seconds per call of ``step()``, averaged over ``iterations`` calls after a warm-up.

    The warm-up refills caches and branch predictors that the previously running peer evicted.
    Garbage collection stays enabled while timing (unlike ``timeit``): libraries that allocate many
    Python objects per op trigger collections, and that cost is part of what users pay.
    """
    for _ in range(warmup_iterations):
        step()
    gc.collect()  # leftovers of the warm-up should not be collected inside the timed loop
    start = time.perf_counter()
    for _ in range(iterations):
        step()
    return (time.perf_counter() - start) / iterations


def median(values) -> float:
    return statistics.median(values)


# --- the worker side ---------------------------------------------------------------------------

def _send(stream, message: dict) -> None:
    stream.write(_MESSAGE_PREFIX + json.dumps(message) + "\n")
    stream.flush()


def serve_peer(setup) -> None:
    """Worker main loop: build the peer, report it ready, then time the cases the parent asks for.

    Args:
        setup: a function returning ``(info, steps)``: ``info`` is a JSON-serialisable dict shown by
            the parent (library versions, gradient errors found by the correctness checks), and
            ``steps`` maps each case name to a function that runs one iteration of the workload.
            It raises ``PeerUnavailable`` when the library is missing and any other exception when
            the peer cannot be trusted (e.g. a wrong gradient).

    Requests are JSON lines ``{"case": name, "iterations": n, "warmup": m}``; each is answered with
    ``{"case": name, "seconds": seconds per iteration}``. End of input ends the worker.
    """
    protocol = sys.stdout
    sys.stdout = sys.stderr  # stray prints must not be mistaken for protocol messages
    try:
        info, steps = setup()
    except PeerUnavailable as reason:
        _send(protocol, {"status": "unavailable", "reason": str(reason)})
        return
    except Exception:
        _send(protocol, {"status": "failed", "reason": traceback.format_exc()})
        return
    _send(protocol, {"status": "ready", "info": info})
    for line in sys.stdin:
        request = json.loads(line)
        seconds = seconds_per_iteration(steps[request["case"]], request["iterations"], request["warmup"])
        _send(protocol, {"case": request["case"], "seconds": seconds})


# --- the parent side ---------------------------------------------------------------------------

class PeerProcess:
    """One peer's worker process, started as ``python SCRIPT --peer NAME --threads N [extra args]``."""

    def __init__(self, script: str, name: str, threads: int, extra_args=()):
        self.name = name
        command = [sys.executable, script, "--peer", name, "--threads", str(threads), *extra_args]
        # stderr is inherited so that warnings and tracebacks of the worker reach the terminal.
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=thread_environment(threads),
        )

    def receive(self) -> dict:
        """The next protocol message; other output of the worker is passed on to stderr."""
        for line in self._process.stdout:
            if line.startswith(_MESSAGE_PREFIX):
                return json.loads(line[len(_MESSAGE_PREFIX):])
            sys.stderr.write(f"[{self.name}] {line}")
        code = self._process.wait()
        raise PeerFailed(f"peer {self.name!r}: the worker exited (code {code}) without answering")

    def seconds_per_iteration(self, case: str, iterations: int, warmup: int) -> float:
        request = {"case": case, "iterations": iterations, "warmup": warmup}
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        reply = self.receive()
        if reply.get("case") != case:
            raise PeerFailed(f"peer {self.name!r}: asked to time {case!r}, got {reply}")
        return reply["seconds"]

    def close(self) -> None:
        if self._process.stdin and not self._process.stdin.closed:
            self._process.stdin.close()  # end of input tells the worker to exit
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def run_and_report_skips(script, peers, cases, repeats: int, threads: int):
    """``run_interleaved``, printing the peers skipped; on a failed check, prints why and returns None."""
    try:
        infos, unavailable, seconds = run_interleaved(script, peers, cases, repeats, threads)
    except PeerFailed as failure:
        print(f"\nFAILED, nothing timed is reported: {failure}", file=sys.stderr)
        return None
    for peer, reason in unavailable.items():
        print(f"skipped {peer}: {reason}")
    return infos, seconds


def run_interleaved(script, peers, cases, repeats: int, threads: int, extra_args=(), warmup_rounds: int = 1):
    """Time every case on every peer, ``repeats`` times, interleaving the peers round-robin.

    All workers are started together (imports are slow and are not timed) and timing begins only
    once every one has reported ready, so no worker is still importing while another is timed.
    Each round visits the peers in an order rotated by one, so that no peer always follows the
    same neighbour. The first ``warmup_rounds`` rounds are run and discarded.

    Args:
        script: path of the benchmark script (started once per peer with ``--peer NAME``).
        peers: peer names, in the order they should appear in tables.
        cases: ``(case name, iterations per repeat, warm-up iterations per repeat)`` triples, the
            same for every peer; or a dict giving each peer its own triples, for peers whose one
            iteration is a whole repeat (an epoch inside scikit-learn's or nablanet.fit's own loop),
            so that they are timed in the same rounds as the peers that step batch by batch.
        repeats: the number of timed rounds.
        threads: the thread limit every worker runs under.
        extra_args: further command-line arguments passed to every worker.

    Returns:
        ``(infos, unavailable, seconds)``: the ready info of each peer that ran; the reason each
        unavailable peer was skipped; and ``seconds[peer][case]``, the list of seconds per
        iteration, one entry per timed repeat.

    Raises:
        PeerFailed: a worker crashed or failed its correctness checks.
    """
    cases_of = cases if isinstance(cases, dict) else {name: cases for name in peers}
    processes = [PeerProcess(script, name, threads, extra_args) for name in peers]
    try:
        infos, unavailable, running = {}, {}, []
        failures = []
        for process in processes:
            message = process.receive()
            if message["status"] == "ready":
                infos[process.name] = message["info"]
                running.append(process)
            elif message["status"] == "unavailable":
                unavailable[process.name] = message["reason"]
            else:
                failures.append(f"peer {process.name!r} failed its setup or checks:\n{message['reason']}")
        if failures:
            raise PeerFailed("\n".join(failures))
        seconds = {process.name: {case: [] for case, _, _ in cases_of[process.name]} for process in running}
        for round_index in range(warmup_rounds + repeats):
            shift = round_index % len(running) if running else 0
            for process in running[shift:] + running[:shift]:
                for case, iterations, warmup in cases_of[process.name]:
                    value = process.seconds_per_iteration(case, iterations, warmup)
                    if round_index >= warmup_rounds:
                        seconds[process.name][case].append(value)
        return infos, unavailable, seconds
    finally:
        for process in processes:
            process.close()


@dataclass
class Measurement:
    """One workload's result as the summary of benchmarks/standard.py reads it.

    Attributes:
        workload: the workload's name in PERFORMANCE.md ("mlp-784", "op-overhead f'(x)", ...).
        unit: the unit of ``samples`` ("samples/s", "us/call", ...).
        higher_is_better: True for throughputs, False for times.
        samples: peer name -> one value per timed repeat, for the peers that ran.
        skipped: peer name -> why it did not run (not installed, no nablanet.jit yet).
        env: the ``env:`` line of the run.
    """

    workload: str
    unit: str
    higher_is_better: bool
    samples: dict
    skipped: dict = field(default_factory=dict)
    env: str = ""

    def medians(self) -> dict:
        return {peer: median(values) for peer, values in self.samples.items()}


# --- reporting ---------------------------------------------------------------------------------

def _version_of(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment_line(threads: int, distributions) -> str:
    """One line naming what the numbers depend on: versions, thread limit, CPUs.

    Versions come from the installed package metadata, so the parent need not import the peers.
    """
    versions = " | ".join(f"{name} {_version_of(name)}" for name in distributions)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"python {platform.python_version()} | {versions} | threads {threads} | "
        f"CPUs {os.cpu_count()} ({usable} usable, {_cpu_model()})"
    )


def load_line() -> str:
    """The load average over 1, 5 and 15 minutes, as ``uptime`` prints it: other work on the machine
    slows every peer, and above about 0.5 on a 2-core machine the figures are those of a loaded one."""
    if not hasattr(os, "getloadavg"):
        return "load average: unknown on this platform"
    one, five, fifteen = os.getloadavg()
    return f"load average: {one:.2f}, {five:.2f}, {fifteen:.2f} (1, 5, 15 min)"


def format_table(headers, rows) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]

    def line(cells):
        parts = [str(cells[0]).ljust(widths[0])]
        parts += [str(cell).rjust(width) for cell, width in zip(cells[1:], widths[1:])]
        return "  ".join(parts)

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def ratio_to(baseline_median: float, peer_median: float, higher_is_better: bool) -> float:
    """How many times faster the baseline (nablanet) is than the peer: > 1 means nablanet is faster.

    For times (lower is better) that is peer / baseline; for throughputs, baseline / peer.
    """
    return baseline_median / peer_median if higher_is_better else peer_median / baseline_median


def ratio_table(samples: dict, unit: str, baselines, higher_is_better: bool = False, digits: int = 2) -> str:
    """A table of each peer's median, min and max, and the ratio of its median to each baseline's.

    Args:
        samples: peer name -> list of measurements (one per repeat), in the order to print.
        unit: the measurements' unit, e.g. "us/op" or "samples/s".
        baselines: the peers (nablanet variants) the ratios are taken against.
        higher_is_better: True for throughputs; ratios are then inverted so > 1 still means
            the baseline is faster.
    """
    medians = {peer: median(values) for peer, values in samples.items()}
    baselines = [b for b in baselines if b in medians]
    headers = ["peer", f"median {unit}", "min", "max", "repeats"]
    headers += [f"vs {baseline}" for baseline in baselines]
    rows = []
    for peer, values in samples.items():
        row = [peer, f"{medians[peer]:.{digits}f}", f"{min(values):.{digits}f}", f"{max(values):.{digits}f}",
               str(len(values))]
        row += [f"{ratio_to(medians[b], medians[peer], higher_is_better):.2f}" for b in baselines]
        rows.append(row)
    return format_table(headers, rows)
