"""A U-Net surrogate of Darcy flow: from the permeability field to the pressure field.
===================================================================================

Darcy's law for flow through a porous medium of permeability a(x, y) > 0 on the unit square,

.. math::

    -\\nabla \\cdot (a \\nabla u) = 1 \\quad \\text{in } (0, 1)^2, \\qquad u = 0 \\text{ on the boundary},

maps each field a to a pressure field u; the map is nonlinear, and u at a point depends on a
everywhere (a benchmark of operator learning: Li et al., "Fourier neural operator", 2021). A
surrogate learns the map from solved examples and then gives u for a new a in one forward pass.

The data: log a is a Gaussian random field (white noise smoothed by a Gaussian of width 0.15, scaled
to standard deviation 0.5, so a varies about 3x either way), solved on n x n interior points
(n = 32; 16 with ``--quick``) by the 5-point finite-volume scheme (harmonic means of a on the cell
faces) and ``scipy.sparse.linalg.spsolve``. 1,000 fields (400 with ``--quick``), a fifth held out.
The network sees log a and predicts u divided by the training fields' standard deviation.

The network, a U-Net (Ronneberger et al., 2015) with ``width`` w = 8 channels at the top::

    log a (1, n, n)  -> conv3 relu, conv3 relu ...................................... e1 (w, n, n)
      -> conv3 stride 2 relu, conv3 relu ........................................ e2 (2w, n/2, n/2)
        -> conv3 stride 2 relu, conv3 relu ...................................... e3 (4w, n/4, n/4)
      <- ConvTranspose2d(2, stride 2), joined with e2, conv3 relu ............... d2 (2w, n/2, n/2)
    <- Upsample(bilinear, x2) and conv3, joined with e1, conv3 relu, conv1 .............. u (1, n, n)

(the two ways up, a learned transposed convolution and a fixed interpolation followed by a
convolution, are both common; the skip connections join the encoder's fine detail back in by
concatenating channels). Zero padding tells the network where the boundary is, where u = 0.
``fit`` trains it on the mean squared error: Adam, learning rate 3e-3 decayed to 0 by a cosine,
batches of 8, 40 epochs (10 with ``--quick``). The figure of merit is the relative error
||u_pred - u|| / ||u|| of each held-out field, and its median.

Results of ``python examples/unet_darcy.py`` (nablanet at the commit that added these figures)::

    held-out relative error ||u_pred - u|| / ||u|| over 200 fields (800 for training):
    median 0.047, 90th percentile 0.065, max 0.105; predicting the mean training field: median 0.204

A median error of 4.7%, a quarter of what the best constant guess (the mean training field) leaves;
the differences in the figure are small-scale ripples, not a misplaced or mis-scaled field. The 16 x 16
grid of ``--quick`` (320 training fields, 10 epochs) reaches 8.1% (90th percentile 11.3%), which
the test checks below 10% and below half of that baseline (20.7%).

Run::

    python examples/unet_darcy.py                     # 32 x 32, 1,000 fields, 40 epochs (1.5-2 minutes)
    python examples/unet_darcy.py --plot darcy.png    # permeability, true and predicted pressure, error
    python examples/unet_darcy.py --quick             # 16 x 16, 400 fields, 10 epochs
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np

import nablanet.numpy as nnp
from nablanet import nn, optim, plot
from nablanet.demos import example_parser, save_example_figure
from nablanet.train import fit, predict

LENGTH_SCALE = 0.15
LOG_STD = 0.5


# --- the data set ----------------------------------------------------------------------------------

def permeability(n: int, rng) -> np.ndarray:
    """A field a = exp(g) on n x n points, g Gaussian with covariance exp(-r^2 / (2 l^2)), std 0.5.

    White noise filtered in Fourier space by the square root of the covariance's spectrum (periodic,
    which is immaterial at this length scale).
    """
    k = np.fft.fftfreq(n, d=1.0 / n)
    k2 = k[:, None] ** 2 + k[None, :] ** 2
    amplitude = np.exp(-((2 * np.pi * LENGTH_SCALE) ** 2) * k2 / 4)
    g = np.real(np.fft.ifft2(amplitude * np.fft.fft2(rng.standard_normal((n, n)))))
    return np.exp(LOG_STD * g / g.std())


def darcy_matrix(a: np.ndarray):
    """The sparse matrix A of -div(a grad u) on the n x n interior points of the unit square, u = 0 outside.

    Five points: row (i, j) has sum_f c_f / h^2 on its diagonal and -c_f / h^2 for each neighbour f inside,
    c_f the harmonic mean of a at the two points of the face (the flux through a face between two
    media), and a copied to the boundary from its nearest interior point.
    """
    import scipy.sparse

    n = a.shape[0]
    h = 1.0 / (n + 1)
    padded = np.pad(a, 1, mode="edge")
    index = np.arange(n * n).reshape(n, n)
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    rows, cols, values = [], [], []
    diagonal = np.zeros((n, n))
    for di, dj in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        neighbour = padded[1 + di:n + 1 + di, 1 + dj:n + 1 + dj]
        face = 2.0 / (1.0 / a + 1.0 / neighbour)
        diagonal += face
        inside = (i + di >= 0) & (i + di < n) & (j + dj >= 0) & (j + dj < n)
        rows.append(index[inside])
        cols.append(index[i[inside] + di, j[inside] + dj])
        values.append(-face[inside])
    rows.append(index.ravel())
    cols.append(index.ravel())
    values.append(diagonal.ravel())
    shape = (n * n, n * n)
    return scipy.sparse.csc_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                                   shape=shape) / h ** 2


def solve_darcy(a: np.ndarray) -> np.ndarray:
    """u (n, n) with -div(a grad u) = 1 inside and u = 0 on the boundary."""
    import scipy.sparse.linalg

    n = a.shape[0]
    return scipy.sparse.linalg.spsolve(darcy_matrix(a), np.ones(n * n)).reshape(n, n)


def make_data(n: int, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` pairs (a, u) on n x n points, each (count, n, n), float64."""
    rng = np.random.default_rng(seed)
    a = np.stack([permeability(n, rng) for _ in range(count)])
    return a, np.stack([solve_darcy(field) for field in a])


# --- the network -----------------------------------------------------------------------------------

def conv(c_in: int, c_out: int, rng, *, stride: int = 1, activation="relu") -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, activation=activation, rng=rng)


class UNet(nn.Module):
    """Two levels down by strided convolutions, up by a transposed convolution and by upsampling, with skips.

    Args:
        width: w, the channels at full resolution (2w and 4w below).
        rng: numpy Generator or int seed of the initial weights.

    Shape:
        (N, 1, n, n) -> (N, 1, n, n), n divisible by 4.
    """

    def __init__(self, width: int = 8, *, rng=None):
        rng = np.random.default_rng(rng)
        w = width
        self.encode1 = nn.Sequential(conv(1, w, rng), conv(w, w, rng))
        self.encode2 = nn.Sequential(conv(w, 2 * w, rng, stride=2), conv(2 * w, 2 * w, rng))
        self.encode3 = nn.Sequential(conv(2 * w, 4 * w, rng, stride=2), conv(4 * w, 4 * w, rng))
        self.up3 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2, rng=rng)
        self.decode2 = conv(4 * w, 2 * w, rng)
        self.up2 = nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear"), conv(2 * w, w, rng, activation=None))
        self.decode1 = nn.Sequential(conv(2 * w, w, rng), nn.Conv2d(w, 1, 1, rng=rng))

    def forward(self, x):
        e1 = self.encode1(x)
        e2 = self.encode2(e1)
        e3 = self.encode3(e2)
        d2 = self.decode2(nnp.concatenate([self.up3(e3), e2], axis=1))
        return self.decode1(nnp.concatenate([self.up2(d2), e1], axis=1))


# --- training and scoring --------------------------------------------------------------------------

@dataclass(frozen=True)
class Recipe:
    """The grid, the data set and the training of one mode."""

    n: int
    count: int
    epochs: int
    width: int = 8
    lr: float = 3e-3
    batch_size: int = 8


RECIPES = {"full": Recipe(n=32, count=1000, epochs=40), "quick": Recipe(n=16, count=400, epochs=10)}


@dataclass
class Result:
    """The held-out fields, their predictions and relative errors; ``baseline``: the median relative error of
    predicting the mean training field for every field."""

    recipe: Recipe
    a: np.ndarray
    u: np.ndarray
    u_pred: np.ndarray
    train_size: int
    baseline: float

    @property
    def relative_errors(self) -> np.ndarray:
        return np.sqrt(np.sum((self.u_pred - self.u) ** 2, axis=(1, 2)) / np.sum(self.u ** 2, axis=(1, 2)))

    @property
    def median_error(self) -> float:
        return float(np.median(self.relative_errors))


def relative_error_of_mean_field(u_train: np.ndarray, u_test: np.ndarray) -> float:
    """The median relative error of the baseline that predicts the training fields' mean for every field."""
    mean = u_train.mean(axis=0)
    return float(np.median(np.sqrt(np.sum((u_test - mean) ** 2, axis=(1, 2)) / np.sum(u_test ** 2, axis=(1, 2)))))


def run(recipe: Recipe, seed: int) -> Result:
    """Generate the data, train a U-Net, predict the held-out fields."""
    a, u = make_data(recipe.n, recipe.count, seed)
    test_size = recipe.count // 5
    train, test = slice(test_size, None), slice(None, test_size)
    scale = u[train].std()

    def inputs(fields):
        return np.log(fields)[:, None].astype(np.float32)

    model = UNet(recipe.width, rng=seed)
    steps = recipe.epochs * -(-(recipe.count - test_size) // recipe.batch_size)
    adam = optim.Adam(model.parameters(), lr=optim.CosineDecay(recipe.lr, t_max=steps))
    fit(model, inputs(a[train]), (u[train] / scale)[:, None].astype(np.float32), loss="mse", optimizer=adam,
        epochs=recipe.epochs, batch_size=recipe.batch_size, seed=seed, progress=False)
    u_pred = scale * predict(model, inputs(a[test]))[:, 0].astype(np.float64)
    baseline = relative_error_of_mean_field(u[train], u[test])
    return Result(recipe, a[test], u[test], u_pred, recipe.count - test_size, baseline)


def draw(result: Result, path: str, count: int = 6) -> None:
    """Held-out permeabilities, their pressures by the solver and by the U-Net, and the difference."""
    errors = result.relative_errors[:count]
    figure = plot.image_rows({"log a": np.log(result.a[:count]), "u (solver)": result.u[:count],
                              "u (U-Net)": result.u_pred[:count], "difference": (result.u_pred - result.u)[:count]},
                             column_titles=[f"error {e:.1%}" for e in errors], cmap="viridis", colorbar=True,
                             title=f"Darcy flow, {result.recipe.n} x {result.recipe.n}: median relative error "
                                   f"{result.median_error:.1%}")
    save_example_figure(figure, path)


def parse_args(argv=None) -> argparse.Namespace:
    parser = example_parser(__doc__.partition("\n")[0], quick="16 x 16, 400 fields, 10 epochs",
                            plot="held-out fields, true and predicted pressures and their differences")
    return parser.parse_args(argv)


def main(argv=None) -> Result:
    args = parse_args(argv)
    recipe = RECIPES["quick" if args.quick else "full"]
    print(f"Darcy flow on {recipe.n} x {recipe.n} points: {recipe.count} fields solved, U-Net of width "
          f"{recipe.width}, {recipe.epochs} epochs, seed {args.seed}")
    result = run(recipe, args.seed)
    errors = result.relative_errors
    print(f"held-out relative error ||u_pred - u|| / ||u|| over {len(errors)} fields "
          f"({result.train_size} for training):")
    print(f"median {result.median_error:.3f}, 90th percentile {np.percentile(errors, 90):.3f}, "
          f"max {errors.max():.3f}; predicting the mean training field: median {result.baseline:.3f}")
    if args.plot:
        draw(result, args.plot)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
