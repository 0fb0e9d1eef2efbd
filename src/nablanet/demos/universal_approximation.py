"""The universal approximation theorem in numbers: one hidden sigmoid layer of growing width.

The theorem (Cybenko, 1989; Hornik, 1991; as stated in the notes): for any continuous F on the unit
cube [0, 1]^d and any eps > 0 there is a network f(x) = sum_j v_j sigma(w_j . x + b_j) + c with one
hidden layer of sigmoids and a linear output such that |F(x) - f(x)| < eps for all x. It says nothing
about how many units are needed; this demo measures it for

- 1-D: F(x) = sin(2 pi x) + x^2 / 2 on [0, 1] (``nablanet.datasets.sine_quadratic``), fitted on 200
  evenly spaced points;
- 2-D: Franke's function on [0, 1]^2 (``nablanet.datasets.franke``), fitted on a 30 x 30 grid,

with hidden widths 1, 2, 4, 8, 16, 32. The error is the sup-norm max |F - f| over a grid 10x finer
in 1-D (2001 points) and 80 x 80 in 2-D, so it also counts what happens between training points.

Fitting: the mean squared error is minimized by full-batch L-BFGS (``nablanet.optim.LBFGS``) in
float64. Each hidden unit starts as a steep step placed at a random point of the cube (weights
N(0, s^2), s = 10 in 1-D and 5 in 2-D, bias -w . c with c uniform in [0, 1]^d), the construction of
the theorem's proofs, rather than with Glorot's small weights, whose sigmoids are nearly linear over
[0, 1]. Each width is fitted from 3 random starts (2 with ``quick``) and the one with the lowest
training error is kept, since one start can land in a poor local minimum.

Claim: the sup-norm error falls substantially from the narrowest to the widest network (at least 5x
in 1-D, 3x in 2-D).
"""

from __future__ import annotations

import numpy as np

from nablanet import datasets, nn
from nablanet.demos._common import command_line, format_table, progress_bar, save_figure
from nablanet.nn import functional as F
from nablanet.optim import LBFGS
from nablanet.plot._figures import load_matplotlib
from nablanet.train import predict

__all__ = ["WIDTHS", "one_hidden_layer", "fit_network", "approximate", "run", "main"]

WIDTHS = (1, 2, 4, 8, 16, 32)

# Standard deviation of the initial input weights: steep enough that a unit is a step over [0, 1]
# (a slope of 10 moves a sigmoid from 0.1 to 0.9 over 0.44), so the units start as the proofs' steps.
STEP_SLOPE = {1: 10.0, 2: 5.0}


def one_hidden_layer(d: int, width: int, *, rng, slope: float):
    """``Dense(d, width, sigmoid) -> Dense(width, 1)`` in float64, each hidden unit a step at a random point.

    Unit j starts as sigma(w_j . (x - c_j)): w_j ~ N(0, slope^2 I), c_j uniform in [0, 1]^d, i.e.
    bias b_j = -w_j . c_j. The output layer starts with Glorot-uniform weights and zero bias.

    Example:
        >>> model = one_hidden_layer(1, 8, rng=0, slope=10.0)
        >>> predict(model, np.zeros((3, 1))).shape
        (3, 1)
    """
    rng = np.random.default_rng(rng)
    hidden = nn.Dense(d, width, activation="sigmoid", rng=rng, dtype=np.float64)
    output = nn.Dense(width, 1, rng=rng, dtype=np.float64)
    weights = slope * rng.standard_normal((d, width))
    centres = rng.uniform(0.0, 1.0, (d, width))
    np.copyto(hidden.W.data, weights)
    np.copyto(hidden.b.data, -np.sum(weights * centres, axis=0))
    return nn.Sequential(hidden, output)


def fit_network(model, X, y, *, iterations: int) -> float:
    """Minimize the mean squared error of ``model`` on ``(X, y)`` by full-batch L-BFGS; return it.

    The tolerances are switched off, so that the run always takes ``iterations`` steps (unless the
    line search fails): the default tolerance on the change of the loss (1e-9) stops fits whose
    error is already small in absolute terms but still far from the best the width can do.
    """
    targets = np.asarray(y, dtype=np.float64).reshape(-1, 1)
    optimizer = LBFGS(model.parameters(), max_iter=iterations, history_size=20, tolerance_grad=0.0,
                      tolerance_change=0.0)

    def closure():
        loss = F.mse(model(X), targets)
        loss.backward()
        return loss

    return float(optimizer.step(closure))


def approximate(X, y, X_test, y_test, *, widths=WIDTHS, iterations: int, restarts: int, rng, slope: float,
                progress: str | None = None) -> dict:
    """For each width, the best of ``restarts`` fits (by training error) and its sup-norm error on the test grid.

    Args:
        progress: the label of a progress bar over the fits (on stderr), or None for no bar.

    Returns:
        ``{width: {"train_mse": float, "sup_error": float, "prediction": (n_test,) array}}``.
    """
    rng = np.random.default_rng(rng)
    results = {}
    with progress_bar(len(widths) * restarts, progress, unit="fit") as bar:
        for width in widths:
            best = None
            for _ in range(restarts):
                model = one_hidden_layer(X.shape[1], width, rng=rng, slope=slope)
                train_mse = fit_network(model, X, y, iterations=iterations)
                if best is None or train_mse < best[0]:
                    best = (train_mse, model)
                bar.set_postfix_str(f"width {width}", refresh=False)
                bar.update(1)
            prediction = predict(best[1], X_test)[:, 0]
            results[width] = {"train_mse": best[0], "sup_error": float(np.max(np.abs(prediction - y_test))),
                              "prediction": prediction}
    return results


def run(out_dir, quick: bool = False, seed: int = 0) -> dict:
    """Fit both targets at every width; print the sup-norm errors; draw the fits and the errors.

    Args:
        out_dir: directory for ``universal_approximation_1d.png`` and ``universal_approximation_2d.png``.
        quick: 2 starts per width instead of 3, and fewer L-BFGS iterations: 150 instead of 500
            in 1-D, 200 instead of 500 in 2-D.
        seed: the initial weights.

    Returns:
        ``{"1d": {width: {...}}, "2d": {width: {...}}, "error_ratio": {"1d": .., "2d": ..}, "files": [...]}``
        where each width's entry is as :func:`approximate` returns and ``error_ratio`` is the sup-norm
        error of the narrowest network divided by that of the widest.
    """
    load_matplotlib()  # without it, say so now rather than after minutes of fitting
    rng = np.random.default_rng(seed)
    restarts = 2 if quick else 3
    x_train, y_train = datasets.make_sine_quadratic(200, grid=True)
    x_test, y_test = datasets.make_sine_quadratic(2001, grid=True)
    results_1d = approximate(x_train, y_train, x_test, y_test, iterations=150 if quick else 500,
                             restarts=restarts, rng=rng, slope=STEP_SLOPE[1], progress="1-D fits")
    X_train, z_train = datasets.make_franke(30, grid=True)
    X_test, z_test = datasets.make_franke(80, grid=True)
    results_2d = approximate(X_train, z_train, X_test, z_test, iterations=200 if quick else 500,
                             restarts=restarts, rng=rng, slope=STEP_SLOPE[2], progress="2-D fits")

    ratios = {}
    for label, results in (("1d", results_1d), ("2d", results_2d)):
        ratios[label] = results[WIDTHS[0]]["sup_error"] / results[WIDTHS[-1]]["sup_error"]
    rows = [[width, f"{results_1d[width]['sup_error']:.4f}", f"{results_1d[width]['train_mse']:.2e}",
             f"{results_2d[width]['sup_error']:.4f}", f"{results_2d[width]['train_mse']:.2e}"] for width in WIDTHS]
    print(format_table(["width", "1-D sup error", "1-D train MSE", "2-D sup error", "2-D train MSE"], rows,
                       title="one hidden sigmoid layer: 1-D sin(2 pi x) + x^2/2, 2-D Franke's function"))
    print(f"sup-norm error, width {WIDTHS[0]} / width {WIDTHS[-1]}: 1-D {ratios['1d']:.0f}x, 2-D {ratios['2d']:.1f}x")
    print()

    from nablanet import plot

    figure_1d = plot.universal_approximation(
        x_test[:, 0], y_test, {width: results_1d[width]["prediction"] for width in WIDTHS},
        errors={width: results_1d[width]["sup_error"] for width in WIDTHS},
        title="sin(2 pi x) + x^2/2 on [0, 1]: one hidden sigmoid layer")
    files = [save_figure(figure_1d, out_dir, "universal_approximation_1d.png")]
    figure_2d = _franke_figure(X_test, z_test, results_2d, results_1d)
    files.append(save_figure(figure_2d, out_dir, "universal_approximation_2d.png"))
    return {"1d": results_1d, "2d": results_2d, "error_ratio": ratios, "files": files}


def _franke_figure(X_test, z_test, results_2d, results_1d):
    Figure = load_matplotlib().figure.Figure

    side = int(round(np.sqrt(len(z_test))))
    shown = (WIDTHS[1], WIDTHS[3], WIDTHS[-1])
    figure = Figure(figsize=(15.0, 3.9), layout="constrained")
    axes = figure.subplots(1, len(shown) + 2)
    # make_franke's grid is row-major with y fastest: reshape gives [x index, y index]; transpose for imshow.
    surfaces = [("Franke's function", z_test)] + [
        (f"width {width}: sup error {results_2d[width]['sup_error']:.3f}", results_2d[width]["prediction"])
        for width in shown]
    low, high = float(z_test.min()), float(z_test.max())
    for ax, (title, values) in zip(axes, surfaces):
        image = ax.imshow(values.reshape(side, side).T, origin="lower", extent=(0, 1, 0, 1), vmin=low, vmax=high,
                          cmap="viridis")
        ax.set_title(title, fontsize="medium")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    figure.colorbar(image, ax=axes[len(shown)], shrink=0.8)
    error_ax = axes[-1]
    for label, results, color in (("1-D", results_1d, "C0"), ("2-D Franke", results_2d, "C3")):
        error_ax.plot(WIDTHS, [results[width]["sup_error"] for width in WIDTHS], marker="o", color=color, label=label)
    error_ax.set_xscale("log", base=2)
    error_ax.set_yscale("log")
    error_ax.set_xticks(WIDTHS, [str(width) for width in WIDTHS])
    error_ax.minorticks_off()
    error_ax.set_xlabel("hidden width")
    error_ax.set_ylabel("max |F - f|")
    error_ax.set_title("sup-norm error")
    error_ax.grid(alpha=0.3, which="both")
    error_ax.legend()
    figure.suptitle("Franke's function on [0, 1]^2: one hidden sigmoid layer of growing width")
    return figure


def main(argv=None) -> int:
    """``python -m nablanet.demos.universal_approximation [--out DIR] [--quick] [--seed N]``."""
    return command_line(run, argv, prog="nablanet demo universal_approximation",
                        description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
