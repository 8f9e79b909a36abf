"""The parts of a file-backed store that its maintenance and bundle code work on (`StoreParts`), as a protocol.

Owns nothing but the shape: `FileSessionStore` satisfies it, and `maintenance.py` (fsck, gc) and `bundle.py`
(export, import) take it, so they need not import the store module that imports them (no import circle).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from tau.sessions.history_cache import HistoryCache
from tau.sessions.locks import SessionLock
from tau.sessions.objects import ObjectStore
from tau.sessions.refs import RefStore
from tau.sessions.snapshot import Snapshot

__all__ = ["StoreParts"]


class StoreParts(Protocol):
    """Objects, refs, locks and caches of one store directory, and the store's process-wide mutex."""

    @property
    def objects(self) -> ObjectStore: ...

    @property
    def refs(self) -> RefStore: ...

    @property
    def locks_dir(self) -> Path: ...

    @property
    def history_cache(self) -> HistoryCache | None: ...

    @property
    def mutex(self) -> AbstractContextManager[object]: ...

    def head(self, session_id: str) -> str: ...

    def snapshot(self, snapshot_id: str) -> Snapshot: ...

    def config(self, config_id: str) -> dict[str, Any]: ...

    def ensure_dirs(self) -> None: ...

    def lock(self, session_id: str) -> tuple[SessionLock, bool]: ...
