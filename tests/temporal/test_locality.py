"""Workspace locality and restore-on-failover (tau/temporal/locality.py, restore.py) with a real Temporal dev server
and real worker processes: workers with their own workspace roots (no shared workspace), a session claimed by W1,
W1 killed with SIGKILL in the middle of a tool call; W2 claims the next attempt, restores the session's workspace
from its last committed checkpoint into its own root and finishes. The final workspace equals an inline run of the
same script; the tool calls run after the move are those of the last committed response without a committed result
(at-least-once, documented in docs/fleet.md), and files written by calls that finished are restored, not written
again.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from temporal_kit import TAU, TIMEOUT, Server, Worker, parity_kit, stateless_model, turns_json

from tau.config import load_job
from tau.protocol import Event, ToolStarted
from tau.runtime import Runtime, Start
from tau.sessions import FileSessionStore
from tau.temporal.devserver import DevServer
from tau.temporal.engine import TemporalEngine
from tau.testing import Turn, calls, reply

HERE = Path(__file__).resolve().parent
SESSION = "locality"
FLAGS = {"permission_mode": "bypassPermissions", "model": "test:scripted"}


def _turns(gate: Path) -> tuple[Turn, ...]:
    wait = f"while [ ! -e {gate} ]; do sleep 0.05; done; echo opened > opened.txt"
    return (
        calls(("write", {"file_path": "a.txt", "content": "A"})),
        calls(("write", {"file_path": "b.txt", "content": "B"})),
        calls(("bash", {"command": wait})),
        calls(("write", {"file_path": "c.txt", "content": "C"})),
        reply("done"),
    )


def _worker(server: Server, box: parity_kit.Box, turns: tuple[Turn, ...], root: Path) -> Worker:
    import os
    import sys

    root.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, str(HERE / "worker_script.py"), server.address, server.task_queue, str(box.state)]
    args += [turns_json(turns), str(root)]
    return Worker(args, env={**box.env, "PYTHONPATH": os.pathsep.join(sys.path)}, cwd=box.root)


def _files(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): path.read_text()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and ".tau" not in path.relative_to(directory).parts
    }


async def _inline(box: parity_kit.Box, turns: tuple[Turn, ...]) -> list[Event]:
    runtime = Runtime(
        FileSessionStore(box.state), env=box.env, cwd=box.work, model_factory=lambda job: stateless_model(turns)
    )
    job = load_job(prompt_text="Write, wait, write.", flags=FLAGS, env=box.env, cwd=box.work)
    events: list[Event] = []
    await runtime.submit(Start(job, SESSION), sinks=[events.append])
    return events


def _bash_started(events: list[Event]) -> bool:
    return any(event.type == "tool.started" and getattr(event, "tool", "") == "bash" for event in events)


def test_a_killed_locality_worker_s_session_is_restored_and_finished_by_another(
    temporal_server: DevServer, task_queue: str, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    turns = _turns(gate)
    reference = parity_kit.Box(tmp_path / "inline")
    gate.write_text("open\n")
    inline = asyncio.run(_inline(reference, turns))
    assert inline[-1].type == "run.completed" and inline[-1].exit_code == 0
    gate.unlink()

    box = parity_kit.Box(tmp_path / "temporal")
    server = Server(temporal_server.address, task_queue)
    root1, root2 = tmp_path / "w1", tmp_path / "w2"
    events: list[Event] = []

    async def scenario() -> Any:
        first = _worker(server, box, turns, root1)
        second = None
        try:
            engine = TemporalEngine(server.address, task_queue=server.task_queue, heartbeat=2.0)
            runtime = Runtime(FileSessionStore(box.state), engine=engine, env=box.env, cwd=box.work)
            job = load_job(prompt_text="Write, wait, write.", flags=FLAGS, env=box.env, cwd=box.work)
            run = asyncio.ensure_future(runtime.submit(Start(job, SESSION), sinks=[events.append]))
            await parity_kit.wait_for(lambda: _bash_started(events), "the gate's tool.started")
            second = await asyncio.to_thread(_worker, server, box, turns, root2)
            first.kill()  # mid-tool: the bash call waits for the gate
            gate.write_text("open\n")
            return await asyncio.wait_for(run, TIMEOUT)
        finally:
            first.stop()
            if second is not None:
                second.stop()

    completed = asyncio.run(scenario())
    assert (completed.status, completed.exit_code, completed.result) == ("completed", 0, "done")
    assert [event.seq for event in events] == list(range(len(events)))  # each event once, no gap
    kinds = [event.type for event in events]
    assert kinds.count("session.started") == 1 and kinds.count("run.completed") == 1
    moved = [event for event in events if event.type == "notice.emitted" and "moved to worker" in event.message]
    assert len(moved) == 1, [event.message for event in events if event.type == "notice.emitted"]
    # a.txt and b.txt (the pin of the last committed snapshot) came back from the checkpoint
    assert "workspace restored from its last snapshot (2 restored, 0 deleted" in moved[0].message
    after = events[events.index(moved[0]) :]
    rerun = [(event.tool, event.input.get("file_path")) for event in after if isinstance(event, ToolStarted)]
    # only the killed call (bash) ran again, then the rest: the finished writes were committed as they finished, with
    # their files in the head's pin, and did not run again
    assert rerun == [("bash", None), ("write", "c.txt")]
    # nothing ran on the box's own directory: each worker used its own root
    assert not (box.work / "a.txt").exists()
    local = root2 / SESSION
    assert (root1 / SESSION / "a.txt").read_text() == "A"  # W1 held the workspace before it died
    assert _files(local) == _files(reference.work)  # the final workspace equals the inline run's
    stored = parity_kit.stored(box, SESSION)
    workspaces = (str(root1 / SESSION), str(root2 / SESSION))
    assert _placeless(stored["messages"], workspaces) == _placeless(
        parity_kit.stored(reference, SESSION)["messages"], (str(reference.work),)
    )  # the transcript equals the inline one but for the workspace path the system prompt names
    assert stored["statuses"][-1] == "completed"


def _placeless(messages: Any, workspaces: tuple[str, ...]) -> Any:
    text = json.dumps(messages)
    for workspace in workspaces:
        text = text.replace(workspace, "<ws>")  # as parity_kit.stored writes the box's own
    return json.loads(text)


def test_a_later_run_on_another_worker_restores_the_workspace_first(
    temporal_server: DevServer, task_queue: str, tmp_path: Path
) -> None:
    """Run 1 on W1; W1 goes away with its machine (its root deleted); the session's next run is claimed by W2, which
    restores the workspace from the head's checkpoint before the run, so run 2's command reads run 1's file."""
    import shutil

    from tau.runtime import Continue

    turns = (
        calls(("write", {"file_path": "a.txt", "content": "A"})),
        reply("one"),
        calls(("bash", {"command": "cat a.txt > seen.txt"})),
        reply("two"),
    )
    box = parity_kit.Box(tmp_path / "temporal")
    server = Server(temporal_server.address, task_queue)
    root1, root2 = tmp_path / "w1", tmp_path / "w2"
    events: list[Event] = []

    async def submit(operation: Any) -> Any:
        engine = TemporalEngine(server.address, task_queue=server.task_queue, heartbeat=2.0)
        runtime = Runtime(FileSessionStore(box.state), engine=engine, env=box.env, cwd=box.work)
        return await asyncio.wait_for(runtime.submit(operation, sinks=[events.append]), TIMEOUT)

    first = _worker(server, box, turns, root1)
    try:
        job = load_job(prompt_text="Write.", flags=FLAGS, env=box.env, cwd=box.work)
        one = asyncio.run(submit(Start(job, SESSION)))
    finally:
        first.stop()
    assert (one.status, one.result) == ("completed", "one")
    assert (root1 / SESSION / "a.txt").read_text() == "A"
    shutil.rmtree(root1)  # W1's machine is gone

    second = _worker(server, box, turns, root2)
    try:
        two = asyncio.run(submit(Continue(SESSION, "Read it.")))
    finally:
        second.stop()
    assert (two.status, two.exit_code, two.result) == ("completed", 0, "two")
    assert (root2 / SESSION / "seen.txt").read_text() == "A"  # a.txt was restored before run 2's bash read it
    assert not any(event.type == "notice.emitted" for event in events)  # not a move within a run: no notice


def test_tau_run_on_a_tau_worker_with_a_workspace_root(
    temporal_server: DevServer, task_queue: str, tmp_path: Path
) -> None:
    """The commands as users run them: `tau worker --workspace-root DIR` and `tau run --engine temporal` replaying a
    cassette of the inline run: the run's files land in DIR/<session id>, not in the front end's directory, and equal
    the inline run's; the stored job keeps the front end's workspace. A DIR that does not exist is exit 2."""
    import subprocess

    from tau.models.cassette import RecordingModel
    from tau.testing import scripted_model

    turns = (
        calls(("write", {"file_path": "a.txt", "content": "A"})),
        calls(("bash", {"command": "cat a.txt > seen.txt"})),
        reply("done"),
    )
    cassette = tmp_path / "run.json"
    reference = parity_kit.Box(tmp_path / "inline")

    def record(job: Any) -> Any:
        return RecordingModel(scripted_model(list(turns))[0], cassette, workspace=job.environment.workspace)

    runtime = Runtime(FileSessionStore(reference.state), env=reference.env, cwd=reference.work, model_factory=record)
    job = load_job(prompt_text="Write and read.", flags=FLAGS, env=reference.env, cwd=reference.work)
    assert asyncio.run(runtime.submit(Start(job, SESSION))).exit_code == 0

    box = parity_kit.Box(tmp_path / "cli")
    server = Server(temporal_server.address, task_queue)
    root = tmp_path / "root"
    engine = ["--engine", "temporal", "--address", server.address, "--task-queue", server.task_queue]
    worker_args = [*TAU, "worker", *engine, "--state-dir", str(box.state), "--workspace-root"]
    missing = subprocess.run(
        [*worker_args, str(root)],
        check=False,
        cwd=box.work,
        env=box.env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert missing.returncode == 2 and "is not a directory" in missing.stderr
    root.mkdir()
    worker = Worker([*worker_args, str(root)], env=box.env, cwd=box.root)
    try:
        assert "workspaces in" in "".join(worker.err)
        run = [*TAU, "run", "-p", "Write and read.", "--model", f"replay:{cassette}", "--session-id", SESSION]
        run += ["--permission-mode", "bypassPermissions", "--state-dir", str(box.state), *engine]
        done = subprocess.run(
            run, check=False, cwd=box.work, env=box.env, capture_output=True, text=True, timeout=TIMEOUT
        )
    finally:
        worker.stop()
    assert done.returncode == 0, done.stderr
    assert _files(root / SESSION) == _files(reference.work) == {"a.txt": "A", "seen.txt": "A"}
    assert not (box.work / "a.txt").exists()
    stored = _placeless(parity_kit.stored(box, SESSION)["messages"], (str(root / SESSION),))
    assert stored == parity_kit.stored(reference, SESSION)["messages"]
    archive = FileSessionStore(box.state).archive()
    view = asyncio.run(archive.view(SESSION))
    assert view.config["environment"]["workspace"] == str(box.work)  # what a front end continues from
