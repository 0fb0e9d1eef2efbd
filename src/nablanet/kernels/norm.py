"""Normalization kernels: batch normalization's per-feature sums and scalings in one pass each, in an array's own
memory order; the normalization of rows (layer, group and instance normalization) and its VJP.

The normalization of rows takes its arrays from ``workspace`` (memory freed by earlier steps): a
user's loop of C = sum(LayerNorm(128)(x) w) and its gradients on (64, 32, 128) float32 took 1,248
page faults and 2.4 ms of CPU per step before, none and 1.3 ms now (1 thread, in a process that had
allocated nothing larger, so glibc unmapped each freed array)."""

from __future__ import annotations

import math

import numpy as np

from nablanet.kernels import workspace

__all__ = ["FeatureLayout", "ROW_LENGTH", "batch_statistics", "batch_norm", "batch_norm_vjp", "normalize_rows",
           "normalize_rows_vjp"]

# Per-feature vectors are applied to flat memory in rows of about this many values, the vector
# repeated to fill a row: from this length on a scaling pass runs as fast as a plain product of two
# arrays (benchmarks/README.md, "Kernels").
ROW_LENGTH = 8192


class FeatureLayout:
    """Where the features (axis 1) of an array lie in its memory, for passes in memory order.

    An array contiguous in some order of its axes (C order; channels-last, as a convolution's
    output; batch-last) is, in memory, ``outer`` blocks of C * ``inner`` values, each feature owning
    ``inner`` consecutive values of every block: channels-last (N, L, C) has inner = 1, C order
    (N, C, L) has inner = L. Sums per feature are then two matrix-vector products over the flat
    memory, and a per-feature scaling is one pass over it: no copy into C order, no strided pass.
    An array contiguous in no order (a strided slice) is copied once, into the order of its strides.
    """

    def __init__(self, x):
        # Axes from the slowest-varying in memory to the fastest (where axes of length 1 go does not matter).
        strides = x.strides
        self.order = order = sorted(range(x.ndim), key=lambda a: -abs(strides[a]))
        self.inverse = sorted(range(x.ndim), key=order.__getitem__)
        self.moved_shape = moved_shape = tuple(x.shape[a] for a in order)
        position = order.index(1)
        self.outer = math.prod(moved_shape[:position])
        self.channels = x.shape[1]
        self.inner = math.prod(moved_shape[position + 1:])
        # apply's rows: whole blocks of C * inner values, as many as make about ROW_LENGTH values.
        block = self.channels * self.inner
        blocks = max(1, min(self.outer, ROW_LENGTH // max(block, 1)))
        self.row_shape = (blocks, self.channels, self.inner)
        self.row_size = blocks * block
        self.whole = x.size - x.size % self.row_size

    def flat(self, a):
        """The values of ``a`` (x's shape) as a flat array in this memory order: a view when a is laid out as x."""
        # reshape copies only when it must (a strided slice), in C order as np.ascontiguousarray would; and on
        # nablanet.jit's traced arrays (batch statistics are computed outside the op) it is recorded, which
        # np.ascontiguousarray, not dispatched to them, is not: the first batch's statistics would be replayed.
        return a.transpose(self.order).reshape(-1)

    def unflat(self, flat):
        """A flat array in this memory order as an array of x's shape (a view)."""
        return flat.reshape(self.moved_shape).transpose(self.inverse)

    def sums(self, flat):
        """sum over all axes but 1, as matrix-vector products (NumPy sums a narrow matrix a short row at a time)."""
        if self.inner > 1:
            flat = flat.reshape(-1, self.inner) @ np.ones(self.inner, dtype=flat.dtype)
        return np.ones(self.outer, dtype=flat.dtype) @ flat.reshape(self.outer, self.channels)

    def apply(self, ufunc, flat, v, out):
        """out = ufunc(flat, v), v (C,) taken per feature: v repeated as the features repeat in memory.

        Broadcasting v (or its repetition over one block) would make NumPy's inner loop only C (or
        C * inner) values long; rows of about ROW_LENGTH values run as fast as a plain product.
        """
        row = np.empty(self.row_shape, dtype=flat.dtype)
        np.copyto(row, v.reshape(-1, 1))  # not row[...] = : NumPy's function is what nablanet.jit records
        row = row.reshape(-1)
        whole, size = self.whole, self.row_size
        ufunc(flat[:whole].reshape(-1, size), row, out=out[:whole].reshape(-1, size))
        if whole < flat.size:
            ufunc(flat[whole:], row[:flat.size - whole], out=out[whole:])
        return out


def batch_statistics(x, total=None):
    """mu_B and sigma_B^2 (biased) of x over every axis but 1, each (C,), in x's dtype; and m, the values per feature.

    Two passes (the variance from x - mu_B, not from E[x^2] - mu_B^2, which cancels catastrophically
    in float32 when |mu_B| is large against sigma_B), each followed by matrix-vector products for
    the sums, all in x's memory order.

    ``total``, for a batch split over processes (synchronized batch normalization), sums a float64
    vector over them and returns the sum, the same on every process (an MPI all-reduce). The
    statistics are then the whole batch's, computed as one process computes them on all of it: the
    per-feature sums and counts are totalled before mu_B is formed, and the squared deviations from
    that mu_B before sigma_B^2 is (two reductions of C + 1 and C values). m is then the whole batch's.
    """
    layout = FeatureLayout(x)
    flat = layout.flat(x)
    count = flat.size // layout.channels
    sums = layout.sums(flat)
    if total is not None:
        # The count travels with the sums; float64 keeps both exact and the totals free of float32 rounding.
        totals = total(np.append(sums.astype(np.float64), count))
        sums, count = totals[:-1].astype(x.dtype), int(totals[-1])
    batch_mean = sums / count
    squares = layout.apply(np.subtract, flat, batch_mean, np.empty_like(flat))
    np.multiply(squares, squares, out=squares)
    square_sums = layout.sums(squares)
    if total is not None:
        square_sums = total(square_sums.astype(np.float64)).astype(x.dtype)
    return batch_mean, square_sums / count, count


def batch_norm(x, gamma, beta, eps, batch_mean, batch_var):
    """y = gamma (x - mu_B) / sqrt(sigma_B^2 + eps) + beta, and the residual its VJP needs.

    Three passes over x in its memory order (x - mu_B, the scale, the shift), so channels-last data
    stay channels-last, as y is. The residual is (layout, x - mu_B flat in memory order,
    1/sqrt(sigma_B^2 + eps)): x_hat enters the VJP only through sums and per-feature factors, so
    keeping x - mu_B and folding 1/sqrt(sigma_B^2 + eps) into those factors saves the pass that
    would form x_hat.

    Shape: x (N, C, ...), gamma, beta, batch_mean, batch_var (C,) -> y of x's shape.
    """
    dtype = np.result_type(x, gamma, beta)
    layout = FeatureLayout(x)
    flat = layout.flat(x.astype(dtype, copy=False))
    centred = layout.apply(np.subtract, flat, batch_mean, np.empty_like(flat))
    inv_std = 1.0 / np.sqrt(batch_var.astype(dtype, copy=False) + eps)
    out = layout.apply(np.multiply, centred, gamma * inv_std, np.empty_like(centred))
    layout.apply(np.add, out, beta, out)
    return layout.unflat(out), (layout, centred, inv_std)


def batch_norm_vjp(grad_out, residual, gamma, needs, total=None):
    """(dC/dx, dC/dgamma, dC/dbeta) of batch_norm from g = dC/dy and batch_norm's residual.

        dC/dbeta = sum g,   dC/dgamma = sum g x_hat,
        dC/dx    = gamma inv_std (g - mean(g) - x_hat mean(g x_hat))

    with sums and means over every axis but 1 and inv_std = 1/sqrt(sigma_B^2 + eps). Five passes in
    x's memory order (g (x - mu_B), the three terms of dC/dx and their sum) and matrix-vector
    products for the sums; a gradient not in ``needs`` (one flag per input x, gamma, beta) is None
    and costs nothing beyond what the others need.

    With ``total`` (as in batch_statistics: the statistics were the whole batch's, over all
    processes) each process holds m_p of the M values per feature, and its g is the gradient of its
    own part's mean loss C_p; the whole batch's loss is C = sum_p (m_p / M) C_p, and each process's
    gradients of the parameters are summed with the weights m_p / M (DistributedOptimizer's shares).
    So that those weighted sums are dC/dW, each process's dC/dx is its part of dC/dx divided by its
    weight: the two means become

        mean(g) -> sum_p (m_p / M) sum_p g / m_p,   mean(g x_hat) -> likewise,

    the weighted sums totalled over the processes (one reduction of 2C + 1 values, only when dC/dx
    is needed: dC/dgamma and dC/dbeta stay this process's own sums, weighted with the others'
    later). With equal parts this is PyTorch's SyncBatchNorm backward (its means over all N values).
    """
    layout, centred, inv_std = residual
    # grad_out arrives in the layout of the op after this one; once in x's order, every pass is in order.
    g = layout.flat(grad_out.astype(centred.dtype, copy=False))
    count = g.size // layout.channels
    sum_g = layout.sums(g)
    grad_x = grad_gamma = None
    if needs[0] or needs[1]:
        product = np.multiply(g, centred)
        # sum g (x - mu_B); times inv_std it is dC/dgamma = sum g x_hat.
        sum_g_centred = layout.sums(product)
        grad_gamma = sum_g_centred * inv_std
    if needs[0]:
        mean_g, mean_g_centred = sum_g / count, sum_g_centred / count
        if total is not None:
            # Each sum weighted by m_p travels with m_p; the totals over M give the weighted sums, / m_p the means.
            totals = total(np.concatenate([sum_g, sum_g_centred, [1.0]]).astype(np.float64) * count)
            weighted = totals[:-1] / totals[-1] / count
            mean_g, mean_g_centred = np.split(weighted.astype(centred.dtype), 2)
        # dC/dx = a g - a mean(g) - (x - mu_B) a inv_std^2 mean(g (x - mu_B)), with a = gamma inv_std:
        # x_hat = (x - mu_B) inv_std folded into the factors.
        a = gamma * inv_std
        grad = layout.apply(np.multiply, g, a, np.empty_like(g))
        layout.apply(np.multiply, centred, a * inv_std * inv_std * mean_g_centred, product)
        grad -= product
        layout.apply(np.subtract, grad, a * mean_g, grad)
        grad_x = layout.unflat(grad)
    return grad_x, grad_gamma, sum_g if needs[2] else None


def _row_means(a):
    """The mean of every row of a, as one matrix-vector product (NumPy's mean along short rows is 5 times slower)."""
    return a @ np.full(a.shape[1], 1.0 / a.shape[1], dtype=a.dtype)


def _row_dots(a, b):
    """sum_j a[i, j] b[i, j] for every row i: one pass, no product array (NumPy 2's vecdot, einsum before it)."""
    return np.vecdot(a, b) if hasattr(np, "vecdot") else np.einsum("ij,ij->i", a, b)


def normalize_rows(x, eps, gamma=None, beta=None):
    """y = gamma x_hat + beta, x_hat = (x - mean(x)) / sqrt(var(x) + eps) along the last axis, and the residual.

    Four passes over x for x_hat: the mean (a matrix-vector product), x - mean (overwritten by
    x_hat), the sum of squares as one sum of products (no x^2 is formed), the scaling; two more
    for the scale and shift. The variance is that of x - mean, never E[x^2] - mean^2, which cancels
    in float32 when |mean| is large against the spread. The residual is (1/sqrt(var + eps) per row,
    x_hat when y is not x_hat itself).

    Shape: x (..., K), gamma and beta (K,) or None -> y (..., K) (C order).
    """
    width = x.shape[-1]
    rows = x.reshape(-1, width)
    mean = _row_means(rows)
    x_hat = np.subtract(rows, mean[:, None], out=workspace.empty(rows.shape, np.result_type(rows, mean)))
    inv_std = 1.0 / np.sqrt(_row_dots(x_hat, x_hat) / width + eps)
    x_hat *= inv_std[:, None]
    if gamma is None:
        return x_hat.reshape(x.shape), (inv_std, None)
    # gamma and beta repeated along long rows (FeatureLayout.apply): NumPy's loop is then not K values long.
    layout = FeatureLayout(x_hat)
    y = workspace.empty(rows.shape, np.result_type(x_hat, gamma, beta)).reshape(-1)
    layout.apply(np.multiply, x_hat.reshape(-1), gamma, y)
    layout.apply(np.add, y, beta, y)
    return y.reshape(x.shape), (inv_std, x_hat)


def normalize_rows_vjp(grad_out, out, residual, gamma, needs):
    """(dC/dx, dC/dgamma, dC/dbeta) of normalize_rows from g = dC/dy, its output and its residual.

        dC/dbeta = sum g,   dC/dgamma = sum g x_hat         (sums over the rows)
        dC/dx    = inv_std (h - mean(h) - x_hat mean(h x_hat)),   h = gamma g,   means along each row

    Five passes for dC/dx (inv_std gamma^T, times g, the two row terms, their difference), one for
    dC/dgamma, sums of products without intermediate arrays (row dots, einsum, matrix-vector products
    for dC/dbeta and mean(h) = g gamma / K). A gradient not in ``needs`` (x, gamma, beta) is None;
    without gamma, only dC/dx.
    """
    inv_std, x_hat = residual
    width = out.shape[-1]
    g = grad_out.reshape(-1, width)
    x_hat = out.reshape(-1, width) if x_hat is None else x_hat
    affine = gamma is not None
    grad_gamma = np.einsum("ij,ij->j", g, x_hat) if affine and needs[1] else None
    grad_beta = np.ones(len(g), dtype=g.dtype) @ g if affine and needs[2] else None
    if not needs[0]:
        return None, grad_gamma, grad_beta
    weights = np.full(width, 1.0 / width, dtype=g.dtype) if gamma is None else gamma / width
    mean_h = g @ weights
    # inv_std h first: the outer product inv_std gamma^T written, then times g, in place (two passes over
    # one array instead of h = gamma g and a scaling at the end).
    scaled = workspace.empty(g.shape, np.result_type(g, x_hat, weights))
    if affine:
        np.multiply(inv_std[:, None], gamma, out=scaled)
        scaled *= g
    else:
        np.multiply(g, inv_std[:, None], out=scaled)
    # inv_std mean(h x_hat) and inv_std mean(h) per row, subtracted as one term.
    term = np.multiply(x_hat, (_row_dots(scaled, x_hat) / width)[:, None],
                       out=workspace.empty(scaled.shape, scaled.dtype))
    term += (mean_h * inv_std)[:, None]
    scaled -= term
    return scaled.reshape(out.shape), grad_gamma, grad_beta
