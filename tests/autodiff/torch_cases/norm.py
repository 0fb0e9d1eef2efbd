"""Normalization along the last axis against torch's layer_norm without a scale or shift."""

import torch

import nablanet.numpy as np
from torch_cases import TorchCase


def _shapes(rng):
    # Rows of 1 to 9 values (a single value normalizes to 0, with a zero derivative) under 0 to 2 leading axes.
    return (tuple(int(n) for n in rng.integers(1, 4, rng.integers(0, 3))) + (int(rng.integers(1, 10)),),)


TORCH_CASES = [
    TorchCase(("normalize",), lambda x: np.normalize(x), lambda x: torch.nn.functional.layer_norm(x, x.shape[-1:]),
              _shapes, id="normalize"),
    TorchCase(("normalize",), lambda x: np.normalize(x, eps=0.5),
              lambda x: torch.nn.functional.layer_norm(x, x.shape[-1:], eps=0.5), _shapes, id="normalize-eps"),
]
