"""A worker killed with SIGKILL in the middle of a run: another worker finishes it, and the client's event stream
has every event once, numbered without a gap, one `session.started`, one terminal event, and one notice where the
run moved. The stored transcript equals an inline run of the same script (the tools are deterministic).

What runs again is what the store had not committed (docs/decisions.md, "The temporal engine" and "Finished tool
calls are durable"): the model response in flight when the worker died is requested again (it was never recorded),
and the calls of the last committed response without a committed result run again (at-least-once); a call that
finished is committed at once and never runs again.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

from temporal_kit import TAU, Server, parity_kit, script_worker, stateless_model

from tau.config import load_job
from tau.protocol import Event
from tau.runtime import Runtime, Start
from tau.sessions import FileSessionStore
from tau.temporal.devserver import DevServer
from tau.temporal.engine import TemporalEngine
from tau.testing import calls, reply

SESSION = "failover"
TURNS = (
    calls(("write", {"file_path": "a.txt", "content": "A"})),
    calls(("bash", {"command": parity_kit.GATE})),
    reply("done"),
)
FLAGS = {"permission_mode": "bypassPermissions", "model": "test:scripted"}


async def _inline(box: parity_kit.Box) -> list[Event]:
    runtime = Runtime(
        FileSessionStore(box.state), env=box.env, cwd=box.work, model_factory=lambda job: stateless_model(TURNS)
    )
    job = load_job(prompt_text="Write, then wait.", flags=FLAGS, env=box.env, cwd=box.work)
    events: list[Event] = []
    box.open_gate()
    await runtime.submit(Start(job, SESSION), sinks=[events.append])
    return events


async def _submit(box: parity_kit.Box, server: Server, events: list[Event]) -> Any:
    engine = TemporalEngine(server.address, task_queue=server.task_queue, heartbeat=2.0)
    runtime = Runtime(FileSessionStore(box.state), engine=engine, env=box.env, cwd=box.work)
    job = load_job(prompt_text="Write, then wait.", flags=FLAGS, env=box.env, cwd=box.work)
    return await runtime.submit(Start(job, SESSION), sinks=[events.append])


def _gate_started(events: list[Event]) -> bool:
    return any(event.type == "tool.started" and getattr(event, "tool", "") == "bash" for event in events)


def test_a_killed_worker_s_run_is_finished_by_another(
    temporal_server: DevServer, task_queue: str, tmp_path: Path
) -> None:
    reference = parity_kit.Box(tmp_path / "inline")
    inline = asyncio.run(_inline(reference))
    assert inline[-1].type == "run.completed" and inline[-1].exit_code == 0

    box = parity_kit.Box(tmp_path / "temporal")
    server = Server(temporal_server.address, task_queue)
    events: list[Event] = []

    async def scenario() -> Any:
        first = script_worker(server, env=box.env, cwd=box.work, state=box.state, turns=TURNS)
        second = None
        try:
            run = asyncio.ensure_future(_submit(box, server, events))
            await parity_kit.wait_for(lambda: _gate_started(events), "the gate's tool.started")
            second = await asyncio.to_thread(
                script_worker, server, env=box.env, cwd=box.work, state=box.state, turns=TURNS
            )
            first.kill()  # mid-tool: the bash call waits for the gate
            box.open_gate()
            return await asyncio.wait_for(run, parity_kit.TIMEOUT)
        finally:
            first.stop()
            if second is not None:
                second.stop()

    completed = asyncio.run(scenario())
    assert (completed.status, completed.exit_code, completed.result) == ("completed", 0, "done")
    kinds = [event.type for event in events]
    assert [event.seq for event in events] == list(range(len(events)))  # each event once, no gap
    assert kinds.count("session.started") == 1 and kinds[0] == "session.started"
    assert kinds.count("run.completed") == 1 and kinds[-1] == "run.completed"
    moved = [event for event in events if event.type == "notice.emitted" and "moved to worker" in event.message]
    assert len(moved) == 1
    after = kinds[kinds.index("notice.emitted") :]
    assert "tool.started" in after and "message.completed" in after  # the run went on after the move
    started = [getattr(event, "tool", "") for event in events if event.type == "tool.started"]
    assert started == ["write", "bash", "bash"]  # only the killed call ran again: the write's result was committed
    assert (box.work / "a.txt").read_text() == "A"
    assert parity_kit.stored(box, SESSION)["messages"] == parity_kit.stored(reference, SESSION)["messages"]
    assert parity_kit.stored(box, SESSION)["statuses"][-1] == "completed"


def test_a_run_whose_last_attempt_is_lost_ends_with_a_terminal_event(
    temporal_server: DevServer, task_queue: str, tmp_path: Path
) -> None:
    """One attempt allowed and its worker killed: the front end ends the stream with a failed terminal event (exit 1)
    after the events it had, numbered on. (A workflow needs a live worker to record the lost attempt: a second one
    comes up after the kill, and does not run the run again.)"""
    box = parity_kit.Box(tmp_path)
    server = Server(temporal_server.address, task_queue)
    events: list[Event] = []

    async def scenario() -> Any:
        worker = script_worker(server, env=box.env, cwd=box.work, state=box.state, turns=TURNS)
        second = None
        engine = TemporalEngine(server.address, task_queue=server.task_queue, heartbeat=1.0, max_attempts=1)
        runtime = Runtime(FileSessionStore(box.state), engine=engine, env=box.env, cwd=box.work)
        job = load_job(prompt_text="Write, then wait.", flags=FLAGS, env=box.env, cwd=box.work)
        try:
            run = asyncio.ensure_future(runtime.submit(Start(job, SESSION), sinks=[events.append]))
            await parity_kit.wait_for(lambda: _gate_started(events), "the gate's tool.started")
            worker.kill()
            second = await asyncio.to_thread(
                script_worker, server, env=box.env, cwd=box.work, state=box.state, turns=TURNS
            )
            return await asyncio.wait_for(run, parity_kit.TIMEOUT)
        finally:
            worker.stop()
            if second is not None:
                second.stop()
            box.open_gate()  # the killed worker's bash, if it outlived it, ends

    completed = asyncio.run(scenario())
    assert (completed.status, completed.exit_code) == ("failed", 1)
    assert "the run was lost with its worker" in (completed.error or "")
    assert [event.seq for event in events] == list(range(len(events)))
    assert [event.type for event in events].count("run.completed") == 1 and events[-1] is completed
    assert not any(event.type == "notice.emitted" for event in events)  # it did not move: no second attempt


def test_the_run_goes_on_when_its_front_end_dies(temporal_server: DevServer, task_queue: str, tmp_path: Path) -> None:
    """`tau run --engine temporal` killed with SIGKILL: the run is the workflow's, not the front end's, and completes
    on its worker; the stored session says so."""
    from temporalio.client import Client

    from tau.temporal.engine import workflow_id

    box = parity_kit.Box(tmp_path)
    server = Server(temporal_server.address, task_queue)
    worker = script_worker(server, env=box.env, cwd=box.work, state=box.state, turns=TURNS)
    args = [
        *TAU,
        "run",
        "-p",
        "Write, then wait.",
        "--model",
        "test:scripted",
        "--permission-mode",
        "bypassPermissions",
    ]
    args += ["--session-id", SESSION, "--state-dir", str(box.state), "-o", "stream-json"]
    args += ["--engine", "temporal", "--address", server.address, "--task-queue", server.task_queue]
    front = subprocess.Popen(
        args, cwd=box.work, env=box.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert front.stdout is not None
        for line in front.stdout:
            event = json.loads(line)
            if event["type"] == "tool.started" and event["tool"] == "bash":
                front.kill()
                break
        front.wait(timeout=parity_kit.TIMEOUT)
        box.open_gate()

        async def result() -> Any:
            client = await Client.connect(server.address)
            return await asyncio.wait_for(client.get_workflow_handle(workflow_id(SESSION)).result(), parity_kit.TIMEOUT)

        assert asyncio.run(result()) is None  # no failure: the run ended by itself
    finally:
        worker.stop()
        if front.poll() is None:
            front.kill()
    assert parity_kit.stored(box, SESSION)["statuses"][-1] == "completed"
    assert (box.work / "a.txt").read_text() == "A"
