"""CreateSession's docker and existing-container environments over real HTTP: the run's tools act inside the
container (a managed sandbox from tau's image, or a container the client names), the workspace is the bind mount.
Needs a Docker daemon: skipped without one locally, a failure with CI=true."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from rpc_helpers import RunScripts, Served

from tau.environment.docker import DockerEngine
from tau.environment.sandbox import build_image
from tau.rpc._gen import runtime_pb2 as pb
from tau.testing import calls, reply

pytestmark = pytest.mark.docker

UID = 1000  # the sandbox's non-root user owns the workspace


@pytest.fixture(scope="module")
def sandbox_image() -> str:
    """tau's sandbox image (`tau sandbox build`; instant when its tag exists)."""
    if not DockerEngine().ping():
        reason = "no Docker daemon answers (run scripts/install-docker.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return build_image()


def owned_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, UID, UID)
    return path


def run_in(served: Served, environment: pb.Environment) -> list[pb.RunResponse]:
    with served.client() as client:
        session_id = served.create(client, environment=environment)
        request = pb.RunRequest(session_id=session_id, prompt="where am I?")
        return list(client.run(request, headers=served.headers))


PROBE = [calls(("bash", {"command": "pwd; echo inside > probe.txt"})), reply("in the container")]


def test_a_docker_session_runs_its_tools_in_a_managed_sandbox(
    serve: Callable[..., Served], tmp_path: Path, sandbox_image: str
) -> None:
    workspace = owned_dir(tmp_path / "box")
    served = serve(RunScripts([PROBE]))
    events = run_in(served, pb.Environment(docker=pb.DockerEnvironment(workspace=str(workspace))))
    started = next(e.started for e in events if e.HasField("started"))
    assert (started.environment, started.cwd) == ("docker", str(workspace))
    [result] = [e.tool_result for e in events if e.HasField("tool_result")]
    assert result.status == "success" and "/workspace" in result.output
    assert events[-1].final.status == "completed"
    assert (workspace / "probe.txt").read_text() == "inside\n"  # through the bind mount


def test_a_container_session_attaches_to_the_named_container(
    serve: Callable[..., Served], tmp_path: Path, sandbox_image: str
) -> None:
    workspace = owned_dir(tmp_path / "src")
    name = f"rpc-box-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["docker", "run", "-d", "--name", name, "-v", f"{workspace}:/src", "-w", "/src", "--user", f"{UID}:{UID}",
         sandbox_image, "sleep", "infinity"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        served = serve(RunScripts([PROBE]))
        container = pb.ContainerEnvironment(container=name, workspace=str(workspace))
        events = run_in(served, pb.Environment(container=container))
        assert next(e.started.environment for e in events if e.HasField("started")) == "docker"
        [result] = [e.tool_result for e in events if e.HasField("tool_result")]
        assert result.status == "success" and "/src" in result.output
        assert events[-1].final.status == "completed"
        assert (workspace / "probe.txt").read_text() == "inside\n"
        assert DockerEngine().find(name) is not None  # an attached container is never removed
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def test_a_missing_container_fails_the_run_at_preflight(serve: Callable[..., Served], sandbox_image: str) -> None:
    served = serve(RunScripts([PROBE]))
    events = run_in(served, pb.Environment(container=pb.ContainerEnvironment(container="no-such-box-4f1c")))
    assert [e.WhichOneof("event") for e in events][-3:] == ["error", "status", "final"]
    assert (events[-1].final.exit_code, events[-3].error.code) == (3, "preflight_failed")
