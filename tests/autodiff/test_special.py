"""nablanet.scipy.special: SciPy's values and dtypes, closed forms of the derivatives (d gammaln =
digamma, a Gamma likelihood's score in its shape), limits where the textbook rule is 0/0 or 0 * inf
(i1 at 0, 1/Gamma at its zeros, xlogy at 0), stability at extreme arguments, and refusals."""

import math

import numpy
import pytest
import scipy.special
import torch

import nablanet
import nablanet.numpy as np
from nablanet import Tensor, grad, jvp, vjp
from nablanet.scipy import special

RNG = numpy.random.default_rng(0)
POINTS = {
    "real": numpy.concatenate([numpy.linspace(-6.0, 6.0, 49), [0.0, 1e-8, -1e-8, 30.0, -30.0]]),
    "positive": numpy.concatenate([numpy.geomspace(1e-3, 50.0, 40), [1.0, 2.0, 0.5]]),
    "unit": numpy.linspace(-0.999, 0.999, 41),
    "probability": numpy.linspace(0.001, 0.999, 41),
    "two": numpy.linspace(0.001, 1.999, 41),
    "nonzero": numpy.concatenate([-numpy.geomspace(1e-3, 20.0, 20), numpy.geomspace(1e-3, 20.0, 20)]),
    "complex": (RNG.standard_normal(20) * 3 + 3j * RNG.standard_normal(20)),
}
UNARY = {
    "gammaln": "real", "digamma": "real", "psi": "positive", "gamma": "real", "rgamma": "real", "erf": "real",
    "erfc": "real", "erfcx": "real", "erfinv": "unit", "erfcinv": "two", "expit": "real", "logit": "probability",
    "log_expit": "real", "ndtr": "real", "ndtri": "probability", "log_ndtr": "real", "expm1": "real",
    "log1p": "positive", "exp2": "real", "exp10": "real", "cbrt": "real", "entr": "positive", "i0": "real",
    "i0e": "real", "i1": "real", "i1e": "real", "j0": "real", "j1": "real", "y0": "positive", "y1": "positive",
}
COMPLEX_UNARY = ("digamma", "gamma", "rgamma", "erf", "erfc", "erfcx", "ndtr", "log_ndtr", "expm1", "log1p")
ORDERS = numpy.array([[-1.5], [0.0], [0.5], [2.0], [7.0]])
BINARY = {
    "beta": (POINTS["positive"][::4, None], POINTS["positive"][None, ::4]),
    "betaln": (POINTS["positive"][::4, None], POINTS["positive"][None, ::4]),
    "xlogy": (numpy.array([[0.0], [1.5], [-2.0]]), numpy.array([0.0, 0.5, 3.0, -1.0])),
    "xlog1py": (numpy.array([[0.0], [1.5], [-2.0]]), numpy.array([-1.0, -0.5, 3.0, -2.0])),
    "rel_entr": (numpy.array([[0.0], [1.5], [-2.0]]), numpy.array([0.0, 0.5, 3.0, -1.0])),
    "kl_div": (numpy.array([[0.0], [1.5], [2.0]]), numpy.array([0.0, 0.5, 3.0])),
    "iv": (ORDERS, POINTS["positive"]), "ive": (ORDERS, POINTS["real"]), "kv": (ORDERS, POINTS["positive"]),
    "kve": (ORDERS, POINTS["positive"]), "jv": (ORDERS, POINTS["real"]), "yv": (ORDERS, POINTS["positive"]),
    "yn": (numpy.array([[-2], [0], [1], [4]]), POINTS["positive"]),
    "gammainc": (POINTS["positive"][::5, None], POINTS["positive"]),
    "gammaincc": (POINTS["positive"][::5, None], POINTS["positive"]),
    "zeta": (numpy.array([[1.5], [2.0], [5.0]]), POINTS["positive"]),
    "polygamma": (numpy.array([[0], [1], [2], [5]]), POINTS["positive"]),
}
COMPLEX_BINARY = ("xlogy", "xlog1py", "iv", "ive", "kv", "kve", "jv", "yv")


def _assert_scipys(ours, theirs):
    """The same shape, dtype and values (bit for bit: the forwards are SciPy's, the composites compute
    as SciPy does)."""
    ours = numpy.asarray(ours.data if isinstance(ours, Tensor) else ours)
    theirs = numpy.asarray(theirs)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, (ours.shape, ours.dtype, theirs.dtype)
    numpy.testing.assert_array_equal(ours, theirs)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # SciPy's own warnings at its poles
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_values_and_dtypes_are_scipys(name):
    x = POINTS[UNARY[name]]
    for point in (x, x.astype(numpy.float32), x[3]):
        _assert_scipys(getattr(special, name)(point), getattr(scipy.special, name)(point))
    if name in COMPLEX_UNARY:
        z = POINTS["complex"]
        _assert_scipys(getattr(special, name)(z), getattr(scipy.special, name)(z))
        _assert_scipys(getattr(special, name)(z.astype(numpy.complex64)),
                       getattr(scipy.special, name)(z.astype(numpy.complex64)))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_values_are_scipys(name):
    x, y = BINARY[name]
    _assert_scipys(getattr(special, name)(x, y), getattr(scipy.special, name)(x, y))
    if name in COMPLEX_BINARY:
        z = POINTS["complex"] + 0.1
        first = x if name != "xlogy" and name != "xlog1py" else z[:, None]
        _assert_scipys(getattr(special, name)(first, z), getattr(scipy.special, name)(first, z))


def test_dtypes_follow_scipy_except_where_it_promotes_float32():
    a = POINTS["positive"] + 6.0
    for d in (1, 2, 5, 12):
        _assert_scipys(special.multigammaln(a, d), scipy.special.multigammaln(a, d))
    x32 = POINTS["positive"].astype(numpy.float32)
    # SciPy's quirks are kept: an int order makes yn float64, a Python float beside float32 makes
    # gammainc float64 (its first loop is float64).
    assert special.yn(2, x32).dtype == scipy.special.yn(2, x32).dtype == numpy.float64
    assert special.gammainc(1.0, x32).dtype == scipy.special.gammainc(1.0, x32).dtype == numpy.float64
    # polygamma and multigammaln keep float32 (SciPy's Python wrappers promote), so that the
    # derivatives of digamma and gammaln stay single precision.
    assert scipy.special.polygamma(1, x32).dtype == numpy.float64 and special.polygamma(1, x32).dtype == numpy.float32
    numpy.testing.assert_allclose(special.polygamma(1, x32), scipy.special.polygamma(1, x32), rtol=1e-6)
    assert special.multigammaln(x32 + 2, 3).dtype == numpy.float32
    numpy.testing.assert_allclose(special.multigammaln(x32 + 2, 3), scipy.special.multigammaln(x32 + 2, 3), rtol=1e-6)
    assert jvp(special.digamma, (x32,), (numpy.ones_like(x32),))[1].dtype == numpy.float32


def test_reductions_match_scipy_for_every_signature():
    a = RNG.standard_normal((3, 4, 2))
    b = RNG.standard_normal((4, 1))
    for kwargs in ({}, {"axis": 1}, {"axis": (0, 2)}, {"axis": -1, "keepdims": True}, {"keepdims": True},
                   {"b": b}, {"b": b, "axis": 1}, {"b": b, "return_sign": True}, {"axis": 0, "return_sign": True}):
        ours, theirs = special.logsumexp(a, **kwargs), scipy.special.logsumexp(a, **kwargs)
        if kwargs.get("return_sign"):
            _assert_scipys(ours[0], theirs[0])
            _assert_scipys(ours[1], theirs[1])
        else:
            _assert_scipys(ours, theirs)
    for x in (numpy.float64(1.5), a.astype(numpy.float32), a + 1j * a[::-1]):
        _assert_scipys(special.logsumexp(x), scipy.special.logsumexp(x))
        _assert_scipys(special.logsumexp(x, keepdims=True), scipy.special.logsumexp(x, keepdims=True))
    for name in ("softmax", "log_softmax"):
        for kwargs in ({}, {"axis": 0}, {"axis": (1, 2)}):
            _assert_scipys(getattr(special, name)(a, **kwargs), getattr(scipy.special, name)(a, **kwargs))
    # SciPy's softmax is over all entries by default, nablanet.numpy's over the last axis.
    numpy.testing.assert_allclose(numpy.sum(special.softmax(a)), 1.0)


def test_derivative_of_gammaln_is_digamma_and_so_on_up():
    x = numpy.concatenate([POINTS["positive"], [-0.5, -1.5, -2.7]])
    numpy.testing.assert_allclose(grad(lambda v: np.sum(special.gammaln(v)))(x), scipy.special.digamma(x), rtol=1e-13)
    derivative = special.gammaln
    for order in range(1, 5):
        derivative = (lambda f: lambda v: grad(lambda w: np.sum(f(w)))(v))(derivative)
        numpy.testing.assert_allclose(derivative(x[:6]), scipy.special.polygamma(order - 1, x[:6]), rtol=1e-10)


def test_gamma_log_likelihood_gradient_in_its_shape():
    # x_i ~ Gamma(k, theta): l = sum (k - 1) ln x - x/theta - gammaln(k) - k ln theta, whose score in k is
    # sum ln x - n digamma(k) - n ln theta, and whose curvature is -n polygamma(1, k).
    x = RNG.gamma(2.5, 1.3, size=200)

    def log_likelihood(k, theta):
        return np.sum(special.xlogy(k - 1.0, x) - x / theta - special.gammaln(k) - k * np.log(theta))

    k, theta = 2.2, 1.1
    expected = numpy.sum(numpy.log(x)) - x.size * (scipy.special.digamma(k) + math.log(theta))
    numpy.testing.assert_allclose(grad(log_likelihood)(k, theta), expected, rtol=1e-12)
    curvature = nablanet.hessian(lambda k: log_likelihood(k, theta))(k)
    numpy.testing.assert_allclose(curvature, -x.size * scipy.special.polygamma(1, k), rtol=1e-12)


def test_limits_where_the_textbook_rule_is_zero_over_zero():
    # i1' = i0 - i1/x is 0/0 at 0: the rule (i0 + iv(2, .))/2 gives 1/2, and I_1 = x/2 + x^3/16 + ...
    first = grad(special.i1)
    third = grad(grad(first))
    assert first(0.0) == 0.5 and grad(first)(0.0) == 0.0
    numpy.testing.assert_allclose(third(0.0), 3.0 / 8.0, rtol=1e-14)
    # 1/Gamma is 0 at 0, -1, -2, ... where -digamma/Gamma is 0 * inf: its derivative there is (-1)^k k!,
    # and 1/Gamma(x) = x + gamma_E x^2 + ... near 0.
    for k in range(5):
        numpy.testing.assert_allclose(grad(special.rgamma)(-float(k)), (-1) ** k * math.factorial(k), rtol=1e-13)
    numpy.testing.assert_allclose(grad(grad(special.rgamma))(0.0), 2 * numpy.euler_gamma, rtol=1e-13)
    x = numpy.array([-2.5, 0.2, 0.49, 0.51, 3.0])
    numpy.testing.assert_allclose(grad(lambda v: np.sum(special.rgamma(v)))(x),
                                  -scipy.special.digamma(x) * scipy.special.rgamma(x), rtol=1e-12)


@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")  # 0/0, as torch's NaN
def test_xlogy_at_zero_matches_torch():
    # x log y is 0 where x = 0; its derivative in x there is log y, taken as 0 when y <= 0 (PyTorch).
    for fn, theirs in ((special.xlogy, torch.special.xlogy), (special.xlog1py, torch.special.xlog1py)):
        x = numpy.array([0.0, 0.0, 0.0, 2.0, 0.0])
        y = numpy.array([0.0, 2.0, -3.0, 0.5, -1.0])
        _, f_vjp = vjp(fn, x, y)
        grad_x, grad_y = f_vjp(numpy.ones(5))
        xt, yt = (torch.tensor(v, requires_grad=True) for v in (x, y))
        grad_xt, grad_yt = torch.autograd.grad(theirs(xt, yt).sum(), (xt, yt))
        numpy.testing.assert_allclose(fn(x, y), theirs(xt, yt).detach().numpy(), rtol=1e-15)
        numpy.testing.assert_allclose(grad_x, grad_xt.numpy(), rtol=1e-15)
        numpy.testing.assert_allclose(grad_y, grad_yt.numpy(), rtol=1e-15)   # NaN at 0/0, as torch
    assert grad(special.xlogy)(0.0, 2.0) == math.log(2.0)


def test_extreme_arguments_stay_finite():
    big = numpy.array([1e4, 1e4 - 1.0, -1e4])
    numpy.testing.assert_allclose(special.logsumexp(big), 1e4 + math.log1p(math.exp(-1.0)))
    numpy.testing.assert_allclose(grad(special.logsumexp)(big), scipy.special.softmax(big), rtol=1e-15)
    numpy.testing.assert_allclose(grad(special.logsumexp)(big.astype(numpy.float32)), scipy.special.softmax(big),
                                  rtol=1e-6)
    numpy.testing.assert_allclose(grad(lambda a: special.logsumexp(a, b=numpy.array([1.0, -1.0, 5.0]),
                                                                   return_sign=True)[0])(big),
                                  [1.0 / (1.0 - math.exp(-1.0)), -math.exp(-1.0) / (1.0 - math.exp(-1.0)), 0.0])
    numpy.testing.assert_allclose(grad(special.log_ndtr)(-40.0), 40.0249, rtol=1e-5)   # about -x + 1/x
    assert grad(special.log_expit)(-1000.0) == 1.0 and grad(special.expit)(-1000.0) == 0.0
    assert numpy.isfinite(grad(lambda x: special.erfcx(x))(1e5))


def test_signed_logsumexp_returns_scipys_sign_as_a_constant():
    a = numpy.array([[0.0, 1.0], [2.0, -1.0]])
    b = numpy.array([[1.0, -1.0], [1.0, 1.0]])
    out, sign = special.logsumexp(Tensor(a, requires_grad=True), axis=1, b=b, return_sign=True)
    expected = scipy.special.logsumexp(a, axis=1, b=b, return_sign=True)
    numpy.testing.assert_array_equal(out.data, expected[0])
    numpy.testing.assert_array_equal(sign, expected[1])
    assert not isinstance(sign, Tensor)


def test_refused_derivatives_name_their_argument():
    x = numpy.array([0.5, 2.0])
    for call, message in (
        (lambda a: special.gammainc(a, x), "gammainc: the derivative with respect to a is not implemented"),
        (lambda a: special.gammaincc(a, x), "gammaincc: the derivative with respect to a"),
        (lambda v: special.iv(v, x), "iv: the derivative with respect to v"),
        (lambda v: special.ive(v, x), "ive: the derivative with respect to v"),
        (lambda v: special.kv(v, x), "kv: the derivative with respect to v"),
        (lambda s: special.zeta(s, x), "zeta: the derivative with respect to x"),
        (lambda s: special.zeta(s), "zeta: the derivative with respect to x"),
        (lambda n: special.polygamma(n, x), "polygamma: the derivative with respect to n"),
    ):
        with pytest.raises(NotImplementedError, match=message):
            grad(lambda p: np.sum(call(p)))(numpy.array([2.0, 3.0]))
        with pytest.raises(NotImplementedError, match=message):
            jvp(call, (numpy.array([2.0, 3.0]),), (numpy.ones(2),))
    # The other argument's derivative is unaffected by a constant first one.
    numpy.testing.assert_allclose(grad(lambda z: special.iv(2.5, z))(1.5),
                                  (scipy.special.iv(1.5, 1.5) + scipy.special.iv(3.5, 1.5)) / 2)


def test_complex_digamma_has_a_value_but_no_derivative():
    z = numpy.array([0.5 + 1.0j])
    _assert_scipys(special.digamma(z), scipy.special.digamma(z))
    numpy.testing.assert_allclose(jvp(special.gamma, (z,), (numpy.ones(1, complex),))[1],
                                  scipy.special.gamma(z) * scipy.special.digamma(z))
    with pytest.raises(TypeError, match="polygamma: SciPy's polygamma of order n >= 1 takes real x only"):
        jvp(special.digamma, (z,), (numpy.ones(1, complex),))


def test_multigammaln_refuses_as_scipy():
    with pytest.raises(ValueError, match="d should be a positive integer"):
        special.multigammaln(3.0, 1.5)
    with pytest.raises(ValueError, match=r"condition a \(0.5\) > 0.5 \* \(d-1\) \(1.0\) not met"):
        special.multigammaln(0.5, 3)


def test_scipy_ufuncs_of_tensors_reach_nablanets():
    x = Tensor(numpy.array([0.5, 2.0]), requires_grad=True)
    y = scipy.special.gammaln(x)
    assert isinstance(y, Tensor)
    y.sum().backward()
    numpy.testing.assert_allclose(x.grad, scipy.special.digamma([0.5, 2.0]))
    with pytest.raises(TypeError, match="not supported on nablanet Tensors"):
        scipy.special.struve(1.0, x)


def test_namespace_and_shared_erf():
    assert special.comb is scipy.special.comb   # names without derivatives are SciPy's own
    with pytest.raises(AttributeError, match="nor has scipy.special"):
        special.no_such_function
    assert special.erf is np.erf and nablanet.OPS["erf"].__module__ == "nablanet.autodiff.ops.special"
    assert special.psi is special.digamma
    assert not {"gammaln", "digamma", "xlogy"} & set(np.__all__)
