"""The session index: `<state>/index.sqlite` (aiosqlite), one row per session, derived from refs and objects.

The store is the truth; the index is a cache for `tau sessions ls`. Rows are upserted when a session begins, is forked
and is closed (not per commit: a connection per step cost 2.4 ms of it), so a running or crashed session's row is behind
its ref. `FileSessionStore.list_sessions` compares the index's heads with the refs and refreshes stale rows before
answering, and `reindex` rebuilds every row from refs and objects alone. `session_info` is the single function that
turns store data into a row, used by both paths, so an incremental index and a rebuilt one are equal.

When the database cannot be written at all (a full disk, a read-only state dir), `filter_infos` answers the same
query over rows computed from the store, so `tau sessions ls` still lists what the refs hold.

Status: a row's status is its head snapshot's, except that a head a run leaves only while it is still going
(`created`, `running`) is shown `running` while a process holds the session's write lock (a run in its first step
has a `created` head: it is running all the same) and `interrupted` when none does: its writer is gone (killed,
crashed, or its store could not be written). Nothing is written to the store for it — every committed step
is intact and `tau resume` continues from the head; `tau sessions fsck` explains it. The lock changes without the
head moving, so rows in `UNSETTLED` statuses are recomputed at every listing (and at start-up of `tau run` and
`tau serve`, `FileSessionStore.settle_interrupted`).

Each operation opens its own short-lived connection (WAL, busy timeout) so no background thread outlives a call and
several tau processes can share one index. Writes are not fsynced (synchronous=OFF): the index is derived, and
a damaged database is deleted and rebuilt by `list_sessions`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import astuple, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from tau.sessions.snapshot import Snapshot

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    model TEXT,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    turns INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    cost REAL,
    parent TEXT,
    head TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_updated ON sessions(updated);
"""
_TITLE_MAX = 100
INTERRUPTED = "interrupted"
RUNNING = "running"
UNFINISHED = frozenset({"created", "running"})  # head statuses a run leaves only while it is still going
UNSETTLED = UNFINISHED | {INTERRUPTED}  # row statuses that change when a writer starts or dies, not only on commit


@dataclass(frozen=True)
class SessionInfo:
    """One row of the index: what `tau sessions ls` shows."""

    id: str
    title: str
    status: str
    model: str | None
    created: str
    updated: str
    turns: int
    tokens: int
    cost: float | None
    parent: str | None  # the snapshot this session was forked from
    head: str


@dataclass(frozen=True)
class SessionFilter:
    """Filters of `list_sessions`; None means "any".

    `since` keeps sessions updated at or after it (a naive datetime is local time; a string is compared as ISO 8601
    UTC); `model` matches a substring of `provider:name`; `status` is exact.
    """

    status: str | None = None
    since: datetime | str | None = None
    model: str | None = None
    limit: int | None = None


def title_of(config: Mapping[str, Any]) -> str:
    """The first non-empty line of the run's prompt, shortened."""
    prompt = config.get("prompt")
    for line in str(prompt or "").splitlines():
        if line.strip():
            text = line.strip()
            return text if len(text) <= _TITLE_MAX else text[: _TITLE_MAX - 1] + "…"
    return ""


def model_of(config: Mapping[str, Any]) -> str | None:
    model = config.get("model")
    if isinstance(model, Mapping) and model.get("name"):
        provider = model.get("provider")
        return f"{provider}:{model['name']}" if provider else str(model["name"])
    return str(model) if model else None


def session_info(
    session_id: str,
    head_id: str,
    head: Snapshot,
    root: Snapshot,
    *,
    title: str,
    model: str | None,
    writer_gone: bool = False,
) -> SessionInfo:
    """The row of a session; `writer_gone`: no process holds its write lock (an unfinished head is `interrupted`,
    else `running`)."""
    totals = head.totals
    tokens = totals.get("total_tokens") or totals.get("input_tokens", 0) + totals.get("output_tokens", 0)
    cost = totals.get("cost_usd")
    return SessionInfo(
        id=session_id,
        title=title,
        status=(INTERRUPTED if writer_gone else RUNNING) if head.status in UNFINISHED else head.status,
        model=model,
        created=root.created,
        updated=head.created,
        turns=int(totals.get("turns", 0)),
        tokens=int(tokens),
        cost=None if cost is None else float(cost),
        parent=root.parents[0] if root.parents else None,
        head=head_id,
    )


def _since_text(since: datetime | str) -> str:
    return since.astimezone(UTC).isoformat() if isinstance(since, datetime) else since


def filter_infos(infos: Iterable[SessionInfo], where: SessionFilter | None = None) -> list[SessionInfo]:
    """`SessionIndex.query` over rows in memory (same filters, order and limit; `model` is matched ignoring ASCII
    case, as SQL LIKE does)."""
    where = where or SessionFilter()
    rows = [
        info
        for info in infos
        if (not where.status or info.status == where.status)
        and (not where.model or where.model.lower() in (info.model or "").lower())
        and (where.since is None or info.updated >= _since_text(where.since))
    ]
    rows.sort(key=lambda info: info.id)
    rows.sort(key=lambda info: info.updated, reverse=True)
    return rows if where.limit is None else rows[: max(where.limit, 0)]


_COLUMNS = ", ".join(f.name for f in fields(SessionInfo))
_PLACEHOLDERS = ", ".join("?" for _ in fields(SessionInfo))


class SessionIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False

    async def _connect(self) -> aiosqlite.Connection:
        db = await aiosqlite.connect(self.path, timeout=10.0)
        try:
            await db.execute("PRAGMA synchronous=OFF")  # derived data: rebuilt on damage, never fsynced
            if not self._ready:
                await db.execute("PRAGMA journal_mode=WAL")
                await db.executescript(_SCHEMA)
                self._ready = True
        except BaseException:
            await db.close()
            raise
        return db

    def reset(self) -> None:
        """Delete the database files (a damaged index); the next call recreates the schema."""
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{self.path}{suffix}").unlink()
        self._ready = False

    async def upsert(self, info: SessionInfo) -> None:
        await self.upsert_many([info])

    async def upsert_many(self, infos: Iterable[SessionInfo]) -> None:
        rows = [astuple(info) for info in infos]
        if not rows:
            return
        db = await self._connect()
        try:
            await db.executemany(f"INSERT OR REPLACE INTO sessions ({_COLUMNS}) VALUES ({_PLACEHOLDERS})", rows)
            await db.commit()
        finally:
            await db.close()

    async def delete(self, session_ids: Iterable[str]) -> None:
        ids = [(session_id,) for session_id in session_ids]
        if not ids:
            return
        db = await self._connect()
        try:
            await db.executemany("DELETE FROM sessions WHERE id = ?", ids)
            await db.commit()
        finally:
            await db.close()

    async def replace_all(self, infos: Iterable[SessionInfo]) -> None:
        rows = [astuple(info) for info in infos]
        db = await self._connect()
        try:
            await db.execute("DELETE FROM sessions")
            await db.executemany(f"INSERT INTO sessions ({_COLUMNS}) VALUES ({_PLACEHOLDERS})", rows)
            await db.commit()
        finally:
            await db.close()

    async def heads(self) -> dict[str, str]:
        return {session_id: head for session_id, (head, _) in (await self.states()).items()}

    async def states(self) -> dict[str, tuple[str, str]]:
        """Every row's (head, status), by session id."""
        db = await self._connect()
        try:
            rows = await db.execute_fetchall("SELECT id, head, status FROM sessions")
        finally:
            await db.close()
        return {str(row[0]): (str(row[1]), str(row[2])) for row in rows}

    async def unsettled(self) -> list[str]:
        """Ids of the rows whose status is in `UNSETTLED` (they may have changed without a commit)."""
        marks = ", ".join("?" for _ in UNSETTLED)
        db = await self._connect()
        try:
            rows = await db.execute_fetchall(f"SELECT id FROM sessions WHERE status IN ({marks})", sorted(UNSETTLED))
        finally:
            await db.close()
        return sorted(str(row[0]) for row in rows)

    async def query(self, where: SessionFilter | None = None) -> list[SessionInfo]:
        where = where or SessionFilter()
        clauses: list[str] = []
        params: list[Any] = []
        if where.status:
            clauses.append("status = ?")
            params.append(where.status)
        if where.model:
            clauses.append("model LIKE ?")
            params.append(f"%{where.model}%")
        if where.since is not None:
            clauses.append("updated >= ?")
            params.append(_since_text(where.since))
        sql = f"SELECT {_COLUMNS} FROM sessions"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY updated DESC, id"
        if where.limit is not None:
            sql += " LIMIT ?"
            params.append(where.limit)
        db = await self._connect()
        try:
            rows = await db.execute_fetchall(sql, params)
        finally:
            await db.close()
        return [SessionInfo(*row) for row in rows]
