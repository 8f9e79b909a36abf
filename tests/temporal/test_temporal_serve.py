"""`tau serve --engine temporal` is a client-only front end: it submits the session's runs to a worker process
(sharing its state dir), streams their events to a Connect client, and answers a suspended run through Respond —
the worker does the work (it writes the file; the server has no model of its own)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from temporal_kit import TAU, TIMEOUT, Server, parity_kit, script_worker

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc._gen.runtime_connect import RuntimeServiceClientSync
from tau.temporal.devserver import DevServer
from tau.testing import calls, reply

TURNS = (calls(("write", {"file_path": "out.txt", "content": "done"})), reply("Wrote it."))
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


def _serve(box: parity_kit.Box, server: Server) -> tuple[subprocess.Popen[str], str]:
    args = [*TAU, "serve", "--port", "0", "--state-dir", str(box.state), "--engine", "temporal"]
    args += ["--address", server.address, "--task-queue", server.task_queue]
    proc = subprocess.Popen(args, cwd=box.work, env=box.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stderr is not None
    seen: list[str] = []
    while True:
        line = proc.stderr.readline()
        assert line, f"tau serve exited: {''.join(seen)}"
        seen.append(line)
        match = LISTENING.search(line)
        if match:
            return proc, match.group(1)


def _events(responses: Any, seqs: list[int]) -> list[dict[str, Any]]:
    events = []
    for response in responses:
        seqs.append(response.seq)
        if response.event_json:
            events.append(json.loads(response.event_json))
        if response.HasField("final"):
            break
    return events


def test_serve_submits_to_a_worker_and_answers_through_respond(
    temporal_server: DevServer, task_queue: str, tmp_path: Path
) -> None:
    box = parity_kit.Box(tmp_path)
    server = Server(temporal_server.address, task_queue)
    worker = script_worker(server, env=box.env, cwd=box.work, state=box.state, turns=TURNS)
    proc, url = _serve(box, server)
    try:
        with RuntimeServiceClientSync(url, timeout_ms=TIMEOUT * 1000) as client:
            permissions = pb.Permissions(mode="default", on_ask="suspend")
            created = pb.CreateSessionRequest(session_id="srv", model="test:scripted", permissions=permissions)
            client.create_session(created)
            seqs: list[int] = []
            first = _events(client.run(pb.RunRequest(session_id="srv", prompt="Write out.txt.")), seqs)
            [asked] = [event for event in first if event["type"] == "approval.requested"]
            assert (asked["call_id"], asked["tool"]) == ("call_1_0", "write")
            assert (first[-1]["type"], first[-1]["exit_code"]) == ("run.completed", 4)
            assert not (box.work / "out.txt").exists()
            session = client.get_session(pb.GetSessionRequest(session_id="srv"))
            assert pb.SessionStatus.Name(session.session.status) == "SESSION_STATUS_AWAITING_APPROVAL"
            request = pb.RespondRequest(session_id="srv", request_id="call_1_0", approval=pb.Approval(approved=True))
            client.respond(request)
            follow = pb.StreamEventsRequest(session_id="srv", after_seq=max(seqs), follow=True)
            second = _events(client.stream_events(follow), seqs)
            assert second[0]["type"] == "session.started"
            last = second[-1]
            assert (last["type"], last["result"], last["exit_code"]) == ("run.completed", "Wrote it.", 0)
        assert (box.work / "out.txt").read_text() == "done"
    finally:
        proc.terminate()
        proc.wait(timeout=TIMEOUT)
        worker.stop()
