"""How the metrics read their inputs: the arrays behind Tensors, class labels from predictions and
targets, per-sample weights, weighted means, regression pairs (the rules are in ``train.metrics``'s
docstring). Shared by ``train.metrics`` and ``train.classification``."""

from __future__ import annotations

import numpy as np

from nablanet.nn.losses import sample_weights

__all__ = ["array_of", "class_labels", "one_column", "integer_labels", "checked_weights", "weighted_mean",
           "regression_pair"]


def array_of(x) -> np.ndarray:
    """The array behind a Tensor (or anything array-like), without copying."""
    return np.asarray(x._data if hasattr(x, "_data") else x)


def class_labels(predictions, targets, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(predicted classes, true classes) as two int arrays of shape (N,); rules in the module docstring."""
    prediction_values = array_of(predictions)
    target_values = array_of(targets)
    if prediction_values.ndim == 2 and prediction_values.shape[1] > 1:
        predicted = np.argmax(prediction_values, axis=1)
        true = integer_labels(target_values)
    else:
        prediction_values = one_column(prediction_values, "predictions")
        if np.issubdtype(prediction_values.dtype, np.integer) or prediction_values.dtype == bool:
            predicted = prediction_values.astype(np.intp)
            true = integer_labels(target_values)
        else:
            predicted = (prediction_values > threshold).astype(np.intp)
            true = (one_column(target_values, "binary targets") > 0.5).astype(np.intp)
    if predicted.shape != true.shape:
        raise ValueError(
            f"predictions give {predicted.shape[0]} classes but targets give {true.shape[0]}: "
            f"shapes {np.shape(prediction_values)} and {np.shape(target_values)}"
        )
    return predicted, true


def one_column(values: np.ndarray, what: str) -> np.ndarray:
    """An (N,) or (N, 1) array as (N,); ValueError naming ``what`` for any other shape."""
    if values.ndim == 1:
        return values
    if values.ndim == 2 and values.shape[1] == 1:
        return values[:, 0]
    raise ValueError(f"expected {what} of shape (N,) or (N, 1), got {values.shape}")


def integer_labels(target_values: np.ndarray) -> np.ndarray:
    """Class labels from integer labels (N,) / (N, 1) or one-hot rows (N, K)."""
    if target_values.ndim == 2 and target_values.shape[1] > 1:
        return np.argmax(target_values, axis=1)
    labels = one_column(target_values, "class labels")
    if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
        if not np.all(labels == np.round(labels)):
            raise ValueError("class labels must be whole numbers (or one-hot rows), got fractional values")
    return labels.astype(np.intp)


def checked_weights(sample_weight, n_samples: int, metric: str) -> np.ndarray:
    """The per-sample weights of ``n_samples`` rows as float64, checked (``nn.losses.sample_weights``) and with a
    positive sum; the errors name ``metric``."""
    weights = sample_weights(sample_weight, n_samples, np.float64, f"{metric}: sample_weight")
    if not np.sum(weights) > 0:
        raise ValueError(f"{metric}: the sample weights sum to zero, so no sample counts")
    return weights


def weighted_mean(values: np.ndarray, sample_weight, metric: str) -> float:
    """The mean of the values (one row per sample), or the weighted mean over the samples of each sample's mean."""
    if sample_weight is None:
        return float(np.mean(values))
    per_sample = values.reshape(values.shape[0], -1).mean(axis=1)
    return float(np.average(per_sample, weights=checked_weights(sample_weight, values.shape[0], metric)))


def regression_pair(predictions, targets) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and targets of one shape, in float64 so the reported figure is not rounded.

    An (N,) against an (N, 1) is read as one output: NumPy would otherwise broadcast the pair to
    (N, N) and return a meaningless number without complaint.
    """
    predicted = array_of(predictions).astype(np.float64, copy=False)
    true = array_of(targets).astype(np.float64, copy=False)
    if predicted.shape != true.shape:
        if predicted.size == true.size and predicted.shape[:1] == true.shape[:1] and max(predicted.ndim, true.ndim) <= 2:
            predicted, true = predicted.reshape(-1), true.reshape(-1)
        else:
            raise ValueError(f"predictions of shape {predicted.shape} and targets of shape {true.shape} differ")
    return predicted, true
