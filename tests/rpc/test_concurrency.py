"""`tau serve` under concurrency, over real HTTP: 100 scripted runs at once with non-interleaved streams; a client
that drops twice mid-run and resumes with `after_seq`; InjectContext into a running run reaching the model at its next
step (the real `RunDriver.inject`); CancelRun on some of many running runs.

Runs that must stay "running" block in a bash tool reading a named pipe (`cat NAME.fifo`) until the test opens it
for writing (`release`), so every interleaving the test relies on is forced, not timed.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo
from rpc_helpers import Scripts, Served

from tau.config import JobSpec
from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc._gen.runtime_connect import RuntimeServiceClient
from tau.testing import Turn, calls, reply

N_RUNS = 100


def wait_for(name: str) -> Turn:
    """A bash call that blocks until the test `release`s the named pipe `name` in the workspace."""
    return calls(("bash", {"command": f"cat {name}"}))


def fifo(served: Served, name: str) -> Path:
    path = served.workspace / name
    os.mkfifo(path)
    return path


def release(path: Path, timeout: float = 20) -> None:
    """Open the pipe for writing once its reader (the blocked tool) has it open, write a line, close."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as error:
            if error.errno != errno.ENXIO or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
            continue
        os.write(fd, b"released\n")
        os.close(fd)
        return


def kinds(events: list[pb.RunResponse]) -> list[str | None]:
    return [e.WhichOneof("event") for e in events]


class Reader:
    """Consume a server stream in a thread; `stop_after(n)` makes it drop the stream after n events."""

    def __init__(self, stream: Iterator[Any], stop_after: int | None = None) -> None:
        self.events: list[Any] = []  # RunResponse or StreamEventsResponse (one wire layout)
        self.error: BaseException | None = None
        self._stream = stream
        self._stop_after = stop_after
        self._thread = threading.Thread(target=self._consume, daemon=True)
        self._thread.start()

    def _consume(self) -> None:
        try:
            for event in self._stream:
                self.events.append(event)
                if self._stop_after is not None and len(self.events) >= self._stop_after:
                    close = getattr(self._stream, "close", None)
                    if close is not None:
                        close()
                    return
        except BaseException as error:
            self.error = error

    def wait_for(self, kind: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while kind not in kinds(self.events):
            assert self.error is None, self.error
            assert time.monotonic() < deadline, f"no {kind} event; got {kinds(self.events)}"
            time.sleep(0.01)

    def join(self, timeout: float = 30) -> list[Any]:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"stream did not end; got {kinds(self.events)}"
        assert self.error is None, self.error
        return self.events


# -- 100 concurrent runs -----------------------------------------------------------------------------------------


def tagged_script(job: JobSpec) -> list[Turn]:
    sid = job.session_id or "?"
    return [
        calls(("bash", {"command": f"echo tool-{sid}"}), text=f"checking {sid}. "),
        reply(f"done {sid} " + "x" * 30, chunk=3),
    ]


def check_stream(sid: str, events: list[pb.RunResponse]) -> None:
    """One session's events: its own, in order, contiguous, exactly one final and it is last."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), sid
    assert {e.run for e in events} == {1}
    assert events[0].status.status == pb.SESSION_STATUS_RUNNING
    assert kinds(events).count("final") == 1 and events[-1].HasField("final"), kinds(events)
    assert (events[-1].final.status, events[-1].final.result) == ("completed", f"done {sid} " + "x" * 30)
    started = [e.started for e in events if e.HasField("started")]
    assert [s.session_id for s in started] == [sid]
    for event in events:
        if event.event_json:
            payload = json.loads(event.event_json)
            assert payload.get("session_id", sid) == sid, payload
    text = "".join(e.token.text for e in events if e.HasField("token"))
    assert text == f"checking {sid}. done {sid} " + "x" * 30
    outputs = [e.tool_result.output for e in events if e.HasField("tool_result")]
    assert len(outputs) == 1 and f"tool-{sid}" in outputs[0], outputs


def test_100_concurrent_runs_complete_with_their_own_ordered_streams(serve: Callable[..., Served]) -> None:
    scripts = Scripts(tagged_script)
    served = serve(scripts)

    async def one(client: RuntimeServiceClient, index: int) -> tuple[str, list[pb.RunResponse]]:
        create = pb.CreateSessionRequest(
            session_id=f"s{index:03d}",
            model="test:scripted",
            permissions=pb.Permissions(mode="acceptEdits", allow=["Bash(echo *)"]),
        )
        sid = (await client.create_session(create, headers=served.headers)).session_id
        stream = client.run(pb.RunRequest(session_id=sid, prompt=f"run {index}"), headers=served.headers)
        return sid, [event async for event in stream]

    async def main() -> list[tuple[str, list[pb.RunResponse]]]:
        async with RuntimeServiceClient(served.url, timeout_ms=120_000) as client:
            return list(await asyncio.gather(*(one(client, i) for i in range(N_RUNS))))

    started = time.monotonic()
    results = asyncio.run(main())
    elapsed = time.monotonic() - started
    assert len({sid for sid, _ in results}) == N_RUNS
    for sid, events in results:
        check_stream(sid, events)
    assert sorted(job.session_id or "" for job in scripts.jobs) == sorted(sid for sid, _ in results)
    assert elapsed < 60, f"{N_RUNS} runs took {elapsed:.1f}s"


# -- drop and resume ---------------------------------------------------------------------------------------------


def test_a_client_dropping_twice_mid_run_resumes_without_loss_or_duplicates(serve: Callable[..., Served]) -> None:
    served = serve(Scripts(lambda job: [wait_for("release.fifo"), reply("y" * 60, chunk=2)]))
    gate = fifo(served, "release.fifo")
    with served.client() as client:
        sid = served.create(client)
        seen: list[Any] = []
        stream = client.run(pb.RunRequest(session_id=sid, prompt="go"), headers=served.headers)
        for event in stream:
            seen.append(event)
            if event.HasField("tool_call"):
                break
        stream.close()  # type: ignore[attr-defined]  # drop #1: the run is blocked in its tool
        assert not any(e.HasField("final") for e in seen)

        resumed = Reader(
            client.stream_events(
                pb.StreamEventsRequest(session_id=sid, after_seq=seen[-1].seq), headers=served.headers
            ),
            stop_after=5,  # drop #2: while the reply streams
        )
        release(gate)
        seen += resumed.join()
        assert not any(e.HasField("final") for e in seen)

        rest = list(
            client.stream_events(pb.StreamEventsRequest(session_id=sid, after_seq=seen[-1].seq), headers=served.headers)
        )
        seen += rest
        assert rest[-1].HasField("final")
        full = list(client.stream_events(pb.StreamEventsRequest(session_id=sid, after_seq=0), headers=served.headers))
    assert [e.seq for e in seen] == list(range(1, len(seen) + 1))
    assert [e.SerializeToString() for e in seen] == [e.SerializeToString() for e in full]
    assert "".join(e.token.text for e in seen if e.HasField("token")) == "y" * 60
    assert [e.tool_result.output for e in seen if e.HasField("tool_result")] == ["exit code: 0\nstdout:\nreleased"]


# -- InjectContext into a running run ----------------------------------------------------------------------------


def test_inject_context_reaches_the_model_at_its_next_step(serve: Callable[..., Served]) -> None:
    seen_by_model: list[str] = []

    def second_step(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        seen_by_model.append(repr(messages[-1]))
        return reply("noted the build")

    scripts = Scripts(lambda job: [wait_for("go.fifo"), second_step])
    served = serve(scripts)
    gate = fifo(served, "go.fifo")
    with served.client() as client:
        sid = served.create(client)
        stream = Reader(client.run(pb.RunRequest(session_id=sid, prompt="watch the build"), headers=served.headers))
        stream.wait_for("tool_call")
        entry = pb.ContextEntry(key="ci", content="build 42 is green")
        injected = client.inject_context(
            pb.InjectContextRequest(session_id=sid, entries=[entry]), headers=served.headers
        )
        assert (injected.delivered, injected.queued) == (True, 0)
        release(gate)
        events = stream.join()
    assert events[-1].final.result == "noted the build"
    assert [e.tool_result.output for e in events if e.HasField("tool_result")] == ["exit code: 0\nstdout:\nreleased"]
    assert "build 42 is green" not in repr(scripts.played[0].requests[0])
    assert len(seen_by_model) == 1 and "build 42 is green" in seen_by_model[0]
    assert 'key="ci"' in seen_by_model[0]


# -- CancelRun among many ----------------------------------------------------------------------------------------


def test_cancel_run_ends_only_the_runs_it_names(serve: Callable[..., Served]) -> None:
    served = serve(Scripts(lambda job: [wait_for(f"{job.session_id}.fifo"), reply(f"finished {job.session_id}")]))
    with served.client() as client:
        sids = [served.create(client, session_id=f"c{i}") for i in range(8)]
        gates = {sid: fifo(served, f"{sid}.fifo") for sid in sids}
        readers = {
            sid: Reader(client.run(pb.RunRequest(session_id=sid, prompt="wait"), headers=served.headers))
            for sid in sids
        }
        for reader in readers.values():
            reader.wait_for("tool_call")
        cancelled = sids[::2]
        for sid in cancelled:
            response = client.cancel_run(
                pb.CancelRunRequest(session_id=sid, reason=f"stop {sid}"), headers=served.headers
            )
            assert response.cancelled
        for sid in cancelled:
            events = readers[sid].join()
            assert kinds(events)[-3:] == ["error", "status", "final"]
            assert f"stop {sid}" in events[-3].error.message
            assert (events[-1].final.terminal_reason, events[-1].final.exit_code) == ("interrupted", 130)
        for sid in sids[1::2]:
            release(gates[sid])
        for sid in sids[1::2]:
            events = readers[sid].join()
            assert (events[-1].final.status, events[-1].final.result) == ("completed", f"finished {sid}")
        statuses: dict[str, Any] = {
            sid: client.get_session(pb.GetSessionRequest(session_id=sid), headers=served.headers).session.status
            for sid in sids
        }
    assert statuses == {
        sid: (pb.SESSION_STATUS_CANCELLED if sid in cancelled else pb.SESSION_STATUS_COMPLETED) for sid in sids
    }
