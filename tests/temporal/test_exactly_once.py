"""Exactly-once model responses across a lost worker, at the exact moments that matter: a worker process SIGKILLs
itself right after a chosen commit (crash_worker.py), a second worker takes the retry, and the scripted model fails
any request for a step some worker already asked for (a ledger shared by both processes).

- Killed right after the commit of the run's final snapshot (the answer, `completed`) or of a terminal failure
  (`max_turns`, exit 53): the retry ends with the stored outcome — same status, terminal reason, exit code and result
  as an inline run — asks the model nothing, runs no tool and commits nothing.
- Killed right after the commit of a step whose response asked for a tool call (tau commits a response when it
  arrives, before its calls run): the retry runs that call (it never ran) and asks the model only for the steps never
  asked.
- Killed right after a finished call's result was committed (provisionally, before the next model request): the
  retry runs no tool again (a bash call counts its executions in a file) and asks only for the next step.
- Killed after the terminal event reached the workflow, before the activity returned: the retry adds nothing.
Each stream has every event once, numbered without a gap, one `session.started`, one terminal event (the last).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from temporal_kit import HERE, Server, Worker, parity_kit, stateless_model, turns_json

from tau.config import load_job
from tau.protocol import Event, RunCompleted, ToolStarted
from tau.runtime import Runtime, Start
from tau.sessions import FileSessionStore
from tau.temporal.devserver import DevServer
from tau.temporal.engine import TemporalEngine
from tau.testing import Turn, calls, reply

SESSION = "once"
WRITES = (
    calls(("write", {"file_path": "a.txt", "content": "A"})),
    calls(("write", {"file_path": "b.txt", "content": "B"})),
    reply("done"),
)
CAPPED = (calls(("write", {"file_path": "a.txt", "content": "A"})), reply("summary"))
COUNTED = (  # each call appends a line to its file: the number of lines is the number of executions
    calls(("bash", {"command": "echo ran >> a.count"})),
    calls(("bash", {"command": "echo ran >> b.count"})),
    reply("done"),
)
FLAGS = {"permission_mode": "bypassPermissions", "model": "test:scripted"}


def _crash_worker(server: Server, box: parity_kit.Box, turns: tuple[Turn, ...], ledger: Path, kill: str) -> Worker:
    args = [sys.executable, str(HERE / "crash_worker.py"), server.address, server.task_queue, str(box.state)]
    args += [turns_json(turns), str(ledger), kill]
    return Worker(args, env={**box.env, "PYTHONPATH": os.pathsep.join(sys.path)}, cwd=box.work)


def _job(box: parity_kit.Box, flags: dict[str, Any]) -> Any:
    return load_job(prompt_text="Write the files.", flags={**FLAGS, **flags}, env=box.env, cwd=box.work)


async def _inline(box: parity_kit.Box, turns: tuple[Turn, ...], flags: dict[str, Any]) -> RunCompleted:
    runtime = Runtime(
        FileSessionStore(box.state), env=box.env, cwd=box.work, model_factory=lambda job: stateless_model(turns)
    )
    return await runtime.submit(Start(_job(box, flags), SESSION))


def _scenario(
    server: Server, box: parity_kit.Box, turns: tuple[Turn, ...], kill: str, flags: dict[str, Any]
) -> tuple[RunCompleted, list[Event], list[str]]:
    ledger = box.root / "ledger"
    ledger.mkdir()
    events: list[Event] = []

    async def run() -> RunCompleted:
        engine = TemporalEngine(server.address, task_queue=server.task_queue, heartbeat=1.0)
        runtime = Runtime(FileSessionStore(box.state), engine=engine, env=box.env, cwd=box.work)
        first = _crash_worker(server, box, turns, ledger, kill)
        second = None
        try:
            submitted = asyncio.ensure_future(runtime.submit(Start(_job(box, flags), SESSION), sinks=[events.append]))
            code = await asyncio.to_thread(first.proc.wait, parity_kit.TIMEOUT)
            assert code == -9, f"the worker did not kill itself after the {kill} commit: {''.join(first.err)}"
            second = await asyncio.to_thread(_crash_worker, server, box, turns, ledger, "")
            return await asyncio.wait_for(submitted, parity_kit.TIMEOUT)
        finally:
            first.stop()
            if second is not None:
                second.stop()

    completed = asyncio.run(run())
    return completed, events, sorted(path.name for path in ledger.iterdir())


def _one_stream(events: list[Event], completed: RunCompleted) -> list[str]:
    """Every event once, no gap, one start and one terminal event (the last); the kinds after the move notice."""
    kinds = [event.type for event in events]
    assert [event.seq for event in events] == list(range(len(events)))
    assert kinds.count("session.started") == 1 and kinds[0] == "session.started"
    assert kinds.count("run.completed") == 1 and events[-1] == completed
    moved = [i for i, e in enumerate(events) if e.type == "notice.emitted" and "moved to worker" in e.message]
    assert len(moved) == 1, kinds
    return kinds[moved[0] + 1 :]


def _ended(completed: RunCompleted) -> tuple[Any, ...]:
    return (completed.status, completed.terminal_reason, completed.exit_code, completed.result)


@pytest.mark.parametrize(
    ("turns", "kill", "flags", "steps"),
    [(WRITES, "completed:1", {}, 3), (CAPPED, "max_turns:1", {"max_turns": 1}, 2)],
    ids=["final-answer", "turn-limit"],
)
def test_a_run_that_ended_before_its_worker_died_ends_as_stored(
    temporal_server: DevServer,
    task_queue: str,
    tmp_path: Path,
    turns: tuple[Turn, ...],
    kill: str,
    flags: dict[str, Any],
    steps: int,
) -> None:
    reference = parity_kit.Box(tmp_path / "inline")
    inline = asyncio.run(_inline(reference, turns, flags))
    box = parity_kit.Box(tmp_path / "temporal")
    completed, events, asked = _scenario(Server(temporal_server.address, task_queue), box, turns, kill, flags)
    assert _ended(completed) == _ended(inline)
    assert asked == [str(n) for n in range(1, steps + 1)]  # each step asked once: the failover asked nothing
    assert _one_stream(events, completed) == ["run.completed"]  # no tool, no model request, no commit after the move
    assert parity_kit.stored(box, SESSION) == parity_kit.stored(reference, SESSION)
    assert (box.work / "a.txt").read_text() == "A"


def test_a_committed_response_s_tool_calls_run_again_the_response_is_not_asked_again(
    temporal_server: DevServer, task_queue: str, tmp_path: Path
) -> None:
    reference = parity_kit.Box(tmp_path / "inline")
    inline = asyncio.run(_inline(reference, WRITES, {}))
    box = parity_kit.Box(tmp_path / "temporal")
    # the second `running` commit holds the second response, committed as it arrived: its call to write b.txt has
    # not run yet
    completed, events, asked = _scenario(Server(temporal_server.address, task_queue), box, WRITES, "running:2", {})
    assert _ended(completed) == _ended(inline) == ("completed", "completed", 0, "done")
    assert asked == ["1", "2", "3"]
    after = len(_one_stream(events, completed))
    moved = [e for e in events[len(events) - after :] if isinstance(e, ToolStarted)]
    assert [e.input["file_path"] for e in moved] == ["b.txt"]  # the committed response's call, run by the retry
    assert parity_kit.stored(box, SESSION)["messages"] == parity_kit.stored(reference, SESSION)["messages"]
    assert [(box.work / name).read_text() for name in ("a.txt", "b.txt")] == ["A", "B"]


def test_a_run_whose_terminal_event_was_delivered_before_its_worker_died_adds_nothing(
    temporal_server: DevServer, task_queue: str, tmp_path: Path
) -> None:
    reference = parity_kit.Box(tmp_path / "inline")
    inline = asyncio.run(_inline(reference, WRITES, {}))
    box = parity_kit.Box(tmp_path / "temporal")
    completed, events, asked = _scenario(Server(temporal_server.address, task_queue), box, WRITES, "delivered", {})
    assert _ended(completed) == _ended(inline)
    assert asked == ["1", "2", "3"]
    kinds = [event.type for event in events]
    assert [event.seq for event in events] == list(range(len(events)))
    assert kinds.count("run.completed") == 1 and events[-1] == completed
    assert not any(e.type == "notice.emitted" and "moved to worker" in e.message for e in events)  # nothing appended
    assert parity_kit.stored(box, SESSION) == parity_kit.stored(reference, SESSION)


def test_a_finished_call_s_committed_result_is_not_run_again(
    temporal_server: DevServer, task_queue: str, tmp_path: Path
) -> None:
    reference = parity_kit.Box(tmp_path / "inline")
    inline = asyncio.run(_inline(reference, COUNTED, {}))
    box = parity_kit.Box(tmp_path / "temporal")
    # the second provisional commit holds the result of the second call (b.count): killed before the third request
    completed, events, asked = _scenario(Server(temporal_server.address, task_queue), box, COUNTED, "provisional:2", {})
    assert _ended(completed) == _ended(inline) == ("completed", "completed", 0, "done")
    assert asked == ["1", "2", "3"]  # each step asked once
    after = _one_stream(events, completed)
    assert "tool.started" not in after and after[-1] == "run.completed"  # no tool ran after the move
    assert [(box.work / name).read_text() for name in ("a.count", "b.count")] == ["ran\n", "ran\n"]  # once each
    stored = parity_kit.stored(box, SESSION)["messages"]
    # the same conversation, part for part; the request of b's result stays stored as the crash left it (state
    # 'interrupted', without the instructions pydantic-ai records on a request it sends)
    assert [m.get("state") for m in stored].count("interrupted") == 1
    assert [m["parts"] for m in stored] == [m["parts"] for m in parity_kit.stored(reference, SESSION)["messages"]]
