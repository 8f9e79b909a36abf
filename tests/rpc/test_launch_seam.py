"""The engine seam under the RPC service: an engine whose run takes InjectContext entries while it runs (through its
`RunControl`), context queued while a session waits reaching the run that answers it, and an engine that cannot start
a run still ends it with Error, Status and Final."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from rpc_helpers import Served

from tau.errors import PreflightError, RunError
from tau.protocol import ApprovalRequested, MessageDelta, RunCompleted
from tau.rpc._gen import runtime_pb2 as pb
from tau.runtime import PreparedRun, RunControl
from tau.runtime.engine import Sink


class EchoInjected:
    """A run that waits for one injected text, streams it back, and completes."""

    def __init__(self) -> None:
        self.injected: asyncio.Queue[str] = asyncio.Queue()

    def inject(self, text: str) -> None:
        self.injected.put_nowait(text)

    def cancel(self, error: RunError) -> None:
        raise AssertionError("not cancelled in this test")


class EchoEngine:
    async def execute(self, run: PreparedRun, sinks: Sequence[Sink], control: RunControl) -> RunCompleted:
        handle = EchoInjected()
        control.attach(handle)

        def emit(event: object) -> None:
            for sink in sinks:
                sink(event)  # type: ignore[arg-type]

        emit(MessageDelta(text="waiting"))
        emit(MessageDelta(text=await asyncio.wait_for(handle.injected.get(), 10)))
        done = RunCompleted(status="completed", terminal_reason="completed", exit_code=0, session_id=run.session_id)
        emit(done)
        return done


class FailingEngine:
    async def execute(self, run: PreparedRun, sinks: Sequence[Sink], control: RunControl) -> RunCompleted:
        raise PreflightError("required MCP server 'db' failed to start")


def test_inject_context_reaches_a_running_run(serve: Callable[..., Served]) -> None:
    served = serve(engine=EchoEngine())
    with served.client() as client:
        session_id = served.create(client)
        stream = client.run(pb.RunRequest(session_id=session_id, prompt="go"), headers=served.headers)
        events = [next(stream), next(stream)]
        assert events[1].token.text == "waiting"
        entry = pb.ContextEntry(key="ci", content="build 42 is green")
        injected = client.inject_context(
            pb.InjectContextRequest(session_id=session_id, entries=[entry]), headers=served.headers
        )
        assert (injected.delivered, injected.queued) == (True, 0)
        events += list(stream)
        assert events[2].token.text == '<context key="ci" content_type="text/plain">\nbuild 42 is green\n</context>'
        assert events[-1].final.status == "completed"
        again = client.inject_context(
            pb.InjectContextRequest(session_id=session_id, entries=[entry]), headers=served.headers
        )
        assert (again.delivered, again.queued) == (False, 1)  # the run ended: queued for the next one


def test_a_run_that_cannot_start_still_ends_with_error_status_and_final(serve: Callable[..., Served]) -> None:
    served = serve(engine=FailingEngine())
    with served.client() as client:
        session_id = served.create(client)
        events = list(client.run(pb.RunRequest(session_id=session_id, prompt="go"), headers=served.headers))
        assert [e.WhichOneof("event") for e in events] == ["status", "error", "status", "final"]
        assert (events[1].error.code, events[1].error.kind) == ("preflight_failed", "PreflightError")
        assert (events[-1].final.exit_code, events[-1].final.session_status) == (3, pb.SESSION_STATUS_ERROR)
        session = client.get_session(pb.GetSessionRequest(session_id=session_id), headers=served.headers).session
        assert (session.status, session.terminal_reason) == (pb.SESSION_STATUS_ERROR, "preflight_failed")


class SuspendThenEcho:
    """Run 1 suspends on an approval; every later run streams back what was injected into it once it existed."""

    def __init__(self) -> None:
        self.runs = 0

    async def execute(self, run: PreparedRun, sinks: Sequence[Sink], control: RunControl) -> RunCompleted:
        self.runs += 1

        def emit(event: Any) -> None:
            for sink in sinks:
                sink(event)

        if self.runs == 1:
            emit(ApprovalRequested(call_id="c1", tool="write", input={}, reason="needs approval"))
            done = RunCompleted(
                status="suspended", terminal_reason="needs_input", exit_code=4, session_id=run.session_id
            )
        else:
            handle = EchoInjected()
            control.attach(handle)
            while not handle.injected.empty():
                emit(MessageDelta(text=handle.injected.get_nowait()))
            done = RunCompleted(status="completed", terminal_reason="completed", exit_code=0, session_id=run.session_id)
        emit(done)
        return done


def test_context_queued_while_suspended_reaches_the_run_that_answers(serve: Callable[..., Served]) -> None:
    served = serve(engine=SuspendThenEcho())
    with served.client() as client:
        session_id = served.create(client)
        first = list(client.run(pb.RunRequest(session_id=session_id, prompt="go"), headers=served.headers))
        assert first[-1].final.status == "suspended"
        entry = pb.ContextEntry(key="ci", content="build 43 is red")
        queued = client.inject_context(
            pb.InjectContextRequest(session_id=session_id, entries=[entry]), headers=served.headers
        )
        assert (queued.delivered, queued.queued) == (False, 1)
        answer = pb.RespondRequest(session_id=session_id, request_id="c1", approval=pb.Approval(approved=True))
        client.respond(answer, headers=served.headers)
        follow = pb.StreamEventsRequest(session_id=session_id, after_seq=first[-1].seq, follow=False)
        later = list(client.stream_events(follow, headers=served.headers))
        tokens = [event.token.text for event in later if event.WhichOneof("event") == "token"]
        assert tokens == ['<context key="ci" content_type="text/plain">\nbuild 43 is red\n</context>']
        assert later[-1].final.status == "completed"
