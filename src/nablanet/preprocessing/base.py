"""What the transformers share: fit_transform and the not-fitted check, and reading their saved JSON back."""

from __future__ import annotations

import numpy as np


class NotFittedError(ValueError, AttributeError):
    """A transformer was used before ``fit`` (a ValueError and an AttributeError, as scikit-learn's)."""


class _Transformer:
    """fit_transform and the not-fitted check, shared by the transformers of this package."""

    _fitted_attribute = "n_features_in_"

    def fit_transform(self, X, y=None):
        """``fit(X)`` then ``transform(X)``; ``y`` is ignored (scikit-learn's signature)."""
        return self.fit(X, y).transform(X)

    def _check_fitted(self) -> None:
        if not hasattr(self, self._fitted_attribute):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X) before using it")

    def _check_n_features(self, X) -> None:
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} was fitted on {self.n_features_in_}"
            )

    def __repr__(self) -> str:
        params = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._params)
        return f"{type(self).__name__}({params})"


def _check_table(array: np.ndarray, who: str, reshape_hint: str) -> None:
    """Refuse an ``array`` that is not a non-empty 2-D table (samples, features); ``reshape_hint`` ends
    the message for a 1-D one (``"a single feature with X.reshape(-1, 1)"``)."""
    if array.ndim != 2:
        raise ValueError(f"{who} expects a 2-D array (samples, features), got shape {array.shape}; "
                         f"reshape {reshape_hint}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{who} needs at least one sample and one feature, got shape {array.shape}")


# ----------------------------------------------------------------------------------------------
# Saved transformers: plain JSON values (a model file holds no pickle), checked when read back
# ----------------------------------------------------------------------------------------------

def _json_floats(array):
    return None if array is None else np.asarray(array, dtype=np.float64).tolist()


def _is_json_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _categories_from_json(values, where: str) -> np.ndarray:
    """A saved list of categories (or classes): all strings (an object array, as fit makes of text) or all
    numbers, distinct."""
    if not isinstance(values, list) or not values:
        raise ValueError(f"{where} must be a non-empty list of strings or numbers")
    if all(isinstance(v, str) for v in values):
        array = np.array(values, dtype=object)
    elif all(_is_json_number(v) for v in values):
        array = np.asarray(values)
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{where} holds a number that is not finite")
    else:
        raise ValueError(f"{where} must hold only strings or only numbers, got {values[:5]!r}")
    if len(set(values)) != len(values):
        raise ValueError(f"{where} holds duplicates")
    return array


class _Fields:
    """The values a ``to_dict`` gave, read back entry by entry: they may come from a model file, which is
    untrusted input, so each entry is checked as it is read; a problem is a ValueError naming the entry."""

    def __init__(self, values, kind: str):
        if not isinstance(values, dict) or values.get("type") != kind:
            got = f"type {values.get('type')!r}" if isinstance(values, dict) else type(values).__name__
            raise ValueError(f"expected a saved {kind} (a table whose type is {kind!r}), got {got:.60}")
        self.values, self.kind = values, kind

    def get(self, key: str):
        if key not in self.values:
            raise ValueError(f"{self.kind}: the entry {key!r} is missing")
        return self.values[key]

    def flag(self, key: str) -> bool:
        value = self.get(key)
        if not isinstance(value, bool):
            raise ValueError(f"{self.kind}: {key} must be true or false, got {value!r:.60}")
        return value

    def count(self, key: str, minimum: int = 0) -> int:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{self.kind}: {key} must be an integer >= {minimum}, got {value!r:.60}")
        return value

    def choice(self, key: str, choices: tuple):
        value = self.get(key)
        if value not in choices:
            raise ValueError(f"{self.kind}: {key} must be one of {', '.join(map(repr, choices))}, got {value!r:.60}")
        return value

    def floats(self, key: str, n: int, *, present: bool = True, low: float | None = None, strict: bool = False):
        """A list of ``n`` finite numbers (>= ``low``, or > with ``strict``) as float64, or None where the
        fitted transformer holds none (``present=False``)."""
        value = self.get(key)
        if not present:
            if value is not None:
                raise ValueError(f"{self.kind}: {key} must be null for these settings")
            return None
        if not (isinstance(value, list) and len(value) == n and all(_is_json_number(v) for v in value)):
            raise ValueError(f"{self.kind}: {key} must be a list of {n} numbers")
        array = np.asarray(value, dtype=np.float64)
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{self.kind}: {key} holds a number that is not finite")
        if low is not None and np.any(array <= low if strict else array < low):
            raise ValueError(f"{self.kind}: {key} must hold numbers {'>' if strict else '>='} {low:g}, got "
                             f"{array.min():g}")
        return array

    def shape(self, key: str) -> tuple:
        value = self.get(key)
        if not (isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                                                for v in value)) or len(value) > 32:
            raise ValueError(f"{self.kind}: {key} must be a list of at most 32 positive integers, got {value!r:.60}")
        return tuple(value)

    def names(self, key: str, n: int):
        """A list of ``n`` distinct strings, or None."""
        value = self.get(key)
        if value is None:
            return None
        if not (isinstance(value, list) and len(value) == n and all(isinstance(v, str) for v in value)):
            raise ValueError(f"{self.kind}: {key} must be a list of {n} strings, or null")
        if len(set(value)) != n:
            raise ValueError(f"{self.kind}: {key} holds a name twice")
        return value
