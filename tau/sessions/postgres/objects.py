"""The parts of the file store's shape its readers use, over the Postgres tables: `PgObjects` (`store.objects`: get,
put, exists, path; and the checkpoint `ObjectIO`: put_object, get_object) over `tau_objects`, reads verified against
the id; `PgRefs` (`store.refs`: sessions, read) over `tau_sessions`; `PgLocation` (`store.root`: where the store is,
shown with its password masked, and `is_dir()`: the database can be reached).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from tau.sessions.postgres import tables

if TYPE_CHECKING:
    from tau.sessions.postgres.store import PostgresSessionStore

__all__ = ["PgLocation", "PgObjects", "PgRefs"]


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


class PgRefs:
    def __init__(self, store: PostgresSessionStore) -> None:
        self._store = store

    def read(self, session_id: str) -> str | None:
        with self._store.mutex:
            return tables.read_ref(self._store.conn(), session_id)

    def sessions(self) -> Iterator[str]:
        """Every session id, sorted."""
        with self._store.mutex:
            heads = tables.ref_heads(self._store.conn())
        yield from heads


class PgLocation:
    """Where the store is, as the file store's `root` is used by readers: printed, and asked whether it exists."""

    def __init__(self, store: PostgresSessionStore) -> None:
        self._store = store

    def __str__(self) -> str:
        return self._store.shown_url

    def is_dir(self) -> bool:
        """True once the database answers (a PreflightError, exit 3, when it cannot be reached)."""
        self._store.conn()
        return True
