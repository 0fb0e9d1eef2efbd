r"""
Physics-informed neural networks
================================

A physics-informed network (Lagaris, Likas & Fotiadis, 1998; Raissi, Perdikaris & Karniadakis, 2019)
learns the solution of a differential equation without any solution data: its cost is how badly the
network violates the equation at a set of *collocation points*. For the Poisson problem

.. math::

    u''(x) = -\pi^2 \sin(\pi x), \quad x \in [0, 1], \qquad u(0) = u(1) = 0,

whose solution is :math:`u(x) = \sin(\pi x)`, the cost is the mean squared residual

.. math::

    C(W, b) = \frac{1}{n} \sum_{i=1}^{n} \left( u''(x_i) + \pi^2 \sin(\pi x_i) \right)^2 .

The boundary conditions are built into the form of the solution (a *hard constraint*): with a network
:math:`N(x; W, b)`, take :math:`u(x) = x (1 - x) N(x)`, which is zero at both ends whatever the weights.

The cost holds second derivatives of the network **with respect to its input**, and training needs its
gradient **with respect to the weights**: third derivatives in all, which is what an autodiff engine
that differentiates its own derivatives provides.
"""

# %%
# Derivatives with respect to the input
# -------------------------------------
# ``nablanet.grad`` of :math:`\sum_i f(x_i)` gives :math:`f'(x_i)` at every point at once, because each
# row of the input is mapped on its own. Nested, it gives :math:`f''`. When :math:`f` closes over a
# model's parameters, the result stays connected to them, so the cost can be back-propagated to the
# weights (``torch.autograd.grad(..., create_graph=True)`` in PyTorch).

import matplotlib.pyplot as plt
import numpy

import nablanet
import nablanet.numpy as np
from nablanet import nn, optim, predict


def d_dx(f):
    """x -> f'(x) at every row of x, for a function f that maps each row on its own."""
    return lambda x: nablanet.grad(lambda x: np.sum(f(x)))(x)


x = numpy.linspace(0.0, 1.0, 5)[:, None]
second = numpy.asarray(d_dx(d_dx(np.sin))(x))
print("d^2/dx^2 sin(x) =", second.ravel(), " -sin(x) =", -numpy.sin(x).ravel())
assert numpy.allclose(second, -numpy.sin(x))

# %%
# The network and its cost
# ------------------------
# Two hidden layers of 16 tanh units, Glorot-normal weights, float64 (the residual is small at the end,
# and float32 would round it away); 32 equispaced collocation points.

rng = numpy.random.default_rng(0)
N = nn.Sequential(nn.Dense(1, 16, "tanh", init="glorot_normal", rng=rng, dtype=numpy.float64),
                  nn.Dense(16, 16, "tanh", init="glorot_normal", rng=rng, dtype=numpy.float64),
                  nn.Dense(16, 1, init="glorot_normal", rng=rng, dtype=numpy.float64))
X = numpy.linspace(0.0, 1.0, 32)[:, None]


def u(x):
    return x * (1 - x) * N(x)            # zero at x = 0 and x = 1 for any weights


def cost():
    residual = d_dx(d_dx(u))(X) + numpy.pi ** 2 * np.sin(numpy.pi * X)
    return np.mean(residual ** 2)


# %%
# Training: Adam, then L-BFGS
# ---------------------------
# The standard recipe of the PINN literature: Adam to get near a good minimum, then L-BFGS to converge
# (``optim.LBFGS.step(closure)``, the closure computing the cost and its gradient, as in PyTorch).

adam = optim.Adam(N.parameters(), lr=1e-2)
history = []
for step in range(400):
    adam.zero_grad()
    loss = cost()
    loss.backward()
    adam.step()
    history.append(float(loss.item()))

lbfgs = optim.LBFGS(N.parameters(), max_iter=200, history_size=50)


def closure():
    loss = cost()
    loss.backward()
    history.append(float(loss.item()))
    return loss


final_cost = float(lbfgs.step(closure))
print(f"cost: {history[0]:.3g} at the start, {history[399]:.3g} after Adam, {final_cost:.3g} after "
      f"{lbfgs.state.t} L-BFGS iterations")

# %%
# The solution
# ------------
# Compared with :math:`\sin(\pi x)` on 1,001 points, most of them between the collocation points.

xs = numpy.linspace(0.0, 1.0, 1001)[:, None]
u_network = predict(N, xs) * xs * (1 - xs)
error = numpy.abs(u_network - numpy.sin(numpy.pi * xs))
print(f"max |u - sin(pi x)| = {error.max():.2e}")
assert error.max() < 1e-3
assert final_cost < 1e-3 * history[0]

figure, axes = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
axes[0].plot(xs, numpy.sin(numpy.pi * xs), "k--", label=r"$\sin(\pi x)$")
axes[0].plot(xs, u_network, label="network")
axes[0].plot(X, numpy.zeros_like(X), "|", color="gray", label="collocation points")
axes[0].legend()
axes[0].set_title("u(x)")
axes[1].semilogy(xs, error)
axes[1].set_title("|u - sin(pi x)|")
axes[2].semilogy(history)
axes[2].axvline(400, color="gray", lw=0.8)
axes[2].set_xlabel("Adam step, then L-BFGS evaluation")
axes[2].set_title("the mean squared residual C")

# %%
# ``examples/pinn.py`` solves this problem and the heat equation :math:`u_t = u_{xx}` in two styles (a
# ``Module`` as here, and plain functions of the weights with forward-mode ``jvp`` for the input
# derivatives), to errors of :math:`10^{-7}` and :math:`10^{-5}`.
