"""A subagent through the whole runtime (`prepare_run`): a definition that inherits every parent tool runs as a child
and answers; the child is offered its own `task` tool only once (regression: the parent's toolset list was shared
with the child factory, so inheriting children saw `task` twice and failed at once)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_ai.messages import ModelRequest, ToolReturnPart

from tau.config.spec import EnvironmentSpec, JobSpec, ModelSpec, PermissionsSpec
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
