"""nablanet.nn.functional.dropout and the Dropout layers at p = 1: zeros, a zero gradient and no 1/0, as PyTorch;
the function's mask and gradient at 0 < p < 1."""

import numpy
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import nablanet.nn as nn
from nablanet import Tensor, grad
from nablanet.nn import functional as F
from nablanet.testing import check_grads

LAYERS = [(nn.Dropout, (3, 4)), (nn.Dropout1d, (2, 3, 4)), (nn.Dropout2d, (2, 3, 2, 2))]


@pytest.mark.parametrize("cls, shape", LAYERS)
def test_p_one_gives_zeros_and_a_zero_gradient_as_torch(cls, shape):
    x = numpy.random.default_rng(0).standard_normal(shape)
    ours = Tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    reference = {nn.Dropout: torch.nn.Dropout, nn.Dropout1d: torch.nn.Dropout1d, nn.Dropout2d: torch.nn.Dropout2d}[cls]
    with numpy.errstate(all="raise"):
        out = cls(1.0, rng=0)(ours)
        (out * out + out).sum().backward()
    expected = reference(1.0)(theirs)
    (expected * expected + expected).sum().backward()
    numpy.testing.assert_array_equal(out.data, expected.detach().numpy())
    numpy.testing.assert_array_equal(ours.grad, theirs.grad.numpy())
    assert not out.data.any() and not ours.grad.any()


def test_functional_dropout_at_p_one_and_out_of_training():
    x = numpy.random.default_rng(1).standard_normal((4, 5))
    with numpy.errstate(all="raise"):
        numpy.testing.assert_array_equal(F.dropout(x, 1.0), torch.nn.functional.dropout(torch.tensor(x), 1.0).numpy())
        assert not grad(lambda y: (F.dropout(y, 1.0) ** 2).sum())(x).any()
    assert F.dropout(x, 1.0, training=False) is x and F.dropout(x, 0.0) is x
    check_grads(lambda y: F.dropout(y, 1.0) * y, [x], order=2)
    with pytest.raises(ValueError, match=r"dropout: p must be a number in \[0, 1\], got 1.5"):
        F.dropout(x, 1.5)
    with pytest.raises(TypeError, match="dropout: training must be True or False"):
        F.dropout(x, 0.5, training=1)


@settings(max_examples=30, deadline=None)
@given(p=st.floats(0.05, 0.95), rows=st.integers(1, 4), columns=st.integers(1, 5), seed=st.integers(0, 2 ** 16),
       broadcast=st.sampled_from([(), (-1,), (0,)]))
def test_functional_dropout_scales_the_survivors_and_its_gradient_is_the_mask(p, rows, columns, seed, broadcast):
    x = numpy.random.default_rng(seed).uniform(1.0, 2.0, (rows, columns))
    out = numpy.asarray(F.dropout(x, p, rng=seed, broadcast_axes=broadcast))
    ratio = out / x
    kept = ratio != 0
    numpy.testing.assert_allclose(ratio[kept], 1.0 / (1.0 - p), rtol=1e-15)
    for axis in broadcast:
        # The same draw along a broadcast axis.
        numpy.testing.assert_array_equal(kept, numpy.broadcast_to(numpy.take(kept, [0], axis=axis), kept.shape))
    # The same seed, the same mask: the gradient is that mask over 1 - p, to second order.
    numpy.testing.assert_allclose(grad(lambda y: F.dropout(y, p, rng=seed, broadcast_axes=broadcast).sum())(x), ratio,
                                  rtol=1e-15)
    check_grads(lambda y: F.dropout(y * y, p, rng=seed, broadcast_axes=broadcast), [x], order=2)
