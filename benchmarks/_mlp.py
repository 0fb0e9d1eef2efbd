"""The peers of the ReLU-MLP workloads (mlp-784, mlp-small): one network, written once per library.

An ``MLP`` names the layer sizes, the learning rate, the batch size and the data; every peer starts
from the same He-uniform weights (drawn once, in the (in, out) layout) and sees the same batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import _harness
import _training
from _jax import BETA1, BETA2, EPS, JaxModel, jax_peers
from _training import Batches, NablanetModel, Peer, TorchModel


@dataclass(frozen=True)
class MLP:
    """sizes[0]-...-sizes[-1] with ReLU between the layers, softmax cross-entropy, Adam ``lr``."""

    sizes: tuple
    lr: float
    batch_size: int
    make_data: Callable  # () -> X (N, sizes[0]) float32, y (N,) int64

    @property
    def parameters(self) -> int:
        return sum((n_in + 1) * n_out for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]))

    def initial_weights(self):
        """He-uniform weights and zero biases, (in, out) layout, drawn once for every peer."""
        import numpy

        rng = numpy.random.default_rng(1)
        weights = []
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            limit = (6.0 / n_in) ** 0.5
            weights.append((rng.uniform(-limit, limit, (n_in, n_out)).astype(numpy.float32),
                            numpy.zeros(n_out, dtype=numpy.float32)))
        return weights


def peers(mlp: MLP) -> dict:
    """nablanet's styles, PyTorch eager (default and fused Adam), JAX jit and HIPS autograd."""
    return {**_training.nablanet_peers(lambda settings: nablanet_model(mlp)),
            **_training.torch_peers(lambda settings: torch_model(mlp)),
            **jax_peers(lambda settings, jax: jax_model(mlp)),
            "autograd": lambda settings: autograd_peer(mlp)}


def network(mlp: MLP):
    """The network as a nablanet user builds it, from the workload's initial weights (the same for every peer)."""
    import nablanet.nn as nn

    layers = []
    last = len(mlp.sizes) - 2
    for i, (W, b) in enumerate(mlp.initial_weights()):
        layer = nn.Dense(mlp.sizes[i], mlp.sizes[i + 1], activation="relu" if i < last else None)
        layer.W.data[...] = W
        layer.b.data[...] = b
        layers.append(layer)
    return nn.Sequential(*layers)


def nablanet_model(mlp: MLP) -> NablanetModel:
    from nablanet import optim

    X, y = mlp.make_data()
    model = network(mlp)
    optimizer = optim.Adam(model.parameters(), lr=mlp.lr)
    return NablanetModel(model, optimizer, X, y, Batches(len(X), mlp.batch_size))


def torch_model(mlp: MLP) -> TorchModel:
    import torch

    X, y = mlp.make_data()
    layers = []
    last = len(mlp.sizes) - 2
    for i, (W, b) in enumerate(mlp.initial_weights()):
        linear = torch.nn.Linear(mlp.sizes[i], mlp.sizes[i + 1])
        with torch.no_grad():
            linear.weight.copy_(_training.torch_tensor(W.T))
            linear.bias.copy_(_training.torch_tensor(b))
        layers.append(linear)
        if i < last:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    return TorchModel(model, list(model.parameters()), torch.from_numpy(X), torch.from_numpy(y),
                      Batches(len(X), mlp.batch_size), mlp.lr)


def _logits(xp, params, X_batch):
    """The network on a batch, written once for any NumPy-like module ``xp`` (jax.numpy, autograd.numpy)."""
    a = X_batch
    for W, b in params[:-1]:
        a = xp.maximum(a @ W + b, 0.0)
    W, b = params[-1]
    return a @ W + b


def jax_model(mlp: MLP) -> JaxModel:
    import jax.numpy as jnp

    X, y = mlp.make_data()
    return JaxModel(mlp.initial_weights(), lambda params, X_batch: _logits(jnp, params, X_batch), X, y,
                    Batches(len(X), mlp.batch_size), mlp.lr)


def autograd_peer(mlp: MLP) -> Peer:
    """HIPS autograd for the gradient; Adam as torch.optim.Adam, written in NumPy."""
    try:
        import autograd.numpy as anp
        from autograd import value_and_grad
    except ImportError as missing:
        raise _harness.PeerUnavailable(f"autograd is not installed ({missing})")
    import numpy

    X, y = mlp.make_data()
    params = [list(pair) for pair in mlp.initial_weights()]
    flat = [array for pair in params for array in pair]
    m = [numpy.zeros_like(p) for p in flat]
    v = [numpy.zeros_like(p) for p in flat]
    batches = Batches(len(X), mlp.batch_size)
    t = [0]

    def loss_fn(params, X_batch, y_batch):
        z = _logits(anp, params, X_batch)
        z = z - anp.max(z, axis=1, keepdims=True)
        log_p = z - anp.log(anp.sum(anp.exp(z), axis=1, keepdims=True))
        return -anp.mean(log_p[numpy.arange(len(y_batch)), y_batch])

    loss_and_grad = value_and_grad(loss_fn)

    def step():
        index = batches.next()
        loss, grads = loss_and_grad(params, X[index], y[index])
        t[0] += 1
        # Bias correction folded into the step size, eps scaled to match eps outside sqrt(v_hat).
        correction = (1 - BETA2 ** t[0]) ** 0.5
        scale = mlp.lr * correction / (1 - BETA1 ** t[0])
        for p, g, mi, vi in zip(flat, (g for pair in grads for g in pair), m, v):
            mi *= BETA1
            mi += (1 - BETA1) * g
            vi *= BETA2
            vi += (1 - BETA2) * g * g
            p -= scale * mi / (numpy.sqrt(vi) + EPS * correction)
        return float(loss)

    return Peer(step, mlp.batch_size, lambda: int(sum(p.size for p in flat)))
