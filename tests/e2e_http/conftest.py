"""Fixtures for the HTTP provider path: a scripted OpenAI-compatible server (npm `@copilotkit/aimock`) per test.

`aimock_server(fixture_file)` starts `aimock` on a free 127.0.0.1 port (the server picks it: `-p 0`, and we read the
port from its "listening on" line), waits until `GET /health` answers, and stops it afterwards. `aimock_url` is the
base URL (`http://127.0.0.1:PORT/v1`) for `ModelSpec(provider='openai-chat', base_url=...)` with the default fixtures
in `fixtures/chat.json`; the CLI-as-subprocess tests can use it the same way.

Without the node partners installed (`scripts/install-test-partners.sh`) the tests skip with that reason locally and
fail under `CI=true`, so CI can never pass by skipping them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AIMOCK_CLI = ROOT / "tests" / "partners" / "node_modules" / "@copilotkit" / "aimock" / "dist" / "cli.js"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
_LISTENING = re.compile(rb"listening on (http://127\.0\.0\.1:\d+)")
_START_TIMEOUT = 15.0


def _missing_partner() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not AIMOCK_CLI.exists():
        return "npm test partners are not installed: run scripts/install-test-partners.sh"
    return None


def require_aimock() -> None:
    """Skip (locally) or fail (CI=true) when aimock cannot run."""
    reason = _missing_partner()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"aimock unavailable in CI: {reason}")
    pytest.skip(reason)


@contextmanager
def run_aimock(fixture_file: Path) -> Iterator[str]:
    """Run aimock serving `fixture_file`; yields its origin (`http://127.0.0.1:PORT`)."""
    require_aimock()
    process = subprocess.Popen(
        ["node", str(AIMOCK_CLI), "-p", "0", "-h", "127.0.0.1", "-f", str(fixture_file), "--log-level", "info"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        origin = _wait_until_listening(process)
        _wait_until_healthy(origin)
        yield origin
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()


def _wait_until_listening(process: subprocess.Popen[bytes]) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + _START_TIMEOUT
    seen = b""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"aimock exited with {process.wait()}: {seen.decode(errors='replace')}")
        seen += line
        if match := _LISTENING.search(line):
            return match.group(1).decode()
    raise RuntimeError(f"aimock did not start in {_START_TIMEOUT}s: {seen.decode(errors='replace')}")


def _wait_until_healthy(origin: str) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while True:
        try:
            with urllib.request.urlopen(f"{origin}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.02)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def aimock_server() -> Iterator[Callable[[Path], str]]:
    """Factory: `aimock_server(path)` starts a server on that fixture file and returns its `/v1` base URL."""
    with ExitStack() as stack:
        yield lambda fixture_file: stack.enter_context(run_aimock(fixture_file)) + "/v1"


@pytest.fixture
def aimock_url(aimock_server: Callable[[Path], str]) -> str:
    """Base URL (`http://127.0.0.1:PORT/v1`) of an aimock serving `fixtures/chat.json`, fresh for each test."""
    return aimock_server(FIXTURES / "chat.json")
