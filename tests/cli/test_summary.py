"""nablanet summary of a model saved by a program: the input shape read off the first layer that takes the input."""

import contextlib
import io

import numpy as np
import pytest

from nablanet import cli, nn
from nablanet import io as model_io


def summary(model, path, *extra) -> tuple[int, str, str]:
    model_io.save(path, model)
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = cli.main(["summary", str(path), *extra])
    return status, stdout.getvalue(), stderr.getvalue()


@pytest.mark.parametrize("model, shape", [
    (nn.Dense(3, 2, rng=0), (3,)),
    (nn.Sequential(nn.Dropout(0.1, rng=0), nn.Dense(5, 2, rng=0)), (5,)),
    # RBF keeps its weights as centres (units, in_features), not as W: the Dense after it has 10 inputs.
    (nn.Sequential(nn.RBF(2, 10, rng=np.random.default_rng(0)), nn.Dense(10, 1, rng=0)), (2,)),
])
def test_the_input_shape_is_the_first_weighted_layers(model, shape, tmp_path):
    status, stdout, stderr = summary(model, tmp_path / "model.npz")
    assert status == 0, stderr
    assert f"one sample of shape {shape}" in stdout
    assert f"Total params: {model.num_parameters():,}" in stdout


def test_a_recurrent_first_layer_needs_the_input_shape_given(tmp_path):
    model = nn.Sequential(nn.GRU(3, 4, rng=0), nn.Dense(4, 1, rng=0))
    status, _, stderr = summary(model, tmp_path / "model.npz")
    assert status == 1
    assert "cannot tell the input shape" in stderr and "--input-shape" in stderr
    status, stdout, stderr = summary(model, tmp_path / "model.npz", "--input-shape", "6,3")
    assert status == 0, stderr
    assert "one sample of shape (6, 3)" in stdout
