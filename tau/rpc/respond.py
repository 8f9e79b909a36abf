"""Respond's answers: one answer checked against the pending request it answers, answers meant for an earlier run's
requests told apart (FAILED_PRECONDITION upstream), and the runtime operation that answers them all (`Answer`, or
`ReviewPlan` for a plan).

Plan request ids carry the number of the run that submitted the plan (`events.plan_request_id`), so an answer to an
earlier plan can never approve a later one.
"""

from __future__ import annotations

from dataclasses import replace

from connectrpc.code import Code
from connectrpc.errors import ConnectError

from tau.rpc._gen import runtime_pb2 as pb
from tau.rpc.events import PLAN_REQUEST
from tau.rpc.registry import SessionState
from tau.runtime import Answer, Answers, ReviewPlan
from tau.runtime.features.plan import PlanReview


def record_answer(session: SessionState, pending: pb.PendingRequest, request: pb.RespondRequest) -> None:
    """Keep one Respond answer; INVALID_ARGUMENT when it does not fit the kind of request it answers."""
    wanted = {"permission": "approval", "clarification": "answer", "plan": "plan"}[pending.WhichOneof("request") or ""]
    given = request.WhichOneof("response")
    if given != wanted:
        raise ConnectError(
            Code.INVALID_ARGUMENT,
            f"request {pending.request_id!r} is a {pending.WhichOneof('request')} request: answer it with {wanted}",
        )
    if given == "plan":
        decision = {pb.PLAN_DECISION_APPROVE: "approve", pb.PLAN_DECISION_REJECT: "reject"}.get(request.plan.decision)
        if decision is None:
            raise ConnectError(Code.INVALID_ARGUMENT, "plan.decision must be PLAN_DECISION_APPROVE or _REJECT")
        session.responses.review(pending.request_id, decision, request.plan.feedback.strip())
    elif given == "approval":
        session.responses.approval(pending.request_id, request.approval.approved, request.approval.message.strip())
    else:
        session.responses.reply(pending.request_id, request.answer.text)


def answered_before(session: SessionState, request_id: str) -> bool:
    """`request_id` was a request of an earlier run of the session: answered by the last continuation, or the plan
    of an earlier run (plan ids carry their run's number, `events.plan_request_id`)."""
    plan = PLAN_REQUEST.fullmatch(request_id)
    return request_id in session.consumed or (plan is not None and int(plan.group(1)) <= len(session.runs))


def operation_of(session: SessionState) -> Answer | ReviewPlan:
    """The operation that answers every pending request, with the job of the run it starts (the last run's prompt
    and the session's settings). A plan review also switches the session's permission mode for this and later runs:
    execution mode after an approval, plan mode after a rejection."""
    responses = session.responses
    review: PlanReview | None = None
    if responses.plan is not None:
        _, decision, feedback = responses.plan
        review = PlanReview("approve" if decision == "approve" else "reject", feedback or None)
        spec = session.job.spec
        permissions = spec.permissions.model_copy(update={"mode": review.mode(spec.permissions.mode)})
        session.job = replace(session.job, spec=spec.model_copy(update={"permissions": permissions}))
    previous = session.runs[-1].prompt if session.runs else ""
    job = session.job.for_run(previous, session_id=session.session_id)
    if review is not None:
        return ReviewPlan(session.session_id, review.decision, review.reason, job=job)
    answers = Answers(approve=tuple(responses.approve), deny=dict(responses.deny), answer=dict(responses.answer))
    return Answer(session.session_id, answers, job=job)
