"""The end of a run that its session's head already records: what a recovering attempt (a durable engine's retry,
`Continuation(recover=True)`) emits instead of running the run again.

A run's last commit records its outcome as the head snapshot's status (`completed`, a terminal reason such as
`max_turns` or `provider_error`, `suspended` with its pending calls, `awaiting_plan_approval`). A worker that dies
after that commit but before its caller saw the terminal event leaves a head whose run has ended; a retry must end
with that outcome, never ask the model again (a recorded model response is never requested again) and run no tool.

`stored_end(session_id, status, messages, pending)` is that outcome as events: the pending calls' requests (a
suspended run) and the terminal `RunCompleted`, built by `run_events.completed_event` with the stored status's
terminal reason and exit code. None for a head whose run goes on (`created`, `forked`, `running`). What the head does
not record, it cannot give back: the result is the last response's answer (its text, or the structured output of an
output-tool call), a failed run's message says its reason only (the original message is not stored), `plan.submitted`
is not emitted again (the plan file was written), and usage, turns and duration are the recovering attempt's own
(zero: budgets and `--timeout` count per attempt already). Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.tools import DeferredToolRequests

from tau.errors import (
    BudgetExceeded,
    HookStopped,
    InternalError,
    Interrupted,
    ModelBehaviorError,
    OutputTruncated,
    PromptBlocked,
    ProviderError,
    RunError,
    RunTimeout,
    TurnLimitReached,
)
from tau.protocol import Event
from tau.runtime.features.plan import AWAITING_PLAN_APPROVAL
from tau.runtime.pending import request_events
from tau.runtime.run_events import completed_event

__all__ = ["LIVE_STATUSES", "stored_end"]

LIVE_STATUSES = frozenset({"created", "forked", "running"})  # head statuses of a session whose run goes on
NEEDS_INPUT = "needs_input"  # the driver's terminal reason of a suspended run
OUTPUT_TOOL = "final_result"
_BUDGETS = ("max_tokens", "max_usd", "max_tool_calls", "max_consecutive_failures")
_PLAIN: dict[str, type[RunError]] = {
    "max_turns": TurnLimitReached,
    "output_truncated": OutputTruncated,
    "model_error": ModelBehaviorError,
    "internal_error": InternalError,
    "prompt_blocked": PromptBlocked,
    "hook_stopped": HookStopped,
}


def stored_end(
    session_id: str, status: str, messages: Sequence[ModelMessage], pending: DeferredToolRequests | None
) -> list[Event] | None:
    """The events that end a run whose head records `status` (see the module docstring); None: the run goes on."""
    if status in LIVE_STATUSES:
        return None
    output = _answer(messages)
    if status in ("suspended", AWAITING_PLAN_APPROVAL):
        reason = NEEDS_INPUT if status == "suspended" else status
        requests: list[Event] = list(request_events(pending)) if status == "suspended" and pending else []
        return [*requests, completed_event(session_id, output, suspended=reason)]
    error = None if status == "completed" else stored_error(status)
    return [completed_event(session_id, output, error)]


def stored_error(reason: str) -> RunError:
    """A typed error for the terminal reason `reason` (its exit code follows from the type, as when it happened)."""
    message = f"the run had already ended ({reason}) when its attempt was lost; its error message was not stored"
    if reason in _PLAIN:
        return _PLAIN[reason](message)
    if reason in _BUDGETS:
        return BudgetExceeded(message, reason=reason)
    if reason in ("timeout", "idle_timeout"):
        return RunTimeout(message, reason=reason)
    if reason in ("interrupted", "terminated"):
        return Interrupted(message, signal_name="SIGTERM" if reason == "terminated" else "SIGINT")
    if reason == "provider_error":
        return ProviderError(message, retryable=False)
    error = RunError(message)
    error.reason = reason
    return error


def _answer(messages: Sequence[ModelMessage]) -> Any:
    """The run's result as the head holds it: the last response's output-tool arguments (the request that follows it
    carries only the tool's return), or its text when the history ends with it and it asked for no tool; else None."""
    last = messages[-1] if messages else None
    before = messages[-2] if len(messages) > 1 else None
    for response in (last, before):
        if isinstance(response, ModelResponse):
            for part in response.parts:
                if isinstance(part, ToolCallPart) and part.tool_name == OUTPUT_TOOL:
                    return part.args_as_dict()
    if not isinstance(last, ModelResponse) or any(isinstance(part, ToolCallPart) for part in last.parts):
        return None
    return "".join(part.content for part in last.parts if isinstance(part, TextPart)) or None
