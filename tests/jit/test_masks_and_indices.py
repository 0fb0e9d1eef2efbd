"""nablanet.jit on arguments that steer a layer rather than feed it: attention masks and embedding
indices. Each compiled function is traced on the first call and replayed with new masks (boolean and
float, with and without fully blocked rows) or new indices (with and without padding_idx among them),
so a value the trace froze, or a shortcut taken on the first call's values, shows up as a difference
from eager mode (values and gradients, 1e-12 in float64)."""

import numpy
import pytest

import nablanet
import nablanet.nn as nn
from nablanet import numpy as nnp
from nablanet.nn.layers.attention import scaled_dot_product_attention

TOLERANCE = 1e-12
CALLS = 4


def _close(actual, expected, what):
    numpy.testing.assert_allclose(numpy.asarray(actual), numpy.asarray(expected), rtol=TOLERANCE, atol=TOLERANCE,
                                  err_msg=what)


def _bool_mask(rng, shape, call, blocked):
    """A random mask (True with probability 0.4); from the third call on, its first row along the last
    axis all ``blocked`` (a query that attends to nothing), which the first call's mask has not."""
    mask = rng.random(shape) < 0.4
    mask[..., -1] = not blocked  # no row fully blocked on the traced call
    if call >= 2:
        mask[(0,) * (len(shape) - 1)] = blocked
    return mask


def _float_mask(rng, shape, call, blocked):
    return rng.standard_normal(shape)


MASKS = {"bool": _bool_mask, "float": _float_mask}


@pytest.mark.parametrize("kind", MASKS)
@pytest.mark.parametrize("mask_shape, is_causal", [((3, 4), False), ((2, 2, 3, 4), False), ((3, 4), True)],
                         ids=["LS", "NHLS", "LS-causal"])
def test_scaled_dot_product_attention_reads_each_calls_mask(kind, mask_shape, is_causal):
    def cost(q, k, v, mask):
        out = scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal)
        return nnp.sum(nnp.tanh(out))

    value_and_grad = nablanet.value_and_grad(cost, argnums=(0, 1, 2))
    compiled = nablanet.jit(value_and_grad)
    rng = numpy.random.default_rng(0)
    for call in range(CALLS):
        q, k, v = rng.standard_normal((2, 2, 3, 5)), rng.standard_normal((2, 2, 4, 5)), rng.standard_normal((2, 2, 4, 5))
        # This function's boolean masks say True where a key takes part: False blocks.
        mask = MASKS[kind](rng, mask_shape, call, blocked=False)
        (value, grads), (expected_value, expected_grads) = compiled(q, k, v, mask), value_and_grad(q, k, v, mask)
        _close(value, expected_value, f"value, call {call + 1}")
        for name, ours, theirs in zip("qkv", grads, expected_grads):
            _close(ours, theirs, f"d/d{name}, call {call + 1}")
    assert compiled.traces == 1


def _attention(seed):
    return nn.MultiheadAttention(4, 2, batch_first=True, rng=seed, dtype=numpy.float64)


def _encoder(seed):
    return nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, batch_first=True, rng=seed,
                                      dtype=numpy.float64)


# (the masks each call gets: their names and shapes; a self-attention of (N, L, E) = (2, 3, 4), so S = L = 3).
MASK_CASES = {
    "key-padding": {"key_padding_mask": (2, 3)},
    "attn-LS": {"attn_mask": (3, 3)},
    "attn-NHLS": {"attn_mask": (4, 3, 3)},
    "both": {"key_padding_mask": (2, 3), "attn_mask": (3, 3)},
    "key-padding-causal": {"key_padding_mask": (2, 3), "is_causal": True},
}


def _masks(case, kind, rng, call):
    masks = {}
    for name, shape in MASK_CASES[case].items():
        if name == "is_causal":
            masks[name] = shape
        else:
            # MultiheadAttention's boolean masks say True where a key is blocked.
            masks[name] = MASKS[kind](rng, shape, call, blocked=True)
    return masks


def _step(module, run):
    """A function of (x, masks) giving the loss sum(tanh(out)) and the parameters' gradients."""
    params = list(module.parameters())

    def step(x, masks):
        module.zero_grad()
        loss = nnp.sum(nnp.tanh(run(module, x, masks)))
        loss.backward()
        return loss, [p.grad for p in params]

    return step


def _mha(module, x, masks):
    masks = dict(masks)
    is_causal = masks.pop("is_causal", False)
    return module(x, x, x, need_weights=False, is_causal=is_causal, **masks)[0]


def _layer(module, x, masks):
    masks = dict(masks)
    return module(x, src_mask=masks.pop("attn_mask", None), src_key_padding_mask=masks.pop("key_padding_mask", None),
                  is_causal=masks.pop("is_causal", False))


MODULES = {"multiheadattention": (_attention, _mha), "transformerencoderlayer": (_encoder, _layer)}


# TransformerEncoderLayer's is_causal is PyTorch's hint about src_mask, not a mask: no causal case of its own.
MODULE_CASES = [(module, case) for module in MODULES for case in MASK_CASES
                if (module, case) != ("transformerencoderlayer", "key-padding-causal")]


@pytest.mark.parametrize("kind", MASKS)
@pytest.mark.parametrize("module, case", MODULE_CASES)
def test_attention_layers_read_each_calls_masks(module, case, kind):
    build, run = MODULES[module]
    eager, compiled = _step(build(0), run), nablanet.jit(_step(build(0), run))
    rng = numpy.random.default_rng(1)
    for call in range(CALLS):
        x, masks = rng.standard_normal((2, 3, 4)), _masks(case, kind, rng, call)
        (loss, grads), (expected_loss, expected_grads) = compiled(x, masks), eager(x, masks)
        _close(loss.data, expected_loss.data, f"loss, call {call + 1}")
        for k, (ours, theirs) in enumerate(zip(grads, expected_grads)):
            _close(ours.data, theirs.data, f"gradient of parameter {k}, call {call + 1}")
    assert compiled.traces == 1


def test_unbatched_key_padding_mask_is_each_calls():
    module = _attention(0)
    compiled = nablanet.jit(lambda x, mask: module(x, x, x, key_padding_mask=mask)[0])
    rng = numpy.random.default_rng(2)
    for call in range(CALLS):
        x, mask = rng.standard_normal((3, 4)), _bool_mask(rng, (3,), call, blocked=True)
        _close(compiled(x, mask).data, module(x, x, x, key_padding_mask=mask)[0].data, f"output, call {call + 1}")
    assert compiled.traces == 1


EMBEDDINGS = {
    "plain": {},
    "padding": dict(padding_idx=2),
    "padding-negative": dict(padding_idx=-1),
    "max-norm": dict(max_norm=1.5),
    "max-norm-1-padding": dict(max_norm=1.0, norm_type=1.0, padding_idx=0),
}


def _indices(rng, padding_idx, call):
    """(3, 4) indices into 6 rows: the traced call's without padding_idx, then with it and without it in turn."""
    indices = rng.integers(0, 6, (3, 4))
    if padding_idx is not None:
        padding_idx %= 6
        indices[indices == padding_idx] = (padding_idx + 1) % 6
        if call % 2:
            indices[0, :2] = indices[2, 3] = padding_idx
    return indices


@pytest.mark.parametrize("as_float", [False, True], ids=["int", "float"])
@pytest.mark.parametrize("options", EMBEDDINGS)
def test_embedding_trains_as_in_eager_mode(options, as_float):
    """padding_idx's row gets no gradient on the calls that look it up (and only those); max_norm rescales the
    rows each call looks up, in the table; float indices (fit's) are each call's."""
    def setup():
        table = nn.Embedding(6, 3, rng=0, dtype=numpy.float64, **EMBEDDINGS[options])
        optimizer = nablanet.optim.SGD(table.parameters(), lr=0.5, momentum=0.5)

        def step(indices):
            optimizer.zero_grad()
            out = table(indices)
            loss = nnp.sum(nnp.tanh(out) * nnp.arange(1.0, 4.0))
            loss.backward()
            optimizer.step()
            return loss, out, table.W.grad

        return table, step

    (eager_table, eager), (table, compiled) = setup(), setup()
    compiled = nablanet.jit(compiled)
    rng = numpy.random.default_rng(3)
    for call in range(CALLS):
        indices = _indices(rng, EMBEDDINGS[options].get("padding_idx"), call)
        indices = indices.astype(numpy.float64) if as_float else indices
        results, expected = compiled(indices), eager(indices)
        for what, ours, theirs in zip(("loss", "output", "gradient"), results, expected):
            _close(ours.data, theirs.data, f"{what}, call {call + 1}")
        _close(table.W.data, eager_table.W.data, f"table after call {call + 1}")
    assert compiled.traces == 1
