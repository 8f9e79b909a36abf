"""The runtime seam: a launcher whose run `SupportsInject` gets InjectContext entries while it runs, and a launcher
that fails still ends the run with Error, Status and Final."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rpc_helpers import Served

from tau.config import JobSpec
from tau.errors import PreflightError, RunError
from tau.protocol import MessageDelta, RunCompleted
from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc.launch import RunHandle, Sink
from tau.sessions import SessionStore


class EchoInjected:
    """A run that waits for one injected text, streams it back, and completes."""

    def __init__(self, job: JobSpec, sink: Sink) -> None:
        self.job, self.sink = job, sink
        self.injected: asyncio.Queue[str] = asyncio.Queue()

    def inject(self, text: str) -> None:
        self.injected.put_nowait(text)

    async def run(self) -> RunCompleted:
        self.sink(MessageDelta(text="waiting"))
        text = await asyncio.wait_for(self.injected.get(), 10)
        self.sink(MessageDelta(text=text))
        done = RunCompleted(
            status="completed", terminal_reason="completed", exit_code=0, session_id=self.job.session_id or ""
        )
        self.sink(done)
        return done

    def cancel(self, error: RunError) -> None:
        raise AssertionError("not cancelled in this test")

    async def close(self) -> None:
        return None


async def echo_launcher(job: JobSpec, sink: Sink, model: object, store: SessionStore, _: object) -> RunHandle:
    return EchoInjected(job, sink)


async def failing_launcher(job: JobSpec, sink: Sink, model: object, store: SessionStore, _: object) -> RunHandle:
    raise PreflightError("required MCP server 'db' failed to start")


def test_inject_context_reaches_a_running_run_that_supports_it(serve: Callable[..., Served]) -> None:
    served = serve(launcher=echo_launcher)
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


def test_a_run_that_cannot_start_still_ends_with_error_status_and_final(serve: Callable[..., Served]) -> None:
    served = serve(launcher=failing_launcher)
    with served.client() as client:
        session_id = served.create(client)
        events = list(client.run(pb.RunRequest(session_id=session_id, prompt="go"), headers=served.headers))
        assert [e.WhichOneof("event") for e in events] == ["status", "error", "status", "final"]
        assert (events[1].error.code, events[1].error.kind) == ("preflight_failed", "PreflightError")
        assert (events[-1].final.exit_code, events[-1].final.session_status) == (3, pb.SESSION_STATUS_ERROR)
        session = client.get_session(pb.GetSessionRequest(session_id=session_id), headers=served.headers).session
        assert (session.status, session.terminal_reason) == (pb.SESSION_STATUS_ERROR, "preflight_failed")
