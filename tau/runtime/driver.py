"""The loop driver: one `Agent.iter()` run turned into tau's event stream, budgets and a terminal reason.

Owns the order of events (SessionStarted first, RunCompleted last — always, also on error, cap, timeout or
signal), the budget checks between steps, the single finalize turn with tools disabled when a cap is reached, and
the hand-off of every completed step to the `SessionStore`. It does not build the agent (see `agent.py`) and
renders nothing (renderers are event sinks).

Cancellation: `cancel(reason)` may be called from a signal handler or the idle watchdog; the run ends through
pydantic-ai's `CancellationToken`, keeps what it completed, and reports the reason given.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
from pydantic_ai import Agent, CancellationToken, UsageLimits
from pydantic_ai.exceptions import (
    ModelAPIError,
    RunCancelled,
    RunTimedOut,
    UnexpectedModelBehavior,
    UsageLimitExceeded,
)
from pydantic_ai.messages import FunctionToolResultEvent, ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.run import AgentRun
from pydantic_ai.workspaces import WorkspaceBackend

from tau import __version__
from tau.config.spec import JobSpec
from tau.errors import (
    ExitCode,
    HookStopped,
    InternalError,
    Interrupted,
    ModelBehaviorError,
    PromptBlocked,
    ProviderError,
    RunError,
    RunTimeout,
    TauError,
)
from tau.hooks import HookSession
from tau.protocol import (
    EnvironmentInfo,
    McpServerInfo,
    MessageCompleted,
    Notice,
    PermissionDenial,
    RunCompleted,
    SessionStarted,
    SnapshotCreated,
    TurnStarted,
    UsageTotals,
    UsageUpdated,
)
from tau.runtime.budget import Budget
from tau.runtime.emitter import Emitter, StreamTranslator
from tau.sessions import SessionStore, StepRecord

OUTPUT_TOOL = "final_result"  # pydantic-ai's default name for the structured-output tool
FINALIZE_PROMPT = (
    "A budget for this run has been reached ({reason}). Tools are now disabled. Do not call any tool. "
    "Reply now with a concise final summary: what you did, what is left, and anything the user must know."
)


@dataclass
class ToolGate:
    """Shared switch the agent's tool filter reads: False hides every tool (the finalize turn)."""

    enabled: bool = True


@dataclass
class RunSetup:
    """What the agent factory hands the driver: the agent plus the pieces it reports in events."""

    agent: Agent[None, Any]
    workspace: WorkspaceBackend
    gate: ToolGate
    tool_names: Sequence[str]
    model_ref: str
    model_settings: Mapping[str, Any] = field(default_factory=dict)
    mcp: Sequence[McpServerInfo] = ()
    permission_denials: list[PermissionDenial] = field(default_factory=list)
    history: Sequence[ModelMessage] = ()
    memory_files: Sequence[str] = ()
    skills: Sequence[str] = ()
    notices: Sequence[str] = ()
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    hooks: HookSession | None = None
    environment: EnvironmentInfo | None = None


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
    ) -> None:
        self.job = job
        self.setup = setup
        self.store = store
        self.emitter = emitter
        self.session_id = session_id or job.session_id or str(uuid.uuid4())
        self.budget = Budget(job.limits)
        self._clock = clock
        self._token = CancellationToken()
        self._cancel_error: RunError | None = None
        self._committed = 0
        self._messages: list[ModelMessage] = list(setup.history)
        self._snapshot_id: str | None = None
        self._finalizing = False
        self._step = 0
        self._usage = UsageTotals()
        self._injected: list[str] = []

    # -- control -------------------------------------------------------------------------------------------

    def cancel(self, error: RunError) -> None:
        """Stop the run as soon as possible, ending it with `error`'s terminal reason. First call wins."""
        if self._cancel_error is None:
            self._cancel_error = error
        self._token.cancel()

    def inject(self, text: str) -> None:
        """Deliver `text` to the model at its next step (pydantic-ai `AgentRun.enqueue`). Safe before the run starts."""
        self._injected.append(text)

    async def close(self) -> None:
        """Release what the run opened (MCP servers, sandboxes), last opened first."""
        while self.setup.closers:
            await self.setup.closers.pop()()

    # -- the run -------------------------------------------------------------------------------------------

    async def run(self) -> RunCompleted:
        started = self._clock()
        self._snapshot_id = await self.store.begin(self.session_id, self.job.model_dump(mode="json"))
        self._committed = len(self._messages)
        self._emit_started()
        output: Any = None
        error: TauError | None = None
        idle = self.job.limits.idle_timeout
        watchdog = None if idle is None else asyncio.get_running_loop().create_task(self._idle_watchdog(idle))
        try:
            try:
                output = await self._loop(await self._submitted_prompt())
            finally:
                if watchdog is not None:
                    watchdog.cancel()
        except TauError as caught:
            error = caught
        except RunTimedOut:
            error = RunTimeout(f"run exceeded --timeout {self.job.limits.timeout:g}s", reason="timeout")
        except RunCancelled:
            error = self._cancel_error or Interrupted("run cancelled")
        except ModelAPIError as caught:
            error = ProviderError(f"model provider failed: {caught}")
        except (UnexpectedModelBehavior, UsageLimitExceeded) as caught:
            error = ModelBehaviorError(f"model error: {caught}")
        except Exception as caught:  # a bug or an unforeseen library error: still end with a terminal event
            error = InternalError(f"internal error: {type(caught).__name__}: {caught}")
            error.__cause__ = caught
        if error is None and self.budget.hit is not None:
            error = self.budget.hit
        await self._commit("completed" if error is None else error.reason)
        await self._session_end("completed" if error is None else error.reason)
        return self._emit_completed(output, error, duration_ms=(self._clock() - started) * 1000)

    async def _submitted_prompt(self) -> str:
        """The prompt after SessionStart and UserPromptSubmit hooks: blocked, or with their context appended."""
        hooks = self.setup.hooks
        if hooks is None:
            return self.job.prompt
        extra = [await hooks.on_session_start("resume" if self._messages else "startup")]
        verdict = await hooks.on_user_prompt(self.job.prompt)
        if verdict.blocked:
            raise PromptBlocked(f"prompt blocked by a UserPromptSubmit hook: {verdict.reason or 'no reason given'}")
        extra.append(verdict.extra_context)
        return "\n\n".join([self.job.prompt, *(text for text in extra if text)])

    async def _session_end(self, reason: str) -> None:
        if self.setup.hooks is not None:
            try:
                await self.setup.hooks.on_session_end(reason)
            except Exception as error:  # a SessionEnd hook cannot change the outcome
                self.emitter.emit(Notice(message=f"SessionEnd hook failed: {error}"))

    async def _loop(self, prompt: str) -> Any:
        agent = self.setup.agent
        async with agent.iter(
            prompt,
            message_history=list(self._messages) or None,
            usage_limits=UsageLimits(request_limit=None),
            cancellation_token=self._token,
            timeout=self.job.limits.timeout,
            workspace=self.setup.workspace,
            model_settings=dict(self.setup.model_settings) or None,  # type: ignore[arg-type]
        ) as run:
            try:
                async for node in run:
                    if Agent.is_model_request_node(node):
                        await self._before_request(run)
                        async with node.stream(run.ctx) as stream:
                            translator = StreamTranslator(self.emitter)
                            async for event in stream:
                                translator.handle(event)
                        await self._after_response(run)
                    elif Agent.is_call_tools_node(node):
                        async with node.stream(run.ctx) as stream:
                            translator = StreamTranslator(self.emitter)
                            async for event in stream:
                                translator.handle(event)
                                self._count_tool_result(event)
                        if self.setup.hooks is not None and self.setup.hooks.stop_requested:
                            raise HookStopped(self.setup.hooks.stop_requested)
            finally:
                self._messages = run.all_messages()
            result = run.result
            return None if result is None else result.output

    async def _before_request(self, run: AgentRun[None, Any]) -> None:
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

    async def _after_response(self, run: AgentRun[None, Any]) -> None:
        response = next((m for m in reversed(run.all_messages()) if isinstance(m, ModelResponse)), None)
        if response is not None:
            text = "".join(p.content for p in response.parts if isinstance(p, TextPart))
            calls = [p.tool_name for p in response.parts if isinstance(p, ToolCallPart)]
            self.emitter.emit(
                MessageCompleted(turn=self.budget.turns, text=text, tool_calls=calls, model_name=response.model_name)
            )
            if all(name == OUTPUT_TOOL for name in calls):
                await self._stop_hooks(run, text)
        usage = run.usage
        self._usage = UsageTotals(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            requests=usage.requests,
            tool_calls=usage.tool_calls,
        )
        cost = float(usage.cost) if usage.cost is not None else None
        self.budget.record_usage(tokens=usage.input_tokens + usage.output_tokens, cost_usd=cost)
        self.emitter.emit(
            UsageUpdated(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                requests=usage.requests,
                tool_calls=usage.tool_calls,
                cost_usd=cost,
            )
        )

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

    def _count_tool_result(self, event: object) -> None:
        if isinstance(event, FunctionToolResultEvent):
            self.budget.record_tool_result(ok=event.part.outcome == "success")

    async def _commit(self, status: str) -> None:
        added = self._messages[self._committed :]
        if not added and status == "running":
            return
        self._step += 1
        self._snapshot_id = await self.store.commit(
            self.session_id, StepRecord(step=self._step, messages=added, status=status)
        )
        self._committed = len(self._messages)
        self.emitter.emit(SnapshotCreated(snapshot_id=self._snapshot_id, step=self._step))

    async def _idle_watchdog(self, idle_timeout: float) -> None:
        while True:
            await anyio.sleep(min(idle_timeout / 4, 1.0))
            if time.monotonic() - self.emitter.last_activity > idle_timeout:
                self.cancel(RunTimeout(f"no activity for {idle_timeout:g}s (--idle-timeout)", reason="idle_timeout"))
                return

    # -- events --------------------------------------------------------------------------------------------

    def _emit_started(self) -> None:
        env = self.job.environment
        self.emitter.emit(
            SessionStarted(
                session_id=self.session_id,
                snapshot_id=self._snapshot_id,
                model=self.setup.model_ref,
                cwd=env.workspace,
                environment=self.setup.environment or EnvironmentInfo(kind=env.kind, workspace=env.workspace),
                tools=list(self.setup.tool_names),
                mcp=list(self.setup.mcp),
                memory_files=list(self.setup.memory_files),
                skills=list(self.setup.skills),
                permission_mode=self.job.permissions.mode,
                tau_version=__version__,
            )
        )
        for message in self.setup.notices:
            self.emitter.emit(Notice(level="warning", message=message))

    def _emit_completed(self, output: Any, error: TauError | None, *, duration_ms: float) -> RunCompleted:
        usage = self._usage
        cost = self.budget.cost_usd or None
        result_text, structured = _split_output(output)
        status: Literal["completed", "failed"] = "completed" if error is None else "failed"
        reason = "completed" if error is None else error.reason
        code = ExitCode.COMPLETED if error is None else error.exit_code
        event = RunCompleted(
            status=status,
            terminal_reason=reason,
            exit_code=int(code),
            session_id=self.session_id,
            result=result_text,
            structured_output=structured,
            error=None if error is None else error.message,
            error_kind=None if error is None else type(error).__name__,
            retryable=bool(getattr(error, "retryable", False)),
            usage=usage,
            cost_usd=cost,
            num_turns=self.budget.turns,
            duration_ms=round(duration_ms, 3),
            permission_denials=list(self.setup.permission_denials),
        )
        stamped = self.emitter.emit(event)
        assert isinstance(stamped, RunCompleted)
        return stamped


def _split_output(output: Any) -> tuple[str | None, Any]:
    if output is None:
        return None, None
    if isinstance(output, str):
        return output, None
    return json.dumps(output, ensure_ascii=False), output
