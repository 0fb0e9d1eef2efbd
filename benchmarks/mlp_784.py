"""mlp-784: train a 784-256-128-10 ReLU network with Adam, batch 128, float32, against PyTorch, scikit-learn, autograd.

The standard workload of PERFORMANCE.md: X (60000, 784) standard normal, y uniform over 0-9, softmax
cross-entropy, Adam with lr 1e-3, one shuffled epoch. One timed iteration is one minibatch step
(forward, backward, Adam update); a full repeat is one epoch of 469 steps, and training continues
from repeat to repeat, so slowdowns that grow with training (subnormal numbers) show up.

Every peer starts from the same initial weights and sees the same batches: before anything is
timed, each runs a few steps and the parent checks that their losses agree (scikit-learn, which
draws its own initial weights, is only checked to learn). Throughput is reported as samples/s,
higher is better; "vs nablanet" = nablanet / peer.

Usage:
    python benchmarks/mlp_784.py                 # 7 repeats of one epoch per peer, 2 threads
    python benchmarks/mlp_784.py --quick         # smoke run
    python benchmarks/mlp_784.py --peers nablanet,torch
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402
import _training  # noqa: E402
from _training import Batches  # noqa: E402

PEERS = ("nablanet", "torch", "torch-fused", "sklearn", "autograd")
N_SAMPLES, N_FEATURES, N_CLASSES = 60_000, 784, 10
HIDDEN = (256, 128)
BATCH = 128
LEARNING_RATE = 1e-3
STEPS_PER_EPOCH = -(-N_SAMPLES // BATCH)  # 469
CHECK_STEPS = 5
# Float32 peers that start from the same weights and see the same batches: their losses agree to
# rounding. A wrong gradient or optimizer changes the loss in the second or third digit.
LOSS_RTOL = 2e-4


def make_data():
    import numpy

    rng = numpy.random.default_rng(0)
    X = rng.standard_normal((N_SAMPLES, N_FEATURES), dtype=numpy.float32)
    y = rng.integers(0, N_CLASSES, N_SAMPLES)
    return X, y


def initial_weights():
    """He-uniform weights and zero biases, (in, out) layout, drawn once for every peer."""
    import numpy

    rng = numpy.random.default_rng(1)
    sizes = (N_FEATURES, *HIDDEN, N_CLASSES)
    weights = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        limit = (6.0 / n_in) ** 0.5
        weights.append((rng.uniform(-limit, limit, (n_in, n_out)).astype(numpy.float32),
                        numpy.zeros(n_out, dtype=numpy.float32)))
    return weights


# --- peers: each returns a step function (one minibatch) that returns the batch loss ----------------

def nablanet_peer():
    import nablanet.nn as nn
    from nablanet import optim

    X, y = make_data()
    layers = []
    sizes = (N_FEATURES, *HIDDEN, N_CLASSES)
    for i, (W, b) in enumerate(initial_weights()):
        layer = nn.Dense(sizes[i], sizes[i + 1], activation="relu" if i < len(HIDDEN) else None)
        layer.W.data[...] = W
        layer.b.data[...] = b
        layers.append(layer)
    model = nn.Sequential(*layers)
    optimizer = optim.Adam(model.parameters(), lr=LEARNING_RATE)
    return _training.nablanet_step(model, optimizer, X, y, Batches(N_SAMPLES, BATCH)), BATCH


def torch_peer(fused: bool):
    def build():
        import numpy
        import torch

        X, y = make_data()
        X, y = torch.from_numpy(X), torch.from_numpy(y)
        sizes = (N_FEATURES, *HIDDEN, N_CLASSES)
        layers = []
        for i, (W, b) in enumerate(initial_weights()):
            linear = torch.nn.Linear(sizes[i], sizes[i + 1])
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(numpy.ascontiguousarray(W.T)))
                linear.bias.copy_(torch.from_numpy(b))
            layers.append(linear)
            if i < len(HIDDEN):
                layers.append(torch.nn.ReLU())
        model = torch.nn.Sequential(*layers)
        optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, fused=fused)
        return _training.torch_step(model, optimizer, X, y, Batches(N_SAMPLES, BATCH)), BATCH

    return build


def sklearn_peer():
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X, y = make_data()
    # One iteration = one epoch of its own minibatch loop (calling partial_fit per batch would time
    # scikit-learn's input validation, not its training).
    model = MLPClassifier(hidden_layer_sizes=HIDDEN, activation="relu", solver="adam", batch_size=BATCH,
                          learning_rate_init=LEARNING_RATE, max_iter=1, shuffle=True, random_state=0,
                          warm_start=True, tol=0.0, n_iter_no_change=10**9)

    def epoch():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)
        return float(model.loss_)

    return epoch, N_SAMPLES


def autograd_peer():
    try:
        import autograd.numpy as anp
        from autograd import value_and_grad
    except ImportError as missing:
        raise _harness.PeerUnavailable(f"autograd is not installed ({missing})")
    import numpy

    X, y = make_data()
    params = [array for pair in initial_weights() for array in pair]
    m = [numpy.zeros_like(p) for p in params]
    v = [numpy.zeros_like(p) for p in params]
    batches = Batches(N_SAMPLES, BATCH)
    t = [0]

    def loss_fn(params, xb, yb):
        a = xb
        for i in range(0, len(params) - 2, 2):
            a = anp.maximum(anp.dot(a, params[i]) + params[i + 1], 0.0)
        z = anp.dot(a, params[-2]) + params[-1]
        z = z - anp.max(z, axis=1, keepdims=True)
        log_p = z - anp.log(anp.sum(anp.exp(z), axis=1, keepdims=True))
        return -anp.mean(log_p[numpy.arange(len(yb)), yb])

    loss_and_grad = value_and_grad(loss_fn)

    def step():
        index = batches.next()
        xb, yb = X[index], y[index]
        loss, grads = loss_and_grad(params, xb, yb)
        t[0] += 1
        # Adam as torch.optim.Adam: bias-corrected step size, eps outside the square root.
        scale = LEARNING_RATE * (1 - 0.999 ** t[0]) ** 0.5 / (1 - 0.9 ** t[0])
        for p, g, mi, vi in zip(params, grads, m, v):
            mi *= 0.9
            mi += 0.1 * g
            vi *= 0.999
            vi += 0.001 * g * g
            p -= scale * mi / (numpy.sqrt(vi) + 1e-8 * (1 - 0.999 ** t[0]) ** 0.5)
        return float(loss)

    return step, BATCH


PEER_BUILDERS = {
    "nablanet": nablanet_peer,
    "torch": torch_peer(fused=False),
    "torch-fused": torch_peer(fused=True),
    "sklearn": sklearn_peer,
    "autograd": autograd_peer,
}


def main(argv=None) -> int:
    return _training.main(
        __file__, "mlp-784: 784-256-128-10 ReLU, softmax cross-entropy, Adam lr 1e-3, batch 128, float32 (PERFORMANCE.md)",
        __doc__.split("\n\n")[0], PEER_BUILDERS, steps=STEPS_PER_EPOCH, quick_steps=20, check_steps=CHECK_STEPS,
        loss_rtol=LOSS_RTOL, batch_size=BATCH, whole_epoch_peers=("sklearn",),
        distributions=("numpy", "torch", "scikit-learn", "autograd", "nablanet"), argv=argv)


if __name__ == "__main__":
    sys.exit(main())
