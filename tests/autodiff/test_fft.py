"""nablanet.numpy.fft: NumPy's results for every n/s/axes form, closed forms (Parseval, spectral
derivatives), conventions (irfft ignores the imaginary part of its DC term) and refusals."""

import numpy
import pytest

import nablanet
import nablanet.numpy as np
from nablanet import Tensor, grad, jvp, vjp

RNG = numpy.random.default_rng(0)
REAL = RNG.standard_normal((4, 6))
COMPLEX = RNG.standard_normal((4, 6)) + 1j * RNG.standard_normal((4, 6))

# (function name, keyword arguments): every n/s/axes form NumPy accepts, padding and cropping.
FORMS = [
    *[(name, kwargs) for name in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft")
      for kwargs in ({}, {"n": 9}, {"n": 4}, {"n": 1}, {"axis": 0}, {"n": 7, "axis": -2}, {"norm": "ortho"},
                     {"norm": "forward", "n": 10})],
    *[(name, kwargs) for name in ("fftn", "ifftn", "rfftn", "irfftn", "fft2", "ifft2", "rfft2", "irfft2")
      for kwargs in ({}, {"s": (3, 5)}, {"s": (5, 8), "axes": (0, 1)}, {"axes": (1, 0)}, {"s": (-1, 4), "axes": (0, 1)},
                     {"s": (7,), "axes": (0,)}, {"axes": (0,)}, {"norm": "ortho", "s": (2, 2), "axes": (-1, -2)})],
    *[(name, kwargs) for name in ("fftn", "ifftn") for kwargs in ({"axes": ()}, {"axes": (0, 0)}, {"axes": (1, 0, 1)})],
    *[(name, kwargs) for name in ("fftshift", "ifftshift")
      for kwargs in ({}, {"axes": 0}, {"axes": (1,)}, {"axes": (0, 1)}, {"axes": (1, 1)})],
]


def _form_id(form):
    name, kwargs = form
    return name + "".join(f"-{k}{v}" for k, v in kwargs.items())


def _inputs(name):
    real_only = name in ("rfft", "ihfft", "rfftn", "rfft2")
    arrays = [REAL, REAL.astype(numpy.float32)]
    return arrays if real_only else arrays + [COMPLEX, COMPLEX.astype(numpy.complex64)]


@pytest.mark.parametrize("form", FORMS, ids=_form_id)
@pytest.mark.filterwarnings("ignore:`axes` should not be `None`:DeprecationWarning")  # s without axes, as NumPy
def test_results_are_numpys(form):
    name, kwargs = form
    ours, theirs = getattr(np.fft, name), getattr(numpy.fft, name)
    for x in _inputs(name):
        expected = theirs(x, **kwargs)
        got = ours(x, **kwargs)
        assert got.shape == expected.shape and got.dtype == expected.dtype, (x.dtype, got.shape, expected.shape)
        numpy.testing.assert_allclose(got, expected, rtol=1e-5 if x.dtype.itemsize <= 8 else 1e-12, atol=1e-5)
        # numpy.fft.<name> of a Tensor reaches ours (numpy_protocol), with a derivative.
        through_numpy = theirs(Tensor(x, requires_grad=True), **kwargs)
        assert isinstance(through_numpy, Tensor) and through_numpy.requires_grad
        numpy.testing.assert_array_equal(through_numpy.data, got)


def test_one_dimensional_inputs_and_empty_batches_are_numpys():
    for x in (REAL[0], numpy.zeros((0, 5)), numpy.ones((2, 0, 3))):
        for name in ("fft", "rfft", "irfft", "fftn", "rfftn"):
            expected = getattr(numpy.fft, name)(x, axes=(-1,)) if name.endswith("n") else getattr(numpy.fft, name)(x)
            got = getattr(np.fft, name)(x, axes=(-1,)) if name.endswith("n") else getattr(np.fft, name)(x)
            assert got.shape == expected.shape and got.dtype == expected.dtype
            numpy.testing.assert_allclose(got, expected, atol=1e-12)


def test_single_precision_is_kept():
    x = REAL.astype(numpy.float32)
    assert np.fft.fft(x).dtype == numpy.complex64 and np.fft.irfft(np.fft.rfft(x)).dtype == numpy.float32
    g = grad(lambda v: np.sum(np.abs(np.fft.rfft2(v)) ** 2))(x)
    assert g.dtype == numpy.float32


def test_parseval_and_the_gradient_of_the_energy():
    # sum |x|^2 = sum |X|^2 / n; with norm="ortho" the transform is unitary, so the energy's gradient
    # is that of sum |x|^2 itself: 2x for real x, 2 conj(z) for complex z (JAX's df/dx - i df/dy).
    x, z = REAL[0], COMPLEX[0]
    numpy.testing.assert_allclose(numpy.sum(numpy.abs(np.fft.fft(z)) ** 2) / z.size, numpy.sum(numpy.abs(z) ** 2))

    def energy(v):
        return np.sum(np.abs(np.fft.fft(v, norm="ortho")) ** 2)

    numpy.testing.assert_allclose(grad(energy)(x), 2 * x, atol=1e-12)
    numpy.testing.assert_allclose(grad(energy)(z), 2 * numpy.conj(z), atol=1e-12)
    # The half spectrum counts each pair of conjugate frequencies twice: Hermitian weights.
    weights = numpy.array([1.0, 2.0, 2.0, 1.0])   # n = 6: DC, 1, 2, Nyquist

    def half_energy(v):
        return np.sum(weights * np.abs(np.fft.rfft(v, norm="ortho")) ** 2)

    numpy.testing.assert_allclose(half_energy(x), numpy.sum(x ** 2))
    numpy.testing.assert_allclose(grad(half_energy)(x), 2 * x, atol=1e-12)


def test_spectral_derivative_of_sine_is_cosine():
    n = 16
    t = 2 * numpy.pi * numpy.arange(n) / n
    u = numpy.sin(t)
    k = numpy.fft.fftfreq(n, 1.0 / n)

    def shifted(s):
        """u(t + s) on the grid, by the shift theorem: its derivative in s is u'(t)."""
        return np.real(np.fft.ifft(np.fft.fft(u) * np.exp(1j * k * s)))

    _, slope = jvp(shifted, (0.0,), (1.0,))
    numpy.testing.assert_allclose(slope, numpy.cos(t), atol=1e-12)
    numpy.testing.assert_allclose(grad(lambda s: shifted(s)[3])(0.0), numpy.cos(t[3]), atol=1e-12)
    curvature = jvp(lambda s: jvp(shifted, (s,), (1.0,))[1], (0.0,), (1.0,))[1]
    numpy.testing.assert_allclose(curvature, -numpy.sin(t), atol=1e-12)

    def derivative(v):
        return np.fft.irfft(1j * k[: n // 2 + 1] * np.fft.rfft(v), n=n)

    numpy.testing.assert_allclose(jvp(derivative, (u,), (u,))[1], numpy.cos(t), atol=1e-12)
    # The spectral derivative is antisymmetric (its Nyquist mode drops out): its VJP is minus itself.
    cotangent = numpy.cos(2 * t) + 0.5
    numpy.testing.assert_allclose(vjp(derivative, u)[1](cotangent)[0], -derivative(cotangent), atol=1e-12)


def test_irfft_ignores_the_imaginary_parts_of_its_dc_and_nyquist_terms():
    y = COMPLEX[0, :4]
    g = vjp(lambda v: np.fft.irfft(v, n=6), y)[1](REAL[1])[0]
    assert g[0].imag == 0 and g[3].imag == 0
    assert numpy.all(g[1:3].imag != 0)


def test_shifts_are_rolls_and_their_gradients_roll_back():
    x = numpy.arange(12.0).reshape(3, 4)
    weights = RNG.standard_normal((3, 4))
    g = grad(lambda v: np.sum(weights * np.fft.fftshift(v)))(x)
    numpy.testing.assert_array_equal(g, numpy.fft.ifftshift(weights))
    numpy.testing.assert_array_equal(np.fft.ifftshift(np.fft.fftshift(x, axes=1), axes=1), x)


def test_constants_come_from_numpy():
    assert np.fft.fftfreq is numpy.fft.fftfreq and np.fft.rfftfreq is numpy.fft.rfftfreq
    assert "fftfreq" not in np.fft.__all__
    # The transforms live in the namespace only, not among nablanet.numpy's own names.
    assert not {"rfft", "irfft", "fftshift"} & set(nablanet.numpy.__all__)
    with pytest.raises(AttributeError, match="nor has numpy.fft"):
        np.fft.no_such_transform


def test_deprecated_s_without_axes_warns_and_computes_as_numpy():
    with pytest.warns(DeprecationWarning, match="`axes` should not be `None`") as record:
        got = np.fft.fftn(REAL, s=(3, 5))
    assert record[0].filename == __file__   # the caller's line, as NumPy's warning points at its caller
    with pytest.warns(DeprecationWarning, match="containing `None` values"):
        np.fft.rfft2(REAL, s=(None, 4), axes=(0, 1))
    with pytest.warns(DeprecationWarning):
        expected = numpy.fft.fftn(REAL, s=(3, 5))
    numpy.testing.assert_allclose(got, expected)


@pytest.mark.parametrize("call, error, message", [
    (lambda: np.fft.fft(REAL, out=numpy.empty((4, 6), complex)), TypeError, "out= is not supported"),
    (lambda: np.fft.fft(REAL, norm="unitary"), ValueError, 'Invalid norm value unitary; should be "backward"'),
    (lambda: np.fft.rfft(COMPLEX), TypeError, "the input must be real, got complex128"),
    (lambda: np.fft.ihfft(COMPLEX), TypeError, "the input must be real"),
    (lambda: np.fft.fft(REAL, n=0), ValueError, r"Invalid number of FFT data points \(0\) specified"),
    (lambda: np.fft.irfft(numpy.ones(1)), ValueError, r"Invalid number of FFT data points \(0\) specified"),
    (lambda: np.fft.fft(numpy.float64(1.0)), numpy.exceptions.AxisError, "out of bounds"),
    (lambda: np.fft.fftn(REAL, s=(3, 4), axes=(0,)), ValueError, "Shape and axes have different lengths"),
    (lambda: np.fft.fft2(REAL, axes=(0, 2)), numpy.exceptions.AxisError, "axis 2 is out of bounds"),
])
def test_refusals_say_what_is_wrong(call, error, message):
    with pytest.raises(error, match=message):
        call()
