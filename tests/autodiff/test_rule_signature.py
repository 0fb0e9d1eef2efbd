"""Op rules have one signature: every op of nablanet declares it, and register gives it to a rule of an earlier form."""

import inspect

import numpy
import pytest

import nablanet
from nablanet import OPS, vmap
from nablanet.autodiff import op as op_module
from nablanet.autodiff.op import Op, register

KEYWORD_ONLY = inspect.Parameter.KEYWORD_ONLY
# The adapters register puts around rules of an earlier form: no op of nablanet needs one.
ADAPTED = {op_module._given_needs(print).__code__, op_module._batch_given_inputs(print).__code__}
NABLANET_OPS = sorted(name for name, op in OPS.items() if op.__module__.startswith("nablanet."))


def _keyword_only(rule, *names) -> bool:
    parameters = inspect.signature(rule).parameters
    return all(name in parameters and parameters[name].kind is KEYWORD_ONLY for name in names)


def test_the_registry_holds_the_ops_of_every_family():
    families = {OPS[name].__module__ for name in NABLANET_OPS}
    assert len(NABLANET_OPS) > 100 and {"nablanet.autodiff.ops.nn", "nablanet.autodiff.ops.conv"} <= families


@pytest.mark.parametrize("name", NABLANET_OPS)
def test_every_op_declares_the_one_signature(name):
    op = OPS[name]
    for mode in ("vjp", "jvp"):
        rule = getattr(op, mode)
        assert _keyword_only(rule, "needs"), f"{name}.{mode} does not take the keyword needs"
        assert rule.__code__ not in ADAPTED, f"{name}.{mode} is written in an earlier form"
    if op.batch is not None:
        assert _keyword_only(op.batch, "batched", "batched_settings"), f"{name}.batch is not in the one signature"
        assert op.batch.__code__ not in ADAPTED, f"{name}.batch is written in an earlier form"
    assert not hasattr(op, "domain"), f"{name} declares a sampling domain; the op_cases tables hold those"


def test_a_rule_of_the_earlier_form_is_given_the_one_signature():
    seen = []

    @register
    class EarlierFormForTest(Op):
        """y = 3 x, its rules written without needs and its batch rule taking the inputs as one list."""

        name = "earlier_form_for_test"

        def batch(cls, values, batched):
            seen.append(("batch", list(batched)))
            return 3.0 * values[0]

        def forward(x):
            return 3.0 * x

        def vjp(grad_out, out, x):
            seen.append("vjp")
            return (3.0 * grad_out,)

        def jvp(x_dot, out, x):
            seen.append("jvp")
            return 3.0 * x_dot

    try:
        for mode in ("vjp", "jvp"):
            assert _keyword_only(getattr(EarlierFormForTest, mode), "needs")
        assert _keyword_only(EarlierFormForTest.batch, "batched", "batched_settings")
        x = numpy.array([1.0, -2.0])
        assert float(nablanet.grad(lambda v: EarlierFormForTest.apply(v).sum())(x).sum()) == 6.0
        _, tangent = nablanet.jvp(EarlierFormForTest.apply, (x,), (numpy.ones(2),))
        numpy.testing.assert_array_equal(tangent, [3.0, 3.0])
        numpy.testing.assert_array_equal(vmap(EarlierFormForTest.apply)(numpy.ones((4, 2))), numpy.full((4, 2), 3.0))
        assert seen == ["vjp", "jvp", ("batch", [True])]
    finally:
        del OPS["earlier_form_for_test"]


def test_a_batch_rule_of_the_earlier_form_declines_a_batched_setting():
    calls = []

    @register
    class ScaledForTest(Op):
        """y = x * scale, scale a setting (a constant array of the op)."""

        name = "scaled_for_test"

        def batch(cls, values, batched, *, scale):
            calls.append("batch")
            return values[0] * scale

        def forward(x, *, scale):
            return x * scale

    try:
        xs, scales = numpy.ones((3, 2)), numpy.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
        out = vmap(lambda x, s: ScaledForTest.apply(x, scale=s))(xs, scales)
        # The batched setting sent every example through the op on its own, as the earlier engine did.
        numpy.testing.assert_array_equal(out, scales)
        assert calls == []
        out = vmap(lambda x: ScaledForTest.apply(x, scale=numpy.array([2.0, 3.0])))(xs)
        numpy.testing.assert_array_equal(out, numpy.tile([2.0, 3.0], (3, 1)))
        assert calls == ["batch"]
    finally:
        del OPS["scaled_for_test"]
