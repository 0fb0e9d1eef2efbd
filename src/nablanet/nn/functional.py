"""Activations, dropout and losses as plain functions of Tensors, composed from the engine's primitives, each
activation and loss registered where it is defined (nablanet.nn.activations, nablanet.nn.losses); convolution
and pooling.

The losses live in nablanet.nn.functional_losses (regression, binary and categorical) and
nablanet.nn.functional_distributions (divergences, likelihoods, the cosine embedding loss) and are
re-exported here. Every one takes ``(predictions, targets)`` (and its further inputs), a ``reduction``
("mean", the default, "sum" or "none", as PyTorch's), and per-sample weights as ``sample_weight=`` (the
weighted mean over samples, see nablanet.nn.losses).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from nablanet.autodiff import ops
from nablanet.autodiff.jit import tracing
from nablanet.autodiff.ops.conv import avg_pool_windows, conv_output_size, convolution, im2col, max_pool_windows
from nablanet.autodiff.ops.nn import DEFAULT_ALPHAS, dense as _dense, erf
from nablanet.checks import check_bool, check_choice, check_ints, check_real
from nablanet.nn.activations import ACTIVATIONS, fusion, get_activation, register_activation
from nablanet.nn.init import make_rng
from nablanet.nn.functional_distributions import (cosine_embedding_loss, gaussian_nll_loss, kl_div,
                                                  poisson_nll_loss)
from nablanet.nn.functional_losses import (REDUCTIONS, binary_cross_entropy, binary_cross_entropy_with_logits,
                                           cross_entropy, hinge, huber, mae, mse, nll_loss, reduce_terms,
                                           smooth_l1_loss, weighted_mean)
from nablanet.nn.losses import LOSSES, get_loss

__all__ = [
    "identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu", "softmax", "log_softmax",
    "heaviside", "dense", "get_activation", "ACTIVATIONS", "dropout",
    "mse", "mae", "huber", "smooth_l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "cross_entropy", "nll_loss", "hinge", "kl_div", "poisson_nll_loss", "gaussian_nll_loss", "cosine_embedding_loss",
    "weighted_mean", "reduce_terms", "REDUCTIONS", "get_loss", "LOSSES",
    "conv", "pad_spatial", "PADDING_MODES", "max_pool", "avg_pool", "global_avg_pool",
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


def leaky_relu(z, alpha: float = DEFAULT_ALPHAS["leaky_relu"]):
    """sigma(z) = z for z > 0, alpha z otherwise.   sigma' = 1 for z > 0, alpha otherwise."""
    return ops.where(_values(z) > 0, z, alpha * z)


register_activation("leaky_relu", leaky_relu, fused="leaky_relu", init="he",
                    output_range=lambda alpha: (-_INF if alpha > 0 else 0.0, _INF),
                    kinks=_kink_at_zero_unless_alpha_is_one,
                    derivative=lambda z, alpha: np.where(z > 0, 1.0, alpha))


def elu(z, alpha: float = DEFAULT_ALPHAS["elu"]):
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


# --- dropout -------------------------------------------------------------------------------------

def dropout(x, p: float = 0.5, training: bool = True, *, rng=None, broadcast_axes=()):
    """Inverted dropout (Srivastava et al., 2014): a = x m / (1 - p) with m_i ~ Bernoulli(1 - p), in training.

    Each survivor is scaled by 1/(1 - p) so that E[a] = x and evaluation needs no rescaling; out of
    training (``training=False``) and at p = 0 it returns x itself. At p = 1 every unit is dropped:
    a = 0 x, whose gradient is 0, with no 1/(1 - p) formed (PyTorch's ``dropout(p=1.0)``). The
    gradient goes through the same mask, da/dx = m / (1 - p).

    Args:
        x: any shape.
        p: the probability of dropping a unit, in [0, 1].
        training: False: the identity.
        rng: numpy Generator or int seed for the mask (None: a generator from the library's seed).
        broadcast_axes: axes along which the mask is the same draw (size 1, broadcast): the spatial
            axes for dropping whole channels (Tompson et al., 2015; Dropout1d/2d), as Flax's
            ``broadcast_dims``.

    Returns:
        a, of x's shape.

    Example:
        >>> dropout(np.ones(4), 1.0).tolist()
        [0.0, 0.0, 0.0, 0.0]
        >>> sorted(set(dropout(np.ones(6), 0.5, rng=0).tolist()))
        [0.0, 2.0]
    """
    p = check_real("dropout", "p", p, low=0.0, high=1.0)
    if not check_bool("dropout", "training", training) or p == 0.0:
        return x
    values = _values(x)
    dtype = values.dtype if values.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    axes = {axis % values.ndim for axis in broadcast_axes}
    mask_shape = tuple(1 if axis in axes else size for axis, size in enumerate(values.shape))
    if p == 1.0:
        # No survivor to scale; multiplying (not a constant zero) keeps x's graph, and so a zero gradient.
        return x * np.zeros(mask_shape, dtype=dtype)
    # A random draw: through the hook, a compiled step draws a new mask at each replay.
    keep = tracing.call(_keep_mask, make_rng(rng), mask_shape, dtype, p)
    return x * (keep * dtype.type(1.0 / (1.0 - p)))


def _keep_mask(rng, shape, dtype, p):
    return rng.random(shape, dtype=dtype) >= p


def _values(x):
    # isinstance, not asarray: a traced array of nablanet.jit stays one, so work on it is recorded.
    return x.data if hasattr(x, "_data") else x if isinstance(x, np.ndarray) else np.asarray(x)


# --- convolution and pooling (channels first: (N, C, L) or (N, C, H, W)) ----------------------------

def conv_geometry(kernel: tuple, stride, padding, dilation, owner: str = "conv") -> tuple:
    """(stride, dilation, padding widths) of a convolution with kernel sizes ``kernel``, checked.

    Args:
        kernel: the kernel's spatial sizes, one per spatial axis.
        stride, dilation: positive ints, one for every axis or one per axis.
        padding: 'valid', 'same' (stride 1, as PyTorch), non-negative ints (the same on both sides of
            an axis), or one (before, after) pair per spatial axis (asymmetric padding).
        owner: who is asking, for messages (a layer's class name, or the function's).

    Returns:
        (stride, dilation, widths): tuples with one entry per spatial axis, widths as (before, after).
    """
    n = len(kernel)
    stride = check_ints(owner, "stride", stride, n)
    dilation = check_ints(owner, "dilation", dilation, n)
    return stride, dilation, _padding_widths(padding, kernel, stride, dilation, owner, pairs=True)


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


def _padding_widths(padding, kernel, stride, dilation, owner: str, pairs: bool = False):
    """(before, after) per spatial axis for an int, a tuple, 'valid' or 'same' (stride 1, as PyTorch), and with
    ``pairs`` one (before, after) pair per axis."""
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
    if pairs and isinstance(padding, (tuple, list)) and padding and all(isinstance(p, (tuple, list)) for p in padding):
        if len(padding) != n:
            raise ValueError(f"{owner}: padding as (before, after) pairs needs one pair per spatial axis ({n}), got "
                             f"{padding!r}")
        return tuple(check_ints(owner, "padding", pair, 2, minimum=0) for pair in padding)
    widths = check_ints(owner, "padding", padding, n, minimum=0)
    return tuple((w, w) for w in widths)


#: PyTorch's padding_mode names and numpy.pad's modes (nablanet.numpy.pad) they are.
PADDING_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad_spatial(x, widths, padding_mode: str = "zeros", owner: str = "pad", value: float = 0.0):
    """x (N, C, *spatial) padded by ``widths`` ((before, after) per spatial axis) as PyTorch's padding_mode:
    'zeros' (or the constant ``value``), 'reflect' (about the edge element, which is not repeated),
    'replicate' (the edge element repeated), 'circular' (the other end's elements), each the ``pad`` primitive.

    Widths PyTorch refuses are refused as it does: reflect padding as wide as the axis or wider (an axis of
    length n reflects at most n - 1 elements), circular padding wider than the axis (it would wrap around
    more than once), and any but zeros on an empty axis.
    """
    check_choice(owner, "padding_mode", padding_mode, tuple(PADDING_MODES))
    if not any(before or after for before, after in widths):
        return x
    spatial = np.shape(_values(x))[2:]
    for axis, (n, (before, after)) in enumerate(zip(spatial, widths)):
        widest = {"zeros": None, "reflect": n - 1, "replicate": None if n else -1, "circular": n}[padding_mode]
        if widest is not None and max(before, after) > widest:
            raise ValueError(f"{owner}: padding_mode={padding_mode!r} pads spatial axis {axis} of length {n} by "
                             f"{(before, after)}; it allows at most {max(widest, 0)} on each side (as in PyTorch)")
    width = ((0, 0), (0, 0)) + tuple(widths)
    if padding_mode == "zeros":
        return ops.pad(x, width, constant_values=value)
    return ops.pad(x, width, mode=PADDING_MODES[padding_mode])


def conv(x, W, b=None, stride=1, padding=0, dilation=1, activation="identity", alpha=None, padding_mode="zeros", *,
         owner: str = "conv"):
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
        padding: 'valid', 'same' (stride 1), ints (the same on both sides), one per spatial axis, or one
            (before, after) pair per spatial axis.
        activation: a name or alias of ACTIVATIONS, or a function; one with a fused kernel (relu,
            leaky_relu, elu, sigmoid, tanh, identity) runs inside the convolution's matrix product,
            any other is applied to its output.
        alpha: slope of leaky_relu or scale of elu; default: the activation's own (0.01, 1.0).
        padding_mode: what the padding holds, as PyTorch's: 'zeros', 'reflect', 'replicate' or
            'circular' (see pad_spatial).
        owner: who is asking, for messages (a layer's class name).

    Returns:
        (N, C_out, *out_spatial).
    """
    x_shape, W_shape = np.shape(_values(x)), np.shape(_values(W))
    n_spatial = len(W_shape) - 2
    if len(x_shape) != n_spatial + 2 or x_shape[1] != W_shape[1]:
        raise ValueError(f"conv: input of shape {x_shape} does not fit kernels of shape {W_shape} "
                         f"(expected (N, {W_shape[1]}, {n_spatial} spatial dimensions))")
    stride, dilation, widths = conv_geometry(tuple(W_shape[2:]), stride, padding, dilation)
    x = pad_spatial(x, widths, padding_mode, owner)
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
    x = pad_spatial(x, widths, value=pad_value)
    if kernel == stride:
        # Non-overlapping windows: crop the remainder (floor mode, as PyTorch) and pool with the
        # window primitives; no patch matrix is copied.
        crop = (slice(None), slice(None)) + tuple(slice(0, o * k) for o, k in zip(out, kernel))
        x = x[crop] if any(o * k != m for o, k, m in zip(out, kernel, spatial)) else x
        return window_reduce(x, kernel)
    rows = im2col(ops.reshape(x, (n * c, 1) + spatial), kernel, stride)
    return ops.reshape(reduce(rows, axis=2), (n, c) + out)


def max_pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Maximum over windows of each channel (N, C, *spatial); stride defaults to the kernel size.

    Padding counts as -inf (never the maximum), as in PyTorch. Ties within a window: with
    non-overlapping windows (stride equal to the kernel, the default) the whole gradient goes to the
    first maximum in row-major order, as in PyTorch; with overlapping windows the tied elements share
    it evenly (the max reduction's rule), where PyTorch still picks the first. With any of PyTorch's
    options below, the first maximum of each window is chosen and gathered (so the gradient goes to it,
    as PyTorch's does).

    Args:
        dilation: the spacing of a window's elements (ints, one per spatial axis).
        ceil_mode: round the number of windows up, as PyTorch: a last, partial window is kept when it
            starts inside the input or its left padding.
        return_indices: also return where each maximum is, as PyTorch's: an int64 array of the output's
            shape holding the flat index into each channel's (unpadded) spatial axes.
    """
    dilation = check_ints("max_pool", "dilation", dilation, max(len(np.shape(_values(x))) - 2, 1))
    if all(d == 1 for d in dilation) and not check_bool("max_pool", "ceil_mode", ceil_mode) \
            and not check_bool("max_pool", "return_indices", return_indices):
        return _pool(x, kernel_size, stride, padding, ops.max, max_pool_windows, -np.inf, "max_pool")
    rows, (n, c, spatial, kernel, stride, widths, out) = _pool_rows(x, kernel_size, stride, padding, dilation,
                                                                    ceil_mode, -np.inf, "max_pool")
    # np.argmax: the first maximum in row-major window order (a NaN, when there is one), as PyTorch's choice.
    choice = np.argmax(_values(rows), axis=2)
    y = ops.reshape(ops.take_along_axis(rows, choice[..., None], axis=2), (n, c) + out)
    if not return_indices:
        return y
    offsets = np.unravel_index(choice.reshape((n, c) + out), kernel)
    grid = np.indices(out)[(slice(None),) + (None, None)]
    coordinates = tuple(g * s + k * d - before for g, k, s, d, (before, _) in zip(grid, offsets, stride, dilation,
                                                                                widths))
    return y, np.ravel_multi_index(coordinates, spatial).astype(np.int64)


def avg_pool(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over windows of each channel, as PyTorch's avg_pool: padded zeros count in the mean by default.

    Args:
        ceil_mode: round the number of windows up (see max_pool); a partial window's mean is over the
            elements it covers of the input and its padding (never beyond the padding), as PyTorch's.
        count_include_pad: with False, each mean is over the window's input elements only.
    """
    if not check_bool("avg_pool", "ceil_mode", ceil_mode) and check_bool("avg_pool", "count_include_pad",
                                                                          count_include_pad):
        return _pool(x, kernel_size, stride, padding, ops.mean, avg_pool_windows, 0.0, "avg_pool")
    dilation = (1,) * max(len(np.shape(_values(x))) - 2, 1)
    rows, (n, c, spatial, kernel, stride, widths, out) = _pool_rows(x, kernel_size, stride, padding, dilation,
                                                                    ceil_mode, 0.0, "avg_pool")
    # What each window divides by: its count of input elements (and padding ones, with count_include_pad).
    counted = np.zeros((1, 1) + tuple(m + before + after for m, (before, after) in zip(spatial, widths)))
    # Pooling pads alike on both sides (before); the right side's growth in ceil mode never counts.
    region = tuple(slice(0, m + 2 * before) if count_include_pad else slice(before, before + m)
                   for m, (before, _) in zip(spatial, widths))
    counted[(0, 0) + region] = 1.0
    counts = np.sum(im2col(counted, kernel, stride, dilation), axis=2).reshape(out)
    return ops.reshape(ops.sum(rows, axis=2), (n, c) + out) / counts.astype(_values(rows).dtype)


def _pool_rows(x, kernel_size, stride, padding, dilation, ceil_mode, pad_value, name):
    """Every window of x (N, C, *spatial) as a row of (N C, P, K), padded with ``pad_value``, with the
    geometry (n, c, spatial, kernel, stride, widths, out) of the output. In ceil mode the last windows may
    reach past the padding; the widths' right sides grow to hold them (PyTorch's output sizes)."""
    x_shape = np.shape(_values(x))
    n_spatial = len(x_shape) - 2
    if n_spatial < 1:
        raise ValueError(f"{name}: expected input of shape (N, C, *spatial), got {x_shape}")
    kernel, stride, widths = pool_geometry(kernel_size, stride, padding, n_spatial, name)
    n, c, spatial = x_shape[0], x_shape[1], x_shape[2:]
    out = []
    for m, k, s, d, (before, _) in zip(spatial, kernel, stride, dilation, widths):
        span = m + 2 * before - d * (k - 1) - 1
        if span < 0:
            raise ValueError(f"{name}: an input of spatial shape {spatial} is smaller than the window (kernel "
                             f"{kernel}, dilation {dilation}, padding {padding!r})")
        count = (-(-span // s) if ceil_mode else span // s) + 1
        # PyTorch's rule: the last window must start inside the input or its left padding.
        out.append(count - 1 if ceil_mode and (count - 1) * s >= m + before else count)
    out = tuple(out)
    widths = tuple((before, max(after, (o - 1) * s + d * (k - 1) + 1 - m - before))
                   for m, k, s, d, o, (before, after) in zip(spatial, kernel, stride, dilation, out, widths))
    x = pad_spatial(x, widths, value=pad_value)
    padded = tuple(m + before + after for m, (before, after) in zip(spatial, widths))
    rows = im2col(ops.reshape(x, (n * c, 1) + padded), kernel, stride, dilation)
    return rows, (n, c, spatial, kernel, stride, widths, out)


def global_avg_pool(x):
    """Mean over all spatial positions: (N, C, *spatial) -> (N, C)."""
    n_spatial = len(np.shape(_values(x))) - 2
    return ops.mean(x, axis=tuple(range(2, 2 + n_spatial)))
