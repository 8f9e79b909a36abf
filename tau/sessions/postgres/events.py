"""A session's events in Postgres (`tau_events`), and following them from any machine without polling.

`append(conn, session_id, seq, data)` inserts one event (opaque bytes: the serve front end's serialized
`RunResponse`) with the seq its event log assigned, and `pg_notify('tau_events', '<seq> <session id>')` in the same
transaction: Postgres delivers the notification at commit, after the row is visible, and in commit order. A seq
already present is refused by the primary key (no duplicates).

`follow(url, session_id, after_seq)` opens its own connection, LISTENs first, then reads the rows after `after_seq`,
then waits for notifications and reads again after the last seq it yielded: an event committed between the read and
the wait is announced by a notification already queued, so nothing is missed; reading by seq (never trusting the
payload alone) makes the stream gap-free and ordered even when notifications are coalesced or the follower
reconnects with the last seq it saw. With `idle`, the follow ends once it has caught up and `idle()` is true:
it reads once more after that answer (an event committed just before it is still yielded), then returns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from tau.sessions.postgres.schema import EVENTS_CHANNEL, shown

if TYPE_CHECKING:
    import psycopg

__all__ = ["append", "follow", "since"]

_SINCE = "SELECT seq, data FROM tau_events WHERE session_id = %s AND seq > %s ORDER BY seq"


def append(conn: psycopg.Connection[tuple[Any, ...]], session_id: str, seq: int, data: bytes) -> None:
    with conn.transaction():
        conn.execute("INSERT INTO tau_events (session_id, seq, data) VALUES (%s, %s, %s)", (session_id, seq, data))
        conn.execute("SELECT pg_notify(%s, %s)", (EVENTS_CHANNEL, f"{seq} {session_id}"))


def since(conn: psycopg.Connection[tuple[Any, ...]], session_id: str, after_seq: int) -> list[tuple[int, bytes]]:
    return [(int(seq), bytes(data)) for seq, data in conn.execute(_SINCE, (session_id, after_seq)).fetchall()]


async def follow(
    url: str, session_id: str, after_seq: int = 0, *, idle: Callable[[], bool] | None = None
) -> AsyncIterator[tuple[int, bytes]]:
    import psycopg

    from tau.errors import PreflightError

    try:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True, application_name="tau follow")
    except psycopg.Error:
        raise PreflightError(f"cannot connect to the session store {shown(url)} to follow {session_id}") from None
    async with conn:
        await conn.execute(f"LISTEN {EVENTS_CHANNEL}")
        cursor = after_seq
        ending = False
        while True:
            rows = await (await conn.execute(_SINCE, (session_id, cursor))).fetchall()
            for seq, data in rows:
                cursor = int(seq)
                yield cursor, bytes(data)
            if ending:
                return
            if idle is not None and idle():
                ending = True
                continue
            async for notice in conn.notifies():
                seq_text, _, notified = notice.payload.partition(" ")
                if notified == session_id and seq_text.isdigit() and int(seq_text) > cursor:
                    break
