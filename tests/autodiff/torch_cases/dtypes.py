"""Dtype conversion against torch's Tensor.to."""

import numpy
import torch

import nablanet.numpy as np
from torch_cases import TorchCase

TORCH_CASES = [
    # Through complex and back: the cotangent of a real input is the real part of a complex one.
    TorchCase(("astype",), lambda x: np.real(np.astype(x, numpy.complex128) * (1 + 2j)),
              lambda x: torch.real(x.to(torch.complex128) * (1 + 2j)), ((3, 2),), id="astype-complex"),
]
