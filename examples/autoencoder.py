"""An autoencoder on the 8x8 digits: reconstruction error against PCA with the same code size.
===========================================================================================

An autoencoder is trained to give back its input through a narrow layer, the code: the encoder maps
each 64-pixel digit x to k numbers h, the decoder maps h back to a digit x_hat, and the loss is the
mean squared error between x and x_hat (the notes' unsupervised methods). With linear layers and
this loss, the best an autoencoder can do is principal component analysis: PCA's k components give
the smallest squared error of any rank-k linear map (Eckart & Young, 1936), and a linear
autoencoder's training converges to their span (Baldi & Hornik, 1989). The nonlinear layers of the
network here do better than that bound with the same k.

The data: scikit-learn's 1,797 digits (``sklearn.datasets.load_digits``), pixels divided by 16 into
[0, 1], 360 held out at random (seed 0) for the test, the other 1,437 used to fit both PCA and the
network. The network: 64 - 128 ReLU - k (linear code) - 128 ReLU - 64 sigmoid, Glorot/He-uniform
weights, Adam (lr 3e-3), batches of 64, 300 epochs (30 with ``--quick``); the error is the mean of
(x - x_hat)^2 over the test pixels.

Results of ``python examples/autoencoder.py`` (nablanet at the commit that added these figures)::

    code size  PCA test MSE  autoencoder test MSE  autoencoder / PCA
            2        0.0522                0.0335               0.64
            4        0.0380                0.0195               0.51
            8        0.0238                0.0114               0.48
           16        0.0114                0.0059               0.51

With 8 numbers per digit the autoencoder's error is 0.48 of PCA's (0.59 after the 30 epochs of
``--quick``; the test checks every code size's ratio below 0.8 there, 0.77 at k = 2 the largest).
A linear autoencoder (the same network without activations, ``--linear``) cannot go below PCA on
the training set, as Eckart-Young says: after 30 epochs its training error is 1.03 times PCA's (the
test checks both bounds).

Run::

    python examples/autoencoder.py                       # code sizes 2, 4, 8, 16 (10-20 s)
    python examples/autoencoder.py --codes 8 --plot ae.png
    python examples/autoencoder.py --quick               # 30 epochs (a few seconds)
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np

from nablanet import nn, optim, plot
from nablanet.demos import example_parser, save_example_figure
from nablanet.train import fit, predict

TEST_SIZE = 360
PIXELS = 64
HIDDEN = 128


@dataclass(frozen=True)
class Result:
    """One code size: both methods' test errors (mean squared error per pixel) and their reconstructions."""

    code_size: int
    pca_mse: float
    autoencoder_mse: float
    pca_reconstructions: np.ndarray
    autoencoder_reconstructions: np.ndarray

    @property
    def ratio(self) -> float:
        return self.autoencoder_mse / self.pca_mse


def load_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The digits as float32 rows of 64 pixels in [0, 1], split at random into (train, test)."""
    from sklearn.datasets import load_digits

    X = load_digits().data.astype(np.float32) / 16.0
    order = np.random.default_rng(seed).permutation(len(X))
    return X[order[TEST_SIZE:]], X[order[:TEST_SIZE]]


def pca_reconstruct(train: np.ndarray, X: np.ndarray, code_size: int) -> np.ndarray:
    """X projected on the first ``code_size`` principal components of ``train`` and mapped back."""
    from sklearn.decomposition import PCA

    pca = PCA(code_size).fit(train)
    return pca.inverse_transform(pca.transform(X))


def build_autoencoder(code_size: int, rng, linear: bool = False) -> nn.Sequential:
    """64 - 128 - code - 128 - 64: ReLU hidden layers and a sigmoid output (no activations if ``linear``)."""
    hidden, output = (None, None) if linear else ("relu", "sigmoid")
    return nn.Sequential(
        nn.Dense(PIXELS, HIDDEN, hidden, rng=rng),
        nn.Dense(HIDDEN, code_size, rng=rng),
        nn.Dense(code_size, HIDDEN, hidden, rng=rng),
        nn.Dense(HIDDEN, PIXELS, output, rng=rng),
    )


def train_autoencoder(train: np.ndarray, code_size: int, epochs: int, seed: int, linear: bool = False):
    """An autoencoder fitted to give back ``train``: Adam, lr 3e-3, batches of 64."""
    model = build_autoencoder(code_size, np.random.default_rng(seed), linear)
    fit(model, train, train, loss="mse", optimizer=optim.Adam(model.parameters(), lr=3e-3), epochs=epochs,
        batch_size=64, seed=seed, progress=False)
    return model


def mse(X: np.ndarray, X_hat: np.ndarray) -> float:
    return float(np.mean((X - X_hat) ** 2))


def compare(train, test, code_size: int, epochs: int, seed: int, linear: bool = False) -> Result:
    """PCA and the autoencoder with the same code size, scored on the test digits."""
    pca = pca_reconstruct(train, test, code_size)
    model = train_autoencoder(train, code_size, epochs, seed, linear)
    autoencoder = predict(model, test)
    return Result(code_size, mse(test, pca), mse(test, autoencoder), pca, autoencoder)


def format_table(results: list[Result]) -> str:
    lines = [f"{'code size':>9}  {'PCA test MSE':>12}  {'autoencoder test MSE':>20}  {'autoencoder / PCA':>17}"]
    for r in results:
        lines.append(f"{r.code_size:>9}  {r.pca_mse:>12.4f}  {r.autoencoder_mse:>20.4f}  {r.ratio:>17.2f}")
    return "\n".join(lines)


def draw(test: np.ndarray, result: Result, path: str, count: int = 10) -> None:
    """The first test digits, and their reconstructions by PCA and by the autoencoder."""
    k = result.code_size
    figure = plot.image_rows({"digit": test[:count], "PCA": result.pca_reconstructions[:count],
                              "autoencoder": result.autoencoder_reconstructions[:count]},
                             title=f"code size {k}, test MSE: PCA {result.pca_mse:.4f}, "
                                   f"autoencoder {result.autoencoder_mse:.4f}")
    save_example_figure(figure, path)


def parse_args(argv=None) -> argparse.Namespace:
    parser = example_parser(__doc__.partition("\n")[0], quick="30 epochs instead of 300",
                            plot="test digits and their reconstructions (the last code size)")
    parser.add_argument("--codes", default="2,4,8,16", help="comma-separated code sizes (default 2,4,8,16)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default 300, 30 with --quick)")
    parser.add_argument("--linear", action="store_true", help="no activations: a linear autoencoder")
    args = parser.parse_args(argv)
    try:
        args.codes = [int(code) for code in args.codes.split(",")]
    except ValueError:
        parser.error(f"--codes must be comma-separated integers, got {args.codes!r}")
    if any(not 1 <= code < PIXELS for code in args.codes):
        parser.error(f"--codes must lie in 1..{PIXELS - 1}, got {args.codes}")
    if args.epochs is None:
        args.epochs = 30 if args.quick else 300
    if args.epochs < 1:
        parser.error(f"--epochs must be positive, got {args.epochs}")
    return args


def main(argv=None) -> list[Result]:
    args = parse_args(argv)
    train, test = load_data(args.seed)
    kind = "linear autoencoder" if args.linear else "autoencoder"
    print(f"digits: {len(train)} training, {len(test)} test; {kind}, {args.epochs} epochs, seed {args.seed}")
    results = [compare(train, test, code, args.epochs, args.seed, args.linear) for code in args.codes]
    print(format_table(results))
    if args.plot:
        draw(test, results[-1], args.plot)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
