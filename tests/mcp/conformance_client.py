"""MCP client-conformance driver for `@modelcontextprotocol/conformance client`: `python conformance_client.py URL`.

The conformance runner starts a scenario server, then runs this script with the server URL as the last argument and
`MCP_CONFORMANCE_SCENARIO` set. Everything goes through tau's MCP layer: an inline `--mcp-config` JSON naming the
server (`type: http`), `tau.mcp.open_mcp` (loader, MCPToolset, timeouts, headless elicitation policy), and the
session's toolsets called by their `mcp__conformance__<tool>` names, as an agent run would call them.
Exit 0 when the scenario's client steps completed; the runner judges conformance from what the server saw.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio

# What a client does per scenario: the tools it calls (with arguments) after initialize + tools/list.
SCENARIO_CALLS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "initialize": [],
    "tools_call": [("add_numbers", {"a": 5, "b": 3})],
    "elicitation-sep1034-client-defaults": [("test_client_elicitation_defaults", {})],
    "sse-retry": [("test_reconnection", {})],
}


async def _call(session: Any, tool: str, args: dict[str, Any]) -> Any:
    from pydantic_ai.models.test import TestModel
    from pydantic_ai.tools import RunContext
    from pydantic_ai.usage import RunUsage

    ctx = RunContext[None](deps=None, model=TestModel(), usage=RunUsage())
    for toolset in session.toolsets:
        tools = await toolset.get_tools(ctx)
        if tool in tools:
            return await toolset.call_tool(tool, args, ctx, tools[tool])
    raise SystemExit(f"conformance client: server offers no {tool} (have {session.tool_names})")


async def main(url: str, scenario: str) -> None:
    from tau.mcp import open_mcp

    config = json.dumps({"mcpServers": {"conformance": {"type": "http", "url": url, "required": True}}})
    session = await open_mcp([config], strict=True, env=dict(os.environ), cwd=Path.cwd())
    try:
        print(f"connected: {[i.model_dump() for i in session.infos]}")
        for tool, args in SCENARIO_CALLS.get(scenario, []):
            result = await _call(session, f"mcp__conformance__{tool}", args)
            print(f"{tool}: {result!r}")
        for warning in session.warnings:
            print(f"warning: {warning}")
    finally:
        await session.aclose()


if __name__ == "__main__":
    anyio.run(main, sys.argv[-1], os.environ.get("MCP_CONFORMANCE_SCENARIO", ""))
