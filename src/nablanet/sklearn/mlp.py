"""MLPClassifier and MLPRegressor: scikit-learn's multi-layer perceptrons on nablanet's layers, optimizers and fit.

The two networks take scikit-learn's parameter names with scikit-learn's meaning, so that ``from nablanet
import MLPClassifier`` can replace ``from sklearn.neural_network import MLPClassifier``; they add what
scikit-learn lacks (an activation per layer, the output activation, more losses, L1, dropout, batch
normalization, initializers, more optimizers, gradient clipping, the dtype). Inside, they only translate
those parameters (nablanet.sklearn._params) and train through nablanet.sklearn._base.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import column_or_1d
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target

from nablanet.sklearn._base import (
    _SPARSE_FORMATS,
    _ClassifierNetwork,
    _input_dtype,
    _NetworkEstimator,
    _ravel_single,
    _validate_real_data,
)
from nablanet.sklearn._output import _Output
from nablanet.sklearn._params import (
    _CLASSIFIER_LOSSES,
    _REGRESSION_OUTPUT_ACTIVATIONS,
    _MLP_CONSTRAINTS,
    _is_stochastic,
    _mlp_plan,
    _Plan,
    _with_mlp_docs,
)

__all__ = ["MLPClassifier", "MLPRegressor"]


@_with_mlp_docs
class MLPClassifier(_ClassifierNetwork):
    """Multi-layer perceptron classifier: scikit-learn's MLPClassifier on nablanet's layers, optimizers and fit.

    A drop-in replacement for ``sklearn.neural_network.MLPClassifier`` (same parameters, same meaning,
    same defaults, same fitted attributes, the same initial weights for a given random_state), plus
    nablanet's additions. It minimizes the log-loss of a softmax output (multi-class), or of logistic
    outputs (binary, and multi-label: y a binary indicator matrix), plus alpha/2 ||W||^2 / n. Args are
    scikit-learn's, with its meaning and defaults; Keyword Args are nablanet's additions.

    Args:
%(mlp_parameters)s        loss: 'log_loss' (scikit-learn's), or 'squared_error': half the squared difference between the
            probabilities and the one-hot targets, summed over the classes and averaged over the samples;
            or any classification loss of nablanet.nn.LOSSES of logits or probabilities (one registered
            with register_loss too), given the one or the other as its record says.
        class_weight: None, 'balanced' or a dict class label -> weight (for multi-label y a list of dicts,
            one per label): each sample's weight (sample_weight, or 1) is multiplied by its class's, as
            scikit-learn's compute_sample_weight gives them ('balanced': n / (K n_k) for the n_k samples
            of each of the K classes, so that every class weighs the same in total); classes not named
            weigh 1. Not in scikit-learn's MLP; its linear classifiers' meaning. partial_fit refuses
            'balanced', since one batch's frequencies are not the data's.
%(mlp_attributes)s        classes_: the class labels.

    Example:
        >>> from sklearn.datasets import make_blobs
        >>> X, y = make_blobs(n_samples=60, centers=3, random_state=0)
        >>> clf = MLPClassifier(hidden_layer_sizes=(16,), solver="lbfgs", random_state=0).fit(X, y)
        >>> clf.score(X, y) > 0.9, clf.predict_proba(X[:2]).shape, [w.shape for w in clf.coefs_]
        (True, (2, 3), [(2, 16), (16, 3)])

    Notes:
        Sparse X (CSR, CSC) is densified one batch at a time (L-BFGS's full batch in pieces of about
        2^20 entries), never whole; the results equal those of the dense X. sample_weight weighs each
        batch's loss and divides its penalty by the batch's total weight, as scikit-learn's. Deviations
        from scikit-learn: momentum must be below 1; under 'invscaling' or 'adaptive' SGD's momentum is
        PyTorch's form (the learning rate multiplies the velocity when it is used), which changes the
        iterates from scikit-learn's once the rate changes; Adam adds eps to the bias-corrected root
        (Algorithm 1 of Kingma & Ba) where scikit-learn adds it before the correction; 'lbfgs' is
        nablanet's L-BFGS, not scipy's, and sets no loss_curve_ (as scikit-learn's); a run that diverges
        under early_stopping ends at once with the best weights (scikit-learn trains on with NaN weights
        until its patience runs out, then restores the same). With shuffle=False the iterates of 'sgd'
        (with momentum under a constant learning rate, without under any) agree with scikit-learn's to
        rounding, with or without sample_weight, and Adam's losses to about 1e-6 (tested); shuffled runs
        differ, as the order of the batches comes from another generator.
    """

    _parameter_constraints = {
        **_MLP_CONSTRAINTS,
        "out_activation": [None, StrOptions({"softmax", "logistic"})],
        "loss": [StrOptions(_CLASSIFIER_LOSSES)],
        "class_weight": [None, StrOptions({"balanced"}), dict, list],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000, out_activation=None, loss="log_loss", l1=0.0,
                 dropout=0.0, batch_norm=False, init=None, clip_norm=None, clip_value=None, dtype=None,
                 monitor=False, threads=None, class_weight=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.out_activation = out_activation
        self.loss = loss
        self.l1 = l1
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.init = init
        self.clip_norm = clip_norm
        self.clip_value = clip_value
        self.dtype = dtype
        self.monitor = monitor
        self.threads = threads
        self.class_weight = class_weight

    def _plan(self) -> _Plan:
        return _mlp_plan(self, {"softmax", "logistic"})

    def _sample_weights(self, X, Y, sample_weight, incremental: bool):
        """sample_weight times the weights of the samples' classes (class_weight), as scikit-learn's
        compute_sample_weight gives them for the class labels (not the binarized Y)."""
        weights = super()._sample_weights(X, Y, sample_weight, incremental)
        if self.class_weight is None:
            return weights
        if incremental and self.class_weight == "balanced":
            raise ValueError("class_weight 'balanced' is not supported for partial_fit: one batch's class "
                             "frequencies are not the data's. Compute the weights once from the whole target, "
                             "sklearn.utils.class_weight.compute_class_weight('balanced', classes=classes, y=y), "
                             "and pass them as a dict class -> weight.")
        class_weights = compute_sample_weight(self.class_weight, self._label_binarizer.inverse_transform(Y))
        class_weights = class_weights.astype(X.dtype, copy=False)
        return class_weights if weights is None else weights * class_weights

    @available_if(_is_stochastic)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), continuing from the current weights and optimizer state.

        Args:
            X: inputs (n_samples, n_features), an array or a sparse CSR or CSC matrix.
            y: class labels (or a binary indicator matrix).
            sample_weight: per-sample weights (n_samples,), or None, as in fit.
            classes: all the classes that y may ever hold; required on the first call (np.unique of
                the whole target), optional afterwards.

        Returns:
            self.
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y if _is_multilabel(y) else classes)
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def _is_multilabel(y) -> bool:
    return type_of_target(y).startswith("multilabel")


@_with_mlp_docs
class MLPRegressor(RegressorMixin, _NetworkEstimator):
    """Multi-layer perceptron regressor: scikit-learn's MLPRegressor on nablanet's layers, optimizers and fit.

    A drop-in replacement for ``sklearn.neural_network.MLPRegressor`` (same parameters, meaning, defaults,
    fitted attributes, initial weights), plus nablanet's additions. It minimizes half the mean squared
    error of a linear output (or the loss chosen) plus alpha/2 ||W||^2 / n; y may have several columns.
    Args are scikit-learn's (loss first, as in scikit-learn), with its meaning and defaults; Keyword Args
    are nablanet's additions.

    Args:
        loss: 'squared_error' (half the squared error, summed over the outputs and averaged over the
            samples, scikit-learn's; nablanet.sklearn._output says what loss_ reports), 'poisson' (half the
            Poisson deviance with an exp output, scikit-learn's; y >= 0), or 'absolute_error', 'huber'
            (nablanet.nn.functional's, averaged over samples and outputs), or a function
            ``(predictions Tensor, targets ndarray) -> scalar Tensor``.
%(mlp_parameters)s%(mlp_attributes)s
    Example:
        >>> from nablanet.datasets import make_polynomial
        >>> X, y = make_polynomial(200, rng=0)
        >>> reg = MLPRegressor(hidden_layer_sizes=(20,), activation="tanh", solver="lbfgs", random_state=0).fit(X, y)
        >>> bool(reg.score(X, y) > 0.99), reg.predict(X[:3]).shape
        (True, (3,))

    Notes:
        Deviations from scikit-learn: as MLPClassifier's.
    """

    _parameter_constraints = {
        **_MLP_CONSTRAINTS,
        "out_activation": [None, StrOptions(_REGRESSION_OUTPUT_ACTIVATIONS)],
        "loss": [StrOptions({"squared_error", "poisson", "absolute_error", "huber"}), callable],
    }

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000, out_activation=None, l1=0.0,
                 dropout=0.0, batch_norm=False, init=None, clip_norm=None, clip_value=None, dtype=None,
                 monitor=False, threads=None):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.out_activation = out_activation
        self.l1 = l1
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.init = init
        self.clip_norm = clip_norm
        self.clip_value = clip_value
        self.dtype = dtype
        self.monitor = monitor
        self.threads = threads

    def _plan(self) -> _Plan:
        return _mlp_plan(self, _REGRESSION_OUTPUT_ACTIVATIONS)

    def _validate_input(self, X, y, incremental, reset, plan):
        X, y = _validate_real_data(self, X, y, multi_output=True, y_numeric=True, reset=reset,
                                   dtype=_input_dtype(self, plan, reset), accept_sparse=_SPARSE_FORMATS)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError(f"loss='poisson' needs non-negative targets, got values down to {y.min()}")
        return X, y

    def _make_output(self, n_outputs: int, plan: _Plan) -> _Output:
        if plan.loss == "poisson":
            if plan.out_activation not in (None, "exp"):
                raise ValueError(f"loss='poisson' uses the log link, so out_activation must be None or 'exp', got "
                                 f"{plan.out_activation!r}")
            return _Output("exp", "poisson", n_outputs)
        return _Output(plan.out_activation or "identity", plan.loss, n_outputs)

    def _validation_score(self, logits, targets, sample_weight=None) -> float:
        """scikit-learn's score (R^2, averaged over the outputs) of the network's logits."""
        predictions = _ravel_single(self._output.apply(logits))
        if not np.isfinite(predictions).all():
            return np.nan
        return r2_score(_ravel_single(targets), predictions, sample_weight=sample_weight)

    def predict(self, X):
        """Predicted values: (n_samples,) for one output, (n_samples, n_outputs) for several."""
        return _ravel_single(self._outputs(X))

    @available_if(_is_stochastic)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y) (and per-sample weights, as in fit), continuing from the current weights
        and optimizer state.

        Returns:
            self.
        """
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)
