"""NumPy's dispatch protocols: np.exp(t), np.sum(t), ndarray * t reach nablanet's ops, or fail by name.

Which NumPy function reaches which of ours is read off ``nablanet.numpy`` (and its ``linalg`` and
``fft``): a function defined there under NumPy's name is the one ``numpy.<name>`` dispatches to, so
adding a function to an op family is all it takes for NumPy's own call to find it. The ufuncs of
scipy.special likewise reach the functions of ``nablanet.scipy.special``.
"""

from __future__ import annotations

import functools

import numpy as np

from nablanet.autodiff.tensor import Tensor


# Piecewise-constant results: computed on the values, with no derivative (as comparisons in autograd).
CONSTANT_UFUNCS = {
    np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal, np.sign,
    np.isfinite, np.isnan, np.isinf, np.floor, np.ceil, np.rint, np.trunc, np.logical_and,
    np.logical_or, np.logical_not, np.logical_xor, np.signbit,
    np.floor_divide,
}

CONSTANT_FUNCTIONS = {
    np.shape, np.ndim, np.size, np.argmax, np.argmin, np.argsort, np.zeros_like, np.ones_like,
    np.empty_like, np.einsum_path, np.allclose, np.isclose, np.array_equal, np.result_type,
    np.count_nonzero, np.nonzero, np.flatnonzero, np.argwhere, np.tril_indices_from, np.triu_indices_from,
    np.diag_indices_from, np.unique, np.iscomplexobj, np.isrealobj, np.iscomplex, np.isreal,
    np.all, np.any, np.argpartition, np.searchsorted, np.nanargmax, np.nanargmin,
}


@functools.cache
def _differentiable_tables() -> tuple[dict, dict]:
    """(ufunc -> our function, NumPy function -> our function), from nablanet.numpy's public names."""
    import nablanet.numpy as ours

    ufuncs = {np.positive: lambda x: x}
    functions = {}
    namespaces = [(np, ours)]
    for sub in ("linalg", "fft"):
        if hasattr(ours, sub) and getattr(ours, sub) is not getattr(np, sub):
            namespaces.append((getattr(np, sub), getattr(ours, sub)))
    # scipy.special's functions are NumPy ufuncs: scipy.special.gammaln(tensor) reaches nablanet's.
    import scipy.special

    import nablanet.scipy.special

    namespaces.append((scipy.special, nablanet.scipy.special))
    for theirs_module, ours_module in namespaces:
        for name in getattr(ours_module, "__all__", ()):
            theirs = getattr(theirs_module, name, None)
            mine = getattr(ours_module, name)
            if theirs is None or theirs is mine or not callable(theirs):
                continue
            if isinstance(theirs, np.ufunc):
                if theirs not in CONSTANT_UFUNCS:
                    ufuncs[theirs] = mine
            elif theirs not in CONSTANT_FUNCTIONS:
                functions[theirs] = mine
    return ufuncs, functions


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
    if method == "__call__":
        # Keywords go to our function, which takes NumPy's at their defaults and refuses the rest by name.
        differentiable = _differentiable_tables()[0]
        if ufunc in differentiable:
            return differentiable[ufunc](*inputs, **kwargs)
        if ufunc in CONSTANT_UFUNCS and "out" not in kwargs:
            return ufunc(*_values(inputs), **kwargs)
    elif method in ("outer", "reduce", "accumulate"):
        # numpy.subtract.outer(t, u): the method of our function of that name, where it has one.
        ours = _differentiable_tables()[0].get(ufunc)
        if ours is not None and hasattr(ours, method):
            return getattr(ours, method)(*inputs, **kwargs)
    detail = f" (method {method!r})" if method != "__call__" else ""
    detail += f" with keyword arguments {sorted(kwargs)}" if kwargs else ""
    raise TypeError(
        f"numpy.{ufunc.__name__}{detail} is not supported on nablanet Tensors, so its derivative "
        f"cannot be taken; use a nablanet.numpy function or compose it from supported ones"
    )


def dispatch_function(func, args, kwargs):
    differentiable = _differentiable_tables()[1]
    if func in differentiable:
        return differentiable[func](*args, **kwargs)
    if func in CONSTANT_FUNCTIONS:
        return func(*_values(args), **{k: _values(v) for k, v in kwargs.items()})
    raise TypeError(
        f"{_fullname(func)} is not supported on nablanet Tensors, so its derivative cannot be taken; "
        f"use a nablanet.numpy function or compose it from supported ones"
    )
