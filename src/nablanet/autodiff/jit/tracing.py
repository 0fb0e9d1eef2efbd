"""Tracing: one call of a function recorded as a flat list of equations on ndarrays, and the hooks
(``call``, ``clear_grads``) through which code outside the ops records its side effects.

While a ``Tracer`` is active (``state.tracer``), every primitive's forward runs through
``Tracer.op`` (``op.py``'s ``_forward``), which computes it on plain arrays and returns its output as
a ``Traced`` array: an ndarray view that knows its program variable. NumPy work done directly on
such arrays (a comparison inside a VJP rule, the reverse pass's gradient accumulation, a seed
``ones_like``) reaches ``Traced.__array_ufunc__`` / ``__array_function__`` and is recorded too, so the
backward pass traces without any change to the rules. Work that touches only arrays from outside the
trace (an optimizer's in-place update of its state, a random draw) cannot be seen this way: it goes
through ``call(fn, *args, pure=False)``, which records one opaque call replayed every step; so
does an assignment to a Tensor's ``.grad`` (``p.grad = None``), through the property's setter.

Asking for a traced value in Python (``bool``, ``float``, ``int``, ``.item()``) would bake one
call's branch into every replay, so it raises ``TracingError`` naming the user's line.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from nablanet.autodiff import state

__all__ = ["TracingError", "Traced", "Var", "LiveData", "Equation", "Tracer", "call", "clear_grads", "active", "peek", "varies",
           "read_mode", "write_mode"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__))


class TracingError(TypeError):
    """A traced function used the value of a traced array in Python (data-dependent control flow)."""


def _user_line() -> str:
    """``file:line (code)`` of the innermost frame outside nablanet and NumPy: the user's line."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith((_PACKAGE_DIR, _NUMPY_DIR)):
            break
        frame = frame.f_back
    if frame is None:
        return "an unknown line"
    import linecache

    code = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    return f"{frame.f_code.co_filename}:{frame.f_lineno}" + (f" ({code})" if code else "")


def _refuse(what: str):
    raise TracingError(
        f"jit: {what} of a traced array at {_user_line()}: a compiled program replays one trace, so it "
        "cannot branch on (or read out) the values it computes; compute the branch with "
        "nablanet.numpy.where, or move the Python-level use of the value out of the compiled function")


class Var:
    """A program variable: one value an equation computes (or an input of the program)."""

    __slots__ = ("index", "shape", "dtype", "name")

    def __init__(self, index: int, shape: tuple, dtype, name: str = ""):
        self.index, self.shape, self.dtype, self.name = index, shape, dtype, name

    def __repr__(self):
        return self.name or f"v{self.index}"


class LiveData:
    """A Tensor whose current ``_data`` an equation reads at each replay (a Parameter, updated in place
    or replaced by its optimizer between steps)."""

    __slots__ = ("tensor",)

    def __init__(self, tensor):
        self.tensor = tensor


class Equation:
    """One step of a program: ``outs = fn(*args, **kwargs)``, with Vars in place of traced values.

    Attributes:
        fn: the callable replayed (an op's forward, a NumPy function, an opaque hook's function).
        name: what the printed program shows.
        args, kwargs: the call's arguments, Vars (and LiveData) where values of the program go.
        outs: the Var, or tuples of Vars nested as the result's (None where an output is not an
            array), or None.
        pure: whether the result depends on the arguments alone (no side effect, no random draw).
        mutates: the Vars written in place (``out=``, item assignment, an impure call's arguments).
        phase: "forward", "reverse" (recorded by the reverse pass) or "update" (an opaque call).
        flops: floating-point operations, as ``count_ops`` counts them (an op's own count).
        op: the Op class when the equation is a primitive, else None.
    """

    __slots__ = ("fn", "name", "args", "kwargs", "outs", "pure", "mutates", "phase", "flops", "op", "inputs")

    def __init__(self, fn, name, args, kwargs, outs, pure, mutates, phase, flops, op, inputs):
        self.fn, self.name, self.args, self.kwargs, self.outs = fn, name, args, kwargs, outs
        self.pure, self.mutates, self.phase, self.flops, self.op = pure, mutates, phase, flops, op
        self.inputs = inputs

    def out_vars(self) -> list:
        """The Vars this equation defines."""
        return _flat_vars(self.outs)


def _flat_vars(pattern) -> list:
    if pattern is None:
        return []
    if isinstance(pattern, Var):
        return [pattern]
    return [v for item in pattern for v in _flat_vars(item)]


def _plain(x):
    return x.view(np.ndarray) if isinstance(x, Traced) else x


def _unwrap(x):
    """The values of a call's arguments: Traced arrays as plain ndarray views, containers walked."""
    if isinstance(x, Traced):
        return x.view(np.ndarray)
    kind = type(x)
    if kind is tuple or kind is list:
        return kind(_unwrap(item) for item in x)
    if kind is dict:
        return {key: _unwrap(value) for key, value in x.items()}
    if kind is slice and (isinstance(x.start, Traced) or isinstance(x.stop, Traced)):
        return slice(_unwrap(x.start), _unwrap(x.stop), _unwrap(x.step))
    return x


class Traced(np.ndarray):
    """An ndarray of a trace: a view of the value a program variable has in this call."""

    # Beside a Tensor, NumPy's binary operators defer to the Tensor (its priority is 1000).
    __array_priority__ = 10

    def __array_finalize__(self, obj):
        self._var = None
        self._tracer = None
        self._python = None

    def _owned(self) -> bool:
        return self._tracer is not None and self._tracer is state.tracer

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        tracer = state.tracer
        for x in inputs + tuple(kwargs.get("out", ())):
            if not isinstance(x, (np.ndarray, np.generic, int, float, complex, bool)) and x is not None \
                    and hasattr(x, "__array_ufunc__"):
                return NotImplemented  # a Tensor among them: its dispatch records the op
        fn = ufunc if method == "__call__" else getattr(ufunc, method)
        if tracer is None:
            return fn(*_unwrap(inputs), **_unwrap(kwargs))
        name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
        if method == "at":
            return tracer.record(fn, name, inputs, kwargs, mutated=(inputs[0],), returns_args=True)
        return tracer.record(fn, name, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if any(not issubclass(t, np.ndarray) for t in types):
            return NotImplemented
        tracer = state.tracer
        if tracer is None or func in _STATIC:
            return func(*_unwrap(args), **_unwrap(kwargs))
        if func in _SHAPE_ONLY:
            # Only the shape and dtype of the first argument matter: a value no variable feeds,
            # so constant folding can compute it once.
            proto = np.asarray(args[0])
            if proto.flags.c_contiguous or proto.ndim < 2:
                proto = np.broadcast_to(np.zeros((), proto.dtype), proto.shape)
            else:
                proto = np.empty_like(proto)  # its memory order, which the result keeps (order="K")
            tracer.constants[id(proto)] = proto
            args = (proto,) + tuple(args[1:])
        mutated = (args[0],) if func in _MUTATING else ()
        return tracer.record(func, func.__name__, args, kwargs, mutated=mutated, returns_args=bool(mutated))

    # --- Python's use of a value: refused while this array's trace runs -----------------------
    def item(self, *args):
        if self._owned():
            _refuse(".item()")
        return self.view(np.ndarray).item(*args)

    def tolist(self):
        if self._owned():
            _refuse(".tolist()")
        return self.view(np.ndarray).tolist()

    def __getitem__(self, index):
        if not self._owned():
            return self.view(np.ndarray)[_unwrap(index)]
        return state.tracer.record(_getitem, "getitem", (self, index), {})

    def __setitem__(self, index, value):
        if not self._owned():
            self.view(np.ndarray)[_unwrap(index)] = _unwrap(value)
            return
        state.tracer.record(_setitem, "setitem", (self, index, value), {}, mutated=(self,), returns_args=True)

    def view(self, *args, **kwargs):
        if not self._owned() or (len(args) == 1 and isinstance(args[0], type) and issubclass(args[0], np.ndarray)):
            return np.ndarray.view(self, *args, **kwargs)
        # A reinterpretation (a boolean mask read as uint8): a new value of the program.
        return state.tracer.record(_view, "view", (self,) + args, kwargs)

    def __reduce__(self):
        return self.view(np.ndarray).__reduce__()

    def __repr__(self):
        return repr(self.view(np.ndarray))

    __str__ = __repr__


def _view(x, *args, **kwargs):
    return x.view(*args, **kwargs)


def _conversion(name: str, what: str):
    """A Python conversion (bool, float, ...) that a trace refuses on its own arrays."""
    convert = {"__bool__": bool, "__float__": float, "__int__": int, "__complex__": complex,
               "__index__": lambda a: a.__index__()}[name]

    def conversion(self):
        if self._owned():
            _refuse(what)
        return convert(self.view(np.ndarray))

    conversion.__name__ = name
    return conversion


for _name, _what in (("__bool__", "bool() (an if, while, and/or or assert)"), ("__float__", "float()"),
                     ("__int__", "int()"), ("__index__", "use as an index (operator.index)"),
                     ("__complex__", "complex()")):
    setattr(Traced, _name, _conversion(_name, _what))


def _getitem(x, index):
    return x[index]


def _setitem(x, index, value):
    x[index] = value


def _method(name):
    """An ndarray method that NumPy's protocols do not see (reshape, astype, ...), recorded as a call."""
    unbound = getattr(np.ndarray, name)

    def call_method(x, *args, **kwargs):
        # By name: at replay a full reduction may have given a NumPy scalar, which has the method too.
        return getattr(x, name)(*args, **kwargs)

    call_method.__name__ = name

    def method(self, *args, **kwargs):
        if not self._owned():
            return unbound(self.view(np.ndarray), *_unwrap(args), **_unwrap(kwargs))
        return state.tracer.record(call_method, name, (self,) + args, kwargs,
                                   mutated=(self,) if name == "fill" else (), returns_args=name == "fill")

    method.__name__ = name
    return method


for _name in ("reshape", "astype", "copy", "ravel", "flatten", "transpose", "squeeze", "swapaxes", "dot",
              "argmax", "argmin", "argsort", "cumsum", "cumprod", "nonzero", "round", "conj", "conjugate",
              "fill", "diagonal", "take", "repeat", "choose", "compress", "searchsorted", "trace", "sort",
              "partition", "put", "byteswap"):
    setattr(Traced, _name, _method(_name))
Traced.T = property(_method("transpose"))
Traced.real = property(lambda self: np.real(self))
Traced.imag = property(lambda self: np.imag(self))
del _name

# Functions of shapes and dtypes alone: computed while tracing, as Python values.
_STATIC = {np.shape, np.ndim, np.size, np.result_type, np.iscomplexobj, np.isrealobj, np.min_scalar_type,
           np.can_cast, np.broadcast_shapes}
_SHAPE_ONLY = {np.ones_like, np.zeros_like, np.empty_like, np.full_like}
_MUTATING = {np.copyto, np.put, np.place, np.putmask, np.fill_diagonal, np.put_along_axis}


class Tracer:
    """The equations of one call being traced, and the map from arrays to program variables."""

    def __init__(self):
        self.equations: list[Equation] = []
        self.vars: list[Var] = []
        self.phase = "forward"
        # Every traced array is kept alive while tracing, so its id and its memory are not reused
        # by another array and the two maps below stay right.
        self._alive: list = []
        self._by_memory: dict = {}
        self._tensor_of: dict = {}
        # Arrays made by the trace that no variable feeds (the shape-only prototypes): constants.
        self.constants: dict = {}
        # ids of arrays from outside the trace that it writes in place: never constants.
        self.mutated_ids: set = set()
        self._restored: set = set()
        self._traced_of: dict = {}
        # id(module) -> (module, the mode it had when the trace first read it), or None when the traced
        # function set the mode itself before reading it: the program's guards (read_mode).
        self.modes: dict = {}

    # --- variables ---------------------------------------------------------------------------
    def new_var(self, value) -> Traced:
        """A fresh program variable for ``value`` (an ndarray), returned as its Traced view."""
        value = np.asarray(value)
        var = Var(len(self.vars), value.shape, value.dtype)
        self.vars.append(var)
        traced = value.view(Traced)
        traced._var, traced._tracer = var, self
        self._alive.append(traced)
        self._traced_of[var.index] = traced
        self._by_memory[_memory_key(value)] = var
        return traced

    def note_tensor(self, tensor, data) -> None:
        """``data`` (not traced) is ``tensor``'s value (a Parameter's): a variable of the program that
        each replay reads from the tensor, so that NumPy work on it (a rule's ``W.T @ h``) is recorded."""
        if id(data) in self._tensor_of:
            return
        self._tensor_of[id(data)] = (data, tensor)
        if data.size == 0 or self._by_memory.get(_memory_key(data)) is not None:
            return  # nothing to read, or already a variable (a view of a traced value)
        traced = self.new_var(data)
        self.equations.append(Equation(_read_data, "read", (tensor,), {}, traced._var, False, (), self.phase, 0,
                                       None, []))

    def ref(self, x, inputs: list):
        """x as an equation argument: a Var for a traced value, containers walked, the rest as it is."""
        if isinstance(x, Traced):
            if x._tracer is self:
                inputs.append(x._var)
                return x._var
            x = x.view(np.ndarray)
        if type(x) is np.ndarray or isinstance(x, np.ndarray):
            var = self._by_memory.get(_memory_key(x)) if x.size else None
            if var is not None:
                # The same memory under another array object (np.asarray of a traced array).
                inputs.append(var)
                return var
            known = self._tensor_of.get(id(x))
            if known is not None and known[0] is x:
                return LiveData(known[1])
            return x
        kind = type(x)
        if kind is tuple or kind is list:
            return kind(self.ref(item, inputs) for item in x)
        if kind is dict:
            return {key: self.ref(value, inputs) for key, value in x.items()}
        if kind is slice:
            return slice(self.ref(x.start, inputs), self.ref(x.stop, inputs), self.ref(x.step, inputs))
        return x

    def wrap(self, value):
        """(The result of a recorded call with its arrays made program variables, its pattern: the
        Var of each array, nested as the result's tuples are, None for anything else)."""
        if isinstance(value, (np.ndarray, np.generic)):
            traced = self.new_var(value)
            return traced, traced._var
        if isinstance(value, (tuple, list)):
            pairs = [self.wrap(item) for item in value]
            items = [item for item, _ in pairs]
            if type(value) in (tuple, list):
                wrapped = type(value)(items)
            else:
                wrapped = type(value)(*items)  # a namedtuple
            return wrapped, tuple(pattern for _, pattern in pairs)
        return value, None

    def close(self) -> None:
        """Let go of the trace's arrays once its Program is built (or the trace failed).

        Each Traced array names its tracer and the tracer keeps every traced array: a reference cycle
        that reference counting never frees. Left to the cyclic collector, the whole traced call's
        working set (pooled blocks among it) outlived the call, the first replays took fresh blocks
        meanwhile, and the workspace pool kept both sets: cnn-28's compiled step held 23 MB more than
        eager mode's (benchmarks/peak_memory.py).
        """
        self._alive.clear()
        self._traced_of.clear()
        self._by_memory.clear()
        self._tensor_of.clear()

    # --- recording ---------------------------------------------------------------------------
    def record(self, fn, name, args, kwargs, *, mutated=(), returns_args=False, pure=True, op=None,
               flops=None, restore=True):
        """Run ``fn`` on the arguments' values and append the equation; return the traced result.

        ``mutated`` are the arguments written in place; ``returns_args`` says the call returns no
        new value (an in-place call), and ``out=`` given to a ufunc makes the result that argument.
        """
        inputs: list = []
        arg_refs = self.ref(tuple(args), inputs)
        kwarg_refs = self.ref(dict(kwargs), inputs)
        out_arg = kwargs.get("out")
        targets = list(mutated)
        if out_arg is not None:
            targets.extend(out_arg if isinstance(out_arg, tuple) else (out_arg,))
        mutates = tuple(ref for ref in self.ref(tuple(targets), []) if isinstance(ref, Var))
        for var in mutates:
            if var.shape == ():
                self._keep_array(var)
        for target in targets:
            if restore and isinstance(target, np.ndarray) and not isinstance(target, Traced) \
                    and self._by_memory.get(_memory_key(target)) is None:
                self._scratch(target)
        saved, state.tracer = state.tracer, None
        try:
            result = fn(*_unwrap(tuple(args)), **_unwrap(dict(kwargs)))
        finally:
            state.tracer = saved
        if returns_args or out_arg is not None:
            # In place: the program's variables are the arguments themselves.
            equation = Equation(fn, name, arg_refs, kwarg_refs, None, pure and not targets, mutates,
                                self.phase, 0, op, inputs)
            self.equations.append(equation)
            if out_arg is None:
                return result
            outs = out_arg if isinstance(out_arg, tuple) else (out_arg,)
            return outs[0] if len(outs) == 1 and not isinstance(result, tuple) else tuple(outs)
        wrapped, out_spec = self.wrap(result)
        if flops is None:
            flops = sum(int(np.prod(v.shape)) for v in _flat_vars(out_spec))
        self.equations.append(Equation(fn, name, arg_refs, kwarg_refs, out_spec, pure, mutates, self.phase,
                                       flops, op, inputs))
        return wrapped

    def _keep_array(self, var) -> None:
        """A 0-d value written in place (``ndarray.mean`` divides its sum with ``out=``): the trace made it
        an array, but a full reduction replayed gives a NumPy scalar, which ``out=`` refuses; so its
        defining call is replayed as giving an array."""
        for equation in reversed(self.equations):
            if var in equation.out_vars():
                if equation.op is None and not isinstance(equation.fn, _ArrayResult):
                    equation.fn = _ArrayResult(equation.fn)
                return

    def _scratch(self, target) -> None:
        """A plain array written in place by recorded NumPy calls: a scratch buffer of the program (a
        one-hot being filled), which each replay starts from the contents the trace found in it.
        State kept across steps is written through ``call`` instead, which does not restore it."""
        root = target
        while isinstance(root.base, np.ndarray):
            root = root.base
        self.mutated_ids.add(id(root))
        if id(target) in self._restored:
            return
        self._restored.add(id(target))
        self._alive.append(target)
        initial = np.array(target, copy=True)
        self.equations.append(Equation(np.copyto, "copyto", (target, initial), {}, None, False, (), self.phase,
                                       0, None, []))

    def op(self, cls, raw, settings, forward):
        """A primitive's forward (``op.py``'s ``_forward``), recorded as one equation."""
        # The rules will read these arguments again (the reverse pass): a plain view of a traced
        # value (np.asarray of it) is given back as the traced array, so their NumPy work is recorded.
        if isinstance(raw, list):
            for i, r in enumerate(raw):
                raw[i] = self._retraced(r)
        for key, value in settings.items():
            settings[key] = self._retraced(value)
        result = self.record(_op_forward(cls, forward), cls.name, raw, settings, op=cls)
        equation = self.equations[-1]
        out = result[0] if cls.keeps_residual else result
        try:
            equation.flops = int(cls.flops(_plain(out), *[_plain(r) for r in raw], **_unwrap(dict(settings))))
        except Exception:  # noqa: BLE001 - an op whose count needs more than its arrays keeps the element count
            pass
        return result

    def rule(self, op, args, settings):
        """An op's VJP rule on arrays (the first-order reverse pass), recorded as one equation."""
        return self.record(op.vjp, f"{op.name}_vjp", args, settings)

    def _retraced(self, x):
        if type(x) is np.ndarray and x.size:
            var = self._by_memory.get(_memory_key(x))
            if var is not None:
                return self._traced_of[var.index]
        return x

    def note_tensors(self, args) -> None:
        """The Tensors among an op's arguments whose values are not traced (parameters): see note_tensor."""
        for a in args:
            data = getattr(a, "_data", None)
            if data is not None and not isinstance(data, Traced) and isinstance(data, np.ndarray):
                self.note_tensor(a, data)


class _ArrayResult:
    """A call whose result is given as an ndarray (a NumPy scalar as 0-d), named as the call it wraps."""

    __slots__ = ("fn", "__name__")

    def __init__(self, fn):
        self.fn, self.__name__ = fn, getattr(fn, "__name__", type(fn).__name__)

    def __call__(self, *args, **kwargs):
        return np.asarray(self.fn(*args, **kwargs))


def _read_data(tensor):
    return tensor._data


def _op_forward(cls, forward):
    def run(*raw, **settings):
        return forward(cls, raw, settings)

    run.__name__ = cls.name
    return run


def _memory_key(x: np.ndarray) -> tuple:
    return (x.__array_interface__["data"][0], x.shape, x.strides, x.dtype.str)


# --- hooks for code outside the ops ---------------------------------------------------------------
def active() -> bool:
    """Whether a trace is being recorded now (``nablanet.jit``'s first call of a shape)."""
    return state.tracer is not None


def call(fn, *args, pure: bool = False, mutates=()):
    """``fn(*args)``; while tracing, recorded as one opaque equation that each replay calls again.

    For NumPy work that does not pass through the ops and touches arrays from outside the trace: an
    optimizer's in-place update, a layer's running statistics, a random draw. ``pure=False`` (the
    default) keeps the call from being constant-folded or dropped. A call that writes one of its
    array arguments in place names it in ``mutates`` (the arrays themselves).

    Example:
        >>> import numpy as np
        >>> call(np.add, np.ones(2), 1.0)
        array([2., 2.])
    """
    tracer = state.tracer
    if tracer is None:
        return fn(*args)
    name = getattr(fn, "__name__", type(fn).__name__)
    saved = tracer.phase
    tracer.phase = "update" if not pure else saved
    try:
        return tracer.record(fn, name, args, {}, mutated=mutates, pure=pure, restore=False)
    finally:
        tracer.phase = saved


def peek(x):
    """The value of ``x`` now, for a check that only raises on bad input (a label out of range).

    While tracing it is the traced call's value: the check holds for that call, and replays, which
    run no Python, do not repeat it. Anything else that reads a traced value in Python raises.
    """
    return x.view(np.ndarray) if isinstance(x, Traced) else x


def varies(x) -> bool:
    """Whether ``x`` is a value of the trace being recorded (an argument of the compiled function, or
    computed from one), which each replay may give anew: a shortcut taken on its value now (skipping
    a ``where`` when a mask has no True entry) would hold for the traced call only, so code that
    takes one checks this first and takes the general path when it holds.

    Example:
        >>> import numpy as np
        >>> varies(np.zeros(2))
        False
    """
    return isinstance(x, Traced) and x._owned()


def read_mode(module, mode: bool) -> bool:
    """``mode``, a module's ``training`` being read; while tracing, a guard of the program: a replay runs
    only while the module is in this mode again (a model traced in training mode, then switched to
    eval(), traces once more instead of replaying the training program)."""
    tracer = state.tracer
    if tracer is not None and id(module) not in tracer.modes:
        tracer.modes[id(module)] = (module, mode)
    return mode


def write_mode(module) -> None:
    """A module's ``training`` being set: while tracing, before any read, the traced function decides the
    mode itself, so no guard is kept for it."""
    tracer = state.tracer
    if tracer is not None and id(module) not in tracer.modes:
        tracer.modes[id(module)] = None


def as_python_number(x, kind):
    """A traced 0-d array that the traced function returns as a Python number of ``kind`` (float,
    complex): the program converts its value when it returns it, as eager mode does."""
    traced = np.ndarray.view(x, Traced)  # the same variable, marked
    traced._var, traced._tracer, traced._python = x._var, x._tracer, kind
    return traced


def _set_grads_none(params) -> None:
    for p in params:
        p.grad = None


def clear_grads(params) -> None:
    """Set every parameter's ``grad`` to None (zero_grad), as a recorded step while tracing."""
    params = list(params)
    if state.tracer is None:
        _set_grads_none(params)
    else:
        call(_set_grads_none, params)
