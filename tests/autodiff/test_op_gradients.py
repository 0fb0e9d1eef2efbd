"""Every primitive in OPS: VJP and JVP against central finite differences in float64, to second order.

The table lives in ``op_cases/``, one module per family of primitives; a registered op without an
entry fails ``test_every_op_has_cases``, so a new op gets its gradient check by adding its cases to
its family's module. Complex cases are checked with JAX's convention (``nablanet.testing.check_grads``).
"""

import numpy
import pytest

import nablanet.numpy as np
from nablanet import OPS, grad, jvp
from nablanet.testing import check_grads
from op_cases import collect, public_functions, uncovered

CASES, CONSTANT_OPS, FORWARD_ONLY_OPS = collect()


def all_cases():
    for name, cases in CASES.items():
        for k, case in enumerate(cases):
            yield pytest.param(case, id=f"{name}-{case.id or k}")


def test_every_op_has_cases():
    missing = sorted(set(OPS) - set(CASES) - CONSTANT_OPS - FORWARD_ONLY_OPS)
    assert not missing, f"ops without gradient-check cases: {missing}"


def test_every_public_function_has_cases():
    # Composites (mean, stack, tril ...) have no rules of their own, but NumPy's semantics on every
    # shape are still theirs to get right: each public function has its own row too.
    missing = uncovered(public_functions(), set(CASES))
    assert not missing, f"public functions without gradient-check cases: {missing}"


@pytest.mark.parametrize("case", list(all_cases()))
def test_vjp_and_jvp_match_finite_differences_to_second_order(case):
    rng = numpy.random.default_rng(7)
    check_grads(case.fn, case.arrays(rng), modes=("fwd", "rev"), order=2, rtol=1e-6, rng=rng)


@pytest.mark.parametrize("case", list(all_cases()))
def test_float32_stays_float32(case):
    rng = numpy.random.default_rng(3)
    single = numpy.complex64 if case.dtype == "complex" else numpy.float32
    args = [a.astype(single) for a in case.arrays(rng)]

    def scalar(*xs):
        # A complex output (of complex inputs, or of real ones: rfft) is differentiated through its
        # real part, as grad requires; real() of a real value is the value itself.
        return np.real(np.sum(case.fn(*xs)))

    for i, arg in enumerate(args):
        g = grad(scalar, argnums=i)(*args)
        assert g.dtype == single, f"gradient of argument {i} is {g.dtype}"
    out, out_dot = jvp(case.fn, args, [numpy.ones_like(a) for a in args])
    assert numpy.asarray(out).dtype in (numpy.float32, numpy.complex64), numpy.asarray(out).dtype
    assert numpy.asarray(out_dot).dtype in (numpy.float32, numpy.complex64), numpy.asarray(out_dot).dtype


def test_sign_has_zero_derivative():
    assert grad(lambda x: np.sum(np.sign(x) * x))(numpy.array([-2.0, 3.0])).tolist() == [-1.0, 1.0]


def test_heaviside_refuses_derivatives():
    from nablanet.autodiff.ops.nn import HeavisideDerivativeError

    x = numpy.array([-1.0, 0.0, 2.0])
    assert np.heaviside(x, 1.0).tolist() == [0.0, 1.0, 1.0]
    with pytest.raises(HeavisideDerivativeError, match="perceptron learning rule"):
        grad(lambda v: np.sum(np.heaviside(v, 1.0)))(x)
    with pytest.raises(HeavisideDerivativeError):
        jvp(lambda v: np.heaviside(v, 1.0), (x,), (numpy.ones(3),))
