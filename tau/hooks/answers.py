"""Reading hook answers: Claude Code's output contract for one handler, and the combination of several.

One answer (`interpret`):
- exit 0: stdout that starts with `{` must be a JSON object in Claude Code's output shape (`continue`/`stopReason`,
  `suppressOutput`, `systemMessage`, `decision: block` + `reason`, `hookSpecificOutput` with `permissionDecision`,
  `permissionDecisionReason`, `updatedInput`, `additionalContext`, `updatedToolOutput`, and for PermissionRequest
  `decision: {behavior: allow|deny, updatedInput?, message?, interrupt?}`); invalid JSON is ignored with a warning
  (non-blocking). Other stdout is additional context for UserPromptSubmit, SessionStart and Setup, else ignored;
- exit 2: block; stderr is the reason (fed to the model or user by the caller); stdout is ignored, even invalid JSON;
- any other exit code, a timeout, or a failure to start: non-blocking error; the run continues.

Several answers (`combine`, in config order whatever order they finished): block/deny > ask > allow; the reasons of
the winning level are joined in that order; for `updatedInput` and `updatedToolOutput` the last handler in config
order that gave one wins; every `additionalContext` is kept, in order; `continue: false` from any handler stops.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tau.protocol import HookRan

__all__ = ["Decision", "Execution", "HookOutcome", "Verdict", "combine", "interpret", "ran_decision"]

Decision = Literal["allow", "deny", "ask", "block"]
_RANK: dict[str | None, int] = {None: 0, "allow": 1, "ask": 2, "deny": 3, "block": 3}
_CONTEXT_EVENTS = frozenset({"UserPromptSubmit", "SessionStart", "Setup"})
_MAX_TEXT = 10_000


class _PermissionDecision(BaseModel):
    """PermissionRequest's `hookSpecificOutput.decision`: answer the permission prompt on the user's behalf."""

    model_config = ConfigDict(extra="allow")

    behavior: Literal["allow", "deny"]
    updatedInput: dict[str, Any] | None = None
    message: str | None = None
    interrupt: bool = False


class _SpecificOutput(BaseModel):
    model_config = ConfigDict(extra="allow")

    hookEventName: str | None = None
    permissionDecision: Literal["allow", "deny", "ask", "defer"] | None = None
    permissionDecisionReason: str | None = None
    updatedInput: dict[str, Any] | None = None
    additionalContext: str | None = None
    updatedToolOutput: Any = None
    updatedMCPToolOutput: Any = None
    decision: _PermissionDecision | None = None  # PermissionRequest


class _Output(BaseModel):
    """Claude Code's JSON output of a hook (exit 0). Unknown keys are tolerated."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    continue_: bool = Field(True, alias="continue")
    stopReason: str | None = None
    suppressOutput: bool = False
    systemMessage: str | None = None
    decision: Literal["block", "approve", "allow", "deny"] | None = None
    reason: str | None = None
    hookSpecificOutput: _SpecificOutput | None = None


@dataclass(frozen=True)
class Execution:
    """How one handler ended."""

    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    failure: str | None = None  # could not start, or a Python hook raised


@dataclass
class Verdict:
    """What one handler said."""

    decision: Decision | None = None
    reason: str | None = None
    updated_input: dict[str, Any] | None = None
    updated_output: Any = None
    context: str | None = None
    stop: bool = False
    stop_reason: str | None = None
    system_message: str | None = None
    error: str | None = None


@dataclass
class HookOutcome:
    """The combined answer of every handler that ran for one event (empty when none matched)."""

    event: str
    decision: Decision | None = None
    reason: str | None = None
    updated_input: dict[str, Any] | None = None
    updated_output: Any = None
    additional_context: list[str] = field(default_factory=list[str])
    stop: bool = False
    stop_reason: str | None = None
    messages: list[str] = field(default_factory=list[str])
    runs: list[HookRan] = field(default_factory=list[HookRan])

    @property
    def blocked(self) -> bool:
        """Exit 2, `decision: block` or `permissionDecision: deny` from any handler."""
        return self.decision in ("deny", "block")

    @property
    def context_text(self) -> str | None:
        return "\n\n".join(self.additional_context) or None

    def to_json(self) -> dict[str, Any]:
        """The combined decision as `tau hooks test` prints it."""
        return {
            "event": self.event,
            "decision": self.decision,
            "blocked": self.blocked,
            "reason": self.reason,
            "updated_input": self.updated_input,
            "updated_output": self.updated_output,
            "additional_context": list(self.additional_context),
            "continue": not self.stop,
            "stop_reason": self.stop_reason,
            "messages": list(self.messages),
            "hooks": [run.model_dump(mode="json", exclude={"seq", "type"}) for run in self.runs],
        }


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + f"... [{len(text) - _MAX_TEXT} chars cut]"


def _from_output(event: str, output: _Output) -> Verdict:
    verdict = Verdict(system_message=output.systemMessage)
    if not output.continue_:
        verdict.stop, verdict.stop_reason = True, output.stopReason or "stopped by hook (continue: false)"
    if output.decision in ("block", "deny"):
        verdict.decision, verdict.reason = "block", output.reason or "blocked by hook"
    elif output.decision in ("approve", "allow") and event == "PreToolUse":
        verdict.decision, verdict.reason = "allow", output.reason
    specific = output.hookSpecificOutput
    if specific is None:
        return verdict
    verdict.context = specific.additionalContext
    if event == "PreToolUse":
        if specific.permissionDecision in ("allow", "deny", "ask") and verdict.decision != "block":
            verdict.decision = specific.permissionDecision
            verdict.reason = specific.permissionDecisionReason or verdict.reason
        verdict.updated_input = specific.updatedInput
    if event == "PostToolUse":
        verdict.updated_output = specific.updatedToolOutput or specific.updatedMCPToolOutput
    if event == "PermissionRequest" and specific.decision is not None and verdict.decision != "block":
        _permission_answer(verdict, specific.decision)
    return verdict


def _permission_answer(verdict: Verdict, answer: _PermissionDecision) -> None:
    verdict.decision = answer.behavior
    verdict.reason = answer.message or verdict.reason
    verdict.updated_input = answer.updatedInput
    if answer.behavior == "deny" and answer.interrupt:
        verdict.stop, verdict.stop_reason = True, answer.message or "stopped by a PermissionRequest hook"


def interpret(event: str, run: Execution, label: str, timeout: float | None) -> Verdict:
    if run.timed_out:
        return Verdict(error=f"hook timed out after {timeout:g}s and was killed (non-blocking)")
    if run.failure is not None:
        return Verdict(error=run.failure)
    if run.exit_code == 2:
        return Verdict(decision="block", reason=_clip(run.stderr) or f"blocked by hook {label} (exit 2)")
    if run.exit_code != 0:
        detail = _clip(run.stderr) or _clip(run.stdout)
        return Verdict(error=f"hook exited {run.exit_code} (non-blocking)" + (f": {detail}" if detail else ""))
    text = run.stdout.strip()
    if text.startswith("{"):
        try:
            return _from_output(event, _Output.model_validate_json(text))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(map(str, first["loc"])) or "output"
            return Verdict(error=f"ignored invalid hook JSON output ({where}: {first['msg']})")
    if text and event in _CONTEXT_EVENTS:
        return Verdict(context=_clip(text))
    return Verdict()


def ran_decision(verdict: Verdict) -> Literal["none", "allow", "deny", "ask", "block", "stop", "error"]:
    if verdict.stop:
        return "stop"
    if verdict.decision is not None:
        return verdict.decision
    return "error" if verdict.error else "none"


def combine(event: str, verdicts: Sequence[Verdict], runs: list[HookRan]) -> HookOutcome:
    outcome = HookOutcome(event=event, runs=runs)
    top = max((_RANK[v.decision] for v in verdicts), default=0)
    winners = [v for v in verdicts if v.decision is not None and _RANK[v.decision] == top]
    if winners:
        outcome.decision = "block" if any(v.decision == "block" for v in winners) else winners[0].decision
        reasons = [v.reason for v in winners if v.reason]
        outcome.reason = "\n".join(reasons) or None
    for verdict in verdicts:
        if verdict.updated_input is not None:
            outcome.updated_input = verdict.updated_input
        if verdict.updated_output is not None:
            outcome.updated_output = verdict.updated_output
        if verdict.context:
            outcome.additional_context.append(verdict.context)
        if verdict.stop and not outcome.stop:
            outcome.stop, outcome.stop_reason = True, verdict.stop_reason
        outcome.messages += [m for m in (verdict.system_message, verdict.error) if m]
    return outcome
