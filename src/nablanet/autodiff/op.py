"""The Op contract: one primitive = forward + reverse rule (VJP) + forward rule (JVP), and the registry."""

from __future__ import annotations

import inspect
import itertools

import numpy as np

from nablanet.autodiff import batching, state
from nablanet.autodiff.jit.tracing import Traced as _Traced
from nablanet.autodiff.tensor import Tensor, new_tensor

OPS: dict[str, type[Op]] = {}


def traced(x) -> bool:
    """Whether x is a value the engine follows: a Tensor, or under vmap a batch of one."""
    return isinstance(x, Tensor) or type(x) is batching.BatchTracer


def raw(x):
    """An operand's array: a Tensor's data (under vmap a batch, which stands for its own data), else
    numpy.asarray of it. Rules and public functions read shapes and values through this."""
    if isinstance(x, Tensor) or type(x) is batching.BatchTracer:
        return x._data
    if type(x) is _Traced:
        return x  # nablanet.jit's traced array: NumPy work on it is recorded, as on the op's output
    return np.asarray(x)


class Op:
    """A primitive operation of the engine.

    Subclasses define, as plain functions in the class body (no ``self``), a forward computation and
    its rules. Every rule has the one signature: the arrays it works on positionally, then as
    keywords the op's settings and what the engine knows of this call.

    - ``forward(*inputs, **settings)``: ndarrays in, ndarray out.
    - ``vjp(grad_out, out, *inputs, needs, **settings)``: one gradient per input (``None`` = no
      gradient). It may return gradients in the broadcast shape; the engine sums them back to each
      input's shape.
    - ``jvp(*input_dots, out, *inputs, needs, **settings)``: the output tangent. An input without a
      tangent gets zeros of its shape.
    - ``batch(cls, *inputs, batched, batched_settings, **settings)`` (optional): the op under vmap,
      called with the op's class first, as a classmethod is.

    ``needs`` is a sequence of booleans, one per input: for ``vjp`` which inputs' gradients are
    wanted, for ``jvp`` which inputs carry a tangent (PyTorch's ``ctx.needs_input_grad``). A rule may
    use it to skip work (the input gradient of the first layer, the gradient of a constant
    exponent) or ignore it; an entry that is False may be returned as anything, the engine drops it.

    The rules are written with nablanet's own functions and operators, never raw NumPy calls, so
    they work on plain ndarrays (fast first-order pass) and on Tensors (when a derivative of a
    derivative is wanted, they are recorded like any other computation). Array tricks that make a
    forward or a first-order rule fast live in ``nablanet.kernels``, so that the op reads as its
    mathematics.

    An op may keep a residual: a by-product of its forward computation that its rules need and that
    would cost a second pass to rebuild (a convolution's patch matrix, the position of each window's
    maximum), as JAX's ``custom_vjp`` keeps residuals and PyTorch's ``save_for_backward``. It sets
    ``keeps_residual = True``, its forward returns ``(out, residual)``, and its rules receive the
    residual among the settings, as the keyword ``residual``. The residual is computed from the
    inputs' values, so it is a constant to the engine: a rule may use it on plain ndarrays (the
    first-order pass), but on Tensors (a derivative of a derivative) it must recompute what depends
    on the inputs, or the higher derivative would miss that dependence.

    An op may declare how it batches under ``vmap``: ``batch`` receives the inputs' values (a
    batched one with the batch on axis 0), ``batched`` (one boolean per input), ``batched_settings``
    (the names of the settings whose values are batched, usually none) and the settings, and returns
    the batched output (with the batch on axis 0), or None to decline. ``batching.py`` has the rules
    families share (``elementwise``, ``along_axis``). An op without one, or whose rule declines (as
    a rule does for a batched setting it cannot batch), runs once per example under vmap.

    Rules written for earlier versions are still accepted, and ``register`` gives them the one
    signature: a vjp or jvp without ``needs``, a batch rule ``batch(cls, values, batched, **settings)``
    taking the inputs as one list (it declines batched settings unless it takes ``batched_settings``,
    as before). Every op of nablanet is written in the one signature.

    An op may define ``forward_with_vjp(*inputs, grad_out, needs, **settings)``, returning ``(out,
    vjp's result)`` computed together on arrays, equal to ``forward`` then ``vjp`` bit for bit: a compiled
    program that runs the op's forward and then its VJP on the same inputs with a constant ``grad_out`` (a
    loss and its seed) calls it once instead (``nablanet.autodiff.jit.program``).

    ``differentiable = False`` marks ops whose output is piecewise constant (comparisons, sign):
    their results are never traced.
    """

    name: str = ""
    differentiable: bool = True
    keeps_residual: bool = False
    batch = None

    # Placeholders for the contract above: register() refuses an op without forward, and replaces a
    # missing vjp or jvp with a rule that names the op and the mode when a derivative is asked for.
    def forward(*inputs, **settings):
        """The output computed from the inputs' values (ndarrays), as the class docstring says."""
        raise NotImplementedError("Op.forward")

    def vjp(grad_out, out, *inputs, needs, **settings):
        """The reverse rule: one gradient per input, from the output's gradient ``grad_out`` (see the class docstring)."""
        raise NotImplementedError("Op.vjp")

    def jvp(*args, needs, **settings):
        """The forward rule: the output's tangent from the inputs' tangents (see the class docstring)."""
        raise NotImplementedError("Op.jvp")

    def flops(out, *inputs, **settings):
        """Floating-point operations of the forward computation (count_ops): one per output element."""
        return int(np.size(out))

    @classmethod
    def apply(cls, *args, **settings):
        """Run the op on Tensors or arrays, recording it where a derivative may be asked for."""
        for a in args:
            if isinstance(a, Tensor):
                break
        else:
            # Plain arrays (the rules' own fast path): compute, count, nothing to record.
            out_data = _forward(cls, args, settings)
            if cls.keeps_residual:
                out_data = out_data[0]
            if state.counter is not None:
                state.counter.record(cls, out_data, args, settings)
            return out_data
        if state.batch_depth and batching.outranks_tensors(args, settings):
            # A batched value of a vmap running inside the transforms these Tensors belong to (grad
            # of a vmapped function): the batch wraps them, the op is recorded on whole batches.
            out_data = batching.apply_batched(cls, args, settings)
            return out_data[0] if cls.keeps_residual else out_data
        raw = []
        needs = []
        traced = requires = False
        outer_level = batching.tensor_level_split(args, settings) if state.batch_depth else 0
        for a in args:
            if outer_level and isinstance(a, Tensor) and batching.is_outer(a, outer_level):
                # A Tensor of a transform outside the vmap whose batch this op meets, beside Tensors of
                # transforms inside it: to those it is a value (the batch wraps it, its graph records
                # whole batches), so this node does not differentiate through it.
                if cls.keeps_residual:
                    raise batching.BatchingUnsupported(f"vmap: {cls.name} keeps a residual, which an outer "
                                                       "transform's Tensor cannot be batched into")
                raw.append(a)
                needs.append(False)
            elif isinstance(a, Tensor):
                raw.append(a._data)
                needs.append(a._requires_grad)
                if a._requires_grad:
                    requires = traced = True
                elif a._tangents:
                    traced = True
            else:
                raw.append(a)
                needs.append(False)
        if state.tracer is not None:
            state.tracer.note_tensors(args)
        out_data = _forward(cls, raw, settings)
        if cls.keeps_residual:
            out_data, residual = out_data
        if state.counter is not None:
            state.counter.record(cls, out_data, raw, settings)
        out = new_tensor(out_data)
        if state.batch_depth:
            out._level = max(a._level for a in args if isinstance(a, Tensor))
        if not traced or not cls.differentiable:
            return out
        if cls.keeps_residual:
            # Kept with the settings, so both rules receive it as a keyword like any other setting.
            settings = {**settings, "residual": residual}
        if requires and state.grad_enabled:
            out._requires_grad = True
            out._op = cls
            out._inputs = args
            out._raw = raw
            out._needs = needs
            out._settings = settings
            out._seq = next(_sequence)
        if state.jvp_levels:
            _push_tangents(cls, out, args, settings)
        return out


# Recorded nodes are numbered in creation order: a result is always numbered after its inputs, so
# decreasing numbers are a valid order for the reverse pass (as in PyTorch's engine).
_sequence = itertools.count(1)


def _forward(cls, raw, settings):
    if state.batch_depth and batching.has_tracer(raw, settings):
        return batching.apply_batched(cls, raw, settings)
    if state.tracer is not None:
        # nablanet.jit is tracing: the one place every primitive's forward runs records it.
        return state.tracer.op(cls, raw, settings, _run_forward)
    return _run_forward(cls, raw, settings)


def _run_forward(cls, raw, settings):
    try:
        return cls.forward(*raw, **settings)
    except np.linalg.LinAlgError:
        raise
    except (ValueError, IndexError) as err:
        # NumPy's kind of error (an index out of bounds stays an IndexError), with the op and shapes.
        kind = IndexError if isinstance(err, IndexError) else ValueError
        shapes = " and ".join(str(np.shape(r)) for r in raw)
        raise kind(f"{cls.name}: cannot apply to inputs of shape {shapes}: {err}") from None


def _push_tangents(op, out, args, settings):
    """Forward mode: give ``out`` a tangent for every active level whose tangent reaches an input.

    A level's rule is evaluated with that level and all inner ones switched off, so the tangent it
    produces can carry outer tangents (nested jvp) but is never confused with its own level.
    """
    levels = state.jvp_levels
    for depth, level in enumerate(levels):
        dots = [a._tangents.get(level) if isinstance(a, Tensor) else None for a in args]
        if all(d is None for d in dots):
            continue
        needs = tuple(d is not None for d in dots)
        dots = [_zeros_like(a, out) if d is None else d for a, d in zip(args, dots)]
        saved = state.jvp_levels
        state.jvp_levels = levels[:depth]
        try:
            if state.batch_depth:
                out_dot = batching.call_rule(op.jvp, (*dots, out, *args), {**settings, "needs": needs})
            else:
                out_dot = op.jvp(*dots, out, *args, needs=needs, **settings)
            out._tangents = {**out._tangents, level: out_dot}
        finally:
            state.jvp_levels = saved


def _zeros_like(a, out):
    # The dtype comes from the output so that a constant operand never promotes a float32 tangent.
    return np.zeros(np.shape(a._data if isinstance(a, Tensor) else a), dtype=out._data.dtype)


def _missing_rule(name: str, mode: str):
    def missing(*args, needs, **settings):
        raise NotImplementedError(f"{name} has no {mode} rule, so this derivative cannot be taken")

    return missing


def _same_definition(previous, cls) -> bool:
    """True when cls is previous defined again (a notebook cell or a module run twice): it replaces it."""
    return (previous.__module__, previous.__qualname__) == (cls.__module__, cls.__qualname__)


def _parameters(rule) -> dict:
    return inspect.signature(rule).parameters


def _given_needs(rule):
    """A vjp or jvp rule written without ``needs`` (before every rule took it), with the one signature."""

    def rule_given_needs(*args, needs, **settings):
        return rule(*args, **settings)

    rule_given_needs.__name__, rule_given_needs.__qualname__ = rule.__name__, rule.__qualname__
    rule_given_needs.__doc__ = rule.__doc__
    return rule_given_needs


def _batch_given_inputs(rule):
    """A batch rule of the earlier form ``(cls, values, batched, **settings)``, in the one signature."""
    takes_batched_settings = "batched_settings" in _parameters(rule)

    def batch(cls, *values, batched, batched_settings, **settings):
        if takes_batched_settings:
            return rule(cls, list(values), list(batched), batched_settings=batched_settings, **settings)
        if batched_settings:
            # The earlier engine ran such an op per example when a setting was batched.
            return None
        return rule(cls, list(values), list(batched), **settings)

    batch.__name__, batch.__qualname__, batch.__doc__ = rule.__name__, rule.__qualname__, rule.__doc__
    return batch


def _is_one_signature_batch(rule) -> bool:
    parameters = _parameters(rule)
    return all(name in parameters and parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
               for name in ("batched", "batched_settings"))


def register(cls):
    """Class decorator: give the op its name, check its rules' signatures, add it to OPS.

    This is the extension API for new primitives (see docs/custom_derivatives.md). A rule of an
    earlier form (a vjp or jvp without ``needs``, a batch rule taking the inputs as one list) is
    given the one signature of Op's docstring. Defining an op again under the same class name and
    module (re-running a notebook cell) replaces the old one; a different op under a name already
    taken is an error.
    """
    if not cls.name:
        cls.name = cls.__name__.lower()
    previous = OPS.get(cls.name)
    if previous is not None and not _same_definition(previous, cls):
        raise ValueError(f"an op named {cls.name!r} is already registered (by {previous.__module__}."
                         f"{previous.__qualname__}); give yours another name")
    if cls.forward is Op.forward:
        raise TypeError(f"op {cls.name!r} defines no forward computation")
    # An op without a rule gets one that says which op and which mode lack it, when it is first needed.
    if cls.vjp is Op.vjp:
        cls.vjp = _missing_rule(cls.name, "reverse-mode (vjp)")
    if cls.jvp is Op.jvp:
        cls.jvp = _missing_rule(cls.name, "forward-mode (jvp)")
    if cls.keeps_residual:
        for mode, rule in (("vjp", cls.vjp), ("jvp", cls.jvp)):
            parameters = _parameters(rule)
            takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
            if "residual" not in parameters and not takes_any:
                raise TypeError(f"op {cls.name!r} keeps a residual, but its {mode} rule takes no 'residual' keyword")
    if "needs" not in _parameters(cls.vjp):
        cls.vjp = _given_needs(cls.vjp)
    if "needs" not in _parameters(cls.jvp):
        cls.jvp = _given_needs(cls.jvp)
    if cls.batch is not None and not _is_one_signature_batch(cls.batch):
        cls.batch = _batch_given_inputs(cls.batch)
    OPS[cls.name] = cls
    return cls
