r"""
Automatic differentiation, by hand and by nablanet
==================================================

The notes' worked example is

.. math::

    f(x) = \sqrt{x^2 + \exp(x^2)}, \qquad
    f'(x) = \frac{x\,(1 + \exp x^2)}{\sqrt{x^2 + \exp x^2}} .

Written out, the formula costs five operations for :math:`f` and ten for :math:`f'`. The notes cut
this by naming the intermediate values

.. math::

    a = x^2, \quad b = \exp a, \quad c = a + b, \quad d = \sqrt{c} = f(x),

so that :math:`f` takes four operations and, reusing them, :math:`f'(x) = x (1 + b) / d` only three
more. Automatic differentiation is this bookkeeping done by a program: each elementary operation knows
its local derivative, and the chain rule

.. math::

    \frac{\partial f}{\partial x_i} = \sum_{j:\ x_i \in \mathrm{Pa}(x_j)}
    \frac{\partial f}{\partial x_j} \frac{\partial x_j}{\partial x_i}

combines them along the computational graph, either from the input forwards (forward mode) or from the
output backwards (reverse mode, which is back-propagation).
"""

# %%
# The function, as the notes write it
# ------------------------------------
# ``nablanet.numpy`` has NumPy's names, differentiable. The library's autodiff demo defines the notes'
# function with its intermediates and the closed-form derivative, so we reuse them.

import math
import re

import matplotlib.pyplot as plt
import numpy

import nablanet.numpy as np
from nablanet import count_ops, elementwise_grad, grad, jvp, to_dot
from nablanet.demos.autodiff import sqrt_of_sum as f
from nablanet.demos.autodiff import sqrt_of_sum_derivative as f_prime_closed_form
from nablanet.diagnostics import compare_modes

x = 0.5
print("f(0.5)  =", float(f(x)))
print("f'(0.5) =", f_prime_closed_form(x), "(closed form)")

# %%
# Forward mode by hand
# --------------------
# Forward mode carries, beside each value, its derivative with respect to the input (its *tangent*,
# written with a dot), from :math:`\dot x = 1` onwards, one local derivative per step.

x_dot = 1.0
a = x ** 2
a_dot = 2 * x * x_dot
b = math.exp(a)
b_dot = b * a_dot
c = a + b
c_dot = a_dot + b_dot
d = math.sqrt(c)
d_dot = c_dot / (2 * d)
print(f"forward mode by hand:  f'(0.5) = {d_dot:.12f}")

# %%
# Reverse mode by hand
# --------------------
# Reverse mode first computes the values (the forward pass), then runs backwards from
# :math:`\partial f / \partial d = 1`, giving each value its *adjoint* :math:`\bar v = \partial f / \partial v`.
# The value :math:`a` feeds both :math:`b` and :math:`c`, so its adjoint is the sum over its two children:
# that sum is the notes' :math:`\sum_{x_j: x_i \in \mathrm{Pa}(x_j)}`.

d_bar = 1.0
c_bar = d_bar / (2 * d)
b_bar = c_bar * 1.0
a_bar = c_bar * 1.0 + b_bar * b
x_bar = a_bar * 2 * x
print(f"reverse mode by hand:  f'(0.5) = {x_bar:.12f}")

# %%
# And by nablanet
# ---------------
# ``grad`` is reverse mode, ``jvp`` (Jacobian-vector product) forward mode. Both give the closed form
# to rounding.

reverse = float(grad(f)(x))
value, forward = jvp(f, (x,), (1.0,))
print(f"nablanet reverse mode: f'(0.5) = {reverse:.12f}")
print(f"nablanet forward mode: f'(0.5) = {float(forward):.12f}")

for derivative in (d_dot, x_bar, reverse, float(forward)):
    assert abs(derivative - f_prime_closed_form(x)) < 1e-12

# %%
# The derivative everywhere
# -------------------------
# ``elementwise_grad`` differentiates a function applied elementwise to an array: one reverse pass gives
# :math:`f'` at every point.

xs = numpy.linspace(-2.0, 2.0, 201)
figure, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.plot(xs, numpy.asarray(f(xs)), label="f(x)")
ax.plot(xs, numpy.asarray(elementwise_grad(f)(xs)), label="f'(x), reverse mode")
ax.plot(xs[::10], [f_prime_closed_form(v) for v in xs[::10]], "k.", label="closed form")
ax.set_xlabel("x")
ax.legend()
ax.set_title(r"$f(x) = \sqrt{x^2 + e^{x^2}}$ and its derivative")

# %%
# Counting operations
# -------------------
# ``count_ops`` counts the floating-point operations of one forward pass and of the reverse pass, one
# per element for elementwise operations, as the notes count them. The forward pass is the notes' four.
# The reverse pass takes six, not the three of the hand-simplified :math:`x (1 + b) / d`: the engine
# applies each primitive's general rule (the square root's :math:`1 / (2 \sqrt c)`, the square's
# :math:`2x`) without simplifying across them. Both are well under the ten of the written-out formula.

counts = count_ops(f, x)
print(counts)
print(f"forward pass {counts.forward_total} operations, reverse pass {counts.reverse_total}")
assert counts.forward_total == 4
assert counts.reverse_total < 10

# %%
# The computational graph
# -----------------------
# ``to_dot`` writes the graph the engine recorded as Graphviz text (``dot -Tpng`` renders it). We read
# its nodes and edges back and draw them with matplotlib, each node at the depth of its longest path
# from the input, and label them with the notes' names. A constant (the exponent 2) is a plain label.

dot = to_dot(f, x, names=["x"])
print(dot)

nodes = dict(re.findall(r'^\s*(\w+) \[shape=\w+, label="([^"]*)"\];', dot, flags=re.M))
edges = re.findall(r"^\s*(\w+) -> (\w+);", dot, flags=re.M)
depth = {name: 0 for name in nodes}
for _ in nodes:                       # longest-path depths: relax the edges until nothing changes
    for source, target in edges:
        depth[target] = max(depth[target], depth[source] + 1)
notes_names = {"x": "x", "power": "a = x^2", "exp": "b = exp(a)", "add": "c = a + b", "sqrt": "d = sqrt(c)"}
local_derivative = {("power", "exp"): "exp a", ("power", "add"): "1", ("exp", "add"): "1",
                    ("add", "sqrt"): "1/(2 sqrt c)", ("x", "power"): "2x"}

rows = {}
position = {}
for name in sorted(nodes, key=lambda n: (depth[n], n)):
    position[name] = (depth[name], -rows.setdefault(depth[name], 0) * 0.8)
    rows[depth[name]] += 1


def kind(name):
    return nodes[name].split("\\n")[0]


figure, ax = plt.subplots(figsize=(9, 3), layout="constrained")
for source, target in edges:
    (x0, y0), (x1, y1) = position[source], position[target]
    skips = depth[target] - depth[source] > 1        # an edge past a node is drawn as an arc above it
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                arrowprops=dict(arrowstyle="->", shrinkA=28, shrinkB=28, color="gray",
                                connectionstyle="arc3,rad=-0.35" if skips else "arc3"))
    label = local_derivative.get((kind(source), kind(target)))
    if label:
        ax.text((x0 + x1) / 2, (y0 + y1) / 2 + (0.42 if skips else 0.1), label, ha="center", fontsize=8,
                color="tab:red")
for name, (px, py) in position.items():
    constant = "\\n" not in nodes[name]
    text = nodes[name] if constant else notes_names.get(kind(name), kind(name))
    ax.text(px, py, text, ha="center", va="center",
            bbox=None if constant else dict(boxstyle="round", facecolor="lightyellow", edgecolor="black"))
ax.set_xlim(-0.5, max(depth.values()) + 0.5)
ax.set_ylim(-1.0, 0.8)
ax.axis("off")
ax.set_title("the graph nablanet recorded for f(x), with the local derivatives on its edges (red)")

assert [kind(n) for n in sorted(nodes, key=lambda n: depth[n]) if "\\n" in nodes[n]] == \
    ["x", "power", "exp", "add", "sqrt"]

# %%
# Forward or reverse mode: who pays what
# --------------------------------------
# Forward mode computes one column of the Jacobian per pass (one input direction); reverse mode one row
# per pass (one output). A loss has many inputs (the parameters) and one output, so reverse mode wins;
# for one input and many outputs forward mode does. ``compare_modes`` counts both for the whole
# Jacobian.

sizes = [1, 2, 4, 8, 16, 32]
many_inputs = [compare_modes(lambda w: np.sum(np.tanh(w) ** 2), numpy.linspace(-1, 1, n)) for n in sizes]
many_outputs = [compare_modes(lambda t, n=n: np.sin(t * numpy.arange(1.0, n + 1.0)), numpy.ones(1)) for n in sizes]
print(many_inputs[-1])

figure, axes = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained", sharey=True)
for ax, results, title in ((axes[0], many_inputs, r"$f: \mathbb{R}^n \to \mathbb{R}$ (a loss)"),
                           (axes[1], many_outputs, r"$f: \mathbb{R} \to \mathbb{R}^n$")):
    ax.loglog(sizes, [r.forward_flops for r in results], "o-", label="forward mode")
    ax.loglog(sizes, [r.reverse_flops for r in results], "s-", label="reverse mode")
    ax.set_xlabel("n")
    ax.set_title(title)
    ax.legend()
axes[0].set_ylabel("operations for the whole Jacobian")

assert many_inputs[-1].reverse_flops < many_inputs[-1].forward_flops / 5
assert many_outputs[-1].forward_flops < many_outputs[-1].reverse_flops / 5
