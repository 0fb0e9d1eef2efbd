"""nablanet.sklearn against scikit-learn: the same numbers, then nablanet's additions, then the baselines.

With shuffle=False the minibatches are the same rows in the same order, and nablanet draws the initial
weights from random_state exactly as scikit-learn does, so SGD runs agree with scikit-learn's MLP to
rounding: the loss curves, the weights, the stopping epoch, the validation scores. That pins down the
cost (loss conventions, alpha / 2 ||W||^2 / n per batch, the short last batch), the initialization, the
update, and the end-of-epoch rules ('invscaling', 'adaptive', tol / n_iter_no_change, early stopping).
"""

import pickle
import warnings

import numpy as np
import pytest
from sklearn import linear_model as sk_linear
from sklearn import neural_network as sk_nn
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    make_blobs,
    make_classification,
    make_multilabel_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import nablanet.nn as nn
from nablanet import optim
from nablanet.datasets import gate, make_polynomial
from nablanet.sklearn import LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor, Ridge

# Short runs are the point of most tests here; the warnings themselves are tested in test_convergence_warnings.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# --- data ------------------------------------------------------------------------------------------

def _dataset(kind: str):
    """Small problems (90 samples, 5 features), standardized, with targets of each kind the MLPs take."""
    rng = np.random.default_rng(0)
    if kind in ("multiclass", "binary"):
        n_classes = 3 if kind == "multiclass" else 2
        X, y = make_classification(n_samples=90, n_features=5, n_informative=3, n_classes=n_classes, random_state=0)
    elif kind == "multilabel":
        X, y = make_multilabel_classification(n_samples=90, n_features=5, n_classes=3, random_state=0)
    elif kind == "two outputs":
        X, y = make_regression(n_samples=90, n_features=5, n_targets=2, noise=1.0, random_state=0)
        y = y / 100.0
    else:  # counts for the Poisson loss
        X = rng.standard_normal((90, 5))
        y = rng.poisson(np.exp(0.3 * X @ np.array([1.0, -1.0, 0.5, 0.0, 0.2]))).astype(float)
    return StandardScaler().fit_transform(X), y


ESTIMATOR_PAIRS = {"classifier": (sk_nn.MLPClassifier, MLPClassifier), "regressor": (sk_nn.MLPRegressor, MLPRegressor)}


def _fit_both(kind, data, settings):
    """Fit scikit-learn's MLP and ours on the same data with the same settings."""
    X, y = _dataset(data)
    theirs_class, ours_class = ESTIMATOR_PAIRS[kind]
    theirs = theirs_class(**settings).fit(X, y)
    ours = ours_class(**settings).fit(X, y)
    return theirs, ours, X


def _assert_same_run(theirs, ours, X, rtol=1e-9):
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=rtol)
    for name in ("coefs_", "intercepts_"):
        for mine, reference in zip(getattr(ours, name), getattr(theirs, name)):
            np.testing.assert_allclose(mine, reference, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=rtol, atol=rtol)


# --- the same numbers as scikit-learn's MLP --------------------------------------------------------

SGD = dict(solver="sgd", learning_rate_init=0.05, alpha=0.01, max_iter=12, shuffle=False, random_state=0)

PARITY_CASES = [
    # (id, estimator kind, data, settings on top of SGD)
    ("softmax, relu", "classifier", "multiclass", dict(hidden_layer_sizes=(7,))),
    ("binary logistic, tanh", "classifier", "binary", dict(hidden_layer_sizes=(6,), activation="tanh")),
    ("multi-label, logistic units (Glorot factor 2)", "classifier", "multilabel",
     dict(hidden_layer_sizes=(5,), activation="logistic")),
    ("two outputs, two identity layers", "regressor", "two outputs",
     dict(hidden_layer_sizes=(6, 4), activation="identity")),
    ("poisson, exp output", "regressor", "counts",
     dict(loss="poisson", hidden_layer_sizes=(5,), learning_rate_init=0.01)),
    # 90 rows = 32 + 32 + 26: the last batch's penalty is divided by 26, as scikit-learn does.
    ("short last batch, strong alpha", "classifier", "multiclass", dict(batch_size=32, alpha=3.0)),
    ("heavy-ball momentum", "classifier", "multiclass", dict(nesterovs_momentum=False)),
    ("no hidden layer", "regressor", "two outputs", dict(hidden_layer_sizes=())),
    # Without momentum both forms of SGD take the same steps under a changing learning rate.
    ("invscaling", "classifier", "multiclass", dict(momentum=0.0, learning_rate="invscaling", power_t=0.25,
                                                    learning_rate_init=0.5)),
    ("adaptive: lr / 5 after n_iter_no_change", "regressor", "two outputs",
     dict(momentum=0.0, learning_rate="adaptive", tol=0.05, n_iter_no_change=1, max_iter=20)),
    ("stop when the training loss stalls", "classifier", "binary", dict(tol=0.02, n_iter_no_change=2, max_iter=50)),
    ("early stopping on validation accuracy", "classifier", "multiclass",
     dict(early_stopping=True, validation_fraction=0.2, n_iter_no_change=2, max_iter=40)),
    ("early stopping on validation R^2", "regressor", "two outputs",
     dict(early_stopping=True, n_iter_no_change=3, max_iter=40, learning_rate_init=0.2)),
]


@pytest.mark.parametrize("kind, data, settings", [case[1:] for case in PARITY_CASES], ids=[c[0] for c in PARITY_CASES])
def test_sgd_runs_equal_scikit_learns(kind, data, settings):
    theirs, ours, X = _fit_both(kind, data, {**SGD, **settings})
    _assert_same_run(theirs, ours, X)
    assert ours.out_activation_ == theirs.out_activation_
    assert (ours.n_layers_, ours.n_outputs_) == (theirs.n_layers_, theirs.n_outputs_)
    if settings.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-9)
        assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_, rel=1e-9)
        assert ours.best_loss_ is None and theirs.best_loss_ is None
    else:
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9)
        assert ours.validation_scores_ is None


@pytest.mark.parametrize("kind, data, settings", [case[1:] for case in PARITY_CASES], ids=[c[0] for c in PARITY_CASES])
def test_weighted_sgd_runs_equal_scikit_learns(kind, data, settings):
    """sample_weight as scikit-learn's MLP: each batch's loss sum_i w_i l_i / sum_i w_i, its penalty divided by
    sum_i w_i, the early-stopping split cutting the weights with the rows and the validation score weighted."""
    X, y = _dataset(data)
    weights = np.random.default_rng(5).uniform(0.1, 3.0, X.shape[0])
    theirs_class, ours_class = ESTIMATOR_PAIRS[kind]
    settings = {**SGD, **settings}
    theirs = theirs_class(**settings).fit(X, y, sample_weight=weights)
    ours = ours_class(**settings).fit(X, y, sample_weight=weights)
    _assert_same_run(theirs, ours, X)
    if settings.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-9)
    unweighted = ours_class(**settings).fit(X, y)
    assert unweighted.loss_curve_[0] != pytest.approx(ours.loss_curve_[0], rel=1e-6)


def test_weighted_lbfgs_is_the_fit_of_repeated_rows():
    # Integer weights are repeated rows for a full-batch method: the mean loss and the penalty's sum_i w_i alike.
    X, y = _dataset("multiclass")
    counts = np.random.default_rng(6).integers(0, 3, X.shape[0])
    settings = dict(solver="lbfgs", hidden_layer_sizes=(6,), alpha=0.1, max_iter=30, random_state=0)
    weighted = MLPClassifier(**settings).fit(X, y, sample_weight=counts)
    repeated = MLPClassifier(**settings).fit(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    assert weighted.n_iter_ == repeated.n_iter_ and weighted.loss_ == pytest.approx(repeated.loss_, rel=1e-9)
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-7, atol=1e-9)


def test_class_weight_is_scikit_learns_compute_sample_weight():
    from sklearn.utils.class_weight import compute_sample_weight

    X, y = _dataset("multiclass")
    names = np.array(["ant", "bee", "cat"])[y]
    weights = np.random.default_rng(7).uniform(0.5, 2.0, X.shape[0])
    settings = dict(**SGD, hidden_layer_sizes=(5,))
    for class_weight in ("balanced", {"ant": 3.0, "cat": 0.5}):
        ours = MLPClassifier(**settings, class_weight=class_weight).fit(X, names, sample_weight=weights)
        by_hand = MLPClassifier(**settings).fit(X, names,
                                                sample_weight=weights * compute_sample_weight(class_weight, names))
        np.testing.assert_allclose(ours.loss_curve_, by_hand.loss_curve_, rtol=1e-12)
    with pytest.raises(ValueError, match="class_weight 'balanced' is not supported for partial_fit"):
        MLPClassifier(**settings, class_weight="balanced").partial_fit(X, names, classes=["ant", "bee", "cat"])
    MLPClassifier(**settings, class_weight={"bee": 2.0}).partial_fit(X, names, classes=["ant", "bee", "cat"])
    with pytest.raises(ValueError, match="The classes, \\['ant', 'bee', 'cat'\\], are not in class_weight"):
        MLPClassifier(**settings, class_weight={"dog": 2.0}).fit(X, names)


@pytest.mark.parametrize("settings", [dict(SGD, batch_size=16), dict(solver="lbfgs", max_iter=20, random_state=0)],
                         ids=["sgd", "lbfgs"])
def test_sparse_x_fits_and_predicts_as_the_dense_x(settings, monkeypatch):
    from scipy import sparse

    from nablanet.train import data as train_data

    X, y = _dataset("multiclass")
    X[np.abs(X) < 0.7] = 0.0
    dense = MLPClassifier(hidden_layer_sizes=(6,), **settings).fit(X, y)
    for layout in (sparse.csr_matrix, sparse.csc_array):
        from_sparse = MLPClassifier(hidden_layer_sizes=(6,), **settings).fit(layout(X), y)
        for mine, expected in zip(from_sparse.coefs_ + from_sparse.intercepts_, dense.coefs_ + dense.intercepts_):
            np.testing.assert_array_equal(mine, expected)  # each batch densified is the dense batch
        np.testing.assert_array_equal(from_sparse.predict_proba(layout(X)), dense.predict_proba(X))
    # L-BFGS's full batch in pieces (about 2^20 entries each; here 5 * 4 = 20 entries): the same cost,
    # its gradient summed piece by piece, so the run agrees to rounding.
    monkeypatch.setattr(train_data, "_DENSE_ENTRIES", 20)
    in_pieces = MLPClassifier(hidden_layer_sizes=(6,), **settings).fit(sparse.csr_matrix(X), y)
    np.testing.assert_allclose(in_pieces.predict_proba(X), dense.predict_proba(X), rtol=1e-6, atol=1e-9)
    assert in_pieces.n_iter_ == dense.n_iter_


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_divergence_with_early_stopping_keeps_the_best_weights():
    """scikit-learn issue 29504: a run that diverges under early stopping is no error; it ends with the best
    weights and a last validation score of NaN. Without early stopping it is scikit-learn's error."""
    X, y = _dataset("two outputs")
    settings = dict(solver="sgd", learning_rate_init=1.0, hidden_layer_sizes=(20,), activation="identity",
                    max_iter=20, random_state=0)
    with pytest.warns(ConvergenceWarning, match="Training diverged in epoch"):
        model = MLPRegressor(**settings, early_stopping=True).fit(100 * X, y)
    assert np.isnan(model.validation_scores_[-1]) and isinstance(model.validation_scores_[-1], float)
    assert model.best_validation_score_ == max(model.validation_scores_[:-1])
    assert np.isfinite(model.predict(X)).all()
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights. The input data may contain "
                                         "large values and need to be preprocessed."):
        MLPRegressor(**settings).fit(100 * X, y)


def test_the_stopping_rules_fired_in_the_parity_runs():
    """The cases above would agree trivially if no rule ever fired: check that each did."""
    adaptive = dict(momentum=0.0, learning_rate="adaptive", tol=0.05, n_iter_no_change=1, max_iter=20)
    _, ours, _ = _fit_both("regressor", "two outputs", {**SGD, **adaptive})
    assert ours._optimizer.lr < SGD["learning_rate_init"] / 5 - 1e-12  # divided at least twice
    _, ours, _ = _fit_both("classifier", "binary", {**SGD, "tol": 0.02, "n_iter_no_change": 2, "max_iter": 50})
    assert ours.n_iter_ < 50
    early = dict(early_stopping=True, validation_fraction=0.2, n_iter_no_change=2, max_iter=40)
    _, ours, _ = _fit_both("classifier", "multiclass", {**SGD, **early})
    assert ours.n_iter_ < 40


def test_adam_matches_scikit_learns_up_to_where_eps_is_added():
    # Both put eps outside the root, but scikit-learn adds it before the bias correction of v and
    # nablanet after (Algorithm 1 of Kingma & Ba): the runs agree to about eps / sqrt(v).
    settings = dict(solver="adam", learning_rate_init=0.01, hidden_layer_sizes=(8,), max_iter=10, shuffle=False,
                    random_state=0)
    theirs, ours, X = _fit_both("classifier", "multiclass", settings)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-5)


def test_partial_fit_and_warm_start_equal_scikit_learns():
    X, y = _dataset("multiclass")
    settings = {**SGD, "hidden_layer_sizes": (6,)}
    theirs, ours = sk_nn.MLPClassifier(**settings), MLPClassifier(**settings)
    for _ in range(3):
        theirs.partial_fit(X, y, classes=[0, 1, 2])
        ours.partial_fit(X, y, classes=[0, 1, 2])
    _assert_same_run(theirs, ours, X)
    theirs = sk_nn.MLPRegressor(**{**SGD, "warm_start": True, "max_iter": 3})
    ours = MLPRegressor(**{**SGD, "warm_start": True, "max_iter": 3})
    X, y = _dataset("two outputs")
    for _ in range(2):
        theirs.fit(X, y)
        ours.fit(X, y)
    _assert_same_run(theirs, ours, X)


def test_a_nan_validation_score_is_no_improvement():
    """Non-finite validation outputs score NaN. The single-module estimators counted a NaN as an improvement
    (NaN < best + tol is False), so such a run never stopped early; now it is none, as in EarlyStopping."""

    class NaNScores(MLPClassifier):
        def _validation_score(self, logits, targets):
            return np.nan

    X, y = _dataset("multiclass")
    model = NaNScores(early_stopping=True, n_iter_no_change=2, max_iter=20, random_state=0).fit(X, y)
    assert model.n_iter_ == 3 and np.isnan(model.validation_scores_).all()


@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_the_no_improvement_count_carries_over_as_scikit_learns(how):
    # With tol = 10 no epoch after the first improves: the count grows across the calls until it passes
    # n_iter_no_change = 3, in the third call (warm_start: it stops after one epoch; partial_fit: the
    # 'adaptive' rate divides at that point).
    X, y = _dataset("two outputs")
    settings = {**SGD, "tol": 10.0, "n_iter_no_change": 3, "max_iter": 2}
    if how == "partial_fit":
        settings.update(momentum=0.0, learning_rate="adaptive")
    else:
        settings.update(warm_start=True)
    theirs, ours = sk_nn.MLPRegressor(**settings), MLPRegressor(**settings)
    for _ in range(3 if how == "warm_start" else 5):
        for model in (theirs, ours):
            model.partial_fit(X, y) if how == "partial_fit" else model.fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    if how == "partial_fit":
        assert ours._optimizer.lr == pytest.approx(theirs._optimizer.learning_rate) == SGD["learning_rate_init"] / 5
    else:
        assert ours.n_iter_ == 1


@pytest.mark.parametrize("kind, data", [("classifier", "multiclass"), ("regressor", "regression")])
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_lbfgs_takes_scikit_learns_iterates(kind, data, activation):
    # The same initial weights and scipy's L-BFGS-B with scikit-learn's options: the same run (stopped by
    # max_fun but with identity units), so the same n_iter_, loss_, weights and ConvergenceWarning.
    settings = dict(solver="lbfgs", hidden_layer_sizes=(7,), activation=activation, alpha=0.01, max_fun=25,
                    random_state=0)
    X, y = _dataset(data)
    fitted, warned = [], []
    for estimator_class in ESTIMATOR_PAIRS[kind]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            fitted.append(estimator_class(**settings).fit(X, y))
        warned.append([type(w.message) for w in caught])
    assert warned[0] == warned[1] == ([] if activation == "identity" else [ConvergenceWarning])
    theirs, ours = fitted
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)
    for our_W, their_W in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(our_W, their_W, rtol=1e-7, atol=1e-9)


def test_lbfgs_reaches_scikit_learns_minimum_on_a_convex_problem():
    # Without hidden layers the cost is convex: both end at the same minimum, scipy's ftol (2.2e-9) stopping both.
    settings = dict(solver="lbfgs", hidden_layer_sizes=(), alpha=1.0, tol=1e-10, max_iter=500, random_state=0)
    theirs, ours, X = _fit_both("classifier", "multiclass", settings)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-8)
    np.testing.assert_allclose(ours.coefs_[0], theirs.coefs_[0], atol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-7)


def test_cost_is_scikit_learns_with_l1_in_alphas_convention():
    """loss_ = log-loss + (alpha/2 sum W^2 + l1 sum |W|) / n, recomputed from the fitted weights."""
    X, y = _dataset("multiclass")
    alpha, l1 = 0.7, 0.3
    # One full-batch step with a negligible learning rate: loss_ is the cost at (almost) the final weights.
    model = MLPClassifier(hidden_layer_sizes=(4,), solver="gd", learning_rate_init=1e-12, max_iter=1, alpha=alpha,
                          l1=l1, random_state=0)
    model.fit(X, y)
    probabilities = model.predict_proba(X)
    log_loss = -np.mean(np.log(probabilities[np.arange(len(y)), y]))
    squares = sum(np.sum(W**2) for W in model.coefs_)
    absolutes = sum(np.sum(np.abs(W)) for W in model.coefs_)
    expected = log_loss + (0.5 * alpha * squares + l1 * absolutes) / len(y)
    assert model.loss_ == pytest.approx(expected, rel=1e-9)


# --- fitted attributes, targets, predictions -------------------------------------------------------

ATTRIBUTE_CASES = [
    # (id, estimator, data, n_outputs_, out_activation_, predict shape, predict_proba shape)
    ("binary", MLPClassifier, "binary", 1, "logistic", (90,), (90, 2)),
    ("multiclass", MLPClassifier, "multiclass", 3, "softmax", (90,), (90, 3)),
    ("multi-label", MLPClassifier, "multilabel", 3, "logistic", (90, 3), (90, 3)),
    ("regression, two outputs", MLPRegressor, "two outputs", 2, "identity", (90, 2), None),
    ("poisson", MLPRegressor, "counts", 1, "exp", (90,), None),
]


@pytest.mark.parametrize("estimator_class, data, n_outputs, out_activation, predict_shape, proba_shape",
                         [case[1:] for case in ATTRIBUTE_CASES], ids=[case[0] for case in ATTRIBUTE_CASES])
def test_fitted_attributes_and_output_shapes(estimator_class, data, n_outputs, out_activation, predict_shape,
                                             proba_shape):
    X, y = _dataset(data)
    loss = {"loss": "poisson"} if data == "counts" else {}
    model = estimator_class(hidden_layer_sizes=(6, 4), max_iter=5, random_state=0, **loss).fit(X, y)
    assert (model.n_outputs_, model.out_activation_, model.n_layers_) == (n_outputs, out_activation, 4)
    assert [W.shape for W in model.coefs_] == [(5, 6), (6, 4), (4, n_outputs)]
    assert [b.shape for b in model.intercepts_] == [(6,), (4,), (n_outputs,)]
    assert model.n_features_in_ == 5 and not hasattr(model, "feature_names_in_")
    assert len(model.loss_curve_) == model.n_iter_ == 5 and model.t_ == 5 * 90
    assert model.predict(X).shape == predict_shape
    if proba_shape is not None:
        probabilities = model.predict_proba(X)
        assert probabilities.shape == proba_shape and np.all((probabilities >= 0) & (probabilities <= 1))
        if data != "multilabel":
            np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
        np.testing.assert_allclose(model.predict_log_proba(X), np.log(probabilities))


def test_coefs_are_the_networks_own_arrays():
    X, y = _dataset("binary")
    model = MLPClassifier(hidden_layer_sizes=(3,), solver="lbfgs", max_iter=30, random_state=0).fit(X, y)
    assert model.coefs_[0] is model.model_[0].W.data
    model.coefs_ = [np.zeros_like(W) for W in model.coefs_]
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], 1 / (1 + np.exp(-model.intercepts_[-1][0])))
    with pytest.raises(ValueError, match=r"coefs_\[0\] must have shape \(5, 3\), got \(3, 5\)"):
        model.coefs_ = [np.zeros((3, 5)), np.zeros((3, 1))]


def test_pickled_estimator_resumes_partial_fit_identically():
    X, y = _dataset("multiclass")
    model = MLPClassifier(hidden_layer_sizes=(5,), random_state=0, batch_size=30)
    model.partial_fit(X, y, classes=[0, 1, 2])
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.predict_proba(X), model.predict_proba(X))
    model.partial_fit(X, y)
    copy.partial_fit(X, y)  # Adam's moments and step count came through the pickle
    np.testing.assert_array_equal(copy.coefs_[0], model.coefs_[0])


def test_partial_fit_classes_as_scikit_learn():
    X, y = _dataset("multiclass")
    model = MLPClassifier(hidden_layer_sizes=(4,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call to partial_fit"):
        model.partial_fit(X, y)
    model.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])  # a class may be missing from a batch
    assert model.n_outputs_ == 3
    with pytest.raises(ValueError, match=r"`y` has classes not in `self.classes_`"):
        model.partial_fit(X, np.where(y == 2, 7, y))
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")


def test_dtype_float32_and_scikit_learns_default_rule():
    X, y = _dataset("two outputs")
    fast = MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=20, random_state=0, dtype="float32").fit(X, y)
    assert fast.coefs_[0].dtype == np.float32 and fast.predict(X).dtype == np.float32
    by_input = MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=20, random_state=0)
    assert by_input.fit(X.astype(np.float32), y).coefs_[0].dtype == np.float32   # float32 X stays float32
    assert by_input.fit(X, y).coefs_[0].dtype == np.float64
    np.testing.assert_allclose(fast.predict(X), by_input.predict(X), atol=1e-3)


def test_verbose_prints_scikit_learns_lines(capsys):
    X, y = _dataset("binary")
    MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, verbose=True, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == ["Iteration 1", "Iteration 2"]
    assert lines[0].startswith("Iteration 1, loss = ")


def test_convergence_warnings():
    X, y = _dataset("binary")
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(2\) reached"):
        MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, random_state=0).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        model = MLPClassifier(hidden_layer_sizes=(3,), solver="lbfgs", max_fun=5, random_state=0).fit(X, y)
    assert model.n_iter_ <= 5


# --- nablanet's additions --------------------------------------------------------------------------

@pytest.mark.parametrize("solver", ["sgd", "gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw",
                                    "lbfgs"])
def test_every_solver_learns_blobs(solver):
    X, y = make_blobs(n_samples=90, centers=3, cluster_std=1.0, random_state=0)
    X = StandardScaler().fit_transform(X)
    learning_rate = 0.5 if solver == "gd" else 0.05
    model = MLPClassifier(hidden_layer_sizes=(8,), solver=solver, learning_rate_init=learning_rate, max_iter=40,
                          random_state=0).fit(X, y)
    assert model.score(X, y) >= 0.9, f"{solver}: training accuracy {model.score(X, y):.3f}"


def test_an_optimizer_factory_as_solver():
    X, y = _dataset("two outputs")

    def factory(parameters):
        return optim.AdamW(parameters, lr=0.05, weight_decay=0.1)

    model = MLPRegressor(hidden_layer_sizes=(8,), solver=factory, max_iter=30, random_state=0).fit(X, y)
    assert isinstance(model._optimizer, optim.AdamW) and model._optimizer.weight_decay == 0.1
    assert model.score(X, y) > 0.9


def test_architecture_options_build_the_layers_asked_for():
    X, y = _dataset("multiclass")
    model = MLPClassifier(hidden_layer_sizes=(6, 5), activation=["tanh", "elu"], batch_norm=True,
                          dropout=[0.2, 0.0], max_iter=3, random_state=0).fit(X, y)
    layers = [type(layer).__name__ for layer in model.model_]
    assert layers == ["Dense", "BatchNorm", "Activation", "Dropout", "Dense", "BatchNorm", "Activation", "Dense"]
    assert [layer.name for layer in model.model_ if isinstance(layer, nn.Activation)] == ["tanh", "elu"]
    assert model.model_[3].p == 0.2
    # Evaluation mode: dropout off, running statistics: predictions are repeatable.
    np.testing.assert_array_equal(model.predict_proba(X), model.predict_proba(X))
    fused = MLPClassifier(hidden_layer_sizes=(6,), activation="logistic", max_iter=1)
    fused.fit(X, y)
    assert fused.model_[0].activation == "sigmoid"  # scikit-learn's name, fused into nablanet's Dense


def test_named_initializer_draws_he_weights_and_zero_biases():
    X, _ = load_digits(return_X_y=True)
    y = np.zeros(len(X))
    # A negligible learning rate leaves the initial weights in place.
    model = MLPRegressor(hidden_layer_sizes=(200,), init="he_normal", solver="sgd", learning_rate_init=1e-12,
                         max_iter=1, random_state=0).fit(X, y)
    assert np.std(model.coefs_[0]) == pytest.approx(np.sqrt(2 / 64), rel=0.05)  # He et al.: Var = 2 / fan_in
    assert np.abs(model.intercepts_[0]).max() < 1e-9


def test_l1_shrinks_the_weights():
    X, y = _dataset("two outputs")
    settings = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=100, random_state=0)
    plain = MLPRegressor(**settings).fit(X, y)
    sparse = MLPRegressor(l1=5.0, **settings).fit(X, y)
    total = [sum(np.abs(W).sum() for W in model.coefs_) for model in (plain, sparse)]
    assert total[1] < 0.5 * total[0], total


@pytest.mark.parametrize("clipping", [{"clip_value": 1e-3}, {"clip_norm": 1e-3}], ids=["by value", "by norm"])
def test_gradient_clipping_bounds_the_step(clipping):
    X, y = _dataset("two outputs")
    # Plain full-batch gradient descent with lr = 1: the step is the clipped gradient.
    model = MLPRegressor(hidden_layer_sizes=(4,), solver="gd", learning_rate_init=1.0, random_state=0, **clipping)
    model.partial_fit(X, y)
    before = [p.data.copy() for p in model.model_.parameters()]
    model.partial_fit(X, y)
    steps = [p.data - old for p, old in zip(model.model_.parameters(), before)]
    if "clip_value" in clipping:
        assert max(np.abs(step).max() for step in steps) == pytest.approx(1e-3)
    else:
        assert np.sqrt(sum(np.sum(step**2) for step in steps)) == pytest.approx(1e-3)


def test_output_activation_and_regression_losses():
    X, y = _dataset("two outputs")
    bounded = (y - y.min()) / (y.max() - y.min())
    settings = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=200, random_state=0)
    model = MLPRegressor(out_activation="logistic", **settings).fit(X, bounded)
    assert model.out_activation_ == "logistic"
    assert np.all((model.predict(X) > 0) & (model.predict(X) < 1)) and model.score(X, bounded) > 0.9
    for loss in ("absolute_error", "huber", lambda predictions, targets: ((predictions - targets) ** 4).mean()):
        assert MLPRegressor(loss=loss, **settings).fit(X, y).score(X, y) > 0.9, loss


def test_classifier_losses_and_one_vs_rest_output():
    X, y = _dataset("multiclass")
    settings = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=200, random_state=0)
    squared = MLPClassifier(loss="squared_error", **settings).fit(X, y)
    one_vs_rest = MLPClassifier(out_activation="logistic", **settings).fit(X, y)
    assert squared.score(X, y) > 0.9 and one_vs_rest.score(X, y) > 0.9
    np.testing.assert_allclose(one_vs_rest.predict_proba(X).sum(axis=1), 1.0)


ERROR_CASES = [
    # (id, estimator, data, message pattern)
    ("softmax needs several classes", MLPClassifier(out_activation="softmax"), "binary", "needs more than two"),
    ("poisson needs counts", MLPRegressor(loss="poisson"), "two outputs", "non-negative targets"),
    ("poisson's link is exp", MLPRegressor(loss="poisson", out_activation="tanh"), "counts", "log link"),
    ("dropout needs minibatches", MLPClassifier(solver="lbfgs", dropout=0.5), "binary", "dropout needs a minibatch"),
    # 90 rows in batches of 89 leave a last batch of one row.
    ("batch norm needs two rows", MLPClassifier(batch_norm=True, batch_size=89), "binary",
     "batch_norm needs at least 2 rows"),
    ("early stopping in partial_fit", MLPRegressor(early_stopping=True), "two outputs", "partial_fit does not support"),
    ("divergence", MLPRegressor(solver="sgd", learning_rate_init=1e6, momentum=0.0), "two outputs",
     "Solver produced non-finite parameter weights"),
]


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")  # the divergent run
@pytest.mark.parametrize("model, data, pattern", [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_errors_name_the_problem(model, data, pattern):
    X, y = _dataset(data)
    with pytest.raises(ValueError, match=pattern):
        if "partial_fit" in pattern:
            model.partial_fit(X, y)
        else:
            model.fit(X, y)


@pytest.mark.parametrize("make", [MLPClassifier, MLPRegressor, LogisticRegression, LinearRegression, Ridge],
                         ids=lambda cls: cls.__name__)
def test_complex_data_is_refused_naming_the_argument(make):
    # scikit-learn's own refusal names neither argument and prints the whole array over many lines.
    X = np.random.default_rng(0).normal(size=(20, 3))
    y = np.arange(20) % 2
    estimator = make(max_iter=5) if make in (MLPClassifier, MLPRegressor) else make()
    for X_given, y_given, what in ((X + 1j, y, "X"), (X, y + 1j, "y")):
        with pytest.raises(ValueError, match=rf"^Complex data not supported: {what} is complex128, but nablanet's "
                                             r"models compute on real numbers; pass its real and imaginary parts "
                                             r"\(.real, .imag\) as separate columns$"):
            estimator.fit(X_given, y_given)
    estimator.fit(X, y)
    with pytest.raises(ValueError, match=r"^Complex data not supported: X is complex64"):
        estimator.predict((X + 1j).astype(np.complex64))


# --- accuracy on the must-show problems, next to scikit-learn's MLP --------------------------------

def test_digits_above_97_percent_as_scikit_learn():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25, stratify=y, random_state=42)
    settings = dict(learning_rate_init=0.01, max_iter=30, random_state=0)  # 100 relu units, Adam, batches of 200
    ours = MLPClassifier(**settings).fit(X_train, y_train).score(X_test, y_test)
    theirs = sk_nn.MLPClassifier(**settings).fit(X_train, y_train).score(X_test, y_test)
    # measured: nablanet 0.9867, scikit-learn 0.9867
    assert ours >= 0.97, f"test accuracy: nablanet {ours:.4f}, scikit-learn {theirs:.4f}"
    assert ours >= theirs - 0.01, f"test accuracy: nablanet {ours:.4f}, scikit-learn {theirs:.4f}"


def test_notes_polynomial_r2_above_099_as_scikit_learn():
    X_train, y_train = make_polynomial(400, rng=0)
    X_test, y_test = make_polynomial(200, rng=1)
    settings = dict(hidden_layer_sizes=(20,), activation="tanh", solver="lbfgs", random_state=0)
    ours = MLPRegressor(**settings).fit(X_train, y_train).score(X_test, y_test)
    theirs = sk_nn.MLPRegressor(**settings).fit(X_train, y_train).score(X_test, y_test)
    # measured: nablanet 0.99986, scikit-learn 0.99995
    assert ours >= 0.99, f"test R^2: nablanet {ours:.5f}, scikit-learn {theirs:.5f}"
    assert ours >= theirs - 0.005, f"test R^2: nablanet {ours:.5f}, scikit-learn {theirs:.5f}"


# --- the notes' baselines --------------------------------------------------------------------------

@pytest.mark.parametrize("name, theta", [("XOR", [0.5, 0.0, 0.0]), ("OR", [0.25, 0.5, 0.5]),
                                         ("AND", [-0.25, 0.5, 0.5])])
def test_linear_regression_on_the_notes_gates(name, theta):
    X, y = gate(name)
    # The notes' design matrix has a column of ones: theta = pinv(X^T X) X^T y, computed here by hand too.
    design = np.column_stack([np.ones(4), X])
    np.testing.assert_allclose(np.linalg.pinv(design.T @ design) @ design.T @ y, theta, atol=1e-12)
    with_ones = LinearRegression(fit_intercept=False).fit(design, y)
    np.testing.assert_allclose(with_ones.coef_, theta, atol=1e-12)
    centred = LinearRegression().fit(X, y)
    np.testing.assert_allclose([centred.intercept_, *centred.coef_], theta, atol=1e-12)


LEAST_SQUARES_CASES = [
    # (id, ours, scikit-learn's, targets)
    ("OLS", LinearRegression(), sk_linear.LinearRegression(), 1),
    ("OLS, two targets", LinearRegression(), sk_linear.LinearRegression(), 2),
    ("OLS without intercept", LinearRegression(fit_intercept=False), sk_linear.LinearRegression(fit_intercept=False),
     1),
    ("ridge", Ridge(alpha=0.5), sk_linear.Ridge(alpha=0.5), 1),
    ("ridge, two targets, strong", Ridge(alpha=50.0), sk_linear.Ridge(alpha=50.0), 2),
    ("ridge without intercept", Ridge(alpha=2.0, fit_intercept=False), sk_linear.Ridge(alpha=2.0, fit_intercept=False),
     1),
]


@pytest.mark.parametrize("ours, theirs, n_targets", [c[1:] for c in LEAST_SQUARES_CASES],
                         ids=[c[0] for c in LEAST_SQUARES_CASES])
def test_least_squares_equal_scikit_learns(ours, theirs, n_targets):
    X, y = make_regression(n_samples=50, n_features=6, n_targets=n_targets, noise=3.0, bias=4.0, random_state=0)
    ours.fit(X, y)
    theirs.fit(X, y)
    assert ours.coef_.shape == theirs.coef_.shape
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-10)


def test_ols_on_rank_deficient_data_is_the_minimum_norm_solution():
    X, y = make_regression(n_samples=30, n_features=3, random_state=1)
    X = np.column_stack([X, X[:, 0]])  # a repeated column: many solutions
    ours, theirs = LinearRegression().fit(X, y), sk_linear.LinearRegression().fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-8)
    assert ours.coef_[0] == pytest.approx(ours.coef_[3])


@pytest.mark.parametrize("loader", [load_breast_cancer, load_iris], ids=["binary", "multinomial"])
def test_logistic_regression_equals_scikit_learns(loader):
    X, y = loader(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    tight = dict(C=0.5, tol=1e-9, max_iter=1000)
    ours, theirs = LogisticRegression(**tight).fit(X, y), sk_linear.LogisticRegression(**tight).fit(X, y)
    assert ours.coef_.shape == theirs.coef_.shape and ours.intercept_.shape == theirs.intercept_.shape
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-5)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, atol=1e-5)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(ours.decision_function(X), theirs.decision_function(X), atol=1e-4)
    # With the defaults (tol=1e-4) the two stop at slightly different points.
    ours, theirs = LogisticRegression().fit(X, y), sk_linear.LogisticRegression().fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-2)
    assert abs(ours.score(X, y) - theirs.score(X, y)) <= 0.01


def test_logistic_regression_with_a_minibatch_solver():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    ours = LogisticRegression(solver="adam", learning_rate_init=0.05, max_iter=200, random_state=0).fit(X, y)
    reference = sk_linear.LogisticRegression().fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), reference.predict_proba(X), atol=0.1)
    assert ours.score(X, y) >= reference.score(X, y) - 0.02


def test_monitor_option_records_per_layer_diagnostics():
    from nablanet import MLPClassifier
    from nablanet.datasets import load_digits

    X, y = load_digits()
    estimator = MLPClassifier(hidden_layer_sizes=(16,), max_iter=3, random_state=0, monitor=True).fit(X / 16.0, y)
    layers = estimator.monitor_.history
    assert len(layers) == 2
    first = next(iter(layers.values()))
    assert len(first["grad_norm.W"]) == estimator.n_iter_
    assert "layer" in estimator.monitor_.report()


def test_weighted_logistic_regression_equals_scikit_learns():
    # C sum_i w_i log-loss_i + 1/2 ||w||^2 on both sides: the mean loss plus alpha / 2 ||w||^2 / sum_i w_i here.
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    weights = np.random.default_rng(8).uniform(0.2, 3.0, X.shape[0])
    tight = dict(C=0.5, tol=1e-9, max_iter=1000)
    ours = LogisticRegression(**tight).fit(X, y, sample_weight=weights)
    theirs = sk_linear.LogisticRegression(**tight).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-5)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-6)
    unweighted = sk_linear.LogisticRegression(**tight).fit(X, y)
    assert np.abs(ours.coef_ - unweighted.coef_).max() > 1e-2
