"""One LISTEN connection for every follower of `tau_events` in a process (`EventHub`), instead of one connection
per follower (`events.follow`): a front end with hundreds of open streams holds one listening connection, not
hundreds (Postgres's default `max_connections` is 100).

The hub's task LISTENs on channel `tau_events` and, for each notification `<seq> <session id>`, wakes the followers
of that session. A follower (`follow`) reads rows with `read(session_id, after_seq)` (the store's shared connection)
and waits for a wake-up between reads; it clears its wake-up before each read, and Postgres delivers a notification
after the commit that made the row visible, so an event committed while it reads or yields is never missed; reading
by seq keeps the stream gap-free and ordered whatever notifications are coalesced. Every read waits until the
listener is up (LISTEN before the first read). A lost listening connection wakes every follower (they read again)
and is made again after a second; nothing is lost meanwhile because followers read by seq. With `idle`, a follow
ends once it has caught up and `idle()` is true (one more read first), as `events.follow` does.

A hub belongs to the event loop it was made on (`PgJournalTables` makes one per loop); `close()` ends its task.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from tau.sessions.postgres.schema import EVENTS_CHANNEL

__all__ = ["EventHub"]

Read = Callable[[str, int], list[tuple[int, bytes]]]
RETRY = 1.0  # seconds before a lost listening connection is made again


class EventHub:
    def __init__(self, url: str, read: Read) -> None:
        self.url = url
        self._read = read
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.loop = asyncio.get_running_loop()

    async def follow(
        self, session_id: str, after_seq: int, idle: Callable[[], bool] | None = None
    ) -> AsyncIterator[tuple[int, bytes]]:
        self._start()
        wake = asyncio.Event()
        self._waiters.setdefault(session_id, set()).add(wake)
        try:
            cursor, ending = after_seq, False
            while True:
                await self._up.wait()
                wake.clear()
                for seq, data in self._read(session_id, cursor):
                    cursor = seq
                    yield seq, data
                if ending:
                    return
                if idle is not None and idle():
                    ending = True
                    continue
                await wake.wait()
        finally:
            waiters = self._waiters.get(session_id)
            if waiters is not None:
                waiters.discard(wake)
                if not waiters:
                    del self._waiters[session_id]

    def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(task.cancel)

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = self.loop.create_task(self._listen(), name="tau-events-hub")

    async def _listen(self) -> None:
        import psycopg

        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, application_name="tau follow"
                ) as conn:
                    await conn.execute(f"LISTEN {EVENTS_CHANNEL}")
                    self._up.set()
                    self._wake_all()  # a follower that waited through a reconnect reads again
                    async for notice in conn.notifies():
                        _, _, session_id = notice.payload.partition(" ")
                        for wake in self._waiters.get(session_id, ()):
                            wake.set()
            except psycopg.Error:
                pass
            self._up.clear()
            self._wake_all()
            await asyncio.sleep(RETRY)

    def _wake_all(self) -> None:
        for waiters in self._waiters.values():
            for wake in waiters:
                wake.set()
