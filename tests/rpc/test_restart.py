"""A restarted `tau serve` on the same state dir: the serve journal brings back every session — listed in the same
order with the same state, events replayed as they were, idempotency keys honoured, pending requests answerable,
queued context delivered, later runs continuing the history with seq numbers that go on where they stopped. A
damaged journal costs only what is damaged. (A server killed mid-run: tests/rpc/test_sigterm.py.)"""

from __future__ import annotations

import asyncio
import errno
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from rpc_helpers import RunScripts, Served, prompts

from tau.errors import PreflightError
from tau.rpc import restore as restore_module
from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc._gen.runtime_connect import RuntimeServiceClientSync
from tau.rpc.journal import ServeJournal
from tau.rpc.service import ServiceLimits
from tau.sessions import FileSessionStore
from tau.testing import calls, reply

ASKING = pb.Permissions(mode="default")  # writes ask; the RPC default suspends


def texts(messages: list[ModelMessage]) -> list[str]:
    return [p.content for m in messages if isinstance(m, ModelResponse) for p in m.parts if isinstance(p, TextPart)]


def replay(served: Served, client: RuntimeServiceClientSync, session_id: str) -> list[pb.StreamEventsResponse]:
    """Every event of the session. Compared as messages: map fields (a tool call's input) have no fixed byte order."""
    request = pb.StreamEventsRequest(session_id=session_id)
    return list(client.stream_events(request, headers=served.headers))


def listing(served: Served, client: RuntimeServiceClientSync) -> list[pb.Session]:
    return list(client.list_sessions(pb.ListSessionsRequest(), headers=served.headers).sessions)


def comparable(session: pb.Session) -> pb.Session:
    """A session message without `update_time` (a restart ends nothing here, but keep the comparison honest)."""
    copy = pb.Session()
    copy.CopyFrom(session)
    copy.ClearField("update_time")
    return copy


def test_a_restarted_server_brings_back_every_session(serve: Callable[..., Served], tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    first = serve(
        RunScripts([[reply("one")], [calls(("write", {"file_path": "a.txt", "content": "A"}))]]), state_dir=state_dir
    )
    with first.client() as client:
        done = first.create(client, session_id="done")
        ran = list(
            client.run(pb.RunRequest(session_id=done, prompt="first", idempotency_key="k1"), headers=first.headers)
        )
        assert ran[-1].final.result == "one"
        asking = first.create(client, session_id="asking", permissions=ASKING)
        suspended = list(client.run(pb.RunRequest(session_id=asking, prompt="write a.txt"), headers=first.headers))
        assert suspended[-1].final.session_status == pb.SESSION_STATUS_AWAITING_APPROVAL
        fresh = first.create(
            client,
            session_id="fresh",
            labels={"team": "infra"},
            context=[pb.ContextEntry(key="repo", content="tau")],
        )
        entry = pb.ContextEntry(key="ci", content="build 7 is red")
        injected = client.inject_context(
            pb.InjectContextRequest(session_id=fresh, entries=[entry]), headers=first.headers
        )
        assert (injected.delivered, injected.queued) == (False, 1)
        before = listing(first, client)
        events = {sid: replay(first, client, sid) for sid in (done, asking, fresh)}
    first.stop()

    scripts = RunScripts([[reply("two")], [reply("wrote it")], [reply("seen")]])
    second = serve(scripts, state_dir=state_dir)
    assert second.service.restored == 3
    with second.client() as client:
        after = listing(second, client)
        assert [comparable(s) for s in after] == [comparable(s) for s in before]
        assert [s.session_id for s in after] == ["fresh", "asking", "done"]
        assert {sid: replay(second, client, sid) for sid in events} == events

        # the same idempotency key reattaches to the finished run: its events, nothing runs
        again = list(
            client.run(pb.RunRequest(session_id=done, prompt="first", idempotency_key="k1"), headers=second.headers)
        )
        assert again == ran
        assert scripts.played == []

        # a new run continues the history, numbering on
        more = list(client.run(pb.RunRequest(session_id=done, prompt="second"), headers=second.headers))
        assert more[0].seq == ran[-1].seq + 1 and {e.run for e in more} == {2}
        assert more[-1].final.result == "two"
        seen = scripts.played[0].requests[0]
        assert prompts(seen) == ["first", "second"] and texts(seen) == ["one"]

        # the pending approval survived: answering it continues the session
        pending = before[1].pending
        assert [p.request_id for p in pending] == ["call_1_0"]
        request = pb.RespondRequest(session_id=asking, request_id="call_1_0", approval=pb.Approval(approved=True))
        assert client.respond(request, headers=second.headers).status == pb.SESSION_STATUS_RUNNING
        follow = pb.StreamEventsRequest(session_id=asking, after_seq=suspended[-1].seq)
        continued = list(client.stream_events(follow, headers=second.headers))
        assert continued[-1].final.result == "wrote it"
        assert (second.workspace / "a.txt").read_text() == "A"

        # the queued context reaches the next prompt, the bootstrap context the instructions
        last = list(client.run(pb.RunRequest(session_id=fresh, prompt="look"), headers=second.headers))
        assert last[-1].final.result == "seen"
        job = scripts.jobs[2]
        assert "build 7 is red" in job.prompt and job.prompt.endswith("look")
        assert "repo" in (job.instructions or "") and "tau" in (job.instructions or "")

        statuses = {s.session_id: s.status for s in listing(second, client)}
    assert statuses == {sid: pb.SESSION_STATUS_COMPLETED for sid in ("done", "asking", "fresh")}
    # one server per state dir: a second one is refused (it would append to the first one's sessions)
    with pytest.raises(PreflightError, match=r"another tau serve .* is using the state directory"):
        serve(RunScripts([]), state_dir=state_dir)
    second.stop()
    # and the next server sees what the second did
    third = serve(RunScripts([]), state_dir=state_dir)
    with third.client() as client:
        assert [s.runs for s in listing(third, client)] == [1, 2, 2]


def test_a_damaged_journal_costs_only_what_is_damaged(
    serve: Callable[..., Served], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    state_dir = tmp_path / "state"
    first = serve(RunScripts([[reply("one")], [reply("two")], [reply("three")]]), state_dir=state_dir)
    with first.client() as client:
        for sid in ("good", "torn", "broken", "removed"):
            first.create(client, session_id=sid)
        for sid in ("good", "torn", "removed"):
            assert list(client.run(pb.RunRequest(session_id=sid, prompt="go"), headers=first.headers))[-1].final.status
        good_events = replay(first, client, "good")
        torn_events = replay(first, client, "torn")
    first.stop()
    asyncio.run(FileSessionStore(state_dir).rm("removed"))  # `tau sessions rm`: the store is the truth
    journal = state_dir / "serve"
    with open(journal / "torn" / "events.log", "ab") as file:
        file.write(b"\x00\x00\x10\x00half a record")  # a crash mid-append
    (journal / "broken" / "session.json").write_text("{not json")
    size = (journal / "torn" / "events.log").stat().st_size

    second = serve(RunScripts([]), state_dir=state_dir)
    assert second.service.restored == 2
    err = capfd.readouterr().err
    assert "skipping journal" in err and "broken" in err
    assert not (journal / "removed").exists()
    assert (journal / "torn" / "events.log").stat().st_size == size - len(b"\x00\x00\x10\x00half a record")
    with second.client() as client:
        assert [s.session_id for s in listing(second, client)] == ["torn", "good"]
        assert replay(second, client, "good") == good_events
        assert replay(second, client, "torn") == torn_events
    record = json.loads((journal / "good" / "session.json").read_text())
    assert (
        record["version"] == 1
        and record["status"] == "SESSION_STATUS_COMPLETED"
        and "api_key" not in json.dumps(record)
    )


def test_the_journal_keeps_what_the_bounded_log_keeps(serve: Callable[..., Served], tmp_path: Path) -> None:
    state_dir, limits = tmp_path / "state", ServiceLimits(event_log_capacity=4)
    first = serve(RunScripts([[reply("one")], [reply("two")]]), state_dir=state_dir, limits=limits)
    with first.client() as client:
        first.create(client, session_id="s")
        for prompt in ("a", "b"):
            list(client.run(pb.RunRequest(session_id="s", prompt=prompt), headers=first.headers))
        last = client.get_session(pb.GetSessionRequest(session_id="s"), headers=first.headers).session.last_seq
        recent = pb.StreamEventsRequest(session_id="s", after_seq=last - 4)
        tail = list(client.stream_events(recent, headers=first.headers))
    first.stop()
    log = state_dir / "serve" / "s" / "events.log"
    assert log.stat().st_size > sum(len(e.SerializeToString()) + 4 for e in tail)  # every event was written

    second = serve(RunScripts([]), state_dir=state_dir, limits=limits)
    assert log.stat().st_size == sum(len(e.SerializeToString()) + 4 for e in tail)  # trimmed to what is kept
    with second.client() as client:
        assert list(client.stream_events(recent, headers=second.headers)) == tail
        with pytest.raises(ConnectError) as dropped:
            list(client.stream_events(pb.StreamEventsRequest(session_id="s"), headers=second.headers))
        assert dropped.value.code == Code.OUT_OF_RANGE


def edit_record(state_dir: Path, session_id: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = state_dir / "serve" / session_id / "session.json"
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


def as_before_the_end(record: dict[str, Any]) -> None:
    """The record as it was while the last run ran: the server was killed after the run's final events reached
    events.log but before the record was saved again."""
    run = record["runs"][-1]
    record.update(
        status="SESSION_STATUS_RUNNING",
        terminal_reason="",
        last_seq=run["first_seq"],
        usage={},
        cost_usd=0.0,
        pending=[],
    )
    run["final_seq"] = None


def test_events_the_record_missed_are_applied_at_restart(serve: Callable[..., Served], tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    write = ("write", {"file_path": "a.txt", "content": "A"})
    first = serve(RunScripts([[reply("one")], [calls(write)]]), state_dir=state_dir)
    with first.client() as client:
        first.create(client, session_id="done")
        first.create(client, session_id="asking", permissions=ASKING)
        for sid, prompt in (("done", "go"), ("asking", "write a.txt")):
            list(client.run(pb.RunRequest(session_id=sid, prompt=prompt), headers=first.headers))
        before = listing(first, client)
        events = {sid: replay(first, client, sid) for sid in ("done", "asking")}
    first.stop()
    for sid in ("done", "asking"):
        edit_record(state_dir, sid, as_before_the_end)

    second = serve(RunScripts([[reply("wrote it")]]), state_dir=state_dir)
    with second.client() as client:
        after = listing(second, client)
        assert [comparable(s) for s in after] == [comparable(s) for s in before]  # status, usage, pending: all back
        assert {sid: replay(second, client, sid) for sid in events} == events  # and no second ending
        request = pb.RespondRequest(session_id="asking", request_id="call_1_0", approval=pb.Approval(approved=True))
        assert client.respond(request, headers=second.headers).status == pb.SESSION_STATUS_RUNNING


def test_a_run_cut_before_its_first_event_ends_at_restart(serve: Callable[..., Served], tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    first = serve(RunScripts([[reply("one")]]), state_dir=state_dir)
    with first.client() as client:
        first.create(client, session_id="s")
        ran = list(client.run(pb.RunRequest(session_id="s", prompt="go"), headers=first.headers))
    first.stop()

    def launched(record: dict[str, Any]) -> None:  # saved by the launch of run 2; its first event never written
        record["runs"].append(
            {"number": 2, "idempotency_key": "k2", "prompt": "again", "first_seq": ran[-1].seq + 1, "final_seq": None}
        )
        record["status"] = "SESSION_STATUS_RUNNING"

    edit_record(state_dir, "s", launched)
    second = serve(RunScripts([]), state_dir=state_dir)
    with second.client() as client:
        ended = replay(second, client, "s")[len(ran) :]
        assert [(e.seq, e.run, e.WhichOneof("event")) for e in ended] == [
            (ran[-1].seq + 1, 2, "error"), (ran[-1].seq + 2, 2, "status"), (ran[-1].seq + 3, 2, "final"),
        ]  # fmt: skip
        assert ended[-1].final.terminal_reason == "interrupted"
        again = client.run(pb.RunRequest(session_id="s", prompt="again", idempotency_key="k2"), headers=second.headers)
        assert list(again) == [pb.RunResponse.FromString(e.SerializeToString()) for e in ended]  # key kept


def test_fork_session_after_a_restart(serve: Callable[..., Served], tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    first = serve(RunScripts([[reply("one")]]), state_dir=state_dir)
    with first.client() as client:
        first.create(client, session_id="s")
        list(client.run(pb.RunRequest(session_id="s", prompt="first"), headers=first.headers))
    first.stop()
    scripts = RunScripts([[reply("forked")]])
    second = serve(scripts, state_dir=state_dir)
    with second.client() as client:
        forked = client.fork_session(pb.ForkSessionRequest(session_id="s", new_session_id="f"), headers=second.headers)
        assert forked.session.parent_session_id == "s"
        out = list(client.run(pb.RunRequest(session_id="f", prompt="second"), headers=second.headers))
        assert out[-1].final.result == "forked"
        assert prompts(scripts.played[0].requests[0]) == ["first", "second"]


def test_a_session_that_fails_half_way_through_its_restore_is_not_listed(
    serve: Callable[..., Served], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_dir = tmp_path / "state"
    first = serve(RunScripts([]), state_dir=state_dir)
    with first.client() as client:
        for sid in ("bad", "good"):
            first.create(client, session_id=sid)
    first.stop()
    real_catch_up = restore_module.catch_up

    def failing(session: Any, after_seq: int) -> float | None:
        if session.session_id == "bad":
            raise ValueError("damaged after it was registered")
        return real_catch_up(session, after_seq)

    monkeypatch.setattr(restore_module, "catch_up", failing)
    second = serve(RunScripts([]), state_dir=state_dir)
    assert second.service.restored == 1
    with second.client() as client:
        assert [s.session_id for s in listing(second, client)] == ["good"]
    assert (state_dir / "serve" / "bad" / "session.json").exists()  # skipped, not deleted


def test_a_failed_append_leaves_no_partial_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    journal = ServeJournal(tmp_path / "serve")
    journal.save("s", {"session_id": "s"})
    journal.append("s", pb.RunResponse(seq=1, run=1))
    real_write, written = os.write, []

    def disk_full_half_way(fd: int, data: Any) -> int:
        if not written:
            written.append(real_write(fd, bytes(data[:3])))
            return written[0]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full_half_way)
    journal.append("s", pb.RunResponse(seq=2, run=1, event_json="x" * 100))
    monkeypatch.undo()
    journal.append("s", pb.RunResponse(seq=3, run=1))
    [stored] = journal.load()
    assert [e.seq for e in stored.events] == [1, 3]
    assert "No space left on device" in capfd.readouterr().err


def test_events_lost_from_the_journal_are_out_of_range_not_a_gap(serve: Callable[..., Served], tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    first = serve(RunScripts([[reply("one")], [reply("two")]]), state_dir=state_dir)
    with first.client() as client:
        first.create(client, session_id="s")
        ran = list(client.run(pb.RunRequest(session_id="s", prompt="go"), headers=first.headers))
    first.stop()
    edit_record(state_dir, "s", lambda record: record.update(last_seq=ran[-1].seq + 2))  # two appends failed

    second = serve(RunScripts([[reply("two")]]), state_dir=state_dir)
    with second.client() as client:
        more = list(client.run(pb.RunRequest(session_id="s", prompt="again"), headers=second.headers))
        assert more[0].seq == ran[-1].seq + 3  # numbering goes on after the lost ones
        after = pb.StreamEventsRequest(session_id="s", after_seq=ran[-1].seq)
        with pytest.raises(ConnectError) as lost:
            list(client.stream_events(after, headers=second.headers))
        assert lost.value.code == Code.OUT_OF_RANGE
        since_new = pb.StreamEventsRequest(session_id="s", after_seq=more[0].seq - 1)
        assert [e.seq for e in client.stream_events(since_new, headers=second.headers)] == [e.seq for e in more]
