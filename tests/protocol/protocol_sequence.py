"""A run's worth of v2 events covering every event type, and the same run as v1 JSON lines (pre-v2 tau wrote them).

`V2_EVENTS` feeds the renderer pin (claude-stream-json must not change with tau's vocabulary); `V1_LINES` are
literal lines as tau 1.x's `--output stream-json` printed them, for the upgrade tests.
"""

from __future__ import annotations

from tau.protocol import (
    AgentCompleted,
    AgentSpawned,
    ApprovalRequested,
    ClarificationRequested,
    CompactionApplied,
    EnvironmentInfo,
    Event,
    HookRan,
    MailReceived,
    McpServerInfo,
    MessageCompleted,
    MessageDelta,
    Notice,
    PermissionDecided,
    PermissionDenial,
    PlanSubmitted,
    RetryScheduled,
    RunCompleted,
    SessionStarted,
    SnapshotCreated,
    SubagentCompleted,
    SubagentStarted,
    ThinkingDelta,
    ToolCompleted,
    ToolStarted,
    TurnStarted,
    UsageTotals,
    UsageUpdated,
)

_ENV = EnvironmentInfo(kind="docker", workspace="/w", image="img", container="c1")
_RM = {"command": "rm -rf /", "n": [1, 2]}

V2_EVENTS: list[Event] = [
    SessionStarted(
        session_id="s1", model="openai:gpt-x", cwd="/w", environment=_ENV, tools=["read", "bash", "mcp__gh__issues"],
        mcp=[McpServerInfo(name="gh", status="connected", tools=1), McpServerInfo(name="off", status="failed",
        error="boom")], memory_files=["/w/AGENTS.md"], skills=["review"], permission_mode="acceptEdits",
        tau_version="9.9",
    ),
    Notice(level="info", message="loaded"),
    TurnStarted(turn=1),
    ThinkingDelta(text="hm"),
    MessageDelta(text="Let me "),
    MessageCompleted(turn=1, text="Let me look. \u00e9\u4e2d", tools=["read", "bash"], model="gpt-x-2024"),
    UsageUpdated(usage=UsageTotals(input_tokens=10, output_tokens=5, requests=1), cost_usd=0.1),
    ToolStarted(call_id="c1", tool="read", input={"file_path": "a.txt"}),
    PermissionDecided(call_id="c1", tool="read", decision="allow", resolution="allowed", reason="read-only"),
    ToolStarted(call_id="c2", tool="bash", input=_RM),
    PermissionDecided(call_id="c2", tool="bash", decision="deny", resolution="denied", rule="Bash(rm:*)", reason="no"),
    HookRan(hook_event="PreToolUse", command="./g.sh", exit_code=2, decision="block"),
    ToolCompleted(call_id="c1", tool="read", status="success", output="     1\tx\n", duration_ms=1.5),
    ToolCompleted(call_id="c2", tool="bash", status="denied", output="denied: no", duration_ms=None),
    SnapshotCreated(snapshot_id="snap1", step=1),
    RetryScheduled(attempt=1, delay_ms=1500.0, error="HTTP 429"),
    TurnStarted(turn=2),
    CompactionApplied(strategy="tiered", tokens_before=900, tokens_after=300, messages_before=9, messages_after=3),
    MessageCompleted(turn=2, text="", tools=["mcp__gh__issues", "task"]),
    ToolStarted(call_id="c3", tool="mcp__gh__issues", input={}),
    ToolStarted(call_id="c4", tool="task", input={"prompt": "go", "subagent_type": "Explore"}),
    SubagentStarted(call_id="c4", agent="Explore", child_session_id="s1.task-c4", description="look"),
    SubagentCompleted(
        call_id="c4", agent="Explore", child_session_id="s1.task-c4", status="completed",
        usage=UsageTotals(input_tokens=3), result="found",
    ),
    ToolCompleted(call_id="c3", tool="mcp__gh__issues", status="failed", output="timeout", duration_ms=2.0),
    ToolCompleted(call_id="c4", tool="task", status="success", output="found", duration_ms=3.0),
    TurnStarted(turn=3),
    MessageCompleted(turn=3, text="Need a plan.", tools=["submit_plan"]),
    PlanSubmitted(path=".tau/plans/s1.md", plan="1. x"),
    ClarificationRequested(call_id="q1", question="Which?", choices=["a", "b"]),
    ApprovalRequested(call_id="c5", tool="write", input={"file_path": "b"}, reason="ask"),
    RunCompleted(
        status="failed", terminal_reason="max_turns", exit_code=53, session_id="s1", error="turn limit",
        usage=UsageTotals(input_tokens=20, output_tokens=7, cache_read_tokens=4, cache_write_tokens=2, requests=3,
        tool_calls=4), num_turns=3, duration_ms=12.5, structured_output={"k": [1]},
        permission_denials=[PermissionDenial(call_id="c2", tool="bash", input=_RM, reason="no")],
    ),
    SessionStarted(
        session_id="s2", model="replay:c.json", cwd="/w", environment=EnvironmentInfo(workspace="/w"), tools=[],
    ),
    TurnStarted(turn=1),
    MessageCompleted(turn=1, text="Done."),
    RunCompleted(
        status="completed", terminal_reason="completed", exit_code=0, session_id="s2", result="Done.", cost_usd=0.25,
        num_turns=1,
    ),
    RunCompleted(status="failed", terminal_reason="max_usd", exit_code=5, session_id="s2", error="budget"),
    AgentSpawned(agent="research", child_session_id="s2.agent-1", depth=1),
    MailReceived(mail_seq=1, sender="s2.agent-1", kind="agent_completed"),
    AgentCompleted(agent="research", child_session_id="s2.agent-1", status="completed"),
]  # fmt: skip

V1_LINES: dict[str, str] = {
    "session.started": '{"seq": 0, "type": "session.started", "schema_version": "1.0", "session_id": "s1", '
    '"snapshot_id": null, "model": "openai:gpt-x", "cwd": "/w", "environment": {"kind": "docker", "workspace": "/w", '
    '"image": "img", "container": "c1"}, "tools": ["read", "bash", "mcp__gh__issues"], "mcp": [{"name": "gh", '
    '"status": "connected", "tools": 1, "error": null}, {"name": "off", "status": "failed", "tools": 0, '
    '"error": "boom"}], "memory_files": ["/w/AGENTS.md"], "skills": ["review"], "permission_mode": "acceptEdits", '
    '"tau_version": "9.9"}',
    "usage": '{"seq": 6, "type": "usage", "input_tokens": 10, "output_tokens": 5, "requests": 1, "tool_calls": 0, '
    '"cost_usd": 0.1}',
    "retry": '{"seq": 15, "type": "retry", "attempt": 1, "delay_s": 1.5, "error": "HTTP 429"}',
    "notice": '{"seq": 1, "type": "notice", "level": "info", "message": "loaded"}',
    "plan": '{"seq": 27, "type": "plan", "path": ".tau/plans/s1.md", "plan": "1. x"}',
    "compaction": '{"seq": 17, "type": "compaction", "strategy": "tiered", "before_tokens": 900, "after_tokens": 300, '
    '"messages_before": 9, "messages_after": 3}',
    "tool.started": '{"seq": 7, "type": "tool.started", "call_id": "c1", "name": "read", '
    '"input": {"file_path": "a.txt"}}',
    "tool.completed": '{"seq": 12, "type": "tool.completed", "call_id": "c1", "name": "read", "status": "success", '
    '"output": "     1\\tx\\n", "duration_ms": 1.5}',
    "message.completed": '{"seq": 5, "type": "message.completed", "turn": 1, "text": "Let me look. \\u00e9\\u4e2d", '
    '"tool_calls": ["read", "bash"], "model_name": "gpt-x-2024"}',
    "hook.ran": '{"seq": 11, "type": "hook.ran", "event": "PreToolUse", "matcher": null, "command": "./g.sh", '
    '"exit_code": 2, "decision": "block", "duration_ms": 0.0, "message": null}',
    "subagent.started": '{"seq": 21, "type": "subagent.started", "call_id": "c4", "agent": "Explore", '
    '"session_id": "s1.task-c4", "description": "look", "depth": 1}',
    "subagent.completed": '{"seq": 22, "type": "subagent.completed", "call_id": "c4", "agent": "Explore", '
    '"session_id": "s1.task-c4", "status": "completed", "usage": {"input_tokens": 3, "output_tokens": 0, '
    '"cache_read_tokens": 0, "cache_write_tokens": 0, "requests": 0, "tool_calls": 0}, "result": "found", '
    '"error": null}',
}
"""v1 lines, keyed by their v1 type; each is the v1 form of `V2_EVENTS[seq]` (with that `seq`)."""
