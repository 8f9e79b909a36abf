"""Workspace locality with the docker sandbox (`environment: docker`): a session's run on a locality worker works in
a managed container mounting the worker's `DIR/<session id>`; the session's next run, claimed by another worker
(the first one gone with its root), gets the workspace restored and a fresh container over it, and its command in
the container reads the file the first run wrote."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
from temporal_kit import TIMEOUT, Server, parity_kit
from test_locality import SESSION, _worker

from tau.config import load_job
from tau.environment.sandbox import build_image
from tau.protocol import Event
from tau.runtime import Continue, Runtime, Start
from tau.sessions import FileSessionStore
from tau.temporal.devserver import DevServer
from tau.temporal.engine import TemporalEngine
from tau.testing import calls, reply

pytestmark = pytest.mark.docker

FLAGS = {"permission_mode": "bypassPermissions", "model": "test:scripted", "environment": "docker"}
TURNS = (
    calls(("bash", {"command": "test -f /.dockerenv && echo A > a.txt"})),
    reply("one"),
    calls(("bash", {"command": "test -f /.dockerenv && cat a.txt > seen.txt"})),
    reply("two"),
)


def test_a_docker_session_moves_to_another_locality_worker(
    temporal_server: DevServer, task_queue: str, tmp_path: Path
) -> None:
    build_image()  # the bundled sandbox image (instant when its tag exists)
    box = parity_kit.Box(tmp_path / "temporal")
    server = Server(temporal_server.address, task_queue)
    root1, root2 = tmp_path / "w1", tmp_path / "w2"
    events: list[Event] = []

    async def submit(operation: Any) -> Any:
        engine = TemporalEngine(server.address, task_queue=server.task_queue, heartbeat=2.0)
        runtime = Runtime(FileSessionStore(box.state), engine=engine, env=box.env, cwd=box.work)
        return await asyncio.wait_for(runtime.submit(operation, sinks=[events.append]), TIMEOUT)

    first = _worker(server, box, TURNS, root1)
    try:
        job = load_job(prompt_text="Write.", flags=FLAGS, env=box.env, cwd=box.work)
        one = asyncio.run(submit(Start(job, SESSION)))
    finally:
        first.stop()
    assert (one.status, one.result) == ("completed", "one"), one
    assert (root1 / SESSION / "a.txt").read_text() == "A\n"  # written in the container, on W1's root
    shutil.rmtree(root1)

    second = _worker(server, box, TURNS, root2)
    try:
        two = asyncio.run(submit(Continue(SESSION, "Read it.")))
    finally:
        second.stop()
    assert (two.status, two.exit_code, two.result) == ("completed", 0, "two"), two
    assert (root2 / SESSION / "seen.txt").read_text() == "A\n"
    started = [event for event in events if event.type == "session.started"]
    places = [(event.environment.kind, event.environment.workspace) for event in started]
    assert places == [("docker", str(root1 / SESSION)), ("docker", str(root2 / SESSION))]
    containers = {event.environment.container for event in started}
    assert len(containers) == 2 and None not in containers  # the second run got a fresh container


def test_a_killed_docker_worker_s_session_gets_its_own_container_on_the_same_daemon(
    temporal_server: DevServer, task_queue: str, tmp_path: Path
) -> None:
    """W1 SIGKILLed while its command still runs in the session's container (so the container is busy, not reaped);
    W2 on the same Docker daemon must not reuse that container, mounted on W1's root: it makes its own over W2's."""
    build_image()
    turns = (
        calls(("write", {"file_path": "a.txt", "content": "A"})),
        calls(("bash", {"command": "while [ ! -e gate ]; do sleep 0.05; done; echo opened > opened.txt"})),
        reply("done"),
    )
    box = parity_kit.Box(tmp_path / "temporal")
    server = Server(temporal_server.address, task_queue)
    root1, root2 = tmp_path / "w1", tmp_path / "w2"
    (root2 / SESSION).mkdir(parents=True)
    (root2 / SESSION / "gate").write_text("open\n")  # only W2's copy of the workspace has the gate open
    events: list[Event] = []

    async def scenario() -> Any:
        first = _worker(server, box, turns, root1)
        second = None
        try:
            engine = TemporalEngine(server.address, task_queue=server.task_queue, heartbeat=2.0)
            runtime = Runtime(FileSessionStore(box.state), engine=engine, env=box.env, cwd=box.work)
            job = load_job(prompt_text="Write, wait.", flags=FLAGS, env=box.env, cwd=box.work)
            run = asyncio.ensure_future(runtime.submit(Start(job, SESSION), sinks=[events.append]))
            await parity_kit.wait_for(
                lambda: any(getattr(event, "tool", "") == "bash" for event in events), "the gate's tool.started"
            )
            second = await asyncio.to_thread(_worker, server, box, turns, root2)
            first.kill()
            return await asyncio.wait_for(run, TIMEOUT)
        finally:
            first.stop()
            if second is not None:
                second.stop()
            (root1 / SESSION / "gate").write_text("open\n")  # W1's orphaned command ends

    completed = asyncio.run(scenario())
    assert (completed.status, completed.exit_code, completed.result) == ("completed", 0, "done"), completed
    assert (root2 / SESSION / "opened.txt").read_text() == "opened\n"  # the re-run command ran over W2's root
    assert (root2 / SESSION / "a.txt").read_text() == "A"
