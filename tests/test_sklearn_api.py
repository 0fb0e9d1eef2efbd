"""scikit-learn's own estimator checks on nablanet's estimators; Pipeline, GridSearchCV, RandomizedSearchCV;
scikit-learn-style errors for bad parameters.

numerical agreement with scikit-learn's MLP, the additions and the baselines are in test_estimators.py.
"""

import pickle

import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, make_regression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from nablanet.sklearn import LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor, Ridge

# --- scikit-learn's estimator checks ---------------------------------------------------------------

CHECKED_ESTIMATORS = [
    # The defaults, with scikit-learn's own setting for its MLP checks (max_iter=100).
    MLPClassifier(max_iter=100),
    MLPRegressor(max_iter=100),
    LogisticRegression(),
    LinearRegression(),
    Ridge(),
    # The other paths: nablanet's L-BFGS with an activation per layer; SGD with the adaptive learning
    # rate, batch normalization and dropout in float32; RMSprop with He initialization, L1 and clipping.
    MLPClassifier(solver="lbfgs", max_iter=50, hidden_layer_sizes=(10, 10), activation=["tanh", "relu"]),
    MLPRegressor(solver="sgd", max_iter=50, learning_rate="adaptive", batch_norm=True, dropout=0.1, dtype="float32"),
    MLPClassifier(solver="rmsprop", max_iter=50, batch_norm=True, dropout=0.1, init="he_normal", l1=1e-3,
                  clip_norm=1.0),
]


def expected_failed_checks(estimator) -> dict:
    """Checks an estimator is known to fail, name -> reason (scikit-learn marks them as strict xfails).

    Notes on the checks that do not run or cannot fail here:

    * The sample-weight equivalence checks (integer weights = repeated rows) pass for the default
      networks, whose one batch holds every row, and for L-BFGS; they fail, as they must, for the
      networks below with batch normalization and dropout (see _NOT_REPETITIONS).
    * scikit-learn itself skips, in this environment, check_array_api_input (SCIPY_ARRAY_API unset),
      its pandas checks (pandas not installed) and, for MLPClassifier, the decision_function format
      check (it has no decision_function, as scikit-learn's MLP).
    * early_stopping=True is not among the configurations: the checks fit 1 to 10 samples, and
      partial_fit, as scikit-learn's MLP, refuses early stopping.
    """
    if getattr(estimator, "batch_norm", False):
        return {name: _NOT_REPETITIONS for name in ("check_sample_weight_equivalence_on_dense_data",
                                                    "check_sample_weight_equivalence_on_sparse_data")}
    return {}


# Why weights are not repetitions for the networks with batch normalization and dropout (as in Keras and
# PyTorch): a batch's statistics count a row repeated twice twice but a row of weight 2 once, and dropout
# draws its masks per row, so the two fits see different numbers.
_NOT_REPETITIONS = ("batch normalization's statistics are not weighted and dropout draws a mask per row, so a "
                    "weight of 2 is not the same as a repeated row")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(CHECKED_ESTIMATORS, expected_failed_checks=expected_failed_checks, xfail_strict=True)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_the_old_import_paths_give_the_same_classes():
    import nablanet
    import nablanet.estimators
    import nablanet.sklearn

    for name in nablanet.sklearn.__all__:
        assert getattr(nablanet.estimators, name) is getattr(nablanet.sklearn, name) is getattr(nablanet, name)
    assert sorted(nablanet.estimators.__all__) == sorted(nablanet.sklearn.__all__)


# --- in scikit-learn's tools -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pipeline_with_scaler_equals_scaling_by_hand(breast_cancer):
    X_train, X_test, y_train, y_test = breast_cancer
    settings = dict(hidden_layer_sizes=(16,), solver="lbfgs", alpha=1.0, max_iter=100, random_state=0)
    pipeline = Pipeline([("scale", StandardScaler()), ("mlp", MLPClassifier(**settings))]).fit(X_train, y_train)
    scaler = StandardScaler().fit(X_train)
    by_hand = MLPClassifier(**settings).fit(scaler.transform(X_train), y_train)
    np.testing.assert_array_equal(pipeline.predict_proba(X_test), by_hand.predict_proba(scaler.transform(X_test)))
    accuracy = pipeline.score(X_test, y_test)
    assert accuracy >= 0.95, f"test accuracy {accuracy:.4f}"  # measured 0.9650 (scikit-learn's MLP: 0.9580)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_over_pipeline(breast_cancer):
    X_train, X_test, y_train, y_test = breast_cancer
    pipeline = make_pipeline(StandardScaler(), MLPClassifier(solver="lbfgs", max_iter=50, random_state=0))
    grid = {"mlpclassifier__alpha": [1e-4, 10.0], "mlpclassifier__hidden_layer_sizes": [(4,), (8,)]}
    search = GridSearchCV(pipeline, grid, cv=3).fit(X_train, y_train)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["mlpclassifier__alpha"] in grid["mlpclassifier__alpha"]
    assert search.best_score_ >= 0.95, search.cv_results_["mean_test_score"]
    assert isinstance(search.best_estimator_[-1], MLPClassifier)
    assert search.score(X_test, y_test) >= 0.93


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sample_weight_and_sparse_x_through_a_pipeline_in_grid_search(breast_cancer):
    from scipy import sparse

    X_train, _, y_train, _ = breast_cancer
    weights = np.where(y_train == 0, 3.0, 1.0)
    pipeline = make_pipeline(StandardScaler(with_mean=False), MLPClassifier(solver="lbfgs", max_iter=30,
                                                                          random_state=0))
    grid = {"mlpclassifier__alpha": [1e-4, 1.0]}
    search = GridSearchCV(pipeline, grid, cv=3).fit(sparse.csr_matrix(X_train), y_train,
                                                    mlpclassifier__sample_weight=weights)
    dense = GridSearchCV(pipeline, grid, cv=3).fit(X_train, y_train, mlpclassifier__sample_weight=weights)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], dense.cv_results_["mean_test_score"])
    # The weights reached the network: without them it is another one.
    unweighted = clone(dense.best_estimator_).fit(X_train, y_train)
    assert not np.allclose(unweighted[-1].coefs_[0], dense.best_estimator_[-1].coefs_[0])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_randomized_search_over_regressor_settings():
    X, y = make_regression(n_samples=120, n_features=4, noise=5.0, random_state=0)
    distributions = {"alpha": loguniform(1e-5, 1e-1), "learning_rate_init": loguniform(1e-3, 1e-1),
                     "activation": ["relu", "tanh", ["tanh", "relu"]], "solver": ["adam", "rmsprop", "sgd"]}
    estimator = MLPRegressor(hidden_layer_sizes=(16, 8), max_iter=60, random_state=0)
    search = RandomizedSearchCV(estimator, distributions, n_iter=5, cv=3, random_state=0).fit(X / 2, y / 100)
    assert len(search.cv_results_["params"]) == 5
    assert search.best_estimator_.n_features_in_ == 4
    assert search.best_score_ > 0.5, search.cv_results_["mean_test_score"]


def test_cross_val_score_and_clone():
    X, y = make_regression(n_samples=90, n_features=3, noise=1.0, random_state=1)
    estimator = MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=200, random_state=0)
    scores = cross_val_score(estimator, X, y / 50, cv=3)
    assert scores.min() > 0.9, scores
    fitted = clone(estimator).fit(X, y / 50)
    fresh = clone(fitted)
    assert fresh.get_params() == estimator.get_params()
    assert not hasattr(fresh, "coefs_") and not hasattr(fresh, "model_")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pickled_pipeline_predicts_the_same(breast_cancer):
    X_train, X_test, y_train, _ = breast_cancer
    classifier = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=20, random_state=0)
    pipeline = make_pipeline(StandardScaler(), classifier)
    pipeline.fit(X_train, y_train)
    restored = pickle.loads(pickle.dumps(pipeline))
    np.testing.assert_array_equal(restored.predict_proba(X_test), pipeline.predict_proba(X_test))


# --- bad parameters: scikit-learn's errors, naming the parameter -----------------------------------

BAD_PARAMETERS = [
    # (estimator, parameters, message pattern)
    (MLPClassifier, {"alpha": -1.0}, r"'alpha' parameter of MLPClassifier must be a float in the range \[0.0, inf\)"),
    (MLPClassifier, {"solver": "newton"}, r"'solver' parameter of MLPClassifier must be a str among"),
    (MLPClassifier, {"activation": "swish"}, r"'activation' parameter of MLPClassifier"),
    (MLPClassifier, {"activation": ["tanh"], "hidden_layer_sizes": (4, 4)},
     r"'activation' parameter of MLPClassifier must be one value, or a list of 2"),
    (MLPClassifier, {"activation": ["tanh", "swish"], "hidden_layer_sizes": (4, 4)},
     r"'activation' parameter of MLPClassifier must be one of"),
    (MLPClassifier, {"learning_rate": "cosine"}, r"'learning_rate' parameter of MLPClassifier"),
    (MLPClassifier, {"learning_rate_init": 0.0}, r"'learning_rate_init' parameter of MLPClassifier"),
    (MLPClassifier, {"batch_size": 0}, r"'batch_size' parameter of MLPClassifier"),
    (MLPClassifier, {"momentum": 1.0},
     r"'momentum' parameter of MLPClassifier must be a float in the range \[0.0, 1.0\)"),
    (MLPClassifier, {"max_iter": 0}, r"'max_iter' parameter of MLPClassifier"),
    (MLPClassifier, {"validation_fraction": 1.0}, r"'validation_fraction' parameter of MLPClassifier"),
    (MLPClassifier, {"n_iter_no_change": 0}, r"'n_iter_no_change' parameter of MLPClassifier"),
    (MLPClassifier, {"hidden_layer_sizes": (4, 0)}, r"hidden_layer_sizes must be > 0, got \[4, 0\]"),
    (MLPClassifier, {"out_activation": "identity"}, r"'out_activation' parameter of MLPClassifier"),
    (MLPClassifier, {"loss": "huber"}, r"'loss' parameter of MLPClassifier"),
    (MLPClassifier, {"dropout": 1.0}, r"'dropout' parameter of MLPClassifier"),
    (MLPClassifier, {"dropout": [0.1, 1.5], "hidden_layer_sizes": (4, 4)}, r"'dropout' parameter of MLPClassifier"),
    (MLPClassifier, {"init": "orthogonal"}, r"'init' parameter of MLPClassifier"),
    (MLPClassifier, {"clip_norm": 0.0}, r"'clip_norm' parameter of MLPClassifier"),
    (MLPClassifier, {"dtype": "float16"}, r"'dtype' parameter of MLPClassifier"),
    (MLPRegressor, {"loss": "log_loss"}, r"'loss' parameter of MLPRegressor"),
    (MLPRegressor, {"l1": -0.1}, r"'l1' parameter of MLPRegressor"),
    (MLPRegressor, {"out_activation": "softmax"}, r"'out_activation' parameter of MLPRegressor"),
    (LogisticRegression, {"C": 0.0}, r"'C' parameter of LogisticRegression must be a float in the range \(0.0, inf\]"),
    (LogisticRegression, {"solver": "liblinear"}, r"'solver' parameter of LogisticRegression"),
    (Ridge, {"alpha": -1.0}, r"'alpha' parameter of Ridge"),
    (LinearRegression, {"fit_intercept": "yes"}, r"'fit_intercept' parameter of LinearRegression"),
]


@pytest.mark.parametrize("estimator_class, parameters, pattern", BAD_PARAMETERS,
                         ids=[f"{cls.__name__}-{next(iter(p))}" for cls, p, _ in BAD_PARAMETERS])
def test_bad_parameter_is_named_in_the_error(estimator_class, parameters, pattern):
    X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    y = np.array([0, 1, 1, 0])
    estimator = estimator_class(**parameters)  # construction never validates, as scikit-learn
    with pytest.raises(ValueError, match=pattern):
        estimator.fit(X, y)


def test_parameter_errors_are_scikit_learns_type():
    with pytest.raises(InvalidParameterError):
        MLPRegressor(alpha=-1).fit(np.zeros((4, 2)), np.zeros(4))
