"""Every primitive in OPS: VJP and JVP against central finite differences in float64, to second order.

The table below is keyed by op name; a registered op without an entry fails
``test_every_op_has_cases``, so a new op gets its gradient check by adding one line here.
"""

from dataclasses import dataclass

import numpy
import pytest

import nablanet.numpy as np
from nablanet import OPS, grad, jvp
from nablanet.testing import check_grads


def sample(domain: str, shape: tuple, rng) -> numpy.ndarray:
    """Inputs where the op is smooth: away from log(0), division by zero and kinks."""
    if domain == "real":
        return rng.standard_normal(shape)
    if domain == "positive":
        return rng.uniform(0.5, 2.0, shape)
    if domain == "above_minus_one":
        return rng.uniform(-0.5, 2.0, shape)
    if domain == "nonzero":
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)
    if domain == "distinct":
        # A shuffled grid: no ties, so max/min have a unique winner and a well-defined derivative.
        size = int(numpy.prod(shape))
        return (rng.permutation(size) * 0.37 + rng.uniform(0, 0.1)).reshape(shape) - size * 0.2
    raise ValueError(domain)


@dataclass
class Case:
    fn: object
    shapes: tuple
    domains: tuple = ("real",)
    id: str = ""

    def arrays(self, rng):
        domains = self.domains * len(self.shapes) if len(self.domains) == 1 else self.domains
        return [sample(d, s, rng) for d, s in zip(domains, self.shapes)]


BROADCAST_PAIRS = [((), ()), ((4,), (4,)), ((3, 4), (3, 4)), ((3, 1), (4,)), ((), (3, 4)), ((2, 3, 4), (3, 1))]


def binary(fn, domains=("real", "real")):
    return [Case(fn, pair, domains, id=f"{pair[0]}-{pair[1]}") for pair in BROADCAST_PAIRS]


def unary(fn, domain="real", shapes=((), (5,), (3, 4))):
    return [Case(fn, (s,), (domain,), id=str(s)) for s in shapes]


def reductions(fn, domain="real", keep=True):
    cases = [Case(lambda x: fn(x), ((3, 4),), (domain,), id="all")]
    for axis in (0, 1, -1, (0, 1)):
        cases.append(Case(lambda x, a=axis: fn(x, axis=a), ((3, 4),), (domain,), id=f"axis{axis}"))
        if keep:
            cases.append(Case(lambda x, a=axis: fn(x, axis=a, keepdims=True), ((3, 4),), (domain,), id=f"axis{axis}-keep"))
    cases.append(Case(lambda x: fn(x, axis=1), ((2, 3, 4),), (domain,), id="3d"))
    return cases


CASES = {
    "add": binary(np.add),
    "subtract": binary(np.subtract),
    "multiply": binary(np.multiply),
    "divide": binary(np.divide, ("real", "nonzero")),
    "negative": unary(np.negative),
    "power": binary(np.power, ("positive", "real")) + unary(lambda x: x ** 3) + unary(lambda x: x ** 2),
    "exp": unary(np.exp),
    "log": unary(np.log, "positive"),
    "log1p": unary(np.log1p, "above_minus_one"),
    "expm1": unary(np.expm1),
    "sqrt": unary(np.sqrt, "positive"),
    "abs": unary(np.abs, "nonzero"),
    "sin": unary(np.sin),
    "cos": unary(np.cos),
    "tanh": unary(np.tanh),
    "sigmoid": unary(np.sigmoid),
    "maximum": binary(np.maximum),
    "minimum": binary(np.minimum),
    "where": [
        Case(lambda x, y: np.where(x > 0, x, y), ((3, 4), (3, 4)), id="same"),
        Case(lambda x, y: np.where(x > 0, x * 2, y), ((3, 4), (4,)), id="broadcast"),
    ],
    "clip": [
        Case(lambda x: np.clip(x, -0.5, 0.7), ((4, 5),), id="both"),
        Case(lambda x: np.clip(x, None, 0.3), ((6,),), id="upper"),
    ],
    "identity": unary(np.identity),
    # Through long double and back: exact, so finite differences still apply, and x's dtype is kept.
    "astype": [Case(lambda x: np.astype(np.astype(x, numpy.longdouble) * 2.0, x.dtype), ((4,),), id="roundtrip")],
    "matmul": [
        Case(np.matmul, ((3, 4), (4, 2)), id="2d"),
        Case(np.matmul, ((4,), (4, 2)), id="vec-mat"),
        Case(np.matmul, ((3, 4), (4,)), id="mat-vec"),
        Case(np.matmul, ((4,), (4,)), id="vec-vec"),
        Case(np.matmul, ((2, 3, 4), (4, 5)), id="batched-2d"),
        Case(np.matmul, ((2, 1, 3, 4), (5, 4, 2)), id="batched-broadcast"),
    ],
    "sum": reductions(np.sum),
    "max": reductions(np.max, "distinct"),
    "min": reductions(np.min, "distinct"),
    "logsumexp": reductions(np.logsumexp),
    "softmax": [Case(lambda x, a=a: np.softmax(x, axis=a), ((3, 4),), id=f"axis{a}") for a in (0, 1)],
    "log_softmax": [Case(lambda x, a=a: np.log_softmax(x, axis=a), ((3, 4),), id=f"axis{a}") for a in (0, -1)],
    "reshape": [Case(lambda x: np.reshape(x, (4, 3)) * 1.0, ((3, 4),)), Case(lambda x: np.reshape(x, (2, -1)), ((3, 4),))],
    "transpose": [Case(np.transpose, ((3, 4),)), Case(lambda x: np.transpose(x, (1, 2, 0)), ((2, 3, 4),))],
    "broadcast_to": [Case(lambda x: np.broadcast_to(x, (2, 3, 4)), ((3, 1),)), Case(lambda x: np.broadcast_to(x, (3,)), ((),))],
    "concatenate": [
        Case(lambda x, y: np.concatenate([x, y], axis=0), ((2, 3), (4, 3))),
        Case(lambda x, y: np.concatenate([x, y, x], axis=1), ((2, 3), (2, 1))),
    ],
    "pad": [Case(lambda x: np.pad(x, 1), ((3, 4),)), Case(lambda x: np.pad(x, ((0, 2), (1, 0)), constant_values=3.0), ((3, 4),))],
    "getitem": [
        Case(lambda x: x[1:, ::2], ((4, 5),), id="slices"),
        Case(lambda x: x[numpy.array([0, 2, 2, 1])], ((4, 5),), id="int-array-repeats"),
        Case(lambda x: x[:, [4, 0, 4]], ((4, 5),), id="int-array-axis1"),
        Case(lambda x: x[x > 0], ((4, 5),), id="bool-mask"),
        Case(lambda x: x[1, None, ..., 2], ((3, 4, 5),), id="int-none-ellipsis"),
        Case(lambda x: np.take(x, [3, 0, 3], axis=1), ((2, 4),), id="take"),
    ],
    "scatter_add": [Case(lambda x: np.scatter_add(x, numpy.array([0, 2, 0]), (4, 2)), ((3, 2),), id="repeats")],
    "dense": [
        Case(lambda x, W, b, a=act: np.dense(x, W, b, activation=a), ((5, 3), (3, 4), (4,)), id=act)
        for act in ("identity", "relu", "leaky_relu", "elu", "sigmoid", "tanh")
    ] + [
        Case(lambda x, W: np.dense(x, W, None, activation="tanh"), ((5, 3), (3, 4)), id="no-bias"),
        Case(lambda x, W, b: np.dense(x, W, b, activation="sigmoid"), ((2, 5, 3), (3, 4), (4,)), id="3d-input"),
    ],
    "softmax_cross_entropy": [
        Case(lambda z: np.softmax_cross_entropy(z, numpy.array([0, 2, 1, 2])), ((4, 3),), id="labels"),
        Case(lambda z: np.softmax_cross_entropy(z, numpy.array([[0.2, 0.8, 0.0], [0.1, 0.1, 0.8]])), ((2, 3),), id="probabilities"),
    ],
    # gamma and beta are drawn like x (standard normal): scales of either sign, shifts away from 0.
    "batch_norm": [
        Case(lambda x, g, b: np.batch_norm(x, g, b), ((6, 3), (3,), (3,)), id="2d"),
        Case(lambda x, g, b: np.batch_norm(x, g, b, eps=0.1), ((4, 3, 5), (3,), (3,)), id="3d-eps"),
        Case(lambda x, g, b: np.batch_norm(x, g, b), ((3, 2, 3, 4), (2,), (2,)), id="4d"),
        # Channels-last in memory, as a convolution's output: the passes run in that order.
        Case(lambda x, g, b: np.batch_norm(np.moveaxis(x, -1, 1), g, b), ((4, 5, 3), (3,), (3,)), id="channels-last"),
    ],
    "erf": unary(np.erf),
    "relu": unary(np.relu, "nonzero"),
    "max_pool": [
        Case(lambda x: np.max_pool_windows(x, (2, 2)), ((2, 3, 4, 6),), ("distinct",), id="2d"),
        Case(lambda x: np.max_pool_windows(x, (3,)), ((2, 2, 9),), ("distinct",), id="1d"),
    ],
    # Every window chooses a different offset (row-major index inside the window).
    "window_select": [Case(lambda x: np.window_select(x, (2, 2), numpy.array([[[[0, 2], [3, 1]]]], dtype=numpy.uint8)),
                           ((1, 1, 4, 4),), id="2d")],
    "window_spread": [Case(lambda g: np.window_spread(g, (2,), numpy.array([[[0, 1]]], dtype=numpy.uint8), (1, 1, 4)),
                           ((1, 1, 2),), id="1d")],
    "gru_cell": [Case(np.gru_cell, ((4, 3), (4, 2), (3, 6), (2, 6), (6,), (6,)), id="in3-h2")],
    "avg_pool": [
        Case(lambda x: np.avg_pool_windows(x, (2, 3)), ((2, 3, 4, 6),), id="2d"),
        Case(lambda x: np.avg_pool_windows(x, (2,)), ((1, 2, 8),), id="1d"),
    ],
    "im2col": [
        Case(lambda x: np.im2col(x, 3), ((2, 2, 7),), id="1d"),
        Case(lambda x: np.im2col(x, (2, 3), stride=(2, 1), dilation=(1, 2)), ((2, 3, 5, 7),), id="2d-stride-dilation"),
        # One channel: the patch matrix is built offset-major and returned in column order.
        Case(lambda x: np.im2col(x, (3, 2), stride=(1, 2)), ((2, 1, 5, 6),), id="2d-one-channel"),
        # Channels-last in memory: the last kernel axis is copied with the channels in one run.
        Case(lambda x: np.im2col(np.moveaxis(x, -1, 1), (2, 3), stride=(1, 2)), ((2, 4, 7, 3),), id="2d-channels-last"),
    ],
    "convolution": [
        Case(lambda x, W, b: np.convolution(x, W, b, activation="tanh"), ((2, 3, 5, 6), (4, 3, 3, 2), (4,)), id="2d-tanh"),
        Case(lambda x, W: np.convolution(x, W, stride=(2, 1), dilation=(1, 2)), ((2, 2, 6, 7), (3, 2, 2, 3)),
             id="2d-stride-dilation-no-bias"),
        Case(lambda x, W, b: np.convolution(x, W, b, stride=2, activation="elu"), ((2, 3, 9), (2, 3, 3), (2,)),
             id="1d-stride-elu"),
        # x channels-last in memory (as a convolution's output): patch rows are copied in longer runs.
        Case(lambda x, W, b: np.convolution(np.moveaxis(x, -1, 1), W, b, activation="sigmoid"),
             ((2, 5, 6, 3), (2, 3, 2, 3), (2,)), id="2d-channels-last-input"),
        Case(lambda x, W, b: np.convolution(x, W, b, dilation=(2, 1), activation="tanh"), ((2, 1, 6, 5), (3, 1, 2, 3), (3,)),
             id="2d-one-channel"),
    ],
    "col2im": [
        Case(lambda c: np.col2im(c, (2, 3, 5, 6), (3, 2), stride=(2, 2)), ((2, 6, 18),), id="2d-stride"),
        Case(lambda c: np.col2im(c, (1, 2, 6), 3, dilation=2), ((1, 2, 6),), id="1d-dilation"),
    ],
}

# Ops that are piecewise constant: their derivative is zero wherever it exists.
CONSTANT_OPS = {"sign"}
# Ops whose derivative is refused with an error (see test_heaviside_refuses_derivatives).
FORWARD_ONLY_OPS = {"heaviside"}


def all_cases():
    for name, cases in CASES.items():
        for k, case in enumerate(cases):
            yield pytest.param(case, id=f"{name}-{case.id or k}")


def test_every_op_has_cases():
    missing = sorted(set(OPS) - set(CASES) - CONSTANT_OPS - FORWARD_ONLY_OPS)
    assert not missing, f"ops without gradient-check cases: {missing}"


@pytest.mark.parametrize("case", list(all_cases()))
def test_vjp_and_jvp_match_finite_differences_to_second_order(case):
    rng = numpy.random.default_rng(7)
    check_grads(case.fn, case.arrays(rng), modes=("fwd", "rev"), order=2, rtol=1e-6, rng=rng)


@pytest.mark.parametrize("case", list(all_cases()))
def test_float32_stays_float32(case):
    rng = numpy.random.default_rng(3)
    args = [a.astype(numpy.float32) for a in case.arrays(rng)]

    def scalar(*xs):
        return np.sum(case.fn(*xs))

    for i, arg in enumerate(args):
        g = grad(scalar, argnums=i)(*args)
        assert g.dtype == numpy.float32, f"gradient of argument {i} is {g.dtype}"
    out, out_dot = jvp(case.fn, args, [numpy.ones_like(a) for a in args])
    assert numpy.asarray(out).dtype == numpy.float32
    assert numpy.asarray(out_dot).dtype == numpy.float32


def test_sign_has_zero_derivative():
    assert grad(lambda x: np.sum(np.sign(x) * x))(numpy.array([-2.0, 3.0])).tolist() == [-1.0, 1.0]


def test_heaviside_refuses_derivatives():
    from nablanet.autodiff.ops.nn import HeavisideDerivativeError

    x = numpy.array([-1.0, 0.0, 2.0])
    assert np.heaviside(x).tolist() == [0.0, 1.0, 1.0]
    with pytest.raises(HeavisideDerivativeError, match="perceptron learning rule"):
        grad(lambda v: np.sum(np.heaviside(v)))(x)
    with pytest.raises(HeavisideDerivativeError):
        jvp(np.heaviside, (x,), (numpy.ones(3),))
