"""Answers to a suspended run's pending deferred tool calls: `tau resume --approve/--deny-call/--answer` ->
pydantic-ai `DeferredToolResults`.

Pending calls come in two kinds (pydantic-ai `DeferredToolRequests`): `approvals` (a permission `ask` the
`--on-ask suspend` policy left open; answered by approve or deny) and `calls` (a tool that raised `CallDeferred`,
e.g. a question for the user; answered with text). An answer naming a call that is not pending, or of the wrong
kind, is a ConfigError (exit 2) naming it. Pending calls left unanswered are not dropped: the resumed run
evaluates them again under its permission policy (and asks per its `on_ask`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai.messages import ToolCallPart
from pydantic_ai.tools import DeferredToolRequests, DeferredToolResults, ToolApproved, ToolDenied

from tau.errors import ConfigError

DEFAULT_DENIAL = "The user denied this call."


@dataclass(frozen=True)
class Answers:
    """What the operator answered: approved call ids, denied call ids (-> reason or None), question answers."""

    approve: tuple[str, ...] = ()
    deny: Mapping[str, str | None] = field(default_factory=dict)
    answer: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.approve or self.deny or self.answer)

    def check(self, pending: DeferredToolRequests | None, *, session: str) -> None:
        """ConfigError (exit 2) for a call id that is not pending, or answered the wrong way."""
        approvals = {call.tool_call_id for call in pending.approvals} if pending else set()
        questions = {call.tool_call_id for call in pending.calls} if pending else set()
        if self and pending is None:
            raise ConfigError(
                f"session {session} has no pending calls to answer", field="--approve/--deny-call/--answer"
            )
        for flag, ids, wanted, other in (
            ("--approve", self.approve, approvals, questions),
            ("--deny-call", tuple(self.deny), approvals, questions),
            ("--answer", tuple(self.answer), questions, approvals),
        ):
            for call_id in ids:
                if call_id in wanted:
                    continue
                if call_id in other:
                    hint = "answer it with --answer CALL=TEXT" if flag != "--answer" else "use --approve or --deny-call"
                    raise ConfigError(f"call {call_id} is not an approval request here; {hint}", field=flag)
                known = ", ".join(sorted(approvals | questions)) or "none"
                raise ConfigError(f"no pending call {call_id!r} in session {session} (pending: {known})", field=flag)
        both = set(self.approve) & set(self.deny)
        if both:
            raise ConfigError(f"call {sorted(both)[0]} is both approved and denied", field="--deny-call")

    def results(self, pending: DeferredToolRequests, messages: Mapping[str, str]) -> DeferredToolResults:
        """The `DeferredToolResults` for `pending` (call `check` first). `messages` maps a denied call id to the
        text the model reads."""
        approvals: dict[str, bool | ToolApproved | ToolDenied] = {call_id: ToolApproved() for call_id in self.approve}
        approvals.update({call_id: ToolDenied(messages[call_id]) for call_id in self.deny})
        calls: dict[str, Any] = dict(self.answer)
        return pending.build_results(approvals=approvals, calls=calls)


def pending_call(pending: DeferredToolRequests, call_id: str) -> ToolCallPart | None:
    return next((c for c in (*pending.approvals, *pending.calls) if c.tool_call_id == call_id), None)
