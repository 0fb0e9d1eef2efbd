"""More adaptive optimizers, as torch.optim has them: NAdam, RAdam, Adamax; and Lion (Chen et al., 2023).

Symbols as in ``optim.optimizers``: eta_t the learning rate of update t (a float or a schedule),
theta the parameters, g_t the gradient at theta_{t-1}, t = 1, 2, ... the update number, beta_1 and
beta_2 the decay rates of the moment estimates, epsilon the term that keeps a division finite,
lambda the weight decay; products, squares, square roots, divisions, max, |.| and sign of arrays
are elementwise.

Every rule here is written as ``theta_t = decay theta_{t-1} - d_t`` on the ``Optimizer`` contract of
``optim.base`` (``_scalars`` for the Python-float coefficients of update t, ``_direction`` for the new
state and the step d_t, ``_decay`` for the decoupled weight decay 1 - eta_t lambda), so ``update``
(pure), ``step`` (in place, on flat arrays), clipping, schedules, complex parameters and
``state_dict`` work as for the optimizers of ``optim.optimizers``. Defaults, the placement of epsilon
and the order of the operations are PyTorch 2.13's (Lion, which torch.optim lacks: the paper's); the
test suite checks each rule step by step against ``torch.optim`` (Lion: against the paper's
Algorithm 2 written out) in float64.

Example:
    >>> import numpy as np
    >>> from nablanet import Tensor
    >>> w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    >>> opt = NAdam([w], lr=0.1)
    >>> for _ in range(200):
    ...     opt.zero_grad()
    ...     loss = ((w - 3.0) * (w - 3.0)).sum()
    ...     loss.backward()
    ...     opt.step()
    >>> bool(np.all(np.abs(w.data - 3.0) < 0.1))
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nablanet.kernels.optimizers import adam_moments
from nablanet.optim.base import Optimizer, check_nonnegative, check_unit_interval
from nablanet.optim.registry import register_optimizer

__all__ = ["NAdam", "RAdam", "Adamax", "Lion", "NAdamState", "RAdamState", "AdamaxState", "LionState"]


# --- states ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NAdamState:
    """m, v: first and second moment estimates per parameter; t: updates done.

    PyTorch also keeps mu_product, the product of the momentum coefficients mu_1 ... mu_t; it is a
    function of t and the hyperparameters alone, so it is recomputed from t, not stored.
    """

    m: tuple | None = None
    v: tuple | None = None
    t: int = 0


@dataclass(frozen=True)
class RAdamState:
    """m, v: first and second moment estimates per parameter; t: updates done."""

    m: tuple | None = None
    v: tuple | None = None
    t: int = 0


@dataclass(frozen=True)
class AdamaxState:
    """m: first moment estimate; u: the exponentially weighted infinity norm of g; t: updates done."""

    m: tuple | None = None
    u: tuple | None = None
    t: int = 0


@dataclass(frozen=True)
class LionState:
    """m: the momentum (an exponential moving average of g with rate beta_2); t: updates done."""

    m: tuple | None = None
    t: int = 0


# --- what the rules share --------------------------------------------------------------------------
def _pair_of_betas(beta1, beta2, betas, defaults):
    """(beta_1, beta_2) from ``beta1``/``beta2`` or ``betas=(beta_1, beta_2)``, each checked in [0, 1)."""
    if betas is not None:
        betas = tuple(betas)
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas}")
        if (beta1, beta2) not in (defaults, betas):
            raise ValueError(f"give either betas or beta1/beta2, got betas={betas} and beta1={beta1}, beta2={beta2}")
        beta1, beta2 = betas
    return check_unit_interval("beta1", beta1), check_unit_interval("beta2", beta2)


class _DecoupledDecay:
    """Weight decay lambda as an L2 term in the gradient (g_t + lambda theta_{t-1}, PyTorch's default for
    NAdam and RAdam) or, with ``decoupled_weight_decay``, as the factor 1 - eta_t lambda on theta_{t-1}
    (AdamW's; Lion's always)."""

    decoupled_weight_decay = False

    @property
    def _l2_weight_decay(self) -> float:
        return 0.0 if self.decoupled_weight_decay else self.weight_decay

    def _decay(self, lr: float) -> float:
        return 1.0 - lr * self.weight_decay if self.decoupled_weight_decay else 1.0


# --- optimizers ------------------------------------------------------------------------------------
@register_optimizer("nadam", adaptive=True)
class NAdam(_DecoupledDecay, Optimizer):
    r"""NAdam: Adam with Nesterov momentum, the momentum coefficient warmed up by ``momentum_decay``.

    .. math::

        g_t &\leftarrow g_t + \lambda \theta_{t-1} \quad \text{(L2; or, decoupled,}
              \ \theta_{t-1} \leftarrow (1 - \eta_t \lambda) \theta_{t-1}) \\
        \mu_t &= \beta_1 \left(1 - \tfrac{1}{2}\, 0.96^{t \psi}\right), \qquad
              \Pi_t = \prod_{i=1}^{t} \mu_i \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad
              v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \theta_t &= \theta_{t-1} - \eta_t \frac{1 - \mu_t}{1 - \Pi_t} \frac{g_t}{\sqrt{v_t / (1 - \beta_2^t)}
              + \epsilon} - \eta_t \frac{\mu_{t+1}}{1 - \Pi_t \mu_{t+1}}
              \frac{m_t}{\sqrt{v_t / (1 - \beta_2^t)} + \epsilon}

    with :math:`\psi` = ``momentum_decay``.

    Args:
        params: iterable of Parameters, or None for functional use.
        lr: :math:`\eta`, a float or a schedule; default 2e-3.
        beta1, beta2: :math:`\beta_1, \beta_2` in [0, 1), default 0.9 and 0.999 (or ``betas=(beta1, beta2)``).
        eps: :math:`\epsilon`, default 1e-8.
        weight_decay: :math:`\lambda` >= 0, default 0.
        momentum_decay: :math:`\psi` >= 0, default 4e-3.
        decoupled_weight_decay: apply :math:`\lambda` as AdamW does (NAdamW); default False.
        clip_value, clip_norm: gradient clipping before the update, see ``Optimizer``.

    References:
        Dozat, "Incorporating Nesterov Momentum into Adam", ICLR workshop 2016, Algorithm 2; the
        defaults and the :math:`\mu_t` schedule are PyTorch's ``torch.optim.NAdam``.

    Notes:
        As PyTorch (not Dozat), the second moment gets the plain bias correction
        :math:`1 - \beta_2^t`, and an L2 ``weight_decay`` is added to g, not scaled by 2 as the notes'
        :math:`\lambda \|\theta\|^2` penalty would be.
    """

    State = NAdamState

    def __init__(self, params=None, *, lr=2e-3, beta1=0.9, beta2=0.999, betas=None, eps=1e-8, weight_decay=0.0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, clip_value=None, clip_norm=None):
        beta1, beta2 = _pair_of_betas(beta1, beta2, betas, (0.9, 0.999))
        super().__init__(params, lr=lr, clip_value=clip_value, clip_norm=clip_norm, beta1=beta1, beta2=beta2,
                         eps=check_nonnegative("eps", eps), weight_decay=check_nonnegative("weight_decay", weight_decay),
                         momentum_decay=check_nonnegative("momentum_decay", momentum_decay),
                         decoupled_weight_decay=bool(decoupled_weight_decay))
        self._products = (None, 0, 1.0)

    def _buffer_names(self):
        return ("m", "v")

    def _mu(self, t: int) -> float:
        return self.beta1 * (1.0 - 0.5 * 0.96 ** (t * self.momentum_decay))

    def _mu_product(self, t: int) -> float:
        """Pi_t, multiplied in the order PyTorch multiplies it, so the two agree to the last bit."""
        # Kept from the last update (so a step costs O(1)), keyed by what Pi_t depends on: a loaded
        # state_dict may change the hyperparameters or move t back.
        key = (self.beta1, self.momentum_decay)
        cached_key, done, product = self._products
        if cached_key != key or done > t:
            done, product = 0, 1.0
        for i in range(done + 1, t + 1):
            product *= self._mu(i)
        self._products = (key, t, product)
        return product

    def _scalars(self, t, lr):
        t = t + 1
        mu, mu_next = self._mu(t), self._mu(t + 1)
        product = self._mu_product(t)
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps,
                "inverse_correction2": 1.0 / (1.0 - self.beta2**t),
                "grad_coef": lr * (1.0 - mu) / (1.0 - product),
                "m_coef": lr * mu_next / (1.0 - product * mu_next)}

    def _direction(self, g, buffers, out_buffers, out_step, scalars):
        (m, v), (out_m, out_v) = buffers, out_buffers
        adam_moments(g, m, v, out_m, out_v, out_step, scalars["beta1"], scalars["beta2"])
        np.multiply(out_v, scalars["inverse_correction2"], out=out_step)
        np.sqrt(out_step, out=out_step)
        np.add(out_step, scalars["eps"], out=out_step)
        # The one temporary of these rules: the step needs g_t, m_t and the denominator at once.
        scaled_grad = np.divide(g, out_step, out=np.empty_like(out_step))
        np.multiply(scaled_grad, scalars["grad_coef"], out=scaled_grad)
        np.divide(out_m, out_step, out=out_step)
        np.multiply(out_step, scalars["m_coef"], out=out_step)
        np.add(out_step, scaled_grad, out=out_step)


@register_optimizer("radam", adaptive=True)
class RAdam(_DecoupledDecay, Optimizer):
    r"""RAdam: Adam whose adaptive step is switched on, and rectified, once the variance of v_t is defined.

    .. math::

        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \rho_\infty &= \frac{2}{1 - \beta_2} - 1, \qquad
              \rho_t = \rho_\infty - \frac{2 t \beta_2^t}{1 - \beta_2^t} \\
        r_t &= \sqrt{\frac{(\rho_t - 4)(\rho_t - 2)\rho_\infty}{(\rho_\infty - 4)(\rho_\infty - 2)\rho_t}} \\
        \theta_t &= \theta_{t-1} - \eta_t \frac{m_t}{1 - \beta_1^t}\, r_t
              \frac{\sqrt{1 - \beta_2^t}}{\sqrt{v_t} + \epsilon} \quad (\rho_t > 5), \qquad
              \theta_t = \theta_{t-1} - \eta_t \frac{m_t}{1 - \beta_1^t} \quad \text{otherwise}

    with g_t + :math:`\lambda \theta_{t-1}` in place of g_t (L2) or, with ``decoupled_weight_decay``,
    :math:`(1 - \eta_t \lambda)\theta_{t-1}` in place of :math:`\theta_{t-1}`.

    Args:
        params: iterable of Parameters, or None for functional use.
        lr: :math:`\eta`, a float or a schedule; default 1e-3.
        beta1, beta2: :math:`\beta_1, \beta_2` in [0, 1), default 0.9 and 0.999 (or ``betas=``).
        eps: :math:`\epsilon`, default 1e-8.
        weight_decay: :math:`\lambda` >= 0, default 0.
        decoupled_weight_decay: apply :math:`\lambda` as AdamW does; default False.
        clip_value, clip_norm: gradient clipping before the update, see ``Optimizer``.

    References:
        Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020, Algorithm 2;
        PyTorch's ``torch.optim.RAdam`` (its threshold 5 on rho_t, the paper's 4, and its placement of
        epsilon).
    """

    State = RAdamState

    def __init__(self, params=None, *, lr=1e-3, beta1=0.9, beta2=0.999, betas=None, eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, clip_value=None, clip_norm=None):
        beta1, beta2 = _pair_of_betas(beta1, beta2, betas, (0.9, 0.999))
        super().__init__(params, lr=lr, clip_value=clip_value, clip_norm=clip_norm, beta1=beta1, beta2=beta2,
                         eps=check_nonnegative("eps", eps), weight_decay=check_nonnegative("weight_decay", weight_decay),
                         decoupled_weight_decay=bool(decoupled_weight_decay))

    def _buffer_names(self):
        return ("m", "v")

    def _scalars(self, t, lr):
        t = t + 1
        correction1, correction2 = 1.0 - self.beta1**t, 1.0 - self.beta2**t
        rho_inf = 2.0 / (1.0 - self.beta2) - 1.0
        rho_t = rho_inf - 2.0 * t * self.beta2**t / correction2
        scalars = {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps, "rectified": rho_t > 5.0}
        if scalars["rectified"]:
            rect = math.sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
            scalars["step_size"] = lr * rect * math.sqrt(correction2) / correction1
        else:
            scalars["step_size"] = lr / correction1
        return scalars

    def _direction(self, g, buffers, out_buffers, out_step, scalars):
        (m, v), (out_m, out_v) = buffers, out_buffers
        adam_moments(g, m, v, out_m, out_v, out_step, scalars["beta1"], scalars["beta2"])
        if scalars["rectified"]:
            np.sqrt(out_v, out=out_step)
            np.add(out_step, scalars["eps"], out=out_step)
            np.divide(out_m, out_step, out=out_step)
            np.multiply(out_step, scalars["step_size"], out=out_step)
        else:
            np.multiply(out_m, scalars["step_size"], out=out_step)


@register_optimizer("adamax", adaptive=True)
class Adamax(Optimizer):
    r"""Adamax: Adam with the infinity norm in place of the root mean square.

    .. math::

        g_t &\leftarrow g_t + \lambda \theta_{t-1} \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
        u_t &= \max(\beta_2 u_{t-1}, |g_t| + \epsilon) \\
        \theta_t &= \theta_{t-1} - \frac{\eta_t}{1 - \beta_1^t} \frac{m_t}{u_t}

    Args:
        params: iterable of Parameters, or None for functional use.
        lr: :math:`\eta`, a float or a schedule; default 2e-3 (the paper's and PyTorch's).
        beta1, beta2: :math:`\beta_1, \beta_2` in [0, 1), default 0.9 and 0.999 (or ``betas=``).
        eps: :math:`\epsilon`, default 1e-8.
        weight_decay: :math:`\lambda` >= 0 (an L2 term in g, as PyTorch), default 0.
        clip_value, clip_norm: gradient clipping before the update, see ``Optimizer``.

    References:
        Kingma & Ba, "Adam", 2014, Algorithm 2 (Section 7.1).

    Notes:
        As PyTorch, epsilon is added to :math:`|g_t|` inside the max (the paper has none), which keeps
        :math:`u_t > 0` where the gradient has always been 0.
    """

    State = AdamaxState

    def __init__(self, params=None, *, lr=2e-3, beta1=0.9, beta2=0.999, betas=None, eps=1e-8, weight_decay=0.0,
                 clip_value=None, clip_norm=None):
        beta1, beta2 = _pair_of_betas(beta1, beta2, betas, (0.9, 0.999))
        super().__init__(params, lr=lr, clip_value=clip_value, clip_norm=clip_norm, beta1=beta1, beta2=beta2,
                         eps=check_nonnegative("eps", eps), weight_decay=check_nonnegative("weight_decay", weight_decay))

    def _buffer_names(self):
        return ("m", "u")

    def _scalars(self, t, lr):
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps,
                "step_size": lr / (1.0 - self.beta1 ** (t + 1))}

    def _direction(self, g, buffers, out_buffers, out_step, scalars):
        (m, u), (out_m, out_u) = buffers, out_buffers
        np.multiply(g, 1.0 - scalars["beta1"], out=out_step)
        np.multiply(m, scalars["beta1"], out=out_m)
        np.add(out_m, out_step, out=out_m)
        np.absolute(g, out=out_step)
        np.add(out_step, scalars["eps"], out=out_step)
        np.multiply(u, scalars["beta2"], out=out_u)
        np.maximum(out_u, out_step, out=out_u)
        np.divide(out_m, out_u, out=out_step)
        np.multiply(out_step, scalars["step_size"], out=out_step)


@register_optimizer("lion", adaptive=True)
class Lion(_DecoupledDecay, Optimizer):
    r"""Lion (EvoLved Sign Momentum): the sign of an interpolation of momentum and gradient, with
    decoupled weight decay.

    .. math::

        c_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
        \theta_t &= (1 - \eta_t \lambda)\, \theta_{t-1} - \eta_t \operatorname{sign}(c_t) \\
        m_t &= \beta_2 m_{t-1} + (1 - \beta_2) g_t

    Every coordinate moves by exactly :math:`\eta_t` (or 0 where :math:`c_t = 0`), so Lion wants a
    learning rate 3-10 times smaller than AdamW's and a weight decay :math:`\lambda` as many times
    larger (the paper's Section 5).

    Args:
        params: iterable of Parameters, or None for functional use.
        lr: :math:`\eta`, a float or a schedule; default 1e-4.
        beta1, beta2: :math:`\beta_1, \beta_2` in [0, 1), default 0.9 and 0.99, the paper's (or
            ``betas=(beta1, beta2)``).
        weight_decay: :math:`\lambda` >= 0, decoupled as in the paper; default 0.
        clip_value, clip_norm: gradient clipping before the update, see ``Optimizer``.

    References:
        Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023, Algorithm 2.
        torch.optim has no Lion; the tests check this one against Algorithm 2 written out.
    """

    State = LionState
    decoupled_weight_decay = True  # always, as in the paper

    def __init__(self, params=None, *, lr=1e-4, beta1=0.9, beta2=0.99, betas=None, weight_decay=0.0,
                 clip_value=None, clip_norm=None):
        beta1, beta2 = _pair_of_betas(beta1, beta2, betas, (0.9, 0.99))
        super().__init__(params, lr=lr, clip_value=clip_value, clip_norm=clip_norm, beta1=beta1, beta2=beta2,
                         weight_decay=check_nonnegative("weight_decay", weight_decay))

    def _buffer_names(self):
        return ("m",)

    def _scalars(self, t, lr):
        return {"lr": lr, "beta1": self.beta1, "beta2": self.beta2}

    def _direction(self, g, buffers, out_buffers, out_step, scalars):
        (m,), (out_m,) = buffers, out_buffers
        # c_t = beta_1 (m - g) + g and m_t = beta_2 (m - g) + g: the paper's sums, without a temporary array.
        np.subtract(m, g, out=out_step)
        np.multiply(out_step, scalars["beta1"], out=out_step)
        np.add(out_step, g, out=out_step)
        np.sign(out_step, out=out_step)
        np.multiply(out_step, scalars["lr"], out=out_step)
        # After the step has read m_{t-1}.
        np.subtract(m, g, out=out_m)
        np.multiply(out_m, scalars["beta2"], out=out_m)
        np.add(out_m, g, out=out_m)
