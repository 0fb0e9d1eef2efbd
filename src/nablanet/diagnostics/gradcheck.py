"""gradcheck: a whole model's backpropagated gradients against central finite differences, in float64."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from nablanet.autodiff import state
from nablanet.autodiff.tensor import Tensor
from nablanet.autodiff.transforms import value_and_grad
from nablanet.diagnostics._common import format_number, format_table, split_parameter_name
from nablanet.nn.activations import ACTIVATIONS
from nablanet.nn.functional import get_loss
from nablanet.nn.module import functional_call

__all__ = ["gradcheck", "GradcheckResult", "GradcheckRow", "GradcheckWarning"]


class GradcheckWarning(UserWarning):
    """A gradient check evaluated a function at (or within a finite-difference step of) a kink.

    At a kink (ReLU at 0, a tie in a max) the function has no derivative; the engine returns one of
    the one-sided values (or their mean), while a central difference straddling the kink averages
    both sides, so the two can disagree although neither is wrong.
    """


@dataclass
class GradcheckRow:
    """One parameter's result.

    Attributes:
        layer: the dotted name of the module holding it (``"layers.0"``).
        parameter: its name in that module (``"W"``).
        shape: its shape.
        checked: how many of its entries were compared.
        max_relative_error: max_i |g_i - n_i| / max_i max(|g_i|, |n_i|): the largest error relative to
            the parameter's largest gradient entry (g: backpropagation, n: central differences).
        max_abs_error: max_i |g_i - n_i|.
        passed: max_abs_error <= atol + rtol * max_i max(|g_i|, |n_i|).
    """

    layer: str
    parameter: str
    shape: tuple
    checked: int
    max_relative_error: float
    max_abs_error: float
    passed: bool


@dataclass
class GradcheckResult:
    """What gradcheck found: one row per parameter, the kinks met, and the settings used.

    Attributes:
        table: the GradcheckRow list, in the order of ``model.named_parameters()``.
        passed: every row passed.
        loss: the loss at the checked point (float64).
        kinks: one sentence per place where a ReLU, abs, clip, maximum or max was within
            ``kink_tol`` of its kink.
        eps, rtol, atol, kink_tol: the settings.
    """

    table: list
    loss: float
    kinks: list = field(default_factory=list)
    eps: float = 1e-6
    rtol: float = 1e-5
    atol: float = 1e-8
    kink_tol: float = 1e-5

    @property
    def passed(self) -> bool:
        """Whether every row passed."""
        return all(row.passed for row in self.table)

    @property
    def failed(self) -> list:
        """The rows that did not pass."""
        return [row for row in self.table if not row.passed]

    def __bool__(self):
        return self.passed

    def __str__(self):
        rows = [[row.layer, row.parameter, "x".join(map(str, row.shape)) or "scalar", row.checked,
                 format_number(row.max_relative_error, ".2e"), format_number(row.max_abs_error, ".2e"),
                 "pass" if row.passed else "FAIL"] for row in self.table]
        lines = [f"gradcheck in float64: central differences with eps={self.eps:g}; pass if "
                 f"max|g - n| <= {self.atol:g} + {self.rtol:g} max|g|; loss {self.loss:.6g}",
                 format_table(["layer", "param", "shape", "checked", "max rel error", "max abs error", "result"],
                              rows, align="llrrrrl")]
        verdict = "passed" if self.passed else f"FAILED ({len(self.failed)} of {len(self.table)} parameters)"
        lines.append(f"result: {verdict}")
        for kink in self.kinks:
            lines.append(f"kink: {kink}")
        if self.kinks and not self.passed:
            lines.append("a failure near a kink may be the finite difference crossing it rather than a wrong derivative")
        return "\n".join(lines)


def gradcheck(model, X, y, loss, *, eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-8,
              max_entries: int | None = 100, rng=0, kink_tol: float | None = None, warn: bool = True) -> GradcheckResult:
    """Check every parameter's gradient of ``loss(model(X), y)`` against central finite differences.

    The model is evaluated in float64 whatever its own dtype: the parameters are passed as float64
    copies through ``nn.functional_call`` (the model itself is left untouched), so a float32 model is
    checked without float32 rounding swamping the differences. Backpropagation gives g = dC/dp; each
    checked entry gets n_i = (C(p + eps e_i) - C(p - eps e_i)) / (2 eps).

    The model runs in evaluation mode (Dropout off, BatchNorm with running statistics), so that every
    evaluation computes the same function; each module's mode is restored afterwards.

    Args:
        model: a nablanet.nn.Module.
        X: inputs (a few samples are enough; every checked entry costs two forward passes).
        y: targets, as the loss expects them.
        loss: a loss name or function ``(predictions, targets) -> scalar``.
        eps: the finite-difference step.
        rtol, atol: a parameter passes when max|g - n| <= atol + rtol * max(|g|, |n|) over its entries.
        max_entries: at most this many entries per parameter are checked (a random subset, drawn with
            ``rng``); None checks all.
        rng: seed or Generator for the subset.
        kink_tol: how close to a kink an input must be to be reported; default 10 * eps (a
            perturbation of size eps moves a pre-activation by about eps times an input).
        warn: emit a GradcheckWarning per kink found (they are listed in the result either way).

    Returns:
        A GradcheckResult: ``.passed``, ``.table`` (one row per parameter), ``str()`` the table.

    Example:
        >>> import numpy as np
        >>> import nablanet.nn as nn
        >>> model = nn.Sequential(nn.Dense(3, 4, activation="tanh", rng=0), nn.Dense(4, 2, rng=1))
        >>> X = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
        >>> result = gradcheck(model, X, np.array([0, 1, 1, 0, 1]), "cross_entropy")
        >>> result.passed, [(row.layer, row.parameter) for row in result.table][:2]
        (True, [('layers.0', 'W'), ('layers.0', 'b')])
    """
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}")
    if max_entries is not None and max_entries < 1:
        raise ValueError(f"max_entries must be a positive integer or None, got {max_entries}")
    kink_tol = 10 * eps if kink_tol is None else float(kink_tol)
    loss_fn = get_loss(loss)
    named = list(model.named_parameters())
    if not named:
        raise ValueError("gradcheck: the model has no parameters to check")
    names = [name for name, _ in named]
    values = [np.array(p.data, dtype=np.float64) for _, p in named]
    inputs = _float64(X)
    targets = _targets(y)
    rng = np.random.default_rng(rng)

    def cost(*arrays):
        return loss_fn(functional_call(model, dict(zip(names, arrays)), inputs), targets)

    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        loss_value, grads = value_and_grad(cost, argnums=tuple(range(len(values))))(*values)
        kinks = _find_kinks(model, lambda: cost(*values), kink_tol)
        rows = []
        for name, value, grad in zip(names, values, grads):
            entries = _entries(value.size, max_entries, rng)
            numeric = np.array([_central_difference(cost, values, value, j, eps) for j in entries])
            analytic = np.asarray(grad, dtype=np.float64).reshape(-1)[entries]
            rows.append(_row(name, value.shape, analytic, numeric, rtol, atol))
    finally:
        for module, training in modes:
            module.training = training
    if warn:
        for kink in kinks:
            warnings.warn(kink, GradcheckWarning, stacklevel=2)
    return GradcheckResult(rows, float(loss_value), kinks, eps, rtol, atol, kink_tol)


def _float64(X) -> np.ndarray:
    array = X._data if isinstance(X, Tensor) else np.asarray(X)
    return array.astype(np.float64)


def _targets(y) -> np.ndarray:
    array = y._data if isinstance(y, Tensor) else np.asarray(y)
    # Class labels stay integers; values are compared in float64 like the predictions.
    return array.astype(np.float64) if np.issubdtype(array.dtype, np.floating) else array


def _entries(size: int, max_entries: int | None, rng) -> np.ndarray:
    if max_entries is None or size <= max_entries:
        return np.arange(size)
    return np.sort(rng.choice(size, max_entries, replace=False))


def _central_difference(cost, values: list, value: np.ndarray, j: int, eps: float) -> float:
    # Perturb one entry in place and put it back: no copy of the parameters per evaluation.
    flat = value.reshape(-1)
    original = flat[j]
    try:
        flat[j] = original + eps
        plus = _scalar(cost(*values))
        flat[j] = original - eps
        minus = _scalar(cost(*values))
    finally:
        flat[j] = original
    return (plus - minus) / (2 * eps)


def _scalar(value) -> float:
    return float(value._data if isinstance(value, Tensor) else value)


def _row(name: str, shape: tuple, analytic: np.ndarray, numeric: np.ndarray, rtol: float, atol: float) -> GradcheckRow:
    layer, parameter = split_parameter_name(name)
    if analytic.size == 0:
        return GradcheckRow(layer, parameter, tuple(shape), 0, 0.0, 0.0, True)
    error = np.abs(analytic - numeric)
    max_error = float(np.max(error)) if np.all(np.isfinite(error)) else float("inf")
    scale = float(max(np.max(np.abs(analytic)), np.max(np.abs(numeric))))
    relative = max_error / scale if scale > 0 else (0.0 if max_error == 0 else float("inf"))
    return GradcheckRow(layer, parameter, tuple(shape), int(analytic.size), relative, max_error,
                        bool(max_error <= atol + rtol * scale))


# --- kinks ---------------------------------------------------------------------------------------

class _KinkFinder:
    """Sits in state.counter while a forward pass runs and notes inputs of kinked ops near their kink.

    The engine reports every primitive it evaluates to state.counter (that is how count_ops counts);
    this reads the same reports. Findings are attributed to the innermost module that finishes next
    (forward hooks run when a module's forward returns), and to the loss when no module is left.
    """

    def __init__(self, tol: float):
        self.tol = tol
        self.pending = []
        self.found = []

    def record(self, op, out, inputs, settings):
        near, total, what = _near_kink(op.name, out, inputs, settings, self.tol)
        if near:
            self.pending.append((op.name, near, total, what))

    def record_accumulate(self, grad):
        pass

    def attribute(self, where: str) -> None:
        for name, near, total, what in self.pending:
            self.found.append(f"{where}: {near} of {total} {what} of {name} within {self.tol:g} of its kink")
        self.pending = []


def _near_kink(name: str, out, inputs, settings, tol: float):
    """(count near a kink, count examined, what was examined) for the kinked primitives; (0, 0, '') otherwise."""
    raw = [np.asarray(value) for value in inputs]
    if name in ("relu", "abs"):
        return int(np.count_nonzero(np.abs(raw[0]) <= tol)), raw[0].size, "inputs"
    kinks = _dense_kinks(settings) if name == "dense" else ()
    if kinks:
        z = raw[0] @ raw[1]
        if len(raw) > 2:
            z = z + raw[2]
        near = np.zeros(z.shape, dtype=bool)
        for kink in kinks:
            near |= np.abs(z - kink) <= tol
        return int(np.count_nonzero(near)), z.size, f"pre-activations z ({settings['activation']})"
    if name in ("maximum", "minimum"):
        gap = np.abs(raw[0] - raw[1])
        return int(np.count_nonzero(gap <= tol)), gap.size, "pairs"
    if name == "clip":
        x = raw[0]
        near = np.zeros(x.shape, dtype=bool)
        for bound in (settings.get("a_min"), settings.get("a_max")):
            if bound is not None:
                near |= np.abs(x - bound) <= tol
        return int(np.count_nonzero(near)), x.size, "inputs"
    if name in ("max", "min"):
        x, axis = raw[0], settings.get("axis")
        extreme = np.max(x, axis=axis, keepdims=True) if name == "max" else np.min(x, axis=axis, keepdims=True)
        close = np.sum(np.abs(x - extreme) <= tol, axis=axis)
        return int(np.count_nonzero(close > 1)), int(np.size(close)), "reductions (ties)"
    if name == "max_pool":
        x, kernel = raw[0], settings["kernel"]
        split = list(x.shape[:2])
        for size, k in zip(x.shape[2:], kernel):
            split += [size // k, k]
        kernel_axes = tuple(3 + 2 * i for i in range(len(kernel)))
        windows = x.reshape(split)
        close = np.sum(np.abs(windows - np.expand_dims(np.asarray(out), kernel_axes)) <= tol, axis=kernel_axes)
        return int(np.count_nonzero(close > 1)), int(np.size(close)), "windows (ties)"
    return 0, 0, ""


def _dense_kinks(settings) -> tuple:
    """The kinks of the fused dense layer's activation (its kernel is named as the activation's record),
    at the layer's alpha: none for ELU or leaky ReLU with alpha = 1, whose slopes agree at 0."""
    record = ACTIVATIONS.records.get(settings.get("activation"))
    return () if record is None else record.kinks_at(settings.get("alpha"))


def _find_kinks(model, evaluate, tol: float) -> list:
    finder = _KinkFinder(tol)
    names = {id(module): name for name, module in _named_modules(model)}
    handles = [module.register_forward_hook(lambda module, inputs, output: finder.attribute(names[id(module)]))
               for module in model.modules()]
    saved = state.counter
    state.counter = finder
    try:
        evaluate()
    finally:
        state.counter = saved
        for handle in handles:
            handle.remove()
    finder.attribute("loss")
    return finder.found


def _named_modules(model, prefix: str = ""):
    yield prefix or type(model).__name__, model
    for name, child in model.named_children():
        yield from _named_modules(child, f"{prefix}.{name}" if prefix else name)
