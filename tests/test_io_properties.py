"""What save writes, load reads: random models of every registered layer, optimizers, generators and metadata
round-trip exactly, and whatever save refuses it refuses before writing anything (hypothesis)."""

import inspect
import json
import os
import tempfile
import typing
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import nablanet.nn as nn
from nablanet import io as nio
from nablanet.io.format import _encode_state, _generator_slots
from nablanet.nn import functional as F
from nablanet.optim import OPTIMIZERS
from nablanet.optim.base import Optimizer

SETTINGS = settings(max_examples=int(os.environ.get("NABLANET_IO_EXAMPLES", 60)), deadline=None, suppress_health_check=[HealthCheck.too_slow])

# The constructor arguments that have no annotation to draw from; every other one is drawn from its
# annotation (int, float, bool), so a new layer needs no line here unless it has such an argument.
UNANNOTATED = {
    "activation": st.sampled_from(sorted(F.ACTIVATIONS)),
    "kernel_size": st.integers(1, 3),
}
BY_ANNOTATION = {int: st.integers(1, 3), float: st.floats(0.05, 0.9), bool: st.booleans()}


def _layer_names():
    return sorted(name for name, record in nn.LAYERS.items() if record.cls.__module__.startswith("nablanet."))


@st.composite
def layers(draw, depth=0):
    """A registered layer with drawn arguments (sizes 1 to 3, a dtype, an int seed); Sequential nests up to twice."""
    name = draw(st.sampled_from(_layer_names()))
    cls = nn.LAYERS[name].cls
    hints = typing.get_type_hints(cls.__init__)
    positional, keywords = [], {}
    for parameter in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        hint = hints.get(parameter.name)
        if parameter.kind is parameter.VAR_POSITIONAL:
            if depth < 2:
                positional.extend(draw(st.lists(layers(depth + 1), min_size=1, max_size=3)))
        elif parameter.kind is parameter.VAR_KEYWORD:
            continue
        elif parameter.name == "rng":
            keywords["rng"] = draw(st.integers(0, 2**32))
        elif parameter.name == "dtype":
            keywords["dtype"] = draw(st.sampled_from([np.float32, np.float64]))
        elif parameter.name in UNANNOTATED and (parameter.default is parameter.empty or draw(st.booleans())):
            keywords[parameter.name] = draw(UNANNOTATED[parameter.name])
        elif hint in BY_ANNOTATION and (parameter.default is parameter.empty or draw(st.booleans())):
            keywords[parameter.name] = draw(BY_ANNOTATION[hint])
    try:
        return cls(*positional, **keywords)
    except (TypeError, ValueError):
        assume(False)


@st.composite
def trained_optimizers(draw, model):
    """A registered Optimizer of the model's parameters after a few steps on random gradients, or None."""
    names = [name for name, record in OPTIMIZERS.items() if issubclass(record.cls, Optimizer)]
    name = draw(st.none() | st.sampled_from(names))
    if name is None or not model.parameters():
        return None
    optimizer = OPTIMIZERS[name].cls(model.parameters(), lr=draw(st.floats(1e-4, 0.1)))
    gradients = np.random.default_rng(draw(st.integers(0, 2**32)))
    for _ in range(draw(st.integers(0, 3))):
        for p in model.parameters():
            p.grad = gradients.normal(size=p.shape).astype(p.dtype)
        optimizer.step()
    return optimizer


generators = st.builds(lambda cls, seed: np.random.Generator(cls(seed)),
                       st.sampled_from([np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937, np.random.Philox,
                                        np.random.SFC64]), st.integers(0, 2**32))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=25)


def _same_generator(a, b):
    return json.dumps(_encode_state(a.bit_generator.state)) == \
        json.dumps(_encode_state(b.bit_generator.state))


@SETTINGS
@given(data=st.data())
def test_what_save_writes_load_reads_identically(data):
    model = data.draw(layers())
    for p in model.parameters():  # weights that no fresh initialization would give
        p.data += np.float32(0.25)
    optimizer = data.draw(trained_optimizers(model))
    rng = data.draw(st.none() | generators)
    metadata = data.draw(st.dictionaries(st.text(max_size=6), json_values, max_size=5))
    with tempfile.TemporaryDirectory() as folder:
        path = nio.save(Path(folder) / "model.npz", model, optimizer=optimizer, rng=rng, metadata=metadata)
        checkpoint = nio.load_checkpoint(path)
        assert os.listdir(folder) == ["model.npz"]

    assert checkpoint.model.config() == json.loads(json.dumps(model.config()))
    saved, restored = model.state_dict(), checkpoint.model.state_dict()
    assert list(restored) == list(saved)
    for name in saved:
        assert restored[name].dtype == saved[name].dtype and np.array_equal(restored[name], saved[name]), name
    slots, restored_slots = _generator_slots(model), _generator_slots(checkpoint.model)
    assert [slot[0] for slot in restored_slots] == [slot[0] for slot in slots]
    for (name, module, attribute), (_, restored_module, _) in zip(slots, restored_slots):
        assert _same_generator(getattr(restored_module, attribute), getattr(module, attribute)), name
    assert (checkpoint.rng is None) == (rng is None) and (rng is None or _same_generator(checkpoint.rng, rng))
    assert checkpoint.metadata == metadata
    if optimizer is None:
        assert checkpoint.optimizer is None
    else:
        expected, got = optimizer.state_dict(), checkpoint.optimizer.state_dict()
        assert sorted(got) == sorted(expected)
        for key in expected:
            assert got[key].dtype == expected[key].dtype and np.array_equal(got[key], expected[key]), key


metadata_with_anything = st.dictionaries(
    st.text(max_size=4),
    st.recursive(st.floats() | st.integers() | st.text(max_size=4) | st.none(),
                 lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children,
                                                                                  max_size=3), max_leaves=10),
    max_size=4)


@SETTINGS
@given(metadata=metadata_with_anything)
def test_save_either_refuses_metadata_before_writing_or_it_round_trips(metadata):
    model = nn.Sequential(nn.Dense(2, 2, rng=0))
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = nio.save(Path(folder) / "model.npz", model, metadata=metadata)
        except ValueError as error:
            assert "NaN" in str(error) or "nan" in str(error) or "inf" in str(error)
            assert os.listdir(folder) == []
            return
        assert nio.load_checkpoint(path).metadata == metadata
