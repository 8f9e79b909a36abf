"""HostBackend: the run's workspace on this machine, with file operations confined to one directory.

Owns: wiring. File operations are `ConfinedFiles` (race-free confinement, atomic writes, deny masks) run in a worker
thread; commands, the root's resolution and `realpath` are pydantic-ai's `LocalWorkspaceBackend`, wrapped by
composition; with a `SandboxConfig`, `run` puts every command behind the kernel sandbox (`tau.environment.hostsandbox`).

Invariants:
- Every file operation resolves its path beneath the root's fd, one component at a time (`tau.environment.beneath`:
  openat2 with RESOLVE_BENEATH, else a component walk with O_NOFOLLOW), and acts through fds and `*at` calls, so a
  symlink swapped during the call cannot redirect it. Leaving the root (`..`, an absolute path elsewhere, a symlink
  out, a /proc magic link) is `PermissionError("path escapes the workspace: ...")`; in-root symlinks work.
- Writes replace the file atomically (a hard link to an outside file is replaced, not written through); `remove`
  unlinks the entry itself. Removing the root or an ancestor is a `ValueError`, checked before confinement.
- `SandboxConfig.deny_read` / `deny_write` are enforced on the real path each operation reaches (see
  `tau.environment.confined`); `list_dir` leaves covered entries out.
- A path with a NUL byte or that is not valid text is `OSError(EINVAL)` (never a `ValueError` that would end a run).
- `extra_roots` (a job's `permissions.additional_directories`) are more directories the file operations may reach:
  an absolute path under one of them (as written, or as it resolves) is confined beneath that directory instead,
  with the same rules; each is its own wall (a symlink from one root into another is still an escape).
- `realpath` answers for any path (it is a query, not an access), so callers can check boundaries themselves.
- No I/O at construction; the root is resolved on first use, once. The backend never deletes its root.

Contract with neighbours: tools reach it only through `ctx.workspace`; runtime builds it from `EnvironmentSpec`.
"""

from __future__ import annotations

import errno
import os
import posixpath
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

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

from tau.confine import inside, normalise
from tau.environment.confined import ConfinedFiles
from tau.environment.hostsandbox import HostSandbox, translate_exec_failure
from tau.environment.policy import SandboxConfig
from tau.telemetry import tracer

__all__ = ("HostBackend",)


T = TypeVar("T")


def _query(path: str) -> None:
    """Refuse what no path can be (before `os` raises a ValueError for it)."""
    if "\x00" in path:
        raise OSError(errno.EINVAL, "invalid path: it contains a NUL byte", path.replace("\x00", "\\0"))
    try:
        os.fsencode(path)
    except UnicodeError:
        raise OSError(errno.EINVAL, "invalid path: it is not valid text", ascii(path)) from None


class HostBackend(WorkspaceBackend, SupportsCommands, SupportsFilesystem, SupportsRealpath):
    """A workspace on the host filesystem whose file operations cannot leave `root`.

    Args:
        root: The workspace directory; commands start here and relative paths resolve against it. It must exist
            when first used (else `WorkspaceUnavailableError`).
        env: Extra environment variables for every command, on top of `PATH`, `HOME` and the locale.
        sandbox: How commands are confined and which paths are masked (`tau.environment.policy`); None runs
            commands unconfined and masks nothing (embedding and tests only: `tau run` always passes one).
        extra_roots: Absolute directories outside `root` that file operations may also reach (Claude Code's
            `additionalDirectories`); a path under none of the roots escapes as before.
    """

    _confined: ConfinedFiles | None = None  # built on first use, once the root is resolved

    def __init__(
        self,
        root: str | Path,
        *,
        env: Mapping[str, str] | None = None,
        sandbox: SandboxConfig | None = None,
        extra_roots: Sequence[str] = (),
    ) -> None:
        self._local = LocalWorkspaceBackend(root, env=env)
        self._root: str | None = None
        self._sandbox = sandbox
        self._extra_roots = tuple(dict.fromkeys(normalise(str(extra)) for extra in extra_roots))
        self._extra: dict[str, ConfinedFiles] = {}
        self._jail = HostSandbox(sandbox) if sandbox is not None else None  # the kernel sandbox of `run`

    @property
    def ref(self) -> WorkspaceRef:
        """The upstream local ref: `WorkspaceRef(provider='local', id=<absolute root>)`."""
        return self._local.ref

    async def working_dir(self) -> str:
        """The root, resolved once (upstream resolves it in a worker thread on every call: tools ask for it several
        times per step). The file operations are bound to this resolution anyway (`ConfinedFiles` holds it)."""
        if self._root is None:
            self._root = await self._local.working_dir()
        return self._root

    async def _files(self) -> ConfinedFiles:
        files = self._confined
        if files is None:
            root = await self.working_dir()
            sandbox = self._sandbox or SandboxConfig()
            files = ConfinedFiles(root, deny_read=sandbox.deny_read, deny_write=sandbox.deny_write)
            self._confined = files
        return files

    async def _call(self, path: str, operation: Callable[[ConfinedFiles], T]) -> T:
        files = await self._files()
        if self._extra_roots:
            files = await anyio.to_thread.run_sync(self._route, files, path)
        return await anyio.to_thread.run_sync(operation, files)

    def _route(self, files: ConfinedFiles, path: str) -> ConfinedFiles:
        """The confinement for `path`: the workspace's, or an extra root's when the path is under that root (as
        written or as it resolves) and not under the workspace. Only a choice of wall: each one checks for itself."""
        if not posixpath.isabs(path) or "\x00" in path or inside(normalise(path), files.shown_root):
            return files
        for candidate in (normalise(path), os.path.realpath(path)):
            for extra in self._extra_roots:
                if inside(candidate, extra) or inside(candidate, os.path.realpath(extra)):
                    return self._extra_files(extra)
        return files

    def _extra_files(self, extra: str) -> ConfinedFiles:
        files = self._extra.get(extra)
        if files is None:
            sandbox = self._sandbox or SandboxConfig()
            real = os.path.realpath(extra)
            files = ConfinedFiles(real, shown_root=extra, deny_read=sandbox.deny_read, deny_write=sandbox.deny_write)
            self._extra[extra] = files
        return files

    # Commands

    async def run(
        self,
        command: WorkspaceCommand,
        *,
        shell: bool = False,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> CommandResult:
        """Run `command` behind the host sandbox (`tau.environment.hostsandbox`) when the backend has one.

        The policy is the enclosing tool call's `policy_scope` tightened by the configured one. The command is
        refused (exit 126, reason on stderr) when the sandbox cannot enforce the rules; it runs plainly only with no
        `SandboxConfig` (embedding) or when the configured policy is `full` and bubblewrap cannot run here.
        Traced as a `tau.command` span whose context the command gets as `TRACEPARENT` (`tau.telemetry`).
        """
        with tracer().command("host", command) as span:
            return span.exited(await self._run(command, shell=shell, env=span.propagate(env), timeout=timeout))

    async def _run(
        self, command: WorkspaceCommand, *, shell: bool, env: Mapping[str, str] | None, timeout: float | None
    ) -> CommandResult:
        if self._jail is None:
            return await self._local.run(command, shell=shell, env=env, timeout=timeout)
        _check_command_form(command, shell)
        prepared = await self._jail.prepare(command, shell=shell, root=await self.working_dir())
        if prepared.refusal is not None:
            return prepared.refusal
        if prepared.line is None:
            return await self._local.run(command, shell=shell, env=env, timeout=timeout)
        merged = {**(env or {}), **dict(prepared.env)}
        try:
            result = await self._local.run(prepared.line, shell=True, env=merged, timeout=timeout)
        finally:
            taken_back = self._jail.refuse_created(prepared) if prepared.absent else []
        result = translate_exec_failure(result, command)
        if taken_back:
            notes = "".join(f"{line}\n" for line in taken_back)
            result = CommandResult(exit_code=result.exit_code, stdout=result.stdout, stderr=result.stderr + notes)
        return result

    # Filesystem

    async def read_bytes(self, path: str) -> bytes:
        return await self._call(path, lambda files: files.read_bytes(path))

    async def write_bytes(self, path: str, data: bytes) -> None:
        await self._call(path, lambda files: files.write_bytes(path, data))

    async def stat(self, path: str) -> FileEntry:
        return await self._call(path, lambda files: files.stat(path))

    async def list_dir(self, path: str) -> Sequence[FileEntry]:
        return await self._call(path, lambda files: files.list_dir(path))

    async def make_dir(self, path: str) -> None:
        await self._call(path, lambda files: files.make_dir(path))

    async def remove(self, path: str) -> None:
        await self._call(path, lambda files: files.remove(path))

    async def exists(self, path: str) -> bool:
        return await self._call(path, lambda files: files.exists(path))

    async def realpath(self, path: str) -> str:
        _query(path)
        return await self._local.realpath(path)

    async def aclose(self) -> None:
        """Release what the sandbox holds (its private directory). Idempotent; the backend stays usable."""
        if self._jail is not None:
            await anyio.to_thread.run_sync(self._jail.close)


def _check_command_form(command: WorkspaceCommand, shell: bool) -> None:
    """The upstream contract's argument checks, made before the command is rewritten into a shell line."""
    if isinstance(command, str):
        if not shell:
            raise TypeError("a string command requires shell=True; pass an argv sequence otherwise")
    elif shell:
        raise TypeError("an argv sequence cannot be combined with shell=True; pass a single command string")
