"""Preprocessing: feature scaling and one-hot encoding in NumPy, and splits built on scikit-learn.

The scalers and the encoder are small and every model needs them, so they are written here in
NumPy and work without scikit-learn; their parameters, fitted attributes (``mean_``, ``scale_``,
``categories_``, ...) and results are scikit-learn's (the tests compare them), so code moves
between the two unchanged. One difference: :class:`OneHotEncoder` always returns a dense array (as
scikit-learn's ``sparse_output=False``), since our layers take dense inputs.

Splitting is what scikit-learn does well and NumPy code gets subtly wrong (stratification with
rare classes, fold sizes that differ by one), so :func:`train_val_test_split` and :func:`k_fold`
call ``sklearn.model_selection`` and need the ``data`` extra (``pip install 'nablanet[data]'``).

Every input is checked once, on the way in: a 2-D numeric array without NaN or infinity, with the
number of features the transformer was fitted on. Mistakes raise ``ValueError`` saying what was
expected and what was got; using a transformer before ``fit`` raises :class:`NotFittedError`.
"""

from __future__ import annotations

import math

import numpy as np

from nablanet.datasets.common import _import_extra

__all__ = ["StandardScaler", "MinMaxScaler", "OneHotEncoder", "NotFittedError", "train_val_test_split", "k_fold"]


class NotFittedError(ValueError, AttributeError):
    """A transformer was used before ``fit`` (a ValueError and an AttributeError, as scikit-learn's)."""


class _Transformer:
    """fit_transform and the not-fitted check, shared by the transformers below."""

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


def _check_numeric(X, who: str) -> np.ndarray:
    """X as a 2-D float array (float32 and float64 kept, anything else to float64), finite."""
    array = np.asarray(X)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{who} expects numeric data, got an array of dtype {array.dtype}")
    if array.ndim != 2:
        raise ValueError(
            f"{who} expects a 2-D array (samples, features), got shape {array.shape}; "
            f"reshape a single feature with X.reshape(-1, 1)"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{who} needs at least one sample and one feature, got shape {array.shape}")
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


class OneHotEncoder(_Transformer):
    """Encode categorical features as one-hot columns, as scikit-learn's OneHotEncoder (dense output).

    Each input column ``j`` with categories ``c_0 < c_1 < ... < c_{K_j - 1}`` becomes ``K_j``
    output columns, with a 1 in column ``k`` where the value is ``c_k``; the blocks follow the
    input columns' order. Categories may be numbers or strings (a nested list mixing the two is
    read column by column, as scikit-learn reads it).

    Args:
        categories: ``"auto"`` (the sorted distinct values of each training column) or one list of
            categories per column (numeric lists must be sorted; they may include values absent
            from the training data).
        handle_unknown: ``"error"`` raises on a category not seen in ``fit``; ``"ignore"`` encodes it
            as all zeros (and :meth:`inverse_transform` gives None back for it).
        dtype: dtype of the encoded output.

    Attributes:
        categories_: list of one array of categories per input column, in output-column order.
        n_features_in_: number of input columns.

    Shape:
        X (N, F) -> (N, K_0 + ... + K_{F-1}).

    Example:
        >>> encoder = OneHotEncoder().fit([["red", 1], ["green", 3], ["red", 2]])
        >>> [c.tolist() for c in encoder.categories_]
        [['green', 'red'], [1, 2, 3]]
        >>> encoder.transform([["green", 2]]).tolist()
        [[1.0, 0.0, 0.0, 1.0, 0.0]]
        >>> OneHotEncoder().fit_transform(np.array([[2], [0], [1]])).astype(int).tolist()
        [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
        >>> encoder.get_feature_names_out().tolist()
        ['x0_green', 'x0_red', 'x1_1', 'x1_2', 'x1_3']
    """

    _params = ("categories", "handle_unknown", "dtype")
    _fitted_attribute = "categories_"

    def __init__(self, *, categories="auto", handle_unknown: str = "error", dtype=np.float64):
        self.categories = categories
        self.handle_unknown = handle_unknown
        self.dtype = dtype

    def fit(self, X, y=None):
        """Find each column's categories (or check the given ones against ``X``); returns self."""
        if self.handle_unknown not in ("error", "ignore"):
            raise ValueError(f"handle_unknown must be 'error' or 'ignore', got {self.handle_unknown!r}")
        X = _check_categorical(X, "OneHotEncoder.fit")
        n_features = X.shape[1]
        if isinstance(self.categories, str):
            if self.categories != "auto":
                raise ValueError(f"categories must be 'auto' or a list of arrays, got {self.categories!r}")
            categories = [_unique(X[:, j], j) for j in range(n_features)]
        else:
            if len(self.categories) != n_features:
                raise ValueError(
                    f"categories has {len(self.categories)} entries but X has {n_features} columns; give one per column"
                )
            categories = [_given_categories(values, X.dtype, j) for j, values in enumerate(self.categories)]
        self.categories_ = categories
        self.n_features_in_ = n_features
        if self.handle_unknown == "error":
            # Values outside user-given categories are an error at fit time, as in scikit-learn.
            for j in range(n_features):
                _codes(X[:, j], categories[j], j, raise_unknown=True)
        return self

    def transform(self, X):
        """One-hot encode ``X`` (N, F); returns a dense ``(N, sum K_j)`` array of ``dtype``."""
        self._check_fitted()
        X = _check_categorical(X, "OneHotEncoder.transform")
        self._check_n_features(X)
        widths = [len(c) for c in self.categories_]
        offsets = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64)
        out = np.zeros((X.shape[0], sum(widths)), dtype=self.dtype)
        rows = np.arange(X.shape[0])
        for j, categories in enumerate(self.categories_):
            codes, known = _codes(X[:, j], categories, j, raise_unknown=self.handle_unknown == "error")
            out[rows[known], offsets[j] + codes[known]] = 1
        return out

    def inverse_transform(self, X):
        """Categories back from one-hot rows (argmax of each block; all-zero blocks give None)."""
        self._check_fitted()
        X = np.asarray(X)
        n_out = sum(len(c) for c in self.categories_)
        if X.ndim != 2 or X.shape[1] != n_out:
            raise ValueError(f"inverse_transform expects an array of shape (N, {n_out}), got shape {X.shape}")
        dtype = np.result_type(*[c.dtype for c in self.categories_])
        columns, unknown_masks, start = [], [], 0
        for categories in self.categories_:
            block = X[:, start:start + len(categories)]
            columns.append(categories[block.argmax(axis=1)])
            unknown_masks.append(~block.any(axis=1))
            start += len(categories)
        if any(mask.any() for mask in unknown_masks):
            dtype = np.dtype(object)
        out = np.empty((X.shape[0], len(columns)), dtype=dtype)
        for j, (column, unknown) in enumerate(zip(columns, unknown_masks)):
            out[:, j] = column
            if unknown.any():
                out[unknown, j] = None
        return out

    def get_feature_names_out(self, input_features=None):
        """Output column names ``"<input>_<category>"``, inputs named ``x0, x1, ...`` by default."""
        self._check_fitted()
        if input_features is None:
            input_features = [f"x{j}" for j in range(self.n_features_in_)]
        if len(input_features) != self.n_features_in_:
            raise ValueError(
                f"input_features has {len(input_features)} names but the encoder was fitted on "
                f"{self.n_features_in_} columns"
            )
        names = [f"{name}_{category}" for name, categories in zip(input_features, self.categories_)
                 for category in categories]
        return np.asarray(names, dtype=object)


def _check_categorical(X, who: str) -> np.ndarray:
    array = np.asarray(X)
    if array.ndim != 2:
        raise ValueError(
            f"{who} expects a 2-D array (samples, features), got shape {array.shape}; "
            f"reshape a single column of labels with y.reshape(-1, 1)"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{who} needs at least one sample and one feature, got shape {array.shape}")
    if array.dtype.kind in "US" and not isinstance(X, np.ndarray):
        # A nested list that holds strings is read as objects, as scikit-learn does, so that a
        # numeric column beside a text column stays numeric (1, not "1"). A string ndarray is kept
        # as it is (its categories_ are then string arrays, as scikit-learn's).
        array = np.asarray(X, dtype=object)
    if array.dtype.kind == "f" and np.isnan(array).any():
        row, column = (int(i) for i in np.argwhere(np.isnan(array))[0])
        raise ValueError(f"{who}: X holds NaN at row {row}, column {column}; a missing value is not a category")
    if array.dtype.kind == "O":
        missing = np.frompyfunc(lambda v: v is None or (isinstance(v, float) and math.isnan(v)), 1, 1)(array)
        if missing.any():
            row, column = (int(i) for i in np.argwhere(missing.astype(bool))[0])
            raise ValueError(
                f"{who}: X holds {array[row, column]!r} at row {row}, column {column}; a missing value is not a category"
            )
    return array


def _unique(column: np.ndarray, j: int) -> np.ndarray:
    try:
        return np.unique(column)
    except TypeError:
        raise ValueError(f"column {j} mixes values that cannot be compared (such as numbers and strings)") from None


def _given_categories(values, dtype, j: int) -> np.ndarray:
    categories = np.asarray(values)
    if dtype.kind in "OUS" or categories.dtype.kind in "OUS":
        # Text categories as objects (scikit-learn: no truncation of longer given labels).
        categories = np.asarray(values, dtype=object)
    elif categories.dtype.kind in "biuf":
        # The column's dtype, as scikit-learn, but promoted rather than cast: 1.5 never becomes 1.
        categories = categories.astype(np.result_type(categories.dtype, dtype))
    if categories.ndim != 1 or len(categories) == 0:
        raise ValueError(f"categories[{j}] must be a non-empty 1-D list of categories, got {values!r}")
    if len(np.unique(categories)) != len(categories):
        raise ValueError(f"categories[{j}] holds duplicates: {values!r}")
    if categories.dtype.kind in "biuf" and np.any(categories[1:] < categories[:-1]):
        raise ValueError(f"categories[{j}] must be sorted for numeric categories, got {values!r}")
    return categories


def _codes(column: np.ndarray, categories: np.ndarray, j: int, *, raise_unknown: bool):
    """Position of each value in ``categories`` and whether it is known (vectorised lookup)."""
    try:
        order = np.argsort(categories, kind="stable")
        sorted_categories = categories[order]
        positions = np.clip(np.searchsorted(sorted_categories, column), 0, len(categories) - 1)
        known = sorted_categories[positions] == column
    except TypeError:
        raise ValueError(f"column {j} holds values that cannot be compared with its categories") from None
    known = np.asarray(known, dtype=bool)
    if raise_unknown and not known.all():
        unknown = np.unique(column[~known]).tolist()
        raise ValueError(f"found unknown categories {unknown} in column {j}; the known ones are {categories.tolist()}")
    return order[positions], known


# ----------------------------------------------------------------------------------------------
# Splits (scikit-learn)
# ----------------------------------------------------------------------------------------------

def _model_selection(caller: str):
    return _import_extra("sklearn.model_selection", "scikit-learn", caller)


def _random_state(rng):
    """scikit-learn's random_state from our rng: an int passes through; a Generator draws one seed."""
    if rng is None:
        return None
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return int(rng)
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**32))
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def _count(size, n_samples: int, name: str) -> int:
    """A size given as a fraction of the samples (rounded up, as scikit-learn) or as a count."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        if not 1 <= size < n_samples:
            raise ValueError(f"{name}={size} must be between 1 and {n_samples - 1} samples")
        return int(size)
    if isinstance(size, (float, np.floating)) and 0.0 < size < 1.0:
        return math.ceil(size * n_samples)
    raise ValueError(f"{name} must be a fraction in (0, 1) or a number of samples, got {size!r}")


def train_val_test_split(*arrays, val_size=0.2, test_size=0.2, stratify=None, shuffle: bool = True, rng=None):
    """Split arrays into training, validation and test parts, optionally stratified.

    The test part is split off first, then the validation part from the rest, each by
    ``sklearn.model_selection.train_test_split`` with ``random_state`` from ``rng``: the result equals
    those two calls. Sizes given as fractions are fractions of *all* samples, each rounded up; the
    training part gets the remainder. With ``stratify=y`` each part keeps the class proportions
    of ``y`` (to within one sample per class).

    Args:
        *arrays: arrays with the same number of rows (e.g. ``X, y``).
        val_size, test_size: fractions in (0, 1) of all samples, or numbers of samples.
        stratify: class labels ``(N,)`` to stratify on, usually ``y``; None for a plain split.
        shuffle: shuffle before splitting (needed for stratification).
        rng: int seed (passed to scikit-learn as ``random_state``), ``numpy.random.Generator`` (one
            seed is drawn from it) or None.

    Returns:
        For each array, its training, validation and test parts: ``X_train, X_val, X_test,
        y_train, y_val, y_test`` for ``(X, y)``, in scikit-learn's order.

    Example:
        >>> X, y = np.arange(20).reshape(10, 2), np.array([0] * 5 + [1] * 5)
        >>> X_train, X_val, X_test, y_train, y_val, y_test = train_val_test_split(
        ...     X, y, val_size=0.2, test_size=0.2, stratify=y, rng=0)
        >>> len(X_train), len(X_val), len(X_test), sorted(y_test.tolist())
        (6, 2, 2, [0, 1])
    """
    if not arrays:
        raise ValueError("train_val_test_split needs at least one array to split")
    n_samples = len(arrays[0])
    n_test = _count(test_size, n_samples, "test_size")
    n_val = _count(val_size, n_samples, "val_size")
    if n_samples - n_test - n_val < 1:
        raise ValueError(
            f"val_size={val_size} and test_size={test_size} take {n_val} + {n_test} of {n_samples} samples, "
            f"leaving none for training"
        )
    model_selection = _model_selection("train_val_test_split")
    random_state = _random_state(rng)
    extra = () if stratify is None else (np.asarray(stratify),)
    first = model_selection.train_test_split(
        *arrays, *extra, test_size=n_test, stratify=stratify, shuffle=shuffle, random_state=random_state
    )
    rest, test = first[0::2], first[1::2]
    rest_stratify = None if stratify is None else rest[-1]
    second = model_selection.train_test_split(
        *rest, test_size=n_val, stratify=rest_stratify, shuffle=shuffle, random_state=random_state
    )
    train, val = second[0::2], second[1::2]
    result = []
    for i in range(len(arrays)):
        result.extend((train[i], val[i], test[i]))
    return result


def k_fold(X, *, n_splits: int = 5, stratify=None, shuffle: bool = False, rng=None):
    """Indices of k-fold cross-validation: every sample is held out in exactly one fold.

    Built on scikit-learn's ``KFold`` or, with ``stratify``, ``StratifiedKFold`` (each fold keeps
    the class proportions); the folds equal theirs for the same ``shuffle`` and ``random_state``.

    Args:
        X: the data (only its number of rows is used), or the number of samples.
        n_splits: number of folds, at least 2.
        stratify: class labels ``(N,)`` for stratified folds, usually ``y``; None for plain folds.
        shuffle: shuffle the samples before cutting folds (otherwise folds are consecutive).
        rng: int seed, ``numpy.random.Generator`` or None; only with ``shuffle=True``.

    Returns:
        A list of ``n_splits`` pairs ``(train_index, val_index)`` of int arrays.

    Example:
        >>> [val.tolist() for _, val in k_fold(6, n_splits=3)]
        [[0, 1], [2, 3], [4, 5]]
        >>> y = np.array([0, 0, 0, 1, 1, 1])
        >>> [y[val].tolist() for _, val in k_fold(6, n_splits=3, stratify=y)]
        [[0, 1], [0, 1], [0, 1]]
    """
    if isinstance(X, (int, np.integer)) and not isinstance(X, bool):
        n_samples = int(X)
    else:
        n_samples = len(X)
    if isinstance(n_splits, bool) or not isinstance(n_splits, (int, np.integer)) or not 2 <= n_splits <= n_samples:
        raise ValueError(f"n_splits must be an integer between 2 and the number of samples {n_samples}, got {n_splits!r}")
    if rng is not None and not shuffle:
        raise ValueError("rng has no effect without shuffle=True: the folds are consecutive blocks")
    model_selection = _model_selection("k_fold")
    random_state = _random_state(rng) if shuffle else None
    placeholder = np.zeros((n_samples, 1))
    if stratify is None:
        splitter = model_selection.KFold(n_splits=n_splits, shuffle=shuffle, random_state=random_state)
        return list(splitter.split(placeholder))
    stratify = np.asarray(stratify)
    if stratify.shape != (n_samples,):
        raise ValueError(f"stratify must hold one label per sample, shape ({n_samples},), got shape {stratify.shape}")
    splitter = model_selection.StratifiedKFold(n_splits=n_splits, shuffle=shuffle, random_state=random_state)
    return list(splitter.split(placeholder, stratify))
