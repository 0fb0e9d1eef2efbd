"""Optimizers (init_state / update / step), learning-rate schedules, gradient clipping, L-BFGS.

Example:
    >>> import numpy as np
    >>> from nablanet import Tensor
    >>> from nablanet import optim
    >>> w = Tensor(np.array([0.5, -0.5]), requires_grad=True)
    >>> opt = optim.SGD([w], lr=optim.StepDecay(0.1, step_size=10, gamma=0.5), momentum=0.9, clip_norm=1.0)
    >>> opt.lr_now
    0.1
"""

from nablanet.optim.base import Optimizer, flush_denormals
from nablanet.optim.clip import clip_by_global_norm, clip_by_global_norm_, clip_by_value, clip_by_value_, global_norm
from nablanet.optim.lbfgs import LBFGS, LBFGSState, lbfgs_minimize
from nablanet.optim.optimizers import (
    GD,
    SGD,
    Adagrad,
    AdagradState,
    Adam,
    AdamState,
    AdamW,
    Momentum,
    Nesterov,
    RMSprop,
    RMSpropState,
    SGDState,
)
from nablanet.optim.schedules import (
    SCHEDULES,
    Constant,
    CosineDecay,
    ExponentialDecay,
    InverseTimeDecay,
    StepDecay,
)

__all__ = [
    "Optimizer", "flush_denormals",
    "SGD", "GD", "Momentum", "Nesterov", "Adagrad", "RMSprop", "Adam", "AdamW",
    "SGDState", "AdagradState", "RMSpropState", "AdamState",
    "LBFGS", "LBFGSState", "lbfgs_minimize",
    "Constant", "StepDecay", "ExponentialDecay", "InverseTimeDecay", "CosineDecay", "SCHEDULES",
    "global_norm", "clip_by_value", "clip_by_value_", "clip_by_global_norm", "clip_by_global_norm_",
]
