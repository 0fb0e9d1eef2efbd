"""Losses of distributions and embeddings as functions of Tensors, as PyTorch's: the Kullback-Leibler
divergence, the Poisson and Gaussian negative log-likelihoods, the cosine embedding loss; each registered
where it is defined (nablanet.nn.losses) and re-exported by nablanet.nn.functional.

Each is composed from the engine's ops (no primitive of its own), so every derivative, to any order and
in both modes, comes from their rules. Like the losses of nablanet.nn.functional_losses, each takes a
``reduction`` and per-sample weights ``sample_weight=`` (with the mean).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from nablanet.autodiff import ops
from nablanet.autodiff.jit import tracing
from nablanet.autodiff.op import raw as _values
from nablanet.checks import check_bool, check_choice, check_real
from nablanet.nn.functional_losses import _matching_targets, reduce_terms, weighted_mean
from nablanet.nn.losses import register_loss

__all__ = ["kl_div", "poisson_nll_loss", "gaussian_nll_loss", "cosine_embedding_loss", "KL_REDUCTIONS"]

#: kl_div's reductions: REDUCTIONS and "batchmean", the sum over the batch divided by N (the KL
#: divergence of each sample's distribution, averaged over samples: PyTorch's advice for KL).
KL_REDUCTIONS = ("mean", "batchmean", "sum", "none")


def kl_div(log_q, targets, *, reduction: str = "mean", log_target: bool = False, sample_weight=None):
    """Kullback-Leibler divergence KL(p || q) from log-probabilities log q and target probabilities p, as
    PyTorch's ``kl_div`` (the predictions are the log-probabilities, a network ending in log_softmax).

    .. math::

        l_i = p_i (\\log p_i - \\log q_i)   \\quad (0 \\text{ where } p_i = 0),
        \\qquad\\text{or with log_target: } l_i = e^{\\log p_i} (\\log p_i - \\log q_i)

    and C = (1/n) sum_i l_i ("mean", over all n elements), (1/N) sum_i l_i ("batchmean": the mean over
    the N samples of each one's KL(p_n || q_n)), sum_i l_i ("sum") or the l_i ("none"). The gradient
    is -p/n: the targets are constants.

    Args:
        log_q: log q, any shape (N, ...).
        targets: p (probabilities, non-negative) or, with ``log_target``, log p; of log_q's shape.
        reduction: one of KL_REDUCTIONS.
        log_target: whether the targets are log-probabilities.
        sample_weight: per-sample weights w with "mean" or "batchmean": sum_n w_n c_n / sum_n w_n, c_n
            the mean (or, with "batchmean", the sum) of sample n's terms.
    """
    t = _matching_targets(log_q, targets, "kl_div")
    check_choice("kl_div", "reduction", reduction, KL_REDUCTIONS)
    if check_bool("kl_div", "log_target", log_target):
        terms = np.exp(t) * (t - log_q)
    else:
        if _minimum(t) < 0:
            raise ValueError(f"kl_div: the targets must be probabilities (non-negative), got a minimum of "
                             f"{_minimum(t)}; give log-probabilities with log_target=True")
        # xlogy: p log p is 0 at p = 0, as the limit (and PyTorch) has it.
        terms = special.xlogy(t, t) - t * log_q
    if reduction != "batchmean":
        return reduce_terms(terms, reduction, sample_weight, "kl_div")
    shape = np.shape(t)
    per_sample = int(np.prod(shape[1:], dtype=np.int64)) if shape else 1
    if sample_weight is not None:
        return weighted_mean(terms, sample_weight, "kl_div") * float(per_sample)
    return ops.sum(terms) / float(shape[0] if shape else 1)


def _minimum(values) -> float:
    """The smallest of ``values`` (inf for none), for a check that only raises on bad input: read once while
    nablanet.jit traces (tracing.peek), as the replays run no Python."""
    values = tracing.peek(values)
    return np.min(values) if values.size else np.inf


# Soft class targets (a teacher's probabilities, smoothed labels): a classification loss whose
# predictions are log-probabilities (log_softmax at the output; the loss applies no activation).
register_loss("kl_div", kl_div, aliases=("kl_divergence", "kullback_leibler"), targets="values",
              task="classification", outputs="log_probabilities")


def poisson_nll_loss(predictions, targets, *, log_input: bool = True, full: bool = False, eps: float = 1e-8,
                     reduction: str = "mean", sample_weight=None):
    """Negative log-likelihood of counts t under Poisson(lambda), as PyTorch's ``poisson_nll_loss``.

    With the log-rate x = log lambda as the predictions (``log_input``, the default) or the rate
    lambda itself:

    .. math::

        l_i = e^{x_i} - t_i x_i   \\qquad\\text{or}\\qquad   l_i = \\lambda_i - t_i \\log(\\lambda_i + \\epsilon)

    and, with ``full``, Stirling's approximation of log t! added where t > 1:
    t log t - t + (1/2) log(2 pi t) (a constant of the data).

    Args:
        predictions: x (log-rates) or lambda (rates, > -eps), any shape.
        targets: t, counts (non-negative), of the predictions' shape.
        log_input: whether the predictions are log-rates.
        full: add the Stirling term.
        eps: keeps log(lambda + eps) finite at lambda = 0 (without log_input).
        reduction: "mean", "sum" or "none".
        sample_weight: per-sample weights (with reduction "mean").
    """
    t = _matching_targets(predictions, targets, "poisson_nll_loss")
    eps = check_real("poisson_nll_loss", "eps", eps, low=0.0)
    if _minimum(t) < 0:
        raise ValueError(f"poisson_nll_loss: the targets must be counts (non-negative), got a minimum of {_minimum(t)}")
    if check_bool("poisson_nll_loss", "log_input", log_input):
        terms = ops.exp(predictions) - t * predictions
    else:
        rates = _minimum(_values(predictions))
        if rates + eps <= 0:
            raise ValueError(f"poisson_nll_loss: without log_input the predictions are rates, lambda + eps > 0, got a "
                             f"minimum of {rates:.4g}; give log-rates with log_input=True")
        terms = predictions - t * ops.log(predictions + eps)
    if check_bool("poisson_nll_loss", "full", full):
        # Only where t > 1, as PyTorch: elsewhere the approximation is poor and log t! is 0 anyway.
        safe = np.where(t > 1, t, 1.0)
        terms = terms + np.where(t > 1, safe * np.log(safe) - safe + 0.5 * np.log(2 * math.pi * safe), 0.0)
    return reduce_terms(terms, reduction, sample_weight, "poisson_nll_loss")


register_loss("poisson_nll_loss", poisson_nll_loss, aliases=("poisson_nll",), targets="values", task="regression",
              outputs="values")


def gaussian_nll_loss(predictions, targets, var, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean",
                      sample_weight=None):
    """Negative log-likelihood of t under N(mu, sigma^2), the network predicting the mean mu and the
    variance sigma^2, as PyTorch's ``gaussian_nll_loss``.

    .. math::

        l_i = \\frac{1}{2} \\left(\\log \\max(\\sigma_i^2, \\epsilon)
              + \\frac{(\\mu_i - t_i)^2}{\\max(\\sigma_i^2, \\epsilon)}\\right)
        \\quad \\left(+ \\frac{1}{2} \\log 2\\pi \\text{ with full}\\right)

    The clamp at eps is outside the derivative, as PyTorch's (done without gradient tracking): the
    gradient in sigma^2 is the formula's at the clamped value, as if the clamp were not there.

    Args:
        predictions: mu, any shape (N, ...).
        targets: t, of mu's shape.
        var: sigma^2 >= 0: of mu's shape (one variance per value); mu's shape without its last axis, or
            with one axis of size 1 (one variance shared along it); or a number (homoscedastic).
            A Tensor is differentiated, as mu is.
        full: add the constant (1/2) log 2 pi.
        eps: the floor of the variance.
        reduction: "mean", "sum" or "none".
        sample_weight: per-sample weights (with reduction "mean").
    """
    t = _matching_targets(predictions, targets, "gaussian_nll_loss")
    eps = check_real("gaussian_nll_loss", "eps", eps, low=0.0)
    var = _variance(var, t.shape, t.dtype)
    # max(var, eps) in value, the identity in every derivative: var plus a constant correction.
    clamped = var + ops.stop_gradient(ops.maximum(var, eps) - var)
    terms = 0.5 * (ops.log(clamped) + (predictions - t) ** 2 / clamped)
    if check_bool("gaussian_nll_loss", "full", full):
        terms = terms + 0.5 * math.log(2 * math.pi)
    return reduce_terms(terms, reduction, sample_weight, "gaussian_nll_loss")


def _variance(var, shape, dtype):
    """var shaped to broadcast against the predictions, as PyTorch's rules, or the error naming both shapes."""
    values = np.asanyarray(_values(var))
    if values.ndim == 0:
        var = ops.broadcast_to(var, shape) if hasattr(var, "_data") else np.full(shape, float(values), dtype)
        values = np.asanyarray(_values(var))
    if _minimum(values) < 0:
        raise ValueError(f"gaussian_nll_loss: the variances must be non-negative, got a minimum of {_minimum(values)}")
    if values.shape == shape:
        return var
    if values.shape == shape[:-1]:
        return ops.expand_dims(var, -1)
    mismatched = [axis for axis, (a, b) in enumerate(zip(shape, values.shape)) if a != b]
    if values.ndim == len(shape) and len(mismatched) == 1 and values.shape[mismatched[0]] == 1:
        return var
    raise ValueError(f"gaussian_nll_loss: var of shape {values.shape} does not fit predictions of shape {shape} "
                     f"(expected {shape}, {shape[:-1]}, that shape with one axis of size 1, or a number)")


# Its third input, the variance, is one fit does not give (a model's outputs are the predictions alone).
register_loss("gaussian_nll_loss", gaussian_nll_loss, aliases=("gaussian_nll",), targets="values",
              task="regression", outputs="values", inputs=("var",))


def cosine_embedding_loss(x1, x2, y, *, margin: float = 0.0, reduction: str = "mean", sample_weight=None):
    """Cosine embedding loss of pairs (x1_n, x2_n) labelled similar (y_n = 1) or not (y_n = -1), as
    PyTorch's ``cosine_embedding_loss``: both embeddings are differentiated.

    .. math::

        \\cos_n = \\frac{\\sum_d x1_{nd} x2_{nd}}
                        {\\sqrt{(\\sum_d x1_{nd}^2 + \\varepsilon)(\\sum_d x2_{nd}^2 + \\varepsilon)}},
        \\qquad l_n = \\begin{cases} 1 - \\cos_n & y_n = 1 \\\\
                                  \\max(0, \\cos_n - \\text{margin}) & y_n = -1 \\end{cases}

    with varepsilon = 1e-12 (PyTorch's), so that a zero vector has cosine 0 rather than 0/0.

    Args:
        x1, x2: embeddings (N, D), or one pair (D,).
        y: labels 1 or -1, (N,) (or a number for one pair).
        margin: in [-1, 1]; dissimilar pairs cost only beyond it.
        reduction: "mean", "sum" or "none" (the l_n).
        sample_weight: per-pair weights (with reduction "mean").
    """
    shape = np.shape(_values(x1))
    if len(shape) not in (1, 2):
        raise ValueError(f"cosine_embedding_loss: x1 must be embeddings (N, D) or one embedding (D,), got shape "
                         f"{shape}")
    if np.shape(_values(x2)) != shape:
        raise ValueError(f"cosine_embedding_loss: targets of shape {np.shape(_values(x2))} do not match predictions of "
                         f"shape {shape} (x2 against x1: two embeddings of one shape)")
    margin = check_real("cosine_embedding_loss", "margin", margin, low=-1.0, high=1.0)
    labels = np.asanyarray(_values(y))
    if labels.shape != shape[:-1]:
        raise ValueError(f"cosine_embedding_loss: y of shape {labels.shape} does not fit embeddings of shape {shape} "
                         f"(expected {shape[:-1]})")
    if not np.all(np.isin(tracing.peek(labels), (-1, 1))):
        raise ValueError(f"cosine_embedding_loss: y must be 1 (similar) or -1 (dissimilar), got values "
                         f"{np.unique(tracing.peek(labels))[:5].tolist()}")
    epsilon = 1e-12
    dot = ops.sum(x1 * x2, axis=-1)
    cos = dot / ops.sqrt((ops.sum(x1 * x1, axis=-1) + epsilon) * (ops.sum(x2 * x2, axis=-1) + epsilon))
    terms = ops.where(labels == 1, 1.0 - cos, ops.maximum(cos - margin, 0.0))
    return reduce_terms(terms, reduction, sample_weight, "cosine_embedding_loss")


# Its "targets" are the second embeddings, differentiated like the first, and the labels y a third input
# that fit does not give: for a siamese model's own training step.
register_loss("cosine_embedding_loss", cosine_embedding_loss, aliases=("cosine_embedding",), targets="values",
              task="regression", outputs="values", inputs=("y",))
