"""gru: train a bidirectional GRU on MNIST-1D sequences with nablanet and PyTorch eager, steps/s.

The standard workload of PERFORMANCE.md: MNIST-1D (mnist1d.make_dataset defaults: 4000 training
signals of 40 samples) read as sequences of 40 steps with 1 feature, a bidirectional GRU of hidden
size 6 whose final states feed a dense layer to 10 classes, softmax cross-entropy, Adam lr 1e-2,
batch 100, float32. Both peers start from the same weights (PyTorch's gate order, copied) and see the
same batches; their first losses are compared before any timing is reported.

Usage:
    python benchmarks/gru.py
    python benchmarks/gru.py --quick
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _training  # noqa: E402
from _training import Batches  # noqa: E402

HIDDEN, BATCH, LEARNING_RATE = 6, 100, 1e-2
LOSS_RTOL = 1e-4


def make_data():
    import mnist1d.data
    import numpy

    state = numpy.random.get_state()  # the generator reseeds NumPy's global state; put it back
    data = mnist1d.data.make_dataset(mnist1d.data.get_dataset_args())
    numpy.random.set_state(state)
    return data["x"].astype(numpy.float32)[:, :, None], data["y"].astype(numpy.int64)


def initial_weights():
    """Per direction: W_ih (1, 3H), W_hh (H, 3H), b_ih, b_hh (3H,) in gate order [r, z, n]; head (2H, 10), (10,)."""
    import numpy

    rng = numpy.random.default_rng(1)
    bound = HIDDEN ** -0.5
    directions = [tuple(rng.uniform(-bound, bound, shape).astype(numpy.float32)
                        for shape in ((1, 3 * HIDDEN), (HIDDEN, 3 * HIDDEN), (3 * HIDDEN,), (3 * HIDDEN,)))
                  for _ in range(2)]
    head_bound = (1.0 / (2 * HIDDEN)) ** 0.5
    head = (rng.uniform(-head_bound, head_bound, (2 * HIDDEN, 10)).astype(numpy.float32), numpy.zeros(10, numpy.float32))
    return directions, head


def nablanet_peer():
    import nablanet.nn as nn
    from nablanet import optim

    X, y = make_data()
    gru = nn.GRU(1, HIDDEN, bidirectional=True, return_sequences=False)
    head = nn.Dense(2 * HIDDEN, 10)
    directions, (W, b) = initial_weights()
    for weights, values in zip(gru.cells[0], directions):
        for parameter, value in zip((weights.W_ih, weights.W_hh, weights.b_ih, weights.b_hh), values):
            parameter.data[...] = value
    head.W.data[...], head.b.data[...] = W, b
    model = nn.Sequential(gru, head)
    optimizer = optim.Adam(model.parameters(), lr=LEARNING_RATE)
    return _training.nablanet_step(model, optimizer, X, y, Batches(len(X), BATCH)), BATCH


def torch_peer():
    import torch

    X, y = make_data()
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    gru = torch.nn.GRU(1, HIDDEN, bidirectional=True, batch_first=True)
    head = torch.nn.Linear(2 * HIDDEN, 10)
    directions, (W, b) = initial_weights()
    with torch.no_grad():
        for suffix, (W_ih, W_hh, b_ih, b_hh) in zip(("l0", "l0_reverse"), directions):
            getattr(gru, f"weight_ih_{suffix}").copy_(torch.from_numpy(W_ih.T.copy()))
            getattr(gru, f"weight_hh_{suffix}").copy_(torch.from_numpy(W_hh.T.copy()))
            getattr(gru, f"bias_ih_{suffix}").copy_(torch.from_numpy(b_ih))
            getattr(gru, f"bias_hh_{suffix}").copy_(torch.from_numpy(b_hh))
        head.weight.copy_(torch.from_numpy(W.T.copy()))
        head.bias.copy_(torch.from_numpy(b))
    parameters = list(gru.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(parameters, lr=LEARNING_RATE)
    def forward(x):
        _, h_n = gru(x)  # (2, N, H): the forward and backward directions' final states
        return head(torch.cat([h_n[0], h_n[1]], dim=1))

    return _training.torch_step(forward, optimizer, X, y, Batches(len(X), BATCH)), BATCH


PEER_BUILDERS = {"nablanet": nablanet_peer, "torch": torch_peer}


def main(argv=None) -> int:
    return _training.main(
        __file__, "gru: MNIST-1D as 40-step sequences, bidirectional GRU hidden 6, Adam 1e-2, batch 100 (PERFORMANCE.md)",
        __doc__.split("\n\n")[0], PEER_BUILDERS, steps=40, quick_steps=5, check_steps=5, loss_rtol=LOSS_RTOL,
        batch_size=BATCH, unit="steps/s", distributions=("numpy", "torch", "mnist1d", "nablanet"), argv=argv)


if __name__ == "__main__":
    sys.exit(main())
