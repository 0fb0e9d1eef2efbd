"""examples/vae.py: the same VAE written in PyTorch, from the same initial weights, on the same batches and
the same eps draws, reaches the same ELBO (issue 17 asks for 5%; float64 gives far better); and its loss is
the negative ELBO, term by term."""

import numpy as np
import pytest
from example_loader import assert_draws, assert_refused, example_fixtures

torch = pytest.importorskip("torch")

example, quick_run = example_fixtures("vae")


class TorchVAE(torch.nn.Module):
    """The example's VAE in PyTorch, its Linear layers holding the nablanet model's weights (W transposed)."""

    def __init__(self, model):
        super().__init__()
        self.latent = model.latent
        self.encoder = torch.nn.Sequential(_linear(model.encoder[0]), torch.nn.ReLU(), _linear(model.encoder[1]))
        self.decoder = torch.nn.Sequential(_linear(model.decoder[0]), torch.nn.ReLU(), _linear(model.decoder[1]))

    def forward(self, x, eps):
        h = self.encoder(x)
        mu, log_var = h[:, :self.latent], h[:, self.latent:]
        logits = self.decoder(mu + torch.exp(0.5 * log_var) * eps)
        reconstruction = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = -0.5 * torch.sum(1.0 + log_var - mu ** 2 - torch.exp(log_var))
        return (reconstruction + kl) / len(x)


def _linear(dense):
    layer = torch.nn.Linear(*dense.W.shape, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(dense.W.data.T)))
        layer.bias.copy_(torch.from_numpy(dense.b.data.copy()))
    return layer


def torch_run(example, epochs, seed):
    """The example's run(), in PyTorch: the training ELBO of each step and the test ELBO."""
    X_train, X_test = example.load_data(seed)
    model = TorchVAE(example.VAE(rng=seed))
    adam = torch.optim.Adam(model.parameters(), lr=example.LR)
    X = torch.from_numpy(X_train)
    train_elbo = []
    # One thread, as the example's BLAS: on a busy 2-core machine torch's threads spin (19 s instead of 2).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for step in example.schedule(len(X_train), epochs, seed):
            adam.zero_grad()
            loss = model(X[torch.from_numpy(np.asarray(step.rows))], torch.from_numpy(step.eps))
            loss.backward()
            adam.step()
            train_elbo.append(-loss.item())
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        test_elbo = -model(torch.from_numpy(X_test), torch.from_numpy(example.test_eps(len(X_test), seed))).item()
    return train_elbo, test_elbo


def test_quick_run_matches_pytorch_step_for_step(example, quick_run):
    result, output = quick_run
    train_elbo, test_elbo = torch_run(example, result.epochs, seed=0)

    assert len(result.train_elbo) == len(train_elbo) == 20 * 23
    # Issue 17's claim, within 5%; in float64 the two agree to rounding (3e-16 measured) over all 460 steps.
    assert abs(result.test_elbo - test_elbo) < 0.05 * abs(test_elbo)
    np.testing.assert_allclose(result.train_elbo, train_elbo, rtol=1e-10)
    assert result.test_elbo == pytest.approx(test_elbo, rel=1e-10)
    # The run learns: -42.4 nats per digit over the first epoch, -25.3 on the test digits after 20 (measured).
    assert np.mean(result.train_elbo[:23]) < -40.0 and result.test_elbo > -27.0
    assert f"test ELBO: {result.test_elbo:.2f} nats per digit" in output


def test_loss_is_the_negative_elbo_by_its_definition(example):
    # The ELBO of one digit restated with numpy: log-likelihood of the Bernoulli pixels minus the KL term.
    X, _ = example.load_data(0)
    model = example.VAE(rng=3)
    x, eps = X[:5], np.random.default_rng(4).standard_normal((5, example.LATENT))
    h = model.encoder(x).data
    mu, log_var = h[:, :example.LATENT], h[:, example.LATENT:]
    y = 1.0 / (1.0 + np.exp(-model.decoder(mu + np.exp(0.5 * log_var) * eps).data))
    log_likelihood = np.sum(x * np.log(y) + (1.0 - x) * np.log(1.0 - y), axis=1)
    kl = 0.5 * np.sum(mu ** 2 + np.exp(log_var) - 1.0 - log_var, axis=1)
    assert -float(model(x, eps)) == pytest.approx(np.mean(log_likelihood - kl), rel=1e-12)
    assert example.elbo(model, x, eps) == pytest.approx(np.mean(log_likelihood - kl), rel=1e-12)


def test_schedule_covers_every_training_digit_once_per_epoch_and_repeats(example):
    steps = example.schedule(130, 2, seed=5)
    assert len(steps) == 2 * 3 and [len(s.rows) for s in steps] == [64, 64, 2] * 2
    for epoch in (steps[:3], steps[3:]):
        assert sorted(np.concatenate([s.rows for s in epoch]).tolist()) == list(range(130))
    assert all(s.eps.shape == (len(s.rows), example.LATENT) for s in steps)
    again = example.schedule(130, 2, seed=5)
    assert all(np.array_equal(a.eps, b.eps) and np.array_equal(a.rows, b.rows) for a, b in zip(steps, again))


def test_plot_draws_digits_reconstructions_and_samples(example, quick_run, tmp_path):
    result, _ = quick_run
    _, X_test = example.load_data(0)
    assert_draws(lambda path: example.draw(result, X_test, path), tmp_path)


def test_a_negative_seed_is_refused_with_a_message(example, capsys):
    assert_refused(example.parse_args, capsys, ["--seed", "-1"], "argument --seed: must be non-negative, got -1")
