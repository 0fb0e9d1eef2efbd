"""examples/mnist1d.py: its --quick run end to end (table printed, every model above chance), its
shift augmentation, its validation split and its command-line checks."""

import numpy as np
import pytest
from example_loader import load_example


@pytest.fixture(scope="module")
def example():
    yield from load_example("mnist1d")


def test_quick_run_prints_the_table_and_every_model_beats_chance(example, capsys):
    results = example.main(["--quick", "--seed", "0", "--threads", "1"])
    output = capsys.readouterr().out

    assert [r.model for r in results] == ["logistic", "mlp", "cnn", "gru"]
    assert "1000 training signals, 1000 test signals" in output
    assert "MNIST-1D test accuracy (%), nablanet vs Greydanus (2020)" in output
    table = output[output.index("MNIST-1D test accuracy"):]
    for result in results:
        recipe = example.RECIPES[result.model]
        assert result.epochs == recipe.quick_epochs
        # Ten balanced classes and 1,000 test signals: chance is 10% with a standard deviation of
        # about 1%, so 15% is five of them above it.
        assert result.accuracy > 0.15, result
        paper = round(100 * example.PAPER_ACCURACY[result.model])
        row = next(line for line in table.splitlines() if line.startswith(result.model + " "))
        assert row.split()[1:4] == [str(paper), f"{100 * result.accuracy:.1f}",
                                    f"{100 * result.accuracy - paper:+.1f}"]


def test_validate_scores_the_held_out_end_of_the_training_set(example, capsys):
    results = example.main(["--quick", "--validate", "--models", "logistic", "--seed", "3,4", "--epochs", "2"])
    output = capsys.readouterr().out

    assert "1000 training signals, 800 validation signals" in output
    assert "MNIST-1D validation accuracy" in output
    assert [(r.model, r.seed, r.epochs) for r in results] == [("logistic", 3, 2), ("logistic", 4, 2)]


SHIFT_CASES = [
    # max_shift, rows, length
    (0, 4, 6),
    (1, 50, 5),
    (5, 200, 40),
]


@pytest.mark.parametrize("max_shift, rows, length", SHIFT_CASES)
def test_random_shift_rolls_each_row_by_at_most_max_shift(example, max_shift, rows, length):
    X = np.random.default_rng(0).normal(size=(rows, length)).astype(np.float32)
    shifted = example.random_shift(X, max_shift, np.random.default_rng(1))
    assert shifted.shape == X.shape and shifted.dtype == X.dtype
    seen = set()
    for row, original in zip(shifted, X):
        matches = [s for s in range(-max_shift, max_shift + 1) if np.array_equal(row, np.roll(original, s))]
        assert matches, "a row is not a circular shift of its original within max_shift"
        seen.add(matches[0])
    # Many rows: every allowed shift occurs (each has probability 1/(2 max_shift + 1) per row).
    if rows >= 50:
        assert seen == set(range(-max_shift, max_shift + 1))
    again = example.random_shift(X, max_shift, np.random.default_rng(1))
    assert np.array_equal(shifted, again)


BAD_ARGUMENTS = [
    (["--models", "mlp,resnet"], "unknown ['resnet']"),
    (["--seed", "0,one"], "--seed must be integers"),
    (["--seed", "1,-2"], "--seed must be non-negative"),
    (["--epochs", "0"], "--epochs must be positive"),
    (["--threads", "0"], "--threads must be positive"),
]


@pytest.mark.parametrize("argv, message", BAD_ARGUMENTS)
def test_bad_arguments_are_refused_with_a_message(example, capsys, argv, message):
    with pytest.raises(SystemExit):
        example.parse_args(argv)
    assert message in capsys.readouterr().err
