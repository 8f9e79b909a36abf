"""DockerBackend: the run's workspace inside a container, and DockerEngine, tau's only door to the docker SDK.

Owns: creating or reusing a managed container per session (labels, hardening, limits from `SandboxSpec`), attaching to
a user's container (never stopping or removing it), running commands through one long-lived in-container executor
(`sandbox/executor.py`, JSON lines over one `docker exec -i` attach socket) with a per-call `docker exec` fallback for
images without python3, and file operations on the bind-mounted workspace, run host-side.

Invariants:
- No I/O at construction. The first operation creates (or finds) the container under a thread lock, so concurrent
  first use makes one container; the ref (`provider='docker'`, id = container id) is recorded as soon as it exists.
- The backend never stops or removes a container; `tau.environment.sandbox.remove` does, for managed ones only.
- Commands run in `workdir` (default `/workspace`), each in its own session with a tag; a timeout kills the group,
  then every tagged process, then restarts the container if anything survived. A missing program is 127; an OOM kill
  is exit 137 with a note on stderr. A dead container raises `WorkspaceUnavailableError`; a dead executor is replaced
  transparently on the next call.
- File operations run host-side through `ConfinedFiles` on the directory behind the mount: race-free resolution
  beneath it with the container's symlink meaning (an absolute link target is a container path), atomic writes;
  anything leading elsewhere is `PermissionError("path escapes the workspace ...")`. Errors name container paths,
  never host paths.
- When tau runs as root and the container user is numeric and not root, files and directories it creates are given
  to the container user (so commands can modify what the file tools wrote), and the container user's permission
  bits are honoured on existing files.

Contract with neighbours: tools see only `ctx.workspace`; the runtime builds this backend (lazily importing this
module) and, for managed containers, removes them at the end through `sandbox.remove` unless asked to keep them.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import os
import posixpath
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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

from tau.environment.confined import ConfinedFiles
from tau.environment.executor_protocol import BOOTSTRAP, ExecutorChannel, ExecutorClosedError, executor_source
from tau.environment.mount import MountMap
from tau.environment.sandbox import (
    LABEL_KEEP,
    LABEL_MANAGED,
    LABEL_SESSION,
    SandboxError,
    SandboxSpec,
    image_tag,
    owner_labels,
)

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


class DockerUnavailableError(SandboxError):
    """No Docker daemon answers (or the SDK is missing); the message says how to get one."""


@dataclass(frozen=True, kw_only=True)
class ContainerInfo:
    """What tau needs to know about one container."""

    id: str
    name: str
    status: str
    image: str
    labels: Mapping[str, str] = field(default_factory=dict)
    mounts: tuple[tuple[str, str], ...] = ()
    """(host source, container destination) of each bind mount."""
    user: str = ""
    working_dir: str = ""

    @property
    def running(self) -> bool:
        return self.status == "running"


def _info(data: Mapping[str, Any]) -> ContainerInfo:
    """A ContainerInfo from `inspect_container` output or a `containers()` list entry."""
    config = data.get("Config") or {}
    state = data.get("State")
    status = state.get("Status", "") if isinstance(state, dict) else str(state or "")
    names = data.get("Names") or [data.get("Name", "")]
    return ContainerInfo(
        id=str(data.get("Id", "")),
        name=str(names[0]).lstrip("/"),
        status=status,
        image=str(config.get("Image") or data.get("Image", "")),
        labels=dict(config.get("Labels") or data.get("Labels") or {}),
        mounts=tuple(
            (str(m.get("Source", "")), str(m.get("Destination", "")))
            for m in data.get("Mounts") or []
            if m.get("Type") == "bind"
        ),
        user=str(config.get("User") or ""),
        working_dir=str(config.get("WorkingDir") or ""),
    )


class DockerEngine:
    """A typed facade over the docker SDK's low-level API; every SDK object stays inside this class."""

    def __init__(self, client: Any = None, *, timeout: float = 60.0) -> None:
        self._client = client
        self._timeout = timeout

    @property
    def api(self) -> Any:
        if self._client is None:
            try:
                import docker  # type: ignore[import-untyped]

                self._client = docker.APIClient(**docker.utils.kwargs_from_env(), timeout=self._timeout, version="auto")
            except Exception as error:  # the SDK raises DockerException, or ImportError when missing
                raise DockerUnavailableError(
                    f"no Docker daemon answers ({error}); start one (scripts/install-docker.sh) or set DOCKER_HOST"
                ) from error
        return self._client

    def _not_found(self, error: Exception) -> bool:
        return type(error).__name__ == "NotFound"

    def ping(self) -> bool:
        try:
            return bool(self.api.ping())
        except Exception:
            return False

    def managed(self) -> list[ContainerInfo]:
        found = self.api.containers(all=True, filters={"label": f"{LABEL_MANAGED}=1"})
        return sorted((_info(item) for item in found), key=lambda info: info.name)

    def find(self, name_or_id: str) -> ContainerInfo | None:
        try:
            return _info(self.api.inspect_container(name_or_id))
        except Exception as error:
            if self._not_found(error):
                return None
            raise

    def find_session(self, session: str) -> ContainerInfo | None:
        filters = {"label": [f"{LABEL_MANAGED}=1", f"{LABEL_SESSION}={session}"]}
        found = self.api.containers(all=True, filters=filters)
        return self.find(found[0]["Id"]) if found else None

    def create(
        self, *, name: str, image: str, spec: SandboxSpec, host_root: str, user: str, labels: Mapping[str, str]
    ) -> str:
        """Create (not start) a hardened container; return its id."""
        api = self.api
        host_config = api.create_host_config(
            binds={host_root: {"bind": spec.workdir, "mode": "rw"}},
            read_only=spec.read_only,
            tmpfs={"/tmp": f"rw,exec,nosuid,nodev,size={spec.tmp_size}"},
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            pids_limit=spec.pids_limit,
            mem_limit=spec.memory,
            memswap_limit=spec.memory,
            nano_cpus=int(spec.cpus * 1e9),
            network_mode=spec.network,
            init=True,
        )
        try:
            created = api.create_container(
                image,
                command=["sleep", "infinity"],
                name=name,
                labels=dict(labels),
                user=user,
                working_dir=spec.workdir,
                environment={"HOME": "/tmp", **spec.env},
                host_config=host_config,
            )
        except Exception as error:
            if self._not_found(error) or type(error).__name__ == "ImageNotFound":
                raise SandboxError(f"image {image} not found: build it with `tau sandbox build`") from error
            raise
        return str(created["Id"])

    def start(self, container: str) -> None:
        self.api.start(container)

    def restart(self, container: str) -> None:
        self.api.restart(container, timeout=0)

    def remove(self, container: str) -> None:
        try:
            self.api.remove_container(container, force=True, v=True)
        except Exception as error:
            if not self._not_found(error):
                raise

    def busy(self, container: str) -> bool:
        """Whether any exec session (a tau executor, a user's shell) is running in the container."""
        info = self.find(container)
        if info is None:
            return False
        exec_ids = self.api.inspect_container(container).get("ExecIDs") or []
        return any(self.exec_state(exec_id)[0] for exec_id in exec_ids)

    def exec_state(self, exec_id: str) -> tuple[bool, int | None]:
        """(running, exit code) of one exec session."""
        try:
            data = self.api.exec_inspect(exec_id)
        except Exception as error:
            if self._not_found(error):
                return False, None
            raise
        code = data.get("ExitCode")
        return bool(data.get("Running")), None if code is None else int(code)

    def open_exec(
        self, container: str, argv: Sequence[str], *, user: str = "", workdir: str | None = None
    ) -> tuple[str, Any, Any]:
        """Start `argv` with stdin attached; return (exec id, the SDK's socket object, the raw blocking socket)."""
        exec_id = self.api.exec_create(
            container, list(argv), stdin=True, stdout=True, stderr=True, user=user, workdir=workdir
        )["Id"]
        sock = self.api.exec_start(exec_id, socket=True)
        raw = getattr(sock, "_sock", sock)
        raw.settimeout(None)  # the SDK's request timeout would end an idle executor's stream
        return str(exec_id), sock, raw

    def exec_once(
        self,
        container: str,
        argv: Sequence[str],
        *,
        user: str = "",
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """Run one command to completion by plain `docker exec`; return (exit code, combined output)."""
        code, out, err = self.exec_demux(container, argv, user=user, workdir=workdir, env=env)
        return code, out + err

    def exec_demux(
        self,
        container: str,
        argv: Sequence[str],
        *,
        user: str = "",
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes, bytes]:
        """Run one command by plain `docker exec`; return (exit code, stdout, stderr). 126 'not found' -> 127."""
        exec_id = self.api.exec_create(
            container, list(argv), stdout=True, stderr=True, user=user, workdir=workdir, environment=dict(env or {})
        )["Id"]
        out, err = self.api.exec_start(exec_id, demux=True)
        out, err = out or b"", err or b""
        code = self.exec_state(exec_id)[1]
        code = -1 if code is None else code
        if code == 126 and re.search(rb"executable file not found|no such file or directory", out + err, re.I):
            code, out, err = 127, b"", (out + err).strip() + b"\n"
        return code, out, err


def _uid_gid(path: str) -> str:
    info = os.stat(path)
    return f"{info.st_uid}:{info.st_gid}"


def _container_name(session: str) -> str:
    return "tau-" + re.sub(r"[^a-zA-Z0-9_.-]", "-", session)[:60]


@dataclass
class _Live:
    """The container this backend works in, once known."""

    id: str
    mount: MountMap
    user: str
    workdir: str

    @functools.cached_property
    def files(self) -> ConfinedFiles:
        """Host-side file operations on the bind mount, with the container's paths and symlink meaning."""
        mount = self.mount
        return ConfinedFiles(
            mount.host_root,
            shown_root=mount.container_root,
            explain=lambda path: mount.resolve(path)[0],
            user=_file_user(self.user),
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
        self._live: _Live | None = None
        self._lock = threading.Lock()
        self._channel: ExecutorChannel | None = None
        self._channel_sock: Any = None
        self._plain = not self._spec.executor
        self._executor_source: str | None = None

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
    ) -> DockerBackend:
        """Work in an existing container (never stopped or removed by tau).

        Args:
            container: Name or id.
            root: Host directory bind-mounted at `workdir`; found from the container's mounts when omitted.
            workdir: The workspace path inside the container; the container's working directory when omitted.
            user: `UID:GID` for commands; the container's configured user when omitted.
        """
        backend = cls(root or "/", env=env, engine=engine, spec=SandboxSpec(executor=executor))
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

    # Container --------------------------------------------------------------------------------------------------

    async def _ready(self) -> _Live:
        live = self._live
        if live is not None:
            return live
        return await anyio.to_thread.run_sync(self._ensure)

    def _ensure(self) -> _Live:
        with self._lock:
            if self._live is not None:
                return self._live
            try:
                live = self._attach_live() if self._attach_to is not None else self._managed_live()
            except SandboxError as error:
                raise WorkspaceUnavailableError(str(error)) from error
            self._live = live
            return live

    def _managed_live(self) -> _Live:
        assert self._root is not None
        if not os.path.isdir(self._root):
            raise WorkspaceUnavailableError(f"workspace directory {self._root} does not exist")
        host_root = os.path.realpath(self._root)
        info = self._engine.find_session(self._session)
        if info is None:
            labels = {LABEL_MANAGED: "1", LABEL_SESSION: self._session, **owner_labels(self._owner_pid)}
            if self._spec.keep:
                labels[LABEL_KEEP] = "1"
            user = self._spec.user or _uid_gid(host_root)
            image = self._spec.image or image_tag()
            container_id = self._engine.create(
                name=_container_name(self._session),
                image=image,
                spec=self._spec,
                host_root=host_root,
                user=user,
                labels=labels,
            )
            self._ref = WorkspaceRef(provider="docker", id=container_id)
            info = self._engine.find(container_id)
            if info is None:
                raise WorkspaceUnavailableError(f"container {container_id[:12]} vanished right after create")
        self._ref = self._ref or WorkspaceRef(provider="docker", id=info.id)
        if not info.running:
            self._engine.start(info.id)
        mount = MountMap(host_root, self._spec.workdir)
        return _Live(info.id, mount, info.user, mount.container_root)

    def _attach_live(self) -> _Live:
        assert self._attach_to is not None
        info = self._engine.find(self._attach_to)
        if info is None or not info.running:
            state = "does not exist" if info is None else f"is {info.status}"
            raise WorkspaceUnavailableError(f"container {self._attach_to} {state}")
        if self._ref is not None and not info.id.startswith(self._ref.id):
            raise WorkspaceUnavailableError(f"container {self._ref.id} was replaced")
        self._ref = self._ref or WorkspaceRef(provider="docker", id=info.id)
        workdir = posixpath.normpath(self._attach_workdir or info.working_dir or "/")
        host_root = self._root
        if host_root is None:
            covering = [(src, dst) for src, dst in info.mounts if MountMap("/", dst).contains(workdir)]
            if not covering:
                raise WorkspaceUnavailableError(
                    f"container {info.name} has no bind mount covering {workdir}; file tools need one (or pass root)"
                )
            source, destination = max(covering, key=lambda mount: len(mount[1]))
            host_root = os.path.join(source, posixpath.relpath(workdir, destination))
        host_root = os.path.realpath(host_root)
        mount = MountMap(host_root, workdir)
        return _Live(info.id, mount, self._attach_user or info.user, workdir)

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

    # Commands ---------------------------------------------------------------------------------------------------

    async def run(
        self,
        command: WorkspaceCommand,
        *,
        shell: bool = False,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
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
                return await self._run_executor(live, channel, argv, merged, timeout)
        return await self._run_plain(live, argv, merged, timeout)

    async def _executor(self, live: _Live) -> ExecutorChannel | None:
        channel = self._channel
        if channel is not None and not channel.closed:
            return channel
        return await anyio.to_thread.run_sync(self._start_executor, live)

    def _start_executor(self, live: _Live) -> ExecutorChannel | None:
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
                channel.submit({"op": "ping"})[1].result(timeout=_PING_TIMEOUT)
            except (ExecutorClosedError, TimeoutError) as error:
                channel.close()
                self._executor_failed(live, exec_id, error)
                return None
            self._channel, self._channel_sock = channel, sock
            return channel

    def _executor_failed(self, live: _Live, exec_id: str, error: Exception) -> None:
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
        self, live: _Live, channel: ExecutorChannel, argv: list[str], env: dict[str, str], timeout: float | None
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

    async def _result(self, live: _Live, reply: Mapping[str, Any], timeout: float | None) -> CommandResult:
        if not reply.get("ok"):
            message = str(reply.get("message", reply.get("error")))
            if reply.get("error") == "cwd_missing":
                raise WorkspaceUnavailableError(message)
            raise WorkspaceError(f"sandbox executor: {message}")
        stdout, stderr = str(reply["stdout"]), str(reply["stderr"])
        if reply.get("timed_out"):
            note = "and was killed"
            if reply.get("survivors"):
                await anyio.to_thread.run_sync(self._engine.restart, live.id)
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
        self, live: _Live, argv: list[str], env: dict[str, str], timeout: float | None
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

    def _sweep_plain(self, live: _Live, tag: str) -> None:
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


def _file_user(user: str) -> tuple[int, int] | None:
    """(uid, gid) of a numeric `UID[:GID]` container user (gid -1 when absent), else None."""
    uid, _, gid = user.partition(":")
    if not uid.isdigit():
        return None
    return int(uid), int(gid) if gid.isdigit() else -1
