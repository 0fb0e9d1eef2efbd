"""Special functions against torch.special (and torch compositions where torch has no twin).

Where torch lacks the function, it is compared with torch's composition of the same mathematics
on a domain where that composition is exact: gamma = exp(lgamma) for x > 0, beta from lgamma,
erfcinv(1 + u) = erfinv(-u), iv(0, z) = i0(z), and so on. Constant arguments that are not
differentiated (gammainc's a, zeta's x, Bessel orders) are closed over on both sides.
"""

import numpy
import torch

from nablanet.scipy import special
from torch_cases import TorchCase

T = torch.special
SHAPES = ((3, 4),)
SIGNS = numpy.array([1.0, -0.3, 1.0])


def _constant(value):
    return torch.tensor(value, dtype=torch.float64)


def _flat(fn):
    """torch's softmax or log_softmax over all entries (SciPy's axis=None): along the flattened tensor."""
    return lambda x: fn(x.reshape(-1), 0).reshape(x.shape)


def _lgamma_beta(a, b):
    return torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)


TORCH_CASES = [
    TorchCase(("gammaln", "special.gammaln"), special.gammaln, T.gammaln, SHAPES, ("positive",), id="gammaln"),
    TorchCase(("special.gammaln",), lambda x: special.gammaln(x * 0.3 - 1.5), lambda x: T.gammaln(x * 0.3 - 1.5),
              SHAPES, ("unit",), id="gammaln-negative"),
    TorchCase(("special.digamma", "special.psi", "polygamma"), special.digamma, T.digamma, SHAPES, ("positive",),
              id="digamma"),
    *[TorchCase(("special.polygamma", "polygamma"), lambda x, n=n: special.polygamma(n, x),
                lambda x, n=n: T.polygamma(n, x), SHAPES, ("positive",), id=f"polygamma-{n}") for n in (1, 2, 3)],
    # torch has no gamma, rgamma, beta: exp(lgamma) is exact where Gamma > 0.
    TorchCase(("gamma", "special.gamma"), special.gamma, lambda x: torch.exp(torch.lgamma(x)), SHAPES,
              ("positive",), id="gamma"),
    TorchCase(("rgamma", "special.rgamma"), special.rgamma, lambda x: torch.exp(-torch.lgamma(x)), SHAPES,
              ("positive",), id="rgamma"),
    TorchCase(("beta", "special.beta"), special.beta, lambda a, b: torch.exp(_lgamma_beta(a, b)), ((3, 1), (4,)),
              ("positive",), id="beta"),
    TorchCase(("betaln", "special.betaln"), special.betaln, _lgamma_beta, ((3, 4), (3, 4)), ("positive",),
              id="betaln"),
    TorchCase(("special.multigammaln", "gammaln"), lambda a: special.multigammaln(a + 2.0, 3),
              lambda a: T.multigammaln(a + 2.0, 3), SHAPES, ("positive",), id="multigammaln"),
    TorchCase(("erf", "special.erf"), special.erf, T.erf, SHAPES, id="erf"),
    TorchCase(("erfc", "special.erfc"), special.erfc, T.erfc, SHAPES, id="erfc"),
    TorchCase(("erfcx", "special.erfcx"), special.erfcx, T.erfcx, SHAPES, id="erfcx"),
    TorchCase(("erfinv", "special.erfinv"), special.erfinv, T.erfinv, SHAPES, ("unit",), id="erfinv"),
    TorchCase(("erfcinv", "special.erfcinv"), lambda u: special.erfcinv(1.0 + u), lambda u: T.erfinv(-u), SHAPES,
              ("unit",), id="erfcinv"),
    TorchCase(("ndtr", "special.ndtr"), special.ndtr, T.ndtr, SHAPES, id="ndtr"),
    TorchCase(("ndtri", "special.ndtri"), lambda p: special.ndtri(0.5 + 0.5 * p), lambda p: T.ndtri(0.5 + 0.5 * p),
              SHAPES, ("unit",), id="ndtri"),
    TorchCase(("log_ndtr", "special.log_ndtr"), special.log_ndtr, T.log_ndtr, SHAPES, id="log_ndtr"),
    TorchCase(("special.log_ndtr",), lambda x: special.log_ndtr(x - 12.0), lambda x: T.log_ndtr(x - 12.0), SHAPES,
              id="log_ndtr-lower-tail"),
    TorchCase(("expit", "special.expit"), special.expit, T.expit, SHAPES, id="expit"),
    TorchCase(("logit", "special.logit"), lambda p: special.logit(0.5 + 0.5 * p), lambda p: T.logit(0.5 + 0.5 * p),
              SHAPES, ("unit",), id="logit"),
    TorchCase(("log_expit", "special.log_expit"), lambda x: special.log_expit(10.0 * x),
              lambda x: torch.nn.functional.logsigmoid(10.0 * x), SHAPES, id="log_expit"),
    TorchCase(("special_expm1", "special.expm1"), special.expm1, T.expm1, SHAPES, id="expm1"),
    TorchCase(("special.expm1",), special.expm1, T.expm1, SHAPES, dtype="complex", id="expm1-complex"),
    TorchCase(("special_log1p", "special.log1p"), special.log1p, T.log1p, SHAPES, ("above_minus_one",), id="log1p"),
    TorchCase(("special.log1p",), special.log1p, T.log1p, SHAPES, ("positive",), dtype="complex",
              id="log1p-complex"),
    TorchCase(("special_exp2", "special.exp2"), special.exp2, T.exp2, SHAPES, id="exp2"),
    TorchCase(("exp10", "special.exp10"), special.exp10, lambda x: torch.pow(10.0, x), SHAPES, id="exp10"),
    TorchCase(("special_cbrt", "special.cbrt"), special.cbrt, lambda x: torch.sign(x) * torch.abs(x) ** (1.0 / 3.0),
              SHAPES, ("nonzero",), id="cbrt"),
    TorchCase(("xlogy", "special.xlogy"), special.xlogy, T.xlogy, ((3, 1), (4,)), ("real", "positive"), id="xlogy"),
    TorchCase(("xlog1py", "special.xlog1py"), special.xlog1py, T.xlog1py, ((3, 4), (3, 4)),
              ("real", "above_minus_one"), id="xlog1py"),
    TorchCase(("entr", "special.entr"), special.entr, T.entr, SHAPES, ("positive",), id="entr"),
    TorchCase(("rel_entr", "special.rel_entr"), special.rel_entr, lambda x, y: x * torch.log(x / y),
              ((3, 4), (3, 4)), ("positive",), id="rel_entr"),
    TorchCase(("special.kl_div",), special.kl_div, lambda x, y: x * torch.log(x / y) - x + y, ((3, 4), (4,)),
              ("positive",), id="kl_div"),
    TorchCase(("i0", "special.i0"), special.i0, T.i0, SHAPES, id="i0"),
    TorchCase(("i0e", "special.i0e"), special.i0e, T.i0e, SHAPES, ("nonzero",), id="i0e"),
    TorchCase(("i1", "special.i1"), special.i1, T.i1, SHAPES, id="i1"),
    TorchCase(("i1e", "special.i1e"), special.i1e, T.i1e, SHAPES, ("nonzero",), id="i1e"),
    # General orders through torch's orders 0 and 1 (their derivatives use the orders -1 and 2).
    TorchCase(("iv", "special.iv"), lambda z: special.iv(0.0, z), T.i0, SHAPES, id="iv-0"),
    TorchCase(("iv", "special.iv"), lambda z: special.iv(1.0, z), T.i1, SHAPES, id="iv-1"),
    TorchCase(("ive", "special.ive"), lambda z: special.ive(0.0, z), T.i0e, SHAPES, ("nonzero",), id="ive-0"),
    TorchCase(("ive", "special.ive"), lambda z: special.ive(1.0, z), T.i1e, SHAPES, ("nonzero",), id="ive-1"),
    # torch has no forward mode for igamma, igammac and zeta: reverse mode only.
    TorchCase(("gammainc", "special.gammainc"), lambda x: special.gammainc(1.7, x),
              lambda x: T.gammainc(_constant(1.7), x), SHAPES, ("positive",), id="gammainc", check_forward=False),
    TorchCase(("gammaincc", "special.gammaincc"), lambda x: special.gammaincc(0.6, x),
              lambda x: T.gammaincc(_constant(0.6), x), SHAPES, ("positive",), id="gammaincc", check_forward=False),
    TorchCase(("zeta", "special.zeta"), lambda q: special.zeta(3.0, q), lambda q: T.zeta(_constant(3.0), q), SHAPES,
              ("positive",), id="zeta", check_forward=False),
    TorchCase(("special_logsumexp", "special.logsumexp"), special.logsumexp,
              lambda a: torch.logsumexp(a.reshape(-1), 0), SHAPES, id="logsumexp-all"),
    TorchCase(("special.logsumexp",), lambda a: special.logsumexp(a, axis=1, keepdims=True),
              lambda a: torch.logsumexp(a, 1, keepdim=True), SHAPES, id="logsumexp-keepdims"),
    TorchCase(("special.logsumexp",), lambda a: special.logsumexp(a, axis=0), lambda a: torch.logsumexp(a, 0),
              SHAPES, dtype="complex", id="logsumexp-complex"),
    TorchCase(("special.logsumexp",), lambda a, b: special.logsumexp(a, axis=1, b=b),
              lambda a, b: torch.log(torch.sum(b * torch.exp(a), 1)), ((2, 3), (2, 3)), ("real", "positive"),
              id="logsumexp-weights"),
    TorchCase(("special.logsumexp",), lambda a, b: special.logsumexp(a, axis=1, b=b * SIGNS, return_sign=True)[0],
              lambda a, b: torch.log(torch.abs(torch.sum(b * torch.as_tensor(SIGNS) * torch.exp(a), 1))),
              ((2, 3), (2, 3)), ("real", "positive"), id="logsumexp-signed"),
    TorchCase(("special.softmax",), special.softmax, _flat(torch.softmax), SHAPES, id="softmax-all"),
    TorchCase(("special.softmax",), lambda x: special.softmax(x, axis=0), lambda x: torch.softmax(x, 0), SHAPES,
              id="softmax-axis0"),
    TorchCase(("special.log_softmax",), special.log_softmax, _flat(torch.log_softmax), SHAPES, id="log_softmax-all"),
    TorchCase(("special.log_softmax",), lambda x: special.log_softmax(x, axis=1), lambda x: torch.log_softmax(x, 1),
              SHAPES, id="log_softmax-axis1"),
]

_BESSEL = ("torch.special's Bessel functions (bessel_j0, bessel_y1, modified_bessel_k0, ...) have no derivatives, "
           "and none takes a general order; checked against finite differences and SciPy's values")
NO_TORCH = {
    "betainc": "torch has no regularized incomplete beta function",
    "special.betainc": "torch has no regularized incomplete beta function",
    **{name: _BESSEL for name in ("kv", "kve", "j0", "j1", "jv", "y0", "y1", "yv", "yn")},
    **{f"special.{name}": _BESSEL for name in ("kv", "kve", "j0", "j1", "jv", "y0", "y1", "yv", "yn")},
    "riemann_zeta": "its one argument is not differentiated here (torch's zeta refuses that derivative too)",
}
