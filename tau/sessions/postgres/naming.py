"""Names of sessions and snapshots in the Postgres store, resolved like git and like the file store: a session id, a
unique session-id prefix, or a unique snapshot-id prefix of at least 4 hex digits (`tau_objects` rows whose bytes
start as a snapshot's canonical JSON does, then decoded to make sure).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tau.sessions.errors import CorruptObjectError, SessionNotFoundError
from tau.sessions.reading import MIN_SNAPSHOT_PREFIX
from tau.sessions.views import Resolved

if TYPE_CHECKING:
    from tau.sessions.postgres.store import PostgresSessionStore

__all__ = ["resolve", "snapshot_ids_with_prefix", "snapshot_in"]


def snapshot_ids_with_prefix(store: PostgresSessionStore, prefix: str) -> list[str]:
    if len(prefix) < MIN_SNAPSHOT_PREFIX or not all(c in "0123456789abcdef" for c in prefix):
        return []
    rows = store.query(
        lambda conn: conn.execute(
            "SELECT id FROM tau_objects WHERE id LIKE %s AND substr(data, 1, 11) = %s ORDER BY id",
            (prefix + "%", b'{"config":"'),  # a snapshot's first key (a config object's value is an object)
        ).fetchall()
    )
    found: list[str] = []
    for (object_id,) in rows:
        try:
            store.snapshot(str(object_id))
        except CorruptObjectError:
            continue
        found.append(str(object_id))
    return found


def resolve(store: PostgresSessionStore, name: str) -> Resolved:
    """A session id, a unique session-id prefix, or a unique snapshot-id prefix (≥ 4 hex digits), like git."""
    heads: dict[str, str] = store.query(
        lambda conn: dict(
            conn.execute("SELECT id, head FROM tau_sessions WHERE starts_with(id, %s) ORDER BY id", (name,)).fetchall()
        )
    )
    if name in heads:
        return Resolved("session", heads[name], name)
    candidates = {f"session {s}": Resolved("session", head, s) for s, head in heads.items()}
    for snapshot_id in store.snapshot_ids_with_prefix(name):
        candidates[f"snapshot {snapshot_id[:12]}"] = Resolved("snapshot", snapshot_id)
    if len(candidates) == 1:
        return next(iter(candidates.values()))
    if not candidates:
        raise SessionNotFoundError(f"no session or snapshot matches {name!r} in {store.shown_url}")
    listed = ", ".join(sorted(candidates)[:6])
    raise SessionNotFoundError(f"{name!r} is ambiguous: {listed}{', …' if len(candidates) > 6 else ''}")


def snapshot_in(store: PostgresSessionStore, session_id: str, name: str) -> str:
    """The snapshot of `session_id`'s first-parent chain that `name` (an id or a unique prefix) names."""
    chain = {snapshot_id for snapshot_id, _ in store.chain(store.head(session_id))}
    matches = [found for found in store.snapshot_ids_with_prefix(name) if found in chain]
    if len(matches) == 1:
        return matches[0]
    problem = "is ambiguous in" if matches else "is not a snapshot of"
    raise SessionNotFoundError(f"snapshot {name!r} {problem} session {session_id!r}")
