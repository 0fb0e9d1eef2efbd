"""A variational autoencoder on the 8x8 digits, step for step beside PyTorch.
==========================================================================

A variational autoencoder (Kingma & Welling, 2014) is an autoencoder whose code is random: the
encoder maps a digit x to the mean mu and the log-variance log s^2 of a Gaussian q(z | x) over k
latent numbers, a code z is drawn from it by the reparametrization z = mu + s eps, eps ~ N(0, I)
(so the draw is differentiable in mu and s), and the decoder maps z to the logits of 64 Bernoulli
pixels p(x | z). Training maximizes the evidence lower bound of each digit,

.. math::

    \\mathrm{ELBO}(x) = \\mathbb{E}_{q(z|x)}[\\log p(x \\mid z)]
    - \\mathrm{KL}(q(z \\mid x) \\,\\|\\, \\mathcal{N}(0, I)) \\le \\log p(x),

estimated with one eps per digit: log p(x | z) = sum_j [x_j log y_j + (1 - x_j) log(1 - y_j)] with
y = sigmoid(logits), and KL = -1/2 sum_i (1 + log s_i^2 - mu_i^2 - s_i^2) in closed form.

The data: scikit-learn's digits (pixels / 16 in [0, 1], used as Bernoulli probabilities), 1,437 for
training and 360 held out (seed 0). The network, in float64: encoder 64 - 128 ReLU - 2k, decoder
k - 128 ReLU - 64, k = 8; Adam (lr 1e-3), batches of 64, 200 epochs (20 with ``--quick``). The
batches and the eps of every step are drawn up front (``schedule``), and the test ELBO is the mean
over the test digits with eps drawn once (seed 1000 + seed), so a PyTorch implementation of the same
architecture from the same initial weights computes the same numbers: tests/test_example_vae.py
trains one in torch beside this file's nablanet network and compares them.

Results of ``python examples/vae.py`` (nablanet at the commit that added these figures): training
ELBO -42.37 nats per digit over the first epoch, -24.25 over the last; test ELBO -24.23 after 200
epochs (4,600 steps), -25.32 after ``--quick``'s 20. Trained in PyTorch 2.13 beside it, with the same
weights, batches and eps draws, every step's ELBO agreed to a relative 6e-16 and the test ELBO to
1.5e-16 after 200 epochs (float64 rounding: the two compute the same sums in nearly the same
order). Issue 17 asks for 5%; the test, on ``--quick``, asks for 1e-10.

Run::

    python examples/vae.py                      # 200 epochs (10-30 s)
    python examples/vae.py --plot vae.png       # test digits, their reconstructions, samples from the prior
    python examples/vae.py --quick              # 20 epochs
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np

import nablanet
import nablanet.numpy as nnp
from nablanet import nn, optim, plot, runtime
from nablanet.demos import example_parser, save_example_figure
from nablanet.train import minibatch_indices

TEST_SIZE = 360
PIXELS = 64
HIDDEN = 128
LATENT = 8
BATCH_SIZE = 64
LR = 1e-3
DTYPE = np.float64


def load_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The digits as float64 rows of 64 pixels in [0, 1], split at random into (train, test)."""
    from sklearn.datasets import load_digits

    X = load_digits().data.astype(DTYPE) / 16.0
    order = np.random.default_rng(seed).permutation(len(X))
    return X[order[TEST_SIZE:]], X[order[:TEST_SIZE]]


class VAE(nn.Module):
    """Encoder x -> (mu, log s^2), the reparametrized draw z = mu + s eps, decoder z -> pixel logits.

    Args:
        latent: k, the size of z.
        rng: numpy Generator or int seed of the initial weights.
    """

    def __init__(self, latent: int = LATENT, *, rng=None):
        rng = np.random.default_rng(rng)
        self.latent = latent
        self.encoder = nn.Sequential(nn.Dense(PIXELS, HIDDEN, "relu", rng=rng, dtype=DTYPE),
                                     nn.Dense(HIDDEN, 2 * latent, rng=rng, dtype=DTYPE))
        self.decoder = nn.Sequential(nn.Dense(latent, HIDDEN, "relu", rng=rng, dtype=DTYPE),
                                     nn.Dense(HIDDEN, PIXELS, rng=rng, dtype=DTYPE))

    def encode(self, x):
        """(mu, log s^2) of q(z | x), each (N, k)."""
        h = self.encoder(x)
        return h[:, :self.latent], h[:, self.latent:]

    def forward(self, x, eps):
        """The negative ELBO of the batch x, averaged over its digits, with the draws eps (N, k)."""
        mu, log_var = self.encode(x)
        z = mu + nnp.exp(0.5 * log_var) * eps
        logits = self.decoder(z)
        # -log p(x | z) = sum_j softplus(l_j) - x_j l_j: the Bernoulli log-likelihood from logits, which never
        # takes the log of a sigmoid that has rounded to 0 or 1.
        reconstruction = nnp.sum(nn.functional.softplus(logits) - x * logits, axis=1)
        kl = -0.5 * nnp.sum(1.0 + log_var - mu ** 2 - nnp.exp(log_var), axis=1)
        return nnp.mean(reconstruction + kl)


@dataclass(frozen=True)
class Step:
    """One training step: the rows of its batch and its draws eps (len(rows), k)."""

    rows: np.ndarray
    eps: np.ndarray


def schedule(n_samples: int, epochs: int, seed: int, latent: int = LATENT) -> list[Step]:
    """Every step's batch (a shuffle per epoch, batches of 64) and eps, drawn up front from ``seed``."""
    rng = np.random.default_rng(seed)
    steps = []
    for _ in range(epochs):
        for rows in minibatch_indices(n_samples, BATCH_SIZE, rng=rng):
            steps.append(Step(rows, rng.standard_normal((len(rows), latent))))
    return steps


def test_eps(n_samples: int, seed: int, latent: int = LATENT) -> np.ndarray:
    """The draws the test ELBO is computed with, one row per test digit."""
    return np.random.default_rng(1000 + seed).standard_normal((n_samples, latent))


@dataclass
class Result:
    """A trained VAE: the training ELBO of each step, the test ELBO, the model."""

    train_elbo: list
    test_elbo: float
    model: VAE
    epochs: int


def train(model: VAE, X: np.ndarray, steps: list[Step]) -> list[float]:
    """Adam on the negative ELBO over ``steps``; the ELBO of each step's batch (before its update)."""
    adam = optim.Adam(model.parameters(), lr=LR)
    elbo = []
    # One BLAS thread, as fit trains: on matrices this small more threads only spin (runtime.DEFAULT_THREADS).
    with runtime.blas_threads(runtime.DEFAULT_THREADS):
        for step in steps:
            adam.zero_grad()
            loss = model(X[step.rows], step.eps)
            loss.backward()
            adam.step()
            elbo.append(-float(loss))
    return elbo


def elbo(model: VAE, X: np.ndarray, eps: np.ndarray) -> float:
    """The mean ELBO of the digits X with the draws eps, in nats per digit."""
    with nablanet.no_grad():
        return -float(model(X, eps))


def run(epochs: int, seed: int) -> tuple[Result, np.ndarray]:
    """Train a VAE from the initial weights of ``seed``; the result and the test digits."""
    X_train, X_test = load_data(seed)
    model = VAE(rng=seed)
    train_elbo = train(model, X_train, schedule(len(X_train), epochs, seed))
    return Result(train_elbo, elbo(model, X_test, test_eps(len(X_test), seed)), model, epochs), X_test


def draw(result: Result, X_test: np.ndarray, path: str, count: int = 10, seed: int = 0) -> None:
    """Test digits, their reconstructions (the decoder at z = mu) and digits decoded from z ~ N(0, I)."""
    model = result.model
    with nablanet.no_grad():
        mu, _ = model.encode(X_test[:count])
        reconstructions = nn.functional.sigmoid(model.decoder(mu)).data
        z = np.random.default_rng(seed).standard_normal((count, model.latent))
        samples = nn.functional.sigmoid(model.decoder(z)).data
    figure = plot.image_rows({"digit": X_test[:count], "reconstruction": reconstructions, "sample": samples},
                             title=f"VAE, k = {model.latent}: test ELBO {result.test_elbo:.1f} nats")
    save_example_figure(figure, path)


def parse_args(argv=None) -> argparse.Namespace:
    parser = example_parser(__doc__.partition("\n")[0], quick="20 epochs instead of 200",
                            plot="test digits, their reconstructions and samples")
    args = parser.parse_args(argv)
    args.epochs = 20 if args.quick else 200
    return args


def main(argv=None) -> Result:
    args = parse_args(argv)
    result, X_test = run(args.epochs, args.seed)
    steps_per_epoch = len(result.train_elbo) // args.epochs
    print(f"VAE on the digits: k = {LATENT}, {args.epochs} epochs ({len(result.train_elbo)} steps), seed {args.seed}")
    print(f"training ELBO (nats per digit): first epoch {np.mean(result.train_elbo[:steps_per_epoch]):.2f}, "
          f"last epoch {np.mean(result.train_elbo[-steps_per_epoch:]):.2f}")
    print(f"test ELBO: {result.test_elbo:.2f} nats per digit")
    if args.plot:
        draw(result, X_test, args.plot, seed=args.seed)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
