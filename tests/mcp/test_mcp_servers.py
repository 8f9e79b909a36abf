"""`connect_all` against real servers: PyPI `mcp-server-time` and npm `server-everything` over stdio, a streamable-HTTP
and an SSE server started here, a server that crashes mid-run, missing/required/disabled servers and timeouts."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tau.errors import PreflightError
from tau.mcp import McpServerConfig, McpSession, McpTimeouts, connect_all, parse_server

pytestmark = pytest.mark.anyio

ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp"}


def stdio(name: str, command: list[str], **extra: Any) -> McpServerConfig:
    raw = {"command": command[0], "args": command[1:], **extra}
    return parse_server(name, raw, source="test", env=ENV, base_dir=Path.cwd())


def remote(name: str, url: str, kind: str = "http", **extra: Any) -> McpServerConfig:
    return parse_server(name, {"type": kind, "url": url, **extra}, source="test", env=ENV, base_dir=Path.cwd())


async def call(session: McpSession, tool: str, args: dict[str, Any]) -> Any:
    """Call a tool through the session's toolsets the way an agent run does (prefixed name, guard, filter)."""
    from pydantic_ai.models.test import TestModel
    from pydantic_ai.tools import RunContext
    from pydantic_ai.usage import RunUsage

    ctx = RunContext[None](deps=None, model=TestModel(), usage=RunUsage())
    for toolset in session.toolsets:
        tools = await toolset.get_tools(ctx)
        if tool in tools:
            return await toolset.call_tool(tool, args, ctx, tools[tool])
    raise AssertionError(f"no tool {tool}; have {session.tool_names}")


async def test_time_server_stdio(time_command: list[str], tmp_path: Path) -> None:
    session = await connect_all([stdio("time", time_command)], env=ENV, cwd=tmp_path)
    try:
        assert [i.model_dump() for i in session.infos] == [
            {"name": "time", "status": "connected", "tools": 2, "error": None}
        ]
        assert session.tool_names == ["mcp__time__get_current_time", "mcp__time__convert_time"]
        result = await call(session, "mcp__time__get_current_time", {"timezone": "Europe/Paris"})
        assert result["timezone"] == "Europe/Paris" and "datetime" in result
        assert session.warnings == []
    finally:
        await session.aclose()


async def test_everything_server_stdio_with_tool_filters(everything_command: list[str], tmp_path: Path) -> None:
    config = stdio("everything", everything_command, excludeTools=["get-env"])
    session = await connect_all([config], env=ENV, cwd=tmp_path)
    try:
        info = session.infos[0]
        assert info.status == "connected" and info.tools >= 10
        assert "mcp__everything__echo" in session.tool_names
        assert "mcp__everything__get-env" not in session.tool_names
        assert await call(session, "mcp__everything__echo", {"message": "hi tau"}) == "Echo: hi tau"
        assert await call(session, "mcp__everything__get-sum", {"a": 2, "b": 40}) == "The sum of 2 and 40 is 42."
    finally:
        await session.aclose()
    only = stdio("everything", everything_command, includeTools=["echo", "get-sum"])
    session = await connect_all([only], env=ENV, cwd=tmp_path)
    try:
        assert sorted(session.tool_names) == ["mcp__everything__echo", "mcp__everything__get-sum"]
        assert session.infos[0].tools == 2
    finally:
        await session.aclose()


async def test_streamable_http_server_with_headers(http_server: str, tmp_path: Path) -> None:
    config = parse_server(
        "adder",
        {"type": "http", "url": http_server, "headers": {"X-Tau-Test": "${WHO:-nobody}-ok"}},
        source="test",
        env={"WHO": "tau"},
        base_dir=tmp_path,
    )
    session = await connect_all([config], env=ENV, cwd=tmp_path)
    try:
        assert session.infos[0].status == "connected"
        assert sorted(session.tool_names) == ["mcp__adder__add", "mcp__adder__whoami"]
        assert await call(session, "mcp__adder__add", {"a": 2, "b": 3}) == 5
        assert await call(session, "mcp__adder__whoami", {}) == "tau-ok"
    finally:
        await session.aclose()


async def test_sse_server(sse_server: str, tmp_path: Path) -> None:
    session = await connect_all([remote("old", sse_server, "sse")], env=ENV, cwd=tmp_path)
    try:
        assert session.infos[0].status == "connected"
        assert await call(session, "mcp__old__add", {"a": 20, "b": 22}) == 42
    finally:
        await session.aclose()


async def test_crash_mid_run_is_a_tool_error_and_a_warning(crashy_command: list[str], tmp_path: Path) -> None:
    from pydantic_ai.exceptions import ToolFailed

    live: list[str] = []
    session = await connect_all([stdio("crashy", crashy_command)], env=ENV, cwd=tmp_path, on_warning=live.append)
    try:
        assert await call(session, "mcp__crashy__echo", {"text": "one"}) == "echo: one"
        started = time.monotonic()
        with pytest.raises(ToolFailed, match="MCP server 'crashy' stopped responding: Connection closed"):
            await call(session, "mcp__crashy__echo", {"text": "two"})
        with pytest.raises(ToolFailed, match="MCP server 'crashy' is unavailable"):
            await call(session, "mcp__crashy__echo", {"text": "three"})
        assert time.monotonic() - started < 10  # never a hang
        assert live == session.warnings and len(live) == 1 and "crashy" in live[0]
    finally:
        await session.aclose()


async def test_tool_timeout(everything_command: list[str], tmp_path: Path) -> None:
    from pydantic_ai.exceptions import ToolFailed

    timeouts = McpTimeouts(startup_s=30, tool_s=1.0)
    session = await connect_all([stdio("everything", everything_command)], env=ENV, cwd=tmp_path, timeouts=timeouts)
    try:
        started = time.monotonic()
        with pytest.raises(ToolFailed, match="timed out after 1s"):
            await call(session, "mcp__everything__trigger-long-running-operation", {"duration": 30, "steps": 3})
        assert time.monotonic() - started < 5
        assert await call(session, "mcp__everything__echo", {"message": "still up"}) == "Echo: still up"
    finally:
        await session.aclose()


async def test_required_server_missing_is_preflight_error(time_command: list[str], tmp_path: Path) -> None:
    servers = [stdio("time", time_command), stdio("vault", ["/nonexistent/vault-mcp"], required=True)]
    with pytest.raises(PreflightError) as caught:
        await connect_all(servers, env=ENV, cwd=tmp_path)
    message = str(caught.value)
    assert message.startswith("required MCP server failed to start: 'vault': ")
    assert "/nonexistent/vault-mcp" in message and "\n" not in message
    assert caught.value.exit_code == 3


async def test_required_server_with_unset_variable(tmp_path: Path) -> None:
    config = remote("api", "http://127.0.0.1:9/mcp", headers={"Authorization": "Bearer ${TAU_TEST_UNSET_TOKEN}"})
    config = parse_server(
        "api",
        {"type": "http", "url": "http://127.0.0.1:9/mcp", "required": True, "headers": dict(config.headers)},
        source="proj/.mcp.json",
        env={},
        base_dir=tmp_path,
    )
    with pytest.raises(PreflightError, match=r"'api': unset environment variable \$\{TAU_TEST_UNSET_TOKEN\}"):
        await connect_all([config], env={}, cwd=tmp_path)


async def test_optional_failures_are_dropped_with_warnings(tmp_path: Path) -> None:
    hang = stdio("hang", [sys.executable, "-c", "import sys, time; print('booting', file=sys.stderr); time.sleep(60)"])
    servers = [
        stdio("gone", ["/nonexistent/server"]),
        parse_server(
            "slow",
            {"command": hang.command, "args": list(hang.args), "timeout": 1500},
            source="t",
            env=ENV,
            base_dir=tmp_path,
        ),
        stdio("bad-exit", [sys.executable, "-c", "import sys; sys.stderr.write('fatal: no license\\n'); sys.exit(3)"]),
        stdio("off", ["/nonexistent/x"], disabled=True),
        remote("refused", "http://127.0.0.1:9/mcp"),
    ]
    started = time.monotonic()
    session = await connect_all(servers, env=ENV, cwd=tmp_path)
    elapsed = time.monotonic() - started
    try:
        infos = {i.name: i for i in session.infos}
        assert [i.name for i in session.infos] == ["gone", "slow", "bad-exit", "off", "refused"]
        assert {n: i.status for n, i in infos.items()} == {
            "gone": "failed",
            "slow": "failed",
            "bad-exit": "failed",
            "off": "disabled",
            "refused": "failed",
        }
        assert "No such file" in (infos["gone"].error or "")
        assert (infos["slow"].error or "").startswith("did not start within 1.5s")
        assert "booting" in (infos["slow"].error or "")  # the server's stderr tail
        assert "fatal: no license" in (infos["bad-exit"].error or "")
        assert session.toolsets == [] and session.tool_names == []
        assert len(session.warnings) == 4 and all("failed to start" in w for w in session.warnings)
        assert elapsed < 15  # concurrent, bounded by the startup timeouts
    finally:
        await session.aclose()


async def test_empty_config_starts_nothing(tmp_path: Path) -> None:
    session = await connect_all([], env=ENV, cwd=tmp_path)
    assert session.infos == [] and session.toolsets == []
    await session.aclose()
