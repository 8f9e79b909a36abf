"""What a sandbox is, shared by the backend and the lifecycle chores: the labels that mark tau's containers, the
container spec (`SandboxSpec`), the bundled image's content-hash tag, and the owner labels that tell a later tau
whether a container's owner is gone.

Owns no docker access at all (so `docker_engine`, `docker_container` and `sandbox` can all import it without an
import circle). Invariants are the ones `tau.environment.sandbox` documents for tags and owners.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tau.config.spec import SANDBOX_CPUS, SANDBOX_MEMORY, SANDBOX_NETWORK, SANDBOX_PIDS_LIMIT

__all__ = (
    "DEFAULT_MIRROR",
    "IMAGE_REPOSITORY",
    "LABEL_KEEP",
    "LABEL_LAYOUT",
    "LABEL_MANAGED",
    "LABEL_OWNER_HOST",
    "LABEL_OWNER_PID",
    "LABEL_OWNER_START",
    "LABEL_POOL",
    "LABEL_SESSION",
    "LOCAL_BASE",
    "SandboxError",
    "SandboxSpec",
    "context_hash",
    "default_context",
    "image_tag",
    "owner_alive",
    "owner_labels",
)

LABEL_MANAGED = "tau.managed"
LABEL_KEEP = "tau.keep"  # created with --keep-sandbox: outlives its owner; only `tau sandbox rm|prune` remove it
LABEL_SESSION = "tau.session"
LABEL_POOL = "tau.pool"  # kept by `tau serve --local`'s sandbox pool (owner: the server), leased to one run at a time
LABEL_LAYOUT = "tau.layout"  # digest of the container's mounts (docker_layout.Layout): reused only while it matches
LABEL_OWNER_PID = "tau.owner_pid"
LABEL_OWNER_START = "tau.owner_start"
LABEL_OWNER_HOST = "tau.owner_host"
IMAGE_REPOSITORY = "tau-sandbox"
LOCAL_BASE = "local/base:bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"


class SandboxError(RuntimeError):
    """A sandbox chore failed (build, daemon unreachable, no such container); the message says what to do."""


@dataclass(frozen=True, kw_only=True)
class SandboxSpec:
    """How a managed container is made. Every default is the hardened one; loosen per job.

    Args:
        image: Image to run; `None` means the content-hash tag of the bundled sandbox image (build it first).
        network: `"none"` (default, no interface but loopback) or `"bridge"`.
        memory: Memory limit in bytes; swap is set equal, so the container cannot swap.
        cpus: CPU quota in cores.
        pids_limit: Maximum number of processes in the container (stops fork bombs).
        tmp_size: Size of the tmpfs mounted at /tmp (HOME lives there).
        read_only: Mount the image's root filesystem read-only.
        user: `"UID:GID"` to run as; `None` means the owner of the workspace directory.
        workdir: Where the workspace is mounted inside the container.
        env: Extra environment for every command.
        executor: Keep one long-lived executor per container (needs python3 in the image); else one exec per call.
    """

    image: str | None = None
    network: str = SANDBOX_NETWORK
    memory: int = SANDBOX_MEMORY
    cpus: float = SANDBOX_CPUS
    pids_limit: int = SANDBOX_PIDS_LIMIT
    tmp_size: int = 512 * 1024**2
    read_only: bool = True
    user: str | None = None
    workdir: str = "/workspace"
    env: Mapping[str, str] = field(default_factory=dict)
    executor: bool = True
    keep: bool = False  # label the container so orphan reaping leaves it (the run was asked to keep it)

    def __post_init__(self) -> None:
        if self.network not in ("none", "bridge"):
            raise ValueError(f"network must be 'none' or 'bridge', got {self.network!r}")
        if self.memory < 6 * 1024**2 or self.cpus <= 0 or self.pids_limit < 8 or self.tmp_size <= 0:
            raise ValueError("memory >= 6 MiB, cpus > 0, pids_limit >= 8 and tmp_size > 0 are required")
        if not self.workdir.startswith("/") or self.workdir.rstrip("/") == "":
            raise ValueError(f"workdir must be an absolute path below /, got {self.workdir!r}")


def default_context() -> Path:
    """The bundled build context: `sandbox/` beside the `tau` package (a source checkout or an unpacked bundle)."""
    return Path(__file__).resolve().parents[2] / "sandbox"


def _ignored(context: Path) -> set[str]:
    """Names listed in the context's `.dockerignore` (plain names only: all this context needs)."""
    ignore = context / ".dockerignore"
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.is_file() else []
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def context_hash(context: Path, base: str) -> str:
    """sha256 (first 16 hex digits) over the base image name and every file docker would send from the context
    (`.dockerignore`d names excluded, so editing the executor, which tau sends at run time, rebuilds nothing)."""
    ignored = _ignored(context)
    digest = hashlib.sha256(f"base={base}\n".encode())
    files = (p for p in context.rglob("*") if p.is_file() and not ignored.intersection(p.relative_to(context).parts))
    for path in sorted(files):
        digest.update(f"{path.relative_to(context).as_posix()}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).hexdigest().encode())
    return digest.hexdigest()[:16]


def image_tag(context: Path | None = None, base: str = LOCAL_BASE) -> str:
    """The tag `build_image` gives this context: `tau-sandbox:<hash>`."""
    return f"{IMAGE_REPOSITORY}:{context_hash(context or default_context(), base)}"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_labels(pid: int | None = None) -> dict[str, str]:
    """Labels naming the owning process (this one by default), so a later tau can tell whether it is gone."""
    pid = os.getpid() if pid is None else pid
    labels = {LABEL_OWNER_PID: str(pid), LABEL_OWNER_HOST: socket.gethostname()}
    start = _start_time(pid)
    if start is not None:
        labels[LABEL_OWNER_START] = start
    return labels


def owner_alive(labels: Mapping[str, str]) -> bool | None:
    """True/False if the labelled owner is known alive/gone; None when the labels cannot tell."""
    pid_text = labels.get(LABEL_OWNER_PID, "")
    host = labels.get(LABEL_OWNER_HOST)
    if not pid_text.isdigit() or (host is not None and host != socket.gethostname()):
        return None
    start = _start_time(int(pid_text))
    if start is None:
        return False
    expected = labels.get(LABEL_OWNER_START)
    return expected is None or expected == start
