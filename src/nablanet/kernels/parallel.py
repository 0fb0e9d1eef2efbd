"""Row-wise kernels split over a few threads, never more than the BLAS library may use.

Why. A NumPy ufunc runs on the calling thread only, while PyTorch splits elementwise work over
its intra-op threads: at 2 threads the passes of a layer normalization over a (64, 32, 128) array
took as long as at 1 thread while torch's halved. NumPy releases the GIL inside a ufunc's loop, so
the rows of such a kernel can be split over Python threads.

How many. ``thread_limit()`` is the BLAS library's own thread limit (what OPENBLAS_NUM_THREADS,
OMP_NUM_THREADS, threadpoolctl, ``nablanet.runtime.blas_threads`` or ``fit(threads=)`` set it to),
read through threadpoolctl when it is installed and from those environment variables otherwise
(1 when neither says), at most the CPUs the process may run on. So a kernel never runs on more
threads than the matrix products beside it, and at 1 thread there is no pool at all. Nothing
process-wide is changed: the pool's threads are this module's own, started on first use and kept.

``split_rows(work, rows, values)`` calls ``work(start, stop)`` on contiguous ranges of rows and
returns the results in the order of the ranges; below MIN_VALUES values, at one thread, inside a
split (a nested call) or on a pool thread it is ``[work(0, rows)]``. ``work`` must write only its
own rows and call no BLAS routine (OpenBLAS would start its own threads for a matrix-vector product
beside ours): the ops' kernels do their matrix-vector products on the whole array, before or after
the split.

Busy machines. There are CHUNKS_PER_THREAD ranges per thread, and every thread, the calling one
among them, takes the next range not yet taken until none is left; the caller then waits only for
the ranges other threads have taken. A pool thread that no core runs soon (the machine busy with
other work) takes nothing, and the caller does its ranges itself, instead of waiting for it.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import os
import sys
import threading

__all__ = ["MIN_VALUES", "CHUNKS_PER_THREAD", "thread_limit", "split_rows"]

#: Arrays of fewer values run on one thread: handing a range to a pool thread and waiting for it
#: took 12 us (tenth percentile) to 52 us (median) on a 2-core machine running other work, as long as
#: a pass over some 2^16 float32 values.
MIN_VALUES = 1 << 17
#: Ranges per thread: more balance the threads' shares when one runs late, each costs a kernel's
#: Python calls once more (some 10 to 20 us for layer normalization's).
CHUNKS_PER_THREAD = 2

# The environment variables OpenBLAS reads at start, in its order of precedence.
_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")

_lock = threading.Lock()
_local = threading.local()
# threadpoolctl's BLAS libraries and the len(sys.modules) they were found at (a library enters the
# process with the module that links it; finding them reads the memory map, about 1 ms).
_libraries: list = [None, -1]
# The CPUs this process may run on (read once: a system call, and a kernel's caller does not move the process).
_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
# The pool and its number of threads.
_pool: list = [None, 0]


def _blas_limits():
    """The functions that give each loaded BLAS library's thread limit (threadpoolctl's), or None without it."""
    with _lock:
        if _libraries[1] != len(sys.modules):
            try:
                from threadpoolctl import ThreadpoolController
            except ImportError:
                return None
            libraries = ThreadpoolController().select(user_api="blas").lib_controllers
            _libraries[:] = [[library.get_num_threads for library in libraries], len(sys.modules)]
        return _libraries[0]


def _environment_limit() -> int:
    for variable in _VARIABLES:
        value = os.environ.get(variable, "").split(",")[0].strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def thread_limit() -> int:
    """The most threads a kernel may use: the BLAS library's limit (the smallest of those loaded), at least 1."""
    limits = _blas_limits()
    limit = min((limit() or 1 for limit in limits), default=None) if limits else None
    if limit is None:
        limit = _environment_limit()
    return max(1, min(limit, _CPUS))


def _mark_pool_thread() -> None:
    _local.inside = True


def _executor(workers: int):
    with _lock:
        if _pool[1] < workers:
            if _pool[0] is not None:
                _pool[0].shutdown(wait=False)
            _pool[:] = [concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="nablanet-kernels",
                                                              initializer=_mark_pool_thread), workers]
        return _pool[0]


def split_rows(work, rows: int, values: int) -> list:
    """[work(start, stop) for each range of rows], the ranges contiguous and covering 0..rows, in order.

    Args:
        work: a function of (start, stop) that writes only rows start..stop of its outputs.
        rows: how many rows there are.
        values: the size of the arrays the work passes over (the split pays only for large ones).

    Returns:
        The results of ``work`` in the order of the ranges (one result when not split).
    """
    inside = getattr(_local, "inside", False)
    count = 1 if inside or values < MIN_VALUES else min(thread_limit(), rows)
    if count <= 1:
        return [work(0, rows)]
    chunks = min(rows, count * CHUNKS_PER_THREAD)
    bounds = [rows * i // chunks for i in range(chunks + 1)]
    results = [None] * chunks
    finished = [threading.Event() for _ in range(chunks)]
    errors = []
    # next() of an itertools.count is one step under the GIL: each range is taken by one thread only.
    taken = itertools.count()

    def take_ranges():
        while (chunk := next(taken)) < chunks:
            try:
                results[chunk] = work(bounds[chunk], bounds[chunk + 1])
            except BaseException as error:  # raised in the caller, after every range has stopped
                errors.append(error)
            finally:
                finished[chunk].set()

    executor = _executor(count - 1)
    for _ in range(count - 1):
        executor.submit(take_ranges)
    _local.inside = True
    try:
        take_ranges()
    finally:
        _local.inside = False
    # Every range is taken by now; those of other threads are written before anything is returned.
    for event in finished:
        event.wait()
    if errors:
        raise errors[0]
    return results
