"""Helpers for MCP OAuth end to end (fixtures in conftest.py): the real OAuth-protected MCP server
(tests/mcp_auth/servers/oauth_server.py, the MCP SDK's own server) as a subprocess, `tau` as a subprocess in a
hermetic sandbox (tests/e2e/tau_e2e.py: HOME, XDG dirs and the workspace under tmp_path), and a "browser".

The browser is what `tau mcp login` starts through Python's `webbrowser` (`$BROWSER`): an executable script that
does what a person's browser does — GET the authorization URL and follow its redirects (the test server approves at
once) to tau's loopback callback — and appends every URL it was opened with to a file, so a test can tell whether
(and with what) a browser was started. Nothing is mocked: the flow, the tokens and the refreshes are real.
"""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from tau_e2e import Sandbox, TauResult, cli_flags, run_tau

SERVER = Path(__file__).resolve().parent / "servers" / "oauth_server.py"
NAME = "prot"


@dataclass
class AuthServer:
    """The running test server: its MCP URL and its test controls."""

    base: str
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"{self.base}/mcp"

    def stats(self) -> dict[str, Any]:
        answer = httpx.get(f"{self.base}/test/stats", timeout=10)
        answer.raise_for_status()
        data = answer.json()
        assert isinstance(data, dict)
        return data

    def revoke_access(self) -> None:
        httpx.post(f"{self.base}/test/revoke-access", timeout=10).raise_for_status()

    def revoke_all(self) -> None:
        httpx.post(f"{self.base}/test/revoke-all", timeout=10).raise_for_status()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(*args: str) -> AuthServer:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, str(SERVER), str(port), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the OAuth test server exited early with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return AuthServer(f"http://127.0.0.1:{port}", process)
        except OSError:
            time.sleep(0.1)
    process.kill()
    pytest.fail("the OAuth test server did not listen within 20s")


def stop_server(server: AuthServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=5)


@dataclass
class Browser:
    """The `$BROWSER` script of a sandbox and the log of the URLs it was opened with."""

    script: Path
    log: Path

    def opened(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


def mcp_config(url: str, *, name: str = NAME, **extra: Any) -> str:
    """An inline `--mcp-config` naming one http server."""
    return json.dumps({"mcpServers": {name: {"type": "http", "url": url, **extra}}})


def tau(box: Sandbox, *args: str, env: dict[str, str] | None = None) -> TauResult:
    return run_tau(*args, sandbox=box, env={**box.env, **(env or {})})


def login(box: Sandbox, config: str, *args: str, name: str = NAME) -> TauResult:
    return tau(box, "mcp", "login", name, "--mcp-config", config, *args)


def store_dir(box: Sandbox) -> Path:
    return box.home / ".config" / "tau" / "mcp-oauth"


def stored(box: Sandbox) -> list[dict[str, Any]]:
    """Every login record in the sandbox's store."""
    return [json.loads(path.read_text()) for path in sorted(store_dir(box).glob("*.json"))]


def only_record(box: Sandbox) -> tuple[Path, dict[str, Any]]:
    [path] = sorted(store_dir(box).glob("*.json"))
    data = json.loads(path.read_text())
    assert isinstance(data, dict)
    return path, data


def expire(box: Sandbox) -> None:
    """Time passes: the stored access token's expiry is in the past (the record is otherwise untouched)."""
    path, data = only_record(box)
    data["expires_at"] = time.time() - 60
    path.write_text(json.dumps(data))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def record_run(box: Sandbox, args: Sequence[str], steps: Sequence[Any], cassette: Path) -> tuple[Any, Any]:
    """`tau run ARGS` in-process in `box` (its environment, so its user config directory and logins) with a scripted
    model, recording `cassette` for a later `tau run --model replay:CASSETTE` subprocess. Returns the terminal event
    and the scripted model (its `requests` hold what the model was sent: tool results included)."""
    import anyio

    from tau.config import load_job
    from tau.models.cassette import RecordingModel
    from tau.runtime import prepare_run
    from tau.testing import scripted_model

    job_file, prompt_text, flags = cli_flags([*args, "--model", "test:scripted"])
    job = load_job(job_path=job_file, prompt_text=prompt_text, flags=flags, env=box.env, cwd=box.work)
    model, script = scripted_model(list(steps), model_name="scripted")
    recording = RecordingModel(model, cassette, workspace=job.environment.workspace)

    async def main() -> Any:
        driver = await prepare_run(job, model=recording, environ=box.env)
        try:
            return await driver.run()
        finally:
            await driver.close()

    return anyio.run(main), script


def events(result: TauResult, kind: str) -> list[dict[str, Any]]:
    return [line for line in result.lines if line["type"] == kind]


def started_mcp(result: TauResult) -> dict[str, dict[str, Any]]:
    """The MCP server status of a stream-json run's first event, by server name."""
    [first] = events(result, "session.started")
    return {info["name"]: info for info in first["mcp"]}


def secrets_of(box: Sandbox) -> list[str]:
    """Every token and client secret in the sandbox's store (what must never be printed)."""
    found: list[str] = []
    for record in stored(box):
        tokens = record.get("tokens") or {}
        found += [v for k, v in tokens.items() if k in ("access_token", "refresh_token") and v]
        secret = (record.get("client_info") or {}).get("client_secret")
        found += [secret] if secret else []
    return found


def assert_no_secret(box: Sandbox, *texts: str) -> None:
    secrets = secrets_of(box)
    assert secrets, "nothing stored to look for"
    for secret in secrets:
        for text in texts:
            assert secret not in text
