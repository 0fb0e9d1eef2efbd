"""The API reference's coverage check (after optax's): every public name has a docstring and a page.

The reference documents the modules named by the ``automodule`` directives of ``docs/api/*.rst``.
For each of them, every name in its ``__all__`` (its public names when it has none) must have a
docstring of its own, and so must each public method and property of a public class (a method may
take its docstring from the method it overrides, as autodoc shows it), and each public class and
function must be shown on a page (under its public name or another). Every module directly under
``nablanet`` must have a page or be named in ``INTERNAL`` with the reason.

Run by the Sphinx build (a warning per problem, so ``sphinx-build -W`` fails) and by
``tests/test_api_coverage.py``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import types
from pathlib import Path

API_PAGES = Path(__file__).resolve().parents[1] / "api"

# Modules under nablanet with no page of their own, and why.
INTERNAL = {
    "nablanet.autodiff": "the engine's home; its public names are nablanet's own",
    "nablanet.kernels": "the speed tricks behind the ops and optimizers, not called by users",
    "nablanet.cli": "the command; its pages are its --help and the CLI how-to",
    "nablanet.demos": "run as `nablanet demo NAME` and shown in the gallery",
    "nablanet.checks": "the argument checks behind every error message",
    "nablanet.registry": "the Registry class behind the registered vocabularies (nn.ACTIVATIONS, ...)",
    "nablanet.config": "the old import path of nablanet.experiment, re-exported unchanged",
    "nablanet.estimators": "the old import path of nablanet.sklearn, re-exported unchanged",
    "nablanet.scipy": "a namespace; its module nablanet.scipy.special has the page",
}


def documented_modules(pages: Path = API_PAGES) -> list[str]:
    """The modules the API reference documents: the targets of the automodule directives of its pages."""
    found = []
    for page in sorted(pages.glob("*.rst")):
        found += re.findall(r"^\.\. automodule:: *(\S+)", page.read_text(), re.M)
    return found


def public_names(module: types.ModuleType) -> list[str]:
    """``module.__all__``, or without one the public names defined in the module itself."""
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [name for name, value in vars(module).items()
            if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__]


def _has_docstring(value) -> bool:
    return bool((getattr(value, "__doc__", None) or "").strip())


def _member_documented(cls: type, name: str) -> bool:
    # autodoc_inherit_docstrings: an override shows the docstring of the method it overrides.
    for base in cls.__mro__:
        if name in base.__dict__:
            member = base.__dict__[name]
            function = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
            if _has_docstring(function):
                return True
    return False


def _undocumented_members(cls: type, qualified: str) -> list[str]:
    problems = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, (property, staticmethod, classmethod)) or inspect.isfunction(member):
            if not _member_documented(cls, name):
                problems.append(f"{qualified}.{name} has no docstring")
    return problems


def undocumented(modules: list[str]) -> list[str]:
    """One line per problem: a public name without a docstring, or a module of nablanet without a page."""
    problems = []
    checked = set()
    for module_name in modules:
        module = importlib.import_module(module_name)
        names = public_names(module)
        for name in names:
            qualified = f"{module_name}.{name}"
            try:
                value = getattr(module, name)
            except AttributeError:
                problems.append(f"{qualified} is in __all__ but does not exist")
                continue
            if isinstance(value, types.ModuleType):
                continue  # a submodule: checked on its own page if it has one, its names where they are re-exported
            if not (inspect.isclass(value) or callable(value)) or id(value) in checked:
                continue  # constants and registries are described by their module's docstring
            checked.add(id(value))
            if not _has_docstring(value):
                problems.append(f"{qualified} has no docstring")
            if inspect.isclass(value):
                problems += _undocumented_members(value, qualified)
    import nablanet

    for info in pkgutil.iter_modules(nablanet.__path__, "nablanet."):
        if not info.name.rsplit(".", 1)[1].startswith("_") and info.name not in modules and info.name not in INTERNAL:
            problems.append(f"{info.name} has no API page (add one in docs/api/, or name it in INTERNAL with why)")
    return problems


def _resolve(full_name: str):
    """The object a documented dotted name stands for (None if it is not importable, e.g. an attribute)."""
    parts = full_name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for part in parts[split:]:
                value = getattr(value, part)
        except AttributeError:
            return None
        return value
    return None


def unrendered(modules: list[str], documented_names) -> list[str]:
    """The public classes and functions of ``modules`` that no API page shows: neither under their public
    name nor under another (``nablanet.MLPClassifier`` is shown as ``nablanet.sklearn.MLPClassifier``).

    ``documented_names`` are the dotted names of the objects the pages describe (Sphinx's Python domain)."""
    documented_names = set(documented_names)
    shown = {id(value) for value in map(_resolve, documented_names) if value is not None}
    problems = []
    for module_name in modules:
        module = importlib.import_module(module_name)
        for name in public_names(module):
            value = getattr(module, name, None)
            if value is None or isinstance(value, types.ModuleType) or not (inspect.isclass(value) or callable(value)):
                continue
            if f"{module_name}.{name}" not in documented_names and id(value) not in shown:
                problems.append(f"{module_name}.{name} is public but shown on no API page")
    return problems


def _check(app, env) -> None:
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    modules = documented_modules()
    if not modules:
        logger.warning("api_coverage: no automodule directive found in %s", API_PAGES)
    documented_names = [name for name, *_ in env.get_domain("py").get_objects()]
    for problem in undocumented(modules) + unrendered(modules, documented_names):
        logger.warning("api_coverage: %s", problem)


def setup(app):
    """Sphinx extension: the coverage check runs once the pages are read (before anything is written)."""
    app.connect("env-check-consistency", _check)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
