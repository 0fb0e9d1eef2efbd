"""The learning-rate range test (Smith, 2017; fastai's lr_find): loss against an exponentially growing rate."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nablanet.autodiff.tensor import Tensor
from nablanet.nn.functional import get_loss
from nablanet.optim.base import Optimizer

__all__ = ["lr_find", "LRFinderResult"]


@dataclass
class LRFinderResult:
    """The curve of a learning-rate range test and the rate it suggests.

    Attributes:
        lrs: the learning rate of each step taken.
        losses: the minibatch loss of each step (before its update).
        smoothed: the losses smoothed by the exponential moving average run forward and backward
            (no lag), with the exploding tail capped at the level that stopped the test.
        steepest_lr: the rate where the smoothed loss falls fastest (most negative slope against
            log10 of the rate), searched between the start and the minimum of the smoothed loss.
        min_loss_lr: the rate at the minimum of the smoothed loss.
        method: which of the two ``suggestion`` uses: ``"steepest"`` (steepest_lr) or ``"minimum"``
            (min_loss_lr / 10).
        diverged: the test stopped early because the loss exploded (or became NaN).
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    steepest_lr: float
    min_loss_lr: float
    method: str = "steepest"
    diverged: bool = False

    @property
    def suggestion(self) -> float:
        """The suggested learning rate (see ``method``)."""
        return self.steepest_lr if self.method == "steepest" else self.min_loss_lr / 10

    def __str__(self):
        how = ("steepest descent of the smoothed loss" if self.method == "steepest"
               else "the rate of minimum loss / 10")
        end = "stopped when the loss exploded" if self.diverged else "ran all steps"
        return (f"learning-rate range test: {self.lrs.size} steps from {self.lrs[0]:.3g} to {self.lrs[-1]:.3g} "
                f"({end}); suggested lr = {self.suggestion:.3g} ({how}); steepest descent at {self.steepest_lr:.3g}, "
                f"minimum loss at {self.min_loss_lr:.3g}")

    def plot(self, ax=None):
        """Loss against learning rate on a log axis, raw and smoothed, with the suggestion marked.

        Args:
            ax: matplotlib axes to draw into; default a new Figure.

        Returns:
            The Figure.
        """
        from nablanet.plot._figures import load_matplotlib

        Figure = load_matplotlib().figure.Figure
        if ax is None:
            figure = Figure(figsize=(6.4, 4.2), layout="constrained")
            ax = figure.add_subplot()
        else:
            figure = ax.figure
        ax.plot(self.lrs, self.losses, color="0.7", linewidth=1, label="loss")
        ax.plot(self.lrs, self.smoothed, color="C0", linewidth=2, label="smoothed loss")
        suggested = self.suggestion
        at = float(np.interp(math.log(suggested), np.log(self.lrs), self.smoothed))
        ax.axvline(suggested, color="C3", linestyle="--", linewidth=1)
        ax.plot([suggested], [at], "o", color="C3", label=f"suggested lr = {suggested:.2g}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.set_title("learning-rate range test")
        # The explosion at the end would squash the useful part: show the range up to the start.
        finite = self.smoothed[np.isfinite(self.smoothed)]
        if finite.size:
            low, high = float(np.min(finite)), float(max(finite[0], np.min(finite)))
            margin = 0.1 * (high - low) if high > low else 0.1 * abs(high) + 1e-12
            ax.set_ylim(low - margin, high + 2 * margin)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small")
        return figure


def lr_find(model, X, y, *, loss, optimizer: Optimizer, start_lr: float = 1e-7, end_lr: float = 10.0,
            steps: int | None = None, batch_size: int = 32, smoothing: float = 0.9, diverge: float = 4.0,
            suggest: str = "steepest", seed=0) -> LRFinderResult:
    """Train with a learning rate growing exponentially from start_lr to end_lr, then undo the training.

    Step i of ``steps`` uses lr_i = start_lr (end_lr / start_lr)^(i / (steps - 1)) on the next
    minibatch (Smith, 2017, section 3.3; fastai's ``lr_find``). The losses are smoothed with an
    exponential moving average, beta = ``smoothing``, bias-corrected as in Adam; the test stops when
    the smoothed loss exceeds ``diverge`` times its minimum or the loss is not finite. The curve
    returned (and searched for the suggestion) is smoothed forward and backward, so that it is not
    shifted towards larger rates by the average's lag of about beta / (1 - beta) steps; beta = 0.9
    rather than fastai's 0.98, whose average spans half of a 100-step curve. Afterwards the
    model's parameters and buffers, the optimizer's state (step count and buffers), its learning rate
    (a float or a schedule) and the gradients are put back exactly as they were, and the modules'
    train/eval modes too. (The generators of Dropout layers do advance.)

    The suggestion: ``"steepest"`` (default), the rate where the smoothed loss falls fastest against
    log10(lr), searched from the start of the curve to its minimum (the first tenth of the curve,
    at most 10 points, is skipped: the smoothing has seen too few losses there); ``"minimum"``, the
    rate of the lowest smoothed loss divided by 10 (the rule of thumb of fastai's first version).
    Both are reported in the result.

    Args:
        model: a nablanet.nn.Module (trained in training mode during the test).
        X, y: training inputs and targets (as fit takes them; float targets are cast to the model's dtype).
        loss: a loss name or function.
        optimizer: a nablanet.optim Optimizer built on the model's parameters.
        start_lr, end_lr: the range of rates, 0 < start_lr < end_lr.
        steps: the number of minibatches; default one pass over the data, at least 100 (small data sets
            are cycled through in reshuffled passes).
        batch_size: samples per minibatch.
        smoothing: beta of the moving average, in [0, 1).
        diverge: stop when the smoothed loss exceeds this multiple of its minimum.
        suggest: ``"steepest"`` or ``"minimum"``.
        seed: seed or Generator for the order of the samples.

    Returns:
        An LRFinderResult (``.suggestion``, ``.plot()``).

    Example:
        >>> import numpy as np
        >>> import nablanet.nn as nn
        >>> from nablanet.optim import SGD
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(256, 3)).astype(np.float32)
        >>> y = X @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)
        >>> model = nn.Dense(3, 1, rng=0)
        >>> result = lr_find(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.01))
        >>> 1e-3 < result.suggestion < 1.0
        True

    References:
        L. N. Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017.
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr, got start_lr={start_lr}, end_lr={end_lr}")
    if not 0 <= smoothing < 1:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    if not diverge > 1:
        raise ValueError(f"diverge must be > 1, got {diverge}")
    if suggest not in ("steepest", "minimum"):
        raise ValueError(f"suggest must be 'steepest' or 'minimum', got {suggest!r}")
    if not isinstance(optimizer, Optimizer) or optimizer.params is None:
        raise TypeError("lr_find needs a nablanet.optim Optimizer built on the model's parameters "
                        f"(e.g. SGD(model.parameters(), lr=0.01)), got {type(optimizer).__name__}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    loss_fn = get_loss(loss)
    parameters = model.parameters()
    dtype = parameters[0].data.dtype if parameters else np.dtype(np.float32)
    X = np.asarray(X._data if isinstance(X, Tensor) else X).astype(dtype, copy=False)
    y = np.asarray(y._data if isinstance(y, Tensor) else y)
    if np.issubdtype(y.dtype, np.floating):
        y = y.astype(dtype, copy=False)
    n_samples = X.shape[0]
    if y.shape[0] != n_samples:
        raise ValueError(f"X has {n_samples} rows but y has {y.shape[0]}")
    per_pass = math.ceil(n_samples / batch_size)
    steps = max(per_pass, 100) if steps is None else int(steps)
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    rng = np.random.default_rng(seed)

    saved_model = model.state_dict()
    saved_optimizer = optimizer.state_dict()
    saved_lr = optimizer.lr
    saved_grads = [p.grad for p in parameters]
    saved_modes = [(module, module.training) for module in model.modules()]
    lrs, losses = [], []
    diverged = False
    average, best = 0.0, math.inf
    try:
        model.train()
        batches = _batches(n_samples, batch_size, steps, rng)
        with np.errstate(over="ignore", invalid="ignore"):
            for i, rows in enumerate(batches):
                lr = start_lr * (end_lr / start_lr) ** (i / (steps - 1))
                optimizer.lr = float(lr)
                for p in parameters:
                    p.grad = None
                cost = loss_fn(model(X[rows]), y[rows])
                value = float(cost.item())
                if not math.isfinite(value):
                    diverged = True
                    break
                average = smoothing * average + (1 - smoothing) * value
                smooth = average / (1 - smoothing ** (i + 1))
                lrs.append(lr)
                losses.append(value)
                if i > 0 and smooth > diverge * best:
                    diverged = True
                    break
                best = min(best, smooth)
                cost.backward()
                optimizer.step()
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
        optimizer.lr = saved_lr
        for p, g in zip(parameters, saved_grads):
            p.grad = g
        for module, training in saved_modes:
            module.training = training
    if len(lrs) < 2:
        raise RuntimeError(f"lr_find: the loss was not finite after {len(lrs)} step(s), already at lr={start_lr:g}; "
                           "lower start_lr or check the data")
    lrs, losses = np.array(lrs), np.array(losses)
    # The exploding tail would leak backwards through the backward pass of the average: cap it at the
    # level that stopped the test.
    smoothed = _zero_lag_average(np.minimum(losses, diverge * best) if math.isfinite(best) else losses, smoothing)
    steepest_lr, min_loss_lr = _suggestions(lrs, smoothed)
    return LRFinderResult(lrs, losses, smoothed, steepest_lr, min_loss_lr, suggest, diverged)


def _batches(n_samples: int, batch_size: int, steps: int, rng):
    """``steps`` index arrays of minibatches, from as many reshuffled passes over the data as needed."""
    produced = 0
    while produced < steps:
        order = rng.permutation(n_samples)
        for start in range(0, n_samples, batch_size):
            yield order[start:start + batch_size]
            produced += 1
            if produced == steps:
                return


def _moving_average(values: np.ndarray, beta: float) -> np.ndarray:
    """The exponential moving average of a sequence, bias-corrected as in Adam (so it starts at values[0])."""
    out = np.empty_like(values)
    average = 0.0
    for i, value in enumerate(values):
        average = beta * average + (1 - beta) * value
        out[i] = average / (1 - beta ** (i + 1))
    return out


def _zero_lag_average(values: np.ndarray, beta: float) -> np.ndarray:
    """The moving average run forward, then backward over the result (as scipy.signal.filtfilt).

    A one-sided average lags about beta / (1 - beta) steps behind, which would shift the curve, and
    its steepest point, towards larger rates; the backward pass cancels the lag.
    """
    return _moving_average(_moving_average(values, beta)[::-1], beta)[::-1]


def _suggestions(lrs: np.ndarray, smoothed: np.ndarray) -> tuple[float, float]:
    lowest = int(np.argmin(smoothed))
    min_loss_lr = float(lrs[lowest])
    skip = min(10, lrs.size // 10)
    if lowest - skip < 2:
        # Too few points before the minimum to take a slope: fall back to the other rule.
        return min_loss_lr / 10, min_loss_lr
    segment = slice(skip, lowest + 1)
    slopes = np.gradient(smoothed[segment], np.log10(lrs[segment]))
    return float(lrs[segment][int(np.argmin(slopes))]), min_loss_lr
