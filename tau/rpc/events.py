"""tau protocol events -> `RunResponse` messages: the RPC stream's mapping of tau's one event vocabulary.

Pure functions, no I/O. Invariants:
- every tau event becomes exactly one `RunResponse` whose `event_json` is the event as `--output stream-json`
  prints it, so nothing is lost even for an event type the proto has no typed message for (its oneof stays empty);
- `seq` is the per-session sequence number the caller assigns (the tau event's own `seq` restarts at 0 each run and
  is kept inside `event_json`);
- events the server adds itself (status changes, a synthesized failure when the runtime could not start) have an
  empty `event_json`.
`StreamEventsResponse` is wire-identical to `RunResponse` (tests/rpc/test_contract.py checks it); `as_stream_event`
converts by bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from google.protobuf import json_format, struct_pb2

from tau.protocol import (
    ApprovalRequested,
    ClarificationRequested,
    Event,
    MessageCompleted,
    MessageDelta,
    Notice,
    PermissionDecided,
    PlanSubmitted,
    RetryScheduled,
    RunCompleted,
    SessionStarted,
    SnapshotCreated,
    ThinkingDelta,
    ToolCompleted,
    ToolStarted,
    TurnStarted,
    UsageTotals,
    UsageUpdated,
)
from tau.rpc._gen import runtime_pb2 as pb

SessionStatus = pb.SessionStatus


def struct_of(value: Mapping[str, Any]) -> struct_pb2.Struct:
    """A JSON object as a protobuf Struct (numbers become doubles; `event_json` keeps the exact values)."""
    message = struct_pb2.Struct()
    message.update(json.loads(json.dumps(dict(value), default=str)))
    return message


def value_of(value: Any) -> struct_pb2.Value:
    message = struct_pb2.Value()
    json_format.ParseDict(json.loads(json.dumps(value, default=str)), message)
    return message


def usage_message(usage: UsageTotals, cost_usd: float | None = None) -> pb.Usage:
    message = pb.Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        requests=usage.requests,
        tool_calls=usage.tool_calls,
    )
    if cost_usd is not None:
        message.cost_usd = cost_usd
    return message


def totals_of(usage: pb.Usage) -> UsageTotals:
    """`usage_message` read back (the cost is `usage.cost_usd`, when set)."""
    return UsageTotals(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        requests=usage.requests,
        tool_calls=usage.tool_calls,
    )


def session_status_of(event: RunCompleted, pending: Iterable[pb.PendingRequest] = ()) -> SessionStatus:
    """The session status a run's terminal event leaves the session in; a suspended run's depends on what it waits
    on (`pending`): a tool approval first, then a plan, then a question; SUSPENDED if nothing is known."""
    if event.status == "completed":
        return pb.SESSION_STATUS_COMPLETED
    if event.status == "suspended":
        return awaiting_status(pending)
    if event.terminal_reason in ("interrupted", "terminated", "cancelled"):
        return pb.SESSION_STATUS_CANCELLED
    return pb.SESSION_STATUS_ERROR


def awaiting_status(pending: Iterable[pb.PendingRequest]) -> SessionStatus:
    """AWAITING_APPROVAL / AWAITING_PLAN_APPROVAL / AWAITING_INPUT for what is pending (in that order of priority)."""
    kinds = {request.WhichOneof("request") for request in pending}
    if "permission" in kinds:
        return pb.SESSION_STATUS_AWAITING_APPROVAL
    if "plan" in kinds:
        return pb.SESSION_STATUS_AWAITING_PLAN_APPROVAL
    if "clarification" in kinds:
        return pb.SESSION_STATUS_AWAITING_INPUT
    return pb.SESSION_STATUS_SUSPENDED


def _started(out: pb.RunResponse, event: SessionStarted) -> None:
    out.started.CopyFrom(
        pb.Started(
            session_id=event.session_id,
            snapshot_id=event.snapshot_id or "",
            model=event.model,
            cwd=event.cwd,
            environment=event.environment.kind,
            tools=event.tools,
            permission_mode=event.permission_mode,
            schema_version=event.schema_version,
            tau_version=event.tau_version,
        )
    )


def _delta(out: pb.RunResponse, event: MessageDelta) -> None:
    out.token.text = event.text


def _thinking(out: pb.RunResponse, event: ThinkingDelta) -> None:
    out.token.CopyFrom(pb.Token(text=event.text, thinking=True))


def _turn(out: pb.RunResponse, event: TurnStarted) -> None:
    out.turn.turn = event.turn


def _message(out: pb.RunResponse, event: MessageCompleted) -> None:
    out.message.CopyFrom(
        pb.Message(turn=event.turn, text=event.text, tool_calls=event.tools, model_name=event.model or "")
    )


def _tool_call(out: pb.RunResponse, event: ToolStarted) -> None:
    out.tool_call.CopyFrom(pb.ToolCall(call_id=event.call_id, name=event.tool, input=struct_of(event.input)))


def _tool_result(out: pb.RunResponse, event: ToolCompleted) -> None:
    result = pb.ToolResult(call_id=event.call_id, name=event.tool, status=event.status, output=event.output)
    if event.duration_ms is not None:
        result.duration_ms = event.duration_ms
    out.tool_result.CopyFrom(result)


def _permission(out: pb.RunResponse, event: PermissionDecided) -> None:
    out.permission_decision.CopyFrom(
        pb.PermissionDecision(
            call_id=event.call_id,
            tool=event.tool,
            decision=event.decision,
            resolution=event.resolution,
            rule=event.rule or "",
            reason=event.reason,
        )
    )


def _approval(out: pb.RunResponse, event: ApprovalRequested) -> None:
    pending = pending_of(event)
    if pending.HasField("permission"):
        out.permission_request.CopyFrom(pending.permission)
    else:
        out.clarification_request.CopyFrom(pending.clarification)


def _clarification(out: pb.RunResponse, event: ClarificationRequested) -> None:
    out.clarification_request.CopyFrom(pending_of(event).clarification)


def _plan(out: pb.RunResponse, event: PlanSubmitted) -> None:
    out.plan.CopyFrom(pending_of(event, run=out.run).plan)


PLAN_REQUEST = re.compile(r"plan-([0-9]+)")


def plan_request_id(run: int) -> str:
    """The request_id of the plan run `run` of a session submitted: unique in the session (run numbers are never
    reused), so an answer meant for an earlier plan can never approve a later one."""
    return f"plan-{run}"


def pending_of(event: ApprovalRequested | ClarificationRequested | PlanSubmitted, *, run: int = 0) -> pb.PendingRequest:
    """What a suspended run waits on, as GetSession lists it; request_id is the tool call id (for a plan,
    `plan_request_id(run)`, `run` being the number of the run that submitted it)."""
    if isinstance(event, PlanSubmitted):
        request_id = plan_request_id(run)
        return pb.PendingRequest(request_id=request_id, plan=pb.Plan(request_id=request_id, text=event.plan))
    if isinstance(event, ClarificationRequested):
        question = pb.ClarificationRequest(request_id=event.call_id, question=event.question, options=event.choices)
        return pb.PendingRequest(request_id=event.call_id, clarification=question)
    if event.kind == "question":
        raw = event.input.get("choices") or event.input.get("options")
        options = [str(item) for item in raw] if isinstance(raw, list) else []
        text = event.reason or str(event.input.get("question", ""))
        question = pb.ClarificationRequest(request_id=event.call_id, question=text, options=options)
        return pb.PendingRequest(request_id=event.call_id, clarification=question)
    permission = pb.PermissionRequest(
        request_id=event.call_id,
        call_id=event.call_id,
        tool=event.tool,
        input=struct_of(event.input),
        reason=event.reason,
    )
    return pb.PendingRequest(request_id=event.call_id, permission=permission)


def _usage(out: pb.RunResponse, event: UsageUpdated) -> None:
    out.usage.CopyFrom(usage_message(event.usage, event.cost_usd))


def _snapshot(out: pb.RunResponse, event: SnapshotCreated) -> None:
    out.snapshot.CopyFrom(pb.Snapshot(snapshot_id=event.snapshot_id, step=event.step))


def _retry(out: pb.RunResponse, event: RetryScheduled) -> None:
    text = f"provider call failed (attempt {event.attempt}), retrying in {event.delay_ms / 1000:g}s: {event.error}"
    out.notice.CopyFrom(pb.Notice(level="warning", message=text))


def _notice(out: pb.RunResponse, event: Notice) -> None:
    out.notice.CopyFrom(pb.Notice(level=event.level, message=event.message))


def _final(out: pb.RunResponse, event: RunCompleted) -> None:
    final = pb.Final(
        status=event.status,
        terminal_reason=event.terminal_reason,
        exit_code=event.exit_code,
        result=event.result or "",
        usage=usage_message(event.usage, event.cost_usd),
        num_turns=event.num_turns,
        duration_ms=event.duration_ms,
        error=event.error or "",
        session_status=session_status_of(event),
    )
    if event.structured_output is not None:
        final.structured_output.CopyFrom(value_of(event.structured_output))
    out.final.CopyFrom(final)


_MAPPERS: dict[type[Any], Callable[[pb.RunResponse, Any], None]] = {
    SessionStarted: _started,
    TurnStarted: _turn,
    MessageDelta: _delta,
    ThinkingDelta: _thinking,
    MessageCompleted: _message,
    ToolStarted: _tool_call,
    ToolCompleted: _tool_result,
    PermissionDecided: _permission,
    UsageUpdated: _usage,
    SnapshotCreated: _snapshot,
    RetryScheduled: _retry,
    Notice: _notice,
    RunCompleted: _final,
    ApprovalRequested: _approval,
    ClarificationRequested: _clarification,
    PlanSubmitted: _plan,
}


def event_json(event: Event) -> str:
    """The event exactly as a `stream-json` line (without the newline)."""
    return json.dumps(event.model_dump(mode="json"), ensure_ascii=False, default=str)


def to_response(event: Event, *, seq: int, run: int) -> pb.RunResponse:
    """One tau event as one `RunResponse`."""
    out = pb.RunResponse(seq=seq, run=run, event_json=event_json(event))
    mapper = _MAPPERS.get(type(event))
    if mapper is not None:
        mapper(out, event)
    return out


def status_response(status: SessionStatus, detail: str, *, seq: int, run: int) -> pb.RunResponse:
    """A status change the server reports (no tau event behind it)."""
    out = pb.RunResponse(seq=seq, run=run)
    out.status.CopyFrom(pb.Status(status=status, detail=detail))
    return out


def error_response(event: RunCompleted, *, seq: int, run: int) -> pb.RunResponse:
    """The `Error` event sent before the final event of a run that did not complete (KernelService's error)."""
    out = pb.RunResponse(seq=seq, run=run)
    out.error.CopyFrom(
        pb.Error(
            code=event.terminal_reason,
            message=event.error or event.terminal_reason,
            kind=event.error_kind or "",
            retryable=event.retryable,
        )
    )
    return out


def as_stream_event(response: pb.RunResponse) -> pb.StreamEventsResponse:
    """The same event for `StreamEvents` (the two messages share one wire layout)."""
    return pb.StreamEventsResponse.FromString(response.SerializeToString())
