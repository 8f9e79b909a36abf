"""Fixtures for MCP OAuth end to end; the helpers and what they stand for are in oauth_kit.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from oauth_kit import AuthServer, Browser, start_server, stop_server
from tau_e2e import Sandbox


@pytest.fixture
def server() -> Iterator[AuthServer]:
    """The OAuth-protected MCP server (whoami, admin_report), metadata at the well-known URLs."""
    started = start_server()
    try:
        yield started
    finally:
        stop_server(started)


@pytest.fixture
def hidden_metadata_server() -> Iterator[AuthServer]:
    """The same server with its authorization server metadata only at /custom/oauth-metadata."""
    started = start_server("hidden-metadata")
    try:
        yield started
    finally:
        stop_server(started)


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


@pytest.fixture
def browser(box: Sandbox) -> Browser:
    """A browser for `box`: `$BROWSER` set in its environment (for logins, and to catch a run that opens one)."""
    log = box.root / "browser.log"
    script = box.root / "browser"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys, httpx\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(sys.argv[1] + '\\n')\n"
        "answer = httpx.get(sys.argv[1], follow_redirects=True, timeout=30)\n"
        "sys.exit(0 if answer.status_code == 200 else 1)\n"
    )
    script.chmod(0o755)
    box.env["BROWSER"] = str(script)
    return Browser(script, log)
