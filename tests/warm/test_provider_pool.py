"""The provider connection pool of `tau serve --local` (issue #19 item 3): warm runs reach their model provider through
the server's helper process, one keep-alive connection for many runs, each request with the run's own key.

Real processes throughout: a `tau serve --local` subprocess, `tau run` clients (`Traced.remote` proves the warm path)
and a scripted OpenAI-compatible server (tests/warm/counting_provider.py) that counts the TCP connections it accepted,
over TLS with a self-signed certificate where it matters. Counts and exit codes only: no timings.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from counting_provider import Counting, Stall, self_signed, serve_counting
from provider_faults import Cut, Status
from tau_e2e import TIMEOUT, Sandbox, closed_port
from warm_helpers import LocalServer, Traced, run_traced, start_server

MODEL = "openai-chat:pooled"


@pytest.fixture(autouse=True)
def pool_loopback(sandbox: Sandbox) -> None:
    """The scripted provider listens on 127.0.0.1, which the pool leaves alone unless told `all`."""
    sandbox.env["TAU_PROVIDER_POOL"] = "all"


@pytest.fixture
def tls_env(sandbox: Sandbox) -> dict[str, str]:
    """The sandbox's environment trusting a self-signed certificate for 127.0.0.1 (server and runs alike)."""
    cert, _key = self_signed(sandbox.root)
    sandbox.env["SSL_CERT_FILE"] = str(cert)
    sandbox.env.pop("SSL_CERT_DIR", None)
    return sandbox.env


@pytest.fixture
def tls_provider(sandbox: Sandbox, tls_env: dict[str, str]) -> Iterator[Counting]:
    with serve_counting((Path(tls_env["SSL_CERT_FILE"]), sandbox.root / "key.pem")) as provider:
        yield provider


def _run(sandbox: Sandbox, url: str, *extra: str, key: str = "key-1", env: dict[str, str] | None = None) -> Traced:
    run_env = {**(env or sandbox.env), "OPENAI_API_KEY": key}
    args = ("run", "-p", "say hi", "--model", MODEL, "--base-url", url, *extra)
    return run_traced(*args, env=run_env, cwd=sandbox.work)


def _ok(result: Traced) -> None:
    assert result.returncode == 0, result.stderr
    assert result.remote, result.stderr


def test_three_warm_runs_share_one_upstream_connection(
    sandbox: Sandbox, tls_env: dict[str, str], tls_provider: Counting
) -> None:
    with start_server(tls_env, cwd=sandbox.root) as server:
        for _ in range(3):
            _ok(_run(sandbox, tls_provider.base_url))
    assert any("provider connection pool" in line for line in server.lines), server.lines  # the drain has ended
    assert len(tls_provider.authorizations) == 3
    assert tls_provider.connections == 1
    assert tls_provider.cookies == ["", "", ""]  # the provider's cookie never reached a later run


def test_each_run_sends_its_own_key(sandbox: Sandbox, tls_env: dict[str, str], tls_provider: Counting) -> None:
    with start_server(tls_env, cwd=sandbox.root):
        for key in ("key-a", "key-b", "key-a"):
            _ok(_run(sandbox, tls_provider.base_url, key=key))
    assert tls_provider.authorizations == ["Bearer key-a", "Bearer key-b", "Bearer key-a"]
    assert tls_provider.connections == 1


@pytest.mark.parametrize("where", ["server", "run"])
def test_switched_off_each_run_connects_itself(sandbox: Sandbox, where: str) -> None:
    server_env = {**sandbox.env, "TAU_PROVIDER_POOL": "0"} if where == "server" else sandbox.env
    run_env = {**sandbox.env, "TAU_PROVIDER_POOL": "0"} if where == "run" else sandbox.env
    with serve_counting() as provider, start_server(server_env, cwd=sandbox.root):
        for _ in range(3):
            _ok(_run(sandbox, provider.base_url, env=run_env))
    assert provider.connections == 3


def test_a_provider_on_loopback_goes_direct_by_default(sandbox: Sandbox) -> None:
    env = {**sandbox.env, "TAU_PROVIDER_POOL": ""}
    with serve_counting() as provider, start_server(env, cwd=sandbox.root):
        for _ in range(3):
            _ok(_run(sandbox, provider.base_url, env=env))
    assert provider.connections == 3


def test_a_run_with_its_own_proxy_settings_bypasses_the_pool(sandbox: Sandbox) -> None:
    proxy = f"http://127.0.0.1:{closed_port()}"  # the run's own client must honour NO_PROXY: direct to 127.0.0.1
    run_env = {**sandbox.env, "HTTPS_PROXY": proxy, "HTTP_PROXY": proxy, "NO_PROXY": "127.0.0.1"}
    with serve_counting() as provider, start_server(sandbox.env, cwd=sandbox.root):
        _ok(_run(sandbox, provider.base_url))  # through the pool: its connection stays open
        for _ in range(2):
            _ok(_run(sandbox, provider.base_url, env=run_env))
    assert provider.connections == 3


def _ending(result: Traced) -> tuple[int, Any, Any, Any, Any]:
    """Exit code, terminal reason, error kind, retryable and the error line (it names the exception's kind)."""
    last = json.loads(result.stdout.splitlines()[-1])
    assert last["type"] == "run.completed", last
    return result.returncode, last["terminal_reason"], last.get("error_kind"), last.get("retryable"), last["error"]


@pytest.mark.parametrize("fault", ["unreachable", "refused-401", "status-503", "cut-stream"])
def test_provider_faults_end_the_run_as_locally(sandbox: Sandbox, server: LocalServer, fault: str) -> None:
    config = sandbox.home / ".config" / "tau" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[providers.openai-chat]\nmax_retries = 0\n")
    with serve_counting() as provider:
        url = f"http://127.0.0.1:{closed_port()}/v1" if fault == "unreachable" else provider.base_url
        reply = {"refused-401": Status(401, "bad key"), "status-503": Status(503), "cut-stream": Cut("hello " * 20, 2)}
        tag = provider.script(fault, reply[fault]) if fault in reply else ""
        args = ["run", "-p", f"{tag} say hi", "--model", MODEL, "--base-url", url, "-o", "stream-json"]
        env = {**sandbox.env, "OPENAI_API_KEY": "k"}
        warm = run_traced(*args, env=env, cwd=sandbox.work)
        local = run_traced(*args, "--no-server", env=env, cwd=sandbox.work)
    assert warm.remote and not local.remote, (warm.stderr, local.stderr)
    assert warm.returncode != 0, warm.stderr
    assert _ending(warm) == _ending(local)
    assert warm.stderr == local.stderr


def test_a_process_without_the_secret_is_refused(sandbox: Sandbox, server: LocalServer) -> None:
    path = server.socket.parent / "provider.sock"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    with serve_counting() as provider:
        for secret in ("", "0" * 64, None):
            head: dict[str, Any] = {"method": "GET", "url": provider.base_url + "/models", "headers": [], "length": 0}
            if secret is not None:
                head["secret"] = secret
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.connect(str(path))
                sock.sendall(json.dumps(head).encode() + b"\n")
                answer = sock.makefile("rb").readline()
            assert json.loads(answer) == {"refused": "not a run of this server"}
        assert provider.connections == 0


def _cancelled(sandbox: Sandbox, provider: Counting, stall: Stall, *extra: str) -> tuple[int, Any]:
    """A run whose provider stalls (mid-stream, or before its headers), interrupted (SIGINT) once the provider got
    the request: (exit code, terminal reason); the provider saw its connection closed."""
    provider.stalled.clear()
    provider.released.clear()
    tag = provider.script("stall", [stall])
    args = ["run", "-p", f"{tag} say hi", "--model", MODEL, "--base-url", provider.base_url, "-o", "stream-json"]
    env = {**sandbox.env, "OPENAI_API_KEY": "k"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tau", *args, *extra], cwd=sandbox.work, env=env, stdout=subprocess.PIPE
    )
    try:
        assert provider.stalled.wait(TIMEOUT)
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert provider.released.wait(TIMEOUT)  # the upstream request was abandoned, its connection closed
    last = json.loads(stdout.splitlines()[-1])
    return process.returncode, last.get("terminal_reason")


@pytest.mark.parametrize("headers", [True, False], ids=["mid-stream", "before-headers"])
def test_an_interrupted_run_abandons_its_upstream_request(sandbox: Sandbox, server: LocalServer, headers: bool) -> None:
    with serve_counting() as provider:
        warm = _cancelled(sandbox, provider, Stall(headers))
        local = _cancelled(sandbox, provider, Stall(headers), "--no-server")
    assert warm == local
    assert warm[0] == 130, warm
