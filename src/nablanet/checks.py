"""Argument checks in the library's words: each names the owner and the argument, shows the value, says what is allowed.

A value of the wrong type raises TypeError, a value of the right type outside what is allowed raises
ValueError, as PyTorch and scikit-learn do. Each check returns the value in plain Python form (an int,
a float, a tuple of ints), so a NumPy integer or a float32 reads afterwards as the Python number would.
The layers check their constructor arguments with these (so a model file's architecture is refused
by the same words when it is rebuilt), and so do the functions of ``nablanet.nn.functional`` they call.

Example:
    >>> check_int("Dense", "in_features", 3)
    3
    >>> check_int("Dense", "in_features", 2.5)
    Traceback (most recent call last):
    ...
    TypeError: Dense: in_features must be a positive integer, got 2.5 (a float)
    >>> check_real("BatchNorm", "eps", -1, low=0.0, low_open=True)
    Traceback (most recent call last):
    ...
    ValueError: BatchNorm: eps must be a positive finite number, got -1
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["check_int", "check_ints", "check_real", "check_bool", "check_choice", "check_float_dtype"]

# Longer values (an array given as a size) are cut in messages.
_SHOWN_CHARACTERS = 60


def check_int(owner: str | None, name: str, value, *, minimum: int | None = 1) -> int:
    """``value`` as an int if it is an integer (not a bool, not a float such as 2.0) >= ``minimum``.

    ``minimum=None`` allows any integer (an axis).
    """
    allowed = _integer_text(minimum)
    if not _is_integer(value):
        _fail(TypeError, owner, name, allowed, value)
    if minimum is not None and value < minimum:
        _fail(ValueError, owner, name, allowed, value)
    return int(value)


def check_ints(owner: str | None, name: str, value, count: int, *, minimum: int | None = 1) -> tuple:
    """``value`` as a tuple of ``count`` ints: one integer for every axis, or a sequence of ``count`` of them,
    each >= ``minimum`` (a kernel size, a stride, a padding per spatial axis)."""
    allowed = _integer_text(minimum) + ("" if count == 1 else f" or {count} of them")
    if _is_integer(value):
        values = (value,) * count
    elif (isinstance(value, (tuple, list)) or (isinstance(value, np.ndarray) and value.ndim == 1)) \
            and all(_is_integer(v) for v in value):
        values = tuple(value)
    else:
        _fail(TypeError, owner, name, allowed, value)
    if len(values) != count or (minimum is not None and any(v < minimum for v in values)):
        _fail(ValueError, owner, name, allowed, value)
    return tuple(int(v) for v in values)


def check_real(owner: str | None, name: str, value, *, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a float if it is a finite real number (not a bool, not NaN or infinity) between
    ``low`` and ``high`` (each included unless ``low_open`` / ``high_open``; None: no bound)."""
    allowed = _interval_text(low, high, low_open, high_open)
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        _fail(TypeError, owner, name, allowed, value)
    number = float(value)
    below = low is not None and (number <= low if low_open else number < low)
    above = high is not None and (number >= high if high_open else number > high)
    if not math.isfinite(number) or below or above:
        _fail(ValueError, owner, name, allowed, value)
    return number


def check_bool(owner: str | None, name: str, value) -> bool:
    """``value`` if it is True or False (a NumPy bool too); not 0, 1 or a string."""
    if not isinstance(value, (bool, np.bool_)):
        _fail(TypeError, owner, name, "True or False", value)
    return bool(value)


def check_choice(owner: str | None, name: str, value, choices) -> str:
    """``value`` if it is one of the strings ``choices``."""
    allowed = "one of " + ", ".join(map(repr, choices))
    if not isinstance(value, str):
        _fail(TypeError, owner, name, allowed, value)
    if value not in choices:
        _fail(ValueError, owner, name, allowed, value)
    return value


def check_float_dtype(owner: str | None, value, name: str = "dtype") -> np.dtype:
    """``value`` as a NumPy dtype if it names a real floating-point one (float16, float32, float64):
    what parameters that gradients update must be."""
    allowed = "a floating-point dtype such as float32 or float64"
    try:
        dtype = np.dtype(value)
    except TypeError:
        _fail(TypeError, owner, name, allowed, value)
    if dtype.kind != "f":
        _fail(ValueError, owner, name, allowed, dtype)
    return dtype


def _is_integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _integer_text(minimum) -> str:
    return {None: "an integer", 0: "a non-negative integer", 1: "a positive integer"}.get(
        minimum, f"an integer >= {minimum}")


def _interval_text(low, high, low_open, high_open) -> str:
    if low is not None and high is not None:
        return f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low == 0 and low_open:
        return "a positive finite number"
    if low == 0:
        return "a non-negative finite number"
    if low is not None:
        return f"a finite number {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"a finite number {'<' if high_open else '<='} {high:g}"
    return "a finite number"


def _fail(error: type, owner, name: str, allowed: str, value):
    shown = repr(value) if isinstance(value, str) else str(value.item() if isinstance(value, np.generic) else value)
    shown = " ".join(shown.split())  # an array's rows on one line
    if len(shown) > _SHOWN_CHARACTERS:
        shown = shown[:_SHOWN_CHARACTERS - 3] + "..."
    if error is TypeError:
        kind = type(value).__name__
        shown += f" ({'an' if kind[:1] in 'aeiou' else 'a'} {kind})"
    prefix = f"{owner}: " if owner else ""
    raise error(f"{prefix}{name} must be {allowed}, got {shown}")
