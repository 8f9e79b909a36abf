"""`tau rewind SNAPSHOT`: resolve a snapshot in the store, find the workspace it pins, and rewind a workspace to it.

The workspace is the one recorded in the snapshot's config (`environment.workspace`, the host directory of the run;
for a docker run that is the bind-mounted directory, so the host backend reaches the same files) unless the caller
names another root. The session's newest pin (its head snapshot's `workspace`) tells the rewind which paths were
first touched after the snapshot (see checkpoints.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic_ai.workspaces import Workspace

from tau.checkpoints.recorder import RewindReport, rewind
from tau.environment import HostBackend
from tau.errors import ConfigError
from tau.sessions import FileSessionStore, SessionNotFoundError
from tau.sessions.checkpoints import store_objects

__all__ = ["RewindTarget", "resolve_rewind", "rewind_snapshot"]


@dataclass(frozen=True)
class RewindTarget:
    """What `tau rewind NAME` acts on: the snapshot, its pin, the session head's pin, and the workspace root."""

    snapshot_id: str
    session_id: str
    step: int
    checkpoint: str | None
    latest: str | None
    root: str | None


def resolve_rewind(store: FileSessionStore, name: str) -> RewindTarget:
    """Resolve `name` (snapshot id / prefix, or a session = its head) to what a rewind needs."""
    resolved = store.resolve(name)
    snap = store.snapshot(resolved.snapshot_id)
    try:
        latest = store.snapshot(store.head(snap.session)).workspace
    except SessionNotFoundError:
        latest = None
    environment = store.config(snap.config).get("environment")
    root = environment.get("workspace") if isinstance(environment, dict) else None
    return RewindTarget(
        resolved.snapshot_id,
        snap.session,
        snap.step,
        snap.workspace,
        latest or snap.workspace,
        root if isinstance(root, str) else None,
    )


async def rewind_snapshot(
    store: FileSessionStore, name: str, *, root: str | Path | None = None, dry_run: bool = False
) -> tuple[RewindTarget, RewindReport]:
    """Rewind the workspace (`root`, else the snapshot's recorded one) to the snapshot `name` pins."""
    target = resolve_rewind(store, name)
    directory = str(root) if root is not None else target.root
    if directory is None:
        raise ConfigError("the snapshot's config records no workspace directory; pass --cwd", field="--cwd")
    if not Path(directory).is_dir():
        raise ConfigError(f"workspace directory {directory} does not exist; pass --cwd", field="--cwd")
    workspace = Workspace(HostBackend(directory))
    report = await rewind(store_objects(store), target.checkpoint, workspace, latest=target.latest, dry_run=dry_run)
    return target, report
