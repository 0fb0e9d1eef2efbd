"""Residual: y = shortcut(x) + layer(x), gradients along both paths (finite differences, both modes, second
order), equality with the same block written in PyTorch, model files, and its errors."""

import numpy
import pytest
import torch

import nablanet.nn as nn
from layer_oracle import assert_matches_torch, layer_as_function, same
from nablanet import io as nio
from nablanet.testing import check_grads

F64 = numpy.float64


def _block():
    return nn.Residual(nn.Sequential(nn.Conv1d(2, 3, 3, padding=1, activation="tanh", rng=0, dtype=F64),
                                     nn.Conv1d(3, 3, 1, rng=1, dtype=F64)),
                       shortcut=nn.Conv1d(2, 3, 1, bias=False, rng=2, dtype=F64))


def test_residual_gradients_match_finite_differences_to_second_order():
    rng = numpy.random.default_rng(0)
    for layer in (_block(), nn.Residual(nn.Dense(3, 3, activation="elu", rng=3, dtype=F64))):
        shape = (2, 2, 5) if layer.shortcut is not None else (4, 3)
        f, args = layer_as_function(layer, rng.standard_normal(shape))
        check_grads(f, args, modes=("fwd", "rev"), order=2, rtol=1e-6, rng=rng)


class _TorchBlock(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv1d(2, 3, 3, padding=1)
        self.conv2 = torch.nn.Conv1d(3, 3, 1)
        self.shortcut = torch.nn.Conv1d(2, 3, 1, bias=False)

    def forward(self, x):
        return self.shortcut(x) + self.conv2(torch.tanh(self.conv1(x)))


def test_residual_equals_the_block_in_torch():
    ours = _block()
    first, second = ours.layer.layers
    pairs = {"conv1.weight": (first.W, same), "conv1.bias": (first.b, same), "conv2.weight": (second.W, same),
             "conv2.bias": (second.b, same), "shortcut.weight": (ours.shortcut.W, same)}
    x = numpy.random.default_rng(1).standard_normal((3, 2, 6))
    assert_matches_torch(ours, _TorchBlock().double(), [x], pairs)


def test_residual_round_trips_through_a_model_file(tmp_path):
    model = nn.Sequential(_block(), nn.Flatten(), nn.Dense(12, 1, rng=4, dtype=F64))
    x = numpy.random.default_rng(2).standard_normal((2, 2, 4))
    loaded = nio.load(nio.save(tmp_path / "residual.npz", model))
    assert repr(loaded) == repr(model)
    numpy.testing.assert_array_equal(loaded(x).data, model(x).data)


def test_residual_names_a_shape_mismatch_and_a_non_module():
    with pytest.raises(ValueError, match=r"Residual: the layer's output of shape \(2, 4\) does not match the shortcut's "
                                         r"of shape \(2, 3\)"):
        nn.Residual(nn.Dense(3, 4, rng=0))(numpy.ones((2, 3), dtype=numpy.float32))
    with pytest.raises(TypeError, match="Residual: layer must be a Module, got a function"):
        nn.Residual(lambda x: x)
