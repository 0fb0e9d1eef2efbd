"""fit on data that need not fit in memory: Datasets, memory-mapped arrays, .npy shards, iterables of batches."""

import tracemalloc

import numpy as np
import pytest

import nablanet.nn as nn
from nablanet.optim import SGD, Adam
from nablanet.train import ArrayDataset, NpyShards, SampleDataset, evaluate, fit, predict
from nablanet.train.sources import LAZY_BATCH_SIZE


def _data(n=61, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)


def _network():
    return nn.Sequential(nn.Dense(4, 6, activation="tanh", rng=0), nn.Dropout(0.2, rng=1), nn.Dense(6, 2, rng=2))


def _train(X, y=None, **settings):
    model = _network()
    settings = {"epochs": 3, "batch_size": 8, "seed": 5, "progress": False, **settings}
    history = fit(model, X, y, loss="cross_entropy", optimizer=Adam(model.parameters(), lr=0.02), **settings)
    return model, history


def _same_weights(model, other) -> bool:
    return all(np.array_equal(a.data, b.data) for a, b in zip(model.parameters(), other.parameters()))


class Pairs:
    """A user's Dataset over arrays, as the sources module docstring shows it."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, indices):
        return self.X[indices], self.y[indices]


class OneAtATime(Pairs):
    """A Dataset in PyTorch's convention: one index in, one sample out."""

    def __getitem__(self, i):
        return self.X[i], int(self.y[i])


def _memory_mapped(tmp_path, X, y):
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    return np.load(tmp_path / "X.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r")


def _shards(tmp_path, X, y, cuts=(0, 20, 21, 61)):
    for i, (start, stop) in enumerate(zip(cuts[:-1], cuts[1:])):
        np.save(tmp_path / f"X_{i}.npy", X[start:stop])
        np.save(tmp_path / f"y_{i}.npy", y[start:stop])
    return NpyShards(str(tmp_path / "X_*.npy"), [tmp_path / f"y_{i}.npy" for i in range(len(cuts) - 1)])


def _torch_dataset(tmp_path, X, y):
    torch = pytest.importorskip("torch")
    return torch.utils.data.TensorDataset(torch.tensor(X), torch.tensor(y))


@pytest.mark.parametrize("form", [
    lambda tmp_path, X, y: (Pairs(X, y),),
    lambda tmp_path, X, y: (ArrayDataset(X, y),),
    lambda tmp_path, X, y: _memory_mapped(tmp_path, X, y),
    lambda tmp_path, X, y: (_shards(tmp_path, X, y),),
    lambda tmp_path, X, y: (SampleDataset(OneAtATime(X, y)),),
    lambda tmp_path, X, y: (_torch_dataset(tmp_path, X, y),),
], ids=["dataset", "ArrayDataset", "memmap", "NpyShards", "SampleDataset", "torch"])
def test_fit_on_a_dataset_equals_fit_on_its_arrays_bit_for_bit(tmp_path, form):
    """Same seed, same permutation per epoch and the same held-out samples: the same batches, hence the same steps."""
    X, y = _data()
    on_arrays, expected = _train(X, y, validation_split=0.25)
    on_dataset, history = _train(*form(tmp_path, X, y), validation_split=0.25)
    assert _same_weights(on_dataset, on_arrays)
    assert history.history == expected.history
    assert history.params == expected.params == {"epochs": 3, "batch_size": 8, "steps_per_epoch": 6, "samples": 45,
                                                 "validation_samples": 16}


def test_a_memory_mapped_X_is_never_read_into_memory_whole(tmp_path):
    """float64 files for a float32 model: the cast (and the finite check) are done a batch at a time, so the memory
    fit, predict and evaluate allocate stays a small part of X (on arrays, the cast alone is half of X's size)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8000, 64))
    X_file, y_file = _memory_mapped(tmp_path, X, (X[:, :1] > 0).astype(np.float64))
    model = nn.Sequential(nn.Dense(64, 8, activation="relu", rng=0), nn.Dense(8, 1, rng=1))
    calls = {
        "fit": lambda: fit(model, X_file, y_file, loss="mse", optimizer=Adam(model.parameters(), lr=0.01), epochs=2,
                           batch_size=256, validation_split=0.1, seed=0, progress=False),
        "predict": lambda: predict(model, X_file),
        "evaluate": lambda: evaluate(model, X_file, y_file, "mse"),
    }
    for name, call in calls.items():
        tracemalloc.start()
        try:
            call()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < X.nbytes / 4, f"{name} allocated {peak} bytes at its peak, for an X of {X.nbytes}"
    # In batches of LAZY_BATCH_SIZE rows, as predict reads the file without a batch_size.
    np.testing.assert_array_equal(predict(model, X_file), predict(model, X, batch_size=LAZY_BATCH_SIZE))


def test_memory_mapped_data_are_checked_batch_by_batch(tmp_path):
    """A NaN is found when its batch is read, and the message names that batch's samples."""
    X, y = _data(n=200)
    X[170, 2] = np.nan
    X_file, y_file = _memory_mapped(tmp_path, X, y)
    model = _network()
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(ValueError, match=r"X in the batch of samples 150 \.\. 199 contains 1 NaN value, in 1 of its "
                                         r"50 rows \(row 20\)"):
        fit(model, X_file, y_file, loss="cross_entropy", optimizer=SGD(model.parameters(), lr=0.1), epochs=1,
            batch_size=50, shuffle=False, progress=False)
    # The three batches before it were trained on: the check is as lazy as the reading.
    assert not all(np.array_equal(a, p.data) for a, p in zip(before, model.parameters()))


def test_evaluate_and_predict_on_a_dataset_equal_them_on_its_arrays():
    X, y = _data()
    model, _ = _train(X, y)
    assert evaluate(model, Pairs(X, y), loss="cross_entropy") == evaluate(model, X, y, "cross_entropy")
    np.testing.assert_array_equal(predict(model, Pairs(X, y), batch_size=16), predict(model, X, batch_size=16))
    batches = ((X[start:start + 16], y[start:start + 16]) for start in range(0, 61, 16))
    np.testing.assert_array_equal(predict(model, batches), predict(model, X, batch_size=16))


def test_a_list_of_batches_trains_as_its_arrays_in_order():
    X, y = _data()
    on_arrays, expected = _train(X, y, shuffle=False)
    batches = [(X[start:start + 8], y[start:start + 8]) for start in range(0, 61, 8)]
    on_batches, history = _train(batches, validation_data=batches)
    assert _same_weights(on_batches, on_arrays)
    assert history["loss"] == expected["loss"] and history["accuracy"] == expected["accuracy"]
    assert history["val_loss"][-1] == pytest.approx(evaluate(on_batches, X, y, "cross_entropy")["loss"], rel=1e-6)
    assert history.params == {"epochs": 3, "batch_size": None, "steps_per_epoch": 8, "samples": None,
                              "validation_samples": None}


def test_a_torch_data_loader_is_an_iterable_of_batches(tmp_path):
    X, y = _data()
    torch = pytest.importorskip("torch")
    loader = torch.utils.data.DataLoader(_torch_dataset(tmp_path, X, y), batch_size=8, shuffle=False)
    on_arrays, expected = _train(X, y, shuffle=False)
    on_loader, history = _train(loader)
    assert _same_weights(on_loader, on_arrays) and history["loss"] == expected["loss"]
    assert history.params["steps_per_epoch"] == 8 == len(loader)


class Passes:
    """A re-iterable object without a length: each __iter__ is a new pass over the batches."""

    def __init__(self, batches):
        self.batches = batches
        self.passes = 0

    def __iter__(self):
        self.passes += 1
        return iter(self.batches)


def test_a_re_iterable_object_is_read_once_per_epoch():
    X, y = _data()
    batches = Passes([(X[start:start + 16], y[start:start + 16]) for start in range(0, 61, 16)])
    _, history = _train(batches, epochs=3, progress=True)
    assert batches.passes == 1 + 3  # one look at the first batch to see the model's outputs, then the epochs
    assert history.params["steps_per_epoch"] is None and len(history["loss"]) == 3


def test_a_diverging_run_on_batches_of_unknown_number_says_so():
    from nablanet.train import TrainingDivergedError

    X, y = _data()
    targets = np.stack([y, 1 - y], axis=1).astype(np.float64)
    model = _network()
    # Steps of 1e30 take float32 predictions past overflow: the second batch's squared error is infinite.
    with pytest.raises(TrainingDivergedError, match=r"at epoch 0, batch 1 \(counting from 0; an unknown number of "
                                                    r"batches per epoch\)"):
        fit(model, Passes([(X[:30], targets[:30]), (X[30:], targets[30:])]), loss="mse",
            optimizer=SGD(model.parameters(), lr=1e30), epochs=2, progress=False)


def test_steps_per_epoch_reads_a_generator_in_turn():
    X, y = _data()
    read = []

    def endless():
        while True:
            start = 8 * (len(read) % 7)
            read.append(start)
            yield X[start:start + 8], y[start:start + 8]

    _, history = _train(endless(), epochs=4, steps_per_epoch=3)
    assert len(read) == 12  # the first batch, read early to see the model's outputs, is trained on first
    assert history.params["steps_per_epoch"] == 3 and len(history["loss"]) == 4


def test_a_generator_is_one_epoch_unless_steps_per_epoch_says_more():
    X, y = _data()

    def five_batches():
        for start in range(0, 40, 8):
            yield X[start:start + 8], y[start:start + 8]

    _, history = _train(five_batches(), epochs=1)
    assert len(history["loss"]) == 1
    model = _network()
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(ValueError, match=r"X is a one-shot iterator \(generator\), which can be read once, but "
                                         r"epochs=2: pass steps_per_epoch="):
        fit(model, five_batches(), loss="cross_entropy", optimizer=SGD(model.parameters(), lr=0.1), epochs=2,
            progress=False)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, model.parameters()))  # refused before training


def test_a_generator_that_runs_out_before_the_epochs_end_is_a_clear_error():
    X, y = _data()

    def five_batches():
        for start in range(0, 40, 8):
            yield X[start:start + 8], y[start:start + 8]

    with pytest.raises(ValueError, match=r"X, a one-shot iterator \(generator\), ran out of batches in epoch 2 "
                                         r"\(counting from 0\), after 5 batches in all: epochs=3 with "
                                         r"steps_per_epoch=2 need 6\. Pass a re-iterable object"):
        _train(five_batches(), epochs=3, steps_per_epoch=2)


def test_a_one_shot_validation_iterator_is_refused_for_several_epochs():
    X, y = _data()
    with pytest.raises(ValueError, match=r"validation_data is a one-shot iterator \(generator\), which can be read "
                                         r"once, but the validation data are evaluated after each of the epochs=3"):
        _train(X, y, validation_data=((X[i:i + 8], y[i:i + 8]) for i in range(0, 61, 8)))


@pytest.mark.parametrize("call, message", [
    (lambda X, y: _train(X), r"y is missing: pass the targets y with X \(an array of shape \(61, 4\)\), or X as a "
                             r"Dataset or an iterable of batches"),
    (lambda X, y: _train(Pairs(X, y), y), r"X is a Dataset, whose batches are pairs \(X_batch, y_batch\), so y must "
                                          "not be given"),
    (lambda X, y: _train(X, y, steps_per_epoch=3), "steps_per_epoch is for X given as an iterable of batches"),
    (lambda X, y: _train(OneAtATime(X, y)), r"X\[indices\], with indices a 1-D int64 array, failed: .*"
                                            r"nablanet\.train\.SampleDataset\(dataset\)"),
    (lambda X, y: _train((X, y)), r"each batch of X must be a pair \(X_batch, y_batch\), got an array of shape "
                                  r"\(61, 4\) \(for arrays X and y, call fit\(model, X, y\)\)"),
    (lambda X, y: _train([(X, y)], validation_split=0.2), "validation_split holds out samples of arrays or of a "
                                                          "Dataset, but X is an iterable of batches"),
    (lambda X, y: _train([(X[:8], y[:8]), (X[8:16], y[:7])]), r"y in batch 1 \(counting from 0\) of epoch 0 has 7 "
                                                              "rows but the inputs have 8"),
    (lambda X, y: _train(Pairs(X, y[:, None].repeat(3, axis=1))), r"y in the batch of samples .* has shape \(8, 3\)"),
])
def test_data_fit_cannot_read_are_a_clear_error(call, message):
    X, y = _data()
    with pytest.raises((ValueError, TypeError), match=message):
        call(X, y)


def test_a_closure_optimizer_trains_on_a_dataset_as_on_its_arrays_and_refuses_batches():
    from nablanet.optim import LBFGS

    X, y = _data()
    losses = []
    for data in ((X, y), (Pairs(X, y), None)):
        model = _network()
        losses.append(fit(model, *data, loss="cross_entropy", optimizer=LBFGS(model.parameters()), epochs=2,
                          batch_size=None, progress=False)["loss"])
    assert losses[0] == losses[1]
    model = _network()
    with pytest.raises(ValueError, match="X is an iterable of batches, but LBFGS steps on the whole training set at "
                                         "once: give X as arrays or a Dataset"):
        fit(model, [(X, y)], loss="cross_entropy", optimizer=LBFGS(model.parameters()), epochs=1, progress=False)


def test_a_dataset_returning_too_few_rows_is_a_clear_error():
    X, y = _data()

    class FirstRowOnly(Pairs):
        def __getitem__(self, indices):
            return self.X[indices][:1], self.y[indices][:1]

    with pytest.raises(ValueError, match=r"X\[indices\], asked for 2 samples, returned a batch of 1 rows"):
        _train(FirstRowOnly(X, y))


def test_shards_that_do_not_match_are_a_clear_error(tmp_path):
    np.save(tmp_path / "X_0.npy", np.zeros((3, 2)))
    np.save(tmp_path / "X_1.npy", np.zeros((3, 5)))
    np.save(tmp_path / "y_0.npy", np.zeros(3))
    np.save(tmp_path / "y_1.npy", np.zeros(4))
    with pytest.raises(FileNotFoundError, match="no file matches"):
        NpyShards(str(tmp_path / "inputs_*.npy"), str(tmp_path / "y_*.npy"))
    with pytest.raises(ValueError, match=r"X_1\.npy holds float64 samples of shape \(5,\), but .*X_0\.npy holds "
                                         r"float64 samples of shape \(2,\)"):
        NpyShards(str(tmp_path / "X_*.npy"), str(tmp_path / "y_*.npy"))
    np.save(tmp_path / "X_1.npy", np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"X_1\.npy has 3 rows but .*y_1\.npy has 4"):
        NpyShards(str(tmp_path / "X_*.npy"), str(tmp_path / "y_*.npy"))


def test_shards_read_only_the_rows_asked_for(tmp_path):
    X, y = _data()
    shards = _shards(tmp_path, X, y)
    rows = np.array([60, 0, 20, 19, 21, 20])
    X_batch, y_batch = shards[rows]
    np.testing.assert_array_equal(X_batch, X[rows])
    np.testing.assert_array_equal(y_batch, y[rows])
    assert len(shards) == 61 and repr(shards) == "NpyShards(3 files, 61 samples)"


# --- per-sample weights carried by the sources ---------------------------------------------------------------

def _weights(n=61, seed=3):
    return np.random.default_rng(seed).uniform(0.2, 3.0, n)


class WeightedPairs(Pairs):
    """A Dataset whose batches carry their weights: (X_batch, y_batch, w_batch)."""

    def __init__(self, X, y, w):
        super().__init__(X, y)
        self.w = w

    def __getitem__(self, indices):
        return self.X[indices], self.y[indices], self.w[indices]


class WeightedOneAtATime(WeightedPairs):
    def __getitem__(self, i):
        return self.X[i], int(self.y[i]), float(self.w[i])


def _weighted_torch_dataset(tmp_path, X, y, w):
    torch = pytest.importorskip("torch")
    return torch.utils.data.TensorDataset(torch.tensor(X), torch.tensor(y), torch.tensor(w))


@pytest.mark.parametrize("form", [
    lambda tmp_path, X, y, w: ((Pairs(X, y),), {"sample_weight": w}),
    lambda tmp_path, X, y, w: (_memory_mapped(tmp_path, X, y), {"sample_weight": w}),
    lambda tmp_path, X, y, w: ((_shards(tmp_path, X, y),), {"sample_weight": w}),
    lambda tmp_path, X, y, w: ((WeightedPairs(X, y, w),), {}),
    lambda tmp_path, X, y, w: ((SampleDataset(WeightedOneAtATime(X, y, w)),), {}),
    lambda tmp_path, X, y, w: ((_weighted_torch_dataset(tmp_path, X, y, w),), {}),
], ids=["dataset+sample_weight", "memmap+sample_weight", "NpyShards+sample_weight", "dataset of triples",
        "SampleDataset of triples", "torch TensorDataset(X, y, w)"])
def test_weights_with_a_dataset_train_as_weights_with_its_arrays(tmp_path, form):
    """fit's sample_weight beside a Dataset, or the Dataset's own weights: the same weighted steps as on the
    arrays, bit for bit, validation_split holding out the same samples with their weights."""
    X, y = _data()
    w = _weights()
    on_arrays, expected = _train(X, y, sample_weight=w, validation_split=0.25)
    data, settings = form(tmp_path, X, y, w)
    on_dataset, history = _train(*data, validation_split=0.25, **settings)
    assert _same_weights(on_dataset, on_arrays)
    assert history.history == expected.history
    unweighted, _ = _train(X, y, validation_split=0.25)
    assert not _same_weights(unweighted, on_arrays)


def test_an_iterable_of_weighted_batches_trains_as_weighted_arrays():
    X, y = _data()
    w = _weights()
    on_arrays, expected = _train(X, y, sample_weight=w, shuffle=False)
    batches = [(X[start:start + 8], y[start:start + 8], w[start:start + 8]) for start in range(0, 61, 8)]
    on_batches, history = _train(batches, validation_data=batches)
    assert _same_weights(on_batches, on_arrays)
    assert history["loss"] == expected["loss"] and history["accuracy"] == expected["accuracy"]
    weighted = evaluate(on_batches, X, y, "cross_entropy", sample_weight=w)
    assert history["val_loss"][-1] == pytest.approx(weighted["loss"], rel=1e-6)
    assert history["val_accuracy"][-1] == pytest.approx(weighted["accuracy"], rel=1e-12)
    assert evaluate(on_batches, batches, loss="cross_entropy") == pytest.approx(weighted, rel=1e-6)


def test_validation_data_with_weights_from_memory_mapped_arrays(tmp_path):
    X, y = _data()
    w = _weights()
    X_file, y_file = _memory_mapped(tmp_path, X[40:], y[40:])
    model, history = _train(X[:40], y[:40], validation_data=(X_file, y_file, w[40:]))
    expected = evaluate(model, X[40:], y[40:], "cross_entropy", sample_weight=w[40:])
    assert history["val_loss"][-1] == pytest.approx(expected["loss"], rel=1e-6)
    assert evaluate(model, X_file, y_file, "cross_entropy", sample_weight=w[40:]) == expected


def test_a_dict_of_class_weights_on_a_dataset_is_applied_batch_by_batch():
    X, y = _data()
    w = _weights()
    class_weight = {0: 0.5, 1: 2.0}
    on_arrays, expected = _train(X, y, sample_weight=w, class_weight=class_weight, validation_split=0.25)
    on_dataset, history = _train(WeightedPairs(X, y, w), class_weight=class_weight, validation_split=0.25)
    assert _same_weights(on_dataset, on_arrays) and history.history == expected.history
    batches = [(X[start:start + 8], y[start:start + 8]) for start in range(0, 61, 8)]
    on_arrays, expected = _train(X, y, class_weight=class_weight, shuffle=False)
    on_batches, history = _train(batches, class_weight=class_weight)
    assert _same_weights(on_batches, on_arrays) and history["loss"] == expected["loss"]


@pytest.mark.parametrize("call, message", [
    (lambda X, y, w: _train(Pairs(X, y), class_weight="balanced"),
     r"class_weight='balanced' counts the samples of each class in all of y, but X is read a batch at a time: give "
     r"class_weight as a dict"),
    (lambda X, y, w: _train([(X[:8], y[:8])], sample_weight=w[:8]),
     r"sample_weight weighs the samples of arrays or of a Dataset, but X is an iterable of batches: let it give "
     r"batches \(X_batch, y_batch, w_batch\)"),
    (lambda X, y, w: _train(WeightedPairs(X, y, w), sample_weight=w),
     r"X, a Dataset, gives weights with its batches \(X_batch, y_batch, w_batch\), so sample_weight must not be "
     "given as well"),
    (lambda X, y, w: _train([(X[:8], y[:8], w[:8]), (X[8:16], y[8:16])]),
     r"X gives weights with some batches and not with others \(in batch 1 \(counting from 0\) of epoch 0: no "
     r"weights\)"),
    (lambda X, y, w: _train([(X[:8], y[:8], -w[:8])]),
     r"sample_weight in its first batch must be non-negative"),
    (lambda X, y, w: _train(WeightedPairs(X, y, np.zeros(61)), batch_size=61),
     "every batch of epoch 0 had weights all zero, so no sample counted"),
    (lambda X, y, w: _train(Pairs(X, y), sample_weight=w[:60]),
     r"sample_weight must be a vector of one weight per sample, shape \(61,\)"),
    (lambda X, y, w: _train((X, y, w)), r"each batch of X must be a pair \(X_batch, y_batch\), got an array of shape "
                                        r"\(61, 4\) .*; a triple \(X_batch, y_batch, w_batch\) carries per-sample "
                                        "weights"),
])
def test_weights_fit_cannot_use_are_a_clear_error(call, message):
    X, y = _data()
    with pytest.raises(ValueError, match=message):
        call(X, y, _weights())


def test_a_loss_that_cannot_weigh_is_refused_at_the_first_weighted_batch():
    X, y = _data()

    def unweighted_loss(predictions, targets):
        return nn.functional.cross_entropy(predictions, targets)

    model = _network()
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(ValueError, match="the loss unweighted_loss takes no sample_weight"):
        fit(model, X[:40], y[:40], loss=unweighted_loss, optimizer=SGD(model.parameters(), lr=0.1), epochs=1,
            validation_data=[(X[40:], y[40:], _weights()[40:])], progress=False)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, model.parameters()))  # refused before any step


def test_weighted_datasets_are_refused_across_mpi_ranks(monkeypatch):
    from nablanet.train import loop

    class Collective:
        collective = True

    monkeypatch.setattr(loop, "parallel_training", lambda *arguments: Collective())
    X, y = _data()
    with pytest.raises(ValueError, match="distributed='mpi' does not take sample_weight or class_weight"):
        _train(WeightedPairs(X, y, _weights()), distributed="mpi")
