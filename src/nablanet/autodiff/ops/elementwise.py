"""Elementwise primitives: arithmetic, exp/log family, trigonometric, tanh, sigmoid, maximum, where, clip.

Complex numbers follow JAX's convention. A tangent (JVP) is the directional derivative, as for real
numbers. A cotangent (VJP) is paired with a tangent by Re(sum(u * v)), without conjugation, so the
rule of a holomorphic function (exp, log, sin, multiply, ...) is the same for complex as for real
inputs: grad_x = grad_out * f'(x). Only the non-holomorphic ones (abs, real, imag, conj, angle)
need their own: for a tangent map v -> a v + b conj(v), the VJP is u -> u a + conj(u b). The
gradient of a real-valued function of z is then df/dx - i df/dy (JAX's; PyTorch returns its conjugate).
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff import batching
from nablanet.autodiff.op import Op, register

__all__ = [
    "add", "subtract", "multiply", "divide", "negative", "power", "exp", "log", "log1p", "expm1",
    "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "maximum", "minimum", "where", "clip",
    "astype", "sign", "square", "reciprocal", "absolute", "true_divide", "logaddexp",
    "real", "imag", "conj", "conjugate", "angle",
]


def _as_mask(condition, like):
    """A boolean condition as a 0/1 array of like's dtype, so that masks never upcast float32."""
    if isinstance(condition, batching.BatchTracer):
        return astype(condition, like.dtype)
    return np.asarray(condition).astype(like.dtype)


@register
class Add(Op):
    """z = x + y.   dz/dx = 1,  dz/dy = 1."""

    batch = batching.elementwise

    def forward(x, y):
        return np.add(x, y)

    def vjp(grad_out, out, x, y):
        return grad_out, grad_out

    def jvp(x_dot, y_dot, out, x, y):
        return x_dot + y_dot


@register
class Subtract(Op):
    """z = x - y.   dz/dx = 1,  dz/dy = -1."""

    batch = batching.elementwise

    def forward(x, y):
        return np.subtract(x, y)

    def vjp(grad_out, out, x, y, *, needs):
        return grad_out, (-grad_out if needs[1] else None)

    def jvp(x_dot, y_dot, out, x, y):
        return x_dot - y_dot


@register
class Multiply(Op):
    """z = x y.   dz/dx = y,  dz/dy = x."""

    batch = batching.elementwise

    def forward(x, y):
        return np.multiply(x, y)

    def vjp(grad_out, out, x, y, *, needs):
        return (grad_out * y if needs[0] else None), (grad_out * x if needs[1] else None)

    def jvp(x_dot, y_dot, out, x, y):
        return x_dot * y + x * y_dot


@register
class Divide(Op):
    """z = x / y.   dz/dx = 1/y,  dz/dy = -x/y^2 = -z/y."""

    batch = batching.elementwise

    domain = "nonzero"

    def forward(x, y):
        return np.divide(x, y)

    def vjp(grad_out, out, x, y, *, needs):
        grad_x = grad_out / y if needs[0] else None
        grad_y = -grad_out * out / y if needs[1] else None
        return grad_x, grad_y

    def jvp(x_dot, y_dot, out, x, y):
        return (x_dot - out * y_dot) / y


@register
class Negative(Op):
    """z = -x."""

    batch = batching.elementwise

    def forward(x):
        return np.negative(x)

    def vjp(grad_out, out, x):
        return (-grad_out,)

    def jvp(x_dot, out, x):
        return -x_dot


@register
class Power(Op):
    """z = x^y.   dz/dx = y x^(y-1),  dz/dy = z log x.

    The exponent's gradient is computed only when asked for, so x**2 of a negative x stays finite;
    at x = 0 it is taken as 0 (the limit of z log x for y > 0), as PyTorch does.
    """

    batch = batching.elementwise

    domain = "positive"

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
    """y x^(y-1); for the common constant exponent 2 simply 2 x (no power evaluated)."""
    if isinstance(y, (int, float)) and y == 2:
        return 2.0 * x
    return y * x ** (y - 1)


def _log_or_zero(x):
    zero = np.equal(x._data if hasattr(x, "_data") else x, 0)
    return where(zero, 0.0, log(where(zero, 1.0, x)))


@register
class Exp(Op):
    """z = e^x.   dz/dx = e^x = z."""

    batch = batching.elementwise

    def forward(x):
        return np.exp(x)

    def vjp(grad_out, out, x):
        return (grad_out * out,)

    def jvp(x_dot, out, x):
        return x_dot * out


@register
class Log(Op):
    """z = ln x.   dz/dx = 1/x."""

    batch = batching.elementwise

    domain = "positive"

    def forward(x):
        return np.log(x)

    def vjp(grad_out, out, x):
        return (grad_out / x,)

    def jvp(x_dot, out, x):
        return x_dot / x


@register
class Log1p(Op):
    """z = ln(1 + x), accurate for tiny x.   dz/dx = 1/(1 + x)."""

    batch = batching.elementwise

    domain = "above_minus_one"

    def forward(x):
        return np.log1p(x)

    def vjp(grad_out, out, x):
        return (grad_out / (1.0 + x),)

    def jvp(x_dot, out, x):
        return x_dot / (1.0 + x)


@register
class Expm1(Op):
    """z = e^x - 1, accurate for tiny x.   dz/dx = e^x = z + 1."""

    batch = batching.elementwise

    def forward(x):
        return np.expm1(x)

    def vjp(grad_out, out, x):
        return (grad_out * (out + 1.0),)

    def jvp(x_dot, out, x):
        return x_dot * (out + 1.0)


@register
class Sqrt(Op):
    """z = sqrt(x).   dz/dx = 1/(2 z)."""

    batch = batching.elementwise

    domain = "positive"

    def forward(x):
        return np.sqrt(x)

    def vjp(grad_out, out, x):
        return (grad_out / (2.0 * out),)

    def jvp(x_dot, out, x):
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

    def vjp(grad_out, out, x):
        if _is_complex(x):
            return (grad_out * conj(_unit_phase(x, out)),)
        return (grad_out * sign(x),)

    def jvp(x_dot, out, x):
        if _is_complex(x):
            return real(conj(_unit_phase(x, out)) * x_dot)
        return x_dot * sign(x)


def _is_complex(x) -> bool:
    return np.iscomplexobj(x._data if hasattr(x, "_data") else x)


def _unit_phase(x, modulus):
    """x / |x|, and 0 where x = 0 (a constant of the rules: where's condition)."""
    zero = np.equal(modulus._data if hasattr(modulus, "_data") else modulus, 0)
    return where(zero, 0.0, x / where(zero, 1.0, modulus))


@register
class Real(Op):
    """z = Re x.   Tangent Re(x_dot); cotangent grad_out (a real number paired with dx by Re(u dx))."""

    batch = batching.elementwise

    def forward(x):
        return np.real(x)

    def flops(out, x):
        return 0

    def vjp(grad_out, out, x):
        return (grad_out,)

    def jvp(x_dot, out, x):
        return real(x_dot)


@register
class Imag(Op):
    """z = Im x = Re(-i x).   Tangent Im(x_dot); cotangent -i grad_out."""

    batch = batching.elementwise

    def forward(x):
        return np.imag(x)

    def flops(out, x):
        return 0

    def vjp(grad_out, out, x):
        return (grad_out * -1j,)

    def jvp(x_dot, out, x):
        return imag(x_dot)


@register
class Conj(Op):
    """z = conj x: not holomorphic (v -> conj v), so the cotangent is conj(grad_out)."""

    batch = batching.elementwise

    def forward(x):
        return np.conj(x)

    def flops(out, x):
        return 0

    def vjp(grad_out, out, x):
        return (conj(grad_out),)

    def jvp(x_dot, out, x):
        return conj(x_dot)


@register
class Angle(Op):
    """z = arg x = Im(log x).   Tangent Im(x_dot / x); cotangent -i grad_out / x (0 at x = 0)."""

    batch = batching.elementwise

    domain = "nonzero"

    def forward(x):
        return np.angle(x)

    def vjp(grad_out, out, x):
        return (grad_out * -1j * _safe_reciprocal(x),)

    def jvp(x_dot, out, x):
        return imag(x_dot * _safe_reciprocal(x))


def _safe_reciprocal(x):
    zero = np.equal(x._data if hasattr(x, "_data") else x, 0)
    return where(zero, 0.0, 1.0 / where(zero, 1.0, x))


@register
class Sin(Op):
    """z = sin x.   dz/dx = cos x."""

    batch = batching.elementwise

    def forward(x):
        return np.sin(x)

    def vjp(grad_out, out, x):
        return (grad_out * cos(x),)

    def jvp(x_dot, out, x):
        return x_dot * cos(x)


@register
class Cos(Op):
    """z = cos x.   dz/dx = -sin x."""

    batch = batching.elementwise

    def forward(x):
        return np.cos(x)

    def vjp(grad_out, out, x):
        return (-grad_out * sin(x),)

    def jvp(x_dot, out, x):
        return -x_dot * sin(x)


@register
class Tanh(Op):
    """z = tanh x.   dz/dx = 1 - z^2."""

    batch = batching.elementwise

    def forward(x):
        return np.tanh(x)

    def vjp(grad_out, out, x):
        return (grad_out * (1.0 - out * out),)

    def jvp(x_dot, out, x):
        return x_dot * (1.0 - out * out)


@register
class Sigmoid(Op):
    """The logistic function sigma(x) = 1 / (1 + e^-x).   d sigma/dx = sigma (1 - sigma).

    A primitive for stability: it is evaluated as 1/(1 + e^-|x|) or e^-|x|/(1 + e^-|x|) by sign, so
    e^-x never overflows (x = -1000 gives 0, not a warning and NaN) and tiny values keep their
    relative precision.
    """

    batch = batching.elementwise

    def forward(x):
        e = np.exp(-np.abs(x))
        return np.where(np.asarray(x) >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(e.dtype, copy=False)

    def vjp(grad_out, out, x):
        return (grad_out * (out * (1.0 - out)),)

    def jvp(x_dot, out, x):
        return x_dot * (out * (1.0 - out))


def _maximum_share(x, y, out):
    """Share of the gradient that goes to x in max(x, y): 1 where x wins, 1/2 on ties."""
    xr, yr = (v._data if hasattr(v, "_data") else v for v in (x, y))
    return _as_mask(np.greater(xr, yr) + 0.5 * np.equal(xr, yr), out)


@register
class Maximum(Op):
    """z = max(x, y) elementwise. On ties the gradient is split evenly (as in PyTorch and JAX)."""

    batch = batching.elementwise

    def forward(x, y):
        return np.maximum(x, y)

    def vjp(grad_out, out, x, y, *, needs):
        share = _maximum_share(x, y, out)
        return (grad_out * share if needs[0] else None), (grad_out * (1.0 - share) if needs[1] else None)

    def jvp(x_dot, y_dot, out, x, y):
        share = _maximum_share(x, y, out)
        return x_dot * share + y_dot * (1.0 - share)


@register
class Minimum(Op):
    """z = min(x, y) elementwise. On ties the gradient is split evenly."""

    batch = batching.elementwise

    def forward(x, y):
        return np.minimum(x, y)

    def vjp(grad_out, out, x, y, *, needs):
        share = _maximum_share(y, x, out)
        return (grad_out * share if needs[0] else None), (grad_out * (1.0 - share) if needs[1] else None)

    def jvp(x_dot, y_dot, out, x, y):
        share = _maximum_share(y, x, out)
        return x_dot * share + y_dot * (1.0 - share)


@register
class Where(Op):
    """z = x where condition else y. The condition is a constant: it gets no gradient."""

    batches_settings = True

    def batch(cls, values, batched, *, condition, batched_settings):
        condition_batched = "condition" in batched_settings
        ndim = max([batching.example_ndim(v, b) for v, b in zip(values, batched)]
                   + [batching.example_ndim(condition, condition_batched)])
        x, y = (batching.align(v, b, ndim) for v, b in zip(values, batched))
        # A batched condition alone still batches the output: np.where broadcasts it against x and y.
        condition = batching.align(condition, condition_batched, ndim)
        return batching.call_op(cls, [x, y], {"condition": condition})

    def forward(x, y, *, condition):
        return np.where(condition, x, y)

    def vjp(grad_out, out, x, y, *, condition, needs):
        grad_x = where(condition, grad_out, 0.0) if needs[0] else None
        grad_y = where(condition, 0.0, grad_out) if needs[1] else None
        return grad_x, grad_y

    def jvp(x_dot, y_dot, out, x, y, *, condition):
        return where(condition, x_dot, y_dot)


@register
class Clip(Op):
    """z = min(max(x, a_min), a_max).   dz/dx = 1 on [a_min, a_max] (bounds included, as PyTorch), else 0."""

    batch = batching.elementwise

    def forward(x, *, a_min, a_max):
        return np.clip(x, a_min, a_max)

    def vjp(grad_out, out, x, *, a_min, a_max):
        return (grad_out * _inside(x, a_min, a_max, out),)

    def jvp(x_dot, out, x, *, a_min, a_max):
        return x_dot * _inside(x, a_min, a_max, out)


def _inside(x, a_min, a_max, out):
    xr = x._data if hasattr(x, "_data") else np.asarray(x)
    # In the output's shape: array bounds may broadcast x to a larger one; the engine sums back.
    inside = np.ones(np.shape(out._data if hasattr(out, "_data") else out), dtype=bool)
    if a_min is not None:
        inside &= xr >= a_min
    if a_max is not None:
        inside &= xr <= a_max
    return _as_mask(inside, out)


@register
class Identity(Op):
    """z = x. Marks where a transform starts, so that nested transforms never confuse their inputs."""

    batch = batching.elementwise

    def forward(x):
        return x

    def flops(out, x):
        return 0

    def vjp(grad_out, out, x):
        return (grad_out,)

    def jvp(x_dot, out, x):
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

    def vjp(grad_out, out, x, *, dtype):
        x_dtype = np.asarray(x._data if hasattr(x, "_data") else x).dtype
        if not np.issubdtype(x_dtype, np.complexfloating):
            grad_out = real(grad_out)
        return (astype(grad_out, x_dtype),)

    def jvp(x_dot, out, x, *, dtype):
        return astype(x_dot, dtype)


# --- public functions: primitives ---------------------------------------------------------------

def add(x, y):
    """x + y elementwise, with broadcasting."""
    return Add.apply(x, y)


def subtract(x, y):
    """x - y elementwise, with broadcasting."""
    return Subtract.apply(x, y)


def multiply(x, y):
    """x * y elementwise, with broadcasting."""
    return Multiply.apply(x, y)


def divide(x, y):
    """x / y elementwise, with broadcasting."""
    return Divide.apply(x, y)


true_divide = divide


def negative(x):
    """-x."""
    return Negative.apply(x)


def power(x, y):
    """x ** y elementwise, with broadcasting."""
    return Power.apply(x, y)


def exp(x):
    """e^x."""
    return Exp.apply(x)


def log(x):
    """Natural logarithm."""
    return Log.apply(x)


def log1p(x):
    """ln(1 + x), accurate near 0."""
    return Log1p.apply(x)


def expm1(x):
    """e^x - 1, accurate near 0."""
    return Expm1.apply(x)


def sqrt(x):
    """Square root."""
    return Sqrt.apply(x)


def sign(x):
    """-1, 0 or 1 (no derivative: treated as a constant)."""
    return Sign.apply(x)


sign.__nablanet_constant__ = True


def abs(x):
    """|x|."""
    return Abs.apply(x)


absolute = abs


def sin(x):
    """Sine."""
    return Sin.apply(x)


def cos(x):
    """Cosine."""
    return Cos.apply(x)


def tanh(x):
    """Hyperbolic tangent."""
    return Tanh.apply(x)


def sigmoid(x):
    """Logistic function 1/(1 + e^-x), stable for any x."""
    return Sigmoid.apply(x)


def maximum(x, y):
    """Elementwise maximum (gradient split evenly on ties)."""
    return Maximum.apply(x, y)


def minimum(x, y):
    """Elementwise minimum (gradient split evenly on ties)."""
    return Minimum.apply(x, y)


def where(condition, x, y):
    """x where condition is true, else y (the condition gets no gradient)."""
    condition = condition._data if hasattr(condition, "_data") else condition
    if isinstance(condition, batching.BatchTracer):
        return Where.apply(x, y, condition=condition if condition.dtype == bool else condition != 0)
    return Where.apply(x, y, condition=np.asarray(condition, dtype=bool))


def clip(x, a_min=None, a_max=None):
    """Limit values to [a_min, a_max]; either bound may be None."""
    if a_min is None and a_max is None:
        raise ValueError("clip: give a_min, a_max or both")
    return Clip.apply(x, a_min=a_min, a_max=a_max)


# Not exported under NumPy's names: numpy.identity(n) is the n x n identity matrix.
def identity(x):
    """x itself, as a new node of the graph."""
    return Identity.apply(x)


def astype(x, dtype):
    """x converted to dtype; converting a traced value to an integer dtype, or a complex one to a real
    dtype (which would drop its imaginary part), is an error: take ``real(x)`` first."""
    dtype = np.dtype(dtype)
    if hasattr(x, "_requires_grad") and (x._requires_grad or x._tangents):
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

def square(x):
    """x * x."""
    return multiply(x, x)


def reciprocal(x):
    """1 / x."""
    return divide(1.0, x)


def logaddexp(x, y):
    """log(e^x + e^y), without overflow: max(x, y) + log1p(e^-|x - y|)."""
    return maximum(x, y) + log1p(exp(-abs(x - y)))
