"""glibc malloc tuning for the hot path.

Eager PyTorch on CPU frees and re-allocates the same large activations every frame; with glibc's
default dynamic mmap threshold each of those becomes an mmap/munmap pair and thousands of page
faults per frame (measured: see ARCHITECTURE.md). Raising the mmap threshold and disabling trimming
keeps the freed blocks in the heap so the next frame reuses them. 32 MiB is the largest mmap
threshold glibc accepts on 64-bit.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def tune_glibc_malloc(mmap_threshold: int = 32 << 20, trim_threshold: int = 1 << 30) -> bool:
    """Apply the tuning; returns False (and changes nothing) where glibc isn't the allocator."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok_mmap = mallopt(_M_MMAP_THRESHOLD, min(mmap_threshold, 2**31 - 1))
    ok_trim = mallopt(_M_TRIM_THRESHOLD, min(trim_threshold, 2**31 - 1))
    return bool(ok_mmap and ok_trim)
