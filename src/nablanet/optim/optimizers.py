"""First-order optimizers, in increasing complexity: SGD (= GD, Momentum, Nesterov), Adagrad, RMSprop, Adam, AdamW.

Symbols (the lecture notes'): eta_t the learning rate at update t (a float or a schedule, see
``optim.schedules``), theta the parameters, g_t the gradient of the cost at theta_{t-1}, t = 1, 2, ...
the update number; products, squares, square roots and divisions of arrays are elementwise.

Each update rule is written once, in ``nablanet.kernels.optimizers``, on inputs and ``out_*``
buffers, as the new state and the step d_t of theta_t = theta_{t-1} - d_t: ``Optimizer.update``
passes fresh outputs (pure), ``Optimizer.step`` the state's own arrays (in place), for all the
parameters of a dtype at once (``nablanet.optim.flat``). Defaults and the placement of eps are
PyTorch 2.13's; the test suite checks every rule step by step against ``torch.optim`` in float64
and float32. The one deviation all share: every 16 steps, state entries that have decayed below
the smallest normal float become 0 (``Optimizer``'s docstring says why).

Example (the stateful use; ``update`` is the functional one):
    >>> import numpy as np
    >>> from nablanet import Tensor
    >>> w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> for _ in range(100):
    ...     opt.zero_grad()
    ...     loss = ((w - 3.0) * (w - 3.0)).sum()
    ...     loss.backward()
    ...     opt.step()
    >>> bool(np.all(np.abs(w.data - 3.0) < 0.2))
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nablanet.kernels import optimizers as optimizer_kernels
from nablanet.optim.base import Optimizer, check_nonnegative, check_unit_interval
from nablanet.optim.registry import register_optimizer

__all__ = [
    "SGD", "GD", "Momentum", "Nesterov", "Adagrad", "RMSprop", "Adam", "AdamW",
    "SGDState", "AdagradState", "RMSpropState", "AdamState",
]


# --- states ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SGDState:
    """velocity: the momentum buffer v per parameter (None when momentum = 0); t: updates done."""

    velocity: tuple | None = None
    t: int = 0


@dataclass(frozen=True)
class AdagradState:
    """G: the running sum of squared gradients per parameter (G_t of Duchi et al.); t: updates done."""

    G: tuple | None = None
    t: int = 0


@dataclass(frozen=True)
class RMSpropState:
    """v: mean square of g; m: mean of g (centered only); velocity: momentum buffer (momentum > 0 only)."""

    v: tuple | None = None
    m: tuple | None = None
    velocity: tuple | None = None
    t: int = 0


@dataclass(frozen=True)
class AdamState:
    """m, v: first and second moment estimates; v_max: running max of v (amsgrad only); t: updates done."""

    m: tuple | None = None
    v: tuple | None = None
    v_max: tuple | None = None
    t: int = 0


# --- optimizers ------------------------------------------------------------------------------------
@register_optimizer("sgd")
class SGD(Optimizer):
    """Gradient descent, full batch or mini-batch, with optional (Nesterov) momentum and L2 weight decay.

    (1) g_t     = dC/dtheta (theta_{t-1}) + 2 lambda theta_{t-1}        (weight_decay = 2 lambda)
    (2) v_t     = mu v_{t-1} + (1 - tau) g_t,    v_1 = g_1               (mu = momentum, tau = dampening)
    (3) d_t     = g_t + mu v_t  (nesterov),   v_t (momentum),   g_t (momentum = 0)
    (4) theta_t = theta_{t-1} - eta_t d_t

    Plain gradient descent (GD) and SGD are the same update: GD when each gradient is computed on the
    whole training set, SGD when on a mini-batch; the trainer chooses the batch size. ``GD`` is an
    alias of this class; ``Momentum`` and ``Nesterov`` are this class with other defaults.

    Args:
        params: iterable of Parameters, or None for functional use.
        lr: eta, a float or a schedule. Default 1e-3 (PyTorch's).
        momentum: mu in [0, 1). Default 0 (plain SGD).
        dampening: tau in [0, 1]. Default 0.
        nesterov: use (3) with the look-ahead term; needs momentum > 0 and dampening = 0.
        weight_decay: >= 0, torch.optim's: the gradient term weight_decay theta in (1), i.e. the L2
            penalty lambda ||theta||^2 added to C with lambda = weight_decay / 2 (the notes' lambda, as
            ``fit(l2=)`` and nablanet.nn.regularizers write it), on every parameter, biases included.
        clip_value, clip_norm: gradient clipping before (1), see ``Optimizer``.

    References:
        Robbins & Monro, 1951 (SGD); Polyak, 1964 (momentum); Sutskever, Martens, Dahl & Hinton, 2013,
        eq. (3)-(4) (Nesterov momentum written at theta_{t-1}, as PyTorch's SGD).

    Notes:
        Deviation from the lecture notes, which write momentum as v_t = gamma v_{t-1} + eta g_t,
        theta_t = theta_{t-1} - v_t: here (as PyTorch) eta multiplies the velocity when it is used.
        The two give the same iterates for a constant eta (v differs by the factor eta) but not under a
        schedule, where this form makes a change of eta act at once. As PyTorch, v_1 = g_1 (no
        dampening at the first step).
    """

    State = SGDState

    def __init__(self, params=None, *, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False,
                 weight_decay=0.0, clip_value=None, clip_norm=None):
        momentum = check_unit_interval("momentum", momentum)
        dampening = float(dampening)
        if not 0.0 <= dampening <= 1.0:
            raise ValueError(f"dampening must be in [0, 1], got {dampening}")
        if nesterov and (momentum == 0.0 or dampening != 0.0):
            raise ValueError("nesterov momentum needs momentum > 0 and dampening = 0, "
                             f"got momentum={momentum}, dampening={dampening}")
        super().__init__(params, lr=lr, clip_value=clip_value, clip_norm=clip_norm, momentum=momentum,
                         dampening=dampening, nesterov=bool(nesterov),
                         weight_decay=check_nonnegative("weight_decay", weight_decay))

    def _buffer_names(self):
        return ("velocity",) if self.momentum != 0.0 else ()

    def _scalars(self, t, lr):
        # v_1 = g_1 exactly as PyTorch: with v_0 = 0 and coefficient 1, (2) gives 0 * mu + g_1 = g_1.
        grad_coef = 1.0 if t == 0 else 1.0 - self.dampening
        return {"lr": lr, "momentum": self.momentum, "grad_coef": grad_coef, "nesterov": self.nesterov}

    def _direction(self, g, buffers, out_buffers, out_step, scalars):
        velocity, out_velocity = (buffers[0], out_buffers[0]) if buffers else (None, None)
        optimizer_kernels.sgd_step(g, velocity, out_velocity, out_step, **scalars)


#: Full-batch gradient descent is SGD fed the whole training set: one update rule, two uses.
GD = SGD
register_optimizer("gd", GD, full_batch=True)


@register_optimizer("momentum")
class Momentum(SGD):
    """Gradient descent with (heavy-ball) momentum: ``SGD`` with momentum = 0.9 by default.

    See ``SGD`` for the equations ((2) and (4) with d_t = v_t). Reference: Polyak, 1964.
    """

    def __init__(self, params=None, *, lr=1e-3, momentum=0.9, dampening=0.0, weight_decay=0.0,
                 clip_value=None, clip_norm=None):
        if momentum == 0:
            raise ValueError("momentum must be positive for Momentum, got 0 (use SGD for plain gradient descent)")
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening, nesterov=False,
                         weight_decay=weight_decay, clip_value=clip_value, clip_norm=clip_norm)


@register_optimizer("nesterov")
class Nesterov(SGD):
    """Nesterov accelerated gradient: ``SGD`` with nesterov=True and momentum = 0.9 by default.

    See ``SGD`` for the equations ((2)-(4) with d_t = g_t + mu v_t). Reference: Nesterov, 1983, in the
    form of Sutskever et al., 2013 (as PyTorch).
    """

    def __init__(self, params=None, *, lr=1e-3, momentum=0.9, weight_decay=0.0, clip_value=None, clip_norm=None):
        super().__init__(params, lr=lr, momentum=momentum, dampening=0.0, nesterov=True,
                         weight_decay=weight_decay, clip_value=clip_value, clip_norm=clip_norm)


@register_optimizer("adagrad", adaptive=True)
class Adagrad(Optimizer):
    """Adagrad: a per-coordinate step size that shrinks with the sum of the squared gradients.

    (1) g_t     = dC/dtheta (theta_{t-1}) + 2 lambda theta_{t-1}        (weight_decay = 2 lambda, see SGD)
    (2) G_t     = G_{t-1} + g_t^2,              G_0 = initial_accumulator_value
    (3) eta'_t  = eta_t / (1 + (t - 1) lr_decay)
    (4) theta_t = theta_{t-1} - eta'_t g_t / (sqrt(G_t) + eps)

    Args:
        lr: eta, default 1e-2; lr_decay: default 0; weight_decay: 2 lambda, default 0;
        initial_accumulator_value: default 0; eps: default 1e-10 (all PyTorch's defaults).
        clip_value, clip_norm: gradient clipping before (1).

    References:
        Duchi, Hazan & Singer, 2011 (the diagonal version, Figure 1 with G_t = diag of sum g g^T).

    Notes:
        eps is added outside the square root (as PyTorch; the paper has delta I + diag(G_t)^(1/2)).
        lr_decay is PyTorch's extension, not in the paper.
    """

    State = AdagradState

    def __init__(self, params=None, *, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10, clip_value=None, clip_norm=None):
        super().__init__(params, lr=lr, clip_value=clip_value, clip_norm=clip_norm,
                         lr_decay=check_nonnegative("lr_decay", lr_decay),
                         weight_decay=check_nonnegative("weight_decay", weight_decay),
                         initial_accumulator_value=check_nonnegative("initial_accumulator_value",
                                                                     initial_accumulator_value),
                         eps=check_nonnegative("eps", eps))

    def _buffer_names(self):
        return ("G",)

    def _initial_value(self, name):
        return self.initial_accumulator_value

    def _scalars(self, t, lr):
        return {"lr": lr / (1.0 + t * self.lr_decay), "eps": self.eps}

    def _direction(self, g, buffers, out_buffers, out_step, scalars):
        optimizer_kernels.adagrad_step(g, buffers[0], out_buffers[0], out_step, **scalars)


@register_optimizer("rmsprop", adaptive=True)
class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root mean square of recent gradients.

    (1) g_t     = dC/dtheta (theta_{t-1}) + 2 lambda theta_{t-1}        (weight_decay = 2 lambda, see SGD)
    (2) v_t     = alpha v_{t-1} + (1 - alpha) g_t^2
    (3) centered: m_t = alpha m_{t-1} + (1 - alpha) g_t,  r_t = v_t - m_t^2;   otherwise r_t = v_t
    (4) u_t     = g_t / (sqrt(r_t) + eps)
    (5) momentum: b_t = mu b_{t-1} + u_t, theta_t = theta_{t-1} - eta_t b_t;
        otherwise theta_t = theta_{t-1} - eta_t u_t

    Args:
        lr: eta, default 1e-2; alpha: default 0.99; eps: default 1e-8; weight_decay: 2 lambda, default 0;
        momentum: mu, default 0; centered: default False (all PyTorch's defaults).
        clip_value, clip_norm: gradient clipping before (1).

    References:
        Tieleman & Hinton, Lecture 6.5 of "Neural Networks for Machine Learning", 2012; centered
        version and momentum: Graves, 2013, eq. (38)-(45).

    Notes:
        eps is added outside the square root, as PyTorch (TensorFlow and Graves put it inside). The
        lecture notes call alpha "rho" or "beta" and often use 0.9; PyTorch's default is 0.99.
    """

    State = RMSpropState

    def __init__(self, params=None, *, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, clip_value=None, clip_norm=None):
        super().__init__(params, lr=lr, clip_value=clip_value, clip_norm=clip_norm,
                         alpha=check_unit_interval("alpha", alpha), eps=check_nonnegative("eps", eps),
                         weight_decay=check_nonnegative("weight_decay", weight_decay),
                         momentum=check_unit_interval("momentum", momentum), centered=bool(centered))

    def _buffer_names(self):
        return ("v",) + (("m",) if self.centered else ()) + (("velocity",) if self.momentum != 0.0 else ())

    def _scalars(self, t, lr):
        return {"lr": lr, "alpha": self.alpha, "eps": self.eps, "momentum": self.momentum}

    def _direction(self, g, buffers, out_buffers, out_step, scalars):
        named = dict(zip(self._buffer_names(), zip(buffers, out_buffers)))
        v, out_v = named["v"]
        m, out_m = named.get("m", (None, None))
        velocity, out_velocity = named.get("velocity", (None, None))
        optimizer_kernels.rmsprop_step(g, v, m, velocity, out_v, out_m, out_velocity, out_step, **scalars)


@register_optimizer("adam", adaptive=True)
class Adam(Optimizer):
    """Adam: momentum on the gradient (m) divided by the root of a running mean of its square (v).

    (1) g_t     = dC/dtheta (theta_{t-1}) + 2 lambda theta_{t-1}      (weight_decay = 2 lambda, see SGD; as PyTorch Adam)
    (2) m_t     = beta1 m_{t-1} + (1 - beta1) g_t
    (3) v_t     = beta2 v_{t-1} + (1 - beta2) g_t^2
    (4) amsgrad: v_t <- max(v_max_{t-1}, v_t) =: v_max_t in (5)
    (5) theta_t = theta_{t-1} - eta_t [m_t / (1 - beta1^t)] / (sqrt(v_t / (1 - beta2^t)) + eps)

    (5) is computed as theta_{t-1} - alpha_t m_t / (sqrt(v_t) + eps_hat_t) with the scalars
    alpha_t = eta_t sqrt(1 - beta2^t) / (1 - beta1^t) and eps_hat_t = eps sqrt(1 - beta2^t), which is
    algebraically identical to (5) (eps where PyTorch puts it) and costs two fewer passes over memory.

    Args:
        lr: eta, default 1e-3; beta1, beta2: default 0.9, 0.999 (or ``betas=(beta1, beta2)``);
        eps: default 1e-8; weight_decay: 2 lambda, default 0; amsgrad: default False
        (all PyTorch's and the paper's defaults). clip_value, clip_norm: gradient clipping before (1).

    References:
        Algorithm 1 of Kingma & Ba, 2014; amsgrad: Reddi, Kale & Kumar, 2018, Algorithm 2.

    Notes:
        The paper's Section 2 suggests the cheaper form with a constant eps_hat; that changes the
        result, so eps_hat_t here follows t and reproduces Algorithm 1 exactly. amsgrad takes the max of
        the uncorrected v_t and then applies the bias correction, as PyTorch (Reddi et al. have no bias
        correction). Weight decay here is an L2 term in the gradient, which Adam's normalisation weakens;
        use AdamW for decoupled decay.
    """

    State = AdamState

    def __init__(self, params=None, *, lr=1e-3, beta1=0.9, beta2=0.999, betas=None, eps=1e-8, weight_decay=0.0,
                 amsgrad=False, clip_value=None, clip_norm=None):
        if betas is not None:
            betas = tuple(betas)
            if len(betas) != 2:
                raise ValueError(f"betas must be a pair (beta1, beta2), got {betas}")
            if (beta1, beta2) != (0.9, 0.999) and (beta1, beta2) != betas:
                raise ValueError(f"give either betas or beta1/beta2, got betas={betas} and "
                                 f"beta1={beta1}, beta2={beta2}")
            beta1, beta2 = betas
        super().__init__(params, lr=lr, clip_value=clip_value, clip_norm=clip_norm,
                         beta1=check_unit_interval("beta1", beta1), beta2=check_unit_interval("beta2", beta2),
                         eps=check_nonnegative("eps", eps),
                         weight_decay=check_nonnegative("weight_decay", weight_decay),
                         amsgrad=bool(amsgrad))

    def _buffer_names(self):
        return ("m", "v", "v_max") if self.amsgrad else ("m", "v")

    def _scalars(self, t, lr):
        t = t + 1  # the paper's t: number of this update
        root_correction2 = math.sqrt(1.0 - self.beta2**t)
        return {
            "beta1": self.beta1,
            "beta2": self.beta2,
            "step_size": lr * root_correction2 / (1.0 - self.beta1**t),
            "eps_hat": self.eps * root_correction2,
        }

    def _direction(self, g, buffers, out_buffers, out_step, scalars):
        m, v, *v_max = buffers
        out_m, out_v, *out_v_max = out_buffers
        optimizer_kernels.adam_step(g, m, v, v_max[0] if v_max else None, out_m, out_v,
                                    out_v_max[0] if out_v_max else None, out_step, **scalars)


@register_optimizer("adamw", adaptive=True)
class AdamW(Adam):
    """Adam with decoupled weight decay: theta shrinks by a factor, outside the adaptive scaling.

    (1) g_t     = dC/dtheta (theta_{t-1})                             (no L2 term)
    (2)-(4)     as Adam
    (5) theta_t = (1 - eta_t wd) theta_{t-1} - eta_t [m_t / (1 - beta1^t)] / (sqrt(v_t / (1 - beta2^t)) + eps)

    Args:
        as Adam, but weight_decay (wd) defaults to 1e-2 (PyTorch's default). Decoupled from the
        gradient, it is no penalty on C, so no lambda of nablanet.nn.regularizers equals it (under
        plain SGD, shrinking by eta wd would be the gradient of lambda ||theta||^2 with lambda = wd / 2).

    References:
        Loshchilov & Hutter, "Decoupled Weight Decay Regularization", 2019, Algorithm 2.

    Notes:
        Deviation from the paper (the same as PyTorch's): the decay is eta_t wd theta, tied to the
        learning rate, where the paper multiplies lambda by the schedule multiplier only.
    """

    def __init__(self, params=None, *, lr=1e-3, beta1=0.9, beta2=0.999, betas=None, eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, clip_value=None, clip_norm=None):
        super().__init__(params, lr=lr, beta1=beta1, beta2=beta2, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, clip_value=clip_value, clip_norm=clip_norm)

    @property
    def _l2_weight_decay(self):
        return 0.0

    def _decay(self, lr):
        return 1.0 - lr * self.weight_decay
