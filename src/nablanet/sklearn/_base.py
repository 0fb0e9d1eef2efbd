"""The network estimator the MLPs and LogisticRegression share: the network, training through fit, predictions.

A fit translates the estimator's parameters (``_params._Plan``) into a ``nablanet.nn.Sequential``, then
trains it with ``nablanet.train.fit``: the loss is ``_output._Output.data_loss``, the penalty fit's own
(``l2 = alpha / 2``, divided by each batch's rows), and scikit-learn's end-of-epoch rules are the
library's callbacks: ``EarlyStopping`` (or ``ReduceLROnPlateau`` for the 'adaptive' rate) with
``reference="best"`` for ``tol`` / ``n_iter_no_change``, a ``LambdaCallback`` after each epoch for 'invscaling', and
``validation_data`` with a score metric for ``early_stopping``. Only L-BFGS runs outside fit (see
``_fit_lbfgs``). ``_EpochAttributes`` writes scikit-learn's fitted attributes as the epochs end.

Sample weights w reach fit's ``sample_weight``: each batch's loss is sum_i w_i l_i / sum_i w_i and its
penalty is divided by sum_i w_i instead of the rows, scikit-learn's ``_backprop`` term for term (its
``sw_sum``). Sparse X (CSR or CSC) is densified one batch at a time, never whole (L-BFGS's full batch in
pieces of about 2^20 entries; with batch_norm, whose statistics need the whole batch, at once).
"""

from __future__ import annotations

import math
import warnings
from itertools import pairwise

import numpy as np
from scipy import optimize, sparse
from sklearn.base import BaseEstimator, ClassifierMixin, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from nablanet import nn, optim, runtime, train
from nablanet.autodiff import no_grad
from nablanet.diagnostics import TrainingMonitor
from nablanet.nn.regularizers import WeightPenalty
from nablanet.sklearn._output import _Output
from nablanet.sklearn._params import _Plan
from nablanet.train import (
    Callback,
    EarlyStopping,
    LambdaCallback,
    ReduceLROnPlateau,
    TrainingDivergedError,
    minibatch_indices,
)
from nablanet.train.data import batch_rows, dense_batch_size
from nablanet.train.inputs import check_real
from nablanet.train.weights import weighting

# scikit-learn's 'adaptive' learning rate: divided by 5 at each plateau while above 1e-6, then training stops.
_ADAPTIVE_FACTOR = 0.2
_ADAPTIVE_MIN_LR = 1e-6
# scikit-learn's words for a network that is no longer finite (its tests match them).
_NON_FINITE = ("Solver produced non-finite parameter weights. The input data may contain large values and need to "
               "be preprocessed.")
# The inputs scikit-learn's MLP accepts, and so these networks.
_SPARSE_FORMATS = ["csr", "csc"]


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


class _EpochAttributes(Callback):
    """scikit-learn's per-epoch fitted attributes (n_iter_, t_, loss_, loss_curve_, validation_scores_) and verbose lines.

    Runs after the stopping rule, so that its verbose lines can say what the rule did, in scikit-learn's words.
    """

    def __init__(self, estimator, plan: _Plan, n_samples: int, stopping: EarlyStopping):
        self.estimator = estimator
        self.plan = plan
        self.n_samples = n_samples
        self.stopping = stopping
        self.lr_before = None

    def on_epoch_begin(self, run, epoch):
        self.lr_before = run.optimizer.lr

    def on_epoch_end(self, run, epoch, logs):
        estimator, verbose = self.estimator, self.plan.verbose
        estimator.n_iter_ += 1
        estimator.t_ += self.n_samples
        estimator.loss_ = estimator._output.reported_loss(logs)
        estimator.loss_curve_.append(estimator.loss_)
        if verbose:
            print(f"Iteration {estimator.n_iter_}, loss = {estimator.loss_:.8f}")
        validating = "val_score" in logs
        if validating:
            estimator.validation_scores_.append(logs["val_score"])
            if verbose:
                print(f"Validation score: {logs['val_score']:f}")
        if not verbose:
            return
        what = "Validation score" if validating else "Training loss"
        message = (f"{what} did not improve more than tol={self.plan.tol:f} for {self.plan.n_iter_no_change} "
                   "consecutive epochs.")
        if isinstance(self.stopping, ReduceLROnPlateau) and run.optimizer.lr != self.lr_before:
            print(f"{message} Setting learning rate to {run.optimizer.lr:f}")
        if self.stopping.stopped_epoch == epoch:
            print(f"{message} Stopping.")


class _NetworkEstimator(BaseEstimator):
    """Fitting, prediction plumbing, fitted attributes and pickling shared by the estimators built on a network.

    A subclass provides ``_plan()`` (its parameters translated into a _Plan), ``_validate_input`` (X and
    the targets as a 2-D array), ``_make_output`` (the output layer for those targets) and
    ``_validation_score`` (its ``score`` from the network's outputs, for early stopping).
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
    def fit(self, X, y, sample_weight=None):
        """Train the network on (X, y) from a fresh start (or from the current weights with warm_start).

        Args:
            X: inputs (n_samples, n_features): an array, or a scipy.sparse CSR or CSC matrix, which is
                densified one batch at a time (the layers compute on dense arrays).
            y: targets: class labels (n_samples,) or a binary indicator matrix (n_samples, n_classes)
                for classifiers; values (n_samples,) or (n_samples, n_outputs) for regressors.
            sample_weight: per-sample weights (n_samples,), non-negative, or None (all 1): each batch's
                loss becomes sum_i w_i l_i / sum_i w_i and its penalty is divided by sum_i w_i instead
                of the rows, as in scikit-learn's MLP; the early-stopping split and score use them too.

        Returns:
            self.
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    def _fit(self, X, y, incremental: bool, sample_weight=None):
        self._validate_params()
        # One block around all of training: train.fit (threads=None) and L-BFGS both run in it.
        with runtime.blas_threads(self.threads):
            return self._fit_checked(X, y, incremental, sample_weight)

    def _fit_checked(self, X, y, incremental: bool, sample_weight):
        plan = self._plan()
        first_pass = not hasattr(self, "model_") or (not self.warm_start and not incremental)
        X, Y = self._validate_input(X, y, incremental, reset=first_pass, plan=plan)
        Y = Y.reshape(-1, 1) if Y.ndim == 1 else Y
        sample_weight = self._sample_weights(X, Y, sample_weight, incremental)
        random_state = check_random_state(self.random_state)
        self._random_state = random_state
        if first_pass:
            dtype = plan.dtype if plan.dtype is not None else X.dtype
            self._initialize(X.shape[1], Y.shape[1], plan, random_state, dtype)
        elif Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs but the network was fitted with {self.n_outputs_}; "
                             "refit without warm_start to change them")
        if sample_weight is not None:
            self._output.check_takes_weights()
        if plan.solver.make is None:
            if any(plan.dropout):
                raise ValueError("dropout needs a minibatch solver (e.g. 'adam'): L-BFGS's line search needs the "
                                 "same cost at every evaluation, and dropout draws new masks each time")
            self._fit_lbfgs(X, self._output.targets(Y), plan, sample_weight)
        else:
            self._fit_stochastic(X, Y, plan, incremental, random_state, sample_weight)
        if not all(np.isfinite(parameter.data).all() for parameter in self.model_.parameters()):
            raise ValueError(_NON_FINITE)
        return self

    def _sample_weights(self, X, Y, sample_weight, incremental: bool):
        """The per-sample weights to train with (None: all equal), checked as scikit-learn checks them."""
        if sample_weight is None:
            return None
        return _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)

    def _initialize(self, n_features: int, n_outputs: int, plan: _Plan, random_state, dtype) -> None:
        """The fitted state of a fresh fit (scikit-learn's ``_initialize``)."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(plan.hidden_sizes) + 2
        self._output = self._make_output(n_outputs, plan)
        self.out_activation_ = self._output.activation
        self.model_ = _build_network(n_features, n_outputs, plan, random_state, dtype)
        self._stopping = None
        if plan.solver.make is not None:
            self.loss_curve_ = []
            if plan.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _fit_stochastic(self, X, Y, plan: _Plan, incremental: bool, random_state, sample_weight) -> None:
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = plan.solver.make(self.model_.parameters(), plan.optimizer)
        if plan.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        targets = self._output.targets(Y)
        validation_data = None
        if plan.early_stopping:
            # scikit-learn's split: the same random_state draws, stratified for single-output classifiers;
            # the weights, if any, are cut with the rows (the split's draws do not depend on them).
            stratify = Y if is_classifier(self) and self.n_outputs_ == 1 else None
            arrays = (X, targets) if sample_weight is None else (X, targets, sample_weight)
            parts = train_test_split(*arrays, random_state=random_state, test_size=plan.validation_fraction,
                                     stratify=stratify)
            X, X_val, targets, targets_val = parts[:4]
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of "
                                 "your dataset.")
            validation_data = (X_val, targets_val)
            if sample_weight is not None:
                sample_weight, weight_val = parts[4:]
                validation_data = (X_val, targets_val, weight_val)
        n_samples = X.shape[0]
        batch_size = n_samples if plan.solver.full_batch else _batch_size(plan.batch_size, n_samples)
        _check_batch_norm_batches(plan, n_samples, batch_size)
        stopping = self._stopping_rule(plan, validating=validation_data is not None)
        callbacks = [stopping]
        if plan.solver.follows_learning_rate and plan.learning_rate == "invscaling":
            callbacks.append(_inverse_scaling(plan, self.t_, n_samples))
        callbacks.append(_EpochAttributes(self, plan, n_samples, stopping))
        if getattr(self, "monitor", False):
            # A fresh monitor per fit (or partial_fit): per-layer diagnostics and warnings in monitor_.
            # (The MLPs offer it; LogisticRegression, which shares this code, has no layers to watch.)
            self.monitor_ = TrainingMonitor()
            callbacks.insert(0, self.monitor_)

        def score(logits, targets, sample_weight=None):  # fit names a metric by its __name__: "val_score"
            return self._validation_score(logits, targets, **weighting(sample_weight))

        self.n_iter_ = 0
        try:
            train.fit(self.model_, X, targets, loss=self._output.data_loss, optimizer=self._optimizer,
                      epochs=1 if incremental else plan.max_iter, batch_size=batch_size, shuffle=plan.shuffle,
                      validation_data=validation_data, sample_weight=sample_weight, metrics=(),
                      validation_metrics=(score,) if validation_data else (),
                      callbacks=callbacks, l1=plan.l1, l2=plan.l2, divide_penalty_by_batch_size=True,
                      seed=random_state.randint(np.iinfo(np.int32).max), progress=False,
                      # scikit-learn's estimators stop only on non-finite weights, never on a large loss.
                      divergence_factor=None)
        except TrainingDivergedError as error:
            if validation_data is None or stopping.best_state is None:
                raise ValueError(f"{_NON_FINITE} ({error})") from error
            # scikit-learn's MLP trains on with non-finite weights, scoring NaN, until early stopping ends
            # the run and restores the best weights (scikit-learn issue 29504); here the run ends at once,
            # with the same weights: its last validation score is NaN.
            warnings.warn(f"Training diverged in epoch {self.n_iter_ + 1}; early stopping keeps the weights of the "
                          f"best validation score, {stopping.best:.6g}.", ConvergenceWarning)
            self.n_iter_ += 1
            self.loss_ = error.loss
            self.loss_curve_.append(error.loss)
            self.validation_scores_.append(math.nan)
            self.model_.load_state_dict(stopping.best_state)
        except KeyboardInterrupt:
            # fit calls no on_train_end after an error, so the best weights are restored here.
            warnings.warn("Training interrupted by user.")
            if stopping.restore_best_weights and stopping.best_state is not None:
                self.model_.load_state_dict(stopping.best_state)
        self._stopping = stopping
        if validation_data is not None:
            self.best_validation_score_ = stopping.best
        else:
            self.best_loss_ = stopping.best
        if not incremental and self.n_iter_ == plan.max_iter and stopping.stopped_epoch is None:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({plan.max_iter}) reached and the "
                          "optimization hasn't converged yet.", ConvergenceWarning)

    def _stopping_rule(self, plan: _Plan, validating: bool) -> EarlyStopping:
        """scikit-learn's tol / n_iter_no_change rule as the library's callback, continuing an earlier fit's count.

        scikit-learn counts the epochs in a row whose training loss is not at least tol below the lowest
        so far (or whose validation score is not at least tol above the highest), and acts once there
        are more than n_iter_no_change: it stops, or with the 'adaptive' rate divides it by 5 while it is
        above 1e-6. The count and the best value carry over to warm_start fits and partial_fit calls.
        """
        if validating:
            monitor, mode = "val_score", "max"
        else:
            monitor, mode = self._output.reported_loss, "min"
        previous = self._stopping if self._stopping is not None and self._stopping.mode == mode else None
        settings = dict(patience=plan.n_iter_no_change + 1, min_delta=plan.tol, mode=mode, reference="best",
                        restore_best_weights=validating, resume=previous)
        if plan.solver.follows_learning_rate and plan.learning_rate == "adaptive":
            return ReduceLROnPlateau(monitor, factor=_ADAPTIVE_FACTOR, min_lr=_ADAPTIVE_MIN_LR, stop_at_min_lr=True,
                                     clip_to_min_lr=False, **settings)
        return EarlyStopping(monitor, **settings)

    def _fit_lbfgs(self, X, targets, plan: _Plan, sample_weight) -> None:
        """L-BFGS on the whole training set, as scikit-learn runs it: scipy's L-BFGS-B with the same options.

        Not through nablanet.train.fit: L-BFGS is a full-batch method whose line search evaluates the cost
        as often as it needs, through a closure, where fit takes one step per minibatch. The closure is
        fit's step on one batch of all rows: the same loss, the same penalty (WeightPenalty, divided by n,
        or by sum_i w_i with sample weights). The minimizer is scipy's, as scikit-learn's: from the same
        initial weights, the same iterates, so n_iter_, loss_ and the ConvergenceWarning (max_iter or
        max_fun reached, or the line search failing) are scikit-learn's.
        """
        _check_batch_norm_batches(plan, X.shape[0], X.shape[0])
        dtype = self.model_[0].W.data.dtype
        X = X.astype(dtype, copy=False) if sparse.issparse(X) else np.asarray(X, dtype=dtype)
        targets = targets if self._output.takes_labels else np.asarray(targets, dtype=dtype)
        solver = optim.LBFGS(self.model_.parameters())
        weight_penalty = WeightPenalty(self.model_.parameters(), l1=plan.l1, l2=plan.l2)
        n_rows = X.shape[0] if sample_weight is None else float(np.sum(sample_weight, dtype=np.float64))
        full_batch = _FullBatch(self._output.data_loss, X, targets, sample_weight, whole=plan.batch_norm)
        self.model_.train()

        def closure():
            data_loss = full_batch.loss(self.model_, backward=True)
            if weight_penalty:
                weight_penalty.add_gradient(1.0 / n_rows)
            return data_loss + weight_penalty.value() / n_rows

        options = {"maxfun": plan.max_fun, "maxiter": plan.max_iter, "gtol": plan.tol,
                   "ftol": plan.lbfgs_tolerance_change, "maxls": plan.lbfgs_line_search_steps}
        result = optimize.minimize(solver.objective(closure), solver.flat_parameters(), method="L-BFGS-B", jac=True,
                                   options=options)
        solver.set_flat_parameters(result.x)
        self.n_iter_ = min(int(result.nit), plan.max_iter)
        with no_grad():  # the cost at the accepted point, in scikit-learn's report
            data_loss = full_batch.loss(self.model_, backward=False)
        self.loss_ = self._output.reported_loss({"data_loss": data_loss, "penalty": weight_penalty.value() / n_rows})
        if plan.verbose:
            print(f"L-BFGS: {self.n_iter_} iterations, {result.nfev} evaluations, loss = {self.loss_:.8f}")
        if result.status != 0:
            message = result.message.decode() if isinstance(result.message, bytes) else str(result.message)
            warnings.warn(f"lbfgs failed to converge after {self.n_iter_} iteration(s) and {result.nfev} "
                          f"evaluations (max_iter={plan.max_iter}, max_fun={plan.max_fun}): {message}. Increase "
                          "max_iter or max_fun, or scale the data.", ConvergenceWarning)

    # --- predicting ------------------------------------------------------------------------------
    def _outputs(self, X) -> np.ndarray:
        """The output layer's activations for X (probabilities, or predicted values), (n_samples, n_outputs)."""
        logits = self._logits(X)
        return self._output.apply(logits)

    def _logits(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = _validate_real_data(self, X, reset=False, dtype=self.model_[0].W.data.dtype,
                                accept_sparse=_SPARSE_FORMATS)
        return train.predict(self.model_, X, threads=self.threads)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

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


class _FullBatch:
    """The data loss of all of (X, targets) for L-BFGS, a sparse X densified in pieces of rows.

    A piece of n_c rows (weights W_c of W in all) adds (n_c / n) (or W_c / W) of its mean loss, so the
    sum is the mean over all rows and the gradients, accumulated by backward, are the full batch's. A
    dense X, and any X with ``whole`` (batch normalization needs the whole batch's statistics), is one piece.
    """

    def __init__(self, data_loss, X, targets, sample_weight, whole: bool):
        self.data_loss, self.X, self.targets, self.sample_weight = data_loss, X, targets, sample_weight
        n_rows = X.shape[0]
        pieces = minibatch_indices(n_rows, None if whole or not sparse.issparse(X) else dense_batch_size(X))
        if sample_weight is None:
            shares = [(rows.stop - rows.start) / n_rows for rows in pieces]
        else:
            total = np.sum(sample_weight, dtype=np.float64)
            shares = [np.sum(sample_weight[rows], dtype=np.float64) / total for rows in pieces]
        self.pieces = list(zip(pieces, shares))

    def loss(self, model, backward: bool) -> float:
        value = 0.0
        for rows, share in self.pieces:
            if share == 0:  # every weight of the piece zero: nothing to add
                continue
            weights = None if self.sample_weight is None else self.sample_weight[rows]
            piece_loss = self.data_loss(model(batch_rows(self.X, rows)), self.targets[rows], **weighting(weights))
            if len(self.pieces) > 1:
                piece_loss = piece_loss * share
            if backward:
                piece_loss.backward()
            value += piece_loss.item()
        return value


def _inverse_scaling(plan: _Plan, samples_seen: int, n_samples: int) -> LambdaCallback:
    """scikit-learn's 'invscaling' rate: after each epoch, lr = learning_rate_init / (t_ + 1)^power_t.

    t_ counts the training samples seen, from ``samples_seen`` at the start of this fit. After each
    epoch, not before it as LearningRateScheduler sets rates: scikit-learn's first epoch of a fit runs
    at the optimizer's rate, and the rate advanced after the last is the one partial_fit continues with.
    """
    def set_rate(run, epoch, logs):
        run.optimizer.lr = plan.optimizer.lr / (samples_seen + (epoch + 1) * n_samples + 1) ** plan.power_t

    return LambdaCallback(on_epoch_end=set_rate)


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


def _validate_real_data(estimator, X, y="no_validation", **options):
    """scikit-learn's ``validate_data``, with complex X or y refused first in nablanet's words (which
    argument, its dtype, what to do); scikit-learn's own refusal names neither and prints the whole array.
    Inputs without a dtype (lists, data frames) are left to scikit-learn's check."""
    for values, what in ((X, "X"), (y, "y")):
        if hasattr(values, "dtype"):
            check_real(values, what)
    return validate_data(estimator, X, y, **options)


def _ravel_single(outputs: np.ndarray) -> np.ndarray:
    return outputs.ravel() if outputs.shape[1] == 1 else outputs


def _input_dtype(estimator, plan: _Plan, reset: bool):
    """The dtype X is converted to: the network's after the first fit, else the dtype parameter's, else
    scikit-learn's rule (float32 stays float32, everything else becomes float64)."""
    if not reset and hasattr(estimator, "model_"):
        return estimator.model_[0].W.data.dtype
    return plan.dtype if plan.dtype is not None else [np.float64, np.float32]


class _ClassifierNetwork(ClassifierMixin, _NetworkEstimator):
    """Classes and probabilities: targets are binarized as scikit-learn's MLPClassifier does."""

    def _validate_input(self, X, y, incremental, reset, plan):
        X, y = _validate_real_data(self, X, y, multi_output=True, reset=reset,
                                   dtype=_input_dtype(self, plan, reset), accept_sparse=_SPARSE_FORMATS)
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

    def _decode(self, targets):
        """Class labels (or the indicator matrix) from what the loss compared with (_Output.targets)."""
        if self._output.takes_labels:
            return self.classes_[targets]
        return self._label_binarizer.inverse_transform(targets)

    def _validation_score(self, logits, targets, sample_weight=None) -> float:
        """scikit-learn's score (accuracy; subset accuracy for multi-label) of the network's logits."""
        probabilities = self._output.apply(logits)
        if not np.isfinite(probabilities).all():
            return np.nan
        predicted = self._label_binarizer.inverse_transform(_ravel_single(probabilities))
        return accuracy_score(self._decode(targets), predicted, sample_weight=sample_weight)

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
