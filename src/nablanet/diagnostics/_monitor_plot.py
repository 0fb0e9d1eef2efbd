"""TrainingMonitor's figures: every recorded quantity per layer and epoch, and the gradient norms in one panel."""

from __future__ import annotations

import math

import numpy as np


def plot_monitor(monitor):
    """A column of panels per layer, a row per kind of quantity (see ``TrainingMonitor.plot``)."""
    if not monitor.epochs:
        raise ValueError("TrainingMonitor.plot: nothing recorded yet (pass the monitor to fit first)")
    figure_class = _figure_class()
    rows = [row for row in _PLOT_ROWS if any(row.has(monitor.history[layer.name]) for layer in monitor.layers)]
    columns = len(monitor.layers)
    figure = figure_class(figsize=(2.9 * columns + 0.6, 2.3 * len(rows) + 0.4), layout="constrained")
    axes = figure.subplots(len(rows), columns, squeeze=False)
    epochs = np.asarray(monitor.epochs) + 1
    for column, layer in enumerate(monitor.layers):
        record = monitor.history[layer.name]
        for row_index, row in enumerate(rows):
            ax = axes[row_index][column]
            if row.has(record):
                row.draw(ax, epochs, record)
            else:
                ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes,
                        color="0.5", fontsize="small")
                ax.set_xticks([])
                ax.set_yticks([])
            if row_index == 0:
                ax.set_title(f"{layer.index}: {layer.name}\n{layer.kind}", fontsize="small")
            if column == 0:
                ax.set_ylabel(row.label, fontsize="small")
            if row_index == len(rows) - 1:
                ax.set_xlabel("epoch")
            if row.has(record):
                ax.xaxis.get_major_locator().set_params(integer=True)
            ax.tick_params(which="both", labelsize="x-small")
    return figure


def plot_gradient_norms(monitor):
    """Every parameter's gradient norm over the epochs in one panel (``TrainingMonitor.plot_gradient_norms``)."""
    from nablanet.plot import gradient_norms

    norms = {}
    for layer in monitor.layers:
        for name, _ in layer.parameters:
            values = monitor.history[layer.name][f"grad_norm.{name}"]
            if any(math.isfinite(v) for v in values):
                norms[f"{layer.index}: {layer.name}.{name}"] = [v if math.isfinite(v) else 0.0 for v in values]
    if not norms:
        raise ValueError("TrainingMonitor.plot_gradient_norms: no gradient norms recorded")
    return gradient_norms(norms)



def _figure_class():
    # Imported here so that training with a monitor does not need matplotlib; Figure without pyplot
    # needs no display and keeps no global registry of figures.
    from nablanet.plot._figures import load_matplotlib

    return load_matplotlib().figure.Figure


def _log_formatter():
    from matplotlib.ticker import LogFormatter

    return LogFormatter(labelOnlyBase=False)


class _PlotRow:
    def __init__(self, label, keys, draw):
        self.label, self.keys, self._draw = label, keys, draw

    def has(self, record: dict) -> bool:
        return any(self.keys(key) for key in record)

    def draw(self, ax, epochs, record):
        series = {key: np.asarray(values, dtype=float) for key, values in record.items() if self.keys(key)}
        self._draw(ax, epochs, series)


def _draw_log_lines(prefix):
    def draw(ax, epochs, series):
        drawn = False
        for key, values in series.items():
            shown = np.where(values > 0, values, np.nan)
            if np.any(np.isfinite(shown)):
                ax.plot(epochs, shown, marker="o" if epochs.size <= 20 else None, markersize=3,
                        label=key[len(prefix):])
                drawn = True
        if drawn:
            ax.set_yscale("log")
            # Plain-text labels ("0.6", "1e-05"): math-text ones cost most of the drawing time of a grid.
            ax.yaxis.set_major_formatter(_log_formatter())
            ax.yaxis.set_minor_formatter(_log_formatter())
            ax.legend(fontsize="x-small")
        ax.grid(alpha=0.3, which="both")

    return draw


def _draw_activations(ax, epochs, series):
    mean, std = series["activation_mean"], series["activation_std"]
    ax.plot(epochs, mean, color="C0", marker="o" if epochs.size <= 20 else None, markersize=3, label="mean")
    ax.fill_between(epochs, mean - std, mean + std, color="C0", alpha=0.25, label="± std")
    ax.legend(fontsize="x-small")
    ax.grid(alpha=0.3)


def _draw_fractions(ax, epochs, series):
    for key, color in (("saturated", "C1"), ("dead", "C3")):
        if key in series:
            ax.plot(epochs, 100 * series[key], color=color, marker="o" if epochs.size <= 20 else None,
                    markersize=3, label=key)
    ax.set_ylim(-5, 105)
    ax.legend(fontsize="x-small")
    ax.grid(alpha=0.3)


_PLOT_ROWS = [
    _PlotRow("gradient norm", lambda key: key.startswith("grad_norm."), _draw_log_lines("grad_norm.")),
    _PlotRow("|update| / |weight|", lambda key: key.startswith("update_ratio."), _draw_log_lines("update_ratio.")),
    _PlotRow("activation", lambda key: key in ("activation_mean", "activation_std"), _draw_activations),
    _PlotRow("saturated / dead (%)", lambda key: key in ("saturated", "dead"), _draw_fractions),
]
