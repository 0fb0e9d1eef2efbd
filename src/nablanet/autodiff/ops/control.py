"""Primitives that steer differentiation itself: stop_gradient."""

from __future__ import annotations

from nablanet.autodiff import batching
from nablanet.autodiff.op import Op, register

__all__ = ["stop_gradient"]


@register
class StopGradient(Op):
    """z = x as a value, with derivative zero in both modes (JAX's ``lax.stop_gradient``, PyTorch's
    ``detach``): the output is never traced, so no gradient flows back through it and it carries
    no tangent."""

    batch = batching.elementwise

    name = "stop_gradient"
    differentiable = False

    def forward(x):
        return x

    def flops(out, x):
        return 0


def stop_gradient(x):
    """x, treated as a constant by every derivative (``jax.lax.stop_gradient``).

    Example:
        >>> from nablanet import grad
        >>> grad(lambda x: x * stop_gradient(x))(3.0)   # d/dx (x * c) with c = 3
        3.0
    """
    return StopGradient.apply(x)


# Its derivative is zero by definition, so the gradient tables treat it as a constant.
stop_gradient.__nablanet_constant__ = True
