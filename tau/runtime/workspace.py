"""Opening a run's workspace: the confined host directory or the docker sandbox, with preflight and cleanup.

Host: `HostBackend` over the workspace root. Docker (`environment: docker`): orphaned managed containers are reaped
first; then either a managed container for this session (tau's sandbox image unless `sandbox.image` names another;
created before the first model call so a missing image or daemon is a preflight failure, exit 3) or, with
`sandbox.container`, an existing container that tau never stops or removes. A managed container is removed when the
run ends unless `sandbox.keep`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio
from pydantic_ai.workspaces import WorkspaceBackend

from tau.config.spec import JobSpec
from tau.environment import HostBackend
from tau.errors import PreflightError
from tau.protocol import EnvironmentInfo


@dataclass
class OpenedWorkspace:
    backend: WorkspaceBackend
    info: EnvironmentInfo
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


async def open_workspace(job: JobSpec, session_id: str) -> OpenedWorkspace:
    env = job.environment
    if env.kind == "host":
        return OpenedWorkspace(HostBackend(env.workspace, env=job.env), EnvironmentInfo(workspace=env.workspace))
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
    if settings.container:
        attached = DockerBackend.attach(settings.container, root=workspace, workdir=settings.workdir, env=job.env)
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
    managed = DockerBackend(workspace, session=session_id, spec=spec, env=job.env)
    await _start(managed)
    container = managed.ref.id if managed.ref is not None else None

    async def remove() -> None:
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
