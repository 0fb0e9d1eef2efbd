"""Recurrent cells and layers (``autodiff/ops/recurrent.py``)."""

import nablanet.numpy as np
from op_cases import Case


def _sequence(batch_first, nonlinearity=None):
    """gru_sequence (rnn_sequence with a nonlinearity) of flat arguments x, h0, then W_ih, W_hh, b_ih, b_hh per
    direction."""
    def run(x, h0, *weights):
        directions = [weights[k: k + 4] for k in range(0, len(weights), 4)]
        if nonlinearity is None:
            return np.gru_sequence(x, h0, directions, batch_first=batch_first)
        return np.rnn_sequence(x, h0, directions, nonlinearity=nonlinearity, batch_first=batch_first)
    return run


def _weights(n_in, hidden, directions, gates=3):
    return ((n_in, gates * hidden), (hidden, gates * hidden), (gates * hidden,), (gates * hidden,)) * directions


CASES = {
    "gru_cell": [Case(np.gru_cell, ((4, 3), (4, 2), (3, 6), (2, 6), (6,), (6,)), id="in3-h2")],
    "gru_sequence": [
        Case(_sequence(False), ((3, 2, 2), (1, 2, 2)) + _weights(2, 2, 1), id="T3-N2-in2-h2"),
        Case(_sequence(True), ((2, 4, 1), (2, 2, 3)) + _weights(1, 3, 2), id="bidirectional-batch-first"),
    ],
    "rnn_sequence": [
        Case(_sequence(False, "tanh"), ((3, 2, 2), (1, 2, 3)) + _weights(2, 3, 1, gates=1), id="tanh-T3-N2-in2-h3"),
        Case(_sequence(True, "relu"), ((2, 4, 1), (2, 2, 3)) + _weights(1, 3, 2, gates=1),
             id="relu-bidirectional-batch-first"),
    ],
}
