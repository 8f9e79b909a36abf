"""Dropping cancelled timers from the server's event loop, so that a finished run leaves nothing behind in it.

Why: asyncio keeps a cancelled `TimerHandle` in the loop's heap until its time comes, or until cancelled handles are
more than half of more than 100 scheduled ones; a handle keeps the `contextvars.Context` it was scheduled in. A run
schedules timers in its own context (pydantic-ai's current `RunContext`, with the run's whole message history;
anyio cancel scopes for the provider's 600 s request timeout), cancels them when the awaited thing finishes, and its
history then stays reachable through them for up to ten minutes — measured: the last ~10-100 runs' histories,
which for one long session grows with every run (tens of MB per 100 runs).

`drop_cancelled_timers(loop)` removes the cancelled handles at once, exactly as the loop's own clean-up in
`BaseEventLoop._run_once` does (same attributes, same heap rebuild). It touches CPython's private loop attributes,
so it checks that they are there and does nothing on a loop without them (uvloop frees cancelled timers itself).
The service calls it after each run's final event; it costs O(scheduled timers).
"""

from __future__ import annotations

import asyncio
import heapq
from typing import Any

__all__ = ["drop_cancelled_timers"]


def drop_cancelled_timers(loop: asyncio.AbstractEventLoop) -> int:
    """Remove the cancelled timers of a CPython asyncio loop from its heap; how many were removed."""
    scheduled: Any = getattr(loop, "_scheduled", None)
    cancelled = getattr(loop, "_timer_cancelled_count", None)
    if not isinstance(scheduled, list) or not isinstance(cancelled, int) or cancelled <= 0:
        return 0
    live: list[asyncio.TimerHandle] = []
    dropped = 0
    for handle in scheduled:
        if handle.cancelled():
            handle._scheduled = False  # as BaseEventLoop._run_once does for the handles it drops
            dropped += 1
        else:
            live.append(handle)
    heapq.heapify(live)
    loop._scheduled = live  # type: ignore[attr-defined]
    loop._timer_cancelled_count = 0  # type: ignore[attr-defined]
    return dropped
