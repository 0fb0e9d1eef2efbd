"""A Program as one generated Python function: each equation one line calling its NumPy forward on
local variables, each value deleted after its last use. What is left per equation is the call itself."""

from __future__ import annotations

import dis
import functools

import numpy as np

from nablanet.autodiff.jit.tracing import LiveData, Var

__all__ = ["generate"]


# Binary ufuncs whose Python operator is the same call: on NumPy scalars (a program of scalars) the
# operator takes NumPy's scalar fast path, several times faster than calling the ufunc.
_OPERATORS = {np.add: "+", np.subtract: "-", np.multiply: "*", np.true_divide: "/", np.power: "**"}


@functools.cache
def _ufunc_of(forward):
    """The ufunc an op's forward is exactly a call of (``return np.add(x, y)``), else None: read off
    its bytecode, so that a forward doing anything more is called as it is."""
    code = getattr(forward, "__code__", None)
    if code is None or code.co_kwonlyargcount or code.co_flags & 0x0C or code.co_argcount not in (1, 2):
        return None
    arguments = code.co_varnames[:code.co_argcount]
    loads, others = [], set()
    for instruction in dis.get_instructions(code):
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_ATTR", "LOAD_METHOD", "LOAD_FAST"):
            loads.append(instruction.argval)
        else:
            others.add(instruction.opname)
    if len(loads) != 2 + len(arguments) or loads[0] != "np" or tuple(loads[2:]) != arguments:
        return None
    if not others <= {"RESUME", "PRECALL", "CALL", "RETURN_VALUE", "PUSH_NULL", "CACHE", "CALL_FUNCTION",
                      "CALL_METHOD"}:
        return None
    ufunc = getattr(np, loads[1], None)
    return ufunc if isinstance(ufunc, np.ufunc) and ufunc.nin == len(arguments) else None


class _Source:
    """The generated function's text and the namespace of the objects it names."""

    def __init__(self, constants: dict):
        self.namespace: dict = {}
        self._names: dict = {}
        self.constants = constants  # var index -> folded value

    def name(self, obj, prefix: str) -> str:
        key = id(obj)
        if key not in self._names:
            self._names[key] = f"{prefix}{len(self._names)}"
            self.namespace[self._names[key]] = obj
        return self._names[key]

    def dynamic(self, template) -> bool:
        if isinstance(template, (Var, LiveData)):
            return True
        if type(template) in (tuple, list):
            return any(self.dynamic(item) for item in template)
        if type(template) is dict:
            return any(self.dynamic(item) for item in template.values())
        if type(template) is slice:
            return self.dynamic((template.start, template.stop, template.step))
        return False

    def expression(self, template) -> str:
        if isinstance(template, Var):
            if template.index in self.constants:
                return self.name(self.constants[template.index], "k")
            return f"v{template.index}"
        if isinstance(template, LiveData):
            return f"{self.name(template.tensor, 't')}._data"
        if not self.dynamic(template):
            return self.name(template, "c")
        kind = type(template)
        if kind is tuple:
            return "(" + "".join(self.expression(item) + ", " for item in template) + ")"
        if kind is list:
            return "[" + ", ".join(self.expression(item) for item in template) + "]"
        if kind is dict:
            items = ", ".join(f"{self.name(key, 'c')}: {self.expression(value)}" for key, value in template.items())
            return "{" + items + "}"
        return f"slice({self.expression(template.start)}, {self.expression(template.stop)}, " \
               f"{self.expression(template.step)})"

    def call(self, equation) -> str:
        # A primitive calls its forward directly (the trace already checked its inputs), or the
        # ufunc that forward is.
        fn = equation.op.forward if equation.op is not None else equation.fn
        fn = _ufunc_of(fn) or fn if equation.op is not None else fn
        parts = [self.expression(a) for a in equation.args]
        kwargs = equation.kwargs
        if fn in _OPERATORS and len(parts) == 2 and not kwargs and any(isinstance(a, Var) for a in equation.args):
            return f"({parts[0]} {_OPERATORS[fn]} {parts[1]})"
        if kwargs and all(isinstance(key, str) and key.isidentifier() for key in kwargs):
            parts += [f"{key}={self.expression(value)}" for key, value in kwargs.items()]
        elif kwargs:
            parts.append("**" + self.expression(kwargs))
        return f"{self.name(fn, 'f')}({', '.join(parts)})"


def _target(pattern) -> str:
    if pattern is None:
        return "_"
    if isinstance(pattern, Var):
        return f"v{pattern.index}"
    return "(" + "".join(_target(item) + ", " for item in pattern) + ")"


def generate(program, constants: dict, frees: list):
    """The replay of ``program`` as a function of its input arrays returning its output leaves.

    Args:
        program: the Program (its equations, inputs, output_spec).
        constants: var index -> the value constant folding computed.
        frees: per equation, the var indices whose last use it is.
    """
    from nablanet.autodiff.tensor import new_tensor

    source = _Source(constants)
    lines = [f"def program({', '.join(f'v{var.index}' for var in program.inputs)}):"]
    for equation, free in zip(program.equations, frees):
        call = source.call(equation)
        lines.append(f"    {call}" if equation.outs is None else f"    {_target(equation.outs)} = {call}")
        dead = [f"v{index}" for index in free if index not in constants]
        if dead:
            lines.append(f"    del {', '.join(dead)}")
    outputs = []
    for kind, value in program.output_spec:
        if kind == "array":
            outputs.append(source.expression(value))
        elif kind == "tensor":
            outputs.append(f"{source.name(new_tensor, 'f')}({source.expression(value)})")
        elif kind is float or kind is complex:
            outputs.append(f"{source.name(kind, 'f')}({source.expression(value)})")
        elif kind == "live":
            outputs.append(source.expression(value))
        else:
            outputs.append(source.name(value, "c"))
    lines.append(f"    return [{', '.join(outputs)}]")
    text = "\n".join(lines)
    namespace = dict(source.namespace, np=np)
    exec(compile(text, "<nablanet.jit program>", "exec"), namespace)  # noqa: S102 - our own generated code
    function = namespace["program"]
    function.source = text
    return function
