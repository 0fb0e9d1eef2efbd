"""The loss registry: each loss's function and what it means (its targets, task and outputs), declared beside the function.

``nablanet.nn.functional`` defines the losses and registers each one right after it, e.g.::

    register_loss("binary_cross_entropy_with_logits", binary_cross_entropy_with_logits,
                  targets="values", task="classification", outputs="logits", labels=(0.0, 1.0))

``fit`` and ``evaluate`` read the record of the loss they are given (by name, or the registered
function itself) for their defaults: which targets they accept, whether accuracy is reported, and
whether a one-column output is a probability (class 1 above 0.5) or a logit (above 0).

Every shipped loss takes per-sample weights as ``sample_weight=`` (``weighted`` in its record): with
weights w_i the loss is the weighted mean over samples of each sample's mean loss l_i,

    C = sum_i w_i l_i / sum_i w_i          (C = 0 when every w_i is 0)

as scikit-learn's losses (``numpy.average(..., weights=sample_weight)``), PyTorch's class-weighted
cross-entropy and Keras' ``reduction="mean_with_sample_weight"``; Keras' default reduction
(``"sum_over_batch_size"``) divides by the number of samples n instead, so that its C, and its gradient,
grow with the weights' scale, where here multiplying every weight by a constant changes nothing.

Example:
    >>> from nablanet import nn
    >>> record = nn.loss_record("bce")
    >>> record.name, record.targets, record.task, record.outputs, record.threshold
    ('binary_cross_entropy', 'values', 'classification', 'probabilities', 0.5)
    >>> nn.loss_record(nn.functional.hinge).threshold, nn.loss_record("mse").threshold
    (0.0, None)
    >>> nn.loss_record("cross_entropy").applies, nn.loss_record("binary_cross_entropy_with_logits").applies
    ('softmax', 'sigmoid')
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nablanet.autodiff.jit import tracing
from nablanet.registry import Registry, signature_defaults

__all__ = ["LossRecord", "LOSSES", "register_loss", "loss_record", "get_loss", "training_loss"]

#: What the targets of a loss are: class labels (N,) (or one-hot rows), or values of the predictions' shape.
TARGET_KINDS = ("labels", "values")
TASKS = ("classification", "regression")
#: What the predictions a loss takes are: logits (or margins), probabilities, log-probabilities (a network
#: ending in log_softmax), or values.
OUTPUT_KINDS = ("logits", "probabilities", "log_probabilities", "values")


@dataclass(frozen=True)
class LossRecord:
    """What a loss C(predictions, targets) means.

    Attributes:
        name: the name fit, configs and estimators use ("cross_entropy").
        function: C, a function ``(predictions, targets, *inputs) -> scalar Tensor`` written with the engine's ops.
        targets: "labels": integer class labels of shape (N,) (or one-hot rows of the predictions'
            shape) against one output column per class; "values": targets of the predictions' shape
            (a vector (N,) is read as a column against one output column).
        task: "classification" (fit reports accuracy by default) or "regression".
        outputs: what the predictions are: "logits" (or margins: a one-column output means class 1
            above 0), "probabilities" (class 1 above 0.5), "log_probabilities" (log_softmax's, which
            nll_loss and kl_div take), or "values" (regression).
        aliases: more names for it ("bce").
        labels: for a classification loss on value targets, the values a target may take
            ((0.0, 1.0) for the binary cross-entropies); empty otherwise.
        inputs: the names of the data the function takes after (predictions, targets), positionally
            (gaussian_nll_loss's ``var``, cosine_embedding_loss's ``y``); empty for most. ``fit``
            gives a loss the predictions and targets only, so it refuses one with inputs.

    Derived: ``threshold``, where one output column is cut into two classes; ``applies``, the
    activation the loss puts on the logits itself; ``options``, the function's keyword options
    (``delta`` of huber); ``weighted``, whether it takes ``sample_weight=``.
    """

    name: str
    function: Callable
    targets: str
    task: str
    outputs: str
    aliases: tuple = ()
    labels: tuple = ()
    inputs: tuple = ()

    @property
    def threshold(self):
        """0.0 for logits, 0.5 for probabilities, None for a regression loss."""
        return {"logits": 0.0, "probabilities": 0.5}.get(self.outputs)

    @property
    def applies(self) -> str | None:
        """The activation a loss of logits turns them into probabilities with: "softmax" against class
        labels (cross_entropy), "sigmoid" against 0/1 values (binary_cross_entropy_with_logits); None
        for the others (hinge's margins, losses of probabilities or values)."""
        if self.outputs != "logits":
            return None
        if self.targets == "labels":
            return "softmax"
        return "sigmoid" if self.labels == (0.0, 1.0) else None

    @property
    def options(self) -> dict:
        """name -> default of the function's arguments after (predictions, targets) and its inputs, but
        sample_weight: the settings a config may give it, not the data of one call."""
        arguments = signature_defaults(self.function, skip=("sample_weight",))
        return dict(list(arguments.items())[2 + len(self.inputs):])

    @property
    def weighted(self) -> bool:
        """Whether the function takes per-sample weights, ``function(predictions, targets, sample_weight=w)``."""
        return takes_sample_weight(self.function)


_REGISTRY = Registry("loss", defined_by="function")

#: name -> loss function, in registration order, with each record's aliases after its name (as the dict
#: it once was); a registered function itself is a key too. ``LOSSES.records`` is the registry of
#: LossRecords behind it.
LOSSES = _REGISTRY.view("function", with_aliases=True)


def register_loss(name: str, function: Callable | None = None, *, targets: str, task: str, outputs: str, aliases=(),
                  labels=(), inputs=()):
    """Make a loss known by ``name``, with what it means: as a decorator, or called with the function.

    Returns the function. ``fit(loss=name)`` and ``fit(loss=function)`` then take their defaults from
    the record (see LossRecord). Registering the same function again replaces its record; another
    function under a name or alias already taken is refused. ``inputs`` names the function's further
    data arguments after (predictions, targets), which must be its next positional parameters.

    Example:
        >>> import numpy as np
        >>> import nablanet.numpy as nnp
        >>> from nablanet import nn
        >>> @register_loss("log_cosh", targets="values", task="regression", outputs="values")
        ... def log_cosh(predictions, targets):
        ...     '''C = (1/n) sum log cosh(y - t).'''
        ...     return nnp.mean(nnp.log(nnp.cosh(predictions - targets)))
        >>> nn.loss_record(log_cosh).name, round(float(nn.functional.get_loss("log_cosh")(np.zeros(2), np.ones(2))), 4)
        ('log_cosh', 0.4338)
        >>> LOSSES.records.remove("log_cosh")
    """
    def add(function):
        LOSSES.records.add(_make_record(name, function, targets, task, outputs, tuple(aliases), labels,
                                        tuple(inputs)))
        return function

    return add if function is None else add(function)


def _make_record(name, function, targets, task, outputs, aliases, labels, inputs) -> LossRecord:
    where = f"register_loss({name!r})"
    if not callable(function):
        raise TypeError(f"{where}: expected a function (predictions, targets) -> scalar, got {type(function).__name__}")
    for argument, value, choices in (("targets", targets, TARGET_KINDS), ("task", task, TASKS),
                                     ("outputs", outputs, OUTPUT_KINDS)):
        if value not in choices:
            raise ValueError(f"{where}: {argument} must be one of {', '.join(choices)}, got {value!r}")
    if task == "regression" and (outputs != "values" or targets != "values"):
        raise ValueError(f"{where}: a regression loss takes outputs='values' and targets='values', "
                         f"got outputs={outputs!r}, targets={targets!r}")
    if task == "classification" and outputs == "values":
        raise ValueError(f"{where}: a classification loss takes outputs='logits', 'probabilities' or "
                         "'log_probabilities'")
    labels = tuple(float(label) for label in labels)
    if labels and (task != "classification" or targets != "values"):
        raise ValueError(f"{where}: labels are the values of a classification loss's value targets; "
                         f"this loss has task={task!r}, targets={targets!r}")
    _check_inputs(where, function, inputs)
    return LossRecord(name, function, targets, task, outputs, aliases, labels, inputs)


def _check_inputs(where: str, function, inputs: tuple) -> None:
    """The names ``inputs`` must be the function's positional parameters after (predictions, targets)."""
    if not inputs:
        return
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: nothing to compare with
        return
    positional = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if tuple(positional[2:2 + len(inputs)]) != inputs:
        raise ValueError(f"{where}: inputs {inputs} must be the function's positional parameters after "
                         f"(predictions, targets), which are {tuple(positional[2:])}")


def loss_record(spec) -> LossRecord:
    """The record of a loss name, alias or registered function; ValueError naming the known ones."""
    return LOSSES.records.lookup(spec)


def takes_sample_weight(function) -> bool:
    """Whether ``function`` (a loss or a metric) has a parameter ``sample_weight`` (or ``**kwargs``)."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False
    return "sample_weight" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def sample_weights(sample_weight, n_samples: int, dtype, what: str = "sample_weight") -> np.ndarray:
    """Per-sample weights w_i as a vector ``(n_samples,)`` of ``dtype``, or an error naming ``what``.

    The weights must be finite and non-negative, one per sample (a row of the predictions).
    """
    # asanyarray: weights given to a function nablanet.jit compiles stay traced, so each replay weighs
    # its own batch (asarray would keep the first call's weights as constants).
    values = np.asanyarray(sample_weight._data if hasattr(sample_weight, "_data") else sample_weight)
    if values.ndim != 1 or values.shape[0] != n_samples:
        raise ValueError(f"{what} must be a vector of one weight per sample, shape ({n_samples},), got shape "
                         f"{values.shape}")
    if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool) or np.iscomplexobj(values):
        raise ValueError(f"{what} must be real numbers, got dtype {values.dtype}")
    values = values if values.dtype == dtype else values.astype(dtype)
    # Checks that only raise on bad input: while tracing, on the traced call's weights (tracing.peek).
    checked = tracing.peek(values)
    # One sum is finite exactly when every weight is; only then is the minimum looked at.
    if not np.isfinite(np.sum(checked, dtype=np.float64)):
        raise ValueError(f"{what} contains NaN or infinite values")
    if checked.size and checked.min() < 0:
        raise ValueError(f"{what} must be non-negative, got {checked.min()} (at sample {int(checked.argmin())})")
    return values


def training_loss(spec):
    """The loss function ``fit`` trains with (see get_loss), refusing a registered loss that takes inputs
    besides (predictions, targets), which fit cannot give it."""
    function = get_loss(spec)
    record = LOSSES.records.get(function)
    if record is not None and record.inputs:
        raise ValueError(f"{record.name} takes {', '.join(record.inputs)} besides the predictions and targets, which "
                         f"fit does not give a loss; call {record.function.__name__}(predictions, targets, "
                         f"{', '.join(record.inputs)}) in a training step of your own")
    return function


def get_loss(spec):
    """A loss function from its name or alias, or a callable (returned as is)."""
    if callable(spec):
        return spec
    if spec in LOSSES:
        return LOSSES[spec]
    raise ValueError(f"unknown loss {spec!r}; choose one of {sorted(LOSSES)}")
