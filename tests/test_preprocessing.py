"""Scalers, one-hot and label encoding, the whole Preprocessor and splits, each compared with scikit-learn's
on the same data; the fitted transformers saved as plain JSON and read back exactly, or refused naming the entry."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import sklearn.compose as skc
import sklearn.model_selection as skms
import sklearn.preprocessing as skp

from nablanet.preprocessing import (
    LabelEncoder, MinMaxScaler, NotFittedError, OneHotEncoder, Preprocessor, StandardScaler, k_fold,
    train_val_test_split,
)

RNG = np.random.default_rng(0)

# Data on which the scalers must agree with scikit-learn, chosen for the cases that differ between
# careless implementations: float32 (no upcast), integers (converted to float64), a constant
# column (scale 1, not a division by zero), a column constant up to rounding at a large offset,
# a single sample, and features of wildly different magnitudes.
SCALER_DATA = {
    "normal": RNG.normal(3.0, 2.0, (40, 3)),
    "float32": RNG.normal(-1.0, 5.0, (30, 4)).astype(np.float32),
    "integers": RNG.integers(-5, 20, (25, 2)),
    "constant column": np.column_stack([RNG.normal(size=10), np.full(10, 7.0)]),
    "near-constant column": np.column_stack([RNG.normal(size=10), 1e8 + 1e-8 * RNG.normal(size=10)]),
    "one sample": np.array([[1.0, -2.0, 3.0]]),
    "mixed magnitudes": RNG.normal(size=(20, 3)) * np.array([1e-6, 1.0, 1e6]),
}


def tolerance(X):
    return dict(rtol=1e-5, atol=1e-6) if np.asarray(X).dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", SCALER_DATA)
@pytest.mark.parametrize("with_mean, with_std", [(True, True), (False, True), (True, False)])
def test_standard_scaler_matches_sklearn(name, with_mean, with_std):
    X = SCALER_DATA[name]
    ours = StandardScaler(with_mean=with_mean, with_std=with_std).fit(X)
    theirs = skp.StandardScaler(with_mean=with_mean, with_std=with_std).fit(X)
    for attribute in ["mean_", "var_", "scale_"]:
        expected = getattr(theirs, attribute)
        if expected is None:
            assert getattr(ours, attribute) is None
        else:
            # Up to the rounding error of the two-pass variance, about N eps mean^2 per column (the
            # near-constant column's variance is that rounding error itself).
            atol = 100 * len(X) * np.finfo(np.float64).eps * np.mean(np.asarray(X, np.float64), axis=0) ** 2
            difference = np.abs(getattr(ours, attribute) - expected)
            assert np.all(difference <= atol + 1e-12 * np.abs(expected)), (attribute, difference)
    assert ours.n_features_in_ == theirs.n_features_in_ and ours.n_samples_seen_ == theirs.n_samples_seen_
    Z = ours.transform(X)
    Z_ref = theirs.transform(X)
    assert Z.dtype == Z_ref.dtype
    np.testing.assert_allclose(Z, Z_ref, **tolerance(X))
    np.testing.assert_allclose(ours.inverse_transform(Z), theirs.inverse_transform(Z_ref), **tolerance(X))
    np.testing.assert_allclose(ours.fit_transform(X), Z_ref, **tolerance(X))


def test_standard_scaler_uses_ddof_0_and_leaves_constant_features_unscaled():
    X = np.array([[1.0, 4.0], [3.0, 4.0], [5.0, 4.0]])
    scaler = StandardScaler().fit(X)
    # Column 0: mean 3, variance (4 + 0 + 4) / 3 (ddof = 0). Column 1 is constant: centred only.
    assert scaler.var_.tolist() == [8 / 3, 0.0] and scaler.scale_[1] == 1.0
    np.testing.assert_allclose(scaler.transform(X)[:, 0], [-2, 0, 2] / np.sqrt(8 / 3))
    assert scaler.transform(X)[:, 1].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("name", SCALER_DATA)
@pytest.mark.parametrize("feature_range, clip", [((0, 1), False), ((-1, 1), False), ((2, 5), True)])
def test_min_max_scaler_matches_sklearn(name, feature_range, clip):
    X = SCALER_DATA[name]
    ours = MinMaxScaler(feature_range, clip=clip).fit(X)
    theirs = skp.MinMaxScaler(feature_range=feature_range, clip=clip).fit(X)
    for attribute in ["data_min_", "data_max_", "data_range_", "scale_", "min_"]:
        np.testing.assert_allclose(getattr(ours, attribute), getattr(theirs, attribute), **tolerance(X))
    new = np.asarray(X)[::-1] * 1.5 + 1  # partly outside the training range: clip matters
    Z, Z_ref = ours.transform(new), theirs.transform(new)
    assert Z.dtype == Z_ref.dtype
    np.testing.assert_allclose(Z, Z_ref, **tolerance(X))
    np.testing.assert_allclose(ours.inverse_transform(Z), theirs.inverse_transform(Z_ref), **tolerance(X))


ENCODER_DATA = [
    # X to fit, X to transform, encoder keyword arguments
    (np.array([[2], [0], [1], [2]]), np.array([[0], [2]]), {}),
    (np.array([[1.5, 2.0], [0.5, 3.0], [1.5, 2.0]]), np.array([[0.5, 3.0]]), {}),
    (np.array([["b", "x"], ["a", "y"], ["c", "x"]]), np.array([["c", "y"], ["a", "x"]]), {}),
    ([["red", 1], ["green", 3], ["red", 2]], [["green", 2]], {}),
    (np.array([[1], [3]]), np.array([[2], [5]]), dict(categories=[[1, 2, 3, 5]])),
    (np.array([["b"], ["a"]]), np.array([["c"], ["b"]]), dict(categories=[["c", "b", "a"]])),
    (np.array([[1, 0], [2, 1]]), np.array([[3, 1], [1, 7]]), dict(handle_unknown="ignore")),
    (np.array([["a"], ["b"]]), np.array([["z"], ["a"]]), dict(handle_unknown="ignore", dtype=np.float32)),
]


@pytest.mark.parametrize("X_fit, X_new, kwargs", ENCODER_DATA)
def test_one_hot_encoder_matches_sklearn(X_fit, X_new, kwargs):
    ours = OneHotEncoder(**kwargs).fit(X_fit)
    theirs = skp.OneHotEncoder(sparse_output=False, **kwargs).fit(X_fit)
    assert len(ours.categories_) == len(theirs.categories_) == ours.n_features_in_
    for mine, reference in zip(ours.categories_, theirs.categories_):
        assert mine.tolist() == reference.tolist() and mine.dtype == reference.dtype
    encoded, encoded_ref = ours.transform(X_new), theirs.transform(X_new)
    assert encoded.dtype == encoded_ref.dtype
    np.testing.assert_array_equal(encoded, encoded_ref)
    np.testing.assert_array_equal(ours.fit_transform(X_fit), theirs.transform(X_fit))
    decoded, decoded_ref = ours.inverse_transform(encoded), theirs.inverse_transform(encoded_ref)
    assert decoded.tolist() == decoded_ref.tolist() and decoded.dtype == decoded_ref.dtype
    assert ours.get_feature_names_out().tolist() == theirs.get_feature_names_out().tolist()
    names = [f"f{j}" for j in range(ours.n_features_in_)]
    assert ours.get_feature_names_out(names).tolist() == theirs.get_feature_names_out(names).tolist()


def test_one_hot_rows_have_one_one_per_input_column():
    X = RNG.integers(0, 4, (50, 3))
    encoded = OneHotEncoder().fit_transform(X)
    assert encoded.shape == (50, 12)
    assert np.all(encoded.reshape(50, 3, 4).sum(axis=2) == 1)


TRANSFORMER_MISTAKES = [
    # call, exception type, message
    (lambda: StandardScaler().transform([[1.0]]), NotFittedError, "not fitted yet; call fit"),
    (lambda: MinMaxScaler().inverse_transform([[1.0]]), NotFittedError, "not fitted yet"),
    (lambda: OneHotEncoder().transform([[1]]), NotFittedError, "not fitted yet"),
    (lambda: StandardScaler().fit([1.0, 2.0]), ValueError, r"2-D array .* got shape \(2,\); reshape"),
    (lambda: StandardScaler().fit([[1.0, np.nan]]), ValueError, "holds nan at row 0, column 1"),
    (lambda: MinMaxScaler().fit([[np.inf]]), ValueError, "holds inf at row 0, column 0"),
    (lambda: StandardScaler().fit([["a"]]), ValueError, "numeric data"),
    (lambda: StandardScaler().fit(np.empty((0, 2))), ValueError, "at least one sample"),
    (lambda: StandardScaler().fit([[1.0, 2.0]]).transform([[1.0]]), ValueError,
     "X has 1 features, but StandardScaler was fitted on 2"),
    (lambda: MinMaxScaler((1, 0)).fit([[1.0]]), ValueError, "lo < hi"),
    (lambda: MinMaxScaler("ab").fit([[1.0]]), ValueError, "pair"),
    (lambda: OneHotEncoder().fit([1, 2]), ValueError, r"reshape a single column of labels with y.reshape\(-1, 1\)"),
    (lambda: OneHotEncoder().fit([[1.0], [np.nan]]), ValueError, "NaN at row 1, column 0"),
    (lambda: OneHotEncoder().fit([["a"], [None]]), ValueError, "None at row 1, column 0"),
    (lambda: OneHotEncoder().fit([[1], [2]]).transform([[3]]), ValueError,
     r"unknown categories \[3\] in column 0"),
    (lambda: OneHotEncoder(categories=[[1, 2]]).fit([[3]]), ValueError, r"unknown categories \[3\]"),
    (lambda: OneHotEncoder(categories=[[2, 1]]).fit([[1]]), ValueError, "must be sorted"),
    (lambda: OneHotEncoder(categories=[[1, 1]]).fit([[1]]), ValueError, "duplicates"),
    (lambda: OneHotEncoder(categories=[[1]]).fit([[1, 2]]), ValueError, "one per column"),
    (lambda: OneHotEncoder(handle_unknown="warn").fit([[1]]), ValueError, "handle_unknown"),
    (lambda: OneHotEncoder().fit([[1], [2]]).inverse_transform([[1, 0, 0]]), ValueError, r"shape \(N, 2\)"),
    (lambda: OneHotEncoder().fit([[1], [2]]).get_feature_names_out(["a", "b"]), ValueError, "2 names"),
]


@pytest.mark.parametrize("call, error, message", TRANSFORMER_MISTAKES)
def test_transformer_mistakes_name_the_problem(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_not_fitted_is_a_value_error_and_transformers_have_readable_reprs():
    assert issubclass(NotFittedError, ValueError)
    assert repr(MinMaxScaler((-1, 1), clip=True)) == "MinMaxScaler(feature_range=(-1, 1), clip=True)"


def test_transform_does_not_modify_its_input():
    X = SCALER_DATA["normal"].copy()
    for transformer in [StandardScaler(), MinMaxScaler(), StandardScaler(with_mean=False, with_std=False)]:
        Z = transformer.fit_transform(X)
        transformer.inverse_transform(Z)
        np.testing.assert_array_equal(X, SCALER_DATA["normal"])
        assert not np.shares_memory(Z, X)


# ----------------------------------------------------------------------------------------------
# Labels, the whole preprocessing of a table, and saving them as JSON
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("labels", [["b", "a", "c", "a"], [3, 1, 2, 1], np.array(["yes", "no", "no"])])
def test_label_encoder_matches_sklearn(labels):
    ours, theirs = LabelEncoder().fit(labels), skp.LabelEncoder().fit(labels)
    assert ours.classes_.tolist() == theirs.classes_.tolist()
    np.testing.assert_array_equal(ours.transform(labels), theirs.transform(labels))
    np.testing.assert_array_equal(ours.fit_transform(labels), theirs.fit_transform(labels))
    codes = theirs.transform(labels)
    assert ours.inverse_transform(codes).tolist() == theirs.inverse_transform(codes).tolist()


def table(n=40, seed=0):
    """A scientist's table: two measurements, a text column and a numeric code column, as an object array."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, 4), dtype=object)
    X[:, 0] = rng.normal(5.0, 2.0, n)
    X[:, 1] = rng.normal(-3.0, 0.1, n)
    X[:, 2] = rng.choice(["north", "south", "east"], n)
    X[:, 3] = rng.choice([1.0, 2.0, 7.0], n)
    return X


def test_preprocessor_equals_sklearns_column_transformer_of_scaler_and_encoder():
    X_fit, X_new = table(), table(10, seed=1)
    ours = Preprocessor(categorical=["site"], dtype=None).fit(X_fit, feature_names=["a", "b", "place", "site"])
    theirs = skc.ColumnTransformer([("scale", skp.StandardScaler(), [0, 1]),
                                    ("one_hot", skp.OneHotEncoder(sparse_output=False), [2, 3])]).fit(X_fit)
    np.testing.assert_allclose(ours.transform(X_new), theirs.transform(X_new), rtol=1e-12, atol=1e-12)
    assert ours.categorical_ == [2, 3] and ours.n_features_out_ == 2 + 3 + 3
    assert ours.summary() == "one-hot: place (3 categories), site (3 categories); standardized: 2 columns"
    minmax = Preprocessor(scaler="minmax", dtype=None).fit(X_fit)
    theirs = skc.ColumnTransformer([("scale", skp.MinMaxScaler(), [0, 1, 3]),
                                    ("one_hot", skp.OneHotEncoder(sparse_output=False), [2])]).fit(X_fit)
    np.testing.assert_allclose(minmax.transform(X_new), theirs.transform(X_new), rtol=1e-12, atol=1e-12)


def test_preprocessor_of_images_scales_each_pixel_and_reshapes():
    X = RNG.normal(size=(20, 2, 3)).astype(np.float32)
    prep = Preprocessor(input_shape=(1, 6)).fit(X)
    flat = X.reshape(20, 6).astype(np.float64)
    expected = (flat - flat.mean(axis=0)) / flat.std(axis=0)
    Z = prep.transform(X)
    assert Z.shape == (20, 1, 6) and Z.dtype == np.float32 and prep.prepared_shape == (1, 6)
    np.testing.assert_allclose(Z.reshape(20, 6), expected, rtol=1e-5, atol=1e-6)
    assert Preprocessor(scaler=None).fit(X).transform(X).shape == (20, 2, 3)


def test_preprocessor_finds_reordered_columns_by_name_and_refuses_others():
    X = table()
    names = ["a", "b", "place", "site"]
    prep = Preprocessor(dtype=None).fit(X, feature_names=names)
    order = [2, 0, 3, 1]
    np.testing.assert_array_equal(prep.transform(X[:, order], feature_names=[names[j] for j in order]),
                                  prep.transform(X))
    with pytest.raises(ValueError, match="lack the column 'b' and have the unexpected column 'B'; the model's "
                                         "inputs are the columns 'a', 'b', 'place', 'site'"):
        prep.transform(X, feature_names=["a", "B", "place", "site"])
    with pytest.raises(ValueError, match="lack the columns 'place', 'site'"):
        prep.select_columns(X[:, :2], ["a", "b"])
    with pytest.raises(ValueError, match="several columns named 'a'"):
        prep.select_columns(X, ["a", "a", "place", "site"])


def test_preprocessor_keeps_class_names_in_label_encoder_order():
    prep = Preprocessor().fit(table(3), ["virginica", "setosa", "virginica"])
    assert prep.classes_.tolist() == ["setosa", "virginica"]
    assert prep.encode_targets(["setosa", "virginica"]).tolist() == [0, 1]
    given = Preprocessor(classes=["virginica", "setosa"]).fit(table(3))
    assert given.encode_targets(["setosa", "virginica"]).tolist() == [1, 0]
    assert Preprocessor().fit(table(3), [0, 1, 1]).classes_ is None
    with pytest.raises(ValueError, match=r"unknown classes \['rose'\]"):
        prep.encode_targets(["rose"])


PREPROCESSOR_MISTAKES = [
    # call, message
    (lambda: Preprocessor().fit(table(), feature_names=["a", "b"]), "feature_names has 2 names"),
    (lambda: Preprocessor(categorical=["zone"]).fit(table(), feature_names=["a", "b", "c", "d"]),
     "categorical names the column 'zone', but the columns are 'a', 'b', 'c', 'd'"),
    (lambda: Preprocessor(categorical=["zone"]).fit(table()), "the data have no column names"),
    (lambda: Preprocessor(scaler="robust").fit([[1.0]]), "scaler must be 'standard', 'minmax'"),
    (lambda: Preprocessor(input_shape=(2, 2)).fit(table()), r"data.input_shape\) \[2, 2\] holds 4 values but "
                                                           "each prepared sample has 6"),
    (lambda: Preprocessor().fit(table()).transform(table()[:, :3]), "expects 4 columns per sample"),
    (lambda: Preprocessor().fit([[1.0, 2.0]]).transform([[1.0]]), "expects 2 input values per sample"),
    (lambda: Preprocessor().fit(table(), feature_names=["a", "b", "c", "d"]).transform(
        np.array([[1.0, "x", "north", 1.0]], dtype=object)), "column 'b' holds 'x' at row 0; which is not a number"),
    (lambda: Preprocessor().fit(table(), feature_names=["a", "b", "c", "d"]).transform(
        np.array([[1.0, 2.0, "west", 1.0]], dtype=object)), r"unknown categories \['west'\] in column 'c'"),
    (lambda: Preprocessor().fit([[1.0], [np.inf]]), "column 0 holds inf at row 1; the data must be finite"),
    (lambda: Preprocessor().fit(np.ones((2, 2), complex)), "Complex data not supported: X is complex128"),
    (lambda: Preprocessor().fit([[1.0, 2.0]]).encode_targets(["a"]), "the targets are text"),
    (lambda: Preprocessor(scaler=StandardScaler()).fit([[1.0]]), "StandardScaler is not fitted yet"),
    (lambda: Preprocessor(scaler=StandardScaler().fit([[1.0, 2.0]])).fit([[1.0]]), "fitted on 2 features"),
    (lambda: Preprocessor(scaler=np.std).fit([[1.0]]), "scaler must be a fitted StandardScaler or MinMaxScaler"),
]


@pytest.mark.parametrize("call, message", PREPROCESSOR_MISTAKES)
def test_preprocessor_mistakes_name_the_problem(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_preprocessor_takes_sklearns_fitted_scalers_as_they_are():
    X = SCALER_DATA["mixed magnitudes"]
    for scaler in (skp.StandardScaler().fit(X), skp.MinMaxScaler((-1, 2), clip=True).fit(X)):
        for prep in (Preprocessor(scaler=scaler, dtype=None).fit(X), Preprocessor.from_scaler(scaler)):
            np.testing.assert_allclose(prep.transform(X), scaler.transform(X), rtol=1e-12, atol=1e-12)


def json_round_trip(transformer):
    """``from_dict`` of ``to_dict`` after a trip through JSON text, as a model file's header makes it."""
    return type(transformer).from_dict(json.loads(json.dumps(transformer.to_dict(), allow_nan=False)))


SAVED = {
    "standard": (lambda: StandardScaler().fit(SCALER_DATA["float32"]), SCALER_DATA["float32"]),
    "standard without mean": (lambda: StandardScaler(with_mean=False).fit(SCALER_DATA["normal"]),
                              SCALER_DATA["normal"]),
    "minmax": (lambda: MinMaxScaler((-1, 1), clip=True).fit(SCALER_DATA["mixed magnitudes"]),
               SCALER_DATA["mixed magnitudes"]),
    "one hot": (lambda: OneHotEncoder(handle_unknown="ignore").fit(table()[:, 2:]), table(5, seed=3)[:, 2:]),
    "labels": (lambda: LabelEncoder().fit(["b", "a", "c"]), ["c", "a"]),
    "table": (lambda: Preprocessor(categorical=[3], classes=["no", "yes"]).fit(table(), feature_names=list("abcd")),
              table(5, seed=3)),
    "images": (lambda: Preprocessor(scaler="minmax", input_shape=(3, 2)).fit(SCALER_DATA["normal"][:, [0, 1, 2] * 2]),
               SCALER_DATA["normal"][:5, [0, 1, 2] * 2]),
}


@pytest.mark.parametrize("name", SAVED)
def test_saved_transformers_come_back_exactly(name):
    make, X = SAVED[name]
    fitted = make()
    again = json_round_trip(fitted)
    assert type(again) is type(fitted)
    np.testing.assert_array_equal(again.transform(X), fitted.transform(X))
    assert again.to_dict() == fitted.to_dict()


def test_the_first_record_of_nablanet_train_still_reads():
    # What `nablanet train` saved before the Preprocessor: a standardization of every value.
    record = {"standardize": True, "input_shape": [], "dtype": "float32", "n_features": 2, "mean": [1.0, -2.0],
              "scale": [2.0, 0.5]}
    prep = Preprocessor.from_dict(record)
    assert prep.transform(np.array([[3.0, -1.0]])).tolist() == [[1.0, 2.0]]
    assert Preprocessor.from_dict(dict(record, standardize=False, mean=None, scale=None)).scaler_ is None


def _record_with(change):
    record = Preprocessor(categorical=[3]).fit(table(), feature_names=list("abcd")).to_dict()
    change(record)
    return record


SAVED_MISTAKES = [
    # change of a good Preprocessor record, message
    (lambda r: r.update(type="Pipeline"), "expected a saved Preprocessor .* got type 'Pipeline'"),
    (lambda r: r.pop("scaler"), "the entry 'scaler' is missing"),
    (lambda r: r["scaler"].update(scale=[1.0, 0.0]), "StandardScaler: scale must hold numbers > 0, got 0"),
    (lambda r: r["scaler"].update(mean=[1.0]), "StandardScaler: mean must be a list of 2 numbers"),
    (lambda r: r["scaler"].update(mean=["1", "2"]), "StandardScaler: mean must be a list of 2 numbers"),
    (lambda r: r["scaler"].update(with_std="yes"), "with_std must be true or false"),
    (lambda r: r.update(scaler=StandardScaler().fit(np.ones((2, 3))).to_dict()),
     "the scaler has 3 features but the data have 2"),
    (lambda r: r.update(scaler={"type": "Evil"}), "scaler must be a saved StandardScaler or MinMaxScaler"),
    (lambda r: r["encoder"]["categories"].__setitem__(0, ["a", "a"]), r"categories\[0\] holds duplicates"),
    (lambda r: r["encoder"]["categories"].__setitem__(0, ["a", 1]), "only strings or only numbers"),
    (lambda r: r["encoder"].update(dtype="object"), "dtype must name a numeric dtype"),
    (lambda r: r.update(categorical=[3, 2]), "categorical must list distinct column positions 0 .. 3 in order"),
    (lambda r: r.update(categorical=[3, 9]), "categorical must list distinct column positions"),
    (lambda r: r.update(categorical=[3]), "the encoder has 2 columns but categorical names 1"),
    (lambda r: r.update(feature_names_in=["a", "a", "c", "d"]), "holds a name twice"),
    (lambda r: r.update(sample_shape=[5]), r"sample_shape \[5\] does not hold n_features_in = 4"),
    (lambda r: r.update(input_shape=[3]), r"input_shape \[3\] does not hold the 8 prepared values"),
    (lambda r: r.update(input_shape=[-1]), "input_shape must be a list of at most 32 positive integers"),
    (lambda r: r.update(dtype="object"), "dtype must be one of float16, float32, float64 or null"),
    (lambda r: r.update(classes=[]), "classes must be a non-empty list"),
    (lambda r: r.update(n_features_in=True), "n_features_in must be an integer >= 1"),
]


@pytest.mark.parametrize("change, message", SAVED_MISTAKES)
def test_saved_records_with_a_bad_entry_are_refused_naming_it(change, message):
    with pytest.raises(ValueError, match=message):
        Preprocessor.from_dict(_record_with(change))


# ----------------------------------------------------------------------------------------------
# Splits
# ----------------------------------------------------------------------------------------------

X_SPLIT = np.arange(200).reshape(100, 2)
Y_SPLIT = np.repeat([0, 1, 2], [50, 30, 20])  # imbalanced classes: 50%, 30%, 20%


@pytest.mark.parametrize("val_size, test_size, sizes", [
    (0.2, 0.2, (60, 20, 20)),
    (0.15, 0.25, (60, 15, 25)),
    (0.101, 0.101, (78, 11, 11)),  # fractions round up, as scikit-learn's test_size
    (10, 30, (60, 10, 30)),
])
@pytest.mark.parametrize("stratify", [None, Y_SPLIT])
def test_train_val_test_split_equals_two_sklearn_splits(val_size, test_size, sizes, stratify):
    parts = train_val_test_split(X_SPLIT, Y_SPLIT, val_size=val_size, test_size=test_size, stratify=stratify, rng=7)
    X_train, X_val, X_test, y_train, y_val, y_test = parts
    assert (len(X_train), len(X_val), len(X_test)) == sizes
    # The same split by hand: test off first, then validation off the rest, same random_state.
    n_test, n_val = sizes[2], sizes[1]
    X_rest, X_test_ref, y_rest, y_test_ref = skms.train_test_split(
        X_SPLIT, Y_SPLIT, test_size=n_test, stratify=stratify, random_state=7)
    X_train_ref, X_val_ref, y_train_ref, y_val_ref = skms.train_test_split(
        X_rest, y_rest, test_size=n_val, stratify=None if stratify is None else y_rest, random_state=7)
    for ours, reference in zip(parts, [X_train_ref, X_val_ref, X_test_ref, y_train_ref, y_val_ref, y_test_ref]):
        np.testing.assert_array_equal(ours, reference)
    # Disjoint parts covering every sample, with rows still paired with their labels.
    rows = np.concatenate([X_train[:, 0], X_val[:, 0], X_test[:, 0]]) // 2
    assert sorted(rows.tolist()) == list(range(100))
    for X_part, y_part in [(X_train, y_train), (X_val, y_val), (X_test, y_test)]:
        np.testing.assert_array_equal(y_part, Y_SPLIT[X_part[:, 0] // 2])


@pytest.mark.parametrize("seed", range(5))
def test_stratified_split_keeps_class_proportions(seed):
    parts = train_val_test_split(X_SPLIT, Y_SPLIT, val_size=0.2, test_size=0.2, stratify=Y_SPLIT, rng=seed)
    for y_part in parts[3:]:
        counts = np.bincount(y_part, minlength=3)
        expected = np.array([0.5, 0.3, 0.2]) * len(y_part)
        assert np.all(np.abs(counts - expected) <= 1), (counts, expected)


def test_split_rng_generator_is_reproducible_and_shuffle_false_keeps_order():
    first = train_val_test_split(X_SPLIT, rng=np.random.default_rng(3))
    again = train_val_test_split(X_SPLIT, rng=np.random.default_rng(3))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    train, val, test = train_val_test_split(X_SPLIT, shuffle=False)
    np.testing.assert_array_equal(np.concatenate([train, val, test]), X_SPLIT)


@pytest.mark.parametrize("kwargs, message", [
    (dict(val_size=0.5, test_size=0.5), "leaving none for training"),
    (dict(val_size=0.0), "val_size must be a fraction"),
    (dict(test_size=1.0), "test_size must be a fraction"),
    (dict(test_size=100), r"test_size=100 must be between 1 and 99"),
    (dict(val_size="10%"), "val_size must be a fraction"),
])
def test_split_size_mistakes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        train_val_test_split(X_SPLIT, Y_SPLIT, **kwargs)


def test_split_needs_arrays_of_equal_length():
    with pytest.raises(ValueError):
        train_val_test_split(X_SPLIT, Y_SPLIT[:50])
    with pytest.raises(ValueError, match="at least one array"):
        train_val_test_split()


@pytest.mark.parametrize("n_splits", [2, 3, 7])
@pytest.mark.parametrize("shuffle, rng", [(False, None), (True, 11)])
@pytest.mark.parametrize("stratified", [False, True])
def test_k_fold_equals_sklearn_and_holds_out_each_sample_once(n_splits, shuffle, rng, stratified):
    folds = k_fold(X_SPLIT, n_splits=n_splits, stratify=Y_SPLIT if stratified else None, shuffle=shuffle, rng=rng)
    if stratified:
        splitter = skms.StratifiedKFold(n_splits, shuffle=shuffle, random_state=rng)
    else:
        splitter = skms.KFold(n_splits, shuffle=shuffle, random_state=rng)
    reference = list(splitter.split(X_SPLIT, Y_SPLIT))
    assert len(folds) == n_splits
    for (train, val), (train_ref, val_ref) in zip(folds, reference):
        np.testing.assert_array_equal(train, train_ref)
        np.testing.assert_array_equal(val, val_ref)
        assert sorted(np.concatenate([train, val]).tolist()) == list(range(100))
    held_out = np.concatenate([val for _, val in folds])
    assert sorted(held_out.tolist()) == list(range(100))
    if stratified:
        for _, val in folds:
            counts = np.bincount(Y_SPLIT[val], minlength=3)
            assert np.all(np.abs(counts - np.array([0.5, 0.3, 0.2]) * len(val)) <= 1)


def test_k_fold_takes_a_sample_count():
    assert [val.tolist() for _, val in k_fold(5, n_splits=2)] == [[0, 1, 2], [3, 4]]


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_splits=1), "n_splits must be an integer between 2"),
    (dict(n_splits=101), "n_splits must be an integer between 2"),
    (dict(n_splits=2.0), "n_splits must be an integer between 2"),
    (dict(rng=0), "rng has no effect without shuffle=True"),
    (dict(stratify=Y_SPLIT[:10]), r"one label per sample, shape \(100,\)"),
])
def test_k_fold_mistakes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        k_fold(X_SPLIT, **kwargs)


def test_splits_without_sklearn_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.model_selection", None)
    for call in [lambda: train_val_test_split(X_SPLIT), lambda: k_fold(X_SPLIT)]:
        with pytest.raises(ImportError, match=r"needs scikit-learn.*pip install 'nablanet\[data\]'"):
            call()


def test_modules_import_and_core_features_work_without_optional_dependencies():
    # A fresh interpreter in which scikit-learn and mnist1d cannot be imported: the scalers, the
    # encoder and the generated data sets must not need them.
    script = textwrap.dedent("""
        import sys
        for name in ["sklearn", "mnist1d"]:
            sys.modules[name] = None
        import numpy as np
        from nablanet.datasets import gate, make_franke
        from nablanet.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler
        X, y = make_franke(10, rng=0)
        StandardScaler().fit_transform(X); MinMaxScaler().fit_transform(X)
        OneHotEncoder().fit_transform(gate("xor")[0])
        try:
            from nablanet.datasets import load_digits
            load_digits()
        except ImportError as error:
            print(error)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "load_digits needs scikit-learn" in result.stdout
