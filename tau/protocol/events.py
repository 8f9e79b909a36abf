"""tau's one event vocabulary (v2): what a run emits, in order, to every consumer.

Renderers (text, json, stream-json, claude-stream-json), the RPC stream, `tau watch` reports, hooks and tests all
consume these models; nothing else defines event shapes. Invariants:

- `SessionStarted` is the first event of a run and carries `schema_version`; `RunCompleted` is always the last,
  also on error, budget cap or signal.
- `seq` increases by one per event within a run, starting at 0.
- Names: a `type` is `<subject>.<past tense>` (`tool.completed`, `usage.updated`); streamed fragments are
  `<subject>.delta`. One field name per concept in every event: `tool` (a tool's name), `call_id`, `turn`,
  `reason`, `error`, `session_id` (the run's own session; a child's is `child_session_id`), `usage` (a
  `UsageTotals`), `model`, durations in `*_ms`.
- Every event and every field has a description (`tau schema events` prints them; tests/protocol fails otherwise).
- Changes within a major `SCHEMA_VERSION` are additive only (new optional fields, new event types). Lines of an
  older major are read through `tau.protocol.upgrade`.

Leaf module: imports nothing from tau.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from tau.protocol.parts import EnvironmentInfo, McpServerInfo, PermissionDenial, UsageTotals

SCHEMA_VERSION = "2.0"

_TOOL = "The tool's name as tau shows it to the model (`bash`, `read`, `mcp__server__tool`)."
_CALL_ID = "The tool call's id, as the model gave it; links the tool, permission and approval events of one call."
_INPUT = "The call's arguments (invalid JSON from the model is kept under `_raw`)."


def _describe_type(schema: dict[str, Any]) -> None:
    """Schema hook: the `type` property of every event says which value it always has."""
    prop = schema.get("properties", {}).get("type")
    if isinstance(prop, dict) and "const" in prop:
        prop.setdefault("description", f"The event type, always `{prop['const']}`.")


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=_describe_type, defer_build=True)

    seq: int = Field(default=0, description="Position of the event in its run: 0 for the first, then one more each.")


class SessionStarted(_Event):
    """The run began: always the first event. Says which session, model, environment and tools the run has."""

    type: Literal["session.started"] = "session.started"
    schema_version: str = Field(
        default=SCHEMA_VERSION, description="Version of this event vocabulary (major.minor; additive within a major)."
    )
    session_id: str = Field(description="The session the run records into (`tau resume`, `tau sessions` take it).")
    snapshot_id: str | None = Field(
        default=None, description="The snapshot the run starts from (None for a new session)."
    )
    model: str = Field(description="The model as configured (`provider:name`).")
    cwd: str = Field(description="The run's working directory (the workspace).")
    environment: EnvironmentInfo = Field(description="Where the tools execute.")
    tools: list[str] = Field(description="Names of the tools the model is offered.")
    mcp: list[McpServerInfo] = Field(default_factory=list, description="Every configured MCP server and its status.")
    memory_files: list[str] = Field(
        default_factory=list, description="Memory files loaded at start (AGENTS.md, CLAUDE.md, rules), as paths."
    )
    skills: list[str] = Field(default_factory=list, description="Names of the skills the model can load.")
    permission_mode: str = Field(
        default="default", description="`default`, `acceptEdits`, `plan` or `bypassPermissions`."
    )
    tau_version: str = Field(default="", description="The tau release that ran.")


class TurnStarted(_Event):
    """A model request is about to be made."""

    type: Literal["turn.started"] = "turn.started"
    turn: int = Field(description="The turn: model requests counted from 1 within the run.")


class MessageDelta(_Event):
    """A fragment of the model's answer text as it streams (the whole text follows in `message.completed`)."""

    type: Literal["message.delta"] = "message.delta"
    text: str = Field(description="The new text, appended to what came before.")


class ThinkingDelta(_Event):
    """A fragment of the model's reasoning as it streams (models that expose it only)."""

    type: Literal["thinking.delta"] = "thinking.delta"
    text: str = Field(description="The new reasoning text, appended to what came before.")


class MessageCompleted(_Event):
    """A whole model response: its text and the tools it calls."""

    type: Literal["message.completed"] = "message.completed"
    turn: int = Field(description="The turn this response answers.")
    text: str = Field(description="The response's text ('' when it only calls tools).")
    tools: list[str] = Field(
        default_factory=list, description="Names of the tools the response calls, in order (one per call)."
    )
    model: str | None = Field(default=None, description="The model that answered, as the provider names it.")


class ToolStarted(_Event):
    """The model called a tool; permission checks and hooks come next (`permission.decided`), then the result."""

    type: Literal["tool.started"] = "tool.started"
    call_id: str = Field(description=_CALL_ID)
    tool: str = Field(description=_TOOL)
    input: dict[str, Any] = Field(description=_INPUT)


class ToolCompleted(_Event):
    """A tool call ended; `output` is what the model is sent back."""

    type: Literal["tool.completed"] = "tool.completed"
    call_id: str = Field(description=_CALL_ID)
    tool: str = Field(description=_TOOL)
    status: Literal["success", "failed", "denied", "interrupted", "retried"] = Field(
        description="`success`; `failed` (the tool raised or reported failure); `denied` (refused: permissions or a "
        "hook); `retried` (malformed call sent back to the model); `interrupted` (the run ended first)."
    )
    output: str = Field(description="The result text the model receives (an error message when not `success`).")
    duration_ms: float | None = Field(
        default=None, description="Wall time of the call in milliseconds (None when its start was not seen)."
    )


class PermissionDecided(_Event):
    """The permission layer decided on a tool call (before it runs)."""

    type: Literal["permission.decided"] = "permission.decided"
    call_id: str = Field(description=_CALL_ID)
    tool: str = Field(description=_TOOL)
    decision: Literal["allow", "deny", "ask"] = Field(description="What the rules and mode said.")
    resolution: Literal["allowed", "denied"] = Field(
        description="What happened to the call (an `ask` is resolved by the asker, a hook or `on_ask`)."
    )
    rule: str | None = Field(default=None, description="The permission rule that matched, if one did.")
    reason: str = Field(description="Why, in one line.")


class ApprovalRequested(_Event):
    """A suspended run waits on this call (`--on-ask suspend`): emitted once per pending call, before
    `run.completed` (status `suspended`, exit 4). Answer with `tau resume SESSION --approve|--deny-call CALL` (kind
    `approval`) or `--answer CALL=TEXT` (kind `question`)."""

    type: Literal["approval.requested"] = "approval.requested"
    call_id: str = Field(description=_CALL_ID)
    tool: str = Field(description=_TOOL)
    input: dict[str, Any] = Field(description=_INPUT)
    reason: str = Field(default="", description="Why it needs an answer (the rule or the question).")
    kind: Literal["approval", "question"] = Field(
        default="approval", description="`approval` (allow or deny the call) or `question` (answer it with text)."
    )


class UsageUpdated(_Event):
    """The run's usage so far, after every model response."""

    type: Literal["usage.updated"] = "usage.updated"
    usage: UsageTotals = Field(description="Totals of the run so far (child agents included once they end).")
    cost_usd: float | None = Field(default=None, description="Cost of the run so far in USD (None when unknown).")


class SnapshotCreated(_Event):
    """A step of the run was committed to the session store."""

    type: Literal["snapshot.created"] = "snapshot.created"
    snapshot_id: str = Field(description="The new head snapshot of the session (`tau fork`, `tau rewind` take it).")
    step: int = Field(description="The run's commit number, from 1.")


class RetryScheduled(_Event):
    """A provider call failed transiently and will be tried again."""

    type: Literal["retry.scheduled"] = "retry.scheduled"
    attempt: int = Field(description="The retry about to be made, from 1 (the first retry is attempt 1).")
    delay_ms: float = Field(
        description="Milliseconds until the next attempt (the provider's `Retry-After` when it sent one)."
    )
    error: str = Field(description="The provider's error, in tau's one-line form (secrets masked).")


class Notice(_Event):
    """Something the operator should know that is not an error of the run (a skipped file, a cut, a warning)."""

    type: Literal["notice.emitted"] = "notice.emitted"
    level: Literal["info", "warning"] = Field(default="warning", description="`info` or `warning`.")
    message: str = Field(description="One line of text (secrets masked).")


class HookRan(_Event):
    """One hook handler ran (a command or a registered Python function) and what tau made of its answer."""

    type: Literal["hook.ran"] = "hook.ran"
    hook_event: str = Field(description="The hook event it ran for, as Claude Code names it (`PreToolUse`, `Stop`).")
    matcher: str | None = Field(default=None, description="The matcher of the configured hook, if it has one.")
    command: str = Field(description="The command line, or `python:<qualname>` for a Python hook.")
    exit_code: int | None = Field(
        default=None,
        description="The command's exit code (Python hooks: 0 ok, 2 `HookBlock`, 1 raised); None when a timed-out "
        "hook was killed or the command could not start.",
    )
    decision: Literal["none", "allow", "deny", "ask", "block", "stop", "error"] = Field(
        default="none",
        description="`none` (ran, no verdict); `allow`, `deny`, `ask` (PreToolUse permission decisions); `block` "
        "(exit 2 or `decision: block`); `stop` (`continue: false`); `error` (non-blocking failure: other exit "
        "code, timeout, bad JSON).",
    )
    duration_ms: float = Field(default=0.0, description="Wall time of the handler in milliseconds.")
    message: str | None = Field(default=None, description="The hook's reason, error or system message, if any.")


class PlanSubmitted(_Event):
    """Plan mode: the model finished planning. The run ends suspended (terminal reason `awaiting_plan_approval`, exit
    4): `tau plan approve SESSION` executes the plan, `tau plan reject SESSION --reason TEXT` asks for another."""

    type: Literal["plan.submitted"] = "plan.submitted"
    path: str = Field(description="Where the plan was written, relative to the workspace.")
    plan: str = Field(description="The plan's text (Markdown).")


class ClarificationRequested(_Event):
    """The model asked the user a question (`ask_user`) and the run suspends on it (`--on-ask suspend`): emitted
    before `run.completed` (status `suspended`, exit 4). Answer with `tau resume SESSION --answer CALL=TEXT`."""

    type: Literal["clarification.requested"] = "clarification.requested"
    call_id: str = Field(description=_CALL_ID)
    question: str = Field(description="The question.")
    choices: list[str] | None = Field(default=None, description="Answers the model offers, if it offered any.")


class CompactionApplied(_Event):
    """The model's view of the history was compacted before a request (the stored history keeps every message).

    Token counts are estimates of what the model is sent (provider-reported usage anchors them when present);
    message counts are of the view before and after (not of the stored history, which only grows).
    """

    type: Literal["compaction.applied"] = "compaction.applied"
    strategy: str = Field(description="The strategy that compacted (`clear_tool_results`, `sliding_window`, ...).")
    tokens_before: int = Field(description="Estimated tokens of the view before compaction.")
    tokens_after: int = Field(description="Estimated tokens of the view after compaction.")
    messages_before: int = Field(description="Messages in the view before compaction.")
    messages_after: int = Field(description="Messages in the view after compaction.")


class SubagentStarted(_Event):
    """A `task` call started a child agent, recorded as its own session (linked to the parent)."""

    type: Literal["subagent.started"] = "subagent.started"
    call_id: str = Field(description="The id of the `task` call that started it.")
    agent: str = Field(description="The agent definition's name (`general-purpose`, `Explore`, a defined agent).")
    child_session_id: str = Field(description="The child's own session.")
    description: str = Field(default="", description="The short task description the model gave.")
    depth: int = Field(default=1, description="Nesting depth: 1 for a child of the top-level run.")


class SubagentCompleted(_Event):
    """A child agent ended."""

    type: Literal["subagent.completed"] = "subagent.completed"
    call_id: str = Field(description="The id of the `task` call that started it.")
    agent: str = Field(description="The agent definition's name.")
    child_session_id: str = Field(description="The child's own session.")
    status: Literal["completed", "failed", "turn_limit", "interrupted"] = Field(description="How the child ended.")
    usage: UsageTotals = Field(
        default_factory=UsageTotals, description="The child's own usage (already added to the parent's)."
    )
    result: str | None = Field(default=None, description="The (capped) final text returned to the parent.")
    error: str | None = Field(default=None, description="Why the child did not complete, if it did not.")


class MailReceived(_Event):
    """A message landed in the session's mailbox (`tau serve`): from a client (SendMessage, `tau mail send`) or from
    one of its background agents. Emitted between runs too (then `seq` is 0)."""

    type: Literal["mail.received"] = "mail.received"
    mail_seq: int = Field(description="The message's number in that mailbox (1, 2, 3, ...).")
    sender: str = Field(description="Who sent it: a client's name, or a background agent's session id.")
    kind: Literal["message", "agent_completed", "agent_question", "agent_failed"] = Field(
        description="`message` (a client's), or what a background agent reports: completed, a question, failed."
    )


class AgentSpawned(_Event):
    """The session started a background agent (`tau serve`, StartAgent): a child session that runs on its own and
    reports to this session's mailbox."""

    type: Literal["agent.spawned"] = "agent.spawned"
    agent: str = Field(description="The agent's name (a label; `agent` when none was given).")
    child_session_id: str = Field(description="The background agent's own session.")
    depth: int = Field(description="Nesting depth: 1 for a child of a top-level session.")


class AgentCompleted(_Event):
    """A background agent of this session ended a run; its result is in this session's mailbox."""

    type: Literal["agent.completed"] = "agent.completed"
    agent: str = Field(description="The agent's name.")
    child_session_id: str = Field(description="The background agent's own session.")
    status: Literal["completed", "question", "failed"] = Field(
        description="`completed`, `question` (it suspended on an ask), or `failed` (error, cancel, server restart)."
    )
    error: str | None = Field(default=None, description="Why it did not complete, if it did not.")


class RunCompleted(_Event):
    """The run ended: always the last event. `status` is `completed` only when the run finished normally."""

    type: Literal["run.completed"] = "run.completed"
    status: Literal["completed", "failed", "suspended"] = Field(
        description="`completed`, `failed` (see `terminal_reason`, `error`), or `suspended` (waits on an answer)."
    )
    terminal_reason: str = Field(
        description="Why the run ended: `completed`, `max_turns`, `timeout`, `provider_error`, `needs_input`, "
        "... (the README's exit code table lists them)."
    )
    exit_code: int = Field(description="The process exit code `tau run` ends with (0, 1, 3, 4, 5, 53, 124, 130, 143).")
    session_id: str = Field(description="The session the run recorded into.")
    result: str | None = Field(default=None, description="The final answer's text.")
    structured_output: Any = Field(
        default=None, description="The final answer as JSON when `output.schema` is set (validated against it)."
    )
    error: str | None = Field(default=None, description="What went wrong, in one line (secrets masked).")
    error_kind: str | None = Field(default=None, description="The error's class name (`ProviderError`, ...).")
    retryable: bool = Field(default=False, description="Whether running again later may succeed (provider errors).")
    usage: UsageTotals = Field(default_factory=UsageTotals, description="Totals of the whole run.")
    cost_usd: float | None = Field(default=None, description="Cost of the run in USD (None when unknown).")
    num_turns: int = Field(default=0, description="Model requests made (the last `turn`).")
    duration_ms: float = Field(default=0.0, description="Wall time of the run in milliseconds.")
    permission_denials: list[PermissionDenial] = Field(
        default_factory=list, description="Every tool call the permission layer refused."
    )


Event = Annotated[
    SessionStarted
    | TurnStarted
    | MessageDelta
    | ThinkingDelta
    | MessageCompleted
    | ToolStarted
    | ToolCompleted
    | PermissionDecided
    | ApprovalRequested
    | UsageUpdated
    | SnapshotCreated
    | RetryScheduled
    | Notice
    | HookRan
    | PlanSubmitted
    | ClarificationRequested
    | CompactionApplied
    | SubagentStarted
    | SubagentCompleted
    | MailReceived
    | AgentSpawned
    | AgentCompleted
    | RunCompleted,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event, config=ConfigDict(defer_build=True))  # built on first use


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema of one event line, as `tau schema events` prints it."""
    schema = EVENT_ADAPTER.json_schema()
    schema["$id"] = f"https://tau.dev/schemas/events/{SCHEMA_VERSION}.json"
    schema["title"] = "tau event"
    schema["description"] = (
        f"One line of `tau run --output stream-json` (event vocabulary {SCHEMA_VERSION}). Lines of an older major are "
        "read with `tau.protocol.parse_event`."
    )
    return schema
