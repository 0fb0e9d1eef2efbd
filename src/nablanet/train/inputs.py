"""What fit, evaluate and predict accept, checked and converted: the model and optimizer, inputs (one
array, or a tuple or dict of arrays for a model with several inputs), targets against the loss, metrics.

A loss's record in nablanet.nn.LOSSES says what its targets are (class labels or values) and, for
a classifier's single output column, where the classes divide (the threshold of its metrics).
"""

from __future__ import annotations

import types

import numpy as np
from scipy import sparse

from nablanet.autodiff.tensor import Tensor
from nablanet.nn.losses import LOSSES
from nablanet.train.metrics import get_metric, takes_keyword

__all__ = ["as_array", "as_arrays", "as_inputs", "as_model_inputs", "as_targets", "call_model", "check_model",
           "check_optimizer", "check_real", "compute_dtype", "described", "has_several_arrays", "resolve_metrics",
           "unpack_validation"]


def check_model(model) -> None:
    """A TypeError unless ``model`` is a network fit can train: a Module, or an object with its methods."""
    if callable(model) and all(callable(getattr(model, name, None)) for name in ("parameters", "train", "eval")):
        return
    given = described(model)
    hint = ""
    if callable(model):
        hint = (": a plain function has no parameters to train; make it a nablanet.nn.Module whose forward "
                "computes it, with its trainable arrays as Parameter attributes")
    raise TypeError(f"model must be a nablanet.nn.Module (callable, with parameters(), train() and eval()), "
                    f"got {given}{hint}")


def check_optimizer(optimizer, parameters: list) -> None:
    """An error unless ``optimizer`` can take steps and updates only ``parameters`` (the model's).

    An optimizer over part of the model's parameters is fine (the rest stay frozen); one over arrays
    that are not the model's would train nothing in it, silently.
    """
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError(f"optimizer must be an optimizer over the model's parameters, e.g. "
                        f"optimizer=nablanet.optim.Adam(model.parameters(), lr=1e-3); got {described(optimizer)}")
    name = type(optimizer).__name__
    if not hasattr(optimizer, "params"):
        return  # a user's optimizer that does not say what it updates
    if optimizer.params is None:
        raise ValueError(f"the optimizer {name} was built without parameters (for init_state/update only); "
                         f"fit needs it built on the model's: {name}(model.parameters(), ...)")
    own = {id(parameter) for parameter in parameters}
    foreign = [(i, p) for i, p in enumerate(optimizer.params) if id(p) not in own]
    if foreign:
        shown = ", ".join(f"params[{i}] of shape {tuple(p.shape)}" for i, p in foreign[:5])
        more = f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        raise ValueError(
            f"{len(foreign)} of the {len(optimizer.params)} parameters the optimizer {name} updates are not the "
            f"model's ({shown}{more}), so its steps would not train the model: build it on this model, "
            f"{name}(model.parameters(), ...)")


def described(value) -> str:
    """What ``value`` is, in a few words for an error message: None, an array and its shape, a function, a type."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return f"the function {value.__qualname__}"
    return f"an object of type {type(value).__name__}"


def compute_dtype(model, dtype) -> np.dtype:
    """The parameters' floating dtype (float32 for a model without parameters)."""
    parameter_dtypes = {p.data.dtype for p in model.parameters()}
    if len(parameter_dtypes) > 1:
        raise ValueError(f"the model mixes parameter dtypes {sorted(str(d) for d in parameter_dtypes)}; use one")
    model_dtype = parameter_dtypes.pop() if parameter_dtypes else np.dtype(np.float32)
    if dtype is None:
        return model_dtype
    dtype = np.dtype(dtype)
    if dtype != model_dtype:
        raise ValueError(
            f"dtype={dtype} but the model's parameters are {model_dtype}: build the model in {dtype} "
            f"(e.g. nn.Dense(..., dtype=np.{dtype})) rather than mixing precisions"
        )
    return dtype


def as_array(values, what: str) -> np.ndarray:
    array = np.asarray(values._data if isinstance(values, Tensor) else values)
    if array.ndim == 0:
        raise ValueError(f"{what} must have samples along axis 0, got a scalar")
    return array


def as_arrays(data, what: str = "the data"):
    """Arrays, or a tuple or dict of them, as ndarrays without a copy (a memory-mapped one stays a view of its file;
    a sparse matrix stays as it is)."""
    if isinstance(data, dict):
        return {key: _as_array(value, f"{what}[{key!r}]") for key, value in data.items()}
    if has_several_arrays(data):
        return tuple(_as_array(value, f"{what}[{i}]") for i, value in enumerate(data))
    return _as_array(data, what)


def _as_array(value, what: str):
    return value if sparse.issparse(value) else as_array(value, what)


def as_inputs(X, dtype: np.dtype, what: str) -> np.ndarray:
    """X as an array of the compute dtype (no copy when it already is one), checked to be real and finite.

    fit, predict and evaluate all check: a NaN input gives NaN outputs, whose accuracy would still be
    reported as a number. A scipy.sparse matrix or array (N, D) stays sparse, as CSR (whose rows are
    cut cheaply): the loop densifies it one batch at a time (nablanet.train.data.batch_rows).
    """
    if sparse.issparse(X):
        return _sparse_inputs(X, dtype, what)
    X = as_array(X, what)
    if X.shape[0] == 0:
        raise ValueError(f"{what} has no samples")
    check_real(X, what)
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise ValueError(f"{what} must be numeric, got dtype {X.dtype}")
    X = X.astype(dtype, copy=False)
    _check_finite(X, what)
    return X


def has_several_arrays(data) -> bool:
    """Whether ``data`` is several arrays (a dict of them, or a tuple of arrays) rather than one array.

    A tuple of arrays (NumPy arrays, memory-mapped or not, Tensors, scipy.sparse matrices, anything with
    ``__array__`` and a shape of at least one axis) is several inputs (or targets); a tuple or list of
    numbers or of lists stays what NumPy makes of it, one array, as it always was.
    """
    if isinstance(data, dict):
        return True
    return isinstance(data, tuple) and len(data) > 0 and all(_is_array(item) or has_several_arrays(item)
                                                              for item in data)


def _is_array(value) -> bool:
    return sparse.issparse(value) or (hasattr(value, "__array__") and len(getattr(value, "shape", ())) >= 1)


def as_model_inputs(X, dtype: np.dtype, what: str):
    """X as the model takes it: one array (as_inputs), or a tuple or dict of them for a model whose forward
    takes several inputs, each checked as as_inputs does, with one row per sample in all.
    """
    if not has_several_arrays(X):
        return as_inputs(X, dtype, what)
    keys = list(X) if isinstance(X, dict) else range(len(X))
    checked = {key: _one_input(X[key], dtype, f"{what}[{key!r}]") for key in keys}
    rows = {key: array.shape[0] for key, array in checked.items()}
    if len(set(rows.values())) > 1:
        shown = ", ".join(f"{what}[{key!r}]: {n}" for key, n in rows.items())
        raise ValueError(f"the inputs in {what} have different numbers of rows ({shown}); each needs one row per "
                         "sample")
    return checked if isinstance(X, dict) else tuple(checked.values())


def _one_input(value, dtype: np.dtype, what: str) -> np.ndarray:
    if has_several_arrays(value):
        raise ValueError(f"{what} is itself a tuple or dict of arrays; a model's several inputs are one tuple or "
                         "dict of arrays, not nested")
    return as_inputs(value, dtype, what)


def call_model(model, X):
    """The model's outputs for inputs X: ``model(*X)`` for a tuple (its forward takes them positionally),
    ``model(**X)`` for a dict (by the names of forward's arguments), ``model(X)`` for one array."""
    if isinstance(X, dict):
        return model(**X)
    if isinstance(X, tuple):
        return model(*X)
    return model(X)


def check_real(array: np.ndarray, what: str) -> None:
    """Refuse a complex ``array``, naming ``what`` it is.

    Complex values are refused rather than cast: casting drops the imaginary part, with only NumPy's
    ComplexWarning to say so. (The autodiff engine differentiates complex functions; the layers,
    losses and fit compute on real numbers.) The message opens with scikit-learn's words for the
    same refusal, which its estimator checks look for.
    """
    if np.iscomplexobj(array):
        raise ValueError(f"Complex data not supported: {what} is {array.dtype}, but nablanet's models compute on "
                         "real numbers; pass its real and imaginary parts (.real, .imag) as separate columns")


def _sparse_inputs(X, dtype: np.dtype, what: str):
    if X.ndim != 2:
        raise ValueError(f"{what}: a sparse input must be a matrix (N, D), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{what} has no samples")
    check_real(X, what)
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise ValueError(f"{what} must be numeric, got dtype {X.dtype}")
    X = X.tocsr(copy=False).astype(dtype, copy=False)
    if not np.isfinite(np.sum(X.data, dtype=np.float64)):
        # Only the stored entries can be NaN or infinite; the rows they are in, from the CSR row pointers.
        rows_of_entries = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        bad_rows = np.unique(rows_of_entries[~np.isfinite(X.data)])
        _refuse_non_finite(what, int(np.count_nonzero(np.isnan(X.data))), int(np.count_nonzero(np.isinf(X.data))),
                           bad_rows, X.shape[0])
    return X


def _check_finite(array: np.ndarray, what: str) -> None:
    # One float64 sum is finite exactly when every entry is (short of overflowing 1e308), and it
    # needs no N-sized temporary; only when it fails are the offending values counted and located.
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(np.sum(array, dtype=np.float64)):
        flat = array.reshape(array.shape[0], -1)
        bad_rows = np.flatnonzero(~np.isfinite(flat).all(axis=1))
        if bad_rows.size:
            _refuse_non_finite(what, int(np.count_nonzero(np.isnan(flat))), int(np.count_nonzero(np.isinf(flat))),
                               bad_rows, flat.shape[0])


def _refuse_non_finite(what: str, nan: int, infinite: int, bad_rows: np.ndarray, n_rows: int) -> None:
    counts = " and ".join(text for n, text in ((nan, f"{nan} NaN"), (infinite, f"{infinite} infinite")) if n)
    raise ValueError(f"{what} contains {counts} value{'s' if nan + infinite > 1 else ''}, in "
                     f"{bad_rows.size} of its {n_rows} rows ({_first_rows(bad_rows)}); drop those "
                     "rows or fill in the values first")


def _first_rows(rows: np.ndarray) -> str:
    shown = ", ".join(str(row) for row in rows[:10].tolist())
    return f"rows {shown}{', ...' if rows.size > 10 else ''}" if rows.size > 1 else f"row {shown}"


def _loss_record(loss_fn):
    """What fit knows of a loss function: its record in nablanet.nn.LOSSES (found by identity), or None."""
    return None if loss_fn is None else LOSSES.records.get(loss_fn)


def _loss_name(loss_fn) -> str:
    record = _loss_record(loss_fn)
    return record.name if record is not None else getattr(loss_fn, "__name__", type(loss_fn).__name__)


def as_targets(y, n_rows: int, output_shape: tuple, dtype: np.dtype, loss_fn, what: str) -> np.ndarray:
    """Targets shaped and typed for the loss once, before training, or an error naming both shapes.

    Float targets take the compute dtype (so float32 predictions never meet float64 targets, which
    would upcast the whole loss); class labels become int64.
    """
    y = as_array(y, what)
    check_real(y, what)
    if y.shape[0] != n_rows:
        raise ValueError(f"{what} has {y.shape[0]} rows but the inputs have {n_rows}; they must match")
    loss_name = _loss_name(loss_fn) if loss_fn is not None else None
    record = _loss_record(loss_fn)
    output_tail, target_tail = tuple(output_shape[1:]), y.shape[1:]
    predictions_text = f"the model's predictions have shape {(n_rows,) + output_tail}"
    if target_tail == output_tail:
        targets = y
    elif output_tail == (1,) and target_tail == ():
        targets = y[:, None]
    elif output_tail == () and target_tail == (1,):
        targets = y[:, 0]
    elif len(output_tail) == 1 and output_tail[0] >= 2 and target_tail in ((), (1,)):
        if record is not None and record.targets == "values":
            raise ValueError(
                f"{what} has shape {y.shape} but {predictions_text}: {loss_name} needs targets of the "
                f"predictions' shape (for {output_tail[0]} classes, use cross_entropy with these labels, or "
                "one-hot targets)"
            )
        return _class_labels(y.reshape(n_rows), output_tail[0], what)
    else:
        hint = " or integer class labels (N,)" if len(output_tail) == 1 and output_tail[0] >= 2 else ""
        raise ValueError(f"{what} has shape {y.shape} but {predictions_text}; "
                         f"{loss_name or 'the loss'} needs targets of shape {(n_rows,) + output_tail}{hint}")
    if record is not None and record.targets == "labels" and targets.ndim >= 1 and output_tail == (1,):
        raise ValueError(f"{loss_name} needs at least two output columns (one per class); {predictions_text}")
    if not (np.issubdtype(targets.dtype, np.number) or targets.dtype == bool):
        raise ValueError(f"{what} must be numeric, got dtype {targets.dtype}")
    targets = targets.astype(dtype, copy=False)
    _check_finite(targets, what)
    return targets


def _class_labels(labels: np.ndarray, num_classes: int, what: str) -> np.ndarray:
    if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
        if not np.issubdtype(labels.dtype, np.floating) or not np.all(labels == np.round(labels)):
            raise ValueError(f"{what} of shape {labels.shape} must be integer class labels 0 .. {num_classes - 1} "
                             f"(or one-hot rows of shape {(labels.shape[0], num_classes)})")
    labels = labels.astype(np.int64, copy=False)
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        raise ValueError(f"{what} has class labels from {low} to {high}, but the model has {num_classes} "
                         f"outputs (classes 0 .. {num_classes - 1})")
    return labels


def unpack_validation(validation_data):
    """(X_val, y_val, sample_weight_val) from a pair (X_val, y_val) (weights None) or a triple, as Keras takes."""
    try:
        X_val, y_val, *weights = validation_data
    except (TypeError, ValueError):
        weights = [None, None]
    if len(weights) > 1:
        raise ValueError("validation_data must be a pair (X_val, y_val) or a triple (X_val, y_val, sample_weight_val)")
    return X_val, y_val, (weights[0] if weights else None)


def resolve_metrics(metrics, loss_fn, output_shape) -> list:
    """[(name, function)] for the metrics asked for, with accuracy's threshold chosen from the loss's record."""
    record = _loss_record(loss_fn)
    if metrics is None:
        metrics = ("accuracy",) if record is not None and record.task == "classification" else ()
    elif isinstance(metrics, str) or callable(metrics):
        metrics = (metrics,)
    one_column = tuple(output_shape[1:]) in ((), (1,))
    resolved = []
    for spec in metrics:
        if loss_fn is not None and record is None and one_column and isinstance(spec, str):
            _refuse_unknown_threshold(spec, _loss_name(loss_fn))
        metric = get_metric(spec, from_logits=record is not None and record.outputs == "logits")
        name = getattr(metric, "__name__", None) or type(metric).__name__
        if name in ("loss", "data_loss", "penalty", "lr") or name in dict(resolved):
            raise ValueError(f"metric name {name!r} clashes with another entry of the History")
        resolved.append((name, metric))
    return resolved


def _refuse_unknown_threshold(spec: str, loss_name: str) -> None:
    # A metric that cuts one output column into classes needs to know where: 0.5 for probabilities,
    # 0 for logits. Only a loss's record says which; guessing 0.5 would be silently wrong for logits.
    # The library's thresholded metrics (accuracy, confusion_matrix) take it as a keyword-only argument.
    if takes_keyword(get_metric(spec), "threshold"):
        raise ValueError(
            f"metric {spec!r} decides classes of one-column outputs at a threshold, but the loss {loss_name!r} "
            "is not registered, so whether its outputs are probabilities (threshold 0.5) or logits (0) is "
            f"unknown: register it, e.g. nablanet.nn.register_loss({loss_name!r}, function, targets='values', "
            "task='classification', outputs='logits'), or pass a metric function that sets its own threshold")
