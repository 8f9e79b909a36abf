"""The agent's toolsets: tau's own function toolsets merge into one (order, retries, metadata kept), anything with
settings of its own stays apart, and a run offers and runs every tool through the merged toolset."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_ai import Tool
from pydantic_ai.messages import ModelMessage, ToolReturnPart
from pydantic_ai.models.function import AgentInfo
from pydantic_ai.toolsets import AbstractToolset, FunctionToolset

from tau.config.spec import EnvironmentSpec, JobSpec, ModelSpec, PermissionsSpec
from tau.runtime import prepare_run
from tau.runtime.agent import merge_function_toolsets
from tau.testing import Turn, calls, reply, scripted_model

pytestmark = pytest.mark.anyio


def _tool(name: str) -> Tool[None]:
    async def run() -> str:
        return name

    return Tool(run, name=name)


def _names(toolset: AbstractToolset[None]) -> list[str]:
    assert isinstance(toolset, FunctionToolset)
    return list(toolset.tools)


def test_adjacent_plain_toolsets_merge_in_order_and_keep_their_retries() -> None:
    first = FunctionToolset[None]([_tool("a"), _tool("b")], max_retries=5)
    second = FunctionToolset[None]([_tool("c")], max_retries=2, metadata={"k": "v"})
    merged = merge_function_toolsets([first, second])
    assert len(merged) == 1
    assert _names(merged[0]) == ["a", "b", "c"]
    tools = merged[0].tools  # type: ignore[attr-defined]
    assert [tools[n].max_retries for n in "abc"] == [5, 5, 2]
    assert tools["c"].metadata == {"k": "v"}


def test_toolsets_with_settings_of_their_own_stay_apart() -> None:
    plain = FunctionToolset[None]([_tool("a")])
    with_id = FunctionToolset[None]([_tool("b")], id="durable")
    with_timeout = FunctionToolset[None]([_tool("c")], timeout=3.0)
    with_instructions = FunctionToolset[None]([_tool("d")], instructions="use d carefully")
    tail = FunctionToolset[None]([_tool("e")])
    other = FunctionToolset[None]([_tool("f")])
    merged = merge_function_toolsets([plain, with_id, with_timeout, with_instructions, tail, other])
    assert merged[:4] == [plain, with_id, with_timeout, with_instructions]
    assert [_names(t) for t in merged] == [["a"], ["b"], ["c"], ["d"], ["e", "f"]]


async def test_a_run_offers_and_runs_the_tools_of_the_merged_toolset(tmp_path: Path) -> None:
    offered: list[str] = []
    returned: list[ToolReturnPart] = []

    def first(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        offered.extend(sorted(tool.name for tool in info.function_tools))
        return calls(("memory", {"command": "view", "path": "/"}), ("read", {"file_path": "f.txt"}))

    def second(messages: list[ModelMessage], info: AgentInfo) -> Turn:
        returned.extend(p for p in messages[-1].parts if isinstance(p, ToolReturnPart))
        return reply("done")

    (tmp_path / "f.txt").write_text("hello\n")
    model, _ = scripted_model([first, second])
    job = JobSpec(
        source="<test>",
        prompt="go",
        model=ModelSpec(provider="test", name="scripted"),
        environment=EnvironmentSpec(workspace=str(tmp_path)),
        permissions=PermissionsSpec(mode="default"),
    )
    driver = await prepare_run(job, model=model)
    try:
        assert len(driver.setup.agent.toolsets) == 2  # the agent's own (empty) and tau's one merged toolset
        result = await driver.run()
    finally:
        await driver.close()
    assert result.status == "completed"
    assert offered == ["ask_user", "bash", "edit", "glob", "grep", "memory", "read", "write"]
    assert sorted(p.tool_name for p in returned) == ["memory", "read"]
    assert "hello" in str(next(p.content for p in returned if p.tool_name == "read"))
