"""OneHotEncoder and LabelEncoder: categories as one-hot columns and class labels as 0 .. K-1, as scikit-learn's."""

from __future__ import annotations

import math

import numpy as np

from nablanet.preprocessing.base import _categories_from_json, _check_table, _Fields, _Transformer


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
        feature_names_in_: the input columns' names, when set (as scikit-learn sets them from a
            DataFrame; :class:`Preprocessor` sets them from a table's header): messages and
            :meth:`get_feature_names_out` use them.

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
            categories = [_unique(X[:, j], self._column(j)) for j in range(n_features)]
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
                _codes(X[:, j], categories[j], self._column(j), raise_unknown=True)
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
            codes, known = _codes(X[:, j], categories, self._column(j), raise_unknown=self.handle_unknown == "error")
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
            input_features = getattr(self, "feature_names_in_", [f"x{j}" for j in range(self.n_features_in_)])
        if len(input_features) != self.n_features_in_:
            raise ValueError(
                f"input_features has {len(input_features)} names but the encoder was fitted on "
                f"{self.n_features_in_} columns"
            )
        names = [f"{name}_{category}" for name, categories in zip(input_features, self.categories_)
                 for category in categories]
        return np.asarray(names, dtype=object)

    def _column(self, j: int) -> str:
        """Column ``j`` for messages: by its name when the encoder knows the names (``feature_names_in_``)."""
        names = getattr(self, "feature_names_in_", None)
        return f"column {j}" if names is None else f"column {names[j]!r}"

    def to_dict(self) -> dict:
        """The fitted encoder as plain JSON values (categories as lists of strings or numbers)."""
        self._check_fitted()
        names = getattr(self, "feature_names_in_", None)
        return {"type": "OneHotEncoder", "handle_unknown": self.handle_unknown, "dtype": np.dtype(self.dtype).name,
                "categories": [c.tolist() for c in self.categories_],
                "feature_names_in": None if names is None else [str(name) for name in names]}

    @classmethod
    def from_dict(cls, values) -> OneHotEncoder:
        """The fitted encoder that :meth:`to_dict` gave ``values``; ValueError names an entry that is missing
        or invalid (the values may come from an untrusted file)."""
        fields = _Fields(values, "OneHotEncoder")
        dtype = fields.get("dtype")
        if dtype not in ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"):
            raise ValueError(f"OneHotEncoder: dtype must name a numeric dtype, got {dtype!r}")
        encoder = cls(handle_unknown=fields.choice("handle_unknown", ("error", "ignore")), dtype=np.dtype(dtype))
        categories = fields.get("categories")
        if not isinstance(categories, list) or not categories:
            raise ValueError("OneHotEncoder: categories must be a non-empty list of lists of categories")
        encoder.categories_ = [_categories_from_json(c, f"OneHotEncoder: categories[{j}]")
                               for j, c in enumerate(categories)]
        encoder.n_features_in_ = len(categories)
        names = fields.names("feature_names_in", len(categories))
        if names is not None:
            encoder.feature_names_in_ = np.asarray(names, dtype=object)
        return encoder


class LabelEncoder(_Transformer):
    """Encode class labels as the integers ``0 .. K-1``, as scikit-learn's LabelEncoder.

    ``classes_`` holds the distinct labels of ``fit`` in sorted order, and label ``classes_[k]`` is
    encoded as ``k``: the network's output ``k`` stands for that class. Labels may be strings or
    numbers.

    Attributes:
        classes_: the labels, ``(K,)``; setting it (in any order) makes the encoder use those classes.

    Shape:
        y (N,) -> (N,) int64.

    Example:
        >>> encoder = LabelEncoder().fit(["virginica", "setosa", "versicolor", "setosa"])
        >>> encoder.classes_.tolist(), encoder.transform(["setosa", "virginica"]).tolist()
        (['setosa', 'versicolor', 'virginica'], [0, 2])
        >>> encoder.inverse_transform([1, 0]).tolist()
        ['versicolor', 'setosa']
    """

    _params = ()
    _fitted_attribute = "classes_"

    def fit(self, y) -> LabelEncoder:
        """Record the sorted distinct labels of ``y`` (N,); returns self."""
        self.classes_ = _unique(_check_labels(y, "LabelEncoder.fit"), "the class labels")
        return self

    def transform(self, y) -> np.ndarray:
        """The position of each label of ``y`` in ``classes_``; a label not among them raises ValueError."""
        self._check_fitted()
        codes, _ = _codes(_check_labels(y, "LabelEncoder.transform"), np.asarray(self.classes_), "the class labels",
                          raise_unknown=True, kind="classes")
        return codes.astype(np.int64)

    def fit_transform(self, y) -> np.ndarray:
        """``fit(y)`` then ``transform(y)``."""
        return self.fit(y).transform(y)

    def inverse_transform(self, codes) -> np.ndarray:
        """The labels of the integer ``codes`` (N,)."""
        self._check_fitted()
        codes = np.asarray(codes)
        if codes.ndim != 1 or codes.dtype.kind not in "iu":
            raise ValueError(f"LabelEncoder.inverse_transform expects a 1-D array of integer codes, got dtype "
                             f"{codes.dtype} and shape {codes.shape}")
        if codes.size and not (0 <= codes.min() and codes.max() < len(self.classes_)):
            raise ValueError(f"LabelEncoder.inverse_transform: codes must be 0 .. {len(self.classes_) - 1}, got "
                             f"{codes.min() if codes.min() < 0 else codes.max()}")
        return np.asarray(self.classes_)[codes]

    def to_dict(self) -> dict:
        """The classes as plain JSON values (a list of strings or numbers)."""
        self._check_fitted()
        return {"type": "LabelEncoder", "classes": np.asarray(self.classes_).tolist()}

    @classmethod
    def from_dict(cls, values) -> LabelEncoder:
        """The encoder that :meth:`to_dict` gave ``values``; ValueError names what is invalid."""
        encoder = cls()
        encoder.classes_ = _categories_from_json(_Fields(values, "LabelEncoder").get("classes"), "LabelEncoder: classes")
        return encoder


def _check_categorical(X, who: str) -> np.ndarray:
    array = np.asarray(X)
    _check_table(array, who, "a single column of labels with y.reshape(-1, 1)")
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


def _unique(column: np.ndarray, where: str) -> np.ndarray:
    try:
        return np.unique(column)
    except TypeError:
        raise ValueError(f"{where} mixes values that cannot be compared (such as numbers and strings)") from None


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


def _codes(column: np.ndarray, categories: np.ndarray, where: str, *, raise_unknown: bool, kind: str = "categories"):
    """Position of each value in ``categories`` and whether it is known (vectorised lookup); ``where`` and
    ``kind`` name the values for messages ("column 'color'", "categories")."""
    try:
        order = np.argsort(categories, kind="stable")
        sorted_categories = categories[order]
        positions = np.clip(np.searchsorted(sorted_categories, column), 0, len(categories) - 1)
        known = sorted_categories[positions] == column
    except TypeError:
        raise ValueError(f"{where} holds values that cannot be compared with its {kind}") from None
    known = np.asarray(known, dtype=bool)
    if raise_unknown and not known.all():
        unknown = np.unique(column[~known]).tolist()
        raise ValueError(f"found unknown {kind} {unknown} in {where}; the known ones are {categories.tolist()}")
    return order[positions], known


def _check_labels(y, who: str) -> np.ndarray:
    """Class labels as a non-empty 1-D array of strings or numbers, without missing values."""
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) == 0:
        raise ValueError(f"{who} expects a non-empty 1-D array of class labels, got shape {labels.shape}")
    missing = np.frompyfunc(lambda v: v is None or (isinstance(v, float) and math.isnan(v)), 1, 1)(labels)
    if labels.dtype.kind in "fO" and missing.astype(bool).any():
        index = int(np.argmax(missing.astype(bool)))
        raise ValueError(f"{who}: the labels hold {labels[index]!r} at index {index}; a missing value is not a class")
    return labels


def _is_text(values: np.ndarray) -> bool:
    """Whether an array holds text: a string dtype, or objects of which one is a string."""
    if values.dtype.kind in "US":
        return True
    return values.dtype.kind == "O" and any(isinstance(v, str) for v in values.ravel())
