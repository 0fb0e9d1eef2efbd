"""A traced program: its equations simplified (constants folded, dead ones dropped), replayed on new
inputs with each value freed after its last use, and printed in the notes' notation."""

from __future__ import annotations

import functools

import numpy as np

from nablanet.autodiff.jit.codegen import generate
from nablanet.autodiff.tree import tree_unflatten
from nablanet.autodiff.jit.tracing import Equation, LiveData, Traced, Var

__all__ = ["Program"]

# The notes' names: z for a weighted input (an affine map), a for an activation.
_AFFINE = {"matmul", "dense", "dot", "einsum", "conv", "im2col_matmul", "linear"}
_ACTIVATIONS = {"relu", "tanh", "sigmoid", "logistic", "softmax", "log_softmax", "elu", "gelu", "leaky_relu",
                "softplus", "selu", "silu", "swish", "exp"}


def _walk(template, found: list, kinds=(Var, LiveData)) -> None:
    """The Vars and LiveData (or other ``kinds``) inside an equation's argument template."""
    if isinstance(template, kinds):
        found.append(template)
    elif type(template) in (tuple, list):
        for item in template:
            _walk(item, found, kinds)
    elif type(template) is dict:
        for item in template.values():
            _walk(item, found, kinds)
    elif type(template) is slice:
        _walk((template.start, template.stop, template.step), found, kinds)


def _first(outputs):
    return outputs[0]


def _same(a, b) -> bool:
    """Whether two equation arguments are the same value: the same Var (or object), or equal settings."""
    if a is b:
        return True
    plain = (str, int, float, bool, type(None))
    if type(a) in plain and type(b) is type(a):
        return a == b
    if type(a) in (tuple, list) and type(b) is type(a):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return False


def _fuse_rules(equations, constants):
    """A primitive's forward and, later, its VJP rule on the same inputs with a constant upstream gradient
    (a loss and its seed), as one call of the op's ``forward_with_vjp`` where it has one: the two share
    their work (softmax cross-entropy computes the softmax once). Only when nothing between the two
    writes in place, so the inputs the rule reads are the ones the forward read."""
    fused = list(equations)
    for k, equation in enumerate(fused):
        op = equation.op if equation is not None else None
        both = getattr(op, "forward_with_vjp", None) if op is not None else None
        if both is None or not isinstance(equation.outs, Var):
            continue
        for j in range(k + 1, len(fused)):
            rule = fused[j]
            if rule is None:
                continue
            if rule.fn is op.vjp and _rule_of(rule, equation, constants):
                settings = {key: value for key, value in rule.kwargs.items()}
                settings["grad_out"] = rule.args[0]
                fused[k] = Equation(both, f"{op.name}+vjp", equation.args, settings, (equation.outs, rule.outs), True,
                                    (), equation.phase, equation.flops + rule.flops, None,
                                    list(equation.inputs) + list(rule.inputs))
                fused[j] = None
                break
            if rule.mutates or not rule.pure:
                break
    return [equation for equation in fused if equation is not None]


def _rule_of(rule, equation, constants) -> bool:
    """Whether ``rule`` is the VJP of ``equation``'s call: its arguments (grad_out, out, *inputs) with out
    the forward's result, the forward's inputs and settings, and grad_out a constant."""
    if len(rule.args) != 2 + len(equation.args) or rule.args[1] is not equation.outs:
        return False
    grad_out = rule.args[0]
    if isinstance(grad_out, Var) and grad_out.index not in constants:
        return False
    if not all(_same(a, b) for a, b in zip(rule.args[2:], equation.args)):
        return False
    settings = {key: value for key, value in rule.kwargs.items() if key != "needs"}
    return settings.keys() == equation.kwargs.keys() and all(_same(settings[key], equation.kwargs[key])
                                                              for key in settings)


class Program:
    """A flat program of primitive calls on ndarrays, traced from one call of a function (a jaxpr).

    Each equation is one primitive's forward (or a NumPy call, or an opaque hook) with its settings;
    its inputs are program variables (the function's array arguments, earlier equations' results),
    constants, or the current value of a Tensor from outside the function (a Parameter, read at
    each replay). Calling the program replays it on new arrays of the traced shapes and dtypes.

    Attributes:
        equations: the equations, in the order they run, after simplification.
        inputs: the Vars of the function's array arguments, in the order of its flattened arguments.
        traced_equations: how many equations the trace recorded (before folding and dead-code removal).
        folded: how many equations were computed once, at compile time, from constants alone.
        modes: (module, training) for each module whose mode the trace read: the program replays only
            while they hold (``holds``).
    """

    def __init__(self, tracer, inputs, output_spec, output_tree, arg_tree):
        self.inputs = list(inputs)
        self.n_vars = len(tracer.vars)
        self.output_spec, self.output_tree, self.arg_tree = output_spec, output_tree, arg_tree
        self.traced_equations = len(tracer.equations)
        self.modes = tuple(guard for guard in tracer.modes.values() if guard is not None)
        self._values = tracer._alive
        self._names = {}
        self._constant_ids = set(tracer.constants)
        output_vars = {spec[1].index for spec in output_spec if spec[0] in ("array", "tensor", float, complex)}
        equations, constants = self._fold(tracer.equations, output_vars)
        self.folded = len(tracer.equations) - len(equations)
        equations = self._drop_dead(equations, output_vars)
        self.equations = _fuse_rules(equations, constants)
        self._env = [None] * self.n_vars
        for index, value in constants.items():
            self._env[index] = value
        self._compile_steps(output_vars)
        self._values = None  # the trace's arrays are no longer needed

    # --- simplification ----------------------------------------------------------------------
    def _fold(self, equations, output_vars):
        """Compute once the pure equations that depend on constants alone (not on inputs, not on a
        Parameter, not on anything later written in place)."""
        written = set()
        for equation in equations:
            written.update(v.index for v in equation.mutates)
        # Ancestors of a value written in place may share its memory: none of them is folded.
        for equation in reversed(equations):
            if any(v.index in written for v in equation.out_vars()):
                written.update(v.index for v in equation.inputs)
        values = {traced._var.index: traced.view(np.ndarray) for traced in self._values if isinstance(traced, Traced)}
        constants, kept = {}, []
        for equation in equations:
            if equation.pure and equation.outs is not None and self._constant_only(equation, constants) \
                    and not any(v.index in written or v.index in output_vars for v in equation.out_vars()):
                for v in equation.out_vars():
                    constants[v.index] = values[v.index]
                continue
            kept.append(equation)
        return kept, constants

    def _constant_only(self, equation, constants) -> bool:
        found: list = []
        _walk((equation.args, equation.kwargs), found)
        if any(isinstance(f, LiveData) or f.index not in constants for f in found):
            return False
        arrays: list = []
        _walk((equation.args, equation.kwargs), arrays, np.ndarray)
        # Arrays from outside (a view of a weight matrix, say) may change between calls: only the
        # shape-only prototypes are constants.
        return all(id(a) in self._constant_ids for a in arrays)

    @staticmethod
    def _drop_dead(equations, output_vars):
        """Drop pure equations none of whose results is used (a residual no rule read, say)."""
        live = set(output_vars)
        kept = []
        for equation in reversed(equations):
            outs = equation.out_vars()
            if equation.pure and not equation.mutates and outs and not any(v.index in live for v in outs):
                continue
            live.update(v.index for v in equation.inputs)
            live.update(v.index for v in equation.mutates)
            kept.append(equation)
        return kept[::-1]

    def _compile_steps(self, output_vars):
        last_use = {}
        for k, equation in enumerate(self.equations):
            for v in list(equation.inputs) + list(equation.mutates) + equation.out_vars():
                last_use[v.index] = k
        frees = [[] for _ in self.equations]
        constant = {i for i, value in enumerate(self._env) if value is not None}
        for index, k in last_use.items():
            if index not in output_vars and index not in constant:
                frees[k].append(index)
        self._frees = frees
        constants = {i: value for i, value in enumerate(self._env) if value is not None}
        self._run = generate(self, constants, frees)
        marker = object()
        if len(self.output_spec) == 1 and tree_unflatten(self.output_tree, [marker]) is marker:
            self.unflatten = _first
        else:
            self.unflatten = functools.partial(tree_unflatten, self.output_tree)

    # --- running -----------------------------------------------------------------------------
    def holds(self) -> bool:
        """Whether every module whose mode the trace read (``training``) is in that mode now."""
        return all(module.training == mode for module, mode in self.modes)

    def run(self, arrays):
        """Replay on the function's flattened array arguments; returns the output leaves."""
        return self._run(*arrays)

    @property
    def source(self) -> str:
        """The Python function the program runs as (one line per equation)."""
        return self._run.source

    # --- looking at it -----------------------------------------------------------------------
    def count(self, phase: str | None = None) -> dict:
        """Primitive name -> number of equations (of one phase, or all)."""
        counts: dict = {}
        for equation in self.equations:
            if phase is None or equation.phase == phase:
                counts[equation.name] = counts.get(equation.name, 0) + 1
        return counts

    def _name_vars(self):
        names = {}
        counters: dict = {}
        self._live_names = {}
        self._read_vars = []

        def fresh(prefix):
            counters[prefix] = counters.get(prefix, 0) + 1
            return f"{prefix}{counters[prefix]}"

        first = ["x", "y"]
        for k, var in enumerate(self.inputs):
            names[var.index] = first[k] if k < len(first) and len(self.inputs) <= 2 else f"x{k + 1}"
        for equation in self.equations:
            if equation.name == "read":
                # A Parameter's value: W for a matrix (or kernel), b for a vector, as the notes name them.
                var = equation.outs
                prefix = "W" if len(var.shape) >= 2 else "b"
                names[var.index] = fresh(prefix)
                self._read_vars.append(var)
                self._live_names[id(equation.args[0])] = (names[var.index], None)
                continue
            for var in equation.out_vars():
                if equation.phase == "reverse":
                    prefix = "g"
                elif equation.phase == "update":
                    prefix = "u"
                elif equation.name in _AFFINE:
                    prefix = "z"
                elif equation.name in _ACTIVATIONS:
                    prefix = "a"
                else:
                    prefix = "t"
                names[var.index] = fresh(prefix)
        self._names = names

    def _show(self, template) -> str:
        if isinstance(template, Var):
            if template.index in self._names:
                return self._names[template.index]
            value = self._env[template.index]
            return self._show(value) if isinstance(value, np.ndarray) else f"c{template.index}"
        if isinstance(template, LiveData):
            tensor = template.tensor
            key = id(tensor)
            if key not in self._live_names:
                prefix = "P"  # a tensor read in place (an empty one: nothing to read)
                count = sum(1 for name, _ in self._live_names.values() if name[0] == prefix) + 1
                self._live_names[key] = (f"{prefix}{count}", tensor)
            return self._live_names[key][0]
        if isinstance(template, np.ndarray):
            if template.size == 1:
                return f"{template.reshape(()).item():g}" if template.dtype.kind in "fiub" else "const"
            return f"const{_type(template.shape, template.dtype)}"
        if type(template) in (tuple, list):
            inner = ", ".join(self._show(item) for item in template)
            return f"({inner})" if type(template) is tuple else f"[{inner}]"
        if type(template) is dict:
            return " ".join(f"{key}={self._show(value)}" for key, value in template.items())
        if type(template) is slice:
            return ":".join("" if part is None else self._show(part)
                            for part in (template.start, template.stop, template.step))
        if hasattr(template, "_data") and hasattr(template, "_requires_grad"):
            return self._show(LiveData(template))
        if callable(template) and hasattr(template, "__name__"):
            return template.__name__
        if type(template).__repr__ is object.__repr__ or len(repr(template)) > 40:
            return type(template).__name__
        text = repr(template)
        return text if len(text) <= 40 else text[:37] + "..."

    def __str__(self):
        self._name_vars()
        inputs = " ".join(f"{self._show(v)}:{_type(v.shape, v.dtype)}" for v in self.inputs)
        lines = []
        for equation in self.equations:
            if equation.name == "read":
                continue
            outs = equation.out_vars()
            left = " ".join(f"{self._show(v)}:{_type(v.shape, v.dtype)}" for v in outs) or "_"
            args = " ".join(self._show(a) for a in equation.args)
            settings = self._show(equation.kwargs) if equation.kwargs else ""
            lines.append(f"  {left} = {equation.name} {args}{' ' + settings if settings else ''}".rstrip())
        outputs = []
        for kind, value in self.output_spec:
            outputs.append(self._show(value) if kind in ("array", "tensor", "live", float, complex) else repr(value))
        live = " ".join([f"{self._show(v)}:{_type(v.shape, v.dtype)}" for v in self._read_vars] +
                        [f"{name}:{_type(t.shape, t.dtype)}" for name, t in self._live_names.values() if t is not None])
        header = f"{{ lambda {inputs}" + (f" ; {live}" if live else "") + " ."
        return "\n".join([header, *lines, f"  in ({', '.join(outputs)}) }}"])

    __repr__ = __str__

    def to_dot(self) -> str:
        """The program as Graphviz DOT text: inputs as ellipses, equations as boxes, values as edges."""
        self._name_vars()
        lines = ["digraph {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
        source = {}
        for var in self.inputs:
            source[var.index] = f"in{var.index}"
            lines.append(f'  in{var.index} [shape=ellipse, label="{self._show(var)}\\n{_type(var.shape, var.dtype)}"];')
        for k, equation in enumerate(self.equations):
            node = f"e{k}"
            outs = ", ".join(self._show(v) for v in equation.out_vars())
            lines.append(f'  {node} [shape=box, label="{equation.name}\\n{outs}"];')
            for var in dict.fromkeys(equation.inputs):
                if var.index in source:
                    lines.append(f"  {source[var.index]} -> {node};")
            for var in equation.out_vars():
                source[var.index] = node
        lines.append("}")
        return "\n".join(lines)


def _type(shape, dtype) -> str:
    kind = {"f": "f", "i": "i", "u": "u", "b": "bool", "c": "c"}.get(np.dtype(dtype).kind, "?")
    bits = "" if kind == "bool" else str(np.dtype(dtype).itemsize * 8)
    return f"{kind}{bits}[{','.join(map(str, shape))}]"
