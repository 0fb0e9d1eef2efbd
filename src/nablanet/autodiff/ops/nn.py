"""Neural-network primitives: fused dense layer, softmax cross-entropy, batch normalization, Heaviside; erf (for GELU) re-exported.

The first three are fused for speed: they are the hottest paths of feed-forward and convolutional
networks. Their VJPs are exactly the back-propagation equations of the lecture notes, and tests
check that they equal the same computation written with elementary primitives.
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff import batching
from nablanet.autodiff.jit import tracing
from nablanet.autodiff.op import Op, raw as _raw, register
from nablanet.autodiff.ops.elementwise import _ufunc, astype, exp, multiply, sqrt, where
from nablanet.autodiff.ops.linalg import matmul
from nablanet.autodiff.ops.reduce import log_softmax, mean, sum
from nablanet.autodiff.ops.shape import broadcast_to, reshape
# The error function is defined with the other special functions; nablanet.numpy.erf (GELU's) is exported from here.
from nablanet.autodiff.ops.special import erf
from nablanet.kernels import dense as dense_kernels, norm as norm_kernels
from nablanet.kernels import rows as row_kernels
from nablanet.kernels.rows import last_axis_max, last_axis_sum

# softmax_cross_entropy_rows is a composition for nablanet.nn.functional's weighted cross-entropy, not a
# function of nablanet.numpy's.
__all__ = ["dense", "softmax_cross_entropy", "batch_norm", "erf", "heaviside", "relu", "DENSE_ACTIVATIONS"]


# --- activations whose derivative is a function of their output a = sigma(z) ----------------------
# The fused dense layer keeps only a, so sigma'(z) must be expressible through a. Each entry is
# (forward on z in place, sigma'(z) written with a).

def _relu_forward(z, alpha):
    # Not z * (z > 0), though NumPy runs that faster: -inf * 0 is NaN, and relu(-inf) is 0.
    return np.maximum(z, 0, out=z)


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


#: The default alpha of each kernel that takes one: leaky_relu's slope (0.01, as PyTorch's LeakyReLU) and
#: elu's scale (1.0, Clevert et al., 2015, as PyTorch's ELU). The one place these numbers are written: the
#: primitives dense and convolution, nablanet.nn.functional's leaky_relu and elu (hence the activation
#: registry, the layers and the functional API) all read them from here.
DEFAULT_ALPHAS = {"leaky_relu": 0.01, "elu": 1.0}


def kernel_alpha(activation: str, alpha=None) -> float:
    """``alpha`` as a float, or, when None, the default of kernel ``activation`` (0.0 for a kernel without alpha)."""
    return float(DEFAULT_ALPHAS.get(activation, 0.0) if alpha is None else alpha)


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
    place by a, and the slope taken from a (so z need not be kept). The array work is in
    ``nablanet.kernels.dense``: one matrix product over all leading dimensions, the bias added in long
    rows, dC/db as one product.
    """

    def batch(cls, *inputs, batched, batched_settings, activation, alpha):
        # A batch of inputs is more leading rows; batched weights (an ensemble) run per example.
        if any(batched[1:]):
            return None
        return batching.call_op(cls, inputs, {"activation": activation, "alpha": alpha})

    def forward(x, W, *bias, activation, alpha):
        z = np.matmul(dense_kernels.as_rows(x), W).reshape(x.shape[:-1] + W.shape[1:])
        if bias:
            dense_kernels.add_row_vector_(z, bias[0])
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
        grad_b = None
        if bias and needs[2]:
            # On Tensors (a derivative of a derivative) the sum over samples is recorded.
            is_array = isinstance(delta_rows, np.ndarray)
            grad_b = dense_kernels.column_sums(delta_rows) if is_array else delta_rows.sum(axis=0)
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


def dense(x, W, b=None, activation: str = "identity", alpha: float | None = None):
    """sigma(x W + b) as one fused primitive (see Dense); b may be None.

    Args:
        x: inputs, shape (..., n_in).
        W: weights, shape (n_in, n_out).
        b: biases, shape (n_out,), or None.
        activation: one of "identity", "relu", "leaky_relu", "elu", "sigmoid", "tanh".
        alpha: the slope of leaky_relu for z < 0, or the scale of elu; None: the kernel's default
            (DEFAULT_ALPHAS: 0.01 for leaky_relu, 1.0 for elu).
    """
    if activation not in DENSE_ACTIVATIONS:
        raise ValueError(f"dense: activation must be one of {sorted(DENSE_ACTIVATIONS)}, got {activation!r}")
    x_shape, W_shape = np.shape(_raw(x)), np.shape(_raw(W))
    if len(W_shape) != 2 or not x_shape or x_shape[-1] != W_shape[0]:
        raise ValueError(f"dense: inputs of shape {x_shape} do not fit weights of shape {W_shape} "
                         f"(expected inputs (..., {W_shape[0] if W_shape else '?'}))")
    inputs = (x, W) if b is None else (x, W, b)
    return Dense.apply(*inputs, activation=activation, alpha=kernel_alpha(activation, alpha))


@register
class SoftmaxCrossEntropy(Op):
    """C = -(1/N) sum_n sum_k t_nk log softmax(z_n)_k, from logits z, fused with its gradient.

    dC/dz = (softmax(z) - t) / N: the notes' output error delta^L for softmax with cross-entropy,
    never forming the softmax Jacobian. Targets are constants: integer class labels of shape (N,)
    or class probabilities (one-hot or soft) of shape (N, K). The log-softmax is computed with the
    maximum subtracted, so logits of magnitude 1e4 give finite losses and gradients. With integer labels
    the first-order gradient on arrays has its subnormal entries set to 0, less than the smallest normal
    number away from the exact value: they would slow every product of the next layer's VJP
    (``nablanet.kernels.rows.softmax_minus_labels``).
    """

    def batch(cls, logits, *, batched, batched_settings, targets, ignore_index=None):
        # Each example's mean over its own rows: the composite with log_softmax, batch kept apart.
        if not batched[0]:
            return None
        log_p = log_softmax(logits, axis=-1)
        targets_batched = "targets" in batched_settings
        rows = int(np.prod(np.shape(logits)[1:-1], dtype=np.int64))
        if targets.dtype.kind in "iu":
            labels = batching.align(targets, targets_batched, np.ndim(logits) - 2)
            classes = np.arange(np.shape(logits)[-1])
            # An ignored label matches no class: its one-hot row is zero, and it is not counted.
            targets = astype(np.equal(reshape(labels, (*np.shape(labels), 1)), classes), _raw(log_p).dtype)
            if ignore_index is not None:
                kept = np.not_equal(_raw(labels), ignore_index)
                axes = tuple(range(1, np.ndim(kept))) if targets_batched else None
                rows = np.maximum(np.sum(kept, axis=axes, dtype=_raw(log_p).dtype), 1)
        else:
            targets = batching.align(targets, targets_batched, np.ndim(logits) - 1)
        example_axes = tuple(range(1, np.ndim(logits)))
        return -sum(multiply(targets, log_p), axis=example_axes) / rows

    name = "softmax_cross_entropy"

    def forward(logits, *, targets, ignore_index=None):
        if targets.dtype.kind in "iu":
            kept = None if ignore_index is None else targets != ignore_index
            # The forward runs on arrays (a compiled program replays it whole): a branch on the labels is safe.
            return row_kernels.label_cross_entropy(logits, targets, None if kept is None or kept.all() else kept)
        log_p = logits - last_axis_max(logits)
        log_p = log_p - np.log(last_axis_sum(np.exp(log_p)))
        rows = log_p.size // log_p.shape[-1]
        return -np.sum(targets * log_p, dtype=log_p.dtype) / log_p.dtype.type(rows)

    def vjp(grad_out, out, logits, *, targets, needs, ignore_index=None):
        logits_raw = _raw(logits)
        rows = logits_raw.size // logits_raw.shape[-1]
        is_array = type(logits) is np.ndarray and np.ndim(logits) >= 2
        if is_array and targets.dtype.kind in "iu" and (ignore_index is None or not (targets == ignore_index).any()):
            # The first-order pass on arrays, no label ignored (replayed whole when compiled): in the fewest passes.
            return (row_kernels.softmax_minus_labels(logits, targets, grad_out / rows),)
        if is_array:
            # On arrays (the first-order pass) softmax in one exponential pass: exp(log_softmax) to rounding.
            e = np.exp(logits - last_axis_max(logits))
            probabilities = e / last_axis_sum(e)
        else:
            probabilities = exp(log_softmax(logits, axis=-1))
        if targets.dtype.kind in "iu":
            difference, rows = _unignored(probabilities - _one_hot(targets, logits_raw), targets, ignore_index, rows)
        else:
            difference = probabilities - targets
        return (difference * (grad_out / rows),)

    def forward_with_vjp(logits, *, targets, grad_out, needs, ignore_index=None):
        """(forward, vjp) of one call at once, on arrays: what a compiled step whose program runs both
        on the same logits calls instead (``nablanet.jit`` fuses the two equations). With integer labels
        none of which is ignored, the softmax's parts are computed once for both; the results are
        forward's and vjp's bit for bit."""
        if targets.dtype.kind in "iu" and np.ndim(logits) >= 2 and \
                (ignore_index is None or not (targets == ignore_index).any()):
            parts = row_kernels.softmax_parts(logits)
            out = row_kernels.label_cross_entropy(logits, targets, None, parts)
            scale = grad_out / (logits.size // logits.shape[-1])
            return out, (row_kernels.softmax_minus_labels(logits, targets, scale, parts),)
        out = SoftmaxCrossEntropy.forward(logits, targets=targets, ignore_index=ignore_index)
        return out, SoftmaxCrossEntropy.vjp(grad_out, out, logits, targets=targets, needs=needs,
                                            ignore_index=ignore_index)

    def jvp(logits_dot, out, logits, *, targets, needs, ignore_index=None):
        rows = _raw(logits).size // _raw(logits).shape[-1]
        difference = exp(log_softmax(logits, axis=-1))
        if targets.dtype.kind in "iu":
            difference, rows = _unignored(difference - _one_hot(targets, _raw(logits)), targets, ignore_index, rows)
        else:
            difference = difference - targets
        return sum(logits_dot * difference) / rows

    def flops(out, logits, *, targets, ignore_index=None):
        return 4 * int(np.size(logits))


def _counted(kept, dtype):
    """How many labels count, in ``dtype`` (at least 1: with every label ignored C is 0, not 0/0)."""
    return np.maximum(np.sum(kept, dtype=dtype), 1)


def _unignored(difference, labels, ignore_index, rows):
    """(softmax(z) - t with the rows of ignored labels zeroed, the number of the others); without
    ignore_index, (difference, rows) as they are."""
    if ignore_index is None:
        return difference, rows
    kept = labels != ignore_index
    if type(kept) is np.ndarray and kept.all():
        # Nothing ignored (the first-order rule runs on arrays, replayed whole): the plain rule, one pass fewer.
        return difference, rows
    dtype = _raw(difference).dtype
    return difference * kept[..., None].astype(dtype), _counted(kept, dtype)


def _one_hot(labels, like):
    """Rows one-hot of labels (..., ) as like's dtype (..., K); labels may be batched (vmap)."""
    if isinstance(labels, batching.BatchTracer) or isinstance(like, batching.BatchTracer):
        classes = np.arange(np.shape(like)[-1])
        return astype(np.equal(reshape(labels, (*np.shape(labels), 1)), classes), like.dtype)
    # A comparison with the class numbers: two passes and no scatter (labels were checked by the forward).
    classes = np.arange(like.shape[-1])
    return np.equal(labels.reshape(-1, 1), classes).astype(like.dtype).reshape(like.shape)


def softmax_cross_entropy(logits, targets, ignore_index=None):
    """Mean cross-entropy of softmax(logits) against integer labels (N,) or probabilities (N, K).

    With ``ignore_index``, labels equal to it count for nothing: the mean is over the others (0 when
    every label is ignored), as PyTorch's ``cross_entropy(..., ignore_index=)``.

    Raises:
        ValueError: labels outside 0..K-1, non-integer labels, or probability targets of the wrong shape.
    """
    logits_shape = np.shape(_raw(logits))
    if isinstance(targets, batching.BatchTracer):
        # Targets batched by vmap: checked as the whole batch, an example's shape against the logits'.
        if not isinstance(targets.value, np.ndarray):
            raise batching.BatchingUnsupported("cross-entropy: targets batched from a traced value")
        checked = _checked_targets(targets.value, targets.shape, logits_shape, _raw(logits).dtype, ignore_index)
        targets = batching.BatchTracer(checked, targets.level, targets.length)
    else:
        # asanyarray: nablanet.jit's traced labels stay traced, so each replay reads its own batch's.
        checked = np.asanyarray(_raw(targets))
        checked = targets = _checked_targets(checked, checked.shape, logits_shape, _raw(logits).dtype, ignore_index)
    if ignore_index is None or checked.dtype.kind not in "iu":
        return SoftmaxCrossEntropy.apply(logits, targets=targets)
    return SoftmaxCrossEntropy.apply(logits, targets=targets, ignore_index=int(ignore_index))


def softmax_cross_entropy_rows(logits, targets):
    """The cross-entropy of each row, -sum_k t_nk log softmax(z_n)_k, shape ``logits.shape[:-1]``
    (PyTorch's ``cross_entropy(..., reduction='none')``), for weighting the rows.

    A composition with log_softmax, not a primitive: its gradient (softmax(z_n) - t_n) per row,
    times whatever weights the rows get, comes from the rules of those ops. The targets are checked
    as softmax_cross_entropy checks them.
    """
    if isinstance(targets, batching.BatchTracer):
        raise batching.BatchingUnsupported("cross-entropy per row: targets batched by vmap")
    logits_shape = np.shape(_raw(logits))
    targets = np.asarray(_raw(targets))
    targets = _checked_targets(targets, targets.shape, logits_shape, _raw(logits).dtype)
    log_p = log_softmax(logits, axis=-1)
    if targets.dtype.kind in "iu":
        targets = _one_hot(targets, np.empty(logits_shape, dtype=_raw(log_p).dtype))
    return -sum(multiply(targets, log_p), axis=-1)


def _checked_targets(targets, shape, logits_shape, dtype, ignore_index=None):
    """Targets as the op takes them (labels as intp, probabilities in the logits' dtype), or the error.

    ``shape`` is one example's shape of the targets: their own, or under vmap a batch member's. Labels
    equal to ``ignore_index`` are not checked against the classes.
    """
    n_classes = logits_shape[-1]
    if targets.dtype.kind in "iu":
        if shape != logits_shape[:-1]:
            raise ValueError(f"cross-entropy: integer labels of shape {shape} do not match logits of "
                             f"shape {logits_shape} (expected labels of shape {logits_shape[:-1]})")
        # The traced call's labels (nablanet.jit): a check that only raises on bad input.
        labels = tracing.peek(targets)
        if ignore_index is not None:
            labels = labels[labels != ignore_index]
        if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
            besides = "" if ignore_index is None else f" (besides ignore_index={ignore_index})"
            raise ValueError(f"cross-entropy: labels must be class indices in 0..{n_classes - 1}, "
                             f"got values from {labels.min()} to {labels.max()}{besides}")
        # Not astype(copy=False): on nablanet.jit's traced labels that records a cast even when there is none.
        return targets if targets.dtype == np.intp else targets.astype(np.intp)
    if targets.dtype.kind == "f":
        if shape != logits_shape:
            raise ValueError(f"cross-entropy: probability targets of shape {shape} do not match logits of "
                             f"shape {logits_shape}; pass integer class labels of shape {logits_shape[:-1]} "
                             "or one-hot rows of the logits' shape")
        return targets.astype(dtype, copy=False)
    raise ValueError(f"cross-entropy: targets must be integer labels or float probabilities, got dtype {targets.dtype}")


# --- batch normalization ------------------------------------------------------------------------

def _feature_axes(ndim: int) -> tuple:
    """Every axis but the feature axis 1: the statistics of batch normalization are taken over these."""
    return (0,) + tuple(range(2, ndim))


def _normalized(x, eps):
    """x_hat and 1/sqrt(sigma_B^2 + eps) (kept dimensions) computed from x with nablanet's ops.

    For the rules on Tensors: recorded, so that a derivative of a derivative sees how the batch
    statistics depend on x.
    """
    axes = _feature_axes(len(x.shape))
    centred = x - mean(x, axis=axes, keepdims=True)
    inv_std = 1.0 / sqrt(mean(centred * centred, axis=axes, keepdims=True) + eps)
    return centred * inv_std, inv_std


def _per_feature(v, ndim: int):
    """A per-feature vector (C,) shaped (1, C, 1, ...) to broadcast against x."""
    return reshape(v, (1, -1) + (1,) * (ndim - 2))


@register
class BatchNorm(Op):
    """Batch normalization in training mode, with its gradient, as one primitive.

        x_hat = (x - mu_B) / sqrt(sigma_B^2 + eps),   y = gamma x_hat + beta

    mu_B and sigma_B^2 (biased) are the mean and variance over every axis but the feature axis 1;
    gamma and beta are (C,). With m values per feature and g = dC/dy, sums over every axis but 1:

        dC/dbeta  = sum g,        dC/dgamma = sum g x_hat,
        dC/dx     = gamma / sqrt(sigma_B^2 + eps) * (g - mean(g) - x_hat mean(g x_hat))

    A primitive for speed: written with elementary ops it takes some 9 passes over x forward and 20
    backward. On arrays the op runs ``nablanet.kernels.norm``: 2 passes for the statistics, 3 forward
    and 5 in the VJP, each over the memory in x's order (channels-last data stay channels-last, as
    does y), with the residual x - mu_B rather than x_hat (x_hat enters the VJP only through sums and
    per-feature factors).

    The settings ``batch_mean`` and ``batch_var`` must be mu_B and sigma_B^2 of x: batch_norm computes
    them on x's values before applying the op and returns them too, so that the BatchNorm layer
    updates its running estimates from the same numbers, never computing them twice. The forward
    recomputes x - mu_B (one pass) rather than take a full-size array as a setting: the settings stay
    two (C,) vectors. Like the residual, they are constants to the engine: the rules on Tensors
    (derivatives of derivatives) and the JVP recompute the statistics from x.

    ``group`` (None: this process's batch is the whole batch) synchronizes the op across processes,
    as PyTorch's SyncBatchNorm: an object whose ``sum(v)`` totals a float64 vector over the processes
    (nablanet.distributed's all-reduce). mu_B and sigma_B^2 are then those of the union of all the
    processes' batches, and the VJP totals its two means likewise (``kernels.norm.batch_norm_vjp``
    says how, each process's loss being the mean over its own part). It has first-order reverse-mode
    rules only: the recorded rules and the JVP would need the reduction as an op of their own.
    """

    name = "batch_norm"
    keeps_residual = True

    def forward(x, gamma, beta, *, eps, batch_mean, batch_var, group):
        return norm_kernels.batch_norm(x, gamma, beta, eps, batch_mean, batch_var)

    def vjp(grad_out, out, x, gamma, beta, *, eps, batch_mean, batch_var, group, residual, needs):
        if not all(isinstance(v, np.ndarray) for v in (grad_out, x, gamma)):
            _first_order_only(group, "a derivative of its gradient")
            return _batch_norm_vjp_recorded(grad_out, x, gamma, eps, needs)
        return norm_kernels.batch_norm_vjp(grad_out, residual, gamma, needs, None if group is None else group.sum)

    def jvp(x_dot, gamma_dot, beta_dot, out, x, gamma, beta, *, eps, batch_mean, batch_var, group, residual, needs):
        _first_order_only(group, "forward mode (jvp)")
        # y_dot = gamma x_hat_dot + gamma_dot x_hat + beta_dot, where differentiating x_hat gives
        # x_hat_dot = inv_std (x_dot - mean(x_dot) - x_hat mean(x_dot x_hat)) (the statistics move with x).
        # The rule meets Tensors (the inputs carrying the tangent), so it recomputes x_hat.
        ndim = len(x.shape)
        axes = _feature_axes(ndim)
        x_hat, inv_std = _normalized(x, eps)
        out_dot = broadcast_to(_per_feature(beta_dot, ndim), out.shape) if needs[2] else None
        if needs[1]:
            term = _per_feature(gamma_dot, ndim) * x_hat
            out_dot = term if out_dot is None else out_dot + term
        if needs[0]:
            x_hat_dot = inv_std * (x_dot - mean(x_dot, axis=axes, keepdims=True)
                                   - x_hat * mean(x_dot * x_hat, axis=axes, keepdims=True))
            term = _per_feature(gamma, ndim) * x_hat_dot
            out_dot = term if out_dot is None else out_dot + term
        return out_dot

    def flops(out, x, gamma, beta, **settings):
        # Per value: the sums for mu_B and sigma_B^2, the subtraction, the square, the scale, the shift.
        return 6 * int(np.size(out))


def _first_order_only(group, what: str) -> None:
    if group is not None:
        raise NotImplementedError(f"batch_norm synchronized across processes (group=) has first-order reverse-mode "
                                  f"derivatives only, not {what}")


def _batch_norm_vjp_recorded(grad_out, x, gamma, eps, needs):
    """The VJP of BatchNorm written with nablanet's ops, recorded on Tensors (derivatives of derivatives)."""
    ndim = len(x.shape)
    axes = _feature_axes(ndim)
    x_hat, inv_std = _normalized(x, eps)
    grad_x = grad_gamma = grad_beta = None
    if needs[0]:
        grad_x = _per_feature(gamma, ndim) * inv_std * (grad_out - mean(grad_out, axis=axes, keepdims=True)
                                                        - x_hat * mean(grad_out * x_hat, axis=axes, keepdims=True))
    if needs[1]:
        grad_gamma = sum(grad_out * x_hat, axis=axes)
    if needs[2]:
        grad_beta = sum(grad_out, axis=axes)
    return grad_x, grad_gamma, grad_beta


def batch_norm(x, gamma, beta, eps: float = 1e-5, *, return_statistics: bool = False, group=None):
    """Batch normalization with the batch's own statistics (training mode), as one primitive (see BatchNorm).

    Args:
        x: inputs (N, C, ...): features (or channels) on axis 1, any memory layout.
        gamma: scales, shape (C,).
        beta: shifts, shape (C,).
        eps: added to the variance for stability.
        return_statistics: also return mu_B and sigma_B^2 (biased), each (C,), as plain ndarrays, and
            m, the number of values per feature they are over.
        group: None, or the processes whose batches together make the batch (synchronized batch
            normalization, PyTorch's SyncBatchNorm): an object whose ``sum(v)`` totals a float64
            vector over them, the same on every one, as nablanet.distributed's. Every process of
            the group must call batch_norm with its part, in the same order.

    Returns:
        y of x's shape (in x's memory layout), or (y, mu_B, sigma_B^2, m).

    Raises:
        ValueError: fewer than two dimensions, scales or shifts that are not (C,), or only one value
            per feature (over all the group's processes with ``group``).

    Example:
        >>> x = np.array([[1.0, 10.0], [3.0, 30.0]])
        >>> batch_norm(x, np.ones(2), np.zeros(2), eps=0.0)
        array([[-1., -1.],
               [ 1.,  1.]])
    """
    x_raw = _raw(x)
    shape = x_raw.shape
    if len(shape) < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C, ...) with features on axis 1, got {shape}")
    for name, v in (("gamma", gamma), ("beta", beta)):
        if np.shape(_raw(v)) != (shape[1],):
            raise ValueError(f"batch_norm: {name} of shape {np.shape(_raw(v))} does not fit {shape[1]} features "
                             f"of an input of shape {shape} (expected ({shape[1]},))")
    if x_raw.dtype.kind != "f":
        raise ValueError(f"batch_norm: expected a floating-point input, got dtype {x_raw.dtype}")
    if group is None and x_raw.size // max(shape[1], 1) < 2:
        raise ValueError(f"batch_norm: an input of shape {shape} has one value per feature; the batch statistics "
                         "need at least two")
    if group is not None and not callable(getattr(group, "sum", None)):
        raise TypeError(f"batch_norm: group must be None or have a sum(vector) method totalling over the processes "
                        f"(nablanet.distributed), got {type(group).__name__}")
    dtype = np.result_type(x_raw, _raw(gamma), _raw(beta))
    batch_mean, batch_var, count = norm_kernels.batch_statistics(x_raw.astype(dtype, copy=False),
                                                                 None if group is None else group.sum)
    if count < 2:
        # Reached with a group only, on every process alike (the count is the total): none is left waiting.
        raise ValueError(f"batch_norm: the group's inputs (this process's of shape {shape}) have {count} value per "
                         "feature in all; the batch statistics need at least two")
    out = BatchNorm.apply(x, gamma, beta, eps=float(eps), batch_mean=batch_mean, batch_var=batch_var, group=group)
    return (out, batch_mean, batch_var, count) if return_statistics else out


@register
class ReLU(Op):
    """a = max(z, 0).   da/dz = 1 where z > 0, else 0 (0 at z = 0, as PyTorch).

    A primitive for speed: one pass forward (where(z > 0, z, 0) takes a comparison and a select) and
    a boolean mask backward; a test checks it equals the where() composition.
    """

    batch = batching.elementwise

    name = "relu"

    def forward(x):
        return np.maximum(x, 0)

    def vjp(grad_out, out, x, *, needs):
        return (grad_out * (_raw(out) > 0),)

    def jvp(x_dot, out, x, *, needs):
        return x_dot * (_raw(out) > 0)


def relu(x):
    """max(x, 0), with derivative 0 at 0."""
    return ReLU.apply(x)


class HeavisideDerivativeError(TypeError):
    """Raised when a derivative of the Heaviside step is asked for."""


_HEAVISIDE_MESSAGE = (
    "heaviside (the step function) has derivative zero wherever it has one, so gradient descent cannot "
    "train through it; use the perceptron learning rule, or a smooth activation such as sigmoid"
)


@register
class Heaviside(Op):
    """NumPy's step function H(x, y): 0 for x < 0, y at x = 0, 1 for x > 0 (NaN for NaN x). Forward only in x.

    Its derivative in x is zero almost everywhere, so a gradient through it would silently be zero
    and nothing would learn: asking for one raises HeavisideDerivativeError instead. The value at 0,
    y, has the derivative 1 where x = 0 (and 0 elsewhere), which is given.
    """

    batch = batching.elementwise

    def forward(x, y):
        return np.heaviside(x, y)

    def vjp(grad_out, out, x, y, *, needs):
        if needs[0]:
            raise HeavisideDerivativeError(_HEAVISIDE_MESSAGE)
        return None, where(np.equal(_raw(x), 0), grad_out, 0.0)

    def jvp(x_dot, y_dot, out, x, y, *, needs):
        if needs[0]:
            raise HeavisideDerivativeError(_HEAVISIDE_MESSAGE)
        return where(np.equal(_raw(x), 0), y_dot, 0.0)


@_ufunc
def heaviside(x1, x2):
    """numpy.heaviside(x1, x2): 0 where x1 < 0, x2 where x1 == 0, 1 where x1 > 0 (real only).

    Differentiating through x1 raises HeavisideDerivativeError; the step activation 1{z >= 0} is
    ``heaviside(z, 1.0)`` (nablanet.nn.functional.heaviside).

    Example:
        >>> heaviside(np.array([-1.0, 0.0, 2.0]), 0.5)
        array([0. , 0.5, 1. ])
    """
    return Heaviside.apply(x1, x2)


# Forward only: its derivative is refused (HeavisideDerivativeError), so no table differentiates it.
heaviside.__nablanet_constant__ = True
