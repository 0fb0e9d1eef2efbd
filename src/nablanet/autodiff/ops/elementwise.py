"""Elementwise primitives: arithmetic, the exp/log family, sin/cos/tanh, sigmoid, choices (maximum, where, clip).

The other trigonometric and hyperbolic functions live in ``trig.py``.

Complex numbers follow JAX's convention. A tangent (JVP) is the directional derivative, as for real
numbers. A cotangent (VJP) is paired with a tangent by Re(sum(u * v)), without conjugation, so the
rule of a holomorphic function (exp, log, sin, multiply, ...) is the same for complex as for real
inputs: grad_x = grad_out * f'(x). Only the non-holomorphic ones (abs, real, imag, conj, angle)
need their own: for a tangent map v -> a v + b conj(v), the VJP is u -> u a + conj(u b). The
gradient of a real-valued function of z is then df/dx - i df/dy (JAX's; PyTorch returns its conjugate).

Every function under a NumPy ufunc's name takes the ufunc's keywords (``out=``, ``where=``,
``dtype=``, ...) at their defaults and refuses any other value by name: results are always new
arrays, and Tensors are immutable.
"""

from __future__ import annotations

import functools
import inspect
import math

import numpy as np

from nablanet.autodiff import batching
from nablanet.autodiff.op import Op, register
from nablanet.autodiff.jit.tracing import Traced as _Traced
from nablanet.autodiff.tensor import Tensor

__all__ = [
    "add", "subtract", "multiply", "divide", "negative", "power", "exp", "log", "log1p", "expm1",
    "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "maximum", "minimum", "where", "clip",
    "astype", "sign", "square", "reciprocal", "absolute", "true_divide", "logaddexp",
    "real", "imag", "conj", "conjugate", "angle",
    "pow", "float_power", "exp2", "log2", "log10", "cbrt", "logaddexp2", "fmax", "fmin", "remainder",
    "mod", "fmod", "copysign", "fabs", "positive", "nan_to_num", "real_if_close",
]

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def _values(x):
    """The array behind a Tensor (anything else as it is)."""
    return x._data if isinstance(x, Tensor) else x


def _is_plain(x) -> bool:
    """Neither a Tensor nor a batch under vmap: a composite may hand it to NumPy's own function."""
    return not isinstance(x, (Tensor, batching.BatchTracer))


def _example_values(x, name: str) -> np.ndarray:
    """The values of a Tensor, where a composite reads them as data (a dtype chosen by the values,
    masks of non-finite numbers); under vmap that needs one example, so vmap runs it per example."""
    values = _values(x)
    if not isinstance(values, np.ndarray):
        raise batching.BatchingUnsupported(f"vmap: {name} reads the values of one example")
    return values


def _any(mask) -> bool:
    """Whether a mask read off the values has a true entry; True for a batch of masks under vmap
    (a BatchTracer) or a traced one (nablanet.jit), which then takes the general path of the rule."""
    if isinstance(mask, _Traced):
        return True  # nablanet.jit traces the general path, right for every value
    if isinstance(mask, (np.ndarray, np.generic, bool)):
        return bool(np.any(mask))
    return True


def _as_mask(condition, like):
    """A boolean condition (or another constant read off the values) as an array of like's dtype,
    so that masks never upcast float32."""
    if isinstance(condition, batching.BatchTracer):
        return astype(condition, like.dtype)
    # asanyarray: nablanet.jit's traced mask stays traced, so the conversion is recorded.
    return np.asanyarray(condition).astype(like.dtype)


# NumPy's ufunc keywords and their defaults. At the default a keyword changes nothing, so it is
# accepted; any other value is refused by name.
_UFUNC_KEYWORDS = {"out": None, "where": True, "casting": "same_kind", "order": "K", "dtype": None,
                   "subok": True, "signature": None}


def _check_ufunc_keywords(name: str, kwargs: dict) -> None:
    for key, value in kwargs.items():
        if key not in _UFUNC_KEYWORDS:
            raise TypeError(f"{name}() got an unexpected keyword argument {key!r}")
        default = _UFUNC_KEYWORDS[key]
        if value is default or (isinstance(default, (bool, str)) and isinstance(value, (bool, np.bool_, str))
                                and value == default):
            continue
        if key == "out":
            why = "results are always new arrays (Tensors are immutable); use the returned value"
        else:
            why = f"only its default {key}={default!r} is"
        raise TypeError(f"{name}: numpy.{name}'s keyword {key}= is not supported ({why}); got {key}={value!r}")


def _ufunc(fn):
    """fn(*arrays) called as NumPy's ufunc of the same name: its keywords are checked (see above).

    fn's own parameters may also be passed by name (power(x, y=3)), which NumPy does not allow.
    """
    name = fn.__name__
    parameters = frozenset(inspect.signature(fn).parameters)

    @functools.wraps(fn)
    def ufunc(*args, **kwargs):
        if kwargs:
            _check_ufunc_keywords(name, {k: v for k, v in kwargs.items() if k not in parameters})
            return fn(*args, **{k: v for k, v in kwargs.items() if k in parameters})
        return fn(*args)

    return ufunc


def _refuse_complex(name: str, *inputs) -> None:
    """NumPy orders complex numbers lexicographically; that order has no derivative, so it is refused."""
    if any(_is_complex(x) for x in inputs):
        raise TypeError(f"{name}: complex inputs are not supported (NumPy orders complex numbers "
                        "lexicographically, which has no derivative); compare real(x) or abs(x) instead")


def _unary_rules(cls):
    """Give an op of one input the rules of its derivative ``slope(x, out)``, a function in the class
    body written with ops: grad_x = grad_out * slope and out_dot = x_dot * slope (for a holomorphic
    function the same with complex numbers)."""
    slope = cls.slope

    def vjp(grad_out, out, x, *, needs):
        return (grad_out * slope(x, out),)

    def jvp(x_dot, out, x, *, needs):
        return x_dot * slope(x, out)

    cls.vjp = vjp
    cls.jvp = jvp
    return cls


def _choice_rules(cls):
    """Give an op whose output is, elementwise, one of its two inputs the rules of that choice.

    ``share(x, y, out)`` in the class body, on values, is the part of the gradient that goes to x (1
    where x is chosen, 0 where y is, 1/2 on a tie the op splits); y gets the rest. Which input is
    chosen is piecewise constant, so the share is a constant of the rules and every higher
    derivative is zero, as it should be.
    """
    share_of_x = cls.share

    def shares(x, y, out):
        out_values = _values(out)
        return _as_mask(share_of_x(_values(x), _values(y), out_values), out_values)

    def vjp(grad_out, out, x, y, *, needs):
        share = shares(x, y, out)
        return (grad_out * share if needs[0] else None), (grad_out * (1.0 - share) if needs[1] else None)

    def jvp(x_dot, y_dot, out, x, y, *, needs):
        share = shares(x, y, out)
        return x_dot * share + y_dot * (1.0 - share)

    cls.vjp = vjp
    cls.jvp = jvp
    return cls


@register
class Add(Op):
    """z = x + y.   dz/dx = 1,  dz/dy = 1."""

    batch = batching.elementwise

    def forward(x, y):
        return np.add(x, y)

    def vjp(grad_out, out, x, y, *, needs):
        return grad_out, grad_out

    def jvp(x_dot, y_dot, out, x, y, *, needs):
        return x_dot + y_dot


@register
class Subtract(Op):
    """z = x - y.   dz/dx = 1,  dz/dy = -1."""

    batch = batching.elementwise

    def forward(x, y):
        return np.subtract(x, y)

    def vjp(grad_out, out, x, y, *, needs):
        return grad_out, (-grad_out if needs[1] else None)

    def jvp(x_dot, y_dot, out, x, y, *, needs):
        return x_dot - y_dot


@register
class Multiply(Op):
    """z = x y.   dz/dx = y,  dz/dy = x."""

    batch = batching.elementwise

    def forward(x, y):
        return np.multiply(x, y)

    def vjp(grad_out, out, x, y, *, needs):
        return (grad_out * y if needs[0] else None), (grad_out * x if needs[1] else None)

    def jvp(x_dot, y_dot, out, x, y, *, needs):
        return x_dot * y + x * y_dot


@register
class Divide(Op):
    """z = x / y.   dz/dx = 1/y,  dz/dy = -x/y^2 = -z/y."""

    batch = batching.elementwise

    def forward(x, y):
        return np.divide(x, y)

    def vjp(grad_out, out, x, y, *, needs):
        grad_x = grad_out / y if needs[0] else None
        grad_y = -grad_out * out / y if needs[1] else None
        return grad_x, grad_y

    def jvp(x_dot, y_dot, out, x, y, *, needs):
        return (x_dot - out * y_dot) / y


@register
class Negative(Op):
    """z = -x."""

    batch = batching.elementwise

    def forward(x):
        return np.negative(x)

    def vjp(grad_out, out, x, *, needs):
        return (-grad_out,)

    def jvp(x_dot, out, x, *, needs):
        return -x_dot


@register
class Power(Op):
    """z = x^y.   dz/dx = y x^(y-1),  dz/dy = z log x.

    The exponent's gradient is computed only when asked for, so x**2 of a negative x stays finite;
    at x = 0 it is taken as 0 (the limit of z log x for y > 0), as PyTorch does. The base's slope is
    0 where x = y = 0 (see _power_slope), as PyTorch, so x^0, x^1, x^2, ... have finite derivatives
    of every order at x = 0, and x^0.5 the infinite ones PyTorch gives.
    """

    batch = batching.elementwise

    def forward(x, y):
        return np.power(x, y)

    def vjp(grad_out, out, x, y, *, needs):
        grad_x = grad_out * _power_slope(x, y) if needs[0] else None
        grad_y = grad_out * (out * _log_or_zero(x)) if needs[1] else None
        return grad_x, grad_y

    def jvp(x_dot, y_dot, out, x, y, *, needs):
        out_dot = x_dot * _power_slope(x, y) if needs[0] else 0.0
        if needs[1]:
            out_dot = out_dot + y_dot * (out * _log_or_zero(x))
        return out_dot


def _power_slope(x, y):
    """y x^(y-1), and 0 where x = y = 0, as PyTorch.

    x^0 = 1 is a constant, but at x = 0 the formula gives 0 * 0^-1 = 0 * inf = NaN: so the first
    derivative of x^0 and the second of x^1 came out NaN. There the slope is 0, and the power is
    taken of 1 instead (the double-where pattern), so no NaN reaches a higher derivative either.
    Elsewhere y = 0 needs no care (0 * x^-1 = 0 for x != 0), so the exponent keeps its derivative.
    For the common constant exponent 2 the slope is simply 2 x (no power evaluated).
    """
    if isinstance(y, (int, float)) and y == 2:
        return 2.0 * x
    undefined = np.logical_and(np.equal(_values(x), 0), np.equal(_values(y), 0))
    if not _any(undefined):
        return y * x ** (y - 1)
    return where(undefined, 0.0, y * where(undefined, 1.0, x) ** (y - 1))


def _log_or_zero(x):
    zero = np.equal(_values(x), 0)
    return where(zero, 0.0, log(where(zero, 1.0, x)))


@register
class Exp(Op):
    """z = e^x.   dz/dx = e^x = z."""

    batch = batching.elementwise

    def forward(x):
        return np.exp(x)

    def vjp(grad_out, out, x, *, needs):
        return (grad_out * out,)

    def jvp(x_dot, out, x, *, needs):
        return x_dot * out


@register
class Log(Op):
    """z = ln x.   dz/dx = 1/x."""

    batch = batching.elementwise

    def forward(x):
        return np.log(x)

    def vjp(grad_out, out, x, *, needs):
        return (grad_out / x,)

    def jvp(x_dot, out, x, *, needs):
        return x_dot / x


@register
class Log1p(Op):
    """z = ln(1 + x), accurate for tiny x.   dz/dx = 1/(1 + x)."""

    batch = batching.elementwise

    def forward(x):
        return np.log1p(x)

    def vjp(grad_out, out, x, *, needs):
        return (grad_out / (1.0 + x),)

    def jvp(x_dot, out, x, *, needs):
        return x_dot / (1.0 + x)


@register
class Expm1(Op):
    """z = e^x - 1, accurate for tiny x.   dz/dx = e^x = z + 1."""

    batch = batching.elementwise

    def forward(x):
        return np.expm1(x)

    def vjp(grad_out, out, x, *, needs):
        return (grad_out * (out + 1.0),)

    def jvp(x_dot, out, x, *, needs):
        return x_dot * (out + 1.0)


@register
class Sqrt(Op):
    """z = sqrt(x).   dz/dx = 1/(2 z)."""

    batch = batching.elementwise

    def forward(x):
        return np.sqrt(x)

    def vjp(grad_out, out, x, *, needs):
        return (grad_out / (2.0 * out),)

    def jvp(x_dot, out, x, *, needs):
        return x_dot / (2.0 * out)


@register
class Sign(Op):
    """z = sign(x): piecewise constant, so its derivative is zero wherever it exists."""

    batch = batching.elementwise

    differentiable = False

    def forward(x):
        return np.sign(x)


@register
class Abs(Op):
    """z = |x|.   dz/dx = sign(x) (0 at x = 0, the subgradient PyTorch and JAX pick).

    For complex x, d|x| = Re(conj(x) dx) / |x|: the tangent is Re(conj(s) x_dot) and the VJP
    grad_out conj(s), with s = x / |x| (0 at x = 0).
    """

    batch = batching.elementwise

    def forward(x):
        return np.abs(x)

    def vjp(grad_out, out, x, *, needs):
        if _is_complex(x):
            return (grad_out * conj(_unit_phase(x, out)),)
        return (grad_out * sign(x),)

    def jvp(x_dot, out, x, *, needs):
        if _is_complex(x):
            return real(conj(_unit_phase(x, out)) * x_dot)
        return x_dot * sign(x)


def _is_complex(x) -> bool:
    return np.iscomplexobj(_values(x))


def _unit_phase(x, modulus):
    """x / |x|, and 0 where x = 0 (a constant of the rules: where's condition)."""
    zero = np.equal(_values(modulus), 0)
    return where(zero, 0.0, x / where(zero, 1.0, modulus))


@register
class Real(Op):
    """z = Re x.   Tangent Re(x_dot); cotangent grad_out (a real number paired with dx by Re(u dx))."""

    batch = batching.elementwise

    def forward(x):
        return np.real(x)

    def flops(out, x):
        return 0

    def vjp(grad_out, out, x, *, needs):
        return (grad_out,)

    def jvp(x_dot, out, x, *, needs):
        return real(x_dot)


@register
class Imag(Op):
    """z = Im x = Re(-i x).   Tangent Im(x_dot); cotangent -i grad_out."""

    batch = batching.elementwise

    def forward(x):
        return np.imag(x)

    def flops(out, x):
        return 0

    def vjp(grad_out, out, x, *, needs):
        return (grad_out * -1j,)

    def jvp(x_dot, out, x, *, needs):
        return imag(x_dot)


@register
class Conj(Op):
    """z = conj x: not holomorphic (v -> conj v), so the cotangent is conj(grad_out)."""

    batch = batching.elementwise

    def forward(x):
        return np.conj(x)

    def flops(out, x):
        return 0

    def vjp(grad_out, out, x, *, needs):
        return (conj(grad_out),)

    def jvp(x_dot, out, x, *, needs):
        return conj(x_dot)


@register
class Angle(Op):
    """z = arg x = Im(log x).   Tangent Im(x_dot / x); cotangent -i grad_out / x (0 at x = 0)."""

    batch = batching.elementwise

    def forward(x):
        return np.angle(x)

    def vjp(grad_out, out, x, *, needs):
        return (grad_out * -1j * _safe_reciprocal(x),)

    def jvp(x_dot, out, x, *, needs):
        return imag(x_dot * _safe_reciprocal(x))


def _safe_divide(x, y):
    """x / y, and 0 where y = 0 (a constant of the rules: where's condition; y is replaced by 1 there,
    so no infinity reaches a higher derivative)."""
    zero = np.equal(_values(y), 0)
    if not _any(zero):
        return x / y
    return where(zero, 0.0, x / where(zero, 1.0, y))


def _safe_reciprocal(x):
    return _safe_divide(1.0, x)


@register
class Sin(Op):
    """z = sin x.   dz/dx = cos x."""

    batch = batching.elementwise

    def forward(x):
        return np.sin(x)

    def vjp(grad_out, out, x, *, needs):
        return (grad_out * cos(x),)

    def jvp(x_dot, out, x, *, needs):
        return x_dot * cos(x)


@register
class Cos(Op):
    """z = cos x.   dz/dx = -sin x."""

    batch = batching.elementwise

    def forward(x):
        return np.cos(x)

    def vjp(grad_out, out, x, *, needs):
        return (-grad_out * sin(x),)

    def jvp(x_dot, out, x, *, needs):
        return -x_dot * sin(x)


@register
class Tanh(Op):
    """z = tanh x.   dz/dx = 1 - z^2."""

    batch = batching.elementwise

    def forward(x):
        return np.tanh(x)

    def vjp(grad_out, out, x, *, needs):
        return (grad_out * (1.0 - out * out),)

    def jvp(x_dot, out, x, *, needs):
        return x_dot * (1.0 - out * out)


@register
class Sigmoid(Op):
    """The logistic function sigma(x) = 1 / (1 + e^-x).   d sigma/dx = sigma (1 - sigma).

    A primitive for stability: real x is evaluated as 1/(1 + e^-|x|) or e^-|x|/(1 + e^-|x|) by sign,
    so e^-x never overflows (x = -1000 gives 0, not a warning and NaN) and tiny values keep their
    relative precision. Complex z (holomorphic, with poles at i pi (2k + 1)) is 1/(1 + e^-z).
    """

    batch = batching.elementwise

    def forward(x):
        if np.iscomplexobj(x):
            return 1.0 / (1.0 + np.exp(np.negative(x)))
        e = np.exp(-np.abs(x))
        return np.where(np.asarray(x) >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(e.dtype, copy=False)

    def vjp(grad_out, out, x, *, needs):
        return (grad_out * (out * (1.0 - out)),)

    def jvp(x_dot, out, x, *, needs):
        return x_dot * (out * (1.0 - out))


def _nan_wins(share, x, y):
    """Share of x in maximum or minimum (``share``: 1 where x is chosen, 1/2 on ties), corrected for
    NaN: NumPy's maximum and minimum propagate it, so a NaN operand is chosen and gets the gradient;
    two NaNs tie."""
    x_nan = np.isnan(x)
    y_nan = np.isnan(y)
    either = np.logical_or(x_nan, y_nan)
    if not _any(either):
        return share
    return np.where(either, x_nan * (1.0 - 0.5 * y_nan), share)


@register
@_choice_rules
class Maximum(Op):
    """z = max(x, y) elementwise. On ties the gradient is split evenly (as in PyTorch and JAX); a NaN
    operand wins (NumPy's value) and gets the whole gradient (PyTorch gives it to both operands)."""

    batch = batching.elementwise

    def forward(x, y):
        return np.maximum(x, y)

    def share(x, y, out):
        return _nan_wins(np.greater(x, y) + 0.5 * np.equal(x, y), x, y)


@register
@_choice_rules
class Minimum(Op):
    """z = min(x, y) elementwise. On ties the gradient is split evenly; a NaN operand wins and gets it."""

    batch = batching.elementwise

    def forward(x, y):
        return np.minimum(x, y)

    def share(x, y, out):
        return _nan_wins(np.less(x, y) + 0.5 * np.equal(x, y), x, y)


@register
@_choice_rules
class Fmax(Op):
    """z = fmax(x, y): the larger of x and y, ignoring NaN (NaN only where both are NaN).

    The gradient goes to the operand chosen; on ties, and where both are NaN, to x, as PyTorch's
    fmax (x's share is 1 where x >= y or y is NaN).
    """

    batch = batching.elementwise

    def forward(x, y):
        return np.fmax(x, y)

    def share(x, y, out):
        return np.logical_or(np.greater_equal(x, y), np.isnan(y))


@register
@_choice_rules
class Fmin(Op):
    """z = fmin(x, y): the smaller of x and y, ignoring NaN. On ties and two NaNs the gradient goes to x."""

    batch = batching.elementwise

    def forward(x, y):
        return np.fmin(x, y)

    def share(x, y, out):
        return np.logical_or(np.less_equal(x, y), np.isnan(y))


@register
class Where(Op):
    """z = x where condition else y. The condition is a constant: it gets no gradient."""

    def batch(cls, x, y, *, batched, batched_settings, condition):
        condition_batched = "condition" in batched_settings
        ndim = max([batching.example_ndim(v, b) for v, b in zip((x, y), batched)]
                   + [batching.example_ndim(condition, condition_batched)])
        x, y = (batching.align(v, b, ndim) for v, b in zip((x, y), batched))
        # A batched condition alone still batches the output: np.where broadcasts it against x and y.
        condition = batching.align(condition, condition_batched, ndim)
        return batching.call_op(cls, [x, y], {"condition": condition})

    def forward(x, y, *, condition):
        return np.where(condition, x, y)

    def vjp(grad_out, out, x, y, *, condition, needs):
        grad_x = where(condition, grad_out, 0.0) if needs[0] else None
        grad_y = where(condition, 0.0, grad_out) if needs[1] else None
        return grad_x, grad_y

    def jvp(x_dot, y_dot, out, x, y, *, condition, needs):
        return where(condition, x_dot, y_dot)


@register
class Clip(Op):
    """z = min(max(x, a_min), a_max), NumPy's clip; a bound may be None (no clipping on that side).

    dz/dx = 1 on [a_min, a_max] (bounds included, as PyTorch); elsewhere the bound that is the output
    gets the gradient: a_min where x < a_min, a_max where x > a_max, and a_max everywhere when
    a_min > a_max (NumPy's output is then a_max), as PyTorch's clamp. Where a_min = a_max > x the
    gradient goes to a_min (PyTorch gives it to neither).
    """

    batch = batching.elementwise

    def forward(x, a_min, a_max):
        return np.clip(x, a_min, a_max)

    def vjp(grad_out, out, x, a_min, a_max, *, needs):
        inside, below, above = _clip_masks(x, a_min, a_max, out, needs)
        return (grad_out * inside if needs[0] else None,
                grad_out * below if needs[1] else None,
                grad_out * above if needs[2] else None)

    def jvp(x_dot, a_min_dot, a_max_dot, out, x, a_min, a_max, *, needs):
        inside, below, above = _clip_masks(x, a_min, a_max, out, needs)
        out_dot = x_dot * inside
        if needs[1]:
            out_dot = out_dot + a_min_dot * below
        if needs[2]:
            out_dot = out_dot + a_max_dot * above
        return out_dot


def _clip_masks(x, a_min, a_max, out, needs):
    """Where clip's output is x, a_min and a_max: 0/1 in out's dtype (None for a bound not needed)."""
    x, lo, hi = (None if v is None else np.asarray(_values(v)) for v in (x, a_min, a_max))
    out = _values(out)
    # In the output's shape: array bounds may broadcast x to a larger one; the engine sums back.
    inside = np.ones(np.shape(out), dtype=bool)
    if lo is not None:
        inside &= x >= lo
    if hi is not None:
        inside &= x <= hi
    below = above = None
    if needs[1]:
        below = _as_mask(x < lo if hi is None else (x < lo) & (lo <= hi), out)
    if needs[2]:
        above = _as_mask(x > hi if lo is None else (x > hi) | (hi < lo), out)
    return _as_mask(inside, out), below, above


@register
@_unary_rules
class Exp2(Op):
    """z = 2^x.   dz/dx = z ln 2.   A primitive so that values (and overflow to inf) are NumPy's."""

    batch = batching.elementwise

    def forward(x):
        return np.exp2(x)

    def slope(x, out):
        return out * _LN2


@register
@_unary_rules
class Log2(Op):
    """z = log2 x.   dz/dx = 1 / (x ln 2).   A primitive so that values are NumPy's (log2(8) = 3 exactly)."""

    batch = batching.elementwise

    def forward(x):
        return np.log2(x)

    def slope(x, out):
        return 1.0 / (x * _LN2)


@register
@_unary_rules
class Log10(Op):
    """z = log10 x.   dz/dx = 1 / (x ln 10).   A primitive so that values are NumPy's (log10(1000) = 3)."""

    batch = batching.elementwise

    def forward(x):
        return np.log10(x)

    def slope(x, out):
        return 1.0 / (x * _LN10)


@register
@_unary_rules
class Cbrt(Op):
    """z = x^(1/3), real (cbrt(-8) = -2).   dz/dx = 1 / (3 z^2), infinite at 0.

    A primitive: power(x, 1/3) is NaN for negative x, and NumPy's cbrt is exact on cubes.
    """

    batch = batching.elementwise

    def forward(x):
        return np.cbrt(x)

    def slope(x, out):
        return 1.0 / (3.0 * (out * out))


@register
class LogAddExp(Op):
    """z = log(e^x + e^y).   dz/dx = sigmoid(x - y) = e^(x - z),  dz/dy = sigmoid(y - x).

    A primitive so that its derivatives are smooth: the composite max(x, y) + log1p(e^-|x - y|) has
    two kinks at x = y that cancel only at first order, so its second derivative there came out 0
    instead of 1/4. The rules are sigmoids of the difference, written with ops, so every order is
    right, and stable for any |x - y| (sigmoid never overflows). Where x and y are the same infinity
    (logaddexp(-inf, -inf) = -inf) the difference is NaN; it is taken as 0 there, the limit along
    x = y, so each input gets half of the gradient (PyTorch gives NaN). One infinite input gets the
    whole gradient (logaddexp(inf, 1): 1 and 0), as PyTorch.
    """

    batch = batching.elementwise

    def forward(x, y):
        return np.logaddexp(x, y)

    def vjp(grad_out, out, x, y, *, needs):
        return _logaddexp_vjp(grad_out, x, y, needs, 1.0)

    def jvp(x_dot, y_dot, out, x, y, *, needs):
        return _logaddexp_jvp(x_dot, y_dot, x, y, 1.0)


@register
class LogAddExp2(Op):
    """z = log2(2^x + 2^y).   dz/dx = sigmoid((x - y) ln 2) = 2^(x - z),  dz/dy = sigmoid((y - x) ln 2).

    A primitive for the reasons of LogAddExp, whose rules it shares (the difference scaled by ln 2).
    """

    batch = batching.elementwise

    def forward(x, y):
        return np.logaddexp2(x, y)

    def vjp(grad_out, out, x, y, *, needs):
        return _logaddexp_vjp(grad_out, x, y, needs, _LN2)

    def jvp(x_dot, y_dot, out, x, y, *, needs):
        return _logaddexp_jvp(x_dot, y_dot, x, y, _LN2)


def _scaled_difference(x, y, scale):
    """(x - y) scale, and 0 where x and y are the same infinity (the difference would be NaN)."""
    x_values = _values(x)
    same_infinity = np.logical_and(np.isinf(x_values), np.equal(x_values, _values(y)))
    if _any(same_infinity):
        x = where(same_infinity, 0.0, x)
        y = where(same_infinity, 0.0, y)
    difference = x - y
    return difference if scale == 1.0 else difference * scale


def _logaddexp_vjp(grad_out, x, y, needs, scale):
    difference = _scaled_difference(x, y, scale)
    grad_x = grad_out * sigmoid(difference) if needs[0] else None
    grad_y = grad_out * sigmoid(-difference) if needs[1] else None
    return grad_x, grad_y


def _logaddexp_jvp(x_dot, y_dot, x, y, scale):
    difference = _scaled_difference(x, y, scale)
    return x_dot * sigmoid(difference) + y_dot * sigmoid(-difference)


def _quotient_rules(cls):
    """Give an op z = x - q y with an integer quotient q the rules dz/dx = 1, dz/dy = -q, where
    ``quotient(x, y, out)`` in the class body gives q from the values: piecewise constant, so a
    constant of the rules."""
    quotient = cls.quotient

    def vjp(grad_out, out, x, y, *, needs):
        grad_y = -grad_out * _as_mask(quotient(x, y, out), _values(out)) if needs[1] else None
        return (grad_out if needs[0] else None), grad_y

    def jvp(x_dot, y_dot, out, x, y, *, needs):
        if not needs[1]:
            return x_dot
        return x_dot - y_dot * _as_mask(quotient(x, y, out), _values(out))

    cls.vjp = vjp
    cls.jvp = jvp
    return cls


@register
@_quotient_rules
class Remainder(Op):
    """z = x mod y = x - floor(x / y) y, with the sign of y (Python's %).   dz/dx = 1,  dz/dy = -floor(x / y).

    A primitive so that values are NumPy's (its remainder is exact; x - floor(x/y) y is not). The
    quotient is NumPy's own floor_divide, the one its remainder goes with: remainder(1, 0.1) =
    0.09999999999999995 with quotient 9, where floor(1 / 0.1) = 10. PyTorch uses floor(x / y).
    """

    batch = batching.elementwise

    def forward(x, y):
        return np.remainder(x, y)

    def quotient(x, y, out):
        with np.errstate(all="ignore"):
            return np.floor_divide(_values(x), _values(y))


@register
@_quotient_rules
class Fmod(Op):
    """z = fmod(x, y) = x - trunc(x / y) y, with the sign of x (C's fmod).   dz/dx = 1,  dz/dy = -trunc(x / y).

    A primitive so that values are NumPy's (fmod is exact). The quotient is the one the value goes
    with: (x - z) / y rounded to an integer, exact for |x / y| < 2^52 (fmod(1, 0.1) has quotient 9,
    where trunc(1 / 0.1) = 10 is what PyTorch uses).
    """

    batch = batching.elementwise

    def forward(x, y):
        return np.fmod(x, y)

    def quotient(x, y, out):
        with np.errstate(all="ignore"):
            return np.rint((_values(x) - _values(out)) / _values(y))


@register
class Copysign(Op):
    """z = |x| with the sign of y.   dz/dx = +1 where x and y have the same sign bit, else -1 (0 at
    x = 0, as PyTorch's z / x);  dz/dy = 0 (the sign is piecewise constant). A primitive so that signed
    zeros and NaNs are NumPy's."""

    batch = batching.elementwise

    def forward(x, y):
        return np.copysign(x, y)

    def vjp(grad_out, out, x, y, *, needs):
        return grad_out * _copysign_slope(x, y, out), None

    def jvp(x_dot, y_dot, out, x, y, *, needs):
        return x_dot * _copysign_slope(x, y, out)


def _copysign_slope(x, y, out):
    x = np.asarray(_values(x))
    agree = np.signbit(x) == np.signbit(_values(y))
    return _as_mask(np.where(x == 0, 0.0, np.where(agree, 1.0, -1.0)), _values(out))


@register
class Identity(Op):
    """z = x. Marks where a transform starts, so that nested transforms never confuse their inputs."""

    batch = batching.elementwise

    def forward(x):
        return x

    def flops(out, x):
        return 0

    def vjp(grad_out, out, x, *, needs):
        return (grad_out,)

    def jvp(x_dot, out, x, *, needs):
        return x_dot


@register
class AsType(Op):
    """z = x converted to another floating dtype; the gradient is converted back to x's dtype."""

    batch = batching.elementwise

    name = "astype"

    def flops(out, x, *, dtype):
        return 0

    def forward(x, *, dtype):
        return np.asarray(x).astype(dtype)

    def vjp(grad_out, out, x, *, dtype, needs):
        x_dtype = np.asarray(_values(x)).dtype
        if not np.issubdtype(x_dtype, np.complexfloating):
            grad_out = real(grad_out)
        return (astype(grad_out, x_dtype),)

    def jvp(x_dot, out, x, *, dtype, needs):
        return astype(x_dot, dtype)


# --- public functions: primitives ---------------------------------------------------------------

@_ufunc
def add(x, y):
    """x + y elementwise, with broadcasting."""
    return Add.apply(x, y)


@_ufunc
def subtract(x, y):
    """x - y elementwise, with broadcasting."""
    return Subtract.apply(x, y)


@_ufunc
def multiply(x, y):
    """x * y elementwise, with broadcasting."""
    return Multiply.apply(x, y)


@_ufunc
def divide(x, y):
    """x / y elementwise, with broadcasting."""
    return Divide.apply(x, y)


true_divide = divide


@_ufunc
def negative(x):
    """-x."""
    return Negative.apply(x)


@_ufunc
def power(x, y):
    """x ** y elementwise, with broadcasting.

    d/dx = y x^(y-1) (0 where x = y = 0), d/dy = x^y log x (0 at x = 0), as PyTorch.

    Example:
        >>> from nablanet import grad
        >>> float(grad(lambda x: power(x, 0.0))(0.0)), float(grad(grad(lambda x: x ** 1.0))(0.0))
        (0.0, 0.0)
    """
    return Power.apply(x, y)


pow = power


@_ufunc
def float_power(x, y):
    """x ** y computed in at least float64 (complex128 for complex), as numpy.float_power.

    float32 inputs give a float64 result; their gradients come back as float32.

    Example:
        >>> float_power(np.float32(2.0), 3).dtype
        dtype('float64')
    """
    if _is_plain(x) and _is_plain(y):
        return np.float_power(x, y)
    dtype = np.result_type(*(v.dtype if hasattr(v, "dtype") else v for v in (x, y)), np.float64)
    return power(*(np.asarray(v, dtype=dtype) if _is_plain(v) else astype(v, dtype) for v in (x, y)))


@_ufunc
def exp(x):
    """e^x."""
    return Exp.apply(x)


@_ufunc
def exp2(x):
    """2^x elementwise (NumPy's values; overflow gives inf).   d/dx = 2^x ln 2.

    Example:
        >>> from nablanet import grad
        >>> print(f"{float(exp2(3.0)):g} {float(grad(exp2)(3.0)):.6f}")
        8 5.545177
    """
    return Exp2.apply(x)


@_ufunc
def log(x):
    """Natural logarithm."""
    return Log.apply(x)


@_ufunc
def log2(x):
    """Base-2 logarithm (NumPy's values: exact at powers of 2, where log(x)/log(2) is not).   d/dx = 1/(x ln 2).

    Example:
        >>> from nablanet import grad
        >>> print(f"{float(log2(2.0 ** 29)):g} {float(grad(log2)(1.0)):.6f}")
        29 1.442695
    """
    return Log2.apply(x)


@_ufunc
def log10(x):
    """Base-10 logarithm (NumPy's values).   d/dx = 1/(x ln 10).

    Example:
        >>> from nablanet import grad
        >>> print(f"{float(log10(1000.0)):g} {float(grad(log10)(1.0)):.6f}")
        3 0.434294
    """
    return Log10.apply(x)


@_ufunc
def log1p(x):
    """ln(1 + x), accurate near 0."""
    return Log1p.apply(x)


@_ufunc
def expm1(x):
    """e^x - 1, accurate near 0."""
    return Expm1.apply(x)


@_ufunc
def sqrt(x):
    """Square root."""
    return Sqrt.apply(x)


@_ufunc
def cbrt(x):
    """Real cube root (cbrt(-8) = -2); real inputs only, as NumPy.   d/dx = 1/(3 cbrt(x)^2).

    Example:
        >>> from nablanet import grad
        >>> print(f"{float(cbrt(-8.0)):g} {float(grad(cbrt)(-8.0)):.6f}")
        -2 0.083333
    """
    return Cbrt.apply(x)


@_ufunc
def sign(x):
    """-1, 0 or 1 (no derivative: treated as a constant)."""
    return Sign.apply(x)


sign.__nablanet_constant__ = True


@_ufunc
def abs(x):
    """|x|; for complex x the modulus. d|x|/dx = sign(x), 0 at x = 0 (as PyTorch and JAX)."""
    return Abs.apply(x)


absolute = abs


@_ufunc
def sin(x):
    """Sine."""
    return Sin.apply(x)


@_ufunc
def cos(x):
    """Cosine."""
    return Cos.apply(x)


@_ufunc
def tanh(x):
    """Hyperbolic tangent."""
    return Tanh.apply(x)


def sigmoid(x):
    """Logistic function 1/(1 + e^-x), stable for any real x; complex x as 1/(1 + e^-x)."""
    return Sigmoid.apply(x)


@_ufunc
def maximum(x, y):
    """Elementwise maximum, propagating NaN as NumPy (gradient split evenly on ties, to a NaN operand).

    Complex inputs are refused: NumPy's lexicographic order of complex numbers has no derivative.
    """
    _refuse_complex("maximum", x, y)
    return Maximum.apply(x, y)


@_ufunc
def minimum(x, y):
    """Elementwise minimum, propagating NaN as NumPy (gradient split evenly on ties, to a NaN operand)."""
    _refuse_complex("minimum", x, y)
    return Minimum.apply(x, y)


@_ufunc
def fmax(x, y):
    """Elementwise maximum ignoring NaN, as numpy.fmax: a NaN operand gives the other one.

    The gradient goes to the operand chosen (to x on ties and where both are NaN, as PyTorch).

    Example:
        >>> from nablanet import grad
        >>> x = np.array([np.nan, 1.0, 3.0])
        >>> fmax(x, 2.0)
        array([2., 2., 3.])
        >>> grad(lambda x: fmax(x, 2.0).sum())(x)
        array([0., 0., 1.])
    """
    _refuse_complex("fmax", x, y)
    return Fmax.apply(x, y)


@_ufunc
def fmin(x, y):
    """Elementwise minimum ignoring NaN, as numpy.fmin: a NaN operand gives the other one.

    The gradient goes to the operand chosen (to x on ties and where both are NaN, as PyTorch).

    Example:
        >>> fmin(np.array([np.nan, 1.0, 3.0]), 2.0)
        array([2., 1., 2.])
    """
    _refuse_complex("fmin", x, y)
    return Fmin.apply(x, y)


@_ufunc
def remainder(x, y):
    """x mod y with the sign of y, as numpy.remainder and Python's % (real inputs only).

    d/dx = 1, d/dy = -floor(x / y).

    Example:
        >>> from nablanet import grad
        >>> remainder(np.array([5.5, -5.5]), 2.0)
        array([1.5, 0.5])
        >>> float(grad(lambda y: remainder(np.array([5.5, -5.5]), y).sum())(2.0))
        1.0
    """
    return Remainder.apply(x, y)


mod = remainder


@_ufunc
def fmod(x, y):
    """C's fmod: x - trunc(x / y) y, with the sign of x (real inputs only).   d/dx = 1, d/dy = -trunc(x / y).

    Example:
        >>> fmod(np.array([5.5, -5.5]), 2.0)
        array([ 1.5, -1.5])
    """
    return Fmod.apply(x, y)


@_ufunc
def copysign(x, y):
    """|x| with the sign of y (real inputs only).   d/dx = +-1 by sign agreement (0 at x = 0), d/dy = 0.

    Example:
        >>> from nablanet import grad
        >>> grad(lambda x: copysign(x, np.array([-1.0, 1.0])).sum())(np.array([2.0, -3.0]))
        array([-1., -1.])
    """
    return Copysign.apply(x, y)


@_ufunc
def logaddexp(x, y):
    """log(e^x + e^y) without overflow (real inputs only, as NumPy).   d/dx = sigmoid(x - y).

    A primitive whose every derivative is smooth, also at x = y (see LogAddExp).

    Example:
        >>> from nablanet import grad
        >>> float(grad(lambda x: logaddexp(x, 0.0))(0.0)), float(grad(grad(lambda x: logaddexp(x, 0.0)))(0.0))
        (0.5, 0.25)
    """
    return LogAddExp.apply(x, y)


@_ufunc
def logaddexp2(x, y):
    """log2(2^x + 2^y) without overflow (real inputs only).   d/dx = sigmoid((x - y) ln 2).

    Example:
        >>> from nablanet import grad
        >>> float(logaddexp2(3.0, 3.0)), float(grad(lambda x: logaddexp2(x, 3.0))(3.0))
        (4.0, 0.5)
    """
    return LogAddExp2.apply(x, y)


def where(condition, x=np._NoValue, y=np._NoValue, /):
    """x where condition is true, else y (the condition gets no gradient), as numpy.where.

    With the condition alone, NumPy's ``nonzero(condition)``: a tuple of index arrays, no derivative.

    Example:
        >>> where(np.array([1.0, -2.0]) > 0, np.array([1.0, 2.0]), 0.0)
        array([1., 0.])
        >>> where(np.array([0, 3, 1]))
        (array([1, 2]),)
    """
    condition = _values(condition)
    if x is np._NoValue and y is np._NoValue:
        return np.nonzero(condition)
    if x is np._NoValue or y is np._NoValue:
        raise ValueError("where: either both or neither of x and y should be given")
    if isinstance(condition, batching.BatchTracer):
        return Where.apply(x, y, condition=condition if condition.dtype == bool else condition != 0)
    return Where.apply(x, y, condition=np.asarray(condition, dtype=bool))


def clip(a, a_min=np._NoValue, a_max=np._NoValue, out=None, *, min=np._NoValue, max=np._NoValue, **kwargs):
    """Limit values to [a_min, a_max], as numpy.clip (NumPy 2: ``min=``/``max=`` keywords, None bounds).

    Either bound may be None (no clipping on that side) and may be an array or a Tensor, which then
    gets its gradient. With a_min > a_max the result is a_max, as NumPy. dz/dx = 1 on [a_min, a_max],
    bounds included (as PyTorch); complex inputs are refused.

    Example:
        >>> from nablanet import grad
        >>> clip(np.array([-1.0, 0.5, 3.0]), 0.0, 1.0)
        array([0. , 0.5, 1. ])
        >>> grad(lambda x: clip(x, max=1.0).sum())(np.array([0.5, 1.0, 3.0]))
        array([1., 1., 0.])
    """
    # The bounds' spellings are NumPy's rules, word for word (numpy/_core/fromnumeric.py).
    if a_min is np._NoValue and a_max is np._NoValue:
        a_min = None if min is np._NoValue else min
        a_max = None if max is np._NoValue else max
    elif a_min is np._NoValue:
        raise TypeError("clip() missing 1 required positional argument: 'a_min'")
    elif a_max is np._NoValue:
        raise TypeError("clip() missing 1 required positional argument: 'a_max'")
    elif min is not np._NoValue or max is not np._NoValue:
        raise ValueError("Passing `min` or `max` keyword argument when `a_min` and `a_max` are provided is forbidden.")
    _check_ufunc_keywords("clip", {"out": out, **kwargs})
    _refuse_complex("clip", a, *(b for b in (a_min, a_max) if b is not None))
    return Clip.apply(a, a_min, a_max)


# Not exported under NumPy's names: numpy.identity(n) is the n x n identity matrix.
def identity(x):
    """x itself, as a new node of the graph."""
    return Identity.apply(x)


def astype(x, dtype):
    """x converted to dtype; converting a traced value to an integer dtype, or a complex one to a real
    dtype (which would drop its imaginary part), is an error: take ``real(x)`` first."""
    dtype = np.dtype(dtype)
    if isinstance(x, Tensor) and (x._requires_grad or x._tangents):
        if not np.issubdtype(dtype, np.inexact):
            raise TypeError(f"astype: cannot convert a differentiated value to the non-float dtype {dtype}")
        if np.iscomplexobj(x._data) and not np.issubdtype(dtype, np.complexfloating):
            raise TypeError(f"astype: converting a complex value to {dtype} would drop its imaginary part; "
                            "use real(x) (or abs(x)) to say which real number is meant")
    return AsType.apply(x, dtype=dtype)


def real(x):
    """The real part (x itself, as a value, for real x)."""
    if not _is_complex(x):
        return x
    return Real.apply(x)


def imag(x):
    """The imaginary part (zeros for real x)."""
    return Imag.apply(x)


@_ufunc
def conj(x):
    """The complex conjugate (x itself for real x)."""
    if not _is_complex(x):
        return x
    return Conj.apply(x)


conjugate = conj


def angle(x, deg=False):
    """The argument (phase) of x in radians, or degrees when ``deg``; as numpy.angle."""
    out = Angle.apply(x)
    return out * (180.0 / np.pi) if deg else out


# --- public functions: composites (no rules of their own, so none to get wrong) -----------------

@_ufunc
def square(x):
    """x * x (NumPy's own square for plain arrays: booleans and integers keep its dtypes)."""
    if _is_plain(x):
        return np.square(x)
    return multiply(x, x)


@_ufunc
def reciprocal(x):
    """1 / x (NumPy's own reciprocal for plain arrays: integer inputs give its integer results)."""
    if _is_plain(x):
        return np.reciprocal(x)
    return divide(1.0, x)


@_ufunc
def fabs(x):
    """|x| of real numbers, as a float (numpy.fabs refuses complex: use abs for the modulus).

    Example:
        >>> fabs(np.array([-2, 3]))
        array([2., 3.])
    """
    if _is_plain(x):
        return np.fabs(x)
    if _is_complex(x) or not np.issubdtype(x.dtype, np.inexact):
        # NumPy's own refusal of complex numbers, in its words; integers give NumPy's float64.
        return np.fabs(_example_values(x, "fabs"))
    return abs(x)


@_ufunc
def positive(x):
    """+x: a Tensor itself (Tensors are immutable, so no copy is needed); NumPy's copy of an array."""
    if not _is_plain(x):
        return x
    return np.positive(x)


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """NaN replaced by ``nan``, +-inf by ``posinf``/``neginf`` (default: the largest finite numbers of
    x's dtype), as numpy.nan_to_num; complex numbers part by part.

    The gradient is 1 where x is kept and 0 where a value was replaced. ``copy=False`` changes a plain
    array in place, as NumPy; a Tensor (immutable) is never changed, a new one is returned.

    Example:
        >>> from nablanet import grad
        >>> x = np.array([np.nan, np.inf, 2.0])
        >>> nan_to_num(x, posinf=9.0)
        array([0., 9., 2.])
        >>> grad(lambda x: (nan_to_num(x, posinf=9.0) * 3.0).sum())(x)
        array([0., 0., 3.])
    """
    if _is_plain(x):
        return np.nan_to_num(x, copy=copy, nan=nan, posinf=posinf, neginf=neginf)
    values = _example_values(x, "nan_to_num")
    filled = np.nan_to_num(values, nan=nan, posinf=posinf, neginf=neginf)
    if not np.issubdtype(values.dtype, np.inexact):
        return x
    if not _is_complex(x):
        return where(np.isfinite(values), x, filled)
    real_kept, imag_kept = np.isfinite(values.real), np.isfinite(values.imag)
    kept = real_kept & imag_kept
    if np.all(kept | ~(real_kept | imag_kept)):
        return where(kept, x, filled)
    # Some numbers have one finite part, which keeps its derivative.
    parts = where(real_kept, real(x), filled.real) + 1j * where(imag_kept, imag(x), filled.imag)
    return where(kept, x, parts)


def real_if_close(a, tol=100):
    """The real part of a when every imaginary part is below tol (in machine epsilons of a's dtype if
    tol > 1), else a; as numpy.real_if_close, which decides the result's dtype from the values.

    Example:
        >>> real_if_close(np.array([2.0 + 1e-16j, 1.0]))
        array([2., 1.])
        >>> real_if_close(np.array([2.0 + 1e-3j]))
        array([2.+0.001j])
    """
    if _is_plain(a):
        return np.real_if_close(a, tol=tol)
    if np.iscomplexobj(np.real_if_close(_example_values(a, "real_if_close"), tol=tol)):
        return a
    return real(a)
