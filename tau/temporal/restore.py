"""Restore-on-failover: a locality worker about to run a session puts the session's workspace directory (under its
own workspace root) in the state the session's last committed snapshot pins, from that snapshot's workspace
checkpoint in the store (`SessionStore.checkpoint_objects()` + `archive().view()`), before the run continues.

Contract: the restore is a rewind to the head's pin (`tau.checkpoints.recorder.rewind`, the code `tau rewind` and
`tau fork --with-files` use), through the host backend, so it writes exactly what the checkpoints captured —
files `write`/`edit` touched and, once a `bash` call ran, the workspace tree (within the checkpoint limits). Files
no checkpoint captured (a repository the job expected to find, files beyond a limit) are not restored: the report
says so. A worker that already holds the session's current workspace finds every file unchanged (a no-op). A store
without checkpoint objects or an archive, or a session with no pin yet, restores nothing (None).
"""

from __future__ import annotations

from pathlib import Path

from tau.checkpoints.recorder import RewindReport, rewind
from tau.environment import HostBackend
from tau.sessions import SessionNotFoundError, SessionStore


async def restore_workspace(store: SessionStore, session_id: str, directory: Path) -> RewindReport | None:
    """Bring `directory` (created if missing) to the workspace state of `session_id`'s head snapshot."""
    from pydantic_ai.workspaces import Workspace

    directory.mkdir(parents=True, exist_ok=True)
    objects, archive = store.checkpoint_objects(), store.archive()
    if objects is None or archive is None:
        return None
    try:
        view = await archive.view(session_id)
    except SessionNotFoundError:
        return None
    pin = view.latest_workspace or view.workspace
    if pin is None:
        return None
    return await rewind(objects, pin, Workspace(HostBackend(str(directory))), latest=pin)


def restored_text(report: RewindReport | None) -> str:
    """How the move notice describes the restore (one clause)."""
    if report is None:
        return "no workspace checkpoint to restore"
    text = f"workspace restored from its last snapshot ({len(report.restored)} restored, {len(report.deleted)} deleted"
    text += f", {len(report.unchanged)} unchanged"
    if report.not_captured:
        text += f", {len(report.not_captured)} not captured"
    if report.errors:
        text += f", {len(report.errors)} errors"
    return text + ")"
