"""Elementwise functions against torch, complex inputs included (JAX's convention against PyTorch's).

Inputs are drawn inside each function's smooth region (see op_cases/elementwise.py), where the two
libraries' conventions at kinks, ties and branch cuts cannot differ.
"""

import torch

import nablanet.numpy as np
from torch_cases import TorchCase

SHAPES = ((3, 4),)
PAIR = ((3, 4), (4,))


def unary_cases(covers, ours, theirs, domain="real", complex_domain=None):
    """One real case, and one complex case when ``complex_domain`` is given."""
    name = covers[0]
    cases = [TorchCase(covers, ours, theirs, SHAPES, (domain,), id=name)]
    if complex_domain:
        cases.append(TorchCase(covers, ours, theirs, SHAPES, (complex_domain,), dtype="complex", id=f"{name}-complex"))
    return cases


def binary_case(covers, ours, theirs, domains=("real", "real"), **kwargs):
    return TorchCase(covers, ours, theirs, PAIR, domains, id=covers[0], **kwargs)


TORCH_CASES = [
    TorchCase(("real",), np.real, torch.real, SHAPES, dtype="complex", id="real"),
    TorchCase(("imag",), np.imag, torch.imag, SHAPES, dtype="complex", id="imag"),
    TorchCase(("conj",), lambda z: np.conj(z) * z, lambda z: torch.conj(z) * z, SHAPES, dtype="complex", id="conj-times-z"),
    TorchCase(("angle",), np.angle, torch.angle, SHAPES, ("nonzero",), dtype="complex", id="angle"),
    TorchCase(("abs",), np.abs, torch.abs, SHAPES, ("nonzero",), dtype="complex", id="abs-complex"),
    TorchCase(("exp", "multiply"), lambda z: np.exp(z) * z, lambda z: torch.exp(z) * z, SHAPES, dtype="complex",
              id="exp-times-z"),
    TorchCase(("log", "sin", "divide"), lambda z: np.sin(z) / np.log(z), lambda z: torch.sin(z) / torch.log(z),
              SHAPES, ("positive",), dtype="complex", id="sin-over-log"),
    TorchCase(("sqrt", "tanh"), lambda z: np.tanh(np.sqrt(z)), lambda z: torch.tanh(torch.sqrt(z)), SHAPES,
              ("positive",), dtype="complex", id="tanh-sqrt"),
    # A real input through a complex computation to a real output: e^{i x} |x| -> |.|^2.
    TorchCase(("real", "multiply", "exp"), lambda x: np.real(np.exp(1j * x) * (x + 2j)),
              lambda x: torch.real(torch.exp(1j * x) * (x + 2j)), SHAPES, id="real-through-complex"),
    # Trigonometric and hyperbolic functions and their inverses (NumPy 2's short names are the same functions).
    *unary_cases(("tan",), np.tan, torch.tan, "unit", "unit"),
    *unary_cases(("arcsin", "asin"), np.arcsin, torch.asin, "unit", "unit"),
    *unary_cases(("arccos", "acos"), np.arccos, torch.acos, "unit", "unit"),
    *unary_cases(("arctan", "atan"), np.arctan, torch.atan, "real", "unit"),
    *unary_cases(("sinh",), np.sinh, torch.sinh, "real", "real"),
    *unary_cases(("cosh",), np.cosh, torch.cosh, "real", "real"),
    *unary_cases(("arcsinh", "asinh"), np.arcsinh, torch.asinh, "real", "unit"),
    *unary_cases(("arccosh", "acosh"), np.arccosh, torch.acosh, "above_one", "above_one"),
    *unary_cases(("arctanh", "atanh"), np.arctanh, torch.atanh, "unit", "unit"),
    binary_case(("arctan2", "atan2"), np.arctan2, torch.atan2, ("nonzero", "real")),
    binary_case(("hypot",), np.hypot, torch.hypot),
    *unary_cases(("sinc",), np.sinc, torch.sinc, "real", "real"),
    TorchCase(("sinc",), lambda x: np.sinc(x * 0.1), lambda x: torch.sinc(x * 0.1), SHAPES, id="sinc-near-zero"),
    *unary_cases(("deg2rad", "radians"), np.deg2rad, torch.deg2rad),
    *unary_cases(("rad2deg", "degrees"), np.rad2deg, torch.rad2deg),
    # Exponentials and logarithms.
    *unary_cases(("exp2",), np.exp2, torch.exp2, "real", "real"),
    *unary_cases(("log2",), np.log2, torch.log2, "positive", "positive"),
    *unary_cases(("log10",), np.log10, torch.log10, "positive", "positive"),
    binary_case(("logaddexp",), np.logaddexp, torch.logaddexp),
    binary_case(("logaddexp2",), np.logaddexp2, torch.logaddexp2),
    binary_case(("float_power", "pow", "power"), np.float_power, torch.float_power, ("positive", "real")),
    TorchCase(("float_power",), np.float_power, torch.float_power, PAIR, ("positive",), dtype="complex",
              id="float_power-complex"),
    *unary_cases(("sigmoid",), np.sigmoid, torch.sigmoid, "real", "unit"),
    # Arithmetic.
    *unary_cases(("square",), np.square, torch.square, "real", "real"),
    *unary_cases(("reciprocal",), np.reciprocal, torch.reciprocal, "nonzero", "nonzero"),
    *unary_cases(("positive",), lambda x: np.positive(x) * x, lambda x: torch.positive(x) * x, "real", "real"),
    *unary_cases(("fabs", "absolute"), np.fabs, torch.abs, "nonzero"),
    binary_case(("remainder", "mod"), np.remainder, torch.remainder, ("real", "positive")),
    TorchCase(("remainder",), lambda x, y: x % y, lambda x, y: x % y, PAIR, ("real", "nonzero"), id="remainder-operator"),
    binary_case(("fmod",), np.fmod, torch.fmod, ("real", "nonzero")),
    binary_case(("copysign",), np.copysign, torch.copysign, ("nonzero", "nonzero")),
    # Choices (random inputs never tie).
    binary_case(("fmax",), np.fmax, torch.fmax),
    binary_case(("fmin",), np.fmin, torch.fmin),
    TorchCase(("clip",), lambda x, lo, hi: np.clip(x, lo, hi), lambda x, lo, hi: torch.clamp(x, lo, hi),
              ((3, 4), (4,), (3, 1)), ("real", "unit", "above_one"), id="clip-tensor-bounds"),
    TorchCase(("clip",), lambda x, lo, hi: np.clip(x, lo, hi), lambda x, lo, hi: torch.clamp(x, lo, hi),
              ((3, 4), (4,), (3, 1)), ("real", "above_one", "unit"), id="clip-swapped-bounds"),
    # torch differentiates nan_to_num of real numbers only.
    *unary_cases(("nan_to_num",), lambda x: np.nan_to_num(x) * x, lambda x: torch.nan_to_num(x) * x),
]

NO_TORCH = {
    "cbrt": "torch has no cube root (x ** (1/3) is NaN for negative x there)",
    "real_if_close": "torch has no real_if_close (its result type depends on the values)",
}
