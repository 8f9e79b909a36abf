"""The store's catalog: `<state>/catalog.sqlite`, the session store's database of primary data (not derived).
The file store's implementation of the catalog port (tau.sessions.catalog_port); a Postgres store keeps the same
tables in its database (tau.sessions.postgres.catalog). The row types and `PresetConflict` below are the port's.

Tables (all primary data: nothing rebuilds them, `tau sessions reindex` leaves them alone, `SessionIndex.reset`
never touches this file):
- `presets(name, version, spec, created)`: named, versioned agent configurations. A version is never rewritten;
  UpdatePreset adds `version + 1`; DeletePreset removes every version of a name. `spec` is an opaque JSON document
  (the RPC layer's `PresetSpec` in proto JSON); this module does not read it.
- `labels(session_id, key, value)`: free-form labels of sessions, whoever ran them (`tau run`, `tau serve`).

- `mail(id, session_id, seq, sender, kind, body, created, delivered)`: every session's mailbox (issue #17 item 3).
  `seq` counts 1, 2, 3, ... per session; `kind` is one of `MAIL_KINDS`; `delivered` is empty until the mail was
  handed to a run (a continuation's prompt, or injected at a step boundary), then the time it was. `forget_session`
  deletes a deleted session's mail with its labels.
- `agents(session_id, parent_session_id, depth, agent, state, created)`: background agents (issue #17 item 3), one
  row per child session; `state` is `running` until its mail reached the parent, then `reported`. A server that
  starts and finds `running` rows whose run is not in progress reports them failed (the previous server died).

Invariants: names are checked by the caller (`PRESET_NAME`); writes are transactions with `synchronous=FULL` (this
is primary data: an acknowledged preset survives a crash of the machine); versions of one name are 1, 2, 3, ...
without reuse while the name exists. One connection per `Catalog`, serialized by a lock, so the server's event loop
and the CLI may share the file with other processes (WAL, busy timeout). Calls are synchronous and short (one small
row); an `:memory:` catalog serves a server without a state dir.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "MAIL_KINDS",
    "PRESET_NAME",
    "AgentRow",
    "Catalog",
    "MailRow",
    "PresetConflict",
    "PresetRow",
    "catalog_path",
    "now_text",
]

MAIL_KINDS = ("message", "agent_completed", "agent_question", "agent_failed")

PRESET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_FILE = "catalog.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS presets (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    spec TEXT NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS labels (
    session_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (session_id, key)
);
CREATE INDEX IF NOT EXISTS labels_by_key ON labels(key, value);
CREATE TABLE IF NOT EXISTS mail (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sender TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    created TEXT NOT NULL,
    delivered TEXT NOT NULL DEFAULT '',
    UNIQUE (session_id, seq)
);
CREATE INDEX IF NOT EXISTS mail_pending ON mail(delivered, session_id);
CREATE TABLE IF NOT EXISTS agents (
    session_id TEXT PRIMARY KEY,
    parent_session_id TEXT NOT NULL,
    depth INTEGER NOT NULL,
    agent TEXT NOT NULL,
    state TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS agents_by_parent ON agents(parent_session_id, state);
"""


def catalog_path(state_dir: Path) -> Path:
    return state_dir / _FILE


def now_text() -> str:
    """Now as the catalog writes it (ISO 8601, milliseconds, `Z`): both catalogs store this text."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class PresetRow:
    """One version of a preset. `created` is when this version was written, `first` when version 1 was."""

    name: str
    version: int
    spec: str
    created: str
    first: str


@dataclass(frozen=True)
class MailRow:
    """One message of a session's mailbox (`delivered` empty: not yet handed to a run)."""

    id: int
    session_id: str
    seq: int
    sender: str
    kind: str
    body: str
    created: str
    delivered: str


@dataclass(frozen=True)
class AgentRow:
    """A background agent: its session, its parent, its depth (1 under a top-level session), its state."""

    session_id: str
    parent_session_id: str
    depth: int
    agent: str
    state: str


_MAIL_COLUMNS = "id, session_id, seq, sender, kind, body, created, delivered"


def _mail(row: tuple[object, ...]) -> MailRow:
    return MailRow(int(str(row[0])), str(row[1]), int(str(row[2])), *(str(v) for v in row[3:8]))


class PresetConflict(Exception):
    """A write that does not fit the preset's versions: the name exists (create), is missing (update), or the
    edit was made from an older version than the latest (a stale edit)."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind  # exists | missing | stale


class Catalog:
    """Presets and labels in `path` (`catalog_path(state_dir)`, or ":memory:")."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        if isinstance(path, Path):
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), timeout=10.0, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            if path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- presets ---------------------------------------------------------------------------------------------------

    def create_preset(self, name: str, spec: str) -> PresetRow:
        """Version 1 of a new preset (PresetConflict `exists` when the name is taken)."""
        with self._lock, self._transaction():
            if self._latest(name) is not None:
                raise PresetConflict(f"preset {name!r} already exists: update it instead", kind="exists")
            now = now_text()
            self._db.execute("INSERT INTO presets VALUES (?, 1, ?, ?)", (name, spec, now))
            return PresetRow(name, 1, spec, now, now)

    def update_preset(self, name: str, spec: str, *, expected_version: int | None = None) -> PresetRow:
        """A new version of `name` (PresetConflict `missing`, or `stale` when `expected_version` is not the latest)."""
        with self._lock, self._transaction():
            latest = self._latest(name)
            if latest is None:
                raise PresetConflict(f"no preset named {name!r}", kind="missing")
            if expected_version is not None and expected_version != latest.version:
                raise PresetConflict(
                    f"preset {name!r} is at version {latest.version}, not {expected_version}: get it again and "
                    "re-apply the edit",
                    kind="stale",
                )
            now = now_text()
            version = latest.version + 1
            self._db.execute("INSERT INTO presets VALUES (?, ?, ?, ?)", (name, version, spec, now))
            return PresetRow(name, version, spec, now, latest.first)

    def preset(self, name: str, version: int | None = None) -> PresetRow | None:
        """That version of `name` (None: the latest), or None."""
        with self._lock:
            if version is None:
                return self._latest(name)
            row = self._db.execute(
                "SELECT name, version, spec, created FROM presets WHERE name = ? AND version = ?", (name, version)
            ).fetchone()
            return (
                None
                if row is None
                else PresetRow(str(row[0]), int(row[1]), str(row[2]), str(row[3]), self._first(name))
            )

    def presets(self) -> list[PresetRow]:
        """The latest version of every preset, by name."""
        with self._lock:
            rows = self._db.execute(
                "SELECT p.name, p.version, p.spec, p.created, "
                "(SELECT MIN(created) FROM presets f WHERE f.name = p.name) FROM presets p "
                "WHERE p.version = (SELECT MAX(version) FROM presets l WHERE l.name = p.name) ORDER BY p.name"
            ).fetchall()
        return [PresetRow(*row) for row in rows]

    def delete_preset(self, name: str) -> int:
        """Delete every version of `name`; how many there were (0: no such preset)."""
        with self._lock, self._transaction():
            return self._db.execute("DELETE FROM presets WHERE name = ?", (name,)).rowcount

    # -- labels ----------------------------------------------------------------------------------------------------

    def set_labels(self, session_id: str, labels: Mapping[str, str]) -> None:
        """Set labels of a session; an empty value removes that label."""
        with self._lock, self._transaction():
            for key, value in labels.items():
                if value:
                    self._db.execute("INSERT OR REPLACE INTO labels VALUES (?, ?, ?)", (session_id, key, value))
                else:
                    self._db.execute("DELETE FROM labels WHERE session_id = ? AND key = ?", (session_id, key))

    def labels(self, session_id: str) -> dict[str, str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, value FROM labels WHERE session_id = ? ORDER BY key", (session_id,)
            ).fetchall()
        return {str(key): str(value) for key, value in rows}

    def all_labels(self) -> dict[str, dict[str, str]]:
        """Labels of every labelled session."""
        with self._lock:
            rows = self._db.execute("SELECT session_id, key, value FROM labels ORDER BY session_id, key").fetchall()
        found: dict[str, dict[str, str]] = {}
        for session_id, key, value in rows:
            found.setdefault(str(session_id), {})[str(key)] = str(value)
        return found

    def forget_session(self, session_ids: Iterable[str]) -> None:
        """Drop what the catalog holds for deleted sessions (their labels, mail and agent rows)."""
        ids = [(sid,) for sid in session_ids]
        with self._lock, self._transaction():
            self._db.executemany("DELETE FROM labels WHERE session_id = ?", ids)
            self._db.executemany("DELETE FROM mail WHERE session_id = ?", ids)
            self._db.executemany("DELETE FROM agents WHERE session_id = ?", ids)

    # -- mail ------------------------------------------------------------------------------------------------------

    def post_mail(self, session_id: str, *, sender: str, kind: str, body: str) -> MailRow:
        """Append one message to the session's mailbox (undelivered)."""
        if kind not in MAIL_KINDS:
            raise ValueError(f"unknown mail kind {kind!r}")
        with self._lock, self._transaction():
            row = self._db.execute("SELECT MAX(seq) FROM mail WHERE session_id = ?", (session_id,)).fetchone()
            seq = int(row[0] or 0) + 1
            now = now_text()
            cursor = self._db.execute(
                "INSERT INTO mail (session_id, seq, sender, kind, body, created) VALUES (?, ?, ?, ?, ?, ?)",
                (session_id, seq, sender, kind, body, now),
            )
            return MailRow(int(cursor.lastrowid or 0), session_id, seq, sender, kind, body, now, "")

    def mail(self, session_id: str, *, pending_only: bool = False) -> list[MailRow]:
        """The session's mail, oldest first (only the undelivered with `pending_only`)."""
        where = " AND delivered = ''" if pending_only else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_MAIL_COLUMNS} FROM mail WHERE session_id = ?{where} ORDER BY seq", (session_id,)
            ).fetchall()
        return [_mail(row) for row in rows]

    def sessions_with_pending_mail(self) -> list[str]:
        """Every session that has undelivered mail (a restarted server delivers it)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT session_id FROM mail WHERE delivered = '' GROUP BY session_id ORDER BY MIN(id)"
            ).fetchall()
        return [str(row[0]) for row in rows]

    def mark_delivered(self, ids: Iterable[int]) -> list[int]:
        """Record that these messages were handed to a run; the ids that were still pending (a message another
        process delivered first is not this caller's to deliver)."""
        now, claimed = now_text(), []
        with self._lock, self._transaction():
            for mid in ids:
                cursor = self._db.execute("UPDATE mail SET delivered = ? WHERE id = ? AND delivered = ''", (now, mid))
                if cursor.rowcount == 1:
                    claimed.append(mid)
        return claimed

    # -- background agents -----------------------------------------------------------------------------------------

    def add_agent(self, session_id: str, parent_session_id: str, *, depth: int, agent: str) -> AgentRow:
        with self._lock, self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO agents VALUES (?, ?, ?, ?, 'running', ?)",
                (session_id, parent_session_id, depth, agent, now_text()),
            )
        return AgentRow(session_id, parent_session_id, depth, agent, "running")

    def agent(self, session_id: str) -> AgentRow | None:
        with self._lock:
            row = self._db.execute(
                "SELECT session_id, parent_session_id, depth, agent, state FROM agents WHERE session_id = ?",
                (session_id,),
            ).fetchone()
        return None if row is None else AgentRow(str(row[0]), str(row[1]), int(row[2]), str(row[3]), str(row[4]))

    def agents(self, *, parent_session_id: str | None = None, state: str | None = None) -> list[AgentRow]:
        """Background agents, oldest first (of one parent, in one state, when given)."""
        query = "SELECT session_id, parent_session_id, depth, agent, state FROM agents WHERE 1 = 1"
        args: list[str] = []
        if parent_session_id is not None:
            query, args = query + " AND parent_session_id = ?", [*args, parent_session_id]
        if state is not None:
            query, args = query + " AND state = ?", [*args, state]
        with self._lock:
            rows = self._db.execute(query + " ORDER BY created, session_id", args).fetchall()
        return [AgentRow(str(r[0]), str(r[1]), int(r[2]), str(r[3]), str(r[4])) for r in rows]

    def set_agent_state(self, session_id: str, state: str) -> None:
        with self._lock, self._transaction():
            self._db.execute("UPDATE agents SET state = ? WHERE session_id = ?", (state, session_id))

    # -- internals -------------------------------------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _first(self, name: str) -> str:
        row = self._db.execute("SELECT MIN(created) FROM presets WHERE name = ?", (name,)).fetchone()
        return str(row[0]) if row and row[0] else ""

    def _latest(self, name: str) -> PresetRow | None:
        row = self._db.execute(
            "SELECT name, version, spec, created FROM presets WHERE name = ? ORDER BY version DESC LIMIT 1", (name,)
        ).fetchone()
        return None if row is None else PresetRow(str(row[0]), int(row[1]), str(row[2]), str(row[3]), self._first(name))


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on an error): one writer at a time across processes."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")
