r"""
Hyperparameter search with cross-validation
===========================================

The notes: "there are many hyperparameters to tweak [...] How do you know what combination of
hyperparameters is the best for your task? You can use grid search with cross-validation". The learning
rate :math:`\eta`, the regularization strength :math:`\lambda`, the number of layers and units, the
activation, the batch size: none of them is learned by gradient descent, and each changes what gradient
descent finds.

:math:`k`-fold cross-validation estimates how well a setting generalizes without touching the test set:
cut the training data into :math:`k` folds, train :math:`k` times, each time on :math:`k - 1` folds, and
score on the fold left out,

.. math::

    \widehat{\mathrm{acc}}(\eta, \lambda) = \frac{1}{k} \sum_{i=1}^{k} \mathrm{acc}\left(
    \text{model trained on the folds} \ne i,\ \text{fold } i \right).

The best setting is then trained on all the training data and scored on the test set, once.
"""

# %%
# Data: a training pool and a test set
# ------------------------------------
# Half of scikit-learn's 8x8 digits for the search, the other half kept aside until the end.

import warnings

import matplotlib.pyplot as plt
import numpy

from nablanet import MLPClassifier, plot
from nablanet.datasets import load_digits
from nablanet.preprocessing import k_fold

X, y = load_digits()
X = X / 16.0
order = numpy.random.default_rng(0).permutation(len(X))
pool, test = order[:900], order[900:]
X_pool, y_pool, X_test, y_test = X[pool], y[pool], X[test], y[test]

# %%
# The grid and the folds
# ----------------------
# nablanet's ``MLPClassifier`` takes scikit-learn's parameters: ``learning_rate_init`` is :math:`\eta`
# (for Adam), ``alpha`` the L2 strength :math:`\lambda`. One hidden layer of 32 ReLU units, 20 epochs.
# ``preprocessing.k_fold`` cuts stratified folds (each keeps the class proportions). The estimator warns
# that 20 epochs did not converge; that is the budget we chose, so the warning is silenced.

etas = (1e-3, 1e-2, 1e-1)
lambdas = (1e-4, 1.0, 10.0)
folds = k_fold(X_pool, n_splits=3, stratify=y_pool, shuffle=True, rng=0)


def network(eta, lam):
    return MLPClassifier((32,), learning_rate_init=eta, alpha=lam, max_iter=20, random_state=0)


rows = []
for eta in etas:
    for lam in lambdas:
        scores = []
        for train_index, val_index in folds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = network(eta, lam).fit(X_pool[train_index], y_pool[train_index])
            scores.append(model.score(X_pool[val_index], y_pool[val_index]))
        rows.append({"eta": eta, "lambda": lam, "cv accuracy": float(numpy.mean(scores)),
                     "spread": float(numpy.std(scores))})

print(f"{'eta':>6}  {'lambda':>6}  {'cv accuracy':>11}  {'+-':>5}")
for row in rows:
    print(f"{row['eta']:>6g}  {row['lambda']:>6g}  {row['cv accuracy']:>11.3f}  {row['spread']:>5.3f}")

# %%
# The heatmap
# -----------
# ``plot.hyperparameter_heatmap`` draws one cell per setting. Too small a learning rate has not reached a
# good model in 20 epochs; too strong a penalty keeps the weights from fitting the digits.

figure, ax = plt.subplots(figsize=(5.5, 4), layout="constrained")
plot.hyperparameter_heatmap(rows, x="lambda", y="eta", value="cv accuracy", fmt=".3f", ax=ax,
                            title="3-fold cross-validated accuracy")

best = max(rows, key=lambda row: row["cv accuracy"])
worst = min(rows, key=lambda row: row["cv accuracy"])
print(f"best: eta = {best['eta']:g}, lambda = {best['lambda']:g}, cv accuracy {best['cv accuracy']:.3f}")
assert best["cv accuracy"] - worst["cv accuracy"] > 0.2            # the choice matters
assert best["eta"] > min(etas)

# %%
# The test set, once
# ------------------
# The chosen setting, trained on the whole pool, scores on the untouched half about what
# cross-validation predicted. Had we picked the setting by its test score instead, that score would be
# an optimistic estimate: the test set would have been used for training decisions.

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    final = network(best["eta"], best["lambda"]).fit(X_pool, y_pool)
test_accuracy = final.score(X_test, y_test)
print(f"test accuracy of the chosen setting: {test_accuracy:.3f} (cross-validation said {best['cv accuracy']:.3f})")
assert abs(test_accuracy - best["cv accuracy"]) < 0.03

# %%
# The same search from the command line
# -------------------------------------
# ``nablanet sweep config.toml`` runs a grid, random or TPE (Optuna) search with k-fold cross-validation
# on all cores, writes each trial's row to ``sweep.csv`` as it finishes, and draws this heatmap; a
# ``[sweep]`` table in the training config lists the values to try (``examples/configs/digits_sweep.toml``
# searches a learning rate by lambda grid on the same digits).
