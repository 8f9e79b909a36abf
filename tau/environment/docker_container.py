"""Which container a `DockerBackend` works in: a managed one per session, or a user's, and what is known about it.

Owns `managed(...)` (find the session's container, make it again when its mounts no longer fit the run, or create
it; start it), `attached(...)` (a user's running container and the host directory behind its workspace), and
`Live`, the backend's record of the container: id, mount, user, workdir, whether the workspace is mounted read-only,
and the host-side file operations on the mount (`ConfinedFiles`, with the run's deny rules).

Invariants:
- A managed container carries the digest of its `Layout` (label `tau.layout`); one whose digest differs from what
  the run needs now (plan mode left or entered, protected or denied paths changed) is removed and made again, so a
  session never works in a container mounted for another policy. Its /tmp (HOME) does not survive that.
- The container id is handed to `record` as soon as the container exists (before anything else can fail), so the
  caller can always clean up what was made.
- An attached container is never changed: its mounts are what its owner made, so only the per-command walls
  (Landlock) and the file operations' deny rules apply; protected paths are not bound read-only there. A deny-read
  rule that covers existing paths of its workspace cannot be enforced for commands, so attaching is refused then
  (`SandboxError`), never a run that silently shows what the rules hide.

Contract with neighbours: `tau.environment.docker` calls these under its lock, in a worker thread; the docker SDK is
reached only through `DockerEngine`.
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

from pydantic_ai.workspaces import WorkspaceUnavailableError

from tau.confine import inside
from tau.environment import docker_pool
from tau.environment.confined import ConfinedFiles
from tau.environment.docker_engine import DockerEngine
from tau.environment.docker_layout import Layout, MaskSources, plan_layout
from tau.environment.masks import DenyWalk, TooManyPaths
from tau.environment.mount import MountMap
from tau.environment.policy import DenyRead, SandboxConfig
from tau.environment.sandbox_spec import (
    LABEL_KEEP,
    LABEL_LAYOUT,
    LABEL_MANAGED,
    LABEL_POOL,
    LABEL_SESSION,
    SandboxError,
    SandboxSpec,
    image_tag,
    owner_labels,
)

__all__ = ["Live", "attached", "managed", "pooled"]


def _uid_gid(path: str) -> str:
    info = os.stat(path)
    return f"{info.st_uid}:{info.st_gid}"


def _container_name(session: str) -> str:
    return "tau-" + re.sub(r"[^a-zA-Z0-9_.-]", "-", session)[:60]


def _file_user(user: str) -> tuple[int, int] | None:
    """(uid, gid) of a numeric `UID[:GID]` container user (gid -1 when absent), else None."""
    uid, _, gid = user.partition(":")
    if not uid.isdigit():
        return None
    return int(uid), int(gid) if gid.isdigit() else -1


@dataclass
class Live:
    """The container a backend works in, once known."""

    id: str
    mount: MountMap
    user: str
    workdir: str
    read_only: bool = False  # the workspace is mounted read-only (plan mode)
    deny_read: DenyRead | None = None
    deny_write: DenyRead | None = None
    lease: docker_pool.Lease | None = None  # a container of the warm server's pool (`pooled`), given back at the end

    @functools.cached_property
    def files(self) -> ConfinedFiles:
        """Host-side file operations on the bind mount, with the container's paths and symlink meaning."""
        mount = self.mount
        return ConfinedFiles(
            mount.host_root,
            shown_root=mount.container_root,
            explain=lambda path: mount.resolve(path)[0],
            deny_read=self.deny_read,
            deny_write=self.deny_write,
            user=_file_user(self.user),
        )


def _layout(host_root: str, workdir: str, sandbox: SandboxConfig | None) -> Layout:
    """The mounts the managed container must have now (`docker_layout`); none without a policy."""
    if sandbox is None:
        return Layout()
    return plan_layout(host_root, workdir, sandbox, MaskSources().ensure())


def _with_policy(live: Live, sandbox: SandboxConfig | None, read_only: bool) -> Live:
    if sandbox is not None:
        live.read_only, live.deny_read, live.deny_write = read_only, sandbox.deny_read, sandbox.deny_write
    return live


def managed(
    engine: DockerEngine,
    root: str,
    *,
    session: str,
    spec: SandboxSpec,
    owner_pid: int | None,
    sandbox: SandboxConfig | None,
    record: Callable[[str], None],
) -> Live:
    """The session's managed container, running, with the mounts `sandbox` needs (see the module docstring).
    Raises `SandboxError` (no image, a layout that cannot be made) or `WorkspaceUnavailableError`."""
    if not os.path.isdir(root):
        raise WorkspaceUnavailableError(f"workspace directory {root} does not exist")
    host_root = os.path.realpath(root)
    layout = _layout(host_root, spec.workdir, sandbox)
    info = engine.find_session(session)
    if info is not None and info.labels.get(LABEL_LAYOUT) != layout.digest:
        engine.remove(info.id)  # mounted for another policy or workspace state (plan mode left): made anew
        info = None
    if info is None:
        labels = {LABEL_MANAGED: "1", LABEL_SESSION: session, LABEL_LAYOUT: layout.digest, **owner_labels(owner_pid)}
        if spec.keep:
            labels[LABEL_KEEP] = "1"
        container_id = engine.create(
            name=_container_name(session),
            image=spec.image or image_tag(),
            spec=spec,
            host_root=host_root,
            user=spec.user or _uid_gid(host_root),
            labels=labels,
            layout=layout,
        )
        record(container_id)
        info = engine.find(container_id)
        if info is None:
            raise WorkspaceUnavailableError(f"container {container_id[:12]} vanished right after create")
    record(info.id)
    if not info.running:
        engine.start(info.id)
    mount = MountMap(host_root, spec.workdir)
    return _with_policy(Live(info.id, mount, info.user, mount.container_root), sandbox, layout.workspace_read_only)


def pooled(engine: DockerEngine, root: str, *, spec: SandboxSpec, sandbox: SandboxConfig | None) -> Live | None:
    """A container leased from the warm server's pool (`docker_pool`) made exactly as `managed` would make this
    run's (same image, spec, user, workspace and layout), with its lease as `Live.lease`; None when there is none."""
    if not os.path.isdir(root):
        raise WorkspaceUnavailableError(f"workspace directory {root} does not exist")
    host_root = os.path.realpath(root)
    layout = _layout(host_root, spec.workdir, sandbox)
    user = spec.user or _uid_gid(host_root)
    wanted = docker_pool.definition(
        image=spec.image or image_tag(), spec=spec, host_root=host_root, user=user, layout=layout
    )
    held = docker_pool.lease(wanted)
    if held is None:
        return None
    info = engine.find(held.container)
    labels = {} if info is None else info.labels
    if info is None or not info.running or labels.get(LABEL_POOL) != "1" or labels.get(LABEL_LAYOUT) != layout.digest:
        held.give_back(clean=False)  # not what was asked for: the server removes it; this run makes its own
        return None
    mount = MountMap(host_root, spec.workdir)
    live = Live(info.id, mount, info.user, mount.container_root, lease=held)
    return _with_policy(live, sandbox, layout.workspace_read_only)


def attached(
    engine: DockerEngine,
    container: str,
    *,
    root: str | None,
    workdir: str | None,
    user: str | None,
    known_id: str | None,
    sandbox: SandboxConfig | None,
) -> Live:
    """A user's running container (`known_id`: the id a ref named, which it must still have)."""
    info = engine.find(container)
    if info is None or not info.running:
        state = "does not exist" if info is None else f"is {info.status}"
        raise WorkspaceUnavailableError(f"container {container} {state}")
    if known_id is not None and not info.id.startswith(known_id):
        raise WorkspaceUnavailableError(f"container {known_id} was replaced")
    workdir = posixpath.normpath(workdir or info.working_dir or "/")
    host_root = root
    if host_root is None:
        covering = [(src, dst) for src, dst in info.mounts if MountMap("/", dst).contains(workdir)]
        if not covering:
            raise WorkspaceUnavailableError(
                f"container {info.name} has no bind mount covering {workdir}; file tools need one (or pass root)"
            )
        source, destination = max(covering, key=lambda mount: len(mount[1]))
        host_root = os.path.join(source, posixpath.relpath(workdir, destination))
    host_root = os.path.realpath(host_root)
    if sandbox is not None:
        _refuse_unmaskable(host_root, sandbox, info.name)
    mount = MountMap(host_root, workdir)
    return _with_policy(Live(info.id, mount, user or info.user, workdir), sandbox, False)


def _refuse_unmaskable(host_root: str, sandbox: SandboxConfig, name: str) -> None:
    """Raise when deny-read rules cover existing paths of an attached container's workspace (see module docstring)."""
    walk = DenyWalk(sandbox.mask_roots, sandbox.deny_read, None)
    if not walk.active:
        return
    try:
        found = walk.find()
    except TooManyPaths as error:
        raise SandboxError(str(error)) from error
    hidden = sorted(path for path in (*found.read_files, *found.read_dirs) if inside(path, host_root))
    if hidden:
        example = os.path.relpath(hidden[0], host_root)
        raise SandboxError(
            f"deny Read rules cover {len(hidden)} path(s) in the workspace (such as {example}) that tau cannot hide "
            f"from commands in container {name}, which it did not make; use the managed sandbox (no --container) or "
            "the host environment"
        )
