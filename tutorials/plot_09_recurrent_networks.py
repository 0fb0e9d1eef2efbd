r"""
Recurrent networks: memory, and gradients through time
======================================================

A recurrent network, in the notes' words, has connections that form cycles, "a form of internal memory
which captures information on what has been calculated before". The Elman network reads a sequence
:math:`x_1, \dots, x_T` one step at a time and keeps a state

.. math::

    h_t = \tanh\left( W_{ih}^T x_t + W_{hh}^T h_{t-1} + b \right), \qquad h_0 = 0,

the same weights at every step. Unrolled over time it is a deep feed-forward network with shared
weights, and back-propagation through it (*back-propagation through time*) multiplies the gradient once
per step by :math:`W_{hh}^T \operatorname{diag}(1 - h_t^2)`:

.. math::

    \frac{\partial h_T}{\partial h_t} = \prod_{s = t + 1}^{T} \operatorname{diag}(1 - h_s^2)\, W_{hh}^T .

If that factor is smaller than one the influence of early inputs vanishes; if larger, it explodes: the
notes' exploding gradients "mostly encountered in recurrent neural networks", which gradient clipping
and gated cells (GRU, LSTM) were made for.
"""

# %%
# The recurrence, by hand and by nn.RNN
# -------------------------------------
# ``nn.RNN`` stores :math:`W_{ih}` as ``(input_size, hidden_size)`` and two biases that add up to
# :math:`b`, and takes sequences as ``(N, T, input_size)``.

import matplotlib.pyplot as plt
import numpy

from nablanet import fit, grad, jacobian, nn, optim, predict
from nablanet.train import r2

rnn = nn.RNN(1, 8, return_sequences=True, rng=0, dtype=numpy.float64)
weights = {name.rsplit(".", 1)[1]: p.data for name, p in rnn.named_parameters()}
print({name: value.shape for name, value in weights.items()})

X = numpy.random.default_rng(1).standard_normal((2, 5, 1))
h = numpy.zeros((2, 8))
states = []
for t in range(X.shape[1]):
    h = numpy.tanh(X[:, t] @ weights["W_ih"] + weights["b_ih"] + h @ weights["W_hh"] + weights["b_hh"])
    states.append(h)
by_hand = numpy.stack(states, axis=1)
assert numpy.allclose(by_hand, rnn(X).numpy())
print("h_t by hand equals nn.RNN's output at every step")

# %%
# Memory: repeat what you saw three steps ago
# -------------------------------------------
# Each input is a sequence of ten independent numbers :math:`x_t \sim N(0, 1)`; the target is
# :math:`x_{T-3}`, the value three steps before the end. A network that sees only the last input cannot
# do better than guessing the mean (:math:`R^2 \approx 0`); an RNN has to keep :math:`x_{T-3}` in its state
# for three steps.

T, DELAY = 10, 3
rng = numpy.random.default_rng(0)


def delay_task(n):
    X = rng.standard_normal((n, T, 1))
    return X, X[:, T - 1 - DELAY, :]


X_train, y_train = delay_task(600)
X_test, y_test = delay_task(500)


def train(model, inputs):
    fit(model, inputs, y_train, loss="mse", optimizer=optim.Adam(model.parameters(), lr=1e-2), epochs=20,
        batch_size=50, seed=0, progress=False)
    return model


r = numpy.random.default_rng(0)
recurrent = train(nn.Sequential(nn.RNN(1, 16, return_sequences=False, rng=r, dtype=numpy.float64),
                                nn.Dense(16, 1, rng=r, dtype=numpy.float64)), X_train)
last_only = train(nn.Sequential(nn.Dense(1, 16, activation="tanh", rng=r, dtype=numpy.float64),
                                nn.Dense(16, 1, rng=r, dtype=numpy.float64)), X_train[:, -1])
score = {"RNN": float(r2(predict(recurrent, X_test), y_test)),
         "Dense on x_T": float(r2(predict(last_only, X_test[:, -1]), y_test))}
print(f"test R^2: RNN {score['RNN']:.3f}, feed-forward network on the last input {score['Dense on x_T']:.3f}")
assert score["RNN"] > 0.95
assert abs(score["Dense on x_T"]) < 0.05

# %%
# Which inputs does the trained RNN listen to? The gradient of its output with respect to each input
# :math:`x_t` of one sequence (``grad`` of a function closing over the model's parameters) peaks at
# :math:`t = T - 3`.

sequence = X_test[:1]
sensitivity = numpy.abs(grad(lambda inputs: recurrent(inputs).sum())(sequence).numpy()).ravel()
print("|d output / d x_t|, t = 1..10:", numpy.round(sensitivity, 3))
assert sensitivity.argmax() == T - 1 - DELAY

# %%
# Vanishing and exploding gradients through time
# ----------------------------------------------
# Set :math:`W_{hh} = \rho\, Q` with :math:`Q` orthogonal, so that every direction is multiplied by
# :math:`\rho` per step, and feed a sequence of small inputs (:math:`10^{-6}`) so that the units stay in
# tanh's linear range, where :math:`1 - h^2 \approx 1`. The norm of the Jacobian of the final state with
# respect to the input :math:`t` steps before the end, :math:`\|\partial h_T / \partial x_{T-t}\|`, then
# scales as :math:`\rho^t`.

LENGTH = 20
Q, _ = numpy.linalg.qr(numpy.random.default_rng(2).standard_normal((8, 8)))
small = numpy.full((1, LENGTH, 1), 1e-6)
through_time = {}
for rho in (0.5, 1.0, 1.5):
    cell = nn.RNN(1, 8, return_sequences=False, rng=0, dtype=numpy.float64)
    for name, p in cell.named_parameters():
        if name.endswith("W_hh"):
            p.data[...] = rho * Q
        elif name.endswith("W_ih"):
            p.data[...] = 1.0
        else:
            p.data[...] = 0.0
    J = numpy.asarray(jacobian(lambda inputs, cell=cell: cell(inputs)[0])(small))    # (8, 1, LENGTH, 1)
    through_time[rho] = numpy.linalg.norm(J.reshape(8, LENGTH), axis=0)

figure, ax = plt.subplots(figsize=(7, 4), layout="constrained")
steps_back = numpy.arange(LENGTH)[::-1]            # input t is LENGTH - 1 - t steps before the end
for rho, values in through_time.items():
    ax.semilogy(steps_back, values, "o-", label=rf"$\rho = {rho}$")
ax.set_xlabel("steps before the end")
ax.set_ylabel(r"$\|\partial h_T / \partial x_t\|$")
ax.set_title("the gradient reaching earlier inputs, 20 steps")
ax.legend()

for rho, values in through_time.items():
    print(f"rho = {rho}: gradient at the first input / at the last = {values[0] / values[-1]:.3e}")
for rho, values in through_time.items():
    assert numpy.isclose(values[0] / values[-1], rho ** (LENGTH - 1), rtol=1e-3), rho

# %%
# A gated cell
# ------------
# The GRU decides at every step, through learned gates, how much of its state to keep; its gradient can
# pass through many steps almost unchanged. On the delay task it learns as well as the Elman RNN:

r = numpy.random.default_rng(0)
gated = train(nn.Sequential(nn.GRU(1, 16, return_sequences=False, rng=r, dtype=numpy.float64),
                            nn.Dense(16, 1, rng=r, dtype=numpy.float64)), X_train)
score["GRU"] = float(r2(predict(gated, X_test), y_test))
print(f"test R^2: GRU {score['GRU']:.3f}")
assert score["GRU"] > 0.95
