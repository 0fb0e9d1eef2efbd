"""examples/autoencoder.py: with the same code size, the autoencoder's test error is a stated fraction of
PCA's; a linear autoencoder cannot beat PCA on its training set (Eckart-Young); the PCA baseline is PCA."""

import numpy as np
import pytest
from example_loader import assert_draws, assert_refused, example_fixtures


example, quick_run = example_fixtures("autoencoder")


def test_quick_run_beats_pca_by_the_stated_ratio(example, quick_run):
    results, output = quick_run
    assert [r.code_size for r in results] == [2, 4, 8, 16]
    # Measured after 30 epochs: ratios 0.77, 0.62, 0.59, 0.63 (0.64, 0.51, 0.48, 0.51 after 300).
    for r in results:
        assert r.ratio < 0.8, r
    assert next(r for r in results if r.code_size == 8).ratio < 0.65
    # PCA's error falls as the code grows; so does the autoencoder's.
    assert [r.pca_mse for r in results] == sorted((r.pca_mse for r in results), reverse=True)
    assert [r.autoencoder_mse for r in results] == sorted((r.autoencoder_mse for r in results), reverse=True)
    row = next(line for line in output.splitlines() if line.split()[:1] == ["8"])
    eight = results[2]
    assert row.split()[1:] == [f"{eight.pca_mse:.4f}", f"{eight.autoencoder_mse:.4f}", f"{eight.ratio:.2f}"]


def test_pca_baseline_is_the_projection_on_the_top_singular_vectors(example):
    train, test = example.load_data(0)
    mean = train.astype(np.float64).mean(axis=0)
    _, _, Vt = np.linalg.svd(train - mean, full_matrices=False)
    V = Vt[:5].T
    expected = (test - mean) @ V @ V.T + mean
    np.testing.assert_allclose(example.pca_reconstruct(train, test, 5), expected, atol=1e-5)


def test_linear_autoencoder_does_not_beat_pca_on_its_training_set(example):
    train, _ = example.load_data(0)
    model = example.train_autoencoder(train, 8, epochs=30, seed=0, linear=True)
    linear = example.mse(train, example.predict(model, train))
    pca = example.mse(train, example.pca_reconstruct(train, train, 8))
    # Eckart-Young: no rank-8 linear map reconstructs the training set better than PCA; trained, it comes close.
    assert pca * (1 - 1e-4) <= linear < 1.2 * pca


def test_split_shares_the_digits_out_and_pixels_are_in_the_unit_interval(example):
    from sklearn.datasets import load_digits

    train, test = example.load_data(0)
    assert train.shape == (1437, 64) and test.shape == (360, 64) and train.dtype == np.float32
    assert 0.0 <= min(train.min(), test.min()) and max(train.max(), test.max()) == 1.0
    # Every digit lands in exactly one of the two parts.
    assert sorted(map(tuple, np.concatenate([train, test]))) == sorted(map(tuple, load_digits().data / 16.0))


def test_plot_draws_digits_and_both_reconstructions(example, quick_run, tmp_path):
    assert_draws(lambda path: example.draw(example.load_data(0)[1], quick_run[0][-1], path), tmp_path)


@pytest.mark.parametrize("argv, message", [
    (["--codes", "2,x"], "comma-separated integers"),
    (["--codes", "64"], "--codes must lie in 1..63"),
    (["--epochs", "0"], "--epochs must be positive"),
    (["--seed", "-1"], "argument --seed: must be non-negative, got -1"),
])
def test_bad_arguments_are_refused_with_a_message(example, capsys, argv, message):
    assert_refused(example.parse_args, capsys, argv, message)
