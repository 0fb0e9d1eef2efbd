r"""
Activations, vanishing gradients and Glorot & Bengio
====================================================

Back-propagation multiplies, layer after layer, by the slope of the activation:

.. math::

    \delta^l = \left( W^{l+1} \delta^{l+1} \right) \circ \sigma'(z^l).

The logistic sigmoid :math:`\sigma(z) = 1 / (1 + e^{-z})` has :math:`\sigma'(z) = \sigma(z)(1 - \sigma(z))
\le 1/4`, and almost 0 once :math:`|z|` is more than a few units: the unit *saturates*. The notes tell
Glorot and Bengio's (2010) finding: with sigmoid units and weights drawn from :math:`N(0, 1)`, the
variance of :math:`z` grows from layer to layer until the units saturate, and what is left of the
gradient when it reaches the first layers is tiny, so those layers barely learn. This is the
**vanishing gradients problem**. Their remedy keeps the variance of the signal equal in both directions,

.. math::

    \operatorname{Var}(W^l) = \frac{2}{n_{in} + n_{out}} \quad \text{(Glorot)}, \qquad
    \operatorname{Var}(W^l) = \frac{2}{n_{in}} \quad \text{(He, for ReLU)},

together with activations that saturate less (tanh, centred at 0) or not at all for :math:`z > 0` (ReLU).
"""

# %%
# The activation functions and their derivatives
# ----------------------------------------------
# Each activation with its derivative, taken by the engine (``elementwise_grad``: one reverse pass gives
# :math:`\sigma'(z)` at every point; ``nablanet.plot.activation_functions`` draws the same as a figure of
# its own). The sigmoid's slope never exceeds 1/4; tanh's reaches 1 at 0; ReLU's is 1 for every
# :math:`z > 0`.

import matplotlib.pyplot as plt
import numpy

from nablanet import elementwise_grad, fit, nn
from nablanet.datasets import load_digits
from nablanet.demos.glorot_bengio import SETUPS, deep_network, measure
from nablanet.diagnostics import TrainingMonitor
from nablanet.optim import SGD
from nablanet.runtime import flush_denormals

z = numpy.linspace(-5.0, 5.0, 1001)
slopes = {}
figure, axes = plt.subplots(1, 4, figsize=(13, 3), layout="constrained")
for ax, name in zip(axes, ("sigmoid", "tanh", "relu", "elu")):
    activation = getattr(nn.functional, name)
    slopes[name] = numpy.asarray(elementwise_grad(activation)(z))
    ax.plot(z, numpy.asarray(activation(z)), label=r"$\sigma(z)$")
    ax.plot(z, slopes[name], "--", label=r"$\sigma'(z)$")
    ax.set_title(name)
    ax.set_xlabel("z")
    ax.grid(alpha=0.3)
axes[0].legend()

print(f"largest sigmoid slope on [-5, 5]: {slopes['sigmoid'].max():.4f} at z = {z[slopes['sigmoid'].argmax()]:.1f}")
print(f"sigmoid slope at z = 5: {slopes['sigmoid'][-1]:.2e}")
assert abs(slopes["sigmoid"].max() - 0.25) < 1e-12 and slopes["sigmoid"][-1] < 0.01
assert abs(slopes["tanh"].max() - 1.0) < 1e-12
assert numpy.all(slopes["relu"][z > 0] == 1.0)

# %%
# Twenty layers, three recipes
# ----------------------------
# The library's Glorot & Bengio demo builds ``64 -> depth x Dense(32) -> Dense(10)`` networks for
# scikit-learn's 8x8 digits with a given activation and initializer (``deep_network``), and measures one
# forward and backward pass over the data (``measure``: the cross-entropy, each layer's gradient norm
# :math:`\|\partial C / \partial W^l\|_F`, and the fraction of saturated units). We take 20 hidden layers,
# the classic case, and the three recipes of the demo.

X, y = load_digits(dtype="float32")
X = X / 16.0
DEPTH = 20
networks = {name: deep_network(activation, init, depth=DEPTH, rng=0) for name, (activation, init) in SETUPS.items()}
# Saturated sigmoids produce float32 subnormals, which x86 processors handle many times slower.
with flush_denormals():
    measured = {name: measure(networks[name], SETUPS[name][0], X, y) for name in SETUPS}

print(f"{'recipe':>18}  {'|dC/dW^1|':>10}  {'|dC/dW^out|':>11}  {'first / last':>12}  {'saturated':>9}")
for name, result in measured.items():
    norms = result["grad_norms"]
    print(f"{name:>18}  {norms[0]:>10.2e}  {norms[-1]:>11.2e}  {norms[0] / norms[-1]:>12.2e}  "
          f"{numpy.mean(result['saturation']):>9.0%}")

# %%
# The gradient norm per layer
# ---------------------------
# With sigmoid and :math:`N(0, 1)` weights the gradient shrinks by about a factor of 1.5 per layer on its
# way down: the first layer receives about :math:`10^{-3.5}` of what the output layer gets. Glorot's and
# He's recipes keep it within a factor of a few across all twenty layers. (For ReLU, about half the units
# are at 0 for any one input by design: that is one-sided inactivity, not saturation.)

figure, ax = plt.subplots(figsize=(7, 4), layout="constrained")
for name, result in measured.items():
    ax.semilogy(range(1, DEPTH + 2), result["grad_norms"], "o-", label=name)
ax.set_xlabel("layer l (1 = first hidden layer, 21 = output)")
ax.set_ylabel(r"$\|\partial C / \partial W^l\|_F$")
ax.set_title("gradient norm per layer at initialization, 20 hidden layers of 32 units")
ax.legend()

ratio = {name: result["grad_norms"][0] / result["grad_norms"][-1] for name, result in measured.items()}
assert ratio["sigmoid + N(0,1)"] < 1e-2
assert ratio["tanh + Glorot"] > 100 * ratio["sigmoid + N(0,1)"]
assert ratio["ReLU + He"] > 100 * ratio["sigmoid + N(0,1)"]

# %%
# The forward signal: why the units saturate
# ------------------------------------------
# A unit's input :math:`z = \sum_i w_i a_i + b` with :math:`n` inputs and :math:`w_i \sim N(0, 1)` has
# variance :math:`n\, E[a^2]`: with 32 sigmoid inputs, mostly near 0 or 1, about 11, so :math:`z` spreads
# over :math:`\pm 7` (two standard deviations), where :math:`\sigma'(z) < 10^{-3}`. Glorot's variance
# :math:`2 / (32 + 32)` keeps :math:`z` of order one. We pass the data through layer by layer and look at
# the spread of :math:`z`.

def preactivation_spread(model, X):
    """The standard deviation of z^l over the data, for every hidden layer."""
    spreads, a = [], X
    for layer in model.layers[:-1]:
        z = a @ layer.W.data + layer.b.data
        spreads.append(float(numpy.std(z)))
        a = numpy.asarray(layer(a).data)
    return spreads


spread = {name: preactivation_spread(networks[name], X) for name in SETUPS}
for name, values in spread.items():
    print(f"{name:>18}: std(z^l) from {values[0]:.2f} (layer 1) to {values[-1]:.2f} (layer {DEPTH})")
assert min(spread["sigmoid + N(0,1)"][1:]) > 2.5
assert max(spread["tanh + Glorot"]) < 2.0

# %%
# What it does to training
# ------------------------
# The notes: "the GD update leaves the lower layer connection weights virtually unchanged". One epoch
# of plain SGD (:math:`\eta = 0.1`, batches of 32) from each start, and for each layer the relative
# change :math:`\|W^l_{after} - W^l_{before}\|_F / \|W^l_{before}\|_F`. A ``TrainingMonitor`` rides along
# on each run (its warnings collected rather than printed, ``warn=False``); we read it in the next section.

change, monitors = {}, {}
with flush_denormals():
    for name, (activation, init) in SETUPS.items():
        model = deep_network(activation, init, depth=DEPTH, rng=0)
        before = [layer.W.data.copy() for layer in model.layers]
        monitors[name] = TrainingMonitor(warn=False)
        fit(model, X, y, loss="cross_entropy", optimizer=SGD(model.parameters(), lr=0.1), epochs=1,
            batch_size=32, seed=0, progress=False, flush_subnormals=True, callbacks=[monitors[name]])
        change[name] = [float(numpy.linalg.norm(layer.W.data - W0) / numpy.linalg.norm(W0))
                        for layer, W0 in zip(model.layers, before)]
        print(f"{name:>18}: first layer's weights moved by {change[name][0]:.1e} of their norm, "
              f"the output layer's by {change[name][-1]:.1e}")

figure, ax = plt.subplots(figsize=(7, 4), layout="constrained")
for name, values in change.items():
    ax.semilogy(range(1, DEPTH + 2), values, "o-", label=name)
ax.set_xlabel("layer l")
ax.set_ylabel("relative change of $W^l$ in one epoch")
ax.set_title("how much each layer learned")
ax.legend()

assert change["sigmoid + N(0,1)"][0] < 1e-3
assert min(change["tanh + Glorot"][0], change["ReLU + He"][0]) > 30 * change["sigmoid + N(0,1)"][0]

# %%
# The monitor's warning
# ---------------------
# ``nablanet.diagnostics.TrainingMonitor`` watches for exactly this while ``fit`` runs. Its measure is the
# share of the output layer's gradient that reaches the first layer,
#
# .. math::
#
#     \rho = \frac{\|\partial C / \partial W^1\|}{\|\partial C / \partial W^L\|},
#
# averaged over the epoch's steps, and it warns (a ``TrainingWarning`` with ``cause == "vanishing"``) when
# :math:`\rho` falls below ``vanishing_ratio``, 1/64 by default: six halvings of the error signal
# :math:`\delta` on its way down. The sigmoid network with :math:`N(0, 1)` weights is far below it; the
# Glorot and He networks pass the first layer more gradient than the last.

for name, monitor in monitors.items():
    causes = sorted({warning.cause for warning in monitor.warnings})
    print(f"{name:>18}: rho = {monitor.rho[0]:.2e}, warnings: {', '.join(causes) or 'none'}")
vanishing = [w for w in monitors["sigmoid + N(0,1)"].warnings if w.cause == "vanishing"]
print()
print(vanishing[0])

assert len(vanishing) == 1 and vanishing[0].layer == "layers.0"
assert monitors["sigmoid + N(0,1)"].rho[0] < 1 / 64
for name in ("tanh + Glorot", "ReLU + He"):
    assert "vanishing" not in [warning.cause for warning in monitors[name].warnings]
    assert monitors[name].rho[0] > 1.0
