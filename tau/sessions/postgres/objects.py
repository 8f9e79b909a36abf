"""`PgObjects`: the object operations the file store's callers use on `store.objects` (get, put, exists, path), and
the checkpoint `ObjectIO` (put_object, get_object), over `tau_objects`. Reads are verified against the id.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tau.sessions.postgres import tables

if TYPE_CHECKING:
    from tau.sessions.postgres.store import PostgresSessionStore

__all__ = ["PgObjects"]


class PgObjects:
    def __init__(self, store: PostgresSessionStore) -> None:
        self._store = store

    def path(self, object_id: str) -> Path:
        """What names the object in messages (`tau_objects/<id>`): not a file."""
        return tables.object_path(object_id)

    def get(self, object_id: str) -> bytes:
        with self._store.mutex:
            return tables.get_object(self._store.conn(), object_id)

    def put(self, data: bytes) -> str:
        with self._store.mutex:
            return tables.put_objects(self._store.conn(), [data])[0]

    def exists(self, object_id: str) -> bool:
        with self._store.mutex:
            return object_id in tables.existing(self._store.conn(), [object_id])

    # checkpoints.ObjectIO
    def put_object(self, data: bytes) -> str:
        return self.put(data)

    def get_object(self, object_id: str) -> bytes:
        return self.get(object_id)
