"""Smoke test of the tau image (top-level Containerfile): brought up as a compose service running `tau serve` with a
token file, read-only root and /tmp a tmpfs; a Connect client talks to it from the host.

- unary calls over Connect JSON with curl (what any HTTP client can do): no token -> 401 `unauthenticated`,
  with the token -> ListSessions answers;
- the Python Connect client: CreateSession (test model), a streamed Run, GetSession reporting the completed run.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc._gen.runtime_connect import RuntimeServiceClientSync

pytestmark = pytest.mark.docker

TOKEN = "image-smoke-token"  # conftest.TOKEN
SERVICE = "/tau.runtime.v1.RuntimeService"


def _curl(url: str, method: str, body: dict[str, Any], token: str | None) -> tuple[int, dict[str, Any]]:
    command = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-X", "POST", f"{url}{SERVICE}/{method}"]
    command += ["-H", "Content-Type: application/json", "--data", json.dumps(body), "--max-time", "10"]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=20, check=True)
    text, _, status = result.stdout.rpartition("\n")
    return int(status), json.loads(text) if text.strip() else {}


@pytest.fixture(scope="session")
def tau_url(tau_image_env: dict[str, str], request: pytest.FixtureRequest) -> str:
    """`http://127.0.0.1:PORT` of `tau serve` in the container, once it answers ListSessions."""
    services = request.getfixturevalue("docker_services")  # after tau_image_env's skip/fail checks
    docker_ip = request.getfixturevalue("docker_ip")
    url = f"http://{docker_ip}:{services.port_for('tau', 7433)}"

    def answers() -> bool:
        try:
            return _curl(url, "ListSessions", {}, TOKEN)[0] == 200
        except (subprocess.SubprocessError, ValueError):
            return False

    services.wait_until_responsive(check=answers, timeout=60.0, pause=0.5)
    return url


def test_unary_calls_over_connect_json_with_curl(tau_url: str) -> None:
    status, body = _curl(tau_url, "ListSessions", {}, None)
    assert status == 401, body
    assert body["code"] == "unauthenticated"

    status, body = _curl(tau_url, "ListSessions", {"pageSize": 10}, TOKEN)
    assert status == 200, body
    assert isinstance(body.get("sessions", []), list)

    status, body = _curl(tau_url, "GetSession", {"sessionId": "no-such-session"}, TOKEN)
    assert status == 404, body
    assert body["code"] == "not_found"


def test_python_connect_client_runs_a_session_in_the_container(tau_url: str) -> None:
    headers = {"authorization": f"Bearer {TOKEN}"}
    client = RuntimeServiceClientSync(tau_url, timeout_ms=30_000)
    created = client.create_session(
        pb.CreateSessionRequest(model="test:image", session_id="image-smoke"), headers=headers
    )
    assert created.session_id == "image-smoke"
    events = list(client.run(pb.RunRequest(session_id="image-smoke", prompt="Say something."), headers=headers))
    assert events[-1].WhichOneof("event") == "final", events
    final = events[-1].final
    assert (final.status, final.exit_code, final.result) == ("completed", 0, "success (no tool calls)")
    started = next(event.started for event in events if event.WhichOneof("event") == "started")
    assert started.cwd == "/work"

    session = client.get_session(pb.GetSessionRequest(session_id="image-smoke"), headers=headers).session
    assert (session.runs, session.model, session.status) == (1, "test:image", pb.SESSION_STATUS_COMPLETED)
    listed = client.list_sessions(pb.ListSessionsRequest(), headers=headers).sessions
    assert "image-smoke" in [item.session_id for item in listed]


def _docker_run(tag: str, *args: str, options: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    command = ["docker", "run", "--rm", "--read-only", "--tmpfs", "/tmp:rw,exec,nosuid,nodev,size=512m"]
    command += ["-e", "TAU_STATE_DIR=/tmp/tau-state", "--workdir", "/tmp"]
    command += [*options, tag, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_the_binary_as_pid_1_without_an_init_runs(tau_url: str, tau_image_env: dict[str, str]) -> None:
    """`docker run IMAGE ...` without `--init`: the one-file launcher is pid 1, alive, and not an adopting init."""
    done = _docker_run(tau_image_env["TAU_IMAGE_TAG"], "--version")
    assert (done.returncode, done.stderr) == (0, ""), done
    assert done.stdout.startswith("tau "), done


def test_a_default_container_refuses_a_sandboxed_run_and_says_how_out(
    tau_url: str, tau_image_env: dict[str, str]
) -> None:
    """Docker's default seccomp profile and masked /proc leave no sandbox: exit 3, one line naming both ways out."""
    done = _docker_run(tau_image_env["TAU_IMAGE_TAG"], "run", "-p", "Say something.", "--model", "test:image")
    assert done.returncode == 3, done
    line = done.stderr.strip().splitlines()[-1]
    assert "host sandbox unavailable" in line and "systempaths=unconfined" in line, done.stderr
    assert "TAU_SANDBOX_POLICY=full" in line and "Traceback" not in done.stderr, done.stderr


def test_a_container_that_allows_namespaces_runs_sandboxed(tau_url: str, tau_image_env: dict[str, str]) -> None:
    """With the two security options the docs name, tau builds its bubblewrap sandbox inside the container."""
    options = ("--security-opt", "seccomp=unconfined", "--security-opt", "systempaths=unconfined")
    tag = tau_image_env["TAU_IMAGE_TAG"]
    check = _docker_run(tag, "sandbox", "check", options=options)
    assert check.returncode == 0, check
    assert "sandboxed runs:     possible" in check.stdout, check.stdout
    done = _docker_run(tag, "run", "-p", "Say something.", "--model", "test:image", "-o", "json", options=options)
    assert done.returncode == 0, done
    assert json.loads(done.stdout)["status"] == "completed", done.stdout


def _logs(name: str) -> str:
    return subprocess.run(["docker", "logs", name], capture_output=True, text=True, timeout=30, check=False).stderr


def test_docker_stop_of_serve_as_pid_1_reports_the_sigterm(tau_url: str, tau_image_env: dict[str, str]) -> None:
    """Without `--init` the launcher (pid 1) cannot die of the signal it passes on; tau's exit status still says
    SIGTERM: 143, as with an init (the launcher used to fall through to 1)."""
    name = f"tau-pid1-{os.getpid()}"
    command = ["docker", "run", "-d", "--name", name, "-e", "TAU_STATE_DIR=/tmp/tau-state", "--workdir", "/tmp"]
    subprocess.run([*command, tau_image_env["TAU_IMAGE_TAG"], "serve"], capture_output=True, timeout=60, check=True)
    try:
        logs = ""
        for _ in range(100):  # up to ~30 s for "listening"
            logs = _logs(name)
            if "listening" in logs:
                break
            subprocess.run(["sleep", "0.3"], check=True)
        assert "listening" in logs, logs
        subprocess.run(["docker", "stop", "-t", "30", name], capture_output=True, timeout=60, check=True)
        inspect = ["docker", "inspect", name, "--format", "{{.State.ExitCode}}"]
        code = subprocess.run(inspect, capture_output=True, text=True, timeout=30, check=True).stdout.strip()
        assert code == "143", _logs(name)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60, check=False)
