"""Sessions: the `SessionStore` port the runtime hands every completed step to, and its implementations.

- `FileSessionStore` (store.py): the on-disk, immutable, content-addressed snapshot store with its index, fsck, gc,
  fork, and export/import bundles; `default_state_dir` (location.py) says where it lives.
- `InMemorySessionStore` (memory.py): the same port in dicts, for tests and stateless runs.
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
from tau.sessions.port import Resumed, SessionStore, StepRecord
from tau.sessions.store import FileSessionStore
from tau.sessions.views import Resolved, SnapshotSummary, Transcript

__all__ = [
    "BundleError",
    "CorruptObjectError",
    "FileSessionStore",
    "ImportResult",
    "InMemorySessionStore",
    "Problem",
    "Resolved",
    "Resumed",
    "SessionFilter",
    "SessionInfo",
    "SessionLockedError",
    "SessionNotFoundError",
    "SessionStore",
    "SnapshotSummary",
    "StepRecord",
    "StoreWriteError",
    "Transcript",
    "check_state_dir",
    "default_state_dir",
    "state_dir_source",
]
