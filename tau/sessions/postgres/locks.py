"""Per-session write locks in Postgres: a session-level advisory lock held by a connection of its own.

`PgSessionLock.acquire` opens a connection (application name `tau pid <pid>`) and takes
`pg_try_advisory_lock(key)` on it, where `key` is `hashtextextended('tau.session:' || id, 0)`: a 64-bit key, so two
session ids collide with negligible probability. Locks never wait: a second writer (another process on any machine,
or another store object in this one) fails at once with `SessionLockedError` naming the holder's pid from its
application name. `release` unlocks (so the session is free when it returns), then closes the connection. The
server frees the lock when the holder's connection ends, a SIGKILLed writer included (the
kernel closes its socket). Every write of an open session goes through the lock's connection, so a writer whose
connection was lost cannot move the session's head: its commit fails with the connection.

`is_held` reads `pg_locks` (read-only: taking and dropping a shared lock, as the file store does, would make a
writer starting at that moment fail).
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from tau.errors import RunError
from tau.sessions.errors import SessionLockedError
from tau.sessions.postgres.schema import connect, lock_key_sql

if TYPE_CHECKING:
    import psycopg

__all__ = ["PgSessionLock", "PgSessionLockedError", "is_held"]

_HOLDER = re.compile(r"tau pid (\d+)")
_HOLDERS_SQL = f"""
SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.database = (
    SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid::bigint = (({lock_key_sql()}) >> 32) & 4294967295
  AND l.objid::bigint = ({lock_key_sql()}) & 4294967295
"""


class PgSessionLockedError(SessionLockedError):
    """`SessionLockedError` for a Postgres store: names the holder's pid, and the lock as what it is."""

    def __init__(self, session_id: str, holder_pid: int | None) -> None:
        holder = f"pid {holder_pid}" if holder_pid is not None else "another process"
        RunError.__init__(self, f"session {session_id} is locked by {holder} (a Postgres advisory lock)")
        self.session_id = session_id
        self.holder_pid = holder_pid
        self.lock_path = Path(f"postgres-advisory-lock/{session_id}")


class PgSessionLock:
    """An acquired, exclusive lock on one session, and the connection that holds it. `release()` is idempotent."""

    def __init__(self, session_id: str, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        self.session_id = session_id
        self._conn: psycopg.Connection[tuple[object, ...]] | None = conn

    @classmethod
    def acquire(cls, url: str, session_id: str) -> PgSessionLock:
        conn = connect(url, application_name=f"tau pid {os.getpid()}")
        try:
            row = conn.execute(f"SELECT pg_try_advisory_lock({lock_key_sql()})", (session_id,)).fetchone()
            if row is None or row[0] is not True:
                raise PgSessionLockedError(session_id, holder_pid(conn, session_id))
        except BaseException:
            conn.close()
            raise
        return cls(session_id, conn)

    @property
    def held(self) -> bool:
        return self._conn is not None and not self._conn.closed

    @property
    def conn(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._conn is None:
            raise RuntimeError(f"the lock on session {self.session_id} was released")
        return self._conn

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # unlock first: the server ends a closed connection's lock later
                conn.execute(f"SELECT pg_advisory_unlock({lock_key_sql()})", (self.session_id,))
            with contextlib.suppress(Exception):  # closing the connection frees the lock in any case
                conn.close()


def holder_pid(conn: psycopg.Connection[tuple[object, ...]], session_id: str) -> int | None:
    """The pid of the tau process holding `session_id`'s lock (from its connection's application name)."""
    for (name,) in conn.execute(_HOLDERS_SQL, (session_id, session_id)).fetchall():
        found = _HOLDER.fullmatch(str(name))
        if found:
            return int(found.group(1))
    return None


def is_held(conn: psycopg.Connection[tuple[object, ...]], session_id: str) -> bool:
    """Whether a live connection holds `session_id`'s write lock."""
    return bool(conn.execute(f"SELECT EXISTS ({_HOLDERS_SQL})", (session_id, session_id)).fetchone() == (True,))
