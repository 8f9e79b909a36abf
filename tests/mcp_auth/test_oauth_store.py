"""The login store and the headless provider in-process, against the real OAuth server: records written atomically
and owner-only, parallel runs spending a rotating refresh token once, a logout during a run staying a logout, the
cross-process refresh lock, and what is masked in errors.

Two `OAuthStore`s over one directory stand for two `tau run` processes (each reads the record once, as a run does).
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

import httpx2
import pytest
from oauth_kit import NAME, AuthServer, Browser, expire, login, mcp_config, mode, store_dir
from tau_e2e import Sandbox

from tau.mcp import McpServerConfig, parse_server
from tau.mcp.oauth import McpAuth, TauOAuthProvider, auth_for, secret_values
from tau.mcp.oauth_store import OAuthStore, StoredLogin

pytestmark = pytest.mark.anyio

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def server_config(url: str, tmp_path: Path) -> McpServerConfig:
    return parse_server(NAME, {"type": "http", "url": url}, source="t", env={}, base_dir=tmp_path)


def run_provider(box: Sandbox, config: McpServerConfig) -> TauOAuthProvider:
    """The headless provider one run would use (its own store object over the sandbox's directory)."""
    provider = auth_for(config, McpAuth(OAuthStore(store_dir(box))))
    assert isinstance(provider, TauOAuthProvider)
    return provider


async def initialize(url: str, provider: TauOAuthProvider) -> int:
    headers = {"Accept": "application/json, text/event-stream"}
    async with httpx2.AsyncClient(auth=provider, timeout=30) as client:
        answer = await client.post(url, json=INITIALIZE, headers=headers)
        return answer.status_code


async def test_parallel_runs_spend_a_rotating_refresh_token_once(
    server: AuthServer, box: Sandbox, browser: Browser, tmp_path: Path
) -> None:
    assert login(box, mcp_config(server.url)).returncode == 0
    expire(box)
    config = server_config(server.url, tmp_path)
    first, second = run_provider(box, config), run_provider(box, config)
    await second._initialize()  # the second run has read the expired record before the first one refreshes
    assert await initialize(server.url, first) == 200
    assert await initialize(server.url, second) == 200  # takes the first run's tokens; its refresh token is spent
    assert server.stats()["grants"] == {"authorization_code": 1, "refresh_token": 1}
    assert second.take_refusal() is None


async def test_logout_during_a_run_is_not_undone_by_its_refresh(
    server: AuthServer, box: Sandbox, browser: Browser, tmp_path: Path
) -> None:
    assert login(box, mcp_config(server.url)).returncode == 0
    expire(box)
    provider = run_provider(box, server_config(server.url, tmp_path))
    await provider._initialize()
    assert OAuthStore(store_dir(box)).remove(NAME) == [server.url]
    assert await initialize(server.url, provider) == 401
    refusal = provider.take_refusal()
    assert refusal is not None and str(refusal) == f"needs login: run `tau mcp login {NAME}`"
    assert list(store_dir(box).glob("*.json")) == []  # nothing written back
    assert "refresh_token" not in server.stats()["grants"]


async def test_refresh_lock_is_exclusive_across_processes(tmp_path: Path) -> None:
    store = OAuthStore(tmp_path / "mcp-oauth")
    tokens = store.tokens(NAME, "http://127.0.0.1:9/mcp")
    lock = store_path(store).with_suffix(".lock")
    async with tokens.refresh_lock():
        other = os.open(lock, os.O_RDWR)  # another open file description: what another process would hold
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(other)
    assert mode(lock) == 0o600
    other = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released on exit
    finally:
        os.close(other)


def store_path(store: OAuthStore) -> Path:
    path = store.path(NAME, "http://127.0.0.1:9/mcp")
    assert path is not None
    return path


def test_records_are_owner_only_atomic_and_keyed_by_name_and_url(tmp_path: Path) -> None:
    directory = tmp_path / "config" / "tau" / "mcp-oauth"
    directory.mkdir(parents=True, mode=0o755)
    directory.chmod(0o755)
    store = OAuthStore(directory)
    store.save(StoredLogin(NAME, "http://127.0.0.1:9/mcp", tokens={"access_token": "a", "token_type": "Bearer"}))
    path = store_path(store)
    assert mode(path) == 0o600 and mode(directory) == 0o700  # a looser existing directory is tightened
    assert [p.name for p in directory.iterdir()] == [path.name]
    assert store.load(NAME, "http://127.0.0.1:9/mcp") is not None
    assert (
        store.load(NAME, "http://127.0.0.1:9/other") is None and store.load("other", "http://127.0.0.1:9/mcp") is None
    )
    data = json.loads(path.read_text())
    data["url"] = "http://evil.example/mcp"  # a record that does not say it is for this (server, URL)
    path.write_text(json.dumps(data))
    assert store.load(NAME, "http://127.0.0.1:9/mcp") is None
    path.write_bytes(b"\xff not json")
    assert store.load(NAME, "http://127.0.0.1:9/mcp") is None
    assert store.tokens(NAME, "http://127.0.0.1:9/mcp").stored_token() is None


def test_store_location_follows_xdg_then_home_and_never_a_relative_path() -> None:
    assert OAuthStore.for_env({"XDG_CONFIG_HOME": "/x", "HOME": "/h"}).directory == Path("/x/tau/mcp-oauth")
    assert OAuthStore.for_env({"XDG_CONFIG_HOME": "rel", "HOME": "/h"}).directory == Path("/h/.config/tau/mcp-oauth")
    assert OAuthStore.for_env({"HOME": "relative"}).directory is None
    assert OAuthStore.for_env({}).directory is None


async def test_tokens_and_secrets_are_masked_in_server_errors(
    server: AuthServer, box: Sandbox, browser: Browser, tmp_path: Path
) -> None:
    from tau.mcp.toolsets import _Server

    assert login(box, mcp_config(server.url)).returncode == 0
    provider = run_provider(box, server_config(server.url, tmp_path))
    await provider._initialize()
    record: dict[str, Any] = json.loads(next(store_dir(box).glob("*.json")).read_text())
    access, refresh = record["tokens"]["access_token"], record["tokens"]["refresh_token"]
    assert {access, refresh} <= set(secret_values(provider))
    holder = _Server(server_config(server.url, tmp_path), toolset=None, stderr=None, auth=provider)  # type: ignore[arg-type]
    assert holder.masked(f"server said: bad token {access} / {refresh}") == "server said: bad token *** / ***"
