"""The activity `tau.execute_run`: one whole tau run, executed in a worker by tau's own engine (`InlineEngine`:
`prepare_run` + the loop driver), its events pushed to the workflow as they come.

Why one activity per run (not pydantic-ai's activity per model request and per tool call): every inline feature —
permissions and asks, hooks, MCP servers, the docker sandbox, subagents, compaction, budgets, steering — lives in the
driver and in objects a run holds for its whole life (a sandbox container, MCP processes, the session's write lock),
so the run stays in one process and Temporal gives it durability at the granularity tau already commits at: the
session store's snapshots (see docs/decisions.md, "The temporal engine").

Attempts: the first attempt tells the workflow the session's history length before the run (`base`). A retry (the
worker died or stopped heartbeating) asks the workflow for its `Progress` and continues from the session's last
committed step: `Continuation(recover=True)` when the run committed a step (a recorded model response is never
requested again; tool calls of the last response that never returned run again: at-least-once), else the original
operation again (nothing of it was recorded). A run whose head already records its end (the worker died after the
last commit) ends with that stored outcome in the driver (`runtime.recovery`: no model request, no tool call); one
whose terminal event already reached the workflow (`Progress.finished`) has nothing left to do. Every attempt
heartbeats from its first instant. A retry's `session.started` is replaced by one notice saying the run
moved (the client already has a `session.started`); the workflow numbers events across attempts and drops those of an
older attempt, so a client never sees an event twice or a gap in `seq`.

Controls: a task long-polls the workflow's `controls` update (no polling loop) and applies cancel / inject to the
run's `RunControl`; a retry applies a cancel sent earlier, not earlier injections (they reached the lost attempt).
Start-up failures (ConfigError, PreflightError, a start-up RunTimeout, a cancel before start) are non-retryable
`ApplicationError`s carrying the exit code and reason; a session still locked (its old writer alive) is retried.

Locality (`workspace_root` set, locality.py): `execute_run` and `place` only claim the run for this worker (they
answer its own queue); `execute_local` runs the attempt the workflow numbers, in the session's directory under the
root, restored first from the session's last committed checkpoint (restore.py) under the session's write lock (a
live attempt holds it: its workspace is never rewound under it); a moved run's notice says what the restore did.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic_ai.workspaces import WorkspaceUnavailableError
from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError

from tau.checkpoints.recorder import RewindReport
from tau.config import resume_job
from tau.config.spec import JobSpec
from tau.confine import inside
from tau.errors import ConfigError, Interrupted, PreflightError, RunError, RunTimeout, TauError
from tau.protocol import Event, Notice, SessionStarted
from tau.runtime import Answers, Continuation, InlineEngine, PreparedRun, RunControl
from tau.runtime.engine import ModelFactory
from tau.runtime.features.plan import PlanReview
from tau.sessions import SessionNotFoundError, SessionStore
from tau.sessions.errors import CorruptObjectError
from tau.temporal.locality import LOCAL_ACTIVITY, PLACE_ACTIVITY, Placement, session_workspace
from tau.temporal.restore import restore_workspace, restored_text
from tau.temporal.submitted_store import SubmittedWorkspace
from tau.temporal.wire import ACTIVITY, Control, EventBatch, Progress, RunInput


def continuation_data(continuation: Continuation | None) -> dict[str, Any] | None:
    """A `Continuation` as JSON values (`RunInput.continuation`)."""
    if continuation is None:
        return None
    answers = continuation.answers
    review = continuation.plan_review
    return {
        "prompt": continuation.prompt,
        "approve": list(answers.approve),
        "deny": dict(answers.deny),
        "answer": dict(answers.answer),
        "plan_review": None if review is None else {"decision": review.decision, "reason": review.reason},
        "recover": continuation.recover,
    }


def continuation_of(data: Mapping[str, Any] | None) -> Continuation | None:
    if data is None:
        return None
    answers = Answers(approve=tuple(data["approve"]), deny=dict(data["deny"]), answer=dict(data["answer"]))
    review = data.get("plan_review")
    plan = None if review is None else PlanReview(review["decision"], review.get("reason"))
    return Continuation(data.get("prompt"), answers, plan, recover=bool(data.get("recover")))


class _Forwarder:
    """The run's event sink: events batched to the workflow (signal `events`) in order, one signal in flight."""

    def __init__(self, handle: WorkflowHandle[Any, Any], attempt: int, *, replace_start: str | None) -> None:
        self.handle = handle
        self.attempt = attempt
        self.replace_start = replace_start  # a retry: its session.started becomes this notice
        self.buffer: list[dict[str, Any]] = []
        self.wake = asyncio.Event()
        self.closed = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, SessionStarted) and self.replace_start is not None:
            event = Notice(level="warning", message=self.replace_start)
        self.buffer.append(event.model_dump(mode="json"))
        self.wake.set()

    async def send(self) -> None:
        """Until closed and drained: whatever accumulated goes in one signal."""
        while True:
            await self.wake.wait()
            self.wake.clear()
            if self.buffer:
                batch, self.buffer = self.buffer, []
                await self.handle.signal("events", EventBatch(self.attempt, batch))
            if self.closed and not self.buffer:
                return


class RunActivity:
    """The worker's side of a run: its session store, its environment (credentials are re-resolved from it) and
    the test seam `model_factory` (scripted models in tests; None in production)."""

    def __init__(
        self,
        store: SessionStore,
        *,
        env: Mapping[str, str] | None = None,
        model_factory: ModelFactory | None = None,
        close_timeout: float | None = 30.0,
        workspace_root: Path | None = None,
    ) -> None:
        self.store = store
        self.env = dict(os.environ if env is None else env)
        self.engine = InlineEngine(store, model_factory=model_factory, close_timeout=close_timeout)
        self.identity = f"{socket.gethostname()}:{os.getpid()}"
        self.workspace_root = workspace_root  # set: this worker holds workspaces (locality.py)
        self.local_queue: str | None = None  # its own task queue (set by the worker that polls it)
        self.live: set[str] = set()  # sessions an attempt is running in this worker now

    @activity.defn(name=ACTIVITY)
    async def execute_run(self, run: RunInput) -> str | None:
        """Run the run here (a worker sharing the filesystem), or claim it (a locality worker: its own queue)."""
        if self.workspace_root is not None:
            return self.local_queue
        await self._execute(run, activity.info().attempt, None)
        return None

    @activity.defn(name=PLACE_ACTIVITY)
    async def place(self) -> str | None:
        """A lost run's next attempt: this locality worker claims it (its own queue)."""
        return self.local_queue

    @activity.defn(name=LOCAL_ACTIVITY)
    async def execute_local(self, run: RunInput, placement: Placement) -> None:
        """Attempt `placement.attempt` of a run claimed by this locality worker, in the session's workspace under
        this worker's root, restored from the session's last committed checkpoint first."""
        assert self.workspace_root is not None
        directory = session_workspace(self.workspace_root, run.session_id)
        if directory == self.workspace_root or not inside(os.path.normpath(directory), str(self.workspace_root)):
            raise _application_error(ConfigError(f"session id {run.session_id!r} is not a directory name"))
        await self._execute(run, placement.attempt, directory)

    async def _execute(self, run: RunInput, attempt: int, local: Path | None) -> None:
        """Heartbeats from the first instant: the first query can wait for a workflow task still held by a dead
        worker (up to the workflow task timeout, 10 s), longer than a short heartbeat timeout. An attempt whose
        earlier attempt still runs in this worker (its heartbeat timed out) is retried, touching nothing: the store
        would refuse the session as open in this process (a ConfigError, final) and the restore would rewind it."""
        if run.session_id in self.live:
            message = f"session {run.session_id}: an earlier attempt of the run still runs on this worker"
            raise _application_error(RunError(message))
        self.live.add(run.session_id)
        beating = asyncio.ensure_future(_heartbeat(max(0.2, run.heartbeat_seconds / 3)))
        try:
            await self._attempt(run, attempt, local)
        finally:
            self.live.discard(run.session_id)
            beating.cancel()
            with contextlib.suppress(BaseException):
                await beating

    async def _attempt(self, run: RunInput, attempt: int, local: Path | None) -> None:
        info = activity.info()
        handle = activity.client().get_workflow_handle(info.workflow_id or "", run_id=info.workflow_run_id)
        progress: Progress = await handle.query("progress", result_type=Progress)
        if progress.finished:  # an earlier attempt delivered the terminal event and was lost before it returned
            return
        restored = "" if local is None else "; " + restored_text(await self._restore(run.session_id, local))
        job = self._job(run.job, local)
        continuation = continuation_of(run.continuation)
        length = await self._history_length(run.session_id)
        moved: str | None = None
        if attempt == 1 or progress.base is None:
            await handle.signal("base", length)
        else:
            continuation = _retry_continuation(continuation, job, base=progress.base, now=length)
            if progress.delivered:
                moved = f"the run moved to worker {self.identity} (attempt {attempt}): it continues from its last step"
                moved += restored
        forwarder = _Forwarder(handle, attempt, replace_start=moved)
        control = RunControl()
        if progress.cancel is not None:
            _apply(control, progress.cancel)
        after = len(_controls_seen(progress, attempt))
        async with _alongside(forwarder, handle, control, after):
            try:
                await self._engine(run, local).execute(
                    PreparedRun(job, run.session_id, continuation), [forwarder], control
                )
            except TauError as error:
                raise _application_error(error) from None

    def _engine(self, run: RunInput, local: Path | None) -> InlineEngine:
        """The worker's engine; for a locality run one whose store records the submitted workspace (submitted_store)."""
        if local is None:
            return self.engine
        submitted = run.job.get("environment", {}).get("workspace")
        store = SubmittedWorkspace(self.store, submitted if isinstance(submitted, str) else None)
        engine = self.engine
        return InlineEngine(
            store, model_factory=engine.model_factory, providers=engine.providers, close_timeout=engine.close_timeout
        )

    async def _restore(self, session_id: str, directory: Path) -> RewindReport | None:
        """The restore, under the session's write lock: a live attempt of the run (one whose heartbeat timed out on
        a worker still alive) holds it, so its workspace is never rewound under it (SessionLockedError: retried)."""
        try:
            await self.store.resume(session_id)
        except SessionNotFoundError:  # a new session: nothing to restore yet
            directory.mkdir(parents=True, exist_ok=True)
            return None
        except TauError as error:
            raise _application_error(error) from None
        try:
            return await restore_workspace(self.store, session_id, directory)
        except (OSError, WorkspaceUnavailableError, CorruptObjectError) as error:  # retried (placed again)
            raise _application_error(RunError(f"workspace restore failed in {directory}: {error}")) from None
        finally:
            await self.store.close(session_id)

    def _job(self, dump: Mapping[str, Any], local: Path | None) -> JobSpec:
        """The job from its credential-free dump, credentials re-resolved from this worker's environment; on a
        locality worker its workspace is the session's directory under this worker's root."""
        if local is not None:
            return resume_job(dump, prompt=None, flags={"cwd": str(local)}, env=self.env, cwd=local)
        workspace = Path(str(dump.get("environment", {}).get("workspace") or "."))
        return resume_job(dump, prompt=None, flags={}, env=self.env, cwd=workspace)

    async def _history_length(self, session_id: str) -> int:
        """How many messages the session holds now (-1: no such session yet)."""
        try:
            return len(await self.store.history(session_id))
        except SessionNotFoundError:
            return -1


def _retry_continuation(original: Continuation | None, job: JobSpec, *, base: int, now: int) -> Continuation | None:
    """How a retry continues (see the module docstring)."""
    if now > max(base, 0):
        return Continuation(recover=True)
    if now >= 0 and original is None:  # the session was begun, nothing committed: start it again as a continuation
        return Continuation(job.prompt)
    return original


def _controls_seen(progress: Progress, attempt: int) -> list[Control]:
    """Controls a retry skips (they went to the lost attempt); the first attempt sees them all."""
    return [] if attempt == 1 else [progress.cancel] if progress.cancel is not None else []


def _apply(control: RunControl, item: Control) -> None:
    if item.kind == "cancel":
        control.cancel(Interrupted(item.text or "run cancelled", signal_name=item.signal))
    elif item.kind == "inject":
        control.inject(item.text)


async def _follow_controls(handle: WorkflowHandle[Any, Any], control: RunControl, after: int) -> None:
    while True:
        items: list[Control] = await handle.execute_update("controls", after, result_type=list[Control])
        if not items:
            return
        for item in items:
            _apply(control, item)
        after += len(items)


async def _heartbeat(interval: float) -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def _alongside(forwarder: _Forwarder, handle: WorkflowHandle[Any, Any], control: RunControl, after: int) -> Any:
    """While the run runs: events sent, controls followed; at the end every event is delivered."""
    sender = asyncio.ensure_future(forwarder.send())
    helpers = [asyncio.ensure_future(_follow_controls(handle, control, after))]
    try:
        yield
    finally:
        for task in helpers:
            task.cancel()
        forwarder.closed = True
        forwarder.wake.set()
        await sender
        for task in helpers:
            with contextlib.suppress(BaseException):
                await task


def _application_error(error: TauError) -> ApplicationError:
    """A run that could not start, as Temporal carries it: type, one line, exit code and reason."""
    kind = "RunError"
    for cls in (ConfigError, PreflightError, RunTimeout, Interrupted):
        if isinstance(error, cls):
            kind = cls.__name__
            break
    retryable = kind == "RunError"  # a locked session (its old writer alive), a store that failed to write
    details = (int(error.exit_code), error.reason)
    return ApplicationError(error.message, *details, type=kind, non_retryable=not retryable)


__all__ = ["RunActivity", "continuation_data", "continuation_of"]
