"""op-overhead benchmark: the cost of recording and differentiating one tiny op, nablanet against its peers.

The arrays are so small (10 elements, or a scalar) that the arithmetic is negligible and what is
measured is each library's per-op bookkeeping: building graph nodes, dispatching, running the
backward rules. Two cases, the standard workload "op-overhead":

- chain: forward and backward of y = tanh(y * w), 100 times over, on a 10-element float32 array,
  summed to a scalar. Reported in microseconds per primitive op: time per gradient / 200. (The final
  sum is one more op, timed but not counted: +0.5%, the same for every peer.)
- scalar: the gradient of f(x) = sqrt(x^2 + exp(x^2)) at x = 0.5 (float64), from a Python float in
  to the gradient out. Reported in microseconds per call.

Every peer runs in its own process under the same thread limit (see _harness.py), and its
gradients are checked against closed forms before anything is timed. Peers: nablanet's grad and
Tensor styles (and nablanet.jit of grad once nablanet has it), PyTorch eager, HIPS autograd, and
JAX un-jitted and jitted (optional: skipped with a note when JAX is not installed).

Usage:
    python benchmarks/op_overhead.py                 # 7 interleaved repeats, 2 threads
    python benchmarks/op_overhead.py --quick         # smoke run, a few seconds of timing
    python benchmarks/op_overhead.py --peers nablanet-tensor,torch --repeats 11 --threads 1
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass

# Run as a script, this file's folder is already on sys.path; this also covers other launchers.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _harness  # noqa: E402  (stdlib only: importing it loads no thread pool)

CHAIN_LENGTH = 100            # (multiply, tanh) pairs
CHAIN_OPS = 2 * CHAIN_LENGTH  # primitive ops the chain time is divided by
CHAIN_SIZE = 10
SCALAR_X = 0.5

# Float32 over 100 steps against a float64 closed form: errors of ~1e-6 are rounding, 1e-4 a bug.
CHAIN_RTOL = 1e-4
SCALAR_RTOL = 1e-12

PEERS = ("nablanet-grad", "nablanet-tensor", "nablanet-jit", "torch", "autograd", "jax", "jax-jit")
NABLANET_PEERS = ("nablanet-grad", "nablanet-tensor", "nablanet-jit")


@dataclass(frozen=True)
class Case:
    """One timed workload: what it is, how its time is normalised, and how long a repeat runs."""

    name: str
    description: str
    unit: str
    ops_per_iteration: int   # seconds per iteration / this = seconds per reported unit
    iterations: int          # per timed repeat (full run)
    quick_iterations: int    # per timed repeat (--quick)


CASES = (
    Case("chain", f"forward+backward of {CHAIN_LENGTH} x (multiply, tanh) on a {CHAIN_SIZE}-element float32 "
         f"array, time / {CHAIN_OPS} ops", "us/op", CHAIN_OPS, iterations=300, quick_iterations=20),
    Case("scalar", f"grad of f(x) = sqrt(x^2 + exp(x^2)) at x = {SCALAR_X} (float64), float in, gradient out",
         "us/call", 1, iterations=5000, quick_iterations=300),
)


# --- the workload, written once for any NumPy-like module -----------------------------------------

def chain_inputs():
    """The chain's input x and constant weights w (float32, seeded).

    w stays within 5% of 1 so that the 100 tanh steps neither blow up nor let the gradient underflow
    (it ends between 1e-6 and 1e-1): a gradient of zeros or subnormals would be cheap to get wrong
    and, for NumPy, slow for reasons that have nothing to do with autodiff overhead.
    """
    import numpy

    rng = numpy.random.default_rng(0)
    x = rng.uniform(-1.0, 1.0, CHAIN_SIZE).astype(numpy.float32)
    w = numpy.linspace(0.95, 1.05, CHAIN_SIZE, dtype=numpy.float32)
    return x, w


def make_chain(xp, w):
    """sum(y_100) with y_0 = x, y_k = tanh(y_{k-1} * w), written with module ``xp``'s tanh and sum."""

    def chain_sum(x):
        y = x
        for _ in range(CHAIN_LENGTH):
            y = xp.tanh(y * w)
        return xp.sum(y)

    return chain_sum


def make_scalar_function(xp):
    """f(x) = sqrt(x^2 + exp(x^2)), with x^2 computed once: the four ops of the lecture notes."""

    def f(x):
        a = x ** 2
        return xp.sqrt(a + xp.exp(a))

    return f


def expected_chain_gradient(x, w):
    """d sum(y_100) / dx in float64: the product over the steps of w (1 - y_k^2), elementwise."""
    import numpy

    y = x.astype(numpy.float64)
    w = w.astype(numpy.float64)
    gradient = numpy.ones_like(y)
    for _ in range(CHAIN_LENGTH):
        y = numpy.tanh(y * w)
        gradient *= w * (1.0 - y ** 2)
    return gradient


def expected_scalar_gradient(x: float) -> float:
    """f'(x) = x (1 + exp(x^2)) / sqrt(x^2 + exp(x^2))."""
    return x * (1.0 + math.exp(x * x)) / math.sqrt(x * x + math.exp(x * x))


# --- the peers: each returns {case name: a function running one iteration and returning the gradient}

def nablanet_steps(style: str, threads: int) -> dict:
    import nablanet
    import nablanet.numpy as xp

    x0, w = chain_inputs()
    chain_sum = make_chain(xp, w)
    f = make_scalar_function(xp)
    if style in ("grad", "jit"):
        chain_grad = nablanet.grad(chain_sum)
        f_grad = nablanet.grad(f)
        if style == "jit":
            if not hasattr(nablanet, "jit"):
                raise _harness.PeerUnavailable(_harness.NO_JIT)
            chain_grad, f_grad = nablanet.jit(chain_grad), nablanet.jit(f_grad)
        return {"chain": lambda: chain_grad(x0), "scalar": lambda: f_grad(SCALAR_X)}

    # Tensor style, as in PyTorch: a fresh leaf per iteration, so every peer goes array in, gradient out.
    def chain_step():
        x = nablanet.Tensor(x0, requires_grad=True)
        chain_sum(x).backward()
        return x.grad

    def scalar_step():
        x = nablanet.Tensor(SCALAR_X, requires_grad=True)
        f(x).backward()
        return float(x.grad)

    return {"chain": chain_step, "scalar": scalar_step}


def torch_steps(threads: int) -> dict:
    import torch

    _harness.limit_threads(threads)  # torch's pool is sized by set_num_threads, not only by the env
    x0, w = chain_inputs()
    w = torch.from_numpy(w)
    chain_sum = make_chain(torch, w)
    f = make_scalar_function(torch)

    def chain_step():
        x = torch.from_numpy(x0).requires_grad_()  # shares x0's memory: no copy in the timing
        chain_sum(x).backward()
        return x.grad.numpy()

    def scalar_step():
        x = torch.tensor(SCALAR_X, dtype=torch.float64, requires_grad=True)
        f(x).backward()
        return x.grad.item()

    return {"chain": chain_step, "scalar": scalar_step}


def autograd_steps(threads: int) -> dict:
    import autograd
    import autograd.numpy as xp

    x0, w = chain_inputs()
    chain_grad = autograd.grad(make_chain(xp, w))
    f_grad = autograd.grad(make_scalar_function(xp))
    return {"chain": lambda: chain_grad(x0), "scalar": lambda: f_grad(SCALAR_X)}


def jax_steps(threads: int, jitted: bool) -> dict:
    """JAX's grad, un-jitted (per-op dispatch, the subject of this benchmark) or under jax.jit (one
    compiled program per gradient: the compiled peer that nablanet.jit is measured against)."""
    import numpy

    from _jax import import_jax

    jax = import_jax(threads)
    jnp = jax.numpy
    # Float64 for the scalar case, as for the other peers; the chain's arrays stay float32.
    jax.config.update("jax_enable_x64", True)
    x0, w = chain_inputs()
    w = jnp.asarray(w)  # a constant on the device once, not converted on every op
    chain_grad = jax.grad(make_chain(jnp, w))
    f_grad = jax.grad(make_scalar_function(jnp))
    if jitted:
        chain_grad, f_grad = jax.jit(chain_grad), jax.jit(f_grad)
    else:
        x0 = jnp.asarray(x0)  # un-jitted, every op would otherwise convert the NumPy input again
    # numpy.asarray and float() wait for JAX's asynchronous dispatch to finish.
    return {"chain": lambda: numpy.asarray(chain_grad(x0)), "scalar": lambda: float(f_grad(SCALAR_X))}


PEER_STEPS = {
    "nablanet-grad": lambda threads: nablanet_steps("grad", threads),
    "nablanet-tensor": lambda threads: nablanet_steps("tensor", threads),
    "nablanet-jit": lambda threads: nablanet_steps("jit", threads),
    "torch": torch_steps,
    "autograd": autograd_steps,
    "jax": lambda threads: jax_steps(threads, jitted=False),
    "jax-jit": lambda threads: jax_steps(threads, jitted=True),
}


def checked_steps(peer: str, threads: int):
    """Build ``peer``'s steps and check its gradients; the worker's setup for ``serve_peer``.

    Returns:
        ``(info, steps)`` where info holds the largest relative gradient errors found.

    Raises:
        AssertionError: a gradient is wrong (the parent then stops: wrong results are not timed).
    """
    import numpy

    _harness.limit_threads(threads)
    steps = PEER_STEPS[peer](threads)

    x0, w = chain_inputs()
    chain_expected = expected_chain_gradient(x0, w)
    chain_gradient = numpy.asarray(steps["chain"](), dtype=numpy.float64)
    if chain_gradient.shape != chain_expected.shape:
        raise AssertionError(
            f"{peer}: chain gradient has shape {chain_gradient.shape}, expected {chain_expected.shape}"
        )
    chain_error = float(numpy.max(numpy.abs(chain_gradient - chain_expected) / numpy.abs(chain_expected)))
    if not chain_error <= CHAIN_RTOL:
        raise AssertionError(
            f"{peer}: chain gradient off by a relative {chain_error:.2e} (tolerance {CHAIN_RTOL:.0e}):\n"
            f"got      {chain_gradient}\nexpected {chain_expected}"
        )

    scalar_expected = expected_scalar_gradient(SCALAR_X)
    scalar_gradient = float(steps["scalar"]())
    scalar_error = abs(scalar_gradient - scalar_expected) / abs(scalar_expected)
    if not scalar_error <= SCALAR_RTOL:
        raise AssertionError(
            f"{peer}: f'({SCALAR_X}) = {scalar_gradient!r}, expected {scalar_expected!r} "
            f"(relative error {scalar_error:.2e}, tolerance {SCALAR_RTOL:.0e})"
        )
    return {"chain_error": chain_error, "scalar_error": scalar_error}, steps


# --- the parent: run, then report ------------------------------------------------------------------

def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="thread limit for every peer (default 2)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repeats per peer, interleaved (default 7; 3 with --quick)")
    parser.add_argument("--quick", action="store_true", help="smoke run: few iterations and repeats")
    parser.add_argument("--peers", default=",".join(PEERS),
                        help=f"comma-separated peers to run (default: all of {','.join(PEERS)})")
    parser.add_argument("--peer", choices=PEERS, help=argparse.SUPPRESS)  # worker mode, used internally
    arguments = parser.parse_args(argv)
    if arguments.repeats is None:
        arguments.repeats = 3 if arguments.quick else 7
    arguments.peers = [name.strip() for name in arguments.peers.split(",") if name.strip()]
    unknown = [name for name in arguments.peers if name not in PEERS]
    if unknown:
        parser.error(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    if arguments.threads < 1 or arguments.repeats < 1:
        parser.error("--threads and --repeats must be at least 1")
    return arguments


def report_target(medians: dict, case: Case) -> list[str]:
    """PERFORMANCE.md's target: nablanet no slower than PyTorch eager, per op and per call."""
    if "torch" not in medians:
        return []
    lines = []
    for nablanet_peer in NABLANET_PEERS:
        if nablanet_peer in medians:
            ratio = medians["torch"] / medians[nablanet_peer]
            verdict = "met" if ratio >= 1.0 else "NOT met"
            lines.append(f"  {case.name:<7} {nablanet_peer:<16} torch / nablanet = {ratio:.2f}  -> {verdict}")
    return lines


# The workloads' names in PERFORMANCE.md and the summary of benchmarks/standard.py, per case.
WORKLOAD_NAMES = {"chain": "op-overhead chain", "scalar": "op-overhead f'(x)"}


def measure(argv=None) -> list:
    """Run the benchmark as the parent and print its report.

    Returns:
        One _harness.Measurement per case (microseconds per op, per call), for benchmarks/standard.py.

    Raises:
        PeerFailed: a peer crashed or its gradient was wrong.
    """
    arguments = parse_arguments(argv)
    print("op-overhead: autodiff bookkeeping per op on tiny inputs (PERFORMANCE.md)")
    env = _harness.environment_line(arguments.threads, ["numpy", "torch", "autograd", "jax", "nablanet"])
    print("env: " + env)
    print(_harness.load_line())
    timed_cases = [
        (case.name, n, max(1, n // 10))
        for case in CASES
        for n in [case.quick_iterations if arguments.quick else case.iterations]
    ]
    print(f"settings: {arguments.repeats} timed repeats per peer (after 1 discarded warm-up round), "
          "peers interleaved round-robin, each in its own process; iterations per repeat: "
          + ", ".join(f"{name} {n}" for name, n, _ in timed_cases)
          + (" (--quick)" if arguments.quick else ""))
    sys.stdout.flush()

    infos, unavailable, seconds = _harness.run_interleaved(
        os.path.abspath(__file__), arguments.peers, timed_cases, arguments.repeats, arguments.threads
    )
    for peer, reason in unavailable.items():
        print(f"skipped {peer}: {reason}")

    print("\ngradients checked before timing (largest relative error against the closed form):")
    print(_harness.format_table(
        ["peer", "chain", "scalar"],
        [[peer, f"{info['chain_error']:.1e}", f"{info['scalar_error']:.1e}"] for peer, info in infos.items()],
    ))

    target_lines, measurements = [], []
    for case in CASES:
        per_unit = {
            peer: [s * 1e6 / case.ops_per_iteration for s in by_case[case.name]]
            for peer, by_case in seconds.items()
        }
        print(f"\n{case.name}: {case.description}")
        print(_harness.ratio_table(per_unit, case.unit, NABLANET_PEERS))
        target_lines += report_target({peer: _harness.median(v) for peer, v in per_unit.items()}, case)
        measurements.append(_harness.Measurement(WORKLOAD_NAMES[case.name], case.unit, False, per_unit,
                                                 unavailable, env))

    print("\n'vs X' = peer median / X's median: > 1 means nablanet (style X) is faster than that peer.")
    if target_lines:
        print("target (PERFORMANCE.md): no slower than PyTorch eager per op")
        print("\n".join(target_lines))
    return measurements


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    if arguments.peer:
        _harness.limit_threads(arguments.threads)  # before NumPy or torch is imported
        _harness.serve_peer(lambda: checked_steps(arguments.peer, arguments.threads))
        return 0
    try:
        measure(argv)
    except _harness.PeerFailed as failure:
        print(f"\nFAILED, nothing timed is reported: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
