"""`Fork(with_files=True)` (`tau fork --with-files`): the fork's workspace put back in the state the forked snapshot
pins, before the fork runs.

`restore_files(objects, view, directory, report)` restores the host directory `directory` (the fork's workspace) to
the checkpoint `view` (the forked snapshot, as the store's archive shows it) pins, reading the store's checkpoint
objects; reports what it did line by line (`report`: the CLI writes them to stderr), and raises RunError (exit 1)
when a file could not be restored: the fork then does not run. A workspace directory that does not exist is a
ConfigError (exit 2).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tau.errors import ConfigError, RunError
from tau.sessions import ObjectIO, SessionView


async def restore_files(objects: ObjectIO, view: SessionView, directory: str, report: Callable[[str], None]) -> None:
    from pydantic_ai.workspaces import Workspace

    from tau.checkpoints.recorder import restore_for_fork
    from tau.environment import HostBackend

    if not Path(directory).is_dir():
        raise ConfigError(f"workspace directory {directory} does not exist", source="--with-files")
    workspace = Workspace(HostBackend(directory))
    restored = await restore_for_fork(objects, view.workspace, workspace, latest=view.latest_workspace)
    report(f"restore {directory} to snapshot {view.snapshot_id[:12]} (step {view.step})")
    for line in restored.lines():
        report(line)
    if restored.errors:
        raise RunError("could not restore every file; the fork does not run")
