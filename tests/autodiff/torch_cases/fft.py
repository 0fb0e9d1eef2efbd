"""Discrete Fourier transforms against torch.fft: real and complex inputs, every norm, n and s that pad
and crop, odd and even lengths, dims and shifts (torch's ``dim`` is NumPy's ``axis``/``axes``).

Lengths are drawn per example (odd and even: the Hermitian weights of rfft and irfft differ), so a
case covers both; each norm is compared on the one-dimensional transforms, whose primitives the
n-dimensional ones compose.
"""

import torch

import nablanet.numpy as np
from torch_cases import TorchCase

NORMS = ("backward", "ortho", "forward")


def _lengths(*lead):
    """Shapes (lead..., m) with m drawn from 2..7."""
    return lambda rng: ((*lead, int(rng.integers(2, 8))),)


def _case(name, shapes, dtype, ours_kwargs=None, theirs_kwargs=None, norm=None):
    """np.fft.<name> against torch.fft.<name> with matching keyword arguments (NumPy's and torch's names)."""
    ours_kwargs = {**(ours_kwargs or {}), "norm": norm}
    theirs_kwargs = {**(theirs_kwargs if theirs_kwargs is not None else ours_kwargs), "norm": norm}
    ours_fn, theirs_fn = getattr(np.fft, name), getattr(torch.fft, name)
    detail = "-".join(f"{k}{v}" for k, v in ours_kwargs.items() if v is not None)
    return TorchCase((f"fft.{name}",), lambda x: ours_fn(x, **ours_kwargs), lambda x: theirs_fn(x, **theirs_kwargs),
                     shapes, dtype=dtype, id=f"{name}-{dtype}" + (f"-{detail}" if detail else ""))


TORCH_CASES = [
    *[_case("fft", _lengths(2), "real", norm=norm) for norm in NORMS],
    *[_case("ifft", _lengths(), "complex", {"n": 6}, norm=norm) for norm in NORMS],
    *[_case("rfft", _lengths(2), "real", norm=norm) for norm in NORMS],
    *[_case("irfft", _lengths(3), "complex", norm=norm) for norm in NORMS],
    *[_case("hfft", _lengths(2), "complex", norm=norm) for norm in NORMS],
    *[_case("ihfft", _lengths(), "real", {"n": 5}, norm=norm) for norm in NORMS],
    _case("fft", ((3, 5),), "complex", {"n": 8, "axis": 0}, {"n": 8, "dim": 0}),
    _case("rfft", ((6, 2),), "real", {"n": 3, "axis": 0}, {"n": 3, "dim": 0}),
    _case("irfft", _lengths(2), "complex", {"n": 7}),
    _case("hfft", ((5,),), "complex", {"n": 4}),
    _case("fft2", ((2, 3, 4),), "complex"),
    _case("ifft2", ((3, 4),), "complex", {"s": (5, 3), "axes": (1, 0)}, {"s": (5, 3), "dim": (1, 0)}, norm="ortho"),
    _case("fftn", ((2, 3, 4),), "real", {"s": (3, 5), "axes": (0, 2)}, {"s": (3, 5), "dim": (0, 2)}),
    _case("ifftn", ((3, 2, 2),), "complex", {"axes": (0, 1)}, {"dim": (0, 1)}, norm="forward"),
    _case("rfft2", ((2, 3, 5),), "real", {"s": (4, 3)}),
    _case("irfft2", ((2, 3, 2),), "complex", {"s": (3, 5)}, norm="ortho"),
    _case("rfftn", ((3, 4),), "real", {"s": (2, 7), "axes": (1, 0)}, {"s": (2, 7), "dim": (1, 0)}, norm="forward"),
    _case("irfftn", ((2, 2, 3),), "complex"),
    TorchCase(("fft.fftshift",), np.fft.fftshift, torch.fft.fftshift, lambda rng: (tuple(rng.integers(1, 6, 2)),),
              id="fftshift-all"),
    TorchCase(("fft.fftshift",), lambda x: np.fft.fftshift(x, axes=1), lambda x: torch.fft.fftshift(x, dim=1),
              ((2, 5),), dtype="complex", id="fftshift-axis"),
    TorchCase(("fft.ifftshift",), np.fft.ifftshift, torch.fft.ifftshift, lambda rng: (tuple(rng.integers(1, 6, 2)),),
              id="ifftshift-all"),
    # The primitives as they meet in a spectral filter: rfft, a complex gain, irfft.
    TorchCase(("fft", "rfft", "irfft"), lambda x: np.fft.irfft(np.fft.rfft(x) * (1.0 - 0.5j), n=7),
              lambda x: torch.fft.irfft(torch.fft.rfft(x) * (1.0 - 0.5j), n=7), ((2, 7),), id="spectral-filter"),
]
