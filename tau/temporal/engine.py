"""`TemporalEngine`: the runtime's engine port (`tau.runtime.Engine`) as a Temporal client. It runs nothing here:
`execute` starts the workflow `tau.run` for the prepared run on a task queue that `tau worker` processes serve, then
follows the run's events with the workflow's `events` update (a long-poll: it returns as soon as there is something
new; no polling loop) and hands them to the sinks, in order, each once. `RunControl`'s cancel and inject become
`control` signals; a steering inbox (`tau inject` / `tau stop` beside `tau run`) is watched here and forwarded too.

Contract with the port: what `InlineEngine` raises before any event is raised here as well (ConfigError,
PreflightError, a start-up RunTimeout, the cancel error of a run cancelled before it started), from the failure the
workflow reports; a run that lost its last attempt after it emitted events ends with a terminal event made here
(`failure_event`, exit 1). One run per session across the fleet: the workflow id is `tau-session-<id>` and Temporal
refuses a second running workflow with that id (ConfigError, as a second inline run of a session is). A server that
cannot be reached is a PreflightError (exit 3).

The runs outlive the front end: a front end that stops following (drained, killed) leaves its runs to the workers,
and `reattach(session_id, delivered, sinks, control)` — any front end, any time later — follows the session's latest
workflow again from its event number `delivered` (the events the earlier front end had already handed on), so its
sinks see the rest, each event once, then the terminal event. `send(session_id, kind, text)` signals a cancel or an
injection to the session's run from any front end (another front end owns the run: `rpc.ownership`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from tau.errors import ConfigError, Interrupted, PreflightError, RunError, RunTimeout, TauError
from tau.protocol import EVENT_ADAPTER, Event, RunCompleted
from tau.runtime import PreparedRun, RunControl
from tau.runtime.engine import RUN_TAG, Sink
from tau.runtime.run_events import failure_event
from tau.temporal.wire import NAMESPACE, START_FAILURES, TASK_QUEUE, WORKFLOW, Control, Failure, Page, RunInput

MEMO_TAG = "tau_run"  # the workflow memo key holding the submitting front end's RUN_TAG
DEFAULT_HEARTBEAT = 10.0
DEFAULT_ATTEMPTS = 3


def workflow_id(session_id: str) -> str:
    return f"tau-session-{session_id}"


class _Remote:
    """The run as `RunControl` sees it (`RunHandle`): cancel and inject sent as signals, in order."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self._last: asyncio.Task[None] | None = None

    def cancel(self, error: RunError) -> None:
        name = "SIGTERM" if isinstance(error, Interrupted) and error.reason == "terminated" else "SIGINT"
        self._send(Control("cancel", error.message, name))

    def inject(self, text: str) -> None:
        self._send(Control("inject", text))

    def _send(self, control: Control) -> None:
        previous = self._last

        async def send() -> None:
            if previous is not None:
                with contextlib.suppress(Exception):
                    await previous
            with contextlib.suppress(Exception):  # a run that already ended takes no more signals
                await self.handle.signal("control", control)

        self._last = asyncio.get_running_loop().create_task(send())

    async def drain(self) -> None:
        if self._last is not None:
            with contextlib.suppress(Exception):
                await self._last


class TemporalEngine:
    """Executes runs on Temporal workers (see the module docstring). `heartbeat` bounds how long a dead worker's
    run waits before another worker takes it; `max_attempts` bounds the attempts of one run."""

    def __init__(
        self,
        address: str,
        *,
        namespace: str = NAMESPACE,
        task_queue: str = TASK_QUEUE,
        heartbeat: float = DEFAULT_HEARTBEAT,
        max_attempts: int = DEFAULT_ATTEMPTS,
    ) -> None:
        self.address = address
        self.namespace = namespace
        self.task_queue = task_queue
        self.heartbeat = heartbeat
        self.max_attempts = max_attempts
        self._client: Any = None

    async def client(self) -> Any:
        """The Temporal client (connected once, on first use); PreflightError when the server cannot be reached."""
        if self._client is None:
            from temporalio.client import Client

            try:
                self._client = await Client.connect(self.address, namespace=self.namespace)
            except Exception as error:
                detail = " ".join(str(error).split()) or type(error).__name__
                raise PreflightError(f"temporal: cannot reach {self.address}: {detail}") from None
        return self._client

    async def execute(self, run: PreparedRun, sinks: Sequence[Sink], control: RunControl) -> RunCompleted:
        if control.cancel_error is not None:
            raise control.cancel_error
        from tau.temporal.activity import continuation_data

        client = await self.client()
        data = RunInput(
            job=run.job.model_dump(mode="json"),
            session_id=run.session_id,
            continuation=continuation_data(run.continuation),
            heartbeat_seconds=self.heartbeat,
            max_attempts=self.max_attempts,
        )
        handle = await self._start(client, data)
        remote = _Remote(handle)
        try:
            control.attach(remote)
            async with _steering(run.inbox, remote, control):
                return await _follow(handle, sinks, run.session_id)
        finally:
            control.finish()
            await remote.drain()

    async def reattach(
        self, session_id: str, delivered: int, sinks: Sequence[Sink], control: RunControl, tag: str = ""
    ) -> RunCompleted:
        """Follow the session's latest run again after its first `delivered` events (see the module docstring);
        its cancel and inject go to the workflow through `control`. A workflow the server does not know raises;
        so does one submitted under another `tag` (RUN_TAG) than the run followed: an earlier run of the session,
        whose front end died before Temporal accepted the start of the run it had recorded (Interrupted)."""
        client = await self.client()
        handle = client.get_workflow_handle(workflow_id(session_id))
        described = await handle.describe()  # RPCError (not found) before anything is attached
        found = (await described.memo()).get(MEMO_TAG) if tag else None
        if tag and found is not None and found != tag:
            raise Interrupted(
                f"the run was never started: its front end stopped before Temporal accepted it (the session's "
                f"latest workflow is run {found!r}, not {tag!r}); send the prompt again"
            )
        remote = _Remote(handle)
        try:
            control.attach(remote)
            return await _follow(handle, sinks, session_id, after=delivered)
        finally:
            control.finish()
            await remote.drain()

    async def send(self, session_id: str, kind: str, text: str) -> bool:
        """Send the session's latest run a control (`cancel` with a reason, or `inject` with context) from any front
        end, as the front end that follows it would (the workflow's `control` signal); False when there is no
        workflow of the session to take it (never started, or already closed)."""
        client = await self.client()
        handle = client.get_workflow_handle(workflow_id(session_id))
        try:
            await handle.signal("control", Control(kind, text))
        except Exception:  # RPCError: not found, or the workflow already completed
            return False
        return True

    async def _start(self, client: Any, data: RunInput) -> Any:
        from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
        from temporalio.exceptions import WorkflowAlreadyStartedError

        try:
            return await client.start_workflow(
                WORKFLOW,
                data,
                id=workflow_id(data.session_id),
                task_queue=self.task_queue,
                memo={MEMO_TAG: tag} if (tag := RUN_TAG.get()) else None,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
        except WorkflowAlreadyStartedError:
            raise ConfigError(f"session {data.session_id} is already running on a worker", source="session") from None


# How long a follow keeps asking a workflow that does not answer (its workflow task held by a worker that died: up to
# the task timeout, then the retry's start) before the run is reported failed. Longer than any failover takes.
PAGE_PATIENCE_S = 120.0
_FATAL_RPC = ("NOT_FOUND", "INVALID_ARGUMENT", "PERMISSION_DENIED", "UNAUTHENTICATED", "UNIMPLEMENTED")


async def _page(handle: Any, after: int) -> Page:
    """The events after `after`: the `events` update waits for them; a closed workflow answers the `page` query.

    Neither answers while the workflow task sits with a worker that was killed (Temporal times the query out): the
    follow then tries again with a back-off for `PAGE_PATIENCE_S` before it gives up, so a client following a run
    through a failover sees the run continue, not fail (a run is failed by its workflow, never by its follower).
    """
    from temporalio.client import WorkflowUpdateFailedError
    from temporalio.service import RPCError

    loop = asyncio.get_running_loop()
    give_up = loop.time() + PAGE_PATIENCE_S
    delay = 0.2
    while True:
        try:
            page: Page = await handle.execute_update("events", after, result_type=Page)
            return page
        except (WorkflowUpdateFailedError, RPCError):
            pass
        try:
            closed: Page = await handle.query("page", after, result_type=Page)
            return closed
        except RPCError as error:
            if error.status.name in _FATAL_RPC or loop.time() >= give_up:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)


async def _follow(handle: Any, sinks: Sequence[Sink], session_id: str, *, after: int = 0) -> RunCompleted:
    last: Event | None = None
    while True:
        page = await _page(handle, after)
        for data in page.events:
            last = EVENT_ADAPTER.validate_python(data)
            _deliver(sinks, last)
        after += len(page.events)
        if page.done:
            break
    if isinstance(last, RunCompleted):
        return last
    error = _error_of(page.failure)
    if last is None and page.failure is not None and page.failure.kind in START_FAILURES:
        raise error  # the run could not start: raised before any event, as InlineEngine does
    completed = failure_event(error, session_id).model_copy(update={"seq": after})
    _deliver(sinks, completed)
    return completed


def _deliver(sinks: Sequence[Sink], event: Event) -> None:
    for sink in sinks:
        try:
            sink(event)
        except Exception:  # a failing sink (a closed stdout) must not stop the others or the run
            continue


def _error_of(failure: Failure | None) -> TauError:
    if failure is None:
        return RunError("the run ended without a terminal event")
    if failure.kind == "ConfigError":
        return ConfigError(failure.message)
    if failure.kind == "PreflightError":
        return PreflightError(failure.message)
    if failure.kind == "RunTimeout":
        return RunTimeout(failure.message, reason=failure.reason)
    if failure.kind == "Interrupted":
        return Interrupted(failure.message, signal_name="SIGTERM" if failure.exit_code == 143 else "SIGINT")
    return RunError(failure.message)


@contextlib.asynccontextmanager
async def _steering(inbox: str | None, remote: _Remote, control: RunControl) -> AsyncIterator[None]:
    """`tau inject` / `tau stop` beside `tau run --engine temporal`: the inbox is watched here, its requests sent on."""
    if inbox is None:
        yield
        return
    from tau.runtime.features.steering import steered

    path = Path(inbox)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PreflightError(f"session store: cannot create {path}: {error.strerror or error}") from None
    async with steered(path, inject=remote.inject, cancel=control.cancel):
        yield
