"""scikit-learn estimators: MLPClassifier and MLPRegressor on nablanet, and the notes' linear baselines.

LinearRegression and Ridge are solved in closed form, LogisticRegression by nablanet's optimizers. The
two networks take scikit-learn's parameter names with scikit-learn's meaning, so that ``from nablanet
import MLPClassifier`` can replace ``from sklearn.neural_network import MLPClassifier``; they add what
scikit-learn lacks (an activation per layer, the output activation, more losses, L1, dropout, batch
normalization, initializers, more optimizers, gradient clipping, the dtype). Inside, they only
translate those parameters into objects: a ``nablanet.nn.Sequential`` of Dense, BatchNorm, activation
and Dropout layers, an optimizer of ``nablanet.optim`` looked up in one table (``_SOLVERS``), and a call
of ``nablanet.train.fit`` whose callback applies scikit-learn's end-of-epoch rules (its ``tol`` /
``n_iter_no_change`` test, the 'invscaling' and 'adaptive' learning rates, early stopping).
``solver='lbfgs'`` runs ``nablanet.optim.LBFGS`` on the whole training set.

The cost minimized is scikit-learn's, term for term, on a batch of n rows (scikit-learn's
``_backprop``; W are the weight matrices, not the biases)::

    C = data loss + (alpha / 2 ||W||^2 + l1 ||W||_1) / n

    data loss:  squared_error  (1/2) mean over rows, sum over outputs of (y - t)^2
                log_loss       -(1/n) sum_i sum_k t_ik log p_ik  (softmax), or summed over the
                               outputs of the binary cross-entropy (logistic: binary, multi-label)
                poisson        mean over rows, sum over outputs of the half Poisson deviance

and ``loss_curve_`` holds the numbers scikit-learn reports, which are the same except that
scikit-learn reports the squared error averaged over the outputs (while following the gradient of its
sum, as above); the two differ only with several outputs. In terms of ``nablanet.train.fit``'s penalty
``l2 sum W^2``, ``alpha`` is ``l2 = alpha / (2 n)`` for a batch of n rows; the estimators add the term
themselves so that a short last batch is scaled by its own size, as in scikit-learn.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from itertools import pairwise
from numbers import Integral, Real

import numpy as np

try:
    from scipy.special import xlogy
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state, column_or_1d
    from sklearn.utils._param_validation import Interval, InvalidParameterError, Options, StrOptions
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import _check_partial_fit_first_call, check_classification_targets, unique_labels
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("nablanet.estimators needs scikit-learn (pip install scikit-learn, or nablanet[data])") from error

from nablanet import nn, optim, train
from nablanet.autodiff import no_grad, ops
from nablanet.nn import functional as F
from nablanet.diagnostics import TrainingMonitor
from nablanet.train import Callback, TrainingDivergedError

__all__ = ["MLPClassifier", "MLPRegressor", "LinearRegression", "Ridge", "LogisticRegression"]


# --- names -> objects: activations, solvers, losses ------------------------------------------------

#: Hidden-layer activations: scikit-learn's four names and nablanet's others, as nablanet.nn.Dense
#: names them (scikit-learn's "logistic" is Dense's "sigmoid", which Dense fuses into the layer).
_HIDDEN_ACTIVATIONS = {
    "identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu", "sigmoid": "sigmoid",
    "leaky_relu": "leaky_relu", "elu": "elu", "gelu": "gelu", "softplus": "softplus",
}

#: Output activations (out_activation_) as functions of logits; they accept Tensors and ndarrays.
_OUTPUT_ACTIVATIONS = {
    **{name: F.get_activation(nablanet_name) for name, nablanet_name in _HIDDEN_ACTIVATIONS.items()},
    "softmax": F.softmax, "exp": ops.exp,
}

#: Weight initializers of nablanet.nn.init usable by name (None keeps scikit-learn's scheme).
_INITIALIZERS = frozenset(name for name in nn.init.__all__
                          if name not in ("constant", "get_initializer", "make_rng", "fans"))


@dataclass(frozen=True)
class _OptimizerSettings:
    """The estimator's optimizer hyperparameters; the defaults are scikit-learn's."""

    lr: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = True
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    clip_norm: float | None = None
    clip_value: float | None = None

    def clipping(self) -> dict:
        return {"clip_norm": self.clip_norm, "clip_value": self.clip_value}


@dataclass(frozen=True)
class _Solver:
    """How a solver name becomes training.

    Attributes:
        make: ``(parameters, _OptimizerSettings) -> Optimizer`` for minibatch training through
            nablanet.train.fit; None for L-BFGS on the whole training set.
        full_batch: one batch of all samples per epoch (plain gradient descent), whatever batch_size says.
        follows_learning_rate: applies ``learning_rate`` ('invscaling', 'adaptive'). scikit-learn applies
            it to SGD only; methods that scale their own steps (Adam and the like) ignore it, as there.
    """

    make: object
    full_batch: bool = False
    follows_learning_rate: bool = False


_SOLVERS = {
    "sgd": _Solver(lambda params, s: optim.SGD(params, lr=s.lr, momentum=s.momentum,
                                               nesterov=s.nesterov and s.momentum > 0, **s.clipping()),
                   follows_learning_rate=True),
    "gd": _Solver(lambda params, s: optim.GD(params, lr=s.lr, **s.clipping()), full_batch=True,
                  follows_learning_rate=True),
    "momentum": _Solver(lambda params, s: optim.Momentum(params, lr=s.lr, momentum=s.momentum, **s.clipping()),
                        follows_learning_rate=True),
    "nesterov": _Solver(lambda params, s: optim.Nesterov(params, lr=s.lr, momentum=s.momentum, **s.clipping()),
                        follows_learning_rate=True),
    "adagrad": _Solver(lambda params, s: optim.Adagrad(params, lr=s.lr, eps=s.eps, **s.clipping())),
    "rmsprop": _Solver(lambda params, s: optim.RMSprop(params, lr=s.lr, eps=s.eps, **s.clipping())),
    "adam": _Solver(lambda params, s: optim.Adam(params, lr=s.lr, beta1=s.beta1, beta2=s.beta2, eps=s.eps,
                                                 **s.clipping())),
    "adamw": _Solver(lambda params, s: optim.AdamW(params, lr=s.lr, beta1=s.beta1, beta2=s.beta2, eps=s.eps,
                                                   **s.clipping())),
    "lbfgs": _Solver(None),
}


def _solver(spec) -> _Solver:
    """A _Solver from a name of _SOLVERS or a factory ``parameters -> Optimizer``."""
    if callable(spec):
        return _Solver(lambda params, settings: spec(params))
    return _SOLVERS[spec]


# Losses in scikit-learn's conventions (see the module docstring), as functions of the output layer's
# logits z; each takes the _Output that names the output activation and the number of outputs.
def _log_loss(output, z, targets):
    # From the logits, so that no probability is ever rounded to 0 (scikit-learn clips p to [eps, 1 - eps]
    # instead; the two agree while p > 2.2e-16).
    if output.activation == "softmax":
        return F.cross_entropy(z, targets)
    return output.n_outputs * F.binary_cross_entropy_with_logits(z, targets)


def _half_squared_error(output, z, targets):
    # Summed over the outputs: scikit-learn's gradient (its delta y - t per output, divided by n only).
    return 0.5 * output.n_outputs * F.mse(output.apply(z), targets)


def _absolute_error(output, z, targets):
    return F.mae(output.apply(z), targets)


def _huber(output, z, targets):
    return F.huber(output.apply(z), targets)


def _half_poisson_deviance(output, z, targets):
    # With mu = exp(z): t log(t / mu) - t + mu = (mu - t z) + (t log t - t); the bracket without z is a
    # constant of the data, added so that the value equals scikit-learn's.
    constant = float(np.mean(np.sum(xlogy(targets, targets) - targets, axis=1)))
    return output.n_outputs * ops.mean(ops.exp(z) - z * targets) + constant


_LOSSES = {
    "log_loss": _log_loss, "squared_error": _half_squared_error, "absolute_error": _absolute_error,
    "huber": _huber, "poisson": _half_poisson_deviance,
}


@dataclass(frozen=True)
class _Output:
    """The output layer: its activation (out_activation_), its loss, and what the loss compares with."""

    activation: str
    loss: object
    n_outputs: int

    def apply(self, z):
        return _OUTPUT_ACTIVATIONS[self.activation](z)

    @property
    def takes_labels(self) -> bool:
        """Softmax with log_loss: the fused cross-entropy takes class labels rather than one-hot rows."""
        return self.activation == "softmax" and self.loss == "log_loss"

    def targets(self, Y: np.ndarray) -> np.ndarray:
        """What the loss compares the outputs with: class labels (see takes_labels), else Y itself."""
        return Y.argmax(axis=1) if self.takes_labels else Y

    @property
    def reported_fraction(self) -> float:
        """scikit-learn's reported loss_ over the data loss followed: it averages squared errors over outputs."""
        return 1.0 / self.n_outputs if self.loss == "squared_error" else 1.0

    def data_loss(self, z, targets):
        if callable(self.loss):
            return self.loss(self.apply(z), targets)
        return _LOSSES[self.loss](self, z, targets)


class _Penalty:
    """alpha/2 ||W||^2 + l1 ||W||_1 over the weight matrices (not the biases), and its gradient.

    The gradient alpha W + l1 sign(W) is added to the weights' gradients directly rather than through
    Tensor ops: as a graph (W * W, sums, scaling and their VJPs) the term cost about 150 us per step,
    a quarter of a training step of a 64-100-10 network on digits, where scikit-learn's costs nothing.
    """

    def __init__(self, weights: list, alpha: float, l1: float):
        self.weights = weights
        self.alpha = alpha
        self.l1 = l1

    def __bool__(self) -> bool:
        return bool(self.alpha or self.l1)

    def value(self) -> float:
        total = 0.0
        for W in self.weights:
            values = W.data.ravel()
            if self.alpha:
                total += 0.5 * self.alpha * float(np.dot(values, values))
            if self.l1:
                total += self.l1 * float(np.abs(values).sum())
        return total

    def add_gradient(self, scale: float) -> None:
        """W.grad += scale (alpha W + l1 sign W), for the penalty divided by n (scale = 1 / n)."""
        for W in self.weights:
            term = (scale * self.alpha) * W.data if self.alpha else 0.0
            if self.l1:
                term = term + (scale * self.l1) * np.sign(W.data)
            W.grad = W.grad + term


class _Objective:
    """scikit-learn's data loss on a batch; with the penalty / n, scikit-learn's cost.

    Passed to nablanet.train.fit as its loss (the penalty's gradient is added by _PenalizedSteps). It
    records the rows of the last batch and adds up, over the rows it has seen, the value scikit-learn
    reports as loss_ (see _Output.reported_fraction); ``take_reported`` returns their mean.
    """

    def __init__(self, output: _Output, penalty: _Penalty):
        self.output = output
        self.penalty = penalty
        self.rows = 0
        self._reported_sum = 0.0
        self._reported_rows = 0

    def __call__(self, z, targets):
        self.rows = targets.shape[0]
        data_loss = self.output.data_loss(z, targets)
        # n_rows * (data loss + penalty / n_rows): each batch weighs by its rows, as scikit-learn's average.
        self._reported_sum += self.rows * data_loss.item() * self.output.reported_fraction + self.penalty.value()
        self._reported_rows += self.rows
        return data_loss

    def take_reported(self) -> float:
        """scikit-learn's loss_ averaged over the rows seen since the last call."""
        value = self._reported_sum / self._reported_rows
        self._reported_sum, self._reported_rows = 0.0, 0
        return value


class _PenalizedSteps:
    """The optimizer handed to nablanet.train.fit: adds the penalty's gradient for the batch just seen, then steps."""

    def __init__(self, optimizer, objective: _Objective):
        self.optimizer = optimizer
        self.objective = objective

    def step(self) -> None:
        self.objective.penalty.add_gradient(1.0 / self.objective.rows)
        self.optimizer.step()

    @property
    def lr_now(self) -> float:
        return self.optimizer.lr_now


# --- the translated parameters ---------------------------------------------------------------------

@dataclass(frozen=True)
class _Plan:
    """Everything an estimator's parameters say about the network and its training, checked once."""

    hidden_sizes: tuple
    activations: tuple           # nablanet names, one per hidden layer
    init_factors: tuple          # scikit-learn's Glorot factor per layer, output layer included
    dropout: tuple               # one probability per hidden layer
    solver: _Solver
    optimizer: _OptimizerSettings
    alpha: float
    max_iter: int
    tol: float
    batch_norm: bool = False
    init: str | None = None      # None: scikit-learn's uniform draws
    fit_intercept: bool = True
    l1: float = 0.0
    batch_size: object = "auto"
    shuffle: bool = True
    n_iter_no_change: float = 10
    learning_rate: str = "constant"
    power_t: float = 0.5
    early_stopping: bool = False
    validation_fraction: float = 0.1
    max_fun: int = 15000
    # L-BFGS also stops when the cost changes by less than this: scipy's default ftol (factr 1e7 times
    # the float64 eps), which scikit-learn's MLP uses; its LogisticRegression asks for 64 eps.
    lbfgs_tolerance_change: float = 1e7 * np.finfo(np.float64).eps
    verbose: int = 0
    dtype: object = None
    out_activation: str | None = None   # None: the default for the targets
    loss: object = "log_loss"


def _invalid(estimator, name: str, expected: str, got) -> InvalidParameterError:
    return InvalidParameterError(f"The {name!r} parameter of {type(estimator).__name__} must be {expected}. "
                                 f"Got {got!r} instead.")


def _hidden_sizes(estimator) -> tuple:
    sizes = estimator.hidden_layer_sizes
    sizes = [sizes] if not hasattr(sizes, "__iter__") else list(sizes)
    if any(not isinstance(size, Integral) or isinstance(size, bool) or size <= 0 for size in sizes):
        raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
    return tuple(int(size) for size in sizes)


def _per_layer(estimator, name: str, n_layers: int, check, expected: str) -> tuple:
    """A parameter given once for all hidden layers, or as a list with one entry per hidden layer."""
    value = getattr(estimator, name)
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        values = [value] * n_layers
    else:
        values = list(value)
        if len(values) != n_layers:
            raise _invalid(estimator, name, f"one value, or a list of {n_layers} (one per hidden layer)", value)
    for item in values:
        if not check(item):
            raise _invalid(estimator, name, expected, value)
    return tuple(values)


def _glorot_factor(activation: str) -> float:
    # scikit-learn's _init_coef: bound sqrt(factor / (fan_in + fan_out)) with factor 6 (Glorot & Bengio's
    # uniform initialization), and 2 for logistic units (scikit-learn's choice).
    return 2.0 if activation in ("logistic", "sigmoid") else 6.0


def _dtype(value):
    return None if value is None else np.dtype(value)


# --- the network -----------------------------------------------------------------------------------

def _build_network(n_features: int, n_outputs: int, plan: _Plan, random_state, dtype) -> nn.Sequential:
    """Dense layers (with BatchNorm, activation and Dropout after each hidden one) ending in the logits.

    With ``plan.init`` None the weights and biases are scikit-learn's draws, taken from ``random_state``
    in scikit-learn's order (weights, then biases, layer by layer), so a random_state gives the same
    initial network as scikit-learn's MLP. Otherwise weights come from the named nablanet initializer
    and biases start at zero.
    """
    sizes = [n_features, *plan.hidden_sizes, n_outputs]
    weight_rng = None if plan.init is None else np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    dropout_rng = (np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
                   if any(plan.dropout) else None)
    layers = []
    for i, (fan_in, fan_out) in enumerate(pairwise(sizes)):
        hidden = i < len(plan.hidden_sizes)
        activation = plan.activations[i] if hidden else None
        # Without batch normalization the activation is fused into the Dense primitive (faster).
        fused = activation if hidden and not plan.batch_norm else None
        dense = nn.Dense(fan_in, fan_out, fused, bias=plan.fit_intercept, init=plan.init or "zeros",
                         rng=weight_rng, dtype=dtype)
        if plan.init is None:
            bound = math.sqrt(plan.init_factors[i] / (fan_in + fan_out))
            dense.W.data[...] = random_state.uniform(-bound, bound, (fan_in, fan_out))
            if dense.b is not None:
                dense.b.data[...] = random_state.uniform(-bound, bound, fan_out)
        layers.append(dense)
        if hidden and plan.batch_norm:
            layers += [nn.BatchNorm(fan_out, dtype=dtype), nn.Activation(activation)]
        if hidden and plan.dropout[i]:
            layers.append(nn.Dropout(plan.dropout[i], rng=dropout_rng))
    return nn.Sequential(*layers)


class _EpochRules(Callback):
    """scikit-learn's end-of-epoch rules for its MLP (``_fit_stochastic``), as a callback of nablanet.train.fit.

    After each epoch: record ``loss_curve_``, ``n_iter_``, ``t_``; with early stopping score the validation
    set and keep the best weights; count the epochs without an improvement of ``tol`` (on the training
    loss, or the validation score); set the 'invscaling' learning rate; and after more than
    ``n_iter_no_change`` such epochs either stop or, for 'adaptive', divide the learning rate by 5 (and
    stop once it is below 1e-6).
    """

    def __init__(self, estimator, plan: _Plan, objective: _Objective, validation, n_samples: int, incremental: bool):
        self.estimator = estimator
        self.objective = objective
        self.plan = plan
        self.validation = validation
        self.n_samples = n_samples
        self.incremental = incremental

    def on_epoch_end(self, run, epoch, logs):
        estimator, plan = self.estimator, self.plan
        estimator.n_iter_ += 1
        estimator.loss_ = self.objective.take_reported()
        estimator.t_ += self.n_samples
        estimator.loss_curve_.append(estimator.loss_)
        if plan.verbose:
            print(f"Iteration {estimator.n_iter_}, loss = {estimator.loss_:.8f}")
        self._count_epochs_without_improvement(run)
        scheduled = plan.solver.follows_learning_rate
        optimizer = estimator._optimizer  # the optimizer itself (fit may drive it through _PenalizedSteps)
        if scheduled and plan.learning_rate == "invscaling":
            # t_ counts the training samples seen (scikit-learn's time step).
            optimizer.lr = plan.optimizer.lr / (estimator.t_ + 1) ** plan.power_t
        if estimator._no_improvement_count > plan.n_iter_no_change:
            what = "Validation score" if self.validation is not None else "Training loss"
            message = (f"{what} did not improve more than tol={plan.tol:f} for {plan.n_iter_no_change} "
                       "consecutive epochs.")
            if scheduled and plan.learning_rate == "adaptive" and optimizer.lr > 1e-6:
                optimizer.lr /= 5.0
                estimator._no_improvement_count = 0
                if plan.verbose:
                    print(f"{message} Setting learning rate to {optimizer.lr:f}")
            else:
                if plan.verbose:
                    print(f"{message} Stopping.")
                run.stop_training = True
                return
        if not self.incremental and estimator.n_iter_ == plan.max_iter:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({plan.max_iter}) reached and the "
                          "optimization hasn't converged yet.", ConvergenceWarning)

    def _count_epochs_without_improvement(self, run) -> None:
        estimator, tol = self.estimator, self.plan.tol
        if self.validation is not None:
            score = estimator._validation_score(*self.validation)
            estimator.validation_scores_.append(score)
            if self.plan.verbose:
                print(f"Validation score: {score:f}")
            if score < estimator.best_validation_score_ + tol:
                estimator._no_improvement_count += 1
            else:
                estimator._no_improvement_count = 0
            if score > estimator.best_validation_score_:
                estimator.best_validation_score_ = score
                estimator._best_state = run.model.state_dict()
        else:
            loss = estimator.loss_curve_[-1]
            if loss > estimator.best_loss_ - tol:
                estimator._no_improvement_count += 1
            else:
                estimator._no_improvement_count = 0
            estimator.best_loss_ = min(estimator.best_loss_, loss)

    def on_train_end(self, run):
        if self.validation is not None:
            run.model.load_state_dict(self.estimator._best_state)


# --- the shared machinery --------------------------------------------------------------------------

class _NetworkEstimator(BaseEstimator):
    """Fitting, prediction plumbing, fitted attributes and pickling shared by the estimators built on a network.

    A subclass provides ``_plan()`` (its parameters translated into a _Plan), ``_validate_input`` (X and
    the targets as a 2-D array), ``_make_output`` (the output layer for those targets) and
    ``_validation_score`` (its ``score`` on held-out data, for early stopping).
    """

    # --- fitted attributes that live in the network ----------------------------------------------
    @property
    def coefs_(self) -> list:
        """The weight matrices W of the Dense layers, (fan_in, fan_out) each as scikit-learn's.

        They are the network's own arrays: training updates them in place, and assigning a list of
        arrays of the same shapes copies those values into the network.
        """
        return [layer.W.data for layer in self._dense_layers()]

    @coefs_.setter
    def coefs_(self, values) -> None:
        _copy_into([layer.W.data for layer in self._dense_layers()], values, "coefs_")

    @property
    def intercepts_(self) -> list:
        """The bias vectors b of the Dense layers, (fan_out,) each (zeros when fit_intercept is False)."""
        return [layer.b.data if layer.b is not None else np.zeros(layer.W.shape[1], dtype=layer.W.data.dtype)
                for layer in self._dense_layers()]

    @intercepts_.setter
    def intercepts_(self, values) -> None:
        _copy_into([layer.b.data for layer in self._dense_layers()], values, "intercepts_")

    def _dense_layers(self) -> list:
        check_is_fitted(self, "model_")
        return [layer for layer in self.model_ if isinstance(layer, nn.Dense)]

    # --- fitting ---------------------------------------------------------------------------------
    def fit(self, X, y):
        """Train the network on (X, y) from a fresh start (or from the current weights with warm_start).

        Args:
            X: inputs (n_samples, n_features); dense arrays only.
            y: targets: class labels (n_samples,) or a binary indicator matrix (n_samples, n_classes)
                for classifiers; values (n_samples,) or (n_samples, n_outputs) for regressors.

        Returns:
            self.
        """
        return self._fit(X, y, incremental=False)

    def _fit(self, X, y, incremental: bool):
        self._validate_params()
        plan = self._plan()
        first_pass = not hasattr(self, "model_") or (not self.warm_start and not incremental)
        X, Y = self._validate_input(X, y, incremental, reset=first_pass, plan=plan)
        Y = Y.reshape(-1, 1) if Y.ndim == 1 else Y
        random_state = check_random_state(self.random_state)
        self._random_state = random_state
        if first_pass:
            dtype = plan.dtype if plan.dtype is not None else X.dtype
            self._initialize(X.shape[1], Y.shape[1], plan, random_state, dtype)
        elif Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs but the network was fitted with {self.n_outputs_}; "
                             "refit without warm_start to change them")
        weights = [parameter for parameter in self.model_.parameters() if parameter.regularize]
        objective = _Objective(self._output, _Penalty(weights, plan.alpha, plan.l1))
        if plan.solver.make is None:
            if any(plan.dropout):
                raise ValueError("dropout needs a minibatch solver (e.g. 'adam'): L-BFGS's line search needs the "
                                 "same cost at every evaluation, and dropout draws new masks each time")
            self._fit_lbfgs(X, self._output.targets(Y), objective, plan)
        else:
            self._fit_stochastic(X, Y, objective, plan, incremental, random_state)
        if not all(np.isfinite(parameter.data).all() for parameter in self.model_.parameters()):
            raise ValueError("Solver produced non-finite parameter weights. The input data may contain large "
                             "values and need to be preprocessed.")
        return self

    def _initialize(self, n_features: int, n_outputs: int, plan: _Plan, random_state, dtype) -> None:
        """The fitted state of a fresh fit (scikit-learn's ``_initialize``)."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(plan.hidden_sizes) + 2
        self._output = self._make_output(n_outputs, plan)
        self.out_activation_ = self._output.activation
        self.model_ = _build_network(n_features, n_outputs, plan, random_state, dtype)
        if plan.solver.make is not None:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if plan.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
                self._best_state = self.model_.state_dict()
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _fit_stochastic(self, X, Y, objective: _Objective, plan: _Plan, incremental: bool, random_state) -> None:
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = plan.solver.make(self.model_.parameters(), plan.optimizer)
        if plan.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        targets = self._output.targets(Y)
        if plan.early_stopping:
            # scikit-learn's split: the same random_state draws, stratified for single-output classifiers.
            stratify = Y if is_classifier(self) and self.n_outputs_ == 1 else None
            X, X_val, targets, _, _, Y_val = train_test_split(X, targets, Y, random_state=random_state,
                                                              test_size=plan.validation_fraction, stratify=stratify)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of "
                                 "your dataset.")
            validation = (X_val, self._decode(Y_val))
        else:
            validation = None
        n_samples = X.shape[0]
        batch_size = n_samples if plan.solver.full_batch else _batch_size(plan.batch_size, n_samples)
        _check_batch_norm_batches(plan, n_samples, batch_size)
        rules = _EpochRules(self, plan, objective, validation, n_samples, incremental)
        self.n_iter_ = 0
        try:
            optimizer = _PenalizedSteps(self._optimizer, objective) if objective.penalty else self._optimizer
            callbacks = [rules]
            if getattr(self, "monitor", False):
                # A fresh monitor per fit (or partial_fit): per-layer diagnostics and warnings in monitor_.
                # (The MLPs offer it; LogisticRegression, which shares this loop, has no layers to watch.)
                self.monitor_ = TrainingMonitor()
                callbacks.insert(0, self.monitor_)
            train.fit(self.model_, X, targets, loss=objective, optimizer=optimizer,
                      epochs=1 if incremental else plan.max_iter, batch_size=batch_size, shuffle=plan.shuffle,
                      metrics=(), callbacks=callbacks, seed=random_state.randint(np.iinfo(np.int32).max),
                      progress=False)
        except TrainingDivergedError as error:
            raise ValueError(f"Solver produced non-finite parameter weights: {error}") from error
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
            rules.on_train_end(_Interrupted(self.model_))

    def _fit_lbfgs(self, X, targets, objective: _Objective, plan: _Plan) -> None:
        """L-BFGS on the whole training set, at most max_iter iterations and about max_fun evaluations.

        Once max_fun evaluations are spent the closure reports an infinite cost without computing it,
        so the line search rejects every further step and L-BFGS ends at its last accepted point.
        """
        _check_batch_norm_batches(plan, X.shape[0], X.shape[0])
        dtype = self.model_[0].W.data.dtype
        X = np.asarray(X, dtype=dtype)
        targets = targets if self._output.takes_labels else np.asarray(targets, dtype=dtype)
        optimizer = optim.LBFGS(self.model_.parameters(), max_iter=plan.max_iter, tolerance_grad=plan.tol,
                                tolerance_change=plan.lbfgs_tolerance_change)
        evaluations = 0
        n_rows = X.shape[0]
        self.model_.train()

        def closure():
            nonlocal evaluations
            if evaluations >= plan.max_fun:
                return math.inf
            evaluations += 1
            data_loss = objective(self.model_(X), targets)
            data_loss.backward()
            if objective.penalty:
                objective.penalty.add_gradient(1.0 / n_rows)
            return data_loss.item() + objective.penalty.value() / n_rows

        optimizer.step(closure)
        self.n_iter_ = optimizer.state.t
        with no_grad():  # the cost at the accepted point, in scikit-learn's report
            objective.take_reported()
            objective(self.model_(X), targets)
            self.loss_ = objective.take_reported()
        if plan.verbose:
            print(f"L-BFGS: {self.n_iter_} iterations, {evaluations} evaluations, loss = {self.loss_:.8f}")
        if self.n_iter_ >= plan.max_iter or evaluations >= plan.max_fun:
            warnings.warn(f"lbfgs failed to converge after {self.n_iter_} iteration(s) and {evaluations} "
                          f"evaluations (max_iter={plan.max_iter}, max_fun={plan.max_fun}). Increase max_iter or "
                          "max_fun, or scale the data.", ConvergenceWarning)

    # --- predicting ------------------------------------------------------------------------------
    def _outputs(self, X) -> np.ndarray:
        """The output layer's activations for X (probabilities, or predicted values), (n_samples, n_outputs)."""
        logits = self._logits(X)
        return self._output.apply(logits)

    def _logits(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=self.model_[0].W.data.dtype)
        return train.predict(self.model_, X)

    # --- pickling: nablanet modules are saved as their config and state_dict ----------------------
    def __getstate__(self):
        state = dict(super().__getstate__())
        model = state.pop("model_", None)
        if model is not None:
            state["_saved_model"] = (model.config(), model.state_dict())
        optimizer = state.pop("_optimizer", None)
        if optimizer is not None:
            state["_saved_optimizer"] = optimizer.state_dict()
        return state

    def __setstate__(self, state):
        state = dict(state)
        saved_model = state.pop("_saved_model", None)
        saved_optimizer = state.pop("_saved_optimizer", None)
        super().__setstate__(state)
        if saved_model is not None:
            config, arrays = saved_model
            self.model_ = nn.module_from_config(config)
            self.model_.load_state_dict(arrays)
        if saved_optimizer is not None:
            plan = self._plan()
            self._optimizer = plan.solver.make(self.model_.parameters(), plan.optimizer)
            self._optimizer.load_state_dict(saved_optimizer)


class _Interrupted:
    """Stands in for fit's TrainingRun when training was interrupted: the callback needs only the model."""

    def __init__(self, model):
        self.model = model


def _copy_into(targets: list, values, name: str) -> None:
    values = list(values)
    if len(values) != len(targets):
        raise ValueError(f"{name} needs {len(targets)} arrays (one per Dense layer), got {len(values)}")
    for i, (target, value) in enumerate(zip(targets, values)):
        value = np.asarray(value)
        if value.shape != target.shape:
            raise ValueError(f"{name}[{i}] must have shape {target.shape}, got {value.shape}")
        np.copyto(target, value, casting="same_kind")


def _check_batch_norm_batches(plan: _Plan, n_samples: int, batch_size: int) -> None:
    """Batch statistics need two rows: fail before training rather than at a one-row (last) batch."""
    if plan.batch_norm and (batch_size == 1 or n_samples % batch_size == 1):
        raise ValueError(f"batch_norm needs at least 2 rows in every minibatch, but n_samples = {n_samples} with "
                         f"batch_size = {batch_size} leaves a batch of one row; choose another batch_size (or "
                         "more samples)")


def _batch_size(batch_size, n_samples: int) -> int:
    if batch_size == "auto":
        return min(200, n_samples)
    if batch_size > n_samples:
        warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped")
    return int(np.clip(batch_size, 1, n_samples))


class _ClassifierNetwork(ClassifierMixin, _NetworkEstimator):
    """Classes and probabilities: targets are binarized as scikit-learn's MLPClassifier does."""

    def _validate_input(self, X, y, incremental, reset, plan):
        X, y = validate_data(self, X, y, multi_output=True, reset=reset, dtype=_input_dtype(self, plan, reset))
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same classes as in the previous "
                                     f"call to fit. Previously got {self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                                 f"'y' has {classes}.")
        # bool, so that float32 inputs are not upcast by the targets (as scikit-learn).
        return X, self._label_binarizer.transform(y).astype(bool)

    def _make_output(self, n_outputs: int, plan: _Plan) -> _Output:
        multiclass = self._label_binarizer.y_type_ == "multiclass"
        activation = plan.out_activation or ("softmax" if multiclass else "logistic")
        if activation == "softmax" and not multiclass:
            raise ValueError("out_activation='softmax' needs more than two mutually exclusive classes; binary and "
                             "multi-label targets use 'logistic'")
        return _Output(activation, plan.loss, n_outputs)

    def _decode(self, Y):
        return self._label_binarizer.inverse_transform(Y)

    def _validation_score(self, X, y) -> float:
        probabilities = self._output.apply(train.predict(self.model_, X))
        if not np.isfinite(probabilities).all():
            return np.nan
        return accuracy_score(y, self._label_binarizer.inverse_transform(_ravel_single(probabilities)))

    def predict(self, X):
        """The predicted classes (n_samples,), or a binary indicator matrix (n_samples, n_classes) for multi-label."""
        check_is_fitted(self)
        return self._label_binarizer.inverse_transform(_ravel_single(self._outputs(X)))

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes), columns in the order of classes_.

        Multi-label: each column is the probability of its label, independently. A multi-class network
        with out_activation='logistic' (one-vs-rest) has its outputs normalized to sum to one.
        """
        check_is_fitted(self)
        probabilities = self._outputs(X)
        if self.n_outputs_ == 1:
            positive = probabilities.ravel()
            return np.vstack([1.0 - positive, positive]).T
        if self.out_activation_ == "logistic" and self._label_binarizer.y_type_ == "multiclass":
            return probabilities / probabilities.sum(axis=1, keepdims=True)
        return probabilities

    def predict_log_proba(self, X):
        """log(predict_proba(X)), as scikit-learn's."""
        probabilities = self.predict_proba(X)
        return np.log(probabilities, out=probabilities)


def _ravel_single(outputs: np.ndarray) -> np.ndarray:
    return outputs.ravel() if outputs.shape[1] == 1 else outputs


def _input_dtype(estimator, plan: _Plan, reset: bool):
    """The dtype X is converted to: the network's after the first fit, else the dtype parameter's, else
    scikit-learn's rule (float32 stays float32, everything else becomes float64)."""
    if not reset and hasattr(estimator, "model_"):
        return estimator.model_[0].W.data.dtype
    return plan.dtype if plan.dtype is not None else [np.float64, np.float32]


# --- the multi-layer perceptrons -------------------------------------------------------------------

_MLP_CONSTRAINTS = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "activation": [StrOptions(set(_HIDDEN_ACTIVATIONS)), "array-like"],
    "solver": [StrOptions(set(_SOLVERS)), callable],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "power_t": [Interval(Real, 0, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
    "tol": [Interval(Real, 0, None, closed="left")],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    # [0, 1) rather than scikit-learn's [0, 1]: with momentum 1 the velocity never forgets.
    "momentum": [Interval(Real, 0, 1, closed="left")],
    "nesterovs_momentum": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="left")],
    "beta_1": [Interval(Real, 0, 1, closed="left")],
    "beta_2": [Interval(Real, 0, 1, closed="left")],
    "epsilon": [Interval(Real, 0, None, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
    "max_fun": [Interval(Integral, 1, None, closed="left")],
    "l1": [Interval(Real, 0, None, closed="left")],
    "dropout": [Interval(Real, 0, 1, closed="left"), "array-like"],
    "batch_norm": ["boolean"],
    "init": [None, StrOptions(set(_INITIALIZERS))],
    "clip_norm": [None, Interval(Real, 0, None, closed="neither")],
    "clip_value": [None, Interval(Real, 0, None, closed="neither")],
    "monitor": ["boolean"],
    "dtype": [None, StrOptions({"float32", "float64"}), Options(type, {np.float32, np.float64})],
}

_MLP_DOC_PARAMETERS = """
    Args (scikit-learn's, with its meaning and defaults):
        hidden_layer_sizes: units of each hidden layer, e.g. (100,) or (64, 32); () for none.
        activation: hidden activation: 'identity', 'logistic', 'tanh', 'relu' (scikit-learn's), or
            'sigmoid', 'leaky_relu', 'elu', 'gelu', 'softplus'; or a list with one per hidden layer.
        solver: 'sgd', 'adam', 'lbfgs' (scikit-learn's), or 'gd' (full-batch gradient descent),
            'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adamw' (nablanet.optim's, with
            learning_rate_init as lr, epsilon as eps, beta_1/beta_2, momentum); or a function
            ``parameters -> nablanet.optim.Optimizer`` for any other settings, e.g.
            ``functools.partial(nablanet.optim.AdamW, lr=1e-3, weight_decay=0.05)``.
        alpha: L2 strength: the cost gains alpha/2 ||W||^2 / n for a batch of n rows (weights only),
            exactly scikit-learn's term; in nablanet.train.fit's terms l2 = alpha / (2 n).
        batch_size: rows per minibatch; 'auto' = min(200, n_samples). Larger than n_samples: clipped
            with a warning. Not used by 'lbfgs' and 'gd'.
        learning_rate: 'constant'; 'invscaling': lr = learning_rate_init / (t_ + 1)^power_t after each
            epoch, t_ the samples seen; 'adaptive': lr / 5 whenever more than n_iter_no_change epochs
            in a row fail to improve by tol, stopping once lr < 1e-6. For the SGD family ('sgd', 'gd',
            'momentum', 'nesterov') only; adaptive methods ignore it, as scikit-learn's Adam does.
        learning_rate_init, power_t: as above.
        max_iter: epochs (minibatch solvers) or iterations ('lbfgs').
        shuffle: reshuffle the samples every epoch.
        random_state: int, RandomState or None: initial weights, validation split, shuffling, dropout.
        tol: improvement that counts (training loss, or validation score with early_stopping); for
            'lbfgs' the gradient tolerance max |g| <= tol.
        verbose: print the loss after each epoch, as scikit-learn.
        warm_start: fit continues from the current weights instead of starting afresh.
        momentum, nesterovs_momentum: for 'sgd' (and momentum for 'momentum'/'nesterov').
        early_stopping, validation_fraction: hold out this fraction, stop when its score (accuracy or
            R^2) has not improved by tol for more than n_iter_no_change epochs, keep the best weights.
        beta_1, beta_2, epsilon: Adam's (and AdamW's; epsilon also for Adagrad and RMSprop).
        n_iter_no_change: see tol. max_fun: 'lbfgs' only: about this many cost evaluations at most.

    Args (nablanet's additions, keyword-only):
        out_activation: the output layer's activation; None chooses scikit-learn's.
        l1: L1 strength, in alpha's convention: the cost gains l1 ||W||_1 / n.
        dropout: probability of dropping each hidden unit while training (one value, or one per hidden layer).
        batch_norm: batch normalization between each hidden Dense layer and its activation.
        init: None for scikit-learn's initial weights (Glorot uniform, bound sqrt(6 / (fan_in + fan_out)),
            sqrt(2 / ...) for logistic units, biases drawn alike: the same numbers as scikit-learn's MLP for
            the same random_state), or a nablanet.nn.init name ('he_normal', 'glorot_uniform', ...; zero biases).
        clip_norm, clip_value: gradient clipping by global norm / by value (minibatch solvers).
        dtype: None: float64, or float32 when X is float32 (scikit-learn's rule, so that results match
            scikit-learn's MLP to rounding); 'float32' computes in single precision, about twice as
            fast on wide layers and precise enough for minibatch training.
        monitor: watch every layer while training (minibatch solvers) with
            nablanet.diagnostics.TrainingMonitor: gradient norms, update ratios, saturated and dead
            units, warnings in the notes' terms; kept as ``monitor_`` (``print(est.monitor_.report())``).
"""

_MLP_DOC_ATTRIBUTES = """
    Attributes:
        coefs_, intercepts_: the Dense layers' W (fan_in, fan_out) and b (fan_out,), live arrays of model_.
        loss_: the last epoch's cost (minibatch solvers), or the final cost ('lbfgs').
        loss_curve_, best_loss_: the cost of each epoch and the lowest (minibatch solvers; best_loss_ is
            None with early_stopping).
        validation_scores_, best_validation_score_: with early_stopping.
        n_iter_: epochs (or L-BFGS iterations) run by the last fit. t_: training samples seen.
        n_features_in_, feature_names_in_ (for DataFrames with string column names).
        n_layers_: hidden layers + 2. n_outputs_. out_activation_.
        model_: the trained nablanet.nn.Sequential; it outputs the logits z, which out_activation_ maps.
"""


def _with_mlp_docs(cls):
    """Fill the parameter and attribute lists the two MLPs share into the class docstring."""
    cls.__doc__ = cls.__doc__ % {"mlp_parameters": _MLP_DOC_PARAMETERS, "mlp_attributes": _MLP_DOC_ATTRIBUTES}
    return cls


def _mlp_plan(estimator, out_activation_names) -> _Plan:
    hidden = _hidden_sizes(estimator)
    activations = _per_layer(estimator, "activation", len(hidden), lambda a: a in _HIDDEN_ACTIVATIONS,
                             f"one of {sorted(_HIDDEN_ACTIVATIONS)}, or a list of them")
    dropout = _per_layer(estimator, "dropout", len(hidden),
                         lambda p: isinstance(p, Real) and not isinstance(p, bool) and 0 <= p < 1,
                         "a float in [0, 1), or a list of them")
    if isinstance(estimator.activation, str):
        last = estimator.activation
    else:
        last = activations[-1] if activations else "relu"
    if estimator.out_activation is not None and estimator.out_activation not in out_activation_names:
        raise _invalid(estimator, "out_activation", f"None or one of {sorted(out_activation_names)}",
                       estimator.out_activation)
    return _Plan(
        hidden_sizes=hidden,
        activations=tuple(_HIDDEN_ACTIVATIONS[a] for a in activations),
        init_factors=tuple(_glorot_factor(a) for a in activations) + (_glorot_factor(last),),
        dropout=tuple(float(p) for p in dropout),
        solver=_solver(estimator.solver),
        optimizer=_OptimizerSettings(lr=estimator.learning_rate_init, momentum=estimator.momentum,
                                     nesterov=estimator.nesterovs_momentum, beta1=estimator.beta_1,
                                     beta2=estimator.beta_2, eps=estimator.epsilon, clip_norm=estimator.clip_norm,
                                     clip_value=estimator.clip_value),
        alpha=estimator.alpha, max_iter=estimator.max_iter, tol=estimator.tol, batch_norm=estimator.batch_norm,
        init=estimator.init, l1=estimator.l1, batch_size=estimator.batch_size, shuffle=estimator.shuffle,
        n_iter_no_change=estimator.n_iter_no_change, learning_rate=estimator.learning_rate,
        power_t=estimator.power_t, early_stopping=estimator.early_stopping,
        validation_fraction=estimator.validation_fraction, max_fun=estimator.max_fun, verbose=estimator.verbose,
        dtype=_dtype(estimator.dtype),
        out_activation=estimator.out_activation, loss=estimator.loss,
    )


def _is_stochastic(estimator) -> bool:
    if isinstance(estimator.solver, str) and estimator.solver in _SOLVERS and _SOLVERS[estimator.solver].make is None:
        raise AttributeError(f"partial_fit is only available for stochastic optimizers. {estimator.solver} is not "
                             "stochastic.")
    return True


@_with_mlp_docs
class MLPClassifier(_ClassifierNetwork):
    """Multi-layer perceptron classifier: scikit-learn's MLPClassifier on nablanet's layers, optimizers and fit.

    A drop-in replacement for ``sklearn.neural_network.MLPClassifier`` (same parameters, same meaning,
    same defaults, same fitted attributes, the same initial weights for a given random_state), plus
    nablanet's additions. It minimizes the log-loss of a softmax output (multi-class), or of logistic
    outputs (binary, and multi-label: y a binary indicator matrix), plus alpha/2 ||W||^2 / n.
%(mlp_parameters)s        loss: 'log_loss' (scikit-learn's), or 'squared_error': half the squared difference between the
            probabilities and the one-hot targets, summed over the classes and averaged over the samples.
%(mlp_attributes)s        classes_: the class labels.

    Example:
        >>> from sklearn.datasets import make_blobs
        >>> X, y = make_blobs(n_samples=60, centers=3, random_state=0)
        >>> clf = MLPClassifier(hidden_layer_sizes=(16,), solver="lbfgs", random_state=0).fit(X, y)
        >>> clf.score(X, y) > 0.9, clf.predict_proba(X[:2]).shape, [w.shape for w in clf.coefs_]
        (True, (2, 3), [(2, 16), (16, 3)])

    Notes:
        Deviations from scikit-learn: sparse X and sample_weight are not supported; momentum must be below
        1; under 'invscaling' or 'adaptive' SGD's momentum is PyTorch's form (the learning rate multiplies
        the velocity when it is used), which changes the iterates from scikit-learn's once the rate
        changes; Adam adds eps to the bias-corrected root (Algorithm 1 of Kingma & Ba) where scikit-learn
        adds it before the correction; 'lbfgs' is nablanet's L-BFGS, not scipy's, and sets no loss_curve_
        (as scikit-learn's). With shuffle=False the iterates of 'sgd' (with momentum under a constant
        learning rate, without under any) agree with scikit-learn's to rounding, and Adam's losses to
        about 1e-6 (tested); shuffled runs differ, as the order of the batches comes from another generator.
    """

    _parameter_constraints = {
        **_MLP_CONSTRAINTS,
        "out_activation": [None, StrOptions({"softmax", "logistic"})],
        "loss": [StrOptions({"log_loss", "squared_error"})],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000, out_activation=None, loss="log_loss", l1=0.0,
                 dropout=0.0, batch_norm=False, init=None, clip_norm=None, clip_value=None, dtype=None,
                 monitor=False):
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

    def _plan(self) -> _Plan:
        return _mlp_plan(self, {"softmax", "logistic"})

    @available_if(_is_stochastic)
    def partial_fit(self, X, y, classes=None):
        """One epoch over (X, y), continuing from the current weights and optimizer state.

        Args:
            X: inputs (n_samples, n_features).
            y: class labels (or a binary indicator matrix).
            classes: all the classes that y may ever hold; required on the first call (np.unique of
                the whole target), optional afterwards.

        Returns:
            self.
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y if _is_multilabel(y) else classes)
        return self._fit(X, y, incremental=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def _is_multilabel(y) -> bool:
    from sklearn.utils.multiclass import type_of_target

    return type_of_target(y).startswith("multilabel")


@_with_mlp_docs
class MLPRegressor(RegressorMixin, _NetworkEstimator):
    """Multi-layer perceptron regressor: scikit-learn's MLPRegressor on nablanet's layers, optimizers and fit.

    A drop-in replacement for ``sklearn.neural_network.MLPRegressor`` (same parameters, meaning, defaults,
    fitted attributes, initial weights), plus nablanet's additions. It minimizes half the mean squared
    error of a linear output (or the loss chosen) plus alpha/2 ||W||^2 / n; y may have several columns.

    Args (first, as in scikit-learn):
        loss: 'squared_error' (half the squared error, summed over the outputs and averaged over the
            samples, scikit-learn's; see the module docstring for what loss_ reports), 'poisson' (half the
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
        "out_activation": [None, StrOptions(set(_HIDDEN_ACTIVATIONS) | {"exp"})],
        "loss": [StrOptions({"squared_error", "poisson", "absolute_error", "huber"}), callable],
    }

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000, out_activation=None, l1=0.0,
                 dropout=0.0, batch_norm=False, init=None, clip_norm=None, clip_value=None, dtype=None,
                 monitor=False):
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

    def _plan(self) -> _Plan:
        return _mlp_plan(self, set(_HIDDEN_ACTIVATIONS) | {"exp"})

    def _validate_input(self, X, y, incremental, reset, plan):
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, reset=reset,
                             dtype=_input_dtype(self, plan, reset))
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

    def _decode(self, Y):
        return _ravel_single(Y)

    def _validation_score(self, X, y) -> float:
        predictions = _ravel_single(self._output.apply(train.predict(self.model_, X)))
        if not np.isfinite(predictions).all():
            return np.nan
        return r2_score(y, predictions)

    def predict(self, X):
        """Predicted values: (n_samples,) for one output, (n_samples, n_outputs) for several."""
        return _ravel_single(self._outputs(X))

    @available_if(_is_stochastic)
    def partial_fit(self, X, y):
        """One epoch over (X, y), continuing from the current weights and optimizer state.

        Returns:
            self.
        """
        return self._fit(X, y, incremental=True)


# --- the notes' baselines --------------------------------------------------------------------------

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
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=[np.float64, np.float32])
        self.coef_, self.intercept_ = _least_squares(X, y.astype(X.dtype, copy=False), self._alpha(),
                                                     self.fit_intercept)
        return self

    def predict(self, X):
        """X coef_^T + intercept_: (n_samples,) or (n_samples, n_targets)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
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
        scikit-learn's l1_ratio, class_weight, dual, intercept_scaling and n_jobs are not offered.
    """

    _parameter_constraints = {
        "C": [Interval(Real, 0, None, closed="right")],
        "fit_intercept": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "solver": [StrOptions(set(_SOLVERS)), callable],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(self, C=1.0, *, fit_intercept=True, tol=1e-4, max_iter=100, solver="lbfgs", learning_rate_init=0.01,
                 batch_size="auto", random_state=None, verbose=0, warm_start=False):
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

    def _plan(self) -> _Plan:
        return _Plan(hidden_sizes=(), activations=(), init_factors=(6.0,), dropout=(), solver=_solver(self.solver),
                     optimizer=_OptimizerSettings(lr=self.learning_rate_init), alpha=1.0 / self.C,
                     max_iter=self.max_iter, tol=self.tol, init="zeros", fit_intercept=self.fit_intercept,
                     batch_size=self.batch_size, lbfgs_tolerance_change=64 * np.finfo(np.float64).eps,
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
        return self.intercepts_[0]

    def decision_function(self, X):
        """The logits X coef_^T + intercept_: (n_samples,) for two classes, (n_samples, n_classes) for more."""
        return _ravel_single(self._logits(X))
