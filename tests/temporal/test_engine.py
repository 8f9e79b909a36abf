"""The temporal engine's contract beside the parity scenarios: what `InlineEngine` raises before any event is raised
here too (with the same exit code), one run per session across the fleet, budgets end runs with their exit codes,
an unreachable server is a preflight failure — through a real dev server and an in-process worker, and `tau run`."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from temporal_kit import TAU, Server, parity_kit, script_worker, stateless_model

from tau.config import load_job
from tau.errors import ConfigError, PreflightError
from tau.protocol import Event
from tau.runtime import Continue, Runtime, Start
from tau.sessions import FileSessionStore
from tau.temporal.devserver import DevServer
from tau.temporal.engine import TemporalEngine
from tau.temporal.worker import make_worker
from tau.testing import Turn, calls, reply

MISSING_MCP = json.dumps({"mcpServers": {"x": {"command": "/nonexistent/cmd", "required": True}}})


async def _with_worker(box: parity_kit.Box, server: Server, turns: list[Turn], body: Any) -> Any:
    from temporalio.client import Client

    client = await Client.connect(server.address)
    factory = lambda job: stateless_model(turns)  # noqa: E731
    worker = make_worker(
        client, FileSessionStore(box.state), task_queue=server.task_queue, env=box.env, model_factory=factory
    )
    engine = TemporalEngine(server.address, task_queue=server.task_queue)
    runtime = Runtime(FileSessionStore(box.state), engine=engine, env=box.env, cwd=box.work)
    async with worker:
        return await body(runtime)


def _job(box: parity_kit.Box, **flags: Any) -> Any:
    given = {"model": "test:scripted", "permission_mode": "bypassPermissions", **flags}
    return load_job(prompt_text="Go.", flags=given, env=box.env, cwd=box.work)


@pytest.fixture
def server(temporal_server: DevServer, task_queue: str) -> Server:
    return Server(temporal_server.address, task_queue)


def test_a_run_that_cannot_start_on_the_worker_raises_its_preflight_error(server: Server, tmp_path: Path) -> None:
    box = parity_kit.Box(tmp_path)
    events: list[Event] = []

    async def body(runtime: Runtime) -> None:
        job = _job(box, mcp_config=[MISSING_MCP])
        with pytest.raises(PreflightError, match="required MCP server failed to start: 'x'"):
            await runtime.submit(Start(job, "s"), sinks=[events.append])

    asyncio.run(_with_worker(box, server, [reply("never")], body))
    assert events == []  # nothing started: no event, as inline


def test_a_budget_ends_the_run_with_its_exit_code(server: Server, tmp_path: Path) -> None:
    box = parity_kit.Box(tmp_path)
    turns = [calls(("bash", {"command": "echo 1"})), calls(("bash", {"command": "echo 2"})), reply("done")]

    async def body(runtime: Runtime) -> Any:
        return await runtime.submit(Start(_job(box, max_turns=1), "s"))

    completed = asyncio.run(_with_worker(box, server, turns, body))
    assert (completed.status, completed.terminal_reason, completed.exit_code) == ("failed", "max_turns", 53)


def test_one_run_per_session_across_the_fleet(server: Server, tmp_path: Path) -> None:
    """A second run of a session whose run is on a worker is refused by Temporal itself (workflow id per session)."""
    box = parity_kit.Box(tmp_path)
    turns = [calls(("bash", {"command": parity_kit.GATE})), reply("done"), reply("again")]

    async def body(runtime: Runtime) -> Any:
        events: list[Event] = []
        first = asyncio.ensure_future(runtime.submit(Start(_job(box), "s"), sinks=[events.append]))
        await parity_kit.wait_for(lambda: parity_kit.started_tool(parity_kit.as_dicts(events)), "tool.started")
        other = Runtime(
            FileSessionStore(box.state), engine=TemporalEngine(server.address, task_queue=server.task_queue)
        )
        with pytest.raises(ConfigError, match="session s is already running on a worker"):
            await other.submit(Continue("s", "also this"))
        box.open_gate()
        return await first

    completed = asyncio.run(_with_worker(box, server, turns, body))
    assert (completed.status, completed.result) == ("completed", "done")


def test_tau_run_with_an_unreachable_server_is_a_preflight_failure(tmp_path: Path) -> None:
    box = parity_kit.Box(tmp_path)
    args = [*TAU, "run", "-p", "hi", "--model", "test:m", "--state-dir", str(box.state)]
    args += ["--engine", "temporal", "--address", "127.0.0.1:1", "-o", "stream-json"]
    done = subprocess.run(args, cwd=box.work, env=box.env, capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr.startswith("tau: temporal: cannot reach 127.0.0.1:1: "), done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_tau_run_without_an_address_is_a_usage_error(tmp_path: Path) -> None:
    box = parity_kit.Box(tmp_path)
    args = [*TAU, "run", "-p", "hi", "--model", "test:m", "--state-dir", str(box.state), "--engine", "temporal"]
    done = subprocess.run(args, cwd=box.work, env=box.env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr == "tau: --engine temporal needs the server: --address HOST:PORT or TAU_TEMPORAL_ADDRESS\n"


def test_sigterm_to_tau_run_cancels_the_run_on_the_worker(server: Server, tmp_path: Path) -> None:
    """`tau run --engine temporal` killed politely: the cancel reaches the worker, the run ends `terminated` with its
    terminal event rendered here, exit 143, as inline."""
    box = parity_kit.Box(tmp_path)
    turns = [calls(("bash", {"command": parity_kit.GATE})), reply("never")]
    worker = script_worker(server, env=box.env, cwd=box.work, state=box.state, turns=turns)
    args = [*TAU, "run", "-p", "Wait.", "--model", "test:scripted", "--permission-mode", "bypassPermissions"]
    args += ["--state-dir", str(box.state), "-o", "stream-json", "--engine", "temporal", "--address", server.address]
    args += ["--task-queue", server.task_queue]
    proc = subprocess.Popen(args, cwd=box.work, env=box.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(json.loads(line))
            if lines[-1]["type"] == "tool.started":
                proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        worker.stop()
        if proc.poll() is None:
            proc.kill()
    last = lines[-1]
    assert (code, last["type"], last["terminal_reason"], last["exit_code"]) == (143, "run.completed", "terminated", 143)
    assert not (box.work / "gate").exists()
