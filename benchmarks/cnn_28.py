"""cnn-28: train a small CNN on (N, 1, 28, 28) inputs, in a user's own loop and in nablanet.fit, samples/s.

The standard workload of PERFORMANCE.md: conv 1->16 3x3 pad 1, ReLU, maxpool 2, conv 16->32 3x3 pad 1,
ReLU, maxpool 2, dense 1568->10, softmax cross-entropy, Adam lr 1e-3, batch 64, float32, standard normal
inputs, labels uniform over 0-9 (6400 samples: a full repeat of 100 steps is one epoch). nablanet is
timed in a user's own loop and inside nablanet.fit (one call per repeat, over the same batches), each
also compiled once nablanet has nablanet.jit; its peers are PyTorch eager (default and fused Adam) and
JAX jit. Every peer starts from the same weights and sees the same batches; their first losses and
their numbers of parameters (20,490) are compared before any timing is reported.

Usage:
    python benchmarks/cnn_28.py            # 7 interleaved repeats of 100 steps, 2 threads
    python benchmarks/cnn_28.py --quick
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _training  # noqa: E402
from _jax import JaxModel, jax_peers  # noqa: E402
from _training import Batches, NablanetModel, TorchModel  # noqa: E402

N_SAMPLES, BATCH, LEARNING_RATE = 6_400, 64, 1e-3
WORKLOAD = _training.Workload(
    name="cnn-28", title="cnn-28: conv16-pool-conv32-pool-dense10, Adam 1e-3, batch 64, float32 (PERFORMANCE.md)",
    unit="samples/s", batch_size=BATCH, steps=100, quick_steps=10, check_steps=5,
    # Float32 convolutions summed in different orders: the first losses agree to about 1e-6.
    loss_rtol=1e-4, parameters=16 * 9 + 16 + 32 * 16 * 9 + 32 + 1568 * 10 + 10)


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


def nablanet_model(settings) -> NablanetModel:
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
    return NablanetModel(model, optim.Adam(model.parameters(), lr=LEARNING_RATE), X, y, Batches(N_SAMPLES, BATCH))


def torch_model(settings) -> TorchModel:
    import torch

    X, y = make_data()
    conv1, conv2 = torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.Conv2d(16, 32, 3, padding=1)
    dense = torch.nn.Linear(1568, 10)
    (W1, b1), (W2, b2), (W3, b3) = initial_weights()
    with torch.no_grad():
        for layer, W, b in ((conv1, W1, b1), (conv2, W2, b2), (dense, W3.T, b3)):
            layer.weight.copy_(_training.torch_tensor(W))
            layer.bias.copy_(_training.torch_tensor(b))
    model = torch.nn.Sequential(conv1, torch.nn.ReLU(), torch.nn.MaxPool2d(2), conv2, torch.nn.ReLU(),
                                torch.nn.MaxPool2d(2), torch.nn.Flatten(), dense)
    return TorchModel(model, list(model.parameters()), torch.from_numpy(X), torch.from_numpy(y),
                      Batches(N_SAMPLES, BATCH), LEARNING_RATE)


def jax_model(settings, jax) -> JaxModel:
    jnp, lax = jax.numpy, jax.lax

    def conv_relu_pool(x, W, b):
        z = lax.conv_general_dilated(x, W, (1, 1), ((1, 1), (1, 1)), dimension_numbers=("NCHW", "OIHW", "NCHW"))
        a = jnp.maximum(z + b[None, :, None, None], 0.0)
        # 2x2 max pool as a reshape and a max: PERFORMANCE.md measured it 2.4x faster in JAX than
        # lax.reduce_window, so JAX's best spelling is the peer.
        N, C, H, W_ = a.shape
        return a.reshape(N, C, H // 2, 2, W_ // 2, 2).max(axis=(3, 5))

    def logits(params, x):
        (W1, b1), (W2, b2), (W3, b3) = params
        a = conv_relu_pool(conv_relu_pool(x, W1, b1), W2, b2)
        return a.reshape(a.shape[0], -1) @ W3 + b3  # (N, C, H, W) flattened in C, H, W order, as Flatten

    X, y = make_data()
    return JaxModel(initial_weights(), logits, X, y, Batches(N_SAMPLES, BATCH), LEARNING_RATE)


PEER_BUILDERS = {**_training.nablanet_peers(nablanet_model), **_training.torch_peers(torch_model),
                 **jax_peers(jax_model)}

measure, main = _training.entry_points(__file__, WORKLOAD, PEER_BUILDERS)


if __name__ == "__main__":
    sys.exit(main())
