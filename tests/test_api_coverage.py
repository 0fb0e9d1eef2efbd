"""The API reference's coverage check (docs/_ext/api_coverage.py): every public name has a docstring.

The same check runs in the Sphinx build (sphinx-build -W fails on it); here it runs with the suite,
with no Sphinx needed, so that a name added without a docstring fails before the site is built.
"""

import importlib.util
import sys
import types
from pathlib import Path

import pytest

EXTENSIONS = Path(__file__).resolve().parents[1] / "docs" / "_ext"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"_docs_{name}", EXTENSIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


api_coverage = _load("api_coverage")
plain_docstrings = _load("plain_docstrings")


def test_every_public_name_has_a_docstring_and_every_module_a_page():
    modules = api_coverage.documented_modules()
    assert "nablanet" in modules and "nablanet.nn" in modules
    assert api_coverage.undocumented(modules) == []


@pytest.fixture
def fake_module(monkeypatch):
    module = types.ModuleType("nablanet_fake_api")

    def documented():
        """Has one."""

    def bare():
        pass

    class Layer:
        """A layer."""

        def forward(self, x):
            """The output."""

        @property
        def size(self):
            return 1

    class Child(Layer):
        def forward(self, x):  # documented by Layer.forward, as autodoc shows it
            return x

    module.documented, module.bare, module.Layer, module.Child = documented, bare, Layer, Child
    module.__all__ = ["documented", "bare", "Layer", "Child", "missing"]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module


def test_the_check_names_each_undocumented_public_name(fake_module):
    problems = [p for p in api_coverage.undocumented([fake_module.__name__]) if p.startswith("nablanet_fake_api")]
    assert problems == [
        "nablanet_fake_api.bare has no docstring",
        "nablanet_fake_api.Layer.size has no docstring",
        "nablanet_fake_api.Child has no docstring",
        "nablanet_fake_api.missing is in __all__ but does not exist",
    ]


def test_the_check_names_each_public_name_no_page_shows(fake_module):
    # Child is shown under another name (an alias documented elsewhere counts); bare and Layer are not shown.
    fake_module.Alias = fake_module.Child
    fake_module.__all__ = ["documented", "bare", "Layer", "Alias"]
    shown = ["nablanet_fake_api.documented", "nablanet_fake_api.Child", "nablanet.fit"]
    assert api_coverage.unrendered([fake_module.__name__], shown) == [
        "nablanet_fake_api.bare is public but shown on no API page",
        "nablanet_fake_api.Layer is public but shown on no API page",
    ]


def test_the_check_names_a_module_of_nablanet_without_a_page():
    problems = api_coverage.undocumented(["nablanet"])
    assert "nablanet.nn has no API page (add one in docs/api/, or name it in INTERNAL with why)" in problems
    assert not any(p.startswith("nablanet.kernels ") for p in problems)


def test_plain_text_mathematics_is_escaped_and_markup_is_kept():
    lines = [
        "The error |g - n| of x * y, and coef_ (fitted).",
        "``|kept|`` and :func:`nablanet.fit` stay, as does *args in ``f(*args)``.",
        "* a bullet with a_b and |x|",
        "coef_: the attribute napoleon reads",
        "Example::",
        "",
        "    |a| * b_ stays in the literal block",
        ">>> abs(-1)  # |x|",
        "1",
    ]
    assert plain_docstrings.escape_docstring(lines) == [
        r"The error \|g - n\| of x \* y, and coef\_ (fitted).",
        r"``|kept|`` and :func:`nablanet.fit` stay, as does \*args in ``f(*args)``.",
        r"* a bullet with a_b and \|x\|",
        "coef_: the attribute napoleon reads",
        "Example::",
        "",
        "    |a| * b_ stays in the literal block",
        ">>> abs(-1)  # |x|",
        "1",
    ]
