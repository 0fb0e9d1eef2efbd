"""Function transforms in the style of autograd and JAX: grad, value_and_grad, vjp, jvp, jacobian, hessian.

They take and return plain ndarrays and Python floats. Called inside another transform they return
Tensors that stay connected to the outer computation, so they nest to any order.
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager

import numpy as np

from nablanet.autodiff import state
from nablanet.autodiff.graph import run_backward
from nablanet.autodiff.ops import identity, reshape, stack
from nablanet.autodiff.tensor import Tensor, check_differentiable

_level_ids = itertools.count()


@contextmanager
def _transform():
    """Mark a transform as running; yields True when it runs inside another one."""
    nested = state.transform_depth > 0
    state.transform_depth += 1
    try:
        yield nested
    finally:
        state.transform_depth -= 1


def _input_leaf(value, name: str) -> Tensor:
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
    data = np.asarray(value)
    check_differentiable(data, name)
    return Tensor(data)


def _as_output(value, like, nested: bool):
    """Outermost transforms hand back plain values shaped and typed like the argument ``like``."""
    if nested:
        return value
    if isinstance(value, Tensor):
        value = value._data
    if isinstance(like, (float, int)) and np.ndim(value) == 0:
        return float(value)
    return np.asarray(value)


def _argnums_tuple(argnums) -> tuple[int, ...]:
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def _zeros_for(leaf: Tensor):
    return np.zeros(leaf.shape, dtype=leaf.dtype)


def _reverse(out, seed, leaves: list[Tensor], nested: bool) -> list:
    """Gradients of <seed, out> with respect to each leaf (zeros for leaves out does not depend on)."""
    if not (isinstance(out, Tensor) and out._requires_grad):
        return [_zeros_for(leaf) for leaf in leaves]
    if nested and not isinstance(seed, Tensor):
        seed = Tensor(seed)
    found = run_backward(out, seed, leaves, create_graph=nested)
    return [found[id(leaf)][1] if id(leaf) in found else _zeros_for(leaf) for leaf in leaves]


def _check_scalar(out, fname: str):
    size = out.size if isinstance(out, Tensor) else np.size(out)
    if size != 1:
        raise TypeError(
            f"{fname}: the function must return a scalar, got shape {np.shape(out)}; "
            "use jacobian or vjp for functions with array outputs"
        )


def value_and_grad(f, argnums=0, has_aux: bool = False):
    """A function returning ``(f(*args), df/dargs)`` in one reverse pass.

    Args:
        f: a function of arrays returning a scalar (or ``(scalar, aux)`` when ``has_aux``).
        argnums: which positional argument(s) to differentiate with respect to (int or tuple).
        has_aux: f returns a pair whose second element is passed through undifferentiated.

    Example:
        >>> import nablanet.numpy as np
        >>> value_and_grad(lambda x: np.sum(x ** 2))(np.array([1.0, 2.0]))
        (5.0, array([2., 4.]))
    """
    positions = _argnums_tuple(argnums)

    def wrapped(*args):
        originals = [args[i] for i in positions]
        with _transform() as nested:
            args = list(args)
            leaves = []
            for i in positions:
                leaf = _input_leaf(args[i], f"grad with respect to argument {i}")
                leaf._requires_grad = True
                args[i] = leaf
                leaves.append(leaf)
            result = f(*args)
            out, aux = result if has_aux else (result, None)
            _check_scalar(out, "grad")
            seed = np.ones_like(out._data if isinstance(out, Tensor) else np.asarray(out, dtype=float))
            grads = _reverse(out, seed, leaves, nested)
        grads = tuple(_as_output(g, original, nested) for g, original in zip(grads, originals))
        value = out if nested else float(out._data if isinstance(out, Tensor) else out)
        grads = grads[0] if isinstance(argnums, int) else grads
        return ((value, aux), grads) if has_aux else (value, grads)

    return wrapped


def grad(f, argnums=0, has_aux: bool = False):
    """The gradient of a scalar function: ``grad(f)(x)`` is df/dx, computed by reverse mode.

    Nest it for higher derivatives: ``grad(grad(f))`` is f''.

    Example:
        >>> import nablanet.numpy as np
        >>> grad(lambda x: np.exp(x ** 2))(1.0)   # 2 x exp(x^2) at x = 1
        5.43656365691809
        >>> grad(grad(grad(lambda x: x ** 4)))(2.0)   # 24 x
        48.0
    """
    value_and_grad_f = value_and_grad(f, argnums, has_aux)

    def wrapped(*args):
        value, grads = value_and_grad_f(*args)
        return (grads, value[1]) if has_aux else grads

    return wrapped


def vjp(f, *primals):
    """Reverse mode for any output: returns ``(f(*primals), vjp_fn)`` with ``vjp_fn(u) = u^T J``.

    ``vjp_fn`` takes a cotangent of the output's shape and returns a tuple with one gradient per
    primal. It may be called many times (the graph is kept).

    Example:
        >>> import nablanet.numpy as np
        >>> out, f_vjp = vjp(lambda x: x * np.array([1.0, 2.0, 3.0]), np.ones(3))
        >>> f_vjp(np.array([1.0, 1.0, 1.0]))
        (array([1., 2., 3.]),)
    """
    with _transform() as nested:
        leaves = []
        for i, value in enumerate(primals):
            leaf = _input_leaf(value, f"vjp with respect to argument {i}")
            leaf._requires_grad = True
            leaves.append(leaf)
        out = f(*leaves)
    out_shape = np.shape(out._data if isinstance(out, Tensor) else out)

    def vjp_fn(cotangent):
        if np.shape(cotangent._data if isinstance(cotangent, Tensor) else cotangent) != out_shape:
            raise ValueError(f"vjp: the cotangent has shape {np.shape(cotangent)}, the output has shape {out_shape}")
        inner = nested or state.transform_depth > 0
        grads = _reverse(out, cotangent, leaves, inner)
        return tuple(_as_output(g, p, inner) for g, p in zip(grads, primals))

    return _as_output(out, None, nested), vjp_fn


def jvp(f, primals, tangents):
    """Forward mode: ``(f(*primals), J v)``, pushing the tangents v through the ops' JVP rules.

    Tangents travel alongside the values as the function runs (no reverse pass is involved), so the
    cost is one evaluation of f and its rules whatever the number of outputs.

    Example:
        >>> import nablanet.numpy as np
        >>> jvp(lambda x: np.sin(x), (0.0,), (1.0,))
        (0.0, 1.0)
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: got {len(primals)} primals but {len(tangents)} tangents")
    level = next(_level_ids)
    with _transform() as nested:
        inputs = []
        for i, (value, tangent) in enumerate(zip(primals, tangents)):
            leaf = _input_leaf(value, f"jvp with respect to argument {i}")
            if np.shape(tangent) != leaf.shape:
                raise ValueError(f"jvp: tangent {i} has shape {np.shape(tangent)}, its primal has shape {leaf.shape}")
            leaf._tangents = {**leaf._tangents, level: _tangent_like(tangent, leaf)}
            inputs.append(leaf)
        state.jvp_levels = state.jvp_levels + [level]
        try:
            out = f(*inputs)
        finally:
            state.jvp_levels = [lv for lv in state.jvp_levels if lv != level]
    out_dot = out._tangents.get(level) if isinstance(out, Tensor) else None
    if out_dot is None:
        out_dot = np.zeros(np.shape(out), dtype=np.result_type(out._data if isinstance(out, Tensor) else out))
    like = primals[0] if len(primals) == 1 else None
    return _as_output(out, like, nested), _as_output(out_dot, like, nested)


def _tangent_like(tangent, leaf: Tensor):
    if isinstance(tangent, Tensor):
        return tangent
    return np.asarray(tangent, dtype=leaf.dtype)


def _basis(shape, dtype, index: int):
    e = np.zeros(int(np.prod(shape)), dtype=dtype)
    e[index] = 1
    return e.reshape(shape)


def jacobian(f, argnums: int = 0, mode: str = "reverse"):
    """The Jacobian J[i..., j...] = d f(x)[i...] / d x[j...], of shape out.shape + x.shape.

    Args:
        f: a function of arrays.
        argnums: the argument to differentiate with respect to.
        mode: "reverse" (one VJP per output element; best for few outputs) or "forward" (one JVP
            per input element; best for few inputs).

    Example:
        >>> import nablanet.numpy as np
        >>> jacobian(lambda x: x ** 2, mode="forward")(np.array([1.0, 2.0]))
        array([[2., 0.],
               [0., 4.]])
    """
    if mode not in ("reverse", "forward"):
        raise ValueError(f"jacobian: mode must be 'reverse' or 'forward', got {mode!r}")

    def reverse(*args):
        def f_of_x(x):
            return f(*args[:argnums], x, *args[argnums + 1:])

        with _transform() as nested:
            out, f_vjp = vjp(f_of_x, args[argnums])
            out_value = out._data if isinstance(out, Tensor) else np.asarray(out)
            rows = [f_vjp(_basis(out_value.shape, out_value.dtype, i))[0] for i in range(out_value.size)]
            x_shape = np.shape(args[argnums])
            result = _assemble(rows, out_value.shape + x_shape, nested)
        return _as_output(result, None, nested)

    def forward(*args):
        x = args[argnums]
        x_value = x._data if isinstance(x, Tensor) else np.asarray(x, dtype=float)

        def f_of_x(x):
            return f(*args[:argnums], x, *args[argnums + 1:])

        with _transform() as nested:
            columns = []
            out_shape = None
            for j in range(x_value.size):
                out, column = jvp(f_of_x, (x,), (_basis(x_value.shape, x_value.dtype, j),))
                out_shape = np.shape(out._data if isinstance(out, Tensor) else out)
                columns.append(column)
            # Columns are d out / d x_j: stack them last, then give x its own axes.
            if nested:
                stacked = stack(columns, axis=-1) if columns else np.zeros((0,))
            else:
                stacked = np.stack([_value(c) for c in columns], axis=-1)
            result = reshape(stacked, tuple(out_shape) + x_value.shape)
        return _as_output(result, None, nested)

    return reverse if mode == "reverse" else forward


def _assemble(rows, shape, nested):
    if nested:
        return reshape(stack(rows, axis=0), shape)
    return np.stack([_value(r) for r in rows]).reshape(shape)


def _value(x) -> np.ndarray:
    return x._data if isinstance(x, Tensor) else np.asarray(x)


def jacrev(f, argnums: int = 0):
    """Reverse-mode Jacobian (one VJP per output element)."""
    return jacobian(f, argnums, mode="reverse")


def jacfwd(f, argnums: int = 0):
    """Forward-mode Jacobian (one JVP per input element)."""
    return jacobian(f, argnums, mode="forward")


def hessian(f, argnums: int = 0):
    """The Hessian of a scalar function, forward-over-reverse: the forward-mode Jacobian of the gradient.

    Example:
        >>> import nablanet.numpy as np
        >>> A = np.array([[1.0, 2.0], [0.0, 3.0]])
        >>> hessian(lambda x: x @ A @ x)(np.array([1.0, -1.0]))   # A + A^T
        array([[2., 2.],
               [2., 6.]])
    """
    return jacobian(grad(f, argnums), argnums, mode="forward")
