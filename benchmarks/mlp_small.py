"""mlp-small: train a 40-100-100-10 ReLU network on MNIST-1D with Adam 1e-2, batch 100, steps/s.

The standard workload of PERFORMANCE.md: MNIST-1D's 4000 training signals of 40 features
(mnist1d.make_dataset's defaults, generated on this machine by nablanet.datasets.load_mnist1d; no
download), float32, softmax cross-entropy, Adam with lr 1e-2, batch 100 (40 steps an epoch). One
timed iteration is one minibatch step; a full repeat is 400 steps (ten epochs), and training goes on
from repeat to repeat. So small a network is bound by per-step overhead, not arithmetic.

Every peer starts from the same weights and sees the same batches; before anything is timed the
parent checks that their first losses agree and that every model has 15,210 parameters.

Usage:
    python benchmarks/mlp_small.py               # 7 interleaved repeats of 400 steps, 2 threads
    python benchmarks/mlp_small.py --quick
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _mlp  # noqa: E402
import _training  # noqa: E402

BATCH = 100
MLP = _mlp.MLP(sizes=(40, 100, 100, 10), lr=1e-2, batch_size=BATCH, make_data=_training.mnist1d_train)
WORKLOAD = _training.Workload(
    name="mlp-small",
    title="mlp-small: MNIST-1D, 40-100-100-10 ReLU, Adam lr 1e-2, batch 100, float32 (PERFORMANCE.md)",
    unit="steps/s", batch_size=BATCH, steps=400, quick_steps=40, check_steps=5,
    loss_rtol=2e-4, parameters=MLP.parameters,
    distributions=("numpy", "torch", "jax", "autograd", "mnist1d", "nablanet"))
PEER_BUILDERS = _mlp.peers(MLP)

measure, main = _training.entry_points(__file__, WORKLOAD, PEER_BUILDERS)


if __name__ == "__main__":
    sys.exit(main())
