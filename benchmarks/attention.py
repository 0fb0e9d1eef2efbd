"""attention benchmark: LayerNorm and multi-head self-attention, forward and backward, nablanet against PyTorch eager.

The workload of issue 17, at the sizes of a course's small transformer (float32): a batch of 64
sequences of 32 positions with 128 features, (64, 32, 128). One timed iteration is the forward pass
and the backward pass of C = sum(y * w) for a fixed random w (so every output gets a gradient):

- layernorm: y = LayerNorm(128)(x), gradients with respect to x, gamma and beta.
- attention: y = MultiheadAttention(128, 4 heads, batch_first)(x, x, x)[0] (self-attention, no mask,
  weights not returned), gradients with respect to x and the projections' weights and biases.

Peers, each in its own process under the same thread limit (see _harness.py): nablanet as a user
runs it; nablanet-fast-math, the same inside ``nablanet.runtime.fast_math()`` (freed memory kept for
the next iteration's arrays, as PyTorch's caching allocator keeps it); torch. Every peer starts from
the same weights, and before anything is timed its gradients are checked in float64 against central
differences of a NumPy forward pass along random directions.

Usage:
    python benchmarks/attention.py              # 7 interleaved repeats, 2 threads
    python benchmarks/attention.py --quick      # smoke run
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _harness  # noqa: E402  (stdlib only: importing it loads no thread pool)

SHAPE = (64, 32, 128)
HEADS = 4
CASES = ("layernorm", "attention")
PEERS = ("nablanet", "nablanet-fast-math", "torch")
NABLANET_PEERS = ("nablanet", "nablanet-fast-math")
# float32 gradients against float64 finite differences: rounding is ~1e-5 relative, a bug is order 1.
RTOL = 1e-3
_ENVIRONMENTS = []


def workload(dtype):
    """Input, output weighting and parameters (our layout: x W + b), seeded."""
    import numpy

    rng = numpy.random.default_rng(0)
    E = SHAPE[-1]
    values = {
        "x": rng.standard_normal(SHAPE), "w": rng.standard_normal(SHAPE),
        "gamma": rng.normal(1.0, 0.2, E), "beta": rng.normal(0.0, 0.2, E),
        "W_in": rng.uniform(-1, 1, (E, 3 * E)) * (6.0 / (4 * E)) ** 0.5, "b_in": rng.normal(0.0, 0.1, 3 * E),
        "W_out": rng.uniform(-1, 1, (E, E)) / E ** 0.5, "b_out": rng.normal(0.0, 0.1, E),
    }
    return {k: v.astype(dtype) for k, v in values.items()}


def reference_loss(case, v):
    """C of the case in plain NumPy float64, for the finite-difference check."""
    import numpy

    x = v["x"]
    if case == "layernorm":
        centred = x - x.mean(-1, keepdims=True)
        y = centred / numpy.sqrt((centred ** 2).mean(-1, keepdims=True) + 1e-5) * v["gamma"] + v["beta"]
        return float(numpy.sum(y * v["w"]))
    n, length, E = x.shape
    d = E // HEADS
    q, k, u = numpy.split(x @ v["W_in"] + v["b_in"], 3, axis=-1)
    q, k, u = (t.reshape(n, length, HEADS, d).transpose(0, 2, 1, 3) for t in (q, k, u))
    scores = q @ k.transpose(0, 1, 3, 2) / d ** 0.5
    weights = numpy.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    heads = (weights @ u).transpose(0, 2, 1, 3).reshape(n, length, E)
    return float(numpy.sum((heads @ v["W_out"] + v["b_out"]) * v["w"]))


PARAMETERS = {"layernorm": ("x", "gamma", "beta"), "attention": ("x", "W_in", "b_in", "W_out", "b_out")}


def nablanet_steps():
    import nablanet.nn as nn
    from nablanet import Tensor

    def build(dtype):
        v = workload(dtype)
        norm = nn.LayerNorm(SHAPE[-1], dtype=dtype)
        norm.gamma.data[...], norm.beta.data[...] = v["gamma"], v["beta"]
        attention = nn.MultiheadAttention(SHAPE[-1], HEADS, batch_first=True, dtype=dtype)
        attention.in_proj.W.data[...], attention.in_proj.b.data[...] = v["W_in"], v["b_in"]
        attention.out_proj.W.data[...], attention.out_proj.b.data[...] = v["W_out"], v["b_out"]
        parameters = {"layernorm": {"gamma": norm.gamma, "beta": norm.beta},
                      "attention": {"W_in": attention.in_proj.W, "b_in": attention.in_proj.b,
                                    "W_out": attention.out_proj.W, "b_out": attention.out_proj.b}}
        forward = {"layernorm": norm, "attention": lambda x: attention(x, x, x, need_weights=False)[0]}

        def step(case):
            x = Tensor(v["x"], requires_grad=True)
            for p in parameters[case].values():
                p.grad = None
            (forward[case](x) * v["w"]).sum().backward()
            return {"x": x.grad, **{name: p.grad for name, p in parameters[case].items()}}

        return step

    return build


def torch_steps():
    import torch

    def build(dtype):
        v = {k: torch.from_numpy(a) for k, a in workload(dtype).items()}
        torch_dtype = v["x"].dtype
        norm = torch.nn.LayerNorm(SHAPE[-1], dtype=torch_dtype)
        attention = torch.nn.MultiheadAttention(SHAPE[-1], HEADS, batch_first=True, dtype=torch_dtype)
        with torch.no_grad():
            norm.weight.copy_(v["gamma"])
            norm.bias.copy_(v["beta"])
            attention.in_proj_weight.copy_(v["W_in"].T)
            attention.in_proj_bias.copy_(v["b_in"])
            attention.out_proj.weight.copy_(v["W_out"].T)
            attention.out_proj.bias.copy_(v["b_out"])
        parameters = {"layernorm": {"gamma": (norm.weight, False), "beta": (norm.bias, False)},
                      "attention": {"W_in": (attention.in_proj_weight, True), "b_in": (attention.in_proj_bias, False),
                                    "W_out": (attention.out_proj.weight, True),
                                    "b_out": (attention.out_proj.bias, False)}}
        forward = {"layernorm": norm, "attention": lambda x: attention(x, x, x, need_weights=False)[0]}

        def step(case):
            x = v["x"].clone().requires_grad_(True)
            for p, _ in parameters[case].values():
                p.grad = None
            (forward[case](x) * v["w"]).sum().backward()
            # torch stores the projections (out, in): transposed to our layout for the check.
            return {"x": x.grad.numpy(), **{name: (p.grad.T if transposed else p.grad).numpy()
                                            for name, (p, transposed) in parameters[case].items()}}

        return step

    return build


def checked_steps(peer: str, threads: int):
    """The peer's timed steps (float32), after its float64 gradients passed the finite-difference check."""
    import numpy

    _harness.limit_threads(threads)
    if peer == "torch":
        build = torch_steps()
        _harness.limit_threads(threads)
    else:
        if peer == "nablanet-fast-math":
            from nablanet import runtime

            environment = runtime.fast_math()
            environment.__enter__()
            _ENVIRONMENTS.append(environment)  # kept open until the worker exits
        build = nablanet_steps()
    step64 = build(numpy.float64)
    reference = workload(numpy.float64)
    rng = numpy.random.default_rng(1)
    errors = {}
    for case in CASES:
        grads = step64(case)
        for name in PARAMETERS[case]:
            direction = rng.standard_normal(reference[name].shape)
            eps = 1e-6
            plus = reference_loss(case, {**reference, name: reference[name] + eps * direction})
            minus = reference_loss(case, {**reference, name: reference[name] - eps * direction})
            numeric = (plus - minus) / (2 * eps)
            analytic = float(numpy.sum(numpy.asarray(grads[name]) * direction))
            errors[f"{case} d/d{name}"] = error = abs(analytic - numeric) / max(abs(numeric), 1e-12)
            if not error <= RTOL:
                raise AssertionError(f"{peer}: {case}'s gradient with respect to {name} off by a relative {error:.2e}")
    step32 = build(numpy.float32)
    return {"error": max(errors.values())}, {case: (lambda case=case: step32(case)) for case in CASES}


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
    print(f"attention: LayerNorm({SHAPE[-1]}) and MultiheadAttention({SHAPE[-1]}, {HEADS} heads) on {SHAPE} "
          "float32, forward + backward")
    print("env: " + _harness.environment_line(arguments.threads, ["numpy", "torch", "nablanet"]))
    iterations = 3 if arguments.quick else 20
    try:
        infos, unavailable, seconds = _harness.run_interleaved(
            os.path.abspath(__file__), peers, [(case, iterations, 2) for case in CASES], repeats, arguments.threads)
    except _harness.PeerFailed as failure:
        print(f"\nFAILED, nothing timed is reported: {failure}", file=sys.stderr)
        return 1
    for peer, reason in unavailable.items():
        print(f"skipped {peer}: {reason}")
    print("\ngradients checked in float64 before timing (largest relative error against finite differences):")
    print(_harness.format_table(["peer", "error"], [[peer, f"{info['error']:.1e}"] for peer, info in infos.items()]))
    for case in CASES:
        per_call = {peer: [s * 1e3 for s in by_case[case]] for peer, by_case in seconds.items()}
        print(f"\n{case}: ms per forward + backward")
        print(_harness.ratio_table(per_call, "ms", NABLANET_PEERS, digits=3))
    print("\n'vs X' = peer median / X's median: > 1 means nablanet (style X) is faster than that peer.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
