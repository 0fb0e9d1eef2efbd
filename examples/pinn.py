"""Physics-informed neural networks with nablanet: Poisson and heat equations, functional and PyTorch-style.
=========================================================================================================

A physics-informed neural network (Raissi, Perdikaris & Karniadakis, 2019; Lagaris, Likas & Fotiadis,
1998) is trained to satisfy a differential equation: its loss is the mean squared residual of the
equation at collocation points, so the loss contains derivatives of the network with respect to its
inputs, and training differentiates those derivatives with respect to the weights (third derivatives
of the network in all, taken by nablanet's own reverse and forward modes). Two problems:

=======  ==============================================  ===============================  ======================
problem  equation                                        conditions                       solution
=======  ==============================================  ===============================  ======================
poisson  u''(x) = -pi^2 sin(pi x),  x in [0, 1]           u(0) = u(1) = 0                  sin(pi x)
heat     u_t = u_xx,  x in [0, 1], t in [0, 1/2]          u(x, 0) = sin(pi x),             exp(-pi^2 t) sin(pi x)
                                                          u(0, t) = u(1, t) = 0
=======  ==============================================  ===============================  ======================

Each is solved in two styles, from the same initial weights:

- functional (JAX's style): the parameters are a list of (W, b) pairs, the network a plain function
  of them; the input derivatives are forward-mode ``nablanet.jvp`` (nested for u_xx), the weight
  gradient ``nablanet.value_and_grad`` of the loss, Adam by ``optim.Adam.update`` on the arrays and
  L-BFGS by ``optim.lbfgs_minimize`` on their flat vector.
- module (PyTorch's style): an ``nn.Sequential`` of ``nn.Dense`` layers; the input derivatives are
  ``nablanet.grad(lambda X: u(X).sum())(X)`` (nested for u_xx), which closes over the module's
  Parameters and stays connected to them, as ``torch.autograd.grad(..., create_graph=True)``;
  then ``loss.backward()``, ``optim.Adam.step()`` and ``optim.LBFGS.step(closure)``.

The partial derivative at every collocation point comes out of one derivative call for the whole
batch: the network maps each row of X on its own, so the Jacobian of u(X) with respect to X is
block diagonal, and a JVP with the tangent e_x on every row (or the gradient of sum(u(X))) gives
du/dx at each point at once. The per-point spelling ``vmap(grad(grad(u_at_one_point)))`` gives the
same u'' (the tests check it), but inside ``value_and_grad`` of the weights nablanet's vmap cannot
yet batch it and runs it one point at a time, 50-100x slower (benchmarks/pinn.py).

The recipe, standard in the PINN literature: tanh networks of two hidden layers of 32 units
(Glorot-normal weights, zero biases, float64), 128 equispaced collocation points for Poisson and a
32 x 32 grid of (x, t) for heat, 1,000 Adam steps (lr 1e-2) and then 500 (Poisson) or 1,000 (heat)
L-BFGS iterations (history 50, strong-Wolfe line search). The boundary and initial conditions are
hard constraints (Lagaris et al., 1998): the network N enters through an ansatz that satisfies them
exactly, u = x (1 - x) N(x) for Poisson and u = sin(pi x) + t x (1 - x) N(x, t) for heat, so the loss
is the equation's residual alone. Soft penalties instead (the plain network, its loss plus the mean
squared error on 2 boundary points for Poisson, on 32 points of each of the three edges for heat,
weight 1) reached max errors of 1.9e-5 (Poisson) and 2.1e-3 (heat) with the same recipe, seed 0:
heat misses 1e-3 twice over (7.4e-3 with Adam's lr at 1e-3), where the hard constraints reach 6e-5.

Results of ``python examples/pinn.py --threads 1`` (max ``|u - u_exact|`` on a grid of 1,001 points for
Poisson, 101 x 101 for heat; ms per training step = one loss with its weight gradient plus the
update, for Adam; per loss-and-gradient evaluation for L-BFGS; one BLAS thread; nablanet at the
commit that added these figures)::

    problem  style       max error  final loss  Adam steps  L-BFGS iters (evals)  ms/Adam step  ms/L-BFGS eval  wall time
    poisson  functional    3.9e-08     2.0e-10        1000             500 (596)           3.8             5.9      7.3 s
    poisson  module        4.9e-08     2.1e-10        1000             500 (608)           5.9             4.2      8.4 s
    heat     functional    6.5e-05     3.5e-06        1000           1000 (1079)          32.5            28.0     62.7 s
    heat     module        5.2e-05     2.6e-06        1000           1000 (1085)          32.4            35.6     71.0 s

The errors repeat bit for bit from run to run. The times do not: the 2-core machine was shared with
other jobs (load 2 to 5), and this run took 151 s of wall time for 85 s of CPU time; the same run on
a quieter machine took 82 s in all, 3.5-4.0 ms per Poisson step and 15-17 ms per heat step (1,024
points) in both styles. Seeds 1 and 2 (functional style) gave max errors of 1.7e-7 and 1.6e-7
(Poisson), 3.2e-5 and 5.7e-5 (heat). From the same initial weights the two styles compute the same
losses up to rounding (the test checks the Adam steps of --quick); those last-digit differences grow
over thousands of steps, L-BFGS's line search above all, hence the slightly different final figures.

Run::

    python examples/pinn.py                         # both problems, both styles (1.5-2.5 minutes)
    python examples/pinn.py --problems heat --threads 2
    python examples/pinn.py --plot pinn.png         # also draw the errors (needs matplotlib)
    python examples/pinn.py --quick                 # a smoke run of a few seconds
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy

import nablanet
import nablanet.numpy as np
from nablanet import nn, optim

PI = numpy.pi
HIDDEN = (32, 32)
# Heat is solved for t in [0, T_END].
T_END = 0.5


# --- the two problems ------------------------------------------------------------------------------
#
# A residual is written once for both styles: ``d(f, X, axis)`` is the style's partial derivative of
# the pointwise function f with respect to input column ``axis``, at every row of X.

def poisson_ansatz(X, N):
    """u = x (1 - x) N(x): zero at x = 0 and x = 1 whatever the network N gives."""
    return X * (1.0 - X) * N


def poisson_residual(u, X, d):
    """u'' + pi^2 sin(pi x), zero for the solution."""
    def u_x(X):
        return d(u, X, 0)

    return d(u_x, X, 0) + PI ** 2 * np.sin(PI * X)


def poisson_exact(X):
    return numpy.sin(PI * X)


def heat_ansatz(X, N):
    """u = sin(pi x) + t x (1 - x) N(x, t): the initial condition at t = 0, zero at x = 0 and x = 1."""
    x, t = X[:, :1], X[:, 1:]
    return np.sin(PI * x) + t * x * (1.0 - x) * N


def heat_residual(u, X, d):
    """u_t - u_xx, zero for the solution."""
    def u_x(X):
        return d(u, X, 0)

    return d(u, X, 1) - d(u_x, X, 0)


def heat_exact(X):
    return numpy.exp(-PI ** 2 * X[:, 1:]) * numpy.sin(PI * X[:, :1])


def grid(points_per_axis: int, *, heat: bool) -> numpy.ndarray:
    """Equispaced points of the domain, one per row: (n, 1) on [0, 1], or (n^2, 2) of (x, t) on [0, 1] x [0, T]."""
    x = numpy.linspace(0.0, 1.0, points_per_axis)
    if not heat:
        return x[:, None]
    xx, tt = numpy.meshgrid(x, numpy.linspace(0.0, T_END, points_per_axis))
    return numpy.stack([xx.ravel(), tt.ravel()], axis=1)


@dataclass(frozen=True)
class Problem:
    """A PDE with its hard-constrained ansatz, residual, solution and point sets.

    Attributes:
        inputs: the network's input size (1 for x, 2 for (x, t)).
        collocation: points per axis where the residual is penalised (the interior of [0, 1] for
            Poisson, whose ends the ansatz satisfies exactly; the whole grid for heat).
        test: points per axis of the grid the max error is taken on.
        quick_collocation: the same in --quick mode.
    """

    name: str
    inputs: int
    ansatz: Callable
    residual: Callable
    exact: Callable
    collocation: int
    test: int
    quick_collocation: int

    def collocation_points(self, quick: bool = False) -> numpy.ndarray:
        n = self.quick_collocation if quick else self.collocation
        if self.inputs == 1:
            return grid(n + 2, heat=False)[1:-1]
        return grid(n, heat=True)

    def test_points(self) -> numpy.ndarray:
        return grid(self.test, heat=self.inputs == 2)


PROBLEMS = {
    "poisson": Problem("poisson", 1, poisson_ansatz, poisson_residual, poisson_exact,
                       collocation=128, test=1001, quick_collocation=128),
    "heat": Problem("heat", 2, heat_ansatz, heat_residual, heat_exact,
                    collocation=32, test=101, quick_collocation=12),
}


@dataclass(frozen=True)
class Recipe:
    """Adam then L-BFGS (the usual PINN schedule: Adam finds the basin, L-BFGS converges in it)."""

    adam_steps: int
    lbfgs_iterations: int
    lr: float = 1e-2
    history_size: int = 50


RECIPES = {"poisson": Recipe(1000, 500), "heat": Recipe(1000, 1000)}
QUICK_RECIPES = {"poisson": Recipe(100, 100), "heat": Recipe(100, 100)}
STYLES = ("functional", "module")


# --- the network, functional -----------------------------------------------------------------------

def init_params(sizes, rng) -> list:
    """[(W, b), ...] of a dense network: Glorot-normal weights, zero biases, float64."""
    return [(nn.init.glorot_normal((n_in, n_out), rng, numpy.float64), numpy.zeros(n_out))
            for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def mlp(params, X):
    """tanh(... tanh(X W1 + b1) ...) W_L + b_L: tanh hidden layers, a linear output."""
    h = X
    for W, b in params[:-1]:
        h = np.tanh(h @ W + b)
    W, b = params[-1]
    return h @ W + b


def partial_jvp(f, X, axis):
    """df/dX[:, axis] at every row of X, by forward mode: one JVP with the tangent e_axis on every row."""
    tangent = numpy.zeros(X.shape)
    tangent[:, axis] = 1.0
    return nablanet.jvp(f, (X,), (tangent,))[1]


def functional_loss(problem: Problem, params, X):
    """The mean squared residual at the points X of the network with parameters ``params``."""
    def u(X):
        return problem.ansatz(X, mlp(params, X))

    return np.mean(problem.residual(u, X, partial_jvp) ** 2)


# --- the network, PyTorch style --------------------------------------------------------------------

def build_model(params) -> nn.Sequential:
    """An nn.Sequential of Dense layers holding copies of ``params`` (tanh hidden layers, linear output)."""
    layers = [nn.Dense(W.shape[0], W.shape[1], "tanh" if k < len(params) - 1 else None, dtype=numpy.float64)
              for k, (W, _) in enumerate(params)]
    for layer, (W, b) in zip(layers, params):
        layer.W.data[...] = W
        layer.b.data[...] = b
    return nn.Sequential(*layers)


def partial_grad(f, X, axis):
    """df/dX[:, axis] at every row of X, by reverse mode: column ``axis`` of the gradient of sum(f(X)).

    Inside a module's loss, f closes over the module's Parameters, and the result stays connected to
    them, as torch.autograd.grad(f(X).sum(), X, create_graph=True) does.
    """
    return nablanet.grad(lambda X: np.sum(f(X)))(X)[:, axis:axis + 1]


def module_loss(problem: Problem, model: nn.Module, X):
    """The mean squared residual at the points X of ``model``, a Tensor connected to its Parameters."""
    def u(X):
        return problem.ansatz(X, model(X))

    return np.mean(problem.residual(u, X, partial_grad) ** 2)


# --- training --------------------------------------------------------------------------------------

@dataclass
class TrainResult:
    """One problem solved in one style.

    Attributes:
        losses: the loss before each Adam step, then after L-BFGS.
        adam_ms: milliseconds per Adam step (loss, weight gradient, update).
        lbfgs_ms: milliseconds per loss-and-gradient evaluation of L-BFGS (its line search
            evaluates more than once per iteration, rarely).
        lbfgs_evaluations: how many evaluations the L-BFGS iterations took.
        max_error: max |u - u_exact| on the problem's test grid.
        seconds: the whole training.
    """

    problem: str
    style: str
    max_error: float
    losses: list
    adam_steps: int
    lbfgs_iterations: int
    lbfgs_evaluations: int
    adam_ms: float
    lbfgs_ms: float
    seconds: float
    predict: Callable | None = None


def flatten(arrays) -> numpy.ndarray:
    return numpy.concatenate([numpy.ravel(a) for a in arrays])


def unflatten(flat, like) -> list:
    """Arrays shaped as ``like``'s, cut from the 1-D ``flat`` in order."""
    arrays, start = [], 0
    for a in like:
        arrays.append(flat[start:start + a.size].reshape(a.shape))
        start += a.size
    return arrays


# L-BFGS runs its full iteration budget: near the solution the loss (~1e-6) changes by less than
# PyTorch's default tolerance_change (1e-9) per iteration long before the error stops falling.
LBFGS_TOLERANCES = dict(tolerance_grad=0.0, tolerance_change=0.0)


def train_functional(problem: Problem, params, X, recipe: Recipe):
    """Adam then L-BFGS on the parameter pytree; returns (trained params, losses, timings)."""
    loss_and_grad = nablanet.value_and_grad(lambda params: functional_loss(problem, params, X))
    leaves, structure = nablanet.tree_flatten(params)
    adam = optim.Adam(lr=recipe.lr)
    state = adam.init_state(leaves)
    losses = []
    start = time.perf_counter()
    for _ in range(recipe.adam_steps):
        value, grads = loss_and_grad(nablanet.tree_unflatten(structure, leaves))
        leaves, state = adam.update(nablanet.tree_flatten(grads)[0], state, leaves)
        losses.append(value)
    adam_seconds = time.perf_counter() - start

    evaluations = 0

    def cost(flat):
        nonlocal evaluations
        evaluations += 1
        value, grads = loss_and_grad(nablanet.tree_unflatten(structure, unflatten(flat, leaves)))
        return value, flatten(nablanet.tree_flatten(grads)[0])

    start = time.perf_counter()
    flat, value, lbfgs_state = optim.lbfgs_minimize(cost, flatten(leaves), max_iter=recipe.lbfgs_iterations,
                                                    history_size=recipe.history_size, **LBFGS_TOLERANCES)
    lbfgs_seconds = time.perf_counter() - start
    losses.append(value)
    params = nablanet.tree_unflatten(structure, unflatten(flat, leaves))
    return params, losses, (adam_seconds, lbfgs_seconds, lbfgs_state.t, evaluations)


def train_module(problem: Problem, model: nn.Module, X, recipe: Recipe):
    """Adam then L-BFGS on the module's Parameters, in place; returns (losses, timings)."""
    adam = optim.Adam(model.parameters(), lr=recipe.lr)
    losses = []
    start = time.perf_counter()
    for _ in range(recipe.adam_steps):
        adam.zero_grad()
        loss = module_loss(problem, model, X)
        loss.backward()
        adam.step()
        losses.append(float(loss))
    adam_seconds = time.perf_counter() - start

    lbfgs = optim.LBFGS(model.parameters(), max_iter=recipe.lbfgs_iterations, history_size=recipe.history_size,
                        **LBFGS_TOLERANCES)
    evaluations = 0

    def closure():
        nonlocal evaluations
        evaluations += 1
        loss = module_loss(problem, model, X)
        loss.backward()
        return loss

    start = time.perf_counter()
    losses.append(lbfgs.step(closure))
    lbfgs_seconds = time.perf_counter() - start
    return losses, (adam_seconds, lbfgs_seconds, lbfgs.state.t, evaluations)


def solve(problem: Problem, style: str, recipe: Recipe, seed: int, quick: bool = False) -> TrainResult:
    """Train the network of ``style`` on ``problem`` from the initial weights of ``seed``; score it."""
    params = init_params((problem.inputs, *HIDDEN, 1), numpy.random.default_rng(seed))
    X = problem.collocation_points(quick)
    if style == "functional":
        params, losses, timings = train_functional(problem, params, X, recipe)

        def predict(X):
            return problem.ansatz(X, mlp(params, X))
    else:
        model = build_model(params)
        losses, timings = train_module(problem, model, X, recipe)

        def predict(X):
            return problem.ansatz(X, model(X)).data
    adam_seconds, lbfgs_seconds, iterations, evaluations = timings
    X_test = problem.test_points()
    with nablanet.no_grad():
        max_error = float(numpy.max(numpy.abs(predict(X_test) - problem.exact(X_test))))
    return TrainResult(problem.name, style, max_error, losses, recipe.adam_steps, iterations, evaluations,
                       1e3 * adam_seconds / max(1, recipe.adam_steps), 1e3 * lbfgs_seconds / max(1, evaluations),
                       adam_seconds + lbfgs_seconds, predict)


# --- reporting -------------------------------------------------------------------------------------

def format_table(results: list[TrainResult]) -> str:
    header = (f"{'problem':<8} {'style':<10}  {'max error':>9}  {'final loss':>10}  {'Adam steps':>10}  "
              f"{'L-BFGS iters (evals)':>20}  {'ms/Adam step':>12}  {'ms/L-BFGS eval':>14}  {'wall time':>9}")
    lines = ["max |u - u_exact| on the test grid, and time per training step", header, "-" * len(header)]
    for r in results:
        iterations = f"{r.lbfgs_iterations} ({r.lbfgs_evaluations})"
        lines.append(f"{r.problem:<8} {r.style:<10}  {r.max_error:>9.1e}  {r.losses[-1]:>10.1e}  {r.adam_steps:>10}  "
                     f"{iterations:>20}  {r.adam_ms:>12.1f}  {r.lbfgs_ms:>14.1f}  {r.seconds:>7.1f} s")
    return "\n".join(lines)


def plot(results: list[TrainResult], path: str) -> None:
    """The error of each trained solution: over x (Poisson), over (x, t) (heat)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5 * len(results), 4), layout="constrained")
    for k, r in enumerate(results):
        axes = figure.add_subplot(1, len(results), k + 1)
        problem = PROBLEMS[r.problem]
        X = problem.test_points()
        with nablanet.no_grad():
            error = numpy.abs(r.predict(X) - problem.exact(X))
        if problem.inputs == 1:
            axes.semilogy(X[:, 0], error[:, 0])
            axes.set_xlabel("x")
            axes.set_ylabel("|u - sin(pi x)|")
        else:
            n = problem.test
            image = axes.pcolormesh(X[:, 0].reshape(n, n), X[:, 1].reshape(n, n), error.reshape(n, n))
            figure.colorbar(image, ax=axes, label="|u - u_exact|")
            axes.set_xlabel("x")
            axes.set_ylabel("t")
        axes.set_title(f"{r.problem}, {r.style}: max error {r.max_error:.1e}")
    figure.savefig(path, dpi=100)


# --- command line ----------------------------------------------------------------------------------

def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--problems", default=",".join(PROBLEMS),
                        help=f"comma-separated problems, from {', '.join(PROBLEMS)} (default: both)")
    parser.add_argument("--styles", default=",".join(STYLES),
                        help=f"comma-separated styles, from {', '.join(STYLES)} (default: both)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights (default 0)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: a few Adam and L-BFGS steps (and a coarser heat grid)")
    parser.add_argument("--plot", metavar="PATH", default=None,
                        help="write a figure of the errors to PATH (needs matplotlib)")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit NumPy's BLAS to this many threads (default: its own setting)")
    args = parser.parse_args(argv)
    for name, known in (("problems", PROBLEMS), ("styles", STYLES)):
        chosen = list(dict.fromkeys(s.strip() for s in getattr(args, name).split(",") if s.strip()))
        unknown = [s for s in chosen if s not in known]
        if unknown or not chosen:
            parser.error(f"--{name}: unknown {unknown}; choose from {', '.join(known)}")
        setattr(args, name, chosen)
    if args.seed < 0:
        parser.error(f"--seed must be non-negative, got {args.seed}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be positive, got {args.threads}")
    return args


def run(args: argparse.Namespace) -> list[TrainResult]:
    """Solve every problem in every style asked for; print a line per run and the table; return the results."""
    recipes = QUICK_RECIPES if args.quick else RECIPES
    print(f"PINN: tanh network {'-'.join(map(str, ('in', *HIDDEN, 1)))}, float64, seed {args.seed}, "
          f"hard-constrained boundary conditions{'; quick smoke run' if args.quick else ''}", flush=True)
    results = []
    for name in args.problems:
        problem, recipe = PROBLEMS[name], recipes[name]
        for style in args.styles:
            result = solve(problem, style, recipe, args.seed, quick=args.quick)
            results.append(result)
            print(f"{name:<8} {style:<10} loss {result.losses[0]:.2e} -> {result.losses[-1]:.2e}  "
                  f"max error {result.max_error:.2e}  wall time {result.seconds:.1f} s", flush=True)
    print()
    print(format_table(results))
    if args.plot:
        plot(results, args.plot)
        print(f"figure written to {args.plot}")
    return results


def main(argv=None) -> list[TrainResult]:
    args = parse_args(argv)
    if args.threads is None:
        return run(args)
    # OpenBLAS sizes its thread pool when NumPy loads; threadpoolctl (installed with scikit-learn) resizes it.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=args.threads):
        return run(args)


if __name__ == "__main__":
    main(sys.argv[1:])
