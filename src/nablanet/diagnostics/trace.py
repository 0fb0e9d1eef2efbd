"""Backpropagation by hand, checked against the engine: the notes' chain-rule equations and forward vs reverse mode.

chain_rule_trace evaluates the four back-propagation equations of the lecture notes ("Getting serious,
the back propagation equations for a neural network") layer by layer for one sample, prints every
intermediate quantity, and compares the result with the engine's reverse-mode gradients.
compare_modes counts the operations of forward mode (one JVP per input) and reverse mode (one VJP
per output) on the same function: the notes' reason why backpropagation is reverse mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nablanet.autodiff import state
from nablanet.autodiff.graph import run_backward
from nablanet.autodiff.introspect import OpCounter
from nablanet.autodiff.ops import reshape
from nablanet.autodiff.tensor import Tensor, check_differentiable
from nablanet.autodiff.transforms import grad, jvp, value_and_grad
from nablanet.nn.activations import ACTIVATIONS
from nablanet.nn.functional import get_loss
from nablanet.nn.layers.container import Sequential
from nablanet.nn.layers.dense import Dense
from nablanet.nn.module import functional_call

__all__ = ["chain_rule_trace", "ChainRuleTrace", "compare_modes", "ModeComparison", "flat_loss"]


# --- the chain-rule trace -------------------------------------------------------------------------

def _activation_records(layers) -> list:
    """The activation record of each Dense layer; sigma'(z) comes from its ``derivative``, written out
    from the formula in NumPy (float64) apart from the engine's rules on purpose: the trace is a second
    derivation of the gradients, so a mistake in a rule of the engine shows up as a difference instead
    of being repeated here."""
    records = []
    for name, layer in layers:
        record = ACTIVATIONS.records.get(layer.activation)
        if record is None or record.derivative is None:
            known = sorted(r.name for r in ACTIVATIONS.records.values() if r.derivative is not None)
            raise ValueError(f"chain_rule_trace: {name} has activation {layer.activation!r}; the trace knows "
                             f"sigma' for {known}")
        records.append(record)
    return records


@dataclass
class ChainRuleTrace:
    """The quantities of the back-propagation equations for one sample, layer by layer (float64).

    Lists are indexed by the notes' layer number l: entry 0 of ``a`` is the input x = a^0, and entry
    0 of the others is None (the input layer has no z, delta or parameters); l = 1 .. L are the
    Dense layers, L the output layer.

    Attributes:
        z, a: pre-activations z^l and activations a^l = sigma(z^l).
        slope: sigma'(z^l).
        delta: the errors delta^l = dC/dz^l.
        grad_W: dC/dW^l in this library's layout (n_in, n_out), i.e. a^{l-1} (delta^l)^T.
        grad_b: dC/db^l = delta^l.
        cost: C for this sample; ``dC_da``: dC/da^L.
        engine_grad_W, engine_grad_b: the same gradients from the engine's reverse mode.
        max_difference: the largest |hand - engine| over all of them.
        names, activations: each layer's dotted name and activation.
        loss_name: the loss used.
    """

    z: list
    a: list
    slope: list
    delta: list
    grad_W: list
    grad_b: list
    cost: float
    dC_da: np.ndarray
    engine_grad_W: list
    engine_grad_b: list
    max_difference: float
    names: list = field(default_factory=list)
    activations: list = field(default_factory=list)
    loss_name: str = "loss"

    @property
    def depth(self) -> int:
        """L, the number of layers."""
        return len(self.a) - 1

    def __str__(self):
        L = self.depth
        show = _vector_text
        lines = [
            f"chain-rule trace: one sample through {L} Dense layers, float64 (the notes' back propagation equations)",
            "layout: our Dense stores W^l as (n_in, n_out), the transpose of the notes' W^l (n_out, n_in). So here",
            "  z^l = (W^l)^T a^{l-1} + b^l is computed as a^{l-1} W^l + b^l,",
            "  the notes' (W^{l+1})^T delta^{l+1} is W^{l+1} delta^{l+1},",
            "  and the notes' dC/dW^l = delta^l (a^{l-1})^T is shown transposed, a^{l-1} (delta^l)^T, shaped like W^l.",
            "",
            "forward:",
            f"  a^0 = x = {show(self.a[0])}",
        ]
        for l in range(1, L + 1):
            lines.append(f"  layer {l} ({self.names[l - 1]}, {self.activations[l - 1]}, "
                         f"{self.a[l - 1].size} -> {self.a[l].size}):")
            lines.append(f"    z^{l} = a^{l - 1} W^{l} + b^{l} = {show(self.z[l])}")
            lines.append(f"    a^{l} = {self.activations[l - 1]}(z^{l}) = {show(self.a[l])}")
        lines += [
            f"  C = {self.loss_name}(a^{L}, y) = {self.cost:.6g}",
            f"  dC/da^{L} = {show(self.dC_da)}    (the loss's derivative, from the engine)",
            "",
            "backward:",
        ]
        for l in range(L, 0, -1):
            lines.append(f"  sigma'(z^{l}) = {show(self.slope[l])}")
            if l == L:
                lines.append(f"  delta^{l} = sigma'(z^{l}) * dC/da^{l} = {show(self.delta[l])}")
            else:
                lines.append(f"  delta^{l} = (W^{l + 1} delta^{l + 1}) * sigma'(z^{l}) = {show(self.delta[l])}")
            lines.append(f"  dC/dW^{l} = a^{l - 1} (delta^{l})^T, shape {self.grad_W[l].shape} =")
            lines.append(_matrix_text(self.grad_W[l], indent=6))
            lines.append(f"  dC/db^{l} = delta^{l}")
        lines += ["", f"check against the engine's reverse-mode gradients: max |hand - engine| = {self.max_difference:.3g}"]
        return "\n".join(lines)


def chain_rule_trace(model, x, y, loss="mse") -> ChainRuleTrace:
    """Backpropagate one sample through a Sequential of Dense layers by the notes' equations, and check it.

    With a^0 = x, for l = 1 .. L (the notes' notation, with W^l (n_out, n_in))::

        z^l = W^l a^{l-1} + b^l,        a^l = sigma(z^l)
        delta^L = sigma'(z^L) * dC/da^L
        delta^l = (W^{l+1})^T delta^{l+1} * sigma'(z^l)
        dC/dW^l = delta^l (a^{l-1})^T,  dC/db^l = delta^l

    Our W^l is (n_in, n_out), the notes' transposed, so the code computes z^l = a^{l-1} W^l + b^l,
    delta^l = (W^{l+1} delta^{l+1}) * sigma'(z^l) and dC/dW^l = a^{l-1} (delta^l)^T; the printed trace
    says so. dC/da^L, the loss's own derivative, comes from the engine (the notes: "the exact form of
    the derivative with respect to the output depends on the form of the cost function"); everything
    after it is computed here with NumPy: sigma by the activation's function on float64 arrays, sigma'
    from the formula its record registers (``ActivationRecord.derivative``), independently of the
    engine's rules, so the comparison checks one derivation against another. The parameters are
    copied to float64; the model is not changed.

    Args:
        model: a Sequential (or a single Dense) of Dense layers whose activations have a registered
            sigma' (identity, sigmoid, tanh, relu, leaky_relu, elu, softplus, gelu, or one of yours).
        x: one sample, shape (n_in,) or (1, n_in).
        y: its target, as the loss expects one row of targets (a class label for cross_entropy).
        loss: a loss name or function.

    Returns:
        A ChainRuleTrace; ``print(trace)`` shows every quantity, ``trace.max_difference`` the check.

    Example:
        >>> import numpy as np
        >>> import nablanet.nn as nn
        >>> model = nn.Sequential(nn.Dense(2, 3, activation="sigmoid", rng=0), nn.Dense(3, 1, activation="sigmoid", rng=1))
        >>> trace = chain_rule_trace(model, np.array([0.5, -1.0]), np.array([1.0]))
        >>> trace.max_difference < 1e-12
        True
    """
    layers = _dense_layers(model)
    records = _activation_records(layers)
    loss_fn = get_loss(loss)
    sample = np.asarray(x._data if isinstance(x, Tensor) else x, dtype=np.float64)
    if sample.ndim == 2 and sample.shape[0] == 1:
        sample = sample[0]
    if sample.ndim != 1 or sample.size != layers[0][1].W.shape[0]:
        raise ValueError(f"chain_rule_trace: x must be one sample of shape ({layers[0][1].W.shape[0]},), "
                         f"got shape {np.shape(x)}")
    target = np.asarray(y._data if isinstance(y, Tensor) else y)
    target = target.astype(np.float64) if np.issubdtype(target.dtype, np.floating) else target
    # A batch of one: a scalar regression target becomes (1, 1), a class label (1,), a vector (1, n).
    if target.ndim == 0 and np.issubdtype(target.dtype, np.floating):
        target_row = target.reshape(1, 1)
    else:
        target_row = target[None]

    weights = [layer.W.data.astype(np.float64) for _, layer in layers]
    biases = [np.zeros(layer.W.shape[1]) if layer.b is None else layer.b.data.astype(np.float64) for _, layer in layers]
    L = len(layers)
    z, a, slope = [None], [sample], [None]
    for l in range(1, L + 1):
        _, layer = layers[l - 1]
        record = records[l - 1]
        z_l = a[l - 1] @ weights[l - 1] + biases[l - 1]
        z.append(z_l)
        a.append(np.asarray(record.apply(z_l, layer.alpha), dtype=np.float64))
        slope.append(np.asarray(record.slope(z_l, layer.alpha), dtype=np.float64))

    def cost_of_output(output):
        return loss_fn(reshape(output, (1, -1)), target_row)

    cost_value = cost_of_output(a[L])
    cost = float(cost_value._data if isinstance(cost_value, Tensor) else cost_value)
    dC_da = np.asarray(grad(cost_of_output)(a[L]), dtype=np.float64)

    delta = [None] * (L + 1)
    grad_W = [None] * (L + 1)
    grad_b = [None] * (L + 1)
    delta[L] = slope[L] * dC_da
    for l in range(L - 1, 0, -1):
        delta[l] = (weights[l] @ delta[l + 1]) * slope[l]
    for l in range(1, L + 1):
        grad_W[l] = np.outer(a[l - 1], delta[l])
        grad_b[l] = delta[l]

    engine_W, engine_b = _engine_gradients(model, layers, weights, biases, sample, target_row, loss_fn)
    differences = [np.max(np.abs(grad_W[l] - engine_W[l])) for l in range(1, L + 1)]
    differences += [np.max(np.abs(grad_b[l] - engine_b[l])) for l in range(1, L + 1) if engine_b[l] is not None]
    loss_name = loss if isinstance(loss, str) else getattr(loss_fn, "__name__", "loss")
    return ChainRuleTrace(z, a, slope, delta, grad_W, grad_b, cost, dC_da, engine_W, engine_b,
                          float(max(differences)), [name for name, _ in layers],
                          [record.name for record in records], loss_name)


def _dense_layers(model) -> list:
    if isinstance(model, Dense):
        layers = [("layer", model)]
    elif isinstance(model, Sequential):
        layers = [(f"layers.{i}", layer) for i, layer in enumerate(model.layers)]
    else:
        raise TypeError(f"chain_rule_trace needs a Sequential of Dense layers, got {type(model).__name__}")
    if not layers:
        raise ValueError("chain_rule_trace: the Sequential is empty")
    for name, layer in layers:
        if not isinstance(layer, Dense):
            raise TypeError(f"chain_rule_trace: {name} is a {type(layer).__name__}; only Dense layers are traced "
                            "(use nn.Dense(..., activation=...) instead of separate activation layers)")
    for (name, previous), (_, layer) in zip(layers, layers[1:]):
        if previous.W.shape[1] != layer.W.shape[0]:
            raise ValueError(f"chain_rule_trace: {name} has {previous.W.shape[1]} outputs but the next layer "
                             f"takes {layer.W.shape[0]}")
    return layers


def _engine_gradients(model, layers, weights, biases, sample, target_row, loss_fn):
    """dC/dW^l, dC/db^l by the engine (reverse mode through the model itself, parameters in float64)."""
    names, values, slots = [], [], []
    for l, (name, layer) in enumerate(layers, start=1):
        base = "" if isinstance(model, Dense) else f"{name}."
        names.append(f"{base}W")
        values.append(weights[l - 1])
        slots.append(("W", l))
        if layer.b is not None:
            names.append(f"{base}b")
            values.append(biases[l - 1])
            slots.append(("b", l))

    def cost(*arrays):
        return loss_fn(functional_call(model, dict(zip(names, arrays)), sample[None]), target_row)

    _, grads = value_and_grad(cost, argnums=tuple(range(len(values))))(*values)
    engine_W = [None] * (len(layers) + 1)
    engine_b = [None] * (len(layers) + 1)
    for (kind, l), g in zip(slots, grads):
        (engine_W if kind == "W" else engine_b)[l] = np.asarray(g, dtype=np.float64)
    return engine_W, engine_b


def _vector_text(values) -> str:
    return np.array2string(np.asarray(values), precision=4, suppress_small=False, max_line_width=110,
                           separator=" ", floatmode="maxprec")


def _matrix_text(values, indent: int) -> str:
    text = np.array2string(np.asarray(values), precision=4, max_line_width=110, separator=" ", floatmode="maxprec")
    return "\n".join(" " * indent + line for line in text.splitlines())


# --- forward vs reverse mode ------------------------------------------------------------------------

@dataclass
class ModeComparison:
    """Operation counts of forward and reverse mode for the whole Jacobian of one function.

    Attributes:
        n_inputs, n_outputs: n and m for f: R^n -> R^m.
        function_flops: one plain evaluation of f.
        forward_flops: n JVPs, each evaluating f with a tangent (one per basis direction e_j).
        reverse_flops: one evaluation of f that records the graph, plus m reverse passes (VJPs with
            the basis cotangents e_i).
        forward_calls, reverse_calls: primitive name -> number of calls, for each mode.
        forward_by_op, reverse_by_op: primitive name -> flops.
        max_difference: the largest |J_forward - J_reverse| (the two must agree).
        jacobian: the Jacobian (m, n) (a gradient row for a scalar function).
    """

    n_inputs: int
    n_outputs: int
    function_flops: int
    forward_flops: int
    reverse_flops: int
    forward_calls: dict
    reverse_calls: dict
    forward_by_op: dict
    reverse_by_op: dict
    max_difference: float
    jacobian: np.ndarray

    @property
    def ratio(self) -> float:
        """reverse_flops / forward_flops: below 1 when reverse mode is cheaper."""
        return self.reverse_flops / self.forward_flops if self.forward_flops else float("nan")

    def __str__(self):
        n, m = self.n_inputs, self.n_outputs
        cheaper = "reverse" if self.reverse_flops < self.forward_flops else "forward"
        return "\n".join([
            f"forward vs reverse mode for f: R^{n} -> R^{m} (the full Jacobian, {m} x {n})",
            f"  one evaluation of f:  {self.function_flops:,} flops",
            f"  forward mode: {n} JVPs (one per input direction e_j), each carrying f along: "
            f"{self.forward_flops:,} flops ({sum(self.forward_calls.values()):,} primitive calls)",
            f"  reverse mode: 1 recorded evaluation + {m} VJP{'s' if m != 1 else ''} (one per output): "
            f"{self.reverse_flops:,} flops ({sum(self.reverse_calls.values()):,} primitive calls)",
            f"  reverse / forward = {self.ratio:.3g}: {cheaper} mode is cheaper here. Forward mode costs grow with the",
            "  number of inputs, reverse mode with the number of outputs; a loss has one output and many",
            "  parameters, which is why backpropagation is reverse mode (the notes, 'Forward and reverse modes').",
            f"  the two Jacobians agree to {self.max_difference:.3g}",
        ])


def compare_modes(f, x) -> ModeComparison:
    """Count the floating-point operations of forward and reverse mode for the Jacobian of f at x.

    Forward mode needs one JVP per input (n tangents e_j give the n columns of J); reverse mode one
    VJP per output (m cotangents give the m rows). For a scalar loss of n parameters that is n JVPs
    against one VJP. Operations are counted as count_ops does (the OpCounter of
    nablanet.autodiff.introspect: elementwise ops one per element, matrix products 2 m n k), including
    the derivative rules' own operations: tangents and cotangents are passed as Tensors, so every
    operation of the rules goes through the engine and is counted.

    Args:
        f: a function of one array (written with nablanet ops), returning an array or a scalar.
        x: the point (any shape; n = x.size).

    Returns:
        A ModeComparison; ``print`` it for a summary.

    Example:
        >>> import nablanet.numpy as np
        >>> comparison = compare_modes(lambda w: np.sum(np.tanh(w) ** 2), np.linspace(-1, 1, 20))
        >>> comparison.reverse_flops < comparison.forward_flops
        True
    """
    x = np.asarray(x._data if isinstance(x, Tensor) else x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    check_differentiable(x, "compare_modes: x")
    n = x.size

    with _counting() as counter:
        value = f(Tensor(x))
    function_flops = sum(counter.flops.values())
    output = np.asarray(value._data if isinstance(value, Tensor) else value)
    m = output.size

    # Reverse mode: one recorded evaluation, then one reverse pass per output; rules run on Tensors
    # (box=True) so that their operations are counted.
    with _counting() as reverse_counter:
        leaf = Tensor(x, requires_grad=True)
        out = f(leaf)
        rows = []
        for i in range(m):
            seed = np.zeros(m, dtype=output.dtype)
            seed[i] = 1
            found = run_backward(out, seed.reshape(output.shape), [leaf], box=True) if out._requires_grad else {}
            row = found[id(leaf)][1] if id(leaf) in found else np.zeros_like(x)
            rows.append(np.asarray(row._data if isinstance(row, Tensor) else row).reshape(-1))
    reverse_jacobian = np.stack(rows)

    with _counting() as forward_counter:
        columns = []
        for j in range(n):
            direction = np.zeros(n, dtype=x.dtype)
            direction[j] = 1
            _, column = jvp(f, (x,), (Tensor(direction.reshape(x.shape)),))
            columns.append(np.asarray(column).reshape(-1))
    forward_jacobian = np.stack(columns, axis=1) if columns else np.zeros((m, 0))

    return ModeComparison(
        n, m, int(function_flops), int(sum(forward_counter.flops.values())), int(sum(reverse_counter.flops.values())),
        dict(forward_counter.calls), dict(reverse_counter.calls), dict(forward_counter.flops),
        dict(reverse_counter.flops), float(np.max(np.abs(forward_jacobian - reverse_jacobian))) if m and n else 0.0,
        reverse_jacobian,
    )


class _counting:
    """Context manager: an OpCounter installed in state.counter (as count_ops does), restored after."""

    def __enter__(self) -> OpCounter:
        self.counter = OpCounter()
        self.saved = state.counter
        state.counter = self.counter
        return self.counter

    def __exit__(self, *exc):
        state.counter = self.saved
        return False


def flat_loss(model, X, y, loss, *, dtype=np.float64):
    """The loss as a function of one flat parameter vector: ``(f, theta)`` with f(theta) = loss(model(X), y).

    Useful to hand a network to compare_modes, jacobian or hessian. The vector concatenates the
    parameters in ``named_parameters()`` order; f slices and reshapes it with differentiable ops and
    evaluates the model through ``functional_call`` (the model is not changed).

    Args:
        model: a nablanet.nn.Module.
        X, y: inputs and targets.
        loss: a loss name or function.
        dtype: the dtype of theta and of X (float64 by default, for exact comparisons).

    Returns:
        ``(f, theta)``: the function and the model's current parameters as a vector.

    Example:
        >>> import numpy as np
        >>> import nablanet.nn as nn
        >>> f, theta = flat_loss(nn.Dense(3, 1, rng=0), np.ones((2, 3)), np.zeros((2, 1)), "mse")
        >>> theta.shape
        (4,)
    """
    loss_fn = get_loss(loss)
    named = list(model.named_parameters())
    shapes = [p.shape for _, p in named]
    sizes = [int(np.prod(shape)) for shape in shapes]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    theta = np.concatenate([p.data.astype(dtype).reshape(-1) for _, p in named]) if named else np.zeros(0, dtype)
    inputs = np.asarray(X._data if isinstance(X, Tensor) else X).astype(dtype)
    targets = np.asarray(y._data if isinstance(y, Tensor) else y)
    if np.issubdtype(targets.dtype, np.floating):
        targets = targets.astype(dtype)

    def f(vector):
        values = {name: reshape(vector[offsets[k]:offsets[k + 1]], shapes[k]) for k, (name, _) in enumerate(named)}
        return loss_fn(functional_call(model, values, inputs), targets)

    return f, theta
