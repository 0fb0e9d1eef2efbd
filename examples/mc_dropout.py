"""MC dropout: a network's predictive uncertainty grows away from its training data.
=================================================================================

Dropout left on at prediction time makes a network random: each forward pass drops other units, and
the spread of T passes at the same input is an estimate of the model's uncertainty there (Gal &
Ghahramani, 2016, who show that this approximates a Bayesian network's predictive distribution).
Where the training data pinned the function down, the thinned networks agree; where there were no
data, nothing made them agree.

The problem: y = sin(3 x) + noise (standard deviation 0.1), 200 training points with x uniform in
[-1, 1]. The network: 1 - 64 ReLU - dropout - 64 ReLU - dropout - 1, dropout probability 0.1,
trained by ``fit`` on the mean squared error (Adam, lr 3e-3, batches of 32, 300 epochs; 100 with
``--quick``). Then T = 200 passes in training mode (``model.train()``: dropout on) under
``no_grad`` at each x of a grid; their mean is the prediction and their standard deviation the
uncertainty. The figure of merit: the mean standard deviation off the data (x in [-3, -2] and
[2, 3]) over the mean on it (x in [-1, 1]).

Results of ``python examples/mc_dropout.py`` (nablanet at the commit that added these figures)::

    predictive standard deviation: on the data (|x| <= 1) 0.091, off it (2 <= |x| <= 3) 0.313, ratio 3.5
    RMSE of the predictive mean against sin(3x) on the data: 0.048 (noise std 0.1)

Seeds 1 and 2 give ratios of 5.0 and 3.7. After the 100 epochs of ``--quick`` the ratios are 4.9
(seed 0; the test checks it above 3), 6.2 and 5.0: longer training makes the thinned networks agree
more off the data too, though they stay 3.5 times less sure there than on it. Outside the data the
mean goes on in nearly straight lines (ReLU networks extrapolate linearly), away from sin(3x), and
the band of two standard deviations does not always cover the truth: MC dropout's uncertainty is a
rough guide, not a calibrated one.

Run::

    python examples/mc_dropout.py                     # 300 epochs (a few seconds)
    python examples/mc_dropout.py --plot mc.png       # data, predictive mean and +-2 standard deviations
    python examples/mc_dropout.py --quick             # 100 epochs
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np

import nablanet
from nablanet import nn, optim
from nablanet.demos import example_parser, save_example_figure
from nablanet.train import fit

TRAIN_SIZE = 200
NOISE = 0.1
HIDDEN = 64
P = 0.1
PASSES = 200
ON_DATA = 1.0
OFF_DATA = (2.0, 3.0)


def target(x: np.ndarray) -> np.ndarray:
    return np.sin(3.0 * x)


def make_data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of the training set: x uniform in [-1, 1], y = sin(3 x) + N(0, 0.1^2), float32 columns."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-ON_DATA, ON_DATA, (TRAIN_SIZE, 1))
    y = target(x) + NOISE * rng.standard_normal(x.shape)
    return x.astype(np.float32), y.astype(np.float32)


def build_model(rng) -> nn.Sequential:
    """1 - 64 - 64 - 1 with ReLU, dropout (p = 0.1) after each hidden layer."""
    return nn.Sequential(
        nn.Dense(1, HIDDEN, "relu", rng=rng), nn.Dropout(P, rng=rng),
        nn.Dense(HIDDEN, HIDDEN, "relu", rng=rng), nn.Dropout(P, rng=rng),
        nn.Dense(HIDDEN, 1, rng=rng),
    )


def mc_predict(model: nn.Module, x: np.ndarray, passes: int = PASSES) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over ``passes`` forward passes with dropout on, each (len(x),)."""
    model.train()
    with nablanet.no_grad():
        outputs = np.stack([model(x).data[:, 0] for _ in range(passes)])
    return outputs.mean(axis=0), outputs.std(axis=0)


@dataclass
class Result:
    """The predictive mean and standard deviation on a grid, and the figures of merit."""

    grid: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    x: np.ndarray
    y: np.ndarray

    def _where(self, on: bool) -> np.ndarray:
        distance = np.abs(self.grid)
        return distance <= ON_DATA if on else (distance >= OFF_DATA[0]) & (distance <= OFF_DATA[1])

    @property
    def std_on(self) -> float:
        return float(np.mean(self.std[self._where(True)]))

    @property
    def std_off(self) -> float:
        return float(np.mean(self.std[self._where(False)]))

    @property
    def ratio(self) -> float:
        return self.std_off / self.std_on

    @property
    def rmse_on(self) -> float:
        """The root mean squared error of the predictive mean against sin(3 x), on the data."""
        on = self._where(True)
        return float(np.sqrt(np.mean((self.mean[on] - target(self.grid[on])) ** 2)))


def run(epochs: int, seed: int) -> Result:
    x, y = make_data(seed)
    model = build_model(np.random.default_rng(seed))
    fit(model, x, y, loss="mse", optimizer=optim.Adam(model.parameters(), lr=3e-3), epochs=epochs, batch_size=32,
        seed=seed, progress=False)
    grid = np.linspace(-OFF_DATA[1], OFF_DATA[1], 601, dtype=np.float32)
    mean, std = mc_predict(model, grid[:, None])
    return Result(grid, mean, std, x[:, 0], y[:, 0])


def draw(result: Result, path: str) -> None:
    """The data, the true function, the predictive mean and a band of two standard deviations."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4), layout="constrained")
    ax = figure.add_subplot()
    ax.fill_between(result.grid, result.mean - 2 * result.std, result.mean + 2 * result.std, alpha=0.3,
                    label="mean +- 2 std (MC dropout)")
    ax.plot(result.grid, result.mean, label="predictive mean")
    ax.plot(result.grid, target(result.grid), "k--", linewidth=1, label="sin(3x)")
    ax.plot(result.x, result.y, ".", markersize=3, color="gray", label="training data")
    ax.set_ylim(-3, 3)
    ax.set_xlabel("x")
    ax.set_title(f"predictive std: {result.std_on:.3f} on the data, {result.std_off:.3f} off it "
                 f"(ratio {result.ratio:.1f})")
    ax.legend(loc="lower left", fontsize="small")
    save_example_figure(figure, path)


def parse_args(argv=None) -> argparse.Namespace:
    parser = example_parser(__doc__.partition("\n")[0], quick="100 epochs instead of 300",
                            plot="the data and the predictive band")
    return parser.parse_args(argv)


def main(argv=None) -> Result:
    args = parse_args(argv)
    epochs = 100 if args.quick else 300
    print(f"MC dropout (p = {P}, {PASSES} passes) on y = sin(3x) + noise, {TRAIN_SIZE} points in "
          f"[-{ON_DATA:g}, {ON_DATA:g}], {epochs} epochs, seed {args.seed}")
    result = run(epochs, args.seed)
    print(f"predictive standard deviation: on the data (|x| <= {ON_DATA:g}) {result.std_on:.3f}, off it "
          f"({OFF_DATA[0]:g} <= |x| <= {OFF_DATA[1]:g}) {result.std_off:.3f}, ratio {result.ratio:.1f}")
    print(f"RMSE of the predictive mean against sin(3x) on the data: {result.rmse_on:.3f} (noise std {NOISE:g})")
    if args.plot:
        draw(result, args.plot)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
