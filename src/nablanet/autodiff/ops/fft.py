"""Discrete Fourier transforms with derivatives: numpy.fft's functions, signatures and results.

Three primitives along one axis carry every derivative: ``FFT`` (complex to complex, forward or
inverse), ``RFFT`` (real samples to the half spectrum) and ``IRFFT`` (half spectrum to real samples).
Each takes NumPy's length ``n`` (the input zero-padded or cropped to it) and norm. The n-dimensional,
two-dimensional and Hermitian transforms are compositions of them, one axis at a time, exactly as
numpy.fft computes them (so repeated axes transform twice, as in NumPy); fftshift and ifftshift are
rolls (slices and a concatenation).

The transforms are linear, so a JVP is the same transform of the tangent. A VJP is the transpose
under JAX's pairing Re(sum(u v)), without conjugation (see ``elementwise.py``):

- The DFT matrix F_{kj} = w^{kj} (w = e^{-2 pi i / n}) is symmetric, so the transpose of fft is fft
  of the cotangent with the same norm, and likewise for ifft; the zero-padding or cropping to n is
  then undone (its transpose crops or zero-pads back to the input's length).
- rfft keeps the first m = n//2 + 1 rows of F, so its transpose is Re(sum_{k<m} g_k w^{kj}). As
  irfft(Y)_j = s Re(sum_k c_k Y_k w^{-kj}) with the Hermitian weights c_0 = 1, c_k = 2 for
  0 < k < n/2, c_{n/2} = 1 (n even), that is irfft(conj(g) / c) with the dual norm (the scale of
  rfft in place of that of irfft).
- irfft is real-linear in Y, and by the same identity its transpose is c conj(rfft(u)), with the
  dual norm, cropped or zero-padded back to the input's length.

References: JAX ``jax/_src/lax/fft.py`` (``_rfft_transpose``, ``_irfft_transpose``), HIPS autograd
``autograd/numpy/fft.py`` (which is limited to even lengths; these rules hold for every n).
"""

from __future__ import annotations

import math
import operator
import sys
import warnings

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from nablanet.autodiff import batching
from nablanet.autodiff.op import Op, register
from nablanet.autodiff.ops.elementwise import _is_plain, conj
from nablanet.autodiff.ops.shape import concatenate, getitem, pad

__all__ = [
    "fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "rfft2", "irfft2",
    "fftn", "ifftn", "rfftn", "irfftn", "fftshift", "ifftshift",
]

# The norm whose scale is that of the opposite direction: the transpose of an rfft scaled for the
# forward direction is an irfft with the same overall scale, and vice versa.
_DUAL_NORM = {"backward": "forward", "ortho": "ortho", "forward": "backward"}


def _raw(x):
    return x._data if hasattr(x, "_data") else np.asarray(x)


def _length(x, axis: int) -> int:
    return np.shape(_raw(x))[axis]


def _resize(x, length: int, axis: int):
    """x cropped or zero-padded at the end of axis to length (as numpy.fft does to its input)."""
    current = _length(x, axis)
    if current == length:
        return x
    if current > length:
        return getitem(x, (slice(None),) * axis + (slice(0, length),))
    widths = [(0, 0)] * np.ndim(_raw(x))
    widths[axis] = (0, length - current)
    return pad(x, widths)


def _hermitian_weights(n: int, axis: int, like, reciprocal: bool = False) -> np.ndarray:
    """c_k (or 1/c_k) of the half spectrum of length n//2 + 1, shaped to broadcast along axis.

    c_0 = 1, c_k = 2 for 0 < k <= (n - 1)//2, and c_{n/2} = 1 when n is even: how often each entry
    of the half spectrum occurs in the full Hermitian one. Real, in like's precision.
    """
    dtype = np.zeros(0, dtype=_raw(like).dtype).real.dtype
    weights = np.ones(n // 2 + 1, dtype=dtype)
    weights[1:(n - 1) // 2 + 1] = 0.5 if reciprocal else 2.0
    shape = [1] * np.ndim(_raw(like))
    shape[axis] = weights.size
    return weights.reshape(shape)


def _transform_flops(out, x, *, n, **settings):
    """About 5 n log2 n operations per transform of n points (Cooley-Tukey's count)."""
    transforms = np.size(out) // max(np.shape(out)[settings["axis"]], 1)
    return int(5 * transforms * n * max(math.log2(n), 1.0))


@register
class FFT(Op):
    """y = F x along one axis (or its inverse), x zero-padded or cropped to n first.

    F_{kj} = w^{kj} with w = e^{-2 pi i/n} (forward) or its conjugate over n (inverse), scaled by norm.
    F is symmetric: the VJP is the same transform of the cotangent, cropped or padded back to x's
    length; the JVP is the same transform of the tangent (JAX ``_fft_transpose_rule``).
    """

    name = "fft"
    flops = _transform_flops
    batch = batching.along_axis("axis")

    def forward(x, *, n, axis, norm, inverse):
        transform = np.fft.ifft if inverse else np.fft.fft
        return transform(x, n=n, axis=axis, norm=norm)

    def vjp(grad_out, out, x, *, n, axis, norm, inverse, needs):
        transposed = FFT.apply(grad_out, n=n, axis=axis, norm=norm, inverse=inverse)
        return (_resize(transposed, _length(x, axis), axis),)

    def jvp(x_dot, out, x, *, n, axis, norm, inverse, needs):
        return FFT.apply(x_dot, n=n, axis=axis, norm=norm, inverse=inverse)


@register
class RFFT(Op):
    """The half spectrum y_k = (F x)_k, k < n//2 + 1, of real x (padded or cropped to n) along one axis.

    VJP: Re(sum_k g_k w^{kj}) = irfft(conj(g) / c, n) with the dual norm, back to x's length (c:
    the Hermitian weights; JAX ``_rfft_transpose``). JVP: the rfft of the tangent.
    """

    name = "rfft"
    flops = _transform_flops
    batch = batching.along_axis("axis")

    def forward(x, *, n, axis, norm):
        return np.fft.rfft(x, n=n, axis=axis, norm=norm)

    def vjp(grad_out, out, x, *, n, axis, norm, needs):
        half = conj(grad_out) * _hermitian_weights(n, axis, grad_out, reciprocal=True)
        samples = IRFFT.apply(half, n=n, axis=axis, norm=_DUAL_NORM[norm])
        return (_resize(samples, _length(x, axis), axis),)

    def jvp(x_dot, out, x, *, n, axis, norm, needs):
        return RFFT.apply(x_dot, n=n, axis=axis, norm=norm)


@register
class IRFFT(Op):
    """The n real samples whose half spectrum is y (padded or cropped to n//2 + 1) along one axis.

    x_j = s Re(sum_k c_k y_k w^{-kj}): the imaginary parts of y_0 (and of y_{n/2} for even n) are
    ignored. VJP: c conj(rfft(g, n)) with the dual norm, back to y's length (JAX ``_irfft_transpose``).
    JVP: the irfft of the tangent (the map is real-linear).
    """

    name = "irfft"
    flops = _transform_flops
    batch = batching.along_axis("axis")

    def forward(y, *, n, axis, norm):
        return np.fft.irfft(y, n=n, axis=axis, norm=norm)

    def vjp(grad_out, out, y, *, n, axis, norm, needs):
        spectrum = RFFT.apply(grad_out, n=n, axis=axis, norm=_DUAL_NORM[norm])
        half = conj(spectrum) * _hermitian_weights(n, axis, spectrum)
        return (_resize(half, _length(y, axis), axis),)

    def jvp(y_dot, out, y, *, n, axis, norm, needs):
        return IRFFT.apply(y_dot, n=n, axis=axis, norm=norm)


# --- argument handling, as numpy.fft's ------------------------------------------------------------

def _as_input(a):
    """a as an array, unless it is a Tensor or a batch under vmap (which the ops take as they are)."""
    return np.asarray(a) if _is_plain(a) else a


def _refuse_out(name: str, out) -> None:
    if out is not None:
        raise TypeError(f"fft.{name}: out= is not supported by nablanet (the result is always a new array)")


def _norm(norm) -> str:
    if norm is None:
        return "backward"
    if norm not in _DUAL_NORM:
        raise ValueError(f'Invalid norm value {norm}; should be "backward", "ortho" or "forward".')
    return norm


def _points(n, default: int) -> int:
    n = default if n is None else operator.index(n)
    if n < 1:
        raise ValueError(f"Invalid number of FFT data points ({n}) specified.")
    return n


def _refuse_complex(name: str, a) -> None:
    if np.iscomplexobj(_raw(a)):
        raise TypeError(f"fft.{name}: the input must be real, got {_raw(a).dtype} (numpy.fft.{name} refuses "
                        "complex input too); use fft for complex samples")


def _along_axis(a, n, axis, default):
    """(a as an array or Tensor, the non-negative axis, the number of points) for a 1-D transform."""
    a = _as_input(a)
    axis = normalize_axis_index(operator.index(axis), np.ndim(_raw(a)))
    length = np.shape(_raw(a))[axis]
    return a, axis, _points(n, default(length))


def _unchanged(length: int) -> int:
    return length


def _hermitian_length(length: int) -> int:
    return 2 * (length - 1)


def _deprecated(message: str) -> None:
    """NumPy's DeprecationWarning, attributed (as NumPy's) to the first caller outside nablanet."""
    frame, level = sys._getframe(0), 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("nablanet."):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, DeprecationWarning, stacklevel=level)


def _lengths_and_axes(a, s, axes, inverse_real: bool = False):
    """numpy.fft's ``_cook_nd_args``: the lengths and axes of an n-dimensional transform.

    Its deprecations are kept (s without axes, None inside s), with NumPy's messages.
    """
    shape = np.shape(_raw(a))
    ndim = len(shape)
    shapeless = s is None
    if axes is not None:
        axes = [normalize_axis_index(operator.index(ax), ndim) for ax in
                ((axes,) if np.ndim(axes) == 0 else axes)]
    if s is None:
        s = list(shape) if axes is None else [shape[ax] for ax in axes]
    s = list(s)
    if axes is None:
        if not shapeless:
            _deprecated(
                "`axes` should not be `None` if `s` is not `None` (Deprecated in NumPy 2.0). In a future "
                "version of NumPy, this will raise an error and `s[i]` will correspond to the size along "
                "the transformed axis specified by `axes[i]`. To retain current behaviour, pass a sequence "
                "[0, ..., k-1] to `axes` for an array of dimension k.")
        axes = [normalize_axis_index(ax, ndim) for ax in range(-len(s), 0)]
    if len(s) != len(axes):
        raise ValueError("Shape and axes have different lengths.")
    if inverse_real and shapeless:
        s[-1] = 2 * (shape[axes[-1]] - 1)
    if None in s:
        _deprecated(
            "Passing an array containing `None` values to `s` is deprecated in NumPy 2.0 and will raise an "
            "error in a future version of NumPy. To use the default behaviour of the corresponding 1-D "
            "transform, pass the value matching the default for its `n` parameter. To use the default "
            "behaviour for every axis, the `s` argument can be omitted.")
    s = [shape[ax] if length == -1 else length for length, ax in zip(s, axes)]
    return s, axes


# --- one-dimensional transforms -------------------------------------------------------------------

def fft(a, n=None, axis=-1, norm=None, out=None):
    """The one-dimensional discrete Fourier transform, as numpy.fft.fft.

    y_k = sum_j x_j e^{-2 pi i jk/n}, scaled by 1 ("backward", None), 1/sqrt(n) ("ortho") or 1/n
    ("forward"); x is zero-padded or cropped to n points along axis. Real float32 input gives
    complex64, as in NumPy 2. Derivatives: see the module docstring.

    Args:
        a: the samples, real or complex. n: the number of points (default: a's along axis). axis: the
        axis transformed. norm: "backward" (or None), "ortho" or "forward". out: not supported (None).

    Returns:
        The complex spectrum, of a's shape with n points along axis.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import grad
        >>> np.fft.fft(np.array([1.0, 2.0, 0.0, -1.0]))
        array([2.+0.j, 1.-3.j, 0.+0.j, 1.+3.j])
        >>> grad(lambda x: np.sum(np.abs(np.fft.fft(x, norm="ortho")) ** 2))(np.array([1.0, -2.0]))
        array([ 2., -4.])
    """
    _refuse_out("fft", out)
    a, axis, n = _along_axis(a, n, axis, _unchanged)
    return FFT.apply(a, n=n, axis=axis, norm=_norm(norm), inverse=False)


def ifft(a, n=None, axis=-1, norm=None, out=None):
    """The one-dimensional inverse discrete Fourier transform, as numpy.fft.ifft.

    x_j = (1/n) sum_k y_k e^{2 pi i jk/n} for the default norm ("backward"); "ortho" scales by
    1/sqrt(n) and "forward" by 1. y is zero-padded or cropped to n points along axis.

    Args:
        a: the spectrum, real or complex; n, axis, norm, out: as fft's.

    Returns:
        The complex samples, with n points along axis.

    Example:
        >>> import nablanet.numpy as np
        >>> np.fft.ifft(np.array([2.0, 1 - 3j, 0.0, 1 + 3j])).real
        array([ 1.,  2.,  0., -1.])
    """
    _refuse_out("ifft", out)
    a, axis, n = _along_axis(a, n, axis, _unchanged)
    return FFT.apply(a, n=n, axis=axis, norm=_norm(norm), inverse=True)


def rfft(a, n=None, axis=-1, norm=None, out=None):
    """The discrete Fourier transform of real samples, non-negative frequencies only (numpy.fft.rfft).

    The n//2 + 1 entries y_0 ... y_{n//2} of fft(a, n); the others are their conjugates. Complex
    input is refused, as by NumPy.

    Args:
        a: real samples; n, axis, norm, out: as fft's.

    Returns:
        The complex half spectrum, with n//2 + 1 points along axis.

    Example:
        >>> import nablanet.numpy as np
        >>> np.fft.rfft(np.array([1.0, 2.0, 0.0, -1.0]))
        array([2.+0.j, 1.-3.j, 0.+0.j])
    """
    _refuse_out("rfft", out)
    a, axis, n = _along_axis(a, n, axis, _unchanged)
    _refuse_complex("rfft", a)
    return RFFT.apply(a, n=n, axis=axis, norm=_norm(norm))


def irfft(a, n=None, axis=-1, norm=None, out=None):
    """The inverse of rfft: n real samples from a half spectrum (numpy.fft.irfft).

    n defaults to 2 (m - 1) for m input points; the input is zero-padded or cropped to n//2 + 1
    points, and the imaginary parts of its first (and, for even n, last) entry are ignored.

    Args:
        a: the half spectrum; n: the number of output points; axis, norm, out: as fft's.

    Returns:
        Real samples, n along axis (float32 for complex64 input).

    Example:
        >>> import nablanet.numpy as np
        >>> np.fft.irfft(np.array([2.0, 1 - 3j, 0.0]))
        array([ 1.,  2.,  0., -1.])
    """
    _refuse_out("irfft", out)
    a, axis, n = _along_axis(a, n, axis, _hermitian_length)
    return IRFFT.apply(a, n=n, axis=axis, norm=_norm(norm))


def hfft(a, n=None, axis=-1, norm=None, out=None):
    """The transform of a signal with Hermitian symmetry, given by its first half (numpy.fft.hfft).

    hfft(a, n, norm) = irfft(conj(a), n) with the opposite norm: a real spectrum of n points
    (default 2 (m - 1)).

    Args:
        a: the first half of a Hermitian signal; n: the number of output points; axis, norm, out: as fft's.

    Returns:
        The real spectrum, n points along axis.

    Example:
        >>> import nablanet.numpy as np
        >>> np.fft.hfft(np.array([1.0, 2.0, 3.0]))
        array([ 8., -2.,  0., -2.])
    """
    _refuse_out("hfft", out)
    a, axis, n = _along_axis(a, n, axis, _hermitian_length)
    return IRFFT.apply(conj(a), n=n, axis=axis, norm=_DUAL_NORM[_norm(norm)])


def ihfft(a, n=None, axis=-1, norm=None, out=None):
    """The inverse of hfft: conj(rfft(a, n)) with the opposite norm (numpy.fft.ihfft); a must be real.

    Args:
        a: a real spectrum; n, axis, norm, out: as fft's.

    Returns:
        The first half of the Hermitian signal, n//2 + 1 points along axis.

    Example:
        >>> import nablanet.numpy as np
        >>> np.fft.ihfft(np.array([8.0, -2.0, 0.0, -2.0]))
        array([1.-0.j, 2.-0.j, 3.-0.j])
    """
    _refuse_out("ihfft", out)
    a, axis, n = _along_axis(a, n, axis, _unchanged)
    _refuse_complex("ihfft", a)
    return conj(RFFT.apply(a, n=n, axis=axis, norm=_DUAL_NORM[_norm(norm)]))


# --- n-dimensional transforms: one axis at a time, in NumPy's order --------------------------------

def _each_axis(name, transform, a, s, axes, norm, out):
    """A one-dimensional transform along each axis in turn, the last first (numpy.fft's ``_raw_fftnd``)."""
    _refuse_out(name, out)
    a = _as_input(a)
    s, axes = _lengths_and_axes(a, s, axes)
    for length, axis in reversed(list(zip(s, axes))):
        a = transform(a, length, axis, norm)
    return a


def fftn(a, s=None, axes=None, norm=None, out=None):
    """The n-dimensional discrete Fourier transform over axes (default: all), as numpy.fft.fftn.

    The one-dimensional fft along each axis in turn (the last first, as NumPy), each input
    zero-padded or cropped to the matching entry of s.

    Args:
        a: real or complex; s: the lengths (default: a's), -1 for a's own; axes: the axes transformed (default:
            all, or the last len(s)); norm, out: as fft's.

    Returns:
        The complex spectrum, of length s[i] along axes[i].

    Example:
        >>> import nablanet.numpy as np
        >>> np.fft.fftn(np.array([[1.0, 2.0], [3.0, 4.0]]))
        array([[10.+0.j, -2.+0.j],
               [-4.+0.j,  0.+0.j]])
    """
    return _each_axis("fftn", fft, a, s, axes, norm, out)


def ifftn(a, s=None, axes=None, norm=None, out=None):
    """The n-dimensional inverse discrete Fourier transform, as numpy.fft.ifftn.

    Args:
        as fftn's.

    Returns:
        The complex samples, of length s[i] along axes[i].

    Example:
        >>> import nablanet.numpy as np
        >>> np.fft.ifftn(np.array([[10.0, -2.0], [-4.0, 0.0]])).real
        array([[1., 2.],
               [3., 4.]])
    """
    return _each_axis("ifftn", ifft, a, s, axes, norm, out)


def fft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    """The two-dimensional discrete Fourier transform: fftn over the last two axes (numpy.fft.fft2).

    Args:
        as fftn's, with axes (-2, -1) by default.

    Returns:
        The complex spectrum.

    Example:
        >>> import nablanet.numpy as np
        >>> np.fft.fft2(np.ones((2, 2)))
        array([[4.+0.j, 0.+0.j],
               [0.+0.j, 0.+0.j]])
    """
    return fftn(a, s, axes, norm, out)


def ifft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    """The two-dimensional inverse discrete Fourier transform (numpy.fft.ifft2).

    Args:
        as fftn's, with axes (-2, -1) by default.

    Returns:
        The complex samples.

    Example:
        >>> import nablanet.numpy as np
        >>> np.fft.ifft2(np.array([[4.0, 0.0], [0.0, 0.0]])).real
        array([[1., 1.],
               [1., 1.]])
    """
    return ifftn(a, s, axes, norm, out)


def rfftn(a, s=None, axes=None, norm=None, out=None):
    """The n-dimensional transform of real samples (numpy.fft.rfftn): rfft along the last axis, then fft.

    Args:
        a: real samples; s, axes, norm, out: as fftn's.

    Returns:
        The complex spectrum, halved (s[-1]//2 + 1 points) along the last of axes.

    Example:
        >>> import nablanet.numpy as np
        >>> np.fft.rfftn(np.array([[1.0, 2.0], [3.0, 4.0]]))
        array([[10.+0.j, -2.+0.j],
               [-4.+0.j,  0.+0.j]])
    """
    _refuse_out("rfftn", out)
    a = _as_input(a)
    s, axes = _lengths_and_axes(a, s, axes)
    a = rfft(a, s[-1], axes[-1], norm)
    for length, axis in reversed(list(zip(s[:-1], axes[:-1]))):
        a = fft(a, length, axis, norm)
    return a


def irfftn(a, s=None, axes=None, norm=None, out=None):
    """The inverse of rfftn (numpy.fft.irfftn): ifft along all axes but the last, then irfft.

    The last length defaults to 2 (m - 1) for m input points along the last axis.

    Args:
        a: the spectrum halved along the last of axes; s, axes, norm, out: as fftn's.

    Returns:
        Real samples, of length s[i] along axes[i].

    Example:
        >>> import nablanet.numpy as np
        >>> np.fft.irfftn(np.array([[10.0, -2.0], [-4.0, 0.0]]))
        array([[1., 2.],
               [3., 4.]])
    """
    _refuse_out("irfftn", out)
    a = _as_input(a)
    s, axes = _lengths_and_axes(a, s, axes, inverse_real=True)
    for length, axis in zip(s[:-1], axes[:-1]):
        a = ifft(a, length, axis, norm)
    return irfft(a, s[-1], axes[-1], norm)


def rfft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    """The two-dimensional transform of real samples: rfftn over the last two axes (numpy.fft.rfft2).

    Args:
        as rfftn's, with axes (-2, -1) by default.

    Returns:
        The complex spectrum, halved along the last axis.

    Example:
        >>> import nablanet.numpy as np
        >>> np.fft.rfft2(np.ones((2, 2)))
        array([[4.+0.j, 0.+0.j],
               [0.+0.j, 0.+0.j]])
    """
    return rfftn(a, s, axes, norm, out)


def irfft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    """The inverse of rfft2: irfftn over the last two axes (numpy.fft.irfft2).

    Args:
        as irfftn's, with axes (-2, -1) by default.

    Returns:
        Real samples.

    Example:
        >>> import nablanet.numpy as np
        >>> np.fft.irfft2(np.array([[4.0, 0.0], [0.0, 0.0]]))
        array([[1., 1.],
               [1., 1.]])
    """
    return irfftn(a, s, axes, norm, out)


# --- shifts ---------------------------------------------------------------------------------------

def _roll(x, shift, axis):
    """numpy.roll(x, shift, axis) for an axis or a sequence of them, as a slice and a concatenation.

    Shifts along the same axis add up, as in NumPy; the derivative is the roll back (the engine
    derives it from getitem and concatenate).
    """
    shape = np.shape(_raw(x))
    totals = {}
    for sh, ax in np.broadcast(shift, axis):
        ax = normalize_axis_index(int(ax), len(shape))
        totals[ax] = totals.get(ax, 0) + int(sh)
    for ax, total in totals.items():
        length = shape[ax]
        if length == 0 or total % length == 0:
            continue
        split = length - total % length
        lead = (slice(None),) * ax
        x = concatenate([getitem(x, lead + (slice(split, None),)), getitem(x, lead + (slice(0, split),))], axis=ax)
    return x


def _shift(x, axes, direction: int):
    x = _as_input(x)
    shape = np.shape(_raw(x))
    if axes is None:
        axes = tuple(range(len(shape)))
    if np.ndim(axes) == 0:
        shift = direction * (shape[operator.index(axes)] // 2)
    else:
        shift = [direction * (shape[operator.index(ax)] // 2) for ax in axes]
    return _roll(x, shift, axes)


def fftshift(x, axes=None):
    """Move the zero frequency to the centre of the spectrum: a roll by n//2 along axes (numpy.fft.fftshift).

    Args:
        x: real or complex; axes: an axis, a sequence of them, or None (all).

    Returns:
        x rolled by n//2 along each of axes.

    Example:
        >>> import nablanet.numpy as np
        >>> np.fft.fftshift(np.array([0.0, 1.0, 2.0, -2.0, -1.0]))
        array([-2., -1.,  0.,  1.,  2.])
    """
    return _shift(x, axes, 1)


def ifftshift(x, axes=None):
    """The inverse of fftshift: a roll by -(n//2) along axes (numpy.fft.ifftshift).

    Args:
        x: real or complex; axes: an axis, a sequence of them, or None (all).

    Returns:
        x rolled by -(n//2) along each of axes.

    Example:
        >>> import nablanet.numpy as np
        >>> np.fft.ifftshift(np.array([-2.0, -1.0, 0.0, 1.0, 2.0]))
        array([ 0.,  1.,  2., -2., -1.])
    """
    return _shift(x, axes, -1)
