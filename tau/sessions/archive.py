"""`FileArchive`: the file store's `SessionArchive` capability (`FileSessionStore.archive()`): stored sessions as the
runtime reads them between runs — heads, views for continuations and forks, forks, pending calls, and whether a
writer holds a session (a non-blocking probe of its flock, `locks/<id>.lock`).

Invariant: reads only, except `fork` and `remove`, which the store does itself. Blocking file I/O runs in a worker
thread.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from pydantic_ai.tools import DeferredToolRequests

from tau.sessions.errors import SessionNotFoundError
from tau.sessions.port import SessionView
from tau.sessions.snapshot import Snapshot
from tau.sessions.views import Resolved

if TYPE_CHECKING:
    from tau.sessions.store import FileSessionStore

__all__ = ["FileArchive", "ViewSource", "view_of"]


class FileArchive:
    def __init__(self, store: FileSessionStore) -> None:
        self.store = store

    def head(self, session_id: str) -> str | None:
        return self.store.refs.read(session_id)

    async def view(self, name: str, *, at: str | None = None) -> SessionView:
        return await asyncio.to_thread(self._view, name, at)

    async def fork(self, snapshot: str, new_session_id: str, config: Mapping[str, Any] | None = None) -> str:
        return await self.store.fork(snapshot, new_session_id, config)

    async def pending(self, session_id: str) -> DeferredToolRequests | None:
        return await self.store.pending(session_id)

    async def writing(self, session_id: str) -> bool:
        return _locked(self.store, session_id)

    async def remove(self, session_id: str) -> str:
        return await self.store.rm(session_id)

    def _view(self, name: str, at: str | None) -> SessionView:
        return view_of(self.store, name, at)


class ViewSource(Protocol):
    """What `view_of` reads: the stores' synchronous readers (the file and the Postgres store have them)."""

    def snapshot_in(self, session_id: str, name: str) -> str: ...

    def resolve(self, name: str) -> Resolved: ...

    def snapshot(self, snapshot_id: str) -> Snapshot: ...

    def head(self, session_id: str) -> str: ...

    def pending_of(self, snap: Snapshot) -> DeferredToolRequests | None: ...

    def config(self, config_id: str) -> dict[str, Any]: ...


def view_of(store: ViewSource, name: str, at: str | None) -> SessionView:
    """`name` (at `at` of its chain) as a continuation or a fork sees it (`SessionArchive.view`, blocking)."""
    if at:
        name = store.snapshot_in(name, at)
    resolved = store.resolve(name)
    snap = store.snapshot(resolved.snapshot_id)
    try:
        latest = store.snapshot(store.head(snap.session)).workspace
    except SessionNotFoundError:
        latest = None
    is_session = resolved.kind == "session" and resolved.session_id is not None
    return SessionView(
        kind="session" if is_session else "snapshot",
        snapshot_id=resolved.snapshot_id,
        session_id=resolved.session_id if is_session else None,
        owner=snap.session,
        step=snap.step,
        status=snap.status,
        pending=store.pending_of(snap),
        config=store.config(snap.config),
        workspace=snap.workspace,
        latest_workspace=latest or snap.workspace,
    )


def _locked(store: FileSessionStore, session_id: str) -> bool:
    """Whether a process holds the session's store lock (a run is active). Never waits."""
    path = store.locks_dir / f"{session_id}.lock"
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the probe's lock, if it got one
    return False
