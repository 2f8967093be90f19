"""The queue's process keeps the memory it frees for the next buffers (glibc's malloc).

An artifact upload passes about 400 buffers of 256 KiB per 100 MiB through the process: made
by the event loop as the body arrives, freed by the worker threads once written and hashed. By
default glibc gives the free memory at the top of the heap back to the system as soon as it
exceeds twice the largest block freed so far (and maps larger blocks on their own, over a
threshold that moves): with a few MiB in flight, freed in bursts, nearly every buffer was
faulted in and zeroed again, ~7,000 page faults per 100 MiB and a fifth of the event loop's
CPU of an upload. With the thresholds fixed, freed buffers are reused; free memory beyond
TRIM_THRESHOLD_BYTES at the top of a heap is still given back, and blocks from
MMAP_THRESHOLD_BYTES up are still mapped and unmapped on their own.
"""

from __future__ import annotations

import ctypes

__all__ = ["MMAP_THRESHOLD_BYTES", "TRIM_THRESHOLD_BYTES", "keep_freed_memory"]

# glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
TRIM_THRESHOLD_BYTES = 32 << 20
MMAP_THRESHOLD_BYTES = 4 << 20


def keep_freed_memory() -> bool:
    """Fix glibc's thresholds for this process; False where they cannot be set (not glibc)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
