"""The estimators give the numbers they gave before they moved onto fit's penalty and callbacks.

The values in estimators_reference.json were recorded from the single-module nablanet/estimators.py
(main at 4801441, before nablanet.sklearn existed) by running this file as a script:

    PYTHONPATH=src python tests/test_estimators_unchanged.py --record

Each case fits a few epochs with a fixed random_state and keeps what a user sees: loss_curve_ (or
loss_), n_iter_, t_, best_loss_, the validation scores, the learning rate the optimizer ended at, and
the predictions for the first 20 rows. Re-record only for a change of behaviour made on purpose, and
say so in the commit. The estimators are imported by their first path, nablanet.estimators, so that
this file runs as it is on the commit it was recorded from (and on main after it: the same numbers).
"""

import functools
import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from nablanet import optim
from nablanet.estimators import LogisticRegression, MLPClassifier, MLPRegressor

REFERENCE = Path(__file__).with_name("estimators_reference.json")


def _data(kind: str):
    """60 rows of 4 standardized features, with targets of each kind the estimators take."""
    if kind in ("multiclass", "binary"):
        X, y = make_classification(n_samples=60, n_features=4, n_informative=3, n_redundant=0,
                                   n_classes=3 if kind == "multiclass" else 2, random_state=1)
    elif kind == "multilabel":
        X, y = make_multilabel_classification(n_samples=60, n_features=4, n_classes=3, random_state=1)
    elif kind == "regression":
        X, y = make_regression(n_samples=60, n_features=4, n_targets=2, noise=2.0, random_state=1)
        y = y / 100.0
    else:  # counts
        rng = np.random.default_rng(1)
        X = rng.standard_normal((60, 4))
        y = rng.poisson(np.exp(0.4 * X @ np.array([1.0, -0.5, 0.3, 0.0]))).astype(float)
    return StandardScaler().fit_transform(X), y


def _quartic(predictions, targets):
    return ((predictions - targets) ** 4).mean()


CASES = {
    # name: (estimator class, data, parameters, how it is fitted)
    "sgd, short last batch, strong alpha, shuffled": (
        MLPClassifier, "multiclass", dict(solver="sgd", hidden_layer_sizes=(7,), batch_size=25, alpha=3.0,
                                          learning_rate_init=0.05, max_iter=8), "fit"),
    "adam, l1 and alpha, binary": (
        MLPClassifier, "binary", dict(hidden_layer_sizes=(6,), alpha=0.1, l1=0.02, learning_rate_init=0.02,
                                      batch_size=16, max_iter=10), "fit"),
    "adaptive learning rate": (
        MLPRegressor, "regression", dict(solver="sgd", momentum=0.0, learning_rate="adaptive", tol=0.05,
                                         n_iter_no_change=1, learning_rate_init=0.05, max_iter=20, shuffle=False),
        "fit"),
    "adaptive with momentum and a tiny rate: stops below 1e-6": (
        MLPRegressor, "regression", dict(solver="sgd", learning_rate="adaptive", tol=10.0, n_iter_no_change=1,
                                         learning_rate_init=1e-4, max_iter=40), "fit"),
    "invscaling": (
        MLPClassifier, "multiclass", dict(solver="sgd", momentum=0.0, learning_rate="invscaling", power_t=0.25,
                                          learning_rate_init=0.5, max_iter=6), "fit"),
    "training loss stalls": (
        MLPClassifier, "binary", dict(solver="sgd", tol=0.02, n_iter_no_change=2, learning_rate_init=0.05,
                                      max_iter=50, shuffle=False), "fit"),
    "tol = 0, n_iter_no_change = inf": (
        MLPClassifier, "binary", dict(solver="sgd", tol=0.0, n_iter_no_change=np.inf, learning_rate_init=0.05,
                                      max_iter=7), "fit"),
    "early stopping on accuracy, shuffled": (
        MLPClassifier, "multiclass", dict(solver="sgd", early_stopping=True, validation_fraction=0.2,
                                          n_iter_no_change=2, learning_rate_init=0.05, max_iter=40), "fit"),
    "early stopping on R^2 with adaptive rate": (
        MLPRegressor, "regression", dict(solver="sgd", early_stopping=True, n_iter_no_change=2, tol=0.01,
                                         learning_rate="adaptive", learning_rate_init=0.2, max_iter=40), "fit"),
    "early stopping, multi-label": (
        MLPClassifier, "multilabel", dict(early_stopping=True, n_iter_no_change=3, learning_rate_init=0.05,
                                          max_iter=30), "fit"),
    "partial_fit three times": (
        MLPClassifier, "multiclass", dict(hidden_layer_sizes=(5,), batch_size=20, alpha=0.5), "partial_fit"),
    "warm start twice": (
        MLPRegressor, "regression", dict(solver="sgd", warm_start=True, learning_rate="invscaling",
                                         learning_rate_init=0.1, max_iter=3), "fit twice"),
    "lbfgs with alpha": (
        MLPClassifier, "multiclass", dict(solver="lbfgs", hidden_layer_sizes=(10,), alpha=0.3, max_iter=30), "fit"),
    "lbfgs with l1, two outputs": (
        MLPRegressor, "regression", dict(solver="lbfgs", hidden_layer_sizes=(6,), l1=0.5, alpha=0.01,
                                         max_iter=40), "fit"),
    "lbfgs with max_fun": (
        MLPRegressor, "counts", dict(solver="lbfgs", loss="poisson", hidden_layer_sizes=(4,), max_fun=12), "fit"),
    "logistic regression, lbfgs": (LogisticRegression, "multiclass", dict(C=0.5), "fit"),
    "logistic regression, sgd": (
        LogisticRegression, "binary", dict(solver="sgd", learning_rate_init=0.05, max_iter=15, batch_size=16), "fit"),
    "float32, batch norm, dropout": (
        MLPRegressor, "regression", dict(solver="sgd", batch_norm=True, dropout=0.1, dtype="float32",
                                         learning_rate_init=0.02, batch_size=20, alpha=0.01, max_iter=6), "fit"),
    "rmsprop, he_normal, clip_norm, multi-label": (
        MLPClassifier, "multilabel", dict(solver="rmsprop", init="he_normal", clip_norm=0.5, l1=1e-3,
                                          learning_rate_init=0.01, max_iter=6), "fit"),
    "poisson": (MLPRegressor, "counts", dict(loss="poisson", hidden_layer_sizes=(5,), learning_rate_init=0.01,
                                             max_iter=6), "fit"),
    "huber": (
        MLPRegressor, "regression", dict(loss="huber", hidden_layer_sizes=(5,), alpha=0.2, max_iter=5), "fit"),
    "absolute error": (
        MLPRegressor, "regression", dict(loss="absolute_error", hidden_layer_sizes=(5,), max_iter=5), "fit"),
    "a loss function": (MLPRegressor, "regression", dict(loss=_quartic, hidden_layer_sizes=(5,), max_iter=5), "fit"),
    "full-batch gd": (
        MLPClassifier, "multiclass", dict(solver="gd", learning_rate_init=0.5, alpha=0.05, max_iter=8), "fit"),
    "squared error on a one-vs-rest output": (
        MLPClassifier, "multiclass", dict(loss="squared_error", out_activation="logistic", hidden_layer_sizes=(6,),
                                          alpha=0.01, max_iter=6), "fit"),
    "monitor on": (MLPClassifier, "multiclass", dict(hidden_layer_sizes=(6,), monitor=True, max_iter=4), "fit"),
    "an AdamW factory as solver": (
        MLPRegressor, "regression", dict(solver=functools.partial(optim.AdamW, lr=0.02, weight_decay=0.1),
                                         hidden_layer_sizes=(6,), max_iter=6), "fit"),
}


def _finite_or_none(value):
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else float(value)


def _run(name: str) -> dict:
    estimator_class, data, parameters, how = CASES[name]
    X, y = _data(data)
    estimator = estimator_class(random_state=0, **parameters)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if how == "partial_fit":
            for _ in range(3):
                estimator.partial_fit(X, y, classes=np.unique(y))
        else:
            for _ in range(2 if how == "fit twice" else 1):
                estimator.fit(X, y)
    optimizer = getattr(estimator, "_optimizer", None)
    result = {
        "n_iter_": int(estimator.n_iter_),
        "t_": int(getattr(estimator, "t_", 0)),
        "loss_": float(estimator.loss_),
        "loss_curve_": [float(value) for value in getattr(estimator, "loss_curve_", [])],
        "best_loss_": _finite_or_none(getattr(estimator, "best_loss_", None)),
        "validation_scores_": [float(value) for value in (getattr(estimator, "validation_scores_", None) or [])],
        "best_validation_score_": _finite_or_none(getattr(estimator, "best_validation_score_", None)),
        "lr": None if optimizer is None else float(optimizer.lr),
        "predictions": np.asarray(estimator.predict(X[:20]), dtype=float).tolist(),
    }
    if hasattr(estimator, "predict_proba"):
        result["probabilities"] = np.asarray(estimator.predict_proba(X[:20]), dtype=float).tolist()
    return result


@pytest.fixture(scope="module")
def reference():
    return json.loads(REFERENCE.read_text())


@pytest.mark.parametrize("name", list(CASES))
def test_the_numbers_are_those_recorded_before_the_move(name, reference):
    recorded, now = reference[name], _run(name)
    # float64 runs repeat to the last bits on any machine; float32 sums depend on NumPy's SIMD kernels
    # for the CPU at hand (seen: best_loss_ 2.4e-8 apart between two machines), so they get float32's
    # tolerance: a change of behaviour moves them by far more.
    rel, abs_ = (1e-5, 1e-6) if CASES[name][2].get("dtype") == "float32" else (1e-12, 1e-15)
    assert now.keys() == recorded.keys()
    for key in ("n_iter_", "t_"):
        assert now[key] == recorded[key], key
    for key in ("best_loss_", "best_validation_score_", "lr"):
        if recorded[key] is None:
            assert now[key] is None, key
        else:
            assert now[key] == pytest.approx(recorded[key], rel=rel, abs=abs_), key
    assert now["loss_"] == pytest.approx(recorded["loss_"], rel=rel)
    for key in ("loss_curve_", "validation_scores_", "predictions", "probabilities"):
        if key in recorded:
            np.testing.assert_allclose(now[key], recorded[key], rtol=max(rel, 1e-10), atol=max(abs_, 1e-12),
                                       err_msg=key)


def test_every_case_has_a_recorded_value(reference):
    assert sorted(reference) == sorted(CASES)


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    REFERENCE.write_text(json.dumps({name: _run(name) for name in CASES}, indent=1) + "\n")
