"""cnn-28: train a small CNN on (N, 1, 28, 28) inputs with nablanet and PyTorch eager, samples/s.

The standard workload of PERFORMANCE.md: conv 1->16 3x3 pad 1, ReLU, maxpool 2, conv 16->32 3x3 pad 1,
ReLU, maxpool 2, dense 1568->10, softmax cross-entropy, Adam lr 1e-3, batch 64, float32, standard normal
inputs, labels uniform over 0-9. Both peers start from the same weights and see the same batches;
their first losses are compared before any timing is reported. Goal (issue 4): within 2x of PyTorch.

Usage:
    python benchmarks/cnn_28.py            # 7 interleaved repeats of 100 steps, 2 threads
    python benchmarks/cnn_28.py --quick
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _training  # noqa: E402
from _training import Batches  # noqa: E402

N_SAMPLES, BATCH, LEARNING_RATE = 6_400, 64, 1e-3
# Float32 convolutions summed in different orders: the first losses agree to about 1e-6.
LOSS_RTOL = 1e-4


def make_data():
    import numpy

    rng = numpy.random.default_rng(0)
    return rng.standard_normal((N_SAMPLES, 1, 28, 28), dtype=numpy.float32), rng.integers(0, 10, N_SAMPLES)


def initial_weights():
    """(conv1 W, b), (conv2 W, b) in (C_out, C_in, k, k) layout, then dense W (1568, 10), b."""
    import numpy

    rng = numpy.random.default_rng(1)

    def uniform(shape, fan_in):
        limit = (6.0 / fan_in) ** 0.5
        return rng.uniform(-limit, limit, shape).astype(numpy.float32)

    return [(uniform((16, 1, 3, 3), 9), numpy.zeros(16, numpy.float32)),
            (uniform((32, 16, 3, 3), 144), numpy.zeros(32, numpy.float32)),
            (uniform((1568, 10), 1568), numpy.zeros(10, numpy.float32))]


def nablanet_peer():
    import nablanet.nn as nn
    from nablanet import optim

    X, y = make_data()
    conv1, conv2 = nn.Conv2d(1, 16, 3, padding=1, activation="relu"), nn.Conv2d(16, 32, 3, padding=1, activation="relu")
    dense = nn.Dense(1568, 10)
    for layer, (W, b) in zip((conv1, conv2, dense), initial_weights()):
        layer.W.data[...] = W
        layer.b.data[...] = b
    # The ReLUs are fused into the convolutions (activation="relu"): the same computation as conv, ReLU.
    model = nn.Sequential(conv1, nn.MaxPool2d(2), conv2, nn.MaxPool2d(2), nn.Flatten(), dense)
    optimizer = optim.Adam(model.parameters(), lr=LEARNING_RATE)
    return _training.nablanet_step(model, optimizer, X, y, Batches(N_SAMPLES, BATCH)), BATCH


def torch_peer():
    import numpy
    import torch

    X, y = make_data()
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    conv1, conv2 = torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.Conv2d(16, 32, 3, padding=1)
    dense = torch.nn.Linear(1568, 10)
    (W1, b1), (W2, b2), (W3, b3) = initial_weights()
    with torch.no_grad():
        for layer, W, b in ((conv1, W1, b1), (conv2, W2, b2), (dense, numpy.ascontiguousarray(W3.T), b3)):
            layer.weight.copy_(torch.from_numpy(W))
            layer.bias.copy_(torch.from_numpy(b))
    model = torch.nn.Sequential(conv1, torch.nn.ReLU(), torch.nn.MaxPool2d(2), conv2, torch.nn.ReLU(),
                                torch.nn.MaxPool2d(2), torch.nn.Flatten(), dense)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    return _training.torch_step(model, optimizer, X, y, Batches(N_SAMPLES, BATCH)), BATCH


PEER_BUILDERS = {"nablanet": nablanet_peer, "torch": torch_peer}


def main(argv=None) -> int:
    return _training.main(
        __file__, "cnn-28: conv16-pool-conv32-pool-dense10, Adam 1e-3, batch 64, float32 (PERFORMANCE.md)",
        __doc__.split("\n\n")[0], PEER_BUILDERS, steps=100, quick_steps=10, check_steps=5, loss_rtol=LOSS_RTOL,
        batch_size=BATCH, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
