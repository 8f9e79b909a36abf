"""The `SessionStore` port: three methods the runtime needs to persist a run step by step.

Contract: `begin` registers a session and returns its root snapshot id; `commit` appends the messages a step added
(never the whole history) and returns the new snapshot id, which names its parent; `history` returns every message
of a session in order. Snapshot ids are content addresses (sha256 over the parent id and the canonical bytes of what
the step added), so two stores given the same steps agree on ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic_ai.messages import ModelMessage


@dataclass(frozen=True)
class StepRecord:
    """What one completed step adds to a session."""

    step: int
    messages: Sequence[ModelMessage]
    status: str = "running"
    usage: Mapping[str, Any] = field(default_factory=dict)


class SessionStore(Protocol):
    async def begin(self, session_id: str, config: Mapping[str, Any]) -> str: ...

    async def commit(self, session_id: str, record: StepRecord) -> str: ...

    async def history(self, session_id: str) -> list[ModelMessage]: ...
