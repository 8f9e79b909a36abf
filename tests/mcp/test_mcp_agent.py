"""MCP tools in a real pydantic-ai `Agent` run (scripted `FunctionModel`): the result reaches the model, permission
rules match `mcp__<server>__*`, and a crashed server is a failed tool result, not the end of the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelRequest, RetryPromptPart, ToolReturnPart

from tau.config.spec import PermissionsSpec
from tau.mcp import McpSession, connect_all, parse_server
from tau.permissions import AskRequest, PermissionPolicy, permission_layer
from tau.protocol import PermissionDecided
from tau.testing.scripted import calls, reply, scripted_model

pytestmark = pytest.mark.anyio

ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp"}


async def start(name: str, command: list[str], tmp_path: Path) -> McpSession:
    config = parse_server(name, {"command": command[0], "args": command[1:]}, source="t", env=ENV, base_dir=tmp_path)
    return await connect_all([config], env=ENV, cwd=tmp_path)


def tool_results(request: Any) -> list[ToolReturnPart | RetryPromptPart]:
    assert isinstance(request, ModelRequest)
    return [p for p in request.parts if isinstance(p, ToolReturnPart | RetryPromptPart)]


async def test_agent_calls_mcp_time_and_model_sees_result(time_command: list[str], tmp_path: Path) -> None:
    session = await start("time", time_command, tmp_path)
    model, script = scripted_model(
        [calls(("mcp__time__get_current_time", {"timezone": "Asia/Tokyo"})), reply("it is late in Tokyo")]
    )
    try:
        agent: Agent[None, str] = Agent(model, toolsets=session.toolsets)
        result = await agent.run("what time is it in Tokyo?")
    finally:
        await session.aclose()
    assert result.output == "it is late in Tokyo"
    offered = {t.name for t in script.infos[0].function_tools}
    assert {"mcp__time__get_current_time", "mcp__time__convert_time"} <= offered
    [part] = tool_results(script.requests[1][-1])
    assert isinstance(part, ToolReturnPart) and part.tool_name == "mcp__time__get_current_time"
    assert part.content["timezone"] == "Asia/Tokyo"


async def test_permission_rule_denies_mcp_server_tools(time_command: list[str], tmp_path: Path) -> None:
    session = await start("time", time_command, tmp_path)
    events: list[PermissionDecided] = []

    async def asker(request: AskRequest) -> bool:
        raise AssertionError("deny must not ask")

    policy = PermissionPolicy.from_spec(PermissionsSpec(deny=("mcp__time__*",)), workspace=str(tmp_path))
    layer = permission_layer(policy, asker=asker, emit=events.append)
    model, script = scripted_model(
        [calls(("mcp__time__get_current_time", {"timezone": "UTC"})), reply("could not tell the time")]
    )
    try:
        agent: Agent[None, str] = Agent(model, toolsets=session.toolsets, capabilities=[layer.capability])
        result = await agent.run("time?")
    finally:
        await session.aclose()
    assert result.output == "could not tell the time"
    [part] = tool_results(script.requests[1][-1])
    assert part.tool_name == "mcp__time__get_current_time"
    assert isinstance(part, ToolReturnPart) and part.outcome == "denied"
    assert [(e.tool, e.decision, e.rule) for e in events] == [("mcp__time__get_current_time", "deny", "mcp__time__*")]


async def test_crash_mid_run_reaches_the_model_and_run_continues(crashy_command: list[str], tmp_path: Path) -> None:
    session = await start("crashy", crashy_command, tmp_path)
    model, script = scripted_model(
        [
            calls(("mcp__crashy__echo", {"text": "first"})),
            calls(("mcp__crashy__echo", {"text": "second"})),
            calls(("mcp__crashy__echo", {"text": "third"})),
            reply("the echo server died"),
        ]
    )
    try:
        agent: Agent[None, str] = Agent(model, toolsets=session.toolsets)
        result = await agent.run("echo thrice")
    finally:
        await session.aclose()
    assert result.output == "the echo server died"
    first, second, third = (tool_results(script.requests[i][-1])[0] for i in (1, 2, 3))
    assert isinstance(first, ToolReturnPart) and first.content == "echo: first"
    assert isinstance(second, ToolReturnPart) and second.outcome == "failed"
    assert "stopped responding: Connection closed" in second.model_response_str()
    assert isinstance(third, ToolReturnPart) and "is unavailable" in third.model_response_str()
    assert len(session.warnings) == 1
