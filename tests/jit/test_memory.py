"""nablanet.jit's memory: the traced call frees its arrays when it returns, as an eager step does, so
a compiled step holds no more memory than eager mode (issue 15; benchmarks/peak_memory.py measures it).

Python's cyclic collector is switched off in these tests: an array that only a reference cycle
keeps alive then stays alive, instead of being freed at a collection whose time depends on
everything else the process allocated. Reference counting alone must free the trace's arrays.
"""

import contextlib
import gc
import weakref

import numpy

import nablanet
import nablanet.nn as nn
from nablanet import optim
from nablanet.kernels import workspace
from nablanet.nn import functional as F

# A batch whose convolution and pooling arrays are above workspace.MIN_POOLED_BYTES (128 KiB): the
# first convolution's output is 64 * 16 * 16 * 16 float32 values, 1 MiB.
BATCH, SIDE = 64, 16


@contextlib.contextmanager
def _reference_counting_only():
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _setup(seen=None):
    """A small CNN, Adam, and its training step; ``seen`` collects a weak reference to each call's first
    convolution output (an intermediate of the step: while tracing, an array of the trace)."""
    first = nn.Conv2d(1, 16, 3, padding=1, activation="relu", rng=0)
    rest = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(16, 8, 3, padding=1, activation="relu", rng=1), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dense(8 * (SIDE // 4) ** 2, 10, rng=2))
    optimizer = optim.Adam(first.parameters() + rest.parameters(), lr=1e-3)

    def step(x, y):
        optimizer.zero_grad()
        h = first(x)
        if seen is not None:
            seen.append(weakref.ref(h.data))
        loss = F.cross_entropy(rest(h), y)
        loss.backward()
        optimizer.step()
        return loss

    return step


def _batches(n):
    rng = numpy.random.default_rng(0)
    return [(rng.standard_normal((BATCH, 1, SIDE, SIDE)).astype(numpy.float32), rng.integers(0, 10, BATCH))
            for _ in range(n)]


def test_the_traced_calls_arrays_are_freed_when_it_returns():
    seen = []
    compiled = nablanet.jit(_setup(seen))
    with _reference_counting_only():
        compiled(*_batches(1)[0])
        assert compiled.traces == 1 and len(seen) == 1
        assert seen[0]() is None, "an intermediate of the traced call is still alive after it returned"


def test_a_compiled_steps_pool_holds_no_more_than_an_eager_steps():
    """The workspace pool keeps the blocks a step used at once: a trace whose arrays outlive it makes
    the first replays take fresh blocks, and the pool then keeps both sets."""
    held = {}
    for mode in ("eager", "compiled"):
        step = _setup()
        if mode == "compiled":
            step = nablanet.jit(step)
        workspace.release()
        with _reference_counting_only():
            for x, y in _batches(3):
                step(x, y)
            held[mode] = workspace.pooled_bytes()
    assert held["eager"] > 0  # the test's arrays are pooled, so it compares something
    assert held["compiled"] <= held["eager"], held
