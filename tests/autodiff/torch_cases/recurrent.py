"""A GRU or Elman RNN layer over a sequence (gru_sequence, rnn_sequence) against torch.gru, torch.rnn_tanh and
torch.rnn_relu, one or two directions, either layout."""

import torch

import nablanet.numpy as np
from torch_cases import TorchCase


# kind: (our function of x, h0, the directions' weights and batch_first; torch's function; gates G)
KINDS = {
    "gru": (lambda x, h0, weights, batch_first: np.gru_sequence(x, h0, weights, batch_first=batch_first), torch.gru, 3),
    "rnn-tanh": (lambda x, h0, weights, batch_first: np.rnn_sequence(x, h0, weights, nonlinearity="tanh",
                                                                     batch_first=batch_first), torch.rnn_tanh, 1),
    "rnn-relu": (lambda x, h0, weights, batch_first: np.rnn_sequence(x, h0, weights, nonlinearity="relu",
                                                                     batch_first=batch_first), torch.rnn_relu, 1),
}


def _shapes(kind, batch_first, directions):
    def shapes(rng):
        steps, batch, n_in, hidden = (int(n) for n in rng.integers(1, 5, 4))
        width = KINDS[kind][2] * hidden
        x = (batch, steps, n_in) if batch_first else (steps, batch, n_in)
        return (x, (directions, batch, hidden)) + ((n_in, width), (hidden, width), (width,), (width,)) * directions
    return shapes


def _ours(kind, batch_first):
    def run(x, h0, *weights):
        return KINDS[kind][0](x, h0, [weights[k: k + 4] for k in range(0, len(weights), 4)], batch_first)
    return run


def _theirs(kind, batch_first):
    def run(x, h0, *weights):
        # torch keeps W_ih (G H, in) and W_hh (G H, H): ours transposed, the gate order ([r, z, n]) the same.
        params = [w.T if w.ndim == 2 else w for w in weights]
        return KINDS[kind][1](x, h0, params, True, 1, 0.0, False, len(weights) == 8, batch_first)[0]
    return run


TORCH_CASES = [
    TorchCase(("gru_sequence" if kind == "gru" else "rnn_sequence",), _ours(kind, batch_first),
              _theirs(kind, batch_first), _shapes(kind, batch_first, directions),
              id=f"{kind}-{'batch-first' if batch_first else 'time-first'}-{directions}")
    for kind in KINDS for batch_first in (False, True) for directions in (1, 2)
]
