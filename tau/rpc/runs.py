"""One run of an RPC session, from its start to its final event: `RunSupervisor` (used by `rpc.service`).

Invariants (the service's contract, see its docstring):
- every run ends with exactly one final event, also when the runtime could not start or the task is cancelled; a run
  that failed gets Error before Status and Final;
- the final event is appended only once the runtime has let go of everything the run held (the session's store
  lock, its workspace, its MCP servers; the clean-up bounded by `ServiceLimits.close_timeout`), so a Run sent as soon
  as a client sees Final never finds the session locked;
- a run's models share the service's providers (`ProviderPool.lease`), one per model configuration;
- a finished run leaves only its record (`RunState` numbers and key): its driver, task and outcome are dropped, and
  so are the loop's cancelled timers that held its context (`rpc.timers`).
Everything runs on the server's one event loop.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from tau.config import JobSpec
from tau.errors import InternalError, Interrupted, TauError
from tau.models.providers import ProviderPool
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
from tau.rpc.events import error_response, pending_of, session_status_of, status_response, to_response
from tau.rpc.jobs import render_context
from tau.rpc.launch import Launcher, ModelFactory, RunHandle, Sink, SupportsInject
from tau.rpc.registry import RunState, SessionRegistry, SessionState, add_usage
from tau.rpc.timers import drop_cancelled_timers
from tau.sessions import SessionStore

if TYPE_CHECKING:
    from tau.rpc.service import ServiceLimits
    from tau.runtime import Continuation


def failure_event(error: TauError, session_id: str) -> RunCompleted:
    """The terminal event of a run the runtime could not start or finish itself."""
    return RunCompleted(
        status="failed",
        terminal_reason=error.reason,
        exit_code=int(error.exit_code),
        session_id=session_id,
        error=error.message,
        error_kind=type(error).__name__,
        retryable=bool(getattr(error, "retryable", False)),
    )


class RunSupervisor:
    """Starts runs as server tasks and settles them (see the module docstring). `tasks` are the runs in flight."""

    def __init__(
        self,
        registry: SessionRegistry,
        *,
        store: SessionStore,
        launcher: Launcher,
        model_factory: ModelFactory | None,
        providers: ProviderPool,
        limits: ServiceLimits,
    ) -> None:
        self._registry = registry
        self._store = store
        self._launcher = launcher
        self._model_factory = model_factory
        self._providers = providers
        self._limits = limits
        self.tasks: set[asyncio.Task[None]] = set()

    def launch(
        self, session: SessionState, job: JobSpec, continuation: Continuation | None, *, key: str, detail: str
    ) -> RunState:
        """Start one run of the session (a prompt or the answers to pending requests) as a server task."""
        run = RunState(number=len(session.runs) + 1, idempotency_key=key, prompt=job.prompt)
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
        task = asyncio.get_running_loop().create_task(
            self._drive(session, run, job, continuation), name=f"tau-run-{session.session_id}"
        )
        run.task = task
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return run

    async def _drive(
        self, session: SessionState, run: RunState, job: JobSpec, continuation: Continuation | None
    ) -> None:
        """Run one job through the runtime; whatever happens, the run ends with exactly one final event. The final
        event is appended only once the runtime has let go of everything the run held (the session's store lock,
        its workspace, its MCP servers): a Run sent as soon as a client sees Final never finds the session locked.
        The run's models share the service's providers (`ProviderPool.lease`)."""
        try:
            async with self._providers.lease():
                outcome = await self._run_to_end(session, run, job, continuation)
        except asyncio.CancelledError:
            lost = Interrupted("run task cancelled", signal_name="SIGTERM")
            self.finish(session, run, run.outcome or failure_event(lost, session.session_id))
            raise
        self.finish(session, run, outcome)
        drop_cancelled_timers(asyncio.get_running_loop())  # the run's history must not outlive it (rpc.timers)

    async def _run_to_end(
        self, session: SessionState, run: RunState, job: JobSpec, continuation: Continuation | None
    ) -> RunCompleted:
        """Build, run and close the run; its terminal event (the runtime's, else one for the failure)."""
        handle = None
        failure: TauError = InternalError("the run ended without a final event")
        try:
            model = self._model_factory(job) if self._model_factory is not None else None
            handle = await self._launcher(job, self._sink(session, run), model, self._store, continuation)
            run.driver = handle
            if run.cancel_error is not None:
                handle.cancel(run.cancel_error)
            self._deliver_queued(session, handle)
            await handle.run()
        except TauError as error:
            failure = error
        except Exception as error:
            failure = InternalError(f"internal error: {type(error).__name__}: {error}")
        finally:
            if handle is not None:
                await self._close(handle, self._limits.close_timeout)
        return run.outcome or failure_event(failure, session.session_id)

    @staticmethod
    async def _close(handle: RunHandle, timeout: float) -> None:
        try:
            await asyncio.wait_for(handle.close(), timeout)
        except Exception:  # closing must not turn a finished run into a failed one, nor hold its Final for long
            return

    @staticmethod
    def cancel(run: RunState, error: Interrupted) -> None:
        if run.cancel_error is None:
            run.cancel_error = error
        if run.driver is not None:
            run.driver.cancel(error)

    def _deliver_queued(self, session: SessionState, handle: object) -> None:
        if session.queued_context and isinstance(handle, SupportsInject):
            handle.inject(render_context(session.take_queued()))
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
        run.driver, run.task, run.outcome = None, None, None  # a session keeps its runs' records, not the runs
        self._registry.save(session)


def _final_response(event: RunCompleted, status: pb.SessionStatus, *, seq: int, run: int) -> pb.RunResponse:
    response = to_response(event, seq=seq, run=run)
    response.final.session_status = status
    return response


def _observe(session: SessionState, event: Event, run: int) -> None:
    """Keep the session's head snapshot, running usage and pending requests current."""
    if isinstance(event, SnapshotCreated | SessionStarted):
        session.head_snapshot_id = event.snapshot_id or session.head_snapshot_id
        session.begun = True  # the run opened the session in the store
    elif isinstance(event, UsageUpdated):
        session.usage_run = UsageTotals(
            input_tokens=event.input_tokens,
            output_tokens=event.output_tokens,
            requests=event.requests,
            tool_calls=event.tool_calls,
        )
    elif isinstance(event, ApprovalRequested | ClarificationRequested | PlanSubmitted):
        request = pending_of(event, run=run)
        session.pending[request.request_id] = request
