"""Module and Parameter: networks as Python objects whose trainable arrays are found automatically."""

from __future__ import annotations

import functools
import inspect
import math
import operator
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from nablanet import runtime
from nablanet.autodiff.jit import tracing
from nablanet.autodiff.tensor import Tensor


class Parameter(Tensor):
    """A trainable array of a Module: a leaf Tensor that always requires a gradient.

    Args:
        data: the initial values.
        regularize: whether L1/L2 penalties apply to it (True for weights; layers create biases,
            BatchNorm scales and shifts with False).

    Example:
        >>> w = Parameter(np.zeros((2, 3)))
        >>> w.requires_grad, w.shape
        (True, (2, 3))
    """

    def __init__(self, data, regularize: bool = True):
        super().__init__(data, requires_grad=True)
        self.regularize = regularize

    def __repr__(self):
        return "Parameter" + super().__repr__()[len("Tensor"):]


class ArraySpec(NamedTuple):
    """One array of a module's ``state_dict()`` as its constructor arguments determine it, known without
    allocating it (see ``Module.state_spec``).

    Attributes:
        shape: a tuple of ints.  dtype: a numpy dtype.
        nonnegative: whether every valid value is >= 0 (BatchNorm's running variance).
    """

    shape: tuple
    dtype: np.dtype
    nonnegative: bool = False

    @property
    def nbytes(self) -> int:
        # Python ints: a product of NumPy integers would wrap around past 2**63 instead of growing.
        return math.prod(map(operator.index, self.shape)) * np.dtype(self.dtype).itemsize


class ModelTooLargeError(MemoryError):
    """A module refused before it allocates anything: the arrays its arguments imply (its ``state_spec``)
    need more memory than the system has available. A MemoryError, so ``except MemoryError`` catches it.
    """


class Module:
    """Base class of layers and networks (as torch.nn.Module and equinox.Module).

    Assign Parameters, Modules, or lists/tuples/dicts of them as attributes in ``__init__`` and they
    are found by ``parameters()``; write ``forward`` with nablanet ops and functional calls only (a
    module never contains backward code). ``train()`` and ``eval()`` switch the mode that Dropout
    and BatchNorm read from ``self.training``.

    Example:
        >>> import nablanet.nn as nn
        >>> class TwoLayer(nn.Module):
        ...     def __init__(self, rng):
        ...         self.hidden = nn.Dense(2, 4, activation="tanh", rng=rng)
        ...         self.output = nn.Dense(4, 1, rng=rng)
        ...     def forward(self, x):
        ...         return self.output(self.hidden(x))
        >>> model = TwoLayer(np.random.default_rng(0))
        >>> [name for name, _ in model.named_parameters()]
        ['hidden.W', 'hidden.b', 'output.W', 'output.b']
    """

    @property
    def training(self) -> bool:
        """Training mode (``train()``) or evaluation mode (``eval()``). Read while nablanet.jit traces, it
        becomes a guard of the program: called after the mode changed, the compiled function traces again."""
        return tracing.read_mode(self, self.__dict__.get("_training", True))

    @training.setter
    def training(self, mode: bool) -> None:
        tracing.write_mode(self)
        self.__dict__["_training"] = mode

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _recording_arguments(cls.__init__, cls)

    def config(self) -> dict:
        """The architecture as JSON-ready data: class name and constructor arguments, nested for children.

        Arrays are not part of it (see state_dict); a random generator is recorded as None, since the
        weights it drew are saved separately. ``module_from_config`` rebuilds the module.
        """
        arguments = getattr(self, "_arguments", {})
        return {"class": type(self).__name__, "arguments": {k: _to_config(v) for k, v in arguments.items()}}

    @classmethod
    def state_spec(cls, *args, **kwargs):
        """(name, ArraySpec) for each array ``cls(*args, **kwargs).state_dict()`` would hold, in its order,
        computed from the arguments alone: how a model file's architecture is sized before anything is built.

        A layer whose arrays grow with its arguments defines it, with its constructor's arguments
        (module arguments come as the (name, ArraySpec) pairs of their own state_spec); it may be a
        generator. It checks the arguments first, with the constructor's own checks: a wrong one then
        raises here, check_memory leaves it to the constructor, and ``Dense(True, 10**12)`` is refused
        for its first argument, not for the memory it would take. The base class returns None: unknown, so the module is built to find out (cheap for
        a module without arrays of its own). A definition applies to the class that makes it and to
        subclasses that keep its ``__init__``.
        """
        return None

    def forward(self, *args, **kwargs):
        """The module's computation, written with Tensor operations (autodiff records it; no backward code).

        A subclass defines it; calling the module (``module(x)``) runs it, then any forward hooks.
        """
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        output = self.forward(*args, **kwargs)
        for hook in self.__dict__.get("_forward_hooks", ()):
            hook(self, args, output)
        return output

    def register_forward_hook(self, hook) -> _HookHandle:
        """Call ``hook(module, inputs, output)`` after every forward pass of this module.

        For looking inside a network while it runs (activation statistics, dead units) without
        changing its code, as torch.nn.Module.register_forward_hook.

        Returns:
            A handle whose ``remove()`` unregisters the hook.

        Example:
            >>> import nablanet.nn as nn
            >>> layer = nn.Dense(2, 3, activation="relu", rng=0)
            >>> shapes = []
            >>> handle = layer.register_forward_hook(lambda module, inputs, output: shapes.append(output.shape))
            >>> _ = layer(np.ones((4, 2), dtype=np.float32))
            >>> handle.remove()
            >>> _ = layer(np.ones((4, 2), dtype=np.float32))
            >>> shapes
            [(4, 3)]
        """
        hooks = self.__dict__.setdefault("_forward_hooks", [])
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    # --- what it holds ----------------------------------------------------------------------
    def named_children(self):
        """(name, module) for the modules held directly, in attribute order."""
        for name, value in _attributes(self):
            yield from _named_of_type(name, value, Module)

    def named_parameters(self, prefix: str = ""):
        """(dotted name, Parameter) for every parameter, each once, in a stable order."""
        seen = set()
        for name, value in _attributes(self):
            for sub_name, item in _named_of_type(name, value, (Parameter, Module)):
                full = f"{prefix}{sub_name}"
                if isinstance(item, Parameter):
                    if id(item) not in seen:
                        seen.add(id(item))
                        yield full, item
                else:
                    for deep_name, p in item.named_parameters(prefix=f"{full}."):
                        if id(p) not in seen:
                            seen.add(id(p))
                            yield deep_name, p

    def parameters(self) -> list[Parameter]:
        """Every Parameter of this module and its children."""
        return [p for _, p in self.named_parameters()]

    def modules(self):
        """This module and all modules inside it, depth first."""
        yield self
        for _, child in self.named_children():
            yield from child.modules()

    def num_parameters(self) -> int:
        """The number of scalar parameters (the sizes of all Parameters added up)."""
        return sum(p.size for p in self.parameters())

    # --- modes ------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode: Dropout drops, BatchNorm uses batch statistics."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode: Dropout is the identity, BatchNorm uses its running statistics."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to None, before the next backward pass accumulates into it."""
        tracing.clear_grads(self.parameters())

    # --- state as plain arrays (saving, copying weights) --------------------------------------
    def state_dict(self) -> OrderedDict:
        """Parameters and buffers (e.g. BatchNorm running statistics) as name -> ndarray copies."""
        state = OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())
        for module_name, module in self._named_modules():
            for buffer_name in getattr(module, "_buffers", ()):
                key = f"{module_name}{buffer_name}"
                state[key] = np.array(getattr(module, buffer_name), copy=True)
        return state

    def load_state_dict(self, state: dict) -> None:
        """Copy arrays into the parameters and buffers; names and shapes must match exactly."""
        expected = self.state_dict()
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        if missing or unexpected:
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        for name, p in self.named_parameters():
            _copy_checked(name, p.data, state[name])
        for module_name, module in self._named_modules():
            for buffer_name in getattr(module, "_buffers", ()):
                target = getattr(module, buffer_name)
                _copy_checked(f"{module_name}{buffer_name}", target, state[f"{module_name}{buffer_name}"])

    def _named_modules(self, prefix: str = ""):
        yield prefix, self
        for name, child in self.named_children():
            yield from child._named_modules(f"{prefix}{name}.")

    # --- how it prints ----------------------------------------------------------------------
    #: Constructor arguments that repr shows even at their default value, as PyTorch shows a
    #: convolution's stride; every other argument appears when it is given a value other than its default.
    repr_always: tuple = ()

    def __repr__(self):
        """The constructor call that builds this module, as PyTorch prints modules: ``Conv2d(1, 8,
        kernel_size=3, stride=1, padding=1, activation='relu')``; a Sequential's layers one per line,
        indented. ``eval`` of it (with nablanet.nn's names) builds the same architecture with fresh
        weights. A module that is not a registered layer also lists the modules it holds that its
        arguments do not, PyTorch's ``(name): Module(...)`` lines (see nablanet.nn.printing).
        """
        from nablanet.nn.printing import module_repr

        return module_repr(self)

    def extra_repr(self) -> str:
        """The arguments of the constructor call in repr, from the recorded arguments (see ``repr_always``).

        The generator ``rng`` is left out: it drew the initial weights, which are state, not architecture.
        A module argument is written whole, one per line. Override to print something else.
        """
        from nablanet.nn.printing import arguments_text

        return arguments_text(self)

    def _repr_html_(self) -> str:
        """A table of the layers for Jupyter: each layer's name, type, settings and parameter count.

        Output shapes and operation counts need an input: see ``summary()``.
        """
        from nablanet.nn.printing import layers_html

        return layers_html(self)

    def summary(self, input_shape=None, *, dtype=None, print_fn=print) -> None:
        """Print the layers with their output shapes, parameters and operations per sample (as Keras'
        ``model.summary()``; ``nablanet summary`` prints the same table for a model file).

        Args:
            input_shape: one sample's shape, e.g. ``(1, 28, 28)``; default: the input size of a first
                Dense or RBF layer. Needed for a model that starts with a convolution or a recurrent layer.
            dtype: the input's dtype; default: the parameters'.
            print_fn: called with the table's text (``print`` by default).

        ``nablanet.diagnostics.summarize`` returns the table as data (a ModelSummary) instead.

        Example:
            >>> import nablanet.nn as nn
            >>> nn.Sequential(nn.Dense(3, 4, activation="relu", rng=0), nn.Dense(4, 1, rng=0)).summary()
            ... # doctest: +ELLIPSIS
            Model: "Sequential"  (input: one sample of shape (3,), float32)
            ...
            Total params: 21
            ...
        """
        from nablanet.diagnostics.summary import summarize

        print_fn(str(summarize(self, input_shape, dtype=dtype)))


class _HookHandle:
    """Returned by register_forward_hook; remove() unregisters the hook."""

    def __init__(self, hooks: list, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _attributes(module):
    # The recorded constructor arguments hold the same child modules (not children twice); hooks are not state.
    return ((name, value) for name, value in vars(module).items() if name not in ("_arguments", "_forward_hooks"))


def _named_of_type(name, value, kinds):
    if isinstance(value, kinds):
        yield name, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _named_of_type(f"{name}.{i}", item, kinds)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _named_of_type(f"{name}.{key}", item, kinds)


def _copy_checked(name, target: np.ndarray, source) -> None:
    source = np.asarray(source)
    if source.shape != target.shape:
        raise ValueError(f"load_state_dict: {name} has shape {source.shape} in the state but {target.shape} in the model")
    np.copyto(target, source, casting="same_kind")


def functional_call(module: Module, values: dict, *args, **kwargs):
    """Call ``module(*args)`` with some parameters replaced by the given arrays or Tensors.

    This turns a module into a function of its parameters, so the transforms (grad, jacobian,
    check_grads) can differentiate with respect to them, as torch.func.functional_call does.

    Args:
        module: the module.
        values: dotted parameter name (as in named_parameters) -> replacement value.

    Example:
        >>> import nablanet.nn as nn
        >>> from nablanet import grad
        >>> layer = nn.Dense(2, 1, rng=0, dtype=np.float64)
        >>> x = np.ones((1, 2))
        >>> def output(W):
        ...     return functional_call(layer, {"W": W}, x).sum()
        >>> grad(output)(layer.W.data).ravel().tolist()
        [1.0, 1.0]
    """
    known = dict(module.named_parameters())
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise KeyError(f"functional_call: no parameters named {unknown}; the module has {sorted(known)}")
    saved = []
    try:
        for name, value in values.items():
            owner, key = _locate(module, name)
            saved.append((owner, key, _get(owner, key)))
            _set(owner, key, value if isinstance(value, Tensor) else Tensor(value))
        return module(*args, **kwargs)
    finally:
        for owner, key, original in reversed(saved):
            _set(owner, key, original)


def _locate(module, dotted: str):
    parts = dotted.split(".")
    owner = module
    for part in parts[:-1]:
        owner = _get(owner, part)
    return owner, parts[-1]


def _get(owner, key):
    if isinstance(owner, (list, tuple)):
        return owner[int(key)]
    if isinstance(owner, dict):
        return owner[key]
    return getattr(owner, key)


def _set(owner, key, value):
    if isinstance(owner, list):
        owner[int(key)] = value
    elif isinstance(owner, dict):
        owner[key] = value
    else:
        object.__setattr__(owner, key, value)


def _recording_arguments(init, owner: type):
    """Wrap ``owner``'s __init__ so the arguments of the outermost call are kept (for config()), and so
    that it refuses, before allocating anything, arrays beyond the memory available (check_memory)."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapped(self, *args, **kwargs):
        if "_arguments" not in self.__dict__:
            bound = signature.bind(self, *args, **kwargs)
            arguments = dict(bound.arguments)
            arguments.pop(next(iter(signature.parameters)))
            self.__dict__["_arguments"] = arguments
        # Sized as the class being built when it keeps this constructor (GRU's state_spec reads its own
        # gate count), else as ``owner`` with the arguments its subclass passes on.
        sized = type(self) if type(self).__init__ is wrapped else owner
        check_memory(sized, args, kwargs, name=type(self).__name__)
        init(self, *args, **kwargs)

    return wrapped


@functools.lru_cache(maxsize=None)
def declared_state_spec(cls):
    """``cls.state_spec`` if it describes ``cls``: defined at or below the class that defines ``__init__``;
    else None (the arrays are known only by building the module)."""
    owner = next(klass for klass in cls.__mro__ if "state_spec" in vars(klass))
    constructor = next((klass for klass in cls.__mro__ if "__init__" in vars(klass)), object)
    if owner is Module or not issubclass(owner, constructor):
        return None
    return cls.state_spec


# Past the memory available, how many arrays are still summed to name the whole size: an RNN's
# state_spec may declare millions, seconds of summing per million.
_SUMMED_ARRAYS = 10_000


def check_memory(cls, args: tuple, kwargs: dict, *, name: str | None = None) -> None:
    """Raise ModelTooLargeError if the arrays of ``cls(*args, **kwargs)`` exceed the memory available.

    The arrays are those its ``state_spec`` declares, sized from the arguments alone, as a model file's
    architecture is (nablanet.io.architecture), so this runs before the constructor allocates: a
    ``Dense(64, 10**9)`` is one line naming the 242 GiB it needs, not a MemoryError from inside NumPy.
    A class without a state_spec, or whose arguments hold built modules (their arrays exist already),
    is not checked; arguments its state_spec cannot size are left to the constructor to refuse in its
    own words. ``name`` is the module's name in the message (default: the class's).
    """
    declared = declared_state_spec(cls)
    if declared is None or any(_holds_module(value) for value in (*args, *kwargs.values())):
        return
    # The free pages first (cheap, and less than is available); MemAvailable only once they are exceeded.
    available = runtime.available_memory(at_least=0)
    needed, count, largest, largest_bytes, fits, complete = 0, 0, None, -1, True, True
    try:
        for array, spec in declared(*args, **kwargs):
            if not fits and count >= _SUMMED_ARRAYS:
                complete = False
                break
            nbytes = spec.nbytes
            needed, count = needed + nbytes, count + 1
            if nbytes > largest_bytes:
                largest, largest_bytes = (array, spec), nbytes
            if fits and available is not None and needed > available:
                available = runtime.available_memory(at_least=needed)
                fits = available is None or needed <= available
    except Exception:
        return
    if fits:
        return
    array, spec = largest
    name = name or cls.__name__
    largest_text = f"the largest: {array} of shape {spec.shape}, {np.dtype(spec.dtype).name}"
    if complete:
        message = (f"{name} needs {_in_units(needed)} for its arrays ({largest_text}), but only "
                   f"{_in_units(available)} of memory is available")
    else:
        message = (f"{name} needs more memory for its arrays than the {_in_units(available)} available: its first "
                   f"{count} arrays alone take {_in_units(needed)} ({largest_text})")
    raise ModelTooLargeError(message + "; give it smaller sizes")


def _holds_module(value) -> bool:
    if isinstance(value, Module):
        return True
    if isinstance(value, (list, tuple)):
        return any(_holds_module(item) for item in value)
    if isinstance(value, dict):
        return any(_holds_module(item) for item in value.values())
    return False


def _in_units(nbytes: int) -> str:
    """Bytes for a reader: 1536 -> '1.5 KiB'."""
    size, unit = float(nbytes), "bytes"
    for larger in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if size < 1024:
            break
        size, unit = size / 1024, larger
    return f"{nbytes} bytes" if unit == "bytes" else f"{size:.1f} {unit}"


def _to_config(value):
    if isinstance(value, Module):
        return {"module": value.config()}
    if isinstance(value, (list, tuple)):
        return [_to_config(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_config(v) for k, v in value.items()}
    if isinstance(value, np.random.Generator):
        return None
    if isinstance(value, (np.dtype, type)) and np.issubdtype(np.dtype(value), np.generic):
        return {"dtype": np.dtype(value).name}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if callable(value):
        name = getattr(value, "__name__", None)
        raise TypeError(f"config: the argument {name or value!r} is a function; give activations, losses and "
                        "initializers by name so that the architecture can be saved")
    raise TypeError(f"config: cannot record an argument of type {type(value).__name__} ({value!r})")


def _from_config(value, classes):
    if isinstance(value, list):
        return [_from_config(v, classes) for v in value]
    if isinstance(value, dict):
        if set(value) == {"module"}:
            return module_from_config(value["module"], classes)
        if set(value) == {"dtype"}:
            return np.dtype(value["dtype"])
        return {k: _from_config(v, classes) for k, v in value.items()}
    return value


@functools.lru_cache(maxsize=None)
def init_signature(cls) -> inspect.Signature:
    """The signature of ``cls.__init__``, computed once per class (a model file names the same class thousands of times)."""
    return inspect.signature(cls.__init__)


def module_from_config(config: dict, custom_objects: dict | None = None) -> Module:
    """Rebuild a module from ``Module.config()`` data (fresh weights; load a state_dict for trained ones).

    Only the registered layers (``nablanet.nn.LAYERS``: nablanet's own and those of
    ``register_layer``) and the classes passed in ``custom_objects`` (name -> class, which take
    precedence) can be built: a file never decides what code runs.

    Example:
        >>> import nablanet.nn as nn
        >>> model = nn.Sequential(nn.Dense(3, 4, activation="relu", rng=0), nn.Dropout(0.1))
        >>> module_from_config(model.config())
        Sequential(
          Dense(3, 4, activation='relu'),
          Dropout(p=0.1),
        )
    """
    from nablanet.nn.layers.registry import LAYERS

    if not isinstance(config, dict) or "class" not in config or "arguments" not in config:
        raise ValueError("module_from_config: expected a dict with 'class' and 'arguments'")
    name = config["class"]
    if name in (custom_objects or {}):
        cls = custom_objects[name]
    elif isinstance(name, str) and name in LAYERS:
        cls = LAYERS[name].cls
    else:
        raise ValueError(f"module_from_config: unknown module class {name!r}; pass it in custom_objects={{'{name}': "
                         f"{name}}} or register it with nablanet.nn.register_layer")
    arguments = {k: _from_config(v, custom_objects) for k, v in config["arguments"].items()}
    positional, keywords = call_arguments(cls, arguments)
    return cls(*positional, **keywords)


def call_arguments(cls, arguments: dict) -> tuple[list, dict]:
    """The positional and keyword arguments of the call ``cls(...)`` that recorded ``arguments`` (config())."""
    parameters = init_signature(cls).parameters
    positional = []
    keywords = {}
    for key, value in arguments.items():
        kind = parameters[key].kind if key in parameters else inspect.Parameter.KEYWORD_ONLY
        if kind is inspect.Parameter.VAR_POSITIONAL:
            positional.extend(value)
        elif kind is inspect.Parameter.VAR_KEYWORD:
            keywords.update(value)
        elif kind is inspect.Parameter.POSITIONAL_ONLY:
            positional.append(value)
        else:
            keywords[key] = value
    return positional, keywords
