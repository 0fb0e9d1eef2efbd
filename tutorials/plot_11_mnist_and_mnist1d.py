r"""
MNIST and MNIST-1D
==================

MNIST, 70,000 handwritten digits of :math:`28 \times 28` pixels, is the data set the notes quote ("for
the MNIST data set you can easily get a high accuracy using just one hidden layer with a few hundred
neurons"). It is also too easy to tell models apart: logistic regression already reaches about 92%.
MNIST-1D (Greydanus, 2020) is a one-dimensional stand-in of 40 values per digit, generated on your
machine in seconds, on which a linear model, a dense network and a convolutional network come out far
apart.

**Getting MNIST.** nablanet never downloads anything. Fetch the four IDX files once, from the mirror
PyTorch's torchvision uses (``https://ossci-datasets.s3.amazonaws.com/mnist/``) or any copy of Yann
LeCun's original, and put them in one folder, compressed or not::

    train-images-idx3-ubyte.gz   train-labels-idx1-ubyte.gz
    t10k-images-idx3-ubyte.gz    t10k-labels-idx1-ubyte.gz

This page reads them from ``~/data/mnist``, or from the folder named by the environment variable
``MNIST_DIR``; Keras' ``mnist.npz`` in that folder works too. **Without the files** the page says so and
uses the 8x8 digits that ship with scikit-learn instead, so that it still runs.
"""

# %%
# MNIST from its IDX files
# ------------------------
# ``datasets.load_mnist(folder)`` validates every file (magic numbers, sizes, labels) before trusting it;
# ``dtype="float32"`` scales the pixels to :math:`[0, 1]` and ``flatten=True`` gives rows of 784 values.

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy

from nablanet import evaluate, fit, nn, optim, plot, predict
from nablanet.datasets import load_digits, load_mnist, load_mnist1d
from nablanet.train import confusion_matrix

folder = Path(os.environ.get("MNIST_DIR", "~/data/mnist")).expanduser()
try:
    X_train, y_train, X_test, y_test = load_mnist(folder, dtype="float32", flatten=True)
    source = f"MNIST from {folder}"
    side = 28
    # A tutorial-sized run: the first 10,000 training images (all 60,000 take a few minutes).
    X_train, y_train = X_train[:10_000], y_train[:10_000]
    epochs = 5
except FileNotFoundError as missing:
    print(f"MNIST files not found ({missing}).")
    print("Using scikit-learn's 8x8 digits instead: see the top of this page for how to get MNIST.")
    X, y = load_digits(dtype="float32")
    X = X / 16.0
    order = numpy.random.default_rng(0).permutation(len(X))
    train_part, test_part = order[:1347], order[1347:]
    X_train, y_train, X_test, y_test = X[train_part], y[train_part], X[test_part], y[test_part]
    source = "scikit-learn's 8x8 digits (MNIST files not found)"
    side = 8
    epochs = 20         # 22 batches an epoch: 440 steps, as many as 3 epochs of MNIST's subset
print(f"{source}: {len(X_train)} training and {len(X_test)} test images of {side}x{side} pixels")

figure, axes = plt.subplots(2, 8, figsize=(10, 2.8), layout="constrained")
for ax, image, label in zip(axes.ravel(), X_train, y_train):
    ax.imshow(image.reshape(side, side), cmap="gray_r")
    ax.set_title(str(label), fontsize=9)
    ax.axis("off")
figure.suptitle(source)

# %%
# Logistic regression and one hidden layer
# ----------------------------------------
# Logistic (softmax) regression is a single ``Dense`` layer trained on the cross-entropy; the network adds
# a hidden layer of 128 ReLU units. Both: Adam, :math:`\eta = 3 \cdot 10^{-3}`, batches of 64, 5 epochs on
# MNIST (20 on the small digits).

n_pixels = side * side


def train(model):
    fit(model, X_train, y_train, loss="cross_entropy", optimizer=optim.Adam(model.parameters(), lr=3e-3),
        epochs=epochs, batch_size=64, seed=0, progress=False)
    return evaluate(model, X_test, y_test, loss="cross_entropy", metrics=["accuracy"])["accuracy"]


rng = numpy.random.default_rng(0)
logistic = nn.Sequential(nn.Dense(n_pixels, 10, rng=rng))
network = nn.Sequential(nn.Dense(n_pixels, 128, activation="relu", rng=rng), nn.Dense(128, 10, rng=rng))
accuracy_2d = {"logistic regression": train(logistic), "one hidden layer": train(network)}
for name, value in accuracy_2d.items():
    print(f"{name:>20}: test accuracy {value:.3f}")
assert accuracy_2d["logistic regression"] > 0.85
assert accuracy_2d["one hidden layer"] > 0.9

counts = confusion_matrix(predict(network, X_test).argmax(axis=1), y_test, num_classes=10)
figure, ax = plt.subplots(figsize=(5, 4.5), layout="constrained")
plot.confusion_matrix(counts, normalize="true", ax=ax, title="one hidden layer: rows true, columns predicted")

# %%
# MNIST-1D
# --------
# Each MNIST-1D sample is one of ten 1-D digit templates, padded, scaled, shifted, sheared and noised into
# 40 values. ``load_mnist1d`` generates it with the ``mnist1d`` package, offline; 3,000 samples here (the
# standard set has 5,000), split 80/20 as the package does.

X1_train, y1_train, X1_test, y1_test, t = load_mnist1d(num_samples=3000, dtype="float32", return_t=True)
figure, axes = plt.subplots(1, 5, figsize=(11, 2.2), layout="constrained", sharey=True)
for ax, signal, label in zip(axes, X1_train, y1_train):
    ax.plot(t, signal)
    ax.set_title(f"digit {label}", fontsize=9)
figure.suptitle("MNIST-1D: five training signals")

# %%
# Three models, from the MNIST-1D paper's table: logistic regression, a dense network 40-100-100-10, and a
# small CNN (two convolutions with pooling). The paper reports 32%, 68% and 94% with 4,000 training
# signals and long training; with 2,400 signals and a few seconds each, the order is the same.


def train_1d(model, inputs, test_inputs, epochs, lr):
    fit(model, inputs, y1_train, loss="cross_entropy", optimizer=optim.Adam(model.parameters(), lr=lr),
        epochs=epochs, batch_size=100, seed=0, progress=False)
    return evaluate(model, test_inputs, y1_test, loss="cross_entropy", metrics=["accuracy"])["accuracy"]


rng = numpy.random.default_rng(0)
mlp = nn.Sequential(nn.Dense(40, 100, activation="relu", rng=rng), nn.Dense(100, 100, activation="relu", rng=rng),
                    nn.Dense(100, 10, rng=rng))
cnn = nn.Sequential(nn.Conv1d(1, 16, 5, padding="same", activation="relu", rng=rng), nn.MaxPool1d(2),
                    nn.Conv1d(16, 16, 3, padding="same", activation="relu", rng=rng), nn.MaxPool1d(2),
                    nn.Flatten(), nn.Dense(16 * 10, 10, rng=rng))
accuracy_1d = {
    "logistic regression": train_1d(nn.Sequential(nn.Dense(40, 10, rng=rng)), X1_train, X1_test, 15, 1e-2),
    "MLP 40-100-100-10": train_1d(mlp, X1_train, X1_test, 20, 3e-3),
    "CNN": train_1d(cnn, X1_train[:, None, :], X1_test[:, None, :], 12, 3e-3),    # (N, C=1, L=40)
}
for name, value in accuracy_1d.items():
    print(f"MNIST-1D {name:>20}: test accuracy {value:.3f}")

figure, ax = plt.subplots(figsize=(6, 3), layout="constrained")
ax.barh(list(accuracy_1d), list(accuracy_1d.values()))
ax.set_xlim(0, 1)
ax.set_xlabel("test accuracy")
ax.set_title("MNIST-1D separates the models")

assert accuracy_1d["logistic regression"] < 0.45
assert accuracy_1d["MLP 40-100-100-10"] > accuracy_1d["logistic regression"] + 0.1
assert accuracy_1d["CNN"] > accuracy_1d["MLP 40-100-100-10"] + 0.1

# %%
# ``examples/mnist1d.py`` trains the paper's four models (with a GRU) to their full accuracy: 33%, 82%,
# 98% and 97%, above the paper's table, in a few minutes.
