"""The notes' AND, OR and XOR gates fitted by linear regression, logistic regression and a one-hidden-layer network.

The notes open with these three gates to show where a linear model stops: the four inputs
(0,0), (0,1), (1,0), (1,1) of AND and OR can be cut by one straight line, those of XOR cannot.
Three models are fitted to each gate and their outputs read as classes at 0.5:

- **linear regression**, in closed form with the pseudo-inverse as the notes' code does:
  theta = pinv(X^T X) X^T y with the design matrix X = [1, x1, x2]. For XOR this gives
  theta = (0.5, 0, 0): the constant 0.5 at every input, which is no decision at all;
- **logistic regression**: one nablanet unit ``Dense(2, 1, activation="sigmoid")`` trained with the
  binary cross-entropy by full-batch Adam. Its boundary is a line, so on XOR it is right on at
  most three of the four inputs (here the optimum is w = 0, b = 0: p = 0.5 everywhere);
- **a one-hidden-layer network** ``Dense(2, 4, tanh) -> Dense(4, 1, sigmoid)``, trained the same way,
  which bends its boundary around the XOR points.

An output above 0.5 is class 1 and below it class 0; an output within 1e-6 of 0.5 is reported as
undecided ("?") and counted as an error, since which side of 0.5 rounding puts it on means nothing.
That is what both linear models give on XOR, so their XOR accuracy is 0.

Claim: the network solves all three gates (accuracy 1.0); both linear models solve AND and OR and
fail on XOR (accuracy < 1.0).
"""

from __future__ import annotations

import numpy as np

from nablanet import datasets
from nablanet import nn
from nablanet.demos._common import command_line, format_table, save_figure
from nablanet.optim import Adam
from nablanet.plot._figures import load_matplotlib
from nablanet.train import fit, predict

__all__ = ["GATES", "MODELS", "classify", "linear_regression", "logistic_regression", "network", "run", "main"]

GATES = ("and", "or", "xor")
MODELS = ("linear regression", "logistic regression", "network")

# Outputs above this are class 1: the midpoint of the 0/1 targets, for regression and probabilities alike.
THRESHOLD = 0.5
# Outputs this close to the threshold are no decision: on XOR both linear models output 0.5 up to
# rounding (1e-16 for the pseudo-inverse, about 1e-7 after Adam), and rounding noise must not pick a class.
UNDECIDED = 1e-6
HIDDEN_UNITS = 4


def linear_regression(X, y):
    """Least squares by the notes' normal equations with the pseudo-inverse.

    theta = pinv(X1^T X1) X1^T y,  X1 = [1, x1, x2] (the intercept column first, as in the notes).

    Args:
        X: inputs, shape (4, 2).
        y: targets, shape (4,).

    Returns:
        ``(theta, predict)``: the coefficients (intercept first) and a function from inputs
        ``(n, 2)`` to the fitted values ``(n,)``.

    Example:
        >>> theta, _ = linear_regression(*datasets.gate("xor"))
        >>> (np.round(theta, 12) + 0.0).tolist()   # + 0.0 turns the -0.0 of rounding into 0.0
        [0.5, 0.0, 0.0]
    """
    design = np.column_stack([np.ones(len(X)), X])
    # pinv rather than inv: X1^T X1 is invertible here, but the notes use pinv so that the same line
    # works when it is not (fewer distinct inputs than coefficients).
    theta = np.linalg.pinv(design.T @ design) @ design.T @ y

    def fitted(points):
        points = np.asarray(points, dtype=np.float64)
        return theta[0] + points @ theta[1:]

    return theta, fitted


def logistic_regression(X, y, *, epochs: int, seed):
    """One sigmoid unit trained by full-batch Adam on the binary cross-entropy; returns the model."""
    model = nn.Sequential(nn.Dense(2, 1, activation="sigmoid", rng=seed, dtype=np.float64))
    fit(model, X, y, loss="binary_cross_entropy", optimizer=Adam(model.parameters(), lr=0.1),
        epochs=epochs, batch_size=None, seed=seed, progress=False)
    return model


def network(X, y, *, epochs: int, seed):
    """``Dense(2, 4, tanh) -> Dense(4, 1, sigmoid)`` trained by full-batch Adam; returns the model."""
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Dense(2, HIDDEN_UNITS, activation="tanh", rng=rng, dtype=np.float64),
                          nn.Dense(HIDDEN_UNITS, 1, activation="sigmoid", rng=rng, dtype=np.float64))
    fit(model, X, y, loss="binary_cross_entropy", optimizer=Adam(model.parameters(), lr=0.05),
        epochs=epochs, batch_size=None, seed=seed, progress=False)
    return model


def classify(outputs):
    """Class 1 above 0.5, class 0 below, NaN (undecided, never equal to a target) within 1e-6 of 0.5.

    Example:
        >>> classify(np.array([0.2, 0.5 + 1e-12, 0.9])).tolist()
        [0.0, nan, 1.0]
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    classes = (outputs > THRESHOLD).astype(np.float64)
    classes[np.abs(outputs - THRESHOLD) <= UNDECIDED] = np.nan
    return classes


def _module_predictor(model):
    return lambda points: predict(model, points)[:, 0]


def _class_label(value) -> str:
    return "?" if np.isnan(value) else str(int(value))


def run(out_dir, quick: bool = False, seed: int = 0) -> dict:
    """Fit the three models to the three gates, print the tables, draw the decision boundaries.

    Args:
        out_dir: directory for ``gates.png``.
        quick: 300 training epochs instead of 1000 (every model still settles).
        seed: initial weights of the two trained models.

    Returns:
        ``{"outputs": {gate: {model: (4,) outputs}}, "accuracy": {gate: {model: float}},
        "theta": {gate: linear regression coefficients}, "files": [png path]}``.
    """
    epochs = 300 if quick else 1000
    outputs, accuracy, theta, predictors = {}, {}, {}, {}
    for gate in GATES:
        X, y = datasets.gate(gate)
        theta[gate], linear = linear_regression(X, y)
        predictors[gate] = {
            "linear regression": linear,
            "logistic regression": _module_predictor(logistic_regression(X, y, epochs=epochs, seed=seed)),
            "network": _module_predictor(network(X, y, epochs=epochs, seed=seed)),
        }
        outputs[gate] = {name: np.asarray(predictors[gate][name](X), dtype=np.float64) for name in MODELS}
        accuracy[gate] = {name: float(np.mean(classify(outputs[gate][name]) == y)) for name in MODELS}
        print(_gate_table(gate, X, y, outputs[gate], accuracy[gate], theta[gate]))
        print()
    print(format_table(["gate", *MODELS], [[gate.upper(), *(f"{accuracy[gate][m]:.2f}" for m in MODELS)]
                                           for gate in GATES],
                       title="accuracy (class 1 above 0.5; within 1e-6 of 0.5 undecided, counted wrong)"))
    figure = _boundaries_figure(predictors)
    path = save_figure(figure, out_dir, "gates.png")
    return {"outputs": outputs, "accuracy": accuracy, "theta": theta, "files": [path]}


def _gate_table(gate, X, y, outputs, accuracy, theta) -> str:
    rows = []
    for i in range(len(X)):
        rows.append([f"{X[i, 0]:.0f}", f"{X[i, 1]:.0f}", f"{y[i]:.0f}",
                     *(f"{outputs[m][i]:+.3f} -> {_class_label(classify(outputs[m][i : i + 1])[0])}"
                       for m in MODELS)])
    rows.append(["", "", "acc", *(f"{accuracy[m]:.2f}" for m in MODELS)])
    # round(.., 12) + 0.0 prints a coefficient of -1e-17 as 0.000, not -0.000.
    title = (f"{gate.upper()} gate: outputs (-> class, ? = undecided); linear regression theta = "
             f"[{', '.join(f'{round(v, 12) + 0.0:.3f}' for v in theta)}]")
    return format_table(["x1", "x2", "target", *MODELS], rows, title=title)


_GRID = np.stack(np.meshgrid(np.linspace(-0.1, 1.1, 25), np.linspace(-0.1, 1.1, 25)), axis=-1).reshape(-1, 2)


def _boundaries_figure(predictors):
    Figure = load_matplotlib().figure.Figure

    from nablanet import plot

    figure = Figure(figsize=(13.5, 10.5), layout="constrained")
    axes = figure.subplots(len(GATES), len(MODELS), squeeze=False)
    for row, gate in enumerate(GATES):
        X, y = datasets.gate(gate)
        for column, name in enumerate(MODELS):
            predictor = predictors[gate][name]
            constant = np.ptp(predictor(_GRID)) <= UNDECIDED
            # Rounded like the decision, so that a constant 0.5 plus rounding noise draws no boundary.
            plot.decision_boundary(lambda points, predictor=predictor: np.round(predictor(points), 6), X,
                                   y.astype(int), resolution=121, ax=axes[row, column], threshold=THRESHOLD,
                                   title=f"{gate.upper()}: {name}" + (" (0.5 everywhere)" if constant else ""))
    figure.suptitle("AND, OR, XOR: decision boundaries (line: output 0.5)")
    return figure


def main(argv=None) -> int:
    """``python -m nablanet.demos.gates [--out DIR] [--quick] [--seed N]``."""
    return command_line(run, argv, prog="nablanet demo gates", description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
