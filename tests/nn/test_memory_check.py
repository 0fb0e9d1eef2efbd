"""Layers too large for the memory are refused before they allocate: a ModelTooLargeError (a MemoryError)
in one sentence naming the size and the memory available, sized from the layer's state_spec; the
memory available as the system reports it (nablanet.runtime.available_memory)."""

import builtins
import os
import sys
import tracemalloc

import numpy as np
import pytest

import nablanet.nn as nn
from nablanet import runtime
from nablanet.nn.module import ArraySpec


def _with_available(monkeypatch, nbytes):
    """Make the system report ``nbytes`` of memory available, whatever the machine has."""
    monkeypatch.setattr(runtime, "available_memory", lambda at_least=None: nbytes)


@pytest.mark.parametrize("build, fragments", [
    # Far beyond any machine's memory (242 GiB, 3.6 TiB): refused with the memory the system reports.
    (lambda: nn.Dense(64, 10**9), ["Dense needs 242.1 GiB for its arrays", "W of shape (64, 1000000000), float32"]),
    (lambda: nn.Dense(10**6, 10**6, dtype=np.float64), ["Dense needs 7.3 TiB", "float64"]),
    (lambda: nn.Conv2d(10**5, 10**5, 3), ["Conv2d needs 335.3 GiB", "W of shape (100000, 100000, 3, 3)"]),
    (lambda: nn.GRU(1000, 10**5), ["GRU needs 112.9 GiB", "cells.0.0.W_hh of shape (100000, 300000)"]),
    (lambda: nn.BatchNorm(10**11), ["BatchNorm needs 1.5 TiB"]),
    (lambda: nn.RBF(10**6, 10**5), ["RBF needs 372.5 GiB", "centers of shape (100000, 1000000)"]),
])
def test_a_layer_beyond_the_memory_available_is_refused_before_it_allocates(build, fragments):
    tracemalloc.start()
    try:
        with pytest.raises(nn.ModelTooLargeError) as caught:
            build()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    assert "of memory is available; give it smaller sizes" in message and "\n" not in message
    assert peak < 2**20  # nothing of the layer's size was allocated (NumPy reports its arrays to tracemalloc)


# Wrong arguments of the layers that size their arrays before building them, each as the constructor names it.
WRONG_ARGUMENTS = [
    (lambda: nn.Dense(True, 3), "Dense: in_features must be a positive integer, got True (a bool)"),
    (lambda: nn.Dense(4, 3.0), "Dense: out_features must be a positive integer, got 3.0 (a float)"),
    (lambda: nn.Dense(4, 3, bias="yes"), "Dense: bias must be True or False, got 'yes' (a str)"),
    (lambda: nn.Dense(4, 3, dtype="int32"), "Dense: dtype must be a floating-point dtype"),
    (lambda: nn.RBF(-4, 3), "RBF: in_features must be a positive integer, got -4"),
    (lambda: nn.RBF(4, 3, width=0.0), "RBF: width must be a positive finite number, got 0.0"),
    (lambda: nn.BatchNorm(True), "BatchNorm: num_features must be a positive integer, got True (a bool)"),
    (lambda: nn.BatchNorm(3, eps=-1.0), "BatchNorm: eps must be a positive finite number, got -1.0"),
    (lambda: nn.BatchNorm(3, momentum=2.0), "BatchNorm: momentum must be a number in [0, 1], got 2.0"),
    (lambda: nn.Conv2d(True, 4, 3), "Conv2d: in_channels must be a positive integer, got True (a bool)"),
    (lambda: nn.Conv1d(2, 4, 3, stride=0), "Conv1d: stride"),
    (lambda: nn.Conv2d(2, 4, 3, bias=1), "Conv2d: bias must be True or False, got 1 (an int)"),
    (lambda: nn.GRU(True, 5), "GRU: input_size must be a positive integer, got True (a bool)"),
    (lambda: nn.LSTM(4, 5, num_layers=True), "LSTM: num_layers must be a positive integer, got True (a bool)"),
    (lambda: nn.RNN(4, 5, bidirectional="no"), "RNN: bidirectional must be True or False, got 'no' (a str)"),
    (lambda: nn.LSTM(4, 5, return_state=1), "LSTM: return_state must be True or False, got 1 (an int)"),
]


@pytest.mark.parametrize("build, message", WRONG_ARGUMENTS)
def test_a_wrong_argument_is_named_before_the_memory_is_counted(build, message, monkeypatch):
    with pytest.raises((TypeError, ValueError)) as spare:
        build()
    assert str(spare.value).startswith(message)
    # With no memory at all every array is too large, but the wrong argument is what the layer says.
    _with_available(monkeypatch, 0)
    with pytest.raises(type(spare.value)) as short:
        build()
    assert str(short.value) == str(spare.value)


def test_a_wrong_first_size_of_a_layer_too_large_is_named():
    with pytest.raises(TypeError, match=r"^Dense: in_features must be a positive integer, got True \(a bool\)$"):
        nn.Dense(True, 10**12)
    with pytest.raises(TypeError, match=r"^GRU: input_size must be a positive integer, got True \(a bool\)$"):
        nn.GRU(True, 10**6)


def test_the_error_is_a_memory_error():
    assert issubclass(nn.ModelTooLargeError, MemoryError)
    with pytest.raises(MemoryError):
        nn.Dense(10**6, 10**6)


def test_the_bound_is_the_bytes_of_the_arrays_the_state_spec_declares(monkeypatch):
    # Dense(3, 2) holds W (3, 2) and b (2,) in float32: 4 * (6 + 2) = 32 bytes.
    _with_available(monkeypatch, 32)
    assert nn.Dense(3, 2, rng=0).W.shape == (3, 2)
    _with_available(monkeypatch, 31)
    with pytest.raises(nn.ModelTooLargeError, match=r"^Dense needs 32 bytes for its arrays \(the largest: W of "
                                                    r"shape \(3, 2\), float32\), but only 31 bytes of memory"):
        nn.Dense(3, 2, rng=0)


def test_a_layer_is_sized_as_its_own_class_and_named_by_it(monkeypatch):
    # GRU keeps the constructor of the recurrent base class but has three gates:
    # (10 * 300 + 100 * 300 + 300 + 300) * 4 = 134400 bytes (one gate would be 44800).
    _with_available(monkeypatch, 134400)
    nn.GRU(10, 100, rng=0)
    _with_available(monkeypatch, 134399)
    with pytest.raises(nn.ModelTooLargeError, match=r"^GRU needs 131.2 KiB"):
        nn.GRU(10, 100, rng=0)


def test_a_subclass_with_its_own_constructor_is_checked_with_the_arguments_it_passes_on(monkeypatch):
    class Square(nn.Dense):
        def __init__(self, n):
            super().__init__(n, n, rng=0)

    _with_available(monkeypatch, 2**20)
    assert Square(4).W.shape == (4, 4)
    with pytest.raises(nn.ModelTooLargeError, match=r"^Square needs 3.8 GiB for its arrays \(the largest: W of "
                                                    r"shape \(32000, 32000\)"):
        Square(32000)


def test_a_layer_with_millions_of_arrays_is_refused_without_listing_them_all(monkeypatch):
    # LSTM's state_spec lists 4 arrays per layer: 4 million here. The refusal counts 10,000 of them
    # (a list of all would take seconds), and says it did.
    _with_available(monkeypatch, 2**26)
    with pytest.raises(nn.ModelTooLargeError, match=r"^LSTM needs more memory for its arrays than the 64.0 MiB "
                                                    r"available: its first 10000 arrays alone take 74.6 GiB"):
        nn.LSTM(1000, 1000, num_layers=10**6)


def test_containers_of_built_layers_are_not_sized_again(monkeypatch):
    layers = [nn.Dense(3, 2, rng=0), nn.Dense(2, 1, rng=0)]
    _with_available(monkeypatch, 0)  # their arrays exist already: a Sequential allocates none of its own
    assert len(nn.Sequential(*layers)) == 2


def test_sizes_of_numpy_integers_do_not_wrap_around():
    # 10**10 * 10**10 overflows int64; the bytes are computed with Python's integers.
    assert ArraySpec((np.int64(10**10), np.int64(10**10)), np.dtype(np.float32)).nbytes == 4 * 10**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/meminfo is Linux's")
def test_available_memory_is_linux_memavailable_unless_the_free_pages_suffice():
    with open("/proc/meminfo") as meminfo:
        fields = dict(line.split(":", 1) for line in meminfo)
    reported = int(fields["MemAvailable"].split()[0]) * 1024
    # MemAvailable changes as the machine runs: compared within 1 GiB.
    assert abs(runtime.available_memory() - reported) < 2**30
    # Asked only whether a size fits, it answers with the free pages while they suffice ...
    free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert abs(runtime.available_memory(at_least=0) - free) < 2**30
    # ... and reads MemAvailable beyond them.
    assert abs(runtime.available_memory(at_least=2**62) - reported) < 2**30


def test_available_memory_is_none_where_the_system_does_not_say(monkeypatch):
    def no_such_name(name):
        raise ValueError(f"unrecognized configuration name {name!r}")

    real_open = builtins.open

    def no_meminfo(path, *args, **kwargs):
        if str(path) == "/proc/meminfo":
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "sysconf", no_such_name)
    monkeypatch.setattr(builtins, "open", no_meminfo)
    assert runtime.available_memory() is None and runtime.available_memory(at_least=0) is None
    nn.Dense(3, 2, rng=0)  # nothing known, nothing refused
