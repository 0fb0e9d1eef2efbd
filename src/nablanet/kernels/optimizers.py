"""The optimizers' update rules in place, in the fewest NumPy passes, over one flat array per group of parameters.

Every rule is split in two, ``theta_t = decay theta_{t-1} - d_t``:

* ``<name>_step(g, <state>, <out_state>, out_step, *, scalars)`` updates the optimizer's state and
  writes the step d_t into ``out_step``;
* ``descend(theta, step, out_theta, decay)`` applies it, one subtraction (two with AdamW's decay).

Each array argument is an input or an ``out_*`` buffer, and the two may be the same array (a rule
reads each input before writing its output): ``Optimizer.update`` passes fresh outputs (pure),
``Optimizer.step`` the state's and the parameters' own arrays (in place). Scalars are Python floats,
so float32 parameters and states stay float32 (NEP 50). The equations, numbered as here, are in the
docstrings of the optimizer classes (``nablanet.optim.optimizers``).

Why it is fast. A rule allocates nothing (every pass writes into ``out=``), and the steps run on
flat arrays: ``FlatLayout`` lays a group's gradients, states and steps end to end, one array per
kind, with each parameter's part a view, so a rule is a dozen ufunc calls for the whole model
instead of a dozen per parameter (measured in ``benchmarks/optimizer_step.py``: half of Adam's time
for the 6 arrays of mlp-small, where each call costs more than its arithmetic). NumPy offers no
fused multiply-add, so Adam takes 11 passes in its step and 1 in ``descend``, the fewest NumPy
ufuncs can do it in. Measured against fused kernels (2026-12-04, benchmarks/README.md, "Kernels"):
a compiled loop (numba, one pass, bit for bit these results with float32 coefficients) is 2.9x
faster at mlp-784's size and 3.4-3.6x at mlp-small's and cnn-28's, but numba pins NumPy's version
and has no wheel for every platform NumPy has, so it is not a dependency; numexpr (three
expressions) is 3-8x slower; running these passes in cache-sized chunks gains nothing reliable
(the arrays of mlp-784 mostly stay in cache between passes already); SciPy's BLAS axpy would fuse
a multiply-add but its second OpenBLAS thread pool spins against NumPy's.

Subnormal numbers. A state entry whose gradient stays 0 (a dead ReLU's weights) decays by beta
every step into the subnormal range (below 1.2e-38 in float32), where x86 arithmetic is slow, and
stays there: rounding to nearest stops the decay at a few units of the last place. ``flush_subnormals``
sets such entries to 0 in three passes; the optimizers run it on their state every
``FLUSH_EVERY`` steps, so its cost is a fraction of one pass per step (see ``Optimizer``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["FlatLayout", "adam_moments", "descend", "flush_subnormals", "FLUSH_EVERY",
           "sgd_step", "adagrad_step", "rmsprop_step", "adam_step"]

#: Steps between two flushes of an optimizer's state (``flush_subnormals``): often enough that an
#: entry spends at most this many steps subnormal, rarely enough that the three passes cost less
#: than a fifth of a pass per step.
FLUSH_EVERY = 16


class FlatLayout:
    """Arrays of one real dtype laid end to end: ``views(flat)`` gives each one's part of a flat array.

    Args:
        shapes: the arrays' shapes, in order.
        dtype: their dtype.

    Example:
        >>> layout = FlatLayout([(2, 3), (3,)], np.float32)
        >>> flat = layout.empty()
        >>> [view.shape for view in layout.views(flat)], flat.shape
        ([(2, 3), (3,)], (9,))
    """

    def __init__(self, shapes, dtype):
        self.shapes = [tuple(shape) for shape in shapes]
        self.dtype = np.dtype(dtype)
        sizes = [int(np.prod(shape, dtype=np.int64)) for shape in self.shapes]
        self.bounds = list(zip(np.cumsum([0] + sizes[:-1]).tolist(), np.cumsum(sizes).tolist()))
        self.size = sum(sizes)

    def empty(self) -> np.ndarray:
        return np.empty(self.size, dtype=self.dtype)

    def views(self, flat) -> list:
        """Each array's part of ``flat`` (C order), shaped as the array: writing to one writes to ``flat``."""
        return [flat[start:stop].reshape(shape) for (start, stop), shape in zip(self.bounds, self.shapes)]

    def gather(self, arrays) -> tuple:
        """A new flat array holding copies of ``arrays``, and its views."""
        flat = self.empty()
        views = self.views(flat)
        for view, array in zip(views, arrays):
            np.copyto(view, array)
        return flat, views


def descend(theta, step, out_theta, decay=1.0) -> None:
    """theta_t = decay theta_{t-1} - d_t: one pass, or two with a decay factor other than 1 (AdamW)."""
    if decay != 1.0:
        np.multiply(theta, decay, out=out_theta)
        theta = out_theta
    np.subtract(theta, step, out=out_theta)


def flush_subnormals(x, scratch, mask) -> None:
    """Set the subnormal entries of the real array ``x`` to 0 (their sign kept), in place; nothing else changes.

    |x| < tiny (the smallest normal number of x's dtype) means 0 < |x| < tiny or x = 0, so zeros
    stay zeros and every normal number is untouched. Three passes, none of them a branch on the
    data: |x| into ``scratch`` (x's shape and dtype), the comparison into ``mask`` (bool), and x
    multiplied by the mask's bytes (0 or 1: x * 1 is x exactly, x * 0 is a zero of x's sign).

    Example:
        >>> x = np.array([1e-40, -1e-39, 1e-30, 0.0, -2.0], dtype=np.float32)
        >>> flush_subnormals(x, np.empty_like(x), np.empty(x.shape, bool))
        >>> x
        array([ 0.e+00, -0.e+00,  1.e-30,  0.e+00, -2.e+00], dtype=float32)
    """
    np.absolute(x, out=scratch)
    np.greater_equal(scratch, np.finfo(x.dtype).tiny, out=mask)
    np.multiply(x, mask.view(np.uint8), out=x)


def sgd_step(g, velocity, out_velocity, out_step, *, lr, momentum, grad_coef, nesterov) -> None:
    """Equations (2)-(3) of SGD, d_t = eta_t d: ``velocity`` is None when momentum = 0.

    Passes: 1 without momentum; 3 with (4 with dampening), 5 with Nesterov's look-ahead.
    """
    if velocity is None:
        np.multiply(g, lr, out=out_step)
        return
    np.multiply(velocity, momentum, out=out_velocity)
    if grad_coef == 1.0:
        np.add(out_velocity, g, out=out_velocity)
    else:
        np.multiply(g, grad_coef, out=out_step)
        np.add(out_velocity, out_step, out=out_velocity)
    if nesterov:
        # d = eta (g + mu v), in PyTorch's order of operations.
        np.multiply(out_velocity, momentum, out=out_step)
        np.add(out_step, g, out=out_step)
        np.multiply(out_step, lr, out=out_step)
    else:
        np.multiply(out_velocity, lr, out=out_step)


def adagrad_step(g, G, out_G, out_step, *, lr, eps) -> None:
    """Equation (2) of Adagrad and the step of (4), d_t = eta'_t g_t / (sqrt(G_t) + eps): 6 passes."""
    np.multiply(g, g, out=out_step)
    np.add(G, out_step, out=out_G)
    np.sqrt(out_G, out=out_step)
    np.add(out_step, eps, out=out_step)
    np.divide(g, out_step, out=out_step)
    np.multiply(out_step, lr, out=out_step)


def rmsprop_step(g, v, m, velocity, out_v, out_m, out_velocity, out_step, *, lr, alpha, eps, momentum) -> None:
    """Equations (2)-(5) of RMSprop but the subtraction; ``m`` is None unless centered, ``velocity``
    None unless momentum > 0. Passes: 7, plus 5 centered and 2 with momentum."""
    np.multiply(g, g, out=out_step)
    np.multiply(out_step, 1.0 - alpha, out=out_step)
    np.multiply(v, alpha, out=out_v)
    np.add(out_v, out_step, out=out_v)
    if m is not None:
        np.multiply(g, 1.0 - alpha, out=out_step)
        np.multiply(m, alpha, out=out_m)
        np.add(out_m, out_step, out=out_m)
        np.multiply(out_m, out_m, out=out_step)
        np.subtract(out_v, out_step, out=out_step)
        np.sqrt(out_step, out=out_step)
    else:
        np.sqrt(out_v, out=out_step)
    np.add(out_step, eps, out=out_step)
    np.divide(g, out_step, out=out_step)
    if velocity is not None:
        np.multiply(velocity, momentum, out=out_velocity)
        np.add(out_velocity, out_step, out=out_velocity)
        np.multiply(out_velocity, lr, out=out_step)
    else:
        np.multiply(out_step, lr, out=out_step)


def adam_moments(g, m, v, out_m, out_v, out_step, beta1, beta2) -> None:
    """Equations (2)-(3) of Adam, m_t = beta_1 m_{t-1} + (1 - beta_1) g_t and v_t = beta_2 v_{t-1} +
    (1 - beta_2) g_t^2, in 7 passes with ``out_step`` as scratch (nothing allocated); also NAdam's and RAdam's."""
    np.multiply(g, 1.0 - beta1, out=out_step)
    np.multiply(m, beta1, out=out_m)
    np.add(out_m, out_step, out=out_m)
    np.multiply(g, g, out=out_step)
    np.multiply(out_step, 1.0 - beta2, out=out_step)
    np.multiply(v, beta2, out=out_v)
    np.add(out_v, out_step, out=out_v)


def adam_step(g, m, v, v_max, out_m, out_v, out_v_max, out_step, *, beta1, beta2, step_size, eps_hat) -> None:
    """Equations (2)-(4) of Adam and the step of (5), d_t = alpha_t m_t / (sqrt(v_t) + eps_hat_t);
    ``v_max`` is None unless amsgrad.

    11 passes (12 with amsgrad): 3 for m, 4 for v, 4 for the step; ``descend`` adds the 12th.
    """
    adam_moments(g, m, v, out_m, out_v, out_step, beta1, beta2)
    second_moment = out_v
    if v_max is not None:
        np.maximum(v_max, out_v, out=out_v_max)
        second_moment = out_v_max
    np.sqrt(second_moment, out=out_step)
    np.add(out_step, eps_hat, out=out_step)
    np.divide(out_m, out_step, out=out_step)
    np.multiply(out_step, step_size, out=out_step)
