"""per-example-grads benchmark: one gradient per sample of a 784-256-10 MLP, vmap against the Python loop.

The workload of issue 10: the gradient of each of 256 samples' cross-entropy loss with respect to
every parameter of a 784-256-10 ReLU network (float32), as a dict of arrays with a leading axis of
256. Peers, each in its own process under the same thread limit (see _harness.py):

- nablanet-vmap: ``vmap(grad(loss), in_axes=(None, 0, 0))(params, X, y)``.
- nablanet-loop: ``[grad(loss)(params, X[i], y[i]) for i in range(256)]``, stacked.
- torch-vmap: ``torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))``, torch's own.
- torch-loop: the same Python loop with ``torch.func.grad``.

Every peer's gradients are checked against a float64 reference computed in closed form (the
backpropagation equations per sample) before anything is timed.

Usage:
    python benchmarks/per_example_grads.py              # 7 interleaved repeats, 2 threads
    python benchmarks/per_example_grads.py --quick      # smoke run
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _harness  # noqa: E402  (stdlib only: importing it loads no thread pool)

SAMPLES = 256
SIZES = (784, 256, 10)
# float32 gradients against the float64 reference: rounding is ~1e-6 relative, a bug is order 1.
RTOL = 1e-3

PEERS = ("nablanet-vmap", "nablanet-loop", "torch-vmap", "torch-loop")
NABLANET_PEERS = ("nablanet-vmap", "nablanet-loop")


def workload():
    """The network's parameters and the samples, float32 and seeded."""
    import numpy

    rng = numpy.random.default_rng(0)
    n_in, n_hidden, n_out = SIZES
    params = {
        "W1": (rng.standard_normal((n_in, n_hidden)) * (2.0 / n_in) ** 0.5).astype(numpy.float32),
        "b1": (rng.standard_normal(n_hidden) * 0.1).astype(numpy.float32),
        "W2": (rng.standard_normal((n_hidden, n_out)) * (1.0 / n_hidden) ** 0.5).astype(numpy.float32),
        "b2": numpy.zeros(n_out, numpy.float32),
    }
    X = rng.standard_normal((SAMPLES, n_in)).astype(numpy.float32)
    y = rng.integers(0, n_out, SAMPLES)
    return params, X, y


def reference_gradients(params, X, y):
    """Per-sample gradients in float64 by the backpropagation equations (the notes' delta rule)."""
    import numpy

    p = {k: v.astype(numpy.float64) for k, v in params.items()}
    X = X.astype(numpy.float64)
    z1 = X @ p["W1"] + p["b1"]
    a1 = numpy.maximum(z1, 0.0)
    z2 = a1 @ p["W2"] + p["b2"]
    z2 = z2 - z2.max(axis=1, keepdims=True)
    probabilities = numpy.exp(z2) / numpy.exp(z2).sum(axis=1, keepdims=True)
    delta2 = probabilities - numpy.eye(SIZES[2])[y]
    delta1 = (delta2 @ p["W2"].T) * (z1 > 0)
    return {"W1": X[:, :, None] * delta1[:, None, :], "b1": delta1,
            "W2": a1[:, :, None] * delta2[:, None, :], "b2": delta2}


def nablanet_steps(style: str) -> dict:
    import numpy

    import nablanet
    import nablanet.numpy as np

    params, X, y = workload()

    def loss(p, x, t):
        hidden = np.dense(x[None], p["W1"], p["b1"], activation="relu")
        return np.softmax_cross_entropy(np.dense(hidden, p["W2"], p["b2"]), t[None])

    per_example = nablanet.grad(loss)
    if style == "vmap":
        batched = nablanet.vmap(per_example, in_axes=(None, 0, 0))
        return {"grads": lambda: batched(params, X, y)}

    def loop():
        grads = [per_example(params, X[i], y[i]) for i in range(SAMPLES)]
        return {k: numpy.stack([g[k] for g in grads]) for k in params}

    return {"grads": loop}


def torch_steps(style: str, threads: int) -> dict:
    import torch

    _harness.limit_threads(threads)
    params, X, y = workload()
    params = {k: torch.from_numpy(v) for k, v in params.items()}
    X, y = torch.from_numpy(X), torch.from_numpy(y)

    def loss(p, x, t):
        hidden = torch.relu(x[None] @ p["W1"] + p["b1"])
        return torch.nn.functional.cross_entropy(hidden @ p["W2"] + p["b2"], t[None])

    per_example = torch.func.grad(loss)
    if style == "vmap":
        batched = torch.func.vmap(per_example, in_dims=(None, 0, 0))
        return {"grads": lambda: {k: v.numpy() for k, v in batched(params, X, y).items()}}

    def loop():
        grads = [per_example(params, X[i], y[i]) for i in range(SAMPLES)]
        return {k: torch.stack([g[k] for g in grads]).numpy() for k in params}

    return {"grads": loop}


PEER_STEPS = {
    "nablanet-vmap": lambda threads: nablanet_steps("vmap"),
    "nablanet-loop": lambda threads: nablanet_steps("loop"),
    "torch-vmap": lambda threads: torch_steps("vmap", threads),
    "torch-loop": lambda threads: torch_steps("loop", threads),
}


def checked_steps(peer: str, threads: int):
    import numpy

    _harness.limit_threads(threads)
    steps = PEER_STEPS[peer](threads)
    expected = reference_gradients(*workload())
    got = steps["grads"]()
    errors = {}
    for name, reference in expected.items():
        value = numpy.asarray(got[name], dtype=numpy.float64)
        if value.shape != reference.shape:
            raise AssertionError(f"{peer}: gradient {name} has shape {value.shape}, expected {reference.shape}")
        errors[name] = float(numpy.max(numpy.abs(value - reference)) / numpy.max(numpy.abs(reference)))
        if not errors[name] <= RTOL:
            raise AssertionError(f"{peer}: gradient {name} off by a relative {errors[name]:.2e}")
    return {"error": max(errors.values())}, steps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per peer (default 7; 3 with --quick)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--peer", choices=PEERS, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    repeats = arguments.repeats or (3 if arguments.quick else 7)
    if arguments.peer:
        _harness.limit_threads(arguments.threads)
        _harness.serve_peer(lambda: checked_steps(arguments.peer, arguments.threads))
        return 0
    peers = [p.strip() for p in arguments.peers.split(",") if p.strip()]
    print(f"per-example-grads: {SAMPLES} per-sample gradients of a {'-'.join(map(str, SIZES))} MLP (float32)")
    print("env: " + _harness.environment_line(arguments.threads, ["numpy", "torch", "nablanet"]))
    iterations = 2 if arguments.quick else 10
    result = _harness.run_and_report_skips(os.path.abspath(__file__), peers, [("grads", iterations, 1)], repeats,
                                           arguments.threads)
    if result is None:
        return 1
    infos, seconds = result
    print("\ngradients checked before timing (largest error relative to the largest reference entry):")
    print(_harness.format_table(["peer", "error"], [[peer, f"{info['error']:.1e}"] for peer, info in infos.items()]))
    per_call = {peer: [s * 1e3 for s in by_case["grads"]] for peer, by_case in seconds.items()}
    print(f"\nms per batch of {SAMPLES} per-sample gradients")
    print(_harness.ratio_table(per_call, "ms", NABLANET_PEERS))
    print("\n'vs X' = peer median / X's median: > 1 means nablanet (style X) is faster than that peer.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
