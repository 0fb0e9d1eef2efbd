r"""
Logic gates: where a straight line stops
========================================

The notes open with three gates of two inputs :math:`x_1, x_2 \in \{0, 1\}`:

====  ====  ===  ==  ===
x1    x2    AND  OR  XOR
====  ====  ===  ==  ===
0     0     0    0   0
0     1     0    1   1
1     0     0    1   1
1     1     1    1   0
====  ====  ===  ==  ===

and fit them first with linear regression, then with logistic regression, then with a network of one
hidden layer. AND and OR can be cut by one straight line; XOR cannot, and this page shows the two
linear models failing on it while the network, whose hidden layer bends the boundary, succeeds.

Linear regression in closed form, as the notes write it with the design matrix
:math:`X = [1, x_1, x_2]`:

.. math::

    \hat\theta = (X^T X)^{-1} X^T y .

An output above 0.5 is read as class 1.
"""

# %%
# The data and the three models
# -----------------------------
# ``nablanet.datasets.gate`` returns the four inputs and the gate's targets. The three models are the
# ones of ``nablanet demo gates`` (the library's demo of this page), so we reuse its functions:
# ``linear_regression`` (the notes' pseudo-inverse formula), ``logistic_regression`` (one unit
# :math:`a = \sigma(z)`, :math:`z = W^T x + b`, trained on the cross-entropy) and ``network``
# (``Dense(2, 4, tanh) -> Dense(4, 1, sigmoid)``).

import matplotlib.pyplot as plt
import numpy as np

from nablanet import datasets, plot, predict
from nablanet.demos import gates

X, y_xor = datasets.gate("xor")
print("inputs:\n", X)
print("XOR targets:", y_xor)

# %%
# Linear regression
# -----------------
# For XOR the normal equations give :math:`\hat\theta = (0.5, 0, 0)`: the constant 0.5 at every
# input. The best straight plane through the four points is flat; it makes no decision at all.

theta = {}
for name in gates.GATES:
    X, y = datasets.gate(name)
    theta[name], fitted = gates.linear_regression(X, y)
    print(f"{name.upper():>3}: theta = {np.round(theta[name], 3) + 0.0}, outputs = {np.round(fitted(X), 3) + 0.0}")

assert np.allclose(theta["xor"], [0.5, 0.0, 0.0])

# %%
# Logistic regression and the network
# -----------------------------------
# Both are trained by full-batch Adam on the binary cross-entropy. ``gates.classify`` reads an output
# above 0.5 as class 1, below as 0, and an output within :math:`10^{-6}` of 0.5 as undecided
# (counted wrong): that is what both linear models give on XOR.

EPOCHS = 300
accuracy = {}
models = {}
for name in gates.GATES:
    X, y = datasets.gate(name)
    _, linear = gates.linear_regression(X, y)
    logistic = gates.logistic_regression(X, y, epochs=EPOCHS, seed=0)
    network = gates.network(X, y, epochs=EPOCHS, seed=0)
    models[name] = {
        "linear regression": linear,
        "logistic regression": lambda points, m=logistic: predict(m, points)[:, 0],
        "network": lambda points, m=network: predict(m, points)[:, 0],
    }
    accuracy[name] = {model: float(np.mean(gates.classify(f(X)) == y)) for model, f in models[name].items()}

print(f"{'gate':>4}  {'linear regression':>18}  {'logistic regression':>20}  {'network':>8}")
for name in gates.GATES:
    row = accuracy[name]
    print(f"{name.upper():>4}  {row['linear regression']:>18.2f}  {row['logistic regression']:>20.2f}  "
          f"{row['network']:>8.2f}")

# %%
# The decision boundaries
# -----------------------
# The line in each panel is where the output crosses 0.5. The linear models draw straight lines (or
# none, when the output is 0.5 everywhere); the network's boundary curves around the XOR points.

figure, axes = plt.subplots(3, 3, figsize=(11, 10), layout="constrained")
for row, name in enumerate(gates.GATES):
    X, y = datasets.gate(name)
    for column, (model, f) in enumerate(models[name].items()):
        # Rounded like the decision, so that 0.5 plus rounding noise draws no boundary.
        plot.decision_boundary(lambda points, f=f: np.round(f(points), 6), X, y.astype(int), resolution=101,
                               ax=axes[row, column], threshold=0.5, title=f"{name.upper()}: {model}")
figure.suptitle("AND, OR, XOR: decision boundaries (line: output 0.5)")

# %%
# What this shows
# ---------------
# Every model solves AND and OR. On XOR the linear models are at best three right out of four (here
# both give 0.5 everywhere); the network with one hidden layer gets all four.

for name in ("and", "or"):
    assert all(value == 1.0 for value in accuracy[name].values()), accuracy[name]
assert accuracy["xor"]["linear regression"] < 1.0
assert accuracy["xor"]["logistic regression"] < 1.0
assert accuracy["xor"]["network"] == 1.0
