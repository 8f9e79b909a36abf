"""Headless runs against an OAuth-protected MCP server: a stored login is used and refreshed; no login, a revoked
login or a missing scope is a failure naming `tau mcp login NAME`, at once, without a browser; client credentials
for CI; an untrusted project's server never reaches the stored login.

Runs are `tau run` with a scripted model: recorded in-process in the sandbox (`record_run`), then, where the CLI
path matters, replayed as a `tau run --model replay:CASSETTE` subprocess that calls the real server again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from oauth_kit import (
    NAME,
    AuthServer,
    Browser,
    assert_no_secret,
    events,
    expire,
    login,
    mcp_config,
    mode,
    only_record,
    record_run,
    started_mcp,
    store_dir,
    stored,
    tau,
)
from tau_e2e import Sandbox

from tau.testing import calls, reply

WHOAMI = f"mcp__{NAME}__whoami"
ADMIN = f"mcp__{NAME}__admin_report"
HINT = f"run `tau mcp login {NAME}`"


def tool_result(script: Any, turn: int = 1) -> str:
    """What the model was told the (only) tool call of turn `turn - 1` returned."""
    from pydantic_ai.messages import RetryPromptPart, ToolReturnPart

    [part] = [p for p in script.requests[turn][-1].parts if isinstance(p, ToolReturnPart | RetryPromptPart)]
    return part.model_response_str() if isinstance(part, ToolReturnPart) else str(part.content)


def run_args(config: str, prompt: str = "Who am I on the server?") -> tuple[str, ...]:
    return ("-p", prompt, "--mcp-config", config, "--allow", f"mcp__{NAME}__*")


def replay(box: Sandbox, args: tuple[str, ...], cassette: Path) -> Any:
    return tau(box, "run", *args, "--model", f"replay:{cassette}", "--output", "stream-json")


def whoami_calls(server: AuthServer) -> list[str]:
    return [scopes for tool, scopes in server.stats()["calls"] if tool == "whoami"]


def test_run_calls_the_protected_tool_with_the_stored_login(
    server: AuthServer, box: Sandbox, browser: Browser, tmp_path: Path
) -> None:
    assert login(box, mcp_config(server.url)).returncode == 0
    args = run_args(mcp_config(server.url))
    cassette = tmp_path / "whoami.json"
    done, script = record_run(box, args, [calls((WHOAMI, {})), reply("You have the read scope.")], cassette)
    assert done.status == "completed", done
    assert tool_result(script) == "read"

    result = replay(box, args, cassette)
    assert result.returncode == 0, result
    assert started_mcp(result)[NAME]["status"] == "connected"
    [completed] = events(result, "tool.completed")
    assert (completed["tool"], completed["status"], completed["output"]) == (WHOAMI, "success", "read")
    assert whoami_calls(server) == ["read", "read"]
    assert server.stats()["grants"] == {"authorization_code": 1}  # no refresh, no second login
    assert len(browser.opened()) == 1  # the login's; runs never open one
    assert_no_secret(box, result.stdout, result.stderr)


def test_expired_token_is_refreshed_by_a_headless_run(
    server: AuthServer, box: Sandbox, browser: Browser, tmp_path: Path
) -> None:
    assert login(box, mcp_config(server.url)).returncode == 0
    args = run_args(mcp_config(server.url))
    cassette = tmp_path / "whoami.json"
    record_run(box, args, [calls((WHOAMI, {})), reply("You have the read scope.")], cassette)
    _, before = only_record(box)
    expire(box)
    server.revoke_access()  # the old access token is really dead: only a refreshed one works

    result = replay(box, args, cassette)
    assert result.returncode == 0, result
    assert [e["output"] for e in events(result, "tool.completed")] == ["read"]
    assert server.stats()["grants"] == {"authorization_code": 1, "refresh_token": 1}
    path, after = only_record(box)
    assert after["tokens"]["access_token"] != before["tokens"]["access_token"]
    assert after["tokens"]["refresh_token"] != before["tokens"]["refresh_token"]  # rotated, and the new one kept
    assert after["expires_at"] > before["expires_at"] and mode(path) == 0o600
    assert len(browser.opened()) == 1


def test_token_rejected_before_its_expiry_is_refreshed_once(server: AuthServer, box: Sandbox, browser: Browser) -> None:
    assert login(box, mcp_config(server.url)).returncode == 0
    server.revoke_access()
    listing = tau(box, "mcp", "ls", "--json", "--mcp-config", mcp_config(server.url))
    assert listing.returncode == 0, listing
    [status] = json.loads(listing.stdout)["servers"]
    assert status["status"] == "connected" and status["login"]["kind"] == "logged_in"
    assert server.stats()["grants"] == {"authorization_code": 1, "refresh_token": 1}


def test_no_login_fails_at_once_with_the_hint(server: AuthServer, box: Sandbox, browser: Browser) -> None:
    optional = tau(box, "run", "-p", "hi", "--model", "test:x", "--output", "stream-json", "--mcp-config",
                   mcp_config(server.url))  # fmt: skip
    assert optional.returncode == 0, optional
    assert started_mcp(optional)[NAME] == {
        "name": NAME,
        "status": "failed",
        "tools": 0,
        "error": f"needs login: {HINT}",
    }
    notices = [e["message"] for e in events(optional, "notice.emitted")]
    assert f"MCP server '{NAME}' failed to start and is left out: needs login: {HINT}" in notices

    required = tau(box, "run", "-p", "hi", "--model", "test:x", "--mcp-config", mcp_config(server.url, required=True))
    assert required.returncode == 3, required
    assert f"required MCP server failed to start: '{NAME}': needs login: {HINT}" in required.stderr

    stats = server.stats()
    assert browser.opened() == [] and stored(box) == []
    assert stats["registrations"] == 0 and stats["authorizations"] == []  # no discovery, no registration
    assert not [p for p in stats["paths"] if p.startswith("/.well-known/")]


def test_revoked_login_fails_with_the_hint(server: AuthServer, box: Sandbox, browser: Browser) -> None:
    assert login(box, mcp_config(server.url)).returncode == 0
    server.revoke_all()
    expire(box)
    result = tau(box, "run", "-p", "hi", "--model", "test:x", "--mcp-config", mcp_config(server.url, required=True))
    assert result.returncode == 3, result
    assert f"'{NAME}': login expired: {HINT}" in result.stderr
    assert len(browser.opened()) == 1 and server.stats()["grants"]["authorization_code"] == 1


def test_login_is_bound_to_the_server_url(server: AuthServer, box: Sandbox, browser: Browser) -> None:
    """A login for NAME at one URL is never presented to NAME at another."""
    assert login(box, mcp_config(server.url)).returncode == 0
    elsewhere = mcp_config(f"{server.url}?tenant=other")
    result = tau(box, "run", "-p", "hi", "--model", "test:x", "--output", "stream-json", "--mcp-config", elsewhere)
    assert started_mcp(result)[NAME]["error"] == f"needs login: {HINT}"


def test_step_up_fails_the_call_with_the_hint_then_login_asks_for_the_scope(
    server: AuthServer, box: Sandbox, browser: Browser, tmp_path: Path
) -> None:
    config = mcp_config(server.url)
    assert login(box, config).returncode == 0
    steps = [calls((ADMIN, {})), calls((WHOAMI, {})), reply("Could not read the report.")]
    done, script = record_run(box, run_args(config, "Read the admin report."), steps, tmp_path / "a.json")
    assert done.status == "completed", done
    refused = tool_result(script, 1)
    assert f"MCP server '{NAME}' refused {ADMIN}: needs more permissions (read admin): {HINT}" in refused
    assert tool_result(script, 2) == "read"  # the connection stays up for the server's other tools
    assert only_record(box)[1]["pending_scope"] == "read admin"
    assert len(browser.opened()) == 1 and server.stats()["refused"] == 1

    assert login(box, config).returncode == 0
    assert server.stats()["authorizations"] == ["read", "read admin"]
    _, record = only_record(box)
    assert record["tokens"]["scope"] == "read admin" and "pending_scope" not in record
    done, script = record_run(box, run_args(config), [calls((ADMIN, {})), reply("Nominal.")], tmp_path / "b.json")
    assert tool_result(script) == "all systems nominal"


def _ci_config(server: AuthServer, **oauth: str) -> str:
    settings = {"grantType": "client_credentials", "clientId": "${CI_ID}", "clientSecret": "${CI_SECRET}", **oauth}
    return mcp_config(server.url, required=True, oauth=settings)


def test_client_credentials_for_ci(server: AuthServer, box: Sandbox, browser: Browser, tmp_path: Path) -> None:
    box.env.update({"CI_ID": "ci-client", "CI_SECRET": "ci-secret"})
    args = run_args(_ci_config(server))
    cassette = tmp_path / "ci.json"
    done, script = record_run(box, args, [calls((WHOAMI, {})), reply("read")], cassette)
    assert done.status == "completed" and tool_result(script) == "read"
    result = replay(box, args, cassette)
    assert result.returncode == 0, result
    assert [e["output"] for e in events(result, "tool.completed")] == ["read"]
    stats = server.stats()
    assert stats["grants"] == {"client_credentials": 2} and stats["client_auth"] == ["client_secret_basic"] * 2
    assert stats["registrations"] == 0 and browser.opened() == []
    assert not store_dir(box).exists()  # nothing kept: the secret mints a token whenever one is needed
    assert "ci-secret" not in result.stdout + result.stderr

    post = tau(box, "mcp", "ls", "--mcp-config", _ci_config(server, tokenEndpointAuthMethod="client_secret_post"))
    assert post.returncode == 0, post
    assert "; client credentials)" in post.stdout
    assert server.stats()["client_auth"][-1] == "client_secret_post"


def test_client_credentials_wrong_secret_fails_without_printing_it(
    server: AuthServer, box: Sandbox, browser: Browser
) -> None:
    box.env.update({"CI_ID": "ci-client", "CI_SECRET": "not-the-secret-1234"})
    result = tau(box, "run", "-p", "hi", "--model", "test:x", "--mcp-config", _ci_config(server))
    assert result.returncode == 3, result
    assert f"required MCP server failed to start: '{NAME}'" in result.stderr
    assert "not-the-secret-1234" not in result.stdout + result.stderr
    assert browser.opened() == []


def test_untrusted_project_server_never_uses_the_stored_login(
    server: AuthServer, box: Sandbox, browser: Browser
) -> None:
    assert login(box, mcp_config(server.url)).returncode == 0  # the user's own login, for the same name and URL
    box.write(".mcp.json", mcp_config(server.url))
    contacted = server.stats()["paths"]["/mcp"]
    untrusted = tau(box, "run", "-p", "hi", "--model", "test:x", "--output", "stream-json")
    assert untrusted.returncode == 0, untrusted
    assert started_mcp(untrusted)[NAME]["status"] == "disabled"
    assert any("untrusted workspace" in e["message"] for e in events(untrusted, "notice.emitted"))
    assert server.stats()["paths"]["/mcp"] == contacted

    trusted = tau(box, "run", "-p", "hi", "--model", "test:x", "--output", "stream-json", "--trust-workspace")
    assert started_mcp(trusted)[NAME]["status"] == "connected"
    assert server.stats()["paths"]["/mcp"] > contacted
    assert len(browser.opened()) == 1
