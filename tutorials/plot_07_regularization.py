r"""
Regularization, batch normalization, dropout and gradient clipping
==================================================================

A network with more parameters than data points can fit the noise of its training set: its training
error falls while its error on new data rises. The notes' remedies:

- an **L2 penalty** (ridge, weight decay) adds :math:`\lambda \sum_l \|W^l\|_2^2` to the cost, and an
  L1 penalty :math:`\lambda \sum_l \|W^l\|_1`, pulling the weights towards zero;
- **dropout**: at every training step each unit is dropped (set to 0) with probability :math:`p`, and
  the survivors are scaled by :math:`1 / (1 - p)` so that the expected activation is unchanged; at
  prediction time nothing is dropped;
- **batch normalization**: before the activation, each unit's :math:`z` is standardized over the
  minibatch, :math:`\hat z = (z - \mu_B) / \sqrt{\sigma_B^2 + \epsilon}`, then scaled and shifted by two
  learned parameters, :math:`\gamma \hat z + \beta`;
- **gradient clipping**: a gradient whose norm exceeds a threshold is scaled down to it, which stops a
  single huge gradient (the exploding-gradient problem, mostly of recurrent networks) from throwing the
  weights away.
"""

# %%
# An over-fitting network
# -----------------------
# Twenty noisy samples of :math:`\sin 3x` on :math:`[-1, 1]` (noise standard deviation 0.3), and a network
# ``1 -> 64 -> 64 -> 1`` with tanh units: 4,353 parameters for 20 points. The test error is measured
# against the noiseless function on 200 points.

import matplotlib.pyplot as plt
import numpy

from nablanet import fit, nn, optim, predict
from nablanet.datasets import load_digits
from nablanet.demos.glorot_bengio import deep_network
from nablanet.nn import functional as F

rng = numpy.random.default_rng(0)
x = numpy.sort(rng.uniform(-1.0, 1.0, 20))
y = numpy.sin(3 * x) + 0.3 * rng.standard_normal(20)
x_test = numpy.linspace(-1.0, 1.0, 200)
y_test = numpy.sin(3 * x_test)


def network(dropout=0.0, seed=0):
    rng = numpy.random.default_rng(seed)
    layers = [nn.Dense(1, 64, activation="tanh", rng=rng, dtype=numpy.float64)]
    if dropout:
        layers.append(nn.Dropout(dropout, rng=rng))
    layers.append(nn.Dense(64, 64, activation="tanh", rng=rng, dtype=numpy.float64))
    if dropout:
        layers.append(nn.Dropout(dropout, rng=rng))
    layers.append(nn.Dense(64, 1, rng=rng, dtype=numpy.float64))
    return nn.Sequential(*layers)


def train(model, l2=0.0):
    fit(model, x[:, None], y[:, None], loss="mse", optimizer=optim.Adam(model.parameters(), lr=0.02), epochs=500,
        batch_size=None, l2=l2, seed=0, progress=False)
    weights = sum(float(numpy.sum(p.data ** 2)) for name, p in model.named_parameters() if name.endswith("W"))
    return {
        "model": model,
        "train": float(numpy.mean((predict(model, x[:, None])[:, 0] - y) ** 2)),
        "test": float(numpy.mean((predict(model, x_test[:, None])[:, 0] - y_test) ** 2)),
        "sum W^2": weights,
    }


# %%
# The L2 penalty, for a few values of lambda
# ------------------------------------------
# ``fit(..., l2=lambda)`` adds :math:`\lambda \sum_l \|W^l\|_2^2` (weights only, not biases) to the mean
# squared error. As :math:`\lambda` grows the weights shrink and the training error rises; the test error
# first falls (less noise is fitted), then rises again when the penalty stops the network from fitting
# the function itself.

lambdas = (0.0, 1e-3, 1e-2)
runs = {lam: train(network(), l2=lam) for lam in lambdas}
print(f"{'lambda':>8}  {'train mse':>9}  {'test mse':>8}  {'sum W^2':>8}")
for lam, run in runs.items():
    print(f"{lam:>8g}  {run['train']:>9.4f}  {run['test']:>8.4f}  {run['sum W^2']:>8.1f}")

train_errors = [runs[lam]["train"] for lam in lambdas]
weight_norms = [runs[lam]["sum W^2"] for lam in lambdas]
assert train_errors == sorted(train_errors)
assert weight_norms == sorted(weight_norms, reverse=True)
assert runs[1e-3]["test"] < 0.7 * runs[0.0]["test"]
assert runs[1e-2]["test"] > runs[1e-3]["test"]

# %%
# Dropout
# -------
# In training mode a ``Dropout(p)`` layer zeroes each value with probability :math:`p` and scales the rest
# by :math:`1/(1-p)`; in evaluation mode (``model.eval()``, and always in ``predict``) it passes its input
# through unchanged.

layer = nn.Dropout(0.5, rng=0)
ones = numpy.ones((1, 10_000))
layer.train()
dropped = numpy.asarray(layer(ones).data)
layer.eval()
passed = numpy.asarray(layer(ones).data)
print(f"training mode: {numpy.mean(dropped == 0):.1%} zeros, survivors = {dropped.max():g}, mean {dropped.mean():.3f}")
print(f"evaluation mode: all equal to 1: {bool(numpy.all(passed == 1))}")
assert abs(numpy.mean(dropped == 0) - 0.5) < 0.02 and abs(dropped.mean() - 1.0) < 0.04
assert numpy.all(passed == 1)

# %%
# The same over-fitting network with dropout after each hidden layer (:math:`p = 0.2`) fits less noise:

runs["dropout 0.2"] = train(network(dropout=0.2))
print(f"dropout 0.2: train mse {runs['dropout 0.2']['train']:.4f}, test mse {runs['dropout 0.2']['test']:.4f}")
assert runs["dropout 0.2"]["test"] < 0.85 * runs[0.0]["test"]

figure, ax = plt.subplots(figsize=(7, 4), layout="constrained")
ax.plot(x, y, "ko", label="training data")
ax.plot(x_test, y_test, "k--", lw=0.8, label="sin 3x")
for key, label in ((0.0, "no regularization"), (1e-3, "L2, lambda = 1e-3"), ("dropout 0.2", "dropout 0.2")):
    ax.plot(x_test, predict(runs[key]["model"], x_test[:, None])[:, 0],
            label=f"{label} (test mse {runs[key]['test']:.3f})")
ax.legend(fontsize=8)
ax.set_title("20 noisy points, 4,353 parameters")

# %%
# Batch normalization
# -------------------
# In training mode ``BatchNorm`` standardizes each feature over the batch (then applies
# :math:`\gamma = 1`, :math:`\beta = 0` at initialization); in evaluation mode it uses the running
# averages of the batch statistics it saw while training.

norm = nn.BatchNorm(3)
z = rng.normal(5.0, 4.0, (64, 3))
z_hat = numpy.asarray(norm(z).data)
print("batch mean", numpy.round(z_hat.mean(axis=0), 6) + 0.0, "batch std", numpy.round(z_hat.std(axis=0), 4))
assert numpy.allclose(z_hat.mean(axis=0), 0.0, atol=1e-5) and numpy.allclose(z_hat.std(axis=0), 1.0, atol=1e-3)

# %%
# That standardization is the notes' remedy for vanishing gradients too. The twenty-layer sigmoid network
# with :math:`N(0, 1)` weights of the previous tutorial passes to its first layer a few ten-thousandths of
# its output layer's gradient; with a ``BatchNorm`` before each sigmoid, the inputs :math:`z` of the
# sigmoids are of order one again and the gradient reaches the first layer.

X_digits, y_digits = load_digits(dtype="float32")
X_digits = X_digits[:512] / 16.0
y_digits = y_digits[:512]


def with_batch_norm(plain):
    """The same Dense layers (and weights), with a BatchNorm on each hidden layer's z before its sigmoid."""
    layers = []
    for dense in plain.layers[:-1]:
        linear = nn.Dense(dense.W.shape[0], dense.W.shape[1])
        linear.W.data[...] = dense.W.data
        layers += [linear, nn.BatchNorm(dense.W.shape[1]), nn.Sigmoid()]
    return nn.Sequential(*layers, plain.layers[-1])


def first_over_last(model):
    model.zero_grad()
    F.cross_entropy(model(X_digits), y_digits).backward()
    dense = [layer for layer in model.layers if isinstance(layer, nn.Dense)]
    norms = [float(numpy.linalg.norm(layer.W.grad)) for layer in dense]
    return norms[0] / norms[-1], norms


plain = deep_network("sigmoid", "normal", depth=20, rng=0)
ratio_plain, norms_plain = first_over_last(plain)
ratio_bn, norms_bn = first_over_last(with_batch_norm(plain))
print(f"|dC/dW^1| / |dC/dW^out|: plain {ratio_plain:.1e}, with batch norm {ratio_bn:.1e}")
assert ratio_bn > 100 * ratio_plain

figure, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
ax.semilogy(range(1, 22), norms_plain, "o-", label="sigmoid + N(0,1)")
ax.semilogy(range(1, 22), norms_bn, "s-", label="the same with BatchNorm before each sigmoid")
ax.set_xlabel("layer l")
ax.set_ylabel(r"$\|\partial C / \partial W^l\|_F$")
ax.legend()

# %%
# Gradient clipping
# -----------------
# ``optim.clip_by_global_norm`` rescales a list of gradients so that their joint norm
# :math:`\sqrt{\sum_l \|g_l\|^2}` is at most a threshold, keeping their direction. Optimizers take it as an
# option (``Adam(..., clip_norm=1.0)``). A network whose weights are too large (here ``N(0, 1)`` weights in
# a deep ReLU network, where He's scale would be :math:`\sqrt{2 / 32} = 0.25`) produces exploding
# gradients:

exploding = deep_network("relu", "normal", depth=6, rng=0)
exploding.zero_grad()
F.cross_entropy(exploding(X_digits), y_digits).backward()
gradients = [numpy.asarray(p.grad) for p in exploding.parameters()]
clipped, norm_before = optim.clip_by_global_norm(gradients, 1.0)
# The norm and the angle in float64: float32 sums of ~10^4 squares would round them by ~1e-7.
gradients, clipped = [g.astype(numpy.float64) for g in gradients], [c.astype(numpy.float64) for c in clipped]
norm_after = float(numpy.sqrt(sum(numpy.sum(g ** 2) for g in clipped)))
cosine = sum(float(numpy.sum(g * c)) for g, c in zip(gradients, clipped)) / (
    float(numpy.sqrt(sum(numpy.sum(g ** 2) for g in gradients))) * norm_after)
print(f"global gradient norm {norm_before:.3g} -> {norm_after:.3g} after clipping; cosine of the angle {cosine:.6f}")
assert norm_before > 1e3
assert abs(norm_after - 1.0) < 1e-6 and cosine > 1 - 1e-9

# %%
# One SGD step with :math:`\eta = 0.01` on that gradient moves the weights by :math:`\eta \|g\|`: without
# clipping the cost jumps; with clipping it falls.


def cost_after_one_step(clip_norm):
    model = deep_network("relu", "normal", depth=6, rng=0)
    optimizer = optim.SGD(model.parameters(), lr=0.01, clip_norm=clip_norm)
    before = float(F.cross_entropy(model(X_digits), y_digits).item())
    model.zero_grad()
    F.cross_entropy(model(X_digits), y_digits).backward()
    optimizer.step()
    return before, float(F.cross_entropy(model(X_digits), y_digits).item())


with numpy.errstate(over="ignore", invalid="ignore"):       # the unclipped step overflows float32
    before, unclipped = cost_after_one_step(None)
    _, clipped_cost = cost_after_one_step(1.0)
print(f"cost {before:.4g}; after one step: unclipped {unclipped:.4g}, clipped {clipped_cost:.4g}")
assert clipped_cost < before
assert not numpy.isfinite(unclipped) or unclipped > before
