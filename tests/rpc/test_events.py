"""tau events -> RunResponse: every event type maps to its typed message and keeps its exact JSON."""

from __future__ import annotations

import json

import pytest

from tau.protocol import (
    EVENT_ADAPTER,
    ApprovalRequested,
    ClarificationRequested,
    EnvironmentInfo,
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
from tau.rpc.events import (
    as_stream_event,
    error_response,
    pending_of,
    session_status_of,
    status_response,
    struct_of,
    to_response,
)

STARTED = SessionStarted(
    seq=0, session_id="s1", snapshot_id="snap0", model="test:m", cwd="/w",
    environment=EnvironmentInfo(workspace="/w"), tools=["bash"],
)  # fmt: skip
DONE = RunCompleted(
    seq=9, status="completed", terminal_reason="completed", exit_code=0, session_id="s1", result="ok",
    structured_output={"count": 3}, usage=UsageTotals(input_tokens=5, output_tokens=2, requests=1), cost_usd=0.25,
    num_turns=1,
)  # fmt: skip

CASES: list[tuple[Event, str, object]] = [
    (
        STARTED,
        "started",
        pb.Started(
            session_id="s1",
            snapshot_id="snap0",
            model="test:m",
            cwd="/w",
            environment="host",
            tools=["bash"],
            permission_mode="default",
            schema_version="2.0",
        ),
    ),
    (TurnStarted(turn=2), "turn", pb.Turn(turn=2)),
    (MessageDelta(text="hi"), "token", pb.Token(text="hi")),
    (ThinkingDelta(text="hmm"), "token", pb.Token(text="hmm", thinking=True)),
    (
        MessageCompleted(turn=1, text="t", tools=["bash"], model="m-2024"),
        "message",
        pb.Message(turn=1, text="t", tool_calls=["bash"], model_name="m-2024"),
    ),
    (
        ToolCompleted(call_id="c", tool="bash", status="denied", output="no", duration_ms=1.5),
        "tool_result",
        pb.ToolResult(call_id="c", name="bash", status="denied", output="no", duration_ms=1.5),
    ),
    (
        PermissionDecided(
            call_id="c", tool="bash", decision="deny", resolution="denied", rule="Bash(rm *)", reason="r"
        ),
        "permission_decision",
        pb.PermissionDecision(
            call_id="c", tool="bash", decision="deny", resolution="denied", rule="Bash(rm *)", reason="r"
        ),
    ),
    (
        UsageUpdated(
            usage=UsageTotals(input_tokens=3, output_tokens=4, cache_read_tokens=1, requests=1, tool_calls=2),
            cost_usd=0.5,
        ),
        "usage",
        pb.Usage(input_tokens=3, output_tokens=4, cache_read_tokens=1, requests=1, tool_calls=2, cost_usd=0.5),
    ),
    (SnapshotCreated(snapshot_id="abc", step=3), "snapshot", pb.Snapshot(snapshot_id="abc", step=3)),
    (Notice(level="info", message="m"), "notice", pb.Notice(level="info", message="m")),
    (
        RetryScheduled(attempt=2, delay_ms=1500, error="429"),
        "notice",
        pb.Notice(level="warning", message="provider call failed (attempt 2), retrying in 1.5s: 429"),
    ),
    (
        ApprovalRequested(call_id="c", tool="write", input={"file_path": "a"}, reason="needs approval"),
        "permission_request",
        pb.PermissionRequest(
            request_id="c", call_id="c", tool="write", input=struct_of({"file_path": "a"}), reason="needs approval"
        ),
    ),
    (
        ClarificationRequested(call_id="q", question="Which?", choices=["a", "b"]),
        "clarification_request",
        pb.ClarificationRequest(request_id="q", question="Which?", options=["a", "b"]),
    ),
    (
        ApprovalRequested(call_id="d", tool="fetch", input={}, reason="Which?", kind="question"),
        "clarification_request",
        pb.ClarificationRequest(request_id="d", question="Which?"),
    ),
    (PlanSubmitted(path=".tau/plans/s.md", plan="1. x"), "plan", pb.Plan(request_id="plan-3", text="1. x")),
]


@pytest.mark.parametrize(("event", "field", "expected"), CASES, ids=[c[0].type + "/" + c[1] for c in CASES])
def test_each_event_maps_to_its_typed_message_and_keeps_its_json(event: Event, field: str, expected: object) -> None:
    response = to_response(event, seq=42, run=3)
    assert (response.seq, response.run, response.WhichOneof("event")) == (42, 3, field)
    assert getattr(response, field) == expected
    assert EVENT_ADAPTER.validate_json(response.event_json) == event


def test_tool_call_input_is_a_struct() -> None:
    response = to_response(ToolStarted(call_id="c1", tool="bash", input={"command": "ls", "n": 2}), seq=1, run=1)
    assert response.tool_call.call_id == "c1"
    assert dict(response.tool_call.input) == {"command": "ls", "n": 2.0}
    assert json.loads(response.event_json)["input"] == {"command": "ls", "n": 2}


def test_final_carries_result_usage_and_structured_output() -> None:
    final = to_response(DONE, seq=12, run=1).final
    assert (final.status, final.terminal_reason, final.exit_code, final.result, final.num_turns) == (
        "completed", "completed", 0, "ok", 1,
    )  # fmt: skip
    assert final.usage == pb.Usage(input_tokens=5, output_tokens=2, requests=1, cost_usd=0.25)
    assert final.structured_output.struct_value["count"] == 3
    assert final.session_status == pb.SESSION_STATUS_COMPLETED


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        ("completed", "completed", pb.SESSION_STATUS_COMPLETED),
        ("failed", "interrupted", pb.SESSION_STATUS_CANCELLED),
        ("failed", "terminated", pb.SESSION_STATUS_CANCELLED),
        ("failed", "provider_error", pb.SESSION_STATUS_ERROR),
        ("failed", "max_turns", pb.SESSION_STATUS_ERROR),
        ("suspended", "needs_approval", pb.SESSION_STATUS_SUSPENDED),
    ],
)
def test_session_status_after_a_run(status: str, reason: str, expected: int) -> None:
    event = DONE.model_copy(update={"status": status, "terminal_reason": reason})
    assert session_status_of(event) == expected


def test_a_suspended_session_awaits_what_is_pending() -> None:
    suspended = DONE.model_copy(update={"status": "suspended", "terminal_reason": "needs_input"})
    question = pending_of(ClarificationRequested(call_id="q", question="?"))
    approval = pending_of(ApprovalRequested(call_id="c", tool="write", input={}))
    plan = pending_of(PlanSubmitted(path="p.md", plan="1. x"))
    assert session_status_of(suspended, [question]) == pb.SESSION_STATUS_AWAITING_INPUT
    assert session_status_of(suspended, [question, plan]) == pb.SESSION_STATUS_AWAITING_PLAN_APPROVAL
    assert session_status_of(suspended, [question, plan, approval]) == pb.SESSION_STATUS_AWAITING_APPROVAL


def test_server_events_have_no_tau_json_and_stream_events_share_the_layout() -> None:
    status = status_response(pb.SESSION_STATUS_RUNNING, "run 1 started", seq=1, run=1)
    assert (status.event_json, status.status.status, status.status.detail) == (
        "",
        pb.SESSION_STATUS_RUNNING,
        "run 1 started",
    )
    failed = DONE.model_copy(update={"status": "failed", "terminal_reason": "timeout", "error": "too slow",
                                     "error_kind": "RunTimeout"})  # fmt: skip
    error = error_response(failed, seq=2, run=1).error
    assert error == pb.Error(code="timeout", message="too slow", kind="RunTimeout")
    original = to_response(DONE, seq=7, run=2)
    converted = as_stream_event(original)
    assert converted.SerializeToString() == original.SerializeToString()
    assert (converted.seq, converted.run, converted.final.result) == (7, 2, "ok")
