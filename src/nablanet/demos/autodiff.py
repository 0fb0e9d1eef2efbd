"""The notes' worked examples of automatic differentiation, f(x) = exp(x^2) and f(x) = sqrt(x^2 + exp(x^2))."""

from __future__ import annotations

import math

import nablanet.numpy as np
from nablanet import count_ops, grad, jvp, to_dot
from nablanet.demos._common import command_line, output_directory


def exp_of_square(x):
    """f(x) = exp(x^2), computed as the notes do: a = x^2, b = exp(a)."""
    a = x ** 2
    return np.exp(a)


def exp_of_square_derivative(x: float) -> float:
    """f'(x) = 2 x exp(x^2)."""
    return 2 * x * math.exp(x * x)


def sqrt_of_sum(x):
    """f(x) = sqrt(x^2 + exp(x^2)) with the intermediates a = x^2, b = exp(a), c = a + b, d = sqrt(c)."""
    a = x ** 2
    b = np.exp(a)
    c = a + b
    return np.sqrt(c)


def sqrt_of_sum_derivative(x: float) -> float:
    """f'(x) = x (1 + exp(x^2)) / sqrt(x^2 + exp(x^2))."""
    return x * (1 + math.exp(x * x)) / math.sqrt(x * x + math.exp(x * x))


EXAMPLES = [
    ("exp(x^2)", exp_of_square, exp_of_square_derivative),
    ("sqrt(x^2 + exp(x^2))", sqrt_of_sum, sqrt_of_sum_derivative),
]


def report(points=(-1.0, 0.5, 2.0)) -> str:
    """A text table per example: value, reverse- and forward-mode derivatives, the analytic one, op counts."""
    lines = []
    for title, f, derivative in EXAMPLES:
        lines.append(f"f(x) = {title}")
        lines.append(f"  {'x':>5}  {'f(x)':>14}  {'reverse mode':>14}  {'forward mode':>14}  {'analytic':>14}")
        for x in points:
            value, forward = jvp(f, (x,), (1.0,))
            reverse = grad(f)(x)
            lines.append(f"  {x:>5}  {value:>14.10f}  {reverse:>14.10f}  {forward:>14.10f}  {derivative(x):>14.10f}")
        counts = count_ops(f, points[0])
        lines.append(f"  floating-point operations: forward pass {counts.forward_total}, reverse pass "
                     f"{counts.reverse_total}, total {counts.total}")
        for row in str(counts).splitlines():
            lines.append("    " + row)
        lines.append("")
    return "\n".join(lines)


def run(out_dir, quick: bool = False, seed: int = 0) -> dict:
    """Print the table of derivatives and operation counts; write each example's graph as DOT text.

    Args:
        out_dir: directory for ``graph_<n>.dot`` (render with ``dot -Tpng``).
        quick: accepted for the shared demo options; the demo is already instant.
        seed: unused (nothing here is random).

    Returns:
        ``{"report": the printed text, "counts": {title: OpCount}, "files": [dot paths]}``.
    """
    text = report()
    print(text)
    out = output_directory(out_dir)
    files = []
    for k, (title, f, _) in enumerate(EXAMPLES, start=1):
        path = out / f"graph_{k}.dot"
        path.write_text(to_dot(f, 0.5, names=["x"]) + "\n")
        files.append(path)
        print(f"computation graph of f(x) = {title}: {path}")
    counts = {title: count_ops(f, 0.5) for title, f, _ in EXAMPLES}
    return {"report": text, "counts": counts, "files": files}


def main(argv=None) -> int:
    """``python -m nablanet.demos.autodiff [--out DIR]``."""
    return command_line(run, argv, prog="nablanet demo autodiff", description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
