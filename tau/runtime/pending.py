"""A suspended session's pending calls: the events that announce them, and the checks a continuation must pass.

One implementation of each, used everywhere:
- `request_events(pending)` turns pending deferred calls into the events a suspended run emits before its terminal
  event: one `ApprovalRequested` per permission ask (kind `approval`), one `ApprovalRequested` (kind `question`) per
  other deferred call, then one `ClarificationRequested` per `ask_user` question (`clarify.clarification_events`).
  The driver emits them when a run suspends; the runtime returns them for a fork that carries pending calls.
- `check_continuation(...)` is every precondition of continuing a session: answers must name pending calls of the
  right kind, a plan review needs a session awaiting plan approval, and a continuation without a prompt needs
  something to continue (pending calls). The runtime checks before any work starts (no sandbox, no fork), the driver
  checks again under the session's write lock (another process may have moved the session meanwhile).

Imports pydantic-ai, tau.protocol, tau.errors and runtime modules below the driver only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic_ai.tools import DeferredToolRequests

from tau.errors import ConfigError
from tau.protocol import ApprovalRequested, ClarificationRequested
from tau.runtime.answers import Answers
from tau.runtime.clarify import ASK_TOOL, clarification_events, is_question
from tau.runtime.plan import AWAITING_PLAN_APPROVAL, PlanReview

PERMISSION_METADATA = "tau_permission"  # the key tau.permissions puts in a deferred call's metadata

RequestEvent = ApprovalRequested | ClarificationRequested


@dataclass(frozen=True)
class Continuation:
    """How a run continues an existing session (`tau resume`, `tau fork` after the store forked it, RPC runs).

    `prompt` None sends no new prompt: the run continues the session's pending calls (answered by `answers`, the
    rest re-evaluated by the permission policy). `plan_review` continues a session awaiting plan approval: its
    prompt is the approval (with the plan) or the rejection (with the reason). Data only (it crosses the engine
    port)."""

    prompt: str | None = None
    answers: Answers = field(default_factory=Answers)
    plan_review: PlanReview | None = None


def request_events(pending: DeferredToolRequests) -> list[RequestEvent]:
    """The events announcing `pending`: permission asks, other deferred calls, then `ask_user` questions."""
    events: list[RequestEvent] = []
    for kind, calls in (("approval", pending.approvals), ("question", pending.calls)):
        for call in calls:
            if kind == "question" and (call.tool_name == ASK_TOOL or is_question(pending, call.tool_call_id)):
                continue
            meta = pending.metadata.get(call.tool_call_id) or {}
            info = meta.get(PERMISSION_METADATA)
            reason = str(info.get("reason", "")) if isinstance(info, dict) else str(meta.get("question", ""))
            events.append(
                ApprovalRequested(
                    call_id=call.tool_call_id,
                    tool=call.tool_name,
                    input=call.args_as_dict(),
                    reason=reason,
                    kind="approval" if kind == "approval" else "question",
                )
            )
    events.extend(clarification_events(pending))
    return events


def check_continuation(
    continuation: Continuation,
    *,
    label: str,
    status: str,
    pending: DeferredToolRequests | None,
    source: str | None,
) -> None:
    """ConfigError (exit 2, one line naming `source`) unless `continuation` can continue a session whose head has
    `status` and waits on `pending`; `label` names the session (or snapshot) in messages."""
    continuation.answers.check(pending, session=label)
    review = continuation.plan_review
    if review is not None:
        if status != AWAITING_PLAN_APPROVAL:
            raise ConfigError(f"session {label} is not awaiting plan approval (its status is {status})", source=source)
        return
    if continuation.prompt is not None or pending is not None:
        return
    if status == AWAITING_PLAN_APPROVAL:
        raise ConfigError(
            f"{label} is awaiting plan approval: tau plan approve {label} (or reject --reason TEXT)", source=source
        )
    raise ConfigError(f"{label} is not waiting on any call: give -p TEXT to continue it", source=source)
