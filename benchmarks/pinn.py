"""pinn benchmark: one training step of the Poisson PINN of examples/pinn.py, nablanet against PyTorch.

The workload of issue 10: the physics-informed loss of the Poisson problem u'' = -pi^2 sin(pi x) with
the hard-constrained ansatz u = x (1 - x) N(x), N a 1-32-32-1 tanh network in float64, at 128
equispaced collocation points: the loss needs u'' at every point (a second derivative of the network
with respect to its input), then its gradient with respect to the 1,153 weights (a third-order
computation in all), then one Adam update (lr 1e-3). A timed iteration is one such step; training
goes on from step to step. Peers, each in its own process under the same thread limit (_harness.py):

- nablanet-functional: the example's functional style, ``value_and_grad`` of a loss whose u'' is
  forward-mode ``jvp`` of ``jvp``, and ``optim.Adam.update`` on the parameter arrays.
- nablanet-module: the example's PyTorch style, an ``nn.Sequential`` of ``nn.Dense``; u'' by nested
  ``nablanet.grad(lambda X: u(X).sum())``, ``loss.backward()``, ``optim.Adam.step()``.
- torch: PyTorch eager as PINN codes write it: ``u_x = torch.autograd.grad(u.sum(), X,
  create_graph=True)``, the same again for u_xx, ``loss.backward()``, ``torch.optim.Adam``.
- torch-func: ``torch.func``: ``vmap(grad(grad(u_at_one_point)))`` over the points, ``grad_and_value``
  of the loss over the parameters (``functional_call``), the gradients handed to ``torch.optim.Adam``.
  Of the spellings of u'' with torch.func, grad of grad was the fastest (one thread, loss and
  gradient without the update: 5.2 ms; ``jacrev(jacrev)`` 13 ms, ``jacfwd(jacfwd)`` 14 ms,
  ``hessian`` 27 ms).
- nablanet-vmap (not run unless named in --peers): the same ``vmap(grad(grad(u_at_one_point)))``
  inside ``value_and_grad``, torch.func's spelling in nablanet (batched in one pass: the batch sits
  between the derivative inside vmap and the weights' gradient outside it).

Every peer starts from the example's initial weights (seed 0) and, before anything is timed, its loss
and weight gradient at those weights are checked against a reference computed without any autodiff:
N, N' and N'' by the chain rule in NumPy, the loss from them, its gradient by central differences.

Usage:
    python benchmarks/pinn.py              # 7 interleaved repeats, 2 threads
    python benchmarks/pinn.py --quick      # smoke run
    python benchmarks/pinn.py --peers nablanet-functional,torch --repeats 11 --threads 1
"""

from __future__ import annotations

import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _harness  # noqa: E402  (stdlib only: importing it loads no thread pool)

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "pinn.py")
POINTS = 128
SEED = 0
LR = 1e-3
# float64 gradients against central differences with a step of 1e-6: agreement to ~1e-8 of the
# largest entry is rounding; a missing term of the derivative is order 1.
RTOL = 1e-6
FD_STEP = 1e-6

PEERS = ("nablanet-functional", "nablanet-module", "torch", "torch-func", "nablanet-vmap")
DEFAULT_PEERS = PEERS[:4]
NABLANET_PEERS = ("nablanet-functional", "nablanet-module")


def load_example():
    """examples/pinn.py as a module (it is a script, not part of the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("pinn_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def workload(example):
    """The example's Poisson problem, initial parameters [(W, b), ...] and collocation points."""
    import numpy

    problem = example.PROBLEMS["poisson"]
    params = example.init_params((1, *example.HIDDEN, 1), numpy.random.default_rng(SEED))
    X = problem.collocation_points()
    assert X.shape == (POINTS, 1)
    return problem, params, X


# --- the reference, without autodiff ---------------------------------------------------------------

def reference_loss(params, X) -> float:
    """mean((u'' + pi^2 sin(pi x))^2) with u = x (1 - x) N, so u'' = -2 N + 2 (1 - 2x) N' + x (1 - x) N''.

    N' and N'' by the chain rule through the layers: z = h W + b, z' = h' W, z'' = h'' W, and for
    a = tanh z: a' = (1 - a^2) z', a'' = (1 - a^2) z'' - 2 a (1 - a^2) z'^2.
    """
    import numpy

    h, h_dot, h_ddot = X, numpy.ones_like(X), numpy.zeros_like(X)
    for W, b in params[:-1]:
        z, z_dot, z_ddot = h @ W + b, h_dot @ W, h_ddot @ W
        h = numpy.tanh(z)
        slope = 1.0 - h ** 2
        h_dot, h_ddot = slope * z_dot, slope * z_ddot - 2.0 * h * slope * z_dot ** 2
    W, b = params[-1]
    N, N_dot, N_ddot = h @ W + b, h_dot @ W, h_ddot @ W
    u_xx = -2.0 * N + 2.0 * (1.0 - 2.0 * X) * N_dot + X * (1.0 - X) * N_ddot
    return float(numpy.mean((u_xx + math.pi ** 2 * numpy.sin(math.pi * X)) ** 2))


def reference_gradient(example, params, X) -> list:
    """d reference_loss / d theta for every entry of every (W, b), by central differences."""
    import numpy

    arrays = [a for pair in params for a in pair]
    theta = example.flatten(arrays)

    def loss_at(flat):
        values = example.unflatten(flat, arrays)
        return reference_loss(list(zip(values[0::2], values[1::2])), X)

    grad = numpy.empty_like(theta)
    for i in range(theta.size):
        step = numpy.zeros_like(theta)
        step[i] = FD_STEP
        grad[i] = (loss_at(theta + step) - loss_at(theta - step)) / (2.0 * FD_STEP)
    values = example.unflatten(grad, arrays)
    return list(zip(values[0::2], values[1::2]))


# --- the peers: each returns {"gradient": () -> (loss, [(dW, db), ...]), "step": one training step} --

def functional_adam_steps(loss, params):
    """Steps of ``value_and_grad(loss)`` and ``optim.Adam.update`` on the parameter pytree."""
    import nablanet
    from nablanet import optim

    loss_and_grad = nablanet.value_and_grad(loss)
    leaves, structure = nablanet.tree_flatten(params)
    adam = optim.Adam(lr=LR)
    state = adam.init_state(leaves)

    def step():
        nonlocal leaves, state
        _, grads = loss_and_grad(nablanet.tree_unflatten(structure, leaves))
        leaves, state = adam.update(nablanet.tree_flatten(grads)[0], state, leaves)

    return {"gradient": lambda: loss_and_grad(params), "step": step}


def nablanet_functional_steps(example, problem, params, X):
    return functional_adam_steps(lambda p: example.functional_loss(problem, p, X), params)


def nablanet_vmap_steps(example, problem, params, X):
    import nablanet
    import nablanet.numpy as np

    def u_at(params, x):  # one point, a scalar
        return problem.ansatz(x, example.mlp(params, np.reshape(x, (1, 1)))[0, 0])

    u_xx = nablanet.vmap(nablanet.grad(nablanet.grad(u_at, 1), 1), in_axes=(None, 0))
    source = math.pi ** 2 * np.sin(math.pi * X[:, 0])
    return functional_adam_steps(lambda p: np.mean((u_xx(p, X[:, 0]) + source) ** 2), params)


def nablanet_module_steps(example, problem, params, X):
    from nablanet import optim

    model = example.build_model(params)
    adam = optim.Adam(model.parameters(), lr=LR)

    def gradient():
        model.zero_grad()
        loss = example.module_loss(problem, model, X)
        loss.backward()
        return float(loss), [(layer.W.grad, layer.b.grad) for layer in model]

    def step():
        adam.zero_grad()
        loss = example.module_loss(problem, model, X)
        loss.backward()
        adam.step()

    return {"gradient": gradient, "step": step}


def torch_model(params):
    """torch.nn.Sequential of Linear and Tanh holding ``params`` (a Linear weight is W transposed)."""
    import torch

    layers = []
    for k, (W, b) in enumerate(params):
        linear = torch.nn.Linear(*W.shape, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.T))
            linear.bias.copy_(torch.from_numpy(b))
        layers.append(linear)
        if k < len(params) - 1:
            layers.append(torch.nn.Tanh())
    return torch.nn.Sequential(*layers)


def torch_gradients(model):
    linears = [m for m in model if hasattr(m, "weight")]
    return [(m.weight.grad.numpy().T, m.bias.grad.numpy()) for m in linears]


def torch_steps(params, X, threads):
    import torch

    _harness.limit_threads(threads)
    model = torch_model(params)
    X = torch.from_numpy(X).requires_grad_()
    source = math.pi ** 2 * torch.sin(math.pi * X.detach())
    adam = torch.optim.Adam(model.parameters(), lr=LR)

    def loss_fn():
        u = X * (1 - X) * model(X)
        u_x, = torch.autograd.grad(u.sum(), X, create_graph=True)
        u_xx, = torch.autograd.grad(u_x.sum(), X, create_graph=True)
        return torch.mean((u_xx + source) ** 2)

    def gradient():
        adam.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss.item(), torch_gradients(model)

    def step():
        adam.zero_grad()
        loss_fn().backward()
        adam.step()

    return {"gradient": gradient, "step": step}


def torch_func_steps(params, X, threads):
    import torch
    from torch.func import functional_call, grad, grad_and_value, vmap

    _harness.limit_threads(threads)
    model = torch_model(params)
    x = torch.from_numpy(X[:, 0])
    source = math.pi ** 2 * torch.sin(math.pi * x)
    adam = torch.optim.Adam(model.parameters(), lr=LR)

    def u_at(weights, x):  # one point, a scalar
        N = functional_call(model, weights, (x.reshape(1, 1),))
        return (x * (1 - x) * N).reshape(())

    u_xx = vmap(grad(grad(u_at, argnums=1), argnums=1), in_dims=(None, 0))

    def loss_fn(weights):
        return torch.mean((u_xx(weights, x) + source) ** 2)

    loss_and_grad = grad_and_value(loss_fn)

    def set_gradients():
        weights = {name: p.detach() for name, p in model.named_parameters()}
        grads, loss = loss_and_grad(weights)
        for name, p in model.named_parameters():
            p.grad = grads[name]
        return loss

    def gradient():
        loss = set_gradients()
        return loss.item(), torch_gradients(model)

    def step():
        set_gradients()
        adam.step()

    return {"gradient": gradient, "step": step}


def peer_steps(peer: str, threads: int, example):
    problem, params, X = workload(example)
    if peer == "nablanet-functional":
        return nablanet_functional_steps(example, problem, params, X)
    if peer == "nablanet-module":
        return nablanet_module_steps(example, problem, params, X)
    if peer == "nablanet-vmap":
        return nablanet_vmap_steps(example, problem, params, X)
    if peer == "torch":
        return torch_steps(params, X, threads)
    return torch_func_steps(params, X, threads)


def checked_steps(peer: str, threads: int):
    """Build ``peer``'s steps and check its loss and gradient at the initial weights; ``serve_peer``'s setup."""
    import numpy

    _harness.limit_threads(threads)
    example = load_example()
    _, params, X = workload(example)
    steps = peer_steps(peer, threads, example)
    expected_loss = reference_loss(params, X)
    expected = reference_gradient(example, params, X)
    loss, got = steps["gradient"]()
    loss_error = abs(float(loss) - expected_loss) / abs(expected_loss)
    if not loss_error <= 1e-12:
        raise AssertionError(f"{peer}: loss {float(loss)!r}, expected {expected_loss!r}")
    scale = max(numpy.max(numpy.abs(g)) for pair in expected for g in pair)
    error = 0.0
    for layer, (pair_got, pair_expected) in enumerate(zip(got, expected)):
        for name, value, reference in zip("Wb", pair_got, pair_expected):
            value = numpy.asarray(value, dtype=numpy.float64)
            if value.shape != reference.shape:
                raise AssertionError(f"{peer}: gradient {name}{layer} has shape {value.shape}, "
                                     f"expected {reference.shape}")
            error = max(error, float(numpy.max(numpy.abs(value - reference))) / scale)
    if not error <= RTOL:
        raise AssertionError(f"{peer}: weight gradient off by {error:.2e} of its largest entry")
    return {"loss_error": loss_error, "error": error}, {"step": steps["step"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="thread limit for every peer (default 2)")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per peer (default 7; 3 with --quick)")
    parser.add_argument("--quick", action="store_true", help="smoke run: few steps and repeats")
    parser.add_argument("--peers", default=",".join(DEFAULT_PEERS),
                        help=f"comma-separated peers (default {','.join(DEFAULT_PEERS)}; also nablanet-vmap)")
    parser.add_argument("--peer", choices=PEERS, help=argparse.SUPPRESS)  # worker mode, used internally
    arguments = parser.parse_args(argv)
    repeats = arguments.repeats or (3 if arguments.quick else 7)
    if arguments.peer:
        _harness.limit_threads(arguments.threads)  # before NumPy or torch is imported
        _harness.serve_peer(lambda: checked_steps(arguments.peer, arguments.threads))
        return 0
    peers = [p.strip() for p in arguments.peers.split(",") if p.strip()]
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        parser.error(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    if arguments.threads < 1 or repeats < 1:
        parser.error("--threads and --repeats must be at least 1")
    iterations = 5 if arguments.quick else 50
    print(f"pinn: one training step of the Poisson PINN (1-32-32-1 tanh, float64, u'' at {POINTS} points, "
          f"weight gradient, Adam); {iterations} steps per repeat")
    print("env: " + _harness.environment_line(arguments.threads, ["numpy", "torch", "nablanet"]))
    sys.stdout.flush()
    cases = [("step", iterations, max(1, iterations // 10))]
    result = _harness.run_and_report_skips(os.path.abspath(__file__), peers, cases, repeats, arguments.threads)
    if result is None:
        return 1
    infos, seconds = result
    print("\nloss and weight gradient checked before timing (loss: relative error; gradient: largest error "
          "relative to the largest reference entry, against central differences of a NumPy chain rule):")
    print(_harness.format_table(["peer", "loss", "gradient"],
                                [[peer, f"{info['loss_error']:.1e}", f"{info['error']:.1e}"]
                                 for peer, info in infos.items()]))
    per_step = {peer: [s * 1e3 for s in by_case["step"]] for peer, by_case in seconds.items()}
    print("\nms per training step")
    print(_harness.ratio_table(per_step, "ms", NABLANET_PEERS))
    print("\n'vs X' = peer median / X's median: > 1 means nablanet (style X) is faster than that peer.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
