"""A subagent through the whole runtime (`prepare_run`): a definition that inherits every parent tool runs as a child
and answers; the child is offered its own `task` tool only once (regression: the parent's toolset list was shared
with the child factory, so inheriting children saw `task` twice and failed at once)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_ai.messages import ModelRequest, ToolReturnPart

from tau.config.spec import EnvironmentSpec, JobSpec, LimitsSpec, ModelSpec, PermissionsSpec
from tau.runtime import prepare_run
from tau.testing import calls, reply, scripted_model

pytestmark = pytest.mark.anyio


async def test_an_inheriting_subagent_runs_and_answers(tmp_path: Path) -> None:
    workspace = tmp_path / "repo"
    (workspace / ".git").mkdir(parents=True)
    agents = workspace / ".tau" / "agents"
    agents.mkdir(parents=True)
    (agents / "helper.md").write_text("---\nname: helper\ndescription: Helps.\n---\nYou help.\n")
    model, script = scripted_model(
        [
            calls(("task", {"description": "help", "prompt": "say hi", "subagent_type": "helper"})),
            reply("hi from the child"),
            reply("the child said hi"),
        ]
    )
    job = JobSpec(
        source="<test>",
        prompt="delegate",
        model=ModelSpec(provider="test", name="scripted"),
        environment=EnvironmentSpec(workspace=str(workspace)),
        permissions=PermissionsSpec(mode="acceptEdits"),
        home=str(tmp_path / "home"),
    )
    driver = await prepare_run(job, model=model)
    try:
        result = await driver.run()
    finally:
        await driver.close()
    assert (result.exit_code, result.result) == (0, "the child said hi")
    child_tools = [tool.name for tool in script.infos[1].function_tools]
    assert child_tools.count("task") == 1  # its own (depth 1 of 2), not the parent's as well
    assert "read" in child_tools
    returned = [
        p for m in script.requests[2] if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)
    ]
    assert returned[0].outcome == "success"
    assert "hi from the child" in returned[0].model_response_str()


async def test_a_child_budget_is_carved_from_what_is_left_of_the_parents(tmp_path: Path) -> None:
    """The parent may spend 60 tokens; its first response spent some, so the child (a loop of tool calls) stops when
    the rest is gone: a failed `task` result naming the token cap, and the parent still gets its final turn."""
    workspace = tmp_path / "repo"
    (workspace / ".git").mkdir(parents=True)
    agents = workspace / ".tau" / "agents"
    agents.mkdir(parents=True)
    (agents / "looper.md").write_text("---\nname: looper\ndescription: Loops.\n---\nYou loop.\n")
    looping = [calls(("glob", {"pattern": "*"})) for _ in range(20)]
    model, script = scripted_model(
        [calls(("task", {"description": "loop", "prompt": "loop", "subagent_type": "looper"})), *looping]
    )
    job = JobSpec(
        source="<test>",
        prompt="delegate",
        model=ModelSpec(provider="test", name="scripted"),
        environment=EnvironmentSpec(workspace=str(workspace)),
        permissions=PermissionsSpec(mode="acceptEdits"),
        limits=LimitsSpec(max_tokens=400),
        home=str(tmp_path / "home"),
    )
    driver = await prepare_run(job, model=model)
    try:
        result = await driver.run()
    finally:
        await driver.close()
    child_requests = len(script.requests) - 2  # the parent's first request and its finalize turn
    assert 0 < child_requests < 20  # stopped by the carved token cap, not by the script's end
    returned = [
        p for m in script.requests[-1] if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)
    ]
    assert returned[0].tool_name == "task" and returned[0].outcome == "failed"
    assert "token budget reached" in returned[0].model_response_str()
    assert result.terminal_reason == "max_tokens"  # the child's tokens count for the parent: its cap is reached too
