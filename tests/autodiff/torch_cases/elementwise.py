"""Elementwise functions against torch, complex inputs included (JAX's convention against PyTorch's)."""

import torch

import nablanet.numpy as np
from torch_cases import TorchCase

SHAPES = ((3, 4),)

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
]
