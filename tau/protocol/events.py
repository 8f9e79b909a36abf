"""tau's one event vocabulary: what a run emits, in order, to every consumer.

Renderers (text, json, stream-json, claude-stream-json), the session store, hooks, the RPC stream and tests all
consume these models; nothing else defines event shapes. Invariants:

- `SessionStarted` is the first event of a run and carries `schema_version`; `RunCompleted` is always the last,
  also on error, budget cap or signal.
- `seq` increases by one per event within a run, starting at 0.
- Changes within a major `SCHEMA_VERSION` are additive only (new optional fields, new event types).

Leaf module: imports nothing from tau.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

SCHEMA_VERSION = "1.0"


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int = 0


class EnvironmentInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["host", "docker"] = "host"
    workspace: str
    image: str | None = None
    container: str | None = None


class McpServerInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    status: Literal["connected", "failed", "disabled"]
    tools: int = 0
    error: str | None = None


class SessionStarted(_Event):
    type: Literal["session.started"] = "session.started"
    schema_version: str = SCHEMA_VERSION
    session_id: str
    snapshot_id: str | None = None
    model: str
    cwd: str
    environment: EnvironmentInfo
    tools: list[str]
    mcp: list[McpServerInfo] = Field(default_factory=list)
    memory_files: list[str] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list)
    permission_mode: str = "default"
    tau_version: str = ""


class TurnStarted(_Event):
    """A model request is about to be made. `turn` counts model requests from 1."""

    type: Literal["turn.started"] = "turn.started"
    turn: int


class MessageDelta(_Event):
    type: Literal["message.delta"] = "message.delta"
    text: str


class ThinkingDelta(_Event):
    type: Literal["thinking.delta"] = "thinking.delta"
    text: str


class MessageCompleted(_Event):
    """A whole model response: its text and the tool calls it asked for."""

    type: Literal["message.completed"] = "message.completed"
    turn: int
    text: str
    tool_calls: list[str] = Field(default_factory=list)
    model_name: str | None = None


class ToolStarted(_Event):
    type: Literal["tool.started"] = "tool.started"
    call_id: str
    name: str
    input: dict[str, Any]


class ToolCompleted(_Event):
    type: Literal["tool.completed"] = "tool.completed"
    call_id: str
    name: str
    status: Literal["success", "failed", "denied", "interrupted", "retried"]
    output: str
    duration_ms: float | None = None


class PermissionDecided(_Event):
    type: Literal["permission.decided"] = "permission.decided"
    call_id: str
    tool: str
    decision: Literal["allow", "deny", "ask"]
    resolution: Literal["allowed", "denied"]
    rule: str | None = None
    reason: str


class UsageUpdated(_Event):
    type: Literal["usage"] = "usage"
    input_tokens: int
    output_tokens: int
    requests: int
    tool_calls: int
    cost_usd: float | None = None


class SnapshotCreated(_Event):
    type: Literal["snapshot.created"] = "snapshot.created"
    snapshot_id: str
    step: int


class RetryScheduled(_Event):
    """A provider call failed transiently and will be tried again."""

    type: Literal["retry"] = "retry"
    attempt: int
    delay_s: float
    error: str


class Notice(_Event):
    type: Literal["notice"] = "notice"
    level: Literal["info", "warning"] = "warning"
    message: str


class HookRan(_Event):
    """One hook handler ran (a command or a registered Python function) and what tau made of its answer.

    `decision`: none (ran, no verdict), allow | deny | ask (PreToolUse permission decisions), block (exit 2 or
    `decision: block`), stop (`continue: false`), error (non-blocking failure: other exit code, timeout, bad JSON).
    `exit_code` is the command's (Python hooks report 0 ok, 2 `HookBlock`, 1 raised); None when a timed-out hook
    was killed or the command could not start. `command` is the command line, or `python:<qualname>`.
    """

    type: Literal["hook.ran"] = "hook.ran"
    event: str
    matcher: str | None = None
    command: str
    exit_code: int | None = None
    decision: Literal["none", "allow", "deny", "ask", "block", "stop", "error"] = "none"
    duration_ms: float = 0.0
    message: str | None = None


class ApprovalRequested(_Event):
    """A suspended run waits on this call (`--on-ask suspend`): emitted once per pending call, before
    `run.completed` (status `suspended`, exit 4). Answer with `tau resume SESSION --approve|--deny-call CALL` (kind
    `approval`) or `--answer CALL=TEXT` (kind `question`)."""

    type: Literal["approval.requested"] = "approval.requested"
    call_id: str
    tool: str
    input: dict[str, Any]
    reason: str = ""
    kind: Literal["approval", "question"] = "approval"


class CompactionApplied(_Event):
    """The model's view of the history was compacted before a request (the stored history keeps every message).

    Token counts are estimates of what the model is sent (provider-reported usage anchors them when present);
    message counts are of the view before and after (not of the stored history, which only grows).
    """

    type: Literal["compaction"] = "compaction"
    strategy: str
    before_tokens: int
    after_tokens: int
    messages_before: int
    messages_after: int


class PlanSubmitted(_Event):
    """Plan mode: the model finished planning. The plan was written to `path` (relative to the workspace) and the run
    ends suspended (terminal reason `awaiting_plan_approval`, exit 4): `tau plan approve SESSION` executes it,
    `tau plan reject SESSION --reason TEXT` asks for another plan."""

    type: Literal["plan"] = "plan"
    path: str
    plan: str


class ClarificationRequested(_Event):
    """The model asked the user a question (`ask_user`) and the run suspends on it (`--on-ask suspend`): emitted
    before `run.completed` (status `suspended`, exit 4). Answer with `tau resume SESSION --answer CALL=TEXT`."""

    type: Literal["clarification.requested"] = "clarification.requested"
    call_id: str
    question: str
    choices: list[str] | None = None


class UsageTotals(BaseModel):
    model_config = ConfigDict(frozen=True)

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    requests: int = 0
    tool_calls: int = 0


class SubagentStarted(_Event):
    """A `task` call started a child agent, recorded as its own session `session_id` (linked to the parent)."""

    type: Literal["subagent.started"] = "subagent.started"
    call_id: str
    agent: str
    session_id: str
    description: str = ""
    depth: int = 1


class SubagentCompleted(_Event):
    """A child agent ended. `usage` is the child's own (already added to the parent's); `result` is the (capped)
    final text returned to the parent; `error` says why a child did not complete."""

    type: Literal["subagent.completed"] = "subagent.completed"
    call_id: str
    agent: str
    session_id: str
    status: Literal["completed", "failed", "turn_limit", "interrupted"]
    usage: UsageTotals = Field(default_factory=UsageTotals)
    result: str | None = None
    error: str | None = None


class PermissionDenial(BaseModel):
    model_config = ConfigDict(frozen=True)

    call_id: str
    tool: str
    input: dict[str, Any]
    reason: str


class RunCompleted(_Event):
    """Always the last event. `status` is `completed` only when the run finished normally."""

    type: Literal["run.completed"] = "run.completed"
    status: Literal["completed", "failed", "error", "suspended"]
    terminal_reason: str
    exit_code: int
    session_id: str
    result: str | None = None
    structured_output: Any = None
    error: str | None = None
    error_kind: str | None = None
    retryable: bool = False
    usage: UsageTotals = Field(default_factory=UsageTotals)
    cost_usd: float | None = None
    num_turns: int = 0
    duration_ms: float = 0.0
    permission_denials: list[PermissionDenial] = Field(default_factory=list)


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
    | RunCompleted,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema of one event line, as `tau schema events` prints it."""
    schema = EVENT_ADAPTER.json_schema()
    schema["$id"] = f"https://tau.dev/schemas/events/{SCHEMA_VERSION}.json"
    schema["title"] = "tau event"
    return schema
