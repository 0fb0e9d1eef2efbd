"""Rosenblatt's perceptron: one Heaviside unit trained by the perceptron learning rule, which needs no gradient.

The unit computes y = H(w . x + b) with the step H(z) = 1 if z >= 0 else 0 (nablanet's
``heaviside``). Its learning rule, applied sample by sample, is

    w <- w + eta (t - y) x,    b <- b + eta (t - y),

which changes the weights only on a mistake (t - y is 0, +1 or -1). No derivative is involved:
the step's derivative is zero wherever it exists, so gradient descent through H learns nothing,
and nablanet raises ``HeavisideDerivativeError`` when asked for it (shown by :func:`gradient_error`).

The perceptron convergence theorem (Novikoff, 1962): starting from w = 0, b = 0 on data that some
unit vector u = (w*, b*) separates with margin gamma = min_i s_i u . (x_i, 1) > 0 (s_i = 2 t_i - 1),
the rule makes at most (R / gamma)^2 mistakes in all, R = max_i ||(x_i, 1)||, whatever eta and the
order of the samples. Any separating u gives a valid bound; the demo finds one with a large margin
by linear programming, which also shows that no line separates XOR (its best margin is 0).

The rule stops at the first line that classifies every sample, however close it passes: on AND the
default run ends with w = (1, 1), b = -2, the input (1, 1) exactly on the line, classified 1 because
H(0) = 1.

Claims: on linearly separable data (the AND gate, two Gaussian blobs) an epoch with no mistake comes
within a bounded number of epochs, and the total number of mistakes respects Novikoff's bound; on
XOR every epoch ends with at least one input misclassified, as it must for any straight line.

References:
    F. Rosenblatt, "The perceptron: a probabilistic model for information storage and organization
    in the brain", Psychological Review 65 (1958). A. B. J. Novikoff, "On convergence proofs on
    perceptrons", Symposium on the Mathematical Theory of Automata (1962).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nablanet import datasets, grad
from nablanet.demos._common import command_line, format_table, save_figure
from nablanet.nn.functional import heaviside
from nablanet.plot._figures import load_matplotlib

__all__ = ["PerceptronRun", "train_perceptron", "max_margin_separator", "novikoff_bound", "make_blobs",
           "gradient_error", "run", "main"]

# The blobs of make_blobs: centres, spread, the line x1 + x2 = BLOB_LINE between them and the gap
# kept free on either side of it.
BLOB_CENTRES = ((0.0, 0.0), (2.0, 2.0))
BLOB_STD = 0.8
BLOB_LINE = 2.0
BLOB_GAP = 0.1


@dataclass
class PerceptronRun:
    """The result of :func:`train_perceptron`.

    Attributes:
        w, b: the final weights and bias.
        mistakes: per epoch, the number of updates made during the epoch (samples misclassified
            when they were visited).
        errors: per epoch, the number of samples the weights at the end of the epoch misclassify.
        converged_epoch: the first epoch (from 1) with no mistake, or None.
    """

    w: np.ndarray
    b: float
    mistakes: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    converged_epoch: int | None = None

    def predict(self, X):
        """H(X w + b): the unit's 0/1 outputs."""
        return heaviside(np.asarray(X, dtype=np.float64) @ self.w + self.b)


def train_perceptron(X, t, *, eta: float = 1.0, max_epochs: int = 100, rng=None) -> PerceptronRun:
    """The perceptron learning rule, sample by sample, from w = 0, b = 0.

    Each epoch visits the samples in a fresh random order and, for each, computes y = H(w . x + b)
    and applies w <- w + eta (t - y) x, b <- b + eta (t - y). Training stops after the first epoch
    with no mistake (then every sample is classified correctly) or after ``max_epochs``.

    Args:
        X: inputs, shape (n, d).
        t: 0/1 targets, shape (n,).
        eta: learning rate (with w = 0 at the start it only scales w, so the mistakes do not depend on it).
        max_epochs: epochs at most.
        rng: Generator or int seed for the visiting order.

    Returns:
        A :class:`PerceptronRun`.

    Example:
        >>> X, t = datasets.gate("and")
        >>> result = train_perceptron(X, t, rng=0)
        >>> result.converged_epoch is not None, result.predict(X).tolist()
        (True, [0.0, 0.0, 0.0, 1.0])
    """
    X = np.asarray(X, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    rng = np.random.default_rng(rng)
    result = PerceptronRun(w=np.zeros(X.shape[1]), b=0.0)
    for epoch in range(1, max_epochs + 1):
        mistakes = 0
        for i in rng.permutation(len(X)):
            y = heaviside(X[i] @ result.w + result.b)
            if y != t[i]:
                result.w = result.w + eta * (t[i] - y) * X[i]
                result.b = result.b + eta * (t[i] - y)
                mistakes += 1
        result.mistakes.append(mistakes)
        result.errors.append(int(np.sum(result.predict(X) != t)))
        if mistakes == 0:
            result.converged_epoch = epoch
            break
    return result


def max_margin_separator(X, t):
    """The separating line with (nearly) the largest margin, by linear programming, and its margin.

    Solves  max gamma  subject to  s_i (w . x_i + b) >= gamma,  -1 <= w_j, b <= 1  (s_i = 2 t_i - 1),
    with scipy's ``linprog``. The box keeps the problem bounded; it measures (w, b) in the max-norm
    rather than the Euclidean one, so the line is close to, not exactly, the maximum-margin one.

    Returns:
        ``(w, b, gamma)`` with gamma the Euclidean margin min_i s_i (w . x_i + b) / ||(w, b)|| of the
        augmented inputs (x_i, 1); gamma <= 0 means no line separates the classes.

    Example:
        >>> w, b, gamma = max_margin_separator(*datasets.gate("xor"))
        >>> bool(gamma <= 1e-9)          # no line separates XOR
        True
    """
    from scipy.optimize import linprog

    augmented = np.column_stack([np.asarray(X, dtype=np.float64), np.ones(len(X))])
    signs = 2 * np.asarray(t, dtype=np.float64) - 1
    n_weights = augmented.shape[1]
    # Variables (w, b, gamma); linprog minimizes, so the objective is -gamma. Each constraint reads
    # -s_i (w, b) . x~_i + gamma <= 0.
    objective = np.zeros(n_weights + 1)
    objective[-1] = -1.0
    constraints = np.column_stack([-signs[:, None] * augmented, np.ones(len(X))])
    bounds = [(-1.0, 1.0)] * n_weights + [(None, None)]
    solution = linprog(objective, A_ub=constraints, b_ub=np.zeros(len(X)), bounds=bounds, method="highs")
    if not solution.success:
        raise RuntimeError(f"max_margin_separator: linprog failed: {solution.message}")
    u = solution.x[:n_weights]
    norm = np.linalg.norm(u)
    gamma = float(np.min(signs * (augmented @ u)) / norm) if norm > 0 else 0.0
    return u[:-1], float(u[-1]), gamma


def novikoff_bound(X, t) -> float:
    """(R / gamma)^2: at most this many mistakes for the perceptron rule started at w = 0, b = 0.

    R = max ||(x_i, 1)|| and gamma is the margin of :func:`max_margin_separator` (any separating line
    gives a valid bound; a larger margin a tighter one). Infinity when the data are not separable.

    Example:
        >>> round(novikoff_bound(*datasets.gate("and")), 1)   # w = (1, 1), b = -1.5: gamma = 0.5 / ||(1, 1, -1.5)||
        51.0
    """
    _, _, gamma = max_margin_separator(X, t)
    if not gamma > 1e-9:
        return float("inf")
    augmented = np.column_stack([np.asarray(X, dtype=np.float64), np.ones(len(X))])
    radius = float(np.max(np.linalg.norm(augmented, axis=1)))
    return (radius / gamma) ** 2


def make_blobs(n_per_class: int = 50, rng=None):
    """Two Gaussian blobs in the plane, cut apart by a gap so that a line separates them.

    Class 0 is drawn around (0, 0) and class 1 around (2, 2), both with standard deviation 0.8; a
    point is kept only if it lies on its class's side of the line x1 + x2 = 2 at a distance of at
    least 0.1, so the classes are separable with margin >= 0.1 whatever the draw, yet close enough
    that the perceptron needs several passes.

    Returns:
        ``(X, t)``: X (2 n_per_class, 2), t 0/1 (class 0 first).

    Example:
        >>> X, t = make_blobs(20, rng=0)
        >>> X.shape, bool(novikoff_bound(X, t) < float("inf"))
        ((40, 2), True)
    """
    rng = np.random.default_rng(rng)
    classes = []
    for label, centre in enumerate(np.array(BLOB_CENTRES)):
        side = 1.0 if label == 1 else -1.0
        kept = np.empty((0, 2))
        while len(kept) < n_per_class:
            points = centre + BLOB_STD * rng.standard_normal((2 * n_per_class, 2))
            distance = side * (points.sum(axis=1) - BLOB_LINE) / np.sqrt(2.0)
            kept = np.concatenate([kept, points[distance >= BLOB_GAP]])
        classes.append(kept[:n_per_class])
    return np.concatenate(classes), np.repeat([0.0, 1.0], n_per_class)


def gradient_error(X, t) -> Exception:
    """Ask nablanet for the gradient of the squared error through the step unit; return the error raised.

    Example:
        >>> error = gradient_error(*datasets.gate("and"))
        >>> type(error).__name__
        'HeavisideDerivativeError'
    """
    def squared_error(w):
        return ((heaviside(X @ w) - t) ** 2).sum()

    try:
        grad(squared_error)(np.zeros(X.shape[1]))
    except Exception as error:  # the demo shows whichever error nablanet raises
        return error
    raise AssertionError("nablanet differentiated through heaviside without an error")


def run(out_dir, quick: bool = False, seed: int = 0) -> dict:
    """Train the perceptron on AND, two blobs and XOR; print mistakes per epoch; draw the result.

    Args:
        out_dir: directory for ``perceptron.png``.
        quick: 20 epochs at most on XOR instead of 50, 30 points per blob instead of 100.
        seed: the blobs and the visiting orders.

    Returns:
        ``{"runs": {name: PerceptronRun}, "bounds": {name: Novikoff bound, inf if not separable}, "total_mistakes":
        {name: int}, "gradient_error": the exception, "files": [png path]}``.
    """
    rng = np.random.default_rng(seed)
    xor_epochs = 20 if quick else 50
    data = {
        "AND": datasets.gate("and"),
        "blobs": make_blobs(15 if quick else 50, rng),
        "XOR": datasets.gate("xor"),
    }
    runs, bounds, totals = {}, {}, {}
    for name, (X, t) in data.items():
        runs[name] = train_perceptron(X, t, max_epochs=xor_epochs if name == "XOR" else 100, rng=rng)
        totals[name] = int(sum(runs[name].mistakes))
        bounds[name] = novikoff_bound(X, t)

    rows = []
    for name, result in runs.items():
        converged = result.converged_epoch is not None
        rows.append([name, len(data[name][0]), result.converged_epoch if converged else "never",
                     totals[name], f"{bounds[name]:.0f}" if np.isfinite(bounds[name]) else "none (not separable)",
                     min(result.errors),
                     f"({', '.join(f'{v:.2f}' for v in result.w)}), {result.b:.2f}"])
    print(format_table(["data", "n", "epoch with 0 mistakes", "mistakes in all", "Novikoff bound",
                        "fewest errors", "final w, b"], rows,
                       title="perceptron learning rule w <- w + eta (t - y) x, from w = 0"))
    print()
    longest = max(len(result.mistakes) for result in runs.values())
    shown = min(longest, 12)
    print(format_table(["epoch", *runs], [[epoch + 1, *(_at(result.mistakes, epoch) for result in runs.values())]
                                         for epoch in range(shown)],
                       title=f"mistakes per epoch (first {shown} epochs; '.' = stopped, converged)"))
    xor_errors = runs["XOR"].errors
    verdict = "never 0, since no line separates XOR" if min(xor_errors) > 0 else "0 reached: the rule is broken"
    print(f"XOR: misclassified inputs after each of the {len(xor_errors)} epochs ({verdict}):")
    print("  " + " ".join(str(count) for count in xor_errors))
    print()
    error = gradient_error(*datasets.gate("and"))
    print("asking nablanet for d/dw sum (H(X w) - t)^2 raises")
    print(f"  {type(error).__name__}: {error}")
    print()
    path = save_figure(_figure(data, runs), out_dir, "perceptron.png")
    return {"runs": runs, "bounds": bounds, "total_mistakes": totals, "gradient_error": error, "files": [path]}


def _at(values, index):
    return values[index] if index < len(values) else "."


def _figure(data, runs):
    Figure = load_matplotlib().figure.Figure

    from nablanet import plot

    figure = Figure(figsize=(13.0, 7.5), layout="constrained")
    grid = figure.add_gridspec(2, 3)
    for column, (name, (X, t)) in enumerate(data.items()):
        ax = figure.add_subplot(grid[0, column])
        result = runs[name]
        plot.decision_boundary(result.predict, X, t.astype(int), resolution=150, ax=ax)
        state = (f"0 mistakes in epoch {result.converged_epoch}" if result.converged_epoch
                 else f"{result.errors[-1]} errors after {len(result.errors)} epochs")
        ax.set_title(f"{name}: {state}")
    ax = figure.add_subplot(grid[1, :])
    for name, result in runs.items():
        epochs = np.arange(1, len(result.mistakes) + 1)
        ax.plot(epochs, result.mistakes, marker="o", markersize=3, label=f"{name} (n = {len(data[name][0])})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mistakes during the epoch")
    ax.set_title("perceptron rule: separable data reach 0 mistakes, XOR never does")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend()
    return figure


def main(argv=None) -> int:
    """``python -m nablanet.demos.perceptron [--out DIR] [--quick] [--seed N]``."""
    return command_line(run, argv, prog="nablanet demo perceptron", description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
