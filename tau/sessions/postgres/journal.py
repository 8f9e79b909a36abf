"""The serve journal's tables in Postgres (`PgJournalTables`): what `tau serve` keeps to restart with its sessions —
each session's record (opaque bytes: `registry.session_record` as JSON) in `tau_serve_sessions`, and its events in
`tau_events` (events.py: appended with NOTIFY, so front ends elsewhere can follow them).

One server per database at a time: `lock()` takes the advisory lock `tau.serve` on a connection of its own (freed
when that server's connection ends, SIGKILL included); a second server gets PreflightError. Bytes in, bytes out:
tau.rpc parses them (tau.sessions knows no protobuf).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from tau.errors import PreflightError
from tau.sessions.postgres import events
from tau.sessions.postgres.locks import holder_pid
from tau.sessions.postgres.schema import connect, lock_key_sql

if TYPE_CHECKING:
    import psycopg

    from tau.sessions.postgres.store import PostgresSessionStore

__all__ = ["PgJournalTables"]

_LOCK_NAME = "/serve"  # never a session id (ids cannot hold "/"): its own advisory key


class PgJournalTables:
    def __init__(self, store: PostgresSessionStore) -> None:
        self.store = store
        self._lock: psycopg.Connection[tuple[Any, ...]] | None = None

    @property
    def where(self) -> str:
        return f"{self.store.shown_url} (tau_serve_sessions)"

    def lock(self) -> None:
        """Take the database's serve lock for this process (PreflightError naming the holder when another has it)."""
        import os

        self.store.conn()  # the schema exists
        conn = connect(self.store.url, application_name=f"tau pid {os.getpid()}")
        row = conn.execute(f"SELECT pg_try_advisory_lock({lock_key_sql()})", (_LOCK_NAME,)).fetchone()
        if row != (True,):
            holder = holder_pid(conn, _LOCK_NAME)
            conn.close()
            who = f"pid {holder}" if holder is not None else "another process"
            raise PreflightError(f"another tau serve ({who}) is using the session store {self.store.shown_url}")
        self._lock = conn

    def unlock(self) -> None:
        conn, self._lock = self._lock, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

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

    def load(self) -> list[tuple[str, bytes, list[tuple[int, bytes]]]]:
        """Every session's record and its events (oldest first), by session id."""
        rows = self.store.query(
            lambda conn: conn.execute(
                "SELECT session_id, record FROM tau_serve_sessions ORDER BY session_id"
            ).fetchall()
        )
        return [
            (str(session_id), bytes(record), self.store.query(events.since, str(session_id), 0))
            for session_id, record in rows
        ]
