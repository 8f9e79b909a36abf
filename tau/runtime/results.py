"""Finished tool calls of the step in flight: durable as each one finishes, given back as real results after a crash.

A step is committed when its model response arrives (before its tool calls run); each tool call that finishes
(result, denial, error, answer) is then committed at once as a provisional snapshot (`StepRecord.provisional`) whose
last message is the request of the results so far, in the form pydantic-ai itself leaves when a run is cut off
during tool calls: a `ModelRequest` with `state='interrupted'`, the finished results in call order (user content a
tool returned after them). The next step's commit replaces it (that request, complete, is then in the history).

A process that dies mid-step leaves that provisional snapshot as the head, so a later run reads the finished results
as history:
- `tau resume` (a new prompt): pydantic-ai closes out the calls without a result as interrupted
  (`_repair_interrupted_tail`) and keeps the real ones; nothing to do here;
- a recovering attempt (`Continuation(recover=True)`, a durable engine's retry) runs again only the calls without a
  result: `rerun_open_calls` answers them `ToolApproved` marked `RERUN_METADATA` (the permission gate decides them
  afresh, `tau.permissions.toolset`) and pydantic-ai skips the calls whose result is in the request.

`StepResults` is the driver's record of the step in flight; `rerun_open_calls` and `dangling_calls` are pure.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic_ai.messages import (
    FunctionToolResultEvent,
    ModelMessage,
    ModelRequest,
    ModelRequestPart,
    ModelResponse,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.tools import DeferredToolResults, ToolApproved

from tau.permissions.toolset import RERUN_METADATA

__all__ = ["OUTPUT_TOOL", "StepResults", "dangling_calls", "function_calls", "rerun_open_calls"]

OUTPUT_TOOL = "final_result"  # pydantic-ai's default name for the structured-output tool


class StepResults:
    """The calls of the last model response and the results of those that finished, as they finish."""

    def __init__(self) -> None:
        self._order: dict[str, int] = {}
        self._finished: list[FunctionToolResultEvent] = []

    def start(self, response: ModelResponse) -> None:
        """A new response: its calls are the ones whose results come next."""
        self._order = {call.tool_call_id: index for index, call in enumerate(response.tool_calls)}
        self._finished = []

    def add(self, event: FunctionToolResultEvent, run_id: str | None = None) -> ModelRequest:
        """Record a finished call; the request of every result so far (`state='interrupted'`: the step goes on)."""
        self._finished.append(event)
        done = sorted(self._finished, key=lambda e: self._order.get(e.part.tool_call_id, len(self._order)))
        parts: list[ModelRequestPart] = [e.part for e in done]
        parts.extend(UserPromptPart(content=e.content) for e in done if e.content)
        return ModelRequest(parts=parts, state="interrupted", run_id=run_id)


def rerun_open_calls(messages: Sequence[ModelMessage]) -> DeferredToolResults | None:
    """For a recovering run whose history ends with a step cut off during its tool calls (a response with calls,
    then the interrupted request of the results that finished): the calls without a result, approved to run again
    and marked so the permission gate decides them afresh. None when the history does not end so, or every call has
    its result (pydantic-ai then sends that request as it is)."""
    if len(messages) < 2:
        return None
    response, request = messages[-2], messages[-1]
    if not (isinstance(request, ModelRequest) and request.state == "interrupted"):
        return None
    if not isinstance(response, ModelResponse):
        return None
    answered = {part.tool_call_id for part in request.parts if isinstance(part, ToolReturnPart)}
    open_ids = [
        call.tool_call_id
        for call in response.tool_calls
        if call.tool_call_id not in answered and call.tool_name != OUTPUT_TOOL
    ]
    if not open_ids:
        return None
    return DeferredToolResults(
        approvals={call_id: ToolApproved() for call_id in open_ids},
        metadata={call_id: {RERUN_METADATA: True} for call_id in open_ids},
    )


def dangling_calls(messages: Sequence[ModelMessage]) -> bool:
    """The history ends with a model response whose tool calls never ran (a run cut off mid-step)."""
    last = messages[-1] if messages else None
    return isinstance(last, ModelResponse) and bool(last.tool_calls)


def function_calls(response: ModelResponse, finishing: Sequence[str]) -> list[ToolCallPart]:
    """The response's calls that run as tools (not the ones in `finishing`: the output and plan tools end the run)."""
    return [call for call in response.tool_calls if call.tool_name not in finishing]
