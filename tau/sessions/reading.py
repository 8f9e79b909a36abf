"""Reading a store's history: the messages at a snapshot (from the nearest packed ancestor in the history cache, else
by walking the parent chain), the packed form the cache keeps, and snapshot ids by unique prefix.

Functions over `StoreParts` (the store passes itself). Invariants: a damaged cache entry is dropped and the objects
are trusted; a messages object that does not decode is named in the `CorruptObjectError`; a history walked over
`PACK_AFTER` snapshots leaves a packed copy behind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic_ai.messages import ModelMessage

from tau.sessions.errors import CorruptObjectError
from tau.sessions.objects import OBJECT_ID
from tau.sessions.snapshot import decode_messages, join_message_arrays

if TYPE_CHECKING:
    from tau.sessions.parts import StoreParts

__all__ = [
    "MIN_SNAPSHOT_PREFIX",
    "PACK_AFTER",
    "history_chunks",
    "messages_at",
    "packed_history",
    "snapshot_ids_with_prefix",
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
