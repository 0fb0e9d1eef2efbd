"""Discrete Fourier transforms (``autodiff/ops/fft.py``, the namespace ``nablanet.numpy.fft``).

Real and complex inputs, every norm, n and s that pad and that crop, odd and even lengths (the
Hermitian weights of rfft and irfft differ), batched and negative axes.
"""

import nablanet.numpy as np
from op_cases import Case

NORMS = ("backward", "ortho", "forward")


def _norms(fn, shape, dtype, **kwargs):
    return [Case(lambda x, norm=norm: fn(x, norm=norm, **kwargs), (shape,), id=f"{dtype}-{norm}", dtype=dtype)
            for norm in NORMS]


CASES = {
    # The primitives, through the 1-D functions that apply them directly.
    "fft": _norms(np.fft.fft, (6,), "complex") + [
        Case(lambda x: np.fft.ifft(x, n=7, axis=0), ((5, 2),), id="inverse-padded", dtype="complex"),
    ],
    "rfft": _norms(np.fft.rfft, (6,), "real") + [
        Case(lambda x: np.fft.rfft(x, n=5), ((2, 5),), id="odd"),
    ],
    "irfft": _norms(np.fft.irfft, (4,), "complex") + [
        Case(lambda y: np.fft.irfft(y, n=7), ((2, 4),), id="odd", dtype="complex"),
    ],
    "fft.fft": _norms(np.fft.fft, (5,), "real") + [
        Case(lambda x: np.fft.fft(x, n=8), ((5,),), id="padded", dtype="complex"),
        Case(lambda x: np.fft.fft(x, n=3, axis=0), ((5, 2),), id="cropped-axis0", dtype="complex"),
        Case(lambda x: np.fft.fft(x, axis=1), ((2, 4, 3),), id="batched"),
        Case(lambda x: np.fft.fft(x, axis=-2, norm="ortho"), ((2, 4, 3),), id="batched-complex", dtype="complex"),
    ],
    "fft.ifft": _norms(np.fft.ifft, (5,), "complex") + [
        Case(lambda x: np.fft.ifft(x, n=4), ((3, 6),), id="cropped"),
        Case(lambda x: np.fft.ifft(x, n=9, norm="forward"), ((6,),), id="padded", dtype="complex"),
    ],
    "fft.rfft": _norms(np.fft.rfft, (7,), "real") + [
        Case(lambda x: np.fft.rfft(x, n=10), ((6,),), id="padded-even"),
        Case(lambda x: np.fft.rfft(x, n=3, axis=0, norm="ortho"), ((5, 2),), id="cropped-odd"),
        Case(lambda x: np.fft.rfft(x, n=1), ((3,),), id="one-point"),
        Case(lambda x: np.fft.rfft(x, n=2), ((3,),), id="two-points"),
    ],
    "fft.irfft": _norms(np.fft.irfft, (5,), "complex") + [
        Case(lambda y: np.fft.irfft(y), ((3, 4),), id="real-input"),
        Case(lambda y: np.fft.irfft(y, n=4), ((6,),), id="cropped", dtype="complex"),
        Case(lambda y: np.fft.irfft(y, n=11, axis=0, norm="ortho"), ((3, 2),), id="padded-odd", dtype="complex"),
    ],
    "fft.hfft": _norms(np.fft.hfft, (4,), "complex") + [
        Case(lambda a: np.fft.hfft(a, n=5, axis=0), ((3, 2),), id="odd", dtype="complex"),
    ],
    "fft.ihfft": _norms(np.fft.ihfft, (6,), "real") + [
        Case(lambda a: np.fft.ihfft(a, n=5), ((2, 4),), id="padded-odd"),
    ],
    "fft.fft2": [
        Case(np.fft.fft2, ((3, 4),), id="real"),
        Case(lambda x: np.fft.fft2(x, s=(4, 2), norm="ortho"), ((2, 3, 3),), id="padded-cropped", dtype="complex"),
    ],
    "fft.ifft2": [
        Case(np.fft.ifft2, ((3, 4),), id="complex", dtype="complex"),
        Case(lambda x: np.fft.ifft2(x, axes=(0, 2), norm="forward"), ((2, 3, 3),), id="axes"),
    ],
    "fft.fftn": [
        Case(np.fft.fftn, ((2, 3, 2),), id="all-axes", dtype="complex"),
        Case(lambda x: np.fft.fftn(x, s=(5,), axes=(1,)), ((2, 3),), id="one-axis-padded"),
        Case(lambda x: np.fft.fftn(x, axes=(0, 0)), ((3, 2),), id="repeated-axis", dtype="complex"),
    ],
    "fft.ifftn": [
        Case(lambda x: np.fft.ifftn(x, s=(2, 4), axes=(-1, 0), norm="ortho"), ((3, 3),), id="padded-cropped",
             dtype="complex"),
    ],
    "fft.rfft2": [
        Case(np.fft.rfft2, ((3, 4),), id="even"),
        Case(lambda x: np.fft.rfft2(x, s=(4, 5), norm="forward"), ((2, 3, 4),), id="padded-odd"),
    ],
    "fft.irfft2": [
        Case(np.fft.irfft2, ((3, 3),), id="even", dtype="complex"),
        Case(lambda y: np.fft.irfft2(y, s=(2, 5), norm="ortho"), ((2, 3, 3),), id="odd", dtype="complex"),
    ],
    "fft.rfftn": [
        Case(np.fft.rfftn, ((2, 3, 4),), id="all-axes"),
        Case(lambda x: np.fft.rfftn(x, s=(3, 3), axes=(2, 0)), ((2, 2, 4),), id="axes-order"),
    ],
    "fft.irfftn": [
        Case(np.fft.irfftn, ((2, 2, 3),), id="all-axes", dtype="complex"),
        Case(lambda y: np.fft.irfftn(y, s=(3, 3), axes=(0, 1), norm="forward"), ((2, 4),), id="odd", dtype="complex"),
    ],
    "fft.fftshift": [
        Case(np.fft.fftshift, ((5,),), id="odd"),
        Case(np.fft.fftshift, ((4, 3),), id="all-axes", dtype="complex"),
        Case(lambda x: np.fft.fftshift(x, axes=1), ((2, 4),), id="int-axis"),
    ],
    "fft.ifftshift": [
        Case(np.fft.ifftshift, ((5,),), id="odd"),
        Case(lambda x: np.fft.ifftshift(x, axes=(0,)), ((3, 4),), id="axes", dtype="complex"),
    ],
}
