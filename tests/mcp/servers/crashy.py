"""A stdio MCP server that dies mid-run: its first `echo` call answers, the second kills the process.

Used by tests/mcp to prove a server crash becomes a tool error the model sees, never a hang.
Built on the MCP SDK's own `MCPServer` (mcp 2.x), not on tau.
"""

from __future__ import annotations

import os

from mcp.server.mcpserver import MCPServer

server = MCPServer("crashy")
calls: list[str] = []


@server.tool()
def echo(text: str) -> str:
    """Echo the text back (the second call crashes the server)."""
    calls.append(text)
    if len(calls) >= 2:
        os._exit(17)
    return f"echo: {text}"


if __name__ == "__main__":
    server.run("stdio")
