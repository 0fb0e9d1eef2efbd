"""Minibatch indices and the train/validation split: coverage, sizes, order, reproducibility."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nablanet.train.data import (
    concatenate_rows,
    iterate_minibatches,
    minibatch_indices,
    num_rows,
    take_rows,
    train_validation_split,
    validation_rows,
)


@settings(max_examples=60, deadline=None)
@given(n_samples=st.integers(1, 200), batch_size=st.integers(1, 64), seed=st.integers(0, 2**32 - 1))
def test_shuffled_batches_partition_the_rows(n_samples, batch_size, seed):
    indexers = minibatch_indices(n_samples, batch_size, rng=np.random.default_rng(seed))
    batches = [np.arange(n_samples)[indexer] for indexer in indexers]  # arrays, or a slice for one batch
    sizes = [len(batch) for batch in batches]
    assert len(batches) == math.ceil(n_samples / batch_size)
    assert all(size == batch_size for size in sizes[:-1]) and 1 <= sizes[-1] <= batch_size
    assert sorted(np.concatenate(batches).tolist()) == list(range(n_samples))


def test_unshuffled_batches_are_slices_in_order():
    batches = minibatch_indices(7, 3)
    assert batches == [slice(0, 3), slice(3, 6), slice(6, 7)]
    X = np.arange(14).reshape(7, 2)
    assert np.shares_memory(X[batches[0]], X)  # views: no copy when not shuffling


def test_full_batch_and_oversized_batch_give_one_batch():
    assert minibatch_indices(5, None) == [slice(0, 5)]
    assert minibatch_indices(5, 100) == [slice(0, 5)]
    # Permuting a single batch would only copy the data: it stays a slice even with an rng.
    assert minibatch_indices(5, None, rng=np.random.default_rng(0)) == [slice(0, 5)]


def test_same_seed_same_batches_and_each_call_reshuffles():
    first = minibatch_indices(50, 8, rng=np.random.default_rng(3))
    again = minibatch_indices(50, 8, rng=np.random.default_rng(3))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    rng = np.random.default_rng(3)
    epoch_0 = np.concatenate(minibatch_indices(50, 8, rng=rng))
    epoch_1 = np.concatenate(minibatch_indices(50, 8, rng=rng))
    assert not np.array_equal(epoch_0, epoch_1)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, "8"])
def test_bad_batch_size_is_an_error(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        minibatch_indices(10, batch_size)


def test_iterate_minibatches_keeps_rows_paired():
    X = np.arange(20).reshape(10, 2)
    y = X[:, 0] * 10
    seen = []
    for X_batch, y_batch in iterate_minibatches(X, y, batch_size=4, rng=np.random.default_rng(0)):
        np.testing.assert_array_equal(y_batch, X_batch[:, 0] * 10)
        seen.extend(y_batch.tolist())
    assert sorted(seen) == sorted(y.tolist())
    assert [len(b) for b in iterate_minibatches(X, batch_size=4)] == [4, 4, 2]
    with pytest.raises(ValueError, match="rows"):
        next(iterate_minibatches(X, y[:5]))


def test_split_without_rng_holds_out_the_last_rows():
    X = np.arange(20).reshape(10, 2)
    y = np.arange(10)
    X_train, X_val, y_train, y_val = train_validation_split(X, y, 0.25)
    # ceil(0.25 * 10) = 3 rows held out.
    assert y_train.tolist() == list(range(7)) and y_val.tolist() == [7, 8, 9]
    np.testing.assert_array_equal(X_val[:, 0], 2 * y_val)


def test_random_split_is_disjoint_complete_and_reproducible():
    X = np.arange(200).reshape(100, 2)
    y = np.arange(100)
    _, X_val, y_train, y_val = train_validation_split(X, y, 0.2, rng=np.random.default_rng(5))
    assert len(y_val) == 20 and len(y_train) == 80
    assert sorted(y_train.tolist() + y_val.tolist()) == list(range(100))
    assert y_val.tolist() != list(range(80, 100))
    np.testing.assert_array_equal(X_val[:, 0], 2 * y_val)
    _, _, _, y_val_again = train_validation_split(X, y, 0.2, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(y_val, y_val_again)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_split_fraction_must_be_in_the_open_unit_interval(fraction):
    with pytest.raises(ValueError, match="validation_fraction"):
        train_validation_split(np.zeros((10, 1)), np.zeros(10), fraction)


def test_split_that_leaves_no_training_rows_is_an_error():
    with pytest.raises(ValueError, match="no training samples"):
        train_validation_split(np.zeros((1, 1)), np.zeros(1), 0.5)


def test_several_arrays_are_cut_into_the_same_rows():
    X = {"image": np.arange(20).reshape(10, 2), "meta": np.arange(10)}
    y = (np.arange(10) * 10, np.arange(10) * 100)
    for X_batch, (first, second) in iterate_minibatches(X, y, batch_size=4, rng=np.random.default_rng(0)):
        np.testing.assert_array_equal(X_batch["image"][:, 0] // 2, X_batch["meta"])
        np.testing.assert_array_equal(first, X_batch["meta"] * 10)
        np.testing.assert_array_equal(second, X_batch["meta"] * 100)
    assert concatenate_rows([take_rows(y, slice(0, 3)), take_rows(y, slice(3, 10))])[1].tolist() == y[1].tolist()
    with pytest.raises(ValueError, match=r"the arrays of X have different numbers of rows, \[10, 9\]"):
        num_rows({"image": X["image"], "meta": X["meta"][:9]})


def test_validation_rows_cut_as_train_validation_split():
    X, y = np.arange(20).reshape(10, 2), np.arange(10)
    train_rows, held_out = validation_rows(10, 0.3, rng=np.random.default_rng(2))
    _, _, y_train, y_val = train_validation_split(X, y, 0.3, rng=np.random.default_rng(2))
    assert y[train_rows].tolist() == y_train.tolist() and y[held_out].tolist() == y_val.tolist()
