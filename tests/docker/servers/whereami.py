"""A stdlib-only stdio MCP server (JSON-RPC lines), so it can run in the sandbox image, which has no MCP SDK.

One tool, `whereami`, answering the directory it runs in (the
sandbox mounts the workspace at /workspace) and the MARKER variable it was given. Speaks just enough of MCP
(initialize, notifications/initialized, tools/list, tools/call, ping) for a real MCP client.
"""

from __future__ import annotations

import json
import os
import sys

TOOL = {
    "name": "whereami",
    "description": "Say where this server runs.",
    "inputSchema": {"type": "object", "properties": {}, "additionalProperties": False},
}


def answer(request: dict[str, object]) -> dict[str, object] | None:
    method = request.get("method")
    if "id" not in request:
        return None  # a notification
    if method == "initialize":
        params = request.get("params") or {}
        version = params.get("protocolVersion", "2025-06-18") if isinstance(params, dict) else "2025-06-18"
        result: object = {
            "protocolVersion": version,
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "whereami", "version": "1"},
        }
    elif method == "tools/list":
        result = {"tools": [TOOL]}
    elif method == "tools/call":
        text = f"cwd={os.getcwd()} marker={os.environ.get('MARKER', '')}"
        result = {"content": [{"type": "text", "text": text}], "isError": False}
    elif method == "ping":
        result = {}
    else:
        return {"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32601, "message": f"no method {method}"}}
    return {"jsonrpc": "2.0", "id": request["id"], "result": result}


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        reply = answer(json.loads(line))
        if reply is not None:
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
