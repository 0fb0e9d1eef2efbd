"""Special functions with derivatives: scipy.special's functions, signatures and values.

Every forward is SciPy's own function, so values (and float32 results) are SciPy's. Each derivative
is written with ops, most of them special functions again (digamma' = polygamma(1, .), i0' = i1,
jv' = (jv(v - 1) - jv(v + 1))/2, ...), so derivatives of every order are available. Where SciPy's
function takes an argument that is not differentiated here (the order v of a Bessel function, the
shape a of gammainc, the exponent x of zeta), asking for that derivative raises NotImplementedError
naming the argument; the other arguments' derivatives are unaffected.

The functions take SciPy's arguments (array_like, broadcast together as SciPy's ufuncs broadcast
them) and return SciPy's result shape and dtype. Complex arguments are accepted wherever SciPy
accepts them; the rules of the holomorphic functions (erf, erfc, erfcx, ndtr, log_ndtr, xlogy, iv,
kv, jv, yv, ...) are those for real numbers under JAX's convention (``elementwise.py``); ive is not
holomorphic and has its own. SciPy's polygamma takes real arguments only, so derivatives of digamma
(and second derivatives of gamma and rgamma) at complex points raise TypeError.

References: the derivatives are DLMF's (https://dlmf.nist.gov): 5.15 (polygamma), 7.10 (erf and
its inverses), 8.8.13 (gammainc), 10.6.2 and 10.29.1 (Bessel), 25.11.17 (Hurwitz zeta); the
conventions at zero of xlogy and xlog1py are PyTorch's (``tools/autograd/derivatives.yaml``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from nablanet.autodiff import batching
from nablanet.autodiff.op import Op, raw as _raw, register
from nablanet.autodiff.ops.elementwise import (Cbrt, Exp2, Expm1, Log1p, Sigmoid, _unary_rules, cos, exp, log, real,
                                               sign, sin, where)
from nablanet.autodiff.ops.reduce import _kept_shape, _normalize_axis, log_softmax as _log_softmax
from nablanet.autodiff.ops.reduce import softmax as _softmax
from nablanet.autodiff.ops.reduce import sum
from nablanet.autodiff.ops.shape import reshape, stack

__all__ = [
    "gammaln", "digamma", "psi", "polygamma", "gamma", "rgamma", "beta", "betaln", "multigammaln",
    "erf", "erfc", "erfcx", "erfinv", "erfcinv", "expit", "logit", "log_expit",
    "logsumexp", "softmax", "log_softmax", "xlogy", "xlog1py", "entr", "rel_entr", "kl_div",
    "i0", "i0e", "i1", "i1e", "iv", "ive", "kv", "kve", "j0", "j1", "jv", "y0", "y1", "yv", "yn",
    "gammainc", "gammaincc", "betainc", "gammasgn", "ndtr", "ndtri", "log_ndtr", "expm1", "log1p", "exp2", "exp10", "cbrt", "zeta",
]

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_PI_OVER_TWO = math.sqrt(math.pi) / 2.0
_SQRT_TWO_PI = math.sqrt(2.0 * math.pi)


def _binary_rules(slope_x, slope_y):
    """The VJP and JVP of an elementwise f(x, y) from its partial derivatives slope_*(out, x, y)."""

    def vjp(grad_out, out, x, y, *, needs):
        grad_x = grad_out * slope_x(out, x, y) if needs[0] else None
        grad_y = grad_out * slope_y(out, x, y) if needs[1] else None
        return grad_x, grad_y

    def jvp(x_dot, y_dot, out, x, y, *, needs):
        out_dot = x_dot * slope_x(out, x, y) if needs[0] else 0.0
        if needs[1]:
            out_dot = out_dot + y_dot * slope_y(out, x, y)
        return out_dot

    return vjp, jvp


def _refused(function: str, argument: str, reason: str):
    """A partial derivative that is not provided: asking for it raises, naming the argument."""

    def slope(*args):
        raise NotImplementedError(f"{function}: the derivative with respect to {argument} is not implemented "
                                  f"({reason})")

    return slope


_ORDER = "the order of the Bessel function is a parameter here; only the derivative in z is provided"


# --- gamma function and its relatives ---------------------------------------------------------------

@register
@_unary_rules
class Gammaln(Op):
    """ln|Gamma(x)|.   d/dx = digamma(x) (DLMF 5.2.2), for negative non-integer x as well."""

    batch = batching.elementwise

    def forward(x):
        return special.gammaln(x)

    def slope(x, out):
        return digamma(x)


@register
class Polygamma(Op):
    """psi^(n)(x) = d^{n+1}/dx^{n+1} ln Gamma(x), n = 0, 1, 2, ... (n = 0: digamma).   d/dx = psi^(n+1)(x).

    The order n is an integer constant. Float32 x gives float32 (SciPy's polygamma returns float64
    for n >= 1; digamma keeps float32), so that derivatives of digamma stay in single precision.
    """

    batch = batching.elementwise

    def forward(n, x):
        x = np.asarray(x)
        if np.ndim(n) == 0 and n == 0:
            return special.psi(x)
        if np.iscomplexobj(x):
            raise TypeError("polygamma: SciPy's polygamma of order n >= 1 takes real x only, so it (and the "
                            "derivatives of digamma, the second derivatives of gamma and rgamma) cannot be "
                            f"evaluated at complex x (got {x.dtype})")
        return np.asarray(special.polygamma(n, x)).astype(np.result_type(x, 1.0), copy=False)

    vjp, jvp = _binary_rules(_refused("polygamma", "n", "n is an integer order"),
                             lambda out, n, x: polygamma(n + 1, x))


@register
@_unary_rules
class Gamma(Op):
    """Gamma(x).   d/dx = Gamma(x) digamma(x) (DLMF 5.15.1)."""

    batch = batching.elementwise

    def forward(x):
        return special.gamma(x)

    def slope(x, out):
        return out * digamma(x)


def _rgamma_slope(x, out):
    """d/dx 1/Gamma(x) = -digamma(x)/Gamma(x), finite at the poles of Gamma.

    -digamma(x) rgamma(x) is 0 * inf at x = 0, -1, -2, ..., where 1/Gamma is smooth (its derivative
    at -k is (-1)^k k!). For Re x < 1/2 the reflection 1/Gamma(x) = sin(pi x) Gamma(1 - x)/pi
    (DLMF 5.5.3) gives Gamma(1 - x) (cos(pi x) - sin(pi x) digamma(1 - x)/pi), finite there. Each
    branch is evaluated at a safe point where it is not used, so that no inf reaches a derivative.
    """
    left = np.real(_raw(x)) < 0.5
    x_left = where(left, x, 0.0)
    x_right = where(left, 1.0, x)
    angle = math.pi * x_left
    reflected = gamma(1.0 - x_left) * (cos(angle) - sin(angle) * digamma(1.0 - x_left) * (1.0 / math.pi))
    direct = -rgamma(x_right) * digamma(x_right)
    return where(left, reflected, direct)


@register
@_unary_rules
class Rgamma(Op):
    """1/Gamma(x), an entire function (0 at x = 0, -1, -2, ...).   d/dx = -digamma(x)/Gamma(x)."""

    batch = batching.elementwise

    def forward(x):
        return special.rgamma(x)

    slope = _rgamma_slope


@register
class Beta(Op):
    """B(a, b) = Gamma(a) Gamma(b) / Gamma(a + b).   dB/da = B (digamma(a) - digamma(a + b)), likewise b."""

    batch = batching.elementwise

    def forward(a, b):
        return special.beta(a, b)

    vjp, jvp = _binary_rules(lambda out, a, b: out * (digamma(a) - digamma(a + b)),
                             lambda out, a, b: out * (digamma(b) - digamma(a + b)))


@register
class Betaln(Op):
    """ln|B(a, b)|.   d/da = digamma(a) - digamma(a + b), likewise b."""

    batch = batching.elementwise

    def forward(a, b):
        return special.betaln(a, b)

    vjp, jvp = _binary_rules(lambda out, a, b: digamma(a) - digamma(a + b),
                             lambda out, a, b: digamma(b) - digamma(a + b))


# --- error functions and the normal distribution ----------------------------------------------------

@register
@_unary_rules
class Erf(Op):
    """erf(x) = 2/sqrt(pi) int_0^x e^{-t^2} dt.   d erf/dx = 2/sqrt(pi) e^{-x^2} (DLMF 7.10.1); holomorphic."""

    batch = batching.elementwise

    def forward(x):
        return special.erf(x)

    def slope(x, out):
        return _TWO_OVER_SQRT_PI * exp(-(x * x))


@register
@_unary_rules
class Erfc(Op):
    """erfc(x) = 1 - erf(x), accurate where erf(x) is near 1.   d/dx = -2/sqrt(pi) e^{-x^2}."""

    batch = batching.elementwise

    def forward(x):
        return special.erfc(x)

    def slope(x, out):
        return -_TWO_OVER_SQRT_PI * exp(-(x * x))


@register
@_unary_rules
class Erfcx(Op):
    """erfcx(x) = e^{x^2} erfc(x), the scaled complementary error function.   d/dx = 2 x erfcx(x) - 2/sqrt(pi)."""

    batch = batching.elementwise

    def forward(x):
        return special.erfcx(x)

    def slope(x, out):
        return 2.0 * x * out - _TWO_OVER_SQRT_PI


@register
@_unary_rules
class Erfinv(Op):
    """y = erfinv(x) on (-1, 1), erf(y) = x.   dy/dx = sqrt(pi)/2 e^{y^2} (the inverse function's rule)."""

    batch = batching.elementwise

    def forward(x):
        return special.erfinv(x)

    def slope(x, out):
        return _SQRT_PI_OVER_TWO * exp(out * out)


@register
@_unary_rules
class Erfcinv(Op):
    """y = erfcinv(x) on (0, 2), erfc(y) = x.   dy/dx = -sqrt(pi)/2 e^{y^2}."""

    batch = batching.elementwise

    def forward(x):
        return special.erfcinv(x)

    def slope(x, out):
        return -_SQRT_PI_OVER_TWO * exp(out * out)


@register
@_unary_rules
class Ndtr(Op):
    """Phi(x), the standard normal distribution function.   d/dx = e^{-x^2/2} / sqrt(2 pi)."""

    batch = batching.elementwise

    def forward(x):
        return special.ndtr(x)

    def slope(x, out):
        return exp(-0.5 * x * x) * (1.0 / _SQRT_TWO_PI)


@register
@_unary_rules
class Ndtri(Op):
    """y = Phi^{-1}(p) on (0, 1).   dy/dp = sqrt(2 pi) e^{y^2/2}."""

    batch = batching.elementwise

    def forward(x):
        return special.ndtri(x)

    def slope(x, out):
        return _SQRT_TWO_PI * exp(0.5 * out * out)


@register
@_unary_rules
class LogNdtr(Op):
    """ln Phi(x), accurate far into the lower tail.   d/dx = phi(x)/Phi(x) = e^{-x^2/2 - ln Phi(x)} / sqrt(2 pi).

    Written with ln Phi itself, so the ratio stays finite where both phi and Phi underflow (x = -40).
    """

    batch = batching.elementwise

    name = "log_ndtr"

    def forward(x):
        return special.log_ndtr(x)

    def slope(x, out):
        return exp(-0.5 * x * x - out) * (1.0 / _SQRT_TWO_PI)


# --- logistic function, exponentials and logarithms -------------------------------------------------

@register
class Expit(Sigmoid):
    """SciPy's logistic function expit(x) = 1/(1 + e^-x), with sigmoid's rules: d/dx = expit (1 - expit)."""

    name = "expit"

    def forward(x):
        return special.expit(x)


@register
@_unary_rules
class Logit(Op):
    """logit(p) = ln(p / (1 - p)), the inverse of expit.   d/dp = 1/(p (1 - p))."""

    batch = batching.elementwise

    def forward(x):
        return special.logit(x)

    def slope(x, out):
        return 1.0 / (x * (1.0 - x))


@register
@_unary_rules
class LogExpit(Op):
    """ln expit(x) = -ln(1 + e^-x), without overflow.   d/dx = 1 - expit(x) = expit(-x)."""

    batch = batching.elementwise

    name = "log_expit"

    def forward(x):
        return special.log_expit(x)

    def slope(x, out):
        return expit(-x)


@register
class SpecialExpm1(Expm1):
    """SciPy's e^x - 1 (scipy.special.expm1), with the rules of numpy's: d/dx = e^x = out + 1."""

    name = "special_expm1"

    def forward(x):
        return special.expm1(x)


@register
class SpecialLog1p(Log1p):
    """SciPy's ln(1 + x) (scipy.special.log1p), with the rules of numpy's: d/dx = 1/(1 + x)."""

    name = "special_log1p"

    def forward(x):
        return special.log1p(x)


@register
class SpecialExp2(Exp2):
    """SciPy's 2^x (scipy.special.exp2), with the rules of numpy's: d/dx = 2^x ln 2."""

    name = "special_exp2"

    def forward(x):
        return special.exp2(x)


@register
@_unary_rules
class Exp10(Op):
    """10^x.   d/dx = 10^x ln 10."""

    batch = batching.elementwise

    def forward(x):
        return special.exp10(x)

    def slope(x, out):
        return out * math.log(10.0)


@register
class SpecialCbrt(Cbrt):
    """SciPy's real cube root (scipy.special.cbrt), with the rules of numpy's: d/dx = 1/(3 cbrt(x)^2)."""

    name = "special_cbrt"

    def forward(x):
        return special.cbrt(x)


# --- information theory -----------------------------------------------------------------------------

def _at_zero_with(x, y, bound):
    """Where x = 0 and y lies on or beyond the bound of log's domain (y <= bound on the real line):
    there x log(y) is taken as 0 and so is its derivative in x (PyTorch's convention)."""
    x_raw, y_raw = _raw(x), _raw(y)
    return (x_raw == 0) & (np.real(y_raw) <= bound) & (np.imag(y_raw) == 0)


def _xlogy_slope_x(out, x, y):
    beyond = _at_zero_with(x, y, 0.0)
    return where(beyond, 0.0, log(where(beyond, 1.0, y)))


def _xlog1py_slope_x(out, x, y):
    beyond = _at_zero_with(x, y, -1.0)
    return where(beyond, 0.0, log1p(where(beyond, 0.0, y)))


@register
class Xlogy(Op):
    """x ln y, and 0 where x = 0 (for any y).   d/dx = ln y (0 where x = 0 and y <= 0), d/dy = x / y.

    The derivatives are PyTorch's (``xlogy`` in derivatives.yaml): at x = y = 0 the one in y is NaN.
    """

    batch = batching.elementwise

    def forward(x, y):
        return special.xlogy(x, y)

    vjp, jvp = _binary_rules(_xlogy_slope_x, lambda out, x, y: x / y)


@register
class Xlog1py(Op):
    """x ln(1 + y), and 0 where x = 0.   d/dx = ln(1 + y) (0 where x = 0 and y <= -1), d/dy = x / (1 + y)."""

    batch = batching.elementwise

    def forward(x, y):
        return special.xlog1py(x, y)

    vjp, jvp = _binary_rules(_xlog1py_slope_x, lambda out, x, y: x / (1.0 + y))


@register
@_unary_rules
class Entr(Op):
    """-x ln x for x > 0, 0 at x = 0 (-inf for x < 0).   d/dx = -(1 + ln x)."""

    batch = batching.elementwise

    def forward(x):
        return special.entr(x)

    def slope(x, out):
        return -(1.0 + log(x))


@register
class RelEntr(Op):
    """x ln(x / y) for x, y > 0 (0 at x = 0, y >= 0; inf otherwise).   d/dx = ln(x / y) + 1, d/dy = -x / y."""

    batch = batching.elementwise

    name = "rel_entr"

    def forward(x, y):
        return special.rel_entr(x, y)

    vjp, jvp = _binary_rules(lambda out, x, y: log(x / y) + 1.0, lambda out, x, y: -x / y)


# --- Bessel functions -------------------------------------------------------------------------------
# The order v (or n) is the first argument and is not differentiated; the recurrences are DLMF
# 10.6.2 (J, Y: C'_v = (C_{v-1} - C_{v+1})/2) and 10.29.1 (I: (I_{v-1} + I_{v+1})/2, K: -(K_{v-1} + K_{v+1})/2).

def _neighbours(function, v, z, sign: float, step=1.0):
    """(C_{v-1}(z) + sign C_{v+1}(z)) / 2 for C = function: the derivative in z of J_v and Y_v (sign
    -1) and of I_v (+1), and minus that of K_v (+1). An int step keeps yn's integer order an integer."""
    return (function(v - step, z) + sign * function(v + step, z)) * 0.5

@register
@_unary_rules
class I0(Op):
    """I_0(x), the modified Bessel function of order 0.   d/dx = I_1(x)."""

    batch = batching.elementwise

    def forward(x):
        return special.i0(x)

    def slope(x, out):
        return i1(x)


@register
@_unary_rules
class I0e(Op):
    """e^{-|x|} I_0(x).   d/dx = i1e(x) - sign(x) i0e(x) (a kink at 0, where sign gives 0, as PyTorch)."""

    batch = batching.elementwise

    def forward(x):
        return special.i0e(x)

    def slope(x, out):
        return i1e(x) - sign(x) * out


@register
@_unary_rules
class I1(Op):
    """I_1(x).   d/dx = (I_0(x) + I_2(x))/2, which needs no limit at 0 (where it is 1/2)."""

    batch = batching.elementwise

    def forward(x):
        return special.i1(x)

    def slope(x, out):
        return (i0(x) + iv(2.0, x)) * 0.5


@register
@_unary_rules
class I1e(Op):
    """e^{-|x|} I_1(x).   d/dx = (i0e(x) + ive(2, x))/2 - sign(x) i1e(x)."""

    batch = batching.elementwise

    def forward(x):
        return special.i1e(x)

    def slope(x, out):
        return (i0e(x) + ive(2.0, x)) * 0.5 - sign(x) * out


@register
class Iv(Op):
    """I_v(z) of real order v.   dI_v/dz = (I_{v-1}(z) + I_{v+1}(z))/2; holomorphic in z."""

    batch = batching.elementwise

    def forward(v, z):
        return special.iv(v, z)

    vjp, jvp = _binary_rules(_refused("iv", "v", _ORDER), lambda out, v, z: _neighbours(iv, v, z, 1.0))


def _ive_slopes(out, v, z):
    """(a, b) with d ive = a dz + b d(Re z): ive(v, z) = I_v(z) e^{-|Re z|} is not holomorphic.

    a = (ive(v-1, z) + ive(v+1, z))/2 and b = -sign(Re z) ive(v, z).
    """
    holomorphic = _neighbours(ive, v, z, 1.0)
    return holomorphic, -sign(real(z)) * out


@register
class Ive(Op):
    """e^{-|Re z|} I_v(z).   d/dz (real z) = (ive(v-1, z) + ive(v+1, z))/2 - sign(z) ive(v, z).

    For complex z the tangent map is z_dot -> a z_dot + b Re(z_dot) (``_ive_slopes``), whose
    transpose under JAX's pairing is g -> g a + Re(g b).
    """

    batch = batching.elementwise

    def forward(v, z):
        return special.ive(v, z)

    def vjp(grad_out, out, v, z, *, needs):
        if needs[0]:
            _refused("ive", "v", _ORDER)()
        holomorphic, along_real = _ive_slopes(out, v, z)
        return None, grad_out * holomorphic + real(grad_out * along_real)

    def jvp(v_dot, z_dot, out, v, z, *, needs):
        if needs[0]:
            _refused("ive", "v", _ORDER)()
        holomorphic, along_real = _ive_slopes(out, v, z)
        return z_dot * holomorphic + along_real * real(z_dot)


@register
class Kv(Op):
    """K_v(z), the modified Bessel function of the second kind.   dK_v/dz = -(K_{v-1}(z) + K_{v+1}(z))/2."""

    batch = batching.elementwise

    def forward(v, z):
        return special.kv(v, z)

    vjp, jvp = _binary_rules(_refused("kv", "v", _ORDER), lambda out, v, z: -_neighbours(kv, v, z, 1.0))


@register
class Kve(Op):
    """e^z K_v(z) (holomorphic).   d/dz = kve(v, z) - (kve(v-1, z) + kve(v+1, z))/2."""

    batch = batching.elementwise

    def forward(v, z):
        return special.kve(v, z)

    vjp, jvp = _binary_rules(_refused("kve", "v", _ORDER),
                             lambda out, v, z: out - _neighbours(kve, v, z, 1.0))


@register
@_unary_rules
class J0(Op):
    """J_0(x), the Bessel function of the first kind of order 0.   d/dx = -J_1(x)."""

    batch = batching.elementwise

    def forward(x):
        return special.j0(x)

    def slope(x, out):
        return -j1(x)


@register
@_unary_rules
class J1(Op):
    """J_1(x).   d/dx = (J_0(x) - J_2(x))/2."""

    batch = batching.elementwise

    def forward(x):
        return special.j1(x)

    def slope(x, out):
        return (j0(x) - jv(2.0, x)) * 0.5


@register
class Jv(Op):
    """J_v(z) of real order v.   dJ_v/dz = (J_{v-1}(z) - J_{v+1}(z))/2."""

    batch = batching.elementwise

    def forward(v, z):
        return special.jv(v, z)

    vjp, jvp = _binary_rules(_refused("jv", "v", _ORDER), lambda out, v, z: _neighbours(jv, v, z, -1.0))


@register
@_unary_rules
class Y0(Op):
    """Y_0(x), the Bessel function of the second kind of order 0 (x > 0).   d/dx = -Y_1(x)."""

    batch = batching.elementwise

    def forward(x):
        return special.y0(x)

    def slope(x, out):
        return -y1(x)


@register
@_unary_rules
class Y1(Op):
    """Y_1(x) (x > 0).   d/dx = (Y_0(x) - Y_2(x))/2."""

    batch = batching.elementwise

    def forward(x):
        return special.y1(x)

    def slope(x, out):
        return (y0(x) - yv(2.0, x)) * 0.5


@register
class Yv(Op):
    """Y_v(z) of real order v.   dY_v/dz = (Y_{v-1}(z) - Y_{v+1}(z))/2."""

    batch = batching.elementwise

    def forward(v, z):
        return special.yv(v, z)

    vjp, jvp = _binary_rules(_refused("yv", "v", _ORDER), lambda out, v, z: _neighbours(yv, v, z, -1.0))


@register
class Yn(Op):
    """Y_n(x) of integer order n.   dY_n/dx = (Y_{n-1}(x) - Y_{n+1}(x))/2."""

    batch = batching.elementwise

    def forward(n, x):
        return special.yn(n, x)

    vjp, jvp = _binary_rules(_refused("yn", "n", "n is an integer order"),
                             lambda out, n, x: _neighbours(yn, n, x, -1.0, step=1))


# --- incomplete gamma and zeta functions ------------------------------------------------------------

def _gamma_density(out, a, x):
    """x^(a-1) e^{-x} / Gamma(a), the derivative of P(a, x) in x (DLMF 8.8.13); 1 at x = 0 for a = 1.

    a is not differentiated, so it is a constant here, taken in the result's precision (a Python
    number a must not make a float32 derivative float64).
    """
    a = _raw(a).astype(_raw(out).dtype)
    return exp(xlogy(a - 1.0, x) - x - special.gammaln(a))


_SHAPE = "only the derivative in x is provided"


@register
class Gammainc(Op):
    """P(a, x), the regularized lower incomplete gamma function.   dP/dx = x^(a-1) e^{-x} / Gamma(a)."""

    batch = batching.elementwise

    def forward(a, x):
        return special.gammainc(a, x)

    vjp, jvp = _binary_rules(_refused("gammainc", "a", _SHAPE), lambda out, a, x: _gamma_density(out, a, x))


@register
class Gammaincc(Op):
    """Q(a, x) = 1 - P(a, x), the regularized upper incomplete gamma function.   dQ/dx = -x^(a-1) e^{-x} / Gamma(a)."""

    batch = batching.elementwise

    def forward(a, x):
        return special.gammaincc(a, x)

    vjp, jvp = _binary_rules(_refused("gammaincc", "a", _SHAPE), lambda out, a, x: -_gamma_density(out, a, x))


@register
class Betainc(Op):
    """I_x(a, b), the regularized incomplete beta function.   dI/dx = x^(a-1) (1-x)^(b-1) / B(a, b)
    (DLMF 8.17.2); the derivatives in a and b are not provided (as autograd and JAX)."""

    batch = batching.elementwise

    def forward(a, b, x):
        return special.betainc(a, b, x)

    def vjp(grad_out, out, a, b, x, *, needs):
        _refuse_beta_shapes(needs)
        return None, None, grad_out * _beta_density(out, a, b, x)

    def jvp(a_dot, b_dot, x_dot, out, a, b, x, *, needs):
        _refuse_beta_shapes(needs)
        return x_dot * _beta_density(out, a, b, x)


def _refuse_beta_shapes(needs):
    for argument, needed in zip("ab", needs[:2]):
        if needed:
            raise NotImplementedError(f"betainc: the derivative with respect to {argument} is not implemented "
                                      "(only the derivative in x is provided)")


def _beta_density(out, a, b, x):
    """x^(a-1) (1-x)^(b-1) / B(a, b); a and b are constants, in the result's precision."""
    dtype = _raw(out).dtype
    a, b = _raw(a).astype(dtype), _raw(b).astype(dtype)
    return exp(xlogy(a - 1.0, x) + xlog1py(b - 1.0, -x) - special.betaln(a, b))


_EXPONENT = "only the derivative in q is provided"


@register
class Zeta(Op):
    """The Hurwitz zeta function zeta(x, q) = sum_k (k + q)^{-x}.   d/dq = -x zeta(x + 1, q) (DLMF 25.11.17)."""

    batch = batching.elementwise

    def forward(x, q):
        return special.zeta(x, q)

    vjp, jvp = _binary_rules(_refused("zeta", "x", _EXPONENT), lambda out, x, q: -x * zeta(x + 1.0, q))


@register
@_unary_rules
class RiemannZeta(Op):
    """The Riemann zeta function zeta(x) (analytically continued). Its one argument is not differentiated."""

    batch = batching.elementwise

    name = "riemann_zeta"

    def forward(x):
        return special.zeta(x)

    slope = _refused("zeta", "x", "no derivative of the Riemann zeta function is provided")


# --- reductions -------------------------------------------------------------------------------------

@register
class LogSumExp(Op):
    """SciPy's logsumexp: z = ln s along axis, s = sum_i b_i e^{a_i} (b = 1 when not given).

    A primitive for SciPy's values: its forward is scipy.special.logsumexp (the largest term kept
    out of the sum, log1p, complex phases wrapped to (-pi, pi]); with return_sign, z = ln|s|.

        dz/da_i = b_i e^{a_i} / s        dz/db_i = e^{a_i} / s

    for real s of either sign (d ln|s| = ds/s) and for complex a (holomorphic; with return_sign,
    z = Re ln s and the tangent is the real part, the cotangent of a real g being g times the same
    weights). The weights are computed as softmax is, e^{a - m} / sum(b e^{a - m}) with m the
    largest real part: they neither overflow nor lose the precision that e^{a - z} would at |a| = 1e4.
    """

    name = "special_logsumexp"

    def batch(cls, a, *b, batched, batched_settings, axis, keepdims, return_sign):
        # A batch of a (b shared, of no higher rank) reduces along the same axes, one further on.
        example_ndim = np.ndim(a) - 1
        if not batched[0] or any(batched[1:]) or example_ndim == 0 or any(np.ndim(w) > example_ndim for w in b):
            return None
        return batching.call_op(cls, [a, *b], {"axis": batching.shift_axis(axis, example_ndim), "keepdims": keepdims,
                                               "return_sign": return_sign})

    def forward(a, *b, axis, keepdims, return_sign):
        result = special.logsumexp(a, axis=axis, b=b[0] if b else None, keepdims=keepdims, return_sign=return_sign)
        return np.asarray(result[0] if return_sign else result)

    def flops(out, a, *b, **settings):
        return int(np.size(a))

    def vjp(grad_out, out, a, *b, axis, keepdims, return_sign, needs):
        weight = _logsumexp_weight(a, b, axis)
        grad_out = reshape(grad_out, _kept(a, b, axis))
        grad_a = (grad_out * weight * b[0] if b else grad_out * weight) if needs[0] else None
        if not b:
            return (grad_a,)
        return grad_a, (grad_out * weight if needs[1] else None)

    def jvp(*dots_out_inputs, axis, keepdims, return_sign, needs):
        # The arguments are the tangents of a (and b), the output, then a (and b).
        count = len(dots_out_inputs) // 2
        dots, (a, *b) = dots_out_inputs[:count], dots_out_inputs[count + 1:]
        weight = _logsumexp_weight(a, b, axis)
        terms = 0.0
        if needs[0]:
            terms = dots[0] * weight * b[0] if b else dots[0] * weight
        if b and needs[1]:
            terms = terms + dots[1] * weight
        out_dot = sum(terms, axis=axis, keepdims=keepdims)
        return real(out_dot) if return_sign and np.iscomplexobj(_raw(a)) else out_dot


def _kept(a, b, axis) -> tuple:
    """The shape of the result with the reduced axes kept (a and b broadcast, at least 1-d as in SciPy)."""
    return _kept_shape(_broadcast_shape(a, b), axis)


def _broadcast_shape(a, b) -> tuple:
    return np.broadcast_shapes(np.shape(_raw(a)), *(np.shape(_raw(w)) for w in b)) or (1,)


def _logsumexp_weight(a, b, axis):
    """e^{a - m} / sum(b e^{a - m}) = e^a / s, in the broadcast shape of a and b.

    The shift m (the largest real part along axis, 0 where it is infinite) is a constant: the ratio
    does not depend on it, so its derivatives are exact.
    """
    real_a = np.real(np.broadcast_to(_raw(a), _broadcast_shape(a, b)))
    shift = np.max(real_a, axis=axis, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0).astype(real_a.dtype, copy=False)
    scaled = exp(a - shift)
    return scaled / sum(scaled * b[0] if b else scaled, axis=axis, keepdims=True)


# --- public functions -------------------------------------------------------------------------------

def gammaln(x):
    """ln|Gamma(x)| (scipy.special.gammaln); its derivative is digamma(x).

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.gammaln(5.0):.6f} {grad(special.gammaln)(1.0):.6f}")   # ln 4!, -Euler's gamma
        3.178054 -0.577216
    """
    return Gammaln.apply(x)


def polygamma(n, x):
    """psi^(n)(x), the n-th derivative of digamma (scipy.special.polygamma); n is an integer constant.

    Float32 x gives float32 (SciPy returns float64 for n >= 1).

    Args:
        n: the order 0, 1, 2, ... (an int or integer array, not differentiated); x: real points.

    Returns:
        psi^(n)(x), n and x broadcast.

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.polygamma(1, 1.0):.6f}")   # pi^2 / 6
        1.644934
    """
    return Polygamma.apply(n, x)


def digamma(x):
    """psi(x) = Gamma'(x)/Gamma(x) (scipy.special.digamma, also psi); its derivative is polygamma(1, x).

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.digamma(1.0):.6f} {grad(special.digamma)(1.0):.6f}")
        -0.577216 1.644934
    """
    return Polygamma.apply(0, x)


psi = digamma


def gamma(x):
    """Gamma(x) (scipy.special.gamma); its derivative is Gamma(x) digamma(x).

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.gamma(5.0):.1f} {grad(special.gamma)(1.0):.6f}")
        24.0 -0.577216
    """
    return Gamma.apply(x)


def rgamma(x):
    """1/Gamma(x) (scipy.special.rgamma), with finite derivatives at the poles of Gamma.

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.rgamma(0.0):.1f} {grad(special.rgamma)(0.0):.6f} {grad(special.rgamma)(-1.0):.6f}")
        0.0 1.000000 -1.000000
    """
    return Rgamma.apply(x)


def beta(a, b):
    """B(a, b) = Gamma(a) Gamma(b)/Gamma(a + b) (scipy.special.beta).

    Args:
        a, b: broadcast together.

    Returns:
        B(a, b).

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.beta(2.0, 3.0):.6f}")   # 1! 2! / 4!
        0.083333
    """
    return Beta.apply(a, b)


def betaln(a, b):
    """ln|B(a, b)| (scipy.special.betaln), accurate where B under- or overflows.

    Args:
        a, b: broadcast together.

    Returns:
        ln|B(a, b)|.

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.betaln(2.0, 3.0):.6f}")   # ln(1/12)
        -2.484907
    """
    return Betaln.apply(a, b)


def multigammaln(a, d):
    """The log of the multivariate gamma function of dimension d (scipy.special.multigammaln).

    ln Gamma_d(a) = d (d - 1)/4 ln pi + sum_{j=1}^{d} gammaln(a - (j - 1)/2), a composite of gammaln
    (its derivative is the same sum of digammas). a must exceed (d - 1)/2, as in SciPy. Float32 a
    gives float32 (SciPy's adds a float64 constant and returns float64).

    Args:
        a: the points, each > (d - 1)/2; d: the dimension, a positive integer.

    Returns:
        ln Gamma_d(a), of a's shape.

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.multigammaln(3.0, 1):.6f}")   # gammaln(3) = ln 2
        0.693147
    """
    d = np.asarray(d)[()]
    if not np.isscalar(d) or np.floor(d) != d:
        raise ValueError("d should be a positive integer (dimension)")
    a_raw = _raw(a)
    if np.any(a_raw <= 0.5 * (d - 1)):
        raise ValueError(f"condition a ({a_raw}) > 0.5 * (d-1) ({0.5 * (d - 1)}) not met")
    constant = float(d * (d - 1) * 0.25) * math.log(math.pi)
    terms = stack([gammaln(a - (j - 1.0) / 2) for j in range(1, int(d) + 1)])
    return constant + sum(terms, axis=0)


def erf(x):
    """The error function erf(x) = 2/sqrt(pi) int_0^x e^{-t^2} dt, real or complex (scipy.special.erf).

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.erf(0.5):.6f} {grad(special.erf)(0.0):.6f}")   # 2/sqrt(pi)
        0.520500 1.128379
    """
    return Erf.apply(x)


def erfc(x):
    """1 - erf(x), accurate in the upper tail (scipy.special.erfc).

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.erfc(5.0):.6e}")
        1.537460e-12
    """
    return Erfc.apply(x)


def erfcx(x):
    """e^{x^2} erfc(x), finite where e^{x^2} overflows (scipy.special.erfcx).

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.erfcx(100.0):.4e}")   # about 1/(x sqrt(pi))
        5.6416e-03
    """
    return Erfcx.apply(x)


def erfinv(x):
    """The inverse of erf on (-1, 1) (scipy.special.erfinv).

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.erfinv(0.5):.6f} {grad(special.erfinv)(0.0):.6f}")   # sqrt(pi)/2
        0.476936 0.886227
    """
    return Erfinv.apply(x)


def erfcinv(x):
    """The inverse of erfc on (0, 2) (scipy.special.erfcinv).

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.erfcinv(0.5):.6f}")
        0.476936
    """
    return Erfcinv.apply(x)


def expit(x):
    """The logistic function 1/(1 + e^-x) (scipy.special.expit).

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.expit(0.0):.2f} {grad(special.expit)(0.0):.2f}")
        0.50 0.25
    """
    return Expit.apply(x)


def logit(x):
    """ln(p / (1 - p)), the inverse of expit (scipy.special.logit).

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.logit(0.5):.2f} {grad(special.logit)(0.5):.2f}")
        0.00 4.00
    """
    return Logit.apply(x)


def log_expit(x):
    """ln expit(x), finite for large negative x (scipy.special.log_expit).

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.log_expit(-1000.0):.1f} {grad(special.log_expit)(-1000.0):.1f}")
        -1000.0 1.0
    """
    return LogExpit.apply(x)


def expm1(x):
    """e^x - 1, accurate near 0 (scipy.special.expm1).

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.expm1(1e-10):.6e}")
        1.000000e-10
    """
    return SpecialExpm1.apply(x)


def log1p(x):
    """ln(1 + x), accurate near 0 (scipy.special.log1p).

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.log1p(1e-10):.6e}")
        1.000000e-10
    """
    return SpecialLog1p.apply(x)


def exp2(x):
    """2^x (scipy.special.exp2).

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.exp2(3.0):.1f} {grad(special.exp2)(0.0):.6f}")   # ln 2
        8.0 0.693147
    """
    return SpecialExp2.apply(x)


def exp10(x):
    """10^x (scipy.special.exp10).

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.exp10(3.0):.1f}")
        1000.0
    """
    return Exp10.apply(x)


def cbrt(x):
    """The real cube root (scipy.special.cbrt).

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.cbrt(-8.0):.1f} {grad(special.cbrt)(8.0):.6f}")   # 1/(3 * 4)
        -2.0 0.083333
    """
    return SpecialCbrt.apply(x)


def ndtr(x):
    """Phi(x), the standard normal distribution function (scipy.special.ndtr).

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.ndtr(0.0):.2f} {grad(special.ndtr)(0.0):.6f}")   # 1/sqrt(2 pi)
        0.50 0.398942
    """
    return Ndtr.apply(x)


def ndtri(x):
    """Phi^{-1}(p), the standard normal quantile function (scipy.special.ndtri).

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.ndtri(0.975):.6f}")
        1.959964
    """
    return Ndtri.apply(x)


def log_ndtr(x):
    """ln Phi(x), accurate in the lower tail (scipy.special.log_ndtr).

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.log_ndtr(-40.0):.4f} {grad(special.log_ndtr)(-40.0):.4f}")   # slope about -x
        -804.6084 40.0250
    """
    return LogNdtr.apply(x)


def xlogy(x, y):
    """x ln y, with 0 where x = 0 (scipy.special.xlogy); derivatives as PyTorch's special.xlogy.

    Args:
        x, y: broadcast together, real or complex.

    Returns:
        x ln y.

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.xlogy(0.0, 0.0):.1f} {grad(special.xlogy)(0.0, 0.0):.1f}")
        0.0 0.0
    """
    return Xlogy.apply(x, y)


def xlog1py(x, y):
    """x ln(1 + y), with 0 where x = 0 (scipy.special.xlog1py); derivatives as PyTorch's.

    Args:
        x, y: broadcast together, real or complex.

    Returns:
        x ln(1 + y).

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.xlog1py(0.0, -1.0):.1f} {special.xlog1py(2.0, 1e-10):.6e}")
        0.0 2.000000e-10
    """
    return Xlog1py.apply(x, y)


def entr(x):
    """-x ln x elementwise, 0 at 0 (scipy.special.entr).

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.entr(0.5):.6f} {grad(special.entr)(1.0):.1f}")
        0.346574 -1.0
    """
    return Entr.apply(x)


def rel_entr(x, y):
    """x ln(x / y), the terms of the Kullback-Leibler divergence (scipy.special.rel_entr).

    Args:
        x, y: broadcast together.

    Returns:
        x ln(x / y), 0 or inf at the boundaries as SciPy.

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.rel_entr(2.0, 1.0):.6f}")
        1.386294
    """
    return RelEntr.apply(x, y)


def kl_div(x, y):
    """x ln(x / y) - x + y (scipy.special.kl_div): rel_entr(x, y) - x + y, a composite.

    Args:
        x, y: broadcast together.

    Returns:
        x ln(x / y) - x + y.

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.kl_div(2.0, 1.0):.6f}")
        0.386294
    """
    return rel_entr(x, y) - x + y


def i0(x):
    """I_0(x), the modified Bessel function of order 0 (scipy.special.i0).

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.i0(1.0):.6f} {grad(special.i0)(1.0):.6f}")   # I_1(1)
        1.266066 0.565159
    """
    return I0.apply(x)


def i0e(x):
    """e^{-|x|} I_0(x) (scipy.special.i0e).

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.i0e(1.0):.6f}")
        0.465760
    """
    return I0e.apply(x)


def i1(x):
    """I_1(x), the modified Bessel function of order 1 (scipy.special.i1).

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.i1(1.0):.6f} {grad(special.i1)(0.0):.2f}")
        0.565159 0.50
    """
    return I1.apply(x)


def i1e(x):
    """e^{-|x|} I_1(x) (scipy.special.i1e).

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.i1e(1.0):.6f}")
        0.207910
    """
    return I1e.apply(x)


def iv(v, z):
    """I_v(z) of real order v, real or complex z (scipy.special.iv); differentiable in z only.

    Args:
        v: the real order (not differentiated); z: the points, real or complex.

    Returns:
        I_v(z), v and z broadcast.

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.iv(0.5, 1.0):.6f} {grad(lambda z: special.iv(0.5, z))(1.0):.6f}")
        0.937675 0.762363
    """
    return Iv.apply(v, z)


def ive(v, z):
    """e^{-|Re z|} I_v(z) (scipy.special.ive); differentiable in z only.

    Args:
        v: the real order (not differentiated); z: the points, real or complex.

    Returns:
        e^{-|Re z|} I_v(z).

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.ive(0.5, 1.0):.6f}")
        0.344951
    """
    return Ive.apply(v, z)


def kv(v, z):
    """K_v(z), the modified Bessel function of the second kind (scipy.special.kv); differentiable in z.

    Args:
        v: the real order (not differentiated); z: the points, real or complex.

    Returns:
        K_v(z).

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.kv(0.5, 1.0):.6f} {grad(lambda z: special.kv(0.5, z))(1.0):.6f}")
        0.461069 -0.691603
    """
    return Kv.apply(v, z)


def kve(v, z):
    """e^z K_v(z) (scipy.special.kve); differentiable in z.

    Args:
        v: the real order (not differentiated); z: the points, real or complex.

    Returns:
        e^z K_v(z).

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.kve(0.5, 1.0):.6f}")   # sqrt(pi/2)
        1.253314
    """
    return Kve.apply(v, z)


def j0(x):
    """J_0(x), the Bessel function of the first kind of order 0 (scipy.special.j0).

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.j0(1.0):.6f} {grad(special.j0)(1.0):.6f}")   # -J_1(1)
        0.765198 -0.440051
    """
    return J0.apply(x)


def j1(x):
    """J_1(x) (scipy.special.j1).

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.j1(1.0):.6f}")
        0.440051
    """
    return J1.apply(x)


def jv(v, z):
    """J_v(z) of real order v (scipy.special.jv); differentiable in z.

    Args:
        v: the real order (not differentiated); z: the points, real or complex.

    Returns:
        J_v(z).

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.jv(2.0, 1.0):.6f}")
        0.114903
    """
    return Jv.apply(v, z)


def y0(x):
    """Y_0(x), the Bessel function of the second kind of order 0 (scipy.special.y0).

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.y0(1.0):.6f}")
        0.088257
    """
    return Y0.apply(x)


def y1(x):
    """Y_1(x) (scipy.special.y1).

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.y1(1.0):.6f}")
        -0.781213
    """
    return Y1.apply(x)


def yv(v, z):
    """Y_v(z) of real order v (scipy.special.yv); differentiable in z.

    Args:
        v: the real order (not differentiated); z: the points, real or complex.

    Returns:
        Y_v(z).

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.yv(2.0, 1.0):.6f}")
        -1.650683
    """
    return Yv.apply(v, z)


def yn(n, x):
    """Y_n(x) of integer order n (scipy.special.yn); differentiable in x.

    Args:
        n: the integer order (not differentiated); x: real points.

    Returns:
        Y_n(x) (float64 for an int n, as SciPy).

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.yn(2, 1.0):.6f}")
        -1.650683
    """
    return Yn.apply(n, x)


def gammainc(a, x):
    """P(a, x), the regularized lower incomplete gamma function (scipy.special.gammainc); differentiable in x.

    Args:
        a: the shape, positive (not differentiated); x: the points, non-negative.

    Returns:
        P(a, x).

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.gammainc(1.0, 2.0):.6f} {grad(lambda x: special.gammainc(1.0, x))(2.0):.6f}")
        0.864665 0.135335
    """
    return Gammainc.apply(a, x)


def gammaincc(a, x):
    """Q(a, x) = 1 - P(a, x) (scipy.special.gammaincc); differentiable in x.

    Args:
        a: the shape, positive (not differentiated); x: the points, non-negative.

    Returns:
        Q(a, x).

    Example:
        >>> from nablanet.scipy import special
        >>> print(f"{special.gammaincc(1.0, 2.0):.6f}")   # e^-2
        0.135335
    """
    return Gammaincc.apply(a, x)


def betainc(a, b, x):
    """I_x(a, b), the regularized incomplete beta function (scipy.special.betainc); differentiable in x.

    Args:
        a, b: the shapes, positive (not differentiated); x: the points in [0, 1].

    Returns:
        I_x(a, b), the Beta(a, b) distribution function at x.

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.betainc(2.0, 3.0, 0.5):.6f} {grad(lambda x: special.betainc(2.0, 3.0, x))(0.5):.6f}")
        0.687500 1.500000
    """
    return Betainc.apply(a, b, x)


def gammasgn(x):
    """The sign of the gamma function, -1 or 1 (scipy.special.gammasgn): piecewise constant, no derivative.

    Example:
        >>> from nablanet.scipy import special
        >>> print(special.gammasgn(-0.5), special.gammasgn(2.5))
        -1.0 1.0
    """
    return special.gammasgn(_raw(x))


gammasgn.__nablanet_constant__ = True


def zeta(x, q=None, out=None):
    """The Riemann zeta function zeta(x), or the Hurwitz zeta(x, q) (scipy.special.zeta).

    Differentiable in q only: d/dq zeta(x, q) = -x zeta(x + 1, q). out= is not supported.

    Args:
        x: the exponent (not differentiated; complex allowed without q); q: the shift, or None for
            Riemann's; out: not supported.

    Returns:
        zeta(x) or zeta(x, q).

    Example:
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> print(f"{special.zeta(2.0):.6f} {grad(lambda q: special.zeta(2.0, q))(1.0):.6f}")   # -2 zeta(3)
        1.644934 -2.404114
    """
    if out is not None:
        raise TypeError("special.zeta: out= is not supported by nablanet (the result is always a new array)")
    if q is None:
        return RiemannZeta.apply(x)
    return Zeta.apply(x, q)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """ln sum(b e^a) along axis (default: all), without overflow (scipy.special.logsumexp).

    With weights b (possibly negative) and return_sign, returns (ln|s|, sign(s)) for s = sum(b e^a),
    the sign (complex phase for complex a) being a constant of the derivative. Complex a is accepted.

    Args:
        a: the exponents. axis: an axis, a tuple of them, or None (all). b: weights, broadcast with a.
        keepdims: keep the reduced axes with length 1. return_sign: also return the sign of the sum.

    Example:
        >>> import numpy
        >>> from nablanet import grad
        >>> from nablanet.scipy import special
        >>> a = numpy.array([1000.0, 1000.0])
        >>> print(f"{special.logsumexp(a):.6f}", grad(special.logsumexp)(a))   # 1000 + ln 2, softmax
        1000.693147 [0.5 0.5]
    """
    shapes = [np.shape(_raw(a))] + ([np.shape(_raw(b))] if b is not None else [])
    ndim = max(len(np.broadcast_shapes(*shapes)), 1)
    axes = _normalize_axis(tuple(range(ndim)) if axis is None else axis, ndim)
    inputs = (a,) if b is None else (a, b)
    out = LogSumExp.apply(*inputs, axis=axes, keepdims=bool(keepdims), return_sign=bool(return_sign))
    if not return_sign:
        return out
    # The sign is piecewise constant: SciPy's own, on the values.
    sign = special.logsumexp(_raw(a), axis=axes, b=None if b is None else _raw(b), keepdims=keepdims,
                             return_sign=True)[1]
    return out, sign


def softmax(x, axis=None):
    """e^x / sum(e^x) along axis; SciPy's default axis is None: over all entries (scipy.special.softmax).

    Args:
        x: real or complex; axis: an axis, a tuple of them, or None (all entries).

    Returns:
        An array of x's shape summing to 1 along axis.

    Example:
        >>> import numpy
        >>> from nablanet.scipy import special
        >>> special.softmax(numpy.log(numpy.array([[1.0, 1.0], [1.0, 5.0]])))
        array([[0.125, 0.125],
               [0.125, 0.625]])
    """
    return _softmax(x, axis=axis)


def log_softmax(x, axis=None):
    """x - logsumexp(x) along axis (default None: all entries), stably (scipy.special.log_softmax).

    Args:
        x: real or complex; axis: an axis, a tuple of them, or None (all entries).

    Returns:
        An array of x's shape.

    Example:
        >>> import numpy
        >>> from nablanet.scipy import special
        >>> special.log_softmax(numpy.array([1000.0, 1.0]))
        array([   0., -999.])
    """
    return _log_softmax(x, axis=axis)
