"""In-memory `SessionStore`: content-addressed snapshots held in dicts, for tests and runs that keep no state.

Invariant: snapshots are immutable; a commit only adds a snapshot and moves the session's head. It follows the same
contract as `FileSessionStore` (tests/sessions/test_contract.py), minus durability and cross-process locking: a
session is "open" after `begin`/`resume` until `close`, and only open sessions accept commits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter
from pydantic_ai.tools import DeferredToolRequests

from tau.errors import ConfigError
from tau.sessions.errors import SessionNotFoundError
from tau.sessions.port import Resumed, StepRecord
from tau.sessions.snapshot import encode_pending


@dataclass(frozen=True)
class _Snapshot:
    id: str
    parent: str | None
    messages: tuple[ModelMessage, ...]
    status: str
    pending: DeferredToolRequests | None = None


def _digest(parent: str | None, payload: bytes) -> str:
    return hashlib.sha256((parent or "").encode() + b"\0" + payload).hexdigest()


class InMemorySessionStore:
    """Capabilities (`SessionStore` port): none — no archive, no checkpoint objects, no state directory."""

    def __init__(self) -> None:
        self._snapshots: dict[str, _Snapshot] = {}
        self._heads: dict[str, str] = {}
        self._open: set[str] = set()
        self._bases: dict[str, str] = {}  # a provisional head's parent: where the next commit goes

    async def begin(self, session_id: str, config: Mapping[str, Any]) -> str:
        if session_id in self._heads:
            raise ConfigError(f"session {session_id!r} already exists", field="--session-id")
        payload = json.dumps({"session": session_id, "config": dict(config)}, sort_keys=True, default=str).encode()
        root = _Snapshot(_digest(None, payload), None, (), "created")
        self._snapshots[root.id] = root
        self._heads[session_id] = root.id
        self._open.add(session_id)
        return root.id

    def archive(self) -> None:
        return None

    def checkpoint_objects(self) -> None:
        return None

    def state_dir(self) -> None:
        return None

    async def resume(self, session_id: str, config: Mapping[str, Any] | None = None) -> Resumed:
        if session_id not in self._heads:
            raise SessionNotFoundError(f"no session {session_id!r}")
        self._open.add(session_id)
        head = self._snapshots[self._heads[session_id]]
        return Resumed(session_id, head.id, head.status, await self.history(session_id), head.pending)

    async def commit(self, session_id: str, record: StepRecord) -> str:
        if session_id not in self._open:
            raise ConfigError(f"session {session_id!r} is not open for writing", field="session")
        parent = self._bases.pop(session_id, None) or self._heads[session_id]
        if record.provisional:  # the next commit replaces it (`StepRecord.provisional`)
            self._bases[session_id] = parent
        payload = ModelMessagesTypeAdapter.dump_json(list(record.messages)) + record.status.encode()
        if record.pending is not None:
            payload += encode_pending(record.pending)
        snap = _Snapshot(_digest(parent, payload), parent, tuple(record.messages), record.status, record.pending)
        self._snapshots[snap.id] = snap
        self._heads[session_id] = snap.id
        return snap.id

    async def history(self, session_id: str) -> list[ModelMessage]:
        if session_id not in self._heads:
            raise SessionNotFoundError(f"no session {session_id!r}")
        chain: list[_Snapshot] = []
        cursor: str | None = self._heads[session_id]
        while cursor is not None:
            snap = self._snapshots[cursor]
            chain.append(snap)
            cursor = snap.parent
        return [message for snap in reversed(chain) for message in snap.messages]

    async def close(self, session_id: str) -> None:
        self._open.discard(session_id)
        self._bases.pop(session_id, None)

    def head(self, session_id: str) -> str:
        return self._heads[session_id]
