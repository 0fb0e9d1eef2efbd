"""Looking inside a computation as the notes do by hand: operation counts and the graph as DOT text."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from nablanet.autodiff import state
from nablanet.autodiff.graph import collect, run_backward
from nablanet.autodiff.jit.program import Program
from nablanet.autodiff.tensor import Tensor, check_differentiable


class OpCounter:
    """Collects floating-point operation counts per primitive while state.counter points to it."""

    def __init__(self):
        self.flops = Counter()
        self.calls = Counter()

    def record(self, op, out, inputs, settings):
        self.flops[op.name] += int(op.flops(out, *inputs, **settings))
        self.calls[op.name] += 1

    def record_accumulate(self, grad):
        # Gradients reaching a value along several paths are summed: one add per element.
        self.flops["add (accumulate)"] += int(np.size(grad))
        self.calls["add (accumulate)"] += 1


@dataclass
class OpCount:
    """Floating-point operations of one forward pass and of the reverse pass that differentiates it.

    Elementwise ops count one per element, reductions one per input element, a matrix product
    2 m n k; reshapes, transposes and indexing count nothing.
    """

    forward: dict = field(default_factory=dict)
    reverse: dict = field(default_factory=dict)
    forward_calls: dict = field(default_factory=dict)
    reverse_calls: dict = field(default_factory=dict)

    @property
    def forward_total(self) -> int:
        """The number of operations of the forward pass, all kinds together."""
        return sum(self.forward.values())

    @property
    def reverse_total(self) -> int:
        """The number of operations of the reverse (backward) pass, all kinds together."""
        return sum(self.reverse.values())

    @property
    def total(self) -> int:
        """Forward and reverse operations together."""
        return self.forward_total + self.reverse_total

    def __str__(self):
        names = sorted(set(self.forward) | set(self.reverse))
        width = max([len(n) for n in names] + [9])
        lines = [f"{'primitive':<{width}}  {'forward':>8}  {'reverse':>8}"]
        for name in names:
            lines.append(f"{name:<{width}}  {self.forward.get(name, 0):>8}  {self.reverse.get(name, 0):>8}")
        lines.append(f"{'total':<{width}}  {self.forward_total:>8}  {self.reverse_total:>8}")
        return "\n".join(lines)


def _leaves(args, argnums):
    positions = range(len(args)) if argnums is None else ((argnums,) if isinstance(argnums, int) else argnums)
    args = list(args)
    leaves = []
    for i in positions:
        value = args[i]
        data = value._data if isinstance(value, Tensor) else np.asarray(value)
        check_differentiable(data, f"argument {i}")
        leaf = Tensor(data, requires_grad=True)
        args[i] = leaf
        leaves.append(leaf)
    return args, leaves


def count_ops(f, *args, argnums=None) -> OpCount:
    """Count the floating-point operations of f's forward pass and of its reverse (gradient) pass.

    Args:
        f: a function of arrays; a non-scalar output is differentiated as the sum of its elements.
            Or a traced Program (``make_program``): its equations' counts, forward and reverse as
            traced (after constant folding and dead-code removal; opaque update calls left out).
        *args: its arguments.
        argnums: the arguments to differentiate with respect to (default: all).

    Example: the notes' f(x) = sqrt(x^2 + exp(x^2)) with a = x^2 computed once takes four
    operations (square, exp, add, sqrt):

        >>> import nablanet.numpy as np
        >>> def f(x):
        ...     a = x ** 2
        ...     return np.sqrt(a + np.exp(a))
        >>> count_ops(f, 0.5).forward_total
        4
    """
    if isinstance(f, Program):
        return _program_count(f)
    args, leaves = _leaves(args, argnums)
    counter = OpCounter()
    saved = state.counter
    state.counter = counter
    try:
        out = f(*args)
        forward, forward_calls = dict(counter.flops), dict(counter.calls)
        counter.flops.clear()
        counter.calls.clear()
        if isinstance(out, Tensor) and out._requires_grad:
            run_backward(out, np.ones_like(out._data), leaves, box=True)
    finally:
        state.counter = saved
    return OpCount(forward, dict(counter.flops), forward_calls, dict(counter.calls))


def to_dot(f, *args, argnums=None, names=None) -> str:
    """The computation graph of f(*args) as Graphviz DOT text (render with ``dot -Tpng``).

    Inputs are ellipses, primitives boxes labelled with their name and output shape, constants
    plain text.

    Example:
        >>> import nablanet.numpy as np
        >>> print(to_dot(lambda x: np.exp(x ** 2), 1.0, names=["x"]))  # doctest: +ELLIPSIS
        digraph {
        ...
    """
    if isinstance(f, Program):
        return f.to_dot()
    args, leaves = _leaves(args, argnums)
    out = f(*args)
    labels = {id(leaf): (names[i] if names else f"x{i}") for i, leaf in enumerate(leaves)}
    lines = ["digraph {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    if not isinstance(out, Tensor) or not out._requires_grad:
        lines.append('  out [label="constant output"];')
        lines.append("}")
        return "\n".join(lines)
    ids = {}
    nodes, leaves = collect(out)
    for node in leaves + nodes[::-1]:
        ids[id(node)] = f"n{len(ids)}"
        shape = "x".join(map(str, node.shape)) or "scalar"
        if node._op is None:
            label = labels.get(id(node), "leaf")
            lines.append(f'  {ids[id(node)]} [shape=ellipse, label="{label}\\n{shape}"];')
            continue
        lines.append(f'  {ids[id(node)]} [shape=box, label="{node._op.name}\\n{shape}"];')
        for k, parent in enumerate(node._inputs):
            if isinstance(parent, Tensor) and id(parent) in ids:
                lines.append(f"  {ids[id(parent)]} -> {ids[id(node)]};")
            else:
                const = f"{ids[id(node)]}_c{k}"
                text = _constant_label(parent)
                lines.append(f'  {const} [shape=plaintext, label="{text}"];')
                lines.append(f"  {const} -> {ids[id(node)]};")
    lines.append(f'  {ids[id(out)]} [peripheries=2];')
    lines.append("}")
    return "\n".join(lines)


def _program_count(program) -> OpCount:
    """The counts of a traced program's equations: forward and reverse as traced (opaque updates left out)."""
    count = OpCount()
    for equation in program.equations:
        if equation.phase == "update":
            continue
        flops, calls = (count.forward, count.forward_calls) if equation.phase == "forward" else \
            (count.reverse, count.reverse_calls)
        flops[equation.name] = flops.get(equation.name, 0) + equation.flops
        calls[equation.name] = calls.get(equation.name, 0) + 1
    return count


def _constant_label(value) -> str:
    data = value._data if isinstance(value, Tensor) else np.asarray(value)
    if data.size == 1:
        return f"{data.item():g}"
    return "const " + "x".join(map(str, data.shape))
