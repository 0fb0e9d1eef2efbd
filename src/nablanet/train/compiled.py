"""fit's ``compile=``: the minibatch step traced by nablanet.jit and replayed, and when fit does so.

A trace runs the step's Python code once and records the array operations it made; each replay runs
those operations alone. So a replay computes what eager mode would exactly when the step's Python code
does the same thing every step. ``compile="auto"`` (fit's default) compiles the step when fit knows
that, and runs it eagerly otherwise:

1. Every piece of Python code run inside the step is nablanet's own: the model's modules are
   nablanet's layers (and containers of them; a subclass of yours may add an ``__init__``, which runs
   before fit), with no forward hook and no function of yours among their settings (an activation
   given as a function), and the loss is nablanet's (a name, or a registered function of the
   library). Code of yours may keep Python state (a counter, a flag a callback sets, a branch on the
   epoch): a trace would freeze it at its first step, and fit cannot tell, so such a step runs eagerly.
   ``jax.jit`` and Keras' compiled ``train_step`` trace your code and leave that caveat to you (Python
   side effects run at trace time only); ``compile=True`` does the same here.
2. The step is a minibatch step on arrays: not L-BFGS' ``step(closure)`` (its line search is Python),
   not across MPI ranks, inputs and targets arrays (or tuples and dicts of arrays).
3. The trace succeeds. If it raises (a ``TracingError`` for a Python use of a computed value, naming
   its line, or any error eager mode does not raise), fit puts back what the attempt changed (weights,
   buffers, the layers' random generators), warns once and runs every step of the call eagerly.

Within a compiled fit the program is the cost and backward pass, taking each batch (and its sample
weights) as arguments. The loss it returns is checked every step, the L1/L2 penalty, the snapshot
for the divergence guard and the optimizer's update run after it as in eager mode, so the weights and
losses are eager mode's (to rounding: the same operations in the same order). A batch of another
shape than the first traced (the last, partial one) runs eagerly until its eager steps have cost as
much time as that trace, then is traced and replayed (a trace costs several eager steps, a replay saves
a fraction of one). A parameter whose ``requires_grad`` a callback switched traces anew; so does a
module switched by ``train()``/``eval()`` (nablanet.jit's guard) and, when a callback of the user's
runs, a module whose attributes it changed (a Dropout's ``p``): up to 8 versions of the model, then
the step runs eagerly with a warning. Forward hooks are looked for at the first step, after the
callbacks' ``on_train_begin``. The model's structure is otherwise fixed during fit, compiled or not.

``compile=True`` compiles whenever point 2 holds, code of yours included; a failed trace raises, and
a step that cannot compile (point 2) runs eagerly with a warning. ``compile=False`` runs every step
eagerly.
"""

from __future__ import annotations

import math
import os
import sys
import time
import types
import warnings

import numpy as np

from nablanet.autodiff.jit import TracingError, jit
from nablanet.autodiff.tree import tree_flatten
from nablanet.train.divergence import check_finite
from nablanet.train.outputs import _WeightedLosses

__all__ = ["CompiledStep", "check_compile", "foreign_code"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def check_compile(compile):
    """fit's ``compile``, checked: True, False or "auto"."""
    if compile is True or compile is False or (isinstance(compile, str) and compile == "auto"):
        return compile
    raise ValueError(f"compile must be True, False or 'auto', got {compile!r}")


class CompiledStep:
    """A fit step (loop._Step) whose cost and backward pass run as one traced program when the module
    docstring's rules allow; then, as in eager mode, the loss is checked, the penalty added, the weights
    saved for fit's divergence guard and the optimizer updates them.

    Args:
        step: the eager step.
        mode: fit's ``compile``, True or "auto".

    Attributes:
        eager_reason: why every step runs eagerly (None while steps compile).
    """

    def __init__(self, step, mode, callbacks=()):
        self.step = step
        self.forced = mode is True
        self._programs: dict = {}
        self._traced: set = set()
        self._warned = False
        # The shapes of the first batch traced (the usual batches'), that trace's time and the eager time
        # spent on batches of each other shape.
        self._main, self._trace_seconds = None, math.inf
        self._eager_seconds: dict = {}
        self._modules = _modules(step.model)
        # Only code of the user's changes a module's settings between steps (nablanet's callbacks change
        # weights, which replays read): with such a callback each step compares the settings to the trace's.
        self._watch = any(_foreign_instance(callback, "a callback") for callback in callbacks)
        # Whose code runs in the step is judged at the first step, after the callbacks' on_train_begin (a
        # monitor registers its forward hooks there).
        self.eager_reason = _ineligible(step)
        if self.eager_reason is not None and self.forced:
            self._warn(self.eager_reason)

    def __getattr__(self, name):
        return getattr(self.step, name)

    @property
    def traces(self) -> int:
        """How many times the step has been traced (one per batch shape and set of trainable parameters)."""
        return sum(program.traces for program in self._programs.values())

    def _run(self, X_batch, y_batch, w_batch):
        step = self.step
        data_loss, predictions = step._cost(X_batch, y_batch, w_batch)
        step._backward(data_loss, 0.0)
        return data_loss, predictions

    def __call__(self, X_batch, y_batch, global_rows=None, w_batch=None):
        step = self.step
        if self.eager_reason is not None:
            return step(X_batch, y_batch, global_rows, w_batch)
        structure = tuple([p.requires_grad for p in step.parameters])
        if self._watch:
            structure = (structure, _settings(self._modules))
        program = self._programs.get(structure)
        if program is None:
            program = self._new_program(structure)
            if program is None:
                return step(X_batch, y_batch, global_rows, w_batch)
        shapes = _shapes(X_batch, y_batch, w_batch)
        if shapes is None:
            self._give_up(f"its inputs or targets are not arrays (got {type(X_batch).__name__})")
            return step(X_batch, y_batch, global_rows, w_batch)
        key = (structure, shapes)
        if key in self._traced:
            data_loss, predictions = program(X_batch, y_batch, w_batch)
        elif self._main is not None and shapes != self._main and \
                self._eager_seconds.get(shapes, 0.0) < self._trace_seconds:
            # A shape besides the usual batches' (the last, partial batch) runs eagerly until its eager steps
            # have cost as much as a trace: a trace costs several eager steps (4.6 ms against 0.6 ms on
            # mlp-small's model), which a replay saves back only a fraction of each epoch (0.37 ms against 0.65).
            start = _clock()
            result = step(X_batch, y_batch, global_rows, w_batch)
            self._eager_seconds[shapes] = self._eager_seconds.get(shapes, 0.0) + _clock() - start
            return result
        else:
            attempt = _Attempt(step)
            start = _clock()
            try:
                data_loss, predictions = program(X_batch, y_batch, w_batch)
            except Exception as error:
                if self.forced:
                    raise
                attempt.undo()
                result = step(X_batch, y_batch, global_rows, w_batch)  # eager's own error, if it has one, propagates
                self._give_up(f"its trace failed (compile=False skips the attempt, compile=True raises the error): "
                              f"{_described(error)}")
                return result
            if self._main is None:
                self._main, self._trace_seconds = shapes, _clock() - start
            self._traced.add(key)
        data_loss_value = float(data_loss.data)
        penalty_value, penalty_scale = step._penalty(X_batch, None, w_batch)
        check_finite(data_loss_value + penalty_value)
        if step.weight_penalty:
            step.weight_penalty.add_gradient(penalty_scale)
        step.snapshot.save()
        step.optimizer.step()
        return data_loss_value, penalty_value, step._kept(predictions)

    def _new_program(self, structure):
        """A compiled step for the model's parameters and settings as they are now (None: run eagerly)."""
        if not self.forced:
            # The first step, or a callback changed the model's settings (or made a parameter trainable or
            # frozen): code of the user's may have come with it.
            reason = foreign_code(self.step.model, self.step.loss_fn)
            if reason is None and len(self._programs) >= _MOST_STRUCTURES:
                reason = (f"the model's settings or trainable parameters changed {_MOST_STRUCTURES} times during "
                          "fit (by a callback), and each change traces the step again")
            if reason is not None:
                self.eager_reason = reason
                if self._programs:  # the model changed during fit: said once; eager from the start needs no word
                    self._warn(reason)
                return None
        program = self._programs[structure] = jit(self._run)
        return program

    def _give_up(self, reason: str) -> None:
        self.eager_reason = reason
        self._warn(reason)

    def _warn(self, reason: str) -> None:
        if not self._warned:
            self._warned = True
            asked = "compile=True" if self.forced else "compile='auto'"
            warnings.warn(f"fit({asked}): the training step runs eagerly, since {reason}", RuntimeWarning,
                          stacklevel=_stacklevel())


class _Attempt:
    """What a first, tracing call of the step may change before it fails: the weights and buffers (the
    step's snapshot) and the state of the random generators the model's modules draw from."""

    def __init__(self, step):
        self.step = step
        step.snapshot.save()
        self.generators = [(g, g.bit_generator.state) for g in _generators(step.model)]

    def undo(self) -> None:
        self.step.snapshot.restore()
        for generator, saved in self.generators:
            generator.bit_generator.state = saved
        for parameter in self.step.parameters:
            parameter.grad = None


_clock = time.perf_counter

# How many versions of the model (settings a callback changed) compile="auto" traces before it runs eagerly.
_MOST_STRUCTURES = 8
_PLAIN = (int, float, str, bool, type(None))


def _settings(modules) -> tuple:
    """The modules' attributes: plain values as they are, the rest by identity (a list's items too): what a
    trace may have read as constants (a Dropout's p, an activation, the layers of a Sequential)."""
    values = []
    for module in modules:
        for value in module.__dict__.values():
            kind = type(value)
            if kind in _PLAIN:
                values.append(value)
            elif kind is list or kind is tuple:
                values.append(tuple(map(id, value)))
            else:
                values.append(id(value))
    return tuple(values)


def _modules(model) -> list:
    return list(model.modules()) if hasattr(model, "modules") else []


def _ineligible(step) -> str | None:
    if step.takes_closure:
        return f"{type(step.optimizer).__name__} steps with a closure (its line search is Python)"
    if step.parallel.collective:
        return "distributed='mpi' all-reduces the gradients between the forward and the update"
    return None


def _shapes(X_batch, y_batch, w_batch):
    """The data's part of what a trace is specialised to (the shapes and dtypes): None for non-array data."""
    if type(X_batch) is np.ndarray and type(y_batch) is np.ndarray:
        key = (X_batch.shape, X_batch.dtype, y_batch.shape, y_batch.dtype)
        return key if w_batch is None else key + (w_batch.shape, w_batch.dtype)
    leaves, structure = tree_flatten((X_batch, y_batch, w_batch))
    if not all(isinstance(leaf, np.ndarray) or leaf is None for leaf in leaves):
        return None
    return (structure,) + tuple((leaf.shape, leaf.dtype) for leaf in leaves if leaf is not None)


def _described(error: BaseException) -> str:
    """The error, with the innermost line outside nablanet.jit and NumPy that raised it (a TracingError names
    the user's line itself)."""
    if isinstance(error, TracingError):
        return f"TracingError: {error}"
    where = ""
    frames = []
    traceback = error.__traceback__
    while traceback is not None:
        frames.append(traceback.tb_frame.f_code.co_filename + ":" + str(traceback.tb_lineno))
        traceback = traceback.tb_next
    jit_dir = os.path.join(_PACKAGE_DIR, "autodiff", "jit")
    outside = [frame for frame in frames if not frame.startswith((jit_dir, os.path.dirname(np.__file__)))]
    if outside and outside[-1] not in str(error):
        where = f" (raised at {outside[-1]})"
    return f"{type(error).__name__}: {error}{where}"


# --- whose code runs inside the step ---------------------------------------------------------------

def foreign_code(model, loss_fn) -> str | None:
    """What Python code of the step is not nablanet's own, described for a message (None: all of it is)."""
    found = _foreign_class(type(model), "the model")
    if found:
        return found
    for module in _modules(model):
        if module.__dict__.get("_forward_hooks"):
            return (f"a {type(module).__name__} has a forward hook (Python code that runs inside the step, at every "
                    "call)")
        found = _foreign_instance(module, type(module).__name__)
        if found:
            return found
    losses = [head.loss_fn for head in loss_fn.heads] if isinstance(loss_fn, _WeightedLosses) else [loss_fn]
    for loss in losses:
        found = _foreign_value(loss, "the loss")
        if found:
            return found
    return None


def _foreign_instance(instance, what: str) -> str | None:
    """Code of the user's in ``instance``'s class or among its attributes' functions (None: there is none)."""
    found = _foreign_class(type(instance), what)
    for attribute, value in vars(instance).items():
        if found:
            break
        if attribute != "_arguments":  # a module's constructor arguments: what forward uses is kept elsewhere too
            found = _foreign_value(value, f"{what}.{attribute}")
    return found


def _foreign_class(cls, what: str) -> str | None:
    """A method (other than ``__init__``, which runs before fit) that a class of cls's MRO defined outside nablanet."""
    for klass in cls.__mro__:
        if klass is object:
            continue
        for name, attribute in vars(klass).items():
            if name == "__init__" or name == "__init_subclass__":
                continue
            if isinstance(attribute, (staticmethod, classmethod)):
                attribute = attribute.__func__
            elif isinstance(attribute, property):
                attribute = attribute.fget
            if isinstance(attribute, types.FunctionType) and not _ours(attribute):
                return (f"{what} ({cls.__name__}) runs code of yours ({klass.__name__}.{name}, "
                        f"{attribute.__code__.co_filename}:{attribute.__code__.co_firstlineno})")
    return None


def _foreign_value(value, what: str, depth: int = 2) -> str | None:
    """The function of the user's among ``value`` (a function, a partial, a callable object, or a list,
    tuple or dict of them), described; None if there is none."""
    if isinstance(value, types.FunctionType):
        if _ours(value):
            return None
        code = value.__code__
        return f"{what} is a function of yours ({value.__qualname__}, {code.co_filename}:{code.co_firstlineno})"
    if isinstance(value, types.MethodType):
        return _foreign_value(value.__func__, what, depth)
    if depth and isinstance(value, (list, tuple)):
        return next(filter(None, (_foreign_value(item, what, depth - 1) for item in value)), None)
    if depth and isinstance(value, dict):
        return next(filter(None, (_foreign_value(item, what, depth - 1) for item in value.values())), None)
    func = getattr(value, "func", None)
    if func is not None and callable(func):  # functools.partial
        return _foreign_value(func, what, depth) or _foreign_value(list(value.args), what, depth)
    if callable(value) and not isinstance(value, type) and not _compiled_callable(value):
        return _foreign_class(type(value), what)
    return None


def _compiled_callable(value) -> bool:
    """A callable written in C (a NumPy ufunc, a builtin): no Python state of the user's to freeze."""
    return isinstance(value, (np.ufunc, types.BuiltinFunctionType, types.BuiltinMethodType))


def _ours(function) -> bool:
    return function.__code__.co_filename.startswith(_PACKAGE_DIR)


def _stacklevel() -> int:
    """The stacklevel of the caller's line outside nablanet (fit's call), for warnings.warn called here."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level


def _generators(model) -> list:
    return [value for module in _modules(model) for value in vars(module).values()
            if isinstance(value, np.random.Generator)]
