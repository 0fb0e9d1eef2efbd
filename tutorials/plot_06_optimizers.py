r"""
Optimizers compared on one problem
==================================

Training minimizes a cost :math:`C(\theta)`; the notes list the methods in order of sophistication:

- **gradient descent**: :math:`\theta_{t+1} = \theta_t - \eta \nabla C(\theta_t)`;
- **momentum**: a velocity that accumulates past gradients,
  :math:`v_{t+1} = \mu v_t + \nabla C(\theta_t)`, :math:`\theta_{t+1} = \theta_t - \eta v_{t+1}`
  (Nesterov's variant evaluates the gradient one step ahead);
- **Adagrad**: a step per coordinate, :math:`\eta / \sqrt{G_t}`, with :math:`G_t` the sum of the
  squared gradients so far;
- **RMSprop**: the same with a moving average :math:`E[g^2]_t` instead of the sum, so the step does
  not shrink forever;
- **Adam**: RMSprop's scaling applied to a moving average of the gradient (momentum), both corrected
  for their start at zero;
- and a quasi-Newton method, **L-BFGS**, which builds a picture of the curvature from the last few
  gradients.

We run them all on one problem with a curved, badly scaled valley, Rosenbrock's function

.. math::

    C(x, y) = (1 - x)^2 + 100\, (y - x^2)^2,

minimum 0 at :math:`(1, 1)`, from :math:`(-1.5, 2)`, and draw their paths.
"""

# %%
# The problem and its gradient
# ----------------------------
# The optimizers of ``nablanet.optim`` have a functional form as well as the ``step()`` used in training:
# ``init_state(params)`` and ``update(grads, state, params) -> (params, state)`` on plain arrays.

import matplotlib.pyplot as plt
import numpy

from nablanet import grad, optim


def rosenbrock(p):
    x, y = p
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


gradient = grad(rosenbrock)
START = numpy.array([-1.5, 2.0])
STEPS = 600


def run(optimizer, steps=STEPS):
    """The path of ``optimizer`` from START: (steps + 1, 2) points; stops early if it diverges."""
    params = [START.copy()]
    state = optimizer.init_state(params)
    path = [START.copy()]
    with numpy.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            params, state = optimizer.update([numpy.asarray(gradient(params[0]))], state, params)
            path.append(params[0].copy())
            if not numpy.all(numpy.isfinite(params[0])) or numpy.abs(params[0]).max() > 1e3:
                break
    return numpy.array(path)


def final_cost(path):
    value = float(rosenbrock(path[-1])) if numpy.all(numpy.isfinite(path[-1])) else numpy.inf
    return value if len(path) == STEPS + 1 else numpy.inf      # a run that stopped early diverged


# %%
# Each method over a few learning rates
# -------------------------------------
# Each optimizer runs 600 steps for each learning rate :math:`\eta` of a small grid around its usual
# values; the best of each is drawn below. A run that leaves the picture diverged (``inf``).

candidates = {
    "GD": (lambda lr: optim.GD(lr=lr), (5e-4, 1e-3, 2e-3, 3e-3)),
    "Momentum": (lambda lr: optim.Momentum(lr=lr, momentum=0.9), (5e-4, 1e-3, 2e-3, 3e-3)),
    "Nesterov": (lambda lr: optim.Nesterov(lr=lr, momentum=0.9), (5e-4, 1e-3)),
    "Adagrad": (lambda lr: optim.Adagrad(lr=lr), (0.3, 1.0)),
    "RMSprop": (lambda lr: optim.RMSprop(lr=lr), (3e-3, 1e-2)),
    "Adam": (lambda lr: optim.Adam(lr=lr), (0.03, 0.1)),
}
paths, best_lr, costs = {}, {}, {}
print(f"{'optimizer':>9}  " + "  ".join(f"{'eta':>7} {'C':>8}" for _ in range(4)))
for name, (make, rates) in candidates.items():
    results = {lr: run(make(lr)) for lr in rates}
    costs[name] = {lr: final_cost(path) for lr, path in results.items()}
    best_lr[name] = min(rates, key=costs[name].get)
    paths[name] = results[best_lr[name]]
    print(f"{name:>9}  " + "  ".join(f"{lr:>7.1e} {costs[name][lr]:>8.1e}" for lr in rates))

# %%
# Gradient descent works only in a narrow band of rates: at :math:`\eta = 10^{-3}` it is still far up the
# valley after 600 steps, at :math:`2 \cdot 10^{-3}` it arrives, at :math:`3 \cdot 10^{-3}` it diverges
# (the walls' curvature, about 1,000 at the start, caps a stable step at :math:`2 / 1000`). Momentum at the
# same :math:`\eta` ends lower every time it does not diverge.

assert costs["GD"][1e-3] > 1.0 and costs["GD"][2e-3] < 1e-2 and costs["GD"][3e-3] == numpy.inf
for lr in (5e-4, 1e-3, 2e-3):
    assert costs["Momentum"][lr] < costs["GD"][lr] / 10, lr

# %%
# L-BFGS
# ------
# ``optim.lbfgs_minimize`` takes a function returning the cost and its gradient, and a line search picks
# each step length, so there is no :math:`\eta` to tune.

lbfgs_path = [START.copy()]


def cost_and_gradient(p):
    lbfgs_path.append(p.copy())
    return float(rosenbrock(p)), numpy.asarray(gradient(p))


x, lbfgs_cost, lbfgs_state = optim.lbfgs_minimize(cost_and_gradient, START.copy(), max_iter=100)
print(f"L-BFGS: C = {lbfgs_cost:.1e} at {x} after {lbfgs_state.t} iterations "
      f"({len(lbfgs_path) - 1} evaluations of C and its gradient)")

# %%
# The paths
# ---------
# Gradient descent crawls along the valley floor: its rate is capped by the steep walls (the largest
# curvature), so it moves slowly along the gentle floor. Momentum builds up speed along the floor; the
# adaptive methods rescale each coordinate.

xs, ys = numpy.meshgrid(numpy.linspace(-2, 2, 300), numpy.linspace(-1, 3, 300))
surface = (1 - xs) ** 2 + 100 * (ys - xs ** 2) ** 2
figure, axes = plt.subplots(1, 2, figsize=(12, 5), layout="constrained")
axes[0].contour(xs, ys, surface, levels=numpy.logspace(-1, 3.5, 14), colors="0.7", linewidths=0.6)
for name, path in paths.items():
    axes[0].plot(path[:, 0], path[:, 1], "-", lw=1.3, label=f"{name} (eta {best_lr[name]:g})")
lbfgs_points = numpy.array(lbfgs_path)
axes[0].plot(lbfgs_points[:, 0], lbfgs_points[:, 1], "k.--", lw=0.8, ms=3, label="L-BFGS")
axes[0].plot(1, 1, "r*", ms=14)
axes[0].set_xlim(-2, 2)
axes[0].set_ylim(-1, 3)
axes[0].set_title("paths from (-1.5, 2) to the minimum (1, 1)")
axes[0].legend(fontsize=8, loc="lower right")

for name, path in paths.items():
    axes[1].semilogy([float(rosenbrock(p)) for p in path], label=name)
axes[1].semilogy([float(rosenbrock(p)) for p in lbfgs_points], "k--", label="L-BFGS (per evaluation)")
axes[1].set_xlabel("step")
axes[1].set_ylabel("C")
axes[1].set_title("cost against step")
axes[1].legend(fontsize=8)

# %%
# What this shows
# ---------------
# Adagrad's step :math:`\eta / \sqrt{G_t}` only shrinks, so it stalls in the long valley where RMSprop's
# moving average lets the step recover; Adam adds momentum to that. L-BFGS, using curvature, reaches the
# minimum to machine precision in a few dozen iterations. (On a network's cost, with noisy minibatch
# gradients and millions of parameters, L-BFGS loses its edge and Adam is the usual default.)

best = {name: costs[name][best_lr[name]] for name in candidates}
assert best["Adagrad"] > 10 * best["RMSprop"]
assert best["Adam"] < 1e-2
assert lbfgs_cost < 1e-10 and lbfgs_state.t < 100
