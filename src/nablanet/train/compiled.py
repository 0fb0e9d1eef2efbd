"""fit(..., compile=True): the minibatch step of fit traced by nablanet.jit and replayed.

A step compiles when its structure is fixed: no closure (L-BFGS), no L1/L2 penalty (its value is
read in Python), one process, no sample weights. Any other step, and any batch of a new shape (the
last, partial one traces once more, then replays too), runs as ``nablanet.jit`` decides: the cache
is keyed by the batch's shape and dtype.
"""

from __future__ import annotations

import math

import numpy as np

from nablanet.autodiff.jit import jit, tracing
from nablanet.train.divergence import NonFinite


class CompiledStep:
    """A fit step (loop._Step) whose cost, backward pass, snapshot and update run as one traced program.

    The loss is checked after the update (a compiled step cannot stop half-way), so a non-finite loss
    is found one update later than eager mode finds it; the snapshot fit restores from is then the
    one taken just before that update.
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
        tracing.call(step.snapshot.save)
        step.optimizer.step()
        return data_loss, predictions

    def __call__(self, X_batch, y_batch, global_rows=None, w_batch=None):
        if not self._eligible(global_rows, w_batch) or not _arrays(X_batch, y_batch):
            return self.step(X_batch, y_batch, global_rows, w_batch)
        data_loss, predictions = self._program(X_batch, y_batch)
        value = float(data_loss.data)
        if not math.isfinite(value):
            raise NonFinite(f"the loss became {value}", value)
        return value, 0.0, self.step._kept(predictions)


def _arrays(*values) -> bool:
    return all(isinstance(v, np.ndarray) for v in values)
