"""Metrics against scikit-learn as the oracle (note the argument order: ours is (predictions, targets))."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sklearn_metrics = pytest.importorskip("sklearn.metrics")

from nablanet import Tensor  # noqa: E402
from nablanet.train.metrics import accuracy, confusion_matrix, get_metric, mae, mse, r2  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_accuracy_multiclass_logits_labels_and_one_hot(rng):
    logits = rng.normal(size=(200, 5)).astype(np.float32)
    labels = rng.integers(0, 5, size=200)
    expected = sklearn_metrics.accuracy_score(labels, logits.argmax(axis=1))
    assert accuracy(logits, labels) == pytest.approx(expected)
    assert accuracy(logits, np.eye(5)[labels]) == pytest.approx(expected)
    assert accuracy(logits, labels[:, None]) == pytest.approx(expected)
    assert accuracy(Tensor(logits), labels) == pytest.approx(expected)


def test_accuracy_binary_probabilities_threshold_half(rng):
    probabilities = rng.uniform(size=300)
    labels = rng.integers(0, 2, size=300)
    expected = sklearn_metrics.accuracy_score(labels, probabilities > 0.5)
    assert accuracy(probabilities, labels) == pytest.approx(expected)
    assert accuracy(probabilities[:, None], labels[:, None]) == pytest.approx(expected)


def test_accuracy_binary_logits_threshold_zero_and_plus_minus_one_labels(rng):
    logits = rng.normal(size=300)
    labels = rng.integers(0, 2, size=300)
    expected = sklearn_metrics.accuracy_score(labels, logits > 0)
    assert accuracy(logits, labels, threshold=0.0) == pytest.approx(expected)
    assert get_metric("accuracy", from_logits=True)(logits, labels) == pytest.approx(expected)
    # hinge labels -1/+1 name the same classes as 0/1
    assert accuracy(logits, 2 * labels - 1, threshold=0.0) == pytest.approx(expected)


def test_accuracy_of_integer_predictions_compares_labels():
    assert accuracy(np.array([0, 2, 1, 1]), np.array([0, 2, 2, 1])) == 0.75


def test_accuracy_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="classes"):
        accuracy(np.zeros((4, 3)), np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="whole numbers"):
        accuracy(np.zeros((2, 3)), np.array([0.5, 1.0]))


def test_confusion_matrix_matches_sklearn(rng):
    logits = rng.normal(size=(500, 4))
    labels = rng.integers(0, 4, size=500)
    expected = sklearn_metrics.confusion_matrix(labels, logits.argmax(axis=1), labels=range(4))
    np.testing.assert_array_equal(confusion_matrix(logits, labels), expected)
    np.testing.assert_array_equal(confusion_matrix(logits, labels, num_classes=6)[:4, :4], expected)


def test_binary_confusion_matrix_matches_sklearn(rng):
    probabilities = rng.uniform(size=100)
    labels = rng.integers(0, 2, size=100)
    expected = sklearn_metrics.confusion_matrix(labels, (probabilities > 0.5).astype(int), labels=[0, 1])
    np.testing.assert_array_equal(confusion_matrix(probabilities, labels), expected)
    with pytest.raises(ValueError, match="num_classes"):
        confusion_matrix(np.zeros((3, 4)), np.array([0, 1, 3]), num_classes=2)


def test_mse_mae_and_r2_match_sklearn(rng):
    targets = rng.normal(size=(150, 3))
    predictions = targets + 0.3 * rng.normal(size=(150, 3))
    assert mse(predictions, targets) == pytest.approx(sklearn_metrics.mean_squared_error(targets, predictions))
    assert mae(predictions, targets) == pytest.approx(sklearn_metrics.mean_absolute_error(targets, predictions))
    assert r2(predictions, targets) == pytest.approx(sklearn_metrics.r2_score(targets, predictions))


def test_column_vector_against_flat_vector_is_one_output_not_a_broadcast(rng):
    targets = rng.normal(size=50)
    predictions = (targets + 0.1 * rng.normal(size=50)).astype(np.float32)
    expected = sklearn_metrics.r2_score(targets, predictions)
    assert r2(predictions[:, None], targets) == pytest.approx(expected, rel=1e-6)
    assert mse(predictions[:, None], targets) == pytest.approx(
        sklearn_metrics.mean_squared_error(targets, predictions), rel=1e-6)
    with pytest.raises(ValueError, match="differ"):
        mse(np.zeros((5, 2)), np.zeros(5))


def test_r2_with_a_constant_target_follows_sklearn():
    targets = np.array([[1.0, 2.0], [1.0, 3.0], [1.0, 5.0]])
    exact_first = np.array([[1.0, 2.5], [1.0, 3.0], [1.0, 4.0]])
    off_first = exact_first + np.array([[0.5, 0.0]])
    assert r2(exact_first, targets) == pytest.approx(sklearn_metrics.r2_score(targets, exact_first))
    assert r2(off_first, targets) == pytest.approx(sklearn_metrics.r2_score(targets, off_first))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 40), classes=st.integers(2, 6))
def test_random_cases_agree_with_sklearn(seed, n, classes):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, classes))
    labels = rng.integers(0, classes, size=n)
    predicted = logits.argmax(axis=1)
    assert accuracy(logits, labels) == pytest.approx(sklearn_metrics.accuracy_score(labels, predicted))
    np.testing.assert_array_equal(confusion_matrix(logits, labels, num_classes=classes),
                                  sklearn_metrics.confusion_matrix(labels, predicted, labels=range(classes)))
    targets = rng.normal(size=n)
    predictions = rng.normal(size=n)
    assert r2(predictions, targets) == pytest.approx(sklearn_metrics.r2_score(targets, predictions))


def test_get_metric_names_and_errors():
    assert get_metric("acc") is accuracy
    assert get_metric("r2_score") is r2
    assert get_metric("mean_squared_error") is mse
    assert get_metric(len) is len
    assert get_metric("confusion_matrix", from_logits=True).__name__ == "confusion_matrix"
    with pytest.raises(ValueError, match="unknown metric"):
        get_metric("f2")


# --- weighted metrics: scikit-learn's sample_weight ------------------------------------------------------

def test_weighted_metrics_equal_scikit_learns(rng):
    weights = rng.uniform(0.0, 2.0, 120)
    logits = rng.normal(size=(120, 4))
    labels = rng.integers(0, 4, 120)
    predicted = logits.argmax(axis=1)
    assert accuracy(logits, labels, sample_weight=weights) == pytest.approx(
        sklearn_metrics.accuracy_score(labels, predicted, sample_weight=weights), rel=1e-12)
    np.testing.assert_allclose(confusion_matrix(logits, labels, sample_weight=weights),
                               sklearn_metrics.confusion_matrix(labels, predicted, sample_weight=weights), rtol=1e-12)
    values, targets = rng.normal(size=(120, 3)), rng.normal(size=(120, 3))
    assert mse(values, targets, sample_weight=weights) == pytest.approx(
        sklearn_metrics.mean_squared_error(targets, values, sample_weight=weights), rel=1e-12)
    assert mae(values, targets, sample_weight=weights) == pytest.approx(
        sklearn_metrics.mean_absolute_error(targets, values, sample_weight=weights), rel=1e-12)
    assert r2(values, targets, sample_weight=weights) == pytest.approx(
        sklearn_metrics.r2_score(targets, values, sample_weight=weights), rel=1e-12)
    assert r2(values[:, 0], targets[:, 0], sample_weight=weights) == pytest.approx(
        sklearn_metrics.r2_score(targets[:, 0], values[:, 0], sample_weight=weights), rel=1e-12)


def test_weighted_metrics_refuse_weights_that_count_nothing_or_do_not_fit():
    with pytest.raises(ValueError, match="accuracy: the sample weights sum to zero"):
        accuracy(np.array([0.9, 0.1]), np.array([1, 0]), sample_weight=np.zeros(2))
    with pytest.raises(ValueError, match=r"r2: sample_weight must be a vector of one weight per sample, shape \(3,\)"):
        r2(np.ones(3), np.arange(3.0), sample_weight=np.ones(2))
    # The confusion matrix sums weights, so it is float; unweighted it stays integer counts.
    assert confusion_matrix(np.array([0.9, 0.1]), np.array([1, 0])).dtype == np.int64
    assert confusion_matrix(np.array([0.9, 0.1]), np.array([1, 0]), sample_weight=[0.5, 2.0]).tolist() == [
        [2.0, 0.0], [0.0, 0.5]]
