"""The notes' linear baselines in scikit-learn's API: LinearRegression and Ridge in closed form, LogisticRegression.

In nablanet's convention for lambda (C + lambda ||W||^2, nablanet.nn.regularizers), Ridge's alpha is lambda
itself, and LogisticRegression's C is lambda = 1 / (2 C n) on the mean log-loss of n samples: a network
without hidden layers trained by nablanet.sklearn._base with alpha = 1 / C.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from nablanet.sklearn._base import _ClassifierNetwork, _ravel_single, _validate_real_data
from nablanet.sklearn._params import _SOLVER_NAMES, _THREADS_CONSTRAINT, _THREADS_DOC, _OptimizerSettings, _Plan, _solver

__all__ = ["LinearRegression", "Ridge", "LogisticRegression"]


def _least_squares(X: np.ndarray, y: np.ndarray, alpha: float, fit_intercept: bool):
    """(coef, intercept) minimizing ||y - X coef - intercept||^2 + alpha ||coef||^2, in closed form.

    The intercept is not penalized: X and y are centred (then intercept = mean(y) - mean(X) coef), as
    scikit-learn does. alpha = 0 is ordinary least squares with the pseudo-inverse, the notes'
    theta = pinv(X^T X) X^T y written as pinv(X) y (the same matrix, computed from the SVD of X itself
    rather than of X^T X, whose condition number is the square of X's); for rank-deficient X it is the
    minimum-norm solution. alpha > 0 is ridge regression, (X^T X + alpha I)^{-1} X^T y by a linear solve.
    """
    if fit_intercept:
        X_mean, y_mean = X.mean(axis=0), y.mean(axis=0)
        X, y = X - X_mean, y - y_mean
    if alpha == 0:
        coef = np.linalg.pinv(X) @ y
    else:
        coef = np.linalg.solve(X.T @ X + alpha * np.eye(X.shape[1], dtype=X.dtype), X.T @ y)
    intercept = y_mean - X_mean @ coef if fit_intercept else np.zeros(y.shape[1:], dtype=X.dtype)
    return coef.T, (float(intercept) if np.ndim(intercept) == 0 else intercept)


class _LeastSquares(RegressorMixin, BaseEstimator):
    """Linear regression in closed form: fit by _least_squares, predict X coef^T + intercept."""

    def fit(self, X, y):
        """Solve for coef_ and intercept_.

        Args:
            X: (n_samples, n_features). y: (n_samples,) or (n_samples, n_targets).

        Returns:
            self.
        """
        self._validate_params()
        X, y = _validate_real_data(self, X, y, multi_output=True, y_numeric=True, dtype=[np.float64, np.float32])
        self.coef_, self.intercept_ = _least_squares(X, y.astype(X.dtype, copy=False), self._alpha(),
                                                     self.fit_intercept)
        return self

    def predict(self, X):
        """X coef_^T + intercept_: (n_samples,) or (n_samples, n_targets)."""
        check_is_fitted(self)
        X = _validate_real_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return X @ self.coef_.T + self.intercept_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class LinearRegression(_LeastSquares):
    """Ordinary least squares, theta = pinv(X) y: the notes' linear regression in scikit-learn's API.

    Args:
        fit_intercept: fit an (unpenalized) intercept by centring X and y.

    Attributes:
        coef_: (n_features,) or (n_targets, n_features). intercept_: float or (n_targets,).

    Example:
        >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
        >>> model = LinearRegression().fit(X, [0, 1, 1, 1])         # the notes' OR gate
        >>> np.round(model.coef_, 6).tolist(), round(model.intercept_, 6)
        ([0.5, 0.5], 0.25)

    Notes:
        scikit-learn's other options (copy_X, n_jobs, positive, sample_weight) are not offered.
    """

    _parameter_constraints = {"fit_intercept": ["boolean"]}

    def __init__(self, *, fit_intercept=True):
        self.fit_intercept = fit_intercept

    def _alpha(self) -> float:
        return 0.0


class Ridge(_LeastSquares):
    """Ridge regression, coef = (X^T X + alpha I)^{-1} X^T y on centred data (intercept not penalized).

    Minimizes ||y - X coef - intercept||^2 + alpha ||coef||^2, scikit-learn's Ridge objective.

    Args:
        alpha: the penalty strength lambda >= 0.
        fit_intercept: fit an unpenalized intercept.

    Attributes:
        coef_: (n_features,) or (n_targets, n_features). intercept_: float or (n_targets,).

    Example:
        >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
        >>> Ridge(alpha=1.0).fit(X, [0, 1, 1, 1]).coef_.tolist()  # OLS: 0.5 each; centred X^T X = I, so / (1 + alpha)
        [0.25, 0.25]

    Notes:
        Solves the n_features x n_features system; scikit-learn's solver options are not offered.
    """

    _parameter_constraints = {"alpha": [Interval(Real, 0, None, closed="left")], "fit_intercept": ["boolean"]}

    def __init__(self, alpha=1.0, *, fit_intercept=True):
        self.alpha = alpha
        self.fit_intercept = fit_intercept

    def _alpha(self) -> float:
        return float(self.alpha)


class LogisticRegression(_ClassifierNetwork):
    """Logistic regression (binary, or multinomial for more classes) trained by nablanet's optimizers.

    Minimizes scikit-learn's objective C sum_i log-loss_i + 1/2 ||w||^2 (intercept not penalized), i.e.
    a network without hidden layers with alpha = 1 / C, from zero weights. The default solver is
    nablanet's L-BFGS on the whole training set, which reaches scikit-learn's solution.

    Args:
        C: inverse regularization strength (> 0); np.inf for none.
        fit_intercept: fit a (bias) intercept.
        tol: stop when max |gradient| <= tol ('lbfgs'), or when the training loss has not improved by tol
            for 10 epochs (minibatch solvers).
        max_iter: iterations ('lbfgs') or epochs (minibatch solvers).
        solver: 'lbfgs', or a minibatch solver of MLPClassifier ('sgd', 'adam', ...).
        learning_rate_init, batch_size: for minibatch solvers.
        random_state: for the minibatch solvers' shuffling.
        verbose, warm_start: as scikit-learn's.
%(threads)s
    Attributes:
        coef_: (1, n_features) for two classes, (n_classes, n_features) for more. intercept_: (1,) or
        (n_classes,). classes_, n_iter_ (an int, where scikit-learn has an array of one), n_features_in_.

    Example:
        >>> from sklearn.datasets import load_iris
        >>> X, y = load_iris(return_X_y=True)
        >>> model = LogisticRegression(max_iter=200).fit(X, y)
        >>> model.coef_.shape, bool(model.score(X, y) > 0.95)
        ((3, 4), True)

    Notes:
        fit takes sample_weight (the objective C sum_i w_i log-loss_i + 1/2 ||w||^2, scikit-learn's) and
        sparse X, as the MLPs do. scikit-learn's l1_ratio, class_weight, dual, intercept_scaling and n_jobs
        are not offered.
    """

    _parameter_constraints = {
        "C": [Interval(Real, 0, None, closed="right")],
        "fit_intercept": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "solver": [StrOptions(_SOLVER_NAMES), callable],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "threads": _THREADS_CONSTRAINT,
    }

    def __init__(self, C=1.0, *, fit_intercept=True, tol=1e-4, max_iter=100, solver="lbfgs", learning_rate_init=0.01,
                 batch_size="auto", random_state=None, verbose=0, warm_start=False, threads=None):
        self.C = C
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.threads = threads

    def _plan(self) -> _Plan:
        return _Plan(hidden_sizes=(), activations=(), init_factors=(6.0,), dropout=(), solver=_solver(self.solver),
                     optimizer=_OptimizerSettings(lr=self.learning_rate_init), alpha=1.0 / self.C,
                     max_iter=self.max_iter, tol=self.tol, init="zeros", fit_intercept=self.fit_intercept,
                     batch_size=self.batch_size, lbfgs_tolerance_change=64 * np.finfo(np.float64).eps,
                     lbfgs_line_search_steps=50,
                     verbose=self.verbose)

    def _validate_input(self, X, y, incremental, reset, plan):
        X, Y = super()._validate_input(X, y, incremental, reset, plan)
        if self._label_binarizer.y_type_.startswith("multilabel"):
            raise ValueError("LogisticRegression needs one class per sample; for multi-label targets use "
                             "MLPClassifier (hidden_layer_sizes=() gives one logistic regression per label)")
        return X, Y

    @property
    def coef_(self) -> np.ndarray:
        """(1, n_features) for two classes, (n_classes, n_features) for more."""
        return self.coefs_[0].T

    @property
    def intercept_(self) -> np.ndarray:
        """The biases b of the linear model: ``intercepts_[0]``, as scikit-learn's LogisticRegression."""
        return self.intercepts_[0]

    def decision_function(self, X):
        """The logits X coef_^T + intercept_: (n_samples,) for two classes, (n_samples, n_classes) for more."""
        return _ravel_single(self._logits(X))


LogisticRegression.__doc__ = LogisticRegression.__doc__ % {"threads": _THREADS_DOC}
