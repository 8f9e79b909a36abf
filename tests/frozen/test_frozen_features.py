"""Smoke tests of the frozen binary (`TAU_BINARY`) for the features with their own heavy, lazily imported stacks:
a stdio MCP server (fastmcp/mcp), the docker sandbox (docker SDK + the bundled image context), `tau serve` answering
a Connect client (connectrpc, uvicorn, pyqwest), `tau watch` processing a dropped job (watchfiles). Each runs through
the binary; scripted model turns are recorded in-process first (frozen_helpers.record_cassette) and replayed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from frozen_helpers import record_cassette, stop, wait_for_url

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc._gen.runtime_connect import RuntimeServiceClientSync
from tau.testing import calls, reply

RunTau = Callable[..., subprocess.CompletedProcess[str]]  # the `run_tau` fixture of conftest.py
ROOT = Path(__file__).resolve().parents[2]
WHEREAMI = ROOT / "tests" / "docker" / "servers" / "whereami.py"


def _events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def _python3() -> str:
    """The host's python3 runs the stdio MCP server (stdlib only); the binary itself needs no Python."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.access(candidate, os.X_OK):
            return candidate
    return sys.executable


# -- a job with a stdio MCP server -----------------------------------------------------------------------------------


def test_job_with_a_stdio_mcp_server(run_tau: RunTau, hello_dir: Path, hermetic_env: dict[str, str]) -> None:
    config = {
        "mcpServers": {
            "whereami": {"command": _python3(), "args": [str(WHEREAMI)], "env": {"MARKER": "frozen-mcp"}},
        }
    }
    args = [
        "-p",
        "Where does the whereami server run?",
        "--mcp-config",
        json.dumps(config),
        "--strict-mcp-config",
        "--allow",
        "mcp__whereami__whereami",
        "--tools",
        "read",
    ]
    cassette = hello_dir.parent / "mcp-cassette.json"
    recorded = record_cassette(
        hello_dir,
        hermetic_env,
        args,
        [calls(("mcp__whereami__whereami", {})), reply("It runs where you are.")],
        cassette,
    )
    assert recorded.exit_code == 0, recorded

    result = run_tau("run", *args, "--model", f"replay:{cassette}", "-o", "stream-json")
    assert result.returncode == 0, result.stderr
    events = _events(result.stdout)
    started = events[0]
    assert started["type"] == "session.started"
    assert started["mcp"] == [{"name": "whereami", "status": "connected", "tools": 1, "error": None}]
    completed = [e for e in events if e["type"] == "tool.completed"]
    assert [(e["tool"], e["status"]) for e in completed] == [("mcp__whereami__whereami", "success")]
    assert "marker=frozen-mcp" in completed[0]["output"]
    assert events[-1]["type"] == "run.completed"
    assert events[-1]["exit_code"] == 0


# -- a job in the docker sandbox -------------------------------------------------------------------------------------


@pytest.fixture
def sandbox_image(run_tau: RunTau) -> str:
    """The sandbox image, built (a no-op when its content-hash tag exists) by the binary from its bundled context."""
    from tau.environment.docker import DockerEngine

    if not DockerEngine().ping():
        reason = "no Docker daemon answers (run scripts/install-docker.sh)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    result = run_tau("sandbox", "build", "-q", timeout=600)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.docker
def test_job_in_the_docker_sandbox(
    run_tau: RunTau, hello_dir: Path, hermetic_env: dict[str, str], sandbox_image: str
) -> None:
    from tau.environment.sandbox import image_tag

    # The binary's bundled build context hashes like the checkout's: the image CI built is the one the binary uses.
    assert sandbox_image == image_tag()
    args = ["-p", "Where are you?", "--sandbox", "docker", "--allow", "Bash(pwd)", "--tools", "bash"]
    cassette = hello_dir.parent / "docker-cassette.json"
    recorded = record_cassette(
        hello_dir, hermetic_env, args, [calls(("bash", {"command": "pwd"})), reply("In /workspace.")], cassette
    )
    assert recorded.exit_code == 0, recorded

    result = run_tau("run", *args, "--model", f"replay:{cassette}", "-o", "stream-json")
    assert result.returncode == 0, result.stderr
    events = _events(result.stdout)
    assert events[0]["environment"]["kind"] == "docker"
    completed = [e for e in events if e["type"] == "tool.completed"]
    assert [(e["tool"], e["status"]) for e in completed] == [("bash", "success")]
    assert "/workspace" in completed[0]["output"].splitlines(), completed[0]["output"]
    assert events[-1]["exit_code"] == 0


# -- tau serve answering a Connect client ----------------------------------------------------------------------------


def test_serve_answers_a_connect_client(tau_binary: Path, hermetic_env: dict[str, str], tmp_path: Path) -> None:
    token = "frozen-smoke-token"
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    workspace = tmp_path / "ws"
    workspace.mkdir()
    process = subprocess.Popen(
        [str(tau_binary), "serve", "--port", "0", "--token-file", str(token_file)],
        cwd=workspace,
        env=hermetic_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = wait_for_url(process)
        headers = {"authorization": f"Bearer {token}"}
        client = RuntimeServiceClientSync(url, timeout_ms=30_000)
        created = client.create_session(
            pb.CreateSessionRequest(model="test:frozen", session_id="frozen-serve"), headers=headers
        )
        assert created.session_id == "frozen-serve"
        events = list(client.run(pb.RunRequest(session_id="frozen-serve", prompt="Say something."), headers=headers))
        kinds = [event.WhichOneof("event") for event in events]
        assert "started" in kinds and kinds[-1] == "final", kinds
        final = events[-1].final
        assert (final.status, final.exit_code, final.result) == ("completed", 0, "success (no tool calls)"), final
        session = client.get_session(pb.GetSessionRequest(session_id="frozen-serve"), headers=headers).session
        assert (session.runs, session.model, session.terminal_reason) == (1, "test:frozen", "completed")
        assert session.status == pb.SESSION_STATUS_COMPLETED, session
    finally:
        code = stop(process)
    assert code in (0, -15), f"tau serve exited {code} on SIGTERM"


# -- tau watch processing one dropped job ----------------------------------------------------------------------------


def test_watch_once_processes_a_dropped_job(run_tau: RunTau, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "hello-job.md").write_text("---\nmodel: test:x\n---\nSay hello.\n")
    result = run_tau("watch", "--once", "--settle", "0", str(inbox), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    entry = inbox / "done" / "hello-job"
    assert sorted(path.name for path in entry.iterdir()) == [
        "events.jsonl",
        "hello-job.md",
        "result.json",
        "session_id",
    ]
    report = json.loads((entry / "result.json").read_text())
    assert (report["status"], report["exit_code"]) == ("completed", 0), report
    assert not (inbox / "failed").exists() or not any((inbox / "failed").iterdir())
