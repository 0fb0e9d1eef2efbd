"""The JAX jit peer of the benchmarks: optional (``pip install jax``), skipped with a note when absent.

JAX's CPU backend sizes its thread pool from the CPUs the process may run on and reads none of the
thread variables the harness sets, so its worker is pinned to ``--threads`` CPUs instead (nothing
changes when that is all of them, as with 2 threads on a 2-core machine).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import _harness
from _training import Batches, Peer, Settings

# torch.optim.Adam's defaults, which every peer's Adam uses.
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


def import_jax(threads: int):
    """``jax`` with float32 defaults, the process pinned to ``threads`` CPUs; PeerUnavailable when absent."""
    if hasattr(os, "sched_getaffinity") and threads < len(os.sched_getaffinity(0)):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:threads])
    try:
        import jax
    except ImportError:
        raise _harness.PeerUnavailable("JAX is not installed (an optional peer: pip install jax); "
                                       "JAX jit skipped") from None
    return jax


@dataclass
class JaxModel:
    """A workload's model for JAX: ``logits(params, X batch)``, params a pytree of float32 NumPy arrays."""

    params: object
    logits: Callable
    X: object
    y: object
    batches: Batches
    lr: float


def jax_peers(setup: Callable[[Settings, object], JaxModel]) -> dict:
    """``jax-jit``: the whole step (loss, gradient, Adam) as one ``jax.jit`` function; ``setup(settings,
    jax)`` builds the model once jax is imported."""
    def build(settings: Settings) -> Peer:
        jax = import_jax(settings.threads)
        return _jitted_adam(jax, setup(settings, jax))

    return {"jax-jit": build}


def _jitted_adam(jax, built: JaxModel) -> Peer:
    """Softmax cross-entropy and Adam as torch.optim.Adam computes it, compiled into one program."""
    import numpy

    jnp = jax.numpy
    tree_map = jax.tree_util.tree_map

    def loss_fn(params, X_batch, y_batch):
        log_p = jax.nn.log_softmax(built.logits(params, X_batch))
        return -jnp.mean(jnp.take_along_axis(log_p, y_batch[:, None], axis=1))

    def train_step(params, m, v, t, X_batch, y_batch):
        loss, grads = jax.value_and_grad(loss_fn)(params, X_batch, y_batch)
        t = t + 1.0
        m = tree_map(lambda m, g: BETA1 * m + (1 - BETA1) * g, m, grads)
        v = tree_map(lambda v, g: BETA2 * v + (1 - BETA2) * g * g, v, grads)
        # Bias correction folded into the step size, eps scaled to match eps outside sqrt(v_hat).
        correction = jnp.sqrt(1 - BETA2 ** t)
        scale = built.lr * correction / (1 - BETA1 ** t)
        params = tree_map(lambda p, m, v: p - scale * m / (jnp.sqrt(v) + EPS * correction), params, m, v)
        return loss, params, m, v, t

    # The old parameters and moments are donated: XLA writes the new ones into their buffers.
    compiled = jax.jit(train_step, donate_argnums=(0, 1, 2, 3))
    params = tree_map(jnp.asarray, built.params)
    zeros = tree_map(jnp.zeros_like, params)
    state = [params, zeros, tree_map(jnp.zeros_like, params), jnp.zeros((), jnp.float32)]
    X, y, batches = built.X, built.y, built.batches

    def step():
        index = batches.next()
        loss, *state[:] = compiled(*state, X[index], y[index])
        return float(loss)  # waits for the asynchronous dispatch, as .item() does for torch

    def count():
        return int(sum(numpy.size(leaf) for leaf in jax.tree_util.tree_leaves(state[0])))

    return Peer(step, batches.batch_size, count)
