"""`tau mcp login` / `tau mcp logout` end to end: tau as a subprocess, the real OAuth MCP server, a scripted browser.

The login: discovery, dynamic client registration, PKCE (S256), RFC 8707 resource, scopes from the challenge, the
redirect caught on tau's loopback listener; the tokens stored owner-only in the user config directory and never
printed. Then: logout deletes; an untrusted project's server is never logged in to; `authServerMetadataUrl`.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from oauth_kit import (
    NAME,
    AuthServer,
    Browser,
    assert_no_secret,
    login,
    mcp_config,
    mode,
    only_record,
    store_dir,
    stored,
    tau,
)
from tau_e2e import Sandbox


def test_login_end_to_end_stores_owner_only_tokens(server: AuthServer, box: Sandbox, browser: Browser) -> None:
    result = login(box, mcp_config(server.url))
    assert result.returncode == 0, result
    assert result.stdout == f"{NAME}: logged in (2 tools, scope read); runs will use and refresh this login\n"
    [opened] = browser.opened()
    assert opened in result.stderr  # the URL is always printed too: a browser may not open
    query = {k: v[0] for k, v in parse_qs(urlsplit(opened).query).items()}
    assert opened.startswith(f"{server.base}/authorize?")
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["resource"] == server.url and query["scope"] == "read"
    assert urlsplit(query["redirect_uri"]).hostname == "localhost"
    assert urlsplit(query["redirect_uri"]).path == "/callback"
    stats = server.stats()
    assert stats["registrations"] == 1 and stats["grants"] == {"authorization_code": 1}

    path, record = only_record(box)
    assert path.parent == store_dir(box) and not str(path).startswith(str(box.work))
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    assert (record["server"], record["url"]) == (NAME, server.url)
    assert set(record["tokens"]) >= {"access_token", "refresh_token", "expires_in", "scope"}
    assert record["client_info"]["client_id"] and record["auth_server"]["token_endpoint"] == f"{server.base}/token"
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".login-")]  # no temporary file left behind
    assert_no_secret(box, result.stdout, result.stderr)


def test_login_again_asks_again_and_replaces_the_tokens(server: AuthServer, box: Sandbox, browser: Browser) -> None:
    assert login(box, mcp_config(server.url)).returncode == 0
    _, first = only_record(box)
    again = login(box, mcp_config(server.url))
    assert again.returncode == 0, again
    _, second = only_record(box)
    assert len(browser.opened()) == 2 and server.stats()["grants"] == {"authorization_code": 2}
    assert second["tokens"]["access_token"] != first["tokens"]["access_token"]
    assert second["client_info"]["client_id"] != first["client_info"]["client_id"]  # a new loopback port: re-register


def test_failed_login_keeps_the_stored_login(server: AuthServer, box: Sandbox, browser: Browser) -> None:
    assert login(box, mcp_config(server.url)).returncode == 0
    _, before = only_record(box)
    browser.script.write_text("#!/bin/sh\nexit 0\n")  # a browser that never comes back
    failed = login(box, mcp_config(server.url), "--timeout", "1")
    assert failed.returncode == 1, failed
    assert f"tau: {NAME}: login failed: " in failed.stderr
    assert "the browser did not come back to http://localhost:" in failed.stderr
    _, after = only_record(box)
    assert after["tokens"] == before["tokens"]


def test_no_browser_prints_the_url_and_starts_none(server: AuthServer, box: Sandbox, browser: Browser) -> None:
    result = login(box, mcp_config(server.url), "--no-browser", "--timeout", "1")
    assert result.returncode == 1
    assert f"open this URL in a browser on this machine to log in:\n  {server.base}/authorize?" in result.stderr
    assert browser.opened() == []
    assert [record.get("tokens") for record in stored(box)] == [None]  # at most the client registration is kept


def test_logout_deletes_every_login_of_the_server(server: AuthServer, box: Sandbox, browser: Browser) -> None:
    assert login(box, mcp_config(server.url)).returncode == 0
    other = mcp_config(server.url, name="other")
    assert login(box, other, name="other").returncode == 0
    assert len(stored(box)) == 2
    out = tau(box, "mcp", "logout", NAME)
    assert (out.returncode, out.stdout) == (0, f"{NAME}: logged out ({server.url})\n")
    assert [r["server"] for r in stored(box)] == ["other"]
    assert sorted(p.suffix for p in store_dir(box).iterdir()) == [".json"]  # its lock file went too
    again = tau(box, "mcp", "logout", NAME)
    assert (again.returncode, again.stdout) == (0, f"{NAME}: no stored login\n")
    listing = tau(box, "mcp", "ls", "--json", "--mcp-config", mcp_config(server.url))
    [status] = json.loads(listing.stdout)["servers"]
    assert status["status"] == "failed" and status["error"] == f"needs login: run `tau mcp login {NAME}`"


def test_untrusted_project_server_is_never_logged_in_to(server: AuthServer, box: Sandbox, browser: Browser) -> None:
    box.write(".mcp.json", mcp_config(server.url))
    result = tau(box, "mcp", "login", NAME)
    assert result.returncode == 2, result
    assert f"MCP server '{NAME}' is disabled (project server not started: untrusted workspace)" in result.stderr
    assert "tau trust" in result.stderr
    assert browser.opened() == [] and stored(box) == []
    assert "/mcp" not in server.stats()["paths"]  # not even contacted
    trusted = tau(box, "mcp", "login", NAME, "--trust-workspace")
    assert trusted.returncode == 0, trusted
    assert len(browser.opened()) == 1 and len(stored(box)) == 1


def test_login_refuses_unknown_and_stdio_servers(box: Sandbox, browser: Browser) -> None:
    unknown = tau(box, "mcp", "login", "nope", "--mcp-config", mcp_config("http://127.0.0.1:9/mcp"))
    assert unknown.returncode == 2 and f"no MCP server named 'nope' (configured: {NAME})" in unknown.stderr
    stdio = json.dumps({"mcpServers": {"local": {"command": "true"}}})
    local = tau(box, "mcp", "login", "local", "--mcp-config", stdio)
    assert local.returncode == 2 and "is a stdio server; only http and sse servers log in" in local.stderr
    assert browser.opened() == []


def test_auth_server_metadata_url(hidden_metadata_server: AuthServer, box: Sandbox, browser: Browser) -> None:
    """Claude Code's `oauth.authServerMetadataUrl`: the metadata is fetched from there instead of the well-known URL
    (where this server has none)."""
    server = hidden_metadata_server
    override = {"oauth": {"authServerMetadataUrl": f"{server.base}/custom/oauth-metadata"}}
    result = login(box, mcp_config(server.url, **override))
    assert result.returncode == 0, result
    paths = server.stats()["paths"]
    assert paths["/custom/oauth-metadata"] == 1
    assert "/.well-known/oauth-authorization-server" not in paths
    _, record = only_record(box)
    assert record["auth_server"]["issuer"].rstrip("/") == server.base  # stored for headless refreshes
    without = login(box, mcp_config(server.url))  # the SDK then falls back to the server's default endpoints
    assert without.returncode == 0, without
    paths = server.stats()["paths"]
    assert paths["/custom/oauth-metadata"] == 1 and paths["/.well-known/oauth-authorization-server"] >= 1
