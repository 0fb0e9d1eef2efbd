"""A model file's architecture read without building it: its classes, their arguments, and the arrays they imply.

``architecture_spec`` walks ``Module.config()`` data as a file holds it. Each module's class must be a
registered layer or one of ``classes``, its arguments must bind to the constructor's signature and match
its annotations (``int``, ``float``, ``bool``, ``str``, ``None``, ``Module`` and unions of them), and its
arrays come from the class's ``state_spec`` (name, shape, dtype) without allocating anything; only a
class that declares none is built to find out (nablanet's layers without arrays, custom modules). Every
count is bounded: modules, nesting, and the arrays and bytes the caller expects (a file's entries).
"""

from __future__ import annotations

import functools
import inspect
import itertools
import re
import types
import typing

import numpy as np

from nablanet.io.format import _MAX_MODULE_DEPTH, _MAX_MODULES, _NAME
from nablanet.nn.module import (
    ArraySpec,
    Module,
    call_arguments,
    declared_state_spec,
    init_signature,
    module_from_config,
)

_NUMBER_KINDS = "biufc"
_DTYPE_NAME = re.compile(r"[a-z]{3,10}[0-9]{0,3}")


class ArchitectureError(ValueError):
    """An architecture that cannot be sized or built; the message names the module (``layers.1 (Dense)``)."""


def architecture_spec(config, classes: dict | None, *, max_arrays: int, max_bytes: int,
                      holder: str = "expected") -> dict:
    """name -> ArraySpec of the ``state_dict()`` that ``module_from_config(config, classes)`` would build.

    Args:
        config: the architecture (JSON data: dicts, lists, str, int, float, bool, None).
        classes: name -> Module subclass, looked up before the registered layers (custom_objects).
        max_arrays: the most arrays the caller accepts (a file's weight entries): an architecture implying
            more is refused as soon as it does, before its arrays are listed.
        max_bytes: the most bytes of arrays a module without a state_spec may hold among its children
            before it is built to find out its arrays (declared arrays are only counted, never allocated).
        holder: who sets those bounds, for messages ("more than the 10 arrays {holder}").

    Raises:
        ArchitectureError: naming the module and the problem.
    """
    return dict(_Walk(classes or {}, max_arrays, max_bytes, holder).spec(config, "", 0))


class _Child(list):
    """The (name, ArraySpec) pairs of a module argument, as its parent's state_spec receives them."""


class _Walk:
    def __init__(self, classes: dict, max_arrays: int, max_bytes: int, holder: str):
        self.classes, self.max_arrays, self.max_bytes, self.holder = classes, max_arrays, max_bytes, holder
        self.modules = 0

    def fail(self, where: str, problem: str):
        raise ArchitectureError(f"{where} {problem}")

    def spec(self, config, path: str, depth: int) -> list:
        where = path or "the root module"
        if depth > _MAX_MODULE_DEPTH:
            self.fail(where, f"is nested deeper than the {_MAX_MODULE_DEPTH} levels of modules an architecture may have")
        self.modules += 1
        if self.modules > _MAX_MODULES:
            self.fail(where, f"is past the {_MAX_MODULES} modules an architecture may have")
        if not isinstance(config, dict) or set(config) != {"class", "arguments"} \
                or not isinstance(config["arguments"], dict):
            self.fail(where, "is not a {class, arguments} record as Module.config() writes")
        cls = self._class(config["class"], where)
        where = f"{where} ({cls.__name__})"
        prefix = f"{path}." if path else ""
        arguments = {key: self._value(value, prefix + key, depth, where) for key, value in config["arguments"].items()}
        positional, keywords = self._bound(cls, arguments, where)
        declared = declared_state_spec(cls)
        if declared is None:
            pairs = self._built_spec(cls, config, arguments, where)
        else:
            pairs = self._declared(declared, positional, keywords, where)
        own = _totals(pairs)
        children = [_totals(child) for child in _children(arguments)]
        if declared is not None and any(sum(t[k] for t in children) > own[k] for k in (0, 1)):
            self.fail(where, "has module arguments whose arrays its state_spec does not declare")
        return pairs

    # --- the class and its arguments ------------------------------------------------------------
    def _class(self, name, where: str) -> type:
        from nablanet.nn.layers.registry import LAYERS

        cls = None
        if isinstance(name, str) and name in self.classes:
            cls = self.classes[name]
        elif isinstance(name, str) and name in LAYERS:
            cls = LAYERS[name].cls
        if isinstance(cls, type) and issubclass(cls, Module):
            return cls
        self.fail(where, f"has the unknown module class {name!r}; pass it in custom_objects={{'{name}': {name}}} "
                         "or register it with nablanet.nn.register_layer")

    def _value(self, value, path: str, depth: int, where: str):
        """A config value with module records replaced by their arrays (_Child) and dtype records by dtypes."""
        if isinstance(value, list):
            return [self._value(item, f"{path}.{i}", depth, where) for i, item in enumerate(value)]
        if isinstance(value, dict):
            if set(value) == {"module"}:
                return _Child(self.spec(value["module"], path, depth + 1))
            if set(value) == {"dtype"}:
                dtype = _number_dtype(value["dtype"])
                if dtype is None:
                    self.fail(where, f"has {path} = dtype {_show(value['dtype'])}, which is not a numpy number type")
                return dtype
            return {key: self._value(item, f"{path}.{key}", depth, where) for key, item in value.items()}
        return value

    def _bound(self, cls, arguments: dict, where: str) -> tuple[list, dict]:
        try:
            signature = init_signature(cls)
        except (TypeError, ValueError):
            self.fail(where, "has a constructor whose signature cannot be read")
        parameters = dict(list(signature.parameters.items())[1:])
        for key, value in arguments.items():
            kind = parameters[key].kind if key in parameters else None
            if kind is inspect.Parameter.VAR_POSITIONAL and type(value) is not list:
                self.fail(where, f"has {key!r} (its *{key}) recorded as {_kind(value)}, not a list")
            if kind is inspect.Parameter.VAR_KEYWORD and not isinstance(value, dict):
                self.fail(where, f"has {key!r} (its **{key}) recorded as {_kind(value)}, not a dict")
        positional, keywords = call_arguments(cls, arguments)
        try:
            bound = signature.bind(None, *positional, **keywords)
        except TypeError as error:
            self.fail(where, f"cannot take these arguments ({error})")
        hints = _type_hints(cls)
        for name, value in list(bound.arguments.items())[1:]:
            parameter = parameters[name]
            hint = hints.get(name)
            if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
                values = {f"{name}[{i}]": item for i, item in enumerate(value)}
            elif parameter.kind is inspect.Parameter.VAR_KEYWORD:
                values = {key: item for key, item in value.items()}
            else:
                values = {name: value}
            for label, item in values.items():
                if hint is not None and not _matches(item, hint):
                    self.fail(where, f"has {label} = {_show(item)}, which is not {_describe_hint(hint)}")
        return positional, keywords

    # --- the arrays -----------------------------------------------------------------------------
    def _declared(self, declared, positional: list, keywords: dict, where: str) -> list:
        try:
            pairs = list(itertools.islice(declared(*_unwrapped(positional), **_unwrapped(keywords)),
                                          self.max_arrays + 1))
        except Exception as error:
            self.fail(where, f"cannot be sized from its arguments ({type(error).__name__}: {error})")
        return self._checked(pairs, where)

    def _built_spec(self, cls, config: dict, arguments: dict, where: str) -> list:
        # Building is bounded by the module's children, counted already; its own arrays are the
        # class's business (nablanet's layers that hold arrays declare them).
        children = [_totals(child) for child in _children(arguments)]
        if sum(t[0] for t in children) > self.max_arrays or sum(t[1] for t in children) > self.max_bytes:
            self.fail(where, f"holds modules with more than the {self.max_arrays} arrays or {self.max_bytes} bytes "
                             f"{self.holder}")
        try:
            module = module_from_config(config, self.classes)
        except Exception as error:
            self.fail(where, f"cannot be built ({type(error).__name__}: {' '.join(str(error).split())})")
        if not isinstance(module, Module):
            self.fail(where, f"builds a {type(module).__name__}, not a Module")
        return self._checked([(name, ArraySpec(array.shape, array.dtype)) for name, array in
                              module.state_dict().items()], where)

    def _checked(self, pairs: list, where: str) -> list:
        if len(pairs) > self.max_arrays:
            self.fail(where, f"implies more arrays than the {self.max_arrays} {self.holder}")
        checked, seen = [], set()
        for pair in pairs:
            name, spec = pair
            if not isinstance(name, str) or not _NAME.fullmatch(name) or name in seen:
                self.fail(where, f"implies an array named {name!r}, not a new dotted name")
            seen.add(name)
            shape = tuple(spec[0])
            if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0 for n in shape):
                self.fail(where, f"implies the array {name!r} of shape {shape}, which is not a shape")
            dtype = _number_dtype(spec[1])
            if dtype is None:
                self.fail(where, f"implies the array {name!r} of dtype {spec[1]!r}, not a plain number type")
            checked.append((name, ArraySpec(tuple(int(n) for n in shape), dtype, *spec[2:])))
        return checked


def _children(value):
    if isinstance(value, _Child):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _children(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _children(item)


def _unwrapped(value):
    if isinstance(value, _Child):
        return list(value)
    if isinstance(value, list):
        return [_unwrapped(item) for item in value]
    if isinstance(value, dict):
        return {key: _unwrapped(item) for key, item in value.items()}
    return value


def _totals(pairs) -> tuple[int, int]:
    return len(pairs), sum(spec.nbytes for _, spec in pairs)


def _number_dtype(name) -> np.dtype | None:
    """The dtype ``name`` (a dtype, or its name as config() records it) if it is a plain number type, else None."""
    if isinstance(name, str):
        # Only a dtype's own name: numpy also parses record and subarray specifications ("(10**9,)f8").
        if not _DTYPE_NAME.fullmatch(name) or name not in np.sctypeDict or np.dtype(name).name != name:
            return None
        name = np.dtype(name)
    if not isinstance(name, np.dtype) or name.kind not in _NUMBER_KINDS or name.fields is not None \
            or name.subdtype is not None:
        return None
    return name


# --- annotations ----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _type_hints(cls) -> dict:
    """The constructor's evaluated annotations, or {} when they cannot be evaluated (then nothing is checked)."""
    try:
        return typing.get_type_hints(cls.__init__)
    except Exception:
        return {}


def _matches(value, hint) -> bool:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_matches(value, member) for member in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if isinstance(hint, type) and issubclass(hint, Module):
        return isinstance(value, _Child)
    return True  # other annotations (dtypes, callables, tuples) are the constructor's to check


def _describe_hint(hint) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe_hint(member) for member in typing.get_args(hint))
    if hint is type(None):
        return "None"
    if isinstance(hint, type) and issubclass(hint, Module):
        return "a module"
    return f"{'an' if getattr(hint, '__name__', '')[:1] in 'aeiou' else 'a'} {getattr(hint, '__name__', hint)}"


def _kind(value) -> str:
    return "a module" if isinstance(value, _Child) else f"a {type(value).__name__}"


def _show(value) -> str:
    if isinstance(value, _Child):
        return "a module"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
