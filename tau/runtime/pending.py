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
- `resolve_pending(...)` turns a continuation's answers into the `DeferredToolResults` the resumed run starts with
  (unanswered approvals decided again by the run's permission gate), or says the run suspends again at once.

Imports pydantic-ai, tau.protocol, tau.errors, tau.permissions and runtime modules below the driver only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic_ai.messages import ToolCallPart
from pydantic_ai.tools import DeferredToolRequests, DeferredToolResults, ToolApproved, ToolDenied

from tau.errors import ConfigError
from tau.permissions.policy import Decision
from tau.permissions.toolset import PermissionGate
from tau.protocol import ApprovalRequested, ClarificationRequested, PermissionDecided, PermissionDenial
from tau.runtime.answers import DEFAULT_DENIAL, Answers, pending_call
from tau.runtime.emitter import Emitter
from tau.runtime.features.clarify import ASK_TOOL, clarification_events, is_question
from tau.runtime.features.plan import AWAITING_PLAN_APPROVAL, PlanReview
from tau.runtime.setup import RunSetup

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
    recover: bool = False  # pick up a run cut off mid-step (a durable engine's retry): calls without a result run again


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
    if continuation.recover:
        return
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


async def resolve_pending(
    pending: DeferredToolRequests, answers: Answers, setup: RunSetup, emitter: Emitter
) -> tuple[DeferredToolResults | None, DeferredToolRequests | None]:
    """The `DeferredToolResults` a continuation starts with, or the requests still pending.

    The operator's answers come first (denials are reported here — a `permission.decided` event and an entry in the
    run's `permission_denials` — because the permission layer never sees them); an unanswered approval is evaluated
    again by the run's permission gate (`setup.permissions`) and asked per its `on_ask` (so `--allow` or `--on-ask
    deny` on resume settle it). pydantic-ai needs a result for every pending call: if the operator answered nothing
    and some call is still open (`on_ask: suspend` again, or an unanswered question), the run suspends again at once;
    if the operator answered some but not all, that is a ConfigError naming the rest."""
    denials = setup.permission_denials
    messages = {
        call_id: _report_denial(pending, call_id, reason, emitter, denials) for call_id, reason in answers.deny.items()
    }
    results = answers.results(pending, messages)
    answered = set(results.approvals) | set(results.calls)
    for call in pending.approvals:
        if call.tool_call_id not in answered:
            decided = await _reevaluate(pending, call, setup.permissions)
            if decided is not None:
                results.approvals[call.tool_call_id] = decided
    open_ids = [
        call.tool_call_id
        for call in (*pending.approvals, *pending.calls)
        if call.tool_call_id not in results.approvals and call.tool_call_id not in results.calls
    ]
    if not open_ids:
        return results, None
    if answers:
        raise ConfigError(
            f"calls still pending: {', '.join(open_ids)} (answer every pending call, or resume without answers "
            "to have the permission policy decide them)",
            field="--approve/--deny-call/--answer",
        )
    return None, pending


async def _reevaluate(
    pending: DeferredToolRequests, call: ToolCallPart, gate: PermissionGate | None
) -> ToolApproved | ToolDenied | None:
    if gate is None:
        return None
    args = call.args_as_dict()
    decision = gate.policy.evaluate(call.tool_name, args)
    if decision.kind == "deny":
        return gate.deny(call.tool_call_id, call.tool_name, args, decision)
    if decision.kind == "allow":
        return ToolApproved()  # the permission layer reports it when the call runs
    info = (pending.metadata.get(call.tool_call_id) or {}).get(PERMISSION_METADATA)
    rule = info.get("rule") if isinstance(info, dict) else None
    resolved = await gate.resolve(call, Decision(kind="ask", rule=rule or decision.rule, reason=decision.reason))
    return resolved if isinstance(resolved, ToolApproved | ToolDenied) else None


def _report_denial(
    pending: DeferredToolRequests, call_id: str, reason: str | None, emitter: Emitter, denials: list[PermissionDenial]
) -> str:
    """Report an operator's `--deny-call` (event + denial list); the text the model reads."""
    call = pending_call(pending, call_id)
    tool = call.tool_name if call is not None else "?"
    args = call.args_as_dict() if call is not None else {}
    why = reason or DEFAULT_DENIAL
    info = (pending.metadata.get(call_id) or {}).get(PERMISSION_METADATA)
    rule = info.get("rule") if isinstance(info, dict) else None
    emitter.emit(
        PermissionDecided(call_id=call_id, tool=tool, decision="ask", resolution="denied", rule=rule, reason=why)
    )
    denials.append(PermissionDenial(call_id=call_id, tool=tool, input=args, reason=why))
    return f"Permission denied for {tool}: {why.rstrip('.')}. Do not retry the same call; take another approach."
