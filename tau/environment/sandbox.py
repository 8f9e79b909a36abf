"""Sandbox lifecycle: the image (offline build, content-hash tags), the container spec, and managed-container chores.

Owns: `SandboxSpec` (limits and hardening of a managed container), the labels that mark tau's containers, the offline
image build (`build_image`: debootstrap minbase -> `docker import` -> `docker build -f sandbox/Containerfile`), and the
functions behind `tau sandbox ls | exec | rm | prune` plus the startup reaper (`reap_orphans`).

Invariants:
- An image is tagged `tau-sandbox:<hash>` where the hash covers every file of the build context and the base image
  name; a tag that exists is never rebuilt.
- Only containers labelled `tau.managed=1` are ever listed, reaped, pruned or removed here; a container tau attached
  to (`--container NAME`) carries no label and is never touched.
- A container is an orphan only when its owner is known to be gone: same host, and the labelled pid is not running
  or now belongs to a process with another start time. A missing owner label means unknown, never dead.

Contract with neighbours: the docker SDK is reached only through `tau.environment.docker` (imported lazily here, so
importing this module stays cheap); the image build shells out to `debootstrap` and the `docker` CLI. The CLI calls
these functions and renders their results; nothing here prints except the build's progress callback.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tau.environment.docker import ContainerInfo, DockerEngine

__all__ = (
    "IMAGE_REPOSITORY",
    "LABEL_KEEP",
    "LABEL_LAYOUT",
    "LABEL_MANAGED",
    "LABEL_OWNER_HOST",
    "LABEL_OWNER_PID",
    "LABEL_OWNER_START",
    "LABEL_SESSION",
    "LOCAL_BASE",
    "SandboxError",
    "SandboxInfo",
    "SandboxSpec",
    "build_image",
    "context_hash",
    "default_context",
    "exec_in",
    "image_present",
    "image_tag",
    "list_sandboxes",
    "owner_labels",
    "prune",
    "reap_orphans",
    "remove",
)

LABEL_MANAGED = "tau.managed"
LABEL_KEEP = "tau.keep"  # created with --keep-sandbox: outlives its owner; only `tau sandbox rm|prune` remove it
LABEL_SESSION = "tau.session"
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
    network: str = "none"
    memory: int = 2 * 1024**3
    cpus: float = 2.0
    pids_limit: int = 512
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


@dataclass(frozen=True, kw_only=True)
class SandboxInfo:
    """One managed container, as `tau sandbox ls` shows it."""

    id: str
    name: str
    session: str | None
    status: str
    image: str
    owner_pid: int | None
    owner_alive: bool | None
    """True/False when the owner is known to be alive/gone; None when unknown (no label, other host)."""
    kept: bool = False
    """Created with --keep-sandbox: never reaped as an orphan."""


# Image ---------------------------------------------------------------------------------------------------------


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


Runner = Callable[..., "subprocess.CompletedProcess[bytes]"]


def _image_exists(name: str, run: Runner) -> bool:
    return run(["docker", "image", "inspect", name], capture_output=True, check=False).returncode == 0


def _check(result: subprocess.CompletedProcess[bytes], what: str) -> None:
    if result.returncode != 0:
        tail = (result.stderr or b"").decode(errors="replace").strip().splitlines()[-5:]
        raise SandboxError(f"{what} failed (exit {result.returncode}): " + " | ".join(tail))


def _build_local_base(mirror: str, run: Runner, progress: Callable[[str], None]) -> None:
    """debootstrap a minbase bookworm and import it as LOCAL_BASE (no registry needed)."""
    if shutil.which("debootstrap") is None:
        raise SandboxError("debootstrap not found: install it (scripts/install-docker.sh) or pass base=<image>")
    with tempfile.TemporaryDirectory(prefix="tau-debootstrap-") as scratch:
        root = os.path.join(scratch, "rootfs")
        progress(f"debootstrap --variant=minbase bookworm ({mirror})")
        _check(
            run(["debootstrap", "--variant=minbase", "bookworm", root, mirror], capture_output=True, check=False),
            "debootstrap",
        )
        progress(f"docker import -> {LOCAL_BASE}")
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        imported = run(["docker", "import", "-", LOCAL_BASE], stdin=tar.stdout, capture_output=True, check=False)
        if tar.stdout is not None:
            tar.stdout.close()
        tar.wait()
        _check(imported, "docker import")


def build_image(
    *,
    context: Path | None = None,
    base: str = LOCAL_BASE,
    mirror: str = DEFAULT_MIRROR,
    run: Runner = subprocess.run,
    progress: Callable[[str], None] = lambda _line: None,
) -> str:
    """Build the sandbox image unless its content-hash tag exists; return the tag.

    With `base=LOCAL_BASE` (the default) the base is made offline from a debootstrap minbase (cached as an image);
    any other base is passed to `docker build` as is (a registry user's `debian:bookworm-slim`).
    """
    context = context or default_context()
    containerfile = context / "Containerfile"
    if not containerfile.is_file():
        raise SandboxError(f"no Containerfile in {context}")
    tag = image_tag(context, base)
    if _image_exists(tag, run):
        progress(f"{tag} is up to date")
        return tag
    if base == LOCAL_BASE and not _image_exists(LOCAL_BASE, run):
        _build_local_base(mirror, run, progress)
    progress(f"docker build -> {tag}")
    command = ["docker", "build", "-f", str(containerfile), "-t", tag, "--build-arg", f"BASE={base}"]
    command += ["--label", f"tau.sandbox.hash={tag}", str(context)]
    _check(run(command, capture_output=True, check=False), "docker build")
    return tag


# Owners -------------------------------------------------------------------------------------------------------


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


# Managed containers -------------------------------------------------------------------------------------------


def _engine(engine: DockerEngine | None) -> DockerEngine:
    if engine is not None:
        return engine
    from tau.environment.docker import DockerEngine  # lazy: the SDK is heavy and optional

    return DockerEngine()


def _info(container: ContainerInfo) -> SandboxInfo:
    pid = container.labels.get(LABEL_OWNER_PID, "")
    return SandboxInfo(
        id=container.id,
        name=container.name,
        session=container.labels.get(LABEL_SESSION),
        status=container.status,
        image=container.image,
        owner_pid=int(pid) if pid.isdigit() else None,
        owner_alive=owner_alive(container.labels),
        kept=container.labels.get(LABEL_KEEP) == "1",
    )


def list_sandboxes(*, engine: DockerEngine | None = None) -> list[SandboxInfo]:
    """Every tau-managed container (running or not), oldest first."""
    return [_info(container) for container in _engine(engine).managed()]


def remove(name_or_id: str, *, engine: DockerEngine | None = None) -> SandboxInfo:
    """Force-remove one managed container by name, id (prefix) or session id; refuse unmanaged containers."""
    for sandbox in list_sandboxes(engine=engine):
        if name_or_id in (sandbox.name, sandbox.session) or sandbox.id.startswith(name_or_id):
            _engine(engine).remove(sandbox.id)
            return sandbox
    raise SandboxError(f"no tau-managed container named {name_or_id!r} (see `tau sandbox ls`)")


def image_present(image: str, *, engine: DockerEngine | None = None) -> bool:
    """Whether the daemon has `image` locally (no pull is ever attempted). A reference the daemon rejects (it checks
    more than tau's config does: upper case, say) is a `SandboxError` with the daemon's explanation."""
    try:
        _engine(engine).api.inspect_image(image)
    except Exception as error:
        if type(error).__name__ in ("ImageNotFound", "NotFound"):
            return False
        from tau.environment.docker_engine import docker_failure

        line = docker_failure(error)
        if line is None:
            raise
        raise SandboxError(f"image {image}: {line}") from error
    return True


def reap_orphans(*, engine: DockerEngine | None = None) -> list[SandboxInfo]:
    """Remove managed containers whose owner process is known to be gone and that nobody uses any more (a resumed
    session's tau, or a user's shell, keeps an exec session running in it); return what was removed."""
    engine = _engine(engine)
    reaped = []
    for sandbox in list_sandboxes(engine=engine):
        if sandbox.owner_alive is False and not sandbox.kept and not engine.busy(sandbox.id):
            engine.remove(sandbox.id)
            reaped.append(sandbox)
    return reaped


def prune(*, include_running: bool = False, engine: DockerEngine | None = None) -> list[SandboxInfo]:
    """Remove orphans and stopped managed containers; with `include_running`, every managed container not owned by
    a live process. Containers whose owner is alive are never pruned."""
    engine = _engine(engine)
    removed = []
    for sandbox in list_sandboxes(engine=engine):
        if sandbox.owner_alive is True:
            continue
        if sandbox.owner_alive is False or sandbox.status != "running" or include_running:
            engine.remove(sandbox.id)
            removed.append(sandbox)
    return removed


def exec_in(
    name_or_id: str, argv: Sequence[str], *, workdir: str | None = None, engine: DockerEngine | None = None
) -> tuple[int, bytes]:
    """Run one command in a container (managed or not) by plain `docker exec`; return (exit code, combined output)."""
    if not argv:
        raise ValueError("argv must not be empty")
    return _engine(engine).exec_once(name_or_id, list(argv), workdir=workdir)
