"""`tau sessions ls` over `tau_sessions`: the rows, filtered, ordered and limited in SQL, with the status computed at
query time — a `created`/`running` head reads `running` while a connection holds the session's advisory lock
(pg_locks), `interrupted` when none does — so nothing has to be settled after a writer dies.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tau.sessions.index import INTERRUPTED, RUNNING, UNFINISHED, SessionFilter, SessionInfo
from tau.sessions.postgres.schema import lock_key_sql

if TYPE_CHECKING:
    import psycopg

__all__ = ["list_rows", "unsettled_rows"]

_HELD = f"""EXISTS (
    SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid::bigint = (({lock_key_sql("s.id")}) >> 32) & 4294967295
      AND l.objid::bigint = ({lock_key_sql("s.id")}) & 4294967295)"""
_ROWS = f"""
SELECT * FROM (
    SELECT s.id, s.title,
           CASE WHEN s.head_status = ANY(%(unfinished)s)
                THEN CASE WHEN {_HELD} THEN '{RUNNING}' ELSE '{INTERRUPTED}' END
                ELSE s.head_status END AS status,
           s.model, s.created, s.updated, s.turns, s.tokens, s.cost, s.parent, s.head
    FROM tau_sessions s
) AS rows
"""


def list_rows(conn: psycopg.Connection[tuple[Any, ...]], where: SessionFilter | None) -> list[SessionInfo]:
    """`SessionIndex.query` (same filters, order and limit; `model` matched ignoring case, as SQLite's LIKE)."""
    where = where or SessionFilter()
    clauses: list[str] = []
    params: dict[str, Any] = {"unfinished": sorted(UNFINISHED)}
    if where.status:
        clauses.append("status = %(status)s")
        params["status"] = where.status
    if where.model:
        clauses.append("model ILIKE %(model)s")
        params["model"] = "%" + where.model.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if where.since is not None:
        clauses.append("updated >= %(since)s")
        since = where.since
        params["since"] = since.astimezone(UTC).isoformat() if isinstance(since, datetime) else since
    sql = _ROWS + (" WHERE " + " AND ".join(clauses) if clauses else "") + ' ORDER BY updated DESC, id COLLATE "C"'
    if where.limit is not None:
        sql += " LIMIT %(limit)s"
        params["limit"] = max(where.limit, 0)
    return [SessionInfo(*row) for row in conn.execute(sql, params).fetchall()]


def unsettled_rows(conn: psycopg.Connection[tuple[Any, ...]]) -> list[SessionInfo]:
    """The rows whose head is unfinished (running or interrupted), by id."""
    sql = _ROWS + " WHERE status IN (%(running)s, %(interrupted)s) ORDER BY id"
    params = {"unfinished": sorted(UNFINISHED), "running": RUNNING, "interrupted": INTERRUPTED}
    return [SessionInfo(*row) for row in conn.execute(sql, params).fetchall()]
