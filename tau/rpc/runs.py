"""One run of an RPC session, from its start to its final event: `RunSupervisor` (used by `rpc.service`).

The run itself is the runtime's: the supervisor submits the session's operation (`Start`, `Continue`, `Answer`,
`ReviewPlan`) to `tau.runtime.Runtime` in a server task and maps its events into the session's log.

Invariants (the service's contract, see its docstring):
- every run ends with exactly one final event, also when the runtime could not start or the task is cancelled; a run
  that failed gets Error before Status and Final;
- the final event is appended only once the runtime has let go of everything the run held (the session's store
  lock, its workspace, its MCP servers; the engine bounds the clean-up by `ServiceLimits.close_timeout`), so a Run
  sent as soon as a client sees Final never finds the session locked;
- the run's control is reserved in the runtime when the run is launched, so CancelRun and InjectContext reach it
  even before its task has started; context queued between runs is handed to the run once it exists;
- a finished run leaves only its record (`RunState` numbers and key): its task and outcome are dropped, and so are
  the loop's cancelled timers that held its context (`rpc.timers`); the C allocator's free memory is returned to
  the system after each run (`rpc.allocator`), so RSS follows what the server holds, not the largest history loaded.
- detaching (`detach()`, a server stopping over an engine whose runs outlive it, `rpc.reattach`): the run tasks are
  cancelled without a final event and without cancelling the runs; the sessions' records keep them unfinished, and
  `reattach` (the next front end) follows them again to their end.
Everything runs on the server's one event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from tau.errors import InternalError, Interrupted, TauError
from tau.protocol import (
    ApprovalRequested,
    ClarificationRequested,
    Event,
    PlanSubmitted,
    RunCompleted,
    SessionStarted,
    SnapshotCreated,
    UsageTotals,
    UsageUpdated,
)
from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc.allocator import release_free_memory
from tau.rpc.events import error_response, pending_of, session_status_of, status_response, to_response
from tau.rpc.jobs import render_context
from tau.rpc.reattach import Detachable, delivered_of, run_tag
from tau.rpc.registry import RunState, SessionRegistry, SessionState, add_usage
from tau.rpc.timers import drop_cancelled_timers
from tau.runtime import Cancel, RunControl, RunOperation, Runtime, failure_event
from tau.runtime.engine import RUN_TAG, Sink
from tau.runtime.features.background import BACKGROUND, BackgroundSpawn
from tau.telemetry import run_sinks


class RunSupervisor:
    """Starts runs as server tasks and settles them (see the module docstring). `tasks` are the runs in flight."""

    def __init__(self, registry: SessionRegistry, *, runtime: Runtime) -> None:
        self._registry = registry
        self._runtime = runtime
        self.runtime = runtime
        self.tasks: set[asyncio.Task[None]] = set()
        self.on_finished: Callable[[SessionState, RunCompleted], None] | None = None  # the mailbox's (rpc.mailbox)
        self.spawner: Callable[[SessionState], BackgroundSpawn] | None = None  # task(background) (rpc.agents)
        self.detaching = False  # `detach()`: run tasks end without a final event (the runs go on elsewhere)
        self.on_settled: Callable[[SessionState], None] | None = None  # a run has ended (rpc.ownership lets go)

    def launch(self, session: SessionState, op: RunOperation, *, prompt: str, key: str, detail: str) -> RunState:
        """Start one run of the session (a prompt or the answers to pending requests) as a server task."""
        run = RunState(number=len(session.runs) + 1, idempotency_key=key, prompt=prompt)
        if session.runs:
            session.runs[-1].prompt = ""  # only the last run's prompt is kept (`rpc.registry`)
        session.runs.append(run)
        session.current = run
        session.status = pb.SESSION_STATUS_RUNNING
        session.usage_run = UsageTotals()
        session.clear_pending()
        session.touch()
        text = f"run {run.number} started" + (f" ({detail})" if detail else "")
        run.first_seq = session.log.last_seq + 1
        self._registry.save(session)  # before the first event: a restart then knows the run (and its key)
        session.log.append(lambda seq: status_response(pb.SESSION_STATUS_RUNNING, text, seq=seq, run=run.number))
        control = self._runtime.control(session.session_id)  # reserved now: a cancel or context before the task runs
        control.on_attach = lambda: self._deliver_queued(session, control)
        task = asyncio.get_running_loop().create_task(
            self._drive(session, run, op), name=f"tau-run-{session.session_id}"
        )
        run.task = task
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return run

    async def _drive(self, session: SessionState, run: RunState, op: RunOperation) -> None:
        """Run the operation through the runtime; whatever happens, the run ends with exactly one final event,
        appended once the runtime has let go of everything the run held."""
        if self.spawner is not None:  # this task's context: the run's `task(background=true)` starts agents here
            BACKGROUND.set(self.spawner(session))
        RUN_TAG.set(run_tag(session.session_id, run.number))  # kept with a run that outlives us (rpc.reattach)
        try:
            outcome = await self._run_to_end(session, run, op)
        except asyncio.CancelledError:
            if self.detaching:  # the run goes on without this front end: its record stays unfinished
                self._registry.save(session)
                raise
            lost = Interrupted("run task cancelled", signal_name="SIGTERM")
            self.finish(session, run, run.outcome or failure_event(lost, session.session_id))
            raise
        if self.detaching and run.outcome is None:  # the engine's wait was cut, not the run (temporalio's own error)
            self._registry.save(session)
            return
        self.finish(session, run, outcome)
        drop_cancelled_timers(asyncio.get_running_loop())  # the run's history must not outlive it (rpc.timers)
        release_free_memory()  # nor the allocator's high-water mark of it (rpc.allocator)

    async def _run_to_end(self, session: SessionState, run: RunState, op: RunOperation) -> RunCompleted:
        """The run's terminal event: the runtime's, else one for the failure that kept it from ending."""
        failure: TauError = InternalError("the run ended without a final event")
        try:
            await self._runtime.submit(op, sinks=[self._sink(session, run)])
        except TauError as error:
            failure = error
        except Exception as error:
            failure = InternalError(f"internal error: {type(error).__name__}: {error}")
        if run.outcome is not None:
            return run.outcome
        ended = failure_event(failure, session.session_id)
        for observe in run_sinks():  # a run that could not start has no emitter: /metrics still counts it
            observe(ended)
        return ended

    async def detach(self, timeout: float) -> None:
        """Let every run go on without this front end (see the module docstring): their tasks end, not the runs."""
        self.detaching = True
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    def reattach(self, session: SessionState, engine: Detachable) -> None:
        """Follow the session's unfinished run (an earlier front end's) to its end as a server task: its events go
        on in the log after those already there, then its final event; a run that cannot be followed (its workflow
        is gone) ends as `_drive` ends a run that failed."""
        run = session.current
        assert run is not None
        control = self._runtime.control(session.session_id)
        delivered = delivered_of(run.first_seq, session.log.last_seq)

        async def follow() -> RunCompleted:
            sinks = [control.observe, self._sink(session, run)]
            tag = run_tag(session.session_id, run.number)
            return await engine.reattach(session.session_id, delivered, sinks, control, tag)

        task = asyncio.get_running_loop().create_task(
            self._settle(session, run, follow()), name=f"tau-reattach-{session.session_id}"
        )
        run.task = task
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _settle(self, session: SessionState, run: RunState, outcome: Coroutine[Any, Any, RunCompleted]) -> None:
        failure: TauError | None = None
        try:
            await outcome
        except asyncio.CancelledError:
            if self.detaching:  # the run goes on without this front end again: its record stays unfinished
                self._registry.save(session)
            else:
                self.finish(session, run, run.outcome or failure_event(Interrupted("run task cancelled"),
                                                                       session.session_id))  # fmt: skip
            raise
        except TauError as error:
            failure = error
        except Exception as error:
            failure = Interrupted(f"the front end lost this run ({type(error).__name__}: {error})")
        if self.detaching and run.outcome is None:  # as in `_drive`: the wait was cut, not the run
            self._registry.save(session)
            return
        if run.outcome is None:
            failure = failure or InternalError("the run ended without a final event")
            run.outcome = failure_event(failure, session.session_id)
        self.finish(session, run, run.outcome)

    async def cancel(self, session: SessionState, reason: str, *, signal: str = "SIGINT") -> bool:
        """Cancel the session's run (`Cancel`); False when no run of it is in this process."""
        cancel = Cancel(session.session_id, reason, signal="SIGTERM" if signal == "SIGTERM" else "SIGINT")
        return (await self._runtime.submit(cancel)).delivered

    def _deliver_queued(self, session: SessionState, control: RunControl) -> None:
        """Context queued for the session (InjectContext between runs) reaches the run once it exists, before its
        first model request; a run that never starts leaves it queued for the next one."""
        if session.queued_context:
            control.inject(render_context(session.take_queued()))
            self._registry.save(session)

    def _sink(self, session: SessionState, run: RunState) -> Sink:
        def sink(event: Event) -> None:
            if run.final_seq is not None:
                return
            if isinstance(event, RunCompleted):
                run.outcome = event  # appended by `_drive` once the run has released the session
                return
            _observe(session, event, run.number)
            session.log.append(lambda seq: to_response(event, seq=seq, run=run.number))

        return sink

    def finish(self, session: SessionState, run: RunState, event: RunCompleted) -> None:
        """Append the end of a run (Error?, Status, Final) and settle the session. Once per run."""
        if run.final_seq is not None:
            return
        number = run.number
        if event.status not in ("completed", "suspended"):
            session.log.append(lambda seq: error_response(event, seq=seq, run=number))
        if event.status != "suspended":
            session.clear_pending()
        status = session_status_of(event, session.pending.values())
        session.log.append(lambda seq: status_response(status, event.terminal_reason, seq=seq, run=number))
        session.usage_done = add_usage(session.usage_done, event.usage)
        session.usage_run = UsageTotals()
        session.cost_usd += event.cost_usd or 0.0
        session.status = status
        session.terminal_reason = event.terminal_reason
        session.current = None
        session.touch()
        final = session.log.append(lambda seq: _final_response(event, status, seq=seq, run=number))
        run.final_seq = final.seq
        run.task, run.outcome = None, None  # a session keeps its runs' records, not the runs
        self._registry.save(session)
        if self.on_finished is not None:
            self.on_finished(session, event)
        if self.on_settled is not None:
            self.on_settled(session)


def _final_response(event: RunCompleted, status: pb.SessionStatus, *, seq: int, run: int) -> pb.RunResponse:
    response = to_response(event, seq=seq, run=run)
    response.final.session_status = status
    return response


def _observe(session: SessionState, event: Event, run: int) -> None:
    """Keep the session's head snapshot, running usage and pending requests current."""
    if isinstance(event, SnapshotCreated | SessionStarted):
        session.head_snapshot_id = event.snapshot_id or session.head_snapshot_id
        session.begun = True  # the run opened the session in the store
        if isinstance(event, SessionStarted):  # GetSession's MCP servers: as the last run found them
            session.mcp_servers = [
                pb.McpServerStatus(name=s.name, status=s.status, tools=s.tools, error=s.error or "") for s in event.mcp
            ]
    elif isinstance(event, UsageUpdated):
        session.usage_run = event.usage
    elif isinstance(event, ApprovalRequested | ClarificationRequested | PlanSubmitted):
        request = pending_of(event, run=run)
        session.pending[request.request_id] = request
