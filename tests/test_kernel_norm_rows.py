"""kernels/norm.py's normalization of rows and its VJP equal the formulas (float64 to 1e-12, float32 to
its rounding, with a mean large against the spread), and their gradients check to second order."""

import numpy
import pytest

import nablanet.numpy as nnp
from nablanet.kernels import norm as norm_kernels
from nablanet.testing import check_grads


def _plain(x, g, gamma, beta, eps):
    """Layer normalization's value and VJP from the formulas, in float64."""
    x, g = x.astype(numpy.float64), g.astype(numpy.float64)
    centred = x - x.mean(axis=-1, keepdims=True)
    inv_std = 1.0 / numpy.sqrt((centred ** 2).mean(axis=-1, keepdims=True) + eps)
    x_hat = centred * inv_std
    h = g if gamma is None else g * gamma
    grad_x = inv_std * (h - h.mean(axis=-1, keepdims=True) - x_hat * (h * x_hat).mean(axis=-1, keepdims=True))
    rows = tuple(range(x.ndim - 1))
    if gamma is None:
        return x_hat, (grad_x, None, None)
    return x_hat * gamma + beta, (grad_x, (g * x_hat).sum(axis=rows), g.sum(axis=rows))


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype, rtol", [(numpy.float64, 1e-12), (numpy.float32, 2e-4)])
def test_row_normalization_and_its_vjp_equal_the_formulas(affine, dtype, rtol):
    rng = numpy.random.default_rng(0)
    # A mean large against the spread: the variance must come from x - mu, not E[x^2] - mu^2.
    x = (rng.standard_normal((7, 5, 16)) * 0.5 + 30.0).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    gamma, beta = (rng.normal(1.0, 0.3, 16).astype(dtype), rng.normal(0.0, 0.3, 16).astype(dtype)) if affine \
        else (None, None)
    out, residual = norm_kernels.normalize_rows(x, 1e-5, gamma, beta)
    grads = norm_kernels.normalize_rows_vjp(g, out, residual, gamma, (True, True, True))
    expected_out, expected_grads = _plain(x, g, gamma, beta, 1e-5)
    assert out.dtype == dtype and out.shape == x.shape
    numpy.testing.assert_allclose(out, expected_out, rtol=rtol, atol=rtol)
    for grad, expected in zip(grads, expected_grads):
        if expected is None:
            assert grad is None
        else:
            assert grad.dtype == dtype
            scale = numpy.abs(expected).max()
            numpy.testing.assert_allclose(grad, expected, rtol=rtol, atol=rtol * scale)


def test_unneeded_gradients_of_a_row_normalization_are_none():
    x = numpy.random.default_rng(1).standard_normal((9, 4))
    gamma, beta = numpy.full(4, 2.0), numpy.zeros(4)
    out, residual = norm_kernels.normalize_rows(x, 1e-5, gamma, beta)
    grads = norm_kernels.normalize_rows_vjp(numpy.ones_like(x), out, residual, gamma, (False, True, False))
    assert grads[0] is None and grads[2] is None and grads[1].shape == (4,)


def test_row_normalization_gradients_check_to_second_order():
    rng = numpy.random.default_rng(2)
    check_grads(lambda x, gamma, beta: nnp.normalize(x, gamma, beta), [
        rng.standard_normal((6, 3, 5)), rng.normal(1.0, 0.3, 5), rng.standard_normal(5)], order=2)
    check_grads(lambda x: nnp.normalize(x, eps=0.1), [rng.standard_normal((8, 4))], order=2)
