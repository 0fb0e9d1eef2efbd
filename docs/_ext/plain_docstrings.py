"""Docstrings as they read in ``help()``: their plain-text mathematics is not reStructuredText markup.

nablanet's docstrings write formulas as plain text, in the notes' symbols: ``|g - n|`` for an absolute
value, ``x * y`` and ``*spatial`` for products and unpacking, ``coef_`` for a fitted attribute. To
reStructuredText these are a substitution, an emphasis and a hyperlink reference, which the build
would refuse (or render wrongly). Before napoleon reads the Google sections, this hook escapes ``|``,
``*`` and a word's trailing ``_`` in prose, leaving alone what is markup on purpose: inline literals
(````code````), roles (``:func:`fit```), literal blocks (after ``::``) and doctests (``>>>``).

It also skips the ``set_*_request`` methods that scikit-learn's metadata routing adds to every
estimator: scikit-learn documents them, in its own references.
"""

import re

# Inline literals, roles with their targets, and interpreted text: kept as they are.
_MARKUP = re.compile(r"``.+?``|:[\w:.-]+:`[^`]+`|`[^`]+`_{0,2}")
_ENTRY_NAME = re.compile(r"\s*[\w.]+_(?=:|\s\()")
_TRAILING_UNDERSCORE = re.compile(r"(?<=\w)_(?=[\s,.;:)\]]|$)")
_BULLET = re.compile(r"\s*[*+-] ")


def _escape_prose(text: str) -> str:
    pieces, position = [], 0
    for match in _MARKUP.finditer(text):
        pieces.append(_escape_plain(text[position:match.start()]))
        pieces.append(match.group())
        position = match.end()
    pieces.append(_escape_plain(text[position:]))
    return "".join(pieces)


def _escape_line(line: str) -> str:
    bullet = _BULLET.match(line)  # "* item": a list, markup on purpose
    if bullet:
        return bullet.group() + _escape_line(line[bullet.end():])
    # "coef_: ..." or "coef_ (ndarray): ..." opens an Attributes entry: napoleon reads that name itself.
    entry = _ENTRY_NAME.match(line)
    if entry:
        return entry.group() + _escape_prose(line[entry.end():])
    return _escape_prose(line)


def _escape_plain(text: str) -> str:
    text = text.replace("|", r"\|").replace("*", r"\*")
    return _TRAILING_UNDERSCORE.sub(r"\_", text)


def escape_docstring(lines: list[str]) -> list[str]:
    """The docstring's lines with plain-text ``|``, ``*`` and trailing ``_`` escaped (see the module)."""
    result = []
    literal_indent = None  # inside a literal block: the indentation of the line that opened it
    in_doctest = False
    for line in lines:
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if not stripped:
            in_doctest = False
            result.append(line)
            continue
        if literal_indent is not None:
            if indent > literal_indent:
                result.append(line)
                continue
            literal_indent = None
        if stripped.startswith(">>>") or in_doctest:
            in_doctest = True
            result.append(line)
            continue
        result.append(_escape_line(line))
        if stripped.endswith("::"):
            literal_indent = indent
    return result


def _process(app, what, name, obj, options, lines) -> None:
    lines[:] = escape_docstring(lines)


def _skip(app, what, name, obj, skip, options):
    if re.fullmatch(r"set_\w+_request", name):
        return True
    return None


def setup(app):
    """Sphinx extension: runs before napoleon (priority 400 < 500), which reads the escaped lines."""
    app.connect("autodoc-process-docstring", _process, priority=400)
    app.connect("autodoc-skip-member", _skip)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
