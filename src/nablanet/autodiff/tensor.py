"""Tensor: an ndarray, whether a derivative is wanted of it, and the op that made it."""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from nablanet.autodiff import state as _state


class ArrayMethods:
    """ndarray's operators and methods, each a nablanet op: what a Tensor and a vmap batch share.

    A subclass provides ``_data`` (its values; a batch stands for its own), ``shape`` and ``ndim``.
    """

    __slots__ = ()

    @property
    def T(self) -> Tensor:
        return _ops.transpose(self)

    @property
    def mT(self) -> Tensor:
        """The stack of transposed matrices (the last two axes exchanged), as ndarray.mT."""
        return _ops.matrix_transpose(self)

    @property
    def real(self) -> Tensor:
        return _ops.real(self)

    @property
    def imag(self) -> Tensor:
        return _ops.imag(self)

    def conj(self) -> Tensor:
        return _ops.conj(self)

    conjugate = conj

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    # --- operators ---------------------------------------------------------------------------
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.subtract(self, other)

    def __rsub__(self, other):
        return _ops.subtract(other, self)

    def __mul__(self, other):
        return _ops.multiply(self, other)

    def __rmul__(self, other):
        return _ops.multiply(other, self)

    def __truediv__(self, other):
        return _ops.divide(self, other)

    def __rtruediv__(self, other):
        return _ops.divide(other, self)

    def __pow__(self, other):
        return _ops.power(self, other)

    def __rpow__(self, other):
        return _ops.power(other, self)

    def __mod__(self, other):
        return _ops.remainder(self, other)

    def __rmod__(self, other):
        return _ops.remainder(other, self)

    # Floor division is piecewise constant: a plain ndarray, as comparisons give.
    def __floordiv__(self, other):
        return np.floor_divide(self._data, _raw(other))

    def __rfloordiv__(self, other):
        return np.floor_divide(_raw(other), self._data)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __neg__(self):
        return _ops.negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    def __setitem__(self, index, value):
        raise TypeError(
            "Tensors are immutable: item assignment would silently break recorded derivatives; "
            "build the new array with nablanet.numpy.where, concatenate or pad instead"
        )

    # Comparisons have no derivative: they return plain boolean ndarrays (a batch of them under vmap,
    # whose class compares with NumPy's ufuncs: its _data is itself).
    def __lt__(self, other):
        return self._data < _raw(other)

    def __le__(self, other):
        return self._data <= _raw(other)

    def __gt__(self, other):
        return self._data > _raw(other)

    def __ge__(self, other):
        return self._data >= _raw(other)

    def __eq__(self, other):
        return self._data == _raw(other)

    def __ne__(self, other):
        return self._data != _raw(other)

    __hash__ = object.__hash__

    # Boolean masks combine as NumPy's do (no derivative: NumPy's ufuncs on the values).
    def __invert__(self):
        return np.invert(self._data)

    def __and__(self, other):
        return np.bitwise_and(self._data, _raw(other))

    def __rand__(self, other):
        return np.bitwise_and(_raw(other), self._data)

    def __or__(self, other):
        return np.bitwise_or(self._data, _raw(other))

    def __ror__(self, other):
        return np.bitwise_or(_raw(other), self._data)

    def __xor__(self, other):
        return np.bitwise_xor(self._data, _raw(other))

    def __rxor__(self, other):
        return np.bitwise_xor(_raw(other), self._data)

    # --- NumPy-style methods -----------------------------------------------------------------
    # ndarray's reduction methods take NumPy's function arguments after the array, in the same order.
    def sum(self, *args, **kwargs):
        return _ops.sum(self, *args, **kwargs)

    def mean(self, *args, **kwargs):
        return _ops.mean(self, *args, **kwargs)

    def max(self, *args, **kwargs):
        return _ops.max(self, *args, **kwargs)

    def min(self, *args, **kwargs):
        return _ops.min(self, *args, **kwargs)

    def var(self, *args, **kwargs):
        return _ops.var(self, *args, **kwargs)

    def std(self, *args, **kwargs):
        return _ops.std(self, *args, **kwargs)

    def prod(self, *args, **kwargs):
        return _ops.prod(self, *args, **kwargs)

    def cumsum(self, *args, **kwargs):
        return _ops.cumsum(self, *args, **kwargs)

    def cumprod(self, *args, **kwargs):
        return _ops.cumprod(self, *args, **kwargs)

    def sort(self, *args, **kwargs):
        raise TypeError("Tensors are immutable, and ndarray.sort sorts in place: use np.sort(x), which returns "
                        "a sorted copy (nablanet.numpy.sort)")

    def partition(self, *args, **kwargs):
        raise TypeError("Tensors are immutable, and ndarray.partition partitions in place: use np.partition(x, kth), "
                        "which returns a partitioned copy (nablanet.numpy.partition)")

    def argsort(self, *args, **kwargs):
        return np.argsort(self._data, *args, **kwargs)

    def argpartition(self, *args, **kwargs):
        return np.argpartition(self._data, *args, **kwargs)

    def all(self, *args, **kwargs):
        return np.all(self._data, *args, **kwargs)

    def any(self, *args, **kwargs):
        return np.any(self._data, *args, **kwargs)

    def reshape(self, *shape, order="C", copy=None):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.reshape(self, shape, order=order, copy=copy)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _ops.transpose(self, axes or None)

    def swapaxes(self, axis1, axis2):
        return _ops.swapaxes(self, axis1, axis2)

    def flatten(self, order="C"):
        return _ops.ravel(self, order)

    def ravel(self, order="C"):
        return _ops.ravel(self, order)

    def repeat(self, repeats, axis=None):
        return _ops.repeat(self, repeats, axis)

    def diagonal(self, offset=0, axis1=0, axis2=1):
        return _ops.diagonal(self, offset, axis1, axis2)

    def trace(self, offset=0, axis1=0, axis2=1, dtype=None, out=None):
        return _ops.trace(self, offset, axis1, axis2, dtype, out)

    def take(self, indices, axis=None, out=None, mode="raise"):
        return _ops.take(self, indices, axis, out, mode)

    def compress(self, condition, axis=None, out=None):
        return _ops.compress(condition, self, axis, out)

    def squeeze(self, axis=None):
        return _ops.squeeze(self, axis)

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        # Values are immutable, so copy= changes nothing; another order or casting rule is refused.
        if order not in ("K", "C", "A") or casting != "unsafe":
            raise TypeError(f"astype: order={order!r} and casting={casting!r} are not supported")
        return _ops.astype(self, dtype)

    def dot(self, other):
        return _ops.dot(self, other)

    def clip(self, min=None, max=None, out=None, **kwargs):
        return _ops.clip(self, min, max, out=out, **kwargs)

    def argmax(self, axis=None):
        return np.argmax(self._data, axis=axis)

    def argmin(self, axis=None):
        return np.argmin(self._data, axis=axis)



class Tensor(ArrayMethods):
    """An n-dimensional array that records the operations applied to it.

    A Tensor made with ``requires_grad=True`` is a leaf: every op applied to it (or to anything made
    from it) is recorded, and ``backward()`` on a scalar result accumulates dC/dx into each leaf's
    ``.grad`` (reverse mode, i.e. backpropagation).

    Args:
        data: anything ``numpy.asarray`` accepts. Python floats become float64; float32 stays float32.
        requires_grad: record operations on this tensor so its gradient can be taken.

    Example:
        >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> y = (x * x).sum()
        >>> y.backward()
        >>> x.grad
        array([2., 4., 6.])
    """

    __slots__ = ("_data", "_requires_grad", "_op", "_inputs", "_raw", "_needs", "_settings", "_seq", "_tangents",
                 "_level", "_grad", "__weakref__")
    # NumPy defers binary operators and ufuncs on (ndarray, Tensor) to Tensor.
    __array_priority__ = 1000

    def __init__(self, data, requires_grad: bool = False):
        if isinstance(data, Tensor):
            data = data._data
        elif not isinstance(data, (np.ndarray, _BatchTracer)):
            data = np.asarray(data)
        self._data = data
        self._op = None
        self._tangents = NO_TANGENTS
        # The vmap level inside which the transform this Tensor belongs to began (0: none), so that
        # a batched value meeting it knows which of the two wraps the other (batching.py).
        self._level = 0
        self._grad = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    # --- what it is --------------------------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """The underlying ndarray (not tracked: changing it bypasses the recorded graph)."""
        return self._data

    @data.setter
    def data(self, value):
        self._data = np.asarray(value)

    @property
    def grad(self):
        """dC/d(self) as the last ``backward()`` left it (accumulated over calls), or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if _state.tracer is not None:
            # nablanet.jit is tracing: the assignment (say, p.grad = None) is a step its replays repeat.
            from nablanet.autodiff.jit import tracing

            tracing.call(_set_grad, self, value)
        else:
            self._grad = value

    @property
    def requires_grad(self) -> bool:
        """Whether operations on this Tensor are recorded, so that gradients reach it."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool):
        if flag:
            check_differentiable(self._data, "requires_grad=True")
        self._requires_grad = bool(flag)

    @property
    def is_leaf(self) -> bool:
        """Whether no recorded operation made this Tensor (an input or a parameter, whose ``grad`` backward fills)."""
        return self._op is None

    @property
    def shape(self) -> tuple:
        """The shape of the value, as ``numpy.shape``."""
        return np.shape(self._data)

    @property
    def ndim(self) -> int:
        """The number of axes of the value."""
        return np.ndim(self._data)

    @property
    def size(self) -> int:
        """The number of elements of the value."""
        return int(np.size(self._data))

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the value."""
        return self._data.dtype

    def __repr__(self):
        body = np.array2string(np.asarray(self._data), separator=", ", prefix="Tensor(")
        extra = ", requires_grad=True" if self._requires_grad else ""
        if self._op is not None:
            extra = f", op={self._op.name}"
        return f"Tensor({body}{extra})"

    def numpy(self) -> np.ndarray:
        """The values as an ndarray, detached from the graph."""
        return self._data

    def item(self) -> float:
        """The value of a one-element Tensor as a Python number (not recorded: no gradient flows through it)."""
        return self._data.item()

    def __float__(self):
        return float(self._data)

    def __int__(self):
        return int(self._data)

    def __bool__(self):
        return bool(self._data)

    def __index__(self):
        return int(self._data)

    def __array__(self, dtype=None, copy=None):
        if self._requires_grad or self._tangents:
            raise TypeError(
                "a Tensor that carries a derivative was converted to a NumPy array, which would drop "
                "the derivative: use nablanet.numpy functions on it (nablanet.numpy.array or stack to "
                "build an array of Tensors), or .numpy() / .detach() if the value alone is wanted"
            )
        return self._data if dtype is None else self._data.astype(dtype)

    def __reduce__(self):
        # Pickling and deep copies keep the values and requires_grad (and a Parameter's attributes);
        # the recorded graph and tangents belong to one computation and are not carried over.
        return (_restore, (type(self), self._data, self._requires_grad, getattr(self, "__dict__", None)))

    def detach(self) -> Tensor:
        """The same values as a new leaf that records nothing."""
        return Tensor(self._data)

    # --- reverse mode ------------------------------------------------------------------------
    def backward(self, grad=None, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires it.

        Args:
            grad: upstream gradient, needed when ``self`` is not a scalar (shape of ``self``).
            create_graph: record the backward pass too, so the gradients can be differentiated.
        """
        from nablanet.autodiff.graph import backward

        backward(self, grad, create_graph=create_graph)

    def zero_grad_(self) -> None:
        """Set ``grad`` to None (in place), before the next backward pass accumulates into it."""
        from nablanet.autodiff.jit import tracing

        tracing.clear_grads([self])

    # --- NumPy protocols: np.exp(t), np.sum(t) ... dispatch to nablanet or fail loudly -------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from nablanet.autodiff.numpy_protocol import dispatch_ufunc

        return dispatch_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from nablanet.autodiff.numpy_protocol import dispatch_function

        return dispatch_function(func, args, kwargs)


def _raw(x):
    return x._data if isinstance(x, Tensor) else x


def _set_grad(tensor, value) -> None:
    tensor._grad = value


def _restore(cls, data, requires_grad, attributes):
    """Unpickling: a leaf of class ``cls`` (Tensor or Parameter) with the saved values and attributes."""
    t = _new(cls)
    Tensor.__init__(t, data, requires_grad)
    if attributes:
        t.__dict__.update(attributes)
    return t


# Shared by every tensor without tangents; read-only so that tangents are always set by assignment.
NO_TANGENTS = MappingProxyType({})


def new_tensor(data) -> Tensor:
    """A Tensor around an ndarray the engine just computed, skipping __init__'s conversions and checks."""
    t = _new(Tensor)
    t._data = data
    t._op = None
    t._tangents = NO_TANGENTS
    t._level = 0
    t._grad = None
    t._requires_grad = False
    return t


_new = object.__new__


def check_differentiable(data, what: str) -> None:
    """Raise a clear error if derivatives cannot be taken with respect to ``data``."""
    dtype = data.dtype if hasattr(data, "dtype") else np.asarray(data).dtype
    if dtype.kind not in "fc":
        raise TypeError(
            f"{what}: cannot differentiate with respect to an array of dtype {dtype}; "
            "derivatives need floating-point or complex inputs (use x.astype(float) or a float literal such as 1.0)"
        )


from nablanet.autodiff import ops as _ops  # noqa: E402  (ops need Tensor defined first)
from nablanet.autodiff.batching import BatchTracer as _BatchTracer  # noqa: E402  (a Tensor's data under vmap)
