r"""
Backpropagation: the four equations and the chain-rule trace
============================================================

For a network of :math:`L` layers with weighted inputs and activations

.. math::

    z^l_j = \sum_i w^l_{ij} a^{l-1}_i + b^l_j, \qquad a^l_j = \sigma(z^l_j), \qquad a^0 = x,

and a cost :math:`C`, the notes derive the gradient from the *error* of each layer,
:math:`\delta^l_j = \partial C / \partial z^l_j`, in four equations:

.. math::

    \delta^L_j = \sigma'(z^L_j) \frac{\partial C}{\partial a^L_j}, \qquad
    \delta^l_j = \sum_k \delta^{l+1}_k w^{l+1}_{jk} \sigma'(z^l_j), \qquad
    \frac{\partial C}{\partial w^l_{jk}} = \delta^l_k a^{l-1}_j, \qquad
    \frac{\partial C}{\partial b^l_j} = \delta^l_j .

Here :math:`w^l_{ij}` joins unit :math:`i` of layer :math:`l-1` to unit :math:`j` of layer :math:`l`,
which is nablanet's layout: ``Dense`` stores :math:`W^l` with shape ``(n_in, n_out)`` and computes
:math:`z^l = a^{l-1} W^l + b^l`. (The notes' first definition, :math:`z^l_j = \sum_i w^l_{ij} a^{l-1}_i + b^l_j`,
uses this order too; their matrix form later writes the transpose, :math:`W^l` of shape
``(n_out, n_in)`` with :math:`\delta^l = ((W^{l+1})^T \delta^{l+1}) \circ \sigma'(z^l)`, which is the
same computation.) This page codes the four equations in NumPy for a whole batch, checks
them against the engine's reverse mode, and then prints the library's trace of the same equations for
one sample.
"""

# %%
# A network and a cost
# --------------------
# Two inputs, hidden layers of three sigmoid units, one sigmoid output, as in the notes' examples; the
# cost is the notes' :math:`C = \frac{1}{2} \sum_i (a^L_i - y_i)^2` over a batch of 8 samples.

import matplotlib.pyplot as plt
import numpy

import nablanet.numpy as np
from nablanet import grad, nn
from nablanet.diagnostics import chain_rule_trace

rng = numpy.random.default_rng(0)
sizes = [2, 3, 3, 1]
W = [rng.normal(0.0, 1.0, (n_in, n_out)) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
b = [rng.normal(0.0, 0.5, n_out) for n_out in sizes[1:]]
X = rng.uniform(-1.0, 1.0, (8, 2))
y = rng.uniform(0.0, 1.0, (8, 1))


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# %%
# Backpropagation by hand
# -----------------------
# The forward pass keeps every :math:`z^l` and :math:`a^l`; the backward pass starts from the output
# error and moves one layer down per step. With the samples as rows, the sum over :math:`k` in the
# second equation is ``delta @ W.T`` and the product :math:`\delta^l_k a^{l-1}_j`, summed over the
# batch, is ``a.T @ delta``. For the sigmoid, :math:`\sigma'(z) = a (1 - a)`.

def backpropagate(W, b, X, y):
    a = [X]
    for W_l, b_l in zip(W, b):
        z_l = a[-1] @ W_l + b_l
        a.append(1.0 / (1.0 + numpy.exp(-z_l)))
    L = len(W)
    delta = [None] * (L + 1)
    delta[L] = a[L] * (1 - a[L]) * (a[L] - y)                         # dC/da^L = a^L - y
    for l in range(L - 1, 0, -1):
        delta[l] = (delta[l + 1] @ W[l].T) * a[l] * (1 - a[l])        # W[l] is the notes' W^{l+1}
    grad_W = [a[l - 1].T @ delta[l] for l in range(1, L + 1)]
    grad_b = [delta[l].sum(axis=0) for l in range(1, L + 1)]
    return grad_W, grad_b, delta


hand_W, hand_b, delta = backpropagate(W, b, X, y)
for l in range(1, len(W) + 1):
    print(f"layer {l}: |delta^{l}| averaged over the batch = {numpy.abs(delta[l]).mean():.4f}")

# %%
# The same gradient by the engine
# -------------------------------
# The cost written once with ``nablanet.numpy``; ``grad`` differentiates it with respect to the lists of
# weights and biases (containers of arrays are differentiated leaf by leaf).

def cost(W, b):
    a = X
    for W_l, b_l in zip(W, b):
        a = sigmoid(a @ W_l + b_l)
    return 0.5 * np.sum((a - y) ** 2)


engine_W, engine_b = grad(cost, argnums=(0, 1))(W, b)
difference = max(max(numpy.abs(h - numpy.asarray(e)).max() for h, e in zip(hand_W, engine_W)),
                 max(numpy.abs(h - numpy.asarray(e)).max() for h, e in zip(hand_b, engine_b)))
print(f"max |hand - engine| over all {sum(w.size + v.size for w, v in zip(W, b))} parameters: {difference:.2e}")
assert difference < 1e-12

figure, ax = plt.subplots(figsize=(4.5, 4.5), layout="constrained")
for l, (h, e) in enumerate(zip(hand_W, engine_W), start=1):
    ax.plot(numpy.asarray(e).ravel(), h.ravel(), "o", label=f"dC/dW^{l}")
limits = ax.get_xlim()
ax.plot(limits, limits, "k--", lw=0.8)
ax.set_xlabel("engine (reverse mode)")
ax.set_ylabel("the four equations, by hand")
ax.set_title("every weight's gradient, both ways")
ax.legend()

# %%
# One gradient descent step
# -------------------------
# The notes' update, :math:`w \leftarrow w - \eta\, \partial C / \partial w`, lowers the cost for a small
# enough learning rate :math:`\eta`.

eta = 0.5
W_new = [W_l - eta * g for W_l, g in zip(W, hand_W)]
b_new = [b_l - eta * g for b_l, g in zip(b, hand_b)]
print(f"C before the step {float(cost(W, b)):.5f}, after {float(cost(W_new, b_new)):.5f}")
assert float(cost(W_new, b_new)) < float(cost(W, b))

# %%
# The library's chain-rule trace
# ------------------------------
# ``nablanet.diagnostics.chain_rule_trace`` evaluates the same four equations for one sample through a
# ``Sequential`` of ``Dense`` layers, prints every :math:`z^l`, :math:`a^l`, :math:`\sigma'(z^l)`,
# :math:`\delta^l` and gradient, and checks them against the engine. Its :math:`\sigma'` comes from each
# activation's registered formula, independently of the engine's derivative rules, so the check compares
# two derivations. Here with a tanh hidden layer and the mean squared error (``mse``: the mean over the
# outputs, so :math:`\partial C / \partial a^L = 2 (a^L - y) / n_{out}`).

model = nn.Sequential(nn.Dense(2, 3, activation="tanh", rng=0, dtype=numpy.float64),
                      nn.Dense(3, 2, activation="sigmoid", rng=1, dtype=numpy.float64))
trace = chain_rule_trace(model, numpy.array([0.5, -1.0]), numpy.array([1.0, 0.0]), loss="mse")
print(trace)
assert trace.max_difference < 1e-12
