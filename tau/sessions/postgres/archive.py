"""`PgArchive`: the Postgres store's `SessionArchive` capability (`PostgresSessionStore.archive()`): heads, views
for continuations and forks, forks, pending calls, and whether a writer holds a session (its advisory lock in
pg_locks, on any machine). Reads only, except `fork` and `remove`, which the store does itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic_ai.tools import DeferredToolRequests

from tau.sessions.archive import view_of
from tau.sessions.port import SessionView
from tau.sessions.postgres.locks import is_held

if TYPE_CHECKING:
    from tau.sessions.postgres.store import PostgresSessionStore

__all__ = ["PgArchive"]


class PgArchive:
    def __init__(self, store: PostgresSessionStore) -> None:
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
        store = self.store

        def held() -> bool:
            with store.mutex:
                return is_held(store.conn(), session_id)

        return await asyncio.to_thread(held)

    async def remove(self, session_id: str) -> str:
        return await self.store.rm(session_id)

    def _view(self, name: str, at: str | None) -> SessionView:
        return view_of(self.store, name, at)
