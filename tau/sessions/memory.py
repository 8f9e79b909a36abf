"""In-memory `SessionStore`: content-addressed snapshots held in dicts, for `tau run` until the disk store lands.

Invariant: snapshots are immutable; a commit only adds a snapshot and moves the session's head.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter

from tau.errors import ConfigError
from tau.sessions.port import StepRecord


@dataclass(frozen=True)
class _Snapshot:
    id: str
    parent: str | None
    messages: tuple[ModelMessage, ...]
    status: str


def _digest(parent: str | None, payload: bytes) -> str:
    return hashlib.sha256((parent or "").encode() + b"\0" + payload).hexdigest()


class InMemorySessionStore:
    def __init__(self) -> None:
        self._snapshots: dict[str, _Snapshot] = {}
        self._heads: dict[str, str] = {}

    async def begin(self, session_id: str, config: Mapping[str, Any]) -> str:
        if session_id in self._heads:
            raise ConfigError(f"session {session_id!r} already exists", field="--session-id")
        payload = json.dumps({"session": session_id, "config": dict(config)}, sort_keys=True, default=str).encode()
        root = _Snapshot(_digest(None, payload), None, (), "created")
        self._snapshots[root.id] = root
        self._heads[session_id] = root.id
        return root.id

    async def commit(self, session_id: str, record: StepRecord) -> str:
        parent = self._heads[session_id]
        payload = ModelMessagesTypeAdapter.dump_json(list(record.messages))
        snap = _Snapshot(
            _digest(parent, payload + record.status.encode()), parent, tuple(record.messages), record.status
        )
        self._snapshots[snap.id] = snap
        self._heads[session_id] = snap.id
        return snap.id

    async def history(self, session_id: str) -> list[ModelMessage]:
        chain: list[_Snapshot] = []
        cursor: str | None = self._heads[session_id]
        while cursor is not None:
            snap = self._snapshots[cursor]
            chain.append(snap)
            cursor = snap.parent
        return [message for snap in reversed(chain) for message in snap.messages]

    def head(self, session_id: str) -> str:
        return self._heads[session_id]
