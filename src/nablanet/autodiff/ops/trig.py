"""Trigonometric and hyperbolic functions beyond sin, cos and tanh, their inverses, hypot, sinc, degrees.

sin, cos and tanh live in ``elementwise.py`` with the original primitives. Each function here is a
primitive whose forward is NumPy's own (so values, overflow and branch cuts are NumPy's) and whose
derivative is written with ops, so every order is right. The holomorphic ones take complex input
with the same rule (JAX's convention, see ``elementwise.py``); arctan2, hypot and the degree
conversions are real only, as in NumPy. The derivatives are DLMF sections 4.24 (inverse
trigonometric), 4.34 (hyperbolic) and 4.38 (inverse hyperbolic).
"""

from __future__ import annotations

import math

import numpy as np

from nablanet.autodiff import batching
from nablanet.autodiff.op import Op, register
from nablanet.autodiff.ops.elementwise import _any, _is_complex, _safe_divide, _ufunc, _unary_rules, _values, cos, sin, sqrt, where

__all__ = [
    "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh", "arcsinh", "arccosh", "arctanh",
    "asin", "acos", "atan", "atan2", "asinh", "acosh", "atanh",
    "hypot", "sinc", "deg2rad", "rad2deg", "radians", "degrees",
]


@register
@_unary_rules
class Tan(Op):
    """z = tan x.   dz/dx = 1 + z^2 = 1 / cos^2 x."""

    batch = batching.elementwise

    def forward(x):
        return np.tan(x)

    def slope(x, out):
        return 1.0 + out * out


@register
@_unary_rules
class Arcsin(Op):
    """z = arcsin x.   dz/dx = 1 / sqrt(1 - x^2), written (1 - x)(1 + x), exact near x = +-1."""

    batch = batching.elementwise

    def forward(x):
        return np.arcsin(x)

    def slope(x, out):
        return 1.0 / sqrt((1.0 - x) * (1.0 + x))


@register
@_unary_rules
class Arccos(Op):
    """z = arccos x.   dz/dx = -1 / sqrt(1 - x^2)."""

    batch = batching.elementwise

    def forward(x):
        return np.arccos(x)

    def slope(x, out):
        return -1.0 / sqrt((1.0 - x) * (1.0 + x))


@register
@_unary_rules
class Arctan(Op):
    """z = arctan x.   dz/dx = 1 / (1 + x^2), for real x (1 / hypot(x, 1))^2, which never overflows."""

    batch = batching.elementwise

    def forward(x):
        return np.arctan(x)

    def slope(x, out):
        if _is_complex(x):
            return 1.0 / (1.0 + x * x)
        # (1 / hypot(x, 1))^2: x^2 would overflow beyond 1e154 (with a warning).
        inverse = 1.0 / hypot(x, 1.0)
        return inverse * inverse


@register
class Arctan2(Op):
    """z = arctan2(x, y): the angle of the point (y, x), NumPy's argument order (x is the ordinate).

    dz/dx = y / r^2,  dz/dy = -x / r^2 with r = hypot(x, y), computed as (y / r) / r so that neither
    tiny nor huge points overflow r^2. At the origin, where the angle jumps, both are taken as 0
    (as |x| at 0; PyTorch gives NaN).
    """

    batch = batching.elementwise

    def forward(x, y):
        return np.arctan2(x, y)

    def vjp(grad_out, out, x, y, *, needs):
        r = hypot(x, y)
        grad_x = grad_out * _safe_divide(_safe_divide(y, r), r) if needs[0] else None
        grad_y = -grad_out * _safe_divide(_safe_divide(x, r), r) if needs[1] else None
        return grad_x, grad_y

    def jvp(x_dot, y_dot, out, x, y, *, needs):
        r = hypot(x, y)
        return _safe_divide(x_dot * _safe_divide(y, r) - y_dot * _safe_divide(x, r), r)


@register
@_unary_rules
class Sinh(Op):
    """z = sinh x.   dz/dx = cosh x."""

    batch = batching.elementwise

    def forward(x):
        return np.sinh(x)

    def slope(x, out):
        return cosh(x)


@register
@_unary_rules
class Cosh(Op):
    """z = cosh x.   dz/dx = sinh x."""

    batch = batching.elementwise

    def forward(x):
        return np.cosh(x)

    def slope(x, out):
        return sinh(x)


@register
@_unary_rules
class Arcsinh(Op):
    """z = arcsinh x.   dz/dx = 1 / sqrt(x^2 + 1), for real x 1 / hypot(x, 1), which never overflows."""

    batch = batching.elementwise

    def forward(x):
        return np.arcsinh(x)

    def slope(x, out):
        if _is_complex(x):
            return 1.0 / sqrt(x * x + 1.0)
        return 1.0 / hypot(x, 1.0)


@register
@_unary_rules
class Arccosh(Op):
    """z = arccosh x.   dz/dx = 1 / (sqrt(x - 1) sqrt(x + 1)): the product of roots, not sqrt(x^2 - 1),
    is exact near 1, never overflows, and is the derivative of NumPy's branch for complex x."""

    batch = batching.elementwise

    def forward(x):
        return np.arccosh(x)

    def slope(x, out):
        return 1.0 / (sqrt(x - 1.0) * sqrt(x + 1.0))


@register
@_unary_rules
class Arctanh(Op):
    """z = arctanh x.   dz/dx = 1 / ((1 - x)(1 + x)), exact near x = +-1."""

    batch = batching.elementwise

    def forward(x):
        return np.arctanh(x)

    def slope(x, out):
        return 1.0 / ((1.0 - x) * (1.0 + x))


@register
class Hypot(Op):
    """z = sqrt(x^2 + y^2) without overflow or underflow.   dz/dx = x / z,  dz/dy = y / z.

    At the origin both are taken as 0, the subgradient |x| has at 0 (as JAX; PyTorch gives NaN).
    """

    batch = batching.elementwise

    def forward(x, y):
        return np.hypot(x, y)

    def vjp(grad_out, out, x, y, *, needs):
        grad_x = grad_out * _safe_divide(x, out) if needs[0] else None
        grad_y = grad_out * _safe_divide(y, out) if needs[1] else None
        return grad_x, grad_y

    def jvp(x_dot, y_dot, out, x, y, *, needs):
        return x_dot * _safe_divide(x, out) + y_dot * _safe_divide(y, out)


@register
@_unary_rules
class Sinc(Op):
    """The normalized sinc z = sin(pi x) / (pi x), 1 at x = 0.   dz/dx = (cos(pi x) - z) / x.

    The singularity at 0 is removable, but the formula is 0/0 there and loses digits near it. So for
    |x| < 1/4 the derivative is its Taylor series, sum_k (-1)^k 2k pi^2k x^(2k-1) / (2k+1)!, to
    nine terms (below 1e-17 relative there); written with ops, its own derivatives are those of
    the series, so every order is finite and right at 0: 0, -pi^2/3, 0, pi^4/5, ...
    """

    batch = batching.elementwise

    def forward(x):
        return np.sinc(x)

    def slope(x, out):
        near_zero = np.less(np.abs(_values(x)), 0.25)
        if not _any(near_zero):
            return (cos(math.pi * x) - out) / x
        # Each branch at arguments where it is accurate and finite (the double-where pattern); out
        # belongs to x, but it is only used where x is kept.
        far = where(near_zero, 1.0, x)
        series = _sinc_slope_series(where(near_zero, x, 0.0))
        return where(near_zero, series, (cos(math.pi * far) - out) / far)


# Taylor coefficients of sinc'(x) = x sum_k c_k (x^2)^(k-1): c_k = (-1)^k 2k pi^(2k) / (2k+1)!.
_SINC_SLOPE_SERIES = [(-1) ** k * 2 * k * math.pi ** (2 * k) / math.factorial(2 * k + 1) for k in range(1, 10)]


def _sinc_slope_series(x):
    t = x * x
    total = _SINC_SLOPE_SERIES[-1]
    for c in reversed(_SINC_SLOPE_SERIES[:-1]):
        total = c + t * total
    return x * total


@register
@_unary_rules
class Deg2Rad(Op):
    """z = x pi / 180.   A primitive only so that values are NumPy's in every precision (NumPy's
    float16 loop rounds through float32, which x * (pi / 180) does not reproduce)."""

    batch = batching.elementwise

    def forward(x):
        return np.deg2rad(x)

    def slope(x, out):
        return math.pi / 180.0


@register
@_unary_rules
class Rad2Deg(Op):
    """z = x 180 / pi.   A primitive only so that values are NumPy's in every precision (in float32
    NumPy multiplies by 180_f / pi_f, which differs from the double 180 / pi rounded to float32)."""

    batch = batching.elementwise

    def forward(x):
        return np.rad2deg(x)

    def slope(x, out):
        return 180.0 / math.pi


# --- public functions ------------------------------------------------------------------------------

@_ufunc
def tan(x):
    """Tangent.   d/dx tan x = 1 + tan^2 x.

    Example:
        >>> from nablanet import grad
        >>> print(f"{float(grad(tan)(0.5)):.6f}")
        1.298446
    """
    return Tan.apply(x)


@_ufunc
def arcsin(x):
    """Inverse sine (complex: NumPy's principal branch).   d/dx = 1 / sqrt(1 - x^2).

    Example:
        >>> from nablanet import grad
        >>> print(f"{float(grad(arcsin)(0.6)):.6f}")
        1.250000
    """
    return Arcsin.apply(x)


@_ufunc
def arccos(x):
    """Inverse cosine.   d/dx = -1 / sqrt(1 - x^2).

    Example:
        >>> from nablanet import grad
        >>> print(f"{float(grad(arccos)(0.6)):.6f}")
        -1.250000
    """
    return Arccos.apply(x)


@_ufunc
def arctan(x):
    """Inverse tangent.   d/dx = 1 / (1 + x^2).

    Example:
        >>> from nablanet import grad
        >>> print(f"{float(grad(arctan)(2.0)):.6f}")
        0.200000
    """
    return Arctan.apply(x)


@_ufunc
def arctan2(x, y):
    """The angle of the point (y, x) in (-pi, pi], NumPy's argument order arctan2(x1, x2) (real only).

    d/dx = y / (x^2 + y^2), d/dy = -x / (x^2 + y^2); 0 at the origin.

    Example:
        >>> from nablanet import grad
        >>> print(f"{float(arctan2(1.0, -1.0)):.6f}")
        2.356194
        >>> [f"{float(g):.6f}" for g in grad(arctan2, argnums=(0, 1))(1.0, -1.0)]
        ['-0.500000', '-0.500000']
    """
    return Arctan2.apply(x, y)


@_ufunc
def sinh(x):
    """Hyperbolic sine.   d/dx = cosh x.

    Example:
        >>> from nablanet import grad
        >>> print(f"{float(sinh(1.0)):.6f} {float(grad(sinh)(0.0)):g}")
        1.175201 1
    """
    return Sinh.apply(x)


@_ufunc
def cosh(x):
    """Hyperbolic cosine.   d/dx = sinh x.

    Example:
        >>> from nablanet import grad
        >>> print(f"{float(cosh(0.0)):g} {float(grad(cosh)(1.0)):.6f}")
        1 1.175201
    """
    return Cosh.apply(x)


@_ufunc
def arcsinh(x):
    """Inverse hyperbolic sine.   d/dx = 1 / sqrt(x^2 + 1).

    Example:
        >>> from nablanet import grad
        >>> print(f"{float(arcsinh(1e300)):.3f} {float(grad(arcsinh)(0.75)):.6f}")
        691.469 0.800000
    """
    return Arcsinh.apply(x)


@_ufunc
def arccosh(x):
    """Inverse hyperbolic cosine (real x >= 1).   d/dx = 1 / (sqrt(x - 1) sqrt(x + 1)).

    Example:
        >>> from nablanet import grad
        >>> print(f"{float(grad(arccosh)(1.25)):.6f}")
        1.333333
    """
    return Arccosh.apply(x)


@_ufunc
def arctanh(x):
    """Inverse hyperbolic tangent (real |x| < 1).   d/dx = 1 / (1 - x^2).

    Example:
        >>> from nablanet import grad
        >>> print(f"{float(grad(arctanh)(0.5)):.6f}")
        1.333333
    """
    return Arctanh.apply(x)


# NumPy 2's array-API names for the same ufuncs.
asin, acos, atan, atan2, asinh, acosh, atanh = arcsin, arccos, arctan, arctan2, arcsinh, arccosh, arctanh


@_ufunc
def hypot(x, y):
    """sqrt(x^2 + y^2) without overflow (real only).   d/dx = x / hypot(x, y); 0 at the origin.

    Example:
        >>> from nablanet import grad
        >>> print(f"{float(hypot(3e200, 4e200)):.3g}", [float(g) for g in grad(hypot, argnums=(0, 1))(3.0, 4.0)])
        5e+200 [0.6, 0.8]
    """
    return Hypot.apply(x, y)


def sinc(x):
    """The normalized sinc sin(pi x) / (pi x), 1 at 0, as numpy.sinc (complex too).

    d/dx = (cos(pi x) - sinc x) / x, with the limits at 0 to every order: 0, -pi^2/3, ...

    Example:
        >>> from nablanet import grad
        >>> d2 = grad(grad(sinc))(0.0)
        >>> print(float(sinc(0.0)), float(grad(sinc)(0.0)) == 0.0, f"{float(d2):.6f}", f"{-math.pi ** 2 / 3:.6f}")
        1.0 True -3.289868 -3.289868
    """
    return Sinc.apply(x)


@_ufunc
def deg2rad(x):
    """Degrees to radians, x pi / 180 (real only, as NumPy).

    Example:
        >>> print(f"{float(deg2rad(180.0)):.6f}")
        3.141593
    """
    return Deg2Rad.apply(x)


@_ufunc
def rad2deg(x):
    """Radians to degrees, x 180 / pi (real only, as NumPy).

    Example:
        >>> print(f"{float(rad2deg(math.pi)):g}")
        180
    """
    return Rad2Deg.apply(x)


# numpy.radians and numpy.degrees are ufuncs of their own with the same values (checked in the tests).
radians = deg2rad
degrees = rad2deg
