"""nablanet.io: round trips of every layer family, resuming training bit for bit, atomic writes, hostile files."""

import fcntl
import importlib.util
import json
import os
import pickle
import signal
import stat
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.lib import format as npy_format

import nablanet.nn as nn
from nablanet import io as nio
from nablanet.io.format import _encode_state
from nablanet.optim import SGD, Adagrad, Adam, RMSprop, StepDecay
from nablanet.preprocessing import Preprocessor, StandardScaler
from nablanet.train import fit

_spec = importlib.util.spec_from_file_location("hostile_io_worker", Path(__file__).with_name("hostile_io_worker.py"))
_worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_worker)


class DenseSkip(nn.Module):
    """x + Dense(x): a module from outside nablanet.nn, loaded through custom_objects."""

    def __init__(self, features, *, rng=None, dtype=np.float32):
        self.inner = nn.Dense(features, features, activation="tanh", rng=rng, dtype=dtype)

    def forward(self, x):
        return x + self.inner(x)


def _sequences(dtype):
    return np.random.default_rng(3).normal(size=(4, 5, 3)).astype(dtype)


# name -> (model factory of a dtype, input factory of a dtype). Layers get no seed, so a model rebuilt
# from the architecture alone has other weights than the saved one.
LAYER_CASES = {
    "dense": (lambda dt: nn.Sequential(nn.Dense(3, 4, activation="tanh", dtype=dt), nn.Dense(4, 2, dtype=dt)),
              lambda dt: np.ones((5, 3), dtype=dt)),
    "conv1d_pools": (lambda dt: nn.Sequential(nn.Conv1d(2, 3, 3, padding="same", dtype=dt), nn.MaxPool1d(2),
                                              nn.AvgPool1d(2), nn.Flatten(), nn.Dense(6, 2, dtype=dt)),
                     lambda dt: np.random.default_rng(1).normal(size=(2, 2, 8)).astype(dt)),
    "conv2d_pools": (lambda dt: nn.Sequential(nn.Conv2d(1, 2, (3, 3), padding=1, dtype=dt), nn.MaxPool2d(2),
                                              nn.AvgPool2d(2), nn.GlobalAvgPool(), nn.Dense(2, 1, dtype=dt)),
                     lambda dt: np.random.default_rng(1).normal(size=(2, 1, 8, 8)).astype(dt)),
    "rnn": (lambda dt: nn.RNN(3, 4, dtype=dt), _sequences),
    "gru_stacked_bidirectional": (lambda dt: nn.GRU(3, 4, num_layers=2, bidirectional=True, dtype=dt), _sequences),
    "lstm_last_step": (lambda dt: nn.LSTM(3, 4, return_sequences=False, dtype=dt), _sequences),
    "batchnorm": (lambda dt: nn.Sequential(nn.Dense(3, 4, dtype=dt), nn.BatchNorm(4, momentum=0.3, dtype=dt)),
                  lambda dt: np.random.default_rng(2).normal(size=(6, 3)).astype(dt)),
    "layer_group_instance_norm": (
        lambda dt: nn.Sequential(nn.Conv1d(2, 4, 3, dtype=dt), nn.GroupNorm(2, 4, dtype=dt),
                                 nn.InstanceNorm1d(4, affine=True, track_running_stats=True, dtype=dt),
                                 nn.LayerNorm(4, dtype=dt)),
        lambda dt: np.random.default_rng(2).normal(size=(3, 2, 6)).astype(dt)),
    "embedding": (lambda dt: nn.Sequential(nn.Embedding(6, 3, padding_idx=0, dtype=dt), nn.Dense(3, 2, dtype=dt)),
                  lambda dt: np.array([[0, 5, 2], [1, 1, 3]])),
    "transformer": (lambda dt: nn.Sequential(nn.TransformerEncoderLayer(4, 2, 6, batch_first=True, dtype=dt),
                                             nn.TransformerEncoderLayer(4, 1, 3, norm_first=True, dtype=dt)),
                    lambda dt: np.random.default_rng(2).normal(size=(2, 3, 4)).astype(dt)),
    "attention": (lambda dt: nn.MultiheadAttention(4, 2, dropout=0.2, bias=False, dtype=dt),
                  lambda dt: np.random.default_rng(2).normal(size=(3, 2, 4)).astype(dt)),
    "grouped_and_transposed_conv": (
        lambda dt: nn.Sequential(nn.Conv2d(2, 4, 3, stride=2, padding=1, groups=2, dtype=dt),
                                 nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1, groups=2,
                                                    activation="relu", dtype=dt)),
        lambda dt: np.random.default_rng(2).normal(size=(2, 2, 6, 6)).astype(dt)),
    "resampling": (lambda dt: nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear"), nn.Conv2d(1, 2, 3, dtype=dt),
                                            nn.Dropout2d(0.3), nn.AdaptiveMaxPool2d((3, 2)), nn.AdaptiveAvgPool2d(1),
                                            nn.Flatten(), nn.Dense(2, 1, dtype=dt)),
                   lambda dt: np.random.default_rng(2).normal(size=(2, 1, 4, 3)).astype(dt)),
    "dropout": (lambda dt: nn.Sequential(nn.Dense(3, 8, dtype=dt), nn.Dropout(0.5)),
                lambda dt: np.ones((4, 3), dtype=dt)),
    "rbf": (lambda dt: nn.Sequential(nn.RBF(3, 5, width=0.7, dtype=dt), nn.Dense(5, 1, dtype=dt)),
            lambda dt: np.random.default_rng(2).normal(size=(4, 3)).astype(dt)),
    "nested_sequential_activations": (
        lambda dt: nn.Sequential(nn.Sequential(nn.Dense(3, 4, dtype=dt), nn.LeakyReLU(0.2)),
                                 nn.Sequential(nn.Dense(4, 4, dtype=dt), nn.GELU("tanh"), nn.ELU(0.5)),
                                 nn.Softmax()),
        lambda dt: np.ones((2, 3), dtype=dt)),
    "custom_module": (lambda dt: nn.Sequential(DenseSkip(3, dtype=dt), nn.Dense(3, 1, dtype=dt)),
                      lambda dt: np.ones((2, 3), dtype=dt)),
}


def _trained(model, x):
    """Move every array away from its initial value: noise on the parameters, one training-mode forward
    (BatchNorm running statistics, Dropout generators)."""
    noise = np.random.default_rng(7)
    for p in model.parameters():
        p.data += noise.normal(scale=0.3, size=p.shape).astype(p.dtype)
    model.train()
    model(x)
    return model


def _output(model, x):
    out = model(x)
    return (out[0] if isinstance(out, tuple) else out).data


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_round_trip_of_every_layer_family(case, dtype, tmp_path):
    make_model, make_input = LAYER_CASES[case]
    x = make_input(dtype)
    model = _trained(make_model(dtype), x)
    path = nio.save(tmp_path / "model.npz", model)
    loaded = nio.load(path, custom_objects={"DenseSkip": DenseSkip})

    assert loaded.config() == json.loads(json.dumps(model.config()))
    saved, restored = model.state_dict(), loaded.state_dict()
    assert list(restored) == list(saved)
    for name in saved:
        assert restored[name].dtype == np.dtype(dtype), name
        np.testing.assert_array_equal(restored[name], saved[name], err_msg=name)
    assert not loaded.training
    model.eval()
    np.testing.assert_array_equal(_output(loaded, x), _output(model, x))
    # In training mode Dropout draws from its restored generator: the same masks as the original's.
    model.train()
    loaded.train()
    np.testing.assert_array_equal(_output(loaded, x), _output(model, x))


def test_checkpoint_holds_optimizer_rng_and_metadata(tmp_path):
    model = nn.Sequential(nn.Dense(2, 3, rng=0), nn.Dense(3, 1, rng=1))
    optimizer = Adam(model.parameters(), lr=0.01, amsgrad=True, clip_norm=2.0)
    X = np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32)
    generator = np.random.default_rng(9)
    fit(model, X, X.sum(axis=1), loss="mse", optimizer=optimizer, epochs=2, batch_size=3, seed=generator,
        progress=False)
    metadata = {"epoch": 2, "losses": [0.5, np.float32(0.25)], "note": "ünïcode"}
    path = nio.save(tmp_path / "checkpoint.npz", model, optimizer=optimizer, rng=generator, metadata=metadata)

    checkpoint = nio.load_checkpoint(path)
    assert checkpoint.metadata == {"epoch": 2, "losses": [0.5, 0.25], "note": "ünïcode"}
    assert checkpoint.rng.bit_generator.state == generator.bit_generator.state
    assert type(checkpoint.optimizer) is Adam
    assert checkpoint.optimizer.params == checkpoint.model.parameters()
    expected, restored = optimizer.state_dict(), checkpoint.optimizer.state_dict()
    assert sorted(restored) == sorted(expected)
    for key in expected:
        assert restored[key].dtype == expected[key].dtype, key
        np.testing.assert_array_equal(restored[key], expected[key], err_msg=key)


def test_model_file_without_optimizer_or_rng(tmp_path):
    model = nn.Sequential(nn.Dense(2, 1, rng=0))
    checkpoint = nio.load_checkpoint(nio.save(tmp_path / "model.npz", model))
    assert (checkpoint.optimizer, checkpoint.rng, checkpoint.metadata, checkpoint.preprocessing) == (None, None, {}, None)


def test_the_preprocessing_saved_with_a_model_comes_back_as_json(tmp_path):
    table = np.array([[1.0, "red"], [3.0, "blue"], [2.0, "red"]], dtype=object)
    preprocessing = Preprocessor().fit(table, ["cat", "dog", "cat"], feature_names=["size", "color"])
    model = nn.Sequential(nn.Dense(3, 2, rng=0))
    path = nio.save(tmp_path / "model.npz", model, preprocessing=preprocessing, metadata={"epoch": 1})
    checkpoint = nio.load_checkpoint(path)
    assert checkpoint.metadata == {"epoch": 1, "preprocessing": preprocessing.to_dict()}
    restored = checkpoint.preprocessing
    assert restored.classes_.tolist() == ["cat", "dog"] and restored.feature_names_in_ == ["size", "color"]
    np.testing.assert_array_equal(restored.transform(table), preprocessing.transform(table))
    # A fitted scaler alone is the preprocessing of inputs scaled by it.
    scaler = StandardScaler().fit(np.array([[1.0, 10.0], [3.0, 30.0]]))
    restored = nio.load_checkpoint(nio.save(tmp_path / "scaled.npz", model, preprocessing=scaler)).preprocessing
    assert restored.transform(np.array([[3.0, 10.0]])).tolist() == [[1.0, -1.0]]


def test_a_generator_shared_by_several_owners_is_shared_after_loading(tmp_path):
    shared = np.random.default_rng(4)
    model = nn.Sequential(nn.Dropout(0.5, rng=shared), nn.Dense(3, 3, rng=0), nn.Dropout(0.5, rng=shared))
    checkpoint = nio.load_checkpoint(nio.save(tmp_path / "model.npz", model, rng=shared))
    first, last = checkpoint.model.layers[0].rng, checkpoint.model.layers[2].rng
    assert first is last is checkpoint.rng
    assert checkpoint.rng.bit_generator.state == shared.bit_generator.state


@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.MT19937, np.random.Philox, np.random.SFC64])
def test_every_numpy_bit_generator_is_restored(bit_generator, tmp_path):
    generator = np.random.Generator(bit_generator(5))
    generator.random(3)
    generator.integers(0, 10, dtype=np.uint32)  # leaves a buffered half word in some bit generators
    model = nn.Sequential(nn.Dense(2, 1, rng=0))
    restored = nio.load_checkpoint(nio.save(tmp_path / "model.npz", model, rng=generator)).rng
    np.testing.assert_array_equal(restored.random(5), generator.random(5))


# --- resuming training bit for bit -------------------------------------------------------------------

def _dropout_network():
    return nn.Sequential(nn.Dense(4, 16, activation="relu", rng=0), nn.Dropout(0.25, rng=1), nn.BatchNorm(16),
                         nn.Dense(16, 3, rng=2))


OPTIMIZERS = {
    "adam": lambda params: Adam(params, lr=0.01),
    "sgd_momentum_step_decay": lambda params: SGD(params, lr=StepDecay(0.1, step_size=4, gamma=0.5), momentum=0.9),
    "rmsprop_centered_momentum": lambda params: RMSprop(params, lr=0.01, centered=True, momentum=0.5),
    "adagrad_weight_decay": lambda params: Adagrad(params, lr=0.05, weight_decay=1e-3),
}


def _fit(model, optimizer, seed, epochs):
    data = np.random.default_rng(11)
    X = data.normal(size=(46, 4)).astype(np.float32)
    y = data.integers(0, 3, size=46)
    fit(model, X, y, loss="cross_entropy", optimizer=optimizer, epochs=epochs, batch_size=10, seed=seed,
        progress=False)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_training_resumed_from_a_checkpoint_continues_bit_for_bit(name, tmp_path):
    make_optimizer = OPTIMIZERS[name]
    uninterrupted = _dropout_network()
    uninterrupted_optimizer = make_optimizer(uninterrupted.parameters())
    uninterrupted_rng = np.random.default_rng(5)
    _fit(uninterrupted, uninterrupted_optimizer, uninterrupted_rng, epochs=4)

    first_half = _dropout_network()
    optimizer, generator = make_optimizer(first_half.parameters()), np.random.default_rng(5)
    _fit(first_half, optimizer, generator, epochs=2)
    path = nio.save(tmp_path / "checkpoint.npz", first_half, optimizer=optimizer, rng=generator)
    checkpoint = nio.load_checkpoint(path)
    _fit(checkpoint.model, checkpoint.optimizer, checkpoint.rng, epochs=2)

    expected, resumed = uninterrupted.state_dict(), checkpoint.model.state_dict()
    for key in expected:
        assert np.array_equal(resumed[key], expected[key]), key
    for key, value in uninterrupted_optimizer.state_dict().items():
        assert np.array_equal(checkpoint.optimizer.state_dict()[key], value), key
    assert checkpoint.rng.bit_generator.state == uninterrupted_rng.bit_generator.state
    assert checkpoint.model.layers[1].rng.bit_generator.state == uninterrupted.layers[1].rng.bit_generator.state

    # The comparison has teeth: the same checkpoint resumed with a fresh shuffling generator ends elsewhere.
    other = nio.load_checkpoint(path)
    _fit(other.model, other.optimizer, np.random.default_rng(6), epochs=2)
    assert not np.array_equal(other.model.state_dict()["layers.0.W"], expected["layers.0.W"])


# --- what save refuses -------------------------------------------------------------------------------

class Blocks(nn.Module):
    """Parameters in a dict whose key cannot be an entry name."""

    def __init__(self):
        self.blocks = {"a b": nn.Dense(1, 1, rng=0)}

    def forward(self, x):
        return self.blocks["a b"](x)


def _grown_sequential():
    # Appending to .layers directly bypasses Sequential.add, which keeps the recorded arguments in step.
    model = nn.Sequential(nn.Dense(2, 2, rng=0))
    model.layers.append(nn.Dense(2, 1, rng=1))
    return model


def _optimizer_of_other_parameters():
    model = nn.Sequential(nn.Dense(2, 2, rng=0))
    return model, {"optimizer": SGD(nn.Dense(2, 2, rng=0).parameters(), lr=0.1)}


def _learning_rate_function():
    model = nn.Dense(2, 2, rng=0)
    return model, {"optimizer": SGD(model.parameters(), lr=lambda t: 0.1)}


SAVE_ERRORS = {
    # name -> (factory of (model, save options), exception, regex of its message)
    "not_a_module": (lambda: ([1, 2], {}), TypeError, "must be a nablanet.nn.Module"),
    "unrecordable_function_argument": (
        lambda: (nn.Dense(2, 2, activation=lambda x: x, rng=0), {}), TypeError, "is a function"),
    "changed_after_construction": (lambda: (_grown_sequential(), {}), ValueError, "changed after construction"),
    "unwritable_name": (lambda: (Blocks(), {}), ValueError, "cannot write the parameter or buffer name 'blocks.a b.W'"),
    "optimizer_of_other_parameters": (_optimizer_of_other_parameters, ValueError,
                                      r"must be built for model.parameters\(\)"),
    "learning_rate_function": (_learning_rate_function, ValueError, "learning rate .* is a function"),
    "rng_not_a_generator": (lambda: (nn.Dense(2, 2, rng=0), {"rng": 3}), TypeError, "rng must be a numpy"),
    "metadata_not_json": (lambda: (nn.Dense(2, 2, rng=0), {"metadata": {"when": object()}}), TypeError,
                          "JSON-serializable"),
    "preprocessing_not_a_transformer": (lambda: (nn.Dense(2, 2, rng=0), {"preprocessing": "standard"}), TypeError,
                                        "preprocessing must be a fitted nablanet.preprocessing.Preprocessor"),
    "preprocessing_not_fitted": (lambda: (nn.Dense(2, 2, rng=0), {"preprocessing": Preprocessor()}), ValueError,
                                 "this Preprocessor is not fitted yet"),
    "preprocessing_twice": (lambda: (nn.Dense(2, 2, rng=0), {"preprocessing": StandardScaler().fit([[1.0, 2.0]]),
                                                             "metadata": {"preprocessing": None}}), ValueError,
                            "give the preprocessing once"),
    "metadata_preprocessing_not_a_record": (
        lambda: (nn.Dense(2, 2, rng=0), {"metadata": {"preprocessing": "standardized"}}), ValueError,
        r"metadata\['preprocessing'\], where save records preprocessing=, is not a preprocessing record"),
}


@pytest.mark.parametrize("case", sorted(SAVE_ERRORS))
def test_save_refuses_what_it_cannot_record_and_writes_nothing(case, tmp_path):
    make, error, message = SAVE_ERRORS[case]
    model, options = make()
    with pytest.raises(error, match=message):
        nio.save(tmp_path / "model.npz", model, **options)
    assert os.listdir(tmp_path) == []


# --- atomic writes -----------------------------------------------------------------------------------

def _raise_on_call(function, call_number, exception):
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == call_number:
            raise exception
        return function(*args, **kwargs)

    return wrapped


CRASHES = {
    # target object, attribute, exception: the save dies there.
    "while_writing_the_third_array": (npy_format, "write_array", OSError(28, "No space left on device")),
    "at_fsync": (os, "fsync", KeyboardInterrupt()),
    "at_the_rename": (os, "replace", OSError(5, "Input/output error")),
}


@pytest.mark.parametrize("crash", sorted(CRASHES))
def test_a_crash_during_save_leaves_the_previous_file_intact(crash, tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    old = nn.Sequential(nn.Dense(3, 4, rng=0), nn.Dense(4, 2, rng=1))
    nio.save(path, old)
    previous_bytes = path.read_bytes()
    new = nn.Sequential(nn.Dense(3, 4, rng=5), nn.Dense(4, 2, rng=6))

    target, attribute, exception = CRASHES[crash]
    monkeypatch.setattr(target, attribute, _raise_on_call(getattr(target, attribute), 3 if crash.endswith("array")
                                                          else 1, exception))
    with pytest.raises(type(exception)):
        nio.save(path, new)
    monkeypatch.undo()

    assert os.listdir(tmp_path) == ["model.npz"]
    assert path.read_bytes() == previous_bytes
    loaded = nio.load(path)
    for name, value in old.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[name], value)


def test_saving_is_deterministic_and_keeps_the_replaced_files_permissions(tmp_path):
    model = nn.Sequential(nn.Dense(3, 2, rng=0), nn.Dropout(0.1, rng=0))
    first = nio.save(tmp_path / "a.npz", model).read_bytes()
    assert nio.save(tmp_path / "b.npz", model).read_bytes() == first
    os.chmod(tmp_path / "a.npz", 0o600)
    nio.save(tmp_path / "a.npz", model)
    assert stat.S_IMODE(os.stat(tmp_path / "a.npz").st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["a.npz", "b.npz"]


# --- corrupted, truncated and hostile files ----------------------------------------------------------

def _saved(tmp_path, **options):
    layers = [nn.Dense(3, 4, rng=0), nn.Dropout(0.5, rng=1), nn.Dense(4, 2, rng=2)]
    if options.pop("with_batchnorm", False):
        layers.append(nn.BatchNorm(2))
    model = nn.Sequential(*layers)
    if options.pop("with_optimizer", False):
        options["optimizer"] = Adam(model.parameters(), lr=0.01)
    return nio.save(tmp_path / "good.npz", model, **options), model


def _entries(path):
    """The file's entries as name -> array, with the header decoded to a dict."""
    with np.load(path, allow_pickle=False) as archive:
        entries = {name: archive[name] for name in archive.files}
    entries["header"] = json.loads(entries["header"].tobytes().decode())
    return entries


# Written as the hostile-file suite writes them (a dict as a JSON header, bytes as they are, object arrays pickled).
_write_zip = _worker.write_zip


def _changed(tmp_path, change, **options):
    """A file made from a good one by ``change(entries)``, which edits the dict in place."""
    good, _ = _saved(tmp_path, **options)
    entries = _entries(good)
    change(entries)
    return _write_zip(tmp_path / "bad.npz", list(entries.items()))


def _set_header(key, value):
    return lambda entries: entries["header"].__setitem__(key, value)


def _set_architecture_class(entries):
    entries["header"]["architecture"]["arguments"]["layers"][0]["module"]["class"] = "EvilLayer"


def _set_entry(key, value):
    return lambda entries: entries.__setitem__(key, value)


def _delete(key):
    return lambda entries: entries.pop(key)


def _set_rng(path, value):
    def change(entries):
        record = entries["header"]["rng"]
        *parents, last = path
        for part in parents:
            record = record[part]
        record[last] = value
    return change


ARRAY_PROBLEMS = {
    # name -> (change of the good file's entries, options of save, regex the message must match)
    "not_json_header": (_set_entry("header", np.frombuffer(b"{not json", dtype=np.uint8)), {},
                        "header is not valid UTF-8 JSON"),
    "header_not_bytes": (_set_entry("header", np.zeros(3)), {}, "the header has dtype float64"),
    "other_format": (_set_header("format", "keras"), {}, "does not say format 'nablanet'"),
    "future_format_version": (_set_header("format_version", nio.FORMAT_VERSION + 1), {},
                              rf"format version {nio.FORMAT_VERSION + 1}, newer than the {nio.FORMAT_VERSION}"),
    "extra_header_key": (_set_header("exec", "rm -rf /"), {}, "header has the keys"),
    "unknown_class": (_set_architecture_class, {}, "unknown module class 'EvilLayer'"),
    "bad_constructor_argument": (
        _set_header("architecture", {"class": "Dense", "arguments": {"in_features": 2, "out_features": 2,
                                                                     "unexpected": 1}}),
        {}, "architecture cannot be built"),
    "shape_mismatch": (_set_entry("weights/layers.0.W", np.zeros((3, 5), np.float32)), {},
                       r"weight 'layers.0.W' has shape \(3, 5\) but the model .* has \(3, 4\)"),
    "dtype_mismatch": (_set_entry("weights/layers.0.W", np.zeros((3, 4), np.float64)), {},
                       "weight 'layers.0.W' has dtype float64 but the model .* has float32"),
    "integer_weights": (_set_entry("weights/layers.0.W", np.zeros((3, 4), np.int32)), {},
                        "has dtype int32 but"),
    "missing_weight": (_delete("weights/layers.2.b"), {}, r"lacks the weights \['layers.2.b'\]"),
    "extra_entry": (_set_entry("weights/layers.9.W", np.zeros(2, np.float32)), {},
                    "unexpected entry 'weights/layers.9.W'"),
    "path_trick": (_set_entry("weights/../../etc/passwd", np.zeros(2, np.float32)), {},
                   "not a plain dotted name"),
    "unknown_bit_generator": (_set_rng(("generators", 0, "bit_generator"), "os.system"), {},
                              "names the bit generator 'os.system'"),
    "bad_generator_state": (_set_rng(("generators", 0, "state", "state"), "not a number"), {},
                            "is not a valid PCG64 state"),
    "generator_index_out_of_range": (_set_rng(("modules", "layers.1.rng"), 7), {}, "refers to state 7 of 1"),
    "generator_for_a_missing_module": (_set_rng(("modules", "layers.5.rng"), 0), {},
                                       r"generator states for \['layers.1.rng', 'layers.5.rng'\]"),
    "unknown_optimizer": (_set_header("optimizer", "Evil"), {"with_optimizer": True},
                          "optimizer class 'Evil'"),
    "negative_learning_rate": (_set_entry("optimizer/lr", np.array(-0.1)), {"with_optimizer": True},
                               "learning rate must be positive"),
    "negative_step_count": (_set_entry("optimizer/t", np.array(-3)), {"with_optimizer": True},
                            "step count 't'"),
    "string_hyperparameter": (_set_entry("optimizer/beta1", np.array("0.9")), {"with_optimizer": True},
                              "'beta1' has dtype <U3, not a number"),
    "optimizer_buffer_dtype": (_set_entry("optimizer/m.0", np.zeros((3, 4), np.float64)), {"with_optimizer": True},
                               "optimizer entry 'm.0' has dtype float64"),
    "optimizer_extra_buffer": (_set_entry("optimizer/v_max.0", np.zeros((3, 4), np.float32)),
                               {"with_optimizer": True}, r"unexpected entries \['v_max.0'\]"),
    "optimizer_missing_buffer": (_delete("optimizer/v.1"), {"with_optimizer": True}, r"missing keys \['v.1'\]"),
    "optimizer_entries_without_header": (_set_header("optimizer", None), {"with_optimizer": True},
                                         "unexpected entry 'optimizer/"),
}


def _set_layer(index, config):
    def change(entries):
        entries["header"]["architecture"]["arguments"]["layers"][index] = {"module": config}
    return change


def _set_layer_argument(index, name, value):
    def change(entries):
        entries["header"]["architecture"]["arguments"]["layers"][index]["module"]["arguments"][name] = value
    return change


def _with_weight_values(name, value, where=(0, 0)):
    def change(entries):
        array = entries[name].copy()
        array[where] = value
        entries[name] = array
    return change


def _set_preprocessing(change):
    def edit(entries):
        change(entries["header"]["metadata"]["preprocessing"])
    return edit


def _stuck_mersenne_twister(entries):
    state = np.random.MT19937(0).state
    state["state"]["key"] = np.zeros(624, dtype=np.uint32)
    entries["header"]["rng"]["generators"][0] = _encode_state(state)


def _nested_sequentials(depth):
    config = {"class": "Identity", "arguments": {}}
    for _ in range(depth):
        config = {"class": "Sequential", "arguments": {"layers": [{"module": config}]}}
    return config


# What makes a broken model load silently, or a small file cost much (issue 12): each refused, naming the entry.
VALUE_PROBLEMS = {
    "nan_weight": (_with_weight_values("weights/layers.0.W", np.nan), {}, "weight 'layers.0.W' holds NaN or infinity"),
    "infinite_weight": (_with_weight_values("weights/layers.2.b", np.inf, 1), {},
                        "weight 'layers.2.b' holds NaN or infinity"),
    "negative_running_var": (_with_weight_values("weights/layers.3.running_var", -1.0, 1), {"with_batchnorm": True},
                             "weight 'layers.3.running_var' holds negative values"),
    "batchnorm_eps_negative": (_set_layer_argument(3, "eps", -1), {"with_batchnorm": True},
                               "BatchNorm: eps must be a positive finite number, got -1"),
    "batchnorm_momentum_nan": (_set_layer_argument(3, "momentum", float("nan")), {"with_batchnorm": True},
                               r"header holds nan at architecture.arguments.layers\[3\].module.arguments.momentum"),
    "infinite_learning_rate": (_set_entry("optimizer/lr", np.array(np.inf)), {"with_optimizer": True},
                               "optimizer entry 'lr' holds NaN or infinity"),
    "adam_negative_v": (_set_entry("optimizer/v.2", -np.ones((4, 2), np.float32)), {"with_optimizer": True},
                        "optimizer entry 'v.2' holds negative values, which Adam's update never gives it"),
    "adam_nan_m": (_with_weight_values("optimizer/m.1", np.nan, 2), {"with_optimizer": True},
                   "optimizer entry 'm.1' holds NaN or infinity"),
    "activation_unknown_option": (_set_layer(1, {"class": "Activation", "arguments": {
        "activation": "relu", "options": {"evil": 1}}}), {}, "layers.1 \\(Activation\\) cannot be built .*'evil'"),
    "leaky_relu_alpha_string": (_set_layer(1, {"class": "LeakyReLU", "arguments": {"alpha": "x"}}), {},
                                r"layers.1 \(LeakyReLU\) has alpha = 'x', which is not a float"),
    "dense_size_not_an_int": (_set_layer_argument(0, "in_features", 2.5), {},
                              r"layers.0 \(Dense\) has in_features = 2.5, which is not an int"),
    "mersenne_twister_all_zero": (_stuck_mersenne_twister, {"rng": np.random.default_rng(0)},
                                  r"random generator state 0 \(MT19937\) is stuck"),
    "dense_of_a_billion_weights": (_set_layer(0, {"class": "Dense", "arguments": {"in_features": 30000,
                                                                                 "out_features": 30000}}), {},
                                   "describes 3600120040 bytes of weights but its weight entries hold at most 616 bytes"),
    "rnn_of_a_million_layers": (_set_header("architecture", {"class": "RNN", "arguments": {
        "input_size": 3, "hidden_size": 4, "num_layers": 10**6}}), {},
        r"the root module \(RNN\) implies more arrays than the 20 the file's weight entries allow"),
    "modules_nested_too_deep": (_set_header("architecture", _nested_sequentials(40)), {},
                                "nested deeper than the 32 levels of modules"),
    "subarray_dtype": (_set_layer_argument(0, "dtype", {"dtype": "(1000000000,)f4"}), {},
                       "which is not a numpy number type"),
    "too_many_header_values": (_set_header("metadata", {"zeros": [0] * 600_000}), {},
                               "header has more than the 500000 JSON values"),
    "preprocessing_scale_zero": (_set_preprocessing(lambda record: record["scaler"].update(scale=[1.0, 0.0, 1.0])),
                                 {"preprocessing": StandardScaler().fit(np.arange(12.0).reshape(4, 3))},
                                 r"its metadata's preprocessing is not valid \(StandardScaler: scale must hold numbers > 0"),
    "preprocessing_not_a_record": (_set_header("metadata", {"preprocessing": [1, 2]}), {},
                                   "its metadata's preprocessing is not valid .*expected a saved Preprocessor"),
}
ARRAY_PROBLEMS.update(VALUE_PROBLEMS)


@pytest.mark.parametrize("case", sorted(ARRAY_PROBLEMS))
def test_inconsistent_files_give_one_sentence_errors(case, tmp_path):
    change, options, message = ARRAY_PROBLEMS[case]
    bad = _changed(tmp_path, change, **options)
    with pytest.raises(nio.ModelFileError, match=message) as caught:
        nio.load_checkpoint(bad, custom_objects={"DenseSkip": DenseSkip})
    _check_one_sentence(caught.value, bad)


def _check_one_sentence(error, path):
    text = str(error)
    assert text.startswith(f"cannot load {path}: ")
    assert "\n" not in text and ". " not in text.replace("e.g. ", "")


def test_a_custom_class_needs_custom_objects(tmp_path):
    path = nio.save(tmp_path / "model.npz", nn.Sequential(DenseSkip(2, rng=0)))
    with pytest.raises(nio.ModelFileError, match=r"unknown module class 'DenseSkip'; pass it in custom_objects"):
        nio.load(path)
    assert isinstance(nio.load(path, custom_objects={"DenseSkip": DenseSkip}).layers[0], DenseSkip)


@pytest.mark.parametrize("cut", [0, 10, 0.5, -30, -1])
def test_truncated_files(cut, tmp_path):
    good, _ = _saved(tmp_path)
    data = good.read_bytes()
    bad = tmp_path / "bad.npz"
    bad.write_bytes(data[: int(cut * len(data)) if isinstance(cut, float) else cut])
    with pytest.raises(nio.ModelFileError, match="not a zip archive") as caught:
        nio.load(bad)
    _check_one_sentence(caught.value, bad)


def test_random_bytes(tmp_path):
    bad = tmp_path / "random.npz"
    bad.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(nio.ModelFileError, match="not a zip archive"):
        nio.load(bad)


def test_a_valid_zip_with_other_contents(tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, W=np.zeros((3, 4)))
    with pytest.raises(nio.ModelFileError, match="no 'header' entry"):
        nio.load(other)


def test_a_flipped_data_byte_fails_the_checksum(tmp_path):
    good, model = _saved(tmp_path)
    data = bytearray(good.read_bytes())
    W = model.layers[0].W.data
    offset = bytes(data).find(W.tobytes())
    data[offset + 5] ^= 0xFF
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(nio.ModelFileError, match="weight 'layers.0.W' cannot be read .*CRC"):
        nio.load(bad)


def test_any_corrupted_byte_gives_an_error_or_the_original_model(tmp_path):
    good, model = _saved(tmp_path, with_optimizer=True, rng=np.random.default_rng(0))
    data = good.read_bytes()
    bad = tmp_path / "bad.npz"
    positions = np.random.default_rng(1).choice(len(data), size=60, replace=False)
    errors = 0
    for position in positions:
        corrupted = bytearray(data)
        corrupted[position] ^= 0x5A
        bad.write_bytes(bytes(corrupted))
        try:
            checkpoint = nio.load_checkpoint(bad)
        except nio.ModelFileError:
            errors += 1
            continue
        # Only bytes nothing reads (timestamps, attributes) may change without an error.
        for name, value in model.state_dict().items():
            np.testing.assert_array_equal(checkpoint.model.state_dict()[name], value)
    # Most bytes are read (a fifth are local-header fields that zipfile ignores, as np.load does).
    assert errors >= len(positions) // 2


EXECUTED = []


class _Payload:
    """Unpickling this object would append to EXECUTED: a stand-in for arbitrary code."""

    def __reduce__(self):
        return EXECUTED.append, ("code ran",)


@pytest.mark.parametrize("entry", ["header", "weights/layers.0.W"])
def test_object_arrays_are_refused_without_unpickling(entry, tmp_path):
    good, _ = _saved(tmp_path)
    entries = _entries(good)
    payload = np.empty((3, 4), dtype=object)
    payload[0, 0] = _Payload()
    entries[entry] = payload
    pickle.dumps(payload)  # the payload itself is valid pickle data
    bad = _write_zip(tmp_path / "bad.npz", list(entries.items()))
    with pytest.raises(nio.ModelFileError, match="object array, which only pickle could read"):
        nio.load(bad)
    assert EXECUTED == []


def test_zip_bomb_is_refused_before_reading(tmp_path, monkeypatch):
    good, _ = _saved(tmp_path)
    entries = _entries(good)
    entries["weights/layers.0.W"] = np.zeros(4_000_000, dtype=np.float32)  # 16 MB that deflate to 16 kB
    bad = _write_zip(tmp_path / "bomb.npz", list(entries.items()), compression=zipfile.ZIP_DEFLATED)
    assert bad.stat().st_size < 100_000
    opened = []
    original_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open",
                        lambda self, name, *args, **kwargs: opened.append(getattr(name, "filename", name))
                        or original_open(self, name, *args, **kwargs))
    with pytest.raises(nio.ModelFileError, match=r"weight 'layers.0.W' declares 16000128 bytes uncompressed where "
                                                 r"at most \d+ are expected"):
        nio.load(bad)
    assert opened == ["header.npy"]


def test_a_header_claiming_a_huge_shape_is_refused_before_allocating(tmp_path):
    good, _ = _saved(tmp_path)
    entries = _entries(good)
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 1000000000000), }"
    header += b" " * (63 - len(header) % 64) + b"\n"
    entries["weights/layers.0.W"] = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + bytes(48)
    bad = _write_zip(tmp_path / "bad.npz", list(entries.items()))
    with pytest.raises(nio.ModelFileError, match=r"has shape \(3, 1000000000000\) but"):
        nio.load(bad)


def test_duplicate_entries_are_refused(tmp_path):
    good, _ = _saved(tmp_path)
    entries = list(_entries(good).items())
    bad = _write_zip(tmp_path / "bad.npz", entries + [entries[1]])
    with pytest.raises(nio.ModelFileError, match="appears twice"):
        nio.load(bad)


def test_load_of_a_model_file_ignores_nothing_but_does_not_read_the_optimizer(tmp_path):
    good, model = _saved(tmp_path, with_optimizer=True)
    bad = _changed(tmp_path, _set_entry("optimizer/t", np.array(-3)), with_optimizer=True)
    loaded = nio.load(bad)  # model only: the optimizer's values are not read
    np.testing.assert_array_equal(loaded.layers[0].W.data, model.layers[0].W.data)
    with pytest.raises(nio.ModelFileError, match="step count"):
        nio.load_checkpoint(bad)


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        nio.load(tmp_path / "absent.npz")


# --- cost: a small file costs little ------------------------------------------------------------------

def _peak_bytes_of(function):
    """The most memory Python and NumPy held at once while ``function()`` ran (tracemalloc)."""
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _refused(path, message):
    def load():
        with pytest.raises(nio.ModelFileError, match=message):
            nio.load(path)
    return load


def test_an_architecture_larger_than_its_file_is_refused_before_anything_is_allocated(tmp_path):
    # A 7 kB file asking for 36 MB of weights: today's loaders build the model first, then compare.
    bad = _changed(tmp_path, _set_layer(0, {"class": "Dense", "arguments": {"in_features": 3000,
                                                                          "out_features": 3000}}))
    assert bad.stat().st_size < 10_000
    assert _peak_bytes_of(_refused(bad, "describes 36012040 bytes of weights")) < 2_000_000


def test_a_deflated_header_of_millions_of_values_is_refused_while_it_is_read(tmp_path):
    good, _ = _saved(tmp_path)
    entries = _entries(good)
    header = entries.pop("header")
    header["metadata"] = {"padding": [{}] * 21_000_000}
    text = json.dumps(header, separators=(",", ":")).encode()
    assert len(text) > 60_000_000
    bad = _write_zip(tmp_path / "bad.npz", [("header", np.frombuffer(text, np.uint8)), *entries.items()],
                     compression=zipfile.ZIP_DEFLATED)
    del text, header
    assert bad.stat().st_size < 200_000
    assert _peak_bytes_of(_refused(bad, "header has more than the 500000 JSON values")) < 10_000_000


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_only_regular_files_are_read(kind, tmp_path):
    if kind == "fifo":
        path = tmp_path / "model.npz"
        os.mkfifo(path)
        expected = "it is a FIFO, not a regular file"
    elif kind == "device":
        path, expected = "/dev/zero", "it is a character device, not a regular file"
    else:
        path, expected = tmp_path, "it is a directory, not a regular file"
    # A FIFO without a writer would block open() forever: the alarm turns that into a failure.
    previous = signal.signal(signal.SIGALRM, lambda *_: pytest.fail(f"load of a {kind} blocked"))
    signal.alarm(5)
    try:
        with pytest.raises(nio.ModelFileError, match=expected):
            nio.load(path)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --- what save writes, load reads ---------------------------------------------------------------------

def test_save_refuses_what_load_would_refuse_and_writes_nothing(tmp_path):
    class LooseSoftmax(nn.Module):
        """nn.Softmax without its constructor's checks (nn.Softmax(axis=1.5) is refused when built)."""

        def __init__(self, axis: int = -1):
            self.axis = axis

    model = nn.Sequential(nn.Dense(2, 3, rng=0), LooseSoftmax(axis=1.5))
    with pytest.raises(ValueError, match=r"architecture would not load: layers.1 \(LooseSoftmax\) has axis = 1.5, "
                                         "which is not an int"):
        nio.save(tmp_path / "model.npz", model)
    model = nn.Sequential(nn.Dense(2, 3, rng=0))
    with pytest.raises(ValueError, match=r"header holds nan at metadata.scores.loss, which strict JSON does not "
                                         r"allow \(store None or a string instead\)"):
        nio.save(tmp_path / "model.npz", model, metadata={"scores": {"loss": float("nan")}})
    with pytest.raises(ValueError, match="header has more than the 500000 JSON values"):
        nio.save(tmp_path / "model.npz", model, metadata={"history": list(range(600_000))})
    model.layers[0].W.data[0, 0] = np.inf
    with pytest.raises(ValueError, match="save: the weight 'layers.0.W' holds NaN or infinity"):
        nio.save(tmp_path / "model.npz", model)
    model = nn.Dense(2, 3, rng=0)
    optimizer = Adam(model.parameters())
    optimizer.state.v[0][:] = -1.0
    with pytest.raises(ValueError, match="save: the optimizer entry 'v.0' holds negative values"):
        nio.save(tmp_path / "model.npz", model, optimizer=optimizer)
    assert os.listdir(tmp_path) == []


def test_save_and_load_share_the_header_cap(tmp_path, monkeypatch):
    # The cap is 64 MiB; a smaller one makes the same point without 64 MiB of metadata.
    from nablanet.io import header as header_module

    good, _ = _saved(tmp_path)
    monkeypatch.setattr(header_module, "_MAX_HEADER_BYTES", 20_000)
    model = nn.Sequential(nn.Dense(2, 3, rng=0))
    with pytest.raises(ValueError, match="header is [0-9]+ bytes, more than the 20000 a header may have"):
        nio.save(tmp_path / "model.npz", model, metadata={"note": "x" * 20_000})
    bad = _changed(tmp_path, _set_header("metadata", {"note": "x" * 20_000}))
    with pytest.raises(nio.ModelFileError, match="header is [0-9]+ bytes, more than the 20000"):
        nio.load(bad)
    nio.load(good)


def test_save_through_a_symbolic_link_replaces_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "model-v2.npz"
    link = tmp_path / "latest.npz"
    old = nn.Sequential(nn.Dense(2, 3, rng=0))
    nio.save(target, old)
    link.symlink_to(os.path.relpath(target, tmp_path))
    new = nn.Sequential(nn.Dense(2, 3, rng=1))
    assert nio.save(link, new) == link
    assert link.is_symlink() and link.resolve() == target.resolve()
    np.testing.assert_array_equal(nio.load(target).layers[0].W.data, new.layers[0].W.data)
    assert sorted(os.listdir(tmp_path / "runs")) == ["model-v2.npz"]
    dangling = tmp_path / "next.npz"
    dangling.symlink_to("runs/model-v3.npz")
    nio.save(dangling, new)
    assert dangling.is_symlink() and (tmp_path / "runs" / "model-v3.npz").is_file()


# --- temporary files ----------------------------------------------------------------------------------

def test_the_next_save_removes_the_temporaries_a_killed_save_left_but_not_a_live_ones(tmp_path):
    target = tmp_path / "model.npz"
    stale = tmp_path / ".model.npz.0123abcd.nablanet-tmp"
    old_style = tmp_path / ".model.npz.k3j_9x0q.tmp"
    recent_old_style = tmp_path / ".model.npz.a1b2c3d4.tmp"
    live = tmp_path / ".model.npz.fedc9876.nablanet-tmp"
    other_target = tmp_path / ".other.npz.0123abcd.nablanet-tmp"
    for path in (stale, old_style, recent_old_style, live, other_target):
        path.write_bytes(b"half a model")
    os.utime(old_style, (time.time() - 3600, time.time() - 3600))
    holder = open(live, "rb")  # another writer: its lock is on its own open file
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        nio.save(target, nn.Dense(2, 2, rng=0))
        assert sorted(os.listdir(tmp_path)) == sorted([target.name, recent_old_style.name, live.name,
                                                       other_target.name])
    finally:
        holder.close()
    nio.save(target, nn.Dense(2, 2, rng=0))
    assert sorted(os.listdir(tmp_path)) == sorted([target.name, recent_old_style.name, other_target.name])


def test_concurrent_saves_of_one_target_all_succeed_and_leave_one_complete_file(tmp_path):
    target = tmp_path / "model.npz"
    models = [nn.Sequential(nn.Dense(64, 64, rng=seed)) for seed in range(4)]
    errors = []

    def keep_saving(model):
        try:
            for _ in range(15):
                nio.save(target, model)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=keep_saving, args=(model,)) for model in models]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert os.listdir(tmp_path) == ["model.npz"]
    loaded = nio.load(target).layers[0].W.data
    assert any(np.array_equal(loaded, model.layers[0].W.data) for model in models)
