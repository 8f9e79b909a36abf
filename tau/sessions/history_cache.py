"""Packed-history cache: `cache/history/<snapshot-id>` holds the whole history at that snapshot as one JSON array.

An accelerator for resume, never the truth. Snapshots are immutable, so the history at a snapshot id never changes
and the cache needs no invalidation. A cache file is `<sha256 of payload>\\n<payload>`; a file whose payload does not
match its checksum, or that does not decode, is deleted and the caller falls back to walking the objects. Loading the
history at a snapshot walks back only to the nearest cached ancestor, so entries are cheap to extend: one is written
when a session is closed and after a load that walked a long chain; `gc` deletes entries whose snapshot is no ref's
head, so the cache stays O(sessions). Written with the same temp + rename discipline as objects.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from tau.sessions.errors import StoreWriteError
from tau.sessions.objects import OBJECT_ID, ObjectStore, digest, write_durably


class HistoryCache:
    def __init__(self, root: Path, objects: ObjectStore) -> None:
        self.dir = root / "cache" / "history"
        self._objects = objects

    def path(self, snapshot_id: str) -> Path:
        return self.dir / snapshot_id

    def payload(self, snapshot_id: str) -> bytes | None:
        """The packed history bytes at `snapshot_id` when a sound entry exists (checksum verified, not decoded)."""
        try:
            raw = self.path(snapshot_id).read_bytes()
        except OSError:
            return None
        checksum, _, payload = raw.partition(b"\n")
        if checksum != digest(payload).encode():
            self.drop(snapshot_id)
            return None
        return payload

    def store(self, snapshot_id: str, payload: bytes) -> None:
        if self.path(snapshot_id).exists():
            return
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._objects.tmp_dir.mkdir(parents=True, exist_ok=True)
            data = digest(payload).encode() + b"\n" + payload
            write_durably(self.path(snapshot_id), data, self._objects.tmp_dir, durable=False)
        except (OSError, StoreWriteError):
            pass  # an accelerator only

    def drop(self, snapshot_id: str) -> None:
        with contextlib.suppress(OSError):
            self.path(snapshot_id).unlink()

    def entries(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted(entry.name for entry in self.dir.iterdir() if OBJECT_ID.fullmatch(entry.name))
