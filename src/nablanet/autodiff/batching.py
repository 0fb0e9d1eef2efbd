"""vmap: the batching transform, its traced values, and the batching rules shared by families of ops.

``vmap(f)(xs)`` equals stacking ``f(x)`` over the rows of xs, computed in one pass over the batch.
Inside, each batched argument is a ``BatchTracer``: the whole batch of one array (batch on axis 0)
that presents itself to the function as one example (its ``shape`` is an example's). Every op
applied to a tracer runs its batching rule (``Op.batch``) on the whole batch: elementwise ops align
the batch with the other operands, reductions and softmax shift their axes past it, matmul and the
dense layer fold it into their leading dimensions. An op without a rule runs once per example and
the results are stacked: slower, never wrong. The reverse and forward rules of the ops run on
tracers too (that is how ``vmap(grad(f))`` gives per-example gradients in one pass); a rule that
needs an example's values as NumPy data (a mask built in place, a Python ``if``) raises
``BatchingUnsupported``, and that rule, or failing that the whole function, is run per example.
Nested vmaps give every call its own level, so tracers of different calls never mix.
"""

from __future__ import annotations

import functools
import inspect
import itertools

import numpy as np

from nablanet.autodiff import state
from nablanet.autodiff.tensor import ArrayMethods, Tensor
from nablanet.autodiff.tree import tree_flatten, tree_unflatten

__all__ = ["vmap", "BatchTracer", "BatchingUnsupported"]

_levels = itertools.count(1)


class BatchingUnsupported(AttributeError):
    """A batched value was used where only one example's NumPy data will do.

    Caught by vmap, which then runs the piece that raised (an op's rule, or the whole function) once
    per example. An AttributeError so that ``hasattr`` and ``getattr(..., default)`` read a missing
    attribute of a tracer as missing.
    """


class BatchTracer(ArrayMethods):
    """The batch of one value inside a vmap: ``value`` holds every example, the batch on axis 0.

    To the function being batched it looks like one example: ``shape``, ``ndim``, ``size`` and
    ``dtype`` are an example's, operators and NumPy calls reach nablanet's ops. ``value`` may itself
    be a Tensor (vmap inside grad) or an outer tracer (nested vmap).
    """

    __slots__ = ("value", "level", "length")
    # Above Tensor's 1000: in ndarray * tracer and Tensor * tracer, the tracer's operators run.
    __array_priority__ = 2000

    def __init__(self, value, level: int, length: int):
        self.value = value
        self.level = level
        self.length = length

    # --- one example's description ----------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return tuple(np.shape(self.value)[1:])

    @property
    def ndim(self) -> int:
        return np.ndim(self.value) - 1

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def dtype(self) -> np.dtype:
        return self.value.dtype

    @property
    def _data(self):
        # The engine reads an operand's array as x._data: a tracer stands for its own data.
        return self

    def __lt__(self, other):
        return np.less(self, other)

    def __le__(self, other):
        return np.less_equal(self, other)

    def __gt__(self, other):
        return np.greater(self, other)

    def __ge__(self, other):
        return np.greater_equal(self, other)

    def __eq__(self, other):
        return np.equal(self, other)

    def __ne__(self, other):
        return np.not_equal(self, other)

    __hash__ = object.__hash__

    def __repr__(self):
        return f"BatchTracer(level={self.level}, batch of {self.length}, example shape {self.shape})"

    def __getattr__(self, name):
        raise BatchingUnsupported(f"vmap: a batched value has no attribute {name!r} here")

    # --- what needs one example's data ------------------------------------------------------------
    def _unsupported(self, what):
        raise BatchingUnsupported(f"vmap: {what} of a batched value needs one example's data")

    def __array__(self, dtype=None, copy=None):
        self._unsupported("conversion to a NumPy array")

    def __bool__(self):
        self._unsupported("bool()")

    def __float__(self):
        self._unsupported("float()")

    def __int__(self):
        self._unsupported("int()")

    def __index__(self):
        self._unsupported("use as an index")

    def item(self):
        self._unsupported(".item()")

    def tolist(self):
        self._unsupported(".tolist()")

    # --- NumPy's protocols ---------------------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from nablanet.autodiff.numpy_protocol import _differentiable_tables

        if method == "__call__" and not kwargs:
            differentiable = _differentiable_tables()[0]
            if ufunc in differentiable:
                return differentiable[ufunc](*inputs)
            # No derivative (comparisons, floor, isnan ...): the ufunc on the aligned batch.
            return _elementwise_values(ufunc, inputs)
        self._unsupported(f"numpy.{ufunc.__name__} with method {method!r} or keywords {sorted(kwargs)}")

    def __array_function__(self, func, types, args, kwargs):
        from nablanet.autodiff.numpy_protocol import _differentiable_tables

        if func in _DESCRIPTIVE:
            return func(*[_describe(a) for a in args], **kwargs)
        if func in _EXAMPLE_CONSTANTS:
            like = args[0]
            rest = args[1:]
            dtype = kwargs.pop("dtype", None) or like.dtype
            shape = kwargs.pop("shape", None) or like.shape
            return _EXAMPLE_CONSTANTS[func](shape, *rest, dtype=dtype, **kwargs)
        differentiable = _differentiable_tables()[1]
        if func in differentiable and func not in _dispatching:
            # Our function may call NumPy's on an example's raw value to find, say, an order; met
            # again here, that call needs the example's data.
            _dispatching.add(func)
            try:
                return differentiable[func](*args, **kwargs)
            finally:
                _dispatching.discard(func)
        self._unsupported(f"numpy.{func.__name__}")


# NumPy functions a tracer has dispatched to nablanet's and that are still running.
_dispatching: set = set()


def _ops():
    from nablanet.autodiff import ops

    return ops


def _describe(a):
    return np.zeros(a.shape, dtype=a.dtype) if isinstance(a, BatchTracer) else a


_DESCRIPTIVE = {np.shape, np.ndim, np.size, np.result_type, np.iscomplexobj, np.isrealobj}
_EXAMPLE_CONSTANTS = {
    np.zeros_like: lambda shape, dtype, **kw: np.zeros(shape, dtype=dtype),
    np.ones_like: lambda shape, dtype, **kw: np.ones(shape, dtype=dtype),
    np.empty_like: lambda shape, dtype, **kw: np.zeros(shape, dtype=dtype),
    np.full_like: lambda shape, fill_value, dtype, **kw: np.full(shape, fill_value, dtype=dtype),
}


# --- the batch path of Op.apply -------------------------------------------------------------------------

def _elementwise_values(ufunc, inputs):
    """A NumPy ufunc without a derivative (a comparison, isnan) on the aligned batch."""
    level, length = _top_level(inputs)
    values, batched = zip(*(_unwrap(x, level) for x in inputs))
    ndim = max(example_ndim(v, b) for v, b in zip(values, batched))
    return BatchTracer(ufunc(*[align(v, b, ndim) for v, b in zip(values, batched)]), level, length)


def has_tracer(raw, settings) -> bool:
    for r in raw:
        if type(r) is BatchTracer:
            return True
    for v in settings.values():
        if type(v) is BatchTracer:
            return True
    return False


def outranks_tensors(args, settings) -> bool:
    """True when the op's batched values belong to a vmap inside every transform its Tensors belong to.

    Then the batch must wrap the Tensors (JAX's order: the inner transform's value holds the outer's),
    so the Tensors' graph records whole batches and an outer grad sees them. A Tensor of a transform
    begun inside that vmap (its leaves under vmap(grad(f))) wraps the batch instead.
    """
    level = _top_level(itertools.chain(args, settings.values()))[0]
    if not level:
        return False
    outer = False
    for a in args:
        if isinstance(a, Tensor) and (a._requires_grad or a._tangents):
            data = a._data
            if a._level >= level or (type(data) is BatchTracer and data.level >= level):
                return False
            outer = True
    # Tensors that carry no derivative are plain values, whichever wraps them.
    return outer


def is_outer(tensor, level) -> bool:
    """Whether a Tensor that carries a derivative belongs to a transform begun outside vmap ``level``."""
    if not (tensor._requires_grad or tensor._tangents):
        return False
    data = tensor._data
    return tensor._level < level and not (type(data) is BatchTracer and data.level >= level)


def tensor_level_split(args, settings) -> int:
    """The level of the batch an op meets when its Tensors belong both to transforms inside that vmap
    and outside it (a derivative taken inside vmap of a function closing over outer weights), else 0."""
    level = _top_level(itertools.chain(args, settings.values(),
                                       (a._data for a in args if isinstance(a, Tensor))))[0]
    if not level:
        return 0
    inner = outer = False
    for a in args:
        if isinstance(a, Tensor):
            if is_outer(a, level):
                outer = True
            elif a._level >= level or (type(a._data) is BatchTracer and a._data.level >= level):
                inner = True
    return level if inner and outer else 0


def _top_level(items) -> tuple[int, int]:
    """(the highest level among the tracers in items, its batch length)."""
    level = length = 0
    for item in items:
        if type(item) is BatchTracer and item.level > level:
            level, length = item.level, item.length
    return level, length


def _unwrap(item, level):
    """(the batch value of a tracer of this level, True), or (item, False)."""
    if type(item) is BatchTracer and item.level == level:
        return item.value, True
    return item, False


def apply_batched(cls, raw, settings):
    """An op on inputs (and settings) some of which are tracers: its batching rule, else per example.

    Returns what ``cls.forward`` returns, batched: a tracer (and a batched residual for ops that
    keep one).
    """
    level, length = _top_level(itertools.chain(raw, settings.values()))
    values, batched = zip(*(_unwrap(r, level) for r in raw)) if raw else ((), ())
    unwrapped = {k: _unwrap(v, level) for k, v in settings.items()}
    plain_settings = {k: v for k, (v, _) in unwrapped.items()}
    batched_settings = frozenset(k for k, (_, b) in unwrapped.items() if b)
    rule = cls.batch
    if rule is not None:
        try:
            out = rule(cls, *values, batched=batched, batched_settings=batched_settings, **plain_settings)
        except BatchingUnsupported:
            out = None
        if out is not None:
            if cls.keeps_residual:
                out, residual = out
                return BatchTracer(out, level, length), _wrap_tree(residual, level, length)
            return BatchTracer(out, level, length)
    return _per_example(cls, values, batched, plain_settings, batched_settings, level, length)


def call_op(cls, values, settings):
    """Apply an op inside a batching rule: recorded on Tensors, computed on arrays and outer tracers.

    Returns what ``forward`` returns (with a residual for ops that keep one, None on Tensors, whose
    own node keeps it).
    """
    if any(isinstance(v, Tensor) for v in values):
        out = cls.apply(*values, **settings)
        return (out, None) if cls.keeps_residual else out
    from nablanet.autodiff.op import _forward

    return _forward(cls, list(values), settings)


def _example(item, b):
    """Example b of a batch value (the value of a tracer of the level being looped over)."""
    if isinstance(item, np.ndarray):
        return item[b]
    return _ops().getitem(item, b)


def _stack(items):
    shapes = {tuple(np.shape(i._data if isinstance(i, Tensor) else i)) for i in items}
    if len(shapes) > 1:
        raise ValueError(f"vmap: the examples give results of different shapes {sorted(shapes)} (a boolean mask "
                         "or another data-dependent shape), which cannot be stacked into one batch")
    # Tensors that carry no derivative (the results of a transform run per example) stack as arrays.
    items = [i._data if isinstance(i, Tensor) and not (i._requires_grad or i._tangents) else i for i in items]
    if all(isinstance(i, np.ndarray) or np.isscalar(i) for i in items):
        return np.stack(items)
    return _ops().stack(items)


def _wrap_tree(tree, level, length):
    leaves, structure = tree_flatten(tree)
    return tree_unflatten(structure, [BatchTracer(leaf, level, length) if _is_array_like(leaf) else leaf
                                      for leaf in leaves])


def _is_array_like(x) -> bool:
    return isinstance(x, (np.ndarray, Tensor, BatchTracer))


def _per_example(cls, values, batched, settings, batched_settings, level, length):
    """The op applied to each example in turn, the outputs (and residuals) stacked."""
    outs = []
    residuals = []
    for b in range(length):
        example_values = [_example(v, b) if is_batched else v for v, is_batched in zip(values, batched)]
        example_settings = {k: (_example(v, b) if k in batched_settings else v) for k, v in settings.items()}
        result = call_op(cls, example_values, example_settings)
        if cls.keeps_residual:
            result, residual = result
            residuals.append(residual)
        outs.append(result)
    out = BatchTracer(_stack(outs), level, length)
    if not cls.keeps_residual:
        return out
    return out, _stack_trees(residuals, level, length)


def _stack_trees(trees, level, length):
    if trees and trees[0] is None:
        return None
    structures = [tree_flatten(t)[1] for t in trees]
    leaves = [tree_flatten(t)[0] for t in trees]
    stacked = []
    for position in range(len(leaves[0])):
        column = [leaf[position] for leaf in leaves]
        if _is_array_like(column[0]):
            stacked.append(BatchTracer(_stack(column), level, length))
        else:
            stacked.append(column[0])
    return tree_unflatten(structures[0], stacked)


# --- rules run on tracers, with a per-example fallback ---------------------------------------------------

def call_rule(rule, args, settings):
    """A VJP or JVP rule applied to first-order (raw or traced) arguments, per example if it must be."""
    try:
        return rule(*args, **settings)
    except BatchingUnsupported as unsupported:
        failure = unsupported
    level, length = _top_level(itertools.chain(args, settings.values()))
    if not level or any(isinstance(a, Tensor) for a in args):
        # Rules on Tensors (forward mode, higher derivatives) cannot be cut into examples here:
        # the whole function is then run per example by vmap.
        raise failure
    return _rule_per_example(rule, args, settings, level, length)


def _rule_per_example(rule, args, settings, level, length):
    results = []
    for b in range(length):
        example_args = [_example(a.value, b) if type(a) is BatchTracer and a.level == level else a for a in args]
        example_settings = {k: (_example(v.value, b) if type(v) is BatchTracer and v.level == level else v)
                            for k, v in settings.items()}
        results.append(rule(*example_args, **example_settings))
    if isinstance(results[0], tuple):
        return tuple(None if column[0] is None else BatchTracer(_stack(list(column)), level, length)
                     for column in zip(*results))
    return BatchTracer(_stack(results), level, length)


# --- the rules families of ops share ---------------------------------------------------------------------

def example_ndim(value, is_batched: bool) -> int:
    return np.ndim(value) - 1 if is_batched else np.ndim(value)


def align(value, is_batched: bool, ndim: int):
    """A batch value (B, *s) as (B, 1, ..., 1, *s) of rank ndim + 1, so it broadcasts as an example
    of rank ndim does; unbatched values are returned as they are (NumPy aligns them on the right)."""
    if not is_batched:
        return value
    shape = np.shape(value)
    missing = ndim - (len(shape) - 1)
    if missing <= 0:
        return value
    return _ops().reshape(value, (shape[0],) + (1,) * missing + tuple(shape[1:]))


def elementwise(cls, *values, batched, batched_settings, **settings):
    """The rule of elementwise ops: batch values aligned on the output's rank, the op applied once.

    A batched setting (an array the op takes as a constant) is not aligned here: such a call declines.
    """
    if batched_settings:
        return None
    ndim = max((example_ndim(v, b) for v, b in zip(values, batched)), default=0)
    return call_op(cls, [align(v, b, ndim) for v, b in zip(values, batched)], settings)


def shift_axis(axis, ndim: int):
    """An op's normalized axis setting (None, int or tuple) moved past the batch axis."""
    if axis is None:
        return tuple(range(1, ndim + 1))
    if isinstance(axis, tuple):
        return tuple(a + 1 for a in axis)
    return axis + 1


def along_axis(*names):
    """The rule of ops on one input with axis settings (reductions, softmax): shift them by one.

    ``None`` (all axes) becomes every axis but the batch's. The settings must already be normalized
    (non-negative), as the ops' public functions pass them.
    """

    def rule(cls, *values, batched, batched_settings, **settings):
        if not batched[0] or any(batched[1:]) or batched_settings:
            return None
        ndim = np.ndim(values[0]) - 1
        moved = dict(settings)
        for name in names:
            moved[name] = shift_axis(settings[name], ndim)
        return call_op(cls, values, moved)

    return rule


# --- the transform -------------------------------------------------------------------------------------

def _axes_for(in_axes, args):
    """in_axes (an int, None, or a pytree prefix of args) as one axis per leaf of args."""
    leaves, structure = tree_flatten(list(args))
    if in_axes is None or isinstance(in_axes, int):
        return leaves, structure, [in_axes] * len(leaves)
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    if not isinstance(in_axes, tuple) or len(in_axes) != len(args):
        raise ValueError(f"vmap: in_axes must be an int, None, or a tuple with one entry per argument "
                         f"({len(args)}), got {in_axes!r}")
    axes = []
    for arg, spec in zip(args, in_axes):
        axes.extend(_prefix_axes(spec, arg))
    return leaves, structure, axes


def _prefix_axes(spec, tree) -> list:
    """One axis per leaf of tree, from spec, a prefix of tree's structure whose leaves are ints or None
    (an int or None stands for every leaf of the subtree it sits on, as in JAX)."""
    if spec is None or isinstance(spec, int):
        return [spec] * len(tree_flatten(tree)[0])
    if isinstance(spec, dict) and isinstance(tree, dict) and set(spec) == set(tree):
        return [a for key in sorted(tree) for a in _prefix_axes(spec[key], tree[key])]
    if isinstance(spec, (tuple, list)) and isinstance(tree, (tuple, list)) and len(spec) == len(tree):
        return [a for s, t in zip(spec, tree) for a in _prefix_axes(s, t)]
    raise ValueError(f"vmap: in_axes {spec!r} does not match the structure of its argument {tree_flatten(tree)[1]!r}")


def _batch_length(leaves, axes) -> int:
    lengths = {}
    for i, (leaf, axis) in enumerate(zip(leaves, axes)):
        if axis is None:
            continue
        shape = np.shape(leaf._data if isinstance(leaf, Tensor) else leaf)
        if not -len(shape) <= axis < max(len(shape), 1) or not shape:
            raise ValueError(f"vmap: in_axes {axis} is out of range for an argument of shape {tuple(shape)}")
        lengths[i] = shape[axis]
    if not lengths:
        raise ValueError("vmap must have at least one non-None value in in_axes")
    if len(set(lengths.values())) > 1:
        sizes = ", ".join(f"argument leaf {i}: {n}" for i, n in lengths.items())
        raise ValueError(f"vmap got inconsistent sizes for array axes to be mapped: {sizes}")
    return next(iter(lengths.values()))


def _move_to_front(leaf, axis):
    if not isinstance(leaf, (np.ndarray, Tensor, BatchTracer)):
        leaf = np.asarray(leaf)
    ndim = np.ndim(leaf._data if isinstance(leaf, Tensor) else leaf)
    axis = axis % ndim
    if axis == 0:
        return leaf
    if isinstance(leaf, np.ndarray):
        return np.moveaxis(leaf, axis, 0)
    return _ops().moveaxis(leaf, axis, 0)


def _output_axes(out_axes, out):
    return _prefix_axes(out_axes, out)


def _place(value, axis):
    """A batch value (batch on axis 0) with its batch moved to ``axis``."""
    if axis in (0, None):
        return value
    ndim = np.ndim(value._data if isinstance(value, Tensor) else value)
    if isinstance(value, np.ndarray):
        return np.moveaxis(value, 0, axis % ndim)
    return _ops().moveaxis(value, 0, axis % ndim)


def _broadcast_unbatched(value, length):
    data = value._data if isinstance(value, Tensor) else value
    if isinstance(value, (np.ndarray, Tensor, BatchTracer)):
        shape = np.shape(data)
    else:
        value = np.asarray(value)
        shape = value.shape
    if isinstance(value, np.ndarray):
        return np.broadcast_to(value, (length,) + tuple(shape))
    return _ops().broadcast_to(_ops().expand_dims(value, 0), (length,) + tuple(shape))


def vmap(f, in_axes=0, out_axes=0):
    """Vectorize f over a batch axis: ``vmap(f)(xs)[i] == f(xs[i])``, computed for the whole batch at once.

    Args:
        f: a function of arrays (or pytrees of them) written for one example.
        in_axes: where each argument's batch axis is: an int for all, None for an argument shared by
            every example, or a tuple with one entry per argument (an entry may be a pytree of axes
            matching its argument), as JAX's ``vmap``.
        out_axes: where the batch axis goes in the output (an int, or a pytree of them).

    Returns:
        The batched function. Composes with grad, jvp, jacobian and itself: ``vmap(grad(loss),
        in_axes=(None, 0, 0))(params, X, y)`` gives one gradient per example.

    Example:
        >>> import nablanet.numpy as np
        >>> matrix_vector = vmap(np.dot, in_axes=(0, None))
        >>> matrix_vector(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, 1.0]))
        array([3., 7.])
    """

    @functools.wraps(f)
    def batched(*args):
        leaves, structure, axes = _axes_for(in_axes, args)
        length = _batch_length(leaves, axes)
        level = next(_levels)
        outer_level = state.batch_level
        state.batch_depth += 1
        state.batch_level = level
        try:
            traced = [leaf if axis is None else BatchTracer(_move_to_front(leaf, axis), level, length)
                      for leaf, axis in zip(leaves, axes)]
            try:
                out = f(*tree_unflatten(structure, traced))
                out_leaves, out_structure = tree_flatten(out)
                results = []
                for leaf, axis in zip(out_leaves, _output_axes(out_axes, out)):
                    results.append(_finish(leaf, axis, level, length))
            except BatchingUnsupported:
                out_leaves, out_structure, results = _run_per_example(f, leaves, structure, axes, length, out_axes,
                                                                       outer_level)
        finally:
            state.batch_depth -= 1
            state.batch_level = outer_level
        return tree_unflatten(out_structure, results)

    return batched


def _finish(leaf, axis, level, length):
    """One output leaf of the batched function, with its batch at ``axis``."""
    if isinstance(leaf, Tensor) and type(leaf._data) is BatchTracer and leaf._data.level == level:
        if axis is None:
            raise ValueError("vmap has mapped output but out_axes is None")
        # A Tensor (the result of a transform inside vmap) whose values are this batch.
        return _place(_detach_level(leaf, level), axis)
    if type(leaf) is BatchTracer and leaf.level == level:
        if axis is None:
            raise ValueError("vmap has mapped output but out_axes is None")
        value = leaf.value
        if isinstance(value, Tensor) and not (value._requires_grad or value._tangents):
            value = value._data
        return _place(value, axis)
    if axis is None:
        return leaf
    return _place(_broadcast_unbatched(leaf, length), axis)


def _detach_level(tensor, level):
    """A Tensor whose data is a tracer of the finished level, as the batch it stands for.

    Such a Tensor is the output of a transform run inside vmap: its graph belongs to that finished
    transform (whose inputs are released), and any dependence on Tensors of transforms outside the
    vmap is carried by the batch's values, so the batch is all that is left to return.
    """
    if (tensor._requires_grad or tensor._tangents) and tensor._level < level:
        raise BatchingUnsupported("vmap: a batched output still carries a derivative of a transform around vmap")
    return tensor._data.value


def _run_per_example(f, leaves, structure, axes, length, out_axes, outer_level):
    """f run once per example (the fallback when batching it as a whole is not possible)."""
    state.batch_depth -= 1
    level, state.batch_level = state.batch_level, outer_level
    try:
        outputs = []
        for b in range(length):
            example = [leaf if axis is None else _example(_move_to_front(leaf, axis), b)
                       for leaf, axis in zip(leaves, axes)]
            outputs.append(f(*tree_unflatten(structure, example)))
    finally:
        state.batch_depth += 1
        state.batch_level = level
    per_example = [tree_flatten(o)[0] for o in outputs]
    out_structure = tree_flatten(outputs[0])[1]
    results = []
    for position, axis in enumerate(_output_axes(out_axes, outputs[0])):
        column = [leaves_b[position] for leaves_b in per_example]
        if axis is None:
            results.append(column[0])
            continue
        results.append(_place(_stack(column), axis))
    return per_example[0], out_structure, results

