"""Keeping freed memory for reuse while training, so large temporaries do not page-fault every step."""

from __future__ import annotations

import ctypes
import ctypes.util
from contextlib import contextmanager

# mallopt parameters (glibc's malloc.h) and glibc's defaults for them.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_DEFAULT_THRESHOLD = 128 * 1024


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
        On exit both thresholds are set back to glibc's defaults (128 KiB); glibc's own dynamic
        adjustment of the mmap threshold stays off for the rest of the process, a difference no
        program can observe except in its page-fault count.
    """
    libc = _glibc()
    active = libc is not None and bool(libc.mallopt(_M_MMAP_THRESHOLD, int(limit)))
    if active:
        libc.mallopt(_M_TRIM_THRESHOLD, int(2 * limit))
    try:
        yield active
    finally:
        if active:
            libc.mallopt(_M_MMAP_THRESHOLD, _DEFAULT_THRESHOLD)
            libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_THRESHOLD)
            libc.malloc_trim(0)
