"""Opening a run's workspace: the confined host directory or the docker sandbox, with preflight and cleanup.

Host: `HostBackend` over the workspace root, every command behind the kernel sandbox (`host_sandbox_config`):
the policy is `sandbox.policy` / `--sandbox-policy` when given, else follows the permission mode (`plan` ->
read-only, `bypassPermissions` -> full, else workspace-write); plan mode is read-only whatever is asked. Network is
off unless `sandbox.network` is "bridge" (the same default as docker). Writable roots are `sandbox.writable_roots`
plus the permission rules' additional directories; deny `Read(...)` / `Edit(...)` rules become masks and read-only
binds (`PermissionPolicy.denies_read` / `denies_write` / `mask_roots`). Preflight: when bubblewrap cannot build the
sandbox here the run stops before the first model call with exit 3 (`PreflightError`), unless the policy is `full`,
the documented opt-out. The backend's private temp dir is removed when the run closes (`HostBackend.aclose`).

Docker (`environment: docker`): orphaned managed containers are reaped first; then either a managed container for
this session (tau's sandbox image unless `sandbox.image` names another; created before the first model call so a
missing image or daemon is a preflight failure, exit 3) or, with `sandbox.container`, an existing container that tau
never stops or removes. A managed container is removed when the run ends unless `sandbox.keep`; in a run forked by
`tau serve --local` it is leased from the server's sandbox pool instead and given back
(`tau.environment.docker_pool`). The same `SandboxConfig` as on the host drives it: the managed container's mounts
follow the configured policy (plan mode: the workspace read-only; a kept container mounted for another policy, as
after `tau plan approve`, is made anew), each command's policy is enforced inside the container by Landlock, and the
host-side file operations get the deny rules (`tau.environment.docker`). An attached container gets the per-command
walls and the file deny rules only (tau cannot change its mounts).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import anyio
from pydantic_ai.workspaces import WorkspaceBackend

from tau.config.spec import JobSpec
from tau.environment import HostBackend
from tau.environment.policy import SandboxConfig, SandboxPolicy
from tau.errors import ConfigError, PreflightError
from tau.protocol import EnvironmentInfo


@dataclass
class OpenedWorkspace:
    backend: WorkspaceBackend
    info: EnvironmentInfo
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


async def open_workspace(job: JobSpec, session_id: str) -> OpenedWorkspace:
    env = job.environment
    if env.kind == "host":
        config = host_sandbox_config(job)
        await host_preflight(config)
        backend = HostBackend(env.workspace, env=job.env, sandbox=config, extra_roots=additional_directories(job))
        return OpenedWorkspace(backend, EnvironmentInfo(workspace=env.workspace), [backend.aclose])
    from tau.environment import sandbox

    try:
        await anyio.to_thread.run_sync(sandbox.reap_orphans)
        return await _open_docker(job, session_id)
    except sandbox.SandboxError as error:
        raise PreflightError(f"docker sandbox: {error}") from error


async def _open_docker(job: JobSpec, session_id: str) -> OpenedWorkspace:
    from tau.environment import sandbox as sb
    from tau.environment.docker import DockerBackend

    settings = job.environment.sandbox
    workspace = job.environment.workspace
    config = host_sandbox_config(job)
    if settings.container:
        attached = DockerBackend.attach(
            settings.container, root=workspace, workdir=settings.workdir, env=job.env, sandbox=config
        )
        await _start(attached)
        info = EnvironmentInfo(kind="docker", workspace=workspace, container=settings.container)
        return OpenedWorkspace(attached, info, [attached.aclose])
    image = settings.image or sb.image_tag()
    if not await anyio.to_thread.run_sync(lambda: sb.image_present(image)):
        hint = "build it with `tau sandbox build`" if settings.image is None else "build or load it first"
        raise PreflightError(f"docker sandbox: image {image} is not present ({hint})")
    spec = sb.SandboxSpec(
        image=image,
        network=settings.network,
        memory=settings.memory,
        cpus=settings.cpus,
        pids_limit=settings.pids_limit,
        keep=settings.keep,
    )
    managed = DockerBackend(workspace, session=session_id, spec=spec, env=job.env, sandbox=config)
    await _start(managed)
    container = managed.ref.id if managed.ref is not None else None

    async def remove() -> None:
        if managed.give_back():  # leased from `tau serve --local`'s pool (`docker_pool`): the server resets it
            return
        await managed.aclose()
        if not settings.keep:
            await anyio.to_thread.run_sync(lambda: sb.remove(session_id))

    info = EnvironmentInfo(kind="docker", workspace=workspace, image=image, container=container)
    return OpenedWorkspace(managed, info, [remove])


async def _start(backend: WorkspaceBackend) -> None:
    """Create or attach now, so a dead daemon or container fails before the first model call."""
    from pydantic_ai.workspaces import WorkspaceError

    try:
        await backend.working_dir()
    except (WorkspaceError, OSError) as error:
        raise PreflightError(f"docker sandbox: {error}") from error


# -- the host sandbox -------------------------------------------------------------------------------------------------


class DenyRules(Protocol):
    """What the sandbox asks the permission rules (implemented by `tau.permissions.PermissionPolicy`)."""

    def denies_read(self, path: str) -> bool: ...
    def denies_write(self, path: str) -> bool: ...
    def mask_roots(self) -> Iterable[str]: ...


def host_policy(job: JobSpec) -> SandboxPolicy:
    """The run's configured sandbox policy (see the module docstring)."""
    mode = job.permissions.mode
    if mode == "plan":
        return "read-only"
    if job.environment.sandbox.policy is not None:
        return job.environment.sandbox.policy
    return "full" if mode == "bypassPermissions" else "workspace-write"


_KERNEL_TREES = ("/proc", "/sys", "/dev")


def _writable_roots(job: JobSpec) -> tuple[str, ...]:
    roots = []
    named = [*job.environment.sandbox.writable_roots, *job.permissions.additional_directories]
    for root in named:
        path = _absolute(job, root)
        if path == "/" or any(path == tree or path.startswith(tree + "/") for tree in _KERNEL_TREES):
            raise ConfigError(f"{root!r} cannot be a writable root (it would undo the sandbox)", field="sandbox")
        roots.append(path)
    return tuple(dict.fromkeys(roots))


def _absolute(job: JobSpec, root: str) -> str:
    path = os.path.expanduser(root)
    if not os.path.isabs(path):
        path = os.path.join(job.environment.workspace, path)
    return posixpath.normpath(path)


def additional_directories(job: JobSpec) -> tuple[str, ...]:
    """The job's `permissions.additional_directories` as absolute paths: where its file tools may reach besides the
    workspace (the host backend's extra roots; commands get them as writable roots of the sandbox)."""
    return tuple(dict.fromkeys(_absolute(job, root) for root in job.permissions.additional_directories))


def host_sandbox_config(job: JobSpec, rules: DenyRules | None = None) -> SandboxConfig:
    """The `SandboxConfig` of a host run. `rules` default: the job's permission rules."""
    if rules is None:
        from tau.permissions.policy import PermissionPolicy

        policy = PermissionPolicy.from_spec(job.permissions, workspace=job.environment.workspace, home=job.home)
        # Only deny rules about paths (Read/Edit/Write) make masks: a run without them walks nothing.
        paths_denied = any(rule.covers(tool) for rule in policy.deny for tool in ("read", "edit", "write"))
        rules = policy if paths_denied else None
    roots = tuple(os.path.realpath(root) for root in rules.mask_roots()) if rules is not None else ()
    return SandboxConfig(
        policy=host_policy(job),
        network=job.environment.sandbox.network != "none",
        writable_roots=_writable_roots(job),
        deny_read=rules.denies_read if rules is not None else None,
        deny_write=rules.denies_write if rules is not None else None,
        mask_roots=roots,
        sanitise_git=not job.trust.trusted,
    )


async def host_preflight(config: SandboxConfig) -> None:
    """Probe bubblewrap (once per process); raise `PreflightError` (exit 3) when no sandbox is possible, unless the
    policy is `full` (which then runs commands plainly, the documented opt-out)."""
    from tau.environment.bwrap import find_launcher
    from tau.environment.hostsandbox import no_sandbox_message

    report = await anyio.to_thread.run_sync(find_launcher)
    if report.launcher is None and config.policy != "full":
        raise PreflightError(no_sandbox_message(report))
