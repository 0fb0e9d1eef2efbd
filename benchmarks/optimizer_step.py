"""optimizer-step: one Adam update of the standard workloads' parameters, nablanet against its peers, us/step.

The parameters of mlp-784 (784-256-128-10: 235,146 values in 6 arrays), mlp-small (40-100-100-10:
15,210 in 6) and cnn-28 (conv 1->16, conv 16->32, dense 1568->10: 20,490 in 6), float32, each with a
fixed gradient; one timed iteration is one ``step()`` (Adam, lr 1e-3, PyTorch's defaults). The
gradients stay the same from step to step, so the state evolves as in training without a backward
pass in the timing.

Peers:
- ``nablanet``: ``optim.Adam(params).step()``, the rule on one flat array per dtype (the library's path);
- ``nablanet-per-parameter``: the same rule and kernels run parameter by parameter (what step()
  did before the flat arrays, and still does for complex parameters or a missing gradient);
- ``torch``, ``torch-fused``: ``torch.optim.Adam``, its default for-each-parameter loop and ``fused=True``;
- ``numba``: Adam as one compiled loop per parameter (``error_model="numpy"``), skipped unless numba is
  installed; ``numexpr``: three expressions per parameter (m, v, theta), skipped unless numexpr is.

Every peer's parameters after three steps are checked against Adam computed in float64 before
anything is timed.

Usage:
    python benchmarks/optimizer_step.py            # 7 interleaved repeats, 2 threads
    python benchmarks/optimizer_step.py --quick
"""

from __future__ import annotations

import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402

PEERS = ("nablanet", "nablanet-per-parameter", "torch", "torch-fused", "numba", "numexpr")
SHAPES = {
    "mlp-784": [(784, 256), (256,), (256, 128), (128,), (128, 10), (10,)],
    "mlp-small": [(40, 100), (100,), (100, 100), (100,), (100, 10), (10,)],
    "cnn-28": [(16, 1, 3, 3), (16,), (32, 16, 3, 3), (32,), (1568, 10), (10,)],
}
ITERATIONS = {"mlp-784": 200, "mlp-small": 2000, "cnn-28": 2000}
LR, BETA1, BETA2, EPS = 1e-3, 0.9, 0.999, 1e-8
CHECK_STEPS = 3
# Float32 against float64 over three steps: rounding gives ~1e-7 of a step; a wrong rule gives a whole step.
RTOL, ATOL = 1e-5, 1e-6


def problem(case):
    """Starting weights and fixed gradients, float32, seeded."""
    import numpy

    rng = numpy.random.default_rng(0)
    thetas = [rng.standard_normal(shape).astype(numpy.float32) * 0.1 for shape in SHAPES[case]]
    grads = [rng.standard_normal(shape).astype(numpy.float32) * 0.01 for shape in SHAPES[case]]
    return thetas, grads


def reference(case):
    """The parameters after CHECK_STEPS steps of Adam (Algorithm 1 of Kingma & Ba) in float64."""
    import numpy

    thetas, grads = problem(case)
    result = []
    for theta, g in zip(thetas, grads):
        theta, g = theta.astype(numpy.float64), g.astype(numpy.float64)
        m, v = numpy.zeros_like(theta), numpy.zeros_like(theta)
        for t in range(1, CHECK_STEPS + 1):
            m = BETA1 * m + (1 - BETA1) * g
            v = BETA2 * v + (1 - BETA2) * g * g
            theta = theta - LR * (m / (1 - BETA1**t)) / (numpy.sqrt(v / (1 - BETA2**t)) + EPS)
        result.append(theta)
    return result


def nablanet_peer(case, per_parameter: bool):
    from nablanet import Tensor, optim

    thetas, grads = problem(case)
    params = [Tensor(theta, requires_grad=True) for theta in thetas]
    for p, g in zip(params, grads):
        p.grad = g
    cls = optim.Adam
    if per_parameter:
        from nablanet.kernels import optimizers as kernels

        class PerParameterAdam(optim.Adam):
            """Adam's own rule, run parameter by parameter: an _apply makes step() skip the flat arrays."""

            def _apply(self, g, theta, buffers, out_buffers, out_theta, scratch, scalars):
                self._direction(g, buffers, out_buffers, scratch, scalars)
                kernels.descend(theta, scratch, out_theta)

        cls = PerParameterAdam
    optimizer = cls(params, lr=LR)
    return optimizer.step, lambda: [p.data for p in params]


def torch_peer(case, fused: bool):
    import torch

    thetas, grads = problem(case)
    params = [torch.from_numpy(theta).requires_grad_() for theta in thetas]
    for p, g in zip(params, grads):
        p.grad = torch.from_numpy(g)
    optimizer = torch.optim.Adam(params, lr=LR, fused=fused or None)
    return optimizer.step, lambda: [p.detach().numpy() for p in params]


def numba_peer(case):
    try:
        import numba
    except ImportError:
        raise _harness.PeerUnavailable("numba is not installed") from None
    import numpy

    @numba.njit(error_model="numpy")  # NumPy's division semantics, so the loop vectorises
    def adam_loop(g, theta, m, v, beta1, one_minus_beta1, beta2, one_minus_beta2, step_size, eps_hat):
        for i in range(g.size):
            m[i] = beta1 * m[i] + one_minus_beta1 * g[i]
            v[i] = beta2 * v[i] + one_minus_beta2 * g[i] * g[i]
            theta[i] = theta[i] - step_size * m[i] / (math.sqrt(v[i]) + eps_hat)

    thetas, grads = problem(case)
    flat = [(g.reshape(-1), theta.reshape(-1), numpy.zeros(g.size, numpy.float32), numpy.zeros(g.size, numpy.float32))
            for theta, g in zip(thetas, grads)]
    count = [0]

    def step():
        count[0] += 1
        t = count[0]
        scalars = _adam_scalars(t)
        for g, theta, m, v in flat:
            adam_loop(g, theta, m, v, *scalars)

    return step, lambda: thetas


def _adam_scalars(t):
    """Update t's float32 coefficients: beta1, 1 - beta1, beta2, 1 - beta2, the step size and eps, bias-corrected."""
    import numpy

    root = math.sqrt(1 - BETA2**t)
    return tuple(numpy.float32(c) for c in (BETA1, 1 - BETA1, BETA2, 1 - BETA2, LR * root / (1 - BETA1**t), EPS * root))


def numexpr_peer(case):
    try:
        import numexpr
    except ImportError:
        raise _harness.PeerUnavailable("numexpr is not installed") from None
    import numpy

    thetas, grads = problem(case)
    states = [(numpy.zeros_like(theta), numpy.zeros_like(theta)) for theta in thetas]
    count = [0]

    def step():
        count[0] += 1
        t = count[0]
        b1, c1, b2, c2, alpha, eps = _adam_scalars(t)
        for theta, g, (m, v) in zip(thetas, grads, states):
            names = {"b1": b1, "c1": c1, "b2": b2, "c2": c2, "alpha": alpha, "eps": eps, "g": g, "m": m, "v": v,
                     "theta": theta}
            numexpr.evaluate("b1 * m + c1 * g", local_dict=names, out=m)
            numexpr.evaluate("b2 * v + c2 * g * g", local_dict=names, out=v)
            numexpr.evaluate("theta - alpha * m / (sqrt(v) + eps)", local_dict=names, out=theta)

    return step, lambda: thetas


BUILDERS = {
    "nablanet": lambda case: nablanet_peer(case, per_parameter=False),
    "nablanet-per-parameter": lambda case: nablanet_peer(case, per_parameter=True),
    "torch": lambda case: torch_peer(case, fused=False),
    "torch-fused": lambda case: torch_peer(case, fused=True),
    "numba": numba_peer,
    "numexpr": numexpr_peer,
}


def checked_steps(peer: str, threads: int):
    """Each case's step for ``peer``, after checking CHECK_STEPS steps against float64 Adam."""
    import numpy

    _harness.limit_threads(threads)
    errors, steps = {}, {}
    for case in SHAPES:
        step, parameters = BUILDERS[peer](case)
        for _ in range(CHECK_STEPS):
            step()
        for ours, expected in zip(parameters(), reference(case)):
            if not numpy.allclose(ours, expected, rtol=RTOL, atol=ATOL):
                raise AssertionError(f"{peer}, {case}: parameters after {CHECK_STEPS} steps differ from Adam's "
                                     f"by {numpy.max(numpy.abs(ours - expected)):.2e}")
        errors[case] = max(float(numpy.max(numpy.abs(ours - expected)))
                           for ours, expected in zip(parameters(), reference(case)))
        steps[case] = step
    _harness.limit_threads(threads)  # again: torch sizes its pool when it is imported
    return {"errors": errors}, steps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="thread limit for every peer (default 2)")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats (default 7; 3 with --quick)")
    parser.add_argument("--quick", action="store_true", help="smoke run: few steps and repeats")
    parser.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated subset of {','.join(PEERS)}")
    parser.add_argument("--peer", choices=PEERS, help=argparse.SUPPRESS)  # worker mode, used internally
    arguments = parser.parse_args(argv)
    if arguments.peer:
        _harness.limit_threads(arguments.threads)
        _harness.serve_peer(lambda: checked_steps(arguments.peer, arguments.threads))
        return 0
    repeats = arguments.repeats or (3 if arguments.quick else 7)
    peers = [peer.strip() for peer in arguments.peers.split(",") if peer.strip()]
    unknown = sorted(set(peers) - set(PEERS))
    if unknown:
        parser.error(f"unknown peer(s) {unknown}; choose from {', '.join(PEERS)}")
    print("optimizer-step: one Adam update of the standard workloads' parameters, float32")
    print("env: " + _harness.environment_line(arguments.threads, ["numpy", "torch", "numba", "numexpr", "nablanet"]))
    cases = [(case, n // 20 if arguments.quick else n, max(1, n // 10)) for case, n in ITERATIONS.items()]
    result = _harness.run_and_report_skips(os.path.abspath(__file__), peers, cases, repeats, arguments.threads)
    if result is None:
        return 1
    _, seconds = result
    for case in SHAPES:
        print(f"\n{case}: {sum(math.prod(shape) for shape in SHAPES[case]):,} parameters in {len(SHAPES[case])} arrays")
        per_step = {peer: [s * 1e6 for s in by_case[case]] for peer, by_case in seconds.items()}
        print(_harness.ratio_table(per_step, "us/step", [peer for peer in ("nablanet",) if peer in per_step]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
