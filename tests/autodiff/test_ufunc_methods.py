"""NumPy's ufunc methods (outer, reduce, accumulate) on nablanet's functions, and through NumPy's own call."""

import numpy
import pytest

import nablanet
import nablanet.numpy as np
from nablanet.testing import check_grads

CALLS = [
    ("subtract.outer", lambda m, a, b: m.subtract.outer(a, b)),
    ("multiply.outer", lambda m, a, b: m.multiply.outer(a, b)),
    ("arctan2.outer", lambda m, a, b: m.arctan2.outer(a, b)),
    ("add.reduce", lambda m, a, b: m.add.reduce(a)),
    ("add.reduce-axis1", lambda m, a, b: m.add.reduce(b, axis=1, keepdims=True)),
    ("multiply.reduce", lambda m, a, b: m.multiply.reduce(b)),
    ("maximum.reduce", lambda m, a, b: m.maximum.reduce(b, axis=1)),
    ("logaddexp.reduce", lambda m, a, b: m.logaddexp.reduce(b)),
    ("add.accumulate", lambda m, a, b: m.add.accumulate(b, axis=1)),
    ("multiply.accumulate", lambda m, a, b: m.multiply.accumulate(a)),
]


@pytest.mark.parametrize("name,call", CALLS, ids=[c[0] for c in CALLS])
def test_ufunc_methods_equal_numpy_and_differentiate(name, call):
    rng = numpy.random.default_rng(0)
    a, b = rng.uniform(0.5, 2.0, 3), rng.uniform(0.5, 2.0, (2, 4))
    expected = call(numpy, a, b)
    numpy.testing.assert_allclose(call(np, a, b), expected, rtol=1e-14)
    # NumPy's own method on Tensors reaches ours and carries the derivative.
    result = call(numpy, nablanet.Tensor(a, requires_grad=True), nablanet.Tensor(b, requires_grad=True))
    assert isinstance(result, nablanet.Tensor) and result.requires_grad
    numpy.testing.assert_allclose(result.numpy(), expected, rtol=1e-14)
    check_grads(lambda a, b: call(np, a, b), [a, b], order=2)


def test_ufunc_methods_refuse_out():
    with pytest.raises(TypeError, match="out="):
        np.add.reduce(numpy.ones(3), out=numpy.zeros(()))
