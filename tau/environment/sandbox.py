"""Sandbox lifecycle: the offline image build and managed-container chores.

Owns the offline image build (`build_image`: debootstrap minbase -> `docker import` -> `docker build -f
sandbox/Containerfile`) and the functions behind `tau sandbox ls | exec | rm | prune` plus the startup reaper
(`reap_orphans`). The spec, labels, image tag and owner labels live in `tau.environment.sandbox_spec` (re-exported
here), so the docker modules need not import this one.

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

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tau.environment.sandbox_spec import (
    DEFAULT_MIRROR,
    IMAGE_REPOSITORY,
    LABEL_KEEP,
    LABEL_LAYOUT,
    LABEL_MANAGED,
    LABEL_OWNER_HOST,
    LABEL_OWNER_PID,
    LABEL_OWNER_START,
    LABEL_SESSION,
    LOCAL_BASE,
    SandboxError,
    SandboxSpec,
    context_hash,
    default_context,
    image_tag,
    owner_alive,
    owner_labels,
)

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
