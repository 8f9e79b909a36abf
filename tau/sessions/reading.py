"""Reading a store's history: the messages at a snapshot (from the nearest packed ancestor in the history cache, else
by walking the parent chain), the packed form the cache keeps, snapshot ids by unique prefix, first-parent chains and
names resolved like git (`resolve_name`, `snapshot_in_chain`).

Functions over `StoreParts` (the store passes itself). Invariants: a damaged cache entry is dropped and the objects
are trusted; a messages object that does not decode is named in the `CorruptObjectError`; a history walked over
`PACK_AFTER` snapshots leaves a packed copy behind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic_ai.messages import ModelMessage

from tau.errors import ConfigError
from tau.sessions.errors import CorruptObjectError, SessionNotFoundError
from tau.sessions.objects import OBJECT_ID
from tau.sessions.refs import check_session_id
from tau.sessions.snapshot import Snapshot, decode_messages, join_message_arrays
from tau.sessions.views import Resolved

if TYPE_CHECKING:
    from tau.sessions.parts import StoreParts

__all__ = [
    "MIN_SNAPSHOT_PREFIX",
    "PACK_AFTER",
    "chain_of",
    "history_chunks",
    "messages_at",
    "packed_history",
    "resolve_name",
    "snapshot_ids_with_prefix",
    "snapshot_in_chain",
]

MIN_SNAPSHOT_PREFIX = 4
PACK_AFTER = 32  # chain length from which a cold history load leaves a packed copy behind


def messages_at(parts: StoreParts, snapshot_id: str) -> list[ModelMessage]:
    chunks, walked, cached = history_chunks(parts, snapshot_id, use_cache=True)
    joined = join_message_arrays([data for _, data in chunks])
    try:
        messages = decode_messages(joined, parts.objects.path(snapshot_id))
    except CorruptObjectError:
        if cached and parts.history_cache is not None:  # a bad cache entry: drop it, trust the objects
            parts.history_cache.drop(chunks[0][0])
            return messages_at(parts, snapshot_id)
        for object_id, data in chunks:  # name the object that does not decode
            decode_messages(data, parts.objects.path(object_id))
        raise
    if parts.history_cache is not None and walked >= PACK_AFTER:
        parts.history_cache.store(snapshot_id, joined)
    return messages


def history_chunks(
    parts: StoreParts, snapshot_id: str, *, use_cache: bool
) -> tuple[list[tuple[str, bytes]], int, bool]:
    """The message arrays of the history at `snapshot_id`, oldest first, starting from the nearest cached packed
    ancestor when `use_cache`; also how many snapshots were walked and whether a cache entry was used."""
    chunks: list[tuple[str, bytes]] = []
    cursor: str | None = snapshot_id
    walked = 0
    while cursor is not None:
        packed = parts.history_cache.payload(cursor) if use_cache and parts.history_cache is not None else None
        if packed is not None:
            chunks.append((cursor, packed))
            chunks.reverse()
            return chunks, walked, True
        snap = parts.snapshot(cursor)
        walked += 1
        if snap.messages:
            chunks.append((snap.messages, parts.objects.get(snap.messages)))
        cursor = snap.parents[0] if snap.parents else None
    chunks.reverse()
    return chunks, walked, False


def packed_history(parts: StoreParts, snapshot_id: str) -> bytes:
    """The whole history at `snapshot_id` as one JSON array (for the history cache)."""
    chunks, _, _ = history_chunks(parts, snapshot_id, use_cache=True)
    return join_message_arrays([data for _, data in chunks])


def snapshot_ids_with_prefix(parts: StoreParts, prefix: str) -> list[str]:
    if len(prefix) < MIN_SNAPSHOT_PREFIX or not all(c in "0123456789abcdef" for c in prefix):
        return []
    fanout = parts.objects.dir / prefix[:2]
    if not fanout.is_dir():
        return []
    found: list[str] = []
    for entry in sorted(fanout.iterdir()):
        object_id = prefix[:2] + entry.name
        if object_id.startswith(prefix) and OBJECT_ID.fullmatch(object_id) and _is_snapshot(parts, object_id):
            found.append(object_id)
    return found


def _is_snapshot(parts: StoreParts, object_id: str) -> bool:
    try:
        parts.snapshot(object_id)
    except CorruptObjectError:
        return False
    return True


def chain_of(parts: StoreParts, snapshot_id: str) -> list[tuple[str, Snapshot]]:
    """The first-parent chain ending at `snapshot_id`, oldest first (crossing fork points)."""
    chain: list[tuple[str, Snapshot]] = []
    cursor: str | None = snapshot_id
    while cursor is not None:
        snap = parts.snapshot(cursor)
        chain.append((cursor, snap))
        cursor = snap.parents[0] if snap.parents else None
    chain.reverse()
    return chain


def resolve_name(parts: StoreParts, name: str, *, where: str) -> Resolved:
    """A session id, a unique session-id prefix, or a unique snapshot-id prefix (≥ 4 hex digits), like git."""
    if parts.refs.dir.is_dir() and _is_session_name(name) and parts.refs.read(name) is not None:
        return Resolved("session", parts.head(name), name)
    candidates: dict[str, Resolved] = {}
    for session_id in parts.refs.sessions():
        if session_id.startswith(name):
            candidates[f"session {session_id}"] = Resolved("session", parts.head(session_id), session_id)
    for snapshot_id in snapshot_ids_with_prefix(parts, name):
        candidates[f"snapshot {snapshot_id[:12]}"] = Resolved("snapshot", snapshot_id)
    if len(candidates) == 1:
        return next(iter(candidates.values()))
    if not candidates:
        raise SessionNotFoundError(f"no session or snapshot matches {name!r} in {where}")
    shown = ", ".join(sorted(candidates)[:6])
    raise SessionNotFoundError(f"{name!r} is ambiguous: {shown}{', …' if len(candidates) > 6 else ''}")


def snapshot_in_chain(parts: StoreParts, session_id: str, name: str) -> str:
    """The snapshot of `session_id`'s first-parent chain that `name` names; SessionNotFoundError when none or
    several do."""
    chain = {snapshot_id for snapshot_id, _ in chain_of(parts, parts.head(session_id))}
    matches = [found for found in snapshot_ids_with_prefix(parts, name) if found in chain]
    if len(matches) == 1:
        return matches[0]
    problem = "is ambiguous in" if matches else "is not a snapshot of"
    raise SessionNotFoundError(f"snapshot {name!r} {problem} session {session_id!r}")


def _is_session_name(name: str) -> bool:
    try:
        check_session_id(name)
    except ConfigError:
        return False
    return True
