"""examples/mc_dropout.py: the predictive standard deviation of MC dropout is several times larger off the
training data than on it (the stated ratio), and the passes are random only through dropout."""

import numpy as np
import pytest
from example_loader import assert_draws, assert_refused, example_fixtures

example, quick_run = example_fixtures("mc_dropout")


def test_quick_run_is_less_certain_off_the_data_by_the_stated_ratio(example, quick_run):
    result, output = quick_run
    # Measured: 0.123 on the data, 0.606 off it, ratio 4.9 (5.0-6.2 for seeds 1 and 2).
    assert result.ratio > 3.0, (result.std_on, result.std_off)
    # On the data the mean fits sin(3x) within the noise (0.070 measured).
    assert result.rmse_on < 0.1
    assert f"ratio {result.ratio:.1f}" in output
    assert result.grid.shape == result.mean.shape == result.std.shape == (601,)


def test_passes_differ_only_in_training_mode(example):
    model = example.build_model(np.random.default_rng(0))
    x = np.linspace(-1, 1, 6, dtype=np.float32)[:, None]  # not 0, which zero biases map to 0 in every pass
    mean, std = example.mc_predict(model, x, passes=20)
    assert np.all(std > 0)
    # In evaluation mode dropout is the identity: every pass is the same network.
    model.eval()
    outputs = [model(x).data for _ in range(3)]
    assert all(np.array_equal(outputs[0], other) for other in outputs[1:])
    # mc_predict puts dropout back on, whatever the mode it was given the model in.
    assert np.all(example.mc_predict(model, x, passes=5)[1] > 0) and model.training


def test_regions_on_and_off_the_data(example):
    grid = np.array([-3.0, -2.5, -1.5, -1.0, 0.0, 1.0, 1.5, 2.0, 3.0])
    result = example.Result(grid, np.zeros(9), np.arange(9.0), np.zeros(1), np.zeros(1))
    assert result.std_on == pytest.approx(np.mean([3, 4, 5]))
    assert result.std_off == pytest.approx(np.mean([0, 1, 7, 8]))


def test_plot_draws_the_band(example, quick_run, tmp_path):
    assert_draws(lambda path: example.draw(quick_run[0], path), tmp_path)


def test_a_negative_seed_is_refused_with_a_message(example, capsys):
    assert_refused(example.parse_args, capsys, ["--seed", "-1"], "argument --seed: must be non-negative, got -1")
