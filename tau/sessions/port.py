"""The `SessionStore` port: what the runtime needs to persist a run step by step and to pick one up again.

Contract (both `InMemorySessionStore` and `FileSessionStore` pass tests/sessions/test_contract.py):
- `begin(session_id, config)` creates a session (ConfigError if the id exists), opens it for writing and returns its
  root snapshot id;
- `resume(session_id, config=None)` opens an existing session for writing (SessionNotFoundError if unknown) and returns
  its head, full history and pending deferred calls; later commits name `config` (when given) as their config;
- `commit(session_id, record)` appends what one step added (never the whole history) as a snapshot whose parent is the
  previous head, and returns the new snapshot id (a content address); the session must be open in this store;
- `history(session_id)` returns every message of the session in order (following the first parent, through forks);
- `close(session_id)` ends writing (the file store releases its lock); idempotent.
Snapshot ids are content addresses of each store's own snapshot encoding; two stores need not agree on them.
`StepRecord.step` is informational: stores number steps by depth in the chain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic_ai.messages import ModelMessage
from pydantic_ai.tools import DeferredToolRequests


@dataclass(frozen=True)
class StepRecord:
    """What one completed step adds to a session.

    `usage` is what this step added (numeric entries such as input_tokens, output_tokens, requests, tool_calls,
    cost_usd); stores keep running totals. `pending` holds deferred tool calls a suspended run waits on;
    `workspace` is the id of the workspace checkpoint object the snapshot pins (None until checkpoints exist).
    """

    step: int
    messages: Sequence[ModelMessage]
    status: str = "running"
    usage: Mapping[str, Any] = field(default_factory=dict)
    pending: DeferredToolRequests | None = None
    workspace: str | None = None


@dataclass(frozen=True)
class Resumed:
    """An existing session reopened for writing: where it stands and what the next run continues from."""

    session_id: str
    snapshot_id: str
    status: str
    messages: list[ModelMessage]
    pending: DeferredToolRequests | None = None


class SessionStore(Protocol):
    async def begin(self, session_id: str, config: Mapping[str, Any]) -> str: ...

    async def resume(self, session_id: str, config: Mapping[str, Any] | None = None) -> Resumed: ...

    async def commit(self, session_id: str, record: StepRecord) -> str: ...

    async def history(self, session_id: str) -> list[ModelMessage]: ...

    async def close(self, session_id: str) -> None: ...
