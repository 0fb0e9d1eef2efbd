"""What fit knows of a model's outputs: one array, or a tuple or dict of them, each with its loss, weight and metrics.

A model whose forward returns a tuple ``(z_1, ..., z_K)`` or a dict ``{name: z_k}`` trains as Keras'
functional models do, on the weighted sum of one loss per output::

    C = sum_k w_k L_k(z_k, y_k)  (+ the penalty on the weights)

with y the targets in the same structure (a tuple of as many arrays, or a dict with the same keys)
and w_k the ``loss_weights`` (1 for every output by default). The outputs are named by their dict
keys, or ``output_0``, ``output_1``, ... by position, and the History records, besides ``loss`` (C),
each output's loss L_k (without its w_k) as ``<name>_loss`` and its metrics as ``<name>_<metric>``, as
Keras names them. Per-sample weights (fit's ``sample_weight``, or a Dataset's weights) weigh every output's
loss alike, as Keras applies one ``sample_weight`` to each output: L_k = sum_i s_i l_ki / sum_i s_i for the
samples' weights s_i, and every output's metrics are weighted means; ``class_weight`` is for a model with
one output. A dict's outputs are taken in the sorted order of their keys (the pytrees' rule,
nablanet.autodiff.tree): the order of the History's keys and of losses, weights or metrics given
as lists. ``predict`` returns the same structure as the model, of arrays.

Example:
    >>> import nablanet.nn as nn
    >>> from nablanet.train import fit
    >>> class TwoHeads(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.value, self.classes = nn.Dense(3, 1, rng=0), nn.Dense(3, 2, rng=1)
    ...     def forward(self, x):
    ...         return {"value": self.value(x), "classes": self.classes(x)}
    >>> model = TwoHeads()
    >>> X = np.random.default_rng(0).standard_normal((8, 3))
    >>> history = fit(model, X, {"value": X[:, :1], "classes": X[:, 1] > 0},
    ...               loss={"value": "mse", "classes": "cross_entropy"}, loss_weights={"value": 2.0},
    ...               optimizer="adam", epochs=2, progress=False)
    >>> list(history.keys())[:6]
    ['loss', 'data_loss', 'penalty', 'classes_loss', 'value_loss', 'classes_accuracy']

A model with one output trains as it always did: one loss, its metrics under their own names.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from nablanet.autodiff.state import no_grad
from nablanet.autodiff.tensor import Tensor
from nablanet.autodiff.tree import tree_flatten, tree_map
from nablanet.nn.losses import training_loss
from nablanet.train.inputs import as_targets, described, resolve_metrics
from nablanet.train.weights import check_takes_weights, class_sample_weights, weighting

__all__ = ["Outputs", "model_outputs", "as_tensors"]


@dataclass(frozen=True)
class _Head:
    """One output of the model: its name, where it is in the outputs (a dict key or a position), its loss and
    weight w_k, and the shape of one sample's output."""

    name: str
    key: object
    loss_fn: object
    weight: float
    shape: tuple


class Outputs:
    """The model's outputs as fit sees them (build with ``model_outputs``).

    Attributes:
        loss_fn: ``(predictions, targets, sample_weight=None) -> scalar Tensor``: the loss of a one-output
            model, or sum_k w_k L_k over the outputs; None without a loss (evaluate's metrics only).
        metric_fns: ``[(History name, function (predictions, targets) -> value)]`` for the training data
            (taking ``sample_weight=`` too where their functions do).
        validation_metric_fns: the same and the validation_metrics, for the validation data.
        names: the outputs' names, or None for a model with one output.
    """

    def __init__(self, heads: list, kind: str, metric_fns: list, validation_metric_fns: list):
        self._heads = heads
        self._kind = kind  # "leaf" (one output), "tuple" or "dict"
        several = kind != "leaf"
        self.names = [head.name for head in heads] if several else None
        if several and heads[0].loss_fn is not None:
            self.loss_fn = _WeightedLosses(heads)
        else:
            self.loss_fn = heads[0].loss_fn
        self.metric_fns = metric_fns
        self.validation_metric_fns = validation_metric_fns

    def targets(self, y, n_rows: int, dtype: np.dtype, what: str):
        """Targets checked and shaped for each output's loss (see nablanet.train.inputs.as_targets), in the
        outputs' structure: an array, a tuple (as many as the outputs) or a dict (keyed as the outputs)."""
        if self._kind == "leaf":
            head = self._heads[0]
            return as_targets(y, n_rows, (n_rows,) + head.shape, dtype, head.loss_fn, what)
        if self._kind == "dict":
            if not isinstance(y, dict):
                raise ValueError(f"the model returns a dict of outputs {self.names}, so {what} must be a dict with the "
                                 f"same keys, got {described(y)}")
            problems = []
            missing = [name for name in self.names if name not in y]
            if missing:
                problems.append(f"missing {missing}")
            unknown = [key for key in y if key not in self.names]
            if unknown:
                problems.append(f"unknown {unknown}")
            if problems:
                raise ValueError(f"{what} must have one entry per output of the model, {self.names}: "
                                 f"{'; '.join(problems)}")
        elif not isinstance(y, (tuple, list)) or len(y) != len(self._heads):
            raise ValueError(f"the model returns a tuple of {len(self._heads)} outputs, so {what} must be a tuple of "
                             f"{len(self._heads)} target arrays, one per output, got {described(y)}")
        checked = {head.key: as_targets(y[head.key], n_rows, (n_rows,) + head.shape, dtype, head.loss_fn,
                                        f"{what}[{head.key!r}]")
                   for head in self._heads}
        return checked if self._kind == "dict" else tuple(checked.values())

    def check_takes_weights(self, metric_fns: list) -> None:
        """Refuse per-sample weights, before they are used, when a loss (any output's) or one of ``metric_fns``
        cannot take them (nablanet.train.weights.check_takes_weights)."""
        for head in self._heads:
            check_takes_weights(head.loss_fn, [])
        check_takes_weights(None, metric_fns)

    def class_weights(self, class_weight, y: np.ndarray) -> np.ndarray:
        """The class weight c_k of each sample's class k, float64 ``(N,)``, from targets ``y`` as ``targets``
        checked them (nablanet.train.weights.class_sample_weights); for a model with one output, as in Keras."""
        if self._kind != "leaf":
            raise ValueError(f"class_weight weighs the classes of a model with one output, but this model has the "
                             f"outputs {self.names}: weigh the samples with sample_weight, which weighs every "
                             "output's loss alike")
        head = self._heads[0]
        return class_sample_weights(class_weight, y, (len(y),) + head.shape, head.loss_fn)


class _WeightedLosses:
    """C = sum_k w_k L_k(z_k, y_k), the loss of a model with several outputs; per-sample weights weigh every L_k."""

    def __init__(self, heads: list):
        self.heads = heads

    def __call__(self, predictions, targets, sample_weight=None):
        total = None
        for head in self.heads:
            term = head.loss_fn(predictions[head.key], targets[head.key], **weighting(sample_weight))
            if head.weight != 1.0:
                term = term * head.weight
            total = term if total is None else total + term
        return total


def as_tensors(predictions):
    """Arrays of predictions (one, or a tuple or dict of them) as constant Tensors, for a loss to read."""
    return tree_map(Tensor, predictions)


def model_outputs(loss, probe_outputs, *, loss_weights=None, metrics=None, validation_metrics=()) -> Outputs:
    """The Outputs of a model from its outputs for one sample (``probe_outputs``) and fit's loss settings.

    Args:
        loss: one loss (a name or function) for every output, or a dict ``{output name: loss}`` or a
            list with one loss per output; None for none (evaluate's metrics only).
        probe_outputs: the model's outputs (arrays) for a batch of one sample: an array, or a tuple or
            dict of arrays.
        loss_weights: None (every w_k = 1), a dict ``{output name: w_k}`` (outputs not named weigh 1)
            or a list of one weight per output; numbers >= 0. Only for a model with several outputs.
        metrics: as fit's ``metrics`` for a model with one output. With several: None (the default
            metrics of each output's loss), one name or function or a list of them (for every output),
            a dict ``{output name: metrics}`` (outputs not named get none), or a list of lists, one per
            output.
        validation_metrics: more metrics for the validation data only, given as ``metrics``.
    """
    leaves, structure = tree_flatten(probe_outputs)
    if structure.kind == "leaf":
        if loss_weights is not None:
            raise ValueError("loss_weights weighs the losses of a model with several outputs, but this model returns "
                             "one array")
        if isinstance(loss, (dict, list, tuple)):
            raise ValueError(f"loss is a {type(loss).__name__} of losses per output, but the model returns one array; "
                             "give one loss")
        loss_fn = None if loss is None else training_loss(loss)
        head = _Head("", None, loss_fn, 1.0, tuple(np.shape(leaves[0])[1:]))
        metric_fns = resolve_metrics(metrics, loss_fn, (1,) + head.shape)
        validation_metric_fns = metric_fns + resolve_metrics(validation_metrics, loss_fn, (1,) + head.shape)
        _check_unique(validation_metric_fns)
        return Outputs([head], "leaf", metric_fns, validation_metric_fns)
    heads = _heads(structure, leaves, loss, loss_weights)
    metric_fns = _head_metrics(heads, metrics, "metrics", with_losses=loss is not None)
    validation_metric_fns = metric_fns + _head_metrics(heads, validation_metrics, "validation_metrics",
                                                       with_losses=False)
    _check_unique(validation_metric_fns)
    return Outputs(heads, "dict" if structure.kind == "dict" else "tuple", metric_fns, validation_metric_fns)


def _heads(structure, leaves: list, loss, loss_weights) -> list:
    if structure.kind == "dict":
        keys = list(structure.keys)
        for key in keys:
            if not isinstance(key, str):
                raise ValueError(f"the model returns a dict of outputs with the key {key!r}; fit names the outputs "
                                 "by their keys, which must be strings")
        names = keys
    elif structure.kind in ("tuple", "list", "namedtuple"):
        keys = list(range(len(structure.children)))
        names = [f"output_{i}" for i in keys]
    else:
        raise ValueError(f"the model returns {structure!r}; fit trains models that return an array, or a tuple or dict "
                         "of arrays")
    if any(child.kind != "leaf" for child in structure.children):
        raise ValueError(f"the model returns a nested structure {structure!r}; fit trains models that return an "
                         "array, or a tuple or dict of arrays")
    losses = _per_output(loss, names, "loss",
                         single=lambda spec: spec is None or isinstance(spec, str) or callable(spec))
    weights = _loss_weights(loss_weights, names)
    return [_Head(name, key, None if loss is None else training_loss(loss_k), weight, tuple(np.shape(leaf)[1:]))
            for name, key, loss_k, weight, leaf in zip(names, keys, losses, weights, leaves)]


def _per_output(spec, names: list, what: str, single) -> list:
    """One entry per output from one spec for all (``single(spec)``), a dict by name or a list by position."""
    if isinstance(spec, dict):
        unknown = [key for key in spec if key not in names]
        if unknown:
            raise ValueError(f"{what} names {unknown}, which are not outputs of the model; its outputs are {names}")
        if what == "loss":
            missing = [name for name in names if name not in spec]
            if missing:
                raise ValueError(f"loss gives no loss for the outputs {missing}; give one for each of {names}, or one "
                                 "loss for all")
        return [spec.get(name) for name in names]
    if isinstance(spec, (list, tuple)) and not single(spec):
        if len(spec) != len(names):
            raise ValueError(f"{what} is a list of {len(spec)} entries, but the model has {len(names)} outputs "
                             f"{names}: give one per output, a dict by name, or one for all")
        return list(spec)
    return [spec] * len(names)


def _loss_weights(loss_weights, names: list) -> list:
    if loss_weights is None:
        return [1.0] * len(names)
    if not isinstance(loss_weights, (dict, list, tuple)):
        raise ValueError(f"loss_weights must be a dict {{output name: weight}} or a list of one weight per output "
                         f"{names}, got {loss_weights!r}")
    weights = _per_output(loss_weights, names, "loss_weights", single=lambda spec: False)
    checked = []
    for name, weight in zip(names, weights):
        weight = 1.0 if weight is None else weight
        if isinstance(weight, bool) or not isinstance(weight, (int, float, np.number)) or not math.isfinite(weight) \
                or weight < 0:
            raise ValueError(f"loss_weights for the output {name!r} must be a finite number >= 0, got {weight!r}")
        checked.append(float(weight))
    return checked


def _head_metrics(heads: list, metrics, what: str, with_losses: bool) -> list:
    """[(<name>_loss, L_k)] (when with_losses) then [(<name>_<metric>, metric of output k)] for every output."""
    if metrics is None and not with_losses:
        metrics = ()

    def one_spec(spec) -> bool:
        # A name, a function, or a list of them: the same metrics for every output.
        return spec is None or isinstance(spec, str) or callable(spec) or (
            isinstance(spec, (list, tuple)) and all(isinstance(item, str) or callable(item) for item in spec))

    per_output = _per_output(metrics, [head.name for head in heads], what, single=one_spec)
    if isinstance(metrics, dict):
        per_output = [() if spec is None else spec for spec in per_output]
    named = [(f"{head.name}_loss", _output_loss(head)) for head in heads] if with_losses else []
    for head, spec in zip(heads, per_output):
        for name, metric in resolve_metrics(spec, head.loss_fn, (1,) + head.shape):
            named.append((f"{head.name}_{name}", _output_metric(metric, head.key)))
    return named


# The wrappers below take the signature of the function they wrap (functools.wraps), so that they take
# sample_weight= (nablanet.nn.losses.takes_sample_weight) exactly when the function does.
def _output_loss(head: _Head):
    @functools.wraps(head.loss_fn)
    def output_loss(predictions, targets, **weighted) -> float:
        with no_grad():
            return float(head.loss_fn(Tensor(predictions[head.key]), targets[head.key], **weighted).item())
    return output_loss


def _output_metric(metric, key):
    @functools.wraps(metric)
    def output_metric(predictions, targets, **weighted):
        return metric(predictions[key], targets[key], **weighted)
    return output_metric


def _check_unique(named: list) -> None:
    names = [name for name, _ in named]
    if len(set(names)) < len(names):
        raise ValueError(f"validation_metrics repeat a name of metrics: {names}")
