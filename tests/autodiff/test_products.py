"""Products of arrays (matmul, dot, inner, outer, vdot, einsum, tensordot, kron, cross, vecdot, matvec,
vecmat) against NumPy itself, their closed-form derivatives, and their errors.

As in test_shape.py, each table call runs with NumPy on plain arrays and with nablanet.numpy on
Tensors that carry a derivative, and must give the same values, shape and dtype.
"""

import warnings

import numpy
import pytest

import nablanet
import nablanet.numpy as np
from nablanet import Tensor, grad, hessian
from nablanet.testing import check_grads

RNG = numpy.random.default_rng(1)


def r(*shape, dtype=float):
    values = RNG.standard_normal(shape)
    if numpy.issubdtype(dtype, numpy.complexfloating):
        values = values + 1j * RNG.standard_normal(shape)
    return values.astype(dtype)


MATMUL_SHAPES = [
    ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3,)), ((3,), (5, 3, 4)),
    ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)), ((2, 1, 2, 3), (5, 3, 4)), ((1, 2, 3), (4, 1, 3, 2)), ((0, 3), (3, 2)),
]
DOT_SHAPES = [
    ((), ()), ((), (2, 3)), ((2, 3), ()), ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
    ((2, 3, 4), (4,)), ((4,), (2, 4, 3)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (5, 4, 2)), ((2, 4), (3, 5, 4, 2)),
]
INNER_SHAPES = [
    ((), ()), ((), (2, 3)), ((3,), ()), ((3,), (3,)), ((2, 3), (2, 3)), ((2, 3), (4, 3)), ((2, 5, 3), (3,)),
    ((3,), (2, 5, 3)), ((2, 5, 3), (4, 1, 3)), ((0, 3), (2, 3)),
]
EINSUM_CALLS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("ij,kj", [(2, 3), (4, 3)]), ("i,i", [(3,), (3,)]),
    ("i,j", [(3,), (2,)]), ("i,j->ji", [(3,), (2,)]), ("ii", [(3, 3)]), ("ii->i", [(3, 3)]), ("ij->", [(2, 3)]),
    ("ij", [(2, 3)]), ("ji", [(2, 3)]), ("ba,Ab", [(2, 3), (3, 2)]), ("zA,az", [(2, 3), (4, 2)]),
    ("bA,a", [(2, 3), (2,)]), ("...ij,...jk", [(2, 1, 3, 4), (5, 4, 2)]), ("...ij,...jk->...ik", [(3, 4), (7, 4, 2)]),
    ("i...->...", [(2, 3, 4)]), ("...", [(2, 3)]), ("...,...", [(3,), (2, 1)]), ("i...i", [(3, 2, 3)]),
    ("...ii->...i", [(4, 3, 3)]), ("ij...,jk...->ik...", [(2, 3, 5), (3, 4, 1)]), ("iij->j", [(3, 3, 2)]),
    ("iii->i", [(2, 2, 2)]), (",i->i", [(), (3,)]), ("", [()]), ("i,i,i->", [(4,), (4,), (4,)]),
    ("ij,ij->ij", [(1, 3), (2, 3)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("i...->", [(3,)]), ("...i->i", [(3,)]), ("ij,j", [(0, 3), (3,)]), ("a b, b c -> a c", [(2, 3), (3, 2)]),
]


def _check(ours, expected):
    ours = ours.numpy() if isinstance(ours, Tensor) else numpy.asarray(ours)
    expected = numpy.asarray(expected)
    assert ours.shape == expected.shape
    assert ours.dtype == expected.dtype
    numpy.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)


def _traced(*arrays):
    return [Tensor(a, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_promotes_and_broadcasts_as_numpy(shapes):
    a, b = r(*shapes[0]), r(*shapes[1])
    _check(np.matmul(*_traced(a, b)), numpy.matmul(a, b))
    _check(Tensor(a, requires_grad=True) @ b, a @ b)


@pytest.mark.parametrize("shapes", DOT_SHAPES, ids=str)
def test_dot_of_any_rank_is_numpys(shapes):
    a, b = r(*shapes[0]), r(*shapes[1])
    _check(np.dot(*_traced(a, b)), numpy.dot(a, b))


@pytest.mark.parametrize("shapes", INNER_SHAPES, ids=str)
def test_inner_is_numpys(shapes):
    a, b = r(*shapes[0]), r(*shapes[1])
    _check(np.inner(*_traced(a, b)), numpy.inner(a, b))


@pytest.mark.parametrize("subscripts, shapes", EINSUM_CALLS, ids=[s or "empty" for s, _ in EINSUM_CALLS])
def test_einsum_is_numpys(subscripts, shapes):
    arrays = [r(*s) for s in shapes]
    _check(np.einsum(subscripts, *_traced(*arrays)), numpy.einsum(subscripts, *arrays))
    if len(arrays) > 2:
        _check(np.einsum(subscripts, *_traced(*arrays), optimize=True), numpy.einsum(subscripts, *arrays, optimize=True))


@pytest.mark.parametrize("call, arrays", [
    (lambda n, a, b: n.einsum(a, [0, 1], b, [1, 2], [0, 2]), [r(2, 3), r(3, 4)]),
    (lambda n, a: n.einsum(a, [Ellipsis, 27], [27, Ellipsis]), [r(3, 4)]),
    (lambda n, a, b: n.einsum(a, [26, 26], b, [26]), [r(3, 3), r(3)]),
    (lambda n, a, b: n.vdot(a, b), [r(2, 3, dtype=complex), r(6, dtype=complex)]),
    (lambda n, a, b: n.vdot(a, b), [r(2, 2), r(4)]),
    (lambda n, a, b: n.outer(a, b), [r(2, 3), r(4)]),
    (lambda n, a, b: n.outer(a, b), [r(), r(2)]),
    (lambda n, a, b: n.tensordot(a, b), [r(2, 3, 4), r(3, 4, 5)]),
    (lambda n, a, b: n.tensordot(a, b, 0), [r(2), r(3, 1)]),
    (lambda n, a, b: n.tensordot(a, b, axes=(1, 0)), [r(2, 3), r(3, 2)]),
    (lambda n, a, b: n.tensordot(a, b, axes=([-1, 0], [0, -1])), [r(2, 3, 4), r(4, 5, 2)]),
    (lambda n, a, b: n.kron(a, b), [r(2, 3), r(3, 2)]),
    (lambda n, a, b: n.kron(a, b), [r(3), r(2, 1, 2)]),
    (lambda n, a, b: n.kron(a, b), [r(2, 1, 2), r(3)]),
    (lambda n, a, b: n.kron(a, b), [r(), r(2, 2)]),
    (lambda n, a, b: n.cross(a, b), [r(3), r(3)]),
    (lambda n, a, b: n.cross(a, b), [r(4, 1, 3), r(2, 3)]),
    (lambda n, a, b: n.cross(a, b, axisa=0, axisb=-1, axisc=1), [r(3, 4), r(4, 3)]),
    (lambda n, a, b: n.cross(a, b, axis=1), [r(2, 3, 4), r(2, 3, 4)]),
    (lambda n, a, b: n.vecdot(a, b), [r(2, 3, dtype=complex), r(3, dtype=complex)]),
    (lambda n, a, b: n.vecdot(a, b, axis=0), [r(3, 2), r(3, 1)]),
    (lambda n, a, b: n.matvec(a, b), [r(2, 3, 4), r(5, 1, 4)]),
    (lambda n, a, b: n.vecmat(a, b), [r(4, dtype=complex), r(2, 4, 3)]),
], ids=lambda v: "" if callable(v) else None)
def test_products_are_numpys(call, arrays):
    _check(call(np, *_traced(*arrays)), call(numpy, *arrays))


def test_products_keep_float32_and_follow_numpy_for_python_numbers():
    a, b = r(2, 3, dtype=numpy.float32), r(3, 4, dtype=numpy.float32)
    for f in (np.matmul, np.dot, lambda x, y: np.tensordot(x, y, 1), lambda x, y: np.einsum("ij,jk", x, y),
              lambda x, y: np.inner(x, y.T), np.kron):
        assert f(*_traced(a, b)).dtype == numpy.float32
    # numpy.dot and numpy.inner make arrays of their arguments: a Python float is float64 to them.
    assert np.dot(Tensor(a, requires_grad=True), 2.0).dtype == numpy.dot(a, 2.0).dtype == numpy.float64
    assert np.inner(Tensor(a, requires_grad=True), 2.0).dtype == numpy.inner(a, 2.0).dtype


# --- wrong before -------------------------------------------------------------------------------

def test_inner_of_matrices_is_a_times_b_transposed():
    a, b = r(2, 3), r(2, 3)
    out = np.inner(Tensor(a, requires_grad=True), b)
    assert out.shape == (2, 2)
    numpy.testing.assert_allclose(out.numpy(), a @ b.T)
    numpy.testing.assert_allclose(grad(lambda x: np.sum(np.inner(x, b)))(a), numpy.broadcast_to(b.sum(0), (2, 3)))


def test_inner_of_scalars_and_of_matrices_of_different_heights():
    assert np.inner(Tensor(2.0, requires_grad=True), numpy.array([1.0, 3.0])).numpy().tolist() == [2.0, 6.0]
    assert np.inner(Tensor(r(2, 3), requires_grad=True), r(4, 3)).shape == (2, 4)


def test_dot_of_stacks_of_matrices():
    a, b = r(2, 3, 4), r(5, 4, 2)
    out = np.dot(Tensor(a, requires_grad=True), b)
    assert out.shape == (2, 3, 5, 2)
    numpy.testing.assert_allclose(out.numpy(), numpy.dot(a, b))
    check_grads(np.dot, [a, b], order=2)


def test_matmul_of_a_vector_and_a_stack():
    check_grads(np.matmul, [r(3), r(2, 3, 4)], order=2)
    check_grads(np.matmul, [r(2, 1, 4, 3), r(3)], order=2)


# --- einsum ---------------------------------------------------------------------------------------

def test_einsum_rules_are_einsums():
    a, b = r(2, 3), r(3, 4)
    counts = nablanet.count_ops(lambda x, y: np.einsum("ij,jk->ik", x, y), a, b)
    assert counts.forward_calls == {"einsum": 1}
    assert counts.reverse_calls == {"einsum": 2}
    assert counts.forward["einsum"] == 2 * 2 * 3 * 4


def test_einsum_hessian_of_a_quadratic_form():
    a = r(3, 3)
    h = hessian(lambda x: np.einsum("i,ij,j", x, a, x))(r(3))
    numpy.testing.assert_allclose(h, a + a.T, rtol=1e-12)


def test_einsum_diagonal_cotangent_lands_on_the_diagonal():
    g = grad(lambda x: np.sum(np.einsum("ii->i", x) * numpy.array([1.0, 2.0, 3.0])))(numpy.zeros((3, 3)))
    numpy.testing.assert_array_equal(g, numpy.diag([1.0, 2.0, 3.0]))
    g = grad(lambda x: np.einsum("ij->", x))(numpy.zeros((2, 3)))
    numpy.testing.assert_array_equal(g, numpy.ones((2, 3)))


def test_einsum_optimize_paths_and_numpys_dispatch():
    arrays = [r(2, 3), r(3, 4), r(4, 2)]
    path, _ = numpy.einsum_path("ij,jk,kl->il", *arrays, optimize="optimal")
    traced = _traced(*arrays)
    # numpy.einsum_path reads only shapes: a constant function of Tensors.
    assert numpy.einsum_path("ij,jk,kl->il", *traced, optimize="optimal")[0] == path
    out = numpy.einsum("ij,jk,kl->il", *traced, optimize=path)
    assert isinstance(out, Tensor)
    _check(out, numpy.einsum("ij,jk,kl->il", *arrays))
    check_grads(lambda *xs: np.einsum("ij,jk,kl->il", *xs, optimize=path), arrays, order=2)


def test_einsum_dtype_converts_the_operands():
    out = np.einsum("i,i", Tensor(r(3), requires_grad=True), r(3), dtype=numpy.float32, casting="same_kind")
    assert out.dtype == numpy.float32
    with pytest.raises(TypeError, match="according to the rule 'safe'"):
        np.einsum("i", Tensor(r(3), requires_grad=True), dtype=numpy.float32)


@pytest.mark.parametrize("call, message", [
    (lambda x: np.einsum("ii->ii", x), "output subscript 'i' multiple times"),
    (lambda x: np.einsum("ij->k", x), "'k' which never appeared in an input"),
    (lambda x: np.einsum("ijk", x), "too many subscripts for operand 0"),
    (lambda x: np.einsum("i", x), "more dimensions than subscripts"),
    (lambda x: np.einsum("ij..", x), "not part of an ellipsis"),
    (lambda x: np.einsum("i2", x), "subscripts must be letters"),
    (lambda x: np.einsum("i-j", x), "proper '->'"),
    (lambda x: np.einsum("ij,jk", x), "subscripts name 2 operands, but 1 were given"),
    (lambda x: np.einsum("i...->", x), "no '...' ellipsis"),
    (lambda x: np.einsum("ii", x), "don't match"),
    (lambda x: np.einsum(x, [0, 52]), r"valid range \[0, 52\)"),
])
def test_einsum_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call(Tensor(r(2, 3), requires_grad=True))


def test_einsum_refuses_out():
    with pytest.raises(TypeError, match="out= is not supported"):
        np.einsum("i", Tensor(r(2), requires_grad=True), out=numpy.zeros(2))


def test_einsum_sums_ellipsis_dimensions_only_when_optimizing_as_numpy():
    x = r(2, 3)
    assert np.einsum("...i->", Tensor(x, requires_grad=True), optimize=True).numpy() == pytest.approx(x.sum())


# --- conventions and errors of the other products -------------------------------------------------

def test_vdot_vecdot_and_vecmat_conjugate_their_first_argument():
    z, w = r(3, dtype=complex), r(3, dtype=complex)
    expected = numpy.sum(numpy.conj(z) * w)
    for f in (np.vdot, np.vecdot, lambda a, b: np.vecmat(a, b[:, None])[0]):
        assert f(Tensor(z, requires_grad=True), w).numpy() == pytest.approx(expected)
    # The derivative of the real part of conj(z) w in z is conj(w) in JAX's convention: d/dx - i d/dy.
    g = grad(lambda a: np.real(np.vdot(a, w)))(z)
    numpy.testing.assert_allclose(g, numpy.conj(w))


def test_cross_of_2_vectors_warns_as_numpy():
    a, b = r(4, 2), r(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        expected = numpy.cross(a, b)
    with pytest.warns(DeprecationWarning, match="2-dimensional vectors"):
        _check(np.cross(Tensor(a, requires_grad=True), b), expected)


def test_numpys_product_functions_dispatch_to_nablanet():
    x = Tensor(r(2, 3), requires_grad=True)
    for result in (numpy.dot(x, r(3)), numpy.inner(x, r(3)), numpy.matmul(x, r(3)), numpy.einsum("ij->j", x),
                   numpy.tensordot(x, r(3, 2), 1), numpy.kron(x, r(2)), numpy.outer(x, r(2)), numpy.vdot(x, r(6)),
                   numpy.vecdot(x, r(3)), numpy.matvec(x, r(3)), numpy.vecmat(r(2), x), numpy.cross(x, r(3))):
        assert isinstance(result, Tensor) and result.requires_grad


@pytest.mark.parametrize("call, error, message", [
    (lambda x: np.matmul(x, Tensor(2.0)), ValueError, "Input operand 1 does not have enough dimensions"),
    (lambda x: np.matmul(x, r(2)), ValueError, "matmul"),
    (lambda x: np.dot(x, r(2, 3)), ValueError, r"shapes \(2, 3\) and \(2, 3\) not aligned: 3 \(dim 1\) != 2 \(dim 0\)"),
    (lambda x: np.dot(r(4, 2, 3), x), ValueError, "not aligned"),
    (lambda x: np.inner(x, r(3, 2)), ValueError, "not aligned"),
    (lambda x: np.vdot(x, r(5)), ValueError, "different lengths"),
    (lambda x: np.tensordot(x, r(2, 3), 1), ValueError, "shape-mismatch for sum"),
    (lambda x: np.cross(x, r(2, 4)), ValueError, "incompatible dimensions for cross product"),
    (lambda x: np.cross(x, r(3), axisa=2), numpy.exceptions.AxisError, "axisa"),
    (lambda x: np.vecdot(x, r(2)), ValueError, "mismatch in its core dimension"),
    (lambda x: np.dot(x, r(3), out=numpy.zeros(2)), TypeError, "out= is not supported"),
])
def test_product_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(Tensor(r(2, 3), requires_grad=True))
