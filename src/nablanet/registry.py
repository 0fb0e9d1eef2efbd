"""Registry: named records (optimizers, schedules, layers, activations, losses), found by name, alias, class name or identity.

Each registry is filled where the things are defined (a decorator over the class, or a call beside the
function) and read everywhere else. A record is a frozen dataclass with at least ``name``, ``aliases``
and the thing it names: ``cls`` for classes, another attribute such as ``function`` for functions
(``Registry(..., defined_by="function")``). What a record knows beyond that (a layer's inferred input
size, an optimizer's full-batch use, an activation's kinks) is declared with it, and what can be read
off the signature is computed from it, so that the two never disagree.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Record:
    ...     name: str
    ...     cls: type
    ...     aliases: tuple = ()
    >>> class Adder:
    ...     pass
    >>> things = Registry("thing")
    >>> _ = things.add(Record("adder", Adder, aliases=("plus",)))
    >>> things["plus"].cls is things["Adder"].cls is Adder, list(things)
    (True, ['adder'])
    >>> things.lookup("minus")
    Traceback (most recent call last):
    ...
    ValueError: unknown thing 'minus'; known: adder
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

__all__ = ["Registry", "signature_defaults", "check_arguments"]


class Registry(Mapping):
    """A read-only mapping of record name -> record, in registration order, that also resolves aliases
    and class names (``registry["adam"]``, ``registry["Adam"]``) and the registered thing itself
    (``registry[Adam]``, ``registry[relu]``).

    Iteration, ``len`` and ``keys()`` give the record names only; an alias or a class name is a second
    way to find a record, not a second entry. A class registered under two names (``GD`` is ``SGD``)
    is found by its class name as the first of them.

    Args:
        kind: what the records are, for messages ("optimizer").
        fold_case: compare names, aliases and class names without regard to case (layers: a config's
            ``type = "Conv2d"`` and ``"conv2d"`` are the same layer).
        defined_by: the record attribute that holds what the record names: ``"cls"`` (a class, also
            found by its class name) or e.g. ``"function"`` (found by its name, aliases and identity).
    """

    def __init__(self, kind: str, *, fold_case: bool = False, defined_by: str = "cls"):
        self.kind = kind
        self._fold_case = fold_case
        self._defined_by = defined_by
        self._records: dict = {}  # name -> record
        self._names: dict = {}  # folded name or alias -> name

    # --- filling it -----------------------------------------------------------------------------
    def add(self, record):
        """Register ``record`` under its name and aliases; return it.

        Registering again under the same name a class (or function) of the same module and qualified
        name (a notebook cell or a module run twice) replaces the old record, in its place, as
        ``autodiff.op.register`` does for ops; a different definition under a name or alias already taken
        is an error.
        """
        keys = (record.name, *record.aliases)
        for key in keys:
            if not isinstance(key, str) or not key:
                raise ValueError(f"{self.kind} names and aliases must be non-empty strings, got {key!r}")
        if len(set(map(self._fold, keys))) != len(keys):
            raise ValueError(f"{self.kind} {record.name!r}: its name and aliases repeat one another: {keys}")
        for key in keys:
            owner = self._records.get(self._names.get(self._fold(key)))
            if owner is not None and not _same_definition(self.definition(owner), self.definition(record)):
                where = _where_defined(self.definition(owner))
                taken_by = ".".join(where) if where else repr(self.definition(owner))
                raise ValueError(f"the {self.kind} name {key!r} is taken by {taken_by}; give yours another name")
        for key in keys:
            previous = self._names.get(self._fold(key))
            if previous is not None and previous != record.name:
                self.remove(previous)
        # A record replaced under its own name keeps its place (dict order); its old aliases go.
        self._names = {key: owner for key, owner in self._names.items() if owner != record.name}
        self._records[record.name] = record
        for key in keys:
            self._names[self._fold(key)] = record.name
        return record

    def remove(self, name: str) -> None:
        """Unregister the record of ``name`` (a name, alias or class name) with all its aliases."""
        record = self.lookup(name)
        del self._records[record.name]
        self._names = {key: owner for key, owner in self._names.items() if owner != record.name}

    # --- reading it -----------------------------------------------------------------------------
    def lookup(self, key):
        """The record of ``key``: a name, an alias or a class name; a class itself also works.

        Raises:
            ValueError: naming the unknown key and the registered names.
        """
        record = self._resolve(key)
        if record is None:
            shown = key if isinstance(key, str) else getattr(key, "__name__", key)
            raise ValueError(f"unknown {self.kind} {shown!r}; known: {', '.join(self._records) or '(none)'}")
        return record

    def definition(self, record):
        """What ``record`` names: its class, or its function (the attribute ``defined_by``)."""
        return getattr(record, self._defined_by)

    def of_definition(self, thing):
        """The first record that names ``thing`` itself (a class or a function, by identity), or None."""
        return next((record for record in self._records.values() if self.definition(record) is thing), None)

    #: The first record whose class is ``cls`` exactly, or None.
    of_class = of_definition

    def classes(self) -> Mapping:
        """A live read-only view name -> class, resolving the same keys (e.g. ``optim.SCHEDULES``)."""
        return self.view("cls")

    def view(self, attribute: str, *, with_aliases: bool = False) -> Mapping:
        """A live read-only view name -> ``record.<attribute>``, resolving the same keys.

        ``with_aliases``: iteration gives each record's name followed by its aliases (a mapping that
        was once a dict with one key per spelling, as ``nablanet.nn.functional.ACTIVATIONS``).
        """
        return _FieldView(self, attribute, with_aliases)

    def _resolve(self, key):
        if not isinstance(key, str):
            return self.of_definition(key)
        name = self._names.get(self._fold(key))
        if name is not None:
            return self._records[name]
        return next((record for record in self._records.values() if isinstance(self.definition(record), type)
                     and self._fold(self.definition(record).__name__) == self._fold(key)), None)

    def _fold(self, key: str) -> str:
        return key.lower() if self._fold_case else key

    def __getitem__(self, key):
        record = self._resolve(key)
        if record is None:
            raise KeyError(key)
        return record

    def __contains__(self, key) -> bool:
        return self._resolve(key) is not None

    def __iter__(self):
        return iter(list(self._records))

    def __len__(self) -> int:
        return len(self._records)

    def __repr__(self) -> str:
        return f"<{self.kind} registry: {', '.join(self._records)}>"


class _FieldView(Mapping):
    """name -> one attribute of the records of a Registry (``cls``, ``function``): the same keys, the same
    lookups, that attribute instead of records; ``records`` is the registry itself."""

    def __init__(self, registry: Registry, attribute: str, with_aliases: bool):
        self.records = registry
        self._attribute = attribute
        self._with_aliases = with_aliases

    def __getitem__(self, key):
        return getattr(self.records[key], self._attribute)

    def __contains__(self, key) -> bool:
        return key in self.records

    def __iter__(self):
        if not self._with_aliases:
            return iter(self.records)
        return iter([key for record in self.records.values() for key in (record.name, *record.aliases)])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return repr({name: cls for name, cls in self.items()})


def signature_defaults(function, skip=()) -> dict:
    """name -> default (``inspect.Parameter.empty`` where required) of the named parameters of
    ``function``, without ``*args``, ``**kwargs`` and the names in ``skip``, in signature order."""
    return {name: parameter.default for name, parameter in inspect.signature(function).parameters.items()
            if name not in skip and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)}


def check_arguments(what: str, given, defaults: dict, *, takes_any: bool = False) -> None:
    """Raise a ValueError naming what ``what`` lacks or does not take: ``given`` are the argument names
    of a call, ``defaults`` its signature's (from ``signature_defaults``); ``takes_any``: it has ``**kwargs``."""
    unknown = [] if takes_any else [name for name in given if name not in defaults]
    if unknown:
        raise ValueError(f"{what} takes no argument {', '.join(map(repr, unknown))}; it takes {', '.join(defaults)}")
    missing = [name for name, default in defaults.items() if default is inspect.Parameter.empty and name not in given]
    if missing:
        raise ValueError(f"{what} needs {', '.join(missing)}")


def _same_definition(previous, thing) -> bool:
    # A class or function defined again by the same source (same module and qualified name); an
    # object without a qualified name (a functools.partial) only as itself.
    if previous is thing:
        return True
    return _where_defined(previous) is not None and _where_defined(previous) == _where_defined(thing)


def _where_defined(thing):
    qualname = getattr(thing, "__qualname__", None)
    return None if qualname is None else (getattr(thing, "__module__", None), qualname)
