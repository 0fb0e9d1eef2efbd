"""kernels/rows.py: the short-last-axis max is NumPy's exactly, the sum NumPy's to rounding, for short
rows (the tricks) and for the shapes that fall back to NumPy (long rows, few rows, 1-D, integers)."""

import numpy
import pytest

from nablanet.kernels.rows import SHORT_ROW, last_axis_max, last_axis_sum


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
