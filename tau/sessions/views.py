"""What the store shows of a session: a snapshot's one-line summary (`tau sessions log`), what a name resolves to, and
the transcript `tau sessions show` renders. Plain frozen data; the store builds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic_ai.messages import ModelMessage
from pydantic_ai.tools import DeferredToolRequests

from tau.sessions.snapshot import Snapshot

__all__ = ["Resolved", "SnapshotSummary", "Transcript"]


@dataclass(frozen=True)
class SnapshotSummary:
    """One line of `tau sessions log`."""

    id: str
    session: str
    step: int
    status: str
    created: str
    parents: tuple[str, ...]
    message_count: int
    usage: dict[str, int | float]
    totals: dict[str, int | float]
    pending: bool
    workspace: str | None

    @classmethod
    def of(cls, snapshot_id: str, snap: Snapshot) -> SnapshotSummary:
        return cls(
            id=snapshot_id,
            session=snap.session,
            step=snap.step,
            status=snap.status,
            created=snap.created,
            parents=snap.parents,
            message_count=snap.message_count,
            usage=dict(snap.usage),
            totals=dict(snap.totals),
            pending=snap.pending is not None,
            workspace=snap.workspace,
        )


@dataclass(frozen=True)
class Resolved:
    """What an id or unique prefix names: a session (at its head) or a snapshot."""

    kind: Literal["session", "snapshot"]
    snapshot_id: str
    session_id: str | None = None


@dataclass(frozen=True)
class Transcript:
    """What `tau sessions show` renders: the history up to a snapshot, its pending calls and config."""

    resolved: Resolved
    snapshot: SnapshotSummary
    messages: list[ModelMessage]
    pending: DeferredToolRequests | None
    config: dict[str, Any]
