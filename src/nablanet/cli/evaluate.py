"""`nablanet evaluate`: the loss and metrics of a saved model on a data set, prepared as in training."""

from __future__ import annotations

import numpy as np

from nablanet.cli.runs import SavedRun


def run(args) -> int:
    """Print the loss and metrics of the model file ``args.model`` on ``args.data``."""
    from nablanet.train import evaluate

    saved = SavedRun(args.model)
    X, y, description = saved.data(args.data, args.split, args.set, require_targets=True)
    task = saved.task_for(y)
    scores = evaluate(saved.model, saved.prepared(X), y, task.loss, task.metrics)
    print(f"{description}: {len(X)} samples")
    width = max(len(name) for name in scores)
    for name, value in scores.items():
        if np.ndim(value) == 0:
            print(f"  {name:<{width}}  {value:.6g}")
    return 0
