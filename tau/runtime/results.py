"""Finished tool calls of the step in flight: durable as each one finishes, given back as real results after a crash.

A step is committed when its model response arrives (before its tool calls run); each tool call that finishes
(result, denial, error, answer) is then committed at once as a provisional snapshot (`StepRecord.provisional`) whose
last message is the request of the results so far, in the form pydantic-ai itself leaves when a run is cut off
during tool calls: a `ModelRequest` with `state='interrupted'`, the finished results in call order (user content a
tool returned after them). The next step's commit replaces it (that request, complete, is then in the history).
`GroupCommit` writes them: results that finish while a commit is being written go together in the next one, and a
result's event (`tool.completed`) is released only once a commit holding it is written.

A process that dies mid-step leaves that provisional snapshot as the head, so a later run reads the finished results
as history:
- `tau resume` (a new prompt): pydantic-ai closes out the calls without a result as interrupted
  (`_repair_interrupted_tail`) and keeps the real ones; nothing to do here;
- a recovering attempt (`Continuation(recover=True)`, a durable engine's retry) runs again only the calls without a
  result: `rerun_open_calls` answers them `ToolApproved` marked `RERUN_METADATA` (the permission gate decides them
  afresh, `tau.permissions.toolset`) and pydantic-ai skips the calls whose result is in the request.

`StepResults` is the driver's record of the step in flight, `GroupCommit` its writer; `rerun_open_calls`,
`dangling_calls` and `function_calls` are pure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

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

__all__ = ["OUTPUT_TOOL", "GroupCommit", "StepResults", "dangling_calls", "function_calls", "rerun_open_calls"]

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


class GroupCommit:
    """Provisional commits of finished results, grouped: a result that finishes while a commit is being written waits
    for it and goes with the next one (every result that finished meanwhile), so a step's calls that finish together
    cost about two commits, not one each. A result's event is released (`release`: its `tool.completed`) only once a
    commit holding it is written. `settle()` waits until every result so far is written (before any other commit:
    a provisional commit must never land after the commit that replaces it); `release_all()` releases what is still
    held at once (the run ended: the run's last commit holds those results)."""

    def __init__(
        self, write: Callable[[], Awaitable[object]], release: Callable[[FunctionToolResultEvent], None]
    ) -> None:
        self._write = write  # commits every result added so far
        self._release = release
        self._held: list[FunctionToolResultEvent] = []  # finished, waiting for the next commit
        self._writing: list[FunctionToolResultEvent] = []  # in the commit being written
        self._task: asyncio.Task[None] | None = None

    def add(self, event: FunctionToolResultEvent) -> None:
        self._held.append(event)
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            while self._held:
                self._writing, self._held = self._held, []
                try:
                    await self._write()
                finally:  # a failed write fails the run (`settle` raises it); the calls did finish
                    writing, self._writing = self._writing, []
                    for event in writing:
                        self._release(event)
        finally:
            self._task = None

    async def settle(self) -> None:
        """Wait until every result added so far is written (raises what a failed write raised)."""
        while self._task is not None:
            await asyncio.shield(self._task)

    def release_all(self) -> None:
        events = [*self._writing, *self._held]
        self._writing, self._held = [], []
        for event in events:
            self._release(event)


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
