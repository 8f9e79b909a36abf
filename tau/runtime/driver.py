"""The loop driver: one top-level pydantic-ai run (through `loop.iterate`, the one `Agent.iter` call site) turned
into tau's event stream, budgets and a terminal reason. The driver is the loop's `StepObserver` at depth 0; a
subagent's child driver (`ChildSteps`) is the same loop's observer at depth >= 1.

Owns the order of events (SessionStarted first, RunCompleted last — always, also on error, cap, timeout or
signal), the budget checks between steps, the single finalize turn with tools disabled when a cap is reached, and
the hand-off of every completed step to the `SessionStore`. It does not build the agent (see `agent.py`) and
renders nothing (renderers are event sinks).

Cancellation: `cancel(reason)` may be called from a signal handler or the idle watchdog; the run ends through
pydantic-ai's `CancellationToken`, keeps what it completed, and reports the reason given. Time limits: `--timeout`
counts from `origin` (`tau run` sets the process start, so start-up is included; default: when `run` starts);
`--idle-timeout` counts time without events, and a running tool call is never idle (`Emitter.idle_for`). Both
bound the prologue too (pending calls, SessionStart and UserPromptSubmit hooks): a hook still running when the
limit passes or `cancel` is called is cut off (its process group killed), not waited for.

Outcome: an exception out of the loop becomes its typed error in `outcome.failure` (provider errors in tau's
one-line form, `retryable` only when transient); a run that ends normally with an answer cut off at the output token
limit ends `output_truncated` (exit 5, the cut answer kept as the result), and every such response is a notice.

Sessions: a new run `begin`s its session; a `Continuation` `resume`s an existing one (history and pending calls from
the store, its write lock held for the whole run; `pending.check_continuation` checked again under it). Each commit
carries what the step added: messages, usage deltas and, when the run suspends, the pending `DeferredToolRequests`.
A response asking for tools is committed on arrival, each finished call at once (provisionally, `results.py`); a
`recover` continuation runs only the calls without a result, or ends as its head records, asking nothing (recovery).

Suspension: with `on_ask: suspend` an unresolved `ask` (or an `ask_user` question) ends the run with
`DeferredToolRequests`: committed as the snapshot's `pending`, announced by `pending.request_events`, status
`suspended`, terminal reason `needs_input`, exit 4. A continuation's answers become `DeferredToolResults`
(`pending.resolve_pending`). Plan mode: a run that ends with a plan has it written (`finish_plan`), commits
`awaiting_plan_approval`, emits `PlanSubmitted` and ends suspended with that reason; a `plan_review` continues it.

The driver is the inline engine's inside (`runtime.engine`); front ends submit operations to `runtime.Runtime`.

Steering: `inject(text)` queues a user message; while the run is active it goes straight to pydantic-ai's
`AgentRun.enqueue(priority="asap")`, so a message that arrives while the final answer is being written still
redirects the run instead of being lost.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import anyio
from pydantic_ai import CancellationToken
from pydantic_ai.exceptions import RunCancelled, RunTimedOut
from pydantic_ai.messages import (
    AgentStreamEvent,
    FunctionToolResultEvent,
    ModelMessage,
    ModelResponse,
    TextPart,
    ToolCallPart,
    repair_messages,
)
from pydantic_ai.run import AgentRun
from pydantic_ai.tools import DeferredToolRequests, DeferredToolResults
from pydantic_ai.usage import RunUsage

from tau.config.spec import JobSpec
from tau.errors import HookStopped, Interrupted, PromptBlocked, RunError, RunTimeout, TauError
from tau.protocol import (
    Event,
    MessageCompleted,
    Notice,
    PlanSubmitted,
    RunCompleted,
    SnapshotCreated,
    TurnStarted,
    UsageTotals,
    UsageUpdated,
)
from tau.runtime.budget import Budget, Spent, idle_watchdog, time_left
from tau.runtime.emitter import Emitter, StreamTranslator, usage_totals
from tau.runtime.features.plan import AWAITING_PLAN_APPROVAL, PLAN_TOOL, finish_plan, review_prompt
from tau.runtime.loop import LoopStart, iterate
from tau.runtime.outcome import failure, truncation, truncation_notice
from tau.runtime.pending import Continuation, check_continuation, request_events, resolve_pending
from tau.runtime.recovery import stored_end
from tau.runtime.results import OUTPUT_TOOL, GroupCommit, StepResults, dangling_calls, function_calls, rerun_open_calls
from tau.runtime.run_events import RunTotals, completed_event, started_event
from tau.runtime.scrub import scrub_response
from tau.runtime.setup import RunSetup, ToolGate
from tau.sessions import SessionStore, StepRecord
from tau.telemetry import tracer
from tau.telemetry.spans import finish_run, run_attributes

__all__ = ["NEEDS_INPUT", "RunDriver", "RunSetup", "ToolGate"]

NEEDS_INPUT = "needs_input"  # terminal reason of a suspended run (exit 4)
FINALIZE_PROMPT = (
    "A budget for this run has been reached ({reason}). Tools are now disabled. Do not call any tool. "
    "Reply now with a concise final summary: what you did, what is left, and anything the user must know."
)


class RunDriver:
    def __init__(
        self,
        job: JobSpec,
        setup: RunSetup,
        *,
        store: SessionStore,
        emitter: Emitter,
        session_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        continuation: Continuation | None = None,
    ) -> None:
        self.job = job
        self.setup = setup
        self.store = store
        self.emitter = emitter
        self.session_id = session_id or job.session_id or str(uuid.uuid4())
        self.budget = Budget(job.limits)
        self._clock = clock
        self.origin: float | None = None  # the `clock` instant `--timeout` counts from (default: when `run` starts)
        self._token = CancellationToken()
        self._cancel_error: RunError | None = None
        self._committed = 0
        self._messages: list[ModelMessage] = list(setup.history)
        self._closers = list(setup.closers)  # popped as they run: `close` twice closes nothing twice
        self._snapshot_id: str | None = None
        self._finalizing = False
        self._step = 0
        self._usage = UsageTotals()
        self._injected: list[str] = []
        self._agent_run: AgentRun[None, Any] | None = None  # the pydantic-ai run while `_loop` is active
        self._translator = StreamTranslator(emitter)
        self._prologue_scope: anyio.CancelScope | None = None  # while `_prologue` runs: what `cancel` stops
        self.continuation = continuation
        self._pending: DeferredToolRequests | None = None
        self._stored_end: list[Event] | None = None  # a recovered run that had ended: its stored last events
        self._deferred: DeferredToolResults | None = None
        self._rerun: DeferredToolResults | None = None  # a recovered step's calls without a result (results.py)
        self._results = StepResults()
        self._partial: list[ModelMessage] = []  # the request of the results so far of the step in flight
        self._group = GroupCommit(self._write_results, self._release_result)  # durable before released
        self._spent = Spent()  # what the run spent, as committed (the store keeps the session's running totals)
        if setup.hooks is not None:  # hooks read the transcript of the live conversation
            setup.hooks.bind_history(self._live_messages)

    # -- control -------------------------------------------------------------------------------------------

    def cancel(self, error: RunError) -> None:
        """Stop the run as soon as possible, ending it with `error`'s terminal reason. First call wins."""
        if self._cancel_error is None:
            self._cancel_error = error
        self._token.cancel()
        if self._prologue_scope is not None:
            self._prologue_scope.cancel()

    @property
    def snapshot_id(self) -> str | None:
        """The session's head snapshot as this run last committed it (None before the run starts)."""
        return self._snapshot_id

    def inject(self, text: str) -> None:
        """Deliver `text` to the model at its next step (pydantic-ai `AgentRun.enqueue`; a run about to end is
        redirected to it). Safe before the run starts: then it is sent with the first request."""
        if self._agent_run is not None:
            self._agent_run.enqueue(text, priority="asap")
        else:
            self._injected.append(text)

    async def close(self) -> None:
        """Release what the run opened (MCP servers, sandboxes), last opened first."""
        while self._closers:
            await self._closers.pop()()

    # -- the run -------------------------------------------------------------------------------------------

    async def run(self) -> RunCompleted:
        """Run to the end. Raises (before any event) only if the session cannot be opened: unknown, locked,
        damaged, an existing id for a new session, or answers that do not match the pending calls."""
        started = self._clock()
        if self.origin is None:
            self.origin = started
        span_attributes = run_attributes(self.session_id, self.setup.model_ref, self.job.environment.kind)
        with tracer().span("tau.run", span_attributes) as span:  # the run's root span (tau.telemetry)
            await self._open_session()
            try:
                return finish_run(span, await self._run(started))
            finally:
                await self.store.close(self.session_id)

    async def _open_session(self) -> None:
        config = self.job.model_dump(mode="json")  # secrets (api_key, env) are excluded by the spec
        if self.continuation is None:
            self._snapshot_id = await self.store.begin(self.session_id, config)
            self._committed = len(self._messages)
            return
        resumed = await self.store.resume(self.session_id, config)
        try:
            self._snapshot_id = resumed.snapshot_id
            self._messages = list(resumed.messages)
            self._committed = len(self._messages)
            self._pending = resumed.pending
            if self.continuation.recover:  # a head that records the run's end ends it as stored (recovery.py)
                self._stored_end = stored_end(self.session_id, resumed.status, self._messages, self._pending)
                self._rerun = None if self._pending is not None else rerun_open_calls(self._messages)
            check_continuation(
                self.continuation,
                label=self.session_id,
                status=resumed.status,
                pending=self._pending,
                source=None,
            )
        except BaseException:
            await self.store.close(self.session_id)
            raise
        if self._pending is None and not self.continuation.recover and dangling_calls(self._messages):
            self._messages = repair_messages(self._messages)  # a run cut off after a response with tool calls

    async def _run(self, started: float) -> RunCompleted:
        self._emit_started()
        if self._stored_end is not None:  # no model request, no tool call, no commit: the outcome as recorded
            ended = [self.emitter.emit(event) for event in self._stored_end][-1]
            assert isinstance(ended, RunCompleted)
            return ended
        output: Any = None
        error: TauError | None = None
        idle = self.job.limits.idle_timeout
        watchdog = (
            None
            if idle is None
            else asyncio.get_running_loop().create_task(idle_watchdog(self.emitter, idle, self.cancel))
        )
        try:
            try:
                still_pending, prompt = await self._prologue()
                output = still_pending if still_pending is not None else await self._loop(prompt)
            finally:
                if watchdog is not None:
                    watchdog.cancel()
        except TauError as caught:
            error = caught
        except RunTimedOut:
            error = RunTimeout(f"run exceeded --timeout {self.job.limits.timeout:g}s", reason="timeout")
        except RunCancelled:
            error = self._cancel_error or Interrupted("run cancelled")
        except Exception as caught:  # provider, model, or a bug: typed by `outcome`, still a terminal event
            error = failure(caught, self._messages)
        if error is None:
            error = self.budget.hit or truncation(self._messages)
        plan, error = await self._finish_plan(output, error)
        if plan is not None:
            return await self._end_with_plan(plan, started)
        suspended = output if error is None and isinstance(output, DeferredToolRequests) else None
        status = "completed" if error is None else error.reason
        if suspended is not None:
            output, status = None, "suspended"
        failed = await self._last_commit(status, pending=suspended)
        error, suspended = error or failed, suspended if failed is None else None
        await self._session_end(NEEDS_INPUT if suspended is not None else status)
        for event in request_events(suspended) if suspended is not None else ():
            self.emitter.emit(event)
        duration_ms = (self._clock() - started) * 1000
        reason = NEEDS_INPUT if suspended is not None else None
        return self._emit_completed(output, error, duration_ms=duration_ms, suspended=reason)

    async def _finish_plan(self, output: Any, error: TauError | None) -> tuple[PlanSubmitted | None, TauError | None]:
        """In plan mode, after a run that ended normally with a plan: write it (the `plan` event to emit). A plan
        that cannot be written fails the run (exit 1)."""
        if error is not None or self.job.permissions.mode != "plan" or isinstance(output, DeferredToolRequests):
            return None, error
        try:
            event = await finish_plan(
                output, workspace=self.setup.workspace, session_id=self.session_id, plan_dir=self.job.plan.dir
            )
        except Exception as caught:
            failed = RunError(f"could not write the plan: {type(caught).__name__}: {caught}")
            failed.__cause__ = caught
            return None, failed
        return event, None

    async def _last_commit(self, status: str, *, pending: DeferredToolRequests | None = None) -> RunError | None:
        """Commit the run's last step. A store that cannot be written (disk full, read-only) is returned, not
        raised: the run still ends with its terminal event, failed with that reason (a suspension is lost)."""
        try:
            await self._commit(status, pending=pending)
        except RunError as failed:
            return failed
        return None

    async def _end_with_plan(self, plan: PlanSubmitted, started: float) -> RunCompleted:
        failed = await self._last_commit(AWAITING_PLAN_APPROVAL)
        if failed is not None:  # the plan file exists, but the session cannot wait for its approval
            return self._emit_completed(None, failed, duration_ms=(self._clock() - started) * 1000)
        await self._session_end(AWAITING_PLAN_APPROVAL)
        self.emitter.emit(plan)
        duration_ms = (self._clock() - started) * 1000
        return self._emit_completed(plan.plan, None, duration_ms=duration_ms, suspended=AWAITING_PLAN_APPROVAL)

    async def _resolve_pending(self) -> tuple[DeferredToolResults | None, DeferredToolRequests | None]:
        """The results a continuation starts with, or the requests still pending (`pending.resolve_pending`)."""
        if self._pending is None or self.continuation is None:
            return self._rerun, None
        return await resolve_pending(self._pending, self.continuation.answers, self.setup, self.emitter)

    async def _prologue(self) -> tuple[DeferredToolRequests | None, str | None]:
        """Pending calls resolved, then the prompt through its hooks: within what is left of `--timeout`, and stopped
        by `cancel` (a signal, `tau stop`, the idle watchdog), so a slow hook cannot hold the run past its limits."""
        with anyio.move_on_after(self._time_left()) as scope:
            self._prologue_scope = scope
            if self._cancel_error is not None:
                scope.cancel()
            try:
                self._deferred, still_pending = await self._resolve_pending()
                return still_pending, await self._submitted_prompt()
            finally:
                self._prologue_scope = None
        if self._cancel_error is not None:
            raise self._cancel_error
        raise RunTimeout(f"run exceeded --timeout {self.job.limits.timeout:g}s", reason="timeout")

    async def _submitted_prompt(self) -> str | None:
        """The prompt after SessionStart and UserPromptSubmit hooks: blocked, or with their context appended.
        None for a continuation without a new prompt; a plan review's approval or rejection prompt."""
        text = self.job.prompt if self.continuation is None else self.continuation.prompt
        review = self.continuation.plan_review if self.continuation is not None else None
        if review is not None:
            text = await review_prompt(
                review,
                workspace=self.setup.workspace,
                session_id=self.session_id,
                plan_dir=self.job.plan.dir,
                messages=self._messages,
            )
        hooks = self.setup.hooks
        if hooks is None:
            return text
        extra = [await hooks.on_session_start("resume" if self._messages else "startup")]
        if text is None:
            return None
        verdict = await hooks.on_user_prompt(text)
        if verdict.blocked:
            raise PromptBlocked(f"prompt blocked by a UserPromptSubmit hook: {verdict.reason or 'no reason given'}")
        extra.append(verdict.extra_context)
        return "\n\n".join([text, *(part for part in extra if part)])

    async def _session_end(self, reason: str) -> None:
        if self.setup.hooks is not None:
            try:
                await self.setup.hooks.on_session_end(reason)
            except Exception as error:  # a SessionEnd hook cannot change the outcome
                self.emitter.emit(Notice(message=f"SessionEnd hook failed: {error}"))

    async def _loop(self, prompt: str | None) -> Any:
        start = LoopStart(
            prompt,
            history=self._messages,
            workspace=self.setup.workspace,
            deferred=self._deferred,
            token=self._token,
            timeout=self._time_left(),
            model_settings=self.setup.model_settings,
        )
        return await iterate(self.setup.agent, start, self)

    # -- the steps (`loop.StepObserver`) -------------------------------------------------------------------

    def on_enter(self, run: AgentRun[None, Any]) -> None:
        self._translator = StreamTranslator(self.emitter)
        self._agent_run = run

    def on_event(self, event: AgentStreamEvent) -> None:
        self._translator.handle(event)

    def _release_result(self, event: FunctionToolResultEvent) -> None:
        self._translator.handle(event)
        self.budget.record_tool_result(ok=event.part.outcome == "success")

    async def after_result(self, run: AgentRun[None, Any], event: FunctionToolResultEvent) -> None:
        self._messages, self._partial = run.all_messages(), [self._results.add(event, run.run_id)]
        self._group.add(event)

    async def _write_results(self) -> None:
        record = StepRecord(self._step + 1, [*self._messages[self._committed :], *self._partial], provisional=True)
        await self.store.commit(self.session_id, replace(record, workspace=self._pin()))

    def _pin(self) -> str | None:
        return self.setup.recorder.current_checkpoint() if self.setup.recorder is not None else None

    async def after_tools(self, run: AgentRun[None, Any]) -> None:
        await self._group.settle()
        if self.setup.hooks is not None and self.setup.hooks.stop_requested:
            raise HookStopped(self.setup.hooks.stop_requested)

    def on_exit(self, run: AgentRun[None, Any]) -> None:
        self._agent_run = None
        self._messages = run.all_messages()
        self._capture_usage(run)
        self._group.release_all()  # the run's last commit holds those results
        self._translator.interrupt_pending()

    def _time_left(self) -> float | None:
        """What is left of `--timeout`, counted from `origin`; RunTimeout when nothing is (start-up used it up)."""
        return time_left(self.job.limits.timeout, 0.0 if self.origin is None else self._clock() - self.origin)

    async def before_request(self, run: AgentRun[None, Any]) -> None:
        while self._injected:
            run.enqueue(self._injected.pop(0), priority="asap")
        self._messages = run.all_messages()
        await self._commit("running")
        cap = self.budget.exhausted()
        if cap is not None:
            if self._finalizing:
                raise cap
            self._finalizing = True
            self.setup.gate.enabled = False
            run.enqueue(FINALIZE_PROMPT.format(reason=cap.message))
        self.budget.record_turn()
        self.emitter.emit(TurnStarted(turn=self.budget.turns))

    async def after_response(self, run: AgentRun[None, Any]) -> None:
        response = next((m for m in reversed(run.all_messages()) if isinstance(m, ModelResponse)), None)
        if response is not None:
            scrub_response(response)
            text = "".join(p.content for p in response.parts if isinstance(p, TextPart))
            calls = [p.tool_name for p in response.parts if isinstance(p, ToolCallPart)]
            self.emitter.emit(
                MessageCompleted(turn=self.budget.turns, text=text, tools=calls, model=response.model_name)
            )
            if (cut := truncation_notice(response, self.budget.turns)) is not None:
                self.emitter.emit(Notice(level="warning", message=cut))
            if all(name in (OUTPUT_TOOL, PLAN_TOOL) for name in calls):
                await self._stop_hooks(run, text)
        usage = self._capture_usage(run)
        cost = float(usage.cost) if usage.cost is not None else None
        self.budget.record_usage(tokens=usage.input_tokens + usage.output_tokens, cost_usd=cost)
        self.emitter.emit(UsageUpdated(usage=self._usage, cost_usd=cost))
        if response is not None and function_calls(response, (OUTPUT_TOOL, PLAN_TOOL)):
            self._results.start(response)  # durable before its calls run: a crash re-asks no answered step
            self._messages = run.all_messages()
            await self._commit("running")

    def _live_messages(self) -> list[ModelMessage]:
        return self._agent_run.all_messages() if self._agent_run is not None else self._messages

    def _capture_usage(self, run: AgentRun[None, Any]) -> RunUsage:
        """Keep the run's usage for the terminal event (also when the run ends mid-step)."""
        usage = run.usage
        self._usage = usage_totals(usage)
        return usage

    async def _stop_hooks(self, run: AgentRun[None, Any], text: str) -> None:
        """The model is about to finish: a blocking Stop hook gives it one more turn with the hook's reason."""
        hooks = self.setup.hooks
        if hooks is None:
            return
        verdict = await hooks.on_stop(text)
        if verdict.note:
            self.emitter.emit(Notice(level="info", message=verdict.note))
        if verdict.block and verdict.reason:
            run.enqueue(verdict.reason)

    async def _commit(self, status: str, *, pending: DeferredToolRequests | None = None) -> None:
        await self._group.settle()  # no provisional commit may land after the commit that replaces it
        added = self._messages[self._committed :]
        if not added and status == "running":
            return
        self._step += 1
        spent = self._spent.delta(self._usage.model_dump(), self.budget.cost_usd)
        record = StepRecord(self._step, added, status, spent, pending, workspace=self._pin())
        self._snapshot_id = await self.store.commit(self.session_id, record)
        self._committed = len(self._messages)
        if self.setup.hooks is not None:
            self.setup.hooks.record(self._messages)  # the transcript follows every committed step
        self.emitter.emit(SnapshotCreated(snapshot_id=self._snapshot_id, step=self._step))

    # -- events --------------------------------------------------------------------------------------------

    def _emit_started(self) -> None:
        self.emitter.emit(started_event(self.job, self.setup, self.session_id, self._snapshot_id))
        for message in self.setup.notices:
            self.emitter.emit(Notice(level="warning", message=message))

    def _emit_completed(
        self, output: Any, error: TauError | None, *, duration_ms: float, suspended: str | None = None
    ) -> RunCompleted:
        """The terminal event (`terminal.completed_event`); `suspended` is the terminal reason of a suspended run
        (`needs_input`, `awaiting_plan_approval`), exit 4."""
        totals = RunTotals(self._usage, self.budget.cost_usd or None, self.budget.turns, duration_ms)
        event = completed_event(
            self.session_id,
            output,
            error,
            suspended=suspended,
            totals=totals,
            permission_denials=self.setup.permission_denials,
        )
        stamped = self.emitter.emit(event)
        assert isinstance(stamped, RunCompleted)
        return stamped
