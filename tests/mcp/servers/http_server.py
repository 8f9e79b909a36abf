"""A streamable-HTTP (or SSE) MCP server for tests: `python http_server.py PORT [http|sse]`.

Serves `add(a, b)` and `whoami()` (returns the `X-Tau-Test` request header, to check configured headers reach the
server) on 127.0.0.1. Built on the MCP SDK's own `MCPServer` (mcp 2.x), not on tau.
"""

from __future__ import annotations

import sys

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("adder")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def whoami(ctx: Context) -> str:
    """Return the X-Tau-Test header the client sent."""
    request = ctx.request_context.request
    headers = getattr(request, "headers", {}) if request is not None else {}
    return str(headers.get("x-tau-test", "<none>"))


if __name__ == "__main__":
    port = int(sys.argv[1])
    transport = sys.argv[2] if len(sys.argv) > 2 else "http"
    if transport == "sse":
        server.run("sse", host="127.0.0.1", port=port)
    else:
        server.run("streamable-http", host="127.0.0.1", port=port)
