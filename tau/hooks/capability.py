"""Hooks in a run: the tool-call wrapper (PreToolUse / PostToolUse / PostToolUseFailure) and the driver's calls.

`HookSession` is what the runtime builds once per session (a `HookRunner` + per-run state); its `capability` goes on
the Agent and wraps every tool call, function and MCP alike, through `get_wrapper_toolset` — the same pydantic-ai
mechanism as `PermissionCapability`. List it BEFORE the permission capability: the first capability wraps outermost,
so hooks see the model's call first.

Tool calls (decision: precedence vs permissions):
- PreToolUse runs before the permission layer. Its deny (exit 2, `permissionDecision: deny`, `decision: block`) is
  final: the model reads `ToolReturnPart(outcome='denied')` with the hook's reason and the run continues.
- Its `updatedInput` replaces the call's arguments (re-validated against the tool's schema; invalid -> denied, the
  original arguments never run) and the permission layer then evaluates the NEW arguments.
- Its `ask` becomes a pydantic-ai approval request carrying `{ask_metadata_key: {kind, rule: "hook", reason}}`; with
  the default key `tau_permission` the permission capability's asker resolves it (headless: denied with a reason).
  With `ask_metadata_key=None` (no permission layer) an ask is a deny.
- Its `allow` marks the call approved for the inner layers (`ctx.tool_call_approved=True`), so a permission `ask`
  is skipped — but permission deny rules still apply (Claude Code: a hook allow bypasses prompts, not deny rules).
- `continue: false` denies the call and sets `stop_requested`; the driver should end the run (the lead's wiring).
- PostToolUse runs after a successful call (not after a denied one): exit 2 / `decision: block` reason and every
  `additionalContext` are appended to the tool result the model sees; `updatedToolOutput` replaces it.
- PostToolUseFailure runs when the tool raises `ToolFailed` or `ModelRetry`; its `additionalContext` is appended to
  the failure message; the failure itself stands.

Driver calls: `on_session_start`, `on_user_prompt`, `on_stop` (a block = one more turn with the reason as the user
message, at most `max_stop_blocks` times in a row, default 3), `on_session_end`, `on_pre_compact`, `on_notification`,
`on_subagent_stop`. Every handler execution emits a `HookRan` through the runner's `emit`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.exceptions import ApprovalRequired, ModelRetry, ToolFailed
from pydantic_ai.messages import ToolReturn
from pydantic_ai.tools import AgentDepsT, RunContext, ToolDenied
from pydantic_ai.toolsets import AbstractToolset, ToolsetTool, WrapperToolset

from tau.hooks.runner import HookOutcome, HookRunner
from tau.protocol.names import claude_name

__all__ = ["HookCapability", "HookSession", "HookToolset", "PromptVerdict", "StopVerdict"]

DEFAULT_MAX_STOP_BLOCKS = 3


@dataclass(frozen=True)
class PromptVerdict:
    """UserPromptSubmit: `blocked` -> do not send the prompt (show `reason` to the user); else add `extra_context`."""

    blocked: bool
    extra_context: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class StopVerdict:
    """Stop/SubagentStop: `block` -> give the model one more turn with `reason` as the user message.

    `note` says why a block was not honoured (the continuation bound was reached) or that a hook asked to stop.
    """

    block: bool
    reason: str | None = None
    note: str | None = None


def _append(result: Any, extra: str) -> Any:
    if isinstance(result, str):
        return f"{result}\n\n{extra}" if result else extra
    if isinstance(result, ToolReturn):
        content = result.content
        if content is None:
            return replace(result, content=extra)
        if isinstance(content, str):
            return replace(result, content=f"{content}\n\n{extra}")
        return replace(result, content=[*content, extra])
    return ToolReturn(return_value=result, content=extra)


def _feedback(event: str, outcome: HookOutcome) -> str | None:
    parts: list[str] = []
    if outcome.blocked and outcome.reason:
        parts.append(f"{event} hook feedback: {outcome.reason}")
    if outcome.context_text:
        parts.append(f"Additional context from {event} hook:\n{outcome.context_text}")
    return "\n\n".join(parts) or None


def _shown_input(tool_input: dict[str, Any]) -> dict[str, Any]:
    """`tool_input` as hooks see it: the validated arguments without unset optionals (None), close to what the
    model sent (`{"command": "ls"}`, not `{"command": "ls", "timeout": null, ...}`)."""
    return {key: value for key, value in tool_input.items() if value is not None}


def _response_value(result: Any) -> Any:
    value = result.return_value if isinstance(result, ToolReturn) else result
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


@dataclass
class HookSession:
    """Hook state of one session: the runner, the stop-continuation count, pending PreToolUse answers."""

    runner: HookRunner
    max_stop_blocks: int = DEFAULT_MAX_STOP_BLOCKS
    ask_metadata_key: str | None = "tau_permission"
    stop_requested: str | None = None
    stop_blocks: int = 0
    _asked: dict[str, HookOutcome] = field(default_factory=dict[str, HookOutcome])

    @property
    def capability(self) -> HookCapability[Any]:
        return HookCapability(self)

    def wrap(self, toolset: AbstractToolset[AgentDepsT]) -> HookToolset[AgentDepsT]:
        return HookToolset(toolset, session=self)

    def _request_stop(self, outcome: HookOutcome) -> None:
        if outcome.stop and self.stop_requested is None:
            self.stop_requested = outcome.stop_reason or f"stopped by a {outcome.event} hook"

    # -- tool events ---------------------------------------------------------------------------------------

    async def pre_tool_use(self, tool: str, tool_input: dict[str, Any], call_id: str) -> HookOutcome:
        name = claude_name(tool)
        fields = {"tool_name": name, "tool_input": _shown_input(tool_input), "tool_use_id": call_id}
        outcome = await self.runner.run("PreToolUse", fields, match_value=name, tool=tool, tool_input=tool_input)
        self._request_stop(outcome)
        return outcome

    async def post_tool_use(self, tool: str, tool_input: dict[str, Any], call_id: str, response: Any) -> HookOutcome:
        name = claude_name(tool)
        shown = _shown_input(tool_input)
        fields = {"tool_name": name, "tool_input": shown, "tool_use_id": call_id, "tool_response": response}
        outcome = await self.runner.run("PostToolUse", fields, match_value=name, tool=tool, tool_input=tool_input)
        self._request_stop(outcome)
        return outcome

    async def post_tool_use_failure(
        self, tool: str, tool_input: dict[str, Any], call_id: str, error: str, *, is_interrupt: bool = False
    ) -> HookOutcome:
        name = claude_name(tool)
        fields = {
            "tool_name": name,
            "tool_input": _shown_input(tool_input),
            "tool_use_id": call_id,
            "error": error,
            "is_interrupt": is_interrupt,
        }
        outcome = await self.runner.run(
            "PostToolUseFailure", fields, match_value=name, tool=tool, tool_input=tool_input
        )
        self._request_stop(outcome)
        return outcome

    # -- driver events -------------------------------------------------------------------------------------

    async def on_session_start(self, source: str = "startup") -> str | None:
        """SessionStart (`startup|resume|clear|compact`): the additional context to give the model, if any."""
        outcome = await self.runner.run("SessionStart", {"source": source}, match_value=source)
        return outcome.context_text

    async def on_user_prompt(self, prompt: str) -> PromptVerdict:
        """UserPromptSubmit. A new prompt also resets the Stop-continuation count."""
        self.stop_blocks = 0
        outcome = await self.runner.run("UserPromptSubmit", {"prompt": prompt})
        if outcome.blocked or outcome.stop:
            reason = outcome.reason if outcome.blocked else outcome.stop_reason
            return PromptVerdict(blocked=True, reason=reason or "prompt blocked by a UserPromptSubmit hook")
        return PromptVerdict(blocked=False, extra_context=outcome.context_text)

    async def on_stop(
        self, last_message: str = "", stop_hook_active: bool | None = None, *, event: str = "Stop"
    ) -> StopVerdict:
        """Stop (or SubagentStop): whether the run gets one more turn, bounded by `max_stop_blocks` in a row."""
        active = self.stop_blocks > 0 if stop_hook_active is None else stop_hook_active
        fields = {"stop_hook_active": active, "last_assistant_message": last_message}
        outcome = await self.runner.run(event, fields)
        if outcome.stop:
            self._request_stop(outcome)
            return StopVerdict(block=False, note=outcome.stop_reason)
        if not outcome.blocked:
            self.stop_blocks = 0
            return StopVerdict(block=False)
        if self.stop_blocks >= self.max_stop_blocks:
            note = f"{event} hook blocked {self.stop_blocks} times in a row; the run stops anyway"
            return StopVerdict(block=False, reason=outcome.reason, note=note)
        self.stop_blocks += 1
        return StopVerdict(block=True, reason=outcome.reason or f"a {event} hook asked the model to continue")

    async def on_subagent_stop(self, last_message: str = "", stop_hook_active: bool | None = None) -> StopVerdict:
        return await self.on_stop(last_message, stop_hook_active, event="SubagentStop")

    async def on_pre_compact(self, trigger: str, custom_instructions: str = "") -> HookOutcome:
        """PreCompact (`manual|auto`); `outcome.blocked` asks to skip this compaction."""
        fields = {"trigger": trigger, "custom_instructions": custom_instructions}
        return await self.runner.run("PreCompact", fields, match_value=trigger)

    async def on_notification(self, message: str, notification_type: str = "") -> HookOutcome:
        fields = {"message": message, "notification_type": notification_type}
        return await self.runner.run("Notification", fields, match_value=notification_type or None)

    async def on_session_end(self, reason: str) -> None:
        """SessionEnd (`reason`: tau's terminal reason). Nothing it says changes the run."""
        await self.runner.run("SessionEnd", {"reason": reason}, match_value=reason)


@dataclass
class HookToolset(WrapperToolset[AgentDepsT]):
    """Runs PreToolUse / PostToolUse / PostToolUseFailure around every call of the wrapped toolset."""

    session: HookSession = field(kw_only=True)

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[AgentDepsT], tool: ToolsetTool[AgentDepsT]
    ) -> Any:
        call_id = ctx.tool_call_id or ""
        pre = self.session._asked.pop(call_id, None) if ctx.tool_call_approved else None
        pre = pre or await self.session.pre_tool_use(name, tool_args, call_id)
        if pre.stop:
            return ToolDenied(f"A PreToolUse hook stopped the run: {pre.stop_reason}")
        if pre.blocked:
            return ToolDenied(f"Blocked by PreToolUse hook: {pre.reason or 'no reason given'}")
        args = tool_args
        if pre.updated_input is not None:
            try:
                args = tool.args_validator.validate_python(pre.updated_input, context=ctx.validation_context)
            except ValidationError as error:
                detail = " ".join(str(error).split())[:500]
                return ToolDenied(f"Blocked: a PreToolUse hook rewrote this call into invalid input ({detail})")
        inner_ctx = ctx
        if pre.decision == "ask" and not ctx.tool_call_approved:
            return self._ask(call_id, pre)
        if pre.decision == "allow":
            inner_ctx = replace(ctx, tool_call_approved=True)
        return await self._run(name, args, inner_ctx, tool, pre)

    def _ask(self, call_id: str, pre: HookOutcome) -> ToolDenied:
        reason = pre.reason or "a PreToolUse hook asks for confirmation"
        key = self.session.ask_metadata_key
        if key is None:
            return ToolDenied(f"Blocked by PreToolUse hook (needs approval, none available): {reason}")
        self.session._asked[call_id] = pre
        raise ApprovalRequired(metadata={key: {"kind": "ask", "rule": "hook", "reason": reason}})

    async def _run(
        self,
        name: str,
        args: dict[str, Any],
        ctx: RunContext[AgentDepsT],
        tool: ToolsetTool[AgentDepsT],
        pre: HookOutcome,
    ) -> Any:
        call_id = ctx.tool_call_id or ""
        try:
            result = await super().call_tool(name, args, ctx, tool)
        except (ToolFailed, ModelRetry) as error:
            failed = await self.session.post_tool_use_failure(name, args, call_id, error.message)
            extra = _feedback("PostToolUseFailure", failed)
            if extra is None:
                raise
            raise type(error)(f"{error.message}\n\n{extra}") from error
        if isinstance(result, ToolDenied):
            return result  # denied by an inner layer (permissions): the tool did not run
        post = await self.session.post_tool_use(name, args, call_id, _response_value(result))
        if post.updated_output is not None:
            result = post.updated_output
        for extra in (_feedback("PreToolUse", pre), _feedback("PostToolUse", post)):
            if extra is not None:
                result = _append(result, extra)
        return result


@dataclass
class HookCapability(AbstractCapability[AgentDepsT]):
    """Installs `HookToolset` around the run's whole non-output toolset. Install before the permission capability."""

    session: HookSession

    @classmethod
    def get_serialization_name(cls) -> str | None:
        return None

    def get_wrapper_toolset(self, toolset: AbstractToolset[AgentDepsT]) -> AbstractToolset[AgentDepsT] | None:
        return HookToolset(toolset, session=self.session)
