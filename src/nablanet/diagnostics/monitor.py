"""TrainingMonitor: per-layer gradient norms, update ratios and activation statistics while fit() runs.

It watches for the failure modes of the lecture notes' "Vanishing gradients", "Exploding gradients"
and "The ReLU function family" sections and says so, once per cause, with a TrainingWarning.
"""

from __future__ import annotations

import math
import warnings
from collections import deque

import numpy as np

from nablanet.diagnostics._common import (
    activation_alpha,
    find_layers,
    format_number,
    format_percent,
    format_table,
    output_array,
)
from nablanet.nn.activations import ACTIVATIONS
from nablanet.train.callbacks import Callback

__all__ = ["TrainingMonitor", "TrainingWarning"]

# Six halvings of the error signal between the last layer and the first: see TrainingMonitor.
VANISHING_RATIO = 1 / 64


def _saturation_bounds(layer) -> tuple | None:
    """(low, high) for a layer whose activation saturates: elementwise (a sigma' is registered) with
    outputs bounded on both sides (sigmoid, tanh), at the layer's alpha, where a unit is saturated when
    its output is near a bound; None for the others."""
    record = None if layer.activation is None else ACTIVATIONS.records.get(layer.activation)
    if record is None or record.derivative is None:
        return None
    low, high = record.range_at(activation_alpha(layer.module))
    return (low, high) if math.isfinite(low) and math.isfinite(high) else None


class TrainingWarning(UserWarning):
    """A problem seen while training: vanishing or exploding gradients, dead ReLUs, saturated units.

    Silence them with ``TrainingMonitor(warn=False)`` (they are still collected in
    ``monitor.warnings``) or with the warnings module: ``warnings.simplefilter("ignore", TrainingWarning)``.

    Attributes:
        cause: ``"vanishing"``, ``"exploding"``, ``"dead"`` or ``"saturated"``.
        layer: the layer's dotted name, or None for a cause of the whole network.
        epoch: the epoch (from 0) in which it was seen.
        step: the optimizer step (from 0, counted over the whole run) in which it was seen, or None
            when it was judged at the end of the epoch.
    """

    def __init__(self, message: str, *, cause: str, layer: str | None = None, epoch: int | None = None,
                 step: int | None = None):
        super().__init__(message)
        self.message = message
        self.cause, self.layer, self.epoch, self.step = cause, layer, epoch, step

    def __str__(self):
        return self.message


class _Moments:
    """Count, mean and sum of squared deviations of a stream of batches (Chan et al.'s parallel update)."""

    __slots__ = ("count", "mean", "m2")

    def __init__(self):
        self.count, self.mean, self.m2 = 0, 0.0, 0.0

    def add(self, values: np.ndarray) -> None:
        n = values.size
        if n == 0:
            return
        # NumPy's pairwise summation keeps float32 sums accurate to about 1e-7 here, with no float64 copy.
        batch_mean = float(values.mean())
        batch_m2 = float(values.var()) * n
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean += delta * n / total
        self.m2 += batch_m2 + delta * delta * self.count * n / total
        self.count = total

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.count) if self.count else math.nan


class TrainingMonitor(Callback):
    r"""Records, per layer and per epoch, what the lecture notes say to look at when training fails.

    Pass it to fit: ``fit(..., callbacks=[monitor])``. For each layer (a module with parameters, or
    an activation layer; see ``monitor.layers``) and each epoch it records:

    - ``grad_norm.<p>``: ||dC/dp|| for each parameter p (``W``, ``b``, ...), the mean over the epoch's
      sampled steps of the norm after ``backward()``;
    - ``update_ratio.<p>``: ||p_after - p_before|| / ||p_before|| of one optimizer step, averaged over
      the sampled steps (a rule of thumb for SGD puts healthy values near 1e-3); NaN while ||p|| = 0;
    - ``activation_mean`` and ``activation_std``: mean and standard deviation of the layer's output
      over all units and samples of the sampled batches;
    - ``saturated`` (sigmoid and tanh layers): the fraction of outputs within ``saturation_tol`` of the
      activation's bounds (0 and 1 for sigmoid, -1 and 1 for tanh), where sigma'(z) is nearly 0;
    - ``dead`` (ReLU layers): the fraction of units whose output was 0 for every sample of the epoch.
      A running "ever positive" mask per unit is kept across all the epoch's batches (sampled or not),
      since a unit is dead only if no sample at all makes it fire.

    Per sampled step it also keeps the global gradient norm in ``monitor.steps``.

    It warns (a TrainingWarning, also collected in ``monitor.warnings``) when:

    - the first layer receives less than ``vanishing_ratio`` of the last layer's gradient (vanishing
      gradients, judged at the end of each epoch; see below);
    - the global gradient norm grows by ``exploding_factor`` within ``exploding_window`` sampled steps
      (exploding gradients);
    - at least ``dead_fraction`` of a ReLU layer's units are dead;
    - at least ``saturated_fraction`` of a sigmoid/tanh layer's outputs are saturated.

    Each cause is warned about once per run: vanishing and exploding gradients once for the network,
    dead and saturated units once per layer.

    How vanishing gradients are judged: back-propagation carries the error :math:`\delta^L` of the
    output layer down to the first layer, one factor per layer,

    .. math::

        \delta^l = \left( (W^{l+1})^T \delta^{l+1} \right) \circ \sigma'(z^l), \qquad
        \frac{\partial C}{\partial W^l} = \delta^l (a^{l-1})^T,

    so the notes' diagnosis is the share of the output's error signal that reaches the first layer.
    The monitor measures it with the weight gradients of the first and the last layer that have
    weights (parameters with ``regularize=True``; BatchNorm's :math:`\gamma, \beta` are not weights)
    and a finite gradient norm (a frozen layer has none),

    .. math::

        \rho = \frac{\| \partial C / \partial W^1 \|}{\| \partial C / \partial W^L \|},

    each norm the epoch's mean over the sampled steps, and warns when :math:`\rho` is below
    ``vanishing_ratio``. Weight gradients rather than the bias gradients :math:`\sum_n \delta^l_n`:
    a bias followed by BatchNorm gets no gradient at all, and a sum over the batch can cancel. Because
    :math:`\partial C / \partial W^1` carries the inputs :math:`a^0 = x`, inputs of a very different
    scale than the hidden activations shift :math:`\rho` by that scale: standardize them.

    The default 1/64 (six halvings) was measured to separate the cases of the notes' story, with
    ``64 -> 20 x Dense(32) -> Dense(10)`` on the 8x8 digits (SGD, eta = 0.1, batches of 32, three
    epochs, seeds 0-3): sigmoid with :math:`N(0, 1)` weights, the classic case, gives
    :math:`\rho` = 6e-4 to 2.3e-3 and warns; the same network with BatchNorm before each sigmoid
    (0.5 to 2.1), tanh with Glorot's initialization (2.6 to 3.1) and ReLU with He's (0.6 to 3.2) do
    not, nor do the usual one- and two-hidden-layer networks (0.5 to 2.5). The factor lost per layer
    shrinks as the layers widen (the classic case at width 64 gives 1e-2 to 0.4), and sigmoid with
    Glorot's initialization at depth 20 vanishes for real (3e-13: :math:`\sigma' \le 1/4`).

    Args:
        every: sample every k-th optimizer step (counted over the whole run, from step 0) for the
            gradient, update and activation statistics; 1 samples every step.
        saturation_tol: how close to a bound an output must be to count as saturated.
        warn: emit Python warnings; with False the warnings are only collected.
        vanishing_ratio: the threshold on :math:`\rho` (in (0, 1); default 1/64). It used to be
            compared with each layer's share of the largest layer's gradient, at 1e-6; a value given
            then is now the threshold on :math:`\rho`, a stricter one.
        exploding_factor, exploding_window, dead_fraction, saturated_fraction: the thresholds above.

    Attributes:
        layers: the Layer records (index l from 1, dotted name, module, activation, parameters).
        history: dict layer name -> dict quantity -> list of per-epoch values.
        epochs: the epochs recorded.
        rho: per epoch, :math:`\rho = \|\partial C / \partial W^1\| / \|\partial C / \partial W^L\|`
            (NaN when fewer than two layers with weights have a finite gradient norm).
        steps: dict with lists ``step``, ``epoch`` and ``grad_norm`` (the global norm), one entry per
            sampled step.
        warnings: the TrainingWarning objects raised, in order.

    Example:
        >>> import numpy as np
        >>> import nablanet.nn as nn
        >>> from nablanet.optim import SGD
        >>> from nablanet.train import fit
        >>> model = nn.Sequential(nn.Dense(2, 4, activation="tanh", rng=0), nn.Dense(4, 1, rng=1))
        >>> monitor = TrainingMonitor()
        >>> X, y = np.ones((8, 2), dtype=np.float32), np.zeros((8, 1), dtype=np.float32)
        >>> _ = fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.1), epochs=3,
        ...         batch_size=4, callbacks=[monitor], progress=False)
        >>> sorted(monitor.history["layers.0"])
        ['activation_mean', 'activation_std', 'grad_norm.W', 'grad_norm.b', 'saturated', 'update_ratio.W', 'update_ratio.b']
        >>> len(monitor.history["layers.0"]["grad_norm.W"])
        3

    Notes:
        The cost per sampled step is one norm per parameter, one copy of the parameters (for the
        update ratio; taken after the step before a sampled one) and a mean, a variance and, for
        sigmoid/tanh, two comparisons per layer output; per batch, one comparison per ReLU output.
        Statistics come from the forward passes in training mode only (validation, in evaluation
        mode, is not counted). Forward hooks are removed when training ends; if fit stops with an
        error, call ``remove_hooks()``.
    """

    def __init__(self, *, every: int = 1, saturation_tol: float = 1e-2, warn: bool = True,
                 vanishing_ratio: float = VANISHING_RATIO, exploding_factor: float = 1e3, exploding_window: int = 10,
                 dead_fraction: float = 0.5, saturated_fraction: float = 0.5):
        _check_positive_int("every", every)
        if not 0 < saturation_tol < 1:
            raise ValueError(f"saturation_tol must be in (0, 1), got {saturation_tol}")
        if not 0 < vanishing_ratio < 1:
            raise ValueError(f"vanishing_ratio must be in (0, 1), got {vanishing_ratio}")
        if not exploding_factor > 1:
            raise ValueError(f"exploding_factor must be > 1, got {exploding_factor}")
        _check_positive_int("exploding_window", exploding_window)
        for name, value in (("dead_fraction", dead_fraction), ("saturated_fraction", saturated_fraction)):
            if not 0 < value <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {value}")
        self.every = int(every)
        self.saturation_tol = float(saturation_tol)
        self.warn = warn
        self.vanishing_ratio = float(vanishing_ratio)
        self.exploding_factor = float(exploding_factor)
        self.exploding_window = int(exploding_window)
        self.dead_fraction = float(dead_fraction)
        self.saturated_fraction = float(saturated_fraction)
        self._handles = []
        self._reset()

    # --- bookkeeping -------------------------------------------------------------------------
    def _reset(self) -> None:
        self.layers = []
        self.history = {}
        self.epochs = []
        self.rho = []
        self.steps = {"step": [], "epoch": [], "grad_norm": []}
        self.warnings = []
        self._seen_causes = set()
        self._step = 0
        self._epoch = 0
        self._before = None
        # The sampled steps before the current one that the growth is measured against.
        self._recent = deque(maxlen=self.exploding_window)

    def _sampled(self, step: int) -> bool:
        return step % self.every == 0

    def _start_epoch_accumulators(self) -> None:
        self._grad_sums = {layer.name: {name: [0.0, 0] for name, _ in layer.parameters} for layer in self.layers}
        self._ratio_sums = {layer.name: {name: [0.0, 0] for name, _ in layer.parameters} for layer in self.layers}
        self._moments = {layer.name: _Moments() for layer in self.layers}
        self._saturated = {layer.name: [0, 0] for layer in self.layers if _saturation_bounds(layer)}
        self._ever_positive = {layer.name: None for layer in self.layers if layer.activation == "relu"}

    def remove_hooks(self) -> None:
        """Unregister the forward hooks (done when training ends; call it if fit raised an error)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    # --- hooks of fit --------------------------------------------------------------------------
    def on_train_begin(self, run) -> None:
        self.remove_hooks()
        self._reset()
        self.layers = find_layers(run.model)
        self.history = {layer.name: {} for layer in self.layers}
        self._owners = [layer for layer in self.layers for _ in layer.parameters]
        self._parameter_names = [name for layer in self.layers for name, _ in layer.parameters]
        self._parameters = [p for layer in self.layers for _, p in layer.parameters]
        for layer in self.layers:
            self._handles.append(layer.module.register_forward_hook(self._make_hook(layer)))
        self._start_epoch_accumulators()
        self._save_parameters()

    def on_epoch_begin(self, run, epoch: int) -> None:
        self._epoch = epoch
        self._start_epoch_accumulators()

    def _make_hook(self, layer):
        def hook(module, inputs, output):
            # Validation and predict() run in evaluation mode; only training batches are counted.
            if not module.training:
                return
            values = output_array(output)
            if values is None or values.ndim == 0:
                return
            if layer.name in self._ever_positive:
                self._update_ever_positive(layer, values)
            if self._sampled(self._step):
                self._moments[layer.name].add(values)
                if layer.name in self._saturated:
                    low, high = _saturation_bounds(layer)
                    tol = self.saturation_tol
                    count = int(np.count_nonzero(values <= low + tol)) + int(np.count_nonzero(values >= high - tol))
                    self._saturated[layer.name][0] += count
                    self._saturated[layer.name][1] += values.size

        return hook

    def _update_ever_positive(self, layer, values: np.ndarray) -> None:
        axis = layer.unit_axis % values.ndim if values.ndim > 1 else 0
        other_axes = tuple(k for k in range(values.ndim) if k != axis) if values.ndim > 1 else ()
        fired = np.any(values > 0, axis=other_axes) if other_axes else values > 0
        mask = self._ever_positive[layer.name]
        self._ever_positive[layer.name] = fired if mask is None else (mask | fired)

    def on_batch_end(self, run, batch: int, logs: dict) -> None:
        step = self._step
        if self._sampled(step):
            self._record_step(step)
        self._step = step + 1
        if self._sampled(self._step):
            self._save_parameters()

    def _save_parameters(self) -> None:
        # Only before a sampled step: the copy is what makes the update ratio, and it costs one
        # memory pass over the parameters.
        if self._before is None or any(b.shape != p.data.shape for b, p in zip(self._before, self._parameters)):
            self._before = [np.array(p.data, copy=True) for p in self._parameters]
        else:
            for saved, p in zip(self._before, self._parameters):
                np.copyto(saved, p.data)

    def _record_step(self, step: int) -> None:
        squared_total = 0.0
        # One overflow guard for all the norms: float32 squares overflow past 1.8e19, and _norm then
        # redoes that norm in float64.
        with np.errstate(over="ignore"):
            for layer, name, p, before in zip(self._owners, self._parameter_names, self._parameters, self._before):
                if p.grad is None:
                    continue
                grad_norm = _norm(p.grad)
                squared_total += grad_norm * grad_norm
                sums = self._grad_sums[layer.name][name]
                sums[0] += grad_norm
                sums[1] += 1
                weight_norm = _norm(before)
                if weight_norm > 0:
                    # The saved copy is not needed after this step: the update goes into its buffer.
                    update_norm = _norm(np.subtract(p.data, before, out=before))
                    ratio = self._ratio_sums[layer.name][name]
                    ratio[0] += update_norm / weight_norm
                    ratio[1] += 1
        total = math.sqrt(squared_total)
        self.steps["step"].append(step)
        self.steps["epoch"].append(self._epoch)
        self.steps["grad_norm"].append(total)
        self._check_exploding(step, total)

    def on_epoch_end(self, run, epoch: int, logs: dict) -> None:
        self.epochs.append(epoch)
        for layer in self.layers:
            record = self.history[layer.name]
            for name, _ in layer.parameters:
                total, count = self._grad_sums[layer.name][name]
                record.setdefault(f"grad_norm.{name}", []).append(total / count if count else math.nan)
                total, count = self._ratio_sums[layer.name][name]
                record.setdefault(f"update_ratio.{name}", []).append(total / count if count else math.nan)
            moments = self._moments[layer.name]
            record.setdefault("activation_mean", []).append(moments.mean if moments.count else math.nan)
            record.setdefault("activation_std", []).append(moments.std)
            if layer.name in self._saturated:
                count, size = self._saturated[layer.name]
                record.setdefault("saturated", []).append(count / size if size else math.nan)
            if layer.name in self._ever_positive:
                mask = self._ever_positive[layer.name]
                record.setdefault("dead", []).append(float(np.mean(~mask)) if mask is not None else math.nan)
        self._check_epoch(epoch)

    def on_train_end(self, run) -> None:
        self.remove_hooks()

    # --- diagnoses -----------------------------------------------------------------------------
    def _raise(self, key, message: str, *, cause: str, layer: str | None = None, step: int | None = None) -> None:
        if key in self._seen_causes:
            return
        self._seen_causes.add(key)
        warning = TrainingWarning(message, cause=cause, layer=layer, epoch=self._epoch, step=step)
        self.warnings.append(warning)
        if self.warn:
            warnings.warn(warning, stacklevel=3)

    def _check_exploding(self, step: int, norm: float) -> None:
        if math.isnan(norm):
            return
        earlier = [(s, value) for s, value in self._recent if value > 0 and math.isfinite(value)]
        self._recent.append((step, norm))
        if not earlier:
            return
        first_step, smallest = min(earlier, key=lambda item: item[1])
        growth = norm / smallest
        if growth >= self.exploding_factor:
            self._raise(
                ("exploding",),
                f"gradient norm grew {growth:.3g}x in {step - first_step} steps (from {smallest:.3g} at step "
                f"{first_step} to {norm:.3g} at step {step}): exploding gradients (try clipping: clip_norm= or "
                "clip_value= on the optimizer; or a smaller learning rate)",
                cause="exploding", step=step)

    def _check_epoch(self, epoch: int) -> None:
        self._check_vanishing(epoch)
        for layer in self.layers:
            record = self.history[layer.name]
            dead = record.get("dead", [math.nan])[-1]
            if not math.isnan(dead) and dead >= self.dead_fraction:
                self._raise(
                    ("dead", layer.name),
                    f"{layer.label}: {100 * dead:.0f}% of ReLUs are dead (output 0 for every sample of epoch "
                    f"{epoch}): they pass back no gradient and rarely recover (learning rate too large? negative "
                    "biases? try a smaller learning rate, He init, or leaky ReLU/ELU)",
                    cause="dead", layer=layer.name)
            saturated = record.get("saturated", [math.nan])[-1]
            if not math.isnan(saturated) and saturated >= self.saturated_fraction:
                low, high = _saturation_bounds(layer)
                self._raise(
                    ("saturated", layer.name),
                    f"{layer.label}: {100 * saturated:.0f}% of {layer.activation} outputs are saturated (within "
                    f"{self.saturation_tol:g} of {low:g} or {high:g}), where sigma'(z) is nearly 0 and little "
                    "gradient flows back (weights too large, e.g. normal(0,1) init; try Glorot init, "
                    "standardized inputs, or ReLU/ELU)",
                    cause="saturated", layer=layer.name)

    def _weight_gradient_norms(self) -> list:
        """(layer, ||dC/dW||) for the last epoch of every layer with weights and a finite norm, l from 1 up.

        A layer whose weights got no gradient (frozen: NaN) is left out, and so is one whose norm
        overflowed: that is the exploding check's to report, not a share of the gradient.
        """
        norms = []
        for layer in self.layers:
            record = self.history[layer.name]
            weights = [name for name, p in layer.parameters if getattr(p, "regularize", True)]
            if weights:
                norm = math.sqrt(sum(record[f"grad_norm.{name}"][-1] ** 2 for name in weights))
                if math.isfinite(norm):
                    norms.append((layer, norm))
        return norms

    def _check_vanishing(self, epoch: int) -> None:
        norms = self._weight_gradient_norms()
        if len(norms) < 2 or not norms[-1][1] > 0:
            self.rho.append(math.nan)
            return
        (first, first_norm), (last, last_norm) = norms[0], norms[-1]
        rho = first_norm / last_norm
        self.rho.append(rho)
        if not rho < self.vanishing_ratio:
            return
        saturating = any(_saturation_bounds(layer) for layer in self.layers)
        hint = ("sigmoid's sigma' <= 1/4, and saturated units pass back almost nothing; try ReLU/ELU with He init, "
                "tanh with Glorot init, or batch normalization" if saturating
                else "try Glorot/He init, ReLU/ELU, or batch normalization")
        below = [layer for layer, norm in norms[:-1] if norm < self.vanishing_ratio * last_norm]
        self._raise(
            ("vanishing",),
            f"{first.label}: rho = ||dC/dW^{first.index}|| / ||dC/dW^{last.index}|| = {first_norm:.3g} / "
            f"{last_norm:.3g} = {rho:.3g} in epoch {epoch}, below vanishing_ratio = {self.vanishing_ratio:.3g}; "
            f"{len(below)} of the {len(norms)} layers with weights get less than that share of layer "
            f"{last.index}'s gradient: vanishing gradients ({hint})",
            cause="vanishing", layer=first.name)

    # --- reading the record --------------------------------------------------------------------
    def last(self, layer: str) -> dict:
        """The last epoch's values of one layer: quantity -> value."""
        return {key: values[-1] for key, values in self.history[layer].items() if values}

    def report(self, per_epoch: bool = False) -> str:
        """The record as text: the last epoch's tables (or one table per layer over all epochs) and the warnings.

        Args:
            per_epoch: one table per layer with a row per epoch, instead of a summary of the last epoch.
        """
        if not self.epochs:
            return "TrainingMonitor: nothing recorded yet (pass it to fit(callbacks=[...]))"
        sampled = "every step" if self.every == 1 else f"one step in {self.every}"
        lines = [f"TrainingMonitor: {len(self.epochs)} epochs, {self._step} steps, statistics from {sampled}"]
        if per_epoch:
            for layer in self.layers:
                lines += ["", f"{layer.label}: {layer.kind}", self._epoch_table(layer)]
        else:
            lines += ["", f"epoch {self.epochs[-1]} (last): parameters", self._parameter_table(),
                      "", f"epoch {self.epochs[-1]} (last): outputs", self._activation_table()]
        if self.rho and math.isfinite(self.rho[-1]):
            lines += ["", f"rho = |dC/dW^first| / |dC/dW^last| = {self.rho[-1]:.3g} in epoch {self.epochs[-1]} "
                          f"(vanishing gradients below {self.vanishing_ratio:.3g})"]
        lines.append("")
        if self.warnings:
            lines.append("warnings:")
            lines.extend(f"  epoch {w.epoch}{'' if w.step is None else f', step {w.step}'}: {w.message}"
                         for w in self.warnings)
        else:
            lines.append("warnings: none")
        return "\n".join(lines)

    def __str__(self):
        return self.report()

    def _parameter_table(self) -> str:
        rows = []
        for layer in self.layers:
            last = self.last(layer.name)
            for name, p in layer.parameters:
                rows.append([layer.index, layer.name, name, "x".join(map(str, p.shape)),
                             format_number(last.get(f"grad_norm.{name}")),
                             format_number(last.get(f"update_ratio.{name}"))])
        return format_table(["l", "layer", "param", "shape", "|dC/dp|", "|dp|/|p|"], rows, align="rllrrr")

    def _activation_table(self) -> str:
        rows = []
        for layer in self.layers:
            last = self.last(layer.name)
            rows.append([layer.index, layer.name, layer.kind, format_number(last.get("activation_mean")),
                         format_number(last.get("activation_std")), format_percent(last.get("saturated")),
                         format_percent(last.get("dead"))])
        return format_table(["l", "layer", "kind", "mean a", "std a", "saturated", "dead"], rows, align="rllrrrr")

    def _epoch_table(self, layer) -> str:
        record = self.history[layer.name]
        keys = list(record)
        headers = ["epoch"] + [_short_key(key) for key in keys]
        rows = []
        for row, epoch in enumerate(self.epochs):
            cells = [epoch]
            for key in keys:
                value = record[key][row]
                cells.append(format_percent(value) if key in ("saturated", "dead") else format_number(value))
            rows.append(cells)
        return format_table(headers, rows, align="r" * len(headers))

    # --- plots ---------------------------------------------------------------------------------
    def plot(self):
        """Everything recorded over the epochs, one column of panels per layer.

        Rows: gradient norms (log scale, one line per parameter), update-to-weight ratios (log scale),
        activation mean with a band of one standard deviation, and the saturated / dead percentages
        (rows that no layer has are left out).

        Returns:
            A matplotlib Figure (save it with ``nablanet.plot.save(fig, "monitor.png")``).
        """
        from nablanet.diagnostics._monitor_plot import plot_monitor

        return plot_monitor(self)

    def plot_gradient_norms(self):
        """The weight-gradient norm of every layer over the epochs in one panel (nablanet.plot.gradient_norms)."""
        from nablanet.diagnostics._monitor_plot import plot_gradient_norms

        return plot_gradient_norms(self)


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _norm(values) -> float:
    """The Euclidean norm of an array of any shape; in float64 when float32 squares overflow (call under errstate)."""
    flat = np.asarray(values).reshape(-1)
    norm = math.sqrt(float(np.dot(flat, flat)))
    if math.isinf(norm) and flat.dtype != np.float64:
        flat = flat.astype(np.float64)
        norm = math.sqrt(float(np.dot(flat, flat)))
    return norm


def _short_key(key: str) -> str:
    return (key.replace("grad_norm.", "|dC/d").replace("update_ratio.", "ratio ")
            .replace("activation_mean", "mean a").replace("activation_std", "std a")
            + ("|" if key.startswith("grad_norm.") else ""))

