"""Neural-network primitives: the fused dense layer, softmax cross-entropy, erf (for GELU), Heaviside.

The first two are fused for speed: they are the two hottest paths of a feed-forward network. Their
VJPs are exactly the back-propagation equations of the lecture notes, and tests check that they
equal the same computation written with elementary primitives.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from nablanet.autodiff.op import Op, register
from nablanet.autodiff.ops.elementwise import exp, where
from nablanet.autodiff.ops.linalg import matmul
from nablanet.autodiff.ops.reduce import log_softmax, sum

__all__ = ["dense", "softmax_cross_entropy", "erf", "heaviside", "relu", "DENSE_ACTIVATIONS"]


def _raw(x):
    return x._data if hasattr(x, "_data") else np.asarray(x)


# --- activations whose derivative is a function of their output a = sigma(z) ----------------------
# The fused dense layer keeps only a, so sigma'(z) must be expressible through a. Each entry is
# (forward on z in place, sigma'(z) written with a).

def _relu_forward(z, alpha):
    # z * (z > 0) rather than maximum(z, 0): NumPy's float maximum takes half again as long, and
    # the product keeps NaN as NaN just the same.
    return np.multiply(z, z > 0, out=z)


def _relu_slope(a, alpha):
    # A boolean mask: multiplying float32 by bool keeps float32 and saves a conversion pass.
    return _raw(a) > 0


def _leaky_relu_forward(z, alpha):
    return np.where(z > 0, z, z * alpha).astype(z.dtype, copy=False)


def _leaky_relu_slope(a, alpha):
    a_raw = _raw(a)
    return np.where(a_raw > 0, 1.0, alpha).astype(a_raw.dtype)


def _elu_forward(z, alpha):
    # expm1 only of z <= 0: the unused branch must not overflow for large positive z.
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0))).astype(z.dtype, copy=False)


def _elu_slope(a, alpha):
    # For z <= 0, d/dz alpha (e^z - 1) = alpha e^z = a + alpha.
    return where(_raw(a) > 0, 1.0, a + alpha)


def _sigmoid_forward(z, alpha):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


def _sigmoid_slope(a, alpha):
    return a * (1.0 - a)


def _tanh_forward(z, alpha):
    return np.tanh(z, out=z)


def _tanh_slope(a, alpha):
    return 1.0 - a * a


DENSE_ACTIVATIONS = {
    "identity": (lambda z, alpha: z, None),
    "relu": (_relu_forward, _relu_slope),
    "leaky_relu": (_leaky_relu_forward, _leaky_relu_slope),
    "elu": (_elu_forward, _elu_slope),
    "sigmoid": (_sigmoid_forward, _sigmoid_slope),
    "tanh": (_tanh_forward, _tanh_slope),
}


def _as_rows(x):
    """x (..., n) as one matrix of rows (a view when x is contiguous): one BLAS call instead of a batch."""
    return x.reshape(-1, x.shape[-1]) if x.ndim != 2 and x.flags.c_contiguous else x


def _add_row_vector(z, b):
    """z += b in place for every row of z (..., n).

    Broadcasting b over rows of a few dozen values makes NumPy's inner loop that short; with z
    contiguous, rows are grouped into longer ones and b tiled to match.
    """
    n = b.shape[0]
    group = max(1, 512 // n)
    if z.flags.c_contiguous and n and (z.size // n) % group == 0 and group > 1:
        z = z.reshape(-1, group * n)
        b = np.tile(b, group)
    np.add(z, b, out=z)


def _column_sums(delta_rows):
    """sum over rows of delta (rows, n).

    NumPy sums over axis 0 of a narrow matrix one short row at a time; a product with a vector of
    ones is one BLAS call and several times faster. On Tensors (higher-order derivatives) it stays
    a recorded sum.
    """
    if isinstance(delta_rows, np.ndarray) and delta_rows.ndim == 2:
        return np.ones(delta_rows.shape[0], dtype=delta_rows.dtype) @ delta_rows
    return delta_rows.sum(axis=0)


@register
class Dense(Op):
    """The fused fully connected layer a = sigma(z), z = x W + b, with the notes' backpropagation as its VJP.

    With rows of x as samples (x: (N, n_in), W: (n_in, n_out), b: (n_out,)) and g = dC/da:

        delta = g * sigma'(z)           (the notes' delta^l = dC/da^l * sigma'(z^l); sigma' from a)
        dC/dW = x^T delta               (dC/dW^l = delta^l (a^{l-1})^T, one row per sample)
        dC/db = sum_samples delta       (dC/db^l = delta^l)
        dC/dx = delta W^T               (passed on to layer l-1: (W^l)^T delta^l)

    dC/dx is computed only when some earlier value needs it, which skips a third of the matrix work
    for the first layer. Leading batch dimensions beyond one are allowed (x: (..., n_in)).

    A primitive for speed: one op instead of matmul, add and the activation, z overwritten in
    place by a, and the slope taken from a (so z need not be kept).
    """

    def forward(x, W, *bias, activation, alpha):
        z = np.matmul(_as_rows(x), W).reshape(x.shape[:-1] + W.shape[1:])
        if bias:
            _add_row_vector(z, bias[0])
        return DENSE_ACTIVATIONS[activation][0](z, alpha)

    def vjp(grad_out, out, x, W, *bias, activation, alpha, needs):
        # Written with methods that ndarrays and Tensors share (.T, .reshape, .sum): in the first-order
        # pass they are NumPy's own, with no dispatch cost; on Tensors they are recorded ops.
        slope = DENSE_ACTIVATIONS[activation][1]
        delta = grad_out if slope is None else grad_out * slope(out, alpha)
        x_shape = x.shape
        if x.ndim != 2:
            n_in, n_out = W.shape
            x = x.reshape(-1, n_in)
            delta_rows = delta.reshape(-1, n_out)
        else:
            delta_rows = delta
        grad_x = (delta_rows @ W.T).reshape(x_shape) if needs[0] else None
        grad_W = x.T @ delta_rows if needs[1] else None
        grad_b = _column_sums(delta_rows) if bias and needs[2] else None
        return (grad_x, grad_W, grad_b)[: 2 + len(bias)]

    def jvp(x_dot, W_dot, *rest, activation, alpha, needs):
        # rest = (b_dot, out, x, W, b) with a bias, (out, x, W) without.
        has_bias = len(rest) == 5
        b_dot = rest[0] if has_bias else None
        out, x, W = rest[1:4] if has_bias else rest[:3]
        z_dot = None
        if needs[0]:
            z_dot = matmul(x_dot, W)
        if needs[1]:
            term = matmul(x, W_dot)
            z_dot = term if z_dot is None else z_dot + term
        if has_bias and needs[2]:
            z_dot = b_dot if z_dot is None else z_dot + b_dot
        slope = DENSE_ACTIVATIONS[activation][1]
        return z_dot if slope is None else z_dot * slope(out, alpha)

    def flops(out, x, W, *bias, activation, alpha):
        rows = int(np.size(out)) // np.shape(W)[1]
        matmul_flops = 2 * rows * np.shape(W)[0] * np.shape(W)[1]
        return matmul_flops + int(np.size(out)) * (len(bias) + (activation != "identity"))


def dense(x, W, b=None, activation: str = "identity", alpha: float = 0.01):
    """sigma(x W + b) as one fused primitive (see Dense); b may be None.

    Args:
        x: inputs, shape (..., n_in).
        W: weights, shape (n_in, n_out).
        b: biases, shape (n_out,), or None.
        activation: one of "identity", "relu", "leaky_relu", "elu", "sigmoid", "tanh".
        alpha: the slope of leaky_relu for z < 0, or the scale of elu.
    """
    if activation not in DENSE_ACTIVATIONS:
        raise ValueError(f"dense: activation must be one of {sorted(DENSE_ACTIVATIONS)}, got {activation!r}")
    x_shape, W_shape = np.shape(_raw(x)), np.shape(_raw(W))
    if len(W_shape) != 2 or not x_shape or x_shape[-1] != W_shape[0]:
        raise ValueError(f"dense: inputs of shape {x_shape} do not fit weights of shape {W_shape} "
                         f"(expected inputs (..., {W_shape[0] if W_shape else '?'}))")
    inputs = (x, W) if b is None else (x, W, b)
    return Dense.apply(*inputs, activation=activation, alpha=float(alpha))


@register
class SoftmaxCrossEntropy(Op):
    """C = -(1/N) sum_n sum_k t_nk log softmax(z_n)_k, from logits z, fused with its gradient.

    dC/dz = (softmax(z) - t) / N: the notes' output error delta^L for softmax with cross-entropy,
    never forming the softmax Jacobian. Targets are constants: integer class labels of shape (N,)
    or class probabilities (one-hot or soft) of shape (N, K). The log-softmax is computed with the
    maximum subtracted, so logits of magnitude 1e4 give finite losses and gradients.
    """

    name = "softmax_cross_entropy"

    def forward(logits, *, targets):
        log_p = logits - logits.max(axis=-1, keepdims=True)
        log_p = log_p - np.log(np.sum(np.exp(log_p), axis=-1, keepdims=True))
        rows = log_p.size // log_p.shape[-1]
        if targets.dtype.kind in "iu":
            picked = np.take_along_axis(log_p.reshape(rows, -1), targets.reshape(rows, 1), axis=1)
            return -np.sum(picked, dtype=log_p.dtype) / log_p.dtype.type(rows)
        return -np.sum(targets * log_p, dtype=log_p.dtype) / log_p.dtype.type(rows)

    def vjp(grad_out, out, logits, *, targets):
        logits_raw = _raw(logits)
        rows = logits_raw.size // logits_raw.shape[-1]
        probabilities = exp(log_softmax(logits, axis=-1))
        if targets.dtype.kind in "iu":
            difference = probabilities - _one_hot(targets, logits_raw)
        else:
            difference = probabilities - targets
        return (difference * (grad_out / rows),)

    def jvp(logits_dot, out, logits, *, targets):
        rows = _raw(logits).size // _raw(logits).shape[-1]
        difference = exp(log_softmax(logits, axis=-1))
        if targets.dtype.kind in "iu":
            difference = difference - _one_hot(targets, _raw(logits))
        else:
            difference = difference - targets
        return sum(logits_dot * difference) / rows

    def flops(out, logits, *, targets):
        return 4 * int(np.size(logits))


def _one_hot(labels, like):
    one_hot = np.zeros(like.shape, dtype=like.dtype)
    np.put_along_axis(one_hot.reshape(-1, like.shape[-1]), labels.reshape(-1, 1), 1, axis=1)
    return one_hot


def softmax_cross_entropy(logits, targets):
    """Mean cross-entropy of softmax(logits) against integer labels (N,) or probabilities (N, K).

    Raises:
        ValueError: labels outside 0..K-1, non-integer labels, or probability targets of the wrong shape.
    """
    logits_shape = np.shape(_raw(logits))
    targets = np.asarray(_raw(targets))
    n_classes = logits_shape[-1]
    if targets.dtype.kind in "iu":
        if targets.shape != logits_shape[:-1]:
            raise ValueError(f"cross-entropy: integer labels of shape {targets.shape} do not match logits of "
                             f"shape {logits_shape} (expected labels of shape {logits_shape[:-1]})")
        if targets.size and (targets.min() < 0 or targets.max() >= n_classes):
            raise ValueError(f"cross-entropy: labels must be class indices in 0..{n_classes - 1}, "
                             f"got values from {targets.min()} to {targets.max()}")
        targets = targets.astype(np.intp, copy=False)
    elif targets.dtype.kind == "f":
        if targets.shape != logits_shape:
            raise ValueError(f"cross-entropy: probability targets of shape {targets.shape} do not match logits of "
                             f"shape {logits_shape}; pass integer class labels of shape {logits_shape[:-1]} "
                             "or one-hot rows of the logits' shape")
        targets = targets.astype(_raw(logits).dtype, copy=False)
    else:
        raise ValueError(f"cross-entropy: targets must be integer labels or float probabilities, got dtype {targets.dtype}")
    return SoftmaxCrossEntropy.apply(logits, targets=targets)


@register
class ReLU(Op):
    """a = max(z, 0).   da/dz = 1 where z > 0, else 0 (0 at z = 0, as PyTorch).

    A primitive for speed: one pass forward (where(z > 0, z, 0) takes a comparison and a select) and
    a boolean mask backward; a test checks it equals the where() composition.
    """

    name = "relu"

    def forward(x):
        return np.maximum(x, 0)

    def vjp(grad_out, out, x):
        return (grad_out * (_raw(out) > 0),)

    def jvp(x_dot, out, x):
        return x_dot * (_raw(out) > 0)


def relu(x):
    """max(x, 0), with derivative 0 at 0."""
    return ReLU.apply(x)


@register
class Erf(Op):
    """The error function erf(x) = 2/sqrt(pi) int_0^x e^{-t^2} dt.   d erf/dx = 2/sqrt(pi) e^{-x^2}."""

    def forward(x):
        return special.erf(x)

    def vjp(grad_out, out, x):
        return (grad_out * (_TWO_OVER_SQRT_PI * exp(-(x * x))),)

    def jvp(x_dot, out, x):
        return x_dot * (_TWO_OVER_SQRT_PI * exp(-(x * x)))


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def erf(x):
    """The error function (used by the exact GELU)."""
    return Erf.apply(x)


class HeavisideDerivativeError(TypeError):
    """Raised when a derivative of the Heaviside step is asked for."""


_HEAVISIDE_MESSAGE = (
    "heaviside (the step function) has derivative zero wherever it has one, so gradient descent cannot "
    "train through it; use the perceptron learning rule, or a smooth activation such as sigmoid"
)


@register
class Heaviside(Op):
    """The step function H(z) = 1 if z >= 0 else 0 (the notes' 1{z >= 0}). Forward only.

    Its derivative is zero almost everywhere, so a gradient through it would silently be zero and
    nothing would learn: asking for one raises HeavisideDerivativeError instead.
    """

    def forward(x):
        return (np.asarray(x) >= 0).astype(np.result_type(x))

    def vjp(grad_out, out, x):
        raise HeavisideDerivativeError(_HEAVISIDE_MESSAGE)

    def jvp(x_dot, out, x):
        raise HeavisideDerivativeError(_HEAVISIDE_MESSAGE)


def heaviside(x):
    """1 where x >= 0, else 0; differentiating through it raises HeavisideDerivativeError."""
    return Heaviside.apply(x)
