"""A GRU layer over a sequence (gru_sequence) against torch.gru, one or two directions, either layout."""

import torch

import nablanet.numpy as np
from torch_cases import TorchCase


def _shapes(batch_first, directions):
    def shapes(rng):
        steps, batch, n_in, hidden = (int(n) for n in rng.integers(1, 5, 4))
        x = (batch, steps, n_in) if batch_first else (steps, batch, n_in)
        return (x, (directions, batch, hidden)) + ((n_in, 3 * hidden), (hidden, 3 * hidden), (3 * hidden,),
                                                  (3 * hidden,)) * directions
    return shapes


def _ours(batch_first):
    def run(x, h0, *weights):
        return np.gru_sequence(x, h0, [weights[k: k + 4] for k in range(0, len(weights), 4)], batch_first=batch_first)
    return run


def _theirs(batch_first):
    def run(x, h0, *weights):
        # torch keeps W_ih (3H, in) and W_hh (3H, H): ours transposed, the gate order [r, z, n] the same.
        params = [w.T if w.ndim == 2 else w for w in weights]
        return torch.gru(x, h0, params, True, 1, 0.0, False, len(weights) == 8, batch_first)[0]
    return run


TORCH_CASES = [
    TorchCase(("gru_sequence",), _ours(batch_first), _theirs(batch_first), _shapes(batch_first, directions),
              id=f"gru_sequence-{'batch-first' if batch_first else 'time-first'}-{directions}")
    for batch_first in (False, True) for directions in (1, 2)
]
