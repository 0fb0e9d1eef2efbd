"""The automatic differentiation engine: Tensor, primitives, reverse and forward mode, transforms."""

from nablanet.autodiff.tensor import Tensor  # first: the ops need the class
from nablanet.autodiff.op import OPS, Op, register
from nablanet.autodiff.state import enable_grad, no_grad
from nablanet.autodiff.transforms import grad, hessian, jacfwd, jacobian, jacrev, jvp, value_and_grad, vjp
from nablanet.autodiff.introspect import OpCount, count_ops, to_dot

__all__ = [
    "Tensor", "Op", "OPS", "register", "no_grad", "enable_grad", "grad", "value_and_grad", "vjp",
    "jvp", "jacobian", "jacrev", "jacfwd", "hessian", "count_ops", "to_dot", "OpCount",
]
