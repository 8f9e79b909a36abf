"""The `SessionStore` port: what the runtime needs to persist a run step by step and to pick one up again.

Contract (both `InMemorySessionStore` and `FileSessionStore` pass tests/sessions/test_contract.py):
- `begin(session_id, config)` creates a session (ConfigError if the id exists), opens it for writing and returns its
  root snapshot id;
- `resume(session_id, config=None)` opens an existing session for writing (SessionNotFoundError if unknown) and returns
  its head, full history and pending deferred calls; later commits name `config` (when given) as their config;
- `commit(session_id, record)` appends what one step added (never the whole history) as a snapshot whose parent is the
  previous head, and returns the new snapshot id (a content address); the session must be open in this store. A
  `provisional` record (the finished tool results of a step still running) becomes the head too, but the writer's
  next commit replaces it: its parent is the provisional snapshot's parent. Only in the writer's memory: a writer
  that dies leaves the provisional snapshot as an ordinary head (its messages are history), and a `resume` builds
  on it;
- `history(session_id)` returns every message of the session in order (following the first parent, through forks);
- `close(session_id)` ends writing (the file store releases its lock); idempotent.
Snapshot ids are content addresses of each store's own snapshot encoding; two stores need not agree on them.
`StepRecord.step` is informational: stores number steps by depth in the chain.

Capabilities: three methods say what else a store can do, each answering None when it cannot (the in-memory store
answers None to all three; the runtime then does without, honestly, never by asking which class the store is):
- `archive()` -> `SessionArchive`: stored sessions readable between runs — a session's head (None: no such
  session), a session or snapshot as a continuation or fork sees it (`view`, names resolved like git: an id or a
  unique prefix), `fork`,
  the calls a session waits on (`pending`), and whether a writer holds it (`writing`). Without one: a continuation
  must bring its job, forks are refused (`NotSupported`), `tau inject`/`tau stop` cannot reach sessions;
- `checkpoint_objects()` -> `ObjectIO`: where workspace checkpoints (blobs, trees) go, content-addressed beside the
  snapshots that pin them. Without: a run keeps its checkpoints in memory (lost when it ends);
- `state_dir()` -> a directory of the store's for files kept beside sessions (hook transcripts, `tau serve`'s
  journal, steering inboxes). Without: hook transcripts go to a temp directory, serve keeps no journal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic_ai.messages import ModelMessage
from pydantic_ai.tools import DeferredToolRequests

from tau.sessions.checkpoints import ObjectIO

__all__ = ["ObjectIO", "Resumed", "SessionArchive", "SessionStore", "SessionView", "StepRecord"]


@dataclass(frozen=True)
class StepRecord:
    """What one completed step adds to a session.

    `usage` is what this step added (numeric entries such as input_tokens, output_tokens, requests, tool_calls,
    cost_usd); stores keep running totals. `pending` holds deferred tool calls a suspended run waits on;
    `workspace` is the id of the workspace checkpoint object the snapshot pins (None until checkpoints exist).
    `provisional`: the writer's next commit replaces this one (see the module docstring); its `usage` must be empty
    (what a replaced snapshot added to the totals would be lost).
    """

    step: int
    messages: Sequence[ModelMessage]
    status: str = "running"
    usage: Mapping[str, Any] = field(default_factory=dict)
    pending: DeferredToolRequests | None = None
    workspace: str | None = None
    provisional: bool = False


@dataclass(frozen=True)
class Resumed:
    """An existing session reopened for writing: where it stands and what the next run continues from."""

    session_id: str
    snapshot_id: str
    status: str
    messages: list[ModelMessage]
    pending: DeferredToolRequests | None = None


@dataclass(frozen=True)
class SessionView:
    """A session (at its head) or a snapshot as a continuation or a fork sees it before it starts: `config` is the
    stored job, `pending` the calls it waits on, `workspace` the checkpoint it pins and `latest_workspace` the one
    its session's head pins (a restore uses both: paths first touched after the snapshot are removed)."""

    kind: Literal["session", "snapshot"]
    snapshot_id: str
    session_id: str | None  # None for a snapshot
    owner: str  # the session the snapshot belongs to
    step: int
    status: str
    pending: DeferredToolRequests | None
    config: dict[str, Any]
    workspace: str | None = None
    latest_workspace: str | None = None

    @property
    def label(self) -> str:
        return self.session_id or self.snapshot_id[:12]


class SessionArchive(Protocol):
    """Stored sessions, readable between runs (see the module docstring). Unknown or ambiguous names raise
    SessionNotFoundError (a ConfigError: exit 2)."""

    def head(self, session_id: str) -> str | None:
        """The head snapshot of the session named exactly `session_id` (no prefix), None when there is none.
        Synchronous and cheap (a ref read, one indexed row): constructors and request validation call it."""
        ...

    async def view(self, name: str, *, at: str | None = None) -> SessionView:
        """`name` (a session id, a snapshot id, or a unique prefix of either); `at`: the snapshot of `name`'s
        (a session's) chain that `at` names."""
        ...

    async def fork(self, snapshot: str, new_session_id: str, config: Mapping[str, Any] | None = None) -> str:
        """A new session whose first parent is `snapshot` (carrying its pending calls and workspace pin), not left
        open; returns its root snapshot id. `config` replaces the stored job."""
        ...

    async def pending(self, session_id: str) -> DeferredToolRequests | None: ...

    async def writing(self, session_id: str) -> bool:
        """Whether a writer (a run, in any process) holds the session now. Never waits."""
        ...

    async def remove(self, session_id: str) -> str:
        """Delete the session named exactly `session_id` (its ref; objects stay until gc) and return the head it
        pointed at; SessionNotFoundError when there is none, ConfigError when it is open in this process."""
        ...


class SessionStore(Protocol):
    async def begin(self, session_id: str, config: Mapping[str, Any]) -> str: ...

    async def resume(self, session_id: str, config: Mapping[str, Any] | None = None) -> Resumed: ...

    async def commit(self, session_id: str, record: StepRecord) -> str: ...

    async def history(self, session_id: str) -> list[ModelMessage]: ...

    async def close(self, session_id: str) -> None: ...

    def archive(self) -> SessionArchive | None: ...

    def checkpoint_objects(self) -> ObjectIO | None: ...

    def state_dir(self) -> Path | None: ...
