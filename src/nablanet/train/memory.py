"""The old home of keep_freed_memory and mmapped_bytes, now in nablanet.runtime with the other process-wide switches."""

from nablanet.runtime import keep_freed_memory, mmapped_bytes

__all__ = ["keep_freed_memory", "mmapped_bytes"]
