"""The `task` tool on real pydantic-ai Agents: scripted models, tau's real tools over a `HostBackend` workspace, the
real permission layer and real session stores. Asserts what each child model was offered and sent, what ran in the
workspace, what the parent model received, what the store recorded and the events emitted."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import Model
from pydantic_ai.models.function import AgentInfo, FunctionModel

from tau.config.spec import PermissionMode, PermissionsSpec
from tau.environment import HostBackend
from tau.errors import ConfigError
from tau.permissions import AskAnswer, AskRequest, PermissionPolicy, permission_layer
from tau.protocol import PermissionDecided, SubagentCompleted, SubagentStarted, UsageTotals
from tau.runtime.features.agent_defs import AgentDefinition, ClaudePermissionMode
from tau.runtime.features.subagents import (
    ChildRequest,
    MakeChildAgent,
    ParentSession,
    SubagentLimits,
    SubagentRuns,
    child_agent_factory,
    child_sessions,
    subagent_toolset,
)
from tau.sessions import FileSessionStore, InMemorySessionStore, SessionStore, StepRecord
from tau.testing.scripted import ScriptedModel, ScriptStep, calls, reply, scripted_model
from tau.tools import ToolLimits, build_toolset

pytestmark = pytest.mark.anyio

PARENT_TOOLS = ["read", "write", "edit", "bash", "glob", "grep"]


async def deny_asks(request: AskRequest) -> AskAnswer:
    return "No human is available."


def agent_def(
    name: str,
    *,
    tools: tuple[str, ...] | None = None,
    mode: ClaudePermissionMode | None = None,
    max_turns: int | None = None,
) -> AgentDefinition:
    return AgentDefinition(
        name=name,
        description=f"the {name}",
        prompt=f"You are the {name} subagent.",
        tools=tools,
        model=f"scripted:{name}",
        permission_mode=mode,
        max_turns=max_turns,
    )


def task(agent: str, prompt: str) -> tuple[str, dict[str, Any]]:
    return ("task", {"description": f"{agent} work", "prompt": prompt, "subagent_type": agent})


@dataclass
class Rig:
    """A parent agent with the `task` tool over `workspace`, and everything the test inspects."""

    workspace: Path
    store: SessionStore = field(default_factory=InMemorySessionStore)
    models: dict[str, Model] = field(default_factory=dict)
    events: list[SubagentStarted | SubagentCompleted] = field(default_factory=list)
    permissions: list[PermissionDecided] = field(default_factory=list)
    runs: SubagentRuns = field(default_factory=SubagentRuns)
    head: str | None = None

    def policy(self, mode: PermissionMode = "default") -> PermissionPolicy:
        spec = PermissionsSpec(mode=mode, allow=("Bash(touch *)", "Bash(ls *)"))
        return PermissionPolicy.from_spec(spec, workspace=str(self.workspace), home="/nonexistent", safe_tools={"task"})

    def factory(self) -> MakeChildAgent:
        return child_agent_factory(
            toolsets=[build_toolset(PARENT_TOOLS, limits=ToolLimits())],
            policy=self.policy(),
            asker=deny_asks,
            emit_permission=self.permissions.append,
            model_for=lambda ref: self.models[ref.removeprefix("scripted:")],
        )

    def child(self, name: str, *steps: ScriptStep) -> ScriptedModel:
        model, script = scripted_model(list(steps), model_name=name)
        self.models[name] = model
        return script

    async def run_parent(
        self,
        definitions: list[AgentDefinition],
        *steps: ScriptStep,
        max_depth: int = 2,
        make: MakeChildAgent | None = None,
        parent_mode: PermissionMode = "default",
        max_result_chars: int = 20_000,
        **options: Any,
    ) -> tuple[ScriptedModel, Any]:
        model, script = scripted_model(list(steps), model_name="parent")
        toolset = subagent_toolset(
            definitions,
            parent=ParentSession("p1", lambda: self.head, mode=parent_mode, tools=frozenset(PARENT_TOOLS)),
            limits=SubagentLimits(max_depth=max_depth, max_result_chars=max_result_chars),
            make_child_agent=make or self.factory(),
            store=self.store,
            emit=self.events.append,
            runs=self.runs,
            **options,
        )
        layer = permission_layer(self.policy(), asker=deny_asks, emit=self.permissions.append)
        agent: Agent[None, str] = Agent(
            model,
            toolsets=[build_toolset(PARENT_TOOLS, limits=ToolLimits()), toolset],
            capabilities=[layer.capability],
        )
        result = await agent.run("delegate the work", workspace=HostBackend(self.workspace))
        return script, result


def last_parts(messages: list[ModelMessage]) -> list[Any]:
    request = messages[-1]
    assert isinstance(request, ModelRequest)
    return list(request.parts)


def tool_names(info: AgentInfo) -> list[str]:
    return sorted(tool.name for tool in info.function_tools)


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "notes.txt").write_text("hello from notes\n")
    return Rig(workspace)


def handshake(script: ScriptedModel, mine: anyio.Event, other: anyio.Event, log: list[str]) -> FunctionModel:
    """A child model whose first request signals `mine` and waits for `other`: deadlocks (then times out) unless
    both children's runs are in flight at the same time."""

    async def respond(messages: list[ModelMessage], info: AgentInfo) -> Any:
        if not script.requests:
            log.append(f"{script.model_name} start")
            mine.set()
            with anyio.fail_after(5):
                await other.wait()
        response = script.respond(messages, info)
        if len(script.requests) == len(script.steps):
            log.append(f"{script.model_name} end")
        return response

    return FunctionModel(respond, model_name=script.model_name)


async def test_two_parallel_tasks_with_restricted_tools(rig: Rig) -> None:
    reader = rig.child("reader", calls(("read", {"file_path": "notes.txt"})), reply("notes say hello"))
    lister = rig.child("lister", calls(("bash", {"command": "ls -1"})), reply("one file: notes.txt"))
    started = {"reader": anyio.Event(), "lister": anyio.Event()}
    log: list[str] = []
    rig.models["reader"] = handshake(reader, started["reader"], started["lister"], log)
    rig.models["lister"] = handshake(lister, started["lister"], started["reader"], log)
    definitions = [agent_def("reader", tools=("read", "grep")), agent_def("lister", tools=("glob", "bash"))]

    parent, result = await rig.run_parent(
        definitions,
        calls(task("reader", "Read notes.txt and summarise it."), task("lister", "List the files.")),
        reply("both done"),
    )

    assert result.output == "both done"
    # both children were in flight at once: each started before either finished (sequential runs time out)
    assert sorted(log[:2]) == ["lister start", "reader start"]
    assert sorted(log[2:]) == ["lister end", "reader end"]
    # each child saw only its allowed tools, its own system prompt, and a fresh context holding only its prompt
    assert [tool_names(info) for info in reader.infos] == [["grep", "read"]] * 2
    assert [tool_names(info) for info in lister.infos] == [["bash", "glob"]] * 2
    assert reader.infos[0].instructions == "You are the reader subagent."
    assert lister.infos[0].instructions == "You are the lister subagent."
    first = reader.requests[0]
    assert len(first) == 1 and isinstance(first[0], ModelRequest)
    assert [p.content for p in first[0].parts if isinstance(p, UserPromptPart)] == ["Read notes.txt and summarise it."]
    assert len(first[0].parts) == 1
    # the tools really ran in the shared workspace
    assert isinstance(reader.requests[1][-1], ModelRequest)
    read_result = last_parts(reader.requests[1])[0]
    assert "hello from notes" in str(read_result.content)
    assert "notes.txt" in str(last_parts(lister.requests[1])[0].content)
    # what the parent model received: each child's final text plus a one-line status
    returns = last_parts(parent.requests[1])
    assert [(p.tool_name, p.outcome) for p in returns] == [("task", "success"), ("task", "success")]
    assert returns[0].content.startswith("notes say hello\n\n[subagent reader completed: 2 turns, ")
    assert returns[0].content.endswith("; session p1.task-call_1_0]")
    assert returns[1].content.startswith("one file: notes.txt\n\n[subagent lister completed: 2 turns, ")
    # events and the in-memory registry
    assert sorted((type(e).__name__, e.agent) for e in rig.events) == [
        ("SubagentCompleted", "lister"),
        ("SubagentCompleted", "reader"),
        ("SubagentStarted", "lister"),
        ("SubagentStarted", "reader"),
    ]
    assert sorted((r.agent, r.session_id, r.status) for r in rig.runs.for_parent("p1")) == [
        ("lister", "p1.task-call_1_1", "completed"),
        ("reader", "p1.task-call_1_0", "completed"),
    ]
    # the child transcripts are recorded as their own sessions
    history = await rig.store.history("p1.task-call_1_0")
    assert len(history) == 4 and history[0] == first[0]


async def test_child_usage_counts_against_the_parent(rig: Rig) -> None:
    rig.child("reader", calls(("read", {"file_path": "notes.txt"})), reply("read it"))
    rig.child("lister", calls(("glob", {"pattern": "*.txt"})), reply("listed"))
    definitions = [agent_def("reader"), agent_def("lister")]

    _, result = await rig.run_parent(
        definitions, calls(task("reader", "read"), task("lister", "list")), reply("done"), max_depth=1
    )

    completed = [e for e in rig.events if isinstance(e, SubagentCompleted)]
    child_usage = [e.usage for e in completed]
    assert all(u.requests == 2 and u.tool_calls == 1 and u.input_tokens > 0 for u in child_usage)
    parent_own = [m.usage for m in result.all_messages() if hasattr(m, "usage") and m.usage is not None]
    total = result.usage
    assert total.requests == 2 + 4
    assert total.tool_calls == 2 + 2
    assert total.input_tokens == sum(u.input_tokens for u in parent_own) + sum(u.input_tokens for u in child_usage)
    assert total.output_tokens == sum(u.output_tokens for u in parent_own) + sum(u.output_tokens for u in child_usage)


async def test_a_forbidden_tool_is_unknown_to_the_child_even_if_the_factory_offers_it(rig: Rig) -> None:
    """The factory here ignores `request.tools` and offers every tool: the runner still hides the rest."""
    policy = rig.policy()

    def permissive_factory(request: ChildRequest) -> Agent[None, Any]:
        layer = permission_layer(policy, asker=deny_asks, emit=rig.permissions.append)
        return Agent(
            rig.models[request.definition.name],
            instructions=request.definition.prompt,
            toolsets=[build_toolset(PARENT_TOOLS, limits=ToolLimits())],
            capabilities=[layer.capability],
        )

    reader = rig.child("reader", calls(("bash", {"command": "touch pwned"})), reply("bash is not available to me"))
    parent, result = await rig.run_parent(
        [agent_def("reader", tools=("read",))],
        calls(task("reader", "touch a file")),
        reply("ok"),
        make=permissive_factory,
    )

    assert result.output == "ok"
    assert tool_names(reader.infos[0]) == ["read"]
    retry = last_parts(reader.requests[1])[0]
    assert isinstance(retry, ToolReturnPart)
    assert (retry.tool_name, retry.outcome) == ("bash", "retried")
    assert retry.content == "Unknown tool name: 'bash'. Available tools: 'read'"
    assert not (rig.workspace / "pwned").exists()
    returned = last_parts(parent.requests[1])[0]
    assert (returned.outcome, returned.content.split("\n")[0]) == ("success", "bash is not available to me")


async def test_a_child_cannot_escalate_and_its_denied_call_does_not_stop_the_parent(rig: Rig) -> None:
    """Definition asks for bypassPermissions, parent is in plan mode: the child runs in plan mode."""
    planner = rig.child("planner", calls(("write", {"file_path": "out.txt", "content": "x"})), reply("write denied"))
    parent, result = await rig.run_parent(
        [agent_def("planner", mode="bypassPermissions")],
        calls(task("planner", "write out.txt")),
        reply("parent carried on"),
        parent_mode="plan",
    )

    assert result.output == "parent carried on"
    denied = last_parts(planner.requests[1])[0]
    assert isinstance(denied, ToolReturnPart)
    assert denied.outcome == "denied"
    assert "plan mode is read-only" in str(denied.content)
    assert not (rig.workspace / "out.txt").exists()
    assert [(p.tool, p.resolution) for p in rig.permissions if p.tool == "write"] == [("write", "denied")]
    assert last_parts(parent.requests[1])[0].outcome == "success"


async def test_dont_ask_mode_denies_what_would_need_approval(rig: Rig) -> None:
    asker_calls: list[AskRequest] = []

    async def approving(request: AskRequest) -> AskAnswer:
        asker_calls.append(request)
        return True

    rig.child("quiet", calls(("bash", {"command": "echo hi > made.txt"})), reply("denied"))
    make = child_agent_factory(
        toolsets=[build_toolset(PARENT_TOOLS, limits=ToolLimits())],
        policy=rig.policy(),
        asker=approving,
        emit_permission=rig.permissions.append,
        model_for=lambda ref: rig.models[ref.removeprefix("scripted:")],
    )
    await rig.run_parent([agent_def("quiet", mode="dontAsk")], calls(task("quiet", "go")), reply("ok"), make=make)

    assert asker_calls == []
    assert not (rig.workspace / "made.txt").exists()
    assert [p.resolution for p in rig.permissions if p.tool == "bash"] == ["denied"]


async def test_depth_limit(rig: Rig) -> None:
    delegator = rig.child("delegator", calls(task("leaf", "count to one")), reply("leaf said: one"))
    leaf = rig.child("leaf", reply("one"))

    _, result = await rig.run_parent(
        [agent_def("delegator"), agent_def("leaf")], calls(task("delegator", "delegate")), reply("done")
    )

    assert result.output == "done"
    assert "task" in tool_names(delegator.infos[0])  # depth 1 < max depth 2: may delegate
    assert "task" not in tool_names(leaf.infos[0])  # depth 2: at the limit, no task tool
    assert tool_names(leaf.infos[0]) == sorted(PARENT_TOOLS)
    child = rig.runs.for_parent("p1")
    assert [(r.agent, r.depth, r.session_id) for r in child] == [("delegator", 1, "p1.task-call_1_0")]
    grandchild = rig.runs.for_parent("p1.task-call_1_0")
    assert [(r.agent, r.depth, r.session_id) for r in grandchild] == [("leaf", 2, "p1.task-call_1_0.task-call_1_0")]
    assert grandchild[0].parent_snapshot is not None  # linked to the delegator's step


async def test_max_depth_one_gives_children_no_task_tool(rig: Rig) -> None:
    delegator = rig.child("delegator", reply("nothing to delegate"))
    await rig.run_parent([agent_def("delegator")], calls(task("delegator", "x")), reply("done"), max_depth=1)
    assert "task" not in tool_names(delegator.infos[0])


async def test_a_failing_child_returns_a_failed_result_and_the_parent_continues(tmp_path: Path, rig: Rig) -> None:
    store = FileSessionStore(tmp_path / "state")
    rig.store = store

    def explode(messages: list[ModelMessage], info: AgentInfo) -> Any:
        raise RuntimeError("provider exploded")

    rig.models["broken"] = FunctionModel(explode, model_name="broken")
    parent, result = await rig.run_parent([agent_def("broken")], calls(task("broken", "x")), reply("recovered"))

    assert result.output == "recovered"
    failed = last_parts(parent.requests[1])[0]
    assert isinstance(failed, ToolReturnPart)
    assert failed.outcome == "failed"
    assert failed.content == "[subagent broken failed: RuntimeError: provider exploded; session p1.task-call_1_0]"
    log = await store.log("p1.task-call_1_0")
    assert [s.status for s in log] == ["created", "failed"]
    done = [e for e in rig.events if isinstance(e, SubagentCompleted)]
    assert [(e.status, e.error) for e in done] == [("failed", "RuntimeError: provider exploded")]


async def test_a_child_hitting_max_turns_fails_with_its_last_text(rig: Rig) -> None:
    rig.child("looper", calls(("glob", {"pattern": "*"}), text="looking around"), reply("never reached"))
    parent, result = await rig.run_parent(
        [agent_def("looper", max_turns=1)], calls(task("looper", "loop")), reply("moved on")
    )

    assert result.output == "moved on"
    failed = last_parts(parent.requests[1])[0]
    assert failed.outcome == "failed"
    assert failed.content == (
        "[subagent looper turn_limit: reached its turn limit (1 model requests); session p1.task-call_1_0]\n"
        "Its last message:\nlooking around"
    )


async def test_unknown_subagent_type_is_a_retry(rig: Rig) -> None:
    parent, result = await rig.run_parent([agent_def("reader")], calls(task("writer", "x")), reply("fine"))
    retry = last_parts(parent.requests[1])[0]
    assert isinstance(retry, ToolReturnPart)
    assert (retry.outcome, retry.content) == ("retried", "Unknown subagent_type 'writer'. Available: reader")
    assert rig.events == []
    assert result.output == "fine"


async def test_children_are_recorded_in_the_file_store_linked_to_the_parent(tmp_path: Path, rig: Rig) -> None:
    store = FileSessionStore(tmp_path / "state")
    rig.store = store
    rig.head = await store.begin("p1", {"prompt": "parent job"})
    rig.child("reader", calls(("read", {"file_path": "notes.txt"})), reply("read"))
    rig.child("lister", reply("listed"))

    await rig.run_parent(
        [agent_def("reader"), agent_def("lister")],
        calls(task("reader", "Read notes"), task("lister", "List files")),
        reply("done"),
    )
    await store.close("p1")

    children = child_sessions(store, "p1")
    assert [(c.session_id, c.agent, c.call_id, c.parent_snapshot, c.status) for c in children] == [
        ("p1.task-call_1_0", "reader", "call_1_0", rig.head, "completed"),
        ("p1.task-call_1_1", "lister", "call_1_1", rig.head, "completed"),
    ]
    log = await store.log("p1.task-call_1_0")
    assert [(s.status, s.message_count) for s in log] == [("created", 0), ("running", 2), ("completed", 2)]
    assert log[-1].totals["requests"] == 2 and log[-1].totals["tool_calls"] == 1
    history = await store.history("p1.task-call_1_0")
    assert isinstance(history[0], ModelRequest)
    assert [p.content for p in history[0].parts if isinstance(p, UserPromptPart)] == ["Read notes"]
    listed = {info.id: info.title for info in await store.list_sessions()}
    assert listed == {"p1": "parent job", "p1.task-call_1_0": "Read notes", "p1.task-call_1_1": "List files"}


async def test_subagent_stop_hook_gives_the_child_one_more_turn(rig: Rig) -> None:
    @dataclass
    class Verdict:
        block: bool
        reason: str | None = None

    seen: list[str] = []

    async def on_stop(text: str) -> Verdict:
        seen.append(text)
        return Verdict(True, "Also mention the tests.") if len(seen) == 1 else Verdict(False)

    worker = rig.child("worker", reply("did the work"), reply("did the work, tests pass"))
    parent, _ = await rig.run_parent(
        [agent_def("worker")], calls(task("worker", "work")), reply("ok"), on_subagent_stop=on_stop
    )

    assert seen == ["did the work", "did the work, tests pass"]
    assert [p.content for p in last_parts(worker.requests[1]) if isinstance(p, UserPromptPart)] == [
        "Also mention the tests."
    ]
    assert last_parts(parent.requests[1])[0].content.startswith("did the work, tests pass\n\n")


async def test_long_results_are_capped(rig: Rig) -> None:
    rig.child("talker", reply("x" * 500))
    parent, _ = await rig.run_parent(
        [agent_def("talker")], calls(task("talker", "talk")), reply("ok"), max_result_chars=100
    )
    content = last_parts(parent.requests[1])[0].content
    assert content.startswith("x" * 100 + "\n[… 400 more characters cut")
    completed = [e for e in rig.events if isinstance(e, SubagentCompleted)]
    assert completed[0].usage == UsageTotals(
        input_tokens=completed[0].usage.input_tokens, output_tokens=completed[0].usage.output_tokens, requests=1
    )


async def test_cancelling_the_parent_interrupts_the_child_and_records_it(tmp_path: Path, rig: Rig) -> None:
    store = FileSessionStore(tmp_path / "state")
    rig.store = store
    entered = anyio.Event()

    async def hang(messages: list[ModelMessage], info: AgentInfo) -> Any:
        entered.set()
        await anyio.sleep_forever()

    rig.models["stuck"] = FunctionModel(hang, model_name="stuck")
    with anyio.move_on_after(5) as scope:
        async with anyio.create_task_group() as group:
            group.start_soon(rig.run_parent, [agent_def("stuck")], calls(task("stuck", "x")), reply("never"))
            await entered.wait()
            group.cancel_scope.cancel()
    assert not scope.cancelled_caught
    log = await store.log("p1.task-call_1_0")
    assert [s.status for s in log] == ["created", "interrupted"]
    with pytest.raises(ConfigError):  # closed: a new writer could open it; this store no longer holds it open
        await store.commit("p1.task-call_1_0", StepRecord(1, []))
