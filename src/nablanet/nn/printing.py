"""How modules print: repr as the constructor call, the table of layers for Jupyter.

``Module.__repr__``, ``extra_repr`` and ``_repr_html_`` call these. Everything is written from the
arguments each module's constructor recorded (``Module.config()`` reads the same), so no layer writes
its own repr: a layer names in ``repr_always`` the settings shown even at their defaults.
"""

from __future__ import annotations

import html

import numpy as np

from nablanet.nn.layers.registry import LAYERS
from nablanet.nn.module import Module, _named_of_type, init_signature

__all__ = ["module_repr", "arguments_text", "settings_line", "layer_rows", "layers_html", "html_table"]


def module_repr(module: Module) -> str:
    """``repr(module)``: see ``Module.__repr__``."""
    name = type(module).__name__
    listed = [] if _described_by_arguments(module) else _children_besides_arguments(module)
    if not listed:
        return f"{name}({module.extra_repr()})"
    lines = [f"{name}("]
    settings = module.extra_repr().strip()
    if settings:
        lines.append("  " + settings.replace("\n", "\n  "))
    for child_name, child in listed:
        lines.append(f"  ({child_name}): " + repr(child).replace("\n", "\n  "))
    lines.append(")")
    return "\n".join(lines)


def layers_html(module: Module) -> str:
    """``module._repr_html_()``: a table of its layers (``layer_rows``) with their settings and parameters."""
    rows = [[name, type(layer).__name__, settings_line(layer), f"{layer.num_parameters():,}"]
            for name, layer in layer_rows(module)]
    caption = f"{type(module).__name__}: {module.num_parameters():,} parameters"
    return html_table(["Layer", "Type", "Settings", "Params"], rows, caption=caption, right_columns=1)


def layer_rows(module: Module) -> list[tuple[str, Module]]:
    """The (name, layer) rows of a module's table (``_repr_html_``, ``summary``): its children for a
    container or a user's module; the module itself, named ``model``, for a layer that its arguments
    describe whole (Dense, GRU) or that holds no modules."""
    if _described_by_arguments(module) and not _argument_modules(module):
        return [("model", module)]
    return list(module.named_children()) or [("model", module)]


def _described_by_arguments(module: Module) -> bool:
    # A registered layer is rebuilt from its arguments alone (module_from_config), so the modules it
    # builds inside itself (a GRU's weights) are its own business, not part of its description.
    return LAYERS.of_class(type(module)) is not None


def _argument_modules(module: Module) -> list:
    found = []
    for value in getattr(module, "_arguments", {}).values():
        found.extend(item for _, item in _named_of_type("", value, Module))
    return found


def _children_besides_arguments(module: Module) -> list:
    given = {id(child) for child in _argument_modules(module)}
    return [(name, child) for name, child in module.named_children() if id(child) not in given]


def arguments_text(module: Module) -> str:
    """``1, 8, kernel_size=3, stride=1``: the recorded constructor arguments as a call writes them.

    Required arguments are positional, the rest keywords (and so is every one after the first keyword);
    an argument at its default is left out unless the class names it in ``repr_always``. With a module
    among them, each argument goes on its own line.
    """
    recorded = getattr(module, "_arguments", {})
    always = type(module).repr_always
    parts = []
    keywords_started = False
    for name, parameter in list(init_signature(type(module)).parameters.items())[1:]:
        if name == "rng":
            continue
        if parameter.kind is parameter.VAR_POSITIONAL:
            parts.extend((None, value) for value in recorded.get(name, ()))
            continue
        if parameter.kind is parameter.VAR_KEYWORD:
            parts.extend(recorded.get(name, {}).items())
            keywords_started = True
            continue
        required = parameter.default is parameter.empty
        if name in recorded:
            value = recorded[name]
        elif name in always and not required:
            value = parameter.default
        else:
            continue
        if name not in always and not required and _setting_text(value) == _setting_text(parameter.default):
            continue
        keyword_only = parameter.kind is parameter.KEYWORD_ONLY
        keywords_started = keywords_started or keyword_only or not required or name in always
        parts.append((name if keywords_started else None, value))
    texts = [_setting_text(value) if name is None else f"{name}={_setting_text(value)}" for name, value in parts]
    if not any(isinstance(item, Module) for _, value in parts for _, item in _named_of_type("", value, Module)):
        return ", ".join(texts)
    return "".join("\n  " + text.replace("\n", "\n  ") + "," for text in texts) + "\n"


def _setting_text(value) -> str:
    """One argument as repr writes it: as Python would, a dtype by its name, a function by its name."""
    if isinstance(value, Module):
        return repr(value)
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_setting_text(item) for item in value)
        if isinstance(value, list):
            return f"[{inner}]"
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key!r}: {_setting_text(item)}" for key, item in value.items()) + "}"
    if isinstance(value, np.ndarray):
        return f"<array of shape {value.shape}, {value.dtype}>"
    if isinstance(value, np.dtype) or isinstance(value, type) and issubclass(value, np.generic):
        return repr(np.dtype(value).name)
    if isinstance(value, np.generic):
        return repr(value.item())
    if callable(value) and hasattr(value, "__name__"):
        return value.__name__
    return repr(value)


def settings_line(module: Module) -> str:
    """A module's settings (its ``extra_repr``) on one line, a Sequential's layers one after the other."""
    return " ".join(module.extra_repr().split()).replace("( ", "(").replace(", )", ")")



def html_table(headers: list, rows: list, *, caption: str | None = None, right_columns: int = 0,
               notes=()) -> str:
    """``headers`` over ``rows`` (lists of strings) as an HTML table, for Jupyter's ``_repr_html_``.

    The last ``right_columns`` columns are aligned right (numbers); ``caption`` goes above the table and
    each of ``notes`` on a line below it. Every text is escaped.
    """
    def cells(tag, values):
        return "".join(f'<{tag} style="text-align: {"right" if i >= len(headers) - right_columns else "left"}">'
                       f"{html.escape(str(value))}</{tag}>" for i, value in enumerate(values))

    parts = ["<table>"]
    if caption:
        parts.append(f'<caption style="text-align: left">{html.escape(caption)}</caption>')
    parts.append(f"<thead><tr>{cells('th', headers)}</tr></thead>")
    parts.append("<tbody>" + "".join(f"<tr>{cells('td', row)}</tr>" for row in rows) + "</tbody>")
    parts.append("</table>")
    parts.extend(f"<p>{html.escape(note)}</p>" for note in notes)
    return "".join(parts)
