"""The output layer of the estimators' networks: its activation, its loss in scikit-learn's conventions, its targets.

The cost minimized is scikit-learn's, term for term, on a batch of n rows (scikit-learn's
``_backprop``; W are the weight matrices, not the biases)::

    C = data loss + (alpha / 2 ||W||^2 + l1 ||W||_1) / n

    data loss:  squared_error  (1/2) mean over rows, sum over outputs of (y - t)^2
                log_loss       -(1/n) sum_i sum_k t_ik log p_ik  (softmax), or summed over the
                               outputs of the binary cross-entropy (logistic: binary, multi-label)
                poisson        mean over rows, sum over outputs of the half Poisson deviance

With sample weights w every mean over rows above is the weighted mean sum_i w_i (...)_i / sum_i w_i and the
penalty's n is sum_i w_i, scikit-learn's ``np.average(..., weights=sample_weight)`` and ``sw_sum``.

The data losses below are nablanet.nn.functional's, scaled to these conventions; nablanet.train.fit adds
the penalty (``l2 = alpha / 2`` with ``divide_penalty_by_batch_size=True``, see
``_params.l2_from_alpha``). ``loss_curve_`` holds the numbers scikit-learn reports, which are the same
except that scikit-learn reports the squared error averaged over the outputs (while following the
gradient of its sum, as above); the two differ only with several outputs (``reported_fraction``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import xlogy

from nablanet.autodiff import ops
from nablanet import nn
from nablanet.nn import functional as F
from nablanet.nn.losses import takes_sample_weight
from nablanet.train.weights import weighting
from nablanet.sklearn._params import _output_activation


# Losses in scikit-learn's conventions, as functions of the output layer's logits z; each takes the
# _Output that names the output activation and the number of outputs.
def _log_loss(output, z, targets, **weighted):
    # From the logits, so that no probability is ever rounded to 0 (scikit-learn clips p to [eps, 1 - eps]
    # instead; the two agree while p > 2.2e-16).
    if output.activation == "softmax":
        return F.cross_entropy(z, targets, **weighted)
    return output.n_outputs * F.binary_cross_entropy_with_logits(z, targets, **weighted)


def _half_squared_error(output, z, targets, **weighted):
    # Summed over the outputs: scikit-learn's gradient (its delta y - t per output, divided by n only).
    return 0.5 * output.n_outputs * F.mse(output.apply(z), targets, **weighted)


def _absolute_error(output, z, targets, **weighted):
    return F.mae(output.apply(z), targets, **weighted)


def _huber(output, z, targets, **weighted):
    return F.huber(output.apply(z), targets, **weighted)


def _half_poisson_deviance(output, z, targets, sample_weight=None):
    # With mu = exp(z): t log(t / mu) - t + mu = (mu - t z) + (t log t - t); the bracket without z is a
    # constant of the data, added so that the value equals scikit-learn's. Kept an array (not float()), so
    # that fit's compiled step computes it from each batch's targets.
    constant = F.weighted_mean(np.sum(xlogy(targets, targets) - targets, axis=1), sample_weight, "poisson")
    return output.n_outputs * F.weighted_mean(ops.exp(z) - z * targets, sample_weight, "poisson") + constant


_LOSSES = {
    "log_loss": _log_loss, "squared_error": _half_squared_error, "absolute_error": _absolute_error,
    "huber": _huber, "poisson": _half_poisson_deviance,
}


@dataclass(frozen=True)
class _Output:
    """The output layer: its activation (out_activation_), its loss, and what the loss compares with.

    Attributes:
        activation: a registered activation's name, or 'exp'.
        loss: a name of _LOSSES, a registered loss of nablanet.nn.LOSSES (given the logits or the
            activation's outputs as its record says, and class labels or the binarized targets), or a
            function ``(predictions Tensor, targets ndarray) -> scalar Tensor``.
        n_outputs: the output layer's width.
    """

    activation: str
    loss: object
    n_outputs: int

    def apply(self, z):
        return _output_activation(self.activation)(z)

    @property
    def takes_labels(self) -> bool:
        """Softmax with log_loss (the fused cross-entropy), or a registered loss of class labels: labels
        rather than one-hot rows."""
        if self.loss == "log_loss":
            return self.activation == "softmax"
        record = self._registered()
        return record is not None and record.targets == "labels"

    def _registered(self):
        """The nablanet.nn.LOSSES record of a loss named outside _LOSSES, or None."""
        if callable(self.loss) or self.loss in _LOSSES:
            return None
        return nn.loss_record(self.loss)

    def targets(self, Y: np.ndarray) -> np.ndarray:
        """What the loss compares the outputs with: class labels (see takes_labels), else Y itself."""
        return Y.argmax(axis=1) if self.takes_labels else Y

    @property
    def reported_fraction(self) -> float:
        """scikit-learn's reported loss_ over the data loss followed: it averages squared errors over outputs."""
        return 1.0 / self.n_outputs if self.loss == "squared_error" else 1.0

    def data_loss(self, z, targets, sample_weight=None):
        """The data loss of a batch, from the logits z: the loss nablanet.train.fit is given (weighted by
        per-sample weights, if any)."""
        weights = weighting(sample_weight)
        if callable(self.loss):
            return self.loss(self.apply(z), targets, **weights)
        record = self._registered()
        if record is not None:
            return record.function(z if record.outputs == "logits" else self.apply(z), targets, **weights)
        return _LOSSES[self.loss](self, z, targets, **weights)

    def check_takes_weights(self) -> None:
        """Refuse sample weights for a loss function that cannot weigh its samples (before training)."""
        function = self.loss if callable(self.loss) else getattr(self._registered(), "function", None)
        if function is not None and not takes_sample_weight(function):
            raise ValueError(f"sample_weight needs a loss that takes it, but {getattr(function, '__name__', function)} "
                             "has no parameter sample_weight: give it a keyword argument sample_weight=None (the "
                             "weighted mean sum_i w_i l_i / sum_i w_i over the samples)")

    def reported_loss(self, logs: dict) -> float:
        """scikit-learn's loss_ for an epoch (or batch) of fit: the data loss it reports, plus the penalty."""
        return self.reported_fraction * logs["data_loss"] + logs["penalty"]
