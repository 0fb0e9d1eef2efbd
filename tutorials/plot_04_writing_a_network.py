r"""
Writing a network and training it
=================================

The notes end their derivation of back-propagation with an exercise: fit

.. math::

    y = f(x_0, x_1) = x_0^2 + 3 x_0 x_1 + x_1^2 + 5

from :math:`n = 100` samples with a network of one hidden layer. Training repeats three steps:

1. **feed forward**: :math:`z^l = (W^l)^T a^{l-1} + b^l`, :math:`a^l = \sigma(z^l)`, up to the output
   :math:`a^L`;
2. **cost**: here the mean squared error :math:`C = \frac{1}{n} \sum_i (a^L_i - y_i)^2`;
3. **back-propagation and update**: every parameter moves against its gradient,
   :math:`W^l \leftarrow W^l - \eta\, \partial C / \partial W^l`, :math:`b^l \leftarrow b^l - \eta\,
   \partial C / \partial b^l`.

This page writes the network as a ``Module``, trains it first with a loop written out, then with
``nablanet.fit``, and checks it on points it never saw.
"""

# %%
# The data
# --------
# ``make_polynomial`` draws the notes' points uniformly from the unit square. We keep 100 for training
# and 400 more for testing.

import matplotlib.pyplot as plt
import numpy

import nablanet
from nablanet import datasets, nn, optim
from nablanet.nn import functional as F
from nablanet.preprocessing import StandardScaler
from nablanet.train import r2

X_train, y_train = datasets.make_polynomial(100, rng=0)
X_test, y_test = datasets.make_polynomial(400, rng=1)
y_train, y_test = y_train.reshape(-1, 1), y_test.reshape(-1, 1)
print("training inputs", X_train.shape, "targets", y_train.shape, "range", y_train.min(), y_train.max())

# %%
# The network as a Module
# -----------------------
# A ``Module`` holds its layers as attributes (so ``parameters()`` finds their :math:`W` and :math:`b`)
# and says in ``forward`` how an input flows through them. It never contains backward code: the engine
# records the forward pass and differentiates it.


class OneHiddenLayer(nn.Module):
    """x (n, 2) -> Dense(2, 16, sigmoid) -> Dense(16, 1): a^1 = sigma(x W^1 + b^1), a^2 = a^1 W^2 + b^2."""

    def __init__(self, hidden=16, *, rng):
        self.hidden = nn.Dense(2, hidden, activation="sigmoid", rng=rng, dtype=numpy.float64)
        self.output = nn.Dense(hidden, 1, rng=rng, dtype=numpy.float64)

    def forward(self, x):
        return self.output(self.hidden(x))


model = OneHiddenLayer(rng=numpy.random.default_rng(0))
print(model)
print([(name, parameter.shape) for name, parameter in model.named_parameters()])

# %%
# Training by hand
# ----------------
# Each epoch here is one full-batch step. ``loss.backward()`` fills every parameter's ``grad``; the
# update is written out as in the notes.
#
# Inputs and targets are standardized first, to zero mean and unit variance over the training set (the
# notes' first practical advice): inputs in :math:`[0, 1]` put every sigmoid unit's :math:`z` on one side
# of zero, and the same 2,000 steps of gradient descent then end with a cost a hundred times higher.
# The scalers are fitted on the training set only and applied unchanged to the test set.

inputs = StandardScaler().fit(X_train)
targets = StandardScaler().fit(y_train)
Z_train, t_train = inputs.transform(X_train), targets.transform(y_train)
eta = 0.5
losses = []
for epoch in range(2000):
    model.zero_grad()
    loss = F.mse(model(Z_train), t_train)
    loss.backward()
    for parameter in model.parameters():
        parameter.data -= eta * parameter.grad
    losses.append(float(loss.item()))
print(f"cost after the first step {losses[0]:.4f}, after {len(losses)} steps {losses[-1]:.6f}")


def predict_original_units(model, X):
    return targets.inverse_transform(nablanet.predict(model, inputs.transform(X)))


r2_by_hand = float(r2(predict_original_units(model, X_test), y_test))
print(f"test R^2 of the hand-trained network: {r2_by_hand:.5f}")
assert losses[-1] < losses[0] / 100
assert r2_by_hand > 0.99

# %%
# Training with fit
# -----------------
# ``nablanet.fit`` does the same loop with the choices made explicit: the loss, the optimizer (here
# Adam), minibatches of 16 shuffled samples, a validation split to watch overfitting, and a history of
# every epoch.

model = OneHiddenLayer(rng=numpy.random.default_rng(0))
history = nablanet.fit(model, Z_train, t_train, loss="mse",
                       optimizer=optim.Adam(model.parameters(), lr=0.01), epochs=200, batch_size=16,
                       validation_split=0.2, seed=0, progress=False)
r2_fit = float(r2(predict_original_units(model, X_test), y_test))
print(f"test R^2 after fit: {r2_fit:.5f}")
assert r2_fit > 0.99

# %%
# Learning curves, and predictions against the truth
# --------------------------------------------------
# ``history.history`` holds the loss of every epoch on the training and validation parts
# (``nablanet.plot.learning_curves(history)`` draws them as a figure of its own). On the 400 test points
# the network's outputs lie on the diagonal.

figure, axes = plt.subplots(1, 3, figsize=(14, 4), layout="constrained")
axes[0].semilogy(losses)
axes[0].set_xlabel("step")
axes[0].set_ylabel("C (scaled targets)")
axes[0].set_title("the hand-written loop: gradient descent, eta = 0.5")
axes[1].semilogy(history.history["loss"], label="training")
axes[1].semilogy(history.history["val_loss"], label="validation")
axes[1].set_xlabel("epoch")
axes[1].set_title("fit: Adam, minibatches of 16")
axes[1].legend()
predicted = predict_original_units(model, X_test)
axes[2].plot(y_test, predicted, ".", alpha=0.6)
axes[2].plot([5, 10], [5, 10], "k--", lw=0.8)
axes[2].set_xlabel("y = x0^2 + 3 x0 x1 + x1^2 + 5")
axes[2].set_ylabel("network")
axes[2].set_title(f"test points, R^2 = {r2_fit:.4f}")
