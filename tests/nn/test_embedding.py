"""Embedding: equality with PyTorch's (lookups, padding_idx, max_norm, gradients) to 1e-8 over drawn
configurations, finite-difference checks of the table's gradient, and clear errors for bad indices."""

import numpy
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import nablanet.nn as nn
from layer_oracle import assert_matches_torch
from nablanet.testing import check_grads

DRAWN = settings(max_examples=15, deadline=None, derandomize=True, database=None)


@DRAWN
@given(size=st.integers(1, 8), dim=st.integers(1, 5), index_shape=st.lists(st.integers(1, 4), min_size=0, max_size=3),
       padding=st.booleans(), max_norm=st.sampled_from([None, 0.5, 2.0]), norm_type=st.sampled_from([1.0, 2.0]),
       seed=st.integers(0, 99))
def test_embedding_equals_torch(size, dim, index_shape, padding, max_norm, norm_type, seed):
    rng = numpy.random.default_rng(seed)
    padding_idx = int(rng.integers(-size, size)) if padding else None
    ours = nn.Embedding(size, dim, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type, rng=seed,
                        dtype=numpy.float64)
    theirs = torch.nn.Embedding(size, dim, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.W.data))
    indices = rng.integers(0, size, tuple(index_shape))
    # The table is copied into torch before the call and both renormalize inside it: compare the tables after.
    assert_matches_torch(ours, theirs, [indices], {}, seed=seed)
    numpy.testing.assert_allclose(ours.W.data, theirs.weight.detach().numpy(), rtol=1e-12)
    numpy.testing.assert_allclose(ours.W.grad, theirs.weight.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_padding_vector_starts_at_zero_and_gets_no_gradient():
    layer = nn.Embedding(4, 2, padding_idx=1, rng=0, dtype=numpy.float64)
    assert layer.W.data[1].tolist() == [0.0, 0.0]
    layer.W.data[1] = [3.0, 4.0]  # still looked up as it is, never trained
    out = layer(numpy.array([1, 2, 1]))
    assert out.data[0].tolist() == [3.0, 4.0]
    out.sum().backward()
    assert layer.W.grad[1].tolist() == [0.0, 0.0] and layer.W.grad[2].tolist() == [1.0, 1.0]


def test_embedding_gradient_matches_finite_differences_to_second_order():
    layer = nn.Embedding(5, 3, rng=1, dtype=numpy.float64)
    indices = numpy.array([[0, 3, 3], [4, 0, 1]])  # repeated indices: their gradients add up

    def f(W):
        return nn.functional_call(layer, {"W": W}, indices) ** 2

    check_grads(f, [layer.W.data], modes=("fwd", "rev"), order=2, rtol=1e-6)


def test_embedding_refuses_bad_indices_and_arguments_in_its_own_words():
    layer = nn.Embedding(10, 4)
    with pytest.raises(IndexError, match=r"Embedding\(10, 4\): index 12 is out of range; indices must be in \[0, 10\)"):
        layer(numpy.array([1, 12, 3]))
    with pytest.raises(IndexError, match=r"index -1 is out of range"):
        layer(numpy.array([[0], [-1]]))
    with pytest.raises(TypeError, match=r"Embedding\(10, 4\): indices must be integers, got 2.5 in an array of dtype"):
        layer(numpy.array([1.0, 2.5]))
    with pytest.raises(TypeError, match=r"Embedding\(10, 4\): indices must be integers, got an array of dtype bool"):
        layer(numpy.array([True, False]))
    with pytest.raises(ValueError, match=r"Embedding: padding_idx must be an index of the 10 embeddings, in \[-10, 10\), "
                                         r"got 10"):
        nn.Embedding(10, 4, padding_idx=10)
    with pytest.raises(ValueError, match="Embedding: max_norm must be a positive finite number, got -1"):
        nn.Embedding(10, 4, max_norm=-1)


def test_fit_trains_an_embedding_from_the_float_inputs_it_gives_the_model():
    from nablanet.optim import Adam
    from nablanet.train import fit

    rng = numpy.random.default_rng(0)
    tokens = rng.integers(0, 10, (128, 5))
    labels = (tokens >= 5).sum(axis=1) >= 3  # a majority of "high" tokens
    model = nn.Sequential(nn.Embedding(10, 4, rng=0), nn.Flatten(), nn.Dense(20, 2, rng=1))
    history = fit(model, tokens, labels.astype(numpy.int64), loss="cross_entropy",
                  optimizer=Adam(model.parameters(), lr=0.05), epochs=20, seed=0, progress=False)
    assert history["accuracy"][-1] > 0.9, history["accuracy"]
    numpy.testing.assert_array_equal(model(tokens.astype(numpy.float32)).data, model(tokens).data)
