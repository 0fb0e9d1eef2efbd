"""Initializers: empirical variances match the formulas; the same seed gives the same draws."""

import math

import numpy
import pytest

from nablanet.nn import init

FAN_IN, FAN_OUT = 400, 300

EXPECTED_VARIANCE = {
    "normal": 1.0,
    "uniform": 1.0 / 3.0,
    "glorot_normal": 2.0 / (FAN_IN + FAN_OUT),
    "glorot_uniform": 2.0 / (FAN_IN + FAN_OUT),
    "he_normal": 2.0 / FAN_IN,
    "he_uniform": 2.0 / FAN_IN,
    "lecun_normal": 1.0 / FAN_IN,
    "lecun_uniform": 1.0 / FAN_IN,
}


@pytest.mark.parametrize("name", sorted(EXPECTED_VARIANCE))
def test_variance_matches_formula(name):
    draws = init.get_initializer(name)((FAN_IN, FAN_OUT), numpy.random.default_rng(0), numpy.float64)
    # 120,000 draws: the sample variance is within about 1% of the true one.
    assert draws.var() == pytest.approx(EXPECTED_VARIANCE[name], rel=0.02)
    assert abs(draws.mean()) < 4 * math.sqrt(EXPECTED_VARIANCE[name] / draws.size)


def test_convolution_fans_count_the_receptive_field():
    assert init.fans((16, 3, 5, 5)) == (75, 400)


def test_same_seed_same_draws_and_dtype():
    first = init.he_normal((3, 4), numpy.random.default_rng(7))
    second = init.he_normal((3, 4), numpy.random.default_rng(7))
    numpy.testing.assert_array_equal(first, second)
    assert first.dtype == numpy.float32


def test_constants_and_errors():
    numpy.testing.assert_array_equal(init.get_initializer(0.5)((2,), None), [0.5, 0.5])
    numpy.testing.assert_array_equal(init.zeros((2,)), [0.0, 0.0])
    with pytest.raises(ValueError, match="unknown initializer 'glorot'"):
        init.get_initializer("glorot")
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        init.make_rng("seed")
