"""nablanet.numpy's array building, reshaping, rearranging and indexing against NumPy itself.

The table runs each call twice, with NumPy on plain arrays and with nablanet.numpy on Tensors that
carry a derivative (so the composites run, not NumPy), and asks for the same values, shape and dtype.
The tests after it are the behaviours easy to get wrong: numpy.array of Tensors, r_ and c_, linspace's
derivative, NumPy's errors, and what nablanet refuses (with its message).
"""

import warnings

import numpy
import pytest
from numpy.exceptions import AxisError

import nablanet
import nablanet.numpy as np
from nablanet import Tensor, grad, jvp

RNG = numpy.random.default_rng(0)


def r(*shape, dtype=float):
    values = RNG.standard_normal(shape)
    if numpy.issubdtype(dtype, numpy.complexfloating):
        values = values + 1j * RNG.standard_normal(shape)
    return values.astype(dtype)


MASK = r(3, 4) > 0

# (id, call(namespace, *arrays), arrays): the call is run with numpy and with nablanet.numpy.
CALLS = [
    ("reshape-minus-one", lambda n, a: n.reshape(a, (4, -1)), [r(2, 3, 4)]),
    ("reshape-fortran", lambda n, a: n.reshape(a, (3, 8), order="F"), [r(2, 3, 4)]),
    ("reshape-fortran-minus-one", lambda n, a: n.reshape(a, (-1, 2), order="F"), [r(2, 3)]),
    ("reshape-0d", lambda n, a: n.reshape(a, (1, 1, 1)), [r()]),
    ("reshape-empty", lambda n, a: n.reshape(a, (0, 5)), [r(2, 0)]),
    ("reshape-int-shape", lambda n, a: n.reshape(a, 6), [r(2, 3)]),
    ("ravel-C", lambda n, a: n.ravel(a), [r(2, 3, 4)]),
    ("ravel-F", lambda n, a: n.ravel(a, order="F"), [r(2, 3, 4)]),
    ("ravel-A", lambda n, a: n.ravel(a, order="A"), [r(2, 3)]),
    ("ravel-K", lambda n, a: n.ravel(a, order="K"), [r(2, 3)]),
    ("transpose-default", lambda n, a: n.transpose(a), [r(2, 3, 4)]),
    ("transpose-negative", lambda n, a: n.transpose(a, (-1, 0, 1)), [r(2, 3, 4)]),
    ("transpose-1d-int", lambda n, a: n.transpose(a, 0), [r(3)]),
    ("permute_dims", lambda n, a: n.permute_dims(a, (1, 0, 2)), [r(2, 3, 4)]),
    ("matrix_transpose", lambda n, a: n.matrix_transpose(a), [r(2, 3, 4)]),
    ("swapaxes", lambda n, a: n.swapaxes(a, -1, 0), [r(2, 3, 4)]),
    ("moveaxis-int", lambda n, a: n.moveaxis(a, -1, 0), [r(2, 3, 4)]),
    ("moveaxis-sequences", lambda n, a: n.moveaxis(a, [0, 1], [2, 0]), [r(2, 3, 4)]),
    ("rollaxis", lambda n, a: n.rollaxis(a, -1, 1), [r(2, 3, 4)]),
    ("rollaxis-start-end", lambda n, a: n.rollaxis(a, 0, 3), [r(2, 3, 4)]),
    ("broadcast_to", lambda n, a: n.broadcast_to(a, (2, 3, 4)), [r(3, 1)]),
    ("broadcast_arrays", lambda n, a, b: n.broadcast_arrays(a, b)[1], [r(3, 1), r(4)]),
    ("expand_dims-tuple", lambda n, a: n.expand_dims(a, (0, 2, -1)), [r(2, 3)]),
    ("expand_dims-0d", lambda n, a: n.expand_dims(a, -1), [r()]),
    ("squeeze-all", lambda n, a: n.squeeze(a), [r(1, 3, 1)]),
    ("squeeze-negative", lambda n, a: n.squeeze(a, -1), [r(1, 3, 1)]),
    ("squeeze-to-0d", lambda n, a: n.squeeze(a), [r(1, 1)]),
    ("atleast_1d-0d", lambda n, a: n.atleast_1d(a), [r()]),
    ("atleast_2d-1d", lambda n, a: n.atleast_2d(a), [r(3)]),
    ("atleast_2d-several", lambda n, a, b: n.atleast_2d(a, b)[0], [r(), r(3, 1, 2)]),
    ("atleast_3d-1d", lambda n, a: n.atleast_3d(a), [r(3)]),
    ("atleast_3d-2d", lambda n, a: n.atleast_3d(a), [r(2, 3)]),
    ("atleast_3d-4d", lambda n, a: n.atleast_3d(a), [r(1, 2, 3, 4)]),
    ("concatenate-axis1", lambda n, a, b: n.concatenate([a, b], axis=1), [r(2, 3), r(2, 1)]),
    ("concatenate-negative", lambda n, a, b: n.concatenate((a, b), axis=-2), [r(2, 3, 4), r(2, 1, 4)]),
    ("concatenate-none", lambda n, a, b: n.concatenate([a, b], axis=None), [r(2, 3), r(4)]),
    ("concatenate-empty", lambda n, a, b: n.concatenate([a, b]), [r(0, 3), r(2, 3)]),
    ("concatenate-dtype", lambda n, a, b: n.concatenate([a, b], dtype=numpy.complex64), [r(2), r(3)]),
    ("concatenate-promotes", lambda n, a, b: n.concatenate([a, b]), [r(2, dtype=numpy.float32), r(3)]),
    ("concat", lambda n, a, b: n.concat([a, b]), [r(2), r(3)]),
    ("stack", lambda n, a, b: n.stack([a, b]), [r(2, 3), r(2, 3)]),
    ("stack-negative", lambda n, a, b: n.stack([a, b], axis=-2), [r(2, 3), r(2, 3)]),
    ("stack-0d", lambda n, a, b: n.stack([a, b, a]), [r(), r()]),
    ("stack-dtype", lambda n, a, b: n.stack([a, b], dtype=numpy.float32), [r(2), r(2)]),
    ("hstack-1d", lambda n, a, b: n.hstack([a, b]), [r(2), r(3)]),
    ("hstack-0d", lambda n, a, b: n.hstack([a, b]), [r(), r()]),
    ("hstack-2d", lambda n, a, b: n.hstack((a, b)), [r(2, 3), r(2, 2)]),
    ("vstack-1d", lambda n, a, b: n.vstack([a, b]), [r(3), r(3)]),
    ("vstack-0d", lambda n, a, b: n.vstack([a, b]), [r(), r()]),
    ("vstack-mixed", lambda n, a, b: n.vstack([a, b]), [r(2, 3), r(3)]),
    ("dstack-1d", lambda n, a, b: n.dstack([a, b]), [r(3), r(3)]),
    ("dstack-0d", lambda n, a, b: n.dstack([a, b]), [r(), r()]),
    ("column_stack-1d", lambda n, a, b: n.column_stack([a, b]), [r(3), r(3)]),
    ("column_stack-mixed", lambda n, a, b: n.column_stack([a, b]), [r(3, 2), r(3)]),
    ("split-sections", lambda n, a: n.split(a, 2, axis=-1)[1], [r(2, 4)]),
    ("split-indices", lambda n, a: n.split(a, [1, 2])[1], [r(4, 3)]),
    ("split-indices-past-end", lambda n, a: n.split(a, [2, 7])[2], [r(4, 3)]),
    ("split-decreasing", lambda n, a: n.split(a, [3, 1])[1], [r(4)]),
    ("split-negative-index", lambda n, a: n.split(a, [-1])[0], [r(4)]),
    ("array_split-uneven", lambda n, a: n.array_split(a, 3)[0], [r(7)]),
    ("array_split-more-sections", lambda n, a: n.array_split(a, 5)[4], [r(3)]),
    ("hsplit-1d", lambda n, a: n.hsplit(a, [1])[1], [r(3)]),
    ("hsplit-2d", lambda n, a: n.hsplit(a, 2)[0], [r(3, 4)]),
    ("vsplit", lambda n, a: n.vsplit(a, 2)[1], [r(4, 3)]),
    ("dsplit", lambda n, a: n.dsplit(a, [1])[1], [r(2, 3, 4)]),
    ("unstack", lambda n, a: n.unstack(a, axis=-1)[1], [r(2, 3)]),
    ("flip-none", lambda n, a: n.flip(a), [r(2, 3)]),
    ("flip-tuple", lambda n, a: n.flip(a, (0, -1)), [r(2, 3, 4)]),
    ("flip-empty-tuple", lambda n, a: n.flip(a, ()), [r(2, 3)]),
    ("fliplr", lambda n, a: n.fliplr(a), [r(2, 3, 4)]),
    ("flipud", lambda n, a: n.flipud(a), [r(3)]),
    ("rot90", lambda n, a: n.rot90(a), [r(2, 3)]),
    ("rot90-k-negative", lambda n, a: n.rot90(a, -3, axes=(1, 2)), [r(2, 3, 4)]),
    ("rot90-k2", lambda n, a: n.rot90(a, 2), [r(2, 3)]),
    ("rot90-k4", lambda n, a: n.rot90(a, 4), [r(2, 3)]),
    ("roll-flat", lambda n, a: n.roll(a, -7), [r(2, 3)]),
    ("roll-axis", lambda n, a: n.roll(a, 4, axis=-1), [r(2, 3)]),
    ("roll-tuples", lambda n, a: n.roll(a, (1, 2), axis=(1, 1)), [r(2, 3)]),
    ("roll-shift-tuple-one-axis", lambda n, a: n.roll(a, (1, 2), axis=0), [r(4)]),
    ("roll-empty", lambda n, a: n.roll(a, 3, axis=0), [r(0, 2)]),
    ("tile-int", lambda n, a: n.tile(a, 3), [r(2, 2)]),
    ("tile-longer", lambda n, a: n.tile(a, (2, 1, 2)), [r(3)]),
    ("tile-0d", lambda n, a: n.tile(a, 2), [r()]),
    ("tile-zero", lambda n, a: n.tile(a, (0, 2)), [r(2)]),
    ("repeat-flat", lambda n, a: n.repeat(a, 2), [r(2, 3)]),
    ("repeat-axis", lambda n, a: n.repeat(a, 3, axis=-2), [r(2, 3)]),
    ("repeat-per-element", lambda n, a: n.repeat(a, [2, 0, 1], axis=1), [r(2, 3)]),
    ("repeat-length-one-counts", lambda n, a: n.repeat(a, [2], axis=1), [r(2, 3)]),
    ("repeat-0d", lambda n, a: n.repeat(a, 3), [r()]),
    ("repeat-zero", lambda n, a: n.repeat(a, 0, axis=0), [r(2, 3)]),
    ("resize-larger", lambda n, a: n.resize(a, (3, 5)), [r(2, 3)]),
    ("resize-smaller", lambda n, a: n.resize(a, 4), [r(2, 3)]),
    ("diagonal", lambda n, a: n.diagonal(a), [r(3, 4)]),
    ("diagonal-offset", lambda n, a: n.diagonal(a, 2), [r(3, 4)]),
    ("diagonal-negative-offset", lambda n, a: n.diagonal(a, -2), [r(3, 4)]),
    ("diagonal-offset-past", lambda n, a: n.diagonal(a, 9), [r(3, 4)]),
    ("diagonal-axes", lambda n, a: n.diagonal(a, 1, -1, 0), [r(3, 2, 4)]),
    ("trace", lambda n, a: n.trace(a), [r(3, 4)]),
    ("trace-batched", lambda n, a: n.trace(a, -1, 1, 2), [r(2, 3, 3)]),
    ("trace-complex", lambda n, a: n.trace(a), [r(3, 3, dtype=complex)]),
    ("diag-vector", lambda n, a: n.diag(a), [r(3)]),
    ("diag-vector-offset", lambda n, a: n.diag(a, -2), [r(3)]),
    ("diag-matrix", lambda n, a: n.diag(a, 1), [r(3, 4)]),
    ("diag-empty", lambda n, a: n.diag(a, 2), [r(0)]),
    ("diagflat", lambda n, a: n.diagflat(a, -1), [r(2, 2)]),
    ("tril", lambda n, a: n.tril(a), [r(3, 4)]),
    ("tril-k", lambda n, a: n.tril(a, 2), [r(2, 3, 4)]),
    ("tril-1d", lambda n, a: n.tril(a, -1), [r(3)]),
    ("triu-k", lambda n, a: n.triu(a, -1), [r(2, 3, 4)]),
    ("triu-float32", lambda n, a: n.triu(a), [r(3, 3, dtype=numpy.float32)]),
    ("pad-int", lambda n, a: n.pad(a, 2), [r(2, 3)]),
    ("pad-pairs", lambda n, a: n.pad(a, ((1, 0), (0, 2)), constant_values=1.5), [r(2, 3)]),
    ("pad-per-axis-values", lambda n, a: n.pad(a, 1, constant_values=((5, 6), (7, 8))), [r(2, 3)]),
    ("pad-before-after-values", lambda n, a: n.pad(a, (1, 2), constant_values=(-1, -2)), [r(2, 3)]),
    ("pad-reflect", lambda n, a: n.pad(a, ((3, 1), (0, 2)), mode="reflect"), [r(2, 3)]),
    ("pad-symmetric", lambda n, a: n.pad(a, 4, mode="symmetric"), [r(3)]),
    ("pad-edge", lambda n, a: n.pad(a, (2, 3), mode="edge"), [r(2, 3)]),
    ("pad-wrap", lambda n, a: n.pad(a, 5, mode="wrap"), [r(2, 3)]),
    ("pad-empty-mode", lambda n, a: n.pad(a, 1, mode="empty").shape, [r(2, 3)]),
    ("take-flat", lambda n, a: n.take(a, [[0, -1], [3, 2]]), [r(2, 3)]),
    ("take-axis", lambda n, a: n.take(a, [2, 0, 0], axis=-1), [r(2, 3)]),
    ("take-scalar", lambda n, a: n.take(a, -1, axis=0), [r(2, 3)]),
    ("take-wrap", lambda n, a: n.take(a, [7, -8], axis=1, mode="wrap"), [r(2, 3)]),
    ("take-clip", lambda n, a: n.take(a, [7, -8], mode="clip"), [r(2, 3)]),
    ("take_along_axis", lambda n, a: n.take_along_axis(a, numpy.argsort(a, axis=1), axis=1), [r(3, 4)]),
    ("take_along_axis-broadcast", lambda n, a: n.take_along_axis(a, numpy.array([[1], [0]]), axis=-1), [r(2, 3)]),
    ("take_along_axis-none", lambda n, a: n.take_along_axis(a, numpy.array([5, 0, -1]), axis=None), [r(2, 3)]),
    ("choose", lambda n, a, b: n.choose(numpy.array([[0, 1, 0]]), [a, b]), [r(2, 3), r(3)]),
    ("choose-wrap", lambda n, a, b: n.choose(numpy.array([3, -1]), (a, b), mode="wrap"), [r(2), r(2)]),
    ("choose-clip", lambda n, a, b: n.choose(numpy.array([3, -1]), (a, b), mode="clip"), [r(2), r(2)]),
    ("choose-promotes", lambda n, a, b: n.choose(numpy.array([0, 1]), (a, b)), [r(2, dtype=numpy.float32), r(2)]),
    ("select", lambda n, a, b: n.select([MASK, ~MASK], [a, b]), [r(3, 4), r(4)]),
    ("select-default", lambda n, a: n.select([MASK], [a], default=-2.0), [r(3, 4)]),
    ("select-float32-python-default", lambda n, a: n.select([MASK], [a], 7.0), [r(3, 4, dtype=numpy.float32)]),
    ("select-broadcast-conditions", lambda n, a: n.select([MASK[:1], MASK[:, :1]], [a, 2 * a]), [r(4)]),
    ("piecewise", lambda n, a: n.piecewise(a, [a < 0, a > 1], [lambda v: -v, 1.0, lambda v: v / 2]), [r(3, 4)]),
    ("piecewise-single-condition", lambda n, a: n.piecewise(a, a > 0, [lambda v: v * 2]), [r(5)]),
    ("piecewise-0d", lambda n, a: n.piecewise(a, [a > 0, a <= 0], [lambda v: v + 1, lambda v: v - 1]), [r()]),
    ("compress-axis", lambda n, a: n.compress([True, False, True], a, axis=1), [r(2, 3)]),
    ("compress-short", lambda n, a: n.compress([False, True], a, axis=0), [r(3, 2)]),
    ("compress-flat", lambda n, a: n.compress([0, 1, 1, 0, 1], a), [r(2, 3)]),
    ("extract", lambda n, a: n.extract(MASK, a), [r(3, 4)]),
]


def _tensors(arrays):
    return [Tensor(a, requires_grad=True) for a in arrays]


def _values(result):
    if isinstance(result, Tensor):
        return result.numpy()
    if isinstance(result, (tuple, list)) and result and isinstance(result[0], Tensor):
        return numpy.stack([part.numpy() for part in result])
    return numpy.asarray(result)


@pytest.mark.parametrize("call, arrays", [pytest.param(c, a, id=i) for i, c, a in CALLS])
def test_matches_numpy(call, arrays):
    expected = numpy.asarray(call(numpy, *arrays))
    ours = _values(call(np, *_tensors(arrays)))
    assert ours.shape == expected.shape
    assert ours.dtype == expected.dtype
    numpy.testing.assert_array_equal(ours, expected)


@pytest.mark.parametrize("call, arrays", [pytest.param(c, a, id=i) for i, c, a in CALLS[::7]])
def test_matches_numpy_in_forward_mode(call, arrays):
    """The same calls under jvp (tangents, no recorded graph) give the same values."""
    tangents = [numpy.ones_like(a) for a in arrays]
    out, _ = jvp(lambda *xs: call(np, *xs), arrays, tangents)
    numpy.testing.assert_array_equal(numpy.asarray(out), numpy.asarray(call(numpy, *arrays)))


def test_numpy_functions_dispatch_to_nablanet():
    x = Tensor(r(2, 3), requires_grad=True)
    for result in (numpy.flip(x, 0), numpy.concatenate([x, r(1, 3)]), numpy.tril(x), numpy.rot90(x),
                   numpy.take(x, [0, 0], axis=1), numpy.diagonal(x), numpy.repeat(x, 2)):
        assert isinstance(result, Tensor) and result.requires_grad
    assert numpy.split(x, 3, axis=1)[2].shape == (2, 1)


def test_plain_arrays_get_numpys_own_results():
    a = r(2, 3)
    assert np.flip(a, 0).base is a  # NumPy's view, not a copy made by the composite
    assert type(np.atleast_1d(1.0)) is numpy.ndarray
    assert isinstance(np.r_[1, 2:4], numpy.ndarray) and np.r_[1, 2:4].tolist() == [1, 2, 3]


# --- wrong before: numpy.array (and asarray, stack of nested lists) of Tensors that carry derivatives -------

def test_array_of_a_tuple_of_tensors_is_differentiable():
    def f(x):
        return np.sum(np.array((x, 2.0 * x, x * x)))

    assert grad(f)(3.0) == pytest.approx(1.0 + 2.0 + 6.0)


def test_array_of_nested_lists_mixes_tensors_and_numbers():
    def f(x):
        m = np.array([[x, 1.0], [0.0, x]])
        assert m.shape == (2, 2)
        return np.trace(m @ m)

    assert grad(f)(1.5) == pytest.approx(4 * 1.5)


def test_asarray_of_a_list_of_tensors_and_rows():
    x = Tensor(r(3), requires_grad=True)
    out = np.asarray([x, numpy.ones(3), [1.0, 2.0, 3.0]])
    assert out.shape == (3, 3) and out.requires_grad


def test_stack_of_a_nested_list_holding_tensors():
    x = Tensor(r(2), requires_grad=True)
    out = np.stack([[x, x], numpy.zeros((2, 2))])
    assert out.shape == (2, 2, 2)
    nablanet.numpy.sum(out * 3.0).backward()
    numpy.testing.assert_allclose(x.grad, [6.0, 6.0])


def test_array_follows_numpys_dtype_promotion():
    x32 = Tensor(r(2, dtype=numpy.float32), requires_grad=True)
    assert np.array([x32, x32]).dtype == numpy.float32
    # As numpy.array([np.float32(1), 1.0]): a Python float in a list is float64 to numpy.array.
    assert np.array([x32[0], 1.0]).dtype == numpy.array([numpy.float32(1), 1.0]).dtype
    assert np.array([x32, r(2)]).dtype == numpy.float64
    assert np.array([x32], dtype=numpy.complex64).dtype == numpy.complex64
    assert np.array(x32, ndmin=3).shape == (1, 1, 2)


def test_numpys_own_array_of_tensors_points_to_nablanets():
    with pytest.raises(TypeError, match="nablanet.numpy.array or stack"):
        numpy.array([Tensor(1.0, requires_grad=True)])


def test_zeros_like_and_ones_like_of_tensors_are_constants():
    x = Tensor(r(2, dtype=numpy.float32), requires_grad=True)
    for result in (np.zeros_like(x), numpy.ones_like(x)):
        assert type(result) is numpy.ndarray and result.dtype == numpy.float32


def test_array_of_values_without_derivatives_is_numpys():
    assert type(np.array([Tensor([1.0]), [2.0]])) is numpy.ndarray
    assert np.array([1, 2], dtype=numpy.float32).dtype == numpy.float32


def test_array_refuses_what_numpy_refuses():
    x = Tensor(r(2), requires_grad=True)
    with pytest.raises(ValueError, match="inhomogeneous"):
        np.array([x, numpy.ones(3)])
    with pytest.raises(ValueError, match="Unable to avoid copy"):
        np.array([x, x], copy=False)
    with pytest.raises(ValueError, match="Unable to avoid copy"):
        np.asarray(x, dtype=numpy.float32, copy=False)
    assert np.asarray(x, copy=False) is x


def test_array_with_a_converted_dtype_keeps_the_derivative():
    g = grad(lambda v: np.real(np.sum(np.array([v, v], dtype=complex) * 1j * 1j)))(2.0)
    assert g == pytest.approx(-2.0)


# --- r_ and c_ ------------------------------------------------------------------------------------

def test_r_joins_tensors_scalars_and_ranges():
    x = Tensor([1.0, 2.0], requires_grad=True)
    out = np.r_[x, 5.0, 0:3, -1:1:3j]
    numpy.testing.assert_array_equal(out.numpy(), numpy.r_[numpy.array([1.0, 2.0]), 5.0, 0:3, -1:1:3j])
    assert grad(lambda v: np.sum(np.r_[v, 2 * v, 0:2]))(numpy.array([1.0, 2.0])).tolist() == [3.0, 3.0]


@pytest.mark.parametrize("directive", ["0,2", "1,2", "-1,2,0", "0,3,-1", "1,3,1", "0"])
def test_r_directives_as_numpy(directive):
    a, b = r(3), r(3)
    expected = numpy.r_[directive, a, b]
    ours = np.r_[directive, Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)]
    numpy.testing.assert_array_equal(ours.numpy(), expected)


def test_r_row_and_column_matrices_are_2d_tensors():
    a = Tensor([1.0, 2.0], requires_grad=True)
    assert np.r_["r", a, 3.0].shape == (1, 3)
    assert np.r_["c", a, 3.0].shape == (3, 1)


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_r_matrix_builder_strings_read_the_callers_names():
    a = numpy.array([[1.0, 2.0]])
    numpy.testing.assert_array_equal(numpy.asarray(np.r_["a; a"]), [[1.0, 2.0], [1.0, 2.0]])


def test_c_stacks_columns():
    a, b = r(3), r(3, 2)
    numpy.testing.assert_array_equal(np.c_[Tensor(a, requires_grad=True), b, 0:3].numpy(), numpy.c_[a, b, 0:3])


def test_r_refuses_what_it_does_not_support():
    a = Tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="first entry"):
        np.r_[a, "0,2"]
    with pytest.raises(ValueError, match="unknown special directive"):
        np.r_["x", a]
    with pytest.raises(ValueError, match="too large to be a matrix"):
        np.r_["r", Tensor(numpy.ones((1, 1, 1)), requires_grad=True)]


# --- derivatives with closed forms ---------------------------------------------------------------

def test_linspace_is_linear_in_its_bounds():
    k = numpy.arange(5)
    start_slope = jvp(lambda a: np.linspace(a, 3.0, 5), (1.0,), (1.0,))[1]
    stop_slope = jvp(lambda b: np.linspace(1.0, b, 5), (3.0,), (1.0,))[1]
    numpy.testing.assert_allclose(start_slope, 1 - k / 4)
    numpy.testing.assert_allclose(stop_slope, k / 4)
    # Without the endpoint the divisions are 5, and the step's derivative is 1/5 per unit of stop.
    _, step_slope = jvp(lambda b: np.linspace(0.0, b, 5, endpoint=False, retstep=True)[1], (3.0,), (1.0,))
    assert step_slope == pytest.approx(0.2)


def test_linspace_of_array_bounds_matches_numpy():
    start, stop = r(2, 1), r(3)
    for kwargs in ({}, {"endpoint": False}, {"axis": -1}, {"axis": 1, "num": 1}, {"num": 0}):
        expected = numpy.linspace(start, stop, **({"num": 4} | kwargs))
        ours = np.linspace(Tensor(start, requires_grad=True), stop, **({"num": 4} | kwargs))
        assert ours.shape == expected.shape
        numpy.testing.assert_allclose(ours.numpy(), expected, rtol=1e-15)
    samples, step = np.linspace(Tensor(0.0, requires_grad=True), 1.0, 1, retstep=True)
    assert numpy.isnan(step) and samples.numpy().tolist() == [0.0]


def test_logspace_and_vander_match_numpy():
    start, stop, base = r(2), r(), numpy.array([2.0, 3.0])
    for kwargs in ({}, {"base": 2.0, "endpoint": False}, {"base": base, "axis": -1}, {"num": 1}):
        call = {"num": 4} | kwargs
        ours = np.logspace(Tensor(start, requires_grad=True), stop, **call)
        numpy.testing.assert_allclose(ours.numpy(), numpy.logspace(start, stop, **call), rtol=1e-14)
    for kwargs in ({}, {"N": 2}, {"N": 0}, {"increasing": True}):
        ours = np.vander(Tensor(start, requires_grad=True), **kwargs)
        expected = numpy.vander(start, **kwargs)
        assert numpy.asarray(_values(ours)).shape == expected.shape
        numpy.testing.assert_array_equal(_values(ours), expected)
    assert grad(lambda x: np.sum(np.vander(x, 3)))(numpy.zeros(2)).tolist() == [1.0, 1.0]


def test_linspace_keeps_float32():
    out = np.linspace(Tensor(numpy.float32(0.0), requires_grad=True), 1.0, 3)
    assert out.dtype == numpy.float32


def test_full_and_full_like_are_differentiable_in_the_fill_value():
    assert grad(lambda v: np.sum(np.full((2, 3), v)))(2.0) == pytest.approx(6.0)
    assert grad(lambda v: np.sum(np.full_like(numpy.ones(4), v)))(2.0) == pytest.approx(4.0)
    # numpy.full_like of a Tensor was a constant function: its fill value now keeps its derivative.
    like = Tensor(numpy.ones(3))
    assert grad(lambda v: np.sum(numpy.full_like(like, v)))(2.0) == pytest.approx(3.0)
    out = np.full_like(numpy.ones((2, 2), numpy.float32), Tensor(3.0, requires_grad=True))
    assert out.dtype == numpy.float32 and out.shape == (2, 2)


def test_insert_and_delete_send_gradients_to_the_right_places():
    g_arr, g_values = grad(lambda a, v: np.sum(np.insert(a, [0, 2, 2], v) * numpy.arange(7.0)),
                           argnums=(0, 1))(numpy.zeros(4), numpy.zeros(3))
    # Output: v0 a0 a1 v1 v2 a2 a3, weighted 0..6.
    assert g_arr.tolist() == [1.0, 2.0, 5.0, 6.0]
    assert g_values.tolist() == [0.0, 3.0, 4.0]
    g = grad(lambda a: np.sum(np.delete(a, [1, 3]) * numpy.array([1.0, 2.0, 3.0])))(numpy.zeros(5))
    assert g.tolist() == [1.0, 0.0, 2.0, 0.0, 3.0]


def test_repeat_and_tile_sum_the_copies():
    assert grad(lambda x: np.sum(np.repeat(x, [3, 0, 1])))(numpy.zeros(3)).tolist() == [3.0, 0.0, 1.0]
    assert grad(lambda x: np.sum(np.tile(x, (2, 3))))(numpy.zeros(2)).tolist() == [6.0, 6.0]


def test_trace_and_diagonal_derivatives():
    eye = numpy.eye(3, 4)
    numpy.testing.assert_array_equal(grad(np.trace)(numpy.zeros((3, 4))), eye)
    numpy.testing.assert_array_equal(grad(lambda x: np.sum(np.diagonal(x, 1)))(numpy.zeros((3, 4))), numpy.eye(3, 4, 1))
    # diag of a vector: the gradient reads the k-th diagonal back.
    w = r(4, 4)
    numpy.testing.assert_array_equal(grad(lambda v: np.sum(np.diag(v, -1) * w))(numpy.zeros(3)), numpy.diagonal(w, -1))


def test_tril_of_infinity_stays_finite():
    # A mask multiplication would make 0 * inf = nan above the diagonal; NumPy's where does not.
    x = numpy.array([[1.0, numpy.inf], [2.0, 3.0]])
    numpy.testing.assert_array_equal(np.tril(Tensor(x, requires_grad=True)).numpy(), numpy.tril(x))


def test_pad_is_differentiable_in_its_constant_values():
    g = grad(lambda v: np.sum(np.pad(numpy.ones((2, 2)), 1, constant_values=v)), argnums=0)(numpy.zeros((2, 2)))
    # The corners belong to the last axis: axis 0's pads are (1 x 4) rows, axis 1's the 4 columns' ends.
    assert g.tolist() == [[2.0, 2.0], [4.0, 4.0]]


def test_choose_and_select_send_each_choice_its_positions():
    index = numpy.array([0, 1, 1, 0])
    g_x, g_y = grad(lambda x, y: np.sum(np.choose(index, [x, y])), argnums=(0, 1))(numpy.zeros(4), numpy.zeros(4))
    assert g_x.tolist() == [1.0, 0.0, 0.0, 1.0] and g_y.tolist() == [0.0, 1.0, 1.0, 0.0]
    mask = numpy.array([True, True, False])
    g_x, g_d = grad(lambda x, d: np.sum(np.select([mask, mask], [x, 2 * x], d)), argnums=(0, 1))(numpy.zeros(3), 0.0)
    assert g_x.tolist() == [1.0, 1.0, 0.0] and g_d == 1.0


def test_second_derivatives_through_rearrangements():
    # f(x) = sum(roll(x)^2 * flip(x)): the Hessian is 2 diag(flip(roll^-1 ...)); check against finite differences.
    from nablanet.testing import check_grads

    check_grads(lambda x: np.sum(np.roll(x, 1) ** 2 * np.flip(x) * np.repeat(x, 1)), [r(5)], order=2)


# --- NumPy's errors, and what nablanet refuses --------------------------------------------------

def _traced(*shape):
    return Tensor(r(*shape), requires_grad=True)


@pytest.mark.parametrize("call, error, message", [
    (lambda: np.transpose(_traced(2, 3), (0, 0)), ValueError, "repeated axis in transpose"),
    (lambda: np.transpose(_traced(2, 3), (0,)), ValueError, "axes don't match array"),
    (lambda: np.transpose(_traced(2, 3), (0, 2)), AxisError, "out of bounds"),
    (lambda: np.swapaxes(_traced(2), 0, 1), AxisError, "axis2"),
    (lambda: np.moveaxis(_traced(2, 3), (0, 1), 0), ValueError, "same number of elements"),
    (lambda: np.rollaxis(_traced(2, 3), 0, 5), AxisError, "'start' arg requires"),
    (lambda: np.squeeze(_traced(2, 1), 0), ValueError, "size not equal to one"),
    (lambda: np.expand_dims(_traced(2), (0, 0)), ValueError, "repeated axis"),
    (lambda: np.concatenate([_traced(), _traced()]), ValueError, "zero-dimensional"),
    (lambda: np.concatenate([]), ValueError, "need at least one array"),
    (lambda: np.concatenate([_traced(2), r(2)], dtype=int), TypeError, "Cannot cast array data"),
    (lambda: np.stack([_traced(2), r(3)]), ValueError, "same shape"),
    (lambda: np.stack(x for x in [_traced(2)]), TypeError, "sequence"),
    (lambda: np.split(_traced(5), 2), ValueError, "equal division"),
    (lambda: np.array_split(_traced(5), 0), ValueError, "larger than 0"),
    (lambda: np.vsplit(_traced(3), 3), ValueError, "2 or more dimensions"),
    (lambda: np.fliplr(_traced(3)), ValueError, ">= 2-d"),
    (lambda: np.rot90(_traced(2, 2), axes=(0, 0)), ValueError, "Axes must be different"),
    (lambda: np.roll(_traced(2, 2), [[1]], 0), ValueError, "scalars or 1D sequences"),
    (lambda: np.tile(_traced(2), -1), ValueError, "negative dimensions"),
    (lambda: np.repeat(_traced(3), [1, 2]), ValueError, "broadcast"),
    (lambda: np.diagonal(_traced(3)), ValueError, "at least two dimensions"),
    (lambda: np.diagonal(_traced(2, 2), 0, 1, -1), ValueError, "cannot be the same"),
    (lambda: np.diag(_traced(2, 2, 2)), ValueError, "1- or 2-d"),
    (lambda: np.take(_traced(2, 3), [3], axis=1), IndexError, "index 3 is out of bounds for axis 1 with size 3"),
    (lambda: np.take(_traced(2), [0], mode="nearest"), ValueError, "clipmode must be one of"),
    (lambda: np.take(_traced(2), [0.0]), TypeError, "Cannot cast array data"),
    (lambda: np.take_along_axis(_traced(2, 3), numpy.array([0]), 1), ValueError, "same number of dimensions"),
    (lambda: np.take_along_axis(_traced(2, 3), numpy.array([[0.5]]), 1), IndexError, "integer array"),
    (lambda: np.take_along_axis(_traced(2, 3), numpy.array([[3]]), 1), IndexError, "out of bounds for axis 1"),
    (lambda: np.choose(numpy.array([2]), [_traced(1), _traced(1)]), ValueError, "invalid entry in choice array"),
    (lambda: np.select([numpy.array([1, 0])], [_traced(2)]), TypeError, "should be boolean ndarray"),
    (lambda: np.select([], []), ValueError, "empty condition list"),
    (lambda: np.compress([True] * 4, _traced(3)), IndexError, "out of bounds"),
    (lambda: np.linspace(_traced(), 1.0, -1), ValueError, "must be non-negative"),
    (lambda: np.reshape(_traced(2, 3).T, 6, copy=False), ValueError, "copy"),
    (lambda: np.reshape(_traced(2, 3), 6, order="K"), ValueError, "order"),
])
def test_numpys_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("call, error, message", [
    (lambda: np.put_along_axis(_traced(3), numpy.array([0]), 1.0, axis=0), TypeError, "in place"),
    (lambda: numpy.put_along_axis(_traced(3), numpy.array([0]), 1.0, axis=0), TypeError, "in place"),
    (lambda: np.pad(_traced(3), 1, mode="mean"), ValueError, "mode='mean' is not supported"),
    (lambda: np.pad(_traced(3), 1, mode="reflect", reflect_type="odd"), ValueError, "reflect_type='odd'"),
    (lambda: np.ravel(np.broadcast_to(_traced(3), (2, 3)), order="K"), ValueError, "broadcast view"),
    (lambda: np.concatenate([_traced(2)], out=numpy.zeros(2)), TypeError, "out= is not supported"),
    (lambda: np.take(_traced(2), [0], out=numpy.zeros(1)), TypeError, "out= is not supported"),
    (lambda: np.trace(_traced(2, 2), out=numpy.zeros(())), TypeError, "out= is not supported"),
    (lambda: np.linspace(_traced(), 5.0, 3, dtype=int), TypeError, "integer dtype"),
    (lambda: np.array(_traced(2), like=numpy.ones(1)), TypeError, "like="),
    (lambda: np.array([_traced(2)], ndmax=1), ValueError, "ndmax"),
    (lambda: np.full_like(numpy.ones(2, dtype=int), _traced()), TypeError, "non-float dtype"),
])
def test_refusals_name_what_is_refused(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_row_stack_warns_as_numpy_does():
    with pytest.warns(DeprecationWarning, match="row_stack"):
        out = np.row_stack([_traced(2), r(2)])
    assert out.shape == (2, 2)


def test_tensor_methods():
    x = _traced(2, 3)
    assert x.ravel(order="F").numpy().tolist() == numpy.ravel(x.numpy(), "F").tolist()
    assert x.flatten("F").shape == (6,)
    assert x.repeat(2, axis=0).shape == (4, 3)
    assert x.diagonal(1).shape == (2,)
    assert x.trace() == pytest.approx(numpy.trace(x.numpy()))
    assert x.take([0, 2], axis=1).shape == (2, 2)
    assert x.compress([True, False], axis=0).shape == (1, 3)
    assert x.reshape(3, 2, order="F").numpy().tolist() == x.numpy().reshape(3, 2, order="F").tolist()
    assert _traced(4, 2, 3).mT.shape == (4, 3, 2)


def test_warnings_of_numpys_deprecations_are_not_raised_inside_nablanet():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.vstack([_traced(2), r(2)])
