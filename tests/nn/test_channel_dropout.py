"""Dropout1d and Dropout2d: whole channels dropped together in training, survivors scaled, identity in evaluation,
the gradient through the same mask; model files keep their generators."""

import numpy
import pytest

import nablanet.nn as nn
from nablanet import Tensor


@pytest.mark.parametrize("cls, shape", [(nn.Dropout1d, (40, 30, 5)), (nn.Dropout1d, (30, 7)),
                                        (nn.Dropout2d, (40, 30, 3, 2)), (nn.Dropout2d, (30, 2, 3))])
def test_channels_are_dropped_whole_and_survivors_scaled(cls, shape):
    layer = cls(0.25, rng=0)
    spatial = 1 if cls is nn.Dropout1d else 2
    x = Tensor(numpy.random.default_rng(1).uniform(1.0, 2.0, shape), requires_grad=True)
    out = layer(x)
    ratio = out.data / x.data
    per_channel = ratio.reshape(shape[:len(shape) - spatial] + (-1,))
    numpy.testing.assert_allclose(per_channel, numpy.broadcast_to(per_channel[..., :1], per_channel.shape), rtol=1e-15,
                                  err_msg="a channel is dropped or kept whole")
    kept = per_channel[..., 0] != 0
    numpy.testing.assert_allclose(per_channel[..., 0][kept], 1 / 0.75)
    assert abs(kept.mean() - 0.75) < 0.1
    out.sum().backward()
    numpy.testing.assert_allclose(x.grad, ratio, rtol=1e-15)  # the same mask in the gradient
    layer.eval()
    numpy.testing.assert_array_equal(layer(x.data), x.data)


def test_channel_dropout_refuses_inputs_of_other_ranks_and_bad_p():
    with pytest.raises(ValueError, match=r"Dropout2d: expected input of shape \(N, C, H, W\) or \(C, H, W\), got \(2, 3\)"):
        nn.Dropout2d(0.5)(numpy.ones((2, 3)))
    with pytest.raises(ValueError, match=r"Dropout1d: p must be a number in \[0, 1\], got 1.5"):
        nn.Dropout1d(1.5)
