"""Giving the C allocator's free memory back to the system after a run of `tau serve`: `release_free_memory()`.

Why: a run of a long session loads its whole history (decoded in the store's worker threads, encoded again for the
model request) and frees it when it ends; glibc keeps the freed chunks in its heaps — one arena per thread that
allocated, the store's `asyncio.to_thread` workers included — and a server's RSS then follows the high-water mark of
ever longer histories, not what it holds. Measured with `bench/serve_soak.py` (600 runs on one session, allocator
statistics from `mallinfo2`): live C-heap memory grew 0.2 MB per 100 runs while the free memory glibc kept grew
~3 MB per 100 runs; `malloc_trim(0)` after each run kept RSS within ~1 MB per 100 runs (MALLOC_ARENA_MAX=2 alone:
2.5 MB per 100 runs), at 0.15-0.5 ms per call (heap of 30-50 MB; the worst seen 5 ms), on the event loop.

`malloc_trim(0)` returns the top of every arena and the whole free pages inside them (`madvise(MADV_DONTNEED)`);
nothing live moves. It exists in glibc only: elsewhere (musl, macOS) `release_free_memory` does nothing and returns
False. Resolved once, through the symbols already loaded in the process (`ctypes.CDLL(None)`), so the frozen binary
finds it too.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache

__all__ = ["release_free_memory"]


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        process = ctypes.CDLL(None)
    except OSError:
        return None
    trim = getattr(process, "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


def release_free_memory() -> bool:
    """Return the allocator's free memory to the system (glibc `malloc_trim(0)`); False where there is no such call."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
