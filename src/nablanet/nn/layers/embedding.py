"""Embedding: a table of learned vectors looked up by integer index (word, token or category embeddings)."""

from __future__ import annotations

import numpy as np

from nablanet.autodiff import ops
from nablanet.autodiff.jit import tracing
from nablanet.autodiff.op import raw
from nablanet.checks import check_float_dtype, check_int, check_real
from nablanet.nn.init import make_rng
from nablanet.nn.layers.registry import register_layer
from nablanet.nn.module import ArraySpec, Module, Parameter

__all__ = ["Embedding"]


def _embedding_arguments(num_embeddings, embedding_dim, padding_idx, max_norm, norm_type, dtype) -> tuple:
    owner = "Embedding"
    num_embeddings = check_int(owner, "num_embeddings", num_embeddings)
    embedding_dim = check_int(owner, "embedding_dim", embedding_dim)
    if padding_idx is not None:
        padding_idx = check_int(owner, "padding_idx", padding_idx, minimum=None)
        if not -num_embeddings <= padding_idx < num_embeddings:
            raise ValueError(f"{owner}: padding_idx must be an index of the {num_embeddings} embeddings, in "
                             f"[-{num_embeddings}, {num_embeddings}), got {padding_idx}")
        padding_idx %= num_embeddings  # as PyTorch, a negative one counts from the end
    if max_norm is not None:
        max_norm = check_real(owner, "max_norm", max_norm, low=0.0, low_open=True)
    norm_type = check_real(owner, "norm_type", norm_type, low=0.0, low_open=True)
    return num_embeddings, embedding_dim, padding_idx, max_norm, norm_type, check_float_dtype(owner, dtype)


@register_layer("embedding")
class Embedding(Module):
    """A lookup table, as PyTorch's Embedding: y[..., :] = W[i[...], :] for integer indices i.

    The gradient of row W[k] is the sum of the gradients of the outputs that looked k up (the
    indexing op's VJP adds them back into the table); rows never looked up get none.

    Args:
        num_embeddings: V, the size of the table (indices 0 .. V - 1).
        embedding_dim: D, the length of each vector.
        padding_idx: an index whose vector starts at zeros and is never trained (its outputs pass no
            gradient), as PyTorch's; negative counts from the end. None: no such index.
        max_norm: if given, each vector looked up whose norm exceeds it is first rescaled, in the table
            itself, to norm max_norm (PyTorch's renormalization: outside the gradient).
        norm_type: the p of the p-norm for max_norm (2: Euclidean).
        rng: numpy Generator or int seed.  dtype: parameter dtype.

    Shape:
        integer indices (*) -> (*, D). Floating-point arrays of whole numbers are taken as indices too (fit
        gives the model its inputs in the model's float dtype); any other value is refused.

    Attributes:
        W: (V, D), N(0, 1) as PyTorch; the padding_idx row zeros.

    Example:
        >>> table = Embedding(10, 3, rng=0)
        >>> table(np.array([[1, 2], [4, 9]])).shape
        (2, 2, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, *, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, rng=None, dtype=np.float32):
        (self.num_embeddings, self.embedding_dim, self.padding_idx, self.max_norm, self.norm_type,
         dtype) = _embedding_arguments(num_embeddings, embedding_dim, padding_idx, max_norm, norm_type, dtype)
        W = make_rng(rng).standard_normal((self.num_embeddings, self.embedding_dim)).astype(dtype)
        if self.padding_idx is not None:
            W[self.padding_idx] = 0.0
        self.W = Parameter(W)

    @classmethod
    def state_spec(cls, num_embeddings, embedding_dim, *, padding_idx=None, max_norm=None, norm_type=2.0,
                   dtype=np.float32, **options):
        num_embeddings, embedding_dim, _, _, _, dtype = _embedding_arguments(num_embeddings, embedding_dim,
                                                                             padding_idx, max_norm, norm_type, dtype)
        return [("W", ArraySpec((num_embeddings, embedding_dim), dtype))]

    def forward(self, indices):
        indices = self._checked(indices)
        if self.max_norm is not None:
            # A step of its own in a compiled function (tracing.call): each replay renormalizes its rows.
            tracing.call(self._renormalize, indices)
        out = self.W[indices]
        if self.padding_idx is not None:
            padded = indices == self.padding_idx
            # Indices given to a compiled function (tracing.varies) may hold padding_idx at any replay.
            if tracing.varies(padded) or padded.any():
                # The padding vector's outputs as constants: no gradient reaches its row.
                out = ops.where(padded[..., None], ops.stop_gradient(out), out)
        return out

    def _checked(self, indices):
        # raw, not np.asarray: indices given to a compiled function stay traced (their cast to integers is
        # recorded); the checks, which only raise, read the traced call's values (tracing.peek).
        indices = raw(indices)
        values = tracing.peek(indices)
        owner = f"Embedding({self.num_embeddings}, {self.embedding_dim})"
        if values.dtype.kind == "f":
            # fit casts its inputs to the model's float dtype: whole numbers (exact in float32 up to 2^24) are
            # indices still; any other value is refused, never rounded.
            whole = np.isfinite(values) & (values == np.round(values))
            if not whole.all():
                raise TypeError(f"{owner}: indices must be integers, got {values[~whole].flat[0].item()!r} in an array of "
                                f"dtype {values.dtype}")
            if values.size and np.abs(values).max() > 2 ** 24:
                raise TypeError(f"{owner}: indices beyond 2^24 as floats may have been rounded; give integer indices")
            indices = indices.astype(np.intp)
            values = tracing.peek(indices)
        elif values.dtype.kind not in "iu":
            raise TypeError(f"{owner}: indices must be integers, got an array of dtype {values.dtype}")
        if values.size and (values.min() < 0 or values.max() >= self.num_embeddings):
            bad = values[(values < 0) | (values >= self.num_embeddings)].flat[0]
            raise IndexError(f"{owner}: index {bad} is out of range; indices must be in [0, {self.num_embeddings})")
        return indices

    def _renormalize(self, indices):
        # In place and outside the graph, as torch.embedding_renorm_: the table itself changes.
        rows = np.unique(indices)
        table = self.W.data
        norms = np.linalg.norm(table[rows], ord=self.norm_type, axis=1)
        too_long = norms > self.max_norm
        scale = self.max_norm / (norms[too_long] + 1e-7)  # PyTorch's 1e-7 keeps the result just inside max_norm
        table[rows[too_long]] *= scale[:, None].astype(table.dtype)
