"""Activation functions and their derivatives (from forward mode), one panel each."""

from __future__ import annotations

import numpy as np

from nablanet.plot._figures import panel_grid


def activation_functions(names=("sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu"),
                         x_range=(-5.0, 5.0), *, num: int = 401, title: str | None = None):
    """Each activation and its derivative, the derivative computed by nablanet's forward mode.

    The derivative is ``jvp(f, (z,), (ones,))``: for an elementwise f the Jacobian is diagonal, so
    one forward-mode pass with a tangent of ones gives f'(z) at every grid point. Nothing here is a
    hand-written derivative, so the plot shows what training differentiates (relu' is 0 at 0, as
    in nablanet and PyTorch).

    Args:
        names: activations by name (from ``nablanet.nn.functional.ACTIVATIONS``) or elementwise
            callables of a Tensor.
        x_range: the interval of z drawn.
        num: grid points in the interval.
        title: a title over the whole figure.

    Returns:
        The Figure: one panel per activation, with lines labelled ``f(z)`` and ``f'(z)``.

    Raises:
        ValueError: an unknown or non-elementwise (softmax) activation, or an empty interval.

    Example:
        >>> fig = activation_functions(["sigmoid"], (-1.0, 1.0), num=3)
        >>> derivative = fig.axes[0].get_lines()[1]
        >>> [round(float(d), 4) for d in derivative.get_ydata()]   # sigma (1 - sigma)
        [0.1966, 0.25, 0.1966]
    """
    from nablanet.autodiff.transforms import jvp
    from nablanet.nn.functional import get_activation, softmax

    names = [names] if isinstance(names, str) or callable(names) else list(names)
    if not names:
        raise ValueError("activation_functions: no activations named")
    low, high = (float(v) for v in x_range)
    if not low < high:
        raise ValueError(f"activation_functions: x_range must be (low, high) with low < high, got {x_range}")
    z = np.linspace(low, high, num)

    figure, axes = panel_grid(len(names), 4, 3.2, 2.9)
    for ax, name in zip(axes, names):
        function = get_activation(name)
        if function is softmax:
            raise ValueError("activation_functions: softmax is not elementwise (it couples a row's entries); "
                             "its derivative is a Jacobian, not a curve")
        values, derivative = jvp(function, (z,), (np.ones_like(z),))
        label = name if isinstance(name, str) else getattr(name, "__name__", type(name).__name__)
        ax.plot(z, np.broadcast_to(values, z.shape), color="C0", label="f(z)")
        ax.plot(z, np.broadcast_to(derivative, z.shape), color="C1", linestyle="--", label="f'(z)")
        # The axes through the origin, behind the curves (added last so the curves are lines 0 and 1).
        ax.axhline(0.0, color="0.8", linewidth=0.8, zorder=0)
        ax.axvline(0.0, color="0.8", linewidth=0.8, zorder=0)
        ax.set_title(label)
        ax.set_xlabel("z")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small", loc="upper left")
    if title:
        figure.suptitle(title)
    return figure
