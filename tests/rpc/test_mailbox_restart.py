"""A `tau serve` SIGKILLed in the middle loses no mail and no agent (issue #17's acceptance):
- undelivered mail of an idle session is delivered by the next server on the same state dir (a continuation run of
  the session, its prompt carrying both messages) — the real `tau serve` command and pydantic-ai's TestModel;
- a parent starts three background agents (`task(background=true)`) and ends its run; the server is SIGKILLed while
  the agents run; the next server resumes each agent from its session's last committed snapshot, their completions
  wake the parent, whose final answer uses all three results, and every report arrives once — `run_server` (what
  `tau serve` runs) in its own process with a scripted model (mail_kill_server.py).
Real subprocesses and the generated Connect client."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from test_sigterm import LISTENING, TAU, hermetic_env

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc._gen.runtime_connect import RuntimeServiceClientSync

BOUND = 60.0
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def launch(workspace: Path, env: dict[str, str], command: list[str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        command, cwd=workspace, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert process.stderr is not None
    seen: list[str] = []
    while True:
        line = process.stderr.readline()
        seen.append(line)
        assert line, f"tau serve exited early with {process.wait(5)}: {''.join(seen)}"
        match = LISTENING.search(line)
        if match:
            return process, match.group(1)


def typed(stream: Iterable[pb.StreamEventsResponse]) -> list[dict[str, Any]]:
    """tau's events of a stream (the server's own status entries have no `event_json`)."""
    return [json.loads(item.event_json) for item in stream if item.event_json]


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.05)


def test_a_killed_server_loses_no_mail(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    env = hermetic_env(tmp_path)
    serve = [*TAU, "serve", "--port", "0", "--mail-debounce"]
    process, url = launch(workspace, env, [*serve, "3600"])  # nothing is delivered before the kill
    try:
        with RuntimeServiceClientSync(url, timeout_ms=60_000) as client:
            client.create_session(pb.CreateSessionRequest(session_id="idle", model="test:echo"))
            for text in ("first note", "second note"):
                client.send_message(pb.SendMessageRequest(session_id="idle", text=text, sender="alice"))
            pending = client.list_mail(pb.ListMailRequest(session_id="idle", pending_only=True)).mail
            assert [m.body for m in pending] == ["first note", "second note"]
    finally:
        process.kill()  # SIGKILL: no drain
        process.wait(10)

    restarted, url = launch(workspace, env, [*serve, "0.05"])
    try:
        with RuntimeServiceClientSync(url, timeout_ms=60_000) as client:

            def settled() -> bool:
                found = client.get_session(pb.GetSessionRequest(session_id="idle")).session
                return found.runs >= 1 and found.status != pb.SESSION_STATUS_RUNNING

            wait_until(settled, "the idle session woken by its mail")
            idle = client.get_session(pb.GetSessionRequest(session_id="idle")).session
            mail = client.list_mail(pb.ListMailRequest(session_id="idle")).mail
            woken = [e for e in client.stream_events(pb.StreamEventsRequest(session_id="idle")) if e.HasField("final")]
    finally:
        restarted.kill()
        restarted.wait(10)
    assert [(m.body, bool(m.deliver_time)) for m in mail] == [("first note", True), ("second note", True)]
    assert (idle.runs, idle.status, woken[-1].final.status) == (1, pb.SESSION_STATUS_COMPLETED, "completed")


def test_a_killed_server_loses_no_agent(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    agents = workspace / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "researcher.md").write_text("---\nname: researcher\ndescription: Researches one topic.\n---\nResearch.\n")
    env = {**hermetic_env(tmp_path), "PYTHONPATH": str(HERE)}
    server = [sys.executable, str(HERE / "mail_kill_server.py"), str(workspace), str(tmp_path / "state"), "0.5"]
    permissions = pb.Permissions(mode="acceptEdits", allow=["Bash(*)"])
    process, url = launch(workspace, env, server)
    try:
        with RuntimeServiceClientSync(url, timeout_ms=60_000) as client:
            client.create_session(pb.CreateSessionRequest(session_id="lead", model="test:scripted",
                                                          permissions=permissions))  # fmt: skip
            finals = [e for e in client.run(pb.RunRequest(session_id="lead", prompt="delegate the research"))
                      if e.HasField("final")]  # fmt: skip
            assert finals[-1].final.result == "three agents are on it"
            logged = typed(client.stream_events(pb.StreamEventsRequest(session_id="lead")))
            children = [e["child_session_id"] for e in logged if e["type"] == "agent.spawned"]
            assert len(children) == 3

            def waiting(child: str) -> Callable[[], bool]:
                def check() -> bool:
                    stream = client.stream_events(pb.StreamEventsRequest(session_id=child))
                    calls = (event for event in stream if event.HasField("tool_call"))
                    return next(calls, None) is not None and next(calls, None) is not None  # the wait (no run end)

                return check

            for child in children:
                wait_until(waiting(child), f"{child}'s bash call")
    finally:
        process.kill()  # SIGKILL while the three agents run
        process.wait(10)
    (workspace / "go").touch()  # ends any wait loop the killed server's sandbox left behind

    restarted, url = launch(workspace, env, server)
    try:
        with RuntimeServiceClientSync(url, timeout_ms=60_000) as client:

            def reported() -> bool:
                mail = client.list_mail(pb.ListMailRequest(session_id="lead")).mail
                lead = client.get_session(pb.GetSessionRequest(session_id="lead")).session
                return len(mail) >= 3 and all(m.deliver_time for m in mail) and lead.status != pb.SESSION_STATUS_RUNNING

            wait_until(reported, "three reports delivered to the lead and its continuation ended")
            mail = client.list_mail(pb.ListMailRequest(session_id="lead")).mail
            lead = client.get_session(pb.GetSessionRequest(session_id="lead")).session
            logged = typed(client.stream_events(pb.StreamEventsRequest(session_id="lead")))
            agents_after = [client.get_session(pb.GetSessionRequest(session_id=c)).session for c in children]
    finally:
        restarted.kill()
        restarted.wait(10)
    assert sorted((m.sender, m.kind, m.body) for m in mail) == sorted(
        (child, "agent_completed", f"result-{n}") for child, n in zip(children, "123", strict=True)
    )  # each agent reported once, completed (resumed, not failed), with the result of its own session's task
    assert [(a.status, a.runs) for a in agents_after] == [(pb.SESSION_STATUS_COMPLETED, 2)] * 3
    assert 2 <= lead.runs <= 4 and lead.status == pb.SESSION_STATUS_COMPLETED  # woken (debounced) by the reports
    results = [e["result"] for e in logged if e["type"] == "run.completed"]
    assert results[-1] == "final: result-1 result-2 result-3"  # the final answer uses all three results
    completed = [(e["child_session_id"], e["status"]) for e in logged if e["type"] == "agent.completed"]
    assert sorted(completed) == sorted((child, "completed") for child in children)
