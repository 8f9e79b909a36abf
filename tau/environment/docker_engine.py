"""DockerEngine: tau's only door to the docker SDK, a typed facade over its low-level API, and `ContainerInfo`.

Owns: talking to the daemon (ping, list managed containers, inspect, create with tau's hardening and mounts, start,
restart, remove, exec sessions). Every SDK object stays inside `DockerEngine`; callers get plain data.

Invariants: a managed container is created hardened (read-only root unless the spec says otherwise, tmpfs /tmp,
every capability dropped, no-new-privileges, pids/memory/cpu limits, the spec's network, `--init`), with the
workspace and the `Layout`'s read-only binds as `Mounts` (structured, so no path is ever parsed as `src:dst:mode`).
A missing image is a `SandboxError` naming `tau sandbox build`; a missing daemon or SDK is `DockerUnavailableError`;
any other refusal of the daemon (an image reference it rejects, a mount it cannot make) becomes one line through
`docker_failure`, never the SDK's multi-part dump (the runtime turns these into a preflight failure, exit 3).

Contract with neighbours: `tau.environment.docker` (the backend) and `tau.environment.sandbox` (lifecycle chores)
are its only users.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tau.environment.docker_layout import Layout
from tau.environment.sandbox_spec import LABEL_MANAGED, LABEL_SESSION, SandboxError, SandboxSpec

__all__ = ("ContainerInfo", "DockerEngine", "DockerUnavailableError", "docker_failure")


class DockerUnavailableError(SandboxError):
    """No Docker daemon answers (or the SDK is missing); the message says how to get one."""


def docker_failure(error: BaseException) -> str | None:
    """One line for an error the docker SDK (or the HTTP library under it) raised — the daemon's own explanation and
    the HTTP status — or None when `error` is not one of theirs."""
    if not type(error).__module__.startswith(("docker.", "requests.", "urllib3.")):
        return None
    explanation = getattr(error, "explanation", None)
    status = getattr(error, "status_code", None)
    text = str(explanation) if explanation else str(error) or type(error).__name__
    if isinstance(status, int):
        text = f"the Docker daemon answered HTTP {status}: {text}"
    return " ".join(text.split())


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


def _bind(source: str, target: str, *, read_only: bool) -> dict[str, Any]:
    return {"Type": "bind", "Source": source, "Target": target, "ReadOnly": read_only}


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
        self,
        *,
        name: str,
        image: str,
        spec: SandboxSpec,
        host_root: str,
        user: str,
        labels: Mapping[str, str],
        layout: Layout | None = None,
    ) -> str:
        """Create (not start) a hardened container with `host_root` at `spec.workdir` and `layout`'s mounts (default:
        the workspace read-write, nothing over it); return its id."""
        api = self.api
        layout = layout or Layout()
        mounts = [_bind(host_root, spec.workdir, read_only=layout.workspace_read_only)]
        mounts += [_bind(bind.source, bind.target, read_only=True) for bind in layout.binds]
        host_config = api.create_host_config(
            mounts=mounts,
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
            line = docker_failure(error)
            if line is None:
                raise
            raise SandboxError(f"cannot create a container from image {image}: {line}") from error
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

    def changes(self, container: str) -> list[str]:
        """Paths changed in the container's writable layer (`docker diff`); empty under a read-only root."""
        return [str(change.get("Path", "")) for change in self.api.diff(container) or []]

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
