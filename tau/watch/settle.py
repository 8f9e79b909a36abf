"""When a dropped job file is complete: its size, mtime and inode have not changed for a settle period.

A file written in place (chunk by chunk) is picked up only once it has stopped changing for `settle` seconds: each
observation that differs from the last restarts its clock. A file whose last modification is already `settle` seconds
old (wall clock: the backlog at start, or a file written elsewhere and dropped in by rename) is ready at once.
Writers that pause longer than `settle` between chunks must write to a temp name (`.x.md.tmp`, ignored) and rename;
that is the documented way to drop files. Pure bookkeeping: the caller scans and passes the paths; clocks are injected.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class _Seen:
    signature: tuple[int, int, int]
    ready_at: float  # monotonic time from which the file counts as settled
    order: int


class SettleTracker:
    def __init__(
        self,
        settle: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.settle = settle
        self._clock = clock
        self._wall = wall
        self._seen: dict[Path, _Seen] = {}
        self._order = 0

    def next_ready_in(self) -> float | None:
        """Seconds until the next settling file may be ready (None when none is settling): when to look again."""
        now = self._clock()
        waits = [seen.ready_at - now for seen in self._seen.values() if seen.ready_at > now]
        return min(waits) if waits else None

    def observe(self, paths: Iterable[Path]) -> list[Path]:
        """Record the current state of `paths` (all candidates now present); return the ready ones, oldest first.
        Paths no longer present are forgotten."""
        now, wall = self._clock(), self._wall()
        present: dict[Path, _Seen] = {}
        ready: list[tuple[int, Path]] = []
        for path in paths:
            try:
                stat = os.stat(path)
            except OSError:
                continue
            signature = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
            seen = self._seen.get(path)
            if seen is None or seen.signature != signature:
                self._order += 1
                old_enough = wall - stat.st_mtime >= self.settle
                seen = _Seen(signature, now if old_enough else now + self.settle, self._order)
            present[path] = seen
            if now >= seen.ready_at:
                ready.append((seen.order, path))
        self._seen = present
        return [path for _, path in sorted(ready)]

    def forget(self, path: Path) -> None:
        self._seen.pop(path, None)
