"""Attention: scaled dot-product attention, MultiheadAttention and the TransformerEncoderLayer built from it,
with PyTorch's arguments, shapes and masks; composed of the engine's ops (matmul, softmax, where, dense)."""

from __future__ import annotations

import functools
import math

import numpy as np

from nablanet.autodiff import ops
from nablanet.autodiff.jit import tracing
from nablanet.autodiff.op import raw
from nablanet.checks import check_bool, check_choice, check_float_dtype, check_int, check_real
from nablanet.nn import functional as F
from nablanet.nn import init as initializers
from nablanet.nn.init import make_rng
from nablanet.nn.layers.dense import Dense
from nablanet.nn.layers.dropout import Dropout
from nablanet.nn.layers.norm import LayerNorm
from nablanet.nn.layers.registry import register_layer
from nablanet.nn.module import ArraySpec, Module

__all__ = ["MultiheadAttention", "TransformerEncoderLayer"]


def _values(x):
    return x.data if hasattr(x, "_data") else np.asarray(x)


def causal_mask(length: int, source_length: int | None = None) -> np.ndarray:
    """The boolean mask (L, S) that keeps position i from attending to positions j > i (True: blocked)."""
    source_length = length if source_length is None else source_length
    return np.triu(np.ones((length, source_length), dtype=bool), k=1)


def _masked_scores(scores, masks):
    """scores with each mask applied: a boolean one blocks where True (the score becomes -inf, so its weight is
    0 and no gradient reaches it), a float one is added (PyTorch's two kinds of mask). Also returns where a
    query's every key is blocked (or None if none is): those rows' scores are set to 0, so that their softmax
    stays finite, for the caller to give them zero weights (as torch's scaled_dot_product_attention)."""
    blocked = None
    for mask in masks:
        if mask is None:
            continue
        if mask.dtype == bool:
            scores = ops.where(mask, -np.inf, scores)
            blocked = mask if blocked is None else blocked | mask
        else:
            scores = scores + mask.astype(_values(scores).dtype, copy=False)
    # A mask given to a compiled function (tracing.varies) may block whole rows at any replay: the general path.
    if blocked is None or not (tracing.varies(blocked) or blocked.all(axis=-1).any()):
        return scores, None
    # Two wheres: a softmax of a row of -inf would be 0/0, whose gradient stays NaN even when not selected.
    empty = blocked.all(axis=-1, keepdims=True)
    return ops.where(empty, 0.0, scores), empty


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout=None, is_causal: bool = False,
                                 scale: float | None = None, *, return_weights: bool = False):
    """softmax(q k^T / sqrt(d) + mask) v over the last two axes (Vaswani et al., 2017), as torch's function.

    Args:
        query: (..., L, d).  key: (..., S, d).  value: (..., S, d_v).
        attn_mask: None, a boolean array broadcastable to (..., L, S), True where a key takes part (torch's
            convention for this function; MultiheadAttention's boolean masks are the opposite, True where a
            key is blocked, as torch's), or a float one, added to the scores.
        dropout: None, or a Dropout layer applied to the attention weights (in training mode).
        is_causal: block every j > i (the causal mask), besides attn_mask.
        scale: the factor of the scores; default 1/sqrt(d).
        return_weights: also return the attention weights (..., L, S).

    A query whose every key is blocked gets zero weights, hence a zero output, as in torch's function.

    Example:
        >>> q = np.ones((2, 3, 4))   # equal scores: each output is the mean of the values
        >>> scaled_dot_product_attention(q, q, np.arange(24.0).reshape(2, 3, 4))[0, 0].round(12).tolist()
        [4.0, 5.0, 6.0, 7.0]
    """
    length, source_length = _values(query).shape[-2], _values(key).shape[-2]
    if attn_mask is not None:
        attn_mask = _mask_array("scaled_dot_product_attention", "attn_mask", attn_mask)
        attn_mask = ~attn_mask if attn_mask.dtype == bool else attn_mask
    masks = [attn_mask, causal_mask(length, source_length) if is_causal else None]
    out, weights = _attention(query, key, value, masks, dropout, scale)
    return (out, weights) if return_weights else out


def _attention(query, key, value, masks, dropout, scale=None):
    """(softmax(q k^T scale + masks) v, the weights) with the masks of _masked_scores, dropout on the weights."""
    scale = 1.0 / math.sqrt(_values(query).shape[-1]) if scale is None else scale
    # Scaling q (L d values) costs less than scaling the scores (L S values).
    scores = ops.matmul(query * scale, ops.swapaxes(key, -1, -2))
    scores, empty = _masked_scores(scores, masks)
    weights = ops.softmax(scores, axis=-1)
    if empty is not None:
        weights = ops.where(empty, 0.0, weights)
    dropped = weights if dropout is None else dropout(weights)
    return ops.matmul(dropped, value), weights


def _attention_arguments(embed_dim, num_heads, dropout, bias, batch_first, dtype) -> tuple:
    owner = "MultiheadAttention"
    embed_dim = check_int(owner, "embed_dim", embed_dim)
    num_heads = check_int(owner, "num_heads", num_heads)
    if embed_dim % num_heads:
        raise ValueError(f"{owner}: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
    return (embed_dim, num_heads, check_real(owner, "dropout", dropout, low=0.0, high=1.0, high_open=True),
            check_bool(owner, "bias", bias), check_bool(owner, "batch_first", batch_first),
            check_float_dtype(owner, dtype))


@register_layer("multiheadattention", size_argument="embed_dim", size_axis=-1)
class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al., 2017), with PyTorch's arguments, masks and outputs.

        head_h = softmax(q W_q^h (k W_k^h)^T / sqrt(d) + mask) v W_v^h,   d = embed_dim / num_heads
        out    = [head_1, ..., head_H] W_o + b_o

    q, k and v are projected together by ``in_proj`` (W of shape (E, 3 E): the columns of W_q, W_k and
    W_v side by side, PyTorch's in_proj_weight transposed) and the heads joined by ``out_proj``.

    Args:
        embed_dim: E, the features of query, key and value.
        num_heads: H, dividing E.
        dropout: the probability of dropping an attention weight in training, in [0, 1).
        bias: biases in both projections.
        batch_first: inputs (N, L, E) instead of PyTorch's default (L, N, E).
        rng: numpy Generator or int seed.  dtype: parameter dtype.

    Shape:
        query (L, N, E) or (N, L, E) with batch_first, or unbatched (L, E); key and value (S, N, E) alike.
        Output: the same layout as query, and the weights (N, L, S) averaged over the heads, (N, H, L, S)
        with average_attn_weights=False, without N when unbatched.

    Attributes:
        in_proj: Dense(E, 3 E), Glorot-uniform weights and zero biases as PyTorch's.
        out_proj: Dense(E, E), weights U(-1/sqrt(E), 1/sqrt(E)) and zero biases as PyTorch's.

    Example:
        >>> attention = MultiheadAttention(8, 2, batch_first=True, rng=0)
        >>> x = np.ones((3, 5, 8), dtype=np.float32)
        >>> out, weights = attention(x, x, x)
        >>> out.shape, weights.shape
        ((3, 5, 8), (3, 5, 5))
    """

    repr_always = ("num_heads",)

    def __init__(self, embed_dim: int, num_heads: int, *, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = False, rng=None, dtype=np.float32):
        (self.embed_dim, self.num_heads, p, bias, self.batch_first,
         dtype) = _attention_arguments(embed_dim, num_heads, dropout, bias, batch_first, dtype)
        rng = make_rng(rng)
        E = self.embed_dim
        self.in_proj = Dense(E, 3 * E, bias=bias, init="glorot_uniform", rng=rng, dtype=dtype)
        limit = 1.0 / math.sqrt(E)
        self.out_proj = Dense(E, E, bias=bias, init=functools.partial(initializers.uniform, limit=limit), rng=rng,
                              dtype=dtype)
        self.dropout = Dropout(p, rng=rng)

    @classmethod
    def state_spec(cls, embed_dim, num_heads, *, dropout=0.0, bias=True, batch_first=False, dtype=np.float32,
                   **options):
        E, _, _, bias, _, dtype = _attention_arguments(embed_dim, num_heads, dropout, bias, batch_first, dtype)
        for name, shape in (("in_proj", (E, 3 * E)), ("out_proj", (E, E))):
            yield f"{name}.W", ArraySpec(shape, dtype)
            if bias:
                yield f"{name}.b", ArraySpec(shape[1:], dtype)

    def forward(self, query, key=None, value=None, key_padding_mask=None, need_weights: bool = True, attn_mask=None,
                average_attn_weights: bool = True, is_causal: bool = False):
        """Attend from query to key and value (both default to query: self-attention).

        Args:
            query, key, value: see Shape in the class docstring.
            key_padding_mask: (N, S) (or (S,) unbatched): boolean, True for keys to ignore (padding), or
                float, added to the scores.
            need_weights: also return the attention weights (else None in their place).
            attn_mask: (L, S) or (N * H, L, S): boolean (True: blocked) or float (added).
            average_attn_weights: the weights averaged over the heads, or one set per head.
            is_causal: block every key after the query's position. Given with attn_mask, PyTorch's hint
                that attn_mask is the causal mask; alone, the causal mask itself.

        Returns:
            (output, weights or None).
        """
        key = query if key is None else key
        value = key if value is None else value
        shape = np.shape(_values(query))
        batched = len(shape) == 3
        self._check_inputs(shape, np.shape(_values(key)), np.shape(_values(value)))
        if not batched:
            query, key, value = (ops.expand_dims(t, 0) for t in (query, key, value))
            key_padding_mask = None if key_padding_mask is None else raw(key_padding_mask)[None]
        elif not self.batch_first:
            query, key, value = (ops.swapaxes(t, 0, 1) for t in (query, key, value))
        n, length, E = np.shape(_values(query))
        source_length = np.shape(_values(key))[1]
        masks = self._masks(key_padding_mask, attn_mask, n, length, source_length)
        q, k, v = self._project(query, key, value)
        if is_causal and attn_mask is None:
            masks.append(causal_mask(length, source_length))
        heads, weights = _attention(*(self._split_heads(t) for t in (q, k, v)), masks,
                                    self.dropout if self.training else None)
        out = self.out_proj(ops.reshape(ops.swapaxes(heads, 1, 2), (n, length, E)))
        if not batched:
            out = out[0]
        elif not self.batch_first:
            out = ops.swapaxes(out, 0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = ops.mean(weights, axis=1)
        return out, (weights if batched else weights[0])

    def _project(self, query, key, value):
        E = self.embed_dim
        # Three products, one per block of in_proj's columns, even in self-attention: slicing q, k and v out
        # of one product x W (N, L, 3 E) makes the reverse pass scatter each slice's gradient into zeros of
        # (N, L, 3 E) and add those three arrays, which cost a fifth of a forward + backward pass at
        # (64, 32, 128) (benchmarks/attention.py); the slices of W are small.
        W, b = self.in_proj.W, self.in_proj.b
        return tuple(F.dense(t, W[:, i * E:(i + 1) * E], None if b is None else b[i * E:(i + 1) * E])
                     for i, t in enumerate((query, key, value)))

    def _split_heads(self, t):
        """(N, L, E) -> (N, H, L, d)."""
        n, length, _ = np.shape(_values(t))
        return ops.swapaxes(ops.reshape(t, (n, length, self.num_heads, -1)), 1, 2)

    def _check_inputs(self, query, key, value):
        owner = f"MultiheadAttention({self.embed_dim}, num_heads={self.num_heads})"
        layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
        if len(query) not in (2, 3) or query[-1] != self.embed_dim:
            raise ValueError(f"{owner}: expected a query of shape {layout} or (L, E) with E = {self.embed_dim}, "
                             f"got {query}")
        batch_axis = 0 if self.batch_first else 1
        for name, shape in (("key", key), ("value", value)):
            if len(shape) != len(query) or shape[-1] != self.embed_dim or (
                    len(query) == 3 and shape[batch_axis] != query[batch_axis]):
                raise ValueError(f"{owner}: the {name} of shape {shape} does not fit the query of shape {query} "
                                 f"(expected {'(S, E)' if len(query) == 2 else layout.replace('L', 'S')})")
        if key[:-1] != value[:-1]:
            raise ValueError(f"{owner}: key of shape {key} and value of shape {value} must have the same length S")

    def _masks(self, key_padding_mask, attn_mask, n, length, source_length):
        """The masks as arrays broadcastable to the scores (N, H, L, S)."""
        owner = f"MultiheadAttention({self.embed_dim}, num_heads={self.num_heads})"
        masks = []
        if key_padding_mask is not None:
            padding = _mask_array(owner, "key_padding_mask", key_padding_mask)
            if padding.shape != (n, source_length):
                raise ValueError(f"{owner}: key_padding_mask must have shape (N, S) = {(n, source_length)}, "
                                 f"got {padding.shape}")
            masks.append(padding[:, None, None, :])
        if attn_mask is not None:
            mask = _mask_array(owner, "attn_mask", attn_mask)
            if mask.shape == (length, source_length):
                masks.append(mask)
            elif mask.shape == (n * self.num_heads, length, source_length):
                masks.append(mask.reshape(n, self.num_heads, length, source_length))
            else:
                raise ValueError(f"{owner}: attn_mask must have shape (L, S) = {(length, source_length)} or "
                                 f"(N * num_heads, L, S) = {(n * self.num_heads, length, source_length)}, "
                                 f"got {mask.shape}")
        return masks


def _mask_array(owner, name, mask):
    # raw, not np.asarray: a mask given to a compiled function stays traced, so each replay reads its own.
    mask = raw(mask)
    if mask.dtype != bool and mask.dtype.kind != "f":
        raise TypeError(f"{owner}: {name} must be boolean (True: blocked) or floating-point (added to the scores), "
                        f"got dtype {mask.dtype}")
    return mask


#: The feed-forward activations of TransformerEncoderLayer (PyTorch's two names).
TRANSFORMER_ACTIVATIONS = ("relu", "gelu")


def _encoder_arguments(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first,
                       bias, dtype) -> tuple:
    owner = "TransformerEncoderLayer"
    _attention_arguments(check_int(owner, "d_model", d_model), check_int(owner, "nhead", nhead), 0.0, bias,
                         batch_first, dtype)
    return (d_model, nhead, check_int(owner, "dim_feedforward", dim_feedforward),
            check_real(owner, "dropout", dropout, low=0.0, high=1.0, high_open=True),
            check_choice(owner, "activation", activation, TRANSFORMER_ACTIVATIONS),
            check_real(owner, "layer_norm_eps", layer_norm_eps, low=0.0, low_open=True),
            check_bool(owner, "norm_first", norm_first), check_float_dtype(owner, dtype))


@register_layer("transformerencoderlayer", size_argument="d_model", size_axis=-1)
class TransformerEncoderLayer(Module):
    """One layer of the Transformer's encoder (Vaswani et al., 2017) as PyTorch's TransformerEncoderLayer:
    self-attention and a feed-forward network, each in a residual branch with layer normalization.

        post-norm (default):  x = norm1(x + SA(x)),        x = norm2(x + FF(x))
        pre-norm (norm_first): x = x + SA(norm1(x)),       x = x + FF(norm2(x))
        SA(x) = dropout(MultiheadAttention(x, x, x)),  FF(x) = dropout(linear2(dropout(sigma(linear1(x)))))

    Args:
        d_model: E, the features of each position.
        nhead: the attention heads, dividing d_model.
        dim_feedforward: the hidden units of the feed-forward network.
        dropout: the dropout probability everywhere (attention weights and both branches), in [0, 1).
        activation: sigma, "relu" or "gelu".
        layer_norm_eps: the eps of both LayerNorms.
        batch_first: inputs (N, L, E) instead of (L, N, E).
        norm_first: pre-norm instead of post-norm.
        bias: biases in the linear layers and the LayerNorms.
        rng: numpy Generator or int seed.  dtype: parameter dtype.

    Shape:
        (L, N, E), (N, L, E) with batch_first, or (L, E) -> the same.

    Example:
        >>> layer = TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True, rng=0)
        >>> layer(np.ones((3, 5, 8), dtype=np.float32)).shape
        (3, 5, 8)
    """

    repr_always = ("nhead",)

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, *, rng=None, dtype=np.float32):
        (d_model, nhead, dim_feedforward, dropout, activation, eps, self.norm_first,
         dtype) = _encoder_arguments(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                                     batch_first, norm_first, bias, dtype)
        rng = make_rng(rng)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            rng=rng, dtype=dtype)
        # PyTorch initializes its Linear layers U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        self.linear1 = Dense(d_model, dim_feedforward, activation=activation, bias=bias, rng=rng, dtype=dtype,
                             init=functools.partial(initializers.uniform, limit=1.0 / math.sqrt(d_model)))
        self.linear2 = Dense(dim_feedforward, d_model, bias=bias, rng=rng, dtype=dtype,
                             init=functools.partial(initializers.uniform, limit=1.0 / math.sqrt(dim_feedforward)))
        self.norm1 = LayerNorm(d_model, eps=eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=eps, bias=bias, dtype=dtype)
        self.dropout, self.dropout1, self.dropout2 = (Dropout(dropout, rng=rng) for _ in range(3))

    @classmethod
    def state_spec(cls, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                   batch_first=False, norm_first=False, bias=True, *, dtype=np.float32, **options):
        d_model, nhead, ff, *_, dtype = _encoder_arguments(d_model, nhead, dim_feedforward, dropout, activation,
                                                           layer_norm_eps, batch_first, norm_first, bias, dtype)
        for name, spec in MultiheadAttention.state_spec(d_model, nhead, bias=bias, dtype=dtype):
            yield f"self_attn.{name}", spec
        for name, shape in (("linear1", (d_model, ff)), ("linear2", (ff, d_model))):
            yield f"{name}.W", ArraySpec(shape, dtype)
            if bias:
                yield f"{name}.b", ArraySpec(shape[1:], dtype)
        for name in ("norm1", "norm2"):
            yield f"{name}.gamma", ArraySpec((d_model,), dtype)
            if bias:
                yield f"{name}.beta", ArraySpec((d_model,), dtype)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal: bool = False):
        """The layer on src, with the masks and causal option of MultiheadAttention (src_mask is its attn_mask)."""
        x = src
        if self.norm_first:
            x = x + self._self_attention(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._feed_forward(self.norm2(x))
        x = self.norm1(x + self._self_attention(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._feed_forward(x))

    def _self_attention(self, x, attn_mask, key_padding_mask, is_causal):
        out, _ = self.self_attn(x, x, x, key_padding_mask=key_padding_mask, need_weights=False, attn_mask=attn_mask,
                                is_causal=is_causal)
        return self.dropout1(out)

    def _feed_forward(self, x):
        return self.dropout2(self.linear2(self.dropout(self.linear1(x))))
