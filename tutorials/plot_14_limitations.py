r"""
Limitations of neural networks
==============================

The notes end with a warning: "Like all statistical methods, supervised learning using neural networks
has important limitations [...] DNNs are not a universal solution. Often, the same or better performance
on a task can be achieved by using a few hand-engineered features (or even a collection of random
features)." They list:

- **need labeled data**: every target must be known, and labels are often harder to get than inputs;
- **extremely data intensive**: with hundreds to a few thousand samples, methods built on hand-made
  features can do better;
- **homogeneous data**: networks take one kind of input well; mixing continuous variables, categories
  and time series is hard, where tree ensembles (random forests, boosted trees) have no difficulty;
- **many problems are not about prediction**: science often wants the mechanism that generates the
  data, and a model can predict well while being the wrong model.

This page gives each a small experiment.
"""

# %%
# Labeled data, and how much of it: hand-made and random features against a network
# ---------------------------------------------------------------------------------
# The notes' polynomial :math:`y = x_0^2 + 3 x_0 x_1 + x_1^2 + 5`, with noise of standard deviation 0.1,
# from :math:`n` labeled samples. Three models:
#
# - **hand-made features**: linear regression on :math:`(x_0, x_1, x_0^2, x_0 x_1, x_1^2)`, what a person
#   who looked at the problem would write;
# - **random features**: 50 fixed random tanh units :math:`\tanh(w_j^T x + b_j)`, never trained, and ridge
#   regression on them, its :math:`\lambda` picked by 5-fold cross-validation on the training samples;
# - **a network**: one hidden layer of 32 tanh units, every weight trained (Adam, 300 full-batch epochs,
#   standardized inputs and targets).
#
# The test error is measured on 500 fresh points against the noiseless function.

import matplotlib.pyplot as plt
import numpy
from sklearn.ensemble import RandomForestRegressor

from nablanet import LinearRegression, Ridge, fit, nn, optim, predict
from nablanet.datasets import make_polynomial
from nablanet.preprocessing import OneHotEncoder, StandardScaler, k_fold

X_test, y_test = make_polynomial(500, rng=1)


def hand_made(X):
    return numpy.column_stack([X[:, 0], X[:, 1], X[:, 0] ** 2, X[:, 0] * X[:, 1], X[:, 1] ** 2])


def random_features_model(X, y, rng):
    scaler = StandardScaler().fit(X)
    W, b = rng.normal(0.0, 0.5, (2, 50)), rng.uniform(-1.0, 1.0, 50)

    def features(points):
        return numpy.tanh(scaler.transform(points) @ W + b)

    def cv_error(lam):
        errors = []
        for train_index, val_index in k_fold(X, n_splits=5, shuffle=True, rng=0):
            model = Ridge(alpha=lam).fit(features(X[train_index]), y[train_index])
            errors.append(numpy.mean((model.predict(features(X[val_index])) - y[val_index]) ** 2))
        return numpy.mean(errors)

    lam = min((1e-3, 1e-2, 1e-1, 1.0, 10.0), key=cv_error)
    model = Ridge(alpha=lam).fit(features(X), y)
    return lambda points: model.predict(features(points))


def network_model(X, y, epochs=300):
    inputs, targets = StandardScaler().fit(X), StandardScaler().fit(y[:, None])
    rng = numpy.random.default_rng(0)
    model = nn.Sequential(nn.Dense(2, 32, activation="tanh", rng=rng, dtype=numpy.float64),
                          nn.Dense(32, 1, rng=rng, dtype=numpy.float64))
    fit(model, inputs.transform(X), targets.transform(y[:, None]), loss="mse",
        optimizer=optim.Adam(model.parameters(), lr=1e-2), epochs=epochs, batch_size=None, seed=0, progress=False)
    return lambda points: targets.inverse_transform(predict(model, inputs.transform(points)))[:, 0]


sizes = (20, 200)
DRAWS = 2               # one draw of 20 points is luck: the mean over two draws
errors = {"hand-made features": [], "random features": [], "network": []}
for n in sizes:
    draws = {name: [] for name in errors}
    for draw in range(DRAWS):
        X, y = make_polynomial(n, noise=0.1, rng=100 + draw)
        linear = LinearRegression().fit(hand_made(X), y)
        predictors = {"hand-made features": lambda points: linear.predict(hand_made(points)),
                      "random features": random_features_model(X, y, numpy.random.default_rng(draw)),
                      "network": network_model(X, y)}
        for name, predictor in predictors.items():
            draws[name].append(float(numpy.mean((predictor(X_test) - y_test) ** 2)))
    for name in errors:
        errors[name].append(float(numpy.mean(draws[name])))

print(f"mean test mse over {DRAWS} draws of the training samples")
print(f"{'n':>5}  " + "  ".join(f"{name:>18}" for name in errors))
for k, n in enumerate(sizes):
    print(f"{n:>5}  " + "  ".join(f"{errors[name][k]:>18.2e}" for name in errors))

figure, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for name, values in errors.items():
    ax.loglog(sizes, values, "o-", label=name)
ax.set_xticks(sizes, [str(n) for n in sizes])
ax.set_xlabel("labeled training samples n")
ax.set_ylabel("test mean squared error")
ax.set_title("the notes' polynomial: learning curves")
ax.legend()

# %%
# The five hand-made features beat the trained network at both sizes: they are the right model, and a
# person who knew it needed no network. The random features, fitted by one linear solve and never
# trained, trail the network with 20 samples and beat it with 200. Every model needs its labels: with
# ten times more of them the network's error falls several times.

for k in range(len(sizes)):
    assert errors["hand-made features"][k] < errors["network"][k]
assert errors["random features"][1] < errors["network"][1]
assert errors["network"][1] < errors["network"][0] / 3

# %%
# Homogeneous data: a table with a category
# -----------------------------------------
# A table of 400 rows: a continuous input :math:`x \in [0, 1]` and a category (say, the instrument that
# made the measurement), stored as a code 0..9 whose numerical order means nothing. The target is
# :math:`\sin(2\pi x)` plus an offset that depends on the category. A random forest splits on the raw code
# as it would on any column; a network given the code as one number has to bend a smooth function through
# ten arbitrary levels. Encoding the category one-hot (one input per category) is the work a person must
# do first.

rng = numpy.random.default_rng(0)
offsets = rng.permutation(numpy.linspace(-2.0, 2.0, 10))


def table(n):
    x = rng.uniform(0.0, 1.0, n)
    category = rng.integers(0, 10, n)
    return numpy.column_stack([x, category]), numpy.sin(2 * numpy.pi * x) + offsets[category]


X_table, y_table = table(400)
X_table_test, y_table_test = table(1000)

forest = RandomForestRegressor(n_estimators=50, random_state=0).fit(X_table, y_table)
encoder = OneHotEncoder().fit(X_table[:, 1:].astype(int))


def one_hot(X):
    return numpy.column_stack([X[:, :1], encoder.transform(X[:, 1:].astype(int))])


def table_network(inputs):
    rng = numpy.random.default_rng(0)
    model = nn.Sequential(nn.Dense(inputs.shape[1], 32, activation="tanh", rng=rng, dtype=numpy.float64),
                          nn.Dense(32, 1, rng=rng, dtype=numpy.float64))
    fit(model, inputs, y_table[:, None], loss="mse", optimizer=optim.Adam(model.parameters(), lr=1e-2), epochs=300,
        batch_size=None, seed=0, progress=False)
    return model


raw_network = table_network(X_table)
encoded_network = table_network(one_hot(X_table))
table_errors = {
    "random forest, raw codes": numpy.mean((forest.predict(X_table_test) - y_table_test) ** 2),
    "network, raw codes": numpy.mean((predict(raw_network, X_table_test)[:, 0] - y_table_test) ** 2),
    "network, one-hot codes": numpy.mean((predict(encoded_network, one_hot(X_table_test))[:, 0] - y_table_test) ** 2),
}
for name, value in table_errors.items():
    print(f"{name:>26}: test mse {value:.3f}")
assert table_errors["random forest, raw codes"] < table_errors["network, raw codes"] / 2
assert table_errors["network, one-hot codes"] < table_errors["network, raw codes"] / 2

# %%
# Predicting is not understanding
# -------------------------------
# A ball dropped from 20 m, its height measured 30 times during the first second, with 2 cm of noise:
# :math:`h(t) = h_0 - \frac{1}{2} g t^2`. A network fits the measurements well and predicts the first
# second as well as physics does, but it says nothing about :math:`g`, and outside the range it was
# trained on it continues in whatever way its units happen to bend. The model of the mechanism,
# linear regression on :math:`(1, t^2)`, gives :math:`g` and the right extrapolation.

g = 9.81
t = numpy.linspace(0.0, 1.0, 30)
height = 20.0 - 0.5 * g * t ** 2 + rng.normal(0.0, 0.02, t.size)
physics = LinearRegression().fit(t[:, None] ** 2, height)
g_estimate = -2.0 * physics.coef_[0]

rng_net = numpy.random.default_rng(0)
ball_network = nn.Sequential(nn.Dense(1, 16, activation="tanh", rng=rng_net, dtype=numpy.float64),
                             nn.Dense(16, 1, rng=rng_net, dtype=numpy.float64))
fit(ball_network, t[:, None], (height[:, None] - 20.0) / 5.0, loss="mse",
    optimizer=optim.Adam(ball_network.parameters(), lr=1e-2), epochs=1000, batch_size=None, seed=0, progress=False)


def network_height(times):
    return 20.0 + 5.0 * predict(ball_network, times[:, None])[:, 0]


inside, outside = numpy.linspace(0.0, 1.0, 101), numpy.linspace(1.0, 1.8, 81)


def truth(times):
    return 20.0 - 0.5 * g * times ** 2


fall_errors = {
    ("network", "inside"): numpy.abs(network_height(inside) - truth(inside)).max(),
    ("network", "outside"): numpy.abs(network_height(outside) - truth(outside)).max(),
    ("physics", "inside"): numpy.abs(physics.predict(inside[:, None] ** 2) - truth(inside)).max(),
    ("physics", "outside"): numpy.abs(physics.predict(outside[:, None] ** 2) - truth(outside)).max(),
}
print(f"physics model: g = {g_estimate:.2f} m/s^2 (true {g})")
for (model, where), value in fall_errors.items():
    print(f"{model:>8}, {where:>7} the measured second: max error {100 * value:.1f} cm")

figure, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
everywhere = numpy.linspace(0.0, 1.8, 181)
ax.plot(t, height, "k.", label="measurements")
ax.plot(everywhere, truth(everywhere), "k--", lw=0.8, label="h0 - g t^2 / 2")
ax.plot(everywhere, network_height(everywhere), label="network")
ax.plot(everywhere, physics.predict(everywhere[:, None] ** 2), label=f"physics fit, g = {g_estimate:.2f}")
ax.axvspan(1.0, 1.8, color="0.92")
ax.set_xlabel("t (s)")
ax.set_ylabel("height (m)")
ax.set_title("inside and outside the measured second")
ax.legend()

assert abs(g_estimate - g) / g < 0.02
assert fall_errors[("network", "inside")] < 0.05 * 4.9          # within 5% of the 4.9 m fall: it predicts the data
assert fall_errors[("network", "outside")] > 10 * fall_errors[("physics", "outside")]
