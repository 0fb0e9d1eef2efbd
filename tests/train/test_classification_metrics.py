"""Precision, recall, F1, ROC AUC, top-k accuracy (train/classification.py) and R^2 against sklearn.metrics on
hypothesis-drawn inputs (scores from a few values, so ties are common), weighted and not; then by name in fit."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

sklearn_metrics = pytest.importorskip("sklearn.metrics")

from nablanet import nn  # noqa: E402
from nablanet.optim import Adam  # noqa: E402
from nablanet.train import fit, predict  # noqa: E402
from nablanet.train.callbacks import EarlyStopping  # noqa: E402
from nablanet.train.metrics import (  # noqa: E402
    HIGHER_IS_BETTER,
    METRICS,
    f1,
    fbeta,
    get_metric,
    precision,
    r2,
    recall,
    roc_auc,
    top_k_accuracy,
)

TOL = dict(rel=1e-12, abs=1e-12)
EXAMPLES = settings(max_examples=60, deadline=None)
PRF = {"precision": (precision, sklearn_metrics.precision_score), "recall": (recall, sklearn_metrics.recall_score),
       "f1": (f1, sklearn_metrics.f1_score)}


def _softmax(z):
    # Max-subtracted, as roc_auc computes it, so that rows tied in their logits are tied in their probabilities.
    shifted = np.exp(z - z.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


@st.composite
def labelled(draw, min_classes=2, max_classes=5, tied=True):
    """(scores (N, K), labels (N,), weights or None): scores from a handful of values when ``tied``."""
    classes = draw(st.integers(min_classes, max_classes))
    n = draw(st.integers(2, 40))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    scores = rng.integers(-2, 3, size=(n, classes)).astype(float) if tied else rng.normal(size=(n, classes))
    labels = rng.integers(0, classes, size=n)
    weights = rng.uniform(0.1, 3.0, size=n) if draw(st.booleans()) else None
    return scores, labels, weights


@EXAMPLES
@given(data=labelled(), score=st.sampled_from(sorted(PRF)), average=st.sampled_from(["macro", "micro", "weighted"]))
def test_multiclass_precision_recall_f1_match_sklearn(data, score, average):
    scores, labels, weights = data
    ours, theirs = PRF[score]
    expected = theirs(labels, scores.argmax(axis=1), average=average, sample_weight=weights, zero_division=0)
    assert ours(scores, labels, average=average, sample_weight=weights) == pytest.approx(expected, **TOL)
    # The same by name, and from integer predictions.
    assert METRICS[f"{score}_{average}"](scores.argmax(axis=1), labels, sample_weight=weights) == pytest.approx(
        expected, **TOL)
    expected_f2 = sklearn_metrics.fbeta_score(labels, scores.argmax(axis=1), beta=2.0, average=average,
                                              sample_weight=weights, zero_division=0)
    assert fbeta(scores, labels, beta=2.0, average=average, sample_weight=weights) == pytest.approx(expected_f2, **TOL)


@EXAMPLES
@given(data=labelled(max_classes=2, tied=False), score=st.sampled_from(sorted(PRF)), logits=st.booleans())
def test_binary_precision_recall_f1_match_sklearn(data, score, logits):
    scores, labels, weights = data
    threshold = 0.0 if logits else 0.5
    column = scores[:, 0] if logits else 1.0 / (1.0 + np.exp(-scores[:, 0]))
    ours, theirs = PRF[score]
    expected = theirs(labels, (column > threshold).astype(int), sample_weight=weights, zero_division=0)
    # One column of scores: average "binary" by default, class 1 positive.
    assert ours(column, labels, threshold=threshold, sample_weight=weights) == pytest.approx(expected, **TOL)
    assert get_metric(score, from_logits=logits)(column[:, None], labels[:, None], sample_weight=weights) == \
        pytest.approx(expected, **TOL)
    flipped = theirs(labels, (column > threshold).astype(int), pos_label=0, zero_division=0)
    assert ours(column, labels, threshold=threshold, pos_label=0) == pytest.approx(flipped, **TOL)


@EXAMPLES
@given(data=labelled(max_classes=2))
def test_binary_roc_auc_with_ties_matches_sklearn(data):
    scores, labels, weights = data
    assume(0 < labels.sum() < labels.size)
    expected = sklearn_metrics.roc_auc_score(labels, scores[:, 0], sample_weight=weights)
    assert roc_auc(scores[:, 0], labels, sample_weight=weights) == pytest.approx(expected, **TOL)
    # Two columns: the second is the positive class's; with from_logits their softmax's, sigmoid(z_1 - z_0),
    # which orders (and ties) the rows as z_1 - z_0 does.
    expected_two = sklearn_metrics.roc_auc_score(labels, scores[:, 1] - scores[:, 0], sample_weight=weights)
    assert roc_auc(scores, labels, from_logits=True, sample_weight=weights) == pytest.approx(expected_two, **TOL)
    assert roc_auc(_softmax(scores), labels, sample_weight=weights) == pytest.approx(expected_two, **TOL)


@EXAMPLES
@given(data=labelled(min_classes=3), average=st.sampled_from(["macro", "weighted"]))
def test_one_vs_rest_roc_auc_with_ties_matches_sklearn(data, average):
    scores, labels, weights = data
    classes = scores.shape[1]
    assume(np.unique(labels).size == classes)
    probabilities = _softmax(scores)
    expected = sklearn_metrics.roc_auc_score(labels, probabilities, multi_class="ovr", average=average,
                                             sample_weight=weights)
    assert roc_auc(probabilities, labels, average=average, sample_weight=weights) == pytest.approx(expected, **TOL)
    assert roc_auc(scores, np.eye(classes)[labels], average=average, from_logits=True, sample_weight=weights) == \
        pytest.approx(expected, **TOL)
    name = "roc_auc_ovr" if average == "macro" else "roc_auc_ovr_weighted"
    assert get_metric(name, from_logits=True)(scores, labels, sample_weight=weights) == pytest.approx(expected, **TOL)


@pytest.mark.filterwarnings("ignore:'k' .* greater than or equal to 'n_classes'")  # k = K: every sample hits
@EXAMPLES
@given(data=labelled(min_classes=3, max_classes=6), k=st.integers(1, 6))
def test_top_k_accuracy_with_ties_matches_sklearn(data, k):
    scores, labels, weights = data
    classes = scores.shape[1]
    expected = sklearn_metrics.top_k_accuracy_score(labels, scores, k=min(k, classes), labels=range(classes),
                                                    sample_weight=weights)
    assert top_k_accuracy(scores, labels, k=min(k, classes), sample_weight=weights) == pytest.approx(expected, **TOL)


@EXAMPLES
@given(seed=st.integers(0, 2**16), n=st.integers(2, 30), outputs=st.integers(1, 3), weighted=st.booleans(),
       constant=st.booleans())
def test_r2_matches_sklearn(seed, n, outputs, weighted, constant):
    rng = np.random.default_rng(seed)
    targets = rng.normal(size=(n, outputs))
    if constant:
        targets[:, 0] = 1.5  # scikit-learn's force_finite rule for a constant output
    predictions = targets + rng.normal(size=(n, outputs)) * rng.uniform(0.0, 2.0)
    weights = rng.uniform(0.1, 2.0, size=n) if weighted else None
    expected = sklearn_metrics.r2_score(targets, predictions, sample_weight=weights)
    assert r2(predictions, targets, sample_weight=weights) == pytest.approx(expected, **TOL)


def test_undefined_cases_are_errors_or_zero_as_sklearn():
    with pytest.raises(ValueError, match="only one class, so the ROC AUC is not defined"):
        roc_auc(np.array([0.2, 0.4]), np.array([1, 1]))
    with pytest.raises(ValueError, match=r"class 2 against the rest\): the targets hold only one class"):
        roc_auc(np.full((3, 3), 1 / 3), np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="average='binary' needs two classes, got labels \\[0, 1, 2\\]"):
        f1(np.array([0, 1, 2]), np.array([0, 1, 1]), average="binary")
    with pytest.raises(ValueError, match="average must be one of binary, macro, micro, weighted or None"):
        recall(np.array([0, 1]), np.array([0, 1]), average="samples")
    with pytest.raises(ValueError, match="k must be a whole number >= 1"):
        top_k_accuracy(np.zeros((2, 3)), np.array([0, 1]), k=0)
    # Nothing predicted positive: precision 0 (scikit-learn's zero_division=0).
    assert precision(np.array([0.1, 0.2]), np.array([1, 0])) == 0.0


def test_the_new_scores_are_higher_is_better_and_fit_reports_them_by_name():
    for name in ("f1", "f1_macro", "precision_weighted", "recall_micro", "roc_auc", "roc_auc_ovr", "top_k_accuracy",
                 "top_5_accuracy", "r2", "accuracy"):
        assert name in HIGHER_IS_BETTER, name
    assert "mse" not in HIGHER_IS_BETTER and EarlyStopping("val_f1_macro").mode == "max"
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=90)
    X = rng.normal(size=(90, 2)) + 1.5 * np.stack([np.cos(2.1 * y), np.sin(2.1 * y)], axis=1)
    model = nn.Sequential(nn.Dense(2, 3, rng=np.random.default_rng(1)))
    X_val, y_val = X[60:], y[60:]
    history = fit(model, X[:60], y[:60], loss="cross_entropy", optimizer=Adam(model.parameters(), lr=0.05),
                  epochs=3, batch_size=20, seed=0, progress=False, metrics=["f1_macro", "top_k_accuracy"],
                  validation_data=(X_val, y_val), validation_metrics=["roc_auc_ovr", "precision_micro"])
    logits = np.asarray(predict(model, X_val))
    probabilities = _softmax(logits)
    # The logits of cross_entropy: roc_auc takes their softmax, as scikit-learn takes probabilities.
    assert history["val_roc_auc_ovr"][-1] == pytest.approx(
        sklearn_metrics.roc_auc_score(y_val, probabilities, multi_class="ovr"), **TOL)
    assert history["val_f1_macro"][-1] == pytest.approx(
        sklearn_metrics.f1_score(y_val, logits.argmax(axis=1), average="macro"), **TOL)
    assert history["val_precision_micro"][-1] == pytest.approx(
        sklearn_metrics.accuracy_score(y_val, logits.argmax(axis=1)), **TOL)
    assert len(history["top_k_accuracy"]) == 3
