"""mlp-784: train a 784-256-128-10 ReLU network with Adam, batch 128, float32, against PyTorch, JAX, sklearn, autograd.

The standard workload of PERFORMANCE.md: X (60000, 784) standard normal, y uniform over 0-9, softmax
cross-entropy, Adam with lr 1e-3, one shuffled epoch. One timed iteration is one minibatch step
(forward, backward, Adam update); a full repeat is one epoch of 469 steps, and training continues
from repeat to repeat, so slowdowns that grow with training (subnormal numbers) show up.

Every peer starts from the same initial weights and sees the same batches: before anything is
timed, each runs a few steps and the parent checks that their losses agree (scikit-learn, which
draws its own initial weights and runs its own loop, is timed one epoch per repeat and only checked
to learn) and that every model has 235,146 parameters. Throughput is reported as samples/s, higher
is better; "vs nablanet" = nablanet / peer.

Usage:
    python benchmarks/mlp_784.py                 # 7 repeats of one epoch per peer, 2 threads
    python benchmarks/mlp_784.py --quick         # smoke run
    python benchmarks/mlp_784.py --peers nablanet,torch,torch-fused
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _mlp  # noqa: E402
import _training  # noqa: E402
from _training import Peer  # noqa: E402

N_SAMPLES, N_FEATURES, N_CLASSES = 60_000, 784, 10
BATCH = 128
STEPS_PER_EPOCH = -(-N_SAMPLES // BATCH)  # 469


def make_data():
    import numpy

    rng = numpy.random.default_rng(0)
    X = rng.standard_normal((N_SAMPLES, N_FEATURES), dtype=numpy.float32)
    y = rng.integers(0, N_CLASSES, N_SAMPLES)
    return X, y


MLP = _mlp.MLP(sizes=(N_FEATURES, 256, 128, N_CLASSES), lr=1e-3, batch_size=BATCH, make_data=make_data)
WORKLOAD = _training.Workload(
    name="mlp-784", title="mlp-784: 784-256-128-10 ReLU, softmax cross-entropy, Adam lr 1e-3, batch 128, float32 "
    "(PERFORMANCE.md)", unit="samples/s", batch_size=BATCH, steps=STEPS_PER_EPOCH, quick_steps=20, check_steps=5,
    # Float32 peers that start from the same weights and see the same batches: their losses agree to
    # rounding. A wrong gradient or optimizer changes the loss in the second or third digit.
    loss_rtol=2e-4, parameters=MLP.parameters, whole_repeat_peers=("sklearn",), unchecked=("sklearn",),
    distributions=("numpy", "torch", "jax", "scikit-learn", "autograd", "nablanet"))


def sklearn_peer(settings) -> Peer:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X, y = make_data()
    # One iteration = one epoch of its own minibatch loop (calling partial_fit per batch would time
    # scikit-learn's input validation, not its training).
    model = MLPClassifier(hidden_layer_sizes=MLP.sizes[1:-1], activation="relu", solver="adam", batch_size=BATCH,
                          learning_rate_init=MLP.lr, max_iter=1, shuffle=True, random_state=0,
                          warm_start=True, tol=0.0, n_iter_no_change=10**9)

    def epoch():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)
        return float(model.loss_)

    def count():
        return int(sum(W.size for W in model.coefs_) + sum(b.size for b in model.intercepts_))

    return Peer(epoch, N_SAMPLES, count, check=lambda: [epoch()])


PEER_BUILDERS = {**_mlp.peers(MLP), "sklearn": sklearn_peer}

measure, main = _training.entry_points(__file__, WORKLOAD, PEER_BUILDERS)


if __name__ == "__main__":
    sys.exit(main())
