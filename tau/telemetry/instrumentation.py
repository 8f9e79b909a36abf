"""The agent's own spans: pydantic-ai's `Instrumentation` capability, plus each tool call's outcome.

pydantic-ai 2.62 traces a run as `invoke_agent NAME` with one `chat MODEL` span per model request (the OpenTelemetry
GenAI attributes: `gen_ai.operation.name`, `gen_ai.request.model`, `gen_ai.usage.input_tokens`, ...) and one
`execute_tool TOOL` span per tool call. `ToolOutcomeInstrumentation` is that capability with `tau.tool.outcome` added to
each tool span — `success`, `denied` (a permission rule or the user said no: the tool did not run), `deferred` (waiting
for an approval or an answer) or `failed` — so a trace shows what happened to every call without tool output in it.
The permission layer adds its decision to the same span (`tau.permission.*`, through `Tracer.current()`).

`include_content=False` (tau's default) keeps prompts, completions, tool arguments and results out of every span, and
so does leaving out the model request parameters (tool schemas, output schema).
Imported only when tracing is on (by `tau.telemetry.otel`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import get_current_span
from pydantic_ai.capabilities import Instrumentation
from pydantic_ai.capabilities.abstract import ValidatedToolArgs, WrapToolExecuteHandler
from pydantic_ai.exceptions import ApprovalRequired, CallDeferred
from pydantic_ai.messages import ToolCallPart
from pydantic_ai.models.instrumented import InstrumentationSettings
from pydantic_ai.tools import RunContext, ToolDefinition, ToolDenied

__all__ = ["OUTCOME", "ToolOutcomeInstrumentation", "agent_instrumentation"]

OUTCOME = "tau.tool.outcome"


@dataclass
class ToolOutcomeInstrumentation(Instrumentation):
    """pydantic-ai's instrumentation with `tau.tool.outcome` on every `execute_tool` span."""

    @classmethod
    def get_serialization_name(cls) -> str | None:
        return None

    async def wrap_tool_execute(
        self,
        ctx: RunContext[Any],
        *,
        call: ToolCallPart,
        tool_def: ToolDefinition,
        args: ValidatedToolArgs,
        handler: WrapToolExecuteHandler,
    ) -> Any:
        async def recorded(arguments: ValidatedToolArgs) -> Any:
            span = get_current_span()  # the tool's span: the handler runs inside it
            try:
                result = await handler(arguments)
            except (ApprovalRequired, CallDeferred):
                span.set_attribute(OUTCOME, "deferred")
                raise
            except BaseException:
                span.set_attribute(OUTCOME, "failed")
                raise
            span.set_attribute(OUTCOME, "denied" if isinstance(result, ToolDenied) else "success")
            return result

        return await super().wrap_tool_execute(ctx, call=call, tool_def=tool_def, args=args, handler=recorded)


def agent_instrumentation(provider: TracerProvider, *, include_content: bool) -> ToolOutcomeInstrumentation:
    settings = InstrumentationSettings(
        tracer_provider=provider,
        include_content=include_content,
        include_binary_content=include_content,
        include_model_request_parameters=include_content,
    )
    return ToolOutcomeInstrumentation(settings=settings)
