"""The notes' activation functions and their derivatives, the derivatives computed by nablanet's autodiff.

sigmoid, tanh, ReLU, leaky ReLU (alpha = 0.01), ELU (alpha = 1), softplus and GELU are drawn with
their derivatives (``nablanet.plot.activation_functions``, forward mode). The printed table gives
each derivative at a few points by reverse mode (``grad``) and by forward mode (``jvp``) next to the
closed form, which appears here only as the check:

    sigmoid'(z) = s (1 - s), s = sigmoid(z)      tanh'(z) = 1 - tanh(z)^2
    relu'(z) = 1 if z > 0 else 0                 leaky_relu'(z) = 1 if z > 0 else alpha
    elu'(z) = 1 if z > 0 else alpha e^z          softplus'(z) = sigmoid(z)
    gelu'(z) = Phi(z) + z phi(z)   (Phi, phi: the standard normal CDF and density)

The points avoid z = 0, where ReLU, leaky ReLU and ELU have a kink (nablanet's convention there,
as PyTorch's, is the left derivative: relu'(0) = 0).

Claim: autodiff's derivatives equal the closed forms (to 1e-12 in float64) at every point.
"""

from __future__ import annotations

import math

import numpy as np

from nablanet import grad, jvp
from nablanet.demos._common import command_line, format_table, save_figure
from nablanet.nn import functional as F

__all__ = ["NAMES", "POINTS", "CLOSED_FORMS", "derivative_table", "run", "main"]

NAMES = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu")
POINTS = (-2.0, -0.5, 0.5, 2.0)

_LEAKY_ALPHA = 0.01
_ELU_ALPHA = 1.0


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _normal_cdf(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def _normal_pdf(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


# name -> (f(z), f'(z)) written by hand, only to check what autodiff gives.
CLOSED_FORMS = {
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1.0 - _sigmoid(z))),
    "tanh": (math.tanh, lambda z: 1.0 - math.tanh(z) ** 2),
    "relu": (lambda z: max(z, 0.0), lambda z: 1.0 if z > 0 else 0.0),
    "leaky_relu": (lambda z: z if z > 0 else _LEAKY_ALPHA * z, lambda z: 1.0 if z > 0 else _LEAKY_ALPHA),
    "elu": (lambda z: z if z > 0 else _ELU_ALPHA * math.expm1(z), lambda z: 1.0 if z > 0 else _ELU_ALPHA * math.exp(z)),
    "softplus": (lambda z: math.log1p(math.exp(z)), _sigmoid),
    "gelu": (lambda z: z * _normal_cdf(z), lambda z: _normal_cdf(z) + z * _normal_pdf(z)),
}


def derivative_table(names=NAMES, points=POINTS) -> list[dict]:
    """Value and derivative of each activation at each point, by autodiff (both modes) and by formula.

    Returns:
        One dict per (activation, point): ``name, z, value, reverse, forward, closed_form, error``,
        where ``error`` is the larger of |reverse - closed form| and |forward - closed form|.

    Example:
        >>> row = derivative_table(["sigmoid"], [0.5])[0]
        >>> round(row["reverse"], 6), row["error"] < 1e-12
        (0.235004, True)
    """
    rows = []
    for name in names:
        function = F.get_activation(name)
        value_by_hand, derivative_by_hand = CLOSED_FORMS[name]
        for z in points:
            z = float(z)
            value, forward = jvp(function, (np.float64(z),), (np.float64(1.0),))
            reverse = float(grad(function)(np.float64(z)))
            closed_form = derivative_by_hand(z)
            rows.append({"name": name, "z": z, "value": float(value), "value_closed_form": value_by_hand(z),
                         "reverse": reverse, "forward": float(forward), "closed_form": closed_form,
                         "error": max(abs(reverse - closed_form), abs(float(forward) - closed_form))})
    return rows


def run(out_dir, quick: bool = False, seed: int = 0) -> dict:
    """Print the derivative table and draw every activation with its derivative.

    Args:
        out_dir: directory for ``activations.png``.
        quick: 201 grid points per curve instead of 801.
        seed: unused (nothing here is random); accepted so that every demo takes the same options.

    Returns:
        ``{"table": derivative_table(), "max_error": float, "files": [png path]}``.
    """
    table = derivative_table()
    rows = [[row["name"], f"{row['z']:+.1f}", f"{row['value']:+.6f}", f"{row['reverse']:+.10f}",
             f"{row['forward']:+.10f}", f"{row['closed_form']:+.10f}", f"{row['error']:.1e}"] for row in table]
    print(format_table(["activation", "z", "f(z)", "f'(z) reverse", "f'(z) forward", "closed form", "|diff|"], rows,
                       title="derivatives by nablanet's autodiff against the closed forms"))
    max_error = max(row["error"] for row in table)
    print(f"largest difference: {max_error:.1e}")
    print()

    from nablanet import plot

    figure = plot.activation_functions(NAMES, (-4.0, 4.0), num=201 if quick else 801,
                                       title="activations f(z) and their derivatives f'(z) (forward-mode autodiff)")
    path = save_figure(figure, out_dir, "activations.png")
    return {"table": table, "max_error": max_error, "files": [path]}


def main(argv=None) -> int:
    """``python -m nablanet.demos.activations [--out DIR] [--quick] [--seed N]``."""
    return command_line(run, argv, prog="nablanet demo activations", description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
