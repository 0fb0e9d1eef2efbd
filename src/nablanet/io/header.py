"""The model file's header: UTF-8 JSON with finite numbers only, bounded in bytes, values and depth before it is parsed."""

from __future__ import annotations

import json

import numpy as np

from nablanet.io.format import _MAX_HEADER_BYTES, _MAX_HEADER_DEPTH, _MAX_HEADER_ITEMS

_STRUCTURE = (",", "[", "{")
_TOO_MANY_VALUES = f"has more than the {_MAX_HEADER_ITEMS} JSON values (commas and brackets) a header may have"


class HeaderError(ValueError):
    """A header that a model file cannot hold (save) or that a reader refuses (load); the message is a
    predicate of "the header" ("holds nan at metadata.loss, ...")."""


def encode_header(header: dict) -> bytes:
    """The header as UTF-8 JSON, after the checks ``decode_header`` makes, so that save never writes one load refuses.

    numpy scalars and arrays become numbers and lists. NaN and infinity, which strict JSON parsers refuse,
    are not written: the HeaderError names where they are.
    """
    try:
        text = json.dumps(header, default=_json_default, ensure_ascii=False, allow_nan=False)
    except ValueError:
        problem = _first_problem(json.loads(json.dumps(header, default=_json_default)))
        raise HeaderError(f"{problem} (store None or a string instead)") from None
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise HeaderError(f"holds a string that is not valid Unicode ({error.reason})") from None
    decode_header(text)
    return raw


def decode_header(text: str):
    """The JSON value of ``text`` (decoded UTF-8), refused (HeaderError) if larger than the caps or holding NaN
    or infinity.

    Bytes and values are counted on the text, before parsing allocates anything; depth and non-finite
    numbers on the parsed value.
    """
    size = len(text) if text.isascii() else len(text.encode("utf-8"))
    if size > _MAX_HEADER_BYTES:
        raise HeaderError(f"is {size} bytes, more than the {_MAX_HEADER_BYTES} a header may have")
    if _count_values(text) > _MAX_HEADER_ITEMS:
        raise HeaderError(_TOO_MANY_VALUES)
    try:
        value = json.loads(text, parse_constant=float)
    except (ValueError, RecursionError) as error:
        raise HeaderError(f"is not valid UTF-8 JSON ({type(error).__name__}: {' '.join(str(error).split())})") \
            from None
    if isinstance(value, (dict, list)):
        problem = _first_problem(value)
        if problem is not None:
            raise HeaderError(problem)
    return value


class ValueCounter:
    """``_count_values`` over a header read in pieces: ``add`` raises HeaderError once the count is over the cap."""

    def __init__(self):
        self.count = 1

    def add(self, chunk: bytes) -> None:
        # The marks are ASCII: counted in the raw bytes, whatever the UTF-8 around them.
        self.count += sum(chunk.count(mark.encode()) for mark in _STRUCTURE)
        if self.count > _MAX_HEADER_ITEMS:
            raise HeaderError(_TOO_MANY_VALUES)


def _count_values(text: str) -> int:
    """An upper bound on the number of JSON values in ``text``: its commas and brackets, plus one.

    Marks inside strings count too: the bound costs three passes of ``bytes.count`` at any size, where
    telling strings apart would cost a regular expression's pass per string; a header that save writes
    meets the same bound, so the two never disagree.
    """
    return 1 + sum(text.count(mark) for mark in _STRUCTURE)


def _first_problem(value) -> str | None:
    """Where ``value`` nests too deep or holds NaN or infinity, as a message; None if nowhere.

    Iterative, and quick on a million values: containers go on a stack, numbers are checked in place;
    the path of a value is formatted only for the message.
    """
    stack = [(None, None, value, 0)]
    while stack:
        entry = stack.pop()
        _, _, item, depth = entry
        if depth > _MAX_HEADER_DEPTH:
            return f"nests deeper than {_MAX_HEADER_DEPTH} levels (at {_path(entry)})"
        for key, child in (item.items() if type(item) is dict else enumerate(item)):
            kind = type(child)
            if kind is float and child - child != 0:  # inf - inf and nan - nan are nan
                return f"holds {child} at {_path((entry, key, child, depth + 1))}, which strict JSON does not allow"
            if kind is dict or kind is list:
                stack.append((entry, key, child, depth + 1))
    return None


def _path(entry) -> str:
    """``architecture.arguments.layers[1]`` for a stack entry (parent entry, key, value, depth)."""
    parts = []
    while entry is not None and entry[0] is not None:
        key = entry[1]
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key}" if key.isidentifier() else f"[{key!r}]")
        entry = entry[0]
    return "".join(reversed(parts)).lstrip(".") or "the header"


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
