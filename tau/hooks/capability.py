"""Hooks around tool calls: the pydantic-ai tool wrapper (PreToolUse / PostToolUse / PostToolUseFailure, and
SubagentStart for Task calls) and the capability that installs it.

`HookSession.capability` (see `tau.hooks.session`) goes on the Agent and wraps every tool call, function and MCP
alike, through `get_wrapper_toolset` — the same pydantic-ai mechanism as `PermissionCapability`. List it BEFORE the
permission capability: the first capability wraps outermost, so hooks see the model's call first.

Tool calls (decision: precedence vs permissions):
- PreToolUse runs before the permission layer. Its deny (exit 2, `permissionDecision: deny`, `decision: block`) is
  final: the model reads `ToolReturnPart(outcome='denied')` with the hook's reason and the run continues.
- Its `updatedInput` replaces the call's arguments (re-validated against the tool's schema; invalid -> denied, the
  original arguments never run) and the permission layer then evaluates the NEW arguments.
- Its `ask` becomes a pydantic-ai approval request carrying `{ask_metadata_key: {kind, rule: "hook", reason}}`; with
  the default key `tau_permission` the permission capability's asker resolves it (PermissionRequest hooks first,
  then the asker; headless: denied with a reason). With `ask_metadata_key=None` (no permission layer) an ask is a
  deny.
- Its `allow` marks the call approved for the inner layers (`ctx.tool_call_approved=True`), so a permission `ask`
  is skipped — but permission deny rules still apply (Claude Code: a hook allow bypasses prompts, not deny rules).
- `continue: false` denies the call and sets `stop_requested`; the driver ends the run.
- A Task call fires SubagentStart just before the subagent starts (after PreToolUse and the permission check's
  wrapper position: a Task that a deny rule stops has still fired it) and scopes the subagent for SubagentStop.
- PostToolUse runs after a successful call (not after a denied one) with `tool_response` in Claude Code's shape
  (`tau.hooks.responses`): exit 2 / `decision: block` reason and every `additionalContext` are appended to the
  tool result the model sees; `updatedToolOutput` replaces it (a Bash object becomes tau's text).
- PostToolUseFailure runs when the tool raises `ToolFailed` or `ModelRetry`; its `additionalContext` is appended to
  the failure message; the failure itself stands.

Every handler execution emits a `HookRan` through the runner's `emit`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.exceptions import ApprovalRequired, ModelRetry, ToolFailed
from pydantic_ai.messages import ToolReturn
from pydantic_ai.tools import AgentDepsT, RunContext, ToolDenied
from pydantic_ai.toolsets import AbstractToolset, ToolsetTool, WrapperToolset

from tau.hooks.responses import claude_tool_response, tool_output_text
from tau.hooks.runner import HookOutcome
from tau.protocol.names import claude_name

if TYPE_CHECKING:
    from tau.hooks.session import HookSession

__all__ = ["HookCapability", "HookToolset"]


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


def _response_value(result: Any) -> Any:
    value = result.return_value if isinstance(result, ToolReturn) else result
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


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
        existed = await self._existed(name, args, ctx)
        subagent = None
        if claude_name(name) == "Task":
            args, subagent = await self.session.subagent_start(args, call_id)
        started = time.monotonic()
        try:
            result = await super().call_tool(name, args, ctx, tool)
        except (ToolFailed, ModelRetry) as error:
            failed = await self.session.post_tool_use_failure(name, args, call_id, error.message)
            extra = _feedback("PostToolUseFailure", failed)
            if extra is None:
                raise
            raise type(error)(f"{error.message}\n\n{extra}") from error
        finally:
            if subagent is not None:
                self.session.end_subagent(subagent)
        if isinstance(result, ToolDenied):
            return result  # denied by an inner layer (permissions): the tool did not run
        elapsed = (time.monotonic() - started) * 1000
        project = self.session.runner.context.project_dir
        response = claude_tool_response(
            name, args, _response_value(result), project_dir=project, duration_ms=elapsed, existed=existed
        )
        post = await self.session.post_tool_use(name, args, call_id, response)
        if post.updated_output is not None:
            result = tool_output_text(name, post.updated_output)
        for extra in (_feedback("PreToolUse", pre), _feedback("PostToolUse", post)):
            if extra is not None:
                result = _append(result, extra)
        return result

    async def _existed(self, name: str, args: dict[str, Any], ctx: RunContext[AgentDepsT]) -> bool | None:
        """For a Write that a PostToolUse hook will see: whether its file existed before (`type: update`)."""
        path = args.get("file_path")
        if claude_name(name) != "Write" or not isinstance(path, str) or not path:
            return None
        if not self.session.runner.matching("PostToolUse", "Write", tool=name, tool_input=args):
            return None
        try:
            return bool(await ctx.workspace.exists(path))
        except Exception:  # no workspace, a path the backend refuses: the write itself will say
            return None


@dataclass
class HookCapability(AbstractCapability[AgentDepsT]):
    """Installs `HookToolset` around the run's whole non-output toolset. Install before the permission capability."""

    session: HookSession

    @classmethod
    def get_serialization_name(cls) -> str | None:
        return None

    def get_wrapper_toolset(self, toolset: AbstractToolset[AgentDepsT]) -> AbstractToolset[AgentDepsT] | None:
        return HookToolset(toolset, session=self.session)
