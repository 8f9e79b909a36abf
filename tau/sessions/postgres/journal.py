"""The serve journal's tables in Postgres (`PgJournalTables`): what `tau serve` front ends keep to share their
sessions — each session's record (opaque bytes: `registry.session_record` as JSON) in `tau_serve_sessions`, and its
events in `tau_events` (events.py: appended with NOTIFY, so front ends elsewhere follow them without polling; every
follower of this process shares one listening connection: hub.EventHub).

Several front ends per database. A front end owns a session while it holds the session's serve lock: the
session-level advisory lock `tau.session:/serve/<id>` (never a session's own write lock: ids hold no "/") on the
front end's own connection (`open()` makes it, `close()` ends it and with it every lock it holds; the server frees
them when the process dies, SIGKILL included). `claim(id)` takes the lock without waiting (False when another live
front end holds it), `release(id)` gives it back. Advisory locks count re-entries: callers claim a session once.
Ordinals (listing order across front ends) come from the sequence `tau_serve_ordinal`.

Bytes in, bytes out: tau.rpc parses them (tau.sessions knows no protobuf). `running()` reads the record's JSON
`status` field in SQL (`convert_from(record, 'UTF8')::jsonb`), the one place the record's shape is read here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from tau.sessions.postgres import events
from tau.sessions.postgres.hub import EventHub
from tau.sessions.postgres.locks import holder_pid
from tau.sessions.postgres.schema import connect, lock_key_sql

if TYPE_CHECKING:
    import psycopg

    from tau.sessions.postgres.store import PostgresSessionStore

__all__ = ["PgJournalTables"]

Row = tuple[str, bytes, list[tuple[int, bytes]]]
_RECORD = "convert_from(s.record, 'UTF8')::jsonb"
_VIEWS = f"""
SELECT s.session_id, s.record, e.seq, e.data FROM tau_serve_sessions s
LEFT JOIN tau_events e ON e.session_id = s.session_id AND e.seq > ({_RECORD}->>'last_seq')::bigint
WHERE %s::text IS NULL OR s.session_id = %s ORDER BY s.session_id, e.seq
"""

_KEY = lock_key_sql("'/serve/' || s.session_id")
_ORPHANS = f"""
SELECT s.session_id FROM tau_serve_sessions s
WHERE {_RECORD}->>'status' = 'SESSION_STATUS_RUNNING' AND NOT EXISTS (
    SELECT 1 FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid::bigint = (({_KEY}) >> 32) & 4294967295 AND l.objid::bigint = ({_KEY}) & 4294967295)
"""

_CATCH_UP_ORDINALS = """
SELECT setval('tau_serve_ordinal', t.m) FROM (
    SELECT max((convert_from(record, 'UTF8')::jsonb->>'ordinal')::bigint) AS m FROM tau_serve_sessions) t
WHERE t.m IS NOT NULL
  AND t.m > (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM tau_serve_ordinal)
"""


def _owner_key(session_id: str) -> str:
    return f"/serve/{session_id}"


class PgJournalTables:
    def __init__(self, store: PostgresSessionStore) -> None:
        self.store = store
        self._owner: psycopg.Connection[tuple[Any, ...]] | None = None
        self._hub: EventHub | None = None

    @property
    def where(self) -> str:
        return f"{self.store.shown_url} (tau_serve_sessions)"

    def open(self) -> None:
        """Make this front end's ownership connection (application name `tau pid N`, as the session locks')."""
        self.store.conn()  # the schema exists
        self._owner = connect(self.store.url, application_name=f"tau pid {os.getpid()}")
        self.store.query(lambda conn: conn.execute(_CATCH_UP_ORDINALS))  # records an older tau numbered itself

    def close(self) -> None:
        if self._hub is not None:
            self._hub.close()
            self._hub = None
        conn, self._owner = self._owner, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.execute("SELECT pg_advisory_unlock_all()")  # the server ends a closed connection's locks later
            with contextlib.suppress(Exception):
                conn.close()

    def claim(self, session_id: str) -> bool:
        """Take the session's serve lock for this front end; False when another front end holds it."""
        if self._owner is None:
            raise RuntimeError("the serve journal is not open")
        row = self._owner.execute(f"SELECT pg_try_advisory_lock({lock_key_sql()})", (_owner_key(session_id),))
        return row.fetchone() == (True,)

    def holder(self, session_id: str) -> int | None:
        """The pid of the front end holding the session's serve lock (from its connection's application name)."""
        result: int | None = self.store.query(holder_pid, _owner_key(session_id))
        return result

    def release(self, session_id: str) -> None:
        if self._owner is not None:
            with contextlib.suppress(Exception):
                self._owner.execute(f"SELECT pg_advisory_unlock({lock_key_sql()})", (_owner_key(session_id),))

    def next_ordinal(self) -> int:
        row = self.store.query(lambda conn: conn.execute("SELECT nextval('tau_serve_ordinal')").fetchone())
        return int(row[0])

    def save(self, session_id: str, record: bytes) -> None:
        self.store.query(
            lambda conn: conn.execute(
                "INSERT INTO tau_serve_sessions (session_id, record) VALUES (%s, %s) ON CONFLICT (session_id)"
                " DO UPDATE SET record = excluded.record, updated = now()",
                (session_id, record),
            )
        )

    def append(self, session_id: str, seq: int, raw: bytes) -> None:
        self.store.query(events.append, session_id, seq, raw)

    def trim(self, session_id: str, first_kept: int) -> None:
        """Drop the session's events before seq `first_kept` (its bounded log no longer holds them)."""
        self.store.query(
            lambda conn: conn.execute(
                "DELETE FROM tau_events WHERE session_id = %s AND seq < %s", (session_id, first_kept)
            )
        )

    def remove(self, session_id: str) -> None:
        def delete(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
            with conn.transaction():
                conn.execute("DELETE FROM tau_serve_sessions WHERE session_id = %s", (session_id,))
                conn.execute("DELETE FROM tau_events WHERE session_id = %s", (session_id,))

        self.store.query(delete)

    def exists(self, session_id: str) -> bool:
        sql = "SELECT EXISTS (SELECT 1 FROM tau_serve_sessions WHERE session_id = %s)"
        return bool(self.store.query(lambda conn: conn.execute(sql, (session_id,)).fetchone()) == (True,))

    def load(self, session_id: str | None = None) -> list[Row]:
        """Every session's record and its events (oldest first), by session id; or the one session's."""
        sql = "SELECT session_id, record FROM tau_serve_sessions WHERE %s::text IS NULL OR session_id = %s"
        rows = self.store.query(
            lambda conn: conn.execute(sql + " ORDER BY session_id", (session_id, session_id)).fetchall()
        )
        return [(str(found), bytes(record), self.store.query(events.since, str(found), 0)) for found, record in rows]

    def views(self, session_id: str | None = None) -> list[Row]:
        """Every session's record (or the one session's) with only its events after the record's `last_seq` (what
        a front end that does not own it needs to show it as it is now), in one query."""
        rows = self.store.query(lambda conn: conn.execute(_VIEWS, (session_id, session_id)).fetchall())
        found: dict[str, Row] = {}
        for sid, record, seq, data in rows:
            entry = found.setdefault(str(sid), (str(sid), bytes(record), []))
            if seq is not None:
                entry[2].append((int(seq), bytes(data)))
        return list(found.values())

    def running(self) -> list[str]:
        """The sessions whose record shows a run in progress and whose serve lock nobody holds (their owner is gone;
        a claim still decides: the lock may be taken between this read and the claim)."""
        return [str(sid) for (sid,) in self.store.query(lambda conn: conn.execute(_ORPHANS).fetchall())]

    def bounds(self, session_id: str) -> tuple[int, int]:
        """The first and last seq of the session's events in the table ((0, 0) when none)."""
        sql = "SELECT coalesce(min(seq), 0), coalesce(max(seq), 0) FROM tau_events WHERE session_id = %s"
        row = self.store.query(lambda conn: conn.execute(sql, (session_id,)).fetchone())
        return int(row[0]), int(row[1])

    def follow(
        self, session_id: str, after_seq: int, idle: Callable[[], bool] | None = None
    ) -> AsyncIterator[tuple[int, bytes]]:
        """The session's events after `after_seq`, then each new one (LISTEN/NOTIFY through this process's one
        listening connection: hub.EventHub)."""
        hub = self._hub
        if hub is None or hub.loop is not asyncio.get_running_loop():
            if hub is not None:
                hub.close()
            hub = self._hub = EventHub(self.store.url, lambda sid, after: self.store.query(events.since, sid, after))
        return hub.follow(session_id, after_seq, idle)
