"""Preprocessor: the whole preparation of a model's inputs and class labels, fitted once and saved with the model."""

from __future__ import annotations

import math

import numpy as np

from nablanet.preprocessing.base import NotFittedError, _categories_from_json, _Fields, _is_json_number, _Transformer
from nablanet.preprocessing.encoders import LabelEncoder, OneHotEncoder, _check_labels, _is_text
from nablanet.preprocessing.scalers import MinMaxScaler, StandardScaler


_SCALERS = {"standard": StandardScaler, "minmax": MinMaxScaler}
_SCALER_TYPES = {kind.__name__: kind for kind in _SCALERS.values()}
_SAVED_DTYPES = ("float16", "float32", "float64")


class Preprocessor(_Transformer):
    """What a model's inputs and class labels go through before the network, as one object saved with the model.

    Fitted on the training data, it prepares inputs in three steps:

    1. a table's columns are found by name: ``transform(X, feature_names=names)`` puts the columns
       of a table whose header lists them in another order back in the order of ``fit``, and
       refuses a table with missing or unexpected columns, naming them (:meth:`select_columns`);
    2. text columns, and the columns named in ``categorical``, are one-hot encoded
       (:class:`OneHotEncoder`) and the others scaled by ``scaler``; the scaled columns come first,
       then the one-hot blocks, as scikit-learn's ``ColumnTransformer`` of the two orders them.
       An array with more axes (images) is scaled value by value;
    3. each sample is reshaped to ``input_shape`` and cast to ``dtype``.

    Text class labels become the integers ``0 .. K-1`` of ``classes_`` (:meth:`encode_targets`, in
    :class:`LabelEncoder`'s sorted order), so that a classifier's output ``k`` is class ``classes_[k]``.

    It goes where the model goes: ``nablanet.save(path, model, preprocessing=prep)`` stores it in the
    model file as plain JSON (:meth:`to_dict`; a model file never holds a pickle),
    ``nablanet.load_checkpoint(path).preprocessing`` gives it back, and ``nablanet evaluate`` and
    ``nablanet predict`` prepare new data with it, as with the preprocessing ``nablanet train`` saves.

    Args:
        scaler: how the numeric values are scaled: ``"standard"`` (:class:`StandardScaler`, the
            default), ``"minmax"`` (:class:`MinMaxScaler`), None (not at all), or a scaler fitted
            already (nablanet's or scikit-learn's StandardScaler or MinMaxScaler), which ``fit`` keeps
            as it is.
        categorical: names (with ``feature_names``) or 0-based positions of numeric columns to one-hot
            encode too (codes such as 1, 2, 3 for three sites); text columns are found by themselves.
        input_shape: reshape each prepared sample to this shape (e.g. ``(1, 28, 28)`` for Conv2d);
            ``()`` keeps the data's shape.
        dtype: the prepared inputs' dtype; None keeps float64.
        classes: the class labels in the order of the network's outputs; None: ``fit`` takes the
            sorted distinct labels of text targets ``y`` (numeric labels are the classes 0 .. K-1).

    Attributes:
        n_features_in_: values per sample seen in ``fit`` (the columns of a table).
        feature_names_in_: the column names given to ``fit``, or None.
        categorical_: positions of the one-hot encoded columns.
        encoder_: their fitted OneHotEncoder, or None.
        scaler_: the fitted scaler of the other values, or None.
        classes_: the class labels (an array), or None.
        n_features_out_: values per prepared sample.

    Shape:
        X (N, F) or (N, ...) -> (N, *input_shape); without input_shape, a table with one-hot encoded
        columns gives (N, n_features_out_) and any other array keeps its shape.

    Example:
        >>> X = [[5.1, "red"], [6.3, "blue"], [5.7, "red"]]
        >>> prep = Preprocessor(dtype=None).fit(X, ["setosa", "virginica", "setosa"], feature_names=["length", "color"])
        >>> prep.summary()
        'target: 2 classes (setosa, virginica); one-hot: color (2 categories); standardized: 1 column'
        >>> prep.transform([["blue", 6.3]], feature_names=["color", "length"]).round(3).tolist()
        [[1.225, 1.0, 0.0]]
        >>> prep.encode_targets(["virginica", "setosa"]).tolist()
        [1, 0]
        >>> Preprocessor.from_dict(prep.to_dict()).transform([[6.3, "blue"]]).round(3).tolist()
        [[1.225, 1.0, 0.0]]
    """

    _params = ("scaler", "categorical", "input_shape", "dtype", "classes")

    def __init__(self, *, scaler="standard", categorical=(), input_shape=(), dtype=np.float32, classes=None):
        self.scaler = scaler
        self.categorical = categorical
        self.input_shape = input_shape
        self.dtype = dtype
        self.classes = classes

    def fit(self, X, y=None, *, feature_names=None) -> Preprocessor:
        """Learn the encoding and scaling from ``X`` (and the class labels from ``y``); returns self.

        Args:
            X: the training inputs ``(N, F)`` (a table: numbers and text) or ``(N, ...)`` (numbers).
            y: the training targets, or None; only text labels are read (for ``classes_``).
            feature_names: the names of X's F columns (e.g. a CSV header), or None.
        """
        X = _as_table(X)
        if X.ndim < 2 or len(X) == 0:
            raise ValueError(f"Preprocessor.fit expects samples along axis 0 and features after it, got shape {X.shape}")
        names = None
        if feature_names is not None:
            names = [str(name) for name in feature_names]
            if X.ndim != 2 or len(names) != X.shape[1]:
                raise ValueError(f"Preprocessor.fit: feature_names has {len(names)} names but X has shape {X.shape}")
            if len(set(names)) != len(names):
                raise ValueError(f"Preprocessor.fit: feature_names holds a name twice: {names}")
        self.feature_names_in_ = names
        self.categorical_ = self._categorical_columns(X, names)
        self.encoder_ = None
        if self.categorical_:
            encoder = OneHotEncoder()
            if names is not None:
                encoder.feature_names_in_ = np.asarray([names[j] for j in self.categorical_], dtype=object)
            self.encoder_ = encoder.fit(X[:, self.categorical_])
        numbers = self._numbers(X, "Preprocessor.fit")
        self.scaler_ = self._fitted_scaler(numbers)
        self.n_features_in_ = math.prod(X.shape[1:])
        self.sample_shape_ = X.shape[1:]
        self.n_features_out_ = numbers.shape[1] + sum(len(c) for c in getattr(self.encoder_, "categories_", ()))
        if self.input_shape and math.prod(self.input_shape) != self.n_features_out_:
            raise ValueError(f"input_shape (data.input_shape) {list(self.input_shape)} holds "
                             f"{math.prod(self.input_shape)} values but each prepared sample has {self.n_features_out_}")
        self.classes_ = self._fitted_classes(y)
        return self

    def transform(self, X, feature_names=None) -> np.ndarray:
        """Prepare ``X`` as the training inputs were; with ``feature_names`` (a table's header), its columns
        are found by name (see :meth:`select_columns`)."""
        self._check_fitted()
        X = _as_table(X)
        if feature_names is not None:
            X = self.select_columns(X, feature_names)
        if X.ndim < 2:
            raise ValueError(f"inputs must have samples along axis 0 and features after it, got shape {X.shape}")
        if math.prod(X.shape[1:]) != self.n_features_in_ or (self.categorical_ and X.ndim != 2):
            what = f"{self.n_features_in_} columns" if self.categorical_ else f"{self.n_features_in_} input values"
            raise ValueError(f"the preprocessing expects {what} per sample (as in fit), but the data have "
                             f"{math.prod(X.shape[1:])}")
        out = self._numbers(X, "Preprocessor.transform")
        if self.scaler_ is not None:
            out = self.scaler_.transform(out)
        if self.encoder_ is not None:
            out = np.concatenate([out, self.encoder_.transform(X[:, self.categorical_]).astype(np.float64)], axis=1)
        # An array of another shape with as many values (images given as rows) keeps its own, as it was given.
        shape = tuple(self.input_shape) or ((out.shape[1],) if self.categorical_ else X.shape[1:])
        out = out.reshape((len(X),) + shape)
        return out if self.dtype is None else out.astype(self.dtype, copy=False)

    @property
    def prepared_shape(self) -> tuple:
        """The shape of one prepared sample (what the network takes), for data shaped as in ``fit``."""
        self._check_fitted()
        return tuple(self.input_shape) or ((self.n_features_out_,) if self.categorical_ else tuple(self.sample_shape_))

    def select_columns(self, X, feature_names) -> np.ndarray:
        """The columns of the table ``X`` whose header is ``feature_names``, in the order of ``fit``.

        Without names from ``fit`` the columns are taken as they are. Raises ValueError naming the
        missing and the unexpected columns when the names differ from those of ``fit``.
        """
        self._check_fitted()
        X = _as_table(X)
        names = [str(name) for name in feature_names]
        if X.ndim != 2 or X.shape[1] != len(names):
            raise ValueError(f"feature_names has {len(names)} names but the data have shape {X.shape}")
        known = self.feature_names_in_
        if known is None or names == known:
            return X
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"the data have several columns named {_quoted(twice)}")
        missing = [name for name in known if name not in names]
        unexpected = [name for name in names if name not in known]
        if missing or unexpected:
            problems = [f"lack the column{'s' * (len(missing) > 1)} {_quoted(missing)}"] if missing else []
            problems += [f"have the unexpected column{'s' * (len(unexpected) > 1)} {_quoted(unexpected)}"] \
                if unexpected else []
            raise ValueError(f"the data {' and '.join(problems)}; the model's inputs are the columns {_quoted(known)}")
        return X[:, [names.index(name) for name in known]]

    def encode_targets(self, y) -> np.ndarray:
        """Class labels ``y`` as the integers of ``classes_``; targets unchanged when there are no classes."""
        self._check_fitted()
        labels = np.asarray(y)
        if self.classes_ is None:
            if labels.ndim == 1 and len(labels) and _is_text(labels):
                raise ValueError(f"the targets are text (e.g. {labels[0]!r}) but the preprocessing knows no class "
                                 "names; fit it with these targets as y, or give classes=")
            return labels
        encoder = LabelEncoder()
        encoder.classes_ = self.classes_
        return encoder.transform(labels)

    def summary(self) -> str:
        """What the preprocessing does, in one line: the classes, the one-hot encoded columns, the scaling."""
        self._check_fitted()
        parts = []
        if self.classes_ is not None:
            shown = ", ".join(str(c) for c in self.classes_[:8]) + (", ..." if len(self.classes_) > 8 else "")
            parts.append(f"target: {len(self.classes_)} classes ({shown})")
        if self.encoder_ is not None:
            names = self.feature_names_in_ or [f"x{j}" for j in range(self.n_features_in_)]
            parts.append("one-hot: " + ", ".join(f"{names[j]} ({len(c)} categories)"
                                                 for j, c in zip(self.categorical_, self.encoder_.categories_)))
        if self.scaler_ is not None:
            count = self.scaler_.n_features_in_
            unit = "column" if self.categorical_ or self.feature_names_in_ else "value"
            how = "standardized" if isinstance(self.scaler_, StandardScaler) else "min-max scaled"
            parts.append(f"{how}: {count} {unit}{'s' * (count > 1)}")
        return "; ".join(parts) or "none"

    def to_dict(self) -> dict:
        """The fitted preprocessing as plain JSON values (what ``nablanet.save`` stores); :meth:`from_dict`
        rebuilds it exactly."""
        self._check_fitted()
        return {"type": "Preprocessor", "n_features_in": self.n_features_in_, "sample_shape": list(self.sample_shape_),
                "feature_names_in": self.feature_names_in_, "categorical": list(self.categorical_),
                "encoder": None if self.encoder_ is None else self.encoder_.to_dict(),
                "scaler": None if self.scaler_ is None else self.scaler_.to_dict(),
                "input_shape": list(self.input_shape), "dtype": None if self.dtype is None else np.dtype(self.dtype).name,
                "classes": None if self.classes_ is None else self.classes_.tolist()}

    @classmethod
    def from_dict(cls, values) -> Preprocessor:
        """The fitted preprocessing that :meth:`to_dict` gave ``values`` (or the record of ``nablanet train``
        before this class, ``{standardize, mean, scale, ...}``); ValueError names an entry that is missing or
        invalid, or entries that do not fit together (the values may come from an untrusted file)."""
        if isinstance(values, dict) and "type" not in values and "standardize" in values:
            values = _from_first_record(values)
        fields = _Fields(values, "Preprocessor")
        n_in = fields.count("n_features_in", minimum=1)
        sample_shape = fields.shape("sample_shape")
        if math.prod(sample_shape) != n_in:
            raise ValueError(f"Preprocessor: sample_shape {list(sample_shape)} does not hold n_features_in = {n_in} values")
        names = fields.names("feature_names_in", n_in)
        categorical = fields.get("categorical")
        if not (isinstance(categorical, list) and all(isinstance(j, int) and not isinstance(j, bool) and 0 <= j < n_in
                                                      for j in categorical)) or sorted(set(categorical)) != categorical:
            raise ValueError(f"Preprocessor: categorical must list distinct column positions 0 .. {n_in - 1} in order")
        if categorical and len(sample_shape) != 1:
            raise ValueError("Preprocessor: categorical columns need a table (a sample_shape of one axis)")
        dtype = fields.get("dtype")
        if dtype is not None and dtype not in _SAVED_DTYPES:
            raise ValueError(f"Preprocessor: dtype must be one of {', '.join(_SAVED_DTYPES)} or null, got {dtype!r:.60}")
        prep = cls(input_shape=fields.shape("input_shape"), dtype=dtype)
        prep.n_features_in_, prep.sample_shape_, prep.feature_names_in_ = n_in, sample_shape, names
        prep.categorical_ = categorical
        prep.encoder_ = None
        if fields.get("encoder") is not None or categorical:
            prep.encoder_ = OneHotEncoder.from_dict(fields.get("encoder"))
            if prep.encoder_.n_features_in_ != len(categorical):
                raise ValueError(f"Preprocessor: the encoder has {prep.encoder_.n_features_in_} columns but "
                                 f"categorical names {len(categorical)}")
        n_numbers = n_in - len(categorical)
        scaler = fields.get("scaler")
        prep.scaler_ = None
        if scaler is not None:
            kind = _SCALER_TYPES.get(scaler.get("type")) if isinstance(scaler, dict) else None
            if kind is None:
                raise ValueError(f"Preprocessor: scaler must be a saved {' or '.join(_SCALER_TYPES)}, or null")
            prep.scaler_ = kind.from_dict(scaler)
            if prep.scaler_.n_features_in_ != n_numbers:
                raise ValueError(f"Preprocessor: the scaler has {prep.scaler_.n_features_in_} features but the data "
                                 f"have {n_numbers} numeric values per sample")
        prep.n_features_out_ = n_numbers + sum(len(c) for c in getattr(prep.encoder_, "categories_", ()))
        if prep.input_shape and math.prod(prep.input_shape) != prep.n_features_out_:
            raise ValueError(f"Preprocessor: input_shape {list(prep.input_shape)} does not hold the "
                             f"{prep.n_features_out_} prepared values per sample")
        classes = fields.get("classes")
        prep.classes_ = None if classes is None else _categories_from_json(classes, "Preprocessor: classes")
        prep.scaler = next((name for name, kind in _SCALERS.items() if isinstance(prep.scaler_, kind)), None)
        prep.categorical = list(categorical)
        prep.classes = None if prep.classes_ is None else prep.classes_.tolist()
        return prep

    @classmethod
    def from_scaler(cls, scaler, *, dtype=None) -> Preprocessor:
        """The preprocessing of a model trained on ``scaler.transform(X)``: a fitted StandardScaler or
        MinMaxScaler (nablanet's or scikit-learn's) of 2-D inputs, nothing else."""
        fitted = _our_scaler(scaler)
        prep = cls(scaler=fitted, dtype=dtype)
        prep.n_features_in_ = prep.n_features_out_ = fitted.n_features_in_
        prep.sample_shape_, prep.feature_names_in_ = (fitted.n_features_in_,), None
        prep.categorical_, prep.encoder_, prep.scaler_, prep.classes_ = [], None, fitted, None
        return prep

    # --- the steps of fit ---------------------------------------------------------------------------
    def _categorical_columns(self, X: np.ndarray, names) -> list:
        """The columns to one-hot encode: the text ones and those named in ``categorical``."""
        columns = set()
        if X.ndim == 2 and X.dtype.kind in "USO":
            columns = {j for j in range(X.shape[1]) if _is_text(X[:, j])}
        for item in ([self.categorical] if isinstance(self.categorical, (str, int)) else self.categorical):
            if isinstance(item, str):
                if names is None or item not in names:
                    known = "the data have no column names (give feature_names)" if names is None else \
                        f"the columns are {_quoted(names)}"
                    raise ValueError(f"categorical names the column {item!r}, but {known}")
                columns.add(names.index(item))
            elif isinstance(item, (int, np.integer)) and not isinstance(item, bool) and X.ndim == 2 \
                    and 0 <= item < X.shape[1]:
                columns.add(int(item))
            else:
                raise ValueError(f"categorical must hold column names or positions 0 .. {X.shape[-1] - 1} of a "
                                 f"table (N, F), got {item!r} for data of shape {X.shape}")
        if columns and X.ndim != 2:
            raise ValueError(f"one-hot encoding needs a table (N, F), got data of shape {X.shape}")
        return sorted(columns)

    def _numbers(self, X: np.ndarray, who: str) -> np.ndarray:
        """The values that are not one-hot encoded, as float64 ``(N, M)``, checked to be finite numbers."""
        if self.categorical_:
            numeric = [j for j in range(X.shape[1]) if j not in self.categorical_]
            values = X[:, numeric]
        else:
            numeric = None
            values = X.reshape(len(X), -1)
        from nablanet.train.inputs import check_real

        # Casting would drop the imaginary part, with only NumPy's ComplexWarning to say so.
        check_real(values, "X")
        try:
            values = values.astype(np.float64, copy=False)
        except (TypeError, ValueError):
            values = None
        if values is None or not np.all(np.isfinite(values)):
            self._refuse_first_bad_value(X, numeric, who)
        return values

    def _refuse_first_bad_value(self, X: np.ndarray, numeric, who: str) -> None:
        flat = X.reshape(len(X), -1) if numeric is None else X
        for j in (range(flat.shape[1]) if numeric is None else numeric):
            for row, value in enumerate(flat[:, j]):
                try:
                    number = float(value)
                except (TypeError, ValueError):
                    number = None
                if number is None or not math.isfinite(number):
                    column = f"column {self.feature_names_in_[j]!r}" if self.feature_names_in_ else f"column {j}"
                    problem = "which is not a number" if number is None else "the data must be finite numbers"
                    shown = value.item() if isinstance(value, np.generic) else value
                    raise ValueError(f"{who}: {column} holds {shown!r} at row {row}; {problem}")
        raise ValueError(f"{who}: the data must be numbers, got dtype {X.dtype}")

    def _fitted_scaler(self, numbers: np.ndarray):
        if self.scaler is None or numbers.shape[1] == 0:
            return None
        if isinstance(self.scaler, str):
            if self.scaler not in _SCALERS:
                raise ValueError(f"scaler must be {', '.join(map(repr, _SCALERS))}, None or a fitted scaler, "
                                 f"got {self.scaler!r}")
            return _SCALERS[self.scaler]().fit(numbers)
        fitted = _our_scaler(self.scaler)
        if fitted.n_features_in_ != numbers.shape[1]:
            raise ValueError(f"the scaler was fitted on {fitted.n_features_in_} features, but the data have "
                             f"{numbers.shape[1]} numeric values per sample")
        return fitted

    def _fitted_classes(self, y):
        if self.classes is not None:
            classes = _check_labels(self.classes, "Preprocessor: classes")
            if len(set(classes.tolist())) != len(classes):
                raise ValueError(f"Preprocessor: classes holds duplicates: {classes.tolist()}")
            return classes
        if y is not None:
            labels = _check_labels(y, "Preprocessor.fit")
            if _is_text(labels):
                return LabelEncoder().fit(labels).classes_
        return None


def _as_table(X) -> np.ndarray:
    """X as an array; a nested list that holds strings as objects, so that its numbers stay numbers."""
    if isinstance(X, np.ndarray):
        return X
    array = np.asarray(X)
    return np.asarray(X, dtype=object) if array.dtype.kind in "US" else array


def _our_scaler(scaler):
    """A fitted StandardScaler or MinMaxScaler of ours: ``scaler`` itself, or scikit-learn's converted (their
    fitted attributes are the same)."""
    name = type(scaler).__name__
    ours = isinstance(scaler, tuple(_SCALERS.values()))
    theirs = type(scaler).__module__.startswith("sklearn.") and name in _SCALER_TYPES
    if not (ours or theirs):
        raise TypeError(f"scaler must be a fitted StandardScaler or MinMaxScaler (nablanet's or scikit-learn's), got "
                        f"{name}")
    if not hasattr(scaler, "n_features_in_"):
        raise NotFittedError(f"the {name} is not fitted yet; fit it before giving it to the preprocessing")
    if ours:
        return scaler
    if name == "StandardScaler":
        converted = StandardScaler(with_mean=scaler.with_mean, with_std=scaler.with_std)
        attributes = ("mean_", "var_", "scale_")
    else:
        converted = MinMaxScaler(tuple(scaler.feature_range), clip=scaler.clip)
        attributes = tuple(f"{name}_" for name in MinMaxScaler._arrays)
    for attribute in attributes:
        value = getattr(scaler, attribute)
        setattr(converted, attribute, None if value is None else np.asarray(value, dtype=np.float64))
    converted.n_features_in_ = int(scaler.n_features_in_)
    converted.n_samples_seen_ = int(np.max(scaler.n_samples_seen_))
    return converted


def _from_first_record(values: dict) -> dict:
    """The first preprocessing record of ``nablanet train`` ({standardize, input_shape, dtype, n_features,
    mean, scale}) as a Preprocessor's, so that the models it saved keep their preprocessing."""
    n = values.get("n_features")
    scaler = None
    if values.get("standardize") and values.get("mean") is not None:
        scale = values.get("scale")
        scaler = {"type": "StandardScaler", "with_mean": True, "with_std": True, "n_features_in": n,
                  "n_samples_seen": 0, "mean": values["mean"], "scale": scale,
                  # The record kept no variances; they are not used to transform.
                  "var": [v * v for v in scale] if isinstance(scale, list) and all(map(_is_json_number, scale)) else scale}
    return {"type": "Preprocessor", "n_features_in": n, "sample_shape": [n], "feature_names_in": None,
            "categorical": [], "encoder": None, "scaler": scaler, "input_shape": values.get("input_shape"),
            "dtype": values.get("dtype"), "classes": None}


def _quoted(names) -> str:
    return ", ".join(repr(name) for name in names)
