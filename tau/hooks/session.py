"""The hooks of one session: the events the runtime fires, the transcript hooks read, and per-session state.

`HookSession` is what the runtime builds once per session (`tau.hooks.hook_session`): a `HookRunner`, the session's
`TranscriptWriter` (its path is every payload's `transcript_path`), the Stop-continuation count and the PreToolUse
answers waiting for an approval. Its `capability` (see `tau.hooks.capability`) wraps every tool call.

Events (Claude Code's names and payload fields):
- `on_setup(trigger)` — Setup, `trigger: init|maintenance` (matcher); only when asked for (`tau hooks setup`, see
  docs/decisions.md); plain stdout or `additionalContext` is returned as context; exit 2 does not block.
- `on_session_start(source)`, `on_user_prompt(prompt)`, `on_stop(...)`, `on_session_end(reason)`,
  `on_pre_compact(trigger)`, `on_notification(...)` — as before; a blocking Stop gives one more turn, at most
  `max_stop_blocks` times in a row (default 3).
- `permission_asker(asker)` — PermissionRequest: wraps the permission layer's asker, so the hooks answer every
  `ask` (never a deny: deny rules decide before any ask) before the asker does. `decision.behavior: allow`
  approves, `deny` (or exit 2) denies with `message` for the model, `interrupt: true` also stops the run; no answer
  leaves it to the asker (headless: denied). `updatedInput` is not applied (the call runs as asked; a note says so).
  An ask the hooks leave to the asker fires Notification first (`notification_type: permission_prompt`, message
  "tau needs your permission to use Bash" with Claude Code's tool names), as Claude Code does before its prompt.
- `subagent_start(args, call_id)` — SubagentStart (`agent_id`, `agent_type`; matcher = agent type), fired by the
  tool wrapper when a Task call is about to start a subagent; `additionalContext` is appended to the subagent's
  prompt. While the subagent runs, a context variable names it, so its SubagentStop payload carries the same
  `agent_id` and `agent_type` (empty outside a subagent).

Transcript: `bind_history(source)` gives the session the live conversation; before any hook runs, and on every
`record(messages)` (the driver calls it at each commit), the transcript is brought up to date. A transcript that
cannot be written is reported once through `notice` and the hooks still run (with the last path).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic_ai.messages import ModelMessage

from tau.hooks.runner import HookOutcome, HookRunner
from tau.hooks.transcript import TranscriptWriter
from tau.protocol.names import claude_name

if TYPE_CHECKING:
    from pydantic_ai.tools import AgentDepsT
    from pydantic_ai.toolsets import AbstractToolset

    from tau.hooks.capability import HookCapability, HookToolset

__all__ = ["DEFAULT_MAX_STOP_BLOCKS", "HookSession", "PromptVerdict", "StopVerdict"]

DEFAULT_MAX_STOP_BLOCKS = 3
_SUBAGENT: ContextVar[tuple[str, str] | None] = ContextVar("tau_hooks_subagent", default=None)


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


class AskLike(Protocol):
    """What PermissionRequest needs of the permission layer's ask (`tau.permissions.AskRequest` fits)."""

    @property
    def call_id(self) -> str: ...
    @property
    def tool(self) -> str: ...
    @property
    def args(self) -> dict[str, Any]: ...


AskT = TypeVar("AskT", bound=AskLike)
Answer = bool | str | None  # as `tau.permissions.AskAnswer`: True approves, a string denies with that text


def _shown_input(tool_input: dict[str, Any]) -> dict[str, Any]:
    """`tool_input` as hooks see it: the validated arguments without unset optionals (None), close to what the
    model sent (`{"command": "ls"}`, not `{"command": "ls", "timeout": null, ...}`)."""
    return {key: value for key, value in tool_input.items() if value is not None}


@dataclass
class HookSession:
    """Hook state of one session (see the module docstring)."""

    runner: HookRunner
    max_stop_blocks: int = DEFAULT_MAX_STOP_BLOCKS
    ask_metadata_key: str | None = "tau_permission"
    transcript: TranscriptWriter | None = None
    subagent_id: Callable[[str], str] | None = None  # Task call id -> the subagent's id (tau: its session id)
    notice: Callable[[str], object] | None = None
    stop_requested: str | None = None
    stop_blocks: int = 0
    _asked: dict[str, HookOutcome] = field(default_factory=dict[str, HookOutcome])
    _history: Callable[[], Sequence[ModelMessage]] | None = None
    _transcript_broken: bool = False

    def __post_init__(self) -> None:
        self.runner.prepare = self._before_hooks

    @property
    def capability(self) -> HookCapability[Any]:
        from tau.hooks.capability import HookCapability

        return HookCapability(self)

    def wrap(self, toolset: AbstractToolset[AgentDepsT]) -> HookToolset[AgentDepsT]:
        from tau.hooks.capability import HookToolset

        return HookToolset(toolset, session=self)

    def _request_stop(self, outcome: HookOutcome) -> None:
        if outcome.stop and self.stop_requested is None:
            self.stop_requested = outcome.stop_reason or f"stopped by a {outcome.event} hook"

    # -- transcript ----------------------------------------------------------------------------------------

    def bind_history(self, source: Callable[[], Sequence[ModelMessage]]) -> None:
        """Where the live conversation is read from before a hook runs (the driver's run)."""
        self._history = source

    def record(self, messages: Sequence[ModelMessage]) -> None:
        """Bring the transcript up to `messages` (best-effort: a failure is reported once, never raised)."""
        if self.transcript is None or self._transcript_broken:
            return
        try:
            self.transcript.sync(messages)
        except OSError as error:
            self._transcript_broken = True
            if self.notice is not None:
                self.notice(f"hooks: cannot write the transcript {self.transcript.path}: {error.strerror or error}")

    def _before_hooks(self) -> None:
        self.record(self._history() if self._history is not None else ())

    # -- tool events ---------------------------------------------------------------------------------------

    async def pre_tool_use(self, tool: str, tool_input: dict[str, Any], call_id: str) -> HookOutcome:
        name = claude_name(tool)
        fields = {"tool_name": name, "tool_input": _shown_input(tool_input), "tool_use_id": call_id}
        outcome = await self.runner.run("PreToolUse", fields, match_value=name, tool=tool, tool_input=tool_input)
        self._request_stop(outcome)
        return outcome

    async def post_tool_use(self, tool: str, tool_input: dict[str, Any], call_id: str, response: Any) -> HookOutcome:
        """PostToolUse with `response` as `tool_response` (the tool wrapper passes Claude Code's shape)."""
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

    async def permission_request(self, tool: str, tool_input: dict[str, Any], call_id: str) -> HookOutcome:
        """PermissionRequest for a call the permission layer would ask about."""
        name = claude_name(tool)
        fields = {
            "tool_name": name,
            "tool_input": _shown_input(tool_input),
            "tool_use_id": call_id,
            "permission_suggestions": [],
        }
        outcome = await self.runner.run("PermissionRequest", fields, match_value=name, tool=tool, tool_input=tool_input)
        self._request_stop(outcome)
        return outcome

    def permission_asker(
        self, asker: Callable[[AskT], Awaitable[Answer]]
    ) -> Callable[[AskT], Coroutine[Any, Any, Answer]]:
        """`asker` with PermissionRequest hooks in front of it (see the module docstring)."""

        async def ask(request: AskT) -> Answer:
            outcome = await self.permission_request(request.tool, request.args, request.call_id)
            if outcome.updated_input is not None and self.notice is not None:
                self.notice("PermissionRequest hook: updatedInput is not supported by tau; the call runs as asked")
            if outcome.decision == "allow" and not outcome.stop:
                return True
            if outcome.blocked or outcome.stop:
                reason = outcome.reason or outcome.stop_reason or "no reason given"
                return f"Denied by a PermissionRequest hook: {reason}"
            # the ask goes to a person (or the headless policy): Claude Code's Notification, before the prompt
            await self.on_notification(
                f"tau needs your permission to use {claude_name(request.tool)}", "permission_prompt"
            )
            return await asker(request)

        return ask

    # -- subagents -----------------------------------------------------------------------------------------

    async def subagent_start(self, args: dict[str, Any], call_id: str) -> tuple[dict[str, Any], Token[Any]]:
        """SubagentStart for a Task call: the call's arguments (context appended to `prompt`) and the token that
        ends the subagent's scope (`end_subagent`)."""
        agent_type = str(args.get("subagent_type") or "")
        agent_id = self.subagent_id(call_id) if self.subagent_id is not None else call_id
        token = _SUBAGENT.set((agent_id, agent_type))
        fields = {"agent_id": agent_id, "agent_type": agent_type}
        outcome = await self.runner.run("SubagentStart", fields, match_value=agent_type or None)
        context = outcome.context_text
        if context and isinstance(args.get("prompt"), str):
            args = {**args, "prompt": f"{args['prompt']}\n\n{context}"}
        return args, token

    @staticmethod
    def end_subagent(token: Token[Any]) -> None:
        _SUBAGENT.reset(token)

    # -- driver events -------------------------------------------------------------------------------------

    async def on_setup(self, trigger: str = "init") -> str | None:
        """Setup (`init|maintenance`): the context its hooks printed, if any; nothing it says blocks."""
        outcome = await self.runner.run("Setup", {"trigger": trigger}, match_value=trigger)
        return outcome.context_text

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
        fields: dict[str, Any] = {"stop_hook_active": active, "last_assistant_message": last_message}
        match: str | None = None
        if event == "SubagentStop":
            agent_id, agent_type = _SUBAGENT.get() or ("", "")
            fields = {"agent_id": agent_id, "agent_type": agent_type, **fields}
            match = agent_type or None
        outcome = await self.runner.run(event, fields, match_value=match)
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
