"""DockerBackend: the run's workspace inside a container (`DockerEngine`, in `docker_engine`, talks to the daemon).

Owns: the backend over a managed container per session, one leased from a warm server's pool, or a user's container
(`docker_container` finds, makes or attaches it; never stopped or removed here), running commands through one
long-lived in-container executor (`sandbox/executor.py`, JSON lines over one `docker exec -i` attach socket) with a
per-call `docker exec` fallback for images without python3, each behind its policy's wall, and file operations on
the bind-mounted workspace, run host-side.

Invariants:
- No I/O at construction. The first operation creates (or finds) the container under a thread lock, so concurrent
  first use makes one container; the ref (`provider='docker'`, id = container id) is recorded as soon as it exists.
- The backend never stops or removes a container; `tau.environment.sandbox.remove` does, for managed ones only.
- Commands run in `workdir` (default `/workspace`), each in its own session with a tag; a timeout kills the group,
  then every tagged process, then restarts the container if anything survived. A missing program is 127; an OOM kill
  is exit 137 with a note on stderr. A dead container raises `WorkspaceUnavailableError`; a dead executor is replaced
  transparently on the next call.
- Policies (with a `SandboxConfig`): the managed container's mounts follow the run's configured policy
  (`docker_layout`: plan mode mounts the workspace read-only; protected and deny-write paths bound read-only; deny-read
  paths masked), and each command runs behind `docker_policy.command_wall`: the tool call's `policy_scope` tightened
  by the configured policy, enforced by Landlock in the executor, or refused (exit 126) when a read-only command
  cannot be held read-only. Never a weaker wall than the command was judged for.
- File operations run host-side through `ConfinedFiles` on the directory behind the mount: race-free resolution
  beneath it with the container's symlink meaning (an absolute link target is a container path), atomic writes, the
  run's deny rules; anything leading elsewhere is `PermissionError("path escapes the workspace ...")`. Errors name
  container paths, never host paths.
- When tau runs as root and the container user is numeric and not root, files and directories it creates are given
  to the container user (so commands can modify what the file tools wrote), whose permission bits are honoured.

Contract with neighbours: tools see only `ctx.workspace`; the runtime builds this backend (lazily) and removes a
managed container at the end (`sandbox.remove`) unless kept, or gives a pooled one back (`give_back`, `docker_pool`).
"""

from __future__ import annotations

import asyncio
import errno
import os
import posixpath
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from pydantic_ai.workspaces import (
    CommandResult,
    FileEntry,
    SupportsCommands,
    SupportsFilesystem,
    SupportsRealpath,
    WorkspaceBackend,
    WorkspaceCommand,
    WorkspaceError,
    WorkspaceOutputLimitError,
    WorkspaceRef,
    WorkspaceTimeoutError,
    WorkspaceUnavailableError,
)
from pydantic_ai.workspaces.protocol import validate_timeout

from tau.environment import docker_pool
from tau.environment.confined import ConfinedFiles
from tau.environment.docker_container import Live, attached, managed, pooled
from tau.environment.docker_engine import ContainerInfo, DockerEngine, DockerUnavailableError, docker_failure
from tau.environment.docker_layout import MaskSources
from tau.environment.docker_policy import Wall, command_wall
from tau.environment.executor_protocol import BOOTSTRAP, ExecutorChannel, ExecutorClosedError, executor_source
from tau.environment.policy import SandboxConfig
from tau.environment.sandbox_spec import SandboxError, SandboxSpec
from tau.telemetry import tracer

__all__ = ("ContainerInfo", "DockerBackend", "DockerEngine", "DockerUnavailableError")

T = TypeVar("T")
TAG_VAR = "TAU_CMD_TAG"
MAX_OUTPUT = 10 * 1024 * 1024
_REPLY_GRACE = 15.0
_PING_TIMEOUT = 15.0
_SWEEP_SCRIPT = (
    'for d in /proc/[0-9]*; do if tr "\\000" "\\n" < "$d/environ" 2>/dev/null | grep -qx "$1=$2"; '
    'then kill -9 "${d#/proc/}" 2>/dev/null; fi; done; true'
)


class DockerBackend(WorkspaceBackend, SupportsCommands, SupportsFilesystem, SupportsRealpath):
    """A workspace inside a Docker container whose workspace directory is bind-mounted from this machine.

    Build it with `DockerBackend(root, session=..., spec=...)` for a managed container (created on first use, reused
    when one exists for the session), or `DockerBackend.attach(name)` for an existing container.

    Args:
        root: The host workspace directory, mounted at `spec.workdir`.
        session: Names the managed container (`tau-<session>`, label `tau.session`); a fresh id when omitted.
        spec: Image, limits and hardening; see `SandboxSpec`.
        env: Extra environment for every command, over `spec.env`.
        engine: The docker facade (a default client from the environment when omitted).
        owner_pid: The pid recorded as owner (this process by default), for `reap_orphans`.
        sandbox: The run's policies (`tau.environment.policy`): the managed container's mounts (`docker_layout`),
            each command's Landlock wall (`docker_policy`) and the file operations' deny rules. None: no policy
            (embedding and tests only: `tau run` always passes one).
    """

    def __init__(
        self,
        root: str | Path,
        *,
        session: str | None = None,
        spec: SandboxSpec | None = None,
        env: Mapping[str, str] | None = None,
        engine: DockerEngine | None = None,
        owner_pid: int | None = None,
        sandbox: SandboxConfig | None = None,
    ) -> None:
        self._spec = spec or SandboxSpec()
        self._root: str | None = os.path.abspath(root)
        self._session = session or uuid.uuid4().hex[:12]
        self._attach_to: str | None = None
        self._attach_workdir: str | None = None
        self._attach_user: str | None = None
        self._env = {**self._spec.env, **(env or {})}
        self._engine = engine or DockerEngine()
        self._owner_pid = owner_pid
        self._ref: WorkspaceRef | None = None
        self._live: Live | None = None
        self._lock = threading.Lock()
        self._channel: ExecutorChannel | None = None
        self._channel_sock: Any = None
        self._plain = not self._spec.executor
        self._executor_source: str | None = None
        self._sandbox = sandbox
        self._landlock: tuple[int | None, str] = (None, "no executor running yet")

    @classmethod
    def attach(
        cls,
        container: str,
        *,
        root: str | Path | None = None,
        workdir: str | None = None,
        user: str | None = None,
        env: Mapping[str, str] | None = None,
        engine: DockerEngine | None = None,
        executor: bool = True,
        sandbox: SandboxConfig | None = None,
    ) -> DockerBackend:
        """Work in an existing container (never stopped or removed by tau).

        Args:
            container: Name or id.
            root: Host directory bind-mounted at `workdir`; found from the container's mounts when omitted.
            workdir: The workspace path inside the container; the container's working directory when omitted.
            user: `UID:GID` for commands; the container's configured user when omitted.
            sandbox: As for a managed container, except that tau cannot change the mounts of a container it did
                not make: policies are enforced per command (Landlock) only, without masks or protected binds.
        """
        backend = cls(root or "/", env=env, engine=engine, spec=SandboxSpec(executor=executor), sandbox=sandbox)
        backend._root = None if root is None else os.path.abspath(root)
        backend._attach_to = container
        backend._attach_workdir = workdir
        backend._attach_user = user
        return backend

    @classmethod
    def from_ref(cls, ref: WorkspaceRef, *, engine: DockerEngine | None = None) -> DockerBackend:
        """Reach the container a ref names (as durable execution does); `WorkspaceUnavailableError` if it is gone."""
        if ref.provider != "docker":
            raise ValueError(f"not a docker workspace ref: {ref.provider!r}")
        backend = cls.attach(ref.id, engine=engine)
        backend._ref = ref
        return backend

    @property
    def ref(self) -> WorkspaceRef | None:
        """`WorkspaceRef(provider='docker', id=<container id>)` once the container exists."""
        return self._ref

    @property
    def session(self) -> str:
        return self._session

    @property
    def uses_executor(self) -> bool:
        """False when commands fall back to one `docker exec` each (no python3 in the image, or disabled)."""
        return not self._plain

    @property
    def landlock(self) -> tuple[int | None, str]:
        """(Landlock ABI in the container or None, the executor's word on it), once the executor has started."""
        return self._landlock

    # Container --------------------------------------------------------------------------------------------------

    async def _ready(self) -> Live:
        live = self._live
        if live is not None:
            return live
        return await anyio.to_thread.run_sync(self._ensure)

    def _ensure(self) -> Live:
        with self._lock:
            if self._live is not None:
                return self._live
            try:
                live = self._attach_live() if self._attach_to is not None else self._managed_live()
            except SandboxError as error:
                raise WorkspaceUnavailableError(str(error)) from error
            except Exception as error:  # the daemon refused something: its one-line explanation, not the SDK's dump
                line = docker_failure(error)
                if line is None:
                    raise
                raise WorkspaceUnavailableError(line) from error
            self._ref = self._ref or WorkspaceRef(provider="docker", id=live.id)
            self._live = live
            return live

    def _record(self, container_id: str) -> None:
        self._ref = self._ref or WorkspaceRef(provider="docker", id=container_id)

    def _managed_live(self) -> Live:
        assert self._root is not None
        pool = not self._spec.keep and docker_pool.available(os.environ)  # a warm server's child: lease one first
        live = pooled(self._engine, self._root, spec=self._spec, sandbox=self._sandbox) if pool else None
        return live or managed(
            self._engine,
            self._root,
            session=self._session,
            spec=self._spec,
            owner_pid=self._owner_pid,
            sandbox=self._sandbox,
            record=self._record,
        )

    def _attach_live(self) -> Live:
        assert self._attach_to is not None
        return attached(
            self._engine,
            self._attach_to,
            root=self._root,
            workdir=self._attach_workdir,
            user=self._attach_user,
            known_id=None if self._ref is None else self._ref.id,
            sandbox=self._sandbox,
        )

    def _alive(self) -> bool:
        live = self._live
        info = None if live is None else self._engine.find(live.id)
        return info is not None and info.running

    async def working_dir(self) -> str:
        return (await self._ready()).workdir

    def close(self) -> None:
        """Close the executor connection (its running commands are killed); the container is left as it is."""
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()

    async def aclose(self) -> None:
        """`close()` for async callers."""
        self.close()

    def give_back(self) -> bool:
        """Close, and return a container leased from the warm server's pool to it; False when it was not one."""
        self.close()
        held = None if self._live is None else self._live.lease
        return held is not None and held.give_back(clean=True)

    # Commands ---------------------------------------------------------------------------------------------------

    async def run(
        self,
        command: WorkspaceCommand,
        *,
        shell: bool = False,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> CommandResult:
        """Traced as a `tau.command` span whose context the command gets as `TRACEPARENT` (`tau.telemetry`)."""
        with tracer().command("docker", command) as span:
            return span.exited(await self._run(command, shell=shell, env=span.propagate(env), timeout=timeout))

    async def _run(
        self, command: WorkspaceCommand, *, shell: bool, env: Mapping[str, str] | None, timeout: float | None
    ) -> CommandResult:
        validate_timeout(timeout)
        if isinstance(command, str):
            if not shell:
                raise TypeError("a string command requires shell=True; pass an argv sequence otherwise")
            argv = ["/bin/sh", "-c", command]
        else:
            if shell:
                raise TypeError("an argv sequence cannot be combined with shell=True; pass a single command string")
            argv = [str(item) for item in command]
            if not argv:
                raise ValueError("argv must not be empty")
        live = await self._ready()
        merged = {**self._env, **(env or {})}
        if not self._plain:
            channel = await self._executor(live)
            if channel is not None:
                wall = self._wall(live, self._landlock)
                if wall.refusal is not None:
                    return wall.refusal
                return await self._run_executor(live, channel, argv, merged, timeout, wall)
        wall = self._wall(live, (None, "tau's executor does not run there: no python3 in the image, or disabled"))
        if wall.refusal is not None:
            return wall.refusal
        return await self._run_plain(live, argv, merged, timeout)

    def _wall(self, live: Live, landlock: tuple[int | None, str]) -> Wall:
        """What this command runs behind: the call's policy tightened by the run's (`docker_policy`)."""
        return command_wall(self._sandbox, landlock=landlock, workspace_read_only=live.read_only, workdir=live.workdir)

    async def _executor(self, live: Live) -> ExecutorChannel | None:
        channel = self._channel
        if channel is not None and not channel.closed:
            return channel
        return await anyio.to_thread.run_sync(self._start_executor, live)

    def _start_executor(self, live: Live) -> ExecutorChannel | None:
        with self._lock:
            if self._channel is not None and not self._channel.closed:
                return self._channel
            if self._executor_source is None:
                self._executor_source = executor_source()
            argv = ["python3", "-c", BOOTSTRAP]
            try:
                exec_id, sock, raw = self._engine.open_exec(live.id, argv, user=live.user, workdir="/")
            except Exception as error:
                if not self._alive():
                    raise WorkspaceUnavailableError(f"container {live.id[:12]} is gone") from error
                raise
            channel = ExecutorChannel(raw)
            channel.send_source(self._executor_source)
            try:
                pong = channel.submit({"op": "ping"})[1].result(timeout=_PING_TIMEOUT)
            except (ExecutorClosedError, TimeoutError) as error:
                channel.close()
                self._executor_failed(live, exec_id, error)
                return None
            abi = pong.get("landlock")
            self._landlock = (abi if isinstance(abi, int) else None, str(pong.get("landlock_reason", "unknown")))
            self._channel, self._channel_sock = channel, sock
            return channel

    def _executor_failed(self, live: Live, exec_id: str, error: Exception) -> None:
        if not self._alive():
            raise WorkspaceUnavailableError(f"container {live.id[:12]} is gone") from error
        for _ in range(50):
            running, code = self._engine.exec_state(exec_id)
            if not running:
                break
            threading.Event().wait(0.02)
        if code in (126, 127):
            self._plain = True  # no python3 in this image: one `docker exec` per command from now on
            return
        raise WorkspaceError(f"the sandbox executor did not start: {error}") from error

    async def _run_executor(
        self,
        live: Live,
        channel: ExecutorChannel,
        argv: list[str],
        env: dict[str, str],
        timeout: float | None,
        wall: Wall,
    ) -> CommandResult:
        request = {
            "op": "run",
            "argv": argv,
            "cwd": live.workdir,
            "env": env,
            "timeout": timeout,
            "max_output": MAX_OUTPUT,
            "tag": uuid.uuid4().hex,
        }
        if wall.landlock is not None:
            request["landlock"] = wall.landlock
        request_id, future = channel.submit(request)
        try:
            with anyio.fail_after(None if timeout is None else timeout + _REPLY_GRACE):
                reply = await asyncio.wrap_future(future)
        except ExecutorClosedError as error:
            self._channel = None
            if not await anyio.to_thread.run_sync(self._alive):
                raise WorkspaceUnavailableError(f"container {live.id[:12]} went away during the command") from error
            message = f"the sandbox executor died during the command (restarted for the next): {error}"
            raise WorkspaceError(message) from error
        except TimeoutError as error:
            self._channel = None
            channel.close()  # an unresponsive executor: closing its stream kills its commands
            raise WorkspaceTimeoutError(f"command timed out after {timeout:g}s; the executor was restarted") from error
        except BaseException:
            channel.send({"op": "cancel", "target": request_id})
            raise
        return await self._result(live, reply, timeout)

    async def _result(self, live: Live, reply: Mapping[str, Any], timeout: float | None) -> CommandResult:
        if not reply.get("ok"):
            message = str(reply.get("message", reply.get("error")))
            if reply.get("error") == "cwd_missing":
                raise WorkspaceUnavailableError(message)
            if reply.get("error") == "landlock":
                return CommandResult(exit_code=126, stdout="", stderr=f"tau sandbox: {message}\n")
            raise WorkspaceError(f"sandbox executor: {message}")
        stdout, stderr = str(reply["stdout"]), str(reply["stderr"])
        if reply.get("timed_out"):
            note = "and was killed"
            if reply.get("survivors"):
                await anyio.to_thread.run_sync(self._restart, live)
                note = "; some of its processes survived the kill, so the sandbox container was restarted"
            raise WorkspaceTimeoutError(f"command timed out after {timeout:g}s {note}", stdout=stdout, stderr=stderr)
        if reply.get("output_limit"):
            raise WorkspaceOutputLimitError(
                "sandbox command output exceeded 10 MiB; redirect it to a file and read part of it instead",
                limit=MAX_OUTPUT,
                stdout=stdout[: 64 * 1024],
                stderr=stderr[: 64 * 1024],
            )
        if reply.get("oom_killed"):
            limit = self._spec.memory // 1024**2
            stderr += f"\n[tau] the command was killed: out of memory (sandbox limit {limit} MiB)\n"
        return CommandResult(exit_code=int(reply["exit_code"]), stdout=stdout, stderr=stderr)

    async def _run_plain(
        self, live: Live, argv: list[str], env: dict[str, str], timeout: float | None
    ) -> CommandResult:
        tag = uuid.uuid4().hex
        tagged = {**env, TAG_VAR: tag}

        def call() -> tuple[int, bytes, bytes]:
            return self._engine.exec_demux(live.id, argv, user=live.user, workdir=live.workdir, env=tagged)

        try:
            with anyio.fail_after(timeout):
                code, out, err = await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
        except BaseException as error:
            with anyio.CancelScope(shield=True), anyio.move_on_after(30):
                await anyio.to_thread.run_sync(self._sweep_plain, live, tag)
            if isinstance(error, TimeoutError):
                raise WorkspaceTimeoutError(f"command timed out after {timeout:g}s and was killed") from error
            raise
        if not await anyio.to_thread.run_sync(self._alive):
            raise WorkspaceUnavailableError(f"container {live.id[:12]} went away during the command")
        stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
        return CommandResult(exit_code=code, stdout=stdout, stderr=stderr)

    def _restart(self, live: Live) -> None:
        if self._attach_to is None and self._sandbox is not None:
            MaskSources().ensure()  # the container binds them again on restart: make them if something removed them
        self._engine.restart(live.id)

    def _sweep_plain(self, live: Live, tag: str) -> None:
        if self._alive():
            self._engine.exec_demux(live.id, ["sh", "-c", _SWEEP_SCRIPT, "sh", TAG_VAR, tag], user=live.user)

    # Filesystem -------------------------------------------------------------------------------------------------

    async def _files(self, operation: Callable[[ConfinedFiles], T]) -> T:
        """Run one host-side file operation on the bind mount (container paths in and out)."""
        live = await self._ready()
        return await anyio.to_thread.run_sync(operation, live.files)

    async def read_bytes(self, path: str) -> bytes:
        return await self._files(lambda files: files.read_bytes(path))

    async def write_bytes(self, path: str, data: bytes) -> None:
        await self._files(lambda files: files.write_bytes(path, data))

    async def make_dir(self, path: str) -> None:
        await self._files(lambda files: files.make_dir(path))

    async def stat(self, path: str) -> FileEntry:
        entry = await self._files(lambda files: files.stat(path))
        normalized = posixpath.normpath(path)
        return FileEntry(name=posixpath.basename(normalized), path=normalized, is_dir=entry.is_dir, size=entry.size)

    async def list_dir(self, path: str) -> Sequence[FileEntry]:
        normalized = posixpath.normpath(path)
        return await self._files(lambda files: files.list_dir(normalized))

    async def remove(self, path: str) -> None:
        await self._files(lambda files: files.remove(path))

    async def exists(self, path: str) -> bool:
        return await self._files(lambda files: files.exists(path))

    async def realpath(self, path: str) -> str:
        live = await self._ready()
        if "\x00" in path:
            raise OSError(errno.EINVAL, "invalid path: it contains a NUL byte", path.replace("\x00", "\\0"))
        resolved, left = live.mount.resolve(path)
        if not left:
            return resolved
        result = await self.run(["realpath", "-m", "--", path])
        return result.stdout.strip() if result.exit_code == 0 and result.stdout.strip() else resolved
