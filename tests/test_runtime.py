"""nablanet.runtime: the process-wide switches, fit's fast mode, and that nothing else changes the process."""

import ast
import ctypes
import json
import os
import pathlib
import platform
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nablanet
from nablanet import nn, runtime
from nablanet.optim import SGD
from nablanet.train import LambdaCallback

ON_GLIBC_X86_64 = (sys.platform == "linux" and platform.machine().lower() in ("x86_64", "amd64")
                   and platform.libc_ver()[0] == "glibc")
needs_glibc_x86_64 = pytest.mark.skipif(not ON_GLIBC_X86_64, reason="the switches exist on x86-64 Linux with glibc")

FTZ_DAZ = 0x8040  # MXCSR bits 15 (flush to zero) and 6 (denormals are zero)


def mxcsr() -> int:
    """The control bits of the calling thread's MXCSR (the last 32-bit word of glibc's fenv_t).

    Bits 0-5 are excluded: they are status flags (an underflow happened), which arithmetic raises
    and NumPy clears, not settings; bits 6-15 are DAZ, the exception masks, rounding and FTZ.
    """
    env = (ctypes.c_uint32 * 8)()
    assert ctypes.CDLL(None).fegetenv(ctypes.byref(env)) == 0
    return env[7] & ~0x3F


def train_tiny(**options) -> list:
    """fit a 2-1 network for two epochs; return the MXCSR seen at the end of each epoch."""
    seen = []
    model = nn.Sequential(nn.Dense(2, 1, rng=0))
    X, y = np.ones((4, 2), dtype=np.float32), np.zeros(4, dtype=np.float32)
    record = LambdaCallback(on_epoch_end=lambda run, epoch, logs: seen.append(mxcsr()))
    nablanet.fit(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.1), epochs=2, callbacks=[record],
                 progress=False, **options)
    return seen


def test_the_old_import_paths_name_the_runtime_functions():
    from nablanet.optim import base
    from nablanet.train import memory

    assert nablanet.runtime is runtime
    assert nablanet.optim.flush_denormals is base.flush_denormals is runtime.flush_denormals
    assert memory.keep_freed_memory is nablanet.train.keep_freed_memory is runtime.keep_freed_memory
    assert memory.mmapped_bytes is runtime.mmapped_bytes


# --- the floating-point control register -----------------------------------------------------------
@needs_glibc_x86_64
def test_a_default_fit_leaves_the_floating_point_control_register_as_it_was():
    before = mxcsr()
    assert train_tiny() == [before, before]
    assert mxcsr() == before


@needs_glibc_x86_64
def test_fast_math_sets_ftz_and_daz_while_training_and_restores_them_after():
    before = mxcsr()
    assert before & FTZ_DAZ == 0  # the process's own setting, which fit must give back
    assert [word & FTZ_DAZ for word in train_tiny(fast_math=True)] == [FTZ_DAZ, FTZ_DAZ]
    assert mxcsr() == before
    # flush_subnormals alone is that part of fast mode.
    assert [word & FTZ_DAZ for word in train_tiny(flush_subnormals=True)] == [FTZ_DAZ, FTZ_DAZ]
    assert mxcsr() == before
    with runtime.fast_math(keep_freed_memory=False) as parts:
        assert mxcsr() == before | FTZ_DAZ
        assert (np.array([1e-30], dtype=np.float32) * np.float32(1e-10))[0] == 0.0  # 1e-40 flushed
    assert parts == runtime.FastMathParts(flush_subnormals=True, keep_freed_memory=False)
    assert mxcsr() == before


@needs_glibc_x86_64
def test_nested_flush_blocks_give_each_other_back_their_bits():
    before = mxcsr()
    with runtime.flush_denormals():
        with runtime.fast_math(keep_freed_memory=False):
            pass
        assert mxcsr() & FTZ_DAZ == FTZ_DAZ  # the inner block's exit left the outer one's setting
    assert mxcsr() == before


def test_fast_math_skips_the_parts_the_platform_lacks(monkeypatch):
    def no_fenv():
        raise NotImplementedError("flush_denormals supports x86-64 Linux only")

    monkeypatch.setattr(runtime, "_fenv_functions", no_fenv)
    monkeypatch.setattr(runtime, "_glibc", lambda: None)
    with pytest.raises(NotImplementedError, match="x86-64 Linux only"):
        with runtime.flush_denormals():
            pass
    with runtime.keep_freed_memory() as active:
        assert active is False
    with runtime.fast_math() as parts:
        assert parts == runtime.FastMathParts(flush_subnormals=False, keep_freed_memory=False)
    assert runtime.mmapped_bytes() is None
    assert train_tiny(fast_math=True) == train_tiny()  # only slower: trains the same


# --- glibc's malloc parameters ---------------------------------------------------------------------
# glibc has no getter for its thresholds, so a fresh process observes them by their effect: whether
# a block of a given size gets its own mmapped pages (mallinfo2's hblkhd grows by its size) or comes
# from the heap. In a fresh process the mmap threshold starts at 128 KiB and glibc raises it itself
# to the size of each larger mmapped block freed (up to 32 MiB); any mallopt call of the thresholds
# fixes them and turns that adjustment off for good (mallopt(3)). Blocks are held until the end, so
# that only the frees the probe means to make move the threshold.
_MALLOC_PROBE = textwrap.dedent("""
    import ctypes, json
    import numpy as np
    import nablanet
    from nablanet import nn, optim, runtime
    from nablanet.train import LambdaCallback

    libc = ctypes.CDLL(None)

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                    "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    libc.mallinfo2.restype = MallInfo2
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    MiB = 1 << 20
    held = []

    def mmapped(n_bytes, keep=True):
        before = libc.mallinfo2().hblkhd
        pointer = libc.malloc(n_bytes)
        grown = libc.mallinfo2().hblkhd - before
        if keep:
            held.append(pointer)
        else:
            libc.free(pointer)
        return grown >= n_bytes

    def train(**options):
        # Arrays of a few bytes: fit itself frees no block that would move the threshold.
        seen = []
        model = nn.Sequential(nn.Dense(2, 1, rng=0))
        X, y = np.ones((4, 2), dtype=np.float32), np.zeros(4, dtype=np.float32)
        probe = LambdaCallback(on_epoch_end=lambda run, epoch, logs: seen.append(
            {"8 MiB": mmapped(8 * MiB), "64 MiB": mmapped(64 * MiB, keep=False)}))
        nablanet.fit(model, X, y, loss="mse", optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=1,
                     callbacks=[probe], progress=False, **options)
        return seen[0]

    found = {"before": mmapped(8 * MiB)}
    found["during a default fit"] = train()
    found["after a default fit"] = {"8 MiB": mmapped(8 * MiB, keep=False), "8 MiB again": mmapped(8 * MiB)}
    found["during a fast fit"] = train(fast_math=True)
    found["after a fast fit"] = {"16 MiB": mmapped(16 * MiB), "64 MiB": mmapped(64 * MiB, keep=False)}
    with runtime.keep_freed_memory(limit=128 * MiB):
        with runtime.keep_freed_memory(limit=16 * MiB):
            pass
        found["after a nested block"] = {"64 MiB": mmapped(64 * MiB, keep=False)}
    found["after both blocks"] = {"64 MiB": mmapped(64 * MiB, keep=False)}
    for pointer in held:
        libc.free(pointer)
    print(json.dumps(found))
""")


@pytest.fixture(scope="module")
def malloc_observations():
    if not ON_GLIBC_X86_64:
        pytest.skip("glibc's malloc")
    source_root = str(pathlib.Path(nablanet.__file__).resolve().parents[1])
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([source_root, os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", _MALLOC_PROBE], capture_output=True, text=True, timeout=120,
                          env=environment)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_default_fit_leaves_glibcs_malloc_parameters_as_they_were(malloc_observations):
    found = malloc_observations
    assert found["before"] is True  # a fresh process: an 8 MiB block gets its own pages
    # While and after training: the threshold is still below 8 MiB...
    assert found["during a default fit"] == {"8 MiB": True, "64 MiB": True}
    # ...and glibc still adjusts it itself: freeing an 8 MiB block raised it, so the next one is
    # served from the heap. A fixed threshold (any mallopt call, even one "restoring" 128 KiB) would
    # map the second block too.
    assert found["after a default fit"] == {"8 MiB": True, "8 MiB again": False}


def test_fast_math_keeps_freed_memory_while_training_and_leaves_the_documented_thresholds(malloc_observations):
    found = malloc_observations
    # While training: blocks up to 1 GiB come from the heap, beyond glibc's own 32 MiB ceiling.
    assert found["during a fast fit"] == {"8 MiB": False, "64 MiB": False}
    # After: the mmap threshold fixed at 32 MiB, as keep_freed_memory's docstring says.
    assert found["after a fast fit"] == {"16 MiB": False, "64 MiB": True}
    # An inner block's exit leaves the outer block's 128 MiB in force; the outer one's exit ends it.
    assert found["after a nested block"] == {"64 MiB": False}
    assert found["after both blocks"] == {"64 MiB": True}


# --- no other module switches the process ----------------------------------------------------------
# The C functions that change glibc's malloc parameters or the floating-point environment (MXCSR).
_PROCESS_SWITCHES = frozenset({
    "mallopt", "malloc_trim", "fesetenv", "feupdateenv", "feholdexcept", "fesetround", "fesetexceptflag",
    "feenableexcept", "fedisableexcept", "fesetmode",
})


def _switches_named(tree) -> set:
    named = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            named.add(node.id)
        elif isinstance(node, ast.Attribute):
            named.add(node.attr)
        elif isinstance(node, ast.alias):
            named.add(node.name.rpartition(".")[2])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            named.add(node.value)  # getattr(libc, "mallopt")
    return named & _PROCESS_SWITCHES


def test_no_module_but_runtime_calls_mallopt_or_sets_the_floating_point_environment():
    package = pathlib.Path(nablanet.__file__).resolve().parent
    offenders = {}
    for path in sorted(package.rglob("*.py")):
        if path == package / "runtime.py":
            continue
        found = _switches_named(ast.parse(path.read_text(encoding="utf-8")))
        if found:
            offenders[str(path.relative_to(package))] = sorted(found)
    assert offenders == {}
    assert _switches_named(ast.parse((package / "runtime.py").read_text(encoding="utf-8"))) >= {"mallopt", "fesetenv"}


def test_the_walk_finds_a_switch_however_it_is_reached():
    for source in ("libc.mallopt(-3, 1)", "getattr(libm, 'fesetenv')(env)", "from ctypes import fesetround"):
        assert _switches_named(ast.parse(source)), source
    assert not _switches_named(ast.parse("np.errstate(over='ignore')"))


# --- BLAS threads ----------------------------------------------------------------------------------
def test_blas_threads_limits_the_pools_and_gives_back_their_sizes():
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_sizes():
        return [pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]

    before = blas_sizes()
    if not before:
        pytest.skip("no BLAS pool that threadpoolctl can see")
    with runtime.blas_threads(1) as limited:
        assert limited is True
        assert set(blas_sizes()) == {1}
    assert blas_sizes() == before
    with runtime.blas_threads(0) as limited:
        assert limited is False
        assert blas_sizes() == before
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="threads must be a non-negative integer"):
            with runtime.blas_threads(bad):
                pass


def test_blas_threads_blocks_nest_and_blocks_of_two_threads_may_end_in_any_order():
    import threading

    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_sizes():
        return {pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"}

    if not blas_sizes():
        pytest.skip("no BLAS pool that threadpoolctl can see")
    with threadpoolctl.threadpool_limits(limits=3, user_api="blas"):
        assert runtime.default_threads() == runtime.DEFAULT_THREADS
        with runtime.blas_threads(2):
            assert runtime.default_threads() == 2
            with runtime.blas_threads(1):
                assert blas_sizes() == {1}
                with runtime.blas_threads(0) as limited:
                    assert limited is False and blas_sizes() == {1}
                    assert runtime.default_threads() == 0
            assert blas_sizes() == {2}
        assert blas_sizes() == {3}
        # A block of another thread, open while this thread's is, ending after it and then before it:
        # the pools are shared, so it changes nothing, and they end as they were in both orders.
        entered, leave = threading.Event(), threading.Event()
        other_limited = []

        def other_thread():
            with runtime.blas_threads(2) as limited:
                other_limited.append(limited)
                assert runtime.default_threads() == 2
                entered.set()
                leave.wait(timeout=30)

        for other_ends_first in (False, True):
            entered.clear(), leave.clear()
            worker = threading.Thread(target=other_thread)
            with runtime.blas_threads(1):
                worker.start()
                entered.wait(timeout=30)
                assert blas_sizes() == {1}
                if other_ends_first:
                    leave.set()
                    worker.join()
                assert blas_sizes() == {1}
            assert blas_sizes() == {3}
            leave.set()
            worker.join()
            assert blas_sizes() == {3}
        assert other_limited == [False, False]
        # With no other block open, another thread's block limits the pools as this thread's would.
        worker = threading.Thread(target=other_thread)
        leave.set()
        worker.start()
        worker.join()
        assert other_limited[-1] is True and blas_sizes() == {3}


def test_blas_threads_sees_a_blas_library_loaded_after_its_first_use():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with runtime.blas_threads(1):
        pass
    import scipy.linalg  # noqa: F401  (SciPy's own OpenBLAS, if it has one, is loaded by now)

    paths = {pool["filepath"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"}
    with runtime.blas_threads(1):
        limited = {pool["filepath"] for pool in threadpoolctl.threadpool_info()
                   if pool["user_api"] == "blas" and pool["num_threads"] == 1}
    assert limited == paths
