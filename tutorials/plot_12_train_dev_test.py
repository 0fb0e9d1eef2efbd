r"""
Train, dev and test sets, and the train-dev mismatch
====================================================

The notes' top-down recipe: divide the data into a **training** set, a **validation or dev** set and a
**test** set. Train on the first, make every decision (architecture, :math:`\eta`, :math:`\lambda`, when to
stop) on the dev set, and score the test set once at the end: "it is crucial that we do not use any of
the test data to train the algorithm. This is a cardinal sin in ML." Then

1. estimate the optimal error rate;
2. reduce under-fitting (bias) on the training set;
3. make sure you are not over-fitting.

When the training data come from a different distribution than the data the model will meet (collected
differently, or cheaper to collect in another way), a good dev score can hide a bad test score, or a bad
dev score can have a cause that more training data of the first kind will not fix. Andrew Ng's
diagnostic, quoted in the notes, makes **two** dev sets: a *train-dev* set drawn from the training
distribution and held out of training, and the dev set drawn from the target distribution. The errors

.. math::

    e_{\text{optimal}} \le e_{\text{train}} \le e_{\text{train-dev}} \quad\text{and}\quad e_{\text{dev}}

split the error into avoidable bias (:math:`e_{\text{train}} - e_{\text{optimal}}`), variance
(:math:`e_{\text{train-dev}} - e_{\text{train}}`), and the **train-test mismatch**
(:math:`e_{\text{dev}} - e_{\text{train-dev}}`); a test error above the dev error, finally, is over-fitting
to the dev set (:math:`e_{\text{test}} - e_{\text{dev}}`), from the decisions tuned on it.
``nablanet.diagnostics.bias_variance_report`` measures the four gaps, names the largest and the notes'
remedy for it, and draws them.
"""

# %%
# Two distributions
# -----------------
# The training distribution: scikit-learn's 8x8 digits as scanned. The target distribution: the same kind
# of digits from another "scanner", shifted one pixel to the right and noisier. Both are shuffled once,
# with a fixed seed.

import matplotlib.pyplot as plt
import numpy

from nablanet import fit, nn, optim
from nablanet.datasets import load_digits
from nablanet.diagnostics import bias_variance_report

X, y = load_digits(dtype="float32")
X = X / 16.0
rng = numpy.random.default_rng(0)
order = rng.permutation(len(X))
X, y = X[order], y[order]


def other_scanner(images, rng):
    """Shift each 8x8 image one pixel to the right and add noise of standard deviation 0.15."""
    shifted = numpy.roll(images.reshape(-1, 8, 8), 1, axis=2)
    shifted[:, :, 0] = 0.0
    noisy = shifted + rng.normal(0.0, 0.15, shifted.shape)
    return numpy.clip(noisy, 0.0, 1.0).reshape(-1, 64).astype(numpy.float32)


source_X, source_y = X[:1200], y[:1200]                       # the training distribution
target_X, target_y = other_scanner(X[1200:], rng), y[1200:]   # the target distribution, 597 images

figure, axes = plt.subplots(2, 6, figsize=(9, 3.2), layout="constrained")
for k in range(6):
    axes[0, k].imshow(source_X[k].reshape(8, 8), cmap="gray_r")
    axes[1, k].imshow(target_X[k].reshape(8, 8), cmap="gray_r")
    axes[0, k].set_title(f"training: {source_y[k]}", fontsize=8)
    axes[1, k].set_title(f"target: {target_y[k]}", fontsize=8)
for ax in axes.ravel():
    ax.axis("off")

# %%
# The four sets
# -------------
# - **train**: 1,000 images of the training distribution;
# - **train-dev**: the other 200 of the training distribution, never trained on;
# - **dev** and **test**: 200 and 197 images of the target distribution, from the same shuffle, so that
#   the two agree with each other;
# - the last 200 target images are kept aside for the remedy below.

train = (source_X[:1000], source_y[:1000])
train_dev = (source_X[1000:], source_y[1000:])
dev = (target_X[:200], target_y[:200])
test = (target_X[200:397], target_y[200:397])
target_extra = (target_X[397:], target_y[397:])


def trained_network(X_train, y_train):
    """64 -> 64 ReLU -> 10, trained by Adam (eta = 0.003) for 30 epochs of batches of 32."""
    rng = numpy.random.default_rng(0)
    model = nn.Sequential(nn.Dense(64, 64, activation="relu", rng=rng), nn.Dense(64, 10, rng=rng))
    fit(model, X_train, y_train, loss="cross_entropy", optimizer=optim.Adam(model.parameters(), lr=3e-3),
        epochs=30, batch_size=32, seed=0, progress=False)
    return model


# %%
# The diagnostic
# --------------
# For digits this clean a person errs on almost none, so we give :math:`e_{\text{optimal}} = 0` as the
# optimal-error estimate. The report measures each set's error with the trained model (the fraction of
# wrongly classified images), and prints the errors, the gaps and what the largest one says to do.

only_source = bias_variance_report(model=trained_network(*train), optimal=0.0, train=train, train_dev=train_dev,
                                   dev=dev, test=test)
print(only_source)

# %%
# The network fits its training set and generalizes within its own distribution (a small variance), but
# fails on the target: the gap is mismatch, not over-fitting, and regularization or more data of the
# training kind would not close it. Dev and test, from one distribution, agree: no over-fitting to dev.

assert only_source.train < 0.02
assert only_source.variance < 0.06                                             # little variance
assert only_source.largest == "data mismatch" and only_source.data_mismatch > 0.3
assert abs(only_source.dev_overfitting) < 0.06

# %%
# The picture: a bar per set, in the order the data get further from what the network was fit on, and an
# arrow per gap, the largest in red (``plot()`` alone returns a Figure of its own; here it draws into
# pyplot's axes so that the page shows it).

figure, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
only_source.plot(ax=ax)

# %%
# A remedy: train on some data like the target
# --------------------------------------------
# The report's remedy for mismatch: make the training data more like the data that matter. Here, 200
# target images (the ones kept aside, never in dev or test) join the training set. The train-dev, dev and
# test sets do not change; the training error is now that of the mixed training set.

mixed_train = (numpy.concatenate([train[0], target_extra[0]]), numpy.concatenate([train[1], target_extra[1]]))
mixed = bias_variance_report(model=trained_network(*mixed_train), optimal=0.0, train=mixed_train,
                             train_dev=train_dev, dev=dev, test=test)
print(mixed)

# %%
# The mismatch falls to a quarter of what it was, and the test error with it; it is still the largest gap,
# so the report's advice stands: more training data like the target.

assert mixed.data_mismatch < 0.5 * only_source.data_mismatch
assert mixed.test < 0.5 * only_source.test
assert mixed.largest == "data mismatch"

figure, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
for ax, report, title in ((axes[0], only_source, "training distribution only"),
                          (axes[1], mixed, "with 200 target images")):
    report.plot(ax=ax)
    ax.set_title(f"{title}\n{ax.get_title()}")
    ax.set_ylim(axes[0].get_ylim())  # one scale for both: the drop of the dev and test bars shows
