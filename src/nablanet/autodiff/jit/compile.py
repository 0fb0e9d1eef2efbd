"""nablanet.jit: trace a function once per input signature into a Program, then replay it."""

from __future__ import annotations

import functools

import numpy as np

from nablanet.autodiff import state
from nablanet.autodiff.jit.program import Program
from nablanet.autodiff.jit.tracing import Traced, Tracer
from nablanet.autodiff.tensor import Tensor, new_tensor
from nablanet.autodiff.tree import tree_flatten, tree_unflatten

__all__ = ["jit", "make_program", "Compiled"]


def _static_key(leaf):
    try:
        hash(leaf)
    except TypeError:
        return ("id", id(leaf))
    return ("value", type(leaf), leaf)


def _signature(leaves, tree) -> tuple:
    """What a program is specialised to: each array argument's shape and dtype, each Tensor argument
    (read by reference) and every other argument's value, the arguments' structure, grad mode."""
    key = [tree, state.grad_enabled]
    for leaf in leaves:
        if isinstance(leaf, np.ndarray):
            key.append(("array", leaf.shape, leaf.dtype.str))
        elif isinstance(leaf, Tensor):
            key.append(("tensor", id(leaf), leaf.shape, leaf.dtype.str))
        else:
            key.append(_static_key(leaf))
    return tuple(key)


_PLAIN = (float, int, bool, str, type(None))


def _fast_key(args):
    """The signature of positional arguments that are all exact ndarrays or plain Python values,
    computed without flattening (None for anything else: containers, Tensors, subclasses)."""
    key = [state.grad_enabled]
    for a in args:
        kind = type(a)
        if kind is np.ndarray:
            key.append((a.shape, a.dtype))
        elif kind in _PLAIN:
            key.append((kind, a))
        else:
            return None
    return tuple(key)


def _trace(f, args, kwargs):
    """Run f once on traced arrays: (its result, as eager mode gives it; the Program)."""
    tracer = Tracer()
    try:
        return _record(tracer, f, args, kwargs)
    finally:
        tracer.close()


def _record(tracer, f, args, kwargs):
    """_trace's work, recorded by ``tracer``."""
    leaves, tree = tree_flatten((tuple(args), dict(kwargs)))
    traced_leaves, inputs = [], []
    for leaf in leaves:
        if isinstance(leaf, np.ndarray):
            traced = tracer.new_var(leaf)
            inputs.append(traced._var)
            traced_leaves.append(traced)
        else:
            if isinstance(leaf, Tensor):
                tracer.note_tensor(leaf, leaf._data)
            traced_leaves.append(leaf)
    traced_args, traced_kwargs = tree_unflatten(tree, traced_leaves)
    saved, state.tracer = state.tracer, tracer
    try:
        out = f(*traced_args, **traced_kwargs)
    finally:
        state.tracer = saved
    out_leaves, out_tree = tree_flatten(out)
    spec, eager = [], []
    for leaf in out_leaves:
        data = leaf._data if isinstance(leaf, Tensor) else leaf
        var = None
        if isinstance(data, np.ndarray):
            found = []
            ref = tracer.ref(data, found)
            var = ref if found else None
        if var is not None and isinstance(leaf, Traced) and leaf._python is not None:
            spec.append((leaf._python, var))
            eager.append(leaf._python(leaf.view(np.ndarray)))
        elif var is not None:
            spec.append(("tensor" if isinstance(leaf, Tensor) else "array", var))
            plain = data.view(np.ndarray)
            eager.append(new_tensor(plain) if isinstance(leaf, Tensor) else plain)
        else:
            spec.append(("const", leaf))
            eager.append(leaf)
    program = Program(tracer, inputs, spec, out_tree, tree)
    return tree_unflatten(out_tree, eager), program


class Compiled:
    """A function compiled by ``jit``: one Program per input signature, traced on first use.

    Attributes:
        fn: the function.
        traces: how many times it has been traced (one per new signature).
    """

    def __init__(self, fn):
        self.fn = fn
        self.traces = 0
        self._programs: dict = {}
        self._fast: dict = {}
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        if state.tracer is not None or state.batch_depth or state.jvp_levels or state.transform_depth:
            # Inside another trace or transform: the function's ops belong to that computation.
            return self.fn(*args, **kwargs)
        fast_key = None if kwargs else _fast_key(args)
        if fast_key is not None:
            program = self._fast.get(fast_key)
            if program is not None and program.holds():
                # Arguments that are arrays and plain Python values: their own leaves, in order.
                return program.unflatten(program.run([a for a in args if type(a) is np.ndarray]))
        leaves, tree = tree_flatten((tuple(args), dict(kwargs)))
        key = _signature(leaves, tree)
        program = self._holding(key)
        if program is None:
            result, program = _trace(self.fn, args, kwargs)
            self.traces += 1
            self._programs.setdefault(key, []).append(program)
            if fast_key is not None:
                self._fast[fast_key] = program
            return result
        if fast_key is not None:
            self._fast[fast_key] = program
        outputs = program.run([leaf for leaf in leaves if isinstance(leaf, np.ndarray)])
        return program.unflatten(outputs)

    def _holding(self, key):
        """The program of this signature whose modules are in the modes it was traced in (None: none is)."""
        return next((program for program in self._programs.get(key, ()) if program.holds()), None)

    def program(self, *args, **kwargs) -> Program:
        """The Program these arguments run (traced now, running the function once, if new)."""
        leaves, tree = tree_flatten((tuple(args), dict(kwargs)))
        key = _signature(leaves, tree)
        if self._holding(key) is None:
            self(*args, **kwargs)
        return self._holding(key)


def jit(fn) -> Compiled:
    """Compile ``fn``: its first call with given shapes traces it into a flat Program, later calls replay it.

    The traced call runs as eager mode does (its result is returned, its side effects happen); each
    later call with arrays of the same shapes and dtypes (and the same other arguments) runs the
    program instead: the primitives' NumPy forwards, in order, with no Tensor and no graph. A
    training step traces whole, forward, backward and the optimizer's update, and mutates the model
    exactly as eager mode does: parameters are read at each replay and updated in place.

    Array arguments are the program's inputs; Tensors passed or closed over are read by reference;
    any other argument is a constant of the program (a new value traces again), and so is the mode
    (``training``) of each module the trace read: switched by ``train()``/``eval()``, the function
    traces again (and keeps both programs). Python use of a
    traced value (``if`` on it, ``float()``) raises ``TracingError`` naming the line.

    Args:
        fn: a function of arrays (and pytrees of them) returning arrays, Tensors or pytrees of them.

    Returns:
        A ``Compiled`` callable.

    Example:
        >>> import numpy as np
        >>> import nablanet
        >>> from nablanet import numpy as nnp
        >>> df = nablanet.jit(nablanet.grad(lambda x: nnp.sum(nnp.tanh(x) ** 2)))
        >>> x = np.array([0.5, -1.0])
        >>> bool(np.allclose(df(x), df(x)))
        True
    """
    return Compiled(fn)


def make_program(fn, *args, **kwargs) -> Program:
    """The Program that ``jit(fn)`` runs for these arguments (tracing runs ``fn`` once).

    Example:
        >>> import numpy as np
        >>> import nablanet
        >>> from nablanet import numpy as nnp
        >>> def f(x):  # the notes' f(x) = sqrt(x^2 + exp(x^2)), a = x^2 computed once
        ...     a = x ** 2
        ...     return nnp.sqrt(a + nnp.exp(a))
        >>> print(nablanet.make_program(f, np.array([1.0, 2.0])))
        { lambda x:f64[2] .
          t1:f64[2] = square x
          a1:f64[2] = exp t1
          t2:f64[2] = add t1 a1
          t3:f64[2] = sqrt t2
          in (t3) }
    """
    result, program = _trace(fn, args, kwargs)
    return program
