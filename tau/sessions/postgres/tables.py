"""SQL over the Postgres store's tables (schema.py): objects in and out (hash-verified), refs and index rows, the
first-parent chain of a snapshot in one query. Functions over a psycopg connection; no state.

Invariants: an object row holds the canonical bytes its id hashes to (`put` never rewrites data: an existing id only
has its `created` freshened, gc's grace); every read verifies the hash, so a damaged row surfaces as
`CorruptObjectError` naming `tau_objects/<id>`; a ref moves only by compare-and-set on the head it replaces.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tau.sessions.errors import CorruptObjectError
from tau.sessions.index import SessionInfo
from tau.sessions.objects import digest

if TYPE_CHECKING:
    import psycopg

    Conn = psycopg.Connection[tuple[Any, ...]]

__all__ = [
    "delete_ref",
    "get_many",
    "get_object",
    "insert_ref",
    "move_ref",
    "object_path",
    "put_objects",
    "read_ref",
    "ref_heads",
    "snapshot_chain_ids",
    "upsert_rows",
]

_COLUMNS = "id, head, title, head_status, model, created, updated, turns, tokens, cost, parent"


def object_path(object_id: str) -> Path:
    """What names an object in messages: `tau_objects/<id>` (the table and the row)."""
    return Path("tau_objects") / object_id


def verified(object_id: str, data: bytes) -> bytes:
    if hashlib.sha256(data).hexdigest() != object_id:
        raise CorruptObjectError(object_path(object_id), f"hash mismatch ({len(data)} bytes stored)")
    return data


def put_objects(conn: Conn, blobs: Iterable[bytes]) -> list[str]:
    """Store each blob once (by its sha256); return their ids in order."""
    rows = [(digest(data), data) for data in blobs]
    if rows:
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO tau_objects (id, data) VALUES (%s, %s) ON CONFLICT (id) DO UPDATE SET created = now()",
                rows,
            )
    return [object_id for object_id, _ in rows]


def get_object(conn: Conn, object_id: str) -> bytes:
    row = conn.execute("SELECT data FROM tau_objects WHERE id = %s", (object_id,)).fetchone()
    if row is None:
        raise CorruptObjectError(object_path(object_id), "object is missing")
    return verified(object_id, bytes(row[0]))


def get_many(conn: Conn, object_ids: Sequence[str]) -> dict[str, bytes]:
    """The objects of `object_ids`, verified; CorruptObjectError for the first missing one."""
    rows = conn.execute("SELECT id, data FROM tau_objects WHERE id = ANY(%s)", (list(object_ids),)).fetchall()
    found = {str(object_id): verified(str(object_id), bytes(data)) for object_id, data in rows}
    for object_id in object_ids:
        if object_id not in found:
            raise CorruptObjectError(object_path(object_id), "object is missing")
    return found


def existing(conn: Conn, object_ids: Sequence[str]) -> set[str]:
    rows = conn.execute("SELECT id FROM tau_objects WHERE id = ANY(%s)", (list(object_ids),)).fetchall()
    return {str(row[0]) for row in rows}


_CHAIN = """
WITH RECURSIVE chain(id, parent, depth) AS (
    SELECT id, convert_from(data, 'UTF8')::jsonb -> 'parents' ->> 0, 0 FROM tau_objects WHERE id = %s
    UNION ALL
    SELECT o.id, convert_from(o.data, 'UTF8')::jsonb -> 'parents' ->> 0, c.depth + 1
    FROM chain c JOIN tau_objects o ON o.id = c.parent
)
SELECT id, parent FROM chain ORDER BY depth DESC
"""


def snapshot_chain_ids(conn: Conn, snapshot_id: str) -> list[str]:
    """The first-parent chain ending at `snapshot_id`, oldest first, in one query (ids only: the caller reads and
    verifies the snapshots). A missing ancestor is a CorruptObjectError."""
    rows = conn.execute(_CHAIN, (snapshot_id,)).fetchall()
    if not rows:
        raise CorruptObjectError(object_path(snapshot_id), "object is missing")
    oldest_parent = rows[0][1]
    if oldest_parent is not None:
        raise CorruptObjectError(object_path(str(oldest_parent)), "object is missing (a parent snapshot)")
    return [str(row[0]) for row in rows]


def read_ref(conn: Conn, session_id: str) -> str | None:
    row = conn.execute("SELECT head FROM tau_sessions WHERE id = %s", (session_id,)).fetchone()
    return None if row is None else str(row[0])


def ref_heads(conn: Conn) -> dict[str, str]:
    return {str(s): str(h) for s, h in conn.execute("SELECT id, head FROM tau_sessions ORDER BY id").fetchall()}


def _row(info: SessionInfo, head_status: str) -> tuple[Any, ...]:
    return (
        info.id,
        info.head,
        info.title,
        head_status,
        info.model,
        info.created,
        info.updated,
        info.turns,
        info.tokens,
        info.cost,
        info.parent,
    )


def insert_ref(conn: Conn, info: SessionInfo, head_status: str) -> bool:
    """Create the session's row (its ref and index row); False when the id exists already."""
    cursor = conn.execute(
        f"INSERT INTO tau_sessions ({_COLUMNS}) VALUES ({', '.join(['%s'] * 11)}) ON CONFLICT (id) DO NOTHING",
        _row(info, head_status),
    )
    return cursor.rowcount == 1


def move_ref(conn: Conn, info: SessionInfo, head_status: str, expected_head: str) -> bool:
    """Move the session's head from `expected_head` to `info.head` with its row; False when the head was not that."""
    row = _row(info, head_status)
    cursor = conn.execute(
        "UPDATE tau_sessions SET head = %s, title = %s, head_status = %s, model = %s, created = %s, updated = %s,"
        " turns = %s, tokens = %s, cost = %s, parent = %s WHERE id = %s AND head = %s",
        (*row[1:], row[0], expected_head),
    )
    return cursor.rowcount == 1


def upsert_rows(conn: Conn, rows: Iterable[tuple[SessionInfo, str]]) -> None:
    """Rewrite the derived columns of existing rows (reindex), keeping each row's head."""
    with conn.cursor() as cursor:
        cursor.executemany(
            "UPDATE tau_sessions SET title = %s, head_status = %s, model = %s, created = %s, updated = %s,"
            " turns = %s, tokens = %s, cost = %s, parent = %s WHERE id = %s AND head = %s",
            [(*_row(info, status)[2:], info.id, info.head) for info, status in rows],
        )


def delete_ref(conn: Conn, session_id: str) -> str | None:
    """Delete the session's row and its events; the head it pointed at (None when there was none)."""
    row = conn.execute("DELETE FROM tau_sessions WHERE id = %s RETURNING head", (session_id,)).fetchone()
    conn.execute("DELETE FROM tau_events WHERE session_id = %s", (session_id,))
    return None if row is None else str(row[0])
