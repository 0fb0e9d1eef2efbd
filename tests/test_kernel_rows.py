"""kernels/rows.py: the short-last-axis max is NumPy's exactly, the sum NumPy's to rounding, for short
rows (the tricks) and for the shapes that fall back to NumPy (long rows, few rows, 1-D, integers); the
labels' cross-entropy and its gradient equal their formulas, the gradient with no subnormal number."""

import numpy
import pytest

from nablanet.kernels.rows import SHORT_ROW, label_cross_entropy, last_axis_max, last_axis_sum, softmax_minus_labels


@pytest.mark.parametrize("shape", [(100, 10), (3, 7, 5), (8, 2), (4, SHORT_ROW + 1), (2, 3), (6,)])
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_last_axis_reductions_equal_numpy(shape, dtype):
    x = numpy.random.default_rng(0).standard_normal(shape).astype(dtype)
    x.flat[3] = numpy.nan if x.size > 20 else x.flat[3]
    numpy.testing.assert_array_equal(last_axis_max(x), numpy.max(x, axis=-1, keepdims=True))
    # Another order of additions: equal to rounding, relative to the row's magnitude (sums near 0 cancel).
    tolerance = (1e-6 if dtype == numpy.float32 else 1e-14) * numpy.abs(x).sum(axis=-1, keepdims=True)
    assert numpy.array_equal(numpy.isnan(last_axis_sum(x)), numpy.isnan(numpy.sum(x, axis=-1, keepdims=True)))
    assert numpy.nanmax(numpy.abs(last_axis_sum(x) - numpy.sum(x, axis=-1, keepdims=True)) - tolerance) <= 0
    assert last_axis_max(x).shape == last_axis_sum(x).shape == shape[:-1] + (1,)


def test_a_strided_batch_sums_as_numpy_does():
    x = numpy.random.default_rng(1).standard_normal((40, 20))[:, ::2]
    numpy.testing.assert_allclose(last_axis_sum(x), x.sum(axis=-1, keepdims=True), rtol=1e-14)
    numpy.testing.assert_array_equal(last_axis_max(x), x.max(axis=-1, keepdims=True))


def _log_softmax(z):
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - numpy.log(numpy.exp(shifted).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("shape", [(100, 10), (3, 7, 5), (2, 3)])
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_label_cross_entropy_is_the_mean_picked_log_softmax(shape, dtype):
    rng = numpy.random.default_rng(2)
    z = (4 * rng.standard_normal(shape)).astype(dtype)
    labels = rng.integers(0, shape[-1], shape[:-1])
    picked = numpy.take_along_axis(_log_softmax(z), labels[..., None], axis=-1)
    tolerance = 1e-6 if dtype == numpy.float32 else 1e-14
    numpy.testing.assert_allclose(label_cross_entropy(z, labels), -picked.mean(), rtol=tolerance)
    kept = rng.random(shape[:-1]) < 0.5
    kept.flat[0] = True
    numpy.testing.assert_allclose(label_cross_entropy(z, labels, kept), -picked[kept].mean(), rtol=tolerance)
    assert label_cross_entropy(z, labels, numpy.zeros_like(kept)) == 0


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_softmax_minus_labels_is_the_gradient_with_its_subnormals_flushed(dtype):
    rng = numpy.random.default_rng(3)
    z = rng.standard_normal((50, 10)).astype(dtype)
    # A confident row: the other classes' probabilities fall below the smallest normal number.
    z[0] = 0
    z[0, 4] = 100 if dtype == numpy.float32 else 720
    labels = rng.integers(0, 10, 50)
    labels[0] = 4
    scale = dtype(0.02)
    expected = (numpy.exp(_log_softmax(z)) - numpy.eye(10, dtype=dtype)[labels]) * scale
    tiny = numpy.finfo(dtype).tiny
    assert 0 < numpy.abs(expected[0, :4]).max() < tiny  # the plain formula gives subnormal numbers
    gradient = softmax_minus_labels(z, labels, scale)
    assert gradient.dtype == dtype
    normal = numpy.abs(expected) >= tiny
    numpy.testing.assert_allclose(gradient[normal], expected[normal], rtol=1e-5 if dtype == numpy.float32 else 1e-13)
    numpy.testing.assert_array_equal(gradient[~normal], 0)
