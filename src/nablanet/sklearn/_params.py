"""The estimators' parameters: the names they accept, what they mean in nablanet's terms, their checks and docs.

Everything here runs before training: a parameter is checked against ``_MLP_CONSTRAINTS`` (scikit-learn's
validation, with its error messages), then translated once into a ``_Plan`` of nablanet objects and
numbers. ``l2_from_alpha`` is the one place where scikit-learn's ``alpha`` becomes nablanet's lambda.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, InvalidParameterError, Options, StrOptions


from nablanet import nn, optim
from nablanet.autodiff import ops

# --- names the estimators accept ---------------------------------------------------------------------

class _LiveNames(Set):
    """A set of names read from the registries each time it is asked (``name in names``, iteration),
    so that a name registered after import is accepted too; ``read()`` returns the names in order.
    Set algebra (a - b, as scikit-learn's StrOptions does) gives a plain frozenset."""

    def __init__(self, read):
        self._read = read

    @classmethod
    def _from_iterable(cls, names):
        return frozenset(names)

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and name in self._read()

    def __iter__(self):
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())

    def __repr__(self) -> str:
        return repr(sorted(self))


def _then(own: tuple, registered) -> tuple:
    """``own`` followed by the registered names not among them."""
    return (*own, *(name for name in registered if name not in own))


def _elementwise_activations() -> tuple:
    return tuple(name for name in nn.ACTIVATIONS if nn.activation_record(name).elementwise)


#: The hidden-layer activations: every name and alias of an elementwise activation of nablanet.nn.ACTIVATIONS
#: (not softmax, which couples a layer's units), one registered with register_activation included.
#: scikit-learn's four ('identity', 'logistic', 'tanh', 'relu') are among them ('logistic' is sigmoid's
#: alias, which Dense fuses into the layer).
_HIDDEN_ACTIVATIONS = _LiveNames(_elementwise_activations)
#: The regressor's output activations: those and 'exp', the inverse of the Poisson loss's log link.
_REGRESSION_OUTPUT_ACTIVATIONS = _LiveNames(lambda: _then(_elementwise_activations(), ("exp",)))
#: The classifier's losses: scikit-learn's ('log_loss', and 'squared_error' on the probabilities) and
#: every classification loss of nablanet.nn.LOSSES of logits or probabilities, one registered with
#: register_loss included (the output layer gives no log-probabilities).
_CLASSIFIER_LOSSES = _LiveNames(lambda: _then(("log_loss", "squared_error"), (
    name for name in nn.LOSSES if nn.loss_record(name).task == "classification"
    and nn.loss_record(name).outputs in ("logits", "probabilities"))))


def _output_activation(name: str):
    """out_activation_ as a function of the logits (Tensors and ndarrays): a registered activation, or
    'exp' (the inverse of the Poisson loss's log link)."""
    return ops.exp if name == "exp" else nn.get_activation(name)


#: Weight initializers of nablanet.nn.init usable by name (None keeps scikit-learn's scheme).
_INITIALIZERS = frozenset(name for name in nn.init.__all__
                          if name not in ("constant", "get_initializer", "make_rng", "fans", "seed"))


# --- alpha, in nablanet's lambda -----------------------------------------------------------------------

def l2_from_alpha(alpha: float) -> float:
    """nablanet's lambda (``fit``'s l2) for scikit-learn's ``alpha``, with the penalty divided by the batch size.

    scikit-learn's MLP adds (alpha / 2) ||W||^2 / n_b to the mean loss of a batch of n_b rows
    (``_backprop``: ``loss += (0.5 * alpha) * sum(W**2) / n_samples``, gradient ``(grad + alpha W) /
    n_samples``). nablanet writes the penalty lambda ||W||^2 (the notes' convention, no 1/2), so per
    batch lambda = alpha / (2 n_b): ``fit(l2=l2_from_alpha(alpha), divide_penalty_by_batch_size=True)``
    divides by n_b, and this function halves. L-BFGS uses the same lambda with n_b = n_samples.

    Example:
        >>> l2_from_alpha(1e-4)
        5e-05
    """
    return alpha / 2


# --- solvers -------------------------------------------------------------------------------------------

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
    """A _Solver from a solver name or a factory ``parameters -> Optimizer``.

    _SOLVERS translates scikit-learn's settings (momentum, beta_1, epsilon, ...) for the optimizers that
    take them; any other optimizer of nablanet.optim.OPTIMIZERS (one registered with register_optimizer
    too) gets the learning rate and the clipping, and its record says whether it steps on the whole set
    (full_batch), follows ``learning_rate`` (not adaptive), or drives its own line search (needs_closure).
    """
    if callable(spec):
        return _Solver(lambda params, settings: spec(params))
    if spec in _SOLVERS:
        return _SOLVERS[spec]
    record = optim.optimizer_record(spec)
    if record.needs_closure:
        raise ValueError(f"solver {spec!r} needs a closure over the whole training set, which only 'lbfgs' gets")
    def make(params, s):
        clipping = {name: value for name, value in s.clipping().items() if value is not None}
        return record.build(params, lr=s.lr, **clipping)

    return _Solver(make, full_batch=record.full_batch,
                   follows_learning_rate=not record.adaptive)


#: The solver names: those of _SOLVERS and every optimizer of nablanet.optim.OPTIMIZERS.
_SOLVER_NAMES = _LiveNames(lambda: _then(tuple(_SOLVERS), optim.OPTIMIZERS))


def _is_stochastic(estimator) -> bool:
    """partial_fit's availability: every solver but L-BFGS (scikit-learn's error otherwise)."""
    if isinstance(estimator.solver, str) and estimator.solver in _SOLVERS and _SOLVERS[estimator.solver].make is None:
        raise AttributeError(f"partial_fit is only available for stochastic optimizers. {estimator.solver} is not "
                             "stochastic.")
    return True


# --- the translated parameters -------------------------------------------------------------------------

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
    lbfgs_line_search_steps: int = 20  # scipy's maxls (50 in scikit-learn's LogisticRegression)
    verbose: int = 0
    dtype: object = None
    out_activation: str | None = None   # None: the default for the targets
    loss: object = "log_loss"

    @property
    def l2(self) -> float:
        """nablanet's lambda for alpha (see l2_from_alpha), per row of a batch."""
        return l2_from_alpha(self.alpha)


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
    return 2.0 if nn.activation_record(activation).name == "sigmoid" else 6.0


def _dtype(value):
    return None if value is None else np.dtype(value)


def _mlp_plan(estimator, out_activation_names) -> _Plan:
    """The _Plan of an MLPClassifier or MLPRegressor, whose output activations are ``out_activation_names``."""
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
        activations=tuple(nn.activation_record(a).name for a in activations),  # aliases as their names
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


# --- the MLPs' constraints and docs ----------------------------------------------------------------

#: ``threads`` of the network estimators: as nablanet.train.fit's.
_THREADS_CONSTRAINT = [None, Interval(Integral, 0, None, closed="left")]
#: Its documentation, in the Args of each of them.
_THREADS_DOC = """        threads: the most threads of the BLAS library (matrix products) while fitting and predicting,
            limited for the call only (nablanet.runtime.blas_threads). None: 1 (the fastest on a shared
            machine, measured by benchmarks/threads.py; see nablanet.fit), or the count of an enclosing
            nablanet.runtime.blas_threads block; 0: the BLAS library's own setting.
"""

_MLP_CONSTRAINTS = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "activation": [StrOptions(_HIDDEN_ACTIVATIONS), "array-like"],
    "solver": [StrOptions(_SOLVER_NAMES), callable],
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
    "threads": _THREADS_CONSTRAINT,
}

# Google sections napoleon reads: "Args" are scikit-learn's, with its meaning and defaults; "Keyword Args"
# nablanet's additions, keyword-only. A class docstring opens its Args section before %(mlp_parameters)s.
_MLP_DOC_PARAMETERS = """        hidden_layer_sizes: units of each hidden layer, e.g. (100,) or (64, 32); () for none.
        activation: hidden activation: 'identity', 'logistic', 'tanh', 'relu' (scikit-learn's), or any
            name of nablanet.nn.ACTIVATIONS ('sigmoid', 'leaky_relu', 'elu', 'gelu', 'softplus', one
            registered with nablanet.nn.register_activation); or a list with one per hidden layer.
        solver: 'sgd', 'adam', 'lbfgs' (scikit-learn's), or 'gd' (full-batch gradient descent),
            'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adamw' (nablanet.optim's, with
            learning_rate_init as lr, epsilon as eps, beta_1/beta_2, momentum); or a function
            ``parameters -> nablanet.optim.Optimizer`` for any other settings, e.g.
            ``functools.partial(nablanet.optim.AdamW, lr=1e-3, weight_decay=0.05)``.
        alpha: L2 strength, scikit-learn's: the cost of a batch of n rows gains (alpha / 2) ||W||^2 / n
            (weights only), i.e. nablanet's lambda ||W||^2 with lambda = alpha / (2 n) (l2_from_alpha).
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

    Keyword Args:
        out_activation: the output layer's activation; None chooses scikit-learn's.
        l1: L1 strength, in alpha's convention: the cost gains l1 ||W||_1 / n (nablanet's lambda_1 = l1 / n).
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
""" + _THREADS_DOC

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
