"""Whole runs in the docker sandbox: tools execute in the container, the first event names it, and the managed
container is gone afterwards (or kept, and then never reaped as an orphan)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import ModelRequest, ToolReturnPart

from tau.config.spec import EnvironmentSpec, JobSpec, McpSpec, ModelSpec, PermissionsSpec, SandboxSettings
from tau.environment import sandbox
from tau.environment.docker import DockerEngine
from tau.errors import PreflightError
from tau.protocol import Event
from tau.runtime import prepare_run
from tau.testing import calls, reply, scripted_model

pytestmark = [pytest.mark.docker, pytest.mark.anyio]


UID = 1000  # the non-root owner of test workspaces, as in conftest.py


def owned_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, UID, UID)
    return path


def job_in(workspace: Path, **settings: Any) -> JobSpec:
    return JobSpec(
        source="<test>",
        prompt="look around",
        model=ModelSpec(provider="test", name="scripted"),
        environment=EnvironmentSpec(kind="docker", workspace=str(workspace), sandbox=SandboxSettings(**settings)),
        permissions=PermissionsSpec(mode="bypassPermissions"),
    )


def returns(messages: list[Any]) -> list[str]:
    return [
        p.model_response_str()
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, ToolReturnPart)
    ]


async def test_tools_run_inside_the_managed_container_which_is_removed_after(
    tmp_path: Path, sandbox_image: str, docker_engine: DockerEngine
) -> None:
    workspace = owned_dir(tmp_path / "ws")
    model, script = scripted_model(
        [
            calls(("bash", {"command": "pwd; id -u"})),
            calls(("write", {"file_path": "out.txt", "content": "from the sandbox\n"})),
            reply("done"),
        ]
    )
    events: list[Event] = []
    driver = await prepare_run(job_in(workspace, image=sandbox_image), sinks=[events.append], model=model)
    try:
        result = await driver.run()
    finally:
        await driver.close()
    assert result.exit_code == 0
    started = events[0]
    assert started.type == "session.started"
    assert (started.environment.kind, started.environment.image) == ("docker", sandbox_image)
    bash_output = returns(script.requests[1])[0]
    assert "/workspace\n" in bash_output  # the container's mount point, not the host path
    assert "\n1000" in bash_output  # the workspace owner's uid, not root
    assert (workspace / "out.txt").read_text() == "from the sandbox\n"
    assert docker_engine.find_session(result.session_id) is None


async def test_kept_container_survives_its_owner_and_is_not_reaped(
    tmp_path: Path, sandbox_image: str, docker_engine: DockerEngine
) -> None:
    workspace = owned_dir(tmp_path / "ws")
    model, _ = scripted_model([calls(("bash", {"command": "true"})), reply("ok")])
    driver = await prepare_run(job_in(workspace, image=sandbox_image, keep=True), model=model)
    try:
        result = await driver.run()
    finally:
        await driver.close()
    try:
        kept = [s for s in sandbox.list_sandboxes() if s.session == result.session_id]
        assert [s.kept for s in kept] == [True]
        assert all(s.session != result.session_id for s in sandbox.reap_orphans())
    finally:
        sandbox.remove(result.session_id)
    assert docker_engine.find_session(result.session_id) is None


async def test_missing_image_is_a_preflight_failure(tmp_path: Path, docker_engine: DockerEngine) -> None:
    workspace = owned_dir(tmp_path / "ws")
    with pytest.raises(PreflightError, match=r"image tau-sandbox:does-not-exist is not present"):
        await prepare_run(job_in(workspace, image="tau-sandbox:does-not-exist"))
    assert os.listdir(workspace) == []


async def test_stdio_mcp_servers_run_inside_the_sandbox_unless_marked_host(
    tmp_path: Path, sandbox_image: str, docker_engine: DockerEngine
) -> None:
    workspace = owned_dir(tmp_path / "ws")
    server = Path(__file__).parent / "servers" / "whereami.py"
    (workspace / "whereami.py").write_text(server.read_text())
    config = {
        "mcpServers": {
            "boxed": {"command": "python3", "args": ["whereami.py"], "env": {"MARKER": "in"}},
            "hosted": {"command": sys.executable, "args": [str(server)], "env": {"MARKER": "out"}, "host": True},
        }
    }
    job = job_in(workspace, image=sandbox_image).model_copy(update={"mcp": McpSpec(config=(json.dumps(config),))})
    model, script = scripted_model([calls(("mcp__boxed__whereami", {}), ("mcp__hosted__whereami", {})), reply("done")])
    events: list[Event] = []
    driver = await prepare_run(job, sinks=[events.append], model=model)
    try:
        result = await driver.run()
    finally:
        await driver.close()
    assert result.exit_code == 0
    started = events[0]
    assert started.type == "session.started"
    assert [(m.name, m.status, m.tools) for m in started.mcp] == [("boxed", "connected", 1), ("hosted", "connected", 1)]
    boxed, hosted = returns(script.requests[1])
    assert boxed == "cwd=/workspace marker=in"  # the bind mount's path inside the container
    assert hosted == f"cwd={workspace} marker=out"  # the host path
