"""Derivatives users define: custom_vjp, custom_jvp and checkpoint, each a one-off primitive of the engine.

Each wraps a Python function into an op made for it (not registered in ``OPS``: it belongs to that
function). Inputs and outputs may be pytrees: the op sees the differentiable leaves as its array
inputs and returns all output leaves raveled into one vector, which is cut back into the output's
structure by ordinary (differentiable) indexing, so one evaluation serves every output.

- ``custom_vjp(f)`` with ``f.defvjp(f_fwd, f_bwd)``: JAX's API. ``f_fwd(*args) -> (out, residuals)``,
  ``f_bwd(residuals, g) -> one cotangent per argument``. Forward mode is refused, as in JAX. For a
  derivative of the derivative, the forward pass is rerun on the recorded inputs so that the
  residuals' dependence on them is seen (a first-order pass uses the residuals saved by f_fwd).
- ``custom_jvp(f)`` with ``@f.defjvp def f_jvp(primals, tangents) -> (out, out_dot)``: JAX's API. The
  reverse rule is the transpose of the (linear) map tangents -> out_dot, taken by reverse mode on it.
- ``checkpoint(f)``: the same values and derivatives as f, but its intermediate values are not kept
  for the reverse pass: f is run again there (JAX's ``checkpoint``/``remat``, PyTorch's
  ``torch.utils.checkpoint``). Memory for compute.
"""

from __future__ import annotations

import functools

import numpy as np

from nablanet.autodiff import state
from nablanet.autodiff.op import Op
from nablanet.autodiff.ops.shape import concatenate, getitem, reshape
from nablanet.autodiff.tensor import Tensor
from nablanet.autodiff.tree import tree_flatten, tree_unflatten

__all__ = ["custom_vjp", "custom_jvp", "checkpoint"]


def _is_array_leaf(value) -> bool:
    """A leaf that can carry a derivative: a Tensor, an ndarray or a number of a float/complex dtype."""
    if isinstance(value, Tensor):
        return np.issubdtype(value.dtype, np.inexact)
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (float, complex, np.floating, np.complexfloating)):
        return True
    return isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.inexact)


def _raw(x):
    return x._data if isinstance(x, Tensor) else x


class _Packing:
    """How a call's arguments and result map to an op's flat array inputs and its one flat output."""

    def __init__(self, args, nondiff_argnums):
        self.nondiff = frozenset(nondiff_argnums)
        self.args = list(args)
        self.structures = []
        self.slots = []  # per differentiable argument: positions of its array leaves among the op inputs
        self.leaves = []  # per differentiable argument: all its leaves
        arrays = []
        for i, arg in enumerate(self.args):
            if i in self.nondiff:
                self.structures.append(None)
                self.slots.append(None)
                self.leaves.append(None)
                continue
            leaves, structure = tree_flatten(arg)
            slots = []
            for leaf in leaves:
                if _is_array_leaf(leaf):
                    slots.append(len(arrays))
                    arrays.append(leaf)
                else:
                    slots.append(None)
            self.structures.append(structure)
            self.slots.append(slots)
            self.leaves.append(leaves)
        self.arrays = arrays

    def rebuild(self, arrays):
        """The call's arguments with the op inputs ``arrays`` in place of the array leaves."""
        args = list(self.args)
        for i, structure in enumerate(self.structures):
            if structure is None:
                continue
            leaves = [leaf if slot is None else arrays[slot] for leaf, slot in zip(self.leaves[i], self.slots[i])]
            args[i] = tree_unflatten(structure, leaves)
        return args

    def cotangents_to_inputs(self, cotangents, fname):
        """The cotangent pytree per argument (from f_bwd) as one gradient per op input."""
        differentiable = [i for i in range(len(self.args)) if i not in self.nondiff]
        if not isinstance(cotangents, (tuple, list)) or len(cotangents) != len(differentiable):
            raise TypeError(f"{fname}: the backward function must return a tuple with one cotangent per "
                            f"differentiable argument ({len(differentiable)}), got {type(cotangents).__name__}"
                            + (f" of length {len(cotangents)}" if isinstance(cotangents, (tuple, list)) else ""))
        grads = [None] * len(self.arrays)
        for i, cotangent in zip(differentiable, cotangents):
            if cotangent is None:
                continue
            ct_leaves, ct_structure = tree_flatten(cotangent)
            if ct_structure != self.structures[i]:
                raise TypeError(f"{fname}: the cotangent of argument {i} has structure {ct_structure!r}, "
                                f"the argument {self.structures[i]!r}")
            for slot, ct in zip(self.slots[i], ct_leaves):
                if slot is not None and ct is not None:
                    grads[slot] = ct if isinstance(ct, Tensor) else np.asarray(ct)
        return grads


class _Output:
    """A function's output pytree as one flat vector of its leaves (the op's single output), and back."""

    def __init__(self, out):
        leaves, self.structure = tree_flatten(out)
        self.shapes = [np.shape(_raw(leaf)) for leaf in leaves]
        dtypes = [np.asarray(_raw(leaf)).dtype if not isinstance(leaf, Tensor) else leaf.dtype for leaf in leaves]
        self.dtype = np.result_type(*dtypes) if dtypes else np.float64
        if any(np.dtype(d) != self.dtype for d in dtypes):
            raise TypeError(f"the outputs of a custom derivative must share one dtype, got {[str(d) for d in dtypes]}")
        if not np.issubdtype(self.dtype, np.inexact):
            raise TypeError(f"the outputs of a custom derivative must be floating or complex, got {self.dtype}")

    def flat(self, out):
        """The leaves of out raveled and joined (with nablanet ops, so it is differentiable)."""
        leaves = tree_flatten(out)[0]
        if len(leaves) == 1:
            return reshape(leaves[0], (-1,))
        return concatenate([reshape(leaf, (-1,)) for leaf in leaves])

    def flat_raw(self, out):
        leaves = tree_flatten(out)[0]
        return np.concatenate([np.ravel(np.asarray(_raw(leaf), dtype=self.dtype)) for leaf in leaves]) \
            if leaves else np.zeros(0, self.dtype)

    def unflat(self, vector):
        if len(self.shapes) == 1:
            return tree_unflatten(self.structure, [reshape(vector, self.shapes[0])])
        pieces = []
        start = 0
        for shape in self.shapes:
            size = int(np.prod(shape))
            pieces.append(reshape(getitem(vector, slice(start, start + size)), shape))
            start += size
        return tree_unflatten(self.structure, pieces)

    def split(self, vector):
        """A flat cotangent cut into the output's structure (plain slices: no op recorded on arrays)."""
        return self.unflat(vector)


def _make_op(name: str, forward, vjp, jvp) -> type[Op]:
    """A one-off op class (not registered): its rules, in Op's one signature, receive every input as an array input."""
    attributes = {"name": name, "forward": staticmethod(forward), "vjp": staticmethod(vjp),
                  "jvp": staticmethod(jvp), "flops": staticmethod(lambda out, *inputs, **settings: 0),
                  "__doc__": f"The custom derivative of {name}."}
    return type(f"Custom_{name}", (Op,), attributes)


def _function_name(f) -> str:
    return getattr(f, "__name__", type(f).__name__)


class _CustomDerivative:
    """What custom_vjp and custom_jvp share: the wrapped function, its fixed arguments, method use."""

    kind = ""

    def __init__(self, f, nondiff_argnums=()):
        functools.update_wrapper(self, f)
        self.fun = f
        self.nondiff_argnums = tuple(nondiff_argnums)

    def __get__(self, instance, owner):
        return self if instance is None else functools.partial(self, instance)

    def _packing(self, args, rule, how: str):
        """The call's packing, or None when nothing in it carries a derivative (then f runs as it is)."""
        if rule is None:
            raise TypeError(f"{self.kind} {_function_name(self.fun)!r}: no rule yet; {how} first")
        packing = _Packing(args, self.nondiff_argnums)
        return packing if any(_carries_derivative(a) for a in packing.arrays) else None


class custom_vjp(_CustomDerivative):
    """A function with a reverse-mode derivative of your own (JAX's ``jax.custom_vjp``).

    Use it where autodiff through the function would be unstable, wasteful, or impossible (a call
    to a solver written in plain NumPy): decorate the function, then give the forward pass that
    saves residuals and the backward pass that turns an output cotangent into input cotangents.

    Args:
        f: the function; its arguments and result may be pytrees of arrays.
        nondiff_argnums: positions of arguments that are not differentiated (settings, callables);
            they are passed to f_bwd first, before the residuals, as in JAX.

    Example (JAX's documented f(x, y) = sin(x) y):
        >>> import nablanet.numpy as np
        >>> from nablanet import grad
        >>> @custom_vjp
        ... def f(x, y):
        ...     return np.sin(x) * y
        >>> def f_fwd(x, y):
        ...     return f(x, y), (np.cos(x), np.sin(x), y)
        >>> def f_bwd(residuals, g):
        ...     cos_x, sin_x, y = residuals
        ...     return (cos_x * g * y, sin_x * g)
        >>> f.defvjp(f_fwd, f_bwd)
        >>> round(float(grad(f)(2.0, 3.0)), 6)   # cos(2) * 3
        -1.248441
    """

    kind = "custom_vjp"

    def __init__(self, f, nondiff_argnums=()):
        super().__init__(f, nondiff_argnums)
        self.fwd = self.bwd = None

    def defvjp(self, fwd, bwd):
        """Set the forward pass ``fwd(*args) -> (out, residuals)`` and ``bwd(residuals, g) -> cotangents``."""
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args):
        packing = self._packing(args, self.fwd, "call .defvjp(fwd, bwd)")
        if packing is None:
            return self.fun(*args)
        name = _function_name(self.fun)
        fun, fwd, bwd = self.fun, self.fwd, self.bwd
        nondiff = [args[i] for i in sorted(self.nondiff_argnums)]
        output_box = {}

        def forward(*arrays):
            out, residuals = fwd(*packing.rebuild(list(arrays)))
            output = _Output(out)
            output_box["output"] = output
            output_box["residuals"] = residuals
            return output.flat_raw(out)

        def vjp(grad_out, out, *arrays, needs):
            output = output_box["output"]
            if isinstance(grad_out, Tensor) or any(isinstance(a, Tensor) for a in arrays):
                # A derivative of the derivative: rerun the forward pass on the recorded inputs, so
                # the residuals carry their dependence on them.
                _, residuals = fwd(*packing.rebuild(list(arrays)))
            else:
                residuals = output_box["residuals"]
            cotangents = bwd(*nondiff, residuals, output.split(grad_out))
            return tuple(packing.cotangents_to_inputs(cotangents, f"custom_vjp {name!r}"))

        def jvp(*args, needs):
            raise TypeError(f"can't apply forward-mode autodiff (jvp) to a custom_vjp function ({name!r}); "
                            "define it with custom_jvp instead, whose reverse mode comes by transposition")

        op = _make_op(name, forward, vjp, jvp)
        flat = op.apply(*packing.arrays)
        return output_box["output"].unflat(flat)


class custom_jvp(_CustomDerivative):
    """A function with a forward-mode derivative of your own (JAX's ``jax.custom_jvp``).

    ``@f.defjvp`` registers ``f_jvp(primals, tangents) -> (primal_out, tangent_out)``, with primals
    and tangents tuples of the differentiable arguments. The tangent output must be linear in the
    tangents (it is a derivative); reverse mode then comes from transposing it, by reverse mode on
    that linear map, so ``grad`` works too, to any order.

    Example (JAX's documented f(x, y) = sin(x) y):
        >>> import nablanet.numpy as np
        >>> from nablanet import grad, jvp
        >>> @custom_jvp
        ... def f(x, y):
        ...     return np.sin(x) * y
        >>> @f.defjvp
        ... def f_jvp(primals, tangents):
        ...     x, y = primals
        ...     x_dot, y_dot = tangents
        ...     return f(x, y), np.cos(x) * x_dot * y + np.sin(x) * y_dot
        >>> round(float(grad(f)(2.0, 3.0)), 6)   # cos(2) * 3
        -1.248441
    """

    kind = "custom_jvp"

    def __init__(self, f, nondiff_argnums=()):
        super().__init__(f, nondiff_argnums)
        self.jvp_rule = None

    def defjvp(self, jvp_rule):
        """Set ``jvp_rule(primals, tangents) -> (out, out_dot)``; returns it, so it works as a decorator."""
        self.jvp_rule = jvp_rule
        return jvp_rule

    def __call__(self, *args):
        packing = self._packing(args, self.jvp_rule, "decorate one with @.defjvp")
        if packing is None:
            return self.fun(*args)
        name = _function_name(self.fun)
        fun, rule = self.fun, self.jvp_rule
        nondiff_positions = sorted(self.nondiff_argnums)
        output_box = {}

        def split_call(arrays):
            full = packing.rebuild(list(arrays))
            nondiff = [full[i] for i in nondiff_positions]
            diff = tuple(a for i, a in enumerate(full) if i not in packing.nondiff)
            return nondiff, diff

        def tangents_like(arrays, dots):
            """The tangent pytree per differentiable argument, zeros for non-array leaves."""
            full = packing.rebuild(list(dots))
            return tuple(a for i, a in enumerate(full) if i not in packing.nondiff)

        def call_rule(arrays, dots):
            nondiff, primals = split_call(arrays)
            return rule(*nondiff, primals, tangents_like(arrays, dots))

        def forward(*arrays):
            out = fun(*packing.rebuild(list(arrays)))
            output = _Output(out)
            output_box["output"] = output
            return output.flat_raw(out)

        def jvp(*rest, needs):
            n = len(packing.arrays)
            dots, arrays = rest[:n], rest[n + 1:]
            _, out_dot = call_rule(arrays, dots)
            return output_box["output"].flat(out_dot)

        def vjp(grad_out, out, *arrays, needs):
            from nablanet.autodiff.transforms import vjp as vjp_transform

            zeros = [np.zeros(np.shape(_raw(a)), dtype=np.result_type(_raw(a))) for a in arrays]

            def tangent_map(*dots):
                return output_box["output"].flat(call_rule(arrays, dots)[1])

            _, transpose = vjp_transform(tangent_map, *zeros)
            return transpose(grad_out)

        op = _make_op(name, forward, vjp, jvp)
        flat = op.apply(*packing.arrays)
        return output_box["output"].unflat(flat)


def _carries_derivative(value) -> bool:
    if state.batch_depth:
        return True
    return isinstance(value, Tensor) and (value._requires_grad or bool(value._tangents))


def checkpoint(f, *, static_argnums=()):
    """f with the same values and derivatives, recomputing its intermediates in the reverse pass.

    Gradient checkpointing (JAX's ``jax.checkpoint``, PyTorch's ``torch.utils.checkpoint``): the
    reverse pass needs every intermediate value of f; a checkpointed f keeps only its inputs and
    runs f again when its gradient is wanted. Use it on blocks of a deep network or a long
    unrolled simulation to trade compute for memory. Forward mode is unchanged.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import grad
        >>> block = checkpoint(lambda x: np.sin(np.sin(x)))
        >>> grad(lambda x: np.sum(block(x)))(np.array([0.5])) == grad(lambda x: np.sum(np.sin(np.sin(x))))(np.array([0.5]))
        array([ True])
    """
    static = frozenset(static_argnums)

    @functools.wraps(f)
    def wrapped(*args):
        packing = _Packing(args, static)
        if state.jvp_levels or not any(isinstance(a, Tensor) and a._requires_grad for a in packing.arrays):
            return f(*args)
        name = f"checkpoint({_function_name(f)})"
        output_box = {}

        def forward(*arrays):
            out = f(*packing.rebuild(list(arrays)))
            output = _Output(out)
            output_box["output"] = output
            return output.flat_raw(out)

        def vjp(grad_out, out, *arrays, needs):
            from nablanet.autodiff.transforms import vjp as vjp_transform

            def flat_f(*xs):
                return output_box["output"].flat(f(*packing.rebuild(list(xs))))

            _, f_vjp = vjp_transform(flat_f, *arrays)
            return f_vjp(grad_out)

        def jvp(*rest, needs):
            raise AssertionError("checkpoint: forward mode runs f itself")

        op = _make_op(name, forward, vjp, jvp)
        flat = op.apply(*packing.arrays)
        return output_box["output"].unflat(flat)

    return wrapped
