"""Activations and losses as plain functions of Tensors, composed from the engine's primitives, each
registered where it is defined (nablanet.nn.activations, nablanet.nn.losses); convolution and pooling.

Losses average over samples (reduction "mean"); every one takes ``(predictions, targets)``, and per-sample
weights as ``sample_weight=`` (the weighted mean over samples, see nablanet.nn.losses).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from nablanet.autodiff import ops
from nablanet.autodiff.jit import tracing
from nablanet.autodiff.ops.conv import avg_pool_windows, conv_output_size, convolution, im2col, max_pool_windows
from nablanet.autodiff.ops.nn import dense as _dense, erf, softmax_cross_entropy, softmax_cross_entropy_rows
from nablanet.checks import check_choice, check_ints
from nablanet.nn.activations import ACTIVATIONS, fusion, get_activation, register_activation
from nablanet.nn.losses import LOSSES, get_loss, register_loss, sample_weights

__all__ = [
    "identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu", "softmax", "log_softmax",
    "heaviside", "dense", "get_activation", "ACTIVATIONS",
    "mse", "mae", "huber", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "hinge",
    "weighted_mean", "get_loss", "LOSSES",
    "conv", "max_pool", "avg_pool", "global_avg_pool",
]

_INF = math.inf


# --- activations ---------------------------------------------------------------------------------
# Each is registered right after its definition (see nablanet.nn.activations.ActivationRecord). Its
# ``derivative`` is sigma' written out in NumPy from the formula, apart from the engine's rules, for
# the chain-rule trace's independent derivation; ``init`` follows He et al. (2015) for the ReLU family
# (ReLU and the units that are ReLU-like for large |z|: leaky ReLU, ELU, softplus, GELU, as Geron's
# table of initializations in the notes' textbook and Keras's guidance) and Glorot & Bengio (2010) for
# the rest (identity, the saturating sigmoid and tanh, softmax), Keras's default.

def identity(z):
    """sigma(z) = z."""
    return z


register_activation("identity", identity, aliases=("linear",), fused="identity", init="glorot",
                    derivative=lambda z: np.ones_like(z))


def sigmoid(z):
    """sigma(z) = 1 / (1 + e^-z), stable for any z.   sigma' = sigma (1 - sigma)."""
    return ops.sigmoid(z)


def _sigmoid_derivative(z):
    s = special.expit(z)
    return s * (1.0 - s)


register_activation("sigmoid", sigmoid, aliases=("logistic",), fused="sigmoid", init="glorot", output_range=(0.0, 1.0),
                    derivative=_sigmoid_derivative)


def tanh(z):
    """sigma(z) = tanh z.   sigma' = 1 - sigma^2."""
    return ops.tanh(z)


register_activation("tanh", tanh, fused="tanh", init="glorot", output_range=(-1.0, 1.0),
                    derivative=lambda z: 1.0 - np.tanh(z) ** 2)


def relu(z):
    """sigma(z) = max(0, z).   sigma' = 1 for z > 0, else 0 (0 at z = 0, as PyTorch)."""
    return ops.relu(z)


register_activation("relu", relu, fused="relu", init="he", output_range=(0.0, _INF), kinks=(0.0,),
                    derivative=lambda z: (z > 0).astype(np.float64))


def _kink_at_zero_unless_alpha_is_one(alpha):
    # Slopes alpha (z < 0) and 1 (z > 0) meet at z = 0: a kink, except when they are equal.
    return () if alpha == 1.0 else (0.0,)


def leaky_relu(z, alpha: float = 0.01):
    """sigma(z) = z for z > 0, alpha z otherwise.   sigma' = 1 for z > 0, alpha otherwise."""
    return ops.where(_values(z) > 0, z, alpha * z)


register_activation("leaky_relu", leaky_relu, fused="leaky_relu", init="he",
                    output_range=lambda alpha: (-_INF if alpha > 0 else 0.0, _INF),
                    kinks=_kink_at_zero_unless_alpha_is_one,
                    derivative=lambda z, alpha: np.where(z > 0, 1.0, alpha))


def elu(z, alpha: float = 1.0):
    """sigma(z) = z for z > 0, alpha (e^z - 1) otherwise (Clevert et al., 2015).   sigma' = 1 for z > 0, alpha e^z otherwise."""
    # expm1 of z only where z <= 0: the branch not taken must not overflow, or its zero gradient
    # becomes 0 * inf. A where (not minimum, which splits ties) keeps elu'(0) = alpha, as PyTorch.
    positive = _values(z) > 0
    return ops.where(positive, z, alpha * ops.expm1(ops.where(positive, 0.0, z)))


register_activation("elu", elu, fused="elu", init="he", output_range=lambda alpha: (min(-alpha, 0.0), _INF),
                    kinks=_kink_at_zero_unless_alpha_is_one,
                    derivative=lambda z, alpha: np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0))))


def softplus(z):
    """sigma(z) = log(1 + e^z) = logaddexp(0, z), which never overflows.   sigma' = sigmoid(z), sigma'' = sigma' (1 - sigma').

    Through the logaddexp primitive, whose rules are smooth: the composite max(z, 0) + log1p(e^-|z|)
    had zero curvature at z = 0 (its two kinks cancel only at first order), where sigma''(0) = 1/4.
    """
    return ops.logaddexp(0.0, z)


register_activation("softplus", softplus, init="he", output_range=(0.0, _INF), derivative=special.expit)


#: GELU's forms: "none", the exact z Phi(z); "tanh", the approximation (PyTorch's names).
GELU_APPROXIMATIONS = ("none", "tanh")


def gelu(z, approximate: str = "none"):
    """sigma(z) = z Phi(z) = z (1 + erf(z / sqrt 2)) / 2 (Hendrycks & Gimpel, 2016).   sigma' = Phi(z) + z phi(z).

    ``approximate="tanh"`` gives 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))), as PyTorch's option.
    """
    if check_choice("gelu", "approximate", approximate, GELU_APPROXIMATIONS) == "tanh":
        return 0.5 * z * (1.0 + ops.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z * z * z)))
    return 0.5 * z * (1.0 + erf(z * (1.0 / math.sqrt(2.0))))


def _gelu_derivative(z):
    # The exact form's (the one Dense applies): Phi the standard normal CDF, phi its density.
    return special.ndtr(z) + z * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


# inf z Phi(z) = -0.16997 at z = -0.75179 (found numerically; the tanh approximation's is -0.17004).
register_activation("gelu", gelu, init="he", output_range=(-0.17004075057125, _INF), derivative=_gelu_derivative)


def softmax(z, axis: int = -1):
    """a_k = e^{z_k} / sum_j e^{z_j} along axis."""
    return ops.softmax(z, axis=axis)


register_activation("softmax", softmax, init="glorot", output_range=(0.0, 1.0), elementwise=False)


def heaviside(z):
    """The step activation sigma(z) = 1{z >= 0} = numpy.heaviside(z, 1.0); its derivative is refused
    (HeavisideDerivativeError): train a perceptron with its own learning rule."""
    return ops.heaviside(z, 1.0)


register_activation("heaviside", heaviside, aliases=("step",), init="glorot", output_range=(0.0, 1.0), kinks=(0.0,))


def log_softmax(z, axis: int = -1):
    """log softmax(z), computed stably."""
    return ops.log_softmax(z, axis=axis)


def dense(x, W, b=None, activation="identity", alpha=None):
    """a = sigma(x W + b) for any registered activation (or function) sigma; b may be None.

    An activation with a fused kernel (relu, leaky_relu, elu, sigmoid, tanh, identity) runs inside
    the fused dense primitive (nablanet.autodiff.ops.nn.Dense, the notes' back-propagation equations
    as its VJP); any other is applied to its output.

    Args:
        x: inputs (..., n_in).  W: weights (n_in, n_out).  b: biases (n_out,) or None.
        activation: a name or alias of ACTIVATIONS, or a function.
        alpha: leaky_relu's slope or elu's scale; default: the activation's own (0.01, 1.0).
    """
    kernel, kernel_alpha, _, after = fusion(activation, alpha)
    a = _dense(x, W, b, activation=kernel, alpha=kernel_alpha)
    return a if after is None else after(a)


# --- losses --------------------------------------------------------------------------------------

def _values(x):
    # isinstance, not asarray: a traced array of nablanet.jit stays one, so work on it is recorded.
    return x.data if hasattr(x, "_data") else x if isinstance(x, np.ndarray) else np.asarray(x)


def _matching_targets(predictions, targets, loss: str):
    """Targets as an array of the predictions' shape and dtype, or a clear error."""
    target_values = np.asanyarray(_values(targets))  # asanyarray: nablanet.jit's traced targets stay traced
    shape = np.shape(_values(predictions))
    if target_values.shape != shape:
        if target_values.ndim == 1 and shape == (target_values.shape[0], 1):
            target_values = target_values[:, None]
        else:
            raise ValueError(f"{loss}: targets of shape {target_values.shape} do not match predictions of shape {shape}")
    return target_values.astype(_values(predictions).dtype, copy=False)


def weighted_mean(terms, sample_weight=None, loss: str = "loss"):
    """The losses' reduction of their terms (one per element of the predictions): the mean of all of them,
    or with per-sample weights w_i (one per row) C = sum_i w_i l_i / sum_i w_i, l_i the mean of row i's terms.

    With every w_i equal this is the mean; a batch whose weights are all zero has C = 0 (and no gradient)
    rather than 0/0: it holds no data. A loss of one's own reduces its terms with it to take sample_weight
    as the shipped losses do; ``loss`` names it in errors.

    Example:
        >>> float(weighted_mean(np.array([1.0, 3.0])))
        2.0
        >>> float(weighted_mean(np.array([[1.0, 1.0], [3.0, 5.0]]), sample_weight=np.array([3.0, 1.0])))
        1.75
    """
    if sample_weight is None:
        return ops.mean(terms)
    shape = np.shape(_values(terms))
    if len(shape) == 0:
        raise ValueError(f"{loss}: sample_weight needs predictions with samples along axis 0, got a scalar")
    w = sample_weights(sample_weight, shape[0], _values(terms).dtype, f"{loss}: sample_weight")
    per_sample = ops.mean(terms, axis=tuple(range(1, len(shape)))) if len(shape) > 1 else terms
    total = np.sum(w)
    return ops.sum(per_sample * (w / total if total > 0 else w))


def mse(predictions, targets, *, sample_weight=None):
    """Mean squared error C = (1/n) sum_i (y_i - t_i)^2 over all n elements.

    The 1/n convention (no factor 1/2), as the notes' "Regression MSE" and PyTorch's MSELoss; its
    gradient is therefore (2/n)(y - t). With ``sample_weight`` w (one per row), the weighted mean over
    the rows of each row's mean (see nablanet.nn.losses), here and in every loss below.
    """
    difference = predictions - _matching_targets(predictions, targets, "mse")
    return weighted_mean(difference * difference, sample_weight, "mse")


register_loss("mse", mse, aliases=("mean_squared_error",), targets="values", task="regression", outputs="values")


def mae(predictions, targets, *, sample_weight=None):
    """Mean absolute error C = (1/n) sum_i |y_i - t_i|."""
    return weighted_mean(ops.abs(predictions - _matching_targets(predictions, targets, "mae")), sample_weight, "mae")


register_loss("mae", mae, aliases=("mean_absolute_error",), targets="values", task="regression", outputs="values")


def huber(predictions, targets, delta: float = 1.0, *, sample_weight=None):
    """Huber loss: mean of r^2/2 where |r| <= delta, delta (|r| - delta/2) beyond (as PyTorch's HuberLoss)."""
    residual = ops.abs(predictions - _matching_targets(predictions, targets, "huber"))
    quadratic = ops.minimum(residual, delta)
    return weighted_mean(0.5 * quadratic * quadratic + delta * (residual - quadratic), sample_weight, "huber")


register_loss("huber", huber, targets="values", task="regression", outputs="values")


def binary_cross_entropy(probabilities, targets, *, sample_weight=None):
    """C = -(1/n) sum [t log p + (1 - t) log(1 - p)] from probabilities p in (0, 1).

    Logarithms are floored at -100, as in PyTorch's BCELoss, so p = 0 or 1 gives a large finite
    loss rather than inf. Prefer binary_cross_entropy_with_logits when the logits are at hand.
    """
    t = _check_binary(_matching_targets(probabilities, targets, "binary_cross_entropy"), "binary_cross_entropy")
    p = _values(probabilities)
    _check_probabilities(p)
    # Logarithms only of positive numbers: at p = 0 or 1 the floored branch is taken, and the log's
    # argument there is a harmless 1, so no 0/0 reaches the gradient (the double-where pattern).
    log_p = ops.where(p > 0, ops.maximum(ops.log(ops.where(p > 0, probabilities, 1.0)), -100.0), -100.0)
    log_not_p = ops.where(p < 1, ops.maximum(ops.log1p(-ops.where(p < 1, probabilities, 0.0)), -100.0), -100.0)
    return -weighted_mean(t * log_p + (1.0 - t) * log_not_p, sample_weight, "binary_cross_entropy")


# "binary_crossentropy" is Keras' name for the same loss on probabilities (its default from_logits=False):
# a network ending in a sigmoid, as in Keras.
register_loss("binary_cross_entropy", binary_cross_entropy, aliases=("bce", "binary_crossentropy"), targets="values",
              task="classification", outputs="probabilities", labels=(0.0, 1.0))


def binary_cross_entropy_with_logits(logits, targets, *, sample_weight=None):
    """Binary cross-entropy of sigmoid(z) against t, computed from the logits z without overflow.

    C = (1/n) sum [log(1 + e^z) - z t] = (1/n) sum [logaddexp(0, z) - z t]: through the logaddexp
    primitive, so its Hessian is diag(sigmoid(z)(1 - sigmoid(z)))/n everywhere, z = 0 included.
    """
    t = _check_binary(_matching_targets(logits, targets, "binary_cross_entropy_with_logits"),
                      "binary_cross_entropy_with_logits")
    return weighted_mean(ops.logaddexp(0.0, logits) - logits * t, sample_weight, "binary_cross_entropy_with_logits")


register_loss("binary_cross_entropy_with_logits", binary_cross_entropy_with_logits, targets="values",
              task="classification", outputs="logits", labels=(0.0, 1.0))


def cross_entropy(logits, targets, *, sample_weight=None):
    """Categorical cross-entropy of softmax(logits): targets are integer labels (N,) or one-hot rows (N, K).

    Fused with its gradient (softmax(z) - t)/N and stable for logits of magnitude 1e4; see
    nablanet.autodiff.ops.nn.SoftmaxCrossEntropy. With ``sample_weight`` w, the per-row losses of
    softmax_cross_entropy_rows weighted, whose gradient is w_n (softmax(z_n) - t_n) / sum w.
    """
    if sample_weight is None:
        return softmax_cross_entropy(logits, targets)
    return weighted_mean(softmax_cross_entropy_rows(logits, targets), sample_weight, "cross_entropy")


# Keras' names: "sparse_categorical_crossentropy" (integer labels) and "categorical_crossentropy" (one-hot
# rows); cross_entropy takes either. Unlike Keras' default (from_logits=False, a network ending in a softmax)
# they mean the loss on logits, Keras' from_logits=True, the only one nablanet has: end the network
# without a softmax, which this loss applies itself.
register_loss("cross_entropy", cross_entropy, targets="labels", task="classification", outputs="logits",
              aliases=("categorical_cross_entropy", "sparse_categorical_crossentropy", "categorical_crossentropy"))


def hinge(scores, targets, *, sample_weight=None):
    """Hinge loss C = (1/n) sum max(0, 1 - t y) for labels t in {-1, +1} (labels 0/1 are mapped to -1/+1)."""
    t = _matching_targets(scores, targets, "hinge")
    values = tracing.peek(np.unique(t))
    zero_one = np.all(np.isin(t, (0.0, 1.0)))
    if not (np.all(np.isin(values, (0.0, 1.0))) or np.all(np.isin(values, (-1.0, 1.0)))):
        raise ValueError(f"hinge: labels must be -1/+1 (or 0/1), got values {values[:5].tolist()}")
    # A where, not an if: a compiled loss maps each batch's labels by that batch's convention.
    t = np.where(zero_one, 2.0 * t - 1.0, t)
    return weighted_mean(ops.maximum(1.0 - t * scores, 0.0), sample_weight, "hinge")


# Labels -1/+1, or 0/1 read as -1/+1.
register_loss("hinge", hinge, targets="values", task="classification", outputs="logits", labels=(-1.0, 0.0, 1.0))


def _check_probabilities(p):
    # Outside [0, 1] the floored logarithms give a loss that can go negative and a gradient that pushes
    # further out, with no error: the usual cause is logits (no sigmoid at the output) given to this loss.
    outside = tracing.peek((p < 0) | (p > 1))
    if np.any(outside):
        raise ValueError(f"binary_cross_entropy: the predictions must be probabilities in [0, 1], but they range from "
                         f"{np.nanmin(p):.4g} to {np.nanmax(p):.4g}; for logits (a network without a sigmoid at its "
                         "output) use binary_cross_entropy_with_logits")


def _check_binary(t, loss: str):
    values = tracing.peek(t)
    if values.size and (values.min() < 0 or values.max() > 1):
        raise ValueError(f"{loss}: targets must lie in [0, 1], got values from {values.min()} to {values.max()}")
    return t


# --- convolution and pooling (channels first: (N, C, L) or (N, C, H, W)) ----------------------------

def conv_geometry(kernel: tuple, stride, padding, dilation, owner: str = "conv") -> tuple:
    """(stride, dilation, padding widths) of a convolution with kernel sizes ``kernel``, checked.

    Args:
        kernel: the kernel's spatial sizes, one per spatial axis.
        stride, dilation: positive ints, one for every axis or one per axis.
        padding: 'valid', 'same' (stride 1, as PyTorch), or non-negative ints (zeros on both sides).
        owner: who is asking, for messages (a layer's class name, or the function's).

    Returns:
        (stride, dilation, widths): tuples with one entry per spatial axis, widths as (before, after).
    """
    n = len(kernel)
    stride = check_ints(owner, "stride", stride, n)
    dilation = check_ints(owner, "dilation", dilation, n)
    return stride, dilation, _padding_widths(padding, kernel, stride, dilation, owner)


def pool_geometry(kernel_size, stride, padding, n_spatial: int, owner: str = "pool") -> tuple:
    """(kernel, stride, padding widths) of a pooling over ``n_spatial`` axes, checked.

    The kernel and stride are positive ints (the stride defaults to the kernel); the padding is at most
    half the kernel, as in PyTorch, so that no window lies in the padding alone.
    """
    kernel = check_ints(owner, "kernel_size", kernel_size, n_spatial)
    stride = kernel if stride is None else check_ints(owner, "stride", stride, n_spatial)
    widths = _padding_widths(padding, kernel, stride, (1,) * n_spatial, owner)
    if any(before > k // 2 for (before, _), k in zip(widths, kernel)):
        raise ValueError(f"{owner}: padding must be at most half the kernel size, got {padding!r} for kernel {kernel}")
    return kernel, stride, widths


def _padding_widths(padding, kernel, stride, dilation, owner: str):
    """(before, after) per spatial axis for an int, a tuple, 'valid' or 'same' (stride 1, as PyTorch)."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{owner}: padding='same' needs stride 1 (as in PyTorch); give the padding as "
                                 "integers instead")
            # Any odd total goes on the right, as PyTorch does.
            totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise ValueError(f"{owner}: padding must be 'valid', 'same' or non-negative integers, got {padding!r}")
    widths = check_ints(owner, "padding", padding, n, minimum=0)
    return tuple((w, w) for w in widths)


def _pad_spatial(x, widths, value=0.0):
    if not any(before or after for before, after in widths):
        return x
    return ops.pad(x, ((0, 0), (0, 0)) + tuple(widths), constant_values=value)


def conv(x, W, b=None, stride=1, padding=0, dilation=1, activation="identity", alpha=None):
    """Convolution (cross-correlation, as PyTorch) of x (N, C_in, *spatial) with W (C_out, C_in, *kernel).

        z[n, o, p] = b[o] + sum_{c, k} W[o, c, k] x[n, c, p * stride + k * dilation]   (after padding)
        a = sigma(z)

    Computed in the notes' matrix form by the convolution primitive: the receptive fields of x become
    the rows of a patch matrix (im2col), and the convolution is that matrix times the kernels
    reshaped to (prod(kernel) * C_in, C_out), with the bias and activation applied in place; dW is
    one matrix product, and the gradient with respect to x goes back through col2im, adding
    overlapping fields. The result is laid out channels-last in memory and viewed channels-first.

    Args:
        x: input, (N, C_in, L) or (N, C_in, H, W).
        W: kernels, (C_out, C_in, *kernel).
        b: biases (C_out,) or None.
        stride, dilation: ints or one per spatial axis.
        padding: 'valid', 'same' (stride 1), or ints (zeros on both sides), one per spatial axis.
        activation: a name or alias of ACTIVATIONS, or a function; one with a fused kernel (relu,
            leaky_relu, elu, sigmoid, tanh, identity) runs inside the convolution's matrix product,
            any other is applied to its output.
        alpha: slope of leaky_relu or scale of elu; default: the activation's own (0.01, 1.0).

    Returns:
        (N, C_out, *out_spatial).
    """
    x_shape, W_shape = np.shape(_values(x)), np.shape(_values(W))
    n_spatial = len(W_shape) - 2
    if len(x_shape) != n_spatial + 2 or x_shape[1] != W_shape[1]:
        raise ValueError(f"conv: input of shape {x_shape} does not fit kernels of shape {W_shape} "
                         f"(expected (N, {W_shape[1]}, {n_spatial} spatial dimensions))")
    stride, dilation, widths = conv_geometry(tuple(W_shape[2:]), stride, padding, dilation)
    x = _pad_spatial(x, widths)
    kernel_name, kernel_alpha, _, after = fusion(activation, alpha)
    a = convolution(x, W, b, stride=stride, dilation=dilation, activation=kernel_name, alpha=kernel_alpha)
    return a if after is None else after(a)


def _pool(x, kernel, stride, padding, reduce, window_reduce, pad_value, name):
    x_shape = np.shape(_values(x))
    n_spatial = len(x_shape) - 2
    if n_spatial < 1:
        raise ValueError(f"{name}: expected input of shape (N, C, *spatial), got {x_shape}")
    kernel, stride, widths = pool_geometry(kernel, stride, padding, n_spatial, name)
    n, c = x_shape[:2]
    spatial = tuple(m + before + after for m, (before, after) in zip(x_shape[2:], widths))
    out = tuple(conv_output_size(m, k, s, 1) for m, k, s in zip(spatial, kernel, stride))
    x = _pad_spatial(x, widths, pad_value)
    if kernel == stride:
        # Non-overlapping windows: crop the remainder (floor mode, as PyTorch) and pool with the
        # window primitives; no patch matrix is copied.
        crop = (slice(None), slice(None)) + tuple(slice(0, o * k) for o, k in zip(out, kernel))
        x = x[crop] if any(o * k != m for o, k, m in zip(out, kernel, spatial)) else x
        return window_reduce(x, kernel)
    rows = im2col(ops.reshape(x, (n * c, 1) + spatial), kernel, stride)
    return ops.reshape(reduce(rows, axis=2), (n, c) + out)


def max_pool(x, kernel_size, stride=None, padding=0):
    """Maximum over windows of each channel (N, C, *spatial); stride defaults to the kernel size.

    Padding counts as -inf (never the maximum), as in PyTorch. Ties within a window: with
    non-overlapping windows (stride equal to the kernel, the default) the whole gradient goes to the
    first maximum in row-major order, as in PyTorch; with overlapping windows the tied elements share
    it evenly (the max reduction's rule), where PyTorch still picks the first.
    """
    return _pool(x, kernel_size, stride, padding, ops.max, max_pool_windows, -np.inf, "max_pool")


def avg_pool(x, kernel_size, stride=None, padding=0):
    """Mean over windows of each channel; padded zeros count in the mean (PyTorch's count_include_pad)."""
    return _pool(x, kernel_size, stride, padding, ops.mean, avg_pool_windows, 0.0, "avg_pool")


def global_avg_pool(x):
    """Mean over all spatial positions: (N, C, *spatial) -> (N, C)."""
    n_spatial = len(np.shape(_values(x))) - 2
    return ops.mean(x, axis=tuple(range(2, 2 + n_spatial)))
