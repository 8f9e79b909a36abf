"""Walking a directory tree through the workspace API (no OS access), for glob and grep's fallback engine.

Invariants: only `ctx.workspace` calls; symlinked directories are not descended (so no loops and no leaving the
tree through a link); `.git` directories are skipped; unreadable or refused directories are skipped silently; the
walk stops after `max_entries` entries and says so.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from pydantic_ai.workspaces import FileEntry, Workspace, WorkspaceError, WorkspaceUnavailableError

SKIPPED_DIRS = frozenset({".git"})
MAX_WALK_ENTRIES = 100_000


@dataclass
class Walk:
    """Files found under a root, as entries with absolute paths, plus whether the walk stopped early."""

    files: list[FileEntry] = field(default_factory=list[FileEntry])
    truncated: bool = False


async def _list(workspace: Workspace, directory: str) -> list[FileEntry]:
    try:
        return list(await workspace.list_dir(directory))
    except WorkspaceUnavailableError:
        raise
    except (OSError, WorkspaceError):
        return []


async def walk_files(workspace: Workspace, root: str, *, max_entries: int = MAX_WALK_ENTRIES) -> Walk:
    """Every file under the directory `root` (absolute), depth first."""
    walk = Walk()
    stack = [(root, await workspace.realpath(root))]
    seen = 0
    while stack:
        directory, real_directory = stack.pop()
        for entry in await _list(workspace, directory):
            seen += 1
            if seen > max_entries:
                walk.truncated = True
                return walk
            if not entry.is_dir:
                walk.files.append(entry)
                continue
            if entry.name in SKIPPED_DIRS:
                continue
            expected = posixpath.join(real_directory, entry.name)
            if await workspace.realpath(entry.path) == expected:  # not a symlink to elsewhere
                stack.append((entry.path, expected))
    return walk


def relative(path: str, root: str) -> str:
    """`path` relative to `root`, `/`-separated (both absolute)."""
    return posixpath.relpath(path, root)


def path_key(path: str) -> tuple[str, ...]:
    """Sort key giving ripgrep's `--sort path` order (component by component)."""
    return tuple(path.split("/"))
