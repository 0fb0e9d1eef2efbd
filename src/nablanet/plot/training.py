"""Curves over training: the learning curves (losses, metrics, learning rate) and the gradient norm of each layer."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from nablanet.plot._figures import depth_colors, figure_and_axes, float_sequence, panel_grid

# History keys drawn in the loss panel; everything else except the learning rate is a metric.
_LOSS_KEYS = ("loss", "data_loss", "penalty")
_LEARNING_RATE_KEY = "lr"


def learning_curves(history, *, title: str | None = None, log_loss: bool | None = None):
    """Training and validation loss and metrics against the epoch: one panel for the losses, one per metric.

    In the loss panel, ``loss`` (training) and ``val_loss`` (validation) are solid lines; when a
    regularization penalty was recorded and is not zero, ``data_loss`` (dashed) and ``penalty``
    (dotted) show what the total is made of. Every other key is a metric with its own panel,
    training solid and ``val_<metric>`` in the validation color, except a metric that is the loss
    itself (``mse`` when training with mse: its values are the data loss's), named in the loss
    panel's title instead of drawn again. A learning rate ``lr`` that changes
    gets a last panel on a log axis (a constant one is left out).

    Args:
        history: a dict name -> list of per-epoch values (``loss``, ``val_loss``, ``accuracy``, ...),
            or an object with such a dict as its ``history`` attribute (nablanet's and Keras'
            ``History``); its ``epoch`` list, if any, numbers the x axis (plus one, so the first
            epoch is 1).
        title: a title over the whole figure.
        log_loss: draw the loss panel on a log axis; ``None`` (default) does so when the positive
            losses span more than two decades.

    Returns:
        The Figure.

    Raises:
        ValueError: the history is empty, a key has no values, or the keys have different lengths.

    Example:
        >>> fig = learning_curves({"loss": [0.9, 0.5, 0.4], "val_loss": [1.0, 0.7, 0.6],
        ...                        "accuracy": [0.6, 0.8, 0.85], "val_accuracy": [0.55, 0.7, 0.75]})
        >>> [ax.get_title() for ax in fig.axes]
        ['loss', 'accuracy']
    """
    records, epochs = _history_records(history)
    loss_keys = [key for key in records if _base_name(key) in _LOSS_KEYS]
    metric_names = list(dict.fromkeys(
        _base_name(key) for key in records if _base_name(key) not in _LOSS_KEYS + (_LEARNING_RATE_KEY,)))
    # A metric that is the loss itself (mse trained with mse) would be the loss panel drawn again.
    repeats = [name for name in metric_names if _repeats_the_loss(records, name)]
    metric_names = [name for name in metric_names if name not in repeats]
    learning_rate = records.get(_LEARNING_RATE_KEY)
    finite_rates = learning_rate[np.isfinite(learning_rate)] if learning_rate is not None else np.array([])
    show_learning_rate = finite_rates.size > 0 and np.ptp(finite_rates) > 0

    panels = (["loss"] if loss_keys else []) + metric_names + (["learning rate"] if show_learning_rate else [])
    figure, axes = panel_grid(len(panels), 3, 4.2, 3.3)
    panel_axes = iter(axes)
    if loss_keys:
        _draw_losses(next(panel_axes), records, epochs, log_loss, repeats)
    for name in metric_names:
        ax = next(panel_axes)
        for key, label, color in ((name, "training", "C0"), ("val_" + name, "validation", "C1")):
            if key in records:
                ax.plot(epochs, records[key], color=color, label=label, marker=_marker(epochs))
        ax.set_title(name)
        ax.set_ylabel(name)
    if show_learning_rate:
        ax = next(panel_axes)
        ax.plot(epochs, learning_rate, color="C2", label="learning rate", marker=_marker(epochs))
        ax.set_yscale("log")
        ax.set_title("learning rate")
        ax.set_ylabel("lr")
    for ax in axes:
        ax.set_xlabel("epoch")
        # Epochs are whole numbers: no tick at epoch 2.5.
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        if len(ax.lines) > 1:
            ax.legend(fontsize="small")
    if title:
        figure.suptitle(title)
    return figure


def _history_records(history) -> tuple[dict, np.ndarray]:
    """The history's lists as float arrays of one common length, and the epoch numbers (from 1)."""
    source = getattr(history, "history", history)
    if not isinstance(source, Mapping):
        raise TypeError(
            f"learning_curves: expected a dict of per-epoch lists or an object with a .history dict, "
            f"got {type(history).__name__}")
    if not source:
        raise ValueError("learning_curves: the history is empty (no keys); was the model trained for any epochs?")
    records = {str(key): float_sequence(values, f"learning_curves: history[{key!r}]")
               for key, values in source.items()}
    lengths = {key: values.size for key, values in records.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"learning_curves: every key needs one value per epoch, but the lengths differ: {lengths}")
    count = next(iter(lengths.values()))
    epoch_attribute = getattr(history, "epoch", None)
    if epoch_attribute is not None and len(epoch_attribute) == count:
        epochs = np.asarray(epoch_attribute) + 1
    else:
        epochs = np.arange(1, count + 1)
    return records, epochs


def _base_name(key: str) -> str:
    return key[len("val_"):] if key.startswith("val_") else key


def _marker(epochs) -> str | None:
    # With a handful of epochs the points themselves matter; with many, markers only clutter.
    return "o" if len(epochs) <= 20 else None


def _repeats_the_loss(records: dict, name: str) -> bool:
    """Whether metric ``name`` has the data loss's values (``loss`` when there is no ``data_loss``), and
    ``val_<name>`` the validation loss's, at every epoch: the same curves under another name. A single
    epoch is never a repeat: one value can equal the loss's by coincidence (an accuracy of 0.5)."""
    pairs = [(name, "data_loss" if "data_loss" in records else "loss"), ("val_" + name, "val_loss")]
    present = [(metric, loss) for metric, loss in pairs if metric in records]
    # The metric and the loss are averaged over the batches separately: equal to rounding, not bit for bit.
    return bool(present) and records[present[0][0]].size > 1 and all(loss in records and np.allclose(records[metric], records[loss], rtol=1e-4, atol=0,
                                                                 equal_nan=True) for metric, loss in present)


def _draw_losses(ax, records: dict, epochs, log_loss, repeats=()) -> None:
    penalty = records.get("penalty")
    has_penalty = penalty is not None and np.any(np.nan_to_num(penalty) != 0)
    curves = [("loss", "training", "C0", "-"), ("val_loss", "validation", "C1", "-")]
    if has_penalty:
        curves += [("data_loss", "training data loss", "C0", "--"), ("penalty", "penalty", "C2", ":"),
                   ("val_data_loss", "validation data loss", "C1", "--")]
    elif "loss" not in records and "data_loss" in records:
        curves.append(("data_loss", "training", "C0", "-"))
    for key, label, color, style in curves:
        if key in records:
            ax.plot(epochs, records[key], color=color, linestyle=style, label=label, marker=_marker(epochs))
    if log_loss is None:
        drawn = np.concatenate([line.get_ydata() for line in ax.lines])
        positive = drawn[np.isfinite(drawn) & (drawn > 0)]
        log_loss = positive.size > 0 and positive.max() > 100 * positive.min()
    if log_loss:
        ax.set_yscale("log")
    ax.set_title("loss" + (f" ({', '.join(repeats)})" if repeats else ""))
    ax.set_ylabel("loss")


def gradient_norms(norms, *, x_label: str = "epoch", ax=None, title: str | None = None):
    """The gradient norm of each layer over training, one line per layer, on a log axis.

    Vanishing gradients show as early layers lying orders of magnitude below the last ones;
    exploding gradients as lines climbing by decades. Lines are colored from dark (first layer) to
    light (last), in the order given. A zero norm has no place on a log axis and leaves a gap.

    Args:
        norms: a dict layer name -> sequence of norms (one per epoch or step), all of one length;
            or a list of dicts layer name -> norm, one dict per epoch or step.
        x_label: what one step of the sequences is (``"epoch"``, ``"step"``); steps are numbered from 1.
        ax: axes to draw into; default: a new figure.
        title: the axes title; default ``"gradient norm per layer"``.

    Returns:
        The Figure.

    Raises:
        ValueError: no layers, sequences of different lengths, or a negative norm.

    Example:
        >>> fig = gradient_norms({"hidden.W": [1e-4, 1e-5], "output.W": [0.1, 0.05]})
        >>> fig.axes[0].get_yscale(), len(fig.axes[0].get_lines())
        ('log', 2)
    """
    if isinstance(norms, (list, tuple)):
        norms = _transpose_records(norms)
    if not isinstance(norms, Mapping) or not norms:
        raise ValueError("gradient_norms: expected a non-empty dict layer name -> sequence of norms")
    series = {str(name): float_sequence(values, f"gradient_norms: norms[{name!r}]") for name, values in norms.items()}
    lengths = {name: values.size for name, values in series.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"gradient_norms: every layer needs one norm per {x_label}, but the lengths differ: {lengths}")
    for name, values in series.items():
        if np.any(values < 0):
            raise ValueError(f"gradient_norms: norms[{name!r}] has a negative value {values[values < 0][0]}; "
                             f"a norm is never negative")

    figure, ax = figure_and_axes(ax, 6.4, 4.2)
    steps = np.arange(1, next(iter(lengths.values())) + 1)
    for (name, values), color in zip(series.items(), depth_colors(len(series))):
        ax.plot(steps, np.where(values > 0, values, np.nan), color=color, label=name,
                marker="o" if steps.size <= 20 else None, markersize=3)
    ax.set_yscale("log")
    ax.set_xlabel(x_label)
    ax.set_ylabel("gradient norm")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title(title if title is not None else "gradient norm per layer")
    ax.grid(alpha=0.3)
    # Many layers: the legend goes beside the plot instead of over the lines.
    if len(series) > 6:
        ax.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    else:
        ax.legend(fontsize="small")
    return figure


def _transpose_records(records) -> dict:
    """[{layer: norm}, ...] (one dict per step) -> {layer: [norm, ...]}; every step must name the same layers."""
    if not records:
        raise ValueError("gradient_norms: the list of per-step norms is empty")
    names = list(records[0])
    for step, record in enumerate(records):
        if list(record) != names:
            raise ValueError(f"gradient_norms: step {step} has layers {list(record)}, step 0 has {names}")
    return {name: [record[name] for record in records] for name in names}
