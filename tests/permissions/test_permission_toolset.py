"""The permission layer on a real pydantic-ai Agent run: allowed calls run, denials reach the model, asks resolve.

A `FunctionModel` issues scripted tool calls in its first response and records what it receives next; the tools are
a small `FunctionToolset` that records what actually ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.tools import DeferredToolRequests, DeferredToolResults, Tool
from pydantic_ai.toolsets import FunctionToolset

from tau.config.spec import PermissionMode, PermissionsSpec
from tau.permissions import AskAnswer, AskRequest, Decision, PermissionLayer, PermissionPolicy, permission_layer
from tau.protocol import PermissionDecided, PermissionDenial

WS = "/work/proj"
DENY_TAIL = "Do not retry the same call; take another approach."


@dataclass
class Harness:
    """Scripted model + recording tools + recording layer callbacks."""

    calls: list[ToolCallPart]
    answer: AskAnswer = False
    ran: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])
    seen: list[ToolReturnPart] = field(default_factory=list[ToolReturnPart])
    events: list[PermissionDecided] = field(default_factory=list[PermissionDecided])
    asked: list[AskRequest] = field(default_factory=list[AskRequest])

    def toolset(self) -> FunctionToolset[None]:
        def bash(command: str) -> str:
            self.ran.append(("bash", command))
            return f"ran {command}"

        def read(file_path: str) -> str:
            self.ran.append(("read", file_path))
            return f"contents of {file_path}"

        def write(file_path: str, content: str) -> str:
            self.ran.append(("write", file_path))
            return f"wrote {file_path}"

        def list_issues() -> str:
            self.ran.append(("mcp__gh__list_issues", ""))
            return "no issues"

        return FunctionToolset([bash, read, write, Tool(list_issues, name="mcp__gh__list_issues")])

    def model(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=list(self.calls))
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        self.seen.extend(p for p in last.parts if isinstance(p, ToolReturnPart))
        return ModelResponse(parts=[TextPart("done")])

    async def asker(self, request: AskRequest) -> AskAnswer:
        self.asked.append(request)
        return self.answer

    def layer(
        self, mode: PermissionMode = "default", *, allow: tuple[str, ...] = (), deny: tuple[str, ...] = ()
    ) -> PermissionLayer:
        spec = PermissionsSpec(mode=mode, allow=allow, deny=deny)
        policy = PermissionPolicy.from_spec(spec, workspace=WS, home="/home/me")
        return permission_layer(policy, asker=self.asker, emit=self.events.append)

    def agent(self, layer: PermissionLayer, *, deferred: bool = False) -> Agent[None, Any]:
        output_type: Any = [str, DeferredToolRequests] if deferred else str
        return Agent(
            FunctionModel(self.model),
            toolsets=[self.toolset()],
            capabilities=[layer.capability],
            output_type=output_type,
        )

    def returns(self) -> list[tuple[str, str, str]]:
        return sorted((p.tool_call_id, p.outcome, str(p.content)) for p in self.seen)


def call(tool: str, call_id: str, **args: Any) -> ToolCallPart:
    return ToolCallPart(tool, args, tool_call_id=call_id)


@pytest.mark.anyio
async def test_allow_deny_and_ask_in_one_step() -> None:
    h = Harness(
        calls=[
            call("bash", "c1", command="ls -la"),
            call("bash", "c2", command="ls && rm -rf /"),
            call("write", "c3", file_path="notes.md", content="x"),
            call("read", "c4", file_path="src/a.py"),
        ],
        answer=False,
    )
    layer = h.layer(allow=("Bash(ls:*)",), deny=("Bash(rm:*)",))
    result = await h.agent(layer).run("go")

    assert result.output == "done"
    assert sorted(h.ran) == [("bash", "ls -la"), ("read", "src/a.py")]
    rm_reason = "`rm -rf /` is denied by rule Bash(rm:*)"
    write_reason = f"write of {WS}/notes.md (inside the workspace) needs approval in default mode"
    assert h.returns() == [
        ("c1", "success", "ran ls -la"),
        ("c2", "denied", f"Permission denied for bash: {rm_reason}. {DENY_TAIL}"),
        ("c3", "denied", f"Permission denied for write: {write_reason}; approval was not given. {DENY_TAIL}"),
        ("c4", "success", "contents of src/a.py"),
    ]
    assert h.asked == [
        AskRequest("c3", "write", {"file_path": "notes.md", "content": "x"}, Decision("ask", None, write_reason))
    ]
    assert sorted(h.events, key=lambda e: e.call_id) == [
        PermissionDecided(
            call_id="c1",
            tool="bash",
            decision="allow",
            resolution="allowed",
            rule="Bash(ls:*)",
            reason="`ls -la` is allowed by rule Bash(ls:*)",
        ),
        PermissionDecided(
            call_id="c2", tool="bash", decision="deny", resolution="denied", rule="Bash(rm:*)", reason=rm_reason
        ),
        PermissionDecided(
            call_id="c3",
            tool="write",
            decision="ask",
            resolution="denied",
            rule=None,
            reason=f"{write_reason}; approval was not given",
        ),
        PermissionDecided(
            call_id="c4",
            tool="read",
            decision="allow",
            resolution="allowed",
            rule=None,
            reason=f"read is read-only and {WS}/src/a.py is inside the workspace",
        ),
    ]
    assert sorted(layer.denials, key=lambda d: d.call_id) == [
        PermissionDenial(call_id="c2", tool="bash", input={"command": "ls && rm -rf /"}, reason=rm_reason),
        PermissionDenial(
            call_id="c3",
            tool="write",
            input={"file_path": "notes.md", "content": "x"},
            reason=f"{write_reason}; approval was not given",
        ),
    ]


@pytest.mark.anyio
async def test_approved_ask_runs_the_call() -> None:
    h = Harness(calls=[call("bash", "c1", command="make")], answer=True)
    layer = h.layer()
    await h.agent(layer).run("go")

    assert h.ran == [("bash", "make")]
    assert h.returns() == [("c1", "success", "ran make")]
    reason = "`make` needs approval: no allow rule matches it (default mode)"
    assert h.events == [
        PermissionDecided(call_id="c1", tool="bash", decision="ask", resolution="allowed", rule=None, reason=reason)
    ]
    assert layer.denials == []


@pytest.mark.anyio
async def test_asker_message_reaches_the_model() -> None:
    hint = "no human is available to approve this call; proceed without it or explain what you need"
    h = Harness(calls=[call("mcp__gh__list_issues", "c1")], answer=hint)
    layer = h.layer()
    await h.agent(layer).run("go")

    reason = "MCP tool mcp__gh__list_issues needs approval: no allow rule matches it (default mode)"
    assert h.ran == []
    assert h.returns() == [
        ("c1", "denied", f"Permission denied for mcp__gh__list_issues: {reason}; {hint}. {DENY_TAIL}")
    ]
    assert layer.denials == [
        PermissionDenial(call_id="c1", tool="mcp__gh__list_issues", input={}, reason=f"{reason}; {hint}")
    ]


@pytest.mark.anyio
async def test_plan_mode_denies_mcp_and_mutating_bash_without_asking() -> None:
    h = Harness(
        calls=[
            call("mcp__gh__list_issues", "c1"),
            call("bash", "c2", command="git status && git diff | wc -l"),
            call("bash", "c3", command="git commit -am x"),
        ],
        answer=True,
    )
    layer = h.layer("plan", allow=("Bash",))
    await h.agent(layer).run("go")

    assert h.ran == [("bash", "git status && git diff | wc -l")]
    assert h.asked == []
    assert [(e.call_id, e.decision, e.resolution) for e in sorted(h.events, key=lambda e: e.call_id)] == [
        ("c1", "deny", "denied"),
        ("c2", "allow", "allowed"),
        ("c3", "deny", "denied"),
    ]


@pytest.mark.anyio
async def test_suspend_leaves_the_call_pending_and_resume_runs_it() -> None:
    h = Harness(calls=[call("bash", "c1", command="make deploy"), call("bash", "c2", command="ls")], answer=None)
    layer = h.layer(allow=("Bash(ls)",))
    agent = h.agent(layer, deferred=True)
    result = await agent.run("go")

    assert isinstance(result.output, DeferredToolRequests)
    assert [c.tool_call_id for c in result.output.approvals] == ["c1"]
    assert h.ran == [("bash", "ls")]
    assert [(e.call_id, e.resolution) for e in h.events] == [("c2", "allowed")]

    resumed = await agent.run(
        message_history=result.all_messages(), deferred_tool_results=DeferredToolResults(approvals={"c1": True})
    )
    assert resumed.output == "done"
    assert h.ran == [("bash", "ls"), ("bash", "make deploy")]
    assert [(e.call_id, e.decision, e.resolution) for e in h.events] == [
        ("c2", "allow", "allowed"),
        ("c1", "ask", "allowed"),
    ]
    # the resumed request carries both results of that step: the one that ran before suspending and the approved one
    assert h.returns() == [("c1", "success", "ran make deploy"), ("c2", "success", "ran ls")]


@pytest.mark.anyio
async def test_deny_rules_win_over_an_approval_on_resume() -> None:
    h = Harness(calls=[call("bash", "c1", command="make")], answer=None)
    layer = h.layer()
    agent = h.agent(layer, deferred=True)
    result = await agent.run("go")
    assert isinstance(result.output, DeferredToolRequests)

    stricter = h.layer(deny=("Bash(make)",))  # e.g. settings changed between suspend and resume
    resumed = await h.agent(stricter, deferred=True).run(
        message_history=result.all_messages(), deferred_tool_results=DeferredToolResults(approvals={"c1": True})
    )
    assert resumed.output == "done"
    assert h.ran == []
    assert [(p.tool_call_id, p.outcome) for p in h.seen] == [("c1", "denied")]
    assert [d.reason for d in stricter.denials] == ["`make` is denied by rule Bash(make)"]


@pytest.mark.anyio
async def test_explicit_wrap_covers_only_the_wrapped_toolset() -> None:
    h = Harness(calls=[call("bash", "c1", command="rm x"), call("other", "c2")])
    layer = permission_layer(
        PermissionPolicy.from_spec(PermissionsSpec(deny=("Bash", "other")), workspace=WS, home="/h"),
        asker=h.asker,
        emit=h.events.append,
        wrap_toolsets=False,
    )

    def other() -> str:
        h.ran.append(("other", ""))
        return "ok"

    agent: Agent[None, str] = Agent(
        FunctionModel(h.model),
        toolsets=[layer.wrap(h.toolset()), FunctionToolset([other])],
        capabilities=[layer.capability],
    )
    await agent.run("go")
    assert h.ran == [("other", "")]
    assert [(p.tool_call_id, p.outcome) for p in sorted(h.seen, key=lambda p: p.tool_call_id)] == [
        ("c1", "denied"),
        ("c2", "success"),
    ]


@pytest.mark.anyio
async def test_streamed_run_applies_the_same_layer() -> None:
    h = Harness(calls=[call("bash", "c1", command="rm x"), call("read", "c2", file_path="a")])

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> Any:
        from pydantic_ai.models.function import DeltaToolCall

        if len(messages) == 1:
            yield {
                0: DeltaToolCall(name="bash", json_args='{"command": "rm x"}', tool_call_id="c1"),
                1: DeltaToolCall(name="read", json_args='{"file_path": "a"}', tool_call_id="c2"),
            }
            return
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        h.seen.extend(p for p in last.parts if isinstance(p, ToolReturnPart))
        yield "done"

    layer = h.layer(deny=("Bash(rm:*)",))
    agent: Agent[None, str] = Agent(
        FunctionModel(h.model, stream_function=stream), toolsets=[h.toolset()], capabilities=[layer.capability]
    )
    async with agent.run_stream("go") as run:
        output = await run.get_output()
    assert output == "done"
    assert h.ran == [("read", "a")]
    assert [(p.tool_call_id, p.outcome) for p in sorted(h.seen, key=lambda p: p.tool_call_id)] == [
        ("c1", "denied"),
        ("c2", "success"),
    ]
