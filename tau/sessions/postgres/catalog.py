"""`PgCatalog`: the catalog port (tau.sessions.catalog_port) in the Postgres store's database, so every front end,
worker and CLI that opens the same `postgres://` URL sees the same presets, labels, mail and background agents.

Tables (created with `IF NOT EXISTS` by the first connection of a process, under the schema creators' advisory lock;
the same columns and row types as the SQLite catalog, tau.sessions.catalog):

    tau_presets  (name, version) PK, spec, created     versions 1, 2, 3, ... of a name; never updated
    tau_labels   (session_id, key) PK, value
    tau_mail     id bigserial PK, (session_id, seq) UNIQUE, sender, kind, body, created, delivered ('' = pending)
    tau_agents   session_id PK, parent_session_id, depth, agent, state, created

Mail posts NOTIFY channel `tau_mail` with the session id (in the posting transaction: announced at commit);
`mail_posted()` follows the channel (the port's optional `MailWatch`), so a front end hears of mail another process
wrote without waiting for its poll.

Concurrency (several processes on several machines): every write is one transaction. A preset write takes the
transaction-scoped advisory lock `tau.preset:<name>` before it reads the latest version, so two updates of one name
run one after the other: with the same `expected_version` one gets the new version and the other a `stale`
`PresetConflict`, never two equal versions (the primary key is the backstop: a unique violation is a conflict too).
A mail post takes `tau.mail:<session>` the same way before it reads `MAX(seq)`. Text columns use `COLLATE "C"`, so
listings sort as SQLite's do. Timestamps are the SQLite catalog's ISO text (`created` of version 1 is `first`).

One connection per catalog (autocommit; made again when it was lost), serialized by a lock: calls are synchronous
and short, as the SQLite catalog's. A write the database refuses is `PgStoreWriteError` (exit 1), naming the shown URL;
a write on a lost connection fails the same way (it may or may not have committed: never retried), a read is made
once more on a new connection.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tau.sessions.catalog import MAIL_KINDS, AgentRow, MailRow, PresetConflict, PresetRow, now_text
from tau.sessions.postgres.schema import connect, shown, write_errors

if TYPE_CHECKING:
    import psycopg

    Conn = psycopg.Connection[tuple[Any, ...]]

__all__ = ["CATALOG_SCHEMA", "MAIL_CHANNEL", "PgCatalog"]

MAIL_CHANNEL = "tau_mail"  # NOTIFY payload: the session id a message was posted for

CATALOG_SCHEMA = """
CREATE TABLE IF NOT EXISTS tau_presets (
    name text COLLATE "C" NOT NULL,
    version integer NOT NULL,
    spec text NOT NULL,
    created text NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS tau_labels (
    session_id text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    value text COLLATE "C" NOT NULL,
    PRIMARY KEY (session_id, key)
);
CREATE INDEX IF NOT EXISTS tau_labels_by_key ON tau_labels (key, value);
CREATE TABLE IF NOT EXISTS tau_mail (
    id bigserial PRIMARY KEY,
    session_id text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    sender text NOT NULL,
    kind text NOT NULL,
    body text NOT NULL,
    created text NOT NULL,
    delivered text NOT NULL DEFAULT '',
    UNIQUE (session_id, seq)
);
CREATE INDEX IF NOT EXISTS tau_mail_pending ON tau_mail (session_id) WHERE delivered = '';
CREATE TABLE IF NOT EXISTS tau_agents (
    session_id text COLLATE "C" PRIMARY KEY,
    parent_session_id text COLLATE "C" NOT NULL,
    depth integer NOT NULL,
    agent text NOT NULL,
    state text NOT NULL,
    created text NOT NULL
);
CREATE INDEX IF NOT EXISTS tau_agents_by_parent ON tau_agents (parent_session_id, state);
"""

_SCHEMA_LOCK = 7246543  # the schema creators' advisory lock (the store's, tau.sessions.postgres.store)
_MAIL_COLUMNS = "id, session_id, seq, sender, kind, body, created, delivered"
_AGENT_COLUMNS = "session_id, parent_session_id, depth, agent, state"


_PRESET = (
    "SELECT name, version, spec, created, (SELECT MIN(created) FROM tau_presets f WHERE f.name = %s) FROM tau_presets"
)
_LATEST = f"{_PRESET} WHERE name = %s ORDER BY version DESC LIMIT 1"  # args: (name, name)
_VERSION = f"{_PRESET} WHERE name = %s AND version = %s"  # args: (name, name, version)


def _preset(row: tuple[Any, ...]) -> PresetRow:
    return PresetRow(str(row[0]), int(row[1]), str(row[2]), str(row[3]), str(row[4]))


def _mail(row: tuple[Any, ...]) -> MailRow:
    return MailRow(int(row[0]), str(row[1]), int(row[2]), *(str(v) for v in row[3:8]))


def _agent(row: tuple[Any, ...]) -> AgentRow:
    return AgentRow(str(row[0]), str(row[1]), int(row[2]), str(row[3]), str(row[4]))


def _lock(conn: Conn, what: str, key: str) -> None:
    """This transaction's advisory lock on `what:key` (released at commit or rollback)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s || %s, 0))", (f"tau.{what}:", key))


class PgCatalog:
    """Presets, labels, mail and background agents in the database at `url` (`postgres://…`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = shown(url)  # what names the catalog in messages (the SQLite catalog's `path`)
        self._lock = threading.Lock()
        self._conn: Conn | None = None
        with self._lock:
            self._connection()

    def __repr__(self) -> str:
        return f"PgCatalog({self.path!r})"

    def _connection(self) -> Conn:
        """The catalog's connection (made, and the tables created, on first use or after it was lost)."""
        if self._conn is None or self._conn.closed:
            conn = connect(self.url, application_name="tau catalog")
            with write_errors(self.path), conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                conn.execute(CATALOG_SCHEMA)
            self._conn = conn
        return self._conn

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _read(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """One query's rows; a read on a connection that turns out lost is made once more on a new one."""
        import psycopg

        with self._lock:
            conn = self._connection()
            try:
                return conn.execute(sql, tuple(args)).fetchall()
            except psycopg.OperationalError:
                if not conn.closed:
                    raise
            return self._connection().execute(sql, tuple(args)).fetchall()

    # -- presets ---------------------------------------------------------------------------------------------------

    def create_preset(self, name: str, spec: str) -> PresetRow:
        """Version 1 of a new preset (PresetConflict `exists` when the name is taken)."""
        import psycopg

        now = now_text()
        with self._lock, write_errors(self.path):
            conn = self._connection()
            try:
                with conn.transaction():
                    _lock(conn, "preset", name)
                    cursor = conn.execute(
                        "INSERT INTO tau_presets VALUES (%s, 1, %s, %s) ON CONFLICT DO NOTHING", (name, spec, now)
                    )
                    if cursor.rowcount != 1:
                        raise PresetConflict(f"preset {name!r} already exists: update it instead", kind="exists")
            except psycopg.errors.UniqueViolation:
                raise PresetConflict(f"preset {name!r} already exists: update it instead", kind="exists") from None
        return PresetRow(name, 1, spec, now, now)

    def update_preset(self, name: str, spec: str, *, expected_version: int | None = None) -> PresetRow:
        """A new version of `name` (PresetConflict `missing`, or `stale` when `expected_version` is not the latest
        or another writer added the same version first)."""
        import psycopg

        now = now_text()
        with self._lock, write_errors(self.path):
            conn = self._connection()
            try:
                with conn.transaction():
                    _lock(conn, "preset", name)
                    latest = self._latest(conn, name)
                    if latest is None:
                        raise PresetConflict(f"no preset named {name!r}", kind="missing")
                    if expected_version is not None and expected_version != latest.version:
                        raise PresetConflict(
                            f"preset {name!r} is at version {latest.version}, not {expected_version}: get it again "
                            "and re-apply the edit",
                            kind="stale",
                        )
                    version = latest.version + 1
                    conn.execute("INSERT INTO tau_presets VALUES (%s, %s, %s, %s)", (name, version, spec, now))
            except psycopg.errors.UniqueViolation:
                raise PresetConflict(f"preset {name!r} changed meanwhile: get it again", kind="stale") from None
        return PresetRow(name, version, spec, now, latest.first)

    def preset(self, name: str, version: int | None = None) -> PresetRow | None:
        """That version of `name` (None: the latest), or None."""
        rows = self._read(_LATEST, (name, name)) if version is None else self._read(_VERSION, (name, name, version))
        return _preset(rows[0]) if rows else None

    def presets(self) -> list[PresetRow]:
        """The latest version of every preset, by name."""
        rows = self._read(
            "SELECT DISTINCT ON (name) name, version, spec, created, "
            "(SELECT MIN(created) FROM tau_presets f WHERE f.name = p.name) "
            "FROM tau_presets p ORDER BY name, version DESC"
        )
        return [_preset(row) for row in rows]

    def delete_preset(self, name: str) -> int:
        """Delete every version of `name`; how many there were (0: no such preset)."""
        with self._lock, write_errors(self.path):
            conn = self._connection()
            with conn.transaction():
                _lock(conn, "preset", name)
                return conn.execute("DELETE FROM tau_presets WHERE name = %s", (name,)).rowcount

    @staticmethod
    def _latest(conn: Conn, name: str) -> PresetRow | None:
        row = conn.execute(_LATEST, (name, name)).fetchone()
        return None if row is None else _preset(row)

    # -- labels ----------------------------------------------------------------------------------------------------

    def set_labels(self, session_id: str, labels: Mapping[str, str]) -> None:
        """Set labels of a session; an empty value removes that label."""
        with self._lock, write_errors(self.path):
            conn = self._connection()
            with conn.transaction():
                for key, value in labels.items():
                    if value:
                        conn.execute(
                            "INSERT INTO tau_labels VALUES (%s, %s, %s) "
                            "ON CONFLICT (session_id, key) DO UPDATE SET value = EXCLUDED.value",
                            (session_id, key, value),
                        )
                    else:
                        conn.execute("DELETE FROM tau_labels WHERE session_id = %s AND key = %s", (session_id, key))

    def labels(self, session_id: str) -> dict[str, str]:
        rows = self._read("SELECT key, value FROM tau_labels WHERE session_id = %s ORDER BY key", (session_id,))
        return {str(key): str(value) for key, value in rows}

    def all_labels(self) -> dict[str, dict[str, str]]:
        """Labels of every labelled session."""
        found: dict[str, dict[str, str]] = {}
        for session_id, key, value in self._read("SELECT session_id, key, value FROM tau_labels ORDER BY 1, 2"):
            found.setdefault(str(session_id), {})[str(key)] = str(value)
        return found

    def forget_session(self, session_ids: Iterable[str]) -> None:
        """Drop what the catalog holds for deleted sessions (their labels, mail and agent rows)."""
        ids = list(session_ids)
        with self._lock, write_errors(self.path):
            conn = self._connection()
            with conn.transaction():
                for table in ("tau_labels", "tau_mail", "tau_agents"):
                    conn.execute(f"DELETE FROM {table} WHERE session_id = ANY(%s)", (ids,))

    # -- mail ------------------------------------------------------------------------------------------------------

    def post_mail(self, session_id: str, *, sender: str, kind: str, body: str) -> MailRow:
        """Append one message to the session's mailbox (undelivered)."""
        if kind not in MAIL_KINDS:
            raise ValueError(f"unknown mail kind {kind!r}")
        now = now_text()
        with self._lock, write_errors(self.path):
            conn = self._connection()
            with conn.transaction():
                _lock(conn, "mail", session_id)
                row = conn.execute(
                    "INSERT INTO tau_mail (session_id, seq, sender, kind, body, created) "
                    "SELECT %s, COALESCE(MAX(seq), 0) + 1, %s, %s, %s, %s FROM tau_mail WHERE session_id = %s "
                    "RETURNING id, seq",
                    (session_id, sender, kind, body, now, session_id),
                ).fetchone()
                conn.execute("SELECT pg_notify(%s, %s)", (MAIL_CHANNEL, session_id))  # delivered at commit
        assert row is not None  # INSERT ... RETURNING of one row
        return MailRow(int(row[0]), session_id, int(row[1]), sender, kind, body, now, "")

    async def mail_posted(self) -> AsyncIterator[str]:
        """The session id of each message posted from now on, by any process (LISTEN on its own connection; a
        notification arrives after the row is committed). Ends when the consumer stops; a lost connection raises."""
        import psycopg

        conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True, application_name="tau mail listen")
        async with conn:
            await conn.execute(f"LISTEN {MAIL_CHANNEL}")
            async for notice in conn.notifies():
                yield notice.payload

    def mail(self, session_id: str, *, pending_only: bool = False) -> list[MailRow]:
        """The session's mail, oldest first (only the undelivered with `pending_only`)."""
        where = " AND delivered = ''" if pending_only else ""
        sql = f"SELECT {_MAIL_COLUMNS} FROM tau_mail WHERE session_id = %s{where} ORDER BY seq"
        return [_mail(row) for row in self._read(sql, (session_id,))]

    def sessions_with_pending_mail(self) -> list[str]:
        """Every session that has undelivered mail (a restarted server delivers it), oldest mail first."""
        rows = self._read("SELECT session_id FROM tau_mail WHERE delivered = '' GROUP BY session_id ORDER BY MIN(id)")
        return [str(row[0]) for row in rows]

    def mark_delivered(self, ids: Iterable[int]) -> list[int]:
        """Record that these messages were handed to a run; the ids that were still pending (one statement: of
        two front ends delivering the same mail, each message goes to one of them)."""
        numbers, now = list(ids), now_text()
        with self._lock, write_errors(self.path):
            rows = self._connection().execute(
                "UPDATE tau_mail SET delivered = %s WHERE id = ANY(%s) AND delivered = '' RETURNING id", (now, numbers)
            )
            claimed = {int(row[0]) for row in rows.fetchall()}
        return [number for number in numbers if number in claimed]

    # -- background agents -----------------------------------------------------------------------------------------

    def add_agent(self, session_id: str, parent_session_id: str, *, depth: int, agent: str) -> AgentRow:
        with self._lock, write_errors(self.path):
            self._connection().execute(
                "INSERT INTO tau_agents VALUES (%s, %s, %s, %s, 'running', %s) ON CONFLICT (session_id) DO UPDATE SET "
                "parent_session_id = EXCLUDED.parent_session_id, depth = EXCLUDED.depth, agent = EXCLUDED.agent, "
                "state = EXCLUDED.state, created = EXCLUDED.created",
                (session_id, parent_session_id, depth, agent, now_text()),
            )
        return AgentRow(session_id, parent_session_id, depth, agent, "running")

    def agent(self, session_id: str) -> AgentRow | None:
        rows = self._read(f"SELECT {_AGENT_COLUMNS} FROM tau_agents WHERE session_id = %s", (session_id,))
        return _agent(rows[0]) if rows else None

    def agents(self, *, parent_session_id: str | None = None, state: str | None = None) -> list[AgentRow]:
        """Background agents, oldest first (of one parent, in one state, when given)."""
        query, args = f"SELECT {_AGENT_COLUMNS} FROM tau_agents WHERE true", list[str]()
        if parent_session_id is not None:
            query, args = query + " AND parent_session_id = %s", [*args, parent_session_id]
        if state is not None:
            query, args = query + " AND state = %s", [*args, state]
        return [_agent(row) for row in self._read(query + " ORDER BY created, session_id", args)]

    def set_agent_state(self, session_id: str, state: str) -> None:
        with self._lock, write_errors(self.path):
            self._connection().execute("UPDATE tau_agents SET state = %s WHERE session_id = %s", (state, session_id))
