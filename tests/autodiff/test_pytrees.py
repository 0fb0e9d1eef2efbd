"""Containers of arrays through the transforms, on the examples of JAX's pytree documentation.

JAX is not a dependency: its documented results are written out here as the expected values
("Working with pytrees", "The autodiff cookbook"), with the differences of convention noted.
"""

import collections

import numpy
import pytest

import nablanet.numpy as np
from nablanet import grad, hessian, jacfwd, jacobian, jacrev, jvp, value_and_grad, vjp
from nablanet.autodiff.tree import tree_flatten, tree_leaves, tree_map, tree_structure, tree_unflatten


def test_tree_flatten_as_jax_documents():
    # jax.tree_util.tree_leaves of the documentation's example_trees.
    assert tree_leaves([1, "a", object]) [:2] == [1, "a"]
    assert tree_leaves((1, (2, 3), ())) == [1, 2, 3]
    assert tree_leaves([1, {"k1": 2, "k2": (3, 4)}, 5]) == [1, 2, 3, 4, 5]
    assert tree_leaves({"a": 2, "b": (2, 3)}) == [2, 2, 3]
    assert tree_leaves(None) == []
    # Dict keys are visited sorted, whatever order the dict was built in.
    assert tree_leaves({"b": 1, "a": 2}) == [2, 1]
    leaves, structure = tree_flatten([1, {"k1": 2, "k2": (3, 4)}, 5])
    assert tree_unflatten(structure, [x * 10 for x in leaves]) == [10, {"k1": 20, "k2": (30, 40)}, 50]


def test_tree_map_as_jax_documents():
    list_of_lists = [[1, 2, 3], [1, 2], [1, 2, 3, 4]]
    assert tree_map(lambda x: x * 2, list_of_lists) == [[2, 4, 6], [2, 4], [2, 4, 6, 8]]
    another = list_of_lists
    assert tree_map(lambda x, y: x + y, list_of_lists, another) == [[2, 4, 6], [2, 4], [2, 4, 6, 8]]
    with pytest.raises(ValueError, match="structures differ"):
        tree_map(lambda x, y: x + y, [1, 2], [1, (2, 3)])


def test_namedtuple_and_none_keep_their_structure():
    Point = collections.namedtuple("Point", "x y")
    g = grad(lambda p: p.x * p.y ** 2)(Point(2.0, 3.0))
    assert isinstance(g, Point) and g == Point(9.0, 12.0)
    g = grad(lambda p: p["w"] * 2.0)({"w": 1.5, "unused": None})
    assert g == {"unused": None, "w": 2.0}
    assert tree_structure({"a": None}).num_leaves == 0


def _mlp_params(rng):
    return {"W1": rng.standard_normal((3, 4)), "b1": rng.standard_normal(4),
            "W2": rng.standard_normal((4, 1)), "b2": rng.standard_normal(1)}


def _mlp_loss(params, x, y):
    hidden = np.tanh(x @ params["W1"] + params["b1"])
    prediction = hidden @ params["W2"] + params["b2"]
    return np.mean((prediction[:, 0] - y) ** 2)


def test_grad_of_a_dict_of_parameters_is_a_dict_of_gradients():
    # The documentation's MLP training example: grad(loss)(params, x, y) has params' structure.
    rng = numpy.random.default_rng(0)
    params = _mlp_params(rng)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal(5)
    grads = grad(_mlp_loss)(params, x, y)
    assert set(grads) == set(params)
    for name in params:
        assert grads[name].shape == params[name].shape
        # Each block equals the gradient with respect to that array alone.
        def loss_of_one(v, name=name):
            return _mlp_loss({**params, name: v}, x, y)
        numpy.testing.assert_allclose(grads[name], grad(loss_of_one)(params[name]), rtol=1e-14)


def test_tuple_and_list_arguments_are_containers_not_stacked():
    assert grad(lambda p: p[0] * p[1])((2.0, 3.0)) == (3.0, 2.0)
    assert grad(lambda p: p[0] * p[1])([2.0, 3.0]) == [3.0, 2.0]
    # Leaves of different shapes, which stacking could not even hold.
    g = grad(lambda p: np.sum(p[0]) * p[1])([numpy.ones(3), 2.0])
    assert isinstance(g, list) and g[0].tolist() == [2.0, 2.0, 2.0] and g[1] == 3.0


def test_argnums_tuple_and_keyword_arguments():
    def f(x, y, *, scale):
        return scale * x * y ** 2

    assert grad(f, argnums=(0, 1))(2.0, 3.0, scale=10.0) == (90.0, 120.0)
    value, g = value_and_grad(f, argnums=1)(2.0, 3.0, scale=1.0)
    assert (value, g) == (18.0, 12.0)


def test_transformed_functions_keep_name_and_docstring():
    def potential(q):
        """The potential energy V(q)."""
        return np.sum(q ** 2)

    for transform in (grad, value_and_grad, jacrev, jacfwd, hessian):
        wrapped = transform(potential)
        assert wrapped.__name__ == "potential"
        assert wrapped.__doc__ == "The potential energy V(q)."


def test_vjp_and_jvp_of_pytree_outputs():
    def f(p):
        return {"sum": p["a"] + p["b"], "product": (p["a"] * p["b"],)}

    primal = {"a": numpy.array([1.0, 2.0]), "b": numpy.array([3.0, 5.0])}
    out, f_vjp = vjp(f, primal)
    assert out["sum"].tolist() == [4.0, 7.0] and out["product"][0].tolist() == [3.0, 10.0]
    (g,) = f_vjp({"sum": numpy.ones(2), "product": (numpy.array([1.0, 0.0]),)})
    assert g["a"].tolist() == [4.0, 1.0] and g["b"].tolist() == [2.0, 1.0]
    with pytest.raises(ValueError, match="structure"):
        f_vjp({"sum": numpy.ones(2)})
    tangent = {"a": numpy.array([1.0, 0.0]), "b": numpy.array([0.0, 1.0])}
    out, out_dot = jvp(f, (primal,), (tangent,))
    assert out_dot["sum"].tolist() == [1.0, 1.0] and out_dot["product"][0].tolist() == [3.0, 2.0]
    with pytest.raises(ValueError, match="structure"):
        jvp(f, (primal,), ({"a": numpy.ones(2)},))


def test_jacobian_of_pytrees_has_output_structure_outside_input_structure():
    # jacrev/jacfwd of a dict -> dict function: result[out_key][in_key] has shape out.shape + in.shape.
    def f(p):
        return {"y": p["a"] * p["b"], "s": np.sum(p["a"])}

    p = {"a": numpy.array([1.0, 2.0]), "b": numpy.array([3.0, 4.0])}
    for mode in ("reverse", "forward"):
        J = jacobian(f, mode=mode)(p)
        numpy.testing.assert_array_equal(J["y"]["a"], numpy.diag([3.0, 4.0]))
        numpy.testing.assert_array_equal(J["y"]["b"], numpy.diag([1.0, 2.0]))
        numpy.testing.assert_array_equal(J["s"]["a"], [1.0, 1.0])
        numpy.testing.assert_array_equal(J["s"]["b"], [0.0, 0.0])


def test_hessian_of_a_tuple_is_nested_twice():
    # JAX: hessian(f)((x, y)) is ((d2f/dx2, d2f/dxdy), (d2f/dydx, d2f/dy2)).
    H = hessian(lambda p: p[0] ** 2 * p[1])((1.0, 2.0))
    assert [[float(h) for h in row] for row in H] == [[4.0, 2.0], [2.0, 0.0]]


def test_has_aux_passes_the_auxiliary_output_through():
    (value, aux), g = value_and_grad(lambda x: (x ** 2, {"note": x * 3}), has_aux=True)(2.0)
    assert value == 4.0 and g == 4.0 and float(aux["note"]) == 6.0
    with pytest.raises(TypeError, match="pair"):
        grad(lambda x: x ** 2, has_aux=True)(2.0)
