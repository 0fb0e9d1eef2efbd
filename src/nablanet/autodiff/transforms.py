"""Function transforms in the style of autograd and JAX: grad, value_and_grad, vjp, jvp, jacobian, hessian.

They take and return plain ndarrays and Python numbers, or any nesting of tuples, lists and dicts of
them (pytrees, ``autodiff/tree.py``), as JAX's do. Called inside another transform they return
Tensors that stay connected to the outer computation, so they nest to any order. A function that
closes over Tensors with ``requires_grad=True`` (a network's weights inside a physics-informed
loss) gets back Tensors connected to those weights too, as ``torch.autograd.grad(...,
create_graph=True)`` gives, so ``loss.backward()`` later sees the derivative's dependence on them.

Dtypes follow JAX: ``grad`` differentiates floating or complex inputs; its output must be real unless
``holomorphic=True`` (then the inputs must be complex and the result is f'(z)).
"""

from __future__ import annotations

import functools
import itertools
from contextlib import contextmanager

import numpy as np

from nablanet.autodiff import state
from nablanet.autodiff.batching import BatchTracer
from nablanet.autodiff.graph import collect, run_backward
from nablanet.autodiff.jit import tracing
from nablanet.autodiff.jit.tracing import Traced
from nablanet.autodiff.ops import reshape, stack
from nablanet.autodiff.ops.elementwise import identity
from nablanet.autodiff.tensor import Tensor, check_differentiable
from nablanet.autodiff.tree import tree_flatten, tree_unflatten

_level_ids = itertools.count()


@contextmanager
def _transform():
    """Mark a transform as running, with recording on; yields True when it runs inside another one.

    Recording is switched on even inside ``no_grad``: a transform must see its own inputs' graph.
    Whether the caller records (``state.grad_enabled`` outside) decides only whether Tensors the
    function closes over stay connected (see ``_reverse``).
    """
    nested = state.transform_depth > 0
    state.transform_depth += 1
    saved = state.grad_enabled
    if state.transform_depth == 1:
        state.outer_grad_enabled = saved
    state.grad_enabled = True
    try:
        yield nested
    finally:
        state.grad_enabled = saved
        state.transform_depth -= 1


def _input_leaf(value, name: str) -> Tensor:
    """A transform's input (see _make_input_leaf), tagged with the vmap level it begins inside."""
    leaf = _make_input_leaf(value, name)
    leaf._level = state.batch_level
    return leaf


def _make_input_leaf(value, name: str) -> Tensor:
    """A fresh tensor that stands for one argument of the function being differentiated.

    When the argument already carries derivatives of an outer transform, the new tensor is made
    from it by an identity op, so outer derivatives flow through while this transform still
    differentiates with respect to its own, distinct input (no perturbation confusion).
    """
    if isinstance(value, Tensor):
        check_differentiable(value._data, name)
        if value._requires_grad or value._tangents:
            return identity(value)
        return Tensor(value._data)
    if isinstance(value, BatchTracer):
        check_differentiable(value, name)
        return Tensor(value)
    if isinstance(value, (bool, np.bool_)):
        check_differentiable(np.asarray(value), name)
    # A traced array of nablanet.jit stays one: NumPy work on the input's values is then recorded.
    data = value if type(value) is Traced else np.asarray(value)
    check_differentiable(data, name)
    return Tensor(data)


def _carries_derivative(value) -> bool:
    return isinstance(value, Tensor) and (value._requires_grad or bool(value._tangents))


def _as_output(value, like, nested: bool, connected: bool = False):
    """Outermost transforms hand back plain values shaped and typed like the argument ``like``.

    A value that still depends on Tensors requiring gradients outside the transform (``connected``:
    a closed-over weight) stays a Tensor, so that dependence is not dropped.
    """
    if nested:
        return value
    if isinstance(value, Tensor):
        if connected and value._requires_grad:
            return value
        value = value._data
    if isinstance(value, BatchTracer):
        return value
    if isinstance(like, (float, int, complex)) and not isinstance(like, bool) and np.ndim(value) == 0:
        kind = complex if np.iscomplexobj(value) else float
        if type(value) is Traced:
            return tracing.as_python_number(value, kind)  # nablanet.jit: converted when the program returns it
        return kind(value)
    return value if type(value) is Traced else np.asarray(value)


def _argnums_tuple(argnums) -> tuple[int, ...]:
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def _zeros_for(leaf: Tensor):
    return np.zeros(leaf.shape, dtype=leaf.dtype)


def _reaches_outer_leaves(out, leaves: list[Tensor]) -> bool:
    """True when ``out`` depends on Tensors requiring gradients other than this transform's inputs,
    and the caller records (outside ``no_grad``)."""
    if not (state.outer_grad_enabled and isinstance(out, Tensor) and out._requires_grad):
        return False
    mine = frozenset(id(leaf) for leaf in leaves)
    if any(leaf._op is not None and leaf._inputs[0]._requires_grad for leaf in leaves):
        return True  # an argument was itself a Tensor requiring gradients
    _, reached = collect(out, mine)
    return any(id(leaf) not in mine and leaf._requires_grad for leaf in reached)


def _reverse(out, seed, leaves: list[Tensor], nested: bool, connected: bool = False, connect_outer: bool = False):
    """(Gradients of <seed, out> with respect to each leaf (zeros for leaves out does not depend on),
    whether they stay connected to Tensors outside the transform).

    The reverse pass is itself recorded when a derivative of it may be wanted: inside another
    transform, when the caller knows out depends on Tensors outside this transform that require
    gradients (``connected``), or when the pass finds that it does (``connect_outer``).
    """
    if not isinstance(out, Tensor) or not (out._requires_grad or any(out is leaf for leaf in leaves)):
        return [_zeros_for(leaf) for leaf in leaves], connected
    create_graph = nested or connected
    if create_graph and not isinstance(seed, Tensor):
        seed = Tensor(seed)
    if connect_outer and not create_graph:
        found, connected = run_backward(out, seed, leaves, connect_outer=True)
    else:
        found = run_backward(out, seed, leaves, create_graph=create_graph)
    return [found[id(leaf)][1] if id(leaf) in found else _zeros_for(leaf) for leaf in leaves], connected


def _release(leaves: list[Tensor]) -> None:
    """A transform's own input leaves stop requiring gradients when it returns.

    The graph keeps its edges to them (a later vjp_fn call still reaches them), but a later check
    for Tensors the result depends on (``_reaches_outer_leaves``) no longer counts them as a user's.
    """
    for leaf in leaves:
        if leaf._op is None:
            leaf._requires_grad = False


def _dtype_of(value) -> np.dtype:
    if isinstance(value, Tensor):
        return value.dtype
    return np.asarray(value).dtype


def _check_grad_output(out, holomorphic: bool, fname: str = "grad"):
    """JAX's rules for what grad differentiates: one number, real unless holomorphic."""
    size = out.size if isinstance(out, Tensor) else np.size(out)
    if size != 1:
        raise TypeError(
            f"{fname}: the function must return a scalar, got shape {np.shape(out)}; "
            "use jacobian or vjp for functions with array outputs"
        )
    dtype = _dtype_of(out)
    # dtype.kind rather than np.issubdtype: this runs on every gradient, and kind is a field read.
    if holomorphic:
        if dtype.kind != "c":
            raise TypeError(f"{fname} with holomorphic=True requires complex outputs, but got {dtype.name}")
    elif dtype.kind == "c":
        raise TypeError(
            f"{fname} requires real-valued outputs (output dtype that is a sub-dtype of np.floating), but got "
            f"{dtype.name}. For holomorphic differentiation, pass holomorphic=True. For differentiation of "
            "non-holomorphic functions involving complex outputs, use nablanet.vjp directly."
        )
    elif dtype.kind != "f":
        raise TypeError(
            f"{fname} requires real-valued outputs (output dtype that is a sub-dtype of np.floating), but got "
            f"{dtype.name}: a {dtype.name} result is piecewise constant, so it has no derivative"
        )


def _check_holomorphic_inputs(leaves: list[Tensor], fname: str):
    for leaf in leaves:
        if not np.issubdtype(leaf.dtype, np.complexfloating):
            raise TypeError(f"{fname} with holomorphic=True requires inputs with complex dtype, but got {leaf.dtype.name}")


def _make_leaves(args, positions, fname: str):
    """Replace args[i] (pytrees) by fresh input tensors; returns (args, [(structure, leaves)] per position)."""
    args = list(args)
    per_argument = []
    for i in positions:
        if not -len(args) <= i < len(args):
            raise ValueError(f"{fname}: argnums {i} is out of range for a call with {len(args)} positional arguments")
        values, structure = tree_flatten(args[i])
        leaves = [_input_leaf(v, f"{fname} with respect to argument {i}") for v in values]
        args[i] = tree_unflatten(structure, leaves)
        per_argument.append((structure, values, leaves))
    return args, per_argument


def _wraps(f, transform: str):
    """functools.wraps that also tolerates callables without a __name__ (partials, instances)."""

    def decorate(wrapped):
        try:
            functools.update_wrapper(wrapped, f)
        except AttributeError:
            pass
        wrapped.__wrapped__ = f
        wrapped._nablanet_transform = transform
        return wrapped

    return decorate


def _scalar_value(out, nested: bool, connected: bool):
    if nested or (connected and isinstance(out, Tensor)):
        return out
    out = out._data if isinstance(out, Tensor) else out
    if isinstance(out, BatchTracer) or (state.tracer is not None and isinstance(out, np.ndarray)):
        # Under vmap, or while nablanet.jit traces (a program's output, not a Python number).
        return out.reshape(())
    out = np.asarray(out)
    return complex(out.reshape(())) if np.iscomplexobj(out) else float(out.reshape(()))


def value_and_grad(f, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """A function returning ``(f(*args), df/dargs)`` in one reverse pass.

    Args:
        f: a function returning a scalar (or ``(scalar, aux)`` when ``has_aux``). The differentiated
            arguments may be arrays, numbers or pytrees of them; keyword arguments are passed through
            undifferentiated.
        argnums: which positional argument(s) to differentiate with respect to (int or tuple).
        has_aux: f returns a pair whose second element is passed through undifferentiated.
        holomorphic: f is holomorphic in complex inputs; the gradient is then f'(z) (JAX's option).

    Returns:
        A function with f's signature. Its gradient has the structure of the differentiated argument
        (a tuple of them when ``argnums`` is a tuple).

    Example:
        >>> import nablanet.numpy as np
        >>> value_and_grad(lambda x: np.sum(x ** 2))(np.array([1.0, 2.0]))
        (5.0, array([2., 4.]))
        >>> value_and_grad(lambda p: p["w"] * p["b"])({"w": 2.0, "b": 3.0})
        (6.0, {'b': 2.0, 'w': 3.0})
    """
    positions = _argnums_tuple(argnums)

    @_wraps(f, "value_and_grad")
    def wrapped(*args, **kwargs):
        with _transform() as nested:
            args, per_argument = _make_leaves(args, positions, "grad")
            all_leaves = [leaf for _, _, leaves in per_argument for leaf in leaves]
            for leaf in all_leaves:
                leaf._requires_grad = True
            if holomorphic:
                _check_holomorphic_inputs(all_leaves, "grad")
            result = f(*args, **kwargs)
            if has_aux:
                if not (isinstance(result, (tuple, list)) and len(result) == 2):
                    raise TypeError("grad with has_aux=True: the function must return a pair (output, aux), "
                                    f"got {type(result).__name__}")
                out, aux = result
            else:
                out, aux = result, None
            _check_grad_output(out, holomorphic)
            if state.tracer is not None and isinstance(out, Tensor):
                # Made from the output's shape, so nablanet.jit folds it (and what follows) to a constant.
                seed = np.ones_like(out._data, dtype=_dtype_of(out))
            else:
                seed = np.ones(out.shape if isinstance(out, Tensor) else np.shape(out), dtype=_dtype_of(out))
            outer = not nested and state.outer_grad_enabled
            # An argument that was itself a Tensor requiring gradients keeps the result connected to it.
            connected = outer and any(leaf._op is not None and leaf._inputs[0]._requires_grad for leaf in all_leaves)
            try:
                grads, connected = _reverse(out, seed, all_leaves, nested, connected, connect_outer=outer)
            finally:
                _release(all_leaves)
            value = _scalar_value(out, nested, connected)
        results = []
        k = 0
        for structure, values, leaves in per_argument:
            mine = grads[k:k + len(leaves)]
            k += len(leaves)
            results.append(tree_unflatten(structure, [_as_output(g, v, nested, connected) for g, v in zip(mine, values)]))
        grads_out = results[0] if isinstance(argnums, int) else tuple(results)
        return ((value, aux), grads_out) if has_aux else (value, grads_out)

    return wrapped


def grad(f, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """The gradient of a scalar function: ``grad(f)(x)`` is df/dx, computed by reverse mode.

    Nest it for higher derivatives: ``grad(grad(f))`` is f''. Arguments may be pytrees (a dict of
    parameters gives a dict of gradients). For complex inputs of a real-valued f the gradient is
    df/dx - i df/dy (JAX's convention; step along its conjugate to descend).

    Example:
        >>> import nablanet.numpy as np
        >>> grad(lambda x: np.exp(x ** 2))(1.0)   # 2 x exp(x^2) at x = 1
        5.43656365691809
        >>> grad(grad(grad(lambda x: x ** 4)))(2.0)   # 24 x
        48.0
    """
    value_and_grad_f = value_and_grad(f, argnums, has_aux, holomorphic)

    @_wraps(f, "grad")
    def wrapped(*args, **kwargs):
        value, grads = value_and_grad_f(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads

    return wrapped


def _as_cotangent(cotangent, out, index: int):
    """A cotangent for one output leaf: any array-like of its shape (a Python number for a scalar)."""
    out_shape = np.shape(out._data if isinstance(out, Tensor) else out)
    out_dtype = _dtype_of(out)
    if not isinstance(cotangent, (Tensor, BatchTracer)):
        cotangent = np.asarray(cotangent)
    ct_shape = np.shape(cotangent._data if isinstance(cotangent, Tensor) else cotangent)
    if ct_shape != out_shape:
        raise ValueError(f"vjp: the cotangent of output {index} has shape {ct_shape}, the output has shape {out_shape}")
    ct_dtype = _dtype_of(cotangent)
    if np.issubdtype(ct_dtype, np.complexfloating) and not np.issubdtype(out_dtype, np.complexfloating):
        raise TypeError(f"vjp: output {index} is real ({out_dtype.name}) but its cotangent is complex ({ct_dtype.name})")
    if not np.issubdtype(ct_dtype, np.inexact):
        cotangent = np.asarray(cotangent, dtype=out_dtype if np.issubdtype(out_dtype, np.inexact) else np.float64)
    return cotangent


def vjp(f, *primals, has_aux: bool = False):
    """Reverse mode for any output: returns ``(f(*primals), vjp_fn)`` with ``vjp_fn(u) = u^T J``.

    The primals and the output may be pytrees. ``vjp_fn`` takes a cotangent with the output's
    structure and shapes (a Python number for a scalar output) and returns a tuple with one gradient
    per primal, each with its primal's structure. It may be called many times (the graph is kept).
    With ``has_aux``, f returns ``(output, aux)`` and vjp returns ``(output, vjp_fn, aux)``.

    Example:
        >>> import nablanet.numpy as np
        >>> out, f_vjp = vjp(lambda x: x * np.array([1.0, 2.0, 3.0]), np.ones(3))
        >>> f_vjp(np.array([1.0, 1.0, 1.0]))
        (array([1., 2., 3.]),)
    """
    with _transform() as nested:
        _, per_argument = _make_leaves(primals, range(len(primals)), "vjp")
        all_leaves = [leaf for _, _, leaves in per_argument for leaf in leaves]
        for leaf in all_leaves:
            leaf._requires_grad = True
        inputs = [tree_unflatten(structure, leaves) for structure, _, leaves in per_argument]
        result = f(*inputs)
        if has_aux:
            out, aux = result
        else:
            out, aux = result, None
    out_leaves, out_structure = tree_flatten(out)
    connected = [not nested and _reaches_outer_leaves(o, all_leaves) for o in out_leaves]
    _release(all_leaves)

    def vjp_fn(cotangent):
        if out_structure.kind == "leaf":
            # One array out: the cotangent is anything array-like of its shape (a list, a number).
            ct_leaves = [cotangent]
        else:
            ct_leaves, ct_structure = tree_flatten(cotangent)
            if ct_structure != out_structure:
                raise ValueError(f"vjp: the cotangent must have the output's structure {out_structure!r}, "
                                 f"got {ct_structure!r}")
        inner = nested or state.transform_depth > 0
        totals = [None] * len(all_leaves)
        for k, (out_leaf, ct) in enumerate(zip(out_leaves, ct_leaves)):
            ct = _as_cotangent(ct, out_leaf, k)
            grads, _ = _reverse(out_leaf, ct, all_leaves, inner, connected[k])
            totals = [g if t is None else t + g for t, g in zip(totals, grads)]
        if not out_leaves:
            totals = [_zeros_for(leaf) for leaf in all_leaves]
        results = []
        k = 0
        for structure, values, leaves in per_argument:
            mine = totals[k:k + len(leaves)]
            k += len(leaves)
            results.append(tree_unflatten(structure, [_as_output(g, v, inner, any(connected)) for g, v in zip(mine, values)]))
        return tuple(results)

    out_value = tree_unflatten(out_structure, [_as_output(o, None, nested, c) for o, c in zip(out_leaves, connected)])
    return (out_value, vjp_fn, aux) if has_aux else (out_value, vjp_fn)


def jvp(f, primals, tangents, has_aux: bool = False):
    """Forward mode: ``(f(*primals), J v)``, pushing the tangents v through the ops' JVP rules.

    Tangents travel alongside the values as the function runs (no reverse pass is involved), so the
    cost is one evaluation of f and its rules whatever the number of outputs. ``primals`` and
    ``tangents`` are tuples (or lists) of pytrees of the same structure; the output may be a pytree,
    and its tangent has the same structure.

    Example:
        >>> import nablanet.numpy as np
        >>> jvp(lambda x: np.sin(x), (0.0,), (1.0,))
        (0.0, 1.0)
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples or lists, one entry per argument of f, "
                        f"got {type(primals).__name__} and {type(tangents).__name__}")
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: got {len(primals)} primals but {len(tangents)} tangents")
    level = next(_level_ids)
    with _transform() as nested:
        inputs = []
        for i, (value, tangent) in enumerate(zip(primals, tangents)):
            values, structure = tree_flatten(value)
            tangent_values, tangent_structure = tree_flatten(tangent)
            if tangent_structure != structure:
                raise ValueError(f"jvp: tangent {i} has structure {tangent_structure!r}, its primal {structure!r}")
            leaves = []
            for v, t in zip(values, tangent_values):
                leaf = _input_leaf(v, f"jvp with respect to argument {i}")
                if np.shape(t._data if isinstance(t, Tensor) else t) != leaf.shape:
                    raise ValueError(f"jvp: tangent {i} has shape {np.shape(t)}, its primal has shape {leaf.shape}")
                leaf._tangents = {**leaf._tangents, level: _tangent_like(t, leaf, i)}
                leaves.append(leaf)
            inputs.append(tree_unflatten(structure, leaves))
        state.jvp_levels = state.jvp_levels + [level]
        try:
            result = f(*inputs)
        finally:
            state.jvp_levels = [lv for lv in state.jvp_levels if lv != level]
        out, aux = result if has_aux else (result, None)
    out_leaves, out_structure = tree_flatten(out)
    dots = []
    for o in out_leaves:
        out_dot = o._tangents.get(level) if isinstance(o, Tensor) else None
        if out_dot is None:
            out_dot = np.zeros(np.shape(o._data if isinstance(o, Tensor) else o), dtype=_dtype_of(o))
        dots.append(out_dot)
    like = primals[0] if len(primals) == 1 and out_structure.kind == "leaf" else None
    out_value = tree_unflatten(out_structure, [_as_output(o, like, nested, not nested and _reaches_outer_leaves(o, []))
                                               for o in out_leaves])
    dot_value = tree_unflatten(out_structure, [_as_output(d, like, nested, not nested and _reaches_outer_leaves(d, []))
                                               for d in dots])
    return (out_value, dot_value, aux) if has_aux else (out_value, dot_value)


def _tangent_like(tangent, leaf: Tensor, index: int):
    if isinstance(tangent, (Tensor, BatchTracer)):
        return tangent
    tangent = np.asarray(tangent)
    if np.iscomplexobj(tangent) and not np.issubdtype(leaf.dtype, np.complexfloating):
        raise TypeError(f"jvp: primal {index} is real ({leaf.dtype.name}) but its tangent is complex ({tangent.dtype.name})")
    return tangent.astype(leaf.dtype, copy=False)


def _basis(shape, dtype, index: int):
    e = np.zeros(int(np.prod(shape)), dtype=dtype)
    e[index] = 1
    return e.reshape(shape)


def _value(x) -> np.ndarray:
    if isinstance(x, (Tensor, BatchTracer)):
        return x._data
    return np.asarray(x)


def jacobian(f, argnums=0, mode: str = "reverse", has_aux: bool = False, holomorphic: bool = False):
    """The Jacobian J[i..., j...] = d f(x)[i...] / d x[j...], of shape out.shape + x.shape.

    Inputs and outputs may be pytrees: the result then has the output's structure, with each leaf
    replaced by the input's structure of Jacobian blocks (a tuple over arguments when ``argnums`` is
    a tuple), as JAX's jacrev and jacfwd.

    Args:
        f: a function of arrays.
        argnums: the argument(s) to differentiate with respect to.
        mode: "reverse" (one VJP per output element; best for few outputs) or "forward" (one JVP
            per input element; best for few inputs).
        has_aux: f returns ``(output, aux)``; the result is then ``(jacobian, aux)``.
        holomorphic: f is holomorphic in complex inputs (JAX's option): needed for complex outputs.

    Example:
        >>> import nablanet.numpy as np
        >>> jacobian(lambda x: x ** 2, mode="forward")(np.array([1.0, 2.0]))
        array([[2., 0.],
               [0., 4.]])
    """
    if mode not in ("reverse", "forward"):
        raise ValueError(f"jacobian: mode must be 'reverse' or 'forward', got {mode!r}")
    positions = _argnums_tuple(argnums)
    fname = "jacrev" if mode == "reverse" else "jacfwd"

    @_wraps(f, fname)
    def wrapped(*args, **kwargs):
        chosen = tuple(args[i] for i in positions)

        def f_of_chosen(*xs):
            full = list(args)
            for i, x in zip(positions, xs):
                full[i] = x
            return f(*full, **kwargs)

        in_leaves, in_structure = tree_flatten(chosen)
        in_values = [_value(v) for v in in_leaves]
        with _transform() as nested:
            if mode == "reverse":
                blocks, out_structure, out_leaves, aux = _jacobian_reverse(f_of_chosen, chosen, in_values, nested,
                                                                            has_aux, holomorphic)
            else:
                blocks, out_structure, out_leaves, aux = _jacobian_forward(f_of_chosen, chosen, in_values, in_structure,
                                                                            nested, has_aux, holomorphic)
            results = []
            for k, out_leaf in enumerate(out_leaves):
                out_shape = np.shape(_value(out_leaf))
                row = []
                for j, x in enumerate(in_values):
                    block = blocks[k][j]
                    row.append(_as_output(reshape(block, tuple(out_shape) + x.shape), None, nested))
                per_input = tree_unflatten(in_structure, row)
                results.append(per_input[0] if isinstance(argnums, int) else per_input)
        result = tree_unflatten(out_structure, results)
        return (result, aux) if has_aux else result

    return wrapped


def _check_jacobian_dtypes(in_values, out_leaves, holomorphic, fname):
    for x in in_values:
        if holomorphic and not np.issubdtype(x.dtype, np.complexfloating):
            raise TypeError(f"{fname} with holomorphic=True requires inputs with complex dtype, but got {x.dtype.name}")
    for o in out_leaves:
        dtype = _dtype_of(o)
        if holomorphic and not np.issubdtype(dtype, np.complexfloating):
            raise TypeError(f"{fname} with holomorphic=True requires outputs with complex dtype, but got {dtype.name}")
        if not holomorphic and np.issubdtype(dtype, np.complexfloating):
            raise TypeError(f"{fname} requires real-valued outputs (output dtype that is a sub-dtype of np.floating), "
                            f"but got {dtype.name}. For holomorphic differentiation, pass holomorphic=True. For "
                            "differentiation of non-holomorphic functions involving complex outputs, use nablanet.vjp.")


def _jacobian_reverse(f_of_chosen, chosen, in_values, nested, has_aux, holomorphic):
    result = vjp(f_of_chosen, *chosen, has_aux=has_aux)
    out, f_vjp = result[0], result[1]
    aux = result[2] if has_aux else None
    out_leaves, out_structure = tree_flatten(out)
    _check_jacobian_dtypes(in_values, out_leaves, holomorphic, "jacrev")
    blocks = []
    for k, out_leaf in enumerate(out_leaves):
        out_value = _value(out_leaf)
        rows = []
        for i in range(out_value.size):
            cotangent = [np.zeros(np.shape(_value(o)), dtype=_dtype_of(o)) for o in out_leaves]
            cotangent[k] = _basis(out_value.shape, out_value.dtype, i)
            grads = f_vjp(tree_unflatten(out_structure, cotangent))
            rows.append(tree_flatten(grads)[0])
        per_input = []
        for j, x in enumerate(in_values):
            if rows:
                column = [r[j] for r in rows]
                stacked = stack(column, axis=0) if nested or any(isinstance(c, Tensor) for c in column) \
                    else np.stack([_value(c) for c in column])
            else:
                stacked = np.zeros((0,) + x.shape, dtype=x.dtype)
            per_input.append(stacked)
        blocks.append(per_input)
    return blocks, out_structure, out_leaves, aux


def _jacobian_forward(f_of_chosen, chosen, in_values, in_structure, nested, has_aux, holomorphic):
    columns = []  # per input leaf, per element: the output tangent leaves
    out_structure = out_leaves = aux = None
    zeros = [np.zeros(x.shape, dtype=x.dtype) for x in in_values]
    for j, x in enumerate(in_values):
        per_element = []
        for e in range(x.size):
            tangent = list(zeros)
            tangent[j] = _basis(x.shape, x.dtype, e)
            result = jvp(f_of_chosen, chosen, tree_unflatten(in_structure, tangent), has_aux=has_aux)
            out, out_dot = result[0], result[1]
            if has_aux:
                aux = result[2]
            out_leaves, out_structure = tree_flatten(out)
            per_element.append(tree_flatten(out_dot)[0])
        columns.append(per_element)
    if out_leaves is None:
        # No input elements at all: evaluate once for the output's structure.
        result = f_of_chosen(*chosen)
        out, aux = result if has_aux else (result, None)
        out_leaves, out_structure = tree_flatten(out)
    _check_jacobian_dtypes(in_values, out_leaves, holomorphic, "jacfwd")
    blocks = []
    for k, out_leaf in enumerate(out_leaves):
        out_shape = np.shape(_value(out_leaf))
        per_input = []
        for j, x in enumerate(in_values):
            column = [c[k] for c in columns[j]]
            if not column:
                per_input.append(np.zeros(tuple(out_shape) + (0,), dtype=_dtype_of(out_leaf)))
                continue
            # Columns are d out / d x_j: stack them last, then give x its own axes (reshape in the caller).
            if nested or any(isinstance(c, Tensor) for c in column):
                stacked = stack(column, axis=-1)
            else:
                stacked = np.stack([_value(c) for c in column], axis=-1)
            per_input.append(stacked)
        blocks.append(per_input)
    return blocks, out_structure, out_leaves, aux


def jacrev(f, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """Reverse-mode Jacobian (one VJP per output element)."""
    return jacobian(f, argnums, mode="reverse", has_aux=has_aux, holomorphic=holomorphic)


def jacfwd(f, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """Forward-mode Jacobian (one JVP per input element)."""
    return jacobian(f, argnums, mode="forward", has_aux=has_aux, holomorphic=holomorphic)


def hessian(f, argnums=0, holomorphic: bool = False):
    """The Hessian of a scalar function, forward-over-reverse: the forward-mode Jacobian of the gradient.

    For pytree arguments the result is nested twice (input structure of input structure), as JAX's.

    Example:
        >>> import nablanet.numpy as np
        >>> A = np.array([[1.0, 2.0], [0.0, 3.0]])
        >>> hessian(lambda x: x @ A @ x)(np.array([1.0, -1.0]))   # A + A^T
        array([[2., 2.],
               [2., 6.]])
    """
    return jacobian(grad(f, argnums, holomorphic=holomorphic), argnums, mode="forward", holomorphic=holomorphic)


def elementwise_grad(f, argnums=0):
    """The derivative of each output element with respect to the matching input element (autograd's).

    ``elementwise_grad(f)(x)`` is the VJP of f with a cotangent of ones: the gradient of sum(f(x)).
    It equals the elementwise derivative f'(x_i) when each output depends on its own input only
    (np.tanh, x ** 2), which is what it is for: plotting f' over a grid in one call.

    Example:
        >>> import nablanet.numpy as np
        >>> elementwise_grad(np.tanh)(np.array([0.0, 1.0]))   # 1 - tanh^2
        array([1.        , 0.41997434])
    """
    positions = _argnums_tuple(argnums)

    @_wraps(f, "elementwise_grad")
    def wrapped(*args, **kwargs):
        def f_of_chosen(*xs):
            full = list(args)
            for i, x in zip(positions, xs):
                full[i] = x
            return f(*full, **kwargs)

        out, f_vjp = vjp(f_of_chosen, *(args[i] for i in positions))
        ones = tree_unflatten(tree_flatten(out)[1],
                              [np.ones(np.shape(_value_of(o)), dtype=_dtype_of(o)) for o in tree_flatten(out)[0]])
        grads = f_vjp(ones)
        return grads[0] if isinstance(argnums, int) else grads

    return wrapped


def _value_of(x):
    return x._data if isinstance(x, Tensor) else x


def hvp(f, primals, tangents):
    """The Hessian-vector product H v of a scalar f at primals, by forward over reverse (JAX's cookbook).

    One gradient evaluation with tangents pushed through it: the cost of a few gradients, never
    forming the Hessian (Pearlmutter 1994). ``primals`` and ``tangents`` are tuples as for jvp; the
    result has the structure of the primals (a tuple when there are several).

    Example:
        >>> import nablanet.numpy as np
        >>> A = np.array([[2.0, 1.0], [1.0, 3.0]])
        >>> hvp(lambda x: 0.5 * x @ A @ x, (np.zeros(2),), (np.array([1.0, 0.0]),))   # A v
        array([2., 1.])
    """
    primals, tangents = tuple(primals), tuple(tangents)
    argnums = 0 if len(primals) == 1 else tuple(range(len(primals)))
    return jvp(grad(f, argnums), primals, tangents)[1]


def hessian_vector_product(f, argnums=0):
    """autograd's spelling of hvp: a function of (*args, vector) returning H v for argument ``argnums``.

    Example:
        >>> import nablanet.numpy as np
        >>> H_v = hessian_vector_product(lambda x: np.sum(x ** 3))
        >>> H_v(np.array([1.0, 2.0]), np.array([1.0, 1.0]))   # 6 x * v
        array([ 6., 12.])
    """

    @_wraps(f, "hessian_vector_product")
    def wrapped(*args):
        *args, vector = args
        g = grad(f, argnums)

        def g_of_x(x):
            full = list(args)
            full[argnums] = x
            return g(*full)

        return jvp(g_of_x, (args[argnums],), (vector,))[1]

    return wrapped
