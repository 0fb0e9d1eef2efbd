"""NumPy's dispatch protocols: np.exp(t), np.sum(t), ndarray * t reach nablanet's ops, or fail by name."""

from __future__ import annotations

import numpy as np

from nablanet.autodiff import ops
from nablanet.autodiff.tensor import Tensor

DIFFERENTIABLE_UFUNCS = {
    np.add: ops.add,
    np.subtract: ops.subtract,
    np.multiply: ops.multiply,
    np.divide: ops.divide,
    np.negative: ops.negative,
    np.positive: lambda x: x,
    np.power: ops.power,
    np.exp: ops.exp,
    np.log: ops.log,
    np.log1p: ops.log1p,
    np.expm1: ops.expm1,
    np.sqrt: ops.sqrt,
    np.absolute: ops.abs,
    np.sin: ops.sin,
    np.cos: ops.cos,
    np.tanh: ops.tanh,
    np.maximum: ops.maximum,
    np.minimum: ops.minimum,
    np.matmul: ops.matmul,
    np.square: ops.square,
    np.reciprocal: ops.reciprocal,
    np.logaddexp: ops.logaddexp,
}

# Piecewise-constant results: computed on the values, with no derivative (as comparisons in autograd).
CONSTANT_UFUNCS = {
    np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal, np.sign,
    np.isfinite, np.isnan, np.isinf, np.floor, np.ceil, np.rint, np.trunc, np.logical_and,
    np.logical_or, np.logical_not, np.logical_xor, np.signbit,
}

DIFFERENTIABLE_FUNCTIONS = {
    np.sum: ops.sum, np.mean: ops.mean, np.max: ops.max, np.amax: ops.max, np.min: ops.min,
    np.amin: ops.min, np.var: ops.var, np.std: ops.std, np.reshape: ops.reshape,
    np.transpose: ops.transpose, np.swapaxes: ops.swapaxes, np.moveaxis: ops.moveaxis,
    np.ravel: ops.ravel, np.concatenate: ops.concatenate, np.stack: ops.stack, np.hstack: ops.hstack,
    np.vstack: ops.vstack, np.split: ops.split, np.where: ops.where, np.clip: ops.clip, np.dot: ops.dot,
    np.matmul: ops.matmul, np.outer: ops.outer, np.inner: ops.inner, np.vdot: ops.vdot,
    np.expand_dims: ops.expand_dims, np.squeeze: ops.squeeze, np.broadcast_to: ops.broadcast_to,
    np.pad: ops.pad, np.take: ops.take,
}

CONSTANT_FUNCTIONS = {
    np.shape, np.ndim, np.size, np.argmax, np.argmin, np.argsort, np.zeros_like, np.ones_like,
    np.full_like, np.empty_like, np.allclose, np.isclose, np.array_equal, np.result_type,
    np.count_nonzero, np.nonzero, np.unique,
}


def _values(x):
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, (list, tuple)):
        return type(x)(_values(v) for v in x)
    return x


def _fullname(func) -> str:
    module = getattr(func, "__module__", None) or "numpy"
    return f"{module}.{func.__name__}" if module != "numpy" else f"numpy.{func.__name__}"


def dispatch_ufunc(ufunc, method, inputs, kwargs):
    if method == "__call__" and not kwargs:
        if ufunc in DIFFERENTIABLE_UFUNCS:
            return DIFFERENTIABLE_UFUNCS[ufunc](*inputs)
        if ufunc in CONSTANT_UFUNCS:
            return ufunc(*_values(inputs))
    detail = f" (method {method!r})" if method != "__call__" else ""
    detail += f" with keyword arguments {sorted(kwargs)}" if kwargs else ""
    raise TypeError(
        f"numpy.{ufunc.__name__}{detail} is not supported on nablanet Tensors, so its derivative "
        f"cannot be taken; use a nablanet.numpy function or compose it from supported ones"
    )


def dispatch_function(func, args, kwargs):
    if func in DIFFERENTIABLE_FUNCTIONS:
        return DIFFERENTIABLE_FUNCTIONS[func](*args, **kwargs)
    if func in CONSTANT_FUNCTIONS:
        return func(*_values(args), **{k: _values(v) for k, v in kwargs.items()})
    raise TypeError(
        f"{_fullname(func)} is not supported on nablanet Tensors, so its derivative cannot be taken; "
        f"use a nablanet.numpy function or compose it from supported ones"
    )
