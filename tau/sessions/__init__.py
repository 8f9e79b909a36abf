"""Sessions: the `SessionStore` port the runtime hands every completed step to, and its implementations.

- `FileSessionStore` (store.py): the on-disk, immutable, content-addressed snapshot store with its index, fsck, gc,
  fork, and export/import bundles; `default_state_dir` (location.py) says where it lives.
- `InMemorySessionStore` (memory.py): the same port in dicts, for tests and stateless runs.
The port (port.py) is five methods every store has plus three capabilities a store may lack (`archive()`,
`checkpoint_objects()`, `state_dir()`, None when absent): only this package knows which store is which.
Messages are serialized only through pydantic-ai's `ModelMessagesTypeAdapter`, deferred tool requests only through
pydantic-ai's own `DeferredToolRequests` type adapter.

Imports: tau.errors, tau.config, tau.protocol, pydantic, pydantic_ai, aiosqlite and the standard library only.
"""

from tau.sessions.bundle import ImportResult
from tau.sessions.errors import (
    BundleError,
    CorruptObjectError,
    SessionLockedError,
    SessionNotFoundError,
    StoreWriteError,
)
from tau.sessions.index import SessionFilter, SessionInfo
from tau.sessions.location import check_state_dir, default_state_dir, state_dir_source
from tau.sessions.maintenance import Problem
from tau.sessions.memory import InMemorySessionStore
from tau.sessions.port import ObjectIO, Resumed, SessionArchive, SessionStore, SessionView, StepRecord
from tau.sessions.store import FileSessionStore
from tau.sessions.views import Resolved, SnapshotSummary, Transcript


def file_store(store: SessionStore) -> FileSessionStore | None:
    """`store` when it is the file store (for readers of its on-disk layout: the session viewer), else None. The
    one place outside the stores themselves that tells them apart."""
    return store if isinstance(store, FileSessionStore) else None


__all__ = [
    "BundleError",
    "CorruptObjectError",
    "FileSessionStore",
    "ImportResult",
    "InMemorySessionStore",
    "ObjectIO",
    "Problem",
    "Resolved",
    "Resumed",
    "SessionArchive",
    "SessionFilter",
    "SessionInfo",
    "SessionLockedError",
    "SessionNotFoundError",
    "SessionStore",
    "SessionView",
    "SnapshotSummary",
    "StepRecord",
    "StoreWriteError",
    "Transcript",
    "check_state_dir",
    "default_state_dir",
    "file_store",
    "state_dir_source",
]
