"""fit(..., compile=True): the minibatch step of fit traced by nablanet.jit and replayed.

A step compiles when its structure is fixed: no closure (L-BFGS), no L1/L2 penalty (its value is
read in Python), one process, no sample weights. Any other step, and any batch of a new shape (the
last, partial one traces once more, then replays too), runs as ``nablanet.jit`` decides: the cache
is keyed by the batch's shape and dtype.

Not the default: a loss or a layer whose Python code does more than compute (a counter, a branch on
a value; fit's own tests inject a NaN that way) runs once, when traced, and replays without it.
"""

from __future__ import annotations

import math

import numpy as np

from nablanet.autodiff.jit import jit
from nablanet.train.divergence import NonFinite


class CompiledStep:
    """A fit step (loop._Step) whose cost and backward pass run as one traced program; then, as in
    eager mode, the loss is checked, the weights are saved for fit's divergence guard and the
    optimizer updates them.
    """

    def __init__(self, step):
        self.step = step
        self._program = jit(self._traced)

    def __getattr__(self, name):
        return getattr(self.step, name)

    def _eligible(self, global_rows, w_batch) -> bool:
        step = self.step
        return not (step.takes_closure or step.weight_penalty or step.parallel.collective or w_batch is not None
                    or global_rows is not None)

    def _traced(self, X_batch, y_batch):
        step = self.step
        data_loss, _, _, predictions = step._cost(X_batch, y_batch)
        step._backward(data_loss, 0.0)
        return data_loss, predictions

    def __call__(self, X_batch, y_batch, global_rows=None, w_batch=None):
        if not self._eligible(global_rows, w_batch) or not _arrays(X_batch, y_batch):
            return self.step(X_batch, y_batch, global_rows, w_batch)
        data_loss, predictions = self._program(X_batch, y_batch)
        value = float(data_loss.data)
        if not math.isfinite(value):
            raise NonFinite(f"the loss became {value}", value)
        # As the eager step: the snapshot, then the update (the optimizer's own step, which a traced
        # step would run as one opaque call anyway), only for a finite loss.
        self.step.snapshot.save()
        self.step.optimizer.step()
        return value, 0.0, self.step._kept(predictions)


def _arrays(*values) -> bool:
    return all(isinstance(v, np.ndarray) for v in values)
