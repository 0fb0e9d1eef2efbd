"""StandardScaler and MinMaxScaler: per-feature affine maps fitted on the training data, as scikit-learn's."""

from __future__ import annotations

import math

import numpy as np

from nablanet.preprocessing.base import _check_table, _Fields, _json_floats, _Transformer


def _check_numeric(X, who: str) -> np.ndarray:
    """X as a 2-D float array (float32 and float64 kept, anything else to float64), finite."""
    array = np.asarray(X)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{who} expects numeric data, got an array of dtype {array.dtype}")
    _check_table(array, who, "a single feature with X.reshape(-1, 1)")
    if array.dtype.kind != "f":
        array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        row, column = (int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(f"{who}: X holds {array[row, column]} at row {row}, column {column}; the data must be finite")
    return array


class StandardScaler(_Transformer):
    """Standardize features: ``z = (x - mean) / std``, per column, as scikit-learn's StandardScaler.

    The mean and the standard deviation are the training data's, with ``ddof=0`` (divide by N), and
    are computed in float64 whatever the input's precision. A feature that is constant on the
    training data (variance zero, up to the rounding error of computing it) gets ``scale_ = 1``, so
    it is centred but not divided by zero. Transformed float32 data stay float32.

    Args:
        with_mean: subtract the mean.
        with_std: divide by the standard deviation.

    Attributes:
        mean_: per-feature mean, float64 ``(F,)`` (None when neither centring nor scaling).
        var_: per-feature variance (ddof=0), None when ``with_std=False``.
        scale_: per-feature divisor, ``sqrt(var_)`` with 1 for constant features; None when
            ``with_std=False``.
        n_features_in_: number of features seen in ``fit``.
        n_samples_seen_: number of samples seen in ``fit``.

    Shape:
        X (N, F) -> (N, F).

    Example:
        >>> scaler = StandardScaler().fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
        >>> scaler.mean_.tolist(), scaler.scale_.tolist()
        ([2.0, 5.0], [1.0, 1.0])
        >>> scaler.transform(np.array([[3.0, 7.0]])).tolist()
        [[1.0, 2.0]]
        >>> scaler.inverse_transform(np.array([[1.0, 2.0]])).tolist()
        [[3.0, 7.0]]
    """

    _params = ("with_mean", "with_std")

    def __init__(self, *, with_mean: bool = True, with_std: bool = True):
        self.with_mean = with_mean
        self.with_std = with_std

    def fit(self, X, y=None):
        """Compute the mean and standard deviation of each column of ``X`` (N, F); returns self."""
        X = _check_numeric(X, "StandardScaler.fit")
        n_samples = X.shape[0]
        X64 = X.astype(np.float64, copy=False)
        mean = X64.mean(axis=0)
        # Two passes (mean, then mean squared deviation): accurate where E[x^2] - E[x]^2 cancels.
        var = np.mean((X64 - mean) ** 2, axis=0)
        self.mean_ = mean if (self.with_mean or self.with_std) else None
        if self.with_std:
            self.var_ = var
            # A feature is constant when its computed variance is within the error bound of the
            # two-pass algorithm (Chan, Golub & LeVeque, 1983), scikit-learn's _is_constant_feature:
            # dividing by such a tiny "standard deviation" would only amplify rounding noise.
            eps = np.finfo(np.float64).eps
            constant = var <= n_samples * eps * var + (n_samples * mean * eps) ** 2
            self.scale_ = np.where(constant, 1.0, np.sqrt(var))
        else:
            self.var_ = None
            self.scale_ = None
        self.n_samples_seen_ = n_samples
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        """Standardize ``X`` (N, F) with the fitted statistics; returns a new array."""
        self._check_fitted()
        X = _check_numeric(X, "StandardScaler.transform")
        self._check_n_features(X)
        # The statistics are cast to X's dtype so that float32 data are not silently upcast.
        if self.with_mean:
            X = X - self.mean_.astype(X.dtype)
        if self.with_std:
            X = X / self.scale_.astype(X.dtype)
        return X.copy() if not (self.with_mean or self.with_std) else X

    def inverse_transform(self, X):
        """Undo :meth:`transform`: ``x = z * scale_ + mean_``."""
        self._check_fitted()
        X = _check_numeric(X, "StandardScaler.inverse_transform")
        self._check_n_features(X)
        if self.with_std:
            X = X * self.scale_.astype(X.dtype)
        if self.with_mean:
            X = X + self.mean_.astype(X.dtype)
        return X.copy() if not (self.with_mean or self.with_std) else X

    def to_dict(self) -> dict:
        """The fitted scaler as plain JSON values; :meth:`from_dict` rebuilds it (its floats exactly)."""
        self._check_fitted()
        return {"type": "StandardScaler", "with_mean": self.with_mean, "with_std": self.with_std,
                "n_features_in": self.n_features_in_, "n_samples_seen": self.n_samples_seen_,
                "mean": _json_floats(self.mean_), "var": _json_floats(self.var_), "scale": _json_floats(self.scale_)}

    @classmethod
    def from_dict(cls, values) -> StandardScaler:
        """The fitted scaler that :meth:`to_dict` gave ``values``; ValueError names an entry that is missing
        or invalid (the values may come from an untrusted file)."""
        fields = _Fields(values, "StandardScaler")
        scaler = cls(with_mean=fields.flag("with_mean"), with_std=fields.flag("with_std"))
        n = scaler.n_features_in_ = fields.count("n_features_in")
        scaler.n_samples_seen_ = fields.count("n_samples_seen")
        scaler.mean_ = fields.floats("mean", n, present=scaler.with_mean or scaler.with_std)
        scaler.var_ = fields.floats("var", n, present=scaler.with_std, low=0.0)
        scaler.scale_ = fields.floats("scale", n, present=scaler.with_std, low=0.0, strict=True)
        return scaler


class MinMaxScaler(_Transformer):
    """Scale each feature linearly onto ``feature_range`` (default [0, 1]), as scikit-learn's MinMaxScaler.

    ``x_scaled = x * scale_ + min_`` with ``scale_ = (hi - lo) / (x_max - x_min)`` and
    ``min_ = lo - x_min * scale_``, from the training data's per-feature minimum and maximum. A
    constant feature (range below 10 machine epsilons) gets a range of 1, so it maps to ``lo``
    rather than dividing by zero. New data outside the training range map outside
    ``feature_range`` unless ``clip=True``.

    Args:
        feature_range: ``(lo, hi)`` with ``lo < hi``.
        clip: clip transformed values to ``feature_range``.

    Attributes:
        data_min_, data_max_, data_range_: per-feature minimum, maximum and their difference.
        scale_, min_: the per-feature affine map.
        n_features_in_, n_samples_seen_: as in :class:`StandardScaler`.

    Shape:
        X (N, F) -> (N, F).

    Example:
        >>> scaler = MinMaxScaler(feature_range=(-1, 1)).fit(np.array([[0.0], [10.0]]))
        >>> scaler.transform(np.array([[5.0], [20.0]])).tolist()
        [[0.0], [3.0]]
        >>> MinMaxScaler(clip=True).fit([[0.0], [10.0]]).transform([[20.0]]).tolist()
        [[1.0]]
    """

    _params = ("feature_range", "clip")

    def __init__(self, feature_range=(0, 1), *, clip: bool = False):
        self.feature_range = feature_range
        self.clip = clip

    def fit(self, X, y=None):
        """Record each column's minimum and maximum; returns self."""
        lo, hi = self._range()
        X = _check_numeric(X, "MinMaxScaler.fit")
        data_min, data_max = X.min(axis=0), X.max(axis=0)
        data_range = data_max - data_min
        tiny = 10 * np.finfo(data_range.dtype).eps
        self.scale_ = (hi - lo) / np.where(data_range < tiny, 1.0, data_range).astype(X.dtype)
        self.min_ = lo - data_min * self.scale_
        self.data_min_, self.data_max_, self.data_range_ = data_min, data_max, data_range
        self.n_samples_seen_ = X.shape[0]
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        """Map ``X`` (N, F) onto the feature range; returns a new array."""
        self._check_fitted()
        X = _check_numeric(X, "MinMaxScaler.transform")
        self._check_n_features(X)
        out = X * self.scale_.astype(X.dtype) + self.min_.astype(X.dtype)
        if self.clip:
            lo, hi = self._range()
            np.clip(out, lo, hi, out=out)
        return out

    def inverse_transform(self, X):
        """Undo :meth:`transform`: ``x = (x_scaled - min_) / scale_``."""
        self._check_fitted()
        X = _check_numeric(X, "MinMaxScaler.inverse_transform")
        self._check_n_features(X)
        return (X - self.min_.astype(X.dtype)) / self.scale_.astype(X.dtype)

    def _range(self):
        try:
            lo, hi = (float(v) for v in self.feature_range)
        except (TypeError, ValueError):
            raise ValueError(f"feature_range must be a pair (lo, hi) of numbers, got {self.feature_range!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"feature_range must have lo < hi (both finite), got {self.feature_range!r}")
        return lo, hi

    def to_dict(self) -> dict:
        """The fitted scaler as plain JSON values; :meth:`from_dict` rebuilds it (its floats exactly)."""
        self._check_fitted()
        lo, hi = self._range()
        return {"type": "MinMaxScaler", "feature_range": [lo, hi], "clip": self.clip,
                "n_features_in": self.n_features_in_, "n_samples_seen": self.n_samples_seen_,
                **{name: _json_floats(getattr(self, name + "_")) for name in self._arrays}}

    @classmethod
    def from_dict(cls, values) -> MinMaxScaler:
        """The fitted scaler that :meth:`to_dict` gave ``values``; ValueError names an entry that is missing
        or invalid (the values may come from an untrusted file)."""
        fields = _Fields(values, "MinMaxScaler")
        scaler = cls(tuple(fields.floats("feature_range", 2)), clip=fields.flag("clip"))
        try:
            scaler._range()
        except ValueError as error:
            raise ValueError(f"MinMaxScaler: {error}") from None
        n = scaler.n_features_in_ = fields.count("n_features_in")
        scaler.n_samples_seen_ = fields.count("n_samples_seen")
        for name in cls._arrays:
            # A scale of 0 would map every value to feature_range's low end and make inverse_transform divide by 0.
            low, strict = {"data_range": (0.0, False), "scale": (0.0, True)}.get(name, (None, False))
            setattr(scaler, name + "_", fields.floats(name, n, low=low, strict=strict))
        return scaler

    _arrays = ("data_min", "data_max", "data_range", "scale", "min")
