"""A `tau serve` SIGKILLed with undelivered mail and a background agent mid-run loses neither: the next server on
the same state dir delivers the mail (a continuation run of the idle session, its prompt carrying both messages)
and reports the interrupted agent failed to its parent's mailbox, which wakes the parent. Real subprocesses, the
generated Connect client, a replayed model (the agent's `bash sleep 30`) and pydantic-ai's TestModel."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from test_sigterm import LISTENING, PERMISSIONS, PROMPT, TAU, hermetic_env, record_sleep_cassette

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc._gen.runtime_connect import RuntimeServiceClientSync

BOUND = 60.0


def launch(workspace: Path, env: dict[str, str], *flags: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [*TAU, "serve", "--port", "0", *flags], cwd=workspace, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
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


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.05)


def test_a_killed_server_loses_no_mail_and_no_agent(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    env = hermetic_env(tmp_path)
    cassette = tmp_path / "sleep.json"
    record_sleep_cassette(workspace, env, cassette)
    process, url = launch(workspace, env, "--mail-debounce", "3600")  # nothing is delivered before the kill
    try:
        with RuntimeServiceClientSync(url, timeout_ms=60_000) as client:
            client.create_session(pb.CreateSessionRequest(session_id="idle", model="test:echo"))
            for text in ("first note", "second note"):
                client.send_message(pb.SendMessageRequest(session_id="idle", text=text, sender="alice"))
            parent = pb.CreateSessionRequest(session_id="p", model=f"replay:{cassette}", permissions=PERMISSIONS)
            client.create_session(parent)
            child = client.start_agent(pb.StartAgentRequest(parent_session_id="p", prompt=PROMPT)).session_id

            def sleeping() -> bool:
                stream = client.stream_events(pb.StreamEventsRequest(session_id=child))
                return any(event.HasField("tool_call") for event in stream)

            wait_until(sleeping, "the agent's bash call")
            pending = client.list_mail(pb.ListMailRequest(session_id="idle", pending_only=True)).mail
            assert [m.body for m in pending] == ["first note", "second note"]
    finally:
        process.kill()  # SIGKILL: no drain
        process.wait(10)

    restarted, url = launch(workspace, env, "--mail-debounce", "0.05")
    try:
        with RuntimeServiceClientSync(url, timeout_ms=60_000) as client:

            def settled(session_id: str) -> Callable[[], bool]:
                def check() -> bool:
                    found = client.get_session(pb.GetSessionRequest(session_id=session_id)).session
                    return found.runs >= 1 and found.status != pb.SESSION_STATUS_RUNNING

                return check

            wait_until(settled("idle"), "the idle session woken by its mail")
            idle = client.get_session(pb.GetSessionRequest(session_id="idle")).session
            mail = client.list_mail(pb.ListMailRequest(session_id="idle")).mail
            woken = [e for e in client.stream_events(pb.StreamEventsRequest(session_id="idle")) if e.HasField("final")]
            wait_until(settled("p"), "the parent woken by its agent's report")
            reports = client.list_mail(pb.ListMailRequest(session_id="p")).mail
            agent = client.get_session(pb.GetSessionRequest(session_id=child)).session
    finally:
        restarted.kill()
        restarted.wait(10)
    assert [(m.body, bool(m.deliver_time)) for m in mail] == [("first note", True), ("second note", True)]
    assert (idle.runs, idle.status, woken[-1].final.status) == (1, pb.SESSION_STATUS_COMPLETED, "completed")
    assert [(r.sender, r.kind, bool(r.deliver_time)) for r in reports] == [(child, "agent_failed", True)]
    assert "interrupted" in reports[0].body
    assert (agent.status, agent.terminal_reason) == (pb.SESSION_STATUS_CANCELLED, "interrupted")
