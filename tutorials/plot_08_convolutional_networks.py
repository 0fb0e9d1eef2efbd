r"""
Convolutional networks: convolution as a Toeplitz matrix product
================================================================

The discrete convolution of a filter :math:`f` with a signal :math:`g` is

.. math::

    h(i) = (f * g)(i) = \sum_j f(j)\, g(i - j),

and since it is linear in :math:`g` it is a matrix product, :math:`h = T_f\, g`, with a matrix whose
diagonals are constant, a *Toeplitz* matrix, as the notes draw it for a filter of three values and a
signal of five:

.. math::

    \begin{bmatrix} h(2) \\ h(3) \\ h(4) \\ h(5) \\ h(6) \\ h(7) \end{bmatrix} =
    \begin{bmatrix}
    f(1) & f(0) & 0 & 0 & 0 \\
    f(2) & f(1) & f(0) & 0 & 0 \\
    0 & f(2) & f(1) & f(0) & 0 \\
    0 & 0 & f(2) & f(1) & f(0) \\
    0 & 0 & 0 & f(2) & f(1) \\
    0 & 0 & 0 & 0 & f(2)
    \end{bmatrix}
    \begin{bmatrix} g(1) \\ g(2) \\ g(3) \\ g(4) \\ g(5) \end{bmatrix} .

A convolutional layer is therefore a dense layer :math:`z = T a + b` whose weight matrix is mostly zeros
and repeats the same few numbers along its diagonals: *local* connections and *shared* weights. This
page builds :math:`T` and checks it against NumPy's convolution and nablanet's ``Conv1d`` and
``Conv2d``, then trains a small CNN.
"""

# %%
# The Toeplitz matrix of a 1-D filter
# -----------------------------------
# Row :math:`i` of :math:`T_f` holds the filter reversed, shifted by :math:`i`. The full convolution of a
# filter of length :math:`k` with a signal of length :math:`n` has :math:`n + k - 1` values; the notes'
# six-row matrix is :math:`T_f` without its first row, and NumPy's ``"same"`` mode keeps the middle
# :math:`n` rows.

import matplotlib.pyplot as plt
import numpy

from nablanet import evaluate, fit, nn, optim
from nablanet.datasets import load_digits
from nablanet.preprocessing import train_val_test_split


def toeplitz(f, n):
    """The (n + k - 1, n) matrix T with (T g)(i) = sum_j f(j) g(i - j): the full convolution f * g."""
    k = len(f)
    T = numpy.zeros((n + k - 1, n))
    for i in range(n + k - 1):
        for j in range(n):
            if 0 <= i - j < k:
                T[i, j] = f[i - j]
    return T


f = numpy.array([1.0, 2.0, 3.0])
g = numpy.array([1.0, -1.0, 2.0, 0.5, 3.0])
T = toeplitz(f, len(g))
print("T_f =\n", T)
print("T_f g            =", T @ g)
print("numpy.convolve   =", numpy.convolve(f, g))
assert numpy.allclose(T @ g, numpy.convolve(f, g))
assert numpy.allclose(T[1:-1] @ g, numpy.convolve(f, g, mode="same"))      # the middle n = 5 rows

# %%
# What a convolutional layer computes
# -----------------------------------
# Deep-learning libraries, nablanet included, compute the *cross-correlation*
# :math:`z(t) = \sum_k W(k)\, x(t + k) + b`, the convolution with the filter reversed: since the filter
# is learned, the reversal changes nothing but its stored order. A ``Conv1d`` without padding (``valid``)
# gives the rows of :math:`T` where the whole filter overlaps the signal; with ``padding=k - 1`` it gives
# the full convolution.

conv = nn.Conv1d(1, 1, 3, bias=False, dtype=numpy.float64, rng=0)
conv.W.data[0, 0] = f[::-1]                  # the filter reversed: cross-correlation becomes convolution
signal = g.reshape(1, 1, -1)                 # (N, C_in, L)
valid = numpy.asarray(conv(signal).data).ravel()
conv_full = nn.Conv1d(1, 1, 3, padding=2, bias=False, dtype=numpy.float64, rng=0)
conv_full.W.data[0, 0] = f[::-1]
full = numpy.asarray(conv_full(signal).data).ravel()
print("Conv1d, valid         =", valid, " = rows 2..4 of T_f g")
print("Conv1d, padding k - 1 =", full)
assert numpy.allclose(valid, (T @ g)[2:-2])
assert numpy.allclose(full, T @ g)

# %%
# In two dimensions
# -----------------
# For an image the same holds with two indices: flattening a :math:`5 \times 5` image into a vector of 25
# values, a :math:`3 \times 3` filter becomes a :math:`9 \times 25` matrix (one row per output pixel of the
# ``valid`` convolution), *doubly block Toeplitz*: blocks of Toeplitz matrices, themselves arranged as a
# Toeplitz matrix. We build it by sending each unit image :math:`e_j` through ``Conv2d``: its output is
# column :math:`j` of the matrix.

conv2d = nn.Conv2d(1, 1, 3, bias=False, dtype=numpy.float64, rng=0)
size = 5
basis = numpy.eye(size * size).reshape(size * size, 1, size, size)
M = numpy.asarray(conv2d(basis).data).reshape(size * size, -1).T      # column j = conv2d(e_j)
image = numpy.random.default_rng(1).normal(size=(1, 1, size, size))
assert numpy.allclose(M @ image.ravel(), numpy.asarray(conv2d(image).data).ravel())
print(f"the 3x3 filter as a matrix: shape {M.shape}, {numpy.count_nonzero(M)} of {M.size} entries non-zero, "
      f"{len(numpy.unique(numpy.round(M[M != 0], 12)))} distinct values")
assert len(numpy.unique(numpy.round(M[M != 0], 12))) == 9

figure, axes = plt.subplots(1, 3, figsize=(12, 3.6), layout="constrained",
                            gridspec_kw={"width_ratios": [1, 1.2, 3]})
axes[0].imshow(T, cmap="RdBu_r", vmin=-3, vmax=3)
axes[0].set_title("$T_f$: a 1-D filter of 3")
axes[1].imshow(conv2d.W.data[0, 0], cmap="RdBu_r", vmin=-1, vmax=1)
axes[1].set_title("a 3x3 filter W")
axes[2].imshow(M, cmap="RdBu_r", vmin=-1, vmax=1)
axes[2].set_title("the same filter as a 9 x 25 matrix on 5x5 images")
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])

# %%
# Shared weights, and what they buy
# ---------------------------------
# A ``Conv2d(1, 8, 3, padding=1)`` maps an 8x8 digit to eight 8x8 feature maps with :math:`8 \times 9 + 8 = 80`
# parameters. A ``Dense`` layer with the same input and output sizes would have
# :math:`64 \times 512 + 512 = 33{,}280`. And because the same filter slides over the image, a shifted
# input gives a shifted output (translation equivariance):

layer = nn.Conv2d(1, 8, 3, padding=1, rng=0)
digit = load_digits(dtype="float32")[0][0].reshape(1, 1, 8, 8) / 16.0
shifted = numpy.roll(digit, 1, axis=3)
shifted[..., 0] = 0.0                              # shift right by one pixel, zeros coming in
out, out_shifted = numpy.asarray(layer(digit).data), numpy.asarray(layer(shifted).data)
print(f"parameters: Conv2d {layer.num_parameters()}, Dense(64, 512) {nn.Dense(64, 512).num_parameters()}")
# Away from the borders, shifting the input shifts every feature map by the same pixel.
assert numpy.allclose(out_shifted[..., 2:-1], out[..., 1:-2], atol=1e-6)

# %%
# A small CNN on the digits
# -------------------------
# Convolution (8 filters of 3x3, ReLU), max-pooling by 2, and a dense output layer, trained by Adam for
# ten epochs on 60% of scikit-learn's 8x8 digits and tested on 20% it never saw.

X, y = load_digits(dtype="float32")
X = (X / 16.0).reshape(-1, 1, 8, 8)                # (N, C, H, W)
X_train, X_val, X_test, y_train, y_val, y_test = train_val_test_split(X, y, val_size=0.2, test_size=0.2,
                                                                      stratify=y, rng=0)
rng = numpy.random.default_rng(0)
cnn = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, activation="relu", rng=rng), nn.MaxPool2d(2), nn.Flatten(),
                    nn.Dense(8 * 4 * 4, 10, rng=rng))
history = fit(cnn, X_train, y_train, loss="cross_entropy", optimizer=optim.Adam(cnn.parameters(), lr=3e-3),
              epochs=10, batch_size=32, validation_data=(X_val, y_val), metrics=["accuracy"], seed=0, progress=False)
test = evaluate(cnn, X_test, y_test, loss="cross_entropy", metrics=["accuracy"])
print(cnn)
print(f"{cnn.num_parameters()} parameters, test accuracy {test['accuracy']:.3f}")
assert test["accuracy"] > 0.9

figure, axes = plt.subplots(1, 8, figsize=(12, 1.8), layout="constrained")
for k, ax in enumerate(axes):
    ax.imshow(cnn.layers[0].W.data[k, 0], cmap="RdBu_r")
    ax.set_title(f"filter {k}", fontsize=9)
    ax.axis("off")
figure.suptitle("the eight learned 3x3 filters")
