r"""The notes' train / train-dev / dev / test discipline in numbers: which gap is largest, and what to do about it.

The lecture notes' top-down recipe: estimate the optimal error rate, reduce under-fitting (bias) on the
training set, make sure you are not over-fitting; and when the training data and the data that matter
differ, Andrew Ng's two dev sets, one drawn like the training data (*train-dev*, held out of training)
and one drawn like the test data (*dev*), whose difference "quantifies the train-test mismatch". With
the errors :math:`e` of the five sets, in the order the data get further from what the model was fit on,

.. math::

    \underbrace{e_{\text{train}} - e_{\text{optimal}}}_{\text{avoidable bias}}, \quad
    \underbrace{e_{\text{train-dev}} - e_{\text{train}}}_{\text{variance}}, \quad
    \underbrace{e_{\text{dev}} - e_{\text{train-dev}}}_{\text{data mismatch}}, \quad
    \underbrace{e_{\text{test}} - e_{\text{dev}}}_{\text{overfitting to dev}},

and the largest gap says where the next effort goes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nablanet.checks import check_real
from nablanet.diagnostics._common import format_table
from nablanet.nn.module import Module

__all__ = ["bias_variance_report", "BiasVarianceReport", "Finding", "GAPS", "REMEDIES"]

_OWNER = "bias_variance_report"

# (gap, the set it starts from, the set it ends at), in the order of the notes' recipe.
GAPS = (
    ("avoidable bias", "optimal", "train"),
    ("variance", "train", "train-dev"),
    ("data mismatch", "train-dev", "dev"),
    ("overfitting to dev", "dev", "test"),
)

# What the notes (and Ng's recipe they quote) do about each gap, the notes' own words where they have them.
REMEDIES = {
    "avoidable bias": (
        "a bigger network: the notes 'gradually ramp up the number of hidden layers, until you start "
        "overfitting the training set'",
        "train longer or with a better optimizer (Adam, a tuned learning rate)",
        "activations and initializations that keep the gradient flowing (ReLU/ELU with He init, "
        "batch normalization)",
        "less regularization",
    ),
    "variance": (
        "more training data: 'DNNs are data hungry'",
        "regularization: L2 (weight decay), dropout ('one of the most popular regularization techniques'), "
        "early stopping",
        "a smaller network, once the avoidable bias is small",
    ),
    "data mismatch": (
        "make the training data more like the target: collect (or synthesize) training examples like the "
        "dev and test data, or move part of the target data into training, keeping dev and test from the target",
        "look at the dev errors to see how the two distributions differ",
        "more data of the training kind, or regularization, will not close this gap",
    ),
    "overfitting to dev": (
        "a bigger dev set: the decisions tuned on it have fitted its noise",
        "fresh dev data from the target distribution; never tune on the test set ('a cardinal sin in ML')",
    ),
}


@dataclass(frozen=True)
class Finding:
    """One line of the diagnosis: a gap, its size, and what to do about it.

    Attributes:
        gap: ``"avoidable bias"``, ``"variance"``, ``"data mismatch"`` or ``"overfitting to dev"``; None
            for the finding that no gap exceeds the tolerance.
        size: the gap (an error difference); 0 when ``gap`` is None.
        largest: it is the largest gap (the first finding).
        message: the sentence the report prints.
        remedies: the notes' remedies for the gap (empty when ``gap`` is None).
    """

    gap: str | None
    size: float
    largest: bool
    message: str
    remedies: tuple = ()

    def __str__(self):
        return self.message


@dataclass(frozen=True)
class BiasVarianceReport:
    r"""The errors of the notes' data sets, the gaps between them, and what the largest says to do.

    Made by :func:`bias_variance_report`. The gaps (see the module docstring) are differences of error
    rates; one of them is None when a set it needs is missing. Without a train-dev set, variance and data
    mismatch cannot be told apart: ``variance`` is then :math:`e_{\text{dev}} - e_{\text{train}}`, both
    together, and a note says so.

    Attributes:
        optimal: the optimal-error estimate :math:`e_{\text{optimal}}` (human-level error, say).
        train, train_dev, dev, test: the error rates, in [0, 1]; ``train_dev`` and ``test`` may be None.
        optimal_given: the optimal error was given; False when it was taken as 0.
        tolerance: gaps up to this size are too small to act on (sampling noise, for the set sizes used).
        sizes: the number of samples of each set when the errors were measured from data, else None.
    """

    optimal: float
    train: float
    train_dev: float | None
    dev: float
    test: float | None
    optimal_given: bool = True
    tolerance: float = 0.01
    sizes: dict | None = None

    # --- the gaps -------------------------------------------------------------------------------
    def error(self, name: str) -> float | None:
        """The error of a set by its name: ``"optimal"``, ``"train"``, ``"train-dev"``, ``"dev"`` or ``"test"``."""
        return {"optimal": self.optimal, "train": self.train, "train-dev": self.train_dev, "dev": self.dev,
                "test": self.test}[name]

    @property
    def avoidable_bias(self) -> float:
        r""":math:`e_{\text{train}} - e_{\text{optimal}}`."""
        return self.train - self.optimal

    @property
    def variance(self) -> float:
        r""":math:`e_{\text{train-dev}} - e_{\text{train}}`; without a train-dev set, :math:`e_{\text{dev}} - e_{\text{train}}`."""
        return (self.dev if self.train_dev is None else self.train_dev) - self.train

    @property
    def data_mismatch(self) -> float | None:
        r""":math:`e_{\text{dev}} - e_{\text{train-dev}}`, or None without a train-dev set."""
        return None if self.train_dev is None else self.dev - self.train_dev

    @property
    def dev_overfitting(self) -> float | None:
        r""":math:`e_{\text{test}} - e_{\text{dev}}`, or None without a test error."""
        return None if self.test is None else self.test - self.dev

    @property
    def gaps(self) -> dict:
        """The gaps that could be measured: name -> (from set, to set, size), in the notes' order."""
        sizes = {"avoidable bias": self.avoidable_bias, "variance": self.variance,
                 "data mismatch": self.data_mismatch, "overfitting to dev": self.dev_overfitting}
        found = {}
        for gap, start, end in GAPS:
            if sizes[gap] is None:
                continue
            if gap == "variance" and self.train_dev is None:
                end = "dev"
            found[gap] = (start, end, sizes[gap])
        return found

    @property
    def largest(self) -> str | None:
        """The name of the largest gap above the tolerance, or None when every gap is within it."""
        return self.findings[0].gap

    @property
    def findings(self) -> tuple:
        """One Finding per gap above the tolerance, largest first, with its remedies; or one saying there is none."""
        # A gap equal to the tolerance is within it, also when the subtraction rounds it up (0.16 - 0.15).
        above = sorted(((gap, start, end, size) for gap, (start, end, size) in self.gaps.items()
                        if size - self.tolerance > 1e-12), key=lambda item: -item[3])
        if not above:
            return (Finding(None, 0.0, False,
                            f"no gap exceeds the tolerance {self.tolerance:.3g}: the errors are as close to the "
                            f"optimal-error estimate {self.optimal:.3f} as these sets can tell"),)
        findings = []
        for rank, (gap, start, end, size) in enumerate(above):
            how = f"{size:.3f} = {end} {self.error(end):.3f} - {start} {self.error(start):.3f}"
            if rank == 0:
                message = f"{gap} is the largest gap ({how}); what to do:"
            else:
                message = f"{gap} is also above the tolerance ({how})"
            findings.append(Finding(gap, size, rank == 0, message, REMEDIES[gap]))
        return tuple(findings)

    @property
    def notes(self) -> tuple:
        """Caveats on reading the report: missing sets, an assumed optimal error, gaps that came out negative."""
        notes = []
        if not self.optimal_given:
            notes.append("the optimal error was not given and is taken as 0, so the avoidable bias is the whole "
                         "training error; give a human-level error (optimal=) for problems with noisy labels")
        if self.train_dev is None:
            notes.append("no train-dev set: variance and data mismatch are not separated (variance here is "
                         "dev - train); hold out part of the training data as a train-dev set")
        if self.test is None:
            notes.append("no test error: overfitting to the dev set is not measured")
        for gap, (start, end, size) in self.gaps.items():
            if size < -self.tolerance:
                notes.append(f"{gap} is negative ({size:.3f}): the {end} set is easier than the {start} set "
                             "(sampling noise on small sets, or sets from different distributions)")
        return tuple(notes)

    # --- reading it -----------------------------------------------------------------------------
    def report(self) -> str:
        """The errors, the gaps and the findings with their remedies, as text."""
        rows = []
        for name in ("optimal", "train", "train-dev", "dev", "test"):
            value = self.error(name)
            if value is None:
                continue
            label = f"optimal ({'given' if self.optimal_given else 'assumed'})" if name == "optimal" else name
            row = [label, f"{value:.3f}"]
            if self.sizes is not None:
                row.append(str(self.sizes.get(name, "")))
            rows.append(row)
        headers = ["set", "error"] + (["samples"] if self.sizes is not None else [])
        errors = format_table(headers, rows)
        largest = self.largest
        gap_rows = [[gap, f"{start} -> {end}", f"{size:+.3f}", "<- largest" if gap == largest else ""]
                    for gap, (start, end, size) in self.gaps.items()]
        gaps = format_table(["gap", "between", "size", ""], gap_rows, align="llrl")
        lines = ["bias/variance report (train / train-dev / dev / test)", "", errors, "", gaps, "", "findings:"]
        for number, finding in enumerate(self.findings, start=1):
            lines.append(f"  {number}. {finding.message}")
            lines.extend(f"     - {remedy}" for remedy in finding.remedies if finding.largest)
        if self.notes:
            lines.append("notes:")
            lines.extend(f"  - {note}" for note in self.notes)
        return "\n".join(lines)

    def __str__(self):
        return self.report()

    def plot(self, ax=None):
        """The errors as a staircase of bars, each gap drawn as an arrow between two of them, the largest in red.

        Args:
            ax: matplotlib axes to draw into; default a new Figure.

        Returns:
            The Figure.
        """
        from nablanet.diagnostics._bias_variance_plot import draw_report

        return draw_report(self, ax)


def bias_variance_report(*, train, dev, train_dev=None, test=None, optimal=None, model=None, metric="error",
                         tolerance: float = 0.01) -> BiasVarianceReport:
    r"""The notes' bias/variance diagnosis from the errors of the training, train-dev, dev and test sets.

    Either give the error rates themselves, or a fitted ``model`` and each set as an ``(X, y)`` pair: the
    errors are then measured with ``metric``. The gaps

    .. math::

        e_{\text{train}} - e_{\text{optimal}}, \quad e_{\text{train-dev}} - e_{\text{train}}, \quad
        e_{\text{dev}} - e_{\text{train-dev}}, \quad e_{\text{test}} - e_{\text{dev}}

    are the avoidable bias, the variance, the data mismatch and the overfitting to the dev set; the
    largest above ``tolerance`` comes first among the findings, with the notes' remedy.

    Args:
        train: the training error, or the training set ``(X, y)`` with ``model``. Required.
        dev: the dev (validation) error, from the distribution the model is for. Required.
        train_dev: the error on held-out data drawn like the training data, or None.
        test: the test error, or None (it is scored once, at the end).
        optimal: the optimal-error estimate, such as human-level error; None takes 0 (and says so).
        model: a fitted nablanet Module (its outputs, from ``nablanet.train.predict``) or an object with a
            ``predict`` method (a scikit-learn estimator, nablanet's MLPClassifier); None when the errors
            are given.
        metric: ``"error"``, the fraction of samples whose predicted class is wrong (``1 - accuracy``,
            classes read from the outputs as ``nablanet.train.metrics.accuracy`` does), or a function
            ``(predictions, targets) -> error`` returning a rate in [0, 1].
        tolerance: gaps up to this size are too small to act on; the default, one percentage point,
            suits sets of thousands of samples (an error e on n samples has a standard error of
            :math:`\sqrt{e (1 - e) / n}`: about 0.02 for e = 0.1, n = 200).

    Returns:
        A BiasVarianceReport; ``print`` it, or draw it with ``.plot()``.

    Raises:
        ValueError: a required set is missing, an error is outside [0, 1], or a set has no samples.
        TypeError: a set is given in the wrong form for the mode (an error with a model, a pair without).

    Example:
        >>> report = bias_variance_report(optimal=0.01, train=0.02, train_dev=0.03, dev=0.15, test=0.16)
        >>> report.largest, round(report.data_mismatch, 3)
        ('data mismatch', 0.12)
    """
    tolerance = check_real(_OWNER, "tolerance", tolerance, low=0.0, high=1.0)
    splits = {"train": train, "train-dev": train_dev, "dev": dev, "test": test}
    for name in ("train", "dev"):
        if splits[name] is None:
            raise ValueError(f"{_OWNER}: the {name} set is required (the diagnosis compares train with dev), got None")
    sizes = None
    if model is not None:
        errors, sizes = _measure(model, {name: split for name, split in splits.items() if split is not None}, metric)
    else:
        errors = {}
        for name, value in splits.items():
            if value is None:
                continue
            if isinstance(value, (tuple, list)):
                raise TypeError(f"{_OWNER}: {name} is an (X, y) pair; pass model= to measure its error, or give "
                                "the error itself")
            errors[name] = _check_error(f"{name} error", value)
    optimal_given = optimal is not None
    optimal = _check_error("optimal error", optimal) if optimal_given else 0.0
    return BiasVarianceReport(optimal=optimal, train=errors["train"], train_dev=errors.get("train-dev"),
                              dev=errors["dev"], test=errors.get("test"), optimal_given=optimal_given,
                              tolerance=tolerance, sizes=sizes)


def _check_error(what: str, value) -> float:
    return check_real(_OWNER, what, value, low=0.0, high=1.0)


def _measure(model, splits: dict, metric) -> tuple[dict, dict]:
    """The error of ``model`` on each ``(X, y)`` split with ``metric``, and each split's size."""
    error_of = _error_function(metric)
    errors, sizes = {}, {}
    for name, split in splits.items():
        if not isinstance(split, (tuple, list)) or len(split) != 2:
            raise TypeError(f"{_OWNER}: with a model, each set is an (X, y) pair; got {type(split).__name__} for {name}")
        X, y = split
        if len(y) == 0 or len(X) != len(y):
            raise ValueError(f"{_OWNER}: the {name} set needs as many targets as samples, at least one; got "
                             f"{len(X)} samples and {len(y)} targets")
        errors[name] = _check_error(f"{name} error (from metric)", error_of(_predictions(model, X), y))
        sizes[name] = len(y)
    return errors, sizes


def _error_function(metric):
    if callable(metric):
        return metric
    if metric != "error":
        raise ValueError(f"{_OWNER}: metric must be 'error' or a function (predictions, targets) -> error, got {metric!r}")
    from nablanet.train.metrics import accuracy

    return lambda predictions, targets: 1.0 - accuracy(predictions, targets)


def _predictions(model, X):
    if isinstance(model, Module):
        from nablanet.train.loop import predict

        return predict(model, X)
    if callable(getattr(model, "predict", None)):
        return np.asarray(model.predict(X))
    raise TypeError(f"{_OWNER}: model must be a nablanet Module or have a predict method, got {type(model).__name__}")
