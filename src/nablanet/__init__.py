"""nablanet: neural networks on NumPy, with every derivative its own.

The public API: the Tensor and its transforms (reverse and forward mode automatic differentiation),
and tools to look inside a computation.
"""

from nablanet.autodiff import (
    OPS,
    Op,
    OpCount,
    Tensor,
    checkpoint,
    count_ops,
    custom_jvp,
    custom_vjp,
    elementwise_grad,
    enable_grad,
    grad,
    hessian,
    hessian_vector_product,
    hvp,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    no_grad,
    register,
    stop_gradient,
    to_dot,
    tree_flatten,
    tree_map,
    tree_unflatten,
    value_and_grad,
    vjp,
    vmap,
)

from nablanet.autodiff.jit import jit, make_program

from nablanet import datasets, diagnostics, nn, optim, preprocessing, runtime, train
from nablanet.diagnostics import gradcheck
from nablanet.nn.init import seed
from nablanet.train import evaluate, fit, predict
from nablanet.io import load, load_checkpoint, save

__version__ = "0.1.0"

__all__ = [
    "Tensor", "grad", "value_and_grad", "vjp", "jvp", "jacobian", "jacrev", "jacfwd", "hessian",
    "count_ops", "to_dot", "OpCount", "no_grad", "enable_grad", "OPS", "Op", "register",
    "elementwise_grad", "hvp", "hessian_vector_product", "checkpoint", "custom_vjp", "custom_jvp", "stop_gradient", "vmap", "jit", "make_program",
    "tree_flatten", "tree_unflatten", "tree_map", "nn", "optim", "datasets", "preprocessing", "runtime", "train", "fit", "predict", "evaluate", "save", "load", "load_checkpoint", "diagnostics", "gradcheck", "seed",
]


_ESTIMATORS = ("MLPClassifier", "MLPRegressor", "LinearRegression", "Ridge", "LogisticRegression")
__all__ += list(_ESTIMATORS)


def __getattr__(name):
    # The scikit-learn estimators are imported on first use: scikit-learn is an optional dependency.
    if name in _ESTIMATORS:
        from nablanet import sklearn

        return getattr(sklearn, name)
    raise AttributeError(f"module 'nablanet' has no attribute {name!r}")
