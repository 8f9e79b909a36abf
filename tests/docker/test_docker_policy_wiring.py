"""From a job to the container's walls: plan mode, leaving it, the real permission rules as masks, the sanitised git
config, and what happens where Landlock or the executor is missing (never a weaker wall than asked for)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import ModelRequest, ToolReturnPart

from tau.config.spec import EnvironmentSpec, JobSpec, ModelSpec, PermissionsSpec, SandboxSettings
from tau.environment import sandbox
from tau.environment.docker import DockerBackend, DockerEngine
from tau.environment.policy import SandboxConfig, policy_scope
from tau.environment.sandbox import LOCAL_BASE
from tau.errors import PreflightError
from tau.runtime import prepare_run
from tau.runtime.workspace import OpenedWorkspace, open_workspace
from tau.testing import calls, reply, scripted_model

pytestmark = [pytest.mark.docker, pytest.mark.anyio]

MakeBackend = Callable[..., DockerBackend]
UID = 1000


def make_tree(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    if os.geteuid() == 0:
        for path in [root, *root.rglob("*")]:
            os.chown(path, UID, UID, follow_symlinks=False)
    return root


def job_in(workspace: Path, mode: str = "default", deny: tuple[str, ...] = (), **settings: Any) -> JobSpec:
    return JobSpec(
        source="<test>",
        prompt="look around",
        model=ModelSpec(provider="test", name="scripted"),
        environment=EnvironmentSpec(kind="docker", workspace=str(workspace), sandbox=SandboxSettings(**settings)),
        permissions=PermissionsSpec(mode=mode, deny=deny),  # type: ignore[arg-type]
    )


def returns(messages: list[Any]) -> list[str]:
    return [
        part.model_response_str()
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, ToolReturnPart)
    ]


async def close(opened: OpenedWorkspace) -> None:
    for closer in opened.closers:
        await closer()


@pytest.fixture
def session() -> Iterator[str]:
    name = f"wiring-{uuid.uuid4().hex[:8]}"
    yield name
    for found in sandbox.list_sandboxes():
        if found.session == name:
            sandbox.remove(found.id)


async def test_plan_mode_then_approval_gets_a_container_mounted_for_each(
    tmp_path: Path, sandbox_image: str, docker_engine: DockerEngine, session: str
) -> None:
    root = make_tree(tmp_path / "ws", {"data.txt": "data\n", "secret.env": "TOKEN=hunter2\n"})
    settings = {"image": sandbox_image, "keep": True}  # kept: the approved run finds the plan run's container
    deny = ("Read(./secret.env)",)
    planning = await open_workspace(job_in(root, "plan", deny, **settings), session)
    try:
        write = await planning.backend.run("echo pwned > data.txt", shell=True)  # type: ignore[attr-defined]
        secret = await planning.backend.run("cat secret.env", shell=True)  # type: ignore[attr-defined]
        with pytest.raises(PermissionError, match="denied by a Read rule"):
            await planning.backend.read_bytes("/workspace/secret.env")  # type: ignore[attr-defined]
    finally:
        await close(planning)
    assert write.exit_code != 0 and "Read-only file system" in write.stderr
    assert secret.exit_code != 0 and "hunter2" not in secret.stdout
    assert (root / "data.txt").read_text() == "data\n"
    replanning = await open_workspace(job_in(root, "plan", deny, **settings), session)
    await close(replanning)
    assert replanning.info.container == planning.info.container  # the same layout: the kept container is reused
    approved = await open_workspace(job_in(root, "default", deny, **settings), session)
    try:
        edit = await approved.backend.run("echo edited > data.txt", shell=True)  # type: ignore[attr-defined]
        secret = await approved.backend.run("cat secret.env", shell=True)  # type: ignore[attr-defined]
    finally:
        await close(approved)
    assert approved.info.container != planning.info.container  # made anew: read-write now
    assert planning.info.container is not None and docker_engine.find(planning.info.container) is None
    assert edit.exit_code == 0, edit
    assert (root / "data.txt").read_text() == "edited\n"
    assert secret.exit_code != 0 and "hunter2" not in secret.stdout


async def test_a_deny_rule_over_the_whole_workspace_is_a_preflight_failure(
    tmp_path: Path, sandbox_image: str, session: str
) -> None:
    root = make_tree(tmp_path / "ws", {"data.txt": "data\n"})
    with pytest.raises(PreflightError, match="covers the whole workspace"):
        await open_workspace(job_in(root, "default", ("Read(./**)",), image=sandbox_image), session)


async def test_plan_mode_sees_the_sanitised_git_config(make_backend: MakeBackend, tmp_path: Path) -> None:
    root = make_tree(tmp_path / "ws", {"a.txt": "a\n", "evil.sh": "#!/bin/sh\necho EVIL-RAN\n"})
    (root / "evil.sh").chmod(0o755)
    setup = make_backend(root)  # no policy: makes the repository and its hostile config
    script = "git init -q && git add a.txt && git -c user.name=t -c user.email=t@e commit -qm one && echo b > a.txt"
    script += " && git config diff.external /workspace/evil.sh && git config core.pager /workspace/evil.sh"
    assert (await setup.run(script, shell=True)).exit_code == 0
    assert "EVIL-RAN" in (await setup.run(["git", "diff"])).stdout  # the config works where it is not sanitised
    plan = make_backend(root, sandbox=SandboxConfig(policy="read-only", mask_roots=(os.path.realpath(root),)))
    diff = await plan.run(["git", "diff"])
    config = await plan.run(["cat", ".git/config"])
    assert diff.exit_code == 0, diff
    assert "EVIL-RAN" not in diff.stdout and "+b" in diff.stdout
    assert "external" not in config.stdout and "pager" not in config.stdout
    assert "evil.sh" in (root / ".git" / "config").read_text()  # the host's file is untouched


# Where the container cannot enforce a read-only command ---------------------------------------------------------

NO_LANDLOCK = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["landlock_create_ruleset"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}],
}


def start_box(root: Path, image: str, *options: str) -> str:
    """A user's container (as `docker run` makes it) with `root` at /workspace; returns its name."""
    name = f"user-box-{uuid.uuid4().hex[:8]}"
    argv = ["docker", "run", "-d", "--name", name, "--cap-drop", "ALL", "--user", f"{UID}:{UID}", *options]
    argv += ["-v", f"{root}:/workspace", "-w", "/workspace", image, "sleep", "infinity"]
    subprocess.run(argv, check=True, capture_output=True)
    return name


@pytest.fixture
def without_landlock(tmp_path: Path, sandbox_image: str, docker_engine: DockerEngine) -> Iterator[tuple[str, Path]]:
    """A user's container whose seccomp profile answers Landlock with ENOSYS (an old kernel, as far as tau sees)."""
    root = make_tree(tmp_path / "ws", {"data.txt": "data\n"})
    profile = tmp_path / "no-landlock.json"
    profile.write_text(json.dumps(NO_LANDLOCK))
    name = start_box(root, sandbox_image, "--security-opt", f"seccomp={profile}")
    try:
        yield name, root
    finally:
        docker_engine.remove(name)


async def test_an_attached_container_cannot_hide_denied_paths_so_it_is_refused(
    tmp_path: Path, sandbox_image: str, docker_engine: DockerEngine, session: str
) -> None:
    root = make_tree(tmp_path / "ws", {"data.txt": "data\n", "secret.env": "TOKEN=hunter2\n"})
    name = start_box(root, sandbox_image)
    try:
        job = job_in(root, "default", ("Read(./secret.env)",), container=name)
        with pytest.raises(PreflightError, match=r"cover 1 path\(s\) in the workspace \(such as secret.env\)"):
            await open_workspace(job, session)
        opened = await open_workspace(job_in(root, "default", ("Read(./absent.env)",), container=name), session)
        try:  # nothing there to hide: the run may use the container
            result = await opened.backend.run(["cat", "data.txt"])  # type: ignore[attr-defined]
        finally:
            await close(opened)
        assert (result.exit_code, result.stdout) == (0, "data\n")
        assert docker_engine.find(name) is not None  # never removed: the user's container
    finally:
        docker_engine.remove(name)


async def test_without_landlock_a_read_only_command_is_refused_not_run_weaker(
    without_landlock: tuple[str, Path], docker_engine: DockerEngine
) -> None:
    name, root = without_landlock
    backend = DockerBackend.attach(name, engine=docker_engine, sandbox=SandboxConfig(policy="workspace-write"))
    try:
        written = await backend.run("echo one > made.txt", shell=True)  # workspace-write: the mounts hold it
        assert backend.landlock == (None, "kernel or seccomp profile without Landlock")
        with policy_scope("read-only"):
            refused = await backend.run("echo pwned > data.txt", shell=True)
            harmless = await backend.run(["cat", "data.txt"])
    finally:
        backend.close()
    assert written.exit_code == 0 and (root / "made.txt").read_text() == "one\n"
    for result in (refused, harmless):
        assert result.exit_code == 126
        assert result.stderr.startswith("tau sandbox: this command may only read, and Landlock is not available")
    assert (root / "data.txt").read_text() == "data\n"


async def test_without_landlock_full_runs_read_only_commands_plainly(
    without_landlock: tuple[str, Path], docker_engine: DockerEngine
) -> None:
    name, _root = without_landlock
    backend = DockerBackend.attach(name, engine=docker_engine, sandbox=SandboxConfig(policy="full"))
    try:
        with policy_scope("read-only"):
            result = await backend.run(["cat", "data.txt"])
    finally:
        backend.close()
    assert (result.exit_code, result.stdout) == (0, "data\n")  # as on the host: `full` runs plainly without a wall


async def test_without_an_executor_only_a_read_only_mount_runs_read_only_commands(
    make_backend: MakeBackend, tmp_path: Path
) -> None:
    writable = make_tree(tmp_path / "rw", {"data.txt": "data\n"})
    default = make_backend(writable, image=LOCAL_BASE, sandbox=SandboxConfig(policy="workspace-write"))
    assert (await default.run("echo one > made.txt", shell=True)).exit_code == 0
    assert not default.uses_executor
    with policy_scope("read-only"):
        refused = await default.run(["cat", "data.txt"])
    assert refused.exit_code == 126 and "executor does not run there: no python3 in the image" in refused.stderr
    planned = make_tree(tmp_path / "ro", {"data.txt": "data\n"})
    plan = make_backend(planned, image=LOCAL_BASE, sandbox=SandboxConfig(policy="read-only"))
    with policy_scope("read-only"):
        read = await plan.run(["cat", "data.txt"])
        write = await plan.run("echo pwned > data.txt", shell=True)
    assert (read.exit_code, read.stdout) == (0, "data\n")  # the read-only mount holds the policy
    assert write.exit_code != 0 and "Read-only file system" in write.stderr


async def test_a_command_judged_read_only_cannot_write_in_a_default_mode_run(
    make_backend: MakeBackend, tmp_path: Path, sandbox_image: str
) -> None:
    """`git diff` is on the read-only allowlist, so default mode runs it without asking, under `read-only`; the
    repository's own config makes it run a program that writes: Landlock stops the write (the program still runs:
    outside plan mode the container sees the real git config)."""
    evil = "#!/bin/sh\necho EVIL-RAN\necho pwned > /workspace/data.txt\n"
    root = make_tree(tmp_path / "ws", {"data.txt": "data\n", "a.txt": "a\n", "evil.sh": evil})
    (root / "evil.sh").chmod(0o755)
    script = "git init -q && git add a.txt && git -c user.name=t -c user.email=t@e commit -qm one && echo b > a.txt"
    script += " && git config diff.external /workspace/evil.sh"
    assert (await make_backend(root).run(script, shell=True)).exit_code == 0
    model, steps = scripted_model([calls(("bash", {"command": "git diff"})), reply("done")])
    driver = await prepare_run(job_in(root, "default", image=sandbox_image), model=model)
    try:
        result = await driver.run()
    finally:
        await driver.close()
    assert result.exit_code == 0
    [output] = returns(steps.requests[1])
    assert "EVIL-RAN" in output  # it ran: the permission layer allowed it as read-only ...
    assert "Permission denied" in output  # ... and the kernel refused its write
    assert (root / "data.txt").read_text() == "data\n"
