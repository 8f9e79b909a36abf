"""A session's bounded event log (`EventLog`) in `tau serve`: what `Run` and `StreamEvents` follow and replay.

Invariants:
- `seq` is assigned by `append`: 1, 2, 3, ... per session, never reused; the retained events are contiguous in seq
  (the oldest is `last_seq - len + 1`), so an event is found by arithmetic, not by search;
- the log keeps the last `capacity` events; a reader asking for dropped ones gets `LogGap` (OUT_OF_RANGE upstream);
- events are kept serialized (`bytes`, the wire form the serve journal writes too) and parsed when read: an upb
  message holds its own arena, about five times the serialized size (measured: ~10 KB per run of nine events against
  ~2 KB serialized), and a long-lived server keeps every session's log (`bench/serve_soak.py`);
- readers never poll: `append` wakes every waiter through a one-shot "pulse" event that is replaced on each append.
Everything runs on the server's one event loop.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence

from tau.rpc._gen import runtime_pb2 as pb

__all__ = ["EventLog", "LogGap"]


class LogGap(Exception):
    """Events a reader asked for were dropped from the bounded log."""


class EventLog:
    """`on_append` sees every event as it is appended, serialized (the serve journal); `restored` events (contiguous
    in seq, oldest first) come back from it."""

    def __init__(
        self,
        capacity: int,
        *,
        on_append: Callable[[bytes], None] | None = None,
        restored: Sequence[pb.RunResponse] = (),
        last_seq: int = 0,
    ) -> None:
        kept = list(restored)[-capacity:] if capacity > 0 else []
        if any(later.seq != earlier.seq + 1 for earlier, later in itertools.pairwise(kept)):
            raise ValueError("restored events must be contiguous in seq")
        if kept and kept[-1].seq < last_seq:
            raise ValueError(f"restored events end at seq {kept[-1].seq}, before the last seq {last_seq}")
        self._items: deque[bytes] = deque((item.SerializeToString() for item in kept), maxlen=capacity)
        self.last_seq = max(last_seq, kept[-1].seq if kept else 0)
        self._pulse = asyncio.Event()
        self.closed = False
        self._on_append = on_append

    def __len__(self) -> int:
        return len(self._items)

    @property
    def first_seq(self) -> int:
        """seq of the oldest retained event (last_seq + 1 when the log is empty)."""
        return self.last_seq - len(self._items) + 1

    def append(self, build: Callable[[int], pb.RunResponse]) -> pb.RunResponse:
        """Add the event `build(seq)` makes for the next seq, and wake the readers."""
        self.last_seq += 1
        item = build(self.last_seq)
        raw = item.SerializeToString()
        self._items.append(raw)
        if self._on_append is not None:
            self._on_append(raw)
        self._wake()
        return item

    def close(self) -> None:
        """Wake every reader for good (server shutdown)."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        pulse, self._pulse = self._pulse, asyncio.Event()
        pulse.set()

    def since(self, after_seq: int) -> list[pb.RunResponse]:
        """The retained events after `after_seq`, oldest first (LogGap when some of them were dropped)."""
        if after_seq >= self.last_seq:
            return []
        first = self.first_seq
        if after_seq < first - 1:
            raise LogGap(f"events {after_seq + 1}..{first - 1} were dropped from the bounded event log; "
                         f"the oldest retained is {first} (resume with after_seq={first - 1})")  # fmt: skip
        start = after_seq - first + 1
        return [pb.RunResponse.FromString(self._items[i]) for i in range(start, len(self._items))]

    async def follow(
        self,
        after_seq: int,
        *,
        stop_after: Callable[[pb.RunResponse], bool],
        done: Callable[[], bool],
    ) -> AsyncIterator[pb.RunResponse]:
        """Events after `after_seq`, then live ones; ends after an event for which `stop_after` is true, or when
        caught up and `done()` (or the log is closed)."""
        cursor = after_seq
        while True:
            pulse = self._pulse
            for item in self.since(cursor):
                yield item
                cursor = item.seq
                if stop_after(item):
                    return
            if done() or self.closed:
                return
            await pulse.wait()
