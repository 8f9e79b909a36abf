"""MCP client-conformance driver for `@modelcontextprotocol/conformance client`: `python conformance_client.py URL`.

The conformance runner starts a scenario server, then runs this script with the server URL as the last argument and
`MCP_CONFORMANCE_SCENARIO` set (and, for scenarios with pre-issued credentials, `MCP_CONFORMANCE_CONTEXT`).
Everything goes through tau's MCP layer: an inline `--mcp-config` JSON naming the server (`type: http`, with an
`oauth` object where the scenario hands out credentials), `tau.mcp.open_mcp` (loader, MCPToolset, timeouts, headless
elicitation policy, OAuth), and the session's toolsets called by their `mcp__conformance__<tool>` names, as an agent
run would call them.

Auth scenarios log in the way `tau mcp login` does (`McpAuth` with tau's `LoopbackAuthorizer`); only the person is
automated, the way the suite's own clients do it: the "browser" fetches the authorization URL without following the
redirect (the suite's authorization server approves at once) and then delivers that redirect to tau's loopback
listener. Tokens go to a throwaway store. Exit 0 when the scenario's client steps completed; the runner judges
conformance from what the servers saw.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
import httpx

# A client ID metadata document URL (the suite's authorization server accepts this one without fetching it).
CIMD_URL = "https://conformance-test.local/client-metadata.json"

# What a client does per scenario: the tools it calls (with arguments) after initialize + tools/list.
SCENARIO_CALLS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "initialize": [],
    "tools_call": [("add_numbers", {"a": 5, "b": 3})],
    "elicitation-sep1034-client-defaults": [("test_client_elicitation_defaults", {})],
    "sse-retry": [("test_reconnection", {})],
}
AUTH_CALLS: list[tuple[str, dict[str, Any]]] = [("test-tool", {})]


def browser(url: str) -> None:
    """The person at the browser: open the authorization URL, follow its redirect to the loopback callback."""
    with httpx.Client(timeout=30) as client:
        answer = client.get(url, follow_redirects=False)
        location = answer.headers.get("location")
        if answer.status_code not in (301, 302, 303, 307, 308) or not location:
            raise SystemExit(f"conformance client: authorization did not redirect ({answer.status_code})")
        client.get(location, follow_redirects=False)


def oauth_config(scenario: str) -> dict[str, Any]:
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    oauth: dict[str, Any] = {"clientMetadataUrl": CIMD_URL}
    if scenario.startswith("auth/client-credentials"):
        oauth = {"grantType": "client_credentials"}
    if context.get("client_id"):
        oauth["clientId"] = context["client_id"]
    if context.get("client_secret"):
        oauth["clientSecret"] = context["client_secret"]
    return oauth


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
    from tau.mcp import McpLaunch, open_mcp
    from tau.mcp.oauth import McpAuth
    from tau.mcp.oauth_loopback import LoopbackAuthorizer
    from tau.mcp.oauth_store import OAuthStore

    server: dict[str, Any] = {"type": "http", "url": url, "required": True}
    auth = scenario.startswith("auth/")
    if auth:
        server["oauth"] = oauth_config(scenario)
    config = json.dumps({"mcpServers": {"conformance": server}})
    with tempfile.TemporaryDirectory() as store:
        login = McpAuth(OAuthStore(Path(store)), LoopbackAuthorizer(browser, timeout_s=60))
        session = await open_mcp(
            [config], strict=True, env=dict(os.environ), cwd=Path.cwd(), launch=McpLaunch(auth=login)
        )
        try:
            print(f"connected: {[i.model_dump() for i in session.infos]}")
            for tool, args in AUTH_CALLS if auth else SCENARIO_CALLS.get(scenario, []):
                result = await _call(session, f"mcp__conformance__{tool}", args)
                print(f"{tool}: {result!r}")
            for warning in session.warnings:
                print(f"warning: {warning}")
        finally:
            await session.aclose()


if __name__ == "__main__":
    anyio.run(main, sys.argv[-1], os.environ.get("MCP_CONFORMANCE_SCENARIO", ""))
