"""HostBackend: the run's workspace on this machine, with file operations confined to one directory.

Owns: path confinement. Everything else (subprocesses, process-group kills on timeout, output caps, thread offloading,
per-file locks) is pydantic-ai's `LocalWorkspaceBackend`, which this class wraps by composition.

Invariants:
- Every file operation resolves its path the way the kernel will (symlinks followed, `..` collapsed after them) and
  refuses with `PermissionError("path escapes the workspace: ...")` unless the result is the root or under it. A
  symlink inside the workspace that points outside is refused the same way; `remove` checks the entry's own location
  (it unlinks a symlink, never its target).
- Removing the root or one of its ancestors is a `ValueError` (checked before confinement, as the upstream contract
  and conformance suite require).
- Commands start in the root with the configured extra environment. They are *not* confined: a host shell reaches
  whatever this process can. Isolation of commands is the docker backend's job.
- `realpath` answers for any path (it is a query, not an access), so callers can check boundaries themselves.
- No I/O at construction; the root is resolved on first use. The backend never deletes its root.

Contract with neighbours: tools reach it only through `ctx.workspace`; runtime builds it from `EnvironmentSpec`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import anyio.to_thread
from pydantic_ai.workspaces import (
    CommandResult,
    FileEntry,
    LocalWorkspaceBackend,
    SupportsCommands,
    SupportsFilesystem,
    SupportsRealpath,
    WorkspaceBackend,
    WorkspaceCommand,
    WorkspaceRef,
)

from tau.environment.policy import SandboxConfig

__all__ = ("HostBackend",)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _require_absolute(path: str) -> None:
    if not os.path.isabs(path):
        raise ValueError(f"path must be absolute, got {path!r}")


class HostBackend(WorkspaceBackend, SupportsCommands, SupportsFilesystem, SupportsRealpath):
    """A workspace on the host filesystem whose file operations cannot leave `root`.

    Args:
        root: The workspace directory; commands start here and relative paths resolve against it. It must exist
            when first used (else `WorkspaceUnavailableError`).
        env: Extra environment variables for every command, on top of `PATH`, `HOME` and the locale.
        sandbox: How commands are confined and which paths are masked (`tau.environment.policy`); None runs
            commands unconfined and masks nothing (embedding and tests only: `tau run` always passes one).
    """

    def __init__(
        self, root: str | Path, *, env: Mapping[str, str] | None = None, sandbox: SandboxConfig | None = None
    ) -> None:
        self._local = LocalWorkspaceBackend(root, env=env)
        self._root: str | None = None
        self._sandbox = sandbox

    @property
    def ref(self) -> WorkspaceRef:
        """The upstream local ref: `WorkspaceRef(provider='local', id=<absolute root>)`."""
        return self._local.ref

    async def working_dir(self) -> str:
        root = await self._local.working_dir()
        self._root = root
        return root

    async def _root_dir(self) -> str:
        return self._root if self._root is not None else await self.working_dir()

    async def _confine(self, path: str) -> None:
        """Raise `PermissionError` unless `path`, with every symlink followed, stays inside the root."""
        _require_absolute(path)
        root = await self._root_dir()
        real = await anyio.to_thread.run_sync(os.path.realpath, path)
        if not _inside(real, root):
            shown = path if real == os.path.normpath(path) else f"{path} (resolves to {real})"
            raise PermissionError(f"path escapes the workspace: {shown} is outside {root}")

    async def _entry(self, path: str) -> str:
        """Where the directory entry `path` itself lives: its parent resolved, its last name kept (not followed)."""
        _require_absolute(path)
        parent, name = os.path.split(os.path.normpath(path))
        real_parent = await anyio.to_thread.run_sync(os.path.realpath, parent)
        return os.path.join(real_parent, name) if name else real_parent

    # Commands

    async def run(
        self,
        command: WorkspaceCommand,
        *,
        shell: bool = False,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> CommandResult:
        return await self._local.run(command, shell=shell, env=env, timeout=timeout)

    # Filesystem

    async def read_bytes(self, path: str) -> bytes:
        await self._confine(path)
        return await self._local.read_bytes(path)

    async def write_bytes(self, path: str, data: bytes) -> None:
        await self._confine(path)
        await self._local.write_bytes(path, data)

    async def stat(self, path: str) -> FileEntry:
        await self._confine(path)
        return await self._local.stat(path)

    async def list_dir(self, path: str) -> Sequence[FileEntry]:
        await self._confine(path)
        return await self._local.list_dir(path)

    async def make_dir(self, path: str) -> None:
        await self._confine(path)
        await self._local.make_dir(path)

    async def remove(self, path: str) -> None:
        root = await self._root_dir()
        entry = await self._entry(path)
        if _inside(root, entry):
            # Before confinement: removing the root or an ancestor is the upstream contract's ValueError.
            raise ValueError("cannot remove the workspace root or its ancestor")
        if not _inside(entry, root):
            raise PermissionError(f"path escapes the workspace: {path} is outside {root}")
        await self._local.remove(path)

    async def exists(self, path: str) -> bool:
        await self._confine(path)
        return await self._local.exists(path)

    async def realpath(self, path: str) -> str:
        return await self._local.realpath(path)
