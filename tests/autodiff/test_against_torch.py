"""Differential test against PyTorch: random programs over the primitives, values and derivatives.

Hypothesis generates small programs (a DAG of 2-8 primitive applications over 1-3 float64 inputs of
broadcastable shapes, with constants and Python float literals mixed in), over every registered
primitive that has a derivative: elementwise, reductions, shape and indexing ops, matmul, and the
fused ones (dense, softmax cross-entropy, batch normalization, im2col/col2im, the convolution, pooling,
the GRU cell). The program's
outputs are its sinks: every value that depends on the inputs and that no later step uses, so that
every step matters. Each program is interpreted twice, once with ``nablanet.numpy`` on nablanet
Tensors and once with the equivalent torch functions on float64 torch tensors, and the two must
agree to a relative 1e-8 with an absolute floor of 1e-10:

- the outputs' values;
- reverse mode: the gradient of sum_k sum(output_k * w_k) for random fixed weightings w_k, with respect
  to every input, by ``Tensor.backward`` and by ``nablanet.vjp``, against ``torch.autograd.grad``;
- forward mode: ``nablanet.jvp`` along random tangents against ``torch.func.jvp``.

Programs are generated while their values are known (the generator evaluates each step as it adds
it), so every step is placed where the function is smooth and well conditioned: log, sqrt, power and
division only see arguments at least 0.05 from their singularity, and abs, maximum, minimum, clip,
max/min reductions, max pooling and the kinked activations never see a kink or a tie closer than 1e-6
(the two libraries round differently, so near a kink they could take different sides), and batch
normalization sees at least two values per feature, with a standard deviation of at least 0.05. An operation
that does not apply where it was drawn is redrawn at generation, so no example is rejected.

The tests with fixed arguments at the end check the stability claims of the primitives that exist
for stability (logsumexp, softmax, log_softmax, sigmoid, log1p, expm1) at extreme arguments, the
derivatives nablanet documents at kinks and ties (the same as torch's), and two shape cases.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn.functional as torch_functional
from hypothesis import given, settings
from hypothesis import strategies as st

import nablanet
import nablanet.numpy as nnp
from nablanet.autodiff.ops.nn import kernel_alpha
import torch_cases

# torch's forward mode loads its decompositions with torch.jit.script on first use, which warns
# inside torch 2.13 (nothing in this file or in nablanet): keep that out of the report.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

# The tolerance of the issue: relative 1e-8, with an absolute floor for results that are 0 up to rounding.
RTOL = 1e-8
ATOL = 1e-10

# Elements of two candidates closer than this count as a tie (maximum, max) or a kink (abs at 0, clip
# at a bound): the two libraries' values differ by rounding, so they could pick different sides.
KINK_MARGIN = 1e-6
# Arguments of log, sqrt, power's base and division's denominator stay at least this far from 0, so
# the derivatives (1/x, 1/sqrt x, 1/y^2) stay moderate and rounding differences are not amplified.
SAFE_DISTANCE = 0.05
# Every intermediate value is bounded by this (a chain of exps would overflow otherwise), which
# bounds the absolute rounding error of a cancellation far below ATOL.
VALUE_LIMIT = 1e3
# Small arrays keep a program in the millisecond range.
MAX_ELEMENTS = 48
# How many times the generator redraws an operation that does not apply before falling back to tanh.
ATTEMPTS = 6


# --- the torch side: nablanet.numpy's signatures, implemented with torch ------------------------------

def _torch_index(index):
    """A NumPy-style index with its integer and boolean arrays turned into torch tensors."""
    if isinstance(index, tuple):
        return tuple(_torch_index(part) for part in index)
    if isinstance(index, np.ndarray):
        return torch.as_tensor(index)
    return index


def _torch_dims(x, axis):
    """NumPy's axis (None, int or tuple) as a tuple of torch dims; () reduces all dims of a 0-d tensor."""
    if axis is None:
        return tuple(range(x.ndim))
    return (axis,) if isinstance(axis, int) else tuple(axis)


def _torch_activation(z, activation, alpha):
    """The activations fused into nablanet's dense and convolution primitives, in torch."""
    activations = {
        "identity": lambda z: z,
        "relu": torch_functional.relu,
        "leaky_relu": lambda z: torch_functional.leaky_relu(z, negative_slope=alpha),
        "elu": lambda z: torch_functional.elu(z, alpha=alpha),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
    }
    return activations[activation](z)


class TorchFunctions:
    """The functions a program uses, with nablanet.numpy's names and signatures, computed by torch."""

    negative = staticmethod(torch.negative)
    exp = staticmethod(torch.exp)
    log = staticmethod(torch.log)
    log1p = staticmethod(torch.log1p)
    expm1 = staticmethod(torch.expm1)
    sqrt = staticmethod(torch.sqrt)
    abs = staticmethod(torch.abs)
    sin = staticmethod(torch.sin)
    cos = staticmethod(torch.cos)
    tanh = staticmethod(torch.tanh)
    sigmoid = staticmethod(torch.sigmoid)
    erf = staticmethod(torch.erf)
    matmul = staticmethod(torch.matmul)

    # Operators, not torch.add etc., so that a Python float operand works on either side.
    @staticmethod
    def add(x, y):
        return x + y

    @staticmethod
    def subtract(x, y):
        return x - y

    @staticmethod
    def multiply(x, y):
        return x * y

    @staticmethod
    def divide(x, y):
        return x / y

    @staticmethod
    def power(x, y):
        return x**y

    @staticmethod
    def maximum(x, y):
        return torch.maximum(torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64))

    @staticmethod
    def minimum(x, y):
        return torch.minimum(torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64))

    @staticmethod
    def asarray(value):
        return torch.as_tensor(value, dtype=torch.float64)

    @staticmethod
    def where(condition, x, y):
        return torch.where(torch.as_tensor(condition), x, y)

    @staticmethod
    def clip(x, a_min=None, a_max=None):
        # torch.clamp takes two numbers or two tensors (either may be None), not one of each.
        if isinstance(a_min, np.ndarray) or isinstance(a_max, np.ndarray):
            a_min, a_max = (None if b is None else torch.as_tensor(b, dtype=torch.float64) for b in (a_min, a_max))
        return torch.clamp(x, min=a_min, max=a_max)

    @staticmethod
    def sum(x, axis=None, keepdims=False):
        return torch.sum(x, dim=_torch_dims(x, axis), keepdim=keepdims)

    @staticmethod
    def mean(x, axis=None, keepdims=False):
        return torch.mean(x, dim=_torch_dims(x, axis), keepdim=keepdims)

    @staticmethod
    def max(x, axis=None, keepdims=False):
        return torch.amax(x, dim=_torch_dims(x, axis), keepdim=keepdims)

    @staticmethod
    def min(x, axis=None, keepdims=False):
        return torch.amin(x, dim=_torch_dims(x, axis), keepdim=keepdims)

    @staticmethod
    def logsumexp(x, axis=None, keepdims=False):
        return torch.logsumexp(x, dim=_torch_dims(x, axis), keepdim=keepdims)

    @staticmethod
    def softmax(x, axis=-1):
        return torch.softmax(x, dim=axis)

    @staticmethod
    def log_softmax(x, axis=-1):
        return torch.log_softmax(x, dim=axis)

    @staticmethod
    def reshape(x, shape):
        return torch.reshape(x, shape)

    @staticmethod
    def transpose(x, axes=None):
        return x.permute(tuple(reversed(range(x.ndim))) if axes is None else axes)

    @staticmethod
    def broadcast_to(x, shape):
        return torch.broadcast_to(x, shape)

    @staticmethod
    def expand_dims(x, axis):
        return torch.unsqueeze(x, axis)

    @staticmethod
    def squeeze(x, axis=None):
        return torch.squeeze(x) if axis is None else torch.squeeze(x, axis)

    @staticmethod
    def concatenate(arrays, axis=0):
        return torch.cat(list(arrays), dim=axis)

    @staticmethod
    def stack(arrays, axis=0):
        return torch.stack(list(arrays), dim=axis)

    @staticmethod
    def pad(x, pad_width, constant_values=0):
        # numpy.pad takes (before, after) per axis, first axis first; torch's pad takes a flat list
        # starting from the last axis.
        widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2))
        flat = [int(w) for before_after in reversed(widths) for w in before_after]
        return torch_functional.pad(x, flat, mode="constant", value=constant_values)

    @staticmethod
    def dense(x, W, b=None, activation="identity", alpha=None):
        z = torch.matmul(x, W) if b is None else torch.matmul(x, W) + b
        return _torch_activation(z, activation, kernel_alpha(activation, alpha))

    @staticmethod
    def convolution(x, W, b=None, stride=1, dilation=1, activation="identity", alpha=None):
        conv = torch_functional.conv1d if x.ndim == 3 else torch_functional.conv2d
        return _torch_activation(conv(x, W, b, stride=stride, dilation=dilation), activation,
                                 kernel_alpha(activation, alpha))

    @staticmethod
    def batch_norm(x, gamma, beta, eps=1e-5):
        # No running estimates: training mode normalizes by the batch's own statistics only.
        return torch_functional.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)

    @staticmethod
    def softmax_cross_entropy(logits, targets):
        n_classes = logits.shape[-1]
        log_probabilities = torch.reshape(torch.log_softmax(logits, dim=-1), (-1, n_classes))
        rows = log_probabilities.shape[0]
        if targets.dtype.kind in "iu":
            labels = torch.as_tensor(targets).reshape(rows, 1)
            return -torch.sum(torch.gather(log_probabilities, 1, labels)) / rows
        probabilities = torch.as_tensor(targets).reshape(rows, n_classes)
        return -torch.sum(probabilities * log_probabilities) / rows

    @staticmethod
    def im2col(x, kernel, stride=1, dilation=1):
        # torch's unfold gives columns (N, C * prod(kernel), positions), channel-major; nablanet rows
        # (N, positions, prod(kernel) * C), kernel-major. And unfold takes 2-D images only: a 1-D
        # signal (N, C, L) is an image of height 1.
        if x.ndim == 3:
            columns = torch_functional.unfold(torch.unsqueeze(x, 2), (1, *kernel),
                                              dilation=(1, *dilation), stride=(1, *stride))
        else:
            columns = torch_functional.unfold(x, kernel, dilation=dilation, stride=stride)
        n, channels, positions = x.shape[0], x.shape[1], columns.shape[2]
        by_channel = columns.reshape(n, channels, -1, positions)
        return by_channel.permute(0, 3, 2, 1).reshape(n, positions, -1)

    @staticmethod
    def col2im(rows, shape, kernel, stride=1, dilation=1):
        n, positions = rows.shape[:2]
        by_kernel = rows.reshape(n, positions, -1, shape[1])
        columns = by_kernel.permute(0, 3, 2, 1).reshape(n, -1, positions)
        if len(shape) == 3:
            image = torch_functional.fold(columns, (1, shape[2]), (1, *kernel),
                                          dilation=(1, *dilation), stride=(1, *stride))
            return torch.squeeze(image, 2)
        return torch_functional.fold(columns, shape[2:], kernel, dilation=dilation, stride=stride)

    @staticmethod
    def max_pool_windows(x, kernel):
        pool = torch_functional.max_pool1d if x.ndim == 3 else torch_functional.max_pool2d
        return pool(x, kernel, stride=kernel)

    @staticmethod
    def avg_pool_windows(x, kernel):
        pool = torch_functional.avg_pool1d if x.ndim == 3 else torch_functional.avg_pool2d
        return pool(x, kernel, stride=kernel)

    @staticmethod
    def relu(x):
        return torch_functional.relu(x)

    @staticmethod
    def gru_cell(x, h, W_ih, W_hh, b_ih, b_hh):
        # torch keeps the weights as (3H, in) and (3H, H), nablanet as (in, 3H) and (H, 3H); the gate
        # order [r, z, n] is the same.
        return torch.gru_cell(x, h, W_ih.T, W_hh.T, b_ih, b_hh)

    @staticmethod
    def getitem(x, index):
        return x[_torch_index(index)]

    @staticmethod
    def take(x, indices, axis=None):
        indices = torch.as_tensor(np.asarray(indices))
        if axis is None:
            return torch.reshape(x, (-1,))[indices]
        return x[(slice(None),) * (axis % x.ndim) + (indices,)]


# --- programs -----------------------------------------------------------------------------------

@dataclass
class Step:
    """One operation of a program: ``function(*operands, **params)``.

    ``op`` is a name in nablanet.numpy (and in TorchFunctions); "constant" makes a constant array.
    An operand is the number of an earlier value (an int) or a Python float literal, as in x * 2.0.
    """

    op: str
    operands: tuple
    params: dict

    def describe(self) -> str:
        if self.op == "constant":
            return f"constant({np.array2string(self.params['value'], precision=17, separator=', ')})"
        args = [repr(i) if _is_literal(i) else f"v{i}" for i in self.operands]
        if self.op in ("concatenate", "stack"):
            args = [f"[{', '.join(args)}]"]
        if self.op == "where":
            args = [f"condition={self.params['condition']!r}", *args]
        args += [f"{name}={value!r}" for name, value in self.params.items() if name != "condition"]
        return f"{self.op}({', '.join(args)})"


@dataclass
class Program:
    """Inputs, the steps over them, the outputs, and the directions along which derivatives are compared.

    ``build_program(seed, n_operations)`` rebuilds it (the repr shows both).

    Values are numbered v0, v1, ... in order: first the inputs, then one per step. ``outputs`` are
    value numbers; ``weights`` have the outputs' shapes (the cotangents of the reverse-mode check),
    ``tangents`` the inputs' shapes (the forward-mode check).
    """

    inputs: list
    steps: list
    outputs: tuple
    weights: list
    tangents: list
    seed: int = 0
    n_operations: int = 0

    def __repr__(self):
        lines = [f"Program(seed={self.seed}, n_operations={self.n_operations}):"]
        for i, x in enumerate(self.inputs):
            lines.append(f"  v{i} = input({np.array2string(x, precision=17, separator=', ')})")
        for k, step in enumerate(self.steps):
            lines.append(f"  v{len(self.inputs) + k} = {step.describe()}")
        lines.append(f"  outputs: {', '.join(f'v{i}' for i in self.outputs)}")
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle):
        # Hypothesis prints falsifying examples with its pretty printer, which would list the
        # dataclass fields; the program as numbered steps is what one wants to read.
        printer.text(repr(self))


def _is_literal(operand) -> bool:
    """A Python float operand, as opposed to the number of a value."""
    return isinstance(operand, float)


def _operands(step: Step, values: list) -> list:
    return [i if _is_literal(i) else values[i] for i in step.operands]


def run_step(functions, step: Step, operands: list):
    """Apply one step with ``functions`` (the nablanet.numpy module or TorchFunctions)."""
    if step.op == "constant":
        return functions.asarray(step.params["value"])
    if step.op == "where":
        return functions.where(step.params["condition"], *operands)
    if step.op in ("concatenate", "stack"):
        return getattr(functions, step.op)(operands, **step.params)
    return getattr(functions, step.op)(*operands, **step.params)


def run_program(functions, program: Program, inputs) -> list:
    """The program's outputs, computed with ``functions`` from ``inputs``."""
    values = list(inputs)
    for step in program.steps:
        values.append(run_step(functions, step, _operands(step, values)))
    return [values[i] for i in program.outputs]


def run_flattened(functions, program: Program, inputs):
    """All outputs raveled and joined into one vector: a single array for vjp and jvp."""
    return functions.concatenate([functions.reshape(out, (-1,)) for out in run_program(functions, program, inputs)])


# --- generating programs ------------------------------------------------------------------------

class Choices:
    """The discrete choices of the program generator, from a seeded ``random.Random``.

    All of a program's choices come from one seeded stream rather than from separate hypothesis
    draws. Hypothesis deliberately over-draws the smallest option of every choice: drawn that way,
    two in five of 200 programs had two steps, half the inputs were scalars, and the first
    operation came five times as often as a typical other. From a stream every operation and shape
    is drawn evenly, and hypothesis still shrinks a failure, to the shortest failing prefix of the
    program (see ``programs``).
    """

    def __init__(self, seed: int):
        self._random = random.Random(seed)

    def choice(self, options):
        return self._random.choice(list(options))

    def integer(self, low: int, high: int) -> int:
        return self._random.randint(low, high)

    def boolean(self) -> bool:
        return self._random.random() < 0.5


class Reject(Exception):
    """The operation drawn does not apply here (shape, size, domain, kink or tie): draw another."""


def _broadcastable(*shapes) -> bool:
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        return False
    return True


def _matmul_compatible(x_shape, y_shape) -> bool:
    if not x_shape or not y_shape:
        return False
    try:
        np.matmul(np.zeros(x_shape), np.zeros(y_shape))
    except ValueError:
        return False
    return True


def _factorizations(size: int, max_ndim: int = 3) -> list:
    """Every shape with at most max_ndim dimensions and ``size`` elements, 1s included (() when size is 1)."""
    shapes = [()] if size == 1 else []

    def extend(prefix, remaining):
        if prefix and remaining == 1:
            shapes.append(prefix)
        if len(prefix) < max_ndim:
            for d in range(1, remaining + 1):
                if remaining % d == 0:
                    extend(prefix + (d,), remaining // d)

    extend((), size)
    return shapes


def _near_tie_along(values: np.ndarray, axis) -> bool:
    """True when the largest (or smallest) entries along axis are closer than KINK_MARGIN."""
    if values.ndim == 0:
        return False
    axes = tuple(range(values.ndim)) if axis is None else ((axis,) if isinstance(axis, int) else axis)
    axes = tuple(a % values.ndim for a in axes)
    moved = np.moveaxis(values, axes, tuple(range(-len(axes), 0)))
    rows = np.sort(moved.reshape(moved.shape[: values.ndim - len(axes)] + (-1,)), axis=-1)
    if rows.shape[-1] < 2:
        return False
    gaps = np.minimum(rows[..., -1] - rows[..., -2], rows[..., 1] - rows[..., 0])
    return bool(np.min(gaps) < KINK_MARGIN)


class ProgramBuilder:
    """Adds random steps to a program, evaluating each one, so that every step is well defined."""

    def __init__(self, choices, rng: np.random.Generator, inputs: list):
        self.choices = choices
        self.rng = rng
        self.n_inputs = len(inputs)
        self.values = [np.asarray(x) for x in inputs]
        self.traced = [True] * len(inputs)
        self.steps = []

    # --- bookkeeping ---------------------------------------------------------------------------
    def emit(self, op: str, operands=(), **params) -> int:
        """Append a step after checking its value is finite, bounded and small; return its number."""
        step = Step(op, tuple(operands), params)
        # Every builder makes valid steps by construction, so an exception here is not caught: it
        # is either a builder's mistake or a nablanet bug, and must not be quietly redrawn.
        with np.errstate(all="ignore"):
            value = np.asarray(run_step(nnp, step, _operands(step, self.values)))
        if value.size == 0 or value.size > MAX_ELEMENTS or not np.all(np.isfinite(value)):
            raise Reject
        if np.max(np.abs(value)) > VALUE_LIMIT:
            raise Reject
        self.steps.append(step)
        self.values.append(value)
        self.traced.append(any(self.traced[i] for i in step.operands if not _is_literal(i)))
        return len(self.values) - 1

    def add_operation(self) -> None:
        """Draw an operation and append it (with any helper steps it needs), redrawing if it does not apply."""
        for _ in range(ATTEMPTS):
            name = self.choices.choice(OPERATIONS)
            mark = len(self.steps)
            try:
                OPERATIONS[name](self, name)
                return
            except Reject:
                del self.steps[mark:]
                del self.values[self.n_inputs + mark:]
                del self.traced[self.n_inputs + mark:]
        # tanh is smooth and bounded everywhere, so the program always gets its step.
        self.emit("tanh", [self.traced_operand()])

    def value_of(self, operand) -> np.ndarray:
        """The value of an operand: a value's array, or a literal as a 0-d array."""
        return np.asarray(operand) if _is_literal(operand) else self.values[operand]

    def values_where(self, predicate) -> list:
        """The numbers of the values (arrays) for which predicate(array) is true."""
        return [i for i, value in enumerate(self.values) if predicate(value)]

    def traced_operand(self, min_ndim: int = 0, max_ndim: int = 4) -> int:
        """A value that depends on the inputs, with min_ndim to max_ndim dimensions."""
        candidates = [i for i in self.values_where(lambda v: min_ndim <= v.ndim <= max_ndim) if self.traced[i]]
        if not candidates:
            raise Reject
        return self.choices.choice(candidates)

    def constant(self, shape) -> int:
        """A new constant array (no derivative is taken with respect to it), uniform in [-2, 2]."""
        return self.emit("constant", value=self.rng.uniform(-2.0, 2.0, shape))

    def broadcast_partner(self, shape):
        """Another operand for an elementwise op: an existing value that broadcasts, a new constant, or a literal."""
        existing = self.values_where(lambda v: _broadcastable(shape, v.shape))
        pick = self.choices.choice(["new constant", "literal", *existing])
        if pick == "literal":
            return float(self.rng.uniform(-2.0, 2.0))
        if pick != "new constant":
            return pick
        ndim = len(shape)
        options = [(), tuple(shape), tuple(shape[1:]), tuple(1 if self.choices.boolean() else n for n in shape)]
        if ndim < 3:
            options.append((2, *shape))
        return self.constant(self.choices.choice(options))

    def operand_of_shape(self, shape) -> int:
        """An operand of exactly this shape for a fused op (dense, gru_cell).

        An existing value of that shape, a new constant, or constant * mean(a value depending on the
        inputs): the last makes the op's gradient with respect to that operand needed too.
        """
        pick = self.choices.choice(["new constant", "from a traced value",
                                    *self.values_where(lambda v: v.shape == tuple(shape))])
        if pick == "new constant":
            return self.constant(shape)
        if pick == "from a traced value":
            scale = self.emit("mean", [self.traced_operand()], axis=None, keepdims=False)
            return self.emit("multiply", [self.constant(shape), scale])
        return pick

    def elementwise_pair(self) -> tuple:
        """Two operands for a binary elementwise op, at least one depending on the inputs, in random order."""
        x = self.traced_operand()
        y = self.broadcast_partner(self.values[x].shape)
        return (y, x) if self.choices.boolean() else (x, y)

    def split(self, size: int, parts: int) -> tuple:
        """size as a product of ``parts`` random factors (1s allowed), e.g. 12 -> (1, 3, 2, 2)."""
        factors = []
        for _ in range(parts - 1):
            factor = self.choices.choice([d for d in range(1, size + 1) if size % d == 0])
            factors.append(factor)
            size //= factor
        return (*factors, size)

    def square_plus_offset(self, i: int) -> int:
        """v*v + c with c in [0.2, 1]: a value at least 0.2 made from value i."""
        square = self.emit("multiply", [i, i])
        offset = self.emit("constant", value=np.asarray(self.rng.uniform(0.2, 1.0)))
        return self.emit("add", [square, offset])

    def at_least(self, i, lower: float):
        """``i`` itself if all its values are >= lower, else square_plus_offset(i) (lower <= 0.2)."""
        if np.min(self.value_of(i)) >= lower:
            return i
        if _is_literal(i):
            raise Reject
        return self.square_plus_offset(i)

    def away_from_zero(self, i):
        """``i`` itself if no value is within SAFE_DISTANCE of 0, else square_plus_offset(i)."""
        if np.min(np.abs(self.value_of(i))) >= SAFE_DISTANCE:
            return i
        if _is_literal(i):
            raise Reject
        return self.square_plus_offset(i)

    def draw_axis(self, ndim: int, allow_none: bool, allow_tuple: bool = False):
        options = [None] if allow_none or ndim == 0 else []
        options += list(range(-ndim, ndim))
        if allow_tuple and ndim >= 2:
            options += [(0, ndim - 1), (-2, -1)]
        return self.choices.choice(options)

    def int_indices(self, length: int):
        """An integer index array (values may repeat and be negative) of shape (m,) or (m1, m2), or an int."""
        shape = self.choices.choice([(), (self.choices.integer(1, 4),), (2, self.choices.integer(1, 3))])
        entries = [self.choices.integer(-length, length - 1) for _ in range(int(np.prod(shape, dtype=int)))]
        if shape == ():
            return entries[0]
        return np.asarray(entries, dtype=np.int64).reshape(shape)

    # --- the operations ------------------------------------------------------------------------
    def unary(self, op: str) -> None:
        self.emit(op, [self.traced_operand()])

    def kinked_at_zero(self, op: str) -> None:
        # abs and relu: not differentiable at 0.
        x = self.traced_operand()
        if np.min(np.abs(self.values[x])) < KINK_MARGIN:
            raise Reject
        self.emit(op, [x])

    def positive_unary(self, op: str) -> None:
        # log and sqrt need x > 0, log1p needs x > -1; stay SAFE_DISTANCE inside.
        lower = -1.0 + SAFE_DISTANCE if op == "log1p" else SAFE_DISTANCE
        self.emit(op, [self.at_least(self.traced_operand(), lower)])

    def binary(self, op: str) -> None:
        self.emit(op, self.elementwise_pair())

    def divide(self, op: str) -> None:
        numerator, denominator = self.elementwise_pair()
        self.emit(op, [numerator, self.away_from_zero(denominator)])

    def power(self, op: str) -> None:
        if self.choices.boolean():
            # A Python scalar exponent, as in x ** 2: only the base is differentiated. An integer
            # exponent takes any base (away from 0 when negative); a fractional one a positive base.
            exponent = self.choices.choice([2, 3, 2.0, -1.0, 0.5, 1.5, -0.5, float(self.rng.uniform(-2.0, 3.0))])
            base = self.traced_operand()
            if float(exponent).is_integer():
                base = base if exponent > 0 else self.away_from_zero(base)
            else:
                base = self.at_least(base, SAFE_DISTANCE)
            self.emit(op, [base], y=exponent)
        else:
            base, exponent = self.elementwise_pair()
            self.emit(op, [self.at_least(base, SAFE_DISTANCE), exponent])

    def extremum(self, op: str) -> None:
        x, y = self.elementwise_pair()
        if np.min(np.abs(self.value_of(x) - self.value_of(y))) < KINK_MARGIN:
            raise Reject
        self.emit(op, [x, y])

    def where(self, op: str) -> None:
        x, y = self.elementwise_pair()
        x_values, y_values = self.value_of(x), self.value_of(y)
        # The condition is a constant of the program (computed here once), so both libraries take
        # the same branch even where the compared values are close. It may have x's shape, their
        # broadcast shape, or a larger one (then it broadcasts x and y).
        kind = self.choices.choice(["x above its median", "x above y", "random, larger"])
        if kind == "x above its median":
            condition = x_values > np.median(x_values)
        elif kind == "x above y":
            condition = x_values > y_values
        else:
            condition = self.rng.random((2, *np.broadcast_shapes(x_values.shape, y_values.shape))) < 0.5
        self.emit(op, [x, y], condition=np.asarray(condition))

    def clip(self, op: str) -> None:
        x = self.traced_operand()
        values = self.values[x]
        low, high = float(np.min(values)), float(np.max(values))
        # Scalar bounds, or arrays that broadcast with x, as numpy.clip allows: of x's shape, with
        # some lengths 1, or with an extra leading axis (then the output is larger than x).
        some_unit = tuple(1 if self.choices.boolean() else n for n in values.shape)
        shape = self.choices.choice(["scalar", (), values.shape, some_unit, (2, *some_unit)])
        size = None if shape == "scalar" else shape
        a_min = self.rng.uniform(low - 0.5, high, size)
        a_max = a_min + self.rng.uniform(0.1, high - low + 0.5, size)
        if shape == "scalar":
            a_min, a_max = float(a_min), float(a_max)
        kind = self.choices.choice(["both", "a_min", "a_max"])
        bounds = {"a_min": a_min if kind != "a_max" else None, "a_max": a_max if kind != "a_min" else None}
        for bound in bounds.values():
            if bound is not None and np.min(np.abs(values - bound)) < KINK_MARGIN:
                raise Reject
        self.emit(op, [x], **bounds)

    def reduction(self, op: str) -> None:
        x = self.traced_operand()
        axis = self.draw_axis(self.values[x].ndim, allow_none=True, allow_tuple=True)
        if op in ("max", "min") and _near_tie_along(self.values[x], axis):
            raise Reject
        self.emit(op, [x], axis=axis, keepdims=self.choices.boolean())

    def normalize(self, op: str) -> None:
        x = self.traced_operand(min_ndim=1)
        self.emit(op, [x], axis=self.draw_axis(self.values[x].ndim, allow_none=False))

    def matmul(self, op: str) -> None:
        x = self.traced_operand(min_ndim=1)
        shape = self.values[x].shape
        partners = [("left", i) for i in self.values_where(lambda v: _matmul_compatible(v.shape, shape))]
        partners += [("right", i) for i in self.values_where(lambda v: _matmul_compatible(shape, v.shape))]
        side, other = self.choices.choice([("right", "new constant"), ("left", "new constant"), *partners])
        if other == "new constant":
            k = self.choices.integer(1, 3)
            if side == "right":
                other = self.constant(self.choices.choice([(shape[-1],), (shape[-1], k)]))
            else:
                rows = shape[-2] if len(shape) >= 2 else shape[0]
                other = self.constant(self.choices.choice([(rows,), (k, rows)]))
        self.emit(op, [x, other] if side == "right" else [other, x])

    def reshape(self, op: str) -> None:
        x = self.traced_operand()
        shape = self.choices.choice(_factorizations(self.values[x].size))
        if shape and self.choices.boolean():
            # One dimension may be left for reshape to infer.
            position = self.choices.integer(0, len(shape) - 1)
            shape = shape[:position] + (-1,) + shape[position + 1:]
        self.emit(op, [x], shape=shape)

    def transpose(self, op: str) -> None:
        x = self.traced_operand(min_ndim=2)
        ndim = self.values[x].ndim
        # None reverses the axes; the identity permutation (the first) is left out: it is no step.
        axes = self.choices.choice([None, *list(itertools.permutations(range(ndim)))[1:]])
        if axes is not None and self.choices.boolean():
            axes = tuple(a - ndim for a in axes)
        self.emit(op, [x], axes=axes)

    def expand_dims(self, op: str) -> None:
        x = self.traced_operand(max_ndim=3)
        ndim = self.values[x].ndim
        self.emit(op, [x], axis=self.choices.integer(-ndim - 1, ndim))

    def squeeze(self, op: str) -> None:
        x = self.traced_operand(min_ndim=1)
        shape = self.values[x].shape
        unit_axes = [a for a, n in enumerate(shape) if n == 1]
        if not unit_axes:
            raise Reject
        axis = self.choices.choice([None, *unit_axes, *(a - len(shape) for a in unit_axes)])
        self.emit(op, [x], axis=axis)

    def broadcast_to(self, op: str) -> None:
        x = self.traced_operand(max_ndim=3)
        shape = tuple(self.choices.integer(1, 3) if n == 1 else n for n in self.values[x].shape)
        if self.choices.boolean():
            shape = (self.choices.integer(2, 3), *shape)
        self.emit(op, [x], shape=shape)

    def concatenate(self, op: str) -> None:
        x = self.traced_operand(min_ndim=1)
        shape = self.values[x].shape
        axis = self.draw_axis(len(shape), allow_none=False)
        along = axis % len(shape)

        def fits(other):
            return len(other) == len(shape) and all(m == n for a, (m, n) in enumerate(zip(other, shape)) if a != along)

        others = []
        for _ in range(self.choices.integer(1, 2)):
            pick = self.choices.choice(["new constant", *self.values_where(lambda v: fits(v.shape))])
            if pick == "new constant":
                pick = self.constant(shape[:along] + (self.choices.integer(1, 3),) + shape[along + 1:])
            others.append(pick)
        position = self.choices.integer(0, len(others))
        self.emit(op, [*others[:position], x, *others[position:]], axis=axis)

    def stack(self, op: str) -> None:
        x = self.traced_operand(max_ndim=3)
        shape = self.values[x].shape
        others = []
        for _ in range(self.choices.integer(1, 2)):
            pick = self.choices.choice(["new constant", *self.values_where(lambda v: v.shape == shape)])
            others.append(self.constant(shape) if pick == "new constant" else pick)
        position = self.choices.integer(0, len(others))
        axis = self.choices.integer(-len(shape) - 1, len(shape))
        self.emit(op, [*others[:position], x, *others[position:]], axis=axis)

    def pad(self, op: str) -> None:
        x = self.traced_operand(min_ndim=1)
        ndim = self.values[x].ndim
        # numpy.pad's forms: a pair per axis, one pair for all axes, or one width for all sides.
        form = self.choices.choice(["pair per axis", "one pair", "one width"])
        if form == "pair per axis":
            pad_width = tuple((self.choices.integer(0, 2), self.choices.integer(0, 2)) for _ in range(ndim))
        elif form == "one pair":
            pad_width = ((self.choices.integer(0, 2), self.choices.integer(0, 2)),)
        else:
            pad_width = self.choices.integer(1, 2)
        fill = self.choices.choice([0.0, float(self.rng.uniform(-2.0, 2.0))])
        self.emit(op, [x], pad_width=pad_width, constant_values=fill)

    def getitem(self, op: str) -> None:
        x = self.traced_operand(min_ndim=1)
        shape = self.values[x].shape
        kind = self.choices.choice(["integer", "slices", "one index array", "two index arrays", "mask"])
        if kind == "integer":
            index = self.choices.integer(-shape[0], shape[0] - 1)
        elif kind == "slices":
            # Basic indexing of the leading axes (or, after an Ellipsis, the trailing ones): slices
            # with positive steps (torch has no negative ones), an integer now and then, and maybe
            # a new axis (None).
            count = self.choices.integer(1, len(shape))
            trailing = self.choices.boolean()
            parts = []
            for n in (shape[-count:] if trailing else shape[:count]):
                start = self.choices.integer(0, n - 1)
                if self.choices.integer(0, 4) == 0:
                    parts.append(start)
                    continue
                stop = self.choices.integer(start + 1, n)
                step = self.choices.integer(1, 2)
                parts.append(slice(start - n if self.choices.boolean() else start, stop, step))
            if self.choices.boolean():
                parts.insert(self.choices.integer(0, len(parts)), None)
            index = (Ellipsis, *parts) if trailing else tuple(parts)
        elif kind == "one index array":
            # Repeated indices make the VJP accumulate (scatter-add) rather than assign.
            axis = self.choices.integer(0, len(shape) - 1)
            indices = self.int_indices(shape[axis])
            indices = np.asarray(indices, dtype=np.int64) if np.ndim(indices) == 0 else indices
            if axis == len(shape) - 1 and self.choices.boolean():
                index = (Ellipsis, indices)
            else:
                index = (slice(None),) * axis + (indices,)
        elif kind == "two index arrays":
            if len(shape) < 2:
                raise Reject
            m = self.choices.integer(1, 4)
            index = tuple(np.asarray([self.choices.integer(-n, n - 1) for _ in range(m)], dtype=np.int64)
                          for n in shape[:2])
        else:
            mask = self.rng.random(shape[:1] if self.choices.boolean() else shape) < 0.5
            mask.flat[self.rng.integers(mask.size)] = True
            index = mask
        self.emit(op, [x], index=index)

    def take(self, op: str) -> None:
        x = self.traced_operand()
        shape = self.values[x].shape
        axis = self.draw_axis(len(shape), allow_none=True)
        length = self.values[x].size if axis is None else shape[axis]
        self.emit(op, [x], indices=self.int_indices(length), axis=axis)

    def dense(self, op: str) -> None:
        # The fused layer sigma(x W + b): x is (..., n_in), W is (n_in, n_out), b is (n_out,) or None.
        if self.choices.boolean():
            x = self.traced_operand(min_ndim=1)
            n_in = self.values[x].shape[-1]
            W = self.choices.choice(["new", *self.values_where(lambda v: v.ndim == 2 and v.shape[0] == n_in)])
            if W == "new":
                W = self.operand_of_shape((n_in, self.choices.integer(1, 3)))
        else:
            W = self.traced_operand(min_ndim=2, max_ndim=2)
            n_in = self.values[W].shape[0]
            x = self.choices.choice(["new", *self.values_where(lambda v: v.ndim >= 1 and v.shape[-1] == n_in)])
            if x == "new":
                x = self.operand_of_shape(self.choices.choice([(n_in,), (self.choices.integer(1, 3), n_in)]))
        n_out = self.values[W].shape[1]
        b = None if self.choices.boolean() else self.operand_of_shape((n_out,))
        activation = self.choices.choice(["identity", "relu", "leaky_relu", "elu", "sigmoid", "tanh"])
        operands = [x, W] if b is None else [x, W, b]
        pre_activation = nnp.dense(*[self.values[i] for i in operands])
        # relu, leaky_relu and elu have a kink at z = 0.
        if activation in ("relu", "leaky_relu", "elu") and np.min(np.abs(pre_activation)) < KINK_MARGIN:
            raise Reject
        # alpha: leaky_relu's slope and elu's scale for z < 0 (positive, as the two are defined).
        self.emit(op, operands, activation=activation, alpha=float(self.rng.uniform(0.05, 1.5)))

    def im2col(self, op: str) -> None:
        # x is (N, C, *spatial) with one or two spatial axes; any other value is reshaped to that first.
        x = self.traced_operand()
        if self.values[x].ndim not in (3, 4) or self.choices.boolean():
            x = self.emit("reshape", [x], shape=self.split(self.values[x].size, self.choices.integer(3, 4)))
        kernel, stride, dilation = [], [], []
        for n in self.values[x].shape[2:]:
            kernel.append(self.choices.integer(1, n))
            dilation.append(self.choices.choice([d for d in (1, 2) if d * (kernel[-1] - 1) + 1 <= n]))
            stride.append(self.choices.integer(1, 2))
        self.emit(op, [x], kernel=tuple(kernel), stride=tuple(stride), dilation=tuple(dilation))

    def convolution(self, op: str) -> None:
        # sigma(W * x + b): x (N, C, *spatial) with one or two spatial axes (any other value is
        # reshaped to that first, and sometimes made channels-last in memory, as a convolution's own
        # output is), W (C_out, C, *kernel), b (C_out,) or None.
        x = self.traced_operand()
        if self.values[x].ndim not in (3, 4) or self.choices.boolean():
            x = self.emit("reshape", [x], shape=self.split(self.values[x].size, self.choices.integer(3, 4)))
        if self.choices.boolean():
            ndim = self.values[x].ndim
            x = self.emit("transpose", [x], axes=(0, ndim - 1, *range(1, ndim - 1)))
        shape = self.values[x].shape
        kernel, stride, dilation = [], [], []
        for n in shape[2:]:
            kernel.append(self.choices.integer(1, n))
            dilation.append(self.choices.choice([d for d in (1, 2) if d * (kernel[-1] - 1) + 1 <= n]))
            stride.append(self.choices.integer(1, 2))
        settings = dict(stride=tuple(stride), dilation=tuple(dilation))
        W = self.operand_of_shape((self.choices.integer(1, 3), shape[1], *kernel))
        b = None if self.choices.boolean() else self.operand_of_shape((self.values[W].shape[0],))
        activation = self.choices.choice(["identity", "relu", "leaky_relu", "elu", "sigmoid", "tanh"])
        operands = [x, W] if b is None else [x, W, b]
        pre_activation = nnp.convolution(*[self.values[i] for i in operands], **settings)
        if activation in ("relu", "leaky_relu", "elu") and np.min(np.abs(pre_activation)) < KINK_MARGIN:
            raise Reject
        self.emit(op, operands, activation=activation, alpha=float(self.rng.uniform(0.05, 1.5)), **settings)

    def batch_norm(self, op: str) -> None:
        # x (N, C, ...) with 2-4 dimensions (any other value is reshaped to that first, and sometimes
        # made channels-last in memory, as a convolution's output is), gamma and beta (C,).
        x = self.traced_operand()
        if self.values[x].ndim < 2 or self.choices.boolean():
            x = self.emit("reshape", [x], shape=self.split(self.values[x].size, self.choices.integer(2, 4)))
        ndim = self.values[x].ndim
        if ndim > 2 and self.choices.boolean():
            x = self.emit("transpose", [x], axes=(0, ndim - 1, *range(1, ndim - 1)))
        values = self.values[x]
        # One value per feature has no variance (x_hat is 0, torch refuses it); a tiny variance makes
        # 1/sqrt(sigma^2 + eps) amplify the libraries' different roundings of the statistics.
        if values.size // values.shape[1] < 2:
            raise Reject
        if np.min(np.var(values, axis=(0, *range(2, ndim)))) < SAFE_DISTANCE**2:
            raise Reject
        gamma = self.operand_of_shape((values.shape[1],))
        beta = self.operand_of_shape((values.shape[1],))
        self.emit(op, [x, gamma, beta], eps=self.choices.choice([1e-5, 1e-3, 0.5]))

    def col2im(self, op: str) -> None:
        # Read a value as rows (N, prod(positions), C * prod(kernel)) of an image whose size
        # follows from the kernel, the number of positions, the stride and the dilation.
        x = self.traced_operand()
        n_spatial = self.choices.integer(1, 2)
        n, c, *rest = self.split(self.values[x].size, 2 + 2 * n_spatial)
        kernel, positions = tuple(rest[:n_spatial]), tuple(rest[n_spatial:])
        stride = tuple(self.choices.integer(1, 2) for _ in range(n_spatial))
        dilation = tuple(self.choices.integer(1, 2) for _ in range(n_spatial))
        spatial = tuple((p - 1) * s + d * (k - 1) + 1 for p, s, d, k in zip(positions, stride, dilation, kernel))
        rows = self.emit("reshape", [x], shape=(n, int(np.prod(positions)), c * int(np.prod(kernel))))
        self.emit(op, [rows], shape=(n, c, *spatial), kernel=kernel, stride=stride, dilation=dilation)

    def pool(self, op: str) -> None:
        # Non-overlapping windows over x (N, C, *spatial), one or two spatial axes, each window
        # length dividing the axis; any other value is reshaped to such a shape first.
        x = self.traced_operand()
        if self.values[x].ndim not in (3, 4) or self.choices.boolean():
            x = self.emit("reshape", [x], shape=self.split(self.values[x].size, self.choices.integer(3, 4)))
        values = self.values[x]
        kernel = tuple(self.choices.choice([k for k in range(1, n + 1) if n % k == 0]) for n in values.shape[2:])
        if op == "max_pool_windows":
            # No near-ties inside a window: its maximum must be unique. Split each spatial axis into
            # (windows, offset) and look along the offset axes.
            split = list(values.shape[:2])
            for n, k in zip(values.shape[2:], kernel):
                split += [n // k, k]
            offset_axes = tuple(3 + 2 * i for i in range(len(kernel)))
            if _near_tie_along(values.reshape(split), offset_axes):
                raise Reject
        self.emit(op, [x], kernel=kernel)

    def gru_cell(self, op: str) -> None:
        # One GRU step: x (N, in), h (N, H), W_ih (in, 3H), W_hh (H, 3H), b_ih and b_hh (3H,). A traced
        # 2-D value is x, h or one of the weights; its shape fixes some sizes, the others are drawn.
        anchor = self.traced_operand(min_ndim=1, max_ndim=2)
        rows, *cols = self.values[anchor].shape
        roles = ["b_ih", "b_hh"] if not cols else ["x", "h", "W_ih", "W_hh"]
        role = self.choices.choice(roles)
        size = {"N": self.choices.integer(1, 3), "in": self.choices.integer(1, 3), "H": self.choices.integer(1, 2)}
        if role == "x":
            size["N"], size["in"] = rows, cols[0]
        elif role == "h":
            size["N"], size["H"] = rows, cols[0]
        elif role == "W_ih":
            size["in"], size["H"] = rows, cols[0] // 3
        elif role == "W_hh":
            size["H"] = rows
        else:
            size["H"] = rows // 3
        shapes = {"x": (size["N"], size["in"]), "h": (size["N"], size["H"]), "W_ih": (size["in"], 3 * size["H"]),
                  "W_hh": (size["H"], 3 * size["H"]), "b_ih": (3 * size["H"],), "b_hh": (3 * size["H"],)}
        if size["H"] < 1 or self.values[anchor].shape != shapes[role]:
            raise Reject
        operands = [anchor if name == role else self.operand_of_shape(shape) for name, shape in shapes.items()]
        self.emit(op, operands)

    def cross_entropy(self, op: str) -> None:
        logits = self.traced_operand(min_ndim=1)
        shape = self.values[logits].shape
        if self.choices.boolean():
            # Integer class labels, one per row (shape of the logits without the class axis).
            labels = [self.choices.integer(0, shape[-1] - 1) for _ in range(int(np.prod(shape[:-1], dtype=int)))]
            targets = np.asarray(labels, dtype=np.int64).reshape(shape[:-1])
        else:
            # Class probabilities: rows on the simplex (the fused gradient softmax - t assumes rows sum to 1).
            targets = self.rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
        self.emit(op, [logits], targets=targets)


# Operation name -> how the builder adds it. Each name is also the function called in nablanet.numpy
# and TorchFunctions.
OPERATIONS = {
    **{name: ProgramBuilder.unary for name in ("negative", "exp", "expm1", "sin", "cos", "tanh", "sigmoid")},
    "abs": ProgramBuilder.kinked_at_zero,
    "relu": ProgramBuilder.kinked_at_zero,
    **{name: ProgramBuilder.positive_unary for name in ("log", "log1p", "sqrt")},
    **{name: ProgramBuilder.binary for name in ("add", "subtract", "multiply")},
    "divide": ProgramBuilder.divide,
    "power": ProgramBuilder.power,
    "maximum": ProgramBuilder.extremum,
    "minimum": ProgramBuilder.extremum,
    "where": ProgramBuilder.where,
    "clip": ProgramBuilder.clip,
    **{name: ProgramBuilder.reduction for name in ("sum", "mean", "max", "min", "logsumexp")},
    "softmax": ProgramBuilder.normalize,
    "log_softmax": ProgramBuilder.normalize,
    "matmul": ProgramBuilder.matmul,
    "reshape": ProgramBuilder.reshape,
    "transpose": ProgramBuilder.transpose,
    "expand_dims": ProgramBuilder.expand_dims,
    "squeeze": ProgramBuilder.squeeze,
    "broadcast_to": ProgramBuilder.broadcast_to,
    "concatenate": ProgramBuilder.concatenate,
    "stack": ProgramBuilder.stack,
    "pad": ProgramBuilder.pad,
    "getitem": ProgramBuilder.getitem,
    "take": ProgramBuilder.take,
    "erf": ProgramBuilder.unary,
    "dense": ProgramBuilder.dense,
    "softmax_cross_entropy": ProgramBuilder.cross_entropy,
    "batch_norm": ProgramBuilder.batch_norm,
    "im2col": ProgramBuilder.im2col,
    "col2im": ProgramBuilder.col2im,
    "convolution": ProgramBuilder.convolution,
    "max_pool_windows": ProgramBuilder.pool,
    "avg_pool_windows": ProgramBuilder.pool,
    "gru_cell": ProgramBuilder.gru_cell,
}


def input_shapes(choices) -> list:
    """1-3 shapes that broadcast together: suffixes of one base shape with some lengths set to 1.

    Most inputs keep all of the base's dimensions; about one in five is a scalar. The base has at
    most 27 elements, so that every operation has room under MAX_ELEMENTS.
    """
    ndim = choices.integer(1, 3)
    base = tuple(choices.integer(2, 4 if ndim < 3 else 3) for _ in range(ndim))
    shapes = []
    for _ in range(choices.integer(1, 3)):
        suffix = base[choices.choice([0, 0, 0, 1, len(base)]):]
        shapes.append(tuple(1 if choices.integer(0, 3) == 0 else n for n in suffix))
    return shapes


def build_program(seed: int, n_operations: int) -> Program:
    """A random program with n_operations operations, with output weightings and input tangents.

    Everything comes from the seed. Values come from a numpy generator rather than from discrete
    choices: they are continuous, so ties and kinks arise only from the program's structure (x - x,
    max over broadcast copies), which the builder sees and avoids.
    """
    choices = Choices(seed)
    rng = np.random.default_rng(seed)
    inputs = [rng.uniform(-2.0, 2.0, shape) for shape in input_shapes(choices)]
    builder = ProgramBuilder(choices, rng, inputs)
    for _ in range(n_operations):
        builder.add_operation()
    used = {i for step in builder.steps for i in step.operands if not _is_literal(i)}
    outputs = tuple(i for i in range(len(inputs), len(builder.values)) if builder.traced[i] and i not in used)
    # Weights and tangents are drawn last, so the program with fewer operations is a prefix of this one.
    return Program(
        inputs=inputs,
        steps=builder.steps,
        outputs=outputs,
        weights=[rng.standard_normal(builder.values[i].shape) for i in outputs],
        tangents=[rng.standard_normal(x.shape) for x in inputs],
        seed=seed,
        n_operations=n_operations,
    )


def programs():
    """Hypothesis strategy of random programs of 2-8 operations over the primitives.

    A program is determined by its seed and its number of operations. Shrinking the number of
    operations cuts the program to a prefix (the choices are one stream), so a failure shrinks
    toward the first operation that goes wrong; the repr gives both numbers to rebuild it.
    """
    return st.builds(build_program, seed=st.integers(0, 2**32 - 1), n_operations=st.integers(2, 8))


# --- running a program in both libraries --------------------------------------------------------

def _zeros_if_none(gradient, like):
    return np.zeros_like(like) if gradient is None else np.asarray(gradient)


def nablanet_reverse(program: Program):
    """Outputs, the loss sum_k sum(output_k * w_k), and its gradients by Tensor.backward and by nablanet.vjp."""
    leaves = [nablanet.Tensor(x.copy(), requires_grad=True) for x in program.inputs]
    outputs = run_program(nnp, program, leaves)
    loss = sum(nnp.sum(nnp.multiply(out, weight)) for out, weight in zip(outputs, program.weights))
    loss.backward()
    by_backward = [_zeros_if_none(leaf.grad, leaf.numpy()) for leaf in leaves]
    # The same gradient as one VJP of the flattened outputs: the transforms' entry to the engine
    # (fresh leaves made from the arrays, gradients wanted for those leaves only, a vector cotangent).
    _, flat_vjp = nablanet.vjp(lambda *xs: run_flattened(nnp, program, xs), *program.inputs)
    by_vjp = [np.asarray(g) for g in flat_vjp(np.concatenate([w.ravel() for w in program.weights]))]
    return [out.numpy() for out in outputs], loss.numpy(), by_backward, by_vjp


def torch_reverse(program: Program):
    """Outputs, the loss sum_k sum(output_k * w_k), and its gradients by torch.autograd.grad."""
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in program.inputs]
    outputs = run_program(TorchFunctions, program, leaves)
    loss = sum(torch.sum(out * torch.as_tensor(weight)) for out, weight in zip(outputs, program.weights))
    gradients = torch.autograd.grad(loss, leaves, allow_unused=True, materialize_grads=True)
    return [out.detach().numpy() for out in outputs], loss.detach().numpy(), [g.numpy() for g in gradients]


def nablanet_forward(program: Program):
    """The flattened outputs and their tangent along the program's input tangents, by nablanet.jvp."""
    flat, flat_dot = nablanet.jvp(lambda *xs: run_flattened(nnp, program, xs), program.inputs, program.tangents)
    return np.asarray(flat), np.asarray(flat_dot)


def torch_forward(program: Program):
    """The flattened outputs and their tangent along the program's input tangents, by torch.func.jvp."""
    primals = tuple(torch.as_tensor(x, dtype=torch.float64) for x in program.inputs)
    tangents = tuple(torch.as_tensor(t, dtype=torch.float64) for t in program.tangents)
    flat, flat_dot = torch.func.jvp(lambda *xs: run_flattened(TorchFunctions, program, xs), primals, tangents)
    return flat.numpy(), flat_dot.numpy()


def assert_matches(ours, theirs, what: str) -> None:
    """Same shape, float64, and equal to the issue's tolerance."""
    ours = np.asarray(ours)
    assert ours.shape == np.shape(theirs), f"{what}: shape {ours.shape}, torch gives {np.shape(theirs)}"
    assert ours.dtype == np.float64, f"{what}: dtype {ours.dtype}, expected float64"
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL, err_msg=what)


# --- the differential tests ---------------------------------------------------------------------

# derandomize: the same 200 programs on every run, so CI is reproducible and needs no example database.
PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
)


@PROPERTY_SETTINGS
@given(programs())
def test_reverse_mode_matches_torch(program):
    outputs, loss, by_backward, by_vjp = nablanet_reverse(program)
    torch_outputs, torch_loss, torch_gradients = torch_reverse(program)
    for i, ours, theirs in zip(program.outputs, outputs, torch_outputs):
        assert_matches(ours, theirs, f"output v{i}")
    assert_matches(loss, torch_loss, "sum_k sum(output_k * w_k)")
    for i, (ours, theirs) in enumerate(zip(by_backward, torch_gradients)):
        assert_matches(ours, theirs, f"gradient of input v{i} by Tensor.backward")
    for i, (ours, theirs) in enumerate(zip(by_vjp, torch_gradients)):
        assert_matches(ours, theirs, f"gradient of input v{i} by nablanet.vjp")


@PROPERTY_SETTINGS
@given(programs())
def test_forward_mode_matches_torch(program):
    flat, flat_dot = nablanet_forward(program)
    torch_flat, torch_flat_dot = torch_forward(program)
    assert_matches(flat, torch_flat, "outputs (flattened)")
    assert_matches(flat_dot, torch_flat_dot, "output tangents (flattened)")


# Registered primitives the random programs do not call directly, and why.
NOT_GENERATED = {
    "identity": "inserted by the transforms themselves, not a NumPy function",
    "astype": "a dtype conversion: the comparison is in float64 throughout",
    "sign": "piecewise constant, never differentiated",
    "heaviside": "a step function whose derivative raises by design (torch has none either)",
}


def test_generated_programs_reach_every_primitive():
    """The generator is not vacuous: across 300 programs every registered primitive is run.

    Counted with count_ops over the forward and the reverse pass, and over a forward-mode pass
    (scatter_add appears only in getitem's VJP, window_select only in max_pool's JVP), so a newly
    registered op fails this test until the generator learns it or a table of ``torch_cases/``
    compares it with torch (or says why torch has no twin).
    """
    reached = set()
    repeated_index = broadcast_pair = literal_operand = False
    for seed in range(300):
        program = build_program(seed, n_operations=2 + seed % 7)
        # One output at a time, so that no op of a flattening or a loss is counted as covered.
        for k in range(len(program.outputs)):
            counts = nablanet.count_ops(lambda *xs, p=program, k=k: run_program(nnp, p, xs)[k], *program.inputs)
            reached |= set(counts.forward_calls) | set(counts.reverse_calls)
            # count_ops of a function that runs jvp: its forward calls include the tangent rules'.
            tangent_counts = nablanet.count_ops(
                lambda *xs, p=program, k=k: nablanet.jvp(lambda *ys: run_program(nnp, p, ys)[k], xs, p.tangents)[1],
                *program.inputs)
            reached |= set(tangent_counts.forward_calls)
        shapes = {x.shape for x in program.inputs}
        broadcast_pair |= len(shapes) > 1
        for step in program.steps:
            literal_operand |= any(_is_literal(i) for i in step.operands)
            index = step.params.get("index", step.params.get("indices"))
            for part in index if isinstance(index, tuple) else (index,):
                if isinstance(part, np.ndarray) and part.dtype != bool and len(np.unique(part)) < part.size:
                    repeated_index = True
    missing = set(nablanet.OPS) - set(NOT_GENERATED) - torch_cases.covered_ops() - reached
    assert not missing, f"no generated program runs {sorted(missing)}"
    assert repeated_index, "no generated program indexes with repeated integer indices (scatter-add)"
    assert broadcast_pair, "no generated program has inputs of different (broadcast) shapes"
    assert literal_operand, "no generated program has a Python float operand"


def test_every_public_function_is_compared_with_torch():
    """Each differentiable public function is run by the random programs, compared by a table of
    ``torch_cases/``, or listed there with the reason torch has no twin."""
    from op_cases import public_functions, uncovered

    missing = uncovered(public_functions(), set(OPERATIONS) | torch_cases.covered_ops())
    assert not missing, f"public functions never compared with torch: {missing}"


# --- fixed points: stability at extreme arguments, conventions at kinks and ties ---------------------

def assert_matches_torch_at(fn, arrays, atol=ATOL):
    """fn(functions, *arrays) by nablanet and by torch: values, VJP and JVP finite and equal.

    The VJP is the gradient of sum(fn * w) for a random w (by Tensor.backward), the JVP is taken
    along random tangents (by nablanet.jvp); torch's by torch.autograd.grad and torch.func.jvp.
    """
    rng = np.random.default_rng(0)
    leaves = [nablanet.Tensor(x.copy(), requires_grad=True) for x in arrays]
    output = fn(nnp, *leaves)
    weight = rng.standard_normal(output.shape)
    nnp.sum(output * weight).backward()
    tangents = [rng.standard_normal(x.shape) for x in arrays]
    _, output_dot = nablanet.jvp(lambda *xs: fn(nnp, *xs), arrays, tangents)

    torch_leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in arrays]
    torch_output = fn(TorchFunctions, *torch_leaves)
    torch_gradients = torch.autograd.grad(torch.sum(torch_output * torch.as_tensor(weight)), torch_leaves)
    _, torch_output_dot = torch.func.jvp(lambda *xs: fn(TorchFunctions, *xs),
                                         tuple(torch.as_tensor(x) for x in arrays),
                                         tuple(torch.as_tensor(t) for t in tangents))

    results = {"value": (output.numpy(), torch_output.detach().numpy()),
               "tangent": (np.asarray(output_dot), torch_output_dot.numpy())}
    for i, (leaf, torch_gradient) in enumerate(zip(leaves, torch_gradients)):
        results[f"gradient of argument {i}"] = (_zeros_if_none(leaf.grad, leaf.numpy()), torch_gradient.numpy())
    for what, (ours, theirs) in results.items():
        assert np.all(np.isfinite(ours)), f"{what} is not finite: {ours}"
        assert np.shape(ours) == np.shape(theirs), f"{what}: shape {np.shape(ours)}, torch gives {np.shape(theirs)}"
        np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=atol, err_msg=what)


# Logits of magnitude 1e4: e^1e4 overflows and e^-1e4 underflows to 0, so only the max-subtracted
# forms stay finite. Rows mix both signs and spreads of a few units, which decide the result.
LARGE_LOGITS = np.array([[1e4, -1e4, 1e4 - 3.0, 5e3],
                         [-1e4, -1e4 + 1.5, -2e4, -1e4 + 0.25],
                         [2e4, 2e4 + 0.5, 2e4 - 0.5, 2e4 + 1.0]])


@pytest.mark.parametrize("name", ["logsumexp", "softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [-1, 0])
def test_normalizers_stable_on_large_logits(name, axis):
    assert_matches_torch_at(lambda ns, x: getattr(ns, name)(x, axis=axis), [LARGE_LOGITS])


def test_logsumexp_of_all_large_logits_is_stable():
    assert_matches_torch_at(lambda ns, x: ns.logsumexp(x), [LARGE_LOGITS])


def test_sigmoid_stable_at_extremes():
    # e^1000 overflows, so 1/(1 + e^-x) must not be evaluated as such at -1000, and the derivative
    # sigma (1 - sigma) must come out 0 there, not NaN. At -30 the value 9.4e-14 must keep its
    # relative precision.
    x = np.array([-1000.0, -30.0, -1e-3, 0.0, 2.0, 30.0, 1000.0])
    assert_matches_torch_at(lambda ns, x: ns.sigmoid(x), [x])


@pytest.mark.parametrize("name", ["log1p", "expm1"])
def test_log1p_expm1_accurate_near_zero(name):
    # The values are about 1e-12, below the absolute floor of 1e-10 that would accept even
    # log(1 + x) (relative error ~1e-4 there): compare purely relatively.
    x = np.array([1e-12, -1e-12, 3e-15, 1e-300])
    assert_matches_torch_at(lambda ns, x: getattr(ns, name)(x), [x], atol=0.0)


# The random programs stay away from kinks and ties. Exactly at them, nablanet documents the
# derivative it picks "as PyTorch" does: ties share the gradient evenly, clip's bounds are inside,
# |x|' = 0 at 0, and d(x^y)/dy = 0 at x = 0. Both modes are checked against torch at such points.
TIED = np.array([[1.0, 3.0, 3.0, 2.0], [0.0, 0.0, -1.0, 0.0]])
OTHER = np.array([[1.0, 0.0, 3.0, 5.0], [0.0, 1.0, -1.0, 0.0]])
KINK_CASES = {
    "max of all, tied": (lambda ns, x: ns.max(x), [TIED]),
    "max along axis 1, tied": (lambda ns, x: ns.max(x, axis=1), [TIED]),
    "min along axis 1, keepdims, tied": (lambda ns, x: ns.min(x, axis=1, keepdims=True), [TIED]),
    "maximum, tied": (lambda ns, x, y: ns.maximum(x, y), [TIED, OTHER]),
    "minimum, tied": (lambda ns, x, y: ns.minimum(x, y), [TIED, OTHER]),
    "clip, at both bounds": (lambda ns, x: ns.clip(x, 0.0, 2.0), [TIED]),
    "abs, at 0": (lambda ns, x: ns.abs(x), [TIED]),
    "power, base 0": (lambda ns, x, y: ns.power(x, y), [np.array([0.0, 0.0, 0.0, 2.0]),
                                                        np.array([2.0, 3.0, 1.5, 0.5])]),
    # Windows after a ReLU: all zero, or a repeated positive maximum; the gradient goes to the first
    # maximum in row-major order. The input is made channels-last in memory first, the layout a
    # convolution's output has: merging the W and C axes of (N, H, W, C) copies it in that order.
    "max pool, tied, channels-last": (
        lambda ns, x: ns.max_pool_windows(_channels_last_copy(ns, x), (2, 2)),
        [np.maximum(np.random.default_rng(9).integers(-2, 3, (2, 3, 4, 6)), 0).astype(float)]),
}


def _channels_last_copy(ns, x):
    n, c, h, w = x.shape
    rows = ns.reshape(ns.transpose(x, (0, 2, 3, 1)), (n, h, w * c))
    return ns.transpose(ns.reshape(rows, (n, h, w, c)), (0, 3, 1, 2))


@pytest.mark.parametrize("case", KINK_CASES.values(), ids=KINK_CASES.keys())
def test_conventions_at_kinks_and_ties_match_torch(case):
    fn, arrays = case
    assert_matches_torch_at(fn, arrays)


def test_clip_bounds_that_broadcast_x_to_a_larger_shape():
    """Array bounds broadcast with x, as in numpy.clip and torch.clamp: here x (3,) gives (2, 3).

    A regression test: Clip's rules once built their 0/1 mask in x's shape (``inside &= x >= a_min``
    in place), so both the VJP and the JVP raised "non-broadcastable output operand with shape (3,)
    doesn't match the broadcast shape (2,3)" although the forward pass had broadcast.
    """
    x = np.array([0.5, 1.5, 2.5])
    a_min = np.array([[1.0], [0.0]])
    assert_matches_torch_at(lambda ns, x: ns.clip(x, a_min, np.asarray(2.0)), [x])


def test_col2im_rejects_rows_of_the_wrong_shape():
    """col2im of rows (1, 2, 1) where (N, positions, prod(kernel) * C) = (1, 1, 2) is required.

    torch's fold rejects the same rows (in its layout, transposed), and so must nablanet: a regression
    test for a bug this file found, where Col2Im reshaped any rows with the right number of elements
    and the engine's sum_to_shape reshaped the wrong-shaped gradient to fit.
    """
    rows = np.array([[[1.0], [2.0]]])
    settings = {"shape": (1, 1, 1, 2), "kernel": (1, 2), "stride": (2, 2), "dilation": (2, 1)}
    with pytest.raises(RuntimeError):
        TorchFunctions.col2im(torch.as_tensor(rows), **settings)
    with pytest.raises(ValueError):
        nnp.col2im(rows, **settings)
