"""The Postgres store's tables, its connections, and how a store URL is told apart and shown.

Tables (created with `IF NOT EXISTS` by the first connection of a process; no migrations yet, `version` 1):

    tau_objects   id text COLLATE "C" PK (sha256 hex), data bytea (the canonical bytes, exactly what a file
                  store keeps in objects/ab/cdef…), created timestamptz (freshened by a put that dedups: gc's grace)
    tau_sessions  id PK, head (the ref: the head snapshot id), and the index row derived from the objects (title,
                  head_status, model, created, updated, turns, tokens, cost, parent); moved in the same transaction
                  as the objects a commit adds, so the index is never behind its ref
    tau_events    (session_id, seq) PK, data bytea, created: a session's events, appended by the serve front end
                  with the seqs its event log assigns; every insert NOTIFYs channel `tau_events` with `<seq> <id>`
    tau_serve_sessions  session_id PK, record (the serve journal's `session.json` bytes): `tau serve`'s RPC state
    tau_serve_ordinal   a sequence: the listing order of sessions, shared by the front ends of one database

Primary data: `tau_objects`, `tau_sessions.id/head` (the refs), `tau_events` and `tau_serve_sessions`; every other
column of `tau_sessions` is derived and `reindex` recomputes it from the objects.

Connections: psycopg 3, autocommit. A store URL is `postgres://` or `postgresql://` (libpq's URI). `shown(url)` is
the URL with its userinfo and credential-like query values masked (tau.redact): the only form of a store URL that
goes into an error, a notice or an event.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from tau.errors import ConfigError, PreflightError, RunError
from tau.redact import Redactor
from tau.sessions.errors import StoreWriteError

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "EVENTS_CHANNEL",
    "SCHEMA",
    "PgStoreWriteError",
    "connect",
    "is_store_url",
    "lock_key_sql",
    "shown",
    "write_errors",
]

SCHEMES = ("postgres://", "postgresql://")
EVENTS_CHANNEL = "tau_events"

SCHEMA = """
CREATE TABLE IF NOT EXISTS tau_objects (
    id text COLLATE "C" PRIMARY KEY,
    data bytea NOT NULL,
    created timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS tau_sessions (
    id text COLLATE "C" PRIMARY KEY,
    head text COLLATE "C" NOT NULL,
    title text NOT NULL DEFAULT '',
    head_status text NOT NULL,
    model text,
    created text NOT NULL,
    updated text NOT NULL,
    turns integer NOT NULL DEFAULT 0,
    tokens bigint NOT NULL DEFAULT 0,
    cost double precision,
    parent text
);
CREATE INDEX IF NOT EXISTS tau_sessions_updated ON tau_sessions (updated);
CREATE TABLE IF NOT EXISTS tau_events (
    session_id text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    data bytea NOT NULL,
    created timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, seq)
);
CREATE TABLE IF NOT EXISTS tau_serve_sessions (
    session_id text COLLATE "C" PRIMARY KEY,
    record bytea NOT NULL,
    updated timestamptz NOT NULL DEFAULT now()
);
CREATE SEQUENCE IF NOT EXISTS tau_serve_ordinal;
"""


def lock_key_sql(param: str = "%s") -> str:
    """The SQL of a session's advisory lock key (a bigint) from its id."""
    return f"hashtextextended('tau.session:' || {param}, 0)"


def is_store_url(value: str | None) -> bool:
    return bool(value) and str(value).startswith(SCHEMES)


def shown(url: str) -> str:
    """`url` as it may be printed: userinfo (`user:password@`) and credential-like query values masked."""
    return Redactor().text(url)


def _password_of(url: str) -> str:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password or ""
    except ValueError:
        return ""


def connect(url: str, *, application_name: str = "tau") -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection to the store at `url`: ConfigError (exit 2) for a URL that is not Postgres's,
    PreflightError (exit 3) naming the shown URL when the server cannot be reached (the driver's message is redacted
    too: it never carries the password)."""
    import psycopg

    if not is_store_url(url):
        raise ConfigError(f"not a Postgres URL: {shown(url)}", source="--store")
    try:
        return psycopg.connect(url, autocommit=True, application_name=application_name, connect_timeout=10)
    except psycopg.Error as error:
        redactor = Redactor().with_values([_password_of(url)])
        detail = redactor.text(" ".join(str(error).split()))
        raise PreflightError(f"cannot connect to the session store {shown(url)}: {detail}") from None


@contextlib.contextmanager
def write_errors(where: str) -> Iterator[None]:
    """A write that the database refuses or loses (its connection gone, the server restarting) is a
    `StoreWriteError` naming the store's shown URL (exit 1, reason session_write_failed): nothing of the transaction
    became visible. Errors tau raises inside (ConfigError, CorruptObjectError) pass through."""
    import psycopg

    try:
        yield
    except psycopg.Error as error:
        detail = Redactor().text(" ".join(str(error).split())) or type(error).__name__
        raise PgStoreWriteError(where, detail) from None


class PgStoreWriteError(StoreWriteError):
    """`StoreWriteError` for a Postgres store: names the store by its shown URL (not a file path)."""

    def __init__(self, where: str, detail: str) -> None:
        RunError.__init__(self, f"cannot write session store {where}: {detail}")
        self.path = Path(where)
        self.errno = errno.EIO
