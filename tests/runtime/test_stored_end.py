"""`runtime.recovery.stored_end`: the events that end a recovered run whose head already records its outcome — the
stored status's terminal reason and exit code, the last response's answer, the pending calls of a suspended run —
and None for a head whose run goes on."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart, UserPromptPart
from pydantic_ai.tools import DeferredToolRequests

from tau.protocol import ApprovalRequested, RunCompleted
from tau.runtime.recovery import stored_end

PROMPT = ModelRequest(parts=[UserPromptPart("go")])
ANSWER = ModelResponse(parts=[TextPart("done")])
CALL = ToolCallPart("write", {"file_path": "a.txt", "content": "A"}, tool_call_id="c1")


def _end(status: str, messages: list[Any], pending: DeferredToolRequests | None = None) -> RunCompleted:
    events = stored_end("s", status, messages, pending)
    assert events is not None
    last = events[-1]
    assert isinstance(last, RunCompleted)
    return last


@pytest.mark.parametrize("status", ["created", "forked", "running"])
def test_a_head_whose_run_goes_on_has_no_stored_end(status: str) -> None:
    assert stored_end("s", status, [PROMPT, ANSWER], None) is None


@pytest.mark.parametrize(
    ("status", "reason", "code", "kind"),
    [
        ("completed", "completed", 0, None),
        ("max_turns", "max_turns", 53, "TurnLimitReached"),
        ("max_usd", "max_usd", 5, "BudgetExceeded"),
        ("output_truncated", "output_truncated", 5, "OutputTruncated"),
        ("idle_timeout", "idle_timeout", 124, "RunTimeout"),
        ("terminated", "terminated", 143, "Interrupted"),
        ("provider_error", "provider_error", 1, "ProviderError"),
        ("something_new", "something_new", 1, "RunError"),
    ],
)
def test_the_stored_status_gives_the_terminal_reason_and_exit_code(
    status: str, reason: str, code: int, kind: str | None
) -> None:
    end = _end(status, [PROMPT, ANSWER])
    assert (end.terminal_reason, end.exit_code, end.error_kind, end.result) == (reason, code, kind, "done")
    assert end.status == ("completed" if status == "completed" else "failed")


def test_the_result_is_the_last_response_s_answer_only() -> None:
    assert _end("provider_error", [PROMPT, ANSWER, ModelRequest(parts=[UserPromptPart("more")])]).result is None
    assert _end("interrupted", [PROMPT, ModelResponse(parts=[CALL])]).result is None
    output = ToolCallPart("final_result", {"n": 1}, tool_call_id="f1")
    returned = ModelRequest(parts=[ToolReturnPart("final_result", "Final result processed.", tool_call_id="f1")])
    end = _end("completed", [PROMPT, ModelResponse(parts=[output]), returned])
    assert (end.result, end.structured_output) == ('{"n": 1}', {"n": 1})


def test_a_suspended_run_ends_with_its_pending_requests_then_needs_input() -> None:
    pending = DeferredToolRequests(approvals=[CALL], metadata={"c1": {"tau_permission": {"reason": "ask"}}})
    events = stored_end("s", "suspended", [PROMPT, ModelResponse(parts=[CALL])], pending)
    assert events is not None and [type(e) for e in events] == [ApprovalRequested, RunCompleted]
    end = events[-1]
    assert isinstance(end, RunCompleted)
    assert (end.status, end.terminal_reason, end.exit_code) == ("suspended", "needs_input", 4)
    plan = _end("awaiting_plan_approval", [PROMPT, ANSWER])
    assert (plan.status, plan.terminal_reason, plan.exit_code, plan.result) == (
        "suspended",
        "awaiting_plan_approval",
        4,
        "done",
    )
