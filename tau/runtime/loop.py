"""The one `Agent.iter` call site in tau: a pydantic-ai run iterated node by node, with a `StepObserver` told about
each step. Every run goes through it — the top-level run (`RunDriver`, depth 0) and every subagent (the child driver
in `runtime.features.subagents`, depth >= 1).

Contract with observers: `before_request(run)` is awaited before each model request (commit the step so far, check the
budget, raise to stop); `after_response(run)` after each model response, before its tool calls run; `on_event(event)`
sees every tool-call stream event and, when `stream_model` is on, every model stream event (text deltas);
`after_result(run, event)` is awaited before `on_event` for each finished function tool call (its result event), while
the step's other calls still run (make the result durable there: a `tool.completed` event then names a result that
survives a crash); `after_tools(run)` is awaited after each batch of tool calls; `on_exit(run)` runs last, also when the
run raises or is cancelled (keep the messages and usage reached). pydantic-ai's own request limit is always off: tau's
`Budget` is the only cap (the observer raises its error).

`LoopStart.stream_model` False lets pydantic-ai make each model request without streaming (a child's text is not
shown to anyone; the model need not support streaming).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic_ai import Agent, CancellationToken, UsageLimits
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.messages import AgentStreamEvent, FunctionToolResultEvent, ModelMessage
from pydantic_ai.run import AgentRun
from pydantic_ai.tools import DeferredToolResults
from pydantic_ai.usage import RunUsage
from pydantic_ai.workspaces import WorkspaceBackend

__all__ = ["LoopStart", "StepObserver", "iterate"]


@dataclass(frozen=True)
class LoopStart:
    """What one pydantic-ai run starts with. `usage` None: the run counts its own; a child passes its own
    `RunUsage` (added to the parent's when it ends)."""

    prompt: str | None
    history: Sequence[ModelMessage] = ()
    workspace: WorkspaceBackend | None = None
    deferred: DeferredToolResults | None = None
    usage: RunUsage | None = None
    token: CancellationToken | None = None
    timeout: float | None = None
    model_settings: Mapping[str, Any] | None = None
    metadata: Mapping[str, Any] | None = None
    capabilities: Sequence[AbstractCapability[None]] = ()
    stream_model: bool = True


class StepObserver(Protocol):
    """What a driver does around the steps of a run (see the module docstring)."""

    async def before_request(self, run: AgentRun[None, Any]) -> None: ...

    async def after_response(self, run: AgentRun[None, Any]) -> None: ...

    def on_event(self, event: AgentStreamEvent) -> None: ...

    async def after_result(self, run: AgentRun[None, Any], event: FunctionToolResultEvent) -> None: ...

    async def after_tools(self, run: AgentRun[None, Any]) -> None: ...

    def on_enter(self, run: AgentRun[None, Any]) -> None: ...

    def on_exit(self, run: AgentRun[None, Any]) -> None: ...


async def iterate(agent: Agent[None, Any], start: LoopStart, observer: StepObserver) -> Any:
    """Run `agent` from `start` to its end, telling `observer` about each step; the run's output (None without)."""
    async with agent.iter(  # type: ignore[misc]  # mypy gives up on the overloads with `str | None`
        start.prompt,
        message_history=list(start.history) or None,
        deferred_tool_results=start.deferred,
        usage=start.usage,
        usage_limits=UsageLimits(request_limit=None),
        cancellation_token=start.token,
        timeout=start.timeout,
        workspace=start.workspace,
        model_settings=dict(start.model_settings) if start.model_settings else None,  # type: ignore[arg-type]
        metadata=dict(start.metadata) if start.metadata else None,
        capabilities=list(start.capabilities) or None,
    ) as run:
        observer.on_enter(run)
        try:
            async for node in run:
                if Agent.is_model_request_node(node):
                    await observer.before_request(run)
                    if start.stream_model:
                        async with node.stream(run.ctx) as stream:
                            async for event in stream:
                                observer.on_event(event)
                        await observer.after_response(run)
                elif Agent.is_call_tools_node(node):
                    if not start.stream_model:
                        await observer.after_response(run)
                    async with node.stream(run.ctx) as stream:
                        async for event in stream:
                            if isinstance(event, FunctionToolResultEvent):  # durable before anyone hears of it
                                await observer.after_result(run, event)
                            else:
                                observer.on_event(event)
                    await observer.after_tools(run)
        finally:
            observer.on_exit(run)
        result = run.result
        return None if result is None else result.output
