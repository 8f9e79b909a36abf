"""Attributes of tau's own spans, written once: a run's outcome, a hook's result, a permission decision.

Names follow OpenTelemetry's conventions where one exists (`process.exit.code`, `gen_ai.*` for what pydantic-ai
records) and `tau.*` otherwise. Nothing here is content: ids, names, counts and statuses only; what a model or a
repository wrote goes through `Span.content` at the call site.
"""

from __future__ import annotations

from tau.protocol import HookRan, PermissionDecided, RunCompleted
from tau.telemetry.port import Attributes, AttributeValue, Span

__all__ = ["finish_run", "hook_attributes", "permission_attributes", "run_attributes"]


def run_attributes(session_id: str, model: str, environment: str) -> Attributes:
    return {"tau.session.id": session_id, "tau.model": model, "tau.environment": environment}


def finish_run(span: Span, completed: RunCompleted) -> RunCompleted:
    """Record how the run ended on its span (status ERROR when it failed); returns `completed`."""
    usage = completed.usage
    attributes: dict[str, AttributeValue] = {
        "tau.run.status": completed.status,
        "tau.run.terminal_reason": completed.terminal_reason,
        "tau.run.exit_code": completed.exit_code,
        "tau.run.turns": completed.num_turns,
        "tau.usage.input_tokens": usage.input_tokens,
        "tau.usage.output_tokens": usage.output_tokens,
        "tau.usage.tool_calls": usage.tool_calls,
    }
    if completed.cost_usd is not None:
        attributes["tau.cost_usd"] = completed.cost_usd
    span.set(attributes)
    if completed.status == "failed":
        span.fail(completed.terminal_reason)
    return completed


def hook_attributes(record: HookRan) -> Attributes:
    attributes: dict[str, AttributeValue] = {"tau.hook.decision": record.decision}
    if record.matcher is not None:
        attributes["tau.hook.matcher"] = record.matcher
    if record.exit_code is not None:
        attributes["process.exit.code"] = record.exit_code
    return attributes


def permission_attributes(event: PermissionDecided) -> Attributes:
    attributes: dict[str, AttributeValue] = {
        "tau.permission.decision": event.decision,
        "tau.permission.resolution": event.resolution,
    }
    if event.rule is not None:
        attributes["tau.permission.rule"] = event.rule
    return attributes
