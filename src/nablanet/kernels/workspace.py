"""Large scratch and result arrays of a training step taken from a pool of freed ones, so a step maps no fresh memory.

Why. glibc's malloc serves blocks above its mmap threshold (128 KiB at first) with fresh pages
from the kernel and unmaps them on ``free``; every page of such a block then costs a page fault
on its first write, in every step. On cnn-28 that was about 4,900 faults per step and a third of
a user's loop's time (21.4 ms of CPU per step, 13.6-14.4 inside ``runtime.keep_freed_memory()``,
1 thread, benchmarks/README.md). That switch changes
the whole process; this pool keeps the memory in the library instead, for the arrays that the
kernels and the ops' rules allocate by the megabyte each step (the patch matrix of a convolution,
its output, the masks and gradients of pooling).

How it stays correct. A pooled block is handed out again only when nothing refers to it any
more: every array made from it (the returned array and every view of it, which NumPy links to
the block through ``base``) holds a reference, so the block's reference count is the pool's own
while it is free. An array that a graph, a gradient or a user keeps is therefore never
overwritten. ``empty`` gives uninitialised memory exactly as ``np.empty``; values computed into
it are bit for bit those computed into a fresh array (same dtype, shape, strides; every array
starts on a 64-byte boundary, staggered within its page, see STAGGER). Each thread has its own
pool; the pool holds at most ``MAX_POOLED_BYTES`` of free blocks, and ``release()`` empties it.

Example:
    >>> a = empty((512, 256), np.float32)
    >>> a.shape, a.dtype
    ((512, 256), dtype('float32'))
    >>> b = empty((512, 256), np.float32)  # a is alive: another block
    >>> np.shares_memory(a, b)
    False
    >>> address = a.ctypes.data
    >>> del a  # nothing refers to its block any more: the next array of its size gets it
    >>> empty((256, 512), np.float32).ctypes.data == address
    True
"""

from __future__ import annotations

import math
import sys
import threading

import numpy as np

__all__ = ["empty", "zeros", "empty_like", "release", "pooled_bytes", "MIN_POOLED_BYTES", "MAX_POOLED_BYTES"]

#: Arrays smaller than this come from np.empty: malloc serves them from heap memory that it keeps
#: (below glibc's initial mmap threshold of 128 KiB), so pooling them would only add bookkeeping.
MIN_POOLED_BYTES = 1 << 17
#: The most free memory the pool of one thread keeps; above it, free blocks are dropped, the largest first.
MAX_POOLED_BYTES = 1 << 28

# Blocks are allocated a page longer than asked, and each array starts at an offset within its
# page that differs from block to block, a multiple of 64 bytes (a cache line): blocks that malloc
# maps fresh all start 16 bytes into a page, and the operands of one ufunc, all at the same page
# offset, then compete for the same cache sets (4K aliasing): cnn-28's step took 15.6 ms, not 14.5.
PAGE = 4096
STAGGER = 11 * 64

_local = threading.local()


def _reference_counts(same_size) -> list:
    """sys.getrefcount of each block of a list, always counted by this one loop (see _FREE_REFCOUNT)."""
    counts = []
    for block in same_size:
        counts.append(sys.getrefcount(block))
    return counts


def _calibrate() -> tuple[int, bool]:
    """What _reference_counts gives for a block that only the pool's list holds, and whether one
    more reference shows as one more count. Measured, not assumed: the count of a name or an
    argument differs between Python versions. If it does not behave, nothing is pooled (a block
    counted free while in use would be overwritten)."""
    block = np.empty(1, dtype=np.uint8)
    pool = [block]
    held = _reference_counts(pool)[0]
    del block
    free = _reference_counts(pool)[0]
    return free, held == free + 1


_FREE_REFCOUNT, _POOLING = _calibrate()


def _blocks() -> dict:
    """This thread's pool: byte size -> the blocks (1-D uint8 arrays) of that size, last handed out last."""
    blocks = getattr(_local, "blocks", None)
    if blocks is None:
        blocks = _local.blocks = {}
        _local.starts = {}
    return blocks


def _take(nbytes: int) -> np.ndarray:
    """``nbytes`` of a block that nothing uses, from the pool or new (then added to the pool)."""
    blocks = _blocks()
    same_size = blocks.setdefault(nbytes, [])
    counts = _reference_counts(same_size)
    # Newest first: the block handed out last is the likeliest to be freed last and still in cache
    # (malloc's free lists are last-in first-out for the same reason).
    for index in range(len(same_size) - 1, -1, -1):
        if counts[index] == _FREE_REFCOUNT:
            block = same_size.pop(index)
            same_size.append(block)
            start = _local.starts[id(block)]
            return block[start:start + nbytes]
    _trim(blocks)
    block = np.empty(nbytes + PAGE, dtype=np.uint8)
    # The n-th block's arrays start n * STAGGER bytes into a page (modulo the page).
    target = len(_local.starts) * STAGGER % PAGE
    start = (target - block.__array_interface__["data"][0]) % PAGE
    _local.starts[id(block)] = start
    same_size.append(block)
    return block[start:start + nbytes]


def _trim(blocks: dict) -> None:
    """Drop free blocks, largest sizes first, until the free ones fit in MAX_POOLED_BYTES."""
    free_flags = {nbytes: [count == _FREE_REFCOUNT for count in _reference_counts(same_size)]
                  for nbytes, same_size in blocks.items()}
    free = sum((nbytes + PAGE) * sum(flags) for nbytes, flags in free_flags.items())
    for nbytes in sorted(blocks, reverse=True):
        if free <= MAX_POOLED_BYTES:
            return
        flags = free_flags[nbytes]
        for block, is_free in zip(blocks[nbytes], flags):
            if is_free:
                del _local.starts[id(block)]
        blocks[nbytes] = [block for block, is_free in zip(blocks[nbytes], flags) if not is_free]
        free -= (nbytes + PAGE) * sum(flags)


def empty(shape, dtype, order="C") -> np.ndarray:
    """An uninitialised array as ``np.empty(shape, dtype, order)``, in a pooled block when it is large.

    Args:
        shape: int or tuple of ints.
        dtype: the array's dtype.
        order: "C" or "F".

    Returns:
        A C- (or F-) contiguous array that no other live array shares memory with.
    """
    dtype = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < MIN_POOLED_BYTES or not _POOLING:
        return np.empty(shape, dtype=dtype, order=order)
    flat = _take(nbytes).view(dtype)
    if order == "F":
        return flat.reshape(shape[::-1]).T
    return flat.reshape(shape)


def zeros(shape, dtype) -> np.ndarray:
    """``np.zeros(shape, dtype)`` in a pooled block when it is large (one fill pass over warm memory)."""
    out = empty(shape, dtype)
    out.fill(0)
    return out


def empty_like(like, dtype=None, shape=None) -> np.ndarray:
    """``np.empty_like(like, dtype, shape=shape)`` (order "K": the axes laid out in memory as like's).

    With ``shape`` (same number of axes as like), the new array's axes follow like's memory order.
    """
    if not isinstance(like, np.ndarray):
        like = np.asarray(like)
    dtype = like.dtype if dtype is None else np.dtype(dtype)
    shape = like.shape if shape is None else tuple(shape)
    if len(shape) != like.ndim or like.flags.c_contiguous:
        return empty(shape, dtype)
    memory_order, inverse = _memory_order(like.strides)
    permuted = empty(tuple(shape[axis] for axis in memory_order), dtype)
    return permuted.transpose(inverse)


def _memory_order(strides) -> tuple:
    """The axes from the largest stride to the smallest (ties in axis order), as NumPy's order "K",
    and the inverse permutation. Plain Python: a pooling step asks for a dozen layouts, and
    np.argsort's call costs more than the sort of four axes."""
    sizes = [-abs(stride) for stride in strides]
    memory_order = sorted(range(len(sizes)), key=sizes.__getitem__)
    inverse = [0] * len(sizes)
    for position, axis in enumerate(memory_order):
        inverse[axis] = position
    return memory_order, inverse


def release() -> None:
    """Drop this thread's free blocks (blocks still in use are dropped from the pool and freed with their arrays)."""
    _blocks().clear()
    _local.starts.clear()


def pooled_bytes() -> int:
    """Bytes of the blocks this thread's pool holds, in use or free (each a page more than its arrays need)."""
    return sum(block.nbytes for same_size in _blocks().values() for block in same_size)
