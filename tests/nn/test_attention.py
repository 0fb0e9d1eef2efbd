"""MultiheadAttention and TransformerEncoderLayer: equality with PyTorch's to 1e-8 in float64 over drawn
configurations (shapes, layouts, masks, causal option, weights returned), finite-difference checks of both
modes to second order, and the errors of wrong shapes and masks."""

import numpy
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import nablanet.nn as nn
import nablanet.numpy as nnp
from layer_oracle import assert_matches_torch, layer_as_function, same
from nablanet.nn.layers.attention import causal_mask, scaled_dot_product_attention
from nablanet.testing import check_grads

F64 = numpy.float64
DRAWN = settings(max_examples=60, deadline=None, derandomize=True, database=None)


def transposed(v):
    return v.T


def attention_pairs(ours, prefix=""):
    pairs = {f"{prefix}in_proj_weight": (ours.in_proj.W, transposed),
             f"{prefix}out_proj.weight": (ours.out_proj.W, transposed)}
    if ours.in_proj.b is not None:
        pairs[f"{prefix}in_proj_bias"] = (ours.in_proj.b, same)
        pairs[f"{prefix}out_proj.bias"] = (ours.out_proj.b, same)
    return pairs


def _joined(out, weights):
    """The output and the weights as one flat array, so that one comparison covers both and their gradients."""
    if weights is None:
        return out
    if isinstance(out, torch.Tensor):
        return torch.cat([out.reshape(-1), weights.reshape(-1)])
    return nnp.concatenate([nnp.reshape(out, (-1,)), nnp.reshape(weights, (-1,))])


@DRAWN
@given(heads_and_dim=st.sampled_from([(1, 4), (2, 4), (2, 6), (3, 6), (4, 8)]), n=st.integers(1, 3),
       length=st.integers(1, 4), source=st.integers(1, 4), batch_first=st.booleans(), batched=st.booleans(),
       bias=st.booleans(), kind=st.sampled_from(["self", "cross"]), padding=st.sampled_from([None, "bool", "float"]),
       mask=st.sampled_from([None, "bool", "float", "bool-per-head", "causal"]), need_weights=st.booleans(),
       average=st.booleans(), seed=st.integers(0, 999))
def test_multihead_attention_equals_torch(heads_and_dim, n, length, source, batch_first, batched, bias, kind, padding,
                                          mask, need_weights, average, seed):
    heads, E = heads_and_dim
    rng = numpy.random.default_rng(seed)
    source = length if kind == "self" else source
    ours = nn.MultiheadAttention(E, heads, bias=bias, batch_first=batch_first, rng=seed, dtype=F64)
    if bias:
        ours.in_proj.b.data[...] = rng.standard_normal(3 * E)
        ours.out_proj.b.data[...] = rng.standard_normal(E)
    theirs = torch.nn.MultiheadAttention(E, heads, bias=bias, batch_first=batch_first).double()

    def layout(steps):
        if not batched:
            return (steps, E)
        return (n, steps, E) if batch_first else (steps, n, E)

    query = rng.standard_normal(layout(length))
    inputs = [query] if kind == "self" else [query, rng.standard_normal(layout(source)),
                                             rng.standard_normal(layout(source))]
    options = {}
    if padding is not None:
        blocked = rng.random((n, source) if batched else (source,)) < 0.4
        blocked[..., 0] = False  # every query keeps a key
        options["key_padding_mask"] = blocked if padding == "bool" else numpy.where(blocked, -3.0, 0.5)
    if mask in ("bool", "float"):
        blocked = rng.random((length, source)) < 0.4
        blocked[:, 0] = False
        options["attn_mask"] = blocked if mask == "bool" else rng.standard_normal((length, source))
    elif mask == "bool-per-head":
        blocked = rng.random((n * heads if batched else heads, length, source)) < 0.4
        blocked[..., 0] = False
        options["attn_mask"] = blocked
    if padding is not None and "attn_mask" in options:
        # torch wants both masks of one kind (a mixture is deprecated there): the padding's kind wins.
        attn = options["attn_mask"]
        if padding == "float" and attn.dtype == bool:
            options["attn_mask"] = numpy.where(attn, -2.0, 0.0)
        elif padding == "bool" and attn.dtype != bool:
            options["attn_mask"] = attn > 1.0
            options["attn_mask"][..., 0] = False

    def call(module, *args):
        torch_side = isinstance(module, torch.nn.Module)
        extra = dict(options)
        if mask == "causal":
            # torch's is_causal is a hint that needs the mask; ours builds it when given alone.
            extra["is_causal"] = True
            if torch_side or seed % 2:
                extra["attn_mask"] = torch.as_tensor(causal_mask(length)) if torch_side else causal_mask(length)
        if torch_side:
            extra = {k: torch.as_tensor(v) if isinstance(v, numpy.ndarray) else v for k, v in extra.items()}
        arguments = args if len(args) == 3 else (args[0], args[0], args[0])
        out, weights = module(*arguments, need_weights=need_weights, average_attn_weights=average, **extra)
        return _joined(out, weights)

    if mask == "causal" and kind == "cross":
        return  # the causal mask is square: self-attention only
    assert_matches_torch(ours, theirs, inputs, attention_pairs(ours), call=call, seed=seed)


@DRAWN
@given(norm_first=st.booleans(), activation=st.sampled_from(["relu", "gelu"]), batch_first=st.booleans(),
       bias=st.booleans(), padding=st.booleans(), causal=st.booleans(), n=st.integers(1, 3), length=st.integers(1, 5),
       seed=st.integers(0, 999))
def test_transformer_encoder_layer_equals_torch_without_dropout(norm_first, activation, batch_first, bias, padding,
                                                                causal, n, length, seed):
    rng = numpy.random.default_rng(seed)
    E, heads, ff = 6, 2, 10
    ours = nn.TransformerEncoderLayer(E, heads, ff, dropout=0.0, activation=activation, batch_first=batch_first,
                                      norm_first=norm_first, bias=bias, rng=seed, dtype=F64)
    theirs = torch.nn.TransformerEncoderLayer(E, heads, ff, dropout=0.0, activation=activation,
                                              batch_first=batch_first, norm_first=norm_first, bias=bias).double()
    for p in ours.parameters():
        p.data[...] = rng.normal(0.0, 0.5, p.shape)
    pairs = {**attention_pairs(ours.self_attn, "self_attn."), "linear1.weight": (ours.linear1.W, transposed),
             "linear2.weight": (ours.linear2.W, transposed), "norm1.weight": (ours.norm1.gamma, same),
             "norm2.weight": (ours.norm2.gamma, same)}
    if bias:
        pairs.update({"linear1.bias": (ours.linear1.b, same), "linear2.bias": (ours.linear2.b, same),
                      "norm1.bias": (ours.norm1.beta, same), "norm2.bias": (ours.norm2.beta, same)})
    x = rng.standard_normal((n, length, E) if batch_first else (length, n, E))
    options = {}
    if padding:
        blocked = rng.random((n, length)) < 0.4
        blocked[:, 0] = False
        options["src_key_padding_mask"] = blocked
    if causal:
        options.update(src_mask=causal_mask(length), is_causal=True)

    def call(module, x):
        if isinstance(module, torch.nn.Module):
            return module(x, **{k: torch.as_tensor(v) if isinstance(v, numpy.ndarray) else v for k, v in options.items()})
        return module(x, **options)

    # torch's fast path (eval mode, no gradient) is not taken: the gradients are compared too.
    assert_matches_torch(ours, theirs, [x], pairs, call=call, seed=seed)


def test_scaled_dot_product_attention_equals_torch():
    rng = numpy.random.default_rng(3)
    q, k, v = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((2, 3, 6, 2))
    mask = rng.random((4, 6)) < 0.7  # torch's convention for the function: True where a key takes part
    mask[1] = False  # a query without keys: zero weights and output
    for options in ({}, {"attn_mask": mask}, {"is_causal": True}, {"attn_mask": rng.standard_normal((4, 6)),
                                                                    "scale": 0.3}):
        ours = scaled_dot_product_attention(q, k, v, **options)
        theirs = torch.nn.functional.scaled_dot_product_attention(
            *(torch.tensor(a) for a in (q, k, v)),
            **{key: torch.as_tensor(value) if isinstance(value, numpy.ndarray) else value
               for key, value in options.items()})
        numpy.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12, atol=1e-14)
    # No NaN in the gradient either: the query without keys passes none.
    from nablanet import grad

    gradient = grad(lambda q: nnp.sum(scaled_dot_product_attention(q, k, v, attn_mask=mask) ** 2))(q)
    assert numpy.isfinite(gradient).all() and not gradient[:, :, 1].any()


GRADIENT_CASES = {
    "attention-self-masks": (lambda: nn.MultiheadAttention(4, 2, batch_first=True, rng=0, dtype=F64),
                             dict(key_padding_mask=numpy.array([[False, False, True], [False, True, False]]),
                                  attn_mask=numpy.array([[0.0, 1.0, -1.0], [0.5, 0.0, 0.0], [0.0, 0.0, 2.0]]))),
    "attention-causal-per-head-weights": (lambda: nn.MultiheadAttention(4, 2, rng=1, dtype=F64),
                                          dict(is_causal=True, average_attn_weights=False)),
    "encoder-post-norm-gelu": (lambda: nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, activation="gelu",
                                                                  batch_first=True, rng=2, dtype=F64), {}),
    "encoder-pre-norm-relu-causal": (lambda: nn.TransformerEncoderLayer(4, 1, 5, dropout=0.0, norm_first=True,
                                                                        rng=3, dtype=F64), dict(is_causal=True)),
}


@pytest.mark.parametrize("name", sorted(GRADIENT_CASES))
def test_attention_gradients_match_finite_differences_to_second_order(name):
    make, options = GRADIENT_CASES[name]
    layer = make()
    rng = numpy.random.default_rng(4)
    for p in layer.parameters():
        p.data[...] = rng.normal(0.0, 0.7, p.shape)
    x = rng.standard_normal((2, 3, 4))
    names = [parameter_name for parameter_name, _ in layer.named_parameters()]

    def f(x_value, *values):
        out = nn.functional_call(layer, dict(zip(names, values)), x_value, **options)
        return _joined(*out) if isinstance(out, tuple) else out

    # ReLU's kink is met with probability 0 at these random values.
    check_grads(f, [x] + [p.data for p in layer.parameters()], modes=("fwd", "rev"), order=2, rtol=1e-5, rng=rng)


def test_dropout_applies_to_the_weights_in_training_only():
    layer = nn.MultiheadAttention(4, 2, dropout=0.5, batch_first=True, rng=0, dtype=F64)
    x = numpy.random.default_rng(5).standard_normal((2, 3, 4))
    trained = [layer(x)[0].data for _ in range(2)]
    assert not numpy.allclose(trained[0], trained[1])
    layer.eval()
    numpy.testing.assert_array_equal(layer(x)[0].data, layer(x)[0].data)


def test_attention_refuses_wrong_shapes_and_masks_in_its_own_words():
    layer = nn.MultiheadAttention(4, 2, batch_first=True)
    x = numpy.ones((2, 3, 4), dtype=numpy.float32)
    with pytest.raises(ValueError, match=r"MultiheadAttention: embed_dim \(6\) must be divisible by num_heads \(4\)"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match=r"expected a query of shape \(N, L, E\) or \(L, E\) with E = 4, got \(2, 3, 5\)"):
        layer(numpy.ones((2, 3, 5)))
    with pytest.raises(ValueError, match=r"the key of shape \(3, 3, 4\) does not fit the query of shape \(2, 3, 4\)"):
        layer(x, numpy.ones((3, 3, 4)), numpy.ones((3, 3, 4)))
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(N, S\) = \(2, 3\), got \(3, 2\)"):
        layer(x, key_padding_mask=numpy.zeros((3, 2), dtype=bool))
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(L, S\) = \(3, 3\) or \(N \* num_heads, L, S\) = "
                                         r"\(4, 3, 3\), got \(2, 3, 3\)"):
        layer(x, attn_mask=numpy.zeros((2, 3, 3), dtype=bool))
    with pytest.raises(TypeError, match="attn_mask must be boolean .* or floating-point .*, got dtype int64"):
        layer(x, attn_mask=numpy.zeros((3, 3), dtype=numpy.int64))
    with pytest.raises(ValueError, match="TransformerEncoderLayer: activation must be one of 'relu', 'gelu', got 'tanh'"):
        nn.TransformerEncoderLayer(4, 2, activation="tanh")
