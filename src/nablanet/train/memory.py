"""Keeping freed memory for reuse while training, so large temporaries do not page-fault every step."""

from __future__ import annotations

import ctypes
import ctypes.util
from contextlib import contextmanager

# mallopt parameters (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# glibc's ceiling for its dynamic mmap threshold on 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX).
_DYNAMIC_MMAP_CEILING = 32 * 1024 * 1024


def _glibc():
    """glibc's C library, or None elsewhere (musl, macOS, Windows): there the context does nothing."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        libc.gnu_get_libc_version()
    except (OSError, AttributeError):
        return None
    return libc


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def mmapped_bytes() -> int | None:
    """Bytes glibc now holds in separately mmapped blocks (mallinfo2's hblkhd), or None off glibc."""
    libc = _glibc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        return None
    libc.mallinfo2.restype = _MallInfo2
    return int(libc.mallinfo2().hblkhd)


@contextmanager
def keep_freed_memory(limit: int = 1 << 30):
    """Within the block, large arrays come from memory the process keeps, not fresh pages from the OS.

    glibc gives every allocation above 128 KiB its own mmapped pages and returns freed memory to the
    operating system, so each training step's multi-megabyte temporaries (patch matrices,
    activations, their gradients) are faulted in page by page, zero-filled, again and again: measured
    at a quarter of a small CNN's step. Raising malloc's mmap and trim thresholds keeps freed memory
    in the heap for the next step's arrays, as PyTorch's caching allocator does. The process then
    holds on to its peak working set until the block ends.

    Args:
        limit: allocations up to this size (bytes) are served from the kept heap.

    Yields:
        True if the setting took effect (glibc), False where there is no such switch (nothing changes).

    Notes:
        glibc adjusts its mmap threshold itself: every freed mmapped block larger than the threshold
        (up to 32 MiB) raises it to that size, so a NumPy program soon reuses memory for its
        multi-megabyte temporaries. Any mallopt call turns that adjustment off for good, and setting
        the thresholds back to their 128 KiB starting values would leave every later temporary
        above 128 KiB to be faulted in page by page (measured: a 3 MB product took 3.2 ms instead of
        0.3 ms after the block). On exit the thresholds are therefore set where glibc's adjustment
        leads, its 32 MiB ceiling (trim at twice that), and the memory kept during the block is
        returned to the operating system.
    """
    libc = _glibc()
    active = libc is not None and bool(libc.mallopt(_M_MMAP_THRESHOLD, int(limit)))
    if active:
        libc.mallopt(_M_TRIM_THRESHOLD, int(2 * limit))
    try:
        yield active
    finally:
        if active:
            libc.mallopt(_M_MMAP_THRESHOLD, _DYNAMIC_MMAP_CEILING)
            libc.mallopt(_M_TRIM_THRESHOLD, 2 * _DYNAMIC_MMAP_CEILING)
            libc.malloc_trim(0)
