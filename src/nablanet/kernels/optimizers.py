"""The optimizers' update rules, each written once in place: NumPy ufuncs with out=, one scratch array.

Each rule's array arguments are inputs and ``out_*`` buffers, which may be the same arrays (a rule
reads each input before writing its output): ``Optimizer.update`` passes fresh outputs (pure),
``Optimizer.step`` the state's and the parameter's own arrays (in place). Faster than the same
equations written as array expressions, which allocate a temporary array per operation: here a
step allocates nothing, and every pass runs over arrays already in cache. Scalars are Python floats,
so float32 parameters and states stay float32. The equations, numbered as here, are in the
docstrings of the optimizer classes (``nablanet.optim.optimizers``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["sgd_update", "adagrad_update", "rmsprop_update", "adam_update"]


def sgd_update(g, theta, velocity, out_velocity, out_theta, scratch, *, lr, momentum, grad_coef, nesterov):
    """Equations (2)-(4) of SGD; ``velocity`` is None when momentum = 0."""
    if velocity is None:
        np.multiply(g, lr, out=scratch)
        np.subtract(theta, scratch, out=out_theta)
        return
    np.multiply(velocity, momentum, out=out_velocity)
    if grad_coef == 1.0:
        np.add(out_velocity, g, out=out_velocity)
    else:
        np.multiply(g, grad_coef, out=scratch)
        np.add(out_velocity, scratch, out=out_velocity)
    if nesterov:
        # theta - eta (g + mu v) written as two subtractions, so no second scratch array is needed.
        np.multiply(out_velocity, lr * momentum, out=scratch)
        np.subtract(theta, scratch, out=out_theta)
        np.multiply(g, lr, out=scratch)
        np.subtract(out_theta, scratch, out=out_theta)
    else:
        np.multiply(out_velocity, lr, out=scratch)
        np.subtract(theta, scratch, out=out_theta)


def adagrad_update(g, theta, G, out_G, out_theta, scratch, *, lr, eps):
    """Equations (2) and (4) of Adagrad."""
    np.multiply(g, g, out=scratch)
    np.add(G, scratch, out=out_G)
    np.sqrt(out_G, out=scratch)
    np.add(scratch, eps, out=scratch)
    np.divide(g, scratch, out=scratch)
    np.multiply(scratch, lr, out=scratch)
    np.subtract(theta, scratch, out=out_theta)


def rmsprop_update(g, theta, v, m, velocity, out_v, out_m, out_velocity, out_theta, scratch, *,
                  lr, alpha, eps, momentum):
    """Equations (2)-(5) of RMSprop; ``m`` is None unless centered, ``velocity`` None unless momentum > 0."""
    np.multiply(g, g, out=scratch)
    np.multiply(scratch, 1.0 - alpha, out=scratch)
    np.multiply(v, alpha, out=out_v)
    np.add(out_v, scratch, out=out_v)
    if m is not None:
        np.multiply(g, 1.0 - alpha, out=scratch)
        np.multiply(m, alpha, out=out_m)
        np.add(out_m, scratch, out=out_m)
        np.multiply(out_m, out_m, out=scratch)
        np.subtract(out_v, scratch, out=scratch)
        np.sqrt(scratch, out=scratch)
    else:
        np.sqrt(out_v, out=scratch)
    np.add(scratch, eps, out=scratch)
    np.divide(g, scratch, out=scratch)
    if velocity is not None:
        np.multiply(velocity, momentum, out=out_velocity)
        np.add(out_velocity, scratch, out=out_velocity)
        np.multiply(out_velocity, lr, out=scratch)
    else:
        np.multiply(scratch, lr, out=scratch)
    np.subtract(theta, scratch, out=out_theta)


def adam_update(g, theta, m, v, v_max, out_m, out_v, out_v_max, out_theta, scratch, *,
               beta1, beta2, step_size, eps_hat, decay):
    """Equations (2)-(5) of Adam (and AdamW's decay factor); ``v_max`` is None unless amsgrad.

    12 passes over memory (13 with decoupled weight decay): 3 for m, 4 for v, 5 for theta.
    """
    np.multiply(g, 1.0 - beta1, out=scratch)
    np.multiply(m, beta1, out=out_m)
    np.add(out_m, scratch, out=out_m)
    np.multiply(g, g, out=scratch)
    np.multiply(scratch, 1.0 - beta2, out=scratch)
    np.multiply(v, beta2, out=out_v)
    np.add(out_v, scratch, out=out_v)
    second_moment = out_v
    if v_max is not None:
        np.maximum(v_max, out_v, out=out_v_max)
        second_moment = out_v_max
    np.sqrt(second_moment, out=scratch)
    np.add(scratch, eps_hat, out=scratch)
    np.divide(out_m, scratch, out=scratch)
    np.multiply(scratch, step_size, out=scratch)
    if decay != 1.0:
        np.multiply(theta, decay, out=out_theta)
        theta = out_theta
    np.subtract(theta, scratch, out=out_theta)
