"""L1 and L2 penalties on weights, added to the cost the optimizer sees."""

from __future__ import annotations

from nablanet.autodiff import ops


def _weights(model_or_params):
    params = model_or_params.parameters() if hasattr(model_or_params, "parameters") else list(model_or_params)
    return [p for p in params if getattr(p, "regularize", True)]


def l1_penalty(model_or_params, lam: float):
    """lambda sum_W |W|: the lasso penalty, over weights only (parameters with regularize=True)."""
    return lam * sum(ops.sum(ops.abs(W)) for W in _weights(model_or_params))


def l2_penalty(model_or_params, lam: float):
    """lambda sum_W ||W||_2^2: the ridge penalty, over weights only (parameters with regularize=True)."""
    return lam * sum(ops.sum(W * W) for W in _weights(model_or_params))


def penalty(model_or_params, l1: float = 0.0, l2: float = 0.0):
    """l1 sum |W| + l2 sum W^2 over the weights (not biases); 0.0 when both strengths are zero."""
    if l1 < 0 or l2 < 0:
        raise ValueError(f"penalty strengths must be non-negative, got l1={l1}, l2={l2}")
    total = 0.0
    if l1:
        total = total + l1_penalty(model_or_params, l1)
    if l2:
        total = total + l2_penalty(model_or_params, l2)
    return total
