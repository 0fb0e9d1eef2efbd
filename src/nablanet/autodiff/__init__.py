"""The automatic differentiation engine: Tensor, primitives, reverse and forward mode, transforms."""

from nablanet.autodiff.tensor import Tensor  # first: the ops need the class
from nablanet.autodiff.op import OPS, Op, register
from nablanet.autodiff.state import enable_grad, no_grad
from nablanet.autodiff.transforms import (
    elementwise_grad,
    grad,
    hessian,
    hessian_vector_product,
    hvp,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    value_and_grad,
    vjp,
)
from nablanet.autodiff.custom import checkpoint, custom_jvp, custom_vjp
from nablanet.autodiff.batching import vmap
from nablanet.autodiff.ops.control import stop_gradient
from nablanet.autodiff.tree import tree_flatten, tree_leaves, tree_map, tree_structure, tree_unflatten
from nablanet.autodiff.introspect import OpCount, count_ops, to_dot

__all__ = [
    "Tensor", "Op", "OPS", "register", "no_grad", "enable_grad", "grad", "value_and_grad", "vjp",
    "jvp", "jacobian", "jacrev", "jacfwd", "hessian", "count_ops", "to_dot", "OpCount",
    "elementwise_grad", "hvp", "hessian_vector_product", "checkpoint", "custom_jvp", "custom_vjp",
    "stop_gradient", "vmap", "tree_flatten", "tree_unflatten", "tree_map", "tree_leaves", "tree_structure",
]
