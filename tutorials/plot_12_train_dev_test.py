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
(:math:`e_{\text{dev}} - e_{\text{train-dev}}`).
"""

# %%
# Two distributions
# -----------------
# The training distribution: scikit-learn's 8x8 digits as scanned. The target distribution: the same kind
# of digits from another "scanner", shifted one pixel to the right and noisier. Both are shuffled once,
# with a fixed seed.

import matplotlib.pyplot as plt
import numpy

from nablanet import evaluate, fit, nn, optim
from nablanet.datasets import load_digits

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


def train_and_score(X_train, y_train):
    rng = numpy.random.default_rng(0)
    model = nn.Sequential(nn.Dense(64, 64, activation="relu", rng=rng), nn.Dense(64, 10, rng=rng))
    fit(model, X_train, y_train, loss="cross_entropy", optimizer=optim.Adam(model.parameters(), lr=3e-3),
        epochs=30, batch_size=32, seed=0, progress=False)

    def error(part):
        return 1.0 - evaluate(model, *part, loss="cross_entropy", metrics=["accuracy"])["accuracy"]

    return {"train": error((X_train, y_train)), "train-dev": error(train_dev), "dev": error(dev), "test": error(test)}


# %%
# The diagnostic
# --------------
# For digits this clean a person errs on almost none, so we take :math:`e_{\text{optimal}} \approx 0`.


def report(errors, title):
    print(title)
    print(f"  errors: train {errors['train']:.3f}, train-dev {errors['train-dev']:.3f}, dev {errors['dev']:.3f}, "
          f"test {errors['test']:.3f}")
    print(f"  avoidable bias {errors['train']:.3f}, variance {errors['train-dev'] - errors['train']:.3f}, "
          f"mismatch {errors['dev'] - errors['train-dev']:.3f}")


only_source = train_and_score(*train)
report(only_source, "trained on the training distribution only:")

# %%
# The network fits its training set and generalizes within its own distribution (a small variance), but
# fails on the target: the gap is mismatch, not over-fitting, and regularization or more data of the
# training kind would not close it. Dev and test, from one distribution, agree.

assert only_source["train"] < 0.02
assert only_source["train-dev"] - only_source["train"] < 0.06                  # little variance
assert only_source["dev"] - only_source["train-dev"] > 0.3                     # large mismatch
assert abs(only_source["dev"] - only_source["test"]) < 0.06

# %%
# A remedy: train on some data like the target
# --------------------------------------------
# The usual fix for mismatch is to make the training data more like the data that matter: here, 200
# target images (the ones kept aside, never in dev or test) join the training set. The dev and test sets
# do not change.

mixed = train_and_score(numpy.concatenate([train[0], target_extra[0]]),
                        numpy.concatenate([train[1], target_extra[1]]))
report(mixed, "trained with 200 target images added:")
assert mixed["dev"] - mixed["train-dev"] < 0.5 * (only_source["dev"] - only_source["train-dev"])

figure, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
names = ["train", "train-dev", "dev", "test"]
positions = numpy.arange(len(names))
ax.bar(positions - 0.2, [only_source[n] for n in names], width=0.4, label="training distribution only")
ax.bar(positions + 0.2, [mixed[n] for n in names], width=0.4, label="with 200 target images")
ax.set_xticks(positions, names)
ax.set_ylabel("error")
ax.set_title("train-dev vs dev: the mismatch, and what closes it")
ax.legend()
