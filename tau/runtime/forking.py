"""`Fork(with_files=True)` (`tau fork --with-files`): the fork's workspace put back in the state the forked snapshot
pins, before the fork runs.

`restore_files(store, snapshot_id, directory, report)` restores the host directory `directory` (the fork's workspace)
to the checkpoint `snapshot_id` pins, reports what it did line by line (`report`: the CLI writes them to stderr), and
raises RunError (exit 1) when a file could not be restored: the fork then does not run. A workspace directory that does
not exist is a ConfigError (exit 2).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tau.errors import ConfigError, RunError
from tau.sessions import FileSessionStore


async def restore_files(
    store: FileSessionStore, snapshot_id: str, directory: str, report: Callable[[str], None]
) -> None:
    from pydantic_ai.workspaces import Workspace

    from tau.checkpoints.recorder import restore_for_fork
    from tau.checkpoints.rewind import resolve_rewind
    from tau.environment import HostBackend
    from tau.sessions.checkpoints import store_objects

    if not Path(directory).is_dir():
        raise ConfigError(f"workspace directory {directory} does not exist", source="--with-files")
    target = resolve_rewind(store, snapshot_id)
    workspace = Workspace(HostBackend(directory))
    restored = await restore_for_fork(store_objects(store), target.checkpoint, workspace, latest=target.latest)
    report(f"restore {directory} to snapshot {snapshot_id[:12]} (step {target.step})")
    for line in restored.lines():
        report(line)
    if restored.errors:
        raise RunError("could not restore every file; the fork does not run")
