"""Optimizers (init_state / update / step), learning-rate schedules, gradient clipping, L-BFGS, and the
registries that name optimizers and schedules (``get_optimizer("adam", ...)``, ``get_schedule("cosine", ...)``).

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
# After optimizers.py, so that the registry lists the optimizers in increasing complexity.
from nablanet.optim.adaptive import Adamax, AdamaxState, Lion, LionState, NAdam, NAdamState, RAdam, RAdamState
from nablanet.optim.lbfgs import LBFGS, LBFGSState, lbfgs_minimize
from nablanet.optim.registry import (
    OPTIMIZERS,
    OptimizerRecord,
    as_optimizer,
    get_optimizer,
    optimizer_record,
    register_optimizer,
)
from nablanet.optim.schedules import (
    SCHEDULES,
    Constant,
    CosineDecay,
    ExponentialDecay,
    InverseTimeDecay,
    ScheduleRecord,
    StepDecay,
    get_schedule,
    register_schedule,
    schedule_record,
)
# After schedules.py, whose registry these schedules join.
from nablanet.optim.cycles import CosineWarmRestarts, LinearWarmup, OneCycle, Sequential
from nablanet.optim.plateau import Plateau, PlateauStep, ReduceLROnPlateau, improves

__all__ = [
    "Optimizer", "flush_denormals",
    "SGD", "GD", "Momentum", "Nesterov", "Adagrad", "RMSprop", "Adam", "AdamW",
    "SGDState", "AdagradState", "RMSpropState", "AdamState",
    "NAdam", "RAdam", "Adamax", "Lion", "NAdamState", "RAdamState", "AdamaxState", "LionState",
    "LBFGS", "LBFGSState", "lbfgs_minimize",
    "OPTIMIZERS", "OptimizerRecord", "register_optimizer", "optimizer_record", "get_optimizer", "as_optimizer",
    "Constant", "StepDecay", "ExponentialDecay", "InverseTimeDecay", "CosineDecay",
    "LinearWarmup", "Sequential", "OneCycle", "CosineWarmRestarts",
    "ReduceLROnPlateau", "Plateau", "PlateauStep", "improves",
    "SCHEDULES", "ScheduleRecord", "register_schedule", "schedule_record", "get_schedule",
    "global_norm", "clip_by_value", "clip_by_value_", "clip_by_global_norm", "clip_by_global_norm_",
]
