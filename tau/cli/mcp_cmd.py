"""`tau mcp`: inspect the MCP servers a run in this directory would start.

`tau mcp ls [--json] [--mcp-config FILE|JSON]... [--strict-mcp-config]` loads the project `.mcp.json` and the
`--mcp-config` values exactly as `tau run` does, starts every enabled server (concurrently, with the run's timeouts),
lists each server's status and tools (`mcp__<server>__<tool>`), then stops them. Exit 0 when every enabled server
connected, 1 when one failed, 2 on a malformed config. A `required` server that fails is reported, not raised.

Registered by `tau.cli.main` (`cli.add_command(mcp_group)`); this module imports tau.mcp only inside the command.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from tau.errors import ExitCode

MCP_CONFIG_HELP = 'MCP servers from a JSON file or inline JSON string ({"mcpServers": ...}); repeatable.'
STRICT_HELP = "Use only the --mcp-config servers (ignore the project .mcp.json)."


@click.group("mcp")
def mcp_group() -> None:
    """MCP servers (.mcp.json, --mcp-config)."""


@mcp_group.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
@click.option("--mcp-config", "mcp_configs", multiple=True, metavar="FILE|JSON", help=MCP_CONFIG_HELP)
@click.option("--strict-mcp-config", is_flag=True, help=STRICT_HELP)
def ls_command(as_json: bool, mcp_configs: tuple[str, ...], strict_mcp_config: bool) -> None:
    """Connect to each configured MCP server and list its status and tools."""
    import anyio

    report = anyio.run(_collect, list(mcp_configs), strict_mcp_config, dict(os.environ), Path.cwd())
    click.echo(json.dumps(report, indent=2) if as_json else _text(report))
    if any(server["status"] == "failed" for server in report["servers"]):
        sys.exit(int(ExitCode.FAILED))


async def _collect(mcp_configs: list[str], strict: bool, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    from tau.mcp import connect_all, load_servers

    configs = load_servers(mcp_configs, strict=strict, env=env, cwd=cwd)
    session = await connect_all(configs, env=env, cwd=cwd, preflight=False)
    try:
        tools = session.tools_by_server()
        servers = []
        for config, info in zip(configs, session.infos, strict=True):
            servers.append(
                {
                    "name": info.name,
                    "status": info.status,
                    "transport": config.transport,
                    "target": config.url or " ".join([config.command or "", *config.args]).strip(),
                    "source": config.source,
                    "required": config.required,
                    "error": info.error,
                    "tools": [{"name": name, "description": text} for name, text in tools.get(info.name, [])],
                }
            )
        return {"servers": servers}
    finally:
        await session.aclose()


def _text(report: dict[str, Any]) -> str:
    servers = report["servers"]
    if not servers:
        return "No MCP servers configured (.mcp.json or --mcp-config)."
    lines: list[str] = []
    for server in servers:
        flags = " required" if server["required"] else ""
        count = f"{len(server['tools'])} tools" if server["status"] == "connected" else server["status"]
        lines.append(f"{server['name']}: {count} ({server['transport']}{flags}: {server['target']})")
        if server["error"]:
            lines.append(f"  error: {server['error']}")
        for tool in server["tools"]:
            description = tool["description"][:100]
            lines.append(f"  {tool['name']}" + (f"  {description}" if description else ""))
    return "\n".join(lines)
